//! RFC 6962 Merkle trees: hashing, inclusion proofs (verification for the verifier, and
//! generation for the local log stand-in).
//!
//! References: RFC 6962 §2.1 (MTH and PATH), RFC 9162 §2.1.3.2 (verifying an inclusion proof).

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// `MTH({d(0)}) = SHA-256(0x00 || d(0))` (RFC 6962 §2.1).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)` (RFC 6962 §2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of an empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InclusionError {
    IndexOutOfRange { index: u64, tree_size: u64 },
    WrongProofLength { expected: usize, actual: usize },
    BadHashLength { position: usize, length: usize },
    RootMismatch { computed: Hash, expected: Vec<u8> },
}

impl std::fmt::Display for InclusionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::IndexOutOfRange { index, tree_size } => {
                write!(f, "inclusion proof index {index} is not inside a tree of size {tree_size}")
            }
            Self::WrongProofLength { expected, actual } => {
                write!(f, "inclusion proof has {actual} hashes where the tree needs {expected}")
            }
            Self::BadHashLength { position, length } => {
                write!(f, "inclusion proof hash {position} is {length} bytes, not 32")
            }
            Self::RootMismatch { .. } => write!(f, "inclusion proof does not lead to the expected root hash"),
        }
    }
}

impl std::error::Error for InclusionError {}

/// Recomputes the root from a leaf hash and its audit path (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion_proof(
    index: u64,
    tree_size: u64,
    leaf: &Hash,
    proof: &[Vec<u8>],
) -> Result<Hash, InclusionError> {
    if index >= tree_size {
        return Err(InclusionError::IndexOutOfRange { index, tree_size });
    }
    // inner = bit length of (index XOR (size-1)); border = popcount(index >> inner).
    let inner = (64 - (index ^ (tree_size - 1)).leading_zeros()) as usize;
    // `inner` is 64 when `tree_size - 1 >= 2^63`: a plain `>>` would overflow there.
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    if proof.len() != inner + border {
        return Err(InclusionError::WrongProofLength { expected: inner + border, actual: proof.len() });
    }
    let mut hashes = Vec::with_capacity(proof.len());
    for (position, p) in proof.iter().enumerate() {
        let h: Hash =
            p.as_slice().try_into().map_err(|_| InclusionError::BadHashLength { position, length: p.len() })?;
        hashes.push(h);
    }
    let mut acc = *leaf;
    for (i, p) in hashes[..inner].iter().enumerate() {
        acc = if (index >> i) & 1 == 0 { node_hash(&acc, p) } else { node_hash(p, &acc) };
    }
    for p in &hashes[inner..] {
        acc = node_hash(p, &acc);
    }
    Ok(acc)
}

/// Verifies that `leaf` sits at `index` in the tree of `tree_size` whose root is `root`.
pub fn verify_inclusion(
    index: u64,
    tree_size: u64,
    leaf: &Hash,
    proof: &[Vec<u8>],
    root: &[u8],
) -> Result<(), InclusionError> {
    let computed = root_from_inclusion_proof(index, tree_size, leaf, proof)?;
    if computed.as_slice() != root {
        return Err(InclusionError::RootMismatch { computed, expected: root.to_vec() });
    }
    Ok(())
}

/// An append-only tree of leaf hashes, for the local log stand-in.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    leaves: Vec<Hash>,
}

impl Tree {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Appends a leaf hash and returns its index.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        self.leaves.push(leaf);
        self.len() - 1
    }

    pub fn leaf(&self, index: u64) -> Option<&Hash> {
        self.leaves.get(usize::try_from(index).ok()?)
    }

    /// MTH of the first `size` leaves (RFC 6962 §2.1).
    pub fn root(&self, size: u64) -> Hash {
        let size = (size as usize).min(self.leaves.len());
        if size == 0 {
            return empty_root();
        }
        mth(&self.leaves[..size])
    }

    /// PATH(index, D[0:size]) (RFC 6962 §2.1.1), leaf to root.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<Vec<Hash>> {
        let size = usize::try_from(size).ok()?;
        let index = usize::try_from(index).ok()?;
        if size > self.leaves.len() || index >= size {
            return None;
        }
        let mut out = Vec::new();
        path(index, &self.leaves[..size], &mut out);
        Some(out)
    }
}

/// The largest power of two strictly smaller than `n` (n >= 2).
fn split_point(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        path(m, &leaves[..k], out);
        out.push(mth(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(mth(&leaves[..k]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_proof_verifies_and_a_wrong_index_does_not() {
        let mut tree = Tree::new();
        for i in 0..37u32 {
            tree.push(leaf_hash(&i.to_be_bytes()));
        }
        for size in 1..=37u64 {
            let root = tree.root(size);
            for index in 0..size {
                let proof: Vec<Vec<u8>> =
                    tree.inclusion_proof(index, size).unwrap().iter().map(|h| h.to_vec()).collect();
                let leaf = *tree.leaf(index).unwrap();
                verify_inclusion(index, size, &leaf, &proof, &root).unwrap();
                if size > 1 {
                    let other = (index + 1) % size;
                    assert!(verify_inclusion(other, size, &leaf, &proof, &root).is_err());
                }
            }
        }
    }

    #[test]
    fn a_truncated_proof_is_rejected_by_length() {
        let mut tree = Tree::new();
        for i in 0..8u8 {
            tree.push(leaf_hash(&[i]));
        }
        let mut proof: Vec<Vec<u8>> = tree.inclusion_proof(3, 8).unwrap().iter().map(|h| h.to_vec()).collect();
        proof.pop();
        let err = verify_inclusion(3, 8, tree.leaf(3).unwrap(), &proof, &tree.root(8)).unwrap_err();
        assert_eq!(err, InclusionError::WrongProofLength { expected: 3, actual: 2 });
    }

    /// Regression (fuzzing): a tree size of 2^63 or more made `inner` 64 and `index >> 64`
    /// overflowed (a panic in debug builds, a masked shift in release builds).
    #[test]
    fn extreme_indices_and_sizes_are_answered_without_overflow() {
        let leaf = leaf_hash(b"x");
        for (index, size) in [(0, u64::MAX), (u64::MAX - 1, u64::MAX), (1 << 63, (1 << 63) + 1), (0, 1 << 63)] {
            let proof = vec![vec![0u8; 32]; 64];
            // 64 inner hashes and no border: the length matches, so the root is computed.
            let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
            let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
            let result = root_from_inclusion_proof(index, size, &leaf, &proof[..(inner + border).min(64)]);
            if inner + border <= 64 {
                assert!(result.is_ok(), "{index} {size}: {result:?}");
            }
            assert!(matches!(
                root_from_inclusion_proof(index, size, &leaf, &[]),
                Err(InclusionError::WrongProofLength { actual: 0, .. })
            ));
        }
        assert!(matches!(
            root_from_inclusion_proof(u64::MAX, u64::MAX, &leaf, &[]),
            Err(InclusionError::IndexOutOfRange { .. })
        ));
    }
}
