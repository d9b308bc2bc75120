//! `hnsw_pg_distance_support(internal)`: the planner support function of every distance
//! function, and so of the operators made from them (`<->`, `<#>`, `<=>`, `<+>`, `<~>`,
//! `<%>`). Postgres charges a function one `cpu_operator_cost` a call unless told more;
//! a distance between two 784-float vectors costs a dozen, and reading a column's vector
//! that is kept out of line (wider than about 2 kB) costs far more. Without this the
//! planner thinks an exact scan-and-sort is almost free and picks it over the index for
//! wide vectors. It answers only the cost request: the dimensions come from either
//! argument's typmod; an argument that reads a table column (directly or through casts)
//! adds that column's out-of-line reads.

use super::cost::settings;
use super::options::element_of_type;
use pgrx::list::PgList;
use pgrx::prelude::*;
use pgrx::{pg_sys, Internal};

#[pg_extern(sql = false)]
fn hnsw_pg_distance_support(fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    // SAFETY: a support function's one argument is a pointer to a request node; only a
    // cost request is read, as Postgres lays it out.
    let answered = unsafe {
        let request = pgrx::fcinfo::pg_getarg_datum(fcinfo, 0)
            .map_or(std::ptr::null_mut(), |d| d.cast_mut_ptr::<pg_sys::Node>());
        if !request.is_null() && pgrx::is_a(request, pg_sys::NodeTag::T_SupportRequestCost) {
            let cost = request as *mut pg_sys::SupportRequestCost;
            match per_call_cost((*cost).node) {
                Some(per_tuple) => {
                    (*cost).startup = 0.0;
                    (*cost).per_tuple = per_tuple;
                    request
                }
                None => std::ptr::null_mut(),
            }
        } else {
            std::ptr::null_mut()
        }
    };
    // A null pointer (not a SQL NULL) tells the planner to keep its default.
    Internal::from(Some(pg_sys::Datum::from(answered)))
}

/// The cost of one call of the distance in `node` (a function call or an operator), or
/// None when its arguments do not say their dimensions (no typmod on either).
///
/// # Safety
/// `node` is null or the expression node the planner is costing.
unsafe fn per_call_cost(node: *mut pg_sys::Node) -> Option<f64> {
    // SAFETY: the caller's node is null or an expression node.
    let args = unsafe { arguments(node) }?;
    let s = settings();
    let mut dims = None;
    let mut element = None;
    let mut reads = 0.0;
    for arg in args {
        // SAFETY: `arg` is an expression node of the call's argument list.
        let (type_oid, typmod) = unsafe { (pg_sys::exprType(arg), pg_sys::exprTypmod(arg)) };
        if let Ok(kind) = element_of_type(type_oid) {
            element = Some(kind);
            if typmod > 0 {
                dims = Some(typmod as usize);
            }
        }
        // SAFETY: as above.
        if let Some((kind, column_dims)) = unsafe { column_read(arg) } {
            reads += hnsw_core::cost::read_cost(kind, column_dims, &s);
        }
    }
    Some(hnsw_core::cost::distance_cost(element?, dims?, &s) + reads)
}

/// The arguments of a function call or an operator; None for any other node.
///
/// # Safety
/// `node` is null or an expression node.
unsafe fn arguments(node: *mut pg_sys::Node) -> Option<Vec<*mut pg_sys::Node>> {
    if node.is_null() {
        return None;
    }
    // SAFETY: the node's tag says which expression struct it is; an expression's argument
    // list is a List of expression nodes (or empty).
    unsafe {
        let list = if pgrx::is_a(node, pg_sys::NodeTag::T_FuncExpr) {
            (*(node as *mut pg_sys::FuncExpr)).args
        } else if pgrx::is_a(node, pg_sys::NodeTag::T_OpExpr) {
            (*(node as *mut pg_sys::OpExpr)).args
        } else {
            return None;
        };
        let list = PgList::<pg_sys::Node>::from_pg(list);
        Some((0..list.len()).filter_map(|i| list.get_ptr(i)).collect())
    }
}

/// The vector a distance argument reads from the table, per row: the column under it,
/// looked for through casts and functions of it (`embedding::halfvec(3072)`,
/// `binary_quantize(embedding)::bit(3072)`, whose first argument is what they read), with
/// the column's own element type and dimensions. None for a query vector (a constant or
/// a parameter, read once) or a column of no vector type.
///
/// # Safety
/// `arg` is an expression node.
unsafe fn column_read(mut arg: *mut pg_sys::Node) -> Option<(hnsw_core::element::Element, usize)> {
    // A few wrappers deep at most; anything deeper is taken as not a column.
    for _ in 0..8 {
        // SAFETY: each node's tag says which struct it is.
        unsafe {
            if pgrx::is_a(arg, pg_sys::NodeTag::T_Var) {
                let kind = element_of_type(pg_sys::exprType(arg)).ok()?;
                let typmod = pg_sys::exprTypmod(arg);
                return (typmod > 0).then_some((kind, typmod as usize));
            }
            arg = if pgrx::is_a(arg, pg_sys::NodeTag::T_RelabelType) {
                (*(arg as *mut pg_sys::RelabelType)).arg as *mut pg_sys::Node
            } else {
                *arguments(arg)?.first()?
            };
        }
    }
    None
}
