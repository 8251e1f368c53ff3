//! Timing the view's JSON API: trace lookups and searches, one request at
//! a time over a keep-alive loopback connection, each timed from sending
//! the request to the last byte of the answer; every answer checked.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::Value;

/// The median, 95th percentile and maximum of some timings.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stats {
    pub(super) runs: usize,
    pub(super) median: Duration,
    pub(super) p95: Duration,
    pub(super) max: Duration,
}

impl Stats {
    /// Of `times` (nearest-rank percentiles); `None` when empty.
    pub(super) fn of(mut times: Vec<Duration>) -> Option<Self> {
        if times.is_empty() {
            return None;
        }
        times.sort();
        let rank = |q: f64| {
            let at = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len());
            times.get(at - 1).copied()
        };
        Some(Stats {
            runs: times.len(),
            median: rank(0.5)?,
            p95: rank(0.95)?,
            max: times.last().copied()?,
        })
    }
}

/// The view's API over one client.
#[derive(Debug, Clone)]
pub(super) struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    /// A client of the view at `base` (`http://ADDR`).
    pub(super) fn new(base: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .build()
            .context("building the HTTP client")?;
        Ok(Api {
            client,
            base: base.to_owned(),
        })
    }

    /// `GET path`: how long the whole answer took, and the answer as JSON
    /// (parsed after the clock stopped); fails unless it is 200.
    pub(super) async fn get(&self, path: &str) -> anyhow::Result<(Duration, Value)> {
        let url = format!("{}{path}", self.base);
        let started = Instant::now();
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer to GET {path}"))?;
        let took = started.elapsed();
        if !status.is_success() {
            bail!("GET {path}: {status}: {}", String::from_utf8_lossy(&body));
        }
        let json = serde_json::from_slice(&body)
            .with_context(|| format!("GET {path}: the answer is not JSON"))?;
        Ok((took, json))
    }

    /// `GET /api/traces/{id}`, checked to hold `spans` spans.
    pub(super) async fn lookup(&self, id: &str, spans: u32) -> anyhow::Result<Duration> {
        let (took, json) = self.get(&format!("/api/traces/{id}")).await?;
        let found = json
            .get("spans")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        ensure!(
            found == spans as usize,
            "trace {id}: the view shows {found} spans, {spans} were sent"
        );
        Ok(took)
    }

    /// `GET /api/traces?query` `runs` times: the timings and the last
    /// answer's page.
    pub(super) async fn search(&self, query: &str, runs: u32) -> anyhow::Result<(Stats, Page)> {
        let path = format!("/api/traces?{query}");
        let mut times = Vec::new();
        let mut page = Page::default();
        for _ in 0..runs {
            let (took, json) = self.get(&path).await?;
            times.push(took);
            page = Page::of(&json).with_context(|| format!("GET {path}"))?;
        }
        let stats = Stats::of(times).context("no runs")?;
        Ok((stats, page))
    }
}

/// What a search answered.
#[derive(Debug, Clone, Default)]
pub(super) struct Page {
    /// The traces' ids, in the order listed.
    pub(super) ids: Vec<String>,
    /// The next page's cursor.
    pub(super) next: Option<String>,
}

impl Page {
    fn of(json: &Value) -> anyhow::Result<Self> {
        let traces = json
            .get("traces")
            .and_then(Value::as_array)
            .context("no \"traces\" array in the answer")?;
        let ids = traces
            .iter()
            .map(|trace| {
                trace
                    .get("trace_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .context("a trace without a trace_id")
            })
            .collect::<anyhow::Result<_>>()?;
        let next = json.get("next").and_then(Value::as_str).map(str::to_owned);
        Ok(Page { ids, next })
    }
}

/// `key=value&...`, each percent-encoded as a form would.
pub(super) fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encoded(key), encoded(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `text` with everything but unreserved characters percent-encoded.
fn encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() -> anyhow::Result<()> {
        let times = (1..=20).map(Duration::from_millis).collect();
        let stats = Stats::of(times).context("empty")?;
        assert_eq!(stats.median, Duration::from_millis(10));
        assert_eq!(stats.p95, Duration::from_millis(19));
        assert_eq!(stats.max, Duration::from_millis(20));
        assert!(Stats::of(Vec::new()).is_none());
        Ok(())
    }

    #[test]
    fn queries_are_form_encoded() {
        assert_eq!(
            query(&[("attr", "user.id=user-00042"), ("name", "a b&c")]),
            "attr=user.id%3Duser-00042&name=a%20b%26c"
        );
    }
}
