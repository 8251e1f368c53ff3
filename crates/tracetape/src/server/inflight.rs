//! One request between its start and the end of its response body: owns the
//! SERVER span's context and ends the span, and records the metrics, exactly
//! once, when the body finishes or whatever holds it is dropped.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE, HTTP_RESPONSE_STATUS_CODE,
};

use super::active::Counted;
use super::metrics::{Instruments, Labels};
use crate::grpc;

pub(crate) struct InFlight {
    pub(crate) cx: Context,
    start: Instant,
    instruments: Arc<Instruments>,
    /// Taken by [`end`](Self::end).
    labels: Option<Labels>,
    counted: Counted,
    status: Option<u16>,
    error: Option<Cow<'static, str>>,
    /// A gRPC call's status, once the response's headers or trailers
    /// said it.
    grpc_status: Option<grpc::Code>,
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight")
            .field("span", self.cx.span().span_context())
            .field("status", &self.status)
            .field("ended", &self.labels.is_none())
            .finish_non_exhaustive()
    }
}

impl InFlight {
    /// Counts the request as active until it ends.
    pub(crate) fn begin(
        cx: Context,
        start: Instant,
        instruments: Arc<Instruments>,
        labels: Labels,
    ) -> Self {
        let counted = instruments.active.begin(labels.method, &labels.scheme);
        Self {
            cx,
            start,
            instruments,
            labels: Some(labels),
            counted,
            status: None,
            error: None,
            grpc_status: None,
        }
    }

    /// Whether the request is a gRPC call.
    pub(crate) fn is_rpc(&self) -> bool {
        self.labels
            .as_ref()
            .is_some_and(|labels| labels.rpc.is_some())
    }

    /// Records the response status; 5xx makes the span an error. A gRPC
    /// call's outcome is its `grpc-status` instead: read here from a
    /// trailers-only response's `headers`, else from the trailers
    /// ([`trailers`](Self::trailers)); an HTTP status other than 200
    /// means it was not answered as gRPC at all, an error.
    pub(crate) fn set_status(&mut self, status: http::StatusCode, headers: &http::HeaderMap) {
        let code = status.as_u16();
        if self.is_rpc() {
            self.grpc_status = grpc::status(headers);
            if status != http::StatusCode::OK {
                self.error = Some(Cow::Owned(code.to_string()));
            }
            return;
        }
        self.status = Some(code);
        if status.is_server_error() {
            self.error = Some(Cow::Owned(code.to_string()));
        }
    }

    /// Reads a gRPC call's status from the response's trailers.
    pub(crate) fn trailers(&mut self, trailers: &http::HeaderMap) {
        if self.is_rpc()
            && let Some(code) = grpc::status(trailers)
        {
            self.grpc_status = Some(code);
        }
    }

    /// Marks the request failed with a low-cardinality `error.type`.
    pub(crate) fn set_error(&mut self, kind: impl Into<Cow<'static, str>>) {
        self.error = Some(kind.into());
    }

    /// Records a panic of the handler as an `exception` event.
    pub(crate) fn record_panic(&self, message: &str) {
        self.cx.span().add_event(
            "exception",
            vec![
                KeyValue::new(EXCEPTION_TYPE, "panic"),
                KeyValue::new(EXCEPTION_MESSAGE, message.to_owned()),
            ],
        );
    }

    /// Ends the span and records the metrics; later calls do nothing.
    pub(crate) fn end(&mut self) {
        let Some(labels) = self.labels.take() else {
            return;
        };
        let elapsed = self.start.elapsed().as_secs_f64();
        let rpc = labels.rpc.is_some();
        let mut attributes = labels.into_attributes();
        let span = self.cx.span();
        if rpc {
            // No status by the end: the handler failed (which `error`
            // already says), else the client went away first.
            let code = match (self.grpc_status.take(), &self.error) {
                (Some(code), _) => code,
                (None, Some(_)) => grpc::Code::Unknown,
                (None, None) => grpc::Code::Cancelled,
            };
            for attribute in grpc::status_attributes(code) {
                span.set_attribute(attribute.clone());
                attributes.push(attribute);
            }
            if self.error.is_none() && code.is_error(grpc::Side::Server) {
                self.error = Some(Cow::Borrowed(code.name()));
            }
        }
        if let Some(code) = self.status {
            let attribute = KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(code));
            span.set_attribute(attribute.clone());
            attributes.push(attribute);
        }
        if let Some(error) = self.error.take() {
            let attribute = KeyValue::new(ERROR_TYPE, error);
            span.set_attribute(attribute.clone());
            span.set_status(Status::error(""));
            attributes.push(attribute);
        }
        span.end();
        let duration = if rpc {
            &self.instruments.rpc_duration
        } else {
            &self.instruments.duration
        };
        duration.record(elapsed, attributes.as_slice());
        self.instruments.active.end(&self.counted);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.end();
    }
}
