//! The text-map propagators named by `OTEL_PROPAGATORS`.

use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};

use crate::propagation::{B3Encoding, B3Propagator, BaggagePropagator, TraceContextPropagator};

/// A propagator tracetape can install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagator {
    /// W3C `traceparent` and `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// B3, injected as the single `b3` header.
    B3,
    /// B3, injected as the `X-B3-*` headers.
    B3Multi,
}

/// One propagator that runs `propagators` in order; empty means none.
pub(crate) fn composite(propagators: &[Propagator]) -> TextMapCompositePropagator {
    let parts = propagators
        .iter()
        .map(|propagator| -> Box<dyn TextMapPropagator + Send + Sync> {
            match propagator {
                Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                Propagator::Baggage => Box::new(BaggagePropagator::new()),
                Propagator::B3 => Box::new(B3Propagator::new()),
                Propagator::B3Multi => {
                    Box::new(B3Propagator::new().with_encoding(B3Encoding::MultipleHeaders))
                }
            }
        })
        .collect();
    TextMapCompositePropagator::new(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(propagators: &[Propagator]) -> Vec<String> {
        let mut fields: Vec<String> = composite(propagators).fields().map(str::to_owned).collect();
        fields.sort();
        fields
    }

    #[test]
    fn composite_carries_the_fields_of_each_propagator() {
        assert_eq!(
            fields(&[Propagator::TraceContext, Propagator::Baggage]),
            ["baggage", "traceparent", "tracestate"]
        );
        assert_eq!(fields(&[Propagator::Baggage]), ["baggage"]);
        assert_eq!(fields(&[Propagator::B3]), ["b3"]);
        assert_eq!(
            fields(&[Propagator::B3Multi]),
            ["x-b3-flags", "x-b3-sampled", "x-b3-spanid", "x-b3-traceid"]
        );
        assert!(fields(&[]).is_empty());
    }
}
