"""What if a stage were faster? Each turn's spans re-laid with a change applied.

    change = parse_change("rerank=0.5")          # or "rerank=-40ms", "parallel:vector,bm25",
    plan = Plan(turn)                            # "embed=0.5+rerank=0.5"
    duration_ns, first_token_ns = plan.predict(change)

A share of the critical path is not a saving: halving a stage that runs beside a parallel
sibling saves only down to the sibling, and halving a stage with slack saves nothing. So
the turn is re-laid on its own dependency graph, read from the trace the way the critical
path (`rag_otel.analysis.critical_path`) reads it:

* within a parent, a child that starts after a sibling ended waits for it (for the latest
  such sibling, keeping the gap after it); overlapping siblings run in parallel;
* a child that waits for no sibling keeps its offset from its parent's start, and the
  parent's own time after its last child stays: a parent ends its tail after its children;
* a changed stage scales with everything inside it, its time to first chunk included::

    before     turn |=========================================| 100 ms
               vector |====================|                     40 ms
               bm25   |=============|                            25 ms
               rerank                      |=================|   35 ms
    vector=0.5 turn |==================================|          88 ms (-12, not -20:
               vector |==========|                                20 ms  bm25 is now
               bm25   |=============|                             25 ms  the longer
               rerank               |=================|           35 ms  branch)

Starting times move, durations do not (except the changed stage's), and the result is
``(turn duration, time to first token)`` in nanoseconds. Changes:

* ``STAGE=FACTOR``: every outermost span of the stage takes ``FACTOR`` times as long
  (``0.5`` twice as fast, ``0`` removed), and what runs inside it with it;
* ``STAGE=-40ms`` (``us``, ``ms``, ``s``): that much less time, floored at 0;
* ``parallel:A,B[,...]``: under each parent that has spans of two or more of them, those
  spans start together at the earliest one's start (``asyncio.gather``); what waited for
  any of them still waits for it;
* ``A=0.5+B=0.5``: several at once.

This is a max-plus model (a start is the latest end it waits for, plus a fixed gap), so a
faster stage never makes a turn longer, and a stage off the critical path saves nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TypeAlias

from rag_otel.analysis.critical_path import first_token_path
from rag_otel.analysis.model import InputError
from rag_otel.analysis.traces import Node, Turn

FORMS = "STAGE=FACTOR (e.g. rerank=0.5), STAGE=-DURATION (rerank=-40ms), parallel:A,B, A=0.5+B=0.5"
"""The accepted forms of a change, for error messages."""
OPTION = "--what-if"

DEFAULT_FACTOR = 0.5
"""The default report's question: what if this stage were twice as fast?"""

_DURATION = re.compile(r"^-\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|µs|ms|s)$")
_UNIT_NS = {"us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9}


@dataclass(frozen=True, slots=True)
class Scale:
    """One stage made faster: ``factor`` times as long, then ``minus_ns`` less (floored at 0)."""

    stage: str
    factor: float = 1.0
    minus_ns: float = 0.0

    def apply(self, ns: float) -> float:
        return max(0.0, ns * self.factor - self.minus_ns)


@dataclass(frozen=True, slots=True)
class Change:
    """A what-if question: stages scaled and groups of sibling stages started together."""

    text: str
    """As the user wrote it (normalised), e.g. ``rerank=0.5``: the key of its results."""
    scales: tuple[Scale, ...] = ()
    parallel: tuple[tuple[str, ...], ...] = ()

    @property
    def stages(self) -> list[str]:
        """Every stage the change names, in order, once."""
        names = [s.stage for s in self.scales] + [n for group in self.parallel for n in group]
        return list(dict.fromkeys(names))


def faster(stage: str, factor: float = DEFAULT_FACTOR) -> Change:
    """``STAGE=FACTOR``: the change the default report asks about for each stage."""
    return Change(f"{stage}={factor:g}", (Scale(stage, factor),))


def parallel(stages: tuple[str, ...]) -> Change:
    return Change("parallel:" + ",".join(stages), (), (stages,))


def parse_change(text: str) -> Change:
    """A change from its text; raises `InputError` (one line, the accepted forms) when it
    cannot be read or asks for a negative factor."""
    scales: list[Scale] = []
    groups: list[tuple[str, ...]] = []
    parts = [p.strip() for p in text.split("+")]
    if not text.strip() or not all(parts):
        raise _bad(text, "expected a change")
    for part in parts:
        if part.startswith("parallel:"):
            names = tuple(n.strip() for n in part[len("parallel:") :].split(","))
            if len(names) < 2 or not all(names) or len(set(names)) < len(names):
                raise _bad(text, "expected two or more different stages" + _in(part, text))
            groups.append(names)
            continue
        stage, eq, value = part.rpartition("=")
        stage, value = stage.strip(), value.strip()
        if not eq or not stage or not value:
            raise _bad(text, "expected STAGE=FACTOR or STAGE=-DURATION" + _in(part, text))
        m = _DURATION.match(value)
        if m is not None:
            scales.append(Scale(stage, minus_ns=float(m.group(1)) * _UNIT_NS[m.group(2)]))
            continue
        try:
            factor = float(value)
        except ValueError:
            raise _bad(text, f"{value!r} is neither a factor nor a duration like -40ms") from None
        if not math.isfinite(factor):
            raise _bad(text, f"{value!r} is not a finite factor")
        if factor < 0:
            raise InputError(
                OPTION,
                None,
                f"{text!r}: negative factor {value} (0.5 is twice as fast, 0 removes the stage; "
                "for less time write STAGE=-40ms)",
            )
        scales.append(Scale(stage, factor))
    changed = [s.stage for s in scales]
    if len(set(changed)) < len(changed):
        raise _bad(text, "a stage is changed twice")
    return Change("+".join(parts), tuple(scales), tuple(groups))


def _in(part: str, text: str) -> str:
    return "" if part == text.strip() else f" in {part!r}"


def _bad(text: str, what: str) -> InputError:
    return InputError(OPTION, None, f"{text!r}: {what}; accepted forms: {FORMS}")


def unknown_stage_error(change: Change, stage: str, known: list[str]) -> InputError:
    listed = ", ".join(sorted(map(str, known))) or "none"
    return InputError(
        OPTION, None, f"{change.text!r}: unknown stage {stage!r}; known stages: {listed}"
    )


def not_siblings_error(change: Change, group: tuple[str, ...]) -> InputError:
    return InputError(
        OPTION,
        None,
        f"{change.text!r}: {', '.join(group)} are never siblings (children of one span) in any "
        "turn; parallel: needs stages under the same parent",
    )


_NO_WRAPPERS: frozenset[str] = frozenset()


def _wrappers(nodes: list[Node], parents: list[int]) -> frozenset[str]:
    """The stages that have another stage inside them. One pass: nodes are in pre-order, so
    a parent's nearest enclosing stage is known before its children's."""
    enclosing: list[str | None] = [None] * len(nodes)
    found: set[str] = set()
    for i, node in enumerate(nodes):
        up = parents[i]
        if up < 0:
            continue
        above = nodes[up].key
        if above is None:
            above = enclosing[up]
        enclosing[i] = above
        key = node.key
        if key is not None and above is not None and above != key:
            found.add(above)
    return frozenset(found) if found else _NO_WRAPPERS


class Plan:
    """One turn's tree, numbered once, re-laid cheaply for each change.

    Nodes are numbered in pre-order, so children come after their parent and a walk down
    the numbers visits children first. A change re-lays only the parents of what it
    touches (and their ancestors); everything else keeps its measured place.
    """

    __slots__ = (
        "_chunks",
        "_durations",
        "_ends",
        "_kids",
        "_layout",
        "_levels",
        "_nodes",
        "_outer",
        "_parents",
        "_starts",
        "_work",
        "wrappers",
    )

    def __init__(self, turn: Turn) -> None:
        starts: list[int] = []
        ends: list[int] = []
        parents: list[int] = []
        kids: list[list[int]] = []
        outer: dict[str, list[int]] = {}
        chunk_nodes = turn.first_chunks or ()
        chunks: list[tuple[int, int]] = []
        root = turn.root
        stack: list[tuple[Node, int, str | None]] = [(root, -1, None)]
        if not chunk_nodes and all(not kid.children for kid in root.children):
            # the common shape, quickly: a turn of stages that have no children
            stack.clear()
            nodes: list[Node] = [root, *root.children]
            n = len(nodes)
            starts = [node.start for node in nodes]
            ends = [node.end for node in nodes]
            parents = [-1] + [0] * (n - 1)
            kids = [list(range(1, n)), *[_NO_KIDS] * (n - 1)]  # shared: never appended to
            above = root.key
            if above is not None:
                outer[above] = [0]
            for i in range(1, n):
                key = nodes[i].key
                if key is not None and key != above:
                    outer.setdefault(key, []).append(i)
        else:
            nodes = []
        while stack:  # pre-order: children in their order, each after the previous subtree
            node, parent, above = stack.pop()
            i = len(starts)
            nodes.append(node)
            starts.append(node.start)
            ends.append(node.end)
            parents.append(parent)
            kids.append([])
            key = node.key
            if parent >= 0:
                kids[parent].append(i)
            if key is not None and key != above:
                outer.setdefault(key, []).append(i)
            if chunk_nodes and any(node is c for c in chunk_nodes):
                t = node.span.first_chunk_ns
                assert t is not None
                chunks.append((i, min(max(t, node.start), node.end)))
            if node.children:
                stack.extend((kid, i, key) for kid in reversed(node.children))
        self._starts = starts
        self._ends = ends
        self._parents = parents
        self._kids = kids
        self._nodes = nodes
        self._outer = outer
        self._chunks = chunks
        self._durations = [e - s for s, e in zip(starts, ends, strict=True)]
        self._layout: dict[int, _Children] = {}
        self.wrappers = _wrappers(nodes, parents) if len(outer) > 1 else _NO_WRAPPERS
        """Stages with another stage inside them (making them faster makes that one faster
        too, so the verdict does not name them: `verdict.decide`)."""
        self._work: dict[str, list[int]] = {}
        self._levels: dict[int, Levels] = {}

    def spans_by_parent(self, kinds: tuple[str, ...]) -> dict[int, dict[str, tuple[int, int, str]]]:
        """Per parent, its children's stages of these kinds: (first start, last end, kind)."""
        out: dict[int, dict[str, tuple[int, int, str]]] = {}
        parents, starts, ends = self._parents, self._starts, self._ends
        nodes = self._nodes
        for key, outer in self._outer.items():
            for i in outer:
                kind = nodes[i].span.stage_kind
                if kind is None or kind not in kinds or i == 0:
                    continue
                by_stage = out.setdefault(parents[i], {})
                had = by_stage.get(key)
                by_stage[key] = (
                    (starts[i], ends[i], kind)
                    if had is None
                    else (min(had[0], starts[i]), max(had[1], ends[i]), kind)
                )
        return out

    def each_faster(self, factor: float) -> list[tuple[str, int, int | None]]:
        """(stage, turn duration, time to first token) for each stage of the turn made
        `factor` times as long, on its own: the default table's question, in one call."""
        out: list[tuple[str, int, int | None]] = []
        durations, parents = self._durations, self._parents
        # with a first chunk, every change goes through `predict` (it moves the chunk too)
        levels = self._levels_at(0) if len(self._kids[0]) > 1 and not self._chunks else None
        for stage, nodes in self._outer.items():
            node = nodes[0]
            if levels is not None and len(nodes) == 1 and node > 0 and parents[node] == 0:
                # a child of the turn, in levels: no re-lay
                shrink = level_shrink(levels, node, durations[node] * factor)
                out.append((stage, round(durations[0] - shrink), None))
                continue
            duration, first = self.predict(Change(stage, (Scale(stage, factor),)))
            out.append((stage, duration, first))
        return out

    def siblings(self, group: tuple[str, ...]) -> bool:
        """Whether one parent has children of every stage in `group`."""
        return any(len(names) == len(group) for names in self._grouped(group).values())

    def predict(self, change: Change) -> tuple[int, int | None]:
        """(turn duration, time to first token or None) in ns, were `change` made."""
        scaled: dict[int, Scale] = {}
        for scale in change.scales:
            for i in self._outer.get(scale.stage, ()):
                scaled[i] = scale
        if not change.parallel and len(change.scales) == 1:
            if len(scaled) == 1 and not self._chunks:
                fast = self._by_levels(next(iter(scaled)), change.scales[0])
                if fast is not None:
                    return fast, None
            work = self._work.get(change.scales[0].stage)
            if work is None:
                work = self._work[change.scales[0].stage] = self._above(list(scaled))
            return self._relay(scaled, work, {})
        if not self._chunks:
            fast = self._parallel_by_levels(change)
            if fast is not None:
                return fast, None
        laid: dict[int, _Children] = {}
        for group in change.parallel:
            for parent in self._grouped(group):
                laid[parent] = self._lay(parent, group)
        return self._relay(scaled, self._above([*scaled, *laid]), laid)

    def _by_levels(self, node: int, scale: Scale) -> int | None:
        """The turn's duration with the one node `node` scaled, when every parent above it
        runs its children in levels (each level waits for all of the one before, as in
        ``embed -> (vector | bm25) -> rerank``); None otherwise. A parent's duration is then
        the sum over its levels of the level's longest child (gap included), plus its tail,
        and only the changed child's level moves: O(depth), not a re-lay."""
        return self._up(node, scale.apply(float(self._durations[node])))

    def _up(self, node: int, new: float) -> int | None:
        """The turn's duration once `node` takes `new` ns, by levels (None: not in levels)."""
        parents, durations = self._parents, self._durations
        while node > 0:
            parent = parents[node]
            levels = self._levels_at(parent)
            if levels is None:
                return None
            new = durations[parent] - level_shrink(levels, node, new)
            node = parent
        return round(new)

    def _levels_at(self, parent: int) -> Levels | None:
        levels = self._levels.get(parent)
        if levels is None:
            levels = self._levels[parent] = self._levels_of(parent)
        return levels if levels[0] else None

    def _parallel_by_levels(self, change: Change) -> int | None:
        """The turn's duration with two sibling spans started together, by levels: the later
        one moves to the earlier one's level and gap; what came after it still waits for it.
        None when that is not the shape (then `_relay` does it)."""
        if len(change.parallel) != 1 or len(change.parallel[0]) != 2 or change.scales:
            return None
        a, b = (self._outer.get(stage, ()) for stage in change.parallel[0])
        if len(a) != 1 or len(b) != 1 or a[0] == 0 or b[0] == 0:
            return None
        parent = self._parents[a[0]]
        if self._parents[b[0]] != parent:
            return None
        levels = self._levels_at(parent)
        if levels is None:
            return None
        return self._up(parent, together_in_levels(levels, a[0], b[0], self._starts, self._ends)[0])

    def _levels_of(self, parent: int) -> Levels:
        """`levels_of` the children of `parent`, in order of start (as `_lay` orders them);
        ({}, [], 0), no levels, when one of them is FOLLOWS_FROM."""
        nodes, starts = self._nodes, self._starts
        kids = sorted(self._kids[parent], key=starts.__getitem__)
        if any(nodes[kid].span.follows_from for kid in kids):
            return {}, [], 0
        return levels_of(kids, starts, self._ends, parent)

    def relay(self, change: Change) -> tuple[int, int | None]:
        """`predict` without the shortcut by levels: the full re-lay, every time (the
        reference the shortcuts are tested against)."""
        scaled = {i: sc for sc in change.scales for i in self._outer.get(sc.stage, ())}
        laid = {
            parent: self._lay(parent, group)
            for group in change.parallel
            for parent in self._grouped(group)
        }
        return self._relay(scaled, self._above([*scaled, *laid]), laid)

    def _grouped(self, group: tuple[str, ...]) -> dict[int, set[str]]:
        """The parents of outermost spans of two or more stages of `group`, with those stages."""
        found: dict[int, set[str]] = {}
        parents = self._parents
        for stage in group:
            for i in self._outer.get(stage, ()):
                if i > 0:
                    found.setdefault(parents[i], set()).add(stage)
        return {p: names for p, names in found.items() if len(names) >= 2}

    def _above(self, nodes: list[int]) -> list[int]:
        """`nodes` and their ancestors, children first (highest number first)."""
        seen: set[int] = set()
        parents = self._parents
        for i in nodes:
            while i >= 0 and i not in seen:
                seen.add(i)
                i = parents[i]
        return sorted(seen, reverse=True)

    def _local(self) -> list[int]:
        starts, parents = self._starts, self._parents
        return [s - starts[p] if p >= 0 else 0 for s, p in zip(starts, parents, strict=True)]

    def _layout_of(self, i: int) -> _Children:
        lay = self._layout.get(i)
        if lay is None:
            lay = self._layout[i] = self._lay(i, ())
        return lay

    def _lay(self, parent: int, group: tuple[str, ...]) -> _Children:
        starts, ends, nodes = self._starts, self._ends, self._nodes
        ids = self._kids[parent]
        follows = {i: nodes[i].span.follows_from for i in ids}
        start = starts
        if group:  # the group's children start at the earliest one's start
            start = starts[:]
            members = [i for i in ids if any(i in self._outer.get(g, ()) for g in group)]
            earliest = min(start[i] for i in members)
            for i in members:
                start[i] = earliest
        # A child waits for the children that ended by its start and started before it in
        # the trace: children that started at one instant never wait for each other (zero-
        # length ones included) whatever order they are listed in, and starting some
        # together adds no new waits. Sorted by end then start, those it waits for are a
        # prefix of `by_end`.
        order_ids = sorted(ids, key=start.__getitem__)
        by_end = sorted(
            [i for i in order_ids if not follows[i]], key=lambda i: (ends[i], starts[i])
        )
        order: list[tuple[int, int, int, bool]] = []
        waits = 0
        n = len(by_end)
        latest = p_start = starts[parent]
        for i in order_ids:
            s = start[i]
            while waits < n:
                j = by_end[waits]
                if ends[j] > s or starts[j] >= s:
                    break
                if ends[j] > latest:
                    latest = ends[j]
                waits += 1
            order.append((i, waits, s - latest if waits else s - p_start, not follows[i]))
        tail = p_start + self._durations[parent] - ends[by_end[-1]] if by_end else None
        return _Children(order, by_end, tail)

    def _relay(
        self, scaled: dict[int, Scale], work: list[int], laid: dict[int, _Children]
    ) -> tuple[int, int | None]:
        durations: list[float] = [*self._durations]
        # local starts (from the parent's start); only a first chunk reads those not re-laid
        starts: list[float] = [*self._local()] if self._chunks else [0.0] * len(durations)
        ratios: dict[int, float] = {}
        kids = self._kids
        for i in work:
            if kids[i]:
                lay = laid.get(i) or self._layout_of(i)
                run = -math.inf
                p = 0
                by_end = lay.by_end
                end = 0.0
                for kid, waits, gap, counts in lay.order:
                    while p < waits:
                        e = starts[by_end[p]] + durations[by_end[p]]
                        if e > run:
                            run = e
                        p += 1
                    s = run + gap if waits else gap
                    starts[kid] = s
                    if counts and s + durations[kid] > end:
                        end = s + durations[kid]
                if lay.tail is not None:
                    durations[i] = end + lay.tail
            scale = scaled.get(i)
            if scale is not None:
                before = durations[i]
                durations[i] = scale.apply(before)
                if before > 0:
                    ratios[i] = durations[i] / before
        first: int | None = None
        for ix, t in self._chunks:
            at = round(self._chunk_offset(ix, t, starts, durations, ratios))
            first = at if first is None or at < first else first
        return round(durations[0]), first

    def _chunk_offset(
        self, ix: int, t: int, starts: list[float], durations: list[float], ratios: dict[int, float]
    ) -> float:
        """Where a first chunk at `t` inside node `ix` lands, from the turn's start: a
        zero-length child of `ix` at `t` (after the children that ended by then and started
        before it)."""
        offset = float(t - self._starts[ix])
        if self._kids[ix]:
            best_old, best_new = -1, -math.inf
            for kid in self._layout_of(ix).by_end:
                if self._ends[kid] > t or self._starts[kid] >= t:
                    break
                best_old = self._ends[kid]
                best_new = max(best_new, starts[kid] + durations[kid])
            if best_old >= 0:
                offset = best_new + (t - best_old)
        offset *= ratios.get(ix, 1.0)
        parents = self._parents
        while ix > 0:
            parent = parents[ix]
            offset = (starts[ix] + offset) * ratios.get(parent, 1.0)
            ix = parent
        return offset


def predict_turn(turn: Turn, change: Change) -> tuple[int, int | None]:
    """(duration, time to first token or None) of `turn` in ns, were `change` made."""
    return Plan(turn).predict(change)


def first_token_ns(turn: Turn) -> int | None:
    """The turn's time to first token as the critical path measures it."""
    found = first_token_path(turn)
    return None if found is None else found[1] - turn.root.start


def levels_of(kids: list[int], starts: list[int], ends: list[int], parent: int) -> Levels:
    """`Plan`'s levels of `parent`'s children `kids` (in order of start, none FOLLOWS_FROM):
    per child (its level's number, its gap), per level (its longest child's gap +
    duration, which child that is, the next longest), and the parent's tail; ({}, [], 0)
    when the children are not in levels. A child starts a new level when every child so
    far has ended and it started after the current level did; it joins the current level
    when it started with it or when none of that level has ended (as `Plan._lay`: spans
    that start at one instant never wait for each other)."""
    if not kids:
        return {}, [], 0
    rows: list[tuple[float, int, float]] = []
    base = starts[parent]  # where the current level's gaps count from
    top = kids[0]  # the current level's longest child (the first child opens level 0)
    level_start = starts[top]
    ended = first_end = ends[top]  # the current level's latest and earliest end
    longest: float = ended - base
    second = _NO_TIME
    by_kid = {top: (0, level_start - base)}
    level = 0  # the current level's number
    total: float = 0  # the levels' lengths so far
    for kid in kids[1:]:
        s, e = starts[kid], ends[kid]
        if s != level_start:
            if ended <= s:  # all ended: a new level, and this child its longest so far
                rows.append((longest, top, second))
                level += 1
                total += longest
                base = ended
                ended = first_end = e
                level_start = s
                longest, second, top = e - base, _NO_TIME, kid
                by_kid[kid] = (level, s - base)
                continue
            if first_end <= s:  # some ended, not all
                return {}, [], 0
        if e < first_end:
            first_end = e
        if e > ended:
            ended = e
        v = e - base  # gap + duration
        if v > longest:
            longest, second, top = v, longest, kid
        elif v > second:
            second = v
        by_kid[kid] = (level, s - base)
    rows.append((longest, top, second))
    tail = ends[parent] - ended
    if total + longest + tail != ends[parent] - starts[parent]:
        return {}, [], 0
    return by_kid, rows, tail


def level_shrink(levels: Levels, node: int, new: float) -> float:
    """How much shorter the parent gets when its child `node` (in `levels`) takes `new` ns:
    only that child's level moves."""
    row, gap = levels[0][node]
    longest, top, second = levels[1][row]
    now = gap + new
    other = second if top == node else longest
    return longest - (other if other > now else now)


def together_in_levels(
    levels: Levels, x: int, y: int, starts: list[int], ends: list[int], node: int = -1
) -> tuple[float, float]:
    """(the parent's duration, the new start of its child `node` from the parent's start)
    once its children `x` and `y` (in `levels`) start together: the later one moves to
    the earlier one's level and gap; what came after it still waits for it."""
    by_kid, rows, tail = levels
    (x_level, x_gap), (y_level, y_gap) = by_kid[x], by_kid[y]
    if x_level < y_level or (x_level == y_level and starts[x] <= starts[y]):  # x first
        at, gap, left, moved = x_level, x_gap, y_level, y
    else:
        at, gap, left, moved = y_level, y_gap, x_level, x
    node_at, node_gap = (at, gap) if node == moved else by_kid.get(node, _NOT_A_KID)
    node_start = math.nan
    run: float = 0  # integer times stay integers (`Predictions._add_leaves` keeps them)
    moved_end = _NO_TIME
    for index, (longest, top, second) in enumerate(rows):
        if index == node_at:
            node_start = run + node_gap
        if index == at:
            moved_end = run + gap + (ends[moved] - starts[moved])
        end = run + (second if top == moved else longest)
        if index >= left and moved_end > end:
            end = moved_end
        if end > run:
            run = end
    return run + tail, node_start


_NO_KIDS: list[int] = []
_NO_TIME = -math.inf
"""Before any time (a constant: this runs per level per turn)."""
_NOT_A_KID = (-1, 0)
Levels: TypeAlias = tuple[dict[int, tuple[int, int]], list[tuple[float, int, float]], int]


@dataclass(slots=True)
class _Children:
    order: list[tuple[int, int, int, bool]]
    """Per child, in order of (effective) start: (node, siblings waited for (a prefix of
    `by_end`), gap after them, or offset from the parent's start when none; whether the
    parent waits for it)."""
    by_end: list[int]
    """The children the others may wait for, in order of end."""
    tail: int | None
    """The parent's own time after its last waited-for child; None: it waits for none."""
