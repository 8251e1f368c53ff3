//! What [`init`](super::init) says when telemetry starts (one line: where
//! the spans and the requests go) and when its guard is dropped at once.

use std::time::{Duration, Instant};

use super::config::Config;
use super::exporter::{OtlpProtocol, TracesExporter};
use super::record::{RecordSettings, Started};
use crate::store::LocalStore;

/// A guard dropped sooner than this after `init`, before any span ended,
/// was most likely never kept (`let _ = tracetape::init();`).
const AT_ONCE: Duration = Duration::from_millis(100);

/// The line said at start for the service `service`: where its spans go
/// (`custom`: an exporter given in code; `store`: the local store given in
/// code) and what becomes of its requests.
pub(crate) fn line(
    service: &str,
    config: &Config,
    custom: bool,
    store: Option<&LocalStore>,
    started: &Started,
    record: &RecordSettings,
) -> String {
    let spans = if custom {
        "the span exporter given in code".to_owned()
    } else {
        match config.traces_exporter {
            TracesExporter::Otlp => {
                let name = match config.traces_otlp.protocol {
                    OtlpProtocol::Grpc => "gRPC",
                    OtlpProtocol::HttpProtobuf => "http/protobuf",
                };
                let url = super::otlp::url(&config.traces_otlp, "/v1/traces");
                // Said at every start: never with a password in it.
                let url = crate::http_attrs::redact_url(&url, &Default::default()).into_owned();
                format!("OTLP {name} {url}")
            }
            TracesExporter::Console => "standard output".to_owned(),
            TracesExporter::None => "nowhere (OTEL_TRACES_EXPORTER=none)".to_owned(),
            TracesExporter::Local => {
                let dir = store.map_or_else(LocalStore::default_dir, |s| s.dir().to_owned());
                format!("the local store {}", dir.display())
            }
        }
    };
    let requests = started.requests(record);
    format!("tracetape: {service}: spans to {spans}; requests {requests}")
}

/// When `init` made the guard, to tell a guard dropped at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Installed(Instant);

impl Installed {
    pub(crate) fn now() -> Self {
        Self(Instant::now())
    }

    /// The warning for a guard dropped now, after `ended` spans ended;
    /// `None` when it lived on.
    pub(crate) fn dropped_at_once(self, ended: u64) -> Option<String> {
        let lived = self.0.elapsed();
        (ended == 0 && lived < AT_ONCE).then(|| {
            format!(
                "the telemetry guard was dropped {} ms after tracetape::init(), before any span \
                 ended, so telemetry is shut down and every span from now on is lost; `let _ = \
                 tracetape::init();` drops it at once: keep it, `let _telemetry = \
                 tracetape::init();`",
                lived.as_millis()
            )
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_dropped_at_once_is_told_and_one_that_lived_is_not() {
        let installed = Installed::now();
        let warning = installed.dropped_at_once(0).unwrap();
        assert!(
            warning.contains("let _telemetry = tracetape::init();"),
            "{warning}"
        );
        assert_eq!(
            installed.dropped_at_once(3),
            None,
            "spans ended: it was used"
        );
        let long_ago = Installed(Instant::now() - AT_ONCE * 2);
        assert_eq!(long_ago.dropped_at_once(0), None);
    }
}
