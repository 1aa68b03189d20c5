//! The signature checks behind `sigstore-tuf`, on the crypto stack the rest of npm-attest uses
//! (aws-lc-rs, with RustCrypto for the pre-hashed ECDSA variants), installed as the crate's
//! provider so that its own feature set stays off.
//!
//! `sigstore-crypto` hands us the raw `subjectPublicKey` bits it has already validated (an
//! uncompressed SEC1 point for ECDSA, 32 bytes for Ed25519, PKCS#1 `RSAPublicKey` for RSA).

use std::sync::OnceLock;

use aws_lc_rs::signature::{self as rs, UnparsedPublicKey, VerificationAlgorithm};
use sha2::Digest as _;
use sigstore_crypto::provider::{CryptoProvider, HashContext};
use sigstore_crypto::{Error, Result, SigningScheme};
use sigstore_types::HashAlgorithm;

#[derive(Debug)]
struct AwsLcProvider;

static PROVIDER: AwsLcProvider = AwsLcProvider;
static INSTALLED: OnceLock<()> = OnceLock::new();

/// Installs the provider for the process (once; later calls do nothing). Every entry point of
/// the TUF client calls this before `sigstore-tuf` checks a signature.
pub(super) fn install() {
    INSTALLED.get_or_init(|| {
        // An `Err` means a provider is already installed, which can only be this one.
        let _ = sigstore_crypto::provider::install_default_provider(&PROVIDER);
    });
}

enum Hasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl HashContext for Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    fn finalize(self: Box<Self>) -> Vec<u8> {
        match *self {
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha384(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

fn algorithm(scheme: SigningScheme) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match scheme {
        SigningScheme::EcdsaP256Sha256 => &rs::ECDSA_P256_SHA256_ASN1,
        SigningScheme::EcdsaP256Sha384 => &rs::ECDSA_P256_SHA384_ASN1,
        SigningScheme::EcdsaP384Sha256 => &rs::ECDSA_P384_SHA256_ASN1,
        SigningScheme::EcdsaP384Sha384 => &rs::ECDSA_P384_SHA384_ASN1,
        SigningScheme::Ed25519 => &rs::ED25519,
        SigningScheme::RsaPssSha256 => &rs::RSA_PSS_2048_8192_SHA256,
        SigningScheme::RsaPssSha384 => &rs::RSA_PSS_2048_8192_SHA384,
        SigningScheme::RsaPssSha512 => &rs::RSA_PSS_2048_8192_SHA512,
        SigningScheme::RsaPkcs1Sha256 => &rs::RSA_PKCS1_2048_8192_SHA256,
        SigningScheme::RsaPkcs1Sha384 => &rs::RSA_PKCS1_2048_8192_SHA384,
        SigningScheme::RsaPkcs1Sha512 => &rs::RSA_PKCS1_2048_8192_SHA512,
        // ML-DSA (TAP 21) and any scheme added later: not supported, so never counted.
        _ => return None,
    })
}

/// Whether a signature under `scheme` can be checked here at all.
pub(super) fn supports(scheme: SigningScheme) -> bool {
    algorithm(scheme).is_some()
}

impl CryptoProvider for AwsLcProvider {
    fn hash(&self, algorithm: HashAlgorithm) -> Result<Box<dyn HashContext>> {
        Ok(Box::new(match algorithm {
            HashAlgorithm::Sha2256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Sha2384 => Hasher::Sha384(sha2::Sha384::new()),
            HashAlgorithm::Sha2512 => Hasher::Sha512(sha2::Sha512::new()),
            other => return Err(Error::UnsupportedAlgorithm(format!("{other:?}"))),
        }))
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }

    fn sha384(&self, data: &[u8]) -> [u8; 48] {
        sha2::Sha384::digest(data).into()
    }

    fn sha512(&self, data: &[u8]) -> [u8; 64] {
        sha2::Sha512::digest(data).into()
    }

    fn verify_raw(&self, scheme: SigningScheme, public_key: &[u8], data: &[u8], signature: &[u8]) -> Result<()> {
        let algorithm = algorithm(scheme)
            .ok_or_else(|| Error::UnsupportedAlgorithm(format!("{scheme:?} is not supported by npm-attest")))?;
        UnparsedPublicKey::new(algorithm, public_key)
            .verify(data, signature)
            .map_err(|_| Error::Verification(format!("{scheme:?} signature does not verify")))
    }

    fn verify_prehashed(
        &self,
        scheme: SigningScheme,
        public_key: &[u8],
        digest: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        let bad = || Error::Verification(format!("{scheme:?} signature does not verify"));
        match scheme {
            SigningScheme::EcdsaP256Sha256 | SigningScheme::EcdsaP256Sha384 => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| bad())?;
                let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| bad())?;
                key.verify_prehash(digest, &sig).map_err(|_| bad())
            }
            SigningScheme::EcdsaP384Sha256 | SigningScheme::EcdsaP384Sha384 => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| bad())?;
                let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| bad())?;
                key.verify_prehash(digest, &sig).map_err(|_| bad())
            }
            // TUF signs the canonical bytes themselves; nothing here verifies a pre-hashed RSA
            // or Ed25519 signature.
            _ => Err(Error::UnsupportedAlgorithm(format!("pre-hashed {scheme:?} is not supported by npm-attest"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_and_p256_signatures_check_and_tampering_fails() {
        install();
        use aws_lc_rs::signature::KeyPair as _;
        let key = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).unwrap();
        let sig = key.sign(b"canonical bytes").as_ref().to_vec();
        let public = key.public_key().as_ref().to_vec();
        PROVIDER.verify_raw(SigningScheme::Ed25519, &public, b"canonical bytes", &sig).unwrap();
        assert!(PROVIDER.verify_raw(SigningScheme::Ed25519, &public, b"canonical bytez", &sig).is_err());

        let key = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
        let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&key, b"metadata");
        let der = sig.to_der();
        let point = key.verifying_key().to_encoded_point(false);
        PROVIDER.verify_raw(SigningScheme::EcdsaP256Sha256, point.as_bytes(), b"metadata", der.as_bytes()).unwrap();
        let digest = sha2::Sha256::digest(b"metadata");
        PROVIDER.verify_prehashed(SigningScheme::EcdsaP256Sha256, point.as_bytes(), &digest, der.as_bytes()).unwrap();
        assert!(PROVIDER
            .verify_raw(SigningScheme::EcdsaP256Sha256, point.as_bytes(), b"other", der.as_bytes())
            .is_err());
    }
}
