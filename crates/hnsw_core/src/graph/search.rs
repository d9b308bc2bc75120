//! Greedy descent and the layer beam search, over any graph that can be read: the
//! in-memory build graph or an index's pages.

use super::{EntryPoint, Graph};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet, TryReserveError};
use std::hash::{BuildHasherDefault, Hasher};

/// What a search needs from a graph.
pub trait GraphRead {
    /// Distance from `query` to node `id`'s vector.
    fn distance_to(&self, query: &[f32], id: u32) -> f32;
    /// Node `id`'s neighbours on `layer`, replacing `out`'s contents.
    fn neighbours_into(&self, id: u32, layer: usize, out: &mut Vec<u32>);
    /// Distances from `query` to each of `ids`, replacing `out`'s contents. Graphs on
    /// pages override this to fetch all the vectors' memory before computing any.
    fn distances_to(&self, query: &[f32], ids: &[u32], out: &mut Vec<f32>) {
        out.clear();
        out.extend(ids.iter().map(|&id| self.distance_to(query, id)));
    }
    /// Whether the distances above are estimates (an index's codes): a scan then
    /// re-ranks what it returns with `exact_distances_to`.
    fn estimates(&self) -> bool {
        false
    }
    /// Makes ready, before a search from `query`, what its distances need that takes
    /// memory (a lookup table), so that running out of it is an error, never an abort.
    fn prepare(&self, _query: &[f32]) -> Result<(), TryReserveError> {
        Ok(())
    }
    /// How many of the nearest nodes a beam of `ef` evaluated but dropped a scan re-ranks
    /// and returns with the beam (coarse estimates miss more of the nearest).
    fn reranked_beyond_beam(&self, _ef: usize) -> usize {
        0
    }
    /// The exact distances from `query` to each of `ids`, replacing `out`'s contents.
    fn exact_distances_to(&self, query: &[f32], ids: &[u32], out: &mut Vec<f32>) {
        self.distances_to(query, ids, out)
    }
}

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

/// Marks visited nodes. Dense (an epoch per node, reset in O(1)) for builds that search
/// many times over a known node count; sparse (a hash set) for one index scan.
pub enum Visited {
    Dense { marks: Vec<u32>, epoch: u32 },
    Sparse(HashSet<u32, BuildHasherDefault<IdHasher>>),
}

/// Node ids and block numbers are dense small integers: one multiply spreads them well
/// enough, far cheaper than the default SipHash.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Visited {
    pub fn dense(n: usize) -> Self {
        Visited::Dense {
            marks: vec![0; n],
            epoch: 1,
        }
    }

    /// `dense(n)`, or an `OutOfMemory` error instead of an abort.
    pub fn try_dense(n: usize) -> std::io::Result<Self> {
        Ok(Visited::Dense {
            marks: super::storage::try_filled(n, 0, "an hnsw visited set")?,
            epoch: 1,
        })
    }

    /// Makes room for `more` marks without allocating in `insert` (a dense set never
    /// needs to). Fails instead of aborting when memory runs out.
    pub fn try_reserve(&mut self, more: usize) -> Result<(), std::collections::TryReserveError> {
        match self {
            Visited::Dense { .. } => Ok(()),
            Visited::Sparse(set) => set.try_reserve(more),
        }
    }

    /// Bytes the set holds (its capacity, not only its marks).
    pub fn memory_bytes(&self) -> usize {
        match self {
            Visited::Dense { marks, .. } => std::mem::size_of_val(marks.as_slice()),
            // A hash set of u32 keeps a key and a control byte per bucket.
            Visited::Sparse(set) => set.capacity() * (std::mem::size_of::<u32>() + 1),
        }
    }

    pub fn sparse() -> Self {
        Visited::Sparse(HashSet::with_capacity_and_hasher(
            4096,
            BuildHasherDefault::default(),
        ))
    }

    pub fn reset(&mut self) {
        match self {
            Visited::Dense { marks, epoch } => {
                *epoch = epoch.wrapping_add(1);
                if *epoch == 0 {
                    marks.fill(0);
                    *epoch = 1;
                }
            }
            Visited::Sparse(set) => set.clear(),
        }
    }

    /// Marks `id`; true if it was not marked before.
    pub fn insert(&mut self, id: u32) -> bool {
        match self {
            Visited::Dense { marks, epoch } => {
                let slot = &mut marks[id as usize];
                let fresh = *slot != *epoch;
                *slot = *epoch;
                fresh
            }
            Visited::Sparse(set) => set.insert(id),
        }
    }
}

/// Walks `layer` greedily from `start` to a local minimum.
pub fn greedy_closest<G: GraphRead>(
    g: &G,
    query: &[f32],
    start: Neighbour,
    layer: usize,
) -> Neighbour {
    let mut best = start;
    let (mut links, mut distances) = (Vec::new(), Vec::new());
    loop {
        let mut improved = false;
        g.neighbours_into(best.id, layer, &mut links);
        g.distances_to(query, &links, &mut distances);
        for (&n, &d) in links.iter().zip(&distances) {
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

/// Greedy descent from the entry point down to (not into) layer `stop_above`.
pub fn descend<G: GraphRead>(
    g: &G,
    query: &[f32],
    entry: EntryPoint,
    stop_above: usize,
) -> Neighbour {
    let mut closest = Neighbour {
        distance: g.distance_to(query, entry.node),
        id: entry.node,
    };
    for layer in (stop_above + 1..=entry.level).rev() {
        closest = greedy_closest(g, query, closest, layer);
    }
    closest
}

/// Beam search on one layer: the `ef` closest nodes found, nearest first. `visited` is
/// reset first.
pub fn search_layer<G: GraphRead>(
    g: &G,
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
    let (mut links, mut distances) = (Vec::new(), Vec::new());
    while let Some(Reverse(current)) = candidates.pop() {
        let worst = results.peek().map_or(f32::INFINITY, |w| w.distance);
        if current.distance > worst && results.len() >= ef {
            break;
        }
        g.neighbours_into(current.id, layer, &mut links);
        links.retain(|&n| visited.insert(n));
        g.distances_to(query, &links, &mut distances);
        for (&n, &d) in links.iter().zip(&distances) {
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

/// The `k` nearest nodes to `query`: greedy descent, then a beam of `max(ef, k)` on layer 0.
pub fn search<G: GraphRead>(
    g: &G,
    query: &[f32],
    entry: EntryPoint,
    k: usize,
    ef: usize,
    visited: &mut Visited,
) -> Vec<Neighbour> {
    let closest = descend(g, query, entry, 0);
    let mut found = search_layer(g, query, &[closest], ef.max(k), 0, visited);
    found.truncate(k);
    found
}

impl Graph {
    /// The `k` nearest nodes to `query` with beam width `ef` (at least k) on layer 0.
    pub fn search(&self, query: &[f32], k: usize, ef: usize) -> Vec<Neighbour> {
        let Some(entry) = self.entry_point() else {
            return Vec::new();
        };
        search(self, query, entry, k, ef, &mut Visited::dense(self.len()))
    }
}
