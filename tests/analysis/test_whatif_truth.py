"""What-if predictions against the truth: a real decorated pipeline, run twice.

Each case runs a traced asyncio RAG pipeline (rag_otel.turn / rag_otel.stage, sleeps for
work, a streamed generation) as it is and with the change made for real: a stage's sleep
halved, or the sequential retrieval made concurrent with ``asyncio.gather``. The two
versions take turns in one process (``rag.turn.id`` says which), so a busy machine slows
both alike; the prediction from the first version's traces must match the second's
measured turn p50 and time-to-first-token p50 within max(3%, 6 ms). Sleeps are tens of
milliseconds; a case that misses is run again (up to three times).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag_otel.analysis.model import Diagnostics, Span
from rag_otel.analysis.readers import read_spans
from rag_otel.analysis.report import analyze
from rag_otel.analysis.whatif import parse_change
from subprocesses import run_python

PIPELINE = """
import asyncio, json, sys
import rag_otel

versions, turns, path = json.loads(sys.argv[1])
rag_otel.configure(service_name="whatif-truth", exporter="file", file_path=path)

ms, sequential = versions[0]


async def sleep(name):
    await asyncio.sleep(ms[name] / 1000)

@rag_otel.stage("embed", kind="embedding")
async def embed(q):
    await sleep("embed")

@rag_otel.stage("vector", kind="retrieval")
async def vector(q):
    await sleep("vector")

@rag_otel.stage("bm25", kind="retrieval")
async def bm25(q):
    await sleep("bm25")

@rag_otel.stage("rerank", kind="rerank")
async def rerank(hits):
    await sleep("rerank")

@rag_otel.stage("generate", kind="generation")
async def generate(hits):
    await sleep("first_chunk")
    yield "The"
    await sleep("rest")
    yield " answer"

async def answer(q, version):
    with rag_otel.turn(session_id="s", turn_id=f"{version}-{q}"):
        await embed(q)
        if sequential:
            await vector(q)
            await bm25(q)
        else:
            await asyncio.gather(vector(q), bm25(q))
        await rerank(None)
        async for _ in generate(None):
            pass

async def main():
    global ms, sequential
    for i in range(2 * turns):
        ms, sequential = versions[i % 2]
        await answer(f"q{i}", i % 2)

asyncio.run(main())
rag_otel.shutdown()
"""

BASE = {"embed": 10, "vector": 40, "bm25": 25, "rerank": 50, "first_chunk": 20, "rest": 20}
TURNS = 15


def check(
    tmp: Path,
    change: str,
    after: dict[str, int],
    *,
    sequential: tuple[bool, bool] = (False, False),
) -> dict[str, float]:
    """Run as is, predict `change`, run changed; (prediction, truth) within tolerance."""
    misses = []
    for attempt in range(3):
        path = tmp / f"run{attempt}.jsonl"
        before, changed = _run_to(path, [[BASE, sequential[0]], [after, sequential[1]]])
        report = analyze(before, what_if=[parse_change(change)])
        [row] = [w for w in report.what_if if w.change == change]
        truth = analyze(changed)
        assert truth.turn.p50_ms is not None
        assert truth.first_token is not None
        got = {
            "turn": row.turn_p50_ms,
            "ttft": row.first_token_p50_ms or 0.0,
            "before": report.turn.p50_ms or 0.0,
            "before_ttft": report.first_token.p50_ms if report.first_token else 0.0,
            "saving": row.saving_p50_ms,
        }
        want = {"turn": truth.turn.p50_ms, "ttft": truth.first_token.p50_ms or 0.0}
        ok = all(abs(got[k] - want[k]) <= max(0.03 * want[k], 6.0) for k in want)
        if ok:
            return got | {"truth_turn": want["turn"], "truth_ttft": want["ttft"]}
        misses.append((got, want))
    pytest.fail(f"{change}: prediction vs truth missed 3 times: {misses}")


def _run_to(path: Path, versions: list[list[object]]) -> tuple[list[Span], list[Span]]:
    """Run both versions, turn about, into `path`: (the first's spans, the second's)."""
    args = json.dumps([versions, TURNS, str(path)])
    code = PIPELINE.replace("json.loads(sys.argv[1])", f"json.loads({args!r})")
    done = run_python(code, timeout=180)
    assert done.returncode == 0, done.stderr
    spans = list(read_spans(str(path), diagnostics=Diagnostics()))
    version = {s.trace_id: s.turn_id.split("-")[0] for s in spans if s.is_turn and s.turn_id}
    first = [s for s in spans if version[s.trace_id] == "0"]
    second = [s for s in spans if version[s.trace_id] == "1"]
    assert len(first) == len(second) == 6 * TURNS
    return first, second


def test_a_stage_on_the_critical_path(tmp_path: Path) -> None:
    got = check(tmp_path, "rerank=0.5", BASE | {"rerank": 25})
    assert got["saving"] == pytest.approx(25, abs=6)  # all of it: rerank is on the path
    assert got["before_ttft"] - got["ttft"] == pytest.approx(25, abs=6)  # before the first token


def test_a_parallel_stage_with_slack_saves_nothing(tmp_path: Path) -> None:
    # bm25 (25 ms) runs beside vector (40 ms): halving it saves nothing, although half of
    # its time (12.5 ms) is what a naive per-stage estimate would promise
    got = check(tmp_path, "bm25=0.5", BASE | {"bm25": 12})
    assert abs(got["saving"]) < 3


def test_the_longer_parallel_branch_saves_down_to_the_other(tmp_path: Path) -> None:
    # vector 40 -> 20 ms: the turn waits for bm25 (25 ms) instead, so it saves 15, not 20
    got = check(tmp_path, "vector=0.5", BASE | {"vector": 20})
    assert got["saving"] == pytest.approx(15, abs=5)


def test_sequential_retrieval_made_parallel(tmp_path: Path) -> None:
    got = check(tmp_path, "parallel:vector,bm25", BASE, sequential=(True, False))
    assert got["saving"] == pytest.approx(25, abs=6)  # bm25 now hides behind vector
