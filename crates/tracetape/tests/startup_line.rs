//! What `tracetape::init()` says on standard error: one line at start with
//! where spans and requests go, and a warning when its guard is dropped at
//! once (`let _ = tracetape::init();`). Each case runs in a child process
//! (this test binary again, with `STARTUP_CASE` set), since `init` sets
//! process-wide state and its words go to the process's standard error.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::Command;

use opentelemetry::trace::{Tracer as _, TracerProvider as _};

const CASE: &str = "STARTUP_CASE";

/// Runs the case `case` in a child, in `dir`, with `vars`; its stderr.
fn child(case: &str, dir: &Path, vars: &[(&str, &str)]) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "cases", "--nocapture"])
        .current_dir(dir)
        .env(CASE, case)
        .env("OTEL_SERVICE_NAME", "shop")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("TRACETAPE_MODE")
        .env_remove("TRACETAPE_RECORD_DIR")
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// The cases, run only in the child.
#[test]
fn cases() {
    let Ok(case) = std::env::var(CASE) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        match case.as_str() {
            "dropped" => {
                let _ = tracetape::init();
            }
            "kept" => {
                let telemetry = tracetape::init();
                let tracer = telemetry.tracer_provider().tracer("startup-test");
                tracer.in_span("work", |_cx| {});
                drop(telemetry);
            }
            other => panic!("no case {other}"),
        }
    });
}

#[test]
fn init_says_where_spans_and_requests_go() {
    let dir = tempfile::tempdir().unwrap();
    let said = child("kept", dir.path(), &[]);
    let first = said.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "tracetape: shop: spans to the local store .tracetape/traces; requests not recorded \
         (TRACETAPE_MODE unset)",
        "{said}"
    );
    assert!(!said.contains("guard_dropped"), "{said}");

    let recordings = dir.path().join("recordings");
    let said = child(
        "kept",
        dir.path(),
        &[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            ("TRACETAPE_MODE", "record"),
            ("TRACETAPE_RECORD_DIR", recordings.to_str().unwrap()),
        ],
    );
    let spans = "tracetape: shop: spans to OTLP http/protobuf http://127.0.0.1:9/v1/traces";
    if cfg!(feature = "record-replay") {
        let first = said.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!("{spans}; requests recorded into {}", recordings.display()),
            "{said}"
        );
    } else {
        // A tracing-only build says it cannot record, then says so again
        // in its line rather than claiming a mode it does not run.
        assert!(
            said.contains("tracetape: warning: setup.record_replay_not_built:"),
            "{said}"
        );
        let line = format!(
            "{spans}; requests not recorded: TRACETAPE_MODE=record needs tracetape's \
             `record-replay` feature"
        );
        assert!(said.lines().any(|said| said == line), "{said}");
    }
}

#[test]
fn a_guard_dropped_at_once_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let said = child("dropped", dir.path(), &[]);
    assert!(
        said.contains("tracetape: warning: setup.guard_dropped: the telemetry guard was dropped"),
        "{said}"
    );
    assert!(
        said.contains("`let _telemetry = tracetape::init();`"),
        "{said}"
    );
}

// An endpoint with a user name and password was said as it was, at every
// start, and in the warning when forwarding recordings there failed.
#[test]
fn a_password_in_an_endpoint_is_never_said() {
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().join("recordings");
    let said = child(
        "kept",
        dir.path(),
        &[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://svc:pw-endpoint-secret@127.0.0.1:9",
            ),
            ("TRACETAPE_MODE", "record"),
            ("TRACETAPE_RECORD_DIR", recordings.to_str().unwrap()),
        ],
    );
    assert!(!said.contains("pw-endpoint-secret"), "{said}");
    assert!(
        said.starts_with(
            "tracetape: shop: spans to OTLP http/protobuf \
             http://REDACTED:REDACTED@127.0.0.1:9/v1/traces;"
        ),
        "{said}"
    );
}
