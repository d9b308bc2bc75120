//! Postgres storage for the index: reading pages through shared buffers, changing them
//! through generic WAL, extending the relation; the build's temporary files.

mod buffers;
mod tempfile;

pub use buffers::{
    ensure_blocks, format_error, modify_pages, read_meta, relation_blocks, update_meta, BufferStore,
};
pub use tempfile::TempFile;
