"""What-if results over many turns: each turn's predicted duration and time to first token.

    predictions = Predictions([parse_change("rerank=0.5")])    # the changes asked for
    predictions.add(turn, turn_index, first_token_index)      # per turn, from its tree
    what_if, suggestions = predictions.results(durations, first_tokens, shares, known)

Per turn, from the tree the `Analyzer` already built (`rag_otel.analysis.whatif.Plan`),
it predicts the turn's duration and time to first token under each change asked for, under
each of its stages made twice as fast (the default report's table, which picks its stages
only at the end), and with each pair of sibling stages that could run at once started
together (`rag_otel.analysis.missed_parallel`). The common shape (a turn whose children
are leaf stages in levels, each stage once) gets the default ones without a `Plan`, from
the same level functions; what depends only on the shape (which stage is which child,
which pairs could run at once) is worked out once per shape (docs/performance.md). Only
predictions that differ from what was measured are kept, as (turn index, ns) pairs, so
turns a change does not touch cost nothing; percentiles are taken at the end on the
measured durations with the predictions put in.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag_otel.analysis.critical_path import Shares
from rag_otel.analysis.missed_parallel import (
    MIN_SAVING,
    SEQUENTIAL_SHARE,
    candidate_pairs,
    sibling_pairs,
    suggestion,
)
from rag_otel.analysis.stats import percentile
from rag_otel.analysis.traces import Node, Turn
from rag_otel.analysis.whatif import (
    DEFAULT_FACTOR,
    Change,
    Plan,
    faster,
    levels_of,
    not_siblings_error,
    parallel,
    together_in_levels,
    unknown_stage_error,
)

MIN_SHARE = 0.05
"""The default table covers every stage with at least this share of the critical path..."""
MIN_ROWS = 3
"""... and at least this many stages (the largest shares)."""

_NS_PER_MS = 1e6


@dataclass(frozen=True, slots=True)
class WhatIf:
    """One change's predicted turn and first-token percentiles, and what it saves."""

    change: str
    turn_p50_ms: float
    turn_p95_ms: float
    saving_p50_ms: float
    saving_p95_ms: float
    saving_p50_pct: float
    """Of the measured turn p50 (0.19: 19% less)."""
    saving_p95_pct: float
    first_token_p50_ms: float | None = None
    first_token_p95_ms: float | None = None
    first_token_saving_p50_ms: float | None = None
    first_token_saving_p95_ms: float | None = None
    stage: str | None = None
    """For the default table's rows: the stage made twice as fast."""
    share: float | None = None
    """... and its share of turn time on the critical path."""
    contains_stages: bool = False
    """The stage has other stages inside it: its saving is theirs too (never the verdict)."""

    def to_dict(self) -> dict[str, Any]:
        ft = (
            None
            if self.first_token_p50_ms is None
            else {"p50_ms": self.first_token_p50_ms, "p95_ms": self.first_token_p95_ms}
        )
        ft_saving = (
            None
            if self.first_token_saving_p50_ms is None
            else {
                "p50_ms": self.first_token_saving_p50_ms,
                "p95_ms": self.first_token_saving_p95_ms,
            }
        )
        return {
            "change": self.change,
            "turn": {"p50_ms": self.turn_p50_ms, "p95_ms": self.turn_p95_ms},
            "first_token": ft,
            "saving": {
                "p50_ms": self.saving_p50_ms,
                "p95_ms": self.saving_p95_ms,
                "p50_pct": self.saving_p50_pct,
                "p95_pct": self.saving_p95_pct,
            },
            "first_token_saving": ft_saving,
            "stage": self.stage,
            "share": self.share,
            "contains_stages": self.contains_stages,
        }


class _Kept:
    """Predictions that differ from the measurement: (turn index, ns), for turns and TTFT."""

    __slots__ = ("first_token", "first_token_at", "turn", "turn_at")

    def __init__(self) -> None:
        self.turn_at: array[int] = array("q")
        self.turn: array[int] = array("q")
        self.first_token_at: array[int] = array("q")
        self.first_token: array[int] = array("q")

    def extend(self, other: _Kept, turns: int, first_tokens: int) -> None:
        self.turn_at.extend(i + turns for i in other.turn_at)
        self.turn.extend(other.turn)
        self.first_token_at.extend(i + first_tokens for i in other.first_token_at)
        self.first_token.extend(other.first_token)


class Predictions:
    """Per-turn what-if predictions, accumulated like the other samples (and mergeable)."""

    def __init__(self, changes: Sequence[Change] = (), *, default: bool = True) -> None:
        self.changes = list(changes)
        self._named = [(change, change.stages) for change in self.changes]  # stages once
        self.default = default
        self._kept: dict[str, _Kept] = {}
        self._faster: dict[str, Change] = {}
        self._faster_texts: dict[str, str] = {}
        self._siblings: set[str] = set()
        """Texts of the asked-for changes whose parallel groups were siblings in some turn."""
        self._pairs: dict[tuple[str, str], list[int]] = {}
        """Sibling pair (sorted) -> [turns with both, turns they ran one after the other]."""
        self._pair_order: dict[tuple[str, str], tuple[str, str]] = {}
        """Sibling pair (sorted) -> the pair in the order first seen (by start)."""
        self._pair_change: dict[tuple[str, str], Change] = {}
        self._candidates: dict[frozenset[tuple[str, str]], list[tuple[str, str]]] = {}
        """Which pairs of a parent's (stage, kind) could run at once: a cache."""
        self._wrappers: set[str] = set()
        """Stages seen with another stage inside them (`Plan.wrappers`)."""
        self._shapes: dict[tuple[object, ...], _Shape | None] = {}
        """Per shape of a turn of leaf stages (its children's stage and kind,
        in order), what `_add_leaves` needs; None: not a shape it answers."""

    def add(self, turn: Turn, at: int, first_token: tuple[int, int] | None = None) -> None:
        """Predict turn number `at`; `first_token`: (its number among the times to first
        token, its time to first token in ns), None when it has none."""
        if not self.default and not self.changes:
            return
        first_token_at, first = first_token if first_token is not None else (None, None)
        plan = None
        if self.default and not self._add_leaves(turn, at, first_token_at, first):
            plan = Plan(turn)
            self._add_default(plan, at, first_token_at, turn.duration_ns, first)
        if not self.changes:
            return
        duration = turn.duration_ns
        for change, named in self._named:
            if not any(s in turn.stages for s in named):
                continue
            if plan is None:
                plan = Plan(turn)
            if (
                change.parallel
                and change.text not in self._siblings
                and all(plan.siblings(g) for g in change.parallel)
            ):
                self._siblings.add(change.text)
            self._keep(change.text, plan.predict(change), at, first_token_at, duration, first)

    def _add_default(
        self, plan: Plan, at: int, first_token_at: int | None, duration: int, first: int | None
    ) -> None:
        """The default table's predictions and the missed-parallelism counts for one turn."""
        if plan.wrappers:
            self._wrappers |= plan.wrappers
        texts = self._faster_texts
        for stage, turn_ns, first_ns in plan.each_faster(DEFAULT_FACTOR):
            text = texts.get(stage)
            if text is None:
                text = self._new_stage(stage)
            if turn_ns != duration or first_token_at is not None:
                self._keep(text, (turn_ns, first_ns), at, first_token_at, duration, first)
        for a, b, sequential, together in sibling_pairs(plan, self._candidates):
            change = self._count_pair(a, b, sequential)
            if not together:  # started at once already: nothing changes
                self._keep(change.text, plan.predict(change), at, first_token_at, duration, first)

    def _new_stage(self, stage: str) -> str:
        change = self._faster[stage] = faster(stage)
        text = self._faster_texts[stage] = change.text
        return text

    def _count_pair(self, a: str, b: str, sequential: bool) -> Change:
        """Count a turn where sibling stages `a` and `b` (`a` started first) met; their
        ``parallel:`` change, in the order first seen."""
        key = (a, b) if a < b else (b, a)
        counts = self._pairs.get(key)
        if counts is None:
            counts = self._pairs[key] = [0, 0]
            self._pair_order[key] = (a, b)
            self._pair_change[key] = parallel((a, b))
        counts[0] += 1
        counts[1] += sequential
        return self._pair_change[key]

    def _add_leaves(
        self, turn: Turn, at: int, first_token_at: int | None, first: int | None
    ) -> bool:
        """`_add_default` for the common shape without a `Plan`: a turn (no stage itself)
        whose two or more children are leaves in levels, each stage once, at most one of
        them streamed (and not the turn itself). The same answers from the same level functions (`levels_of`,
        `level_shrink`, `together_in_levels`): with a factor of 0.5 on integer
        nanoseconds every sum is exact, so they equal the re-lay's to the nanosecond.
        What depends only on the shape (the stages' texts, the pairs that could run at
        once) is worked out once per shape. False: not that shape (nothing was done)."""
        root = turn.root
        kids = root.children
        if root.key is not None or len(kids) < 2:
            return False
        starts = [root.start]
        ends = [root.end]
        signature: list[object] = []
        chunk: tuple[int, int] | None = None  # (the streamed child, its first chunk)
        for kid in kids:
            span = kid.span
            if kid.children or span.follows_from:
                return False
            start, end = kid.start, kid.end
            starts.append(start)
            ends.append(end)
            signature += (kid.key, span.stage_kind)
            t = span.first_chunk_ns
            if t is not None:  # a node has a first chunk when its span has
                if chunk is not None:
                    return False
                chunk = (len(ends) - 1, min(max(t, start), end))
        if turn.first_chunks and (
            first_token_at is None or chunk is None or len(turn.first_chunks) > 1
        ):
            return False  # the turn itself streamed
        shape_key = tuple(signature)
        shape = self._shapes.get(shape_key)
        if shape is None:
            if shape_key in self._shapes:  # seen: not a shape answered here
                return False
            shape = self._shapes[shape_key] = self._shape(kids)
            if shape is None:
                return False
        levels = levels_of(sorted(range(1, len(starts)), key=starts.__getitem__), starts, ends, 0)
        if not levels[0]:
            return False
        by_kid, rows, _ = levels
        t0 = starts[0]
        whole = ends[0] - t0
        streamed = chunk_level = since_turn = child_at = since_child = -1
        if chunk is not None:  # (its level, its chunk from the turn's start, its start from
            # the turn's start, its chunk from its start)
            streamed, t = chunk
            chunk_level = by_kid[streamed][0]
            since_turn, child_at, since_child = t - t0, starts[streamed] - t0, t - starts[streamed]
        factor = DEFAULT_FACTOR
        for node, kept in shape.faster:
            before = ends[node] - starts[node]
            # as `level_shrink`, inline (this runs per stage per turn): only the child's
            # level moves, and only when it was that level's longest (made faster, any
            # other child still ends before the longest)
            level, gap = by_kid[node]
            longest, top, second = rows[level]
            shrink = 0.0
            if top == node:
                now = gap + before * factor
                shrink = longest - (second if second > now else now)
                turn_ns = round(whole - shrink)
                if turn_ns != whole:  # as `_keep`, inline
                    kept.turn_at.append(at)
                    kept.turn.append(turn_ns)
            if chunk is None:
                continue
            # as `Plan._chunk_offset`: a chunk moves with its child's start
            if streamed == node:  # the changed stage streamed: its time to it scales
                ratio = before * factor / before if before > 0 else 1.0
                ns = round(child_at + since_child * ratio)
            elif chunk_level > level:  # after the changed stage's level
                ns = round(since_turn - shrink)
            else:
                ns = since_turn
            if ns != first:  # `chunk`: the turn has a time to first token
                kept.first_token_at.append(first_token_at)  # type: ignore[arg-type]
                kept.first_token.append(ns)
        for pair in shape.pairs:
            a, x, b, y = pair.first
            if starts[y] < starts[x]:  # the one that started first, first
                a, x, b, y = b, y, a, x
            change = pair.change
            if change is None:  # the first turn of the shape: as `_count_pair`, kept
                change = pair.change = self._count_pair(a, b, ends[x] <= starts[y])
                pair.counts = self._pairs[pair.key]
                pair.nodes = (
                    shape.nodes[change.parallel[0][0]],
                    shape.nodes[change.parallel[0][1]],
                )
            else:  # as `_count_pair`, inline: this runs per pair per turn
                pair.counts[0] += 1
                pair.counts[1] += ends[x] <= starts[y]
            if starts[x] == starts[y]:  # started at once already: nothing changes
                continue
            one, two = pair.nodes
            if chunk is None:
                new, _ = together_in_levels(levels, one, two, starts, ends)
                self._keep(change.text, (round(new), None), at, None, whole, None)
                continue
            new, start_at = together_in_levels(levels, one, two, starts, ends, streamed)
            first_ns = round(start_at + since_child)
            self._keep(change.text, (round(new), first_ns), at, first_token_at, whole, first)
        return True

    def _shape(self, kids: list[Node]) -> _Shape | None:
        """What `_add_leaves` needs for turns whose children are like `kids`."""
        nodes: dict[str, int] = {}
        kinds: dict[str, str | None] = {}
        for i, kid in enumerate(kids, start=1):  # (none FOLLOWS_FROM: `_add_leaves`)
            if kid.key is not None:
                if kid.key in nodes:
                    return None
                nodes[kid.key] = i
                kinds[kid.key] = kid.span.stage_kind
        faster_ = []
        for stage, i in nodes.items():
            text = self._faster_texts.get(stage) or self._new_stage(stage)
            kept = self._kept.get(text)
            if kept is None:  # kept here once, for every turn of the shape
                kept = self._kept[text] = _Kept()
            faster_.append((i, kept))
        pairs = [_Pair((a, nodes[a], b, nodes[b])) for a, b in candidate_pairs(kinds)]
        return _Shape(faster_, pairs, nodes)

    def _keep(
        self,
        key: str,
        predicted: tuple[int, int | None],
        at: int,
        first_token_at: int | None,
        duration: int,
        first: int | None,
    ) -> None:
        turn_ns, first_ns = predicted
        if first_token_at is None:  # the common case, quickly
            if turn_ns != duration:
                kept = self._kept.get(key)
                if kept is None:
                    kept = self._kept[key] = _Kept()
                kept.turn_at.append(at)
                kept.turn.append(turn_ns)
            return
        changed_turn = turn_ns != duration
        changed_first = first_ns is not None and first_ns != first
        if not changed_turn and not changed_first:
            return
        kept = self._kept.get(key)
        if kept is None:
            kept = self._kept[key] = _Kept()
        if changed_turn:
            kept.turn_at.append(at)
            kept.turn.append(turn_ns)
        if changed_first:
            assert first_ns is not None
            kept.first_token_at.append(first_token_at)
            kept.first_token.append(first_ns)

    def merge(self, other: Predictions, turns: int, first_tokens: int) -> None:
        """Add another's predictions, its turns numbered after this one's `turns` turns
        (and `first_tokens` times to first token)."""
        for text, theirs in other._kept.items():
            kept = self._kept.get(text)
            if kept is None:
                kept = self._kept[text] = _Kept()
            kept.extend(theirs, turns, first_tokens)
        self._siblings |= other._siblings
        self._wrappers |= other._wrappers
        for stage, change in other._faster.items():
            self._faster.setdefault(stage, change)
            self._faster_texts.setdefault(stage, change.text)
        for key, (both, sequential) in other._pairs.items():
            counts = self._pairs.get(key)
            if counts is None:
                self._pairs[key] = [both, sequential]
                self._pair_order[key] = other._pair_order[key]
                self._pair_change[key] = other._pair_change[key]
            else:
                counts[0] += both
                counts[1] += sequential

    def check(self, known: Sequence[str]) -> None:
        """Raise `InputError` for an asked-for change naming an unknown stage, or parallel
        stages that are never siblings."""
        for change in self.changes:
            for stage in change.stages:
                if stage not in known:
                    raise unknown_stage_error(change, stage, list(known))
            if change.parallel and change.text not in self._siblings:
                raise not_siblings_error(change, change.parallel[0])

    def results(
        self, durations: Sequence[int], first_tokens: Sequence[int], shares: Shares
    ) -> tuple[list[WhatIf], list[str]]:
        """(the what-if rows: the default table's, ranked by saving, then the changes asked
        for; the missed-parallelism suggestions)."""
        if not durations:
            return [], []
        base = _Base(durations, first_tokens)
        rows: list[WhatIf] = []
        if self.default:
            # every stage met, by share; those off the critical path (share 0) last
            ranked = shares.ranked()
            ranked += sorted(
                ((name, 0.0) for name in self._faster if name not in shares.stages),
                key=lambda row: str(row[0]),  # names: whatever a trace wrote
            )
            chosen = [
                name for i, (name, share) in enumerate(ranked) if share >= MIN_SHARE or i < MIN_ROWS
            ]
            table = [
                self._row(base, f"{name}={DEFAULT_FACTOR:g}", name, shares.stages.get(name, 0.0))
                for name in chosen
            ]
            table.sort(key=lambda r: (-r.saving_p50_ms, -r.saving_p95_ms, -(r.share or 0.0)))
            rows += table
        shown = {r.change for r in rows}  # a change the table already has is not repeated
        rows += [self._row(base, c.text) for c in self.changes if c.text not in shown]
        return rows, self._suggestions(base) if self.default else []

    def _suggestions(self, base: _Base) -> list[str]:
        lines = []
        for key, (both, sequential) in sorted(self._pairs.items(), key=lambda kv: str(kv[0])):
            if not both or sequential < SEQUENTIAL_SHARE * both:
                continue
            pair = self._pair_order[key]
            row = self._row(base, parallel(pair).text)
            if row.saving_p50_pct >= MIN_SAVING:
                lines.append(
                    suggestion(pair, row.saving_p50_ms, row.saving_p50_pct, sequential / both)
                )
        return lines

    def _row(
        self, base: _Base, text: str, stage: str | None = None, share: float | None = None
    ) -> WhatIf:
        kept = self._kept.get(text) or _Kept()
        p50, p95 = _p50_p95(base.durations, kept.turn_at, kept.turn)
        ft50 = ft95 = ft_saving50 = ft_saving95 = None
        if base.first_tokens:
            ft50, ft95 = _p50_p95(base.first_tokens, kept.first_token_at, kept.first_token)
            ft_saving50, ft_saving95 = base.ft50 - ft50, base.ft95 - ft95
        saving50, saving95 = base.p50 - p50, base.p95 - p95
        return WhatIf(
            change=text,
            turn_p50_ms=p50,
            turn_p95_ms=p95,
            saving_p50_ms=saving50,
            saving_p95_ms=saving95,
            saving_p50_pct=saving50 / base.p50 if base.p50 > 0 else 0.0,
            saving_p95_pct=saving95 / base.p95 if base.p95 > 0 else 0.0,
            first_token_p50_ms=ft50,
            first_token_p95_ms=ft95,
            first_token_saving_p50_ms=ft_saving50,
            first_token_saving_p95_ms=ft_saving95,
            stage=stage,
            share=share,
            contains_stages=stage is not None and stage in self._wrappers,
        )


@dataclass(slots=True)
class _Shape:
    """Per shape of a turn of leaf stages: what `Predictions._add_leaves` needs."""

    faster: list[tuple[int, _Kept]]
    """(a stage's child number, where its ``STAGE=0.5`` predictions are kept), in the
    order of the children (as `Plan.each_faster` goes)."""
    pairs: list[_Pair]
    """The pairs of children that could run at once."""
    nodes: dict[str, int]
    """Stage -> its child number (1 for the first child)."""


class _Pair:
    """A pair of a shape's children that could run at once; once counted, its counts
    (`Predictions._pairs`), its ``parallel:`` change and the change's children."""

    __slots__ = ("change", "counts", "first", "key", "nodes")

    def __init__(self, first: tuple[str, int, str, int]) -> None:
        self.first = first
        """(stage, child number, stage, child number)."""
        a, b = first[0], first[2]
        self.key = (a, b) if a < b else (b, a)
        self.counts: list[int] = []
        self.change: Change | None = None
        self.nodes = (0, 0)


class _Base:
    """The measured turn and first-token durations, and their p50 / p95 in ms."""

    def __init__(self, durations: Sequence[int], first_tokens: Sequence[int]) -> None:
        self.durations = durations
        self.first_tokens = first_tokens
        self.p50, self.p95 = _p50_p95(durations, (), ())
        self.ft50, self.ft95 = _p50_p95(first_tokens, (), ()) if first_tokens else (0.0, 0.0)


def _p50_p95(
    measured: Sequence[int], at: Sequence[int], predicted: Sequence[int]
) -> tuple[float, float]:
    values = list(measured)
    for i, ns in zip(at, predicted, strict=True):
        values[i] = ns
    values.sort()
    return percentile(values, 0.5) / _NS_PER_MS, percentile(values, 0.95) / _NS_PER_MS
