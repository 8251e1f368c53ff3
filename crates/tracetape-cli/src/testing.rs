//! What the unit tests share: recordings built from values, and
//! `tracetape replay`'s arguments parsed from flags.

use clap::Parser;

use tracetape::opentelemetry::trace::{SpanId, TraceId};
use tracetape::record::{
    BodyRecord, Exchange, ExchangeKind, HeaderRecord, Recording, RequestRecord, ResponseRecord,
};

use crate::replay::ReplayArgs;

/// `tracetape replay`'s arguments alone, to parse them without the rest of
/// the command line.
#[derive(Debug, Parser)]
struct Replay {
    #[command(flatten)]
    args: ReplayArgs,
}

/// The arguments of `tracetape replay FLAGS...`.
///
/// # Panics
///
/// When the flags do not parse.
#[allow(clippy::unwrap_used)]
pub(crate) fn replay_args<'a>(flags: impl IntoIterator<Item = &'a str>) -> ReplayArgs {
    let argv = std::iter::once("tracetape replay").chain(flags);
    Replay::try_parse_from(argv).unwrap().args
}

/// `GET /` without headers, body or response, lasting a nanosecond from
/// `start`, by the span `span` under `parent`.
pub(crate) fn exchange(kind: ExchangeKind, span: u64, parent: u64, start: u64) -> Exchange {
    Exchange {
        kind,
        span_id: SpanId::from(span),
        parent_span_id: SpanId::from(parent),
        name: "GET".to_owned(),
        route: None,
        start_unix_nanos: start,
        end_unix_nanos: start + 1,
        request: RequestRecord {
            method: "GET".to_owned(),
            url: "/".to_owned(),
            headers: Vec::new(),
            body: BodyRecord::default(),
        },
        response: None,
        error: None,
    }
}

/// A response with `status`, `content-type: application/json` and `body`.
pub(crate) fn json_response(status: u16, body: &str) -> ResponseRecord {
    ResponseRecord {
        status,
        headers: vec![HeaderRecord {
            name: "content-type".to_owned(),
            value: b"application/json".to_vec().into(),
        }],
        body: BodyRecord {
            bytes: body.as_bytes().to_vec().into(),
            truncated: false,
            size: body.len() as u64,
        },
    }
}

/// A recording of `service` in the trace `trace`, background when it has
/// no inbound exchange.
pub(crate) fn recording(trace: u128, service: &str, exchanges: Vec<Exchange>) -> Recording {
    Recording {
        trace_id: TraceId::from(trace),
        service_name: service.to_owned(),
        background: !exchanges.iter().any(|e| e.kind == ExchangeKind::Server),
        exchanges,
    }
}
