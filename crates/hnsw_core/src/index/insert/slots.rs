//! Where an insert's records go: a free slot VACUUM gave back, else the next id on the
//! current insert page; upper-layer slots; the vector.

use super::Inserter;
use crate::graph::NO_NODE;
use crate::index::empty_upper_slots;
use crate::page::node::{
    record_flags, reserve_free_record, write_upper, HeapTid, NodeRecord, FLAG_FREE, FLAG_OCCUPIED,
};
use crate::page::{
    init_page, page_is_new, page_used, records, set_page_used, Meta, PageKind, PageWrite,
    VectorPart, CONTENT_SIZE, HEADER_SIZE,
};

impl<S: PageWrite> Inserter<'_, S> {
    /// Takes a node slot (a free one VACUUM gave back, else a new id), reserves upper
    /// slots, writes the record (no links) and the vector.
    pub(super) fn create_node(
        &mut self,
        vector: &[f32],
        tid: HeapTid,
        level: usize,
        flags: u8,
    ) -> (u32, NodeRecord) {
        let mut record = NodeRecord {
            tid,
            level: level as u8,
            flags: FLAG_OCCUPIED | flags,
            generation: 1,
            next_duplicate: NO_NODE,
            upper_slots: Vec::new(),
            spare_slots: Vec::new(),
            layer0: Vec::new(),
            pinned: 0,
        };
        let id = if let Some((id, reserved)) = self.take_free_slot() {
            // A scan may still hold this id from before the slot was freed: the vector
            // goes in before the record says live, under the new generation.
            record.generation = reserved.generation;
            // Spares taken over are emptied: an insert may have linked into one after
            // VACUUM emptied it.
            let mut owned = reserved.spare_slots;
            let taken: Vec<u32> = owned.drain(..level.min(owned.len())).collect();
            empty_upper_slots(self.store, &self.layout, &taken);
            record.upper_slots = taken;
            while record.upper_slots.len() < level {
                record.upper_slots.push(self.allocate_upper_slot());
            }
            record.spare_slots = owned;
            self.write_vector(id, vector, true);
            let (block, at) = self.layout.node_location(id);
            let m = self.layout.m;
            self.store.modify(&[block], |pages| {
                record.write(pages[0], at, m);
                Some(())
            });
            id
        } else {
            record.upper_slots = (0..level).map(|_| self.allocate_upper_slot()).collect();
            let id = self.allocate_node(&record);
            self.write_vector(id, vector, false);
            id
        };
        self.vectors.insert(id, vector.to_vec());
        (id, record)
    }

    /// Takes a free node slot, searching node pages from the meta page's hint; reserved
    /// and with a new generation when found. Moves the hint on, or clears it when no free
    /// slot is left.
    pub(super) fn take_free_slot(&self) -> Option<(u32, NodeRecord)> {
        let hint = self.store.meta().free_hint;
        if hint == 0 {
            return None;
        }
        let layout = self.layout;
        let free_at = |page: &[u8]| -> Option<usize> {
            if page_is_new(page) {
                return None;
            }
            (0..page_used(page) as usize)
                .map(|k| HEADER_SIZE + k * layout.node_size)
                .find(|&at| record_flags(page, at) == FLAG_FREE)
        };
        for block in hint..self.store.blocks() {
            if layout.block_kind(block).0 != PageKind::Nodes
                || self.store.with_page(block, free_at).is_none()
            {
                continue;
            }
            let taken = self.store.modify(&[block], |pages| {
                let at = free_at(pages[0])?;
                Some((at, reserve_free_record(pages[0], at, layout.m)))
            });
            if let Some((at, record)) = taken {
                if block != hint {
                    self.update_meta(|meta| {
                        (meta.free_hint == hint).then(|| meta.free_hint = block)
                    });
                }
                let id =
                    layout.first_node_on(block) + ((at - HEADER_SIZE) / layout.node_size) as u32;
                return Some((id, record));
            }
        }
        self.update_meta(|meta| (meta.free_hint == hint).then(|| meta.free_hint = 0));
        None
    }

    /// Makes sure the group holding `block` exists.
    pub(super) fn ensure_group(&self, block: u32) {
        let group = self.layout.group_of(block).0;
        let first = self.layout.first_group_block();
        self.store
            .ensure_blocks(first + ((group + 1) * self.layout.group_pages) as u32);
    }

    /// Takes the next free item on the current insert page of a kind (nodes or upper
    /// slots), writing it with `write`; moves the insert page on when it is full.
    pub(super) fn allocate(
        &self,
        first_of: fn(&Meta) -> u32,
        advance: fn(&mut Meta, u32, u32) -> Option<()>,
        locate: impl Fn(u32) -> (u32, usize),
        kind: PageKind,
        per_page: usize,
        item_size: usize,
        write: impl Fn(&mut [u8], usize),
    ) -> u32 {
        loop {
            let first = first_of(&self.store.meta());
            let (block, _) = locate(first);
            self.ensure_group(block);
            let taken = self.store.modify(&[block], |pages| {
                let page = &mut *pages[0];
                if page_is_new(page) {
                    init_page(page, kind, per_page * item_size);
                }
                let used = page_used(page) as usize;
                if used >= per_page {
                    return None;
                }
                let item = first + used as u32;
                write(page, locate(item).1);
                set_page_used(page, used as u16 + 1);
                Some(item)
            });
            if let Some(item) = taken {
                return item;
            }
            self.update_meta(|meta| advance(meta, first, per_page as u32));
        }
    }

    pub(super) fn allocate_upper_slot(&self) -> u32 {
        let (layout, m) = (self.layout, self.layout.m);
        self.allocate(
            |meta| meta.insert_page_first_slot,
            |meta, first, per_page| {
                (meta.insert_page_first_slot == first)
                    .then(|| meta.insert_page_first_slot = first + per_page)
            },
            |slot| layout.upper_location(slot),
            PageKind::Upper,
            layout.uppers_per_page,
            layout.upper_size,
            |page, at| write_upper(page, at, m, &[]),
        )
    }

    pub(super) fn allocate_node(&self, record: &NodeRecord) -> u32 {
        let (layout, m) = (self.layout, self.layout.m);
        self.allocate(
            |meta| meta.insert_page_first_node,
            |meta, first, per_page| {
                (meta.insert_page_first_node == first)
                    .then(|| meta.insert_page_first_node = first + per_page)
            },
            |id| layout.node_location(id),
            PageKind::Nodes,
            layout.nodes_per_page,
            layout.node_size,
            |page, at| record.write(page, at, m),
        )
    }

    /// Writes node `id`'s key (in a multicolumn index) and vector (and its code, in an
    /// index with codes): one page, or
    /// several (four to a WAL record). A sparse
    /// vector goes into a record first, then its slot names it: over the old record of a
    /// `reused` slot (one VACUUM freed) when it fits, else a new one.
    pub(super) fn write_vector(&self, id: u32, vector: &[f32], reused: bool) {
        let layout = self.layout;
        if layout.key_size > 0 {
            let parts: Vec<_> = layout.key_parts(id).collect();
            self.write_parts(&parts, self.key, PageKind::Keys, CONTENT_SIZE);
        }
        if layout.element.is_variable() {
            let nnz = crate::sparse::slots::nnz(vector);
            let old = reused.then(|| self.old_record(id)).flatten();
            let (pos, capacity) = match old {
                Some((pos, capacity)) if nnz <= capacity => (pos, capacity),
                _ => (self.allocate_record(records::record_size(nnz)), nnz),
            };
            let record = records::encode(vector, capacity);
            let parts: Vec<_> = records::parts(&layout, pos, record.len()).collect();
            self.write_parts(&parts, &record, PageKind::Records, CONTENT_SIZE);
            let (block, offset) = layout.vector_location(id);
            let slot = VectorPart {
                block,
                offset,
                bytes: 0..8,
            };
            let kind_used = layout.vector_page_used();
            return self.write_parts(&[slot], &pos.to_le_bytes(), PageKind::Vectors, kind_used);
        }
        let mut bytes = vec![0u8; layout.vector_size];
        layout.element.encode(vector, &mut bytes);
        if layout.vectors_kept {
            let parts: Vec<_> = layout.vector_parts(id).collect();
            self.write_parts(&parts, &bytes, PageKind::Vectors, layout.vector_page_used());
        }
        if layout.code_size > 0 {
            let parts: Vec<_> = layout.code_parts(id).collect();
            // The code of the vector as stored (float16 elements are rounded), as a build
            // and the checker encode it.
            // Without a trained codebook the zeros keep the code's place
            // (`index::train_pending` fills it).
            let mut code = vec![0u8; layout.code_size];
            if !self.graph.meta.codes_pending {
                let mut stored = Vec::with_capacity(vector.len());
                layout.element.decode(&bytes, &mut stored);
                let codebook = self.graph.codebook();
                crate::page::writer::encode_code(&layout, codebook, &stored, &mut code);
            }
            self.write_parts(&parts, &code, PageKind::Codes, CONTENT_SIZE);
        }
    }

    /// Writes `bytes` in its `parts`, four pages to a unit, initialising new pages as
    /// `kind` pages using `used` content bytes.
    fn write_parts(&self, parts: &[VectorPart], bytes: &[u8], kind: PageKind, used: usize) {
        let last = parts.last().expect("something to write").block;
        self.ensure_group(last);
        self.store.write_parts(parts, bytes, kind, used);
    }

    /// The position and capacity of the record a freed slot `id` still names, if it is a
    /// whole record before the stream's end.
    fn old_record(&self, id: u32) -> Option<(u64, usize)> {
        let (block, at) = self.layout.vector_location(id);
        let pos = self.store.with_page(block, |p| records::position_at(p, at));
        let (_, capacity) = records::header(self.store, &self.layout, pos)?;
        let end = self.store.meta().record_end;
        (pos + records::record_size(capacity) as u64 <= end).then_some((pos, capacity))
    }

    /// Takes the next `size` bytes of the record stream (see `records::place`).
    fn allocate_record(&self, size: usize) -> u64 {
        let layout = self.layout;
        let mut pos = 0;
        self.update_meta(|meta| {
            pos = records::place(&layout, meta.record_end, size);
            meta.record_end = pos + size as u64;
            Some(())
        });
        pos
    }
}
