//! Indexes of sparse vectors: records of varying length in record pages, built, read back,
//! searched, inserted into (crash at every unit included) and checked against exact
//! search.

mod common;

use hnsw_core::distance::Metric;
use hnsw_core::element::Element;
use hnsw_core::graph::storage::ArenaBuilder;
use hnsw_core::graph::{
    build, search, splitmix64, BuildInput, Graph, GraphRead, Params, Visited, NO_NODE,
};
use hnsw_core::index::{
    for_each_record, free_deleted_slots, graph_problems, insert, read_meta, read_records, repair,
};
use hnsw_core::page::node::FLAG_DELETED;
use hnsw_core::page::records::{self, MIN_RECORD_PAGES};
use hnsw_core::page::{write_index, Crash, HeapTid, Layout, MemStore, Meta, PageStore, PagedGraph};
use hnsw_core::sparse::{Sparse, MAX_NNZ};
use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize};

const DIM: usize = 20_000;

/// Sparse vector `i` of a seeded set: up to `most` non-zeros, low indices likelier (as
/// term weights are), values in (0, 1]; every 50th one has none.
fn sparse(seed: u64, i: u64, most: usize) -> Sparse {
    let h = |k: u64| splitmix64(seed ^ i.wrapping_mul(0x1234_5678_9abc) ^ k);
    let nnz = if i % 50 == 49 {
        0
    } else {
        1 + h(0) as usize % most
    };
    let mut indices: Vec<u32> = (1..=nnz as u64)
        .map(|k| {
            let u = (h(k) >> 11) as f64 / (1u64 << 53) as f64;
            (u * u * DIM as f64) as u32
        })
        .collect();
    indices.sort_unstable();
    indices.dedup();
    let values = indices
        .iter()
        .map(|&x| ((h(x as u64 + 7777) >> 40) as f32 + 1.0) / (1u64 << 24) as f32)
        .collect();
    Sparse {
        dim: DIM,
        indices,
        values,
    }
}

fn tid(i: u32) -> HeapTid {
    HeapTid {
        block: i / 5,
        offset: (i % 5 + 1) as u16,
    }
}

fn stored(metric: Metric, v: &Sparse) -> Option<Vec<f32>> {
    Element::Sparse
        .stored_form(metric, &v.to_slots())
        .map(|v| v.into_owned())
}

/// Builds and writes an index of `vectors` (each already in stored form).
/// Also returns the written id of each graph node (see `page::order`).
fn built(
    vectors: &[Vec<f32>],
    metric: Metric,
    record_pages: usize,
) -> (Graph, MemStore, Meta, Vec<u32>) {
    let mut arena = ArenaBuilder::variable(1 << 30, Box::new(|| unreachable!("no spill")));
    for v in vectors {
        arena.push(v).unwrap();
    }
    let (backing, offsets) = arena.finish().unwrap();
    let input = BuildInput {
        vectors: backing,
        offsets,
        dim: DIM,
        metric: Element::Sparse.indexed_metric(metric),
        params: Params {
            m: 12,
            ef_construction: 48,
            seed: 3,
        },
        threads: 2,
        links_spill: None,
    };
    let graph = build(input, &AtomicBool::new(false), &AtomicUsize::new(0)).unwrap();
    let tids: Vec<HeapTid> = (0..vectors.len() as u32).map(tid).collect();
    let mut store = MemStore::new();
    let base = Meta {
        record_pages: record_pages as u16,
        ..Meta::new(DIM as u32, 12, 48, metric, Element::Sparse)
    };
    let (meta, order) = write_index(&graph, &tids, base, None, |b, p| store.append(b, p));
    let written = order.written_ids();
    drop(order);
    (graph, store, meta, written)
}

/// The heap tids a scan reaches: layer 0 walked from the entry point, with the duplicate
/// chains of the nodes it meets.
fn reached_tids(store: &MemStore) -> HashSet<HeapTid> {
    let meta = store.with_page(0, Meta::read).unwrap();
    let paged = PagedGraph::new(store, meta);
    let entry = meta.entry.unwrap().node;
    let (mut seen, mut stack, mut out) = (HashSet::from([entry]), vec![entry], HashSet::new());
    let mut list = Vec::new();
    while let Some(id) = stack.pop() {
        let mut at = id;
        while at != NO_NODE {
            let record = paged.node(at);
            out.insert(record.tid);
            at = record.next_duplicate;
        }
        paged.neighbours_into(id, 0, &mut list);
        stack.extend(list.iter().copied().filter(|&n| seen.insert(n)));
    }
    out
}

/// What the checker finds wrong with the index.
fn problems(store: &MemStore) -> Vec<String> {
    let (meta, records) = read_records(store);
    graph_problems(store, meta, &records)
}

/// Every node's vector as the pages hold it, by heap tid.
fn vectors_by_tid(store: &MemStore) -> HashMap<HeapTid, Vec<f32>> {
    let meta = store.with_page(0, Meta::read).unwrap();
    let layout = Layout::of(&meta);
    let paged = PagedGraph::new(store, meta);
    let mut out = HashMap::new();
    let mut ids = Vec::new();
    for_each_record(store, &layout, |id, r| {
        if r.is_occupied() {
            ids.push((id, r.tid));
        }
    });
    for (id, tid) in ids {
        let mut v = Vec::new();
        paged.read_vector(id, &mut v);
        out.insert(tid, v);
    }
    out
}

/// Recall@10 of the index's search (ef 100) against exact search over the distinct
/// vectors of `all` (a search meets each distinct vector once: copies are its aliases).
fn recall(store: &MemStore, metric: Metric, all: &[Vec<f32>], queries: &[Vec<f32>]) -> f64 {
    let mut distinct: Vec<Vec<u32>> = all
        .iter()
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    let all: Vec<Vec<f32>> = distinct
        .into_iter()
        .map(|v| v.into_iter().map(f32::from_bits).collect())
        .collect();
    let meta = store.with_page(0, Meta::read).unwrap();
    let indexed = meta.indexed_metric();
    let kernels = hnsw_core::distance::kernels();
    let paged = PagedGraph::new(store, meta);
    let (mut hits, mut total) = (0, 0);
    for q in queries {
        let mut exact: Vec<f32> = all
            .iter()
            .map(|v| indexed.distance(kernels, q, v))
            .collect();
        exact.sort_by(f32::total_cmp);
        let tenth = exact[9];
        let found = search(
            &paged,
            q,
            meta.entry.unwrap(),
            10,
            100,
            &mut Visited::sparse(),
        );
        assert_eq!(found.len(), 10, "{metric:?}");
        // Ties at the tenth distance count as hits.
        hits += found.iter().filter(|n| n.distance <= tenth).count();
        total += 10;
    }
    hits as f64 / total as f64
}

#[test]
fn sparse_indexes_store_search_and_take_inserts() {
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
        let rows: Vec<Sparse> = (0..1500).map(|i| sparse(1, i, 120)).collect();
        // Cosine does not index zero vectors (as the build skips them).
        let vectors: Vec<Vec<f32>> = rows.iter().filter_map(|v| stored(metric, v)).collect();
        let (graph, store, meta, written) = built(&vectors, metric, MIN_RECORD_PAGES);
        let layout = Layout::of(&meta);
        assert_eq!(layout.record_pages, MIN_RECORD_PAGES);
        assert_eq!(store.len(), 1 + meta.groups as usize * layout.group_pages);
        assert_eq!(store.with_page(0, Meta::read).unwrap(), meta);
        // Every record reads back as built, and the pages search as the graph does.
        let paged = PagedGraph::new(&store, meta);
        for id in 0..vectors.len() as u32 {
            let mut v = Vec::new();
            paged.read_vector(written[id as usize], &mut v);
            assert_eq!(v, graph.vector(id), "{metric:?} node {id}");
        }
        let queries: Vec<Vec<f32>> = (0..30)
            .filter_map(|i| stored(metric, &sparse(2, i, 120)))
            .filter(|q| !q.is_empty())
            .collect();
        for q in &queries {
            let entry = meta.entry.unwrap();
            let from_pages = search(&paged, q, entry, 10, 40, &mut Visited::sparse());
            assert_eq!(
                from_pages,
                common::in_written_ids(graph.search(q, 10, 40), &written),
                "{metric:?}"
            );
        }
        drop(paged);

        // Inserts: ordinary vectors, the largest a sparsevec can be, and duplicates.
        let mut fresh: Vec<Sparse> = (0..200).map(|i| sparse(3, i, 120)).collect();
        fresh.push(Sparse {
            dim: DIM,
            indices: (0..MAX_NNZ as u32).collect(),
            values: vec![0.5; MAX_NNZ],
        });
        fresh.push(rows[10].clone());
        fresh.push(rows[10].clone());
        for (k, v) in fresh.iter().enumerate() {
            if let Some(s) = stored(metric, v) {
                insert(&store, &s, tid(100_000 + k as u32), 9);
            }
        }
        assert!(problems(&store).is_empty(), "{metric:?}");
        let by_tid = vectors_by_tid(&store);
        for (k, v) in fresh.iter().enumerate() {
            if let Some(s) = stored(metric, v) {
                assert_eq!(by_tid[&tid(100_000 + k as u32)], s, "{metric:?} insert {k}");
            }
        }
        let all: Vec<Vec<f32>> = by_tid.into_values().collect();
        let r = recall(&store, metric, &all, &queries);
        eprintln!("{metric:?}: recall@10 {r}");
        assert!(r >= 0.85, "{metric:?}: recall@10 {r}");
    }
}

#[test]
fn records_fill_groups_and_move_on_to_new_ones() {
    // Records of about 2.4 kB: 16 record pages hold about 54 of them, so the build's
    // records run over many groups, and inserts add groups of their own.
    let rows: Vec<Sparse> = (0..400).map(|i| sparse(4, i, 600)).collect();
    let vectors: Vec<Vec<f32>> = rows.iter().map(|v| v.to_slots()).collect();
    let (_, store, meta, _) = built(&vectors, Metric::L2, MIN_RECORD_PAGES);
    let layout = Layout::of(&meta);
    assert!(
        meta.record_end > 4 * layout.record_bytes() as u64,
        "records span several groups"
    );
    let groups_before = store.len();
    for i in 0..200u32 {
        let v = sparse(5, i as u64, 600).to_slots();
        insert(&store, &v, tid(50_000 + i), 1);
    }
    assert!(
        store.len() > groups_before,
        "inserts made room for their records"
    );
    let by_tid = vectors_by_tid(&store);
    for (i, v) in vectors.iter().enumerate() {
        assert_eq!(&by_tid[&tid(i as u32)], v);
    }
    for i in 0..200u32 {
        assert_eq!(
            by_tid[&tid(50_000 + i)],
            sparse(5, i as u64, 600).to_slots()
        );
    }
    // No record crosses into the next group.
    let meta = store.with_page(0, Meta::read).unwrap();
    for v in by_tid.values() {
        assert!(records::record_size(v.len() / 2) <= layout.record_bytes());
    }
    assert!(meta.record_end > 0);
}

#[test]
fn record_pages_follow_the_mean_record() {
    assert_eq!(records::pages_for(DIM, 16, 100.0), MIN_RECORD_PAGES);
    let mid = records::pages_for(DIM, 16, 1000.0);
    assert!(
        mid > MIN_RECORD_PAGES && mid < records::MAX_RECORD_PAGES,
        "{mid}"
    );
    assert_eq!(records::pages_for(DIM, 16, 1e6), records::MAX_RECORD_PAGES);
    // Groups stay within their page budget whatever the record pages.
    for pages in [MIN_RECORD_PAGES, mid, records::MAX_RECORD_PAGES] {
        let layout = Layout::with_records(DIM, 16, Element::Sparse, pages);
        assert_eq!(layout.record_pages, pages);
        assert!(layout.group_pages <= 512, "{layout:?}");
    }
}

#[test]
fn a_crash_at_any_unit_of_a_sparse_insert_leaves_a_readable_index() {
    let rows: Vec<Vec<f32>> = (0..300).map(|i| sparse(6, i, 80).to_slots()).collect();
    let (_, store, _, _) = built(&rows, Metric::L2, MIN_RECORD_PAGES);
    // A record of 16,000 elements spans 16 pages: four units of record writes.
    let big = Sparse {
        dim: DIM,
        indices: (0..MAX_NNZ as u32).collect(),
        values: vec![0.25; MAX_NNZ],
    }
    .to_slots();
    let units = {
        let copy = store.snapshot();
        let before = copy.units();
        insert(&copy, &big, tid(9_999), 2);
        copy.units() - before
    };
    assert!(units > 6, "{units} units");
    let old: HashSet<HeapTid> = (0..rows.len() as u32).map(tid).collect();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for k in 0..units {
        let copy = store.snapshot();
        copy.crash_after(k);
        let crashed = catch_unwind(AssertUnwindSafe(|| insert(&copy, &big, tid(9_999), 2)));
        assert!(crashed.unwrap_err().downcast_ref::<Crash>().is_some());
        let after = copy.snapshot();
        assert!(
            reached_tids(&after).is_superset(&old),
            "crash after {k} units"
        );
        let by_tid = vectors_by_tid(&after);
        for (i, v) in rows.iter().enumerate() {
            assert_eq!(&by_tid[&tid(i as u32)], v, "crash after {k} units");
        }
        // The index takes the insert again after the crash.
        insert(&after, &big, tid(9_999), 2);
        assert_eq!(vectors_by_tid(&after)[&tid(9_999)], big);
    }
    std::panic::set_hook(quiet);
}

#[test]
fn the_checker_reports_a_damaged_record_position() {
    let rows: Vec<Vec<f32>> = (0..100).map(|i| sparse(7, i, 40).to_slots()).collect();
    let (_, mut store, meta, _) = built(&rows, Metric::L2, MIN_RECORD_PAGES);
    assert!(problems(&store).is_empty());
    let layout = Layout::of(&meta);
    let (block, at) = layout.vector_location(5);
    hnsw_core::page::put_u64(store.page_mut(block), at, meta.record_end + 64);
    let (block, at) = layout.vector_location(6);
    hnsw_core::page::put_u64(store.page_mut(block), at, 2);
    let found = problems(&store);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("node 5: its record position")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("node 6: its record position")),
        "{found:?}"
    );
    // A damaged position reads as the empty vector, never past the pages.
    let paged = PagedGraph::new(&store, meta);
    let mut v = vec![1.0];
    paged.read_vector(6, &mut v);
    assert!(v.is_empty());
}

#[test]
fn inserts_into_freed_slots_reuse_their_records() {
    let rows: Vec<Vec<f32>> = (0..600).map(|i| sparse(8, i, 60).to_slots()).collect();
    let (_, mut store, meta, _) = built(&rows, Metric::L2, MIN_RECORD_PAGES);
    let layout = Layout::of(&meta);
    // Delete every other row, as ambulkdelete marks them, then VACUUM's passes.
    let mut deleted = Vec::new();
    let even: HashSet<HeapTid> = (0..rows.len() as u32).step_by(2).map(tid).collect();
    for_each_record(&store, &layout, |id, r| {
        if r.is_occupied() && even.contains(&r.tid) {
            deleted.push((id, r.clone()));
        }
    });
    for (id, r) in &deleted {
        let (block, at) = layout.node_location(*id);
        let mut gone = r.clone();
        gone.flags |= FLAG_DELETED;
        gone.write(store.page_mut(block), at, layout.m);
    }
    let repaired = repair(&store).unwrap();
    let meta = read_meta(&store).unwrap();
    assert!(free_deleted_slots(&store, meta, &repaired.deleted).unwrap() > 200);
    let end = read_meta(&store).unwrap().record_end;
    // New rows no longer than the ones deleted take their slots and records: the record
    // stream does not grow, and every row reads back. (Inserts take freed slots in id
    // order: the k-th new row is a shortened copy of the row the k-th freed slot held.)
    deleted.sort_by_key(|(id, _)| *id);
    let row_of: HashMap<HeapTid, usize> = (0..rows.len()).map(|i| (tid(i as u32), i)).collect();
    let fresh: Vec<Vec<f32>> = deleted
        .iter()
        .take(200)
        .map(|(_, r)| {
            let mut v = rows[row_of[&r.tid]].clone();
            let nnz = v.len() / 2;
            // Shorter by one non-zero, when it has one.
            if nnz > 0 {
                v.remove(nnz - 1);
                v.pop();
            }
            v
        })
        .collect();
    for (i, v) in fresh.iter().enumerate() {
        insert(&store, v, tid(70_000 + i as u32), 4);
    }
    let meta = read_meta(&store).unwrap();
    assert_eq!(meta.record_end, end, "records of freed slots are reused");
    let by_tid = vectors_by_tid(&store);
    for (i, v) in fresh.iter().enumerate() {
        assert_eq!(&by_tid[&tid(70_000 + i as u32)], v);
    }
    for i in (1..rows.len()).step_by(2) {
        assert_eq!(by_tid[&tid(i as u32)], rows[i]);
    }
    assert!(problems(&store).is_empty(), "{:?}", problems(&store));
    // A longer vector gets a new record.
    insert(&store, &sparse(9, 0, 3000).to_slots(), tid(80_000), 4);
    assert!(read_meta(&store).unwrap().record_end > end);
}
