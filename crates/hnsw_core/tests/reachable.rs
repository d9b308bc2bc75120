//! Every live row reachable, always, without VACUUM: randomized workloads (a build, then
//! single inserts, exact duplicates, updates, deletes, VACUUM and the slot reuse that
//! follows it, interleaved) over every distance kind and data shapes that strain
//! neighbour pruning, checked after every step by the checker and by a scan run to
//! exhaustion, which must return every live row.

mod common;
#[path = "common/crash.rs"]
mod crash;

use crash::vacuum;
use hnsw_core::distance::Metric;
use hnsw_core::element::Element;
use hnsw_core::graph::storage::Backing;
use hnsw_core::graph::{build, splitmix64, BuildInput, Params, Scan, Visited, NO_NODE};
use hnsw_core::index::{for_each_record, graph_problems, insert, read_meta, read_records};
use hnsw_core::page::node::FLAG_DELETED;
use hnsw_core::page::{write_index, HeapTid, Layout, MemStore, Meta, PagedGraph};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize};

const DIM: usize = 8;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = splitmix64(self.0);
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    Uniform,
    NonNegative,
    Clustered,
    Collinear,
    Duplicates,
    Huge,
    Tiny,
}

const SHAPES: [Shape; 7] = [
    Shape::Uniform,
    Shape::NonNegative,
    Shape::Clustered,
    Shape::Collinear,
    Shape::Duplicates,
    Shape::Huge,
    Shape::Tiny,
];

const METRICS: [Metric; 4] = [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1];

/// One vector of `shape` (never all zeros, which cosine cannot index).
fn draw(shape: Shape, rng: &mut Rng) -> Vec<f32> {
    let uniform = |rng: &mut Rng| rng.unit() * 2.0 - 1.0;
    let v: Vec<f32> = match shape {
        Shape::Uniform => (0..DIM).map(|_| uniform(rng)).collect(),
        Shape::NonNegative => (0..DIM).map(|_| rng.unit()).collect(),
        Shape::Clustered => {
            let centre = rng.below(4) as u64;
            (0..DIM)
                .map(|i| {
                    let c = (splitmix64(centre * 31 + i as u64) >> 40) as f32 / (1 << 24) as f32;
                    c * 10.0 + uniform(rng) * 0.01
                })
                .collect()
        }
        Shape::Collinear => {
            let t = 0.1 + rng.unit() * 10.0;
            (0..DIM).map(|i| t * (i as f32 + 1.0)).collect()
        }
        Shape::Duplicates => {
            let pick = rng.below(6) as u64;
            (0..DIM)
                .map(|i| (splitmix64(pick * 17 + i as u64) >> 40) as f32 / (1 << 24) as f32 + 0.1)
                .collect()
        }
        Shape::Huge => (0..DIM).map(|_| uniform(rng) * 1e15).collect(),
        Shape::Tiny => (0..DIM).map(|_| uniform(rng) * 1e-18).collect(),
    };
    if v.iter().all(|&x| x == 0.0) {
        return (0..DIM).map(|i| i as f32 + 1.0).collect();
    }
    v
}

fn stored(metric: Metric, v: &[f32]) -> Vec<f32> {
    metric
        .stored_form(v)
        .expect("the shapes have no zero vectors")
        .into_owned()
}

fn tid(i: usize) -> HeapTid {
    HeapTid {
        block: (i / 50) as u32,
        offset: (i % 50 + 1) as u16,
    }
}

/// An index over `vectors` built with two threads, m and ef_construction small so that
/// pruning is harsh.
fn built(vectors: &[Vec<f32>], metric: Metric, m: usize) -> MemStore {
    let indexed = metric.indexed();
    let flat: Vec<f32> = vectors.iter().flatten().copied().collect();
    let input = BuildInput {
        offsets: None,
        vectors: Backing::from_f32(flat),
        dim: DIM,
        metric: indexed,
        params: Params {
            m,
            ef_construction: 12,
            seed: 7,
        },
        threads: 2,
        links_spill: None,
    };
    let graph = build(input, &AtomicBool::new(false), &AtomicUsize::new(0)).unwrap();
    let tids: Vec<HeapTid> = (0..vectors.len()).map(tid).collect();
    let mut store = MemStore::new();
    let base = Meta::new(DIM as u32, m as u16, 12, metric, Element::F32);
    write_index(&graph, &tids, base, None, |b, p| store.append(b, p));
    store
}

/// Marks the entries of the rows in `dead` deleted, as ambulkdelete does.
fn delete_rows(store: &mut MemStore, dead: &HashSet<HeapTid>) {
    let meta = read_meta(store).unwrap();
    let layout = Layout::new(meta.dim as usize, meta.m as usize);
    let mut marked = Vec::new();
    for_each_record(&*store, &layout, |id, r| {
        if r.is_occupied() && dead.contains(&r.tid) {
            marked.push((id, r.clone()));
        }
    });
    for (id, mut r) in marked {
        let (block, at) = layout.node_location(id);
        r.flags |= FLAG_DELETED;
        r.write(store.page_mut(block), at, layout.m);
    }
}

/// The rows a scan for `query` returns when it runs until the graph is exhausted.
fn scanned_rows(store: &MemStore, query: &[f32]) -> HashSet<HeapTid> {
    let meta = read_meta(store).unwrap();
    let graph = PagedGraph::new(store, meta);
    let (_, all) = read_records(store);
    let mut scan = Scan::new(query.to_vec(), 4, meta.entry, Visited::sparse());
    let mut rows = HashSet::new();
    while let Some(n) = scan.next(&graph).unwrap() {
        let mut next = n.id;
        let mut steps = 0;
        while next != NO_NODE && steps <= all.len() {
            let r = &all[&next];
            if r.is_occupied() && r.flags & FLAG_DELETED == 0 {
                rows.insert(r.tid);
            }
            next = r.next_duplicate;
            steps += 1;
        }
    }
    rows
}

/// Every live row is returned by an exhausted scan, and the checker finds nothing (links
/// to deleted nodes, which VACUUM removes and scans walk through, are no finding).
fn check(store: &MemStore, live: &HashSet<HeapTid>, query: &[f32], when: &str) {
    let rows = scanned_rows(store, query);
    let missing: Vec<&HeapTid> = live.iter().filter(|t| !rows.contains(t)).collect();
    assert!(missing.is_empty(), "{when}: no scan returns {missing:?}");
    let (meta, all) = read_records(store);
    let problems = graph_problems(store, meta, &all);
    assert!(
        problems.is_empty(),
        "{when}: the checker finds {problems:?}"
    );
}

fn workload(metric: Metric, shape: Shape, m: usize, seed: u64) {
    let mut rng = Rng(seed);
    let initial: Vec<Vec<f32>> = (0..150)
        .map(|_| stored(metric, &draw(shape, &mut rng)))
        .collect();
    let mut store = built(&initial, metric, m);
    let mut vectors: Vec<Vec<f32>> = initial;
    let mut live: HashSet<HeapTid> = (0..vectors.len()).map(tid).collect();
    let query = stored(metric, &draw(shape, &mut rng));
    check(
        &store,
        &live,
        &query,
        &format!("{metric:?} {shape:?}: after the build"),
    );
    for step in 0..120 {
        let live_ids: Vec<HeapTid> = {
            let mut v: Vec<HeapTid> = live.iter().copied().collect();
            v.sort_by_key(|t| (t.block, t.offset));
            v
        };
        let op = rng.below(10);
        let add = |store: &MemStore,
                   vector: Vec<f32>,
                   vectors: &mut Vec<Vec<f32>>,
                   live: &mut HashSet<HeapTid>| {
            let t = tid(vectors.len());
            insert(store, &vector, t, 7);
            vectors.push(vector);
            live.insert(t);
        };
        match op {
            0..=3 => add(
                &store,
                stored(metric, &draw(shape, &mut rng)),
                &mut vectors,
                &mut live,
            ),
            4 => {
                // An exact copy of a row's vector.
                let copy = vectors[rng.below(vectors.len())].clone();
                add(&store, copy, &mut vectors, &mut live);
            }
            5..=6 if !live_ids.is_empty() => {
                let dead = live_ids[rng.below(live_ids.len())];
                delete_rows(&mut store, &HashSet::from([dead]));
                live.remove(&dead);
            }
            7 if !live_ids.is_empty() => {
                // An UPDATE: the old version dies, the new one is inserted.
                let dead = live_ids[rng.below(live_ids.len())];
                delete_rows(&mut store, &HashSet::from([dead]));
                live.remove(&dead);
                add(
                    &store,
                    stored(metric, &draw(shape, &mut rng)),
                    &mut vectors,
                    &mut live,
                );
            }
            8 => {
                // Many deletes at once, then VACUUM (whose freed slots the next inserts
                // take).
                let cut = rng.below(5);
                let dead: HashSet<HeapTid> = live_ids
                    .iter()
                    .copied()
                    .filter(|t| (t.offset as usize + t.block as usize) % 5 == cut)
                    .collect();
                delete_rows(&mut store, &dead);
                live.retain(|t| !dead.contains(t));
                vacuum(&store);
            }
            _ => vacuum(&store),
        }
        check(
            &store,
            &live,
            &query,
            &format!("{metric:?} {shape:?} m={m}: step {step} (op {op})"),
        );
    }
}

#[test]
fn every_live_row_is_reachable_after_every_step() {
    for metric in METRICS {
        for shape in SHAPES {
            for (m, seed) in [(2, 3), (4, 1), (8, 2)] {
                workload(
                    metric,
                    shape,
                    m,
                    seed ^ (shape as u64) << 8 ^ (metric as u64) << 16,
                );
            }
        }
    }
}

/// The first reproduction of the review: inner product over non-negative data, where
/// every node's nearest neighbours are the few with the largest norms, right after a
/// multi-threaded build.
#[test]
fn inner_product_on_non_negative_data_is_reachable_after_the_build() {
    let mut rng = Rng(25);
    let vectors: Vec<Vec<f32>> = (0..3000)
        .map(|_| (0..DIM).map(|_| rng.unit()).collect())
        .collect();
    let store = built(&vectors, Metric::InnerProduct, 16);
    let live: HashSet<HeapTid> = (0..vectors.len()).map(tid).collect();
    check(&store, &live, &[1.0; DIM], "inner product, non-negative");
}
