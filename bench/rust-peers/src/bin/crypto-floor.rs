//! The cost of one signature check of each kind a Sigstore verifier makes, on this CPU, with
//! aws-lc-rs (npm-attest's provider: keys parsed once, as its verifier holds them) and ring
//! (the previous provider), in CPU time. Messages are 1 KiB, about a TBSCertificate or a DSSE
//! PAE.
//!
//! usage: crypto-floor [MILLISECONDS_PER_OPERATION]
//! Prints one JSON line: {"aws-lc-rs": {"p256": µs, ...}, "ring": {...}}.

use std::time::Duration;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, KeyPair as _, ParsedPublicKey};
use serde_json::{json, Map, Value};

/// This thread's CPU time: on a shared machine wall time also counts other tenants' turns.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU microseconds per call of `f`, over at least `budget` of CPU time (median of 3 rounds).
fn per_call(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..10 {
        f();
    }
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let start = cpu_now();
        let mut n = 0u64;
        while cpu_now() - start < budget {
            for _ in 0..10 {
                f();
            }
            n += 10;
        }
        rounds.push((cpu_now() - start).as_secs_f64() * 1e6 / n as f64);
    }
    rounds.sort_by(f64::total_cmp);
    rounds[1]
}

fn main() {
    let ms: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    let budget = Duration::from_millis(ms);
    let rng = SystemRandom::new();
    let message = vec![0x5au8; 1024];
    let mut aws = Map::new();
    let mut ring_costs = Map::new();

    for (name, signing, verifying, ring_alg) in [
        ("p256", &sig::ECDSA_P256_SHA256_ASN1_SIGNING, &sig::ECDSA_P256_SHA256_ASN1, Some(&ring::signature::ECDSA_P256_SHA256_ASN1)),
        ("p384", &sig::ECDSA_P384_SHA384_ASN1_SIGNING, &sig::ECDSA_P384_SHA384_ASN1, Some(&ring::signature::ECDSA_P384_SHA384_ASN1)),
        ("p521", &sig::ECDSA_P521_SHA512_ASN1_SIGNING, &sig::ECDSA_P521_SHA512_ASN1, None),
    ] {
        let pair = sig::EcdsaKeyPair::generate(signing).unwrap();
        let signature = pair.sign(&rng, &message).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let key = ParsedPublicKey::new(verifying, &point).unwrap();
        aws.insert(name.into(), json!(per_call(budget, || key.verify_sig(&message, signature.as_ref()).unwrap())));
        if let Some(alg) = ring_alg {
            let key = ring::signature::UnparsedPublicKey::new(alg, &point);
            ring_costs.insert(name.into(), json!(per_call(budget, || key.verify(&message, signature.as_ref()).unwrap())));
        }
    }

    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let mut signature = vec![0u8; pair.public_modulus_len()];
    pair.sign(&sig::RSA_PKCS1_SHA256, &rng, &message, &mut signature).unwrap();
    let rsa_public = pair.public_key().as_ref().to_vec();
    let key = ParsedPublicKey::new(&sig::RSA_PKCS1_2048_8192_SHA256, &rsa_public).unwrap();
    aws.insert("rsa2048".into(), json!(per_call(budget, || key.verify_sig(&message, &signature).unwrap())));
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &rsa_public);
    ring_costs.insert("rsa2048".into(), json!(per_call(budget, || key.verify(&message, &signature).unwrap())));

    let pair = sig::Ed25519KeyPair::generate().unwrap();
    let signature = pair.sign(&message);
    let public = pair.public_key().as_ref().to_vec();
    let key = ParsedPublicKey::new(&sig::ED25519, &public).unwrap();
    aws.insert("ed25519".into(), json!(per_call(budget, || key.verify_sig(&message, signature.as_ref()).unwrap())));
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public);
    ring_costs.insert("ed25519".into(), json!(per_call(budget, || key.verify(&message, signature.as_ref()).unwrap())));
    let _ = pair.public_key().as_der();

    println!("{}", Value::Object(Map::from_iter([("aws-lc-rs".into(), Value::Object(aws)), ("ring".into(), Value::Object(ring_costs))])));
}
