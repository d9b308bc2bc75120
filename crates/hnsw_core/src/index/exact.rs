//! The exact order: every node of the index by its distance to a query, for scans that
//! ask for exact results instead of a graph search (an `ivfflat` index probing all its
//! lists), and for the rest of a scan that took `hnsw.max_scan_tuples` nodes from the
//! graph and still has rows to find.

use super::for_each_record;
use crate::graph::{GraphRead, Neighbour};
use crate::page::node::FLAG_ALIAS;
use crate::page::{PageWrite, PagedGraph};
use std::collections::{BinaryHeap, TryReserveError};

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
    rank(
        graph,
        query,
        ids.iter().copied(),
        ids.len(),
        |_| true,
        usize::MAX,
    )
}

/// The `most` nearest `query` of `ids` (at most `count` of them) that `keep` passes, by
/// their exact distance, nearest first, ties by id; computed 256 at a time, pausing
/// between them (a cancel lands there). Holds `min(count, most)` of them at once.
pub(super) fn rank<S: PageWrite>(
    graph: &PagedGraph<S>,
    query: &[f32],
    ids: impl Iterator<Item = u32>,
    count: usize,
    keep: impl Fn(&Neighbour) -> bool,
    most: usize,
) -> Result<Vec<Neighbour>, TryReserveError> {
    let mut best: BinaryHeap<Neighbour> = BinaryHeap::new();
    best.try_reserve_exact(count.min(most))?;
    let (mut chunk, mut distances) = (Vec::new(), Vec::new());
    chunk.try_reserve_exact(CHUNK)?;
    let mut flush = |chunk: &mut Vec<u32>| {
        graph.store.pause();
        graph.exact_distances_to(query, chunk, &mut distances);
        for (&id, &distance) in chunk.iter().zip(&distances) {
            let found = Neighbour { distance, id };
            if !keep(&found) {
                continue;
            }
            if best.len() < most {
                best.push(found); // within the reservation: at most `count` pushed
            } else if best.peek().is_some_and(|worst| found < *worst) {
                best.pop();
                best.push(found);
            }
        }
        chunk.clear();
    };
    for id in ids {
        chunk.push(id);
        if chunk.len() == CHUNK {
            flush(&mut chunk);
        }
    }
    flush(&mut chunk);
    Ok(best.into_sorted_vec())
}

/// Distances `rank` computes at once.
const CHUNK: usize = 256;

/// A scan that may take `hnsw.max_scan_tuples` nodes from the graph finishes with the
/// exact order when the index holds at most this many node slots per node it may take:
/// past its first beam a scan spends about 5 µs a node (two expansions of 2m neighbours,
/// and the row's heap fetch), and an exact pass about a distance a node read in page
/// order, so the pass costs a few times the walk at most.
pub const EXACT_FINISH_NODES_PER_TUPLE: usize = 16;
/// ... and it switches to the exact order once it has taken this fraction of the slots,
/// if that comes first: the graph's rows come first, nearest first only roughly, and a
/// filter far from the query (Fashion-MNIST 60k, another class than the query's) got
/// recall@10 0.935 switching after 20,000 nodes and 0.979 after 7,500, at the same speed.
pub const EXACT_FINISH_SLOT_FRACTION: usize = 8;
/// Bytes an exact pass holds per node slot while it orders them (an id, then an id and
/// a distance).
pub const EXACT_BYTES_PER_NODE: usize = 12;

/// After how many nodes a scan of `graph` that may take `limit` of them and hold
/// `memory_limit` bytes goes on in exact order, if it does: when `limit` covers fewer
/// than the index's node slots but at least 1/`EXACT_FINISH_NODES_PER_TUPLE` of them,
/// and the pass fits the memory; after `limit` nodes, or an eighth of the slots if fewer.
/// A `limit` of every slot or more leaves the walk to reach every row itself.
pub fn exact_finish_after<S: crate::page::PageStore>(
    graph: &PagedGraph<S>,
    limit: usize,
    memory_limit: usize,
) -> Option<usize> {
    let slots = graph.meta.groups as usize * graph.layout.group_nodes;
    let finishes = limit < slots
        && slots <= limit.saturating_mul(EXACT_FINISH_NODES_PER_TUPLE)
        && slots.saturating_mul(EXACT_BYTES_PER_NODE) <= memory_limit;
    finishes.then(|| limit.min(slots / EXACT_FINISH_SLOT_FRACTION).max(1))
}

/// The nodes a scan that took `taken` has still to return, in the exact order: every node
/// of `exact_order` not in `taken`, and with `after`, none nearer than it (a scan in
/// strict order returns no row nearer than one it returned; a NaN distance is never
/// "nearer", as in `Scan`).
pub fn exact_rest<S: PageWrite>(
    graph: &PagedGraph<S>,
    query: &[f32],
    taken: &std::collections::HashSet<u32>,
    after: Option<f32>,
) -> Result<Vec<Neighbour>, TryReserveError> {
    let mut order = exact_order(graph, query)?;
    order.retain(|n| !taken.contains(&n.id) && after.is_none_or(|d| !(n.distance < d)));
    Ok(order)
}
