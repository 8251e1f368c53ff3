//! What became of one replayed recording: passed, deviated, mock missing
//! or errored, with everything the report shows about it.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use tracetape::record::ResponseRecord;
use tracetape::replay::{LoggedCall, LoggedUnused, PollTimes, REPLAY_LOG_HEADER, ReplayId};
use tracetape_compare::{CompareOptions, Deviation, compare, compare_answer};

use super::select::Replayable;
use super::send::Reply;

/// The verdict on one recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Outcome {
    /// The response matches the recorded one and every recorded call was
    /// used.
    Passed,
    /// The response deviates, or a recorded call went unused.
    Deviated,
    /// A call had no recorded call to answer it, or the service did not
    /// have the recording.
    MockMissing,
    /// No response to judge: the request could not be sent, timed out,
    /// the service died under it, or the service is not replaying.
    Errored,
}

impl Outcome {
    /// `passed`, `deviated`, `mock-missing`, `errored`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Deviated => "deviated",
            Self::MockMissing => "mock-missing",
            Self::Errored => "errored",
        }
    }
}

/// What a call answered by a recorded call that is not the same call (at
/// the `similar` level) does to its recording's verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum CallDeviations {
    /// The recording deviates.
    #[default]
    Fail,
    /// The report shows the call's differences; the verdict ignores them.
    Warn,
}

/// How replayed responses and calls are judged.
#[derive(Debug, Clone, Default)]
pub(crate) struct Judging {
    pub(crate) compare: CompareOptions,
    pub(crate) call_deviations: CallDeviations,
}

/// A recorded call, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordedCall {
    pub(crate) method: String,
    pub(crate) url: String,
}

/// One replayed recording.
#[derive(Debug)]
pub(crate) struct Replayed {
    pub(crate) id: ReplayId,
    /// The file holding the recording, and its line there.
    pub(crate) file: PathBuf,
    pub(crate) line: u64,
    pub(crate) method: String,
    /// The route template, else the path.
    pub(crate) route: String,
    /// The recorded path and query.
    pub(crate) target: String,
    pub(crate) outcome: Outcome,
    /// From sending the request to reading the last byte of the response.
    pub(crate) duration: Duration,
    pub(crate) recorded_status: Option<u16>,
    /// The status the service answered with, if it answered.
    pub(crate) status: Option<u16>,
    /// Why it errored.
    pub(crate) error: Option<String>,
    pub(crate) deviations: Vec<Deviation>,
    /// Every outbound call, as the replay log tells it.
    pub(crate) calls: Vec<LoggedCall>,
    /// The recording's outbound calls, in recorded order, which the
    /// calls' indices point into.
    pub(crate) recorded_calls: Vec<RecordedCall>,
    /// Calls made after the response (by work carrying the request's
    /// context), told by the service before it was stopped.
    pub(crate) late_calls: usize,
    /// Calls answered by a recorded call that is not the same call fail
    /// the recording.
    pub(crate) calls_fail: bool,
    /// The recorded calls nothing used.
    pub(crate) unused: Vec<LoggedUnused>,
    /// The service did not have the recording at all.
    pub(crate) recording_unknown: bool,
    /// The service answered without the replay log: it is not replaying,
    /// which stops the run (no verdict is given).
    pub(crate) not_replaying: bool,
    /// When and on which threads its handler ran, as the replay log tells
    /// it (only while detecting unpatched dependencies).
    pub(crate) polls: Option<PollTimes>,
    /// Calls the replay log left out (past its limits), and of those the
    /// ones no recorded call answered.
    pub(crate) omitted_calls: usize,
    pub(crate) omitted_unmatched: usize,
    /// Unused recorded calls past the replay log's limits.
    pub(crate) omitted_unused: usize,
    /// Deviations of the response past the comparison's limit.
    pub(crate) omitted_deviations: usize,
    /// What the service answered (but for the replay log header), kept
    /// only when the run was asked to keep it (`--learn`, `accept`): it
    /// holds a whole body.
    pub(crate) response: Option<ResponseRecord>,
}

impl Replayed {
    /// Where its recording is: the file, with `:line` when it is a
    /// segment.
    pub(crate) fn location(&self) -> String {
        if self.file.extension().is_some_and(|e| e == "jsonl") {
            format!("{}:{}", self.file.display(), self.line)
        } else {
            self.file.display().to_string()
        }
    }

    /// `POST /orders/{id}`.
    pub(crate) fn request(&self) -> String {
        format!("{} {}", self.method, self.route)
    }

    /// The calls no recorded call answered.
    pub(crate) fn missing(&self) -> impl Iterator<Item = &LoggedCall> {
        self.calls.iter().filter(|call| call.level.is_none())
    }

    /// The recorded call that answered `call`.
    pub(crate) fn answered_by(&self, call: &LoggedCall) -> Option<&RecordedCall> {
        call.index.and_then(|index| self.recorded_calls.get(index))
    }

    /// The calls answered by a recorded call that is not the same call,
    /// with that recorded call.
    pub(crate) fn deviating_calls(
        &self,
    ) -> impl Iterator<Item = (&LoggedCall, Option<&RecordedCall>)> {
        self.calls
            .iter()
            .filter(|call| call.deviates())
            .map(|call| (call, self.answered_by(call)))
    }
}

/// Judges what the service answered (or why it did not) to `replayable`'s
/// request, `duration` after it was sent.
pub(crate) fn judge(
    replayable: &Replayable,
    reply: Result<Reply, String>,
    judging: &Judging,
    duration: Duration,
) -> Replayed {
    let (method, route) = replayable.method_and_route();
    let expected = replayable.expected();
    let mut replayed = Replayed {
        id: replayable.id,
        file: replayable.path.clone(),
        line: replayable.line,
        method,
        route,
        target: replayable
            .inbound()
            .map(|inbound| inbound.request.url.clone())
            .unwrap_or_default(),
        outcome: Outcome::Errored,
        duration,
        recorded_status: expected.map(|response| response.status),
        status: None,
        error: None,
        deviations: Vec::new(),
        calls: Vec::new(),
        recorded_calls: replayable
            .recording
            .calls()
            .map(|exchange| RecordedCall {
                method: exchange.request.method.clone(),
                url: exchange.request.url.clone(),
            })
            .collect(),
        late_calls: 0,
        calls_fail: judging.call_deviations == CallDeviations::Fail,
        unused: Vec::new(),
        recording_unknown: false,
        not_replaying: false,
        polls: None,
        omitted_calls: 0,
        omitted_unmatched: 0,
        omitted_unused: 0,
        omitted_deviations: 0,
        response: None,
    };
    let reply = match reply {
        Ok(reply) => reply,
        Err(why) => {
            replayed.error = Some(why);
            return replayed;
        }
    };
    replayed.status = Some(reply.response.status);
    let log = match reply.log {
        Some(Ok(log)) => log,
        Some(Err(why)) => {
            replayed.error = Some(why);
            return replayed;
        }
        None => {
            replayed.not_replaying = true;
            replayed.error = Some(format!(
                "the response has no {REPLAY_LOG_HEADER} header: the service is not running \
                 tracetape in replay mode (is TRACETAPE_MODE=replay reaching `tracetape::init()`, \
                 and does this route go through tracetape's server TraceLayer? did replay mode \
                 start? its log says), so its outbound calls may have reached the network"
            ));
            return replayed;
        }
    };
    if let Some(expected) = expected {
        let comparison = match replayable.inbound() {
            // A gRPC method's messages by field name, when the
            // descriptors declare it.
            Some(inbound) => compare_answer(
                &inbound.request,
                expected,
                &reply.response,
                &judging.compare,
            ),
            None => compare(expected, &reply.response, &judging.compare),
        };
        replayed.deviations = comparison.deviations;
        replayed.omitted_deviations = comparison.omitted;
    }
    replayed.recording_unknown = !log.found;
    replayed.calls = log.calls;
    replayed.unused = log.unused;
    replayed.polls = log.polls;
    replayed.omitted_calls = log.omitted_calls;
    replayed.omitted_unmatched = log.omitted_unmatched;
    replayed.omitted_unused = log.omitted_unused;
    replayed.response = Some(reply.response);
    if replayed.deviating_calls().next().is_some() {
        // A response made from an answer to another call deviates for
        // that reason; ignoring what it changed would hide it.
        for deviation in &mut replayed.deviations {
            deviation.suggestion = "a call of this request was answered by a recorded call that \
                                    is not the same call (see its differences above): explain \
                                    that first, this may follow from it"
                .to_owned();
        }
    }
    replayed.outcome = verdict(&replayed);
    replayed
}

/// The verdict on what `replayed` holds: a call without an answer first,
/// then deviations (of the response, unused recorded calls, and calls
/// answered loosely when they fail the recording).
pub(crate) fn verdict(replayed: &Replayed) -> Outcome {
    if replayed.error.is_some() && replayed.status.is_none() {
        Outcome::Errored
    } else if replayed.recording_unknown
        || replayed.missing().next().is_some()
        || replayed.omitted_unmatched > 0
    {
        Outcome::MockMissing
    } else if !replayed.deviations.is_empty()
        || !replayed.unused.is_empty()
        || replayed.omitted_unused > 0
        || (replayed.calls_fail && replayed.deviating_calls().next().is_some())
    {
        Outcome::Deviated
    } else {
        Outcome::Passed
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use tracetape::record::ExchangeKind;
    use tracetape::replay::ReplayLog;

    use super::*;
    use crate::testing::{exchange, json_response, recording};

    /// A recording of `POST /orders?dry=1` (route `/orders`) that answered
    /// `body`.
    pub(crate) fn replayable(body: &str) -> Replayable {
        let mut inbound = exchange(ExchangeKind::Server, 0x10, 0, 1);
        inbound.route = Some("/orders".to_owned());
        inbound.request.method = "POST".to_owned();
        inbound.request.url = "/orders?dry=1".to_owned();
        inbound.response = Some(json_response(200, body));
        let recording = recording(0x4bf9, "orders", vec![inbound]);
        Replayable {
            id: ReplayId::of(&recording).unwrap(),
            path: PathBuf::from("/recordings/r.json"),
            line: 1,
            recording,
        }
    }

    /// The replay log for calls matched at `levels` (`None`: no match),
    /// with `unused` recorded calls left over.
    pub(crate) fn log(levels: &[Option<&str>], unused: usize, found: bool) -> ReplayLog {
        let calls: Vec<serde_json::Value> = levels
            .iter()
            .enumerate()
            .map(|(i, level)| {
                serde_json::json!({"method": "GET", "url": format!("http://stock/{i}"),
                    "level": level, "index": level.map(|_| i), "reused": false})
            })
            .collect();
        let unused: Vec<serde_json::Value> = (0..unused)
            .map(|i| serde_json::json!({"index": 10 + i, "method": "POST", "url": "http://stock/reserve"}))
            .collect();
        let json =
            serde_json::json!({"recording": "r", "found": found, "calls": calls, "unused": unused});
        ReplayLog::from_json(json.to_string().as_bytes()).unwrap()
    }

    fn reply(body: &str, log: Option<ReplayLog>) -> Result<Reply, String> {
        Ok(Reply {
            response: json_response(200, body),
            log: log.map(Ok),
        })
    }

    fn outcome(reply: Result<Reply, String>) -> Replayed {
        judge(
            &replayable(r#"{"total": 5}"#),
            reply,
            &Judging::default(),
            Duration::from_millis(3),
        )
    }

    #[test]
    fn a_matching_response_with_every_call_used_passes() {
        let replayed = outcome(reply(
            r#"{"total": 5}"#,
            Some(log(&[Some("exact"), Some("dynamic")], 0, true)),
        ));
        assert_eq!(replayed.outcome, Outcome::Passed);
        assert_eq!(replayed.request(), "POST /orders");
        assert_eq!(replayed.target, "/orders?dry=1");
        assert_eq!(
            (replayed.recorded_status, replayed.status),
            (Some(200), Some(200))
        );
        assert_eq!(replayed.calls.len(), 2);
    }

    #[test]
    fn deviations_and_unused_calls_deviate() {
        let replayed = outcome(reply(r#"{"total": 6}"#, Some(log(&[], 0, true))));
        assert_eq!(replayed.outcome, Outcome::Deviated);
        assert_eq!(replayed.deviations[0].path.as_deref(), Some("$.total"));
        let replayed = outcome(reply(r#"{"total": 5}"#, Some(log(&[], 1, true))));
        assert_eq!(replayed.outcome, Outcome::Deviated);
        assert!(replayed.deviations.is_empty());
    }

    // A changed request body sent to a dependency was answered at the
    // similar level and nothing was reported.
    #[test]
    fn a_call_answered_by_another_recorded_call_deviates_unless_a_warning() {
        let json = serde_json::json!({"recording": "r", "found": true, "unused": [], "calls": [
            {"method": "POST", "url": "http://pricing/quote", "level": "similar", "index": 0,
             "reused": false, "differences": [{"part": "body", "at": "$.qty",
             "expected": "2", "actual": "3"}]}]});
        let log = || ReplayLog::from_json(json.to_string().as_bytes()).unwrap();
        // The response changed too: its suggestion points at the call.
        let replayed = outcome(reply(r#"{"total": 6}"#, Some(log())));
        assert_eq!(replayed.outcome, Outcome::Deviated);
        assert_eq!(replayed.deviating_calls().count(), 1);
        assert!(
            replayed.deviations[0]
                .suggestion
                .contains("not the same call")
        );
        let warned = judge(
            &replayable(r#"{"total": 5}"#),
            reply(r#"{"total": 5}"#, Some(log())),
            &Judging {
                call_deviations: CallDeviations::Warn,
                ..Judging::default()
            },
            Duration::from_millis(3),
        );
        assert_eq!(warned.outcome, Outcome::Passed);
        assert_eq!(warned.deviating_calls().count(), 1);
    }

    #[test]
    fn a_call_without_a_mock_wins_over_deviations() {
        let replayed = outcome(reply(
            r#"{"total": 6}"#,
            Some(log(&[Some("exact"), None], 1, true)),
        ));
        assert_eq!(replayed.outcome, Outcome::MockMissing);
        assert_eq!(replayed.missing().count(), 1);
        assert_eq!(replayed.deviations.len(), 1);
        let replayed = outcome(reply(r#"{"total": 5}"#, Some(log(&[], 0, false))));
        assert_eq!(replayed.outcome, Outcome::MockMissing);
        assert!(replayed.recording_unknown);
    }

    #[test]
    fn a_call_without_a_mock_past_the_log_s_limit_is_still_missing() {
        let json = serde_json::json!({"recording": "r", "found": true, "calls": [],
            "unused": [], "omitted_calls": 1500, "omitted_unmatched": 1});
        let log = ReplayLog::from_json(json.to_string().as_bytes()).unwrap();
        let replayed = outcome(reply(r#"{"total": 5}"#, Some(log)));
        assert_eq!(replayed.outcome, Outcome::MockMissing);
        assert_eq!(
            (replayed.omitted_calls, replayed.omitted_unmatched),
            (1500, 1)
        );
        // Unused recorded calls only counted (one URL past the log's
        // bytes) still deviate.
        let json = serde_json::json!({"recording": "r", "found": true, "calls": [],
            "unused": [], "omitted_unused": 1});
        let log = ReplayLog::from_json(json.to_string().as_bytes()).unwrap();
        let replayed = outcome(reply(r#"{"total": 5}"#, Some(log)));
        assert_eq!(
            (replayed.outcome, replayed.omitted_unused),
            (Outcome::Deviated, 1)
        );
        // Counted and nothing missing: it passes.
        let json = serde_json::json!({"recording": "r", "found": true, "calls": [],
            "unused": [], "omitted_calls": 1500});
        let log = ReplayLog::from_json(json.to_string().as_bytes()).unwrap();
        assert_eq!(
            outcome(reply(r#"{"total": 5}"#, Some(log))).outcome,
            Outcome::Passed
        );
    }

    #[test]
    fn no_reply_or_no_replay_log_is_an_error() {
        let replayed = outcome(Err("connection refused".to_owned()));
        assert_eq!(replayed.outcome, Outcome::Errored);
        assert_eq!(replayed.error.as_deref(), Some("connection refused"));
        assert_eq!(replayed.status, None);
        let replayed = outcome(reply(r#"{"total": 5}"#, None));
        assert_eq!(replayed.outcome, Outcome::Errored);
        assert!(replayed.not_replaying);
        assert!(
            replayed
                .error
                .as_deref()
                .unwrap()
                .contains("the service is not running tracetape in replay mode")
        );
    }
}
