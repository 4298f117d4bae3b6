"""Which source a path or URL is, and the one call that turns sources into a `Report`.

    from rag_otel.analysis.sources import load, source_of

    source_of("chdb:///var/lib/traces").name      # "clickhouse"
    report = load(["spans.jsonl", "more.json.gz"])
    report = load(["clickhouse://127.0.0.1/otel?since=1h"], service="faq-bot")

`SOURCES` is the one table: a row per kind of source, matched by URL scheme prefix, in
order; whatever no row claims (files, ``-``, Jaeger and Phoenix URLs) is spans. Each row
says how its sources become a `Report`, by one of two routes:

- spans into the `report.Analyzer` (files, stdin, a live Jaeger or Phoenix:
  `pipeline.analyze_sources`, on several cores for large files);
- the store computes the statistics and a sample of traces goes through the same
  `Analyzer` (ClickHouse and chDB: `clickhouse.analyze_clickhouse`, `store.store_report`);
  Prometheus histograms give percentiles only (`prometheus.analyze_prometheus`).

Renderers, `compare` and plots get the same `Report` whichever row made it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rag_otel.analysis.model import Diagnostics, InputError
from rag_otel.analysis.overrides import KindMap
from rag_otel.analysis.prometheus import PREFIX as PROMETHEUS
from rag_otel.analysis.report import Report
from rag_otel.analysis.whatif import Change


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line passes to every source (each uses what applies to it)."""

    format: str | None = None
    all_spans: bool = False
    service: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int | None = None
    diagnostics: Diagnostics | None = None
    keep_attributes: bool = False
    """Keep every span attribute (the HTML report's waterfalls show them)."""
    stage_key: str | None = None
    """`--stage-key`: name stages by this attribute's value (spans only)."""
    kind_map: KindMap = ()
    """`--kind-map`: kinds by glob on a stage's name or type (spans only)."""
    what_if: tuple[Change, ...] = ()
    """`--what-if`: changes to predict on the turn trees (`whatif.parse_change`)."""

    def spans_only(self, source: str) -> None:
        """`InputError` when an option that needs every span is given to a store source."""
        for given, flag in (
            (self.all_spans, "--all-spans"),
            (self.stage_key is not None, "--stage-key"),
            (bool(self.kind_map), "--kind-map"),
        ):
            if given:
                raise InputError(source, None, f"{flag} needs spans; not available for this source")


Loader = Callable[[Sequence[str], Options], Report]


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    prefixes: tuple[str, ...]
    """URL scheme prefixes this row claims (empty: the fallback, spans)."""
    load: Loader
    spans: bool
    """The report carries span durations (plots need them)."""
    alone: bool
    """Analysed one at a time, not mixed with other sources."""
    example: str = ""
    """How its URLs start, for messages."""


def _spans(sources: Sequence[str], o: Options) -> Report:
    from rag_otel.analysis.pipeline import analyze_sources

    return analyze_sources(
        sources,
        format=o.format,
        all_spans=o.all_spans,
        diagnostics=o.diagnostics,
        service=o.service,
        since=o.since,
        until=o.until,
        limit=o.limit,
        keep_attributes=o.keep_attributes,
        stage_key=o.stage_key,
        kind_map=o.kind_map,
        what_if=o.what_if,
    )


def _prometheus(sources: Sequence[str], o: Options) -> Report:
    from rag_otel.analysis.prometheus import analyze_prometheus

    o.spans_only(sources[0])
    if o.what_if:
        raise InputError(
            sources[0],
            None,
            "--what-if needs trace trees; a prometheus+ source has only histograms",
        )
    return analyze_prometheus(sources[0], since=o.since, until=o.until, service=o.service)


def _clickhouse(sources: Sequence[str], o: Options) -> Report:
    from rag_otel.analysis.clickhouse import analyze_clickhouse

    o.spans_only(sources[0])
    return analyze_clickhouse(
        sources[0],
        since=o.since,
        until=o.until,
        service=o.service,
        limit=o.limit,
        diagnostics=o.diagnostics,
        what_if=o.what_if,
    )


SOURCES: tuple[Source, ...] = (
    Source("prometheus", (PROMETHEUS,), _prometheus, False, True, f"{PROMETHEUS}http://"),
    Source(
        "clickhouse",
        ("clickhouse://", "chdb://"),
        _clickhouse,
        True,
        True,
        "clickhouse:// or chdb://",
    ),
    Source("spans", (), _spans, True, False, "file"),
)
"""The table: first row whose prefix a source starts with; else the last (spans)."""


def source_of(text: str) -> Source:
    for source in SOURCES:
        if source.prefixes and text.startswith(source.prefixes):
            return source
    return SOURCES[-1]


def load(sources: Sequence[str], options: Options | None = None, **kwargs: Any) -> Report:
    """Sources of one kind to a `Report`; `InputError` for sources that do not mix (a store
    or Prometheus source is analysed on its own), or the loader's own."""
    options = options if options is not None else Options(**kwargs)
    kinds = {source_of(s) for s in sources}
    source = source_of(sources[0])
    if len(kinds) > 1 or (source.alone and len(sources) != 1):
        raise InputError(
            ", ".join(sources),
            None,
            f"expected one {source.example} source on its own ({source.name} and other "
            "sources are analysed separately)",
        )
    return source.load(sources, options)
