//! The tracer provider [`init`](crate::init) installs as OpenTelemetry's
//! global one: the SDK's provider, with the tracer of tracetape's layers
//! made once.
//!
//! The layers ask the global provider for their tracer at every request
//! (the user may install another provider at any time, and the global one
//! has no identity to cache against). Asked for tracetape's scope, this
//! provider hands out a clone of the tracer it made at installation
//! instead of building a new one (an allocation per request). Any other
//! scope gets a new tracer from the SDK, as before.

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::providers::SCOPE;

/// An [`SdkTracerProvider`] whose tracer for tracetape's scope is made
/// once.
#[derive(Debug, Clone)]
pub(crate) struct InstalledProvider {
    provider: SdkTracerProvider,
    layers: SdkTracer,
}

impl InstalledProvider {
    pub(crate) fn new(provider: SdkTracerProvider) -> Self {
        let layers = provider.tracer_with_scope(SCOPE.clone());
        Self { provider, layers }
    }
}

impl TracerProvider for InstalledProvider {
    type Tracer = SdkTracer;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> SdkTracer {
        let ours = scope.name() == SCOPE.name()
            && scope.version() == SCOPE.version()
            && scope.schema_url() == SCOPE.schema_url()
            && scope.attributes().next().is_none();
        if ours {
            self.layers.clone()
        } else {
            self.provider.tracer_with_scope(scope)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use opentelemetry::trace::{Span as _, Tracer as _};
    use opentelemetry_sdk::trace::InMemorySpanExporter;

    use super::*;

    #[test]
    fn every_scope_gets_its_spans_with_its_own_scope() {
        let exporter = InMemorySpanExporter::default();
        let sdk = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let installed = InstalledProvider::new(sdk.clone());
        installed
            .tracer_with_scope(SCOPE.clone())
            .start("ours")
            .end();
        installed.tracer("another").start("theirs").end();
        let other_version = InstrumentationScope::builder("tracetape")
            .with_version("0.0.0")
            .build();
        installed
            .tracer_with_scope(other_version)
            .start("old")
            .end();
        let spans = exporter.get_finished_spans().unwrap();
        let scopes: Vec<(&str, &str, Option<&str>)> = spans
            .iter()
            .map(|span| {
                (
                    span.name.as_ref(),
                    span.instrumentation_scope.name(),
                    span.instrumentation_scope.version(),
                )
            })
            .collect();
        assert_eq!(
            scopes,
            [
                ("ours", "tracetape", SCOPE.version()),
                ("theirs", "another", None),
                ("old", "tracetape", Some("0.0.0")),
            ]
        );
        assert_eq!(spans[0].instrumentation_scope, *SCOPE);
    }
}
