//! Reloptions `m`, `ef_construction`, `quantization`, `pq_subvectors` and `compact`, and
//! the GUCs `hnsw.ef_search`,
//! `hnsw.iterative_scan`, `hnsw.max_scan_tuples` and `hnsw.scan_mem_multiplier`
//! (pgvector's names and values, so its users' settings carry over).

use hnsw_core::codes::Quantization;
use hnsw_core::graph::Resume;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use pgrx::PostgresGucEnum;
use std::ffi::CStr;
use std::sync::atomic::{AtomicU32, Ordering};

pub const DEFAULT_M: i32 = 16;
pub const DEFAULT_EF_CONSTRUCTION: i32 = 64;

pub static EF_SEARCH: GucSetting<i32> = GucSetting::<i32>::new(40);
pub static MAX_SCAN_TUPLES: GucSetting<i32> = GucSetting::<i32>::new(20_000);
pub static ITERATIVE_SCAN: GucSetting<IterativeScan> =
    GucSetting::<IterativeScan>::new(IterativeScan::RelaxedOrder);
pub static SCAN_MEM_MULTIPLIER: GucSetting<i32> = GucSetting::<i32>::new(1);
/// `hnsw.rerank`: -1 for each kind of codes' own count (see `GraphRead::reranked_beyond_beam`).
pub static RERANK: GucSetting<i32> = GucSetting::<i32>::new(-1);
/// The most candidates beyond its beam a scan re-ranks (`hnsw.rerank`).
const MAX_RERANK: i32 = 100_000;

/// `hnsw.iterative_scan`: whether a scan goes on past its first beam, and in what order
/// (see `hnsw_core::graph::Resume`). hnsw_pg's default is `relaxed_order`, so a filtered
/// query returns its whole LIMIT; pgvector's is `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PostgresGucEnum)]
pub enum IterativeScan {
    #[name = c"off"]
    Off,
    #[name = c"relaxed_order"]
    RelaxedOrder,
    #[name = c"strict_order"]
    StrictOrder,
}

static RELOPT_KIND: AtomicU32 = AtomicU32::new(0);

/// The parsed reloptions, laid out as build_reloptions fills them.
#[repr(C)]
struct RawOptions {
    vl_len: i32,
    m: i32,
    ef_construction: i32,
    /// `Quantization::code` of the value.
    quantization: i32,
    /// 0: the default for the index's dimensions.
    pq_subvectors: i32,
    compact: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub m: usize,
    pub ef_construction: usize,
    pub quantization: Quantization,
    /// Product quantization's subvectors as set (0: `default_subvectors`).
    pub pq_subvectors: usize,
    /// Keep codes only, no vectors (with product quantization).
    pub compact: bool,
}

/// The most subvectors `pq_subvectors` takes: one per element of the widest vector.
const MAX_PQ_SUBVECTORS: i32 = 16_000;

/// The values of `quantization`, as add_enum_reloption takes them (ending in a null name).
#[repr(transparent)]
struct EnumValues([pg_sys::relopt_enum_elt_def; 4]);
// SAFETY: static C strings and integers, never written; Postgres only reads them.
unsafe impl Sync for EnumValues {}

static QUANTIZATION_VALUES: EnumValues = EnumValues([
    pg_sys::relopt_enum_elt_def {
        string_val: c"none".as_ptr(),
        symbol_val: 0,
    },
    pg_sys::relopt_enum_elt_def {
        string_val: c"sq8".as_ptr(),
        symbol_val: 1,
    },
    pg_sys::relopt_enum_elt_def {
        string_val: c"pq".as_ptr(),
        symbol_val: 2,
    },
    pg_sys::relopt_enum_elt_def {
        string_val: std::ptr::null(),
        symbol_val: 0,
    },
]);
const _: () = assert!(Quantization::ALL.len() == 3);

/// Registers the reloptions and GUCs; called from _PG_init.
pub fn register() {
    // SAFETY: called once from _PG_init in the backend; the names are static strings.
    unsafe {
        let kind = pg_sys::add_reloption_kind();
        RELOPT_KIND.store(kind, Ordering::Relaxed);
        pg_sys::add_int_reloption(
            kind,
            c"m".as_ptr(),
            c"Maximum neighbours per node on upper layers (layer 0 keeps 2 * m)".as_ptr(),
            DEFAULT_M,
            2,
            hnsw_core::page::MAX_M as i32,
            pg_sys::AccessExclusiveLock as i32,
        );
        pg_sys::add_int_reloption(
            kind,
            c"ef_construction".as_ptr(),
            c"Size of the dynamic candidate list while building the graph".as_ptr(),
            DEFAULT_EF_CONSTRUCTION,
            4,
            1000,
            pg_sys::AccessExclusiveLock as i32,
        );
        pg_sys::add_enum_reloption(
            kind,
            c"quantization".as_ptr(),
            c"Compact codes scans search on before re-ranking on the vectors: none, sq8 or pq"
                .as_ptr(),
            QUANTIZATION_VALUES.0.as_ptr() as *mut pg_sys::relopt_enum_elt_def,
            Quantization::None.code() as i32,
            c"Valid values are \"none\", \"sq8\" and \"pq\".".as_ptr(),
            pg_sys::AccessExclusiveLock as i32,
        );
        pg_sys::add_int_reloption(
            kind,
            c"pq_subvectors".as_ptr(),
            c"Subvectors of product quantization (quantization = pq); 0 for about four elements each".as_ptr(),
            0,
            0,
            MAX_PQ_SUBVECTORS,
            pg_sys::AccessExclusiveLock as i32,
        );
        pg_sys::add_bool_reloption(
            kind,
            c"compact".as_ptr(),
            c"Keep product quantization's codes only, no vectors: rows are re-ranked from the table".as_ptr(),
            false,
            pg_sys::AccessExclusiveLock as i32,
        );
    }
    GucRegistry::define_int_guc(
        c"hnsw.ef_search",
        c"Beam width of the layer-0 search of an hnsw index scan.",
        c"Larger values find more of the true nearest neighbours, more slowly.",
        &EF_SEARCH,
        1,
        1000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"hnsw.max_scan_tuples",
        c"Most nodes an hnsw index scan takes from its graph when it continues past its first beam.",
        c"Bounds scans whose WHERE clause rejects many rows. A scan of an index of at most 16 times as many nodes then goes on with the rest in exact order.",
        &MAX_SCAN_TUPLES,
        1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"hnsw.rerank",
        c"Candidates beyond its beam that an hnsw scan of an index with codes re-ranks on the exact vectors; -1 for the codes' own default.",
        c"The beam's hnsw.ef_search nodes are always re-ranked; -1 adds as many again for quantization = pq and none for sq8. More finds more of the true nearest rows, at one exact distance each. A compact index re-ranks nothing itself: the executor re-ranks from the table.",
        &RERANK,
        -1,
        MAX_RERANK,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"hnsw.iterative_scan",
        c"Whether an hnsw index scan goes on past its first beam: off, relaxed_order or strict_order.",
        c"off returns the first beam alone (hnsw.ef_search index entries, each with its exact duplicates); relaxed_order goes on, and a later beam may return a row slightly nearer than the one before; strict_order goes on in non-decreasing distance (as the index computes it), skipping such rows.",
        &ITERATIVE_SCAN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"hnsw.scan_mem_multiplier",
        c"Memory an hnsw index scan may hold before it starts no further beam, as a multiple of work_mem.",
        c"A scan that needs more ends early; raise this (or hnsw.ef_search) for filtered queries that come back short.",
        &SCAN_MEM_MULTIPLIER,
        1,
        1000,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: a plain catalog-free call made once at load time.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"hnsw".as_ptr()) };
}

/// The amoptions callback.
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amoptions(
    reloptions: pg_sys::Datum,
    validate: bool,
) -> *mut pg_sys::bytea {
    let table = [
        crate::compat::int_reloption(c"m", std::mem::offset_of!(RawOptions, m)),
        crate::compat::int_reloption(
            c"ef_construction",
            std::mem::offset_of!(RawOptions, ef_construction),
        ),
        crate::compat::enum_reloption(
            c"quantization",
            std::mem::offset_of!(RawOptions, quantization),
        ),
        crate::compat::int_reloption(
            c"pq_subvectors",
            std::mem::offset_of!(RawOptions, pq_subvectors),
        ),
        crate::compat::bool_reloption(c"compact", std::mem::offset_of!(RawOptions, compact)),
    ];
    // SAFETY: the table describes RawOptions exactly; build_reloptions pallocs the result.
    let raw = unsafe {
        pg_sys::build_reloptions(
            reloptions,
            validate,
            RELOPT_KIND.load(Ordering::Relaxed),
            std::mem::size_of::<RawOptions>(),
            table.as_ptr(),
            table.len() as i32,
        ) as *mut RawOptions
    };
    // Checked when the options are set (CREATE INDEX, ALTER INDEX ... SET), so no stored
    // combination can make the index unusable later.
    // SAFETY: null or the RawOptions just built.
    if let Some(o) = unsafe { raw.as_ref() }.filter(|_| validate) {
        check(o.m, o.ef_construction);
        if o.compact && o.quantization != Quantization::Pq.code() as i32 {
            crate::error::raise_with_hint(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "compact = true needs quantization = 'pq'".into(),
                "A compact index keeps product quantization's codes in place of the vectors.",
            );
        }
    }
    raw as *mut pg_sys::bytea
}

fn check(m: i32, ef_construction: i32) {
    if ef_construction < 2 * m {
        crate::error::raise_with_hint(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "ef_construction must be greater than or equal to 2 * m".into(),
            &format!("m is {m} and ef_construction {ef_construction}: raise ef_construction or lower m in the same statement."),
        );
    }
}

/// The index's options (defaults when none were given). `amoptions` checked them when
/// they were set; the build checks again for indexes whose options predate that check.
/// A quantization the indexed type cannot take (bits, sparse vectors) is left out with a
/// NOTICE, not an ERROR: `amoptions` cannot see the column, so `ALTER INDEX ... SET` may
/// store it, and a stored option must never make REINDEX, TRUNCATE or a dump's restore
/// fail.
pub fn options(index: pg_sys::Relation) -> Options {
    let mut o = stored_options(index);
    check(o.m as i32, o.ef_construction as i32);
    let element = element(index);
    if o.quantization != Quantization::None && !Quantization::applies_to(element, metric(index)) {
        pgrx::ereport!(
            NOTICE,
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            format!(
                "quantization = '{}' is ignored: it applies to vector and halfvec columns only, not {}",
                o.quantization.name(),
                element.type_name()
            )
        );
        o.quantization = Quantization::None;
    }
    o
}

/// The options as stored, unchecked (for the planner, which must never fail on them). An
/// ivfflat index has no m or ef_construction: it is built with the defaults.
pub fn stored_options(index: pg_sys::Relation) -> Options {
    // SAFETY: rd_options is null or the RawOptions that amoptions built for this index
    // (ivfflat's amoptions builds another layout, so it is not read as this one).
    let raw = if super::ivfflat::is_ivfflat(index) {
        None
    } else {
        unsafe { ((*index).rd_options as *const RawOptions).as_ref() }
    };
    let (m, ef, quantization, subvectors, compact) =
        raw.map_or((DEFAULT_M, DEFAULT_EF_CONSTRUCTION, 0, 0, false), |o| {
            (
                o.m,
                o.ef_construction,
                o.quantization,
                o.pq_subvectors,
                o.compact,
            )
        });
    Options {
        m: m as usize,
        ef_construction: ef as usize,
        quantization: u8::try_from(quantization)
            .ok()
            .and_then(Quantization::from_code)
            .unwrap_or(Quantization::None),
        pq_subvectors: subvectors.max(0) as usize,
        compact,
    }
}

pub fn ef_search() -> usize {
    EF_SEARCH.get() as usize
}

/// Candidates beyond the beam a scan on codes re-ranks (`hnsw.rerank`); `None` for the
/// codes' own count.
pub fn rerank() -> Option<usize> {
    usize::try_from(RERANK.get()).ok()
}

pub fn max_scan_tuples() -> usize {
    MAX_SCAN_TUPLES.get() as usize
}

/// Whether and how scans resume (`hnsw.iterative_scan`).
pub fn resume() -> Resume {
    match ITERATIVE_SCAN.get() {
        IterativeScan::Off => Resume::Off,
        IterativeScan::RelaxedOrder => Resume::RelaxedOrder,
        IterativeScan::StrictOrder => Resume::StrictOrder,
    }
}

/// Bytes a scan may hold before it starts no further beam: `work_mem` (kB) times
/// `hnsw.scan_mem_multiplier`.
pub fn scan_memory_limit() -> usize {
    // SAFETY: a plain read of a GUC variable, on the backend thread.
    let work_mem_kb = unsafe { pg_sys::work_mem }.max(64) as usize;
    work_mem_kb * 1024 * SCAN_MEM_MULTIPLIER.get() as usize
}

/// The name of an index's support function 1, which says which distance it orders by.
pub fn metric(index: pg_sys::Relation) -> hnsw_core::distance::Metric {
    use hnsw_core::distance::Metric;
    // SAFETY: index_getprocid reads the relcache entry of an open index; get_func_name
    // returns a palloc'd name or null.
    let name = unsafe {
        let proc = pg_sys::index_getprocid(index, 1, 1);
        let name = pg_sys::get_func_name(proc);
        if name.is_null() {
            String::new()
        } else {
            CStr::from_ptr(name).to_string_lossy().into_owned()
        }
    };
    match name.as_str() {
        "vector_l2_squared_distance" => Metric::L2,
        "vector_negative_inner_product" => Metric::InnerProduct,
        "cosine_distance" => Metric::Cosine,
        "l1_distance" => Metric::L1,
        "halfvec_l2_squared_distance" => Metric::L2,
        "halfvec_negative_inner_product" => Metric::InnerProduct,
        "sparsevec_l2_squared_distance" => Metric::L2,
        "sparsevec_negative_inner_product" => Metric::InnerProduct,
        "hamming_distance" => Metric::Hamming,
        "jaccard_distance" => Metric::Jaccard,
        other => {
            pgrx::ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INVALID_OBJECT_DEFINITION,
                format!("hnsw operator class support function 1 is \"{other}\", which hnsw_pg does not know")
            );
        }
    }
}

/// The element type of the indexed column: its operator class's input type, `vector`,
/// `halfvec`, `bit` or `sparsevec` (operator classes are made by superusers only, so the name is
/// trusted).
pub fn element(index: pg_sys::Relation) -> hnsw_core::element::Element {
    // SAFETY: rd_opcintype holds one type per key column, and an hnsw index has one.
    let type_oid = unsafe { *(*index).rd_opcintype };
    match element_of_type(type_oid) {
        Ok(element) => element,
        Err(name) => crate::error::raise_with_hint(
            PgSqlErrorCode::ERRCODE_INVALID_OBJECT_DEFINITION,
            format!("hnsw_pg cannot index type \"{name}\""),
            "The first column of the index is the vector (vector, halfvec, bit or sparsevec); filter columns come after it.",
        ),
    }
}

/// The element type of one of hnsw_pg's vector types, by its name; the type's name when
/// it is none of them.
pub fn element_of_type(type_oid: pg_sys::Oid) -> Result<hnsw_core::element::Element, String> {
    use hnsw_core::element::Element;
    // SAFETY: format_type_be returns a palloc'd name (schema-qualified when not visible)
    // for any type oid, and ERRORs on one that does not exist.
    let name = unsafe {
        CStr::from_ptr(pg_sys::format_type_be(type_oid))
            .to_string_lossy()
            .into_owned()
    };
    match name.rsplit_once('.').map_or(name.as_str(), |(_, n)| n) {
        "vector" => Ok(Element::F32),
        "halfvec" => Ok(Element::F16),
        "bit" => Ok(Element::Bit),
        "sparsevec" => Ok(Element::Sparse),
        _ => Err(name),
    }
}

/// Refuses an index whose meta page names another element type than its operator class
/// (a damaged page): reading its vectors, or a datum, as the wrong type would go wrong.
pub fn check_element(index: pg_sys::Relation, meta: &hnsw_core::page::Meta) {
    let indexed = element(index);
    if meta.element != indexed {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            format!(
                "corrupt hnsw_pg index: its meta page says {} elements, its operator class indexes {}; REINDEX it",
                meta.element.type_name(),
                indexed.type_name()
            )
        );
    }
}

/// Dimensions of the indexed column, from its typmod (`vector(n)`, `bit(n)`,
/// `sparsevec(n)`).
pub fn dimensions(index: pg_sys::Relation) -> usize {
    // SAFETY: the index is open.
    let (typmod, type_oid) = unsafe { crate::compat::key_column(index) };
    let method = if super::ivfflat::is_ivfflat(index) {
        "ivfflat"
    } else {
        "hnsw"
    };
    // bit varying(n) coerces to bit, but its values may be shorter than n.
    if type_oid == pg_sys::VARBITOID {
        crate::error::raise_with_hint(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("type not supported for {method} index"),
            "bit varying is not indexed: declare the column as bit(n), or index an expression cast to bit(n).",
        );
    }
    if typmod < 1 {
        crate::error::raise_with_hint(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "column does not have dimensions".into(),
            "Declare the column as vector(n), halfvec(n), bit(n) or sparsevec(n), or index an expression cast to one, such as (embedding::halfvec(3072)).",
        );
    }
    let most = element(index).max_dim();
    if typmod as usize > most {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!("column cannot have more than {most} dimensions for {method} index")
        );
    }
    typmod as usize
}
