//! A certificate authority made by the test, and an OTLP trace collector
//! behind TLS on 127.0.0.1 that accepts OTLP/HTTP (`POST /v1/traces`) and
//! OTLP/gRPC (`TraceService/Export`) and hands on the names of the spans
//! it receives.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

/// A CA, a server certificate for `127.0.0.1` and `localhost`, and a
/// client certificate, all signed by the CA; PEM files in a temporary
/// directory.
pub(crate) struct Pki {
    pub(crate) ca: PathBuf,
    pub(crate) client_certificate: PathBuf,
    pub(crate) client_key: PathBuf,
    ca_der: CertificateDer<'static>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
    /// The server's certificate and key, PEM.
    pub(crate) server_certificate_pem: String,
    pub(crate) server_key_pem: String,
    dir: tempfile::TempDir,
}

impl Pki {
    pub(crate) fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tracetape test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(vec!["client".to_owned()]).unwrap();
        client_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tracetape test client");
        let client = client_params.signed_by(&client_key, &ca).unwrap();

        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        Pki {
            ca: write("ca.pem", ca.pem()),
            client_certificate: write("client.pem", client.pem()),
            client_key: write("client.key", client_key.serialize_pem()),
            ca_der: ca.der().clone(),
            server_chain: vec![server.der().clone()],
            server_key: server_key.serialize_der(),
            server_certificate_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
            dir,
        }
    }

    /// A client configuration that trusts the CA (and nothing else).
    pub(crate) fn client_config(&self) -> tokio_rustls::rustls::ClientConfig {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        tokio_rustls::rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth()
    }

    /// A path in the PKI's directory where nothing is.
    pub(crate) fn missing_file(&self) -> PathBuf {
        self.dir.path().join("missing.pem")
    }

    fn server_config(&self, require_client_certificate: bool) -> ServerConfig {
        let builder = if require_client_certificate {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca_der.clone()).unwrap();
            ServerConfig::builder().with_client_cert_verifier(
                WebPkiClientVerifier::builder(roots.into()).build().unwrap(),
            )
        } else {
            ServerConfig::builder().with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = builder
            .with_single_cert(self.server_chain.clone(), key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }
}

/// The running collector.
pub(crate) struct TlsCollector {
    pub(crate) addr: SocketAddr,
    spans: mpsc::UnboundedReceiver<String>,
    refused: mpsc::UnboundedReceiver<String>,
}

/// How long to wait for the collector to see something that must come.
const PATIENCE: Duration = Duration::from_secs(20);

impl TlsCollector {
    /// Starts the collector on 127.0.0.1, port 0, with the PKI's server
    /// certificate; with `require_client_certificate`, only clients with a
    /// certificate signed by the CA get through the handshake.
    pub(crate) async fn start(pki: &Pki, require_client_certificate: bool) -> TlsCollector {
        let acceptor = TlsAcceptor::from(Arc::new(pki.server_config(require_client_certificate)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (span_tx, spans) = mpsc::unbounded_channel();
        let (refused_tx, refused) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let span_tx = span_tx.clone();
                let refused_tx = refused_tx.clone();
                tokio::spawn(async move {
                    let tls = match acceptor.accept(stream).await {
                        Ok(tls) => tls,
                        Err(err) => {
                            let _ = refused_tx.send(err.to_string());
                            return;
                        }
                    };
                    let service = hyper::service::service_fn(move |request| {
                        let span_tx = span_tx.clone();
                        async move { Ok::<_, Infallible>(answer(request, &span_tx).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        TlsCollector {
            addr,
            spans,
            refused,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The name of the next span received.
    pub(crate) async fn next_span(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.spans.recv())
            .await
            .expect("the collector received no span")
            .unwrap()
    }

    /// Spans received so far, without waiting.
    pub(crate) fn received(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        while let Ok(name) = self.spans.try_recv() {
            names.push(name);
        }
        names
    }

    /// Why the next refused handshake was refused, as the server saw it.
    pub(crate) async fn next_refusal(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.refused.recv())
            .await
            .expect("the collector refused no handshake")
            .unwrap()
    }
}

type Body = BoxBody<Bytes, Infallible>;

const GRPC_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Decodes one export request, hands on its span names, and answers as a
/// collector does.
async fn answer(
    request: http::Request<hyper::body::Incoming>,
    spans: &mpsc::UnboundedSender<String>,
) -> http::Response<Body> {
    let path = request.uri().path().to_owned();
    let json = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    let Ok(body) = request.into_body().collect().await else {
        return status(http::StatusCode::BAD_REQUEST);
    };
    let body = body.to_bytes();
    if json && path == "/v1/traces" {
        return answer_json(&body, spans);
    }
    let (message, grpc) = match path.as_str() {
        "/v1/traces" => (body, false),
        // A gRPC message: a compression flag, four bytes of length, then the message.
        GRPC_EXPORT if body.len() >= 5 && body[0] == 0 => (body.slice(5..), true),
        _ => return status(http::StatusCode::NOT_FOUND),
    };
    let Ok(export) = ExportTraceServiceRequest::decode(message) else {
        return status(http::StatusCode::BAD_REQUEST);
    };
    for resource in export.resource_spans {
        for scope in resource.scope_spans {
            for span in scope.spans {
                let _ = spans.send(span.name);
            }
        }
    }
    if grpc {
        // An empty ExportTraceServiceResponse, then grpc-status 0.
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let body = Full::new(Bytes::from_static(&[0, 0, 0, 0, 0]))
            .with_trailers(async move { Some(Ok(trailers)) })
            .boxed();
        http::Response::builder()
            .header("content-type", "application/grpc")
            .body(body)
            .unwrap()
    } else {
        http::Response::builder()
            .header("content-type", "application/x-protobuf")
            .body(Full::new(Bytes::new()).boxed())
            .unwrap()
    }
}

/// OTLP/JSON (what record mode forwards): the span names of its
/// `resourceSpans[].scopeSpans[].spans[]`.
fn answer_json(body: &[u8], spans: &mpsc::UnboundedSender<String>) -> http::Response<Body> {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(body) else {
        return status(http::StatusCode::BAD_REQUEST);
    };
    let list = |value: &serde_json::Value, key: &str| {
        value
            .get(key)
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for resource in list(&document, "resourceSpans") {
        for scope in list(&resource, "scopeSpans") {
            for span in list(&scope, "spans") {
                if let Some(name) = span.get("name").and_then(serde_json::Value::as_str) {
                    let _ = spans.send(name.to_owned());
                }
            }
        }
    }
    http::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{}")).boxed())
        .unwrap()
}

fn status(status: http::StatusCode) -> http::Response<Body> {
    http::Response::builder()
        .status(status)
        .body(Full::new(Bytes::new()).boxed())
        .unwrap()
}
