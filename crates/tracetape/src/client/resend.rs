//! Counting resends. A retry or redirect layer calls the traced service
//! once per attempt, each time with a new request, so the attempts of one
//! logical request are tied together by [`CountResendsLayer`], placed
//! outside those layers: it keeps one counter in the OpenTelemetry context
//! while the request is under way, and each traced attempt takes the next
//! number from it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context as TaskContext, Poll};

use http::{Extensions, Request};
use opentelemetry::Context;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::extensions::ResendCount;

/// The sends of one logical request so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sends(Arc<AtomicU32>);

impl Sends {
    /// The resend count of the next attempt: 0 for the first.
    pub(crate) fn next(&self) -> u32 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// The resend count of an attempt: the caller's [`ResendCount`] if set,
/// else the next number of the enclosing [`CountResendsLayer`], else 0.
pub(crate) fn count(extensions: &Extensions) -> u32 {
    if let Some(ResendCount(count)) = extensions.get() {
        return *count;
    }
    Context::map_current(|cx| cx.get::<Sends>().map_or(0, Sends::next))
}

/// Ties the attempts of one request together so that each retry or
/// redirect below it gets `http.request.resend_count`.
///
/// Put it outside (above) the retry and redirect layers, with the client
/// [`TraceLayer`](super::TraceLayer) inside (below) them:
///
/// ```
/// use tower::ServiceBuilder;
/// use tracetape::client::{CountResendsLayer, TraceLayer};
///
/// # fn wrap<S>(client: S) -> impl Sized
/// # where S: tower::Service<http::Request<String>> {
/// let client = ServiceBuilder::new()
///     .layer(CountResendsLayer::new())
///     // .layer(tower_http::follow_redirect::FollowRedirectLayer::new())
///     // .layer(tower::retry::RetryLayer::new(policy))
///     .layer(TraceLayer::new())
///     .service(client);
/// # client }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CountResendsLayer {
    _private: (),
}

impl CountResendsLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for CountResendsLayer {
    type Service = CountResends<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountResends { inner }
    }
}

/// The service of [`CountResendsLayer`].
#[derive(Debug, Clone)]
pub struct CountResends<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for CountResends<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = CountResendsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let cx = Context::current_with_value(Sends::default());
        let inner = {
            let _attached = cx.clone().attach();
            self.inner.call(request)
        };
        CountResendsFuture { inner, cx }
    }
}

pin_project! {
    /// The response future of [`CountResends`].
    #[derive(Debug)]
    pub struct CountResendsFuture<F> {
        #[pin]
        inner: F,
        cx: Context,
    }
}

impl<F: Future> Future for CountResendsFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _attached = this.cx.clone().attach();
        this.inner.poll(task)
    }
}
