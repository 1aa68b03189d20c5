//! Fulcio v2 `CreateSigningCertificate` (sigstore-protocol.md §3.1): the two request forms
//! (public key + proof of possession, or a PKCS#10 CSR), the token from the body or the
//! `Authorization: Bearer` header, and Fulcio's client-facing error messages (its
//! `pkg/server/error.go`), all answered with gRPC `InvalidArgument` = HTTP 400.

use der::{Decode as _, Encode as _};
use serde_json::Value;

use crate::core::crypto::{pem_rfc7468_decode, PublicKey};
use crate::core::wire::encoding::b64_decode;

pub(crate) const INVALID_IDENTITY_TOKEN: &str = "There was an error processing the identity token";
pub(crate) const INVALID_PUBLIC_KEY: &str = "The public key supplied in the request could not be parsed";
pub(crate) const INVALID_CSR: &str = "The certificate signing request could not be parsed";
pub(crate) const INVALID_SIGNATURE: &str = "The signature supplied in the request could not be verified";
pub(crate) const INVALID_REQUEST_BODY: &str = "request body is not a CreateSigningCertificateRequest JSON object";
pub(crate) const GENERIC_CA_ERROR: &str = "error communicating with CA backend";

/// What the client wants certified, before the proof is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyProof {
    /// SPKI DER and a signature over the challenge subject.
    PublicKey { spki_der: Vec<u8>, proof: Vec<u8> },
    /// A CSR: SPKI DER, the raw `certificationRequestInfo` bytes and their signature.
    Csr { spki_der: Vec<u8>, info_der: Vec<u8>, signature: Vec<u8> },
}

/// A parsed `CreateSigningCertificateRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SigningCertRequest {
    /// The token from `credentials.oidcIdentityToken`, else from the bearer header.
    pub token: String,
    /// The key part, or the client-facing message for why it cannot be read.
    pub key: Result<KeyProof, &'static str>,
}

/// Parses the JSON body. The key part is parsed lazily so that a bad token is reported first,
/// as Fulcio authenticates before it looks at the key.
pub(crate) fn parse_request(body: &[u8], bearer: Option<&str>) -> Result<SigningCertRequest, &'static str> {
    // gRPC-gateway refuses a body it cannot unmarshal with InvalidArgument too.
    let json: Value = serde_json::from_slice(body).map_err(|_| INVALID_REQUEST_BODY)?;
    let token = json
        .pointer("/credentials/oidcIdentityToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .or(bearer)
        .unwrap_or_default()
        .to_owned();
    let key = match json.get("certificateSigningRequest").and_then(Value::as_str).filter(|c| !c.is_empty()) {
        Some(csr) => parse_csr(csr),
        None => parse_public_key_request(&json),
    };
    Ok(SigningCertRequest { token, key })
}

/// `publicKeyRequest.publicKey.content` is PEM or base64 DER (Fulcio `challenges.ParsePublicKey`).
fn parse_public_key_request(json: &Value) -> Result<KeyProof, &'static str> {
    let content = json.pointer("/publicKeyRequest/publicKey/content").and_then(Value::as_str).unwrap_or_default();
    let spki_der = if content.trim_start().starts_with("-----BEGIN") {
        match pem_rfc7468_decode(content) {
            Ok((label, der)) if label == "PUBLIC KEY" => der,
            _ => return Err(INVALID_PUBLIC_KEY),
        }
    } else {
        b64_decode(content.trim()).map_err(|_| INVALID_PUBLIC_KEY)?
    };
    PublicKey::from_spki_der(&spki_der).map_err(|_| INVALID_PUBLIC_KEY)?;
    let proof = json
        .pointer("/publicKeyRequest/proofOfPossession")
        .and_then(Value::as_str)
        .map(b64_decode)
        .and_then(Result::ok)
        .unwrap_or_default();
    Ok(KeyProof::PublicKey { spki_der, proof })
}

/// `certificateSigningRequest` is base64 of a PEM `CERTIFICATE REQUEST` (PKCS#10, RFC 2986).
fn parse_csr(b64_pem: &str) -> Result<KeyProof, &'static str> {
    let pem = b64_decode(b64_pem).ok().and_then(|b| String::from_utf8(b).ok()).ok_or(INVALID_CSR)?;
    let (label, der) = pem_rfc7468_decode(&pem).map_err(|_| INVALID_CSR)?;
    if label != "CERTIFICATE REQUEST" {
        return Err(INVALID_CSR);
    }
    let csr = x509_cert::request::CertReq::from_der(&der).map_err(|_| INVALID_CSR)?;
    let spki_der = csr.info.public_key.to_der().map_err(|_| INVALID_CSR)?;
    PublicKey::from_spki_der(&spki_der).map_err(|_| INVALID_PUBLIC_KEY)?;
    // The self-signature covers the certificationRequestInfo bytes exactly as sent: take them
    // from the input rather than re-encoding the parsed value.
    let info_der = first_element(&der).ok_or(INVALID_CSR)?.to_vec();
    let signature = csr.signature.as_bytes().ok_or(INVALID_CSR)?.to_vec();
    Ok(KeyProof::Csr { spki_der, info_der, signature })
}

/// The first TLV inside the outer DER SEQUENCE of `der`.
fn first_element(der: &[u8]) -> Option<&[u8]> {
    let (_, inner) = split_tlv(der)?;
    let (len, _) = split_tlv(inner)?;
    inner.get(..len)
}

/// Returns (total TLV length, contents) of the DER element at the start of `bytes`.
fn split_tlv(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let first_len = *bytes.get(1)?;
    let (len, header) = if first_len < 0x80 {
        (usize::from(first_len), 2)
    } else {
        let n = usize::from(first_len & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for b in bytes.get(2..2 + n)? {
            len = (len << 8) | usize::from(*b);
        }
        (len, 2 + n)
    };
    let contents = bytes.get(header..header.checked_add(len)?)?;
    Some((header + len, contents))
}

impl KeyProof {
    pub(crate) fn spki_der(&self) -> &[u8] {
        match self {
            Self::PublicKey { spki_der, .. } | Self::Csr { spki_der, .. } => spki_der,
        }
    }

    /// Checks possession of the private key: the signature over the challenge subject, or the
    /// CSR's self-signature (Fulcio `CreateSigningCertificate`, options 1 and 2).
    pub(crate) fn verify(&self, challenge: &str) -> Result<(), &'static str> {
        let key = PublicKey::from_spki_der(self.spki_der()).map_err(|_| INVALID_PUBLIC_KEY)?;
        match self {
            Self::PublicKey { proof, .. } => key.verify(challenge.as_bytes(), proof),
            Self::Csr { info_der, signature, .. } => key.verify(info_der, signature),
        }
        .map_err(|_| INVALID_SIGNATURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_header_is_used_only_when_the_body_has_no_token() {
        let r = parse_request(br#"{"credentials":{"oidcIdentityToken":"a.b.c"}}"#, Some("x.y.z")).unwrap();
        assert_eq!(r.token, "a.b.c");
        let r = parse_request(br#"{"certificateSigningRequest":"bm90IHBlbQ=="}"#, Some("x.y.z")).unwrap();
        assert_eq!(r.token, "x.y.z");
        assert_eq!(r.key, Err(INVALID_CSR));
        let r = parse_request(br#"{"publicKeyRequest":{"publicKey":{"content":"!!"}}}"#, None).unwrap();
        assert_eq!(r.key, Err(INVALID_PUBLIC_KEY));
    }

    #[test]
    fn tlv_splitting_handles_long_lengths_and_refuses_truncation() {
        let mut der = vec![0x30, 0x82, 0x01, 0x04, 0x30, 0x82, 0x01, 0x00];
        der.extend(std::iter::repeat_n(0u8, 256));
        assert_eq!(first_element(&der).map(<[u8]>::len), Some(260));
        assert_eq!(first_element(&der[..100]), None);
    }
}
