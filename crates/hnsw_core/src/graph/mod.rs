//! The HNSW graph (Malkov & Yashunin): build, search, neighbour selection, the tree that
//! keeps every node reachable.
//!
//! Nodes are `u32` ids into a contiguous vector arena. Adjacency is stored in fixed-width
//! slots, exactly as on disk: layer 0 holds up to 2*m ids per node in slot `id`; each
//! upper layer L holds up to m ids per node present at L, in slots numbered densely in id
//! order. Each node has one `parking_lot` mutex guarding all its slots, so several threads
//! insert at once; a thread holds at most one node lock at a time (it copies a list and
//! releases it), so there is no lock order to get wrong. Nothing here touches Postgres.

mod build;
mod scan;
mod search;
mod select;
pub mod storage;
pub mod tree;

pub use build::{build, build_supervised, BuildInput};
pub use scan::{Resume, Scan};
pub use search::{descend, search, search_layer, GraphRead, IdHasher, Neighbour, Visited};
pub use select::select_neighbours;

use crate::distance::{Kernels, Metric};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use storage::Backing;
use tree::TreeLinks;

/// The highest layer a node may be on. With m = 16 a node reaches layer 8 with
/// probability 16^-8, so the cap almost never binds; it bounds the on-disk node record.
pub const MAX_LEVEL: usize = 8;

/// Most neighbours a node keeps on `layer` of a graph with parameter `m`: 2m on layer 0,
/// m above (the one rule the build, inserts, repairs, the page format and the checker
/// share).
pub fn max_degree(m: usize, layer: usize) -> usize {
    if layer == 0 {
        2 * m
    } else {
        m
    }
}

/// The id stored in a slot's unused places.
pub const NO_NODE: u32 = u32::MAX;

/// Graph parameters (the index's reloptions).
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Neighbours per node on upper layers; layer 0 keeps 2*m.
    pub m: usize,
    /// Beam width while inserting.
    pub ef_construction: usize,
    /// Seeds the level draw, so a build is reproducible whatever the thread count.
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            m: 16,
            ef_construction: 64,
            seed: 0x5eed,
        }
    }
}

/// The entry point: the node on the highest layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryPoint {
    pub node: u32,
    pub level: usize,
}

/// A slab of fixed-width neighbour slots: `[count, id, id, ...]` per slot. On layer 0 the
/// count word also holds the list's tree links (see `tree`): bits 16..24 the number
/// pinned, bit 24 whether the first is the parent.
pub(crate) struct Slots {
    words: Backing,
    width: usize,
}

impl Slots {
    fn slot(&self, index: usize) -> &[AtomicU32] {
        &self.words.atomics()[index * (self.width + 1)..(index + 1) * (self.width + 1)]
    }

    pub(crate) fn read(&self, index: usize, out: &mut Vec<u32>) {
        let slot = self.slot(index);
        let count = (slot[0].load(Ordering::Relaxed) & COUNT_BITS) as usize;
        out.clear();
        out.extend(slot[1..=count].iter().map(|w| w.load(Ordering::Relaxed)));
    }

    /// Writes the list, keeping its tree links as they are.
    pub(crate) fn write(&self, index: usize, ids: &[u32]) {
        self.write_with_tree(index, ids, self.tree(index));
    }

    pub(crate) fn write_with_tree(&self, index: usize, ids: &[u32], tree: TreeLinks) {
        debug_assert!(ids.len() <= self.width && tree.pinned <= ids.len());
        let slot = self.slot(index);
        for (w, &id) in slot[1..].iter().zip(ids) {
            w.store(id, Ordering::Relaxed);
        }
        let word = ids.len() as u32 | (tree.pinned as u32) << 16 | (tree.has_parent as u32) << 24;
        slot[0].store(word, Ordering::Relaxed);
    }

    pub(crate) fn tree(&self, index: usize) -> TreeLinks {
        let word = self.slot(index)[0].load(Ordering::Relaxed);
        TreeLinks {
            pinned: (word >> 16 & 0xff) as usize,
            has_parent: word >> 24 & 1 != 0,
        }
    }
}

const COUNT_BITS: u32 = 0xffff;

/// The vectors a graph is built over: `dim` floats each, or, with offsets, vector i at
/// floats offsets[i]..offsets[i + 1].
pub(crate) struct Arena {
    vectors: Backing,
    offsets: Option<Vec<u64>>,
    dim: usize,
}

impl Arena {
    pub(crate) fn new(vectors: Backing, offsets: Option<Vec<u64>>, dim: usize) -> Arena {
        let floats = vectors.as_f32().len() as u64;
        match &offsets {
            Some(o) => assert!(
                o.first() == Some(&0) && o.last() == Some(&floats) && o.is_sorted(),
                "offsets cover the arena"
            ),
            None => assert!(
                dim > 0 && floats % dim as u64 == 0,
                "arena is not whole vectors"
            ),
        }
        Arena {
            vectors,
            offsets,
            dim,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match &self.offsets {
            Some(o) => o.len() - 1,
            None => self.vectors.as_f32().len() / self.dim,
        }
    }

    pub(crate) fn vector(&self, id: u32) -> &[f32] {
        let id = id as usize;
        let (start, end) = match &self.offsets {
            Some(o) => (o[id] as usize, o[id + 1] as usize),
            None => (id * self.dim, (id + 1) * self.dim),
        };
        &self.vectors.as_f32()[start..end]
    }
}

pub struct Graph {
    pub(crate) arena: Arena,
    pub(crate) metric: Metric,
    pub(crate) kernels: &'static Kernels,
    pub(crate) params: Params,
    pub(crate) levels: Vec<u8>,
    /// For each node, where its upper-layer slot numbers start in `upper_slot_of`.
    pub(crate) upper_first: Vec<u32>,
    /// Slot numbers at layers 1..=level of every node with level >= 1, in id order.
    pub(crate) upper_slot_of: Vec<u32>,
    pub(crate) layer0: Slots,
    /// upper[L - 1] holds layer L's slots.
    pub(crate) upper: Vec<Slots>,
    pub(crate) locks: Vec<Mutex<()>>,
    /// For each node, the next exact duplicate in its chain (NO_NODE at the end). A node
    /// that is some earlier node's duplicate is an alias: it gets no links.
    pub(crate) next_duplicate: Vec<u32>,
    pub(crate) is_alias: Vec<bool>,
    pub(crate) entry: Mutex<Option<EntryPoint>>,
    /// The tree's root: the first node linked (NO_NODE before it).
    pub(crate) root: AtomicU32,
}

impl Graph {
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Floats per vector; for vectors of varying length, their nominal dimensions.
    pub fn dim(&self) -> usize {
        self.arena.dim
    }

    pub fn params(&self) -> Params {
        self.params
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Whether the big arrays live in a mapped file rather than on the heap.
    pub fn is_mapped(&self) -> bool {
        self.arena.vectors.is_mapped() || self.layer0.words.is_mapped()
    }

    pub fn entry_point(&self) -> Option<EntryPoint> {
        *self.entry.lock()
    }

    /// Whether node `id` is an exact duplicate of an earlier node (and so not linked).
    pub fn is_alias(&self, id: u32) -> bool {
        self.is_alias[id as usize]
    }

    /// The next exact duplicate after `id` in its chain, if any.
    pub fn next_duplicate(&self, id: u32) -> Option<u32> {
        Some(self.next_duplicate[id as usize]).filter(|&n| n != NO_NODE)
    }

    /// The highest layer node `id` is on.
    pub fn level(&self, id: u32) -> usize {
        self.levels[id as usize] as usize
    }

    /// Node `id`'s slot number on upper layer `layer` (>= 1, <= its level).
    pub fn upper_slot(&self, id: u32, layer: usize) -> u32 {
        debug_assert!(layer >= 1 && layer <= self.level(id));
        self.upper_slot_of[self.upper_first[id as usize] as usize + layer - 1]
    }

    /// How many nodes are on upper layer `layer`.
    pub fn upper_slot_count(&self, layer: usize) -> usize {
        self.upper[layer - 1].words.atomics().len() / (self.params.m + 1)
    }

    /// Whether any node is on upper layer `layer`.
    pub fn has_layer(&self, layer: usize) -> bool {
        layer >= 1 && layer <= self.upper.len()
    }

    /// Upper layer `layer`'s slot `slot` (for writing pages once the build is done).
    pub fn read_upper_slot(&self, layer: usize, slot: u32, out: &mut Vec<u32>) {
        self.upper[layer - 1].read(slot as usize, out)
    }

    /// A copy of node `id`'s neighbours on `layer`.
    pub fn neighbours(&self, id: u32, layer: usize) -> Vec<u32> {
        let mut out = Vec::new();
        self.read_links(id, layer, &mut out);
        out
    }

    pub(crate) fn read_links(&self, id: u32, layer: usize, out: &mut Vec<u32>) {
        let _guard = self.locks[id as usize].lock();
        self.read_links_locked(id, layer, out);
    }

    /// Reads links while the caller holds node `id`'s lock.
    pub(crate) fn read_links_locked(&self, id: u32, layer: usize, out: &mut Vec<u32>) {
        if layer == 0 {
            self.layer0.read(id as usize, out)
        } else {
            self.upper[layer - 1].read(self.upper_slot(id, layer) as usize, out)
        }
    }

    /// Writes links while the caller holds node `id`'s lock.
    pub(crate) fn write_links_locked(&self, id: u32, layer: usize, ids: &[u32]) {
        if layer == 0 {
            self.layer0.write(id as usize, ids)
        } else {
            self.upper[layer - 1].write(self.upper_slot(id, layer) as usize, ids)
        }
    }

    /// Node `id`'s layer-0 tree links.
    pub fn tree_links(&self, id: u32) -> TreeLinks {
        let _guard = self.locks[id as usize].lock();
        self.layer0.tree(id as usize)
    }

    /// Most neighbours a node keeps on `layer`.
    pub fn max_degree(&self, layer: usize) -> usize {
        max_degree(self.params.m, layer)
    }

    pub fn vector(&self, id: u32) -> &[f32] {
        self.arena.vector(id)
    }

    pub(crate) fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        self.metric.distance(self.kernels, a, b)
    }
}

impl GraphRead for Graph {
    fn distance_to(&self, query: &[f32], id: u32) -> f32 {
        self.distance(query, self.vector(id))
    }

    fn neighbours_into(&self, id: u32, layer: usize, out: &mut Vec<u32>) {
        self.read_links(id, layer, out)
    }
}

/// The level of node `id`: -ln(u) / ln(m), u uniform from a hash of (seed, id), capped.
pub fn draw_level(seed: u64, id: u32, m: usize) -> usize {
    let u = (splitmix64(seed ^ (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) >> 11) as f64
        / (1u64 << 53) as f64;
    let u = u.max(f64::MIN_POSITIVE);
    ((-u.ln()) / (m as f64).ln()).floor().min(MAX_LEVEL as f64) as usize
}

/// A small, well-mixed hash (SplitMix64's finaliser).
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
