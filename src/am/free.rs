//! VACUUM's last step: give the slots of deleted nodes back, so later inserts reuse them
//! instead of growing the index. A slot is freed only once nothing links to it: after
//! `repair`, no live list names a deleted node, which this pass checks again (an insert
//! may have linked one meanwhile; that node then waits for the next VACUUM). A freed slot
//! keeps its upper-layer slots (emptied first) as spares and its generation; the insert
//! that takes it bumps the generation, which is how a scan that ranked the old vector
//! tells (`scan.rs`).

use super::repair::for_each_record;
use crate::storage::{modify_pages, read_meta, update_meta, BufferStore};
use hnsw_core::graph::{GraphRead, NO_NODE};
use hnsw_core::page::node::{free_record, write_upper, NodeRecord, FLAG_DELETED, FLAG_FREE};
use hnsw_core::page::{Layout, PageStore, PagedGraph};
use pgrx::pg_sys;
use std::collections::{BTreeMap, HashSet};

/// Frees the slots of `deleted` (graph nodes without live copies, as `repair` found them)
/// and of their alias chains. Returns how many slots were freed.
pub fn free_deleted_slots(index: pg_sys::Relation, deleted: &HashSet<u32>) -> usize {
    let meta = read_meta(index);
    let layout = Layout::new(meta.dim as usize, meta.m as usize);
    let graph = PagedGraph::new(BufferStore::new(index), meta);
    let mut candidates: HashSet<u32> = deleted.clone();
    if let Some(entry) = meta.entry {
        candidates.remove(&entry.node);
    }
    // Whatever a remaining node still links to stays.
    let mut lowest_free_block: Option<u32> = None;
    let mut list = Vec::new();
    for_each_record(index, &layout, |id, r| {
        if r.flags == FLAG_FREE {
            let block = layout.node_location(id).0;
            lowest_free_block = Some(lowest_free_block.map_or(block, |b| b.min(block)));
        }
        if !r.is_live() || candidates.contains(&id) {
            return;
        }
        for layer in 0..=r.level as usize {
            graph.neighbours_into(id, layer, &mut list);
            for n in &list {
                candidates.remove(n);
            }
        }
    });
    // Each freed node takes its chain of (all deleted) copies with it.
    let mut slots: Vec<u32> = Vec::new();
    for &id in &candidates {
        let mut next = id;
        let mut steps = 0;
        while next != NO_NODE && steps <= deleted.len() + slots.len() {
            slots.push(next);
            next = graph.node(next).next_duplicate;
            steps += 1; // bounded: a corrupt chain could loop
        }
    }
    let mut by_block: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for id in slots {
        let (block, at) = layout.node_location(id);
        by_block.entry(block).or_default().push(at);
    }
    // Their upper slots are emptied first: once a record is free, an insert may take it
    // and its slots at any moment.
    let owned: Vec<u32> = by_block
        .keys()
        .flat_map(|&block| {
            BufferStore::new(index).with_page(block, |p| {
                by_block[&block]
                    .iter()
                    .flat_map(|&at| NodeRecord::read(p, at, layout.m).owned_slots())
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    empty_upper_slots(index, &layout, &owned);
    let mut freed = 0;
    for (&block, places) in &by_block {
        // SAFETY: a plain backend call between pages.
        unsafe { pg_sys::vacuum_delay_point() };
        let done = modify_pages(index, &[block], |pages| {
            let mut done = 0;
            for &at in places {
                let record = NodeRecord::read(pages[0], at, layout.m);
                // Re-checked under the lock: still a deleted row's entry.
                if !record.is_live() || record.flags & FLAG_DELETED == 0 {
                    continue;
                }
                free_record(pages[0], at, layout.m);
                done += 1;
            }
            (done > 0).then_some(done)
        });
        if let Some(done) = done {
            freed += done;
            lowest_free_block = Some(lowest_free_block.map_or(block, |b| b.min(block)));
        }
    }
    if let Some(block) = lowest_free_block {
        update_meta(index, |meta| {
            meta.free_hint = block;
            Some(())
        });
    }
    freed
}

/// Empties the lists of upper slots (spares of free records, or taken over from one),
/// one WAL record per page.
pub(super) fn empty_upper_slots(index: pg_sys::Relation, layout: &Layout, slots: &[u32]) {
    let mut by_block: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for &slot in slots {
        let (block, at) = layout.upper_location(slot);
        by_block.entry(block).or_default().push(at);
    }
    for (&block, places) in &by_block {
        modify_pages(index, &[block], |pages| {
            for &at in places {
                write_upper(pages[0], at, layout.m, &[]);
            }
            Some(())
        });
    }
}
