//! A finished operation as a CLIENT span and a
//! `db.client.operation.duration` measurement, following the stable
//! database semantic conventions.

use opentelemetry::KeyValue;
use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::metrics::Histogram;
use opentelemetry::trace::{Span, SpanId, SpanKind, Status, TraceId, Tracer};
use opentelemetry_semantic_conventions::attribute::{
    DB_COLLECTION_NAME, DB_NAMESPACE, DB_OPERATION_BATCH_SIZE, DB_OPERATION_NAME, DB_QUERY_SUMMARY,
    DB_QUERY_TEXT, DB_RESPONSE_STATUS_CODE, DB_SYSTEM_NAME, ERROR_TYPE, SERVER_ADDRESS,
    SERVER_PORT,
};
use opentelemetry_semantic_conventions::metric::DB_CLIENT_OPERATION_DURATION;

use super::conversation::Operation;
use crate::http_attrs::interned;
use crate::providers::Providers;

/// `db.system.name` for PostgreSQL.
const SYSTEM: &str = "postgresql";

/// The conventions' buckets for `db.client.operation.duration`, in
/// seconds.
const BOUNDARIES: [f64; 9] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];

/// Where a proxy's spans and measurements go, and what they say of the
/// server.
#[derive(Debug)]
pub(crate) struct Telemetry {
    providers: Providers,
    duration: Histogram<f64>,
    /// The server the application meant (not the proxy).
    address: Arc<str>,
    port: u16,
}

impl Telemetry {
    pub(crate) fn new(providers: Providers, address: String, port: u16) -> Self {
        let duration = providers
            .meter()
            .f64_histogram(DB_CLIENT_OPERATION_DURATION)
            .with_unit("s")
            .with_description("Duration of database client operations.")
            .with_boundaries(BOUNDARIES.to_vec())
            .build();
        Self {
            providers,
            duration,
            address: address.into(),
            port,
        }
    }

    /// The span and measurement of `operation`, on `database`; and the
    /// span's trace and id, and its name.
    pub(crate) fn finished(
        &self,
        operation: &Operation,
        database: Option<&Arc<str>>,
    ) -> (TraceId, SpanId, Cow<'static, str>) {
        let statement = &operation.statement;
        // Room for the span's attributes too, which follow these.
        let mut common = Vec::with_capacity(11);
        common.push(KeyValue::new(DB_SYSTEM_NAME, SYSTEM));
        if let Some(database) = database {
            common.push(KeyValue::new(DB_NAMESPACE, database.clone()));
        }
        if let Some(operation) = &statement.operation {
            common.push(KeyValue::new(DB_OPERATION_NAME, operation.clone()));
        }
        if let Some(collection) = &statement.collection {
            common.push(KeyValue::new(DB_COLLECTION_NAME, collection.clone()));
        }
        common.push(KeyValue::new(SERVER_ADDRESS, self.address.clone()));
        common.push(KeyValue::new(SERVER_PORT, i64::from(self.port)));
        if let Some(error) = &operation.error {
            common.push(KeyValue::new(DB_RESPONSE_STATUS_CODE, error.code.clone()));
            common.push(KeyValue::new(ERROR_TYPE, error.code.clone()));
        }
        let elapsed = operation.ended_at.duration_since(operation.started_at);
        self.duration.record(elapsed.as_secs_f64(), &common);

        let mut attributes = common;
        attributes.push(KeyValue::new(DB_QUERY_TEXT, statement.text.clone()));
        if let Some(summary) = &statement.summary {
            attributes.push(KeyValue::new(DB_QUERY_SUMMARY, summary.clone()));
        }
        if let Some(size) = statement.batch_size {
            attributes.push(KeyValue::new(DB_OPERATION_BATCH_SIZE, size as i64));
        }
        // Kept for the process (a statement's summary repeats at every
        // execution), so naming a span allocates nothing.
        let name = match (&statement.summary, database) {
            (Some(summary), _) => interned::kept(summary),
            (None, Some(database)) => interned::kept(database),
            (None, None) => Cow::Borrowed(SYSTEM),
        };
        self.providers.with_tracer(|tracer| {
            let mut span = tracer
                .span_builder(name.clone())
                .with_kind(SpanKind::Client)
                .with_start_time(operation.started)
                .with_attributes(attributes)
                .start_with_context(tracer, &operation.context);
            if let Some(error) = &operation.error {
                span.set_status(Status::error(error.message.clone()));
            }
            let context = span.span_context();
            let ids = (context.trace_id(), context.span_id(), name);
            span.end_with_timestamp(operation.started + elapsed);
            ids
        })
    }

    /// `postgresql://{server.address}:{server.port}/{database}`: where a
    /// recorded operation ran.
    pub(crate) fn url(&self, database: Option<&Arc<str>>) -> String {
        let database = database.map_or("", |database| database.as_ref());
        format!("{SYSTEM}://{}:{}/{database}", self.address, self.port)
    }
}
