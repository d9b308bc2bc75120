//! Writing a built graph as index pages, in block order, one page at a time, its nodes
//! in the order `order` gives.

use super::node::{
    write_upper, HeapTid, NodeRecord, FLAG_ALIAS, FLAG_CHILD, FLAG_OCCUPIED, FLAG_TREE,
};
use super::order::Ordered;
use super::{
    init_page, put_u64, records, set_page_used, Layout, Meta, PageKind, CONTENT_SIZE, HEADER_SIZE,
    PAGE_SIZE,
};
use crate::codes::{Codebook, Quantization};
use crate::graph::Graph;

/// Calls `sink(block, page)` for every block of the index of `graph`, 0 first. The
/// graph's node `i` points at heap tuple `tids[i]`; it is written as node
/// `written_ids()[i]` of the returned order (breadth first, see `order`). `meta` supplies the fields a graph does not know
/// (dimensions, element type, the operator class's metric, ef_construction, checkpoint
/// metadata); the rest are filled in. The graph must have been built with `meta.indexed_metric()`.
/// An index with product quantization takes its trained `codebook` (`Codebook::train_on`),
/// or none with `meta.codes_pending`: its codebook and code pages are then written empty.
pub fn write_index<'a>(
    graph: &'a Graph,
    tids: &'a [HeapTid],
    meta: Meta,
    codebook: Option<&Codebook>,
    sink: impl FnMut(u32, &[u8]),
) -> (Meta, Ordered<'a>) {
    write_index_with_keys(graph, tids, &[], meta, codebook, sink)
}

/// `write_index` of a multicolumn index: the graph's node `i` has key
/// `keys[i * k..(i + 1) * k]`, `k` being `meta.key_bytes` (see `keys`).
pub fn write_index_with_keys<'a>(
    graph: &'a Graph,
    tids: &'a [HeapTid],
    keys: &[u8],
    mut meta: Meta,
    codebook: Option<&Codebook>,
    mut sink: impl FnMut(u32, &[u8]),
) -> (Meta, Ordered<'a>) {
    assert_eq!(
        keys.len(),
        graph.len() * meta.key_bytes as usize,
        "a key for every node"
    );
    let trained = meta.quantization == Quantization::Pq && !meta.codes_pending;
    assert_eq!(
        codebook.map(Codebook::subvectors),
        trained.then_some(meta.pq_subvectors as usize),
        "a codebook exactly when the index has trained product quantization, of its subvectors"
    );
    assert!(
        !(meta.codes_pending && meta.compact),
        "a compact index is trained"
    );
    assert_eq!(tids.len(), graph.len());
    let nodes = Ordered::new(graph, tids);
    let m = graph.params().m;
    if !meta.element.is_variable() {
        assert_eq!(
            meta.element.slots(meta.dim as usize),
            graph.dim(),
            "the graph holds the stored form of vectors of meta.dim elements"
        );
    }
    let layout = Layout::of(&Meta {
        m: m as u16,
        ..meta
    });
    let n = graph.len();
    // Upper layers share one slot sequence on disk: layer L's slots follow layer L-1's.
    let mut layer_base = vec![0u32];
    let levels = (1..).take_while(|&l| l <= crate::graph::MAX_LEVEL && graph.has_layer(l));
    for layer in levels {
        let last = *layer_base.last().expect("starts with 0");
        layer_base.push(last + graph.upper_slot_count(layer) as u32);
    }
    let total_upper = *layer_base.last().expect("starts with 0") as usize;
    // Sparse vectors: each one's record position, in id order.
    let mut positions = Vec::new();
    if layout.element.is_variable() {
        for id in 0..n as u32 {
            let size = records::record_size(crate::sparse::slots::nnz(nodes.vector(id)));
            positions.push(records::place(&layout, meta.record_end, size));
            meta.record_end = positions[id as usize] + size as u64;
        }
    }
    let groups = layout.groups_for(n, total_upper, meta.record_end);
    meta.m = m as u16;
    assert_eq!(
        graph.metric(),
        meta.indexed_metric(),
        "graph built with the index's metric"
    );
    meta.entry = nodes.entry_point();
    meta.groups = groups as u32;
    // Inserts continue on the page holding the next free id (and slot).
    meta.insert_page_first_node = (n - n % layout.nodes_per_page) as u32;
    meta.insert_page_first_slot = (total_upper - total_upper % layout.uppers_per_page) as u32;
    meta.built_nodes = n as u32;

    let mut page = vec![0u8; PAGE_SIZE];
    init_page(&mut page, PageKind::Meta, super::meta::META_SIZE);
    meta.write(&mut page);
    sink(0, &page);

    let stored_codebook = codebook.map(Codebook::to_bytes).unwrap_or_default();
    for part in layout.codebook_parts() {
        let (kind, content) = layout.block_kind(part.block);
        init_page(&mut page, kind, content);
        if codebook.is_some() {
            page[part.offset..part.offset + part.bytes.len()]
                .copy_from_slice(&stored_codebook[part.bytes]);
        }
        sink(part.block, &page);
    }

    let mut links = Vec::new();
    let first = layout.first_group_block();
    for block in first..first + (groups * layout.group_pages) as u32 {
        let (kind, content) = layout.block_kind(block);
        init_page(&mut page, kind, content);
        let (group, within) = layout.group_of(block);
        match kind {
            PageKind::Nodes => {
                let first = group * layout.group_nodes + within * layout.nodes_per_page;
                let ids = first..(first + layout.nodes_per_page).min(n.max(first));
                for (k, id) in ids.clone().enumerate() {
                    let id = id as u32;
                    let level = nodes.level(id);
                    // Every graph node is in the tree, aliases are not.
                    let tree = nodes.tree_links(id);
                    let kind = match (nodes.is_alias(id), tree.has_parent) {
                        (true, _) => FLAG_ALIAS,
                        (false, true) => FLAG_TREE | FLAG_CHILD,
                        (false, false) => FLAG_TREE,
                    };
                    let record = NodeRecord {
                        tid: nodes.tid(id),
                        level: level as u8,
                        flags: FLAG_OCCUPIED | kind,
                        generation: 1,
                        next_duplicate: nodes.next_duplicate(id).unwrap_or(crate::graph::NO_NODE),
                        upper_slots: (1..=level)
                            .map(|l| layer_base[l - 1] + nodes.upper_slot(id, l))
                            .collect(),
                        spare_slots: Vec::new(),
                        layer0: nodes.neighbours(id, 0),
                        pinned: tree.pinned as u16,
                    };
                    record.write(&mut page, HEADER_SIZE + k * layout.node_size, m);
                }
                set_page_used(&mut page, ids.len() as u16);
            }
            PageKind::Vectors if layout.element.is_variable() => {
                let ids = layout.vectors_on_page(group, within - layout.first_vector_page());
                for id in ids.take_while(|&id| id < n) {
                    let (_, at) = layout.vector_location(id as u32);
                    put_u64(&mut page, at, positions[id]);
                }
            }
            PageKind::Vectors => {
                let first_vector = within - layout.first_vector_page();
                write_vectors(&nodes, &layout, block, group, first_vector, n, &mut page);
            }
            PageKind::Keys => {
                let size = layout.key_size;
                write_pieces(
                    layout.keys_on_page(group, within - layout.first_key_page()),
                    n,
                    block,
                    &mut page,
                    size,
                    |id| layout.key_parts(id),
                    |id, out| {
                        let at = nodes.graph_id(id) as usize * size;
                        out.copy_from_slice(&keys[at..at + size]);
                    },
                );
            }
            PageKind::Codes if meta.codes_pending => {}
            PageKind::Codes => {
                let index = within - layout.node_pages;
                write_codes(&nodes, &layout, codebook, block, group, index, n, &mut page);
            }
            PageKind::Records => {
                let page_index = within - layout.first_upper_page() - layout.upper_pages;
                let start = (group * layout.record_bytes() + page_index * CONTENT_SIZE) as u64;
                write_records(&nodes, &layout, &positions, block, start, &mut page);
            }
            PageKind::Upper => {
                let per_group = layout.upper_pages * layout.uppers_per_page;
                let first = group * per_group
                    + (within - layout.first_upper_page()) * layout.uppers_per_page;
                let slots = first..(first + layout.uppers_per_page).min(total_upper.max(first));
                for (k, slot) in slots.clone().enumerate() {
                    // Which layer this disk slot belongs to, and its number there.
                    let layer = layer_base.partition_point(|&base| base as usize <= slot);
                    let local = slot as u32 - layer_base[layer - 1];
                    nodes.read_upper_slot(layer, local, &mut links);
                    write_upper(&mut page, HEADER_SIZE + k * layout.upper_size, m, &links);
                }
                set_page_used(&mut page, slots.len() as u16);
            }
            PageKind::Meta | PageKind::Codebook => unreachable!("only blocks before the groups"),
        }
        sink(block, &page);
    }
    (meta, nodes)
}

/// Fills the record page `block`, which holds record stream positions from `start`, with
/// the parts of the records (at `positions`) that fall on it.
fn write_records(
    nodes: &Ordered,
    layout: &Layout,
    positions: &[u64],
    block: u32,
    start: u64,
    page: &mut [u8],
) {
    let size_of =
        |id: usize| records::record_size(crate::sparse::slots::nnz(nodes.vector(id as u32)));
    // The first record ending past this page's start, then every one starting on it.
    let first = positions.partition_point(|&p| p < start);
    let first = if first > 0 && positions[first - 1] + size_of(first - 1) as u64 > start {
        first - 1
    } else {
        first
    };
    let end = start + CONTENT_SIZE as u64;
    for id in (first..positions.len()).take_while(|&id| positions[id] < end) {
        let vector = nodes.vector(id as u32);
        let bytes = records::encode(vector, crate::sparse::slots::nnz(vector));
        for part in records::parts(layout, positions[id], bytes.len()) {
            if part.block == block {
                page[part.offset..part.offset + part.bytes.len()]
                    .copy_from_slice(&bytes[part.bytes]);
            }
        }
    }
}

/// Fills vector page number `index` (within the group's vector pages), block `block`.
fn write_vectors(
    nodes: &Ordered,
    layout: &Layout,
    block: u32,
    group: usize,
    index: usize,
    n: usize,
    page: &mut [u8],
) {
    let ids = layout.vectors_on_page(group, index);
    write_pieces(
        ids,
        n,
        block,
        page,
        layout.vector_size,
        |id| layout.vector_parts(id),
        |id, out| layout.element.encode(nodes.vector(id), out),
    );
}

/// Fills code page number `index` (within the group's code pages), block `block`.
#[allow(clippy::too_many_arguments)]
fn write_codes(
    nodes: &Ordered,
    layout: &Layout,
    codebook: Option<&Codebook>,
    block: u32,
    group: usize,
    index: usize,
    n: usize,
    page: &mut [u8],
) {
    let ids = layout.codes_on_page(group, index);
    write_pieces(
        ids,
        n,
        block,
        page,
        layout.code_size,
        |id| layout.code_parts(id),
        |id, out| encode_code(layout, codebook, nodes.vector(id), out),
    );
}

/// Copies onto `page` (block `block`) the pieces that fall on it of the `size`-byte form
/// `encode` writes for each of `ids` below `n`, at the places `parts` names.
fn write_pieces<P: Iterator<Item = super::VectorPart>>(
    ids: std::ops::Range<usize>,
    n: usize,
    block: u32,
    page: &mut [u8],
    size: usize,
    parts: impl Fn(u32) -> P,
    encode: impl Fn(u32, &mut [u8]),
) {
    let mut bytes = vec![0u8; size];
    for id in ids.take_while(|&id| id < n).map(|id| id as u32) {
        encode(id, &mut bytes);
        for part in parts(id).filter(|part| part.block == block) {
            page[part.offset..part.offset + part.bytes.len()].copy_from_slice(&bytes[part.bytes]);
        }
    }
}

/// Writes the code of (stored-form) vector `v` as `layout`'s quantization keeps it (with
/// the index's `codebook` under product quantization).
pub fn encode_code(layout: &Layout, codebook: Option<&Codebook>, v: &[f32], out: &mut [u8]) {
    match layout.quantization {
        Quantization::Sq8 => crate::codes::encode_sq8(v, out),
        Quantization::Pq => codebook
            .expect("a codebook under product quantization")
            .encode(v, out),
        Quantization::None => unreachable!("an index without codes"),
    }
}
