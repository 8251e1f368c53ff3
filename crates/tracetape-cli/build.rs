//! Builds `libtracetape_preload.so` from the sources of the
//! `tracetape-preload` dependency and leaves it in `OUT_DIR`, where
//! `src/replay/embedded.rs` embeds it: the binary then carries the
//! library that guards the network in replay wherever it is installed
//! (`cargo install` keeps the executable only). On other systems, or when
//! the build fails (said as a warning), the embedded library is empty and
//! the replay looks for one beside the executable as before.

use std::path::{Path, PathBuf};
use std::process::Command;

const LIBRARY: &str = "libtracetape_preload.so";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let embedded = out.join(LIBRARY);
    let built = match std::env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("linux") => build(&out),
        _ => Err("the preload library is built on Linux only".to_owned()),
    };
    let bytes = built.unwrap_or_else(|why| {
        println!("cargo::warning=tracetape replay will not embed {LIBRARY}: {why}");
        Vec::new()
    });
    if let Err(err) = std::fs::write(&embedded, bytes) {
        println!("cargo::warning=cannot write {}: {err}", embedded.display());
    }
}

/// Builds the library (release profile, its own target directory under
/// `out`) and reads it.
fn build(out: &Path) -> Result<Vec<u8>, String> {
    let source = std::env::var_os("DEP_TRACETAPE_PRELOAD_SOURCE")
        .map(PathBuf::from)
        .ok_or("the tracetape-preload dependency did not say where its sources are")?;
    let manifest = source.join("Cargo.toml");
    println!("cargo::rerun-if-changed={}", source.join("src").display());
    println!("cargo::rerun-if-changed={}", manifest.display());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = out.join("preload");
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "--lib",
            "--offline",
            "--manifest-path",
        ])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    if let Ok(target) = std::env::var("TARGET") {
        command.args(["--target", &target]);
    }
    // What the outer build runs rustc through (clippy, coverage) is not
    // for the library.
    for var in [
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
    ] {
        command.env_remove(var);
    }
    // Small: no debug information in the executable that carries it.
    command
        .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols");
    let output = command
        .output()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|line| !line.trim().is_empty());
        return Err(format!(
            "cargo build of {} failed: {}",
            manifest.display(),
            last.unwrap_or("no message")
        ));
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    let path = target_dir.join(&target).join("release").join(LIBRARY);
    std::fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}
