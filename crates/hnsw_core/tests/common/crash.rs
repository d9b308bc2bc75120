//! Helpers of the crash-point suites: an index in a `MemStore`, its records, VACUUM, the
//! invariants every state between two units must keep, and crash injection. (Each suite
//! uses part of it.)
#![allow(dead_code)]

use crate::common::random_vectors;
use hnsw_core::distance::Metric;
use hnsw_core::element::Element;
use hnsw_core::graph::storage::Backing;
use hnsw_core::graph::{build, BuildInput, Params, NO_NODE};
use hnsw_core::index::{for_each_record, free_deleted_slots, read_meta, repair};
use hnsw_core::page::node::{read_upper, NodeRecord, FLAG_ALIAS, FLAG_DELETED, FLAG_FREE};
use hnsw_core::page::{write_index, Crash, HeapTid, Layout, MemStore, Meta, PageStore};
use std::collections::{BTreeMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize};

pub const DIM: usize = 8;
pub const M: usize = 8;

pub fn layout() -> Layout {
    Layout::new(DIM, M)
}

/// The heap address the suites give row `i`.
pub fn tid(i: u32) -> HeapTid {
    HeapTid {
        block: i / 7,
        offset: (i % 7 + 1) as u16,
    }
}

/// An index built over `vectors` (row i at `tid(i)`), m = 8, in memory.
pub fn built(vectors: Vec<f32>) -> MemStore {
    let n = vectors.len() / DIM;
    let input = BuildInput {
        offsets: None,
        vectors: Backing::from_f32(vectors),
        dim: DIM,
        metric: Metric::L2,
        params: Params {
            m: M,
            ef_construction: 32,
            seed: 5,
        },
        threads: 1,
        links_spill: None,
    };
    let graph = build(input, &AtomicBool::new(false), &AtomicUsize::new(0)).unwrap();
    let tids: Vec<HeapTid> = (0..n as u32).map(tid).collect();
    let mut store = MemStore::new();
    let base = Meta::new(DIM as u32, M as u16, 32, Metric::L2, Element::F32);
    write_index(&graph, &tids, base, None, |b, p| store.append(b, p));
    store
}

pub fn random(n: usize, seed: u64) -> Vec<f32> {
    random_vectors(n, DIM, seed)
}

pub fn records(store: &MemStore) -> BTreeMap<u32, NodeRecord> {
    let mut all = BTreeMap::new();
    for_each_record(store, &layout(), |id, r| {
        all.insert(id, r.clone());
    });
    all
}

/// Marks the entries of the rows `dead` says are dead, as ambulkdelete does.
pub fn delete_rows(store: &mut MemStore, dead: impl Fn(u32, &NodeRecord) -> bool) {
    let layout = layout();
    for (id, r) in records(store) {
        if r.is_occupied() && dead(id, &r) {
            let (block, at) = layout.node_location(id);
            let mut gone = r.clone();
            gone.flags |= FLAG_DELETED;
            gone.write(store.page_mut(block), at, layout.m);
        }
    }
}

pub fn vacuum(store: &MemStore) {
    let repaired = repair(store).unwrap();
    let meta = read_meta(store).unwrap();
    free_deleted_slots(store, meta, &repaired.deleted).unwrap();
}

/// A scan from the entry point (walking layer 0 through deleted nodes, as scans do, and
/// along duplicate chains) reaches every live row whose tid `counts`, and never a free
/// slot.
pub fn check_reachable(store: &MemStore, when: &str, counts: impl Fn(HeapTid) -> bool) {
    let all = records(store);
    let Some(entry) = read_meta(store).unwrap().entry else {
        assert!(
            !all.values().any(|r| r.is_linked_node() && counts(r.tid)),
            "{when}: no entry point"
        );
        return;
    };
    let mut reached = HashSet::from([entry.node]);
    let mut stack = vec![entry.node];
    while let Some(id) = stack.pop() {
        let r = &all[&id];
        assert_ne!(r.flags, FLAG_FREE, "{when}: a scan reaches free slot {id}");
        let mut next = r.next_duplicate;
        while next != NO_NODE && reached.insert(next) {
            next = all[&next].next_duplicate;
        }
        stack.extend(r.layer0.iter().copied().filter(|&n| reached.insert(n)));
    }
    for (id, r) in &all {
        if r.is_occupied() && r.flags & FLAG_DELETED == 0 && counts(r.tid) {
            assert!(reached.contains(id), "{when}: live row {id} is unreachable");
        }
    }
}

/// After a whole VACUUM: no live node's list names a deleted node or an alias (but for
/// tree links), and the
/// checker finds nothing.
pub fn check_repaired(store: &MemStore, when: &str) {
    let (meta, all_records) = hnsw_core::index::read_records(store);
    let problems = hnsw_core::index::graph_problems(store, meta, &all_records);
    assert!(
        problems.is_empty(),
        "{when}: the checker finds {problems:?}"
    );
    let layout = layout();
    let all = records(store);
    // The checker accepts a deleted entry point in the tree; after a VACUUM it is live
    // whenever a live node in the tree could take its place.
    if let Some(entry) = meta.entry {
        let live_in_tree = all
            .values()
            .any(|r| r.is_linked_node() && r.in_tree() && r.flags & FLAG_DELETED == 0);
        assert!(
            all[&entry.node].flags & FLAG_DELETED == 0
                || !live_in_tree
                || holds_live_copy(&all, entry.node),
            "{when}: the entry point {} is deleted though live nodes are in the tree",
            entry.node
        );
    }
    let gone =
        |n: &u32| all[n].flags & (FLAG_DELETED | FLAG_ALIAS) != 0 && !holds_live_copy(&all, *n);
    for (id, r) in all.iter().filter(|(_, r)| r.is_linked_node()) {
        // Tree links may name a deleted node VACUUM keeps in the tree (an entry point it
        // just moved off, until the next VACUUM).
        for n in &r.layer0[r.tree_links().pinned..] {
            assert!(!gone(n), "{when}: live {id} links to gone {n} on layer 0");
        }
        for (i, &slot) in r.upper_slots.iter().enumerate() {
            let (block, at) = layout.upper_location(slot);
            let mut ids = Vec::new();
            store.with_page(block, |p| read_upper(p, at, layout.m, &mut ids));
            for n in ids {
                assert!(
                    !gone(&n),
                    "{when}: live {id} links to gone {n} on layer {}",
                    i + 1
                );
            }
        }
    }
}

fn holds_live_copy(all: &BTreeMap<u32, NodeRecord>, id: u32) -> bool {
    let mut next = all[&id].next_duplicate;
    while next != NO_NODE {
        if all[&next].flags & FLAG_DELETED == 0 {
            return true;
        }
        next = all[&next].next_duplicate;
    }
    false
}

/// Runs `work` on a copy of `store` crashed after `k` units; true if it crashed (false if
/// it finished first). The crashed copy is left in `out`.
pub fn crash_at(
    store: &MemStore,
    k: usize,
    work: impl FnOnce(&MemStore),
    out: &mut MemStore,
) -> bool {
    let copy = store.snapshot();
    copy.crash_after(k);
    let result = catch_unwind(AssertUnwindSafe(|| work(&copy)));
    *out = copy.snapshot();
    match result {
        Ok(()) => false,
        Err(payload) => {
            assert!(
                payload.downcast_ref::<Crash>().is_some(),
                "only injected crashes"
            );
            true
        }
    }
}

/// Keeps injected crashes out of the test output.
pub fn quiet_crashes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<Crash>().is_none() {
            default(info)
        }
    }));
}
