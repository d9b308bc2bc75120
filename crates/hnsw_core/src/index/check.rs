//! `hnsw_pg_check`'s graph half: what an index's own pages must satisfy (entry point,
//! lists, duplicate chains, the tree, reachability as scans walk), one message per problem. The extension adds
//! the heap half (rows without an entry) and runs both under the right locks.

use super::chain::{chain, chain_bound};
use super::records::for_each_record;
use crate::graph::tree::children_max;
use crate::graph::GraphRead;
use crate::page::node::{NodeRecord, FLAG_ALIAS, FLAG_DELETED};
use crate::page::{Layout, Meta, PageWrite, PagedGraph};
use std::collections::{HashMap, HashSet};

/// Every node record of the index, by id, and its (checked) meta page.
pub fn read_records<S: PageWrite>(store: &S) -> (Meta, HashMap<u32, NodeRecord>) {
    let meta = store.meta();
    let layout = Layout::of(&meta);
    let mut records: HashMap<u32, NodeRecord> = HashMap::new();
    for_each_record(store, &layout, |id, r| {
        records.insert(id, r.clone());
    });
    (meta, records)
}

/// Problems of the graph itself: entry point, lists, duplicate chains, reachability.
pub fn graph_problems<S: PageWrite>(
    store: &S,
    meta: Meta,
    records: &HashMap<u32, NodeRecord>,
) -> Vec<String> {
    let layout = Layout::of(&meta);
    let graph = PagedGraph::new(store, meta);
    let mut found = Vec::new();
    let is_graph_node = |id: &u32| {
        records
            .get(id)
            .is_some_and(|r| r.is_occupied() && r.flags & FLAG_ALIAS == 0)
    };

    // A deleted node stays linked while its duplicate chain holds a live copy.
    let bound = chain_bound(&meta, &layout);
    let next_of = |a: u32| records.get(&a).map(|r| r.next_duplicate);
    let holds_live_copy = |id: u32| {
        chain(records[&id].next_duplicate, bound, next_of).any(|a| {
            records
                .get(&a)
                .is_some_and(|r| r.is_occupied() && r.flags & FLAG_DELETED == 0)
        })
    };
    match meta.entry {
        None if records.values().any(|r| r.is_linked_node()) => {
            found.push("the index has live nodes but no entry point".to_string())
        }
        None => {}
        Some(e) => match records.get(&e.node) {
            None => found.push(format!("entry point {} does not exist", e.node)),
            Some(r) if !r.is_occupied() => {
                found.push(format!("entry point {} is a free slot", e.node))
            }
            Some(r) if r.flags & FLAG_ALIAS != 0 => {
                found.push(format!("entry point {} is an alias", e.node))
            }
            Some(r) if r.level as usize != e.level => found.push(format!(
                "entry point {} has level {}, the meta page says {}",
                e.node, r.level, e.level
            )),
            // A deleted entry point is normal until a VACUUM finds a live node in the tree to
            // replace it (after deleting every row, inserts join under it); scans and
            // inserts start there as long as it is in the tree.
            Some(r) if r.flags & FLAG_DELETED != 0 && !r.in_tree() && !holds_live_copy(e.node) => {
                found.push(format!(
                    "entry point {} is deleted and out of the tree",
                    e.node
                ))
            }
            Some(_) => {}
        },
    }

    let mut list = Vec::new();
    for (&id, r) in records.iter() {
        if r.is_occupied() {
            // A node joins the tree only after its code is written; a crash before that
            // may leave an occupied node, unreachable, with its vector and not its code.
            // Its key is written before its vector.
            let code = r.in_tree().then(|| graph.code_problem(id)).flatten();
            let key = r.in_tree().then(|| graph.key_problem(id)).flatten();
            let problems = [graph.record_problem(id), code, key];
            for problem in problems.into_iter().flatten() {
                found.push(format!("node {id}: {problem}"));
            }
        }
        if !r.is_linked_node() {
            continue;
        }
        for layer in 0..=r.level as usize {
            graph.neighbours_into(id, layer, &mut list);
            let max = layout.max_degree(layer);
            if list.len() > max {
                found.push(format!(
                    "node {id} has {} neighbours on layer {layer}, more than {max}",
                    list.len()
                ));
            }
            let mut seen = HashSet::new();
            for &n in list.iter() {
                if n == id {
                    found.push(format!("node {id} links to itself on layer {layer}"));
                } else if !seen.insert(n) {
                    found.push(format!("node {id} links to {n} twice on layer {layer}"));
                } else if !is_graph_node(&n) {
                    found.push(format!(
                        "node {id} links to {n} on layer {layer}, which is not a graph node"
                    ));
                } else if (records[&n].level as usize) < layer {
                    found.push(format!(
                        "node {id} links to {n} on layer {layer}, above that node's level"
                    ));
                }
                // Links to deleted nodes are no fault: VACUUM removes them, an insert that
                // finds only deleted neighbours (every row deleted) makes them, and the
                // free pass frees no node that anything links to.
            }
        }
        // Its duplicate chain holds aliases only, and ends.
        let mut copies = chain(r.next_duplicate, bound, next_of);
        let broken_at = copies
            .by_ref()
            .find(|a| records.get(a).is_none_or(|r| r.flags & FLAG_ALIAS == 0));
        if let Some(at) = broken_at {
            found.push(format!("node {id} has a broken duplicate chain at {at}"));
        } else if copies.looped() {
            found.push(format!("node {id} has a duplicate chain that loops"));
        }
    }

    found.extend(tree_problems(records, meta.m as usize));
    if let Some(e) = meta.entry {
        if records
            .get(&e.node)
            .is_some_and(|r| r.is_occupied() && !r.in_tree())
        {
            found.push(format!("entry point {} is not in the tree", e.node));
        }
    }
    if let Some(e) = meta.entry.filter(|e| is_graph_node(&e.node)) {
        found.extend(reachability_problems(&graph, records, e.node, bound));
    }
    found
}

/// The tree every graph node hangs in (see `graph::tree`): one root, parents and children
/// that name each other, every live graph node in it.
fn tree_problems(records: &HashMap<u32, NodeRecord>, m: usize) -> Vec<String> {
    let mut found = Vec::new();
    let mut roots = Vec::new();
    let mut ids: Vec<u32> = records.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let r = &records[&id];
        if !r.is_occupied() || r.flags & FLAG_ALIAS != 0 {
            if r.in_tree() || r.pinned > 0 {
                found.push(format!("node {id} is not a graph node but has tree links"));
            }
            continue;
        }
        if !r.in_tree() {
            if r.is_linked_node() {
                found.push(format!("live node {id} is not in the tree"));
            }
            continue;
        }
        if r.pinned as usize > r.layer0.len() {
            found.push(format!(
                "node {id} pins {} layer-0 links but has {}",
                r.pinned,
                r.layer0.len()
            ));
            continue;
        }
        match r.parent() {
            None => roots.push(id),
            Some(p) => match records.get(&p) {
                Some(pr) if pr.in_tree() && pr.children().contains(&id) => {}
                _ => found.push(format!(
                    "node {id} names {p} as its parent, which does not name it as a child"
                )),
            },
        }
        if r.children().len() > children_max(m) {
            found.push(format!(
                "node {id} has {} children in the tree, more than {}",
                r.children().len(),
                children_max(m)
            ));
        }
        for &c in r.children() {
            if records.get(&c).and_then(|cr| cr.parent()) != Some(id) {
                found.push(format!(
                    "node {id} names {c} as a child, which does not name it as its parent"
                ));
            }
        }
    }
    let in_tree = records.values().any(|r| r.in_tree());
    if roots.len() > 1 || (in_tree && roots.is_empty()) {
        found.push(format!("the tree has {} roots: {roots:?}", roots.len()));
    }
    found
}

/// Reachability as scans walk layer 0: a scan descends the upper layers to some node and
/// walks layer 0 from there, so every live row must be reachable from the entry point,
/// and the entry point from every node a descent can end at (nodes above layer 0).
fn reachability_problems<G: GraphRead>(
    graph: &G,
    records: &HashMap<u32, NodeRecord>,
    entry: u32,
    chain_bound: usize,
) -> Vec<String> {
    let mut found = Vec::new();
    let is_graph_node = |id: &u32| {
        records
            .get(id)
            .is_some_and(|r| r.is_occupied() && r.flags & FLAG_ALIAS == 0)
    };
    // Forward from the entry point, and the reversed edges for the way back to it (scans
    // walk through deleted nodes, so paths may pass through them).
    let mut reached = HashSet::from([entry]);
    let mut stack = vec![entry];
    let mut into: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut list = Vec::new();
    for (&id, _) in records.iter().filter(|(id, _)| is_graph_node(id)) {
        graph.neighbours_into(id, 0, &mut list);
        for &n in list.iter().filter(|n| is_graph_node(n)) {
            into.entry(n).or_default().push(id);
        }
    }
    while let Some(id) = stack.pop() {
        graph.neighbours_into(id, 0, &mut list);
        for &n in &list {
            if is_graph_node(&n) && reached.insert(n) {
                stack.push(n);
            }
        }
    }
    let mut leads_to_entry = HashSet::from([entry]);
    let mut stack = vec![entry];
    while let Some(id) = stack.pop() {
        for &n in into.get(&id).map_or(&[][..], |v| v) {
            if leads_to_entry.insert(n) {
                stack.push(n);
            }
        }
    }
    // Copies are found through the chain of the node they duplicate.
    let chained: Vec<u32> = reached.iter().copied().collect();
    for id in chained {
        let next_of = |a: u32| records.get(&a).map(|r| r.next_duplicate);
        for a in chain(records[&id].next_duplicate, chain_bound, next_of) {
            if !records.contains_key(&a) || !reached.insert(a) {
                break;
            }
        }
    }
    let mut unreachable: Vec<u32> = records
        .iter()
        .filter(|(id, r)| r.is_occupied() && r.flags & FLAG_DELETED == 0 && !reached.contains(id))
        .map(|(&id, _)| id)
        .collect();
    unreachable.sort_unstable();
    for id in unreachable {
        found.push(format!(
            "live node {id} is not reachable from the entry point"
        ));
    }
    let others = records.keys().any(|&id| id != entry && is_graph_node(&id));
    if others && !into.contains_key(&entry) {
        found.push(format!(
            "entry point {entry} has no layer-0 in-links: a scan whose layer-0 walk starts \
             anywhere else never returns it"
        ));
        return found;
    }
    let mut strays: Vec<u32> = records
        .iter()
        .filter(|(id, r)| is_graph_node(id) && r.level > 0 && !leads_to_entry.contains(id))
        .map(|(&id, _)| id)
        .collect();
    strays.sort_unstable();
    for id in strays {
        found.push(format!(
            "node {id} is above layer 0 but its layer-0 walk never gets back to the entry \
             point: scans that start there miss rows"
        ));
    }
    found
}
