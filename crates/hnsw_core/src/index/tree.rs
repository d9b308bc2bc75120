//! The tree that keeps every row reachable (see `graph::tree`), on pages: an insert joins
//! it (`join_tree`), VACUUM takes a deleted node out of it (`detach`) before unlinking
//! and freeing the node. Each step is one unit over the two or three node pages it
//! changes, re-checked under the locks, so between any two units every tree node still
//! hangs from the root: a crash or an ERROR anywhere leaves the tree whole.
//!
//! Only an insert adds to the tree, and only leaves; only VACUUM (one at a time per
//! index) moves nodes within it. So the parent pointers never change under VACUUM's feet,
//! and the one thing that can change concurrently, a node taking a child, is what the
//! units re-check.

use crate::graph::max_degree;
use crate::graph::tree::{
    add_child, children_max, choose_parent, set_parent, unpin, Offer, TreeLinks,
};
use crate::page::node::{set_in_tree, write_layer0_tree, NodeRecord, FLAG_ALIAS};
use crate::page::{Layout, PageWrite};
use std::collections::HashSet;

/// How far a walk down the tree goes before it gives up (full nodes are a small share of
/// the tree, so a real walk meets one with room within a few steps; only a damaged index
/// has a path this long without one).
const WALK_LIMIT: usize = 4096;

/// How often `join_tree` starts a walk again from the entry point, when VACUUM took the
/// node it was walking to out of the tree meanwhile.
const WALK_RESTARTS: usize = 4;

/// Node records on the pages of one unit.
pub(crate) struct Nodes<'a, 'b> {
    pages: &'a mut [&'b mut [u8]],
    /// (page, offset) of each node, in the order the caller named them.
    places: Vec<(usize, usize)>,
    m: usize,
}

impl Nodes<'_, '_> {
    pub(crate) fn record(&self, k: usize) -> NodeRecord {
        let (page, at) = self.places[k];
        NodeRecord::read(self.pages[page], at, self.m)
    }

    pub(crate) fn write_layer0(&mut self, k: usize, ids: &[u32], tree: TreeLinks) {
        let (page, at) = self.places[k];
        write_layer0_tree(self.pages[page], at, self.m, ids, tree)
    }

    pub(crate) fn set_in_tree(&mut self, k: usize, in_tree: bool) {
        let (page, at) = self.places[k];
        set_in_tree(self.pages[page], at, in_tree)
    }

    /// Takes node `k` out of the tree: its tree links stay in its list as ordinary links
    /// (a walk that lands on it still gets on), nothing is pinned any more.
    pub(crate) fn leave_tree(&mut self, k: usize) {
        let links = self.record(k).layer0;
        self.write_layer0(k, &links, TreeLinks::default());
        self.set_in_tree(k, false);
    }
}

/// Changes the records of `ids` (distinct nodes, on at most 4 pages) as one unit.
pub(crate) fn modify_nodes<S: PageWrite, R>(
    store: &S,
    layout: &Layout,
    ids: &[u32],
    f: impl FnOnce(&mut Nodes) -> Option<R>,
) -> Option<R> {
    let located: Vec<(u32, usize)> = ids.iter().map(|&id| layout.node_location(id)).collect();
    let mut blocks: Vec<u32> = located.iter().map(|&(block, _)| block).collect();
    blocks.sort_unstable();
    blocks.dedup();
    let places = located
        .iter()
        .map(|(block, at)| (blocks.binary_search(block).expect("locked"), *at))
        .collect();
    store.modify(&blocks, |pages| {
        f(&mut Nodes {
            pages,
            places,
            m: layout.m,
        })
    })
}

/// Whether `r` may take children: a graph node in the tree.
fn can_parent(r: &NodeRecord) -> bool {
    r.is_occupied() && r.in_tree() && r.flags & FLAG_ALIAS == 0
}

/// Makes node `id` (its own lists written, not yet in the tree) a child of the first of
/// `candidates` (nearest first) that is in the tree and has room; if none takes it, of
/// the first node with room on a walk down the tree from below the nearest full one, or
/// from the entry point as the meta page says now (the search may have run on a graph a
/// VACUUM changed meanwhile, or the walk may meet a node VACUUM just took out of the
/// tree: then it starts again from the entry point). False only if the index is damaged.
pub fn join_tree<S: PageWrite>(store: &S, layout: &Layout, id: u32, candidates: &[u32]) -> bool {
    let cap = children_max(layout.m);
    let max = max_degree(layout.m, 0);
    let offer = |parent: u32| -> Offer {
        if parent == id {
            return Offer::Refused;
        }
        let mut answer = Offer::Refused;
        let done = modify_nodes(store, layout, &[id, parent], |nodes| {
            let p = nodes.record(1);
            if !can_parent(&p) {
                return None;
            }
            let tree = p.tree_links();
            if tree.children() >= cap {
                let below = p.children()[0];
                answer = Offer::Full {
                    below: (below != id).then_some(below),
                };
                return None;
            }
            let mut links = p.layer0.clone();
            let tree = add_child(&mut links, tree, id, max);
            nodes.write_layer0(1, &links, tree);
            let me = nodes.record(0);
            let mut links = me.layer0.clone();
            let tree = set_parent(&mut links, me.tree_links(), parent, max);
            nodes.write_layer0(0, &links, tree);
            nodes.set_in_tree(0, true);
            Some(())
        });
        done.map_or(answer, |()| Offer::Taken)
    };
    let from_entry = |_| store.meta().entry.map(|e| e.node);
    choose_parent(
        candidates.iter().copied(),
        offer,
        from_entry,
        WALK_RESTARTS,
        WALK_LIMIT,
    )
    .is_some()
}

/// Takes node `x` (deleted) out of the tree, so that VACUUM may unlink and free it: each
/// child but one moves below the remaining one (the heir), then the heir takes `x`'s
/// place under `x`'s parent (or becomes the root). `gone` (the nodes this VACUUM removes)
/// are avoided as heir and new parents where possible. True once `x` is out of the tree;
/// false if concurrent inserts kept adding children to it (it then stays, linked, for
/// the next VACUUM).
pub fn detach<S: PageWrite>(store: &S, layout: &Layout, x: u32, gone: &HashSet<u32>) -> bool {
    let max = max_degree(layout.m, 0);
    let read = |id: u32| {
        let (block, at) = layout.node_location(id);
        store.with_page(block, |p| NodeRecord::read(p, at, layout.m))
    };
    for _ in 0..8 {
        let r = read(x);
        if !r.in_tree() {
            return true;
        }
        let children = r.children().to_vec();
        let parent = r.parent();
        let Some(&heir) = children
            .iter()
            .find(|c| !gone.contains(c))
            .or(children.first())
        else {
            // A leaf: its parent lets go of it. (A root without children is the only
            // tree node: it stays.)
            let Some(p) = parent else { return false };
            let done = modify_nodes(store, layout, &[x, p], |nodes| {
                let me = nodes.record(0);
                if !me.in_tree() || !me.children().is_empty() || me.parent() != Some(p) {
                    return None;
                }
                nodes.leave_tree(0);
                let parent = nodes.record(1);
                let mut links = parent.layer0.clone();
                let tree = unpin(&mut links, parent.tree_links(), x);
                nodes.write_layer0(1, &links, tree);
                Some(())
            });
            if done.is_some() {
                return true;
            }
            continue;
        };
        for &child in children.iter().filter(|&&c| c != heir) {
            if let Some(adopter) = room_below(store, layout, heir, gone) {
                move_child(store, layout, x, child, adopter, max);
            }
        }
        let mut ids = vec![heir, x];
        ids.extend(parent);
        let done = modify_nodes(store, layout, &ids, |nodes| {
            let (h, me) = (nodes.record(0), nodes.record(1));
            if !me.in_tree() || me.children() != [heir] || me.parent() != parent {
                return None; // a child joined meanwhile (or a move failed): again
            }
            if h.parent() != Some(x) {
                return None;
            }
            let mut links = h.layer0.clone();
            let tree = match parent {
                Some(p) => set_parent(&mut links, h.tree_links(), p, max),
                None => unpin(&mut links, h.tree_links(), x),
            };
            nodes.write_layer0(0, &links, tree);
            nodes.leave_tree(1);
            if parent.is_some() {
                let pr = nodes.record(2);
                let mut links = pr.layer0.clone();
                let tree = unpin(&mut links, pr.tree_links(), x);
                let tree = add_child(&mut links, tree, heir, max);
                nodes.write_layer0(2, &links, tree);
            }
            Some(())
        });
        if done.is_some() {
            return true;
        }
    }
    false
}

/// A tree node with room for a child at or below `from`, on a walk down through first
/// children (ones not `gone` preferred).
fn room_below<S: PageWrite>(
    store: &S,
    layout: &Layout,
    from: u32,
    gone: &HashSet<u32>,
) -> Option<u32> {
    let cap = children_max(layout.m);
    let mut at = from;
    for _ in 0..WALK_LIMIT {
        let (block, offset) = layout.node_location(at);
        let r = store.with_page(block, |p| NodeRecord::read(p, offset, layout.m));
        if !can_parent(&r) {
            return None;
        }
        let children = r.children();
        if children.len() < cap {
            return Some(at);
        }
        at = *children
            .iter()
            .find(|c| !gone.contains(c))
            .unwrap_or(&children[0]);
    }
    None
}

/// Moves `child` from `x`'s children to `adopter`'s, in one unit, if all three still are
/// as they were read (the adopter may have filled up meanwhile: then nothing changes and
/// `detach` tries again).
fn move_child<S: PageWrite>(
    store: &S,
    layout: &Layout,
    x: u32,
    child: u32,
    adopter: u32,
    max: usize,
) -> bool {
    let cap = children_max(layout.m);
    modify_nodes(store, layout, &[child, adopter, x], |nodes| {
        let (c, a, me) = (nodes.record(0), nodes.record(1), nodes.record(2));
        if c.parent() != Some(x) || !me.children().contains(&child) {
            return None;
        }
        if !can_parent(&a) || a.children().len() >= cap {
            return None;
        }
        let mut links = c.layer0.clone();
        let tree = set_parent(&mut links, c.tree_links(), adopter, max);
        nodes.write_layer0(0, &links, tree);
        let mut links = a.layer0.clone();
        let tree = add_child(&mut links, a.tree_links(), child, max);
        nodes.write_layer0(1, &links, tree);
        let mut links = me.layer0.clone();
        let tree = unpin(&mut links, me.tree_links(), child);
        nodes.write_layer0(2, &links, tree);
        Some(())
    })
    .is_some()
}
