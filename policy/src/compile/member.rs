//! [`Member`]: one user's membership in one org, in one cache line.
//!
//! Every decision reads the member's status, roles and principal keys, and
//! most read its seats. They share one 64-byte line: up to [`INLINE_KEYS`]
//! principal keys are kept inside it in compact form (a user with more keys,
//! or with a key that has no compact form, keeps them all in a separate
//! slice), and what only `allowed_by` reads (which group carries a role) is
//! kept per org, beside the members ([`super::OrgData::role_via`]).

use super::bucket::compact;
use super::{PrincipalKey, RoleSet, ServiceRoleBits};
use crate::model::MembershipStatus;

/// How many principal keys fit in the member's own cache line.
pub(crate) const INLINE_KEYS: usize = 7;

/// One user's membership in one org, with everything derived from it.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct Member {
    pub status: MembershipStatus,
    /// Roles of the membership itself.
    pub direct_roles: RoleSet,
    /// Direct roles and the roles of every group listing the user.
    pub roles: RoleSet,
    /// How many of `inline` are keys (0 when the keys are in `spilled`).
    inline_len: u8,
    /// The sorted compact keys of every principal that matches the user,
    /// when they fit here.
    inline: [u32; INLINE_KEYS],
    /// Sorted (service resource index, roles) of every seat naming the user
    /// or one of the user's groups.
    pub seats: Box<[(u32, ServiceRoleBits)]>,
    /// The sorted keys, when they do not fit in `inline`; else empty.
    spilled: Box<[PrincipalKey]>,
}

const _: () = assert!(size_of::<Member>() == 64);

impl Member {
    /// `keys`: every principal that matches the user, sorted and deduplicated.
    pub(crate) fn new(
        status: MembershipStatus,
        direct_roles: RoleSet,
        roles: RoleSet,
        seats: Box<[(u32, ServiceRoleBits)]>,
        keys: Vec<PrincipalKey>,
    ) -> Member {
        let compacted: Option<Vec<u32>> = keys.iter().map(|k| compact(*k)).collect();
        let mut inline = [0u32; INLINE_KEYS];
        let (inline_len, spilled) = match compacted {
            Some(c) if c.len() <= INLINE_KEYS && !c.is_empty() => {
                inline[..c.len()].copy_from_slice(&c);
                (c.len() as u8, Box::default())
            }
            _ => (0, keys.into_boxed_slice()),
        };
        Member {
            status,
            direct_roles,
            roles,
            inline_len,
            inline,
            seats,
            spilled,
        }
    }

    /// Whether `principal` matches the user.
    #[inline]
    pub fn matches(&self, principal: PrincipalKey) -> bool {
        if self.inline_len == 0 {
            return self.spilled.binary_search(&principal).is_ok();
        }
        // A key without a compact form is none of the inline ones.
        compact(principal).is_some_and(|c| self.inline_keys().contains(&c))
    }

    /// How many principal keys match the user.
    #[inline]
    pub fn key_count(&self) -> usize {
        if self.inline_len == 0 {
            self.spilled.len()
        } else {
            usize::from(self.inline_len)
        }
    }

    /// Calls `f` with every principal key of the user, in order.
    #[inline]
    pub fn each_key(&self, mut f: impl FnMut(PrincipalKey)) {
        if self.inline_len == 0 {
            self.spilled.iter().for_each(|k| f(*k));
        } else {
            self.inline_keys()
                .iter()
                .for_each(|c| f(super::bucket::expand(*c)));
        }
    }

    #[inline]
    fn inline_keys(&self) -> &[u32] {
        self.inline
            .get(..usize::from(self.inline_len))
            .unwrap_or_default()
    }

    pub fn seat_roles(&self, service: u32) -> ServiceRoleBits {
        match self.seats.binary_search_by_key(&service, |s| s.0) {
            Ok(at) => self.seats.get(at).map_or(0, |s| s.1),
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{INLINE_KEYS, Member};
    use crate::compile::{KEY_GROUP, KEY_ROLE, KEY_USER, RoleSet, key};
    use crate::model::MembershipStatus;

    fn member(keys: Vec<u64>) -> Member {
        let r = RoleSet::default();
        Member::new(MembershipStatus::Active, r, r, Box::default(), keys)
    }

    #[test]
    fn few_keys_inline_and_many_or_wide_keys_spilled_match_alike() {
        let few: Vec<u64> = vec![key(KEY_USER, 3), key(KEY_GROUP, 9), key(KEY_ROLE, 5)];
        let many: Vec<u64> = (0..=INLINE_KEYS as u32)
            .map(|g| key(KEY_GROUP, g))
            .collect();
        let wide: Vec<u64> = vec![key(KEY_USER, u32::MAX - 1), key(KEY_ROLE, 1)];
        for keys in [few, many, wide] {
            let m = member(keys.clone());
            assert_eq!(m.key_count(), keys.len());
            let mut seen = Vec::new();
            m.each_key(|k| seen.push(k));
            assert_eq!(seen, keys);
            for k in &keys {
                assert!(m.matches(*k));
            }
            assert!(!m.matches(key(KEY_USER, 4)));
            assert!(!m.matches(key(KEY_USER, u32::MAX - 2)));
            assert!(!m.matches(crate::compile::KEY_NONE));
        }
    }
}
