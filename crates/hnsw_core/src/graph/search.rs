//! Greedy descent and the layer beam search.

use super::Graph;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A node and its distance to the query; orders by distance, then id.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbour {
    pub distance: f32,
    pub id: u32,
}

impl Eq for Neighbour {}

impl Ord for Neighbour {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Neighbour {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Marks visited nodes; reset in O(1) by bumping the epoch.
pub(crate) struct Visited {
    marks: Vec<u32>,
    epoch: u32,
}

impl Visited {
    pub(crate) fn new(n: usize) -> Self {
        Visited {
            marks: vec![0; n],
            epoch: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `id`; true if it was not marked before.
    pub(crate) fn insert(&mut self, id: u32) -> bool {
        let slot = &mut self.marks[id as usize];
        let fresh = *slot != self.epoch;
        *slot = self.epoch;
        fresh
    }
}

impl<'a> Graph<'a> {
    /// Walks `layer` greedily from `start` to a local minimum.
    pub(crate) fn greedy_closest(
        &self,
        query: &[f32],
        start: Neighbour,
        layer: usize,
    ) -> Neighbour {
        let mut best = start;
        loop {
            let mut improved = false;
            for n in self.neighbours(best.id, layer) {
                let d = self.distance(query, self.vector(n));
                if d < best.distance {
                    best = Neighbour { distance: d, id: n };
                    improved = true;
                }
            }
            if !improved {
                return best;
            }
        }
    }

    /// Beam search on one layer: the `ef` closest nodes found, nearest first.
    pub(crate) fn search_layer(
        &self,
        query: &[f32],
        entry: &[Neighbour],
        ef: usize,
        layer: usize,
        visited: &mut Visited,
    ) -> Vec<Neighbour> {
        visited.reset();
        let mut candidates: BinaryHeap<Reverse<Neighbour>> = BinaryHeap::new();
        let mut results: BinaryHeap<Neighbour> = BinaryHeap::new();
        for &e in entry {
            if visited.insert(e.id) {
                candidates.push(Reverse(e));
                results.push(e);
            }
        }
        while results.len() > ef {
            results.pop();
        }
        while let Some(Reverse(current)) = candidates.pop() {
            let worst = results.peek().map_or(f32::INFINITY, |w| w.distance);
            if current.distance > worst && results.len() >= ef {
                break;
            }
            for n in self.neighbours(current.id, layer) {
                if !visited.insert(n) {
                    continue;
                }
                let d = self.distance(query, self.vector(n));
                let worst = results.peek().map_or(f32::INFINITY, |w| w.distance);
                if results.len() < ef || d < worst {
                    let found = Neighbour { distance: d, id: n };
                    candidates.push(Reverse(found));
                    results.push(found);
                    if results.len() > ef {
                        results.pop();
                    }
                }
            }
        }
        results.into_sorted_vec()
    }

    /// The `k` nearest nodes to `query` with beam width `ef` (at least k) on layer 0.
    pub fn search(&self, query: &[f32], k: usize, ef: usize) -> Vec<Neighbour> {
        let Some(entry) = self.entry_point() else {
            return Vec::new();
        };
        let mut visited = Visited::new(self.len());
        self.search_with(query, k, ef, entry, &mut visited)
    }

    pub(crate) fn search_with(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        entry: super::EntryPoint,
        visited: &mut Visited,
    ) -> Vec<Neighbour> {
        let start = Neighbour {
            distance: self.distance(query, self.vector(entry.node)),
            id: entry.node,
        };
        let mut closest = start;
        for layer in (1..=entry.level).rev() {
            closest = self.greedy_closest(query, closest, layer);
        }
        let mut found = self.search_layer(query, &[closest], ef.max(k), 0, visited);
        found.truncate(k);
        found
    }
}
