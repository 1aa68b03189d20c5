//! Public keys from SPKI DER and signature verification, for everything the verifier checks
//! (certificate keys, log and CT keys, checkpoint keys, managed keys, TSA keys).
//!
//! One provider, aws-lc-rs, covers the Sigstore algorithm registry (sigstore-protocol.md §1,
//! `PublicKeyDetails`): ECDSA P-256/P-384/P-521 with SHA-256/384/512, also over a prehashed
//! digest (a message-signature bundle checked against a digest alone); RSA PKCS#1 v1.5 and PSS
//! at 2048-4096 bits (8192 at most); Ed25519. Each key is parsed once, into the provider's own
//! form, under the scheme the registry pairs with it.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as sig, ParsedPublicKey, UnparsedPublicKey, VerificationAlgorithm};
use const_oid::ObjectIdentifier;

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

/// The message digests of the algorithm registry (`HashAlgorithm` in the protobuf specs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    /// From the protobuf-JSON name (`SHA2_256`, `SHA2_384`, `SHA2_512`).
    pub fn from_registry_name(name: &str) -> Option<Self> {
        match name {
            "SHA2_256" => Some(Self::Sha256),
            "SHA2_384" => Some(Self::Sha384),
            "SHA2_512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The protobuf-JSON name.
    /// The name people read (`SHA-256`, `SHA-384`, `SHA-512`).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    pub fn registry_name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA2_256",
            Self::Sha384 => "SHA2_384",
            Self::Sha512 => "SHA2_512",
        }
    }

    /// The lower-case name Rekor's `hashedrekord` uses (`sha256`, `sha384`, `sha512`).
    pub fn rekor_name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    fn provider(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        self.provider().output_len()
    }

    /// The digest of `message`.
    pub fn digest(self, message: &[u8]) -> Vec<u8> {
        digest::digest(self.provider(), message).as_ref().to_vec()
    }
}

/// A key in the provider's parsed form (parsed once under the key's registry scheme).
#[derive(Clone)]
pub struct Key {
    parsed: ParsedPublicKey,
}

impl Key {
    fn parse(algorithm: &'static dyn VerificationAlgorithm, raw: &[u8], what: &str) -> Result<Self, CryptoError> {
        ParsedPublicKey::new(algorithm, raw)
            .map(|parsed| Self { parsed })
            .map_err(|e| CryptoError::UnsupportedKey { reason: format!("invalid {what}: {e}") })
    }

    /// The raw key: the SEC1 point (ECDSA), the 32 bytes (Ed25519), `RSAPublicKey` DER (RSA).
    pub fn as_bytes(&self) -> &[u8] {
        self.parsed.as_ref()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", hex::encode(self.as_bytes()))
    }
}

/// A parsed verification key.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// ECDSA P-256 (registry scheme: SHA-256).
    P256(Key),
    /// ECDSA P-384 (registry scheme: SHA-384).
    P384(Key),
    /// ECDSA P-521 (registry scheme: SHA-512).
    P521(Key),
    Ed25519(Key),
    /// RSA, 2048 to 8192 bits: PKCS#1 v1.5 or PSS, SHA-256 unless a prehash says otherwise.
    Rsa(Key),
}

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// ECDSA over `curve` (a `PublicKey` variant's curve) with `hash`, signatures in ASN.1 DER.
fn ecdsa_algorithm(key: &PublicKey, hash: HashAlgorithm) -> Option<&'static sig::EcdsaVerificationAlgorithm> {
    use HashAlgorithm::*;
    Some(match (key, hash) {
        (PublicKey::P256(_), Sha256) => &sig::ECDSA_P256_SHA256_ASN1,
        (PublicKey::P256(_), Sha384) => &sig::ECDSA_P256_SHA384_ASN1,
        (PublicKey::P256(_), Sha512) => &sig::ECDSA_P256_SHA512_ASN1,
        (PublicKey::P384(_), Sha256) => &sig::ECDSA_P384_SHA256_ASN1,
        (PublicKey::P384(_), Sha384) => &sig::ECDSA_P384_SHA384_ASN1,
        (PublicKey::P384(_), Sha512) => &sig::ECDSA_P384_SHA512_ASN1,
        (PublicKey::P521(_), Sha256) => &sig::ECDSA_P521_SHA256_ASN1,
        (PublicKey::P521(_), Sha384) => &sig::ECDSA_P521_SHA384_ASN1,
        (PublicKey::P521(_), Sha512) => &sig::ECDSA_P521_SHA512_ASN1,
        _ => return None,
    })
}

/// RSA PKCS#1 v1.5 and PSS (salt length = digest length) with `hash`.
fn rsa_algorithms(hash: HashAlgorithm) -> [&'static sig::RsaParameters; 2] {
    match hash {
        HashAlgorithm::Sha256 => [&sig::RSA_PKCS1_2048_8192_SHA256, &sig::RSA_PSS_2048_8192_SHA256],
        HashAlgorithm::Sha384 => [&sig::RSA_PKCS1_2048_8192_SHA384, &sig::RSA_PSS_2048_8192_SHA384],
        HashAlgorithm::Sha512 => [&sig::RSA_PKCS1_2048_8192_SHA512, &sig::RSA_PSS_2048_8192_SHA512],
    }
}

impl PublicKey {
    /// Parses a DER `SubjectPublicKeyInfo`.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        use der::Decode as _;
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| CryptoError::UnsupportedKey { reason: format!("not a DER SubjectPublicKeyInfo: {e}") })?;
        // OIDs are compared as OIDs: formatting them as text cost 1.3% of a verify profile.
        let alg = spki.algorithm.oid;
        let key_bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| CryptoError::UnsupportedKey { reason: "key bit string has unused bits".into() })?;
        match alg {
            OID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters_oid()
                    .map_err(|_| CryptoError::UnsupportedKey { reason: "EC key without a named curve".into() })?;
                match curve {
                    OID_P256 => Key::parse(&sig::ECDSA_P256_SHA256_ASN1, key_bytes, "P-256 point").map(Self::P256),
                    OID_P384 => Key::parse(&sig::ECDSA_P384_SHA384_ASN1, key_bytes, "P-384 point").map(Self::P384),
                    OID_P521 => Key::parse(&sig::ECDSA_P521_SHA512_ASN1, key_bytes, "P-521 point").map(Self::P521),
                    other => Err(CryptoError::UnsupportedKey { reason: format!("EC curve {other}") }),
                }
            }
            OID_ED25519 => {
                if spki.algorithm.parameters.is_some() {
                    return Err(CryptoError::UnsupportedKey { reason: "Ed25519 key with parameters".into() });
                }
                if key_bytes.len() != 32 {
                    return Err(CryptoError::UnsupportedKey { reason: "invalid Ed25519 key".into() });
                }
                Key::parse(&sig::ED25519, key_bytes, "Ed25519 key").map(Self::Ed25519)
            }
            OID_RSA => Key::parse(&sig::RSA_PKCS1_2048_8192_SHA256, key_bytes, "RSA key").map(Self::Rsa),
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

    fn key(&self) -> &Key {
        match self {
            Self::P256(k) | Self::P384(k) | Self::P521(k) | Self::Ed25519(k) | Self::Rsa(k) => k,
        }
    }

    /// The digest the registry pairs with this key (`PKIX_ECDSA_P384_SHA_384` and so on).
    pub fn default_hash(&self) -> HashAlgorithm {
        match self {
            Self::P384(_) => HashAlgorithm::Sha384,
            Self::P521(_) => HashAlgorithm::Sha512,
            Self::P256(_) | Self::Ed25519(_) | Self::Rsa(_) => HashAlgorithm::Sha256,
        }
    }

    /// The registry's name for this key's scheme, where one name fits (RSA's names also
    /// carry the padding, which the key does not tell).
    pub fn registry_details(&self) -> Option<&'static str> {
        match self {
            Self::P256(_) => Some("PKIX_ECDSA_P256_SHA_256"),
            Self::P384(_) => Some("PKIX_ECDSA_P384_SHA_384"),
            Self::P521(_) => Some("PKIX_ECDSA_P521_SHA_512"),
            Self::Ed25519(_) => Some("PKIX_ED25519"),
            Self::Rsa(_) => None,
        }
    }

    /// Verifies `signature` over `message`, hashing as the key's registry scheme prescribes
    /// (RSA: PKCS#1 v1.5, then PSS, both with SHA-256).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        if signature.is_empty() {
            return Err(CryptoError::MalformedSignature);
        }
        match self {
            Self::Ed25519(_) if signature.len() != 64 => Err(CryptoError::MalformedSignature),
            Self::Rsa(k) => {
                if k.parsed.verify_sig(message, signature).is_ok() {
                    return Ok(());
                }
                UnparsedPublicKey::new(&sig::RSA_PSS_2048_8192_SHA256, k.as_bytes())
                    .verify(message, signature)
                    .map_err(|_| CryptoError::BadSignature)
            }
            _ => self.key().parsed.verify_sig(message, signature).map_err(|_| CryptoError::BadSignature),
        }
    }

    /// Verifies `signature` over a message known only by its `hash` digest (ECDSA and RSA;
    /// Ed25519 signs the message itself).
    pub fn verify_prehashed(
        &self,
        hash: HashAlgorithm,
        message_digest: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        let imported = digest::Digest::import_less_safe(message_digest, hash.provider())
            .map_err(|_| CryptoError::PrehashNotSupported)?;
        if signature.is_empty() {
            return Err(CryptoError::MalformedSignature);
        }
        match self {
            Self::Ed25519(_) => Err(CryptoError::PrehashNotSupported),
            Self::Rsa(k) => {
                let ok = rsa_algorithms(hash)
                    .iter()
                    .any(|alg| UnparsedPublicKey::new(*alg, k.as_bytes()).verify_digest(&imported, signature).is_ok());
                if ok {
                    Ok(())
                } else {
                    Err(CryptoError::BadSignature)
                }
            }
            _ if hash == self.default_hash() => {
                self.key().parsed.verify_digest_sig(&imported, signature).map_err(|_| CryptoError::BadSignature)
            }
            _ => {
                let alg = ecdsa_algorithm(self, hash).ok_or(CryptoError::PrehashNotSupported)?;
                UnparsedPublicKey::new(alg, self.key().as_bytes())
                    .verify_digest(&imported, signature)
                    .map_err(|_| CryptoError::BadSignature)
            }
        }
    }

    /// The digest this key's registry scheme applies to a message (for prehashed checks).
    pub fn message_digest(&self, message: &[u8]) -> Vec<u8> {
        self.default_hash().digest(message)
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
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};

    fn ecdsa(signing: &'static sig::EcdsaSigningAlgorithm) -> (PublicKey, EcdsaKeyPair) {
        let pair = EcdsaKeyPair::generate(signing).unwrap();
        let spki = pair.public_key().as_der().unwrap();
        (PublicKey::from_spki_der(spki.as_ref()).unwrap(), pair)
    }

    #[test]
    fn p256_verifies_whole_and_prehashed_and_rejects_a_flipped_bit() {
        use p256::ecdsa::signature::Signer as _;
        use p256::pkcs8::EncodePublicKey as _;
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let spki = sk.verifying_key().to_public_key_der().unwrap();
        let key = PublicKey::from_spki_der(spki.as_bytes()).unwrap();
        let sig: p256::ecdsa::Signature = sk.sign(b"hello");
        let der = sig.to_der();
        key.verify(b"hello", der.as_bytes()).unwrap();
        key.verify_prehashed(HashAlgorithm::Sha256, &key.message_digest(b"hello"), der.as_bytes()).unwrap();
        assert_eq!(key.verify(b"hellp", der.as_bytes()), Err(CryptoError::BadSignature));
        let pem = pem_encode("PUBLIC KEY", spki.as_bytes());
        PublicKey::from_pem(&pem).unwrap().verify(b"hello", der.as_bytes()).unwrap();
    }

    #[test]
    fn every_registry_curve_verifies_under_its_hash_and_refuses_another() {
        let rng = SystemRandom::new();
        for (signing, hash) in [
            (&sig::ECDSA_P256_SHA256_ASN1_SIGNING, HashAlgorithm::Sha256),
            (&sig::ECDSA_P384_SHA384_ASN1_SIGNING, HashAlgorithm::Sha384),
            (&sig::ECDSA_P521_SHA512_ASN1_SIGNING, HashAlgorithm::Sha512),
        ] {
            let (key, pair) = ecdsa(signing);
            assert_eq!(key.default_hash(), hash);
            let signature = pair.sign(&rng, b"artifact").unwrap();
            key.verify(b"artifact", signature.as_ref()).unwrap();
            key.verify_prehashed(hash, &hash.digest(b"artifact"), signature.as_ref()).unwrap();
            assert_eq!(key.verify(b"artifacT", signature.as_ref()), Err(CryptoError::BadSignature));
            // The same signature read as one over another digest of the artifact fails.
            let other = if hash == HashAlgorithm::Sha256 { HashAlgorithm::Sha512 } else { HashAlgorithm::Sha256 };
            assert!(key.verify_prehashed(other, &other.digest(b"artifact"), signature.as_ref()).is_err());
            // A digest of the wrong length for its algorithm is refused, not truncated.
            assert!(key.verify_prehashed(hash, &[0u8; 20], signature.as_ref()).is_err());
        }
    }

    #[test]
    fn ed25519_verifies_the_message_and_refuses_a_prehash() {
        let pair = Ed25519KeyPair::generate().unwrap();
        let spki = pair.public_key().as_der().unwrap();
        let key = PublicKey::from_spki_der(spki.as_ref()).unwrap();
        assert!(matches!(key, PublicKey::Ed25519(_)));
        let signature = pair.sign(b"note body\n");
        key.verify(b"note body\n", signature.as_ref()).unwrap();
        assert_eq!(key.verify(b"note body", signature.as_ref()), Err(CryptoError::BadSignature));
        assert_eq!(key.verify(b"note body\n", &signature.as_ref()[..63]), Err(CryptoError::MalformedSignature));
        assert_eq!(
            key.verify_prehashed(HashAlgorithm::Sha256, &[0u8; 32], signature.as_ref()),
            Err(CryptoError::PrehashNotSupported)
        );
    }

    #[test]
    fn rsa_pkcs1_and_pss_verify_whole_and_prehashed() {
        let rng = SystemRandom::new();
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let spki = pair.public_key().as_der().unwrap();
        let key = PublicKey::from_spki_der(spki.as_ref()).unwrap();
        assert!(matches!(key, PublicKey::Rsa(_)));
        for encoding in [&sig::RSA_PKCS1_SHA256, &sig::RSA_PSS_SHA256] {
            let mut signature = vec![0u8; pair.public_modulus_len()];
            pair.sign(encoding, &rng, b"artifact", &mut signature).unwrap();
            key.verify(b"artifact", &signature).unwrap();
            let digest = HashAlgorithm::Sha256.digest(b"artifact");
            key.verify_prehashed(HashAlgorithm::Sha256, &digest, &signature).unwrap();
            assert_eq!(key.verify(b"artifacT", &signature), Err(CryptoError::BadSignature));
            signature[10] ^= 1;
            assert_eq!(key.verify(b"artifact", &signature), Err(CryptoError::BadSignature));
        }
        let mut signature = vec![0u8; pair.public_modulus_len()];
        pair.sign(&sig::RSA_PKCS1_SHA512, &rng, b"artifact", &mut signature).unwrap();
        key.verify_prehashed(HashAlgorithm::Sha512, &HashAlgorithm::Sha512.digest(b"artifact"), &signature).unwrap();
        // SHA-512 signature is not a SHA-256 one.
        assert_eq!(key.verify(b"artifact", &signature), Err(CryptoError::BadSignature));
    }

    #[test]
    fn an_unknown_curve_is_named() {
        // secp256k1 (1.3.132.0.10): an SPKI with that curve OID.
        let (p256, _) = ecdsa(&sig::ECDSA_P256_SHA256_ASN1_SIGNING);
        let PublicKey::P256(k) = p256 else { panic!() };
        let mut spki = vec![0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
        spki.extend_from_slice(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00]);
        spki.extend_from_slice(k.as_bytes());
        let err = PublicKey::from_spki_der(&spki).unwrap_err();
        assert!(err.to_string().contains("1.3.132.0.10"), "{err}");
    }
}
