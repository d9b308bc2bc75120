//! Where a build keeps its big arrays: on the heap, or, past a memory budget, in a
//! memory-mapped temporary file.
//!
//! Two arrays grow with the data: the vector arena (n * dim floats) and the layer-0 link
//! slab (n * (2m + 1) words). Both live in `Backing`, either a `Vec<u32>` or a file mapped
//! with memmap2 whose blocks are reserved with `posix_fallocate` first, so a full disk is
//! an error at reservation time and never a SIGBUS while writing through the mapping.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;

pub enum Backing {
    Heap(Vec<AtomicU32>),
    Mapped {
        map: memmap2::MmapMut,
        /// Taken once from `map.as_mut_ptr()`, so writes through it are permitted.
        base: *mut u8,
        path: PathBuf,
    },
}

// SAFETY: the raw pointer points into `map`, which is owned by the same value and lives
// as long as it; all shared access to the words goes through atomics.
unsafe impl Send for Backing {}
// SAFETY: as above.
unsafe impl Sync for Backing {}

impl Backing {
    /// `words` zeroed u32s: on the heap, or in a new file at `spill_path` when given.
    pub fn zeroed(words: usize, spill_path: Option<&Path>) -> io::Result<Backing> {
        match spill_path {
            None => Ok(Backing::Heap(
                (0..words).map(|_| AtomicU32::new(0)).collect(),
            )),
            Some(path) => {
                let file = create_reserved(path, words * 4)?;
                Backing::map(file, path)
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

    fn map(file: File, path: &Path) -> io::Result<Backing> {
        if file.metadata()?.len() == 0 {
            // An empty mapping is not allowed; an empty heap array behaves the same.
            let _ = std::fs::remove_file(path);
            return Ok(Backing::Heap(Vec::new()));
        }
        // SAFETY: the file was created by us in a private temporary directory and is not
        // truncated or written by anyone else while mapped; its blocks are allocated.
        let mut map = unsafe { memmap2::MmapMut::map_mut(&file)? };
        let base = map.as_mut_ptr();
        Ok(Backing::Mapped {
            map,
            base,
            path: path.to_path_buf(),
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

impl Drop for Backing {
    fn drop(&mut self) {
        if let Backing::Mapped { path, .. } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Creates `path` with `bytes` allocated on disk (not a sparse file).
fn create_reserved(path: &Path, bytes: usize) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)?;
    if bytes > 0 {
        use std::os::fd::AsRawFd;
        // SAFETY: plain syscall on a file descriptor we own.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, bytes as libc::off_t) };
        if rc != 0 {
            let _ = std::fs::remove_file(path);
            return Err(io::Error::from_raw_os_error(rc));
        }
    }
    Ok(file)
}

/// A growable array of vectors: in memory until it passes `budget_bytes`, then appended
/// to a file (with `write`, so a full disk is an error) and mapped when finished.
pub struct ArenaBuilder {
    dim: usize,
    budget_bytes: usize,
    spill_path: PathBuf,
    heap: Vec<f32>,
    file: Option<io::BufWriter<File>>,
    len: usize,
}

impl ArenaBuilder {
    pub fn new(dim: usize, budget_bytes: usize, spill_path: PathBuf) -> Self {
        ArenaBuilder {
            dim,
            budget_bytes,
            spill_path,
            heap: Vec::new(),
            file: None,
            len: 0,
        }
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
        assert_eq!(
            v.len(),
            self.dim,
            "every vector in an arena has the arena's dimension"
        );
        if self.file.is_none() && (self.heap.len() + v.len()) * 4 > self.budget_bytes {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&self.spill_path)?;
            let mut writer = io::BufWriter::with_capacity(1 << 20, file);
            for x in self.heap.drain(..) {
                writer.write_all(&x.to_ne_bytes())?;
            }
            self.heap.shrink_to_fit();
            self.file = Some(writer);
        }
        match &mut self.file {
            Some(w) => v.iter().try_for_each(|x| w.write_all(&x.to_ne_bytes()))?,
            None => self.heap.extend_from_slice(v),
        }
        self.len += 1;
        Ok(())
    }

    /// The finished arena: heap floats, or the mapped file.
    pub fn finish(self) -> io::Result<Backing> {
        match self.file {
            None => Ok(Backing::from_f32(self.heap)),
            Some(writer) => {
                let file = writer.into_inner().map_err(|e| e.into_error())?;
                file.sync_data()?;
                Backing::map(file, &self.spill_path)
            }
        }
    }
}
