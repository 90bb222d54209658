//! A small, fast, non-cryptographic hasher for the piece cache of
//! [`crate::count_text`]. Pieces are short byte strings from the caller's own
//! text, so resistance to crafted collisions is not needed, and the standard
//! SipHash would cost as much as encoding a short piece.

use std::hash::Hasher;

/// Multiplier of the 64-bit multiplicative hash (an odd constant with well
/// mixed bits, from the golden ratio).
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// Word-at-a-time multiply-rotate hasher.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PieceHasher {
    hash: u64,
}

impl PieceHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for PieceHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The table indexes by the low bits; fold the well-mixed high ones in.
        self.hash ^ (self.hash >> 32)
    }
}

#[cfg(test)]
mod tests {
    use std::hash::Hash;

    use super::*;

    fn hash(bytes: &[u8]) -> u64 {
        let mut h = PieceHasher::default();
        bytes.hash(&mut h);
        h.finish()
    }

    #[test]
    fn different_pieces_hash_differently() {
        assert_ne!(hash(b" the"), hash(b" they"));
        assert_ne!(hash(b"a"), hash(b"a\0"));
        assert_eq!(hash(b"token"), hash(b"token"));
    }
}
