//! The signing session: one ephemeral key and its Fulcio certificate serving any number of
//! signatures (DSSE or message), each timestamped by the TSAs of the endpoints, logged in Rekor v1
//! or v2, and returned as a v0.3 bundle
//! (npm-provenance.md §7; sigstore-protocol.md §2.1, §3, §4.1).
//!
//! Request bodies are exactly what sigstore-js sends, so any Fulcio/Rekor that serves npm
//! serves us.

use sha2::{Digest as _, Sha256};

use crate::clock::now;
use crate::core::dsse;
use crate::core::time::UnixTime;
use crate::core::verify::tlog::{self, SignedContent, SignerKey};
use crate::core::wire::bundle::{
    Bundle, Envelope, EnvelopeSignature, HashOutput, MessageSignature, Rfc3161SignedTimestamp,
    TimestampVerificationData, VerificationMaterial, X509Certificate, MEDIA_TYPE_V0_3,
};
use crate::core::wire::rekor::{dsse_v001_request, hashedrekord_v001_request};
use crate::core::wire::rekor_v2::{hashedrekord_v002_body, hashedrekord_v002_request, Verifier as RekorV2Verifier};
use crate::core::wire::trust_root::{CertificateAuthority, TransparencyLogInstance};
use crate::error::{fail, fail_with_hint, Classify as _, ExitKind};
use crate::http::Http;
use crate::secret::SecretString;
use crate::sigstore::endpoints::Endpoints;
use crate::sigstore::fulcio::{request_certificate, LeafCertificate};
use crate::sigstore::key::EphemeralKey;
use crate::sigstore::rekor::create_log_entry;
use crate::sigstore::rekor_v2;
use crate::sigstore::tsa::request_timestamp;

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
    /// The trusted root's timestamp authorities, when known: every timestamp must chain to one
    /// before it goes into a bundle.
    trusted_tsas: Option<Vec<CertificateAuthority>>,
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
        if endpoints.rekor.is_none() && endpoints.tsa.is_empty() {
            return Err(fail_with_hint(
                ExitKind::BadInput,
                "an instance without a transparency log needs a timestamp authority to date each signature",
                "pass --tsa-url URL",
            ));
        }
        let key = EphemeralKey::generate()?;
        let cert = Self::certify(&http, &endpoints, &token, &key).await?;
        Ok(Self { http, endpoints, token, key, cert: tokio::sync::RwLock::new(cert), trusted_logs, trusted_tsas: None })
    }

    /// Checks every timestamp against these authorities (the trusted root's
    /// `timestampAuthorities`) before it goes into a bundle.
    pub fn with_timestamp_authorities(mut self, authorities: Vec<CertificateAuthority>) -> Self {
        self.trusted_tsas = Some(authorities);
        self
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

    /// Signs `content`, timestamps the signature with every TSA of the endpoints, logs it
    /// (Rekor v1 or v2), and assembles the v0.3 bundle.
    pub async fn sign(&self, content: Content<'_>) -> anyhow::Result<Bundle> {
        let cert = self.current_leaf().await?;
        // A Rekor v2 answer of 409 means the log holds this exact entry already (our earlier
        // request, whose answer was lost) and offers no way to fetch it: sign once more with
        // fresh randomness, which makes a new entry.
        let mut fresh = false;
        let (entry, timestamps, dsse_envelope, message_signature) = loop {
            let signed = self.signature(content, &cert, fresh);
            let timestamps = self.timestamps(&signed.signature).await?;
            // An instance without a log (GitHub's): the timestamps alone date the signature,
            // and nothing about the signer is published anywhere.
            // (`open` made sure there is a TSA.)
            let Some(rekor) = self.endpoints.rekor.as_deref() else {
                break (None, timestamps, signed.envelope, signed.message);
            };
            let entry = if self.endpoints.rekor_version == 2 {
                let request = hashedrekord_v002_request(
                    &signed.v2_digest,
                    &signed.signature,
                    RekorV2Verifier::Certificate(&cert.der),
                    P256_KEY_DETAILS,
                );
                let expected = hashedrekord_v002_body(
                    "SHA2_256",
                    &signed.v2_digest,
                    &signed.signature,
                    RekorV2Verifier::Certificate(&cert.der),
                    P256_KEY_DETAILS,
                );
                match rekor_v2::create_entry(&self.http, rekor, &request, &expected).await? {
                    rekor_v2::Written::Entry(entry) => *entry,
                    rekor_v2::Written::AlreadyExists if !fresh => {
                        crate::report::debug("Rekor v2 already holds this entry (409); signing again");
                        fresh = true;
                        continue;
                    }
                    rekor_v2::Written::AlreadyExists => {
                        return Err(fail(ExitKind::Remote, "Rekor v2 answered 409 (entry exists) to a fresh signature"))
                    }
                }
            } else {
                create_log_entry(&self.http, rekor, &signed.v1_request, &signed.signature).await?
            };
            break (Some(entry), timestamps, signed.envelope, signed.message);
        };
        if let (Some(entry), Some(tlogs)) = (&entry, &self.trusted_logs) {
            let checked = match (&dsse_envelope, &message_signature) {
                (Some(envelope), _) => SignedContent::Dsse { envelope },
                (None, Some(ms)) => SignedContent::MessageSignature {
                    hash: crate::core::crypto::HashAlgorithm::Sha256,
                    artifact_digest: ms.message_digest.as_ref().map(|d| d.digest.as_slice()).unwrap_or_default(),
                    signature: &ms.signature,
                },
                (None, None) => return Err(fail(ExitKind::Internal, "nothing was signed")),
            };
            tlog::verify_entry(entry, tlogs, checked, SignerKey::Certificate { der: &cert.der })
                .classify(ExitKind::Remote, "Rekor's entry does not verify against the trusted root")?;
        }
        Ok(Bundle {
            media_type: MEDIA_TYPE_V0_3.into(),
            verification_material: VerificationMaterial {
                public_key: None,
                x509_certificate_chain: None,
                certificate: Some(X509Certificate { raw_bytes: cert.der }),
                tlog_entries: entry.into_iter().collect(),
                timestamp_verification_data: (!timestamps.is_empty()).then(|| TimestampVerificationData {
                    rfc3161_timestamps: timestamps
                        .into_iter()
                        .map(|signed_timestamp| Rfc3161SignedTimestamp { signed_timestamp })
                        .collect(),
                }),
            },
            message_signature,
            dsse_envelope,
        })
    }

    /// One RFC 3161 timestamp over `signature` from each TSA of the endpoints.
    async fn timestamps(&self, signature: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for url in &self.endpoints.tsa {
            out.push(request_timestamp(&self.http, url, signature, self.trusted_tsas.as_deref()).await?);
        }
        Ok(out)
    }

    /// The signature over `content` and what the logs are sent.
    fn signature(&self, content: Content<'_>, cert: &LeafCertificate, fresh: bool) -> Signed {
        let sign = |message: &[u8]| if fresh { self.key.sign_fresh(message) } else { self.key.sign(message) };
        match content {
            Content::Dsse { payload_type, payload } => {
                // The DSSE signature is over PAE(type, payload), never the payload alone.
                let pae = dsse::pae(payload_type, payload);
                let sig = sign(&pae);
                let envelope = Envelope {
                    payload: payload.to_vec(),
                    payload_type: payload_type.to_owned(),
                    signatures: vec![EnvelopeSignature { sig: sig.clone(), keyid: String::new() }],
                };
                let v1_request = dsse_v001_request(&dsse::compact_json(&envelope), &cert.pem);
                // Rekor v2 logs DSSE as a hashedrekord over the hash of the PAE (rekor-v2-spec §6.1.4).
                Signed {
                    v1_request,
                    v2_digest: Sha256::digest(&pae).to_vec(),
                    signature: sig,
                    envelope: Some(envelope),
                    message: None,
                }
            }
            Content::Message { message } => {
                let digest = Sha256::digest(message);
                let sig = sign(message);
                let v1_request = hashedrekord_v001_request(&digest, &sig, &cert.pem);
                let ms = MessageSignature {
                    message_digest: Some(HashOutput { algorithm: "SHA2_256".into(), digest: digest.to_vec() }),
                    signature: sig.clone(),
                };
                Signed { v1_request, v2_digest: digest.to_vec(), signature: sig, envelope: None, message: Some(ms) }
            }
        }
    }
}

/// `keyDetails` of the ephemeral key.
const P256_KEY_DETAILS: &str = "PKIX_ECDSA_P256_SHA_256";

/// One signature and the log requests that carry it.
struct Signed {
    v1_request: serde_json::Value,
    v2_digest: Vec<u8>,
    signature: Vec<u8>,
    envelope: Option<Envelope>,
    message: Option<MessageSignature>,
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
