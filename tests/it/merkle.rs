//! The RFC 6962 Merkle code against transparency-dev's reference vectors
//! (tests/data/merkle/rfc6962-transparency-dev.json), beside the self-generated ones in
//! `core::verify::merkle`'s unit tests.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use npm_attest::core::verify::merkle::{empty_root, leaf_hash, verify_inclusion, Tree};
use serde_json::Value;

use crate::support::repo_root;

fn vectors() -> Value {
    let path = repo_root().join("tests/data/merkle/rfc6962-transparency-dev.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn hexes(v: &Value) -> Vec<Vec<u8>> {
    v.as_array().unwrap().iter().map(|h| hex::decode(h.as_str().unwrap()).unwrap()).collect()
}

#[test]
fn leaf_hashes_and_roots_match_the_reference_vectors() {
    let v = vectors();
    let leaves = hexes(&v["leaves"]);
    let want_leaves = hexes(&v["leafHashes"]);
    let roots = hexes(&v["rootsBySize"]);
    assert_eq!(empty_root().to_vec(), roots[0]);
    let mut tree = Tree::new();
    for (i, leaf) in leaves.iter().enumerate() {
        let hash = leaf_hash(leaf);
        assert_eq!(hash.to_vec(), want_leaves[i], "leaf {i}");
        tree.push(hash);
        for size in 1..=tree.len() {
            assert_eq!(tree.root(size).to_vec(), roots[size as usize], "root of size {size}");
        }
    }
}

#[test]
fn reference_inclusion_proofs_verify_and_the_tree_makes_the_same_proofs() {
    let v = vectors();
    let leaves: Vec<_> = hexes(&v["leaves"]).iter().map(|l| leaf_hash(l)).collect();
    let roots = hexes(&v["rootsBySize"]);
    let mut tree = Tree::new();
    for leaf in &leaves {
        tree.push(*leaf);
    }
    for case in v["inclusionProofs"].as_array().unwrap() {
        let index = case["index"].as_u64().unwrap();
        let size = case["size"].as_u64().unwrap();
        let proof = hexes(&case["proof"]);
        let leaf = leaves[index as usize];
        let root = &roots[size as usize];
        verify_inclusion(index, size, &leaf, &proof, root).unwrap_or_else(|e| panic!("{index}/{size}: {e}"));
        let made: Vec<Vec<u8>> = tree.inclusion_proof(index, size).unwrap().iter().map(|h| h.to_vec()).collect();
        assert_eq!(made, proof, "the stand-in's proof for {index}/{size}");
        // Attacks on the proof: each must be refused.
        if let Some(first) = proof.first() {
            let mut flipped = proof.clone();
            flipped[0][0] ^= 1;
            assert!(verify_inclusion(index, size, &leaf, &flipped, root).is_err(), "flipped hash {index}/{size}");
            let mut longer = proof.clone();
            longer.push(first.clone());
            assert!(verify_inclusion(index, size, &leaf, &longer, root).is_err(), "extra hash {index}/{size}");
            assert!(verify_inclusion(index, size, &leaf, &proof[1..], root).is_err(), "missing hash {index}/{size}");
        }
        assert!(verify_inclusion(size, size, &leaf, &proof, root).is_err(), "index past the end {index}/{size}");
        if size > 1 {
            let other = (index + 1) % size;
            assert!(
                verify_inclusion(other, size, &leaf, &proof, root).is_err(),
                "another index {other}/{size} for leaf {index}"
            );
        }
    }
}
