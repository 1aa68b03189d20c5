//! Parsers of outside input never panic: real inputs (npm and conformance bundles, trusted
//! roots, identity tokens, checkpoints, Rekor responses, certificates, tarballs) mutated by a
//! small seeded mutation engine, each run under `catch_unwind`. Every case starts from an input
//! that is checked to be accepted, so mutations reach deep into the parsers rather than
//! stopping at the first byte. A failure prints the seed and iteration that reproduce it.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use npm_attest::core::crypto::{pem_rfc7468_decode, PublicKey};
use npm_attest::core::verify::checkpoint::{verify_checkpoint, NoteVerifier, OriginRule};
use npm_attest::core::verify::{
    verify_bundle, ArtifactDigests, IdentityMatcher, IdentityPolicy, NpmPackage, Policy, Subject,
};
use npm_attest::core::wire::bundle::Bundle;
use npm_attest::core::wire::encoding::{b64_decode, b64_encode};
use npm_attest::core::wire::rekor::parse_entry_response;
use npm_attest::core::wire::trust_root::TrustedRoot;
use serde_json::{json, Value};

use crate::support::data;

// ---------------------------------------------------------------------------------------------
// The mutation engine.

/// SplitMix64: small, seedable, and the same stream on every platform.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

const INTERESTING_BYTES: [u8; 10] = [0x00, 0x01, 0x7f, 0x80, 0xff, b'"', b'\\', b'\n', b'{', b'['];

/// One to four byte-level edits: bit flips, interesting bytes, truncation, deletion,
/// duplication, insertion, swaps and maximised length fields.
pub(crate) fn mutate_bytes(rng: &mut Rng, data: &mut Vec<u8>) -> String {
    let mut done = Vec::new();
    for _ in 0..1 + rng.below(4) {
        if data.is_empty() {
            data.push(INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())]);
            done.push("grow".to_owned());
            continue;
        }
        let at = rng.below(data.len());
        match rng.below(8) {
            0 => {
                data[at] ^= 1 << rng.below(8);
                done.push(format!("flip@{at}"));
            }
            1 => {
                data[at] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
                done.push(format!("set@{at}"));
            }
            2 => {
                data.truncate(at);
                done.push(format!("truncate@{at}"));
            }
            3 => {
                let end = (at + 1 + rng.below(32)).min(data.len());
                data.drain(at..end);
                done.push(format!("delete@{at}..{end}"));
            }
            4 => {
                let end = (at + 1 + rng.below(64)).min(data.len());
                let copy = data[at..end].to_vec();
                let to = rng.below(data.len());
                data.splice(to..to, copy);
                done.push(format!("duplicate@{at}..{end}->{to}"));
            }
            5 => {
                let extra: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.next() as u8).collect();
                data.splice(at..at, extra);
                done.push(format!("insert@{at}"));
            }
            6 => {
                let other = rng.below(data.len());
                data.swap(at, other);
                done.push(format!("swap@{at},{other}"));
            }
            _ => {
                let end = (at + 1 + rng.below(4)).min(data.len());
                data[at..end].fill(0xff);
                done.push(format!("max@{at}..{end}"));
            }
        }
    }
    done.join(" ")
}

/// JSON pointers to every node of `value` (the root is "").
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// A value of another type, or an extreme of the same.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(0),
        3 => json!(-1),
        4 => json!(i64::MAX),
        5 => json!(u64::MAX),
        6 => json!(i64::MIN),
        7 => json!(1e308),
        8 => json!(-0.5),
        9 => json!(""),
        10 => json!("AAAA"),
        11 => json!("-1"),
        12 => json!([]),
        _ => json!({}),
    }
}

/// One structural edit of a JSON document: delete a member, change a type, edit the bytes a
/// base64 string carries, edit a string's text, grow an array huge, nest deeply, or copy one
/// node over another.
pub(crate) fn mutate_json(rng: &mut Rng, doc: &mut Value) -> String {
    let mut all = Vec::new();
    pointers(doc, String::new(), &mut all);
    let target = all[rng.below(all.len())].clone();
    let op = rng.below(10);
    if op == 0 && !target.is_empty() {
        // Delete the member or element.
        let (parent, last) = target.rsplit_once('/').unwrap();
        let key = last.replace("~1", "/").replace("~0", "~");
        match doc.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.shift_remove(&key);
            }
            Some(Value::Array(items)) => {
                if let Ok(i) = key.parse::<usize>() {
                    if i < items.len() {
                        items.remove(i);
                    }
                }
            }
            _ => {}
        }
        return format!("delete {target}");
    }
    let donor = {
        let other = all[rng.below(all.len())].clone();
        doc.pointer(&other).cloned().unwrap_or(Value::Null)
    };
    let Some(node) = doc.pointer_mut(&target) else {
        return "none".into();
    };
    match op {
        1 | 2 => {
            *node = odd_value(rng);
            format!("retype {target}")
        }
        3 | 4 => match node {
            // Protobuf JSON writes int64 fields as decimal strings: try the extremes.
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                const EXTREMES: [&str; 7] = [
                    "0",
                    "1",
                    "-1",
                    "9223372036854775807",
                    "9223372036854775808",
                    "18446744073709551615",
                    "-9223372036854775808",
                ];
                *s = EXTREMES[rng.below(EXTREMES.len())].to_owned();
                format!("int64 {target}")
            }
            Value::String(s) => match b64_decode(s) {
                Ok(mut raw) if !raw.is_empty() => {
                    let how = mutate_bytes(rng, &mut raw);
                    *s = b64_encode(&raw);
                    format!("base64 bytes {target}: {how}")
                }
                _ => {
                    let mut raw = s.clone().into_bytes();
                    let how = mutate_bytes(rng, &mut raw);
                    *s = String::from_utf8_lossy(&raw).into_owned();
                    format!("text {target}: {how}")
                }
            },
            Value::Number(_) => {
                *node = odd_value(rng);
                format!("number {target}")
            }
            _ => {
                *node = odd_value(rng);
                format!("replace {target}")
            }
        },
        5 => {
            // A huge array: thousands of copies of an element (or of the node itself).
            let item = match &*node {
                Value::Array(items) if !items.is_empty() => items[0].clone(),
                other => other.clone(),
            };
            // At most about 300 kB of JSON, so that thousands of iterations stay fast.
            let size = item.to_string().len().max(1);
            let copies = (1000 + rng.below(4000)).min(300_000 / size).max(2);
            *node = Value::Array(vec![item; copies]);
            format!("huge array {target} x{copies}")
        }
        6 => {
            // Deep nesting, near serde_json's recursion limit once re-parsed.
            let mut v = std::mem::take(node);
            for _ in 0..100 + rng.below(30) {
                v = json!([v]);
            }
            *node = v;
            format!("nest {target}")
        }
        7 => {
            if let Value::String(s) = node {
                let big = s.repeat(64.min(1 + 1_000_000 / (s.len() + 1)));
                *s = big;
            } else {
                *node = json!("x".repeat(100_000));
            }
            format!("long string {target}")
        }
        _ => {
            *node = donor;
            format!("copy onto {target}")
        }
    }
}

/// Runs `f` for `iterations` seeds, each under `catch_unwind`; fails listing the panics.
/// `HOSTILE_SCALE=N` multiplies every iteration count (and `HOSTILE_SEED=S` changes the seeds)
/// for a longer local search; the defaults keep the suite fast.
fn no_panics(name: &str, seed: u64, iterations: u64, mut f: impl FnMut(&mut Rng) -> String) {
    let scale: u64 = std::env::var("HOSTILE_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let seed = seed ^ std::env::var("HOSTILE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0u64);
    let iterations = iterations * scale;
    let mut panics = Vec::new();
    for i in 0..iterations {
        let mut rng = Rng::new(seed ^ i.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut how = String::new();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            how = f(&mut rng);
        }));
        if let Err(payload) = outcome {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panics.push(format!("{name} seed {seed} iteration {i}: {message} ({how})"));
        }
    }
    assert!(panics.is_empty(), "{} panics:\n{}", panics.len(), panics.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Inputs that verify, to mutate.

struct Case {
    name: String,
    bundle: Value,
    root: TrustedRoot,
    subject: Subject,
    policy: Policy,
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn production() -> TrustedRoot {
    serde_json::from_value(read_json(&data("trust/public-good-production-trusted_root.json"))).unwrap()
}

fn keyless(issuer: &str, san: &str) -> Policy {
    let mut p = IdentityPolicy::new(issuer);
    p.san = Some(IdentityMatcher::Exact(san.to_owned()));
    Policy::Keyless(p)
}

/// npm provenance bundles (v0.1, v0.2, v0.3; intoto and dsse entries) from `index.json`.
fn npm_cases() -> Vec<Case> {
    let index = read_json(&data("npm-provenance/index.json"));
    let wanted = [
        "sigstore-1.0.0-provenance.sigstore.json",
        "sigstore-2.1.0-provenance-v0.3.sigstore.json",
        "gundam-visor-1.0.1-provenance.sigstore.json",
        "playwright-cli-0.1.1-provenance.sigstore.json",
        "sigstore-1.0.0-email-dsse-v0.2.sigstore.json",
    ];
    index
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| wanted.contains(&e["file"].as_str().unwrap()))
        .map(|e| {
            let purl = e["purl"].as_str().unwrap().strip_prefix("pkg:npm/").unwrap();
            let (name, version) = purl.rsplit_once('@').unwrap();
            let sha512: [u8; 64] = hex::decode(e["sha512"].as_str().unwrap()).unwrap().try_into().unwrap();
            Case {
                name: e["file"].as_str().unwrap().to_owned(),
                bundle: read_json(&data(&format!("npm-provenance/{}", e["file"].as_str().unwrap()))),
                root: production(),
                subject: Subject::NpmPackage(NpmPackage {
                    name: name.replace("%40", "@"),
                    version: version.to_owned(),
                    sha512,
                }),
                policy: keyless(e["issuer"].as_str().unwrap(), e["san"].as_str().unwrap()),
            }
        })
        .collect()
}

/// Conformance vectors: v0.1 hashedrekord, Rekor v2 with TSA timestamps, a managed key.
fn conformance_cases() -> Vec<Case> {
    const SAN: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    const ISSUER: &str = "https://token.actions.githubusercontent.com";
    let a_txt = std::fs::read(data("sigstore-conformance/a.txt")).unwrap();
    [
        "happy-path-v0.1",
        "happy-path-intoto-in-dsse-v3",
        "rekor2-happy-path",
        "rekor2-dsse-happy-path",
        "rekor2-timestamp-with-embedded-cert",
        "managed-key-happy-path",
    ]
    .iter()
    .map(|case| {
        let dir = data(&format!("sigstore-conformance/bundle-verify/{case}"));
        let root = if dir.join("trusted_root.json").exists() {
            serde_json::from_value(read_json(&dir.join("trusted_root.json"))).unwrap()
        } else {
            production()
        };
        let policy = if dir.join("key.pub").exists() {
            let pem = std::fs::read_to_string(dir.join("key.pub")).unwrap();
            Policy::ManagedKey { spki_der: pem_rfc7468_decode(&pem).unwrap().1 }
        } else {
            keyless(ISSUER, SAN)
        };
        Case {
            name: (*case).to_owned(),
            bundle: read_json(&dir.join("bundle.sigstore.json")),
            root,
            subject: Subject::Artifact(ArtifactDigests::of_bytes(&a_txt)),
            policy,
        }
    })
    .collect()
}

fn verify_text(text: &[u8], case: &Case, root: &TrustedRoot) -> bool {
    match serde_json::from_slice::<Bundle>(text) {
        Ok(bundle) => verify_bundle(&bundle, root, &case.subject, &case.policy).is_ok(),
        Err(_) => false,
    }
}

fn all_cases() -> Vec<Case> {
    let cases: Vec<Case> = npm_cases().into_iter().chain(conformance_cases()).collect();
    assert_eq!(cases.len(), 11);
    for case in &cases {
        let text = serde_json::to_vec(&case.bundle).unwrap();
        assert!(verify_text(&text, case, &case.root), "{} must verify unmutated", case.name);
    }
    cases
}

// ---------------------------------------------------------------------------------------------
// The properties.

#[test]
fn mutated_bundles_never_panic_the_verifier() {
    let cases = all_cases();
    let mut accepted = 0;
    no_panics("bundle", 0xb0d1e, 2000, |rng| {
        let case = &cases[rng.below(cases.len())];
        let mut doc = case.bundle.clone();
        let mut how = Vec::new();
        for _ in 0..1 + rng.below(2) {
            how.push(mutate_json(rng, &mut doc));
        }
        let mut text = serde_json::to_vec(&doc).unwrap();
        if rng.one_in(4) {
            how.push(mutate_bytes(rng, &mut text));
        }
        if verify_text(&text, case, &case.root) {
            accepted += 1;
        }
        format!("{}: {}", case.name, how.join("; "))
    });
    // Most edits must be refused (a few, like reordering or deleting an ignored member, are
    // harmless); a verifier that accepts most mutants checks nothing.
    let scale: usize = std::env::var("HOSTILE_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    assert!(accepted < 400 * scale, "{accepted} of 2000 mutated bundles verified");
}

#[test]
fn mutated_trusted_roots_never_panic_the_verifier() {
    let cases: Vec<Case> = all_cases();
    let roots: Vec<Value> = cases.iter().map(|c| serde_json::to_value(&c.root).unwrap()).collect();
    no_panics("trusted root", 0x7e57, 800, |rng| {
        let which = rng.below(cases.len());
        let case = &cases[which];
        let mut doc = roots[which].clone();
        let how = mutate_json(rng, &mut doc);
        let mut text = serde_json::to_vec(&doc).unwrap();
        if rng.one_in(4) {
            mutate_bytes(rng, &mut text);
        }
        if let Ok(root) = serde_json::from_slice::<TrustedRoot>(&text) {
            let bundle_text = serde_json::to_vec(&case.bundle).unwrap();
            verify_text(&bundle_text, case, &root);
        }
        format!("{}: {how}", case.name)
    });
}

#[test]
fn mutated_identity_tokens_never_panic_the_decoder() {
    use npm_attest::core::jwt::{b64_json, decode_unverified, mint_es256, verify_es256};
    let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let claims = json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": ["sigstore", "other"],
        "sub": "repo:octo/pkg:ref:refs/heads/main",
        "exp": 1_900_000_000,
        "email": "a@example.com",
    });
    let token = mint_es256(&key, "kid-1", claims.as_object().unwrap());
    assert!(verify_es256(key.verifying_key(), &token).is_ok());
    let (header, payload) = {
        let mut parts = token.split('.');
        (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned())
    };
    no_panics("jwt", 0x1d70, 3000, |rng| {
        let candidate = match rng.below(3) {
            0 => {
                let mut raw = token.clone().into_bytes();
                let how = mutate_bytes(rng, &mut raw);
                (String::from_utf8_lossy(&raw).into_owned(), how)
            }
            1 => {
                let mut doc = claims.clone();
                let how = mutate_json(rng, &mut doc);
                (format!("{header}.{}.sig", b64_json(&doc)), how)
            }
            _ => {
                let parts = ["", ".", "..", "...", "a.b", "a.b.c.d", "=.=.=", "\u{ff}.\u{0}.x"];
                let extra = parts[rng.below(parts.len())];
                (format!("{payload}{extra}{header}"), format!("joined {extra:?}"))
            }
        };
        if let Ok(jwt) = decode_unverified(&candidate.0) {
            let _ = (jwt.audiences(), jwt.challenge_subject(), jwt.str_claim("iss"), jwt.int_claim("exp"));
        }
        let _ = verify_es256(key.verifying_key(), &candidate.0);
        candidate.1
    });
}

/// The Rekor v1 checkpoint of a real npm bundle and the verifier that accepts it.
fn rekor_v1_checkpoint() -> (String, PublicKey, [u8; 4]) {
    let bundle = read_json(&data("npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json"));
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    let checkpoint = entry["inclusionProof"]["checkpoint"]["envelope"].as_str().unwrap().to_owned();
    let log_id = b64_decode(entry["logId"]["keyId"].as_str().unwrap()).unwrap();
    let root = production();
    let tlog = root.tlogs.iter().find(|t| t.log_id.key_id == log_id).unwrap();
    let key = PublicKey::from_spki_der(&tlog.public_key.raw_bytes).unwrap();
    (checkpoint, key, log_id[..4].try_into().unwrap())
}

#[test]
fn mutated_checkpoints_never_panic_the_note_parser() {
    let (checkpoint, key, key_hint) = rekor_v1_checkpoint();
    let verifier = NoteVerifier {
        names: vec!["rekor.sigstore.dev".to_owned()],
        key_hint,
        key: &key,
        origin: OriginRule::NameWithTreeId,
    };
    verify_checkpoint(&checkpoint, &verifier).unwrap();
    let mut accepted = 0;
    no_panics("checkpoint", 0xc4ec, 4000, |rng| {
        let mut raw = checkpoint.clone().into_bytes();
        let mut how = mutate_bytes(rng, &mut raw);
        if rng.one_in(3) {
            // Line-level edits: repeat, drop or blank a line.
            let mut lines: Vec<String> = String::from_utf8_lossy(&raw).split('\n').map(str::to_owned).collect();
            let at = rng.below(lines.len());
            match rng.below(3) {
                0 => lines.insert(at, lines[at].clone()),
                1 => {
                    lines.remove(at);
                }
                _ => lines[at].clear(),
            }
            raw = lines.join("\n").into_bytes();
            how.push_str(" line edit");
        }
        let text = String::from_utf8_lossy(&raw);
        if verify_checkpoint(&text, &verifier).is_ok() {
            accepted += 1;
        }
        let _ = npm_attest::core::verify::checkpoint::parse_signed_note(&text)
            .map(|note| npm_attest::core::verify::checkpoint::parse_checkpoint_body(note.body));
        how
    });
    assert!(accepted < 40, "{accepted} mutated checkpoints verified");
}

/// A Rekor v1 API response (`{"<uuid>": LogEntry}`) rebuilt from a real bundle's entry.
fn rekor_response() -> Value {
    let bundle = read_json(&data("npm-provenance/sigstore-2.1.0-provenance-v0.3.sigstore.json"));
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    let proof = &entry["inclusionProof"];
    let hex_of = |v: &Value| hex::encode(b64_decode(v.as_str().unwrap()).unwrap());
    json!({
        "24296fb24b8ad77a0000000000000000000000000000000000000000000000000000000000000000": {
            "body": entry["canonicalizedBody"],
            "integratedTime": entry["integratedTime"].as_str().unwrap().parse::<i64>().unwrap(),
            "logID": hex_of(&entry["logId"]["keyId"]),
            "logIndex": entry["logIndex"].as_str().unwrap().parse::<i64>().unwrap(),
            "verification": {
                "inclusionProof": {
                    "checkpoint": proof["checkpoint"]["envelope"],
                    "hashes": proof["hashes"].as_array().unwrap().iter().map(hex_of).collect::<Vec<_>>(),
                    "logIndex": proof["logIndex"].as_str().unwrap().parse::<i64>().unwrap(),
                    "rootHash": hex_of(&proof["rootHash"]),
                    "treeSize": proof["treeSize"].as_str().unwrap().parse::<i64>().unwrap(),
                },
                "signedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
            }
        }
    })
}

#[test]
fn mutated_rekor_responses_never_panic_the_client_parser() {
    let response = rekor_response();
    let bytes = serde_json::to_vec(&response).unwrap();
    let (_, entry) = parse_entry_response(&bytes).unwrap();
    entry.to_bundle_entry().unwrap();
    no_panics("rekor response", 0x4e40, 2000, |rng| {
        let mut doc = response.clone();
        let mut how = mutate_json(rng, &mut doc);
        let mut text = serde_json::to_vec(&doc).unwrap();
        if rng.one_in(3) {
            how.push_str(&format!(" + {}", mutate_bytes(rng, &mut text)));
        }
        if let Ok((_, entry)) = parse_entry_response(&text) {
            let _ = entry.to_bundle_entry();
        }
        how
    });
}

#[test]
fn mutated_certificates_never_panic_the_x509_code() {
    use npm_attest::core::verify::x509::{has_precert_signing_eku, subject_and_spki, LeafCertificate};
    let mut ders: Vec<Vec<u8>> = Vec::new();
    for case in all_cases() {
        let material = &case.bundle["verificationMaterial"];
        for cert in material["certificate"].as_object().into_iter().chain(
            material["x509CertificateChain"]["certificates"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object),
        ) {
            ders.push(b64_decode(cert["rawBytes"].as_str().unwrap()).unwrap());
        }
    }
    let root = production();
    let chains: Vec<Vec<Vec<u8>>> = root
        .certificate_authorities
        .iter()
        .map(|ca| ca.cert_chain.certificates.iter().map(|c| c.raw_bytes.clone()).collect())
        .collect();
    ders.extend(chains.iter().flatten().cloned());
    assert!(ders.len() >= 10);
    no_panics("certificate", 0x509, 4000, |rng| {
        let mut der = ders[rng.below(ders.len())].clone();
        let how = mutate_bytes(rng, &mut der);
        if let Ok(leaf) = LeafCertificate::parse(&der) {
            let _ = (leaf.san(), leaf.oidc_issuer(), leaf.extensions().count());
        }
        let _ = has_precert_signing_eku(&der);
        let _ = subject_and_spki(&der);
        let _ = npm_attest::core::verify::sct::precert_tbs(&der);
        let chain = &chains[rng.below(chains.len())];
        let _ = npm_attest::core::verify::pki::validate_path(
            &der,
            chain,
            npm_attest::core::time::UnixTime(1_700_000_000),
            npm_attest::core::verify::pki::EKU_CODE_SIGNING,
            &npm_attest::core::verify::pki::SignatureCache::new(),
        );
        how
    });
}

// ---------------------------------------------------------------------------------------------
// Tarballs.

#[test]
fn mutated_tarballs_never_panic_the_reader() {
    use npm_attest::npm::tarball::read_package;
    let dir = tempfile::tempdir().unwrap();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for name in ["sigstore-1.0.0.tgz", "tuf-js-1.0.0.tgz", "playwright-cli-0.1.1.tgz"] {
        inputs.push(std::fs::read(data(&format!("npm-provenance/tarballs/{name}"))).unwrap());
    }
    // The same packages uncompressed, so that mutations hit tar headers rather than only the
    // deflate stream.
    let plain: Vec<Vec<u8>> = inputs
        .iter()
        .map(|gz| {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut out).unwrap();
            out
        })
        .collect();
    for original in &inputs {
        std::fs::write(dir.path().join("ok.tgz"), original).unwrap();
        read_package(&dir.path().join("ok.tgz")).unwrap();
    }
    let path = dir.path().join("mutant.tgz");
    no_panics("tarball", 0x7a2, 800, |rng| {
        let how;
        let bytes = if rng.one_in(2) {
            let mut gz = inputs[rng.below(inputs.len())].clone();
            how = format!("gzip {}", mutate_bytes(rng, &mut gz));
            gz
        } else {
            let mut tar = plain[rng.below(plain.len())].clone();
            // Aim at the first header block half the time.
            if rng.one_in(2) {
                let at = rng.below(512);
                tar[at] = rng.next() as u8;
            }
            how = format!("tar {}", mutate_bytes(rng, &mut tar));
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&tar).unwrap();
            encoder.finish().unwrap()
        };
        std::fs::write(&path, &bytes).unwrap();
        let _ = read_package(&path);
        how
    });
}

/// A tar archive holding `package/package.json` with `json`.
fn tarball_with_package_json(json: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, "package/package.json", json).unwrap();
    builder.into_inner().unwrap()
}

fn gzip(bytes: &[u8], level: flate2::Compression) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn mutated_package_json_never_panics_the_manifest_reader() {
    use npm_attest::npm::tarball::{parse_manifest, read_package};
    let manifest = json!({"name": "@scope/pkg", "version": "1.2.3-rc.1+build", "main": "index.js",
        "dependencies": {"a": "^1"}, "files": ["dist"]});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pkg.tgz");
    no_panics("package.json", 0x9a6e, 2000, |rng| {
        let mut doc = manifest.clone();
        let mut how = mutate_json(rng, &mut doc);
        let mut text = serde_json::to_vec(&doc).unwrap();
        if rng.one_in(2) {
            how.push_str(&format!(" + {}", mutate_bytes(rng, &mut text)));
        }
        let _ = parse_manifest(&text);
        if rng.one_in(20) {
            std::fs::write(&path, gzip(&tarball_with_package_json(&text), flate2::Compression::fast())).unwrap();
            let _ = read_package(&path);
        }
        how
    });
}

/// A 100 MB `package.json` (made on the fly) is refused by its declared size, and a gzip
/// bomb whose tar header understates the entry is refused when the entry runs past the cap.
#[test]
fn a_100_mb_package_json_is_refused_without_reading_it() {
    use npm_attest::npm::tarball::{read_package, TarballError, MAX_PACKAGE_JSON_BYTES};
    let dir = tempfile::tempdir().unwrap();
    let size: u64 = 100 * 1024 * 1024;
    // Header, then the body streamed in stored (uncompressed) deflate blocks, which is fast
    // even in a debug build.
    let path = dir.path().join("package-json-100-mb.tgz");
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::none());
        let mut header = tar::Header::new_gnu();
        header.set_path("package/package.json").unwrap();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        gz.write_all(header.as_bytes()).unwrap();
        let mut chunk = vec![b' '; 1024 * 1024];
        chunk[0] = b'{';
        for i in 0..100 {
            gz.write_all(&chunk).unwrap();
            if i == 0 {
                chunk[0] = b' ';
            }
        }
        gz.write_all(&[0u8; 1024]).unwrap();
        gz.finish().unwrap().flush().unwrap();
    }
    assert!(std::fs::metadata(&path).unwrap().len() > size);
    let started = std::time::Instant::now();
    let err = catch_unwind(|| read_package(&path)).unwrap().unwrap_err();
    assert!(
        matches!(err, TarballError::PackageJsonTooLarge { size: s, limit } if s == size && limit == MAX_PACKAGE_JSON_BYTES),
        "{err}"
    );
    // The reader still walks the rest of the stream to check it; it must not hold it.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn a_gzip_bomb_package_json_is_refused() {
    use npm_attest::npm::tarball::{read_package, TarballError};
    // 64 MiB of spaces compresses to about 64 KiB; the tar header claims 64 MiB.
    let mut json = vec![b' '; 64 * 1024 * 1024];
    json[0] = b'{';
    let tgz = gzip(&tarball_with_package_json(&json), flate2::Compression::best());
    drop(json);
    assert!(tgz.len() < 1024 * 1024, "{}", tgz.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gzip-bomb-package-json.tgz");
    std::fs::write(&path, &tgz).unwrap();
    let err = catch_unwind(|| read_package(&path)).unwrap().unwrap_err();
    assert!(matches!(err, TarballError::PackageJsonTooLarge { .. }), "{err}");
}
