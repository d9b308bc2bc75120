//! The rule that picks a joining node's parent (`tree::choose_parent`), which the build
//! and INSERT share, on a small tree given as a table.

use hnsw_core::graph::tree::{choose_parent, Offer};
use std::collections::HashMap;

/// A tree of `children` lists in which each node takes at most `cap` children; `absent`
/// nodes refuse (not in the tree).
struct Tree {
    children: HashMap<u32, Vec<u32>>,
    cap: usize,
    absent: Vec<u32>,
}

impl Tree {
    fn offer(&mut self, joining: u32, at: u32) -> Offer {
        if self.absent.contains(&at) || at == joining {
            return Offer::Refused;
        }
        let list = self.children.entry(at).or_default();
        if list.len() >= self.cap {
            return Offer::Full {
                below: list.first().copied(),
            };
        }
        list.push(joining);
        Offer::Taken
    }
}

fn full_chain(depth: u32, cap: usize) -> Tree {
    // 0 -> 1 -> ... -> depth, each node full with `cap` children (the first one going on
    // down, the others leaves numbered from 100 up, full as well).
    let mut children = HashMap::new();
    for d in 0..depth {
        let mut list = vec![d + 1];
        list.extend((1..cap as u32).map(|k| 100 + d * 10 + k));
        for &leaf in &list[1..] {
            children.insert(
                leaf,
                (0..cap as u32).map(|k| 1000 + leaf * 10 + k).collect(),
            );
        }
        children.insert(d, list);
    }
    Tree {
        children,
        cap,
        absent: vec![],
    }
}

#[test]
fn the_nearest_candidate_with_room_is_the_parent() {
    let mut tree = full_chain(3, 2);
    tree.absent.push(7);
    // 0 is full, 7 refuses, 2 is full, 50 has room.
    let parent = choose_parent([0, 7, 2, 50], |at| tree.offer(99, at), |_| None, 1, 10);
    assert_eq!(parent, Some(50));
    assert_eq!(tree.children[&50], vec![99]);
}

#[test]
fn when_every_candidate_is_full_the_walk_goes_down_from_the_nearest() {
    let mut tree = full_chain(4, 2);
    // Both candidates full; the walk starts below 1 (the nearest full one): 2, 3, 4.
    let parent = choose_parent([1, 0], |at| tree.offer(99, at), |_| None, 1, 10);
    assert_eq!(parent, Some(4));
}

#[test]
fn a_walk_that_stops_starts_again_where_restart_says() {
    let mut tree = full_chain(6, 2);
    let mut restarts = Vec::new();
    // Walks of 2 steps from below 0: 1, 2 (both full, the walk stopped before 3); then
    // from where it stopped (as restart says): 3, 4; then 5 (full), 6 (room).
    let parent = choose_parent(
        [0],
        |at| tree.offer(99, at),
        |stopped| {
            restarts.push(stopped);
            stopped
        },
        3,
        2,
    );
    assert_eq!(parent, Some(6));
    assert_eq!(restarts, vec![Some(3), Some(5)]);
}

#[test]
fn walks_give_up_after_their_number_and_without_a_start() {
    let mut tree = full_chain(50, 2);
    let parent = choose_parent([0], |at| tree.offer(99, at), |s| s, 3, 4);
    assert_eq!(parent, None, "three walks of four steps never reach room");
    let mut tree = full_chain(3, 2);
    tree.absent.push(0);
    let parent = choose_parent([0], |at| tree.offer(99, at), |_| None, 5, 5);
    assert_eq!(
        parent, None,
        "no candidate took it and there is nowhere to start"
    );
    let mut starts = 0;
    let parent = choose_parent(
        [0],
        |at| tree.offer(99, at),
        |_| {
            starts += 1;
            Some(2)
        },
        5,
        5,
    );
    assert_eq!(
        (parent, starts),
        (Some(3), 1),
        "a refusal starts the walk at restart"
    );
}
