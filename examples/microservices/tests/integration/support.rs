//! Test support: the three services on free loopback ports, each with its
//! own in-memory exporter, and helpers to read the spans they recorded.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;

use microservices::{Instrumentation, PerService, Service};
use opentelemetry::Value;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracetape::propagation::{BaggagePropagator, TraceContextPropagator};

/// The three services, served in this process until dropped.
pub(crate) struct Stack {
    pub(crate) checkout: SocketAddr,
    exporters: PerService<InMemorySpanExporter>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<io::Result<()>>>,
}

impl Stack {
    /// Serves the three services, each with a tracer provider whose simple
    /// processor hands every span to that service's exporter as it ends,
    /// and W3C trace context and baggage as the propagator.
    pub(crate) async fn start() -> Stack {
        let exporters = PerService::<InMemorySpanExporter>::default();
        let instrumentation = PerService::from_fn(|service| {
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporters.get(service).clone())
                .build();
            Instrumentation::global()
                .with_tracer_provider(provider)
                .with_propagator(TextMapCompositePropagator::new(vec![
                    Box::new(TraceContextPropagator::new()),
                    Box::new(BaggagePropagator::new()),
                ]))
        });
        let listeners = microservices::bind_all(PerService::default())
            .await
            .unwrap();
        let checkout = listeners.checkout.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            microservices::serve_all(listeners, &instrumentation, async {
                let _ = stopped.await;
            })
            .await
        });
        Stack {
            checkout,
            exporters,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Every span recorded so far, with the service that recorded it.
    pub(crate) fn spans(&self) -> Vec<(Service, SpanData)> {
        Service::ALL
            .into_iter()
            .flat_map(|service| {
                let spans = self.exporters.get(service).get_finished_spans().unwrap();
                spans.into_iter().map(move |span| (service, span))
            })
            .collect()
    }

    /// Stops the servers and waits for them.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

/// The value of attribute `key` of `span`.
pub(crate) fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

/// The value of string attribute `key` of `span`.
pub(crate) fn str_attr(span: &SpanData, key: &str) -> Option<String> {
    match attr(span, key)? {
        Value::String(value) => Some(value.to_string()),
        other => panic!("{key} is not a string: {other:?}"),
    }
}

/// Spans by id.
pub(crate) fn by_id(spans: &[(Service, SpanData)]) -> HashMap<SpanId, &(Service, SpanData)> {
    spans
        .iter()
        .map(|entry| (entry.1.span_context.span_id(), entry))
        .collect()
}

/// The checkout SERVER span at the top of `span`'s parent chain.
pub(crate) fn root_of<'a>(
    ids: &HashMap<SpanId, &'a (Service, SpanData)>,
    span: &'a SpanData,
) -> &'a SpanData {
    let mut current = span;
    while current.parent_span_id != SpanId::INVALID {
        current = &ids
            .get(&current.parent_span_id)
            .unwrap_or_else(|| panic!("the parent of {} was not recorded", current.name))
            .1;
    }
    assert_eq!(current.name, "POST /checkout");
    current
}
