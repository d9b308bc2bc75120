//! Filtered scans of a multicolumn index: which node slots pass a filter on the columns
//! after the vector (one pass over the key pages, which hold a node's values in a few
//! bytes: 9 for one integer column, so 60,000 rows' keys fit in 67 pages), and those
//! nodes in exact order, for a filter so selective that walking the graph to find them
//! would cost more.

use crate::graph::Neighbour;
use crate::page::keys::KeyFilter;
use crate::page::node::{HeapTid, FLAG_DELETED};
use crate::page::{
    page_is_new, Layout, PageStore, PageWrite, PagedGraph, CONTENT_SIZE, HEADER_SIZE,
};
use std::collections::TryReserveError;

/// The node slots whose keys pass a filter.
pub struct Matches {
    bits: Vec<u64>,
    count: usize,
}

impl Matches {
    pub fn contains(&self, id: u32) -> bool {
        let word = (id / 64) as usize;
        self.bits
            .get(word)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// How many slots passed.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The slots that passed, in id order.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.bits.iter().enumerate().flat_map(|(word, &bits)| {
            // The set bits, lowest first, each cleared once taken.
            std::iter::successors((bits != 0).then_some(bits), |&rest| {
                let rest = rest & (rest - 1);
                (rest != 0).then_some(rest)
            })
            .map(move |rest| (word * 64 + rest.trailing_zeros() as usize) as u32)
        })
    }
}

/// The node slots of `graph` whose keys pass `filter`, read group by group from the key
/// pages (a slot whose key was never written passes nothing; a freed slot's stale key
/// may pass, and its record says it holds no row).
pub fn matching<S: PageWrite>(
    graph: &PagedGraph<S>,
    filter: &KeyFilter,
) -> Result<Matches, TryReserveError> {
    let layout = &graph.layout;
    let size = layout.key_size;
    assert_eq!(
        size,
        filter.format().key_bytes(),
        "the filter is of the index's keys"
    );
    let blocks = graph.store.blocks();
    let mut matches = Matches {
        bits: Vec::new(),
        count: 0,
    };
    if filter.is_unsatisfiable() {
        return Ok(matches);
    }
    // Keys are tested in place on their page; one that runs over a page's end is put
    // together in `carry` (`carried` is its slot within the group).
    let mut carry = Vec::new();
    carry.try_reserve_exact(size)?;
    let mut carried = None;
    static ZERO: [u8; CONTENT_SIZE] = [0; CONTENT_SIZE];
    for group in 0.. {
        let pages = layout.key_blocks(group);
        if pages.start >= blocks {
            break;
        }
        graph.store.pause(); // a cancel lands between groups
        let first = group * layout.group_nodes;
        let words = (first + layout.group_nodes).div_ceil(64);
        matches
            .bits
            .try_reserve(words.saturating_sub(matches.bits.len()))?;
        matches.bits.resize(words, 0);
        let (bits, count) = (&mut matches.bits, &mut matches.count);
        let mut test = |r: usize, key: &[u8]| {
            if filter.matches(key) {
                let id = first + r;
                bits[id / 64] |= 1 << (id % 64);
                *count += 1;
            }
        };
        for (k, block) in pages.enumerate() {
            let mut on_page = |content: &[u8]| {
                let page_start = k * CONTENT_SIZE;
                if let Some(r) = carried.take() {
                    let rest = size - carry.len();
                    carry.extend_from_slice(&content[..rest]);
                    test(r, &carry);
                    carry.clear();
                }
                let mut next = whole_keys(layout, k).start;
                for (r, key) in keys_on(layout, k, content) {
                    test(r, key);
                    next = r + 1;
                }
                if next < layout.group_nodes && next * size < page_start + CONTENT_SIZE {
                    carry.extend_from_slice(&content[next * size - page_start..]);
                    carried = Some(next);
                }
            };
            if block >= blocks {
                on_page(&ZERO);
            } else {
                graph.store.with_page(block, |p| {
                    if page_is_new(p) {
                        on_page(&ZERO)
                    } else {
                        on_page(&p[HEADER_SIZE..HEADER_SIZE + CONTENT_SIZE])
                    }
                });
            }
        }
    }
    Ok(matches)
}

/// The slots of a group whose keys lie whole on its key page `k` (slot `r`'s key starts
/// `r * key_size - k * CONTENT_SIZE` bytes into the page's content).
fn whole_keys(layout: &Layout, k: usize) -> std::ops::Range<usize> {
    let (size, page_start) = (layout.key_size, k * CONTENT_SIZE);
    let first = page_start.div_ceil(size).min(layout.group_nodes);
    let end = ((page_start + CONTENT_SIZE) / size).clamp(first, layout.group_nodes);
    first..end
}

/// The slots of `whole_keys` and their keys, on key page `k` whose content is `content`.
fn keys_on<'a>(
    layout: &Layout,
    k: usize,
    content: &'a [u8],
) -> impl Iterator<Item = (usize, &'a [u8])> {
    let whole = whole_keys(layout, k);
    let first = whole.start * layout.key_size - k * CONTENT_SIZE;
    whole.zip(content[first..].chunks_exact(layout.key_size))
}

/// Whether node slot `id`'s key passes `filter`, read where it lies: what a walk asks of
/// each node it returns, when it has not read every key first (`sample_matching`).
pub fn key_passes<S: PageStore>(graph: &PagedGraph<S>, filter: &KeyFilter, id: u32) -> bool {
    let mut parts = graph.layout.key_parts(id);
    let first = parts.next().expect("a key has bytes");
    if parts.next().is_none() {
        let at = first.offset..first.offset + first.bytes.len();
        return graph
            .store
            .with_page(first.block, |p| filter.matches(&p[at]));
    }
    let mut key = Vec::new();
    graph.read_key(id, &mut key);
    filter.matches(&key)
}

/// Key pages a sample tests: 8 of about 320 keys each (one integer column) cost about
/// 13 µs, a twentieth of the pass over a 60,000-row index's keys.
pub const SAMPLE_PAGES: usize = 8;

/// About how many slots pass a filter, from the keys on `SAMPLE_PAGES` key pages spread
/// evenly over the index (so over the rows' load order); `None` for an index with fewer
/// than twice as many key pages, where reading them all (`matching`) costs little more
/// and counts exactly. A filter correlated with the load order (rows loaded sorted
/// by it) may be misjudged either way; the scan stays exact, only slower.
pub fn sample_matching<S: PageWrite>(graph: &PagedGraph<S>, filter: &KeyFilter) -> Option<usize> {
    let layout = &graph.layout;
    let groups = graph.meta.groups as usize;
    let total = groups * layout.key_pages;
    if total < 2 * SAMPLE_PAGES {
        return None;
    }
    let blocks = graph.store.blocks();
    let (mut tested, mut passed) = (0usize, 0usize);
    for i in 0..SAMPLE_PAGES {
        let page = (2 * i + 1) * total / (2 * SAMPLE_PAGES);
        let (group, k) = (page / layout.key_pages, page % layout.key_pages);
        let block = layout.key_blocks(group).start + k as u32;
        if block >= blocks {
            tested += whole_keys(layout, k).len();
            continue;
        }
        graph.store.with_page(block, |p| {
            let fresh = page_is_new(p);
            for (_, key) in keys_on(layout, k, &p[HEADER_SIZE..HEADER_SIZE + CONTENT_SIZE]) {
                tested += 1;
                passed += usize::from(!fresh && filter.matches(key));
            }
        });
    }
    let slots = groups * layout.group_nodes;
    Some((passed * slots).div_ceil(tested.max(1)))
}

/// Distances a graph walk computes per node it takes, about: a node's expansion reads
/// its 2m neighbours, half of them not seen yet (Fashion-MNIST, ef_search 40: about 640
/// distances for the first beam's 40 nodes).
pub const WALK_DISTANCES_PER_NODE: usize = 16;

/// Whether a filtered scan ranks its `matches` exactly from the start, walking no graph:
/// when that costs fewer distances than one beam of `ef` would.
pub fn ranks_exactly(matches: usize, ef: usize) -> bool {
    matches <= WALK_DISTANCES_PER_NODE * ef.max(1)
}

/// Whether a scan whose sample (`sample_matching`) estimates `estimate` passing slots
/// walks the graph without reading every key first: when even half the estimate is more
/// than `ranks_exactly` ranks (a sample of a few thousand keys is off by a fifth at 1%;
/// a filter just past that bound is better served by the pass and the exact ranking).
pub fn walks_unread(estimate: usize, ef: usize) -> bool {
    !ranks_exactly(estimate / 2, ef)
}

/// How many nodes a filtered walk takes before it ranks the matches it has not returned
/// exactly: at least a beam, then until the walk has cost about what that ranking costs.
/// A filter whose rows lie near the query (the query's own class) is done within the
/// beam; one whose rows lie far from it (another class) costs at most about twice the
/// exact ranking, never a walk of `hnsw.max_scan_tuples` nodes.
pub fn walk_budget(matches: usize, ef: usize) -> usize {
    (matches / WALK_DISTANCES_PER_NODE).max(ef.max(1))
}

/// The `most` nearest `query` of the slots of `matches` not `taken` and past `after` (a
/// distance: none nearer, as a strict-order scan asks) and `cursor` (the last slot an
/// earlier call gave: only slots after it by distance, then id), nearest first: every
/// one, aliases too (each slot holds its row's vector), each standing for its own row only
/// (`row_of`). A scan that may hold only so much ranks its passing slots so, in rounds of
/// `most`, each a pass over their vectors.
pub fn exact_matches<S: PageWrite>(
    graph: &PagedGraph<S>,
    query: &[f32],
    matches: &Matches,
    taken: impl Fn(u32) -> bool,
    after: Option<f32>,
    cursor: Option<Neighbour>,
    most: usize,
) -> Result<Vec<Neighbour>, TryReserveError> {
    let ids = matches.ids().filter(|&id| !taken(id));
    let keep = |n: &Neighbour| {
        after.is_none_or(|d| !(n.distance < d)) && cursor.is_none_or(|last| *n > last)
    };
    super::exact::rank(graph, query, ids, matches.len(), keep, most)
}

/// How many passing slots a filtered scan holding at most `memory_limit` bytes ranks in
/// one round (`exact_matches`): 12 bytes each, as an unfiltered scan's exact finish
/// counts them (`exact_finish_after`), at least 64 kB's worth.
pub fn exact_round(memory_limit: usize) -> usize {
    memory_limit.max(65_536) / super::exact::EXACT_BYTES_PER_NODE
}

/// The row slot `id` holds, if it holds one (occupied, not deleted): what a filtered
/// scan returns for a slot `exact_matches` ranked.
pub fn row_of<S: PageStore>(graph: &PagedGraph<S>, id: u32) -> Option<HeapTid> {
    let record = graph.node(id);
    (record.is_occupied() && record.flags & FLAG_DELETED == 0).then_some(record.tid)
}
