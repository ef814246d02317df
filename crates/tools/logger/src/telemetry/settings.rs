//! The standard `OTEL_*` settings, read from the app's settings (the process
//! environment and `.env`), not behind the app's back from the process
//! environment: two apps in one process (tests) each have their own.

use std::collections::HashMap;
use std::time::Duration;

use microcore_kernel::Env;
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::Sampler;

/// The service name when neither `OTEL_SERVICE_NAME` nor a `service.name`
/// resource attribute says one.
pub const DEFAULT_SERVICE_NAME: &str = "microcore";

/// What to export where. Built by [`OtelSettings::from_env`].
#[derive(Clone, Debug)]
pub struct OtelSettings {
    /// Where spans go (`…/v1/traces`); `None` exports none.
    pub traces_endpoint: Option<String>,
    /// Where metrics go (`…/v1/metrics`); `None` exports none.
    pub metrics_endpoint: Option<String>,
    /// `service.name`.
    pub service_name: String,
    /// The other resource attributes.
    pub resource: Vec<KeyValue>,
    /// Which traces are recorded.
    pub sampler: Sampler,
    /// Extra request headers (an API key for a hosted collector).
    pub headers: HashMap<String, String>,
    /// How long one export may take.
    pub timeout: Duration,
    /// How often metrics are exported.
    pub metric_interval: Duration,
}

impl OtelSettings {
    /// The settings, or `None` when nothing is to be exported (no OTLP
    /// endpoint, or `OTEL_SDK_DISABLED=true`). A bad value falls back to
    /// its default and is reported in the returned warnings, which name
    /// the variable and say what it accepts.
    pub fn from_env(env: &Env) -> (Option<Self>, Vec<String>) {
        let mut warnings = Vec::new();
        let get = |key: &str| env.get(key).map(str::trim).filter(|v| !v.is_empty());
        if get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return (None, warnings);
        }
        if let Some(p) = get("OTEL_EXPORTER_OTLP_PROTOCOL").filter(|p| *p != "http/protobuf") {
            warnings.push(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={p:?} is not supported: MicroCore exports OTLP over \
                 http/protobuf only (port 4318 of a collector); using http/protobuf"
            ));
        }
        let base = get("OTEL_EXPORTER_OTLP_ENDPOINT");
        let signal = |specific: &str, exporter: &str, path: &str| {
            if get(exporter).is_some_and(|e| e.eq_ignore_ascii_case("none")) {
                return None;
            }
            get(specific)
                .map(str::to_owned)
                .or_else(|| base.map(|b| format!("{}/{path}", b.trim_end_matches('/'))))
        };
        let traces_endpoint = signal(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_TRACES_EXPORTER",
            "v1/traces",
        );
        let metrics_endpoint = signal(
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "OTEL_METRICS_EXPORTER",
            "v1/metrics",
        );
        if traces_endpoint.is_none() && metrics_endpoint.is_none() {
            return (None, warnings);
        }
        let resource = pairs(get("OTEL_RESOURCE_ATTRIBUTES").unwrap_or(""));
        let service_name = get("OTEL_SERVICE_NAME")
            .map(str::to_owned)
            .or_else(|| {
                resource
                    .iter()
                    .find(|(k, _)| k == "service.name")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
        let resource = resource
            .into_iter()
            .filter(|(k, _)| k != "service.name")
            .map(|(k, v)| KeyValue::new(k, v))
            .collect();
        let millis = |key: &str, default: u64, warnings: &mut Vec<String>| {
            let value = get(key).map_or(Ok(default), |v| v.parse::<u64>());
            match value {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => {
                    warnings.push(format!(
                        "{key} must be a positive number of milliseconds; using {default}"
                    ));
                    Duration::from_millis(default)
                }
            }
        };
        let timeout = millis("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000, &mut warnings);
        let metric_interval = millis("OTEL_METRIC_EXPORT_INTERVAL", 60_000, &mut warnings);
        let sampler = sampler(
            get("OTEL_TRACES_SAMPLER"),
            get("OTEL_TRACES_SAMPLER_ARG"),
            &mut warnings,
        );
        let headers = pairs(get("OTEL_EXPORTER_OTLP_HEADERS").unwrap_or(""))
            .into_iter()
            .collect();
        let settings = Self {
            traces_endpoint,
            metrics_endpoint,
            service_name,
            resource,
            sampler,
            headers,
            timeout,
            metric_interval,
        };
        (Some(settings), warnings)
    }
}

/// `k1=v1,k2=v2` (the format of `OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_EXPORTER_OTLP_HEADERS`); entries without `=` are skipped.
fn pairs(list: &str) -> Vec<(String, String)> {
    list.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// `OTEL_TRACES_SAMPLER` and its argument, as the specification names them;
/// default `parentbased_always_on`.
fn sampler(name: Option<&str>, arg: Option<&str>, warnings: &mut Vec<String>) -> Sampler {
    let mut ratio = || match arg.map(str::parse::<f64>) {
        None => 1.0,
        Some(Ok(r)) if (0.0..=1.0).contains(&r) => r,
        Some(_) => {
            warnings.push(format!(
                "OTEL_TRACES_SAMPLER_ARG={:?} is not a ratio between 0 and 1; using 1.0",
                arg.unwrap_or_default()
            ));
            1.0
        }
    };
    match name.unwrap_or("parentbased_always_on") {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio()),
        "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        "parentbased_traceidratio" => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio())))
        }
        other => {
            warnings.push(format!(
                "OTEL_TRACES_SAMPLER={other:?} is not known; using parentbased_always_on. \
                 Known: always_on, always_off, traceidratio, parentbased_always_on, \
                 parentbased_always_off, parentbased_traceidratio"
            ));
            Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> (Option<OtelSettings>, Vec<String>) {
        OtelSettings::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn off_without_an_endpoint_or_when_disabled() {
        assert!(read(&[]).0.is_none());
        assert!(read(&[("OTEL_SERVICE_NAME", "x")]).0.is_none());
        let disabled = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ];
        assert!(read(&disabled).0.is_none());
    }

    #[test]
    fn the_base_endpoint_gets_signal_paths_and_specific_ones_win() {
        let (s, w) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:9/x"),
        ]);
        let s = s.unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            s.traces_endpoint.as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert_eq!(s.metrics_endpoint.as_deref(), Some("http://m:9/x"));
        assert_eq!(s.service_name, DEFAULT_SERVICE_NAME);
    }

    #[test]
    fn an_exporter_set_to_none_is_off() {
        let (s, _) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ]);
        assert!(s.unwrap().metrics_endpoint.is_none());
    }

    #[test]
    fn service_name_and_resource_attributes() {
        let (s, _) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-attrs, deployment.environment=prod,junk",
            ),
        ]);
        let s = s.unwrap();
        assert_eq!(s.service_name, "from-attrs");
        assert_eq!(
            s.resource,
            vec![KeyValue::new("deployment.environment", "prod")]
        );
        let (s, _) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SERVICE_NAME", "orders"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
        ]);
        assert_eq!(s.unwrap().service_name, "orders");
    }

    #[test]
    fn bad_values_fall_back_and_say_which_variable() {
        let (s, w) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        let s = s.unwrap();
        assert_eq!(s.timeout, Duration::from_secs(10));
        let all = w.join("\n");
        for var in [
            "OTEL_TRACES_SAMPLER",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            assert!(all.contains(var), "{var} in {all}");
        }
        let (_, w) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ]);
        assert!(w[0].contains("OTEL_TRACES_SAMPLER_ARG"), "{w:?}");
    }
}
