"""A shape's levels, learned once: checked per turn, its predictions worked out per column.

    layout = Layout.learn(levels, row)     # from one turn of the shape, in levels
    layout.holds(row)                      # per turn: the same levels? (C-speed compares)
    table = Table(layout, rows, kids, streamed)          # at the end, the kept rows...
    turn_ns, first_ns = table.predict(column, pairs)     # ... one prediction's column

The common turn (`Predictions._add_leaves`: leaf children in levels, each stage once) has
the same levels turn after turn::

    turn     |=====================================|    level 0: embed
    embed    |===|                                      level 1: vector, bm25 (together)
    vector       |=========|                            level 2: rerank
    bm25         |=====|                                level 3: generate
    rerank                 |=====|
    generate                     |=================|

A row is one turn's times in ns from its start (`Predictions._add_leaves`): ``[turn
number, turn end, start 1, end 1, start 2, end 2, ...]`` by child number (plus, for a
streamed turn, its number among the times to first token and its first chunk clamped into
its child: its time to first token, as the critical path measures it). `levels_of` finds the levels per turn by a pass over the children in
order of start; here a fixed list of comparisons between the row's times says whether a
turn has the levels learned from another: the first level starts with the turn or
after; a child of a level but the last takes some time and ends by the next level's
start (that level's first child's); within a level each child starts with the level's
first, or after it and before any other of the level ended; the last level's children
end by the turn's end. Those are sufficient, not necessary: a turn that fails them is
worked out by itself (`levels_of`), as is every turn of a shape whose first turns do
not pass their own checks.

On turns with those levels, `levels_of`, `level_shrink` and `together_in_levels` come to
sums and maxima of times, the same for every turn, so they are worked out a column (one
time over the shape's turns) at a time, mostly in C loops (`map` over `operator`
functions; a pair beside a streamed child is worked out row by row, `Table._beside`):

* child ``k`` twice as fast: ``end - level end + max(k's new end, the level's other ends)``;
* a pair started together (the later one, ``m``, moved to the earlier one's start ``a``):
  ``end - m's level end + max(the level's other ends, a + m's duration)`` (or the level's
  start, when ``m`` is alone in it); what came after it still waits for it.

Exact: the rows are kept as floats, where every time, sum of two and half of one is exact
(a turn of up to `EXACT_NS`, its children in it, `holds`), so the predictions are those of
`levels_of` and `together_in_levels` on the same turn in half nanoseconds, halved (the
property tests compare this route with those and with the full re-lay).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from operator import add, and_, gt, le, mul, sub
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag_otel.analysis.kept import Pair
    from rag_otel.analysis.whatif import Levels

_HALF = repeat(0.5)
EXACT_NS = 2**50
"""Times (ns) up to this are worked out in floats, exactly (integers and halves well
within a double's 53 bits: a sum of two stays exact)."""
Column = Sequence[float]
WIDEST_LEVEL = 16
"""Children of one level a layout is learned for at most: a child that starts after its
level's first is checked against every other child's end, so a level of m children takes
about m * m comparisons (a thousand unnamed children would compile a million); turns of
wider levels are worked out one by one (`levels_of`), in time linear in their children."""


class Layout:
    """The levels of a shape's children, and the comparisons that say a turn has them."""

    __slots__ = ("_le", "_lt", "_start", "holds", "level_of", "levels", "together")

    def __init__(
        self,
        levels: list[list[int]],
        checks: dict[str, list[tuple[int, int]]],
        start: int,
        together: set[int],
    ) -> None:
        self.levels = levels
        """Per level, its children (child numbers)."""
        self.level_of = {k: j for j, kids in enumerate(levels) for k in kids}
        self.together = together
        """The children that start with their level's first (it included), every turn."""
        self._start = start
        """Where the first level's first child starts in a row (from the turn's start)."""
        self._le, self._lt = checks["le"], checks["lt"]
        """Places in a row (i, j): the time at i must be <= (<) the one at j."""
        conditions = [f"r[{start}] >= 0", f"r[1] <= {EXACT_NS}"]
        conditions += [f"r[{i}] <= r[{j}]" for i, j in self._le]
        conditions += [f"r[{i}] < r[{j}]" for i, j in self._lt]
        # the comparisons as one expression (of integers only), compiled: several times
        # cheaper per turn than reading them as data (`holds_slowly`; a test compares both)
        source = "lambda r: " + " and ".join(conditions)
        self.holds: Callable[[list[int]], bool] = eval(source, {"__builtins__": {}})
        """Whether turn `row` has these levels (`levels_of` would find them): the first
        level starts with the turn or after, the turn fits `EXACT_NS`, and the checks."""

    def __reduce__(self) -> tuple[type[Layout], tuple[Any, ...]]:
        """Pickled as what it was made from (a worker's analyzer goes back to the parent,
        `rag_otel.analysis.parallel`): the compiled `holds` cannot be pickled, it is
        compiled again."""
        checks = {"le": self._le, "lt": self._lt}
        return Layout, (self.levels, checks, self._start, self.together)

    @classmethod
    def learn(cls, levels: Levels, row: list[int]) -> Layout | None:
        """The layout of `levels` (`levels_of` on the turn `row`), None when the turn does
        not pass its own checks (a layout these cannot describe) or has a level wider than
        `WIDEST_LEVEL` (its checks grow with the square of its width)."""
        by_kid = levels[0]
        grouped: list[list[int]] = [[] for _ in levels[1]]
        for kid in sorted(by_kid):
            grouped[by_kid[kid][0]].append(kid)
        if max(map(len, grouped)) > WIDEST_LEVEL:
            return None
        # each level's first child: the first in order of start (ties: by child number)
        firsts = [min(kids, key=lambda k: (row[_start(k)], k)) for kids in grouped]
        checks: dict[str, list[tuple[int, int]]] = {"le": [], "lt": []}
        together = set(firsts)
        for j, kids in enumerate(grouped):
            first = firsts[j]
            for k in kids:
                if j + 1 < len(grouped):  # it takes some time, ends by the next level's start
                    checks["lt"].append((_start(k), _end(k)))
                    checks["le"].append((_end(k), _start(firsts[j + 1])))
                else:  # the last level ends by the turn's end (every time in [0, EXACT_NS])
                    checks["le"] += [(_start(k), _end(k)), (_end(k), 1)]
                if k == first:
                    continue
                if row[_start(k)] == row[_start(first)]:  # starts with the level
                    checks["le"] += [(_start(k), _start(first)), (_start(first), _start(k))]
                    together.add(k)
                else:  # after the level's first, before any of the level ended
                    checks["lt"].append((_start(first), _start(k)))
                    checks["lt"] += [(_start(k), _end(i)) for i in kids if i != k]
        layout = cls(grouped, checks, _start(firsts[0]), together)
        return layout if layout.holds(row) else None

    def holds_slowly(self, row: list[int]) -> bool:
        """`holds`, reading the comparisons as data."""
        if row[self._start] < 0 or row[1] > EXACT_NS:
            return False
        return all(row[i] <= row[j] for i, j in self._le) and all(
            row[i] < row[j] for i, j in self._lt
        )


class Table:
    """A layout's rows of times in columns, and what several predictions share (each
    level's latest end), each worked out once, when first asked for."""

    def __init__(self, layout: Layout, rows: array[float], kids: int, streamed: int) -> None:
        self.layout = layout
        self.kids = kids
        self.streamed = streamed
        width = 2 + 2 * kids + (2 if streamed >= 0 else 0)
        self.col = _Columns(rows, width)
        """Per place in a row, its column: turn numbers, turn ends, then per child its
        starts and ends (`_start`, `_end`), then (streamed) numbers among the times to
        first token, first chunks (the measured times to first token)."""
        self.numbers = array("q", map(int, self.col[0]))
        self.first_numbers = array("q", map(int, self.col[-2]) if streamed >= 0 else ())
        self._ended: dict[int, Column] = {}
        self._lead: dict[int, list[float]] = {}
        self._chunk_lead: list[float] | None = None

    def __len__(self) -> int:
        return len(self.numbers)

    def ended(self, level: int) -> Column:
        """When the level's last child ended."""
        found = self._ended.get(level)
        if found is None:
            ends = [self.col[_end(k)] for k in self.layout.levels[level]]
            found = self._ended[level] = _max(ends)
        return found

    def lead(self, level: int) -> list[float]:
        """The turn's time after the level ended."""
        found = self._lead.get(level)
        if found is None:
            found = self._lead[level] = list(map(sub, self.col[1], self.ended(level)))
        return found

    def chunk(self) -> Column:
        """The first chunk (clamped into its child: `Predictions._add_leaves`), which is
        the measured time to first token."""
        return self.col[-1]

    def chunk_lead(self) -> list[float]:
        """The first chunk less the turn's end (a child's time to first token, from its
        prediction of the turn, when it moves the chunk as much)."""
        if self._chunk_lead is None:
            self._chunk_lead = list(map(sub, self.chunk(), self.col[1]))
        return self._chunk_lead

    def others(self, k: int) -> Column | None:
        """The latest end of `k`'s level without `k` (None: alone in it)."""
        layout = self.layout
        rest = [self.col[_end(i)] for i in layout.levels[layout.level_of[k]] if i != k]
        return _max(rest) if rest else None

    def predict(
        self, column: int, pairs: list[Pair], first_token: bool = True
    ) -> tuple[Column, Column]:
        """One column's predictions (`Shape`'s numbering: child number ``k``, that child
        twice as fast, as `level_shrink`; after the children, the pairs started
        together, as `together_in_levels`): (per turn, per time to first token, none
        when not `first_token`)."""
        streamed = self.streamed if first_token else -1
        if column > self.kids:
            x, y = pairs[column - self.kids - 1].nodes
            if self.layout.level_of[x] != self.layout.level_of[y]:
                return self._apart(x, y, streamed)
            return self._beside(x, y, streamed)
        k, col = column, self.col
        j = self.layout.level_of[k]
        new_end = map(mul, map(add, col[_start(k)], col[_end(k)]), _HALF)
        rest = self.others(k)
        latest = map(max, new_end, rest) if rest is not None else new_end
        turn = list(map(add, self.lead(j), latest))
        if streamed < 0:
            return turn, ()
        if k == streamed:  # its time to the chunk halves too
            return turn, list(map(mul, map(add, col[_start(k)], self.chunk()), _HALF))
        if j < self.layout.level_of[streamed]:  # a level before the chunk's: the chunk
            return turn, list(map(add, turn, self.chunk_lead()))  # moves as the turn's end
        return turn, self.chunk()

    def counts(self, pairs: list[Pair], start: int) -> list[tuple[int, int]]:
        """Per pair, over the turns from number `start` of these on, (turns, turns they
        ran one after the other: the one that started first ended before the other
        started), as `Predictions._count_pair`."""
        col, level_of = self.col, self.layout.level_of
        out = []
        for pair in pairs:
            x, y = pair.nodes
            if level_of[x] != level_of[y]:  # always: the earlier level's child takes some
                out.append((len(self) - start,) * 2)  # time and ends by the next's start
                continue
            sx, ex = col[_start(x)][start:], col[_end(x)][start:]
            if x in self.layout.together and y in self.layout.together:  # started at once:
                out.append((len(sx), sum(map(le, ex, sx))))  # one after the other if x
                continue  # took no time
            sy, ey = col[_start(y)][start:], col[_end(y)][start:]
            x_first = sum(map(and_, map(le, sx, sy), map(le, ex, sy)))
            y_first = sum(map(and_, map(gt, sx, sy), map(le, ey, sx)))
            out.append((len(sx), x_first + y_first))
        return out

    def _apart(self, x: int, y: int, streamed: int) -> tuple[Column, Column]:
        """A pair in two levels started together: the later level's child moves to the
        earlier one's start; what came after it still waits for it."""
        col, level_of = self.col, self.layout.level_of
        if level_of[x] > level_of[y]:
            x, y = y, x
        ly = level_of[y]
        moved_end = map(sub, map(add, col[_start(x)], col[_end(y)]), col[_start(y)])
        rest = self.others(y)
        before = rest if rest is not None else self.ended(ly - 1)  # (ly > 0: x's is before)
        after = list(map(max, before, moved_end))
        turn = list(map(add, self.lead(ly), after))
        if streamed < 0:
            return turn, ()
        chunk = self.chunk()
        if streamed == y:
            return turn, list(map(add, map(sub, chunk, col[_start(y)]), col[_start(x)]))
        if level_of[streamed] > ly:
            return turn, list(map(add, chunk, map(sub, after, self.ended(ly))))
        return turn, chunk

    def _beside(self, x: int, y: int, streamed: int) -> tuple[Column, Column]:
        """`_apart` for a pair in one level: the later to start moves to the other's start
        (per turn: either may be the later); started at once already, nothing changes."""
        col = self.col
        if x in self.layout.together and y in self.layout.together:  # started at once
            return col[1], (self.chunk() if streamed >= 0 else ())  # already: nothing changes
        level = self.layout.level_of[x]
        rest_x, rest_y = self.others(x), self.others(y)
        assert rest_x is not None  # (y is in the level)
        assert rest_y is not None
        sx, ex, sy, ey = col[_start(x)], col[_end(x)], col[_start(y)], col[_end(y)]
        lead, end = self.lead(level), self.ended(level)
        chunk: Iterable[float] = self.chunk() if streamed >= 0 else repeat(0.0)
        later_level = self.layout.level_of[streamed] > level if streamed >= 0 else False
        turn: list[float] = []
        first: list[float] = []
        rows = zip(sx, ex, sy, ey, rest_x, rest_y, col[1], lead, end, strict=True)
        streams = zip(rows, chunk, strict=False)  # (not streamed: zeros, unread)
        for (s_x, e_x, s_y, e_y, r_x, r_y, whole, lead_, end_), t in streams:
            if s_x == s_y:  # started at once already: nothing changes
                turn.append(whole)
                first.append(t)
                continue
            if s_x < s_y:  # y moves to x's start
                moved, after, later = s_x - s_y, s_x + e_y - s_y, y
                after = r_y if r_y > after else after
            else:
                moved, after, later = s_y - s_x, s_y + e_x - s_x, x
                after = r_x if r_x > after else after
            turn.append(lead_ + after)
            first.append(t + moved if streamed == later else t + after - end_ if later_level else t)
        return turn, (first if streamed >= 0 else ())


def _start(k: int) -> int:
    """Where child `k`'s start is in a row."""
    return 2 * k


def _end(k: int) -> int:
    return 2 * k + 1


class _Columns:
    """A table's columns, by place in a row, each sliced out of the rows when first read."""

    def __init__(self, rows: array[float], width: int) -> None:
        self._rows = rows
        self._width = width
        self._made: dict[int, array[float]] = {}

    def __len__(self) -> int:
        return self._width

    def __getitem__(self, i: int) -> array[float]:
        found = self._made.get(i)
        if found is None:
            found = self._made[i] = self._rows[i % self._width :: self._width]
        return found


def _max(columns: list[Any]) -> Column:
    """The latest of several columns of times, turn by turn."""
    return columns[0] if len(columns) == 1 else list(map(max, *columns))
