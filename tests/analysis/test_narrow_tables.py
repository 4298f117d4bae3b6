"""Tables never cut a number: piped runs at COLUMNS=60 and 40, checked against the JSON output.

Each number of the JSON output of the same analysis (stage stats, critical-path shares,
compare deltas and intervals) must appear whole in a cell of its own row (rows found by
their key cells, whichever part of a split table they are in), and no cell holds '…'.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from rag_otel.analysis.model import Span
from rag_otel.analysis.tables import FitTable, stacked_lines

OtlpFile = Callable[[str, list[Span]], Path]
Pipeline = Callable[..., list[Span]]

WIDTHS = (60, 40)
LATENCY_FIELDS = (
    "count",
    "turns",
    "errors",
    "mean_ms",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
)
BORDERS = "│┃║|"
STACKED = "\0stacked"
# a number as the tables print it: 1,234 / 12.5 / -3.0 / +12.5 / 1.23e+03
NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.(\d+))?(?:e([-+]\d+))?")


def run_piped(*args: str, columns: int | None = None) -> str:
    """`rag-otel ARGS | cat` at a terminal width of `columns` (stdout is a pipe)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "RAG_OTEL_")) and k not in ("COLUMNS", "LINES")
    }
    if columns is not None:
        env.update(COLUMNS=str(columns), LINES="50", TERM="xterm-256color")
    result = subprocess.run(
        [sys.executable, "-m", "rag_otel", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout


def rows(text: str) -> list[list[str]]:
    """The cells of every table body row in `text`; a stacked block (when even one column
    does not fit beside the keys: its key cells on a line, then ``  header: value`` lines)
    counts as a row too."""
    out: list[list[str]] = []
    for line in text.splitlines():
        if line[:1] in BORDERS:
            out.append([c.strip() for c in re.split(f"[{BORDERS}]", line)[1:-1]])
        elif line.startswith("  ") and ": " in line and out and out[-1][0] == STACKED:
            out[-1].append(line.partition(": ")[2])
        elif line and not line.startswith(" "):
            out.append([STACKED, line])
    return out


def cells_of(table_rows: Iterable[list[str]], key: list[str]) -> list[str]:
    """Every non-key cell of the rows whose first cells are `key` (in all parts of a table)."""
    cells = [c for r in table_rows if r[: len(key)] == key for c in r[len(key) :]]
    stacked = [STACKED, " ".join(key)]
    return cells + [c for r in table_rows if r[:2] == stacked for c in r[2:]]


def shown(cells: list[str], value: float) -> bool:
    """`value` is printed whole in one of `cells`, rounded as the cell's own digits say."""
    for cell in cells:
        for match in NUMBER.finditer(cell):
            text = match.group(0)
            decimals = len(match.group(1) or "")
            exponent = int(match.group(2) or 0)
            printed = float(text.replace(",", ""))
            if abs(printed - value) <= 0.5 * 10 ** (exponent - decimals) * (1 + 1e-9):
                return True
    return False


def assert_whole(cells: list[str], value: float | int | None, what: str) -> None:
    if value is None:
        assert "-" in cells, what
        return
    assert shown(cells, float(value)), f"{what}: {value!r} not whole in {cells}"


@pytest.fixture
def two_runs(make_pipeline: Pipeline, otlp_file: OtlpFile) -> tuple[Path, Path]:
    # generate streams: the (first token) row and its critical-path table are checked too
    base = otlp_file("base.jsonl", make_pipeline(120, seed=3, first_chunk=0.2))
    new = otlp_file("new.jsonl", make_pipeline(120, seed=4, slow={"rerank": 1.6}, first_chunk=0.2))
    return base, new


@pytest.mark.parametrize("columns", WIDTHS)
def test_analyze_piped_keeps_every_number(two_runs: tuple[Path, Path], columns: int) -> None:
    base, _ = two_runs
    doc: dict[str, Any] = json.loads(run_piped("analyze", str(base), "--format", "json"))
    text = run_piped("analyze", str(base), columns=columns)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines() if line[:1] in "┏┃┡│└") <= columns
    latency, _, shares = text.partition("share of turn time on the critical path")
    shares, _, first_token_shares = shares.partition("share of time to first token")
    latency_rows = rows(latency)
    assert doc["first_token"]["timed"] == 120
    for stats in [*doc["stages"], doc["turn"], doc["first_token"]]:
        cells = cells_of(latency_rows, [stats["name"]])
        for field in LATENCY_FIELDS:
            assert_whole(cells, stats[field], f"{stats['name']} {field}")
    for key, part in (("critical_path", shares), ("first_token_critical_path", first_token_shares)):
        share_rows = rows(part)
        for band in ("overall", "p50_turns", "p95_turns"):
            cp = doc[key][band]
            for name, share in [*cp["stages"].items(), ("(untraced)", cp["untraced"])]:
                assert_whole(cells_of(share_rows, [name]), 100 * share, f"{key} {band} {name}")
            assert f"({cp['turns']})" in part


@pytest.mark.parametrize("columns", WIDTHS)
def test_compare_piped_keeps_every_number(two_runs: tuple[Path, Path], columns: int) -> None:
    base, new = two_runs
    args = ("compare", str(base), str(new), "--fail-if-slower", "10")
    doc: dict[str, Any] = json.loads(run_piped(*args, "--format", "json"))
    text = run_piped(*args, columns=columns)
    assert "…" not in text
    table_rows = rows(text)
    assert doc["deltas"]
    for d in doc["deltas"]:
        cells = cells_of(table_rows, [d["stage"], d["quantile"]])
        what = f"{d['stage']} {d['quantile']}"
        for field in ("baseline_ms", "new_ms", "change_pct", "ci_low_pct", "ci_high_pct"):
            assert_whole(cells, d[field], f"{what} {field}")
        assert f"{d['baseline_n']}/{d['new_n']}" in cells, what
    assert any(d["regression"] for d in doc["deltas"])  # rerank 1.6x slower
    assert {d["quantile"] for d in doc["deltas"] if d["stage"] == "(first token)"} == {"p50", "p95"}


def test_wide_console_keeps_one_table(two_runs: tuple[Path, Path]) -> None:
    text = run_piped("analyze", str(two_runs[0]), columns=200)
    # latency, both critical paths (turn, first token) and what-if, each whole
    assert text.count("┏") == 4


def test_too_narrow_for_one_column_prints_stacked() -> None:
    from rich.console import Console

    table = FitTable("t")
    table.add_column("stage", key=True, justify="left")
    table.add_column("a very long header")
    table.add_row("retrieve.vector_search", "1,234")
    table.add_section()
    table.add_row("(turn)", "98.76")
    console = Console(width=20, color_system=None, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    table.print(console)
    text = console.export_text()
    assert "…" not in text
    assert "  a very long header: 1,234" in text
    assert "  a very long header: 98.76" in text
    assert [line for line, _ in stacked_lines(table)][:2] == [
        "retrieve.vector_search",
        "  a very long header: 1,234",
    ]
