//! Timeline pages kept in memory, each under the version of its vehicle's timeline it was read at.
//!
//! A store that counts each vehicle's timeline changes ([`EdgeStore::timeline_version`]; SQLite does, in
//! triggers on the `timeline` table, so a write from any process or code path counts) lets a page be
//! answered without reading its rows again while the version stays the same: one short read of the
//! version instead of a walk of up to 201 rows and a copy of their JSON. The version also makes the
//! page's `ETag`, so a client that already holds it is answered `304 Not Modified` (docs/api.md,
//! "Conditional timeline pages"; docs/bench.md).
//!
//! A kept page is never served under another version: a lookup names the version just read, and an
//! entry of any other version is a miss (and is replaced). The page stored under a version is read
//! after that version was, so it is at least as new as the version says — never older.
//!
//! The cache is bounded by the bytes of the pages it keeps (`--timeline-cache-mib`); when a new page
//! does not fit, the least recently used pages make room. A page larger than a quarter of the budget is
//! not kept.
//!
//! [`EdgeStore::timeline_version`]: crate::store::EdgeStore::timeline_version

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;

/// What one entry costs the budget besides its page: its key and bookkeeping, roughly.
const ENTRY_OVERHEAD: usize = 128;

/// Pages by (organisation, vehicle, query string), each with the timeline version it was read at.
#[derive(Debug)]
pub struct PageCache {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Bytes held: the pages, their keys and [`ENTRY_OVERHEAD`] each.
    bytes: usize,
    /// A counter standing for time: each use of an entry stamps it.
    tick: u64,
    hits: u64,
    misses: u64,
}

#[derive(Debug)]
struct Entry {
    version: u64,
    page: Bytes,
    used: u64,
}

impl Entry {
    fn cost(key: &str, page: &Bytes) -> usize {
        key.len() + page.len() + ENTRY_OVERHEAD
    }
}

/// How often the cache answered (`PageCache::stats`; read by the tests and the bench — no route exposes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub pages: usize,
    pub bytes: usize,
}

impl Inner {
    /// Removes the least recently used entries until at most `room` bytes are held, and at least an
    /// eighth of the entries: one walk of the entries pays for the next many insertions (a walk per
    /// insertion would cost a full cache of small pages more than the pages save).
    fn make_room(&mut self, room: usize) {
        let mut by_use: Vec<(u64, usize)> = self
            .entries
            .iter()
            .map(|(key, e)| (e.used, Entry::cost(key, &e.page)))
            .collect();
        by_use.sort_unstable_by_key(|&(used, _)| used);
        let (mut freed, mut last, at_least) = (0, 0, by_use.len().div_ceil(8));
        for (n, &(used, cost)) in by_use.iter().enumerate() {
            if n >= at_least && self.bytes - freed <= room {
                break;
            }
            freed += cost;
            last = used;
        }
        self.entries.retain(|_, e| e.used > last);
        self.bytes = self
            .entries
            .iter()
            .map(|(key, e)| Entry::cost(key, &e.page))
            .sum();
    }
}

impl PageCache {
    /// A cache of at most `budget` bytes; `0` keeps nothing.
    pub fn new(budget: usize) -> PageCache {
        PageCache {
            budget,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Whether the cache keeps anything at all.
    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// The key of a page: the vehicle (with its organisation) and the request's query string as it came.
    /// Two query strings that ask for the same page are two entries; a key never names two pages.
    pub fn key(org_id: &str, vehicle_id: &str, query: Option<&str>) -> String {
        let query = query.unwrap_or("");
        let mut key = String::with_capacity(org_id.len() + vehicle_id.len() + query.len() + 2);
        key.push_str(org_id);
        key.push('\n');
        key.push_str(vehicle_id);
        key.push('\n');
        key.push_str(query);
        key
    }

    /// The page kept under `key` when it was read at `version`.
    pub fn get(&self, key: &str, version: u64) -> Option<Bytes> {
        if !self.enabled() {
            return None;
        }
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let found = match inner.entries.get_mut(key) {
            Some(entry) if entry.version == version => {
                entry.used = tick;
                Some(entry.page.clone())
            }
            _ => None,
        };
        match found {
            Some(_) => inner.hits += 1,
            None => inner.misses += 1,
        }
        found
    }

    /// Keeps `page`, read at `version` (or later), under `key`, replacing whatever was there; the least
    /// recently used pages make room when the budget is full.
    pub fn put(&self, key: String, version: u64, page: Bytes) {
        let cost = Entry::cost(&key, &page);
        if !self.enabled() || cost > self.budget / 4 {
            return;
        }
        let mut inner = self.lock();
        inner.tick += 1;
        let used = inner.tick;
        if let Some(old) = inner.entries.remove(&key) {
            if old.version > version {
                // A slower request read an older version than the one already kept: keep the newer.
                inner.entries.insert(key, old);
                return;
            }
            inner.bytes -= Entry::cost(&key, &old.page);
        }
        if inner.bytes + cost > self.budget {
            inner.make_room(self.budget - cost);
        }
        inner.bytes += cost;
        inner.entries.insert(
            key,
            Entry {
                version,
                page,
                used,
            },
        );
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            hits: inner.hits,
            misses: inner.misses,
            pages: inner.entries.len(),
            bytes: inner.bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing in the cache can be left half-changed by a panic: every change is whole or not made.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    #[test]
    fn a_page_is_served_only_under_the_version_it_was_kept_at() {
        let cache = PageCache::new(1 << 20);
        let key = PageCache::key("org_a", "veh_1", Some("limit=50"));
        cache.put(key.clone(), 3, page(10));
        assert_eq!(cache.get(&key, 3), Some(page(10)));
        assert_eq!(cache.get(&key, 4), None, "a newer version is a miss");
        assert_eq!(cache.get(&key, 2), None, "so is an older one");
        let other = PageCache::key("org_a", "veh_1", Some("limit=51"));
        assert_eq!(
            cache.get(&other, 3),
            None,
            "another query string is another page"
        );
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.pages), (1, 3, 1));
    }

    #[test]
    fn a_newer_page_replaces_an_older_and_an_older_never_replaces_a_newer() {
        let cache = PageCache::new(1 << 20);
        let key = PageCache::key("org_a", "veh_1", None);
        cache.put(key.clone(), 1, page(10));
        cache.put(key.clone(), 2, page(20));
        assert_eq!(cache.get(&key, 2), Some(page(20)));
        cache.put(key.clone(), 1, page(10));
        assert_eq!(
            cache.get(&key, 2),
            Some(page(20)),
            "the late older page was not kept"
        );
        assert_eq!(cache.stats().pages, 1);
        assert_eq!(
            cache.stats().bytes,
            Entry::cost(&key, &page(20)),
            "the replaced page's bytes were given back"
        );
    }

    #[test]
    fn the_least_recently_used_pages_make_room_and_the_budget_holds() {
        let budget = 4 * (1000 + ENTRY_OVERHEAD + 32);
        let cache = PageCache::new(budget);
        let keys: Vec<String> = (0..6)
            .map(|i| PageCache::key("org_a", &format!("veh_{i}"), None))
            .collect();
        for (i, key) in keys.iter().enumerate().take(3) {
            cache.put(key.clone(), i as u64, page(1000));
        }
        // veh_0 is used again, so veh_1 is now the least recently used.
        assert!(cache.get(&keys[0], 0).is_some());
        cache.put(keys[3].clone(), 3, page(1000));
        cache.put(keys[4].clone(), 4, page(1000));
        assert!(cache.stats().bytes <= budget, "{:?}", cache.stats());
        assert!(
            cache.get(&keys[1], 1).is_none(),
            "the least recently used went"
        );
        assert!(cache.get(&keys[0], 0).is_some(), "the recently used stayed");
        assert!(cache.get(&keys[4], 4).is_some());
    }

    #[test]
    fn a_full_cache_of_many_pages_stays_within_its_budget_and_keeps_the_newest() {
        let cache = PageCache::new(64 * 1024);
        for i in 0..2_000_u64 {
            cache.put(
                PageCache::key("org_a", &format!("veh_{i}"), None),
                i,
                page(200),
            );
            assert!(
                cache.stats().bytes <= 64 * 1024,
                "after {i}: {:?}",
                cache.stats()
            );
        }
        let stats = cache.stats();
        assert!(
            stats.pages > 100,
            "room is made an eighth at a time: {stats:?}"
        );
        for i in 1_990..2_000_u64 {
            let key = PageCache::key("org_a", &format!("veh_{i}"), None);
            assert!(cache.get(&key, i).is_some(), "the newest pages stay ({i})");
        }
        assert!(
            cache
                .get(&PageCache::key("org_a", "veh_0", None), 0)
                .is_none()
        );
    }

    #[test]
    fn a_page_too_large_for_the_budget_and_a_cache_of_nothing_keep_nothing() {
        let cache = PageCache::new(4096);
        let key = PageCache::key("org_a", "veh_1", None);
        cache.put(key.clone(), 1, page(2000));
        assert_eq!(cache.get(&key, 1), None, "over a quarter of the budget");
        let off = PageCache::new(0);
        assert!(!off.enabled());
        off.put(key.clone(), 1, page(10));
        assert_eq!(off.get(&key, 1), None);
        assert_eq!(
            off.stats(),
            CacheStats::default(),
            "an off cache counts nothing"
        );
    }
}
