//! VACUUM's repair pass (`hnsw_core::index::repair`) over Postgres buffers, and the walk
//! over every node record the other passes share.

use crate::storage::{format_error, BufferStore};
use hnsw_core::page::node::NodeRecord;
use hnsw_core::page::Layout;
use pgrx::pg_sys;

pub use hnsw_core::index::Repaired;

/// Every node record in the index, with its id, page by page (pausing between pages).
pub(super) fn for_each_record(
    index: pg_sys::Relation,
    layout: &Layout,
    f: impl FnMut(u32, &NodeRecord),
) {
    hnsw_core::index::for_each_record(&BufferStore::new(index), layout, f)
}

/// Repairs the graph around the nodes VACUUM has marked deleted.
pub fn repair(index: pg_sys::Relation) -> Repaired {
    hnsw_core::index::repair(&BufferStore::new(index)).unwrap_or_else(|e| format_error(e))
}
