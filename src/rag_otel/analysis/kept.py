"""Where the what-if keeps its per-turn predictions (`rag_otel.analysis.predictions`).

    kept = Kept()                                     # one change's, by turn number
    keep_in(kept, (turn_ns, first_ns), at, first_token_at, duration, first)
    shape = Shape(children, texts, pairs)             # one shape of turn's, in columns

Two forms. `Kept`: only the predictions that differ from what was measured, as (turn
number, ns) pairs, so turns a change does not touch cost nothing (the asked-for changes,
and the default ones of turns re-laid by a `Plan`). `Shape`: the common turn (leaf stages
in levels), every prediction of every turn, changed or not (`Predictions._add_leaves`):
per turn one row of its times when it has the shape's levels (`rag_otel.analysis.layout`
works their predictions out a column at a time when read), else one row of its
predictions in half nanoseconds; one list per turn costs less than comparing and keeping
each value, and putting in a value that did not change changes nothing.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import pairwise, repeat
from operator import truediv
from typing import Any, TypeAlias

from rag_otel.analysis.layout import Layout, Table
from rag_otel.analysis.whatif import Change

_TWO = repeat(2)


class Kept:
    """Predictions that differ from the measurement: (turn index, ns), for turns and TTFT."""

    __slots__ = ("first_token", "first_token_at", "turn", "turn_at")

    def __init__(self) -> None:
        self.turn_at: array[int] = array("q")
        self.turn: array[int] = array("q")
        self.first_token_at: array[int] = array("q")
        self.first_token: array[int] = array("q")

    def extend(self, other: Kept, turns: int, first_tokens: int) -> None:
        self.turn_at.extend(i + turns for i in other.turn_at)
        self.turn.extend(other.turn)
        self.first_token_at.extend(i + first_tokens for i in other.first_token_at)
        self.first_token.extend(other.first_token)


class Shape:
    """Per shape of a turn of leaf stages: what `Predictions._add_leaves` needs, and the
    predictions of its turns in columns: per turn, its number, then (in half
    nanoseconds) per child (by child number) the prediction with that child made
    faster, then per pair (`pairs`) with the pair started together (children that are
    no stage: not kept). The same for the turns with a time to first token.

    Turns come in two ways: rows of predictions worked out per turn (`turn`, `first`),
    and rows of times of turns that have the shape's levels (`layout`, `defer`), whose
    predictions are worked out a column at a time, only for the columns read
    (`Layout`, `Table`), and their pairs counted when the counts are read (`count`)."""

    __slots__ = ("_tables", "first", "layout", "pairs", "rows", "texts", "tries", "turn", "width")

    def __init__(self, children: int, texts: list[tuple[int, str]], pairs: list[Pair]) -> None:
        self.width = children + len(pairs)
        """Values per turn: its number, its children's, its pairs'."""
        self.texts = texts
        """(a stage's child number, its ``STAGE=0.5`` change's text)."""
        self.pairs = pairs
        """The pairs of children that could run at once."""
        self.turn: array[int] = array("q")
        """Per turn worked out by itself (ascending): its number, then the predicted turn
        durations."""
        self.first: array[int] = array("q")
        """Per such turn with a time to first token: its number among those, then the
        predicted times to first token."""
        self.layout: Layout | None = None
        """The levels learned from a turn (`Layout.learn`), once learned."""
        self.tries = 0
        """Turns a layout was learned from that did not pass its own checks."""
        self.rows: dict[int, array[float]] = {}
        """Streamed child (-1: none) -> rows of times (ns from the turn's start, in
        floats: exact, `Layout.holds`) of the turns that hold `layout`."""
        self._tables: dict[int, tuple[Table, int]] = {}
        """Streamed child -> the rows in columns (`Table`), and how many were counted."""

    def __bool__(self) -> bool:
        """Whether it holds any turn."""
        return bool(self.turn) or bool(self.rows)

    def defer(self, row: list[Any], streamed: int) -> None:
        """Keep the times of a turn that holds `layout` (its predictions: `Table`);
        integers, kept as floats."""
        rows = self.rows.get(streamed)
        if rows is None:
            rows = self.rows[streamed] = array("d")
        rows.fromlist(row)

    def count(self) -> None:
        """Count the kept rows' pairs into `Pair.counts` (each row once)."""
        for streamed in self.rows:
            table, counted = self._table(streamed)
            if counted < len(table):
                counts = table.counts(self.pairs, counted)
                for pair, (both, sequential) in zip(self.pairs, counts, strict=True):
                    pair.counts[0] += both
                    pair.counts[1] += sequential
                self._tables[streamed] = table, len(table)

    def _table(self, streamed: int) -> tuple[Table, int]:
        """The rows of `streamed` in columns, made again when rows came since."""
        rows = self.rows[streamed]
        found = self._tables.get(streamed)
        if found is None or len(found[0]) * len(found[0].col) != len(rows):
            assert self.layout is not None  # (rows are kept once it is learned)
            kids = self.width - len(self.pairs) - 1
            table = Table(self.layout, rows, kids, streamed)
            found = self._tables[streamed] = table, found[1] if found is not None else 0
        return found

    def columns(self) -> list[tuple[int, str]]:
        """(column, change text) of each prediction kept."""
        children = self.width - len(self.pairs)
        pairs = [
            (i, pair.change.text)
            for i, pair in enumerate(self.pairs, start=children)
            if pair.change is not None
        ]
        return [*self.texts, *pairs]

    def unrounded(self, column: int, first_token: bool = True) -> tuple[Values, Values]:
        """(turn numbers, predictions in ns, not rounded) of one column, for the turns and
        for the times to first token (none when not `first_token`), each in ascending
        order of turn."""
        width = self.width
        turns: list[Values] = [(self.turn[::width], _halved(self.turn[column::width]))]
        firsts: list[Values] = []
        if first_token:
            firsts.append((self.first[::width], _halved(self.first[column::width])))
        for streamed in self.rows:
            table = self._table(streamed)[0]
            turn, first = table.predict(column, self.pairs, first_token)
            turns.append((table.numbers, turn))
            firsts.append((table.first_numbers, first))
        return _joined(turns), _joined(firsts) if first_token else ((), ())

    def kept(self, column: int) -> Kept:
        """The predictions of one column, over the shape's turns, in nanoseconds
        (rounded half to even, as `Plan` rounds them)."""
        kept = Kept()
        (at, ns), (first_at, first_ns) = self.unrounded(column)
        kept.turn_at, kept.turn = array("q", at), array("q", map(round, ns))
        kept.first_token_at, kept.first_token = (
            array("q", first_at),
            array("q", map(round, first_ns)),
        )
        return kept


def _halved(half_ns: array[int]) -> list[float]:
    """Values in half nanoseconds, in nanoseconds."""
    return list(map(truediv, half_ns, _TWO))


def _joined(blocks: list[Values]) -> Values:
    """Several blocks of (turn numbers, ns) as one, in ascending order of turn (each
    block's are)."""
    blocks = [block for block in blocks if len(block[0])]
    if len(blocks) == 1:
        return blocks[0]
    at: array[int] = array("q")
    values: list[float] = []
    for numbers, column in blocks:
        at.extend(numbers)
        values += column
    if any(a[0][-1] > b[0][0] for a, b in pairwise(blocks)):  # interleaved
        order = sorted(range(len(at)), key=at.__getitem__)
        at = array("q", map(at.__getitem__, order))
        values = list(map(values.__getitem__, order))
    return at, values


class Pair:
    """A pair of a shape's children that could run at once: its stages, their child
    numbers and, once counted, its counts (`Predictions._pairs`) and ``parallel:`` change."""

    __slots__ = ("change", "counts", "first", "key", "nodes")

    def __init__(self, first: tuple[str, int, str, int]) -> None:
        self.first = first
        """(stage, child number, stage, child number)."""
        a, b = first[0], first[2]
        self.key = (a, b) if a < b else (b, a)
        self.counts: list[int] = []
        """Shared with `Predictions._pairs` once counted."""
        self.change: Change | None = None
        self.nodes = (first[1], first[3])


def keep_in(
    kept: Kept,
    predicted: tuple[int, int | None],
    at: int,
    first_token_at: int | None,
    duration: int,
    first: int | None,
) -> None:
    """Keep turn `at`'s predictions that differ from the measurement (`duration`, and the
    time to first token `first`, number `first_token_at` among those)."""
    turn_ns, first_ns = predicted
    if turn_ns != duration:
        kept.turn_at.append(at)
        kept.turn.append(turn_ns)
    if first_token_at is not None and first_ns is not None and first_ns != first:
        kept.first_token_at.append(first_token_at)
        kept.first_token.append(first_ns)


Values: TypeAlias = tuple[Sequence[int], Sequence[float]]
"""(turn numbers, predicted ns) to put in."""
