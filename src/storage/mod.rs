//! Postgres storage for the index: reading pages through shared buffers, changing them
//! through generic WAL, extending the relation.

mod buffers;

pub use buffers::{
    ensure_blocks, modify_pages, read_meta, relation_blocks, update_meta, BufferStore,
};
