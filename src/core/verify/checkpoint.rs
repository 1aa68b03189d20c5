//! Signed notes and log checkpoints (sigstore-protocol.md §4.1 "Checkpoint", §4.2; C2SP
//! `signed-note`, `tlog-checkpoint` and `tlog-cosignature`), as Rekor v1 and Rekor v2 write them.
//!
//! A signed note is a UTF-8 text body ending in a newline, a blank line, then one or more
//! signature lines `— <name> <base64(4-byte key hint ‖ signature)>`. The body of a checkpoint
//! is `<origin>\n<tree size>\n<base64 root hash>\n[extension lines\n]`. Only the log's own
//! signature is verified; lines from other signers (witness cosignatures) are ignored, and
//! the log's line need not come first.

use sha2::{Digest as _, Sha256};

use crate::core::crypto::PublicKey;
use crate::core::wire::encoding::b64_decode;

/// The signature-line prefix: U+2014 EM DASH and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The most signature lines a note may carry (as in Go's `golang.org/x/mod/sumdb/note`).
const MAX_SIGNATURES: usize = 100;

/// One signature line of a signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_hint: [u8; 4],
    pub signature: Vec<u8>,
}

/// A parsed (not yet verified) signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote<'a> {
    /// The signed text: everything before the blank line, including its final newline.
    pub body: &'a str,
    pub signatures: Vec<NoteSignature>,
}

/// The body of a checkpoint. Only returned by [`verify_checkpoint`] once its signature checked
/// out, or by [`parse_checkpoint_body`] for callers that verify separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: [u8; 32],
    /// Extension lines after the root hash (e.g. Rekor v1's `Timestamp: …`), uninterpreted.
    pub extensions: Vec<String>,
}

/// What identifies a log's signature on a note.
#[derive(Debug, Clone)]
pub struct NoteVerifier<'a> {
    /// Acceptable signer names (the log's scheme-less URL, with and without a port).
    pub names: Vec<String>,
    /// The first four bytes of the log's key ID.
    pub key_hint: [u8; 4],
    pub key: &'a PublicKey,
    /// Whether the origin must equal the signer name exactly (C2SP, Rekor v2) or may carry
    /// Rekor v1's ` - <tree ID>` suffix.
    pub origin: OriginRule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginRule {
    /// Rekor v1: `<name>` or `<name> - <tree ID>`.
    NameWithTreeId,
    /// C2SP (Rekor v2): exactly `<name>`.
    Exact,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The text has no blank line separating the body from the signatures.
    NoSeparator,
    /// The body is not newline-terminated lines of text.
    MalformedBody {
        reason: String,
    },
    /// A signature line is not `— <name> <base64>`.
    MalformedSignatureLine {
        line: usize,
        reason: String,
    },
    /// The note carries no signature lines at all.
    NoSignatures,
    TooManySignatures {
        count: usize,
    },
    /// No signature line carries the log's name and key hint.
    NoLogSignature {
        expected_names: Vec<String>,
        key_hint: [u8; 4],
    },
    /// The log's signature line is present but does not verify.
    BadSignature,
    /// The origin line does not name the log.
    OriginMismatch {
        origin: String,
        expected: String,
    },
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoSeparator => f.write_str("checkpoint has no blank line before its signatures"),
            Self::MalformedBody { reason } => write!(f, "checkpoint body is malformed: {reason}"),
            Self::MalformedSignatureLine { line, reason } => {
                write!(f, "checkpoint signature line {line} is malformed: {reason}")
            }
            Self::NoSignatures => f.write_str("checkpoint carries no signatures"),
            Self::TooManySignatures { count } => write!(f, "checkpoint carries {count} signatures, more than allowed"),
            Self::NoLogSignature { expected_names, key_hint } => write!(
                f,
                "checkpoint has no signature from the log (expected name {} with key hint {})",
                expected_names.first().map(String::as_str).unwrap_or(""),
                hex::encode(key_hint)
            ),
            Self::BadSignature => f.write_str("checkpoint signature from the log does not verify"),
            Self::OriginMismatch { origin, expected } => {
                write!(f, "checkpoint origin {origin:?} does not name the log {expected:?}")
            }
        }
    }
}

impl std::error::Error for CheckpointError {}

/// Splits a signed note into its body and signature lines (C2SP signed-note: the body ends at
/// the last blank line; every signature line must be well formed, unknown signers included).
pub fn parse_signed_note(text: &str) -> Result<SignedNote<'_>, CheckpointError> {
    let split = text.rfind("\n\n").ok_or(CheckpointError::NoSeparator)?;
    let body = &text[..split + 1];
    let block = &text[split + 2..];
    if body.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CheckpointError::MalformedBody { reason: "control character in the body".into() });
    }
    if block.is_empty() {
        return Err(CheckpointError::NoSignatures);
    }
    if !block.ends_with('\n') {
        return Err(CheckpointError::MalformedSignatureLine {
            line: block.lines().count(),
            reason: "the signature block does not end with a newline".into(),
        });
    }
    let mut signatures = Vec::new();
    for (i, line) in block[..block.len() - 1].split('\n').enumerate() {
        let line_no = i + 1;
        let bad = |reason: &str| CheckpointError::MalformedSignatureLine { line: line_no, reason: reason.to_owned() };
        let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(|| bad("does not start with an em dash"))?;
        let (name, b64) = rest.split_once(' ').ok_or_else(|| bad("no space between name and signature"))?;
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains('+') {
            return Err(bad("invalid signer name"));
        }
        let raw = b64_decode(b64).map_err(|_| bad("signature is not base64"))?;
        if raw.len() < 5 {
            return Err(bad("signature is shorter than a key hint"));
        }
        let mut key_hint = [0u8; 4];
        key_hint.copy_from_slice(&raw[..4]);
        signatures.push(NoteSignature { name: name.to_owned(), key_hint, signature: raw[4..].to_vec() });
    }
    if signatures.len() > MAX_SIGNATURES {
        return Err(CheckpointError::TooManySignatures { count: signatures.len() });
    }
    Ok(SignedNote { body, signatures })
}

/// Parses a checkpoint body (C2SP tlog-checkpoint): origin, decimal tree size, base64 root
/// hash of 32 bytes, then optional non-empty extension lines.
pub fn parse_checkpoint_body(body: &str) -> Result<Checkpoint, CheckpointError> {
    let bad = |reason: &str| CheckpointError::MalformedBody { reason: reason.to_owned() };
    let text = body.strip_suffix('\n').ok_or_else(|| bad("does not end with a newline"))?;
    let mut lines = text.split('\n');
    let origin = lines.next().filter(|l| !l.is_empty()).ok_or_else(|| bad("empty origin line"))?;
    let size_line = lines.next().ok_or_else(|| bad("missing tree size line"))?;
    if size_line.is_empty() || !size_line.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("tree size is not a decimal number"));
    }
    let tree_size: u64 = size_line.parse().map_err(|_| bad("tree size is out of range"))?;
    let root_line = lines.next().ok_or_else(|| bad("missing root hash line"))?;
    let root = b64_decode(root_line).map_err(|_| bad("root hash is not base64"))?;
    let root_hash: [u8; 32] = root.as_slice().try_into().map_err(|_| bad("root hash is not 32 bytes"))?;
    let mut extensions = Vec::new();
    for line in lines {
        if line.is_empty() {
            return Err(bad("empty extension line"));
        }
        extensions.push(line.to_owned());
    }
    Ok(Checkpoint { origin: origin.to_owned(), tree_size, root_hash, extensions })
}

/// Verifies a checkpoint's signed note with the log's key and returns its body.
///
/// Steps (sigstore-protocol.md §4.1 "Checks", C2SP signed-note "Verifying"): parse the note
/// and its checkpoint body; among the signature lines, take those whose name and key hint
/// match the log (other lines are cosignatures or unknown signers and are ignored); one of
/// them must verify over the exact body bytes; the origin must name the log.
pub fn verify_checkpoint(text: &str, verifier: &NoteVerifier<'_>) -> Result<Checkpoint, CheckpointError> {
    let note = parse_signed_note(text)?;
    let checkpoint = parse_checkpoint_body(note.body)?;
    let mut candidates = note
        .signatures
        .iter()
        .filter(|s| s.key_hint == verifier.key_hint && verifier.names.contains(&s.name))
        .peekable();
    let Some(_) = candidates.peek() else {
        return Err(CheckpointError::NoLogSignature {
            expected_names: verifier.names.clone(),
            key_hint: verifier.key_hint,
        });
    };
    let signer = candidates
        .find(|s| verifier.key.verify(note.body.as_bytes(), &s.signature).is_ok())
        .ok_or(CheckpointError::BadSignature)?;
    // The origin names the log: C2SP requires it to be the signer's name; Rekor v1 appends
    // ` - <tree ID>` and may sign with the bare host of a `host:port` origin.
    let origin_ok = match verifier.origin {
        OriginRule::Exact => checkpoint.origin == signer.name,
        OriginRule::NameWithTreeId => {
            let base = match checkpoint.origin.split_once(" - ") {
                Some((base, id)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => base,
                _ => checkpoint.origin.as_str(),
            };
            verifier.names.iter().any(|n| n == base)
        }
    };
    if !origin_ok {
        return Err(CheckpointError::OriginMismatch { origin: checkpoint.origin, expected: signer.name.clone() });
    }
    Ok(checkpoint)
}

/// The C2SP signed-note key ID of a log key, which is also a Rekor v2 log ID
/// (sigstore-protocol.md §4.2): Ed25519 `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ raw key)`, ECDSA
/// `SHA-256(SPKI DER)`, RSA `SHA-256(name ‖ 0x0A ‖ 0xFF ‖ "PKIX-RSA-PKCS#1v1.5" ‖ SPKI DER)`.
pub fn c2sp_key_id(name: &str, key: &PublicKey, spki_der: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    match key {
        PublicKey::Ed25519(k) => {
            h.update(name.as_bytes());
            h.update([0x0A, 0x01]);
            h.update(k.as_bytes());
        }
        PublicKey::RsaPkcs1Sha256(_) => {
            h.update(name.as_bytes());
            h.update([0x0A, 0xFF]);
            h.update(b"PKIX-RSA-PKCS#1v1.5");
            h.update(spki_der);
        }
        PublicKey::P256(_) | PublicKey::P384(_) => h.update(spki_der),
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::trust_root::TrustedRoot;

    const V1_NOTE: &str = "rekor.sigstore.dev - 2605736670972794746\n23083062\ndauhleYK4YyAdxwwDtR0l0KnSOWZdG2bwqHftlanvcI=\nTimestamp: 1689177396617352539\n\n\u{2014} rekor.sigstore.dev wNI9ajBFAiBxaGyEtxkzFLkaCSEJqFuSS3dJjEZCNiyByVs1CNVQ8gIhAOoNnXtmMtTctV2oRnSRUZAo4EWUYPK/vBsqOzAU6TMs\n";

    fn prod_key() -> (Vec<u8>, PublicKey) {
        let root: TrustedRoot =
            serde_json::from_str(include_str!("../../../tests/data/trust/public-good-production-trusted_root.json"))
                .unwrap();
        let spki = root.tlogs[0].public_key.raw_bytes.clone();
        let key = PublicKey::from_spki_der(&spki).unwrap();
        (spki, key)
    }

    #[test]
    fn a_real_rekor_v1_checkpoint_parses_and_verifies() {
        let (spki, key) = prod_key();
        let id = c2sp_key_id("rekor.sigstore.dev", &key, &spki);
        let v = NoteVerifier {
            names: vec!["rekor.sigstore.dev".into()],
            key_hint: id[..4].try_into().unwrap(),
            key: &key,
            origin: OriginRule::NameWithTreeId,
        };
        let cp = verify_checkpoint(V1_NOTE, &v).unwrap();
        assert_eq!(cp.origin, "rekor.sigstore.dev - 2605736670972794746");
        assert_eq!(cp.tree_size, 23083062);
        assert_eq!(cp.extensions, vec!["Timestamp: 1689177396617352539".to_owned()]);
        // Under the C2SP exact-origin rule the Rekor v1 tree-ID suffix is refused.
        let exact = NoteVerifier { origin: OriginRule::Exact, ..v.clone() };
        assert!(matches!(verify_checkpoint(V1_NOTE, &exact), Err(CheckpointError::OriginMismatch { .. })));
    }

    #[test]
    fn a_changed_body_or_name_or_hint_is_rejected() {
        let (spki, key) = prod_key();
        let id = c2sp_key_id("rekor.sigstore.dev", &key, &spki);
        let v = NoteVerifier {
            names: vec!["rekor.sigstore.dev".into()],
            key_hint: id[..4].try_into().unwrap(),
            key: &key,
            origin: OriginRule::NameWithTreeId,
        };
        let grown_tree = V1_NOTE.replace("23083062", "23083063");
        assert_eq!(verify_checkpoint(&grown_tree, &v), Err(CheckpointError::BadSignature));
        let other_name = NoteVerifier { names: vec!["rekor.sigstage.dev".into()], ..v.clone() };
        assert!(matches!(verify_checkpoint(V1_NOTE, &other_name), Err(CheckpointError::NoLogSignature { .. })));
        let other_hint = NoteVerifier { key_hint: [0xc4, 0xd2, 0x3d, 0x6a], ..v.clone() };
        assert!(matches!(verify_checkpoint(V1_NOTE, &other_hint), Err(CheckpointError::NoLogSignature { .. })));
        let log_line_dropped = V1_NOTE.split("\u{2014}").next().unwrap();
        assert_eq!(verify_checkpoint(log_line_dropped, &v), Err(CheckpointError::NoSignatures));
    }

    #[test]
    fn malformed_notes_are_refused_by_the_parser() {
        assert_eq!(parse_signed_note("origin\n1\nroot\n"), Err(CheckpointError::NoSeparator));
        assert!(matches!(
            parse_signed_note("a\n\n\u{2014} name AAAAAAAA\nnot a signature\n"),
            Err(CheckpointError::MalformedSignatureLine { line: 2, .. })
        ));
        assert!(matches!(
            parse_checkpoint_body("736\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n"),
            Err(CheckpointError::MalformedBody { .. })
        ));
        assert!(matches!(parse_checkpoint_body("origin\n736\n"), Err(CheckpointError::MalformedBody { .. })));
        assert!(matches!(
            parse_checkpoint_body("origin\n-1\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n"),
            Err(CheckpointError::MalformedBody { .. })
        ));
        assert!(matches!(parse_checkpoint_body("origin\n7\nAAAA\n"), Err(CheckpointError::MalformedBody { .. })));
    }

    /// Signs `body` as a note line for `name` (test helper: production signing is the stand-in's).
    fn sign_line(name: &str, hint: &[u8], sig: &[u8]) -> String {
        let mut raw = hint[..4].to_vec();
        raw.extend_from_slice(sig);
        format!("\u{2014} {name} {}\n", crate::core::wire::encoding::b64_encode(raw))
    }

    #[test]
    fn an_ed25519_c2sp_checkpoint_needs_the_exact_origin() {
        use ed25519_dalek::Signer as _;
        use p256::pkcs8::EncodePublicKey as _;
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let spki = sk.verifying_key().to_public_key_der().unwrap();
        let key = PublicKey::from_spki_der(spki.as_bytes()).unwrap();
        let id = c2sp_key_id("log.example.org", &key, spki.as_bytes());
        let v = NoteVerifier {
            names: vec!["log.example.org".into()],
            key_hint: id[..4].try_into().unwrap(),
            key: &key,
            origin: OriginRule::Exact,
        };
        let root = crate::core::wire::encoding::b64_encode([9u8; 32]);
        let note = |origin: &str| {
            let body = format!("{origin}\n5\n{root}\n");
            let sig = sk.sign(body.as_bytes()).to_bytes();
            let witness = sign_line("witness.example", &[1, 2, 3, 4], &[0u8; 72]);
            format!("{body}\n{witness}{}", sign_line("log.example.org", &id, &sig))
        };
        let cp = verify_checkpoint(&note("log.example.org"), &v).unwrap();
        assert_eq!((cp.tree_size, cp.root_hash), (5, [9u8; 32]));
        assert!(matches!(
            verify_checkpoint(&note("other.example.org"), &v),
            Err(CheckpointError::OriginMismatch { .. })
        ));
    }

    #[test]
    fn a_rekor_v1_origin_may_carry_a_tree_id_and_a_port() {
        use p256::ecdsa::signature::Signer as _;
        use p256::pkcs8::EncodePublicKey as _;
        let sk = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
        let spki = sk.verifying_key().to_public_key_der().unwrap();
        let key = PublicKey::from_spki_der(spki.as_bytes()).unwrap();
        let id = c2sp_key_id("", &key, spki.as_bytes());
        let v = NoteVerifier {
            names: vec!["127.0.0.1:8080".into(), "127.0.0.1".into()],
            key_hint: id[..4].try_into().unwrap(),
            key: &key,
            origin: OriginRule::NameWithTreeId,
        };
        let root = crate::core::wire::encoding::b64_encode([3u8; 32]);
        let note = |origin: &str, name: &str| {
            let body = format!("{origin}\n9\n{root}\nTimestamp: 1\n");
            let sig: p256::ecdsa::Signature = sk.sign(body.as_bytes());
            format!("{body}\n{}", sign_line(name, &id, sig.to_der().as_bytes()))
        };
        verify_checkpoint(&note("127.0.0.1:8080 - 4242", "127.0.0.1"), &v).unwrap();
        verify_checkpoint(&note("127.0.0.1:8080", "127.0.0.1:8080"), &v).unwrap();
        assert!(matches!(
            verify_checkpoint(&note("rekor.example - 4242", "127.0.0.1"), &v),
            Err(CheckpointError::OriginMismatch { .. })
        ));
        assert!(matches!(
            verify_checkpoint(&note("127.0.0.1:8080 - 4242", "rekor.example"), &v),
            Err(CheckpointError::NoLogSignature { .. })
        ));
    }
}
