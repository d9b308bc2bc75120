//! `hnsw_pg_distance_support(internal)`: the planner support function of every distance
//! function, and so of the operators made from them (`<->`, `<#>`, `<=>`, `<+>`, `<~>`,
//! `<%>`). Postgres charges a function one `cpu_operator_cost` a call unless told more;
//! a distance between two 784-float vectors costs a dozen, and reading a column's vector
//! that is kept out of line (wider than about 2 kB) costs far more. Without this the
//! planner thinks an exact scan-and-sort is almost free and picks it over the index for
//! wide vectors. It answers only the cost request: the dimensions come from either
//! argument's typmod; a table column's argument adds its out-of-line reads.

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
    if node.is_null() {
        return None;
    }
    // SAFETY: the node's tag says which expression struct it is.
    let args = unsafe {
        if pgrx::is_a(node, pg_sys::NodeTag::T_FuncExpr) {
            (*(node as *mut pg_sys::FuncExpr)).args
        } else if pgrx::is_a(node, pg_sys::NodeTag::T_OpExpr) {
            (*(node as *mut pg_sys::OpExpr)).args
        } else {
            return None;
        }
    };
    // SAFETY: an expression's argument list is a List of expression nodes.
    let args = unsafe { PgList::<pg_sys::Node>::from_pg(args) };
    let mut dims = None;
    let mut element = None;
    let mut stored_columns = 0;
    for i in 0..args.len() {
        let Some(arg) = args.get_ptr(i) else { continue };
        // SAFETY: `arg` is an expression node of the list.
        let (type_oid, typmod, is_column) = unsafe {
            (
                pg_sys::exprType(arg),
                pg_sys::exprTypmod(arg),
                pgrx::is_a(arg, pg_sys::NodeTag::T_Var),
            )
        };
        let Ok(kind) = element_of_type(type_oid) else {
            continue;
        };
        element = Some(kind);
        if typmod > 0 {
            dims = Some(typmod as usize);
        }
        if is_column {
            stored_columns += 1;
        }
    }
    let cost = hnsw_core::cost::distance_cost(element?, dims?, stored_columns, &settings());
    Some(cost)
}
