//! The exact order: every node of the index by its distance to a query, for scans that
//! ask for exact results instead of a graph search (an `ivfflat` index probing all its
//! lists).

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
