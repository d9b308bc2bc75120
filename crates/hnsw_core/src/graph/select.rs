//! Neighbour selection: the heuristic of the HNSW paper (Algorithm 4, without extending
//! the candidates or keeping pruned ones), which keeps a candidate only if it is no farther
//! from the base node than from every neighbour already kept. It spreads links across
//! directions instead of piling them into one cluster.

use super::{Graph, Neighbour};

impl Graph {
    /// Picks at most `max` of `candidates` (sorted nearest first) as neighbours.
    pub(crate) fn select_neighbours(&self, candidates: &[Neighbour], max: usize) -> Vec<u32> {
        select_neighbours(candidates, max, |a, b| {
            self.distance(self.vector(a), self.vector(b))
        })
    }
}

/// The heuristic over any distance between nodes (also used by index inserts on pages).
pub fn select_neighbours(
    candidates: &[Neighbour],
    max: usize,
    distance: impl Fn(u32, u32) -> f32,
) -> Vec<u32> {
    let mut kept: Vec<u32> = Vec::with_capacity(max);
    for c in candidates {
        if kept.len() >= max {
            break;
        }
        // Ties count as diverse, so exact duplicates can still link to each other.
        if kept.iter().all(|&k| distance(c.id, k) >= c.distance) {
            kept.push(c.id);
        }
    }
    kept
}
