//! A VACUUM (repair pass, then free pass) on the in-memory store, crashed after every one
//! of its units: what a crash leaves keeps every live row reachable and never leads a scan
//! into a free slot, and the next VACUUM, run on that state, completes the repair.

mod common;

use common::random_vectors;
use hnsw_core::distance::Metric;
use hnsw_core::graph::storage::Backing;
use hnsw_core::graph::{build, BuildInput, Params, NO_NODE};
use hnsw_core::index::{for_each_record, free_deleted_slots, read_meta, repair};
use hnsw_core::page::node::{read_upper, NodeRecord, FLAG_ALIAS, FLAG_DELETED, FLAG_FREE};
use hnsw_core::page::{write_index, Crash, HeapTid, Layout, MemStore, Meta, PageStore};
use std::collections::{BTreeMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize};

const N: usize = 400;
const DIM: usize = 8;

/// The last rows: a tight cluster far from the rest, joined to it by a few links.
const CLUSTER: usize = 12;

/// An index of N random vectors, ids 11..=14 exact copies of 10, the last CLUSTER rows a
/// far cluster; then every sixth row deleted (as ambulkdelete marks them), 10 and 11 among
/// them while 12..=14 stay live, and so is every node outside the cluster that links into
/// it (so the cluster's live rows are reachable only through deleted nodes).
fn deleted_index() -> MemStore {
    let mut vectors = random_vectors(N, DIM, 71);
    for copy in 11..=14 {
        let first: Vec<f32> = vectors[10 * DIM..11 * DIM].to_vec();
        vectors[copy * DIM..(copy + 1) * DIM].copy_from_slice(&first);
    }
    for x in &mut vectors[(N - CLUSTER) * DIM..] {
        *x = *x * 0.01 + 40.0;
    }
    let input = BuildInput {
        vectors: Backing::from_f32(vectors),
        dim: DIM,
        metric: Metric::L2,
        params: Params {
            m: 8,
            ef_construction: 32,
            seed: 5,
        },
        threads: 1,
        links_spill: None,
    };
    let graph = build(input, &AtomicBool::new(false), &AtomicUsize::new(0)).unwrap();
    let tids: Vec<HeapTid> = (0..N as u32)
        .map(|i| HeapTid {
            block: i / 7,
            offset: (i % 7 + 1) as u16,
        })
        .collect();
    let mut store = MemStore::new();
    let base = Meta {
        dim: DIM as u32,
        m: 8,
        ef_construction: 32,
        metric: Metric::L2,
        entry: None,
        groups: 0,
        nodes: 0,
        upper_slots: 0,
        generation: 1,
        last_change_lsn: 0,
        last_change_time: 0,
        built_nodes: 0,
        free_hint: 0,
    };
    write_index(&graph, &tids, base, |b, p| store.append(b, p));
    let layout = Layout::new(DIM, 8);
    let all = records(&store, &layout);
    let in_cluster = |id: u32| id as usize >= N - CLUSTER;
    let bridges: HashSet<u32> = all
        .iter()
        .filter(|(&id, r)| !in_cluster(id) && r.layer0.iter().any(|&n| in_cluster(n)))
        .map(|(&id, _)| id)
        .collect();
    assert!(!bridges.is_empty());
    let entry = read_meta(&store).unwrap().entry.unwrap().node;
    for (&id, r) in &all {
        if id % 6 == 0 || id == 10 || id == 11 || (bridges.contains(&id) && id != entry) {
            let (block, at) = layout.node_location(id);
            let mut dead = r.clone();
            dead.flags |= FLAG_DELETED;
            dead.write(store.page_mut(block), at, layout.m);
        }
    }
    store
}

fn records(store: &MemStore, layout: &Layout) -> BTreeMap<u32, NodeRecord> {
    let mut all = BTreeMap::new();
    for_each_record(store, layout, |id, r| {
        all.insert(id, r.clone());
    });
    all
}

fn upper_list(store: &MemStore, layout: &Layout, slot: u32) -> Vec<u32> {
    let (block, at) = layout.upper_location(slot);
    let mut ids = Vec::new();
    store.with_page(block, |p| read_upper(p, at, layout.m, &mut ids));
    ids
}

fn vacuum(store: &MemStore) {
    let repaired = repair(store).unwrap();
    let meta = read_meta(store).unwrap();
    free_deleted_slots(store, meta, &repaired.deleted).unwrap();
}

/// What holds between any two units: a scan from the entry point (walking layer 0
/// through deleted nodes, as scans do, and along duplicate chains) reaches every live
/// row, and never a free slot.
fn check_reachable(store: &MemStore, layout: &Layout, when: &str) {
    let all = records(store, layout);
    let entry = read_meta(store)
        .unwrap()
        .entry
        .expect("an entry point")
        .node;
    let mut reached = HashSet::from([entry]);
    let mut stack = vec![entry];
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
        if r.is_live() && r.flags & FLAG_DELETED == 0 {
            assert!(reached.contains(id), "{when}: live row {id} is unreachable");
        }
    }
}

/// After a whole VACUUM: no live node's list names a deleted node or an alias.
fn check_repaired(store: &MemStore, layout: &Layout, when: &str) {
    let all = records(store, layout);
    let gone =
        |n: &u32| all[n].flags & (FLAG_DELETED | FLAG_ALIAS) != 0 && !holds_live_copy(&all, *n);
    for (id, r) in all.iter().filter(|(_, r)| r.is_linked_node()) {
        for n in &r.layer0 {
            assert!(!gone(n), "{when}: live {id} links to gone {n} on layer 0");
        }
        for (i, &slot) in r.upper_slots.iter().enumerate() {
            for n in upper_list(store, layout, slot) {
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

#[test]
fn vacuum_survives_a_crash_after_every_unit() {
    let layout = Layout::new(DIM, 8);
    let prepared = deleted_index();
    check_reachable(&prepared, &layout, "before VACUUM");
    let reference = prepared.snapshot();
    vacuum(&reference);
    let units = reference.units();
    check_reachable(&reference, &layout, "after VACUUM");
    check_repaired(&reference, &layout, "after VACUUM");
    let freed = records(&reference, &layout)
        .values()
        .filter(|r| r.flags == FLAG_FREE)
        .count();
    assert!(freed > 0, "VACUUM freed slots");
    assert!(units > 10, "{units} units");

    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<Crash>().is_none() {
            quiet(info)
        }
    }));
    for k in 0..units {
        let store = prepared.snapshot();
        store.crash_after(k);
        let crashed = catch_unwind(AssertUnwindSafe(|| vacuum(&store)));
        assert!(
            crashed.is_err_and(|p| p.downcast_ref::<Crash>().is_some()),
            "unit {k} crashes"
        );
        let after = store.snapshot();
        check_reachable(&after, &layout, &format!("crash after {k} units"));
        vacuum(&after);
        check_reachable(
            &after,
            &layout,
            &format!("VACUUM after a crash after {k} units"),
        );
        check_repaired(
            &after,
            &layout,
            &format!("VACUUM after a crash after {k} units"),
        );
    }
    let _ = std::panic::take_hook();
    println!("VACUUM: {units} crash points covered");
}
