//! What a scan returns for a node its search ranked: the node's rows, checked.

use super::chain::{chain, chain_bound};
use crate::graph::GraphRead;
use crate::page::node::{HeapTid, FLAG_ALIAS, FLAG_DELETED};
use crate::page::{PageStore, PagedGraph};
use std::collections::TryReserveError;

/// The rows of node `id` (its own and its exact duplicates', minus deleted ones), if the
/// slot still holds the vector the search ranked at `distance`. A resumed scan holds ids
/// across calls; meanwhile VACUUM may free a slot and an insert reuse it for another row.
/// The generation, read before and after the vector, tells whether the slot changed
/// hands while we looked; the distance, whether it had before.
pub fn rows_of<S: PageStore>(
    graph: &PagedGraph<S>,
    query: &[f32],
    id: u32,
    distance: f32,
) -> Result<Option<Vec<HeapTid>>, TryReserveError> {
    rows_of_matching(graph, query, id, distance, |_| true)
}

/// `rows_of`, with only the rows of the records (the node's and its aliases') whose id
/// `keep` accepts: a filtered scan's matches (`index::keys`).
pub fn rows_of_matching<S: PageStore>(
    graph: &PagedGraph<S>,
    query: &[f32],
    id: u32,
    distance: f32,
    mut keep: impl FnMut(u32) -> bool,
) -> Result<Option<Vec<HeapTid>>, TryReserveError> {
    let node = graph.node(id);
    if !node.is_occupied() || node.flags & FLAG_ALIAS != 0 {
        return Ok(None); // freed, being reused, or an alias reached by a stale link
    }
    let mut now = Vec::with_capacity(1);
    graph.exact_distances_to(query, &[id], &mut now);
    let now = now[0];
    let same = now.to_bits() == distance.to_bits() || (now.is_nan() && distance.is_nan());
    if !same || graph.node(id).generation != node.generation {
        return Ok(None);
    }
    let mut tids = Vec::new();
    if node.flags & FLAG_DELETED == 0 && keep(id) {
        tids.try_reserve(1)?;
        tids.push(node.tid);
    }
    let bound = chain_bound(&graph.meta, &graph.layout);
    for a in chain(node.next_duplicate, bound, |a| {
        Some(graph.node(a).next_duplicate)
    }) {
        let record = graph.node(a);
        if !record.is_occupied() || record.flags & FLAG_ALIAS == 0 {
            break; // a chain holds aliases only
        }
        if record.flags & FLAG_DELETED == 0 && keep(a) {
            tids.try_reserve(1)?;
            tids.push(record.tid);
        }
    }
    Ok(Some(tids))
}
