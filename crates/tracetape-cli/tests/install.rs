//! `tracetape-cli` installed with `cargo install` into a temporary root:
//! the installed `tracetape` is alone in its directory (no
//! `libtracetape_preload.so` beside it, as cargo installs executables
//! only), yet it starts the replayed service with the preload library it
//! carries, so a connection around tracetape's clients is still refused.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use replay_support::{Fixture, both, free_port, stdout, target_exe};

#[test]
fn an_installed_tracetape_still_refuses_connections_around_the_clients() {
    let root = tempfile::tempdir().unwrap();
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Offline and locked: what the workspace built with, no network. A
    // debug build, in a target directory of its own (the test's is locked
    // by the `cargo test` running it).
    let installed = Command::new(cargo)
        .args([
            "install",
            "--debug",
            "--locked",
            "--offline",
            "--quiet",
            "--path",
        ])
        .arg(crate_dir)
        .arg("--root")
        .arg(root.path())
        .arg("--target-dir")
        .arg(root.path().join("target"))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .output()
        .unwrap();
    assert!(installed.status.success(), "{}", both(&installed));
    let bin = root.path().join("bin");
    let tracetape = bin.join("tracetape");
    assert!(tracetape.is_file());
    let beside: Vec<String> = std::fs::read_dir(&bin)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(beside, ["tracetape"], "cargo installs the executable alone");
    // The build's own files go: the installed executable is all there is.
    std::fs::remove_dir_all(root.path().join("target")).unwrap();

    let fixture = Fixture::record(&["o-1"]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let service = format!("'{}'", target_exe().display());
    let output = fixture
        .tracetape_shell(&tracetape, "replay", &service, free_port(), "", &[])
        .env("REPLAY_TARGET_BYPASS", addr.to_string())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!("unpatched connection: tcp {addr} blocked")),
        "{}",
        both(&output)
    );
    // Refused before it was made: nothing reached the listener.
    match listener.accept() {
        Err(err) if err.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the connection reached the listener: {other:?}"),
    }
}
