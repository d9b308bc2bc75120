//! Neighbour selection: the heuristic of the HNSW paper (Algorithm 4, without extending
//! the candidates or keeping pruned ones), which keeps a candidate only if it is no farther
//! from the base node than from every neighbour already kept. It spreads links across
//! directions instead of piling them into one cluster.

use super::{Graph, Neighbour};

impl<'a> Graph<'a> {
    /// Picks at most `max` of `candidates` (sorted nearest first) as neighbours.
    pub(crate) fn select_neighbours(&self, candidates: &[Neighbour], max: usize) -> Vec<u32> {
        let mut kept: Vec<u32> = Vec::with_capacity(max);
        for c in candidates {
            if kept.len() >= max {
                break;
            }
            let v = self.vector(c.id);
            let diverse = kept
                .iter()
                .all(|&k| self.distance(v, self.vector(k)) > c.distance);
            if diverse {
                kept.push(c.id);
            }
        }
        kept
    }
}
