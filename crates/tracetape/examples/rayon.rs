//! Spans made on rayon's threads, in the trace of the span that handed the
//! work out: `tracetape::context::bind_fn` for `par_iter().map(...)`,
//! `tracetape::context::bind` for a job given to `ThreadPool::spawn`.
//!
//! Run with: `cargo run -p tracetape --example rayon`
//!
//! Expected output (the worker of each item varies from run to run):
//!
//! ```text
//! resize batch         root
//! resize image 0       child of "resize batch"   on rayon-worker-2
//! resize image 1       child of "resize batch"   on rayon-worker-0
//! resize image 2       child of "resize batch"   on rayon-worker-3
//! resize image 3       child of "resize batch"   on rayon-worker-1
//! thumbnail index      child of "resize batch"   on rayon-worker-0
//! unbound image 0      root (a trace of its own) on rayon-worker-1
//! unbound image 1      root (a trace of its own) on rayon-worker-3
//! ```

use std::collections::HashMap;
use std::sync::mpsc;

use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanId, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("rayon-example");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .thread_name(|i| format!("rayon-worker-{i}"))
        .build()?;

    // Each span records the thread it ran on.
    let in_span = |name: String| {
        tracer.in_span(name, |cx| {
            let thread = std::thread::current().name().unwrap_or("?").to_owned();
            cx.span()
                .set_attribute(KeyValue::new("thread.name", thread));
        });
    };

    tracer.in_span("resize batch", |_cx| -> Result<(), mpsc::RecvError> {
        // Bound here, in the "resize batch" span; called on pool threads.
        let resize = tracetape::context::bind_fn(|image: u32| {
            in_span(format!("resize image {image}"));
        });
        pool.install(|| (0..4).into_par_iter().for_each(&resize));

        // A one-off job on the pool.
        let (done, finished) = mpsc::channel();
        let job_tracer = tracer.clone();
        pool.spawn(tracetape::context::bind(move || {
            job_tracer.in_span("thumbnail index", |cx| {
                let thread = std::thread::current().name().unwrap_or("?").to_owned();
                cx.span()
                    .set_attribute(KeyValue::new("thread.name", thread));
            });
            let _ = done.send(());
        }));
        finished.recv()?;

        // Not bound: rayon's threads have no context, so each span starts
        // a trace of its own.
        pool.install(|| {
            (0..2)
                .into_par_iter()
                .for_each(|image| in_span(format!("unbound image {image}")));
        });
        Ok(())
    })?;

    let mut spans = exporter.get_finished_spans()?;
    spans.sort_by(|a, b| a.name.cmp(&b.name));
    let names: HashMap<SpanId, String> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s.name.to_string()))
        .collect();
    for span in &spans {
        let parent = if span.parent_span_id == SpanId::INVALID {
            if span.name == "resize batch" {
                "root".to_owned()
            } else {
                "root (a trace of its own)".to_owned()
            }
        } else {
            let name = names.get(&span.parent_span_id).map_or("?", String::as_str);
            format!("child of {name:?}")
        };
        let thread = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "thread.name")
            .map(|kv| format!("on {}", kv.value))
            .unwrap_or_default();
        let line = format!("{:<20} {parent:<25} {thread}", span.name);
        println!("{}", line.trim_end());
    }
    Ok(())
}
