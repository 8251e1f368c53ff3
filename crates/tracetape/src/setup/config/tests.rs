#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use opentelemetry::{Key, Value};

use super::*;

fn env(vars: &[(&str, &str)]) -> Settings {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Settings::from_lookup(|name| env.get(name).cloned()).0
}

fn resolve(code: &Overrides, vars: &[(&str, &str)]) -> Config {
    let (config, warnings) = Config::resolve(code, env(vars));
    assert!(warnings.is_empty(), "unexpected warnings: {warnings:?}");
    config
}

fn service_name(config: &Config) -> Option<Value> {
    config.resource().get(&Key::new(SERVICE_NAME))
}

#[test]
fn with_nothing_set_spans_go_to_the_local_store_and_metrics_nowhere() {
    let config = resolve(&Overrides::default(), &[]);
    assert!(!config.disabled);
    assert_eq!(config.traces_exporter, TracesExporter::Local);
    assert_eq!(config.metrics_exporter, MetricsExporter::None);
    assert_eq!(
        config.traces_otlp,
        OtlpConfig {
            endpoint: None,
            protocol: OtlpProtocol::HttpProtobuf,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            gzip: false,
            tls: Default::default(),
        }
    );
    assert_eq!(format!("{:?}", config.sampler), "ParentBased(AlwaysOn)");
}

#[test]
fn a_generic_endpoint_selects_otlp_for_both_signals() {
    let config = resolve(
        &Overrides::default(),
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")],
    );
    assert_eq!(config.traces_exporter, TracesExporter::Otlp);
    assert_eq!(config.metrics_exporter, MetricsExporter::Otlp);
}

#[test]
fn a_per_signal_endpoint_selects_otlp_for_its_signal_only() {
    let config = resolve(
        &Overrides::default(),
        &[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://collector:4318/v1/traces",
        )],
    );
    assert_eq!(config.traces_exporter, TracesExporter::Otlp);
    assert_eq!(config.metrics_exporter, MetricsExporter::None);
}

#[test]
fn a_code_endpoint_selects_otlp() {
    let code = Overrides {
        otlp_endpoint: Some("http://collector:4318".into()),
        ..Overrides::default()
    };
    let config = resolve(&code, &[]);
    assert_eq!(config.traces_exporter, TracesExporter::Otlp);
    assert_eq!(config.metrics_exporter, MetricsExporter::Otlp);
}

#[test]
fn an_explicit_exporter_wins_over_the_endpoint_default() {
    let config = resolve(
        &Overrides::default(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ],
    );
    assert_eq!(config.traces_exporter, TracesExporter::Console);
    assert_eq!(config.metrics_exporter, MetricsExporter::None);
}

#[test]
fn code_settings_win_over_the_environment() {
    let code = Overrides {
        disabled: Some(false),
        traces_exporter: Some(TracesExporter::None),
        metrics_exporter: Some(MetricsExporter::Console),
        otlp_endpoint: Some("http://code:4318".into()),
        otlp_protocol: Some(OtlpProtocol::Grpc),
        otlp_timeout: Some(Duration::from_secs(2)),
        sampler: Some(Sampler::AlwaysOff),
        ..Overrides::default()
    };
    let config = resolve(
        &code,
        &[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://env:4318/v1/traces",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "9000"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
        ],
    );
    assert!(!config.disabled);
    assert_eq!(config.traces_exporter, TracesExporter::None);
    assert_eq!(config.metrics_exporter, MetricsExporter::Console);
    assert_eq!(
        config.traces_otlp.endpoint,
        Some(Endpoint::Base("http://code:4318".into()))
    );
    assert_eq!(config.traces_otlp.protocol, OtlpProtocol::Grpc);
    assert_eq!(config.traces_otlp.timeout, Duration::from_secs(2));
    assert_eq!(format!("{:?}", config.sampler), "AlwaysOff");
}

#[test]
fn environment_settings_apply_without_code() {
    let config = resolve(
        &Overrides::default(),
        &[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1500"),
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
            ("OTEL_PROPAGATORS", "baggage"),
        ],
    );
    assert!(config.disabled);
    assert_eq!(config.traces_otlp.protocol, OtlpProtocol::Grpc);
    assert_eq!(config.metrics_otlp.timeout, Duration::from_millis(1500));
    assert_eq!(format!("{:?}", config.sampler), "TraceIdRatioBased(0.5)");
    assert_eq!(config.propagators, [Propagator::Baggage]);
}

#[test]
fn code_headers_replace_env_headers_of_the_same_name() {
    let code = Overrides {
        otlp_headers: vec![("X-Api-Key".into(), "code".into())],
        ..Overrides::default()
    };
    let config = resolve(
        &code,
        &[("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=env,x-team=core")],
    );
    assert_eq!(
        config.traces_otlp.headers,
        [
            ("x-team".to_owned(), "core".to_owned()),
            ("X-Api-Key".to_owned(), "code".to_owned()),
        ]
    );
}

#[test]
fn invalid_code_settings_are_reported_and_ignored() {
    let code = Overrides {
        otlp_endpoint: Some("collector:4318".into()),
        otlp_headers: vec![("bad header".into(), "1".into())],
        ..Overrides::default()
    };
    let (config, warnings) = Config::resolve(
        &code,
        env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318")]),
    );
    let names: Vec<&str> = warnings.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "setup.invalid_config.otlp_endpoint",
            "setup.invalid_config.otlp_headers"
        ]
    );
    assert_eq!(
        config.traces_otlp.endpoint,
        Some(Endpoint::Base("http://env:4318".into()))
    );
    assert!(config.traces_otlp.headers.is_empty());
}

#[test]
fn service_name_precedence() {
    let vars = [
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attributes,team=core",
        ),
        ("OTEL_SERVICE_NAME", "from-env"),
    ];
    // OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES.
    let config = resolve(&Overrides::default(), &vars);
    assert_eq!(service_name(&config), Some("from-env".into()));
    assert_eq!(
        config.resource().get(&Key::new("team")),
        Some("core".into())
    );

    // A code attribute wins over the environment.
    let code = Overrides {
        resource_attributes: vec![KeyValue::new(SERVICE_NAME, "from-code-attribute")],
        ..Overrides::default()
    };
    let config = resolve(&code, &vars);
    assert_eq!(service_name(&config), Some("from-code-attribute".into()));

    // with_service_name wins over everything.
    let code = Overrides {
        service_name: Some("from-code".into()),
        ..code
    };
    let config = resolve(&code, &vars);
    assert_eq!(service_name(&config), Some("from-code".into()));
}

#[test]
fn code_resource_attributes_win_and_keep_their_type() {
    let code = Overrides {
        resource_attributes: vec![KeyValue::new("team", 7)],
        ..Overrides::default()
    };
    let config = resolve(&code, &[("OTEL_RESOURCE_ATTRIBUTES", "team=core")]);
    assert_eq!(
        config.resource().get(&Key::new("team")),
        Some(Value::I64(7))
    );
}

#[test]
fn an_unnamed_service_is_unknown_service() {
    let config = resolve(&Overrides::default(), &[]);
    let name = service_name(&config).unwrap().to_string();
    assert!(name.starts_with("unknown_service"), "{name}");
    assert!(
        config
            .resource()
            .get(&Key::new("telemetry.sdk.language"))
            .is_some()
    );
}
