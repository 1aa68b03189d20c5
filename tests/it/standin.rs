//! The local Sigstore stand-in, driven through `npm-attest serve-sigstore` over loopback HTTP:
//! Fulcio-like certificate issuance (both request forms, token checks, the leaf profile and its
//! embedded SCT) and the Rekor-like log (canonical bodies, SETs, inclusion proofs against signed
//! checkpoints, duplicates, lookups).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use der::{Decode as _, Encode as _};
use npm_attest::core::crypto::{pem_encode, pem_rfc7468_decode, PublicKey};
use npm_attest::core::time::UnixTime;
use npm_attest::core::verify::merkle::{leaf_hash, verify_inclusion};
use npm_attest::core::wire::bundle::{Envelope, EnvelopeSignature};
use npm_attest::core::wire::encoding::{b64_decode, b64_encode};
use npm_attest::core::wire::trust_root::{ClientTrustConfig, TrustedRoot};
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;

use crate::support::bin;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const TOKEN_ERROR: &str = "There was an error processing the identity token";

/// A running `serve-sigstore`, killed on drop.
struct Server {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(bin());
        cmd.env_clear();
        for key in ["PATH", "HOME", "TMPDIR"] {
            if let Ok(v) = std::env::var(key) {
                cmd.env(key, v);
            }
        }
        let path = |name: &str| dir.path().join(name).display().to_string();
        let mut child = cmd
            .args(["serve-sigstore", "--listen", "127.0.0.1:0"])
            .args(["--trusted-root-out", &path("trusted_root.json")])
            .args(["--signing-config-out", &path("signing_config.json")])
            .args(["--trust-config-out", &path("trust_config.json")])
            .args(["--token-out", &path("token")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        Server { base: base.to_owned(), child, dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn trusted_root(&self) -> TrustedRoot {
        serde_json::from_slice(&std::fs::read(self.file("trusted_root.json")).unwrap()).unwrap()
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.file("token")).unwrap()
    }

    fn http(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        http(&self.base, method, path, headers, body)
    }

    fn post_json(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        self.http("POST", path, &all, body.to_string().as_bytes())
    }
}

/// A blocking HTTP/1.1 exchange over loopback, one request per connection.
fn http(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let authority = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    // A server that refuses early may close before the whole body is written.
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply { status, headers, body: raw[split + 4..].to_vec() }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn test_key(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn public_pem(key: &p256::ecdsa::SigningKey) -> String {
    pem_encode("PUBLIC KEY", key.verifying_key().to_public_key_der().unwrap().as_bytes())
}

fn sign_der(key: &p256::ecdsa::SigningKey, message: &[u8]) -> Vec<u8> {
    let sig: p256::ecdsa::Signature = key.sign(message);
    sig.to_der().as_bytes().to_vec()
}

fn claims_of(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    use base64::Engine as _;
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A token signed by a key the stand-in does not know (accepted on its claims alone).
fn foreign_token(claims: &Value) -> String {
    let key = test_key(0x42);
    let claims = claims.as_object().unwrap().clone();
    npm_attest::core::jwt::mint_es256(&key, "some-other-issuer-key", &claims)
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Requests a certificate for `key` with a proof of possession; returns the response.
fn pop_request(server: &Server, key: &p256::ecdsa::SigningKey, token: &str, subject: &str) -> Reply {
    server.post_json(
        "/api/v2/signingCert",
        &[],
        &json!({
            "credentials": {"oidcIdentityToken": token},
            "publicKeyRequest": {
                "publicKey": {"algorithm": "ECDSA", "content": public_pem(key)},
                "proofOfPossession": b64_encode(sign_der(key, subject.as_bytes())),
            }
        }),
    )
}

fn chain_of(reply: &Reply) -> Vec<Vec<u8>> {
    let shown = String::from_utf8_lossy(&reply.body[..reply.body.len().min(300)]).into_owned();
    assert_eq!(reply.status, 200, "{shown}");
    reply.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pem| pem_rfc7468_decode(pem.as_str().unwrap()).unwrap().1)
        .collect()
}

fn extension_value<'a>(cert: &'a Certificate, oid: &str) -> Option<(bool, &'a [u8])> {
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id.to_string() == oid)
        .map(|e| (e.critical, e.extn_value.as_bytes()))
}

/// Checks the Sigstore leaf profile (sigstore-protocol.md §3.2-3.3), the chain, and the SCT.
fn check_leaf(server: &Server, leaf_der: &[u8], spki_der: &[u8], expected_san: &str) {
    let root = server.trusted_root();
    let cert = Certificate::from_der(leaf_der).unwrap();
    let tbs = &cert.tbs_certificate;
    assert!(tbs.subject.0.is_empty(), "subject must be empty");
    assert_eq!(tbs.subject_public_key_info.to_der().unwrap(), spki_der, "the requested key is certified");
    let validity = tbs.validity.not_after.to_unix_duration() - tbs.validity.not_before.to_unix_duration();
    assert_eq!(validity, Duration::from_secs(600));

    // KeyUsage digitalSignature, critical.
    assert_eq!(extension_value(&cert, "2.5.29.15"), Some((true, &[0x03, 0x02, 0x07, 0x80][..])));
    // EKU codeSigning.
    let (_, eku) = extension_value(&cert, "2.5.29.37").unwrap();
    assert_eq!(eku, [0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03]);
    assert!(extension_value(&cert, "2.5.29.14").is_some(), "SKI");
    assert!(extension_value(&cert, "2.5.29.35").is_some(), "AKI");
    // Exactly one SAN, critical, a URI.
    let (critical, san) = extension_value(&cert, "2.5.29.17").unwrap();
    assert!(critical);
    let names = x509_cert::ext::pkix::SubjectAltName::from_der(san).unwrap().0;
    assert_eq!(names.len(), 1);
    match &names[0] {
        x509_cert::ext::pkix::name::GeneralName::UniformResourceIdentifier(uri) => {
            assert_eq!(uri.as_str(), expected_san)
        }
        other => panic!("unexpected SAN {other:?}"),
    }
    // `.1` is the raw issuer; `.8` the same as a DER UTF8String; `.9` the build signer URI.
    assert_eq!(extension_value(&cert, "1.3.6.1.4.1.57264.1.1").unwrap().1, ISSUER.as_bytes());
    let mut utf8 = vec![0x0c, ISSUER.len() as u8];
    utf8.extend_from_slice(ISSUER.as_bytes());
    assert_eq!(extension_value(&cert, "1.3.6.1.4.1.57264.1.8").unwrap().1, utf8);
    assert_eq!(&extension_value(&cert, "1.3.6.1.4.1.57264.1.9").unwrap().1[2..], expected_san.as_bytes());

    // The chain validates against the trusted root's CA at the issuance time.
    let chain: Vec<Vec<u8>> =
        root.certificate_authorities[0].cert_chain.certificates.iter().map(|c| c.raw_bytes.clone()).collect();
    let issued_at = UnixTime(tbs.validity.not_before.to_unix_duration().as_secs() as i64);
    npm_attest::core::verify::pki::validate_path(
        leaf_der,
        &chain,
        issued_at,
        npm_attest::core::verify::pki::EKU_CODE_SIGNING,
    )
    .unwrap();

    // The SCT: the last extension, an OCTET STRING holding the TLS-encoded list; its signature
    // covers the precertificate TBS = the final TBS without the SCT extension (RFC 6962 §3.2).
    let exts = tbs.extensions.as_ref().unwrap();
    assert_eq!(exts.last().unwrap().extn_id.to_string(), "1.3.6.1.4.1.11129.2.4.2", "SCT goes last");
    let list = der::asn1::OctetString::from_der(exts.last().unwrap().extn_value.as_bytes()).unwrap().into_bytes();
    assert_eq!(usize::from(u16::from_be_bytes([list[0], list[1]])), list.len() - 2);
    let sct = &list[4..];
    assert_eq!(usize::from(u16::from_be_bytes([list[2], list[3]])), sct.len(), "exactly one SCT");
    let ct = &root.ctlogs[0];
    assert_eq!(sct[0], 0, "SCT v1");
    assert_eq!(&sct[1..33], ct.log_id.key_id.as_slice(), "SCT log id is the trusted CT key's");
    let timestamp = &sct[33..41];
    assert_eq!(&sct[41..45], &[0, 0, 4, 3], "no extensions; sha256 + ecdsa");
    let signature = &sct[47..];
    let mut precert = tbs.clone();
    precert.extensions.as_mut().unwrap().pop();
    let precert_der = precert.to_der().unwrap();
    let intermediate = Certificate::from_der(&chain[0]).unwrap();
    let issuer_key_hash = Sha256::digest(intermediate.tbs_certificate.subject_public_key_info.to_der().unwrap());
    let mut signed = vec![0u8, 0u8];
    signed.extend_from_slice(timestamp);
    signed.extend_from_slice(&[0, 1]);
    signed.extend_from_slice(&issuer_key_hash);
    signed.extend_from_slice(&(precert_der.len() as u32).to_be_bytes()[1..]);
    signed.extend_from_slice(&precert_der);
    signed.extend_from_slice(&[0, 0]);
    PublicKey::from_spki_der(&ct.public_key.raw_bytes).unwrap().verify(&signed, signature).unwrap();
}

#[test]
fn issues_a_sigstore_profile_leaf_for_a_proof_of_possession() {
    let server = Server::start();
    let token = server.token();
    let claims = claims_of(&token);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "sigstore");
    let key = test_key(1);
    let reply = pop_request(&server, &key, &token, claims["sub"].as_str().unwrap());
    let chain = chain_of(&reply);
    assert_eq!(chain.len(), 3, "leaf, intermediate, root");
    let root = server.trusted_root();
    let trusted: Vec<&Vec<u8>> =
        root.certificate_authorities[0].cert_chain.certificates.iter().map(|c| &c.raw_bytes).collect();
    assert_eq!(vec![&chain[1], &chain[2]], trusted, "the response chain is the trusted root's");
    let san = format!("https://github.com/{}", claims["job_workflow_ref"].as_str().unwrap());
    check_leaf(&server, &chain[0], key.verifying_key().to_public_key_der().unwrap().as_bytes(), &san);
}

#[test]
fn issues_for_a_csr_with_the_token_in_the_bearer_header() {
    let server = Server::start();
    let token = server.token();
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let csr = rcgen::CertificateParams::default().serialize_request(&key_pair).unwrap();
    let body = json!({"certificateSigningRequest": b64_encode(csr.pem().unwrap())});
    let bearer = format!("Bearer {token}");
    let reply = server.post_json("/api/v2/signingCert", &[("Authorization", &bearer)], &body);
    let chain = chain_of(&reply);
    let san = format!("https://github.com/{}", claims_of(&token)["job_workflow_ref"].as_str().unwrap());
    let spki = p256::PublicKey::from_sec1_bytes(key_pair.public_key_raw()).unwrap().to_public_key_der().unwrap();
    check_leaf(&server, &chain[0], spki.as_bytes(), &san);

    // A CSR whose self-signature was tampered with proves nothing.
    let mut der = csr.der().to_vec();
    let last = der.len() - 1;
    der[last] ^= 1;
    let body = json!({"certificateSigningRequest": b64_encode(pem_encode("CERTIFICATE REQUEST", &der))});
    let reply = server.post_json("/api/v2/signingCert", &[("Authorization", &bearer)], &body);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["message"], "The signature supplied in the request could not be verified");
}

#[test]
fn a_base64_der_key_and_a_foreign_token_are_accepted_on_their_claims() {
    let server = Server::start();
    let mut claims = claims_of(&server.token());
    claims["job_workflow_ref"] = json!("octo/pkg/.github/workflows/publish.yml@refs/tags/v1.0.0");
    let token = foreign_token(&claims);
    let key = test_key(2);
    let spki = key.verifying_key().to_public_key_der().unwrap();
    let reply = server.post_json(
        "/api/v2/signingCert",
        &[],
        &json!({
            "credentials": {"oidcIdentityToken": token},
            "publicKeyRequest": {
                "publicKey": {"algorithm": "ECDSA", "content": b64_encode(spki.as_bytes())},
                "proofOfPossession": b64_encode(sign_der(&key, claims["sub"].as_str().unwrap().as_bytes())),
            }
        }),
    );
    let chain = chain_of(&reply);
    check_leaf(
        &server,
        &chain[0],
        spki.as_bytes(),
        "https://github.com/octo/pkg/.github/workflows/publish.yml@refs/tags/v1.0.0",
    );
}

#[test]
fn bad_tokens_and_bad_proofs_get_fulcios_status_and_error_body() {
    let server = Server::start();
    let good = server.token();
    let claims = claims_of(&good);
    let sub = claims["sub"].as_str().unwrap().to_owned();
    let key = test_key(3);

    let mut wrong_audience = claims.clone();
    wrong_audience["aud"] = json!("npm:registry.npmjs.org");
    let mut expired = claims.clone();
    expired["exp"] = json!(now() - 5);
    let mut no_subject = claims.clone();
    no_subject.as_object_mut().unwrap().remove("sub");
    // The stand-in's own header and signature over altered claims: a forgery.
    let parts: Vec<&str> = good.split('.').collect();
    let mut altered = claims.clone();
    altered["job_workflow_ref"] = json!("evil/repo/.github/workflows/x.yml@refs/heads/main");
    use base64::Engine as _;
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(altered.to_string()),
        parts[2]
    );
    let cases = [
        ("wrong audience", foreign_token(&wrong_audience)),
        ("expired", foreign_token(&expired)),
        ("no subject", foreign_token(&no_subject)),
        ("forged signature", forged),
        ("garbage", "not.a.jwt".to_owned()),
        ("empty", String::new()),
    ];
    for (name, token) in cases {
        let reply = pop_request(&server, &key, &token, &sub);
        assert_eq!(reply.status, 400, "{name}");
        assert_eq!(reply.json(), json!({"code": 3, "message": TOKEN_ERROR, "details": []}), "{name}");
    }

    // A proof of possession over another subject.
    let reply = pop_request(&server, &key, &good, "repo:someone/else:ref:refs/heads/main");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["message"], "The signature supplied in the request could not be verified");
    // A public key that is not one.
    let reply = server.post_json(
        "/api/v2/signingCert",
        &[],
        &json!({"credentials": {"oidcIdentityToken": good}, "publicKeyRequest": {"publicKey": {"content": "bm90IGEga2V5"}, "proofOfPossession": "AA=="}}),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["message"], "The public key supplied in the request could not be parsed");
}

/// Verifies a Rekor v1 `LogEntry`: the SET over the canonical entry, and the inclusion proof
/// against a checkpoint signed by the log key. Returns (log index, tree size).
fn check_entry(root: &TrustedRoot, base: &str, uuid: &str, entry: &Value) -> (u64, u64) {
    let tlog = &root.tlogs[0];
    let log_key = PublicKey::from_spki_der(&tlog.public_key.raw_bytes).unwrap();
    let body = b64_decode(entry["body"].as_str().unwrap()).unwrap();
    let leaf = leaf_hash(&body);
    assert_eq!(&uuid[16..], hex::encode(leaf), "uuid ends with the leaf hash");
    assert_eq!(uuid.len(), 80);
    assert_eq!(entry["logID"], hex::encode(&tlog.log_id.key_id));

    // SET: ECDSA over the canonical {body, integratedTime, logID, logIndex}.
    let set = b64_decode(entry["verification"]["signedEntryTimestamp"].as_str().unwrap()).unwrap();
    let payload = npm_attest::core::wire::rekor::set_payload(
        entry["body"].as_str().unwrap(),
        entry["integratedTime"].as_i64().unwrap(),
        entry["logID"].as_str().unwrap(),
        entry["logIndex"].as_i64().unwrap(),
    );
    log_key.verify(payload.as_bytes(), &set).unwrap();
    assert!((entry["integratedTime"].as_i64().unwrap() - now()).abs() < 120);

    // Inclusion proof (RFC 6962) against the root the signed checkpoint commits to.
    let proof = &entry["verification"]["inclusionProof"];
    let index = proof["logIndex"].as_u64().unwrap();
    let size = proof["treeSize"].as_u64().unwrap();
    assert_eq!(entry["logIndex"].as_u64().unwrap(), index);
    let hashes: Vec<Vec<u8>> =
        proof["hashes"].as_array().unwrap().iter().map(|h| hex::decode(h.as_str().unwrap()).unwrap()).collect();
    let root_hash = hex::decode(proof["rootHash"].as_str().unwrap()).unwrap();
    verify_inclusion(index, size, &leaf, &hashes, &root_hash).unwrap();

    let note = proof["checkpoint"].as_str().unwrap();
    let (text, signatures) = note.split_once("\n\n").unwrap();
    let text = format!("{text}\n");
    let origin = base.trim_start_matches("http://");
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    assert!(first.starts_with(&format!("{origin} - ")), "{first}");
    assert_eq!(lines.next().unwrap(), size.to_string());
    assert_eq!(b64_decode(lines.next().unwrap()).unwrap(), root_hash);
    assert!(lines.next().unwrap().starts_with("Timestamp: "));
    let line = signatures.strip_suffix('\n').unwrap();
    let rest = line.strip_prefix("\u{2014} ").unwrap();
    let (name, sig) = rest.split_once(' ').unwrap();
    assert_eq!(name, origin);
    let sig = b64_decode(sig).unwrap();
    assert_eq!(&sig[..4], &tlog.log_id.key_id[..4], "key hint = first 4 bytes of the log id");
    log_key.verify(text.as_bytes(), &sig[4..]).unwrap();
    (index, size)
}

/// Gets a certificate for `key` and returns (leaf PEM, leaf DER).
fn certificate(server: &Server, key: &p256::ecdsa::SigningKey) -> String {
    let token = server.token();
    let sub = claims_of(&token)["sub"].as_str().unwrap().to_owned();
    let chain = chain_of(&pop_request(server, key, &token, &sub));
    pem_encode("CERTIFICATE", &chain[0])
}

fn created(reply: &Reply) -> (String, Value) {
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    let json = reply.json();
    let (uuid, entry) = json.as_object().unwrap().iter().next().unwrap();
    assert_eq!(reply.header("etag"), Some(uuid.as_str()));
    assert!(reply.header("location").unwrap().ends_with(&format!("/api/v1/log/entries/{uuid}")));
    (uuid.clone(), entry.clone())
}

#[test]
fn logs_dsse_intoto_and_hashedrekord_with_canonical_bodies_and_verifiable_proofs() {
    let server = Server::start();
    let root = server.trusted_root();
    let key = test_key(4);
    let cert_pem = certificate(&server, &key);
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[]}"#.to_vec();
    let payload_type = "application/vnd.in-toto+json";
    let sig = sign_der(&key, &npm_attest::core::dsse::pae(payload_type, &payload));

    // dsse 0.0.1.
    let envelope = Envelope {
        payload: payload.clone(),
        payload_type: payload_type.into(),
        signatures: vec![EnvelopeSignature { sig: sig.clone(), keyid: String::new() }],
    };
    let envelope_json = npm_attest::core::dsse::compact_json(&envelope);
    let request = npm_attest::core::wire::rekor::dsse_v001_request(&envelope_json, &cert_pem);
    let (dsse_uuid, entry) = created(&server.post_json("/api/v1/log/entries", &[], &request));
    let expected = format!(
        r#"{{"apiVersion":"0.0.1","kind":"dsse","spec":{{"envelopeHash":{{"algorithm":"sha256","value":"{}"}},"payloadHash":{{"algorithm":"sha256","value":"{}"}},"signatures":[{{"signature":"{}","verifier":"{}"}}]}}}}"#,
        hex::encode(Sha256::digest(envelope_json.as_bytes())),
        hex::encode(Sha256::digest(&payload)),
        b64_encode(&sig),
        b64_encode(&cert_pem),
    );
    assert_eq!(String::from_utf8(b64_decode(entry["body"].as_str().unwrap()).unwrap()).unwrap(), expected);
    let (dsse_index, size) = check_entry(&root, &server.base, &dsse_uuid, &entry);
    assert!(dsse_index >= 1, "the genesis entry keeps client entries off index 0");
    assert_eq!(size, dsse_index + 1);

    // intoto 0.0.2: double base64, and the logged body drops the payload.
    let hash = "ab".repeat(32);
    let request = json!({"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
        "envelope": {"payloadType": payload_type, "payload": b64_encode(b64_encode(&payload)),
                     "signatures": [{"sig": b64_encode(b64_encode(&sig)), "publicKey": b64_encode(&cert_pem)}]},
        "hash": {"algorithm": "sha256", "value": hash}}}});
    let (intoto_uuid, entry) = created(&server.post_json("/api/v1/log/entries", &[], &request));
    let expected = format!(
        r#"{{"apiVersion":"0.0.2","kind":"intoto","spec":{{"content":{{"envelope":{{"payloadType":"{payload_type}","signatures":[{{"publicKey":"{}","sig":"{}"}}]}},"hash":{{"algorithm":"sha256","value":"{hash}"}},"payloadHash":{{"algorithm":"sha256","value":"{}"}}}}}}}}"#,
        b64_encode(&cert_pem),
        b64_encode(b64_encode(&sig)),
        hex::encode(Sha256::digest(&payload)),
    );
    assert_eq!(String::from_utf8(b64_decode(entry["body"].as_str().unwrap()).unwrap()).unwrap(), expected);
    assert_eq!(check_entry(&root, &server.base, &intoto_uuid, &entry), (dsse_index + 1, dsse_index + 2));

    // hashedrekord 0.0.1 over a digest, signed prehashed.
    let digest = Sha256::digest(b"artifact");
    let sig: p256::ecdsa::Signature = key.sign_prehash(&digest).unwrap();
    let sig = sig.to_der().as_bytes().to_vec();
    let request = npm_attest::core::wire::rekor::hashedrekord_v001_request(&digest, &sig, &cert_pem);
    let (hr_uuid, entry) = created(&server.post_json("/api/v1/log/entries", &[], &request));
    let body: Value = serde_json::from_slice(&b64_decode(entry["body"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(body, request, "a hashedrekord body is the request");
    assert_eq!(check_entry(&root, &server.base, &hr_uuid, &entry), (dsse_index + 2, dsse_index + 3));

    // The first entry again, by UUID and by bare leaf hash: a fresh proof at the larger tree
    // verifies against a fresh checkpoint.
    for id in [dsse_uuid.clone(), dsse_uuid[16..].to_owned()] {
        let reply = server.http("GET", &format!("/api/v1/log/entries/{id}"), &[], b"");
        assert_eq!(reply.status, 200);
        let json = reply.json();
        let (uuid, entry) = json.as_object().unwrap().iter().next().unwrap();
        assert_eq!(uuid, &dsse_uuid);
        assert_eq!(check_entry(&root, &server.base, uuid, entry), (dsse_index, dsse_index + 3));
    }
    let reply = server.http("GET", &format!("/api/v1/log/entries/{}", "0".repeat(64)), &[], b"");
    assert_eq!(reply.status, 404);

    // The tree head.
    let info = server.http("GET", "/api/v1/log", &[], b"").json();
    assert_eq!(info["treeSize"], dsse_index + 3);
    assert_eq!(info["treeID"].as_str().unwrap(), u64::from_str_radix(&dsse_uuid[..16], 16).unwrap().to_string());
}

#[test]
fn a_duplicate_entry_is_409_with_its_location() {
    let server = Server::start();
    let key = test_key(5);
    let cert_pem = certificate(&server, &key);
    let digest = Sha256::digest(b"twice");
    let sig: p256::ecdsa::Signature = key.sign_prehash(&digest).unwrap();
    let request = npm_attest::core::wire::rekor::hashedrekord_v001_request(&digest, sig.to_der().as_bytes(), &cert_pem);
    let (uuid, _) = created(&server.post_json("/api/v1/log/entries", &[], &request));
    let again = server.post_json("/api/v1/log/entries", &[], &request);
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["code"], 409);
    assert!(again.header("location").unwrap().ends_with(&uuid));
    let info = server.http("GET", "/api/v1/log", &[], b"").json();
    assert_eq!(info["treeSize"], 2, "genesis + one entry: the duplicate was not appended");
}

#[test]
fn entries_that_do_not_verify_are_400() {
    let server = Server::start();
    let key = test_key(6);
    let cert_pem = certificate(&server, &key);
    let payload = b"{}".to_vec();
    // Signed by another key than the certificate's.
    let sig = sign_der(&test_key(7), &npm_attest::core::dsse::pae("application/vnd.in-toto+json", &payload));
    let envelope = Envelope {
        payload,
        payload_type: "application/vnd.in-toto+json".into(),
        signatures: vec![EnvelopeSignature { sig, keyid: String::new() }],
    };
    let request =
        npm_attest::core::wire::rekor::dsse_v001_request(&npm_attest::core::dsse::compact_json(&envelope), &cert_pem);
    let reply = server.post_json("/api/v1/log/entries", &[], &request);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], 400);

    let reply =
        server.post_json("/api/v1/log/entries", &[], &json!({"apiVersion": "0.0.1", "kind": "rekord", "spec": {}}));
    assert_eq!(reply.status, 400);
    let reply = server.http("POST", "/api/v1/log/entries", &[("Content-Type", "application/json")], b"{not json");
    assert_eq!(reply.status, 400);
}

#[test]
fn a_body_over_32_mib_is_413() {
    let server = Server::start();
    let body = vec![b' '; 32 * 1024 * 1024 + 1];
    let reply = server.http("POST", "/api/v1/log/entries", &[("Content-Type", "application/json")], &body);
    assert_eq!(reply.status, 413);
}

#[test]
fn trust_material_names_the_stand_in() {
    let server = Server::start();
    let root = server.trusted_root();
    assert_eq!(root.media_type, "application/vnd.dev.sigstore.trustedroot+json;version=0.1");
    for tlog in root.tlogs.iter().chain(&root.ctlogs) {
        assert_eq!(tlog.base_url, server.base);
        assert_eq!(tlog.log_id.key_id, Sha256::digest(&tlog.public_key.raw_bytes).to_vec(), "logId = SHA-256(SPKI)");
        let start = tlog.public_key.valid_for.as_ref().unwrap().start.as_deref().unwrap();
        assert!(npm_attest::core::time::parse_rfc3339(start).unwrap().seconds() < now());
    }
    assert_eq!(root.certificate_authorities[0].cert_chain.certificates.len(), 2);
    let ctc: ClientTrustConfig =
        serde_json::from_slice(&std::fs::read(server.file("trust_config.json")).unwrap()).unwrap();
    assert_eq!(ctc.trusted_root, root);
    assert_eq!(ctc.signing_config.ca_urls[0].url, server.base);
    assert_eq!(ctc.signing_config.rekor_tlog_urls[0].url, server.base);
    assert_eq!(ctc.signing_config.rekor_tlog_urls[0].major_api_version, 1);
    assert!(ctc.signing_config.tsa_urls.is_empty());
    let bundle = server.http("GET", "/api/v2/trustBundle", &[], b"").json();
    assert_eq!(bundle["chains"][0]["certificates"].as_array().unwrap().len(), 2);
}

#[cfg(unix)]
#[test]
fn serve_sigstore_exits_zero_on_sigterm() {
    let mut server = Server::start();
    let status = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let code = server.child.wait().unwrap();
    assert_eq!(code.code(), Some(0));
}

/// The library API the signing client uses: start in-process, mint a token from the GitHub
/// claims, get a certificate that chains to `trusted_root()`, shut down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_api_mints_tokens_the_ca_accepts() {
    use npm_attest::standin::{github_actions_claims, Standin, StandinOptions};
    let standin = Standin::start(StandinOptions { listen: "127.0.0.1:0".parse().unwrap() }).await.unwrap();
    assert!(standin.base_url().starts_with("http://127.0.0.1:"));
    let env = |name: &str| (name == "GITHUB_REPOSITORY").then(|| "octo/pkg".to_owned());
    let claims = github_actions_claims(&env, UnixTime(now()));
    let token = standin.mint_token(claims.clone());
    assert!(!format!("{token:?}").contains(token.expose()), "the token stays redacted");
    let minted = claims_of(token.expose());
    assert_eq!(minted["job_workflow_ref"], "octo/pkg/.github/workflows/release.yml@refs/heads/main");
    let config = standin.signing_config();
    assert_eq!(config.ca_urls[0].url, standin.base_url());
    let root = standin.trusted_root().clone();
    let base = standin.base_url().to_owned();
    let token = token.expose().to_owned();
    let leaf = tokio::task::spawn_blocking(move || {
        let key = test_key(9);
        let reply = http(
            &base,
            "POST",
            "/api/v2/signingCert",
            &[("Content-Type", "application/json")],
            json!({
                "credentials": {"oidcIdentityToken": token},
                "publicKeyRequest": {
                    "publicKey": {"content": public_pem(&key)},
                    "proofOfPossession": b64_encode(sign_der(&key, b"repo:octo/pkg:ref:refs/heads/main")),
                }
            })
            .to_string()
            .as_bytes(),
        );
        chain_of(&reply).remove(0)
    })
    .await
    .unwrap();
    let chain: Vec<Vec<u8>> =
        root.certificate_authorities[0].cert_chain.certificates.iter().map(|c| c.raw_bytes.clone()).collect();
    npm_attest::core::verify::pki::validate_path(
        &leaf,
        &chain,
        UnixTime(now()),
        npm_attest::core::verify::pki::EKU_CODE_SIGNING,
    )
    .unwrap();
    standin.shutdown().await;
}

/// The fault-injection seam: a middleware sees every request first and may answer itself,
/// drop the connection, or pass the request on.
struct FailFirst {
    seen: std::sync::atomic::AtomicUsize,
}

impl npm_attest::standin::Middleware for FailFirst {
    fn call<'a>(
        &'a self,
        request: npm_attest::standin::ApiRequest,
        next: npm_attest::standin::Next<'a>,
    ) -> npm_attest::standin::BoxFuture<'a, npm_attest::standin::Reply> {
        Box::pin(async move {
            match self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                0 => {
                    let mut response =
                        hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")));
                    *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
                    npm_attest::standin::Reply::Response(response)
                }
                1 => npm_attest::standin::Reply::DropConnection,
                _ => next.run(request).await,
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middleware_can_fail_or_drop_requests_before_the_routes() {
    use npm_attest::standin::{Standin, StandinOptions};
    let layer = std::sync::Arc::new(FailFirst { seen: std::sync::atomic::AtomicUsize::new(0) });
    let standin =
        Standin::start_with_middleware(StandinOptions { listen: "127.0.0.1:0".parse().unwrap() }, vec![layer])
            .await
            .unwrap();
    let base = standin.base_url().to_owned();
    let outcomes = tokio::task::spawn_blocking(move || {
        let first = http(&base, "GET", "/api/v1/log", &[], b"").status;
        let authority = base.trim_start_matches("http://").to_owned();
        let mut stream = TcpStream::connect(&authority).unwrap();
        stream.write_all(format!("GET /api/v1/log HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes()).unwrap();
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let third = http(&base, "GET", "/api/v1/log", &[], b"").status;
        (first, raw.len(), third)
    })
    .await
    .unwrap();
    assert_eq!(outcomes, (503, 0, 200), "503, then a dropped connection with no bytes, then the route");
    standin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stand_in_stops_listening() {
    use npm_attest::standin::{Standin, StandinOptions};
    let standin = Standin::start(StandinOptions { listen: "127.0.0.1:0".parse().unwrap() }).await.unwrap();
    let authority = standin.base_url().trim_start_matches("http://").to_owned();
    assert!(tokio::net::TcpStream::connect(&authority).await.is_ok());
    drop(standin);
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&authority).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the listener is closed after drop");
}
