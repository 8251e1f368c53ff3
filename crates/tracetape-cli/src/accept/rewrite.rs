//! One recording rewritten to expect what the new build did: its inbound
//! response replaced by the replayed one (redacted as recordings are), its
//! unused outbound calls removed, and each call the build now makes
//! differently given the live call's method, URL and (from the differences
//! the replay log lists, `accept/call_body.rs`) JSON body.

use std::collections::HashMap;

use anyhow::{anyhow, bail};
use tracetape::record::{
    ExchangeKind, HeaderRecord, RecordSettings, Recording, RedactionKey, RequestRecord,
    ResponseRecord,
};
use tracetape::replay::ReplayId;
use tracetape::replay::matching::{CallDifference, CallPart, MAX_DIFFERENCES};

use super::call_body;

use crate::replay::Replayed;

/// Response headers about one connection or one message's framing: never
/// part of what a recording expects.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
];

/// Headers the HTTP server adds after the handler has answered, which a
/// recording holds only when the handler set them: kept in the accepted
/// response only when the recorded one had them, `date` with its recorded
/// value so that the file does not change with the clock.
const ADDED_BY_THE_SERVER: [&str; 2] = ["date", "content-length"];

/// What the rewrite changed.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) recording: Recording,
    /// Recorded calls removed because the build no longer makes them.
    pub(crate) removed_calls: usize,
    /// Recorded calls whose method or URL now is the build's.
    pub(crate) rewritten_calls: usize,
}

/// `original` (read again from the file `replayed` names) rewritten to
/// expect `replayed`: an error when it cannot be, saying why.
pub(crate) fn accepted(
    mut original: Recording,
    replayed: &Replayed,
    settings: &RecordSettings,
    key: &RedactionKey,
) -> anyhow::Result<Accepted> {
    if ReplayId::of(&original) != Some(replayed.id) {
        bail!(
            "the file changed since it was replayed: it no longer holds recording {}",
            replayed.id
        );
    }
    let response = replayed
        .response
        .as_ref()
        .ok_or_else(|| anyhow!("there is no response to accept"))?;
    let inbound = original
        .exchanges
        .iter()
        .position(|exchange| exchange.kind == ExchangeKind::Server)
        .ok_or_else(|| anyhow!("the recording has no inbound request"))?;
    let recorded = original.exchanges[inbound].response.as_ref();
    let mut exchange = original.exchanges[inbound].clone();
    exchange.response = Some(expected(recorded, response, settings.max_body_bytes));
    // Redacted on a copy: the request, already redacted, must stay as it
    // is (its hashes would be hashed again).
    if !settings.redact_exchange(&mut exchange, key) {
        bail!("a redaction rule drops this request's exchange, so it cannot be recorded");
    }
    original.exchanges[inbound].response = exchange.response;

    // The outbound calls (and database operations), by their position
    // among them, as the log counts.
    let outbound: Vec<usize> = original
        .exchanges
        .iter()
        .enumerate()
        .filter(|(_, exchange)| exchange.kind != ExchangeKind::Server)
        .map(|(at, _)| at)
        .collect();
    let mut users: HashMap<usize, usize> = HashMap::new();
    for call in &replayed.calls {
        if let Some(index) = call.index {
            *users.entry(index).or_default() += 1;
        }
    }
    let mut rewritten_calls = 0;
    for call in &replayed.calls {
        let Some(index) = call.index else {
            continue;
        };
        let Some(&at) = outbound.get(index) else {
            continue;
        };
        let exchange = &mut original.exchanges[at];
        let differs = exchange.request.method != call.method
            || exchange.request.url != call.url
            || !call.differences.is_empty();
        if !differs {
            continue;
        }
        // Only a recorded call one live call alone used can become it.
        if users.get(&index) != Some(&1) {
            bail!(
                "recorded call {index} ({} {}) answered several calls, which now differ from it; \
                 record this request again",
                exchange.request.method,
                exchange.request.url
            );
        }
        let bodies: Vec<&CallDifference> = call
            .differences
            .iter()
            .filter(|difference| difference.part == CallPart::Body)
            .collect();
        if !bodies.is_empty() {
            new_body(&mut exchange.request, &bodies, call.differences.len()).map_err(|why| {
                anyhow!(
                    "the body the new build sends with {} {} cannot be rebuilt: {why}; record this \
                     request again",
                    call.method,
                    call.url
                )
            })?;
        }
        if exchange.name == exchange.request.method {
            exchange.name.clone_from(&call.method);
        }
        exchange.request.method.clone_from(&call.method);
        exchange.request.url.clone_from(&call.url);
        rewritten_calls += 1;
    }
    let mut unused: Vec<usize> = replayed
        .unused
        .iter()
        .filter_map(|unused| outbound.get(unused.index).copied())
        .collect();
    unused.sort_unstable();
    unused.dedup();
    for &at in unused.iter().rev() {
        original.exchanges.remove(at);
    }
    Ok(Accepted {
        recording: original,
        removed_calls: unused.len(),
        rewritten_calls,
    })
}

/// `request`'s body made into the one the live call sent, from the body
/// `differences` of the replay log (`listed` differences in all).
fn new_body(
    request: &mut RequestRecord,
    differences: &[&CallDifference],
    listed: usize,
) -> Result<(), String> {
    if listed >= MAX_DIFFERENCES {
        return Err(format!(
            "the replay log lists only the first {MAX_DIFFERENCES} differences"
        ));
    }
    if request.body.truncated {
        return Err("the recording kept only the start of the recorded body".to_owned());
    }
    let encoded = request.headers.iter().any(|header| {
        header.name.eq_ignore_ascii_case("content-encoding")
            && !header.value.eq_ignore_ascii_case(b"identity")
    });
    if encoded {
        return Err("the recorded body is compressed".to_owned());
    }
    let body = call_body::apply(&request.body.bytes, differences)?;
    for header in &mut request.headers {
        if header.name.eq_ignore_ascii_case("content-length") {
            header.value = body.len().to_string().into_bytes().into();
        }
    }
    request.body.size = body.len() as u64;
    request.body.bytes = body.into();
    Ok(())
}

/// The response a recording expects from now on: `replayed` without the
/// headers no recording holds, and with the body cut at `max_body_bytes`
/// as the recorder would.
fn expected(
    recorded: Option<&ResponseRecord>,
    replayed: &ResponseRecord,
    max_body_bytes: usize,
) -> ResponseRecord {
    let recorded_values = |name: &str| -> Vec<HeaderRecord> {
        recorded
            .into_iter()
            .flat_map(|response| &response.headers)
            .filter(|header| header.name.eq_ignore_ascii_case(name))
            .cloned()
            .collect()
    };
    let mut headers = Vec::with_capacity(replayed.headers.len());
    let mut dated = false;
    for header in &replayed.headers {
        let name = header.name.to_ascii_lowercase();
        // tracetape's own replay headers are about this replay only.
        if HOP_BY_HOP.contains(&name.as_str()) || name.starts_with("x-tracetape-replay") {
            continue;
        }
        if ADDED_BY_THE_SERVER.contains(&name.as_str()) && recorded_values(&name).is_empty() {
            continue;
        }
        if name == "date" {
            if !dated {
                headers.extend(recorded_values("date"));
                dated = true;
            }
            continue;
        }
        headers.push(header.clone());
    }
    let mut body = replayed.body.clone();
    if body.bytes.len() > max_body_bytes {
        body.bytes = body.bytes.slice(..max_body_bytes);
        body.truncated = true;
    }
    ResponseRecord {
        status: replayed.status,
        headers,
        body,
        trailers: Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use tracetape::record::{BodyRecord, Exchange};
    use tracetape::replay::ReplayLog;

    use super::*;
    use crate::replay::{Judging, Outcome, Replayable};
    use crate::testing::{exchange, json_response, recording};

    fn header(name: &str, value: &str) -> HeaderRecord {
        HeaderRecord {
            name: name.to_owned(),
            value: value.as_bytes().to_vec().into(),
        }
    }

    /// A recording of `POST /orders` answering `{"total": 5}` with a date
    /// and a cookie, after three calls to the stock service.
    fn recorded() -> Recording {
        let mut inbound = exchange(ExchangeKind::Server, 0x10, 0, 1);
        inbound.route = Some("/orders".to_owned());
        inbound.request.method = "POST".to_owned();
        inbound.request.url = "/orders".to_owned();
        inbound.request.headers = vec![header("authorization", "REDACTED:0123456789abcdef")];
        let mut response = json_response(200, r#"{"total": 5}"#);
        response
            .headers
            .push(header("date", "Sun, 06 Dec 2026 04:00:00 GMT"));
        inbound.response = Some(response);
        let calls = (0..3).map(|i| {
            let mut call: Exchange = exchange(ExchangeKind::Client, 0x20 + i, 0x10, 2 + i);
            call.request.url = format!("http://stock/{i}");
            call.response = Some(json_response(200, "{}"));
            call
        });
        recording(
            0x4bf9,
            "orders",
            std::iter::once(inbound).chain(calls).collect(),
        )
    }

    /// `recorded()` replayed: the log `calls` and `unused`, and a response
    /// with a new total, hop-by-hop headers, a date, and a cookie.
    fn replayed(calls: serde_json::Value, unused: serde_json::Value) -> Replayed {
        let replayable = Replayable {
            id: ReplayId::of(&recorded()).unwrap(),
            path: "/recordings/r.json".into(),
            line: 1,
            recording: recorded(),
        };
        let log = serde_json::json!({"recording": "r", "found": true, "calls": calls,
            "unused": unused});
        let mut response = json_response(201, r#"{"total": 6}"#);
        response.headers.extend([
            header("transfer-encoding", "chunked"),
            header("content-length", "12"),
            header("date", "Mon, 07 Dec 2026 09:09:09 GMT"),
            header("set-cookie", "session=s3cret"),
            header("x-tracetape-replay-status", "{}"),
        ]);
        let reply = crate::replay::Reply {
            response,
            log: Some(Ok(ReplayLog::from_json(log.to_string().as_bytes()).unwrap())),
        };
        crate::replay::judge(&replayable, Ok(reply), &Judging::default(), Duration::ZERO)
    }

    fn call(method: &str, url: &str, index: usize) -> serde_json::Value {
        serde_json::json!({"method": method, "url": url, "level": "similar", "index": index,
            "reused": false})
    }

    #[test]
    fn the_response_becomes_the_replayed_one_without_server_headers_and_redacted() {
        let calls = serde_json::json!([
            call("GET", "http://stock/0", 0),
            call("GET", "http://stock/1", 1),
            call("GET", "http://stock/2", 2)
        ]);
        let replayed = replayed(calls, serde_json::json!([]));
        assert_eq!(replayed.outcome, Outcome::Deviated);
        let key = RedactionKey::ephemeral().unwrap();
        let accepted = accepted(recorded(), &replayed, &RecordSettings::default(), &key).unwrap();
        let inbound = accepted.recording.inbound().unwrap();
        let response = inbound.response.as_ref().unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(&response.body.bytes[..], br#"{"total": 6}"#);
        let names: Vec<&str> = response.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["content-type", "date", "set-cookie"]);
        // The recorded date, not the replay's; the cookie redacted.
        assert_eq!(
            &response.headers[1].value[..],
            b"Sun, 06 Dec 2026 04:00:00 GMT"
        );
        assert!(response.headers[2].value.starts_with(b"REDACTED:"));
        // The request, already redacted, is as it was.
        assert_eq!(inbound.request, recorded().inbound().unwrap().request);
        assert_eq!(accepted.recording.outbound().count(), 3);
        assert_eq!((accepted.removed_calls, accepted.rewritten_calls), (0, 0));
    }

    #[test]
    fn unused_calls_go_and_calls_made_differently_take_the_new_url() {
        let calls = serde_json::json!([
            call("GET", "http://stock/0", 0),
            call("GET", "http://stock/2?v=2", 2)
        ]);
        let unused = serde_json::json!([{"index": 1, "method": "GET", "url": "http://stock/1"}]);
        let replayed = replayed(calls, unused);
        let key = RedactionKey::ephemeral().unwrap();
        let accepted = accepted(recorded(), &replayed, &RecordSettings::default(), &key).unwrap();
        let urls: Vec<&str> = accepted
            .recording
            .outbound()
            .map(|call| call.request.url.as_str())
            .collect();
        assert_eq!(urls, ["http://stock/0", "http://stock/2?v=2"]);
        assert_eq!((accepted.removed_calls, accepted.rewritten_calls), (1, 1));
    }

    #[test]
    fn a_call_several_live_calls_shared_cannot_take_their_url() {
        let mut reused = call("GET", "http://stock/0?again", 0);
        reused["reused"] = serde_json::json!(true);
        let calls = serde_json::json!([
            call("GET", "http://stock/0?first", 0),
            reused,
            call("GET", "http://stock/1", 1),
            call("GET", "http://stock/2", 2)
        ]);
        let replayed = replayed(calls, serde_json::json!([]));
        let key = RedactionKey::ephemeral().unwrap();
        let err = accepted(recorded(), &replayed, &RecordSettings::default(), &key).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("recorded call 0 (GET http://stock/0) answered several calls"),
            "{err}"
        );
    }

    #[test]
    fn a_call_whose_json_body_changed_takes_the_new_body() {
        let mut recording = recorded();
        let body = br#"{"sku":"tea","qty":2}"#;
        recording.exchanges[2].request.method = "POST".to_owned();
        recording.exchanges[2].request.body = BodyRecord {
            bytes: body.to_vec().into(),
            truncated: false,
            size: body.len() as u64,
        };
        recording.exchanges[2].request.headers = vec![header("content-length", "21")];
        let mut changed = call("POST", "http://stock/1", 1);
        changed["differences"] = serde_json::json!([
            {"part": "body", "at": "$.qty", "expected": "2", "actual": "3"}
        ]);
        let calls = serde_json::json!([
            call("GET", "http://stock/0", 0),
            changed,
            call("GET", "http://stock/2", 2)
        ]);
        let mut replayed = replayed(calls, serde_json::json!([]));
        replayed.id = ReplayId::of(&recording).unwrap();
        let key = RedactionKey::ephemeral().unwrap();
        let accepted = accepted(recording, &replayed, &RecordSettings::default(), &key).unwrap();
        let request = &accepted.recording.exchanges[2].request;
        assert_eq!(&request.body.bytes[..], br#"{"sku":"tea","qty":3}"#);
        assert_eq!(request.body.size, 21);
        assert_eq!(accepted.rewritten_calls, 1);

        // A body the log cannot rebuild: refused, saying why.
        let mut cut = recorded();
        cut.exchanges[2].request.body = BodyRecord {
            bytes: b"qty=2".to_vec().into(),
            truncated: false,
            size: 5,
        };
        let err = super::accepted(cut, &replayed, &RecordSettings::default(), &key).unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot be rebuilt: the recorded request body is not JSON"),
            "{err}"
        );
    }

    #[test]
    fn a_body_past_the_limit_is_cut_as_the_recorder_cuts_it() {
        let mut replayed = json_response(200, r#"{"total": 6}"#);
        replayed.body = BodyRecord {
            bytes: b"0123456789".to_vec().into(),
            truncated: false,
            size: 10,
        };
        let cut = expected(None, &replayed, 4);
        assert_eq!(&cut.body.bytes[..], b"0123");
        assert!(cut.body.truncated);
        assert_eq!(cut.body.size, 10);
    }

    #[test]
    fn another_recording_in_the_file_is_not_rewritten() {
        let replayed = replayed(serde_json::json!([]), serde_json::json!([]));
        let mut other = recorded();
        other.trace_id = tracetape::opentelemetry::trace::TraceId::from(7_u128);
        let key = RedactionKey::ephemeral().unwrap();
        let err = accepted(other, &replayed, &RecordSettings::default(), &key).unwrap_err();
        assert!(err.to_string().contains("the file changed"), "{err}");
    }
}
