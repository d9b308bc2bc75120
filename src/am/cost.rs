//! Planner costs. An hnsw scan does the work of its first beam before the first row: the
//! startup cost, a small, size-independent part of the index. Each row after that comes
//! from expanding one more node, so the total cost is the startup plus a per-row cost
//! times every row the index holds. The planner's LIMIT proration then charges a query
//! for the rows it will really pull: LIMIT / selectivity of the quals the scan cannot
//! apply itself. A selective filter makes the index walk far, and the exact plan (a
//! scan of the passing rows and a sort) wins, as it does in time; the distances such a
//! plan computes are costed by `distance_support` (vectors' width, out-of-line reads).
//! Without ORDER BY the index is useless.
//!
//! In a multicolumn index the quals on the columns after the vector are index quals the
//! scan applies itself: it reads the key pages first (`key_pass_cost`), then ranks the
//! passing slots exactly when they are few (`hnsw_core::index::ranks_exactly`, each
//! `exact_match_cost`, all before the first row), else walks as above, but for at most
//! `walk_budget` nodes before it ranks the rest of the passing slots exactly, which
//! bounds its total cost. When many rows pass (`walks_unread`) the scan samples a few key
//! pages instead of reading them all before it walks, and reads them only for the exact
//! ranking. A qual on the vector's own column
//! (`IS NULL`) keeps the index out: it holds no NULL vector. The arithmetic is
//! `hnsw_core::cost`.

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
        let columns = clause_columns(path);
        let null_vector = columns
            .iter()
            .any(|&(column, is_null)| column == 0 && is_null);
        if (*path).indexorderbys.is_null() || null_vector {
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
        let element = super::options::element(index);
        let (typmod, _) = crate::compat::key_column(index);
        let key_bytes = super::keys::key_columns(index).map(|c| c.format().key_bytes());
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
        let per_row = hnsw_core::cost::index_row_cost(
            m as usize,
            element,
            typmod.max(1) as usize,
            &settings(),
        );
        let dims = typmod.max(1) as usize;
        let filtered = key_bytes.filter(|_| columns.iter().any(|&(column, _)| column > 0));
        let (startup, total) = match filtered {
            None => (
                costs.indexTotalCost,
                costs.indexTotalCost + tuples * per_row,
            ),
            Some(key_bytes) => {
                let s = settings();
                let pass = hnsw_core::cost::key_pass_cost(tuples, key_bytes, &s);
                let matches = (tuples * costs.indexSelectivity).max(1.0);
                if hnsw_core::index::ranks_exactly(matches as usize, ef_search()) {
                    let rank = matches * hnsw_core::cost::exact_match_cost(element, dims, &s)
                        + matches * matches.log2().max(1.0) * s.cpu_operator_cost;
                    let startup = pass + rank;
                    (startup, startup + matches * s.cpu_index_tuple_cost)
                } else {
                    // The walk, which stops after `walk_budget` nodes and ranks the rest
                    // of the passing rows exactly; the pass over the keys comes first,
                    // or, when a sample says many rows pass (`walks_unread`), only with
                    // that ranking.
                    let rank = matches * hnsw_core::cost::exact_match_cost(element, dims, &s);
                    let (before, with_rank) =
                        if hnsw_core::index::walks_unread(matches as usize, ef_search()) {
                            let sample = hnsw_core::cost::key_sample_cost(tuples, key_bytes, &s);
                            (sample, pass)
                        } else {
                            (pass, 0.0)
                        };
                    let bounded = hnsw_core::index::walk_budget(matches as usize, ef_search())
                        as f64
                        * per_row
                        + with_rank
                        + rank;
                    let startup = before + costs.indexTotalCost;
                    (startup, startup + (tuples * per_row).min(bounded))
                }
            }
        };
        *startup_cost = startup;
        *total_cost = total;
        *selectivity = costs.indexSelectivity;
        *correlation = 0.0;
        *pages = costs.numIndexPages;
    }
}

/// The index column (0 the vector's) each of the path's index quals is on, and whether
/// it is an `IS NULL` test.
///
/// # Safety
/// `path` is the index path the planner is costing.
unsafe fn clause_columns(path: *mut pg_sys::IndexPath) -> Vec<(i32, bool)> {
    // SAFETY: `indexclauses` is a List of IndexClause nodes (or NIL), each with its
    // RestrictInfo.
    unsafe {
        let list = (*path).indexclauses;
        if list.is_null() {
            return Vec::new();
        }
        (0..(*list).length as usize)
            .map(|i| {
                let clause = (*(*list).elements.add(i)).ptr_value as *mut pg_sys::IndexClause;
                let expr = (*(*clause).rinfo).clause as *mut pg_sys::Node;
                let is_null = (*expr).type_ == pg_sys::NodeTag::T_NullTest
                    && (*(expr as *mut pg_sys::NullTest)).nulltesttype
                        == pg_sys::NullTestType::IS_NULL;
                ((*clause).indexcol as i32, is_null)
            })
            .collect()
    }
}

/// The planner's cost settings, as the session has them.
pub fn settings() -> hnsw_core::cost::Settings {
    // SAFETY: the planner's cost settings are plain globals of this backend, read on its
    // own thread.
    unsafe {
        hnsw_core::cost::Settings {
            cpu_operator_cost: pg_sys::cpu_operator_cost,
            cpu_index_tuple_cost: pg_sys::cpu_index_tuple_cost,
            random_page_cost: pg_sys::random_page_cost,
        }
    }
}
