//! The modes a run measures: each is one [`Workload`] (what the served app
//! does, and what the load sends it) under one [`Setup`] (what tracetape
//! does in it).

use std::fmt;
use std::str::FromStr;

use anyhow::bail;

use crate::peers::Peer;

/// How the served app is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The bare axum app, no tracetape at all.
    Baseline,
    /// `TraceLayer` plus `tracetape::init()`, spans exported over
    /// OTLP/HTTP (http/protobuf, the default protocol).
    Traced,
    /// The same, exported over OTLP/gRPC.
    TracedGrpc,
    /// `TraceLayer` plus `tracetape::init()`, spans to the embedded local store.
    Local,
    /// A front app that calls a back app over loopback with a plain
    /// `reqwest::Client`, no tracetape at all.
    PairBaseline,
    /// The same pair with `TraceLayer` on both apps, `TracingMiddleware`
    /// on the front's client and `tracetape::init()`, spans exported over
    /// OTLP/HTTP as in [`Mode::Traced`].
    PairTraced,
    /// `POST /echo` with ~1 KB JSON bodies, no tracetape at all.
    Json1kBaseline,
    /// The same with `TraceLayer` and `tracetape::init()` as in
    /// [`Mode::Traced`], `TRACETAPE_MODE=off`.
    Json1kTraced,
    /// The same with `TRACETAPE_MODE=record`: every request recorded.
    Json1kRecord,
    /// `POST /echo` with ~1 MB JSON bodies, no tracetape at all.
    Json1mBaseline,
    /// As [`Mode::Json1kTraced`], ~1 MB bodies.
    Json1mTraced,
    /// As [`Mode::Json1kRecord`], ~1 MB bodies.
    Json1mRecord,
    /// As [`Mode::Json1mRecord`], with a body budget the app sets in code
    /// ([`BUDGET_HELD_BYTES`]) far under what its connections hold.
    Json1mBudget,
    /// As [`Mode::Json1mRecord`], with a body limit the app sets in code
    /// ([`OVER_LIMIT_MAX_BODY_BYTES`]) just under the bodies' size.
    Json1mOverLimit,
    /// The hello-world app with opentelemetry-instrumentation-tower's
    /// layer and the SDK's batch processor, OTLP/HTTP to the collector.
    PeerOtelTower,
    /// The hello-world app with tower-http's `TraceLayer` and
    /// tracing-opentelemetry, the SDK's batch processor, OTLP/HTTP to the
    /// collector.
    PeerTowerHttp,
}

/// What the served app does, and what the load sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    /// `GET /hello`, answered `Hello, world!`.
    Hello,
    /// `GET /hello` on a front app that calls a back app's `GET /hello`.
    Pair,
    /// `POST /echo` with a JSON body of about this many bytes, answered
    /// with a JSON body of about the same size.
    Json(usize),
}

/// What tracetape does in the served app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Setup {
    /// Nothing: tracetape is not in the app.
    Bare,
    /// Spans over OTLP/HTTP to the collector.
    OtlpHttp,
    /// Spans over OTLP/gRPC to the collector.
    OtlpGrpc,
    /// Spans to the local store.
    Local,
    /// Spans over OTLP/HTTP to the collector, and every request recorded.
    Record,
    /// As [`Setup::Record`], `max_held_bytes` set in code to
    /// [`BUDGET_HELD_BYTES`].
    RecordBudget,
    /// As [`Setup::Record`], `max_body_bytes` set in code to
    /// [`OVER_LIMIT_MAX_BODY_BYTES`].
    RecordOverLimit,
    /// A peer instrumentation (not tracetape), OTLP/HTTP to the collector.
    Peer(Peer),
}

/// The body size of the `json-1k-*` modes, in bytes.
pub(crate) const JSON_1K: usize = 1_000;
/// The body size of the `json-1m-*` modes, in bytes: under the default
/// `TRACETAPE_RECORD_MAX_BODY_BYTES` (1 MiB), so bodies are recorded whole.
pub(crate) const JSON_1M: usize = 1_000_000;

/// The body budget (`RecordSettings::max_held_bytes`) the app of
/// `json-1m-budget` sets in code: 4 MiB, while its 8 connections carry
/// about 16 MB of bodies at once.
pub(crate) const BUDGET_HELD_BYTES: u64 = 4 * 1024 * 1024;
/// The body limit (`RecordSettings::max_body_bytes`) the app of
/// `json-1m-over-limit` sets in code: just under the ~1,000,000-byte bodies.
pub(crate) const OVER_LIMIT_MAX_BODY_BYTES: u64 = 990_000;

/// The throughput ratio the brief holds tracing to.
const TRACED_TARGET: f64 = 0.90;

impl Mode {
    /// Every mode, in the order the usage text lists them.
    pub(crate) const ALL: [Mode; 16] = [
        Mode::Baseline,
        Mode::Traced,
        Mode::TracedGrpc,
        Mode::Local,
        Mode::PairBaseline,
        Mode::PairTraced,
        Mode::Json1kBaseline,
        Mode::Json1kTraced,
        Mode::Json1kRecord,
        Mode::Json1mBaseline,
        Mode::Json1mTraced,
        Mode::Json1mRecord,
        Mode::Json1mBudget,
        Mode::Json1mOverLimit,
        Mode::PeerOtelTower,
        Mode::PeerTowerHttp,
    ];

    /// The mode's name, workload and setup: the one table the other
    /// methods read.
    fn parts(self) -> (&'static str, Workload, Setup) {
        match self {
            Mode::Baseline => ("baseline", Workload::Hello, Setup::Bare),
            Mode::Traced => ("traced", Workload::Hello, Setup::OtlpHttp),
            Mode::TracedGrpc => ("traced-grpc", Workload::Hello, Setup::OtlpGrpc),
            Mode::Local => ("local", Workload::Hello, Setup::Local),
            Mode::PairBaseline => ("pair-baseline", Workload::Pair, Setup::Bare),
            Mode::PairTraced => ("pair-traced", Workload::Pair, Setup::OtlpHttp),
            Mode::Json1kBaseline => ("json-1k-baseline", Workload::Json(JSON_1K), Setup::Bare),
            Mode::Json1kTraced => ("json-1k-traced", Workload::Json(JSON_1K), Setup::OtlpHttp),
            Mode::Json1kRecord => ("json-1k-record", Workload::Json(JSON_1K), Setup::Record),
            Mode::Json1mBaseline => ("json-1m-baseline", Workload::Json(JSON_1M), Setup::Bare),
            Mode::Json1mTraced => ("json-1m-traced", Workload::Json(JSON_1M), Setup::OtlpHttp),
            Mode::Json1mRecord => ("json-1m-record", Workload::Json(JSON_1M), Setup::Record),
            Mode::Json1mBudget => (
                "json-1m-budget",
                Workload::Json(JSON_1M),
                Setup::RecordBudget,
            ),
            Mode::Json1mOverLimit => (
                "json-1m-over-limit",
                Workload::Json(JSON_1M),
                Setup::RecordOverLimit,
            ),
            Mode::PeerOtelTower => (
                "peer-otel-tower",
                Workload::Hello,
                Setup::Peer(Peer::OtelTower),
            ),
            Mode::PeerTowerHttp => (
                "peer-tower-http",
                Workload::Hello,
                Setup::Peer(Peer::TowerHttp),
            ),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        self.parts().0
    }

    pub(crate) fn workload(self) -> Workload {
        self.parts().1
    }

    pub(crate) fn setup(self) -> Setup {
        self.parts().2
    }

    /// The mode of `workload` under `setup`, if there is one.
    fn of(workload: Workload, setup: Setup) -> Option<Mode> {
        Mode::ALL
            .into_iter()
            .find(|m| m.workload() == workload && m.setup() == setup)
    }

    /// Whether spans go to the collector.
    pub(crate) fn exports(self) -> bool {
        self.setup() != Setup::Bare && self.setup() != Setup::Local
    }

    /// The peer instrumentation of a peer mode.
    pub(crate) fn peer(self) -> Option<Peer> {
        match self.setup() {
            Setup::Peer(peer) => Some(peer),
            _ => None,
        }
    }

    /// Whether tracetape (its layer and `tracetape::init()`) is in the app.
    pub(crate) fn uses_tracetape(self) -> bool {
        self.is_traced() && self.peer().is_none()
    }

    /// Whether the served app is the front + back pair.
    pub(crate) fn is_pair(self) -> bool {
        self.workload() == Workload::Pair
    }

    /// Whether the served app is instrumented at all (tracetape or a peer).
    pub(crate) fn is_traced(self) -> bool {
        self.setup() != Setup::Bare
    }

    /// Whether the app records (`TRACETAPE_MODE=record`).
    pub(crate) fn records(self) -> bool {
        matches!(
            self.setup(),
            Setup::Record | Setup::RecordBudget | Setup::RecordOverLimit
        )
    }

    /// The uninstrumented mode this one is compared with; `None` for the
    /// baselines themselves.
    pub(crate) fn baseline(self) -> Option<Mode> {
        if self.is_traced() {
            Mode::of(self.workload(), Setup::Bare)
        } else {
            None
        }
    }

    /// For a record mode, the same app traced with `TRACETAPE_MODE=off`,
    /// its second point of comparison; `None` for the others.
    pub(crate) fn tracing_only(self) -> Option<Mode> {
        if self.records() {
            Mode::of(self.workload(), Setup::OtlpHttp)
        } else {
            None
        }
    }

    /// The throughput ratio to its baseline the brief asks of this mode:
    /// 0.80 for recording 1 KB bodies, 0.60 for 1 MB bodies, 0.90 for
    /// tracing alone.
    pub(crate) fn target_ratio(self) -> f64 {
        match self.workload() {
            Workload::Json(JSON_1K) if self.records() => 0.80,
            Workload::Json(_) if self.records() => 0.60,
            _ => TRACED_TARGET,
        }
    }

    /// Spans the server makes per request the load generator counts:
    /// one SERVER span for a single traced app; for the traced pair, the
    /// front's SERVER span, its CLIENT span and the back's SERVER span.
    pub(crate) fn spans_per_request(self) -> u64 {
        match (self.workload(), self.setup()) {
            (_, Setup::Bare) => 0,
            (Workload::Pair, _) => 3,
            _ => 1,
        }
    }
}

impl Workload {
    /// The request the load sends, as `METHOD /path`.
    pub(crate) fn request_line(self) -> &'static str {
        match self {
            Workload::Hello | Workload::Pair => "GET /hello",
            Workload::Json(_) => "POST /echo",
        }
    }

    /// Connections the load keeps busy unless `--connections` says:
    /// 8 for ~1 MB bodies (each in flight holds megabytes on both sides),
    /// 32 otherwise.
    pub(crate) fn default_connections(self) -> u32 {
        match self {
            Workload::Json(bytes) if bytes > 64 * 1024 => 8,
            _ => 32,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        match Mode::ALL.into_iter().find(|m| m.name() == s) {
            Some(mode) => Ok(mode),
            None => {
                let names: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
                bail!("unknown mode {s:?} (expected one of {})", names.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_names_round_trip() -> anyhow::Result<()> {
        for mode in Mode::ALL {
            assert_eq!(mode.name().parse::<Mode>()?, mode);
            assert_eq!(mode.is_traced(), mode.spans_per_request() > 0);
            if let Some(baseline) = mode.baseline() {
                assert_eq!(baseline.workload(), mode.workload(), "{mode}");
                assert!(!baseline.is_traced(), "{mode}");
            }
            assert_eq!(mode.is_traced(), mode.baseline().is_some(), "{mode}");
        }
        Ok(())
    }

    #[test]
    fn record_modes_compare_with_their_baseline_and_their_traced_twin() {
        assert_eq!(Mode::Json1kRecord.baseline(), Some(Mode::Json1kBaseline));
        assert_eq!(Mode::Json1kRecord.tracing_only(), Some(Mode::Json1kTraced));
        assert_eq!(Mode::Json1mRecord.baseline(), Some(Mode::Json1mBaseline));
        assert_eq!(Mode::Json1mRecord.tracing_only(), Some(Mode::Json1mTraced));
        assert_eq!(Mode::Json1mTraced.tracing_only(), None);
        assert_eq!(Mode::PairTraced.baseline(), Some(Mode::PairBaseline));
        assert!(Mode::Json1mRecord.exports());
        assert!(!Mode::Json1mBaseline.exports());
    }

    #[test]
    fn peers_and_limit_modes_compare_with_their_baselines() {
        assert_eq!(Mode::PeerOtelTower.baseline(), Some(Mode::Baseline));
        assert_eq!(Mode::PeerTowerHttp.peer(), Some(Peer::TowerHttp));
        assert!(Mode::PeerOtelTower.exports() && !Mode::PeerOtelTower.uses_tracetape());
        assert_eq!(Mode::PeerOtelTower.spans_per_request(), 1);
        assert!(Mode::Traced.uses_tracetape() && !Mode::Baseline.uses_tracetape());
        assert!(!Mode::Local.exports());
        for mode in [Mode::Json1mBudget, Mode::Json1mOverLimit] {
            assert!(mode.records(), "{mode}");
            assert_eq!(mode.baseline(), Some(Mode::Json1mBaseline));
            assert_eq!(mode.tracing_only(), Some(Mode::Json1mTraced));
            assert_eq!(mode.target_ratio(), 0.60);
        }
    }

    #[test]
    fn targets_and_connections_follow_the_brief() {
        assert_eq!(Mode::Json1kRecord.target_ratio(), 0.80);
        assert_eq!(Mode::Json1mRecord.target_ratio(), 0.60);
        assert_eq!(Mode::Traced.target_ratio(), 0.90);
        assert_eq!(Mode::Json1mBaseline.workload().default_connections(), 8);
        assert_eq!(Mode::Json1kBaseline.workload().default_connections(), 32);
        assert_eq!(Mode::Baseline.workload().default_connections(), 32);
    }
}
