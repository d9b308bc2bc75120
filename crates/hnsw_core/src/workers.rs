//! The threads a build's parallel work runs on (the graph's inserts, the codebook's
//! training). Workers never reach Postgres: under a supervisor every worker blocks all
//! signals, and the calling thread (the backend's) runs the supervisor, which checks for
//! interrupts and reports progress, until the workers are done.
#![allow(unsafe_code)] // pthread_sigmask

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// How often the supervisor runs while the workers do.
const SUPERVISE_EVERY: Duration = Duration::from_millis(5);

/// Runs `work(i)` for each worker i of `threads` (at least one), and returns when all are
/// done; `work` must return soon after `stop` is set.
/// - Without `supervise`, the calling thread is worker 0.
/// - With it, every worker is spawned, with all signals blocked, and the calling thread
///   runs `supervise` until they are done. If `supervise` panics (a Postgres ERROR, such as
///   a cancel), `stop` is set and the workers are joined before the panic goes on.
///
/// A thread that fails to start sets `stop` and is an error (`io::ErrorKind::OutOfMemory`),
/// never an abort. A worker's panic sets `stop` and goes on once all are joined.
pub fn run_workers(
    threads: usize,
    stop: &AtomicBool,
    supervise: Option<&mut dyn FnMut()>,
    work: &(dyn Fn(usize) + Sync),
) -> io::Result<()> {
    let running = AtomicUsize::new(0);
    let supervised = supervise.is_some();
    // Stops the workers if the supervisor unwinds; the scope then joins the running ones.
    struct StopOnUnwind<'a>(&'a AtomicBool);
    impl Drop for StopOnUnwind<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.store(true, Ordering::SeqCst);
            }
        }
    }
    std::thread::scope(|scope| {
        let _guard = StopOnUnwind(stop);
        let spawn = |i: usize| {
            let running = &running;
            running.fetch_add(1, Ordering::SeqCst);
            let started = std::thread::Builder::new()
                .name("hnsw worker".into())
                .spawn_scoped(scope, move || {
                    // Counted out even if `work` panics, so the supervisor stops waiting;
                    // a panic also stops the other workers, whose work is then lost.
                    struct Running<'a>(&'a AtomicUsize, &'a AtomicBool);
                    impl Drop for Running<'_> {
                        fn drop(&mut self) {
                            if std::thread::panicking() {
                                self.1.store(true, Ordering::SeqCst);
                            }
                            self.0.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    let _running = Running(running, stop);
                    if supervised {
                        block_all_signals();
                    }
                    work(i);
                });
            started.map(|_| ()).map_err(|e| {
                running.fetch_sub(1, Ordering::SeqCst);
                stop.store(true, Ordering::SeqCst);
                io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!("could not start an hnsw worker thread: {e}"),
                )
            })
        };
        let threads = threads.max(1);
        match supervise {
            None => {
                for i in 1..threads {
                    spawn(i)?;
                }
                work(0);
            }
            Some(supervise) => {
                for i in 0..threads {
                    spawn(i)?;
                }
                while running.load(Ordering::SeqCst) > 0 {
                    supervise();
                    std::thread::sleep(SUPERVISE_EVERY);
                }
            }
        }
        Ok(())
    })
}

/// Signals belong to the thread that owns the process (a Postgres backend); workers must
/// never run a signal handler.
fn block_all_signals() {
    // SAFETY: sigfillset initialises the set; pthread_sigmask changes only this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}
