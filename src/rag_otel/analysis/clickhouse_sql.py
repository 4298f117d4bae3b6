"""The SQL rag-otel runs on an OpenTelemetry ``otel_traces`` table: pure functions of the options.

    from rag_otel.analysis.clickhouse_sql import Filters, aggregate_sql, classify_sql

    print(classify_sql())  # stage recognition: generated from conventions.CONVENTIONS
    print(aggregate_sql("otel", "otel_traces", Filters(service="faq-bot")))

Everything here is generated from the tables the file analysis uses, so the two cannot
drift: the stage and turn recognition from `conventions.CONVENTIONS` (one ``multiIf`` arm
per row, in the same precedence, after rag-otel's own attributes: exact values, then the
globs as ``LIKE`` or an RE2 ``match``, then the default; `SPAN_NAME` rows on ``SpanName``,
``json_values`` rows decoded first) and `conventions.EVENT_CONVENTIONS` (LlamaIndex: the
arm for spans no attribute recognised, from ``Events.Name`` and the span name); the
first-chunk time from the sources, names and tool-call rule (`first_token.shows_answer`)
of `first_token`; the percentiles with ``quantilesExactInclusive`` (type 7, as
`stats.percentile`).

How a trace becomes turns and stages, in SQL (``_TRACE_SQL``; the same rules as
`traces.build_trace`)::

    spans (WHERE time range, service)      one row per span: id hashes, stage, kind,
        |                                  source, turn candidate, first-chunk time
        v  GROUP BY TraceId                (classify_sql, first_chunk_sql)
    one row per trace: arrays              duplicates dropped (first span id kept), parent
        |                                  index (orphans and self-parents are roots), mode:
        |                                  rag.turn spans / outermost candidates / roots,
        |                                  each span's turn by pointer jumping (64 levels;
        |                                  log2(depth) rounds run)
        v  ARRAY JOIN rows
    (row, name, kind, source, ns, error,   row 0 a stage span, 1 a turn, 2 a turn's time
     new turn, offset)                     to first token
        |
        v  GROUP BY row, name              count, errors, mean, p50/p90/p95/p99, max,
                                           turns, mean start offset, a bounded sample

What SQL does not do, and the sampled trees do (`rag_otel.analysis.clickhouse`): the
critical path, the verdict and first-token attribution; parent cycles (the spans on a
cycle are outside any turn here). A first chunk is clamped into its span clipped to the
turn, not to every ancestor (they differ only under clock skew deeper than one level).
Spans are matched to their parents by ``cityHash64`` of the ids: two ids of one trace
with the same 64-bit hash would be taken for one span.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from rag_otel import semconv
from rag_otel.analysis import first_token
from rag_otel.analysis.conventions import (
    CONVENTIONS,
    EVENT_CONVENTIONS,
    OTHER,
    SOURCE_RAG_OTEL,
    SOURCE_TRACE_ROOT,
    SPAN_NAME,
    STAGE_KINDS,
    Convention,
    EventConvention,
    Rule,
)
from rag_otel.analysis.stats import QUANTILES

ATTRS: Final = "SpanAttributes"
ROW_STAGE, ROW_TURN, ROW_FIRST_TOKEN = 0, 1, 2
SAMPLE_CAP: Final = 50_000
"""Durations kept per stage for `compare` and plots (``groupArraySample``, seeded)."""
SEED: Final = 20260101
JUMPS: Final = 6
"""Pointer-jumping rounds: a span's turn is found up to 2**6 = 64 levels above it."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _rules() -> list[Rule]:
    """Every rule of the precedence tables."""
    rules = [r for c in CONVENTIONS for r in (*c.rules.values(), *(r for _, r in c.patterns))]
    rules += [c.default for c in CONVENTIONS if c.default is not None]
    return rules + [r for e in EVENT_CONVENTIONS for r in (*e.events.values(), *e.methods.values())]


KINDS: Final[tuple[str, ...]] = (
    "",
    *sorted(
        {r.kind for r in _rules() if r.kind}
        | {to for e in EVENT_CONVENTIONS for _, _, to in e.class_kinds}
        | {*STAGE_KINDS, OTHER}
    ),
)
"""Every stage kind the classification can give, '' first: a span's kind travels as its
index here (the trace arrays and the rows stay numbers), named again per row at the end."""
SOURCES: Final[tuple[str, ...]] = (
    "",
    *sorted(
        {c.source for c in CONVENTIONS}
        | {e.source for e in EVENT_CONVENTIONS}
        | {SOURCE_RAG_OTEL, SOURCE_TRACE_ROOT}
    ),
)
"""Every source the classification and the turns can give, '' first (as `KINDS`)."""


def identifier(name: str) -> str:
    """A database or table name, back-quoted; ValueError for anything but ``[A-Za-z_]\\w*``."""
    if not _IDENT.fullmatch(name):
        raise ValueError(f"expected a name of letters, digits and _, got {name!r}")
    return f"`{name}`"


def literal(text: str) -> str:
    """A ClickHouse string literal: backslash and quote escaped, so any text stays data."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _strings(values: Iterable[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"


@dataclass(frozen=True, slots=True)
class Filters:
    """What goes into WHERE: a time range (ns since the epoch), a service, at most N traces."""

    since_ns: int | None = None
    until_ns: int | None = None
    service: str | None = None
    limit: int | None = None

    def where(self, table: str) -> str:
        """The WHERE clause (``Timestamp`` and ``ServiceName`` are in the primary key)."""
        parts = ["TraceId != ''"]
        if self.since_ns is not None:
            parts.append(f"Timestamp >= fromUnixTimestamp64Nano(toInt64({self.since_ns}))")
        if self.until_ns is not None:
            parts.append(f"Timestamp <= fromUnixTimestamp64Nano(toInt64({self.until_ns}))")
        if self.service is not None:
            parts.append(f"ServiceName = {literal(self.service)}")
        where = " AND ".join(parts)
        if self.limit is not None:
            limited = f"SELECT DISTINCT TraceId FROM {table} WHERE {where} LIMIT {int(self.limit)}"
            where += f" AND TraceId IN ({limited})"
        return where


# --- stage and turn recognition, from conventions.CONVENTIONS -------------------------------

Row = tuple[str, str, str, str]
"""``(stage, kind, source, turn candidate)`` of a span: one SQL expression each. A
``multiIf`` over rows is one ``multiIf`` per part with the same conditions: ClickHouse
builds a tuple arm of a ``multiIf`` for every span, whatever the conditions (five times
the cost of strings and numbers)."""

_NONE: Final[Row] = ("''", "''", "''", "0")
"""No stage, no turn candidate."""


class _Aliases:
    """Named subexpressions: used by name, each defined (``(expr AS name)``) once, at its
    first use in the assembled SQL (`define`): the query is analysed once per nesting
    level, so an expression written out at each use is paid for at each."""

    def __init__(self) -> None:
        self.definitions: dict[str, str] = {}

    def name(self, alias: str, definition: str) -> str:
        self.definitions[alias] = definition
        return alias

    def define(self, sql: str) -> str:
        # the latest first: a definition uses only names given before it
        for alias, definition in reversed(self.definitions.items()):
            first = re.compile(rf"(?<![\w.`]){alias}(?!\w)")
            found = first.search(sql)
            if found is not None:
                sql = f"{sql[: found.start()]}({definition} AS {alias}){sql[found.end() :]}"
        return sql


def _multi(arms: Sequence[tuple[str, Row]], default: Row) -> Row:
    """``multiIf(condition, row, ..., default)`` part by part."""
    if not arms:
        return default
    name, kind, source, turn = (
        f"multiIf({', '.join(f'{c}, {r[k]}' for c, r in arms)}, {default[k]})" for k in range(4)
    )
    return name, kind, source, turn


def _attr(key: str) -> str:
    return f"{ATTRS}[{literal(key)}]"


def _has(key: str) -> str:
    return f"mapContains({ATTRS}, {literal(key)})"


def _present(keys: Sequence[str]) -> str:
    if SPAN_NAME in keys:
        return "1"
    return " OR ".join(_has(k) for k in keys)


def _value(keys: Sequence[str]) -> str:
    """The first present spelling's value (`Convention.keys`, first present wins)."""
    values = ["SpanName" if k == SPAN_NAME else _attr(k) for k in keys]
    expr = values[-1]
    for key, value in zip(reversed(keys[:-1]), reversed(values[:-1]), strict=True):
        expr = value if key == SPAN_NAME else f"if({_has(key)}, {value}, {expr})"
    return expr


def json_text_sql(value: str) -> str:
    """`conventions.json_text` in SQL: a JSON-encoded string's text, anything else as it is."""
    return (
        f"if(startsWith({value}, '\"') AND isValidJSON({value}) "
        f"AND JSONType({value}) = 'String', JSONExtractString({value}), {value})"
    )


def glob_sql(value: str, pattern: str, *, case: bool = False) -> str:
    """`conventions.glob` in SQL: ``LIKE`` for ``*`` and ``?``, an RE2 match with ``[...]``.

    ``case``: match case-sensitively (the value and the patterns are lower-case already)."""
    if "[" not in pattern:
        like = "".join(
            "%" if c == "*" else "_" if c == "?" else "\\" + c if c in "%_\\" else c
            for c in pattern
        )
        return f"{value} {'LIKE' if case else 'ILIKE'} {literal(like)}"
    regex = fnmatch.translate(pattern)  # (?s:...)\Z: RE2 has no \Z, the rest it reads
    regex = "^" + regex.removesuffix("\\Z") + "$"
    return f"match({value}, {literal(regex if case else '(?i)' + regex)})"


def _row(rule: Rule, source: str, value: str, unrecognised: Row) -> Row:
    """The `Row` of a span a `Rule` reads; ``unrecognised`` for a rule that makes no stage
    (`classify_span` sets no turn candidate then either)."""
    if rule.kind is None:
        return unrecognised
    name = value if rule.value_names else "SpanName"
    for key in reversed(rule.name_keys):
        name = f"if({_attr(key)} != '', {_attr(key)}, {name})"
    return name, literal(rule.kind), literal(source), str(rule.turn)


def _convention(
    convention: Convention, unrecognised: Row, alias: str, aliases: _Aliases
) -> tuple[str, Row]:
    """``(condition, row)`` of one precedence-table row: `classify_span`'s reading of it.
    The value the rules match is computed once, named ``alias``."""
    value = _value(convention.keys)
    if convention.json_values:
        value = json_text_sql(value)
    by_name = SPAN_NAME in convention.keys
    text = (  # what rules and patterns match
        "SpanName"
        if value == "SpanName"
        else aliases.name(alias, value if by_name else f"lowerUTF8({value})")
    )
    condition = f"({_present(convention.keys)})"
    if convention.skip_server_spans:
        condition += " AND SpanKind NOT IN ('Server', 'SPAN_KIND_SERVER')"
    if convention.default is None:
        known = [f"{text} IN {_strings(convention.rules)}"] if convention.rules else []
        known += [glob_sql(text, p, case=not by_name) for p, _ in convention.patterns]
        condition += f" AND ({' OR '.join(known) or '0'})"
    arms = [
        (f"{text} = {literal(v)}", _row(r, convention.source, text, unrecognised))
        for v, r in convention.rules.items()
    ]
    arms += [
        (glob_sql(text, p, case=not by_name), _row(r, convention.source, text, unrecognised))
        for p, r in convention.patterns
    ]
    default = convention.default
    fallback = (
        _row(default, convention.source, text, unrecognised) if default is not None else _NONE
    )
    return condition, _multi(arms, fallback)


def _without_uuid_sql(name: str) -> str:
    """`conventions._without_uuid` in SQL: ``Class.method-<uuid>`` as ``Class.method``."""
    return (
        f"if(lengthUTF8({name}) > 37 AND substringUTF8({name}, -37, 1) = '-' "
        f"AND countSubstrings(substringUTF8({name}, -36), '-') = 4, "
        f"substringUTF8({name}, 1, lengthUTF8({name}) - 37), {name})"
    )


def _events(convention: EventConvention, otherwise: Row, aliases: _Aliases) -> Row:
    """One `EventConvention` in SQL, ``otherwise`` for spans it does not recognise: the first
    event with a stage kind, else the last event without one, else the name's method."""
    source = literal(convention.source)
    stage = aliases.name("event_stage", _without_uuid_sql("SpanName"))
    owner = f"lowerUTF8(splitByChar('.', {stage})[1])"
    kinds_named: list[str] = []

    def lookup(found: str, rules: Mapping[str, Rule]) -> Row:
        """The `Row` of the rule ``found`` names (constant arrays)."""
        keys = _strings(rules)
        kinds = {r.kind for r in rules.values()}
        if kinds == {None}:
            kind, name = "''", "''"
        else:
            alias = aliases.name(
                f"event_kind_{len(kinds_named)}",
                f"transform({found}, {keys}, {_strings(str(r.kind) for r in rules.values())}, '')",
            )
            kinds_named.append(alias)
            kind = alias
            refined = [(k, t, to) for k, t, to in convention.class_kinds if k in kinds]
            if refined:
                arms = [
                    f"{alias} = {literal(k)} AND position({owner}, {literal(t)}) > 0, {literal(to)}"
                    for k, t, to in refined
                ]
                kind = f"multiIf({alias} = '', '', {', '.join(arms)}, {alias})"
            name = stage
        turns = "[" + ", ".join(str(r.turn) for r in rules.values()) + "]"
        return name, kind, source, f"transform({found}, {keys}, {turns}, 0)"

    names = "`Events.Name`"
    arms: list[tuple[str, Row]] = []
    staged = {n: r for n, r in convention.events.items() if r.kind is not None}
    marks = {n: r for n, r in convention.events.items() if r.kind is None}
    for found, rules in (
        (f"arrayFirst(n -> n IN {_strings(staged)}, {names})", staged),
        (f"arrayLast(n -> n IN {_strings(marks)}, {names})", marks),
        ("splitByChar('-', splitByChar('.', SpanName)[-1])[1]", convention.methods),
    ):
        if rules:
            alias = aliases.name(f"event_found_{len(arms)}", found)
            arms.append((f"{alias} IN {_strings(rules)}", lookup(alias, rules)))
    return _multi(arms, otherwise)


def classify_sql() -> str:
    """A ``Tuple(stage, kind, source, candidate)`` per span: `conventions.classify_span` in SQL,
    then `conventions.classify_events` for the spans it leaves unrecognised.

    Stage '' is no stage. The arms, in order: a ``rag.turn`` span (no stage), a
    ``rag.operation`` span (no stage), ``rag.stage`` (kind from ``rag.stage.kind``), then
    one arm per row of `CONVENTIONS`. Where `classify_span` leaves a span with no stage
    and no turn candidate (not a ``rag.turn``), the arm is `EVENT_CONVENTIONS` in order
    (named ``by_events_*`` and used in those arms rather than wrapped around the whole: a
    wrapping ``if`` doubles the cost of every span).
    """
    aliases = _Aliases()
    unrecognised = _NONE
    for events in reversed(EVENT_CONVENTIONS):
        unrecognised = _events(events, unrecognised, aliases)
    name, kind, source, turn = (aliases.name(f"by_events_{k}", unrecognised[k]) for k in range(4))
    by_events = (name, kind, source, turn)
    kinds = _strings(STAGE_KINDS)
    rag_stage = (
        _attr(semconv.RAG_STAGE),
        f"transform(lower({_attr(semconv.RAG_STAGE_KIND)}), {kinds}, {kinds}, {literal(OTHER)})",
        literal(SOURCE_RAG_OTEL),
        "0",
    )
    arms = [
        (f"SpanName = {literal(semconv.TURN_SPAN_NAME)}", _NONE),
        (_has(semconv.RAG_OPERATION), by_events),
        (_has(semconv.RAG_STAGE), rag_stage),
    ]
    arms += [_convention(c, by_events, f"value_{i}", aliases) for i, c in enumerate(CONVENTIONS)]
    parts = _multi(arms, by_events)
    return aliases.define(
        "CAST((\n    " + ",\n    ".join(parts) + "\n  ) AS Tuple(String, String, String, UInt8))"
    )


def _first_chunk_events(names: Iterable[str]) -> str:
    """The earliest of these span events' times, 0 for none."""
    return f"arrayMin(arrayFilter((t, n) -> t > 0 AND n IN {_strings(names)}, ev_t, `Events.Name`))"


def _seconds(key: str) -> tuple[str, str]:
    """(readable, ns): an attribute's non-negative, finite seconds after the span's start."""
    seconds = f"toFloat64OrNull({_attr(key)})"
    return (
        f"isFinite(ifNull({seconds}, -1)) AND ifNull({seconds}, -1) >= 0",
        f"start + toInt64(round(assumeNotNull({seconds}) * 1e9))",
    )


def _reasons(key: str) -> str:
    """`first_token._texts` of a finish-reason attribute, each as whether it is a tool call."""
    value = _attr(key)
    tool = _strings(sorted(first_token.TOOL_CALL_FINISH_REASONS))
    decoded = (
        f"arrayMap(e -> JSONType(e) = 'String' AND lowerUTF8(JSONExtractString(e)) IN {tool}, "
        f"arrayFilter(e -> JSONType(e) != 'Null', JSONExtractArrayRaw({value})))"
    )
    return (
        f"if({_has(key)}, if(startsWith({value}, '[') AND isValidJSON({value}), {decoded}, "
        f"[lowerUTF8({value}) IN {tool}]), [])"
    )


def shows_answer_sql() -> str:
    """`first_token.shows_answer` in SQL: 0 when the span's output is only a tool call."""
    messages = _attr(semconv.GEN_AI_OUTPUT_MESSAGES)
    parts = (
        "arrayFlatten(arrayMap(m -> arrayMap(p -> JSONExtractString(p, 'type'), "
        "arrayFilter(p -> JSONType(p) = 'Object', JSONExtractArrayRaw(m, 'parts'))), "
        f"JSONExtractArrayRaw({messages})))"
    )
    reasons = (
        f"if(notEmpty({_reasons(first_token.GEN_AI_FINISH_REASONS)} AS answer_reasons), "
        f"answer_reasons, {_reasons(first_token.OPENLLMETRY_FINISH_REASON)})"
    )
    unseen = _strings(sorted(first_token.UNSEEN_PARTS))
    return (
        f"multiIf(notEmpty({parts} AS answer_parts), "
        f"arrayExists(t -> t NOT IN {unseen}, answer_parts), "
        f"notEmpty({reasons} AS answer_tools), NOT arrayAll(x -> x, answer_tools), "
        f"{_has(first_token.OPENINFERENCE_TOOL_CALL)}, "
        f"{_attr(first_token.OPENINFERENCE_CONTENT)} != '', 1)"
    )


def first_chunk_sql() -> str:
    """The first chunk's time (ns) per span, 0 for none: `first_token.first_chunk_ns` in SQL
    (the sources in its order; none for a span that only called a tool)."""
    own = _first_chunk_events([semconv.EVENT_FIRST_CHUNK])
    arms = [f"{own} > 0, {own}"]
    seconds = (
        semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
        first_token.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK,
    )
    arms.extend(", ".join(_seconds(key)) for key in seconds)
    oi = _first_chunk_events([first_token.OPENINFERENCE_FIRST_TOKEN_EVENT])
    arms.append(f"{oi} > 0, {oi}")
    lf = _attr(first_token.LANGFUSE_COMPLETION_START_TIME)
    langfuse = (
        "toUnixTimestamp64Nano(parseDateTime64BestEffortOrNull("
        f"trim(BOTH '\"' FROM {lf}), 9, 'UTC'))"
    )
    arms.append(f"ifNull({langfuse}, 0) > 0, assumeNotNull({langfuse})")
    chunks = _first_chunk_events(first_token.OPENLLMETRY_CHUNK_EVENTS)
    arms.append(f"{chunks} > 0, {chunks}")
    arms.append(_first_chunk_events([first_token.MLFLOW_FIRST_CHUNK_EVENT]))
    found = f"multiIf({', '.join(arms)})"
    told = " OR ".join(_has(k) for k in sorted(first_token.OUTPUT_ATTRIBUTES))
    attributes = " OR ".join(_has(k) for k in sorted(first_token.ATTRIBUTES))
    return (
        f"if(notEmpty(ev_t) OR {attributes}, "
        f"if(({found} AS first_found) > 0 AND ({told}) AND NOT {shows_answer_sql()}, "
        "0, first_found), 0)"
    )


_FLAGS: Final = (
    "toUInt16(err + 2 * rag_turn + 4 * c.4 + 16 * (indexOf({kinds}, c.2) - 1) "
    "+ 512 * (indexOf({sources}, c.3) - 1))"
)
"""A span's error, rag.turn and candidate bits and its kind's and source's indexes in one
number: the fewer arrays per trace, the cheaper the GROUP BY (an array each)."""


def spans_sql(table: str, filters: Filters) -> str:
    """One row per span: ids (and their hashes), times, error, classification, turn
    marker, first chunk."""
    return f"""SELECT
  TraceId, SpanId, ParentSpanId,
  cityHash64(SpanId) AS sid, if(ParentSpanId = '', toUInt64(0), cityHash64(ParentSpanId)) AS pid,
  toInt64(toUnixTimestamp64Nano(Timestamp)) AS start,
  toInt64(Duration) AS dur,
  CAST(StatusCode IN ('Error', 'STATUS_CODE_ERROR') AS UInt8) AS err,
  CAST(SpanName = {literal(semconv.TURN_SPAN_NAME)} AS UInt8) AS rag_turn,
  arrayMap(t -> toInt64(toUnixTimestamp64Nano(t)), `Events.Timestamp`) AS ev_t,
  {classify_sql()} AS c,
  {first_chunk_sql()} AS fc
FROM {table}
WHERE {filters.where(table)}"""


_RANGE: Final = "range(1, n + 1)"


def _jump(k: int, value: str) -> str:
    """Round ``k`` of pointer jumping on ``value``: each span's value, else (0) the value of
    the span ``jump_k`` points to (index 0, no span, reads 0); skipped once every pointer
    has left the trace (the rounds after that change nothing: a trace ``d`` levels deep
    pays ``log2(d)`` rounds)."""
    j = f"jump_{k}"
    return (
        f"if(hasAll([0], {j}), {value}_{k}, "
        f"arrayMap((x, p) -> x + (x = 0) * {value}_{k}[p], {value}_{k}, {j})) "
        f"AS {value}_{k + 1}"
    )


_NAME: Final = {False: "c.1", True: "if(c.1 = '', toUInt64(0), cityHash64(c.1))"}
"""A span's stage name as the per-trace arrays carry it: the text, or (``hashed``) its
64-bit hash, 0 for none."""
_NO_NAME: Final = {False: "''", True: "toUInt64(0)"}


def _layers(hashed: bool = False) -> list[list[str]]:
    """The per-trace computation, one list of new SELECT items per nesting level.

    Each level reads the previous level's columns by name (``SELECT *, ...``): a column
    referenced several times is computed once, where a chain of aliases would be copied
    into every use. Lambdas take their arrays as arguments where they can: ClickHouse
    copies a captured array for every element (n^2 per trace); the ones that index
    another span's value (a parent's, a turn's; ``a[0]`` is 0) capture numbers only, and
    they compute with 0/1 products rather than ``if``/``AND`` (each of which, inside a
    lambda, is a short-circuit evaluation per array). Spans are matched by the 64-bit
    hashes of their ids (``sid``, ``pid``; 0 for no parent). ``hashed``: stage names as
    their hashes (`_NAME`).
    """
    none = _NO_NAME[hashed]
    columns = ("sids", "pids", "starts", "durs", "stages", "flags", "fcs")
    layers = [
        ["arrayEnumerateUniq(sids0) AS uniq0"],
        [
            f"if(arrayMax(uniq0) = 1, {c}0, arrayFilter((x, u) -> u = 1, {c}0, uniq0)) AS {c}"
            for c in columns
        ],
        [
            "length(sids) AS n",
            "arrayMap((p, s) -> (p != s) * indexOf(sids, p), pids, sids) AS pidx",
            "arrayMap(x -> bitAnd(x, 1), flags) AS errs",
            "arrayMap(x -> bitAnd(bitShiftRight(x, 1), 1), flags) AS rag",
            "arrayMap(x -> bitAnd(bitShiftRight(x, 2), 3), flags) AS cands",
            "arrayMap(x -> bitAnd(bitShiftRight(x, 4), 31), flags) AS kinds",
            "arrayMap(x -> bitShiftRight(x, 9), flags) AS sources",
        ],
        [
            "arrayMap((c, x) -> toUInt8((c = 2) + (c = 1) * (x = 0)), cands, pidx) AS eligible",
            "arrayMap((s, d) -> s + greatest(d, 0), starts, durs) AS ends",
        ],
        [
            "multiIf(has(rag, 1), 0, has(eligible, 1), 1, 2) AS mode",
            "pidx AS jump_0",
            "arrayMap(x -> eligible[x], pidx) AS above_0",
        ],
    ]
    # pointer jumping: after round k, jump_k is each span's ancestor 2**k levels up and
    # above_k says whether an eligible turn candidate is at most 2**(k+1) - 1 levels up
    for k in range(JUMPS):
        j = f"jump_{k}"
        layers.append(
            [
                _jump(k, "above"),
                f"if(hasAll([0], {j}), {j}, arrayMap(p -> {j}[p], {j})) AS jump_{k + 1}",
            ]
        )
    # a turn: mode 0, a rag.turn span; 1, an eligible candidate with none above it; 2, a
    # root with no stage or no parent id
    layers.append(
        [
            "arrayMap((r, e, a, p, st, pp) -> toUInt8((mode = 0) * r + (mode = 1) * e * (a = 0) "
            f"+ (mode = 2) * (p = 0) * ((st = {none}) + (pp = 0) > 0)), "
            f"rag, eligible, above_{JUMPS}, pidx, stages, pids) AS is_turn"
        ]
    )
    layers.append([f"arrayMap((it, i) -> it * i, is_turn, {_RANGE}) AS turn_of_0"])
    layers.extend([_jump(k, "turn_of")] for k in range(JUMPS))
    t = f"turn_of_{JUMPS}"
    layers.append(
        [
            f"arrayMap(x -> starts[x], {t}) AS tstarts",
            f"arrayMap(x -> ends[x], {t}) AS tends",
            # a turn span is no stage row unless turns are roots (mode 2)
            "if(mode = 2 OR NOT has(is_turn, 1), stages, "
            f"arrayMap((st, it) -> if(it, {none}, st), stages, is_turn)) AS names",
        ]
    )
    # a turn's first chunk: the earliest of its spans', each clamped into the span clipped
    # to the turn; minus the turn's start. (turn, time) pairs sorted, the first per turn.
    lo = "least(greatest(s, ts), te)"
    layers.append(
        [
            "arraySort(arrayFilter(p -> p.1 > 0, arrayMap((x, f, s, e, ts, te) -> "
            f"((f > 0) * x, least(greatest(f, {lo}), greatest(least(e, te), {lo})) - ts), "
            f"{t}, fcs, starts, ends, tstarts, tends))) AS chunks"
        ]
    )
    layers.append(
        [
            "arrayFilter((p, u) -> u = 1, chunks, "
            "arrayEnumerateUniq(arrayMap(p -> p.1, chunks))) AS firsts"
        ]
    )
    # r.7: whether the row is the first of its name in its turn (the rows' turns are then
    # counted by a sum, not by a uniqExact over (trace, turn) pairs); r.8: the start's
    # offset in its turn, r.9 whether it has one
    stage = (
        f"arrayFilter(r -> r.2 != {none}, arrayMap((st, k, so, d, e, x, s, ts, u) -> "
        f"(toUInt8({ROW_STAGE}), st, k, so, d, e, toUInt8((x > 0) * (u = 1)), s - ts, "
        f"toUInt8(x > 0)), names, kinds, sources, durs, errs, {t}, starts, tstarts, "
        f"arrayEnumerateUniq(names, {t})))"
    )
    turn = (
        f"arrayFilter(r -> r.7 > 0, arrayMap((rg, so, d, e, it) -> (toUInt8({ROW_TURN}), {none}, 0, "
        f"multiIf(rg = 1, {SOURCES.index(SOURCE_RAG_OTEL)}, mode = 2 OR so = 0, "
        f"{SOURCES.index(SOURCE_TRACE_ROOT)}, so), d, e, it, toInt64(0), toUInt8(1)), "
        "rag, sources, durs, errs, is_turn))"
    )
    first = (
        f"arrayMap(p -> (toUInt8({ROW_FIRST_TOKEN}), {none}, 0, 0, p.2, errs[p.1], toUInt8(1), "
        "toInt64(0), toUInt8(1)), firsts)"
    )
    layers.append([f"arrayConcat({stage}, {turn}, {first}) AS rows"])
    return layers


def trace_sql(table: str, filters: Filters, hashed: bool = False) -> str:
    """One row per trace: its ``rows`` (stage spans, turns, first tokens) as tuples; stage
    names as their hashes with ``hashed``."""
    sql = f"""SELECT
  TraceId AS trace_id,
  groupArray(sid) AS sids0, groupArray(pid) AS pids0, groupArray(start) AS starts0,
  groupArray(dur) AS durs0, groupArray({_NAME[hashed]}) AS stages0, groupArray({_FLAGS.format(kinds=_strings(KINDS), sources=_strings(SOURCES))}) AS flags0,
  groupArray(fc) AS fcs0
FROM ({spans_sql(table, filters)})
GROUP BY TraceId"""
    for items in _layers(hashed):
        sql = "SELECT *,\n  " + ",\n  ".join(items) + f"\nFROM (\n{sql}\n)"
    return f"SELECT trace_id, rows FROM (\n{sql}\n)"


def aggregate_sql(
    database: str, table: str, filters: Filters, traces: int, *, hashed: bool = False
) -> str:
    """Per stage (row 0), for turns (1) and the time to first token (2): the statistics.

    Columns: row, name, kind, sources (most frequent first), count, errors, mean ns,
    quantiles ns (`stats.QUANTILES`), max ns, turns, mean start offset, a bounded sample of
    durations; on the turn row only (the other rows leave them empty: 6% of the query at
    10M spans), for the sampled trees ``traces`` trace ids drawn uniformly (seeded) and the
    slowest turn's trace; on stage rows, a trace holding the stage (``example``).

    ``hashed``: stage names as their 64-bit hashes (`_NAME`: the per-trace arrays of numbers
    are grouped much faster than arrays of strings, 1 s of 10 at 10M spans); the caller
    names them from the spans of the example traces (`clickhouse.analyze_clickhouse`).
    Without it, the query reads on its own (for Grafana).

    ``short_circuit_function_evaluation = 'force_enable'``: every ``if``/``multiIf`` arm is
    computed only for the rows that reach it (the classification's arms, most of which no
    span reaches): 7-10% less CPU at 10M spans than the default.
    """
    where = f"{identifier(database)}.{identifier(table)}"
    qs = ", ".join(str(q) for q in QUANTILES)
    return f"""SELECT
  r.1 AS row, r.2 AS name, {_strings(KINDS)}[any(r.3) + 1] AS kind,
  arrayMap(s -> {_strings(SOURCES)}[s + 1], topK(16)(r.4)) AS sources,
  count() AS spans, toUInt64(sum(r.6)) AS errors, avg(r.5) AS mean_ns,
  quantilesExactInclusive({qs})(r.5) AS quantiles_ns, max(r.5) AS max_ns,
  sum(r.7) AS turns,
  avgIf(r.8, r.9 = 1) AS offset_ns, countIf(r.9 = 1) AS offsets,
  groupArraySample({SAMPLE_CAP}, {SEED})(r.5) AS sample,
  groupArraySampleIf({int(traces)}, {SEED})(trace_id, r.1 = {ROW_TURN}) AS traces,
  argMaxIf(trace_id, r.5, r.1 = {ROW_TURN}) AS slowest,
  anyIf(trace_id, r.1 = {ROW_STAGE}) AS example
FROM ({trace_sql(where, filters, hashed)})
ARRAY JOIN rows AS r
GROUP BY row, name
ORDER BY row, name
SETTINGS short_circuit_function_evaluation = 'force_enable'"""


def hash_names_sql(names: Sequence[str]) -> str:
    """Each of `names` with its hash as `_NAME` makes it (``cityHash64``, in the store)."""
    return f"SELECT x, cityHash64(x) FROM (SELECT arrayJoin({_strings(names)}) AS x)"


def names_sql(database: str, table: str, filters: Filters, hashes: Iterable[int]) -> str:
    """The stage names with these hashes, classified over the table (one span each)."""
    where = f"{identifier(database)}.{identifier(table)}"
    wanted = ", ".join(str(int(h)) for h in hashes)
    return f"""SELECT name, cityHash64(name) FROM (
  SELECT tupleElement({classify_sql()}, 1) AS name FROM {where} WHERE {filters.where(where)}
)
WHERE name != '' AND cityHash64(name) IN ({wanted})
LIMIT 1 BY name
SETTINGS short_circuit_function_evaluation = 'force_enable'"""


def fetch_sql(
    database: str, table: str, filters: Filters, trace_ids: Sequence[str], keys: Iterable[str]
) -> str:
    """The spans of the sampled traces, with only the attributes the analysis reads."""
    where = f"{identifier(database)}.{identifier(table)}"
    unbounded = Filters(filters.since_ns, filters.until_ns, filters.service)
    return f"""SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, StatusCode, ServiceName,
  toInt64(toUnixTimestamp64Nano(Timestamp)) AS start, toInt64(Duration) AS dur,
  mapFilter((k, v) -> k IN {_strings(sorted(keys))}, {ATTRS}) AS attrs,
  `Events.Name` AS ev_n, arrayMap(t -> toInt64(toUnixTimestamp64Nano(t)), `Events.Timestamp`) AS ev_t
FROM {where}
WHERE {unbounded.where(where)} AND TraceId IN {_strings(trace_ids)}"""
