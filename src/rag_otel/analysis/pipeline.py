"""One call from sources to `Report`: read, group, compute, attribute.

    from rag_otel.analysis.pipeline import analyze_sources

    report = analyze_sources(["spans.jsonl"])
    report = analyze_sources(["http://127.0.0.1:16686"], service="faq-bot", since="1h")
    report = analyze_sources(["spans.jsonl"], stage_key="component.name",
                             kind_map={"*Retriever": "retrieval"})

Large OTLP JSON-lines files are analysed on all cores (`rag_otel.analysis.parallel`);
everything else streams through one `Analyzer`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from typing import Any

from rag_otel.analysis.model import Diagnostics, InputError, Span
from rag_otel.analysis.overrides import KindMap, Overrides
from rag_otel.analysis.report import Report
from rag_otel.analysis.whatif import Change


def analyze_sources(
    sources: Sequence[str],
    *,
    format: str | None = None,
    all_spans: bool = False,
    diagnostics: Diagnostics | None = None,
    workers: int | None = None,
    keep_attributes: bool = False,
    stage_key: str | None = None,
    kind_map: KindMap = (),
    what_if: Sequence[Change] = (),
    default_what_if: bool = True,
    **live_options: Any,
) -> Report:
    """Analyse files, ``-`` (stdin), Jaeger or ``phoenix+`` URLs. Raises `InputError` for unreadable
    input, and when all the sources together hold no span at all.

    ``stage_key`` and ``kind_map`` are the user's own recognition (`rag_otel.analysis.overrides`):
    stages named by an attribute's value, kinds set by glob on a stage's name or type;
    `InputError` for a bad value.

    ``workers=1`` never starts processes; ``None`` uses the available cores for
    files large enough to be worth it. ``keep_attributes`` keeps every span attribute on the
    exemplar turns (for the HTML report); it costs parsing time, not memory. ``what_if``: changes to predict
    (`whatif.parse_change`); ``default_what_if=False`` skips the default what-if table and
    missed-parallelism check.
    """
    from rag_otel.analysis.parallel import Settings, analyze_files
    from rag_otel.analysis.readers import read_many_batches

    settings = Settings(
        format=format,
        all_spans=all_spans,
        keep_attributes=keep_attributes,
        overrides=Overrides.parse(stage_key, kind_map),
        what_if=tuple(what_if),
        default_what_if=default_what_if,
    )
    diagnostics = diagnostics if diagnostics is not None else Diagnostics()
    live = {k: v for k, v in live_options.items() if v is not None}
    if workers != 1 and not live:
        parallel = Diagnostics()
        report = analyze_files(sources, settings, diagnostics=parallel, workers=workers)
        if report is not None and (report.turn.count or report.stages):
            diagnostics.merge(parallel)
            report.diagnostics = diagnostics
            return report
    batches = _Counted(
        read_many_batches(
            sources,
            format=format,
            diagnostics=diagnostics,
            keep_attributes=settings.read_attributes,
            **live,
        )
    )
    analyzer = settings.analyzer(diagnostics)
    analyzer.feed(settings.recognise(chain.from_iterable(batches)))
    report = analyzer.report(sources)
    if batches.n == 0:
        raise InputError(", ".join(sources), None, "expected trace data, found no spans")
    return report


class _Counted(Iterable[Sequence[Span]]):
    """Batches of spans, counting the spans."""

    def __init__(self, batches: Iterable[Sequence[Span]]) -> None:
        self.batches = batches
        self.n = 0

    def __iter__(self) -> Iterator[Sequence[Span]]:
        for batch in self.batches:
            self.n += len(batch)
            yield batch
