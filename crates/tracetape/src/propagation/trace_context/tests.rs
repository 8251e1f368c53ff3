//! Table-driven tests of `traceparent` and `tracestate`, from the
//! specification's grammar and the W3C test suite's cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry::trace::{SpanContext, TraceState};

use super::*;
use crate::propagation::tests::{Headers, injected};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID: &str = "00f067aa0ba902b7";
const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The remote span context extracted from `headers`, if any.
fn extract(headers: &[(&str, &str)]) -> Option<SpanContext> {
    let cx = TraceContextPropagator::new()
        .extract_with_context(&Context::new(), &Headers::new(headers.iter().copied()));
    cx.has_active_span()
        .then(|| cx.span().span_context().clone())
}

fn members(state: &TraceState) -> Vec<(String, String)> {
    state
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The tracestate kept with a valid traceparent and `tracestate` headers.
fn kept_state(tracestate: &[&str]) -> Vec<(String, String)> {
    let mut headers = vec![("traceparent", VALID)];
    headers.extend(tracestate.iter().map(|value| ("tracestate", *value)));
    let span_context = extract(&headers).expect("traceparent is valid");
    members(span_context.trace_state())
}

type Members<'a> = Vec<(&'a str, &'a str)>;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn valid_traceparents_are_continued() {
    // (traceparent, flags kept)
    let cases: &[(&str, u8)] = &[
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            0x01,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            0x00,
        ),
        // Level 2: random-trace-id, alone and with sampled.
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02",
            0x02,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
            0x03,
        ),
        // Reserved flags are dropped; a bit field is masked, not compared.
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09",
            0x01,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
            0x03,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fc",
            0x00,
        ),
        // Optional whitespace around the value (W3C test suite).
        (
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            0x01,
        ),
        (
            "\t00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            0x01,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
            0x01,
        ),
        (
            "\t 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 \t",
            0x01,
        ),
        // Later versions: the 00 layout, the rest after a dash ignored.
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            0x01,
        ),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like",
            0x01,
        ),
        (
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-",
            0x03,
        ),
        (
            "fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0f-xyz",
            0x03,
        ),
    ];
    for &(traceparent, flags) in cases {
        let span_context = extract(&[("traceparent", traceparent)])
            .unwrap_or_else(|| panic!("{traceparent:?} was not continued"));
        assert!(span_context.is_remote(), "{traceparent:?}");
        assert_eq!(
            span_context.trace_id().to_string(),
            TRACE_ID,
            "{traceparent:?}"
        );
        assert_eq!(
            span_context.span_id().to_string(),
            SPAN_ID,
            "{traceparent:?}"
        );
        assert_eq!(span_context.trace_flags().to_u8(), flags, "{traceparent:?}");
    }
}

#[test]
fn invalid_traceparents_restart_the_trace() {
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("   ", "blank"),
        ("00", "version only"),
        ("00-", "version and dash"),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "no flags",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-",
            "empty flags",
        ),
        // Trailing data after version 00 (W3C test suite).
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.",
            "00 with a dot",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00 with a dash",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like",
            "00 with more fields",
        ),
        // Later versions.
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what-the-future-will-be-like",
            "later version, no dash after flags",
        ),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            "later version, shorter than 55",
        ),
        (
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "version ff",
        ),
        // Version.
        (
            ".0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "bad version character",
        ),
        (
            "0.-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "bad version character",
        ),
        (
            "000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "version too long",
        ),
        (
            "0000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "version too long",
        ),
        (
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "version too short",
        ),
        (
            "A0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "uppercase version",
        ),
        (
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "bad delimiter",
        ),
        // Trace id.
        (
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "all-zero trace id",
        ),
        (
            "00-.bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "bad trace id character",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e473.-00f067aa0ba902b7-01",
            "bad trace id character",
        ),
        (
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "uppercase trace id",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e47361-00f067aa0ba902b7-01",
            "trace id too long",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "trace id too short",
        ),
        (
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "sign in trace id",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            "bad delimiter",
        ),
        // Parent id.
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "all-zero parent id",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-.0f067aa0ba902b7-01",
            "bad parent id character",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b.-01",
            "bad parent id character",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "uppercase parent id",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b71-01",
            "parent id too long",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "parent id too short",
        ),
        // Flags.
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-.1",
            "bad flags character",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0.",
            "bad flags character",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            "uppercase flags",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-001",
            "flags too long",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "flags too short",
        ),
        // Not ASCII: the same length in bytes, but no hex.
        (
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
            "non-ASCII trace id",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0é",
            "non-ASCII flags",
        ),
        (
            "é0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "non-ASCII version",
        ),
        // Two traceparents joined into one field by a proxy.
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01,00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "joined",
        ),
    ];
    for &(traceparent, why) in cases {
        let headers = [("traceparent", traceparent), ("tracestate", "foo=1")];
        assert_eq!(extract(&headers), None, "{why}: {traceparent:?}");
    }
}

#[test]
fn the_header_name_is_matched_without_case() {
    // As an HTTP header map reads names (W3C test suite).
    let read = |name: &str| {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_static(VALID),
        );
        let cx = TraceContextPropagator::new().extract_with_context(
            &Context::new(),
            &opentelemetry_http::HeaderExtractor(&headers),
        );
        cx.span().span_context().is_valid()
    };
    for name in ["traceparent", "TraceParent", "TrAcEpArEnT", "TRACEPARENT"] {
        assert!(read(name), "{name}");
    }
    for name in ["trace-parent", "trace.parent"] {
        assert!(!read(name), "{name}");
    }
}

#[test]
fn repeated_traceparents_restart_the_trace() {
    // Different ones (W3C test suite), and even the same one twice.
    for second in [
        "00-4bf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b7-01",
        VALID,
    ] {
        let headers = [
            ("traceparent", VALID),
            ("traceparent", second),
            ("tracestate", "foo=1"),
        ];
        assert_eq!(extract(&headers), None, "{second}");
    }
}

#[test]
fn an_invalid_traceparent_leaves_the_context_as_it_was() {
    let before = Context::new().with_value(7u8);
    let after = TraceContextPropagator::new().extract_with_context(
        &before,
        &Headers::new([("traceparent", "junk"), ("tracestate", "foo=1")]),
    );
    assert!(!after.has_active_span());
    assert_eq!(after.get::<u8>(), Some(&7));
}

#[test]
fn valid_tracestates_are_kept() {
    let all_key_chars = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    let all_value_chars: String = (0x20u8..=0x7e)
        .filter(|b| *b != b',' && *b != b'=')
        .map(char::from)
        .collect();
    let long_simple_key = "z".repeat(256);
    let long_tenant_key = format!("{}@{}", "t".repeat(242), "v".repeat(13));
    let long_value = "v".repeat(256);
    let thirty_two: Vec<String> = (1..=32).map(|n| format!("bar{n:02}={n:02}")).collect();
    let (first_half, second_half) = thirty_two.split_at(10);
    let first_header = first_half.join(",");
    let second_header = second_half.join(",");
    let cases: Vec<(Vec<&str>, Members<'_>)> = vec![
        (vec!["foo=1,bar=2"], vec![("foo", "1"), ("bar", "2")]),
        (vec![], vec![]),
        (vec![""], vec![]),
        (vec![" , \t,"], vec![]),
        // Several headers are one list, in order (W3C test suite).
        (
            vec!["foo=1,bar=2", "rojo=1,congo=2", "baz=3"],
            vec![
                ("foo", "1"),
                ("bar", "2"),
                ("rojo", "1"),
                ("congo", "2"),
                ("baz", "3"),
            ],
        ),
        (vec!["foo=1", ""], vec![("foo", "1")]),
        (vec!["", "foo=1"], vec![("foo", "1")]),
        // Empty and whitespace-only list-members.
        (
            vec![",,foo=1, ,\t,bar=2,"],
            vec![("foo", "1"), ("bar", "2")],
        ),
        // Optional whitespace around list-members.
        (
            vec!["foo=1 \t , \t bar=2, \t baz=3"],
            vec![("foo", "1"), ("bar", "2"), ("baz", "3")],
        ),
        (vec![" foo=1"], vec![("foo", "1")]),
        (vec!["\tfoo=1"], vec![("foo", "1")]),
        (vec!["foo=1 "], vec![("foo", "1")]),
        (vec!["foo=1\t"], vec![("foo", "1")]),
        (vec!["\t foo=1 \t"], vec![("foo", "1")]),
        // A value may start with spaces and hold them inside.
        (vec!["foo= a b"], vec![("foo", " a b")]),
        // Keys.
        (
            vec!["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"],
            vec![("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE")],
        ),
        (vec!["fw529a3039@dt=x"], vec![("fw529a3039@dt", "x")]),
        // Level 2 as it stands: a key may start with a digit, and `@` is a
        // key character like any other.
        (vec!["1abc=1"], vec![("1abc", "1")]),
        (vec!["tenant@1vendor=1"], vec![("tenant@1vendor", "1")]),
        (vec!["foo@=1,bar=2"], vec![("foo@", "1"), ("bar", "2")]),
        // Keys are unique by the sender's care: a repeated key keeps its
        // first list-member, and the rest of the list stands.
        (vec!["foo=1,foo=1"], vec![("foo", "1")]),
        (vec!["foo=1,foo=2,bar=3"], vec![("foo", "1"), ("bar", "3")]),
        (vec!["foo=1", "foo=2"], vec![("foo", "1")]),
        (
            vec!["bar=0,foo=1", "foo=2,baz=3"],
            vec![("bar", "0"), ("foo", "1"), ("baz", "3")],
        ),
        (vec!["1tenant@vendor=x"], vec![("1tenant@vendor", "x")]),
        (vec!["a_-*/b@c_-*/d=x"], vec![("a_-*/b@c_-*/d", "x")]),
    ];
    for (headers, expected) in cases {
        assert_eq!(kept_state(&headers), pairs(&expected), "{headers:?}");
    }
    // Every character the grammar allows.
    let key_with_vendor = format!("{all_key_chars}@a-z0-9_-*/");
    for key in [all_key_chars, key_with_vendor.as_str()] {
        let header = format!("{key}={all_value_chars}");
        assert_eq!(
            kept_state(&[&header]),
            pairs(&[(key, all_value_chars.as_str())])
        );
    }
    // The longest keys and value.
    for key in [long_simple_key.as_str(), long_tenant_key.as_str()] {
        let header = format!("{key}={long_value}");
        assert_eq!(
            kept_state(&["foo=1", &header]),
            pairs(&[("foo", "1"), (key, &long_value)])
        );
    }
    // 32 list-members over several headers (W3C test suite).
    let kept = kept_state(&[&first_header, &second_header]);
    assert_eq!(kept.len(), 32);
    assert_eq!(kept[0], ("bar01".to_owned(), "01".to_owned()));
}

#[test]
fn invalid_tracestates_are_dropped_and_the_trace_continues() {
    let too_long_key = format!("{}=1", "z".repeat(257));
    let too_long_multi = format!("{}@{}=1", "t".repeat(242), "v".repeat(14));
    let too_long_value = format!("foo={}", "v".repeat(257));
    let thirty_three: Vec<String> = (1..=33).map(|n| format!("bar{n:02}={n:02}")).collect();
    let thirty_three = thirty_three.join(",");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // Keys.
        (vec!["foo =1"], "space in key"),
        (vec!["FOO=1"], "uppercase key"),
        (vec!["foo.bar=1"], "dot in key"),
        (vec!["_abc=1"], "key starting with punctuation"),
        (vec!["@foo=1,bar=2"], "key starting with @"),
        (vec!["=1"], "empty key"),
        (vec!["foo=1", &too_long_key], "key of 257 characters"),
        (
            vec!["foo=1", &too_long_multi],
            "key with @ of 257 characters",
        ),
        // Values.
        (vec!["foo"], "no ="),
        (vec!["foo="], "empty value"),
        (vec!["foo=1=2"], "= in value"),
        (vec!["foo=a\tb"], "tab in value"),
        (vec!["foo=\u{7f}"], "DEL in value"),
        (vec!["foo=é"], "non-ASCII value"),
        (vec![&too_long_value], "value of 257 characters"),
        // More than 32 list-members (W3C test suite).
        (vec![&thirty_three], "33 list-members"),
        // A bad member spoils the good ones.
        (vec!["foo=1,bar", "baz=3"], "no = in the middle"),
    ];
    for (tracestate, why) in cases {
        let mut headers = vec![("traceparent", VALID)];
        headers.extend(tracestate.iter().map(|value| ("tracestate", *value)));
        let span_context = extract(&headers).unwrap_or_else(|| panic!("{why}: trace restarted"));
        assert_eq!(span_context.trace_id().to_string(), TRACE_ID, "{why}");
        assert_eq!(
            *span_context.trace_state(),
            TraceState::NONE,
            "{why}: {tracestate:?}"
        );
    }
}

#[test]
fn keys_the_span_context_cannot_hold_are_left_out_alone() {
    // The grammar allows them; OpenTelemetry's TraceState, which carries
    // the state in the span context, refuses them by the earlier
    // `tenant@system` rule: that member alone is left out (W3C test suite:
    // `foo` stays).
    let long_system = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    for key in [
        long_system.as_str(),
        "foo@@bar",
        "foo@bar@baz",
        "tenant@_vendor",
    ] {
        assert!(super::trace_state::valid_key(key), "{key}");
        let header = format!("{key}=1");
        assert_eq!(
            kept_state(&["foo=1", &header, "bar=2"]),
            pairs(&[("foo", "1"), ("bar", "2")]),
            "{key}"
        );
    }
}

#[test]
fn inject_writes_version_00_lowercase_and_one_tracestate() {
    let propagator = TraceContextPropagator::new();
    // What was received goes out again, but the parent id.
    let received = [
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
        ),
        ("tracestate", "rojo=00f067aa0ba902b7"),
        ("tracestate", " congo=t61rcWkgMzE , "),
    ];
    let cx = propagator.extract_with_context(&Context::new(), &Headers::new(received));
    let sent = injected(&propagator, &cx);
    assert_eq!(sent["traceparent"], received[0].1);
    assert_eq!(
        sent["tracestate"],
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    );
    assert_eq!(sent.len(), 2);

    // A later version goes out as 00, its extra fields dropped.
    let later = [(
        "traceparent",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like",
    )];
    let cx = propagator.extract_with_context(&Context::new(), &Headers::new(later));
    let sent = injected(&propagator, &cx);
    assert_eq!(sent["traceparent"], VALID);
    // No tracestate header for an empty one.
    assert!(!sent.contains_key("tracestate"));
}

#[test]
fn inject_sends_only_known_flags_and_valid_tracestate_members() {
    let state = TraceState::from_key_value([
        ("a", ""),
        ("b", "2"),
        ("1c", "3"),
        ("b", "4"),
        ("d", "trailing "),
    ])
    .unwrap();
    let span_context = SpanContext::new(
        TraceId::from(0xab),
        SpanId::from(0xcd),
        TraceFlags::new(0xff),
        false,
        state,
    );
    let cx = Context::new().with_remote_span_context(span_context);
    let sent = injected(&TraceContextPropagator::new(), &cx);
    assert_eq!(
        sent["traceparent"],
        "00-000000000000000000000000000000ab-00000000000000cd-03"
    );
    // Empty values, repeats and trailing spaces are not sent; a key may
    // start with a digit.
    assert_eq!(sent["tracestate"], "b=2,1c=3");
}

#[test]
fn nothing_is_injected_without_a_valid_span_context() {
    let propagator = TraceContextPropagator::new();
    assert!(injected(&propagator, &Context::new()).is_empty());
    let invalid = Context::new().with_remote_span_context(SpanContext::empty_context());
    assert!(injected(&propagator, &invalid).is_empty());
}

#[test]
fn a_received_random_flag_survives_a_child_with_default_flags() {
    // The SDK gives a dropped span default flags: the mark made at
    // extraction still sends the random flag for that trace.
    let propagator = TraceContextPropagator::new();
    let received = [(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02",
    )];
    let cx = propagator.extract_with_context(&Context::new(), &Headers::new(received));
    let child = SpanContext::new(
        TraceId::from_hex(TRACE_ID).unwrap(),
        SpanId::from(0x42),
        TraceFlags::default(),
        false,
        TraceState::NONE,
    );
    let cx = cx.with_remote_span_context(child);
    assert_eq!(
        injected(&propagator, &cx)["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000042-02"
    );
}

#[test]
fn fields_are_traceparent_and_tracestate() {
    let propagator = TraceContextPropagator::new();
    assert_eq!(
        propagator.fields().collect::<Vec<_>>(),
        ["traceparent", "tracestate"]
    );
}

#[test]
fn a_tracestate_over_512_characters_is_cut_long_members_first() {
    use super::super::trace_state;
    let long = "l".repeat(200);
    let mid = "m".repeat(100);
    let members: Vec<(String, String)> = vec![
        ("a".into(), mid.clone()),
        ("big".into(), long.clone()),
        ("b".into(), mid.clone()),
        ("c".into(), mid.clone()),
        ("d".into(), mid.clone()),
        ("e".into(), mid.clone()),
    ];
    let state = TraceState::from_key_value(members).unwrap();
    // 5 x 102 + 204 + 5 commas = 719: the long member goes first, then
    // one more from the right brings it to 4 x 102 + 3 = 411.
    let header = trace_state::header(&state);
    assert_eq!(header, format!("a={mid},b={mid},c={mid},d={mid}"));
    assert!(header.len() <= 512);
    // A header that fits is left whole.
    let state = TraceState::from_key_value([("a", "1"), ("big", long.as_str())]).unwrap();
    assert_eq!(trace_state::header(&state), format!("a=1,big={long}"));
}
