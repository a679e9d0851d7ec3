//! The one open-addressing scheme of the snapshot: linear probing over a
//! power-of-two table kept at most half full. [`super::IdIndex`],
//! [`super::MemberTable`] and [`super::KeyTable`] each keep their own slot
//! layout (sized for the cache lines a lookup reads) and tell [`probe`] only
//! where a key's probe starts and what a slot holds for it.

/// What a slot holds for the key being looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Look {
    /// Nothing: the key is not in the table (and could go here).
    Empty,
    /// The key.
    Hit,
    /// Another key: probing goes on at the next slot.
    Taken,
}

/// A table's capacity for `len` keys: a power of two, at least twice `len`.
pub(super) fn capacity(len: usize) -> usize {
    (len * 2).next_power_of_two().max(8)
}

/// The position of the first slot, from `home` on (wrapping), that `look`
/// calls [`Look::Empty`] or [`Look::Hit`], with what it holds; `None` for an
/// empty or a full table.
#[inline]
pub(super) fn probe<T>(
    slots: &[T],
    home: usize,
    mut look: impl FnMut(&T) -> Look,
) -> Option<(usize, Look)> {
    let mask = slots.len().checked_sub(1)?;
    let mut at = home & mask;
    for _ in 0..slots.len() {
        match look(slots.get(at)?) {
            Look::Taken => at = (at + 1) & mask,
            found => return Some((at, found)),
        }
    }
    None
}

/// The slot holding the key, if any.
#[inline]
pub(super) fn find<T>(slots: &[T], home: usize, look: impl FnMut(&T) -> Look) -> Option<&T> {
    match probe(slots, home, look)? {
        (at, Look::Hit) => slots.get(at),
        _ => None,
    }
}

/// Where a key not yet in the table goes: the first empty slot from `home`.
pub(super) fn vacant<T>(slots: &[T], home: usize, is_empty: impl Fn(&T) -> bool) -> Option<usize> {
    let look = |slot: &T| {
        if is_empty(slot) {
            Look::Empty
        } else {
            Look::Taken
        }
    };
    probe(slots, home, look).map(|(at, _)| at)
}

#[cfg(test)]
mod tests {
    use super::{Look, capacity, find, probe, vacant};

    #[test]
    fn probing_wraps_stops_at_empty_and_never_loops_on_a_full_table() {
        let slots = [7u32, 0, 5, 6];
        let look = |want: u32| {
            move |s: &u32| match *s {
                0 => Look::Empty,
                s if s == want => Look::Hit,
                _ => Look::Taken,
            }
        };
        assert_eq!(find(&slots, 2, look(7)), Some(&7), "wraps around");
        assert_eq!(find(&slots, 2, look(9)), None);
        assert_eq!(vacant(&slots, 2, |s| *s == 0), Some(1));
        assert_eq!(probe(&[1u32, 2, 3, 4], 0, look(9)), None, "full table");
        assert_eq!(probe::<u32>(&[], 0, look(9)), None);
        assert_eq!((capacity(0), capacity(5), capacity(8)), (8, 16, 16));
    }
}
