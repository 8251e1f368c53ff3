//! `tracetape replay` over the real microservices example, every call it
//! makes instrumented: 200 orders recorded by the three services
//! (`microservices all`, `TRACETAPE_MODE=record`), then checkout alone
//! (`microservices checkout`) replayed by the real `tracetape` binary with
//! the preload library, 200 requests in flight at once. Nothing may be
//! reported as unpatched, and nothing may reach inventory's and pricing's
//! ports, which the test holds bound with nothing serving them.
//!
//! The example has no switch that connects around tracetape's clients, so
//! there is no bypassing control here (`replay_unpatched.rs` has those,
//! with the `replay_target` example); instead the report must say the
//! detection was on, so a run without the library cannot pass. Only
//! loopback addresses are used.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use microservices::Order;
use replay_support::{Running, both, free_port, hermetic, quoted, read, schema};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tracetape::record::RecordingStore;

/// Orders placed, and replayed at once.
const ORDERS: usize = 200;
/// How long a process may take to do what the test waits for.
const PATIENCE: Duration = Duration::from_secs(60);

/// The `microservices` example's binary, which `cargo test --workspace`
/// (or `cargo build -p tracetape-microservices`) builds beside `tracetape`.
fn microservices_exe() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_tracetape")).with_file_name("microservices");
    assert!(
        exe.exists(),
        "{} is missing: `cargo test --workspace` builds it (with `-p tracetape-cli`, build it \
         first: `cargo build -p tracetape-microservices`)",
        exe.display()
    );
    exe
}

/// The three services of `microservices all` in record mode, on ports
/// the kernel picked.
struct RecordStack {
    process: Running,
    checkout: SocketAddr,
    inventory: SocketAddr,
    pricing: SocketAddr,
    log: PathBuf,
}

impl RecordStack {
    /// Starts them recording into `recordings`, and returns once each
    /// service said where it listens and accepts a connection there.
    fn start(dir: &Path, recordings: &Path) -> Self {
        let log = dir.join("record.log");
        let mut command = Command::new(microservices_exe());
        hermetic(&mut command, dir)
            .arg("all")
            .env("TRACETAPE_MODE", "record")
            .env("TRACETAPE_RECORD_DIR", recordings)
            .env("CHECKOUT_PORT", "0")
            .env("INVENTORY_PORT", "0")
            .env("PRICING_PORT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).unwrap());
        let mut process = Running(command.spawn().unwrap());
        let stdout = process.0.stdout.take().unwrap();
        // `{service} listening on http://{addr}`, once each service's
        // socket is bound; read on (and dropped) to the end after that.
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + PATIENCE;
        let mut addrs = BTreeMap::new();
        while addrs.len() < 3 {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "the example did not say where it listens; it said {addrs:?}; its log:\n{}",
                    read(&log)
                )
            });
            let Some((service, addr)) = line.split_once(" listening on http://") else {
                continue;
            };
            addrs.insert(service.to_owned(), addr.parse::<SocketAddr>().unwrap());
        }
        for addr in addrs.values() {
            assert!(addr.ip().is_loopback(), "{addrs:?}");
            // The listener is bound before the line is printed, so this
            // only fails if the process is already gone.
            while let Err(err) = TcpStream::connect(addr) {
                assert!(
                    Instant::now() < deadline,
                    "{addr} accepts no connection ({err}); the example's log:\n{}",
                    read(&log)
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Self {
            process,
            checkout: addrs["checkout"],
            inventory: addrs["inventory"],
            pricing: addrs["pricing"],
            log,
        }
    }

    fn stop(self) -> (SocketAddr, SocketAddr) {
        self.process.interrupt(&self.log);
        (self.inventory, self.pricing)
    }
}

/// One order placed, and what checkout is expected to answer.
struct Placed {
    order: Order,
    tenant: &'static str,
    status: u16,
}

impl Placed {
    /// Requests inventory and pricing serve for it (stock and quote per
    /// item checked, then two reservation attempts: the first is refused
    /// with 503 and retried).
    fn upstream_requests(&self) -> (usize, usize) {
        let items = self.order.items.len();
        match self.status {
            200 => (items + 2, items),
            // Refused at the first item: its stock and quote were asked.
            409 => (1, 1),
            _ => (0, 0),
        }
    }
}

/// A mix of the orders checkout handles, each with an id of its own:
/// one, two and three items, out of stock (409) and no items (422).
fn orders() -> Vec<Placed> {
    (0..ORDERS)
        .map(|i| {
            let id = format!("mix-{i:03}");
            let (items, status): (&[(&str, u32)], u16) = match i % 5 {
                0 => (&[("tea", 2), ("cake", 1)], 200),
                1 => (&[("coffee", 1)], 200),
                2 => (&[("tea", 500)], 409),
                3 => (&[], 422),
                _ => (&[("scone", 3), ("jam", 1), ("tea", 1)], 200),
            };
            Placed {
                order: Order::of(&id, items),
                tenant: if i % 2 == 0 { "acme" } else { "globex" },
                status,
            }
        })
        .collect()
}

/// Sends every order to checkout at once and checks each answer.
fn place(checkout: SocketAddr, orders: &[Placed]) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = format!("http://{checkout}/checkout");
        let mut sent = JoinSet::new();
        for placed in orders {
            let request = client
                .post(&url)
                .header("baggage", format!("tenant={}", placed.tenant))
                .json(&placed.order);
            let (id, tenant, expected) =
                (placed.order.order_id.clone(), placed.tenant, placed.status);
            sent.spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                // Reading the body to its end is what ends the SERVER span.
                let body: Value = response.json().await.unwrap();
                assert_eq!(status, expected, "order {id}: {body}");
                if status == 200 {
                    assert_eq!(body["order_id"], id.as_str(), "{body}");
                    assert_eq!(body["tenant"], tenant, "{body}");
                    assert!(body["total_cents"].as_u64().unwrap() > 0, "{body}");
                }
            });
        }
        while let Some(done) = sent.join_next().await {
            done.unwrap();
        }
    });
}

/// How many connections wait on `listener` (accepted here, and closed).
fn connections(listener: &TcpListener) -> io::Result<usize> {
    listener.set_nonblocking(true)?;
    let mut count = 0;
    loop {
        match listener.accept() {
            Ok(_) => count += 1,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(count),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

#[test]
fn the_microservices_replayed_200_at_once_report_no_unpatched_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let recordings = dir.join("recordings");
    let orders = orders();

    // Record: the three services, the orders all at once, then Ctrl-C,
    // which writes every recording before the process exits.
    let stack = RecordStack::start(dir, &recordings);
    place(stack.checkout, &orders);
    let (inventory, pricing) = stack.stop();

    let loaded = RecordingStore::new(&recordings).load().unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let mut by_service: BTreeMap<String, usize> = BTreeMap::new();
    let mut checkout_orders = HashSet::new();
    for stored in &loaded.recordings {
        let recording = &stored.recording;
        *by_service
            .entry(recording.service_name.clone())
            .or_default() += 1;
        if recording.service_name == "checkout" {
            let inbound = recording.inbound().unwrap();
            assert!(inbound.response.is_some(), "{}", stored.path.display());
            let order: Order = serde_json::from_slice(&inbound.request.body.bytes).unwrap();
            checkout_orders.insert(order.order_id);
        }
    }
    let (stock_and_reserve, quotes) = orders
        .iter()
        .map(Placed::upstream_requests)
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    let expected = BTreeMap::from([
        ("checkout".to_owned(), ORDERS),
        ("inventory".to_owned(), stock_and_reserve),
        ("pricing".to_owned(), quotes),
    ]);
    assert_eq!(
        by_service,
        expected,
        "one recording per request served; the example's log:\n{}",
        read(&dir.join("record.log"))
    );
    assert_eq!(checkout_orders.len(), ORDERS, "one checkout per order id");

    // Replay: checkout alone, calling inventory and pricing where they
    // were recorded (calls are matched by URL); their ports held with
    // nothing serving them, so a connection that got there waits to be
    // counted.
    let hold = |addr: SocketAddr| {
        TcpListener::bind(addr).unwrap_or_else(|err| {
            panic!("cannot hold {addr} again after the example stopped: {err}")
        })
    };
    let held = [hold(inventory), hold(pricing)];
    let port = free_port();
    let report_path = dir.join("report.json");
    let service = format!("{} checkout", quoted(&microservices_exe()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracetape"));
    hermetic(&mut command, dir)
        .args(["replay", "--command", &service])
        .args(["--port", &port.to_string()])
        .arg("--recordings")
        .arg(&recordings)
        .args(["--service", "checkout"])
        .args(["--concurrency", &ORDERS.to_string()])
        .arg("--fail-on-unpatched")
        .args(["--format", "json"])
        .arg("--output")
        .arg(&report_path)
        // The service started inherits these.
        .env("CHECKOUT_PORT", port.to_string())
        .env("INVENTORY_URL", format!("http://{inventory}"))
        .env("PRICING_URL", format!("http://{pricing}"))
        .stdin(Stdio::null());
    let started = Instant::now();
    let output = command.output().unwrap();
    let took = started.elapsed();
    eprintln!("tracetape replay of {ORDERS} recordings at once took {took:?}");

    let report: Value = serde_json::from_str(&read(&report_path)).unwrap_or_else(|err| {
        panic!(
            "no JSON report ({err}): {} {}",
            output.status,
            both(&output)
        )
    });
    // The findings first: they are what this test is about.
    assert_eq!(
        report["unpatched"],
        json!([]),
        "unpatched connections or resolutions in the microservices example: {}",
        serde_json::to_string_pretty(&report["unpatched"]).unwrap()
    );
    // Without the library nothing could be found: the run must have had it.
    assert_eq!(report["unpatched_detection"], true, "{}", both(&output));
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("detection cannot work"),
        "{}",
        both(&output)
    );
    let ignored = report["unpatched_ignored"].as_u64().unwrap();
    eprintln!("connections of other processes of the service's group, ignored: {ignored}");
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));

    assert_eq!(report["service"], "checkout");
    assert_eq!(report["service_restarts"], 0, "{report}");
    assert_eq!(report["service_failure"], Value::Null, "{report}");
    assert_eq!(report["interrupted"], false);
    assert_eq!(report["selected"], ORDERS);
    let schema_text = include_str!("../../../docs/replay-report.schema.json");
    let schema_doc: Value = serde_json::from_str(schema_text).unwrap();
    assert_eq!(
        schema::violations(&schema_doc, &report),
        Vec::<String>::new()
    );
    let totals = &report["totals"];
    assert_eq!(totals["recordings"], ORDERS, "{totals}");
    assert_eq!(totals["passed"], ORDERS, "{totals}");
    assert_eq!(report["unmatched_calls"], 0);
    let replayed = report["recordings"].as_array().unwrap();
    assert_eq!(replayed.len(), ORDERS);
    let mut calls = 0;
    for recording in replayed {
        assert_eq!(recording["outcome"], "passed", "{recording}");
        assert_eq!(
            recording["status"], recording["recorded_status"],
            "{recording}"
        );
        assert_eq!(recording["unused_calls"], json!([]), "{recording}");
        calls += recording["calls"].as_array().unwrap().len();
    }
    // Every call the recordings hold was made again, and answered by them.
    assert_eq!(calls, stock_and_reserve + quotes);

    // And none of them reached the network.
    let reached: Vec<usize> = held.iter().map(|l| connections(l).unwrap()).collect();
    assert_eq!(
        reached,
        [0, 0],
        "connections reached inventory ({inventory}) and pricing ({pricing})"
    );
}
