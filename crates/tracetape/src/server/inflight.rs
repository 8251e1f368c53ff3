//! One request between its start and the end of its response body: owns the
//! SERVER span's context and ends the span, and records the metrics, exactly
//! once, when the body finishes or whatever holds it is dropped.

use std::borrow::Cow;
use std::time::Instant;

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE, HTTP_RESPONSE_STATUS_CODE,
};

use super::metrics::Instruments;

pub(crate) struct InFlight {
    pub(crate) cx: Context,
    start: Instant,
    instruments: Instruments,
    metric_attributes: Vec<KeyValue>,
    status: Option<u16>,
    error: Option<Cow<'static, str>>,
    ended: bool,
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight")
            .field("span", self.cx.span().span_context())
            .field("status", &self.status)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl InFlight {
    /// Counts the request as active until it ends.
    pub(crate) fn begin(
        cx: Context,
        start: Instant,
        instruments: Instruments,
        metric_attributes: Vec<KeyValue>,
    ) -> Self {
        instruments
            .active
            .add(1, active_attributes(&metric_attributes));
        Self {
            cx,
            start,
            instruments,
            metric_attributes,
            status: None,
            error: None,
            ended: false,
        }
    }

    /// Records the response status; 5xx makes the span an error.
    pub(crate) fn set_status(&mut self, status: http::StatusCode) {
        let code = status.as_u16();
        self.status = Some(code);
        if status.is_server_error() {
            self.error = Some(Cow::Owned(code.to_string()));
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
        if self.ended {
            return;
        }
        self.ended = true;
        let elapsed = self.start.elapsed().as_secs_f64();
        let span = self.cx.span();
        if let Some(code) = self.status {
            let attribute = KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(code));
            span.set_attribute(attribute.clone());
            self.metric_attributes.push(attribute);
        }
        if let Some(error) = self.error.take() {
            let attribute = KeyValue::new(ERROR_TYPE, error);
            span.set_attribute(attribute.clone());
            span.set_status(Status::error(""));
            self.metric_attributes.push(attribute);
        }
        span.end();
        self.instruments
            .duration
            .record(elapsed, &self.metric_attributes);
        self.instruments
            .active
            .add(-1, active_attributes(&self.metric_attributes));
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.end();
    }
}

/// `http.server.active_requests` carries the method and scheme only.
fn active_attributes(metric_attributes: &[KeyValue]) -> &[KeyValue] {
    &metric_attributes[..metric_attributes.len().min(2)]
}
