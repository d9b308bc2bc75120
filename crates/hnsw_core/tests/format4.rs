//! An index written in format 4 (whole vectors on a page) by the build of commit 716c253,
//! before vectors were packed (tests/fixtures/format4_l2_600d.txt: 60 rows of 600-d
//! float32 vectors of 2,400 bytes, three to a page, m = 4): this build reads it with its
//! own layout, searches it, inserts into it and vacuums it, and it stays format 4.

mod common;
#[path = "common/crash.rs"]
mod crash;

use hnsw_core::graph::{Scan, Visited};
use hnsw_core::index::{graph_problems, insert, read_meta, read_records};
use hnsw_core::page::meta::UNPACKED_VERSION;
use hnsw_core::page::node::FLAG_DELETED;
use hnsw_core::page::{
    get_u32, HeapTid, Layout, MemStore, NodeRecord, PageStore, PagedGraph, HEADER_SIZE, PAGE_SIZE,
};

const DIM: usize = 600;
const ROWS: usize = 60;

/// Row `i`'s vector, as the fixture's build made it.
fn vector(i: usize) -> Vec<f32> {
    (0..DIM)
        .map(|j| {
            if (j * 7 + i) % 97 == 0 {
                (i % 5 + 1) as f32
            } else if j == i * 9 % DIM {
                1.0 + (i / 10) as f32
            } else {
                0.0
            }
        })
        .collect()
}

fn tid(i: usize) -> HeapTid {
    HeapTid {
        block: (i / 10) as u32,
        offset: (i % 10 + 1) as u16,
    }
}

/// The fixture's pages: a `# pages N` line, then `block offset hex` runs of bytes, the
/// rest of every page zero.
fn fixture() -> MemStore {
    let text = include_str!("fixtures/format4_l2_600d.txt");
    let mut lines = text.lines();
    let pages: usize = lines
        .next()
        .unwrap()
        .strip_prefix("# pages ")
        .unwrap()
        .parse()
        .unwrap();
    let mut store = MemStore::new();
    for block in 0..pages as u32 {
        store.append(block, &[0u8; PAGE_SIZE]);
    }
    for line in lines {
        let mut fields = line.split(' ');
        let block: u32 = fields.next().unwrap().parse().unwrap();
        let at: usize = fields.next().unwrap().parse().unwrap();
        let hex = fields.next().unwrap();
        let page = store.page_mut(block);
        for (k, byte) in (0..hex.len()).step_by(2).enumerate() {
            page[at + k] = u8::from_str_radix(&hex[byte..byte + 2], 16).unwrap();
        }
    }
    store
}

fn version(store: &MemStore) -> u32 {
    store.with_page(0, |p| get_u32(p, HEADER_SIZE + 4))
}

/// The nearest row a scan for `query` returns when it runs until the graph is exhausted
/// (so every row it reaches counts; these sparse, evenly spaced vectors are hard for a
/// graph of m = 4, and the test is about reading the pages).
fn nearest(store: &MemStore, query: &[f32]) -> HeapTid {
    let meta = read_meta(store).unwrap();
    let graph = PagedGraph::new(store, meta);
    let mut scan = Scan::new(query.to_vec(), 10, meta.entry, Visited::sparse());
    let mut best = scan.next(&graph).unwrap().expect("a row");
    while let Some(n) = scan.next(&graph).unwrap() {
        if n.distance < best.distance {
            best = n;
        }
    }
    let (_, records) = read_records(store);
    records[&best.id].tid
}

fn no_problems(store: &MemStore, when: &str) {
    let (meta, records) = read_records(store);
    let problems = graph_problems(store, meta, &records);
    assert!(problems.is_empty(), "{when}: {problems:?}");
}

#[test]
fn a_format_4_index_reads_searches_takes_inserts_and_vacuums() {
    let mut store = fixture();
    let meta = read_meta(&store).unwrap();
    assert_eq!(version(&store), UNPACKED_VERSION);
    assert!(!meta.packed_vectors);
    let layout = Layout::of(&meta);
    assert!(!layout.packed && layout.vectors_per_page == 3, "{layout:?}");
    // Every vector where format 4 put it: whole, three to a page.
    let graph = PagedGraph::new(&store, meta);
    let mut read = Vec::new();
    for i in 0..ROWS {
        graph.read_vector(i as u32, &mut read);
        assert_eq!(read, vector(i), "row {i}");
    }
    no_problems(&store, "as written");
    for i in 0..ROWS {
        assert_eq!(nearest(&store, &vector(i)), tid(i), "row {i}");
    }

    // Inserts go where format 4 puts them, and the meta page stays version 4.
    let fresh = |i: usize| -> Vec<f32> { vector(i).iter().map(|x| x * 0.5 + 0.25).collect() };
    for i in ROWS..ROWS + 20 {
        insert(&store, &fresh(i), tid(i), 11);
    }
    assert_eq!(version(&store), UNPACKED_VERSION);
    no_problems(&store, "after inserts");
    for i in 0..ROWS + 20 {
        let query = if i < ROWS { vector(i) } else { fresh(i) };
        assert_eq!(nearest(&store, &query), tid(i), "row {i} after the inserts");
    }

    // A VACUUM of a quarter of the rows, then inserts into the freed slots.
    let dead: std::collections::HashSet<u32> = (0..ROWS as u32).filter(|i| i % 4 == 1).collect();
    for id in &dead {
        let (block, at) = layout.node_location(*id);
        let mut record = NodeRecord::read(store.page_mut(block), at, layout.m);
        record.flags |= FLAG_DELETED;
        record.write(store.page_mut(block), at, layout.m);
    }
    crash::vacuum(&store);
    no_problems(&store, "after VACUUM");
    for i in ROWS + 20..ROWS + 30 {
        insert(&store, &fresh(i), tid(i), 12);
    }
    assert_eq!(version(&store), UNPACKED_VERSION);
    no_problems(&store, "after reusing slots");
    for i in (0..ROWS + 30).filter(|i| !dead.contains(&(*i as u32))) {
        let query = if i < ROWS { vector(i) } else { fresh(i) };
        assert_eq!(nearest(&store, &query), tid(i), "row {i} after VACUUM");
    }
}
