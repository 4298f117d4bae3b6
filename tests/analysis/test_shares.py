"""`critical_path.shares` and `ShareSum` (every turn's, summed as turns are attributed and
merged across chunks): the same shares, stages in the same order, as summing the charges turn
by turn."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rag_otel.analysis.critical_path import Attribution, Shares, ShareSum, shares

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
    st.integers(0, 10**12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(attributions, max_size=40))
def test_shares_match_the_sum_turn_by_turn(atts: list[Attribution]) -> None:
    got, expected = shares(iter(atts)), one_by_one(atts)
    assert got == expected
    assert list(got.stages) == list(expected.stages)  # first charged, first


def test_no_attributions() -> None:
    assert shares([]) == Shares(0, 0, {}, 0.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(attributions, max_size=40), st.integers(0, 40))
def test_running_sums_merged_across_chunks(atts: list[Attribution], cut: int) -> None:
    first, second = ShareSum(), ShareSum()
    for a in atts[:cut]:
        first.add(a)
    for a in atts[cut:]:
        second.add(a)
    first.merge(second)
    got, expected = first.shares(), one_by_one(atts)
    assert got == expected
    assert list(got.stages) == list(expected.stages)
