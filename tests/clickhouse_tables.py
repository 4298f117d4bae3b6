"""`otel_traces` tables as the Collector's contrib ``clickhouseexporter`` makes and fills them.

The DDL is the exporter's own (``exporter/clickhouseexporter``): `CURRENT` from
``internal/sqltemplates/traces_table.sql`` (Duration UInt64, ScopeName/ScopeVersion, ordered by
ServiceName, SpanName, time), `OLDER` from ``exporter_traces.go`` before the templates moved
out (Duration Int64, no scope columns, the scope in SpanAttributes as ``otel.scope.name``).

Rows follow the exporter's value mapping (``pushTraceData``): ids as lower-case hex, SpanKind
and StatusCode as pdata writes them (current ``Server`` / ``Error``; older, through
``traceutil.SpanKindStr`` / ``StatusCodeStr``, ``SPAN_KIND_SERVER`` / ``STATUS_CODE_ERROR``),
attributes as ``Map(String, String)`` of ``pcommon.Value.AsString()`` (ints in decimal, bools
``true``/``false``, lists and maps as JSON), Duration = end - start in ns, Events as the
Nested (Timestamp, Name, Attributes) arrays.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

CURRENT = """CREATE TABLE IF NOT EXISTS {db}.{table} (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
SETTINGS index_granularity=8192, ttl_only_drop_parts = 1"""

OLDER = """CREATE TABLE IF NOT EXISTS {db}.{table} (
     Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
     TraceId String CODEC(ZSTD(1)),
     SpanId String CODEC(ZSTD(1)),
     ParentSpanId String CODEC(ZSTD(1)),
     TraceState String CODEC(ZSTD(1)),
     SpanName LowCardinality(String) CODEC(ZSTD(1)),
     SpanKind LowCardinality(String) CODEC(ZSTD(1)),
     ServiceName LowCardinality(String) CODEC(ZSTD(1)),
     ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
     SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
     Duration Int64 CODEC(ZSTD(1)),
     StatusCode LowCardinality(String) CODEC(ZSTD(1)),
     StatusMessage String CODEC(ZSTD(1)),
     Events Nested (
         Timestamp DateTime64(9),
         Name LowCardinality(String),
         Attributes Map(LowCardinality(String), String)
     ) CODEC(ZSTD(1)),
     Links Nested (
         TraceId String,
         SpanId String,
         TraceState String,
         Attributes Map(LowCardinality(String), String)
     ) CODEC(ZSTD(1)),
     INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
     INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE MergeTree()
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toUnixTimestamp(Timestamp), TraceId)
SETTINGS index_granularity=8192, ttl_only_drop_parts = 1"""

DDL = {"current": CURRENT, "older": OLDER}
_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
_OLD_KINDS = tuple(
    f"SPAN_KIND_{k.upper()}"
    for k in ("unspecified", "internal", "server", "client", "producer", "consumer")
)
_STATUS = ("Unset", "Ok", "Error")
_OLD_STATUS = ("STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR")


def _hex(value: Any) -> str:
    if not value:
        return ""
    text = str(value)
    try:
        int(text, 16)
    except ValueError:
        return base64.b64decode(text).hex()
    return text.lower()


def _any_value(v: dict[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "intValue", "doubleValue"):
        if key in v:
            return v[key] if key != "intValue" else int(v[key])
    if "arrayValue" in v:
        return [_any_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return {
            kv["key"]: _any_value(kv.get("value", {})) for kv in v["kvlistValue"].get("values", [])
        }
    return ""


def as_string(value: Any) -> str:
    """``pcommon.Value.AsString()``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return json.dumps(value, separators=(",", ":"))


def _attrs(kvs: Iterable[dict[str, Any]] | None) -> dict[str, str]:
    return {kv["key"]: as_string(_any_value(kv.get("value", {}))) for kv in kvs or ()}


def rows_from_otlp(paths: Iterable[Path], encoding: str) -> Iterator[dict[str, Any]]:
    """Exporter rows of every span in OTLP JSON (lines) files."""
    older = encoding == "older"
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            for rs in json.loads(line).get("resourceSpans", []):
                res = _attrs(rs.get("resource", {}).get("attributes"))
                for ss in rs.get("scopeSpans", []):
                    scope = ss.get("scope", {}) or {}
                    for s in ss.get("spans", []):
                        yield _row(s, res, scope, older)


def _row(
    s: dict[str, Any], res: dict[str, str], scope: dict[str, Any], older: bool
) -> dict[str, Any]:
    start, end = int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])
    attrs = _attrs(s.get("attributes"))
    kind = int(s.get("kind", 0))
    code = int((s.get("status") or {}).get("code", 0))
    row: dict[str, Any] = {
        "Timestamp": _time(start),
        "TraceId": _hex(s["traceId"]),
        "SpanId": _hex(s["spanId"]),
        "ParentSpanId": _hex(s.get("parentSpanId")),
        "TraceState": s.get("traceState", ""),
        "SpanName": s.get("name", ""),
        "SpanKind": (_OLD_KINDS if older else _KINDS)[kind],
        "ServiceName": res.get("service.name", ""),
        "ResourceAttributes": res,
        "SpanAttributes": attrs,
        "Duration": end - start,
        "StatusCode": (_OLD_STATUS if older else _STATUS)[code],
        "StatusMessage": (s.get("status") or {}).get("message", ""),
        "Events.Timestamp": [_time(int(e.get("timeUnixNano", 0))) for e in s.get("events", [])],
        "Events.Name": [e.get("name", "") for e in s.get("events", [])],
        "Events.Attributes": [_attrs(e.get("attributes")) for e in s.get("events", [])],
        "Links.TraceId": [],
        "Links.SpanId": [],
        "Links.TraceState": [],
        "Links.Attributes": [],
    }
    if older:
        if scope.get("name"):
            attrs["otel.scope.name"] = scope["name"]
        if scope.get("version"):
            attrs["otel.scope.version"] = scope["version"]
    else:
        row["ScopeName"] = scope.get("name", "")
        row["ScopeVersion"] = scope.get("version", "")
    return row


def _time(ns: int) -> str:
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp}.{frac:09d}"


def create_and_load(
    query: Any, db: str, table: str, encoding: str, rows: Iterable[dict[str, Any]]
) -> int:
    """Create ``db.table`` with the exporter's DDL and insert ``rows``; ``query(sql)`` runs one
    statement. Returns the rows inserted."""
    query(f"CREATE DATABASE IF NOT EXISTS {db}")
    query(DDL[encoding].format(db=db, table=table))
    batch: list[str] = []
    n = 0
    for row in rows:
        batch.append(json.dumps(row))
        n += 1
        if len(batch) == 5000:
            query(f"INSERT INTO {db}.{table} FORMAT JSONEachRow\n" + "\n".join(batch))
            batch.clear()
    if batch:
        query(f"INSERT INTO {db}.{table} FORMAT JSONEachRow\n" + "\n".join(batch))
    return n
