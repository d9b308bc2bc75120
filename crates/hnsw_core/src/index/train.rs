//! Deferred codebook training. An index with product quantization built on fewer rows
//! than a codebook trains on (`MIN_TRAINING_VECTORS`) is written *pending* (format 8,
//! `Meta::codes_pending`): its codebook and code pages are reserved and empty, scans and
//! inserts search it on its vectors, and inserts write empty codes. Once inserts have
//! given out `SAMPLE` node ids, the insert that sees it trains the codebook here, on up
//! to `SAMPLE` of the graph nodes as a build does on its rows, and encodes every node.
//!
//! Crash safety: the codebook and the codes are written first, while the meta page still
//! says pending, so nothing reads them; the meta page's flag is cleared last, in a unit of
//! its own. A crash before it leaves the index pending, and a later insert trains again.
//! The caller keeps inserts out while this runs (a concurrent insert would write an empty
//! code after its node was encoded); VACUUM may run (it writes no codes).

use crate::codes::{sample_positions, Codebook, SAMPLE};
use crate::index::for_each_record;
use crate::page::node::FLAG_ALIAS;
use crate::page::{Layout, Meta, PageKind, PageWrite, PagedGraph, CONTENT_SIZE};
use std::io;

/// Whether a pending index has grown enough to train: its inserts have given out
/// `SAMPLE` node ids (counted by the insert page's first id, so read from the meta page).
pub fn ready_to_train(meta: &Meta) -> bool {
    meta.codes_pending && meta.insert_page_first_node as usize >= SAMPLE
}

/// Trains a pending index's codebook on up to `SAMPLE` of its graph nodes' vectors (spread
/// evenly over their ids; the training seed is fixed), writes it and every occupied node's
/// code, then clears `codes_pending`. However few graph nodes there are (exact
/// duplicates share one, and rows may have been deleted), they are what the index holds,
/// so it trains on them: waiting for more would make every later insert try again.
/// `Ok(false)` when the index is not pending or has no graph node. Errors are the training's
/// (`Codebook::train_supervised`: no memory, or a cancel through `supervise`); the index
/// then stays pending.
pub fn train_pending<S: PageWrite>(
    store: &S,
    threads: usize,
    supervise: Option<&mut dyn FnMut()>,
) -> io::Result<bool> {
    let meta = store.meta();
    if !meta.codes_pending {
        return Ok(false);
    }
    let layout = Layout::of(&meta);
    let (mut occupied, mut nodes) = (Vec::new(), Vec::new());
    for_each_record(store, &layout, |id, record| {
        if record.is_occupied() {
            occupied.push(id);
            if record.flags & FLAG_ALIAS == 0 {
                nodes.push(id);
            }
        }
    });
    if nodes.is_empty() {
        return Ok(false);
    }
    let graph = PagedGraph::new(store, meta);
    let positions: Vec<usize> = sample_positions(nodes.len()).collect();
    let mut values = Vec::new();
    values
        .try_reserve_exact(positions.len() * layout.dim)
        .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "a training sample"))?;
    let mut vector = Vec::with_capacity(layout.dim);
    for &i in &positions {
        graph.read_vector(nodes[i], &mut vector);
        values.extend_from_slice(&vector);
    }
    let sample: Vec<&[f32]> = values.chunks_exact(layout.dim).collect();
    let codebook =
        Codebook::train_sample(layout.dim, layout.subvectors, &sample, threads, supervise)?;
    drop(sample);
    drop(values);

    // One unit a page: a never-used page (an unlogged index reset to its init fork) is
    // initialised with its own content length (the last one is shorter).
    let bytes = codebook.to_bytes();
    for part in layout.codebook_parts() {
        let used = layout.block_kind(part.block).1;
        store.write_parts(&[part], &bytes, PageKind::Codebook, used);
    }
    let mut code = vec![0u8; layout.code_size];
    for (k, &id) in occupied.iter().enumerate() {
        if k % 64 == 0 {
            store.pause();
        }
        graph.read_vector(id, &mut vector);
        codebook.encode(&vector, &mut code);
        let parts: Vec<_> = layout.code_parts(id).collect();
        store.write_parts(&parts, &code, PageKind::Codes, CONTENT_SIZE);
    }
    store.change_meta(|meta| {
        meta.codes_pending.then_some(())?;
        meta.codes_pending = false;
        Some(())
    });
    Ok(true)
}
