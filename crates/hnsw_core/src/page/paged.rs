//! Searching an index through its pages: the same search code as the build graph, reading
//! neighbour lists and vectors (float32 or float16) from a `PageStore`; a vector that
//! runs over a page boundary (format 5 packs them end to end) is put together in a buffer.
//! In an index with codes, a graph made `with_estimates` computes its distances on the
//! codes instead (`codes`), and the exact ones only when asked (`exact_distances_to`).
//! A compact index keeps no vectors: what stands for them is read from the codes (the
//! vectors the codes stand for, and lower bounds of the distances in their place).
#![allow(unsafe_code)] // see the crate header

use super::node::{read_layer0, read_upper, record_flags, record_level, upper_slot_of, NodeRecord};
use super::{records, Layout, Meta, PageStore, CONTENT_SIZE, HEADER_SIZE, PAGES_AT_ONCE};
use crate::codes::{sq8_distance, Codebook, Quantization, QueryTable};
use crate::distance::{kernels, Kernels};
use crate::element::{f16, Element};
use crate::graph::GraphRead;
use std::cell::{OnceCell, Ref, RefCell};
use std::collections::TryReserveError;

pub struct PagedGraph<S> {
    pub store: S,
    pub meta: Meta,
    pub layout: Layout,
    kernels: &'static Kernels,
    scratch: RefCell<Vec<f32>>,
    /// Distances are computed on the codes (see `with_estimates`).
    estimates: bool,
    /// Candidates beyond the beam a scan re-ranks, when not the codes' own count.
    rerank: Option<usize>,
    /// Product quantization's codebook, read from its pages on first use.
    codebook: OnceCell<Codebook>,
    /// The last query's lookup table (`Codebook::table`): (query, table).
    table: RefCell<(Vec<f32>, QueryTable)>,
}

/// Which of a node's stored forms a distance reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    Vectors,
    Codes,
    /// The codes, for lower bounds of the distances to the vectors (a compact index).
    Bounds,
}

impl<S: PageStore> PagedGraph<S> {
    pub fn new(store: S, meta: Meta) -> Self {
        let layout = Layout::of(&meta);
        PagedGraph {
            store,
            meta,
            layout,
            kernels: kernels(),
            scratch: RefCell::new(Vec::new()),
            estimates: false,
            rerank: None,
            codebook: OnceCell::new(),
            table: RefCell::new((Vec::new(), QueryTable::default())),
        }
    }

    /// Whether the index keeps the vectors (all but compact ones do).
    pub fn keeps_vectors(&self) -> bool {
        self.layout.vectors_kept
    }

    /// The index's product-quantization codebook (`None` in other indexes, and while it is
    /// not trained: `Meta::codes_pending`), read from its pages on first use (see
    /// `prepare`).
    pub fn codebook(&self) -> Option<&Codebook> {
        self.try_codebook().unwrap_or_else(|e| out_of_memory(e))
    }

    /// `codebook`, its memory reserved fallibly.
    fn try_codebook(&self) -> Result<Option<&Codebook>, TryReserveError> {
        if self.layout.quantization != Quantization::Pq || self.meta.codes_pending {
            return Ok(None);
        }
        if self.codebook.get().is_none() {
            let _ = self.codebook.set(self.read_codebook()?);
        }
        Ok(self.codebook.get())
    }

    fn read_codebook(&self) -> Result<Codebook, TryReserveError> {
        let parts: Vec<_> = self.layout.codebook_parts().collect();
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(Codebook::stored_bytes(self.layout.dim))?;
        self.read_parts(&parts, |b| bytes.extend_from_slice(b));
        Ok(
            Codebook::from_bytes(self.layout.dim, self.layout.subvectors, &bytes)?
                .expect("Meta::read keeps the subvectors within the dimensions"),
        )
    }

    /// `query`'s lookup table under the index's codebook, computed once per query.
    fn table_for(&self, codebook: &Codebook, query: &[f32]) -> Ref<'_, QueryTable> {
        self.try_table_for(codebook, query)
            .unwrap_or_else(|e| out_of_memory(e))
    }

    fn try_table_for(
        &self,
        codebook: &Codebook,
        query: &[f32],
    ) -> Result<Ref<'_, QueryTable>, TryReserveError> {
        let same = |cached: &[f32]| {
            cached.len() == query.len()
                && cached
                    .iter()
                    .zip(query)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
        };
        if !same(&self.table.borrow().0) {
            let mut cached = self.table.borrow_mut();
            let (q, table) = &mut *cached;
            q.clear();
            codebook.table(self.meta.indexed_metric(), query, table)?;
            q.try_reserve_exact(query.len())?;
            q.extend_from_slice(query);
        }
        Ok(Ref::map(self.table.borrow(), |(_, table)| table))
    }

    /// Makes `distance_to` and `distances_to` estimates computed on the nodes' codes,
    /// when the index has codes (trained ones) and `on` is set (a scan's search, which
    /// re-ranks what it returns on the exact vectors).
    pub fn with_estimates(mut self, on: bool) -> Self {
        self.estimates = on && self.layout.code_size > 0 && !self.meta.codes_pending;
        self
    }

    /// Makes a scan on codes re-rank `rerank` candidates beyond its beam (`None`: the
    /// codes' own count, see `reranked_beyond_beam`). A compact index has no vectors to
    /// re-rank on and returns every node its beam evaluated whatever this says.
    pub fn with_rerank(mut self, rerank: Option<usize>) -> Self {
        self.rerank = rerank;
        self
    }

    pub fn node(&self, id: u32) -> NodeRecord {
        let (block, at) = self.layout.node_location(id);
        self.store
            .with_page(block, |p| NodeRecord::read(p, at, self.layout.m))
    }

    /// Node `id`'s flags and level alone (cheaper than the whole record).
    pub fn flags_and_level(&self, id: u32) -> (u8, usize) {
        let (block, at) = self.layout.node_location(id);
        self.store
            .with_page(block, |p| (record_flags(p, at), record_level(p, at)))
    }

    /// What is wrong with node `id`'s sparse vector record, if anything (see
    /// `records::problem`; `None` for fixed-width vectors).
    pub fn record_problem(&self, id: u32) -> Option<String> {
        if !self.layout.element.is_variable() {
            return None;
        }
        let (block, at) = self.layout.vector_location(id);
        let pos = self.store.with_page(block, |p| records::position_at(p, at));
        records::problem(&self.store, &self.layout, pos, self.meta.record_end)
    }

    /// What is wrong with node `id`'s code, if anything: it must be the code of the vector
    /// (`None` in an index without codes, or whose codebook is not trained yet, or without
    /// the vectors to compare with).
    pub fn code_problem(&self, id: u32) -> Option<String> {
        if self.layout.code_size == 0 || !self.layout.vectors_kept || self.meta.codes_pending {
            return None;
        }
        let (mut vector, mut code) = (Vec::new(), Vec::new());
        self.read_vector(id, &mut vector);
        self.read_code(id, &mut code);
        let mut expected = vec![0u8; self.layout.code_size];
        super::writer::encode_code(&self.layout, self.codebook(), &vector, &mut expected);
        (code != expected).then(|| "its code is not the code of its vector".to_string())
    }

    /// What is wrong with node `id`'s key, if anything: a node in a multicolumn index has
    /// one written (`None` in an index of the vector alone).
    pub fn key_problem(&self, id: u32) -> Option<String> {
        if self.layout.key_size == 0 {
            return None;
        }
        let mut key = Vec::new();
        self.read_key(id, &mut key);
        (!super::keys::KeyFormat::is_written(&key))
            .then(|| "its filter values are not written".to_string())
    }

    /// Node `id`'s key bytes (a multicolumn index), replacing `out`'s contents.
    pub fn read_key(&self, id: u32, out: &mut Vec<u8>) {
        out.clear();
        let parts: Vec<_> = self.layout.key_parts(id).collect();
        self.read_parts(&parts, |bytes| out.extend_from_slice(bytes));
    }

    /// Copies node `id`'s vector into `out`, as float32 (a sparse vector's slot form); in
    /// a compact index, the vector its code stands for.
    pub fn read_vector(&self, id: u32, out: &mut Vec<f32>) {
        out.clear();
        if !self.layout.vectors_kept {
            let mut code = Vec::new();
            self.read_code(id, &mut code);
            let codebook = self
                .codebook()
                .expect("a compact index has product quantization");
            return codebook.decode(&code, out);
        }
        if self.layout.element.is_variable() {
            let (block, at) = self.layout.vector_location(id);
            let pos = self.store.with_page(block, |p| records::position_at(p, at));
            return records::read(&self.store, &self.layout, pos, out);
        }
        let element = self.layout.element;
        let parts: Vec<_> = self.layout.vector_parts(id).collect();
        self.read_parts(&parts, |bytes| element.decode(bytes, out));
    }

    /// Node `id`'s code bytes (an index with codes), replacing `out`'s contents.
    pub fn read_code(&self, id: u32, out: &mut Vec<u8>) {
        out.clear();
        let parts: Vec<_> = self.layout.code_parts(id).collect();
        self.read_parts(&parts, |bytes| out.extend_from_slice(bytes));
    }

    /// Hands `take` the bytes of each of `parts` in order. Up to PAGES_AT_ONCE pages are
    /// read under their locks together, so a vector or code that runs over a page boundary
    /// is read whole even while an insert rewrites its slot.
    fn read_parts(&self, parts: &[super::VectorPart], mut take: impl FnMut(&[u8])) {
        for run in parts.chunks(PAGES_AT_ONCE) {
            let blocks: Vec<u32> = run.iter().map(|part| part.block).collect();
            self.store.with_pages(&blocks, |pages| {
                for (page, part) in pages.iter().zip(run) {
                    take(&page[part.offset..part.offset + part.bytes.len()]);
                }
            });
        }
    }
}

/// The most vectors one `distances_on_pages` call computes (on at most PAGES_AT_ONCE pages).
const IDS_AT_ONCE: usize = 32;

/// How `distances_on_pages` reaches one vector: on one of the pages it holds, at an
/// offset; over two of them (`pages[k]` from the offset to its end, then `pages[k + 1]`);
/// or, larger than a page, on a copy read page by page.
#[derive(Clone, Copy)]
enum Place {
    Page { k: usize, at: usize },
    Split { k: usize, at: usize },
    Copy,
}

impl<S: PageStore> PagedGraph<S> {
    /// Appends the distances to the vectors (or codes) of the first of `ids`, as many as
    /// have their pages fit in PAGES_AT_ONCE, and returns how many it took. Their pages are
    /// all held at once and each vector is prefetched a few ahead of the one computed; a
    /// vector that runs over a page boundary is put together in a buffer first.
    fn distances_on_pages(
        &self,
        stream: Stream,
        query: &[f32],
        ids: &[u32],
        out: &mut Vec<f32>,
    ) -> usize {
        let layout = &self.layout;
        debug_assert!(
            stream != Stream::Vectors || layout.vectors_kept,
            "a compact index has no vector pages to read"
        );
        let size = match stream {
            Stream::Vectors => layout.vector_size,
            Stream::Codes | Stream::Bounds => layout.code_size,
        };
        let table = match (stream, self.codebook()) {
            (Stream::Codes | Stream::Bounds, Some(codebook)) => {
                Some(self.table_for(codebook, query))
            }
            _ => None,
        };
        let table = table.as_deref();
        let on_bytes = |bytes: &[u8]| match stream {
            Stream::Vectors => self.distance_on_bytes(query, bytes),
            Stream::Codes | Stream::Bounds => self.on_code(stream, query, table, bytes),
        };
        let mut blocks = [0u32; PAGES_AT_ONCE];
        let mut places = [Place::Copy; IDS_AT_ONCE];
        let (mut pages, mut taken) = (0usize, 0);
        for &id in ids.iter().take(IDS_AT_ONCE) {
            let (block, at) = match stream {
                Stream::Vectors => layout.vector_location(id),
                Stream::Codes | Stream::Bounds => layout.code_location(id),
            };
            // Vectors on a page already held share it.
            let held = |run: &[u32]| {
                (0..pages).find(|&k| k + run.len() <= pages && blocks[k..k + run.len()] == *run)
            };
            let (place, run) = if size > CONTENT_SIZE {
                (Place::Copy, &[][..])
            } else if at + size <= HEADER_SIZE + CONTENT_SIZE {
                let run = [block];
                match held(&run) {
                    Some(k) => (Place::Page { k, at }, &[][..]),
                    None => (Place::Page { k: pages, at }, &[block][..]),
                }
            } else {
                match held(&[block, block + 1]) {
                    Some(k) => (Place::Split { k, at }, &[][..]),
                    None => (Place::Split { k: pages, at }, &[block, block + 1][..]),
                }
            };
            if pages + run.len() > PAGES_AT_ONCE {
                break;
            }
            blocks[pages..pages + run.len()].copy_from_slice(run);
            pages += run.len();
            places[taken] = place;
            taken += 1;
        }
        let places = &places[..taken];
        self.store.with_pages(&blocks[..pages], |pages| {
            let mut joined = self.scratch.borrow_mut();
            let fetch = |place: Place| match place {
                Place::Page { k, at } => prefetch(&pages[k][at..at + size]),
                Place::Split { k, at } => {
                    prefetch(&pages[k][at..]);
                    prefetch(&pages[k + 1][HEADER_SIZE..HEADER_SIZE + size]);
                }
                Place::Copy => {}
            };
            const AHEAD: usize = 2;
            places.iter().take(AHEAD).for_each(|&p| fetch(p));
            for (i, &place) in places.iter().enumerate() {
                if let Some(&next) = places.get(i + AHEAD) {
                    fetch(next);
                }
                let distance = match place {
                    Place::Page { k, at } => on_bytes(&pages[k][at..at + size]),
                    Place::Split { k, at } => {
                        let head = &pages[k][at..HEADER_SIZE + CONTENT_SIZE];
                        let tail = &pages[k + 1][HEADER_SIZE..HEADER_SIZE + size - head.len()];
                        on_bytes(join(&mut joined, head, tail))
                    }
                    Place::Copy => f32::NAN,
                };
                out.push(distance);
            }
        });
        let first = out.len() - taken;
        for (i, place) in places.iter().enumerate() {
            if let Place::Copy = place {
                out[first + i] = match stream {
                    Stream::Vectors => self.distance_on_copy(query, ids[i]),
                    Stream::Codes | Stream::Bounds => {
                        self.distance_on_code_copy(stream, query, ids[i])
                    }
                };
            }
        }
        taken
    }

    /// The estimate (or bound) from node `id`'s code, read into a buffer page by page.
    fn distance_on_code_copy(&self, stream: Stream, query: &[f32], id: u32) -> f32 {
        let mut code = Vec::new();
        self.read_code(id, &mut code);
        let table = self
            .codebook()
            .map(|codebook| self.table_for(codebook, query));
        self.on_code(stream, query, table.as_deref(), &code)
    }

    /// What `stream` (codes or bounds) gives for `code`: the estimate (SQ8, or product
    /// quantization with `table` the query's lookup table), or a lower bound of the
    /// distance to the vector (a compact index's codes).
    fn on_code(
        &self,
        stream: Stream,
        query: &[f32],
        table: Option<&QueryTable>,
        code: &[u8],
    ) -> f32 {
        match (self.codebook.get(), table, stream) {
            (Some(codebook), Some(table), Stream::Bounds) => {
                codebook.lower_bound(self.kernels, table, code)
            }
            (Some(codebook), Some(table), _) => codebook.estimate(self.kernels, table, code),
            (_, _, Stream::Bounds) => unreachable!("bounds come from product quantization"),
            _ => sq8_distance(self.meta.indexed_metric(), self.kernels, query, code),
        }
    }

    /// `distances_to` on the stored vectors, or on the codes.
    fn distances_in(&self, stream: Stream, query: &[f32], ids: &[u32], out: &mut Vec<f32>) {
        out.clear();
        if self.layout.element.is_variable() {
            out.extend(ids.iter().map(|&id| self.distance_on_copy(query, id)));
            return;
        }
        let mut done = 0;
        while done < ids.len() {
            done += self.distances_on_pages(stream, query, &ids[done..], out);
        }
    }

    /// The stream `distance_to` and `distances_to` read.
    /// (A compact index has no vectors: its distances are always estimates.)
    fn searched(&self) -> Stream {
        if self.estimates || !self.layout.vectors_kept {
            Stream::Codes
        } else {
            Stream::Vectors
        }
    }

    /// The distance to node `id`'s vector, read into a buffer page by page.
    fn distance_on_copy(&self, query: &[f32], id: u32) -> f32 {
        let mut v = self.scratch.borrow_mut();
        self.read_vector(id, &mut v);
        self.meta.indexed_metric().distance(self.kernels, query, &v)
    }
}

/// `head` then `tail` in `buffer`, as bytes that start 4-aligned.
fn join<'a>(buffer: &'a mut Vec<f32>, head: &[u8], tail: &[u8]) -> &'a [u8] {
    let len = head.len() + tail.len();
    buffer.clear();
    buffer.resize(len.div_ceil(4), 0.0);
    // SAFETY: the floats' memory is `4 * buffer.len() >= len` initialised bytes, and any
    // bytes written make valid floats.
    let bytes = unsafe { std::slice::from_raw_parts_mut(buffer.as_mut_ptr() as *mut u8, len) };
    bytes[..head.len()].copy_from_slice(head);
    bytes[head.len()..].copy_from_slice(tail);
    bytes
}

impl<S: PageStore> PagedGraph<S> {
    /// The distance from `query` to the little-endian vector in `bytes`, computed in place
    /// when the bytes are aligned elements (buffer pages are), else on a copy.
    fn distance_on_bytes(&self, query: &[f32], bytes: &[u8]) -> f32 {
        let metric = self.meta.indexed_metric();
        if cfg!(target_endian = "little") {
            match self.layout.element {
                Element::F32 | Element::Bit => {
                    // SAFETY: every bit pattern is a valid f32; align_to only yields floats
                    // for a 4-aligned part, and we use them only when that is all of `bytes`.
                    let (head, floats, tail) = unsafe { bytes.align_to::<f32>() };
                    if head.is_empty() && tail.is_empty() {
                        return metric.distance(self.kernels, query, floats);
                    }
                }
                Element::Sparse => unreachable!("sparse vectors are read from their records"),
                Element::F16 => {
                    // SAFETY: f16 is a transparent u16, so every bit pattern is valid; as
                    // above, the halves are used only when they are all of `bytes`.
                    let (head, halves, tail) = unsafe { bytes.align_to::<f16>() };
                    if head.is_empty() && tail.is_empty() {
                        return metric.distance_to_halves(self.kernels, query, halves);
                    }
                }
            }
        }
        let mut v = Vec::with_capacity(self.layout.dim);
        self.layout.element.decode(bytes, &mut v);
        metric.distance(self.kernels, query, &v)
    }
}

impl<S: PageStore> GraphRead for PagedGraph<S> {
    fn distance_to(&self, query: &[f32], id: u32) -> f32 {
        let mut out = Vec::with_capacity(1);
        self.distances_in(self.searched(), query, &[id], &mut out);
        out[0]
    }

    fn distances_to(&self, query: &[f32], ids: &[u32], out: &mut Vec<f32>) {
        self.distances_in(self.searched(), query, ids, out)
    }

    fn estimates(&self) -> bool {
        self.estimates
    }

    /// Product quantization's codebook and the query's lookup table (8 MB at 16,000
    /// subvectors), reserved fallibly; later reads find them ready.
    fn prepare(&self, query: &[f32]) -> Result<(), TryReserveError> {
        if let Some(codebook) = self.try_codebook()? {
            self.try_table_for(codebook, query)?;
        }
        Ok(())
    }

    /// Product quantization's 4-bit codes: as many again as the beam by default (on
    /// Fashion-MNIST 60k this raised recall at ef_search 20 from 0.894 to 0.952 for 7% more
    /// time).
    /// A compact index returns every node the beam evaluated, by their bounds: the
    /// executor re-ranks rows until a bound passes the k-th distance, which takes more
    /// rows than a beam (35 to 75 a query for ten on 4,000 real vectors), and rows within
    /// one batch come in order. SQ8 re-ranks none beyond the beam by default; `with_rerank`
    /// sets the count for both.
    fn reranked_beyond_beam(&self, ef: usize) -> usize {
        match (self.estimates, self.layout.quantization) {
            (true, Quantization::Pq) if !self.layout.vectors_kept => usize::MAX,
            (true, quantization) => self.rerank.unwrap_or(match quantization {
                Quantization::Pq => ef,
                _ => 0,
            }),
            (false, _) => 0,
        }
    }

    /// In a compact index, lower bounds of the distances (the executor re-ranks the rows
    /// on the table's vectors).
    fn exact_distances_to(&self, query: &[f32], ids: &[u32], out: &mut Vec<f32>) {
        let stream = if self.layout.vectors_kept {
            Stream::Vectors
        } else {
            Stream::Bounds
        };
        self.distances_in(stream, query, ids, out)
    }

    fn neighbours_into(&self, id: u32, layer: usize, out: &mut Vec<u32>) {
        let m = self.layout.m;
        let (block, at) = self.layout.node_location(id);
        if layer == 0 {
            return self.store.with_page(block, |p| read_layer0(p, at, m, out));
        }
        let level = self.store.with_page(block, |p| record_level(p, at));
        if layer > level {
            out.clear();
            return;
        }
        let slot = self.store.with_page(block, |p| upper_slot_of(p, at, layer));
        let (block, at) = self.layout.upper_location(slot);
        self.store.with_page(block, |p| read_upper(p, at, m, out))
    }
}

/// Hints the CPU to load `bytes` into cache (a no-op off x86_64).
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        // SAFETY: prefetching is only a hint; it never faults, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr() as *const i8
            )
        };
    }
}

/// A read that could not reserve its memory, where no caller can take an error. Scans and
/// inserts call `GraphRead::prepare` first, so they never reach it; VACUUM's repair and
/// the checker still can (a panic that the glue turns into an ERROR).
fn out_of_memory(e: TryReserveError) -> ! {
    panic!("out of memory reading an hnsw index: {e}")
}
