//! The stand-in's RFC 3161 timestamp authority, shaped like sigstore/timestamp-authority:
//! `POST /api/v1/timestamp` takes a DER `TimeStampReq` (`application/timestamp-query`) and
//! answers a DER `TimeStampResp` (`application/timestamp-reply`); `GET
//! /api/v1/timestamp/certchain` serves the PEM chain.
//!
//! Its own chain (a P-384 root and a P-256 signing leaf with the critical timeStamping EKU, RFC
//! 3161 §2.3) is listed in the stand-in's trusted root under `timestampAuthorities`. Tokens are
//! CMS SignedData (RFC 5652) over a TSTInfo (RFC 3161 §2.4.2) with the signed attributes
//! content-type, message-digest and ESS signingCertificateV2 (RFC 3161 §2.4.1, RFC 5035), the
//! request's nonce echoed, the Sigstore TSA policy OID, and the signing certificate embedded when
//! the request asks for it (`certReq`).

use std::str::FromStr as _;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, GeneralizedTime, Int, OctetString, SetOfVec};
use der::{Any, Decode as _, Encode as _, Tag};
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;
use sha2::Digest as _;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::name::Name;
use x509_cert::Certificate;
use x509_tsp::{TimeStampReq, TspVersion, TstInfo};

use crate::core::crypto::pem_encode;
use crate::core::time::UnixTime;
use crate::core::wire::bundle::X509Certificate;
use crate::core::wire::trust_root::{CertChain, CertificateAuthority, DistinguishedName, TimeRange};
use crate::standin::ca::{
    authority_key_id, enc, ext, key_identifier, octets, sign_certificate, spki_of, tbs, validity, CaError,
};

/// The Sigstore TSA policy (sigstore-protocol.md §2.1, §3.3).
const SIGSTORE_TSA_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.2");
const EKU_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// TSA lifetime: long enough for any local session.
const TSA_VALIDITY_SECONDS: i64 = 10 * 365 * 86_400;

/// Why a request was refused (answered 400, as timestamp-authority does for unparsable requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimestampRequestError {
    Malformed(String),
    UnsupportedHash(String),
    Internal(String),
}

impl std::fmt::Display for TimestampRequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(reason) => write!(f, "timestamp request is not a DER TimeStampReq: {reason}"),
            Self::UnsupportedHash(oid) => {
                write!(f, "timestamp request hash algorithm {oid} is not supported (SHA-256, SHA-384, SHA-512)")
            }
            Self::Internal(reason) => write!(f, "cannot issue the timestamp: {reason}"),
        }
    }
}

/// The authority: its chain and the leaf key that signs tokens.
pub(crate) struct TimestampAuthority {
    root_der: Vec<u8>,
    leaf_der: Vec<u8>,
    leaf: Certificate,
    key: p256::ecdsa::SigningKey,
}

impl std::fmt::Debug for TimestampAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimestampAuthority").finish_non_exhaustive()
    }
}

impl TimestampAuthority {
    pub(crate) fn new(
        root_key: &p384::ecdsa::SigningKey,
        key: p256::ecdsa::SigningKey,
        not_before: UnixTime,
        serials: ([u8; 20], [u8; 20]),
    ) -> Result<Self, CaError> {
        let root_name =
            Name::from_str("CN=npm-attest-local-tsa-root,O=npm-attest.local").map_err(enc("TSA root name"))?;
        let leaf_name = Name::from_str("CN=npm-attest-local-tsa,O=npm-attest.local").map_err(enc("TSA name"))?;
        let root_spki = spki_of(root_key)?;
        let root_ski = key_identifier(&root_spki);
        let valid = validity(not_before, TSA_VALIDITY_SECONDS)?;
        let root_tbs = tbs(
            serials.0,
            root_name.clone(),
            root_name.clone(),
            valid,
            root_spki,
            vec![
                ext(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign), true)?,
                ext(&BasicConstraints { ca: true, path_len_constraint: Some(0) }, true)?,
                ext(&SubjectKeyIdentifier(octets(&root_ski)?), false)?,
            ],
        )?;
        let root_der = sign_certificate(root_key, root_tbs)?;
        let leaf_spki_der = key
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| CaError::Encoding { what: "TSA key", reason: e.to_string() })?;
        let leaf_spki = SubjectPublicKeyInfoOwned::from_der(leaf_spki_der.as_bytes()).map_err(enc("TSA key"))?;
        let leaf_ski = key_identifier(&leaf_spki);
        // RFC 3161 §2.3: the TSA's certificate has exactly one EKU, timeStamping, marked critical.
        let leaf_tbs = tbs(
            serials.1,
            root_name,
            leaf_name,
            valid,
            leaf_spki,
            vec![
                ext(&KeyUsage(KeyUsages::DigitalSignature.into()), true)?,
                ext(&ExtendedKeyUsage(vec![EKU_TIME_STAMPING]), true)?,
                ext(&SubjectKeyIdentifier(octets(&leaf_ski)?), false)?,
                ext(&authority_key_id(&root_ski)?, false)?,
            ],
        )?;
        let leaf_der = sign_certificate(root_key, leaf_tbs)?;
        let leaf = Certificate::from_der(&leaf_der).map_err(enc("TSA certificate"))?;
        Ok(Self { root_der, leaf_der, leaf, key })
    }

    /// `[leaf, root]`, DER: the trusted root's `certChain` (the last entry is the anchor).
    pub(crate) fn chain_der(&self) -> [&[u8]; 2] {
        [&self.leaf_der, &self.root_der]
    }

    /// This authority as a trusted root's `timestampAuthorities` entry, served at `uri` and
    /// trusted from `valid_from` on.
    pub(crate) fn trusted_entry(&self, uri: String, valid_from: &str) -> CertificateAuthority {
        CertificateAuthority {
            subject: DistinguishedName {
                organization: "npm-attest.local".to_owned(),
                common_name: "npm-attest-local-tsa".to_owned(),
            },
            uri,
            cert_chain: CertChain {
                certificates: self.chain_der().iter().map(|der| X509Certificate { raw_bytes: der.to_vec() }).collect(),
            },
            valid_for: Some(TimeRange { start: Some(valid_from.to_owned()), end: None }),
            operator: None,
        }
    }

    /// The chain as `GET /api/v1/timestamp/certchain` serves it: PEM, leaf first.
    pub(crate) fn chain_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.leaf_der) + &pem_encode("CERTIFICATE", &self.root_der)
    }

    /// Answers one DER `TimeStampReq` at `now` with a granted DER `TimeStampResp`.
    pub(crate) fn respond(
        &self,
        request_der: &[u8],
        now: UnixTime,
        serial: [u8; 20],
    ) -> Result<Vec<u8>, TimestampRequestError> {
        let request =
            TimeStampReq::from_der(request_der).map_err(|e| TimestampRequestError::Malformed(e.to_string()))?;
        let imprint = &request.message_imprint;
        let expected_len = match imprint.hash_algorithm.oid {
            ID_SHA256 => 32,
            ID_SHA384 => 48,
            ID_SHA512 => 64,
            other => return Err(TimestampRequestError::UnsupportedHash(other.to_string())),
        };
        if imprint.hashed_message.as_bytes().len() != expected_len {
            return Err(TimestampRequestError::Malformed("the message imprint's length does not fit its hash".into()));
        }
        let internal = |e: der::Error| TimestampRequestError::Internal(e.to_string());
        let mut serial = serial;
        // Positive and minimally encoded.
        serial[0] = (serial[0] & 0x7f) | 0x40;
        let secs =
            u64::try_from(now.seconds()).map_err(|_| TimestampRequestError::Internal("clock before 1970".into()))?;
        let tst_info = TstInfo {
            version: TspVersion::V1,
            policy: SIGSTORE_TSA_POLICY,
            message_imprint: imprint.clone(),
            serial_number: Int::new(&serial).map_err(internal)?,
            gen_time: GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs)).map_err(internal)?,
            accuracy: None,
            ordering: false,
            // RFC 3161 §2.4.2: the nonce of the request, when it had one.
            nonce: request.nonce.clone(),
            tsa: None,
            extensions: None,
        };
        let tst_info_der = tst_info.to_der().map_err(internal)?;
        let token = self.sign_token(&tst_info_der, request.cert_req).map_err(internal)?;
        // TimeStampResp ::= SEQUENCE { status PKIStatusInfo { status granted (0) }, timeStampToken }.
        let mut content = vec![0x30, 0x03, 0x02, 0x01, 0x00];
        content.extend(token.to_der().map_err(internal)?);
        AnyRef::new(Tag::Sequence, &content).and_then(|s| s.to_der()).map_err(internal)
    }

    /// CMS SignedData over `tst_info_der` (RFC 5652 §5, RFC 3161 §2.4.1).
    fn sign_token(&self, tst_info_der: &[u8], embed_certificate: bool) -> Result<ContentInfo, der::Error> {
        let sha256 = AlgorithmIdentifierOwned { oid: ID_SHA256, parameters: None };
        let attribute = |oid: ObjectIdentifier, value: Any| -> Result<Attribute, der::Error> {
            Ok(Attribute { oid, values: SetOfVec::try_from(vec![value])? })
        };
        // ESS signingCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { certHash } } (sha256 is the default).
        let cert_hash = OctetString::new(sha2::Sha256::digest(&self.leaf_der).to_vec())?.to_der()?;
        let ess_cert_id = AnyRef::new(Tag::Sequence, &cert_hash)?.to_der()?;
        let certs = AnyRef::new(Tag::Sequence, &ess_cert_id)?.to_der()?;
        let signing_certificate = Any::new(Tag::Sequence, certs)?;
        let signed_attrs: SetOfVec<Attribute> = SetOfVec::try_from(vec![
            attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_CT_TST_INFO)?)?,
            attribute(
                ID_MESSAGE_DIGEST,
                Any::encode_from(&OctetString::new(sha2::Sha256::digest(tst_info_der).to_vec())?)?,
            )?,
            attribute(ID_SIGNING_CERTIFICATE_V2, signing_certificate)?,
        ])?;
        // The signature covers the DER of the attributes as a SET OF (RFC 5652 §5.4).
        let signature: p256::ecdsa::Signature = self.key.sign(&signed_attrs.to_der()?);
        let signer = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: self.leaf.tbs_certificate.issuer.clone(),
                serial_number: self.leaf.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: sha256.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA256, parameters: None },
            signature: OctetString::new(signature.to_der().as_bytes().to_vec())?,
            unsigned_attrs: None,
        };
        let certificates = if embed_certificate {
            Some(CertificateSet(SetOfVec::try_from(vec![CertificateChoices::Certificate(self.leaf.clone())])?))
        } else {
            None
        };
        let signed_data = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![sha256])?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_CT_TST_INFO,
                econtent: Some(Any::new(Tag::OctetString, tst_info_der.to_vec())?),
            },
            certificates,
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer])?),
        };
        Ok(ContentInfo { content_type: ID_SIGNED_DATA, content: Any::encode_from(&signed_data)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::verify::tsa::verify_timestamp;

    fn authority() -> TimestampAuthority {
        let root = p384::ecdsa::SigningKey::from_slice(&[7u8; 48]).unwrap();
        let leaf = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
        TimestampAuthority::new(&root, leaf, UnixTime(1_700_000_000), ([1; 20], [2; 20])).unwrap()
    }

    fn trusted(tsa: &TimestampAuthority) -> Vec<CertificateAuthority> {
        vec![tsa.trusted_entry("http://127.0.0.1/api/v1/timestamp".into(), "2023-01-01T00:00:00Z")]
    }

    #[test]
    fn tokens_verify_with_the_trusted_chain_and_echo_the_nonce() {
        let tsa = authority();
        let signature = b"a signature";
        let request = crate::core::wire::timestamp::request_der(&sha2::Sha256::digest(signature), 0x1234_5678).unwrap();
        let response = tsa.respond(&request, UnixTime(1_750_000_000), [3; 20]).unwrap();
        let verified = verify_timestamp(&response, signature, &trusted(&tsa)).unwrap();
        assert_eq!(verified.time, UnixTime(1_750_000_000));
        let token = crate::core::wire::timestamp::read_response(&response).unwrap();
        assert_eq!(token.nonce.as_deref(), Some(&[0x12, 0x34, 0x56, 0x78][..]));
        assert!(verify_timestamp(&response, b"another signature", &trusted(&tsa)).is_err());
    }

    #[test]
    fn garbage_requests_are_refused() {
        assert!(matches!(authority().respond(b"nope", UnixTime(1), [0; 20]), Err(TimestampRequestError::Malformed(_))));
    }
}
