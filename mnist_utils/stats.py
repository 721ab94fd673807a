"""The statistics behind the book's comparisons, and the words they earn.

A sentence like "the deeper network wins" must follow from evidence, never from one
run. Two kinds of evidence are used:

* **several seeds** of each setting: the mean difference with a Student-t confidence
  interval (``paired_seeds``); it "wins" only if the interval excludes zero;
* **two fixed models on the same test images**: McNemar's exact test on the images
  that exactly one of them gets right (``mcnemar``); a difference "is significant"
  only if p < ``ALPHA``.

The ``say_*`` functions turn that evidence into the sentence a chapter displays, so a
different run can never make the prose false. SciPy does the arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05  # significance level of every test in the book
CONFIDENCE = 0.95  # confidence level of every interval


@dataclass(frozen=True)
class Interval:
    """A mean and its Student-t confidence interval over ``n`` values (nan if n < 2)."""

    mean: float
    low: float
    high: float
    n: int

    def excludes_zero(self) -> bool:
        return self.n >= 2 and (self.low > 0 or self.high < 0)


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean of ``values`` with a t-interval (the seeds are independent repeats)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("mean_interval needs at least one value")
    mean = float(x.mean())
    if x.size < 2:
        return Interval(mean, math.nan, math.nan, 1)
    sem = float(stats.sem(x))
    if sem == 0.0:
        return Interval(mean, mean, mean, int(x.size))
    low, high = stats.t.interval(confidence, x.size - 1, loc=mean, scale=sem)
    return Interval(mean, float(low), float(high), int(x.size))


@dataclass(frozen=True)
class Paired:
    """Seed-paired comparison: differences b - a, their interval, and b's wins."""

    diff: Interval
    wins: int  # seeds in which b beats a
    n: int


def paired_seeds(a: Sequence[float], b: Sequence[float]) -> Paired:
    """Compare two settings run with the same seeds (seed i of ``a`` pairs with seed i of ``b``)."""
    if len(a) != len(b) or not len(a):
        raise ValueError(f"paired_seeds needs equally many values, got {len(a)} and {len(b)}")
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    return Paired(mean_interval(d), int((d > 0).sum()), len(d))


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test: ``only_a`` images right only for a, ``only_b`` only for b."""

    only_a: int
    only_b: int
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemar:
    """Exact two-sided McNemar test on per-image correctness (booleans, same images)."""
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"need two 1-D correctness vectors of one length, got {a.shape}, {b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    if only_a + only_b == 0:
        return McNemar(0, 0, 1.0)
    # Under "equally accurate", each discordant image is a fair coin flip.
    p = stats.binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
    return McNemar(only_a, only_b, float(p))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values of a family of tests (statsmodels' ``multipletests``).

    Testing m differences at level ``ALPHA`` each would expect m * ALPHA false alarms if
    nothing differed; comparing the adjusted p-values with ``ALPHA`` keeps the chance of
    *any* false claim in the family below ``ALPHA``, however the tests depend on each other.
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    return multipletests(p, alpha=ALPHA, method="holm")[1] if p.size else p


def pct(x: float, digits: int = 2) -> str:
    """0.98341 -> '98.34%'."""
    return f"{100 * x:.{digits}f}%"


def points(d: float, digits: int = 2) -> str:
    """A difference of accuracies in percentage points, signed: 0.0041 -> '+0.41 points'."""
    return f"{100 * d:+.{digits}f} points"


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def ratio_text(ratio: float) -> str:
    """How much more (or less) one cost is than another, in words: 1.54 -> '54% more'."""
    if not math.isfinite(ratio) or ratio <= 0:
        raise ValueError(f"a ratio must be a positive number, got {ratio}")
    if ratio >= 10:
        return f"{ratio:,.0f} times as much"
    if ratio >= 2:
        return f"{ratio:.1f} times as much"
    if ratio >= 1:
        return f"{100 * (ratio - 1):.0f}% more"
    return f"{100 * (1 - ratio):.0f}% less"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def say_seeds(name_a: str, name_b: str, a: Sequence[float], b: Sequence[float]) -> str:
    """The verdict on b vs a over paired seeds, in one sentence with its evidence."""
    cmp = paired_seeds(a, b)
    d = cmp.diff
    if cmp.n < 2:
        return (f"With a single seed, {name_b} minus {name_a} is {points(d.mean)}; one run "
                "cannot say whether that is more than seed-to-seed noise.")
    evidence = (f"{_capital(name_b)} minus {name_a}: {points(d.mean)} on average over {cmp.n} seeds "
                f"({int(100 * CONFIDENCE)}% confidence interval {points(d.low)} to {points(d.high)}; "
                f"{name_b} ahead in {cmp.wins} of {cmp.n} seeds)")
    if d.excludes_zero():
        winner = name_b if d.mean > 0 else name_a
        return f"{evidence}. The interval excludes zero: **{_capital(winner)} is more accurate**."
    return f"{evidence}. The interval includes zero: **the difference is within seed-to-seed noise**."


def say_mcnemar(name_a: str, name_b: str, correct_a: np.ndarray, correct_b: np.ndarray) -> str:
    """The verdict on two fixed models scored on the same images, with McNemar's test."""
    test = mcnemar(correct_a, correct_b)
    acc_a, acc_b = float(np.mean(correct_a)), float(np.mean(correct_b))
    evidence = (f"{_capital(name_a)} scores {pct(acc_a)} and {name_b} {pct(acc_b)} on the same "
                f"{len(correct_a):,} images; {test.only_a + test.only_b} images are right for only "
                f"one of them ({test.only_a} only for {name_a}, {test.only_b} only for {name_b}; "
                f"McNemar's exact test {p_text(test.p_value)})")
    if test.significant:
        winner = name_a if test.only_a > test.only_b else name_b
        return f"{evidence}. **{_capital(winner)} is more accurate**, beyond chance at the {ALPHA:g} level."
    return (f"{evidence}. **The difference is within noise**: images this close to a tie "
            "split this way by chance often enough that this test set cannot rank the two.")
