//! Where every node, vector and upper-layer slot lives, by arithmetic.
//!
//! Block 0 is the meta page. An index with product quantization (format 7) keeps its
//! codebook on the `codebook_pages` pages after it, as one byte stream (`Codebook::to_bytes`).
//! The rest of the relation is a sequence of equal *groups* of pages; group g starts at
//! block 1 + codebook_pages + g * group_pages and holds, in order:
//! - node pages: the node records of ids [g*G, (g+1)*G), `nodes_per_page` to a page;
//! - code pages (an index with `quantization`, format 6): the same ids' codes (`codes`),
//!   end to end in one byte stream as vectors are;
//! - key pages (a multicolumn index, format 9): the same ids' keys, the values of the
//!   columns after the vector (`keys`), end to end in one byte stream as codes are;
//! - vector pages: the same ids' vectors, end to end in one byte stream over the group's
//!   vector pages, so a vector may start on one page and end on the next (format 5; older
//!   formats kept whole vectors on a page, or one vector over whole pages when it was
//!   larger than a page, and `Layout::of` reads them so);
//! - upper pages: upper-layer slots, numbered densely in one sequence across groups;
//! - record pages (sparse vectors only): the vectors themselves, variable-length records
//!   packed one after another (see `records`); the vector pages hold each node's record
//!   position.
//! So node id, vector and slot number each map to (block, offset) with no lookup.

use super::{CONTENT_SIZE, HEADER_SIZE};
use crate::codes::{Codebook, Quantization};
use crate::element::Element;
use crate::graph::MAX_LEVEL;

/// What a page holds (recorded in its special space).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum PageKind {
    Meta = 0x4d31,
    Nodes = 0x4e31,
    Vectors = 0x5631,
    Upper = 0x5531,
    Records = 0x5231,
    Codes = 0x4331,
    Codebook = 0x4231,
    Keys = 0x4b31,
}

impl PageKind {
    pub fn from_u16(v: u16) -> Option<PageKind> {
        [
            PageKind::Meta,
            PageKind::Nodes,
            PageKind::Vectors,
            PageKind::Upper,
            PageKind::Records,
            PageKind::Codes,
            PageKind::Codebook,
            PageKind::Keys,
        ]
        .into_iter()
        .find(|k| *k as u16 == v)
    }
}

/// Groups are kept to at most this many pages (4 MiB), so a small index stays small.
const MAX_GROUP_PAGES: usize = 512;
/// At most this many nodes per group.
const MAX_GROUP_NODES: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub dim: usize,
    pub m: usize,
    pub element: Element,
    /// Bytes of one node record.
    pub node_size: usize,
    pub nodes_per_page: usize,
    /// Bytes of one vector (`Element::vector_bytes`).
    pub vector_size: usize,
    /// Vectors end to end over the vector pages (format 5); otherwise whole vectors to a
    /// page (`vectors_per_page` of them), or one over `pages_per_vector` whole pages.
    pub packed: bool,
    pub vectors_per_page: usize,
    pub pages_per_vector: usize,
    /// The codes scans search on, and the bytes of one (0 without codes).
    pub quantization: Quantization,
    pub code_size: usize,
    /// Bytes of one node's key (`keys`; 0 in an index of the vector alone).
    pub key_size: usize,
    /// Product quantization's subvectors, and the pages after the meta page its codebook
    /// takes (0 and 0 for other indexes).
    pub subvectors: usize,
    pub codebook_pages: usize,
    /// Vector pages hold the vectors; a compact index (product quantization) has none.
    pub vectors_kept: bool,
    /// Bytes of one upper-layer slot.
    pub upper_size: usize,
    pub uppers_per_page: usize,
    /// Nodes per group (a multiple of nodes_per_page).
    pub group_nodes: usize,
    pub node_pages: usize,
    pub code_pages: usize,
    pub key_pages: usize,
    pub vector_pages: usize,
    pub upper_pages: usize,
    /// Record pages per group (0 unless vectors vary in length).
    pub record_pages: usize,
    pub group_pages: usize,
}

/// One page's piece of a stored vector: bytes `bytes` of its little-endian form, kept at
/// `offset` of block `block`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorPart {
    pub block: u32,
    pub offset: usize,
    pub bytes: std::ops::Range<usize>,
}

/// Node record: 20-byte header, MAX_LEVEL upper slot numbers, 2m layer-0 ids.
pub const NODE_HEADER: usize = 20;

impl Layout {
    /// The layout of an index of float32 vectors.
    pub fn new(dim: usize, m: usize) -> Layout {
        Layout::with_element(dim, m, Element::F32)
    }

    /// The layout of the index `meta` describes (in its format version).
    pub fn of(meta: &super::Meta) -> Layout {
        Layout::build(
            meta.dim as usize,
            meta.m as usize,
            meta.element,
            meta.record_pages as usize,
            meta.packed_vectors,
            meta.quantization,
            meta.pq_subvectors as usize,
            meta.compact,
            meta.key_bytes as usize,
        )
    }

    /// This layout with keys of `key_size` bytes (a multicolumn index; 0: none).
    pub fn with_keys(&self, key_size: usize) -> Layout {
        Layout::build(
            self.dim,
            self.m,
            self.element,
            self.record_pages,
            self.packed,
            self.quantization,
            self.subvectors,
            !self.vectors_kept,
            key_size,
        )
    }

    /// A layout of fixed-width vectors, or of sparse ones with the fewest record pages.
    pub fn with_element(dim: usize, m: usize, element: Element) -> Layout {
        Layout::with_records(dim, m, element, super::records::MIN_RECORD_PAGES)
    }

    /// `record_pages` applies to variable-length vectors only (and is raised to the least
    /// that holds the largest record); fixed-width ones have none.
    pub fn with_records(dim: usize, m: usize, element: Element, record_pages: usize) -> Layout {
        Layout::build(
            dim,
            m,
            element,
            record_pages,
            true,
            Quantization::None,
            0,
            false,
            0,
        )
    }

    /// A layout of fixed-width vectors with `quantization`'s codes (`subvectors` applies to
    /// product quantization only).
    pub fn with_codes(
        dim: usize,
        m: usize,
        element: Element,
        quantization: Quantization,
        subvectors: usize,
    ) -> Layout {
        Layout::build(dim, m, element, 0, true, quantization, subvectors, false, 0)
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        dim: usize,
        m: usize,
        element: Element,
        record_pages: usize,
        packed: bool,
        quantization: Quantization,
        subvectors: usize,
        compact: bool,
        key_size: usize,
    ) -> Layout {
        assert!(dim >= 1 && m >= 2);
        let vectors_kept = !(compact && quantization == Quantization::Pq);
        let record_pages = if element.is_variable() {
            record_pages.max(super::records::MIN_RECORD_PAGES)
        } else {
            0
        };
        let node_size = NODE_HEADER + 4 * MAX_LEVEL + 4 * 2 * m;
        let nodes_per_page = CONTENT_SIZE / node_size;
        assert!(nodes_per_page >= 1, "m too large for a page");
        let vector_size = element.vector_bytes(dim);
        let vectors_per_page = CONTENT_SIZE / vector_size;
        let pages_per_vector = if vectors_per_page == 0 {
            vector_size.div_ceil(CONTENT_SIZE)
        } else {
            0
        };
        let code_size = quantization.code_bytes(dim, subvectors);
        let (subvectors, codebook_pages) = match quantization {
            Quantization::Pq => (
                subvectors,
                crate::codes::Codebook::stored_bytes(dim).div_ceil(CONTENT_SIZE),
            ),
            _ => (0, 0),
        };
        let upper_size = 4 + 4 * m;
        let uppers_per_page = CONTENT_SIZE / upper_size;
        let with_nodes = |nodes: usize| {
            let node_pages = nodes / nodes_per_page;
            let vector_pages = if !vectors_kept {
                0
            } else if packed {
                (nodes * vector_size).div_ceil(CONTENT_SIZE)
            } else if vectors_per_page > 0 {
                nodes.div_ceil(vectors_per_page)
            } else {
                nodes * pages_per_vector
            };
            let code_pages = (nodes * code_size).div_ceil(CONTENT_SIZE);
            let key_pages = (nodes * key_size).div_ceil(CONTENT_SIZE);
            // About one node in m - 1 has upper layers (sum of m^-L); allow twice that.
            let upper_pages = (2 * nodes).div_ceil((m - 1) * uppers_per_page).max(1);
            (
                node_pages,
                code_pages,
                key_pages,
                vector_pages,
                upper_pages,
                node_pages + code_pages + key_pages + vector_pages + upper_pages + record_pages,
            )
        };
        let mut pages_of_nodes = MAX_GROUP_NODES.div_ceil(nodes_per_page);
        while pages_of_nodes > 1 && with_nodes(pages_of_nodes * nodes_per_page).5 > MAX_GROUP_PAGES
        {
            pages_of_nodes -= 1;
        }
        let group_nodes = pages_of_nodes * nodes_per_page;
        let (node_pages, code_pages, key_pages, vector_pages, upper_pages, group_pages) =
            with_nodes(group_nodes);
        Layout {
            dim,
            m,
            element,
            node_size,
            nodes_per_page,
            vector_size,
            packed,
            vectors_per_page,
            pages_per_vector,
            quantization,
            code_size,
            key_size,
            subvectors,
            codebook_pages,
            vectors_kept,
            upper_size,
            uppers_per_page,
            group_nodes,
            node_pages,
            code_pages,
            key_pages,
            vector_pages,
            upper_pages,
            record_pages,
            group_pages,
        }
    }

    /// The first block of the groups (after the meta page and any codebook pages).
    pub fn first_group_block(&self) -> u32 {
        (1 + self.codebook_pages) as u32
    }

    fn group_start(&self, group: usize) -> u32 {
        self.first_group_block() + (group * self.group_pages) as u32
    }

    /// The group block `block` (past the meta and codebook pages) is in, and its page
    /// number within the group.
    pub fn group_of(&self, block: u32) -> (usize, usize) {
        let from = (block - self.first_group_block()) as usize;
        (from / self.group_pages, from % self.group_pages)
    }

    /// The blocks the codebook is stored on, and the bytes each holds (product
    /// quantization; none otherwise).
    pub fn codebook_parts(&self) -> impl Iterator<Item = VectorPart> {
        parts(
            1,
            0,
            Codebook::stored_bytes(self.dim) * (self.codebook_pages > 0) as usize,
        )
    }

    /// Block and byte offset (within the page) of node `id`'s record.
    /// Most neighbours a list on `layer` holds.
    pub fn max_degree(&self, layer: usize) -> usize {
        crate::graph::max_degree(self.m, layer)
    }

    pub fn node_location(&self, id: u32) -> (u32, usize) {
        let (g, r) = (
            id as usize / self.group_nodes,
            id as usize % self.group_nodes,
        );
        let block = self.group_start(g) + (r / self.nodes_per_page) as u32;
        (
            block,
            HEADER_SIZE + (r % self.nodes_per_page) * self.node_size,
        )
    }

    /// The first node id recorded on node page `block`.
    pub fn first_node_on(&self, block: u32) -> u32 {
        let (g, within) = self.group_of(block);
        debug_assert!(within < self.node_pages);
        (g * self.group_nodes + within * self.nodes_per_page) as u32
    }

    /// Where node `id`'s vector starts in its group's vector stream: page `k` of the
    /// group's vector pages holds stream bytes `[k * CONTENT_SIZE, (k + 1) * CONTENT_SIZE)`.
    fn vector_position(&self, within_group: usize) -> usize {
        let r = within_group;
        if self.packed {
            r * self.vector_size
        } else if self.vectors_per_page > 0 {
            (r / self.vectors_per_page) * CONTENT_SIZE
                + (r % self.vectors_per_page) * self.vector_size
        } else {
            r * self.pages_per_vector * CONTENT_SIZE
        }
    }

    /// The block of the group's first vector page, and node `id`'s stream position.
    fn vector_start(&self, id: u32) -> (u32, usize) {
        let (g, r) = (
            id as usize / self.group_nodes,
            id as usize % self.group_nodes,
        );
        (
            self.group_start(g) + self.first_vector_page() as u32,
            self.vector_position(r),
        )
    }

    /// The block of the group's first code page, and node `id`'s code stream position.
    fn code_start(&self, id: u32) -> (u32, usize) {
        let (g, r) = (
            id as usize / self.group_nodes,
            id as usize % self.group_nodes,
        );
        (
            self.group_start(g) + self.node_pages as u32,
            r * self.code_size,
        )
    }

    /// The block of the group's first key page, and node `id`'s key stream position.
    fn key_start(&self, id: u32) -> (u32, usize) {
        let (g, r) = (
            id as usize / self.group_nodes,
            id as usize % self.group_nodes,
        );
        (
            self.group_start(g) + self.first_key_page() as u32,
            r * self.key_size,
        )
    }

    /// Within a group: the first key page's number.
    pub fn first_key_page(&self) -> usize {
        self.node_pages + self.code_pages
    }

    /// Within a group: the first vector page's number.
    pub fn first_vector_page(&self) -> usize {
        self.first_key_page() + self.key_pages
    }

    /// Within a group: the first upper page's number.
    pub fn first_upper_page(&self) -> usize {
        self.first_vector_page() + self.vector_pages
    }

    /// Block and offset where node `id`'s vector starts.
    pub fn vector_location(&self, id: u32) -> (u32, usize) {
        location(self.vector_start(id))
    }

    /// Block and offset where node `id`'s code starts (an index with codes).
    pub fn code_location(&self, id: u32) -> (u32, usize) {
        debug_assert!(self.code_size > 0);
        location(self.code_start(id))
    }

    /// The pieces node `id`'s vector is stored in, in order, one per page it touches: the
    /// first from its start, the others from offset HEADER_SIZE of the following pages.
    pub fn vector_parts(&self, id: u32) -> impl Iterator<Item = VectorPart> {
        let (first, start) = self.vector_start(id);
        parts(first, start, self.vector_size)
    }

    /// The same for node `id`'s code.
    pub fn code_parts(&self, id: u32) -> impl Iterator<Item = VectorPart> {
        let (first, start) = self.code_start(id);
        parts(first, start, self.code_size)
    }

    /// The same for node `id`'s key (a multicolumn index).
    pub fn key_parts(&self, id: u32) -> impl Iterator<Item = VectorPart> {
        debug_assert!(self.key_size > 0);
        let (first, start) = self.key_start(id);
        parts(first, start, self.key_size)
    }

    /// The blocks of group `group`'s key pages.
    pub fn key_blocks(&self, group: usize) -> std::ops::Range<u32> {
        let first = self.group_start(group) + self.first_key_page() as u32;
        first..first + self.key_pages as u32
    }

    /// The node ids (of group `group`) whose vectors touch the group's vector page
    /// number `index`.
    pub fn vectors_on_page(&self, group: usize, index: usize) -> std::ops::Range<usize> {
        let base = group * self.group_nodes;
        let (first, last) = if self.packed {
            let size = self.vector_size;
            (
                index * CONTENT_SIZE / size,
                ((index + 1) * CONTENT_SIZE).div_ceil(size),
            )
        } else if self.vectors_per_page > 0 {
            (
                index * self.vectors_per_page,
                (index + 1) * self.vectors_per_page,
            )
        } else {
            let id = index / self.pages_per_vector;
            (id, id + 1)
        };
        base + first.min(self.group_nodes)..base + last.min(self.group_nodes)
    }

    /// The node ids (of group `group`) whose codes touch the group's code page `index`.
    pub fn codes_on_page(&self, group: usize, index: usize) -> std::ops::Range<usize> {
        self.stream_on_page(group, index, self.code_size)
    }

    /// The node ids (of group `group`) whose keys touch the group's key page `index`.
    pub fn keys_on_page(&self, group: usize, index: usize) -> std::ops::Range<usize> {
        self.stream_on_page(group, index, self.key_size)
    }

    /// The node ids (of group `group`) whose `size`-byte pieces of a stream kept end to end
    /// touch the stream's page `index`.
    fn stream_on_page(&self, group: usize, index: usize, size: usize) -> std::ops::Range<usize> {
        let base = group * self.group_nodes;
        let (first, last) = (
            index * CONTENT_SIZE / size,
            ((index + 1) * CONTENT_SIZE).div_ceil(size),
        );
        base + first.min(self.group_nodes)..base + last.min(self.group_nodes)
    }

    /// Block and offset of upper-layer slot `slot`.
    pub fn upper_location(&self, slot: u32) -> (u32, usize) {
        let per_group = self.upper_pages * self.uppers_per_page;
        let (g, r) = (slot as usize / per_group, slot as usize % per_group);
        let block =
            self.group_start(g) + (self.first_upper_page() + r / self.uppers_per_page) as u32;
        (
            block,
            HEADER_SIZE + (r % self.uppers_per_page) * self.upper_size,
        )
    }

    /// Groups needed for `nodes` nodes, `upper_slots` upper slots and records up to
    /// stream position `record_end` (see `records`).
    pub fn groups_for(&self, nodes: usize, upper_slots: usize, record_end: u64) -> usize {
        let per_group = self.upper_pages * self.uppers_per_page;
        let record_groups = match self.record_bytes() {
            0 => 0,
            bytes => (record_end as usize).div_ceil(bytes),
        };
        nodes
            .div_ceil(self.group_nodes)
            .max(upper_slots.div_ceil(per_group))
            .max(record_groups)
    }

    /// Bytes of records one group holds.
    pub fn record_bytes(&self) -> usize {
        self.record_pages * CONTENT_SIZE
    }

    /// The first record page of group `group`.
    pub fn first_record_block(&self, group: usize) -> u32 {
        self.group_start(group) + (self.first_upper_page() + self.upper_pages) as u32
    }

    /// Content bytes a vector page uses.
    pub fn vector_page_used(&self) -> usize {
        if !self.packed && self.vectors_per_page > 0 {
            self.vectors_per_page * self.vector_size
        } else {
            CONTENT_SIZE
        }
    }

    /// What block `block` holds, and how many content bytes its kind uses.
    pub fn block_kind(&self, block: u32) -> (PageKind, usize) {
        if block == 0 {
            return (PageKind::Meta, super::meta::META_SIZE);
        }
        if block < self.first_group_block() {
            let last = block == self.first_group_block() - 1;
            let bytes = Codebook::stored_bytes(self.dim);
            let used = if last {
                bytes - (self.codebook_pages - 1) * CONTENT_SIZE
            } else {
                CONTENT_SIZE
            };
            return (PageKind::Codebook, used);
        }
        let within = self.group_of(block).1;
        if within < self.node_pages {
            (PageKind::Nodes, self.nodes_per_page * self.node_size)
        } else if within < self.first_key_page() {
            (PageKind::Codes, CONTENT_SIZE)
        } else if within < self.first_vector_page() {
            (PageKind::Keys, CONTENT_SIZE)
        } else if within < self.first_upper_page() {
            (PageKind::Vectors, self.vector_page_used())
        } else if within < self.first_upper_page() + self.upper_pages {
            (PageKind::Upper, self.uppers_per_page * self.upper_size)
        } else {
            (PageKind::Records, CONTENT_SIZE)
        }
    }
}

/// Block and offset of stream position `pos` of the stream whose first page is `first`.
fn location((first, pos): (u32, usize)) -> (u32, usize) {
    (
        first + (pos / CONTENT_SIZE) as u32,
        HEADER_SIZE + pos % CONTENT_SIZE,
    )
}

/// The pieces stream bytes `[start, start + size)` of the stream whose first page is
/// `first` are stored in, one per page they touch.
fn parts(first: u32, start: usize, size: usize) -> impl Iterator<Item = VectorPart> {
    let end = start + size;
    let pages = start / CONTENT_SIZE..end.div_ceil(CONTENT_SIZE);
    pages.map(move |k| {
        let (from, to) = (start.max(k * CONTENT_SIZE), end.min((k + 1) * CONTENT_SIZE));
        VectorPart {
            block: first + k as u32,
            offset: HEADER_SIZE + from - k * CONTENT_SIZE,
            bytes: from - start..to - start,
        }
    })
}
