//! Product quantization (`quantization = 'pq'`): a vector's elements are cut into
//! `subvectors` consecutive runs of nearly equal length, and each run is kept as the
//! number (4 bits, two to a byte, the low nibble first) of the nearest of CENTROIDS
//! centroids trained for that run. A code starts with two little-endian float32: the
//! distance from the vector to the one its code stands for (its residual), and the
//! vector's own length; then the numbers. A 784-d float32 vector in 196 subvectors takes
//! 8 + 98 bytes, a 30th of its own.
//!
//! A build trains the codebook by k-means on a sample of its vectors (each subvector on its
//! own, on the build's threads; the sample and the starting centroids are drawn from a
//! seed, so a build is reproducible), and stores it in the index's pages; inserts encode
//! with it. A scan computes, once per query, each subvector's distance to each of its
//! centroids, summed for every value of a code byte (`table`); a node's estimate is then
//! one table lookup per code byte (`Kernels::pq_table_sum`).

use crate::distance::{Kernels, Metric};
use crate::graph::splitmix64;
use crate::graph::storage::try_filled;
use crate::workers::run_workers;
use parking_lot::Mutex;
use std::collections::TryReserveError;
use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Centroids per subvector: a code number fits half a byte.
pub const CENTROIDS: usize = 16;
/// Lloyd iterations of a subvector's training (fewer if no assignment changes).
const ITERATIONS: usize = 12;
/// The fewest vectors a build trains on (a table with fewer gets no codes).
pub const MIN_TRAINING_VECTORS: usize = 16 * CENTROIDS;
/// The most vectors a build trains on: 256 for each centroid.
pub const SAMPLE: usize = 4096;
/// The least part of a distance's terms a lower bound leaves for rounding (`slack`).
const BOUND_SLACK: f32 = 1e-4;
/// Seeds a build's training.
const TRAINING_SEED: u64 = 0x7071_5eed;

/// Bytes before a code's numbers: the residual's length and the vector's.
pub const PQ_HEADER: usize = 8;

/// Bytes of a code of `subvectors` subvectors.
pub fn code_bytes(subvectors: usize) -> usize {
    PQ_HEADER + subvectors.div_ceil(2)
}

/// A query's lookup table (`Codebook::table`).
#[derive(Clone, Debug)]
pub struct QueryTable {
    /// For each code byte, 256 sums (see `table`).
    sums: Vec<f32>,
    metric: Metric,
    /// The query's length.
    query_norm: f32,
}

impl Default for QueryTable {
    fn default() -> Self {
        QueryTable {
            sums: Vec::new(),
            metric: Metric::L2,
            query_norm: 0.0,
        }
    }
}

/// The floats of a code's header: (residual length, vector length).
pub fn header(code: &[u8]) -> (f32, f32) {
    let float = |at: usize| f32::from_le_bytes(code[at..at + 4].try_into().expect("4 bytes"));
    (float(0), float(4))
}

/// Up to SAMPLE of the positions 0..n, spread evenly: the vectors a codebook trains on.
pub fn sample_positions(n: usize) -> impl Iterator<Item = usize> {
    let take = n.min(SAMPLE);
    (0..take).map(move |i| i * n / take)
}

/// Subvectors an index of `dim` dimensions gets when the build does not say: about four
/// elements each, but at least 32 (one element each below 32 dimensions), since a
/// code of fewer numbers tells too few vectors apart. A compact index gets one element
/// each: the executor fetches from the table every row whose lower bound is below the
/// k-th distance, and the bound is as loose as the residual is long. On 10k rows, the
/// median rows fetched for ten were 79 with one element a subvector (wordnet, cosine;
/// Fashion-MNIST, L2: 36), 2,115 with two (139) and all 10,000 with four (438).
pub fn default_subvectors(dim: usize, compact: bool) -> usize {
    if compact {
        dim
    } else {
        dim.div_ceil(4).max(dim.min(32))
    }
}

/// The trained centroids of every subvector.
#[derive(Clone, Debug, PartialEq)]
pub struct Codebook {
    dim: usize,
    subvectors: usize,
    /// For each subvector j (elements `range(j)`), its CENTROIDS centroids one after
    /// another, from position CENTROIDS * range(j).start: CENTROIDS * dim floats in all.
    centroids: Vec<f32>,
}

impl Codebook {
    /// Bytes of the stored form of a codebook of `dim` dimensions (`to_bytes`).
    pub fn stored_bytes(dim: usize) -> usize {
        4 * CENTROIDS * dim
    }

    pub fn subvectors(&self) -> usize {
        self.subvectors
    }

    /// The elements subvector `j` covers.
    fn range(&self, j: usize) -> Range<usize> {
        subvector_range(self.dim, self.subvectors, j)
    }

    /// Subvector `j`'s centroid `c`.
    fn centroid(&self, j: usize, c: usize) -> &[f32] {
        let r = self.range(j);
        let at = CENTROIDS * r.start + c * r.len();
        &self.centroids[at..at + r.len()]
    }

    /// Trains a codebook on `sample` (vectors of `dim` elements) with `threads` threads;
    /// the result depends on `seed` and the sample alone. `subvectors` must be 1 to `dim`.
    pub fn train(
        dim: usize,
        subvectors: usize,
        sample: &[&[f32]],
        seed: u64,
        threads: usize,
    ) -> io::Result<Codebook> {
        Codebook::train_supervised(dim, subvectors, sample, seed, threads, None)
    }

    /// `train`, its threads run by `run_workers` under `supervise` (see there): a panic
    /// of `supervise` (a cancel) stops the training between subvectors and goes on.
    /// No memory for the codebook or a worker thread is an error; each subvector's working
    /// memory (a few MB at most: its centroids, sums and the sample's assignments) is
    /// allocated as usual.
    pub fn train_supervised(
        dim: usize,
        subvectors: usize,
        sample: &[&[f32]],
        seed: u64,
        threads: usize,
        supervise: Option<&mut dyn FnMut()>,
    ) -> io::Result<Codebook> {
        assert!((1..=dim).contains(&subvectors), "1 to dim subvectors");
        assert!(sample.iter().all(|v| v.len() == dim));
        let centroids = Mutex::new(try_filled(CENTROIDS * dim, 0.0f32, "a codebook")?);
        let (next, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
        let work = |_worker: usize| {
            while !stop.load(Ordering::Relaxed) {
                let j = next.fetch_add(1, Ordering::Relaxed);
                if j >= subvectors {
                    break;
                }
                let r = subvector_range(dim, subvectors, j);
                let start = CENTROIDS * r.start;
                let values = train_subvector(sample, r, seed ^ splitmix64(j as u64));
                centroids.lock()[start..start + values.len()].copy_from_slice(&values);
            }
        };
        run_workers(threads.clamp(1, subvectors), &stop, supervise, &work)?;
        Ok(Codebook {
            dim,
            subvectors,
            centroids: centroids.into_inner(),
        })
    }

    /// Trains a codebook on up to SAMPLE of `graph`'s vectors, spread evenly over its ids
    /// (see `train_sample`).
    pub fn train_on(
        graph: &crate::graph::Graph,
        subvectors: usize,
        threads: usize,
        supervise: Option<&mut dyn FnMut()>,
    ) -> io::Result<Codebook> {
        let sample: Vec<&[f32]> = sample_positions(graph.len())
            .map(|i| graph.vector(i as u32))
            .collect();
        Codebook::train_sample(graph.dim(), subvectors, &sample, threads, supervise)
    }

    /// `train_supervised` with the fixed training seed, so the same sample trains the
    /// same codebook (a build's, and a deferred training's: `index::train_pending`).
    pub fn train_sample(
        dim: usize,
        subvectors: usize,
        sample: &[&[f32]],
        threads: usize,
        supervise: Option<&mut dyn FnMut()>,
    ) -> io::Result<Codebook> {
        Codebook::train_supervised(dim, subvectors, sample, TRAINING_SEED, threads, supervise)
    }

    /// Writes the code of `v` into `out` (`code_bytes(subvectors)` bytes).
    pub fn encode(&self, v: &[f32], out: &mut [u8]) {
        assert_eq!(v.len(), self.dim);
        assert_eq!(out.len(), code_bytes(self.subvectors));
        out.fill(0);
        let (mut residual, mut norm) = (0.0f64, 0.0f64);
        let numbers = &mut out[PQ_HEADER..];
        for j in 0..self.subvectors {
            let r = self.range(j);
            let all = &self.centroids[CENTROIDS * r.start..CENTROIDS * r.end];
            let c = nearest(all, &v[r.clone()]);
            numbers[j / 2] |= (c as u8) << (4 * (j & 1));
            for (&x, &y) in v[r].iter().zip(self.centroid(j, c)) {
                residual += (x as f64 - y as f64).powi(2);
                norm += (x as f64).powi(2);
            }
        }
        out[0..4].copy_from_slice(&(residual.sqrt() as f32).to_le_bytes());
        out[4..8].copy_from_slice(&(norm.sqrt() as f32).to_le_bytes());
    }

    /// The vector a code stands for, appended to `out`.
    pub fn decode(&self, code: &[u8], out: &mut Vec<f32>) {
        let numbers = &code[PQ_HEADER..];
        for j in 0..self.subvectors {
            let c = (numbers[j / 2] >> (4 * (j & 1))) & 15;
            out.extend_from_slice(self.centroid(j, c as usize));
        }
    }

    /// The lookup table of `query` under `metric` (the index's own), for `estimate`: for
    /// each code byte, the sum of its two subvectors' distances from the query's elements
    /// to their centroids, for each of the byte's 256 values (for inner product and
    /// cosine, minus the dot product; `estimate` divides that by the lengths for cosine).
    /// The table's floats are reserved fallibly (256 per code byte: 8 MB for 16,000
    /// subvectors); a table keeps its memory for the next query.
    pub fn table(
        &self,
        metric: Metric,
        query: &[f32],
        table: &mut QueryTable,
    ) -> Result<(), TryReserveError> {
        table.metric = metric;
        table.query_norm = query
            .iter()
            .map(|&x| x as f64 * x as f64)
            .sum::<f64>()
            .sqrt() as f32;
        let out = &mut table.sums;
        let mut single = [0.0f32; CENTROIDS];
        let distances = |j: usize, to: &mut [f32; CENTROIDS]| {
            let q = &query[self.range(j)];
            for (c, slot) in to.iter_mut().enumerate() {
                let pairs = q.iter().zip(self.centroid(j, c));
                *slot = match metric {
                    Metric::L2 => pairs.map(|(a, b)| (a - b) * (a - b)).sum(),
                    Metric::L1 => pairs.map(|(a, b)| (a - b).abs()).sum(),
                    Metric::InnerProduct | Metric::Cosine => {
                        -pairs.map(|(a, b)| a * b).sum::<f32>()
                    }
                    // `Quantization::applies_to` keeps codes out of indexes of other metrics.
                    other => unreachable!("no codes for {other:?}"),
                };
            }
        };
        out.clear();
        let bytes = self.subvectors.div_ceil(2);
        out.try_reserve_exact(256 * bytes)?;
        let mut high = [0.0f32; CENTROIDS];
        for byte in 0..bytes {
            distances(2 * byte, &mut single);
            if 2 * byte + 1 < self.subvectors {
                distances(2 * byte + 1, &mut high);
            } else {
                high = [0.0; CENTROIDS]; // no subvector in the last high nibble
            }
            for h in high {
                out.extend(single.iter().map(|l| l + h));
            }
        }
        Ok(())
    }

    /// The estimate a query's `table` gives for `code`: the distance to the vector the
    /// code stands for (squared under L2).
    pub fn estimate(&self, kernels: &Kernels, table: &QueryTable, code: &[u8]) -> f32 {
        let sum = (kernels.pq_table_sum)(&table.sums, &code[PQ_HEADER..]);
        if table.metric != Metric::Cosine {
            return sum;
        }
        let lengths = table.query_norm * header(code).1;
        // A zero vector is as far as an orthogonal one for the search.
        if lengths > 0.0 {
            1.0 + sum / lengths
        } else {
            1.0
        }
    }

    /// A value never above the distance (in the index's metric values, as `estimate`'s)
    /// from the table's query to the vector `code` was made from, which may be anywhere
    /// within the residual's length of the vector the code stands for: by the triangle
    /// inequality (L2; L1 through |x|₁ <= √dim |x|₂), and |q·x - q·x̂| <= |q| |x - x̂| for
    /// inner product and cosine. Less a margin of `slack` of the terms' size, for the
    /// rounding of float32 sums here and in the SQL function the executor re-ranks with.
    /// Never NaN: a bound that is not finite (sums that overflowed) is minus infinity.
    pub fn lower_bound(&self, kernels: &Kernels, table: &QueryTable, code: &[u8]) -> f32 {
        let bound = self.bound(kernels, table, code);
        if bound.is_finite() {
            bound
        } else {
            f32::NEG_INFINITY
        }
    }

    /// The part of the terms left for rounding: a sum of n float32 terms, in any order,
    /// errs by at most about n ulps of the largest partial sum, so 2 (dim + 8) ulps, and
    /// never less than BOUND_SLACK.
    fn slack(&self) -> f32 {
        BOUND_SLACK.max(2.0 * (self.dim as f32 + 8.0) * f32::EPSILON)
    }

    fn bound(&self, kernels: &Kernels, table: &QueryTable, code: &[u8]) -> f32 {
        let estimate = self.estimate(kernels, table, code);
        let (residual, length) = header(code);
        let slack = self.slack();
        match table.metric {
            Metric::L2 => {
                let near = estimate.max(0.0).sqrt() * (1.0 - slack) - residual * (1.0 + slack);
                if near > 0.0 {
                    near * near
                } else {
                    0.0
                }
            }
            Metric::L1 => {
                let near = estimate - (self.dim as f32).sqrt() * residual;
                (near - slack * estimate.abs()).max(0.0)
            }
            Metric::InnerProduct => {
                let reach = table.query_norm * residual;
                let size = estimate.abs() + table.query_norm * (length + residual);
                estimate - reach - slack * size
            }
            Metric::Cosine if length > 0.0 => {
                (estimate - residual / length - slack * (1.0 + estimate.abs())).max(0.0)
            }
            // A zero vector's cosine distance is NaN, which no value is above.
            Metric::Cosine => 0.0,
            other => unreachable!("no codes for {other:?}"),
        }
    }

    /// The stored form: the centroids as little-endian float32.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.centroids
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect()
    }

    /// A codebook from its stored form; `None` if the bytes are not one of `dim`
    /// dimensions in `subvectors` (1 to `dim`). The centroids are reserved fallibly.
    pub fn from_bytes(
        dim: usize,
        subvectors: usize,
        bytes: &[u8],
    ) -> Result<Option<Codebook>, TryReserveError> {
        if !(1..=dim).contains(&subvectors) || bytes.len() != Codebook::stored_bytes(dim) {
            return Ok(None);
        }
        let mut centroids = Vec::new();
        centroids.try_reserve_exact(bytes.len() / 4)?;
        centroids.extend(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))),
        );
        Ok(Some(Codebook {
            dim,
            subvectors,
            centroids,
        }))
    }
}

/// Elements of subvector `j` of `subvectors` over `dim`: runs of nearly equal length.
fn subvector_range(dim: usize, subvectors: usize, j: usize) -> Range<usize> {
    j * dim / subvectors..(j + 1) * dim / subvectors
}

/// The number of the centroid (of `all`, CENTROIDS of x's length one after another)
/// nearest to `x`, the first of equally near ones.
fn nearest(all: &[f32], x: &[f32]) -> usize {
    let mut best = (f32::INFINITY, 0);
    for (c, centroid) in all.chunks_exact(x.len()).enumerate() {
        let d: f32 = x.iter().zip(centroid).map(|(a, b)| (a - b) * (a - b)).sum();
        if d < best.0 {
            best = (d, c);
        }
    }
    best.1
}

/// k-means (Lloyd's) of the sample's elements `r` into CENTROIDS centroids, started from
/// distinct sample vectors drawn with `seed` (repeated when the sample has fewer). A
/// centroid no vector is nearest to keeps its place.
fn train_subvector(sample: &[&[f32]], r: Range<usize>, seed: u64) -> Vec<f32> {
    let d = r.len();
    let mut centroids = vec![0.0f32; CENTROIDS * d];
    if sample.is_empty() {
        return centroids;
    }
    let n = sample.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = seed;
    for c in 0..CENTROIDS.min(n) {
        state = splitmix64(state);
        order.swap(c, c + (state % (n - c) as u64) as usize);
    }
    for c in 0..CENTROIDS {
        centroids[c * d..(c + 1) * d].copy_from_slice(&sample[order[c % n]][r.clone()]);
    }
    let mut assigned = vec![usize::MAX; n];
    let mut sums = vec![0.0f64; CENTROIDS * d];
    for _ in 0..ITERATIONS {
        let mut changed = false;
        for (i, v) in sample.iter().enumerate() {
            let c = nearest(&centroids, &v[r.clone()]);
            changed |= c != assigned[i];
            assigned[i] = c;
        }
        if !changed {
            break;
        }
        sums.fill(0.0);
        let mut counts = [0usize; CENTROIDS];
        for (v, &c) in sample.iter().zip(&assigned) {
            counts[c] += 1;
            for (s, &x) in sums[c * d..(c + 1) * d].iter_mut().zip(&v[r.clone()]) {
                *s += x as f64;
            }
        }
        for c in (0..CENTROIDS).filter(|&c| counts[c] > 0) {
            for k in 0..d {
                centroids[c * d + k] = (sums[c * d + k] / counts[c] as f64) as f32;
            }
        }
    }
    centroids
}
