//! A VACUUM (repair pass, then free pass) on the in-memory store, crashed after every one
//! of its units: what a crash leaves keeps every live row reachable and never leads a scan
//! into a free slot, and the next VACUUM, run on that state, completes the repair.

mod common;
#[path = "common/crash.rs"]
mod crash;

use crash::*;
use hnsw_core::page::node::FLAG_FREE;
use hnsw_core::page::MemStore;
use std::collections::HashSet;

const N: usize = 400;
/// The last rows: a tight cluster far from the rest, joined to it by a few links.
const CLUSTER: usize = 12;

/// An index of N random vectors, ids 11..=14 exact copies of 10, the last CLUSTER rows a
/// far cluster; then every sixth row deleted (as ambulkdelete marks them), 10 and 11 among
/// them while 12..=14 stay live, and so is every node outside the cluster that links into
/// it (so the cluster's live rows are reachable only through deleted nodes).
fn deleted_index() -> MemStore {
    let mut vectors = random(N, 71);
    for copy in 11..=14 {
        let first: Vec<f32> = vectors[10 * DIM..11 * DIM].to_vec();
        vectors[copy * DIM..(copy + 1) * DIM].copy_from_slice(&first);
    }
    for x in &mut vectors[(N - CLUSTER) * DIM..] {
        *x = *x * 0.01 + 40.0;
    }
    let mut store = built(vectors);
    let in_cluster = |id: u32| id as usize >= N - CLUSTER;
    let all = records(&store);
    let bridges: HashSet<u32> = all
        .iter()
        .filter(|(&id, r)| !in_cluster(id) && r.layer0.iter().any(|&n| in_cluster(n)))
        .map(|(&id, _)| id)
        .collect();
    assert!(!bridges.is_empty());
    let entry = hnsw_core::index::read_meta(&store)
        .unwrap()
        .entry
        .unwrap()
        .node;
    delete_rows(&mut store, |id, _| {
        id % 6 == 0 || id == 10 || id == 11 || (bridges.contains(&id) && id != entry)
    });
    store
}

#[test]
fn vacuum_survives_a_crash_after_every_unit() {
    let every = |_| true;
    let prepared = deleted_index();
    check_reachable(&prepared, "before VACUUM", every);
    let reference = prepared.snapshot();
    vacuum(&reference);
    let units = reference.units();
    check_reachable(&reference, "after VACUUM", every);
    check_repaired(&reference, "after VACUUM");
    let freed = records(&reference)
        .values()
        .filter(|r| r.flags == FLAG_FREE)
        .count();
    assert!(freed > 0, "VACUUM freed slots");
    assert!(units > 10, "{units} units");

    quiet_crashes();
    let mut after = MemStore::new();
    for k in 0..units {
        assert!(
            crash_at(&prepared, k, vacuum, &mut after),
            "unit {k} crashes"
        );
        check_reachable(&after, &format!("crash after {k} units"), every);
        vacuum(&after);
        check_reachable(
            &after,
            &format!("VACUUM after a crash after {k} units"),
            every,
        );
        check_repaired(&after, &format!("VACUUM after a crash after {k} units"));
    }
    println!("VACUUM: {units} crash points covered");
}
