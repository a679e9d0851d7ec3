//! Verified tokens, remembered until they expire.
//!
//! An entry is keyed by the token *and* its scope (issuer, audiences and the
//! snapshot revision, see [`super::cache_scope`]): a token verified for one
//! issuer or audience is never taken as verified for another, and a reload
//! that rotates keys starts from an empty cache.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A fast seeded hash: a bearer token is hundreds of bytes, hashed on every
/// request (SipHash was a visible share of a cached JWT request). Only
/// verified tokens are ever inserted, so keys cannot be chosen to collide.
type Hasher = foldhash::fast::RandomState;

/// At most this many tokens are remembered; past it the expired ones go, then all.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Default)]
pub struct TokenCache {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    scope: Box<str>,
    /// The fetched key set's generation the entries were verified with.
    generation: u64,
    entries: HashMap<Box<str>, Entry, Hasher>,
}

#[derive(Debug)]
struct Entry {
    user: Arc<str>,
    /// `exp`, seconds since the epoch: the entry is good while `now < exp`.
    exp: u64,
}

impl TokenCache {
    pub fn new() -> TokenCache {
        TokenCache::default()
    }

    /// The user of a token verified in `scope` that has not expired at `now`.
    pub fn get(&self, scope: &str, generation: u64, token: &str, now: u64) -> Option<Arc<str>> {
        let inner = self.inner.read().ok()?;
        if *inner.scope != *scope || inner.generation != generation {
            return None;
        }
        inner
            .entries
            .get(token)
            .filter(|e| now < e.exp)
            .map(|e| e.user.clone())
    }

    /// Remembers a token verified in `scope`; entries of any other scope are dropped.
    pub fn insert(
        &self,
        scope: &str,
        generation: u64,
        token: &str,
        user: Arc<str>,
        exp: u64,
        now: u64,
    ) {
        if exp <= now {
            return;
        }
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        if *inner.scope != *scope || inner.generation != generation {
            inner.scope = scope.into();
            inner.generation = generation;
            inner.entries.clear();
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.retain(|_, e| now < e.exp);
            if inner.entries.len() >= MAX_ENTRIES {
                inner.entries.clear();
            }
        }
        inner.entries.insert(token.into(), Entry { user, exp });
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.inner.read().map(|i| i.entries.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
