//! RFC 3161 requests and the fields of a response the signer checks before a token goes into a
//! bundle (sigstore-protocol.md §4.2 "TSA request"). Verification of the token itself (CMS
//! signature, chain, validity) is `core::verify::tsa`.

use cms::signed_data::SignedData;
use const_oid::ObjectIdentifier;
use der::asn1::AnyRef;
use der::asn1::{Int, OctetString};
use der::{Any, Decode as _, Encode as _, SliceReader, Tag, Tagged as _};
use spki::AlgorithmIdentifier;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion};

const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// The DER `TimeStampReq` for a SHA-256 imprint: version 1, the imprint, `nonce` (a positive
/// INTEGER), `certReq` true (RFC 3161 §2.4.1).
pub fn request_der(sha256: &[u8], nonce: u64) -> Result<Vec<u8>, der::Error> {
    let request = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifier { oid: ID_SHA256, parameters: Some(Any::new(Tag::Null, Vec::new())?) },
            hashed_message: OctetString::new(sha256.to_vec())?,
        },
        req_policy: None,
        nonce: Some(Int::new(&positive_integer(nonce))?),
        cert_req: true,
        extensions: None,
    };
    request.to_der()
}

/// `value` as the content octets of a positive DER INTEGER (minimal, with a leading zero when
/// the top bit is set).
fn positive_integer(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len() - 1);
    let mut out = bytes[first..].to_vec();
    if out[0] & 0x80 != 0 {
        out.insert(0, 0);
    }
    out
}

/// The nonce as the content octets a TSA echoes (compare with [`nonce_bytes`]).
pub fn nonce_bytes(nonce: u64) -> Vec<u8> {
    positive_integer(nonce)
}

/// What the signer checks in a granted response before trusting its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseFields {
    /// The PKIStatus (0 granted, 1 grantedWithMods).
    pub status: u8,
    /// The TSTInfo's message imprint: hash algorithm OID and digest.
    pub imprint_algorithm: String,
    pub imprint: Vec<u8>,
    /// The TSTInfo's nonce, as INTEGER content octets.
    pub nonce: Option<Vec<u8>>,
}

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseError(pub String);

impl std::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ResponseError {}

/// Reads the status, and for a granted response the TSTInfo's imprint and nonce.
pub fn read_response(der: &[u8]) -> Result<ResponseFields, ResponseError> {
    let bad = |what: &str, e: der::Error| ResponseError(format!("{what}: {e}"));
    let response = TimeStampResp::from_der(der).map_err(|e| bad("not a DER TimeStampResp", e))?;
    let status_der = response.status.status.to_der().map_err(|e| bad("status", e))?;
    let status = u8::from_der(&status_der).map_err(|e| bad("status", e))?;
    if status > 1 {
        return Err(ResponseError(format!("the request was not granted (status {status})")));
    }
    let token = response.time_stamp_token.ok_or_else(|| ResponseError("granted without a token".into()))?;
    if token.content_type != ID_SIGNED_DATA {
        return Err(ResponseError(format!("token content type {} is not SignedData", token.content_type)));
    }
    let signed_data =
        SignedData::from_der(&token.content.to_der().map_err(|e| bad("token", e))?).map_err(|e| bad("token", e))?;
    let encap = &signed_data.encap_content_info;
    let econtent = encap.econtent.as_ref().filter(|_| encap.econtent_type == ID_CT_TST_INFO);
    let Some(econtent) = econtent.filter(|c| c.tag() == Tag::OctetString) else {
        return Err(ResponseError("the token does not carry a TSTInfo".into()));
    };
    let (imprint_algorithm, imprint, nonce) = tst_info_fields(econtent.value())?;
    Ok(ResponseFields { status, imprint_algorithm, imprint, nonce })
}

/// (imprint hash OID, imprint digest, nonce content octets).
type TstInfoFields = (String, Vec<u8>, Option<Vec<u8>>);

/// `messageImprint` and `nonce` of a TSTInfo, walked field by field (RFC 3161 §2.4.2): a
/// decoder with a strict `GeneralizedTime` would refuse the fractional seconds TSAs may write.
fn tst_info_fields(der: &[u8]) -> Result<TstInfoFields, ResponseError> {
    let bad = |e: der::Error| ResponseError(format!("TSTInfo: {e}"));
    let outer = AnyRef::from_der(der).map_err(bad)?;
    let mut reader = SliceReader::new(outer.value()).map_err(bad)?;
    let mut next = || AnyRef::decode(&mut reader);
    let (_version, _policy) = (next().map_err(bad)?, next().map_err(bad)?);
    let imprint = next().map_err(bad)?;
    let imprint = MessageImprint::from_der(&imprint.to_der().map_err(bad)?).map_err(bad)?;
    let (_serial, _gen_time) = (next().map_err(bad)?, next().map_err(bad)?);
    let mut nonce = None;
    // accuracy SEQUENCE?, ordering BOOLEAN?, nonce INTEGER?, tsa [0]?, extensions [1]?
    while let Ok(field) = next() {
        if field.tag() == Tag::Integer {
            nonce = Some(field.value().to_vec());
            break;
        }
    }
    Ok((imprint.hash_algorithm.oid.to_string(), imprint.hashed_message.as_bytes().to_vec(), nonce))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_positive_minimal_integers() {
        assert_eq!(positive_integer(0), vec![0]);
        assert_eq!(positive_integer(0x7f), vec![0x7f]);
        assert_eq!(positive_integer(0x80), vec![0, 0x80]);
        assert_eq!(positive_integer(u64::MAX), [vec![0], vec![0xff; 8]].concat());
        assert!(request_der(&[0u8; 32], u64::MAX).is_ok());
    }
}
