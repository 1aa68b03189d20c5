//! `npm-attest attest` end to end against loopback fakes of the GitHub Actions OIDC runtime,
//! Fulcio and Rekor. The fakes check what they receive (audience, bearer, proof of
//! possession, the exact Rekor `dsse` proposal) and answer like the real services: a real
//! X.509 leaf for the submitted key, a canonical Rekor body with a SET and an inclusion proof.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use der::{Decode as _, Encode as _};
use npm_attest::core::canonical_json::to_canonical_string;
use npm_attest::core::crypto::{pem_encode, PublicKey};
use npm_attest::core::dsse;
use npm_attest::core::verify::merkle;
use npm_attest::core::wire::encoding::{b64_decode, b64_encode};
use npm_attest::core::wire::rekor;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256, Sha512};

use crate::fake_http::{FakeServer, Request, Response};
use crate::support::{data, run_in, stderr, stdout};

/// How the fake services misbehave, if at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Fault {
    #[default]
    None,
    /// Fulcio refuses the token.
    FulcioUnauthorized,
    /// Rekor answers the create with 409 and a `Location`, as for a retried request.
    RekorConflict,
    /// Rekor answers with an entry whose body carries someone else's signature.
    RekorForeignEntry,
    /// Rekor answers the first create with 503 (a transient outage).
    RekorUnavailableOnce,
    /// Fulcio answers with a body larger than the client's cap.
    FulcioHugeBody,
}

#[derive(Default)]
struct SigstoreState {
    requests: Vec<Request>,
    /// The entry (uuid, response JSON) Rekor holds, for `GET /api/v1/log/entries/{uuid}`.
    entries: Vec<(String, Value)>,
    issued_leaf_pem: Option<String>,
}

/// One loopback server playing the Actions OIDC runtime, Fulcio and Rekor.
struct FakeSigstore {
    server: FakeServer,
    state: Arc<Mutex<SigstoreState>>,
    jwt: String,
}

const REQUEST_TOKEN: &str = "actions-request-token-5ecr3t";
const SUBJECT: &str = "repo:octo/hello:ref:refs/tags/v1.0.0";

fn issuer_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap()
}

fn rekor_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[0x17; 32]).unwrap()
}

/// A GitHub-Actions-like identity token (signed by a key nobody trusts: the fake Fulcio
/// does not check it, and the client must not either).
fn mint_jwt(extra: &[(&str, Value)]) -> String {
    let mut claims = Map::new();
    claims.insert("iss".into(), "https://token.actions.githubusercontent.com".into());
    claims.insert("aud".into(), "sigstore".into());
    claims.insert("sub".into(), SUBJECT.into());
    claims.insert("iat".into(), 1_700_000_000.into());
    claims.insert("exp".into(), 4_000_000_000i64.into());
    claims.insert("repository".into(), "octo/hello".into());
    for (k, v) in extra {
        claims.insert((*k).into(), v.clone());
    }
    npm_attest::core::jwt::mint_es256(&issuer_key(), "test", &claims)
}

/// rcgen needs the subject key as raw SEC1 point bytes plus its algorithm.
struct RawP256(Vec<u8>);

impl rcgen::PublicKeyData for RawP256 {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

fn issue_leaf(public_key_pem: &str) -> String {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "fake-fulcio");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let subject_key = p256::PublicKey::from_public_key_pem(public_key_pem).unwrap();
    let point = p256::EncodedPoint::from(subject_key);
    let mut leaf = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf.subject_alt_names = vec![rcgen::SanType::URI(
        "https://github.com/octo/hello/.github/workflows/publish.yml@refs/tags/v1.0.0".try_into().unwrap(),
    )];
    leaf.signed_by(&RawP256(point.as_bytes().to_vec()), &issuer).unwrap().pem()
}

impl FakeSigstore {
    fn start(fault: Fault) -> Self {
        let state = Arc::new(Mutex::new(SigstoreState::default()));
        let jwt = mint_jwt(&[]);
        let handler_state = state.clone();
        let handler_jwt = jwt.clone();
        let server = FakeServer::start(move |req: Request| {
            handler_state.lock().unwrap().requests.push(req.clone());
            handle(&handler_state, &handler_jwt, fault, req)
        });
        Self { server, state, jwt }
    }

    fn url(&self) -> &str {
        &self.server.url
    }

    fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.path_only() == path).collect()
    }

    fn leaf_pem(&self) -> String {
        self.state.lock().unwrap().issued_leaf_pem.clone().expect("a certificate was issued")
    }
}

fn handle(state: &Mutex<SigstoreState>, jwt: &str, fault: Fault, req: Request) -> Response {
    match (req.method.as_str(), req.path_only()) {
        // The Actions runtime: audience and bearer are checked, as GitHub does.
        ("GET", "/token") => {
            if req.bearer() != Some(REQUEST_TOKEN) {
                return Response::json(401, &json!({"message": "bad request token"}));
            }
            if req.query("audience").as_deref() != Some("sigstore")
                || req.query("api-version").as_deref() != Some("2.0")
            {
                return Response::json(400, &json!({"message": "wrong audience"}));
            }
            Response::json(200, &json!({"count": 1, "value": jwt}))
        }
        ("POST", "/api/v2/signingCert") => {
            if fault == Fault::FulcioHugeBody {
                return Response::bytes(201, "application/json", vec![b' '; 11 * 1024 * 1024]);
            }
            if fault == Fault::FulcioUnauthorized {
                return Response::json(401, &json!({"code": 16, "message": "error processing the identity token"}));
            }
            let Some(body) = req.json() else {
                return Response::json(400, &json!({"message": "not json"}));
            };
            let Some(pem) = body.pointer("/publicKeyRequest/publicKey/content").and_then(Value::as_str) else {
                return Response::json(400, &json!({"message": "no public key"}));
            };
            // The proof of possession is a signature over the token's `sub`.
            let pop =
                b64_decode(body["publicKeyRequest"]["proofOfPossession"].as_str().unwrap_or("")).unwrap_or_default();
            if PublicKey::from_pem(pem).and_then(|k| k.verify(SUBJECT.as_bytes(), &pop)).is_err() {
                return Response::json(400, &json!({"message": "proof of possession does not verify"}));
            }
            let leaf = issue_leaf(pem);
            state.lock().unwrap().issued_leaf_pem = Some(leaf.clone());
            Response::json(
                201,
                &json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [leaf, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"]}}}),
            )
        }
        ("POST", "/api/v1/log/entries") => {
            if fault == Fault::RekorUnavailableOnce
                && state.lock().unwrap().requests.iter().filter(|r| r.path_only() == "/api/v1/log/entries").count() == 1
            {
                return Response::json(503, &json!({"message": "try again"}));
            }
            let Some(proposed) = req.json() else {
                return Response::json(400, &json!({"message": "not json"}));
            };
            let (uuid, entry) = log_entry(&proposed, fault, 0);
            let mut s = state.lock().unwrap();
            s.entries.push((uuid.clone(), entry.clone()));
            if fault == Fault::RekorConflict {
                return Response::json(409, &json!({"code": 409, "message": format!("an equivalent entry already exists in the transparency log with UUID {uuid}")}))
                    .with_header("location", &format!("/api/v1/log/entries/{uuid}"));
            }
            let location = format!("/api/v1/log/entries/{uuid}");
            Response::json(201, &json!({ uuid: entry })).with_header("location", &location)
        }
        ("GET", path) if path.starts_with("/api/v1/log/entries/") => {
            let uuid = path.trim_start_matches("/api/v1/log/entries/");
            let s = state.lock().unwrap();
            match s.entries.iter().find(|(u, _)| u == uuid) {
                Some((u, e)) => Response::json(200, &json!({ u.clone(): e.clone() })),
                None => Response::json(404, &json!({"message": "no such entry"})),
            }
        }
        _ => Response::json(404, &json!({"message": "not found"})),
    }
}

/// Rekor v1's canonical body for a proposal, and its API response (sigstore-protocol.md §4.1).
fn log_entry(proposed: &Value, fault: Fault, log_index: i64) -> (String, Value) {
    let body = match proposed["kind"].as_str() {
        Some("dsse") => {
            let envelope_text = proposed["spec"]["proposedContent"]["envelope"].as_str().unwrap();
            let verifier = proposed["spec"]["proposedContent"]["verifiers"][0].as_str().unwrap();
            let envelope: Value = serde_json::from_str(envelope_text).unwrap();
            let payload = b64_decode(envelope["payload"].as_str().unwrap()).unwrap();
            let sig = if fault == Fault::RekorForeignEntry {
                b64_encode(b"someone else's signature")
            } else {
                envelope["signatures"][0]["sig"].as_str().unwrap().to_owned()
            };
            json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(envelope_text))},
                "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload))},
                "signatures": [{"signature": sig, "verifier": verifier}]}})
        }
        _ => proposed.clone(),
    };
    let body_bytes = to_canonical_string(&body).unwrap().into_bytes();
    let leaf = merkle::leaf_hash(&body_bytes);
    let body_b64 = b64_encode(&body_bytes);
    let spki = rekor_key().verifying_key().to_public_key_der().unwrap();
    let log_id = hex::encode(Sha256::digest(spki.as_bytes()));
    let integrated_time = 1_760_000_000i64;
    let set: p256::ecdsa::Signature =
        rekor_key().sign(rekor::set_payload(&body_b64, integrated_time, &log_id, log_index).as_bytes());
    let entry = json!({
        "body": body_b64, "integratedTime": integrated_time, "logID": log_id, "logIndex": log_index,
        "verification": {
            "inclusionProof": {"checkpoint": format!("fake - 1\n1\n{}\n\n", b64_encode(leaf)), "hashes": [], "logIndex": 0, "rootHash": hex::encode(leaf), "treeSize": 1},
            "signedEntryTimestamp": b64_encode(set.to_der().as_bytes()),
        }
    });
    (format!("{:016x}{}", 7, hex::encode(leaf)), entry)
}

/// The GitHub Actions environment of a release run, plus the OIDC runtime.
fn actions_env(fake: &FakeSigstore) -> Vec<(String, String)> {
    vec![
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("ACTIONS_ID_TOKEN_REQUEST_URL".into(), format!("{}/token?api-version=2.0", fake.url())),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(), REQUEST_TOKEN.into()),
        ("GITHUB_SERVER_URL".into(), "https://github.com".into()),
        ("GITHUB_REPOSITORY".into(), "octo/hello".into()),
        ("GITHUB_REPOSITORY_ID".into(), "810002373".into()),
        ("GITHUB_REPOSITORY_OWNER_ID".into(), "583231".into()),
        ("GITHUB_EVENT_NAME".into(), "release".into()),
        ("GITHUB_REF".into(), "refs/tags/v1.0.0".into()),
        ("GITHUB_SHA".into(), "d1c6d1113932ddcee243e8b111b6d4aea553df20".into()),
        ("GITHUB_WORKFLOW_REF".into(), "octo/hello/.github/workflows/publish.yml@refs/tags/v1.0.0".into()),
        ("GITHUB_RUN_ID".into(), "9358004112".into()),
        ("GITHUB_RUN_ATTEMPT".into(), "1".into()),
        ("RUNNER_ENVIRONMENT".into(), "github-hosted".into()),
    ]
}

fn envs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A copy of a real npm tarball in a fresh directory.
fn tarball_in_tempdir(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::copy(data(&format!("npm-provenance/tarballs/{name}")), &path).unwrap();
    (dir, path)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// The stdout line that is the `--json` result.
fn json_result(out: &str) -> Value {
    let line = out.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON on stdout: {out}"));
    serde_json::from_str(line).unwrap()
}

fn cert_public_key(der: &[u8]) -> PublicKey {
    let cert = x509_cert::Certificate::from_der(der).unwrap();
    PublicKey::from_spki_der(&cert.tbs_certificate.subject_public_key_info.to_der().unwrap()).unwrap()
}

#[test]
fn github_actions_run_signs_npm_provenance_and_writes_a_v03_bundle() {
    let fake = FakeSigstore::start(Fault::None);
    let (dir, tarball) = tarball_in_tempdir("sigstore-2.0.0.tgz");
    let env = actions_env(&fake);
    let out = run_in(dir.path(), &["attest", "sigstore-2.0.0.tgz", "--sigstore", fake.url(), "--json"], &envs(&env));
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "stdout: {so}\nstderr: {se}");

    // The runtime was asked for a `sigstore` token with the request token as bearer.
    let token_requests = fake.requests_to("/token");
    assert_eq!(token_requests.len(), 1);
    assert_eq!(token_requests[0].query("audience").as_deref(), Some("sigstore"));
    assert_eq!(token_requests[0].bearer(), Some(REQUEST_TOKEN));
    assert_eq!(token_requests[0].header("accept"), Some("application/json"));

    // Fulcio got sigstore-js's body.
    let fulcio = fake.requests_to("/api/v2/signingCert");
    assert_eq!(fulcio.len(), 1);
    let fulcio_body = fulcio[0].json().unwrap();
    assert_eq!(fulcio_body["credentials"]["oidcIdentityToken"], fake.jwt.as_str());
    assert_eq!(fulcio_body["publicKeyRequest"]["publicKey"]["algorithm"], "ECDSA");
    assert!(fulcio_body["publicKeyRequest"]["publicKey"]["content"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));

    // The result, on stdout.
    let result = json_result(&so);
    let bytes = std::fs::read(&tarball).unwrap();
    let sha512 = hex::encode(Sha512::digest(&bytes));
    assert_eq!(result["subject"]["name"], "pkg:npm/sigstore@2.0.0");
    assert_eq!(result["subject"]["sha512"], sha512.as_str());
    assert_eq!(result["logIndex"], 0);
    assert_eq!(result["transparencyLogUrl"], format!("{}/api/v1/log/entries?logIndex=0", fake.url()).as_str());
    assert_eq!(result["bundle"], "sigstore-2.0.0.sigstore.json");
    assert_eq!(result["tarball"], "sigstore-2.0.0.tgz");
    assert!(se.contains("transparency log"), "{se}");

    // The bundle: v0.3, the leaf only, one entry with promise and proof, DSSE over PAE.
    let bundle_path = dir.path().join("sigstore-2.0.0.sigstore.json");
    let bundle: Value = serde_json::from_slice(&std::fs::read(&bundle_path).unwrap()).unwrap();
    assert_eq!(bundle["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    let leaf_der = b64_decode(bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap()).unwrap();
    assert_eq!(pem_encode("CERTIFICATE", &leaf_der), fake.leaf_pem());
    assert!(bundle["verificationMaterial"].get("x509CertificateChain").is_none());
    let entries = bundle["verificationMaterial"]["tlogEntries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry["kindVersion"], json!({"kind": "dsse", "version": "0.0.1"}));
    assert_eq!(entry["logIndex"], "0");
    assert!(entry["inclusionPromise"]["signedEntryTimestamp"].is_string());
    assert_eq!(entry["inclusionProof"]["logIndex"], "0");
    assert_eq!(entry["inclusionProof"]["hashes"], json!([]));
    assert!(entry["inclusionProof"]["checkpoint"]["envelope"].is_string());

    let envelope = &bundle["dsseEnvelope"];
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    let payload = b64_decode(envelope["payload"].as_str().unwrap()).unwrap();
    let sig = b64_decode(envelope["signatures"][0]["sig"].as_str().unwrap()).unwrap();
    cert_public_key(&leaf_der).verify(&dsse::pae("application/vnd.in-toto+json", &payload), &sig).unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(statement["subject"], json!([{"name": "pkg:npm/sigstore@2.0.0", "digest": {"sha512": sha512}}]));
    assert_eq!(
        statement["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["path"],
        ".github/workflows/publish.yml"
    );
    assert_eq!(
        statement["predicate"]["runDetails"]["builder"]["id"],
        "https://github.com/actions/runner/github-hosted"
    );

    // Rekor got the compact envelope string and the certificate PEM, base64'd.
    let rekor = fake.requests_to("/api/v1/log/entries");
    let proposal = rekor[0].json().unwrap();
    assert_eq!(proposal["kind"], "dsse");
    assert_eq!(proposal["spec"]["proposedContent"]["verifiers"][0], b64_encode(fake.leaf_pem()).as_str());
    let envelope_text = proposal["spec"]["proposedContent"]["envelope"].as_str().unwrap();
    assert_eq!(
        envelope_text,
        format!(
            r#"{{"payload":"{}","payloadType":"application/vnd.in-toto+json","signatures":[{{"sig":"{}"}}]}}"#,
            envelope["payload"].as_str().unwrap(),
            envelope["signatures"][0]["sig"].as_str().unwrap()
        )
    );

    // Tokens are masked, and appear nowhere else.
    assert!(so.lines().any(|l| l == format!("::add-mask::{}", fake.jwt)), "{so}");
    assert!(so.lines().any(|l| l == format!("::add-mask::{REQUEST_TOKEN}")), "{so}");
    let unmasked_stdout: String = so.lines().filter(|l| !l.starts_with("::add-mask::")).collect();
    for secret in [fake.jwt.as_str(), REQUEST_TOKEN] {
        assert!(!unmasked_stdout.contains(secret));
        assert!(!se.contains(secret));
        for name in files_in(dir.path()) {
            let text = String::from_utf8_lossy(&std::fs::read(dir.path().join(&name)).unwrap()).into_owned();
            assert!(!text.contains(secret), "{name} contains a token");
        }
    }
    assert_eq!(files_in(dir.path()), vec!["sigstore-2.0.0.sigstore.json", "sigstore-2.0.0.tgz"]);
}

#[test]
fn missing_id_token_permission_fails_first_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    // The package does not even exist: the token check must come before reading it.
    let out = run_in(dir.path(), &["attest", "missing.tgz"], &[("GITHUB_ACTIONS", "true")]);
    let se = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{se}");
    assert!(se.contains("id-token: write"), "{se}");
    assert!(!se.contains("missing.tgz"), "{se}");
    // The error is also a workflow annotation.
    assert!(stdout(&out).starts_with("::error title=npm-attest attest::"), "{}", stdout(&out));

    let gitlab = run_in(dir.path(), &["attest", "missing.tgz"], &[("GITLAB_CI", "true")]);
    assert_eq!(gitlab.status.code(), Some(3));
    assert!(stderr(&gitlab).contains("aud: sigstore"), "{}", stderr(&gitlab));

    let local = run_in(dir.path(), &["attest", "missing.tgz"], &[]);
    assert_eq!(local.status.code(), Some(3));
    assert!(stderr(&local).contains("--identity-token"), "{}", stderr(&local));
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn every_bad_tarball_is_refused_with_one_line_and_nothing_written() {
    let fake = FakeSigstore::start(Fault::None);
    let bad_dir = data("bad-tarballs");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&bad_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tgz"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "{cases:?}");
    let token = mint_jwt(&[]);
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&case, dir.path().join(&name)).unwrap();
        let out =
            run_in(dir.path(), &["attest", &name, "--sigstore", fake.url()], &[("SIGSTORE_ID_TOKEN", token.as_str())]);
        let se = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {se}");
        assert_eq!(se.lines().count(), 1, "{name}: {se}");
        assert!(se.starts_with("error: invalid package tarball ") && se.contains(&name), "{name}: {se}");
        assert!(!se.contains(&token));
        assert_eq!(files_in(dir.path()), vec![name.clone()], "{name} left files behind");
    }
    assert!(fake.requests().is_empty(), "a bad tarball reached the network");
}

#[test]
fn a_rekor_conflict_completes_the_bundle_from_the_existing_entry() {
    let fake = FakeSigstore::start(Fault::RekorConflict);
    let (dir, _) = tarball_in_tempdir("tuf-js-1.0.0.tgz");
    let token = mint_jwt(&[]);
    let out = run_in(
        dir.path(),
        &["attest", "tuf-js-1.0.0.tgz", "--fulcio-url", fake.url(), "--rekor-url", fake.url(), "-o", "out.json"],
        &[("SIGSTORE_ID_TOKEN", token.as_str())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let gets: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/api/v1/log/entries/"))
        .collect();
    assert_eq!(gets.len(), 1);
    let bundle: Value = serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
    assert_eq!(bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"], "dsse");
}

#[test]
fn a_log_entry_without_our_signature_is_refused() {
    let fake = FakeSigstore::start(Fault::RekorForeignEntry);
    let (dir, _) = tarball_in_tempdir("tuf-js-1.0.0.tgz");
    let token = mint_jwt(&[]);
    let out = run_in(
        dir.path(),
        &["attest", "tuf-js-1.0.0.tgz", "--sigstore", fake.url()],
        &[("SIGSTORE_ID_TOKEN", token.as_str())],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not carry our signature"), "{}", stderr(&out));
    assert_eq!(files_in(dir.path()), vec!["tuf-js-1.0.0.tgz"]);
}

#[test]
fn a_fulcio_refusal_names_the_service_and_writes_nothing() {
    let fake = FakeSigstore::start(Fault::FulcioUnauthorized);
    let (dir, _) = tarball_in_tempdir("tuf-js-1.0.0.tgz");
    let token = mint_jwt(&[]);
    let out = run_in(
        dir.path(),
        &["attest", "tuf-js-1.0.0.tgz", "--sigstore", fake.url()],
        &[("SIGSTORE_ID_TOKEN", token.as_str())],
    );
    let se = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{se}");
    assert!(se.contains("Fulcio answered 401: error processing the identity token"), "{se}");
    assert!(!se.contains(&token));
    assert_eq!(files_in(dir.path()), vec!["tuf-js-1.0.0.tgz"]);
    assert!(fake.requests_to("/api/v1/log/entries").is_empty());
}

#[test]
fn gitlab_ci_gets_npm_gitlab_statement() {
    let fake = FakeSigstore::start(Fault::None);
    let (dir, _) = tarball_in_tempdir("tuf-js-1.0.0.tgz");
    let token = mint_jwt(&[("sub", json!(SUBJECT))]);
    let out = run_in(
        dir.path(),
        &["attest", "tuf-js-1.0.0.tgz", "--sigstore", fake.url(), "--json"],
        &[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_URL", "https://gitlab.com/g/p"),
            ("CI_RUNNER_ID", "1"),
            ("CI_COMMIT_SHA", "abc"),
            ("SIGSTORE_ID_TOKEN", token.as_str()),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("::add-mask::"), "masking is for GitHub Actions only");
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("tuf-js-1.0.0.sigstore.json")).unwrap()).unwrap();
    let statement: Value =
        serde_json::from_slice(&b64_decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v0.1");
    assert_eq!(statement["predicate"]["builder"]["id"], "https://gitlab.com/g/p/-/runners/1");
    assert_eq!(statement["subject"][0]["name"], "pkg:npm/tuf-js@1.0.0");
}

#[test]
fn a_package_directory_is_packed_with_npm_and_the_tarball_kept() {
    if std::process::Command::new("npm").arg("--version").output().is_err() {
        // Without npm the directory path cannot run; the error path is covered below.
        return;
    }
    let fake = FakeSigstore::start(Fault::None);
    let dir = tempfile::tempdir().unwrap();
    let token = mint_jwt(&[]);
    let package = crate::support::repo_root().join("examples/hello-npm");
    let out = run_in(
        dir.path(),
        &["attest", package.to_str().unwrap(), "--sigstore", fake.url(), "--json"],
        &[("SIGSTORE_ID_TOKEN", token.as_str())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(files_in(dir.path()), vec!["hello-npm-1.0.0.sigstore.json", "hello-npm-1.0.0.tgz"]);
    let result = json_result(&stdout(&out));
    let tarball = std::fs::read(dir.path().join("hello-npm-1.0.0.tgz")).unwrap();
    assert_eq!(result["subject"]["sha512"], hex::encode(Sha512::digest(&tarball)).as_str());
    assert_eq!(result["subject"]["name"], "pkg:npm/hello-npm@1.0.0");
    assert_eq!(result["tarball"], "hello-npm-1.0.0.tgz");
    assert_eq!(result["bundle"], "hello-npm-1.0.0.sigstore.json");
}

#[test]
fn without_npm_a_directory_is_an_environment_error() {
    let dir = tempfile::tempdir().unwrap();
    let token = mint_jwt(&[]);
    let package = crate::support::repo_root().join("examples/hello-npm");
    let mut cmd = std::process::Command::new(crate::support::bin());
    cmd.current_dir(dir.path())
        .args(["attest", package.to_str().unwrap(), "--sigstore", "http://127.0.0.1:9"])
        .env_clear()
        .env("PATH", dir.path())
        .env("SIGSTORE_ID_TOKEN", &token);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("npm is not installed"), "{}", stderr(&out));
    assert!(files_in(dir.path()).is_empty(), "{:?}", files_in(dir.path()));
}

#[test]
fn conformance_message_signing_writes_a_hashedrekord_bundle() {
    let fake = FakeSigstore::start(Fault::None);
    let dir = tempfile::tempdir().unwrap();
    let config = json!({
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": [{"url": fake.url(), "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "local"}],
        "oidcUrls": [],
        "rekorTlogUrls": [{"url": fake.url(), "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "local"}],
        "tsaUrls": [],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"}
    });
    let config_path = dir.path().join("signing_config.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let artifact = data("sigstore-conformance/a.txt");
    let run = |in_toto: bool, file: PathBuf, out: &str| {
        let opts = npm_attest::sigstore::conformance::ConformanceSignOptions {
            staging: false,
            in_toto,
            identity_token: npm_attest::secret::SecretString::new(mint_jwt(&[])),
            bundle_out: dir.path().join(out),
            trusted_root: None,
            signing_config: Some(config_path.clone()),
            file,
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(npm_attest::sigstore::conformance::conformance_sign_bundle(opts))
    };
    run(false, artifact.clone(), "message.sigstore.json").unwrap();
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("message.sigstore.json")).unwrap()).unwrap();
    let bytes = std::fs::read(&artifact).unwrap();
    assert_eq!(bundle["messageSignature"]["messageDigest"]["algorithm"], "SHA2_256");
    assert_eq!(bundle["messageSignature"]["messageDigest"]["digest"], b64_encode(Sha256::digest(&bytes)).as_str());
    assert_eq!(
        bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"],
        json!({"kind": "hashedrekord", "version": "0.0.1"})
    );
    let leaf = b64_decode(bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap()).unwrap();
    let sig = b64_decode(bundle["messageSignature"]["signature"].as_str().unwrap()).unwrap();
    cert_public_key(&leaf).verify(&bytes, &sig).unwrap();

    run(true, data("sigstore-conformance/statement.json"), "statement.sigstore.json").unwrap();
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("statement.sigstore.json")).unwrap()).unwrap();
    let payload = b64_decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload, std::fs::read(data("sigstore-conformance/statement.json")).unwrap());

    // Not a statement: refused before any request.
    let before = fake.requests().len();
    assert!(run(true, artifact, "bad.sigstore.json").is_err());
    assert_eq!(fake.requests().len(), before);
    assert!(!dir.path().join("bad.sigstore.json").exists());
}

/// The token the run minted, from its `::add-mask::` line.
fn masked_values(out: &str) -> Vec<String> {
    out.lines().filter_map(|l| l.strip_prefix("::add-mask::")).map(str::to_owned).collect()
}

/// Checks a bundle the way a verifier would, against the stand-in's trusted root: the log
/// entry (SET, checkpoint, inclusion, body) and the DSSE signature under the leaf's key.
fn verify_local_bundle(bundle_path: &Path, root_path: &Path) -> Value {
    let bundle: npm_attest::core::wire::bundle::Bundle =
        serde_json::from_slice(&std::fs::read(bundle_path).unwrap()).unwrap();
    let root: npm_attest::core::wire::trust_root::TrustedRoot =
        serde_json::from_slice(&std::fs::read(root_path).unwrap()).unwrap();
    let envelope = bundle.dsse_envelope.as_ref().unwrap();
    let leaf = &bundle.verification_material.certificate.as_ref().unwrap().raw_bytes;
    let entry = &bundle.verification_material.tlog_entries[0];
    npm_attest::core::verify::tlog::verify_entry(
        entry,
        &root.tlogs,
        npm_attest::core::verify::tlog::SignedContent::Dsse { envelope },
        npm_attest::core::verify::tlog::SignerKey::Certificate { der: leaf },
    )
    .unwrap();
    cert_public_key(leaf)
        .verify(&dsse::pae(&envelope.payload_type, &envelope.payload), &envelope.signatures[0].sig)
        .unwrap();
    serde_json::from_slice(&envelope.payload).unwrap()
}

/// sigstore-js (the verifier npm ships) on the same bundle, when npm's copy is installed.
fn sigstore_js_verifies(bundle_path: &Path, root_path: &Path) -> Option<String> {
    let root = std::process::Command::new("npm").args(["root", "-g"]).output().ok()?;
    let modules = PathBuf::from(String::from_utf8_lossy(&root.stdout).trim()).join("npm/node_modules");
    if !modules.join("@sigstore/verify").exists() {
        return None;
    }
    let script = r#"
        const fs = require('fs');
        const { bundleFromJSON } = require('@sigstore/bundle');
        const { TrustedRoot } = require('@sigstore/protobuf-specs');
        const { toTrustMaterial, toSignedEntity, Verifier } = require('@sigstore/verify');
        const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(process.argv[1])));
        const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(process.argv[2])));
        const v = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 });
        console.log(v.verify(toSignedEntity(bundle)).identity.subjectAlternativeName);
    "#;
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(bundle_path)
        .arg(root_path)
        .env("NODE_PATH", modules)
        .output()
        .ok()?;
    assert!(out.status.success(), "sigstore-js refused the bundle: {}", stderr(&out));
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn dry_run_attests_the_example_package_with_a_verifiable_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let package = crate::support::repo_root().join("examples/hello-npm");
    let out = run_in(
        dir.path(),
        &["attest", "--dry-run", package.to_str().unwrap(), "--json"],
        &[("GITHUB_ACTIONS", "true")],
    );
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{so}\n{se}");
    assert_eq!(files_in(dir.path()), vec!["hello-npm-1.0.0.sigstore.json", "hello-npm-1.0.0.tgz", "trusted_root.json"]);
    let result = json_result(&so);
    assert_eq!(result["trustedRoot"], "trusted_root.json");
    assert!(result["transparencyLogUrl"].as_str().unwrap().starts_with("http://127.0.0.1:"));

    let statement =
        verify_local_bundle(&dir.path().join("hello-npm-1.0.0.sigstore.json"), &dir.path().join("trusted_root.json"));
    let tarball = std::fs::read(dir.path().join("hello-npm-1.0.0.tgz")).unwrap();
    assert_eq!(
        statement["subject"],
        json!([{"name": "pkg:npm/hello-npm@1.0.0", "digest": {"sha512": hex::encode(Sha512::digest(&tarball))}}])
    );
    assert!(se.contains("dry run"), "{se}");

    // The minted token was masked and is nowhere else.
    let masked = masked_values(&so);
    assert_eq!(masked.len(), 1, "{so}");
    let token = &masked[0];
    assert_eq!(token.split('.').count(), 3);
    assert!(!se.contains(token.as_str()));
    for name in files_in(dir.path()) {
        let bytes = std::fs::read(dir.path().join(&name)).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(token.as_str()), "{name}");
    }
    if let Some(san) =
        sigstore_js_verifies(&dir.path().join("hello-npm-1.0.0.sigstore.json"), &dir.path().join("trusted_root.json"))
    {
        assert!(san.starts_with("https://github.com/"), "{san}");
    }
}

#[test]
fn dry_run_of_a_scoped_package_keeps_statement_and_certificate_consistent() {
    let work = tempfile::tempdir().unwrap();
    let pkg = work.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    std::fs::write(
        pkg.join("package.json"),
        r#"{"name":"@octo/hello","version":"v2.0.0-rc.1","main":"index.js","files":["index.js"]}"#,
    )
    .unwrap();
    std::fs::write(pkg.join("index.js"), "module.exports = 42\n").unwrap();
    if std::process::Command::new("npm").arg("--version").output().is_err() {
        return;
    }
    let out_dir = work.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let mut env = vec![
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "octo/hello"),
        ("GITHUB_REF", "refs/tags/v2.0.0-rc.1"),
        ("GITHUB_WORKFLOW_REF", "octo/hello/.github/workflows/publish.yml@refs/tags/v2.0.0-rc.1"),
    ];
    env.push(("GITHUB_EVENT_NAME", "release"));
    let out = run_in(
        work.path(),
        &[
            "attest",
            "pkg",
            "--sigstore",
            "local",
            "-o",
            "out/provenance.json",
            "--trusted-root-out",
            "out/root.json",
            "--json",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(files_in(&out_dir), vec!["octo-hello-v2.0.0-rc.1.tgz", "provenance.json", "root.json"]);
    // npm pack names the file after the raw version; the subject uses the cleaned one.
    assert!(!files_in(work.path()).iter().any(|n| n.starts_with(".npm-attest")));
    let statement = verify_local_bundle(&out_dir.join("provenance.json"), &out_dir.join("root.json"));
    assert_eq!(statement["subject"][0]["name"], "pkg:npm/%40octo/hello@2.0.0-rc.1");
    let workflow = &statement["predicate"]["buildDefinition"]["externalParameters"]["workflow"];
    assert_eq!(workflow["repository"], "https://github.com/octo/hello");
    assert_eq!(workflow["ref"], "refs/tags/v2.0.0-rc.1");
    assert_eq!(workflow["path"], ".github/workflows/publish.yml");
    // The certificate names the same workflow (its SAN is plain ASCII inside the DER).
    let bundle: Value = serde_json::from_slice(&std::fs::read(out_dir.join("provenance.json")).unwrap()).unwrap();
    let leaf = b64_decode(bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap()).unwrap();
    let san = b"https://github.com/octo/hello/.github/workflows/publish.yml@refs/tags/v2.0.0-rc.1";
    assert!(leaf.windows(san.len()).any(|w| w == san), "the certificate is for another workflow");
    if let Some(san) = sigstore_js_verifies(&out_dir.join("provenance.json"), &out_dir.join("root.json")) {
        assert_eq!(san, "https://github.com/octo/hello/.github/workflows/publish.yml@refs/tags/v2.0.0-rc.1");
    }
}

#[test]
fn a_transient_rekor_outage_is_retried() {
    let fake = FakeSigstore::start(Fault::RekorUnavailableOnce);
    let (dir, _) = tarball_in_tempdir("tuf-js-1.0.0.tgz");
    let token = mint_jwt(&[]);
    let out = run_in(
        dir.path(),
        &["attest", "tuf-js-1.0.0.tgz", "--sigstore", fake.url()],
        &[("SIGSTORE_ID_TOKEN", token.as_str())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fake.requests_to("/api/v1/log/entries").len(), 2);
    assert!(dir.path().join("tuf-js-1.0.0.sigstore.json").exists());
}

#[test]
fn an_oversized_answer_is_refused() {
    let fake = FakeSigstore::start(Fault::FulcioHugeBody);
    let (dir, _) = tarball_in_tempdir("tuf-js-1.0.0.tgz");
    let token = mint_jwt(&[]);
    let out = run_in(
        dir.path(),
        &["attest", "tuf-js-1.0.0.tgz", "--sigstore", fake.url()],
        &[("SIGSTORE_ID_TOKEN", token.as_str())],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("Fulcio response is larger than 10 MiB"), "{}", stderr(&out));
    assert_eq!(files_in(dir.path()), vec!["tuf-js-1.0.0.tgz"]);
}

#[test]
fn conformance_signing_against_the_stand_in_verifies_with_its_trusted_root() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let standin = npm_attest::standin::Standin::start(npm_attest::standin::StandinOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
        })
        .await
        .unwrap();
        let config = dir.path().join("signing_config.json");
        std::fs::write(&config, serde_json::to_vec(&standin.signing_config()).unwrap()).unwrap();
        let root = dir.path().join("trusted_root.json");
        std::fs::write(&root, serde_json::to_vec(standin.trusted_root()).unwrap()).unwrap();
        let claims = npm_attest::standin::github_actions_claims(&|_| None, npm_attest::clock::now().unwrap());
        for (in_toto, file, out) in [
            (false, data("sigstore-conformance/a.txt"), "message.sigstore.json"),
            (true, data("sigstore-conformance/statement.json"), "statement.sigstore.json"),
        ] {
            let opts = npm_attest::sigstore::conformance::ConformanceSignOptions {
                staging: false,
                in_toto,
                identity_token: standin.mint_token(claims.clone()),
                bundle_out: dir.path().join(out),
                trusted_root: Some(root.clone()),
                signing_config: Some(config.clone()),
                file,
            };
            // With a trusted root the new entry is verified (SET, checkpoint, inclusion, body)
            // before the bundle is written.
            npm_attest::sigstore::conformance::conformance_sign_bundle(opts).await.unwrap();
        }
        standin.shutdown().await;
    });
    let message: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("message.sigstore.json")).unwrap()).unwrap();
    assert_eq!(message["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"], "hashedrekord");
    let statement: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("statement.sigstore.json")).unwrap()).unwrap();
    assert_eq!(statement["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"], "dsse");
    if let Some(san) =
        sigstore_js_verifies(&dir.path().join("statement.sigstore.json"), &dir.path().join("trusted_root.json"))
    {
        assert!(san.starts_with("https://github.com/"), "{san}");
    }
}

#[test]
fn the_trusted_root_check_catches_an_entry_from_another_log() {
    // Our fake Rekor signs with a key no stand-in trusts: with the stand-in's root given, the
    // signer refuses the entry instead of writing a bundle that will not verify.
    let fake = FakeSigstore::start(Fault::None);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let err = rt.block_on(async {
        let standin = npm_attest::standin::Standin::start(npm_attest::standin::StandinOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
        })
        .await
        .unwrap();
        let root = dir.path().join("trusted_root.json");
        std::fs::write(&root, serde_json::to_vec(standin.trusted_root()).unwrap()).unwrap();
        standin.shutdown().await;
        let config = json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [{"url": fake.url(), "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "x"}],
            "rekorTlogUrls": [{"url": fake.url(), "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "x"}],
        });
        let config_path = dir.path().join("signing_config.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let opts = npm_attest::sigstore::conformance::ConformanceSignOptions {
            staging: false,
            in_toto: false,
            identity_token: npm_attest::secret::SecretString::new(mint_jwt(&[])),
            bundle_out: dir.path().join("out.sigstore.json"),
            trusted_root: Some(root),
            signing_config: Some(config_path),
            file: data("sigstore-conformance/a.txt"),
        };
        npm_attest::sigstore::conformance::conformance_sign_bundle(opts).await.unwrap_err()
    });
    assert!(npm_attest::error::render(&err).contains("does not verify against the trusted root"), "{err:#}");
    assert!(!dir.path().join("out.sigstore.json").exists());
}

#[test]
fn attest_against_a_running_serve_sigstore_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::interop::ServeSigstore::start();
    let url = server.base_url().to_owned();
    let token = server.token();
    std::fs::copy(data("npm-provenance/tarballs/sigstore-1.0.0.tgz"), dir.path().join("sigstore-1.0.0.tgz")).unwrap();
    let out = run_in(
        dir.path(),
        &["attest", "sigstore-1.0.0.tgz", "--sigstore", &url, "--identity-token", token.trim(), "--json"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let result = json_result(&stdout(&out));
    assert_eq!(
        result["transparencyLogUrl"],
        format!("{url}/api/v1/log/entries?logIndex={}", result["logIndex"]).as_str()
    );
    assert!(result.get("trustedRoot").is_none());
    let statement = verify_local_bundle(&dir.path().join("sigstore-1.0.0.sigstore.json"), &server.trusted_root());
    assert_eq!(statement["subject"][0]["name"], "pkg:npm/sigstore@1.0.0");
    assert!(!stderr(&out).contains(token.trim()));
    assert!(!stdout(&out).contains(token.trim()));
}

#[test]
fn a_dry_run_bundle_passes_npm_attest_verify_for_that_tarball_only() {
    let (dir, _) = tarball_in_tempdir("tuf-js-1.0.0.tgz");
    std::fs::copy(data("npm-provenance/tarballs/sigstore-2.0.0.tgz"), dir.path().join("other.tgz")).unwrap();
    let env = [
        ("GITHUB_REPOSITORY", "octo/hello"),
        ("GITHUB_WORKFLOW_REF", "octo/hello/.github/workflows/publish.yml@refs/tags/v1.0.0"),
        ("GITHUB_REF", "refs/tags/v1.0.0"),
    ];
    let out = run_in(dir.path(), &["attest", "--dry-run", "tuf-js-1.0.0.tgz"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let verify = |subject: &str| {
        run_in(
            dir.path(),
            &[
                "verify",
                "--bundle",
                "tuf-js-1.0.0.sigstore.json",
                "--trusted-root",
                "trusted_root.json",
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
                "--repository",
                "octo/hello",
                "--workflow",
                ".github/workflows/publish.yml",
                "--ref",
                "refs/tags/v1.0.0",
                subject,
            ],
            &[],
        )
    };
    let ok = verify("tuf-js-1.0.0.tgz");
    assert!(ok.status.success(), "{}{}", stdout(&ok), stderr(&ok));
    let wrong = verify("other.tgz");
    assert_eq!(wrong.status.code(), Some(1), "{}{}", stdout(&wrong), stderr(&wrong));
}

#[test]
fn an_expired_token_fails_before_the_package_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let expired = mint_jwt(&[("exp", json!(1_600_000_000))]);
    let out = run_in(dir.path(), &["attest", "missing.tgz"], &[("SIGSTORE_ID_TOKEN", expired.as_str())]);
    let se = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{se}");
    assert!(se.contains("identity token from SIGSTORE_ID_TOKEN expired at 2020-09-13T12:26:40Z"), "{se}");
    assert!(!se.contains(&expired));
    let garbage = run_in(dir.path(), &["attest", "missing.tgz", "--identity-token", "not-a-jwt"], &[]);
    assert_eq!(garbage.status.code(), Some(2), "{}", stderr(&garbage));
    assert!(stderr(&garbage).contains("identity token from --identity-token is unusable"), "{}", stderr(&garbage));
}
