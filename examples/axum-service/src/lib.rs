//! An axum service instrumented with tracetape: one layer for SERVER spans,
//! custom spans and attributes inside handlers, error recording, and a
//! health route left out of tracing.
//!
//! The `tracetape demo` command serves [`app`] in-process; `main.rs` serves
//! it on a port.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use opentelemetry::global;
use opentelemetry::trace::{Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use serde_json::{Value, json};
use tracetape::server::TraceLayer;

/// The instrumentation scope of the spans this service makes itself.
const SCOPE: &str = "axum-service";

/// The service's routes, traced by tracetape.
pub fn app() -> Router {
    Router::new()
        .route("/hello/{name}", get(hello))
        .route("/orders/{id}", get(order))
        .route("/error", get(error))
        .route("/health", get(health))
        .layer(TraceLayer::new().with_exclude(|request| request.uri.path() == "/health"))
}

/// Adds a business attribute to the SERVER span, which is current here.
async fn hello(Path(name): Path<String>) -> String {
    Context::current()
        .span()
        .set_attribute(KeyValue::new("app.greeting.name", name.clone()));
    format!("Hello, {name}!")
}

/// Does its work in two child spans of the SERVER span.
async fn order(Path(id): Path<u64>) -> Result<Json<Value>, StatusCode> {
    let tracer = global::tracer(SCOPE);
    let items = tracer.in_span("load-order", |cx| {
        cx.span()
            .set_attribute(KeyValue::new("app.order.id", id as i64));
        // A stand-in for a database query.
        (id % 5) + 1
    });
    let total = tracer.in_span("price-order", |cx| {
        let total = items * 1250;
        cx.span().set_attributes([
            KeyValue::new("app.order.items", items as i64),
            KeyValue::new("app.order.total_cents", total as i64),
        ]);
        total
    });
    if id == 0 {
        return Err(StatusCode::NOT_FOUND);
    }
    Ok(Json(
        json!({ "id": id, "items": items, "total_cents": total }),
    ))
}

/// Fails, and says why on the span.
async fn error() -> (StatusCode, &'static str) {
    let failure = std::io::Error::other("inventory backend unreachable");
    let cx = Context::current();
    let span = cx.span();
    span.record_error(&failure);
    span.set_status(Status::error(failure.to_string()));
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "inventory backend unreachable",
    )
}

/// Liveness probe; excluded from tracing.
async fn health() -> &'static str {
    "ok"
}
