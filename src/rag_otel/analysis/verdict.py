"""The verdict: which stage to optimise next, and what making it twice as fast would save.

With the what-if table (`rag_otel.analysis.predictions`) the stage is the one whose speed-up
saves the most turn time at p50 (then p95), not the largest share: a stage with a large
share but parallel slack saves less than its share says. Without it (a source without trace
trees), the largest share of the critical path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag_otel.analysis.critical_path import Shares
from rag_otel.analysis.predictions import WhatIf


@dataclass(frozen=True, slots=True)
class Verdict:
    stage: str | None
    """The dominant stage: largest critical-path share over all turns (None without stages)."""
    share: float
    runner_up: str | None
    runner_up_share: float
    p50_stage: str | None
    p95_stage: str | None
    lines: tuple[str, ...]
    """The verdict as text: the main line, the first-token line (when turns streamed), then
    notes (p50/p95 divergence, untraced time)."""
    first_token_stage: str | None = None
    """The largest critical-path share of the time to first token (None: no turn streamed)."""
    first_token_share: float = 0.0
    saving: WhatIf | None = None
    """What making `stage` twice as fast would save (None: no what-if, or it saves nothing)."""


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _top(s: Shares) -> tuple[str, float] | None:
    ranked = s.ranked()
    return ranked[0] if ranked and ranked[0][1] > 0 else None


def decide(
    overall: Shares,
    at_p50: Shares,
    at_p95: Shares,
    *,
    first_token: Shares | None = None,
    savings: Sequence[WhatIf] | None = None,
) -> Verdict:
    """The verdict on the turn-time shares; with ``first_token`` (the shares of the time to
    first token), a second line names the stage to optimise for the first token. With
    ``savings`` (the what-if rows; the default ones, one stage each, are ranked by saving),
    the stage whose speed-up saves the most, and what it saves."""
    ranked = [kv for kv in overall.ranked() if kv[1] > 0]
    best = _best_saving(savings)
    ft = _top(first_token) if first_token is not None and first_token.turns else None
    ft_stage, ft_share = (ft[0], ft[1]) if ft else (None, 0.0)
    p50, p95 = _top(at_p50), _top(at_p95)
    p50_stage, p95_stage = (p50[0] if p50 else None), (p95[0] if p95 else None)
    if not ranked:
        line = (
            "no stage on the critical path: nothing to attribute "
            "(no span carries rag.stage or another convention's stage marker; try --all-spans)"
        )
        lines = [line, *_first_token_lines(first_token, None, 0.0)]
        return Verdict(None, 0.0, None, 0.0, p50_stage, p95_stage, tuple(lines), ft_stage, ft_share)
    stage, share = ranked[0]
    lines = []
    if best is not None:
        stage, share = best.stage or stage, overall.stages.get(best.stage or stage, 0.0)
        runner, runner_share = next(((n, v) for n, v in ranked if n != stage), (None, 0.0))
        lines.append(
            f"optimise this next: {stage} — twice as fast saves {_ms(best.saving_p50_ms)} ms at "
            f"p50 (-{_pct(best.saving_p50_pct)}), {_ms(best.saving_p95_ms)} ms at p95 "
            f"({_pct(share)} of turn time on the critical path)"
        )
    elif len(ranked) > 1:
        runner, runner_share = ranked[1]
        margin = 100 * (share - runner_share)
        lines.append(
            f"optimise this next: {stage} — {_pct(share)} of turn time on the critical path, "
            f"{margin:.0f} points ahead of {runner}"
        )
    else:
        runner, runner_share = None, 0.0
        lines.append(
            f"optimise this next: {stage} — {_pct(share)} of turn time on the critical path "
            "(the only stage on it)"
        )
    if best is not None and ranked[0][0] != stage:
        top, top_share = ranked[0]
        top_row = next((w for w in savings or () if w.stage == top), None)
        saves = (
            f"twice as fast it saves only {_ms(top_row.saving_p50_ms)} ms at p50"
            if top_row
            else "its speed-up saves less"
        )
        lines.append(
            f"not {top}, though it has the largest share ({_pct(top_share)}): {saves} "
            "(work beside it becomes the longer branch)"
        )
    lines += _first_token_lines(first_token, stage, share)
    if p50 and p95 and p50_stage != p95_stage:
        lines.append(
            f"at p95 the answer differs: {p95[0]} — {_pct(p95[1])} of the p95 turns' time "
            f"(at p50: {p50[0]}, {_pct(p50[1])})"
        )
    if overall.remainder > share:
        lines.append(
            f"note: {_pct(overall.remainder)} of turn time is in no stage (untraced remainder): "
            "trace more of the turn, or try --all-spans, before trusting this"
        )
    return Verdict(
        stage,
        share,
        runner,
        runner_share,
        p50_stage,
        p95_stage,
        tuple(lines),
        ft_stage,
        ft_share,
        best,
    )


def _ms(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:,.1f}"


def _best_saving(savings: Sequence[WhatIf] | None) -> WhatIf | None:
    """The row that saves the most (rows come ranked), when it saves anything; a stage with
    other stages inside it is passed over (its saving is theirs: name the one that does the
    work)."""
    for row in savings or ():
        if row.stage is not None and not row.contains_stages:
            return row if row.saving_p50_ms > 0 or row.saving_p95_ms > 0 else None
    return None


def _first_token_lines(first_token: Shares | None, stage: str | None, share: float) -> list[str]:
    """``optimise this next: rerank for the first token (71% of TTFT); generate for the full
    answer (88% of turn time)``, and a note when the first token's path is mostly untraced."""
    if first_token is None or not first_token.turns:
        return []
    top = _top(first_token)
    full = f"; {stage} for the full answer ({_pct(share)} of turn time)" if stage else ""
    if top is None:
        return [f"for the first token: no stage on the path to the first chunk{full}"]
    name, part = top
    if name == stage:  # the same stage for both: say it once
        line = f"optimise this next: {name} for the first token too ({_pct(part)} of TTFT)"
    else:
        line = f"optimise this next: {name} for the first token ({_pct(part)} of TTFT){full}"
    lines = [line]
    if first_token.remainder > part:
        lines.append(
            f"note: {_pct(first_token.remainder)} of the time to first token is in no stage "
            "(untraced remainder)"
        )
    return lines
