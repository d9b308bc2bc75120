//! Codes (the `quantization` reloption): SQ8's kernels against their scalar reference,
//! its encoding error, where a layout keeps codes, and indexes with codes (SQ8 and product
//! quantization) whose scans search on the codes yet return exact distances in exact
//! order, through inserts, VACUUM and slot reuse.

mod common;

use common::random_vectors;
use hnsw_core::codes::{
    decode_sq8, default_subvectors, encode_sq8, sq8_distance, Codebook, Quantization, PQ_HEADER,
    SQ8_HEADER,
};
use hnsw_core::distance::{kernels, Implementation, Metric};
use hnsw_core::element::Element;
use hnsw_core::graph::storage::Backing;
use hnsw_core::graph::{build, BuildInput, Neighbour, Params, Scan, Visited};
use hnsw_core::index::{free_deleted_slots, graph_problems, insert, read_records, repair};
use hnsw_core::page::meta::{PQ_VERSION, SQ8_VERSION};
use hnsw_core::page::node::FLAG_DELETED;
use hnsw_core::page::{
    write_index, HeapTid, Layout, MemStore, Meta, PageKind, PageWrite, PagedGraph,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize};

fn codes_of(v: &[f32]) -> Vec<u8> {
    let mut out = vec![0u8; SQ8_HEADER + v.len()];
    encode_sq8(v, &mut out);
    out
}

#[test]
fn code_kernels_match_the_scalar_reference() {
    let scalar = Implementation::Scalar.kernels().unwrap();
    for k in Implementation::ALL.iter().filter_map(|i| i.kernels()) {
        for len in (0..70).chain([383, 384, 784, 16_000]) {
            let q = random_vectors(1, len, len as u64 + 1);
            let codes: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let (lo, step) = (-0.3, 0.0021);
            let close = |a: f32, b: f32| {
                assert!((a - b).abs() <= 1e-4 * (1.0 + a.abs()), "{len}: {a} vs {b}")
            };
            close(
                (scalar.l2_squared_u8)(&q, &codes, lo, step),
                (k.l2_squared_u8)(&q, &codes, lo, step),
            );
            close(
                (scalar.l1_u8)(&q, &codes, lo, step),
                (k.l1_u8)(&q, &codes, lo, step),
            );
            let (a, b) = ((scalar.dot_u8)(&q, &codes), (k.dot_u8)(&q, &codes));
            close(a.0, b.0);
            close(a.1, b.1);
            close(a.2, b.2);
        }
    }
}

#[test]
fn codes_stay_within_half_a_step_and_estimate_the_distance() {
    let k = kernels();
    let v = random_vectors(1, 384, 3);
    let code = codes_of(&v);
    let mut back = Vec::new();
    decode_sq8(&code, &mut back);
    let (lo, hi) = (
        v.iter().cloned().fold(f32::MAX, f32::min),
        v.iter().cloned().fold(f32::MIN, f32::max),
    );
    let step = (hi - lo) / 255.0;
    for (x, y) in v.iter().zip(&back) {
        assert!((x - y).abs() <= step * 0.5001, "{x} decoded as {y}");
    }
    // Each metric's estimate is that metric's distance to the decoded vector.
    let q = random_vectors(1, 384, 4);
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
        let estimate = sq8_distance(metric, k, &q, &code);
        let on_decoded = metric.distance(k, &q, &back);
        let exact = metric.distance(k, &q, &v);
        assert!(
            (estimate - on_decoded).abs() <= 1e-3 * (1.0 + on_decoded.abs()),
            "{metric:?}"
        );
        assert!(
            (estimate - exact).abs() <= 0.02 * (1.0 + exact.abs()),
            "{metric:?}: {estimate} vs {exact}"
        );
    }
    // Ends further apart than f32::MAX still make a range (computed in f64).
    let wide = [-3.0e38f32, 0.0, 3.0e38];
    decode_sq8(&codes_of(&wide), &mut back);
    let decoded = &back[back.len() - 3..];
    assert!(decoded.iter().all(|x| x.is_finite()), "{decoded:?}");
    assert!(
        decoded[0] < -2.9e38 && decoded[2] > 2.9e38 && decoded[1].abs() < 2e36,
        "{decoded:?}"
    );
    // A constant vector (no range) decodes exactly; so does a one-element one.
    for v in [vec![0.25f32; 10], vec![-3.0], vec![0.0; 5]] {
        decode_sq8(&codes_of(&v), &mut back);
        assert_eq!(back[back.len() - v.len()..], v[..]);
    }
}

#[test]
fn code_pages_hold_every_code_once_apart_from_everything_else() {
    for dim in [1usize, 24, 384, 784, 3072, 8148, 8149, 16_000] {
        for element in [Element::F32, Element::F16] {
            let l = Layout::with_codes(dim, 16, element, Quantization::Sq8, 0);
            assert_eq!(l.code_size, SQ8_HEADER + dim);
            assert_eq!(l.code_pages, (l.group_nodes * l.code_size).div_ceil(8160));
            let mut on_page = vec![Vec::new(); l.code_pages];
            let mut seen = HashSet::new();
            for id in 0..(2 * l.group_nodes) as u32 {
                let mut covered = 0;
                for part in l.code_parts(id) {
                    assert_eq!(
                        l.block_kind(part.block).0,
                        PageKind::Codes,
                        "dim {dim} id {id}"
                    );
                    assert!(part.offset + part.bytes.len() <= 24 + 8160);
                    for b in part.offset..part.offset + part.bytes.len() {
                        assert!(
                            seen.insert((part.block, b)),
                            "dim {dim}: code {id} overlaps"
                        );
                    }
                    covered += part.bytes.len();
                    if (id as usize) < l.group_nodes {
                        on_page[part.block as usize - 1 - l.node_pages].push(id as usize);
                    }
                }
                assert_eq!(covered, l.code_size);
                for part in l.vector_parts(id) {
                    assert_eq!(l.block_kind(part.block).0, PageKind::Vectors);
                }
            }
            for (index, ids) in on_page.iter().enumerate() {
                let listed: Vec<usize> = l.codes_on_page(0, index).collect();
                assert_eq!(&listed, ids, "dim {dim}, code page {index}");
            }
        }
    }
}

const TID_BASE: u32 = 1;

fn tid(i: u32) -> HeapTid {
    HeapTid {
        block: TID_BASE + i / 7,
        offset: (i % 7 + 1) as u16,
    }
}

/// Both kinds of codes.
const KINDS: [Quantization; 2] = [Quantization::Sq8, Quantization::Pq];

/// An index with codes of `vectors` (stored form), written to a MemStore.
fn written(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    element: Element,
    quantization: Quantization,
) -> MemStore {
    written_with(vectors, dim, metric, element, quantization, false)
}

/// The same, `compact` (product quantization's codes only, no vectors) if asked.
fn written_with(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    element: Element,
    quantization: Quantization,
    compact: bool,
) -> MemStore {
    let n = vectors.len() / dim;
    let input = BuildInput {
        offsets: None,
        vectors: Backing::from_f32(vectors.to_vec()),
        dim,
        metric: element.indexed_metric(metric),
        params: Params::default(),
        threads: 2,
        links_spill: None,
    };
    let graph = build(input, &AtomicBool::new(false), &AtomicUsize::new(0)).unwrap();
    let tids: Vec<HeapTid> = (0..n as u32).map(tid).collect();
    let mut store = MemStore::new();
    let subvectors = default_subvectors(dim, compact);
    let pq = quantization == Quantization::Pq;
    let meta = Meta {
        quantization,
        pq_subvectors: if pq { subvectors as u16 } else { 0 },
        compact,
        ..Meta::new(dim as u32, 16, 64, metric, element)
    };
    let codebook = pq.then(|| Codebook::train_on(&graph, subvectors, 2, None).unwrap());
    write_index(&graph, &tids, meta, codebook.as_ref(), |b, p| {
        store.append(b, p)
    });
    store
}

/// The first `k` rows of a scan at beam `ef` (on the codes with `estimates`).
fn scan(store: &MemStore, query: &[f32], ef: usize, k: usize, estimates: bool) -> Vec<Neighbour> {
    let meta = store.meta();
    let graph = PagedGraph::new(store, meta).with_estimates(estimates);
    let mut scan = Scan::new(query.to_vec(), ef, meta.entry, Visited::sparse());
    let mut out = Vec::new();
    while out.len() < k {
        match scan.next(&graph).unwrap() {
            Some(n) => out.push(n),
            None => break,
        }
    }
    out
}

/// Recall@10 of scans at ef 40 over `queries` (on the codes with `estimates`), checking
/// each row's distance is exact and the first beam comes in exact order.
fn recall(
    store: &MemStore,
    vectors: &[f32],
    dim: usize,
    queries: &[f32],
    live: &dyn Fn(u32) -> bool,
    estimates: bool,
) -> f64 {
    let meta = store.meta();
    let metric = meta.indexed_metric();
    let k = kernels();
    let exact_graph = PagedGraph::new(store, meta);
    let mut hits = 0;
    let mut total = 0;
    for q in queries.chunks(dim) {
        let found = scan(store, q, 40, 10, estimates);
        for pair in found.windows(2) {
            assert!(
                pair[0].distance <= pair[1].distance,
                "first beam in exact order"
            );
        }
        for n in &found {
            let mut v = Vec::new();
            exact_graph.read_vector(n.id, &mut v);
            assert_eq!(n.distance, metric.distance(k, q, &v), "exact distance");
        }
        let mut truth: Vec<(f32, u32)> = vectors
            .chunks(dim)
            .enumerate()
            .filter(|(i, _)| live(*i as u32))
            .map(|(i, v)| (metric.distance(k, q, v), i as u32))
            .collect();
        truth.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Exact duplicates share a node: count distinct distances.
        truth.dedup_by(|a, b| a.0 == b.0);
        let bound = truth[9.min(truth.len() - 1)].0;
        hits += found
            .iter()
            .filter(|n| live(n.id) && n.distance <= bound)
            .count()
            .min(10);
        total += 10;
    }
    hits as f64 / total as f64
}

#[test]
fn scans_over_codes_return_exact_distances_with_high_recall() {
    let cases = [
        (2000usize, 784usize, Metric::L2, Element::F32),
        (2000, 77, Metric::Cosine, Element::F32),
        (2000, 77, Metric::Cosine, Element::F16),
        (2000, 24, Metric::L1, Element::F32),
    ];
    for ((n, dim, metric, element), quantization) in
        cases.into_iter().flat_map(|c| KINDS.map(|q| (c, q)))
    {
        let raw = random_vectors(n, dim, dim as u64);
        let vectors: Vec<f32> = raw
            .chunks(dim)
            .flat_map(|v| element.stored_form(metric, v).unwrap().into_owned())
            .collect();
        let store = written(&vectors, dim, metric, element, quantization);
        let version = if quantization == Quantization::Pq {
            PQ_VERSION
        } else {
            SQ8_VERSION
        };
        assert_eq!(store.meta().version(), version);
        let (meta, records) = read_records(&store);
        assert_eq!(graph_problems(&store, meta, &records), Vec::<String>::new());
        let queries: Vec<f32> = random_vectors(30, dim, 7)
            .chunks(dim)
            .flat_map(|v| element.stored_form(metric, v).unwrap().into_owned())
            .collect();
        // Uniform random 784-d vectors are hard for any graph: compare with the scan on
        // the vectors themselves, and ask for 0.95 where that reaches it. They are also
        // product quantization's worst case (no structure for centroids to learn): its
        // recall on real data is tested below.
        let on_codes = recall(&store, &vectors, dim, &queries, &|_| true, true);
        let on_vectors = recall(&store, &vectors, dim, &queries, &|_| true, false);
        let case = format!(
            "{quantization:?} {metric:?} {element:?} {dim}: {on_codes} against {on_vectors}"
        );
        let (gap, floor) = match quantization {
            Quantization::Pq => (0.12, 0.85),
            _ => (0.03, 0.95),
        };
        assert!(on_codes >= on_vectors - gap, "{case}");
        assert!(on_codes >= floor || on_vectors < 0.97, "{case}");
        assert!(on_vectors >= 0.7, "{case}");
    }
}

/// A real set by name: shipped in the repo, or fetched by `make data` (Fashion-MNIST).
/// Its first `rows` base vectors and `queries` queries in the stored form of `element`
/// under `metric`, and the dimensions.
fn real(
    name: &str,
    metric: Metric,
    element: Element,
    rows: usize,
    queries: usize,
) -> (usize, Vec<f32>, Vec<f32>) {
    let root = env!("CARGO_MANIFEST_DIR");
    let shipped = format!("{root}/../../data/{name}");
    let dir = if std::path::Path::new(&shipped).exists() {
        shipped
    } else {
        format!("{root}/../../target/data/{name}")
    };
    assert!(
        std::path::Path::new(&dir).exists(),
        "{dir} is missing: run `make data` (it installs Debian's dataset-fashion-mnist)"
    );
    let (_, dim, base) = common::read_npy(&format!("{dir}/base.npy"));
    let (_, _, query) = common::read_npy(&format!("{dir}/query.npy"));
    let stored = |v: &[f32]| element.stored_form(metric, v).unwrap().into_owned();
    let base = base.chunks(dim).take(rows).flat_map(stored).collect();
    let query = query.chunks(dim).take(queries).flat_map(stored).collect();
    (dim, base, query)
}

/// Real sets and metrics the codes are tested on.
const REAL: [(&str, Metric, Element); 5] = [
    ("wordnet-minilm-384-10k", Metric::Cosine, Element::F32),
    ("wordnet-minilm-384-10k", Metric::Cosine, Element::F16),
    ("glove-6b-50-10k", Metric::InnerProduct, Element::F32),
    ("glove-6b-50-10k", Metric::L1, Element::F32),
    ("fashion-mnist-784-10k", Metric::L2, Element::F32),
];

/// Product quantization on real vectors: recall@10 at ef 40 of at least 0.95 against
/// exact search, within 0.05 of the same index searched on its vectors.
#[test]
fn product_quantization_on_real_data_keeps_recall() {
    for (name, metric, element) in REAL {
        let (dim, vectors, queries) = real(name, metric, element, 5000, 40);
        let store = written(&vectors, dim, metric, element, Quantization::Pq);
        let on_codes = recall(&store, &vectors, dim, &queries, &|_| true, true);
        let on_vectors = recall(&store, &vectors, dim, &queries, &|_| true, false);
        let case = format!("{name} {metric:?} {element:?}: {on_codes} against {on_vectors}");
        assert!(on_codes >= 0.95 && on_codes >= on_vectors - 0.05, "{case}");
    }
}

/// A compact index returns, for each row, a value never above its exact distance, each
/// batch in non-decreasing order; the executor, re-ranking on the vectors and releasing a
/// row once the index has returned a value at least its distance, then finds the true
/// nearest in order (recall@10 >= 0.95, on real data).
#[test]
fn a_compact_index_returns_lower_bounds_in_order() {
    let k = kernels();
    for (name, metric, element) in REAL {
        let (dim, vectors, queries) = real(name, metric, element, 4000, 25);
        let store = written_with(&vectors, dim, metric, element, Quantization::Pq, true);
        let meta = store.meta();
        assert!(!Layout::of(&meta).vectors_kept);
        let (meta, records) = read_records(&store);
        assert_eq!(graph_problems(&store, meta, &records), Vec::<String>::new());
        let indexed = meta.indexed_metric();
        let (mut hits, mut fetched) = (0, 0);
        let queries: Vec<&[f32]> = queries.chunks(dim).collect();
        // Node ids are the build's written order: each node's row is its heap tid's.
        let row = |id: u32| {
            let t = records[&id].tid;
            ((t.block - TID_BASE) * 7 + t.offset as u32 - 1) as usize
        };
        for q in &queries {
            let exact = |id: u32| indexed.distance(k, q, &vectors[row(id) * dim..][..dim]);
            let graph = PagedGraph::new(&store, meta).with_estimates(true);
            let mut scan = Scan::new(q.to_vec(), 40, meta.entry, Visited::sparse());
            let mut truth: Vec<f32> = (0..vectors.len() / dim).map(|i| exact(i as u32)).collect();
            truth.sort_by(f32::total_cmp);
            let tenth = truth[9];
            let (mut queue, mut returned, mut found) = (Vec::new(), 0, Vec::new());
            let mut last = f32::NEG_INFINITY;
            while found.len() < 10 {
                let Some(row) = scan.next(&graph).unwrap() else {
                    break;
                };
                let d = exact(row.id);
                assert!(
                    row.distance <= d,
                    "{name} {metric:?}: bound {} above {d}",
                    row.distance
                );
                // The first batch: the beam and every node it evaluated, by bound.
                if returned < 200 {
                    assert!(row.distance >= last, "bounds in non-decreasing order");
                }
                last = row.distance;
                returned += 1;
                queue.push((row.distance, d));
                // The executor's rule: release queued rows at most the last bound.
                queue.sort_by(|a, b| b.1.total_cmp(&a.1));
                while queue.last().is_some_and(|&(_, d)| d <= row.distance) {
                    found.push(queue.pop().unwrap().1);
                }
            }
            // At the end of the scan the executor releases the rest, nearest first.
            queue.sort_by(|a, b| a.1.total_cmp(&b.1));
            found.extend(queue.iter().map(|&(_, d)| d));
            fetched += returned;
            let first: Vec<f32> = found.iter().take(10).copied().collect();
            assert!(
                first.windows(2).all(|w| w[0] <= w[1]),
                "{name}: released out of order"
            );
            hits += first.iter().filter(|&&d| d <= tenth).count();
        }
        let recall = hits as f64 / (10 * queries.len()) as f64;
        let case = format!(
            "{name} {metric:?} {element:?}: recall {recall}, {} rows a query",
            fetched / queries.len()
        );
        println!("{case}");
        assert!(recall >= 0.95, "{case}");
    }
}

/// A compact index through deletes, VACUUM, slot reuse and inserts (which search and link
/// on the codes): the checker is clean, and each live row, old or new, is the first row
/// the executor's re-ranking gives for its own vector; no deleted row comes back.
#[test]
fn a_compact_index_takes_inserts_vacuum_and_slot_reuse() {
    compact_churn(3, |row| row % 3 == 0);
    // Nine rows in ten gone: VACUUM's repair finds nodes whose every neighbour is
    // deleted and searches for new ones, on the codes.
    compact_churn(10, |row| row % 10 != 0);
}

/// Deletes the rows `deleted` picks (one in `every` of them, or all but), VACUUMs three
/// times, inserts 300 rows, and checks the index as the test above says.
fn compact_churn(every: usize, deleted: impl Fn(u32) -> bool) {
    let (n, dim) = (600usize, 48usize);
    let vectors = random_vectors(n, dim, 61);
    let mut store = written_with(
        &vectors,
        dim,
        Metric::L2,
        Element::F32,
        Quantization::Pq,
        true,
    );
    let layout = Layout::of(&store.meta());
    let (_, records) = read_records(&store);
    for (&id, r) in &records {
        let row = (r.tid.block - TID_BASE) * 7 + r.tid.offset as u32 - 1;
        if deleted(row) {
            let (block, at) = layout.node_location(id);
            let mut gone = r.clone();
            gone.flags |= FLAG_DELETED;
            gone.write(store.page_mut(block), at, layout.m);
        }
    }
    for _ in 0..3 {
        let repaired = repair(&store).unwrap();
        free_deleted_slots(&store, store.meta(), &repaired.deleted).unwrap();
    }
    let fresh = random_vectors(300, dim, 62);
    for (i, v) in fresh.chunks(dim).enumerate() {
        insert(&store, v, tid(10_000 + i as u32), 5);
    }
    let (meta, records) = read_records(&store);
    assert_eq!(graph_problems(&store, meta, &records), Vec::<String>::new());
    let vector_of = |t: HeapTid| {
        let row = ((t.block - TID_BASE) * 7 + t.offset as u32 - 1) as usize;
        match row.checked_sub(10_000) {
            Some(i) => &fresh[i * dim..(i + 1) * dim],
            None => &vectors[row * dim..(row + 1) * dim],
        }
    };
    let live: Vec<HeapTid> = records
        .values()
        .filter(|r| r.is_occupied() && r.flags & FLAG_DELETED == 0)
        .map(|r| r.tid)
        .collect();
    let gone = (0..n as u32).filter(|&r| deleted(r)).count();
    assert_eq!(live.len(), n - gone + 300, "one in {every}");
    let k = kernels();
    let graph = PagedGraph::new(&store, meta).with_estimates(true);
    for &t in live.iter().step_by(7) {
        let q = vector_of(t).to_vec();
        let mut scan = Scan::new(q.clone(), 40, meta.entry, Visited::sparse());
        // The executor's first row: the least exact distance among the rows returned
        // until a bound reaches it.
        let mut best: Option<(f32, HeapTid)> = None;
        while let Some(row) = scan.next(&graph).unwrap() {
            if best.is_some_and(|(d, _)| d <= row.distance) {
                break;
            }
            let r = &records[&row.id];
            assert_eq!(r.flags & FLAG_DELETED, 0, "a deleted row came back");
            let d = Metric::L2.distance(k, &q, vector_of(r.tid));
            assert!(
                row.distance <= d,
                "node {} {:?}: bound {} above {d}",
                row.id,
                r.tid,
                row.distance
            );
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, r.tid));
            }
        }
        assert_eq!(best.map(|(_, t)| t), Some(t));
    }
}

#[test]
fn inner_product_on_non_negative_data_and_duplicates() {
    // Non-negative vectors under inner product (every estimate is negative and the
    // longest vectors win), half of them exact duplicates of others.
    let (n, dim) = (1500usize, 32usize);
    let mut vectors: Vec<f32> = random_vectors(n, dim, 11).iter().map(|x| x + 0.5).collect();
    for i in (0..n).step_by(2).skip(1) {
        let (from, to) = (i - 1, i);
        let copy = vectors[from * dim..(from + 1) * dim].to_vec();
        vectors[to * dim..(to + 1) * dim].copy_from_slice(&copy);
    }
    let queries: Vec<f32> = random_vectors(20, dim, 12)
        .iter()
        .map(|x| x + 0.5)
        .collect();
    for quantization in KINDS {
        let store = written(
            &vectors,
            dim,
            Metric::InnerProduct,
            Element::F32,
            quantization,
        );
        let r = recall(&store, &vectors, dim, &queries, &|_| true, true);
        assert!(r >= 0.9, "{quantization:?}: recall {r}");
    }
}

#[test]
fn inserts_vacuum_and_slot_reuse_keep_codes_current() {
    for quantization in KINDS {
        inserts_vacuum_and_slot_reuse_keep(quantization);
    }
}

fn inserts_vacuum_and_slot_reuse_keep(quantization: Quantization) {
    let (n, dim) = (600usize, 48usize);
    let vectors = random_vectors(n, dim, 21);
    let store = written(&vectors, dim, Metric::L2, Element::F32, quantization);
    // Delete every third row, VACUUM (freeing the slots), then insert 300 new rows,
    // which take the freed slots first.
    let layout = Layout::of(&store.meta());
    let mut store = store;
    let (_, records) = read_records(&store);
    for (&id, r) in &records {
        if id % 3 == 0 && r.is_occupied() {
            let (block, at) = layout.node_location(id);
            let mut gone = r.clone();
            gone.flags |= FLAG_DELETED;
            gone.write(store.page_mut(block), at, layout.m);
        }
    }
    let mut freed = 0;
    for _ in 0..3 {
        let repaired = repair(&store).unwrap();
        freed += free_deleted_slots(&store, store.meta(), &repaired.deleted).unwrap();
    }
    assert!(freed >= 150, "{freed} slots freed");
    let fresh = random_vectors(300, dim, 22);
    for (i, v) in fresh.chunks(dim).enumerate() {
        insert(&store, v, tid(10_000 + i as u32), 5);
    }
    let (meta, records) = read_records(&store);
    assert_eq!(graph_problems(&store, meta, &records), Vec::<String>::new());
    // Every live row's code is its vector's; scans find the new rows as well as the old.
    let graph = PagedGraph::new(&store, meta);
    let mut all = Vec::new();
    let mut live_ids = HashSet::new();
    for (&id, r) in &records {
        if r.is_occupied() && r.flags & FLAG_DELETED == 0 {
            assert_eq!(graph.code_problem(id), None, "node {id}");
            live_ids.insert(id);
        }
    }
    let reused = records
        .iter()
        .filter(|(&id, r)| (id as usize) < n && r.tid.block >= TID_BASE + 10_000 / 7)
        .count();
    assert!(reused > 100, "{reused} slots reused");
    // Ground truth over the live rows, by id.
    let max = records.keys().max().copied().unwrap() as usize + 1;
    all.resize(max * dim, f32::MAX);
    for &id in &live_ids {
        let mut v = Vec::new();
        graph.read_vector(id, &mut v);
        all[id as usize * dim..(id as usize + 1) * dim].copy_from_slice(&v);
    }
    let queries = random_vectors(30, dim, 23);
    let r = recall(
        &store,
        &all,
        dim,
        &queries,
        &|id| live_ids.contains(&id),
        true,
    );
    assert!(r >= 0.95, "{quantization:?}: recall {r}");
}

#[test]
fn the_checker_reports_a_code_that_is_not_its_vectors() {
    let (n, dim) = (200usize, 16usize);
    let vectors = random_vectors(n, dim, 41);
    for quantization in KINDS {
        let mut store = written(&vectors, dim, Metric::L2, Element::F32, quantization);
        let (meta, records) = read_records(&store);
        assert_eq!(graph_problems(&store, meta, &records), Vec::<String>::new());
        let layout = Layout::of(&meta);
        let (block, at) = layout.code_location(17);
        let within = if quantization == Quantization::Sq8 {
            SQ8_HEADER + 3
        } else {
            PQ_HEADER + 1
        };
        let byte = &mut store.page_mut(block)[at + within];
        *byte = byte.wrapping_add(1);
        assert_eq!(
            graph_problems(&store, meta, &records),
            vec!["node 17: its code is not the code of its vector".to_string()],
            "{quantization:?}"
        );
    }
}

#[test]
fn an_insert_crashed_after_any_unit_leaves_codes_the_checker_accepts() {
    // The code is written after the vector, in a unit of its own, before the node joins
    // the tree: a crash in between leaves an unreachable node the checker skips, and the
    // VACUUM that finds its row dead cleans it up.
    for quantization in KINDS {
        an_insert_crashed_after_any_unit_leaves_codes(quantization);
    }
}

fn an_insert_crashed_after_any_unit_leaves_codes(quantization: Quantization) {
    let (n, dim) = (300usize, 2100usize); // vector and code each over a page boundary
    let vectors = random_vectors(n, dim, 51);
    let store = written(&vectors, dim, Metric::L2, Element::F32, quantization);
    let fresh = random_vectors(1, dim, 52);
    let row = tid(90_000);
    let units = {
        let copy = store.snapshot();
        let before = copy.units();
        insert(&copy, &fresh, row, 3);
        copy.units() - before
    };
    assert!(units >= 4, "{units} units");
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for k in 0..units {
        let copy = store.snapshot();
        copy.crash_after(k);
        let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            insert(&copy, &fresh, row, 3)
        }));
        assert!(crashed.is_err(), "crash after {k} units");
        let mut after = copy.snapshot();
        let (meta, records) = read_records(&after);
        let problems = graph_problems(&after, meta, &records);
        assert!(
            problems.iter().all(|p| !p.contains("code")),
            "crash after {k}: {problems:?}"
        );
        // Recovery: the row's transaction aborted; VACUUM finds its entry dead.
        let layout = Layout::of(&meta);
        for (&id, r) in &records {
            if r.is_occupied() && r.tid == row {
                let (block, at) = layout.node_location(id);
                let mut gone = r.clone();
                gone.flags |= FLAG_DELETED;
                gone.write(after.page_mut(block), at, layout.m);
            }
        }
        for _ in 0..2 {
            let repaired = repair(&after).unwrap();
            free_deleted_slots(&after, after.meta(), &repaired.deleted).unwrap();
        }
        let (meta, records) = read_records(&after);
        assert_eq!(
            graph_problems(&after, meta, &records),
            Vec::<String>::new(),
            "crash after {k}"
        );
    }
    std::panic::set_hook(quiet);
}
