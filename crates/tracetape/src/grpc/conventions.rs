//! Which RPC conventions spans and metrics follow: those of semantic
//! conventions 1.37, which OpenTelemetry's gRPC instrumentations emit
//! (the default), the stable ones (`OTEL_SEMCONV_STABILITY_OPT_IN=rpc`),
//! or both (`rpc/dup`), as the conventions' migration plan has
//! instrumentations offer.

use std::sync::OnceLock;

use opentelemetry::KeyValue;

use super::{Code, RPC_GRPC_STATUS_CODE, RPC_RESPONSE_STATUS_CODE};

/// The conventions emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Conventions {
    /// 1.37's: `rpc.system`, `rpc.service`, `rpc.method`,
    /// `rpc.grpc.status_code`.
    Old,
    /// The stable ones: `rpc.system.name`, `rpc.method` in full,
    /// `rpc.response.status_code`.
    Stable,
    /// Both (`rpc.method` the stable value).
    Both,
}

impl Conventions {
    /// What `OTEL_SEMCONV_STABILITY_OPT_IN` (a comma-separated list) asks
    /// for: `rpc/dup` wins over `rpc`; anything else is the default.
    fn from_opt_in(value: Option<&str>) -> Self {
        let asked: Vec<&str> = value
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .collect();
        if asked.contains(&"rpc/dup") {
            Self::Both
        } else if asked.contains(&"rpc") {
            Self::Stable
        } else {
            Self::Old
        }
    }

    /// The process's, read from the environment once.
    pub(super) fn current() -> Self {
        static CURRENT: OnceLock<Conventions> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            let value = std::env::var("OTEL_SEMCONV_STABILITY_OPT_IN").ok();
            Self::from_opt_in(value.as_deref())
        })
    }

    pub(super) fn old(self) -> bool {
        matches!(self, Self::Old | Self::Both)
    }

    pub(super) fn stable(self) -> bool {
        matches!(self, Self::Stable | Self::Both)
    }
}

/// The attributes of a call's status `code`, in the process's
/// conventions.
pub(crate) fn status_attributes(code: Code) -> Vec<KeyValue> {
    status_attributes_in(Conventions::current(), code)
}

fn status_attributes_in(conventions: Conventions, code: Code) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(2);
    if conventions.old() {
        attributes.push(KeyValue::new(RPC_GRPC_STATUS_CODE, code.number()));
    }
    if conventions.stable() {
        attributes.push(KeyValue::new(RPC_RESPONSE_STATUS_CODE, code.name()));
    }
    attributes
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::super::Call;
    use super::*;

    fn call() -> Call {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/grpc"));
        Call::of(&headers, "/shop.Shop/Place").unwrap_or_else(|| unreachable!())
    }

    fn keys_values(attributes: &[KeyValue]) -> Vec<(String, String)> {
        attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect()
    }

    #[test]
    fn the_opt_in_list_chooses_the_conventions() {
        assert_eq!(Conventions::from_opt_in(None), Conventions::Old);
        assert_eq!(Conventions::from_opt_in(Some("http")), Conventions::Old);
        assert_eq!(
            Conventions::from_opt_in(Some("http, rpc")),
            Conventions::Stable
        );
        assert_eq!(
            Conventions::from_opt_in(Some("rpc,rpc/dup")),
            Conventions::Both
        );
    }

    #[test]
    fn each_convention_names_the_call_and_its_status_its_way() {
        let old = call().attributes_in(Conventions::Old);
        assert_eq!(
            keys_values(&old),
            [
                ("rpc.system".into(), "grpc".into()),
                ("rpc.service".into(), "shop.Shop".into()),
                ("rpc.method".into(), "Place".into()),
            ]
        );
        let stable = call().attributes_in(Conventions::Stable);
        assert_eq!(
            keys_values(&stable),
            [
                ("rpc.system.name".into(), "grpc".into()),
                ("rpc.method".into(), "shop.Shop/Place".into()),
            ]
        );
        assert_eq!(call().attributes_in(Conventions::Both).len(), 4);
        assert_eq!(
            keys_values(&status_attributes_in(Conventions::Both, Code::NotFound)),
            [
                ("rpc.grpc.status_code".into(), "5".into()),
                ("rpc.response.status_code".into(), "NOT_FOUND".into()),
            ]
        );
    }
}
