"""Group a stream of spans into traces, and each trace into turns made of stages.

    for trace in group_traces(spans, diagnostics):
        for turn in build_trace(trace, diagnostics=diagnostics).turns:
            ...

A *turn* is each ``rag.turn`` span; in a trace without one, the outermost span another
convention marks as a turn (OpenLLMetry ``workflow``, GenAI ``invoke_workflow`` /
``invoke_agent`` anywhere; OpenInference ``CHAIN`` / ``AGENT`` at a root); in a trace
with neither, each root span (an orphan only if it is not a stage; a trace root that is
a stage is its turn and its own stage). A *stage* is a span a convention
recognises (`rag_otel.analysis.conventions`: ``rag.stage`` first); with
``all_spans=True`` every span is, named by its stage or else its span name. A turn
candidate that is not its trace's turn is a stage.

Nothing here is fatal. Duplicate span ids, orphans (parent not in the trace),
cycles in parent links, spans without timestamps and children outside their
parent's interval (clock skew) are repaired for the analysis and counted in
`Diagnostics` under the codes in `WARNINGS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from operator import attrgetter
from typing import TypeAlias

import msgspec

from rag_otel.analysis.conventions import (
    OTHER,
    SOURCE_ALL_SPANS,
    SOURCE_RAG_OTEL,
    SOURCE_TRACE_ROOT,
)
from rag_otel.analysis.model import TURN_ANYWHERE, TURN_AT_ROOT, Diagnostics, Span

# Diagnostic codes this module counts, with the sentence the warnings summary shows.
WARNINGS: dict[str, str] = {
    "duplicate-span-id": "spans repeated with the same trace and span id (the first with timestamps kept)",
    "orphan-span": "spans whose parent is not in the trace (treated as roots)",
    "parent-cycle": "cycles in parent links (broken; the span met first became a root)",
    "untimed-stage": "stage spans without a start or end time (counted, not timed; their time stays with their parent)",
    "negative-duration": "spans ending before they start (treated as without timestamps)",
    "incomplete-turn": "turns without a start or end time (not in turn stats or attribution)",
    "clock-skew": "children starting before or ending after their parent (clipped for attribution)",
    "stage-outside-turn": "stage spans not inside any turn (in stage stats, not in attribution)",
    "nested-turn": "turns inside another turn (each analysed; the inner one is not a stage of the outer)",
    "turn-from-root": "traces without a turn span of any convention (each root span used as a turn)",
    "late-span": "spans arriving after their trace was analysed (in stage stats, not in attribution)",
}

# A trace is analysed once no span of it has been read for this many spans.
DEFAULT_IDLE_WINDOW = 50_000
_EVICT_EVERY = 4096


def stage_name(span: Span, all_spans: bool) -> str | None:
    """The stage a span is counted under: ``rag.stage``; with ``all_spans``, else its name."""
    if span.stage is not None:
        return span.stage
    if all_spans and not span.is_turn:
        return span.name
    return None


def group_traces(
    spans: Iterable[Span],
    diagnostics: Diagnostics,
    *,
    idle_window: int = DEFAULT_IDLE_WINDOW,
    held: list[list[Span]] | None = None,
    hold_head: int = 0,
    hold_tail: bool = False,
) -> Iterator[tuple[list[Span], bool]]:
    """Yield ``(spans of one trace, late)`` as soon as each trace is complete.

    A trace is complete once no span of it has been read for about ``idle_window``
    spans, so memory is bounded by the spans of the traces in flight, not the
    file. A span of a trace already yielded comes back in a group with
    ``late=True`` (counted as ``late-span``).

    For a chunk of a larger input (see `rag_otel.analysis.parallel`): the traces
    first seen in the first ``hold_head`` spans and, with ``hold_tail``, those still
    open at the end go to ``held`` instead: their other spans may be in the
    neighbouring chunk.
    """
    # Per span only a dict lookup and an append: the spans come in runs (`islice`) up
    # to the next eviction pass or the end of the head, so no per-span check for those.
    # Every _EVICT_EVERY spans the oldest traces are checked: one that grew since the
    # last check is stamped active now and moved to the back; one idle since before the
    # horizon is yielded.
    pending: dict[str, list[Span]] = {}
    stamps: dict[str, tuple[int, int]] = {}  # trace id -> (size when stamped, span count then)
    done: set[str] = set()
    late: set[str] = set()
    head: set[str] = set()  # trace ids first seen in the first `hold_head` spans
    n = 0
    rest = iter(spans)
    while True:
        stop = n - n % _EVICT_EVERY + _EVICT_EVERY
        if n < hold_head < stop:
            stop = hold_head
        run = enumerate(islice(rest, stop - n), n + 1)
        for n, span in run:  # n: spans read so far
            tid = span.trace_id
            group = pending.get(tid)
            if group is not None:
                group.append(span)
            else:
                if tid in done:
                    late.add(tid)
                    diagnostics.warn("late-span", f"trace {tid} span {span.span_id} ({span.name})")
                pending[tid] = [span]
                stamps[tid] = (1, n)
        if n != stop:  # the input ended
            break
        if n % _EVICT_EVERY == 0:
            horizon = n - idle_window
            for tid in list(pending):
                group = pending[tid]
                size, seen = stamps[tid]
                if len(group) != size:
                    del pending[tid]
                    pending[tid] = group
                    stamps[tid] = (len(group), n)
                elif seen <= horizon:
                    del pending[tid], stamps[tid]
                    if held is not None and tid in head:
                        held.append(group)
                    else:
                        yield group, _finish(tid, done, late)
                else:
                    break
        if n == hold_head:
            head = set(pending)
    if n < hold_head:
        head = set(pending)
    if held is not None and hold_tail:
        held.extend(pending.values())
        return
    for tid, group in pending.items():
        if held is not None and tid in head:
            held.append(group)
        else:
            yield group, _finish(tid, done, late)


def _finish(tid: str, done: set[str], late: set[str]) -> bool:
    if tid in late:
        late.discard(tid)
        return True
    done.add(tid)
    return False


class Node(msgspec.Struct, gc=False):
    """A span placed in its turn: interval clipped to its parent's, and who its time is charged to.

    A msgspec ``Struct`` (built in C: one per span in a turn), untracked by the garbage
    collector: a tree holds no cycle."""

    span: Span
    start: int
    end: int
    key: str | None
    """Stage charged for this node's self time; None for the turn's own (untraced) time."""
    children: list[Node] = msgspec.field(default_factory=list)


class Turn(msgspec.Struct, gc=False):
    """One turn: its span, its tree, the stages in it. A msgspec ``Struct`` as `Node` is
    (built in C, one per turn; it holds no cycle)."""

    span: Span
    root: Node
    stages: set[str]
    """Stages that appear in this turn."""
    source: str = SOURCE_TRACE_ROOT
    """Convention that made `span` the turn (`conventions.SOURCE_*`), or ``trace-root``."""
    first_chunks: list[Node] | None = None
    """The turn's nodes whose span has a first-chunk time (None when none has)."""
    flat: bool = False
    """True when `root` is charged to no stage and its children are known to be leaves
    inside it, none FOLLOWS_FROM (the commonest shape, built by `build_trace`'s fast
    route): walks may take a shortcut. False says nothing (a flat turn from the general
    route, or another shape)."""

    @property
    def duration_ns(self) -> int:
        return self.root.end - self.root.start


StageSample: TypeAlias = tuple[str, int | None, bool, int | None, int | None]
"""(stage, duration ns or None, error, turn index or None, start offset in the turn or None).

The turn index points into `Trace.turns` (None outside any analysed turn); the offset
(start relative to the turn's start) orders stages as the pipeline runs them. A plain
tuple: there is one per stage span, on the hot path of large inputs.
"""


@dataclass(frozen=True, slots=True)
class StageInfo:
    """What a stage is: its kind and the convention it was recognised from."""

    kind: str
    source: str


class Trace(msgspec.Struct, gc=False):
    """One trace's turns and stage samples (a msgspec ``Struct``, as `Turn` is).

    Read `stage_samples` and `stage_first_spans`, not `samples` and `first_spans`: a
    `flat` trace leaves those empty (its samples are its turn's children)."""

    turns: list[Turn]
    samples: list[StageSample]
    """Empty when `flat`."""
    incomplete_turns: list[Span] = msgspec.field(default_factory=list)
    """Turn spans without timestamps (their stages are sampled, the turn is not)."""
    first_spans: dict[str, Span] = msgspec.field(default_factory=dict)
    """Per stage name sampled, the first span of it met: `stage_info` tells what it is.
    Empty when `flat`."""
    flat: bool = False
    """Built by `build_trace`'s fast route: one `Turn.flat` turn, and one sample per
    child of it charged to a stage (in the children's order, each timed, in the turn,
    offset from its start). `Analyzer.add` reads them from the children, without a
    tuple per sample built here and taken apart there."""

    def stage_samples(self) -> list[StageSample]:
        """One sample per stage span (`StageSample`), in the order the trace was walked."""
        if not self.flat:
            return self.samples
        root = self.turns[0].root
        return [
            (k.key, k.end - k.start, k.span.error, 0, k.start - root.start)
            for k in root.children
            if k.key is not None
        ]

    def stage_first_spans(self) -> dict[str, Span]:
        """Per stage sampled, the first span of it met (`first_spans`)."""
        if not self.flat:
            return self.first_spans
        first: dict[str, Span] = {}
        for kid in self.turns[0].root.children:
            if kid.key is not None and kid.key not in first:
                first[kid.key] = kid.span
        return first


def stage_info(span: Span) -> StageInfo:
    """The kind and source of the stage `span` is counted under (``all-spans`` when only
    ``--all-spans`` made it a stage)."""
    if span.stage is None:
        return StageInfo(OTHER, SOURCE_ALL_SPANS)
    return StageInfo(span.stage_kind or OTHER, span.stage_source or SOURCE_RAG_OTEL)


def build_trace(
    spans: list[Span],
    *,
    all_spans: bool = False,
    diagnostics: Diagnostics,
    late: bool = False,
) -> Trace:
    """Repair one trace's spans and split them into turns and stage samples.

    One walk from the roots does it all: it places every span in the turn above
    it, builds each turn's tree of `Node` (clipped), and samples the stages.
    With ``late=True`` (spans of a trace already analysed) only stage samples are built.
    The commonest shape, one turn of leaf stages, takes a faster route to the same trace.
    """
    if not late:
        flat = _flat_trace(spans, all_spans)
        if flat is not None:
            return flat
    return _build_walked(spans, all_spans, diagnostics, late)


def _build_walked(
    spans: list[Span], all_spans: bool, diagnostics: Diagnostics, late: bool
) -> Trace:
    """`build_trace` by a walk from the roots: every shape, repairs and warnings."""
    by_id = {s.span_id: s for s in spans}
    if len(by_id) != len(spans):
        by_id = _dedupe(spans, diagnostics)
    trace = Trace([], [])
    if late:
        for s in by_id.values():
            name = stage_name(s, all_spans)
            if name is not None:
                trace.samples.append((name, _duration(s, diagnostics), s.error, None, None))
                if name not in trace.first_spans:
                    trace.first_spans[name] = s
        return trace

    children: dict[str, list[Span]] = {}
    roots: list[Span] = []
    has_turn = False
    for s in by_id.values():
        has_turn = has_turn or s.is_turn
        parent = s.parent_id
        if parent is None:
            roots.append(s)
        elif parent in by_id and parent != s.span_id:
            kids = children.get(parent)
            if kids is None:
                children[parent] = [s]
            else:
                kids.append(s)
        elif parent == s.span_id:
            diagnostics.warn("parent-cycle", f"span {s.span_id} ({s.name}) is its own parent")
            roots.append(s)
        else:
            diagnostics.warn("orphan-span", f"span {s.span_id} ({s.name}): parent {parent}")
            roots.append(s)
    # How turns are found: 0 rag.turn spans only; 1 candidates; 2 roots that are not stages
    mode = _BY_RAG_TURN
    if not has_turn:
        if any(r.turn_candidate == TURN_AT_ROOT for r in roots) or any(
            s.turn_candidate == TURN_ANYWHERE for s in by_id.values()
        ):
            mode = _BY_CANDIDATE
        else:
            mode = _BY_ROOT
            if any(r.stage is None or r.parent_id is None for r in roots):
                diagnostics.warn("turn-from-root", f"trace {spans[0].trace_id}")

    reached = _walk(roots, children, trace, mode, all_spans, diagnostics)
    if reached < len(by_id):
        # Whatever no root reaches hangs off a cycle: cut each cycle once.
        seen = _reachable(roots, children)
        for s in by_id.values():
            if s.span_id in seen:
                continue
            diagnostics.warn("parent-cycle", f"span {s.span_id} ({s.name})")
            assert s.parent_id is not None
            children[s.parent_id].remove(s)
            seen |= _reachable([s], children)
            _walk([s], children, trace, mode, all_spans, diagnostics)
    return trace


_BY_RAG_TURN = 0
_BY_CANDIDATE = 1
_BY_ROOT = 2

_SPAN_ID = attrgetter("span_id")
_KEY = attrgetter("key")


def _flat_trace(spans: list[Span], all_spans: bool) -> Trace | None:
    """The trace `_build_walked` would build, for the commonest shape only; None for any other.
    Its samples and first spans are left to its tree (`Trace.flat`).

    The shape: one ``rag.turn`` root, every other span its timed child inside its
    interval, no turn or FOLLOWS_FROM among them, no repeated span id (one turn of leaf
    stages, as rag-otel's own pipelines write). Nothing to repair or warn about, so one
    loop over the children does it, without `_walk`'s stack, its children index and its
    checks for other shapes: an inline copy of `_walk` for that shape, in `_walk`'s order
    (children in reverse input order, as its stack pops them).
    tests/analysis/test_traces.py checks that both routes give the same trace and
    attribution.
    """
    root = spans[-1]  # a span ends after its children: the turn is mostly written last
    if root.parent_id is not None:
        root = next((s for s in spans if s.parent_id is None), root)
    rs, re, rid = root.start_ns, root.end_ns, root.span_id
    if (
        root.parent_id is not None
        or not root.is_turn
        or rs is None
        or re is None
        or re < rs
        or len(spans) < 2
        or len(set(map(_SPAN_ID, spans))) != len(spans)
    ):
        return None
    nodes: list[Node] = []
    chunks: list[Node] = []
    for span in reversed(spans):
        if span is root:
            continue
        start, end = span.start_ns, span.end_ns
        if (
            span.parent_id != rid
            or span.is_turn
            or span.follows_from
            or start is None
            or end is None
            or start < rs
            or end > re
            or end < start
        ):
            return None  # a second root, a grandchild, a turn, FOLLOWS_FROM, untimed, skewed
        own = span.stage
        if own is None and all_spans:
            own = span.name
        node = Node(span, start, end, own, [])
        nodes.append(node)
        if span.first_chunk_ns is not None:
            chunks.append(node)
    stages: set[str] = set(map(_KEY, nodes))
    if None in stages:  # (built again: a set that once held None may iterate otherwise)
        stages = {kid.key for kid in nodes if kid.key is not None}
    node = Node(root, rs, re, None, nodes)
    if root.first_chunk_ns is not None:
        chunks.insert(0, node)
    turn = Turn(root, node, stages, SOURCE_RAG_OTEL, chunks or None, True)
    return Trace([turn], [], [], {}, True)


def _walk(
    roots: list[Span],
    children: dict[str, list[Span]],
    trace: Trace,
    mode: int,
    all_spans: bool,
    diagnostics: Diagnostics,
) -> int:
    """Place the spans under `roots` into `trace`; return how many spans were visited.

    `mode` says which spans are turns: `_BY_RAG_TURN`, `_BY_CANDIDATE` or `_BY_ROOT`.
    """
    turns, samples, first = trace.turns, trace.samples, trace.first_spans
    by_candidate = mode == _BY_CANDIDATE
    by_root = mode == _BY_ROOT
    warn = diagnostics.warn
    visited = 0
    # (span, parent node or None, charge key, turn index: None outside a turn, -1 in an
    # incomplete one, turn start, is a root)
    stack: list[tuple[Span, Node | None, str | None, int | None, int, bool]] = [
        (r, None, None, None, 0, True) for r in reversed(roots)
    ]
    while stack:
        span, parent, key, turn, turn_start, is_root = stack.pop()
        visited += 1
        kids = children.get(span.span_id, ())
        start, end = span.start_ns, span.end_ns
        if (
            span.is_turn
            or (by_root and is_root and (span.stage is None or span.parent_id is None))
            or (
                by_candidate
                and turn is None
                and span.turn_candidate
                and (is_root or span.turn_candidate == TURN_ANYWHERE)
            )
        ):
            if turn is not None:
                warn("nested-turn", f"turn {span.span_id} inside another turn")
            # a trace root that is a stage (one LLM call traced alone) is its turn and,
            # its time charged to it, its own stage
            both = span.stage if by_root else None
            if both is not None and both not in first:
                first[both] = span
            if start is not None and end is not None and end >= start:
                node = Node(span, start, end, both, [])
                turn = len(turns)
                turns.append(Turn(span, node, set(), source=_turn_source(span, by_root)))
                if both is not None:
                    turns[turn].stages.add(both)
                    samples.append((both, end - start, span.error, turn, 0))
                if span.first_chunk_ns is not None:
                    turns[turn].first_chunks = [node]
                stack.extend((c, node, both, turn, start, False) for c in kids)
            else:
                warn("incomplete-turn", f"trace {span.trace_id} turn {span.span_id} ({span.name})")
                trace.incomplete_turns.append(span)
                if both is not None:
                    samples.append((both, _duration(span, diagnostics), span.error, None, None))
                stack.extend((c, None, both, -1, 0, False) for c in kids)
            continue

        own = span.stage if span.stage is not None else span.name if all_spans else None
        timed = start is not None and end is not None and end >= start
        if own is not None:
            key = own
            if own not in first:
                first[own] = span
            if turn is None:
                warn("stage-outside-turn", f"span {span.span_id} ({span.name})")
                samples.append((own, _duration(span, diagnostics), span.error, None, None))
            elif turn < 0:
                samples.append((own, _duration(span, diagnostics), span.error, None, None))
            else:
                turns[turn].stages.add(own)
                if timed:
                    samples.append((own, end - start, span.error, turn, start - turn_start))  # type: ignore[operator]
                else:
                    samples.append((own, _duration(span, diagnostics), span.error, turn, None))
        if parent is None:  # outside an attributed turn: no tree to build
            stack.extend((c, None, key, turn, turn_start, False) for c in kids)
            continue
        if not timed:
            if own is not None:
                warn("untimed-stage", f"span {span.span_id} ({span.name})")
            stack.extend(
                (c, parent, key, turn, turn_start, False) for c in kids
            )  # to the timed ancestor
            continue
        assert start is not None
        assert end is not None
        if start < parent.start or end > parent.end:
            warn(
                "clock-skew",
                f"span {span.span_id} ({span.name}) outside its parent {parent.span.span_id}",
            )
            start = min(max(start, parent.start), parent.end)
            end = max(min(end, parent.end), start)
        node = Node(span, start, end, key, [])
        parent.children.append(node)
        if span.first_chunk_ns is not None:
            _add_first_chunk(turns[turn], node)  # type: ignore[index]
        if kids:
            stack.extend((c, node, key, turn, turn_start, False) for c in kids)
    return visited


def _turn_source(span: Span, by_root: bool) -> str:
    if span.is_turn:
        return SOURCE_RAG_OTEL
    if by_root:
        return SOURCE_TRACE_ROOT
    return span.stage_source or SOURCE_TRACE_ROOT


def _add_first_chunk(turn: Turn, node: Node) -> None:
    if turn.first_chunks is None:
        turn.first_chunks = [node]
    else:
        turn.first_chunks.append(node)


def _duration(span: Span, diagnostics: Diagnostics) -> int | None:
    start, end = span.start_ns, span.end_ns
    if start is None or end is None:
        return None
    if end < start:
        diagnostics.warn("negative-duration", f"span {span.span_id} ({span.name})")
        return None
    return end - start


def _reachable(start: list[Span], children: dict[str, list[Span]]) -> set[str]:
    reached: set[str] = set()
    stack = list(start)
    while stack:
        s = stack.pop()
        if s.span_id not in reached:
            reached.add(s.span_id)
            stack.extend(children.get(s.span_id, ()))
    return reached


def _dedupe(spans: list[Span], diagnostics: Diagnostics) -> dict[str, Span]:
    by_id: dict[str, Span] = {}
    for s in spans:
        prev = by_id.get(s.span_id)
        if prev is None:
            by_id[s.span_id] = s
            continue
        diagnostics.warn("duplicate-span-id", f"trace {s.trace_id} span {s.span_id} ({s.name})")
        if (prev.start_ns is None or prev.end_ns is None) and (
            s.start_ns is not None and s.end_ns is not None
        ):
            by_id[s.span_id] = s
    return by_id
