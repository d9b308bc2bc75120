//! The pure-Rust core of hnsw_pg. Nothing here links against Postgres, so all of it is
//! tested with a plain `cargo test`: distance kernels, the vector text and binary formats,
//! vector arithmetic, the graph and its build, the page format and the page seam, and the
//! index's write algorithms (insert, VACUUM's passes, the checker) over that seam.
//!
//! `unsafe` is denied except in the modules that need it: the SIMD kernels (`distance`),
//! the memory-mapped build arrays (`graph::storage`), worker threads' signal masks
//! (`workers`), and reading floats out of page bytes (`page::paged`).
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod binary;
pub mod bits;
pub mod codes;
pub mod cost;
pub mod distance;
pub mod element;
pub mod error;
pub mod graph;
pub mod index;
pub mod ops;
pub mod page;
pub mod sparse;
pub mod text;
pub mod workers;

pub use error::VectorError;

/// The largest number of dimensions a `vector` (or `halfvec`) may have (as pgvector).
pub const MAX_DIM: usize = 16_000;

/// The most bits an hnsw index of `bit` takes (as pgvector).
pub const MAX_BITS: usize = 64_000;
