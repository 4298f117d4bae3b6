"""Per-stage percentiles from Prometheus: the analysis at fleet scale, from histograms.

    rag-otel analyze prometheus+http://127.0.0.1:9090 --since 1h
    rag-otel analyze prometheus+http://127.0.0.1:9090 --since 30m --service faq-bot --format json

    from rag_otel.analysis.prometheus import analyze_prometheus
    report = analyze_prometheus("prometheus+http://127.0.0.1:9090", since="1h")

The source is a Prometheus base URL prefixed with ``prometheus+``. Two kinds of histograms
are read, whichever the server has (in this order):

* rag-otel's own (``configure(metrics=...)``, scraped from ``/metrics`` or sent over OTLP
  through a Collector): ``rag_stage_duration_seconds_bucket`` by ``rag_stage`` and
  ``gen_ai_invoke_workflow_duration_seconds_bucket``; errors are the series with an ``error_type``;
  ``--service`` matches the ``job`` label; the time to first token (the ``(first token)``
  row) from ``rag_turn_time_to_first_chunk_seconds_bucket``;
* the Collector's span metrics (``span_metrics`` connector with the ``rag.stage`` dimension):
  ``traces_span_metrics_duration_milliseconds_bucket`` by ``rag_stage``, turns as
  ``span_name="rag.turn"``; errors have ``status_code="STATUS_CODE_ERROR"``; ``--service``
  matches ``service_name``.

Per stage, for q in 0.5, 0.9, 0.95, 0.99 (``/api/v1/query`` at ``--until``, default now)::

    histogram_quantile(q, sum by (le, rag_stage) (rate(<metric>_bucket{...}[<since>])))

plus the count (``increase`` of ``_count``), the mean (``_sum`` / ``_count``) and the errors.
``histogram_quantile`` interpolates linearly inside the bucket holding the quantile, so a
value is exact to within that bucket's width (rag-otel's default buckets: at most 25% apart).
Histograms hold no maximum and no trace structure: the report has no max column, no turn
counts per stage and no critical-path shares, and says that those need traces.
"""

from __future__ import annotations

import json
import math
import time
import urllib.parse
from dataclasses import dataclass, replace
from typing import Any, Final

from rag_otel import semconv as sc
from rag_otel.analysis.critical_path import BAND_HALF_WIDTH, Shares
from rag_otel.analysis.isotime import iso_ns, parse_duration_ns
from rag_otel.analysis.model import Diagnostics, InputError
from rag_otel.analysis.readers.http_get import HttpGet
from rag_otel.analysis.report import FIRST_TOKEN_ROW, TURN_ROW, Attributions, Report
from rag_otel.analysis.stats import QUANTILES, LatencyStats
from rag_otel.analysis.verdict import Verdict

PREFIX: Final = "prometheus+"
DEFAULT_SINCE: Final = "1h"
DEFAULT_TIMEOUT: Final = 10.0


def _label(attribute: str) -> str:
    """An attribute name as the Prometheus exporters spell it as a label."""
    return attribute.replace(".", "_")


STAGE_LABEL: Final = _label(sc.RAG_STAGE)
KIND_LABEL: Final = _label(sc.RAG_STAGE_KIND)
ERROR_LABEL: Final = _label(sc.ERROR_TYPE)


@dataclass(frozen=True)
class Family:
    """Where the durations live on the server, and how its series are told apart."""

    name: str
    stage_metric: str
    """Base name of the stage histogram (``_bucket``, ``_sum``, ``_count`` appended)."""
    turn_metric: str
    stage_selector: str
    turn_selector: str
    error_selector: str
    service_label: str
    to_ms: float
    first_token_metric: str | None = None
    """Base name of the turns' time-to-first-token histogram, where the family has one."""


OURS: Final = Family(
    name="rag-otel duration histograms",
    stage_metric=sc.METRIC_STAGE_DURATION.replace(".", "_") + "_seconds",
    turn_metric=sc.METRIC_TURN_DURATION.replace(".", "_") + "_seconds",
    stage_selector="",
    turn_selector="",
    error_selector=f'{ERROR_LABEL}!=""',
    service_label="job",
    to_ms=1000.0,
    first_token_metric=sc.METRIC_TURN_TIME_TO_FIRST_CHUNK.replace(".", "_") + "_seconds",
)
SPAN_METRICS: Final = Family(
    name="Collector span metrics",
    stage_metric="traces_span_metrics_duration_milliseconds",
    turn_metric="traces_span_metrics_duration_milliseconds",
    stage_selector=f'{STAGE_LABEL}!=""',
    turn_selector=f'span_name="{sc.TURN_SPAN_NAME}"',
    error_selector='status_code="STATUS_CODE_ERROR"',
    service_label="service_name",
    to_ms=1.0,
)
FAMILIES: Final = (OURS, SPAN_METRICS)

PERCENTILE_METHOD: Final = (
    "Prometheus histogram_quantile over rate(..._bucket[{window}]): linear interpolation "
    "inside the bucket holding the quantile, exact to within that bucket's width"
)
NO_WHAT_IF_LINE: Final = (
    "what if: not available — it re-lays each turn's trace tree, and a prometheus+ source "
    "has only histograms (analyze trace files or a trace store for it)"
)
"""The one line the report gives instead of the what-if table."""
NO_TRACES_LINE: Final = (
    "critical-path shares need traces: histograms say how long each stage takes, not what "
    "the turn waited on. Run rag-otel analyze on spans (a file or a Jaeger URL) to name the "
    "stage to optimise next."
)


class _Api:
    """``GET /api/v1/query`` through the analysis's HTTP client (`readers.http_get`);
    every failure becomes one InputError naming the source."""

    def __init__(self, source: str, timeout: float) -> None:
        self.source = source
        base = source[len(PREFIX) :].rstrip("/")
        parts = urllib.parse.urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(
                source, None, "expected prometheus+http://HOST:PORT (a Prometheus base URL)"
            )
        self.client = HttpGet(
            base,
            timeout=timeout,
            peer="Prometheus",
            server="a reachable Prometheus HTTP API",
            source=source,
        )

    def query(self, promql: str, at: float) -> list[dict[str, Any]]:
        """The instant vector ``promql`` evaluates to at time ``at`` (seconds)."""
        status, body, _ = self.client.get("/api/v1/query", {"query": promql, "time": f"{at:.3f}"})
        if status != 200:
            raise InputError(
                self.source,
                None,
                f"expected a Prometheus query answer, got HTTP {status}{_api_error(body)}",
            )
        try:
            obj = json.loads(body)
        except ValueError:
            raise InputError(
                self.source, "/api/v1/query", f"expected JSON, got {body[:60]!r}"
            ) from None
        data = obj.get("data") if isinstance(obj, dict) else None
        if (
            not isinstance(obj, dict)
            or obj.get("status") != "success"
            or not isinstance(data, dict)
        ):
            raise InputError(
                self.source,
                "/api/v1/query",
                'expected {"status": "success", "data": {...}}' + _api_error(body),
            )
        if data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise InputError(
                self.source, "/api/v1/query", "expected an instant vector (resultType vector)"
            )
        result: list[dict[str, Any]] = data["result"]
        return result


def _api_error(body: bytes) -> str:
    try:
        obj = json.loads(body)
    except ValueError:
        return ""
    if isinstance(obj, dict) and obj.get("error"):
        return f" ({obj.get('errorType', 'error')}: {obj['error']})"
    return ""


def _seconds_ago(text: str, option: str, source: str) -> float:
    ns = parse_duration_ns(text)
    if ns is None or ns <= 0:
        raise InputError(
            source, None, f"option {option}: expected a duration such as 1h or 30m, got {text!r}"
        )
    return ns / 1e9


def _time(text: str | None, source: str) -> float:
    """``--until``: now, a duration ago (``10m``), or an RFC 3339 time; epoch seconds."""
    now = time.time()
    if text is None:
        return now
    try:
        return iso_ns(text) / 1e9
    except ValueError:
        return now - _seconds_ago(text, "--until", source)


def _window(since: str | None, until: float, source: str) -> int:
    """``--since`` as a PromQL range in whole seconds: a duration, or an RFC 3339 start."""
    text = since or DEFAULT_SINCE
    try:
        start = iso_ns(text) / 1e9
    except ValueError:
        seconds = _seconds_ago(text, "--since", source)
    else:
        seconds = until - start
        if seconds <= 0:
            raise InputError(source, None, f"option --since: {text!r} is not before --until")
    return max(1, math.ceil(seconds))


def _selector(*parts: str) -> str:
    inner = ",".join(p for p in parts if p)
    return "{" + inner + "}" if inner else ""


def _by_stage(rows: list[dict[str, Any]], label: str | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in rows:
        metric = row.get("metric") or {}
        key = TURN_ROW if label is None else str(metric.get(label, ""))
        try:
            value = float(row["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if not math.isnan(value):
            out[key] = value
    return out


@dataclass
class _Series:
    count: dict[str, float]
    errors: dict[str, float]
    mean: dict[str, float]
    quantiles: dict[float, dict[str, float]]
    kinds: dict[str, str]


def _collect(
    api: _Api, metric: str, selector: str, err: str, label: str | None, window: int, at: float
) -> _Series:
    by = f"le, {label}" if label else "le"
    group = f" by ({label})" if label else ""
    rng = f"[{window}s]"
    sel = _selector(selector)
    count = _by_stage(api.query(f"sum{group} (increase({metric}_count{sel}{rng}))", at), label)
    errors = _by_stage(
        api.query(f"sum{group} (increase({metric}_count{_selector(selector, err)}{rng}))", at),
        label,
    )
    mean = _by_stage(
        api.query(
            f"sum{group} (rate({metric}_sum{sel}{rng})) / sum{group} (rate({metric}_count{sel}{rng}))",
            at,
        ),
        label,
    )
    quantiles = {
        q: _by_stage(
            api.query(
                f"histogram_quantile({q}, sum by ({by}) (rate({metric}_bucket{sel}{rng})))", at
            ),
            label,
        )
        for q in QUANTILES
    }
    kinds: dict[str, str] = {}
    if label:
        for row in api.query(
            f"count by ({label}, {KIND_LABEL}) (count_over_time({metric}_count{sel}{rng}))", at
        ):
            m = row.get("metric") or {}
            if m.get(KIND_LABEL):
                kinds[str(m.get(label, ""))] = str(m[KIND_LABEL])
    return _Series(count, errors, mean, quantiles, kinds)


def _stats(name: str, s: _Series, to_ms: float) -> LatencyStats:
    count = round(s.count.get(name, 0.0))

    def ms(values: dict[str, float]) -> float | None:
        v = values.get(name)
        return None if v is None or math.isinf(v) else v * to_ms

    p50, p90, p95, p99 = (ms(s.quantiles[q]) for q in QUANTILES)
    return LatencyStats(
        name=name,
        count=count,
        turns=0,
        timed=count,
        errors=round(s.errors.get(name, 0.0)),
        mean_ms=ms(s.mean),
        p50_ms=p50,
        p90_ms=p90,
        p95_ms=p95,
        p99_ms=p99,
        max_ms=None,
    )


def analyze_prometheus(
    source: str,
    *,
    since: str | None = None,
    until: str | None = None,
    service: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    diagnostics: Diagnostics | None = None,
) -> Report:
    """Per-stage and per-turn latency over ``since`` (default 1h) up to ``until`` (default now)
    from a Prometheus server, as a `Report` (no critical-path shares: those need traces).

    Raises `InputError` (one line, naming the source) when the server cannot be reached,
    answers something else than the query API, or holds neither kind of histogram."""
    diagnostics = diagnostics if diagnostics is not None else Diagnostics()
    api = _Api(source, timeout)
    at = _time(until, source)
    window = _window(since, at, source)
    for family in FAMILIES:
        service_sel = f'{family.service_label}="{_escape(service)}"' if service else ""
        stage_sel = ",".join(p for p in (family.stage_selector, service_sel) if p)
        stages = _collect(
            api, family.stage_metric, stage_sel, family.error_selector, STAGE_LABEL, window, at
        )
        if any(v > 0 for v in stages.count.values()):
            break
    else:
        where = f" for {_service_hint(service)}" if service else ""
        raise InputError(
            source,
            None,
            f"expected {OURS.stage_metric} or {SPAN_METRICS.stage_metric} histograms with "
            f"samples in the last {window}s{where}, found none",
        )
    turn_sel = ",".join(p for p in (family.turn_selector, service_sel) if p)
    turns = _collect(api, family.turn_metric, turn_sel, family.error_selector, None, window, at)
    first_token = None
    if family.first_token_metric is not None:  # the (first token) row: turns that streamed
        ttft = _collect(
            api, family.first_token_metric, service_sel, family.error_selector, None, window, at
        )
        first_token = replace(
            _stats(TURN_ROW, ttft, family.to_ms),
            name=FIRST_TOKEN_ROW,
            turns=round(turns.count.get(TURN_ROW, 0.0)),
        )

    order: dict[str, int] = {kind: i for i, kind in enumerate(sc.STAGE_KINDS)}
    names = sorted(
        (n for n, c in stages.count.items() if c > 0 and n),
        key=lambda n: (order.get(stages.kinds.get(n, "other"), len(order)), n),
    )
    stage_stats = [_stats(n, stages, family.to_ms) for n in names]
    turn_stats = _stats(TURN_ROW, turns, family.to_ms)
    if turn_stats.count == 0:
        diagnostics.warn("no-turn-histogram", f"no {family.turn_metric} samples in the window")
    empty = Shares(0, 0, {}, 0.0)
    lines = [NO_TRACES_LINE]
    slowest = max(
        (s for s in stage_stats if s.p95_ms is not None),
        key=lambda s: s.p95_ms or 0.0,
        default=None,
    )
    if slowest is not None:
        lines.append(
            f"largest p95 from {family.name}: {slowest.name} ({slowest.p95_ms:.1f} ms); "
            "a stage that runs in parallel with another may not be on the critical path"
        )
    verdict = Verdict(None, 0.0, None, 0.0, None, None, tuple(lines))
    return Report(
        stages=stage_stats,
        turn=turn_stats,
        attribution=Attributions(empty, empty, empty, band_half_width=BAND_HALF_WIDTH),
        verdict=verdict,
        diagnostics=diagnostics,
        percentile_method=PERCENTILE_METHOD.format(window=f"{window}s")
        + f"; {family.name} ({family.stage_metric}); no max, no per-stage turn counts",
        sources=[source],
        first_token=first_token,
        what_if_note=NO_WHAT_IF_LINE,
    )


def _service_hint(service: str | None) -> str:
    return f"service {service!r} (label job or service_name)"


def _escape(value: str | None) -> str:
    return (value or "").replace("\\", "\\\\").replace('"', '\\"')
