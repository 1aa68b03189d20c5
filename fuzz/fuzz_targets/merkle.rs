//! RFC 6962 inclusion proofs with any index and tree size (the overflow of issue 17 was
//! `index >> 64` for sizes of 2^63 and more). Input: index and tree size (8 bytes each, big
//! endian), the leaf hash, then the proof hashes, 32 bytes each (a short last one tests the
//! length check). Also a property: in a small tree built from the input, every generated proof
//! verifies, and the same proof for a different index does not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npm_attest::core::verify::merkle::{leaf_hash, root_from_inclusion_proof, verify_inclusion, Tree};

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<48>() else {
        return;
    };
    let index = u64::from_be_bytes(head[..8].try_into().unwrap_or_default());
    let size = u64::from_be_bytes(head[8..16].try_into().unwrap_or_default());
    let leaf: [u8; 32] = head[16..48].try_into().unwrap_or_default();
    let proof: Vec<Vec<u8>> = rest.chunks(32).map(<[u8]>::to_vec).collect();
    if let Ok(root) = root_from_inclusion_proof(index, size, &leaf, &proof) {
        assert!(verify_inclusion(index, size, &leaf, &proof, &root).is_ok());
    }

    let n = (size % 40) + 1;
    let mut tree = Tree::new();
    for i in 0..n {
        tree.push(leaf_hash(&[head[(i % 48) as usize], i as u8]));
    }
    let i = index % n;
    let Some(path) = tree.inclusion_proof(i, n) else {
        panic!("no proof for leaf {i} of {n}");
    };
    let path: Vec<Vec<u8>> = path.iter().map(|h| h.to_vec()).collect();
    let root = tree.root(n);
    let Some(leaf_i) = tree.leaf(i).copied() else {
        panic!("no leaf {i} of {n}");
    };
    assert!(verify_inclusion(i, n, &leaf_i, &path, &root).is_ok(), "leaf {i} of {n}");
    // The same proof must not place another leaf hash at that index.
    let other = leaf_hash(b"not in the tree");
    assert!(verify_inclusion(i, n, &other, &path, &root).is_err(), "leaf {i} of {n}");
});
