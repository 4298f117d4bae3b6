"""The analysis never trusts its input: exhaustive mutations of every fixture, hostile traces.

Beyond tests/analysis/test_readers_fuzz.py (hypothesis, random samples), here:

- every fixture truncated at EVERY byte offset (not a sample), read and analysed;
- every JSON field of every fixture (the first occurrence of each field path) replaced by
  each value of the wrong type, read and analysed;
- huge numbers and negative durations in the time fields, cycles in parent links;
- a million spans in one trace, analysed in a subprocess under a memory limit;
- Phoenix REST and Langfuse observations pages split into JSON lines, truncated at every
  offset; every recognised attribute with values of every JSON type in both;
- the CLI on a few of these: one clear line, never a traceback.

Outcome everywhere: spans and a Report (possibly with counted warnings), or InputError with
a one-line message naming the source. Anything else fails the test.
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import ROOT, child_env

from rag_otel.analysis.conventions import RECOGNITION_KEYS
from rag_otel.analysis.model import Diagnostics, InputError
from rag_otel.analysis.readers import read_spans
from rag_otel.analysis.report import analyze

TRACES = ROOT / "tests" / "fixtures" / "traces"
FIXTURES = {
    p.name: p.read_bytes() for p in sorted(TRACES.iterdir()) if p.suffix in (".json", ".jsonl")
}
SMALL = {name: raw for name, raw in FIXTURES.items() if len(raw) <= 6000}
WRONG_VALUES: list[Any] = [
    None,
    True,
    -1,
    10**30,
    -(10**30),
    1.5e308,
    "",
    "zz",
    [],
    {},
    [1, "a"],
    {"k": 1},
]


def outcome(data: bytes, name: str = "input.json") -> str:
    """'ok' (spans analysed, no warning), 'warned' (counted warnings) or 'error' (InputError)."""
    stream = io.BytesIO(data)
    stream.name = name
    diagnostics = Diagnostics()
    try:
        spans = list(read_spans(stream, diagnostics=diagnostics))
        analyze(spans, diagnostics=diagnostics)
    except InputError as exc:
        message = str(exc)
        assert message.startswith(name), message
        assert "\n" not in message, message
        return "error"
    return "warned" if diagnostics.counts else "ok"


@pytest.mark.parametrize("name", sorted(SMALL))
def test_truncated_at_every_offset(name: str) -> None:
    raw = SMALL[name]
    results = Counter(outcome(raw[:cut], name) for cut in range(len(raw)))
    # A cut that leaves a non-blank prefix of a single JSON document is never taken as data.
    if name.endswith(".json"):
        assert results["ok"] <= 1 + raw.count(b"\n") // 10_000, results
    assert sum(results.values()) == len(raw)


def field_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths to every field and list item (containers too)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from field_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield (*path, i)
            yield from field_paths(item, (*path, i))


def first_of_each_shape(paths: Iterator[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """One path per shape (list indices ignored): the first occurrence of each field."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for path in paths:
        shape = tuple("[]" if isinstance(p, int) else p for p in path)
        if shape not in seen:
            seen.add(shape)
            out.append(path)
    return out


def documents(raw: bytes, name: str) -> list[Any]:
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in raw.splitlines() if line.strip()]
    return [json.loads(raw)]


def encode(docs: list[Any], name: str) -> bytes:
    if name.endswith(".jsonl"):
        return b"\n".join(json.dumps(d).encode() for d in docs) + b"\n"
    return json.dumps(docs[0]).encode()


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return out


@pytest.mark.parametrize(
    "name",
    [n for n in sorted(FIXTURES)],
)
def test_wrong_type_in_every_field(name: str) -> None:
    docs = documents(FIXTURES[name], name)
    results: Counter[str] = Counter()
    for d, doc in enumerate(docs[:2]):
        for path in first_of_each_shape(field_paths(doc)):
            for value in WRONG_VALUES:
                mutated = [*docs[:d], replaced(doc, path, value), *docs[d + 1 :]]
                results[outcome(encode(mutated, name), name)] += 1
    assert results["error"] + results["warned"] > 0, results


def otlp_line(spans: list[dict[str, Any]]) -> bytes:
    doc = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": spans}]}]}
    return json.dumps(doc).encode() + b"\n"


def span(
    span_id: str, parent: str, start: Any = "1000", end: Any = "2000", **extra: Any
) -> dict[str, Any]:
    return {
        "traceId": "ab" * 16,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": "rag.turn" if not parent else "embed",
        "startTimeUnixNano": start,
        "endTimeUnixNano": end,
        **extra,
    }


A, B, C = "a" * 16, "b" * 16, "c" * 16
HOSTILE = {
    "negative-duration": [span(A, "", "5000", "1000")],
    "negative-stage-duration": [span(A, ""), span(B, A, "1900", "1100")],
    "huge-times": [span(A, "", "9" * 40, "9" * 41)],
    "huge-int-times": [span(A, "", 10**30, 10**31)],
    "float-times": [span(A, "", 1.5e308, 1.7e308)],
    "negative-times": [span(A, "", "-5", "-1")],
    "parent-cycle": [span(A, B), span(B, A)],
    "three-cycle": [span(A, C), span(B, A), span(C, B)],
    "self-parent": [span(A, A)],
    "cycle-under-a-root": [span(A, ""), span(B, C), span(C, B)],
    "duplicate-ids": [span(A, ""), span(A, "")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_values_are_an_error_or_a_counted_warning(case: str) -> None:
    result = outcome(otlp_line(HOSTILE[case]), f"{case}.jsonl")
    assert result in ("error", "warned"), result


# Every OTLP value shape (and a few that are no AnyValue at all) on each attribute the
# stage and turn recognition reads: a stage with an odd name, or a counted malformed span.
ODD_ANY_VALUES: list[Any] = [
    {"intValue": "9" * 30},
    {"doubleValue": 1e308},
    {"boolValue": True},
    {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}]}},
    {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}},
    {"bytesValue": "AAEC"},
    {},
    {"stringValue": ""},
    {"stringValue": "x" * 10_000},
    "RETRIEVER",
    None,
    [],
]


@pytest.mark.parametrize("key", sorted(RECOGNITION_KEYS))
def test_recognised_attributes_of_any_type_never_break_the_analysis(key: str) -> None:
    """`outcome` lets anything but InputError propagate: a crash fails here."""
    for value in ODD_ANY_VALUES:
        spans = [
            span(A, "", name="root"),
            span(B, A, "1100", "1900", attributes=[{"key": key, "value": value}]),
        ]
        result = outcome(otlp_line(spans), f"{key}.jsonl")
        assert result in ("ok", "warned"), (value, result)  # never unreadable, never a crash
        tags = [{"key": key, "type": "string", "value": value}]
        jaeger = {
            "data": [
                {
                    "traceID": "ab" * 16,
                    "spans": [
                        {
                            "traceID": "ab" * 16,
                            "spanID": A,
                            "operationName": "r",
                            "startTime": 1,
                            "duration": 5,
                        },
                        {
                            "traceID": "ab" * 16,
                            "spanID": B,
                            "operationName": "s",
                            "references": [{"refType": "CHILD_OF", "spanID": A}],
                            "startTime": 2,
                            "duration": 1,
                            "tags": tags,
                        },
                    ],
                }
            ]
        }
        result = outcome(json.dumps(jaeger).encode(), f"{key}.json")
        assert result in ("ok", "warned"), (value, result)


def _pages_as_json_lines(name: str, page_key: str, pages: int) -> bytes:
    """A fixture's one page split into `pages` pages, one per line (how a paged export is
    saved), each with its paging field as Phoenix or Langfuse writes it."""
    doc = json.loads(FIXTURES[name])
    data = doc["data"]
    size = -(-len(data) // pages)
    lines = []
    for i in range(pages):
        last = i == pages - 1
        paging: Any = (
            None
            if last
            else f"cursor-{i + 1}"
            if page_key == "next_cursor"
            else {"page": i + 1, "limit": size, "totalItems": len(data), "totalPages": pages}
        )
        lines.append(json.dumps({"data": data[i * size : (i + 1) * size], page_key: paging}))
    return ("\n".join(lines) + "\n").encode()


PAGED = {
    "phoenix-pages.jsonl": ("phoenix-20.26.1_rest-spans.json", "next_cursor"),
    "langfuse-pages.jsonl": ("langfuse-5.0.4_observations-v2.json", "meta"),
}


@pytest.mark.parametrize("name", sorted(PAGED))
def test_paged_exports_truncated_at_every_offset(name: str) -> None:
    fixture, page_key = PAGED[name]
    raw = _pages_as_json_lines(fixture, page_key, pages=3)
    assert outcome(raw, name) in ("ok", "warned")  # (Langfuse: turn-from-root, counted)
    results = Counter(outcome(raw[:cut], name) for cut in range(len(raw)))
    assert results["error"] > 0, results
    assert sum(results.values()) == len(raw)


ODD_JSON_VALUES: list[Any] = [
    None,
    True,
    10**30,
    1e308,
    "",
    "x" * 10_000,
    [],
    {},
    [1, "a"],
    {"k": [{}]},
]


@pytest.mark.parametrize("key", sorted(RECOGNITION_KEYS))
def test_recognised_attributes_of_any_type_in_phoenix_and_langfuse(key: str) -> None:
    """Phoenix attributes and Langfuse metadata are plain JSON: any type, nested or not."""
    phoenix = json.loads(FIXTURES["phoenix-20.26.1_rest-spans.json"])
    langfuse = json.loads(FIXTURES["langfuse-5.0.4_observations-v2.json"])
    for value in ODD_JSON_VALUES:
        page = copy.deepcopy(phoenix)
        for item in page["data"]:
            item["attributes"] = {**item["attributes"], key: value}
        result = outcome(json.dumps(page).encode(), f"{key}.phoenix.json")
        assert result in ("ok", "warned"), (value, result)
        page = copy.deepcopy(langfuse)
        for item in page["data"]:
            item["metadata"] = {"attributes": {key: value}}
        result = outcome(json.dumps(page).encode(), f"{key}.langfuse.json")
        assert result in ("ok", "warned"), (value, result)


@pytest.mark.parametrize(
    "case",
    [
        "negative-duration",
        "parent-cycle",
        "huge-times",
    ],
)
def test_cli_says_one_line_never_a_traceback(case: str, tmp_path: Path) -> None:
    path = tmp_path / f"{case}.jsonl"
    path.write_bytes(otlp_line(HOSTILE[case]))
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(bytes(range(256)) * 4)
    phoenix_like = tmp_path / "phoenix-like.json"
    phoenix_like.write_bytes(b'{"data": [{"context": 1, "span_kind": []}], "next_cursor": 5}')
    jaeger_null = tmp_path / "jaeger-null-spans.json"
    jaeger_null.write_bytes(b'{"data": [{"traceID": "ab", "spans": null}]}')
    for source in (path, garbage, phoenix_like, jaeger_null):
        proc = subprocess.run(
            [sys.executable, "-m", "rag_otel", "analyze", str(source)],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
        if proc.returncode != 0:
            assert source.name in proc.stderr


BIG = textwrap.dedent(
    """
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    from rag_otel.analysis.model import Diagnostics, Span
    from rag_otel.analysis.report import analyze

    shape, n = sys.argv[1], int(sys.argv[2])
    T = "ab" * 16
    def spans():
        yield Span(T, "0" * 16, None, "rag.turn", 0, 10**9 + n, is_turn=True, turn_id="t")
        for i in range(1, n):
            parent = "0" * 16 if shape == "wide" else f"{i - 1:016x}"
            stage = ("embed", "retrieve", "generate")[i % 3]
            yield Span(T, f"{i:016x}", parent, stage, i, i + 1000, stage=stage, stage_kind="other")

    t0 = time.perf_counter()
    diagnostics = Diagnostics()
    report = analyze(spans(), diagnostics=diagnostics)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print("RESULT " + json.dumps({"s": time.perf_counter() - t0, "peak_mb": peak / 2**20,
                                  "warnings": dict(diagnostics.counts)}))
    """
)
MEMORY_LIMIT = 3 * 2**30


@pytest.mark.parametrize(("shape", "n"), [("wide", 1_000_000), ("deep", 200_000)])
def test_huge_trace_bounded_time_and_memory(shape: str, n: int) -> None:
    # wide: a million stage spans under one turn; deep: a 200,000-long parent chain
    # (deep enough that anything recursive would blow the stack).
    proc = subprocess.run(
        [sys.executable, "-c", BIG.replace("MEMORY_CAP", str(MEMORY_LIMIT)), shape, str(n)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    print("FIGURES " + json.dumps({"shape": shape, "spans": n, **result}))
    assert result["peak_mb"] < 1536, result  # ~0.8 KB per span held for the open trace
