//! Grant buckets: the grants of one scope value, found by principal key.
//!
//! A decision asks a bucket "which of these grants name one of the user's
//! principal keys?". Small buckets are scanned (two or three cache lines).
//! Large ones (a service's bucket holds ~184 grants at L) keep a hash table
//! from principal key to the run of entries with that key, so each of the
//! user's keys costs one probe, usually one cache line, where a binary search
//! over the sorted keys touched several lines per key.

use super::{KEY_NONE, KEY_ROLE, PrincipalKey};
use crate::model::Action;

/// Grants of one scope value, sorted by (principal key, grant index); for
/// buckets of more than [`TABLE_FROM`] entries also a [`KeyTable`] of them.
#[derive(Debug, Default)]
pub(crate) struct Bucket(pub Box<[Entry]>, pub KeyTable);

/// Buckets larger than this get a [`KeyTable`].
pub(crate) const TABLE_FROM: usize = 8;

/// One grant in a scope bucket, with what a decision needs of it inline (16
/// bytes): only environment-limited grants, and the one named by
/// `allowed_by`, are looked up in [`super::OrgData::grants`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub key: PrincipalKey,
    pub grant: u32,
    /// The grant's actions, implications applied ([`crate::model::ActionSet`] bits).
    pub actions: u16,
    pub privileges: super::PrivilegeBits,
    pub env_limited: bool,
}

const COMPACT_INDEX: u32 = (1 << 30) - 1;

/// A `u32` that [`compact`] never returns (an index of `COMPACT_INDEX` does
/// not fit): fills unused compact-key slots.
pub(crate) const NO_KEY: u32 = COMPACT_INDEX;

/// A principal key in 4 bytes (kind in the top 2 bits, index below), order
/// kept; `None` if it does not fit (an index of 2^30 - 1 or more).
#[inline]
pub(crate) const fn compact(key: PrincipalKey) -> Option<u32> {
    if key == KEY_NONE {
        return Some(u32::MAX);
    }
    let kind = key >> 32;
    let index = key as u32;
    if kind <= KEY_ROLE && index < COMPACT_INDEX {
        Some((kind as u32) << 30 | index)
    } else {
        None
    }
}

/// The inverse of [`compact`].
#[inline]
pub(crate) const fn expand(compact: u32) -> PrincipalKey {
    if compact == u32::MAX {
        KEY_NONE
    } else {
        super::key((compact >> 30) as u64, compact & COMPACT_INDEX)
    }
}

/// Open addressing (linear probing, load at most one half) from a compact
/// principal key to the run of a bucket's entries with that key. A slot is
/// `compact key << 32 | start << 16 | len`, 0 when empty (a run is never
/// empty). Empty when the bucket is small, when a key has no compact form,
/// or when the bucket is too large for 16-bit positions: the bucket is then
/// read by scanning or binary search.
#[derive(Debug, Default)]
pub(crate) struct KeyTable(Box<[u64]>);

/// `KeyTable.0[0]` holds the actions carried by some grant of the bucket
/// whose principal is not a group ([`crate::model::ActionSet`] bits): for
/// the deny sentence, which names groups only when groups alone could grant
/// the action, so it need not read a large bucket's entries when this says
/// otherwise. The slots follow.
const HEADER: usize = 1;

/// A service's bucket with, in the same cache line, where the run of each
/// org role's grants starts (`start << 16 | len`, 0 for none): every member
/// holds an org role and most services have grants to one, so the role's
/// run is found without probing the table.
#[derive(Debug, Default)]
#[repr(C, align(64))]
pub(crate) struct ServiceBucket {
    pub bucket: Bucket,
    pub role_runs: [u32; 7],
}

impl ServiceBucket {
    pub(crate) fn new(entries: Vec<Entry>) -> ServiceBucket {
        let bucket = Bucket::new(entries);
        let mut role_runs = [0u32; 7];
        if !bucket.1.is_empty() {
            for (role, run) in role_runs.iter_mut().enumerate() {
                if let Some((start, len)) = bucket.1.find(super::key(KEY_ROLE, role as u32)) {
                    *run = (start as u32) << 16 | len as u32;
                }
            }
        }
        ServiceBucket { bucket, role_runs }
    }

    /// The (start, len) of org role `role`'s run, if it has grants here.
    #[inline]
    pub(crate) fn role_run(&self, role: u32) -> Option<(usize, usize)> {
        let run = *self.role_runs.get(role as usize)?;
        (run != 0).then_some(((run >> 16) as usize, (run & 0xFFFF) as usize))
    }
}

/// A group's key (not [`KEY_NONE`], which names no one).
pub(crate) const fn is_group(key: PrincipalKey) -> bool {
    key >> 32 == super::KEY_GROUP && key != KEY_NONE
}

/// Whether a grant of a bucket (`entries`, with `table`) whose principal is
/// not a group carries `action`: from the table's summary when the bucket
/// has a table, else from the (few) entries.
pub(crate) fn others_carry(entries: &[Entry], table: &KeyTable, action: Action) -> bool {
    let bit = action.bit().0 as u16;
    if !table.is_empty() {
        return table.other_actions() & bit != 0;
    }
    entries
        .iter()
        .any(|e| !is_group(e.key) && e.actions & bit != 0)
}

#[inline]
const fn slot_hash(compact: u32) -> u64 {
    (compact as u64 ^ (compact as u64) >> 15).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl KeyTable {
    fn build(entries: &[Entry]) -> KeyTable {
        if entries.len() <= TABLE_FROM || entries.len() > usize::from(u16::MAX) {
            return KeyTable::default();
        }
        let mut runs: Vec<(u32, u16, u16)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let Some(c) = compact(e.key) else {
                return KeyTable::default();
            };
            match runs.last_mut() {
                Some(run) if run.0 == c => run.2 += 1,
                _ => runs.push((c, i as u16, 1)),
            }
        }
        let other_actions = entries
            .iter()
            .filter(|e| !is_group(e.key))
            .fold(0, |bits, e| bits | e.actions);
        let capacity = (runs.len() * 2).next_power_of_two().max(8);
        let mut table = vec![0u64; HEADER + capacity];
        if let Some(header) = table.first_mut() {
            *header = u64::from(other_actions);
        }
        let slots = table.get_mut(HEADER..).unwrap_or_default();
        let mask = capacity - 1;
        let shift = 64 - capacity.trailing_zeros();
        for (c, start, len) in runs {
            let mut at = (slot_hash(c) >> shift) as usize & mask;
            while slots.get(at).is_some_and(|s| *s != 0) {
                at = (at + 1) & mask;
            }
            if let Some(slot) = slots.get_mut(at) {
                *slot = u64::from(c) << 32 | u64::from(start) << 16 | u64::from(len);
            }
        }
        KeyTable(table.into_boxed_slice())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn other_actions(&self) -> u16 {
        self.0.first().map_or(0, |h| *h as u16)
    }

    /// The (start, len) of the run of entries whose key is `key`, if any.
    #[inline]
    pub(crate) fn find(&self, key: PrincipalKey) -> Option<(usize, usize)> {
        let slots = self.0.get(HEADER..)?;
        let c = compact(key)?;
        let mask = slots.len().checked_sub(1)?;
        let shift = 64 - slots.len().trailing_zeros();
        let mut at = (slot_hash(c) >> shift) as usize & mask;
        loop {
            let slot = *slots.get(at)?;
            if slot == 0 {
                return None;
            }
            if (slot >> 32) as u32 == c {
                return Some(((slot >> 16) as u16 as usize, slot as u16 as usize));
            }
            at = (at + 1) & mask;
        }
    }
}

impl Bucket {
    pub(crate) fn new(mut entries: Vec<Entry>) -> Bucket {
        entries.sort_unstable();
        let table = KeyTable::build(&entries);
        Bucket(entries.into_boxed_slice(), table)
    }

    /// Drops the table, so the bucket is read by scanning or binary search
    /// (tests: both ways must decide alike).
    #[cfg(test)]
    pub(crate) fn without_table(&mut self) -> bool {
        let had = !self.1.is_empty();
        self.1 = KeyTable::default();
        had
    }
}

#[cfg(test)]
mod tests {
    use super::{Bucket, Entry, ServiceBucket, compact, expand};
    use crate::compile::{KEY_GROUP, KEY_NONE, KEY_ROLE, KEY_USER, key};

    fn entry(key: u64, grant: u32) -> Entry {
        Entry {
            key,
            grant,
            actions: 1,
            privileges: 0,
            env_limited: false,
        }
    }

    #[test]
    fn the_table_finds_every_run_and_nothing_else() {
        let mut entries: Vec<Entry> = (0..300).map(|g| entry(key(KEY_GROUP, g % 97), g)).collect();
        entries.push(entry(key(KEY_ROLE, 2), 300));
        entries.push(entry(KEY_NONE, 301));
        let bucket = Bucket::new(entries);
        assert!(!bucket.1.is_empty());
        for g in 0..97 {
            let (start, len) = bucket.1.find(key(KEY_GROUP, g)).unwrap();
            let run = &bucket.0[start..start + len];
            assert_eq!(run.len(), 300 / 97 + usize::from(g < 300 % 97));
            assert!(run.iter().all(|e| e.key == key(KEY_GROUP, g)));
        }
        assert_eq!(bucket.1.find(key(KEY_ROLE, 2)), Some((300, 1)));
        assert_eq!(bucket.1.find(key(KEY_GROUP, 97)), None);
        assert_eq!(bucket.1.find(key(KEY_USER, 5)), None);
        assert_eq!(bucket.1.find(key(KEY_USER, u32::MAX)), None);
    }

    #[test]
    fn a_service_bucket_keeps_each_org_roles_run() {
        let mut entries: Vec<Entry> = (0..20).map(|g| entry(key(KEY_GROUP, g), g)).collect();
        entries.extend((20..23).map(|g| entry(key(KEY_ROLE, 5), g)));
        entries.push(entry(key(KEY_ROLE, 0), 23));
        let sb = ServiceBucket::new(entries);
        assert_eq!(sb.role_run(0), Some((20, 1)));
        assert_eq!(sb.role_run(5), Some((21, 3)));
        assert!(
            sb.bucket.0[21..24]
                .iter()
                .all(|e| e.key == key(KEY_ROLE, 5))
        );
        assert_eq!(sb.role_run(1), None);
        assert_eq!(sb.role_run(7), None);
        assert_eq!(size_of::<ServiceBucket>(), 64);
    }

    #[test]
    fn small_buckets_and_uncompactable_keys_have_no_table() {
        let small = Bucket::new((0..8).map(|g| entry(key(KEY_USER, g), g)).collect());
        assert!(small.1.is_empty());
        let wide = Bucket::new(
            (0..20)
                .map(|g| entry(key(KEY_USER, u32::MAX - g), g))
                .collect(),
        );
        assert!(wide.1.is_empty());
    }

    #[test]
    fn compact_keys_round_trip_in_order() {
        let keys = [
            key(KEY_USER, 0),
            key(KEY_USER, 7),
            key(KEY_GROUP, 3),
            key(KEY_ROLE, 6),
            KEY_NONE,
        ];
        for pair in keys.windows(2) {
            assert!(compact(pair[0]) < compact(pair[1]));
        }
        for k in keys {
            assert_eq!(expand(compact(k).unwrap()), k);
        }
    }
}
