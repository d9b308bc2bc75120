//! Building a graph over a vector arena, with one or more threads.
use super::search::{descend, search_layer, Visited};
use super::storage::{try_collect, try_filled, Backing, SpillFiles};
use super::tree::{add_child, children_max, choose_parent, prune, set_parent, Offer};
use super::{draw_level, Arena, EntryPoint, Graph, Neighbour, Params, Slots, NO_NODE};
use crate::distance::{kernels, Metric};
use crate::workers::run_workers;
use parking_lot::Mutex;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// Everything a build needs. The arena holds `n * dim` floats, or, with `offsets`, n
/// vectors of varying length (vector i is floats offsets[i]..offsets[i + 1]; `dim` is
/// then the vectors' nominal dimensions, unused by the build).
pub struct BuildInput {
    pub vectors: Backing,
    pub offsets: Option<Vec<u64>>,
    pub dim: usize,
    pub metric: Metric,
    pub params: Params,
    pub threads: usize,
    /// Makes the file to map the layer-0 link slab in; `None` keeps it on the heap.
    pub links_spill: Option<Box<SpillFiles>>,
}

/// Builds the graph with `input.threads` threads (the calling thread is one of them).
/// `stop` is polled between inserts: once true, the build returns early with the nodes
/// inserted so far (the caller, seeing the flag, discards the graph). `progress` counts
/// inserted nodes. Every node joins the tree (see `tree`) as it is inserted, so no node
/// is left unreachable.
/// Every array sized by the data is reserved fallibly: running out of memory, or failing
/// to start a thread, is an error (`io::ErrorKind::OutOfMemory`), never an abort.
pub fn build(input: BuildInput, stop: &AtomicBool, progress: &AtomicUsize) -> io::Result<Graph> {
    build_inner(input, stop, progress, None)
}

/// Like `build`, but all `input.threads` inserting threads are spawned, with every signal
/// blocked, and the calling thread runs `supervise` every few milliseconds until they are
/// done. If `supervise` panics (a Postgres ERROR, such as a cancel), `stop` is set and the
/// workers are joined before the panic goes on.
pub fn build_supervised(
    input: BuildInput,
    stop: &AtomicBool,
    progress: &AtomicUsize,
    supervise: &mut dyn FnMut(),
) -> io::Result<Graph> {
    build_inner(input, stop, progress, Some(supervise))
}

fn build_inner(
    input: BuildInput,
    stop: &AtomicBool,
    progress: &AtomicUsize,
    supervise: Option<&mut dyn FnMut()>,
) -> io::Result<Graph> {
    let BuildInput {
        vectors,
        offsets,
        dim,
        metric,
        params,
        threads,
        links_spill,
    } = input;
    let arena = Arena::new(vectors, offsets, dim);
    assert!(params.m >= 2, "m must be at least 2");
    let n = arena.len();
    let graph = Graph::allocate(arena, metric, params, links_spill)?;

    let next = AtomicUsize::new(0);
    // Each inserting thread's visited set, allocated here so a worker never allocates
    // anything sized by the data.
    let workers = threads.max(1);
    let visited_sets = (0..workers)
        .map(|_| Visited::try_dense(n).map(Mutex::new))
        .collect::<io::Result<Vec<_>>>()?;
    let work = |worker: usize| {
        let mut visited = visited_sets[worker].lock();
        while !stop.load(Ordering::Relaxed) {
            let id = next.fetch_add(1, Ordering::Relaxed);
            if id >= n {
                break;
            }
            if !graph.is_alias(id as u32) {
                graph.insert(id as u32, &mut visited);
            }
            progress.fetch_add(1, Ordering::Relaxed);
        }
    };
    run_workers(workers, stop, supervise, &work)?;
    Ok(graph)
}

/// Chains exact duplicates: for each vector, the next later copy of it (NO_NODE when
/// none), and whether it is itself a later copy. Vectors are grouped by a hash of their
/// bits, then compared exactly.
fn duplicate_chains(arena: &Arena) -> io::Result<(Vec<u32>, Vec<bool>)> {
    use std::collections::HashMap;
    use std::hash::{BuildHasher, Hasher};
    const WHAT: &str = "an hnsw build's duplicate chains";
    let n = arena.len();
    let mut next = try_filled(n, NO_NODE, WHAT)?;
    let mut alias = try_filled(n, false, WHAT)?;
    let vector = |id: usize| arena.vector(id as u32);
    // Keyed per build, so no data set can be made to collide on purpose.
    let keys = std::collections::hash_map::RandomState::new();
    let hash = |v: &[f32]| {
        let mut h = keys.build_hasher();
        v.iter().for_each(|x| h.write_u32(x.to_bits()));
        h.finish()
    };
    // One chain per distinct vector: (first id, last id, next chain with the same hash).
    let mut chains: Vec<(u32, u32, u32)> = Vec::new();
    chains
        .try_reserve_exact(n)
        .map_err(|e| super::storage::out_of_memory(WHAT, n * 12, e))?;
    // hash -> the first chain with that hash.
    let mut by_hash: HashMap<u64, u32> = HashMap::new();
    by_hash
        .try_reserve(n)
        .map_err(|e| super::storage::out_of_memory(WHAT, n * 16, e))?;
    for id in 0..n {
        let v = vector(id);
        let bits_equal = |other: u32| {
            let w = vector(other as usize);
            w.len() == v.len() && w.iter().zip(v).all(|(a, b)| a.to_bits() == b.to_bits())
        };
        let new_chain = chains.len() as u32;
        let head = *by_hash.entry(hash(v)).or_insert(new_chain);
        let mut at = head;
        let mut same = None;
        while at != new_chain && at != NO_NODE {
            if bits_equal(chains[at as usize].0) {
                same = Some(at);
                break;
            }
            at = chains[at as usize].2;
        }
        match same {
            Some(c) => {
                let last = &mut chains[c as usize].1;
                next[*last as usize] = id as u32;
                *last = id as u32;
                alias[id] = true;
            }
            None => {
                // Pushed within the reserved capacity; linked in after the bucket's head.
                let after_head = if head == new_chain {
                    NO_NODE
                } else {
                    std::mem::replace(&mut chains[head as usize].2, new_chain)
                };
                chains.push((id as u32, id as u32, after_head));
            }
        }
    }
    Ok((next, alias))
}

impl Graph {
    /// Empty adjacency for the nodes of `vectors`, with their levels drawn.
    fn allocate(
        arena: Arena,
        metric: Metric,
        params: Params,
        mut links_spill: Option<Box<SpillFiles>>,
    ) -> io::Result<Graph> {
        let n = arena.len();
        let (next_duplicate, is_alias) = duplicate_chains(&arena)?;
        // Aliases are never linked, so they sit on layer 0 only.
        let levels: Vec<u8> = try_collect(
            n,
            |id| {
                if is_alias[id] {
                    0
                } else {
                    draw_level(params.seed, id as u32, params.m) as u8
                }
            },
            "an hnsw build's levels",
        )?;
        let max_level = levels.iter().copied().max().unwrap_or(0) as usize;
        // Dense slot numbers per upper layer, in id order.
        let mut upper_first = try_filled(n, u32::MAX, "an hnsw build's upper layers")?;
        let upper_slots: usize = levels.iter().map(|&l| l as usize).sum();
        let mut upper_slot_of = Vec::new();
        upper_slot_of.try_reserve_exact(upper_slots).map_err(|e| {
            super::storage::out_of_memory("an hnsw build's upper layers", upper_slots * 4, e)
        })?;
        let mut per_layer = vec![0u32; max_level];
        for (id, &level) in levels.iter().enumerate() {
            if level == 0 {
                continue;
            }
            upper_first[id] = upper_slot_of.len() as u32;
            for count in per_layer.iter_mut().take(level as usize) {
                upper_slot_of.push(*count);
                *count += 1;
            }
        }
        let m = params.m;
        let layer0 = Slots {
            words: Backing::zeroed(n * (2 * m + 1), links_spill.as_deref_mut())?,
            width: 2 * m,
        };
        let upper = per_layer
            .iter()
            .map(|&count| {
                Ok(Slots {
                    words: Backing::zeroed(count as usize * (m + 1), None)?,
                    width: m,
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Graph {
            arena,
            metric,
            kernels: kernels(),
            params,
            levels,
            upper_first,
            upper_slot_of,
            layer0,
            upper,
            locks: try_collect(n, |_| Mutex::new(()), "an hnsw build's node locks")?,
            entry: Mutex::new(None),
            root: AtomicU32::new(NO_NODE),
            next_duplicate,
            is_alias,
        })
    }

    fn insert(&self, id: u32, visited: &mut Visited) {
        let level = self.level(id);
        let query = self.vector(id);
        // The first node becomes the entry point and the tree's root; later ones start
        // from it.
        let entry = {
            let mut entry = self.entry.lock();
            match *entry {
                None => {
                    *entry = Some(EntryPoint { node: id, level });
                    self.root.store(id, Ordering::SeqCst);
                    return;
                }
                Some(e) => e,
            }
        };
        let mut entries = vec![descend(self, query, entry, level)];
        for layer in (0..=level.min(entry.level)).rev() {
            let mut found = search_layer(
                self,
                query,
                &entries,
                self.params.ef_construction,
                layer,
                visited,
            );
            // Another thread may already have linked to this node on this layer (reaching
            // it from a layer above), so the search can find the node itself.
            found.retain(|n| n.id != id);
            let max = self.max_degree(layer);
            let chosen = self.select_neighbours(&found, max);
            let parent = (layer == 0).then(|| self.join_tree(id, &found, entry.node));
            self.write_own_links(id, layer, &chosen, max);
            for &other in chosen.iter().filter(|&&c| Some(c) != parent) {
                self.link_back(other, id, layer, max);
            }
            if !found.is_empty() {
                entries = found;
            }
        }
        if level > entry.level {
            let mut current = self.entry.lock();
            if current.is_none_or(|e| level > e.level) {
                *current = Some(EntryPoint { node: id, level });
            }
        }
    }

    /// Writes node `id`'s own list on `layer`: its tree links first (its parent, and
    /// children that joined since), then `chosen`, then the links other threads added
    /// while it searched (they reached it from a layer above, or through the tree); a
    /// list over `max` is re-selected with the heuristic, tree links kept. Overwriting
    /// those back-links instead would leave the nodes behind them reachable only the
    /// long way round, through the tree.
    fn write_own_links(&self, id: u32, layer: usize, chosen: &[u32], max: usize) {
        let _guard = self.locks[id as usize].lock();
        let mut links = Vec::with_capacity(max + chosen.len());
        self.read_links_locked(id, layer, &mut links);
        let tree = if layer == 0 {
            Some(self.layer0.tree(id as usize))
        } else {
            None
        };
        let pinned = tree.map_or(0, |t| t.pinned);
        let added_meanwhile = links.split_off(pinned);
        for &n in chosen.iter().chain(&added_meanwhile) {
            if !links.contains(&n) {
                links.push(n);
            }
        }
        self.prune_list(id, &mut links, pinned, max);
        match tree {
            Some(tree) => self.layer0.write_with_tree(id as usize, &links, tree),
            None => self.write_links_locked(id, layer, &links),
        }
    }

    /// Whether node `id` is in the tree (the root, or a node with a parent), so it may
    /// take children. The caller holds its lock.
    fn in_tree_locked(&self, id: u32) -> bool {
        id == self.root.load(Ordering::SeqCst) || self.layer0.tree(id as usize).has_parent
    }

    /// Makes node `id` a child in the tree, by the rule INSERT follows too
    /// (`tree::choose_parent`): of the nearest node in `found` that is in the tree and has
    /// room, else of a node with room below the nearest full one. `fallback` (the entry
    /// point, in the tree) serves when `found` has nothing. Returns the parent.
    fn join_tree(&self, id: u32, found: &[Neighbour], fallback: u32) -> u32 {
        let cap = children_max(self.params.m);
        let max = self.max_degree(0);
        let offer = |parent: u32| -> Offer {
            if parent == id {
                return Offer::Refused;
            }
            let _guard = self.locks[parent as usize].lock();
            if !self.in_tree_locked(parent) {
                return Offer::Refused;
            }
            let tree = self.layer0.tree(parent as usize);
            let mut links = Vec::with_capacity(max + 1);
            self.layer0.read(parent as usize, &mut links);
            if tree.children() >= cap {
                // A walk goes on to a child in the tree already (one whose own thread has
                // not yet noted its parent cannot take children yet).
                let below = links[tree.child_range()]
                    .iter()
                    .copied()
                    .find(|&c| c != id && self.layer0.tree(c as usize).has_parent);
                return Offer::Full { below };
            }
            let tree = add_child(&mut links, tree, id, max);
            self.layer0.write_with_tree(parent as usize, &links, tree);
            Offer::Taken
        };
        // A walk stops only at a full node whose children are all still joining: it waits
        // for them there. (The entry point is in the tree, and walks never give up.)
        let wait_there = |stopped: Option<u32>| {
            if stopped.is_some() {
                std::thread::yield_now();
            }
            Some(stopped.unwrap_or(fallback))
        };
        let candidates = found.iter().map(|n| n.id).chain([fallback]);
        let parent = choose_parent(candidates, offer, wait_there, usize::MAX, usize::MAX)
            .expect("a build's walk down the tree ends at a node with room");
        self.note_parent(id, parent)
    }

    /// Records `parent` as node `id`'s pinned parent, in front of its layer-0 list.
    fn note_parent(&self, id: u32, parent: u32) -> u32 {
        let _guard = self.locks[id as usize].lock();
        let max = self.max_degree(0);
        let mut links = Vec::with_capacity(max + 1);
        self.layer0.read(id as usize, &mut links);
        let tree = set_parent(&mut links, self.layer0.tree(id as usize), parent, max);
        self.layer0.write_with_tree(id as usize, &links, tree);
        parent
    }

    /// Adds `id` to `other`'s list on `layer`; a full list is re-selected with the
    /// heuristic, its tree links kept (`tree::prune`, the same rule an INSERT's back-links
    /// follow). Nodes the re-selection drops stay reachable through the tree.
    fn link_back(&self, other: u32, id: u32, layer: usize, max: usize) {
        let _guard = self.locks[other as usize].lock();
        let mut links = Vec::with_capacity(max + 1);
        self.read_links_locked(other, layer, &mut links);
        if links.contains(&id) {
            return;
        }
        links.push(id);
        let pinned = if layer == 0 {
            self.layer0.tree(other as usize).pinned
        } else {
            0
        };
        self.prune_list(other, &mut links, pinned, max);
        self.write_links_locked(other, layer, &links);
    }

    /// Cuts node `id`'s list to `max` (`tree::prune`: the first `pinned` stay, the rest
    /// are re-selected by their distance to `id`).
    fn prune_list(&self, id: u32, links: &mut Vec<u32>, pinned: usize, max: usize) {
        let base = self.vector(id);
        prune(
            links,
            pinned,
            max,
            |n| self.distance(base, self.vector(n)),
            |a, b| self.distance(self.vector(a), self.vector(b)),
        );
    }
}
