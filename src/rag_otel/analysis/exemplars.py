"""Exemplar turns: the p50, p95, p99 and slowest turn, picked in bounded memory.

    pool = ExemplarPool()
    for turn in turns:                 # as the Analyzer meets them, in any order
        pool.offer(turn)
    exemplars = pool.pick(p50_ns=..., p95_ns=..., p99_ns=...)

The percentiles are known only once every turn is in, and the turns' trees are gone by
then (traces are analysed and dropped as they complete). So the pool keeps a few trees
per *duration bucket*: durations are cut into buckets 1/32 of an octave wide (about
2.2 %), and per bucket the pool keeps the fastest and the slowest turn it met::

    bucket      [ 9.8 ms, 10.0 ms )  [ 10.0 ms, 10.2 ms )  ...
    kept        fastest, slowest     fastest, slowest

Once the percentiles are known, each label takes the kept turn nearest to its value:
it lies within one bucket (2.2 %) of it. Memory is bounded by the number of buckets a
distribution covers (32 per doubling of the duration, two trees each: about 200 trees
when turns range from 10 ms to 1 s), whatever the number of turns; the slowest turn is
exact. The choice does not depend on the order turns arrive in (ties: the smaller trace
and span id), so pools merged from several processes pick what one process would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rag_otel.analysis.traces import Node, Turn

LABELS: tuple[str, ...] = ("p50", "p95", "p99", "max")
"""The exemplars a report carries, in this order."""

_SUB_BUCKET_BITS = 5  # 32 buckets per doubling of the duration
_PER_OCTAVE = 1 << _SUB_BUCKET_BITS


def bucket(duration_ns: int) -> int:
    """The duration bucket (about 2.2 % wide) of a duration in nanoseconds."""
    if duration_ns < _PER_OCTAVE:
        return duration_ns if duration_ns > 0 else 0
    shift = duration_ns.bit_length() - 1 - _SUB_BUCKET_BITS
    return ((shift + 1) << _SUB_BUCKET_BITS) + (duration_ns >> shift) - _PER_OCTAVE


def _key(turn: Turn) -> tuple[int, str, str]:
    span = turn.span
    return turn.duration_ns, span.trace_id, span.span_id


def _flatten(turn: Turn) -> tuple[Any, ...]:
    """A turn as flat lists: its nodes in depth-first order, each with its parent's index."""
    nodes: list[tuple[Any, int, int, str | None, int]] = []
    index: dict[int, int] = {}
    stack: list[tuple[Node, int]] = [(turn.root, -1)]
    while stack:
        node, parent = stack.pop()
        index[id(node)] = len(nodes)
        nodes.append((node.span, node.start, node.end, node.key, parent))
        stack.extend((kid, index[id(node)]) for kid in reversed(node.children))
    first = None if turn.first_chunks is None else [index[id(n)] for n in turn.first_chunks]
    return turn.span, turn.stages, turn.source, nodes, first


def _unflatten(flat: tuple[Any, ...]) -> Turn:
    span, stages, source, nodes, first = flat
    built: list[Node] = []
    for node_span, start, end, key, parent in nodes:
        node = Node(node_span, start, end, key, [])
        if parent >= 0:
            built[parent].children.append(node)  # in depth-first order: children keep theirs
        built.append(node)
    chunks = None if first is None else [built[i] for i in first]
    return Turn(span, built[0], stages, source, chunks)


@dataclass(frozen=True, slots=True)
class Exemplar:
    """One turn a report shows as an example of a percentile."""

    label: str
    """``p50``, ``p95``, ``p99`` or ``max``."""
    turn: Turn

    @property
    def trace_id(self) -> str:
        return self.turn.span.trace_id

    def to_dict(self) -> dict[str, Any]:
        span = self.turn.span
        return {
            "label": self.label,
            "trace_id": span.trace_id,
            "turn_id": span.turn_id,
            "span_id": span.span_id,
            "name": span.name,
            "duration_ms": self.turn.duration_ns / 1e6,
        }


class ExemplarPool:
    """The fastest and slowest turn met per duration bucket (see the module docstring)."""

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[int, Turn, int, Turn]] = {}
        """Per bucket, its fastest turn's duration and the turn, then its slowest's: most
        turns offered are neither, told by this one look-up."""

    def offer(self, turn: Turn) -> None:
        # once per turn: durations from the roots (`Turn.duration_ns` without its call)
        root = turn.root
        duration = root.end - root.start
        b = bucket(duration)
        kept = self._buckets.get(b)
        if kept is None:
            self._buckets[b] = duration, turn, duration, turn
            return
        fastest, low, slowest, high = kept
        if fastest < duration < slowest:
            return
        # by `_key`; its first item, the duration, mostly decides alone
        if duration < fastest or (duration == fastest and _key(turn) < _key(low)):
            self._buckets[b] = duration, turn, slowest, high
        elif duration > slowest or (duration == slowest and _key(turn) > _key(high)):
            self._buckets[b] = fastest, low, duration, turn

    def merge(self, other: ExemplarPool) -> None:
        for turn in other:
            self.offer(turn)

    def __iter__(self) -> Iterator[Turn]:
        for _, low, _, high in self._buckets.values():
            yield low
            if high is not low:
                yield high

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __getstate__(self) -> dict[str, Any]:
        """Flat trees for pickling (a worker process sends its pool back): pickle recurses
        once per level of a nested tree, and a deep span chain would overflow its stack."""
        turns: list[Turn] = []
        index: dict[int, int] = {}
        for turn in self:
            index[id(turn)] = len(turns)
            turns.append(turn)
        return {
            "turns": [_flatten(t) for t in turns],
            "buckets": {
                b: (index[id(lo)], index[id(hi)]) for b, (_, lo, _, hi) in self._buckets.items()
            },
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        turns = [_unflatten(t) for t in state["turns"]]
        self._buckets = {}
        for b, (i, j) in state["buckets"].items():
            low, high = turns[i], turns[j]
            self._buckets[b] = low.duration_ns, low, high.duration_ns, high

    def pick(
        self, *, p50_ns: float | None, p95_ns: float | None, p99_ns: float | None
    ) -> list[Exemplar]:
        """The kept turn nearest to each percentile, and the slowest: in `LABELS` order."""
        kept = sorted(self, key=_key)
        if not kept:
            return []
        out: list[Exemplar] = []
        for label, target in (("p50", p50_ns), ("p95", p95_ns), ("p99", p99_ns)):
            if target is not None:
                nearest = min(kept, key=lambda t: (abs(t.duration_ns - target), _key(t)))
                out.append(Exemplar(label, nearest))
        out.append(Exemplar("max", kept[-1]))
        return out
