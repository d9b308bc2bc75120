//! Where a build keeps its big arrays: on the heap, or, past a memory budget, in a
//! memory-mapped temporary file.
//!
//! Two arrays grow with the data: the vector arena (n * dim floats) and the layer-0 link
//! slab (n * (2m + 1) words). Both live in `Backing`, either a `Vec<u32>` or a mapped
//! `SpillFile`. Heap arrays are reserved fallibly, so running out of memory is an
//! `io::ErrorKind::OutOfMemory` error and never an abort. Spill files are grown by writes
//! only (never `fallocate`, never a sparse hole), so a full disk or the owner's size limit
//! is an error while growing and never a SIGBUS while writing through the mapping.
#![allow(unsafe_code)] // see the crate header

use std::collections::TryReserveError;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;

/// A temporary file a build spills to. Whoever implements it decides where the file
/// lives and what limits its size; it is removed when dropped. A build touches it from
/// the thread that created it only (workers see the mapping, never the file).
pub trait SpillFile {
    /// Writes `bytes` at the end of the file.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// An open descriptor of the file, to map it (the mapping outlives the descriptor).
    fn raw_fd(&mut self) -> io::Result<RawFd>;
}

/// Makes spill files on demand (called at most once per array, and only when it spills).
pub type SpillFiles = dyn FnMut() -> io::Result<Box<dyn SpillFile>>;

/// A plain file at a path of the caller's choosing, removed when dropped (tests, benches).
pub struct PathSpillFile {
    file: File,
    path: PathBuf,
    len: u64,
}

impl PathSpillFile {
    pub fn create(path: &Path) -> io::Result<PathSpillFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        Ok(PathSpillFile {
            file,
            path: path.to_path_buf(),
            len: 0,
        })
    }
}

impl SpillFile for PathSpillFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.write_all_at(bytes, self.len)?;
        self.len += bytes.len() as u64;
        Ok(())
    }
    fn raw_fd(&mut self) -> io::Result<RawFd> {
        Ok(self.file.as_raw_fd())
    }
}

impl Drop for PathSpillFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A failed reservation as the I/O error the build reports (kind `OutOfMemory`).
pub fn out_of_memory(what: &str, bytes: usize, e: TryReserveError) -> io::Error {
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!("could not allocate {bytes} bytes for {what}: {e}"),
    )
}

/// `n` copies of `value`, or an `OutOfMemory` error instead of an abort.
pub fn try_filled<T: Clone>(n: usize, value: T, what: &str) -> io::Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|e| out_of_memory(what, n.saturating_mul(std::mem::size_of::<T>()), e))?;
    v.resize(n, value);
    Ok(v)
}

/// `n` values made by `make`, or an `OutOfMemory` error instead of an abort.
pub fn try_collect<T>(n: usize, make: impl FnMut(usize) -> T, what: &str) -> io::Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|e| out_of_memory(what, n.saturating_mul(std::mem::size_of::<T>()), e))?;
    v.extend((0..n).map(make));
    Ok(v)
}

/// Appends `bytes` zero bytes to `file`, a megabyte at a time.
fn append_zeros(file: &mut dyn SpillFile, bytes: usize) -> io::Result<()> {
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK.min(bytes)];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK);
        file.append(&zeros[..n])?;
        left -= n;
    }
    Ok(())
}

pub enum Backing {
    Heap(Vec<AtomicU32>),
    Mapped {
        map: memmap2::MmapMut,
        /// Taken once from `map.as_mut_ptr()`, so writes through it are permitted.
        base: *mut u8,
        /// Kept open while mapped; closing it removes it.
        _file: Box<dyn SpillFile>,
    },
}

// SAFETY: the raw pointer points into `map`, which is owned by the same value and lives
// as long as it; all shared access to the words goes through atomics. The spill file is
// never used through a shared reference: other threads see the mapping only, and the
// file is dropped with the value by its owner.
unsafe impl Send for Backing {}
// SAFETY: as above.
unsafe impl Sync for Backing {}

impl Backing {
    /// `words` zeroed u32s: on the heap, or in a new spill file when `spill` is given.
    pub fn zeroed(words: usize, spill: Option<&mut SpillFiles>) -> io::Result<Backing> {
        match spill {
            None => Ok(Backing::Heap(try_collect(
                words,
                |_| AtomicU32::new(0),
                "an hnsw build's links",
            )?)),
            Some(make) => {
                let mut file = make()?;
                append_zeros(file.as_mut(), words * 4)?;
                Backing::map(file, words * 4)
            }
        }
    }

    /// A heap arena holding `values`.
    pub fn from_f32(values: Vec<f32>) -> Backing {
        Backing::Heap(
            values
                .into_iter()
                .map(|x| AtomicU32::new(x.to_bits()))
                .collect(),
        )
    }

    /// Maps the first `bytes` bytes of `file`, all of them written already.
    fn map(mut file: Box<dyn SpillFile>, bytes: usize) -> io::Result<Backing> {
        if bytes == 0 {
            // An empty mapping is not allowed; an empty heap array behaves the same.
            return Ok(Backing::Heap(Vec::new()));
        }
        let fd = file.raw_fd()?;
        // SAFETY: the file is a private temporary file of this build; its first `bytes`
        // bytes were written before mapping, and nobody truncates or writes it while the
        // mapping (owned together with the file) lives.
        let mut map = unsafe { memmap2::MmapOptions::new().len(bytes).map_mut(fd)? };
        let base = map.as_mut_ptr();
        Ok(Backing::Mapped {
            map,
            base,
            _file: file,
        })
    }

    pub fn is_mapped(&self) -> bool {
        matches!(self, Backing::Mapped { .. })
    }

    /// The words as atomics. Every access to a link slab goes through this view, so
    /// threads can write disjoint parts under their own locks.
    pub fn atomics(&self) -> &[AtomicU32] {
        match self {
            Backing::Heap(v) => v,
            Backing::Mapped { map, base, .. } => {
                // SAFETY: mappings are page-aligned, AtomicU32 has u32's layout, `base` was
                // derived from a unique borrow of the mapping, and the memory is only ever
                // accessed through this atomic view or read through `as_f32`.
                unsafe { std::slice::from_raw_parts(*base as *const AtomicU32, map.len() / 4) }
            }
        }
    }

    /// A vector arena's floats (arenas are never written after `ArenaBuilder::finish`).
    pub fn as_f32(&self) -> &[f32] {
        let (ptr, len) = match self {
            Backing::Heap(v) => (v.as_ptr() as *const f32, v.len()),
            Backing::Mapped { map, base, .. } => (*base as *const f32, map.len() / 4),
        };
        // SAFETY: 4-aligned memory of `len` words, valid for the borrow of `self`; every bit
        // pattern is a valid f32, and nothing writes an arena once it is finished.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// A growable array of vectors: in memory until it passes `budget_bytes`, then appended
/// to a spill file (through a megabyte buffer) and mapped when finished. Vectors of one
/// dimension (`new`), or of varying length (`variable`), whose offsets it records.
pub struct ArenaBuilder {
    /// 0 for vectors of varying length.
    dim: usize,
    budget_bytes: usize,
    spill: Box<SpillFiles>,
    heap: Vec<f32>,
    file: Option<(Box<dyn SpillFile>, Vec<u8>)>,
    len: usize,
    /// Floats pushed.
    floats: usize,
    /// Where each vector starts, then the end (varying length only).
    offsets: Option<Vec<u64>>,
}

const SPILL_BUFFER: usize = 1 << 20;

impl ArenaBuilder {
    pub fn new(dim: usize, budget_bytes: usize, spill: Box<SpillFiles>) -> Self {
        assert!(dim > 0, "a fixed-width arena has dimensions");
        ArenaBuilder {
            dim,
            budget_bytes,
            spill,
            heap: Vec::new(),
            file: None,
            len: 0,
            floats: 0,
            offsets: None,
        }
    }

    /// An arena of vectors of varying length.
    pub fn variable(budget_bytes: usize, spill: Box<SpillFiles>) -> Self {
        ArenaBuilder {
            dim: 0,
            offsets: Some(vec![0]),
            ..ArenaBuilder::new(1, budget_bytes, spill)
        }
    }

    /// Floats pushed so far.
    pub fn floats(&self) -> usize {
        self.floats
    }

    /// Bytes the arena holds (with its offsets).
    pub fn bytes(&self) -> usize {
        self.floats * 4 + self.offsets.as_ref().map_or(0, |o| o.len() * 8)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the vectors went to the file.
    pub fn is_spilled(&self) -> bool {
        self.file.is_some()
    }

    pub fn push(&mut self, v: &[f32]) -> io::Result<()> {
        assert!(
            self.dim == 0 || v.len() == self.dim,
            "every vector in an arena has the arena's dimension"
        );
        if let Some(offsets) = &mut self.offsets {
            offsets
                .try_reserve(1)
                .map_err(|e| out_of_memory("an hnsw build's vector offsets", 8, e))?;
            offsets.push((self.floats + v.len()) as u64);
        }
        if self.file.is_none() && (self.heap.len() + v.len()) * 4 > self.budget_bytes {
            let mut file = (self.spill)()?;
            for chunk in self.heap.chunks(SPILL_BUFFER / 4) {
                let bytes: Vec<u8> = chunk.iter().flat_map(|x| x.to_ne_bytes()).collect();
                file.append(&bytes)?;
            }
            self.heap = Vec::new();
            self.file = Some((file, Vec::with_capacity(SPILL_BUFFER)));
        }
        match &mut self.file {
            Some((file, buffer)) => {
                buffer.extend(v.iter().flat_map(|x| x.to_ne_bytes()));
                if buffer.len() >= SPILL_BUFFER {
                    file.append(buffer)?;
                    buffer.clear();
                }
            }
            None => {
                self.heap
                    .try_reserve(v.len())
                    .map_err(|e| out_of_memory("an hnsw build's vectors", v.len() * 4, e))?;
                self.heap.extend_from_slice(v);
            }
        }
        self.len += 1;
        self.floats += v.len();
        Ok(())
    }

    /// The finished arena (heap floats, or the mapped file) and, for vectors of varying
    /// length, their offsets.
    pub fn finish(self) -> io::Result<(Backing, Option<Vec<u64>>)> {
        let vectors = match self.file {
            None => Backing::from_f32(self.heap),
            Some((mut file, buffer)) => {
                file.append(&buffer)?;
                Backing::map(file, self.floats * 4)?
            }
        };
        Ok((vectors, self.offsets))
    }
}
