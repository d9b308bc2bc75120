//! VACUUM's last step: give the slots of deleted nodes back, so later inserts reuse them
//! instead of growing the index. A slot is freed only once nothing links to it: after
//! VACUUM's repair, no live list names a deleted node, which this pass checks again (an
//! insert may have linked one meanwhile; that node then waits for the next VACUUM, and so
//! does every deleted node it links to, since it keeps its lists). A
//! freed slot keeps its upper-layer slots (emptied first) as spares and its generation;
//! the insert that takes it bumps the generation, which is how a scan that ranked the old
//! vector tells.
//!
//! Units: one per page of upper slots emptied, one per node page freed in, one for the
//! meta page's free hint. Between any two, the index is valid: upper slots are emptied
//! before their records are freed (an insert may take a free record and its spares at any
//! moment), a record is freed only if it is still a deleted row's entry, and the free hint
//! is a hint (inserts look for free slots from it and move on when there are none).

use super::chain::{chain, chain_bound};
use super::records::for_each_record;
use crate::graph::GraphRead;
use crate::page::node::{free_record, write_upper, NodeRecord, FLAG_DELETED, FLAG_FREE};
use crate::page::{FormatError, Layout, Meta, PageWrite, PagedGraph};
use std::collections::{BTreeMap, HashSet};

/// Frees the slots of `deleted` (graph nodes without live copies, as VACUUM's repair found
/// them) and of their alias chains. Returns how many slots were freed.
pub fn free_deleted_slots<S: PageWrite>(
    store: &S,
    meta: Meta,
    deleted: &HashSet<u32>,
) -> Result<usize, FormatError> {
    let layout = Layout::of(&meta);
    let graph = PagedGraph::new(store, meta);
    let mut candidates: HashSet<u32> = deleted.clone();
    if let Some(entry) = meta.entry {
        candidates.remove(&entry.node);
    }
    // Whatever a remaining node still links to stays, and so, in turn, does whatever
    // that one links to (a deleted node kept because something links to it keeps its own
    // lists): candidates that turn out to stay are queued and their lists walked too.
    let mut lowest_free_block: Option<u32> = None;
    let mut list = Vec::new();
    let mut staying: Vec<u32> = Vec::new();
    let mut keep_targets =
        |id: u32, level: usize, candidates: &mut HashSet<u32>, staying: &mut Vec<u32>| {
            for layer in 0..=level {
                graph.neighbours_into(id, layer, &mut list);
                for n in &list {
                    if candidates.remove(n) {
                        staying.push(*n);
                    }
                }
            }
        };
    for_each_record(store, &layout, |id, r| {
        if r.flags == FLAG_FREE {
            let block = layout.node_location(id).0;
            lowest_free_block = Some(lowest_free_block.map_or(block, |b| b.min(block)));
        }
        if !r.is_occupied() || candidates.contains(&id) {
            return;
        }
        keep_targets(id, r.level as usize, &mut candidates, &mut staying);
    });
    while let Some(id) = staying.pop() {
        let level = graph.node(id).level as usize;
        keep_targets(id, level, &mut candidates, &mut staying);
    }
    // Each freed node takes its chain of (all deleted) copies with it.
    let mut slots: Vec<u32> = Vec::new();
    let bound = chain_bound(&meta, &layout);
    for &id in &candidates {
        slots.push(id);
        slots.extend(chain(graph.node(id).next_duplicate, bound, |a| {
            Some(graph.node(a).next_duplicate)
        }));
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
            store.with_page(block, |p| {
                by_block[&block]
                    .iter()
                    .flat_map(|&at| NodeRecord::read(p, at, layout.m).owned_slots())
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    empty_upper_slots(store, &layout, &owned);
    let mut freed = 0;
    for (&block, places) in &by_block {
        store.pause();
        let done = store.modify(&[block], |pages| {
            let mut done = 0;
            for &at in places {
                let record = NodeRecord::read(pages[0], at, layout.m);
                // Re-checked under the lock: still a deleted row's entry, out of the tree.
                if !record.is_occupied() || record.flags & FLAG_DELETED == 0 || record.in_tree() {
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
        store.update_meta(|meta| {
            meta.free_hint = block;
            Some(())
        })?;
    }
    Ok(freed)
}

/// Empties the lists of upper slots (spares of free records, or taken over from one),
/// one unit per page.
pub fn empty_upper_slots<S: PageWrite>(store: &S, layout: &Layout, slots: &[u32]) {
    let mut by_block: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for &slot in slots {
        let (block, at) = layout.upper_location(slot);
        by_block.entry(block).or_default().push(at);
    }
    for (&block, places) in &by_block {
        store.modify(&[block], |pages| {
            for &at in places {
                write_upper(pages[0], at, layout.m, &[]);
            }
            Some(())
        });
    }
}
