//! Reconnecting nodes that neighbour pruning left without any path from the entry point.
//!
//! HNSW gives no reachability guarantee: when every node linking to `u` prunes `u` away,
//! `u` can no longer be found, and for an index that means a row a scan never returns.
//! After a build, each such orphan gets an in-link from the nearest node that is reachable.
//! A full host gives up its farthest link whose target has another in-link, so the repair
//! never orphans anything else; one pass leaves every node reachable.

use super::search::{search, Visited};
use super::storage::try_filled;
use super::{Graph, Neighbour};
use std::io;

impl Graph {
    /// Nodes not reachable from the entry point on layer 0.
    pub fn unreachable(&self) -> Vec<u32> {
        let Some(entry) = self.entry_point() else {
            return Vec::new();
        };
        let mut seen = vec![false; self.len()];
        let mut stack = Vec::with_capacity(self.len());
        self.mark_reachable(entry.node, &mut seen, &mut stack);
        (0..self.len() as u32)
            .filter(|&id| !seen[id as usize])
            .collect()
    }

    /// Marks what `from` leads to on layer 0. `stack` is scratch space with room for
    /// every node (each is pushed at most once), so this never allocates.
    fn mark_reachable(&self, from: u32, seen: &mut [bool], stack: &mut Vec<u32>) {
        if seen[from as usize] {
            return;
        }
        seen[from as usize] = true;
        stack.clear();
        stack.push(from);
        let mut links = Vec::with_capacity(self.max_degree(0));
        while let Some(id) = stack.pop() {
            self.read_links(id, 0, &mut links);
            for &n in &links {
                if !seen[n as usize] {
                    seen[n as usize] = true;
                    stack.push(n);
                }
            }
        }
    }

    /// Room for a walk over every node (see `mark_reachable`).
    fn walk_stack(&self) -> io::Result<Vec<u32>> {
        let mut stack = Vec::new();
        stack.try_reserve_exact(self.len()).map_err(|e| {
            super::storage::out_of_memory("an hnsw reachability walk", self.len() * 4, e)
        })?;
        Ok(stack)
    }

    /// Links every unreachable node back into layer 0. Returns how many links were added
    /// (an error only when its bookkeeping arrays cannot be allocated).
    pub fn connect_orphans(&self) -> io::Result<usize> {
        let Some(entry) = self.entry_point() else {
            return Ok(0);
        };
        let mut added = 0;
        let mut visited = Visited::try_dense(self.len())?;
        // In-degrees on layer 0: a host may only give up a link whose target keeps another
        // in-link, so repairing one orphan never makes another.
        let mut in_degree = try_filled(self.len(), 0u32, "an hnsw build's in-degrees")?;
        let mut links = Vec::new();
        for id in 0..self.len() as u32 {
            self.read_links(id, 0, &mut links);
            for &n in &links {
                in_degree[n as usize] += 1;
            }
        }
        let mut seen = try_filled(self.len(), false, "an hnsw build's reachability marks")?;
        let mut stack = self.walk_stack()?;
        self.mark_reachable(entry.node, &mut seen, &mut stack);
        for orphan in 0..self.len() as u32 {
            if seen[orphan as usize] || self.is_alias(orphan) {
                continue;
            }
            let query = self.vector(orphan);
            let ef = self.params.ef_construction;
            let found = search(self, query, entry, ef, ef, &mut visited);
            // The search may descend through upper layers into the orphan's own layer-0
            // island, so only hosts already reached count; failing those, every reached node.
            let hosted = found
                .iter()
                .filter(|n| n.id != orphan && seen[n.id as usize])
                .any(|n| self.add_link(n.id, orphan, &mut in_degree))
                || self
                    .reachable_by_distance(query, &seen)?
                    .into_iter()
                    .any(|host| self.add_link(host.id, orphan, &mut in_degree));
            assert!(hosted, "no node can take a link to orphan {orphan}");
            added += 1;
            self.mark_reachable(orphan, &mut seen, &mut stack);
        }
        Ok(added)
    }

    /// Reached nodes, nearest to `query` first (the slow path of `connect_orphans`).
    fn reachable_by_distance(&self, query: &[f32], seen: &[bool]) -> io::Result<Vec<Neighbour>> {
        let mut all: Vec<Neighbour> = Vec::new();
        all.try_reserve_exact(self.len()).map_err(|e| {
            super::storage::out_of_memory("an hnsw orphan's hosts", self.len() * 8, e)
        })?;
        all.extend(
            (0..self.len() as u32)
                .filter(|&id| seen[id as usize])
                .map(|id| Neighbour {
                    distance: self.distance(query, self.vector(id)),
                    id,
                }),
        );
        all.sort();
        Ok(all)
    }

    /// Adds `target` to `host`'s layer-0 list. A full list gives up its farthest link whose
    /// target has another in-link; if there is none, the host declines (returns false).
    fn add_link(&self, host: u32, target: u32, in_degree: &mut [u32]) -> bool {
        let _guard = self.locks[host as usize].lock();
        let mut links = Vec::new();
        self.read_links_locked(host, 0, &mut links);
        if links.contains(&target) {
            return false;
        }
        if links.len() < self.max_degree(0) {
            links.push(target);
        } else {
            let base = self.vector(host);
            let evictable = links
                .iter()
                .enumerate()
                .filter(|(_, &n)| in_degree[n as usize] >= 2)
                .map(|(i, &n)| {
                    (
                        Neighbour {
                            distance: self.distance(base, self.vector(n)),
                            id: n,
                        },
                        i,
                    )
                })
                .max();
            let Some((evicted, slot)) = evictable else {
                return false;
            };
            in_degree[evicted.id as usize] -= 1;
            links[slot] = target;
        }
        in_degree[target as usize] += 1;
        self.write_links_locked(host, 0, &links);
        true
    }
}
