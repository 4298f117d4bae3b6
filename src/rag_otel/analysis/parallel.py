"""Analyse large OTLP JSON-lines files on several cores.

    from rag_otel.analysis.parallel import Settings, analyze_files

    settings = Settings(what_if=(parse_change("rerank=0.5"),))  # the options, sent to each worker
    report = analyze_files(["spans.jsonl"], settings, diagnostics=Diagnostics())  # None: not split

A plain (uncompressed) JSON-lines file is cut into one byte range per worker
process at line boundaries; each worker reads and analyses its range with the
ordinary reader and `Analyzer`, and the results are merged. Traces that may
straddle a cut (those first seen near the start of a range, or still open at
its end) are sent back as spans and analysed once the pieces are joined, so the
result is the same as a sequential analysis. Anything else (gzip, stdin, a URL,
one JSON document, a file too small to be worth it) returns None, and the
caller analyses sequentially; so does any input error, so that the error
message names the right line.
"""

from __future__ import annotations

import io
import itertools
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rag_otel.analysis.model import Diagnostics, InputError, Span
from rag_otel.analysis.overrides import Overrides
from rag_otel.analysis.report import Analyzer, Report
from rag_otel.analysis.traces import build_trace
from rag_otel.analysis.whatif import Change

MIN_BYTES_PER_WORKER = 32 * 1024 * 1024
"""Below this many bytes per worker, starting processes costs more than it saves."""
CHUNK_WINDOW = 10_000
"""Spans near a cut held back for joining (and the idle window inside a chunk)."""
_SNIFF_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Settings:
    """One analysis's options, as `pipeline.analyze_sources` takes them; picklable, sent whole to
    each worker (an option added here reaches every chunk)."""

    format: str | None = None
    all_spans: bool = False
    keep_attributes: bool = False
    overrides: Overrides | None = None
    """``--stage-key`` and ``--kind-map``, parsed."""
    what_if: tuple[Change, ...] = ()
    default_what_if: bool = True

    def analyzer(self, diagnostics: Diagnostics) -> Analyzer:
        return Analyzer(
            all_spans=self.all_spans,
            diagnostics=diagnostics,
            what_if=self.what_if,
            default_what_if=self.default_what_if,
        )

    @property
    def read_attributes(self) -> bool:
        """Whether readers keep every attribute: the HTML report shows them, overrides read them."""
        return self.keep_attributes or bool(self.overrides)

    def recognise(self, spans: Iterable[Span]) -> Iterable[Span]:
        """The spans with ``--stage-key`` / ``--kind-map`` applied (as they are without)."""
        overrides = self.overrides
        if not overrides:
            return spans
        return overrides.apply(spans, keep_attributes=self.keep_attributes)


Task = tuple[str, int, int, bool, bool, Settings]
"""A byte range ``[start, end)`` of a path, whether to hold back its head and tail, the settings."""


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _splittable(path: str, fmt: str | None) -> bool:
    """A regular, uncompressed file whose first line is one OTLP JSON object."""
    if fmt not in (None, "otlp", "otlp-jsonl") or not os.path.isfile(path):
        return False
    import orjson

    with open(path, "rb") as f:
        first = f.readline(_SNIFF_BYTES)
        if not first.endswith(b"\n") or f.read(1) == b"":
            return False  # one line (a single document) or longer than we sniff
    try:
        doc = orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and "resourceSpans" in doc


def _cuts(path: str, parts: int) -> list[tuple[int, int]]:
    size = os.path.getsize(path)
    bounds = [0]
    with open(path, "rb") as f:
        for i in range(1, parts):
            f.seek(max(size * i // parts, bounds[-1]))
            f.readline()  # to the start of the next line
            pos = f.tell()
            if pos < size:
                bounds.append(pos)
    bounds.append(size)
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


class _Range(io.RawIOBase):
    """Bytes ``[start, end)`` of a file, as a readable stream."""

    def __init__(self, path: str, start: int, end: int) -> None:
        self._f = open(path, "rb")  # noqa: SIM115 (closed by close())
        self._f.seek(start)
        self._left = end - start
        self.name = path
        self.lines = 0
        """Newlines read so far (to turn the reader's line numbers into the file's)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        data = self._f.read(min(len(buffer), self._left))
        n = len(data)
        buffer[:n] = data
        self.lines += data.count(b"\n")
        self._left -= n
        return n

    def close(self) -> None:
        self._f.close()
        super().close()


def _analyse_range(task: Task) -> tuple[Analyzer, list[list[Span]], int] | None:
    path, start, end, hold_head, hold_tail, settings = task
    from rag_otel.analysis.readers import read_spans

    diagnostics = Diagnostics()
    analyzer = settings.analyzer(diagnostics)
    held: list[list[Span]] = []
    raw = _Range(path, start, end)
    with io.BufferedReader(raw, buffer_size=1 << 20) as stream:
        try:
            spans = read_spans(
                stream,
                format=settings.format,
                diagnostics=diagnostics,
                keep_attributes=settings.read_attributes,
            )
            analyzer.feed(
                settings.recognise(spans),
                idle_window=CHUNK_WINDOW,
                held=held,
                hold_head=CHUNK_WINDOW if hold_head else 0,
                hold_tail=hold_tail,
            )
        except InputError:
            return None  # re-read sequentially for a message with the right line number
        return analyzer, held, raw.lines


def _shift_lines(diagnostics: Diagnostics, path: str, offset: int) -> None:
    """Make the chunk-relative line numbers in warning examples the file's."""
    if not offset:
        return
    pattern = re.compile(re.escape(path) + r": line (\d+)")

    def shift(m: re.Match[str]) -> str:
        return f"{path}: line {int(m.group(1)) + offset}"

    for details in diagnostics.examples.values():
        details[:] = [pattern.sub(shift, d) for d in details]


def analyze_files(
    paths: Sequence[str],
    settings: Settings,
    *,
    diagnostics: Diagnostics,
    workers: int | None = None,
    min_bytes_per_worker: int = MIN_BYTES_PER_WORKER,
) -> Report | None:
    """The report of `paths` analysed in parallel, or None when they are not worth splitting."""
    workers = workers or default_workers()
    if workers < 2 or not paths or not all(_splittable(p, settings.format) for p in paths):
        return None
    total = sum(os.path.getsize(p) for p in paths)
    workers = min(workers, total // max(min_bytes_per_worker, 1))
    if workers < 2:
        return None
    ranges = []
    for p in paths:
        share = max(1, round(workers * os.path.getsize(p) / total))
        ranges += [(p, a, b) for a, b in _cuts(p, share)]
    tasks: list[Task] = [
        (p, a, b, i > 0, i < len(ranges) - 1, settings) for i, (p, a, b) in enumerate(ranges)
    ]
    # imported here: a sequential analysis (every small input) need not load them (~10 ms)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = list(pool.map(_analyse_range, tasks))
    if any(r is None for r in results):
        return None
    merged = settings.analyzer(diagnostics)
    pieces: dict[str, list[Span]] = {}
    lines_before: dict[str, int] = {}
    for (path, _, _), result in zip(ranges, results, strict=True):
        assert result is not None
        analyzer, held, lines = result
        _shift_lines(analyzer.diagnostics, path, lines_before.get(path, 0))
        lines_before[path] = lines_before.get(path, 0) + lines
        merged.merge(analyzer)
        for group in held:
            pieces.setdefault(group[0].trace_id, []).extend(group)
    for group in pieces.values():
        merged.add(build_trace(group, all_spans=settings.all_spans, diagnostics=diagnostics))
    return merged.report(list(paths))
