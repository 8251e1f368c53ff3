//! Which recordings are replayed: those of one service that have an
//! inbound request and its recorded response, filtered by trace id
//! prefix, in the order they were recorded. A recordings directory that
//! is missing, a file that cannot be read (unless `--skip-unreadable`)
//! and two recordings with the same id stop the run before it starts: the
//! service would replay from other recordings than those judged.

use std::collections::{BTreeMap, HashMap};
use std::error::Error as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use tracetape::record::{
    Exchange, ReadRecordingError, Recording, RecordingStore, ResponseRecord, StoredRecording,
};
use tracetape::replay::ReplayId;

use super::config::Settings;
use crate::format::chain;

/// One recording to replay.
#[derive(Debug)]
pub(crate) struct Replayable {
    pub(crate) id: ReplayId,
    /// The file holding it, and its line there.
    pub(crate) path: PathBuf,
    pub(crate) line: u64,
    pub(crate) recording: Recording,
}

impl Replayable {
    /// The inbound exchange (there always is one).
    pub(crate) fn inbound(&self) -> Option<&Exchange> {
        self.recording.inbound()
    }

    /// The recorded response (there always is one).
    pub(crate) fn expected(&self) -> Option<&ResponseRecord> {
        self.inbound().and_then(|inbound| inbound.response.as_ref())
    }

    /// The method, and the route (or else the path) of the request.
    pub(crate) fn method_and_route(&self) -> (String, String) {
        self.inbound().map_or_else(Default::default, |inbound| {
            let target = &inbound.request.url;
            let route = inbound
                .route
                .clone()
                .unwrap_or_else(|| target.split(['?', '#']).next().unwrap_or(target).to_owned());
            (inbound.request.method.clone(), route)
        })
    }
}

/// A recording of the service that is not replayed, and why.
#[derive(Debug)]
pub(crate) struct Skipped {
    pub(crate) path: PathBuf,
    pub(crate) reason: String,
    /// The file could not be read (so its service is not known either).
    pub(crate) unreadable: bool,
}

/// The recordings to replay, in order.
#[derive(Debug)]
pub(crate) struct Selection {
    pub(crate) service: String,
    pub(crate) recordings: Vec<Replayable>,
    pub(crate) skipped: Vec<Skipped>,
}

/// The indices of the `filters` that `matches`: `None` when there are
/// filters and none matches (the recording is not selected), an empty
/// list when there are none.
fn hits<T>(filters: &[T], matches: impl Fn(&T) -> bool) -> Option<Vec<usize>> {
    let hits: Vec<usize> = (0..filters.len())
        .filter(|&i| matches(&filters[i]))
        .collect();
    (filters.is_empty() || !hits.is_empty()).then_some(hits)
}

/// `" (among those the other filters select)"` when more than one kind
/// of filter is given, since each is counted among the others' choices.
fn also_filtered(settings: &Settings) -> &'static str {
    let kinds = [
        !settings.only.is_empty(),
        !settings.routes.is_empty(),
        !settings.methods.is_empty(),
    ];
    if kinds.iter().filter(|&&given| given).count() > 1 {
        " (among those the other filters select)"
    } else {
        ""
    }
}

/// Loads the recordings directory and picks what `settings` ask for;
/// files that cannot be read are noted on `notes`. An error when there
/// is nothing to replay.
pub(crate) fn select(settings: &Settings, notes: &mut dyn Write) -> anyhow::Result<Selection> {
    let store = RecordingStore::new(&settings.recordings);
    let dir = settings.recordings.display();
    if !settings.recordings.is_dir() {
        bail!(
            "no recorded requests in {dir}: the directory does not exist (or is not a \
             directory); record some by running the service with TRACETAPE_MODE=record (and \
             TRACETAPE_RECORD_DIR={dir}), or point --recordings at the recordings"
        );
    }
    let loaded = store.load().context("failed to read the recordings")?;
    let unread = unreadable(&loaded.errors, settings.skip_unreadable)?;
    note(&unread, notes)?;
    same_ids(&loaded.recordings)?;
    let mut services: BTreeMap<String, usize> = BTreeMap::new();
    for stored in &loaded.recordings {
        if stored.recording.inbound().is_some() {
            *services
                .entry(stored.recording.service_name.clone())
                .or_default() += 1;
        }
    }
    let listed = || {
        services
            .iter()
            .map(|(name, count)| format!("{name} ({count})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let service = match (&settings.service, services.len()) {
        (_, 0) => bail!(
            "no recorded requests in {dir}: record some by running the service with \
             TRACETAPE_MODE=record (and TRACETAPE_RECORD_DIR={dir}), or point --recordings \
             at the recordings"
        ),
        (Some(name), _) if !services.contains_key(name) => bail!(
            "no recorded requests of service {name:?} in {dir}; it has requests of: {}",
            listed()
        ),
        (Some(name), _) => name.clone(),
        (None, 1) => services.keys().next().cloned().unwrap_or_default(),
        (None, _) => bail!(
            "the recordings in {dir} are of several services: {}; choose one with --service \
             (or service under [replay])",
            listed()
        ),
    };

    let mut recordings = Vec::new();
    let mut skipped = Vec::new();
    let mut matched = vec![false; settings.only.len()];
    let mut routes_matched = vec![false; settings.routes.len()];
    let mut methods_matched = vec![false; settings.methods.len()];
    for stored in loaded.recordings {
        let recording = stored.recording;
        let Some(id) = ReplayId::of(&recording) else {
            continue;
        };
        if recording.service_name != service {
            continue;
        }
        let trace_id = recording.trace_id.to_string();
        let only_hits = hits(&settings.only, |prefix| trace_id.starts_with(prefix));
        let Some(inbound) = recording.inbound() else {
            continue;
        };
        let path = inbound.request.url.split(['?', '#']).next().unwrap_or("");
        let route_hits = hits(&settings.routes, |pattern| {
            pattern.matches(path)
                || inbound
                    .route
                    .as_deref()
                    .is_some_and(|route| pattern.matches(route))
        });
        let method_hits = hits(&settings.methods, |method| {
            inbound.request.method.eq_ignore_ascii_case(method)
        });
        let (Some(only_hits), Some(route_hits), Some(method_hits)) =
            (only_hits, route_hits, method_hits)
        else {
            continue;
        };
        for (hits, matched) in [
            (only_hits, &mut matched),
            (route_hits, &mut routes_matched),
            (method_hits, &mut methods_matched),
        ] {
            for i in hits {
                matched[i] = true;
            }
        }
        match recording.inbound().map(|inbound| (inbound.response.is_some(), &inbound.error)) {
            Some((false, error)) => skipped.push(Skipped {
                path: stored.path,
                reason: format!(
                    "the request got no response when it was recorded{}: there is nothing to compare with",
                    error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
                ),
                unreadable: false,
            }),
            _ => recordings.push(Replayable {
                id,
                path: stored.path,
                line: stored.line,
                recording,
            }),
        }
    }
    if let Some(i) = matched.iter().position(|hit| !hit) {
        bail!(
            "--only / replay.only {}: no recorded request of {service} has a trace id that starts \
             with it{}",
            settings.only[i],
            also_filtered(settings)
        );
    }
    if let Some(i) = routes_matched.iter().position(|hit| !hit) {
        bail!(
            "--route / replay.routes {}: no recorded request of {service} has a route or path \
             that matches it{}",
            settings.routes[i],
            also_filtered(settings)
        );
    }
    if let Some(i) = methods_matched.iter().position(|hit| !hit) {
        bail!(
            "--method / replay.methods {}: no recorded request of {service} has that method{}",
            settings.methods[i],
            also_filtered(settings)
        );
    }
    note(&skipped, notes)?;
    // Listed in the report with the others (noted above already).
    skipped.extend(unread);
    if recordings.is_empty() {
        bail!("none of the recorded requests of {service} in {dir} can be replayed");
    }
    // In the order the recorded responses were sent: for requests that did
    // not overlap, the order they started in; for those that did, the
    // best sign of the order their effects took place in (a handler
    // changes state before it answers).
    recordings.sort_by(|a, b| {
        let when = |r: &Replayable| {
            r.inbound().map(|inbound| {
                (
                    inbound.end_unix_nanos.max(inbound.start_unix_nanos),
                    inbound.start_unix_nanos,
                )
            })
        };
        when(a)
            .cmp(&when(b))
            .then_with(|| a.path.cmp(&b.path))
            .then_with(|| a.line.cmp(&b.line))
    });
    Ok(Selection {
        service,
        recordings,
        skipped,
    })
}

/// The files of `errors` as skipped, when `skip` allows it; else the
/// error that stops the run, naming each.
/// One `note: skipped FILE: why` line per recording left out.
fn note(skipped: &[Skipped], notes: &mut dyn Write) -> std::io::Result<()> {
    for skip in skipped {
        writeln!(
            notes,
            "note: skipped {}: {}",
            skip.path.display(),
            skip.reason
        )?;
    }
    Ok(())
}

fn unreadable(errors: &[ReadRecordingError], skip: bool) -> anyhow::Result<Vec<Skipped>> {
    let skipped: Vec<Skipped> = errors
        .iter()
        .map(|err| Skipped {
            path: err.path().to_owned(),
            reason: format!(
                "cannot be read: {}{}",
                err.line()
                    .map(|line| format!("line {line}: "))
                    .unwrap_or_default(),
                err.source().map_or_else(|| err.to_string(), chain)
            ),
            unreadable: true,
        })
        .collect();
    if skip || skipped.is_empty() {
        return Ok(skipped);
    }
    let listed: Vec<String> = skipped
        .iter()
        .map(|skip| format!("\n  {}: {}", skip.path.display(), skip.reason))
        .collect();
    bail!(
        "{} recording file{} cannot be read, so what the service replays from is not what \
         would be judged:{}\nfix or remove {}, or replay the others with --skip-unreadable",
        skipped.len(),
        if skipped.len() == 1 { "" } else { "s" },
        listed.concat(),
        if skipped.len() == 1 { "it" } else { "them" },
    )
}

/// An error naming where both are when two recordings have the same
/// replay id (two files, or two lines of segments): the service would
/// answer a replayed request from either.
fn same_ids(recordings: &[StoredRecording]) -> anyhow::Result<()> {
    let mut seen: HashMap<ReplayId, &StoredRecording> = HashMap::new();
    for stored in recordings {
        let Some(id) = ReplayId::of(&stored.recording) else {
            continue;
        };
        if let Some(first) = seen.insert(id, stored) {
            bail!(
                "the recordings {} and {} have the same id {id}: the service could answer the \
                 replayed request from either; remove one (a copy of the other?)",
                first.location(),
                stored.location()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use tracetape::record::ExchangeKind;
    use tracetape_compare::CompareOptions;

    use super::*;
    use crate::testing::{self, exchange, json_response};

    /// A recording of `service` answering `GET /items?page=2` at `start`,
    /// with a response unless `answered` is false.
    fn recording(trace: u128, service: &str, start: u64, answered: bool) -> Recording {
        let mut inbound = exchange(ExchangeKind::Server, 7, 0, start);
        inbound.request.url = "/items?page=2".to_owned();
        if answered {
            inbound.response = Some(json_response(200, "{}"));
        } else {
            inbound.error = Some("handler panicked".to_owned());
        }
        testing::recording(trace, service, vec![inbound])
    }

    /// Selects from a directory holding `recordings` (and a file that
    /// cannot be read) with the flags `service` and `only`, and
    /// `--skip-unreadable`.
    fn select_from(
        recordings: &[Recording],
        service: Option<&str>,
        only: &[&str],
    ) -> (anyhow::Result<Selection>, String) {
        select_filtered(recordings, service, only, &[], &[])
    }

    /// The settings of a replay of `dir`, with `--skip-unreadable`.
    fn settings(dir: &Path) -> Settings {
        Settings {
            command: None,
            base_url: "http://127.0.0.1:1".parse().unwrap(),
            insecure: false,
            ready: None,
            startup_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            concurrency: 1,
            order: super::super::order::Order::Recorded,
            recordings: dir.to_owned(),
            service: None,
            only: Vec::new(),
            routes: Vec::new(),
            methods: Vec::new(),
            compare: CompareOptions::default(),
            config_file: None,
            preload: None,
            allow_unpatched: false,
            skip_unreadable: true,
            fail_on_unpatched: false,
            allow_connect: Vec::new(),
            headers: Vec::new(),
            query: Vec::new(),
            call_deviations: Default::default(),
            origins: Vec::new(),
            match_headers: Vec::new(),
            service_log: None,
        }
    }

    /// Regression: a file that could not be read was only noted, and the
    /// run passed on the recordings left.
    #[test]
    fn an_unreadable_file_stops_the_run_unless_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let good = recording(0xa, "orders", 10, true);
        std::fs::write(dir.path().join("1-good.json"), good.to_otlp_json().unwrap()).unwrap();
        std::fs::write(dir.path().join("2-cut.json"), "{\"resourceSpans\": [").unwrap();
        let mut settings = settings(dir.path());
        settings.skip_unreadable = false;
        let err = format!("{:#}", select(&settings, &mut Vec::new()).unwrap_err());
        assert!(
            err.starts_with("1 recording file cannot be read") && err.contains("2-cut.json: "),
            "{err}"
        );
        assert!(
            err.ends_with("or replay the others with --skip-unreadable"),
            "{err}"
        );
        settings.skip_unreadable = true;
        let selection = select(&settings, &mut Vec::new()).unwrap();
        assert_eq!(selection.recordings.len(), 1);
        assert!(selection.skipped[0].unreadable);
    }

    /// Regression: two files of one recording (a copy) were both loaded;
    /// which of them the service answered from was chance.
    #[test]
    fn two_recordings_with_one_id_are_an_error_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let json = recording(0xa, "orders", 10, true).to_otlp_json().unwrap();
        std::fs::write(dir.path().join("1-first.json"), &json).unwrap();
        std::fs::write(dir.path().join("2-copy.json"), &json).unwrap();
        let err = format!(
            "{:#}",
            select(&settings(dir.path()), &mut Vec::new()).unwrap_err()
        );
        assert!(
            err.contains("1-first.json")
                && err.contains("2-copy.json")
                && err.contains("the same id"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_recordings_directory_is_said_to_be_missing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("recordings");
        let err = format!(
            "{:#}",
            select(&settings(&missing), &mut Vec::new()).unwrap_err()
        );
        assert!(err.contains("does not exist"), "{err}");
    }

    /// [`select_from`] with the flags `route` and `method` too.
    fn select_filtered(
        recordings: &[Recording],
        service: Option<&str>,
        only: &[&str],
        routes: &[&str],
        methods: &[&str],
    ) -> (anyhow::Result<Selection>, String) {
        let dir = tempfile::tempdir().unwrap();
        for (i, recording) in recordings.iter().enumerate() {
            let name = format!("{:020}-1-{i:06}-{}.json", i, recording.trace_id);
            std::fs::write(dir.path().join(name), recording.to_otlp_json().unwrap()).unwrap();
        }
        std::fs::write(dir.path().join("broken.json"), "{").unwrap();
        let settings = Settings {
            service: service.map(str::to_owned),
            only: only.iter().map(|&p| p.to_owned()).collect(),
            routes: routes.iter().map(|r| r.parse().unwrap()).collect(),
            methods: methods.iter().map(|&m| m.to_owned()).collect(),
            ..settings(dir.path())
        };
        let mut notes = Vec::new();
        let selection = select(&settings, &mut notes);
        (selection, String::from_utf8(notes).unwrap())
    }

    #[test]
    fn the_only_service_is_chosen_and_its_recordings_ordered_by_start() {
        let (selection, notes) = select_from(
            &[
                recording(0xb, "orders", 20, true),
                recording(0xa, "orders", 10, true),
                recording(0xc, "orders", 30, false),
            ],
            None,
            &[],
        );
        let selection = selection.unwrap();
        assert_eq!(selection.service, "orders");
        let traces: Vec<u128> = selection
            .recordings
            .iter()
            .map(|r| u128::from_be_bytes(r.recording.trace_id.to_bytes()))
            .collect();
        assert_eq!(traces, [0xa, 0xb]);
        assert_eq!(
            selection.recordings[0].method_and_route(),
            ("GET".to_owned(), "/items".to_owned())
        );
        let [skipped, broken] = selection.skipped.as_slice() else {
            panic!("two skipped: {:?}", selection.skipped);
        };
        assert!(
            skipped
                .reason
                .contains("no response when it was recorded (handler panicked)")
        );
        // With --skip-unreadable, listed in the report too.
        assert!(broken.unreadable && broken.path.ends_with("broken.json"));
        assert!(
            broken.reason.starts_with("cannot be read: "),
            "{}",
            broken.reason
        );
        assert!(
            notes.contains("note: skipped ") && notes.contains("broken.json"),
            "{notes}"
        );
    }

    #[test]
    fn several_services_need_a_choice() {
        let recordings = [
            recording(0xa, "orders", 10, true),
            recording(0xb, "stock", 20, true),
        ];
        let err = select_from(&recordings, None, &[])
            .0
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "are of several services: orders (1), stock (1); choose one with --service"
            ),
            "{err}"
        );
        let err = select_from(&recordings, Some("pricing"), &[])
            .0
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no recorded requests of service \"pricing\""),
            "{err}"
        );
        let chosen = select_from(&recordings, Some("stock"), &[]).0.unwrap();
        assert_eq!(chosen.recordings.len(), 1);
    }

    #[test]
    fn routes_and_methods_keep_what_they_match_and_each_must_match() {
        let mut order = recording(0xa, "orders", 10, true);
        let inbound = &mut order.exchanges[0];
        inbound.request.method = "POST".to_owned();
        inbound.request.url = "/orders/42?x=1".to_owned();
        inbound.route = Some("/orders/{id}".to_owned());
        let recordings = [order, recording(0xb, "orders", 20, true)];
        let traces = |routes: &[&str], methods: &[&str]| {
            let selection = select_filtered(&recordings, None, &[], routes, methods)
                .0
                .unwrap();
            selection
                .recordings
                .iter()
                .map(|r| r.recording.trace_id.to_string())
                .collect::<Vec<_>>()
        };
        let order_trace = format!("{:032x}", 0xa);
        let order_trace = order_trace.as_str();
        let items_trace = format!("{:032x}", 0xb);
        let items_trace = items_trace.as_str();
        // By route template, by path (no query), with `*`, in any case.
        assert_eq!(traces(&["/orders/{id}"], &[]), [order_trace]);
        assert_eq!(traces(&["/orders/42"], &[]), [order_trace]);
        assert_eq!(traces(&["/ITEMS*"], &[]), [items_trace]);
        assert_eq!(traces(&["/orders/*", "/items"], &[]).len(), 2);
        assert_eq!(traces(&[], &["GET"]), [items_trace]);
        assert_eq!(traces(&["/orders/*"], &["POST"]), [order_trace]);

        let err = |routes: &[&str], methods: &[&str]| {
            format!(
                "{:#}",
                select_filtered(&recordings, None, &[], routes, methods)
                    .0
                    .unwrap_err()
            )
        };
        assert_eq!(
            err(&["/carts"], &[]),
            "--route / replay.routes /carts: no recorded request of orders has a route or path \
             that matches it"
        );
        assert_eq!(
            err(&[], &["DELETE"]),
            "--method / replay.methods DELETE: no recorded request of orders has that method"
        );
        // Each filter counts among the others' choices.
        assert!(
            err(&["/items"], &["POST"]).contains("(among those the other filters select)"),
            "{}",
            err(&["/items"], &["POST"])
        );
    }

    #[test]
    fn only_keeps_the_prefixes_and_each_must_match() {
        let recordings = [
            recording(0xa1 << 120, "orders", 10, true),
            recording(0xb2 << 120, "orders", 20, true),
        ];
        let kept = select_from(&recordings, None, &["b2"]).0.unwrap();
        assert_eq!(kept.recordings.len(), 1);
        assert!(
            kept.recordings[0]
                .recording
                .trace_id
                .to_string()
                .starts_with("b2")
        );
        let err = select_from(&recordings, None, &["b2", "ff"])
            .0
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--only / replay.only ff: no recorded request"),
            "{err}"
        );
    }
}
