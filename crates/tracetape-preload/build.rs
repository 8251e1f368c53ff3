//! Tells the crates that depend on this one where its sources are
//! (`DEP_TRACETAPE_PRELOAD_SOURCE` in their build scripts), so that
//! `tracetape-cli` can build the shared library itself and embed it: a
//! dependency's `cdylib` is not handed to the crates that depend on it.

fn main() {
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        println!("cargo::metadata=source={}", dir.to_string_lossy());
    }
    println!("cargo::rerun-if-changed=build.rs");
}
