//! Text-map propagators that follow their specifications to the letter:
//! [W3C Trace Context Level 2], [W3C Baggage] and Zipkin's [B3].
//!
//! They implement OpenTelemetry's [`TextMapPropagator`], so they go wherever
//! the SDK's do: [`init`](crate::init) installs them as named by
//! `OTEL_PROPAGATORS` (`tracecontext`, `baggage`, `b3`, `b3multi`), and a
//! layer takes one with `with_propagator`.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
//! use opentelemetry::trace::TraceContextExt;
//! use tracetape::propagation::{BaggagePropagator, TraceContextPropagator};
//!
//! let propagator = TextMapCompositePropagator::new(vec![
//!     Box::new(TraceContextPropagator::new()),
//!     Box::new(BaggagePropagator::new()),
//! ]);
//! // Two traceparent headers, as a proxy might have joined them: invalid.
//! let headers = HashMap::from([(
//!     "traceparent".to_owned(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01,\
//!      00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
//!         .to_owned(),
//! )]);
//! let cx = propagator.extract(&headers);
//! assert!(!cx.span().span_context().is_valid());
//! ```
//!
//! # Trace Context
//!
//! [`TraceContextPropagator`] reads one `traceparent`:
//!
//! - version, trace id, parent id and flags are lowercase hex; an all-zero
//!   trace id or parent id is invalid, and so is version `ff`;
//! - version `00` is exactly 55 characters: trailing data makes it invalid;
//! - a later version is read with the `00` layout when it has at least 55
//!   characters and the 56th, if any, is `-`; the rest is ignored;
//! - optional whitespace around the value is allowed;
//! - more than one `traceparent` header is invalid.
//!
//! An invalid `traceparent` restarts the trace (no remote parent) and
//! `tracestate` is then not read. Of the trace flags, `sampled` (`0x01`) and
//! Level 2's `random-trace-id` (`0x02`) are kept in the remote span
//! context, and so passed on by the SDK to its children; the reserved ones
//! are dropped, as the specification asks.
//!
//! `tracestate` headers are read in order as one list. Empty and
//! whitespace-only list-members are skipped. A key is a lowercase letter
//! or digit followed by up to 255 of `a-z 0-9 _ - * / @` (Level 2 as it
//! stands today); values are up to 256 printable ASCII characters without
//! `,` or `=`, not ending in a space. Any bad key or value, or more than
//! 32 list-members, make the whole `tracestate` invalid: it is dropped and
//! the trace continues without it. (The specification allows at most 32
//! list-members, and a receiver may drop a `tracestate` it cannot parse;
//! the W3C test suite expects exactly that.) Keys are unique by the
//! sender's care: a repeated key keeps its first list-member and the rest
//! of the list stands. OpenTelemetry's `TraceState`, which carries the
//! state in the span context, refuses some keys the grammar allows (more
//! than one `@`, or more than 13 characters after it); such list-members
//! alone are left out.
//!
//! Injection always writes version `00` in lowercase hex, and `tracestate`
//! as one header of the valid list-members, left out when empty.
//!
//! # Random trace ids
//!
//! The SDK builds a root span with default trace flags, so it never sets
//! `random-trace-id` itself. tracetape's setup uses the SDK's random id
//! generator, whose trace ids are random in all 16 bytes. When a SERVER or
//! CLIENT span of the layers starts a new trace (no valid parent), a
//! sampled one carries the flag in its own span context, which the SDK
//! copies to the sampled spans started under it; for one the sampler
//! dropped (whose children the SDK gives default flags) the layer marks
//! the context instead, and [`TraceContextPropagator`] sets the flag when
//! it injects a span of that trace under that context. A continued trace
//! keeps the caller's flag: the SDK copies the parent's flags to a sampled
//! child, and for a child the sampler dropped extraction leaves the same
//! kind of mark. A tracer provider given
//! with `with_tracer_provider` should therefore also generate random trace
//! ids.
//!
//! # Baggage
//!
//! [`BaggagePropagator`] reads every `baggage` header as one list. Keys are
//! tokens, values are percent-decoded (invalid UTF-8 becomes U+FFFD) and
//! properties (`;key` or `;key=value`) are kept as the entry's metadata, as
//! written, whitespace removed. A list-member that breaks the grammar
//! (including a bad `%` escape) is skipped and the others are kept. The
//! specification requires every list-member to be propagated up to 64 of
//! them and 8192 bytes, and lets a platform drop list-members past that:
//! list-members past either limit, in header order, are dropped.
//!
//! Injection writes one header, entries in key order (OpenTelemetry's
//! `Baggage` keeps none), values percent-encoded except for RFC 3986's
//! unreserved characters, under the same limits.
//!
//! # B3
//!
//! [`B3Propagator`] reads the single `b3` header, and the `X-B3-*` headers
//! when `b3` is absent or invalid; it injects the encoding it was built
//! with. See its documentation for sampling states, debug and deny.
//!
//! # Malformed input
//!
//! Nothing here panics on what a request carries: malformed headers are
//! ignored as each specification says, and the request goes on.
//!
//! [W3C Trace Context Level 2]: https://www.w3.org/TR/trace-context-2/
//! [W3C Baggage]: https://www.w3.org/TR/baggage/
//! [B3]: https://github.com/openzipkin/b3-propagation
//! [`TextMapPropagator`]: opentelemetry::propagation::TextMapPropagator

mod b3;
mod baggage;
mod headers;
mod ids;
mod random_root;
mod trace_context;
mod trace_state;

pub use b3::{B3Encoding, B3Propagator};
pub use baggage::BaggagePropagator;
pub(crate) use headers::{RequestHeaders, RequestHeadersMut};
pub use trace_context::TraceContextPropagator;
pub(crate) use trace_context::with_span;

#[cfg(test)]
mod tests;
