//! `halfvec`: pgvector's half-precision vector. Values are float16; every function works
//! on them widened to float32 (exact) with the same core code as `vector`, and narrows
//! results back with pgvector's range checks.

mod functions;
mod io;
