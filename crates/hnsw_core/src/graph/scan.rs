//! A resumable layer-0 search, for index scans that need more rows than one beam gives
//! (a LIMIT above ef_search, or a WHERE clause rejecting rows).
//!
//! The first batch is exactly `search(k = ef, ef)`. Each later batch continues the same
//! search: the candidates it did not expand are still queued, the nodes it evaluated but
//! dropped seed the next beam, and the visited set stays, so no node is returned twice.
//! Each batch is nearest first, but a later batch may hold a node nearer than the last
//! one returned: `Resume` says what the scan does then, and whether it resumes at all.
//! Over a graph whose distances are estimates (an index's codes), the beams run on the
//! estimates and each batch is re-ranked on the exact distances before it is returned,
//! so the distances a scan returns are always exact.

use super::search::{descend, GraphRead, Neighbour, Visited};
use super::EntryPoint;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, TryReserveError, VecDeque};

/// Whether and how a scan goes on past its first beam (the values of pgvector's
/// `hnsw.iterative_scan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// One beam: at most `ef` nodes, nearest first.
    Off,
    /// Later beams too; a node a later beam finds nearer than the last one returned is
    /// returned all the same (slightly out of order).
    RelaxedOrder,
    /// Later beams too, in non-decreasing distance: a node a later beam finds nearer than
    /// the last one returned is skipped.
    StrictOrder,
}

pub struct Scan {
    query: Vec<f32>,
    ef: usize,
    resume: Resume,
    /// No later beam starts once the scan holds this many bytes.
    memory_limit: usize,
    /// Distance of the last node returned (for `Resume::StrictOrder`).
    last: f32,
    entry: Option<EntryPoint>,
    started: bool,
    /// Evaluated, not yet expanded.
    candidates: BinaryHeap<Reverse<Neighbour>>,
    /// Evaluated, fell out of a beam, not returned.
    discarded: BinaryHeap<Reverse<Neighbour>>,
    /// The current beam's results, nearest first, not yet returned.
    batch: VecDeque<Neighbour>,
    visited: Visited,
}

impl Scan {
    pub fn new(query: Vec<f32>, ef: usize, entry: Option<EntryPoint>, visited: Visited) -> Self {
        Scan {
            query,
            ef: ef.max(1),
            resume: Resume::RelaxedOrder,
            memory_limit: usize::MAX,
            last: f32::NEG_INFINITY,
            entry,
            started: false,
            candidates: BinaryHeap::new(),
            discarded: BinaryHeap::new(),
            batch: VecDeque::new(),
            visited,
        }
    }

    /// Sets whether and how the scan resumes (`Resume::RelaxedOrder` unless set), and the
    /// bytes past which it starts no further beam (none unless set).
    pub fn with_resume(mut self, resume: Resume, memory_limit: usize) -> Self {
        self.resume = resume;
        self.memory_limit = memory_limit;
        self
    }

    pub fn query(&self) -> &[f32] {
        &self.query
    }

    /// Bytes the scan's sets and queues hold.
    pub fn memory_bytes(&self) -> usize {
        let queued = self.candidates.capacity() + self.discarded.capacity() + self.batch.capacity();
        self.visited.memory_bytes() + queued * std::mem::size_of::<Neighbour>()
    }

    /// The next nearest node, or `None` when the reachable graph is exhausted, or the
    /// scan may not start another beam (`Resume::Off`, or past its memory limit). The sets
    /// a long scan grows (visited nodes, queues) are reserved fallibly: running out of
    /// memory is an error, never an abort.
    pub fn next<G: GraphRead>(&mut self, g: &G) -> Result<Option<Neighbour>, TryReserveError> {
        loop {
            if self.batch.is_empty() {
                let may_resume =
                    self.resume != Resume::Off && self.memory_bytes() <= self.memory_limit;
                if self.started && !may_resume {
                    return Ok(None);
                }
                self.fill(g)?;
            }
            let Some(found) = self.batch.pop_front() else {
                return Ok(None);
            };
            if self.resume == Resume::StrictOrder && found.distance < self.last {
                continue;
            }
            self.last = found.distance;
            return Ok(Some(found));
        }
    }

    fn fill<G: GraphRead>(&mut self, g: &G) -> Result<(), TryReserveError> {
        let mut results: BinaryHeap<Neighbour> = BinaryHeap::new();
        if !self.started {
            self.started = true;
            let Some(entry) = self.entry else {
                return Ok(());
            };
            g.prepare(&self.query)?;
            let start = descend(g, &self.query, entry, 0);
            self.visited.insert(start.id);
            self.candidates.push(Reverse(start));
            results.push(start);
        } else {
            self.candidates.try_reserve(self.ef)?;
            while results.len() < self.ef {
                match self.discarded.pop() {
                    Some(Reverse(n)) => {
                        // Dropped nodes may never have been expanded; expanding one twice
                        // only revisits marked neighbours.
                        self.candidates.push(Reverse(n));
                        results.push(n);
                    }
                    None => break,
                }
            }
        }
        let (mut links, mut distances) = (Vec::new(), Vec::new());
        while let Some(Reverse(current)) = self.candidates.pop() {
            let worst = results.peek().map_or(f32::INFINITY, |w| w.distance);
            if current.distance > worst && results.len() >= self.ef {
                self.candidates.push(Reverse(current)); // for the next batch
                break;
            }
            g.neighbours_into(current.id, 0, &mut links);
            self.visited.try_reserve(links.len())?;
            self.candidates.try_reserve(links.len())?;
            self.discarded.try_reserve(links.len())?;
            links.retain(|&n| self.visited.insert(n));
            g.distances_to(&self.query, &links, &mut distances);
            for (&n, &distance) in links.iter().zip(&distances) {
                let found = Neighbour { distance, id: n };
                let worst = results.peek().map_or(f32::INFINITY, |w| w.distance);
                if results.len() < self.ef || found.distance < worst {
                    self.candidates.push(Reverse(found));
                    results.push(found);
                    if results.len() > self.ef {
                        let dropped = results.pop().expect("over ef, so not empty");
                        self.discarded.push(Reverse(dropped));
                    }
                } else {
                    self.discarded.push(Reverse(found));
                }
            }
        }
        let mut batch = results.into_sorted_vec();
        if g.estimates() {
            // The beam ranked by estimates, and the nearest nodes it evaluated and dropped
            // that the codes ask for: return them in exact order (the dropped ones are
            // queued to be expanded by a later batch, as they would have been).
            let extra = g.reranked_beyond_beam(self.ef).min(self.discarded.len());
            batch.try_reserve(extra)?;
            self.candidates.try_reserve(extra)?;
            for _ in 0..extra {
                let Some(Reverse(n)) = self.discarded.pop() else {
                    break;
                };
                batch.push(n);
                self.candidates.push(Reverse(n));
            }
            links.clear();
            links.extend(batch.iter().map(|n| n.id));
            g.exact_distances_to(&self.query, &links, &mut distances);
            for (n, &distance) in batch.iter_mut().zip(&distances) {
                n.distance = distance;
            }
            batch.sort_unstable();
        }
        self.batch = batch.into();
        Ok(())
    }
}
