"""The optional ClickHouse part of the bundled stack: compose profile, Collector overlay, keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rag_otel.collector.check import bundle_at, check_paths

REPO = Path(__file__).resolve().parents[2]


def test_compose_profile_pinned_image_loopback_port_and_volume() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    service = compose["services"]["clickhouse"]
    assert service["profiles"] == ["clickhouse"]
    image, _, tag = service["image"].partition(":")
    assert image == "clickhouse/clickhouse-server"
    assert tag
    assert tag != "latest"
    assert all(p.startswith("127.0.0.1:") for p in service["ports"])
    assert "clickhouse-data" in compose["volumes"]
    overlay = yaml.safe_load((REPO / "docker-compose.clickhouse.yml").read_text())
    command = overlay["services"]["otel-collector"]["command"]
    assert command[-1] == "--config=/etc/otelcol-contrib/clickhouse.yaml"


def test_the_collector_overlay_is_checked_merged_onto_the_base() -> None:
    bundle = bundle_at(REPO)
    assert bundle is not None
    assert REPO / "collector" / "clickhouse.yaml" in bundle.overlays
    config = yaml.safe_load((REPO / "collector" / "clickhouse.yaml").read_text())
    assert config["service"]["pipelines"]["traces/clickhouse"]["exporters"] == ["clickhouse"]
    assert config["exporters"]["clickhouse"]["traces_table_name"] == "otel_traces"
    findings = check_paths([], base=bundle.base, overlays=[REPO / "collector" / "clickhouse.yaml"])
    assert [f for f in findings if f.severity == "error"] == []


@pytest.mark.parametrize(("key", "ok"), [("traces_table_name", True), ("table_name", False)])
def test_the_exporters_keys_are_known(tmp_path: Path, key: str, ok: bool) -> None:
    overlay = tmp_path / "ch.yaml"
    overlay.write_text(
        "exporters:\n  clickhouse/main:\n    endpoint: tcp://clickhouse:9000\n"
        f"    {key}: otel_traces\n"
        "service:\n  pipelines:\n    traces/ch:\n      receivers: [otlp]\n"
        "      exporters: [clickhouse/main]\n"
    )
    findings = check_paths([], base=REPO / "collector" / "otel-collector.yaml", overlays=[overlay])
    errors = [f.message for f in findings if f.severity == "error"]
    if ok:
        assert errors == []
    else:
        assert errors == [
            f"exporter 'clickhouse/main': '{key}' is not one of its settings (the Collector "
            "refuses invalid keys; it knows: "
            "async_insert, auth, cluster_name, compress, connection_params, create_schema, "
            "database, endpoint, json, logs_table_name, metrics_table_name, metrics_tables, "
            "password, profiles_table_name, retry_on_failure, sending_queue, table_engine, "
            "timeout, tls, traces_table_name, ttl, username)"
        ]
