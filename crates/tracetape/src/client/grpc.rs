//! [`GrpcTraceLayer`]: the client layer over a gRPC client service that
//! takes tonic's request body (a tonic `Channel`), which the plain layer,
//! handing its inner service its own [`RequestBody`], cannot wrap.

use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use super::body::RequestBody;
use super::service::BoxError;
use super::{Trace, TraceLayer};

/// A [`TraceLayer`] for a service of tonic's body, made by
/// [`TraceLayer::grpc`]: it wraps the service in a [`GrpcChannel`] and
/// traces that, so what comes out is a tonic client service again.
#[derive(Debug, Clone)]
#[must_use]
pub struct GrpcTraceLayer {
    pub(crate) layer: TraceLayer,
}

impl<S> Layer<S> for GrpcTraceLayer {
    type Service = Trace<GrpcChannel<S>>;

    fn layer(&self, inner: S) -> Self::Service {
        self.layer.layer(GrpcChannel { inner })
    }
}

/// A service of tonic's request body (a tonic `Channel`) taking the
/// layer's: the body, passed through (and in record mode copied) by the
/// layer, is boxed into tonic's.
#[derive(Debug, Clone)]
pub struct GrpcChannel<S> {
    inner: S,
}

impl<S> GrpcChannel<S> {
    /// The wrapped service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<RequestBody<B>>> for GrpcChannel<S>
where
    S: Service<Request<tonic::body::Body>>,
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
    RequestBody<B>: http_body::Body<Data = Bytes, Error = B::Error> + Send,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<RequestBody<B>>) -> Self::Future {
        self.inner.call(request.map(tonic::body::Body::new))
    }
}
