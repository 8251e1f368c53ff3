//! What the server layer does with a request besides tracing it, decided
//! once per request before its span starts ([`Mode::decide`]), and what
//! the response future holds for it until the response ([`Held`]).
//!
//! Record and replay mode are the variants a build with the
//! `record-replay` feature adds; their work is in `record_replay.rs`,
//! `recording.rs` and `replay.rs`, which a tracing-only build does not
//! compile.

use std::task::{Context as TaskContext, Poll};

use http::request::Parts;
use http::{HeaderMap, Response};
use http_body::Body;
use opentelemetry::{Context, StringValue};

use super::body::{Inner, ResponseBody};
use super::config::Config;
#[cfg(feature = "record-replay")]
use super::record_replay::ModeHeld;
use crate::body::LayerBody;

/// How a traced request is handled, decided before its span starts.
#[derive(Debug)]
pub(crate) enum Mode {
    /// Traced only.
    Traced,
    /// Traced; record mode chose not to record it, so its outbound calls
    /// are not recorded as background calls either.
    #[cfg(feature = "record-replay")]
    NotSampled,
    /// Traced and recorded.
    #[cfg(feature = "record-replay")]
    Record(super::recording::Start),
    /// Replayed: its outbound calls are answered from its recording.
    #[cfg(feature = "record-replay")]
    Replay(crate::replay::ReplayScope),
}

/// A request that gets no span.
#[derive(Debug)]
pub(crate) enum Untraced {
    /// Excluded: no span, no metric, no context of ours; the inner
    /// service answers.
    Excluded,
    /// A request for the replay's status, which the layer answers with
    /// itself; nothing else runs.
    #[cfg(feature = "record-replay")]
    ReplayStatus(http::HeaderValue),
}

impl Mode {
    /// The mode of the request of `parts`, or why it is not traced. A
    /// replayed request (never excluded) has the header naming it taken
    /// out; it goes no further. Record mode decides with the layer's
    /// recorder, else the process-wide one.
    #[cfg(feature = "record-replay")]
    pub(crate) fn decide(config: &Config, parts: &mut Parts) -> Result<Self, Untraced> {
        if let Some(replayed) = super::replay::decide(config, &mut parts.headers) {
            return replayed;
        }
        if config.is_excluded(parts) {
            return Err(Untraced::Excluded);
        }
        Ok(super::recording::decide(config))
    }

    /// The mode of the request of `parts`, or why it is not traced.
    #[cfg(not(feature = "record-replay"))]
    pub(crate) fn decide(config: &Config, parts: &mut Parts) -> Result<Self, Untraced> {
        if config.is_excluded(parts) {
            return Err(Untraced::Excluded);
        }
        Ok(Self::Traced)
    }

    /// The mode of a request whose span is named `name`, on `route`
    /// (record mode keeps both).
    #[cfg_attr(
        not(feature = "record-replay"),
        expect(unused_variables, reason = "only record mode reads them")
    )]
    pub(crate) fn named(self, name: &str, route: Option<&StringValue>) -> Self {
        match self {
            Self::Traced => Self::Traced,
            #[cfg(feature = "record-replay")]
            Self::Record(start) => Self::Record(start.named(name, route)),
            #[cfg(feature = "record-replay")]
            mode => mode,
        }
    }

    /// Begins the request whose SERVER span has the context `cx` (a child
    /// of `parent`): the context the span, the hooks and the handler see,
    /// and what the response future holds.
    #[cfg_attr(
        not(feature = "record-replay"),
        expect(unused_variables, reason = "only record mode reads them")
    )]
    pub(crate) fn begin(self, cx: Context, parent: &Context, parts: &Parts) -> (Context, Held) {
        match self {
            Self::Traced => (cx, Held::Nothing),
            #[cfg(feature = "record-replay")]
            Self::NotSampled => (cx.with_value(crate::record::NotSampled), Held::Nothing),
            #[cfg(feature = "record-replay")]
            Self::Record(start) => {
                let held = start.begin(cx.clone(), parent, parts);
                (cx, Held::Mode(held))
            }
            #[cfg(feature = "record-replay")]
            Self::Replay(scope) => {
                let (cx, held) = super::replay::begin(cx, scope);
                (cx, Held::Mode(held))
            }
        }
    }
}

impl Untraced {
    /// The response future of a request that gets no span; `call` calls
    /// the inner service, when it is to answer.
    pub(crate) fn respond<F, OnResp>(
        self,
        call: impl FnOnce() -> F,
    ) -> super::ResponseFuture<F, OnResp> {
        match self {
            Self::Excluded => super::ResponseFuture::untraced(call()),
            #[cfg(feature = "record-replay")]
            Self::ReplayStatus(status) => {
                super::ResponseFuture::answering(Held::Mode(ModeHeld::Status(Some(status))))
            }
        }
    }
}

/// What the response future holds for record or replay mode, from the
/// call until the response.
#[derive(Debug)]
pub(crate) enum Held {
    /// Tracing only.
    Nothing,
    /// Record or replay mode's.
    #[cfg(feature = "record-replay")]
    Mode(ModeHeld),
}

#[cfg_attr(
    not(feature = "record-replay"),
    expect(unused_variables, reason = "only record and replay mode read them")
)]
impl Held {
    /// The request body the inner service receives.
    pub(crate) fn request_body<B: Body>(&mut self, body: B) -> LayerBody<B> {
        match self {
            Self::Nothing => LayerBody::plain(body),
            #[cfg(feature = "record-replay")]
            Self::Mode(held) => held.request_body(body),
        }
    }

    /// The context the handler runs in when it is not the span's.
    pub(crate) fn handler_cx(&self) -> Option<&Context> {
        match self {
            Self::Nothing => None,
            #[cfg(feature = "record-replay")]
            Self::Mode(held) => held.handler_cx(),
        }
    }

    /// Runs the inner service's `call`.
    pub(crate) fn call<R>(&mut self, call: impl FnOnce() -> R) -> R {
        match self {
            Self::Nothing => call(),
            #[cfg(feature = "record-replay")]
            Self::Mode(held) => held.call(call),
        }
    }

    /// Ready when the handler may be polled.
    pub(crate) fn poll_start(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        match self {
            Self::Nothing => Poll::Ready(()),
            #[cfg(feature = "record-replay")]
            Self::Mode(held) => held.poll_start(cx),
        }
    }

    /// Runs one poll of the handler.
    pub(crate) fn poll<R>(&mut self, poll: impl FnOnce() -> R) -> R {
        match self {
            Self::Nothing => poll(),
            #[cfg(feature = "record-replay")]
            Self::Mode(held) => held.poll(poll),
        }
    }

    /// The answer the layer gives itself, without the handler.
    pub(crate) fn answer<B: Body>(&mut self) -> Option<Response<ResponseBody<B>>> {
        match self {
            Self::Nothing => None,
            #[cfg(feature = "record-replay")]
            Self::Mode(held) => held.answer(),
        }
    }

    /// The handler has answered (or failed, or panicked): what was held
    /// only while it ran goes.
    pub(crate) fn answered(&mut self) {
        match self {
            Self::Nothing => {}
            #[cfg(feature = "record-replay")]
            Self::Mode(held) => held.answered(),
        }
    }

    /// Adds the mode's headers to the response.
    pub(crate) fn head(&mut self, headers: &mut HeaderMap) {
        match self {
            Self::Nothing => {}
            #[cfg(feature = "record-replay")]
            Self::Mode(held) => held.head(headers),
        }
    }

    /// The body the response goes on with.
    pub(crate) fn body<B: Body>(&mut self, response: Response<B>) -> Response<Inner<B>> {
        match self {
            Self::Nothing => response.map(|inner| Inner::Passed { inner }),
            #[cfg(feature = "record-replay")]
            Self::Mode(held) => held.body(response),
        }
    }

    /// The handler failed with an error of type `error_type`.
    pub(crate) fn failed(&mut self, error_type: &str) {
        match self {
            Self::Nothing => {}
            #[cfg(feature = "record-replay")]
            Self::Mode(held) => held.failed(error_type),
        }
    }

    /// The handler panicked with `message`; the layer answers `status`
    /// with `headers` and no body.
    pub(crate) fn panicked(
        &mut self,
        message: &str,
        status: http::StatusCode,
        headers: &http::HeaderMap,
    ) {
        match self {
            Self::Nothing => {}
            #[cfg(feature = "record-replay")]
            Self::Mode(held) => held.panicked(message, status, headers),
        }
    }
}
