//! The ephemeral signing key: P-256, generated per run from the OS random source, held only in
//! memory, zeroized on drop, never printed (the secrets invariant in ARCHITECTURE.md).

use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::{EncodePublicKey as _, LineEnding};

use crate::error::{fail, ExitKind};

/// The ephemeral signing key: generated per signing, held only in memory, never printed.
/// The inner `SigningKey` zeroizes its scalar on drop.
pub struct EphemeralKey {
    key: p256::ecdsa::SigningKey,
}

// The only field, the `SigningKey`, wipes its scalar on drop (checked here at compile time).
impl zeroize::ZeroizeOnDrop for EphemeralKey {}
const _: fn() = || {
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wiped_on_drop::<p256::ecdsa::SigningKey>();
};

impl std::fmt::Debug for EphemeralKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EphemeralKey(****)")
    }
}

impl EphemeralKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> anyhow::Result<Self> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        // A uniformly random 32-byte string is a valid P-256 scalar except with probability
        // about 2^-32; draw again in that case.
        for _ in 0..8 {
            getrandom::getrandom(seed.as_mut_slice())
                .map_err(|e| fail(ExitKind::Environment, format!("cannot read the system random source: {e}")))?;
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(seed.as_slice()) {
                return Ok(Self { key });
            }
        }
        Err(fail(ExitKind::Internal, "cannot generate a P-256 key"))
    }

    /// SPKI PEM text, as sigstore-js sends it to Fulcio.
    pub fn public_key_pem(&self) -> anyhow::Result<String> {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| fail(ExitKind::Internal, format!("cannot encode the public key: {e}")))
    }

    pub fn public_key_der(&self) -> anyhow::Result<Vec<u8>> {
        self.key
            .verifying_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| fail(ExitKind::Internal, format!("cannot encode the public key: {e}")))
    }

    /// ECDSA P-256 with SHA-256 over `message`, ASN.1 DER.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = self.key.sign(message);
        sig.to_der().as_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_shows_and_signs_verifiably() {
        let key = EphemeralKey::generate().unwrap();
        assert_eq!(format!("{key:?}"), "EphemeralKey(****)");
        let pem = key.public_key_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let public = crate::core::crypto::PublicKey::from_pem(&pem).unwrap();
        let sig = key.sign(b"DSSEv1 0  0 ");
        public.verify(b"DSSEv1 0  0 ", &sig).unwrap();
        assert!(public.verify(b"DSSEv1 0  0  ", &sig).is_err());
        let other = EphemeralKey::generate().unwrap();
        assert_ne!(other.public_key_der().unwrap(), key.public_key_der().unwrap());
    }
}
