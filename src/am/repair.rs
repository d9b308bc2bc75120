//! VACUUM's repair pass (`hnsw_core::index::repair`) over Postgres buffers.

use crate::storage::{format_error, BufferStore};
use pgrx::pg_sys;

pub use hnsw_core::index::Repaired;

/// Repairs the graph around the nodes VACUUM has marked deleted.
pub fn repair(index: pg_sys::Relation) -> Repaired {
    hnsw_core::index::repair(&BufferStore::new(index)).unwrap_or_else(|e| format_error(e))
}
