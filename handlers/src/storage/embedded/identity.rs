//! The embedded ledger's guard for exactly-once across days: a filter of
//! every (tenant, record id) in the ledger that answers "certainly new" or
//! "maybe seen", never wrongly "new".
//!
//! The embedded ledger's unique identity index is (tenant, day, record id),
//! so time-ordered traffic appends to the current day's part of the index
//! instead of scattering over all of it (`docs/storage.md`). That index
//! alone would let an id claimed again with another day in: the filter is
//! what keeps such an id to one count. An id the filter has not seen is new
//! (it holds every stored id, so it has no false negatives); an id it may
//! have seen is looked up exactly, first on its own day, then on every day
//! of the tenant (`ledger_days`), which finds replays at once and costs the
//! day walk only for the filter's rare false positives (about 0.2 %) and
//! for real cross-day claims.
//!
//! It is a blocked Bloom filter (one 512-bit block per id, 7 bits set, 16
//! bits per id of capacity) in generations: when the newest generation is
//! full a new one four times larger starts, and an id is looked up in all of
//! them (three at ten million ids), so the filter never has to be rebuilt.
//! It lives in memory; the ledger's own database keeps a snapshot of it
//! (`ledger_id_filter`, rows of 16 blocks) with the ledger rowid up to
//! which it holds every id. Before each append a process adds the ids of
//! the rows after that watermark (rows are only appended, so rowids only
//! grow), so the filter never falls behind the ledger, whatever another
//! writer did or whatever crashed; a new snapshot is stored every million
//! ids and when a bulk load syncs.

use sha2::{Digest, Sha256};

/// Bits of one block.
const BLOCK_BITS: u64 = 512;
/// Words of one block.
const BLOCK_WORDS: usize = 8;
/// Bits set per id.
const PROBES: u32 = 7;
/// Bits per id of a generation's capacity.
const BITS_PER_ID: u64 = 16;
/// Blocks per stored row (1 KiB).
pub const ROW_BLOCKS: usize = 16;
/// Capacity of the first generation.
const FIRST_CAPACITY: u64 = 1 << 20;
/// Each generation holds this many times the ids of the one before.
const GROWTH: u64 = 4;

/// The filter's hash of one identity: stable across processes and
/// versions (it is stored), from SHA-256 of the tenant and the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdHash(u64, u64);

impl IdHash {
    /// The hash of (tenant, id).
    pub fn of(tenant: &str, id: &str) -> Self {
        let mut h = Sha256::new();
        h.update(tenant.as_bytes());
        h.update([0]);
        h.update(id.as_bytes());
        let d = h.finalize();
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&d[i..i + 8]);
            u64::from_le_bytes(b)
        };
        Self(word(0), word(8))
    }
}

/// One generation: a fixed number of blocks and the ids it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// Ids it is sized for.
    pub capacity: u64,
    /// Ids added.
    pub ids: u64,
    blocks: Vec<[u64; BLOCK_WORDS]>,
}

impl Generation {
    fn with_capacity(capacity: u64) -> Self {
        let blocks = usize::try_from((capacity * BITS_PER_ID).div_ceil(BLOCK_BITS)).unwrap_or(usize::MAX);
        // Whole rows, so that every stored row is full.
        let blocks = blocks.div_ceil(ROW_BLOCKS) * ROW_BLOCKS;
        Self { capacity, ids: 0, blocks: vec![[0; BLOCK_WORDS]; blocks] }
    }

    /// Stored rows of this generation.
    pub fn rows(&self) -> usize {
        self.blocks.len() / ROW_BLOCKS
    }

    fn block_of(&self, h: IdHash, generation: usize) -> usize {
        let salted = h.0.rotate_left(u32::try_from(generation % 64).unwrap_or(0) * 17);
        let n = u128::try_from(self.blocks.len()).unwrap_or(u128::MAX);
        usize::try_from((u128::from(salted) * n) >> 64).unwrap_or(0)
    }

    fn bits(h: IdHash) -> impl Iterator<Item = (usize, u64)> {
        (0..PROBES).map(move |i| {
            let bit = (h.1 >> (i * 9)) & (BLOCK_BITS - 1);
            (usize::try_from(bit / 64).unwrap_or(0), 1u64 << (bit % 64))
        })
    }

    fn contains(&self, h: IdHash, generation: usize) -> bool {
        let block = &self.blocks[self.block_of(h, generation)];
        Self::bits(h).all(|(word, mask)| block[word] & mask != 0)
    }

    /// Adds an id; the row it changed.
    fn insert(&mut self, h: IdHash, generation: usize) -> usize {
        let index = self.block_of(h, generation);
        let block = &mut self.blocks[index];
        for (word, mask) in Self::bits(h) {
            block[word] |= mask;
        }
        self.ids += 1;
        index / ROW_BLOCKS
    }

    /// The stored form of one row (little-endian words).
    pub fn row_bytes(&self, row: usize) -> Vec<u8> {
        self.blocks[row * ROW_BLOCKS..(row + 1) * ROW_BLOCKS]
            .iter()
            .flat_map(|b| b.iter().flat_map(|w| w.to_le_bytes()))
            .collect()
    }

    /// Loads one stored row; `false` if it does not fit this generation.
    pub fn load_row(&mut self, row: usize, bytes: &[u8]) -> bool {
        if bytes.len() != ROW_BLOCKS * BLOCK_WORDS * 8 || row >= self.rows() {
            return false;
        }
        for (i, chunk) in bytes.chunks_exact(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            self.blocks[row * ROW_BLOCKS + i / BLOCK_WORDS][i % BLOCK_WORDS] = u64::from_le_bytes(w);
        }
        true
    }
}

/// The filter: its generations, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdFilter {
    generations: Vec<Generation>,
}

impl IdFilter {
    /// An empty filter.
    pub fn new() -> Self {
        Self::default()
    }

    /// A filter with these generations' sizes and counts (all bits clear;
    /// [`IdFilter::generation_mut`] loads the rows).
    pub fn with_generations(sizes: &[(u64, u64)]) -> Self {
        let generations = sizes
            .iter()
            .map(|&(capacity, ids)| {
                let mut g = Generation::with_capacity(capacity);
                g.ids = ids;
                g
            })
            .collect();
        Self { generations }
    }

    /// Whether the id may be stored; `false` means certainly not.
    pub fn may_contain(&self, h: IdHash) -> bool {
        self.generations.iter().enumerate().any(|(g, generation)| generation.contains(h, g))
    }

    /// Adds an id to the newest generation (starting a new one when it is
    /// full); returns the (generation, row) it changed.
    pub fn insert(&mut self, h: IdHash) -> (usize, usize) {
        let full = self.generations.last().is_none_or(|g| g.ids >= g.capacity);
        if full {
            let capacity = self.generations.last().map_or(FIRST_CAPACITY, |g| g.capacity * GROWTH);
            self.generations.push(Generation::with_capacity(capacity));
        }
        let g = self.generations.len() - 1;
        let row = self.generations[g].insert(h, g);
        (g, row)
    }

    /// The generations, oldest first.
    pub fn generations(&self) -> &[Generation] {
        &self.generations
    }

    /// One generation, to load its stored rows.
    pub fn generation_mut(&mut self, g: usize) -> Option<&mut Generation> {
        self.generations.get_mut(g)
    }

    /// Bytes held in memory.
    pub fn memory(&self) -> usize {
        self.generations.iter().map(|g| g.blocks.len() * BLOCK_WORDS * 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_added_id_is_found_and_few_others_are() {
        let mut f = IdFilter::new();
        for i in 0..200_000 {
            f.insert(IdHash::of("t", &format!("id-{i}")));
        }
        assert!((0..200_000).all(|i| f.may_contain(IdHash::of("t", &format!("id-{i}")))));
        // Another tenant's ids are other ids.
        let false_positives = (0..100_000).filter(|i| f.may_contain(IdHash::of("u", &format!("id-{i}")))).count();
        // 200k ids in a generation sized for 1M: far below the design's ~0.2 % at capacity.
        assert!(false_positives < 50, "{false_positives} false positives in 100,000");
    }

    #[test]
    fn a_full_generation_starts_a_larger_one_and_old_ids_are_still_found() {
        let mut f = IdFilter::with_generations(&[(1_000, 0)]);
        for i in 0..5_000 {
            f.insert(IdHash::of("t", &i.to_string()));
        }
        let sizes: Vec<(u64, u64)> = f.generations().iter().map(|g| (g.capacity, g.ids)).collect();
        assert_eq!(sizes, [(1_000, 1_000), (4_000, 4_000)]);
        assert!((0..5_000).all(|i| f.may_contain(IdHash::of("t", &i.to_string()))));
    }

    #[test]
    fn stored_rows_load_back_into_the_same_filter() {
        let mut f = IdFilter::new();
        for i in 0..10_000 {
            f.insert(IdHash::of("t", &i.to_string()));
        }
        let sizes: Vec<(u64, u64)> = f.generations().iter().map(|g| (g.capacity, g.ids)).collect();
        let mut back = IdFilter::with_generations(&sizes);
        for (g, generation) in f.generations().iter().enumerate() {
            for row in 0..generation.rows() {
                assert!(back.generation_mut(g).unwrap().load_row(row, &generation.row_bytes(row)));
            }
        }
        assert_eq!(back, f);
        assert!(!back.generation_mut(0).unwrap().load_row(usize::MAX, &[]));
    }

    #[test]
    fn the_hash_is_stable() {
        // Stored filters depend on it: changing it needs a migration that rebuilds them.
        assert_eq!(IdHash::of("default", "req-1"), IdHash::of("default", "req-1"));
        let IdHash(a, b) = IdHash::of("default", "req-1");
        let expected = Sha256::digest(b"default\0req-1");
        assert_eq!(a.to_le_bytes(), expected[..8]);
        assert_eq!(b.to_le_bytes(), expected[8..16]);
    }
}
