//! Secrets: OIDC identity tokens, registry tokens and the ephemeral signing key.
//!
//! Architecture invariant: a secret's value is reachable only through `expose()`; `Debug`
//! prints a redacted placeholder, there is no `Display`, and the memory is zeroized on drop.
//! Under GitHub Actions, every secret that enters the process is masked once with
//! `::add-mask::` (see `report::mask`).

use zeroize::{Zeroize, Zeroizing};

/// A secret string (a JWT, a registry token).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The only way to read the value. Call sites should be few and greppable.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(****)")
    }
}

// The value lives only in a `Zeroizing<String>`, which wipes it on drop (checked here at
// compile time), so `SecretString` does too.
impl zeroize::ZeroizeOnDrop for SecretString {}
const _: fn() = || {
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wiped_on_drop::<Zeroizing<String>>();
};

impl Zeroize for SecretString {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = SecretString::new("eyJhbGciOiJFUzI1NiJ9.secret-part.sig".into());
        let shown = format!("{s:?} {:#?}", s);
        assert!(!shown.contains("secret-part"));
        assert!(!shown.contains("eyJ"));
        assert_eq!(s.expose(), "eyJhbGciOiJFUzI1NiJ9.secret-part.sig");
    }
}
