"""Where the what-if keeps its per-turn predictions (`rag_otel.analysis.predictions`).

    kept = Kept()                                     # one change's, by turn number
    keep_in(kept, (turn_ns, first_ns), at, first_token_at, duration, first)
    shape = Shape(children, texts, pairs)             # one shape of turn's, in columns

Two forms. `Kept`: only the predictions that differ from what was measured, as (turn
number, ns) pairs, so turns a change does not touch cost nothing (the asked-for changes,
and the default ones of turns re-laid by a `Plan`). `Shape`: the common turn (leaf stages
in levels), one row per turn of every prediction, changed or not, in half nanoseconds
(`Predictions._add_leaves`): one list per turn costs less than comparing and keeping
each value, and putting in a value that did not change changes nothing.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import repeat
from operator import truediv
from typing import TypeAlias

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
    no stage: unused). The same for the turns with a time to first token."""

    __slots__ = ("first", "pairs", "texts", "turn", "width")

    def __init__(self, children: int, texts: list[tuple[int, str]], pairs: list[Pair]) -> None:
        self.width = children + len(pairs)
        """Values per turn: its number, its children's, its pairs'."""
        self.texts = texts
        """(a stage's child number, its ``STAGE=0.5`` change's text)."""
        self.pairs = pairs
        """The pairs of children that could run at once."""
        self.turn: array[int] = array("q")
        """Per turn (ascending): its number, then the predicted turn durations."""
        self.first: array[int] = array("q")
        """Per turn with a time to first token: its number among those, then the
        predicted times to first token."""

    def columns(self) -> list[tuple[int, str]]:
        """(column, change text) of each prediction kept."""
        children = self.width - len(self.pairs)
        pairs = [
            (i, pair.change.text)
            for i, pair in enumerate(self.pairs, start=children)
            if pair.change is not None
        ]
        return [*self.texts, *pairs]

    def unrounded(self, values: array[int], column: int) -> Values:
        """(turn numbers, predictions in ns, not rounded) of one column of `values`
        (`turn` or `first`)."""
        return values[:: self.width], list(map(truediv, values[column :: self.width], _TWO))

    def kept(self, column: int) -> Kept:
        """The predictions of one column, over the shape's turns, in nanoseconds
        (rounded half to even, as `Plan` rounds them)."""
        kept = Kept()
        at, ns = self.unrounded(self.turn, column)
        kept.turn_at, kept.turn = array("q", at), array("q", map(round, ns))
        at, ns = self.unrounded(self.first, column)
        kept.first_token_at, kept.first_token = array("q", at), array("q", map(round, ns))
        return kept


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
