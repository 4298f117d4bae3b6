"""What-if results over many turns: each turn's predicted duration and time to first token.

    predictions = Predictions([parse_change("rerank=0.5")])    # the changes asked for
    predictions.add(turn, turn_index, (first_token_index, ttft))  # per turn, from its tree
    what_if, suggestions = predictions.results(durations, first_tokens, shares)

Per turn, from the tree the `Analyzer` already built (`rag_otel.analysis.whatif.Plan`),
it predicts the turn's duration and time to first token under each change asked for, under
each of its stages made twice as fast (the default report's table, which picks its stages
only at the end), and with each pair of sibling stages that could run at once started
together (`rag_otel.analysis.missed_parallel`). The common shape (a turn whose children
are leaf stages in levels, each stage once) gets the default ones without a `Plan`, from
the same level functions; what depends only on the shape (which stage is which child,
which pairs could run at once, its levels) is worked out once per shape, and a turn that
has the shape's levels is kept as its times, its predictions worked out a column at a
time when read (`rag_otel.analysis.layout`; docs/performance.md). The predictions are
kept per turn (`rag_otel.analysis.kept`); percentiles are taken at the end on the
measured durations with the predictions put in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

from rag_otel.analysis.critical_path import Shares
from rag_otel.analysis.kept import Kept, Pair, Shape, Values, keep_in
from rag_otel.analysis.layout import Layout
from rag_otel.analysis.missed_parallel import (
    MIN_SAVING,
    SEQUENTIAL_SHARE,
    candidate_pairs,
    sibling_pairs,
    suggestion,
)
from rag_otel.analysis.stats import LatencyStats, percentile
from rag_otel.analysis.traces import Node, Turn
from rag_otel.analysis.whatif import (
    DEFAULT_FACTOR,
    Change,
    Levels,
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
_LEARN_TRIES = 8
"""Turns a shape may learn its layout from (`Layout.learn`) before it stops trying."""


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


class Predictions:
    """Per-turn what-if predictions, accumulated like the other samples (and mergeable)."""

    def __init__(self, changes: Sequence[Change] = (), *, default: bool = True) -> None:
        self.changes = list(changes)
        self._named = [(change, change.stages) for change in self.changes]  # stages once
        self.default = default
        self._kept: dict[str, Kept] = {}
        """The default predictions the shapes do not keep, by change text (only those
        that differ from the measurement)."""
        self._asked: dict[str, Kept] = {}
        """The asked-for changes' (only those that differ from the measurement)."""
        self._dense: dict[str, list[Kept]] = {}
        """Other `Predictions`' columns (`_columns`), merged in."""
        self._faster_texts: dict[str, str] = {}
        """Stage met -> its ``STAGE=0.5`` change's text."""
        self._siblings: set[str] = set()
        """Texts of the asked-for changes whose parallel groups were siblings in some turn."""
        self._pairs: dict[tuple[str, str], list[int]] = {}
        """Sibling pair (sorted) -> [turns with both, turns they ran one after the other]."""
        self._pair_change: dict[tuple[str, str], Change] = {}
        """Sibling pair (sorted) -> its ``parallel:`` change, the pair in the order first
        seen (by start)."""
        self._candidates: dict[frozenset[tuple[str, str]], list[tuple[str, str]]] = {}
        """Which pairs of a parent's (stage, kind) could run at once: a cache."""
        self._wrappers: set[str] = set()
        """Stages seen with another stage inside them (`Plan.wrappers`)."""
        self._shapes: dict[tuple[object, ...], Shape | None] = {}
        """Per shape of a turn of leaf stages (its children's stage and kind,
        in order), what `_add_leaves` needs; None: not a shape it answers."""

    def add(self, turn: Turn, at: int, first_token: tuple[int, int] | None = None) -> None:
        """Predict turn number `at`; `first_token`: (its number among the times to first
        token, its time to first token in ns), None when it has none."""
        if not self.default and not self.changes:
            return
        first_token_at, first = first_token if first_token is not None else (None, None)
        plan = None
        duration = turn.duration_ns
        if self.default and not self._add_leaves(turn, at, first_token_at, first):
            plan = Plan(turn)
            self._add_default(plan, at, first_token_at, duration, first)
        if not self.changes:
            return
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
            kept = self._kept_for(self._asked, change.text)
            keep_in(kept, plan.predict(change), at, first_token_at, duration, first)

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
                kept = self._kept_for(self._kept, text)
                keep_in(kept, (turn_ns, first_ns), at, first_token_at, duration, first)
        for a, b, sequential, together in sibling_pairs(plan, self._candidates):
            change = self._count_pair(a, b, sequential)
            if not together:  # started at once already: nothing changes
                kept = self._kept_for(self._kept, change.text)
                keep_in(kept, plan.predict(change), at, first_token_at, duration, first)

    def _new_stage(self, stage: str) -> str:
        text = self._faster_texts[stage] = faster(stage).text
        return text

    def _count_pair(self, a: str, b: str, sequential: bool) -> Change:
        """Count a turn where sibling stages `a` and `b` (`a` started first) met; their
        ``parallel:`` change, in the order first seen."""
        key = (a, b) if a < b else (b, a)
        counts = self._pairs.get(key)
        if counts is None:
            counts = self._pairs[key] = [0, 0]
            self._pair_change[key] = parallel((a, b))
        counts[0] += 1
        counts[1] += sequential
        return self._pair_change[key]

    def _add_leaves(
        self, turn: Turn, at: int, first_token_at: int | None, first: int | None
    ) -> bool:
        """`_add_default` for the common shape without a `Plan`: a turn (no stage itself)
        whose two or more children are leaves in levels, each stage once, at most one of
        them streamed (and not the turn itself). What depends only on the shape (the
        stages' texts, the pairs that could run at once, its levels: `Shape`) is worked
        out once per shape. A turn with the levels learned (`Layout.holds`) is kept as its
        row of times (`Shape.defer`), its predictions worked out a column at a time when
        read (`Table`); another is worked out by itself (`_add_levels`). False: not that
        shape (nothing was done)."""
        root = turn.root
        kids = root.children
        if root.key is not None or len(kids) < 2:
            return False
        streamed_node = None  # the streamed child (`first_chunks`: every node that has one)
        if turn.first_chunks:
            if len(turn.first_chunks) > 1 or first_token_at is None:
                return False
            streamed_node = turn.first_chunks[0]  # the turn itself: not found below
        t0 = root.start
        # the turn's row (`Layout`): times in ns from the turn's start (below)
        row = [at, root.end - t0]
        signature: list[object] = []
        streamed = -1
        if not turn.flat:  # (flat: leaves, none FOLLOWS_FROM, `Turn.flat`)
            for kid in kids:
                if kid.children or kid.span.follows_from:
                    return False
        for kid in kids:
            if kid is streamed_node:
                streamed = len(row) >> 1  # its child number
            row.append(kid.start - t0)
            row.append(kid.end - t0)
            signature.append(kid.key)
            signature.append(kid.span.stage_kind)
        if streamed_node is not None and streamed < 0:
            return False  # the turn itself streamed
        shape_key = tuple(signature)
        shape = self._shapes.get(shape_key)
        if shape is None:
            if shape_key in self._shapes:  # seen: not a shape answered here
                return False
            shape = self._shapes[shape_key] = self._shape(kids)
            if shape is None:
                return False
        layout = shape.layout
        if layout is not None and layout.holds(row):  # worked out a column at a time
            if streamed < 0:
                shape.defer(row, streamed)
                return True
            # the measured time to first token: the chunk clamped into its child (the only
            # streamed node: `critical_path._first_chunk`), in [0, the turn's end] (`holds`)
            assert first_token_at is not None  # (streamed >= 0: `first_chunks`, checked above)
            assert first is not None
            row += (first_token_at, first)
            shape.defer(row, streamed)
            return True
        return self._add_levels(shape, row, first_token_at, first, streamed)

    def _add_levels(
        self,
        shape: Shape,
        row: list[int],
        first_token_at: int | None,
        first: int | None,
        streamed: int,
    ) -> bool:
        """`_add_leaves` for a turn worked out by itself, from its levels (`levels_of`);
        the first such turns of a shape (up to `_LEARN_TRIES`) teach it its layout. The same answers from the
        same level functions (`levels_of`, `together_in_levels`; `level_shrink` copied
        inline) as the re-lay's, to the nanosecond: times from the turn's start in half
        nanoseconds, so that with the factor of 0.5 (`DEFAULT_FACTOR`) every value is a
        whole number (integer arithmetic, exact; the columns are halved when read,
        `Shape.unrounded`). `streamed`: the streamed child's number or -1. False: not in
        levels (nothing was done)."""
        at = row[0]
        # by child number, in half nanoseconds; the turn's own start: 0
        starts = [0, *(2 * ns for ns in row[2::2])]
        ends = [2 * ns for ns in row[1::2]]
        levels = levels_of(sorted(range(1, len(starts)), key=starts.__getitem__), starts, ends, 0)
        by_kid, rows, _ = levels
        if not rows:
            return False
        if shape.layout is None and shape.tries < _LEARN_TRIES:
            shape.layout = Layout.learn(levels, row)
            shape.tries += shape.layout is None
        whole = ends[0]
        # each child made twice as fast on its own, as `level_shrink`, inline (this runs
        # per level per turn): only a level's longest child moves the turn (made faster,
        # any other child of the level still ends before the longest); the others leave
        # it. By child number, then by pair: whole numbers (`Levels` types them float).
        turn_ns: list[Any] = [whole] * shape.width
        turn_ns[0] = at
        if streamed < 0:
            for longest, top, second in rows:
                now = by_kid[top][1] + ((ends[top] - starts[top]) >> 1)  # half its time
                turn_ns[top] = whole - (longest - (second if second > now else now))
            self._add_pairs(shape, levels, starts, ends, turn_ns, None)
            shape.turn.fromlist(turn_ns)
            return True
        # and the first chunk, as `Plan._chunk_offset`: it moves with its child's start
        assert first_token_at is not None  # (streamed >= 0)
        assert first is not None
        # the chunk clamped into its child is the measured time to first token (the only
        # streamed node: `critical_path._first_chunk`)
        t = 2 * first
        first_ns: list[Any] = [t] * shape.width
        first_ns[0] = first_token_at
        chunk_level = by_kid[streamed][0]
        for longest, top, second in rows:
            level, gap = by_kid[top]
            now = gap + ((ends[top] - starts[top]) >> 1)
            shrink = longest - (second if second > now else now)
            turn_ns[top] = whole - shrink
            if level < chunk_level:  # before the streamed child's level
                first_ns[top] = t - shrink
        # the streamed stage made faster: its time to the chunk halves too
        since_child = t - starts[streamed]
        first_ns[streamed] = starts[streamed] + (
            since_child >> 1 if ends[streamed] > starts[streamed] else since_child
        )
        chunk = (streamed, since_child, 2 * first)
        self._add_pairs(shape, levels, starts, ends, turn_ns, first_ns, chunk)
        shape.turn.fromlist(turn_ns)
        shape.first.fromlist(first_ns)
        return True

    def _add_pairs(
        self,
        shape: Shape,
        levels: Levels,
        starts: list[int],
        ends: list[int],
        turn_ns: list[Any],
        first_ns: list[Any] | None,
        chunk: tuple[int, int, int] = (-1, 0, 0),
    ) -> None:
        """`_add_leaves`' part for the pairs of children that could run at once: count
        them (as `_count_pair`) and predict them started together, into the shape's
        columns after the children (`turn_ns`, `first_ns`). `chunk`: (the streamed
        child, its first chunk from its start, the measured time to first token), in
        half nanoseconds as the rest."""
        streamed, since_child, first = chunk
        for i, pair in enumerate(shape.pairs, start=len(starts)):
            x, y = pair.nodes
            if starts[y] < starts[x]:  # the one that started first, first
                x, y = y, x
            counts = pair.counts
            if counts:  # as `_count_pair`, inline: this runs per pair per turn
                counts[0] += 1
                counts[1] += ends[x] <= starts[y]
            else:  # the first turn of the shape: as `_count_pair`
                a, one, b, _ = pair.first
                if x != one:
                    a, b = b, a
                pair.change = self._count_pair(a, b, ends[x] <= starts[y])
                pair.counts = self._pairs[pair.key]
            if starts[x] == starts[y]:  # started at once already: nothing changes
                if first_ns is not None:
                    first_ns[i] = first
                continue
            new, start_at = together_in_levels(levels, x, y, starts, ends, streamed)
            turn_ns[i] = new
            if first_ns is not None:
                first_ns[i] = start_at + since_child

    def _shape(self, kids: list[Node]) -> Shape | None:
        """What `_add_leaves` needs for turns whose children are like `kids`."""
        nodes: dict[str, int] = {}
        kinds: dict[str, str | None] = {}
        for i, kid in enumerate(kids, start=1):  # (none FOLLOWS_FROM: `_add_leaves`)
            if kid.key is not None:
                if kid.key in nodes:
                    return None
                nodes[kid.key] = i
                kinds[kid.key] = kid.span.stage_kind
        texts = [
            (i, self._faster_texts.get(stage) or self._new_stage(stage))
            for stage, i in nodes.items()
        ]
        pairs = [Pair((a, nodes[a], b, nodes[b])) for a, b in candidate_pairs(kinds)]
        return Shape(len(kids) + 1, texts, pairs)

    def _columns(self) -> dict[str, list[Kept]]:
        """Per change text, the predictions kept in columns, in nanoseconds: the shapes'
        (`Shape.kept`) and those merged in from others; each holds its turns in
        ascending order, once."""
        self._count()
        out = {text: list(kept) for text, kept in self._dense.items()}
        for shape in self._shapes.values():
            if shape:
                for column, text in shape.columns():
                    out.setdefault(text, []).append(shape.kept(column))
        return out

    def _unrounded(self, text: str, first_token: bool = True) -> tuple[list[Values], list[Values]]:
        """The shapes' columns of change `text`, (turn numbers, predictions), for the
        turns and for the times to first token (when `first_token`): in nanoseconds, not
        rounded yet."""
        turns: list[Values] = []
        firsts: list[Values] = []
        for shape in self._shapes.values():
            if shape:
                for column, shown in shape.columns():
                    if shown == text:
                        turn, first = shape.unrounded(column, first_token)
                        turns.append(turn)
                        firsts.append(first)
        return turns, firsts

    def _count(self) -> None:
        """The shapes' pairs of the turns they keep as times counted (`Shape.count`):
        before anything reads the counts."""
        for shape in self._shapes.values():
            if shape is not None:
                shape.count()

    @staticmethod
    def _kept_for(kept: dict[str, Kept], key: str) -> Kept:
        found = kept.get(key)
        if found is None:
            found = kept[key] = Kept()
        return found

    def merge(self, other: Predictions, turns: int, first_tokens: int) -> None:
        """Add another's predictions, its turns numbered after this one's `turns` turns
        (and `first_tokens` times to first token)."""
        other._count()
        # a pair's ``parallel:`` text names it in the order first seen, which may differ
        # between chunks: theirs are kept under ours (started together, the same prediction)
        rename: dict[str, str] = {}
        for key, (both, sequential) in other._pairs.items():
            counts = self._pairs.get(key)
            if counts is None:
                self._pairs[key] = [both, sequential]
                self._pair_change[key] = other._pair_change[key]
            else:
                counts[0] += both
                counts[1] += sequential
            rename[other._pair_change[key].text] = self._pair_change[key].text
        for text, theirs in other._kept.items():
            self._kept_for(self._kept, rename.get(text, text)).extend(theirs, turns, first_tokens)
        for text, theirs in other._asked.items():
            self._kept_for(self._asked, text).extend(theirs, turns, first_tokens)
        for text, columns in other._columns().items():
            dense = self._dense.setdefault(rename.get(text, text), [])
            for theirs in columns:
                kept = Kept()
                kept.extend(theirs, turns, first_tokens)
                dense.append(kept)
        self._siblings |= other._siblings
        self._wrappers |= other._wrappers
        for stage, text in other._faster_texts.items():
            self._faster_texts.setdefault(stage, text)

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
        self,
        durations: Sequence[int],
        first_tokens: Sequence[int],
        shares: Shares,
        measured: tuple[LatencyStats, LatencyStats] | None = None,
    ) -> tuple[list[WhatIf], list[str]]:
        """(the what-if rows: the default table's, ranked by saving, then the changes asked
        for; the missed-parallelism suggestions). ``measured``: `summarize` of the
        durations and of the times to first token, when the caller has them (their
        percentiles are not taken twice)."""
        if not durations:
            return [], []
        self._count()
        base = _Base(durations, first_tokens, measured)
        rows: list[WhatIf] = []
        if self.default:
            # every stage met, by share; those off the critical path (share 0) last
            ranked = shares.ranked()
            ranked += sorted(
                ((name, 0.0) for name in self._faster_texts if name not in shares.stages),
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
            change = self._pair_change[key]
            pair = change.parallel[0]
            row = self._row(base, change.text, first_token=False)
            if row.saving_p50_pct >= MIN_SAVING:
                lines.append(
                    suggestion(pair, row.saving_p50_ms, row.saving_p50_pct, sequential / both)
                )
        return lines

    def _row(
        self,
        base: _Base,
        text: str,
        stage: str | None = None,
        share: float | None = None,
        *,
        first_token: bool = True,
    ) -> WhatIf:
        """The row of change `text`; without its time to first token when not
        `first_token` (for a row only looked at)."""
        # the shapes' columns (unrounded), then those merged in, then the others
        turns, firsts = self._unrounded(text, first_token and bool(base.first_tokens))
        dense = len(turns)
        kept = [*self._dense.get(text, ()), self._kept.get(text), self._asked.get(text)]
        for k in kept:  # the asked-for ones last
            if k is not None and (k.turn_at or k.first_token_at):
                turns.append((k.turn_at, k.turn))
                firsts.append((k.first_token_at, k.first_token))
        p50, p95 = base.p50, base.p95
        if turns:
            p50, p95 = _p50_p95(base.durations, turns, dense)
        ft50 = ft95 = ft_saving50 = ft_saving95 = None
        if base.first_tokens and first_token:
            ft50, ft95 = base.ft50, base.ft95
            if firsts:
                ft50, ft95 = _p50_p95(base.first_tokens, firsts, dense)
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


class _Base:
    """The measured turn and first-token durations, and their p50 / p95 in ms."""

    def __init__(
        self,
        durations: Sequence[int],
        first_tokens: Sequence[int],
        measured: tuple[LatencyStats, LatencyStats] | None,
    ) -> None:
        self.durations = list(durations)  # copied once: each change's copy is then cheap
        self.first_tokens = list(first_tokens)
        if measured is None:
            self.p50, self.p95 = _p50_p95(self.durations, [], 0)
            self.ft50, self.ft95 = (
                _p50_p95(self.first_tokens, [], 0) if first_tokens else (0.0, 0.0)
            )
        else:
            turn, first_token = measured
            self.p50, self.p95 = turn.p50_ms or 0.0, turn.p95_ms or 0.0
            self.ft50, self.ft95 = first_token.p50_ms or 0.0, first_token.p95_ms or 0.0


def _p50_p95(measured: Sequence[int], kept: Sequence[Values], dense: int) -> tuple[float, float]:
    """p50 and p95 in ms of the `measured` values with the `kept` predictions (turn numbers,
    values) put in, in order. The first `dense` hold their turns ascending, each once: one
    that holds every turn is all the values. Predictions not rounded yet (`Shape`'s)
    are rounded to the nanosecond as the percentiles read them: rounding keeps the
    order, so the sorted values give the rounded values' order statistics (and a list
    of floats sorts faster than one of integers past 2**30, a turn over a second)."""
    values: list[float] = []
    for i, (at, predicted) in enumerate(kept):
        if not values and i < dense and len(at) == len(measured):
            values = list(predicted)
            continue
        if not values:
            values = list(measured)
        for j, ns in zip(at, predicted, strict=True):
            values[j] = ns
    if not values:
        values = list(measured)
    values.sort()
    rounded = _Rounded(values)
    return percentile(rounded, 0.5) / _NS_PER_MS, percentile(rounded, 0.95) / _NS_PER_MS


class _Rounded(Sequence[int]):
    """Sorted values, each rounded to the nanosecond (half to even, as `Plan`) when read."""

    def __init__(self, values: list[float]) -> None:
        self._values = values

    def __len__(self) -> int:
        return len(self._values)

    @overload
    def __getitem__(self, i: int) -> int: ...
    @overload
    def __getitem__(self, i: slice) -> list[int]: ...
    def __getitem__(self, i: int | slice) -> int | list[int]:
        if isinstance(i, slice):
            return [round(v) for v in self._values[i]]
        return round(self._values[i])
