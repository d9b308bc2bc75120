//! Sparse vectors' records. Each sparse vector is kept whole in a record of its own: a
//! u32 header (nnz in the low 16 bits, the record's capacity in non-zeros in the high
//! 16), then nnz u32 indices, then nnz f32 values, little-endian (its slot form,
//! `sparse::slots`), then unused space up to the capacity. A record is made to the size
//! of its vector; an insert that takes a slot VACUUM freed writes its vector over the old
//! record when it fits the capacity.
//!
//! Records are packed one after another in the groups' record pages and named by their
//! *position* in one byte stream: group g's record pages, CONTENT_SIZE bytes each, hold
//! positions [g * B, (g + 1) * B), B = `Layout::record_bytes`. A record never runs from
//! one group into the next (one that would not fit in what is left of a group starts at
//! the next group's first record page), so it spans consecutive pages. A node's vector
//! slot holds its record's position (u64); the meta page's `record_end` is where the next
//! record goes. A record is written before a live node names it.

use super::{get_u32, get_u64, Layout, PageStore, VectorPart, CONTENT_SIZE, HEADER_SIZE};
use crate::sparse::MAX_NNZ;

/// Record pages a group has at least: enough for the largest record.
pub const MIN_RECORD_PAGES: usize = 16;
/// Record pages a group has at most (groups stay small, see `Layout`).
pub const MAX_RECORD_PAGES: usize = 256;
const _: () = assert!(record_size(MAX_NNZ) <= MIN_RECORD_PAGES * CONTENT_SIZE);
const _: () = assert!(CONTENT_SIZE % 4 == 0);

/// Bytes of a record with room for `nnz` non-zero elements.
pub const fn record_size(nnz: usize) -> usize {
    4 + 8 * nnz
}
const _: () = assert!(MAX_NNZ < 1 << 16);

/// The record of `slots` (a sparse vector's slot form) in a record of `capacity`
/// non-zeros (at least its own; the bytes past its values are not written).
pub fn encode(slots: &[f32], capacity: usize) -> Vec<u8> {
    let nnz = crate::sparse::slots::nnz(slots);
    assert!(nnz <= capacity && capacity <= MAX_NNZ);
    let mut out = Vec::with_capacity(4 + 4 * slots.len());
    out.extend_from_slice(&(nnz as u32 | (capacity as u32) << 16).to_le_bytes());
    for x in slots {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// Record pages per group for records of `mean` bytes on average: room for a group's
/// worth of them, with a tenth to spare, within [MIN_RECORD_PAGES, MAX_RECORD_PAGES].
pub fn pages_for(dim: usize, m: usize, mean: f64) -> usize {
    let nodes = Layout::with_element(dim, m, crate::element::Element::Sparse).group_nodes;
    let pages = (nodes as f64 * mean * 1.1 / CONTENT_SIZE as f64).ceil() as usize;
    pages.clamp(MIN_RECORD_PAGES, MAX_RECORD_PAGES)
}

/// Where a record of `size` bytes goes when the stream ends at `end`: there, or at the
/// start of the next group if it would not fit in what is left of this one.
pub fn place(layout: &Layout, end: u64, size: usize) -> u64 {
    let per_group = layout.record_bytes() as u64;
    let within = end % per_group;
    if within + size as u64 <= per_group {
        end
    } else {
        end - within + per_group
    }
}

/// The pieces of the `size` bytes at stream position `pos`, page by page.
pub fn parts(layout: &Layout, pos: u64, size: usize) -> impl Iterator<Item = VectorPart> {
    let per_group = layout.record_bytes() as u64;
    let (group, within) = ((pos / per_group) as usize, (pos % per_group) as usize);
    let first = layout.first_record_block(group);
    let mut done = 0;
    std::iter::from_fn(move || {
        if done >= size {
            return None;
        }
        let at = within + done;
        let take = (CONTENT_SIZE - at % CONTENT_SIZE).min(size - done);
        let part = VectorPart {
            block: first + (at / CONTENT_SIZE) as u32,
            offset: HEADER_SIZE + at % CONTENT_SIZE,
            bytes: done..done + take,
        };
        done += take;
        Some(part)
    })
}

/// Whether a record of `size` bytes at `pos` lies 4-aligned within one group's record
/// pages: what a damaged slot may not satisfy. (A position past the index's last block
/// is left to the store, which reports it as an error.)
pub fn in_bounds(layout: &Layout, pos: u64, size: usize) -> bool {
    let per_group = layout.record_bytes() as u64;
    per_group > 0
        && pos % 4 == 0
        && pos / per_group < u32::MAX as u64 / layout.group_pages as u64
        && pos % per_group + size as u64 <= per_group
}

/// The record position in the vector slot at `at` of `page`.
pub fn position_at(page: &[u8], at: usize) -> u64 {
    get_u64(page, at)
}

/// The (nnz, capacity) of the record at `pos`, if its header is possible there.
pub fn header(store: &impl PageStore, layout: &Layout, pos: u64) -> Option<(usize, usize)> {
    if !in_bounds(layout, pos, 4) {
        return None;
    }
    let first = parts(layout, pos, 4).next().expect("a 4-byte part");
    let word = store.with_page(first.block, |p| get_u32(p, first.offset));
    let (nnz, capacity) = ((word & 0xffff) as usize, (word >> 16) as usize);
    (nnz <= capacity && capacity <= MAX_NNZ && in_bounds(layout, pos, record_size(capacity)))
        .then_some((nnz, capacity))
}

/// Appends the slot form of the record at `pos` to `out`. A position or header a damaged
/// page makes impossible reads as the empty vector rather than past the record pages.
pub fn read(store: &impl PageStore, layout: &Layout, pos: u64, out: &mut Vec<f32>) {
    let Some((nnz, _)) = header(store, layout, pos) else {
        return;
    };
    out.reserve(2 * nnz);
    // Positions and page contents are multiples of 4, so every part holds whole words.
    for part in parts(layout, pos + 4, 8 * nnz) {
        let end = part.offset + part.bytes.len();
        store.with_page(part.block, |p| {
            out.extend(
                p[part.offset..end]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            )
        });
    }
}

/// What is wrong with the record at `pos` (the stream ending at `end`), if anything.
pub fn problem(store: &impl PageStore, layout: &Layout, pos: u64, end: u64) -> Option<String> {
    if !in_bounds(layout, pos, 4) || pos + 4 > end {
        return Some(format!(
            "its record position {pos} is outside the record pages"
        ));
    }
    match header(store, layout, pos) {
        None => Some(format!("its record at {pos} has an impossible header")),
        Some((_, capacity)) if pos + record_size(capacity) as u64 > end => {
            Some(format!("its record at {pos} runs past the record pages"))
        }
        Some(_) => None,
    }
}
