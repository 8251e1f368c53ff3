//! The built-in generator, `tracetape-bench load`: raw hyper HTTP/1.1
//! connections on a current-thread runtime, for machines without wrk. It
//! prints one `key=value` result line, which [`parse`] reads back.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::{LoadResult, Target};
use crate::child::stdin_closed;
use crate::cli::LoadArgs;

/// The arguments of `tracetape-bench load` for one run.
pub(super) fn args(port: u16, target: &Target, connections: u32, seconds: u64) -> Vec<String> {
    let mut args = vec![
        "load".to_owned(),
        "--port".to_owned(),
        port.to_string(),
        "--connections".to_owned(),
        connections.to_string(),
        "--seconds".to_owned(),
        seconds.to_string(),
    ];
    if let Target::Json { body, .. } = target {
        args.push("--body-file".to_owned());
        args.push(body.to_string_lossy().into_owned());
    }
    args
}

/// Reads the single `key=value ...` line that `load` prints.
pub(super) fn parse(out: &str) -> anyhow::Result<LoadResult> {
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with("requests="))
        .context("no result line")?;
    let mut result = LoadResult::default();
    for pair in line.split_whitespace() {
        let (key, value) = pair.split_once('=').context("key=value")?;
        match key {
            "requests" => result.requests = value.parse()?,
            "errors" => result.errors = value.parse()?,
            "seconds" => result.seconds = value.parse()?,
            "p50_us" => result.p50_ms = value.parse::<f64>().ok().map(|us| us / 1000.0),
            "p99_us" => result.p99_ms = value.parse::<f64>().ok().map(|us| us / 1000.0),
            "max_us" => result.max_ms = value.parse::<f64>().ok().map(|us| us / 1000.0),
            _ => {}
        }
    }
    if result.seconds <= 0.0 {
        bail!("run time missing");
    }
    result.rps = result.requests as f64 / result.seconds;
    Ok(result)
}

/// What one connection of the built-in generator saw.
#[derive(Debug, Default)]
struct ConnectionStats {
    latencies_us: Vec<u32>,
    errors: u64,
}

/// The request every connection sends: `GET /hello`, or `POST /echo` with
/// a JSON body.
#[derive(Debug, Clone)]
struct Template {
    addr: SocketAddr,
    body: Option<Bytes>,
}

impl Template {
    fn request(&self) -> anyhow::Result<Request<Full<Bytes>>> {
        let builder = Request::builder().header(HOST, self.addr.to_string());
        let request = match &self.body {
            None => builder
                .method(Method::GET)
                .uri("/hello")
                .body(Full::new(Bytes::new()))?,
            Some(body) => builder
                .method(Method::POST)
                .uri("/echo")
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(body.clone()))?,
        };
        Ok(request)
    }
}

/// `load`: the built-in generator. Prints one result line on standard
/// output.
pub(crate) fn generate(args: &LoadArgs) -> anyhow::Result<()> {
    let body = match &args.body_file {
        Some(path) => Some(Bytes::from(
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        )),
        None => None,
    };
    let template = Template {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)),
        body,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the load runtime")?;
    let stop = stdin_closed();
    let (stats, seconds) = runtime.block_on(async {
        tokio::select! {
            stats = generate_for(args, template) => Ok(stats),
            _ = stop => Err(anyhow::anyhow!("stopped: standard input closed")),
        }
    })?;
    let mut latencies: Vec<u32> = Vec::new();
    let mut errors = 0;
    for s in stats {
        latencies.extend_from_slice(&s.latencies_us);
        errors += s.errors;
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> String {
        if latencies.is_empty() {
            return "-".to_owned();
        }
        let rank = ((latencies.len() as f64) * p).ceil() as usize;
        let index = rank.clamp(1, latencies.len()) - 1;
        latencies.get(index).map_or("-".to_owned(), u32::to_string)
    };
    println!(
        "requests={} errors={errors} seconds={seconds:.3} p50_us={} p99_us={} max_us={}",
        latencies.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
    Ok(())
}

/// Runs the connections until the deadline; returns their stats and the
/// length of the measured window in seconds.
async fn generate_for(args: &LoadArgs, template: Template) -> (Vec<ConnectionStats>, f64) {
    let start = tokio::time::Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let mut tasks = JoinSet::new();
    for _ in 0..args.connections {
        tasks.spawn(connection(template.clone(), deadline));
    }
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(stats) => all.push(stats),
            Err(_) => all.push(ConnectionStats {
                latencies_us: Vec::new(),
                errors: 1,
            }),
        }
    }
    (all, (deadline - start).as_secs_f64())
}

/// One client connection, reconnecting after errors, until `deadline`;
/// responses still in flight at the deadline are not counted.
async fn connection(template: Template, deadline: tokio::time::Instant) -> ConnectionStats {
    let mut stats = ConnectionStats::default();
    let _ = tokio::time::timeout_at(deadline, async {
        loop {
            if request_loop(&template, &mut stats).await.is_err() {
                stats.errors += 1;
                // Do not spin on a refused connection.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    })
    .await;
    stats
}

/// Sends the template's request on one keep-alive connection until an
/// error.
async fn request_loop(template: &Template, stats: &mut ConnectionStats) -> anyhow::Result<()> {
    let tcp = TcpStream::connect(template.addr).await?;
    tcp.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tcp)).await?;
    // Ends when `sender` is dropped.
    tokio::spawn(conn);
    loop {
        sender.ready().await?;
        let request = template.request()?;
        let sent = Instant::now();
        let response = sender.send_request(request).await?;
        let ok = response.status().is_success();
        response.into_body().collect().await?;
        if ok {
            let micros = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
            stats.latencies_us.push(micros);
        } else {
            stats.errors += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn parses_builtin() -> anyhow::Result<()> {
        let r = parse("requests=1000 errors=0 seconds=2.000 p50_us=900 p99_us=2000 max_us=7500\n")?;
        assert_eq!(r.requests, 1000);
        assert!((r.rps - 500.0).abs() < 1e-9);
        assert_eq!(r.p50_ms, Some(0.9));
        assert_eq!(r.p99_ms, Some(2.0));
        assert_eq!(r.max_ms, Some(7.5));
        Ok(())
    }

    #[test]
    fn json_target_passes_the_body_file() {
        let target = Target::Json {
            body: PathBuf::from("/t/b.json"),
            script: PathBuf::from("/t/b.lua"),
        };
        let args = args(4242, &target, 8, 5);
        assert!(args.ends_with(&["--body-file".to_owned(), "/t/b.json".to_owned()]));
        assert!(!super::args(4242, &Target::Hello, 8, 5).contains(&"--body-file".to_owned()));
    }

    #[test]
    fn template_builds_get_and_post() -> anyhow::Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 1));
        let get = Template { addr, body: None }.request()?;
        assert_eq!(get.method(), Method::GET);
        assert_eq!(get.uri(), "/hello");
        let post = Template {
            addr,
            body: Some(Bytes::from_static(b"{}")),
        }
        .request()?;
        assert_eq!(post.method(), Method::POST);
        assert_eq!(post.uri(), "/echo");
        assert_eq!(post.headers()[CONTENT_TYPE], "application/json");
        Ok(())
    }
}
