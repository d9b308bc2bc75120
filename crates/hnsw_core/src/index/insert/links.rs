//! An insert's links: its own lists, and the back-links to it.

use super::Inserter;
use crate::distance::kernels;
use crate::graph::tree::prune;
use crate::graph::NO_NODE;
use crate::page::node::{
    read_list, record_flags, record_level, record_tree, upper_slot_of, write_list, NodeRecord,
    FLAG_OCCUPIED,
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

    /// Adds `id` to `other`'s list on `layer`; a full list is re-selected with the
    /// heuristic, its tree links kept (`tree::prune`, the build's rule too). Whatever it
    /// drops stays reachable through the tree, so one page is all a back-link changes.
    pub(super) fn link_back(&mut self, other: u32, id: u32, layer: usize) {
        // A neighbour that VACUUM has freed meanwhile takes no link.
        let Some((block, at)) = self.list_location(other, None, layer) else {
            return;
        };
        let (m, max) = (self.layout.m, self.layout.max_degree(layer));
        // Load the vectors a re-selection needs before taking the page lock; a list with
        // room for the link needs none.
        let mut current = Vec::new();
        self.store
            .with_page(block, |p| read_list(p, at, m, layer, &mut current));
        if current.len() >= max && !current.contains(&id) {
            for &n in current.iter().chain([&other, &id]) {
                if n != NO_NODE {
                    self.vector(n);
                }
            }
        }
        let (vectors, graph, metric) = (&mut self.vectors, &self.graph, self.metric);
        self.store.modify(&[block], |pages| {
            if layer == 0 && record_flags(pages[0], at) & FLAG_OCCUPIED == 0 {
                return None; // freed since we looked
            }
            let mut links = Vec::new();
            read_list(pages[0], at, m, layer, &mut links);
            if links.contains(&id) {
                return None;
            }
            links.push(id);
            if links.len() <= max {
                write_list(pages[0], at, m, layer, &links);
                return Some(());
            }
            for &n in &links {
                // The list may have changed since we looked: fetch any new vectors.
                vectors.entry(n).or_insert_with(|| {
                    let mut v = Vec::new();
                    graph.read_vector(n, &mut v);
                    v
                });
            }
            let pinned = if layer == 0 {
                record_tree(pages[0], at, links.len() - 1).pinned
            } else {
                0
            };
            let distance = |a: u32, b: u32| metric.distance(kernels(), &vectors[&a], &vectors[&b]);
            prune(&mut links, pinned, max, |n| distance(other, n), distance);
            write_list(pages[0], at, m, layer, &links);
            Some(())
        });
    }
}
