//! Building a graph over a vector arena, with one or more threads.

use super::search::Visited;
use super::{draw_level, EntryPoint, Graph, Neighbour, Node, Params};
use crate::distance::{kernels, Metric};
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Builds the graph of `vectors` (`dim` floats each) with `threads` worker threads.
/// `stop` is polled between inserts: when it turns true the build returns early with the
/// nodes inserted so far (the caller, seeing the flag, discards the graph).
/// `progress` counts inserted nodes for the caller to report. Finally, nodes that pruning
/// left unreachable are linked back in (see `repair`).
pub fn build<'a>(
    vectors: &'a [f32],
    dim: usize,
    metric: Metric,
    params: Params,
    threads: usize,
    stop: &AtomicBool,
    progress: &AtomicUsize,
) -> Graph<'a> {
    assert!(
        dim > 0 && vectors.len() % dim == 0,
        "arena is not a whole number of vectors"
    );
    assert!(params.m >= 2, "m must be at least 2");
    let n = vectors.len() / dim;
    let nodes = (0..n as u32)
        .map(|id| Node {
            links: (0..=draw_level(params.seed, id, params.m))
                .map(|_| RwLock::new(Vec::new()))
                .collect(),
        })
        .collect();
    let graph = Graph {
        vectors,
        dim,
        metric,
        kernels: kernels(),
        params,
        nodes,
        entry: Mutex::new(None),
    };
    let next = AtomicUsize::new(0);
    let work = || {
        let mut visited = Visited::new(n);
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let id = next.fetch_add(1, Ordering::Relaxed);
            if id >= n {
                return;
            }
            graph.insert(id as u32, &mut visited);
            progress.fetch_add(1, Ordering::Relaxed);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads.max(1) {
            scope.spawn(work);
        }
        work();
    });
    if !stop.load(Ordering::Relaxed) {
        graph.connect_orphans();
    }
    graph
}

impl<'a> Graph<'a> {
    fn insert(&self, id: u32, visited: &mut Visited) {
        let level = self.level(id);
        let query = self.vector(id);
        // The first node becomes the entry point; later ones start from it.
        let entry = {
            let mut entry = self.entry.lock();
            match *entry {
                None => {
                    *entry = Some(EntryPoint { node: id, level });
                    return;
                }
                Some(e) => e,
            }
        };
        let mut closest = Neighbour {
            distance: self.distance(query, self.vector(entry.node)),
            id: entry.node,
        };
        for layer in (level + 1..=entry.level).rev() {
            closest = self.greedy_closest(query, closest, layer);
        }
        let mut entries = vec![closest];
        for layer in (0..=level.min(entry.level)).rev() {
            let mut found =
                self.search_layer(query, &entries, self.params.ef_construction, layer, visited);
            // Another thread may already have linked to this node on this layer (reaching
            // it from a layer above), so the search can find the node itself.
            found.retain(|n| n.id != id);
            let max = self.max_degree(layer);
            let chosen = self.select_neighbours(&found, max);
            *self.nodes[id as usize].links[layer].write() = chosen.clone();
            for &other in &chosen {
                self.link_back(other, id, layer, max);
            }
            if !found.is_empty() {
                entries = found;
            }
        }
        if level > entry.level {
            let mut current = self.entry.lock();
            if current.is_none_or(|e| level > e.level) {
                *current = Some(EntryPoint { node: id, level });
            }
        }
    }

    /// Adds `id` to `other`'s list on `layer`, re-selecting when the list is full.
    fn link_back(&self, other: u32, id: u32, layer: usize, max: usize) {
        let mut links = self.nodes[other as usize].links[layer].write();
        if links.contains(&id) {
            return;
        }
        if links.len() < max {
            links.push(id);
            return;
        }
        let base = self.vector(other);
        let mut candidates: Vec<Neighbour> = links
            .iter()
            .chain(std::iter::once(&id))
            .map(|&n| Neighbour {
                distance: self.distance(base, self.vector(n)),
                id: n,
            })
            .collect();
        candidates.sort();
        *links = self.select_neighbours(&candidates, max);
    }
}
