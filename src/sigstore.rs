//! The signing client: an ephemeral P-256 key, a Fulcio v2 certificate, a DSSE (or
//! message) signature, a Rekor v1 entry, and the v0.3 bundle that carries them
//! (npm-provenance.md §7; sigstore-protocol.md §2.1, §3, §4.1).
//!
//! Request bodies are exactly what sigstore-js sends, so any Fulcio/Rekor that serves npm
//! serves us. What this client does not do (yet): Rekor v2, RFC 3161 timestamps, and checking
//! the returned certificate chain, SCT and SET against a trusted root (the verifier does that).

use std::path::PathBuf;

use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::{EncodePublicKey as _, LineEnding};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::core::bundle::{
    Bundle, Envelope, EnvelopeSignature, HashOutput, MessageSignature, TransparencyLogEntry, VerificationMaterial,
    X509Certificate, IN_TOTO_PAYLOAD_TYPE, MEDIA_TYPE_V0_3,
};
use crate::core::crypto::pem_rfc7468_decode;
use crate::core::dsse;
use crate::core::encoding::b64_encode;
use crate::core::jwt::decode_unverified;
use crate::core::merkle;
use crate::core::rekor::{dsse_v001_request, hashedrekord_v001_request, parse_entry_response};
use crate::core::time::{UnixTime, Validity};
use crate::core::tlog::{self, SignedContent, SignerKey};
use crate::core::trust_root::{Service, SigningConfig, TransparencyLogInstance, TrustedRoot};
use crate::error::{fail, fail_with_hint, Classify as _, ExitKind};
use crate::http::{join, Http};
use crate::secret::SecretString;

pub const PUBLIC_GOOD_FULCIO: &str = "https://fulcio.sigstore.dev";
pub const PUBLIC_GOOD_REKOR: &str = "https://rekor.sigstore.dev";
pub const STAGING_FULCIO: &str = "https://fulcio.sigstage.dev";
pub const STAGING_REKOR: &str = "https://rekor.sigstage.dev";

/// The ephemeral signing key: generated per signing, held only in memory, never printed.
/// The inner `SigningKey` zeroizes its scalar on drop.
pub struct EphemeralKey {
    key: p256::ecdsa::SigningKey,
}

// The only field, the `SigningKey`, wipes its scalar on drop (checked here at compile time).
impl zeroize::ZeroizeOnDrop for EphemeralKey {}
const _: fn() = || {
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wiped_on_drop::<p256::ecdsa::SigningKey>();
};

impl std::fmt::Debug for EphemeralKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EphemeralKey(****)")
    }
}

impl EphemeralKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> anyhow::Result<Self> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        // A uniformly random 32-byte string is a valid P-256 scalar except with probability
        // about 2^-32; draw again in that case.
        for _ in 0..8 {
            getrandom::getrandom(seed.as_mut_slice())
                .map_err(|e| fail(ExitKind::Environment, format!("cannot read the system random source: {e}")))?;
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(seed.as_slice()) {
                return Ok(Self { key });
            }
        }
        Err(fail(ExitKind::Internal, "cannot generate a P-256 key"))
    }

    /// SPKI PEM text, as sigstore-js sends it to Fulcio.
    pub fn public_key_pem(&self) -> anyhow::Result<String> {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| fail(ExitKind::Internal, format!("cannot encode the public key: {e}")))
    }

    pub fn public_key_der(&self) -> anyhow::Result<Vec<u8>> {
        self.key
            .verifying_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| fail(ExitKind::Internal, format!("cannot encode the public key: {e}")))
    }

    /// ECDSA P-256 with SHA-256 over `message`, ASN.1 DER.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = self.key.sign(message);
        sig.to_der().as_bytes().to_vec()
    }
}

/// The Fulcio and Rekor v1 base URLs to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub fulcio: String,
    pub rekor: String,
}

impl Endpoints {
    pub fn public_good() -> Self {
        Self { fulcio: PUBLIC_GOOD_FULCIO.into(), rekor: PUBLIC_GOOD_REKOR.into() }
    }

    pub fn staging() -> Self {
        Self { fulcio: STAGING_FULCIO.into(), rekor: STAGING_REKOR.into() }
    }

    /// Where people can look the entry up: search.sigstore.dev for public-good, the log's
    /// own API otherwise.
    pub fn transparency_log_url(&self, log_index: i64) -> String {
        if self.rekor.trim_end_matches('/') == PUBLIC_GOOD_REKOR {
            format!("https://search.sigstore.dev/?logIndex={log_index}")
        } else {
            format!("{}?logIndex={log_index}", join(&self.rekor, "/api/v1/log/entries"))
        }
    }
}

/// The leaf certificate Fulcio issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafCertificate {
    pub pem: String,
    pub der: Vec<u8>,
}

/// `POST {fulcio}/api/v2/signingCert` with a proof of possession over the token's challenge
/// subject (npm-provenance.md §7.3); returns the leaf, checked to certify our key.
pub async fn request_certificate(
    http: &Http,
    fulcio: &str,
    token: &SecretString,
    key: &EphemeralKey,
) -> anyhow::Result<LeafCertificate> {
    let jwt = decode_unverified(token.expose()).classify(ExitKind::BadInput, "the identity token is unusable")?;
    // §7.3 step 2: the verified `email`, else `sub`.
    let subject = jwt.challenge_subject().ok_or_else(|| {
        fail(
            ExitKind::BadInput,
            "the identity token has no `sub` claim (or an unverified `email`) to prove possession over",
        )
    })?;
    // §7.3 step 3: ECDSA-P256-SHA256, DER, over the subject's UTF-8 bytes.
    let proof = key.sign(subject.as_bytes());
    let body = json!({
        "credentials": {"oidcIdentityToken": token.expose()},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": key.public_key_pem()?},
            "proofOfPossession": b64_encode(&proof),
        }
    });
    let response = http.post_json("Fulcio", &join(fulcio, "/api/v2/signingCert"), &body, &[]).await?;
    let value = response.json("Fulcio")?;
    leaf_from_chain(&value, &key.public_key_der()?)
}

/// [`leaf_from_chain`] over the raw answer bytes (for the fuzz target).
pub(crate) fn leaf_from_answer(answer: &[u8], our_spki_der: &[u8]) -> anyhow::Result<Vec<u8>> {
    let value: Value = serde_json::from_slice(answer).classify(ExitKind::Remote, "Fulcio's answer is not JSON")?;
    leaf_from_chain(&value, our_spki_der).map(|leaf| leaf.der)
}

/// The leaf of Fulcio's answer, which must certify our key.
fn leaf_from_chain(value: &Value, our_spki_der: &[u8]) -> anyhow::Result<LeafCertificate> {
    // §7.3 step 5: the embedded-SCT chain, else the detached one; leaf first.
    let chain = value
        .pointer("/signedCertificateEmbeddedSct/chain/certificates")
        .or_else(|| value.pointer("/signedCertificateDetachedSct/chain/certificates"))
        .and_then(Value::as_array)
        .ok_or_else(|| fail(ExitKind::Remote, "Fulcio answered without a certificate chain"))?;
    let pem = chain
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| fail(ExitKind::Remote, "Fulcio answered with an empty certificate chain"))?;
    let (label, der) = pem_rfc7468_decode(pem).classify(ExitKind::Remote, "Fulcio's leaf certificate is not PEM")?;
    if label != "CERTIFICATE" {
        return Err(fail(ExitKind::Remote, format!("Fulcio's leaf is a PEM {label:?}, not a CERTIFICATE")));
    }
    check_certifies_key(&der, our_spki_der)?;
    Ok(LeafCertificate { pem: normalize_pem(pem), der })
}

/// The PEM text exactly as Fulcio sent it, with a trailing newline ensured.
fn normalize_pem(pem: &str) -> String {
    let mut text = pem.trim_end().to_owned();
    text.push('\n');
    text
}

/// Refuses a certificate for some other key than ours.
fn check_certifies_key(cert_der: &[u8], our_spki_der: &[u8]) -> anyhow::Result<()> {
    use der::{Decode as _, Encode as _};
    let cert = x509_cert::Certificate::from_der(cert_der)
        .classify(ExitKind::Remote, "Fulcio's leaf certificate is not X.509")?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .classify(ExitKind::Remote, "Fulcio's leaf certificate has a malformed public key")?;
    if spki != our_spki_der {
        return Err(fail(ExitKind::Remote, "Fulcio issued a certificate for a different public key than ours"));
    }
    Ok(())
}

/// `POST {rekor}/api/v1/log/entries`; on 409 (the entry exists, e.g. after a retried request
/// whose answer was lost) fetches the existing entry. Either way the entry must carry our
/// signature and a consistent inclusion proof before it goes into a bundle.
pub async fn create_log_entry(
    http: &Http,
    rekor: &str,
    proposed: &Value,
    our_signature: &[u8],
) -> anyhow::Result<TransparencyLogEntry> {
    let url = join(rekor, "/api/v1/log/entries");
    let response = http.post_json("Rekor", &url, proposed, &[StatusCode::CONFLICT]).await?;
    let body = if response.status == StatusCode::CONFLICT {
        let uuid = conflict_uuid(response.header("location"), &response.body)
            .ok_or_else(|| fail(ExitKind::Remote, "Rekor answered 409 (entry exists) without saying which entry"))?;
        crate::report::debug(&format!("Rekor already holds entry {uuid}, fetching it"));
        http.get_json("Rekor", &join(rekor, &format!("/api/v1/log/entries/{uuid}")), None).await?.body
    } else {
        response.body
    };
    let (_uuid, entry) = parse_entry_response(&body).classify(ExitKind::Remote, "Rekor's answer is unusable")?;
    let tle = entry.to_bundle_entry().classify(ExitKind::Remote, "Rekor's answer is unusable")?;
    check_entry_is_ours(&tle, our_signature)?;
    Ok(tle)
}

/// The entry UUID from a 409: the last segment of `Location`, else the last word of the
/// error message (`... already exists in the transparency log with UUID <uuid>`). Only hex is
/// accepted, so the follow-up request cannot be steered elsewhere.
pub(crate) fn conflict_uuid(location: Option<&str>, body: &[u8]) -> Option<String> {
    let is_uuid = |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(last) = location.and_then(|l| l.trim_end_matches('/').rsplit('/').next()) {
        if is_uuid(last) {
            return Some(last.to_owned());
        }
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    let last = value.get("message")?.as_str()?.split_whitespace().last()?.trim_end_matches('.');
    is_uuid(last).then(|| last.to_owned())
}

/// The entry's canonical body must list our signature, and its inclusion proof must lead
/// from the body's leaf hash to the proof's root (RFC 6962 §2.1.1). This catches a log (or a
/// 409 lookup) answering with someone else's entry; the signed checkpoint and SET are left to
/// the verifier, which holds the log's key.
fn check_entry_is_ours(entry: &TransparencyLogEntry, our_signature: &[u8]) -> anyhow::Result<()> {
    let body: Value = serde_json::from_slice(&entry.canonicalized_body)
        .map_err(|e| fail(ExitKind::Remote, format!("Rekor's entry body is not JSON: {e}")))?;
    let ours = b64_encode(our_signature);
    let listed: Vec<&str> = match body.get("kind").and_then(Value::as_str) {
        Some("dsse") => body
            .pointer("/spec/signatures")
            .and_then(Value::as_array)
            .map(|sigs| sigs.iter().filter_map(|s| s.get("signature").and_then(Value::as_str)).collect())
            .unwrap_or_default(),
        Some("hashedrekord") => body.pointer("/spec/signature/content").and_then(Value::as_str).into_iter().collect(),
        other => {
            return Err(fail(
                ExitKind::Remote,
                format!("Rekor logged an entry of kind {other:?}, not the one we sent"),
            ));
        }
    };
    if !listed.contains(&ours.as_str()) {
        return Err(fail(ExitKind::Remote, "Rekor's entry does not carry our signature"));
    }
    let proof = entry
        .inclusion_proof
        .as_ref()
        .ok_or_else(|| fail(ExitKind::Remote, "Rekor answered without an inclusion proof"))?;
    if entry.inclusion_promise.is_none() {
        return Err(fail(ExitKind::Remote, "Rekor answered without a signed entry timestamp"));
    }
    let (Ok(index), Ok(size)) = (u64::try_from(proof.log_index), u64::try_from(proof.tree_size)) else {
        return Err(fail(ExitKind::Remote, "Rekor's inclusion proof has a negative index or size"));
    };
    merkle::verify_inclusion(
        index,
        size,
        &merkle::leaf_hash(&entry.canonicalized_body),
        &proof.hashes,
        &proof.root_hash,
    )
    .classify(ExitKind::Remote, "Rekor's inclusion proof is inconsistent")?;
    Ok(())
}

/// What to sign.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// A DSSE envelope over `payload` (npm provenance: an in-toto statement).
    Dsse { payload_type: &'a str, payload: &'a [u8] },
    /// A plain message signature (hashedrekord).
    Message { message: &'a [u8] },
}

/// The whole flow for one signature: key → certificate → signature → log entry → v0.3
/// bundle. With `trusted_logs` (the trusted root of the instance, when we have it) the entry
/// is verified in full (SET, signed checkpoint, inclusion, body) before it goes into the bundle.
pub async fn sign(
    http: &Http,
    endpoints: &Endpoints,
    token: &SecretString,
    content: Content<'_>,
    trusted_logs: Option<&[TransparencyLogInstance]>,
) -> anyhow::Result<Bundle> {
    let session =
        SigningSession::open(http.clone(), endpoints.clone(), token.clone(), trusted_logs.map(<[_]>::to_vec)).await?;
    session.sign(content).await
}

/// How long before a certificate's `notAfter` a session asks Fulcio for a new one: a
/// signature must fall inside the validity, and its log entry is integrated a little later.
const CERTIFICATE_RENEWAL_MARGIN_SECONDS: i64 = 60;

/// One ephemeral key and its Fulcio certificate, serving any number of signatures (a batch
/// of packages signs with one identity token, one key and one certificate; a new certificate
/// is requested when the current one is about to expire). Safe to share across tasks.
pub struct SigningSession {
    http: Http,
    endpoints: Endpoints,
    token: SecretString,
    key: EphemeralKey,
    cert: tokio::sync::RwLock<SessionCertificate>,
    trusted_logs: Option<Vec<TransparencyLogInstance>>,
}

struct SessionCertificate {
    leaf: LeafCertificate,
    not_after: UnixTime,
}

impl std::fmt::Debug for SigningSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningSession").field("endpoints", &self.endpoints).finish_non_exhaustive()
    }
}

impl SigningSession {
    /// Generates the ephemeral key and gets its first certificate.
    pub async fn open(
        http: Http,
        endpoints: Endpoints,
        token: SecretString,
        trusted_logs: Option<Vec<TransparencyLogInstance>>,
    ) -> anyhow::Result<Self> {
        let key = EphemeralKey::generate()?;
        let cert = Self::certify(&http, &endpoints, &token, &key).await?;
        Ok(Self { http, endpoints, token, key, cert: tokio::sync::RwLock::new(cert), trusted_logs })
    }

    async fn certify(
        http: &Http,
        endpoints: &Endpoints,
        token: &SecretString,
        key: &EphemeralKey,
    ) -> anyhow::Result<SessionCertificate> {
        let leaf = request_certificate(http, &endpoints.fulcio, token, key).await?;
        let not_after = certificate_not_after(&leaf.der)?;
        Ok(SessionCertificate { leaf, not_after })
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The current leaf, renewed first when it expires within the renewal margin.
    async fn current_leaf(&self) -> anyhow::Result<LeafCertificate> {
        let deadline = UnixTime(now()?.seconds() + CERTIFICATE_RENEWAL_MARGIN_SECONDS);
        {
            let cert = self.cert.read().await;
            if cert.not_after > deadline {
                return Ok(cert.leaf.clone());
            }
        }
        let mut cert = self.cert.write().await;
        if cert.not_after <= deadline {
            crate::report::debug("the signing certificate is about to expire; asking Fulcio for a new one");
            *cert = Self::certify(&self.http, &self.endpoints, &self.token, &self.key).await?;
        }
        // A signature made after notAfter fails every verifier (the signing time must fall in
        // the leaf's validity): refuse to sign and log it rather than report a useless bundle.
        let now = now()?;
        if cert.not_after < now {
            return Err(fail_with_hint(
                ExitKind::Remote,
                format!(
                    "Fulcio issued a certificate that expired at {}, before it could be used (now {})",
                    cert.not_after.to_rfc3339(),
                    now.to_rfc3339()
                ),
                "check this machine's clock, or the Fulcio instance",
            ));
        }
        Ok(cert.leaf.clone())
    }

    /// Signs `content`, logs it, and assembles the v0.3 bundle.
    pub async fn sign(&self, content: Content<'_>) -> anyhow::Result<Bundle> {
        let cert = self.current_leaf().await?;
        let (proposed, signature, dsse_envelope, message_signature) = match content {
            Content::Dsse { payload_type, payload } => {
                // The DSSE signature is over PAE(type, payload), never the payload alone.
                let sig = self.key.sign(&dsse::pae(payload_type, payload));
                let envelope = Envelope {
                    payload: payload.to_vec(),
                    payload_type: payload_type.to_owned(),
                    signatures: vec![EnvelopeSignature { sig: sig.clone(), keyid: String::new() }],
                };
                let proposed = dsse_v001_request(&dsse::compact_json(&envelope), &cert.pem);
                (proposed, sig, Some(envelope), None)
            }
            Content::Message { message } => {
                let digest = Sha256::digest(message);
                let sig = self.key.sign(message);
                let proposed = hashedrekord_v001_request(&digest, &sig, &cert.pem);
                let ms = MessageSignature {
                    message_digest: Some(HashOutput { algorithm: "SHA2_256".into(), digest: digest.to_vec() }),
                    signature: sig.clone(),
                };
                (proposed, sig, None, Some(ms))
            }
        };
        let entry = create_log_entry(&self.http, &self.endpoints.rekor, &proposed, &signature).await?;
        if let Some(tlogs) = &self.trusted_logs {
            let signed = match (&dsse_envelope, &message_signature) {
                (Some(envelope), _) => SignedContent::Dsse { envelope },
                (None, Some(ms)) => SignedContent::MessageSignature {
                    artifact_sha256: ms.message_digest.as_ref().map(|d| d.digest.as_slice()).unwrap_or_default(),
                    signature: &ms.signature,
                },
                (None, None) => return Err(fail(ExitKind::Internal, "nothing was signed")),
            };
            tlog::verify_entry(&entry, tlogs, signed, SignerKey::Certificate { der: &cert.der })
                .classify(ExitKind::Remote, "Rekor's entry does not verify against the trusted root")?;
        }
        Ok(Bundle {
            media_type: MEDIA_TYPE_V0_3.into(),
            verification_material: VerificationMaterial {
                public_key: None,
                x509_certificate_chain: None,
                certificate: Some(X509Certificate { raw_bytes: cert.der }),
                tlog_entries: vec![entry],
                timestamp_verification_data: None,
            },
            message_signature,
            dsse_envelope,
        })
    }
}

/// The certificate's `notAfter` as Unix seconds.
fn certificate_not_after(der: &[u8]) -> anyhow::Result<UnixTime> {
    use der::Decode as _;
    let cert =
        x509_cert::Certificate::from_der(der).classify(ExitKind::Remote, "Fulcio's leaf certificate is not X.509")?;
    let not_after = cert.tbs_certificate.validity.not_after.to_unix_duration().as_secs();
    Ok(UnixTime(i64::try_from(not_after).unwrap_or(i64::MAX)))
}

/// The bundle as written to disk: pretty JSON with a trailing newline.
pub fn bundle_json(bundle: &Bundle) -> anyhow::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(bundle)
        .map_err(|e| fail(ExitKind::Internal, format!("cannot serialize the bundle: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Picks Fulcio and Rekor from a signing config v0.2 (sigstore-protocol.md §2.3): services
/// valid at `now` with a supported API version (Fulcio v1, Rekor v1), highest version then
/// newest start first; one CA; Rekor per `rekorTlogConfig`, of which only one log is supported.
pub fn select_endpoints(config: &SigningConfig, now: UnixTime) -> anyhow::Result<Endpoints> {
    let usable = |services: &[Service], supported: &[u32]| -> Vec<Service> {
        let mut ok: Vec<(Service, UnixTime)> = services
            .iter()
            .filter(|s| supported.contains(&s.major_api_version))
            .filter_map(|s| {
                let validity = Validity::from_range(&s.valid_for).ok()?;
                validity.contains(now).then(|| (s.clone(), validity.start))
            })
            .collect();
        ok.sort_by(|(a, a_start), (b, b_start)| {
            b.major_api_version.cmp(&a.major_api_version).then(b_start.cmp(a_start))
        });
        ok.into_iter().map(|(s, _)| s).collect()
    };
    let fulcio = usable(&config.ca_urls, &[1])
        .into_iter()
        .next()
        .ok_or_else(|| fail(ExitKind::BadInput, "signing config names no Fulcio (v1 API) valid now"))?;
    let rekors = usable(&config.rekor_tlog_urls, &[1]);
    let Some(first) = rekors.first() else {
        let v2_only = config.rekor_tlog_urls.iter().any(|s| s.major_api_version == 2);
        return Err(if v2_only {
            fail_with_hint(
                ExitKind::BadInput,
                "signing config names only Rekor v2 logs, which npm-attest does not support yet",
                "add a Rekor v1 log (`majorApiVersion: 1`) to the signing config",
            )
        } else {
            fail(ExitKind::BadInput, "signing config names no Rekor (v1 API) log valid now")
        });
    };
    // One log per operator (§2.3); we write to exactly one, so ALL/EXACT asking for more fail.
    let mut operators: Vec<&str> = rekors.iter().map(|s| s.operator.as_str()).collect();
    operators.dedup();
    let required = match config.rekor_tlog_config.as_ref().map(|c| (c.selector.as_str(), c.count)) {
        Some(("ALL", _)) => operators.len(),
        Some(("EXACT", count)) => count.unwrap_or(1) as usize,
        _ => 1,
    };
    if required > 1 {
        return Err(fail(
            ExitKind::BadInput,
            format!("signing config asks for entries in {required} logs; npm-attest writes to one"),
        ));
    }
    Ok(Endpoints { fulcio: fulcio.url.clone(), rekor: first.url.clone() })
}

/// `conformance sign-bundle`'s inputs (testdata/sigstore-conformance/README.md, "The
/// conformance client protocol").
#[derive(Debug)]
pub struct ConformanceSignOptions {
    pub staging: bool,
    pub in_toto: bool,
    pub identity_token: SecretString,
    pub bundle_out: PathBuf,
    /// When given, the new log entry is verified against its `tlogs` before writing.
    pub trusted_root: Option<PathBuf>,
    pub signing_config: Option<PathBuf>,
    pub file: PathBuf,
}

/// Signs `file` (a message signature, or with `in_toto` a DSSE envelope whose payload is the
/// file's exact bytes) and writes a v0.3 bundle to `bundle_out`.
pub async fn conformance_sign_bundle(opts: ConformanceSignOptions) -> anyhow::Result<()> {
    let now = now()?;
    let endpoints = match &opts.signing_config {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| fail(ExitKind::BadInput, format!("cannot read signing config {}: {e}", path.display())))?;
            let config: SigningConfig = serde_json::from_slice(&text)
                .map_err(|e| fail(ExitKind::BadInput, format!("invalid signing config {}: {e}", path.display())))?;
            select_endpoints(&config, now)?
        }
        None if opts.staging => Endpoints::staging(),
        None => Endpoints::public_good(),
    };
    let file = std::fs::read(&opts.file)
        .map_err(|e| fail(ExitKind::BadInput, format!("cannot read {}: {e}", opts.file.display())))?;
    crate::report::mask(&opts.identity_token);
    let http = Http::new(crate::http::RetryPolicy::default())?;
    let content = if opts.in_toto {
        serde_json::from_slice::<Value>(&file).map_err(|e| {
            fail(ExitKind::BadInput, format!("{} is not an in-toto statement: {e}", opts.file.display()))
        })?;
        Content::Dsse { payload_type: IN_TOTO_PAYLOAD_TYPE, payload: &file }
    } else {
        Content::Message { message: &file }
    };
    let trusted_root = match &opts.trusted_root {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| fail(ExitKind::BadInput, format!("cannot read trusted root {}: {e}", path.display())))?;
            Some(
                serde_json::from_slice::<TrustedRoot>(&text)
                    .map_err(|e| fail(ExitKind::BadInput, format!("invalid trusted root {}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    let trusted_logs = trusted_root.as_ref().map(|r| r.tlogs.as_slice());
    let bundle = sign(&http, &endpoints, &opts.identity_token, content, trusted_logs).await?;
    crate::fsutil::write_atomic(&opts.bundle_out, &bundle_json(&bundle)?)
}

/// The current time, read at the edge.
pub fn now() -> anyhow::Result<UnixTime> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| fail(ExitKind::Environment, "the system clock is before 1970"))?;
    Ok(UnixTime(since.as_secs() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::encoding::b64_decode;
    use crate::core::time;
    use crate::core::trust_root::{ServiceConfig, TimeRange, SIGNING_CONFIG_MEDIA_TYPE_V0_2};

    #[test]
    fn the_key_never_shows_and_signs_verifiably() {
        let key = EphemeralKey::generate().unwrap();
        assert_eq!(format!("{key:?}"), "EphemeralKey(****)");
        let pem = key.public_key_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let public = crate::core::crypto::PublicKey::from_pem(&pem).unwrap();
        let sig = key.sign(b"DSSEv1 0  0 ");
        public.verify(b"DSSEv1 0  0 ", &sig).unwrap();
        assert!(public.verify(b"DSSEv1 0  0  ", &sig).is_err());
        let other = EphemeralKey::generate().unwrap();
        assert_ne!(other.public_key_der().unwrap(), key.public_key_der().unwrap());
    }

    #[test]
    fn conflict_uuid_comes_from_location_or_message_and_must_be_hex() {
        let uuid = "24296fb24b8ad77a".to_owned() + &"ab".repeat(32);
        assert_eq!(conflict_uuid(Some(&format!("/api/v1/log/entries/{uuid}")), b""), Some(uuid.clone()));
        let body = format!(
            r#"{{"code":409,"message":"an equivalent entry already exists in the transparency log with UUID {uuid}"}}"#
        );
        assert_eq!(conflict_uuid(None, body.as_bytes()), Some(uuid));
        assert_eq!(conflict_uuid(Some("https://evil.example/../x?y"), b"{}"), None);
    }

    fn service(url: &str, version: u32, start: &str, end: Option<&str>, operator: &str) -> Service {
        Service {
            url: url.into(),
            major_api_version: version,
            valid_for: TimeRange { start: Some(start.into()), end: end.map(Into::into) },
            operator: operator.into(),
        }
    }

    #[test]
    fn signing_config_selection_prefers_supported_newest_and_valid() {
        let now = time::parse_rfc3339("2026-07-01T00:00:00Z").unwrap();
        let config = SigningConfig {
            media_type: SIGNING_CONFIG_MEDIA_TYPE_V0_2.into(),
            ca_urls: vec![
                service("https://old-fulcio", 1, "2020-01-01T00:00:00Z", None, "a"),
                service("https://new-fulcio", 1, "2025-01-01T00:00:00Z", None, "a"),
                service("https://future-fulcio", 1, "2027-01-01T00:00:00Z", None, "a"),
            ],
            oidc_urls: vec![],
            rekor_tlog_urls: vec![
                service("https://rekor-v2", 2, "2026-06-12T00:00:00Z", None, "a"),
                service("https://expired-rekor", 1, "2020-01-01T00:00:00Z", Some("2021-01-01T00:00:00Z"), "a"),
                service("https://rekor", 1, "2021-01-12T00:00:00Z", None, "a"),
            ],
            tsa_urls: vec![],
            rekor_tlog_config: Some(ServiceConfig { selector: "ANY".into(), count: None }),
            tsa_config: None,
        };
        assert_eq!(
            select_endpoints(&config, now).unwrap(),
            Endpoints { fulcio: "https://new-fulcio".into(), rekor: "https://rekor".into() }
        );
        let mut v2_only = config.clone();
        v2_only.rekor_tlog_urls.truncate(1);
        let err = select_endpoints(&v2_only, now).unwrap_err();
        assert!(err.to_string().contains("Rekor v2"), "{err}");
        let mut exact_two = config;
        exact_two.rekor_tlog_config = Some(ServiceConfig { selector: "EXACT".into(), count: Some(2) });
        assert!(select_endpoints(&exact_two, now).is_err());
    }

    #[test]
    fn transparency_links() {
        assert_eq!(Endpoints::public_good().transparency_log_url(5), "https://search.sigstore.dev/?logIndex=5");
        let local = Endpoints { fulcio: "http://127.0.0.1:9".into(), rekor: "http://127.0.0.1:9/".into() };
        assert_eq!(local.transparency_log_url(0), "http://127.0.0.1:9/api/v1/log/entries?logIndex=0");
    }

    #[test]
    fn a_certificate_for_another_key_is_refused() {
        let der = crate::core::crypto::pem_rfc7468_decode(&fixture_leaf_pem()).unwrap().1;
        let key = EphemeralKey::generate().unwrap();
        let err = check_certifies_key(&der, &key.public_key_der().unwrap()).unwrap_err();
        assert!(err.to_string().contains("different public key"), "{err}");
    }

    fn fixture_leaf_pem() -> String {
        let bundle: Value = serde_json::from_str(include_str!(
            "../tests/data/npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json"
        ))
        .unwrap();
        let der = b64_decode(bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap()).unwrap();
        crate::core::crypto::pem_encode("CERTIFICATE", &der)
    }
}
