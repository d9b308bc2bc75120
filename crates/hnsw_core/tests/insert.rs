//! INSERT on the in-memory store, crashed after every one of its units, in a scripted
//! workload: inserts into full lists (m = 8), inserts crowding around one row, inserts
//! that reuse slots a VACUUM freed, and exact duplicates of indexed rows. A crash may strand only the row being inserted
//! (its transaction aborts with it); every row committed before stays reachable, no scan
//! is led into a free slot, and the VACUUM that later finds the aborted row dead leaves
//! a repaired index.

mod common;
#[path = "common/crash.rs"]
mod crash;

use crash::*;
use hnsw_core::index::insert;
use hnsw_core::page::node::{FLAG_DELETED, FLAG_FREE};
use hnsw_core::page::{HeapTid, MemStore};

const BASE: usize = 200;
const SEED: u64 = 0x5eed;

#[test]
fn insert_survives_a_crash_after_every_unit() {
    let base = random(BASE, 81);
    let mut store = built(base.clone());
    // A VACUUM frees slots first, so the inserts below take them.
    delete_rows(&mut store, |id, _| id % 4 == 1);
    vacuum(&store);
    let free_before = records(&store)
        .values()
        .filter(|r| r.flags == FLAG_FREE)
        .count();
    assert!(free_before > 20, "{free_before} free slots to reuse");

    // The workload: 70 new vectors; 60 clustered around one row (a hub whose lists fill
    // and overflow again and again); then exact copies of 5 live rows (aliases).
    let fresh = random(70, 82);
    let mut workload: Vec<Vec<f32>> = fresh.chunks(DIM).map(|c| c.to_vec()).collect();
    let hub = &base[3 * DIM..4 * DIM];
    for offset in random(60, 83).chunks(DIM) {
        workload.push(hub.iter().zip(offset).map(|(h, o)| h + 0.05 * o).collect());
    }
    for id in [0u32, 2, 8, 40, 120] {
        workload.push(base[id as usize * DIM..(id as usize + 1) * DIM].to_vec());
    }

    quiet_crashes();
    let mut crash_points = 0;
    let mut committed: Vec<HeapTid> = records(&store)
        .values()
        .filter(|r| r.is_occupied() && r.flags & FLAG_DELETED == 0)
        .map(|r| r.tid)
        .collect();
    assert_eq!(committed.len(), BASE - BASE / 4);
    let mut after = MemStore::new();
    for (i, v) in workload.iter().enumerate() {
        let row = tid(10_000 + i as u32);
        let is_committed = |t: HeapTid| committed.contains(&t);
        let mut k = 0;
        while crash_at(&store, k, |s| insert(s, v, row, SEED), &mut after) {
            let when = format!("insert {i}, crash after {k} units");
            check_reachable(&after, &when, is_committed);
            // Recovery: the aborted row is dead; VACUUM finds its entry and cleans up.
            delete_rows(&mut after, |_, r| r.tid == row);
            vacuum(&after);
            check_reachable(&after, &format!("{when}, then VACUUM"), is_committed);
            check_repaired(&after, &format!("{when}, then VACUUM"));
            k += 1;
        }
        crash_points += k;
        // The insert commits: go on from the state it leaves.
        insert(&store, v, row, SEED);
        committed.push(row);
        check_reachable(&store, &format!("after insert {i}"), |t| {
            committed.contains(&t)
        });
    }
    let free_after = records(&store)
        .values()
        .filter(|r| r.flags == FLAG_FREE)
        .count();
    assert!(
        free_after < free_before,
        "inserts reused freed slots ({free_before} -> {free_after})"
    );
    assert!(
        crash_points > workload.len() * 3,
        "{crash_points} crash points"
    );
    println!(
        "INSERT: {crash_points} crash points covered over {} inserts",
        workload.len()
    );
}
