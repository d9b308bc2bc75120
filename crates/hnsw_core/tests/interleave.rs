//! Scripted interleavings at unit granularity: writers (two inserters; an inserter and
//! VACUUM) run on threads over one in-memory index, and a seeded schedule decides whose
//! next unit commits, one unit at a time, as concurrent backends' WAL records would
//! interleave. After every unit, every row whose insert has returned (and every row live
//! before) must be reachable. A scan thread runs meanwhile, reading pages between units
//! as it likes: each exhausted scan must return every row committed before it started.

mod common;
#[path = "common/crash.rs"]
mod crash;

use crash::{built, check_reachable, delete_rows, random, records, DIM};
use hnsw_core::graph::{splitmix64, Scan, Visited, NO_NODE};
use hnsw_core::index::{free_deleted_slots, insert, read_meta, repair};
use hnsw_core::page::node::FLAG_DELETED;
use hnsw_core::page::{HeapTid, MemStore, PageStore, PageWrite, PagedGraph};
use parking_lot::{Condvar, Mutex, ReentrantMutex};
use std::collections::HashSet;

/// Whose unit is next, and what has committed.
struct Turns {
    rng: u64,
    /// The writer whose next unit may commit.
    holder: usize,
    done: Vec<bool>,
    /// Rows whose insert has returned, or that were live from the start.
    committed: HashSet<HeapTid>,
    units: usize,
    /// A writer panicked (a check failed): the others stop waiting for turns.
    failed: bool,
}

struct Shared {
    store: ReentrantMutex<MemStore>,
    turns: Mutex<Turns>,
    changed: Condvar,
}

impl Shared {
    fn new(store: MemStore, writers: usize, seed: u64, live: HashSet<HeapTid>) -> Self {
        let mut turns = Turns {
            rng: seed,
            holder: 0,
            done: vec![false; writers],
            committed: live,
            units: 0,
            failed: false,
        };
        pass_turn(&mut turns);
        Shared {
            store: ReentrantMutex::new(store),
            turns: Mutex::new(turns),
            changed: Condvar::new(),
        }
    }

    /// Every committed row reachable, in the store as it is now.
    fn check(&self, turns: &Turns, when: &str) {
        let store = self.store.lock();
        check_reachable(&store, when, |t| turns.committed.contains(&t));
    }

    fn finish(&self, me: usize, committed: &[HeapTid]) {
        let mut turns = self.turns.lock();
        turns.done[me] = true;
        turns.committed.extend(committed);
        pass_turn(&mut turns);
        self.changed.notify_all();
    }
}

/// Gives the turn to a random writer that is not done.
fn pass_turn(turns: &mut Turns) {
    let open: Vec<usize> = (0..turns.done.len()).filter(|&w| !turns.done[w]).collect();
    if open.is_empty() {
        return;
    }
    turns.rng = splitmix64(turns.rng);
    turns.holder = open[(turns.rng % open.len() as u64) as usize];
}

/// One writer's (or the scan's) view of the shared store. A writer's units wait for its
/// turn; reads never wait.
struct Handle<'a> {
    shared: &'a Shared,
    writer: Option<usize>,
}

impl PageStore for Handle<'_> {
    fn with_page<R>(&self, block: u32, f: impl FnOnce(&[u8]) -> R) -> R {
        self.shared.store.lock().with_page(block, f)
    }

    fn with_pages<R>(&self, blocks: &[u32], f: impl FnOnce(&[&[u8]]) -> R) -> R {
        self.shared.store.lock().with_pages(blocks, f)
    }
}

impl PageWrite for Handle<'_> {
    fn modify<R>(
        &self,
        blocks: &[u32],
        f: impl FnOnce(&mut [&mut [u8]]) -> Option<R>,
    ) -> Option<R> {
        let me = self.writer.expect("only writers change pages");
        let mut turns = self.shared.turns.lock();
        while turns.holder != me && !turns.failed {
            self.shared.changed.wait(&mut turns);
        }
        assert!(!turns.failed, "writer {me} stops: another writer failed");
        let result = self.shared.store.lock().modify(blocks, f);
        turns.units += 1;
        let when = format!("after unit {} (writer {me})", turns.units);
        self.shared.check(&turns, &when);
        pass_turn(&mut turns);
        self.shared.changed.notify_all();
        result
    }

    fn blocks(&self) -> u32 {
        self.shared.store.lock().blocks()
    }

    fn ensure_blocks(&self, blocks: u32) {
        self.shared.store.lock().ensure_blocks(blocks)
    }
}

/// Runs writer `me`'s `work`; if it panics, the other writers are released (they fail
/// too) instead of waiting for its turn forever.
fn run_writer(shared: &Shared, me: usize, work: impl FnOnce(&Handle) -> Vec<HeapTid>) {
    struct OnPanic<'a>(&'a Shared);
    impl Drop for OnPanic<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.turns.lock().failed = true;
                self.0.changed.notify_all();
            }
        }
    }
    let _guard = OnPanic(shared);
    let handle = Handle {
        shared,
        writer: Some(me),
    };
    let done = work(&handle);
    shared.finish(me, &done);
}

/// Inserts `rows` (row i at tid(base + i)) through `handle`; returns their tids.
fn insert_rows(handle: &Handle, vectors: &[f32], base: u32) -> Vec<HeapTid> {
    let mut done = Vec::new();
    for (i, v) in vectors.chunks(DIM).enumerate() {
        let tid = crash::tid(base + i as u32);
        insert(handle, v, tid, 3);
        done.push(tid);
        // Committed once its insert returns (the transaction commits after aminsert).
        handle.shared.turns.lock().committed.insert(tid);
    }
    done
}

/// Scans to exhaustion, `rounds` times; each must return every row committed before it
/// started.
fn scan_rounds(shared: &Shared, rounds: usize, query: &[f32]) {
    let handle = Handle {
        shared,
        writer: None,
    };
    for round in 0..rounds {
        let before = shared.turns.lock().committed.clone();
        let meta = read_meta(&handle).unwrap();
        let graph = PagedGraph::new(&handle, meta);
        let mut scan = Scan::new(query.to_vec(), 4, meta.entry, Visited::sparse());
        let mut rows = HashSet::new();
        while let Some(n) = scan.next(&graph).unwrap() {
            let mut next = n.id;
            let mut steps = 0;
            while next != NO_NODE && steps < 10_000 {
                let r = graph.node(next);
                if r.is_occupied() && r.flags & FLAG_DELETED == 0 {
                    rows.insert(r.tid);
                }
                next = r.next_duplicate;
                steps += 1;
            }
        }
        let missing: Vec<&HeapTid> = before.iter().filter(|t| !rows.contains(t)).collect();
        assert!(missing.is_empty(), "scan {round} misses {missing:?}");
    }
}

#[test]
fn two_inserters_and_a_scan() {
    for seed in 0..12u64 {
        let initial = random(200, 40 + seed);
        let store = built(initial);
        let live: HashSet<HeapTid> = (0..200).map(crash::tid).collect();
        let shared = Shared::new(store, 2, seed, live);
        // Writer 1 also inserts exact copies of writer 0's rows and of built rows.
        let first = random(25, 900 + seed);
        let mut second = random(25, 1900 + seed);
        second[..5 * DIM].copy_from_slice(&first[..5 * DIM]);
        second[5 * DIM..6 * DIM].copy_from_slice(&random(200, 40 + seed)[..DIM]);
        std::thread::scope(|s| {
            let shared = &shared;
            let (first, second) = (&first, &second);
            s.spawn(move || run_writer(shared, 0, |h| insert_rows(h, first, 1000)));
            s.spawn(move || run_writer(shared, 1, |h| insert_rows(h, second, 2000)));
            s.spawn(move || scan_rounds(shared, 3, &[0.1; DIM]));
        });
        let turns = shared.turns.lock();
        assert_eq!(turns.committed.len(), 250);
        shared.check(&turns, &format!("seed {seed}: at the end"));
        assert!(turns.units > 100, "{} units interleaved", turns.units);
    }
}

#[test]
fn an_insert_and_vacuum_and_a_scan() {
    for seed in 0..12u64 {
        let initial = random(200, 70 + seed);
        let mut store = built(initial);
        // Every fourth row deleted, as ambulkdelete leaves them for the cleanup.
        let dead = |id: u32| id % 4 == 1;
        delete_rows(&mut store, |id, _| dead(id));
        let live: HashSet<HeapTid> = records(&store)
            .iter()
            .filter(|(&id, _)| !dead(id))
            .map(|(_, r)| r.tid)
            .collect();
        let shared = Shared::new(store, 2, seed, live);
        let rows = random(30, 3000 + seed);
        std::thread::scope(|s| {
            let shared = &shared;
            let rows = &rows;
            s.spawn(move || run_writer(shared, 0, |h| insert_rows(h, rows, 1000)));
            s.spawn(move || {
                run_writer(shared, 1, |h| {
                    let repaired = repair(h).unwrap();
                    let meta = read_meta(h).unwrap();
                    free_deleted_slots(h, meta, &repaired.deleted).unwrap();
                    Vec::new()
                })
            });
            s.spawn(move || scan_rounds(shared, 3, &[-0.1; DIM]));
        });
        let turns = shared.turns.lock();
        shared.check(&turns, &format!("seed {seed}: at the end"));
        assert!(turns.units > 100, "{} units interleaved", turns.units);
    }
}
