//! The offline verification algorithm (sigstore-protocol.md §5): bundle shape, signed times,
//! certificate path at each signed time (hybrid model), embedded SCT, identity policy,
//! transparency-log entry, times inside the leaf's validity, the signature and the in-toto
//! subject. Returns the facts it proved, or the first check that failed.
//!
//! Pure: no clock. Every time used comes from a verified source inside the bundle (an RFC 3161
//! token or a Rekor integrated time backed by a verified SET).

pub mod checkpoint;
pub mod merkle;
pub mod pki;
pub mod sct;
pub mod tlog;
pub mod tsa;
pub mod x509;

use serde_json::Value;
use sha2::Digest as _;

use crate::core::crypto::{HashAlgorithm, PublicKey};
use crate::core::dsse::pae;
use crate::core::time::{UnixTime, Validity};
use crate::core::verify::pki::{validate_path, SignatureCache, EKU_CODE_SIGNING};
use crate::core::verify::sct::{verify_embedded_scts, SctError, VerifiedSct};
use crate::core::verify::tlog::{verify_entry, SignedContent, SignerKey, TlogError, VerifiedLogEntry};
use crate::core::verify::tsa::{verify_timestamp, TsaError, VerifiedTimestamp};
use crate::core::verify::x509::{
    has_precert_signing_eku, subject_and_spki, CertificateError, LeafCertificate, San, SigstoreExtension,
};
use crate::core::wire::bundle::{
    Bundle, Envelope, TransparencyLogEntry, IN_TOTO_PAYLOAD_TYPE, MEDIA_TYPE_V0_1, MEDIA_TYPE_V0_2, MEDIA_TYPE_V0_3,
    MEDIA_TYPE_V0_3_LEGACY,
};
use crate::core::wire::trust_root::{
    CertificateAuthority, TrustedRoot, TRUSTED_ROOT_MEDIA_TYPE_V0_1, TRUSTED_ROOT_MEDIA_TYPE_V0_2,
};

/// At most this many RFC 3161 tokens per bundle (sigstore-protocol.md §5 step 1a).
pub const MAX_TIMESTAMPS: usize = 32;
/// At most this many certificates in a v0.1/v0.2 chain; only the leaf is used.
pub const MAX_CHAIN_CERTIFICATES: usize = 10;
/// At most this many subjects in an in-toto statement.
pub const MAX_SUBJECTS: usize = 1024;

pub mod policy;

pub use policy::{PredicateRule, SignerRule};

/// The in-toto statement types npm and Sigstore clients produce.
const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
const STATEMENT_V0_1: &str = "https://in-toto.io/Statement/v0.1";

// ---------------------------------------------------------------------------------------------
// Inputs: subject and policy.

/// Digests of an artifact. At least one is present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactDigests {
    pub sha256: Option<[u8; 32]>,
    /// Needed only for a message signature made with SHA-384 (a P-384 signer's registry scheme).
    pub sha384: Option<[u8; 48]>,
    pub sha512: Option<[u8; 64]>,
}

impl ArtifactDigests {
    /// Every digest of the artifact's bytes.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self {
            sha256: Some(sha2::Sha256::digest(bytes).into()),
            sha384: Some(sha2::Sha384::digest(bytes).into()),
            sha512: Some(sha2::Sha512::digest(bytes).into()),
        }
    }

    /// The digest under `hash`, when known.
    pub fn get(&self, hash: HashAlgorithm) -> Option<&[u8]> {
        match hash {
            HashAlgorithm::Sha256 => self.sha256.as_ref().map(|d| d.as_slice()),
            HashAlgorithm::Sha384 => self.sha384.as_ref().map(|d| d.as_slice()),
            HashAlgorithm::Sha512 => self.sha512.as_ref().map(|d| d.as_slice()),
        }
    }
}

/// An npm package as the publish side names it: the statement must have exactly one subject,
/// `pkg:npm/<name>@<version>` with this tarball's SHA-512 (npm-provenance.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpmPackage {
    pub name: String,
    pub version: String,
    pub sha512: [u8; 64],
}

impl NpmPackage {
    /// The package URL npm puts in the statement; a scope's `@` is written `%40`.
    pub fn purl(&self) -> String {
        let name = match self.name.strip_prefix('@') {
            Some(rest) => format!("%40{rest}"),
            None => self.name.clone(),
        };
        format!("pkg:npm/{name}@{}", self.version)
    }
}

/// What the bundle must be about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Any artifact (file bytes or a given digest): a message signature over it, or a
    /// statement that lists it among its subjects.
    Artifact(ArtifactDigests),
    /// An npm tarball: a statement whose only subject is this package and tarball.
    NpmPackage(NpmPackage),
}

/// How a certificate's SAN, or its OIDC issuer, must match.
#[derive(Debug, Clone)]
pub enum IdentityMatcher {
    Exact(String),
    /// Must match the whole value (the pattern is anchored at both ends).
    Regex(regex::Regex),
}

impl IdentityMatcher {
    /// Compiles a pattern anchored at both ends.
    pub fn regex(pattern: &str) -> Result<Self, regex::Error> {
        regex::Regex::new(&format!("^(?:{pattern})$")).map(Self::Regex)
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(want) => want == value,
            Self::Regex(re) => re.is_match(value),
        }
    }

    /// An exact matcher for the empty string matches nothing a policy could mean.
    fn is_empty(&self) -> bool {
        matches!(self, Self::Exact(want) if want.is_empty())
    }

    fn describe(&self) -> String {
        match self {
            Self::Exact(want) => want.clone(),
            Self::Regex(re) => format!("/{}/", re.as_str()),
        }
    }
}

/// Who must have signed a keyless bundle. The issuer is always required, and so is at least
/// one identity constraint: the SAN, or one of the Sigstore extension matchers.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    /// Matched with extension `.8` (or `.1` for old certificates). A leaf without either
    /// (GitHub's own release attester) has the issuer "", which only a pattern can match, as
    /// in sigstore-go and `gh release verify`.
    pub issuer: IdentityMatcher,
    pub san: Option<IdentityMatcher>,
    /// Compared exactly with Source Repository URI (`.12`), e.g. `https://github.com/owner/repo`.
    pub source_repository_uri: Option<String>,
    /// Who signed: the signer workflow (Build Signer URI `.9`, or the SAN) must be in this
    /// repository or be this workflow ([`SignerRule`]).
    pub signer: SignerRule,
    /// A workflow path, e.g. `.github/workflows/release.yml`, compared exactly with the path
    /// part of the signer workflow URI (parsed by [`policy::parse_workflow_uri`]: the path up to
    /// `.yml`/`.yaml`, then `@ref`). It narrows the policy; it never pins anything alone.
    pub workflow_path: Option<String>,
    /// Compared exactly with Source Repository Ref (`.14`), e.g. `refs/tags/v1.0.0`. Narrows only.
    pub source_ref: Option<String>,
}

impl IdentityPolicy {
    /// An issuer and nothing else: a constraint (SAN or repository) must be added.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self::with_issuer(IdentityMatcher::Exact(issuer.into()))
    }

    /// Like [`Self::new`], with an issuer given as a matcher (`--certificate-oidc-issuer-regexp`).
    pub fn with_issuer(issuer: IdentityMatcher) -> Self {
        Self {
            issuer,
            san: None,
            source_repository_uri: None,
            signer: SignerRule::Unconstrained,
            workflow_path: None,
            source_ref: None,
        }
    }

    /// `gh attestation verify --repo`'s policy: the Source Repository URI is `repository` and
    /// the signer is a workflow of that same repository.
    pub fn repository(issuer: impl Into<String>, repository: impl Into<String>) -> Self {
        let mut policy = Self::new(issuer);
        policy.source_repository_uri = Some(repository.into());
        policy.signer = SignerRule::SameRepository;
        policy
    }

    /// Only a SAN matcher or a source repository pins who signed; the workflow, ref and signer
    /// rules narrow one of those and are satisfiable by anyone's build on their own.
    fn has_identity_constraint(&self) -> bool {
        self.san.is_some() || self.source_repository_uri.is_some()
    }
}

/// The verification policy: a keyless identity, or a managed key.
#[derive(Debug, Clone)]
pub enum Policy {
    Keyless(IdentityPolicy),
    /// The signer's public key, SPKI DER. Steps 2-4 do not apply (sigstore-protocol.md §5 step 9).
    ManagedKey {
        spki_der: Vec<u8>,
    },
}

// ---------------------------------------------------------------------------------------------
// Outputs: verified facts.

/// Where a verified signing time came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeSource {
    /// A Rekor integrated time whose SET verified.
    TransparencyLog { log_index: u64 },
    /// An RFC 3161 token from this timestamp authority.
    Timestamp { authority_uri: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTime {
    pub time: UnixTime,
    pub source: TimeSource,
}

/// The identity proven by a Fulcio certificate that chained to a trusted CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    pub san: San,
    pub issuer: String,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    /// `uri` of the trusted certificate authority the leaf chained to.
    pub authority_uri: String,
    /// The CT log whose SCT verified; `None` when the trusted root lists no CT log (GitHub's
    /// instance), so no SCT was required.
    pub ct_log: Option<String>,
    /// All Sigstore extensions of the leaf.
    pub extensions: Vec<(SigstoreExtension, String)>,
}

impl CertificateIdentity {
    pub fn extension(&self, which: SigstoreExtension) -> Option<&str> {
        self.extensions.iter().find(|(k, _)| *k == which).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedSigner {
    Certificate(Box<CertificateIdentity>),
    /// A managed key; `hint` is the bundle's opaque key hint.
    ManagedKey {
        hint: String,
    },
}

/// One subject of a verified in-toto statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementSubject {
    pub name: String,
    /// (algorithm, lower-case hex), in the statement's order.
    pub digests: Vec<(String, String)>,
}

/// The signed in-toto statement of a DSSE bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedStatement {
    pub statement_type: String,
    pub predicate_type: String,
    pub subjects: Vec<StatementSubject>,
    /// The signed payload, exactly as signed.
    pub payload: Vec<u8>,
}

/// Everything that was proven about a bundle. Only [`verify_bundle`] makes one: the fields are
/// private and read through methods, so no caller can assemble "verified" facts by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    media_type: String,
    signer: VerifiedSigner,
    /// The verified transparency-log entry; `None` for a bundle that carries none and is dated
    /// by RFC 3161 timestamps alone (GitHub's Sigstore instance for private repositories). A
    /// policy that requires a transparency log refuses those at the edge (`verify
    /// --require-tlog`).
    log_entry: Option<VerifiedLogEntry>,
    /// Every verified signing time (at least one).
    signed_times: Vec<SignedTime>,
    /// Present for DSSE bundles.
    statement: Option<VerifiedStatement>,
}

impl VerifiedBundle {
    /// The bundle's media type (its version).
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// Who signed: a certificate identity or a managed key.
    pub fn signer(&self) -> &VerifiedSigner {
        &self.signer
    }

    /// The transparency-log entry whose inclusion was proven; `None` when the bundle has none
    /// (dated by RFC 3161 timestamps alone).
    pub fn log_entry(&self) -> Option<&VerifiedLogEntry> {
        self.log_entry.as_ref()
    }

    /// Every verified signing time (at least one).
    pub fn signed_times(&self) -> &[SignedTime] {
        &self.signed_times
    }

    /// The signed in-toto statement, for DSSE bundles.
    pub fn statement(&self) -> Option<&VerifiedStatement> {
        self.statement.as_ref()
    }

    /// The certificate identity, for keyless bundles.
    pub fn identity(&self) -> Option<&CertificateIdentity> {
        match &self.signer {
            VerifiedSigner::Certificate(id) => Some(id),
            VerifiedSigner::ManagedKey { .. } => None,
        }
    }

    /// The global log index, when the bundle has a log entry.
    pub fn log_index(&self) -> Option<u64> {
        self.log_entry.as_ref().map(|e| e.log_index)
    }

    /// The earliest verified signing time.
    pub fn signing_time(&self) -> Option<UnixTime> {
        self.signed_times.iter().map(|t| t.time).min()
    }
}

// ---------------------------------------------------------------------------------------------
// Errors.

/// Who is to blame for a [`VerifyError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The bundle or trusted root is malformed: bad input.
    Malformed,
    /// A cryptographic or consistency check failed.
    Failed,
    /// Everything verified, but the signer is not who the policy requires.
    Policy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// Step 0: the bundle breaks a shape rule.
    Shape { reason: String },
    /// Step 0: the bundle's media type is unknown.
    UnsupportedMediaType { media_type: String },
    /// The trusted root is malformed or of an unknown version.
    TrustedRoot { reason: String },
    /// The leaf certificate could not be parsed.
    Certificate(CertificateError),
    /// Step 1a: an RFC 3161 timestamp did not verify.
    Timestamp(TsaError),
    /// Step 1: no signed time could be established.
    NoSignedTime,
    /// Step 2: the leaf does not chain to a trusted Fulcio CA at a signed time.
    CertificatePath { at: UnixTime, reason: String },
    /// Step 3: the embedded SCT did not verify.
    Sct(SctError),
    /// Step 4: the leaf's profile is not a code-signing leaf.
    CertificateProfile { reason: String },
    /// Step 4: the policy requires something this signer does not have.
    PolicyMismatch { field: &'static str, expected: String, found: String },
    /// The policy is unusable (e.g. keyless with no identity constraint).
    PolicyInvalid { reason: String },
    /// Step 5/8: the transparency log entry did not verify.
    Tlog(TlogError),
    /// Step 6: a signed time is outside the leaf's validity.
    TimeOutsideCertificate { at: UnixTime, source: String, not_before: UnixTime, not_after: UnixTime },
    /// Step 7: the signature does not verify.
    Signature { reason: String },
    /// Step 7: the signed content is not about the given subject.
    SubjectMismatch { reason: String },
}

impl VerifyError {
    /// A failure that trust material older than the bundle explains: its transparency log or CT
    /// log (a new shard) is not listed yet, or listed as valid only until an earlier time.
    /// [`verify_bundle`] reports these only after the signature, subject and identity passed
    /// (steps 7 and 4 run first); the Fulcio chain is not among them (see
    /// [`leaf_chains_at_issuance`]).
    pub fn is_unknown_log_key(&self) -> bool {
        matches!(
            self,
            Self::Tlog(TlogError::UnknownLog { .. } | TlogError::OutsideLogValidity { .. })
                | Self::Sct(SctError::UnknownLog { .. } | SctError::LogNotValidAt { .. })
        )
    }

    pub fn blame(&self) -> Blame {
        match self {
            Self::Shape { .. }
            | Self::UnsupportedMediaType { .. }
            | Self::TrustedRoot { .. }
            | Self::Certificate(_) => Blame::Malformed,
            Self::PolicyMismatch { .. } | Self::PolicyInvalid { .. } => Blame::Policy,
            _ => Blame::Failed,
        }
    }
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Shape { reason } => write!(f, "bundle is malformed: {reason}"),
            Self::UnsupportedMediaType { media_type } => write!(f, "bundle media type {media_type:?} is not supported"),
            Self::TrustedRoot { reason } => write!(f, "trusted root is unusable: {reason}"),
            Self::Certificate(e) => write!(f, "signing certificate: {e}"),
            Self::Timestamp(e) => write!(f, "RFC 3161 timestamp does not verify: {e}"),
            Self::NoSignedTime => f.write_str(
                "no verified signing time: the bundle has neither a verified RFC 3161 timestamp nor a log entry with a verified SET",
            ),
            Self::CertificatePath { at, reason } => {
                write!(f, "certificate does not chain to a trusted Fulcio CA at {}: {reason}", at.to_rfc3339())
            }
            Self::Sct(e) => write!(f, "certificate transparency: {e}"),
            Self::CertificateProfile { reason } => write!(f, "certificate is not a Sigstore code-signing certificate: {reason}"),
            Self::PolicyMismatch { field: field @ "predicate type", expected, found } => {
                write!(f, "statement {field} is {found:?}, but the policy requires {expected}")
            }
            Self::PolicyMismatch { field, expected, found } => {
                write!(f, "certificate {field} is {found:?}, but the policy requires {expected:?}")
            }
            Self::PolicyInvalid { reason } => write!(f, "verification policy is unusable: {reason}"),
            Self::Tlog(e) => write!(f, "transparency log entry: {e}"),
            Self::TimeOutsideCertificate { at, source, not_before, not_after } => write!(
                f,
                "signing time {} ({source}) is outside the certificate's validity {} to {}",
                at.to_rfc3339(),
                not_before.to_rfc3339(),
                not_after.to_rfc3339()
            ),
            Self::Signature { reason } => write!(f, "signature does not verify: {reason}"),
            Self::SubjectMismatch { reason } => write!(f, "bundle is not about the given artifact: {reason}"),
        }
    }
}

impl std::error::Error for VerifyError {}

fn shape(reason: impl Into<String>) -> VerifyError {
    VerifyError::Shape { reason: reason.into() }
}

// ---------------------------------------------------------------------------------------------
// Step 0: the bundle shape, parsed into domain values.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    V0_1,
    V0_2,
    V0_3,
}

/// Who the bundle says signed.
#[derive(Debug, Clone)]
pub enum BundleSigner {
    Certificate(Box<LeafCertificate>),
    PublicKey { hint: String },
}

/// What was signed.
#[derive(Debug, Clone, Copy)]
pub enum BundleContent<'a> {
    MessageSignature { digest: Option<(&'a str, &'a [u8])>, signature: &'a [u8] },
    Dsse { envelope: &'a Envelope, signature: &'a [u8], keyid: &'a str },
}

impl BundleContent<'_> {
    /// The raw signature bytes (what RFC 3161 tokens cover).
    pub fn signature(&self) -> &[u8] {
        match self {
            Self::MessageSignature { signature, .. } | Self::Dsse { signature, .. } => signature,
        }
    }
}

/// A bundle that passed the shape rules of sigstore-protocol.md §5 step 0.
#[derive(Debug, Clone)]
pub struct ParsedBundle<'a> {
    pub version: BundleVersion,
    pub signer: BundleSigner,
    pub content: BundleContent<'a>,
    /// `None`: no log entry, RFC 3161 timestamps only (the bundle spec allows it from v0.2).
    pub tlog_entry: Option<&'a TransparencyLogEntry>,
    pub timestamps: Vec<&'a [u8]>,
}

const SUPPORTED_KINDS: &[(&str, &str)] =
    &[("hashedrekord", "0.0.1"), ("hashedrekord", "0.0.2"), ("dsse", "0.0.1"), ("dsse", "0.0.2"), ("intoto", "0.0.2")];

impl<'a> ParsedBundle<'a> {
    /// Applies the shape rules (step 0).
    pub fn parse(bundle: &'a Bundle) -> Result<Self, VerifyError> {
        let version = match bundle.media_type.as_str() {
            MEDIA_TYPE_V0_1 => BundleVersion::V0_1,
            MEDIA_TYPE_V0_2 => BundleVersion::V0_2,
            MEDIA_TYPE_V0_3 | MEDIA_TYPE_V0_3_LEGACY => BundleVersion::V0_3,
            other => return Err(VerifyError::UnsupportedMediaType { media_type: other.to_owned() }),
        };
        let vm = &bundle.verification_material;

        // verificationMaterial.content is a oneof: exactly one of publicKey, x509CertificateChain, certificate.
        let present = [vm.public_key.is_some(), vm.x509_certificate_chain.is_some(), vm.certificate.is_some()];
        if present.iter().filter(|p| **p).count() != 1 {
            return Err(shape(
                "verification material must hold exactly one of publicKey, x509CertificateChain, certificate",
            ));
        }
        let signer = if let Some(pk) = &vm.public_key {
            BundleSigner::PublicKey { hint: pk.hint.clone() }
        } else {
            let leaf_der = match (version, &vm.x509_certificate_chain, &vm.certificate) {
                // v0.3 carries the leaf alone.
                (BundleVersion::V0_3, _, Some(cert)) => &cert.raw_bytes,
                (BundleVersion::V0_3, _, None) => {
                    return Err(shape("a v0.3 bundle must use certificate, not x509CertificateChain"))
                }
                // v0.1/v0.2 carry a chain whose first entry is the leaf; the rest is ignored
                // (intermediates come from the trusted root only).
                (_, Some(chain), None) => {
                    if chain.certificates.len() > MAX_CHAIN_CERTIFICATES {
                        return Err(shape(format!(
                            "certificate chain has more than {MAX_CHAIN_CERTIFICATES} certificates"
                        )));
                    }
                    &chain.certificates.first().ok_or_else(|| shape("certificate chain is empty"))?.raw_bytes
                }
                _ => return Err(shape("a v0.1/v0.2 bundle must use x509CertificateChain")),
            };
            let leaf = LeafCertificate::parse(leaf_der).map_err(VerifyError::Certificate)?;
            if leaf.is_ca {
                return Err(shape("the first certificate is a CA certificate, not a signing leaf"));
            }
            BundleSigner::Certificate(Box::new(leaf))
        };

        let content = match (&bundle.message_signature, &bundle.dsse_envelope) {
            (Some(ms), None) => {
                if ms.signature.is_empty() {
                    return Err(shape("message signature is empty"));
                }
                BundleContent::MessageSignature {
                    digest: ms.message_digest.as_ref().map(|d| (d.algorithm.as_str(), d.digest.as_slice())),
                    signature: &ms.signature,
                }
            }
            (None, Some(env)) => {
                let [sig] = env.signatures.as_slice() else {
                    return Err(shape(format!(
                        "DSSE envelope must have exactly one signature, has {}",
                        env.signatures.len()
                    )));
                };
                if sig.sig.is_empty() {
                    return Err(shape("DSSE signature is empty"));
                }
                BundleContent::Dsse { envelope: env, signature: &sig.sig, keyid: &sig.keyid }
            }
            _ => return Err(shape("bundle must hold exactly one of messageSignature, dsseEnvelope")),
        };

        // At most one log entry. None is allowed when RFC 3161 timestamps date the signature
        // (checked below): the form GitHub's Sigstore instance writes for private repositories.
        let entry = match vm.tlog_entries.as_slice() {
            [] => None,
            [entry] => Some(entry),
            more => {
                return Err(shape(format!("bundle must have at most one transparency log entry, has {}", more.len())))
            }
        };
        if let Some(entry) = entry {
            if entry.log_index < 0 {
                return Err(shape(format!("log index {} is negative", entry.log_index)));
            }
            let kv = &entry.kind_version;
            if !SUPPORTED_KINDS.iter().any(|(k, v)| *k == kv.kind && *v == kv.version) {
                return Err(shape(format!("log entry kind {}/{} is not supported", kv.kind, kv.version)));
            }
            if let Some(proof) = &entry.inclusion_proof {
                if proof.log_index < 0 || proof.tree_size < 0 {
                    return Err(shape("inclusion proof has a negative index or tree size"));
                }
            }
        }

        let timestamps: Vec<&[u8]> = vm
            .timestamp_verification_data
            .iter()
            .flat_map(|t| t.rfc3161_timestamps.iter())
            .map(|t| t.signed_timestamp.as_slice())
            .collect();
        if timestamps.len() > MAX_TIMESTAMPS {
            return Err(shape(format!("more than {MAX_TIMESTAMPS} RFC 3161 timestamps")));
        }
        for (i, t) in timestamps.iter().enumerate() {
            if timestamps[..i].contains(t) {
                return Err(shape("duplicate RFC 3161 timestamp"));
            }
        }

        match (version, entry) {
            // A bundle without a log entry must be dated by a timestamp, and v0.1 (which requires
            // an inclusion promise) cannot be one.
            (BundleVersion::V0_1, None) => {
                return Err(shape("a v0.1 bundle requires a transparency log entry with an inclusion promise (SET)"))
            }
            (_, None) => {
                if timestamps.is_empty() {
                    return Err(shape("bundle has neither a transparency log entry nor an RFC 3161 timestamp"));
                }
            }
            // v0.1 requires an inclusion promise.
            (BundleVersion::V0_1, Some(entry)) => {
                if entry.inclusion_promise.is_none() {
                    return Err(shape("a v0.1 bundle requires an inclusion promise (SET)"));
                }
            }
            // v0.2+ requires an inclusion proof with a checkpoint, and, for a certificate (whose
            // validity needs a signed time), a SET or a timestamp. A managed key has no
            // validity window: its signature, the entry and the signed checkpoint bind it
            // (as sigstore-rust verifies `intoto-canonical-log-entry` upstream).
            (BundleVersion::V0_2 | BundleVersion::V0_3, Some(entry)) => {
                let proof = entry
                    .inclusion_proof
                    .as_ref()
                    .ok_or_else(|| shape("a v0.2+ bundle requires an inclusion proof"))?;
                if proof.checkpoint.envelope.is_empty() {
                    return Err(shape("inclusion proof has no checkpoint"));
                }
                let certificate = matches!(signer, BundleSigner::Certificate(_));
                if certificate && entry.inclusion_promise.is_none() && timestamps.is_empty() {
                    return Err(shape("bundle has neither an inclusion promise (SET) nor an RFC 3161 timestamp"));
                }
            }
        }

        Ok(Self { version, signer, content, tlog_entry: entry, timestamps })
    }
}

// ---------------------------------------------------------------------------------------------
// The algorithm.

/// Verifies `bundle` against `trust`, for `subject`, under `policy` (sigstore-protocol.md §5).
/// The predicate type is not checked: see [`verify_attestation`].
pub fn verify_bundle(
    bundle: &Bundle,
    trust: &TrustedRoot,
    subject: &Subject,
    policy: &Policy,
) -> Result<VerifiedBundle, VerifyError> {
    verify_attestation_with(bundle, trust, subject, policy, &PredicateRule::Any, &SignatureCache::new())
}

/// [`verify_bundle`], and the signed statement's `predicateType` must satisfy `predicate` (a
/// message signature, which carries no statement, satisfies only [`PredicateRule::Any`]).
pub fn verify_attestation(
    bundle: &Bundle,
    trust: &TrustedRoot,
    subject: &Subject,
    policy: &Policy,
    predicate: &PredicateRule,
) -> Result<VerifiedBundle, VerifyError> {
    verify_attestation_with(bundle, trust, subject, policy, predicate, &SignatureCache::new())
}

/// [`verify_attestation`] for one of many bundles: certificate signature checks that succeeded
/// for an earlier bundle in `cache` (the same intermediate by the same root, a shared leaf) are
/// not repeated.
pub fn verify_attestation_with(
    bundle: &Bundle,
    trust: &TrustedRoot,
    subject: &Subject,
    policy: &Policy,
    predicate: &PredicateRule,
    cache: &SignatureCache,
) -> Result<VerifiedBundle, VerifyError> {
    check_trusted_root(trust)?;
    check_policy(policy)?;
    // Step 0.
    let parsed = ParsedBundle::parse(bundle)?;

    // The key the signature must verify with: the leaf's, or the policy's managed key. The
    // bundle's signer kind must be the one the policy expects (step 9).
    let (key_spki, leaf) = match (&parsed.signer, policy) {
        (BundleSigner::Certificate(leaf), Policy::Keyless(_)) => (leaf.spki_der.as_slice(), Some(leaf.as_ref())),
        (BundleSigner::PublicKey { .. }, Policy::ManagedKey { spki_der }) => (spki_der.as_slice(), None),
        (BundleSigner::PublicKey { .. }, Policy::Keyless(_)) => {
            return Err(VerifyError::PolicyMismatch {
                field: "signer",
                expected: "a Fulcio certificate".into(),
                found: "a managed public key".into(),
            })
        }
        (BundleSigner::Certificate(_), Policy::ManagedKey { .. }) => {
            return Err(VerifyError::PolicyMismatch {
                field: "signer",
                expected: "the given public key".into(),
                found: "a Fulcio certificate".into(),
            })
        }
    };
    let key = PublicKey::from_spki_der(key_spki).map_err(|e| match leaf {
        Some(_) => VerifyError::Certificate(CertificateError::Unsupported { reason: e.to_string() }),
        None => VerifyError::PolicyInvalid { reason: format!("managed key: {e}") },
    })?;

    // Step 7 first: it needs no time, and "not this artifact" is the most useful answer.
    let statement = verify_signature(&parsed, &key, subject)?;
    // The predicate type is part of the policy: a statement of another kind signed by the
    // same identity is not provenance.
    if let PredicateRule::OneOf(_) = predicate {
        let found = statement.as_ref().map_or("(no statement: a message signature)", |s| s.predicate_type.as_str());
        if !predicate.allows(found) {
            return Err(VerifyError::PolicyMismatch {
                field: "predicate type",
                expected: predicate.describe(),
                found: found.to_owned(),
            });
        }
    }

    // Step 4 (identity and profile) also needs no time.
    if let (Some(leaf), Policy::Keyless(identity)) = (leaf, policy) {
        check_profile_and_identity(leaf, identity)?;
    }

    // Step 1a: RFC 3161 timestamps.
    let mut signed_times = Vec::new();
    for token in &parsed.timestamps {
        let VerifiedTimestamp { time, authority_uri } =
            verify_timestamp(token, parsed.content.signature(), &trust.timestamp_authorities)
                .map_err(VerifyError::Timestamp)?;
        signed_times.push(SignedTime { time, source: TimeSource::Timestamp { authority_uri } });
    }

    // Steps 5 and 8: the log entry (inclusion proof, checkpoint, SET, body consistency).
    let content = match parsed.content {
        BundleContent::MessageSignature { digest, signature } => {
            let (hash, artifact_digest) = message_digest(digest, &key, subject)?;
            SignedContent::MessageSignature { hash, artifact_digest, signature }
        }
        BundleContent::Dsse { envelope, .. } => SignedContent::Dsse { envelope },
    };
    let signer_key = match leaf {
        Some(leaf) => SignerKey::Certificate { der: &leaf.der },
        None => SignerKey::PublicKey { spki_der: key_spki },
    };
    let log_entry = match parsed.tlog_entry {
        Some(entry) => Some(verify_entry(entry, &trust.tlogs, content, signer_key).map_err(VerifyError::Tlog)?),
        None => None,
    };

    // Step 1b: the integrated time counts only when its SET verified.
    if let Some(entry) = &log_entry {
        if let Some(time) = entry.integrated_time {
            signed_times.push(SignedTime { time, source: TimeSource::TransparencyLog { log_index: entry.log_index } });
        }
    }
    // A certificate is only valid at a signed time (steps 2 and 6); a managed key needs none.
    if signed_times.is_empty() && leaf.is_some() {
        return Err(VerifyError::NoSignedTime);
    }

    let signer = match (leaf, &parsed.signer) {
        (Some(leaf), _) => {
            // Steps 6, 2 and 3.
            let (authority, sct) = verify_certificate(leaf, trust, &signed_times, cache)?;
            VerifiedSigner::Certificate(Box::new(CertificateIdentity {
                san: leaf
                    .san()
                    .cloned()
                    .ok_or_else(|| VerifyError::CertificateProfile { reason: "no single SAN".into() })?,
                issuer: leaf.oidc_issuer().unwrap_or_default().to_owned(),
                not_before: leaf.not_before,
                not_after: leaf.not_after,
                authority_uri: authority.uri.clone(),
                ct_log: sct.map(|sct| sct.log_base_url),
                extensions: leaf.extensions().map(|(k, v)| (k, v.to_owned())).collect(),
            }))
        }
        (None, BundleSigner::PublicKey { hint }) => VerifiedSigner::ManagedKey { hint: hint.clone() },
        (None, BundleSigner::Certificate(_)) => {
            return Err(VerifyError::PolicyInvalid { reason: "certificate bundle without a leaf".into() })
        }
    };

    Ok(VerifiedBundle { media_type: bundle.media_type.clone(), signer, log_entry, signed_times, statement })
}

/// What remains checkable when a bundle's log key is missing from a trusted root older than
/// the bundle ([`VerifyError::is_unknown_log_key`]): its leaf must still chain to a trusted
/// Fulcio CA, at the leaf's own `notBefore` since no signed time could be verified
/// (sigstore-protocol.md §5 step 2, with the issuance time standing in for the signed time).
/// A bundle from another CA (another Sigstore instance, or one made up) fails here.
pub fn leaf_chains_at_issuance(bundle: &Bundle, trust: &TrustedRoot) -> Result<(), VerifyError> {
    check_trusted_root(trust)?;
    let parsed = ParsedBundle::parse(bundle)?;
    match &parsed.signer {
        BundleSigner::Certificate(leaf) => {
            authority_at(leaf, trust, leaf.not_before, &SignatureCache::new()).map(|_| ())
        }
        BundleSigner::PublicKey { .. } => Err(VerifyError::PolicyMismatch {
            field: "signer",
            expected: "a Fulcio certificate".into(),
            found: "a managed public key".into(),
        }),
    }
}

fn check_trusted_root(trust: &TrustedRoot) -> Result<(), VerifyError> {
    match trust.media_type.as_str() {
        TRUSTED_ROOT_MEDIA_TYPE_V0_1 | TRUSTED_ROOT_MEDIA_TYPE_V0_2 => {}
        other => return Err(VerifyError::TrustedRoot { reason: format!("media type {other:?} is not supported") }),
    }
    // Every validFor present must parse and have a start (sigstore-protocol.md §2.2); a root
    // with a malformed window is refused whole rather than read leniently.
    let logs = trust.tlogs.iter().chain(&trust.ctlogs).map(|l| (&l.base_url, &l.public_key.valid_for));
    let authorities =
        trust.certificate_authorities.iter().chain(&trust.timestamp_authorities).map(|ca| (&ca.uri, &ca.valid_for));
    for (name, range) in logs.chain(authorities) {
        if let Some(range) = range {
            Validity::from_range(range)
                .map_err(|e| VerifyError::TrustedRoot { reason: format!("validFor of {name}: {e}") })?;
        }
    }
    Ok(())
}

fn check_policy(policy: &Policy) -> Result<(), VerifyError> {
    match policy {
        Policy::Keyless(identity) => {
            // Keyless verification with no identity proves only "someone with some account
            // signed this": refuse it.
            if identity.issuer.is_empty() {
                return Err(VerifyError::PolicyInvalid { reason: "no OIDC issuer given".into() });
            }
            if !identity.has_identity_constraint() {
                return Err(VerifyError::PolicyInvalid {
                    reason: "no identity pinned: give an exact or regexp identity (SAN) or a source repository; a workflow, ref or signer rule only narrows one of those".into(),
                });
            }
            Ok(())
        }
        Policy::ManagedKey { spki_der } if spki_der.is_empty() => {
            Err(VerifyError::PolicyInvalid { reason: "managed key is empty".into() })
        }
        Policy::ManagedKey { .. } => Ok(()),
    }
}

/// The digest a message signature was made over: by the bundle's `messageDigest` algorithm
/// when present, else the registry scheme of the signer's key (SHA-384 for P-384, SHA-512 for
/// P-521, SHA-256 otherwise), taken from the artifact's digests.
fn message_digest<'s>(
    bundle_digest: Option<(&str, &[u8])>,
    key: &PublicKey,
    subject: &'s Subject,
) -> Result<(HashAlgorithm, &'s [u8]), VerifyError> {
    let hash = match bundle_digest {
        Some((name, _)) => HashAlgorithm::from_registry_name(name).ok_or_else(|| VerifyError::SubjectMismatch {
            reason: format!("message digest algorithm {name} is not SHA2_256, SHA2_384 or SHA2_512"),
        })?,
        None => key.default_hash(),
    };
    match subject {
        Subject::Artifact(digests) => {
            digests.get(hash).map(|d| (hash, d)).ok_or_else(|| VerifyError::SubjectMismatch {
                reason: format!(
                    "the bundle's message signature is over the artifact's {} digest, which was not given",
                    hash.registry_name()
                ),
            })
        }
        Subject::NpmPackage(p) => Err(VerifyError::SubjectMismatch {
            reason: format!(
                "{} is an npm package, but the bundle holds a message signature, not a statement",
                p.purl()
            ),
        }),
    }
}

/// Step 7: the signature over the artifact (message signature) or over PAE (DSSE), and the
/// statement's subject.
fn verify_signature(
    parsed: &ParsedBundle<'_>,
    key: &PublicKey,
    subject: &Subject,
) -> Result<Option<VerifiedStatement>, VerifyError> {
    match parsed.content {
        BundleContent::MessageSignature { digest, signature } => {
            let (hash, artifact_digest) = message_digest(digest, key, subject)?;
            // The message digest is only a hint, but a mismatch with the artifact is rejected.
            if let Some((_, value)) = digest {
                if value != artifact_digest {
                    return Err(VerifyError::SubjectMismatch {
                        reason: format!(
                            "the bundle's message digest differs from the artifact's {}",
                            hash.display_name()
                        ),
                    });
                }
            }
            // Signature over the artifact's digest, verified as a prehash (works in digest mode too).
            key.verify_prehashed(hash, artifact_digest, signature)
                .map_err(|e| VerifyError::Signature { reason: format!("message signature: {e}") })?;
            Ok(None)
        }
        BundleContent::Dsse { envelope, signature, keyid } => {
            key.verify(&pae(&envelope.payload_type, &envelope.payload), signature)
                .map_err(|e| VerifyError::Signature { reason: format!("DSSE signature over PAE: {e}") })?;
            if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
                return Err(VerifyError::SubjectMismatch {
                    reason: format!("DSSE payload type {:?} is not an in-toto statement", envelope.payload_type),
                });
            }
            let statement = parse_statement(&envelope.payload)?;
            match subject {
                Subject::Artifact(digests) => {
                    if !statement.subjects.iter().any(|s| subject_matches(s, digests)) {
                        return Err(VerifyError::SubjectMismatch {
                            reason: "no statement subject has the artifact's digest".into(),
                        });
                    }
                }
                Subject::NpmPackage(package) => {
                    check_npm_subject(&statement, package)?;
                    // npm's rule: a keyless signature carries an empty key id.
                    if matches!(parsed.signer, BundleSigner::Certificate(_)) && !keyid.is_empty() {
                        return Err(VerifyError::PolicyMismatch {
                            field: "DSSE signature key id",
                            expected: String::new(),
                            found: keyid.to_owned(),
                        });
                    }
                }
            }
            Ok(Some(statement))
        }
    }
}

fn parse_statement(payload: &[u8]) -> Result<VerifiedStatement, VerifyError> {
    let bad = |reason: &str| VerifyError::SubjectMismatch { reason: format!("in-toto statement: {reason}") };
    // Duplicate keys are refused: other verifiers' protobuf-JSON parsers reject them, and
    // serde_json alone would keep the last one (a parser differential).
    let value: Value =
        policy::parse_strict_json(payload).map_err(|e| bad(&format!("payload is not strict JSON: {e}")))?;
    let statement_type = value.get("_type").and_then(Value::as_str).ok_or_else(|| bad("no _type"))?;
    if statement_type != STATEMENT_V1 && statement_type != STATEMENT_V0_1 {
        return Err(bad(&format!("_type {statement_type:?} is not an in-toto statement")));
    }
    let predicate_type =
        value.get("predicateType").and_then(Value::as_str).ok_or_else(|| bad("no predicateType"))?.to_owned();
    let raw_subjects = value.get("subject").and_then(Value::as_array).ok_or_else(|| bad("no subject list"))?;
    if raw_subjects.is_empty() || raw_subjects.len() > MAX_SUBJECTS {
        return Err(bad(&format!("has {} subjects", raw_subjects.len())));
    }
    let mut subjects = Vec::with_capacity(raw_subjects.len());
    for raw in raw_subjects {
        let name = raw.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let digest = raw.get("digest").and_then(Value::as_object).ok_or_else(|| bad("a subject has no digest"))?;
        let mut digests = Vec::with_capacity(digest.len());
        for (alg, hex_value) in digest {
            let hex_value = hex_value.as_str().ok_or_else(|| bad("a subject digest is not a string"))?;
            digests.push((alg.clone(), hex_value.to_ascii_lowercase()));
        }
        subjects.push(StatementSubject { name, digests });
    }
    Ok(VerifiedStatement {
        statement_type: statement_type.to_owned(),
        predicate_type,
        subjects,
        payload: payload.to_vec(),
    })
}

/// A subject matches when it shares at least one digest algorithm with the artifact and every
/// shared algorithm's digest is equal.
fn subject_matches(subject: &StatementSubject, digests: &ArtifactDigests) -> bool {
    let ours: [(&str, Option<String>); 2] =
        [("sha256", digests.sha256.map(hex::encode)), ("sha512", digests.sha512.map(hex::encode))];
    let mut shared = 0;
    for (alg, mine) in ours.iter() {
        let Some(mine) = mine else { continue };
        for (theirs_alg, theirs) in &subject.digests {
            if theirs_alg == alg {
                if theirs != mine {
                    return false;
                }
                shared += 1;
            }
        }
    }
    shared > 0
}

fn check_npm_subject(statement: &VerifiedStatement, package: &NpmPackage) -> Result<(), VerifyError> {
    let purl = package.purl();
    let [only] = statement.subjects.as_slice() else {
        return Err(VerifyError::SubjectMismatch {
            reason: format!(
                "statement has {} subjects; npm provenance names exactly one package",
                statement.subjects.len()
            ),
        });
    };
    if only.name != purl {
        return Err(VerifyError::SubjectMismatch {
            reason: format!("statement is about {:?}, not {purl:?}", only.name),
        });
    }
    let want = hex::encode(package.sha512);
    match only.digests.iter().find(|(alg, _)| alg == "sha512") {
        Some((_, got)) if *got == want => Ok(()),
        Some(_) => Err(VerifyError::SubjectMismatch {
            reason: format!("the tarball's sha512 differs from the one signed for {purl}"),
        }),
        None => Err(VerifyError::SubjectMismatch { reason: format!("statement subject {purl} has no sha512 digest") }),
    }
}

/// Step 4: the leaf's profile and the identity policy.
fn check_profile_and_identity(leaf: &LeafCertificate, policy: &IdentityPolicy) -> Result<(), VerifyError> {
    if !leaf.digital_signature {
        return Err(VerifyError::CertificateProfile { reason: "key usage lacks digitalSignature".into() });
    }
    if !leaf.code_signing {
        return Err(VerifyError::CertificateProfile { reason: "extended key usage lacks codeSigning".into() });
    }
    let san = leaf.san().ok_or_else(|| VerifyError::CertificateProfile {
        reason: format!("has {} SANs, expected exactly one", leaf.sans.len() + leaf.other_sans),
    })?;
    let found_issuer = leaf.oidc_issuer().unwrap_or_default();
    if !policy.issuer.matches(found_issuer) {
        return Err(VerifyError::PolicyMismatch {
            field: "OIDC issuer",
            expected: policy.issuer.describe(),
            found: found_issuer.into(),
        });
    }
    if let Some(matcher) = &policy.san {
        if !matcher.matches(san.value()) {
            return Err(VerifyError::PolicyMismatch {
                field: "identity (SAN)",
                expected: matcher.describe(),
                found: san.value().to_owned(),
            });
        }
    }
    if let Some(want) = &policy.source_repository_uri {
        let found = leaf.extension(SigstoreExtension::SourceRepositoryUri).unwrap_or_default();
        // GitHub and GitLab names are case-insensitive; Fulcio copies the claim's case.
        if !crate::core::npm::repository::same_repository(found, want) || found.is_empty() {
            return Err(VerifyError::PolicyMismatch {
                field: "source repository",
                expected: want.clone(),
                found: found.into(),
            });
        }
    }
    // The signer workflow: Build Signer URI, or the SAN on certificates from before `.9`.
    let signer_uri = leaf.extension(SigstoreExtension::BuildSignerUri).unwrap_or(san.value());
    policy::check_signer(
        signer_uri,
        &policy.signer,
        policy.source_repository_uri.as_deref(),
        policy.workflow_path.as_deref(),
    )
    .map_err(|m| VerifyError::PolicyMismatch {
        field: "build signer workflow",
        expected: m.expected,
        found: m.found,
    })?;
    if let Some(want) = &policy.source_ref {
        let found = leaf.extension(SigstoreExtension::SourceRepositoryRef).unwrap_or_default();
        if found != want {
            return Err(VerifyError::PolicyMismatch {
                field: "source ref",
                expected: want.clone(),
                found: found.into(),
            });
        }
    }
    Ok(())
}

/// Steps 6, 2 and 3 for a certificate signer: every signed time inside the leaf's validity;
/// at every signed time, a path to a trusted Fulcio CA that is itself valid then; and an
/// embedded SCT from a trusted CT log, when the trusted root lists any. Returns the CA and SCT
/// that verified.
fn verify_certificate<'t>(
    leaf: &LeafCertificate,
    trust: &'t TrustedRoot,
    times: &[SignedTime],
    cache: &SignatureCache,
) -> Result<(&'t CertificateAuthority, Option<VerifiedSct>), VerifyError> {
    // Step 6: every verified time t satisfies notBefore <= t <= notAfter.
    for t in times {
        if t.time < leaf.not_before || t.time > leaf.not_after {
            let source = match &t.source {
                TimeSource::TransparencyLog { log_index } => {
                    format!("log integrated time, log index {log_index}")
                }
                TimeSource::Timestamp { authority_uri } => {
                    format!("RFC 3161 timestamp from {authority_uri}")
                }
            };
            return Err(VerifyError::TimeOutsideCertificate {
                at: t.time,
                source,
                not_before: leaf.not_before,
                not_after: leaf.not_after,
            });
        }
    }
    // Step 2 (hybrid model): the path must validate at each signed time.
    let mut used = None;
    for t in times {
        used = Some(authority_at(leaf, trust, t.time, cache)?);
    }
    let authority = used.ok_or(VerifyError::NoSignedTime)?;
    // Step 3: the SCT, with the issuer key taken from the trusted chain. The trusted root says
    // which CT logs its CAs submit to; a root with none (GitHub's instance, whose Fulcio
    // logs nothing publicly) cannot require an SCT, as sigstore-go and gh waive it there.
    // A root that lists CT logs always requires one, even if the leaf carries none.
    if trust.ctlogs.is_empty() {
        return Ok((authority, None));
    }
    let issuer_spki = issuer_spki(leaf, authority)?;
    let sct = verify_embedded_scts(leaf, &issuer_spki, &trust.ctlogs).map_err(VerifyError::Sct)?;
    Ok((authority, Some(sct)))
}

/// The first trusted Fulcio CA valid at `at` (inclusive `validFor`) to which the leaf chains at `at`.
fn authority_at<'t>(
    leaf: &LeafCertificate,
    trust: &'t TrustedRoot,
    at: UnixTime,
    cache: &SignatureCache,
) -> Result<&'t CertificateAuthority, VerifyError> {
    let mut last_reason = "no certificate authority in the trusted root is valid at that time".to_owned();
    for ca in &trust.certificate_authorities {
        // An absent validFor places no bound; a present one must have a start and is
        // inclusive at both ends (sigstore-protocol.md §2.2).
        if let Some(range) = &ca.valid_for {
            let validity = Validity::from_range(range)
                .map_err(|e| VerifyError::TrustedRoot { reason: format!("certificate authority {}: {e}", ca.uri) })?;
            if !validity.contains(at) {
                continue;
            }
        }
        let chain: Vec<&[u8]> = ca.cert_chain.certificates.iter().map(|c| c.raw_bytes.as_slice()).collect();
        match validate_path(&leaf.der, &chain, at, EKU_CODE_SIGNING, cache) {
            Ok(()) => return Ok(ca),
            Err(e) => last_reason = e.to_string(),
        }
    }
    Err(VerifyError::CertificatePath { at, reason: last_reason })
}

/// The SPKI of the certificate that issued the leaf: the chain certificate whose subject is
/// the leaf's issuer; if that is a CT precertificate-signing certificate, the next one up
/// (sigstore-protocol.md §5 step 3).
fn issuer_spki(leaf: &LeafCertificate, authority: &CertificateAuthority) -> Result<Vec<u8>, VerifyError> {
    let certs = &authority.cert_chain.certificates;
    let bad = |e: CertificateError| VerifyError::TrustedRoot {
        reason: format!("certificate authority {}: {e}", authority.uri),
    };
    for (i, cert) in certs.iter().enumerate() {
        let (subject, spki) = subject_and_spki(&cert.raw_bytes).map_err(bad)?;
        if subject != leaf.issuer_name_der {
            continue;
        }
        if has_precert_signing_eku(&cert.raw_bytes).map_err(bad)? {
            let next = certs.get(i + 1).ok_or_else(|| VerifyError::TrustedRoot {
                reason: format!(
                    "certificate authority {}: precertificate signer has no issuer in the chain",
                    authority.uri
                ),
            })?;
            return Ok(subject_and_spki(&next.raw_bytes).map_err(bad)?.1);
        }
        return Ok(spki);
    }
    Err(VerifyError::CertificatePath {
        at: leaf.not_before,
        reason: format!("the leaf's issuer is not in the chain of {}", authority.uri),
    })
}

#[cfg(test)]
mod tests;
