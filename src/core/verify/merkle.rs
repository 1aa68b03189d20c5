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

/// An append-only tree of leaf hashes, for the local log stand-in. Every complete subtree's
/// hash is kept (`levels[h][i]` covers leaves `i * 2^h .. (i + 1) * 2^h`), so an append costs
/// O(1) hashes amortised (O(log n) at most), a root O(log n) and an inclusion proof O(log² n)
/// at most, whatever the size: about two hashes of memory per leaf.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a leaf hash and returns its index; completes the subtrees it closes.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        let index = self.len();
        let mut node = leaf;
        let mut height = 0;
        loop {
            if self.levels.len() == height {
                self.levels.push(Vec::new());
            }
            let level = &mut self.levels[height];
            level.push(node);
            // An even count closes a pair: their parent is a new complete subtree above.
            if level.len() % 2 != 0 {
                break;
            }
            node = node_hash(&level[level.len() - 2], &level[level.len() - 1]);
            height += 1;
        }
        index
    }

    pub fn leaf(&self, index: u64) -> Option<&Hash> {
        self.levels.first()?.get(usize::try_from(index).ok()?)
    }

    /// MTH of the first `size` leaves (RFC 6962 §2.1).
    pub fn root(&self, size: u64) -> Hash {
        let size = usize::try_from(size).unwrap_or(usize::MAX).min(self.len() as usize);
        self.subtree(0, size)
    }

    /// PATH(index, D[0:size]) (RFC 6962 §2.1.1), leaf to root.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<Vec<Hash>> {
        let size = usize::try_from(size).ok()?;
        let mut m = usize::try_from(index).ok()?;
        if size > self.len() as usize || m >= size {
            return None;
        }
        // Walk down from the root, recording the sibling subtree at each split; the proof
        // lists them leaf to root.
        let (mut start, mut n) = (0, size);
        let mut out = Vec::new();
        while n > 1 {
            let k = split_point(n);
            if m < k {
                out.push(self.subtree(start + k, n - k));
                n = k;
            } else {
                out.push(self.subtree(start, k));
                start += k;
                m -= k;
                n -= k;
            }
        }
        out.reverse();
        Some(out)
    }

    /// MTH(D[start:start + n]) for a subtree of the RFC 6962 recursion (`start` is a multiple
    /// of the largest power of two not above `n`), from the stored complete subtrees.
    fn subtree(&self, start: usize, n: usize) -> Hash {
        if n == 0 {
            return empty_root();
        }
        if n.is_power_of_two() {
            let height = n.trailing_zeros() as usize;
            if let Some(hash) = self.levels.get(height).and_then(|l| l.get(start >> height)) {
                return *hash;
            }
        }
        let k = split_point(n);
        node_hash(&self.subtree(start, k), &self.subtree(start + k, n - k))
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

    /// RFC 6962 §2.1 MTH and §2.1.1 PATH, computed from all leaves: what `Tree` must equal.
    fn naive_mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n);
                node_hash(&naive_mth(&leaves[..k]), &naive_mth(&leaves[k..]))
            }
        }
    }

    fn naive_path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
        let n = leaves.len();
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            naive_path(m, &leaves[..k], out);
            out.push(naive_mth(&leaves[k..]));
        } else {
            naive_path(m - k, &leaves[k..], out);
            out.push(naive_mth(&leaves[..k]));
        }
    }

    #[test]
    fn roots_and_proofs_equal_the_naive_computation_at_every_size() {
        let leaves: Vec<Hash> = (0..300u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut tree = Tree::new();
        assert_eq!(tree.root(0), empty_root());
        for (i, leaf) in leaves.iter().enumerate() {
            assert_eq!(tree.push(*leaf), i as u64);
            // The root of the whole tree after each append.
            let len = i + 1;
            assert_eq!(tree.root(len as u64), naive_mth(&leaves[..len]), "size {len}");
        }
        // And of every earlier size, from the full tree.
        for size in 0..=300usize {
            assert_eq!(tree.root(size as u64), naive_mth(&leaves[..size]), "size {size}");
        }
        // Every index of every size up to 48, then a sample of indices of larger sizes.
        let sizes = (1..=48usize).chain([127, 128, 129, 200, 255, 256, 257, 300]);
        for size in sizes {
            let indices: Vec<usize> =
                if size <= 48 { (0..size).collect() } else { vec![0, 1, size / 3, size / 2, size - 2, size - 1] };
            for index in indices {
                let mut expected = Vec::new();
                naive_path(index, &leaves[..size], &mut expected);
                assert_eq!(tree.inclusion_proof(index as u64, size as u64).unwrap(), expected, "{index} of {size}");
            }
        }
        assert_eq!(tree.inclusion_proof(300, 300), None);
        assert_eq!(tree.inclusion_proof(0, 301), None);
    }

    #[test]
    fn large_trees_keep_proofs_short_and_correct() {
        // Sizes around powers of two, where the right spine is deepest.
        let mut tree = Tree::new();
        let mut leaves = Vec::new();
        for i in 0..4200u32 {
            let leaf = leaf_hash(&i.to_le_bytes());
            leaves.push(leaf);
            tree.push(leaf);
        }
        for size in [1023usize, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097, 4200] {
            let root = tree.root(size as u64);
            assert_eq!(root, naive_mth(&leaves[..size]));
            for index in [0, 1, size / 2, size - 2, size - 1] {
                let proof: Vec<Vec<u8>> =
                    tree.inclusion_proof(index as u64, size as u64).unwrap().iter().map(|h| h.to_vec()).collect();
                verify_inclusion(index as u64, size as u64, &leaves[index], &proof, &root).unwrap();
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
