//! The meta page (block 0): what the index is, where to start searching, and the index's
//! own checkpoint metadata (a generation bumped by every structural change, with the LSN
//! and time of the last one).

use super::{get_u16, get_u32, get_u64, put_u16, put_u32, put_u64, HEADER_SIZE};
use crate::codes::Quantization;
use crate::distance::Metric;
use crate::element::Element;
use crate::graph::{EntryPoint, NO_NODE};
use std::fmt;

pub const MAGIC: u32 = 0x5753_4e48; // "HNSW" read as little-endian bytes
/// Version 9 is a multicolumn index: key pages in every group (`keys`), the key's bytes on
/// the meta page, and whether codes are pending in a flag of its own (its quantization
/// and compact flag read as in version 7, whatever they are). Only an index with keys is
/// written as 9, so a build older than keys refuses it and reads every other index.
/// Version 8 is a product-quantization index whose codebook is not trained yet (built on
/// too few rows; `index::train_pending` trains it and writes the index as 7): its codebook
/// and code pages are reserved, and nothing reads them. Version 7 adds product
/// quantization: codebook pages after the meta page, and the subvectors on the meta page.
/// Version 6 adds code pages (SQ8 codes; an index without codes is written as 5).
/// Version 5 packs vectors end to end over a group's vector pages (`Layout`); version 4
/// added record pages (sparse vectors); version 3 records the element type; version 2
/// (float32 only) reads as float32. Versions 2 to 4 keep whole vectors on a page: they
/// read with that layout and keep their version when written (2 and 3 become 4, which is
/// what they are, without record pages).
pub const VERSION: u32 = 9;
/// The version of a multicolumn index (keys), whatever its codes.
pub const KEYS_VERSION: u32 = 9;
/// The version of an index with product quantization, trained.
pub const PQ_VERSION: u32 = 7;
/// The version of an index with product quantization, its codebook not trained yet.
pub const PENDING_VERSION: u32 = 8;
/// The version of an index with SQ8 codes.
pub const SQ8_VERSION: u32 = 6;
/// The version of a packed index without codes.
pub const PACKED_VERSION: u32 = 5;
/// The last version that does not pack vectors.
pub const UNPACKED_VERSION: u32 = 4;
/// The oldest format version this build reads.
pub const OLDEST_VERSION: u32 = 2;
pub const META_SIZE: usize = 96;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub dim: u32,
    pub m: u16,
    pub ef_construction: u16,
    pub metric: Metric,
    /// How vectors are stored in the vector pages (the indexed column's element type).
    pub element: Element,
    pub entry: Option<EntryPoint>,
    /// Groups of pages allocated after block 0.
    pub groups: u32,
    /// The first node id of the node page inserts take ids from (the page's own `used`
    /// counter says how many it has given out). Moves on only when that page is full.
    pub insert_page_first_node: u32,
    /// The same for upper-layer slots.
    pub insert_page_first_slot: u32,
    /// 1 after the build; bumped by every later change of the meta page (entry point,
    /// insert pages, free hint, each VACUUM repair pass).
    pub generation: u64,
    pub last_change_lsn: u64,
    /// Postgres TimestampTz (microseconds since 2000-01-01) of the last structural change.
    pub last_change_time: i64,
    /// Nodes the build wrote.
    pub built_nodes: u32,
    /// The first node page that may hold free (reusable) node slots; 0 when none is known.
    pub free_hint: u32,
    /// Record pages per group (sparse vectors; see `records`), 0 for other indexes.
    pub record_pages: u16,
    /// The record stream position the next record goes at (or after).
    pub record_end: u64,
    /// Vectors packed end to end (version 5 on; a build always packs).
    pub packed_vectors: bool,
    /// The codes scans search on (version 6; `Quantization::None` before).
    pub quantization: Quantization,
    /// Product quantization's subvectors (version 7; 0 in other indexes).
    pub pq_subvectors: u16,
    /// Codes only, no vectors (version 7, product quantization): scans return lower
    /// bounds and the executor re-ranks the rows from the table.
    pub compact: bool,
    /// Product quantization whose codebook is not trained yet (version 8; never with
    /// `compact`): the codebook and code pages hold nothing, and the index is searched on
    /// its vectors.
    pub codes_pending: bool,
    /// Bytes of each node's key, the values of the columns after the vector (version 9;
    /// 0 in an index of the vector alone).
    pub key_bytes: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatError {
    NotAnIndex { magic: u32 },
    UnsupportedVersion { version: u32 },
    Corrupt(&'static str),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::NotAnIndex { magic } => {
                write!(f, "not an hnsw_pg index (meta page magic {magic:#010x})")
            }
            FormatError::UnsupportedVersion { version } => write!(
                f,
                "hnsw_pg index format version {version} is not supported by this build (it reads versions {OLDEST_VERSION} to {VERSION}); REINDEX it"
            ),
            FormatError::Corrupt(what) => write!(f, "corrupt hnsw_pg index: {what}"),
        }
    }
}

fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::L2 => 1,
        Metric::InnerProduct => 2,
        Metric::Cosine => 3,
        Metric::L1 => 4,
        Metric::Hamming => 5,
        Metric::Jaccard => 6,
        // What an index of sparse vectors computes; an operator class names the plain one.
        Metric::SparseL2 => 7,
        Metric::SparseInnerProduct => 8,
        Metric::SparseL1 => 9,
    }
}

fn metric_from(code: u8) -> Option<Metric> {
    [
        Metric::L2,
        Metric::InnerProduct,
        Metric::Cosine,
        Metric::L1,
        Metric::Hamming,
        Metric::Jaccard,
    ]
    .into_iter()
    .find(|&m| metric_code(m) == code)
}

// Offsets within the meta content (after the page header).
const O_MAGIC: usize = 0;
const O_VERSION: usize = 4;
const O_DIM: usize = 8;
const O_M: usize = 12;
const O_EF: usize = 14;
const O_METRIC: usize = 16;
/// Zero in a version-2 page, which is float32's code.
const O_ELEMENT: usize = 17;
const O_ENTRY_NODE: usize = 20;
const O_ENTRY_LEVEL: usize = 24;
const O_GROUPS: usize = 28;
const O_NODES: usize = 32;
const O_UPPER_SLOTS: usize = 36;
const O_GENERATION: usize = 40;
const O_LSN: usize = 48;
const O_TIME: usize = 56;
const O_BUILT: usize = 64;
const O_FREE_HINT: usize = 68;
/// Version 4 on; beyond a version-3 page's content, so read only from version 4.
const O_RECORD_PAGES: usize = 72;
const O_RECORD_END: usize = 80;
/// Version 6 on (zero, no codes, in a version-5 page).
const O_QUANTIZATION: usize = 88;
/// Version 7 on.
const O_PQ_SUBVECTORS: usize = 90;
/// Version 7 on.
const O_COMPACT: usize = 92;
/// Version 9 on.
const O_PENDING: usize = 93;
/// Version 9 on.
const O_KEY_BYTES: usize = 94;
const _: () = assert!(O_KEY_BYTES + 2 <= META_SIZE);

impl Meta {
    /// The meta page of an index with these parameters and no nodes yet (generation 1),
    /// as a build starts from.
    pub fn new(dim: u32, m: u16, ef_construction: u16, metric: Metric, element: Element) -> Meta {
        Meta {
            dim,
            m,
            ef_construction,
            metric,
            element,
            entry: None,
            groups: 0,
            insert_page_first_node: 0,
            insert_page_first_slot: 0,
            generation: 1,
            last_change_lsn: 0,
            last_change_time: 0,
            built_nodes: 0,
            free_hint: 0,
            record_pages: if element.is_variable() {
                super::records::MIN_RECORD_PAGES as u16
            } else {
                0
            },
            record_end: 0,
            packed_vectors: true,
            quantization: Quantization::None,
            pq_subvectors: 0,
            compact: false,
            codes_pending: false,
            key_bytes: 0,
        }
    }

    /// The format version this meta page is written as.
    pub fn version(&self) -> u32 {
        if self.key_bytes > 0 {
            KEYS_VERSION
        } else if self.quantization == Quantization::Pq && self.codes_pending {
            PENDING_VERSION
        } else if self.quantization == Quantization::Pq {
            PQ_VERSION
        } else if self.quantization == Quantization::Sq8 {
            SQ8_VERSION
        } else if self.packed_vectors {
            PACKED_VERSION
        } else {
            UNPACKED_VERSION
        }
    }

    /// The metric the index computes on its stored vectors (`Element::indexed_metric`).
    pub fn indexed_metric(&self) -> Metric {
        self.element.indexed_metric(self.metric)
    }

    /// Writes the meta content into a page initialised as `PageKind::Meta`.
    pub fn write(&self, page: &mut [u8]) {
        let c = &mut page[HEADER_SIZE..HEADER_SIZE + META_SIZE];
        put_u32(c, O_MAGIC, MAGIC);
        put_u32(c, O_VERSION, self.version());
        put_u32(c, O_DIM, self.dim);
        put_u16(c, O_M, self.m);
        put_u16(c, O_EF, self.ef_construction);
        c[O_METRIC] = metric_code(self.metric);
        c[O_ELEMENT] = self.element.code();
        let (node, level) = self
            .entry
            .map_or((NO_NODE, 0), |e| (e.node, e.level as u32));
        put_u32(c, O_ENTRY_NODE, node);
        put_u32(c, O_ENTRY_LEVEL, level);
        put_u32(c, O_GROUPS, self.groups);
        put_u32(c, O_NODES, self.insert_page_first_node);
        put_u32(c, O_UPPER_SLOTS, self.insert_page_first_slot);
        put_u64(c, O_GENERATION, self.generation);
        put_u64(c, O_LSN, self.last_change_lsn);
        put_u64(c, O_TIME, self.last_change_time as u64);
        put_u32(c, O_BUILT, self.built_nodes);
        put_u32(c, O_FREE_HINT, self.free_hint);
        put_u16(c, O_RECORD_PAGES, self.record_pages);
        put_u64(c, O_RECORD_END, self.record_end);
        c[O_QUANTIZATION] = self.quantization.code();
        put_u16(c, O_PQ_SUBVECTORS, self.pq_subvectors);
        c[O_COMPACT] = self.compact as u8;
        if self.key_bytes > 0 {
            c[O_PENDING] = self.codes_pending as u8;
            put_u16(c, O_KEY_BYTES, self.key_bytes);
        }
        // A page written by an older version ends its content sooner: move pd_lower past
        // the fields above, or generic WAL would leave them out as part of the hole.
        let lower = (HEADER_SIZE + META_SIZE) as u16;
        if get_u16(page, super::PD_LOWER) < lower {
            put_u16(page, super::PD_LOWER, lower);
        }
    }

    /// Reads and checks the meta content of block 0.
    pub fn read(page: &[u8]) -> Result<Meta, FormatError> {
        let c = &page[HEADER_SIZE..HEADER_SIZE + META_SIZE];
        let magic = get_u32(c, O_MAGIC);
        if magic != MAGIC {
            return Err(FormatError::NotAnIndex { magic });
        }
        let version = get_u32(c, O_VERSION);
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(FormatError::UnsupportedVersion { version });
        }
        let metric = metric_from(c[O_METRIC]).ok_or(FormatError::Corrupt("unknown distance"))?;
        let element =
            Element::from_code(c[O_ELEMENT]).ok_or(FormatError::Corrupt("unknown element type"))?;
        let dim = get_u32(c, O_DIM);
        let m = get_u16(c, O_M);
        let too_many = dim as usize > element.max_dim();
        if dim == 0 || too_many || m < 2 || m as usize > super::MAX_M {
            return Err(FormatError::Corrupt("dimensions or m out of range"));
        }
        let (record_pages, record_end) = if version >= 4 {
            (get_u16(c, O_RECORD_PAGES), get_u64(c, O_RECORD_END))
        } else {
            (0, 0)
        };
        let records = super::records::MIN_RECORD_PAGES..=super::records::MAX_RECORD_PAGES;
        if element.is_variable() && !records.contains(&(record_pages as usize)) {
            return Err(FormatError::Corrupt("record pages out of range"));
        }
        let quantization = if version >= 6 {
            Quantization::from_code(c[O_QUANTIZATION])
                .ok_or(FormatError::Corrupt("unknown quantization"))?
        } else {
            Quantization::None
        };
        if quantization != Quantization::None && !Quantization::applies_to(element, metric) {
            return Err(FormatError::Corrupt(
                "codes in an index of bits or sparse vectors",
            ));
        }
        let expected = match version {
            SQ8_VERSION => Some(Quantization::Sq8),
            PQ_VERSION | PENDING_VERSION => Some(Quantization::Pq),
            KEYS_VERSION => None,
            _ => Some(Quantization::None),
        };
        if expected.is_some_and(|expected| quantization != expected) {
            return Err(FormatError::Corrupt(
                "codes of another kind than the format version's",
            ));
        }
        let pq_subvectors = if version >= PQ_VERSION {
            get_u16(c, O_PQ_SUBVECTORS)
        } else {
            0
        };
        if quantization == Quantization::Pq && !(1..=dim).contains(&(pq_subvectors as u32)) {
            return Err(FormatError::Corrupt(
                "product quantization subvectors out of range",
            ));
        }
        let compact = version >= PQ_VERSION && c[O_COMPACT] != 0;
        if version >= PQ_VERSION && c[O_COMPACT] > 1 {
            return Err(FormatError::Corrupt("compact flag neither 0 nor 1"));
        }
        let (codes_pending, key_bytes) = if version == KEYS_VERSION {
            if c[O_PENDING] > 1 || (c[O_PENDING] == 1 && quantization != Quantization::Pq) {
                return Err(FormatError::Corrupt(
                    "pending flag of an index without a codebook",
                ));
            }
            let key_bytes = get_u16(c, O_KEY_BYTES);
            if !(1..=super::keys::MAX_KEY_BYTES).contains(&(key_bytes as usize)) {
                return Err(FormatError::Corrupt("key bytes out of range"));
            }
            (c[O_PENDING] == 1, key_bytes)
        } else {
            (version == PENDING_VERSION, 0)
        };
        if codes_pending && compact {
            return Err(FormatError::Corrupt("a compact index without a codebook"));
        }
        let node = get_u32(c, O_ENTRY_NODE);
        let level = get_u32(c, O_ENTRY_LEVEL) as usize;
        if level > crate::graph::MAX_LEVEL {
            return Err(FormatError::Corrupt("entry level out of range"));
        }
        Ok(Meta {
            dim,
            m,
            ef_construction: get_u16(c, O_EF),
            metric,
            element,
            entry: (node != NO_NODE).then_some(EntryPoint { node, level }),
            groups: get_u32(c, O_GROUPS),
            insert_page_first_node: get_u32(c, O_NODES),
            insert_page_first_slot: get_u32(c, O_UPPER_SLOTS),
            generation: get_u64(c, O_GENERATION),
            last_change_lsn: get_u64(c, O_LSN),
            last_change_time: get_u64(c, O_TIME) as i64,
            built_nodes: get_u32(c, O_BUILT),
            free_hint: get_u32(c, O_FREE_HINT),
            record_pages,
            record_end,
            packed_vectors: version > UNPACKED_VERSION,
            quantization,
            pq_subvectors,
            compact,
            codes_pending,
            key_bytes,
        })
    }
}
