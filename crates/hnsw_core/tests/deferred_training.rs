//! Deferred codebook training: a product-quantization index built on too few rows is
//! written pending (format 8), searched on its vectors, takes inserts with empty codes,
//! and `train_pending` trains it as a build would have, crash-safe at every unit.

mod common;

use common::random_vectors;
use hnsw_core::codes::{default_subvectors, sample_positions, Codebook, Quantization, SAMPLE};
use hnsw_core::distance::{kernels, Metric};
use hnsw_core::element::Element;
use hnsw_core::graph::storage::Backing;
use hnsw_core::graph::{build, BuildInput, Params, Scan, Visited};
use hnsw_core::index::{graph_problems, insert, read_records, ready_to_train, train_pending};
use hnsw_core::page::meta::{FormatError, PENDING_VERSION, PQ_VERSION};
use hnsw_core::page::node::FLAG_ALIAS;
use hnsw_core::page::{write_index, HeapTid, MemStore, Meta, PageStore, PageWrite, PagedGraph};
use std::sync::atomic::{AtomicBool, AtomicUsize};

const DIM: usize = 64;

fn tid(i: u32) -> HeapTid {
    HeapTid {
        block: 1 + i / 7,
        offset: (i % 7 + 1) as u16,
    }
}

/// A pending index of the first `built` of `vectors`, the rest inserted one by one.
fn pending_index(vectors: &[f32], built: usize) -> MemStore {
    let input = BuildInput {
        offsets: None,
        vectors: Backing::from_f32(vectors[..built * DIM].to_vec()),
        dim: DIM,
        metric: Metric::L2,
        params: Params::default(),
        threads: 1,
        links_spill: None,
    };
    let graph = build(input, &AtomicBool::new(false), &AtomicUsize::new(0)).unwrap();
    let tids: Vec<HeapTid> = (0..built as u32).map(tid).collect();
    let meta = Meta {
        quantization: Quantization::Pq,
        pq_subvectors: default_subvectors(DIM, false) as u16,
        codes_pending: true,
        ..Meta::new(DIM as u32, 16, 64, Metric::L2, Element::F32)
    };
    let mut store = MemStore::new();
    write_index(&graph, &tids, meta, None, |b, p| store.append(b, p));
    for (i, v) in vectors.chunks(DIM).enumerate().skip(built) {
        insert(&store, v, tid(i as u32), 7);
    }
    store
}

fn problems(store: &MemStore) -> Vec<String> {
    let (meta, records) = read_records(store);
    graph_problems(store, meta, &records)
}

/// Recall@10 at ef 40 of scans searching on the codes where the index has them.
fn recall(store: &MemStore, vectors: &[f32], queries: &[f32]) -> f64 {
    let meta = store.meta();
    let graph = PagedGraph::new(store, meta).with_estimates(true);
    let (mut hits, mut total) = (0, 0);
    for q in queries.chunks(DIM) {
        let mut scan = Scan::new(q.to_vec(), 40, meta.entry, Visited::sparse());
        let found: Vec<u32> = (0..10)
            .map_while(|_| scan.next(&graph).unwrap())
            .map(|n| graph.node(n.id).tid.offset as u32 + 7 * (graph.node(n.id).tid.block - 1) - 1)
            .collect();
        let mut truth: Vec<(f32, u32)> = vectors
            .chunks(DIM)
            .enumerate()
            .map(|(i, v)| (Metric::L2.distance(kernels(), q, v), i as u32))
            .collect();
        truth.sort_by(|a, b| a.0.total_cmp(&b.0));
        hits += truth[..10].iter().filter(|t| found.contains(&t.1)).count();
        total += 10;
    }
    hits as f64 / total as f64
}

fn pages(store: &MemStore) -> Vec<Vec<u8>> {
    (0..store.blocks())
        .map(|b| store.with_page(b, |p| p.to_vec()))
        .collect()
}

#[test]
fn a_pending_index_is_searched_on_its_vectors_and_trains_like_a_build() {
    let n = 600;
    let vectors = random_vectors(n, DIM, 5);
    let queries = random_vectors(20, DIM, 6);
    let store = pending_index(&vectors, 100);
    let meta = store.meta();
    assert_eq!(meta.version(), PENDING_VERSION);
    assert!(meta.codes_pending);
    assert_eq!(PagedGraph::new(&store, meta).codebook().map(|_| ()), None);
    assert_eq!(problems(&store), Vec::<String>::new());
    assert!(recall(&store, &vectors, &queries) >= 0.95);

    // What a build of these nodes would train on: SAMPLE of the graph nodes, evenly.
    let (_, records) = read_records(&store);
    let mut nodes: Vec<u32> = records
        .iter()
        .filter(|(_, r)| r.is_occupied() && r.flags & FLAG_ALIAS == 0)
        .map(|(&id, _)| id)
        .collect();
    nodes.sort_unstable();
    let graph = PagedGraph::new(&store, meta);
    let read = |id: u32| {
        let mut v = Vec::new();
        graph.read_vector(id, &mut v);
        v
    };
    let sample: Vec<Vec<f32>> = sample_positions(nodes.len())
        .map(|i| read(nodes[i]))
        .collect();
    let refs: Vec<&[f32]> = sample.iter().map(|v| v.as_slice()).collect();
    let subvectors = meta.pq_subvectors as usize;
    let expected = Codebook::train_sample(DIM, subvectors, &refs, 2, None).unwrap();

    assert!(train_pending(&store, 2, None).unwrap());
    let meta = store.meta();
    assert_eq!(meta.version(), PQ_VERSION);
    assert!(!meta.codes_pending);
    let trained = PagedGraph::new(&store, meta);
    let codebook = trained.codebook().expect("trained");
    assert_eq!(codebook.to_bytes(), expected.to_bytes());
    // The checker compares every node's code with its vector's.
    assert_eq!(problems(&store), Vec::<String>::new());
    assert!(recall(&store, &vectors, &queries) >= 0.9);
    assert!(!train_pending(&store, 2, None).unwrap(), "trained once");

    // Inserts now encode with the codebook.
    let more = random_vectors(50, DIM, 7);
    for (i, v) in more.chunks(DIM).enumerate() {
        insert(&store, v, tid((n + i) as u32), 7);
    }
    assert_eq!(problems(&store), Vec::<String>::new());
}

#[test]
fn an_index_of_few_distinct_vectors_trains_on_them() {
    // 300 rows of 3 vectors: 3 graph nodes, the rest aliases of them.
    let distinct = random_vectors(3, DIM, 8);
    let vectors: Vec<f32> = (0..300)
        .flat_map(|i| distinct.chunks(DIM).nth(i % 3).unwrap().to_vec())
        .collect();
    let store = pending_index(&vectors, 0);
    assert!(train_pending(&store, 1, None).unwrap());
    assert!(!store.meta().codes_pending);
    assert_eq!(problems(&store), Vec::<String>::new());
    let graph = PagedGraph::new(&store, store.meta()).with_estimates(true);
    let mut scan = Scan::new(
        distinct[DIM..2 * DIM].to_vec(),
        40,
        store.meta().entry,
        Visited::sparse(),
    );
    let first = scan.next(&graph).unwrap().unwrap();
    assert_eq!(first.distance, 0.0);

    // An index with no node keeps waiting.
    let empty = pending_index(&[], 0);
    assert!(!train_pending(&empty, 1, None).unwrap());
    assert!(empty.meta().codes_pending);
}

#[test]
fn a_training_crashed_after_any_unit_trains_again_to_the_same_pages() {
    let vectors = random_vectors(300, DIM, 9);
    let store = pending_index(&vectors, 40);
    let done = store.snapshot();
    let before = done.units();
    assert!(train_pending(&done, 1, None).unwrap());
    let units = done.units() - before;
    assert!(units > 300, "{units} units: codebook, codes, meta");
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for k in (0..units).step_by(7).chain([units - 1]) {
        let copy = store.snapshot();
        copy.crash_after(k);
        let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            train_pending(&copy, 1, None)
        }));
        assert!(crashed.is_err(), "crash after {k} units");
        let after = copy.snapshot();
        assert!(after.meta().codes_pending, "crash after {k}: still pending");
        assert_eq!(problems(&after), Vec::<String>::new(), "crash after {k}");
        assert!(train_pending(&after, 1, None).unwrap());
        assert!(
            pages(&after) == pages(&done),
            "crash after {k}: retrained differently"
        );
    }
    std::panic::set_hook(quiet);
}

#[test]
fn codebook_pages_never_written_before_are_made_as_a_build_makes_them() {
    // An unlogged index reset to its init fork holds the meta page alone: inserts extend
    // it past the codebook pages, which stay never-used until the training writes them.
    let dim = DIM * 40; // a codebook over 21 pages, the last partly filled
    let vectors = random_vectors(300, dim, 12);
    let meta = Meta {
        quantization: Quantization::Pq,
        pq_subvectors: default_subvectors(dim, false) as u16,
        codes_pending: true,
        ..Meta::new(dim as u32, 16, 64, Metric::L2, Element::F32)
    };
    let layout = hnsw_core::page::Layout::of(&meta);
    assert!(layout.codebook_pages >= 2);
    let mut store = MemStore::new();
    let mut page = vec![0u8; hnsw_core::page::PAGE_SIZE];
    hnsw_core::page::init_page(&mut page, hnsw_core::page::PageKind::Meta, 96);
    meta.write(&mut page);
    store.append(0, &page);
    for (i, v) in vectors.chunks(dim).enumerate() {
        insert(&store, v, tid(i as u32), 7);
    }
    assert!(train_pending(&store, 1, None).unwrap());
    assert_eq!(problems(&store), Vec::<String>::new());
    for block in 1..=layout.codebook_pages as u32 {
        let (kind, used) = layout.block_kind(block);
        store.with_page(block, |p| {
            assert_eq!(hnsw_core::page::page_kind(p), Some(kind), "block {block}");
            let lower = u16::from_le_bytes([p[12], p[13]]) as usize;
            assert_eq!(lower, hnsw_core::page::HEADER_SIZE + used, "block {block}");
        });
    }
}

#[test]
fn the_meta_page_of_a_pending_index() {
    let meta = Meta {
        quantization: Quantization::Pq,
        pq_subvectors: 32,
        codes_pending: true,
        ..Meta::new(DIM as u32, 16, 64, Metric::L2, Element::F32)
    };
    let store = pending_index(&random_vectors(20, DIM, 10), 20);
    let mut page = store.with_page(0, |p| p.to_vec());
    meta.write(&mut page);
    assert_eq!(Meta::read(&page), Ok(meta));
    let compact = Meta {
        compact: true,
        ..meta
    };
    compact.write(&mut page);
    assert_eq!(
        Meta::read(&page),
        Err(FormatError::Corrupt("a compact index without a codebook"))
    );
    // Ready once inserts have given out SAMPLE ids.
    let at = |first: usize| Meta {
        insert_page_first_node: first as u32,
        ..meta
    };
    assert!(!ready_to_train(&at(SAMPLE - 1)));
    assert!(ready_to_train(&at(SAMPLE)));
    assert!(!ready_to_train(&Meta {
        codes_pending: false,
        ..at(SAMPLE)
    }));
}
