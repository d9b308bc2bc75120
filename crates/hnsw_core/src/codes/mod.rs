//! Compact codes a scan searches on (the `quantization` reloption): each vector is also
//! kept as a code a fraction of its bytes, so a search reads far less memory per distance;
//! the scan then re-ranks what it returns on the exact vectors (`graph::Scan`), so rows
//! still come in exact order. Two kinds: 8-bit scalar codes over each vector's own range
//! (`sq8`, a quarter of float32's bytes, nothing trained), and product quantization
//! (`pq`, half a byte per subvector of a few elements, with codebooks a build trains).

mod pq;
mod sq8;

pub use pq::{
    default_subvectors, header as pq_header, sample_positions, Codebook, QueryTable, CENTROIDS,
    MIN_TRAINING_VECTORS, PQ_HEADER, SAMPLE,
};
pub use sq8::{decode_sq8, encode_sq8, sq8_distance, SQ8_HEADER};

use crate::distance::Metric;
use crate::element::Element;

/// How an index keeps the codes its scans search on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantization {
    /// No codes: scans compute distances on the stored vectors.
    None,
    /// 8-bit scalar codes, one range per vector.
    Sq8,
    /// Product quantization: 4-bit codes of trained centroids, one per subvector.
    Pq,
}

impl Quantization {
    /// The reloption's value names, in the order of their codes.
    pub const ALL: [Quantization; 3] = [Quantization::None, Quantization::Sq8, Quantization::Pq];

    pub fn name(self) -> &'static str {
        match self {
            Quantization::None => "none",
            Quantization::Sq8 => "sq8",
            Quantization::Pq => "pq",
        }
    }

    /// Its code on the meta page.
    pub fn code(self) -> u8 {
        match self {
            Quantization::None => 0,
            Quantization::Sq8 => 1,
            Quantization::Pq => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<Quantization> {
        Quantization::ALL.into_iter().find(|q| q.code() == code)
    }

    /// Bytes of one vector's code for `dim` elements in `subvectors` (which only product
    /// quantization has; 0 bytes without codes).
    pub fn code_bytes(self, dim: usize, subvectors: usize) -> usize {
        match self {
            Quantization::None => 0,
            Quantization::Sq8 => SQ8_HEADER + dim,
            Quantization::Pq => pq::code_bytes(subvectors),
        }
    }

    /// Whether an index of `element` ordered by `metric` (its operator class's) can keep
    /// codes: floats only, not bits or sparse vectors.
    pub fn applies_to(element: Element, metric: Metric) -> bool {
        matches!(element, Element::F32 | Element::F16)
            && matches!(
                element.indexed_metric(metric),
                Metric::L2 | Metric::InnerProduct | Metric::Cosine | Metric::L1
            )
    }
}
