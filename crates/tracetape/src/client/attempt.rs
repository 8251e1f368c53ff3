//! One attempt of an outbound request, the core both client integrations
//! share: starts the CLIENT span and injects its context, then ends the
//! span and records the duration, exactly once, when the response head
//! arrives, the attempt fails, or the caller drops it.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::header::USER_AGENT;
use http::{Extensions, HeaderMap};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE, HTTP_REQUEST_METHOD,
    HTTP_REQUEST_METHOD_ORIGINAL, HTTP_REQUEST_RESEND_COUNT, HTTP_RESPONSE_STATUS_CODE,
    NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT, URL_FULL, URL_SCHEME,
    USER_AGENT_ORIGINAL,
};

use super::config::Config;
use super::error_type;
use super::extensions::UrlTemplate;
use super::info::{Outcome, RequestInfo};
use super::recording::{self, Pending};
use super::url::Target;
use crate::grpc;
use crate::hook;
use crate::http_attrs::{Method, interned, protocol_version, redact_url};
use crate::propagation::{self, RequestHeadersMut};

/// `url.template` (still "development" in the conventions, so the constant
/// is not in the stable set).
const URL_TEMPLATE: &str = "url.template";

/// Room for every start attribute, plus the status and error set at the end.
const ATTRIBUTES: usize = 14;

/// What an integration knows about a request before sending it.
pub(crate) struct Head<'a> {
    pub(crate) method: &'a http::Method,
    pub(crate) target: Target<'a>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) version: http::Version,
    /// The extensions that may carry a [`UrlTemplate`].
    pub(crate) extensions: &'a Extensions,
    /// Sends of this request before this one.
    pub(crate) resends: u32,
}

impl Head<'_> {
    fn info(&self) -> RequestInfo<'_> {
        RequestInfo {
            method: self.method,
            url: &self.target.full,
            headers: self.headers,
            version: self.version,
        }
    }

    fn template(&self) -> Option<&UrlTemplate> {
        self.extensions.get()
    }
}

/// An attempt in flight.
pub(crate) struct Attempt {
    cx: Context,
    start: Instant,
    config: Arc<Config>,
    /// The URL as sent and as `url.full` shows it, when they differ by a
    /// secret: error messages that quote the URL (reqwest's do) show it
    /// redacted too.
    url_shown: Option<(String, String)>,
    /// The duration's attributes known at the start; taken by `end`.
    labels: Option<Vec<KeyValue>>,
    /// Record mode: the attempt's exchange, until the integration takes
    /// it with the request head.
    recording: Option<Pending>,
    /// A gRPC call's status, once its response's trailers (or headers)
    /// said it; `Some(None)` for a gRPC call whose status is not known
    /// yet, `None` for a plain HTTP request.
    grpc: Option<Option<grpc::Code>>,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("span", self.cx.span().span_context())
            .field("ended", &self.labels.is_none())
            .field("recording", &self.recording)
            .finish_non_exhaustive()
    }
}

impl Attempt {
    /// Starts the CLIENT span as a child of the current context and runs
    /// the request hook; `None` when the request is excluded or telemetry
    /// is suppressed (tracetape's own traffic), so nothing is recorded or
    /// injected. In record mode (a recording in the current context, or a
    /// recorder on the layer) the attempt also holds its pending exchange,
    /// for [`take_recording`](Self::take_recording).
    pub(crate) fn start(config: &Arc<Config>, head: &Head<'_>) -> Option<Self> {
        let start = Instant::now();
        let parent = Context::current();
        let info = head.info();
        if parent.is_telemetry_suppressed() || config.is_excluded(&info) {
            return None;
        }
        let plan = recording::plan(config, &parent);
        let started_at = plan.as_ref().map(|_| SystemTime::now());
        let rpc = grpc::Call::of(head.headers, head.target.path);
        let method = Method::of(head.method);
        let template = head.template();
        let name: Cow<'static, str> = match (&rpc, template) {
            (Some(call), _) => call.name.clone(),
            (None, Some(template)) => interned::span_name(method, &template.0),
            (None, None) => method.span_name().into(),
        };
        let record_name = plan
            .as_ref()
            .map(|_| (name.to_string(), template.map(|t| t.0.to_string())));
        let mut attributes = Vec::with_capacity(ATTRIBUTES + config.capture_request.len());
        let mut labels = Vec::with_capacity(7);
        match &rpc {
            Some(call) => labels.extend(call.attributes()),
            None => labels.push(KeyValue::new(HTTP_REQUEST_METHOD, method.attribute())),
        }
        if method == Method::Other && rpc.is_none() {
            attributes.push(KeyValue::new(
                HTTP_REQUEST_METHOD_ORIGINAL,
                head.method.as_str().to_owned(),
            ));
        }
        if let Some(host) = head.target.host {
            labels.push(KeyValue::new(SERVER_ADDRESS, interned::value(host)));
        }
        if let Some(port) = head.target.port {
            labels.push(KeyValue::new(SERVER_PORT, i64::from(port)));
        }
        if let Some(scheme) = head.target.scheme.filter(|_| rpc.is_none()) {
            labels.push(KeyValue::new(URL_SCHEME, scheme_value(scheme)));
        }
        if let Some(version) = protocol_version(head.version).filter(|_| rpc.is_none()) {
            labels.push(KeyValue::new(NETWORK_PROTOCOL_VERSION, version));
        }
        attributes.extend(labels.iter().cloned());
        let url_shown = match redact_url(&head.target.full, &config.query_keys) {
            Cow::Owned(redacted) => Some((head.target.full.to_string(), redacted)),
            Cow::Borrowed(_) => None,
        };
        if rpc.is_none() {
            attributes.push(KeyValue::new(URL_FULL, full_url(config, &head.target.full)));
        }
        if let Some(template) = template {
            attributes.push(KeyValue::new(URL_TEMPLATE, interned::value(&template.0)));
        }
        if let Some(agent) = head.headers.get(USER_AGENT).filter(|_| rpc.is_none()) {
            let agent = interned::value(&String::from_utf8_lossy(agent.as_bytes()));
            attributes.push(KeyValue::new(USER_AGENT_ORIGINAL, agent));
        }
        if head.resends > 0 {
            attributes.push(KeyValue::new(
                HTTP_REQUEST_RESEND_COUNT,
                i64::from(head.resends),
            ));
        }
        config
            .capture_request
            .capture(head.headers, &mut attributes);
        let span = config.providers.with_tracer(|tracer| {
            tracer
                .span_builder(name)
                .with_kind(SpanKind::Client)
                .with_attributes(attributes)
                .start_with_context(tracer, &parent)
        });
        let cx = propagation::with_span(&parent, span);
        let recording = plan.zip(record_name).map(|(plan, name)| {
            let started_at = started_at.unwrap_or_else(SystemTime::now);
            Pending::new(plan, &cx, &parent, name, started_at)
        });
        if let Some(hook) = &config.on_request {
            hook::guarded("client.on_request", || hook(&cx.span(), &info));
        }
        Some(Self {
            cx,
            start,
            config: config.clone(),
            url_shown,
            labels: Some(labels),
            recording,
            grpc: rpc.map(|_| None),
        })
    }

    /// The context of the CLIENT span.
    pub(crate) fn context(&self) -> &Context {
        &self.cx
    }

    /// Writes the span's context into `headers` with the configured
    /// propagator. Headers the caller set stay: a propagation field the
    /// caller also set is replaced (the span must be the parent of what
    /// the request carries), except `baggage`, where the context's entries
    /// are added as one more header next to the caller's.
    pub(crate) fn inject(&self, headers: &mut HeaderMap) {
        self.config
            .providers
            .inject(&self.cx, &mut RequestHeadersMut(headers));
    }

    /// The attempt's exchange when it is recorded; taken once, after
    /// [`inject`](Self::inject), to record the request head as sent.
    pub(crate) fn take_recording(&mut self) -> Option<Pending> {
        self.recording.take()
    }

    /// Ends the attempt with its outcome: a response of any status, or the
    /// error that prevented one. A gRPC call whose response head says no
    /// status yet goes on: it is handed back, to end with its response
    /// body ([`end_call`](Self::end_call)).
    pub(crate) fn finish(mut self, outcome: Outcome<'_>, error_name: &str) -> Option<Self> {
        let span = self.cx.span();
        let mut end = Vec::with_capacity(2);
        if let Ok(response) = outcome
            && !self.config.capture_response.is_empty()
        {
            let mut captured = Vec::new();
            self.config
                .capture_response
                .capture(response.headers, &mut captured);
            span.set_attributes(captured);
        }
        match outcome {
            Ok(response) if self.grpc.is_some() => {
                let code = match grpc::status(response.headers) {
                    Some(code) => code,
                    None if response.status == http::StatusCode::OK => {
                        if let Some(hook) = &self.config.on_response {
                            hook::guarded("client.on_response", || hook(&span, outcome));
                        }
                        return Some(self);
                    }
                    // Not answered as gRPC: the status gRPC makes of it.
                    None => grpc::Code::from_http(response.status),
                };
                self.grpc = Some(Some(code));
            }
            Ok(response) => {
                let code = response.status.as_u16();
                end.push(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(code)));
                if response.status.is_client_error() || response.status.is_server_error() {
                    end.push(KeyValue::new(ERROR_TYPE, code.to_string()));
                    span.set_status(Status::error(""));
                }
            }
            Err(error) => {
                // No answer: what gRPC's clients report a transport's
                // failure as.
                if let Some(status) = self.grpc.as_mut() {
                    *status = Some(grpc::Code::Unavailable);
                }
                end.push(KeyValue::new(ERROR_TYPE, error_type::classify(error)));
                let mut message = error_message(error);
                if let Some((sent, shown)) = &self.url_shown {
                    message = message.replace(sent.as_str(), shown);
                }
                span.add_event(
                    "exception",
                    vec![
                        KeyValue::new(EXCEPTION_TYPE, error_name.to_owned()),
                        KeyValue::new(EXCEPTION_MESSAGE, message.clone()),
                    ],
                );
                span.set_status(Status::error(message));
            }
        }
        if let Some(hook) = &self.config.on_response {
            hook::guarded("client.on_response", || hook(&span, outcome));
        }
        for attribute in &end {
            span.set_attribute(attribute.clone());
        }
        self.end(end);
        None
    }

    /// Reads a gRPC call's status from its response's trailers.
    pub(crate) fn trailers(&mut self, trailers: &HeaderMap) {
        if let (Some(status), Some(code)) = (self.grpc.as_mut(), grpc::status(trailers)) {
            *status = Some(code);
        }
    }

    /// Ends a gRPC call at the end of its response body, with the status
    /// its trailers said, or with the body's error type when reading it
    /// failed.
    pub(crate) fn end_call(mut self, failed: Option<&'static str>) {
        if let Some(kind) = failed {
            if let Some(status @ None) = self.grpc.as_mut() {
                *status = Some(grpc::Code::Unknown);
            }
            self.cx.span().set_status(Status::error(""));
            self.end(vec![KeyValue::new(ERROR_TYPE, kind)]);
            return;
        }
        // A body that ended without a status: gRPC's clients call that
        // an internal error.
        if let Some(status @ None) = self.grpc.as_mut() {
            *status = Some(grpc::Code::Internal);
        }
        self.end(Vec::new());
    }

    /// Ends the span and records the duration; later calls do nothing. A
    /// gRPC call also gets its status (`CANCELLED` when the caller went
    /// away before one came, which is not an error), and an error type
    /// and span status for a status the client counts as failed.
    fn end(&mut self, mut extra: Vec<KeyValue>) {
        let Some(mut labels) = self.labels.take() else {
            return;
        };
        let elapsed = self.start.elapsed().as_secs_f64();
        let span = self.cx.span();
        if let Some(status) = self.grpc {
            let code = status.unwrap_or(grpc::Code::Cancelled);
            extra.extend(grpc::status_attributes(code));
            let failed = status.is_some_and(|code| code.is_error(grpc::Side::Client));
            let errored = extra.iter().any(|kv| kv.key.as_str() == ERROR_TYPE);
            if failed && !errored {
                extra.push(KeyValue::new(ERROR_TYPE, code.name()));
                span.set_status(Status::error(""));
            }
            for attribute in &extra {
                span.set_attribute(attribute.clone());
            }
        }
        span.end();
        labels.extend(extra);
        let duration = if self.grpc.is_some() {
            self.config.rpc_duration()
        } else {
            self.config.duration()
        };
        duration.record(elapsed, &labels);
    }
}

impl Drop for Attempt {
    /// A caller that drops the request is not an error: the span ends with
    /// no status (a gRPC call's is `CANCELLED`).
    fn drop(&mut self) {
        self.end(Vec::new());
    }
}

fn scheme_value(scheme: &str) -> StringValue {
    match scheme {
        "http" => StringValue::from("http"),
        "https" => StringValue::from("https"),
        other => interned::value(other),
    }
}

/// `url.full`: the caller's filter applied, then secrets redacted; a URL
/// left as it was is shared with the requests that had it before.
fn full_url(config: &Config, url: &str) -> StringValue {
    let filtered = config
        .url_filter
        .as_ref()
        .and_then(|filter| hook::guarded("client.url_filter", || filter(url)));
    match filtered {
        Some(filtered) => StringValue::from(redact_url(&filtered, &config.query_keys).into_owned()),
        None => match redact_url(url, &config.query_keys) {
            Cow::Borrowed(url) => interned::value(url),
            Cow::Owned(redacted) => StringValue::from(redacted),
        },
    }
}

/// The error and its sources, joined as `outer: inner`.
pub(crate) fn error_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = String::new();
    for error in error_type::chain(error) {
        let text = error.to_string();
        // Some errors repeat their source's message in their own.
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}
