//! [`ServiceRows`]: per member and service, which of the member's principal
//! keys name it in the service's grant bucket other than an org role.
//!
//! A service's bucket holds ~184 grants at L; looking each of a user's
//! principal keys up in its key table costs a cache line per key, and for
//! most (member, service) pairs every lookup but the org role's misses. One
//! byte per (member, service) says which keys need looking up: bit `i`
//! (`i < 7`) for the member's `i`-th key (in [`super::Member::each_key`]
//! order), bit 7 for any key from the 8th on. So a decision reads this one
//! byte and then probes only the keys that have grants in the bucket
//! (usually none, or one group), not all of them. The bytes are a hint that
//! never hides a grant: a set bit means "look this key up", and where no
//! byte is known (no rows built, an unknown member or service) every key is
//! looked up, as without the rows.

use super::PrincipalKey;

/// Rows are built only while they take at most this many bytes.
const MAX_BYTES: usize = 64 << 20;

/// Byte (member slot, service index): which of the member's keys (other
/// than org roles) are principals of grants in the service's bucket.
#[derive(Debug, Default)]
pub(crate) struct ServiceRows {
    bytes: Box<[u8]>,
    services: usize,
}

impl ServiceRows {
    /// Bit 7 of a row byte: some key from this position on has grants.
    pub(crate) const REST: u32 = 7;

    /// `buckets[s]`: the principal keys of service `s`'s grants;
    /// `holders(key, f)`: calls `f` with the slot of every member that
    /// principal matches (the user's own, a group's members, a team's seats)
    /// and the position of `key` among that member's keys.
    pub(crate) fn build<'a>(
        members: usize,
        buckets: impl ExactSizeIterator<Item = &'a [PrincipalKey]>,
        holders: impl Fn(PrincipalKey, &mut dyn FnMut(u32, usize)),
    ) -> ServiceRows {
        let services = buckets.len();
        if services == 0 || members.saturating_mul(services) > MAX_BYTES {
            return ServiceRows::default();
        }
        let mut bytes = vec![0u8; members * services];
        for (s, keys) in buckets.enumerate() {
            let mut last = None;
            for &k in keys {
                if k.is_role() || last == Some(k) {
                    continue;
                }
                last = Some(k);
                holders(k, &mut |slot, position| {
                    if let Some(byte) = bytes.get_mut(slot as usize * services + s) {
                        *byte |= 1 << position.min(Self::REST as usize);
                    }
                });
            }
        }
        ServiceRows {
            bytes: bytes.into_boxed_slice(),
            services,
        }
    }

    /// Which of the member's keys to look up in service `service`'s bucket
    /// (org roles aside): see [`ServiceRows::positions`]. `0xFF`, all of them,
    /// when unknown (no rows built, an unknown member or service).
    #[inline]
    pub(crate) fn row(&self, slot: u32, service: u32) -> u8 {
        let s = service as usize;
        if s >= self.services {
            return u8::MAX;
        }
        (slot as usize)
            .checked_mul(self.services)
            .and_then(|at| self.bytes.get(at + s))
            .copied()
            .unwrap_or(u8::MAX)
    }

    /// Calls `f` with the position of every key (among a member's
    /// `key_count` keys) that `row`, the member's byte for a service, says
    /// to look up: each of bits 0–6 set, then, when bit 7 is set, every
    /// position from the 8th on.
    #[inline]
    pub(crate) fn positions(row: u8, key_count: usize, mut f: impl FnMut(usize)) {
        let rest = Self::REST as usize;
        let mut named = row & !(1 << Self::REST);
        while named != 0 {
            let position = named.trailing_zeros() as usize;
            if position < key_count {
                f(position);
            }
            named &= named - 1;
        }
        if row & (1 << Self::REST) != 0 {
            (rest..key_count).for_each(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ServiceRows;
    use crate::compile::PrincipalKey;
    use crate::model::OrgRole;

    #[test]
    fn a_byte_per_member_and_service_that_says_which_keys_name_the_member() {
        // Members 0..3; group 0 = {1 (its key 2), 2 (its key 9)}. Service 0
        // names user 0 (its key 0) and a role; service 600 names group 0.
        let mut buckets: Vec<Vec<PrincipalKey>> = vec![Vec::new(); 601];
        buckets[0] = vec![
            PrincipalKey::user(10),
            PrincipalKey::role(OrgRole::IntegrationAdmin),
        ];
        buckets[600] = vec![PrincipalKey::group(0), PrincipalKey::group(0)];
        let rows = ServiceRows::build(3, buckets.iter().map(Vec::as_slice), |k, f| match k {
            k if k == PrincipalKey::user(10) => f(0, 0),
            k if k == PrincipalKey::group(0) => {
                f(1, 2);
                f(2, 9);
            }
            _ => {}
        });
        assert_eq!(rows.row(0, 0), 0b1);
        assert_eq!((rows.row(1, 0), rows.row(2, 0)), (0, 0));
        assert_eq!(rows.row(0, 600), 0);
        assert_eq!((rows.row(1, 600), rows.row(2, 600)), (0b100, 0b1000_0000));
        assert_eq!(rows.row(0, 5), 0);
        let positions = |row: u8, keys: usize| {
            let mut out = Vec::new();
            ServiceRows::positions(row, keys, |p| out.push(p));
            out
        };
        assert_eq!(positions(rows.row(1, 600), 5), [2]);
        assert_eq!(positions(rows.row(0, 600), 5), [] as [usize; 0]);
        // Every key from the 8th on shares bit 7.
        assert_eq!(positions(rows.row(2, 600), 10), [7, 8, 9]);
        // Unknown: every key; never a position past the member's keys.
        assert_eq!(positions(u8::MAX, 9), (0..9).collect::<Vec<_>>());
        assert_eq!(positions(u8::MAX, 3), [0, 1, 2]);
        assert_eq!(positions(0b1000_0001, 1), [0]);
        // Unknown slots or services, or no rows at all: every key.
        assert_eq!(rows.row(3, 0), u8::MAX);
        assert_eq!(rows.row(0, 601), u8::MAX);
        assert_eq!(ServiceRows::default().row(0, 0), u8::MAX);
    }
}
