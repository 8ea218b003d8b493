//! `vwc_store::sqlite::allocate_through_rust`: once called, SQLite's memory (its page cache above all)
//! comes from Rust's global allocator — here a counting one, so the test sees it. Its own test binary,
//! because the call must come before anything in the process uses SQLite.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::SeqCst);
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn sqlite_page_caches_come_from_the_global_allocator_and_go_back_to_it() {
    assert!(vwc_store::sqlite::allocate_through_rust());
    // A second call finds SQLite configured and in use: refused, nothing changes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert!(!vwc_store::sqlite::allocate_through_rust());
    conn.execute_batch(
        "PRAGMA cache_size = -8192;
         CREATE TABLE t (body TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
         INSERT INTO t SELECT printf('%.2000c', 'x') FROM n;",
    )
    .unwrap();
    drop(conn);

    // Reading ~4 MB through a fresh connection fills its page cache: that memory is counted here.
    let before = LIVE.load(Ordering::SeqCst);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "cache_size", -8192).unwrap();
    let total: i64 = conn
        .query_row("SELECT sum(length(body)) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 2000 * 2000);
    let with_cache = LIVE.load(Ordering::SeqCst);
    assert!(
        with_cache >= before + 3_000_000,
        "SQLite's page cache did not come from the global allocator: {before} → {with_cache} bytes"
    );
    // Closing the connection gives it all back.
    drop(conn);
    let after = LIVE.load(Ordering::SeqCst);
    assert!(
        after < before + 500_000,
        "the page cache was not freed back: {before} → {after} bytes"
    );
}
