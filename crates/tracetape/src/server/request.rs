//! What the SERVER span knows when it starts: its name and the request
//! attributes, computed before the span exists so samplers see them.

use std::sync::Arc;

use http::request::Parts;
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{
    CLIENT_ADDRESS, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_ROUTE,
    NETWORK_PEER_ADDRESS, NETWORK_PEER_PORT, NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT,
    URL_PATH, URL_QUERY, URL_SCHEME, USER_AGENT_ORIGINAL,
};

use super::config::Config;
use super::{forwarded, peer, route};
use crate::http_attrs::{Method, protocol_version, redact_query};

/// The start of one traced request.
pub(crate) struct Start {
    pub(crate) name: String,
    pub(crate) attributes: Vec<KeyValue>,
    /// `http.request.method`, `url.scheme` first (the active-requests
    /// attributes), then `http.route` and `network.protocol.version` when known.
    pub(crate) metric_attributes: Vec<KeyValue>,
}

pub(crate) fn start(config: &Config, parts: &Parts) -> Start {
    let method = Method::of(&parts.method);
    let route: Option<StringValue> =
        route::route(config, parts).map(|r| StringValue::from(Arc::<str>::from(r)));
    let name = match &route {
        Some(route) => format!("{} {}", method.span_name(), route.as_str()),
        None => method.span_name().to_owned(),
    };

    let headers = &parts.headers;
    let fwd = forwarded::forwarded(headers);
    let scheme = forwarded::scheme(headers, &parts.uri, &fwd);
    let scheme: StringValue = match scheme {
        "http" => "http".into(),
        "https" => "https".into(),
        other => other.to_owned().into(),
    };
    let version = protocol_version(parts.version);

    let mut attributes = Vec::with_capacity(14);
    let mut metric_attributes = Vec::with_capacity(6);
    attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, method.attribute()));
    metric_attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, method.attribute()));
    if method == Method::Other {
        attributes.push(KeyValue::new(
            HTTP_REQUEST_METHOD_ORIGINAL,
            parts.method.as_str().to_owned(),
        ));
    }
    attributes.push(KeyValue::new(URL_SCHEME, scheme.clone()));
    metric_attributes.push(KeyValue::new(URL_SCHEME, scheme));
    attributes.push(KeyValue::new(URL_PATH, parts.uri.path().to_owned()));
    if let Some(query) = parts.uri.query().filter(|q| !q.is_empty()) {
        attributes.push(KeyValue::new(URL_QUERY, redact_query(query).into_owned()));
    }
    if let Some(route) = route {
        attributes.push(KeyValue::new(HTTP_ROUTE, route.clone()));
        metric_attributes.push(KeyValue::new(HTTP_ROUTE, route));
    }
    if let Some(version) = version {
        attributes.push(KeyValue::new(NETWORK_PROTOCOL_VERSION, version));
        metric_attributes.push(KeyValue::new(NETWORK_PROTOCOL_VERSION, version));
    }
    if let Some((host, port)) = forwarded::server_authority(headers, &parts.uri, &fwd) {
        attributes.push(KeyValue::new(SERVER_ADDRESS, host.to_owned()));
        if let Some(port) = port {
            attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
        }
    }
    let peer = peer::peer_addr(&parts.extensions);
    match forwarded::client_address(headers, &fwd) {
        Some(client) => attributes.push(KeyValue::new(CLIENT_ADDRESS, client.to_owned())),
        None => {
            if let Some(peer) = peer {
                attributes.push(KeyValue::new(CLIENT_ADDRESS, peer.ip().to_string()));
            }
        }
    }
    if let Some(peer) = peer {
        attributes.push(KeyValue::new(NETWORK_PEER_ADDRESS, peer.ip().to_string()));
        attributes.push(KeyValue::new(NETWORK_PEER_PORT, i64::from(peer.port())));
    }
    if let Some(agent) = headers
        .get(http::header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    {
        attributes.push(KeyValue::new(USER_AGENT_ORIGINAL, agent));
    }
    config.capture_request.capture(headers, &mut attributes);
    Start {
        name,
        attributes,
        metric_attributes,
    }
}
