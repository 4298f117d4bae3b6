"""Tracing overhead: rag_otel.stage and rag_otel.turn against raw OpenTelemetry spans.

    python bench/run.py core          (or: python bench/bench_core.py)

Everything runs on an empty function through the same SDK pipeline: a TracerProvider with a
BatchSpanProcessor and an exporter that discards. Baselines measured in the same run:

* bare call of the empty function;
* raw ``tracer.start_as_current_span`` (no attributes), and the same carrying the attributes
  a rag-otel stage carries (what you would write by hand to get the same information);
* a raw parent with six raw children, against ``rag_otel.turn`` with six stages, and the
  least the SDK allows for that turn with the same attributes (hand-written, as for a stage);
* tracing off (no provider installed, no configure()), in a fresh subprocess;
* memory per span buffered in the BatchSpanProcessor's queue (tracemalloc, subprocesses).

Targets (issue 2): stage <= 1.1x a raw span; turn with six stages <= 1.1x its raw equivalent;
tracing off < 1 microsecond per stage; memory per buffered span within 10% of a raw span;
(issue 23) stage and turn <= 1.05x the hand-written minimal spans with the same attributes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _harness import (  # noqa: E402
    Result,
    Timing,
    format_table,
    install_discarding_provider,
    paired_ratio,
    time_calls,
)

TITLE = "Tracing overhead (bench_core: empty function, BatchSpanProcessor + discarding exporter)"
SIX = ("embed", "retrieve.vector", "retrieve.bm25", "fusion", "rerank", "generate")
KINDS = ("embedding", "retrieval", "retrieval", "fusion", "rerank", "generation")


def empty() -> None:
    pass


def _stage_attributes(name: str, kind: str) -> dict[str, Any]:
    """The attributes rag-otel puts on a stage, spelled out by hand for the raw baseline."""
    from rag_otel import semconv as sc

    conv = sc.KIND_CONVENTIONS[kind]
    return {
        sc.RAG_STAGE: name,
        sc.RAG_STAGE_KIND: kind,
        sc.OPENINFERENCE_SPAN_KIND: conv.openinference,
        sc.GEN_AI_OPERATION_NAME: conv.gen_ai_operation,
    }


def _install_pipeline() -> Callable[[], object]:
    _, processor = install_discarding_provider()
    return processor.force_flush


def _variants() -> dict[str, Callable[[], object]]:
    from opentelemetry import context, trace
    from opentelemetry.trace import SpanKind

    import rag_otel
    from rag_otel import semconv as sc

    tracer = trace.get_tracer_provider().get_tracer("bench.raw")
    attrs = _stage_attributes("retrieve", "retrieval")
    six_attrs = [_stage_attributes(n, k) for n, k in zip(SIX, KINDS, strict=True)]
    six_attrs[-1][sc.GEN_AI_CONVERSATION_ID] = "user-42"  # a generation stage in a session

    def raw() -> None:
        with tracer.start_as_current_span("retrieve"):
            empty()

    def raw_attrs() -> None:
        with tracer.start_as_current_span("retrieve", attributes=attrs):
            empty()

    def floor() -> None:
        # The least the SDK allows for the same span: no context-manager layers at all.
        span = tracer.start_span("retrieve", None, SpanKind.INTERNAL, attrs)
        token = context.attach(trace.set_span_in_context(span))
        try:
            empty()
        finally:
            context.detach(token)
            span.end()

    decorated = rag_otel.stage("retrieve", kind="retrieval")(empty)

    def with_stage() -> None:
        with rag_otel.stage("retrieve", kind="retrieval"):
            empty()

    def raw_turn() -> None:
        with tracer.start_as_current_span("rag.turn", kind=SpanKind.SERVER):
            for name in SIX:
                with tracer.start_as_current_span(name):
                    empty()

    def raw_turn_attrs() -> None:
        turn_attrs = {
            sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_INVOKE_WORKFLOW,
            sc.SESSION_ID: "user-42",
            sc.GEN_AI_CONVERSATION_ID: "user-42",
            sc.RAG_TURN_ID: uuid.uuid4().hex,
        }
        with tracer.start_as_current_span("rag.turn", kind=SpanKind.SERVER, attributes=turn_attrs):
            for name, stage_attrs in zip(SIX, six_attrs, strict=True):
                with tracer.start_as_current_span(name, attributes=stage_attrs):
                    empty()

    def floor_turn() -> None:
        # The least the SDK allows for the same turn: a parent and six children carrying
        # the same attributes, no context-manager layers.
        turn_attrs = {
            sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_INVOKE_WORKFLOW,
            sc.SESSION_ID: "user-42",
            sc.GEN_AI_CONVERSATION_ID: "user-42",
            sc.RAG_TURN_ID: uuid.uuid4().hex,
        }
        parent = tracer.start_span("rag.turn", None, SpanKind.SERVER, turn_attrs)
        token = context.attach(trace.set_span_in_context(parent))
        try:
            for name, stage_attrs in zip(SIX, six_attrs, strict=True):
                span = tracer.start_span(name, None, SpanKind.INTERNAL, stage_attrs)
                inner = context.attach(trace.set_span_in_context(span))
                try:
                    empty()
                finally:
                    context.detach(inner)
                    span.end()
        finally:
            context.detach(token)
            parent.end()

    stages = [rag_otel.stage(n, kind=k)(empty) for n, k in zip(SIX, KINDS, strict=True)]  # type: ignore[arg-type]

    def rag_turn() -> None:
        with rag_otel.turn(session_id="user-42"):
            for stage_fn in stages:
                stage_fn()

    return {
        "bare call": empty,
        "raw span": raw,
        "raw span + same attributes": raw_attrs,
        "hand-written minimal span + same attributes": floor,
        "rag_otel.stage (decorator)": decorated,
        "rag_otel.stage (with)": with_stage,
        "raw parent + 6 raw spans": raw_turn,
        "raw parent + 6 raw spans + same attributes": raw_turn_attrs,
        "hand-written minimal parent + 6 spans + same attributes": floor_turn,
        "rag_otel.turn + 6 stages": rag_turn,
    }


def _child_disabled(number: int, repeats: int) -> dict[str, float]:
    """Tracing off: no provider installed, no configure()."""
    import rag_otel

    decorated = rag_otel.stage("retrieve", kind="retrieval")(empty)

    def with_stage() -> None:
        with rag_otel.stage("retrieve", kind="retrieval"):
            empty()

    stages = [rag_otel.stage(n, kind=k)(empty) for n, k in zip(SIX, KINDS, strict=True)]  # type: ignore[arg-type]

    def six_bare() -> None:
        for _ in range(6):
            empty()

    def turn_six() -> None:
        with rag_otel.turn(session_id="user-42"):
            for stage_fn in stages:
                stage_fn()

    timings = time_calls(
        {
            "bare": empty,
            "decorator": decorated,
            "with": with_stage,
            "six_bare": six_bare,
            "turn_six": turn_six,
        },
        number=number,
        repeats=repeats,
        batch=2_000,
    )
    from opentelemetry import trace

    assert trace._TRACER_PROVIDER is None  # really off

    def added(name: str, base: str) -> float:
        # Median over rounds of the difference with the baseline timed in the same round.
        pairs = zip(timings[name].samples, timings[base].samples, strict=True)
        return statistics.median(x - y for x, y in pairs)

    return {
        "bare": timings["bare"].median,
        "decorator": added("decorator", "bare"),
        "with": added("with", "bare"),
        "turn_six": added("turn_six", "six_bare"),
    }


def _child_memory(variant: str, spans: int) -> float:
    """Bytes allocated per span held in the BatchSpanProcessor's queue."""
    import tracemalloc

    import rag_otel

    # Nothing is exported while measuring: the spans stay buffered in the queue.
    provider, _ = install_discarding_provider(
        max_queue_size=spans * 2,
        max_export_batch_size=spans * 2,
        schedule_delay_millis=3_600_000,
    )
    tracer = provider.get_tracer("bench.raw")
    attrs = _stage_attributes("retrieve", "retrieval")
    decorated = rag_otel.stage("retrieve", kind="retrieval")(empty)

    def raw() -> None:
        with tracer.start_as_current_span("retrieve"):
            empty()

    def raw_attrs() -> None:
        with tracer.start_as_current_span("retrieve", attributes=attrs):
            empty()

    fn = {"raw": raw, "raw_attrs": raw_attrs, "stage": decorated}[variant]
    for _ in range(100):
        fn()  # warm caches (tracer, spec) before measuring
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(spans):
        fn()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / spans


def _child(*args: str) -> Any:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench_core child {args} failed:\n{out.stderr}")
    return json.loads(out.stdout)


def _ratio_result(
    name: str,
    timings: dict[str, Timing],
    baseline: str,
    target: float | None = None,
    note: str = "",
) -> Result:
    ratio = paired_ratio(timings[name], timings[baseline])
    return Result(
        name=name,
        value=timings[name].median,
        unit="ns/call",
        baseline=baseline,
        ratio=ratio,
        target=None if target is None else f"<= {target:.2f}x",
        ok=None if target is None else ratio <= target,
        note=note,
    )


def results(quick: bool) -> list[Result]:
    number, repeats, batch = (2_000, 3, 200) if quick else (10_000, 6, 400)
    flush = _install_pipeline()
    variants = _variants()
    for fn in variants.values():
        fn()  # warm-up
    flush()
    singles = {k: v for k, v in variants.items() if "6" not in k}
    timings = time_calls(singles, number=number, repeats=repeats, between=flush, batch=batch)
    turn_timings = time_calls(
        {k: variants[k] for k in variants if "6" in k},
        number=number // 7,
        repeats=repeats,
        between=flush,
        batch=batch // 7,
    )
    timings.update(turn_timings)

    out = [
        Result("bare call", timings["bare call"].median, "ns/call"),
        Result("raw span", timings["raw span"].median, "ns/call"),
        _ratio_result("raw span + same attributes", timings, "raw span"),
        _ratio_result("hand-written minimal span + same attributes", timings, "raw span"),
        _ratio_result("rag_otel.stage (decorator)", timings, "raw span", 1.10),
        _ratio_result(
            "rag_otel.stage (decorator)",
            timings,
            "raw span + same attributes",
            1.10,
            note="same information",
        ),
        _ratio_result(
            "rag_otel.stage (decorator)",
            timings,
            "hand-written minimal span + same attributes",
            1.05,
            note="rag-otel's own cost over the SDK",
        ),
        _ratio_result("rag_otel.stage (with)", timings, "raw span", 1.10),
        _ratio_result("rag_otel.stage (with)", timings, "raw span + same attributes", 1.10),
        Result("raw parent + 6 raw spans", timings["raw parent + 6 raw spans"].median, "ns/call"),
        _ratio_result("rag_otel.turn + 6 stages", timings, "raw parent + 6 raw spans", 1.10),
        _ratio_result(
            "rag_otel.turn + 6 stages",
            timings,
            "raw parent + 6 raw spans + same attributes",
            1.10,
            note="same information",
        ),
        _ratio_result(
            "rag_otel.turn + 6 stages",
            timings,
            "hand-written minimal parent + 6 spans + same attributes",
            1.05,
            note="rag-otel's own cost over the SDK",
        ),
    ]

    off = _child("disabled", str(number * 5), str(repeats))
    for name, key, per in (
        ("tracing off: stage (decorator)", "decorator", 1),
        ("tracing off: stage (with)", "with", 1),
        ("tracing off: turn + 6 stages, per stage", "turn_six", 7),
    ):
        overhead = off[key] / per
        out.append(
            Result(
                name,
                overhead,
                "ns added",
                baseline=f"bare call ({off['bare']:.0f} ns)",
                target="< 1000 ns",
                ok=overhead < 1000,
            )
        )

    spans = 2_000 if quick else 20_000
    memory = {v: _child("memory", v, str(spans)) for v in ("raw", "raw_attrs", "stage")}
    out.append(Result("memory: raw span", memory["raw"], "B/span"))
    out.append(Result("memory: raw span + same attributes", memory["raw_attrs"], "B/span"))
    for base in ("raw", "raw_attrs"):
        ratio = memory["stage"] / memory[base]
        out.append(
            Result(
                "memory: rag_otel.stage",
                memory["stage"],
                "B/span",
                baseline="memory: raw span" + ("" if base == "raw" else " + same attributes"),
                ratio=ratio,
                target="<= 1.10x",
                ok=ratio <= 1.10,
            )
        )
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        kind, *rest = argv[1:]
        if kind == "disabled":
            print(json.dumps(_child_disabled(int(rest[0]), int(rest[1]))))
        else:
            print(json.dumps(_child_memory(rest[0], int(rest[1]))))
        return 0
    print(format_table(TITLE, results("--quick" in argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
