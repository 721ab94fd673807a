"""The statistics behind the book's verdicts, checked against SciPy and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from mnist_utils import stats
from mnist_utils.search import bracketed_search


def test_mcnemar_exact_matches_the_binomial_by_hand() -> None:
    a = np.r_[np.ones(10, bool), np.zeros(2, bool), np.ones(50, bool)]
    b = np.r_[np.zeros(10, bool), np.ones(2, bool), np.ones(50, bool)]
    test = stats.mcnemar(a, b)
    assert (test.only_a, test.only_b) == (10, 2)
    # two-sided exact: 2 * P(X <= 2), X ~ Binomial(12, 1/2) = 2 * (1 + 12 + 66) / 4096
    assert test.p_value == pytest.approx(158 / 4096)
    assert test.significant
    assert stats.mcnemar(a, a).p_value == 1.0
    with pytest.raises(ValueError, match="1-D"):
        stats.mcnemar(a, b[:-1])


def test_mean_interval_matches_scipy_t_interval() -> None:
    values = [0.9599, 0.9605, 0.9590, 0.9612]
    iv = stats.mean_interval(values)
    low, high = sps.t.interval(0.95, 3, loc=np.mean(values), scale=sps.sem(values))
    assert (iv.low, iv.high) == pytest.approx((low, high))
    one = stats.mean_interval([0.5])
    assert one.n == 1 and math.isnan(one.low) and not one.excludes_zero()


def test_seed_verdicts_follow_the_evidence() -> None:
    clear = stats.say_seeds("A", "B", [0.90, 0.91, 0.90], [0.95, 0.96, 0.95])
    assert "**B is more accurate**" in clear and "3 of 3" in clear
    noisy = stats.say_seeds("A", "B", [0.90, 0.95, 0.92], [0.93, 0.91, 0.94])
    assert "within seed-to-seed noise" in noisy
    single = stats.say_seeds("A", "B", [0.9], [0.95])
    assert "single seed" in single and "more accurate" not in single


def test_mcnemar_verdicts_follow_the_evidence() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(10_000) < 0.97
    better = base.copy()
    better[np.flatnonzero(~base)[:150]] = True  # B fixes 150 of A's mistakes
    assert "**B is more accurate**" in stats.say_mcnemar("A", "B", base, better)
    tie = base.copy()
    tie[np.flatnonzero(~base)[:3]] = True
    tie[np.flatnonzero(base)[:3]] = False
    assert "within noise" in stats.say_mcnemar("A", "B", base, tie)


def test_ratio_and_number_words() -> None:
    assert stats.ratio_text(1.54) == "54% more"
    assert stats.ratio_text(4.7) == "4.7 times as much"
    assert stats.ratio_text(6000.0) == "6,000 times as much"
    assert stats.ratio_text(0.5) == "50% less"
    assert stats.pct(0.98341) == "98.34%" and stats.points(0.0041) == "+0.41 points"
    assert stats.p_text(0.0001) == "p < 0.001"
    with pytest.raises(ValueError):
        stats.ratio_text(0.0)


def test_bracketed_search_extends_past_an_edge_optimum() -> None:
    calls = []

    def score(x: float) -> float:
        calls.append(x)
        return -abs(math.log10(x) - 2)  # optimum at 100

    result = bracketed_search(score, [0.1, 1, 10])
    assert result.best == pytest.approx(100) and result.bracketed
    assert result.added == pytest.approx((100, 1000))
    assert "bracketed" in result.describe("C")
    fixed = bracketed_search(score, [0.1, 1, 10], max_extensions=0)
    assert fixed.best == 10 and not fixed.bracketed and "edge" in fixed.describe("C")
    low = bracketed_search(lambda x: -x, [1, 2, 4], max_extensions=1)
    assert low.added == (0.5,) and low.best == 0.5 and not low.bracketed


def test_join_names_writes_a_list_in_prose() -> None:
    from mnist_utils.display import join_names

    assert join_names(["a"]) == "a"
    assert join_names(iter(["a", "b"])) == "a and b"
    assert join_names(["a", "b", "c"]) == "a, b and c"


def test_holm_adjusts_like_the_textbook_procedure() -> None:
    from mnist_utils.stats import holm

    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    assert holm([]).size == 0
