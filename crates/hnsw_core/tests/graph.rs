//! The in-memory HNSW graph against brute force: recall, invariants, thread counts.

mod common;

use common::{f16_to_f32, random_vectors, read_npy};

use hnsw_core::distance::{kernels, Metric};
use hnsw_core::graph::storage::{ArenaBuilder, Backing, PathSpillFile, SpillFile, SpillFiles};
use hnsw_core::graph::{build, BuildInput, Graph, Params, Scan, Visited};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize};

fn build_from(
    vectors: Backing,
    dim: usize,
    metric: Metric,
    threads: usize,
    spill: Option<std::path::PathBuf>,
) -> Graph {
    let n = vectors.as_f32().len() / dim;
    let (stop, progress) = (AtomicBool::new(false), AtomicUsize::new(0));
    let input = BuildInput {
        offsets: None,
        vectors,
        dim,
        metric,
        params: Params::default(),
        threads,
        links_spill: spill.map(spill_at),
    };
    let g = build(input, &stop, &progress).expect("build");
    assert_eq!(progress.into_inner(), n);
    g
}

/// Spill files made at `path` (one each: a second call fails, as `create_new` does).
fn spill_at(path: std::path::PathBuf) -> Box<SpillFiles> {
    Box::new(move || Ok(Box::new(PathSpillFile::create(&path)?) as Box<dyn SpillFile>))
}

fn build_with(vectors: &[f32], dim: usize, metric: Metric, threads: usize) -> Graph {
    build_from(
        Backing::from_f32(vectors.to_vec()),
        dim,
        metric,
        threads,
        None,
    )
}

fn brute_force(vectors: &[f32], dim: usize, metric: Metric, query: &[f32], k: usize) -> Vec<u32> {
    let mut all: Vec<(f32, u32)> = vectors
        .chunks(dim)
        .enumerate()
        .map(|(i, v)| (metric.distance(kernels(), query, v), i as u32))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.into_iter().take(k).map(|(_, i)| i).collect()
}

fn recall(found: &[u32], truth: &[u32]) -> f64 {
    let truth: HashSet<_> = truth.iter().collect();
    found.iter().filter(|i| truth.contains(i)).count() as f64 / truth.len() as f64
}

fn check_invariants(g: &Graph) {
    let entry = g
        .entry_point()
        .expect("a non-empty graph has an entry point");
    for id in 0..g.len() as u32 {
        assert!(
            g.level(id) <= entry.level,
            "node {id} above the entry point"
        );
        for layer in 0..=g.level(id) {
            let links = g.neighbours(id, layer);
            assert!(
                links.len() <= g.max_degree(layer),
                "node {id} layer {layer}: {} links",
                links.len()
            );
            assert!(!links.contains(&id), "self-loop at {id}");
            let unique: HashSet<_> = links.iter().collect();
            assert_eq!(unique.len(), links.len(), "duplicate links at {id}");
            assert!(
                links.iter().all(|&n| g.level(n) >= layer),
                "link to a node not on layer {layer}"
            );
        }
    }
    // Everything is reachable from the entry point on layer 0.
    let mut seen = vec![false; g.len()];
    let mut stack = vec![entry.node];
    seen[entry.node as usize] = true;
    while let Some(id) = stack.pop() {
        for n in g.neighbours(id, 0) {
            if !seen[n as usize] {
                seen[n as usize] = true;
                stack.push(n);
            }
        }
    }
    let graph_nodes = (0..g.len() as u32).filter(|&id| !g.is_alias(id)).count();
    assert_eq!(
        seen.iter().filter(|s| **s).count(),
        graph_nodes,
        "unreachable nodes"
    );
    for id in 0..g.len() as u32 {
        if g.is_alias(id) {
            assert!(!seen[id as usize], "alias {id} is linked");
            assert_eq!(g.level(id), 0);
        }
    }
}

#[test]
fn small_graphs_are_exact() {
    let dim = 4;
    for n in [1usize, 2, 5, 40] {
        let vectors = random_vectors(n, dim, n as u64);
        let g = build_with(&vectors, dim, Metric::L2, 1);
        check_invariants(&g);
        let query = random_vectors(1, dim, 99);
        let found: Vec<u32> = g
            .search(&query, 10.min(n), 100)
            .iter()
            .map(|x| x.id)
            .collect();
        assert_eq!(
            found,
            brute_force(&vectors, dim, Metric::L2, &query, 10.min(n))
        );
    }
}

#[test]
fn recall_on_random_data_with_one_and_two_threads() {
    let (n, dim, k) = (3000, 16, 10);
    let vectors = random_vectors(n, dim, 7);
    let queries = random_vectors(100, dim, 8);
    for threads in [1, 2] {
        let g = build_with(&vectors, dim, Metric::L2, threads);
        check_invariants(&g);
        let mut total = 0.0;
        for q in queries.chunks(dim) {
            let found: Vec<u32> = g.search(q, k, 64).iter().map(|x| x.id).collect();
            total += recall(&found, &brute_force(&vectors, dim, Metric::L2, q, k));
        }
        let mean = total / 100.0;
        assert!(mean >= 0.95, "{threads} threads: recall@10 {mean}");
    }
}

#[test]
fn every_metric_finds_the_query_itself() {
    // One build thread, so the graph (and the assertion) is the same on every run: with
    // two, the interleaving decides the links, and now and then a beam of 40 misses a
    // node (an approximate search may; a resumed scan reaches every node through the
    // tree, which reachable.rs tests).
    let (n, dim) = (500, 8);
    let vectors = random_vectors(n, dim, 11);
    for metric in [Metric::L2, Metric::Cosine, Metric::L1] {
        let g = build_with(&vectors, dim, metric, 1);
        check_invariants(&g);
        for id in (0..n).step_by(50) {
            let q = &vectors[id * dim..(id + 1) * dim];
            assert_eq!(g.search(q, 1, 40)[0].id, id as u32, "{metric:?}");
        }
    }
}

/// Builds with the defaults (m 16, ef_construction 64) on two threads and returns the
/// mean recall@10 at ef_search 40 against the set's ground truth.
fn recall_on(dir: &str, metric: Metric) -> f64 {
    let (n, dim, base) = read_npy(&format!("{dir}/base.npy"));
    let (nq, _, queries) = read_npy(&format!("{dir}/query.npy"));
    let (_, gt_k, truth) = read_npy(&format!("{dir}/gt_ids.npy"));
    assert_eq!(base.len(), n * dim);
    let g = build_with(&base, dim, metric, 2);
    check_invariants(&g);
    let mut total = 0.0;
    for q in 0..nq {
        let found: Vec<u32> = g
            .search(&queries[q * dim..(q + 1) * dim], 10, 40)
            .iter()
            .map(|x| x.id)
            .collect();
        let truth: Vec<u32> = truth[q * gt_k..q * gt_k + 10]
            .iter()
            .map(|&t| t as u32)
            .collect();
        total += recall(&found, &truth);
    }
    let mean = total / nq as f64;
    println!("{dir}: recall@10 at ef_search 40 = {mean:.4}");
    mean
}

/// Data sets shipped in the repository's `data/`.
const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data");
/// Data sets `make data` (scripts/fetch_data.py) makes from package registries.
const FETCHED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/data");

#[test]
fn recall_on_glove_shipped_in_the_repo() {
    assert!(recall_on(&format!("{SHIPPED}/glove-6b-50-10k"), Metric::Cosine) >= 0.95);
}

#[test]
fn recall_on_wordnet_minilm_384() {
    assert!(recall_on(&format!("{SHIPPED}/wordnet-minilm-384-10k"), Metric::Cosine) >= 0.95);
}

#[test]
fn recall_on_fashion_mnist_784() {
    let dir = format!("{FETCHED}/fashion-mnist-784-10k");
    assert!(
        std::path::Path::new(&dir).exists(),
        "{dir} is missing: run `make data` (it installs Debian's dataset-fashion-mnist)"
    );
    assert!(recall_on(&dir, Metric::L2) >= 0.95);
}

#[test]
fn half_precision_values_convert_exactly() {
    assert_eq!(f16_to_f32(0x3c00), 1.0);
    assert_eq!(f16_to_f32(0xc000), -2.0);
    assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
    assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
    assert_eq!(f16_to_f32(0x7bff), 65504.0);
}

/// Points on a line make the heuristic keep one neighbour on each side, so the graph is
/// a chain and a missing link shows at once: a node that another thread linked to while
/// it was still searching (reaching it from a layer above) must keep that link when it
/// writes its own list, or a beam starting past the gap never crosses it. Races need
/// threads and many builds (a list that drops those links fails here within a hundred).
#[test]
fn concurrent_inserts_keep_the_links_made_to_them_meanwhile() {
    let n = 300;
    let line: Vec<f32> = (1..=n).flat_map(|i| [i as f32, -(i as f32)]).collect();
    let ends = [
        [0.0, 0.0],
        [n as f32, -(n as f32)],
        [2.0 * n as f32, -2.0 * n as f32],
    ];
    for build in 0..1000 {
        let g = build_with(&line, 2, Metric::L2, 3);
        for query in &ends {
            let truth = brute_force(&line, 2, Metric::L2, query, 1);
            let found = g.search(query, 1, 40);
            assert_eq!(found[0].id, truth[0], "build {build}, query {query:?}");
        }
    }
}

#[test]
fn thousands_of_duplicates_stay_reachable() {
    let dim = 8;
    let mut vectors = random_vectors(1000, dim, 5);
    let duplicate: Vec<f32> = vectors[..dim].to_vec();
    for _ in 0..3000 {
        vectors.extend_from_slice(&duplicate);
    }
    vectors.extend(random_vectors(1000, dim, 6));
    let g = build_with(&vectors, dim, Metric::L2, 2);
    check_invariants(&g);
    // All 3001 copies form one chain from node 0; only node 0 is in the graph.
    let mut chain = vec![0u32];
    while let Some(next) = g.next_duplicate(*chain.last().unwrap()) {
        chain.push(next);
    }
    assert_eq!(chain.len(), 3001);
    assert!(chain[1..].iter().all(|&id| g.is_alias(id)));
    assert_eq!(g.search(&duplicate, 1, 40)[0].id, 0);
    let q = random_vectors(1, dim, 77);
    let found: Vec<u32> = g.search(&q, 10, 64).iter().map(|x| x.id).collect();
    let truth = brute_force(&vectors, dim, Metric::L2, &q, 10);
    assert!(recall(&found, &truth) >= 0.9, "{found:?} vs {truth:?}");
}

#[test]
fn spilled_build_matches_the_heap_build() {
    let (n, dim) = (2000, 12);
    let vectors = random_vectors(n, dim, 21);
    let dir = std::env::temp_dir().join(format!("hnsw_core_spill_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A 1 KiB budget forces the arena to the file after 21 vectors.
    let mut arena = ArenaBuilder::new(dim, 1024, spill_at(dir.join("arena")));
    for v in vectors.chunks(dim) {
        arena.push(v).unwrap();
    }
    let (mapped, _) = arena.finish().unwrap();
    assert!(mapped.is_mapped());
    assert_eq!(mapped.as_f32(), &vectors[..]);
    let spilled = build_from(mapped, dim, Metric::L2, 1, Some(dir.join("links")));
    assert!(spilled.is_mapped());
    check_invariants(&spilled);
    let heap = build_with(&vectors, dim, Metric::L2, 1);
    // One thread and the same seed: the same graph, wherever it is stored.
    for id in 0..n as u32 {
        assert_eq!(spilled.neighbours(id, 0), heap.neighbours(id, 0));
    }
    drop(spilled);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "spill files are removed"
    );
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn resumed_scan_returns_every_node_once_starting_with_the_plain_search() {
    let (n, dim, ef) = (1500, 8, 20);
    let vectors = random_vectors(n, dim, 31);
    let g = build_with(&vectors, dim, Metric::L2, 2);
    let query = random_vectors(1, dim, 32);
    let plain: Vec<u32> = g.search(&query, ef, ef).iter().map(|x| x.id).collect();
    let mut scan = Scan::new(query.clone(), ef, g.entry_point(), Visited::sparse());
    let mut all = Vec::new();
    while let Some(n) = scan.next(&g).unwrap() {
        all.push(n);
    }
    let first: Vec<u32> = all.iter().take(ef).map(|x| x.id).collect();
    assert_eq!(first, plain);
    let unique: HashSet<u32> = all.iter().map(|x| x.id).collect();
    assert_eq!(unique.len(), all.len(), "a node came back twice");
    assert_eq!(all.len(), n, "every reachable node is returned");
    // Later batches are worse on the whole: the first 100 beat the last 100 on average.
    let mean = |xs: &[hnsw_core::graph::Neighbour]| {
        xs.iter().map(|x| x.distance as f64).sum::<f64>() / xs.len() as f64
    };
    assert!(mean(&all[..100]) < mean(&all[n - 100..]));
}

#[test]
fn resume_modes_bound_and_order_the_scan() {
    use hnsw_core::graph::Resume;
    let (n, dim, ef) = (1500, 8, 20);
    let vectors = random_vectors(n, dim, 31);
    let g = build_with(&vectors, dim, Metric::L2, 2);
    let drain = |query: &[f32], resume: Resume, limit: usize| {
        let mut scan = Scan::new(query.to_vec(), ef, g.entry_point(), Visited::sparse())
            .with_resume(resume, limit);
        let mut all = Vec::new();
        while let Some(n) = scan.next(&g).unwrap() {
            all.push(n);
        }
        (all, scan.memory_bytes())
    };
    let ids = |xs: &[hnsw_core::graph::Neighbour]| xs.iter().map(|x| x.id).collect::<Vec<_>>();
    let (mut out_of_order, mut stopped_early) = (0, 0);
    for query in random_vectors(20, dim, 33).chunks(dim) {
        let plain = ids(&g.search(query, ef, ef));
        let (relaxed, most) = drain(query, Resume::RelaxedOrder, usize::MAX);
        assert_eq!(relaxed.len(), n);
        out_of_order += relaxed
            .windows(2)
            .filter(|w| w[1].distance < w[0].distance)
            .count();
        // Off: the first beam alone.
        assert_eq!(ids(&drain(query, Resume::Off, usize::MAX).0), plain);
        // Strict: non-decreasing, the relaxed order minus the nodes that broke it.
        let strict = drain(query, Resume::StrictOrder, usize::MAX).0;
        assert!(strict.windows(2).all(|w| w[0].distance <= w[1].distance));
        let mut last = f32::NEG_INFINITY;
        let expected: Vec<u32> = relaxed
            .iter()
            .filter(|x| {
                let keep = x.distance >= last;
                last = last.max(x.distance);
                keep
            })
            .map(|x| x.id)
            .collect();
        assert_eq!(ids(&strict), expected);
        assert_eq!(ids(&strict[..ef]), plain);
        // A memory limit ends the scan after the first beam that passes it.
        let (bounded, held) = drain(query, Resume::RelaxedOrder, most / 2);
        assert!(bounded.len() >= ef && held <= most, "{}", bounded.len());
        stopped_early += (bounded.len() < n) as usize;
        assert_eq!(ids(&bounded), ids(&relaxed[..bounded.len()]));
        assert_eq!(ids(&drain(query, Resume::RelaxedOrder, 0).0), plain);
    }
    assert!(
        out_of_order > 0,
        "later beams do find nearer nodes: strict skips them"
    );
    assert!(
        stopped_early > 10,
        "the memory limit ended {stopped_early} of 20 scans early"
    );
}

#[test]
fn supervised_build_runs_the_supervisor_and_stops_workers_when_it_panics() {
    use hnsw_core::graph::build_supervised;
    use std::sync::atomic::Ordering;
    let dim = 32;
    let input = |v: Vec<f32>| BuildInput {
        offsets: None,
        vectors: Backing::from_f32(v),
        dim,
        metric: Metric::L2,
        params: Params::default(),
        threads: 2,
        links_spill: None,
    };
    let n = 4000;
    let (stop, progress) = (AtomicBool::new(false), AtomicUsize::new(0));
    let mut calls = 0;
    let g = build_supervised(
        input(random_vectors(n, dim, 41)),
        &stop,
        &progress,
        &mut || calls += 1,
    )
    .unwrap();
    assert!(calls > 0);
    assert_eq!(progress.load(Ordering::SeqCst), n);
    check_invariants(&g);

    // A build that would take many seconds: the supervisor's panic (and the printing of
    // its backtrace) must stop it long before it could finish on its own.
    let big = 200_000;
    let (stop, progress) = (AtomicBool::new(false), AtomicUsize::new(0));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        build_supervised(
            input(random_vectors(big, dim, 42)),
            &stop,
            &progress,
            &mut || panic!("query canceled"),
        )
    }));
    assert!(result.is_err(), "the supervisor's panic propagates");
    assert!(stop.load(Ordering::SeqCst), "workers were told to stop");
    assert!(
        progress.load(Ordering::SeqCst) < big,
        "workers stopped early"
    );
}

/// A spill file that refuses to grow past `limit` bytes, as `temp_file_limit` does.
struct LimitedSpill {
    inner: PathSpillFile,
    written: usize,
    limit: usize,
}

impl SpillFile for LimitedSpill {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.written + bytes.len() > self.limit {
            return Err(std::io::Error::other(
                "temporary file size exceeds the limit",
            ));
        }
        self.written += bytes.len();
        self.inner.append(bytes)
    }
    fn raw_fd(&mut self) -> std::io::Result<std::os::fd::RawFd> {
        self.inner.raw_fd()
    }
}

#[test]
fn spill_limits_and_allocation_failures_are_errors() {
    let (n, dim) = (3000, 16);
    let vectors = random_vectors(n, dim, 51);
    let dir = std::env::temp_dir().join(format!("hnsw_core_limit_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let limited = |name: &'static str, limit: usize| -> Box<SpillFiles> {
        let path = dir.join(name);
        Box::new(move || {
            Ok(Box::new(LimitedSpill {
                inner: PathSpillFile::create(&path)?,
                written: 0,
                limit,
            }) as Box<dyn SpillFile>)
        })
    };
    // The arena's file passes its limit while vectors are pushed (or when it is finished).
    let mut arena = ArenaBuilder::new(dim, 1024, limited("arena", 64 * 1024));
    let pushed = vectors.chunks(dim).try_for_each(|v| arena.push(v));
    let failed = pushed.is_err() || arena.finish().is_err();
    assert!(failed, "a 192 kB arena fits a 64 kB limit");

    // The link slab's file passes its limit when it is reserved, before any thread starts.
    let input = BuildInput {
        offsets: None,
        vectors: Backing::from_f32(vectors.clone()),
        dim,
        metric: Metric::L2,
        params: Params::default(),
        threads: 2,
        links_spill: Some(limited("links", 4096)),
    };
    let (stop, progress) = (AtomicBool::new(false), AtomicUsize::new(0));
    let err = build(input, &stop, &progress)
        .err()
        .expect("links past the limit");
    assert!(err.to_string().contains("exceeds the limit"), "{err}");
    assert_eq!(progress.into_inner(), 0, "nothing was inserted");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "spill files are removed"
    );
    std::fs::remove_dir(&dir).unwrap();

    // A reservation that cannot succeed is an OutOfMemory error, not an abort.
    let err = hnsw_core::graph::storage::try_filled(usize::MAX / 4, 0u32, "a test").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
    assert!(Visited::try_dense(usize::MAX / 2).is_err());
}
