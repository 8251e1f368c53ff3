//! [`Trace`]: the service that starts a SERVER span for each request;
//! its `call` drives the core in `inbound.rs`.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::body::{RequestBody, ResponseBody};
use super::config::Config;
use super::future::ResponseFuture;
use super::inbound::{Inbound, Started};
use super::{OnRequest, OnResponse};
use crate::hook;

/// A service traced by [`TraceLayer`](super::TraceLayer).
#[derive(Debug, Clone)]
pub struct Trace<S, OnReq = (), OnResp = ()> {
    pub(crate) inner: S,
    pub(crate) config: Arc<Config>,
    pub(crate) on_request: OnReq,
    pub(crate) on_response: OnResp,
}

impl<S, OnReq, OnResp> Trace<S, OnReq, OnResp> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqB, ResB, OnReq, OnResp> Service<Request<ReqB>> for Trace<S, OnReq, OnResp>
where
    S: Service<Request<RequestBody<ReqB>>, Response = Response<ResB>>,
    ReqB: http_body::Body,
    ResB: http_body::Body,
    OnReq: OnRequest<ReqB>,
    OnResp: OnResponse<ResB> + Clone,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, OnResp>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        let (inbound, request) = match Inbound::start(&self.config, request) {
            Started::Traced(inbound, request) => (inbound, request),
            Started::Untraced(untraced, request) => {
                return untraced.respond(|| self.inner.call(request));
            }
        };
        hook::guarded("server.on_request", || {
            self.on_request.on_request(&request, &inbound.span())
        });
        inbound.call(request, self.on_response.clone(), |request| {
            self.inner.call(request)
        })
    }
}
