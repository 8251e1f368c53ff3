// tracetape view: the pages, drawn from the JSON API (see web.rs).
// Routes live in the location's hash: #/traces?QUERY, #/trace/ID?span=ID,
// #/replays, #/replay?file=FILE.
"use strict";

const main = document.getElementById("main");

// ---- small helpers ------------------------------------------------------

// An element with attributes and children (strings become text nodes).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
  return response.json();
}

function show(...nodes) {
  main.replaceChildren(...nodes);
}

function failure(err) {
  return el("p", { class: "failure" }, String(err.message || err));
}

// Nanoseconds (a number) as a short duration.
function duration(ns) {
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns} ns`;
}

// Nanoseconds since the epoch (a decimal string) as a local time.
function when(nsText) {
  const ms = Number(BigInt(nsText) / 1000000n);
  const date = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function colour(index) {
  return `hsl(${(index * 137) % 360}, 55%, 52%)`;
}

// The route: ["traces", URLSearchParams] from "#/traces?a=b".
function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?", 2);
  return [path || "traces", new URLSearchParams(query || "")];
}

function pairsTable(className, pairs) {
  if (!pairs.length) return el("p", { class: "note" }, "none");
  return el("table", { class: `pairs ${className}` },
    el("tbody", {}, pairs.map(([key, value]) =>
      el("tr", {}, el("th", {}, key), el("td", {}, value)))));
}

// ---- the trace list -----------------------------------------------------

const SEARCH_FIELDS = ["service", "name", "min_duration", "attr", "from", "to"];

async function tracesPage(params) {
  const form = el("form", { id: "search", onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    const data = new FormData(form);
    for (const field of SEARCH_FIELDS) {
      const value = String(data.get(field) || "").trim();
      if (!value) continue;
      if (field === "attr") {
        for (const pair of value.split(/\s*[,\n]\s*/)) if (pair) next.append("attr", pair);
      } else next.set(field, value);
    }
    if (data.get("errors")) next.set("errors", "1");
    location.hash = `#/traces?${next}`;
  } });
  const serviceSelect = el("select", { name: "service", id: "search-service" },
    el("option", { value: "" }, "any service"));
  form.append(
    el("label", {}, "Service ", serviceSelect),
    el("label", {}, "Span name or route ", el("input", { name: "name", id: "search-name", placeholder: "GET /orders" })),
    el("label", {}, "Min duration ", el("input", { name: "min_duration", id: "search-min-duration", placeholder: "10ms", size: 6 })),
    el("label", {}, "Attributes ", el("input", { name: "attr", id: "search-attr", placeholder: "key=value, key=value" })),
    el("label", {}, "From ", el("input", { name: "from", id: "search-from", type: "datetime-local", step: 1 })),
    el("label", {}, "To ", el("input", { name: "to", id: "search-to", type: "datetime-local", step: 1 })),
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "errors", id: "search-errors", value: "1" }), " errors only"),
    el("button", { type: "submit", id: "search-go" }, "Search"));
  const body = el("tbody", {});
  const table = el("table", { id: "traces", class: "list" },
    el("thead", {}, el("tr", {}, ["Started", "Service", "Root span", "Duration", "Spans", "Errors"].map((h) => el("th", {}, h)))),
    body);
  const more = el("button", { id: "more", hidden: true }, "Older traces");
  const status = el("p", { class: "note", id: "traces-status" }, "Loading…");
  show(el("h1", {}, "Traces"), form, status, table, more);

  // The form shows the search it made.
  for (const field of ["service", "name", "min_duration", "from", "to"]) {
    const input = form.elements[field];
    if (params.get(field)) input.value = params.get(field);
  }
  form.elements.attr.value = params.getAll("attr").join(", ");
  form.elements.errors.checked = params.get("errors") === "1";

  getJson("/api/services").then((services) => {
    for (const service of services) serviceSelect.append(el("option", { value: service }, service));
    serviceSelect.value = params.get("service") || "";
  }).catch(() => {});

  const api = new URLSearchParams();
  for (const [key, value] of params) {
    if (key === "from" || key === "to") {
      const ms = new Date(value).getTime();
      if (!Number.isNaN(ms)) api.set(key, String(ms));
    } else api.append(key, value);
  }
  const shown = new Set();
  async function load(after) {
    const query = new URLSearchParams(api);
    if (after) query.set("after", after);
    try {
      const page = await getJson(`/api/traces?${query}`);
      for (const trace of page.traces) {
        if (shown.has(trace.trace_id)) continue;
        shown.add(trace.trace_id);
        body.append(el("tr", {
          class: trace.errors > 0 ? "trace has-error" : "trace",
          dataset: { traceId: trace.trace_id },
          onclick: () => { location.hash = `#/trace/${trace.trace_id}`; },
        },
        el("td", { class: "time" }, when(trace.start_ns)),
        el("td", {}, trace.root_service || "?"),
        el("td", {}, el("a", { href: `#/trace/${trace.trace_id}` }, trace.root_name || "(unnamed)")),
        el("td", { class: "number" }, duration(trace.duration_ns)),
        el("td", { class: "number" }, trace.spans),
        el("td", { class: "number" }, trace.errors || "")));
      }
      status.textContent = shown.size ? `${shown.size} trace${shown.size === 1 ? "" : "s"}${page.next ? " (more below)" : ""}` : "No traces match.";
      more.hidden = !page.next;
      more.onclick = () => load(page.next);
    } catch (err) {
      status.replaceWith(failure(err));
    }
  }
  await load(null);
}

// ---- one trace ------------------------------------------------------------

async function tracePage(id, params) {
  show(el("p", { class: "note" }, "Loading…"));
  let trace;
  try {
    trace = await getJson(`/api/traces/${encodeURIComponent(id)}`);
  } catch (err) {
    show(el("h1", {}, `Trace ${id}`), failure(err));
    return;
  }
  const total = Math.max(trace.duration_ns, 1);
  const errors = trace.spans.map((span, i) => (span.error ? i : -1)).filter((i) => i >= 0);
  let selected = -1;

  const details = el("section", { id: "details" }, el("p", { class: "note" }, "Select a span to see its details."));
  const rows = trace.spans.map((span, i) => {
    const left = (span.offset_ns / total) * 100;
    const width = Math.max((span.duration_ns / total) * 100, 0.2);
    const classes = ["span-row"];
    if (span.error) classes.push("error");
    if (span.critical) classes.push("critical");
    return el("div", {
      class: classes.join(" "),
      dataset: { spanId: span.span_id, depth: span.depth, index: i },
      onclick: () => select(i),
    },
    el("div", { class: "label", style: `padding-left: ${0.4 + span.depth * 1.1}rem` },
      el("span", { class: "swatch", style: `background: ${colour(span.service)}` }),
      span.error ? el("span", { class: "error-mark", title: "error" }, "!") : null,
      el("span", { class: "service" }, trace.services[span.service]),
      " ",
      el("span", { class: "name" }, span.name)),
    el("div", { class: "timeline" },
      el("div", { class: "bar", style: `left: ${left}%; width: ${width}%; background: ${colour(span.service)}` }),
      barText(left, width, duration(span.duration_ns))));
  });

  function select(i) {
    if (selected >= 0) rows[selected].classList.remove("selected");
    selected = i;
    rows[i].classList.add("selected");
    rows[i].scrollIntoView({ block: "nearest" });
    details.replaceChildren(...spanDetails(trace, trace.spans[i]));
    const next = new URLSearchParams({ span: trace.spans[i].span_id });
    history.replaceState(null, "", `#/trace/${trace.trace_id}?${next}`);
  }

  function jump(step) {
    if (!errors.length) return;
    const after = errors.filter((i) => (step > 0 ? i > selected : i < selected));
    const target = after.length ? (step > 0 ? after[0] : after[after.length - 1]) : (step > 0 ? errors[0] : errors[errors.length - 1]);
    select(target);
  }

  const ruler = el("div", { class: "span-row ruler" }, el("div", { class: "label" }, "Span"),
    el("div", { class: "timeline" }, [0, 0.25, 0.5, 0.75].map((f) =>
      el("span", { class: "tick", style: `left: ${f * 100}%` }, duration(Math.round(total * f))))));
  const legend = el("div", { class: "legend" }, trace.services.map((name, i) =>
    el("span", {}, el("span", { class: "swatch", style: `background: ${colour(i)}` }), name)));
  const toolbar = el("div", { class: "toolbar" },
    el("button", { id: "prev-error", disabled: !errors.length, onclick: () => jump(-1) }, "◀ Previous error"),
    el("button", { id: "next-error", disabled: !errors.length, onclick: () => jump(1) }, "Next error ▶"),
    el("label", { class: "check" }, el("input", { type: "checkbox", id: "critical-toggle", checked: true, onchange: (event) => {
      waterfall.classList.toggle("show-critical", event.target.checked);
    } }), " critical path"),
    el("a", { id: "download", class: "button", href: `/api/traces/${trace.trace_id}/otlp`, download: `trace-${trace.trace_id}.json` }, "Download OTLP/JSON"));
  const waterfall = el("div", { id: "waterfall", class: "show-critical" }, ruler, rows);
  const summary = el("p", { class: "summary" },
    `${when(trace.start_ns)} · ${duration(trace.duration_ns)} · ${trace.spans.length} span${trace.spans.length === 1 ? "" : "s"} · `,
    errors.length ? el("span", { class: "error-text" }, `${errors.length} error${errors.length === 1 ? "" : "s"}`) : "no errors");
  const parts = [el("h1", {}, "Trace ", el("code", {}, trace.trace_id)), summary, legend, toolbar, waterfall, details];
  if (trace.recorded) {
    const recording = el("section", { id: "recording" }, el("h2", {}, "Recording"), el("p", { class: "note" }, "Loading…"));
    parts.push(recording);
    fetch(`/api/traces/${trace.trace_id}/recording`).then(async (response) => {
      const text = await response.text();
      recording.replaceChildren(el("h2", {}, "Recording"), response.ok ? el("pre", {}, text) : failure(new Error(text)));
    });
  }
  show(...parts);
  const wanted = params.get("span");
  const at = trace.spans.findIndex((span) => span.span_id === wanted);
  if (at >= 0) select(at);
}

// A bar's duration: after the bar, else before it, else inside its end.
function barText(left, width, text) {
  if (left + width <= 85) return el("span", { class: "bar-text", style: `left: ${left + width}%` }, text);
  if (left >= 15) return el("span", { class: "bar-text before", style: `right: ${100 - left}%` }, text);
  return el("span", { class: "bar-text inside", style: `right: ${100 - left - width}%` }, text);
}

function spanDetails(trace, span) {
  const kv = [
    ["span id", span.span_id],
    ["parent", span.parent_id ? span.parent_id + (span.parent_missing ? " (not stored)" : "") : "none (root)"],
    ["kind", span.kind],
    ["service", trace.services[span.service]],
    ["starts at", `+${duration(span.offset_ns)}`],
    ["duration", duration(span.duration_ns)],
    ["status", span.status + (span.status_message ? `: ${span.status_message}` : "")],
    ["scope", span.scope || "?"],
  ];
  return [
    el("h2", {}, span.name, span.error ? el("span", { class: "error-text" }, " error") : null),
    pairsTable("overview", kv),
    el("h3", {}, "Attributes"), pairsTable("attributes", span.attributes),
    el("h3", {}, "Events"),
    span.events.length ? el("ul", { class: "events" }, span.events.map((event) =>
      el("li", {}, el("strong", {}, event.name), ` at +${duration(event.offset_ns)}`, pairsTable("event", event.attributes)))) : el("p", { class: "note" }, "none"),
    el("h3", {}, "Links"),
    span.links.length ? el("ul", { class: "links" }, span.links.map((link) =>
      el("li", {}, el("a", { href: `#/trace/${link.trace_id}?span=${link.span_id}` }, `${link.trace_id} / ${link.span_id}`), pairsTable("link", link.attributes)))) : el("p", { class: "note" }, "none"),
    el("h3", {}, "Resource"), pairsTable("resource", span.resource),
  ];
}

// ---- replays ----------------------------------------------------------------

function counts(totals) {
  if (!totals) return "";
  return `${totals.passed}/${totals.recordings} passed, ${totals.deviated} deviated, ${totals.mock_missing} mock missing, ${totals.errored} errored`;
}

async function replaysPage() {
  show(el("h1", {}, "Replays"), el("p", { class: "note" }, "Loading…"));
  let reports;
  try {
    reports = await getJson("/api/replays");
  } catch (err) {
    show(el("h1", {}, "Replays"), failure(err));
    return;
  }
  const hint = el("p", { class: "note" }, "Reports come from --report FILE and from .tracetape/replays/*.json: ",
    el("code", {}, "tracetape replay --format json > .tracetape/replays/NAME.json"));
  if (!reports.length) {
    show(el("h1", {}, "Replays"), el("p", {}, "No replay reports yet."), hint);
    return;
  }
  show(el("h1", {}, "Replays"), hint, el("table", { class: "list", id: "reports" },
    el("thead", {}, el("tr", {}, ["Report", "Service", "Verdict", "Recordings"].map((h) => el("th", {}, h)))),
    el("tbody", {}, reports.map((report) => el("tr", { class: "report", dataset: { file: report.file },
      onclick: () => { location.hash = `#/replay?${new URLSearchParams({ file: report.file })}`; } },
    el("td", {}, el("a", { href: `#/replay?${new URLSearchParams({ file: report.file })}` }, report.file)),
    el("td", {}, report.service || ""),
    el("td", {}, report.error ? el("span", { class: "error-text" }, report.error) : verdict(report.passed)),
    el("td", {}, counts(report.totals)))))));
}

function verdict(passed) {
  return el("span", { class: passed ? "pass" : "fail" }, passed ? "passed" : "failed");
}

async function replayPage(params) {
  const file = params.get("file") || "";
  show(el("p", { class: "note" }, "Loading…"));
  let opened;
  try {
    opened = await getJson(`/api/replays/report?${new URLSearchParams({ file })}`);
  } catch (err) {
    show(el("h1", {}, "Replay"), failure(err));
    return;
  }
  const report = opened.report;
  const summary = el("table", { class: "list", id: "summary" },
    el("thead", {}, el("tr", {}, ["Request", "Recordings", "Passed", "Deviated", "Mock missing", "Errored"].map((h) => el("th", {}, h)))),
    el("tbody", {}, (report.routes || []).map((route) => el("tr", {},
      el("td", {}, route.request), el("td", { class: "number" }, route.counts.recordings),
      el("td", { class: "number" }, route.counts.passed), el("td", { class: "number" }, route.counts.deviated),
      el("td", { class: "number" }, route.counts.mock_missing), el("td", { class: "number" }, route.counts.errored)))));
  const parts = [
    el("h1", {}, "Replay of ", el("code", {}, report.service)),
    el("p", { class: "summary" }, verdict(report.passed), ` · ${counts(report.totals)} · ${Math.round(report.duration_ms)} ms · `, el("code", {}, opened.file)),
    summary,
  ];
  if (opened.recordings_error) parts.push(el("p", { class: "failure" }, `Recordings: ${opened.recordings_error}`));
  for (const recording of report.recordings) {
    parts.push(recordingSection(recording, opened.recorded[recording.id]));
  }
  show(...parts);
}

function recordingSection(recording, recorded) {
  const passed = recording.outcome === "passed";
  const section = el("section", { class: `replayed ${passed ? "passed" : "deviated"}`, dataset: { recording: recording.id } },
    el("h2", {}, el("span", { class: passed ? "pass" : "fail" }, recording.outcome), ` ${recording.method} ${recording.target}`),
    el("p", { class: "note" }, `recording ${recording.id} · status ${recording.recorded_status ?? "?"} → ${recording.status ?? "?"}` +
      (recording.error ? ` · ${recording.error}` : "")));
  if (recording.deviations.length) {
    section.append(el("div", { class: "deviations" }, recording.deviations.map((deviation) =>
      el("div", { class: "deviation" },
        el("p", {}, el("strong", {}, deviation.kind), deviation.path ? ` at ${deviation.path}` : "", deviation.header ? ` header ${deviation.header}` : "", `: ${deviation.message}`),
        el("pre", { class: "diff" },
          deviation.expected !== null ? el("span", { class: "removed" }, `- ${deviation.expected}\n`) : null,
          deviation.actual !== null ? el("span", { class: "added" }, `+ ${deviation.actual}\n`) : null),
        deviation.suggestion ? el("p", { class: "note" }, deviation.suggestion) : null))));
  }
  section.append(sideBySide(recording, recorded));
  return section;
}

// The recorded calls and the replayed ones, row by row: a replayed call
// beside the recorded call that answered it, calls nothing answered
// (added) and recorded calls nothing made (missing) on their own side.
function sideBySide(recording, recorded) {
  const recordedCalls = recorded ? recorded.calls : [];
  const unused = new Set((recording.unused_calls || []).map((call) => call.index));
  const rows = [];
  let last = -1;
  for (const call of recording.calls) {
    if (call.index !== null && call.index !== undefined) {
      last = call.index;
      rows.push({ key: call.index, recorded: recordedCalls[call.index] || call.answered_by, replayed: call, state: call.deviates ? "changed" : "matched" });
    } else {
      rows.push({ key: last + 0.5, recorded: null, replayed: call, state: "added" });
    }
  }
  for (const call of recording.unused_calls || []) {
    rows.push({ key: call.index, recorded: recordedCalls[call.index] || call, replayed: null, state: "missing" });
  }
  recordedCalls.forEach((call, index) => {
    if (!unused.has(index) && !rows.some((row) => row.key === index)) {
      rows.push({ key: index, recorded: call, replayed: null, state: "unreported" });
    }
  });
  rows.sort((a, b) => a.key - b.key);
  const callText = (call) => call ? `${call.method} ${call.url}` : "";
  const head = el("div", { class: "pair head" },
    el("div", { class: "recorded" }, "Recorded"), el("div", { class: "replayed-side" }, "Replayed"));
  const inbound = el("div", { class: "pair inbound" },
    el("div", { class: "recorded call" }, recorded ? `${recorded.method} ${recorded.url} → ${recorded.status}` : `${recording.method} ${recording.target} → ${recording.recorded_status ?? "?"}`),
    el("div", { class: `replayed-side call ${recording.outcome === "passed" ? "matched" : "changed"}` }, `${recording.method} ${recording.target} → ${recording.status ?? "?"}`));
  return el("div", { class: "side-by-side" }, head, inbound, rows.map((row) => el("div", { class: `pair ${row.state}`, dataset: { state: row.state } },
    el("div", { class: `recorded call ${row.recorded ? row.state : "empty"}` }, row.recorded ? `└ ${callText(row.recorded)}` : ""),
    el("div", { class: `replayed-side call ${row.replayed ? row.state : "empty"}` },
      row.replayed ? `└ ${callText(row.replayed)}` : "",
      el("span", { class: "state" }, row.state),
      row.replayed && row.replayed.differences && row.replayed.differences.length ? el("ul", { class: "differences" },
        row.replayed.differences.map((difference) => el("li", {},
          `${difference.part} ${difference.at}: `,
          difference.expected !== null ? el("span", { class: "removed" }, difference.expected) : "(none)",
          " → ",
          difference.actual !== null ? el("span", { class: "added" }, difference.actual) : "(none)"))) : null))));
}

// ---- routing -----------------------------------------------------------------

async function render() {
  const [path, params] = route();
  document.getElementById("nav-traces").classList.toggle("active", path.startsWith("trace"));
  document.getElementById("nav-replays").classList.toggle("active", path.startsWith("replay"));
  try {
    if (path === "traces") await tracesPage(params);
    else if (path.startsWith("trace/")) await tracePage(decodeURIComponent(path.slice("trace/".length)), params);
    else if (path === "replays") await replaysPage();
    else if (path === "replay") await replayPage(params);
    else show(el("h1", {}, "Not found"), el("p", {}, el("a", { href: "#/traces" }, "Traces")));
  } catch (err) {
    show(failure(err));
  }
  document.body.dataset.ready = location.hash;
}

window.addEventListener("hashchange", render);
render();
