//! The tests of `tracetape view` in a real headless Chromium, driven over
//! the DevTools protocol (`view_support::browser`): traces sent over OTLP
//! by a real service (the `replay_target` example), searched and drawn,
//! and a real `tracetape replay --format json` report. Each test saves
//! screenshots in `target/tmp/view-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;
mod view_support;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use replay_support::{Dependency, Fixture, Running, free_port, listening_url, stop, target_exe};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use view_support::browser::Browser;

/// `tracetape view` running on free ports, and where it listens.
struct View {
    _process: Running,
    ui: String,
    otlp_grpc: String,
    otlp_http: String,
}

impl View {
    /// Starts `tracetape view` in `dir` with `args` added.
    fn start(dir: &Path, args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tracetape"));
        command
            .current_dir(dir)
            .args(["view", "--listen", "127.0.0.1:0"]);
        if !args.contains(&"--no-otlp") {
            command.args(["--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0"]);
        }
        let mut child = command.args(args).stdout(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut line = || lines.next().unwrap().unwrap();
        let first = line();
        let ui = first
            .strip_prefix("tracetape view: ")
            .unwrap_or_else(|| panic!("tracetape view said {first:?}"))
            .to_owned();
        let mut next = line();
        let (mut otlp_grpc, mut otlp_http) = (String::new(), String::new());
        if next.starts_with("receiving OTLP") {
            // receiving OTLP/gRPC at URL and OTLP/HTTP at URL/v1/traces
            let words: Vec<&str> = next.split_whitespace().collect();
            otlp_grpc = words[3].to_owned();
            otlp_http = words[7].trim_end_matches("/v1/traces").to_owned();
            next = line();
        }
        assert!(next.starts_with("spans kept in "), "{next}");
        Self {
            _process: Running(child),
            ui,
            otlp_grpc,
            otlp_http,
        }
    }
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("view-screenshots")
}

/// Runs the example as service `service`, its spans exported over OTLP
/// with `protocol` to `endpoint` (and its requests recorded into
/// `record`, if given), and sends it one order per id; the example
/// flushes its spans and recordings before it exits.
fn send_orders(
    runtime: &Runtime,
    dir: &Path,
    (service, record): (&str, Option<&Path>),
    dependency: &str,
    (protocol, endpoint): (&str, &str),
    orders: &[&str],
) {
    let mut command = Command::new(target_exe());
    match record {
        Some(recordings) => command
            .env("TRACETAPE_MODE", "record")
            .env("TRACETAPE_RECORD_DIR", recordings),
        None => command.env_remove("TRACETAPE_MODE"),
    };
    let mut target = command
        .current_dir(dir)
        .env("PORT", "0")
        .env("DEPENDENCY_URL", dependency)
        .env("OTEL_SERVICE_NAME", service)
        .env("OTEL_TRACES_EXPORTER", "otlp")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_METRICS_EXPORTER", "none")
        .env_remove("REPLAY_TARGET_CHANGE")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let url = listening_url(&mut target);
    let client = reqwest::Client::new();
    for id in orders {
        let order = client
            .post(format!("{url}/orders"))
            .json(&json!({"id": id, "sku": "tea", "qty": 2}))
            .send();
        runtime.block_on(order).unwrap();
    }
    stop(&mut target);
}

fn get_json(runtime: &Runtime, url: &str) -> Value {
    runtime.block_on(async {
        let response = reqwest::get(url).await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.json().await.unwrap()
    })
}

#[test]
fn traces_sent_over_otlp_are_listed_searched_and_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let view = View::start(
        dir.path(),
        &[
            "--db",
            "view.sqlite",
            "--store",
            "traces",
            "--recordings",
            "recordings",
        ],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dependency = Dependency::start(&runtime);
    // Two orders over OTLP/gRPC, recorded; one over OTLP/HTTP with the
    // dependency down, so that its call fails.
    let grpc = ("grpc", view.otlp_grpc.as_str());
    let recordings = dir.path().join("recordings");
    let recorded = ("orders", Some(recordings.as_path()));
    send_orders(
        &runtime,
        dir.path(),
        recorded,
        &dependency.url,
        grpc,
        &["o-1", "o-2"],
    );
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let http = ("http/protobuf", view.otlp_http.as_str());
    let unrecorded = ("orders-degraded", None);
    send_orders(&runtime, dir.path(), unrecorded, &nowhere, http, &["o-3"]);

    let listed = get_json(&runtime, &format!("{}api/traces", view.ui));
    let traces = listed["traces"].as_array().unwrap();
    let by = |service: &str| {
        traces
            .iter()
            .filter(|t| t["root_service"] == service)
            .count()
    };
    assert_eq!((by("orders"), by("orders-degraded")), (2, 1), "{listed}");
    let failed = traces
        .iter()
        .find(|t| t["root_service"] == "orders-degraded")
        .unwrap();
    let failed_id = failed["trace_id"].as_str().unwrap().to_owned();
    assert!(failed["errors"].as_u64().unwrap() > 0, "{failed}");
    let trace = get_json(&runtime, &format!("{}api/traces/{failed_id}", view.ui));

    runtime.block_on(async {
        let browser = Browser::launch().await.unwrap();
        // The list: every trace, newest first.
        browser.goto(&view.ui).await.unwrap();
        let rows = browser
            .wait_for(
                &format!("document.querySelectorAll('#traces tr.trace').length === {} && document.querySelectorAll('#traces tr.trace').length", traces.len()),
                "the list of traces",
            )
            .await
            .unwrap();
        assert_eq!(rows, json!(traces.len()));
        let first = browser.eval("document.querySelector('#traces tr.trace').dataset.traceId").await.unwrap();
        assert_eq!(first, traces[0]["trace_id"]);
        browser.screenshot(&screenshots().join("traces.png")).await.unwrap();

        // Search narrows it: the degraded service, errors only.
        browser
            .wait_for("[...document.querySelectorAll('#search-service option')].some(o => o.value === 'orders-degraded')", "the services")
            .await
            .unwrap();
        browser.fill("#search-service", "orders-degraded").await.unwrap();
        browser.click("#search-errors").await.unwrap();
        browser.click("#search-go").await.unwrap();
        browser
            .wait_for("location.hash.includes('errors=1') && document.querySelectorAll('#traces tr.trace').length === 1", "the search")
            .await
            .unwrap();
        let found = browser.eval("document.querySelector('#traces tr.trace').dataset.traceId").await.unwrap();
        assert_eq!(found, json!(failed_id));
        assert_eq!(browser.eval("document.querySelector('#traces tr.trace').classList.contains('has-error')").await.unwrap(), json!(true));
        // A search that matches nothing says so.
        browser.goto(&format!("{}#/traces?attr=sku%3Dcoffee", view.ui)).await.unwrap();
        browser.wait_for("document.querySelector('#traces-status')?.textContent === 'No traces match.'", "an empty search").await.unwrap();

        // The failed trace as a waterfall: one bar per span, in parent order.
        browser.goto(&format!("{}#/trace/{failed_id}", view.ui)).await.unwrap();
        let spans = trace["spans"].as_array().unwrap();
        browser
            .wait_for(&format!("document.querySelectorAll('#waterfall .span-row[data-span-id]').length === {}", spans.len()), "the waterfall")
            .await
            .unwrap();
        let drawn = browser
            .eval("[...document.querySelectorAll('#waterfall .span-row[data-span-id]')].map(r => r.dataset.spanId)")
            .await
            .unwrap();
        let drawn: Vec<&str> = drawn.as_array().unwrap().iter().map(|id| id.as_str().unwrap()).collect();
        assert!(spans.len() >= 2, "{trace}");
        for (at, span) in spans.iter().enumerate() {
            assert_eq!(drawn[at], span["span_id"], "row {at}");
            if let Some(parent) = span["parent_id"].as_str() {
                let parent_at = drawn.iter().position(|id| *id == parent).unwrap();
                assert!(parent_at < at, "{parent} is drawn after its child");
            }
        }
        assert_eq!(browser.eval("document.querySelectorAll('#waterfall .bar').length").await.unwrap(), json!(spans.len()));
        // Errors marked, and reached from the toolbar.
        let errors = spans.iter().filter(|span| span["error"] == true).count();
        assert!(errors > 0);
        assert_eq!(browser.eval("document.querySelectorAll('#waterfall .span-row.error').length").await.unwrap(), json!(errors));
        browser.click("#next-error").await.unwrap();
        browser
            .wait_for("document.querySelector('.span-row.selected')?.classList.contains('error')", "the first error selected")
            .await
            .unwrap();
        let details = browser.eval("document.querySelector('#details table.attributes').innerText").await.unwrap();
        assert!(details.as_str().unwrap().contains("error.type"), "{details}");
        browser.screenshot(&screenshots().join("waterfall.png")).await.unwrap();

        // The root's details: its attributes and its resource.
        browser.click("#waterfall .span-row[data-depth='0']").await.unwrap();
        browser.wait_for("document.querySelector('#details h2')?.textContent.startsWith('POST /orders')", "the root's details").await.unwrap();
        let attributes = browser.eval("document.querySelector('#details table.attributes').innerText").await.unwrap();
        assert!(attributes.as_str().unwrap().contains("http.route\t/orders"), "{attributes}");
        let resource = browser.eval("document.querySelector('#details table.resource').innerText").await.unwrap();
        assert!(resource.as_str().unwrap().contains("service.name\torders-degraded"), "{resource}");
        // A recorded trace shows its recording as `tracetape show` prints it.
        let recorded = traces.iter().find(|t| t["root_service"] == "orders").unwrap();
        browser
            .goto(&format!("{}#/trace/{}", view.ui, recorded["trace_id"].as_str().unwrap()))
            .await
            .unwrap();
        let recording = browser
            .wait_for("document.querySelector('#recording pre')?.innerText", "the recording")
            .await
            .unwrap();
        let recording = recording.as_str().unwrap();
        assert!(recording.contains("inbound  POST /orders  200"), "{recording}");
        assert!(recording.contains("\"sku\": \"tea\""), "{recording}");
        // The failed trace was not recorded: no recording section.
        browser.goto(&format!("{}#/trace/{failed_id}", view.ui)).await.unwrap();
        browser
            .wait_for(
                &format!("document.querySelector('h1 code')?.textContent === '{failed_id}'"),
                "the failed trace",
            )
            .await
            .unwrap();
        assert_eq!(browser.eval("document.querySelector('#recording') === null").await.unwrap(), json!(true));
        // The download link names the OTLP/JSON document.
        let href = browser.eval("document.querySelector('#download').getAttribute('href')").await.unwrap();
        assert_eq!(href, json!(format!("/api/traces/{failed_id}/otlp")));
    });

    // The download is OTLP/JSON with every span.
    let document = get_json(&runtime, &format!("{}api/traces/{failed_id}/otlp", view.ui));
    let downloaded: usize = document["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|resource| resource["scopeSpans"].as_array().unwrap())
        .map(|scope| scope["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(downloaded, trace["spans"].as_array().unwrap().len());
    assert_eq!(
        document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"],
        json!(failed_id)
    );
}

#[test]
fn a_replay_report_shows_its_deviations_and_the_calls_side_by_side() {
    let fixture = Fixture::record(&["o-1"]);
    let replays = fixture.dir.path().join("replays");
    std::fs::create_dir_all(&replays).unwrap();
    // The total changed and a call made differently; then a call added
    // and one dropped.
    for (name, change) in [
        ("changed", "total,price-qty"),
        ("calls", "new-call,drop-call"),
    ] {
        let output = fixture.replay(change, &["--format", "json"]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}",
            replay_support::both(&output)
        );
        std::fs::write(replays.join(format!("{name}.json")), &output.stdout).unwrap();
    }
    let recordings = fixture.recordings();
    let view = View::start(
        fixture.dir.path(),
        &[
            "--no-otlp",
            "--reports-dir",
            "replays",
            "--recordings",
            recordings.to_str().unwrap(),
        ],
    );
    assert!(view.otlp_grpc.is_empty(), "--no-otlp receives nothing");

    fixture.runtime.block_on(async {
        let browser = Browser::launch().await.unwrap();
        browser.goto(&format!("{}#/replays", view.ui)).await.unwrap();
        browser
            .wait_for("document.querySelectorAll('#reports tr.report').length === 2", "the reports")
            .await
            .unwrap();
        let opened = |name: &'static str| {
            let browser = &browser;
            async move {
                let selector = format!("#reports tr.report[data-file$='{name}.json'] a");
                browser.click(&selector).await.unwrap();
                browser
                    .wait_for(
                        &format!("location.hash.includes('{name}.json') && document.querySelector('section.replayed')"),
                        "the report",
                    )
                    .await
                    .unwrap();
                let states = browser
                    .eval("[...document.querySelectorAll('.side-by-side .pair[data-state]')].map(p => p.dataset.state + ' ' + p.innerText.replace(/\\s+/g, ' '))")
                    .await
                    .unwrap();
                states.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect::<Vec<String>>()
            }
        };
        let has = |states: &[String], state: &str, path: &str| {
            states.iter().any(|s| s.starts_with(state) && s.contains(path))
        };

        let states = opened("changed").await;
        // The summary table and the verdict.
        let summary = browser.eval("document.querySelector('#summary').innerText").await.unwrap();
        assert!(summary.as_str().unwrap().contains("POST /orders"), "{summary}");
        // The deviation, with its diff.
        let deviation = browser.eval("document.querySelector('.deviation').innerText").await.unwrap();
        let deviation = deviation.as_str().unwrap();
        assert!(deviation.contains("$.total_cents"), "{deviation}");
        assert!(deviation.contains("- 500") && deviation.contains("+ 501"), "{deviation}");
        // The recorded calls beside the replayed ones.
        assert!(has(&states, "changed", "/price"), "{states:?}");
        assert!(has(&states, "matched", "/stock/tea"), "{states:?}");
        browser.screenshot(&screenshots().join("replay-changed.png")).await.unwrap();

        browser.goto(&format!("{}#/replays", view.ui)).await.unwrap();
        browser
            .wait_for("document.querySelectorAll('#reports tr.report').length === 2", "the reports")
            .await
            .unwrap();
        let states = opened("calls").await;
        assert!(has(&states, "missing", "/stock/tea"), "{states:?}");
        assert!(has(&states, "added", "/loyalty/o-1"), "{states:?}");
        browser.screenshot(&screenshots().join("replay-calls.png")).await.unwrap();
    });
}
