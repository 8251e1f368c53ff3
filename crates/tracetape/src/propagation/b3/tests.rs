//! Table-driven tests of B3, single and multiple headers: extraction,
//! injection, round trips, deny and debug.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::propagation::tests::{Headers, injected};

const TRACE_ID: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const SPAN_ID: &str = "e457b5a2e4d86bd1";
const PARENT_ID: &str = "05e3ac9a4f6e3b90";

/// `(trace id, span id, sampled, debug)`, ids empty for a bare sampling
/// state.
type Extracted = Option<(String, String, bool, bool)>;

/// What a B3 propagator extracted from `headers`.
fn extract(headers: &[(&str, &str)]) -> Extracted {
    let cx = B3Propagator::new()
        .extract_with_context(&Context::new(), &Headers::new(headers.iter().copied()));
    if !cx.has_active_span() {
        return None;
    }
    let span = cx.span();
    let span_context = span.span_context();
    assert!(span_context.is_remote());
    assert_eq!(*span_context.trace_state(), TraceState::NONE);
    let ids = if span_context.is_valid() {
        (
            span_context.trace_id().to_string(),
            span_context.span_id().to_string(),
        )
    } else {
        (String::new(), String::new())
    };
    let debug = cx.get::<DebugTrace>().is_some();
    Some((ids.0, ids.1, span_context.is_sampled(), debug))
}

fn trace(sampled: bool, debug: bool) -> Extracted {
    Some((TRACE_ID.to_owned(), SPAN_ID.to_owned(), sampled, debug))
}

fn bare(sampled: bool, debug: bool) -> Extracted {
    Some((String::new(), String::new(), sampled, debug))
}

#[test]
fn single_header_extraction() {
    let t = TRACE_ID;
    let s = SPAN_ID;
    let p = PARENT_ID;
    let cases: Vec<(String, Extracted)> = vec![
        // Deferred: this service decides, which the SDK reads as not sampled.
        (format!("{t}-{s}"), trace(false, false)),
        (format!("{t}-{s}-0"), trace(false, false)),
        (format!("{t}-{s}-1"), trace(true, false)),
        // Debug implies sampled.
        (format!("{t}-{s}-d"), trace(true, true)),
        (format!("{t}-{s}-1-{p}"), trace(true, false)),
        (format!(" {t}-{s}-1-{p}\t"), trace(true, false)),
        // A 64-bit trace id is widened.
        (
            format!("64fe8b2a57d3eff7-{s}-1"),
            Some((
                "000000000000000064fe8b2a57d3eff7".to_owned(),
                s.to_owned(),
                true,
                false,
            )),
        ),
        // A bare sampling state.
        ("0".to_owned(), bare(false, false)),
        ("1".to_owned(), bare(true, false)),
        ("d".to_owned(), bare(true, true)),
        // Malformed.
        (String::new(), None),
        ("-".to_owned(), None),
        ("true".to_owned(), None),
        (t.to_owned(), None),
        (format!("{t}-{s}-"), None),
        (format!("{t}-{s}-true"), None),
        (format!("{t}-{s}-2"), None),
        (format!("{t}--1"), None),
        (format!("{}-{s}-1", t.to_uppercase()), None),
        (format!("{t}-{}-1", s.to_uppercase()), None),
        (format!("{t}1-{s}-1"), None),
        (format!("{}-{s}-1", &t[..20]), None),
        (format!("{t}-{}-1", &s[..15]), None),
        (format!("{}-{s}-1", "0".repeat(32)), None),
        (format!("{t}-{}-1", "0".repeat(16)), None),
        (format!("{t}-{s}-1-{}", &p[..15]), None),
        (format!("{t}-{s}-1-{p}-"), None),
        (format!("{t}-{s}-1-{p}-extra"), None),
        (format!("{t}-{s}-é"), None),
    ];
    for (value, expected) in cases {
        assert_eq!(extract(&[("b3", &value)]), expected, "b3: {value:?}");
    }
}

#[test]
fn multiple_header_extraction() {
    let ids = [("X-B3-TraceId", TRACE_ID), ("X-B3-SpanId", SPAN_ID)];
    let with = |more: &[(&'static str, &'static str)]| {
        let mut headers = ids.to_vec();
        headers.extend_from_slice(more);
        headers
    };
    let cases: Vec<(Vec<(&str, &str)>, Extracted)> = vec![
        (with(&[]), trace(false, false)),
        (with(&[("X-B3-Sampled", "1")]), trace(true, false)),
        (with(&[("X-B3-Sampled", "0")]), trace(false, false)),
        (with(&[("X-B3-Sampled", "true")]), trace(true, false)),
        (with(&[("X-B3-Sampled", "false")]), trace(false, false)),
        (with(&[("X-B3-Flags", "1")]), trace(true, true)),
        (
            with(&[("X-B3-Flags", "1"), ("X-B3-Sampled", "0")]),
            trace(true, true),
        ),
        (
            with(&[("X-B3-Flags", "0"), ("X-B3-Sampled", "1")]),
            trace(true, false),
        ),
        (
            with(&[("X-B3-ParentSpanId", PARENT_ID), ("X-B3-Sampled", "1")]),
            trace(true, false),
        ),
        // Lowercase names, as gRPC sends them.
        (
            vec![
                ("x-b3-traceid", TRACE_ID),
                ("x-b3-spanid", SPAN_ID),
                ("x-b3-sampled", "1"),
            ],
            trace(true, false),
        ),
        // A 64-bit trace id is widened.
        (
            vec![
                ("X-B3-TraceId", "64fe8b2a57d3eff7"),
                ("X-B3-SpanId", SPAN_ID),
            ],
            Some((
                "000000000000000064fe8b2a57d3eff7".to_owned(),
                SPAN_ID.to_owned(),
                false,
                false,
            )),
        ),
        // A bare sampling state.
        (vec![("X-B3-Sampled", "0")], bare(false, false)),
        (vec![("X-B3-Sampled", "1")], bare(true, false)),
        (vec![("X-B3-Flags", "1")], bare(true, true)),
        // Malformed.
        (vec![], None),
        (vec![("X-B3-Flags", "0")], None),
        (vec![("X-B3-TraceId", TRACE_ID)], None),
        (vec![("X-B3-SpanId", SPAN_ID), ("X-B3-Sampled", "1")], None),
        (with(&[("X-B3-Sampled", "yes")]), None),
        (with(&[("X-B3-Sampled", "d")]), None),
        (with(&[("X-B3-ParentSpanId", "nope")]), None),
        (
            vec![
                ("X-B3-TraceId", "80F198EE56343BA864FE8B2A57D3EFF7"),
                ("X-B3-SpanId", SPAN_ID),
            ],
            None,
        ),
        (
            vec![
                ("X-B3-TraceId", TRACE_ID),
                ("X-B3-SpanId", "0000000000000000"),
            ],
            None,
        ),
    ];
    for (headers, expected) in cases {
        assert_eq!(extract(&headers), expected, "{headers:?}");
    }
}

#[test]
fn the_single_header_wins_and_a_bad_one_falls_back_to_multiple() {
    let other = "0af7651916cd43dd8448eb211c80319c";
    let single = format!("{other}-b7ad6b7169203331-1");
    let multiple = [
        ("X-B3-TraceId", TRACE_ID),
        ("X-B3-SpanId", SPAN_ID),
        ("X-B3-Sampled", "1"),
    ];
    let mut headers = vec![("b3", single.as_str())];
    headers.extend(multiple);
    assert_eq!(extract(&headers).unwrap().0, other);
    headers[0].1 = "garbage";
    assert_eq!(extract(&headers), trace(true, false));
}

#[test]
fn a_bare_sampling_state_does_not_replace_a_valid_parent() {
    let parent = SpanContext::new(
        TraceId::from(1),
        SpanId::from(2),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    let cx = Context::new().with_remote_span_context(parent.clone());
    let cx = B3Propagator::new().extract_with_context(&cx, &Headers::new([("b3", "0")]));
    assert_eq!(*cx.span().span_context(), parent);
}

/// What `propagator` injects for what it extracted from `headers`.
fn round_trip(propagator: &B3Propagator, headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let cx =
        propagator.extract_with_context(&Context::new(), &Headers::new(headers.iter().copied()));
    let mut sent: Vec<_> = injected(propagator, &cx).into_iter().collect();
    sent.sort();
    sent
}

fn sorted(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut list: Vec<_> = list
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    list.sort();
    list
}

#[test]
fn single_header_round_trips() {
    let single = B3Propagator::new();
    for (received, sent) in [
        (
            format!("{TRACE_ID}-{SPAN_ID}-1"),
            format!("{TRACE_ID}-{SPAN_ID}-1"),
        ),
        (
            format!("{TRACE_ID}-{SPAN_ID}-0"),
            format!("{TRACE_ID}-{SPAN_ID}-0"),
        ),
        (
            format!("{TRACE_ID}-{SPAN_ID}-d"),
            format!("{TRACE_ID}-{SPAN_ID}-d"),
        ),
        // The parent span id is not sent on.
        (
            format!("{TRACE_ID}-{SPAN_ID}-1-{PARENT_ID}"),
            format!("{TRACE_ID}-{SPAN_ID}-1"),
        ),
        // A deferred decision goes on as not sampled.
        (
            format!("{TRACE_ID}-{SPAN_ID}"),
            format!("{TRACE_ID}-{SPAN_ID}-0"),
        ),
        // 64-bit ids go on as 128-bit.
        (
            format!("64fe8b2a57d3eff7-{SPAN_ID}-1"),
            format!("000000000000000064fe8b2a57d3eff7-{SPAN_ID}-1"),
        ),
        // Deny, accept and debug without ids.
        ("0".to_owned(), "0".to_owned()),
        ("1".to_owned(), "1".to_owned()),
        ("d".to_owned(), "d".to_owned()),
    ] {
        assert_eq!(
            round_trip(&single, &[("b3", &received)]),
            sorted(&[("b3", &sent)]),
            "{received}"
        );
    }
}

#[test]
fn multiple_header_round_trips() {
    let multiple = B3Propagator::new().with_encoding(B3Encoding::MultipleHeaders);
    let ids = [("x-b3-traceid", TRACE_ID), ("x-b3-spanid", SPAN_ID)];
    let with = |more: &[(&'static str, &'static str)]| {
        let mut headers = ids.to_vec();
        headers.extend_from_slice(more);
        headers
    };
    for (received, sent) in [
        (
            with(&[("x-b3-sampled", "1")]),
            with(&[("x-b3-sampled", "1")]),
        ),
        (
            with(&[("x-b3-sampled", "0")]),
            with(&[("x-b3-sampled", "0")]),
        ),
        // Debug goes on as flags alone.
        (with(&[("x-b3-flags", "1")]), with(&[("x-b3-flags", "1")])),
        (
            with(&[("x-b3-parentspanid", PARENT_ID), ("x-b3-sampled", "1")]),
            with(&[("x-b3-sampled", "1")]),
        ),
        (vec![("x-b3-sampled", "0")], vec![("x-b3-sampled", "0")]),
        (vec![("x-b3-flags", "1")], vec![("x-b3-flags", "1")]),
    ] {
        assert_eq!(
            round_trip(&multiple, &received),
            sorted(&sent),
            "{received:?}"
        );
    }
}

#[test]
fn single_and_multiple_headers_carry_the_same_context() {
    let single = B3Propagator::new();
    let multiple = B3Propagator::new().with_encoding(B3Encoding::MultipleHeaders);
    let value = format!("{TRACE_ID}-{SPAN_ID}-d");
    let cx = single.extract_with_context(&Context::new(), &Headers::new([("b3", value.as_str())]));
    let sent = injected(&multiple, &cx);
    let headers: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let cx = multiple.extract_with_context(&Context::new(), &Headers::new(headers));
    assert_eq!(injected(&single, &cx)["b3"], value);
}

#[test]
fn debug_stays_with_its_trace() {
    let propagator = B3Propagator::new();
    let value = format!("{TRACE_ID}-{SPAN_ID}-d");
    let cx =
        propagator.extract_with_context(&Context::new(), &Headers::new([("b3", value.as_str())]));
    // A span of the same trace, then one of another trace, under it.
    let child = SpanContext::new(
        TraceId::from_hex(TRACE_ID).unwrap(),
        SpanId::from(0x42),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    let same = cx.with_remote_span_context(child);
    assert_eq!(
        injected(&propagator, &same)["b3"],
        format!("{TRACE_ID}-0000000000000042-d")
    );
    let stranger = SpanContext::new(
        TraceId::from(7),
        SpanId::from(0x42),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    let other = cx.with_remote_span_context(stranger);
    assert!(injected(&propagator, &other)["b3"].ends_with("-1"));
}

#[test]
fn nothing_is_injected_without_a_span_or_a_received_state() {
    for encoding in [B3Encoding::SingleHeader, B3Encoding::MultipleHeaders] {
        let propagator = B3Propagator::new().with_encoding(encoding);
        assert!(injected(&propagator, &Context::new()).is_empty());
        let local_invalid = Context::new().with_span(opentelemetry::trace::noop::NoopSpan::DEFAULT);
        assert!(
            injected(&propagator, &local_invalid).is_empty(),
            "{encoding:?}"
        );
    }
}

#[test]
fn fields_follow_the_encoding() {
    assert_eq!(B3Propagator::new().fields().collect::<Vec<_>>(), ["b3"]);
    let multiple = B3Propagator::new().with_encoding(B3Encoding::MultipleHeaders);
    assert_eq!(multiple.encoding(), B3Encoding::MultipleHeaders);
    assert_eq!(
        multiple.fields().collect::<Vec<_>>(),
        ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags"]
    );
}
