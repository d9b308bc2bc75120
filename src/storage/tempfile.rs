//! Spill files of an index build, owned by Postgres: opened with `OpenTemporaryFile`, so
//! they go to `temp_tablespaces` (or the database's `pgsql_tmp`), count against
//! `temp_file_limit` as they grow (writes through `FileWrite` only), show in the temp-file
//! statistics, and are removed by Postgres itself at the end of the transaction or of the
//! process, however it ends (an ERROR, a FATAL from `pg_terminate_backend`, or a drop).

use hnsw_core::graph::storage::{SpillFile, SpillFiles};
use pgrx::pg_sys;
use std::io;
use std::os::fd::RawFd;

pub struct TempFile {
    file: pg_sys::File,
    len: u64,
}

impl TempFile {
    /// A new, empty temporary file. Backend thread only.
    pub fn open() -> TempFile {
        // SAFETY: plain fd.c calls on the backend thread; OpenTemporaryFile raises an
        // ERROR on failure and registers the file with the current resource owner.
        let file = unsafe {
            pg_sys::PrepareTempTablespaces();
            pg_sys::OpenTemporaryFile(false)
        };
        TempFile { file, len: 0 }
    }

    /// A maker of temporary files, for the core's build.
    pub fn maker() -> Box<SpillFiles> {
        Box::new(|| Ok(Box::new(TempFile::open()) as Box<dyn SpillFile>))
    }
}

impl SpillFile for TempFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut done = 0;
        while done < bytes.len() {
            let amount = (bytes.len() - done).min(1 << 30);
            // SAFETY: `file` is open and ours.
            let written = unsafe {
                crate::compat::file_write(self.file, &bytes[done..done + amount], self.len)
            };
            if written < 0 {
                return Err(io::Error::last_os_error());
            }
            if written == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero));
            }
            done += written as usize;
            self.len += written as u64;
        }
        Ok(())
    }

    fn raw_fd(&mut self) -> io::Result<RawFd> {
        // fd.c may have closed the kernel file to stay under max_files_per_process, and
        // FileGetRawDesc does not reopen it; FileSize does (and nothing runs between the
        // two calls that could close it again).
        // SAFETY: `file` is open (as a virtual file descriptor) and ours.
        let (size, fd) = unsafe {
            (
                pg_sys::FileSize(self.file),
                pg_sys::FileGetRawDesc(self.file),
            )
        };
        if size < 0 || (size as u64) < self.len {
            return Err(io::Error::other(format!(
                "temporary file holds {size} bytes, {} were written",
                self.len
            )));
        }
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(fd)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // SAFETY: `file` is open and ours; closing a temporary file deletes it.
        unsafe { pg_sys::FileClose(self.file) };
    }
}
