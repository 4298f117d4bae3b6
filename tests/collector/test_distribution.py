"""The Collector distribution recipe (collector/distribution/) and the bundled configs name the
same components, every collector module is at one release, and the compose images are the
releases the recipe builds. Static: reads main.go, go.mod and the YAML files (the live test,
test_stack_live.py, asks the built binary)."""

from __future__ import annotations

import re

from rag_otel.collector import components as comp
from stack_binaries import (
    ALWAYS,
    CONTRIB_RELEASE,
    CORE_RELEASES,
    DISTRIBUTION,
    JAEGER_RELEASE,
    NOT_BUILDABLE,
    REPO,
    collector_configs,
    config_components,
    recipe_components,
)


def test_every_collector_config_is_found() -> None:
    names = {p.relative_to(REPO).as_posix() for p in collector_configs()}
    assert "collector/otel-collector.yaml" in names
    assert "collector/jaeger.yaml" not in names
    assert sum(n.startswith("collector/vendors/") for n in names) == 8


def test_recipe_and_configs_name_the_same_components() -> None:
    used: set[tuple[str, str]] = set()
    for path in collector_configs():
        used |= config_components(path)
    recipe = recipe_components()
    assert used - recipe == NOT_BUILDABLE, "a config uses a component the distribution lacks"
    # ALWAYS: the ClickHouse exporter, whether or not a config (collector/clickhouse.yaml)
    # names it yet
    assert recipe - used <= ALWAYS, "the distribution holds a component no config uses"


def test_every_collector_module_is_at_one_release() -> None:
    gomod = (DISTRIBUTION / "go.mod").read_text()
    pins = dict(re.findall(r"^\s+(\S+) (v\S+)", gomod, re.M))
    core = {m: v for m, v in pins.items() if m.startswith("go.opentelemetry.io/collector")}
    contrib = {m: v for m, v in pins.items() if "opentelemetry-collector-contrib" in m}
    assert core, gomod
    assert contrib, gomod
    assert set(core.values()) <= CORE_RELEASES, core
    assert set(contrib.values()) == {CONTRIB_RELEASE}, contrib
    assert f'var Version = "{CONTRIB_RELEASE[1:]}"' in (DISTRIBUTION / "main.go").read_text()


def test_compose_runs_the_releases_that_are_built() -> None:
    compose = (REPO / "docker-compose.yml").read_text()
    assert f"otel/opentelemetry-collector-contrib:{CONTRIB_RELEASE[1:]}" in compose
    assert f"jaegertracing/jaeger:{JAEGER_RELEASE}" in compose
    assert f"otel/opentelemetry-collector-contrib:{CONTRIB_RELEASE[1:]}" == comp.PINNED_IMAGE
    assert f"jaegertracing/jaeger:{JAEGER_RELEASE}" == comp.JAEGER_PINNED_IMAGE
    jaeger_mod = (DISTRIBUTION / "jaeger" / "go.mod").read_text()
    assert "github.com/jaegertracing/jaeger v1.75.0" in jaeger_mod
    dev = (REPO / "dev.py").read_text()
    assert f'JAEGER_RELEASE = "v{JAEGER_RELEASE}"' in dev


def test_the_recipe_is_not_part_of_the_wheel() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert "collector/distribution" not in pyproject
