//! [`Member`]: one user's membership in one org, in one 128-byte slot,
//! found by the user's id in that slot ([`MemberTable`]).
//!
//! Every decision looks the user up in the org and reads the member's
//! status, roles and principal keys, and most read its seats. The lookup's
//! slot *is* the member: two adjacent cache lines (aligned as a pair, so
//! they are fetched together) with the hash tag, the user id (up to
//! [`INLINE_ID`] bytes; longer ids live in the table's arena), the status
//! and roles, up to [`INLINE_KEYS`] principal keys in compact form (at L a
//! member has 2–33 keys, 8–10 typically), and one slice holding the rest
//! (keys that do not fit, then the seats). So finding the member and
//! reading its keys is one memory round trip, not an id slot, then the
//! member, then its keys. What only `allowed_by` reads (which group carries
//! a role) is kept per org, beside the members
//! ([`super::OrgData::role_via`]), indexed by the member's dense `slot`.

use super::ids::{hash, tag_of};
use super::probe::{self, Look};
use super::{NO_KEY, PrincipalKey, RoleSet, ServiceRoleBits};
use crate::model::MembershipStatus;

/// How many principal keys fit in the member's own two cache lines.
pub(crate) const INLINE_KEYS: usize = 23;
/// User ids of at most this many bytes are kept in the member's slot.
pub(crate) const INLINE_ID: usize = 7;

/// One user's membership in one org, with everything derived from it.
#[derive(Debug)]
#[repr(C, align(128))]
pub(crate) struct Member {
    /// 0: an empty table slot; else the user id's hash tag.
    tag: u32,
    /// The member's dense index in the org (`role_via`, service rows).
    pub slot: u32,
    /// The user id's length.
    id_len: u8,
    pub status: MembershipStatus,
    /// Roles of the membership itself.
    pub direct_roles: RoleSet,
    /// Direct roles and the roles of every group listing the user.
    pub roles: RoleSet,
    /// How many of `inline` are keys; 0 when the keys are in `extra`.
    inline_len: u8,
    /// The user id (`id_len <= INLINE_ID`), or its offset in the table's
    /// arena (first 4 bytes, LE).
    id: [u8; INLINE_ID],
    /// The sorted compact keys of every principal that matches the user,
    /// when they fit here; the unused slots hold [`NO_KEY`], so a key is
    /// looked for in all of them at once, without branches.
    inline: [u32; INLINE_KEYS],
    /// The sorted keys ([`PrincipalKey::word`]) when they do not fit in
    /// `inline`, then the seats ([`seat_word`]), sorted by service.
    extra: Box<[u64]>,
}

/// Marks a seat word in `extra`: no key's word has it ([`PrincipalKey::NONE`]
/// is never a member's key), so the seats start at the first word with it.
const SEAT: u64 = 1 << 63;

/// A seat in `extra`: `SEAT | service << 8 | service role bits`.
const fn seat_word(service: u32, roles: ServiceRoleBits) -> u64 {
    SEAT | (service as u64) << 8 | roles as u64
}

const fn seat_service(word: u64) -> u32 {
    ((word & !SEAT) >> 8) as u32
}

const fn seat_roles(word: u64) -> ServiceRoleBits {
    word as u8
}

const _: () = assert!(size_of::<Member>() == 128);

/// How many of the inline key slots lie in the member's first cache line.
const FIRST_LINE_KEYS: usize = 11;
const _: () = assert!(std::mem::offset_of!(Member, inline) + 4 * FIRST_LINE_KEYS <= 64);

impl Member {
    /// `keys`: every principal that matches the user, sorted and
    /// deduplicated; `seats`: (service, roles), sorted by service, each once.
    pub(crate) fn new(
        status: MembershipStatus,
        direct_roles: RoleSet,
        roles: RoleSet,
        seats: &[(u32, ServiceRoleBits)],
        keys: Vec<PrincipalKey>,
    ) -> Member {
        let compacted: Option<Vec<u32>> = keys.iter().map(|k| k.compact()).collect();
        let mut inline = [NO_KEY; INLINE_KEYS];
        let seat_words = seats.iter().map(|(s, b)| seat_word(*s, *b));
        let (inline_len, extra) = match compacted {
            Some(c) if c.len() <= INLINE_KEYS && !c.is_empty() => {
                inline[..c.len()].copy_from_slice(&c);
                (c.len() as u8, seat_words.collect())
            }
            _ => (0, keys.iter().map(|k| k.word()).chain(seat_words).collect()),
        };
        Member {
            status,
            direct_roles,
            roles,
            inline_len,
            inline,
            extra,
            ..Member::empty()
        }
    }

    /// An empty table slot.
    fn empty() -> Member {
        Member {
            tag: 0,
            slot: 0,
            id_len: 0,
            status: MembershipStatus::Deactivated,
            direct_roles: RoleSet::default(),
            roles: RoleSet::default(),
            inline_len: 0,
            id: [0; INLINE_ID],
            inline: [NO_KEY; INLINE_KEYS],
            extra: Box::default(),
        }
    }

    /// Where the seats start in `extra`.
    #[inline]
    fn seats_from(&self) -> usize {
        if self.inline_len == 0 {
            self.extra.partition_point(|w| w & SEAT == 0)
        } else {
            0
        }
    }

    /// The key words in `extra` (none when the keys are inline).
    #[inline]
    fn spilled(&self) -> &[u64] {
        self.extra.get(..self.seats_from()).unwrap_or_default()
    }

    #[inline]
    fn seat_words(&self) -> &[u64] {
        self.extra.get(self.seats_from()..).unwrap_or_default()
    }

    /// Whether `principal` matches the user.
    #[inline]
    pub fn matches(&self, principal: PrincipalKey) -> bool {
        if self.inline_len == 0 {
            return self.spilled().binary_search(&principal.word()).is_ok();
        }
        // A key without a compact form is none of the inline ones. The
        // slots are compared all at once (the unused ones hold `NO_KEY`,
        // which no key compacts to): a fixed-length loop the compiler turns
        // into a few vector compares, where a search stopping at the first
        // match branches once per key. When the keys all lie in the first
        // cache line (at L typically), only its slots are compared, so the
        // second line is not read for it.
        principal.compact().is_some_and(|c| {
            let slots = if usize::from(self.inline_len) <= FIRST_LINE_KEYS {
                self.inline.get(..FIRST_LINE_KEYS).unwrap_or(&self.inline)
            } else {
                &self.inline
            };
            slots.iter().fold(false, |found, k| found | (*k == c))
        })
    }

    /// The position of `principal` among the user's keys, in
    /// [`Member::each_key`] order, if it matches the user.
    pub fn key_position(&self, principal: PrincipalKey) -> Option<usize> {
        if self.inline_len == 0 {
            return self.spilled().binary_search(&principal.word()).ok();
        }
        let c = principal.compact()?;
        self.inline_keys().iter().position(|k| *k == c)
    }

    /// The user's principal key at `position`, in [`Member::each_key`]
    /// order.
    #[inline]
    pub fn key_at(&self, position: usize) -> Option<PrincipalKey> {
        if self.inline_len == 0 {
            return self
                .spilled()
                .get(position)
                .map(|w| PrincipalKey::from_word(*w));
        }
        self.inline_keys()
            .get(position)
            .map(|c| PrincipalKey::expand(*c))
    }

    /// How many principal keys match the user.
    #[inline]
    pub fn key_count(&self) -> usize {
        if self.inline_len == 0 {
            self.spilled().len()
        } else {
            usize::from(self.inline_len)
        }
    }

    /// Calls `f` with every principal key of the user, in order.
    #[inline]
    pub fn each_key(&self, mut f: impl FnMut(PrincipalKey)) {
        if self.inline_len == 0 {
            self.spilled()
                .iter()
                .for_each(|w| f(PrincipalKey::from_word(*w)));
        } else {
            self.inline_keys()
                .iter()
                .for_each(|c| f(PrincipalKey::expand(*c)));
        }
    }

    #[inline]
    fn inline_keys(&self) -> &[u32] {
        self.inline
            .get(..usize::from(self.inline_len))
            .unwrap_or_default()
    }

    /// The user's service roles on `service` (0: no seat).
    ///
    /// The principal keys hold a team key for every service the user is
    /// seated on, so when they are inline a user without a seat there is
    /// answered from the member's own line, without reading the seats.
    #[inline]
    pub fn seat_roles(&self, service: u32) -> ServiceRoleBits {
        if self.inline_len != 0 && !self.matches(PrincipalKey::team(service)) {
            return 0;
        }
        let seats = self.seat_words();
        match seats.binary_search_by_key(&service, |w| seat_service(*w)) {
            Ok(at) => seats.get(at).map_or(0, |w| seat_roles(*w)),
            Err(_) => 0,
        }
    }
}

/// An org's members by user id: open addressing (linear probing, load at
/// most one half) over [`Member`] lines.
#[derive(Debug, Default)]
pub(crate) struct MemberTable {
    slots: Box<[Member]>,
    /// User ids longer than [`INLINE_ID`].
    arena: Box<[u8]>,
}

impl MemberTable {
    /// `members[slot]` is the membership of `users[slot]`; a repeated user
    /// id keeps its first member.
    pub(crate) fn build(users: &[&str], members: Vec<Member>) -> MemberTable {
        let capacity = probe::capacity(users.len());
        let mut slots: Vec<Member> = std::iter::repeat_with(Member::empty)
            .take(capacity)
            .collect();
        let mut arena: Vec<u8> = Vec::new();
        for ((slot, user), mut member) in users.iter().enumerate().zip(members) {
            let bytes = user.as_bytes();
            let h = hash(bytes);
            if find(&slots, &arena, bytes, h).is_some() {
                continue;
            }
            member.tag = tag_of(h);
            member.slot = slot as u32;
            member.id_len = bytes.len().min(usize::from(u8::MAX)) as u8;
            if bytes.len() <= INLINE_ID {
                member.id[..bytes.len()].copy_from_slice(bytes);
            } else {
                let offset = arena.len() as u32;
                member.id[..4].copy_from_slice(&offset.to_le_bytes());
                arena.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                arena.extend_from_slice(bytes);
            }
            let at = probe::vacant(&slots, h as usize, |s| s.tag == 0);
            if let Some(s) = at.and_then(|at| slots.get_mut(at)) {
                *s = member;
            }
        }
        MemberTable {
            slots: slots.into_boxed_slice(),
            arena: arena.into_boxed_slice(),
        }
    }

    /// The member whose user id is `user`.
    #[inline]
    pub fn get(&self, user: &str) -> Option<&Member> {
        let bytes = user.as_bytes();
        find(&self.slots, &self.arena, bytes, hash(bytes))
    }

    /// How many members.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Every member, in table order.
    pub fn iter(&self) -> impl Iterator<Item = &Member> {
        self.slots.iter().filter(|m| m.tag != 0)
    }

    /// The user id of a member of this table.
    pub fn user_id<'a>(&'a self, m: &'a Member) -> Option<&'a str> {
        let len = usize::from(m.id_len);
        let bytes = if len <= INLINE_ID {
            m.id.get(..len)?
        } else {
            // Long ids: the arena holds the length (4 bytes, LE), then the id.
            let offset = u32::from_le_bytes(m.id.get(..4)?.try_into().ok()?) as usize;
            let stored =
                u32::from_le_bytes(self.arena.get(offset..offset + 4)?.try_into().ok()?) as usize;
            self.arena.get(offset + 4..offset + 4 + stored)?
        };
        std::str::from_utf8(bytes).ok()
    }
}

#[inline]
fn find<'a>(slots: &'a [Member], arena: &[u8], bytes: &[u8], h: u64) -> Option<&'a Member> {
    let tag = tag_of(h);
    probe::find(slots, h as usize, |m| {
        if m.tag == 0 {
            Look::Empty
        } else if m.tag == tag && id_eq(arena, m, bytes) {
            Look::Hit
        } else {
            Look::Taken
        }
    })
}

#[inline]
fn id_eq(arena: &[u8], m: &Member, bytes: &[u8]) -> bool {
    if bytes.len() <= INLINE_ID {
        return usize::from(m.id_len) == bytes.len() && m.id.get(..bytes.len()) == Some(bytes);
    }
    // Long ids: the arena holds the length (4 bytes, LE), then the id.
    let word = |at: usize| -> Option<usize> {
        let mut w = [0u8; 4];
        w.copy_from_slice(arena.get(at..at + 4)?);
        Some(u32::from_le_bytes(w) as usize)
    };
    let mut offset = [0u8; 4];
    offset.copy_from_slice(m.id.get(..4).unwrap_or(&[0; 4]));
    let offset = u32::from_le_bytes(offset) as usize;
    m.id_len as usize > INLINE_ID
        && word(offset) == Some(bytes.len())
        && arena.get(offset + 4..offset + 4 + bytes.len()) == Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::{INLINE_KEYS, Member, MemberTable};
    use crate::compile::{PrincipalKey, RoleSet};
    use crate::model::MembershipStatus;
    use crate::model::OrgRole;

    fn member(keys: Vec<PrincipalKey>, seats: &[(u32, u8)]) -> Member {
        let r = RoleSet::default();
        Member::new(MembershipStatus::Active, r, r, seats, keys)
    }

    #[test]
    fn few_keys_inline_and_many_or_wide_keys_spilled_match_alike() {
        let few: Vec<PrincipalKey> = vec![
            PrincipalKey::user(3),
            PrincipalKey::group(9),
            PrincipalKey::role(OrgRole::Member),
        ];
        let many_groups =
            || -> Vec<PrincipalKey> { (0..=INLINE_KEYS as u32).map(PrincipalKey::group).collect() };
        let many = many_groups();
        let wide: Vec<PrincipalKey> = vec![
            PrincipalKey::user(u32::MAX - 1),
            PrincipalKey::role(OrgRole::OrgAdmin),
        ];
        // Seats come with their team keys (as `build` makes them).
        let seats = [(2, 1), (7, 6), (40, 16)];
        let with_teams = |mut keys: Vec<PrincipalKey>| {
            keys.extend(seats.iter().map(|(s, _)| PrincipalKey::team(*s)));
            keys.sort_unstable();
            keys
        };
        // Around the inline limits: 11 keys fill the first cache line, 23
        // every inline slot.
        let groups =
            |n: u32| -> Vec<PrincipalKey> { (0..n).map(|g| PrincipalKey::group(g * 3)).collect() };
        let cases = [
            (few, &[][..]),
            (groups(11), &[]),
            (groups(12), &[]),
            (groups(INLINE_KEYS as u32), &[]),
            (many, &[]),
            (wide, &[]),
            (with_teams(vec![PrincipalKey::user(3)]), &seats[..]),
            (with_teams(many_groups()), &seats),
        ];
        for (keys, seats) in cases {
            let m = member(keys.clone(), seats);
            assert_eq!(m.key_count(), keys.len());
            let mut seen = Vec::new();
            m.each_key(|k| seen.push(k));
            assert_eq!(seen, keys);
            for (i, k) in keys.iter().enumerate() {
                assert!(m.matches(*k));
                assert_eq!(m.key_position(*k), Some(i));
                assert_eq!(m.key_at(i), Some(*k));
            }
            assert_eq!(m.key_at(keys.len()), None);
            assert_eq!(m.key_position(PrincipalKey::user(4)), None);
            // Keys of no case, and the key whose compact form would be the
            // unused slots' filler.
            assert!(!m.matches(PrincipalKey::group(100)));
            assert!(!m.matches(PrincipalKey::team(999)));
            assert!(!m.matches(PrincipalKey::user((1 << 30) - 1)));
            assert!(!m.matches(PrincipalKey::user(4)));
            assert!(!m.matches(PrincipalKey::user(u32::MAX - 2)));
            assert!(!m.matches(PrincipalKey::NONE));
            for (s, bits) in seats {
                assert_eq!(m.seat_roles(*s), *bits);
            }
            assert_eq!(m.seat_roles(3), 0);
        }
    }

    #[test]
    fn the_table_finds_short_and_long_ids_and_nothing_else() {
        let long = "a-user-id-much-longer-than-seven-bytes";
        let mut users: Vec<String> = (0..1000).map(|n| format!("u{n}")).collect();
        users.extend([long.to_string(), String::new(), "u1".into()]);
        let ids: Vec<&str> = users.iter().map(String::as_str).collect();
        let members = (0..ids.len() as u32)
            .map(|n| member(vec![PrincipalKey::user(n)], &[]))
            .collect();
        let table = MemberTable::build(&ids, members);
        assert_eq!(table.len(), 1002);
        for (n, id) in ids.iter().enumerate().take(1002) {
            let m = table.get(id).unwrap();
            assert_eq!(m.slot, n as u32);
            assert!(m.matches(PrincipalKey::user(n as u32)));
        }
        assert_eq!(table.get("u1").unwrap().slot, 1, "the first member wins");
        assert!(
            table
                .get("a-user-id-much-longer-than-seven-byteS")
                .is_none()
        );
        assert!(
            table
                .get("a-user-id-much-longer-than-seven-bytes!")
                .is_none()
        );
        assert!(table.get("u1000").is_none());
        assert!(table.get("u10000").is_none());
        assert!(MemberTable::default().get("u1").is_none());
    }
}
