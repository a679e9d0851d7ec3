//! Grant buckets: the grants of one scope value, found by principal key.
//!
//! A decision asks a bucket "which of these grants name one of the user's
//! principal keys?". Small buckets are scanned (two or three cache lines).
//! Large ones (a service's bucket holds ~184 grants at L) keep a hash table
//! from principal key to the run of entries with that key, so each of the
//! user's keys costs one probe, usually one cache line, where a binary search
//! over the sorted keys touched several lines per key.

use super::PrincipalKey;
use super::probe::{self, Look};
use crate::model::{Action, OrgRole};

/// Grants of one scope value, sorted by (principal key, grant index); for
/// buckets of more than [`TABLE_FROM`] entries also a [`KeyTable`] of them.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    pub entries: Box<[Entry]>,
    pub table: KeyTable,
}

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
        if !bucket.table.is_empty() {
            for (run, role) in role_runs.iter_mut().zip(OrgRole::ALL) {
                if let Some((start, len)) = bucket.table.find(PrincipalKey::role(*role)) {
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

fn is_group(key: PrincipalKey) -> bool {
    key.group_index().is_some()
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

/// Where a compact key's probe starts in a table of `capacity` slots: the
/// top bits of a multiplicative hash (compact keys of one kind are dense).
#[inline]
fn home(compact: u32, capacity: usize) -> usize {
    let shift = 64 - capacity.trailing_zeros();
    ((compact as u64 ^ (compact as u64) >> 15).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift)
        as usize
}

impl KeyTable {
    fn build(entries: &[Entry]) -> KeyTable {
        if entries.len() <= TABLE_FROM || entries.len() > usize::from(u16::MAX) {
            return KeyTable::default();
        }
        let mut runs: Vec<(u32, u16, u16)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let Some(c) = e.key.compact() else {
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
        let capacity = probe::capacity(runs.len());
        let mut table = vec![0u64; HEADER + capacity];
        if let Some(header) = table.first_mut() {
            *header = u64::from(other_actions);
        }
        let slots = table.get_mut(HEADER..).unwrap_or_default();
        for (c, start, len) in runs {
            let at = probe::vacant(slots, home(c, capacity), |s| *s == 0);
            if let Some(slot) = at.and_then(|at| slots.get_mut(at)) {
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
        let c = key.compact()?;
        let slot = probe::find(slots, home(c, slots.len()), |slot| {
            if *slot == 0 {
                Look::Empty
            } else if (*slot >> 32) as u32 == c {
                Look::Hit
            } else {
                Look::Taken
            }
        })?;
        Some(((slot >> 16) as u16 as usize, *slot as u16 as usize))
    }
}

impl Bucket {
    pub(crate) fn new(mut entries: Vec<Entry>) -> Bucket {
        entries.sort_unstable();
        let table = KeyTable::build(&entries);
        Bucket {
            entries: entries.into_boxed_slice(),
            table,
        }
    }

    /// Drops the table, so the bucket is read by scanning or binary search
    /// (tests: both ways must decide alike).
    #[cfg(test)]
    pub(crate) fn without_table(&mut self) -> bool {
        let had = !self.table.is_empty();
        self.table = KeyTable::default();
        had
    }
}

#[cfg(test)]
mod tests {
    use super::{Bucket, Entry, ServiceBucket};
    use crate::compile::PrincipalKey;
    use crate::model::OrgRole;

    fn entry(key: PrincipalKey, grant: u32) -> Entry {
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
        let mut entries: Vec<Entry> = (0..300)
            .map(|g| entry(PrincipalKey::group(g % 97), g))
            .collect();
        entries.push(entry(PrincipalKey::role(OrgRole::SecurityAdmin), 300));
        entries.push(entry(PrincipalKey::NONE, 301));
        let bucket = Bucket::new(entries);
        assert!(!bucket.table.is_empty());
        for g in 0..97 {
            let (start, len) = bucket.table.find(PrincipalKey::group(g)).unwrap();
            let run = &bucket.entries[start..start + len];
            assert_eq!(run.len(), 300 / 97 + usize::from(g < 300 % 97));
            assert!(run.iter().all(|e| e.key == PrincipalKey::group(g)));
        }
        assert_eq!(
            bucket
                .table
                .find(PrincipalKey::role(OrgRole::SecurityAdmin)),
            Some((300, 1))
        );
        assert_eq!(bucket.table.find(PrincipalKey::group(97)), None);
        assert_eq!(bucket.table.find(PrincipalKey::user(5)), None);
        assert_eq!(bucket.table.find(PrincipalKey::user(u32::MAX)), None);
    }

    #[test]
    fn a_service_bucket_keeps_each_org_roles_run() {
        let mut entries: Vec<Entry> = (0..20).map(|g| entry(PrincipalKey::group(g), g)).collect();
        entries.extend((20..23).map(|g| entry(PrincipalKey::role(OrgRole::Member), g)));
        entries.push(entry(PrincipalKey::role(OrgRole::OrgOwner), 23));
        let sb = ServiceBucket::new(entries);
        assert_eq!(sb.role_run(0), Some((20, 1)));
        assert_eq!(sb.role_run(5), Some((21, 3)));
        assert!(
            sb.bucket.entries[21..24]
                .iter()
                .all(|e| e.key == PrincipalKey::role(OrgRole::Member))
        );
        assert_eq!(sb.role_run(1), None);
        assert_eq!(sb.role_run(7), None);
        assert_eq!(size_of::<ServiceBucket>(), 64);
    }

    #[test]
    fn small_buckets_and_uncompactable_keys_have_no_table() {
        let small = Bucket::new((0..8).map(|g| entry(PrincipalKey::user(g), g)).collect());
        assert!(small.table.is_empty());
        let wide = Bucket::new(
            (0..20)
                .map(|g| entry(PrincipalKey::user(u32::MAX - g), g))
                .collect(),
        );
        assert!(wide.table.is_empty());
    }
}
