"""`critical_path.shares`, `ShareSum` and `AttributionLog` (every turn's, kept in columns and
merged across chunks): the same shares, stages in the same order, as summing the charges turn
by turn."""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from rag_otel.analysis.critical_path import (
    Attribution,
    AttributionLog,
    Shares,
    shares,
)

STAGES = ("embed", "vector", "bm25", "rerank", "generate")


def one_by_one(attributions: list[Attribution]) -> Shares:
    """The plain sum, turn by turn and stage by stage (the reference)."""
    totals: dict[str, int] = {}
    total = remainder = 0
    for a in attributions:
        total += a.duration_ns
        remainder += a.remainder_ns
        for stage, ns in a.charges.items():
            totals[stage] = totals.get(stage, 0) + ns
    n = len(attributions)
    if total <= 0:
        return Shares(n, 0, dict.fromkeys(totals, 0.0), 0.0)
    return Shares(n, total, {k: v / total for k, v in totals.items()}, remainder / total)


charges = st.lists(st.sampled_from(STAGES), unique=True, max_size=5).flatmap(
    lambda names: st.fixed_dictionaries({n: st.integers(0, 10**12) for n in names})
)
attributions = st.builds(
    Attribution,
    st.one_of(st.just(0), st.integers(0, 10**13)),
    charges,
    st.integers(-1, 10**12),  # (never negative; the log keeps one in a signed array)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(attributions, max_size=40))
def test_shares_match_the_sum_turn_by_turn(atts: list[Attribution]) -> None:
    got, expected = shares(iter(atts)), one_by_one(atts)
    assert got == expected
    assert list(got.stages) == list(expected.stages)  # first charged, first


def test_no_attributions() -> None:
    assert shares([]) == Shares(0, 0, {}, 0.0)


def logged(attributions: list[Attribution]) -> AttributionLog:
    log = AttributionLog()
    for a in attributions:
        log.add(a)
    return log


@settings(max_examples=200, deadline=None)
@given(st.lists(attributions, max_size=40), st.integers(0, 40))
def test_the_log_keeps_each_turn_and_sums_them_in_the_same_order(
    atts: list[Attribution], cut: int
) -> None:
    first, second = logged(atts[:cut]), logged(atts[cut:])
    first.extend(pickle.loads(pickle.dumps(second)))  # as a worker process sends it back
    for log in (logged(atts), first):
        assert len(log) == len(atts)
        rebuilt = [log[i] for i in range(len(log))]
        assert rebuilt == atts
        assert [list(a.charges.items()) for a in rebuilt] == [list(a.charges.items()) for a in atts]
        got, expected = log.share_sum().shares(), one_by_one(atts)
        assert got == expected
        assert list(got.stages) == list(expected.stages)
