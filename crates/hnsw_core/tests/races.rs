//! Races and damage the hostile review of the tree found: an insert that read the meta
//! page before a VACUUM moved and freed its entry point, a walk down the tree that meets a
//! node VACUUM just took out of it, and a damaged pinned count.

mod common;
#[path = "common/crash.rs"]
mod crash;

use crash::{built, check_reachable, delete_rows, random, records, vacuum, DIM};
use hnsw_core::graph::{draw_level, splitmix64};
use hnsw_core::index::{insert, read_meta};
use hnsw_core::page::{HeapTid, MemStore, Meta, PageStore, PageWrite};
use std::cell::Cell;

/// The store as an insert sees it when it read the meta page just before a VACUUM
/// cleanup ran to the end: its first two meta reads (Inserter::new, the entry loop)
/// return the meta page of before the VACUUM; everything else is the store as it is.
struct StaleMeta<'a> {
    inner: &'a MemStore,
    stale: Meta,
    reads: Cell<usize>,
}

impl PageStore for StaleMeta<'_> {
    fn with_page<R>(&self, b: u32, f: impl FnOnce(&[u8]) -> R) -> R {
        self.inner.with_page(b, f)
    }
    fn with_pages<R>(&self, b: &[u32], f: impl FnOnce(&[&[u8]]) -> R) -> R {
        self.inner.with_pages(b, f)
    }
}

impl PageWrite for StaleMeta<'_> {
    fn modify<R>(&self, b: &[u32], f: impl FnOnce(&mut [&mut [u8]]) -> Option<R>) -> Option<R> {
        self.inner.modify(b, f)
    }
    fn blocks(&self) -> u32 {
        self.inner.blocks()
    }
    fn ensure_blocks(&self, b: u32) {
        self.inner.ensure_blocks(b)
    }
    fn meta(&self) -> Meta {
        let n = self.reads.get();
        self.reads.set(n + 1);
        if n < 2 {
            self.stale
        } else {
            self.inner.meta()
        }
    }
}

/// An insert reads the meta page (entry e, deleted); two VACUUMs move the entry point and
/// free e; the insert then searches from the freed e and finds nothing. It must still
/// join the tree (from the entry point as it is now), and must not become the entry
/// point outside it (then every row would be lost to scans).
#[test]
fn an_insert_that_read_a_freed_entry_point_still_joins_the_tree() {
    for (case, want_high) in [(1, true), (0, false)] {
        let mut store = built(random(200, 7));
        let before = read_meta(&store).unwrap();
        let e = before.entry.unwrap().node;
        delete_rows(&mut store, |id, _| id == e);
        let stale = read_meta(&store).unwrap();
        vacuum(&store);
        let after = read_meta(&store).unwrap();
        assert_ne!(after.entry.unwrap().node, e, "entry moved");
        // The old entry point stays until the next VACUUM; that one frees it.
        vacuum(&store);
        assert_eq!(
            records(&store)[&e].flags,
            hnsw_core::page::node::FLAG_FREE,
            "e freed"
        );
        // A tid whose level is (or is not) above the new entry's.
        let seed = 11;
        let new_level = after.entry.unwrap().level;
        let t = (5000u32..)
            .map(|i| HeapTid {
                block: i,
                offset: 1,
            })
            .find(|t| {
                let l = draw_level(
                    seed ^ splitmix64(((t.block as u64) << 16) | t.offset as u64),
                    0,
                    crash::M,
                );
                (l > new_level) == want_high
            })
            .unwrap();
        let v = random(1, 99);
        let s = StaleMeta {
            inner: &store,
            stale,
            reads: Cell::new(0),
        };
        insert(&s, &v[..DIM], t, seed);
        let rs = records(&store);
        let (id, r) = rs.iter().find(|(_, r)| r.tid == t).unwrap();
        assert!(r.in_tree(), "case {case}: new node {id} joined the tree");
        check_reachable(&store, &format!("case {case}"), |_| true);
    }
}

/// Calls `hook` once, right after the first unit an algorithm runs through it.
struct AfterFirst<'a, F: Fn()> {
    inner: &'a MemStore,
    hook: F,
    fired: Cell<bool>,
}
impl<F: Fn()> PageStore for AfterFirst<'_, F> {
    fn with_page<R>(&self, b: u32, f: impl FnOnce(&[u8]) -> R) -> R {
        self.inner.with_page(b, f)
    }
    fn with_pages<R>(&self, b: &[u32], f: impl FnOnce(&[&[u8]]) -> R) -> R {
        self.inner.with_pages(b, f)
    }
}
impl<F: Fn()> PageWrite for AfterFirst<'_, F> {
    fn modify<R>(&self, b: &[u32], f: impl FnOnce(&mut [&mut [u8]]) -> Option<R>) -> Option<R> {
        let r = self.inner.modify(b, f);
        if !self.fired.replace(true) {
            (self.hook)();
        }
        r
    }
    fn blocks(&self) -> u32 {
        self.inner.blocks()
    }
    fn ensure_blocks(&self, b: u32) {
        self.inner.ensure_blocks(b)
    }
}

/// join_tree: the only candidate (the entry point) is full; the walk goes to its first
/// child, which a concurrent VACUUM detaches in between: the walk starts again from the
/// entry point and finds one of the many leaves with room.
#[test]
fn a_walk_that_meets_a_detached_node_starts_again() {
    use hnsw_core::index::{detach, join_tree};
    use std::collections::HashSet;
    let layout = crash::layout();
    let cap = hnsw_core::graph::tree::children_max(layout.m);
    for seed in 0..20 {
        let store = built(random(300, 500 + seed));
        let rs = records(&store);
        let e = read_meta(&store).unwrap().entry.unwrap().node;
        if rs[&e].children().len() < cap {
            continue;
        }
        // A full node whose first child is a leaf.
        let Some((&p, _)) = rs.iter().find(|(_, r)| {
            r.in_tree() && r.children().len() >= cap && rs[&r.children()[0]].children().is_empty()
        }) else {
            continue;
        };
        let c = rs[&p].children()[0];
        // A live node out of the tree, to join: some other leaf, detached.
        let (&l, _) = rs
            .iter()
            .find(|(&id, r)| {
                id != c
                    && id != e
                    && id != p
                    && r.in_tree()
                    && r.children().is_empty()
                    && r.parent() != Some(e)
                    && r.parent() != Some(p)
            })
            .unwrap();
        assert!(detach(&store, &layout, l, &HashSet::new()));
        let s = AfterFirst {
            inner: &store,
            hook: || assert!(detach(&store, &layout, c, &HashSet::new())),
            fired: Cell::new(false),
        };
        let joined = join_tree(&s, &layout, l, &[p]);
        assert!(
            joined,
            "seed {seed}: join_tree gave up; {l} in tree: {}",
            records(&store)[&l].in_tree()
        );
        return;
    }
    panic!("no seed with a full entry point whose first child is a leaf");
}

/// A damaged record (pinned count above its layer-0 count) is read clamped: joining
/// under it does not panic.
#[test]
fn a_damaged_pinned_count_does_not_panic() {
    use hnsw_core::index::{detach, join_tree};
    use std::collections::HashSet;
    let layout = crash::layout();
    let mut store = built(random(100, 3));
    let rs = records(&store);
    let e = read_meta(&store).unwrap().entry.unwrap().node;
    let (&l, _) = rs
        .iter()
        .find(|(&id, r)| id != e && r.children().is_empty() && r.parent() != Some(e))
        .unwrap();
    assert!(detach(&store, &layout, l, &HashSet::new()));
    let (block, at) = layout.node_location(e);
    let page = store.page_mut(block);
    let count = u16::from_le_bytes([page[at + 12], page[at + 13]]);
    page[at + 14..at + 16].copy_from_slice(&(count + 5).to_le_bytes());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        join_tree(&store, &layout, l, &[e])
    }));
    assert!(r.is_ok(), "join_tree panicked on a corrupt pinned count");
}
