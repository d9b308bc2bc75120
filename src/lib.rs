//! hnsw_pg: a pgvector-compatible `vector` type and an `hnsw` index access method for
//! PostgreSQL.
//!
//! This crate is Postgres glue: the types' SQL functions (`types/`), the access method's
//! callbacks (`am/`), `hnsw_pg_check`'s locks, rights and heap scan (`check/`) and the
//! Postgres side of the page seam (`storage/`: buffers, generic
//! WAL, temporary files). The kernels, the text format, the arithmetic, the graph and the
//! page format live in the pure-Rust `hnsw_core` crate; the SQL surface is written by hand
//! in `sql/`.

#![deny(unsafe_op_in_unsafe_fn)]

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

mod am;
mod check;
mod compat;
mod error;
mod storage;
mod types;

#[cfg(any(test, feature = "pg_test"))]
mod tests;

// The whole SQL surface: types, functions, operators, casts, aggregates, access methods
// and operator classes.
// Every Rust function it names is a `#[pg_extern(sql = false)]` reached as `<name>_wrapper`.
pgrx::extension_sql_file!(
    "../sql/vector.sql",
    name = "vector_sql",
    creates = [Type(crate::types::Vector)]
);
pgrx::extension_sql_file!(
    "../sql/halfvec.sql",
    name = "halfvec_sql",
    requires = ["vector_sql"],
    creates = [Type(crate::types::HalfVec)]
);
pgrx::extension_sql_file!(
    "../sql/sparsevec.sql",
    name = "sparsevec_sql",
    requires = ["halfvec_sql"],
    creates = [Type(crate::types::SparseVec)]
);
pgrx::extension_sql_file!(
    "../sql/bit.sql",
    name = "bit_sql",
    requires = ["sparsevec_sql"]
);
pgrx::extension_sql_file!("../sql/hnsw.sql", name = "hnsw_sql", requires = ["bit_sql"]);
pgrx::extension_sql_file!(
    "../sql/ivfflat.sql",
    name = "ivfflat_sql",
    requires = ["hnsw_sql"]
);

/// Loads the extension: picks the distance kernels once (so the first query pays
/// nothing) and registers the index options and settings.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // Error messages must not depend on the server's environment: pgrx attaches a Rust
    // backtrace to the DETAIL of every error that passes through Rust whenever
    // std::backtrace is enabled, which RUST_BACKTRACE in the postmaster's environment
    // does. RUST_LIB_BACKTRACE=0 disables std::backtrace::Backtrace::capture only (a
    // panic on a worker thread still prints its backtrace to the server log).
    // _PG_init runs on the backend's only thread, before any build thread exists.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    hnsw_core::distance::kernels();
    am::register();
}

/// Which distance kernels run on this CPU ("avx2+fma" or "scalar").
#[pg_extern(immutable, parallel_safe, sql = false)]
fn hnsw_pg_kernel() -> &'static str {
    hnsw_core::distance::kernels().implementation.name()
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
