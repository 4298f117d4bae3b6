"""ClickHouse ``otel_traces`` as a source: the analysis runs in the store, a sample comes back.

    from rag_otel.analysis.clickhouse import analyze_clickhouse

    report = analyze_clickhouse("clickhouse://default@127.0.0.1:8123/otel?since=1h")
    report = analyze_clickhouse("chdb:///var/lib/traces?database=otel&service=faq-bot")

URLs:

- ``clickhouse://[USER[:PASSWORD]@]HOST[:PORT]/[DATABASE][?table=&secure=1&since=&until=&service=&limit=&sample=]``:
  the HTTP interface through ``clickhouse-connect`` (port 8123, 8443 with ``secure=1``; the
  password may come from ``CLICKHOUSE_PASSWORD``);
- ``chdb:///PATH/TO/DATADIR[?database=&table=&...]``: embedded chDB on a data directory.

The table defaults to ``otel_traces``, looked for in ``otel`` then ``default``. ``since``,
``until`` (a duration ago such as ``1h``, or an RFC 3339 time), ``service`` and ``limit``
(at most N traces) go into the WHERE clause; options passed in (the CLI's ``--since`` ...)
win over the URL's. ``sample`` (default `DEFAULT_SAMPLE`) bounds the traces whose spans
are fetched for the critical path and the verdict.

The statistics come from one query (`clickhouse_sql.aggregate_sql`) over all the spans; the
client holds its result (a row per stage) and the spans of the sampled traces, whatever
the table's size. chDB allows one session per process: `_chdb_session` keeps one, and
opening another data directory closes it first.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from rag_otel.analysis import clickhouse_sql as q
from rag_otel.analysis.conventions import RECOGNITION_KEYS
from rag_otel.analysis.first_token import ATTRIBUTES as FIRST_CHUNK_ATTRIBUTES
from rag_otel.analysis.model import Diagnostics, InputError, Span
from rag_otel.analysis.readers.common import (
    EVENT_NAMES,
    OTLP_SPAN_KINDS,
    SPAN_KINDS,
    ReadState,
    finish_span,
)
from rag_otel.analysis.report import FIRST_TOKEN_ROW, TURN_ROW, Analyzer, Report
from rag_otel.analysis.store import Aggregate, store_report
from rag_otel.analysis.whatif import Change

DEFAULT_TABLE: Final = "otel_traces"
DEFAULT_DATABASES: Final = ("otel", "default")
DEFAULT_SAMPLE: Final = 2000
FETCH_TRACES: Final = 5000
"""Sampled traces fetched per query. Each query reads every granule of the table (a uniform
sample has spans in all of them), so the default sample is one query."""
CONNECT_TIMEOUT_S: Final = 10
REQUIRED: Final[dict[str, str]] = {
    "Timestamp": "DateTime64",
    "TraceId": "String",
    "SpanId": "String",
    "ParentSpanId": "String",
    "SpanName": "String",
    "SpanKind": "String",
    "ServiceName": "String",
    "SpanAttributes": "Map",
    "Duration": "Int",
    "StatusCode": "String",
    "Events.Timestamp": "Array(DateTime64",
    "Events.Name": "Array(",
}
"""The columns the queries read, and a piece of the type each must have."""

_SPAN_KINDS: Final[dict[str | None, int]] = {
    **OTLP_SPAN_KINDS,
    **{name.capitalize(): kind for name, kind in SPAN_KINDS.items()},
}
"""SpanKind as the exporter writes it: ``Server`` (current) or ``SPAN_KIND_SERVER`` (older)."""
_ERROR: Final = frozenset(("Error", "STATUS_CODE_ERROR"))
_FETCH_KEYS: Final = RECOGNITION_KEYS | FIRST_CHUNK_ATTRIBUTES

Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class Target:
    """A parsed ``clickhouse://`` or ``chdb://`` URL (the password never in `label`)."""

    url: str
    label: str
    embedded: bool
    host: str = ""
    port: int = 0
    secure: bool = False
    user: str = "default"
    password: str = ""
    path: str = ""
    database: str | None = None
    table: str = DEFAULT_TABLE
    params: Mapping[str, str] = field(default_factory=dict)


def parse_url(url: str, env: Mapping[str, str] = os.environ) -> Target:
    """A `Target`; `InputError` for a URL that is not one, or a bad name in it."""
    parts = urllib.parse.urlsplit(url)
    params = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query).items()}
    bad = set(params) - {
        "table",
        "database",
        "secure",
        "since",
        "until",
        "service",
        "limit",
        "sample",
    }
    if bad:
        raise InputError(
            url,
            None,
            f"unknown URL parameter {sorted(bad)[0]!r} (expected table, "
            "database, secure, since, until, service, limit, sample)",
        )
    table = params.get("table", DEFAULT_TABLE)
    _check_name(url, table, "table")
    if parts.scheme == "chdb":
        path = urllib.parse.unquote(parts.netloc + parts.path)
        if not path:
            raise InputError(url, None, "expected chdb:///PATH/TO/DATADIR")
        database = params.get("database")
        if database is not None:
            _check_name(url, database, "database")
        return Target(url, url, True, path=path, database=database, table=table, params=params)
    secure = params.get("secure", "0").lower() in ("1", "true", "yes")
    try:
        port = parts.port or (8443 if secure else 8123)
    except ValueError:
        raise InputError(url, None, "expected a port number after the host") from None
    host = parts.hostname or ""
    if not host:
        raise InputError(
            url, None, "expected clickhouse://[USER[:PASSWORD]@]HOST[:PORT]/[DATABASE]"
        )
    database = parts.path.strip("/") or params.get("database")
    if database:
        _check_name(url, database, "database")
    user = urllib.parse.unquote(parts.username) if parts.username else "default"
    password = (
        urllib.parse.unquote(parts.password)
        if parts.password is not None
        else env.get("CLICKHOUSE_PASSWORD", "")
    )
    label = f"clickhouse://{user}@{host}:{port}/{database or ''}"
    return Target(
        url, label, False, host, port, secure, user, password, "", database or None, table, params
    )


def _check_name(url: str, name: str, what: str) -> None:
    try:
        q.identifier(name)
    except ValueError as exc:
        raise InputError(url, None, f"{what}: {exc}") from None


# --- connections -----------------------------------------------------------------------------

Query = Callable[[str], Rows]
_CHDB: dict[str, Any] = {}


def _chdb_session(path: str) -> Any:
    """The process's one chDB session, on ``path`` (another path closes the previous one).
    `InputError` when another process has the directory open (chDB locks it)."""
    try:
        import chdb.session
    except ImportError:
        raise InputError(
            f"chdb://{path}",
            None,
            "chdb:// needs the clickhouse extra: pip install 'rag-otel[clickhouse]'",
        ) from None
    if _CHDB.get("path") != path:
        close_chdb()
        if not _CHDB.get("atexit"):
            # closed before the interpreter exits: left open (above all after use from other
            # threads) chDB's own shutdown can crash the process after its work is done
            atexit.register(close_chdb)
            _CHDB["atexit"] = True
        try:
            session: Any = chdb.session.Session  # untyped
            _CHDB["session"] = session(path)
        except Exception as exc:  # chDB raises RuntimeError subclasses of its own
            reason = "in use by another process" if "Cannot lock" in str(exc) else _first_line(exc)
            raise InputError(
                f"chdb://{path}", None, f"cannot open the chDB data directory: {reason}"
            ) from None
        _CHDB["path"] = path
    return _CHDB["session"]


def close_chdb() -> None:
    """Close the process's chDB session, if any (another process may then open its directory)."""
    old = _CHDB.pop("session", None)
    _CHDB.pop("path", None)
    if old is not None:
        old.close()


def connect(target: Target) -> Query:
    """A function running one query and returning its rows; `InputError` when the store
    cannot be reached or refuses the credentials (when connecting, or at the first query)."""
    if target.embedded:
        if not os.path.isdir(target.path):
            raise InputError(target.label, None, f"no chDB data directory at {target.path}")
        session = _chdb_session(target.path)

        def run_chdb(sql: str) -> Rows:
            try:
                result = session.query(sql, "JSONCompact")
            except Exception as exc:  # chdb raises its own RuntimeError subclasses
                raise InputError(target.label, None, _first_line(exc)) from None
            text = result.bytes() if hasattr(result, "bytes") else bytes(result)
            if not text:
                return []
            return [tuple(r) for r in json.loads(text)["data"]]

        return run_chdb
    try:
        import clickhouse_connect
        from clickhouse_connect.driver.exceptions import ClickHouseError
    except ImportError:
        raise InputError(
            target.label,
            None,
            "clickhouse:// needs the clickhouse extra: pip install 'rag-otel[clickhouse]'",
        ) from None
    try:
        client = clickhouse_connect.get_client(
            host=target.host,
            port=target.port,
            username=target.user,
            password=target.password,
            secure=target.secure,
            connect_timeout=CONNECT_TIMEOUT_S,
            send_receive_timeout=300,
            autogenerate_session_id=False,
            settings={"output_format_json_quote_64bit_integers": 0},
        )
    except ClickHouseError as exc:
        raise InputError(target.label, None, _connect_error(exc, target)) from None

    def run_http(sql: str) -> Rows:
        try:
            return [tuple(r) for r in client.query(sql).result_rows]
        except ClickHouseError as exc:
            raise InputError(target.label, None, _connect_error(exc, target)) from None

    return run_http


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _connect_error(exc: BaseException, target: Target) -> str:
    text = str(exc)
    if "Code: 516" in text or "AUTHENTICATION_FAILED" in text or "Authentication failed" in text:
        return f"wrong user or password for {target.user!r} (ClickHouse refused the credentials)"
    if any(
        s in text
        for s in (
            "Connection refused",
            "Failed to resolve",
            "timed out",
            "Max retries",
            "Name or service",
        )
    ):
        return f"cannot connect to {target.host}:{target.port} over HTTP{'S' if target.secure else ''} ({_first_line(exc)})"
    return _first_line(exc)


# --- the table and its schema -------------------------------------------------------------------


def find_table(query: Query, target: Target) -> str:
    """The database holding the table: the URL's, else `DEFAULT_DATABASES` in order.
    `InputError` naming what exists when there is no such database or table."""
    databases = [r[0] for r in query("SELECT name FROM system.databases ORDER BY name")]
    wanted = [target.database] if target.database else [d for d in DEFAULT_DATABASES]
    tables: dict[str, list[str]] = {}
    for db in wanted:
        if db not in databases:
            continue
        tables[db] = [
            r[0]
            for r in query(
                f"SELECT name FROM system.tables WHERE database = {q.literal(db)} ORDER BY name"
            )
        ]
        if target.table in tables[db]:
            return db
    if target.database and target.database not in databases:
        raise InputError(
            target.label,
            None,
            f"no database {target.database!r} (databases: {', '.join(databases) or 'none'})",
        )
    listing = [f"{db}: {', '.join(names[:20]) or 'no tables'}" for db, names in tables.items()]
    where = " or ".join(wanted)
    raise InputError(
        target.label,
        None,
        f"no table {target.table!r} in {where} ({'; '.join(listing) or 'databases: ' + ', '.join(databases)})",
    )


def schema(query: Query, target: Target, database: str) -> str:
    """Which exporter schema the table has, from ``system.columns``: a short description.
    `InputError` naming the missing columns for a table of another schema."""
    rows = query(
        "SELECT name, type FROM system.columns WHERE database = "
        f"{q.literal(database)} AND table = {q.literal(target.table)}"
    )
    types = {str(r[0]): str(r[1]) for r in rows}
    missing = [c for c in REQUIRED if c not in types]
    wrong = [f"{c} ({types[c]})" for c, t in REQUIRED.items() if c in types and t not in types[c]]
    if missing or wrong:
        what = []
        if missing:
            what.append("missing columns " + ", ".join(missing))
        if wrong:
            what.append("columns of another type " + ", ".join(wrong))
        raise InputError(
            target.label,
            None,
            f"{database}.{target.table} is not an OpenTelemetry otel_traces table: {'; '.join(what)}",
        )
    scope = "ScopeName" in types
    duration = types["Duration"]
    era = "current" if scope and "UInt64" in duration else "older"
    return f"clickhouseexporter {era} schema (Duration {duration}, {'with' if scope else 'without'} ScopeName, Map attributes)"


# --- analysis ------------------------------------------------------------------------------------------


def _filters(
    target: Target, url: str, since: object, until: object, service: str | None, limit: int | None
) -> q.Filters:
    from rag_otel.analysis.isotime import option_time_ns

    p = target.params
    now = time.time_ns()
    since = since if since is not None else p.get("since")
    until = until if until is not None else p.get("until")
    limit_text = p.get("limit")
    if limit is None and limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError:
            raise InputError(
                url, None, f"limit: expected a whole number, got {limit_text!r}"
            ) from None
    since_ns = None if since is None else option_time_ns(since, "since", now, target.label)
    until_ns = None if until is None else option_time_ns(until, "until", now, target.label)
    if since_ns is not None and until_ns is not None and since_ns >= until_ns:
        raise InputError(target.label, None, "expected since to be before until")
    return q.Filters(
        since_ns, until_ns, service if service is not None else p.get("service"), limit
    )


_NAME, _TRACES, _SLOWEST, _EXAMPLE = 1, 13, 14, 15
"""Columns of `clickhouse_sql.aggregate_sql`'s rows read by position: the stage name (its
hash), the sampled trace ids and the slowest turn's trace (turn row), a trace holding the
stage (stage rows)."""


def _aggregate(row: tuple[Any, ...]) -> Aggregate:
    """A row's statistics (columns 1 to 12 of `clickhouse_sql.aggregate_sql`)."""
    (name, kind, sources, count, errors, mean, quantiles, mx, turns, offset, offsets, sample) = row[
        _NAME:_TRACES
    ]
    return Aggregate(
        name=str(name),
        count=int(count),
        errors=int(errors),
        turns=int(turns),
        mean_ns=float(mean),
        quantiles_ns=tuple(float(x) for x in quantiles),  # type: ignore[arg-type]
        max_ns=float(mx),
        kind=str(kind) or None,
        source=", ".join(s for s in sources if s) or None,
        offset_ns=float(offset) if int(offsets) else None,
        sample=[int(x) for x in sample],
    )


def _span(row: tuple[Any, ...], state: ReadState) -> Span:
    """A fetched span, recognised and its first chunk read as every reader does
    (`readers.common.finish_span`)."""
    (trace_id, span_id, parent, name, kind, status, service, start, dur, attrs, ev_n, ev_t) = row
    start, dur = int(start), int(dur)
    span = Span(
        str(trace_id),
        str(span_id),
        str(parent) or None,
        str(name),
        start,
        start + dur,
        error=status in _ERROR,
        service=str(service) or None,
        kind=_SPAN_KINDS.get(kind, 0),
    )
    attributes: dict[str, Any] = dict(attrs)
    events = [(n, int(t)) for n, t in zip(ev_n, ev_t, strict=False) if n in EVENT_NAMES]
    return finish_span(span, state, attributes, attributes, events)


def _stage_names(
    query: Query,
    database: str,
    table: str,
    filters: q.Filters,
    stage_rows: Rows,
    seen: set[str],
) -> dict[int, str]:
    """The name of each stage row's hash (`clickhouse_sql.aggregate_sql` with ``hashed``):
    the names the fetched spans were recognised with, hashed in the store (each row's
    example trace is among those spans, and the SQL and Python rules are tested equal);
    any hash still unnamed, from the classification over the table."""
    hashes = {int(r[_NAME]) for r in stage_rows}
    named: dict[int, str] = {}
    if seen:
        named = {int(h): str(n) for n, h in query(q.hash_names_sql(sorted(seen)))}
    missing = hashes - named.keys()
    if missing:
        found = query(q.names_sql(database, table, filters, sorted(missing)))
        named.update({int(h): str(n) for n, h in found})
    return {h: named.get(h, f"stage {h:016x}") for h in hashes}


def analyze_clickhouse(
    url: str,
    *,
    since: object = None,
    until: object = None,
    service: str | None = None,
    limit: int | None = None,
    sample: int | None = None,
    diagnostics: Diagnostics | None = None,
    what_if: Sequence[Change] = (),
) -> Report:
    """The `Report` of a ``clickhouse://`` or ``chdb://`` table (see the module doc).
    ``what_if`` is predicted on the sampled turn trees, like the critical path."""
    target = parse_url(url)
    query = connect(target)
    database = find_table(query, target)  # the URL's database was checked by `parse_url`
    described = schema(query, target, database)
    filters = _filters(target, url, since, until, service, limit)
    size = sample if sample is not None else int(target.params.get("sample", DEFAULT_SAMPLE))
    rows = query(q.aggregate_sql(database, target.table, filters, size, hashed=True))
    if not rows:
        raise InputError(
            target.label,
            None,
            f"expected trace data, found no spans in {database}.{target.table}"
            + (" for these filters" if filters != q.Filters() else ""),
        )
    stage_rows = [r for r in rows if int(r[0]) == q.ROW_STAGE]
    turn_row = next((r for r in rows if int(r[0]) == q.ROW_TURN), None)
    first_row = next((r for r in rows if int(r[0]) == q.ROW_FIRST_TOKEN), None)
    turn = Aggregate.empty(TURN_ROW)
    trace_ids: list[str] = []
    if turn_row is not None:
        turn = dataclasses.replace(_aggregate(turn_row), name=TURN_ROW)
        trace_ids = sorted({str(t) for t in turn_row[_TRACES]} | {str(turn_row[_SLOWEST])})
    first = None
    if first_row is not None:
        found = _aggregate(first_row)
        first = dataclasses.replace(found, name=FIRST_TOKEN_ROW, turns=found.count, source=None)
    diagnostics = diagnostics if diagnostics is not None else Diagnostics()
    analyzer = Analyzer(diagnostics=diagnostics, what_if=what_if)
    state = ReadState(target.label, diagnostics)
    # the sampled traces feed the analyzer; with them come a trace of each stage (its
    # `example`), whose spans name the stage rows' hashes
    sampled = set(trace_ids)
    fetch = sorted(sampled | {str(r[_EXAMPLE]) for r in stage_rows})
    seen: set[str] = set()
    for chunk in range(0, len(fetch), FETCH_TRACES):
        ids = fetch[chunk : chunk + FETCH_TRACES]
        spans = [
            _span(r, state)
            for r in query(q.fetch_sql(database, target.table, filters, ids, _FETCH_KEYS))
        ]
        seen.update(s.stage for s in spans if s.stage is not None)
        analyzer.feed([s for s in spans if s.trace_id in sampled])
    named = _stage_names(query, database, target.table, filters, stage_rows, seen)
    stages = [dataclasses.replace(_aggregate(r), name=named[int(r[_NAME])]) for r in stage_rows]
    label = (
        f"{target.label.rstrip('/')}/{database}.{target.table}"
        if not target.embedded
        else f"{target.label} ({database}.{target.table})"
    )
    return store_report(
        stages,
        turn,
        first,
        analyzer,
        sources=[f"{label}: {described}"],
        sampled_traces=len(trace_ids),
    )
