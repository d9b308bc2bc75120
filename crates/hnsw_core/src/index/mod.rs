//! The index's write algorithms, written against the page seam (`PageWrite`), so they run
//! the same over Postgres buffers and over the in-memory store the tests crash at every
//! unit: INSERT, VACUUM's repair and free passes, the graph half of the checker, the
//! scan's check of the rows it returns, the exact order of an exhaustive scan, the filters
//! of a multicolumn index, and the deferred training of a product-quantization codebook.

mod chain;
mod check;
mod exact;
mod free;
mod insert;
mod keys;
mod records;
mod repair;
mod rows;
mod train;
mod tree;

pub use check::{graph_problems, read_records};
pub use exact::{exact_finish_after, exact_order, exact_rest};
pub use free::{empty_upper_slots, free_deleted_slots};
pub use insert::{insert, insert_with_key};
pub use keys::{
    exact_matches, exact_round, key_passes, matching, ranks_exactly, row_of, sample_matching,
    walk_budget, walks_unread, Matches, SAMPLE_PAGES,
};
pub use records::for_each_record;
pub use repair::{read_meta, repair, Repaired};
pub use rows::{rows_of, rows_of_matching};
pub use train::{ready_to_train, train_pending};
pub use tree::{detach, join_tree};
