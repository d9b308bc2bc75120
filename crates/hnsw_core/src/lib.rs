//! The pure-Rust core of hnsw_pg. Nothing here links against Postgres, so all of it is
//! tested with a plain `cargo test`: distance kernels, the vector text format and vector
//! arithmetic (and, as the index lands, the graph and the page format).

pub mod binary;
pub mod distance;
pub mod error;
pub mod graph;
pub mod index;
pub mod ops;
pub mod page;
pub mod text;

pub use error::VectorError;

/// The largest number of dimensions a `vector` may have (as pgvector).
pub const MAX_DIM: usize = 16_000;
