//! `tracetape replay` of a gRPC service: the `grpc-service` example's
//! shop (tonic's `Server`, HTTP/2 only) records four calls made with
//! tonic's client (two orders, one for an item stock does not have, and
//! a stream of steps), each order calling stock over gRPC and pricing over
//! HTTP; then the real `tracetape` binary replays the shop alone, its
//! dependencies stopped, and it must pass. The shop changed on purpose
//! must deviate where it changed: a total in the response message, a
//! status in the trailers. Only loopback addresses are used.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use grpc_service::messages::{Order, Receipt, Step, TrackRequest};
use grpc_service::{PLACE, TRACK};
use replay_support::{Running, both, free_port, hermetic, quoted, read};
use serde_json::Value;
use tonic::codegen::http::uri::PathAndQuery;
use tonic_prost::ProstCodec;

/// How long a process may take to do what the test waits for.
const PATIENCE: Duration = Duration::from_secs(60);

/// The example's binary, which `cargo test --workspace` builds beside
/// `tracetape`.
fn example_exe() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_tracetape")).with_file_name("grpc-service");
    assert!(
        exe.exists(),
        "{} is missing: `cargo test --workspace` builds it (with `-p tracetape-cli`, build it \
         first: `cargo build -p grpc-service`)",
        exe.display()
    );
    exe
}

/// Starts `grpc-service role` in `dir` with `env`, its output in
/// `dir/{role}.log`, and waits until `addr` accepts connections.
fn start(dir: &Path, role: &str, env: &[(&str, String)], addr: SocketAddr) -> Running {
    let log = dir.join(format!("{role}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let mut command = Command::new(example_exe());
    hermetic(&mut command, dir)
        .arg(role)
        .envs(env.iter().map(|(name, value)| (*name, value)))
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file);
    let mut running = Running(command.spawn().unwrap());
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(addr).is_err() {
        if let Some(status) = running.0.try_wait().unwrap() {
            panic!("grpc-service {role} exited with {status}: {}", read(&log));
        }
        assert!(
            Instant::now() < deadline,
            "grpc-service {role} never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    running
}

/// The four calls, made with tonic's client: what each answered.
async fn calls(shop: SocketAddr) -> Vec<String> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{shop}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    let mut answers = Vec::new();
    for (item, quantity) in [("tea", 2), ("milk", 1), ("coffee", 7)] {
        grpc.ready().await.unwrap();
        let order = Order {
            item: item.to_owned(),
            quantity,
        };
        let placed = grpc
            .unary::<Order, Receipt, _>(
                tonic::Request::new(order),
                PathAndQuery::from_static(PLACE),
                ProstCodec::default(),
            )
            .await;
        answers.push(match placed {
            Ok(receipt) => format!("{:?}", receipt.into_inner()),
            Err(status) => format!("{:?}", status.code()),
        });
    }
    grpc.ready().await.unwrap();
    let track = TrackRequest {
        reservation_id: "r-tea-2".to_owned(),
    };
    let mut steps = grpc
        .server_streaming::<TrackRequest, Step, _>(
            tonic::Request::new(track),
            PathAndQuery::from_static(TRACK),
            ProstCodec::default(),
        )
        .await
        .unwrap()
        .into_inner();
    let mut stages = Vec::new();
    while let Some(step) = steps.message().await.unwrap() {
        stages.push(step.stage);
    }
    answers.push(stages.join(","));
    answers
}

/// `tracetape replay` of the shop alone, changed by `change` (`""`:
/// unchanged): its JSON report and the command's output.
fn replay(dir: &Path, recordings: &Path, deps: &[(&str, String)], change: &str) -> (Value, Output) {
    replay_with(dir, recordings, deps, change, &[])
}

/// [`replay`] with more arguments for `tracetape replay`.
fn replay_with(
    dir: &Path,
    recordings: &Path,
    deps: &[(&str, String)],
    change: &str,
    more: &[&str],
) -> (Value, Output) {
    replay_serving(dir, recordings, deps, change, more, None)
}

/// `tracetape replay` of the unchanged shop serving TLS (a self-signed
/// certificate for 127.0.0.1, hence `--insecure`) at an `https://` URL.
fn replay_over_tls(dir: &Path, recordings: &Path, deps: &[(&str, String)]) -> (Value, Output) {
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert, key_file) = (dir.join("shop.crt"), dir.join("shop.key"));
    std::fs::write(&cert, certificate.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    replay_serving(dir, recordings, deps, "", &[], Some((&cert, &key_file)))
}

/// `tracetape replay` of the shop alone, changed by `change`, with `more`
/// arguments; serving TLS with `tls` (certificate, key) when given, at
/// an `https://` URL.
fn replay_serving(
    dir: &Path,
    recordings: &Path,
    deps: &[(&str, String)],
    change: &str,
    more: &[&str],
    tls: Option<(&Path, &Path)>,
) -> (Value, Output) {
    let port = free_port();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let report = dir.join(format!("report-{scheme}-{change}-{}.json", more.len()));
    let service = format!("{} shop", quoted(&example_exe()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracetape"));
    hermetic(&mut command, dir)
        .args(["replay", "--command", &service])
        .arg("--recordings")
        .arg(recordings)
        .args(["--format", "json", "--output"])
        .arg(&report)
        .args(more)
        .env("SHOP_PORT", port.to_string())
        .env("SHOP_CHANGE", change)
        .envs(deps.iter().map(|(name, value)| (*name, value)))
        .stdin(Stdio::null());
    match tls {
        Some((cert, key)) => command
            .args(["--url", &format!("https://127.0.0.1:{port}"), "--insecure"])
            .env("SHOP_TLS_CERT", cert)
            .env("SHOP_TLS_KEY", key),
        None => command.args(["--port", &port.to_string()]),
    };
    let output = command.output().unwrap();
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|err| panic!("no report ({err}): {}", both(&output)));
    (serde_json::from_str(&text).unwrap(), output)
}

/// Each replayed recording's verdict and its deviations, each as
/// `{header or kind}: {message}`.
fn verdicts(report: &Value) -> Vec<(String, Vec<String>)> {
    report["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|recording| {
            let deviations = recording["deviations"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .map(|deviation| {
                            let place = deviation["header"]
                                .as_str()
                                .or(deviation["kind"].as_str())
                                .unwrap_or("");
                            let message = deviation["message"].as_str().unwrap_or("");
                            format!("{place}: {message}")
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                recording["outcome"].as_str().unwrap_or("").to_owned(),
                deviations,
            )
        })
        .collect()
}

/// `tracetape show` of the orders: messages field by field, the call to
/// stock with its status trailer, a trailers-only status.
fn shown_readably(dir: &Path, recordings: &Path) {
    let tracetape = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tracetape"));
        hermetic(&mut command, dir)
            .args(args)
            .arg("--recordings")
            .arg(recordings);
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", both(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    let list: Value = serde_json::from_str(&tracetape(&["list", "--format", "json"])).unwrap();
    let shown: Vec<String> = list["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|recording| recording.to_string().contains(PLACE))
        .map(|recording| tracetape(&["show", recording["trace_id"].as_str().unwrap()]))
        .collect();
    assert_eq!(shown.len(), 3);
    let coffee = shown
        .iter()
        .find(|text| text.contains(r#"1: "coffee""#))
        .expect("the coffee order");
    for expected in [
        "inbound  POST /shop.Shop/Place",
        "/stock.Stock/Reserve",
        "message 1 (10 bytes)",
        "2: 7",
        r#"1: "r-coffee-7""#,
        "2: 2800",
        "trailers",
        "grpc-status: 0",
    ] {
        assert!(coffee.contains(expected), "{expected:?} not in:\n{coffee}");
    }
    // Stock's NOT_FOUND came trailers-only: its status is a header.
    assert!(
        shown.iter().any(|text| text.contains("grpc-status: 5")),
        "{shown:#?}"
    );
}

/// The paths of every deviation in `report`, in order.
fn paths(report: &Value) -> Vec<String> {
    report["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|recording| {
            recording["deviations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|deviation| deviation["path"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tonic_service_is_replayed_over_http2_and_its_changes_are_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let recordings = dir.join("recordings");
    let (stock, pricing, shop) = (free_port(), free_port(), free_port());
    let deps = [
        ("STOCK_URL", format!("http://127.0.0.1:{stock}")),
        ("PRICING_URL", format!("http://127.0.0.1:{pricing}")),
    ];
    let ports = [
        ("STOCK_PORT", stock.to_string()),
        ("PRICING_PORT", pricing.to_string()),
    ];
    let deps_running = start(
        dir,
        "deps",
        &ports,
        SocketAddr::from(([127, 0, 0, 1], pricing)),
    );
    let mut shop_env = deps.to_vec();
    shop_env.push(("SHOP_PORT", shop.to_string()));
    shop_env.push(("TRACETAPE_MODE", "record".to_owned()));
    shop_env.push(("TRACETAPE_RECORD_DIR", recordings.display().to_string()));
    let shop_addr = SocketAddr::from(([127, 0, 0, 1], shop));
    let recording = start(dir, "shop", &shop_env, shop_addr);
    let answers = calls(shop_addr).await;
    assert_eq!(
        answers,
        [
            r#"Receipt { reservation_id: "r-tea-2", total_cents: 500 }"#,
            "NotFound",
            r#"Receipt { reservation_id: "r-coffee-7", total_cents: 2800 }"#,
            "packed,shipped,delivered",
        ]
    );
    recording.interrupt(&dir.join("shop.log"));
    shown_readably(dir, &recordings);
    // Replay with the dependencies gone: nothing may answer but the
    // recordings.
    deps_running.interrupt(&dir.join("deps.log"));

    let (report, output) = replay(dir, &recordings, &deps, "");
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert_eq!(report["totals"]["recordings"], 4, "{report}");
    assert_eq!(report["totals"]["passed"], 4, "{report}");

    // The same build serving TLS: replayed over HTTP/2 agreed by ALPN.
    let (report, output) = replay_over_tls(dir, &recordings, &deps);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert_eq!(report["totals"]["passed"], 4, "{report}");

    // One cent more on every total: the two answered orders deviate in
    // their message, the rest pass.
    let (report, output) = replay(dir, &recordings, &deps, "total");
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert_eq!(report["totals"]["deviated"], 2, "{report}");
    assert_eq!(report["totals"]["passed"], 2, "{report}");
    let deviated: Vec<_> = verdicts(&report)
        .into_iter()
        .filter(|(verdict, _)| verdict == "deviated")
        .collect();
    // Read without descriptors, field by field: the total is field 2 of
    // the one message.
    let lines: Vec<&String> = deviated.iter().flat_map(|(_, lines)| lines).collect();
    assert!(
        lines.contains(&&"body: expected 500, actual 501".to_owned())
            && lines.contains(&&"body: expected 2800, actual 2801".to_owned()),
        "{deviated:?}"
    );
    assert_eq!(paths(&report), ["$[0].2", "$[0].2"], "{report}");

    // With the services' descriptor set, by field name.
    let descriptors = dir.join("shop.bin");
    std::fs::write(&descriptors, grpc_service::descriptor_set()).unwrap();
    let setting = format!("grpc_descriptors={:?}", descriptors.display().to_string());
    let (report, _) = replay_with(dir, &recordings, &deps, "total", &["--compare", &setting]);
    assert_eq!(
        paths(&report),
        ["$[0].total_cents", "$[0].total_cents"],
        "{report}"
    );
    // Or with the descriptors the shop gives over server reflection.
    let (report, output) = replay_with(
        dir,
        &recordings,
        &deps,
        "total",
        &["--compare", "grpc_reflection=true"],
    );
    assert_eq!(
        paths(&report),
        ["$[0].total_cents", "$[0].total_cents"],
        "{report} {}",
        both(&output)
    );

    // At most five at a time: the order of seven is refused, a status
    // the trailers carry (the HTTP status stays 200).
    let (report, output) = replay(dir, &recordings, &deps, "limit");
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert_eq!(report["totals"]["deviated"], 1, "{report}");
    let lines: Vec<String> = verdicts(&report)
        .into_iter()
        .flat_map(|(_, lines)| lines)
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line == "grpc-status: expected 0, actual 9"),
        "{lines:?}"
    );

    // Pricing skipped (the same prices from a table): each order's
    // recorded call to pricing is reported unused.
    let (report, _) = replay(dir, &recordings, &deps, "cached");
    let unused: Vec<String> = report["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|recording| {
            recording["unused_calls"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|call| call["url"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(unused.len(), 2, "{report}");
    assert!(
        unused.iter().all(|url| url.contains("/price/")),
        "{unused:?}"
    );

    // One more call to stock, never recorded: reported as mock missing.
    let (report, output) = replay(dir, &recordings, &deps, "hold");
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert_eq!(report["totals"]["mock_missing"], 3, "{report}");
    assert!(report.to_string().contains("stock.Stock/Hold"), "{report}");
}
