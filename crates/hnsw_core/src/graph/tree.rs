//! The spanning tree that keeps every node reachable.
//!
//! HNSW by itself promises nothing about reachability: when every node that links to `u`
//! prunes `u` away, no search can reach `u` again, and for an index that is a row no
//! query returns. So every graph node also hangs in one tree on layer 0: a node that
//! joins links to a *parent* (a node already in the tree that its own search found,
//! nearest first) and the parent links back to it, and both links are *pinned*: they sit
//! at the front of the layer-0 lists and no re-selection ever drops them. The tree's edges
//! run both ways, so from any node a walk over layer 0 reaches every other; a scan, which
//! may start its layer-0 walk anywhere, can therefore reach every node.
//!
//! A list's pinned prefix is `[parent, child, child, ...]` (a root has no parent entry);
//! `pinned` counts its entries. A node takes at most `children_max(m)` children, so pinned
//! links never crowd out the ones the heuristic picks. A node whose candidates are all
//! full goes down the tree from the nearest one, through first children, to a node with
//! room (leaves always have room). Only nodes already in the tree may become parents, so
//! the tree never closes a cycle. VACUUM takes a deleted node out of the tree by handing
//! its children on first (`index::detach`), then freeing it is safe.

use super::select::select_neighbours;
use super::Neighbour;

/// The most children one node takes in the tree.
pub fn children_max(m: usize) -> usize {
    (m / 4).max(2)
}

/// How a node answered the offer to become a joining node's parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// It took the node as its child.
    Taken,
    /// It is full; `below` is a child of it (in the tree) where a walk can go on.
    Full { below: Option<u32> },
    /// It cannot take children (not in the tree, or not any more).
    Refused,
}

/// The one rule that picks a joining node's parent, for the build and for INSERT alike:
/// the first of `candidates` (nearest first) that takes it; else the first node with room
/// on a walk down the tree that starts below the nearest full candidate and goes through
/// a child of each full node (leaves always have room). A walk that cannot go on (or has
/// taken `steps` steps) starts again at `restart(where it stopped)`, at most `walks`
/// times in all. `offer` does the joining. Returns the parent, or None if every walk
/// ended without one (or `restart` had nowhere to start).
pub fn choose_parent(
    candidates: impl IntoIterator<Item = u32>,
    mut offer: impl FnMut(u32) -> Offer,
    mut restart: impl FnMut(Option<u32>) -> Option<u32>,
    walks: usize,
    steps: usize,
) -> Option<u32> {
    let mut below_full = None;
    for candidate in candidates {
        match offer(candidate) {
            Offer::Taken => return Some(candidate),
            Offer::Full { below: Some(child) } => {
                below_full.get_or_insert(child);
            }
            Offer::Full { below: None } | Offer::Refused => {}
        }
    }
    let mut stopped = None;
    for _ in 0..walks {
        let mut at = below_full.take().or_else(|| restart(stopped))?;
        for _ in 0..steps {
            match offer(at) {
                Offer::Taken => return Some(at),
                Offer::Full { below: Some(child) } => at = child,
                Offer::Full { below: None } | Offer::Refused => break,
            }
        }
        stopped = Some(at);
    }
    None
}

/// How a layer-0 list is split: its first `pinned` entries are tree links, the first of
/// them the parent if `has_parent`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeLinks {
    pub pinned: usize,
    pub has_parent: bool,
}

impl TreeLinks {
    pub fn children(&self) -> usize {
        self.pinned.saturating_sub(self.has_parent as usize)
    }

    /// The children's positions in the list.
    pub fn child_range(&self) -> std::ops::Range<usize> {
        self.has_parent as usize..self.pinned
    }
}

/// Cuts `links` (a list whose first `pinned` entries are tree links) down to `max`
/// entries: the tree links stay, the rest are re-selected with the heuristic over their
/// distance to the list's owner (`to_base`). Used by the build's and the inserts' back-
/// links alike.
pub fn prune(
    links: &mut Vec<u32>,
    pinned: usize,
    max: usize,
    to_base: impl Fn(u32) -> f32,
    distance: impl Fn(u32, u32) -> f32,
) {
    if links.len() <= max {
        return;
    }
    let pinned = pinned.min(max); // tree links leave room in every list, unless damaged
    let mut candidates: Vec<Neighbour> = links[pinned..]
        .iter()
        .map(|&id| Neighbour {
            distance: to_base(id),
            id,
        })
        .collect();
    candidates.sort();
    let chosen = select_neighbours(&candidates, max - pinned, distance);
    links.truncate(pinned);
    links.extend(chosen);
}

/// Adds `child` as a pinned child to a list with tree links `tree`, taking it out of the
/// unpinned part if it is already there; if the list overflows `max`, its last unpinned
/// entry goes. Returns the new tree links.
pub fn add_child(links: &mut Vec<u32>, tree: TreeLinks, child: u32, max: usize) -> TreeLinks {
    if let Some(i) = links[tree.pinned..].iter().position(|&n| n == child) {
        links.remove(tree.pinned + i);
    }
    links.insert(tree.pinned, child);
    if links.len() > max {
        links.pop();
    }
    TreeLinks {
        pinned: tree.pinned + 1,
        ..tree
    }
}

/// Makes `parent` the list's pinned parent (the list has no parent yet, or its parent is
/// replaced): it moves to the front, out of the unpinned part if it was there.
pub fn set_parent(links: &mut Vec<u32>, tree: TreeLinks, parent: u32, max: usize) -> TreeLinks {
    if let Some(i) = links[tree.pinned..].iter().position(|&n| n == parent) {
        links.remove(tree.pinned + i);
    }
    if tree.has_parent {
        links[0] = parent;
        return tree;
    }
    links.insert(0, parent);
    if links.len() > max {
        links.pop();
    }
    TreeLinks {
        pinned: tree.pinned + 1,
        has_parent: true,
    }
}

/// Unpins `node` (the parent or a child): it stays in the list as an ordinary link, so a
/// walk that arrives here can still go on through it, until re-selection or VACUUM drops
/// it. Returns the new tree links (unchanged if `node` was not pinned).
pub fn unpin(links: &mut Vec<u32>, tree: TreeLinks, node: u32) -> TreeLinks {
    let Some(i) = links[..tree.pinned].iter().position(|&n| n == node) else {
        return tree;
    };
    let id = links.remove(i);
    links.insert(tree.pinned - 1, id);
    TreeLinks {
        pinned: tree.pinned - 1,
        has_parent: tree.has_parent && i != 0,
    }
}
