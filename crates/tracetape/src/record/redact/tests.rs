#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use opentelemetry::trace::{SpanId, TraceId};

use super::*;
use crate::record::testing::header;
use crate::record::{BodyRecord, HeaderRecord, RequestRecord, ResponseRecord};

fn body(text: &str) -> BodyRecord {
    BodyRecord {
        bytes: Bytes::from(text.to_owned()),
        truncated: false,
        size: text.len() as u64,
    }
}

fn exchange(kind: ExchangeKind, method: &str, url: &str, request_body: &str) -> Exchange {
    Exchange {
        kind,
        span_id: SpanId::from(1),
        parent_span_id: SpanId::INVALID,
        name: method.to_owned(),
        route: None,
        start_unix_nanos: 1,
        end_unix_nanos: 2,
        request: RequestRecord {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: vec![
                header("authorization", "Bearer s3cret-token"),
                header("x-api-key", "k3y"),
                header("cookie", "session=abc"),
                header("accept", "application/json"),
                header("content-type", "application/json"),
                header("x-session", "sess-9"),
                header("x-csrf-token", "csrf-t0k"),
                header("x-goog-api-key", "g00g-k3y"),
            ],
            body: body(request_body),
        },
        response: Some(ResponseRecord {
            status: 200,
            headers: vec![
                header("set-cookie", "session=def"),
                header("etag", "\"1\""),
                header("content-type", "application/json"),
                header("content-length", "25"),
            ],
            body: body(r#"{"token":"resp-t0k3n-xyz"}"#),
            trailers: Vec::new(),
        }),
        error: None,
    }
}

fn recording(exchanges: Vec<Exchange>) -> Recording {
    Recording {
        trace_id: TraceId::from(7),
        service_name: "orders".to_owned(),
        background: false,
        exchanges,
    }
}

fn redactor(rules: Vec<RedactRule>) -> Redactor {
    Redactor::new(rules, RedactionKey::ephemeral().unwrap())
}

fn value<'a>(headers: &'a [HeaderRecord], name: &str) -> Option<&'a Bytes> {
    headers.iter().find(|h| h.name == name).map(|h| &h.value)
}

fn text(bytes: &Bytes) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn defaults_hash_credentials_and_redact_url_secrets() {
    let redactor = redactor(Vec::new());
    let recording = redactor
        .apply(recording(vec![
            exchange(ExchangeKind::Server, "GET", "/orders?sig=inbound", ""),
            exchange(
                ExchangeKind::Client,
                "GET",
                "https://user:pa55@pay.test/charge?Signature=xyz&id=1",
                "",
            ),
        ]))
        .unwrap();
    let written = format!("{recording:?}");
    for secret in [
        "s3cret-token",
        "k3y",
        "session=abc",
        "session=def",
        "pa55",
        "Signature=xyz",
        // Every credential header spans hide is hidden in recordings too.
        "csrf-t0k",
        "g00g-k3y",
    ] {
        assert!(!written.contains(secret), "{secret} was kept");
    }
    let client = &recording.exchanges[1];
    assert_eq!(
        client.request.url,
        "https://REDACTED:REDACTED@pay.test/charge?Signature=REDACTED&id=1"
    );
    let auth = value(&client.request.headers, "authorization").unwrap();
    assert_eq!(text(auth), redactor.key.redact(b"Bearer s3cret-token"));
    // Equal secrets stay equal, across exchanges.
    assert_eq!(
        value(&recording.exchanges[0].request.headers, "authorization"),
        Some(auth)
    );
    assert_eq!(
        value(&client.request.headers, "accept").map(text),
        Some("application/json")
    );
    let response = &client.response.as_ref().unwrap().headers;
    assert!(text(value(response, "set-cookie").unwrap()).starts_with("REDACTED:"));
    assert_eq!(value(response, "etag").map(text), Some("\"1\""));
    // The inbound target's are redacted too (they once were left alone).
    assert_eq!(recording.exchanges[0].request.url, "/orders?sig=REDACTED");
}

#[test]
fn header_query_and_json_rules_with_each_action() {
    let card = r#"{"card":{"number":"4111111111111111","cvc":"123"},"password":"hunter2","n":5}"#;
    let redactor = redactor(vec![
        RedactRule::header("X-Session"),
        RedactRule::query("sig"),
        RedactRule::json("$.card.number".parse().unwrap()).mask(4),
        RedactRule::json("$..password".parse().unwrap()).replace("***"),
        RedactRule::json("$.card.cvc".parse().unwrap()),
        RedactRule::json("$.token".parse().unwrap()),
    ]);
    let recording = redactor
        .apply(recording(vec![exchange(
            ExchangeKind::Server,
            "POST",
            "/pay?sig=abc123&x=1",
            card,
        )]))
        .unwrap();
    let exchange = &recording.exchanges[0];
    assert_eq!(
        value(&exchange.request.headers, "x-session").map(text),
        Some(redactor.key.redact(b"sess-9").as_str())
    );
    assert_eq!(
        exchange.request.url,
        format!("/pay?sig={}&x=1", redactor.key.redact(b"abc123"))
    );
    let request: serde_json::Value = serde_json::from_slice(&exchange.request.body.bytes).unwrap();
    assert_eq!(request["card"]["number"], "************1111");
    assert_eq!(request["password"], "***");
    assert_eq!(request["card"]["cvc"], redactor.key.redact(b"123").as_str());
    assert_eq!(request["n"], 5);
    assert_eq!(
        exchange.request.body.size,
        exchange.request.body.bytes.len() as u64
    );
    let response = exchange.response.as_ref().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&response.body.bytes).unwrap();
    assert_eq!(
        json["token"],
        redactor.key.redact(b"resp-t0k3n-xyz").as_str()
    );
    // The length header follows the rewritten body.
    assert_eq!(
        value(&response.headers, "content-length").map(text),
        Some(response.body.bytes.len().to_string().as_str())
    );
    let written = format!("{recording:?}");
    for secret in [
        "4111111111111111",
        "hunter2",
        "abc123",
        "sess-9",
        "resp-t0k3n-xyz",
        "\"123\"",
    ] {
        assert!(!written.contains(secret), "{secret} was kept");
    }
}

#[test]
fn filters_choose_the_exchanges_a_rule_looks_in() {
    let mut inbound = exchange(ExchangeKind::Server, "POST", "/orders/42?t=1", "");
    inbound.route = Some("/orders/{id}".to_owned());
    inbound
        .request
        .headers
        .push(header("host", "shop.test:8080"));
    let outbound_get = exchange(ExchangeKind::Client, "GET", "https://pay.test/a?t=1", "");
    let outbound_post = exchange(ExchangeKind::Client, "POST", "https://stock.test/b?t=1", "");
    let rules = |rule: RedactRule| {
        let out = redactor(vec![rule])
            .apply(recording(vec![
                inbound.clone(),
                outbound_get.clone(),
                outbound_post.clone(),
            ]))
            .unwrap();
        out.exchanges
            .iter()
            .map(|e| !e.request.url.ends_with("t=1"))
            .collect::<Vec<bool>>()
    };
    assert_eq!(rules(RedactRule::query("t")), [true, true, true]);
    assert_eq!(
        rules(RedactRule::query("t").inbound()),
        [true, false, false]
    );
    assert_eq!(
        rules(RedactRule::query("t").outbound()),
        [false, true, true]
    );
    assert_eq!(
        rules(RedactRule::query("t").methods(["post"])),
        [true, false, true]
    );
    let pattern = |text: &str| text.parse::<Pattern>().unwrap();
    assert_eq!(
        rules(RedactRule::query("t").hosts([pattern("*.TEST")])),
        [true, true, true]
    );
    assert_eq!(
        rules(RedactRule::query("t").hosts([pattern("pay.test")])),
        [false, true, false]
    );
    assert_eq!(
        rules(RedactRule::query("t").hosts([pattern("shop.test")])),
        [true, false, false]
    );
    assert_eq!(
        rules(RedactRule::query("t").routes([pattern("/orders/{id}")])),
        [true, false, false]
    );
    assert_eq!(
        rules(RedactRule::query("t").routes([pattern("/b")])),
        [false, false, true]
    );
}

#[test]
fn drop_rules_remove_the_exchange_or_the_whole_recording() {
    let calls = || {
        recording(vec![
            exchange(ExchangeKind::Server, "POST", "/orders", r#"{"a":1}"#),
            exchange(ExchangeKind::Client, "GET", "https://pay.test/a", ""),
            exchange(ExchangeKind::Client, "GET", "https://stock.test/b", ""),
        ])
    };
    let pattern = |text: &str| text.parse::<Pattern>().unwrap();
    let out = redactor(vec![RedactRule::exchanges().hosts([pattern("pay.test")])])
        .apply(calls())
        .unwrap();
    let urls: Vec<_> = out
        .exchanges
        .iter()
        .map(|e| e.request.url.as_str())
        .collect();
    assert_eq!(urls, ["/orders", "https://stock.test/b"]);
    // Dropping the inbound exchange drops everything.
    assert_eq!(
        redactor(vec![RedactRule::exchanges().inbound()]).apply(calls()),
        None
    );
    // A drop rule with a target drops only where the target is found.
    let out = redactor(vec![
        RedactRule::json("$.a".parse().unwrap())
            .drop_exchange()
            .outbound(),
    ])
    .apply(calls())
    .unwrap();
    assert_eq!(out.exchanges.len(), 3);
    assert_eq!(
        redactor(vec![
            RedactRule::json("$.a".parse().unwrap()).drop_exchange()
        ])
        .apply(calls()),
        None
    );
    assert_eq!(
        redactor(vec![
            RedactRule::header("x-session")
                .action(RedactAction::Drop)
                .outbound()
        ])
        .apply(calls())
        .map(|r| r.exchanges.len()),
        Some(1)
    );
}

#[test]
fn json_that_cannot_be_read_is_withheld_not_written() {
    let mut cut = exchange(
        ExchangeKind::Server,
        "POST",
        "/pay",
        r#"{"card":{"number":"4111"#,
    );
    cut.request.body.truncated = true;
    cut.request.body.size = 4096;
    let out = redactor(vec![RedactRule::json("$.card.number".parse().unwrap())])
        .apply(recording(vec![cut.clone()]))
        .unwrap();
    let request = &out.exchanges[0].request;
    assert!(request.body.bytes.is_empty());
    assert!(request.body.truncated);
    assert_eq!(request.body.size, 4096);
    // Text that is not JSON is left alone, and so is a body no rule applies to.
    let mut plain = exchange(ExchangeKind::Server, "POST", "/pay", "card=4111");
    plain.request.headers.retain(|h| h.name != "content-type");
    plain.request.body.truncated = true;
    let out = redactor(vec![RedactRule::json("$.card".parse().unwrap())])
        .apply(recording(vec![plain]))
        .unwrap();
    assert_eq!(out.exchanges[0].request.body.bytes, "card=4111");
    let out = redactor(vec![RedactRule::json("$.card".parse().unwrap()).outbound()])
        .apply(recording(vec![cut]))
        .unwrap();
    assert!(!out.exchanges[0].request.body.bytes.is_empty());
}

#[test]
fn compressed_json_is_decoded_redacted_and_written_plain() {
    use std::io::Write as _;
    let gzip = |text: &str| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        Bytes::from(encoder.finish().unwrap())
    };
    let mut call = exchange(ExchangeKind::Client, "GET", "https://pay.test/a", "");
    let wire = gzip(r#"{"token":"gz-s3cret","id":7}"#);
    let response = call.response.as_mut().unwrap();
    response.headers.push(header("content-encoding", "gzip"));
    response.body = BodyRecord {
        size: wire.len() as u64,
        bytes: wire.clone(),
        truncated: false,
    };
    let redactor = redactor(vec![RedactRule::json("$.token".parse().unwrap())]);
    let out = redactor.apply(recording(vec![call.clone()])).unwrap();
    let response = out.exchanges[0].response.as_ref().unwrap();
    assert_eq!(value(&response.headers, "content-encoding"), None);
    let json: serde_json::Value = serde_json::from_slice(&response.body.bytes).unwrap();
    assert_eq!(json["token"], redactor.key.redact(b"gz-s3cret").as_str());
    assert_eq!(json["id"], 7);

    // Cut short, the compressed body cannot be read whole: withheld.
    let response = call.response.as_mut().unwrap();
    response.body.bytes = wire.slice(..wire.len() / 2);
    response.body.truncated = true;
    let out = redactor.apply(recording(vec![call])).unwrap();
    let response = out.exchanges[0].response.as_ref().unwrap();
    assert!(response.body.bytes.is_empty() && response.body.truncated);
}

/// A database operation's exchange: the SQL and parameters, the results.
fn query(sql: &str, parameters: &str, results: &str) -> Exchange {
    let request = format!(
        r#"{{"sql":{},"parameters":{parameters}}}"#,
        serde_json::json!(sql)
    );
    let mut exchange = exchange(
        ExchangeKind::Database,
        "SELECT",
        "postgresql://db.test:5432/shop",
        &request,
    );
    exchange.response.as_mut().unwrap().body = body(results);
    exchange
}

#[cfg(feature = "postgres")]
#[test]
fn a_column_rule_finds_the_column_s_cells_and_the_parameters_bound_to_it() {
    let results = r#"{"results":[{"columns":[{"name":"id"},{"name":"Email"}],"rows":[[1,"ann@shop.test"],[2,null]],"tag":"SELECT 2"}]}"#;
    let select = query(
        "SELECT id, email FROM users WHERE email = $1 AND id > $2",
        r#"["ann@shop.test",0]"#,
        results,
    );
    let redactor = redactor(vec![RedactRule::column("email").mask(4)]);
    let out = redactor.apply(recording(vec![select.clone()])).unwrap();
    let exchange = &out.exchanges[0];
    let request: serde_json::Value = serde_json::from_slice(&exchange.request.body.bytes).unwrap();
    assert_eq!(
        request["parameters"],
        serde_json::json!(["*********test", 0])
    );
    let response = &exchange.response.as_ref().unwrap().body.bytes;
    let response: serde_json::Value = serde_json::from_slice(response).unwrap();
    assert_eq!(
        response["results"][0]["rows"],
        serde_json::json!([[1, "*********test"], [2, null]]),
        "every cell of the column (any case), no other"
    );

    // Only database operations: the same JSON in an HTTP call is left
    // alone, as is an operation without the column.
    let mut call = select.clone();
    call.kind = ExchangeKind::Client;
    let out = redactor.apply(recording(vec![call.clone()])).unwrap();
    assert_eq!(out.exchanges[0].request.body, call.request.body);
    let other = query(
        "SELECT 1",
        "[]",
        r#"{"results":[{"columns":[{"name":"n"}],"rows":[[1]]}]}"#,
    );
    let out = redactor.apply(recording(vec![other.clone()])).unwrap();
    let body = |exchange: &Exchange| exchange.response.as_ref().unwrap().body.clone();
    assert_eq!(body(&out.exchanges[0]), body(&other));

    // Results cut at the body limit cannot be searched: withheld.
    let mut cut = select;
    let response = cut.response.as_mut().unwrap();
    response.body.bytes =
        Bytes::from_static(br#"{"results":[{"columns":[{"name":"email"}],"rows":[["ann@"#);
    response.body.truncated = true;
    let out = redactor.apply(recording(vec![cut])).unwrap();
    let response = out.exchanges[0].response.as_ref().unwrap();
    assert!(response.body.bytes.is_empty() && response.body.truncated);
}
