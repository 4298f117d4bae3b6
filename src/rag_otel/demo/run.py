"""`rag-otel demo`: build (or reopen) the index, ask N questions, then analyse the spans.

The steps are those of any traced application: set up, ``configure()``, serve
turns, ``shutdown()``; then the analysis library reads the spans back from the
file and prints per-stage percentiles and critical-path shares, next to the
retrieval quality measured against the gold passages.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import rag_otel
from rag_otel.demo.corpus import Corpus, Question, corpus_credit, load_corpus
from rag_otel.demo.index import Index, default_cache_dir, open_index
from rag_otel.demo.llm import ChatEndpoint, LLMError
from rag_otel.demo.models import (
    CrossEncoder,
    Embedder,
    ModelNotFound,
    cross_encoder_files,
)
from rag_otel.demo.pipeline import Answer, Pipeline, Rerank, Retrieval
from rag_otel.demo.quality import MRR_AT, RECALL_AT, Quality, pipeline_quality

if TYPE_CHECKING:
    from rag_otel.analysis.report import Report

SERVICE_NAME = "rag-otel-demo"


@dataclass(frozen=True, slots=True)
class Options:
    questions: int = 100
    retrieval: Retrieval = "parallel"
    rerank: Rerank = "cross-encoder"
    cache_dir: Path | None = None
    out_dir: Path = Path("rag-otel-demo")
    spans: Path | None = None
    faq_limit: int | None = None
    distractors: int | None = None
    reranker_dir: Path | None = None
    llm_timeout: float = 30.0


class DemoError(Exception):
    """A one-line reason the demo cannot run or finish."""


@dataclass(frozen=True, slots=True)
class Setup:
    corpus: Corpus
    index: Index
    pipeline: Pipeline
    notices: list[str]
    ready_seconds: float


def set_up(options: Options, console: Console) -> Setup:
    """Load the corpus and models and open (or build) the index: everything before turn one."""
    start = time.perf_counter()
    notices: list[str] = []
    corpus = load_corpus(options.faq_limit, options.distractors)
    if not corpus.questions:
        raise DemoError("the corpus slice has no questions: use --faq 1 or more")
    try:
        embedder = Embedder()
    except ModelNotFound as exc:
        raise DemoError(str(exc)) from None
    cache_dir = options.cache_dir or default_cache_dir()
    index = open_index(corpus, embedder, cache_dir, _BuildProgress(console))
    if index.build_seconds is not None:
        console.print(
            f"index: built in {index.build_seconds:.1f} s, cached in {index.path}", highlight=False
        )

    rerank, cross_encoder = options.rerank, None
    if rerank == "cross-encoder":
        try:
            cross_encoder = CrossEncoder(cross_encoder_files(options.reranker_dir))
        except ModelNotFound as exc:
            rerank = "cosine"
            notices.append(f"no cross-encoder: {exc}; reranking by embedding cosine instead")
    try:
        llm = ChatEndpoint.from_env(timeout=options.llm_timeout)
    except LLMError as exc:
        raise DemoError(str(exc)) from None
    if llm is None:
        notices.append(
            "generation: extractive answers (no LLM); set RAG_OTEL_DEMO_MODEL and OPENAI_BASE_URL "
            "to stream from an OpenAI-compatible endpoint"
        )
    pipeline = Pipeline(
        index,
        embedder,
        retrieval=options.retrieval,
        rerank=rerank,
        cross_encoder=cross_encoder,
        llm=llm,
    )
    return Setup(corpus, index, pipeline, notices, time.perf_counter() - start)


class _BuildProgress:
    """A rich progress bar that appears only if the index has to be built."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar: Progress | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = Progress(
                TextColumn("embedding passages"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
            )
            self.bar.start()
            self.bar.add_task("embed", total=total)
        self.bar.update(self.bar.task_ids[0], completed=done)
        if done >= total:
            self.bar.stop()


async def ask_all(pipeline: Pipeline, questions: list[Question], console: Console) -> list[Answer]:
    """One turn per question, one after another (so stage latencies are not mixed up)."""
    answers = []
    with Progress(
        TextColumn("asking questions"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("ask", total=len(questions))
        for n, q in enumerate(questions):
            answers.append(await pipeline.answer(q.text, session_id=f"demo-{n}"))
            bar.advance(task)
    return answers


def spans_path(options: Options, pipeline: Pipeline) -> Path:
    if options.spans is not None:
        return options.spans
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return options.out_dir / f"spans-{stamp}-{pipeline.retrieval}-{pipeline.rerank_method}.jsonl"


def run(options: Options, console: Console | None = None) -> int:
    if console is None:
        console = Console(highlight=False)
        if not console.is_terminal:  # piped: wide enough for the tables
            console = Console(highlight=False, width=120)
    setup = set_up(options, console)
    for notice in setup.notices:
        console.print(f"note: {notice}", style="yellow", markup=False, soft_wrap=True)
    pipeline, corpus = setup.pipeline, setup.corpus
    console.print(
        f"ready in {setup.ready_seconds:.1f} s: {len(corpus.passages)} passages, "
        f"retrieval {pipeline.retrieval}, rerank {pipeline.rerank_method}",
        highlight=False,
    )

    path = spans_path(options, pipeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # one fresh file per run
    # Spans to `path` as OTLP JSON lines, and over OTLP too when OTEL_EXPORTER_OTLP_ENDPOINT
    # is set; the chromadb and rank-bm25 calls get their own spans (instrument=True).
    tracing = rag_otel.configure(service_name=SERVICE_NAME, instrument=True, file_path=path)
    questions = corpus.sample_questions(options.questions)
    try:
        started = time.perf_counter()
        answers = asyncio.run(ask_all(pipeline, questions, console))
        elapsed = time.perf_counter() - started
    except LLMError as exc:
        raise DemoError(str(exc)) from None
    finally:
        rag_otel.shutdown()

    console.print(f"\nQ: {questions[0].text}", style="bold", highlight=False, markup=False)
    console.print(f"A: {answers[0].text}", highlight=False, markup=False)
    where = ", ".join(tracing.exporters) or "nowhere (tracing is off: OTEL_SDK_DISABLED)"
    console.print(f"\n{len(questions)} turns in {elapsed:.1f} s; spans: {where}", soft_wrap=True)
    if tracing.file_path is not None:
        report = print_analysis(tracing.file_path, console)
        html = write_html_report(report, tracing.file_path, options.out_dir)
        console.print(f"HTML report: {html}", soft_wrap=True, highlight=False)
    else:
        console.print(
            "no local span file (exporters chosen in the environment), so no latency report "
            "here: run rag-otel analyze where the spans went",
            style="yellow",
        )
    print_quality(pipeline_quality(answers, questions, pipeline.rerank_method != "none"), console)
    console.print(corpus_credit().line(), style="dim", soft_wrap=True)
    if tracing.file_path is not None:
        console.print(
            f"Compare runs: rag-otel compare {tracing.file_path} OTHER.jsonl "
            "(e.g. the spans of rag-otel demo --retrieval sequential)",
            soft_wrap=True,
        )
    return 0


def print_analysis(path: Path, console: Console) -> Report:
    """The analysis library, on the spans just written: per-stage percentiles, critical path."""
    from rag_otel.analysis.model import Diagnostics
    from rag_otel.analysis.readers import read_spans
    from rag_otel.analysis.renderers import print_table
    from rag_otel.analysis.report import analyze

    diagnostics = Diagnostics()
    spans = read_spans(str(path), diagnostics=diagnostics, keep_attributes=True)
    report = analyze(spans, diagnostics=diagnostics, sources=[str(path)])
    console.print()
    print_table(report, console)
    return report


def write_html_report(report: Report, spans: Path, out_dir: Path) -> Path:
    """``report-<run>.html`` next to the run's spans: the HTML report of the run."""
    from rag_otel.analysis.html import report_html

    path = out_dir / f"report-{spans.stem.removeprefix('spans-')}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(report), encoding="utf-8")
    return path


def print_quality(rows: list[Quality], console: Console) -> None:
    from rag_otel.analysis.tables import TITLE_STYLE, FitTable

    table = FitTable("retrieval quality against the gold passages", title_style=TITLE_STYLE)
    table.add_column("after stage", key=True, justify="left", style="bold")
    for k in RECALL_AT:
        table.add_column(f"recall@{k}")
    table.add_column(f"MRR@{MRR_AT}")
    for row in rows:
        table.add_row(row.stage, *(f"{row.recall[k]:.2f}" for k in RECALL_AT), f"{row.mrr:.3f}")
    table.print(console)
