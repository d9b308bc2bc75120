//! Multicolumn indexes (format 9): every node slot's key, written by the build and by
//! inserts (exact duplicates keep their own), found by `matching`, ranked by
//! `exact_matches`, and returned only where they match by `rows_of_matching`; a crash
//! after any unit of an insert leaves an index the checker passes.

mod common;

use common::random_vectors;
use hnsw_core::distance::{kernels, Metric};
use hnsw_core::element::Element;
use hnsw_core::graph::storage::Backing;
use hnsw_core::graph::{build, BuildInput, Params, Scan, Visited};
use hnsw_core::index::{
    exact_matches, graph_problems, insert_with_key, key_passes, matching, ranks_exactly,
    read_records, row_of, rows_of_matching, sample_matching, walk_budget, walks_unread,
};
use hnsw_core::page::keys::{KeyFilter, KeyFormat};
use hnsw_core::page::meta::KEYS_VERSION;
use hnsw_core::page::{write_index_with_keys, HeapTid, MemStore, Meta, PageWrite, PagedGraph};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize};

const DIM: usize = 16;

fn tid(i: u32) -> HeapTid {
    HeapTid {
        block: 1 + i / 7,
        offset: (i % 7 + 1) as u16,
    }
}

fn format() -> KeyFormat {
    KeyFormat::new(vec![8, 16])
}

/// Row `i`'s key: a category `i % 10` (NULL for every 13th row) and a uuid-wide value
/// `i % 3`.
fn key_of(i: u32) -> Vec<u8> {
    let category = (i as i64 % 10).to_le_bytes();
    let wide = [(i % 3) as u8; 16];
    let null = i % 13 == 0;
    format().encode(&[(!null).then_some(&category[..]), Some(&wide[..])])
}

/// An index of `vectors`, the first `built` rows by a build, the rest inserted; rows
/// `dup_from..` repeat row 0's vector (one node, aliases with their own keys).
fn index(vectors: &[f32], built: usize) -> MemStore {
    index_of(vectors, built, format(), key_of)
}

/// The same with keys of `format`, row `i`'s `key(i)`.
fn index_of(
    vectors: &[f32],
    built: usize,
    format: KeyFormat,
    key_of: impl Fn(u32) -> Vec<u8>,
) -> MemStore {
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
    let keys: Vec<u8> = (0..built as u32).flat_map(&key_of).collect();
    let meta = Meta {
        key_bytes: format.key_bytes() as u16,
        ..Meta::new(DIM as u32, 16, 64, Metric::L2, Element::F32)
    };
    let mut store = MemStore::new();
    write_index_with_keys(&graph, &tids, &keys, meta, None, |b, p| store.append(b, p));
    for (i, v) in vectors.chunks(DIM).enumerate().skip(built) {
        insert_with_key(&store, v, tid(i as u32), &key_of(i as u32), 7);
    }
    store
}

/// 400 random vectors, then 60 copies of the first one.
fn vectors() -> Vec<f32> {
    let mut v = random_vectors(400, DIM, 11);
    let first = v[..DIM].to_vec();
    for _ in 0..60 {
        v.extend_from_slice(&first);
    }
    v
}

fn problems(store: &MemStore) -> Vec<String> {
    let (meta, records) = read_records(store);
    graph_problems(store, meta, &records)
}

fn row_number(t: HeapTid) -> u32 {
    (t.block - 1) * 7 + t.offset as u32 - 1
}

/// The rows a filter on category `values` passes, by the keys as they were written.
fn expected_rows(n: u32, values: &[i64]) -> BTreeSet<u32> {
    (0..n)
        .filter(|&i| i % 13 != 0 && values.contains(&(i as i64 % 10)))
        .collect()
}

fn category_filter(values: &[i64]) -> KeyFilter {
    let mut filter = KeyFilter::new(format());
    filter.one_of(0, values.iter().map(|v| v.to_le_bytes().to_vec()).collect());
    filter
}

#[test]
fn every_row_keeps_its_own_key_through_build_inserts_and_duplicates() {
    let vectors = vectors();
    let n = (vectors.len() / DIM) as u32;
    for built in [0, 200, n as usize] {
        let store = index(&vectors, built);
        let meta = store.meta();
        assert_eq!(meta.version(), KEYS_VERSION);
        assert_eq!(problems(&store), Vec::<String>::new(), "built {built}");
        let graph = PagedGraph::new(store.snapshot(), meta);
        for values in [&[3][..], &[0, 7, 9], &[]] {
            let filter = category_filter(values);
            let matches = matching(&graph, &filter).unwrap();
            let rows: BTreeSet<u32> = matches
                .ids()
                .filter_map(|id| row_of(&graph, id))
                .map(row_number)
                .collect();
            assert_eq!(rows, expected_rows(n, values), "built {built}, {values:?}");
            assert_eq!(matches.len(), rows.len());
        }
        // IS NULL, and a second column ANDed with the first.
        let mut nulls = KeyFilter::new(format());
        nulls.null(0, true);
        let null_rows: BTreeSet<u32> = matching(&graph, &nulls)
            .unwrap()
            .ids()
            .filter_map(|id| row_of(&graph, id))
            .map(row_number)
            .collect();
        assert_eq!(null_rows, (0..n).filter(|i| i % 13 == 0).collect());
        let mut both = category_filter(&[4]);
        both.one_of(1, vec![vec![1u8; 16]]);
        let rows: BTreeSet<u32> = matching(&graph, &both)
            .unwrap()
            .ids()
            .filter_map(|id| row_of(&graph, id))
            .map(row_number)
            .collect();
        assert_eq!(
            rows,
            expected_rows(n, &[4])
                .into_iter()
                .filter(|i| i % 3 == 1)
                .collect()
        );
    }
}

#[test]
fn exact_matches_rank_every_match_and_walks_return_only_matches() {
    let vectors = vectors();
    let n = (vectors.len() / DIM) as u32;
    let store = index(&vectors, 300);
    let meta = store.meta();
    let graph = PagedGraph::new(store.snapshot(), meta);
    let query = random_vectors(1, DIM, 12);
    let filter = category_filter(&[2, 5]);
    let matches = matching(&graph, &filter).unwrap();
    let order = exact_matches(&graph, &query, &matches, |_| false, None, None, usize::MAX).unwrap();
    let distance = |i: u32| {
        let v = &vectors[i as usize * DIM..(i as usize + 1) * DIM];
        Metric::L2.distance(kernels(), &query, v)
    };
    let ranked: Vec<u32> = order
        .iter()
        .map(|n| row_number(row_of(&graph, n.id).unwrap()))
        .collect();
    let mut truth: Vec<u32> = expected_rows(n, &[2, 5]).into_iter().collect();
    truth.sort_by(|a, b| distance(*a).total_cmp(&distance(*b)).then(a.cmp(b)));
    let truth_distances: Vec<f32> = truth.iter().map(|&i| distance(i)).collect();
    let ranked_distances: Vec<f32> = ranked.iter().map(|&i| distance(i)).collect();
    assert_eq!(ranked_distances, truth_distances);
    // `after` and `taken` leave rows out.
    let cut = order[10].distance;
    let skip = order[11].id;
    let rest = exact_matches(
        &graph,
        &query,
        &matches,
        |id| id == skip,
        Some(cut),
        None,
        usize::MAX,
    )
    .unwrap();
    assert!(rest.iter().all(|r| r.distance >= cut && r.id != skip));
    assert_eq!(rest.len(), order.len() - 11);
    // In rounds of 7, each after the last the round before gave: the same order.
    let mut rounds = Vec::new();
    loop {
        let cursor = rounds.last().copied();
        let round = exact_matches(&graph, &query, &matches, |_| false, None, cursor, 7).unwrap();
        assert!(round.len() <= 7);
        rounds.extend_from_slice(&round);
        if round.len() < 7 {
            break;
        }
    }
    assert_eq!(rounds, order);

    // A walk returns the matching rows of each node's chain only: row 0's copies hold
    // categories 0 to 9, and the ones in {2, 5} come back.
    let mut scan = Scan::new(vectors[..DIM].to_vec(), 40, meta.entry, Visited::sparse());
    let first = scan.next(&graph).unwrap().unwrap();
    let rows = rows_of_matching(&graph, &vectors[..DIM], first.id, first.distance, |id| {
        matches.contains(id)
    })
    .unwrap()
    .unwrap();
    let rows: BTreeSet<u32> = rows.into_iter().map(row_number).collect();
    let copies = (400..n)
        .chain([0])
        .filter(|i| expected_rows(n, &[2, 5]).contains(i));
    assert_eq!(rows, copies.collect());
}

#[test]
fn few_matches_are_ranked_exactly_and_a_walk_costs_at_most_that_ranking() {
    assert!(ranks_exactly(600, 40) && ranks_exactly(640, 40) && !ranks_exactly(641, 40));
    assert!(ranks_exactly(0, 0));
    assert_eq!(walk_budget(1_000, 40), 62);
    assert_eq!(walk_budget(100, 40), 40, "at least a beam");
    assert_eq!(walk_budget(6_000, 40), 375);
    // A walk reads keys node by node only when even half the sample's estimate is more
    // than an exact ranking takes.
    assert!(!walks_unread(1_280, 40) && walks_unread(1_282, 40));
}

#[test]
fn a_walk_reads_each_key_where_it_lies_as_the_pass_does() {
    let vectors = vectors();
    let store = index(&vectors, 300);
    let graph = PagedGraph::new(store.snapshot(), store.meta());
    let slots = graph.meta.groups as usize * graph.layout.group_nodes;
    assert!(
        graph.layout.key_size * slots > 2 * hnsw_core::page::CONTENT_SIZE,
        "keys over several pages, some across a page boundary"
    );
    for values in [&[3][..], &[0, 7, 9], &[]] {
        let filter = category_filter(values);
        let matches = matching(&graph, &filter).unwrap();
        let passing = (0..slots as u32).filter(|&id| key_passes(&graph, &filter, id));
        assert_eq!(
            passing.collect::<Vec<_>>(),
            matches.ids().collect::<Vec<_>>()
        );
    }
    assert_eq!(
        sample_matching(&graph, &category_filter(&[3])),
        None,
        "too few pages"
    );
}

#[test]
fn a_sample_of_the_key_pages_estimates_how_many_slots_pass() {
    // Wide keys (a uuid and a category), so a few thousand rows fill many key pages.
    let format = KeyFormat::new(vec![16; 15].into_iter().chain([8]).collect());
    let key_of = |i: u32| {
        let wide = [(i % 5) as u8; 16];
        let category = (i as i64 % 10).to_le_bytes();
        let mut values: Vec<Option<&[u8]>> = vec![Some(&wide[..]); 15];
        values.push(Some(&category[..]));
        format.encode(&values)
    };
    let n = 3_000;
    let vectors = random_vectors(n, DIM, 5);
    let store = index_of(&vectors, n, format.clone(), key_of);
    let graph = PagedGraph::new(store.snapshot(), store.meta());
    let mut filter = KeyFilter::new(format.clone());
    filter.one_of(15, vec![4i64.to_le_bytes().to_vec()]);
    let estimate = sample_matching(&graph, &filter).expect("enough key pages to sample");
    let exact = matching(&graph, &filter).unwrap().len();
    assert_eq!(exact, n / 10);
    assert!(
        (exact / 2..exact * 2).contains(&estimate),
        "{estimate} against {exact}"
    );
    let mut none = KeyFilter::new(format);
    none.one_of(15, vec![(-1i64).to_le_bytes().to_vec()]);
    assert_eq!(sample_matching(&graph, &none), Some(0));
}

#[test]
fn an_insert_crashed_after_any_unit_leaves_a_clean_index_with_every_key() {
    let vectors = vectors();
    let store = index(&vectors[..200 * DIM], 200);
    let extra = random_vectors(1, DIM, 13);
    let done = store.snapshot();
    let before = done.units();
    insert_with_key(&done, &extra, tid(1000), &key_of(1000), 7);
    let units = done.units() - before;
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for k in 0..units {
        let copy = store.snapshot();
        copy.crash_after(k);
        let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            insert_with_key(&copy, &extra, tid(1000), &key_of(1000), 7)
        }));
        assert!(crashed.is_err(), "crash after {k} units");
        let after = copy.snapshot();
        // The aborted row's node may be left unreachable (VACUUM frees it), never in the
        // tree without its key.
        let problems = problems(&after);
        assert!(
            problems
                .iter()
                .all(|p| p.contains("not in the tree") || p.contains("not reachable")),
            "crash after {k}: {problems:?}"
        );
        insert_with_key(&after, &extra, tid(1011), &key_of(1011), 7);
        // Whatever the crash left, no slot holds row 1000 under another key.
        let graph = PagedGraph::new(after.snapshot(), after.meta());
        let by_key: HashMap<u32, bool> = matching(&graph, &category_filter(&[0]))
            .unwrap()
            .ids()
            .filter_map(|id| row_of(&graph, id).map(|t| (row_number(t), true)))
            .collect();
        assert!(by_key.keys().all(|&r| r % 10 == 0));
        let ones = matching(&graph, &category_filter(&[1])).unwrap();
        let rows: Vec<u32> = ones
            .ids()
            .filter_map(|id| row_of(&graph, id))
            .map(row_number)
            .collect();
        assert!(
            rows.contains(&1011),
            "crash after {k}: the next insert's key"
        );
    }
    std::panic::set_hook(quiet);
}
