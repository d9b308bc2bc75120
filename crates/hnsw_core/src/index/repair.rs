//! Repairing the graph around deleted nodes, after VACUUM has marked them.
//!
//! 1. If the entry point was deleted, the highest live node in the tree replaces it (if
//!    there is none, the deleted entry point stays, so scans and inserts still start in
//!    the tree).
//! 2. Each deleted node leaves the tree (`detach`): its children move to other parents
//!    first, so every live node stays reachable whenever VACUUM stops (a crash, an ERROR).
//! 3. Locally, without searching from the entry point: each live node X whose list on
//!    some layer names a deleted node d keeps its other links and takes, in d's place, as
//!    many of d's own neighbours as the list has room for (heuristic first, then nearest).
//!    Tree links are never touched. Afterwards no live node points at a deleted one, so
//!    scans stop walking through them.
//!
//! A deleted node whose duplicate chain still holds live copies stays in the graph. Links
//! to aliases (left by an insert racing with the VACUUM that freed the node it linked to)
//! are replaced like links to deleted nodes.

use super::chain::{chain, chain_bound};
use super::records::for_each_record;
use super::tree::detach;
use crate::distance::kernels;
use crate::graph::{search, select_neighbours, EntryPoint, GraphRead, Neighbour, Visited, NO_NODE};
use crate::page::node::{read_list, record_tree, write_list, NodeRecord, FLAG_ALIAS, FLAG_DELETED};
use crate::page::{FormatError, Layout, Meta, PageStore, PageWrite, PagedGraph};
use std::collections::{HashMap, HashSet};

/// The meta page of `store`, checked.
pub fn read_meta<S: PageStore>(store: &S) -> Result<Meta, FormatError> {
    store.with_page(0, Meta::read)
}

/// What a repair pass did.
#[derive(Default, Debug)]
pub struct Repaired {
    pub lists: usize,
    pub entry_moved: bool,
    /// Deleted nodes taken out of the tree.
    pub detached: usize,
    /// The deleted graph nodes without live copies: nothing links to them any more.
    pub deleted: HashSet<u32>,
}

/// One repair pass over the index in `store` (steps 1 to 3 above). Every change is one
/// unit, so the pass may stop between any two (a crash, an ERROR) and leave a valid index.
pub fn repair<S: PageWrite>(store: &S) -> Result<Repaired, FormatError> {
    let meta = read_meta(store)?;
    let layout = Layout::of(&meta);
    let mut deleted = HashSet::new();
    let mut highest_live: Option<EntryPoint> = None;
    // Duplicate chains: a deleted node whose chain still holds a live copy must stay in
    // the graph, or that copy could no longer be found.
    let mut next_duplicate: HashMap<u32, u32> = HashMap::new();
    let mut live_aliases: HashSet<u32> = HashSet::new();
    // Aliases: no list may name one. (An insert racing with the VACUUM that freed a node
    // it linked to can leave such a link once the slot holds an alias.) Links to free or
    // reserved slots stay: an insert may take the slot while this pass runs.
    let mut aliases = HashSet::new();
    // Levels of live slots, for upper-layer links to a slot reused at a lower level. (A
    // free slot may be taken while this pass runs, at any level: it has none here.)
    let mut levels: HashMap<u32, u8> = HashMap::new();
    for_each_record(store, &layout, |id, r| {
        if r.is_occupied() {
            levels.insert(id, r.level);
        }
        if r.is_occupied() && r.flags & FLAG_ALIAS != 0 {
            aliases.insert(id);
        }
        if !r.is_occupied() {
            return; // a free or reserved slot
        }
        if r.next_duplicate != NO_NODE {
            next_duplicate.insert(id, r.next_duplicate);
        }
        if r.flags & FLAG_ALIAS != 0 {
            if r.flags & FLAG_DELETED == 0 {
                live_aliases.insert(id);
            }
            return;
        }
        if r.flags & FLAG_DELETED != 0 {
            deleted.insert(id);
        } else if r.in_tree() && highest_live.is_none_or(|e| (r.level as usize) > e.level) {
            highest_live = Some(EntryPoint {
                node: id,
                level: r.level as usize,
            });
        }
    });
    let bound = chain_bound(&meta, &layout);
    deleted.retain(|&id| {
        let first = next_duplicate.get(&id).copied().unwrap_or(NO_NODE);
        let next_of = |a: u32| next_duplicate.get(&a).copied();
        !chain(first, bound, next_of).any(|a| live_aliases.contains(&a))
    });
    let mut done = Repaired::default();
    let gone: HashSet<u32> = deleted.union(&aliases).copied().collect();
    if gone.is_empty() {
        return Ok(done);
    }
    let mut entry = meta.entry;
    store.update_meta(|meta| {
        if let (Some(e), Some(live)) = (meta.entry, highest_live) {
            if deleted.contains(&e.node) {
                meta.entry = Some(live);
                done.entry_moved = true;
            }
        }
        entry = meta.entry;
        Some(()) // a repair pass is a structural change either way
    })?;
    // Out of the tree first: then unlinking them below strands nothing. An entry point
    // this pass moved stays in the tree, and unfreed, until the next VACUUM: inserts and
    // scans that read the meta page before the move still start from it.
    let mut kept = HashSet::new();
    if done.entry_moved {
        kept.extend(meta.entry.map(|e| e.node));
    }
    let mut in_order: Vec<u32> = deleted.iter().copied().collect();
    in_order.sort_unstable(); // the same units every run, for the crash suites
    for x in in_order {
        store.pause();
        if entry.is_some_and(|e| e.node == x) || kept.contains(&x) {
            continue;
        }
        if detach(store, &layout, x, &deleted) {
            done.detached += 1;
        } else {
            kept.insert(x);
        }
    }
    let graph = PagedGraph::new(store, meta);
    let mut repairer = Repairer {
        store,
        layout,
        graph: &graph,
        gone: &gone,
        levels: &levels,
        vectors: HashMap::new(),
    };
    for_each_record(store, &layout, |id, r| {
        if !r.is_linked_node() {
            return;
        }
        for layer in 0..=r.level as usize {
            if repairer.repair_list(id, r, layer) {
                done.lists += 1;
            }
        }
        repairer.vectors.clear(); // keep memory bounded: vectors are cached per node
    });
    deleted.retain(|x| !kept.contains(x));
    done.deleted = deleted;
    Ok(done)
}

struct Repairer<'a, S: PageWrite> {
    store: &'a S,
    layout: Layout,
    graph: &'a PagedGraph<&'a S>,
    /// Deleted nodes and aliases: no list should name them.
    gone: &'a HashSet<u32>,
    /// Live slots' levels: an upper list may name only nodes that high.
    levels: &'a HashMap<u32, u8>,
    vectors: HashMap<u32, Vec<f32>>,
}

impl<S: PageWrite> Repairer<'_, S> {
    fn location(&self, id: u32, record: &NodeRecord, layer: usize) -> (u32, usize) {
        if layer == 0 {
            self.layout.node_location(id)
        } else {
            self.layout.upper_location(record.upper_slots[layer - 1])
        }
    }

    fn vector(&mut self, id: u32) -> &[f32] {
        let graph = self.graph;
        self.vectors.entry(id).or_insert_with(|| {
            let mut v = Vec::new();
            graph.read_vector(id, &mut v);
            v
        })
    }

    /// Whether a list on `layer` must not name node `n`.
    fn is_gone(&self, n: u32, layer: usize) -> bool {
        self.gone.contains(&n)
            || (layer > 0 && self.levels.get(&n).is_some_and(|&l| (l as usize) < layer))
    }

    /// The list that should replace `list` (node `id`'s on `layer`), if it names a
    /// deleted node (or one below that layer) and there is anything to put in its place.
    /// Its first `pinned` entries (tree links) stay as they are.
    fn replacement(
        &mut self,
        id: u32,
        list: &[u32],
        pinned: usize,
        layer: usize,
    ) -> Option<Vec<u32>> {
        let (tree_links, list) = list.split_at(pinned);
        if !list.iter().any(|&n| self.is_gone(n, layer)) {
            return None;
        }
        let mut new = tree_links.to_vec();
        new.extend(self.replace_unpinned(id, tree_links, list, layer)?);
        Some(new)
    }

    /// `replacement` for the part of the list after its tree links, which take room from
    /// it (and are not offered again).
    fn replace_unpinned(
        &mut self,
        id: u32,
        tree_links: &[u32],
        list: &[u32],
        layer: usize,
    ) -> Option<Vec<u32>> {
        let mut candidates: Vec<u32> = list
            .iter()
            .copied()
            .filter(|&n| !self.is_gone(n, layer))
            .collect();
        let mut seen: HashSet<u32> = candidates.iter().copied().collect();
        seen.insert(id);
        seen.extend(tree_links);
        let mut their = Vec::new();
        for &d in list.iter().filter(|&&n| self.is_gone(n, layer)) {
            self.graph.neighbours_into(d, layer, &mut their);
            for &n in &their {
                if !self.is_gone(n, layer) && seen.insert(n) {
                    candidates.push(n);
                }
            }
        }
        if candidates.is_empty() {
            // Every neighbour, and every neighbour's neighbour, is gone. On upper layers
            // the node simply has no links there (descent goes on below); on layer 0 it
            // gets new neighbours from a search, as an insert would (unless its tree links
            // are all it needs).
            if layer > 0 || !tree_links.is_empty() {
                return Some(Vec::new());
            }
            let entry = self.graph.meta.entry?;
            let ef = self.graph.meta.ef_construction as usize;
            let base = self.vector(id).to_vec();
            candidates = search(self.graph, &base, entry, ef, ef, &mut Visited::sparse())
                .into_iter()
                .map(|n| n.id)
                .filter(|&n| !self.is_gone(n, layer) && seen.insert(n))
                .collect();
            if candidates.is_empty() {
                return None; // nothing live is reachable at all
            }
        }
        let max = self.layout.max_degree(layer) - tree_links.len();
        if candidates.len() <= max {
            return Some(candidates);
        }
        // The links the list keeps all stay (they were chosen for it); the room left goes
        // to the gone nodes' neighbours, chosen with the heuristic, then nearest first.
        let survivors = list.iter().filter(|&&n| !self.is_gone(n, layer)).count();
        let (mut kept, offered) = (candidates[..survivors].to_vec(), &candidates[survivors..]);
        let room = max.saturating_sub(kept.len());
        let base = self.vector(id).to_vec();
        for &c in offered {
            self.vector(c);
        }
        let metric = self.graph.meta.indexed_metric();
        let vectors = &self.vectors;
        let mut scored: Vec<Neighbour> = offered
            .iter()
            .map(|&n| Neighbour {
                distance: metric.distance(kernels(), &base, &vectors[&n]),
                id: n,
            })
            .collect();
        scored.sort();
        let mut chosen = select_neighbours(&scored, room, |a, b| {
            metric.distance(kernels(), &vectors[&a], &vectors[&b])
        });
        for c in &scored {
            if chosen.len() >= room {
                break;
            }
            if !chosen.contains(&c.id) {
                chosen.push(c.id);
            }
        }
        kept.extend(chosen);
        Some(kept)
    }

    /// Repairs node `id`'s list on `layer`; true if it changed. The list is re-read under
    /// the page lock, and recomputed if an insert changed it meanwhile.
    fn repair_list(&mut self, id: u32, record: &NodeRecord, layer: usize) -> bool {
        let (block, at) = self.location(id, record, layer);
        for _ in 0..3 {
            let m = self.layout.m;
            let mut list = Vec::new();
            let pinned_of = |p: &[u8], len: usize| {
                if layer == 0 {
                    record_tree(p, at, len).pinned
                } else {
                    0
                }
            };
            let pinned = self.store.with_page(block, |p| {
                read_list(p, at, m, layer, &mut list);
                pinned_of(p, list.len())
            });
            let Some(new) = self.replacement(id, &list, pinned, layer) else {
                return false;
            };
            let written = self.store.modify(&[block], |pages| {
                let mut current = Vec::new();
                read_list(pages[0], at, m, layer, &mut current);
                if current != list || pinned_of(pages[0], current.len()) != pinned {
                    return None; // changed under us: compute again
                }
                write_list(pages[0], at, m, layer, &new);
                Some(())
            });
            if written.is_some() {
                return true;
            }
        }
        false
    }
}
