//! gRPC calls told apart from other HTTP requests ([`is_grpc`]), for both
//! layers and for the replay driver: a
//! request whose `content-type` is `application/grpc` (or
//! `application/grpc+proto`, `+json`, …) is a call of the method its path
//! names, `/{package.Service}/{Method}`, and its outcome is the
//! `grpc-status` of the response's trailers (or of its headers, for a
//! trailers-only answer), not the HTTP status.
//!
//! Spans and metrics of a call follow the RPC semantic conventions as
//! OpenTelemetry's gRPC instrumentations emit them (semantic conventions
//! 1.37): span name `{rpc.service}/{rpc.method}`, `rpc.system` `grpc`,
//! `rpc.service`, `rpc.method`, `rpc.grpc.status_code` (an integer), and
//! `rpc.server.call.duration` / `rpc.client.call.duration` in seconds.
//! `OTEL_SEMCONV_STABILITY_OPT_IN=rpc` switches to the stable RPC
//! conventions (`rpc.system.name`, `rpc.method` as
//! `package.Service/Method`, `rpc.response.status_code` as the code's
//! name), `rpc/dup` emits both (`rpc.method` then the stable value), as
//! the conventions' migration plan asks of instrumentations
//! (`conventions.rs`).

mod conventions;
mod status;
pub mod wire;

use std::borrow::Cow;

use http::HeaderMap;
use opentelemetry::{KeyValue, StringValue};

use crate::http_attrs::interned;
use conventions::Conventions;

pub(crate) use conventions::status_attributes;
pub(crate) use status::{Code, Side};

/// `rpc.system`.
const RPC_SYSTEM: &str = "rpc.system";
/// `rpc.service`: the service's full name, package included.
const RPC_SERVICE: &str = "rpc.service";
/// `rpc.method`: the method's name within its service (in the stable
/// conventions, `package.Service/Method`).
const RPC_METHOD: &str = "rpc.method";
/// `rpc.grpc.status_code`: the numeric status.
const RPC_GRPC_STATUS_CODE: &str = "rpc.grpc.status_code";
/// `rpc.system.name` (stable conventions).
const RPC_SYSTEM_NAME: &str = "rpc.system.name";
/// `rpc.response.status_code` (stable conventions): the code's name.
const RPC_RESPONSE_STATUS_CODE: &str = "rpc.response.status_code";
/// The server's call duration, in seconds.
pub(crate) const RPC_SERVER_CALL_DURATION: &str = "rpc.server.call.duration";
/// The client's call duration, in seconds.
pub(crate) const RPC_CLIENT_CALL_DURATION: &str = "rpc.client.call.duration";

/// `rpc.system` of every call here.
const GRPC: &str = "grpc";

/// Which method a gRPC request calls.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// `package.Service`.
    pub(crate) service: StringValue,
    /// `Method`.
    pub(crate) method: StringValue,
    /// `package.Service/Method`: the span's name.
    pub(crate) name: Cow<'static, str>,
}

impl Call {
    /// The call `headers` and `path` make, when the content type is
    /// gRPC's. A path without a `/` between service and method is kept
    /// whole as the service, with an empty method.
    pub(crate) fn of(headers: &HeaderMap, path: &str) -> Option<Self> {
        if !is_grpc(headers) {
            return None;
        }
        let name = path.strip_prefix('/').unwrap_or(path);
        let (service, method) = name.split_once('/').unwrap_or((name, ""));
        Some(Self {
            service: interned::value(service),
            method: interned::value(method),
            name: interned::kept(name),
        })
    }

    /// The attributes every span and measurement of the call carries:
    /// `rpc.system`, `rpc.service`, `rpc.method`, or the stable
    /// conventions' (see the module docs).
    pub(crate) fn attributes(&self) -> Vec<KeyValue> {
        self.attributes_in(Conventions::current())
    }

    fn attributes_in(&self, conventions: Conventions) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(4);
        if conventions.old() {
            attributes.push(KeyValue::new(RPC_SYSTEM, GRPC));
            attributes.push(KeyValue::new(RPC_SERVICE, self.service.clone()));
        }
        if conventions.stable() {
            attributes.push(KeyValue::new(RPC_SYSTEM_NAME, GRPC));
            let full = match &self.name {
                Cow::Borrowed(name) => StringValue::from(*name),
                Cow::Owned(name) => StringValue::from(name.clone()),
            };
            attributes.push(KeyValue::new(RPC_METHOD, full));
        } else {
            attributes.push(KeyValue::new(RPC_METHOD, self.method.clone()));
        }
        attributes
    }
}

/// Whether `headers` say the body is gRPC's: a `content-type` of
/// `application/grpc`, alone or followed by `+` or `;` and more.
///
/// ```
/// use http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc+proto"));
/// assert!(tracetape::grpc::is_grpc(&headers));
/// headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc-web"));
/// assert!(!tracetape::grpc::is_grpc(&headers));
/// ```
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| is_grpc_content_type(value.as_bytes()))
}

/// Whether a `content-type` value is gRPC's (see [`is_grpc`]).
///
/// ```
/// assert!(tracetape::grpc::is_grpc_content_type(b"application/grpc"));
/// assert!(tracetape::grpc::is_grpc_content_type(b"Application/GRPC; charset=utf-8"));
/// assert!(!tracetape::grpc::is_grpc_content_type(b"application/json"));
/// ```
pub fn is_grpc_content_type(value: &[u8]) -> bool {
    const GRPC_TYPE: &[u8] = b"application/grpc";
    value
        .get(..GRPC_TYPE.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(GRPC_TYPE))
        && matches!(value.get(GRPC_TYPE.len()), None | Some(b'+' | b';'))
}

/// The `grpc-status` in `headers` (a response's trailers, or a
/// trailers-only response's headers), when there is one to read.
pub(crate) fn status(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    value.trim().parse::<u16>().ok().map(Code::from_number)
}

#[cfg(all(test, feature = "grpc"))]
mod tests;
