//! Postgres storage for the index: reading pages through shared buffers, changing them
//! through generic WAL, extending the relation; the build's temporary files.

mod buffers;
mod tempfile;

pub use buffers::{format_error, modify_pages, read_meta, relation_blocks, BufferStore};
pub use tempfile::TempFile;
