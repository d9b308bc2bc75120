//! The exact order: every node of the index by its distance to a query, for scans that
//! ask for exact results instead of a graph search (an `ivfflat` index probing all its
//! lists), and for the rest of a scan that took `hnsw.max_scan_tuples` nodes from the
//! graph and still has rows to find.

use super::for_each_record;
use crate::graph::{GraphRead, Neighbour};
use crate::page::node::FLAG_ALIAS;
use crate::page::{PageWrite, PagedGraph};
use std::collections::TryReserveError;

/// Every node holding a vector (occupied, not an alias: aliases return with their
/// primary through `rows_of`), nearest `query` first, ties by id. Deleted nodes are
/// included; `rows_of` leaves their rows out.
pub fn exact_order<S: PageWrite>(
    graph: &PagedGraph<S>,
    query: &[f32],
) -> Result<Vec<Neighbour>, TryReserveError> {
    let mut ids = Vec::new();
    let mut failed = None;
    for_each_record(&graph.store, &graph.layout, |id, record| {
        if failed.is_some() || !record.is_occupied() || record.flags & FLAG_ALIAS != 0 {
            return;
        }
        match ids.try_reserve(1) {
            Ok(()) => ids.push(id),
            Err(e) => failed = Some(e),
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let mut order = Vec::new();
    order.try_reserve_exact(ids.len())?;
    let mut distances = Vec::new();
    for chunk in ids.chunks(256) {
        graph.store.pause(); // a cancel lands between chunks
        graph.distances_to(query, chunk, &mut distances);
        order.extend(
            chunk
                .iter()
                .zip(&distances)
                .map(|(&id, &distance)| Neighbour { distance, id }),
        );
    }
    order.sort_unstable();
    Ok(order)
}

/// A scan that reaches `hnsw.max_scan_tuples` nodes finishes with the exact order when the
/// index holds at most this many nodes per node it may take: past its first beam a scan
/// spends about 5 µs a node (two expansions of 2m neighbours, and the row's heap fetch),
/// and an exact pass about a distance a node read in page order, so the pass costs a few
/// times the walk at most.
pub const EXACT_FINISH_NODES_PER_TUPLE: usize = 16;

/// Whether a scan of `graph` allowed `limit` nodes finishes with an exact pass when it
/// reaches them (see `EXACT_FINISH_NODES_PER_TUPLE`).
pub fn finishes_exactly<S: crate::page::PageStore>(graph: &PagedGraph<S>, limit: usize) -> bool {
    let nodes = graph.meta.groups as usize * graph.layout.group_nodes;
    nodes <= limit.saturating_mul(EXACT_FINISH_NODES_PER_TUPLE)
}

/// The nodes a scan that took `taken` has still to return, in the exact order: every node
/// of `exact_order` not in `taken`, and with `after`, none nearer than it (a scan in
/// strict order returns no row nearer than one it returned).
pub fn exact_rest<S: PageWrite>(
    graph: &PagedGraph<S>,
    query: &[f32],
    taken: &std::collections::HashSet<u32>,
    after: Option<f32>,
) -> Result<Vec<Neighbour>, TryReserveError> {
    let mut order = exact_order(graph, query)?;
    order.retain(|n| !taken.contains(&n.id) && after.is_none_or(|d| n.distance >= d));
    Ok(order)
}
