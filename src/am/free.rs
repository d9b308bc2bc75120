//! VACUUM's last step, the free pass (`hnsw_core::index::free_deleted_slots`), over
//! Postgres buffers.

use crate::storage::{format_error, read_meta, BufferStore};
use pgrx::pg_sys;
use std::collections::HashSet;

/// Frees the slots of `deleted` (graph nodes without live copies, as `repair` found them)
/// and of their alias chains. Returns how many slots were freed.
pub fn free_deleted_slots(index: pg_sys::Relation, deleted: &HashSet<u32>) -> usize {
    hnsw_core::index::free_deleted_slots(&BufferStore::new(index), read_meta(index), deleted)
        .unwrap_or_else(|e| format_error(e))
}
