//! Reading pages: the trait the search code is written against, and an in-memory store.

use super::PAGE_SIZE;

/// Gives read access to one page at a time. The Postgres implementation pins the buffer
/// and holds a share lock while `f` runs.
pub trait PageStore {
    fn with_page<R>(&self, block: u32, f: impl FnOnce(&[u8]) -> R) -> R;

    /// Runs `f` with several pages readable at once (`pages[i]` is `blocks[i]`; blocks may
    /// repeat; at most `PAGES_AT_ONCE` of them), so a caller can prefetch from all of them
    /// before computing on any.
    fn with_pages<R>(&self, blocks: &[u32], f: impl FnOnce(&[&[u8]]) -> R) -> R;
}

/// The most pages `with_pages` holds at once. Postgres tracks up to 8 buffer pins per
/// backend in a small array and more in a hash table, which would cost more than
/// prefetching saves.
pub const PAGES_AT_ONCE: usize = 6;

/// Pages in memory, for tests and tools.
#[derive(Default)]
pub struct MemStore {
    pages: Vec<Vec<u8>>,
}

impl MemStore {
    pub fn new() -> Self {
        MemStore::default()
    }

    pub fn len(&self) -> usize {
        self.pages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Stores `page` as block `block`, which must be the next block.
    pub fn append(&mut self, block: u32, page: &[u8]) {
        assert_eq!(
            block as usize,
            self.pages.len(),
            "blocks are written in order"
        );
        assert_eq!(page.len(), PAGE_SIZE);
        self.pages.push(page.to_vec());
    }

    pub fn page_mut(&mut self, block: u32) -> &mut [u8] {
        &mut self.pages[block as usize]
    }
}

impl PageStore for MemStore {
    fn with_page<R>(&self, block: u32, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.pages[block as usize])
    }

    fn with_pages<R>(&self, blocks: &[u32], f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let pages: Vec<&[u8]> = blocks
            .iter()
            .map(|&b| self.pages[b as usize].as_slice())
            .collect();
        f(&pages)
    }
}
