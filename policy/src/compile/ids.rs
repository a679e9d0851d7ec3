//! [`IdIndex`]: string id → `u32`, laid out so a lookup touches one slot.
//!
//! An open-addressing table of 32-byte slots holding a hash tag, the value
//! and the key itself when it fits (20 bytes; longer keys live in one
//! contiguous arena). A `FxHashMap<Box<str>, u32>` touches its control
//! bytes, its slot and then the key's own heap allocation to compare it: at
//! L, three cache misses per id. Here a hit on a short key reads one slot,
//! and the key is compared only when its tag and length match.

use rustc_hash::FxHasher;
use std::hash::Hasher;

use super::probe::{self, Look};

/// Keys of at most this many bytes are stored in the slot itself.
const INLINE: usize = 20;

#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(32))]
struct Slot {
    /// 0: empty; else the high half of the key's hash with the low bit set.
    tag: u32,
    value: u32,
    len: u32,
    /// The key (`len <= INLINE`), or its offset in the arena (first 4 bytes, LE).
    inline: [u8; INLINE],
}

/// A read-only map from string ids to `u32`, built once.
#[derive(Debug, Default)]
pub(crate) struct IdIndex {
    slots: Box<[Slot]>,
    arena: Box<[u8]>,
    len: usize,
}

pub(super) fn hash(key: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(key);
    h.write_usize(key.len());
    // Fx leaves the low bits weak; mix so both halves are usable.
    let x = h.finish();
    (x ^ (x >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

pub(super) fn tag_of(h: u64) -> u32 {
    (h >> 32) as u32 | 1
}

#[inline]
fn find(slots: &[Slot], arena: &[u8], bytes: &[u8], h: u64) -> Option<u32> {
    let tag = tag_of(h);
    probe::find(slots, h as usize, |slot| {
        if slot.tag == 0 {
            Look::Empty
        } else if slot.tag == tag && slot.len as usize == bytes.len() && key_eq(arena, slot, bytes)
        {
            Look::Hit
        } else {
            Look::Taken
        }
    })
    .map(|slot| slot.value)
}

#[inline]
fn key_eq(arena: &[u8], slot: &Slot, bytes: &[u8]) -> bool {
    if bytes.len() <= INLINE {
        return slot.inline.get(..bytes.len()) == Some(bytes);
    }
    let mut offset = [0u8; 4];
    offset.copy_from_slice(slot.inline.get(..4).unwrap_or(&[0; 4]));
    let offset = u32::from_le_bytes(offset) as usize;
    arena.get(offset..offset + bytes.len()) == Some(bytes)
}

impl IdIndex {
    /// Builds from `(id, value)` pairs; for a repeated id the first value wins.
    pub fn build<'a>(pairs: impl IntoIterator<Item = (&'a str, u32)>) -> IdIndex {
        let pairs: Vec<(&str, u32)> = pairs.into_iter().collect();
        let capacity = probe::capacity(pairs.len());
        let mut index = IdIndex {
            slots: vec![Slot::default(); capacity].into_boxed_slice(),
            arena: Box::default(),
            len: 0,
        };
        let mut arena: Vec<u8> = Vec::new();
        for (key, value) in pairs {
            let bytes = key.as_bytes();
            let h = hash(bytes);
            if find(&index.slots, &arena, bytes, h).is_some() {
                continue;
            }
            let mut inline = [0u8; INLINE];
            if bytes.len() <= INLINE {
                inline[..bytes.len()].copy_from_slice(bytes);
            } else {
                let offset = arena.len() as u32;
                inline[..4].copy_from_slice(&offset.to_le_bytes());
                arena.extend_from_slice(bytes);
            }
            let at = probe::vacant(&index.slots, h as usize, |s| s.tag == 0);
            if let Some(slot) = at.and_then(|at| index.slots.get_mut(at)) {
                *slot = Slot {
                    tag: tag_of(h),
                    value,
                    len: bytes.len() as u32,
                    inline,
                };
                index.len += 1;
            }
        }
        index.arena = arena.into_boxed_slice();
        index
    }

    /// The value of `key`, if present.
    #[inline]
    pub fn get(&self, key: &str) -> Option<u32> {
        let bytes = key.as_bytes();
        find(&self.slots, &self.arena, bytes, hash(bytes))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::IdIndex;

    #[test]
    fn finds_short_and_long_keys_and_nothing_else() {
        let long = "a-resource-id-much-longer-than-twenty-bytes";
        let keys: Vec<String> = (0..1000).map(|n| format!("r{n}")).collect();
        let index = IdIndex::build(
            keys.iter()
                .map(String::as_str)
                .chain([long, "", "r1"])
                .zip(0u32..),
        );
        assert_eq!(index.len(), 1002);
        for (n, k) in keys.iter().enumerate() {
            assert_eq!(index.get(k), Some(n as u32));
        }
        assert_eq!(index.get(long), Some(1000));
        assert_eq!(index.get(""), Some(1001));
        assert_eq!(index.get("r1"), Some(1), "the first value wins");
        assert_eq!(
            index.get("a-resource-id-much-longer-than-twenty-byteS"),
            None
        );
        assert_eq!(index.get("r1000"), None);
        assert_eq!(IdIndex::default().get("r1"), None);
    }
}
