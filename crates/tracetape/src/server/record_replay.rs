//! What record and replay mode hold for a traced request, from the call
//! until the response: [`ModeHeld`], which [`Held`](super::mode::Held)
//! hands each step to.

use std::task::{Context as TaskContext, Poll};

use http::{HeaderMap, HeaderValue, Response};
use http_body::Body;
use opentelemetry::Context;

use super::body::{Inner, ResponseBody};
use super::{recording, replay};
use crate::body::LayerBody;
use crate::replay::REPLAY_STATUS_HEADER;

/// Record or replay mode's part of one request.
#[derive(Debug)]
pub(crate) enum ModeHeld {
    /// A recorded request.
    Recording(recording::Held),
    /// A replayed request.
    Replaying(replay::Held),
    /// The replay's status, which the layer answers with itself.
    Status(Option<HeaderValue>),
}

impl ModeHeld {
    pub(crate) fn request_body<B: Body>(&mut self, body: B) -> LayerBody<B> {
        match self {
            Self::Recording(held) => held.request_body(body),
            _ => LayerBody::plain(body),
        }
    }

    pub(crate) fn handler_cx(&self) -> Option<&Context> {
        match self {
            Self::Recording(held) => held.handler_cx(),
            _ => None,
        }
    }

    pub(crate) fn call<R>(&mut self, call: impl FnOnce() -> R) -> R {
        match self {
            Self::Replaying(held) => held.call(call),
            _ => call(),
        }
    }

    pub(crate) fn poll_start(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        match self {
            Self::Replaying(held) => held.poll_start(cx),
            _ => Poll::Ready(()),
        }
    }

    pub(crate) fn poll<R>(&mut self, poll: impl FnOnce() -> R) -> R {
        match self {
            Self::Replaying(held) => held.poll(poll),
            _ => poll(),
        }
    }

    /// The replay's status: `200 OK`, no body, the status in its header.
    pub(crate) fn answer<B: Body>(&mut self) -> Option<Response<ResponseBody<B>>> {
        let Self::Status(status) = self else {
            return None;
        };
        let status = status.take()?;
        let mut response = Response::new(ResponseBody::nothing());
        response.headers_mut().insert(REPLAY_STATUS_HEADER, status);
        Some(response)
    }

    pub(crate) fn answered(&mut self) {
        match self {
            Self::Recording(held) => held.answered(),
            Self::Replaying(held) => held.answered(),
            Self::Status(_) => {}
        }
    }

    pub(crate) fn head(&mut self, headers: &mut HeaderMap) {
        if let Self::Replaying(held) = self {
            held.head(headers);
        }
    }

    pub(crate) fn body<B: Body>(&mut self, response: Response<B>) -> Response<Inner<B>> {
        match self {
            Self::Recording(held) => held.body(response),
            Self::Replaying(held) => held.body(response),
            Self::Status(_) => response.map(|inner| Inner::Passed { inner }),
        }
    }

    pub(crate) fn failed(&mut self, error_type: &str) {
        if let Self::Recording(held) = self {
            held.failed(error_type);
        }
    }

    pub(crate) fn panicked(
        &mut self,
        message: &str,
        status: http::StatusCode,
        headers: &http::HeaderMap,
    ) {
        if let Self::Recording(held) = self {
            held.panicked(message, status, headers);
        }
    }
}
