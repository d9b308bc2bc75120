//! Walking every node record of an index, page by page.

use crate::page::node::NodeRecord;
use crate::page::{page_is_new, page_used, Layout, PageKind, PageWrite, HEADER_SIZE};

/// Calls `f` with every node record in the index and its id, one node page at a time
/// (the page is read, then released, then its records are handed out), pausing between
/// pages.
pub fn for_each_record<S: PageWrite>(
    store: &S,
    layout: &Layout,
    mut f: impl FnMut(u32, &NodeRecord),
) {
    for block in 1..store.blocks() {
        if layout.block_kind(block).0 != PageKind::Nodes {
            continue;
        }
        store.pause();
        let first = layout.first_node_on(block);
        let records: Vec<NodeRecord> = store.with_page(block, |p| {
            let used = if page_is_new(p) {
                0
            } else {
                page_used(p) as usize
            };
            (0..used)
                .map(|k| NodeRecord::read(p, HEADER_SIZE + k * layout.node_size, layout.m))
                .collect()
        });
        for (k, record) in records.iter().enumerate() {
            f(first + k as u32, record);
        }
    }
}
