//! Repairing the graph around deleted nodes, after VACUUM has marked them.
//!
//! 1. Every live node that only deleted nodes lead to gets an in-link from the nearest
//!    node reachable without them (so nothing below can strand it, whenever VACUUM stops).
//! 2. If the entry point was deleted, the highest live node replaces it.
//! 3. Locally, without searching from the entry point: each live node X whose list on
//!    some layer names a deleted node d keeps its other links and takes, in d's place, as
//!    many of d's own neighbours as the list has room for (heuristic first, then nearest).
//!    Afterwards no live node points at a deleted one, so scans stop walking through them.
//! 4. Step 1 again, for nodes that concurrent inserts stranded meanwhile.
//!
//! A deleted node whose duplicate chain still holds live copies stays in the graph. Links
//! to aliases (left by an insert racing with the VACUUM that freed the node it linked to)
//! are replaced like links to deleted nodes.

use super::records::for_each_record;
use crate::distance::kernels;
use crate::graph::{search, select_neighbours, EntryPoint, GraphRead, Neighbour, Visited, NO_NODE};
use crate::page::node::{
    read_layer0, read_list, write_layer0, write_list, NodeRecord, FLAG_ALIAS, FLAG_DELETED,
};
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
    /// Live nodes that had lost every in-link and were linked back.
    pub reconnected: usize,
    /// The deleted graph nodes without live copies: nothing links to them any more.
    pub deleted: HashSet<u32>,
}

/// One repair pass over the index in `store` (steps 1 to 4 above). Every change is one
/// unit, so the pass may stop between any two (a crash, an ERROR) and leave a valid index.
pub fn repair<S: PageWrite>(store: &S) -> Result<Repaired, FormatError> {
    let meta = read_meta(store)?;
    let layout = Layout::new(meta.dim as usize, meta.m as usize);
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
        } else if highest_live.is_none_or(|e| (r.level as usize) > e.level) {
            highest_live = Some(EntryPoint {
                node: id,
                level: r.level as usize,
            });
        }
    });
    deleted.retain(|&id| {
        let mut next = next_duplicate.get(&id).copied();
        let mut steps = 0;
        while let Some(alias) = next {
            if live_aliases.contains(&alias) {
                return false;
            }
            next = next_duplicate.get(&alias).copied();
            steps += 1;
            if steps > next_duplicate.len() {
                break; // a broken (cyclic) chain: hnsw_pg_check reports it
            }
        }
        true
    });
    let mut done = Repaired::default();
    let gone: HashSet<u32> = deleted.union(&aliases).copied().collect();
    // Where scans start once the gone nodes are unlinked.
    let start = match meta.entry {
        Some(e) if !gone.contains(&e.node) => Some(e),
        _ => highest_live,
    };
    // First link in every live node that only gone nodes lead to: unlinking them below
    // then strands nothing, even if VACUUM stops half-way (a crash, an ERROR).
    done.reconnected = reconnect_orphans(store, &layout, &gone, start)?;
    if gone.is_empty() {
        return Ok(done);
    }
    store.update_meta(|meta| {
        if meta.entry.is_some_and(|e| deleted.contains(&e.node)) {
            meta.entry = highest_live;
            done.entry_moved = true;
        }
        Some(()) // a repair pass is a structural change either way
    })?;
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
    // Again, for nodes that concurrent inserts stranded meanwhile.
    done.reconnected += reconnect_orphans(store, &layout, &gone, read_meta(store)?.entry)?;
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
    fn replacement(&mut self, id: u32, list: &[u32], layer: usize) -> Option<Vec<u32>> {
        if !list.iter().any(|&n| self.is_gone(n, layer)) {
            return None;
        }
        let mut candidates: Vec<u32> = list
            .iter()
            .copied()
            .filter(|&n| !self.is_gone(n, layer))
            .collect();
        let mut seen: HashSet<u32> = candidates.iter().copied().collect();
        seen.insert(id);
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
            // gets new neighbours from a search, as an insert would.
            if layer > 0 {
                return Some(Vec::new());
            }
            let entry = self.graph.meta.entry?;
            let ef = self.graph.meta.ef_construction as usize;
            let base = self.vector(id).to_vec();
            candidates = search(self.graph, &base, entry, ef, ef, &mut Visited::sparse())
                .into_iter()
                .map(|n| n.id)
                .filter(|&n| n != id && !self.is_gone(n, layer))
                .collect();
            if candidates.is_empty() {
                return None; // nothing live is reachable at all
            }
        }
        let max = self.layout.max_degree(layer);
        if candidates.len() <= max {
            return Some(candidates);
        }
        // The links the list keeps all stay (dropping one could take a node's last
        // in-link); the room left goes to the gone nodes' neighbours, chosen with the
        // heuristic, then nearest first.
        let survivors = list.iter().filter(|&&n| !self.is_gone(n, layer)).count();
        let (mut kept, offered) = (candidates[..survivors].to_vec(), &candidates[survivors..]);
        let room = max.saturating_sub(kept.len());
        let base = self.vector(id).to_vec();
        for &c in offered {
            self.vector(c);
        }
        let metric = self.graph.meta.metric.indexed();
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
            self.store
                .with_page(block, |p| read_list(p, at, m, layer, &mut list));
            let Some(new) = self.replacement(id, &list, layer) else {
                return false;
            };
            let written = self.store.modify(&[block], |pages| {
                let mut current = Vec::new();
                read_list(pages[0], at, m, layer, &mut current);
                if current != list {
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

/// Links back every live node that re-selection left without a path from the entry point
/// (as the build does): from the nearest reachable node that can take it, giving up that
/// node's farthest link only if the link's target keeps another in-link.
fn reconnect_orphans<S: PageWrite>(
    store: &S,
    layout: &Layout,
    gone: &HashSet<u32>,
    start: Option<EntryPoint>,
) -> Result<usize, FormatError> {
    let meta = read_meta(store)?;
    let (Some(entry), Some(start)) = (meta.entry, start) else {
        return Ok(0);
    };
    let graph = PagedGraph::new(store, meta);
    let mut nodes = Vec::new(); // graph nodes that stay linked (live, or holding live copies)
    for_each_record(store, layout, |id, r| {
        if r.is_occupied() && r.flags & FLAG_ALIAS == 0 && !gone.contains(&id) {
            nodes.push(id);
        }
    });
    let mut in_degree: HashMap<u32, u32> = HashMap::new();
    let mut list = Vec::new();
    for &id in &nodes {
        graph.neighbours_into(id, 0, &mut list);
        for &n in list.iter().filter(|n| !gone.contains(n)) {
            *in_degree.entry(n).or_default() += 1;
        }
    }
    let mut reached = HashSet::new();
    mark_reachable(&graph, start.node, gone, &mut reached);
    let mut reconnected = 0;
    let max = layout.max_degree(0);
    for &orphan in &nodes {
        if reached.contains(&orphan) {
            continue;
        }
        let mut query = Vec::new();
        graph.read_vector(orphan, &mut query);
        let ef = meta.ef_construction as usize;
        let found = search(&graph, &query, entry, ef, ef, &mut Visited::sparse());
        let mut hosts: Vec<u32> = found
            .iter()
            .map(|n| n.id)
            .filter(|h| *h != orphan && reached.contains(h))
            .collect();
        if hosts.is_empty() {
            // The search stayed in the orphan's own island: try every reached node, nearest first.
            let mut all: Vec<Neighbour> = reached
                .iter()
                .map(|&id| Neighbour {
                    distance: graph.distance_to(&query, id),
                    id,
                })
                .collect();
            all.sort();
            hosts = all.into_iter().map(|n| n.id).collect();
        }
        if hosts
            .into_iter()
            .any(|host| add_link(store, &graph, layout, host, orphan, max, &mut in_degree))
        {
            reconnected += 1;
            mark_reachable(&graph, orphan, gone, &mut reached);
        }
    }
    Ok(reconnected)
}

/// Adds to `reached` every node a layer-0 walk from `from` reaches without entering a
/// `gone` node.
fn mark_reachable<G: GraphRead>(
    graph: &G,
    from: u32,
    gone: &HashSet<u32>,
    reached: &mut HashSet<u32>,
) {
    if !reached.insert(from) {
        return;
    }
    let mut stack = vec![from];
    let mut list = Vec::new();
    while let Some(id) = stack.pop() {
        graph.neighbours_into(id, 0, &mut list);
        for &n in &list {
            if !gone.contains(&n) && reached.insert(n) {
                stack.push(n);
            }
        }
    }
}

/// Adds `target` to `host`'s layer-0 list; a full list gives up its farthest link whose
/// target has another in-link, or declines (false).
fn add_link<S: PageWrite>(
    store: &S,
    graph: &PagedGraph<&S>,
    layout: &Layout,
    host: u32,
    target: u32,
    max: usize,
    in_degree: &mut HashMap<u32, u32>,
) -> bool {
    let (block, at) = layout.node_location(host);
    let m = layout.m;
    let metric = graph.meta.metric.indexed();
    let mut base = Vec::new();
    graph.read_vector(host, &mut base);
    let mut current = Vec::new();
    store.with_page(block, |p| read_layer0(p, at, m, &mut current));
    let mut vectors: HashMap<u32, Vec<f32>> = HashMap::new();
    for &n in &current {
        let mut v = Vec::new();
        graph.read_vector(n, &mut v);
        vectors.insert(n, v);
    }
    let evicted = store.modify(&[block], |pages| {
        let mut links = Vec::new();
        read_layer0(pages[0], at, m, &mut links);
        if links != current || links.contains(&target) {
            return None; // changed meanwhile, or already there: leave it
        }
        let mut evicted = None;
        if links.len() >= max {
            let farthest = links
                .iter()
                .enumerate()
                .filter(|(_, n)| in_degree.get(n).copied().unwrap_or(0) >= 2)
                .map(|(i, &n)| {
                    (
                        Neighbour {
                            distance: metric.distance(kernels(), &base, &vectors[&n]),
                            id: n,
                        },
                        i,
                    )
                })
                .max()?;
            evicted = Some(farthest.0.id);
            links[farthest.1] = target;
        } else {
            links.push(target);
        }
        write_layer0(pages[0], at, m, &links);
        Some(evicted)
    });
    match evicted {
        None => false,
        Some(evicted) => {
            if let Some(e) = evicted {
                *in_degree.entry(e).or_default() -= 1;
            }
            *in_degree.entry(target).or_default() += 1;
            true
        }
    }
}
