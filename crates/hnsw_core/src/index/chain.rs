//! Walking an exact-duplicate chain: the one walk every pass uses, with the one bound on
//! its length.

use crate::graph::NO_NODE;
use crate::page::{Layout, Meta};

/// The most links a chain walk follows: more than the index has node ids (every id lies
/// below the end of the current insert page), so only a damaged chain that loops is cut.
pub fn chain_bound(meta: &Meta, layout: &Layout) -> usize {
    meta.insert_page_first_node as usize + layout.nodes_per_page
}

/// The ids on a chain, from `first` (a node's next-duplicate link) on; `next_of(id)` gives
/// the link after `id` (`None`: no such record, the walk ends after it).
pub fn chain<F: FnMut(u32) -> Option<u32>>(first: u32, bound: usize, next_of: F) -> Chain<F> {
    Chain {
        next: first,
        left: bound,
        next_of,
    }
}

pub struct Chain<F> {
    next: u32,
    left: usize,
    next_of: F,
}

impl<F> Chain<F> {
    /// Whether the walk was cut at the bound (the chain loops).
    pub fn looped(&self) -> bool {
        self.next != NO_NODE && self.left == 0
    }
}

impl<F: FnMut(u32) -> Option<u32>> Iterator for Chain<F> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.next == NO_NODE || self.left == 0 {
            return None;
        }
        self.left -= 1;
        let id = self.next;
        self.next = (self.next_of)(id).unwrap_or(NO_NODE);
        Some(id)
    }
}
