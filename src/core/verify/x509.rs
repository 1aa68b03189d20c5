//! Fulcio leaf certificates as data: the identity (SAN), the Sigstore extensions under
//! `1.3.6.1.4.1.57264.1` (sigstore-protocol.md §3.3), key usages, validity and the embedded
//! SCT list. Parsing only; trust decisions live in `core::verify::pki`, `core::verify::sct` and `core::verify`.

use std::collections::BTreeMap;

use der::asn1::{Ia5StringRef, ObjectIdentifier, Utf8StringRef};
use der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName as SanExtension};
use x509_cert::Certificate;

use crate::core::time::UnixTime;

/// `id-ce-subjectAltName`.
const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// `id-ce-keyUsage`.
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
/// `id-ce-extKeyUsage`.
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// `id-ce-basicConstraints`.
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// `id-kp-codeSigning`.
const OID_KP_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// The embedded SCT list (RFC 6962 §3.3).
pub const OID_SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// Certificate Transparency precertificate signing EKU (RFC 6962 §3.1).
pub const OID_KP_PRECERT_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.4");
/// The OtherName SAN type for username identities (`1.3.6.1.4.1.57264.1.7`).
const OID_SIGSTORE_OTHERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
/// The arc of the Sigstore certificate extensions.
const SIGSTORE_ARC: &str = "1.3.6.1.4.1.57264.1";

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateError {
    /// The bytes are not a DER X.509 certificate.
    NotDer { reason: String },
    /// An extension's value does not decode as its type requires.
    BadExtension { oid: String, reason: String },
    /// A field is outside what a verifier can represent (e.g. a time before 1970).
    Unsupported { reason: String },
}

impl std::fmt::Display for CertificateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotDer { reason } => write!(f, "certificate is not DER X.509: {reason}"),
            Self::BadExtension { oid, reason } => {
                write!(f, "certificate extension {oid} is malformed: {reason}")
            }
            Self::Unsupported { reason } => write!(f, "certificate is not supported: {reason}"),
        }
    }
}

impl std::error::Error for CertificateError {}

/// The identity in the certificate's Subject Alternative Name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    Uri(String),
    Email(String),
    /// OtherName `1.3.6.1.4.1.57264.1.7` (a username).
    OtherName(String),
}

impl San {
    /// The identity string compared against `--certificate-identity`.
    pub fn value(&self) -> &str {
        match self {
            Self::Uri(v) | Self::Email(v) | Self::OtherName(v) => v,
        }
    }
}

/// The Sigstore extensions under `1.3.6.1.4.1.57264.1` (sigstore-protocol.md §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SigstoreExtension {
    /// `.1`, raw bytes (deprecated).
    IssuerV1,
    /// `.8`, DER UTF8String.
    Issuer,
    BuildSignerUri,
    BuildSignerDigest,
    RunnerEnvironment,
    SourceRepositoryUri,
    SourceRepositoryDigest,
    SourceRepositoryRef,
    SourceRepositoryIdentifier,
    SourceRepositoryOwnerUri,
    SourceRepositoryOwnerIdentifier,
    BuildConfigUri,
    BuildConfigDigest,
    BuildTrigger,
    RunInvocationUri,
    SourceRepositoryVisibilityAtSigning,
    DeploymentEnvironment,
    TokenSubject,
}

impl SigstoreExtension {
    pub const ALL: [Self; 18] = [
        Self::IssuerV1,
        Self::Issuer,
        Self::BuildSignerUri,
        Self::BuildSignerDigest,
        Self::RunnerEnvironment,
        Self::SourceRepositoryUri,
        Self::SourceRepositoryDigest,
        Self::SourceRepositoryRef,
        Self::SourceRepositoryIdentifier,
        Self::SourceRepositoryOwnerUri,
        Self::SourceRepositoryOwnerIdentifier,
        Self::BuildConfigUri,
        Self::BuildConfigDigest,
        Self::BuildTrigger,
        Self::RunInvocationUri,
        Self::SourceRepositoryVisibilityAtSigning,
        Self::DeploymentEnvironment,
        Self::TokenSubject,
    ];

    /// The last arc of the OID under `1.3.6.1.4.1.57264.1`.
    pub fn arc(self) -> u32 {
        match self {
            Self::IssuerV1 => 1,
            Self::Issuer => 8,
            Self::BuildSignerUri => 9,
            Self::BuildSignerDigest => 10,
            Self::RunnerEnvironment => 11,
            Self::SourceRepositoryUri => 12,
            Self::SourceRepositoryDigest => 13,
            Self::SourceRepositoryRef => 14,
            Self::SourceRepositoryIdentifier => 15,
            Self::SourceRepositoryOwnerUri => 16,
            Self::SourceRepositoryOwnerIdentifier => 17,
            Self::BuildConfigUri => 18,
            Self::BuildConfigDigest => 19,
            Self::BuildTrigger => 20,
            Self::RunInvocationUri => 21,
            Self::SourceRepositoryVisibilityAtSigning => 22,
            Self::DeploymentEnvironment => 23,
            Self::TokenSubject => 24,
        }
    }

    /// A stable lowerCamelCase name, used as the JSON key in `verify --json`.
    pub fn name(self) -> &'static str {
        match self {
            Self::IssuerV1 => "issuerV1",
            Self::Issuer => "issuer",
            Self::BuildSignerUri => "buildSignerUri",
            Self::BuildSignerDigest => "buildSignerDigest",
            Self::RunnerEnvironment => "runnerEnvironment",
            Self::SourceRepositoryUri => "sourceRepositoryUri",
            Self::SourceRepositoryDigest => "sourceRepositoryDigest",
            Self::SourceRepositoryRef => "sourceRepositoryRef",
            Self::SourceRepositoryIdentifier => "sourceRepositoryIdentifier",
            Self::SourceRepositoryOwnerUri => "sourceRepositoryOwnerUri",
            Self::SourceRepositoryOwnerIdentifier => "sourceRepositoryOwnerIdentifier",
            Self::BuildConfigUri => "buildConfigUri",
            Self::BuildConfigDigest => "buildConfigDigest",
            Self::BuildTrigger => "buildTrigger",
            Self::RunInvocationUri => "runInvocationUri",
            Self::SourceRepositoryVisibilityAtSigning => "sourceRepositoryVisibilityAtSigning",
            Self::DeploymentEnvironment => "deploymentEnvironment",
            Self::TokenSubject => "tokenSubject",
        }
    }

    fn from_arc(arc: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.arc() == arc)
    }
}

/// A parsed leaf certificate. Holding one says nothing about trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafCertificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// SubjectPublicKeyInfo, DER.
    pub spki_der: Vec<u8>,
    /// Issuer Name, DER (to pick the issuing certificate from a trusted chain).
    pub issuer_name_der: Vec<u8>,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    /// The SAN entries this verifier understands (URI, email, Sigstore OtherName).
    pub sans: Vec<San>,
    /// SAN entries of other kinds (DNS, IP, other OtherNames); a Fulcio leaf has none.
    pub other_sans: usize,
    pub is_ca: bool,
    /// KeyUsage present and has digitalSignature.
    pub digital_signature: bool,
    /// ExtendedKeyUsage present and has codeSigning.
    pub code_signing: bool,
    /// The value of the embedded SCT list extension (the TLS-encoded list, OCTET STRING unwrapped).
    pub sct_list: Option<Vec<u8>>,
    extensions: BTreeMap<SigstoreExtension, String>,
}

impl LeafCertificate {
    /// Parses a DER certificate and its extensions. Rejects malformed known extensions.
    pub fn parse(der: &[u8]) -> Result<Self, CertificateError> {
        let cert = Certificate::from_der(der).map_err(|e| CertificateError::NotDer { reason: e.to_string() })?;
        let tbs = &cert.tbs_certificate;
        let spki_der =
            tbs.subject_public_key_info.to_der().map_err(|e| CertificateError::NotDer { reason: e.to_string() })?;
        let issuer_name_der = tbs.issuer.to_der().map_err(|e| CertificateError::NotDer { reason: e.to_string() })?;
        let not_before = unix(tbs.validity.not_before)?;
        let not_after = unix(tbs.validity.not_after)?;

        let mut leaf = Self {
            der: der.to_vec(),
            spki_der,
            issuer_name_der,
            not_before,
            not_after,
            sans: Vec::new(),
            other_sans: 0,
            is_ca: false,
            digital_signature: false,
            code_signing: false,
            sct_list: None,
            extensions: BTreeMap::new(),
        };
        for ext in tbs.extensions.iter().flatten() {
            let value = ext.extn_value.as_bytes();
            let bad = |reason: String| CertificateError::BadExtension { oid: ext.extn_id.to_string(), reason };
            match ext.extn_id {
                OID_SAN => {
                    let san = SanExtension::from_der(value).map_err(|e| bad(e.to_string()))?;
                    for name in san.0 {
                        match name {
                            GeneralName::UniformResourceIdentifier(uri) => leaf.sans.push(San::Uri(uri.to_string())),
                            GeneralName::Rfc822Name(email) => leaf.sans.push(San::Email(email.to_string())),
                            GeneralName::OtherName(other) if other.type_id == OID_SIGSTORE_OTHERNAME => {
                                let text =
                                    other.value.decode_as::<Utf8StringRef<'_>>().map_err(|e| bad(e.to_string()))?;
                                leaf.sans.push(San::OtherName(text.as_str().to_owned()));
                            }
                            _ => leaf.other_sans += 1,
                        }
                    }
                }
                OID_KEY_USAGE => {
                    let ku = KeyUsage::from_der(value).map_err(|e| bad(e.to_string()))?;
                    leaf.digital_signature = ku.digital_signature();
                }
                OID_EXT_KEY_USAGE => {
                    let eku = ExtendedKeyUsage::from_der(value).map_err(|e| bad(e.to_string()))?;
                    leaf.code_signing = eku.0.contains(&OID_KP_CODE_SIGNING);
                }
                OID_BASIC_CONSTRAINTS => {
                    let bc = BasicConstraints::from_der(value).map_err(|e| bad(e.to_string()))?;
                    leaf.is_ca = bc.ca;
                }
                OID_SCT_LIST => {
                    // The extension value is an OCTET STRING wrapping the TLS-encoded list (RFC 6962 §3.3).
                    let inner = der::asn1::OctetStringRef::from_der(value).map_err(|e| bad(e.to_string()))?;
                    leaf.sct_list = Some(inner.as_bytes().to_vec());
                }
                oid => {
                    if let Some(arc) = sigstore_arc(&oid) {
                        if let Some(which) = SigstoreExtension::from_arc(arc) {
                            let text = decode_sigstore_value(arc, value).map_err(bad)?;
                            leaf.extensions.insert(which, text);
                        }
                    }
                }
            }
        }
        Ok(leaf)
    }

    /// The one identity of a Fulcio leaf: Fulcio issues exactly one SAN (sigstore-protocol.md §3.2).
    pub fn san(&self) -> Option<&San> {
        match self.sans.as_slice() {
            [one] if self.other_sans == 0 => Some(one),
            _ => None,
        }
    }

    /// A Sigstore extension's value, when present.
    pub fn extension(&self, which: SigstoreExtension) -> Option<&str> {
        self.extensions.get(&which).map(String::as_str)
    }

    /// The OIDC issuer: `.8`, falling back to the deprecated `.1` for old certificates
    /// (sigstore-protocol.md §3.3, "Issuer check").
    pub fn oidc_issuer(&self) -> Option<&str> {
        self.extension(SigstoreExtension::Issuer).or_else(|| self.extension(SigstoreExtension::IssuerV1))
    }

    /// Every Sigstore extension present, in OID order.
    pub fn extensions(&self) -> impl Iterator<Item = (SigstoreExtension, &str)> {
        self.extensions.iter().map(|(k, v)| (*k, v.as_str()))
    }
}

fn unix(t: x509_cert::time::Time) -> Result<UnixTime, CertificateError> {
    i64::try_from(t.to_unix_duration().as_secs())
        .map(UnixTime)
        .map_err(|_| CertificateError::Unsupported { reason: "validity time out of range".into() })
}

/// The last arc when `oid` is directly under `1.3.6.1.4.1.57264.1`.
fn sigstore_arc(oid: &ObjectIdentifier) -> Option<u32> {
    let text = oid.to_string();
    let rest = text.strip_prefix(SIGSTORE_ARC)?.strip_prefix('.')?;
    rest.parse().ok()
}

/// `.1`-`.6` are raw UTF-8 bytes; `.8` and later are DER UTF8String (sigstore-protocol.md §3.3).
fn decode_sigstore_value(arc: u32, value: &[u8]) -> Result<String, String> {
    if arc <= 6 {
        String::from_utf8(value.to_vec()).map_err(|_| "raw value is not UTF-8".to_owned())
    } else {
        Utf8StringRef::from_der(value)
            .map(|s| s.as_str().to_owned())
            .or_else(|_| Ia5StringRef::from_der(value).map(|s| s.as_str().to_owned()))
            .map_err(|e| format!("not a DER UTF8String: {e}"))
    }
}

/// Whether a CA certificate (DER) carries the CT precertificate-signing EKU.
pub fn has_precert_signing_eku(der: &[u8]) -> Result<bool, CertificateError> {
    let cert = Certificate::from_der(der).map_err(|e| CertificateError::NotDer { reason: e.to_string() })?;
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        if ext.extn_id == OID_EXT_KEY_USAGE {
            let eku = ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
                .map_err(|e| CertificateError::BadExtension { oid: ext.extn_id.to_string(), reason: e.to_string() })?;
            return Ok(eku.0.contains(&OID_KP_PRECERT_SIGNING));
        }
    }
    Ok(false)
}

/// A certificate's issuer Name as RFC 4514 text (`CN=...,O=...`), or `None` if it does not
/// parse. For messages only: trust decisions compare DER.
pub fn issuer_text(der: &[u8]) -> Option<String> {
    Certificate::from_der(der).ok().map(|cert| cert.tbs_certificate.issuer.to_string())
}

/// The subject Name (DER) and SubjectPublicKeyInfo (DER) of a certificate.
pub fn subject_and_spki(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), CertificateError> {
    let cert = Certificate::from_der(der).map_err(|e| CertificateError::NotDer { reason: e.to_string() })?;
    let subject =
        cert.tbs_certificate.subject.to_der().map_err(|e| CertificateError::NotDer { reason: e.to_string() })?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| CertificateError::NotDer { reason: e.to_string() })?;
    Ok((subject, spki))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::bundle::Bundle;

    fn happy_leaf() -> LeafCertificate {
        let bundle: Bundle = serde_json::from_str(include_str!(
            "../../../tests/data/sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json"
        ))
        .unwrap();
        LeafCertificate::parse(&bundle.verification_material.certificate.unwrap().raw_bytes).unwrap()
    }

    #[test]
    fn a_fulcio_leaf_yields_its_identity_and_github_extensions() {
        let leaf = happy_leaf();
        assert_eq!(
            leaf.san(),
            Some(&San::Uri(
                "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main".into()
            ))
        );
        assert_eq!(leaf.oidc_issuer(), Some("https://token.actions.githubusercontent.com"));
        assert_eq!(
            leaf.extension(SigstoreExtension::SourceRepositoryUri),
            Some("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon")
        );
        assert_eq!(leaf.extension(SigstoreExtension::SourceRepositoryRef), Some("refs/heads/main"));
        assert!(leaf.digital_signature && leaf.code_signing && !leaf.is_ca);
        assert_eq!(leaf.not_after.0 - leaf.not_before.0, 600);
        assert!(leaf.sct_list.as_ref().is_some_and(|l| l.len() > 40));
    }

    #[test]
    fn non_der_and_truncated_certificates_are_errors() {
        assert!(matches!(LeafCertificate::parse(b"not a certificate"), Err(CertificateError::NotDer { .. })));
        let leaf = happy_leaf();
        assert!(LeafCertificate::parse(&leaf.der[..leaf.der.len() - 1]).is_err());
    }

    #[test]
    fn sigstore_values_decode_raw_below_seven_and_der_from_eight() {
        assert_eq!(decode_sigstore_value(1, b"https://x").unwrap(), "https://x");
        assert_eq!(decode_sigstore_value(8, &[0x0c, 3, b'a', b'b', b'c']).unwrap(), "abc");
        assert!(decode_sigstore_value(8, b"abc").is_err());
    }
}
