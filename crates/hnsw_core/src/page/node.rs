//! Node records and upper-layer slots, read and written in place on a page.
//!
//! Node record (little-endian), `Layout::node_size` bytes:
//! ```text
//!  0  u32  heap block        8  u32  generation
//!  4  u16  heap offset      12  u16  layer-0 neighbour count
//!  6  u8   level            14  u16  tree links: how many layer-0 neighbours are pinned
//!  7  u8   flags            16  u32  next duplicate (NO_NODE = none)
//!                           20  u32 x MAX_LEVEL   upper slot of layers 1..=level,
//!                                                 then spare slots the record owns
//!                           ..  u32 x 2m          layer-0 neighbours
//! ```
//! A record is live (possibly also deleted, or an alias), free (VACUUM gave its slot back:
//! no links, its old upper slots kept as spares for the next owner), or reserved (flags 0:
//! an insert has taken the free slot and is writing it). Every reuse bumps `generation`.
//! Exact duplicates of a vector are not graph nodes: the first copy is, and every later
//! copy is an *alias* record (FLAG_ALIAS, no links) chained from it through `next
//! duplicate`. A scan that reaches a node returns its whole chain. So thousands of equal
//! vectors cost one graph node and never crowd out its neighbours.
//! Graph nodes also hang in one spanning tree on layer 0 (see `graph::tree`): FLAG_TREE
//! says the node is in it, the first `tree links` layer-0 neighbours are its pinned tree
//! links, and with FLAG_CHILD the first of them is its parent (a tree node without it is
//! the root).
//! Upper slot: `u32 count`, then `m` u32 neighbour ids.

use super::{get_u16, get_u32, put_u16, put_u32};
use crate::graph::tree::TreeLinks;
use crate::graph::{MAX_LEVEL, NO_NODE};
use crate::page::layout::NODE_HEADER;

/// A heap tuple's address (ItemPointer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct HeapTid {
    pub block: u32,
    pub offset: u16,
}

/// Node flags.
pub const FLAG_OCCUPIED: u8 = 1;
pub const FLAG_DELETED: u8 = 2;
pub const FLAG_ALIAS: u8 = 4;
pub const FLAG_FREE: u8 = 8;
pub const FLAG_TREE: u8 = 16;
pub const FLAG_CHILD: u8 = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    pub tid: HeapTid,
    pub level: u8,
    pub flags: u8,
    pub generation: u32,
    /// The next exact duplicate in this node's chain.
    pub next_duplicate: u32,
    /// Slot numbers for layers 1..=level.
    pub upper_slots: Vec<u32>,
    /// Upper slots the record owns beyond its level (left by an earlier owner of the slot).
    pub spare_slots: Vec<u32>,
    pub layer0: Vec<u32>,
    /// How many of `layer0`'s first entries are tree links.
    pub pinned: u16,
}

impl NodeRecord {
    /// The slot holds a row's entry (which may be deleted or an alias), not a free or
    /// reserved slot.
    pub fn is_occupied(&self) -> bool {
        self.flags & FLAG_OCCUPIED != 0
    }

    /// Live, not deleted and not an alias: a node the graph should link to.
    pub fn is_linked_node(&self) -> bool {
        self.is_occupied() && self.flags & (FLAG_DELETED | FLAG_ALIAS) == 0
    }

    /// Whether the node is in the tree (the root, or a node with a parent).
    pub fn in_tree(&self) -> bool {
        self.flags & FLAG_TREE != 0
    }

    /// How the layer-0 list splits into tree links and the rest (a damaged count is
    /// clamped to the list).
    pub fn tree_links(&self) -> TreeLinks {
        tree_links(self.pinned as usize, self.layer0.len(), self.flags)
    }

    /// The node's parent in the tree.
    pub fn parent(&self) -> Option<u32> {
        self.tree_links()
            .has_parent
            .then(|| self.layer0.first().copied())?
    }

    /// The node's children in the tree.
    pub fn children(&self) -> &[u32] {
        let range = self.tree_links().child_range();
        self.layer0.get(range).unwrap_or(&[])
    }

    /// All upper slots the record owns, in use or spare.
    pub fn owned_slots(&self) -> Vec<u32> {
        self.upper_slots
            .iter()
            .chain(&self.spare_slots)
            .copied()
            .collect()
    }

    /// Writes the record at `at` in `page`. `m` fixes the layer-0 capacity (2m).
    pub fn write(&self, page: &mut [u8], at: usize, m: usize) {
        assert!(self.upper_slots.len() == self.level as usize);
        assert!(self.upper_slots.len() + self.spare_slots.len() <= MAX_LEVEL);
        assert!(self.layer0.len() <= 2 * m);
        put_u32(page, at, self.tid.block);
        put_u16(page, at + 4, self.tid.offset);
        page[at + 6] = self.level;
        page[at + 7] = self.flags;
        put_u32(page, at + 8, self.generation);
        put_u16(page, at + 14, self.pinned);
        put_u32(page, at + 16, self.next_duplicate);
        let owned = self.owned_slots();
        for i in 0..MAX_LEVEL {
            let slot = owned.get(i).copied().unwrap_or(NO_NODE);
            put_u32(page, at + NODE_HEADER + 4 * i, slot);
        }
        write_links(
            page,
            at + 12,
            at + NODE_HEADER + 4 * MAX_LEVEL,
            2 * m,
            &self.layer0,
            true,
        );
    }

    pub fn read(page: &[u8], at: usize, m: usize) -> NodeRecord {
        let level = page[at + 6].min(MAX_LEVEL as u8);
        let slot = |i: usize| get_u32(page, at + NODE_HEADER + 4 * i);
        NodeRecord {
            tid: HeapTid {
                block: get_u32(page, at),
                offset: get_u16(page, at + 4),
            },
            level,
            flags: page[at + 7],
            generation: get_u32(page, at + 8),
            next_duplicate: get_u32(page, at + 16),
            upper_slots: (0..level as usize).map(slot).collect(),
            spare_slots: (level as usize..MAX_LEVEL)
                .map(slot)
                .filter(|&s| s != NO_NODE)
                .collect(),
            layer0: read_links(page, at + 12, at + NODE_HEADER + 4 * MAX_LEVEL, 2 * m, true),
            pinned: get_u16(page, at + 14),
        }
    }
}

/// The tree links of the record at `at`, whose layer-0 list holds `len` ids (as read).
pub fn record_tree(page: &[u8], at: usize, len: usize) -> TreeLinks {
    tree_links(get_u16(page, at + 14) as usize, len, page[at + 7])
}

/// Tree links from a record's pinned count, list length and flags: never more pinned
/// entries than the list holds, and a parent only if one is pinned.
fn tree_links(pinned: usize, len: usize, flags: u8) -> TreeLinks {
    let pinned = pinned.min(len);
    TreeLinks {
        pinned,
        has_parent: pinned > 0 && flags & FLAG_CHILD != 0,
    }
}

/// Writes the layer-0 list of the record at `at` with its tree links.
pub fn write_layer0_tree(page: &mut [u8], at: usize, m: usize, ids: &[u32], tree: TreeLinks) {
    assert!(tree.pinned <= ids.len());
    put_u16(page, at + 14, tree.pinned as u16);
    write_layer0(page, at, m, ids);
    if tree.has_parent {
        page[at + 7] |= FLAG_CHILD;
    } else {
        page[at + 7] &= !FLAG_CHILD;
    }
}

/// Sets or clears FLAG_TREE on the record at `at`.
pub fn set_in_tree(page: &mut [u8], at: usize, in_tree: bool) {
    if in_tree {
        page[at + 7] |= FLAG_TREE;
    } else {
        page[at + 7] &= !FLAG_TREE;
    }
}

/// Gives a dead record's slot back for reuse: no row, no links, no chain; its upper slots
/// stay with it as spares (their lists must be emptied separately).
pub fn free_record(page: &mut [u8], at: usize, m: usize) {
    let old = NodeRecord::read(page, at, m);
    NodeRecord {
        tid: HeapTid::default(),
        level: 0,
        flags: FLAG_FREE,
        generation: old.generation,
        next_duplicate: NO_NODE,
        upper_slots: Vec::new(),
        spare_slots: old.owned_slots(),
        layer0: Vec::new(),
        pinned: 0,
    }
    .write(page, at, m);
}

/// Takes the free record at `at` for an insert: reserved (flags 0), generation bumped.
/// Returns the record as it now is.
pub fn reserve_free_record(page: &mut [u8], at: usize, m: usize) -> NodeRecord {
    let mut record = NodeRecord::read(page, at, m);
    debug_assert_eq!(record.flags, FLAG_FREE);
    record.flags = 0;
    record.generation = record.generation.wrapping_add(1);
    record.write(page, at, m);
    record
}

/// Layer-0 neighbours of the record at `at`.
pub fn read_layer0(page: &[u8], at: usize, m: usize, out: &mut Vec<u32>) {
    *out = read_links(page, at + 12, at + NODE_HEADER + 4 * MAX_LEVEL, 2 * m, true);
}

/// Writes the layer-0 list of the record at `at`, its tree links unchanged (the caller
/// keeps the pinned entries in front).
pub fn write_layer0(page: &mut [u8], at: usize, m: usize, ids: &[u32]) {
    debug_assert!(get_u16(page, at + 14) as usize <= ids.len());
    write_links(
        page,
        at + 12,
        at + NODE_HEADER + 4 * MAX_LEVEL,
        2 * m,
        ids,
        true,
    );
}

/// The flags of the record at `at` (without reading the rest of it).
pub fn record_flags(page: &[u8], at: usize) -> u8 {
    page[at + 7]
}

/// The level of the record at `at` (without reading the rest of it).
pub fn record_level(page: &[u8], at: usize) -> usize {
    (page[at + 6] as usize).min(MAX_LEVEL)
}

/// The next-duplicate link of the record at `at`.
pub fn next_duplicate(page: &[u8], at: usize) -> u32 {
    get_u32(page, at + 16)
}

pub fn set_next_duplicate(page: &mut [u8], at: usize, next: u32) {
    put_u32(page, at + 16, next)
}

/// The upper slot number of layer `layer` (>= 1) in the record at `at`.
pub fn upper_slot_of(page: &[u8], at: usize, layer: usize) -> u32 {
    get_u32(page, at + NODE_HEADER + 4 * (layer - 1))
}

pub fn read_upper(page: &[u8], at: usize, m: usize, out: &mut Vec<u32>) {
    *out = read_links(page, at, at + 4, m, false);
}

pub fn write_upper(page: &mut [u8], at: usize, m: usize, ids: &[u32]) {
    write_links(page, at, at + 4, m, ids, false);
}

/// The neighbour list at `at` for `layer`: the layer-0 list of the node record there, or
/// the upper-layer slot there.
pub fn read_list(page: &[u8], at: usize, m: usize, layer: usize, out: &mut Vec<u32>) {
    if layer == 0 {
        read_layer0(page, at, m, out)
    } else {
        read_upper(page, at, m, out)
    }
}

pub fn write_list(page: &mut [u8], at: usize, m: usize, layer: usize, ids: &[u32]) {
    if layer == 0 {
        write_layer0(page, at, m, ids)
    } else {
        write_upper(page, at, m, ids)
    }
}

/// A count (u16 or u32) at `count_at`, then `capacity` ids at `ids_at`; a count above the
/// capacity (a corrupt page) is clamped rather than read past the slot.
fn read_links(
    page: &[u8],
    count_at: usize,
    ids_at: usize,
    capacity: usize,
    short: bool,
) -> Vec<u32> {
    let count = if short {
        get_u16(page, count_at) as usize
    } else {
        get_u32(page, count_at) as usize
    };
    (0..count.min(capacity))
        .map(|i| get_u32(page, ids_at + 4 * i))
        .collect()
}

fn write_links(
    page: &mut [u8],
    count_at: usize,
    ids_at: usize,
    capacity: usize,
    ids: &[u32],
    short: bool,
) {
    assert!(ids.len() <= capacity);
    for i in 0..capacity {
        put_u32(page, ids_at + 4 * i, ids.get(i).copied().unwrap_or(NO_NODE));
    }
    if short {
        put_u16(page, count_at, ids.len() as u16);
    } else {
        put_u32(page, count_at, ids.len() as u32);
    }
}
