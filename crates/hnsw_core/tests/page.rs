//! The page format: layout arithmetic, meta and node records, and a written index that
//! searches exactly like the graph it came from.

mod common;

use common::random_vectors;

use hnsw_core::codes::Quantization;
use hnsw_core::distance::Metric;
use hnsw_core::element::Element;
use hnsw_core::graph::storage::Backing;
use hnsw_core::graph::{
    build, search, BuildInput, EntryPoint, Neighbour, Params, Visited, NO_NODE,
};
use hnsw_core::page::meta::{OLDEST_VERSION, PQ_VERSION, SQ8_VERSION, VERSION};
use hnsw_core::page::node::{
    free_record, reserve_free_record, HeapTid, NodeRecord, FLAG_FREE, FLAG_OCCUPIED,
};
use hnsw_core::page::{
    init_page, page_kind, write_index, FormatError, Layout, MemStore, Meta, PageKind, PageStore,
    PagedGraph, CONTENT_SIZE, HEADER_SIZE, PAGE_SIZE,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize};

fn sample_meta() -> Meta {
    Meta {
        dim: 384,
        m: 16,
        ef_construction: 64,
        metric: Metric::Cosine,
        element: Element::F16,
        entry: Some(EntryPoint { node: 7, level: 3 }),
        groups: 2,
        insert_page_first_node: 1500,
        insert_page_first_slot: 120,
        generation: 9,
        last_change_lsn: 0x1_0000_0042,
        last_change_time: 123_456_789,
        built_nodes: 1400,
        free_hint: 0,
        record_pages: 0,
        record_end: 0,
        packed_vectors: true,
        quantization: Quantization::Sq8,
        pq_subvectors: 0,
        compact: false,
        codes_pending: false,
        key_bytes: 0,
    }
}

/// The layout of `dim`-element vectors, m `m`, in format 5 (`packed`) or format 4.
fn layout_of(dim: usize, m: usize, element: Element, packed: bool) -> Layout {
    Layout::of(&Meta {
        packed_vectors: packed,
        ..Meta::new(dim as u32, m as u16, 64, Metric::L2, element)
    })
}

#[test]
fn meta_round_trips_and_rejects_foreign_pages() {
    let mut page = vec![0u8; PAGE_SIZE];
    init_page(&mut page, PageKind::Meta, hnsw_core::page::meta::META_SIZE);
    let meta = sample_meta();
    meta.write(&mut page);
    assert_eq!(Meta::read(&page), Ok(meta));
    assert_eq!(page_kind(&page), Some(PageKind::Meta));
    let empty = Meta {
        entry: None,
        ..meta
    };
    empty.write(&mut page);
    assert_eq!(Meta::read(&page).unwrap().entry, None);

    let mut foreign = page.clone();
    foreign[HEADER_SIZE] ^= 0xff;
    assert!(matches!(
        Meta::read(&foreign),
        Err(FormatError::NotAnIndex { .. })
    ));
    let mut future = page.clone();
    future[HEADER_SIZE + 4] = VERSION as u8 + 1;
    assert_eq!(
        Meta::read(&future),
        Err(FormatError::UnsupportedVersion {
            version: VERSION + 1
        })
    );
    assert!(Meta::read(&future)
        .unwrap_err()
        .to_string()
        .contains("REINDEX"));
    // Format version 2 had no element type (the byte was zero): it reads as float32.
    let mut previous = page.clone();
    Meta {
        element: Element::F32,
        ..meta
    }
    .write(&mut previous);
    previous[HEADER_SIZE + 4] = OLDEST_VERSION as u8;
    assert_eq!(OLDEST_VERSION, 2);
    assert_eq!(Meta::read(&previous).unwrap().element, Element::F32);
    let mut older = previous.clone();
    older[HEADER_SIZE + 4] = OLDEST_VERSION as u8 - 1;
    assert!(matches!(
        Meta::read(&older),
        Err(FormatError::UnsupportedVersion { version: 1 })
    ));
    // Format version 3 had no record pages: its 80 bytes read with none, and writing the
    // page moves pd_lower past the 96 bytes of version 4 (else generic WAL would drop
    // the new fields as part of the hole).
    let mut v3 = vec![0u8; PAGE_SIZE];
    init_page(&mut v3, PageKind::Meta, 80);
    meta.write(&mut v3);
    v3[HEADER_SIZE + 4] = 3;
    v3[HEADER_SIZE + 80..HEADER_SIZE + 96].fill(0);
    hnsw_core::page::put_u16(&mut v3, 12, (HEADER_SIZE + 80) as u16);
    let read = Meta::read(&v3).unwrap();
    assert_eq!((read.record_pages, read.record_end), (0, 0));
    Meta {
        record_end: 77,
        ..read
    }
    .write(&mut v3);
    assert_eq!(hnsw_core::page::get_u16(&v3, 12) as usize, HEADER_SIZE + 96);
    assert_eq!(Meta::read(&v3).unwrap().record_end, 77);
    // Versions before 5 keep whole vectors on a page: they read unpacked and stay so,
    // as version 4, when written; a build's meta page is version 5, packed.
    assert!(!read.packed_vectors);
    assert_eq!(hnsw_core::page::get_u32(&v3, HEADER_SIZE + 4), 4);
    assert_eq!(
        hnsw_core::page::get_u32(&page, HEADER_SIZE + 4),
        SQ8_VERSION
    );
    assert!(Meta::read(&page).unwrap().packed_vectors);
    // A sparsevec index's record pages are within their range.
    for (pages, ok) in [
        (0u16, false),
        (15, false),
        (16, true),
        (256, true),
        (257, false),
    ] {
        let sparse = Meta {
            element: Element::Sparse,
            record_pages: pages,
            quantization: Quantization::None,
            ..meta
        };
        sparse.write(&mut page);
        match Meta::read(&page) {
            Ok(read) => assert!(ok && read == sparse, "{pages} record pages"),
            Err(e) => assert!(!ok && e == FormatError::Corrupt("record pages out of range")),
        }
    }
    // Codes belong to indexes of floats; an index with SQ8 codes is version 6, one with
    // product quantization 7, one without codes 5.
    let bits = Meta {
        element: Element::Bit,
        metric: Metric::Hamming,
        ..meta
    };
    bits.write(&mut page);
    assert_eq!(
        Meta::read(&page),
        Err(FormatError::Corrupt(
            "codes in an index of bits or sparse vectors"
        ))
    );
    let plain = Meta {
        quantization: Quantization::None,
        ..meta
    };
    plain.write(&mut page);
    assert_eq!(hnsw_core::page::get_u32(&page, HEADER_SIZE + 4), 5);
    assert_eq!(Meta::read(&page), Ok(plain));
    let mut six_without_codes = page.clone();
    six_without_codes[HEADER_SIZE + 4] = 6;
    let another_kind = Err(FormatError::Corrupt(
        "codes of another kind than the format version's",
    ));
    assert_eq!(Meta::read(&six_without_codes), another_kind);
    let pq = Meta {
        quantization: Quantization::Pq,
        pq_subvectors: 96,
        ..meta
    };
    pq.write(&mut page);
    assert_eq!(hnsw_core::page::get_u32(&page, HEADER_SIZE + 4), PQ_VERSION);
    assert_eq!(Meta::read(&page), Ok(pq));
    let mut seven_with_sq8 = page.clone();
    seven_with_sq8[HEADER_SIZE + 88] = Quantization::Sq8.code();
    assert_eq!(Meta::read(&seven_with_sq8), another_kind);
    let compact = Meta {
        compact: true,
        ..pq
    };
    compact.write(&mut page);
    assert_eq!(Meta::read(&page), Ok(compact));
    assert!(!Layout::of(&compact).vectors_kept && Layout::of(&compact).vector_pages == 0);
    let mut two = page.clone();
    two[HEADER_SIZE + 92] = 2;
    assert_eq!(
        Meta::read(&two),
        Err(FormatError::Corrupt("compact flag neither 0 nor 1"))
    );
    for subvectors in [0u16, 385] {
        Meta {
            pq_subvectors: subvectors,
            ..pq
        }
        .write(&mut page);
        assert_eq!(
            Meta::read(&page),
            Err(FormatError::Corrupt(
                "product quantization subvectors out of range"
            )),
            "{subvectors}"
        );
    }
    // Bit slots are no floats to quantize, whatever distance a damaged page names.
    let bits_l2 = Meta {
        element: Element::Bit,
        metric: Metric::L2,
        ..meta
    };
    bits_l2.write(&mut page);
    assert_eq!(
        Meta::read(&page),
        Err(FormatError::Corrupt(
            "codes in an index of bits or sparse vectors"
        ))
    );
    meta.write(&mut page);
    assert_eq!(hnsw_core::page::get_u32(&page, HEADER_SIZE + 4), 6);
    let mut unknown_codes = page.clone();
    unknown_codes[HEADER_SIZE + 88] = 7;
    assert_eq!(
        Meta::read(&unknown_codes),
        Err(FormatError::Corrupt("unknown quantization"))
    );
    let mut unknown = page.clone();
    unknown[HEADER_SIZE + 17] = 9;
    assert_eq!(
        Meta::read(&unknown),
        Err(FormatError::Corrupt("unknown element type"))
    );
    // Damaged fields are errors, never a panic further on (a layout for m = 500).
    for (m, dim) in [(1u16, 3u32), (101, 3), (500, 3), (16, 0), (16, 16_001)] {
        let damaged = Meta { m, dim, ..meta };
        damaged.write(&mut page);
        assert_eq!(
            Meta::read(&page),
            Err(FormatError::Corrupt("dimensions or m out of range")),
            "m {m}, dim {dim}"
        );
    }
}

#[test]
fn node_records_round_trip() {
    let mut page = vec![0u8; PAGE_SIZE];
    let layout = Layout::new(8, 4);
    init_page(
        &mut page,
        PageKind::Nodes,
        layout.nodes_per_page * layout.node_size,
    );
    let record = NodeRecord {
        tid: HeapTid {
            block: 0xdead_beef,
            offset: 291,
        },
        level: 2,
        flags: FLAG_OCCUPIED,
        generation: 5,
        next_duplicate: 77,
        upper_slots: vec![10, 20],
        spare_slots: vec![30],
        layer0: vec![1, 2, 3, 4, 5, 6, 7, 8],
        pinned: 0,
    };
    let at = HEADER_SIZE + 2 * layout.node_size;
    record.write(&mut page, at, 4);
    assert_eq!(NodeRecord::read(&page, at, 4), record);
    // Neighbours do not leak into the next record.
    assert_eq!(
        NodeRecord::read(&page, at + layout.node_size, 4).layer0,
        Vec::<u32>::new()
    );

    // Freed, the slot keeps its generation and every upper slot, as spares.
    free_record(&mut page, at, 4);
    let free = NodeRecord::read(&page, at, 4);
    assert_eq!(free.flags, FLAG_FREE);
    assert!(!free.is_occupied() && free.layer0.is_empty() && free.level == 0);
    assert_eq!(free.generation, 5);
    assert_eq!(free.next_duplicate, NO_NODE);
    assert_eq!(free.spare_slots, vec![10, 20, 30]);
    // Taken by an insert: reserved, and a new generation, so a scan that ranked the old
    // vector under generation 5 will not return whatever row lands here.
    let reserved = reserve_free_record(&mut page, at, 4);
    assert_eq!((reserved.flags, reserved.generation), (0, 6));
    assert_eq!(NodeRecord::read(&page, at, 4), reserved);
}

#[test]
fn layouts_place_everything_inside_its_page_without_overlap() {
    for &(dim, m) in &[
        (1, 2),
        (3, 16),
        (50, 16),
        (384, 16),
        (768, 32),
        (2040, 16),
        (2041, 16),
        (3072, 16),
        (16000, 16),
        (16000, 100),
    ] {
        for packed in [true, false] {
            let l = layout_of(dim, m, Element::F32, packed);
            assert!(
                l.group_nodes >= 1 && l.group_nodes % l.nodes_per_page == 0,
                "{l:?}"
            );
            assert!(
                l.group_pages <= 512 || l.group_nodes == l.nodes_per_page,
                "{l:?}"
            );
            let nodes = 3 * l.group_nodes as u32 + 5;
            let mut seen = HashSet::new();
            for id in 0..nodes {
                let (b, at) = l.node_location(id);
                assert_eq!(l.block_kind(b).0, PageKind::Nodes);
                assert!(at >= HEADER_SIZE && at + l.node_size <= HEADER_SIZE + CONTENT_SIZE);
                assert!(seen.insert((b, at)), "node {id} overlaps");
                let (vb, vat) = l.vector_location(id);
                assert_eq!(l.block_kind(vb).0, PageKind::Vectors, "{l:?} id {id}");
                for part in l.vector_parts(id) {
                    assert_eq!(
                        l.block_kind(part.block).0,
                        PageKind::Vectors,
                        "{l:?} id {id}"
                    );
                }
                if !packed && l.vectors_per_page > 0 {
                    assert_eq!(l.vector_parts(id).count(), 1, "{l:?} id {id}");
                }
                assert!(seen.insert((vb, vat)), "vector {id} overlaps");
            }
            for slot in 0..(3 * l.upper_pages * l.uppers_per_page) as u32 {
                let (b, at) = l.upper_location(slot);
                assert_eq!(l.block_kind(b).0, PageKind::Upper);
                assert!(at + l.upper_size <= HEADER_SIZE + CONTENT_SIZE);
                assert!(seen.insert((b, at)), "slot {slot} overlaps");
            }
        }
    }
}

#[test]
fn packed_vector_pages_leave_less_than_a_page_a_group_unused() {
    for dim in [1usize, 7, 50, 384, 600, 784, 1021, 1536, 2041, 3072, 16_000] {
        for element in [Element::F32, Element::F16] {
            let packed = layout_of(dim, 16, element, true);
            let stream = packed.group_nodes * packed.vector_size;
            assert_eq!(
                packed.vector_pages,
                stream.div_ceil(CONTENT_SIZE),
                "{packed:?}"
            );
            let whole = layout_of(dim, 16, element, false);
            let per_node = |l: &Layout| l.vector_pages as f64 / l.group_nodes as f64;
            assert!(
                per_node(&packed) <= per_node(&whole),
                "{element:?} dim {dim}"
            );
            // The vectors a page holds are those its bytes belong to.
            let mut on_page = vec![Vec::new(); packed.vector_pages];
            for id in 0..packed.group_nodes {
                for part in packed.vector_parts(id as u32) {
                    on_page[part.block as usize - 1 - packed.node_pages].push(id);
                }
            }
            for (index, ids) in on_page.iter().enumerate() {
                let listed: Vec<usize> = packed.vectors_on_page(0, index).collect();
                assert_eq!(&listed, ids, "{element:?} dim {dim}, page {index}");
            }
        }
    }
    // Fashion-MNIST's 784 float32s (3,136 bytes) took a page for every two; packed, they
    // take a page for every 2.6.
    let fashion = layout_of(784, 16, Element::F32, true);
    let unpacked = layout_of(784, 16, Element::F32, false);
    let pages_a_node = |l: &Layout| l.vector_pages as f64 / l.group_nodes as f64;
    assert!(pages_a_node(&fashion) < 0.39, "{fashion:?}");
    assert!(pages_a_node(&unpacked) >= 0.5, "{unpacked:?}");
}

/// `vector` in the form an index of `element` stores it.
fn stored(element: Element, vector: &[f32]) -> Vec<f32> {
    element
        .stored_form(Metric::L2, vector)
        .unwrap()
        .into_owned()
}

/// The graph of `vectors` (`dim` slots each), built with two threads.
fn graph_of(vectors: Vec<f32>, dim: usize, metric: Metric) -> hnsw_core::graph::Graph {
    let input = BuildInput {
        offsets: None,
        vectors: Backing::from_f32(vectors),
        dim,
        metric,
        params: Params::default(),
        threads: 2,
        links_spill: None,
    };
    build(input, &AtomicBool::new(false), &AtomicUsize::new(0)).unwrap()
}

/// An index of `n` random vectors of `dim` elements (rounded to `element`; random bit
/// patterns for bits), written to a MemStore, and the written id of each graph node.
fn written_as(
    n: usize,
    dim: usize,
    metric: Metric,
    element: Element,
) -> (
    hnsw_core::graph::Graph,
    MemStore,
    Meta,
    Vec<HeapTid>,
    Vec<u32>,
) {
    let slots = element.slots(dim);
    let vectors = stored(element, &random_vectors(n, slots, dim as u64));
    let graph = graph_of(vectors, slots, metric);
    let tids: Vec<HeapTid> = (0..n as u32)
        .map(|i| HeapTid {
            block: i / 7,
            offset: (i % 7 + 1) as u16,
        })
        .collect();
    let mut store = MemStore::new();
    let (meta, order) = write_index(
        &graph,
        &tids,
        Meta {
            generation: 1,
            dim: dim as u32,
            metric,
            element,
            quantization: Quantization::None,
            ..sample_meta()
        },
        None,
        |b, p| store.append(b, p),
    );
    let written = order.written_ids();
    drop(order);
    (graph, store, meta, tids, written)
}

#[test]
fn search_over_pages_equals_search_over_the_graph() {
    let cases = [
        (3000usize, 24usize, Element::F32, Metric::L2),
        // 3,136 and 154 bytes: about two vectors in five and one in fifty run over a
        // page boundary.
        (2000, 784, Element::F32, Metric::L2),
        (3000, 77, Element::F16, Metric::Cosine),
        (300, 3072, Element::F32, Metric::L2),
        (3000, 24, Element::F16, Metric::L2),
        (300, 5000, Element::F16, Metric::Cosine),
        (2000, 200, Element::Bit, Metric::Hamming),
        (1000, 64_000, Element::Bit, Metric::Jaccard),
    ];
    for (n, dim, element, metric) in cases {
        let (graph, store, meta, tids, written) = written_as(n, dim, metric, element);
        assert_eq!(
            store.len(),
            1 + meta.groups as usize * Layout::with_element(dim, 16, element).group_pages
        );
        let stored = store.with_page(0, |p| Meta::read(p)).unwrap();
        assert_eq!(stored, meta);
        let entry = graph.entry_point().unwrap();
        assert_eq!(stored.entry.unwrap().node, written[entry.node as usize]);
        assert_eq!(stored.entry.unwrap().level, entry.level);
        // Written breadth first from the entry point, each node once.
        assert_eq!(written[entry.node as usize], 0);
        assert_eq!(written.iter().collect::<HashSet<_>>().len(), n);
        let paged = PagedGraph::new(store, stored);
        for id in (0..n as u32).step_by(7) {
            let record = paged.node(written[id as usize]);
            assert_eq!(record.tid, tids[id as usize]);
            assert_eq!(record.level as usize, graph.level(id));
            let links: Vec<u32> = graph
                .neighbours(id, 0)
                .iter()
                .map(|&l| written[l as usize])
                .collect();
            assert_eq!(record.layer0, links);
            let mut v = Vec::new();
            paged.read_vector(written[id as usize], &mut v);
            assert_eq!(v, graph.vector(id));
        }
        let entry = stored.entry.unwrap();
        let slots = element.slots(dim);
        let (mut near_pages, mut near_graph) = (0.0, 0.0);
        for q in random_vectors(20, slots, 99).chunks(slots) {
            let from_pages = search(&paged, q, entry, 10, 40, &mut Visited::sparse());
            let from_graph = common::in_written_ids(graph.search(q, 10, 40), &written);
            if element == Element::Bit {
                // Hamming and Jaccard distances tie often, and ties break by id, so in
                // the written order the walk may take other (equally near) turns: the
                // answers must be as near, not the same.
                let total =
                    |found: &[Neighbour]| found.iter().map(|n| n.distance as f64).sum::<f64>();
                near_pages += total(&from_pages);
                near_graph += total(&from_graph);
                continue;
            }
            assert_eq!(from_pages, from_graph, "{element:?} {metric:?}");
        }
        let off = (near_pages - near_graph).abs() / near_graph.max(1.0);
        assert!(
            off <= 0.01,
            "{element:?} {metric:?}: {near_pages} against {near_graph}"
        );
    }
}

#[test]
fn inserted_vectors_read_back_at_every_width() {
    // 24 floats share a page; 3,072 and 5,000 floats span 2 and 3 pages (the last one
    // part full), and 12,000 floats span 6 pages: two units of an insert's vector write.
    let cases = [
        (24usize, Element::F32),
        (784, Element::F32),
        (77, Element::F16),
        (3072, Element::F32),
        (5000, Element::F32),
        (12_000, Element::F32),
        (24, Element::F16),
        (5000, Element::F16),
        (16_000, Element::F16),
        (96, Element::Bit),
        (64_000, Element::Bit),
    ];
    for (dim, element) in cases {
        let metric = if element == Element::Bit {
            Metric::Hamming
        } else {
            Metric::L2
        };
        let (_, store, _, _, _) = written_as(40, dim, metric, element);
        let slots = element.slots(dim);
        // Bits: any 32-bit patterns, NaN ones included (0xffffffff, 0x7fc00001, ...).
        let fresh: Vec<f32> = if element == Element::Bit {
            (0..30 * slots as u64)
                .map(|i| f32::from_bits(hnsw_core::graph::splitmix64(i) as u32 | 0x7f80_0000))
                .collect()
        } else {
            stored(element, &random_vectors(30, dim, 7 + dim as u64))
        };
        for (i, v) in fresh.chunks(slots).enumerate() {
            let tid = HeapTid {
                block: 1_000 + i as u32,
                offset: 1,
            };
            hnsw_core::index::insert(&store, v, tid, 11);
        }
        let (meta, records) = hnsw_core::index::read_records(&store);
        let paged = PagedGraph::new(store, meta);
        let mut seen = 0;
        for (&id, record) in &records {
            let Some(i) = record.tid.block.checked_sub(1_000) else {
                continue;
            };
            let mut v = Vec::new();
            paged.read_vector(id, &mut v);
            let i = i as usize;
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&v),
                bits(&fresh[i * slots..(i + 1) * slots]),
                "{element:?} dim {dim}, row {i}"
            );
            seen += 1;
        }
        assert_eq!(seen, 30, "dim {dim}");
    }
}

#[test]
fn vector_parts_cover_each_vector_once() {
    let f32s = [1usize, 24, 2040, 2041, 3072, 16_000].map(|d| (d, Element::F32));
    let f16s = [1usize, 24, 4080, 4081, 16_000].map(|d| (d, Element::F16));
    let cases = f32s.into_iter().chain(f16s);
    for ((dim, element), packed) in cases.flat_map(|c| [(c, true), (c, false)]) {
        let layout = layout_of(dim, 16, element, packed);
        let mut owner = std::collections::HashMap::new();
        for id in 0..(3 * layout.group_nodes as u32) {
            let parts: Vec<_> = layout.vector_parts(id).collect();
            let mut next = 0;
            for part in &parts {
                assert_eq!(part.bytes.start, next, "dim {dim}, id {id}: parts in order");
                next = part.bytes.end;
                assert!(part.offset + part.bytes.len() <= HEADER_SIZE + CONTENT_SIZE);
                assert_eq!(layout.block_kind(part.block).0, PageKind::Vectors);
                let step = element.bytes();
                for byte in (part.offset..part.offset + part.bytes.len()).step_by(step) {
                    let other = owner.insert((part.block, byte), id);
                    assert!(
                        other.is_none(),
                        "dim {dim}: ids {other:?} and {id} share bytes"
                    );
                }
            }
            assert_eq!(
                next,
                element.bytes() * dim,
                "dim {dim}, id {id}: whole vector"
            );
        }
    }
}

#[test]
fn a_float16_index_takes_half_the_vector_pages() {
    for dim in [384usize, 1536, 3072] {
        let full = Layout::with_element(dim, 16, Element::F32);
        let half = Layout::with_element(dim, 16, Element::F16);
        assert_eq!(half.vector_size * 2, full.vector_size);
        let per_node = |l: &Layout| l.vector_pages as f64 / l.group_nodes as f64;
        assert!(
            per_node(&half) <= per_node(&full) / 2.0 + 0.01,
            "dim {dim}: {} vs {} vector pages a node",
            per_node(&half),
            per_node(&full)
        );
    }
}

#[test]
fn a_build_writes_its_nodes_breadth_first_from_the_entry_point() {
    // See `page::order`: the entry point first; every other node after a node whose
    // layer-0 list names it (the one that reached it), or right after the node or alias
    // before it in its duplicate chain.
    let (n, dim) = (3000usize, 24usize);
    let mut vectors = random_vectors(n, dim, 31);
    for copy in (100..400).step_by(3) {
        let first = vectors[(copy - 1) * dim..copy * dim].to_vec();
        vectors[copy * dim..(copy + 1) * dim].copy_from_slice(&first);
    }
    let graph = graph_of(vectors, dim, Metric::L2);
    let tids: Vec<HeapTid> = (0..n as u32)
        .map(|i| HeapTid {
            block: i / 7 + 1,
            offset: 1,
        })
        .collect();
    let mut store = MemStore::new();
    let base = Meta::new(dim as u32, 16, 64, Metric::L2, Element::F32);
    let (meta, order) = write_index(&graph, &tids, base, None, |b, p| store.append(b, p));
    let written = order.written_ids();
    drop(order);
    assert_eq!(written.iter().collect::<HashSet<_>>().len(), n);
    let entry = graph.entry_point().unwrap().node;
    assert_eq!(written[entry as usize], 0);
    assert_eq!(meta.entry.unwrap().node, 0);
    // The lowest written id of a node whose layer-0 list names each node.
    let mut reached_by = vec![u32::MAX; n];
    for id in 0..n as u32 {
        for l in graph.neighbours(id, 0) {
            let by = &mut reached_by[l as usize];
            *by = (*by).min(written[id as usize]);
        }
    }
    let mut aliases = 0;
    for id in 0..n as u32 {
        if let Some(next) = graph.next_duplicate(id) {
            assert_eq!(
                written[next as usize],
                written[id as usize] + 1,
                "alias {next}"
            );
            aliases += 1;
        } else if !graph.is_alias(id) && id != entry {
            assert!(reached_by[id as usize] < written[id as usize], "node {id}");
        }
    }
    assert!(aliases >= 90, "{aliases} duplicates");
    // And the pages say so: each record names its row and written neighbours.
    let paged = PagedGraph::new(store, meta);
    for id in (0..n as u32).step_by(11) {
        let record = paged.node(written[id as usize]);
        assert_eq!(record.tid, tids[id as usize]);
        let links: Vec<u32> = graph
            .neighbours(id, 0)
            .iter()
            .map(|&l| written[l as usize])
            .collect();
        assert_eq!(record.layer0, links);
    }
}

#[test]
fn a_multicolumn_meta_page_is_version_9_whatever_its_codes() {
    use hnsw_core::page::meta::KEYS_VERSION;
    let mut page = vec![0u8; PAGE_SIZE];
    init_page(&mut page, PageKind::Meta, hnsw_core::page::meta::META_SIZE);
    for (quantization, subvectors, pending) in [
        (Quantization::None, 0, false),
        (Quantization::Sq8, 0, false),
        (Quantization::Pq, 8, false),
        (Quantization::Pq, 8, true),
    ] {
        let meta = Meta {
            quantization,
            pq_subvectors: subvectors,
            codes_pending: pending,
            key_bytes: 25,
            ..sample_meta()
        };
        meta.write(&mut page);
        assert_eq!(meta.version(), KEYS_VERSION);
        assert_eq!(Meta::read(&page), Ok(meta));
        let layout = Layout::of(&meta);
        assert_eq!(layout.key_size, 25);
        assert_eq!(layout.key_pages, (layout.group_nodes * 25).div_ceil(8160));
        assert_eq!(
            layout.first_vector_page(),
            layout.first_key_page() + layout.key_pages
        );
    }
    // Key bytes out of range, and a pending flag without product quantization.
    let meta = Meta {
        key_bytes: 25,
        ..sample_meta()
    };
    meta.write(&mut page);
    let mut zero = page.clone();
    zero[HEADER_SIZE + 94] = 0;
    assert!(matches!(Meta::read(&zero), Err(FormatError::Corrupt(_))));
    let mut pending = page.clone();
    pending[HEADER_SIZE + 93] = 1;
    assert!(matches!(Meta::read(&pending), Err(FormatError::Corrupt(_))));
    // Without keys the same fields write the version they always did.
    assert_eq!(sample_meta().version(), hnsw_core::page::meta::SQ8_VERSION);
}
