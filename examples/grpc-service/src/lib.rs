//! A gRPC shop written with tonic and traced, recorded and replayed by
//! tracetape: `shop.Shop` answers `Place` (unary) and `Track` (a server
//! stream) and, to place an order, calls `stock.Stock/Reserve` over gRPC
//! and a pricing service over HTTP (`GET /price/{item}`).
//!
//! The services are written without generated code (no `protoc` needed to
//! build the example): the messages are derived with prost and each
//! service routes its methods by path, as tonic's generated servers do.
//! What tracetape adds is one layer per server and per client:
//! `tracetape::server::TraceLayer` on tonic's `Server`, `TraceLayer::grpc()`
//! around the channel to stock, and the reqwest middleware for pricing.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use http::uri::PathAndQuery;
use reqwest_middleware::ClientWithMiddleware;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};
use tonic_prost::ProstCodec;
use tracetape::client::{GrpcChannel, Trace, TraceLayer, TracingMiddleware};

/// The messages of both gRPC services.
pub mod messages {
    /// An order to place.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Order {
        /// What is ordered (`tea`, `coffee`).
        #[prost(string, tag = "1")]
        pub item: String,
        /// How many.
        #[prost(uint32, tag = "2")]
        pub quantity: u32,
    }

    /// A placed order.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Receipt {
        /// The reservation stock made.
        #[prost(string, tag = "1")]
        pub reservation_id: String,
        /// What the order costs.
        #[prost(int64, tag = "2")]
        pub total_cents: i64,
    }

    /// Which order to follow.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TrackRequest {
        /// The reservation of the order.
        #[prost(string, tag = "1")]
        pub reservation_id: String,
    }

    /// One step of an order's way.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Step {
        /// `packed`, `shipped`, `delivered`.
        #[prost(string, tag = "1")]
        pub stage: String,
    }

    /// Stock's answer to a reservation.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Reserved {
        /// The reservation's id.
        #[prost(string, tag = "1")]
        pub reservation_id: String,
    }
}

use messages::{Order, Receipt, Reserved, Step, TrackRequest};

/// `/shop.Shop/Place`.
pub const PLACE: &str = "/shop.Shop/Place";
/// `/shop.Shop/Track`.
pub const TRACK: &str = "/shop.Shop/Track";
/// `/stock.Stock/Reserve`.
const RESERVE: &str = "/stock.Stock/Reserve";
/// `/stock.Stock/Hold`, which only `SHOP_CHANGE=hold` calls.
const HOLD: &str = "/stock.Stock/Hold";

/// A change made to the shop on purpose, to show what replay catches
/// (`SHOP_CHANGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Change {
    /// None: the shop as recorded.
    #[default]
    None,
    /// Every total one cent more (`SHOP_CHANGE=total`).
    Total,
    /// Orders of more than five refused with `FAILED_PRECONDITION`
    /// (`SHOP_CHANGE=limit`).
    Limit,
    /// Prices from a table of the shop's own, the same as pricing's:
    /// pricing is not called (`SHOP_CHANGE=cached`).
    Cached,
    /// Stock also asked to hold the order first, its answer ignored: one
    /// more call (`SHOP_CHANGE=hold`).
    Hold,
}

impl Change {
    /// The change `SHOP_CHANGE` names; unset or empty is none.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("SHOP_CHANGE").unwrap_or_default().as_str() {
            "" => Ok(Self::None),
            "total" => Ok(Self::Total),
            "limit" => Ok(Self::Limit),
            "cached" => Ok(Self::Cached),
            "hold" => Ok(Self::Hold),
            other => Err(format!(
                "SHOP_CHANGE={other}: expected total, limit, cached or hold"
            )),
        }
    }
}

/// The channel to stock, traced by tracetape's client layer.
type StockChannel = Trace<GrpcChannel<Channel>>;

/// The `shop.Shop` service.
#[derive(Clone)]
pub struct Shop {
    stock: tonic::client::Grpc<StockChannel>,
    pricing: ClientWithMiddleware,
    pricing_url: String,
    change: Change,
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop")
            .field("pricing_url", &self.pricing_url)
            .field("change", &self.change)
            .finish_non_exhaustive()
    }
}

impl Shop {
    /// The shop, calling stock at `stock_url` and pricing at
    /// `pricing_url`. Nothing is connected before the first call.
    pub fn new(stock_url: &str, pricing_url: &str, change: Change) -> Result<Self, String> {
        let endpoint = Endpoint::from_shared(stock_url.to_owned())
            .map_err(|error| format!("stock URL {stock_url}: {error}"))?;
        // The channel's requests carry only their path: the layer is told
        // where they go, for spans and recordings.
        let layer = TraceLayer::new().with_origin(endpoint.uri()).grpc();
        let channel = tower::ServiceBuilder::new()
            .layer(layer)
            .service(endpoint.connect_lazy());
        let pricing = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(TracingMiddleware::new())
            .build();
        Ok(Self {
            stock: tonic::client::Grpc::new(channel),
            pricing,
            pricing_url: pricing_url.trim_end_matches('/').to_owned(),
            change,
        })
    }

    /// `Place`: reserve the order with stock, price it with pricing.
    async fn place(mut self, order: Order) -> Result<Receipt, Status> {
        if order.quantity == 0 {
            return Err(Status::invalid_argument("order at least one"));
        }
        if self.change == Change::Limit && order.quantity > 5 {
            return Err(Status::failed_precondition("at most five at a time"));
        }
        if self.change == Change::Hold {
            self.stock
                .ready()
                .await
                .map_err(|error| Status::unavailable(format!("stock: {error}")))?;
            let held = self
                .stock
                .unary::<Order, Reserved, _>(
                    Request::new(order.clone()),
                    PathAndQuery::from_static(HOLD),
                    ProstCodec::default(),
                )
                .await;
            drop(held);
        }
        self.stock
            .ready()
            .await
            .map_err(|error| Status::unavailable(format!("stock: {error}")))?;
        let reserved: Reserved = self
            .stock
            .unary(
                Request::new(order.clone()),
                PathAndQuery::from_static(RESERVE),
                ProstCodec::default(),
            )
            .await?
            .into_inner();
        let cents = match self.change {
            Change::Cached => price_cents(&order.item),
            _ => {
                let url = format!("{}/price/{}", self.pricing_url, order.item);
                let price: serde_json::Value = self
                    .pricing
                    .get(url)
                    .send()
                    .await
                    .map_err(|error| Status::unavailable(format!("pricing: {error}")))?
                    .json()
                    .await
                    .map_err(|error| Status::internal(format!("pricing: {error}")))?;
                price["cents"].as_i64().unwrap_or(0)
            }
        };
        let mut total_cents = cents * i64::from(order.quantity);
        if self.change == Change::Total {
            total_cents += 1;
        }
        Ok(Receipt {
            reservation_id: reserved.reservation_id,
            total_cents,
        })
    }
}

impl NamedService for Shop {
    const NAME: &'static str = "shop.Shop";
}

/// A boxed response future, as a service of tonic's `Server` returns.
type Answer = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

/// `Track`'s steps.
type Steps = Pin<Box<dyn Stream<Item = Result<Step, Status>> + Send>>;

impl tower::Service<http::Request<Body>> for Shop {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Answer {
        let shop = self.clone();
        Box::pin(async move {
            let response = match request.uri().path() {
                PLACE => {
                    let place = tower::service_fn(move |request: Request<Order>| {
                        let shop = shop.clone();
                        async move { shop.place(request.into_inner()).await.map(Response::new) }
                    });
                    let mut grpc =
                        tonic::server::Grpc::new(ProstCodec::<Receipt, Order>::default());
                    grpc.unary(place, request).await
                }
                TRACK => {
                    let track = tower::service_fn(|request: Request<TrackRequest>| async move {
                        let reservation = request.into_inner().reservation_id;
                        if reservation.is_empty() {
                            return Err(Status::invalid_argument("which order?"));
                        }
                        let stages = ["packed", "shipped", "delivered"].map(|stage| {
                            Ok(Step {
                                stage: stage.to_owned(),
                            })
                        });
                        let steps: Steps = Box::pin(futures_util::stream::iter(stages));
                        Ok(Response::new(steps))
                    });
                    let mut grpc =
                        tonic::server::Grpc::new(ProstCodec::<Step, TrackRequest>::default());
                    grpc.server_streaming(track, request).await
                }
                _ => Status::unimplemented("no such method").into_http(),
            };
            Ok(response)
        })
    }
}

/// The `stock.Stock` service: `Reserve` answers tea and coffee, and
/// `NOT_FOUND` for anything else.
#[derive(Debug, Clone, Default)]
pub struct Stock;

impl NamedService for Stock {
    const NAME: &'static str = "stock.Stock";
}

impl tower::Service<http::Request<Body>> for Stock {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Answer {
        Box::pin(async move {
            if request.uri().path() != RESERVE {
                return Ok(Status::unimplemented("no such method").into_http());
            }
            let reserve = tower::service_fn(|request: Request<Order>| async move {
                let order = request.into_inner();
                match order.item.as_str() {
                    "tea" | "coffee" => Ok(Response::new(Reserved {
                        reservation_id: format!("r-{}-{}", order.item, order.quantity),
                    })),
                    other => Err(Status::new(Code::NotFound, format!("no {other} in stock"))),
                }
            });
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Reserved, Order>::default());
            Ok(grpc.unary(reserve, request).await)
        })
    }
}

/// What an item costs, in cents.
fn price_cents(item: &str) -> i64 {
    if item == "coffee" { 400 } else { 250 }
}

/// The pricing service: `GET /price/{item}` answers `{"cents": …}`.
pub fn pricing() -> axum::Router {
    use axum::extract::Path;
    use axum::routing::get;

    axum::Router::new()
        .route(
            "/price/{item}",
            get(|Path(item): Path<String>| async move {
                axum::Json(serde_json::json!({ "cents": price_cents(&item) }))
            }),
        )
        .layer(tracetape::server::TraceLayer::new())
}

/// Serves `service` with tonic's `Server`, behind tracetape's server
/// layer, on `listener` until `stop` resolves, in TLS with `tls` when
/// given; with gRPC server reflection (`grpc.reflection.v1`) answering
/// with [`descriptor_set`].
pub async fn serve_grpc<S>(
    service: S,
    listener: tokio::net::TcpListener,
    tls: Option<tonic::transport::Identity>,
    stop: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let descriptors = descriptor_set();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(descriptors.as_slice())
        .build_v1();
    let mut server = tonic::transport::Server::builder();
    if let Some(identity) = tls {
        server = server.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
    }
    let mut server = server.layer(tracetape::server::TraceLayer::new());
    let mut router = server.add_service(service);
    if let Ok(reflection) = reflection {
        router = router.add_service(reflection);
    }
    router
        .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), stop)
        .await
}

/// The descriptor set of both services (`shop.proto`), encoded, as
/// `protoc --descriptor_set_out` would write it: give it to `tracetape
/// replay` (`--compare grpc_descriptors="shop.bin"`, or
/// `grpc_descriptors` in `[replay.compare]`) and the messages are
/// compared by field name. `grpc-service descriptors shop.bin` writes it.
pub fn descriptor_set() -> Vec<u8> {
    use prost::Message as _;
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{
        DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
        MethodDescriptorProto, ServiceDescriptorProto,
    };

    let field = |name: &str, number, kind: Type| FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        r#type: Some(kind as i32),
        label: Some(Label::Optional as i32),
        ..Default::default()
    };
    let message = |name: &str, fields| DescriptorProto {
        name: Some(name.into()),
        field: fields,
        ..Default::default()
    };
    let method = |name: &str, input: &str, output: &str, streams: bool| MethodDescriptorProto {
        name: Some(name.into()),
        input_type: Some(format!(".{input}")),
        output_type: Some(format!(".{output}")),
        server_streaming: Some(streams),
        ..Default::default()
    };
    let service = |name: &str, methods| ServiceDescriptorProto {
        name: Some(name.into()),
        method: methods,
        ..Default::default()
    };
    let file = |name: &str, package: &str, messages, services| FileDescriptorProto {
        name: Some(name.into()),
        package: Some(package.into()),
        syntax: Some("proto3".into()),
        message_type: messages,
        service: services,
        ..Default::default()
    };
    let shop = file(
        "shop.proto",
        "shop",
        vec![
            message(
                "Order",
                vec![
                    field("item", 1, Type::String),
                    field("quantity", 2, Type::Uint32),
                ],
            ),
            message(
                "Receipt",
                vec![
                    field("reservation_id", 1, Type::String),
                    field("total_cents", 2, Type::Int64),
                ],
            ),
            message(
                "TrackRequest",
                vec![field("reservation_id", 1, Type::String)],
            ),
            message("Step", vec![field("stage", 1, Type::String)]),
            message("Reserved", vec![field("reservation_id", 1, Type::String)]),
        ],
        vec![service(
            "Shop",
            vec![
                method("Place", "shop.Order", "shop.Receipt", false),
                method("Track", "shop.TrackRequest", "shop.Step", true),
            ],
        )],
    );
    let mut stock = file(
        "stock.proto",
        "stock",
        Vec::new(),
        vec![service(
            "Stock",
            vec![
                method("Reserve", "shop.Order", "shop.Reserved", false),
                method("Hold", "shop.Order", "shop.Reserved", false),
            ],
        )],
    );
    stock.dependency = vec!["shop.proto".into()];
    FileDescriptorSet {
        file: vec![shop, stock],
    }
    .encode_to_vec()
}
