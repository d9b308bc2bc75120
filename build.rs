fn main() {
    // Keep pgrx's embedded schema section in the cdylib without cargo-pgrx's global
    // `-Wl,--no-gc-sections` RUSTFLAGS, which would force a second build of every dependency.
    // Used together with CARGO_PGRX_DISABLE_GC_SECTIONS_WORKAROUND=1 (see the Makefile).
    println!("cargo:rustc-cdylib-link-arg=-Wl,--no-gc-sections");
    println!("cargo:rerun-if-changed=build.rs");
}
