#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry::trace::{SpanId, TraceId};

use super::*;
use crate::record::testing::{header, whole};
use crate::record::{
    BodyRecord, Exchange, ExchangeKind, HeaderRecord, Recording, RedactRule, RedactionKey,
    Redactor, RequestRecord, ResponseRecord,
};

/// An outbound call to `url` with `body`, answered 200 with `answer`.
fn call(method: &str, url: &str, body: &str, answer: &str) -> Exchange {
    Exchange {
        kind: ExchangeKind::Client,
        span_id: SpanId::from(2),
        parent_span_id: SpanId::from(1),
        name: method.to_owned(),
        route: None,
        start_unix_nanos: 10,
        end_unix_nanos: 20,
        request: RequestRecord {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: vec![
                header(
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
                header("content-type", "application/json"),
            ],
            body: whole(body),
        },
        response: Some(ResponseRecord {
            status: 200,
            headers: vec![header("content-type", "application/json")],
            body: whole(answer),
            trailers: Vec::new(),
        }),
        error: None,
    }
}

fn get(url: &str, answer: &str) -> Exchange {
    call("GET", url, "", answer)
}

fn inbound() -> Exchange {
    let mut exchange = call("POST", "/checkout", "{}", "{}");
    exchange.kind = ExchangeKind::Server;
    exchange.name = "POST /checkout".to_owned();
    exchange.span_id = SpanId::from(1);
    exchange.parent_span_id = SpanId::INVALID;
    exchange
}

fn recording(outbound: Vec<Exchange>) -> Recording {
    let mut exchanges = vec![inbound()];
    exchanges.extend(outbound);
    Recording {
        trace_id: TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        service_name: "checkout".to_owned(),
        background: false,
        exchanges,
    }
}

fn matcher() -> Matcher {
    Matcher::new(Vec::new(), RedactionKey::ephemeral().unwrap())
}

fn session(outbound: Vec<Exchange>) -> MockSession {
    matcher().session(&recording(outbound))
}

fn live(method: &str, url: &str, body: &str) -> LiveCall {
    LiveCall::new(method, url).with_body(body.to_owned())
}

/// The answer's index and level, and whether it was reused.
fn took(session: &MockSession, call: &LiveCall) -> (usize, Level, bool) {
    let answer = session.answer(call).unwrap();
    (
        answer.matched.index,
        answer.matched.level,
        answer.matched.reused,
    )
}

fn answered_body(answer: &Answer) -> &[u8] {
    match &answer.outcome {
        Outcome::Response(response) => &response.body.bytes,
        other => panic!("{other:?}"),
    }
}

fn gzip(bytes: &[u8]) -> Bytes {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    Bytes::from(encoder.finish().unwrap())
}

#[test]
fn sessions_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<MockSession>();
    send_sync::<Matcher>();
    send_sync::<NoMatch>();
}

#[test]
fn an_exact_match_answers_with_the_recorded_response() {
    let session = session(vec![get("http://inventory/stock/tea", r#"{"qty":3}"#)]);
    let answer = session
        .answer(&LiveCall::new("GET", "http://inventory/stock/tea"))
        .unwrap();
    assert_eq!(
        answer.matched,
        Matched {
            index: 0,
            level: Level::Exact,
            reused: false,
            similarity: None,
        }
    );
    assert_eq!(answered_body(&answer), br#"{"qty":3}"#);
    assert_eq!(
        session.recorded(0).unwrap().request.url,
        "http://inventory/stock/tea"
    );
    assert_eq!(session.len(), 1);
}

#[test]
fn two_exact_candidates_answer_in_recorded_order_then_the_last_is_reused() {
    let session = session(vec![
        get("http://jobs/status/1", "pending"),
        get("http://jobs/other", "other"),
        get("http://jobs/status/1", "running"),
        get("http://jobs/status/1", "done"),
    ]);
    let poll = LiveCall::new("GET", "http://jobs/status/1");
    let bodies: Vec<Vec<u8>> = (0..5)
        .map(|_| answered_body(&session.answer(&poll).unwrap()).to_vec())
        .collect();
    assert_eq!(
        bodies,
        [&b"pending"[..], b"running", b"done", b"done", b"done"]
    );
    let log = session.log();
    let taken: Vec<(usize, bool)> = log
        .iter()
        .map(|entry| entry.matched.map(|m| (m.index, m.reused)).unwrap())
        .collect();
    assert_eq!(
        taken,
        [(0, false), (2, false), (3, false), (3, true), (3, true)]
    );
    assert_eq!(
        session.unused(),
        [UnusedMock {
            index: 1,
            call: CallSummary::new("GET", "http://jobs/other"),
        }]
    );
}

#[test]
fn an_exact_match_wins_over_an_earlier_similar_one_even_when_used() {
    let session = session(vec![
        call(
            "POST",
            "http://pricing/quote",
            r#"{"sku":"coffee"}"#,
            "coffee",
        ),
        call("POST", "http://pricing/quote", r#"{"sku":"tea"}"#, "tea"),
    ]);
    let tea = live("POST", "http://pricing/quote", r#"{"sku":"tea"}"#);
    assert_eq!(took(&session, &tea), (1, Level::Exact, false));
    // Made once when recorded: a second one is an extra call, answered
    // neither by the exact one again nor by the unused similar one.
    let extra = session.answer(&tea).unwrap_err();
    assert_eq!(extra.used_up, 1);
    assert!(
        extra.to_string().contains("has answered already"),
        "{extra}"
    );
    let coffee = live("POST", "http://pricing/quote", r#"{"sku":"coffee"}"#);
    assert_eq!(took(&session, &coffee), (0, Level::Exact, false));
}

#[test]
fn query_order_fragment_and_percent_escapes_do_not_matter() {
    let session = || {
        session(vec![get(
            "http://search/find?q=green%20tea&page=2&page=1",
            "hit",
        )])
    };
    for url in [
        "http://search/find?page=1&q=green%20tea&page=2",
        "http://search/find?page=2&page=1&q=green tea#results",
        "http://search/find?q=green%20tea&&page=1&page=2",
    ] {
        assert_eq!(
            took(&session(), &LiveCall::new("GET", url)).1,
            Level::Exact,
            "{url}"
        );
    }
}

#[test]
fn json_key_order_and_formatting_do_not_matter() {
    let session = session(vec![call(
        "POST",
        "http://pricing/quote",
        r#"{"sku":"tea","qty":2,"opts":{"gift":true,"wrap":"red"}}"#,
        "7",
    )]);
    let reordered = live(
        "POST",
        "http://pricing/quote",
        "{ \"opts\": {\"wrap\": \"red\", \"gift\": true},\n  \"qty\": 2, \"sku\": \"tea\" }",
    );
    assert_eq!(took(&session, &reordered).1, Level::Exact);
    // A changed value is another call: once the recorded call has
    // answered, it is not answered again by it.
    let changed = live(
        "POST",
        "http://pricing/quote",
        r#"{"sku":"tea","qty":3,"opts":{"gift":true,"wrap":"red"}}"#,
    );
    assert!(session.answer(&changed).is_err());
    let fresh = self::session(vec![call(
        "POST",
        "http://pricing/quote",
        r#"{"sku":"tea","qty":2,"opts":{"gift":true,"wrap":"red"}}"#,
        "7",
    )]);
    let answer = fresh.answer(&changed).unwrap();
    assert_eq!(answer.matched.level, Level::Similar);
    assert_eq!(
        answer.differences[0].to_string(),
        "body $.qty: expected 2, actual 3"
    );
}

#[test]
fn of_many_calls_to_one_endpoint_the_equal_body_answers_exactly() {
    // Looked up by its key rather than compared with each: the answer
    // must be the one a comparison with each would give.
    let mut calls: Vec<Exchange> = (0..50)
        .map(|n| {
            let body = format!(r#"{{"id":{n},"tags":["a","b"]}}"#);
            call("POST", "http://stock/find", &body, &n.to_string())
        })
        .collect();
    calls.push(call("POST", "http://stock/find", "plain text", "text"));
    let mut twice = call(
        "POST",
        "http://stock/find",
        r#"{"id":7,"tags":["a","b"]}"#,
        "again",
    );
    twice.start_unix_nanos = 30;
    calls.push(twice);
    let session = session(calls);
    let thirty_seven = live("POST", "http://stock/find", r#"{"tags":["a","b"],"id":37}"#);
    assert_eq!(took(&session, &thirty_seven), (37, Level::Exact, false));
    // A body that is not JSON is compared as bytes.
    let text = live("POST", "http://stock/find", "plain text");
    assert_eq!(took(&session, &text), (50, Level::Exact, false));
    // Two equal recorded bodies answer in recorded order.
    let seven = live("POST", "http://stock/find", r#"{"id":7,"tags":["a","b"]}"#);
    assert_eq!(took(&session, &seven), (7, Level::Exact, false));
    assert_eq!(took(&session, &seven), (51, Level::Exact, false));
    // Tags in another order are another body: not exact.
    let reordered = live("POST", "http://stock/find", r#"{"id":3,"tags":["b","a"]}"#);
    assert_ne!(took(&session, &reordered).1, Level::Exact);
}

#[test]
fn default_ports_host_and_scheme_case_are_equivalent() {
    let session = session(vec![
        get("http://inventory:80/stock/tea", "plain"),
        get("https://Pricing.Internal/prices", "tls"),
    ]);
    assert_eq!(
        took(
            &session,
            &LiveCall::new("GET", "HTTP://INVENTORY/stock/tea")
        )
        .0,
        0
    );
    assert_eq!(
        took(
            &session,
            &LiveCall::new("GET", "https://pricing.internal:443/prices")
        )
        .0,
        1
    );
    // Another port is another origin; the path keeps its case.
    let err = session
        .answer(&LiveCall::new("GET", "http://inventory:8080/stock/tea"))
        .unwrap_err();
    assert_eq!(
        err.closest[0].differences,
        [Difference::Origin {
            live: "http://inventory:8080".to_owned(),
            recorded: "http://inventory".to_owned(),
        }]
    );
    assert!(
        session
            .answer(&LiveCall::new("GET", "http://inventory/Stock/tea"))
            .is_err()
    );
}

#[test]
fn headers_are_not_compared() {
    let session = session(vec![get("http://inventory/stock/tea", "3")]);
    let call = LiveCall::new("GET", "http://inventory/stock/tea").with_headers(vec![
        header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        header("authorization", "Bearer another-token"),
        header("x-request-id", "5d0c1a"),
    ]);
    assert_eq!(took(&session, &call).1, Level::Exact);
}

#[test]
fn a_redacted_query_value_matches_at_the_redacted_level_only() {
    // Recorded with a rule (or key) the replay does not have (`voucher` is
    // no default key, so the replay leaves it as it is).
    let session = session(vec![get(
        "http://inventory/stock?voucher=REDACTED:0123456789abcdef&sku=tea",
        "3",
    )]);
    let call = LiveCall::new("GET", "http://inventory/stock?sku=tea&voucher=s3cret");
    assert_eq!(took(&session, &call), (0, Level::Redacted, false));
    // The other values must still be equal for that level.
    let session = self::session(vec![get(
        "http://inventory/stock?voucher=REDACTED:0123456789abcdef&sku=tea",
        "3",
    )]);
    let other_sku = LiveCall::new("GET", "http://inventory/stock?sku=coffee&voucher=s3cret");
    assert_eq!(took(&session, &other_sku).1, Level::Similar);
    // A recorded call with the same value is preferred: it is exact.
    let session = self::session(vec![
        get(
            "http://inventory/stock?voucher=REDACTED:0123456789abcdef&sku=tea",
            "redacted",
        ),
        get("http://inventory/stock?voucher=visible&sku=tea", "visible"),
    ]);
    let call = LiveCall::new("GET", "http://inventory/stock?sku=tea&voucher=visible");
    assert_eq!(took(&session, &call), (1, Level::Exact, false));
}

#[test]
fn a_redacted_or_masked_json_leaf_matches_at_the_redacted_level_only() {
    let session = session(vec![call(
        "POST",
        "http://payments/charge",
        r#"{"card":{"number":"************1111","cvc":"REDACTED:0123456789abcdef"},"amount":700}"#,
        "ok",
    )]);
    let charge = live(
        "POST",
        "http://payments/charge",
        r#"{"amount":700,"card":{"number":"4111111111111111","cvc":123}}"#,
    );
    assert_eq!(took(&session, &charge), (0, Level::Redacted, false));
    // Another amount is only similar.
    let session = self::session(vec![call(
        "POST",
        "http://payments/charge",
        r#"{"card":{"number":"************1111","cvc":"REDACTED:0123456789abcdef"},"amount":700}"#,
        "ok",
    )]);
    let other = live(
        "POST",
        "http://payments/charge",
        r#"{"amount":800,"card":{"number":"4111111111111111","cvc":123}}"#,
    );
    let answer = session.answer(&other).unwrap();
    assert_eq!(answer.matched.level, Level::Similar);
    // The path's segment, and two of the body's three leaves.
    assert_eq!(answer.matched.similarity, Some(Similarity::new(3, 4)));
}

#[test]
fn a_secret_hashed_with_the_same_key_matches_exactly() {
    let key = RedactionKey::ephemeral().unwrap();
    let rules = vec![
        RedactRule::query("api_key"),
        RedactRule::json("$.card.number".parse().unwrap()),
    ];
    // Recorded as the recorder writes it: redacted with the rules and key.
    let raw = call(
        "POST",
        "https://payments/charge?api_key=k-123&v=2",
        r#"{"card":{"number":"4111111111111111"},"amount":700}"#,
        "ok",
    );
    let recorded = Redactor::new(rules.clone(), key.clone())
        .apply(recording(vec![raw]))
        .unwrap();
    let url = &recorded.exchanges[1].request.url;
    assert!(url.contains("api_key=REDACTED:"), "{url}");
    assert!(!url.contains("k-123"), "{url}");
    let charge = |api_key: &str, card: &str| {
        live(
            "POST",
            &format!("https://payments/charge?v=2&api_key={api_key}"),
            &format!(r#"{{"amount":700,"card":{{"number":"{card}"}}}}"#),
        )
    };

    let session = || Matcher::new(rules.clone(), key.clone()).session(&recorded);
    assert_eq!(
        took(&session(), &charge("k-123", "4111111111111111")).1,
        Level::Exact
    );
    // Other secrets hash differently: equal only at the redacted level.
    assert_eq!(
        took(&session(), &charge("k-456", "4111111111111111")).1,
        Level::Redacted
    );
    assert_eq!(
        took(&session(), &charge("k-123", "4000000000000002")).1,
        Level::Redacted
    );
    // Another key, likewise.
    let other_key = Matcher::new(rules, RedactionKey::ephemeral().unwrap()).session(&recorded);
    assert_eq!(
        took(&other_key, &charge("k-123", "4111111111111111")).1,
        Level::Redacted
    );
    // The log shows the live call redacted.
    let log = other_key.log();
    assert!(
        log.iter().all(|entry| !entry.call.url.contains("k-123")),
        "{log:?}"
    );
}

#[test]
fn the_defaults_redact_live_urls_as_recordings_are() {
    let session = session(vec![get(
        "https://REDACTED:REDACTED@files/report?id=7&Signature=REDACTED",
        "pdf",
    )]);
    let signed = LiveCall::new("GET", "https://bot:pw@files/report?Signature=live-sig&id=7");
    assert_eq!(took(&session, &signed).1, Level::Exact);
    assert_eq!(
        session.log()[0].call.url,
        "https://REDACTED:REDACTED@files/report?Signature=REDACTED&id=7"
    );
}

#[test]
fn the_most_similar_body_is_chosen_then_ties_go_by_recorded_order() {
    let session = session(vec![
        call(
            "POST",
            "http://pricing/quote?v=1",
            r#"{"sku":"tea","qty":1,"note":"a"}"#,
            "0",
        ),
        call(
            "POST",
            "http://pricing/quote?v=1",
            r#"{"sku":"tea","qty":2,"note":"b"}"#,
            "1",
        ),
        call(
            "POST",
            "http://pricing/quote?v=1",
            r#"{"sku":"coffee","qty":2,"note":"b"}"#,
            "2",
        ),
        call(
            "POST",
            "http://pricing/quote?v=1",
            r#"{"sku":"tea","qty":2,"note":"c"}"#,
            "3",
        ),
    ]);
    // Query values and body values count alike.
    let quote = live(
        "POST",
        "http://pricing/quote?v=2",
        r#"{"note":"z","qty":2,"sku":"tea"}"#,
    );
    let answer = session.answer(&quote).unwrap();
    assert_eq!(
        answer.matched,
        Matched {
            index: 1,
            level: Level::Similar,
            reused: false,
            // The path, neither query pair, two of three body leaves.
            similarity: Some(Similarity::new(3, 6)),
        }
    );
    // 1 and 3 are alike to the same degree: in recorded order; then the
    // less alike, never one that answered already.
    assert_eq!(took(&session, &quote), (3, Level::Similar, false));
    assert_eq!(took(&session, &quote), (0, Level::Similar, false));
    assert_eq!(took(&session, &quote), (2, Level::Similar, false));
    assert!(session.answer(&quote).is_err());
    // Text bodies by common prefix and suffix.
    let session = self::session(vec![
        call("PUT", "http://notes/1", "hello brave new world", "0"),
        call("PUT", "http://notes/1", "hello old world", "1"),
    ]);
    let put = live("PUT", "http://notes/1", "hello brave old world");
    assert_eq!(took(&session, &put).0, 0);
}

#[test]
fn a_call_nothing_matches_names_the_closest_recorded_calls() {
    let session = session(vec![
        get("http://inventory/v1/items?sku=tea", "0"),
        call("POST", "http://pricing/quote", r#"{"sku":"tea"}"#, "1"),
        get("http://inventory/v1/items?sku=tea&limit=5", "2"),
        get("http://inventory:8080/v2/items?sku=tea", "3"),
    ]);
    let err = session
        .answer(&LiveCall::new("GET", "http://inventory/v2/items?sku=tea"))
        .unwrap_err();
    let closest: Vec<(usize, Vec<String>)> = err
        .closest
        .iter()
        .map(|c| {
            (
                c.index,
                c.differences.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    assert_eq!(
        closest,
        [
            (0, vec!["path /v2/items vs /v1/items".to_owned()]),
            (
                3,
                vec!["origin http://inventory vs http://inventory:8080".to_owned()]
            ),
            (
                2,
                vec![
                    "path /v2/items vs /v1/items".to_owned(),
                    "query keys {sku} vs {limit,sku}".to_owned(),
                ]
            ),
        ]
    );
    assert_eq!(
        err.to_string(),
        "no recorded call matches GET http://inventory/v2/items?sku=tea: none of the 4 outbound \
         calls in the recording of POST /checkout (trace 4bf92f3577b34da6a3ce929d0e0e4736) has \
         the same method, origin and path; closest (live vs recorded): \
         #0 GET http://inventory/v1/items?sku=tea (path /v2/items vs /v1/items); \
         #3 GET http://inventory:8080/v2/items?sku=tea (origin http://inventory vs http://inventory:8080); \
         #2 GET http://inventory/v1/items?sku=tea&limit=5 (path /v2/items vs /v1/items, query keys {sku} vs {limit,sku}); \
         the service now makes a call its recording does not have: record again if that is \
         intended, else look for what changed the call"
    );
    assert!(!err.dropped_by_rule);
    assert_eq!(err.recorded, 4);

    // Each of method, origin, path and query keys on its own.
    for (method, url, difference) in [
        ("DELETE", "http://pricing/quote", "method DELETE vs POST"),
        (
            "POST",
            "http://prices/quote",
            "origin http://prices vs http://pricing",
        ),
        (
            "POST",
            "https://pricing/quote",
            "origin https://pricing vs http://pricing",
        ),
        ("POST", "http://pricing/quotes", "path /quotes vs /quote"),
    ] {
        let err = session
            .answer(&live(method, url, r#"{"sku":"coffee"}"#))
            .unwrap_err();
        let first = &err.closest[0];
        assert_eq!(first.index, 1, "{method} {url}");
        assert_eq!(first.differences[0].to_string(), difference);
        assert_eq!(
            first.differences[1],
            Difference::Body {
                similarity: Similarity::new(0, 1)
            }
        );
        assert!(err.to_string().contains(difference), "{err}");
    }
    // Every call is logged, answered or not, and nothing was used.
    assert_eq!(session.log().len(), 5);
    assert!(session.log().iter().all(|entry| entry.matched.is_none()));
    assert_eq!(session.unused().len(), 4);
    // A query key more is the same endpoint: a call that deviates, with
    // what differs.
    let answer = session
        .answer(&live(
            "POST",
            "http://pricing/quote?dry_run=1",
            r#"{"sku":"tea"}"#,
        ))
        .unwrap();
    assert_eq!(answer.matched.level, Level::Similar);
    assert_eq!(
        answer.differences[0].to_string(),
        "query dry_run: unexpected 1"
    );
}

#[test]
fn no_match_in_an_empty_session_and_for_dropped_calls_says_why() {
    let session = session(Vec::new());
    assert!(session.is_empty());
    let err = session
        .answer(&LiveCall::new("GET", "http://inventory/items"))
        .unwrap_err();
    assert!(err.closest.is_empty());
    assert_eq!(
        err.to_string(),
        "no recorded call matches GET http://inventory/items: there are no outbound calls in the \
         recording of POST /checkout (trace 4bf92f3577b34da6a3ce929d0e0e4736); the service now \
         makes a call its recording does not have: record again if that is intended, else look \
         for what changed the call"
    );

    let rules = vec![
        RedactRule::exchanges()
            .hosts(["metrics.*".parse().unwrap()])
            .outbound(),
    ];
    let session = Matcher::new(rules, RedactionKey::ephemeral().unwrap())
        .session(&recording(vec![get("http://inventory/items", "[]")]));
    let err = session
        .answer(&LiveCall::new("POST", "http://metrics.internal/push"))
        .unwrap_err();
    assert!(err.dropped_by_rule);
    assert!(
        err.to_string().ends_with(
            "a drop rule of the redaction rules matches this call, so recordings leave calls \
             like it out: narrow the rule and record again"
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains(
            "the only outbound call in the recording of POST /checkout (trace \
             4bf92f3577b34da6a3ce929d0e0e4736) differs in method, origin or path"
        ),
        "{err}"
    );
}

#[test]
fn no_match_serializes_for_the_report() {
    let session = session(vec![get("http://inventory/v1/items", "0")]);
    let err = session
        .answer(&LiveCall::new("GET", "http://inventory/v2/items"))
        .unwrap_err();
    let json = serde_json::to_value(&err).unwrap();
    assert_eq!(json["call"]["url"], "http://inventory/v2/items");
    assert_eq!(
        json["closest"][0]["differences"][0],
        serde_json::json!({"what": "path", "live": "/v2/items", "recorded": "/v1/items"})
    );
    let log = serde_json::to_value(session.log()).unwrap();
    assert_eq!(log[0]["matched"], serde_json::Value::Null);
}

#[test]
fn concurrent_calls_take_each_recorded_call_once_and_in_order() {
    const CALLS: usize = 64;
    let recorded: Vec<Exchange> = (0..CALLS)
        .map(|i| get("http://jobs/next", &i.to_string()))
        .collect();
    let session = Arc::new(session(recorded));
    let answers: Vec<Answer> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let session = Arc::clone(&session);
                scope.spawn(move || {
                    let next = LiveCall::new("GET", "http://jobs/next");
                    (0..CALLS / 8)
                        .map(|_| session.answer(&next).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect()
    });
    // Each recorded call answered exactly once, with its own response.
    let mut indices: Vec<usize> = answers.iter().map(|a| a.matched.index).collect();
    indices.sort_unstable();
    assert_eq!(indices, (0..CALLS).collect::<Vec<_>>());
    assert!(answers.iter().all(|a| !a.matched.reused));
    for answer in &answers {
        assert_eq!(
            answered_body(answer),
            answer.matched.index.to_string().as_bytes()
        );
    }
    // Handed out in recorded order, as the log shows.
    let logged: Vec<usize> = session
        .log()
        .iter()
        .map(|entry| entry.matched.unwrap().index)
        .collect();
    assert_eq!(logged, (0..CALLS).collect::<Vec<_>>());
    assert!(session.unused().is_empty());
    assert_eq!(
        took(&session, &LiveCall::new("GET", "http://jobs/next")),
        (CALLS - 1, Level::Exact, true)
    );
}

#[test]
fn the_background_session_matches_start_up_calls_of_every_background_recording() {
    let background = |trace: u128, start: u64, url: &str, answer: &str| {
        let mut exchange = get(url, answer);
        exchange.start_unix_nanos = start;
        exchange.parent_span_id = SpanId::INVALID;
        Recording {
            trace_id: TraceId::from(trace),
            service_name: "checkout".to_owned(),
            background: true,
            exchanges: vec![exchange],
        }
    };
    let later = background(1, 200, "http://config/settings", "later");
    let earlier = background(2, 100, "http://config/settings", "earlier");
    let flags = background(3, 150, "http://flags/all", "flags");
    let request = recording(vec![get("http://inventory/items", "[]")]);
    let session = matcher().background_session([&later, &request, &earlier, &flags]);
    assert_eq!(session.len(), 3);
    assert_eq!(session.scope(), "the background recordings");
    // In the order the calls started, whatever the order given.
    let settings = LiveCall::new("GET", "http://config/settings");
    assert_eq!(
        answered_body(&session.answer(&settings).unwrap()),
        b"earlier"
    );
    assert_eq!(answered_body(&session.answer(&settings).unwrap()), b"later");
    assert_eq!(
        took(&session, &LiveCall::new("GET", "http://flags/all")).0,
        1
    );
    // A request's own calls are not background calls.
    let err = session
        .answer(&LiveCall::new("GET", "http://inventory/items"))
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "no recorded call matches GET http://inventory/items: none of the 3 outbound calls \
             in the background recordings has"
        ),
        "{err}"
    );
}

#[test]
fn a_gzip_body_matches_its_plain_form_either_way() {
    let json = br#"{"sku":"tea","qty":2}"#;
    let mut recorded = call("POST", "http://pricing/quote", "", "7");
    recorded
        .request
        .headers
        .push(header("content-encoding", "gzip"));
    let wire = gzip(json);
    recorded.request.body = BodyRecord {
        size: wire.len() as u64,
        bytes: wire,
        truncated: false,
    };
    let session = session(vec![recorded]);
    let plain = live("POST", "http://pricing/quote", r#"{"qty":2,"sku":"tea"}"#);
    assert_eq!(took(&session, &plain).1, Level::Exact);

    let session = self::session(vec![call(
        "POST",
        "http://pricing/quote",
        r#"{"sku":"tea","qty":2}"#,
        "7",
    )]);
    let encoded = LiveCall::new("POST", "http://pricing/quote")
        .with_headers(vec![header("content-encoding", "gzip")])
        .with_body(gzip(json));
    assert_eq!(took(&session, &encoded).1, Level::Exact);
}

#[test]
fn recorded_failures_and_abandoned_calls_are_answered_as_such() {
    let mut refused = get("http://pricing/quote", "");
    refused.response = None;
    refused.error = Some("connect: connection refused".to_owned());
    let mut abandoned = get("http://slow/report", "");
    abandoned.response = None;
    let session = session(vec![refused, abandoned]);
    let answer = session
        .answer(&LiveCall::new("GET", "http://pricing/quote"))
        .unwrap();
    assert_eq!(
        answer.outcome,
        Outcome::Failed("connect: connection refused".to_owned())
    );
    let answer = session
        .answer(&LiveCall::new("GET", "http://slow/report"))
        .unwrap();
    assert_eq!(answer.outcome, Outcome::Abandoned);
}

#[test]
fn a_route_template_lets_route_rules_redact_the_live_call() {
    let rules = vec![RedactRule::query("token").routes(["/items/{id}".parse().unwrap()])];
    let key = RedactionKey::ephemeral().unwrap();
    let mut raw = get("http://inventory/items/7?token=t-1", "7");
    raw.route = Some("/items/{id}".to_owned());
    let recorded = Redactor::new(rules.clone(), key.clone())
        .apply(recording(vec![raw]))
        .unwrap();
    let session = || Matcher::new(rules.clone(), key.clone()).session(&recorded);
    let without = LiveCall::new("GET", "http://inventory/items/7?token=t-1");
    assert_eq!(took(&session(), &without).1, Level::Redacted);
    let with = without.clone().with_route("/items/{id}");
    assert_eq!(took(&session(), &with).1, Level::Exact);
}

#[test]
fn only_outbound_calls_are_candidates() {
    let session = session(Vec::new());
    // The inbound request of the recording is never an answer.
    assert!(session.answer(&live("POST", "/checkout", "{}")).is_err());
    let headers: Vec<HeaderRecord> = Vec::new();
    assert!(
        session
            .answer(&LiveCall::new("POST", "/checkout").with_headers(headers))
            .is_err()
    );
}

#[test]
fn the_log_keeps_the_first_calls_and_counts_the_rest() {
    // A status polled: recorded twice, so answered again and again.
    let short = session(vec![
        get("http://stock/items", "[]"),
        get("http://stock/items", "[]"),
    ]);
    let answered = live("GET", "http://stock/items", "");
    for _ in 0..LOG_ENTRIES {
        assert!(short.answer(&answered).is_ok());
    }
    assert_eq!(short.omitted(), Omitted::default());
    // Past the limit: answered all the same, counted, not described.
    assert!(short.answer(&answered).is_ok());
    assert!(
        short
            .answer(&live("GET", "http://stock/other", ""))
            .is_err()
    );
    assert_eq!(short.log().len(), LOG_ENTRIES);
    assert_eq!(
        short.omitted(),
        Omitted {
            calls: 2,
            unmatched: 1
        }
    );

    // Long URLs fill the log's bytes before its entries.
    let long = format!("http://stock/items?q={}", "x".repeat(10_000));
    let long_session = session(vec![get(&long, "[]"), get(&long, "[]")]);
    let call = live("GET", &long, "");
    for _ in 0..10 {
        assert!(long_session.answer(&call).is_ok());
    }
    let kept = long_session.log().len();
    assert!(kept * (3 + long.len()) <= LOG_BYTES && kept < 10, "{kept}");
    assert_eq!(long_session.omitted().calls, 10 - kept);
}

// Calls whose query carries a timestamp and a signature got each other's
// answers when only query keys were compared.
#[test]
fn concurrent_calls_with_their_own_timestamps_and_signatures_are_never_cross_wired() {
    let recorded: Vec<Exchange> = (1..=3)
        .map(|item| {
            get(
                &format!(
                    "http://catalog/price?item={item}&ts=173346240{item}123&hmac=9f86d081884c7d659a2feaa0c55ad01{item}"
                ),
                &format!("{{\"item\":{item}}}"),
            )
        })
        .collect();
    let session = Arc::new(session(recorded));
    let barrier = Arc::new(std::sync::Barrier::new(3));
    let threads: Vec<_> = (1..=3)
        .rev()
        .map(|item| {
            let session = Arc::clone(&session);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let call = LiveCall::new(
                    "GET",
                    format!(
                        "http://catalog/price?hmac=2c26b46b68ffc68ff99b453c1d30413{item}&ts=176500000{item}999&item={item}"
                    ),
                );
                barrier.wait();
                let answer = session.answer(&call).unwrap();
                (item, answer.matched.level, answered_body(&answer).to_vec())
            })
        })
        .collect();
    for thread in threads {
        let (item, level, body) = thread.join().unwrap();
        assert_eq!(level, Level::Dynamic);
        assert_eq!(body, format!("{{\"item\":{item}}}").into_bytes());
    }
    assert!(session.unused().is_empty());
}

#[test]
fn ids_clocks_and_tokens_are_wildcards_in_paths_queries_and_bodies() {
    let session = session(vec![call(
        "POST",
        "http://ledger/accounts/6f1c2e9a-3b4d-4c5e-8f70-112233445566/entries?at=2025-01-02T03:04:05Z",
        r#"{"request_id":"0d6bdb4e-8a43-4a5e-9f3a-1c2d3e4f5a6b","nonce":"a1b2c3d4e5f60718","amount":700,"note":"sent 2025-01-02T03:04:05Z"}"#,
        "ok",
    )]);
    let call = live(
        "POST",
        "http://ledger/accounts/01890a5d-ac96-774b-bcce-b302099a8057/entries?at=2026-12-06T05:00:00Z",
        r#"{"amount":700,"nonce":"ffee00112233aa44","request_id":"1e7cec5f-9b54-4b6f-8a4b-2d3e4f5a6b7c","note":"sent 2026-12-06T05:00:00Z"}"#,
    );
    assert_eq!(took(&session, &call), (0, Level::Dynamic, false));
    // Made once when recorded, it is not answered twice.
    assert!(session.answer(&call).is_err());
}

#[test]
fn a_changed_business_value_a_date_or_a_number_s_type_is_another_call() {
    let recorded = || {
        session(vec![call(
            "POST",
            "http://billing/invoices",
            r#"{"id":"6f1c2e9a-3b4d-4c5e-8f70-112233445566","due_date":"2026-01-05","qty":2}"#,
            "ok",
        )])
    };
    for (body, difference) in [
        (
            r#"{"id":"01890a5d-ac96-774b-bcce-b302099a8057","due_date":"2025-12-20","qty":2}"#,
            r#"body $.due_date: expected "2026-01-05", actual "2025-12-20""#,
        ),
        (
            r#"{"id":"01890a5d-ac96-774b-bcce-b302099a8057","due_date":"2026-01-05","qty":2.0}"#,
            "body $.qty: expected 2, actual 2.0",
        ),
        (
            r#"{"id":"01890a5d-ac96-774b-bcce-b302099a8057","due_date":"2026-01-05"}"#,
            "body $.qty: missing (expected 2)",
        ),
    ] {
        let answer = recorded()
            .answer(&live("POST", "http://billing/invoices", body))
            .unwrap();
        assert_eq!(answer.matched.level, Level::Similar, "{body}");
        let differences: Vec<String> = answer.differences.iter().map(ToString::to_string).collect();
        assert_eq!(differences, [difference]);
    }
}

// A dropped query value and an extra call to a recorded endpoint were
// answered loosely (or by re-using another recorded call) and nothing was
// reported.
#[test]
fn a_dropped_query_value_deviates_and_an_extra_call_is_not_answered() {
    let session = session(vec![
        get("http://stock/items?sku=tea&warehouse=north", "tea"),
        get("http://stock/items?sku=coffee&warehouse=north", "coffee"),
    ]);
    let dropped = LiveCall::new("GET", "http://stock/items?sku=tea");
    let answer = session.answer(&dropped).unwrap();
    assert_eq!(
        (answer.matched.index, answer.matched.level),
        (0, Level::Similar)
    );
    assert_eq!(
        answer.differences[0].to_string(),
        "query warehouse: missing (expected north)"
    );
    let coffee = LiveCall::new("GET", "http://stock/items?sku=coffee&warehouse=north");
    assert_eq!(took(&session, &coffee), (1, Level::Exact, false));
    // A third call, like both but equal to neither: nothing answers it.
    let extra = LiveCall::new("GET", "http://stock/items?sku=milk&warehouse=north");
    assert!(session.answer(&extra).is_err());
    let log = session.log();
    assert!(log[2].matched.is_none());
}

#[test]
fn form_bodies_are_compared_field_by_field() {
    let form = |body: &str| {
        let mut exchange = call("POST", "http://auth/token", body, "ok");
        exchange.request.headers =
            vec![header("content-type", "application/x-www-form-urlencoded")];
        exchange
    };
    let session = session(vec![form(
        "grant_type=client_credentials&scope=read+write&nonce=a1b2c3d4e5f60718",
    )]);
    let call = |body: &str| {
        LiveCall::new("POST", "http://auth/token")
            .with_headers(vec![header(
                "content-type",
                "application/x-www-form-urlencoded",
            )])
            .with_body(body.to_owned())
    };
    assert_eq!(
        took(
            &session,
            &call("nonce=ffee00112233aa44&scope=read%20write&grant_type=client_credentials")
        ),
        (0, Level::Dynamic, false)
    );
    let answer = self::session(vec![form(
        "grant_type=client_credentials&scope=read+write&nonce=a1b2c3d4e5f60718",
    )])
    .answer(&call(
        "grant_type=client_credentials&scope=read&nonce=ffee00112233aa44",
    ))
    .unwrap();
    assert_eq!(answer.matched.level, Level::Similar);
    assert_eq!(
        answer.differences[0].to_string(),
        "body $.scope: expected read write, actual read"
    );
}

#[test]
fn chosen_headers_tell_calls_apart_and_their_run_to_run_values_do_not() {
    let tenant = |tenant: &str, request_id: &str, answer: &str| {
        let mut exchange = get("http://billing/plan", answer);
        exchange.request.headers = vec![
            header("x-tenant", tenant),
            header("x-request-id", request_id),
        ];
        exchange
    };
    let recording = recording(vec![
        tenant("acme", "6f1c2e9a-3b4d-4c5e-8f70-112233445566", "acme"),
        tenant("globex", "0d6bdb4e-8a43-4a5e-9f3a-1c2d3e4f5a6b", "globex"),
    ]);
    let matcher = matcher().with_headers(["X-Tenant", "X-Request-Id"]);
    let session = matcher.session(&recording);
    let call = |tenant: &str| {
        LiveCall::new("GET", "http://billing/plan").with_headers(vec![
            header("x-tenant", tenant),
            header("x-request-id", "01890a5d-ac96-774b-bcce-b302099a8057"),
        ])
    };
    let answer = session.answer(&call("globex")).unwrap();
    assert_eq!(
        (answer.matched.index, answer.matched.level),
        (1, Level::Dynamic)
    );
    assert_eq!(answered_body(&answer), b"globex");
    let answer = session.answer(&call("initech")).unwrap();
    assert_eq!(answer.matched.level, Level::Similar);
    assert_eq!(
        answer.differences[0].to_string(),
        "header x-tenant: expected acme, actual initech"
    );
    // Without choosing them, headers are never compared.
    let session = self::matcher().session(&recording);
    assert_eq!(took(&session, &call("initech")), (0, Level::Exact, false));
}

// A periodic background job, run longer than when recorded, sent
// sequence numbers never recorded, and every such call failed the run.
#[test]
fn in_the_background_a_value_that_varies_among_the_recorded_calls_may_vary_again() {
    let beat = |seq: u32, status: &str| {
        format!(
            r#"{{"seq":{seq},"status":"{status}","instance":"6f1c2e9a-3b4d-4c5e-8f70-112233445566"}}"#
        )
    };
    let mut recording = recording(
        (0..3)
            .map(|seq| call("POST", "http://ops/heartbeat", &beat(seq, "ok"), "{}"))
            .collect(),
    );
    recording.background = true;
    recording
        .exchanges
        .retain(|exchange| exchange.kind == ExchangeKind::Client);
    let session = matcher().background_session([&recording]);
    for seq in 0..3 {
        assert_eq!(
            took(
                &session,
                &live("POST", "http://ops/heartbeat", &beat(seq, "ok"))
            )
            .1,
            Level::Exact
        );
    }
    // Beat 7 was never recorded: the same call, as the job makes it again.
    let later = session
        .answer(&live("POST", "http://ops/heartbeat", &beat(7, "ok")))
        .unwrap();
    assert_eq!(
        (later.matched.level, later.matched.reused),
        (Level::Dynamic, true)
    );
    // A value the recorded calls all agree on is not forgiven.
    let busy = session.answer(&live("POST", "http://ops/heartbeat", &beat(8, "busy")));
    assert!(busy.is_err(), "{busy:?}");
    let fresh = matcher().background_session([&recording]);
    let busy = fresh
        .answer(&live("POST", "http://ops/heartbeat", &beat(8, "busy")))
        .unwrap();
    assert_eq!(busy.matched.level, Level::Similar);
    let differences: Vec<String> = busy.differences.iter().map(ToString::to_string).collect();
    assert!(
        differences.contains(&r#"body $.status: expected "ok", actual "busy""#.to_owned()),
        "{differences:?}"
    );
    // A replayed request's own calls are not: each is the call it is.
    let mut own = recording.clone();
    own.background = false;
    let session = matcher().session(&own);
    for seq in 0..3 {
        took(
            &session,
            &live("POST", "http://ops/heartbeat", &beat(seq, "ok")),
        );
    }
    assert!(
        session
            .answer(&live("POST", "http://ops/heartbeat", &beat(7, "ok")))
            .is_err()
    );
}

#[test]
fn a_background_call_made_once_and_not_again_is_told_apart_from_a_periodic_one() {
    let mut recording = recording(vec![
        get("http://config/flags", "{}"),
        call("POST", "http://ops/heartbeat", r#"{"seq":0}"#, "{}"),
        call("POST", "http://ops/heartbeat", r#"{"seq":1}"#, "{}"),
    ]);
    recording.background = true;
    recording
        .exchanges
        .retain(|exchange| exchange.kind == ExchangeKind::Client);
    let session = matcher().background_session([&recording]);
    took(
        &session,
        &live("POST", "http://ops/heartbeat", r#"{"seq":0}"#),
    );
    // The heartbeat left over only means a shorter run; the start-up call
    // is missed.
    assert_eq!(session.unused().len(), 2);
    let once: Vec<String> = session
        .unused_once()
        .into_iter()
        .map(|unused| unused.call.url)
        .collect();
    assert_eq!(once, ["http://config/flags"]);
}

/// One gRPC message `{1: item, 2: quantity}`, framed.
fn grpc_order(item: &str, quantity: u8) -> Vec<u8> {
    let mut message = vec![0x0a, item.len() as u8];
    message.extend_from_slice(item.as_bytes());
    message.extend_from_slice(&[0x10, quantity]);
    let mut body = vec![0];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(&message);
    body
}

#[test]
fn a_grpc_call_is_matched_field_by_field_and_a_changed_field_named_by_its_path() {
    let mut recorded = call("POST", "http://stock/stock.Stock/Reserve", "", "ok");
    recorded.request.headers = vec![header("content-type", "application/grpc")];
    recorded.request.body = whole(grpc_order("tea", 2));
    let live = |quantity| {
        LiveCall::new("POST", "http://stock/stock.Stock/Reserve")
            .with_headers(vec![header("content-type", "application/grpc")])
            .with_body(grpc_order("tea", quantity))
    };
    let session = self::session(vec![recorded.clone()]);
    assert_eq!(took(&session, &live(2)).1, Level::Exact);
    let fresh = self::session(vec![recorded]);
    let answer = fresh.answer(&live(3)).unwrap();
    assert_eq!(answer.matched.level, Level::Similar);
    assert_eq!(
        answer.differences[0].to_string(),
        "body $[0].2: expected 2, actual 3"
    );
}
