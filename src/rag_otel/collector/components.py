"""Component types the pinned OpenTelemetry Collector (contrib) release knows.

`rag-otel collector check` rejects a component type that is not in these tables, so a
config that names a component the image does not ship fails here instead of at
``docker compose up``.

Where the names come from
-------------------------
``SOURCE`` says it: the ``type:`` of each module listed in
open-telemetry/opentelemetry-collector-releases ``distributions/otelcol-contrib/manifest.yaml``
(the v0.135.0 distribution, modules v0.136.0: the newest manifest the project could read),
each module's ``type`` read from its ``metadata.yaml`` in opentelemetry-collector-contrib,
then brought to the pinned image (``PINNED_RELEASE``) with the renames made since:
``otlp`` -> ``otlp_grpc`` and ``otlphttp`` -> ``otlp_http`` (v0.144.0) and ``spanmetrics`` ->
``span_metrics``; the old names still load as deprecated aliases (``DEPRECATED``). Components
removed from the distribution (``logging``, ``spanmetrics`` processor, ...) are in ``REMOVED``.

A component added to the distribution after that manifest is reported as unknown: add it to
the table (with the release it was read from) when you move the image forward.
"""

from __future__ import annotations

from typing import Final, Literal

Kind = Literal["receivers", "processors", "exporters", "connectors", "extensions"]
KINDS: Final[tuple[Kind, ...]] = (
    "receivers",
    "processors",
    "exporters",
    "connectors",
    "extensions",
)

PINNED_IMAGE: Final = "otel/opentelemetry-collector-contrib:0.165.1"
PINNED_RELEASE: Final = "v0.165.1"
SOURCE: Final = (
    "open-telemetry/opentelemetry-collector-releases distributions/otelcol-contrib/manifest.yaml "
    "v0.135.0 (modules v0.136.0), types from each module's metadata.yaml, plus the renames up to "
    "v0.165.1 (otlp_grpc, otlp_http, span_metrics)"
)

RECEIVERS: Final = frozenset(
    {
        "nop", "otlp",
        "activedirectoryds", "aerospike", "apache", "apachespark", "awscloudwatch",
        "awscontainerinsightreceiver", "awsecscontainermetrics", "awsfirehose", "awss3",
        "awsxray", "azureblob", "azureeventhub", "azuremonitor", "bigip", "carbon", "chrony",
        "cloudflare", "cloudfoundry", "collectd", "couchdb", "datadog", "docker_stats",
        "elasticsearch", "envoyals", "expvar", "faro", "filelog", "filestats", "flinkmetrics",
        "fluentforward", "github", "googlecloudmonitoring", "googlecloudpubsub",
        "googlecloudspanner", "haproxy", "hostmetrics", "httpcheck", "influxdb", "iis", "jaeger",
        "jmx", "journald", "k8s_cluster", "k8s_events", "k8sobjects", "kafkametrics", "kafka",
        "kubeletstats", "libhoney", "loki", "memcached", "mongodbatlas", "mongodb", "mysql",
        "namedpipe", "netflow", "nginx", "nsxt", "ntp", "oracledb", "otlpjsonfile", "otelarrow",
        "podman_stats", "postgresql", "prometheus", "prometheusremotewrite", "purefa", "purefb",
        "pulsar", "rabbitmq", "receiver_creator", "redis", "riak", "saphana", "signalfx",
        "prometheus_simple", "skywalking", "snowflake", "solace", "splunkenterprise",
        "splunk_hec", "stef", "sqlquery", "sqlserver", "sshcheck", "statsd", "syslog",
        "tcpcheck", "tcplog", "tlscheck", "udplog", "vcenter", "wavefront", "snmp",
        "webhookevent", "windowseventlog", "windowsperfcounters", "zipkin", "zookeeper",
    }
)  # fmt: skip

PROCESSORS: Final = frozenset(
    {
        "batch", "memory_limiter",
        "attributes", "cumulativetodelta", "coralogix", "deltatocumulative", "deltatorate",
        "filter", "geoip", "groupbyattrs", "groupbytrace", "interval", "isolationforest",
        "k8sattributes", "logdedup", "metricsgeneration", "metricstarttime", "metricstransform",
        "probabilistic_sampler", "redaction", "remotetap", "resourcedetection", "resource",
        "schema", "span", "sumologic", "tail_sampling", "transform",
    }
)  # fmt: skip

EXPORTERS: Final = frozenset(
    {
        "debug", "nop", "otlp_grpc", "otlp_http",
        "alibabacloud_logservice", "awscloudwatchlogs", "awsemf", "awskinesis", "awsxray",
        "awss3", "azureblob", "azuredataexplorer", "azuremonitor", "bmchelix", "carbon",
        "cassandra", "clickhouse", "coralogix", "datadog", "dataset", "doris", "elasticsearch",
        "faro", "file", "googlecloud", "googlecloudpubsub", "googlemanagedprometheus",
        "honeycombmarker", "influxdb", "kafka", "loadbalancing", "logicmonitor", "logzio",
        "mezmo", "opensearch", "otelarrow", "prometheus", "prometheusremotewrite", "pulsar",
        "rabbitmq", "sapm", "sentry", "signalfx", "splunk_hec", "stef", "sumologic", "syslog",
        "tencentcloud_logservice", "tinybird", "zipkin",
    }
)  # fmt: skip

CONNECTORS: Final = frozenset(
    {
        "forward", "count", "datadog", "exceptions", "failover", "grafanacloud", "otlpjson",
        "roundrobin", "routing", "servicegraph", "span_metrics", "sum", "signaltometrics",
    }
)  # fmt: skip

EXTENSIONS: Final = frozenset(
    {
        "zpages",
        "ack", "asapclient", "awsproxy", "azureauth", "basicauth", "bearertokenauth",
        "cgroupruntime", "datadog", "awscloudwatchmetricstreams_encoding", "awslogs_encoding",
        "googlecloudlogentry_encoding", "jaeger_encoding", "json_log_encoding", "otlp_encoding",
        "skywalking_encoding", "text_encoding", "zipkin_encoding", "googleclientauth",
        "headers_setter", "health_check", "http_forwarder", "jaegerremotesampling",
        "oauth2client", "docker_observer", "ecs_observer", "ecs_task_observer", "host_observer",
        "k8s_observer", "kafkatopics_observer", "oidc", "opamp", "pprof", "sigv4auth",
        "file_storage", "db_storage", "redis_storage", "sumologic", "k8s_leader_elector",
    }
)  # fmt: skip

ALLOWED: Final[dict[Kind, frozenset[str]]] = {
    "receivers": RECEIVERS,
    "processors": PROCESSORS,
    "exporters": EXPORTERS,
    "connectors": CONNECTORS,
    "extensions": EXTENSIONS,
}

# old type -> current type; the old name still loads in the pinned release, with a warning
DEPRECATED: Final[dict[Kind, dict[str, str]]] = {
    "receivers": {},
    "processors": {},
    "exporters": {"otlp": "otlp_grpc", "otlphttp": "otlp_http"},
    "connectors": {"spanmetrics": "span_metrics"},
    "extensions": {},
}

# type -> what to use instead; these no longer load at all
REMOVED: Final[dict[Kind, dict[str, str]]] = {
    "receivers": {"opencensus": "otlp"},
    "processors": {
        "spanmetrics": "the span_metrics connector",
        "servicegraph": "the servicegraph connector",
        "routing": "the routing connector",
    },
    "exporters": {
        "logging": "debug (removed in v0.111.0)",
        "jaeger": "otlp_grpc to Jaeger's OTLP port",
        "jaeger_thrift": "otlp_grpc to Jaeger's OTLP port",
        "opencensus": "otlp_grpc",
        "loki": "otlp_http to Loki's OTLP endpoint",
    },
    "connectors": {},
    "extensions": {"memory_ballast": "the memory_limiter processor", "ballast": "memory_limiter"},
}


def component_type(component_id: str) -> str:
    """The type part of a component id: ``otlp_http/honeycomb`` -> ``otlp_http``."""
    return component_id.split("/", 1)[0]


# --- Jaeger v2 ------------------------------------------------------------------------------
# Jaeger v2 is a Collector distribution of its own with a smaller set of components.
JAEGER_PINNED_IMAGE: Final = "jaegertracing/jaeger:2.12.0"
JAEGER_SOURCE: Final = (
    "jaegertracing/jaeger cmd/jaeger/internal/components.go and the cmd/jaeger/config-*.yaml "
    "examples (all-in-one, spm, tail-sampling, kafka, remote-storage)"
)
JAEGER_ALLOWED: Final[dict[Kind, frozenset[str]]] = {
    "receivers": frozenset({"otlp", "jaeger", "kafka", "zipkin", "nop"}),
    "processors": frozenset(
        {"batch", "memory_limiter", "tail_sampling", "adaptive_sampling", "filter", "attributes"}
    ),
    "exporters": frozenset(
        {"debug", "otlp_grpc", "otlp_http", "jaeger_storage_exporter", "kafka", "prometheus", "nop"}
    ),
    "connectors": frozenset({"forward", "span_metrics"}),
    "extensions": frozenset(
        {
            "jaeger_query", "jaeger_storage", "remote_sampling", "healthcheckv2", "expvar",
            "pprof", "zpages", "remote_storage", "jaeger_mcp", "basicauth", "sigv4auth",
            "google_client_auth",
        }
    ),
}  # fmt: skip
# Components that mark a config as Jaeger's rather than the Collector's.
JAEGER_MARKERS: Final = frozenset({"jaeger_storage", "jaeger_query", "jaeger_storage_exporter"})
