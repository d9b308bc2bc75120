//! An insert's links: its own lists, and the back-links that make it reachable.

use super::Inserter;
use crate::distance::kernels;
use crate::graph::{select_neighbours, Neighbour, NO_NODE};
use crate::page::node::{
    read_list, record_flags, record_level, upper_slot_of, write_list, NodeRecord, FLAG_OCCUPIED,
};
use crate::page::PageWrite;

impl<S: PageWrite> Inserter<'_, S> {
    /// Where node `id`'s list for `layer` lives: (block, offset). Without the record at
    /// hand, it is read, and a slot that is not a live node on that layer has no list.
    pub(super) fn list_location(
        &self,
        id: u32,
        record: Option<&NodeRecord>,
        layer: usize,
    ) -> Option<(u32, usize)> {
        let (block, at) = self.layout.node_location(id);
        let slot = match record {
            Some(_) if layer == 0 => return Some((block, at)),
            Some(r) => r.upper_slots[layer - 1],
            None => self.store.with_page(block, |p| {
                let on_layer =
                    record_flags(p, at) & FLAG_OCCUPIED != 0 && record_level(p, at) >= layer;
                match layer {
                    _ if !on_layer => NO_NODE,
                    0 => 0,
                    _ => upper_slot_of(p, at, layer),
                }
            }),
        };
        match slot {
            NO_NODE => None,
            _ if layer == 0 => Some((block, at)),
            _ => Some(self.layout.upper_location(slot)),
        }
    }

    pub(super) fn write_links(&self, id: u32, record: &NodeRecord, layer: usize, links: &[u32]) {
        let (block, at) = self
            .list_location(id, Some(record), layer)
            .expect("a node's own record has every layer up to its level");
        let m = self.layout.m;
        self.store.modify(&[block], |pages| {
            write_list(pages[0], at, m, layer, links);
            Some(())
        });
    }

    /// Adds `id` to `other`'s list on `layer`, re-selecting with the heuristic when full;
    /// with `force`, `id` stays even if the heuristic drops it. Returns whether `id` is in
    /// the list afterwards.
    ///
    /// Nothing on disk counts in-links, so a node pushed out of a full list might lose its
    /// last one. On layer 0 the node pushed out is one the new node itself links to when
    /// there is such a choice (`own`: its list); otherwise the new node takes it into its
    /// own list in the same WAL record, so no crash can fall between the two.
    pub(super) fn link_back(
        &mut self,
        other: u32,
        id: u32,
        record: &NodeRecord,
        layer: usize,
        force: bool,
        own: &[u32],
    ) -> bool {
        // A neighbour that VACUUM has freed meanwhile takes no link.
        let Some((block, at)) = self.list_location(other, None, layer) else {
            return false;
        };
        let (own_block, own_at) = self
            .list_location(id, Some(record), layer)
            .expect("a node's own record has every layer up to its level");
        let (m, max) = (self.layout.m, self.layout.max_degree(layer));
        // Load the vectors the re-selection needs before taking the page lock.
        let mut current = Vec::new();
        self.store
            .with_page(block, |p| read_list(p, at, m, layer, &mut current));
        for &n in current.iter().chain([&other, &id]) {
            if n != NO_NODE {
                self.vector(n);
            }
        }
        // A full list will drop a node, which may need the new node's page too: lock both
        // at once rather than find out and start again.
        let mut blocks = if layer == 0 && current.len() >= max && own_block != block {
            vec![block.min(own_block), block.max(own_block)]
        } else {
            vec![block]
        };
        loop {
            let mut needs_own_page = false;
            let mut unchanged = None; // the answer when there is nothing to write
            let (vectors, graph, metric) = (&mut self.vectors, &self.graph, self.metric);
            let outcome = self.store.modify(&blocks, |pages| {
                let list_page = blocks.iter().position(|&b| b == block).expect("locked");
                let own_page = blocks.iter().position(|&b| b == own_block);
                if layer == 0 && record_flags(pages[list_page], at) & FLAG_OCCUPIED == 0 {
                    unchanged = Some(false); // freed since we looked
                    return None;
                }
                let mut links = Vec::new();
                read_list(pages[list_page], at, m, layer, &mut links);
                if links.contains(&id) {
                    unchanged = Some(true);
                    return None;
                }
                links.push(id);
                for &n in &links {
                    // The list may have changed since we looked: fetch any new vectors.
                    vectors.entry(n).or_insert_with(|| {
                        let mut v = Vec::new();
                        graph.read_vector(n, &mut v);
                        v
                    });
                }
                let distance =
                    |a: u32, b: u32| metric.distance(kernels(), &vectors[&a], &vectors[&b]);
                let dropped = reselect(&mut links, other, id, max, force, own, distance);
                let stranded: Vec<u32> = dropped
                    .into_iter()
                    .filter(|&n| layer == 0 && n != id && !own.contains(&n))
                    .collect();
                let Some(own_page) = own_page.filter(|_| !stranded.is_empty()) else {
                    if !stranded.is_empty() {
                        needs_own_page = true;
                        return None; // again, with the new node's page locked too
                    }
                    write_list(pages[list_page], at, m, layer, &links);
                    return Some(links.contains(&id));
                };
                write_list(pages[list_page], at, m, layer, &links);
                let mut mine = Vec::new();
                read_list(pages[own_page], own_at, m, layer, &mut mine);
                for n in stranded {
                    if mine.len() < max && !mine.contains(&n) {
                        mine.push(n);
                    }
                }
                write_list(pages[own_page], own_at, m, layer, &mine);
                Some(links.contains(&id))
            });
            match outcome.or(unchanged) {
                Some(kept) => return kept,
                None if needs_own_page && blocks.len() == 1 && own_block != block => {
                    blocks = vec![block.min(own_block), block.max(own_block)];
                }
                None => return false,
            }
        }
    }
}

/// Re-selects `links` (the list of node `base` with the new node `id` appended) when it
/// holds more than `max`: the heuristic's choice, then the nodes it passed over, nearest
/// first, to keep the list full (the paper's keepPrunedConnections), so each overflow
/// drops one link, not several. The node dropped is the farthest passed-over one that
/// the new node links to (`own`), else the farthest. With `force`, `id` stays. Returns the
/// nodes dropped. (Why this differs from the build's rule: see `Graph::link_back`.)
fn reselect(
    links: &mut Vec<u32>,
    base: u32,
    id: u32,
    max: usize,
    force: bool,
    own: &[u32],
    distance: impl Fn(u32, u32) -> f32,
) -> Vec<u32> {
    if links.len() <= max {
        return Vec::new();
    }
    let mut candidates: Vec<Neighbour> = links
        .iter()
        .map(|&n| Neighbour {
            distance: distance(base, n),
            id: n,
        })
        .collect();
    candidates.sort();
    let chosen = select_neighbours(&candidates, max, &distance);
    let passed_over: Vec<u32> = candidates
        .iter()
        .map(|c| c.id)
        .filter(|n| !chosen.contains(n))
        .collect();
    let surplus = (chosen.len() + passed_over.len()).saturating_sub(max);
    let mut dropped: Vec<u32> = passed_over
        .iter()
        .rev()
        .filter(|n| own.contains(n))
        .take(surplus)
        .copied()
        .collect();
    for &n in passed_over.iter().rev() {
        if dropped.len() >= surplus {
            break;
        }
        if !dropped.contains(&n) {
            dropped.push(n);
        }
    }
    *links = chosen;
    links.extend(passed_over.iter().filter(|n| !dropped.contains(n)));
    if force && !links.contains(&id) {
        let last = links
            .last_mut()
            .expect("a full list re-selects at least one");
        dropped.retain(|&n| n != id);
        dropped.push(*last);
        *last = id;
    }
    dropped
}
