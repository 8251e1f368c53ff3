//! What the SERVER span knows when it starts: its name and the request
//! attributes, computed before the span exists so samplers see them.

use std::borrow::Cow;
use std::io::Write as _;
use std::net::IpAddr;

use http::request::Parts;
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{
    CLIENT_ADDRESS, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_ROUTE,
    NETWORK_PEER_ADDRESS, NETWORK_PEER_PORT, NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT,
    URL_PATH, URL_QUERY, URL_SCHEME, USER_AGENT_ORIGINAL,
};

use super::config::Config;
use super::metrics::Labels;
use super::{forwarded, peer, route};
use crate::grpc;
use crate::http_attrs::{Method, interned, protocol_version, redact_query};

/// Room for every start attribute, plus the status and error set at the end.
const ATTRIBUTES: usize = 16;

/// The start of one traced request.
pub(crate) struct Start {
    pub(crate) name: Cow<'static, str>,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) labels: Labels,
}

pub(crate) fn start(config: &Config, parts: &Parts) -> Start {
    let headers = &parts.headers;
    let rpc = grpc::Call::of(headers, parts.uri.path());
    let method = Method::of(&parts.method);
    let route = route::route(config, parts);
    let name = match &rpc {
        Some(call) => call.name.clone(),
        None => span_name(method, route.as_ref()),
    };

    let fwd = forwarded::forwarded(headers);
    let scheme = match forwarded::scheme(headers, &parts.uri, &fwd) {
        "http" => StringValue::from("http"),
        "https" => StringValue::from("https"),
        other => interned::value(other),
    };
    let version = protocol_version(parts.version);

    let mut attributes = Vec::with_capacity(ATTRIBUTES + config.capture_request.len());
    match &rpc {
        // A gRPC call is described as one: what the HTTP request under it
        // says (POST, the path) is in the RPC attributes already.
        Some(call) => attributes.extend(call.attributes()),
        None => http_attributes(
            config,
            parts,
            method,
            &scheme,
            route.as_ref(),
            &mut attributes,
        ),
    }
    if let Some(version) = version {
        attributes.push(KeyValue::new(NETWORK_PROTOCOL_VERSION, version));
    }
    if let Some((host, port)) = forwarded::server_authority(headers, &parts.uri, &fwd) {
        attributes.push(KeyValue::new(SERVER_ADDRESS, interned::value(host)));
        if let Some(port) = port {
            attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
        }
    }
    let peer = peer::peer_addr(&parts.extensions);
    // Formatted once: it is also `client.address` when no header names one.
    let peer_ip = peer.map(|peer| peer_ip(peer.ip()));
    match forwarded::client_address(headers, &fwd) {
        Some(client) => attributes.push(KeyValue::new(CLIENT_ADDRESS, interned::value(client))),
        None => {
            if let Some(ip) = &peer_ip {
                attributes.push(KeyValue::new(CLIENT_ADDRESS, ip.clone()));
            }
        }
    }
    if let (Some(peer), Some(ip)) = (peer, peer_ip) {
        attributes.push(KeyValue::new(NETWORK_PEER_ADDRESS, ip));
        attributes.push(KeyValue::new(NETWORK_PEER_PORT, i64::from(peer.port())));
    }
    if let Some(agent) = headers.get(http::header::USER_AGENT) {
        let agent = interned::value(&String::from_utf8_lossy(agent.as_bytes()));
        attributes.push(KeyValue::new(USER_AGENT_ORIGINAL, agent));
    }
    config.capture_request.capture(headers, &mut attributes);
    Start {
        name,
        attributes,
        labels: Labels {
            method,
            scheme,
            route,
            version,
            rpc,
        },
    }
}

/// The attributes of a plain HTTP request: method, scheme, path, query
/// and route.
fn http_attributes(
    config: &Config,
    parts: &Parts,
    method: Method,
    scheme: &StringValue,
    route: Option<&StringValue>,
    attributes: &mut Vec<KeyValue>,
) {
    attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, method.attribute()));
    if method == Method::Other {
        attributes.push(KeyValue::new(
            HTTP_REQUEST_METHOD_ORIGINAL,
            parts.method.as_str().to_owned(),
        ));
    }
    attributes.push(KeyValue::new(URL_SCHEME, scheme.clone()));
    attributes.push(KeyValue::new(URL_PATH, interned::value(parts.uri.path())));
    if let Some(query) = parts.uri.query().filter(|q| !q.is_empty()) {
        attributes.push(KeyValue::new(
            URL_QUERY,
            redact_query(query, &config.query_keys).into_owned(),
        ));
    }
    if let Some(route) = route {
        attributes.push(KeyValue::new(HTTP_ROUTE, route.clone()));
    }
}

/// `{method} {route}`, or the method alone (borrowed) when no route matched.
fn span_name(method: Method, route: Option<&StringValue>) -> Cow<'static, str> {
    match route {
        Some(route) => interned::span_name(method, route.as_str()),
        None => Cow::Borrowed(method.span_name()),
    }
}

/// The text of `ip`, written on the stack and shared once seen.
fn peer_ip(ip: IpAddr) -> StringValue {
    // The longest IPv6 text is 45 bytes (an IPv4-mapped address in full).
    let mut buffer = [0_u8; 48];
    let mut cursor = std::io::Cursor::new(&mut buffer[..]);
    if write!(cursor, "{ip}").is_err() {
        return StringValue::from(ip.to_string());
    }
    let written = usize::try_from(cursor.position()).unwrap_or(0);
    match std::str::from_utf8(&buffer[..written]) {
        Ok(text) => interned::value(text),
        Err(_) => StringValue::from(ip.to_string()),
    }
}
