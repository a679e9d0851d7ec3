//! Objects shared by every snapshot whose settings for them are equal (an
//! upstream pool, a fetched key set), kept alive by the snapshots that use
//! them and found again by their settings when a reload builds a new one.

use std::sync::{Arc, Mutex, Weak};

/// The live objects of one kind, weakly held.
#[derive(Debug)]
pub struct Live<T> {
    items: Mutex<Vec<Weak<T>>>,
}

impl<T> Default for Live<T> {
    fn default() -> Self {
        Live {
            items: Mutex::new(Vec::new()),
        }
    }
}

impl<T> Live<T> {
    /// The live object `is_for` accepts, or the one `create` makes now
    /// (`started` runs once for a new object, e.g. to start its task).
    pub fn find_or_create(
        &self,
        is_for: impl Fn(&T) -> bool,
        create: impl FnOnce() -> Arc<T>,
        started: impl FnOnce(&Arc<T>),
    ) -> Arc<T> {
        let Ok(mut items) = self.items.lock() else {
            return create();
        };
        items.retain(|w| w.strong_count() > 0);
        if let Some(found) = items.iter().filter_map(Weak::upgrade).find(|t| is_for(t)) {
            return found;
        }
        let item = create();
        started(&item);
        items.push(Arc::downgrade(&item));
        item
    }

    /// Every object some snapshot still uses.
    pub fn all(&self) -> Vec<Arc<T>> {
        self.items
            .lock()
            .map(|i| i.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_found_while_used_and_forgotten_after() {
        let live: Live<u32> = Live::default();
        let mut starts = 0;
        let a = live.find_or_create(|v| *v == 1, || Arc::new(1), |_| starts += 1);
        let b = live.find_or_create(|v| *v == 1, || Arc::new(1), |_| starts += 1);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(starts, 1);
        drop((a, b));
        assert!(live.all().is_empty());
        live.find_or_create(|v| *v == 1, || Arc::new(1), |_| starts += 1);
        assert_eq!(starts, 2);
    }
}
