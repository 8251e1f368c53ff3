//! The example's binary as a user runs it (`grpc-service all`): an order
//! placed with tonic's client is reserved by stock over gRPC and priced
//! over HTTP, an item stock lacks is `NOT_FOUND`, and `Track` streams its
//! three steps; the spans of both gRPC hops and the HTTP one reach the
//! local store in one trace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use grpc_service::messages::{Order, Receipt, Step, TrackRequest};
use grpc_service::{PLACE, TRACK};
use tonic::codegen::http::uri::PathAndQuery;
use tonic_prost::ProstCodec;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The process, killed if the test ends first.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_goes_through_stock_and_pricing_and_a_stream_sends_its_steps() {
    let dir = tempfile::tempdir().unwrap();
    let (shop, stock, pricing) = (free_port(), free_port(), free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_grpc-service"));
    for (name, _) in std::env::vars_os() {
        let upper = name.to_string_lossy().to_ascii_uppercase();
        if upper.starts_with("OTEL_")
            || upper.starts_with("TRACETAPE_")
            || upper.starts_with("SHOP_")
        {
            command.env_remove(&name);
        }
    }
    let child = command
        .current_dir(dir.path())
        .env("SHOP_PORT", shop.to_string())
        .env("STOCK_PORT", stock.to_string())
        .env("PRICING_PORT", pricing.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], shop));
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(addr).is_err() {
        assert!(
            running.0.try_wait().unwrap().is_none(),
            "grpc-service exited"
        );
        assert!(Instant::now() < deadline, "grpc-service never listened");
        std::thread::sleep(Duration::from_millis(20));
    }

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    let place = |item: &str, quantity| {
        let order = Order {
            item: item.to_owned(),
            quantity,
        };
        let mut grpc = grpc.clone();
        async move {
            grpc.ready().await.unwrap();
            grpc.unary::<Order, Receipt, _>(
                tonic::Request::new(order),
                PathAndQuery::from_static(PLACE),
                ProstCodec::default(),
            )
            .await
        }
    };
    let receipt = place("coffee", 3).await.unwrap().into_inner();
    assert_eq!(receipt.reservation_id, "r-coffee-3");
    assert_eq!(receipt.total_cents, 1200);
    let refused = place("milk", 1).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::NotFound);

    grpc.ready().await.unwrap();
    let mut steps = grpc
        .server_streaming::<TrackRequest, Step, _>(
            tonic::Request::new(TrackRequest {
                reservation_id: receipt.reservation_id,
            }),
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
    assert_eq!(stages, ["packed", "shipped", "delivered"]);

    // Ctrl-C: the example stops serving and its spans are written out.
    let stopped = Command::new("kill")
        .args(["-s", "INT", &running.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "grpc-service did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let spans = stored_spans(&dir.path().join(".tracetape/traces"));
    let placed = spans
        .iter()
        .find(|(_, name, kind)| name == "shop.Shop/Place" && *kind == 2)
        .expect("the shop's server span");
    let in_trace: Vec<(&str, i64)> = spans
        .iter()
        .filter(|(trace, _, _)| *trace == placed.0)
        .map(|(_, name, kind)| (name.as_str(), *kind))
        .collect();
    for expected in [
        ("stock.Stock/Reserve", 3),
        ("stock.Stock/Reserve", 2),
        ("GET /price/{item}", 2),
    ] {
        assert!(in_trace.contains(&expected), "{expected:?} in {in_trace:?}");
    }
}

/// (trace id, name, kind) of every span in the local store's files.
fn stored_spans(dir: &std::path::Path) -> Vec<(String, String, i64)> {
    let mut spans = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "json") {
            continue;
        }
        let document: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let resources = document["resourceSpans"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for scope in resources
            .iter()
            .flat_map(|r| r["scopeSpans"].as_array().cloned().unwrap_or_default())
        {
            for span in scope["spans"].as_array().cloned().unwrap_or_default() {
                spans.push((
                    span["traceId"].as_str().unwrap_or_default().to_owned(),
                    span["name"].as_str().unwrap_or_default().to_owned(),
                    span["kind"].as_i64().unwrap_or_default(),
                ));
            }
        }
    }
    spans
}
