//! The on-disk format of an hnsw index: Postgres pages of 8 KiB, described byte by byte in
//! docs/format.md. Everything here is plain Rust over byte slices, bounds-checked, so the
//! same code reads pages from an in-memory store in tests and from shared buffers in
//! Postgres.

pub mod keys;
pub mod layout;
pub mod meta;
pub mod node;
pub mod order;
pub mod paged;
pub mod records;
pub mod store;
pub mod writer;

pub use layout::{Layout, PageKind, VectorPart};
pub use meta::{FormatError, Meta};
pub use node::{HeapTid, NodeRecord};
pub use paged::PagedGraph;
pub use store::{Crash, MemStore, PageStore, PageWrite, PAGES_AT_ONCE};
pub use writer::{write_index, write_index_with_keys};

/// Postgres' block size (BLCKSZ), the only one supported.
pub const PAGE_SIZE: usize = 8192;
/// Postgres' page header (PageHeaderData).
pub const HEADER_SIZE: usize = 24;
/// Our special space at the end of every page.
pub const SPECIAL_SIZE: usize = 8;
pub const SPECIAL_OFFSET: usize = PAGE_SIZE - SPECIAL_SIZE;
/// Bytes between the header and the special space.
pub const CONTENT_SIZE: usize = SPECIAL_OFFSET - HEADER_SIZE;

/// The most neighbours per node an index allows (the `m` reloption's upper bound).
pub const MAX_M: usize = 100;

// Layout facts checked when compiling, not just in tests.
const _: () = assert!(HEADER_SIZE + CONTENT_SIZE + SPECIAL_SIZE == PAGE_SIZE);
const _: () = assert!(CONTENT_SIZE == 8160);
const _: () = assert!(meta::META_SIZE <= CONTENT_SIZE);
// The largest node record and upper slot (m = MAX_M) fit a page.
const _: () =
    assert!(layout::NODE_HEADER + 4 * crate::graph::MAX_LEVEL + 8 * MAX_M <= CONTENT_SIZE);
const _: () = assert!(4 + 4 * MAX_M <= CONTENT_SIZE);
// The largest vector fits in the pages a group holds (packed, it touches one more page
// than it fills).
const _: () = assert!((4 * crate::MAX_DIM).div_ceil(CONTENT_SIZE) <= 8);
const _: () = assert!((crate::MAX_BITS / 8).div_ceil(CONTENT_SIZE) <= 8);

/// Reads a little-endian u16 at `at`.
pub fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

pub fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

// Postgres page header offsets (bufpage.h).
pub(crate) const PD_LOWER: usize = 12;
const PD_UPPER: usize = 14;
const PD_SPECIAL: usize = 16;
const PD_PAGESIZE_VERSION: usize = 18;
const PG_PAGE_LAYOUT_VERSION: u16 = 4;

/// Formats `page` as an empty Postgres page of `kind` whose first `content_len` content
/// bytes are in use: like PageInit, with pd_lower advanced past the content, so generic
/// WAL and log_newpage_range keep it (both drop the pd_lower..pd_upper hole).
pub fn init_page(page: &mut [u8], kind: PageKind, content_len: usize) {
    assert_eq!(page.len(), PAGE_SIZE);
    assert!(content_len <= CONTENT_SIZE);
    page.fill(0);
    put_u16(page, PD_LOWER, (HEADER_SIZE + content_len) as u16);
    put_u16(page, PD_UPPER, SPECIAL_OFFSET as u16);
    put_u16(page, PD_SPECIAL, SPECIAL_OFFSET as u16);
    put_u16(
        page,
        PD_PAGESIZE_VERSION,
        PAGE_SIZE as u16 | PG_PAGE_LAYOUT_VERSION,
    );
    put_u16(page, SPECIAL_OFFSET, kind as u16);
}

/// The kind recorded in a page's special space.
pub fn page_kind(page: &[u8]) -> Option<PageKind> {
    PageKind::from_u16(get_u16(page, SPECIAL_OFFSET))
}

/// Items in use on an item page (kept in the special space).
pub fn page_used(page: &[u8]) -> u16 {
    get_u16(page, SPECIAL_OFFSET + 2)
}

pub fn set_page_used(page: &mut [u8], used: u16) {
    put_u16(page, SPECIAL_OFFSET + 2, used)
}

/// Whether the page was never initialised (all zeros, as Postgres extends relations).
pub fn page_is_new(page: &[u8]) -> bool {
    get_u16(page, PD_UPPER) == 0
}
