//! INSERT: add one node to the on-disk graph, every change through generic WAL.
//!
//! A crash between any two records leaves a consistent index, because a node becomes
//! reachable only at the end:
//! 0. search the graph for neighbour candidates on every layer (changing nothing; in an
//!    index with codes the search runs on them and its candidates are then re-ranked on
//!    the vectors); if the nearest one holds exactly this vector, just chain an alias
//!    record to it and stop;
//! 1. reserve upper-layer slots (empty slots nobody points at);
//! 2. take a node id on the current insert page and write the record, without links;
//! 3. write the vector;
//! 4. write the node's own links on every layer (it has no in-links yet, so no scan
//!    reaches it);
//! 5. join the tree (`join_tree`): the nearest candidate with room pins it as a child, and
//!    it pins that parent, in one record over both pages: from now on it is reachable,
//!    and no later re-selection can change that;
//! 6. add the other back-links, one neighbour page per record (a full list re-selects
//!    with the heuristic and keeps its tree links, so whatever it drops stays reachable
//!    through the tree); whatever layer a scan reaches the node through, its layer-0 list
//!    is already written;
//! 7. if it is above the entry point, make it the entry point (meta page).
//!
//! The first node of an empty index becomes the entry point and the tree's root in one
//! record over the meta page and its own.
//!
//! Ids come from the insert page's own `used` counter; the meta page changes only when
//! that page fills (or the entry point moves), so inserts do not queue on the meta page.
//! The locking protocol is in docs/locking.md.

mod links;
mod slots;

use crate::distance::{kernels, Metric};
use crate::graph::{
    descend, draw_level, search_layer, select_neighbours, splitmix64, EntryPoint, GraphRead,
    Neighbour, Visited,
};
use crate::index::join_tree;
use crate::page::node::{
    next_duplicate, record_flags, set_in_tree, set_next_duplicate, HeapTid, NodeRecord, FLAG_ALIAS,
    FLAG_DELETED, FLAG_OCCUPIED, FLAG_TREE,
};
use crate::page::{FormatError, Layout, Meta, PageWrite, PagedGraph};
use std::collections::HashMap;

/// Inserts `vector` (already in the index's stored form: unit length under cosine) for
/// heap row `tid` into the index in `store`. `seed` seeds the level draw, as the build's.
pub fn insert<S: PageWrite>(store: &S, vector: &[f32], tid: HeapTid, seed: u64) {
    insert_with_key(store, vector, tid, &[], seed)
}

/// `insert` into a multicolumn index: `key` holds the row's values of the columns after
/// the vector (`page::keys`; empty in an index of the vector alone).
pub fn insert_with_key<S: PageWrite>(
    store: &S,
    vector: &[f32],
    tid: HeapTid,
    key: &[u8],
    seed: u64,
) {
    let meta = store.meta();
    assert_eq!(
        key.len(),
        meta.key_bytes as usize,
        "a key of the index's width"
    );
    Inserter::new(store, &meta, key, seed).insert(vector, tid);
}

struct Inserter<'a, S: PageWrite> {
    store: &'a S,
    seed: u64,
    layout: Layout,
    metric: Metric,
    ef_construction: usize,
    graph: PagedGraph<&'a S>,
    vectors: HashMap<u32, Vec<f32>>,
    /// The new row's key (multicolumn indexes).
    key: &'a [u8],
}

impl<'a, S: PageWrite> Inserter<'a, S> {
    fn new(store: &'a S, meta: &Meta, key: &'a [u8], seed: u64) -> Self {
        Inserter {
            store,
            seed,
            layout: Layout::of(meta),
            metric: meta.indexed_metric(),
            ef_construction: meta.ef_construction as usize,
            graph: PagedGraph::new(store, *meta).with_estimates(true),
            vectors: HashMap::new(),
            key,
        }
    }

    fn insert(mut self, vector: &[f32], tid: HeapTid) {
        // The codebook and lookup table, reserved fallibly before anything reads them
        // (encoding the new node's code, as well as the search).
        self.graph
            .prepare(vector)
            .unwrap_or_else(|e| self.store.out_of_memory(e));
        let m = self.layout.m;
        let level = draw_level(
            self.seed ^ splitmix64(((tid.block as u64) << 16) | tid.offset as u64),
            0,
            m,
        );
        // An empty graph: this node becomes the entry point, unless another insert got
        // there first (then it is linked to that one like any other node).
        let mut created: Option<(u32, NodeRecord)> = None;
        let entry = loop {
            if let Some(entry) = self.store.meta().entry {
                break entry;
            }
            let id = created
                .get_or_insert_with(|| self.create_node(vector, tid, level, 0))
                .0;
            let (block, at) = self.layout.node_location(id);
            let made_entry = self
                .store
                .update_meta_with(&[block], |meta, pages| {
                    meta.entry.is_none().then_some(())?;
                    meta.entry = Some(EntryPoint { node: id, level });
                    set_in_tree(pages[0], at, true);
                    Some(())
                })
                .unwrap_or_else(|e| self.store.format_error(e));
            if made_entry {
                return;
            }
        };

        // Search first, changing nothing: the neighbour candidates on every layer.
        let mut visited = Visited::sparse();
        let mut entries = vec![descend(&self.graph, vector, entry, level)];
        let top = level.min(entry.level);
        let mut found_by_layer = vec![Vec::new(); top + 1];
        for layer in (0..=top).rev() {
            let mut found = search_layer(
                &self.graph,
                vector,
                &entries,
                self.ef_construction,
                layer,
                &mut visited,
            );
            if let Some((id, _)) = &created {
                found.retain(|n| n.id != *id);
            }
            if !found.is_empty() {
                entries = found.clone();
            }
            found_by_layer[layer] = found;
        }
        // (A compact index has no vectors: its candidates stay ranked by the codes.)
        if self.graph.estimates() && self.graph.keeps_vectors() {
            let (mut ids, mut exact) = (Vec::new(), Vec::new());
            for found in &mut found_by_layer {
                ids.clear();
                ids.extend(found.iter().map(|n| n.id));
                self.graph.exact_distances_to(vector, &ids, &mut exact);
                for (n, &distance) in found.iter_mut().zip(&exact) {
                    n.distance = distance;
                }
                found.sort_unstable();
            }
        }
        if created.is_none() {
            if let Some(primary) = self.exact_duplicate(vector, &found_by_layer[0]) {
                match self.add_alias(primary, vector, tid) {
                    None => return,
                    // VACUUM deleted the primary meanwhile: the copy becomes a node itself.
                    Some(unchained) => created = Some(unchained),
                }
            }
        }

        let (id, record) = created.unwrap_or_else(|| self.create_node(vector, tid, level, 0));
        let (level, top) = (record.level as usize, top.min(record.level as usize));
        // No links to slots that are not graph nodes (or not on that layer), which the
        // search may have met through links made while VACUUM freed them (even the very
        // slot this node has just taken), nor to deleted nodes while live ones are found:
        // VACUUM unlinks those, and then frees them.
        let mut seen: HashMap<u32, (u8, usize)> = HashMap::new();
        for (layer, found) in found_by_layer.iter_mut().enumerate() {
            let graph = &self.graph;
            let mut state = |n: u32| *seen.entry(n).or_insert_with(|| graph.flags_and_level(n));
            found.retain(|n| {
                let (flags, level) = state(n.id);
                n.id != id
                    && flags & FLAG_OCCUPIED != 0
                    && flags & FLAG_ALIAS == 0
                    && level >= layer
            });
            if found.iter().any(|n| state(n.id).0 & FLAG_DELETED == 0) {
                found.retain(|n| state(n.id).0 & FLAG_DELETED == 0);
            }
        }
        // All of the node's own lists first, layer 0 included: a scan that reaches it
        // through an upper layer must find its layer-0 neighbours already there.
        let chosen_by_layer: Vec<Vec<u32>> = (0..=top)
            .map(|layer| self.select(&found_by_layer[layer], self.layout.max_degree(layer)))
            .collect();
        for (layer, chosen) in chosen_by_layer.iter().enumerate() {
            self.write_links(id, &record, layer, chosen);
        }
        let candidates: Vec<u32> = found_by_layer[0].iter().map(|n| n.id).collect();
        if !join_tree(self.store, &self.layout, id, &candidates) {
            // Only a damaged tree has no node with room: the row would be unreachable.
            self.store
                .format_error(FormatError::Corrupt("no tree node takes a new node"));
        }
        let parent = self.graph.node(id).parent();
        for layer in (0..=top).rev() {
            for &other in &chosen_by_layer[layer] {
                if layer > 0 || Some(other) != parent {
                    self.link_back(other, id, layer);
                }
            }
        }
        if level > entry.level {
            // In the same unit as a look at its record: only a tree node may be the entry.
            let (block, at) = self.layout.node_location(id);
            self.store
                .update_meta_with(&[block], |meta, pages| {
                    let higher = meta.entry.is_none_or(|e| level > e.level);
                    let in_tree = record_flags(pages[0], at) & FLAG_TREE != 0;
                    (higher && in_tree).then(|| meta.entry = Some(EntryPoint { node: id, level }))
                })
                .unwrap_or_else(|e| self.store.format_error(e));
        }
    }

    /// The graph node among the nearest candidates whose vector equals `vector` bit for bit
    /// (none in a compact index, which cannot tell: each row there is a node of its own).
    fn exact_duplicate(&mut self, vector: &[f32], nearest: &[Neighbour]) -> Option<u32> {
        if !self.graph.keeps_vectors() {
            return None;
        }
        let best = nearest.first()?.distance;
        let ties: Vec<u32> = nearest
            .iter()
            .take_while(|n| n.distance == best)
            .map(|n| n.id)
            .collect();
        ties.into_iter().find(|&id| {
            let node = self.graph.node(id);
            if !node.is_linked_node() || !node.in_tree() {
                return false; // deleted, freed or not joined yet: not a chain to join
            }
            let other = self.vector(id);
            other.len() == vector.len()
                && other
                    .iter()
                    .zip(vector)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
        })
    }

    /// Records `tid` as another copy of node `primary`: an unlinked alias record, put at
    /// the head of the primary's duplicate chain in one WAL record with the primary. If
    /// the primary is deleted by then (VACUUM would free its chain), the record is turned
    /// into an ordinary level-0 node instead and returned, to be linked like one.
    fn add_alias(
        &mut self,
        primary: u32,
        vector: &[f32],
        tid: HeapTid,
    ) -> Option<(u32, NodeRecord)> {
        let (alias, mut record) = self.create_node(vector, tid, 0, FLAG_ALIAS);
        let (alias_block, alias_at) = self.layout.node_location(alias);
        let (primary_block, primary_at) = self.layout.node_location(primary);
        let blocks: Vec<u32> = if alias_block == primary_block {
            vec![alias_block]
        } else {
            vec![
                alias_block.min(primary_block),
                alias_block.max(primary_block),
            ]
        };
        let page_of = |block: u32| blocks.iter().position(|&b| b == block).expect("locked");
        let (alias_page, primary_page) = (page_of(alias_block), page_of(primary_block));
        let chained = self.store.modify(&blocks, |pages| {
            let flags = record_flags(pages[primary_page], primary_at);
            if flags & (FLAG_OCCUPIED | FLAG_DELETED | FLAG_TREE) != FLAG_OCCUPIED | FLAG_TREE {
                return None;
            }
            let rest = next_duplicate(pages[primary_page], primary_at);
            set_next_duplicate(pages[primary_page], primary_at, alias);
            set_next_duplicate(pages[alias_page], alias_at, rest);
            Some(())
        });
        if chained.is_some() {
            return None;
        }
        record.flags = FLAG_OCCUPIED;
        let m = self.layout.m;
        self.store.modify(&[alias_block], |pages| {
            record.write(pages[0], alias_at, m);
            Some(())
        });
        Some((alias, record))
    }

    fn vector(&mut self, id: u32) -> &[f32] {
        if !self.vectors.contains_key(&id) {
            let mut v = Vec::new();
            self.graph.read_vector(id, &mut v);
            self.vectors.insert(id, v);
        }
        &self.vectors[&id]
    }

    fn select(&mut self, candidates: &[Neighbour], max: usize) -> Vec<u32> {
        for c in candidates {
            self.vector(c.id);
        }
        let vectors = &self.vectors;
        let metric = self.metric;
        let mut chosen = select_neighbours(candidates, max, |a, b| {
            metric.distance(kernels(), &vectors[&a], &vectors[&b])
        });
        // Around a hub the heuristic keeps the hub alone (it is nearer to every other
        // candidate than the new node is); rows inserted around one point are then
        // reachable only through the tree, a long walk for a scan. A few nearest links
        // more give the node neighbours a scan meets on the way. (A build inserts in no
        // such order, so it keeps the heuristic's choice.)
        let floor = (self.layout.m / 2).min(max);
        for c in candidates {
            if chosen.len() >= floor {
                break;
            }
            if !chosen.contains(&c.id) {
                chosen.push(c.id);
            }
        }
        chosen
    }

    fn update_meta(&self, change: impl FnOnce(&mut Meta) -> Option<()>) -> bool {
        self.store.change_meta(change)
    }
}
