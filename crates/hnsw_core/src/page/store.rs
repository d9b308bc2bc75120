//! The page seam: reading pages (the trait the search code is written against), changing
//! them in atomic units (the trait the index's write algorithms are written against), and
//! an in-memory store with fault injection for tests.

use super::{init_page, page_is_new, FormatError, Meta, PageKind, VectorPart, PAGE_SIZE};
use std::cell::{Cell, RefCell};

/// Gives read access to one page at a time. The Postgres implementation pins the buffer
/// and holds a share lock while `f` runs.
pub trait PageStore {
    fn with_page<R>(&self, block: u32, f: impl FnOnce(&[u8]) -> R) -> R;

    /// Runs `f` with several pages readable at once (`pages[i]` is `blocks[i]`; blocks may
    /// repeat; at most `PAGES_AT_ONCE` of them), so a caller can prefetch from all of them
    /// before computing on any.
    fn with_pages<R>(&self, blocks: &[u32], f: impl FnOnce(&[&[u8]]) -> R) -> R;
}

/// A borrowed store reads as the store (so a `PagedGraph` can borrow the store an
/// algorithm also writes through).
impl<T: PageStore> PageStore for &T {
    fn with_page<R>(&self, block: u32, f: impl FnOnce(&[u8]) -> R) -> R {
        (**self).with_page(block, f)
    }

    fn with_pages<R>(&self, blocks: &[u32], f: impl FnOnce(&[&[u8]]) -> R) -> R {
        (**self).with_pages(blocks, f)
    }
}

/// The most pages `with_pages` holds at once. Postgres tracks up to 8 buffer pins per
/// backend in a small array and more in a hash table, which would cost more than
/// prefetching saves.
pub const PAGES_AT_ONCE: usize = 6;

/// Changes pages in atomic units. The Postgres implementation makes each unit one generic
/// WAL record (at most 4 pages, locked exclusively in block order), so a crash leaves
/// either all of a unit or none of it; every algorithm that changes an index is written so
/// that the state between any two units is a valid index.
pub trait PageWrite: PageStore {
    /// Changes `blocks` (1 to 4, distinct) as one unit. `f` gets the pages in the order of
    /// `blocks` (never-initialised pages all zero); if it returns `None`, nothing changes.
    fn modify<R>(&self, blocks: &[u32], f: impl FnOnce(&mut [&mut [u8]]) -> Option<R>)
        -> Option<R>;

    /// The index's size in blocks.
    fn blocks(&self) -> u32;

    /// Writes `bytes` in its `parts` (a byte stream's pieces, see `Layout::vector_parts`),
    /// four pages to a unit, initialising never-used pages as `kind` pages using `used`
    /// content bytes. The blocks must exist.
    fn write_parts(&self, parts: &[VectorPart], bytes: &[u8], kind: PageKind, used: usize) {
        for unit in parts.chunks(4) {
            let blocks: Vec<u32> = unit.iter().map(|part| part.block).collect();
            self.modify(&blocks, |pages| {
                for (page, part) in pages.iter_mut().zip(unit) {
                    if page_is_new(page) {
                        init_page(page, kind, used);
                    }
                    page[part.offset..part.offset + part.bytes.len()]
                        .copy_from_slice(&bytes[part.bytes.clone()]);
                }
                Some(())
            });
        }
    }

    /// Extends the index with empty pages until it has at least `blocks` blocks.
    fn ensure_blocks(&self, blocks: u32);

    /// A point between units where long passes may be interrupted or throttled (the
    /// Postgres implementation runs the vacuum delay point and interrupt checks).
    fn pause(&self) {}

    /// The log position and time a structural change is stamped with in the meta page.
    fn change_stamp(&self) -> (u64, i64) {
        (0, 0)
    }

    /// Reports a damaged or foreign meta page; does not return. The Postgres store raises
    /// an ERROR with the format error's SQLSTATE; the in-memory store panics.
    fn format_error(&self, e: FormatError) -> ! {
        panic!("{e}")
    }

    /// Reports memory that could not be reserved; does not return. The Postgres store
    /// raises an ERROR 53200; the in-memory store panics.
    fn out_of_memory(&self, e: std::collections::TryReserveError) -> ! {
        panic!("out of memory: {e}")
    }

    /// The meta page, checked (see `format_error`).
    fn meta(&self) -> Meta {
        self.with_page(0, Meta::read)
            .unwrap_or_else(|e| self.format_error(e))
    }

    /// `update_meta`, a damaged meta page reported through `format_error`.
    fn change_meta(&self, change: impl FnOnce(&mut Meta) -> Option<()>) -> bool {
        self.update_meta(change)
            .unwrap_or_else(|e| self.format_error(e))
    }

    /// Changes the meta page if `change` says so (returns `Some`), as a structural change:
    /// generation bumped, stamp noted. `Ok(true)` if it changed.
    fn update_meta(
        &self,
        change: impl FnOnce(&mut Meta) -> Option<()>,
    ) -> Result<bool, FormatError> {
        self.update_meta_with(&[], |meta, _| change(meta))
    }

    /// `update_meta`, with `others` (at most 3 blocks above 0, ascending) changed in the
    /// same unit: `change` gets their pages in that order.
    fn update_meta_with(
        &self,
        others: &[u32],
        change: impl FnOnce(&mut Meta, &mut [&mut [u8]]) -> Option<()>,
    ) -> Result<bool, FormatError> {
        let (lsn, time) = self.change_stamp();
        let blocks: Vec<u32> = std::iter::once(0).chain(others.iter().copied()).collect();
        self.modify(&blocks, |pages| {
            let (meta_page, rest) = pages.split_first_mut().expect("the meta page");
            let mut meta = match Meta::read(meta_page) {
                Ok(meta) => meta,
                Err(e) => return Some(Err(e)),
            };
            change(&mut meta, rest)?;
            meta.generation += 1;
            meta.last_change_lsn = lsn;
            meta.last_change_time = time;
            meta.write(meta_page);
            Some(Ok(()))
        })
        .transpose()
        .map(|changed| changed.is_some())
    }
}

/// Pages in memory, for tests and tools. Fault injection: `crash_after(k)` lets `k` more
/// units commit, then makes the next one panic with [`Crash`] before it changes anything,
/// as a crash between two WAL records would leave the index.
#[derive(Default)]
pub struct MemStore {
    pages: RefCell<Vec<Vec<u8>>>,
    units: Cell<usize>,
    units_left: Cell<Option<usize>>,
}

/// The panic payload of an injected crash.
#[derive(Debug)]
pub struct Crash;

impl MemStore {
    pub fn new() -> Self {
        MemStore::default()
    }

    pub fn len(&self) -> usize {
        self.pages.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.pages.borrow().is_empty()
    }

    /// Stores `page` as block `block`, which must be the next block.
    pub fn append(&mut self, block: u32, page: &[u8]) {
        let pages = self.pages.get_mut();
        assert_eq!(block as usize, pages.len(), "blocks are written in order");
        assert_eq!(page.len(), PAGE_SIZE);
        pages.push(page.to_vec());
    }

    pub fn page_mut(&mut self, block: u32) -> &mut [u8] {
        &mut self.pages.get_mut()[block as usize]
    }

    /// A copy of every page, as a crash would leave them.
    pub fn snapshot(&self) -> MemStore {
        MemStore {
            pages: RefCell::new(self.pages.borrow().clone()),
            ..MemStore::default()
        }
    }

    /// Units committed so far.
    pub fn units(&self) -> usize {
        self.units.get()
    }

    /// Lets `units` more units commit; the one after panics with [`Crash`].
    pub fn crash_after(&self, units: usize) {
        self.units_left.set(Some(units));
    }
}

impl PageStore for MemStore {
    fn with_page<R>(&self, block: u32, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.pages.borrow()[block as usize])
    }

    fn with_pages<R>(&self, blocks: &[u32], f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let pages = self.pages.borrow();
        let pages: Vec<&[u8]> = blocks
            .iter()
            .map(|&b| pages[b as usize].as_slice())
            .collect();
        f(&pages)
    }
}

impl PageWrite for MemStore {
    fn modify<R>(
        &self,
        blocks: &[u32],
        f: impl FnOnce(&mut [&mut [u8]]) -> Option<R>,
    ) -> Option<R> {
        assert!(
            (1..=4).contains(&blocks.len()),
            "a unit changes 1 to 4 pages"
        );
        let mut sorted = blocks.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), blocks.len(), "a unit's pages are distinct");
        match self.units_left.get() {
            Some(0) => std::panic::panic_any(Crash),
            Some(k) => self.units_left.set(Some(k - 1)),
            None => {}
        }
        // The unit works on copies, applied together when it commits.
        let mut copies: Vec<Vec<u8>> = {
            let pages = self.pages.borrow();
            blocks.iter().map(|&b| pages[b as usize].clone()).collect()
        };
        let mut views: Vec<&mut [u8]> = copies.iter_mut().map(|c| c.as_mut_slice()).collect();
        let result = f(&mut views)?;
        let mut pages = self.pages.borrow_mut();
        for (&b, copy) in blocks.iter().zip(copies) {
            pages[b as usize] = copy;
        }
        self.units.set(self.units.get() + 1);
        Some(result)
    }

    fn blocks(&self) -> u32 {
        self.pages.borrow().len() as u32
    }

    fn ensure_blocks(&self, blocks: u32) {
        let mut pages = self.pages.borrow_mut();
        while pages.len() < blocks as usize {
            pages.push(vec![0; PAGE_SIZE]);
        }
    }
}
