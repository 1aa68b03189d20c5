//! RFC 3161 timestamp verification (sigstore-protocol.md §5 step 1a).

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, OctetString};
use der::{Decode as _, Encode as _, Reader as _, Tag, Tagged as _};
use sha2::Digest as _;
use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampResp};

use crate::core::crypto::PublicKey;
use crate::core::time::{parse_rfc3339, UnixTime, Validity};
use crate::core::verify::pki::{validate_path, PathError, EKU_TIME_STAMPING};
use crate::core::wire::trust_root::CertificateAuthority;

/// A timestamp whose token, imprint, signer and chain all checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// `genTime`, truncated to seconds.
    pub time: UnixTime,
    /// `uri` of the timestamp authority in the trusted root that vouches for it.
    pub authority_uri: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TsaError {
    /// A DER structure of the response could not be parsed.
    Malformed { structure: &'static str, reason: String },
    /// The TSA did not grant the request (PKIStatus other than granted / grantedWithMods).
    NotGranted { status: u8 },
    /// A granted response without a token.
    MissingToken,
    /// The token is not CMS `SignedData` over a `TSTInfo`.
    WrongContentType { structure: &'static str, oid: String },
    /// A hash or signature algorithm this verifier does not support.
    UnsupportedAlgorithm { purpose: &'static str, oid: String },
    /// The message imprint is not the hash of the bundle's signature.
    ImprintMismatch,
    /// The token must have exactly one signer.
    SignerCount { count: usize },
    /// The signer info lacks signed attributes, or they lack content-type / message-digest.
    MissingSignedAttribute { attribute: &'static str },
    /// A signed attribute disagrees with the token content.
    SignedAttributeMismatch { attribute: &'static str },
    /// Neither the token nor any trusted authority holds the signer's certificate.
    SignerCertificateNotFound,
    /// The CMS signature over the signed attributes does not verify with the TSA certificate.
    BadSignature { reason: String },
    /// The TSA certificate does not chain to any trusted timestamp authority at `genTime`.
    UntrustedAuthority { reason: String },
    /// `genTime` is outside the trusted authority's `validFor`.
    OutsideAuthorityValidity { authority_uri: String, gen_time: i64 },
    /// The authority's `validFor` is malformed.
    BadAuthorityValidity { authority_uri: String, reason: String },
    /// The trusted root has no timestamp authorities.
    NoAuthorities,
}

impl std::fmt::Display for TsaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed { structure, reason } => write!(f, "timestamp {structure} is malformed: {reason}"),
            Self::NotGranted { status } => write!(f, "timestamp response status is {status}, not granted"),
            Self::MissingToken => f.write_str("timestamp response carries no token"),
            Self::WrongContentType { structure, oid } => {
                write!(f, "timestamp {structure} has content type {oid}, not the RFC 3161 one")
            }
            Self::UnsupportedAlgorithm { purpose, oid } => {
                write!(f, "timestamp uses unsupported {purpose} algorithm {oid}")
            }
            Self::ImprintMismatch => f.write_str("timestamp message imprint is not the hash of the bundle signature"),
            Self::SignerCount { count } => write!(f, "timestamp token has {count} signers, expected exactly one"),
            Self::MissingSignedAttribute { attribute } => {
                write!(f, "timestamp signer info lacks the signed attribute {attribute}")
            }
            Self::SignedAttributeMismatch { attribute } => {
                write!(f, "timestamp signed attribute {attribute} does not match the token content")
            }
            Self::SignerCertificateNotFound => f.write_str(
                "timestamp signer certificate is neither embedded in the token nor in a trusted timestamp authority",
            ),
            Self::BadSignature { reason } => write!(f, "timestamp signature does not verify: {reason}"),
            Self::UntrustedAuthority { reason } => {
                write!(f, "timestamp is not signed by a trusted timestamp authority: {reason}")
            }
            Self::OutsideAuthorityValidity { authority_uri, gen_time } => write!(
                f,
                "timestamp time {} is outside the validity of the timestamp authority {authority_uri}",
                UnixTime(*gen_time).to_rfc3339()
            ),
            Self::BadAuthorityValidity { authority_uri, reason } => {
                write!(f, "trusted root validity of timestamp authority {authority_uri} is invalid: {reason}")
            }
            Self::NoAuthorities => f.write_str("trusted root has no timestamp authorities"),
        }
    }
}

impl std::error::Error for TsaError {}

/// `id-signedData` (RFC 5652 §5.1).
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// `id-ct-TSTInfo` (RFC 3161 §2.4.2).
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// `id-contentType` and `id-messageDigest` signed attributes (RFC 5652 §11.1, §11.2).
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// `id-ce-subjectKeyIdentifier`.
const ID_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    fn from_digest_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match oid.to_string().as_str() {
            "2.16.840.1.101.3.4.2.1" => Some(Self::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(Self::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// The signature scheme of a signer info: how its signature over the signed attributes is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignatureScheme {
    /// ECDSA over the given hash (checked as a prehash, whatever the curve).
    Ecdsa(HashAlg),
    /// RSA PKCS#1 v1.5 with SHA-256.
    RsaSha256,
    Ed25519,
}

impl SignatureScheme {
    /// From `signatureAlgorithm`, falling back to `digestAlgorithm` for the bare key OIDs some
    /// TSAs write (`ecPublicKey`, `rsaEncryption`).
    fn from_oids(signature: &ObjectIdentifier, digest: HashAlg) -> Option<Self> {
        match signature.to_string().as_str() {
            "1.2.840.10045.4.3.2" => Some(Self::Ecdsa(HashAlg::Sha256)),
            "1.2.840.10045.4.3.3" => Some(Self::Ecdsa(HashAlg::Sha384)),
            "1.2.840.10045.4.3.4" => Some(Self::Ecdsa(HashAlg::Sha512)),
            "1.2.840.10045.2.1" => Some(Self::Ecdsa(digest)),
            "1.2.840.113549.1.1.11" => Some(Self::RsaSha256),
            "1.2.840.113549.1.1.1" if digest == HashAlg::Sha256 => Some(Self::RsaSha256),
            "1.3.101.112" => Some(Self::Ed25519),
            _ => None,
        }
    }
}

/// The parts of a timestamp token that the checks below need.
struct Token {
    gen_time: UnixTime,
    signer: SignerInfo,
    /// Resolved up front, reported only once a trusted certificate is found, so that an
    /// untrusted TSA is reported as such rather than by its algorithm.
    scheme: Result<SignatureScheme, TsaError>,
    /// The DER `SET OF Attribute` the signature covers (RFC 5652 §5.4: the signed attributes
    /// re-tagged as a SET), taken from the token bytes as sent.
    signed_attributes: Vec<u8>,
    embedded: Vec<Certificate>,
}

fn malformed(structure: &'static str) -> impl Fn(der::Error) -> TsaError {
    move |e| TsaError::Malformed { structure, reason: e.to_string() }
}

/// Verifies one DER `TimeStampResp` (`signed_timestamp`) over `signature` (the bundle's
/// signature bytes: the message signature or the DSSE signature) against the trusted
/// timestamp authorities.
///
/// Steps (sigstore-protocol.md §5 step 1a; RFC 3161 §2.4.2; RFC 5652 §5.4, §5.6):
/// 1. the response status is granted and a token is present;
/// 2. the token is CMS `SignedData` encapsulating a `TSTInfo`;
/// 3. the message imprint is the hash (by its own, supported, algorithm) of `signature`;
/// 4. exactly one signer info, whose signed attributes carry content type `id-ct-TSTInfo` and
///    the message digest of the encapsulated `TSTInfo`;
/// 5. for some trusted authority: the signer certificate (embedded, or from the authority's
///    chain, matched by issuer and serial or key identifier) chains to the authority's anchor
///    at `genTime` with EKU timeStamping, the CMS signature over the signed attributes verifies
///    with it, and `genTime` is inside the authority's `validFor` (inclusive).
pub fn verify_timestamp(
    signed_timestamp: &[u8],
    signature: &[u8],
    authorities: &[CertificateAuthority],
) -> Result<VerifiedTimestamp, TsaError> {
    let token = parse_token(signed_timestamp, signature)?;
    if authorities.is_empty() {
        return Err(TsaError::NoAuthorities);
    }
    let embedded_leaf = token.embedded.iter().find(|c| identifies(&token.signer.sid, c));
    // Keep the error of the authority that got furthest: that is the informative one.
    let mut best: Option<(u8, TsaError)> = None;
    for authority in authorities {
        match verify_with_authority(&token, embedded_leaf, authority) {
            Ok(verified) => return Ok(verified),
            Err((stage, err)) => {
                if best.as_ref().is_none_or(|(s, _)| stage > *s) {
                    best = Some((stage, err));
                }
            }
        }
    }
    Err(best.map(|(_, e)| e).unwrap_or(TsaError::SignerCertificateNotFound))
}

/// Steps 1-4: everything that does not depend on the trusted authorities.
fn parse_token(signed_timestamp: &[u8], signature: &[u8]) -> Result<Token, TsaError> {
    // Step 1: PKIStatus granted (0) or grantedWithMods (1).
    let response = TimeStampResp::from_der(signed_timestamp).map_err(malformed("response"))?;
    let status_der = response.status.status.to_der().map_err(malformed("response status"))?;
    let status = u8::from_der(&status_der).map_err(malformed("response status"))?;
    if status > 1 {
        return Err(TsaError::NotGranted { status });
    }
    let content_info: ContentInfo = response.time_stamp_token.ok_or(TsaError::MissingToken)?;

    // Step 2: SignedData over a TSTInfo.
    if content_info.content_type != ID_SIGNED_DATA {
        return Err(TsaError::WrongContentType { structure: "token", oid: content_info.content_type.to_string() });
    }
    let signed_data_der = content_info.content.to_der().map_err(malformed("signed data"))?;
    let signed_data = SignedData::from_der(&signed_data_der).map_err(malformed("signed data"))?;
    let encap = &signed_data.encap_content_info;
    if encap.econtent_type != ID_CT_TST_INFO {
        return Err(TsaError::WrongContentType { structure: "signed data", oid: encap.econtent_type.to_string() });
    }
    let econtent = encap
        .econtent
        .as_ref()
        .ok_or_else(|| TsaError::Malformed { structure: "signed data", reason: "no encapsulated TSTInfo".into() })?;
    if econtent.tag() != Tag::OctetString {
        return Err(TsaError::Malformed { structure: "signed data", reason: "eContent is not an OCTET STRING".into() });
    }
    let tst_info_der = econtent.value();
    let (imprint, gen_time) = parse_tst_info(tst_info_der)?;

    // Step 3: the imprint is the hash of the bundle's signature bytes.
    let imprint_alg = HashAlg::from_digest_oid(&imprint.hash_algorithm.oid).ok_or_else(|| {
        TsaError::UnsupportedAlgorithm { purpose: "message imprint hash", oid: imprint.hash_algorithm.oid.to_string() }
    })?;
    if imprint.hashed_message.as_bytes() != imprint_alg.digest(signature).as_slice() {
        return Err(TsaError::ImprintMismatch);
    }

    // Step 4: one signer, content type and message digest signed.
    let signers = signed_data.signer_infos.0.as_slice();
    let [signer] = signers else {
        return Err(TsaError::SignerCount { count: signers.len() });
    };
    let digest_alg = HashAlg::from_digest_oid(&signer.digest_alg.oid).ok_or_else(|| {
        TsaError::UnsupportedAlgorithm { purpose: "signer digest", oid: signer.digest_alg.oid.to_string() }
    })?;
    let scheme = SignatureScheme::from_oids(&signer.signature_algorithm.oid, digest_alg).ok_or_else(|| {
        TsaError::UnsupportedAlgorithm { purpose: "signature", oid: signer.signature_algorithm.oid.to_string() }
    });
    let attributes =
        signer.signed_attrs.as_ref().ok_or(TsaError::MissingSignedAttribute { attribute: "signedAttrs" })?;
    let content_type = single_attribute(attributes, &ID_CONTENT_TYPE, "content-type")?;
    let content_type = ObjectIdentifier::from_der(&content_type).map_err(malformed("content-type attribute"))?;
    if content_type != ID_CT_TST_INFO {
        return Err(TsaError::SignedAttributeMismatch { attribute: "content-type" });
    }
    let message_digest = single_attribute(attributes, &ID_MESSAGE_DIGEST, "message-digest")?;
    let message_digest = OctetString::from_der(&message_digest).map_err(malformed("message-digest attribute"))?;
    if message_digest.as_bytes() != digest_alg.digest(tst_info_der).as_slice() {
        return Err(TsaError::SignedAttributeMismatch { attribute: "message-digest" });
    }
    let signed_attributes = raw_signed_attributes(&signed_data_der)?;

    let embedded = signed_data
        .certificates
        .as_ref()
        .map(|set| {
            set.0
                .iter()
                .filter_map(|c| match c {
                    CertificateChoices::Certificate(cert) => Some(cert.clone()),
                    CertificateChoices::Other(_) => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Token { gen_time, signer: signer.clone(), scheme, signed_attributes, embedded })
}

/// Reads `version`, `messageImprint` and `genTime` from a `TSTInfo` (RFC 3161 §2.4.2).
///
/// Walked field by field rather than decoded with `x509_tsp::TstInfo`, whose `GeneralizedTime`
/// refuses the fractional seconds RFC 3161 allows in `genTime` (`YYYYMMDDhhmmss[.s...]Z`);
/// the fraction is dropped (times are whole seconds). The optional trailing fields (accuracy,
/// ordering, nonce, tsa, extensions) must be well-formed DER but are not interpreted.
fn parse_tst_info(der: &[u8]) -> Result<(MessageImprint, UnixTime), TsaError> {
    let walk = malformed("TSTInfo");
    let bad = |reason: &str| TsaError::Malformed { structure: "TSTInfo", reason: reason.to_owned() };
    let outer = AnyRef::from_der(der).map_err(&walk)?;
    if outer.tag() != Tag::Sequence {
        return Err(bad("not a SEQUENCE"));
    }
    let mut reader = der::SliceReader::new(outer.value()).map_err(&walk)?;
    let mut field = |tag: Tag, name: &str| -> Result<AnyRef<'_>, TsaError> {
        let any = AnyRef::decode(&mut reader).map_err(&walk)?;
        if any.tag() == tag {
            Ok(any)
        } else {
            Err(bad(&format!("{name} has tag {}", any.tag())))
        }
    };
    if field(Tag::Integer, "version")?.value() != [1] {
        return Err(bad("version is not 1"));
    }
    field(Tag::ObjectIdentifier, "policy")?;
    let imprint = field(Tag::Sequence, "messageImprint")?;
    let imprint = imprint.to_der().and_then(|d| MessageImprint::from_der(&d)).map_err(&walk)?;
    field(Tag::Integer, "serialNumber")?;
    let gen_time = field(Tag::GeneralizedTime, "genTime")?;
    let gen_time = parse_generalized_time(gen_time.value()).ok_or_else(|| bad("genTime is not a UTC time"))?;
    while !reader.is_finished() {
        AnyRef::decode(&mut reader).map_err(&walk)?;
    }
    Ok((imprint, gen_time))
}

/// `YYYYMMDDhhmmss[.f...]Z` to Unix seconds, the fraction truncated.
fn parse_generalized_time(text: &[u8]) -> Option<UnixTime> {
    let text = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| whole.get(range)?.parse::<u16>().ok();
    let month = time::Month::try_from(u8::try_from(number(4..6)?).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::from(number(0..4)?), month, u8::try_from(number(6..8)?).ok()?).ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(number(8..10)?).ok()?,
        u8::try_from(number(10..12)?).ok()?,
        u8::try_from(number(12..14)?).ok()?,
    )
    .ok()?;
    Some(UnixTime(time::PrimitiveDateTime::new(date, clock).assume_utc().unix_timestamp()))
}

/// The DER of the one value of the attribute `oid`, which must occur exactly once.
fn single_attribute(
    attributes: &x509_cert::attr::Attributes,
    oid: &ObjectIdentifier,
    attribute: &'static str,
) -> Result<Vec<u8>, TsaError> {
    let mut matching = attributes.iter().filter(|a| a.oid == *oid);
    let (Some(found), None) = (matching.next(), matching.next()) else {
        return Err(TsaError::MissingSignedAttribute { attribute });
    };
    let values = found.values.as_slice();
    let [value] = values else {
        return Err(TsaError::MissingSignedAttribute { attribute });
    };
    value.to_der().map_err(malformed("signed attribute"))
}

/// The signed attributes exactly as they appear in the token, re-tagged from `[0] IMPLICIT`
/// to `SET OF` (RFC 5652 §5.4), so the signature is checked over the bytes the TSA signed
/// rather than over a re-encoding.
fn raw_signed_attributes(signed_data_der: &[u8]) -> Result<Vec<u8>, TsaError> {
    let walk = malformed("signed data");
    let signed_data = AnyRef::from_der(signed_data_der).map_err(&walk)?;
    let mut reader = der::SliceReader::new(signed_data.value()).map_err(&walk)?;
    // version, digestAlgorithms, encapContentInfo, [0] certificates?, [1] crls?, signerInfos.
    let signer_infos = loop {
        let field = AnyRef::decode(&mut reader).map_err(&walk)?;
        if field.tag() == Tag::Set && reader.is_finished() {
            break field;
        }
    };
    let mut reader = der::SliceReader::new(signer_infos.value()).map_err(&walk)?;
    let signer_info = AnyRef::decode(&mut reader).map_err(&walk)?;
    let mut reader = der::SliceReader::new(signer_info.value()).map_err(&walk)?;
    for _ in 0..3 {
        // version, sid, digestAlgorithm
        AnyRef::decode(&mut reader).map_err(&walk)?;
    }
    let attrs = AnyRef::decode(&mut reader).map_err(&walk)?;
    let implicit_zero = Tag::ContextSpecific { constructed: true, number: der::TagNumber::N0 };
    if attrs.tag() != implicit_zero {
        return Err(TsaError::MissingSignedAttribute { attribute: "signedAttrs" });
    }
    AnyRef::new(Tag::Set, attrs.value()).and_then(|set| set.to_der()).map_err(&walk)
}

/// Whether `cert` is the one the signer identifier names (RFC 5652 §5.3).
fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    let tbs = &cert.tbs_certificate;
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => tbs.issuer == id.issuer && tbs.serial_number == id.serial_number,
        SignerIdentifier::SubjectKeyIdentifier(ski) => tbs
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id == ID_SUBJECT_KEY_IDENTIFIER)
            .filter_map(|e| OctetString::from_der(e.extn_value.as_bytes()).ok())
            .any(|value| value.as_bytes() == ski.0.as_bytes()),
    }
}

/// Step 5 for one authority. Errors carry the stage reached: 0 no signer certificate,
/// 1 no valid path, 2 bad signature, 3 outside `validFor`.
fn verify_with_authority(
    token: &Token,
    embedded_leaf: Option<&Certificate>,
    authority: &CertificateAuthority,
) -> Result<VerifiedTimestamp, (u8, TsaError)> {
    let chain: Vec<&[u8]> = authority.cert_chain.certificates.iter().map(|c| c.raw_bytes.as_slice()).collect();
    let (leaf_der, anchors): (Vec<u8>, Vec<Vec<u8>>) = match embedded_leaf {
        Some(leaf) => {
            let der = leaf.to_der().map_err(|e| (0, malformed("certificate")(e)))?;
            // Intermediates come only from the trusted root; drop the leaf if it is listed too.
            let rest = chain.iter().filter(|c| **c != der.as_slice()).map(|c| c.to_vec()).collect();
            (der, rest)
        }
        None => {
            // The token carries no certificate: take the signer from the authority's chain.
            let position = chain
                .iter()
                .position(|der| Certificate::from_der(der).is_ok_and(|c| identifies(&token.signer.sid, &c)))
                .ok_or((0, TsaError::SignerCertificateNotFound))?;
            (chain[position].to_vec(), chain[position + 1..].iter().map(|c| c.to_vec()).collect())
        }
    };
    // The TSA certificate chains to this authority's anchor at genTime, with EKU timeStamping.
    validate_path(&leaf_der, &anchors, token.gen_time, EKU_TIME_STAMPING).map_err(|e| {
        let reason = match e {
            PathError::EmptyChain => "the authority's chain has no anchor above the TSA certificate".to_owned(),
            other => other.to_string(),
        };
        (1, TsaError::UntrustedAuthority { reason })
    })?;
    // The CMS signature over the signed attributes, with the TSA certificate's key.
    verify_signature(token, &leaf_der).map_err(|e| (2, e))?;
    // genTime inside the authority's validFor, both ends inclusive.
    if let Some(range) = &authority.valid_for {
        let bad = |reason: String| (3, TsaError::BadAuthorityValidity { authority_uri: authority.uri.clone(), reason });
        let contains = match range.start {
            Some(_) => Validity::from_range(range).map_err(|e| bad(e.to_string()))?.contains(token.gen_time),
            // A TSA range without a start is open at the start (as in sigstore-go).
            None => match range.end.as_deref() {
                Some(end) => token.gen_time <= parse_rfc3339(end).map_err(|e| bad(e.to_string()))?,
                None => true,
            },
        };
        if !contains {
            return Err((
                3,
                TsaError::OutsideAuthorityValidity { authority_uri: authority.uri.clone(), gen_time: token.gen_time.0 },
            ));
        }
    }
    Ok(VerifiedTimestamp { time: token.gen_time, authority_uri: authority.uri.clone() })
}

fn verify_signature(token: &Token, leaf_der: &[u8]) -> Result<(), TsaError> {
    let bad = |reason: String| TsaError::BadSignature { reason };
    let leaf = Certificate::from_der(leaf_der).map_err(|e| bad(e.to_string()))?;
    let spki = leaf.tbs_certificate.subject_public_key_info.to_der().map_err(|e| bad(e.to_string()))?;
    let key = PublicKey::from_spki_der(&spki).map_err(|e| bad(e.to_string()))?;
    let message = &token.signed_attributes;
    let signature = token.signer.signature.as_bytes();
    let result = match (token.scheme.clone()?, &key) {
        (SignatureScheme::Ecdsa(hash), PublicKey::P256(_) | PublicKey::P384(_)) => {
            key.verify_prehashed(&hash.digest(message), signature)
        }
        (SignatureScheme::RsaSha256, PublicKey::RsaPkcs1Sha256(_))
        | (SignatureScheme::Ed25519, PublicKey::Ed25519(_)) => key.verify(message, signature),
        _ => return Err(bad("the signature algorithm does not fit the certificate key".into())),
    };
    result.map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::core::wire::encoding::b64_decode;
    use crate::core::wire::trust_root::TrustedRoot;

    const PROD_ROOT: &str = include_str!("../../../tests/data/trust/public-good-production-trusted_root.json");

    macro_rules! case_file {
        ($case:literal, $file:literal) => {
            include_str!(concat!("../../../tests/data/sigstore-conformance/bundle-verify/", $case, "/", $file))
        };
    }

    /// A bundle's first timestamp token, the signature it covers, and the trusted TSAs.
    /// Read as plain JSON, since one conformance bundle wraps its base64 at 76 columns.
    struct Case {
        token: Vec<u8>,
        signature: Vec<u8>,
        authorities: Vec<CertificateAuthority>,
    }

    impl Case {
        fn new(bundle: &str, root: &str) -> Self {
            let bundle: Value = serde_json::from_str(bundle).unwrap();
            let b64 = |v: &Value| {
                let text: String = v.as_str().unwrap().chars().filter(|c| !c.is_whitespace()).collect();
                b64_decode(&text).unwrap()
            };
            let token =
                b64(&bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
                    ["signedTimestamp"]);
            let signature = match bundle.get("messageSignature") {
                Some(m) => b64(&m["signature"]),
                None => b64(&bundle["dsseEnvelope"]["signatures"][0]["sig"]),
            };
            let root: TrustedRoot = serde_json::from_str(root).unwrap();
            Self { token, signature, authorities: root.timestamp_authorities }
        }

        fn run(&self) -> Result<VerifiedTimestamp, TsaError> {
            verify_timestamp(&self.token, &self.signature, &self.authorities)
        }
    }

    macro_rules! custom_case {
        ($case:literal) => {
            Case::new(case_file!($case, "bundle.sigstore.json"), case_file!($case, "trusted_root.json"))
        };
    }

    const SIGSTAGE_TSA: &str = "https://timestamp.sigstage.dev/api/v1/timestamp";

    #[test]
    fn real_timestamps_verify_with_and_without_embedded_certificates() {
        let cases = [
            ("rekor2-happy-path", custom_case!("rekor2-happy-path"), 1749729740),
            ("rekor2-dsse-happy-path", custom_case!("rekor2-dsse-happy-path"), 0),
            ("rekor2-timestamp-with-embedded-cert", custom_case!("rekor2-timestamp-with-embedded-cert"), 0),
            ("rekor2-timestamp-without-embedded-cert", custom_case!("rekor2-timestamp-without-embedded-cert"), 0),
            ("rekor2-checkpoint-cosigned", custom_case!("rekor2-checkpoint-cosigned"), 1749729740),
        ];
        for (name, case, expected_time) in cases {
            let verified = case.run().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(verified.authority_uri, SIGSTAGE_TSA, "{name}");
            if expected_time != 0 {
                assert_eq!(verified.time, UnixTime(expected_time), "{name}");
            }
        }
    }

    #[test]
    fn other_real_authorities_verify() {
        let local = custom_case!("intoto-with-custom-trust-root").run().unwrap();
        assert_eq!((local.time, local.authority_uri.as_str()), (UnixTime(1675209600), "http://localhost:8000"));
        let prod = Case::new(case_file!("managed-key-happy-path", "bundle.sigstore.json"), PROD_ROOT).run().unwrap();
        assert_eq!(prod.authority_uri, "https://timestamp.sigstore.dev/api/v1/timestamp");
        let github = Case::new(
            include_str!("../../../tests/data/trust/github-instance-release-attestation.sigstore.json"),
            include_str!("../../../tests/data/trust/github-trusted_root.json"),
        )
        .run()
        .unwrap();
        assert_eq!(github.authority_uri, "timestamp.githubapp.com");
    }

    #[test]
    fn conformance_timestamp_failures_are_rejected_with_the_right_error() {
        let err = custom_case!("rekor2-timestamp-outside-trust-root-tsa-validity_fail").run().unwrap_err();
        assert_eq!(
            err,
            TsaError::OutsideAuthorityValidity { authority_uri: SIGSTAGE_TSA.into(), gen_time: 1749729740 }
        );
        let err = custom_case!("rekor2-timestamp-outside-tsa-cert-validity_fail").run().unwrap_err();
        assert!(matches!(&err, TsaError::UntrustedAuthority { reason } if reason.contains("CertExpired")), "{err:?}");
        assert_eq!(
            custom_case!("rekor2-timestamp-payload-mismatch_fail").run().unwrap_err(),
            TsaError::ImprintMismatch
        );
        let err = custom_case!("rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail").run().unwrap_err();
        assert!(matches!(err, TsaError::UntrustedAuthority { .. }), "{err:?}");
    }

    /// These fail elsewhere (the time is outside the signing certificate's validity, §5 step 6,
    /// or the envelope signature is wrong); the timestamp itself is sound, and its time is what
    /// the caller compares.
    #[test]
    fn conformance_failures_owned_by_other_steps_yield_the_time() {
        let late = custom_case!("rekor2-timestamp-with-incorrect-time_fail").run().unwrap();
        assert_eq!(late.time.to_rfc3339(), "2025-07-15T10:33:31Z");
        let outside = custom_case!("intoto-tsa-timestamp-outside-cert-validity_fail").run().unwrap();
        assert_eq!(outside.time.to_rfc3339(), "2023-02-02T00:00:00Z");
        assert!(custom_case!("rekor2-dsse-invalid-sig_fail").run().is_ok());
    }

    fn replace_once(haystack: &mut [u8], needle: &[u8], with: &[u8]) {
        let at = haystack.windows(needle.len()).position(|w| w == needle).unwrap();
        haystack[at..at + needle.len()].copy_from_slice(with);
    }

    #[test]
    fn mutated_real_tokens_are_rejected() {
        let case = custom_case!("rekor2-happy-path");
        case.run().unwrap();

        let mut other_signature = case.signature.clone();
        other_signature[10] ^= 1;
        assert_eq!(verify_timestamp(&case.token, &other_signature, &case.authorities), Err(TsaError::ImprintMismatch));

        // The response status is the INTEGER right after the two SEQUENCE headers.
        let mut rejected = case.token.clone();
        replace_once(&mut rejected, &[0x30, 0x03, 0x02, 0x01, 0x00], &[0x30, 0x03, 0x02, 0x01, 0x02]);
        assert_eq!(
            verify_timestamp(&rejected, &case.signature, &case.authorities),
            Err(TsaError::NotGranted { status: 2 })
        );

        let mut backdated = case.token.clone();
        replace_once(&mut backdated, b"20250612120220Z", b"20250612120219Z");
        assert_eq!(
            verify_timestamp(&backdated, &case.signature, &case.authorities),
            Err(TsaError::SignedAttributeMismatch { attribute: "message-digest" })
        );

        // The ECDSA signature ends the token: change a byte of its `s` value.
        let mut forged = case.token.clone();
        let last = forged.len() - 2;
        forged[last] ^= 1;
        assert!(matches!(
            verify_timestamp(&forged, &case.signature, &case.authorities),
            Err(TsaError::BadSignature { .. })
        ));

        let mut truncated = case.token.clone();
        truncated.truncate(truncated.len() - 1);
        assert!(matches!(
            verify_timestamp(&truncated, &case.signature, &case.authorities),
            Err(TsaError::Malformed { .. })
        ));

        assert_eq!(verify_timestamp(&case.token, &case.signature, &[]), Err(TsaError::NoAuthorities));
    }

    #[test]
    fn the_authority_validity_is_inclusive_and_the_signer_must_be_found() {
        let mut case = custom_case!("rekor2-timestamp-without-embedded-cert");
        let time = case.run().unwrap().time;
        let range = case.authorities[0].valid_for.as_mut().unwrap();
        range.end = Some(time.to_rfc3339());
        case.run().unwrap();
        let range = case.authorities[0].valid_for.as_mut().unwrap();
        range.end = Some(UnixTime(time.0 - 1).to_rfc3339());
        assert!(matches!(case.run(), Err(TsaError::OutsideAuthorityValidity { .. })));
        range_start_after(&mut case, time);
        assert!(matches!(case.run(), Err(TsaError::OutsideAuthorityValidity { .. })));

        // Without an embedded certificate, the signer must be in the trusted chain.
        let mut case = custom_case!("rekor2-timestamp-without-embedded-cert");
        for authority in &mut case.authorities {
            authority.cert_chain.certificates.remove(0);
        }
        assert_eq!(case.run(), Err(TsaError::SignerCertificateNotFound));

        // An embedded certificate does not make its issuer trusted: with the anchor gone it fails.
        let mut case = custom_case!("rekor2-timestamp-with-embedded-cert");
        for authority in &mut case.authorities {
            authority.cert_chain.certificates.pop();
        }
        assert!(matches!(case.run(), Err(TsaError::UntrustedAuthority { .. })));
    }

    #[test]
    fn generalized_times_with_fractions_are_truncated_and_junk_is_refused() {
        assert_eq!(parse_generalized_time(b"20250612120220Z"), Some(UnixTime(1749729740)));
        assert_eq!(parse_generalized_time(b"20250612120220.999Z"), Some(UnixTime(1749729740)));
        assert_eq!(parse_generalized_time(b"20250612120220"), None);
        assert_eq!(parse_generalized_time(b"20250612120220.Z"), None);
        assert_eq!(parse_generalized_time(b"20251312120220Z"), None);
        assert_eq!(parse_generalized_time(b"2025061212022Z"), None);
    }

    fn range_start_after(case: &mut Case, time: UnixTime) {
        let range = case.authorities[0].valid_for.as_mut().unwrap();
        range.start = Some(UnixTime(time.0 + 1).to_rfc3339());
        range.end = None;
    }
}
