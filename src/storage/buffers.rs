//! Buffer access. Every read pins the buffer and holds a share lock only while the
//! caller's closure runs; every change goes through one generic WAL record of at most
//! four pages, locked exclusively in block order (so two backends never wait on each
//! other in opposite orders).

use hnsw_core::page::{
    page_is_new, FormatError, Meta, PageStore, PageWrite, PAGES_AT_ONCE, PAGE_SIZE,
};
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use std::cell::RefCell;

/// Reads index pages through shared buffers.
pub struct BufferStore {
    index: pg_sys::Relation,
}

fn read_buffer(index: pg_sys::Relation, block: u32) -> pg_sys::Buffer {
    // SAFETY: `index` is an open index relation; ReadBufferExtended raises an ERROR for a
    // block past the end rather than returning garbage.
    unsafe {
        pg_sys::ReadBufferExtended(
            index,
            pg_sys::ForkNumber::MAIN_FORKNUM,
            block,
            pg_sys::ReadBufferMode::RBM_NORMAL,
            std::ptr::null_mut(),
        )
    }
}

/// Relations whose recent buffers a backend remembers (the least recently used goes).
const RECENT_RELATIONS: usize = 4;

thread_local! {
    /// Which shared buffer last held each block of a few index relations (by relfilenode),
    /// as this backend read them: `buffers[block]`, 0 when unknown. A hit lets
    /// ReadRecentBuffer pin the page without the shared buffer-mapping lookup, which
    /// otherwise costs a quarter of a scan's time; a plain array costs less to consult
    /// than the hash map this was before. Entries may go stale; ReadRecentBuffer checks
    /// the buffer's tag, so a stale entry only costs the normal lookup.
    static RECENT: RefCell<Vec<(u32, Vec<pg_sys::Buffer>)>> = const { RefCell::new(Vec::new()) };
}

/// The remembered buffer of `block` in relation `rel`, if any.
fn recent_buffer(rel: u32, block: u32) -> Option<pg_sys::Buffer> {
    RECENT.with(|r| {
        let recent = r.borrow();
        let (_, buffers) = recent.iter().find(|(n, _)| *n == rel)?;
        buffers.get(block as usize).copied().filter(|&b| b != 0)
    })
}

fn remember_buffer(rel: u32, block: u32, buffer: pg_sys::Buffer) {
    RECENT.with(|r| {
        let mut recent = r.borrow_mut();
        let at = match recent.iter().position(|(n, _)| *n == rel) {
            Some(at) => at,
            None => {
                if recent.len() >= RECENT_RELATIONS {
                    recent.remove(0);
                }
                recent.push((rel, Vec::new()));
                recent.len() - 1
            }
        };
        // Most recently used last.
        let entry = recent.remove(at);
        recent.push(entry);
        let buffers = &mut recent.last_mut().expect("just pushed").1;
        if buffers.len() <= block as usize {
            buffers.resize(block as usize + 1, 0);
        }
        buffers[block as usize] = buffer;
    })
}

impl BufferStore {
    pub fn new(index: pg_sys::Relation) -> Self {
        BufferStore { index }
    }

    /// Pins `block`, through the buffer that last held it when it still does.
    fn pin(&self, block: u32) -> pg_sys::Buffer {
        // SAFETY: the index is open.
        let (node, rel) = unsafe { crate::compat::locator(self.index) };
        if let Some(buffer) = recent_buffer(rel, block) {
            // SAFETY: ReadRecentBuffer checks that `buffer` still holds this block of this
            // relation and pins it if so; otherwise it changes nothing.
            let hit = unsafe {
                pg_sys::ReadRecentBuffer(node, pg_sys::ForkNumber::MAIN_FORKNUM, block, buffer)
            };
            if hit {
                return buffer;
            }
        }
        let buffer = read_buffer(self.index, block);
        remember_buffer(rel, block, buffer);
        buffer
    }
}

impl PageStore for BufferStore {
    fn with_page<R>(&self, block: u32, f: impl FnOnce(&[u8]) -> R) -> R {
        let buffer = self.pin(block);
        // SAFETY: the buffer is pinned; under the share lock its page is a stable,
        // BLCKSZ-long byte array until UnlockReleaseBuffer.
        unsafe {
            pg_sys::LockBuffer(buffer, pg_sys::BUFFER_LOCK_SHARE as i32);
            let page =
                std::slice::from_raw_parts(pg_sys::BufferGetPage(buffer) as *const u8, PAGE_SIZE);
            let result = f(page);
            pg_sys::UnlockReleaseBuffer(buffer);
            result
        }
    }

    fn with_pages<R>(&self, blocks: &[u32], f: impl FnOnce(&[&[u8]]) -> R) -> R {
        assert!(blocks.len() <= PAGES_AT_ONCE);
        // Share locks are taken in block order, like every multi-page lock here.
        let mut unique = [0u32; PAGES_AT_ONCE];
        unique[..blocks.len()].copy_from_slice(blocks);
        let unique = &mut unique[..blocks.len()];
        unique.sort_unstable();
        let distinct = dedup_sorted(unique);
        let unique = &unique[..distinct];
        let mut buffers = [0 as pg_sys::Buffer; PAGES_AT_ONCE];
        let mut pages: [&[u8]; PAGES_AT_ONCE] = [&[]; PAGES_AT_ONCE];
        for (k, &block) in unique.iter().enumerate() {
            buffers[k] = self.pin(block);
            // SAFETY: the buffer is pinned and share-locked until the end of this call, so
            // its page is a stable BLCKSZ-long byte array while `f` runs.
            pages[k] = unsafe {
                pg_sys::LockBuffer(buffers[k], pg_sys::BUFFER_LOCK_SHARE as i32);
                std::slice::from_raw_parts(
                    pg_sys::BufferGetPage(buffers[k]) as *const u8,
                    PAGE_SIZE,
                )
            };
        }
        let mut ordered: [&[u8]; PAGES_AT_ONCE] = [&[]; PAGES_AT_ONCE];
        for (i, b) in blocks.iter().enumerate() {
            ordered[i] = pages[unique.binary_search(b).expect("every block was read")];
        }
        let result = f(&ordered[..blocks.len()]);
        for &buffer in &buffers[..distinct] {
            // SAFETY: pinned and share-locked above, released once.
            unsafe { pg_sys::UnlockReleaseBuffer(buffer) };
        }
        result
    }
}

/// Moves the distinct values of the sorted `values` to its front; returns how many.
fn dedup_sorted(values: &mut [u32]) -> usize {
    let mut kept = 0;
    for i in 0..values.len() {
        if kept == 0 || values[i] != values[kept - 1] {
            values[kept] = values[i];
            kept += 1;
        }
    }
    kept
}

/// Raises a format error as an ERROR.
pub fn format_error(e: FormatError) -> ! {
    let code = match e {
        FormatError::UnsupportedVersion { .. } => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        _ => PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
    };
    pgrx::ereport!(ERROR, code, e.to_string());
}

/// The meta page, checked (a damaged one is an ERROR).
pub fn read_meta(index: pg_sys::Relation) -> Meta {
    BufferStore::new(index).meta()
}

impl PageWrite for BufferStore {
    /// One generic WAL record: the pages are pinned, locked exclusively in block order,
    /// changed on the private copies generic WAL hands out, then logged and applied (or
    /// dropped when `f` returns `None`). Pages never initialised are logged whole.
    fn modify<R>(
        &self,
        blocks: &[u32],
        f: impl FnOnce(&mut [&mut [u8]]) -> Option<R>,
    ) -> Option<R> {
        assert!(
            !blocks.is_empty() && blocks.len() <= 4,
            "a generic WAL record holds 1 to 4 pages"
        );
        let index = self.index;
        let mut order: Vec<usize> = (0..blocks.len()).collect();
        order.sort_by_key(|&i| blocks[i]);
        let buffers: Vec<pg_sys::Buffer> = blocks.iter().map(|&b| read_buffer(index, b)).collect();
        // SAFETY: buffers are pinned and locked exclusively (in block order) before being
        // registered; the generic WAL state hands out private BLCKSZ copies that we may
        // write, applied and logged by GenericXLogFinish, or dropped by GenericXLogAbort.
        unsafe {
            for &i in &order {
                pg_sys::LockBuffer(buffers[i], pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
            }
            let state = pg_sys::GenericXLogStart(index);
            let mut pages: Vec<&mut [u8]> = buffers
                .iter()
                .map(|&buffer| {
                    let fresh = page_is_new(std::slice::from_raw_parts(
                        pg_sys::BufferGetPage(buffer) as *const u8,
                        PAGE_SIZE,
                    ));
                    let flags = if fresh {
                        pg_sys::GENERIC_XLOG_FULL_IMAGE as i32
                    } else {
                        0
                    };
                    let copy = pg_sys::GenericXLogRegisterBuffer(state, buffer, flags);
                    std::slice::from_raw_parts_mut(copy as *mut u8, PAGE_SIZE)
                })
                .collect();
            let result = f(&mut pages);
            if result.is_some() {
                pg_sys::GenericXLogFinish(state);
            } else {
                pg_sys::GenericXLogAbort(state);
            }
            for &buffer in &buffers {
                pg_sys::UnlockReleaseBuffer(buffer);
            }
            result
        }
    }

    fn blocks(&self) -> u32 {
        // SAFETY: reading the size of an open relation.
        unsafe {
            pg_sys::RelationGetNumberOfBlocksInFork(self.index, pg_sys::ForkNumber::MAIN_FORKNUM)
        }
    }

    /// The new pages are not logged: each is logged whole by the first change that
    /// initialises it.
    fn ensure_blocks(&self, blocks: u32) {
        if self.blocks() >= blocks {
            return;
        }
        // SAFETY: `index` is open; extension happens under the relation extension lock,
        // and each new buffer is released at once.
        unsafe {
            pg_sys::LockRelationForExtension(self.index, pg_sys::ExclusiveLock as i32);
            while self.blocks() < blocks {
                let buffer = read_buffer(self.index, pg_sys::InvalidBlockNumber);
                pg_sys::ReleaseBuffer(buffer);
            }
            pg_sys::UnlockRelationForExtension(self.index, pg_sys::ExclusiveLock as i32);
        }
    }

    /// vacuum_delay_point also checks for interrupts.
    fn pause(&self) {
        crate::compat::vacuum_delay_point();
    }

    fn format_error(&self, e: FormatError) -> ! {
        format_error(e)
    }

    fn out_of_memory(&self, e: std::collections::TryReserveError) -> ! {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
            "out of memory",
            format!("An hnsw index could not reserve memory: {e}.")
        );
    }

    fn change_stamp(&self) -> (u64, i64) {
        // SAFETY: plain reads of the WAL position and the clock.
        unsafe { (pg_sys::GetXLogInsertRecPtr(), pg_sys::GetCurrentTimestamp()) }
    }
}

/// `BufferStore::modify` on `index`: changes `blocks` in one generic WAL record.
pub fn modify_pages<R>(
    index: pg_sys::Relation,
    blocks: &[u32],
    f: impl FnOnce(&mut [&mut [u8]]) -> Option<R>,
) -> Option<R> {
    BufferStore::new(index).modify(blocks, f)
}

/// The index's size in blocks.
pub fn relation_blocks(index: pg_sys::Relation) -> u32 {
    BufferStore::new(index).blocks()
}
