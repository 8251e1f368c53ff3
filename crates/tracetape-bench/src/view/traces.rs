//! The load generator's spans: traces of a root SERVER span and CLIENT and
//! INTERNAL children across five services, with eight attributes each,
//! made ahead of time into OTLP export requests (so that making them is
//! not in the ingest rate), from a fixed seed.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};

/// The services the spans come from, one resource each.
pub(super) const SERVICES: [&str; 5] =
    ["frontend", "checkout", "payments", "inventory", "shipping"];
/// Distinct `user.id` values, spread over the traces.
const USERS: u64 = 10_000;
/// Distinct `sku` values.
const SKUS: u64 = 1_000;
/// One trace in this many has an error span.
const ERROR_ONE_IN: u64 = 100;
/// How far back the traces start, in nanoseconds (an hour).
const SPREAD_NS: u64 = 3_600_000_000_000;

/// The HTTP calls spans are named after: method and route.
const ROUTES: [(&str, &str); 10] = [
    ("GET", "/api/orders/{order_id}"),
    ("POST", "/api/orders"),
    ("GET", "/api/cart"),
    ("POST", "/api/checkout"),
    ("GET", "/api/products/{sku}"),
    ("PUT", "/api/cart/items/{sku}"),
    ("DELETE", "/api/cart/items/{sku}"),
    ("POST", "/api/payments/charge"),
    ("GET", "/api/inventory/{sku}"),
    ("POST", "/api/shipments"),
];

/// The names of INTERNAL spans.
const INTERNAL: [&str; 5] = [
    "validate cart",
    "compute price",
    "SELECT orders",
    "cache get",
    "render receipt",
];

/// SplitMix64: small, fast and the same on every run for one seed.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Random bytes (ids), never all zero.
    fn id<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        out[0] |= 1;
        out
    }
}

/// One generated trace, as the benchmark remembers it.
#[derive(Debug, Clone)]
pub(super) struct TraceInfo {
    pub(super) id: [u8; 16],
    pub(super) spans: u32,
    pub(super) service: &'static str,
    pub(super) user: String,
    pub(super) order: String,
    pub(super) sku: String,
}

/// Everything generated: the requests to send and the traces in them.
#[derive(Debug)]
pub(super) struct Generated {
    pub(super) requests: Vec<ExportTraceServiceRequest>,
    pub(super) traces: Vec<TraceInfo>,
    pub(super) spans: u64,
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub(super) spans: u64,
    pub(super) spans_per_trace: u32,
    pub(super) batch: u32,
    pub(super) seed: u64,
}

/// Generates `shape.spans` spans in traces of `shape.spans_per_trace`
/// (the last one shorter when they do not divide), cut into requests of
/// `shape.batch` spans (a trace may straddle two, as an SDK's batches do).
pub(super) fn generate(shape: Shape) -> anyhow::Result<Generated> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?;
    let now_ns = u64::try_from(now.as_nanos()).context("the clock is past 2554")?;
    let mut rng = Rng::new(shape.seed);
    let mut batcher = Batcher::new(shape.batch as usize);
    let mut traces = Vec::new();
    let mut left = shape.spans;
    while left > 0 {
        let count = left.min(u64::from(shape.spans_per_trace));
        let (info, spans) = trace(&mut rng, traces.len(), count as u32, now_ns);
        for (service, span) in spans {
            batcher.push(service, span);
        }
        traces.push(info);
        left -= count;
    }
    Ok(Generated {
        requests: batcher.finish(),
        traces,
        spans: shape.spans,
    })
}

/// Collects spans by service and cuts a request every `size` spans.
struct Batcher {
    size: usize,
    pending: BTreeMap<usize, Vec<Span>>,
    count: usize,
    done: Vec<ExportTraceServiceRequest>,
    resources: Vec<Resource>,
}

impl Batcher {
    fn new(size: usize) -> Self {
        Batcher {
            size: size.max(1),
            pending: BTreeMap::new(),
            count: 0,
            done: Vec::new(),
            resources: (0..SERVICES.len()).map(resource).collect(),
        }
    }

    fn push(&mut self, service: usize, span: Span) {
        self.pending.entry(service).or_default().push(span);
        self.count += 1;
        if self.count == self.size {
            self.cut();
        }
    }

    /// The pending spans as one request, a `ResourceSpans` per service.
    fn cut(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let resource_spans = pending
            .into_iter()
            .map(|(service, spans)| ResourceSpans {
                resource: self.resources.get(service).cloned(),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "tracetape-bench".to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                        ..InstrumentationScope::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect();
        self.done.push(ExportTraceServiceRequest { resource_spans });
        self.count = 0;
    }

    fn finish(mut self) -> Vec<ExportTraceServiceRequest> {
        if self.count > 0 {
            self.cut();
        }
        self.done
    }
}

/// The resource of service `index`.
fn resource(index: usize) -> Resource {
    let service = SERVICES.get(index).copied().unwrap_or("unknown");
    Resource {
        attributes: vec![
            text("service.name", service),
            text("service.version", "1.4.2"),
            text("deployment.environment.name", "bench"),
            text("host.name", &format!("{service}-7d9f8c-x2k4p")),
        ],
        ..Resource::default()
    }
}

/// A string attribute.
fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// An integer attribute.
fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::IntValue(value)),
        }),
        ..KeyValue::default()
    }
}

/// What every span of a trace shares.
struct TraceCtx {
    id: [u8; 16],
    user: String,
    order: String,
    sku: String,
    error_at: Option<u32>,
}

/// Trace number `index` of `count` spans, each with its service's index:
/// the root SERVER span; at odd positions a CLIENT call of the root's
/// service to another service, under the root; at even ones an INTERNAL
/// span of that callee, under the call.
fn trace(rng: &mut Rng, index: usize, count: u32, now_ns: u64) -> (TraceInfo, Vec<(usize, Span)>) {
    let root_service = rng.below(SERVICES.len() as u64) as usize;
    let ctx = TraceCtx {
        id: rng.id(),
        user: format!("user-{:05}", rng.below(USERS)),
        order: format!("order-{index:08}"),
        sku: format!("sku-{:04}", rng.below(SKUS)),
        error_at: (rng.below(ERROR_ONE_IN) == 0).then(|| count - 1),
    };
    // 1 ms .. 2 s, log-uniform: most requests are quick, a few slow.
    let root_ns = (1e6 * 2000f64.powf(rng.unit())) as u64;
    let root_start = now_ns.saturating_sub(rng.below(SPREAD_NS) + root_ns);
    let root = make_span(rng, &ctx, 0, None, root_service, (root_start, root_ns));
    let under_root = (root_service, span_id(&root), root_start, root_ns);
    let mut spans = vec![(root_service, root)];
    let mut call = under_root;
    for n in 1..count {
        let (service, parent, start, length) = if n % 2 == 1 { under_root } else { call };
        let window = (
            start + (rng.unit() * 0.5 * length as f64) as u64,
            ((0.05 + 0.4 * rng.unit()) * length as f64) as u64,
        );
        let span = make_span(rng, &ctx, n, Some(parent), service, window);
        if n % 2 == 1 {
            let others = rng.below(SERVICES.len() as u64 - 1) as usize;
            let callee = (root_service + 1 + others) % SERVICES.len();
            call = (callee, span_id(&span), window.0, window.1);
        }
        spans.push((service, span));
    }
    let info = TraceInfo {
        id: ctx.id,
        spans: count,
        service: SERVICES.get(root_service).copied().unwrap_or("unknown"),
        user: ctx.user,
        order: ctx.order,
        sku: ctx.sku,
    };
    (info, spans)
}

/// Bytes as lowercase hex digits (a trace id as the view's API takes it).
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A generated span's id (always 8 bytes).
fn span_id(span: &Span) -> [u8; 8] {
    span.span_id.as_slice().try_into().unwrap_or([1u8; 8])
}

/// Span `n` of a trace (0: the root) in `service`, at `(start, length)`.
fn make_span(
    rng: &mut Rng,
    ctx: &TraceCtx,
    n: u32,
    parent: Option<[u8; 8]>,
    service: usize,
    (start, length): (u64, u64),
) -> Span {
    let call = ROUTES[rng.below(ROUTES.len() as u64) as usize];
    let kind = match (n, n % 2) {
        (0, _) => span::SpanKind::Server,
        (_, 1) => span::SpanKind::Client,
        _ => span::SpanKind::Internal,
    };
    let name = match kind {
        span::SpanKind::Internal => INTERNAL[rng.below(INTERNAL.len() as u64) as usize].to_owned(),
        _ => format!("{} {}", call.0, call.1),
    };
    let error = ctx.error_at == Some(n);
    Span {
        trace_id: ctx.id.to_vec(),
        span_id: rng.id::<8>().to_vec(),
        parent_span_id: parent.map(|id| id.to_vec()).unwrap_or_default(),
        name,
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + length.max(1),
        attributes: attributes(ctx, call, service, error),
        status: error.then(|| Status {
            message: "upstream answered 503".to_owned(),
            code: status::StatusCode::Error as i32,
        }),
        ..Span::default()
    }
}

/// A span's eight attributes: the HTTP call `(method, route)` it made or
/// served in `service`, and the trace's user, order and item.
fn attributes(
    ctx: &TraceCtx,
    (method, route): (&str, &str),
    service: usize,
    error: bool,
) -> Vec<KeyValue> {
    let path = route
        .replace("{order_id}", &ctx.order)
        .replace("{sku}", &ctx.sku);
    let host = SERVICES.get(service).copied().unwrap_or("unknown");
    vec![
        text("http.request.method", method),
        text("http.route", route),
        text("url.path", &path),
        int("http.response.status_code", if error { 500 } else { 200 }),
        text("server.address", &format!("{host}.internal")),
        text("user.id", &ctx.user),
        text("order.id", &ctx.order),
        text("sku", &ctx.sku),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_are_whole_and_batches_are_cut_at_the_size() -> anyhow::Result<()> {
        let generated = generate(Shape {
            spans: 1_005,
            spans_per_trace: 10,
            batch: 512,
            seed: 7,
        })?;
        assert_eq!(generated.traces.len(), 101);
        assert_eq!(generated.traces.last().map(|t| t.spans), Some(5));
        let sizes: Vec<usize> = generated
            .requests
            .iter()
            .map(|r| {
                r.resource_spans
                    .iter()
                    .flat_map(|rs| &rs.scope_spans)
                    .map(|ss| ss.spans.len())
                    .sum()
            })
            .collect();
        assert_eq!(sizes, vec![512, 493]);
        let roots = generated
            .requests
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .filter(|s| s.parent_span_id.is_empty())
            .count();
        assert_eq!(roots, 101);
        Ok(())
    }
}
