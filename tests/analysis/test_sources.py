"""The one table of sources: which loader a path or URL goes to."""

from __future__ import annotations

import pytest

from rag_otel.analysis.model import InputError
from rag_otel.analysis.sources import SOURCES, load, source_of


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("spans.jsonl", "spans"),
        ("-", "spans"),
        ("http://127.0.0.1:16686", "spans"),
        ("phoenix+http://127.0.0.1:6006/p", "spans"),
        ("prometheus+http://127.0.0.1:9090", "prometheus"),
        ("clickhouse://127.0.0.1/otel", "clickhouse"),
        ("chdb:///var/lib/traces", "clickhouse"),
    ],
)
def test_each_source_has_one_row(text: str, name: str) -> None:
    assert source_of(text).name == name


def test_the_table_ends_with_spans_and_only_spans_mix() -> None:
    assert SOURCES[-1].name == "spans"
    assert SOURCES[-1].prefixes == ()
    assert [s.name for s in SOURCES if not s.alone] == ["spans"]


@pytest.mark.parametrize(
    "sources",
    [
        ["chdb:///a", "spans.jsonl"],
        ["chdb:///a", "chdb:///b"],
        ["prometheus+http://127.0.0.1:9090", "clickhouse://127.0.0.1/"],
    ],
)
def test_store_sources_do_not_mix(sources: list[str]) -> None:
    with pytest.raises(InputError, match="source on its own"):
        load(sources)
