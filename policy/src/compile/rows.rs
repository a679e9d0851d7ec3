//! [`ServiceRows`]: per member, which services' grant buckets name the
//! member other than through an org role.
//!
//! A service's bucket holds ~184 grants at L; looking each of a user's
//! principal keys up in it costs a cache line per key, and for most
//! (member, service) pairs every lookup but the org role's misses. One bit
//! per (member, service), a member's row in one cache line, says when only
//! the org-role keys need looking up. The bits are a hint that never hides a
//! grant: a set bit means "look up every key", as without the rows.

use super::{KEY_ROLE, PrincipalKey};

/// One cache line of bits.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Line([u64; 8]);

const BITS_PER_LINE: usize = 512;

/// Rows are built only while they take at most this many bytes.
const MAX_BYTES: usize = 64 << 20;

/// Bit (member slot, service index): the service's bucket has a grant whose
/// principal (a user, group or team) matches the member.
#[derive(Debug, Default)]
pub(crate) struct ServiceRows {
    lines: Box<[Line]>,
    lines_per_row: usize,
    services: usize,
}

impl ServiceRows {
    /// `buckets[s]`: the principal keys of service `s`'s grants;
    /// `holders(key, f)`: calls `f` with the slot of every member that
    /// principal matches (the user's own, a group's members, a team's seats).
    pub(crate) fn build<'a>(
        members: usize,
        buckets: impl ExactSizeIterator<Item = &'a [PrincipalKey]>,
        holders: impl Fn(PrincipalKey, &mut dyn FnMut(u32)),
    ) -> ServiceRows {
        let services = buckets.len();
        let lines_per_row = services.div_ceil(BITS_PER_LINE);
        if services == 0 || members.saturating_mul(lines_per_row) > MAX_BYTES / 64 {
            return ServiceRows::default();
        }
        let mut lines = vec![Line::default(); members * lines_per_row];
        for (s, keys) in buckets.enumerate() {
            let mut last = None;
            for &k in keys {
                if k >> 32 == KEY_ROLE || last == Some(k) {
                    continue;
                }
                last = Some(k);
                holders(k, &mut |slot| {
                    let at = slot as usize * lines_per_row + s / BITS_PER_LINE;
                    let bit = s % BITS_PER_LINE;
                    if let Some(line) = lines.get_mut(at)
                        && let Some(word) = line.0.get_mut(bit / 64)
                    {
                        *word |= 1 << (bit % 64);
                    }
                });
            }
        }
        ServiceRows {
            lines: lines.into_boxed_slice(),
            lines_per_row,
            services,
        }
    }

    /// Whether only the member's org-role keys can match a grant in service
    /// `service`'s bucket. `false` when unknown (no rows built).
    #[inline]
    pub(crate) fn roles_only(&self, slot: u32, service: u32) -> bool {
        let s = service as usize;
        if s >= self.services {
            return false;
        }
        let at = (slot as usize)
            .saturating_mul(self.lines_per_row)
            .saturating_add(s / BITS_PER_LINE);
        let bit = s % BITS_PER_LINE;
        self.lines
            .get(at)
            .and_then(|line| line.0.get(bit / 64))
            .is_some_and(|word| word & (1 << (bit % 64)) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::ServiceRows;
    use crate::compile::{KEY_GROUP, KEY_ROLE, KEY_USER, key};

    #[test]
    fn a_bit_per_member_and_service_that_names_the_member() {
        // Members 0..3; group 0 = {1, 2}. Service 0 names user 0 and a role;
        // service 600 (second line of a row) names group 0.
        let mut buckets: Vec<Vec<u64>> = vec![Vec::new(); 601];
        buckets[0] = vec![key(KEY_USER, 10), key(KEY_ROLE, 4)];
        buckets[600] = vec![key(KEY_GROUP, 0), key(KEY_GROUP, 0)];
        let rows = ServiceRows::build(3, buckets.iter().map(Vec::as_slice), |k, f| match k {
            k if k == key(KEY_USER, 10) => f(0),
            k if k == key(KEY_GROUP, 0) => {
                f(1);
                f(2);
            }
            _ => {}
        });
        assert!(!rows.roles_only(0, 0));
        assert!(rows.roles_only(1, 0) && rows.roles_only(2, 0));
        assert!(rows.roles_only(0, 600));
        assert!(!rows.roles_only(1, 600) && !rows.roles_only(2, 600));
        assert!(rows.roles_only(0, 5));
        // Unknown slots or services, or no rows at all: never "roles only".
        assert!(!rows.roles_only(3, 0));
        assert!(!rows.roles_only(0, 601 + 512));
        assert!(!ServiceRows::default().roles_only(0, 0));
    }
}
