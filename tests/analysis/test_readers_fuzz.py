"""Whatever the bytes, a reader returns spans or raises InputError (one line, naming the
source), never another exception: truncations of every real file at random offsets,
flipped bytes, random bytes, random JSON."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag_otel.analysis.model import Diagnostics, InputError
from rag_otel.analysis.readers import read_spans

TRACES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
FILES = {
    p.name: p.read_bytes() for p in sorted(TRACES.iterdir()) if p.suffix in (".json", ".jsonl")
}
NAMES = sorted(FILES)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(data: bytes) -> str:
    """'spans' or 'error'; anything else escapes and fails the test."""
    stream = io.BytesIO(data)
    stream.name = "fuzz.json"
    try:
        spans = list(read_spans(stream, diagnostics=Diagnostics()))
    except InputError as exc:
        message = str(exc)
        assert message.startswith("fuzz.json")
        assert "\n" not in message
        return "error"
    for s in spans:
        assert isinstance(s.trace_id, str)
        assert isinstance(s.span_id, str)
    return "spans"


@FUZZ
@given(name=st.sampled_from(NAMES), data=st.data())
def test_truncated_fixture(name: str, data: st.DataObject) -> None:
    raw = FILES[name]
    cut = data.draw(st.integers(0, len(raw) - 1), label="cut")
    result = outcome(raw[:cut])
    if raw[:cut].strip() and name.endswith(".json") and raw[:cut].rstrip() != raw.rstrip():
        assert result == "error"  # a cut pretty-printed document is never mistaken for data


@FUZZ
@given(name=st.sampled_from(NAMES), data=st.data())
def test_truncated_gzip_fixture(name: str, data: st.DataObject) -> None:
    raw = gzip.compress(FILES[name])
    cut = data.draw(st.integers(0, len(raw) - 1), label="cut")
    assert outcome(raw[:cut]) == "error"


@FUZZ
@given(name=st.sampled_from(NAMES), data=st.data())
def test_corrupted_fixture(name: str, data: st.DataObject) -> None:
    raw = bytearray(FILES[name])
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        at = data.draw(st.integers(0, len(raw) - 1), label="at")
        raw[at] = data.draw(st.integers(0, 255), label="byte")
    outcome(bytes(raw))


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(raw: bytes) -> None:
    outcome(raw)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceSpans",
                    "scopeSpans",
                    "spans",
                    "traceId",
                    "spanId",
                    "parentSpanId",
                    "name",
                    "startTimeUnixNano",
                    "endTimeUnixNano",
                    "attributes",
                    "key",
                    "value",
                    "stringValue",
                    "kind",
                    "status",
                    "code",
                    "data",
                    "result",
                    "traceID",
                    "spanID",
                    "references",
                    "refType",
                    "processes",
                    "processID",
                    "startTime",
                    "duration",
                    "tags",
                    "summaries",
                    "error",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@FUZZ
@given(JSON)
def test_random_json_shapes(value: object) -> None:
    import json

    outcome(json.dumps(value).encode())
