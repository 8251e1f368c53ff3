#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use super::*;

/// Parses an environment made of `vars`.
fn parse(vars: &[(&str, &str)]) -> (Settings, Vec<Warning>) {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Settings::from_lookup(|name| env.get(name).cloned())
}

/// Parses an environment that must produce no warning.
fn clean(vars: &[(&str, &str)]) -> Settings {
    let (settings, warnings) = parse(vars);
    assert!(warnings.is_empty(), "unexpected warnings: {warnings:?}");
    settings
}

/// Parses an environment that must produce exactly one warning, named
/// `name`, and returns the settings and the message.
fn one_warning(vars: &[(&str, &str)], name: &str) -> (Settings, String) {
    let (settings, warnings) = parse(vars);
    assert_eq!(warnings.len(), 1, "expected one warning: {warnings:?}");
    assert_eq!(warnings[0].name, name);
    (settings, warnings[0].message.clone())
}

#[test]
fn an_empty_environment_gives_the_defaults() {
    let settings = clean(&[]);
    assert!(!settings.disabled);
    assert_eq!(settings.service_name, None);
    assert!(settings.resource_attributes.is_empty());
    assert_eq!(settings.traces_exporter, None);
    assert_eq!(settings.metrics_exporter, None);
    assert_eq!(settings.traces_otlp, OtlpSettings::default());
    assert_eq!(settings.metrics_otlp, OtlpSettings::default());
    assert_eq!(settings.sampler, SamplerKind::ParentBasedAlwaysOn);
    assert_eq!(settings.batch, BatchSettings::default());
    assert_eq!(
        settings.propagators,
        [Propagator::TraceContext, Propagator::Baggage]
    );
}

#[test]
fn empty_and_blank_values_count_as_unset() {
    let settings = clean(&[
        (SDK_DISABLED, ""),
        (SERVICE_NAME, "  "),
        (TRACES_EXPORTER, ""),
        (TRACES_SAMPLER, " "),
        (PROPAGATORS, ""),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
    ]);
    assert_eq!(settings, clean(&[]));
}

#[test]
fn sdk_disabled() {
    assert!(clean(&[(SDK_DISABLED, "true")]).disabled);
    assert!(clean(&[(SDK_DISABLED, " TRUE ")]).disabled);
    assert!(!clean(&[(SDK_DISABLED, "false")]).disabled);
    let (settings, message) = one_warning(
        &[(SDK_DISABLED, "yes")],
        "setup.invalid_env.OTEL_SDK_DISABLED",
    );
    assert!(!settings.disabled);
    assert!(message.contains("OTEL_SDK_DISABLED=\"yes\""), "{message}");
    assert!(message.contains("using false"), "{message}");
}

#[test]
fn service_name() {
    let settings = clean(&[(SERVICE_NAME, " checkout ")]);
    assert_eq!(settings.service_name.as_deref(), Some("checkout"));
}

#[test]
fn resource_attributes_are_percent_decoded() {
    let settings = clean(&[(
        RESOURCE_ATTRIBUTES,
        "deployment.environment.name=staging, team = a%2Cb%20c,,",
    )]);
    assert_eq!(
        settings.resource_attributes,
        [
            (
                "deployment.environment.name".to_owned(),
                "staging".to_owned()
            ),
            ("team".to_owned(), "a,b c".to_owned()),
        ]
    );
}

#[test]
fn invalid_resource_attributes_are_dropped_whole() {
    for value in ["a=1,novalue", "=1", "a=%zz", "a=%e2%28"] {
        let (settings, message) = one_warning(
            &[(RESOURCE_ATTRIBUTES, value)],
            "setup.invalid_env.OTEL_RESOURCE_ATTRIBUTES",
        );
        assert!(settings.resource_attributes.is_empty(), "{value}");
        assert!(message.contains("no attributes"), "{message}");
    }
}

#[test]
fn traces_exporter_values() {
    for (value, expected) in [
        ("otlp", TracesExporter::Otlp),
        ("console", TracesExporter::Console),
        ("none", TracesExporter::None),
        ("local", TracesExporter::Local),
        ("OTLP", TracesExporter::Otlp),
    ] {
        assert_eq!(
            clean(&[(TRACES_EXPORTER, value)]).traces_exporter,
            Some(expected)
        );
    }
}

#[test]
fn traces_exporter_takes_the_first_of_a_list() {
    let (settings, message) = one_warning(
        &[(TRACES_EXPORTER, "console, otlp")],
        "setup.invalid_env.OTEL_TRACES_EXPORTER",
    );
    assert_eq!(settings.traces_exporter, Some(TracesExporter::Console));
    assert!(message.contains("only \"console\" is used"), "{message}");
}

#[test]
fn unknown_traces_exporter_falls_back_to_the_default() {
    let (settings, message) = one_warning(
        &[(TRACES_EXPORTER, "zipkin")],
        "setup.invalid_env.OTEL_TRACES_EXPORTER",
    );
    assert_eq!(settings.traces_exporter, None);
    assert!(message.contains("\"zipkin\""), "{message}");
}

#[test]
fn metrics_exporter_values() {
    for (value, expected) in [
        ("otlp", MetricsExporter::Otlp),
        ("console", MetricsExporter::Console),
        ("none", MetricsExporter::None),
    ] {
        assert_eq!(
            clean(&[(METRICS_EXPORTER, value)]).metrics_exporter,
            Some(expected)
        );
    }
    let (settings, _) = one_warning(
        &[(METRICS_EXPORTER, "prometheus")],
        "setup.invalid_env.OTEL_METRICS_EXPORTER",
    );
    assert_eq!(settings.metrics_exporter, None);
    // `local` is a traces exporter only.
    let (settings, _) = one_warning(
        &[(METRICS_EXPORTER, "local")],
        "setup.invalid_env.OTEL_METRICS_EXPORTER",
    );
    assert_eq!(settings.metrics_exporter, None);
}

#[test]
fn generic_endpoint_is_a_base_url() {
    let settings = clean(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]);
    let base = Endpoint::Base("http://collector:4318".to_owned());
    assert_eq!(settings.traces_otlp.endpoint, Some(base.clone()));
    assert_eq!(settings.metrics_otlp.endpoint, Some(base));
}

#[test]
fn tls_files_are_read_per_signal_one_file_at_a_time() {
    let settings = clean(&[
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/etc/client.key"),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/etc/client.pem"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            " /etc/traces-ca.pem ",
        ),
        ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "/etc/metrics.key"),
    ]);
    let file = |setting: &Option<crate::setup::tls::FileSetting>| {
        setting
            .as_ref()
            .map(|file| (file.var.clone(), file.path.display().to_string()))
    };
    let traces = &settings.traces_otlp.tls;
    assert_eq!(
        file(&traces.certificate),
        Some((
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE".into(),
            "/etc/traces-ca.pem".into()
        ))
    );
    assert_eq!(
        file(&traces.client_key),
        Some((
            "OTEL_EXPORTER_OTLP_CLIENT_KEY".into(),
            "/etc/client.key".into()
        ))
    );
    let metrics = &settings.metrics_otlp.tls;
    assert_eq!(
        file(&metrics.certificate),
        Some((
            "OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
            "/etc/ca.pem".into()
        ))
    );
    assert_eq!(
        file(&metrics.client_key),
        Some((
            "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY".into(),
            "/etc/metrics.key".into()
        ))
    );
    assert_eq!(
        file(&metrics.client_certificate),
        Some((
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE".into(),
            "/etc/client.pem".into()
        ))
    );
}

#[test]
fn per_signal_endpoint_wins_and_is_used_as_is() {
    let settings = clean(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://traces.example/in",
        ),
    ]);
    assert_eq!(
        settings.traces_otlp.endpoint,
        Some(Endpoint::Signal("https://traces.example/in".to_owned()))
    );
    assert_eq!(
        settings.metrics_otlp.endpoint,
        Some(Endpoint::Base("http://collector:4318".to_owned()))
    );
}

#[test]
fn endpoint_urls_by_protocol() {
    let base = Endpoint::Base("http://collector:4318/".to_owned());
    assert_eq!(
        base.url(OtlpProtocol::HttpProtobuf, "/v1/traces"),
        "http://collector:4318/v1/traces"
    );
    assert_eq!(
        base.url(OtlpProtocol::Grpc, "/v1/traces"),
        "http://collector:4318/"
    );
    let signal = Endpoint::Signal("http://collector:4318/custom".to_owned());
    assert_eq!(
        signal.url(OtlpProtocol::HttpProtobuf, "/v1/traces"),
        "http://collector:4318/custom"
    );
}

#[test]
fn invalid_endpoints_are_ignored() {
    for value in ["collector:4318", "ftp://collector", "http://", "not a url"] {
        let (settings, message) = one_warning(
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", value)],
            "setup.invalid_env.OTEL_EXPORTER_OTLP_ENDPOINT",
        );
        assert_eq!(settings.traces_otlp.endpoint, None, "{value}");
        assert!(message.contains("default endpoint"), "{message}");
    }
    // An invalid per-signal endpoint falls back to the generic one.
    let (settings, _) = parse(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "nope"),
    ]);
    assert_eq!(
        settings.traces_otlp.endpoint,
        Some(Endpoint::Base("http://collector:4318".to_owned()))
    );
}

#[test]
fn protocol_values_and_precedence() {
    let settings = clean(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
    assert_eq!(settings.traces_otlp.protocol, Some(OtlpProtocol::Grpc));
    let settings = clean(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ]);
    assert_eq!(
        settings.traces_otlp.protocol,
        Some(OtlpProtocol::HttpProtobuf)
    );
    assert_eq!(settings.metrics_otlp.protocol, Some(OtlpProtocol::Grpc));
}

#[test]
fn http_json_uses_http_protobuf() {
    let (settings, message) = one_warning(
        &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")],
        "setup.invalid_env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    );
    assert_eq!(
        settings.traces_otlp.protocol,
        Some(OtlpProtocol::HttpProtobuf)
    );
    assert!(message.contains("not supported"), "{message}");
}

#[test]
fn unknown_protocol_falls_back() {
    let (settings, _) = one_warning(
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")],
        "setup.invalid_env.OTEL_EXPORTER_OTLP_PROTOCOL",
    );
    assert_eq!(settings.traces_otlp.protocol, None);
    // An unknown per-signal protocol falls back to the generic one.
    let (settings, _) = parse(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "udp"),
    ]);
    assert_eq!(settings.traces_otlp.protocol, Some(OtlpProtocol::Grpc));
}

#[test]
fn headers_are_parsed_and_per_signal_replaces_generic() {
    let settings = clean(&[
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=generic,x-team=a%20b",
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=traces"),
    ]);
    assert_eq!(
        settings.traces_otlp.headers,
        [("x-api-key".to_owned(), "traces".to_owned())]
    );
    assert_eq!(
        settings.metrics_otlp.headers,
        [
            ("x-api-key".to_owned(), "generic".to_owned()),
            ("x-team".to_owned(), "a b".to_owned()),
        ]
    );
}

#[test]
fn invalid_headers_are_skipped() {
    let (settings, message) = one_warning(
        &[("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "bad name=1,x-ok=2")],
        "setup.invalid_env.OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    );
    assert_eq!(
        settings.traces_otlp.headers,
        [("x-ok".to_owned(), "2".to_owned())]
    );
    assert!(message.contains("\"bad name\""), "{message}");

    let (settings, _) = one_warning(
        &[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")],
        "setup.invalid_env.OTEL_EXPORTER_OTLP_HEADERS",
    );
    assert!(settings.traces_otlp.headers.is_empty());
}

#[test]
fn timeouts_and_precedence() {
    let settings = clean(&[
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "700"),
    ]);
    assert_eq!(
        settings.traces_otlp.timeout,
        Some(Duration::from_millis(2500))
    );
    assert_eq!(
        settings.metrics_otlp.timeout,
        Some(Duration::from_millis(700))
    );
    for value in ["-1", "0", "1.5", "ten"] {
        let (settings, _) = one_warning(
            &[("OTEL_EXPORTER_OTLP_TIMEOUT", value)],
            "setup.invalid_env.OTEL_EXPORTER_OTLP_TIMEOUT",
        );
        assert_eq!(settings.traces_otlp.timeout, None, "{value}");
    }
}

#[test]
fn sampler_values() {
    for (name, expected) in [
        ("always_on", SamplerKind::AlwaysOn),
        ("always_off", SamplerKind::AlwaysOff),
        ("traceidratio", SamplerKind::TraceIdRatio(1.0)),
        ("parentbased_always_on", SamplerKind::ParentBasedAlwaysOn),
        ("parentbased_always_off", SamplerKind::ParentBasedAlwaysOff),
        (
            "parentbased_traceidratio",
            SamplerKind::ParentBasedTraceIdRatio(1.0),
        ),
    ] {
        assert_eq!(clean(&[(TRACES_SAMPLER, name)]).sampler, expected);
    }
}

#[test]
fn sampler_ratio_comes_from_the_arg() {
    let settings = clean(&[
        (TRACES_SAMPLER, "parentbased_traceidratio"),
        (TRACES_SAMPLER_ARG, "0.25"),
    ]);
    assert_eq!(settings.sampler, SamplerKind::ParentBasedTraceIdRatio(0.25));
    let settings = clean(&[(TRACES_SAMPLER, "traceidratio"), (TRACES_SAMPLER_ARG, "0")]);
    assert_eq!(settings.sampler, SamplerKind::TraceIdRatio(0.0));
    // The argument of a sampler without a ratio is ignored.
    let settings = clean(&[(TRACES_SAMPLER, "always_on"), (TRACES_SAMPLER_ARG, "oops")]);
    assert_eq!(settings.sampler, SamplerKind::AlwaysOn);
}

#[test]
fn invalid_sampler_ratio_uses_one() {
    for value in ["1.5", "-0.1", "half", "NaN"] {
        let (settings, message) = one_warning(
            &[
                (TRACES_SAMPLER, "traceidratio"),
                (TRACES_SAMPLER_ARG, value),
            ],
            "setup.invalid_env.OTEL_TRACES_SAMPLER_ARG",
        );
        assert_eq!(settings.sampler, SamplerKind::TraceIdRatio(1.0), "{value}");
        assert!(message.contains("OTEL_TRACES_SAMPLER_ARG"), "{message}");
        assert!(message.contains("using 1.0"), "{message}");
    }
}

#[test]
fn unknown_sampler_uses_the_default() {
    let (settings, message) = one_warning(
        &[(TRACES_SAMPLER, "jaeger_remote")],
        "setup.invalid_env.OTEL_TRACES_SAMPLER",
    );
    assert_eq!(settings.sampler, SamplerKind::ParentBasedAlwaysOn);
    assert!(message.contains("using parentbased_always_on"), "{message}");
}

#[test]
fn samplers_map_to_sdk_samplers() {
    let debug = |kind: SamplerKind| format!("{:?}", kind.to_sampler());
    assert_eq!(debug(SamplerKind::AlwaysOn), "AlwaysOn");
    assert_eq!(
        debug(SamplerKind::TraceIdRatio(0.5)),
        "TraceIdRatioBased(0.5)"
    );
    assert_eq!(
        debug(SamplerKind::ParentBasedAlwaysOff),
        "ParentBased(AlwaysOff)"
    );
    assert_eq!(
        debug(SamplerKind::ParentBasedTraceIdRatio(0.1)),
        "ParentBased(TraceIdRatioBased(0.1))"
    );
}

#[test]
fn batch_settings() {
    let settings = clean(&[
        (BSP_SCHEDULE_DELAY, "200"),
        (BSP_EXPORT_TIMEOUT, "1000"),
        (BSP_MAX_QUEUE_SIZE, "100"),
        (BSP_MAX_EXPORT_BATCH_SIZE, "10"),
    ]);
    assert_eq!(
        settings.batch,
        BatchSettings {
            schedule_delay: Duration::from_millis(200),
            export_timeout: Duration::from_millis(1000),
            max_queue_size: 100,
            max_export_batch_size: 10,
        }
    );
}

#[test]
fn invalid_batch_settings_use_defaults() {
    for var in [
        BSP_SCHEDULE_DELAY,
        BSP_EXPORT_TIMEOUT,
        BSP_MAX_QUEUE_SIZE,
        BSP_MAX_EXPORT_BATCH_SIZE,
    ] {
        for value in ["0", "-5", "soon"] {
            let (settings, message) =
                one_warning(&[(var, value)], &format!("setup.invalid_env.{var}"));
            assert_eq!(settings.batch, BatchSettings::default(), "{var}={value}");
            assert!(message.contains(var), "{message}");
        }
    }
}

#[test]
fn batch_size_is_capped_at_the_queue_size() {
    let (settings, message) = one_warning(
        &[
            (BSP_MAX_QUEUE_SIZE, "64"),
            (BSP_MAX_EXPORT_BATCH_SIZE, "128"),
        ],
        "setup.invalid_env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    );
    assert_eq!(settings.batch.max_queue_size, 64);
    assert_eq!(settings.batch.max_export_batch_size, 64);
    assert!(message.contains("using 64"), "{message}");
    // The default batch size (512) is capped by a smaller queue too.
    let (settings, _) = parse(&[(BSP_MAX_QUEUE_SIZE, "100")]);
    assert_eq!(settings.batch.max_export_batch_size, 100);
}

#[test]
fn propagators() {
    assert_eq!(
        clean(&[(PROPAGATORS, "baggage")]).propagators,
        [Propagator::Baggage]
    );
    assert_eq!(
        clean(&[(PROPAGATORS, "Baggage, tracecontext, baggage")]).propagators,
        [Propagator::Baggage, Propagator::TraceContext]
    );
    assert!(clean(&[(PROPAGATORS, "none")]).propagators.is_empty());
}

#[test]
fn b3_propagators_are_built() {
    use opentelemetry::propagation::TextMapPropagator as _;

    let settings = clean(&[(PROPAGATORS, "b3,b3multi,tracecontext")]);
    assert_eq!(
        settings.propagators,
        [
            Propagator::B3,
            Propagator::B3Multi,
            Propagator::TraceContext
        ]
    );
    let propagator = super::super::propagation::composite(&settings.propagators);
    let fields: Vec<&str> = propagator.fields().collect();
    for field in [
        "b3",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-sampled",
        "x-b3-flags",
        "traceparent",
        "tracestate",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
}

#[test]
fn unimplemented_propagators_are_skipped_with_a_warning() {
    let (settings, warnings) = parse(&[(PROPAGATORS, "tracecontext,jaeger,xray")]);
    assert_eq!(settings.propagators, [Propagator::TraceContext]);
    let names: Vec<&str> = warnings.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "setup.unsupported_propagator.jaeger",
            "setup.unsupported_propagator.xray"
        ]
    );
    assert!(warnings[0].message.contains("not implemented yet"));
}

#[test]
fn unknown_propagators_are_skipped() {
    let (settings, message) = one_warning(
        &[(PROPAGATORS, "tracecontext,carrier")],
        "setup.invalid_env.OTEL_PROPAGATORS",
    );
    assert_eq!(settings.propagators, [Propagator::TraceContext]);
    assert!(message.contains("\"carrier\""), "{message}");
}

#[test]
fn none_with_other_propagators_means_none() {
    let (settings, _) = one_warning(
        &[(PROPAGATORS, "none,tracecontext")],
        "setup.invalid_env.OTEL_PROPAGATORS",
    );
    assert!(settings.propagators.is_empty());
}

#[test]
fn key_value_parsing() {
    assert_eq!(
        parse_key_values("a=1, b = x%3Dy ,").unwrap(),
        [
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "x=y".to_owned())
        ]
    );
    assert!(parse_key_values("").unwrap().is_empty());
    assert!(parse_key_values("a").is_err());
    assert!(parse_key_values("a=%4").is_err());
}
