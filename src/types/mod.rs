//! The `vector` type: its datum layout, I/O, casts, functions and aggregates.

mod aggregates;
mod casts;
mod datum;

pub use datum::Vector;
mod functions;
mod io;
