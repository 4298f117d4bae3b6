"""ClickHouse sources against the real engine (chDB, in-process) and the file analysis.

Tables are made with the contrib ``clickhouseexporter``'s own DDL, current and older, and
filled with its value mapping (`clickhouse_tables`) from real spans: the peers' fixtures
(their own libraries' spans), a decorated rag-otel pipeline run here, and hostile trace
shapes. Each table's report must equal the file analysis of the same spans.

chDB allows one session per process: every table lives in one data directory, opened
through `rag_otel.analysis.clickhouse` (which keeps that one session).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("chdb")

from clickhouse_tables import create_and_load, rows_from_otlp
from rag_otel.analysis import clickhouse as ch
from rag_otel.analysis import clickhouse_sql as q
from rag_otel.analysis.model import Diagnostics, InputError
from rag_otel.analysis.readers.common import ReadState
from rag_otel.analysis.renderers import render
from rag_otel.analysis.sources import load
from subprocesses import run_python

HERE = Path(__file__).parent
PEERS = HERE.parent / "fixtures" / "peers"
PEER_FILES = sorted(p.name for p in PEERS.glob("*.otlp.jsonl"))
ENCODINGS = ("current", "older")

PIPELINE = """
import time, threading
from concurrent.futures import ThreadPoolExecutor
import rag_otel
rag_otel.configure(service_name="faq-bot")

@rag_otel.stage("embed", kind="embedding")
def embed(i):
    time.sleep(0.002 + 0.001 * (i % 3))

@rag_otel.stage("vector_search", kind="retrieval")
def vector(i):
    time.sleep(0.004)

@rag_otel.stage("bm25", kind="retrieval")
def bm25(i):
    time.sleep(0.003 + 0.002 * (i % 2))
    if i % 7 == 3:
        raise ValueError("index offline")

@rag_otel.stage("generate", kind="generation")
def generate(i):
    time.sleep(0.003)
    yield "a"
    time.sleep(0.004 + 0.001 * (i % 4))
    yield "b"

with ThreadPoolExecutor(2) as pool:
    for i in range(30):
        with rag_otel.turn("session-1"):
            embed(i)
            futures = [pool.submit(vector, i), pool.submit(bm25, i)]
            for f in futures:
                try:
                    f.result()
                except ValueError:
                    pass
            list(generate(i))
rag_otel.shutdown()
"""


@pytest.fixture(scope="module")
def datadir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="module")
def loader(datadir: Path) -> Iterator[Callable[[str, list[Path], str], str]]:
    made: dict[tuple[str, str], str] = {}

    def run(sql: str) -> None:
        ch._chdb_session(str(datadir)).query(sql)

    def make(table: str, files: list[Path], encoding: str) -> str:
        if (table, encoding) not in made:
            name = f"{table}_{encoding}"
            create_and_load(run, "otel", name, encoding, rows_from_otlp(files, encoding))
            made[(table, encoding)] = f"chdb://{datadir}?database=otel&table={name}"
        return made[(table, encoding)]

    return make


def _file_report(files: list[Path]) -> dict[str, Any]:
    return load([str(f) for f in files]).to_dict()


def assert_same(file: dict[str, Any], store: dict[str, Any], *, sampled: bool = False) -> None:
    """Stages and counts, percentiles to 1e-6 ms, turns and TTFT, verdict, shares."""

    def stats(a: dict[str, Any] | None, b: dict[str, Any] | None) -> None:
        if a is None or b is None:
            assert a == b or (a or b or {}).get("count", 0) == 0
            return
        for key in ("name", "kind", "source", "count", "turns", "timed", "errors"):
            assert a[key] == b[key], (a["name"], key, a[key], b[key])
        for key in ("mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"):
            assert (a[key] is None) == (b[key] is None), (a["name"], key)
            if a[key] is not None:
                assert b[key] == pytest.approx(a[key], abs=1e-6), (a["name"], key)

    assert [s["name"] for s in file["stages"]] == [s["name"] for s in store["stages"]]
    for a, b in zip(file["stages"], store["stages"], strict=True):
        stats(a, b)
    stats(file["turn"], store["turn"])
    stats(file["first_token"], store["first_token"])
    assert file["verdict"]["stage"] == store["verdict"]["stage"]
    assert file["verdict"]["first_token_stage"] == store["verdict"]["first_token_stage"]
    tolerance = 0.01 if sampled else 1e-9
    for part in ("critical_path", "first_token_critical_path"):
        if file[part] is None:
            continue
        mine, theirs = file[part]["overall"]["stages"], store[part]["overall"]["stages"]
        assert set(mine) == set(theirs)
        for name, share in mine.items():
            assert theirs[name] == pytest.approx(share, abs=tolerance), (part, name)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("fixture", PEER_FILES)
def test_peer_spans_give_the_file_analysis(
    loader: Callable[[str, list[Path], str], str], fixture: str, encoding: str
) -> None:
    files = [PEERS / fixture]
    url = loader(fixture.split(".")[0].replace("-", "_"), files, encoding)
    store = load([url]).to_dict()
    assert_same(_file_report(files), store)
    assert store["critical_path_sample"]["turns"] == store["turn"]["count"]
    assert f"clickhouseexporter {encoding} schema" in store["sources"][0]


UUID = "-023897d5-1537-4354-b3b8-d0365c47e5ef"
TOOL_CALL = '[{"role":"assistant","parts":[{"type":"tool_call","name":"lookup"}]}]'
ANSWER = '[{"role":"assistant","parts":[{"type":"reasoning"},{"type":"text","content":"a"}]}]'
DIALECTS: list[tuple[str, dict[str, Any], list[str]]] = [
    # (span name, attributes, event names): the rows and rules added after issue 20
    ("run", {"haystack.component.type": "InMemoryBM25Retriever"}, []),
    (
        "run",
        {"haystack.component.type": "OpenAIChatGenerator", "haystack.component.name": "llm"},
        [],
    ),
    ("run", {"haystack.component.type": "ToolInvoker", "haystack.component.name": "tools"}, []),
    ("run", {"haystack.component.type": "PromptBuilder"}, []),
    ("haystack.agent.step.tool", {"haystack.tool.name": "lookup_warranty"}, []),
    ("haystack.pipeline.run", {}, []),
    ("Haystack.Pipeline.Run", {}, []),  # span names match as they are
    ("retrieve", {"mlflow.spanType": '"RETRIEVER"'}, []),
    ("agent", {"mlflow.spanType": '"Chain"'}, []),
    ("broken", {"mlflow.spanType": '"LLM'}, []),  # not JSON: read as it is
    ("plain", {"mlflow.spanType": "LLM"}, []),
    ("Chat gpt-4o", {"gen_ai.operation.name": "Chat"}, []),  # named by the lower-cased value
    ("QueryFusionRetriever.retrieve" + UUID, {}, ["RetrievalStartEvent", "RetrievalEndEvent"]),
    ("HashEmbedding.get_query_embedding", {}, ["EmbeddingStartEvent"]),
    ("KeywordRerank._postprocess_nodes" + UUID, {}, []),
    ("RetrieverQueryEngine.query", {}, ["QueryStartEvent", "QueryEndEvent"]),
    ("RetrieverQueryEngine._query", {}, []),
    ("event", {"langfuse.observation.type": "event"}, ["LLMChatStartEvent"]),
    ("housekeeping", {"rag.operation": "ingest"}, ["EmbeddingStartEvent"]),
    ("rag.turn", {}, ["QueryStartEvent"]),
    # first chunks: pydantic-ai's attribute, MLflow's chunk events, tool calls
    ("chat", {"gen_ai.client.operation.time_to_first_chunk": "0.25"}, []),
    ("stream", {"mlflow.spanType": '"LLM"'}, ["mlflow.chunk.item.1", "mlflow.chunk.item.0"]),
    (
        "chat",
        {"gen_ai.response.time_to_first_chunk": "0.1", "gen_ai.output.messages": TOOL_CALL},
        [],
    ),
    ("chat", {"gen_ai.response.time_to_first_chunk": "0.1", "gen_ai.output.messages": ANSWER}, []),
    (
        "chat",
        {
            "gen_ai.response.time_to_first_chunk": "0.1",
            "gen_ai.output.messages": "[]",
            "gen_ai.response.finish_reasons": '["tool_calls"]',
        },
        [],
    ),
    (
        "chat",
        {
            "gen_ai.response.time_to_first_chunk": "0.1",
            "gen_ai.response.finish_reasons": '["stop", "TOOL_CALLS"]',
        },
        [],
    ),
    (
        "chat",
        {
            "gen_ai.response.time_to_first_chunk": "0.1",
            "gen_ai.response.finish_reasons": "[]",
            "gen_ai.completion.0.finish_reason": "function_call",
        },
        [],
    ),
    (
        "llm",
        {
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "f",
            "llm.output_messages.0.message.content": "",
        },
        ["First Token Stream Event"],
    ),
    (
        "llm",
        {
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "f",
            "llm.output_messages.0.message.content": "hi",
        },
        ["First Token Stream Event"],
    ),
]


def test_the_generated_sql_reads_each_span_as_the_file_analysis(
    loader: Callable[[str, list[Path], str], str], tmp_path: Path
) -> None:
    """Span by span: the SQL's stage, kind, source, turn candidate and first chunk equal
    what `conventions` and `first_token` make of the same span (the sampled route's `_span`)."""
    spans = [
        {
            "traceId": f"{i + 1:032x}",
            "spanId": f"{i + 1:016x}",
            "name": name,
            "kind": 1,
            "startTimeUnixNano": str(1_000_000_000_000 + i),
            "endTimeUnixNano": str(2_000_000_000_000 + i),
            "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
            "events": [
                {"name": e, "timeUnixNano": str(1_500_000_000_000 - j)}
                for j, e in enumerate(events)
            ],
        }
        for i, (name, attrs, events) in enumerate(DIALECTS)
    ]
    path = tmp_path / "dialects.jsonl"
    resource = {"resource": {"attributes": []}, "scopeSpans": [{"spans": spans}]}
    path.write_text(json.dumps({"resourceSpans": [resource]}) + "\n", encoding="utf-8")
    url = loader("dialects", [path], "current")
    query = ch.connect(ch.parse_url(url))
    table = "otel.dialects_current"
    in_sql = {
        str(r[0]): (tuple(r[1]), int(r[2]) or None)
        for r in query(f"SELECT SpanId, c, fc FROM ({q.spans_sql(table, q.Filters())})")
    }
    ids = sorted(str(r[0]) for r in query(f"SELECT DISTINCT TraceId FROM {table}"))
    fetched = query(q.fetch_sql("otel", "dialects_current", q.Filters(), ids, ch._FETCH_KEYS))
    assert len(fetched) == len(in_sql) == len(DIALECTS)
    kinds = set()
    for row in fetched:
        span = ch._span(row, ReadState(url, Diagnostics()))
        mine = (
            span.stage or "",
            span.stage_kind or "",
            span.stage_source or "",
            span.turn_candidate,
        )
        assert in_sql[span.span_id] == (mine, span.first_chunk_ns), (span.name, row[9])
        # kinds and sources travel through the per-trace arrays as indexes in these lists
        assert mine[1] in q.KINDS
        assert mine[2] in q.SOURCES
        kinds.add(span.stage_kind)
    assert {"fusion", "rerank", "tool", "retrieval", "generation"} <= kinds
    assert sum(first is not None for _, first in in_sql.values()) == 5  # 4 are tool calls
    assert len(q.KINDS) <= 32  # the bits `clickhouse_sql._FLAGS` has
    assert len(q.SOURCES) <= 128


@pytest.fixture(scope="module")
def decorated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Spans of a real decorated pipeline (threads, a streamed generation, errors)."""
    out = tmp_path_factory.mktemp("decorated") / "spans.jsonl"
    result = run_python(PIPELINE, env={"RAG_OTEL_FILE_PATH": str(out)})
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_decorated_pipeline_gives_the_file_analysis(
    loader: Callable[[str, list[Path], str], str], decorated: Path, encoding: str
) -> None:
    url = loader("decorated", [decorated], encoding)
    store = load([url]).to_dict()
    file = _file_report([decorated])
    assert_same(file, store)
    by_name = {s["name"]: s for s in store["stages"]}
    assert by_name["bm25"]["errors"] == 4  # i % 7 == 3 for i < 30
    assert store["first_token"]["count"] == 30


def test_hostile_shapes_give_the_file_analysis(
    loader: Callable[[str, list[Path], str], str],
    otlp_file: Callable[[str, list[Any]], Path],
    mk: Callable[..., Any],
    make_pipeline: Callable[..., list[Any]],
) -> None:
    spans = make_pipeline(40, seed=5, first_chunk=0.3)
    spans += [
        # an orphan stage (its parent was never exported), and a stage outside any turn
        mk("o1", "gone", 1000, 1005, stage="retrieve", trace="h1"),
        mk("o2", None, 1001, 1003, stage="rerank", trace="h2"),
        # a nested turn, and a child outside its parent (clock skew)
        mk("n1", None, 1000, 1050, turn=True, trace="h3"),
        mk("n2", "n1", 1005, 1030, turn=True, trace="h3"),
        mk("n3", "n2", 1010, 1020, stage="generate", trace="h3", first_chunk_ms=1012),
        mk("n4", "n1", 1040, 1060, stage="audit", trace="h3", error=True),
        # a duplicated span (the Collector retried a batch)
        mk("d1", None, 1000, 1020, turn=True, trace="h4"),
        mk("d2", "d1", 1002, 1009, stage="embed", trace="h4"),
        mk("d2", "d1", 1002, 1009, stage="embed", trace="h4"),
        # a trace without a turn: its root is the turn
        mk("r1", None, 1000, 1009, name="GET /ask", trace="h5"),
        mk("r2", "r1", 1001, 1004, stage="embed", trace="h5"),
    ]
    path = otlp_file("hostile.jsonl", spans)
    for encoding in ENCODINGS:
        url = loader("hostile", [path], encoding)
        assert_same(_file_report([path]), load([url]).to_dict())


def test_a_sample_smaller_than_the_table(
    loader: Callable[[str, list[Path], str], str],
    otlp_file: Callable[[str, list[Any]], Path],
    make_pipeline: Callable[..., list[Any]],
) -> None:
    path = otlp_file("many.jsonl", make_pipeline(600, seed=9, slow={"rerank": 3.0}))
    url = loader("many", [path], "current")
    report = ch.analyze_clickhouse(url, sample=150)
    assert report.sample is not None
    assert report.sample["of_turns"] == 600
    assert 150 <= report.sample["traces"] <= 151  # uniform, plus the slowest turn's trace
    assert report.sample["turns"] == report.sample["traces"]
    assert_same(_file_report([path]), report.to_dict(), sampled=True)
    assert (
        json.loads(render(report, "json"))["critical_path_sample"]["traces"]
        == report.sample["traces"]
    )


def test_time_range_service_and_limit_go_into_the_query(
    loader: Callable[[str, list[Path], str], str], decorated: Path
) -> None:
    url = loader("decorated", [decorated], "current")
    everything = load([url])
    with pytest.raises(InputError, match="found no spans"):
        load([url], service="no-such-service")
    with pytest.raises(InputError, match="found no spans"):
        load([url + "&until=2000-01-01T00:00:00Z"])
    assert load([url + "&service=faq-bot"]).turn.count == everything.turn.count
    assert load([url], limit=5).turn.count == 5
    sql = q.aggregate_sql("otel", "t", q.Filters(1, 2, "faq'bot", 3), 10)
    assert "Timestamp >= fromUnixTimestamp64Nano(toInt64(1))" in sql
    assert "ServiceName = 'faq\\'bot'" in sql


def test_bad_input_is_one_line(
    loader: Callable[[str, list[Path], str], str], datadir: Path, decorated: Path
) -> None:
    url = loader("decorated", [decorated], "current")
    base = f"chdb://{datadir}"
    cases = {
        f"{base}?database=otel&table=nope": "no table 'nope' in otel (otel: ",
        f"{base}?database=nowhere": "no database 'nowhere'",
        f"{base}?database=otel&table=bad%3Bdrop": "table: expected a name",
        f"{base}?table=x&colour=red": "unknown URL parameter 'colour'",
        "chdb:///no/such/dir": "no chDB data directory",
    }
    ch._chdb_session(str(datadir)).query(
        "CREATE TABLE IF NOT EXISTS otel.other (Timestamp DateTime64(9), TraceId String) "
        "ENGINE = MergeTree ORDER BY Timestamp"
    )
    cases[f"{base}?database=otel&table=other"] = "missing columns SpanId, ParentSpanId"
    for source, expected in cases.items():
        with pytest.raises(InputError) as info:
            load([source])
        assert expected in str(info.value)
        assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="on its own"):
        load([url, str(decorated)])
    with pytest.raises(InputError, match="--all-spans"):
        load([url], all_spans=True)


def test_the_cli(loader: Callable[[str, list[Path], str], str], decorated: Path) -> None:
    url = loader("decorated", [decorated], "older")
    ch.close_chdb()  # one process at a time opens a chDB data directory
    code = (
        "import sys; from rag_otel.cli import main; "
        f"sys.exit(main(['compare', {url + '&limit=15'!r}, {url!r}, '--format', 'json']))"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)
    bad = run_python(
        "import sys; from rag_otel.cli import main; "
        f"sys.exit(main(['analyze', {url.replace('decorated', 'missing')!r}]))"
    )
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


@pytest.mark.parametrize("fixture", PEER_FILES)
def test_hashed_stage_rows_are_named_as_the_plain_query_names_them(
    loader: Callable[[str, list[Path], str], str], fixture: str
) -> None:
    """`analyze_clickhouse` groups stage names as hashes and names them afterwards: from the
    fetched spans' names, else by classifying the table; both give the plain query's names."""
    url = loader(fixture.split(".")[0].replace("-", "_"), [PEERS / fixture], ENCODINGS[0])
    target = ch.parse_url(url)
    query = ch.connect(target)
    database, table = target.database or "otel", target.table
    plain = query(q.aggregate_sql(database, table, q.Filters(), 50))
    hashed = query(q.aggregate_sql(database, table, q.Filters(), 50, hashed=True))
    names = sorted(str(r[1]) for r in plain if int(r[0]) == q.ROW_STAGE)
    rows = [r for r in hashed if int(r[0]) == q.ROW_STAGE]
    assert len(rows) == len(names)
    from_table = ch._stage_names(query, database, table, q.Filters(), rows, set())
    assert sorted(from_table.values()) == names
    seen = {*names, "not a stage here"}
    assert ch._stage_names(query, database, table, q.Filters(), rows, seen) == from_table
    # the rows' other columns are the plain query's, row by row
    by_name = {str(r[1]): r for r in plain if int(r[0]) == q.ROW_STAGE}
    for r in rows:
        assert r[2:13] == by_name[from_table[int(r[1])]][2:13]
