//! The arithmetic of the planner's costs, in Postgres' cost units: what one distance
//! costs (computing it, and reading a vector kept out of line), and what each row an
//! hnsw scan returns past its first beam costs. The extension reads the settings
//! (`cpu_operator_cost` and the others) and passes them in.

use crate::element::Element;

/// Bytes of a datum's out-of-line chunk (TOAST_MAX_CHUNK_SIZE with 8 kB pages).
const TOAST_CHUNK: usize = 1996;
/// A value larger than this is kept out of line (TOAST_TUPLE_THRESHOLD, 8 kB pages), as
/// the vector types' `STORAGE external` allows.
const TOAST_THRESHOLD: usize = 2032;

/// How many `cpu_operator_cost`s one distance between two vectors of `dims` elements
/// costs: one per 64 floats (or halves), one per 2,048 bits, two for a sparse vector's
/// usually few non-zeros; at least one.
pub fn distance_operators(element: Element, dims: usize) -> f64 {
    let dims = dims as f64;
    match element {
        Element::F32 | Element::F16 => (dims / 64.0).max(1.0),
        Element::Bit => (dims / 2048.0).max(1.0),
        Element::Sparse => 2.0,
    }
}

/// The out-of-line chunks a stored vector of `dims` elements is read from: 0 while its
/// datum stays inline. Sparse vectors' size depends on their non-zeros, not on `dims`:
/// taken as inline.
pub fn toast_chunks(element: Element, dims: usize) -> usize {
    let bytes = match element {
        Element::F32 => 8 + 4 * dims,
        Element::F16 => 8 + 2 * dims,
        Element::Bit => 8 + dims.div_ceil(8),
        Element::Sparse => 0,
    };
    if bytes > TOAST_THRESHOLD {
        bytes.div_ceil(TOAST_CHUNK)
    } else {
        0
    }
}

/// The cost settings the estimates use (Postgres' planner settings of the same names).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub cpu_operator_cost: f64,
    pub cpu_index_tuple_cost: f64,
    pub random_page_cost: f64,
}

/// Computing one distance between two vectors of `dims` elements.
pub fn distance_cost(element: Element, dims: usize, s: &Settings) -> f64 {
    s.cpu_operator_cost * distance_operators(element, dims)
}

/// Reading one stored vector of `dims` elements, when it is kept out of line: a chunk is
/// a probe of the TOAST table's index and a read of its page, mostly cached: a tenth of
/// `random_page_cost` each, about what it measures on this project's machines against a
/// sequential page read. Nothing for a vector kept inline.
pub fn read_cost(element: Element, dims: usize, s: &Settings) -> f64 {
    toast_chunks(element, dims) as f64 * s.random_page_cost / 10.0
}

/// What visiting one node costs, in index tuples (see `index_row_cost`).
const NEIGHBOUR_VISIT_TUPLES: f64 = 8.0;

/// A filtered scan's pass over the key pages of a multicolumn index: `slots` keys of
/// `key_bytes`, read in page order (mostly cached pages, a tenth of `random_page_cost`
/// each, as in `read_cost`), one operator a key.
pub fn key_pass_cost(slots: f64, key_bytes: usize, s: &Settings) -> f64 {
    let pages = (slots * key_bytes as f64 / crate::page::CONTENT_SIZE as f64).ceil();
    pages * s.random_page_cost / 10.0 + slots * s.cpu_operator_cost
}

/// A filtered scan's sample of the key pages (`index::sample_matching`) in an index of
/// `slots` keys of `key_bytes`: `key_pass_cost` of the keys on `SAMPLE_PAGES` pages.
pub fn key_sample_cost(slots: f64, key_bytes: usize, s: &Settings) -> f64 {
    let sampled =
        crate::index::SAMPLE_PAGES as f64 * crate::page::CONTENT_SIZE as f64 / key_bytes as f64;
    key_pass_cost(slots.min(sampled), key_bytes, s)
}

/// Ranking one slot that passed a filter exactly: its vector read, as a neighbour's
/// visit, and its distance.
pub fn exact_match_cost(element: Element, dims: usize, s: &Settings) -> f64 {
    NEIGHBOUR_VISIT_TUPLES * s.cpu_index_tuple_cost + distance_cost(element, dims, s)
}

/// The cost of one row an hnsw scan returns past its first beam: about two nodes expanded,
/// each of their 2m layer-0 neighbours a visit and a distance (index pages hold vectors
/// inline, so no out-of-line reads). A neighbour's visit counts as eight index tuples:
/// its page is pinned and locked and its vector read cold, and the visited set and the
/// queue take their share. Measured: 5 to 7 µs a row past the first beam on GloVe 50d,
/// wordnet 384d and Fashion-MNIST 784d alike (100k, 100k and 60k rows), where a
/// sequential scan spends 0.1 to 0.3 µs a row (about 1.4 µs a cost unit on wordnet 100k).
/// At four tuples a visit a 384d row cost about 3 units with its heap fetch, two thirds
/// of what it measures (4.3 at eight), and with a btree on a column 1% of rows pass, the
/// index (7.6 ms) beat the bitmap scan and sort (0.6 ms) on cost. The distance term
/// still grows with the width (a row of 784 floats costs 1.7 times one of 50 at m 16),
/// so wide vectors are charged somewhat more than they measured.
pub fn index_row_cost(m: usize, element: Element, dims: usize, s: &Settings) -> f64 {
    let neighbour = NEIGHBOUR_VISIT_TUPLES * s.cpu_index_tuple_cost
        + s.cpu_operator_cost * distance_operators(element, dims);
    2.0 * (2.0 * m as f64) * neighbour
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: Settings = Settings {
        cpu_operator_cost: 0.0025,
        cpu_index_tuple_cost: 0.005,
        random_page_cost: 4.0,
    };

    #[test]
    fn small_vectors_cost_one_operator_and_stay_inline() {
        assert_eq!(distance_operators(Element::F32, 3), 1.0);
        assert_eq!(toast_chunks(Element::F32, 3), 0);
        assert_eq!(distance_cost(Element::F32, 3, &DEFAULTS), 0.0025);
        assert_eq!(read_cost(Element::F32, 3, &DEFAULTS), 0.0);
    }

    #[test]
    fn wide_vectors_cost_by_their_elements_and_chunks() {
        // 784 floats: 3,144 bytes, out of line in 2 chunks; 1,536 halves: 3,080 bytes, 2.
        assert_eq!(distance_operators(Element::F32, 784), 12.25);
        assert_eq!(toast_chunks(Element::F32, 784), 2);
        assert_eq!(toast_chunks(Element::F16, 1536), 2);
        // 506 floats (2,032 bytes) stay inline; 507 do not.
        assert_eq!(toast_chunks(Element::F32, 506), 0);
        assert_eq!(toast_chunks(Element::F32, 507), 2);
        assert_eq!(distance_cost(Element::F32, 784, &DEFAULTS), 0.0025 * 12.25);
        assert!((read_cost(Element::F32, 784, &DEFAULTS) - 0.8).abs() < 1e-12);
        assert_eq!(read_cost(Element::F32, 384, &DEFAULTS), 0.0);
    }

    #[test]
    fn bits_and_sparse_vectors() {
        assert_eq!(distance_operators(Element::Bit, 64_000), 31.25);
        assert_eq!(toast_chunks(Element::Bit, 64_000), 5);
        assert_eq!(distance_operators(Element::Sparse, 1_000_000), 2.0);
        assert_eq!(toast_chunks(Element::Sparse, 1_000_000), 0);
    }

    #[test]
    fn a_filter_costs_its_key_pages_and_its_matches() {
        // 60,000 keys of 9 bytes: 67 pages, and an operator a key.
        let pass = key_pass_cost(60_000.0, 9, &DEFAULTS);
        assert!((pass - (67.0 * 0.4 + 60_000.0 * 0.0025)).abs() < 1e-9);
        let one = exact_match_cost(Element::F32, 784, &DEFAULTS);
        assert!((one - (0.04 + 0.0025 * 12.25)).abs() < 1e-12);
        // Ranking a match exactly costs less than a row a walk returns.
        assert!(one < index_row_cost(16, Element::F32, 784, &DEFAULTS) / 10.0);
    }

    #[test]
    fn an_index_row_expands_two_m_neighbours() {
        let row = index_row_cost(16, Element::F32, 784, &DEFAULTS);
        assert!((row - 64.0 * (8.0 * 0.005 + 0.0025 * 12.25)).abs() < 1e-12);
        // The visit outweighs the distance below 1,024 floats; the distance grows with the width.
        let narrow = index_row_cost(16, Element::F32, 50, &DEFAULTS);
        assert!(narrow > row / 3.0 && narrow < row);
        assert!(index_row_cost(32, Element::F32, 784, &DEFAULTS) > row);
    }
}
