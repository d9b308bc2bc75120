//! The HNSW graph in memory (Malkov & Yashunin): build, search, neighbour selection.
//!
//! Nodes are `u32` ids into a contiguous vector arena. Each node's neighbour list per layer
//! sits behind its own `parking_lot` lock, so several threads insert at once; a thread
//! holds at most one node lock at a time (it copies a list, then releases it), so there is
//! no lock ordering to get wrong. Nothing here touches Postgres.

mod build;
mod repair;
mod search;
mod select;

pub use build::build;
pub use search::Neighbour;

use crate::distance::{Kernels, Metric};
use parking_lot::{Mutex, RwLock};

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

pub(crate) struct Node {
    /// links[layer] for layer in 0..=level.
    pub(crate) links: Vec<RwLock<Vec<u32>>>,
}

/// The entry point: the node on the highest layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryPoint {
    pub node: u32,
    pub level: usize,
}

pub struct Graph<'a> {
    pub(crate) vectors: &'a [f32],
    pub(crate) dim: usize,
    pub(crate) metric: Metric,
    pub(crate) kernels: &'static Kernels,
    pub(crate) params: Params,
    pub(crate) nodes: Vec<Node>,
    pub(crate) entry: Mutex<Option<EntryPoint>>,
}

impl<'a> Graph<'a> {
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn entry_point(&self) -> Option<EntryPoint> {
        *self.entry.lock()
    }

    /// The highest layer node `id` is on.
    pub fn level(&self, id: u32) -> usize {
        self.nodes[id as usize].links.len() - 1
    }

    /// A copy of node `id`'s neighbours on `layer`.
    pub fn neighbours(&self, id: u32, layer: usize) -> Vec<u32> {
        self.nodes[id as usize].links[layer].read().clone()
    }

    /// Most neighbours a node keeps on `layer`.
    pub fn max_degree(&self, layer: usize) -> usize {
        if layer == 0 {
            2 * self.params.m
        } else {
            self.params.m
        }
    }

    pub(crate) fn vector(&self, id: u32) -> &'a [f32] {
        let start = id as usize * self.dim;
        &self.vectors[start..start + self.dim]
    }

    pub(crate) fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        self.metric.distance(self.kernels, a, b)
    }
}

/// The level of node `id`: -ln(u) / ln(m), u uniform from a hash of (seed, id).
pub(crate) fn draw_level(seed: u64, id: u32, m: usize) -> usize {
    let u = (splitmix64(seed ^ (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) >> 11) as f64
        / (1u64 << 53) as f64;
    let u = u.max(f64::MIN_POSITIVE);
    ((-u.ln()) / (m as f64).ln()).floor().min(30.0) as usize
}

/// A small, well-mixed hash (SplitMix64's finaliser).
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
