//! sigstore-rust's verifier (the `sigstore-verify` crate) over npm provenance bundles, warm in
//! one process, as bench/sigstore-js-verify.js does for sigstore-js: each bundle is read and
//! parsed, verified against the trusted root with an identity policy and the tarball as the
//! artifact (its statement's subject digest), and the subject checked as npm does (one
//! subject, the purl).
//!
//! usage: sigstore-rust-verify TRUSTED_ROOT MANIFEST_JSON ISSUER SAN [THREADS]
//!        sigstore-rust-verify --one TRUSTED_ROOT BUNDLE TARBALL ISSUER SAN
//! MANIFEST_JSON: [{"bundle": path, "tarball": path, "purl": purl}, ...]
//! Prints one JSON line: {"verified": N, "failed": M, "seconds": S, "cpu_seconds": C} (both
//! exclude a warm-up pass; C is the CPU time of all threads).
//! `--one` verifies one bundle and exits 0 (accepted) or 1: measured as a whole process.

use std::time::Instant;

use serde_json::Value;
use sigstore_trust_root::TrustedRoot;
use sigstore_types::Bundle;
use sigstore_verify::{VerificationPolicy, Verifier};

fn check(verifier: &Verifier, policy: &VerificationPolicy, bundle: &str, tarball: &str, purl: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(bundle).map_err(|e| e.to_string())?;
    let bundle = Bundle::from_json(&text).map_err(|e| e.to_string())?;
    let artifact = std::fs::read(tarball).map_err(|e| e.to_string())?;
    verifier.verify(artifact.as_slice(), &bundle, policy).map_err(|e| e.to_string())?;
    // npm's check: exactly one subject, the package's purl (the digest was checked above).
    let payload: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let payload = payload["dsseEnvelope"]["payload"].as_str().unwrap_or_default();
    let payload = base64_decode(payload).ok_or("payload is not base64")?;
    let statement: Value = serde_json::from_slice(&payload).map_err(|e| e.to_string())?;
    let subjects = statement["subject"].as_array().ok_or("no subjects")?;
    if subjects.len() != 1 || subjects[0]["name"] != purl {
        return Err(format!("subject mismatch for {purl}"));
    }
    Ok(())
}

/// The process's CPU time (all threads), in seconds.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        acc = (acc << 6) | ALPHABET.iter().position(|&a| a == c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        let [_, root, bundle, tarball, issuer, san] = &args[..] else { std::process::exit(2) };
        let root = TrustedRoot::from_json(&std::fs::read_to_string(root).unwrap()).unwrap();
        let verifier = Verifier::new(&root).unwrap();
        let policy = VerificationPolicy::any_identity().require_identity(san.as_str()).require_issuer(issuer.as_str());
        let text = std::fs::read_to_string(bundle).unwrap();
        let bundle = Bundle::from_json(&text).unwrap();
        let artifact = std::fs::read(tarball).unwrap();
        match verifier.verify(artifact.as_slice(), &bundle, &policy) {
            Ok(_) => std::process::exit(0),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1)
            }
        }
    }
    let [root, manifest, issuer, san, rest @ ..] = &args[..] else {
        eprintln!("usage: sigstore-rust-verify TRUSTED_ROOT MANIFEST_JSON ISSUER SAN [THREADS]");
        std::process::exit(2)
    };
    let threads: usize = rest.first().and_then(|t| t.parse().ok()).unwrap_or(1);
    let root = TrustedRoot::from_json(&std::fs::read_to_string(root).unwrap()).unwrap();
    let verifier = Verifier::new(&root).unwrap();
    let policy = VerificationPolicy::any_identity().require_identity(san.as_str()).require_issuer(issuer.as_str());
    let items: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    let item = |v: &Value| {
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        (s("bundle"), s("tarball"), s("purl"))
    };
    let items: Vec<(String, String, String)> = items.iter().map(item).collect();
    for (b, t, p) in items.iter().take(20) {
        check(&verifier, &policy, b, t, p).unwrap();
    }
    let start = Instant::now();
    let cpu_start = cpu_seconds();
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let (verified, failed) = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let (verifier, policy) = (&verifier, &policy);
                scope.spawn(move || {
                    let mut counts = (0usize, 0usize);
                    for (b, t, p) in part {
                        match check(verifier, policy, b, t, p) {
                            Ok(()) => counts.0 += 1,
                            Err(e) => {
                                if counts.1 == 0 {
                                    eprintln!("{e}");
                                }
                                counts.1 += 1
                            }
                        }
                    }
                    counts
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_start;
    println!("{}", serde_json::json!({"verified": verified, "failed": failed, "seconds": seconds, "cpu_seconds": cpu}));
}
