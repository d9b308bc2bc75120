//! VACUUM: mark the nodes of dead heap tuples deleted (scans skip them at once), then, in
//! the cleanup step, repair the graph around them (`repair`), so no live node points at a
//! deleted one, and give their slots back for later inserts (`free`).

use crate::storage::{modify_pages, read_meta, BufferStore};
use hnsw_core::page::node::{NodeRecord, FLAG_DELETED, FLAG_OCCUPIED};
use hnsw_core::page::{page_is_new, page_used, Layout, PageKind, PageStore, HEADER_SIZE};
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::storage::relation_blocks as blocks;

/// Visits every node page; `visit` gets each live node and returns true to delete it.
/// Returns (live nodes kept, nodes deleted now).
fn for_each_node(
    index: pg_sys::Relation,
    mut visit: impl FnMut(&NodeRecord) -> bool,
) -> (f64, f64) {
    let meta = read_meta(index);
    let layout = Layout::of(&meta);
    let (mut kept, mut deleted) = (0.0, 0.0);
    for block in 1..blocks(index) {
        if layout.block_kind(block).0 != PageKind::Nodes {
            continue;
        }
        crate::compat::vacuum_delay_point();
        let used =
            BufferStore::new(index)
                .with_page(block, |p| if page_is_new(p) { 0 } else { page_used(p) });
        if used == 0 {
            continue;
        }
        let mut to_delete = Vec::new();
        BufferStore::new(index).with_page(block, |p| {
            for k in 0..page_used(p) as usize {
                let record = NodeRecord::read(p, HEADER_SIZE + k * layout.node_size, layout.m);
                if record.flags & FLAG_OCCUPIED == 0 || record.flags & FLAG_DELETED != 0 {
                    continue;
                }
                if visit(&record) {
                    to_delete.push(k);
                } else {
                    kept += 1.0;
                }
            }
        });
        if !to_delete.is_empty() {
            deleted += to_delete.len() as f64;
            modify_pages(index, &[block], |pages| {
                for &k in &to_delete {
                    pages[0][HEADER_SIZE + k * layout.node_size + 7] |= FLAG_DELETED;
                }
                Some(())
            });
        }
    }
    (kept, deleted)
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambulkdelete(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    callback_state: *mut std::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: VACUUM passes a valid info, an optional stats struct and the dead-TID callback.
    unsafe {
        let index = (*info).index;
        let stats = if stats.is_null() {
            PgBox::<pg_sys::IndexBulkDeleteResult>::alloc0().into_pg()
        } else {
            stats
        };
        let callback = callback.expect("VACUUM always passes a callback");
        let (kept, deleted) = for_each_node(index, |record| {
            let mut tid = pg_sys::ItemPointerData::default();
            pgrx::itemptr::item_pointer_set_all(&mut tid, record.tid.block, record.tid.offset);
            callback(&mut tid, callback_state)
        });
        (*stats).tuples_removed += deleted;
        (*stats).num_index_tuples = kept;
        (*stats).num_pages = blocks(index);
        stats
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amvacuumcleanup(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: as in ambulkdelete.
    unsafe {
        if (*info).analyze_only {
            return stats;
        }
        let index = (*info).index;
        // Once per VACUUM, after every bulk-delete pass: also fixes links that concurrent
        // inserts made to nodes an earlier VACUUM had already deleted.
        let repaired = super::repair::repair(index);
        super::free::free_deleted_slots(index, &repaired.deleted);
        if stats.is_null() {
            // No bulk delete ran: count the live nodes for the statistics.
            let stats = PgBox::<pg_sys::IndexBulkDeleteResult>::alloc0().into_pg();
            (*stats).num_index_tuples = for_each_node(index, |_| false).0;
            (*stats).num_pages = blocks(index);
            return stats;
        }
        (*stats).num_pages = blocks(index);
        stats
    }
}
