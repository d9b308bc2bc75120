//! Planner costs: an hnsw scan does its work before the first row (the whole beam), and
//! touches a small, size-independent part of the index; without ORDER BY it is useless.

use super::options::{ef_search, stored_options};
use pgrx::pg_sys;
use pgrx::prelude::*;

#[pg_guard]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C-unwind" fn amcostestimate(
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    loop_count: f64,
    startup_cost: *mut pg_sys::Cost,
    total_cost: *mut pg_sys::Cost,
    selectivity: *mut pg_sys::Selectivity,
    correlation: *mut f64,
    pages: *mut f64,
) {
    // SAFETY: the planner passes valid pointers; the index is locked by the planner, so
    // opening it with NoLock is safe.
    unsafe {
        if (*path).indexorderbys.is_null() {
            crate::compat::disable_path(path);
            *startup_cost = f64::MAX;
            *total_cost = f64::MAX;
            *selectivity = 0.0;
            *correlation = 0.0;
            *pages = 0.0;
            return;
        }
        let info = (*path).indexinfo;
        let index = pg_sys::index_open((*info).indexoid, pg_sys::NoLock as i32);
        let m = stored_options(index).m as f64;
        pg_sys::index_close(index, pg_sys::NoLock as i32);
        let tuples = (*info).tuples.max(1.0);
        // Descent through the upper layers plus the layer-0 beam: about ef_search nodes
        // expanded, each reading a few of its 2m neighbours' vectors.
        let levels = (tuples.ln() / m.ln()).max(1.0);
        let visited = ((levels + 2.0) * m + ef_search() as f64 * 2.0).min(tuples);
        let mut costs = pg_sys::GenericCosts {
            numIndexTuples: visited,
            ..Default::default()
        };
        pg_sys::genericcostestimate(root, path, loop_count, &mut costs);
        *startup_cost = costs.indexTotalCost;
        *total_cost = costs.indexTotalCost;
        *selectivity = costs.indexSelectivity;
        *correlation = 0.0;
        *pages = costs.numIndexPages;
    }
}
