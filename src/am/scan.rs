//! Index scans: `ORDER BY embedding <op> query`. A scan descends from the entry point,
//! runs a beam of `hnsw.ef_search` on layer 0, and returns its nodes nearest first; when
//! the executor wants more (a larger LIMIT, or a WHERE clause rejecting rows), the same
//! search continues from where it stopped (as `hnsw.iterative_scan` says), up to
//! `hnsw.max_scan_tuples` nodes and `hnsw.scan_mem_multiplier` times `work_mem`. When
//! that bound (or `hnsw.ef_search`, if more) is below the index's node slots but at least
//! a sixteenth of them, and an exact pass fits the memory limit, the scan goes on after
//! it, or after an eighth of the slots if sooner (`exact_finish_after`), with the nodes it
//! has not returned, in exact order, so a filter that rejects every node near the query
//! (another class than the query's) still gets its whole LIMIT; from a larger index, or
//! one stopped by the memory limit, it ends at the bound, as pgvector's does. An
//! ivfflat index's scan takes its beam and bounds from the `ivfflat.*` settings, or
//! returns every row in exact order (`ivfflat.probes` >= `lists`).
//!
//! In a multicolumn index the scan applies the quals on the columns after the vector
//! itself (`keys`). It first tests the keys on a few key pages (`sample_matching`). When
//! the sample says the passing slots may be fewer than a beam's distances
//! (`walks_unread`), or the index is too small to sample, it reads every key page, and
//! ranks the passing slots exactly if they are that few. Otherwise it walks the graph
//! returning only the rows whose keys pass (read node by node, so a filter the query's
//! neighbours pass costs no pass over the keys, and no heap fetch for a row that fails),
//! and once the walk has cost about what ranking the passing slots does (`walk_budget`),
//! reads the key pages and finishes with the passing slots it has not returned, in exact
//! order. An exact ranking of passing slots runs in rounds of what the memory limit holds
//! (`Rounds`). A filter no row passes ends the scan after the key pages. Without ORDER BY
//! (a plan the planner does not choose, see `cost`) it returns the passing rows in slot
//! order.

use super::ivfflat::{self, ScanPlan};
use super::options::{
    check_element, ef_search, element, max_scan_tuples, resume, scan_memory_limit,
};
use crate::compat;
use crate::storage::{read_meta, BufferStore};
use crate::types::Values;
use hnsw_core::element::Element;
use hnsw_core::graph::{Neighbour, Resume, Scan, Visited};
use hnsw_core::index::{
    exact_finish_after, exact_matches, exact_order, exact_rest, exact_round, key_passes, matching,
    ranks_exactly, row_of, rows_of, rows_of_matching, sample_matching, walk_budget, walks_unread,
    Matches,
};
use hnsw_core::page::keys::KeyFilter;
use hnsw_core::page::node::HeapTid;
use hnsw_core::page::PagedGraph;
use pgrx::prelude::*;
use pgrx::{pg_sys, PgMemoryContexts, PgSqlErrorCode};
use std::collections::HashSet;
use std::collections::TryReserveError;

/// What the scan ranks by.
#[derive(Clone)]
enum Query {
    /// No ORDER BY: nothing to rank by, so the scan returns no rows.
    None,
    /// ORDER BY distance to NULL: every distance is NULL, so any order is right; the scan
    /// returns the indexed rows (as pgvector does), ranked by a zero vector.
    Null,
    /// The query's values in the index's `&[f32]` form, and its dimensions.
    Vector(Vec<f32>, usize),
}

struct ScanState {
    query: Query,
    /// Heap tuples of the exact duplicates of the last node taken, still to return.
    pending: std::collections::VecDeque<HeapTid>,
    /// In a compact index, the SQL value of that node's lower bound: the executor
    /// re-ranks each row on the table's vector (`xs_recheckorderby`).
    pending_bound: Option<f64>,
    search: Option<(PagedGraph<BufferStore>, Search)>,
    /// Most nodes to take from the graph (`hnsw.ef_search` or `hnsw.max_scan_tuples`,
    /// whichever is larger, or fewer when the scan finishes in exact order), read with the
    /// other settings when the scan starts.
    limit: usize,
    /// Nodes taken from the search so far (returned or skipped as deleted).
    taken: usize,
    /// The ids of the nodes taken, while the scan may still finish in exact order when it
    /// reaches `limit` (`exact_finish_after`); `None` otherwise.
    taken_ids: Option<HashSet<u32>>,
    /// The distance of the last node taken (a strict-order scan finishes past it).
    last_distance: Option<f32>,
    strict: bool,
    /// The scan's quals on the columns after the vector (a multicolumn index), and the
    /// slots that pass them: read when the scan starts, or, for a walk whose filter a
    /// sample says most rows near any query pass, only when it finishes in exact order
    /// (until then it reads the key of each node it returns).
    filter: Option<KeyFilter>,
    matches: Option<Matches>,
    /// The nodes `search` gives are slots of `matches`, each standing for its own row
    /// (`row_of`), not a node and its duplicates.
    per_record: bool,
    /// The scan has an ORDER BY (so ORDER BY values to return).
    ordered: bool,
    /// Bytes the scan may hold (`scan_memory_limit`, read when it starts).
    memory_limit: usize,
    /// A filtered scan's exact ranking, once it ranks its passing slots.
    rounds: Option<Rounds>,
}

/// A filtered scan's exact ranking of the passing slots it has not returned, in rounds
/// of what its memory holds (`exact_round`), each a pass over their vectors for the
/// nearest after the last one the round before gave: a scan that returns more rows than
/// its memory holds costs a pass per round, and never holds more.
struct Rounds {
    /// The slots the walk returned (none when the scan ranked from the start).
    taken: HashSet<u32>,
    /// Under strict order, the distance of the walk's last node: nothing nearer.
    after: Option<f32>,
    /// The last slot of the latest round, and whether that round was full (so more may
    /// follow).
    last: Option<Neighbour>,
    more: bool,
    most: usize,
}

impl Rounds {
    fn new(taken: HashSet<u32>, after: Option<f32>, memory_limit: usize) -> Rounds {
        Rounds {
            taken,
            after,
            last: None,
            more: true,
            most: exact_round(memory_limit),
        }
    }

    /// The next round, if there may be one.
    fn next(
        &mut self,
        graph: &PagedGraph<BufferStore>,
        query: &[f32],
        matches: &Matches,
    ) -> Option<Vec<Neighbour>> {
        if !self.more {
            return None;
        }
        let taken = &self.taken;
        let order = exact_matches(
            graph,
            query,
            matches,
            |id| taken.contains(&id),
            self.after,
            self.last,
            self.most,
        )
        .unwrap_or_else(|e| out_of_memory("the exact order of its rows", e));
        self.more = order.len() == self.most;
        self.last = order.last().copied().or(self.last);
        Some(order)
    }
}

/// Where the nodes come from: a graph search, or every node in exact order (an ivfflat
/// index probing all its lists).
enum Search {
    Graph(Scan),
    Exact {
        order: std::vec::IntoIter<Neighbour>,
        query: Vec<f32>,
    },
}

impl Search {
    fn next(
        &mut self,
        graph: &PagedGraph<BufferStore>,
    ) -> Result<Option<Neighbour>, TryReserveError> {
        match self {
            Search::Graph(scan) => scan.next(graph),
            Search::Exact { order, .. } => Ok(order.next()),
        }
    }

    fn query(&self) -> &[f32] {
        match self {
            Search::Graph(scan) => scan.query(),
            Search::Exact { query, .. } => query,
        }
    }
}

fn state<'a>(scan: pg_sys::IndexScanDesc) -> &'a mut ScanState {
    // SAFETY: ambeginscan stored a ScanState (owned by the scan's memory context) in
    // `opaque`, and only this scan's callbacks, on this thread, use it.
    unsafe { &mut *((*scan).opaque as *mut ScanState) }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambeginscan(
    index: pg_sys::Relation,
    nkeys: std::ffi::c_int,
    norderbys: std::ffi::c_int,
) -> pg_sys::IndexScanDesc {
    // SAFETY: the standard allocation of a scan descriptor for this index.
    let scan = unsafe { pg_sys::RelationGetIndexScan(index, nkeys, norderbys) };
    let state = ScanState {
        query: Query::None,
        pending: Default::default(),
        pending_bound: None,
        search: None,
        limit: 0,
        taken: 0,
        taken_ids: None,
        last_distance: None,
        strict: false,
        filter: None,
        matches: None,
        per_record: false,
        ordered: norderbys > 0,
        memory_limit: 0,
        rounds: None,
    };
    if norderbys > 0 {
        // SAFETY: `scan` was just allocated; the arrays live in the scan's memory context,
        // as the executor expects of the ORDER BY values an index returns.
        unsafe {
            let n = norderbys as usize;
            (*scan).xs_orderbyvals = pg_sys::palloc0(n * std::mem::size_of::<pg_sys::Datum>()) as _;
            let nulls = pg_sys::palloc(n) as *mut bool;
            std::ptr::write_bytes(nulls, 1, n);
            (*scan).xs_orderbynulls = nulls;
        }
    }
    // Dropped with the scan's memory context, so an ERROR mid-scan leaks nothing.
    let state = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
    // SAFETY: `scan` was just allocated.
    unsafe { (*scan).opaque = state as *mut std::ffi::c_void };
    scan
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amrescan(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: std::ffi::c_int,
    orderbys: pg_sys::ScanKey,
    norderbys: std::ffi::c_int,
) {
    let state = state(scan);
    state.search = None;
    state.taken = 0;
    state.taken_ids = None;
    state.last_distance = None;
    state.query = Query::None;
    state.pending.clear();
    state.matches = None;
    state.rounds = None;
    state.per_record = false;
    // SAFETY: the scan's index is open; `keys` holds `nkeys` scan keys of it.
    state.filter =
        unsafe { super::keys::scan_filter((*scan).indexRelation, keys, nkeys.max(0) as usize) };
    if norderbys < 1 || orderbys.is_null() {
        return;
    }
    // SAFETY: orderbys holds norderbys >= 1 scan keys; the first is `<op> query`.
    let key = unsafe { &*orderbys };
    if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
        state.query = Query::Null;
        return;
    }
    // SAFETY: the scan's index relation is open; the ORDER BY operator's right argument
    // is of the operator class's input type, which `element` names.
    let query = unsafe { Values::from_datum(key.sk_argument, element((*scan).indexRelation)) };
    state.query = Query::Vector(query.as_slice().to_vec(), query.dims());
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amgettuple(
    scan: pg_sys::IndexScanDesc,
    _dir: pg_sys::ScanDirection::Type,
) -> bool {
    let state = state(scan);
    if state.search.is_none() {
        // SAFETY: the scan descriptor's index relation is open for the scan.
        let index = unsafe { (*scan).indexRelation };
        let (query, dims, meta) = match state.query.clone() {
            // The planner never picks a scan without ORDER BY (see `cost`): returning no
            // rows would be a wrong answer, so anything that forces one gets an ERROR, but
            // for a filtered one, which returns the passing rows.
            Query::None if state.filter.is_none() => crate::error::raise_with_hint(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "an hnsw index can only be scanned in ORDER BY distance order".into(),
                "Order by the distance operator, or let the planner choose another scan.",
            ),
            Query::Null | Query::None => {
                let meta = read_meta(index);
                let zero = vec![0.0; meta.element.slots(meta.dim as usize)];
                (zero, meta.dim as usize, meta)
            }
            Query::Vector(query, dims) => (query, dims, read_meta(index)),
        };
        check_element(index, &meta);
        // In the form the index stores (unit length in a float32 cosine index); a zero
        // query under cosine has no direction and ranks everything equal, as its
        // distances (NaN) do.
        let query = match meta.element.stored_form(meta.metric, &query) {
            Some(stored) => stored.into_owned(),
            None => query,
        };
        if dims != meta.dim as usize {
            let message = match meta.element {
                Element::Bit => format!("different bit lengths {} and {dims}", meta.dim),
                element => format!(
                    "different {} dimensions {} and {dims}",
                    element.type_name(),
                    meta.dim
                ),
            };
            pgrx::ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, message);
        }
        // SAFETY: `scan` is this scan's descriptor.
        unsafe { compat::count_index_search(scan) };
        let entry = meta.entry;
        // The settings are read once, when the scan starts (its first row).
        let plan = if ivfflat::is_ivfflat(index) {
            ivfflat::scan_plan(index, &meta)
        } else {
            ScanPlan {
                exact: false,
                ef: ef_search(),
                resume: resume(),
                limit: ef_search().max(max_scan_tuples()),
            }
        };
        state.memory_limit = scan_memory_limit();
        let resume = match (&state.query, plan.resume) {
            // Every distance is NULL, so no order is wrong: skip nothing.
            (Query::Null, Resume::StrictOrder) => Resume::RelaxedOrder,
            (_, resume) => resume,
        };
        // In an index with codes the graph search runs on them; what the scan returns
        // (and the exact order) is computed on the vectors.
        let graph = PagedGraph::new(BufferStore::new(index), meta)
            .with_estimates(true)
            .with_rerank(super::options::rerank());
        let mut walk_estimate = None;
        if let Some(filter) = &state.filter {
            if filter.format().key_bytes() != graph.layout.key_size {
                super::keys::key_mismatch(&graph.meta, filter.format().key_bytes());
            }
            let estimate = match state.query {
                Query::None => None,
                _ => sample_matching(&graph, filter),
            };
            walk_estimate = estimate.filter(|&e| walks_unread(e, plan.ef));
            if walk_estimate.is_none() {
                let matches = matching(&graph, filter)
                    .unwrap_or_else(|e| out_of_memory("the slots its filter passes", e));
                state.matches = Some(matches);
            }
        }
        let exact_matches_first = state
            .matches
            .as_ref()
            .is_some_and(|m| matches!(state.query, Query::None) || ranks_exactly(m.len(), plan.ef));
        let search = if plan.exact {
            let order = exact_order(&graph, &query)
                .unwrap_or_else(|e| out_of_memory("the exact order of its rows", e));
            Search::Exact {
                order: order.into_iter(),
                query,
            }
        } else if exact_matches_first {
            let matches = state.matches.as_ref().expect("checked above");
            let mut rounds = Rounds::new(HashSet::new(), None, state.memory_limit);
            let order = rounds.next(&graph, &query, matches).expect("a first round");
            state.rounds = Some(rounds);
            state.per_record = true;
            Search::Exact {
                order: order.into_iter(),
                query,
            }
        } else {
            Search::Graph(
                Scan::new(query, plan.ef, entry, Visited::sparse())
                    .with_resume(resume, state.memory_limit),
            )
        };
        let walks = !plan.exact && !state.per_record;
        let finish_after = if !walks || resume == Resume::Off || ivfflat::is_ivfflat(index) {
            None
        } else if let Some(passing) = state.matches.as_ref().map(Matches::len).or(walk_estimate) {
            // The passing slots it has not returned, whatever the index's size, once the
            // walk has cost what ranking them does.
            Some(walk_budget(passing, plan.ef).min(plan.limit))
        } else {
            exact_finish_after(&graph, plan.limit, state.memory_limit)
        };
        state.taken_ids = finish_after.map(|_| HashSet::new());
        state.strict = resume == Resume::StrictOrder;
        state.limit = if state.per_record {
            usize::MAX
        } else {
            finish_after.unwrap_or(plan.limit)
        };
        state.search = Some((graph, search));
    }
    let (graph, search) = state.search.as_mut().expect("set just above");
    loop {
        if let Some(tid) = state.pending.pop_front() {
            // SAFETY: xs_heaptid is the scan's output slot for the heap tuple's address;
            // xs_orderbyvals and xs_orderbynulls were allocated by ambeginscan for the one
            // ORDER BY key an hnsw scan has.
            unsafe {
                pgrx::itemptr::item_pointer_set_all(&mut (*scan).xs_heaptid, tid.block, tid.offset);
                // The filter is exact; the executor checks it again all the same, so a slot
                // reused while the scan held it can never return a row that fails.
                (*scan).xs_recheck = state.filter.is_some();
                (*scan).xs_recheckorderby = state.pending_bound.is_some();
                if let Some(bound) = state.pending_bound.filter(|_| state.ordered) {
                    *(*scan).xs_orderbyvals = bound.into_datum().expect("a float8 is a datum");
                    *(*scan).xs_orderbynulls = matches!(state.query, Query::Null);
                }
            }
            return true;
        }
        if state.taken >= state.limit {
            let Some(taken) = state.taken_ids.take() else {
                return false;
            };
            // The graph gave what it may: the rest of the rows in exact order.
            let after = state.last_distance.filter(|_| state.strict);
            let query = search.query().to_vec();
            // The graph search's memory goes before the exact pass takes its own.
            *search = Search::Exact {
                order: Vec::new().into_iter(),
                query: Vec::new(),
            };
            let rest = match &state.filter {
                Some(filter) => {
                    state.per_record = true;
                    let matches = match state.matches.take() {
                        Some(matches) => matches,
                        None => matching(graph, filter)
                            .unwrap_or_else(|e| out_of_memory("the slots its filter passes", e)),
                    };
                    let matches = state.matches.insert(matches);
                    let mut rounds = Rounds::new(taken, after, state.memory_limit);
                    let order = rounds.next(graph, &query, matches).expect("a first round");
                    state.rounds = Some(rounds);
                    Ok(order)
                }
                None => exact_rest(graph, &query, &taken, after),
            }
            .unwrap_or_else(|e| out_of_memory("the exact order of its rows", e));
            *search = Search::Exact {
                order: rest.into_iter(),
                query,
            };
            state.limit = usize::MAX;
            continue;
        }
        pg_sys::check_for_interrupts!();
        let found = match search.next(graph) {
            Ok(Some(found)) => found,
            // A filtered walk that ends early (the graph exhausted, or the memory limit
            // reached) still has its passing slots to finish with.
            Ok(None) if state.filter.is_some() && state.taken_ids.is_some() => {
                state.limit = state.taken;
                continue;
            }
            Ok(None) => {
                // The next round of an exact ranking, if there is one.
                let (Some(rounds), Some(matches)) = (state.rounds.as_mut(), &state.matches) else {
                    return false;
                };
                let Some(order) = rounds.next(graph, search.query(), matches) else {
                    return false;
                };
                let query = search.query().to_vec();
                *search = Search::Exact {
                    order: order.into_iter(),
                    query,
                };
                continue;
            }
            Err(e) => out_of_memory("its visited set", e),
        };
        state.taken += 1;
        state.last_distance = Some(found.distance);
        let query = search.query();
        let tids = if state.per_record {
            Ok(row_of(graph, found.id).map(|tid| vec![tid]))
        } else if let Some(filter) = &state.filter {
            // A filtered walk: the rows of the node's chain that pass, each noted as
            // returned, for the exact finish.
            let (taken, matches) = (&mut state.taken_ids, &state.matches);
            rows_of_matching(graph, query, found.id, found.distance, |id| {
                let keep = match matches {
                    Some(matches) => matches.contains(id),
                    None => key_passes(graph, filter, id),
                };
                if let (true, Some(taken)) = (keep, taken.as_mut()) {
                    if let Err(e) = taken.try_reserve(1) {
                        out_of_memory("the ids of the rows it returned", e);
                    }
                    taken.insert(id);
                }
                keep
            })
        } else {
            if let Some(taken) = state.taken_ids.as_mut() {
                if let Err(e) = taken.try_reserve(1) {
                    out_of_memory("the ids of the nodes it took", e);
                }
                taken.insert(found.id);
            }
            rows_of(graph, query, found.id, found.distance)
        }
        .unwrap_or_else(|e| out_of_memory("the rows of one duplicate chain", e));
        if let Some(tids) = tids {
            if let Err(e) = state.pending.try_reserve(tids.len()) {
                out_of_memory("the rows of one duplicate chain", e);
            }
            state.pending.extend(tids);
            let meta = &graph.meta;
            state.pending_bound = (!graph.keeps_vectors()).then(|| {
                meta.metric
                    .operator_value(meta.indexed_metric(), found.distance)
            });
        }
    }
}

/// A scan that cannot grow `what` is an ERROR 53200, as a sort's would be.
fn out_of_memory(what: &str, e: TryReserveError) -> ! {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
        "out of memory",
        format!("An hnsw scan could not grow {what}: {e}.")
    );
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    // The state itself goes with the memory context; drop the search now to free it early.
    let state = state(scan);
    state.search = None;
}
