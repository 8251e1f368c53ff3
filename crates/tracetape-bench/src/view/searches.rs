//! The lookups and searches timed against the filled store, each answer
//! checked against what was generated.

use std::time::Duration;

use anyhow::{Context as _, ensure};

use super::Row;
use super::latency::{Api, Page, Stats, query};
use super::traces::{Generated, Rng, TraceInfo, hex};

/// The brief's targets.
pub(super) const LOOKUP_TARGET: Duration = Duration::from_millis(50);
pub(super) const SEARCH_TARGET: Duration = Duration::from_millis(500);

/// What a search must answer.
#[derive(Debug, Clone)]
enum Expect {
    /// At least one trace.
    Some,
    /// Exactly these traces.
    Exactly(Vec<String>),
    /// No trace.
    Nothing,
}

/// One search of the table.
#[derive(Debug, Clone)]
struct Search {
    what: String,
    /// The query as sent, and as shown (not percent-encoded).
    query: String,
    shown: String,
    expect: Expect,
    /// Also time its second page (`after` = the first page's `next`).
    page2: bool,
}

impl Search {
    fn new(what: &str, pairs: &[(&str, &str)], expect: Expect) -> Self {
        let shown: Vec<String> = pairs
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        Search {
            what: what.to_owned(),
            query: query(pairs),
            shown: shown.join("&"),
            expect,
            page2: false,
        }
    }

    fn with_page2(mut self) -> Self {
        self.page2 = true;
        self
    }
}

/// `lookups` lookups of random generated traces, one at a time.
pub(super) async fn lookups(
    api: &Api,
    generated: &Generated,
    lookups: u32,
    seed: u64,
) -> anyhow::Result<Row> {
    let mut rng = Rng::new(seed ^ 0x5EED_1007);
    let mut times = Vec::new();
    let mut spans = 0;
    for _ in 0..lookups {
        let at = rng.below(generated.traces.len() as u64) as usize;
        let trace = generated.traces.get(at).context("no traces generated")?;
        times.push(api.lookup(&hex(&trace.id), trace.spans).await?);
        spans = trace.spans;
    }
    Ok(Row {
        what: "lookup GET /api/traces/{id}".to_owned(),
        answer: format!("{spans} spans"),
        stats: Stats::of(times).context("no lookups")?,
        target: LOOKUP_TARGET,
    })
}

/// Every search, `runs` times each, with the second pages asked for.
pub(super) async fn searches(
    api: &Api,
    generated: &Generated,
    runs: u32,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for search in list(generated)? {
        let (stats, page) = api.search(&search.query, runs).await?;
        check(&search, &page)?;
        rows.push(row(&search.what, &search.shown, &page, stats));
        if let (true, Some(next)) = (search.page2, &page.next) {
            let second = [search.query.as_str(), &query(&[("after", next)])].join("&");
            let (stats, page) = api.search(second.trim_start_matches('&'), runs).await?;
            let shown = [search.shown.as_str(), "after=<page 1's next>"].join("&");
            let what = format!("{}, page 2", search.what);
            rows.push(row(&what, shown.trim_start_matches('&'), &page, stats));
        }
    }
    Ok(rows)
}

/// The table row of a search.
fn row(what: &str, shown: &str, page: &Page, stats: Stats) -> Row {
    let more = if page.next.is_some() { ", more" } else { "" };
    let plural = if page.ids.len() == 1 { "" } else { "s" };
    Row {
        what: format!("{what}: ?{shown}"),
        answer: format!("{} trace{plural}{more}", page.ids.len()),
        stats,
        target: SEARCH_TARGET,
    }
}

/// Fails when `page` is not what `search` must answer.
fn check(search: &Search, page: &Page) -> anyhow::Result<()> {
    let ok = match &search.expect {
        Expect::Some => !page.ids.is_empty(),
        Expect::Exactly(ids) => &page.ids == ids,
        Expect::Nothing => page.ids.is_empty(),
    };
    ensure!(
        ok,
        "search {:?} answered {:?}, expected {:?}",
        search.query,
        page.ids,
        search.expect
    );
    Ok(())
}

/// The searches, with values taken from the generated traces.
fn list(generated: &Generated) -> anyhow::Result<Vec<Search>> {
    let pick = |at: usize| -> anyhow::Result<&TraceInfo> {
        let traces = &generated.traces;
        traces
            .get(at % traces.len().max(1))
            .context("no traces generated")
    };
    let (middle, rare, sku) = (pick(generated.traces.len() / 2)?, pick(12_345)?, pick(777)?);
    let user = format!("user.id={}", middle.user);
    let order = format!("order.id={}", rare.order);
    let sku_attr = format!("sku={}", sku.sku);
    Ok(vec![
        Search::new("no filter", &[], Expect::Some).with_page2(),
        Search::new("service", &[("service", middle.service)], Expect::Some),
        Search::new("name substring", &[("name", "charge")], Expect::Some),
        Search::new("errors", &[("errors", "1")], Expect::Some).with_page2(),
        Search::new("slow", &[("min_duration", "1500ms")], Expect::Some),
        Search::new("attr, 1 in 10,000", &[("attr", &user)], Expect::Some),
        Search::new(
            "attr, one trace",
            &[("attr", &order)],
            Expect::Exactly(vec![hex(&rare.id)]),
        ),
        Search::new(
            "attr + service",
            &[("attr", &sku_attr), ("service", sku.service)],
            Expect::Some,
        ),
        Search::new(
            "no match, attr + name",
            &[("attr", "nope=nothing"), ("name", "zzz-none")],
            Expect::Nothing,
        ),
        Search::new(
            "no match, attr",
            &[("attr", "nope=nothing")],
            Expect::Nothing,
        ),
        Search::new(
            "no match, name (full scan)",
            &[("name", "zzz-none")],
            Expect::Nothing,
        ),
    ])
}
