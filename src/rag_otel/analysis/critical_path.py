"""Critical-path attribution: which stage the turn was actually waiting on.

Stages that run in parallel (vector and BM25 search under ``asyncio.gather``)
must not both be charged for the same wall-clock time. For each turn we walk
its critical path backwards from the turn's end::

    turn      |=====================================| 12 ms
    vector       |==============================|     10 ms  (ends last: on the path)
    bm25      |=================|                      6 ms  (only [0, 1] is on the path)
    path      bm25|<----------- vector ----------->|turn

At each level the cursor starts at the span's end; repeatedly the child that
ends last before the cursor (a child still running at the cursor counts as
ending there) is put on the path, the walk recurses into it, and the cursor
jumps to that child's start. Gaps between chosen children are the parent's own
time. Each nanosecond on the path is charged to the innermost *stage* covering
it (a span that is not a stage passes its time to its nearest stage ancestor),
so a nested child's time goes to the child, and time the turn spends outside
any stage is the *untraced remainder*. Per turn the charges add up to its
duration exactly.

Children are clipped to their parent's interval (`traces.Node` already is),
and FOLLOWS_FROM children (fire-and-forget work the parent does not wait for)
are never on the parent's path.

`attribute_first_token` walks the same way to the turn's first streamed chunk
instead of its end: the "share of time to first token".
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from operator import attrgetter

import msgspec

from rag_otel.analysis.traces import Node, Turn


class Attribution(msgspec.Struct, gc=False):
    """One turn's critical path: nanoseconds charged per stage, and the untraced remainder.

    A msgspec ``Struct`` (built in C: two per turn), untracked by the garbage collector:
    it holds no cycle."""

    duration_ns: int
    charges: dict[str, int]
    remainder_ns: int


Orders = dict[int, list[Node]]
"""Per node (by ``id``) with several children, its children latest end first: what
`attribute` and `attribute_first_token` of one turn may share (one sort, two walks)."""


def attribute(turn: Turn, orders: Orders | None = None) -> Attribution:
    root = turn.root
    charges, remainder = _walk(root, root.end, {}, orders=orders)
    return Attribution(root.end - root.start, charges, remainder)


def attribute_turn(turn: Turn) -> tuple[Attribution, Attribution | None]:
    """`attribute` and `attribute_first_token` of one turn (None without a streamed
    chunk), as the `Analyzer` takes both: the children sorted once for the two walks."""
    if not turn.flat:
        orders: Orders | None = {} if turn.first_chunks is not None else None
        plain = attribute(turn, orders)
        return plain, None if orders is None else attribute_first_token(turn, orders)
    kids = turn.root.children
    if len(kids) < 2:
        return _attribute_flat(turn, kids)
    try:  # by end alone (one sort, not `_by_end`'s two) unless ends tie where it matters
        return _attribute_flat(turn, sorted(kids, key=_END, reverse=True))
    except _EndsTied:
        return _attribute_flat(turn, _by_end(kids))


def _attribute_flat(turn: Turn, kids: list[Node]) -> tuple[Attribution, Attribution | None]:
    """`attribute_turn` of a `Turn.flat` turn, its children (`kids`) in `_walk_flat` order."""
    root = turn.root
    lo, hi = root.start, root.end
    charges: dict[str, int] = {}
    plain = Attribution(hi - lo, charges, _walk_flat(kids, lo, hi, None, charges))
    found = None if turn.first_chunks is None else _first_chunk(turn)
    if found is None:
        return plain, None
    best, at = found  # under a flat root, its chain is (root, best) or the root alone
    pinned = None if best is root else best
    if pinned is not None:
        derived = _first_token_from_plain(plain, kids, pinned, hi, at)
        if derived is not None:
            return plain, derived
    charges = {}
    return plain, Attribution(at - lo, charges, _walk_flat(kids, lo, at, pinned, charges))


def _first_token_from_plain(
    plain: Attribution, kids: list[Node], pinned: Node, hi: int, at: int
) -> Attribution | None:
    """A flat turn's first-token attribution (up to `at`) from its plain one (up to
    `hi`), when the child that streamed first (`pinned`) is the first the plain walk put
    on the path and the only child charged to its stage (as when the generation ends the
    turn); None otherwise.

    Then both walks go on alike from the pinned child's start (the children before it
    in `kids` are empty: the first-token walk passes them too), so the first-token
    charges are the plain ones without the pinned child's and the gap after it, plus the
    pinned child from its start to `at`, charged last as `_walk` charges it. The second
    walk saved is half the attribution of a turn; tests/analysis/test_traces.py checks
    the result against `_walk`'s.
    """
    for kid in kids:  # the first child `_walk_flat` takes: the first that is not empty
        if kid.end != kid.start:
            break
    else:
        return None
    if kid is not pinned:
        return None
    key, start = pinned.key, pinned.start
    charged = pinned.end - start
    charges = dict(plain.charges)
    remainder = plain.remainder_ns - (hi - pinned.end)
    if key is None:
        remainder += at - start - charged
    elif charges.get(key) != charged:
        return None  # another child of its stage is charged: not the shape assumed here
    else:
        del charges[key]
        if at > start:
            charges[key] = at - start
    return Attribution(at - (hi - plain.duration_ns), charges, remainder)


def attribute_first_token(turn: Turn, orders: Orders | None = None) -> Attribution | None:
    """The critical path to the turn's first streamed chunk; None when no span streamed.

    The same walk, ending at the first chunk ``T`` instead of the turn's end. The
    spans from the turn down to the one that streamed first (its *chain*) are on the
    path up to ``T``, whatever else is still running then; before each chain span
    starts, its parent's other children are walked as usual. A generation counts up to
    its first chunk only, and what starts after the chain span counts nothing::

        turn      |=======================================================|  14 ms
        retrieve  |===========|                                              3 ms
        rerank                |===============|                              4 ms
        generate                              |=======*===================|  7 ms, * = first chunk
        audit                                     |===================|      5 ms
        path      |retrieve   |rerank         |gen    |  (first token: 9 ms = 3 + 4 + 2)

    ``audit`` is still running at ``T``, and the plain walk would take it (it "ends"
    last); but the first token waited on ``generate``, which is pinned, and ``audit``
    started after ``generate`` did, so it counts nothing. Per turn the charges add up to
    ``T`` minus the turn's start exactly.
    """
    found = first_token_path(turn)
    if found is None:
        return None
    chain, at = found
    root = turn.root
    via = {id(parent): child for parent, child in pairwise(chain)}
    charges, remainder = _walk(root, at, via, orders=orders)
    return Attribution(at - root.start, charges, remainder)


def first_token_path(turn: Turn) -> tuple[list[Node], int] | None:
    """(the nodes from the turn's root down to the one whose first chunk came first, that
    instant clamped into the node), or None when no node of the turn has a first chunk."""
    found = _first_chunk(turn)
    if found is None:
        return None
    best, at = found
    root = turn.root
    if best is root or turn.flat or any(kid is best for kid in root.children):  # common shapes
        return ([root] if best is root else [root, best]), at
    # Breadth-first from the root with parent indices: the chain is read back from best.
    seen: list[tuple[Node, int]] = [(root, -1)]
    i = 0
    while seen[i][0] is not best:
        seen.extend((kid, i) for kid in seen[i][0].children)
        i += 1
    chain: list[Node] = []
    while i >= 0:
        node, i = seen[i]
        chain.append(node)
    chain.reverse()
    return chain, at


def _first_chunk(turn: Turn) -> tuple[Node, int] | None:
    """(the node whose first chunk came first, that instant clamped into it), or None."""
    best: Node | None = None
    at = 0
    for node in turn.first_chunks or ():
        t = node.span.first_chunk_ns
        assert t is not None
        if t < node.start:
            t = node.start
        elif t > node.end:
            t = node.end
        if best is None or t < at:
            best, at = node, t
    return None if best is None else (best, at)


def critical_path(turn: Turn) -> list[tuple[Node, int, int]]:
    """The nodes on the turn's critical path, each with the interval it is on it
    (``(node, from_ns, to_ns)``) in time order, the turn's root first: what a waterfall
    highlights."""
    path: list[tuple[Node, int, int]] = []
    _walk(turn.root, turn.root.end, {}, path)
    path.sort(key=lambda step: (step[1], -step[2]))
    return path


def _walk(
    root: Node,
    hi: int,
    via: dict[int, Node],
    path: list[tuple[Node, int, int]] | None = None,
    orders: Orders | None = None,
) -> tuple[dict[str, int], int]:
    """Charge ``[root.start, hi]`` along the critical path: (ns per stage, untraced ns).

    ``via`` pins a child per parent (by ``id``): it is on the path from its start up to
    ``hi`` before any other child is considered (`attribute_first_token`'s chain).
    ``path``, when given, receives each node on the path with its interval on it;
    ``orders``, the children's order met in an earlier walk of the same turn (and kept
    for the next)."""
    charges: dict[str, int] = {}
    remainder = 0
    work: list[tuple[Node, int, int]] = [(root, root.start, hi)]
    while work:
        node, lo, hi = work.pop()
        if path is not None:
            path.append((node, lo, hi))
        own = 0
        cursor = hi
        pinned = via.get(id(node)) if via else None
        if pinned is not None:
            start = pinned.start if pinned.start > lo else lo
            work.append((pinned, start, hi))
            cursor = start
        kids = node.children
        if kids:
            if len(kids) > 1:
                kids = _ordered(node, orders)
            for kid in kids:
                if kid.end <= lo or cursor <= lo:
                    break
                if kid.start >= cursor or kid.span.follows_from or kid.end == kid.start:
                    continue
                if kid is pinned:
                    continue
                end = kid.end if kid.end < cursor else cursor
                start = kid.start if kid.start > lo else lo
                own += cursor - end
                if kid.children:
                    work.append((kid, start, end))
                else:  # a leaf (never pinned: only parents are) owns it all, charged here
                    if path is not None:
                        path.append((kid, start, end))
                    if kid.key is None:
                        remainder += end - start
                    elif end > start:
                        charges[kid.key] = charges.get(kid.key, 0) + end - start
                cursor = start
        own += cursor - lo
        if node.key is None:
            remainder += own
        elif own:
            charges[node.key] = charges.get(node.key, 0) + own
    return charges, remainder


def _walk_flat(
    kids: list[Node], lo: int, hi: int, pinned: Node | None, charges: dict[str, int]
) -> int:
    """`_walk` from ``hi`` down to ``lo`` of a `Turn.flat` root (children all leaves
    inside it, none FOLLOWS_FROM, the root charged to no stage): the same charges,
    added to ``charges`` in the same order, and the untraced ns returned. An inline copy
    of `_walk` for that shape, without its work stack and the checks that shape makes
    moot; tests/analysis/test_traces.py checks both give the same attribution.

    `kids` latest end first. `_walk` also puts the earlier start first among equal
    ends (`_by_end`), which matters only when a child is taken and the next one taken
    ends with it but starts before it: then `_EndsTied` is raised, so that a caller
    may sort by end alone and sort again in the rare turn where that differs. (In
    `_by_end` order it never is: among equal ends, the one taken first starts first.)
    """
    remainder = 0
    cursor = hi
    last = None  # the end of the child taken last
    if pinned is not None:  # on the path from its start to `hi`: charged after the root
        cursor = pinned.start
    for kid in kids:
        start = kid.start
        if start >= cursor:  # (so is the pinned child: it starts at the first cursor)
            continue
        end = kid.end
        if end == start:
            continue
        if end > cursor:
            if end == last:
                raise _EndsTied
            last, end = end, cursor
        else:
            last = end
            if end < cursor:  # a gap: the root's own time
                remainder += cursor - end
        key = kid.key
        if key is None:
            remainder += end - start
        elif key in charges:
            charges[key] += end - start
        else:
            charges[key] = end - start
        cursor = start
    remainder += cursor - lo
    if pinned is not None:
        own = hi - pinned.start
        if pinned.key is None:
            remainder += own
        elif own:
            charges[pinned.key] = charges.get(pinned.key, 0) + own
    return remainder


class _EndsTied(Exception):
    """`_walk_flat` met children in an order that `_by_end` would swap."""


def _ordered(node: Node, orders: Orders | None) -> list[Node]:
    """`node`'s children (two or more) latest end first (`_by_end`), kept in ``orders``
    when given."""
    kids = node.children
    if orders is None:
        return _by_end(kids)
    ordered = orders.get(id(node))
    if ordered is None:
        ordered = orders[id(node)] = _by_end(kids)
    return ordered


_START = attrgetter("start")
_END = attrgetter("end")


def _by_end(kids: list[Node]) -> list[Node]:
    """Latest end first, then earliest start: two C-level sorts."""
    ordered = sorted(kids, key=_START)
    ordered.sort(key=_END, reverse=True)  # stable, reverse too: starts stay ascending
    return ordered


@dataclass(frozen=True, slots=True)
class Shares:
    """Fractions of turn time on the critical path, per stage plus the untraced remainder.

    Over a set of turns: (sum of each stage's charged time) / (sum of turn durations).
    The stage shares and the remainder add up to 1 (when the turns have any duration).
    """

    turns: int
    total_ns: int
    stages: dict[str, float]
    remainder: float

    def ranked(self) -> list[tuple[str, float]]:
        """Stages by share, largest first (ties by name)."""
        return sorted(self.stages.items(), key=lambda kv: (-kv[1], kv[0]))


class ShareSum:
    """Running sums behind `Shares`: turns, turn time, untraced remainder and each stage's
    charged time (stages in the order first charged).

    The analyzer's come from its `AttributionLog`'s columns (`AttributionLog.share_sum`):
    summing a million `Attribution`s kept scattered over the heap took longer than
    attributing them."""

    __slots__ = ("charged", "remainder_ns", "total_ns", "turns")

    def __init__(self) -> None:
        self.turns = self.total_ns = self.remainder_ns = 0
        self.charged: dict[str, int] = {}

    def add(self, attribution: Attribution) -> None:
        self.turns += 1
        self.total_ns += attribution.duration_ns
        self.remainder_ns += attribution.remainder_ns
        charged = self.charged
        get = charged.get
        for stage, ns in attribution.charges.items():
            charged[stage] = get(stage, 0) + ns

    def shares(self) -> Shares:
        total = self.total_ns
        if total <= 0:
            return Shares(self.turns, 0, dict.fromkeys(self.charged, 0.0), 0.0)
        return Shares(
            self.turns,
            total,
            {k: v / total for k, v in self.charged.items()},
            self.remainder_ns / total,
        )


class AttributionLog:
    """Every turn's attribution, kept to the end of the analysis in columns.

    The report needs all of them only summed (`share_sum`), and one by one only for the
    turns near p50 and p95 (``log[i]``, rebuilt). So a turn costs no objects of its own:
    per *shape* of charges (the stages charged, in the order first charged) one
    ``array('Q')`` holds a row per turn of that shape (duration, remainder, then each
    stage's charge), and per turn two small numbers say which shape and which row. A
    turn's two `Attribution`s with their dicts of charges were about 1 kB each, kept for
    143,000 turns; a row is 8 bytes a value. Unsigned (every value is a length of time):
    CPython parses each value put into a signed ``array('q')`` with ``PyArg_Parse``, three
    times the cost; a negative value would make that shape's array signed.

    The sums of the shapes' columns, in the order the shapes were first met, add the stages
    in the order `ShareSum` would turn by turn: a stage is first charged in the turn where
    the first shape holding it is first met (tests/analysis/test_shares.py compares both).
    """

    __slots__ = ("_rows", "_shape_of", "_shapes", "_values")

    def __init__(self) -> None:
        self._shapes: dict[tuple[str, ...], int] = {}
        """Shape (the stages charged, in order) -> its number."""
        self._values: list[tuple[tuple[str, ...], array[int]]] = []
        """Per shape number, its stages and its rows (``2 + len(stages)`` values each)."""
        self._shape_of: array[int] = array("I")
        """Per turn, its shape's number."""
        self._rows: array[int] = array("Q")
        """Per turn, where its row starts in its shape's values."""

    def add(self, attribution: Attribution) -> None:
        """Log one turn's attribution."""
        charges = attribution.charges
        stages = tuple(charges)
        number = self._shapes.get(stages)
        if number is None:
            number = self._new_shape(stages)
        values = self._values[number][1]
        self._shape_of.append(number)
        self._rows.append(len(values))
        row = [attribution.duration_ns, attribution.remainder_ns, *charges.values()]
        try:
            values.fromlist(row)  # (all or nothing)
        except OverflowError:
            self._signed(number).fromlist(row)

    def _new_shape(self, stages: tuple[str, ...]) -> int:
        number = self._shapes[stages] = len(self._values)
        self._values.append((stages, array("Q")))
        return number

    def _signed(self, number: int) -> array[int]:
        """Shape `number`'s rows in a signed array from now on."""
        stages, values = self._values[number]
        if values.typecode != "q":
            values = array("q", values)
            self._values[number] = stages, values
        return values

    def __len__(self) -> int:
        return len(self._shape_of)

    def __getitem__(self, i: int) -> Attribution:
        """Turn `i`'s attribution, rebuilt from its row."""
        stages, values = self._values[self._shape_of[i]]
        row = self._rows[i]
        charged = values[row + 2 : row + 2 + len(stages)].tolist()  # one per stage
        # (not zip's strict=True: it doubles the time of a rebuild, 7,000 a band at 1M spans)
        return Attribution(values[row], dict(zip(stages, charged, strict=False)), values[row + 1])

    def share_sum(self) -> ShareSum:
        """The running sums over every turn logged (each shape's columns summed)."""
        running = ShareSum()
        running.turns = len(self._shape_of)
        charged = running.charged
        for stages, values in self._values:
            width = 2 + len(stages)
            running.total_ns += sum(values[0::width])
            running.remainder_ns += sum(values[1::width])
            for j, stage in enumerate(stages, start=2):
                charged[stage] = charged.get(stage, 0) + sum(values[j::width])
        return running

    def extend(self, other: AttributionLog) -> None:
        """Log another log's turns after this one's (another chunk's)."""
        numbers = array("I")  # theirs -> ours
        offsets = []  # where their rows of each shape start in ours
        for stages, values in other._values:
            number = self._shapes.get(stages)
            if number is None:
                number = self._new_shape(stages)
            numbers.append(number)
            mine = self._values[number][1]
            offsets.append(len(mine))
            if mine.typecode != values.typecode:
                mine = self._signed(number)
                values = array("q", values)
            mine.extend(values)
        self._shape_of.extend(numbers[n] for n in other._shape_of)
        self._rows.extend(
            offsets[n] + row for n, row in zip(other._shape_of, other._rows, strict=True)
        )


def shares(attributions: Iterable[Attribution]) -> Shares:
    """The shares over `attributions` (a band of turns; every turn's: `ShareSum`)."""
    running = ShareSum()
    for attribution in attributions:
        running.add(attribution)
    return running.shares()


# Turns "at p95" are those ranked within this many quantile points of it.
BAND_HALF_WIDTH = 0.025


def turns_near(
    durations: Sequence[int],
    q: float,
    half_width: float = BAND_HALF_WIDTH,
    order: Sequence[int] | None = None,
) -> list[int]:
    """Indices of the turns whose duration rank lies within ``q ± half_width``.

    Ranks are placed as in the percentile method (rank ``i`` of ``n`` sits at
    ``i / (n - 1)``); when no rank falls in the band, the turn nearest to ``q``.
    ``order``: `rank_order(durations)`, when the caller has it already (one sort for
    several bands).
    """
    n = len(durations)
    if n == 0:
        return []
    if order is None:
        order = rank_order(durations)
    if n == 1:
        return list(order)
    lo = math.ceil((q - half_width) * (n - 1) - 1e-9)
    hi = math.floor((q + half_width) * (n - 1) + 1e-9)
    lo, hi = max(lo, 0), min(hi, n - 1)
    if lo > hi:
        nearest = min(max(round(q * (n - 1)), 0), n - 1)
        return [order[nearest]]
    return list(order[lo : hi + 1])


def rank_order(durations: Sequence[int]) -> list[int]:
    """The indices of `durations` from the shortest to the longest (ties in index order)."""
    return sorted(range(len(durations)), key=durations.__getitem__)
