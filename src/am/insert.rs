//! INSERT: add one node to the on-disk graph, every change through generic WAL.
//!
//! A crash between any two records leaves a consistent index, because a node becomes
//! reachable only at the end:
//! 0. search the graph for neighbour candidates on every layer (changing nothing); if the
//!    nearest one holds exactly this vector, just chain an alias record to it and stop;
//! 1. reserve upper-layer slots (empty slots nobody points at);
//! 2. take a node id on the current insert page and write the record, without links;
//! 3. write the vector;
//! 4. write the node's own links on every layer (it has no in-links yet, so no scan
//!    reaches it);
//! 5. add the back-links, one neighbour page per record: now it is found, and whatever
//!    layer a scan reaches it through, its layer-0 list is already written;
//! 6. if it is above the entry point, make it the entry point (meta page).
//!
//! Ids come from the insert page's own `used` counter; the meta page changes only when
//! that page fills (or the entry point moves), so inserts do not queue on the meta page.
//! The locking protocol is in docs/locking.md.

use super::build::LEVEL_SEED;
use crate::storage::{
    ensure_blocks, modify_pages, read_meta, relation_blocks, update_meta, BufferStore,
};
use crate::types::Vector;
use hnsw_core::distance::{kernels, Metric};
use hnsw_core::graph::{
    descend, draw_level, search_layer, select_neighbours, splitmix64, EntryPoint, Neighbour,
    Visited, NO_NODE,
};
use hnsw_core::page::node::{
    next_duplicate, read_list, reserve_free_record, set_next_duplicate, upper_slot_of, write_list,
    write_upper, HeapTid, NodeRecord, FLAG_ALIAS, FLAG_DELETED, FLAG_FREE, FLAG_LIVE,
};
use hnsw_core::page::{
    init_page, page_is_new, page_used, set_page_used, Layout, Meta, PageKind, PageStore,
    PagedGraph, CONTENT_SIZE, HEADER_SIZE,
};
use pgrx::prelude::*;
use pgrx::{pg_sys, PgSqlErrorCode};
use std::collections::HashMap;

#[pg_guard]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C-unwind" fn aminsert(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _check_unique: pg_sys::IndexUniqueCheck::Type,
    _index_unchanged: bool,
    _index_info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: one key column; values/isnull/heap_tid are valid for this call.
    let (datum, null, tid) = unsafe {
        (
            *values,
            *isnull,
            pgrx::itemptr::item_pointer_get_both(*heap_tid),
        )
    };
    if null {
        return false;
    }
    // SAFETY: the key column is a vector.
    let vector = unsafe { Vector::from_datum(datum) };
    let vector = vector.as_slice();
    let meta = read_meta(index);
    if vector.len() != meta.dim as usize {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("expected {} dimensions, not {}", meta.dim, vector.len())
        );
    }
    // Unit length under cosine; a zero vector there is not indexed.
    let Some(vector) = meta.metric.stored_form(vector) else {
        return false;
    };
    Inserter::new(index, &meta).insert(
        &vector,
        HeapTid {
            block: tid.0,
            offset: tid.1,
        },
    );
    false
}

struct Inserter {
    index: pg_sys::Relation,
    layout: Layout,
    metric: Metric,
    ef_construction: usize,
    graph: PagedGraph<BufferStore>,
    vectors: HashMap<u32, Vec<f32>>,
}

impl Inserter {
    fn new(index: pg_sys::Relation, meta: &Meta) -> Self {
        Inserter {
            index,
            layout: Layout::new(meta.dim as usize, meta.m as usize),
            metric: meta.metric.indexed(),
            ef_construction: meta.ef_construction as usize,
            graph: PagedGraph::new(BufferStore::new(index), *meta),
            vectors: HashMap::new(),
        }
    }

    fn max_degree(&self, layer: usize) -> usize {
        if layer == 0 {
            2 * self.layout.m
        } else {
            self.layout.m
        }
    }

    fn insert(mut self, vector: &[f32], tid: HeapTid) {
        let m = self.layout.m;
        let level = draw_level(
            LEVEL_SEED ^ splitmix64(((tid.block as u64) << 16) | tid.offset as u64),
            0,
            m,
        );
        // An empty graph: this node becomes the entry point, unless another insert got
        // there first (then it is linked to that one like any other node).
        let mut created: Option<(u32, NodeRecord)> = None;
        let entry = loop {
            if let Some(entry) = read_meta(self.index).entry {
                break entry;
            }
            let id = created
                .get_or_insert_with(|| self.create_node(vector, tid, level, 0))
                .0;
            let made_entry = self.update_meta(|meta| {
                meta.entry
                    .is_none()
                    .then(|| meta.entry = Some(EntryPoint { node: id, level }))
            });
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
        // No links to slots that are not graph nodes, which the search may have met
        // through links made while VACUUM freed them (even the very slot this node has
        // just taken), nor to deleted nodes while live ones are found: VACUUM unlinks
        // those, and then frees them.
        let mut flags: HashMap<u32, Option<u8>> = HashMap::new();
        for found in &mut found_by_layer {
            found.retain(|n| {
                let r = flags.entry(n.id).or_insert_with(|| {
                    let r = self.graph.node(n.id);
                    (r.is_live() && r.flags & FLAG_ALIAS == 0).then_some(r.flags)
                });
                n.id != id && r.is_some()
            });
            if found.iter().any(|n| flags[&n.id].is_some_and(|f| f & FLAG_DELETED == 0)) {
                found.retain(|n| flags[&n.id].is_some_and(|f| f & FLAG_DELETED == 0));
            }
        }
        // All of the node's own lists first, layer 0 included: a scan that reaches it
        // through an upper layer must find its layer-0 neighbours already there.
        let chosen_by_layer: Vec<Vec<u32>> = (0..=top)
            .map(|layer| self.select(&found_by_layer[layer], self.max_degree(layer)))
            .collect();
        for (layer, chosen) in chosen_by_layer.iter().enumerate() {
            self.write_links(id, &record, layer, chosen);
        }
        for layer in (0..=top).rev() {
            let chosen = &chosen_by_layer[layer];
            // On layer 0 the nearest neighbour takes the new node first, whatever the
            // heuristic says: from then on the node is reachable, so the nodes later
            // back-links push out can safely hang off it (see `link_back`).
            for (k, &other) in chosen.iter().enumerate() {
                let force = layer == 0 && k == 0;
                self.link_back(other, id, &record, layer, force, chosen);
            }
        }
        if level > entry.level {
            self.update_meta(|meta| {
                let higher = meta.entry.is_none_or(|e| level > e.level);
                higher.then(|| meta.entry = Some(EntryPoint { node: id, level }))
            });
        }
    }

    /// Takes a node slot (a free one VACUUM gave back, else a new id), reserves upper
    /// slots, writes the record (no links) and the vector.
    fn create_node(
        &mut self,
        vector: &[f32],
        tid: HeapTid,
        level: usize,
        flags: u8,
    ) -> (u32, NodeRecord) {
        let mut record = NodeRecord {
            tid,
            level: level as u8,
            flags: FLAG_LIVE | flags,
            generation: 1,
            next_duplicate: NO_NODE,
            upper_slots: Vec::new(),
            spare_slots: Vec::new(),
            layer0: Vec::new(),
        };
        let id = if let Some((id, reserved)) = self.take_free_slot() {
            // A scan may still hold this id from before the slot was freed: the vector
            // goes in before the record says live, under the new generation.
            record.generation = reserved.generation;
            let mut owned = reserved.spare_slots.into_iter();
            record.upper_slots = (0..level)
                .map(|_| match owned.next() {
                    Some(slot) => {
                        self.empty_upper_slot(slot);
                        slot
                    }
                    None => self.allocate_upper_slot(),
                })
                .collect();
            record.spare_slots = owned.collect();
            self.write_vector(id, vector);
            let (block, at) = self.layout.node_location(id);
            let m = self.layout.m;
            modify_pages(self.index, &[block], |pages| {
                record.write(pages[0], at, m);
                Some(())
            });
            id
        } else {
            record.upper_slots = (0..level).map(|_| self.allocate_upper_slot()).collect();
            let id = self.allocate_node(&record);
            self.write_vector(id, vector);
            id
        };
        self.vectors.insert(id, vector.to_vec());
        (id, record)
    }

    /// Takes a free node slot, searching node pages from the meta page's hint; reserved
    /// and with a new generation when found. Moves the hint on, or clears it when no free
    /// slot is left.
    fn take_free_slot(&self) -> Option<(u32, NodeRecord)> {
        let hint = read_meta(self.index).free_hint;
        if hint == 0 {
            return None;
        }
        let layout = self.layout;
        let free_at = |page: &[u8]| -> Option<usize> {
            if page_is_new(page) {
                return None;
            }
            (0..page_used(page) as usize)
                .map(|k| HEADER_SIZE + k * layout.node_size)
                .find(|&at| page[at + 7] == FLAG_FREE)
        };
        for block in hint..relation_blocks(self.index) {
            if layout.block_kind(block).0 != PageKind::Nodes
                || BufferStore::new(self.index)
                    .with_page(block, free_at)
                    .is_none()
            {
                continue;
            }
            let taken = modify_pages(self.index, &[block], |pages| {
                let at = free_at(pages[0])?;
                Some((at, reserve_free_record(pages[0], at, layout.m)))
            });
            if let Some((at, record)) = taken {
                if block != hint {
                    self.update_meta(|meta| {
                        (meta.free_hint == hint).then(|| meta.free_hint = block)
                    });
                }
                let id =
                    layout.first_node_on(block) + ((at - HEADER_SIZE) / layout.node_size) as u32;
                return Some((id, record));
            }
        }
        self.update_meta(|meta| (meta.free_hint == hint).then(|| meta.free_hint = 0));
        None
    }

    /// Clears an upper slot taken over from a freed record: an insert may have linked into
    /// it after VACUUM emptied it.
    fn empty_upper_slot(&self, slot: u32) {
        let (block, at) = self.layout.upper_location(slot);
        let m = self.layout.m;
        modify_pages(self.index, &[block], |pages| {
            write_upper(pages[0], at, m, &[]);
            Some(())
        });
    }

    /// The graph node among the nearest candidates whose vector equals `vector` bit for bit.
    fn exact_duplicate(&mut self, vector: &[f32], nearest: &[Neighbour]) -> Option<u32> {
        let best = nearest.first()?.distance;
        let ties: Vec<u32> = nearest
            .iter()
            .take_while(|n| n.distance == best)
            .map(|n| n.id)
            .collect();
        ties.into_iter().find(|&id| {
            if !self.graph.node(id).is_linked_node() {
                return false; // deleted or freed: not a chain to join
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
        let chained = modify_pages(self.index, &blocks, |pages| {
            if pages[primary_page][primary_at + 7] & (FLAG_LIVE | FLAG_DELETED) != FLAG_LIVE {
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
        record.flags = FLAG_LIVE;
        let m = self.layout.m;
        modify_pages(self.index, &[alias_block], |pages| {
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
        // candidate than the new node is), and the hub's full list then drops the new
        // node: inserted near one point, rows became unreachable. A few nearest links
        // more give the node neighbours that link back to it.
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
        update_meta(self.index, change)
    }

    /// Makes sure the group holding `block` exists.
    fn ensure_group(&self, block: u32) {
        let group = (block as usize - 1) / self.layout.group_pages;
        ensure_blocks(
            self.index,
            (1 + (group + 1) * self.layout.group_pages) as u32,
        );
    }

    /// Takes the next free item on the current insert page of a kind (nodes or upper
    /// slots), writing it with `write`; moves the insert page on when it is full.
    fn allocate(
        &self,
        first_of: fn(&Meta) -> u32,
        advance: fn(&mut Meta, u32, u32) -> Option<()>,
        locate: impl Fn(u32) -> (u32, usize),
        kind: PageKind,
        per_page: usize,
        item_size: usize,
        write: impl Fn(&mut [u8], usize),
    ) -> u32 {
        loop {
            let first = first_of(&read_meta(self.index));
            let (block, _) = locate(first);
            self.ensure_group(block);
            let taken = modify_pages(self.index, &[block], |pages| {
                let page = &mut *pages[0];
                if page_is_new(page) {
                    init_page(page, kind, per_page * item_size);
                }
                let used = page_used(page) as usize;
                if used >= per_page {
                    return None;
                }
                let item = first + used as u32;
                write(page, locate(item).1);
                set_page_used(page, used as u16 + 1);
                Some(item)
            });
            if let Some(item) = taken {
                return item;
            }
            self.update_meta(|meta| advance(meta, first, per_page as u32));
        }
    }

    fn allocate_upper_slot(&self) -> u32 {
        let (layout, m) = (self.layout, self.layout.m);
        self.allocate(
            |meta| meta.upper_slots,
            |meta, first, per_page| {
                (meta.upper_slots == first).then(|| meta.upper_slots = first + per_page)
            },
            |slot| layout.upper_location(slot),
            PageKind::Upper,
            layout.uppers_per_page,
            layout.upper_size,
            |page, at| write_upper(page, at, m, &[]),
        )
    }

    fn allocate_node(&self, record: &NodeRecord) -> u32 {
        let (layout, m) = (self.layout, self.layout.m);
        self.allocate(
            |meta| meta.nodes,
            |meta, first, per_page| (meta.nodes == first).then(|| meta.nodes = first + per_page),
            |id| layout.node_location(id),
            PageKind::Nodes,
            layout.nodes_per_page,
            layout.node_size,
            |page, at| record.write(page, at, m),
        )
    }

    /// Writes node `id`'s vector: one page, or several (four to a WAL record).
    fn write_vector(&self, id: u32, vector: &[f32]) {
        let layout = self.layout;
        let (first_block, at) = layout.vector_location(id);
        self.ensure_group(first_block);
        let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
        let used = if layout.vectors_per_page > 0 {
            layout.vectors_per_page * layout.vector_size
        } else {
            CONTENT_SIZE
        };
        let pages = layout.pages_per_vector.max(1) as u32;
        let blocks: Vec<u32> = (first_block..first_block + pages).collect();
        for (record_index, chunk) in blocks.chunks(4).enumerate() {
            modify_pages(self.index, chunk, |pages| {
                for (k, page) in pages.iter_mut().enumerate() {
                    if page_is_new(page) {
                        init_page(page, PageKind::Vectors, used);
                    }
                    let part = record_index * 4 + k;
                    let (start, offset) = if layout.vectors_per_page > 0 {
                        (0, at)
                    } else {
                        (part * CONTENT_SIZE, HEADER_SIZE)
                    };
                    let end = (start
                        + if layout.vectors_per_page > 0 {
                            layout.vector_size
                        } else {
                            CONTENT_SIZE
                        })
                    .min(bytes.len());
                    page[offset..offset + end - start].copy_from_slice(&bytes[start..end]);
                }
                Some(())
            });
        }
    }

    /// Where node `id`'s list for `layer` lives: (block, offset). Without the record at
    /// hand, it is read, and a slot that is not a live node on that layer has no list.
    fn list_location(
        &self,
        id: u32,
        record: Option<&NodeRecord>,
        layer: usize,
    ) -> Option<(u32, usize)> {
        let (block, at) = self.layout.node_location(id);
        let slot = match record {
            Some(_) if layer == 0 => return Some((block, at)),
            Some(r) => r.upper_slots[layer - 1],
            None => BufferStore::new(self.index).with_page(block, |p| {
                let on_layer = p[at + 7] & FLAG_LIVE != 0 && p[at + 6] as usize >= layer;
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

    fn write_links(&self, id: u32, record: &NodeRecord, layer: usize, links: &[u32]) {
        let (block, at) = self
            .list_location(id, Some(record), layer)
            .expect("a node's own record has every layer up to its level");
        let m = self.layout.m;
        modify_pages(self.index, &[block], |pages| {
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
    fn link_back(
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
        let (m, max) = (self.layout.m, self.max_degree(layer));
        // Load the vectors the re-selection needs before taking the page lock.
        let mut current = Vec::new();
        BufferStore::new(self.index).with_page(block, |p| read_list(p, at, m, layer, &mut current));
        for &n in current.iter().chain([&other, &id]) {
            if n != NO_NODE {
                self.vector(n);
            }
        }
        let mut blocks = vec![block];
        loop {
            let mut needs_own_page = false;
            let mut unchanged = None; // the answer when there is nothing to write
            let (vectors, graph, metric) = (&mut self.vectors, &self.graph, self.metric);
            let outcome = modify_pages(self.index, &blocks, |pages| {
                let list_page = blocks.iter().position(|&b| b == block).expect("locked");
                let own_page = blocks.iter().position(|&b| b == own_block);
                if layer == 0 && pages[list_page][at + 7] & FLAG_LIVE == 0 {
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
                let distance = |a: u32, b: u32| metric.distance(kernels(), &vectors[&a], &vectors[&b]);
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
/// nodes dropped.
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
        let last = links.last_mut().expect("a full list re-selects at least one");
        dropped.retain(|&n| n != id);
        dropped.push(*last);
        *last = id;
    }
    dropped
}
