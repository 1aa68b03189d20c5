//! The Fulcio-like certificate authority: a root and an intermediate (ECDSA P-384, like
//! public-good's `sigstore` → `sigstore-intermediate`), issuing 10-minute code-signing leaves
//! with the Sigstore profile (sigstore-protocol.md §3.2-3.3) and an embedded SCT from the
//! stand-in's CT log key over the precertificate (RFC 6962 §3.2).
//!
//! Certificates are assembled field by field with `x509-cert` so that the precertificate TBS the
//! CT key signs is byte-identical to the final TBS with the SCT extension removed: the SCT
//! extension is appended last, after the precertificate TBS has been signed.

use std::str::FromStr as _;

use const_oid::ObjectIdentifier;
use der::asn1::{BitString, Ia5String, OctetString, UtcTime, Utf8StringRef};
use der::{Decode as _, Encode as _};
use p384::ecdsa::signature::Signer as _;
use p384::pkcs8::EncodePublicKey as _;
use sha1::Digest as _;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
    SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::core::crypto::pem_encode;
use crate::core::time::UnixTime;
use crate::standin::ct::CtLog;
use crate::standin::issuer::{Principal, San};

/// `ecdsa-with-SHA384` (RFC 5758 §3.2): how both CA keys sign.
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// `id-kp-codeSigning`.
const EKU_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// The embedded SCT list extension (RFC 6962 §3.3).
pub(crate) const OID_SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// Fulcio's OtherName SAN type for username identities (sigstore-protocol.md §3.3, `.7`).
const OID_OTHERNAME_USERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");

/// Leaf lifetime, as public-good Fulcio issues them.
pub(crate) const LEAF_VALIDITY_SECONDS: i64 = 600;
/// How long before issuance an expired leaf's validity starts (with the usual
/// [`LEAF_VALIDITY_SECONDS`], it ended ten minutes before it was issued).
pub(crate) const EXPIRED_LEAF_AGE_SECONDS: i64 = 2 * LEAF_VALIDITY_SECONDS;
/// CA lifetime: long enough for any local session.
const CA_VALIDITY_SECONDS: i64 = 10 * 365 * 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum CaError {
    /// A certificate field could not be DER-encoded (an over-long name, a bad string).
    Encoding { what: &'static str, reason: String },
    /// The requested public key is not a DER SubjectPublicKeyInfo.
    BadPublicKey { reason: String },
}

impl std::fmt::Display for CaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Encoding { what, reason } => {
                write!(f, "cannot encode the certificate's {what}: {reason}")
            }
            Self::BadPublicKey { reason } => {
                write!(f, "the public key cannot be certified: {reason}")
            }
        }
    }
}

impl std::error::Error for CaError {}

pub(super) fn enc(what: &'static str) -> impl Fn(der::Error) -> CaError {
    move |e| CaError::Encoding { what, reason: e.to_string() }
}

/// The root and intermediate, and the intermediate's key that signs leaves.
pub(crate) struct CertificateAuthority {
    root_der: Vec<u8>,
    intermediate_der: Vec<u8>,
    intermediate_key: p384::ecdsa::SigningKey,
    intermediate_name: Name,
    intermediate_ski: Vec<u8>,
    intermediate_spki_der: Vec<u8>,
    not_before: UnixTime,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority").field("not_before", &self.not_before).finish_non_exhaustive()
    }
}

/// What a leaf is made of, apart from the CA's own material.
pub(crate) struct LeafRequest<'a> {
    /// The requester's SubjectPublicKeyInfo, DER.
    pub spki_der: &'a [u8],
    pub principal: &'a Principal,
    /// When the CA issues the leaf: the SCT's timestamp.
    pub now: UnixTime,
    /// The start of the leaf's validity: `now`, except when the stand-in is told to issue
    /// expired certificates.
    pub not_before: UnixTime,
    /// 20 random bytes; the top bit is cleared to keep the serial positive.
    pub serial: [u8; 20],
}

impl CertificateAuthority {
    /// Creates a self-signed root and an intermediate it certifies, both valid from `not_before`.
    pub(crate) fn new(
        root_key: &p384::ecdsa::SigningKey,
        intermediate_key: p384::ecdsa::SigningKey,
        not_before: UnixTime,
        serials: ([u8; 20], [u8; 20]),
    ) -> Result<Self, CaError> {
        let root_name = Name::from_str("CN=npm-attest-local,O=npm-attest.local").map_err(enc("root name"))?;
        let intermediate_name =
            Name::from_str("CN=npm-attest-local-intermediate,O=npm-attest.local").map_err(enc("intermediate name"))?;
        let root_spki = spki_of(root_key)?;
        let intermediate_spki = spki_of(&intermediate_key)?;
        let root_ski = key_identifier(&root_spki);
        let intermediate_ski = key_identifier(&intermediate_spki);
        let validity = validity(not_before, CA_VALIDITY_SECONDS)?;

        // Root: BasicConstraints CA (critical), KeyUsage certSign|cRLSign (critical), SKI.
        let root_extensions = vec![
            ext(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign), true)?,
            ext(&BasicConstraints { ca: true, path_len_constraint: Some(1) }, true)?,
            ext(&SubjectKeyIdentifier(octets(&root_ski)?), false)?,
        ];
        let root_tbs = tbs(serials.0, root_name.clone(), root_name.clone(), validity, root_spki, root_extensions)?;
        let root_der = sign_certificate(root_key, root_tbs)?;

        // Intermediate: like `sigstore-intermediate`, CA with pathLen 0, EKU codeSigning.
        let intermediate_extensions = vec![
            ext(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign), true)?,
            ext(&ExtendedKeyUsage(vec![EKU_CODE_SIGNING]), false)?,
            ext(&BasicConstraints { ca: true, path_len_constraint: Some(0) }, true)?,
            ext(&SubjectKeyIdentifier(octets(&intermediate_ski)?), false)?,
            ext(&authority_key_id(&root_ski)?, false)?,
        ];
        let intermediate_spki_der = intermediate_spki.to_der().map_err(enc("intermediate key"))?;
        let intermediate_tbs =
            tbs(serials.1, root_name, intermediate_name.clone(), validity, intermediate_spki, intermediate_extensions)?;
        let intermediate_der = sign_certificate(root_key, intermediate_tbs)?;

        Ok(Self {
            root_der,
            intermediate_der,
            intermediate_key,
            intermediate_name,
            intermediate_ski,
            intermediate_spki_der,
            not_before,
        })
    }

    pub(crate) fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    pub(crate) fn intermediate_der(&self) -> &[u8] {
        &self.intermediate_der
    }

    /// `[intermediate PEM, root PEM]`: what follows the leaf in a Fulcio response.
    pub(crate) fn chain_pem(&self) -> Vec<String> {
        vec![pem_encode("CERTIFICATE", &self.intermediate_der), pem_encode("CERTIFICATE", &self.root_der)]
    }

    /// Issues a leaf for `request`, with an SCT from `ct` embedded (RFC 6962 §3.2-3.3); without
    /// `ct` (GitHub's instance keeps no CT log) the leaf carries no SCT.
    pub(crate) fn issue(&self, request: &LeafRequest<'_>, ct: Option<&CtLog>) -> Result<Vec<u8>, CaError> {
        let spki = SubjectPublicKeyInfoOwned::from_der(request.spki_der)
            .map_err(|e| CaError::BadPublicKey { reason: e.to_string() })?;
        let mut extensions = leaf_extensions(request.principal, &key_identifier(&spki), &self.intermediate_ski)?;
        let mut leaf = tbs(
            request.serial,
            self.intermediate_name.clone(),
            Name::default(),
            validity(request.not_before, LEAF_VALIDITY_SECONDS)?,
            spki,
            extensions.clone(),
        )?;
        let Some(ct) = ct else {
            return sign_certificate(&self.intermediate_key, leaf);
        };

        // RFC 6962 §3.2: the precertificate's TBS is the final TBS without the SCT list. The
        // SCT extension goes last, so removing it from the final TBS yields exactly these bytes.
        let precert_tbs = leaf.to_der().map_err(enc("precertificate"))?;
        // The SCT's signed struct carries the TBS with a 24-bit length (RFC 6962 §3.2).
        if precert_tbs.len() >= 1 << 24 {
            return Err(CaError::Encoding { what: "precertificate", reason: "longer than 2^24-1 bytes".into() });
        }
        let issuer_key_hash = crate::standin::ct::issuer_key_hash(&self.intermediate_spki_der);
        let timestamp_ms = u64::try_from(request.now.seconds()).unwrap_or(0).saturating_mul(1000);
        let sct = ct.sign_precert(timestamp_ms, &issuer_key_hash, &precert_tbs);
        let list = crate::standin::ct::encode_sct_list(&[sct]);
        // extnValue wraps the DER OCTET STRING that holds the TLS-encoded list (RFC 6962 §3.3).
        let inner = OctetString::new(list).map_err(enc("SCT list"))?.to_der().map_err(enc("SCT list"))?;
        extensions.push(Extension {
            extn_id: OID_SCT_LIST,
            critical: false,
            extn_value: OctetString::new(inner).map_err(enc("SCT list"))?,
        });
        leaf.extensions = Some(extensions);
        sign_certificate(&self.intermediate_key, leaf)
    }
}

/// The leaf's extensions, in Fulcio's order: KeyUsage, EKU, SKI, AKI, SAN, then the
/// `1.3.6.1.4.1.57264.1.*` extensions in OID order (sigstore-protocol.md §3.2-3.3).
fn leaf_extensions(principal: &Principal, ski: &[u8], aki: &[u8]) -> Result<Vec<Extension>, CaError> {
    let san = match &principal.san {
        San::Uri(uri) => GeneralName::UniformResourceIdentifier(Ia5String::new(uri).map_err(enc("URI SAN"))?),
        San::Email(email) => GeneralName::Rfc822Name(Ia5String::new(email).map_err(enc("email SAN"))?),
        San::Username(name) => GeneralName::OtherName(OtherName {
            type_id: OID_OTHERNAME_USERNAME,
            value: der::Any::encode_from(&Utf8StringRef::new(name).map_err(enc("username SAN"))?)
                .map_err(enc("username SAN"))?,
        }),
    };
    let mut out = vec![
        ext(&KeyUsage(KeyUsages::DigitalSignature.into()), true)?,
        ext(&ExtendedKeyUsage(vec![EKU_CODE_SIGNING]), false)?,
        ext(&SubjectKeyIdentifier(octets(ski)?), false)?,
        ext(&authority_key_id(aki)?, false)?,
        // Exactly one SAN, marked critical because the subject is empty (RFC 5280 §4.2.1.6).
        ext(&SubjectAltName(vec![san]), true)?,
    ];
    for custom in &principal.extensions {
        let oid = ObjectIdentifier::from_str(&format!("1.3.6.1.4.1.57264.1.{}", custom.arc))
            .map_err(|e| CaError::Encoding { what: "extension OID", reason: e.to_string() })?;
        // `.1`-`.6` hold the raw bytes; `.8` onwards a DER UTF8String (sigstore-protocol.md §3.3).
        let value = if custom.arc <= 6 {
            custom.value.as_bytes().to_vec()
        } else {
            Utf8StringRef::new(&custom.value).and_then(|s| s.to_der()).map_err(enc("Sigstore extension"))?
        };
        out.push(Extension { extn_id: oid, critical: false, extn_value: octets(&value)? });
    }
    Ok(out)
}

pub(super) fn ext<T: der::Encode + const_oid::AssociatedOid>(value: &T, critical: bool) -> Result<Extension, CaError> {
    let der = value.to_der().map_err(enc("extension"))?;
    Ok(Extension { extn_id: T::OID, critical, extn_value: octets(&der)? })
}

pub(super) fn octets(bytes: &[u8]) -> Result<OctetString, CaError> {
    OctetString::new(bytes.to_vec()).map_err(enc("octet string"))
}

pub(super) fn authority_key_id(key_id: &[u8]) -> Result<AuthorityKeyIdentifier, CaError> {
    Ok(AuthorityKeyIdentifier { key_identifier: Some(octets(key_id)?), ..Default::default() })
}

/// RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's bytes.
pub(super) fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    sha1::Sha1::digest(spki.subject_public_key.raw_bytes()).to_vec()
}

pub(super) fn spki_of(key: &p384::ecdsa::SigningKey) -> Result<SubjectPublicKeyInfoOwned, CaError> {
    let der = key
        .verifying_key()
        .to_public_key_der()
        .map_err(|e| CaError::Encoding { what: "CA public key", reason: e.to_string() })?;
    SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(enc("CA public key"))
}

pub(super) fn validity(start: UnixTime, seconds: i64) -> Result<Validity, CaError> {
    let time = |t: i64| -> Result<Time, CaError> {
        let secs =
            u64::try_from(t).map_err(|_| CaError::Encoding { what: "validity", reason: "before 1970".into() })?;
        UtcTime::from_unix_duration(std::time::Duration::from_secs(secs)).map(Time::UtcTime).map_err(enc("validity"))
    };
    Ok(Validity { not_before: time(start.seconds())?, not_after: time(start.seconds() + seconds)? })
}

pub(super) fn tbs(
    serial: [u8; 20],
    issuer: Name,
    subject: Name,
    validity: Validity,
    spki: SubjectPublicKeyInfoOwned,
    extensions: Vec<Extension>,
) -> Result<TbsCertificate, CaError> {
    let mut serial = serial;
    serial[0] &= 0x7f;
    if serial[0] == 0 {
        serial[0] = 1;
    }
    Ok(TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial).map_err(enc("serial number"))?,
        signature: AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA384, parameters: None },
        issuer,
        validity,
        subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    })
}

pub(super) fn sign_certificate(key: &p384::ecdsa::SigningKey, tbs: TbsCertificate) -> Result<Vec<u8>, CaError> {
    let tbs_der = tbs.to_der().map_err(enc("TBS certificate"))?;
    let signature: p384::ecdsa::Signature = key.sign(&tbs_der);
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA384, parameters: None },
        signature: BitString::from_bytes(signature.to_der().as_bytes()).map_err(enc("signature"))?,
    };
    cert.to_der().map_err(enc("certificate"))
}
