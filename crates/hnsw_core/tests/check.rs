//! The checker's graph half on the in-memory store: a healthy index (built, then changed
//! by inserts and a VACUUM) has no problems, and each injected defect is reported.

mod common;
#[path = "common/crash.rs"]
mod crash;

use crash::*;
use hnsw_core::graph::EntryPoint;
use hnsw_core::index::{graph_problems, insert, read_records};
use hnsw_core::page::node::{
    write_layer0, NodeRecord, FLAG_ALIAS, FLAG_CHILD, FLAG_OCCUPIED, FLAG_TREE,
};
use hnsw_core::page::{MemStore, Meta, PageStore, PageWrite};

fn problems(store: &MemStore) -> Vec<String> {
    let (meta, records) = read_records(store);
    graph_problems(store, meta, &records)
}

fn healthy() -> MemStore {
    let mut store = built(random(300, 91));
    for (i, v) in random(40, 92).chunks(DIM).enumerate() {
        insert(&store, v, tid(5_000 + i as u32), 7);
    }
    delete_rows(&mut store, |id, _| id % 7 == 3);
    vacuum(&store);
    store
}

/// Rewrites node `id`'s record with `change` applied.
fn edit(store: &mut MemStore, id: u32, change: impl FnOnce(&mut NodeRecord)) {
    let layout = layout();
    let mut r = records(store)[&id].clone();
    change(&mut r);
    let (block, at) = layout.node_location(id);
    r.write(store.page_mut(block), at, layout.m);
}

fn expect(store: &MemStore, what: &str) {
    let found = problems(store);
    assert!(
        found.iter().any(|p| p.contains(what)),
        "expected \"{what}\" in {found:?}"
    );
}

#[test]
fn a_healthy_index_has_no_problems_and_each_defect_is_found() {
    let store = healthy();
    assert_eq!(problems(&store), Vec::<String>::new());
    let entry = store.meta().entry.unwrap().node;
    let linked = |store: &MemStore| -> u32 {
        *records(store)
            .iter()
            .find(|(&id, r)| r.is_linked_node() && id != entry && r.layer0.len() > 2)
            .unwrap()
            .0
    };

    let mut s = store.snapshot();
    let id = linked(&s);
    edit(&mut s, id, |r| r.layer0[0] = id);
    expect(&s, &format!("node {id} links to itself on layer 0"));

    let mut s = store.snapshot();
    let id = linked(&s);
    edit(&mut s, id, |r| r.layer0[1] = r.layer0[0]);
    expect(&s, "twice on layer 0");

    let mut s = store.snapshot();
    let id = linked(&s);
    edit(&mut s, id, |r| r.layer0[0] = 0x7FFF_FFF0);
    expect(&s, "2147483632 on layer 0, which is not a graph node");

    // A node nothing links to any more is unreachable.
    let mut s = store.snapshot();
    let target = linked(&s);
    let layout = layout();
    for (id, r) in records(&s) {
        if r.layer0.contains(&target) {
            let kept: Vec<u32> = r.layer0.iter().copied().filter(|&n| n != target).collect();
            let (block, at) = layout.node_location(id);
            write_layer0(s.page_mut(block), at, layout.m, &kept);
        }
    }
    expect(
        &s,
        &format!("live node {target} is not reachable from the entry point"),
    );

    // An entry point nothing links to on layer 0: scans that land elsewhere never return
    // it (the review's stranded entry point, which a walk from the entry point alone
    // does not see).
    let mut s = store.snapshot();
    for (id, r) in records(&s) {
        if id != entry && r.layer0.contains(&entry) {
            edit(&mut s, id, |r| {
                r.layer0.retain(|&n| n != entry);
                r.pinned = 0;
                r.flags &= !FLAG_CHILD;
            });
        }
    }
    expect(&s, &format!("entry point {entry} has no layer-0 in-links"));

    // A live node out of the tree, and a parent that does not know its child.
    let mut s = store.snapshot();
    let id = linked(&s);
    edit(&mut s, id, |r| r.flags &= !FLAG_TREE);
    expect(&s, &format!("live node {id} is not in the tree"));
    let mut s = store.snapshot();
    let (child, r) = records(&s)
        .into_iter()
        .find(|(_, r)| r.parent().is_some() && r.layer0.len() > r.pinned as usize)
        .unwrap();
    let stranger = r.layer0[r.pinned as usize];
    edit(&mut s, child, |r| r.layer0[0] = stranger);
    expect(
        &s,
        &format!("node {child} names {stranger} as its parent, which does not name it"),
    );

    // A duplicate chain that leads to a node, not an alias.
    let mut s = store.snapshot();
    let (a, b) = (linked(&s), entry);
    edit(&mut s, a, |r| r.next_duplicate = b);
    expect(&s, &format!("node {a} has a broken duplicate chain at {b}"));

    // A chain of aliases that loops back on itself.
    let mut s = store.snapshot();
    let all = records(&s);
    let mut ids = all
        .iter()
        .filter(|(&id, r)| r.is_linked_node() && id != entry)
        .map(|(&id, _)| id);
    let (a, c) = (ids.next().unwrap(), ids.next().unwrap());
    edit(&mut s, c, |r| {
        r.flags = FLAG_OCCUPIED | FLAG_ALIAS;
        r.next_duplicate = c;
    });
    edit(&mut s, a, |r| r.next_duplicate = c);
    expect(&s, &format!("node {a} has a duplicate chain that loops"));

    // An entry point that does not exist.
    let mut s = store.snapshot();
    let mut meta = s.with_page(0, Meta::read).unwrap();
    meta.entry = Some(EntryPoint {
        node: 0x7FFF_0000,
        level: 1,
    });
    meta.write(s.page_mut(0));
    expect(&s, "entry point 2147418112 does not exist");
}

#[test]
fn a_scan_returns_no_rows_for_a_slot_that_changed_hands() {
    use hnsw_core::graph::GraphRead;
    use hnsw_core::index::rows_of;
    use hnsw_core::page::node::FLAG_FREE;
    use hnsw_core::page::PagedGraph;
    let mut store = built(random(100, 93));
    let query = random(1, 94);
    let ranked = {
        let graph = PagedGraph::new(&store, store.meta());
        let d = graph.distance_to(&query, 7);
        let row = graph.node(7).tid;
        assert_eq!(rows_of(&graph, &query, 7, d).unwrap(), Some(vec![row]));
        d
    };
    // Row 7 is deleted, VACUUM frees its slot, an insert takes it for another row.
    delete_rows(&mut store, |id, _| id == 7);
    vacuum(&store);
    assert_eq!(records(&store)[&7].flags, FLAG_FREE);
    insert(&store, &random(1, 95), tid(9_999), 7);
    let graph = PagedGraph::new(&store, store.meta());
    assert_eq!(
        graph.node(7).tid,
        tid(9_999),
        "the insert took the freed slot"
    );
    assert_eq!(
        rows_of(&graph, &query, 7, ranked).unwrap(),
        None,
        "ranked as the old vector"
    );
    let now = graph.distance_to(&query, 7);
    assert_eq!(
        rows_of(&graph, &query, 7, now).unwrap(),
        Some(vec![tid(9_999)])
    );
}
