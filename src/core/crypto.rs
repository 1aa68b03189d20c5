//! Public keys from SPKI DER and signature verification, for everything the verifier checks
//! (certificate keys, log and CT keys, checkpoint keys, managed keys).
//!
//! Keys are parsed with RustCrypto (p256, p384, ed25519-dalek). ECDSA signatures over a message
//! and RSA PKCS#1 v1.5 are checked with ring; Ed25519 with ed25519-dalek; ECDSA over a prehashed
//! digest (a message-signature bundle checked against a `sha256:` digest) with RustCrypto,
//! since ring has no prehashed API.

use ed25519_dalek::pkcs8::DecodePublicKey as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use sha2::Digest as _;

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// The key could not be parsed or its algorithm is not supported.
    UnsupportedKey { reason: String },
    /// The signature bytes are malformed (not DER, wrong length).
    MalformedSignature,
    /// The signature does not verify.
    BadSignature,
    /// This key type cannot verify a prehashed message of this length.
    PrehashNotSupported,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnsupportedKey { reason } => write!(f, "unsupported public key: {reason}"),
            Self::MalformedSignature => f.write_str("malformed signature"),
            Self::BadSignature => f.write_str("signature does not verify"),
            Self::PrehashNotSupported => f.write_str("this key type cannot verify a prehashed digest"),
        }
    }
}

impl std::error::Error for CryptoError {}

/// A parsed verification key.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// ECDSA P-256 with SHA-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA P-384 with SHA-384.
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RSA PKCS#1 v1.5 with SHA-256; holds the SPKI's `RSAPublicKey` DER.
    RsaPkcs1Sha256(Vec<u8>),
}

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_ED25519: &str = "1.3.101.112";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

impl PublicKey {
    /// Parses a DER `SubjectPublicKeyInfo`.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        use der::Decode as _;
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| CryptoError::UnsupportedKey { reason: format!("not a DER SubjectPublicKeyInfo: {e}") })?;
        let alg = spki.algorithm.oid.to_string();
        let key_bytes = spki.subject_public_key.raw_bytes();
        match alg.as_str() {
            OID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters_oid()
                    .map_err(|_| CryptoError::UnsupportedKey { reason: "EC key without a named curve".into() })?
                    .to_string();
                match curve.as_str() {
                    OID_P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                        .map(Self::P256)
                        .map_err(|_| CryptoError::UnsupportedKey { reason: "invalid P-256 point".into() }),
                    OID_P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                        .map(Self::P384)
                        .map_err(|_| CryptoError::UnsupportedKey { reason: "invalid P-384 point".into() }),
                    other => Err(CryptoError::UnsupportedKey { reason: format!("EC curve {other}") }),
                }
            }
            OID_ED25519 => ed25519_dalek::VerifyingKey::from_public_key_der(der)
                .map(Self::Ed25519)
                .map_err(|_| CryptoError::UnsupportedKey { reason: "invalid Ed25519 key".into() }),
            OID_RSA => Ok(Self::RsaPkcs1Sha256(key_bytes.to_vec())),
            other => Err(CryptoError::UnsupportedKey { reason: format!("algorithm {other}") }),
        }
    }

    /// Parses a PEM `PUBLIC KEY`.
    pub fn from_pem(pem_text: &str) -> Result<Self, CryptoError> {
        let (label, der) = pem_rfc7468_decode(pem_text)?;
        if label != "PUBLIC KEY" {
            return Err(CryptoError::UnsupportedKey { reason: format!("PEM label {label:?}, expected PUBLIC KEY") });
        }
        Self::from_spki_der(&der)
    }

    /// Verifies `signature` over `message` (hashing as the key type prescribes).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        match self {
            // ECDSA goes through ring (assembly field arithmetic, several times faster than the
            // portable p256/p384 code; a verifier checks four or more signatures per bundle).
            // The DER is parsed first so a malformed signature stays distinguishable.
            Self::P256(key) => {
                p256::ecdsa::Signature::from_der(signature).map_err(|_| CryptoError::MalformedSignature)?;
                ring::signature::UnparsedPublicKey::new(
                    &ring::signature::ECDSA_P256_SHA256_ASN1,
                    key.to_encoded_point(false).as_bytes(),
                )
                .verify(message, signature)
                .map_err(|_| CryptoError::BadSignature)
            }
            Self::P384(key) => {
                p384::ecdsa::Signature::from_der(signature).map_err(|_| CryptoError::MalformedSignature)?;
                ring::signature::UnparsedPublicKey::new(
                    &ring::signature::ECDSA_P384_SHA384_ASN1,
                    key.to_encoded_point(false).as_bytes(),
                )
                .verify(message, signature)
                .map_err(|_| CryptoError::BadSignature)
            }
            Self::Ed25519(key) => {
                let sig =
                    ed25519_dalek::Signature::from_slice(signature).map_err(|_| CryptoError::MalformedSignature)?;
                key.verify_strict(message, &sig).map_err(|_| CryptoError::BadSignature)
            }
            Self::RsaPkcs1Sha256(der) => {
                ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, der)
                    .verify(message, signature)
                    .map_err(|_| CryptoError::BadSignature)
            }
        }
    }

    /// Verifies `signature` over a message known only by its digest (ECDSA only).
    pub fn verify_prehashed(&self, digest: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        match self {
            Self::P256(key) => {
                let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| CryptoError::MalformedSignature)?;
                key.verify_prehash(digest, &sig).map_err(|_| CryptoError::BadSignature)
            }
            Self::P384(key) => {
                let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| CryptoError::MalformedSignature)?;
                key.verify_prehash(digest, &sig).map_err(|_| CryptoError::BadSignature)
            }
            _ => Err(CryptoError::PrehashNotSupported),
        }
    }

    /// The digest this key's signature scheme applies to a message (for prehashed checks).
    pub fn message_digest(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::P384(_) => sha2::Sha384::digest(message).to_vec(),
            _ => sha2::Sha256::digest(message).to_vec(),
        }
    }
}

/// Decodes one PEM block, returning its label and DER bytes.
pub fn pem_rfc7468_decode(text: &str) -> Result<(String, Vec<u8>), CryptoError> {
    let text = text.trim();
    let first = text.lines().next().unwrap_or("");
    let label = first
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or_else(|| CryptoError::UnsupportedKey { reason: "not PEM".into() })?
        .to_owned();
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    let mut ended = false;
    for line in text.lines().skip(1) {
        let line = line.trim();
        if line == end {
            ended = true;
            break;
        }
        body.push_str(line);
    }
    if !ended {
        return Err(CryptoError::UnsupportedKey { reason: format!("PEM block {label:?} has no end line") });
    }
    let der = crate::core::wire::encoding::b64_decode(&body)
        .map_err(|_| CryptoError::UnsupportedKey { reason: "PEM body is not base64".into() })?;
    Ok((label, der))
}

/// Encodes DER as one PEM block with 64-column lines and a trailing newline.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = crate::core::wire::encoding::b64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::EncodePublicKey as _;

    #[test]
    fn p256_verifies_whole_and_prehashed_and_rejects_a_flipped_bit() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let spki = sk.verifying_key().to_public_key_der().unwrap();
        let key = PublicKey::from_spki_der(spki.as_bytes()).unwrap();
        let sig: p256::ecdsa::Signature = sk.sign(b"hello");
        let der = sig.to_der();
        key.verify(b"hello", der.as_bytes()).unwrap();
        key.verify_prehashed(&key.message_digest(b"hello"), der.as_bytes()).unwrap();
        assert_eq!(key.verify(b"hellp", der.as_bytes()), Err(CryptoError::BadSignature));
        let pem = pem_encode("PUBLIC KEY", spki.as_bytes());
        PublicKey::from_pem(&pem).unwrap().verify(b"hello", der.as_bytes()).unwrap();
    }
}
