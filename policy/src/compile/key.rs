//! [`PrincipalKey`]: one principal of an org (a user, a group, a service's
//! team, an org role), interned as one ordered word, and its 4-byte
//! compact form. Only this module knows how the word is laid out.
//!
//! Keys sort by kind, then index, so a bucket's entries sorted by key keep
//! each principal's grants together and the kinds in the order above.

use crate::model::OrgRole;

/// What kind of principal a key names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    User = 0,
    Group = 1,
    Team = 2,
    Role = 3,
}

/// A principal of one org: its kind and its dense index among those of its
/// kind (user slot, group, service, [`OrgRole::index`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PrincipalKey(u64);

/// Indexes below this fit the compact form.
const COMPACT_INDEX: u32 = (1 << 30) - 1;

/// A `u32` that [`PrincipalKey::compact`] never returns (an index of
/// `COMPACT_INDEX` does not fit): fills unused compact-key slots.
pub(crate) const NO_KEY: u32 = COMPACT_INDEX;

impl PrincipalKey {
    /// A principal that names something that does not exist: matches no
    /// one, and sorts after every real key.
    pub const NONE: PrincipalKey = PrincipalKey(u64::MAX);

    pub const fn new(kind: KeyKind, index: u32) -> PrincipalKey {
        PrincipalKey((kind as u64) << 32 | index as u64)
    }

    pub const fn user(slot: u32) -> PrincipalKey {
        PrincipalKey::new(KeyKind::User, slot)
    }

    pub const fn group(group: u32) -> PrincipalKey {
        PrincipalKey::new(KeyKind::Group, group)
    }

    pub const fn team(service: u32) -> PrincipalKey {
        PrincipalKey::new(KeyKind::Team, service)
    }

    pub const fn role(role: OrgRole) -> PrincipalKey {
        PrincipalKey::new(KeyKind::Role, role.index())
    }

    /// The kind; `None` for [`PrincipalKey::NONE`].
    pub const fn kind(self) -> Option<KeyKind> {
        match self.0 >> 32 {
            0 => Some(KeyKind::User),
            1 => Some(KeyKind::Group),
            2 => Some(KeyKind::Team),
            3 => Some(KeyKind::Role),
            _ => None,
        }
    }

    /// The index among keys of its kind.
    pub const fn index(self) -> u32 {
        self.0 as u32
    }

    /// The group's index, when the key names a group.
    pub const fn group_index(self) -> Option<u32> {
        match self.kind() {
            Some(KeyKind::Group) => Some(self.index()),
            _ => None,
        }
    }

    pub const fn is_role(self) -> bool {
        matches!(self.kind(), Some(KeyKind::Role))
    }

    /// The key in 4 bytes (kind in the top 2 bits, index below), order
    /// kept; `None` if it does not fit (an index of 2^30 - 1 or more).
    #[inline]
    pub const fn compact(self) -> Option<u32> {
        if self.0 == PrincipalKey::NONE.0 {
            return Some(u32::MAX);
        }
        let kind = self.0 >> 32;
        let index = self.0 as u32;
        if kind <= KeyKind::Role as u64 && index < COMPACT_INDEX {
            Some((kind as u32) << 30 | index)
        } else {
            None
        }
    }

    /// The inverse of [`PrincipalKey::compact`].
    #[inline]
    pub const fn expand(compact: u32) -> PrincipalKey {
        if compact == u32::MAX {
            PrincipalKey::NONE
        } else {
            PrincipalKey(((compact >> 30) as u64) << 32 | (compact & COMPACT_INDEX) as u64)
        }
    }

    /// The key as one word, for a table that stores keys among other words.
    pub const fn word(self) -> u64 {
        self.0
    }

    /// The inverse of [`PrincipalKey::word`].
    pub const fn from_word(word: u64) -> PrincipalKey {
        PrincipalKey(word)
    }
}

#[cfg(test)]
mod tests {
    use super::{KeyKind, PrincipalKey};
    use crate::model::OrgRole;

    #[test]
    fn compact_keys_round_trip_in_order() {
        let keys = [
            PrincipalKey::user(0),
            PrincipalKey::user(7),
            PrincipalKey::group(3),
            PrincipalKey::role(OrgRole::Viewer),
            PrincipalKey::NONE,
        ];
        for pair in keys.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].compact() < pair[1].compact());
        }
        for k in keys {
            assert_eq!(PrincipalKey::expand(k.compact().unwrap()), k);
        }
        assert_eq!(PrincipalKey::user(u32::MAX - 1).compact(), None);
    }

    #[test]
    fn kinds_and_indexes_read_back() {
        let k = PrincipalKey::team(41);
        assert_eq!((k.kind(), k.index()), (Some(KeyKind::Team), 41));
        assert_eq!(PrincipalKey::group(9).group_index(), Some(9));
        assert_eq!(PrincipalKey::user(9).group_index(), None);
        assert_eq!(PrincipalKey::NONE.kind(), None);
        assert_eq!(PrincipalKey::NONE.group_index(), None);
        assert!(PrincipalKey::role(OrgRole::Member).is_role());
    }
}
