//! The exact order of an exhaustive scan: every live row, nearest first, as a brute-force
//! sort of the stored vectors orders them; exact duplicates (aliases) and rows inserted
//! after the build included, deleted rows left out.

mod common;
#[path = "common/crash.rs"]
mod crash;

use crash::*;
use hnsw_core::index::{exact_order, insert, rows_of};
use hnsw_core::page::{HeapTid, PagedGraph};

#[test]
fn exact_order_returns_every_live_row_nearest_first() {
    let base = random(300, 41);
    let mut store = built(base.clone());
    // Inserted rows, and exact copies of built rows (aliases of them).
    let fresh = random(40, 42);
    let mut vectors: Vec<Vec<f32>> = base.chunks(DIM).map(|c| c.to_vec()).collect();
    for (i, v) in fresh
        .chunks(DIM)
        .chain(base.chunks(DIM).take(10))
        .enumerate()
    {
        let row = 300 + i as u32;
        insert(&store, v, tid(row), 9);
        vectors.push(v.to_vec());
    }
    delete_rows(&mut store, |_, r| r.tid.block % 5 == 2);
    let dead = |t: HeapTid| t.block % 5 == 2;

    let meta = hnsw_core::page::PageWrite::meta(&store);
    let graph = PagedGraph::new(store, meta);
    for query in random(5, 43).chunks(DIM) {
        let order = exact_order(&graph, query).unwrap();
        let mut rows = Vec::new();
        let mut last = f32::NEG_INFINITY;
        for found in &order {
            assert!(found.distance >= last, "nearest first");
            last = found.distance;
            let tids = rows_of(&graph, query, found.id, found.distance)
                .unwrap()
                .unwrap();
            rows.extend(tids.into_iter().map(|t| (found.distance, t)));
        }
        let l2 = |v: &[f32]| {
            v.iter()
                .zip(query)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
        };
        let mut expected: Vec<(f32, u32)> = (0..vectors.len() as u32)
            .filter(|&i| !dead(tid(i)))
            .map(|i| (l2(&vectors[i as usize]), i))
            .collect();
        expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        assert_eq!(rows.len(), expected.len(), "every live row once");
        for ((got_distance, _), (want_distance, _)) in rows.iter().zip(&expected) {
            assert!((got_distance - want_distance).abs() <= 1e-5 * want_distance.max(1.0));
        }
        let mut got: Vec<HeapTid> = rows.iter().map(|r| r.1).collect();
        let mut want: Vec<HeapTid> = expected.iter().map(|e| tid(e.1)).collect();
        got.sort_by_key(|t| (t.block, t.offset));
        want.sort_by_key(|t| (t.block, t.offset));
        assert_eq!(got, want);
    }
}
