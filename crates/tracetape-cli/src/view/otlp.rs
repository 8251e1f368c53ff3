//! The OTLP receivers: traces over gRPC (`TraceService/Export`) and over
//! HTTP (`POST /v1/traces`, protobuf or JSON, gzip or not), written to the
//! view's store. OTLP/HTTP metrics and logs are answered as accepted and
//! dropped, so an SDK that sends every signal to one endpoint logs no
//! errors for them.

use std::io::Read as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tonic::codec::CompressionEncoding;

use super::store::Store;

/// The largest OTLP request body taken, decompressed.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The gRPC service.
pub(crate) fn grpc(store: Arc<Store>) -> TraceServiceServer<Receiver> {
    TraceServiceServer::new(Receiver { store })
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_BODY)
}

/// The HTTP routes.
pub(crate) fn http(store: Arc<Store>) -> Router {
    Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(dropped))
        .route("/v1/logs", post(dropped))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(store)
}

/// The receiver behind both protocols.
#[derive(Clone)]
pub(crate) struct Receiver {
    store: Arc<Store>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        write(&self.store, request.into_inner())
            .await
            .map_err(|err| tonic::Status::unavailable(format!("{err:#}")))?;
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Writes a request's spans on a blocking thread.
async fn write(store: &Arc<Store>, request: ExportTraceServiceRequest) -> anyhow::Result<usize> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || store.ingest(&request.resource_spans)).await?
}

/// How an OTLP/HTTP request's body is encoded, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn of(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        let essence = value.split(';').next()?.trim();
        match essence.to_ascii_lowercase().as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Self::Protobuf),
            "application/json" => Some(Self::Json),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

async fn traces(State(store): State<Arc<Store>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(encoding) = Encoding::of(&headers) else {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "OTLP/HTTP takes application/x-protobuf or application/json",
        );
    };
    let body = match decompressed(&headers, body) {
        Ok(body) => body,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, &why),
    };
    let request = match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body.as_ref())
            .map_err(|err| format!("not an OTLP protobuf ExportTraceServiceRequest: {err}")),
        Encoding::Json => serde_json::from_slice::<ExportTraceServiceRequest>(&body)
            .map_err(|err| format!("not an OTLP/JSON ExportTraceServiceRequest: {err}")),
    };
    let request = match request {
        Ok(request) => request,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, &why),
    };
    if let Err(err) = write(&store, request).await {
        // 503: the SDK retries it.
        return refuse(StatusCode::SERVICE_UNAVAILABLE, &format!("{err:#}"));
    }
    let answer = ExportTraceServiceResponse::default();
    let body = match encoding {
        Encoding::Protobuf => answer.encode_to_vec(),
        Encoding::Json => b"{}".to_vec(),
    };
    ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
}

async fn dropped(headers: HeaderMap) -> Response {
    let encoding = Encoding::of(&headers).unwrap_or(Encoding::Protobuf);
    let body: &'static [u8] = match encoding {
        Encoding::Protobuf => b"",
        Encoding::Json => b"{}",
    };
    ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
}

fn decompressed(headers: &HeaderMap, body: Bytes) -> Result<Bytes, String> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("identity") => Ok(body),
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body.as_ref())
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|err| format!("the gzip body does not decompress: {err}"))?;
            if out.len() > MAX_BODY {
                return Err(format!("the body is over {MAX_BODY} bytes decompressed"));
            }
            Ok(Bytes::from(out))
        }
        Some(other) => Err(format!(
            "unsupported Content-Encoding {other:?} (gzip or none)"
        )),
    }
}

/// An OTLP error answer: the reason as plain text.
fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        why.to_owned(),
    )
        .into_response()
}
