//! `tracetape replay` of a service that keeps state in PostgreSQL: the
//! example (`examples/replay_target.rs`) with `REPLAY_TARGET_DATABASE_URL`
//! recorded against a real server the test starts, then replayed by the
//! real command, with its preload library, after that server stopped.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../../tracetape/tests/integration/postgres.rs"]
#[allow(dead_code)]
mod postgres;
mod replay_support;

use std::net::{Ipv4Addr, TcpStream};

use replay_support::{Fixture, both, free_port, stdout};
use serde_json::{Value, json};

#[test]
fn a_service_with_a_database_replays_with_the_database_stopped() {
    let server = postgres::Postgres::start();
    let database = server.url();
    let vars = [("REPLAY_TARGET_DATABASE_URL", database.as_str())];
    let (fixture, mut target, url) = Fixture::start_recording(&[], &vars);
    let client = reqwest::Client::new();
    for (n, text) in ["tea", "cake", "jam"].iter().enumerate() {
        let response = fixture
            .runtime
            .block_on(
                client
                    .post(format!("{url}/notes"))
                    .json(&json!({"text": text}))
                    .send(),
            )
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = fixture.runtime.block_on(response.json()).unwrap();
        assert_eq!(body, json!({"id": n + 1, "notes": n + 1}));
    }
    fixture.stop_recording(&mut target, 3);
    let port = server.port();
    drop(server);
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
        "the server is gone"
    );

    // The same build: every recording passes, its queries (and the
    // start-up's) answered from the recordings, and nothing reached the
    // network: the database is no unpatched dependency.
    let replay = |change: &str| {
        fixture
            .replay_command(
                free_port(),
                change,
                &["--format", "json", "--fail-on-unpatched"],
            )
            .env("REPLAY_TARGET_DATABASE_URL", &database)
            .output()
            .unwrap()
    };
    let output = replay("");
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let outcomes: Vec<&str> = report["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["passed", "passed", "passed"], "{report}");
    assert_eq!(
        report["unpatched_detection"], true,
        "the preload library watched"
    );
    assert_eq!(report["unpatched"], json!([]), "{report}");
    let calls = &report["recordings"][0]["calls"];
    let methods: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["INSERT", "SELECT"], "{report}");

    // A new build that stores the text in upper case: each recording's
    // INSERT is answered by the recorded one but deviates at the
    // parameter, and the run fails.
    let output = replay("note-upper");
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let first = &report["recordings"][0];
    assert_eq!(first["outcome"], "deviated", "{report}");
    let insert = &first["calls"][0];
    assert_eq!(insert["method"], "INSERT");
    assert_eq!(
        insert["differences"][0]["at"], "$.parameters[0]",
        "{report}"
    );
    assert_eq!(insert["differences"][0]["expected"], "\"tea\"", "{report}");
    assert_eq!(report["unpatched"], json!([]), "{report}");
}
