//! The peers tracetape is measured against, on the same hello-world app
//! and the same collector: what a user of each writes.
//!
//! - `peer-otel-tower`: the official tower layer of opentelemetry-rust-contrib,
//!   `opentelemetry_instrumentation_tower::http::server::Layer` (its
//!   builder's defaults: axum's matched route, tracing and metrics on),
//!   which takes the global tracer and meter;
//! - `peer-tower-http`: tower-http's `TraceLayer::new_for_http()` (its
//!   defaults: a `request` span per request, DEBUG events at request and
//!   response) with a `tracing` subscriber whose only layer is
//!   tracing-opentelemetry's, which turns those spans into OpenTelemetry
//!   spans of the global provider's tracer.
//!
//! Both get the SDK's own pipeline, built here as their documentation
//! shows: an `SdkTracerProvider` with the batch span processor and
//! opentelemetry-otlp's exporter over OTLP/HTTP protobuf, and an
//! `SdkMeterProvider` with a periodic reader exporting there too (the
//! tower layer records the HTTP duration histogram, as tracetape's layer
//! does), installed as the globals. The exporter and the batch processor
//! read the same `OTEL_*` variables the benchmark gives tracetape
//! (endpoint, protocol, `OTEL_BSP_*`; `OTEL_TRACES_SAMPLER=always_on`).

use anyhow::Context;
use axum::Router;
use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{MetricExporter, Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

/// Which peer instrumentation the app carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// opentelemetry-instrumentation-tower's layer.
    OtelTower,
    /// tower-http's `TraceLayer` bridged by tracing-opentelemetry.
    TowerHttp,
}

/// The SDK providers of a peer, shut down (exporting what is queued) when
/// the app stops.
#[derive(Debug)]
pub(crate) struct PeerTelemetry {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
}

impl PeerTelemetry {
    /// Builds the providers, installs them as the globals and, for
    /// tower-http, the `tracing` subscriber with tracing-opentelemetry's
    /// layer.
    pub(crate) fn init(peer: Peer) -> anyhow::Result<Self> {
        let resource = Resource::builder()
            .with_service_name("tracetape-bench")
            .build();
        let spans = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()
            .context("building the peer's OTLP span exporter")?;
        let tracer_provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_sampler(Sampler::AlwaysOn)
            .with_batch_exporter(spans)
            .build();
        let metrics = MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()
            .context("building the peer's OTLP metric exporter")?;
        let meter_provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_periodic_exporter(metrics)
            .build();
        global::set_tracer_provider(tracer_provider.clone());
        global::set_meter_provider(meter_provider.clone());
        if peer == Peer::TowerHttp {
            let tracer = tracer_provider.tracer("tracetape-bench");
            let subscriber = tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(tracer));
            tracing::subscriber::set_global_default(subscriber)
                .context("installing the tracing subscriber")?;
        }
        Ok(PeerTelemetry {
            tracer_provider,
            meter_provider,
        })
    }

    /// Shuts both providers down, exporting what they still hold.
    pub(crate) fn shutdown(self) {
        if let Err(err) = self.tracer_provider.shutdown() {
            eprintln!("peer tracer provider shutdown: {err}");
        }
        if let Err(err) = self.meter_provider.shutdown() {
            eprintln!("peer meter provider shutdown: {err}");
        }
    }
}

/// `app` with the peer's layer.
pub(crate) fn layered(app: Router, peer: Peer) -> anyhow::Result<Router> {
    Ok(match peer {
        Peer::OtelTower => app.layer(
            opentelemetry_instrumentation_tower::http::server::LayerBuilder::builder()
                .build()
                .map_err(|err| anyhow::anyhow!("building the tower layer: {err}"))?,
        ),
        Peer::TowerHttp => app.layer(tower_http::trace::TraceLayer::new_for_http()),
    })
}
