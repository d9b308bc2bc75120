//! VACUUM's free pass on the in-memory store, crashed after every one of its units: the
//! state a crash leaves is a valid index, and the next VACUUM's pass finishes the job.

mod common;
#[path = "common/crash.rs"]
mod crash;

use crash::{built, layout, random, records, tid, DIM};
use hnsw_core::index::{free_deleted_slots, read_meta};
use hnsw_core::page::node::{
    read_upper, write_layer0, write_upper, NodeRecord, FLAG_CHILD, FLAG_DELETED, FLAG_FREE,
    FLAG_TREE,
};
use hnsw_core::page::{Crash, Layout, MemStore, Meta, PageKind, PageStore};
use std::collections::{BTreeMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

const N: usize = 600;

/// An index of N random vectors (rows 11..=14 exact copies of 10, so 10 heads a chain),
/// and the chain's ids as written (its head, then the four aliases, in a row).
fn index() -> (MemStore, Meta, std::ops::RangeInclusive<u32>) {
    let mut vectors = random(N, 61);
    for copy in 11..=14 {
        let first: Vec<f32> = vectors[10 * DIM..11 * DIM].to_vec();
        vectors[copy * DIM..(copy + 1) * DIM].copy_from_slice(&first);
    }
    let store = built(vectors);
    let meta = read_meta(&store).unwrap();
    let all = records(&store);
    let head = *all.iter().find(|(_, r)| r.tid == tid(10)).unwrap().0;
    for (k, alias) in (head + 1..=head + 4).enumerate() {
        assert_eq!(all[&(alias - 1)].next_duplicate, alias, "alias {k} follows");
    }
    (store, meta, head..=head + 4)
}

/// Every list of a record: (layer, ids).
fn lists(store: &MemStore, layout: &Layout, r: &NodeRecord) -> Vec<(usize, Vec<u32>)> {
    let mut out = vec![(0, r.layer0.clone())];
    for (i, &slot) in r.upper_slots.iter().enumerate() {
        let (block, at) = layout.upper_location(slot);
        let mut ids = Vec::new();
        store.with_page(block, |p| read_upper(p, at, layout.m, &mut ids));
        out.push((i + 1, ids));
    }
    out
}

/// What VACUUM leaves for the free pass: rows deleted (every fifth, and the chain of 10),
/// and, as its repair does, no list of a remaining node naming a deleted node, except one
/// link kept on purpose (a concurrent insert's) to `still_linked`, which must then stay,
/// and so must `kept_too`, the one deleted node `still_linked`'s own list still names.
struct Vacuumed {
    store: MemStore,
    meta: Meta,
    layout: Layout,
    deleted_nodes: HashSet<u32>,
    still_linked: u32,
    kept_too: u32,
    /// The chain of row 10, as written.
    chain: std::ops::RangeInclusive<u32>,
}

fn vacuumed() -> Vacuumed {
    let (mut store, meta, chain) = index();
    let head = *chain.start();
    let layout = layout();
    let entry = meta.entry.expect("an entry point").node;
    // Out of the tree, as VACUUM's repair takes deleted nodes out of it (its own suite
    // tests that): this suite hand-makes the rest of what repair leaves, and tests the
    // free pass's own rules.
    for (&id, r) in &records(&store) {
        let (block, at) = layout.node_location(id);
        let mut plain = r.clone();
        plain.pinned = 0;
        plain.flags &= !(FLAG_TREE | FLAG_CHILD);
        plain.write(store.page_mut(block), at, layout.m);
    }
    let before = records(&store);
    let aliases: HashSet<u32> = (head + 1..=head + 4).collect();
    let deleted_rows: HashSet<u32> = before
        .keys()
        .copied()
        .filter(|&id| (id % 5 == 0 || chain.contains(&id)) && id != entry)
        .collect();
    let deleted_nodes: HashSet<u32> = deleted_rows.difference(&aliases).copied().collect();
    let still_linked = *deleted_nodes
        .iter()
        .filter(|&&id| id != head)
        .min()
        .unwrap();
    let kept_too = *deleted_nodes.iter().max().unwrap();
    for (&id, r) in &before {
        let (block, at) = layout.node_location(id);
        if deleted_rows.contains(&id) {
            let mut dead = r.clone();
            dead.flags |= FLAG_DELETED;
            // The two kept deleted nodes lead to no other deleted node (but for the one
            // link from still_linked to kept_too), so exactly they stay.
            let kept = id == still_linked || id == kept_too;
            if kept {
                dead.layer0.retain(|n| !deleted_nodes.contains(n));
            }
            if id == still_linked {
                dead.layer0.truncate(2 * layout.m - 1);
                dead.layer0.push(kept_too);
            }
            dead.write(store.page_mut(block), at, layout.m);
            if kept {
                for (layer, ids) in lists(&store, &layout, r).into_iter().skip(1) {
                    let kept: Vec<u32> = ids
                        .into_iter()
                        .filter(|n| !deleted_nodes.contains(n))
                        .collect();
                    let (ub, uat) = layout.upper_location(r.upper_slots[layer - 1]);
                    write_upper(store.page_mut(ub), uat, layout.m, &kept);
                }
            }
            continue;
        }
        // Unlink the deleted nodes from this remaining node's lists.
        for (layer, ids) in lists(&store, &layout, r) {
            let kept: Vec<u32> = ids
                .iter()
                .copied()
                .filter(|n| !deleted_nodes.contains(n) || (*n == still_linked && layer == 0))
                .collect();
            if layer == 0 {
                write_layer0(store.page_mut(block), at, layout.m, &kept);
            } else {
                let (ub, uat) = layout.upper_location(r.upper_slots[layer - 1]);
                write_upper(store.page_mut(ub), uat, layout.m, &kept);
            }
        }
    }
    Vacuumed {
        store,
        meta,
        layout,
        deleted_nodes,
        still_linked,
        kept_too,
        chain,
    }
}

/// What must hold between any two units of the pass.
fn check(v: &Vacuumed, store: &MemStore, before: &BTreeMap<u32, NodeRecord>) {
    let layout = &v.layout;
    let now = records(store);
    let free: HashSet<u32> = now
        .iter()
        .filter(|(_, r)| r.flags == FLAG_FREE)
        .map(|(&id, _)| id)
        .collect();
    for (id, r) in &now {
        let old = &before[id];
        if old.flags & FLAG_DELETED == 0 {
            assert_eq!(r, old, "live record {id} changed");
            assert_eq!(
                lists(store, layout, r),
                lists(&v.store, layout, old),
                "lists of live {id} changed"
            );
        }
        if r.flags == FLAG_FREE {
            assert!(
                old.flags & FLAG_DELETED != 0,
                "{id} was freed without being deleted"
            );
            for slot in r.owned_slots() {
                let (block, at) = layout.upper_location(slot);
                let mut ids = Vec::new();
                store.with_page(block, |p| read_upper(p, at, layout.m, &mut ids));
                assert!(
                    ids.is_empty(),
                    "free record {id} keeps a non-empty upper slot {slot}"
                );
            }
        } else if r.is_linked_node() {
            for (layer, ids) in lists(store, layout, r) {
                for n in ids {
                    assert!(
                        !free.contains(&n),
                        "live {id} links to free slot {n} on layer {layer}"
                    );
                }
            }
        }
    }
    // What a scan can reach from the entry point (through deleted nodes too) is never a
    // free slot, which an insert could take at any moment. (A deleted node that nothing
    // links to may still name one until the pass frees it too: nothing reaches it.)
    let entry = v.meta.entry.expect("an entry point").node;
    let mut reached = HashSet::from([entry]);
    let mut stack = vec![entry];
    while let Some(id) = stack.pop() {
        assert!(!free.contains(&id), "a scan can reach free slot {id}");
        for (_, ids) in lists(store, layout, &now[&id]) {
            stack.extend(ids.into_iter().filter(|&n| reached.insert(n)));
        }
    }
    assert!(
        !free.contains(&v.still_linked),
        "a node something links to was freed"
    );
    assert!(
        !free.contains(&v.kept_too),
        "a node a kept deleted node links to was freed"
    );
    let meta = store.with_page(0, Meta::read).expect("the meta page reads");
    if meta.free_hint != 0 {
        assert_eq!(
            layout.block_kind(meta.free_hint).0,
            PageKind::Nodes,
            "the free hint names a node page"
        );
    }
    assert_eq!(meta.entry, v.meta.entry, "the entry point stays");
}

fn free_ids(store: &MemStore) -> HashSet<u32> {
    records(store)
        .into_iter()
        .filter(|(_, r)| r.flags == FLAG_FREE)
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn the_free_pass_survives_a_crash_after_every_unit() {
    let v = vacuumed();
    let before = records(&v.store);
    // Uninterrupted: every deleted node nothing links to is freed, with its chain.
    let reference = v.store.snapshot();
    let freed = free_deleted_slots(&reference, v.meta, &v.deleted_nodes).unwrap();
    let units = reference.units();
    check(&v, &reference, &before);
    let expected = free_ids(&reference);
    assert_eq!(freed, expected.len());
    assert!(
        expected.is_superset(&v.chain.clone().collect()),
        "the chain of 10 is freed with it"
    );
    assert_eq!(
        expected.len(),
        v.deleted_nodes.len() + 4 - 2,
        "all but the two kept"
    );
    assert!(
        units >= 3,
        "upper slots, node pages and the meta page: {units} units"
    );

    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<Crash>().is_none() {
            quiet(info)
        }
    }));
    for k in 0..units {
        let store = v.store.snapshot();
        store.crash_after(k);
        let result = catch_unwind(AssertUnwindSafe(|| {
            free_deleted_slots(&store, v.meta, &v.deleted_nodes)
        }));
        let payload = result.expect_err("crashes before the pass ends");
        assert!(payload.downcast_ref::<Crash>().is_some());
        let crashed = store.snapshot();
        check(&v, &crashed, &before);
        // The next VACUUM runs the pass again on what the crash left.
        free_deleted_slots(&crashed, v.meta, &v.deleted_nodes).unwrap();
        check(&v, &crashed, &before);
        assert_eq!(free_ids(&crashed), expected, "after a crash at unit {k}");
    }
    let _ = std::panic::take_hook();
    println!("free pass: {units} crash points covered");
}
