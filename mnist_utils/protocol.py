"""The book's statistical protocol, in code: seeds per side, paired intervals, corrected families.

``book/protocol.md`` states the rules for readers; this module is what every chapter
calls, so that every conclusion is drawn the same way:

* a comparison of two methods rests on at least ``MIN_SEEDS`` training seeds per side,
  **paired by seed** (seed i of both sides shares whatever the chapter pairs: the
  subset, the initial weights, the batch order);
* its evidence is the mean of the paired differences b - a with a 95% Student-t
  interval, and the paired t-test's p-value (for one comparison the interval excludes
  zero exactly when p < ``ALPHA``): the verdict follows them;
* comparisons drawn from one study form a **family**, Holm-corrected (``holm_family``):
  a verdict then needs the adjusted p below ``ALPHA``;
* McNemar's test on one seed's two models (``stats.mcnemar``) complements this: it
  measures the noise of the test sample, not the noise of training.

SciPy does the t-test, statsmodels the Holm correction (``stats.holm``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats as sps

from mnist_utils.stats import ALPHA, CONFIDENCE, Interval, holm, mean_interval, p_text, points

MIN_SEEDS = 3  # the fewest seeds per side behind a conclusion


def paired_t_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the paired t-test of b - a (SciPy's ``ttest_rel``).

    With identical differences the t statistic is undefined: p is 0 for a nonzero
    difference (every seed agrees exactly) and 1 for none.
    """
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if d.size < 2:
        return math.nan
    if np.ptp(d) <= 1e-12:  # equal up to float rounding (accuracies are multiples of 1/N)
        return 0.0 if abs(d[0]) > 1e-12 else 1.0
    return float(sps.ttest_rel(b, a).pvalue)


@dataclass(frozen=True)
class Comparison:
    """Two settings compared over paired seeds: b - a, with its test (accuracies as fractions)."""

    name_a: str
    name_b: str
    a: tuple[float, ...]
    b: tuple[float, ...]
    diff: Interval  # mean of b - a and its 95% t-interval
    wins: int  # seeds in which b beats a
    p_value: float  # paired t-test
    p_holm: float  # Holm-adjusted within its family (= p_value for a family of one)
    family: int = 1  # comparisons in the family

    @property
    def n(self) -> int:
        return len(self.a)

    @property
    def decided(self) -> bool:
        """Enough seeds, and the (adjusted) p below ALPHA: the two settings differ."""
        return self.n >= MIN_SEEDS and self.p_holm < ALPHA

    @property
    def winner(self) -> str | None:
        """The more accurate side's name if the comparison is decided, else None."""
        if not self.decided:
            return None
        return self.name_b if self.diff.mean > 0 else self.name_a

    def verdict(self) -> str:
        """The conclusion in words, naming both sides (for ``glue_words``)."""
        if self.n < MIN_SEEDS:
            return (f"{self.n} seed{'s' if self.n != 1 else ''} cannot rank {self.name_a} and "
                    f"{self.name_b} (the protocol asks for {MIN_SEEDS})")
        if self.winner is None:
            return f"{self.name_a} and {self.name_b} are within seed-to-seed noise of each other"
        loser = self.name_a if self.winner == self.name_b else self.name_b
        return f"{self.winner} is more accurate than {loser}"

    def evidence(self) -> str:
        """The numbers behind the verdict, in one clause."""
        text = f"{self.name_b} minus {self.name_a}: {points(self.diff.mean)} over {self.n} seeds"
        if self.n < 2:
            return text
        text += (f" ({int(100 * CONFIDENCE)}% interval {points(self.diff.low)} to "
                 f"{points(self.diff.high)}; ahead in {self.wins} of {self.n}; paired t-test "
                 f"{p_text(self.p_value)}")
        if self.family > 1:
            text += f", Holm-adjusted over {self.family} comparisons {p_text(self.p_holm)}"
        return text + ")"

    def sentence(self) -> str:
        """Evidence, then the verdict in bold: a whole sentence for the prose."""
        verdict = self.verdict()
        return f"{self.evidence()}: **{verdict[:1].upper() + verdict[1:]}**."

    def record(self) -> dict[str, Any]:
        """The comparison as plain numbers and words (JSON), for the scoreboard."""
        return {"a": self.name_a, "b": self.name_b, "acc_a": list(self.a), "acc_b": list(self.b),
                "mean": self.diff.mean, "low": self.diff.low, "high": self.diff.high,
                "wins": self.wins, "n": self.n, "p": self.p_value, "p_holm": self.p_holm,
                "family": self.family, "verdict": self.verdict()}

    def row(self) -> dict[str, Any]:
        """One row of ``comparison_table``."""
        return {"comparison": f"{self.name_b} vs {self.name_a}", "seeds": self.n,
                "mean of b - a": self.diff.mean, "95% low (unadjusted)": self.diff.low,
                "95% high (unadjusted)": self.diff.high, "b ahead": f"{self.wins} of {self.n}",
                "p (paired t)": self.p_value, "p (Holm)": self.p_holm,
                "verdict": self.verdict()}


def compare(name_a: str, name_b: str, a: Sequence[float], b: Sequence[float]) -> Comparison:
    """Compare b with a, seed i of ``a`` paired with seed i of ``b`` (a family of one)."""
    if len(a) != len(b) or not len(a):
        raise ValueError(f"compare needs equally many values per side, got {len(a)} and {len(b)}")
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    p = paired_t_p(a, b)
    return Comparison(name_a, name_b, tuple(map(float, a)), tuple(map(float, b)),
                      mean_interval(d), int((d > 0).sum()), p, p)


def holm_family(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The same comparisons with Holm-adjusted p-values over the whole family."""
    raw = [c.p_value for c in comparisons]
    known = [i for i, p in enumerate(raw) if math.isfinite(p)]
    adjusted = dict(zip(known, holm([raw[i] for i in known])))
    return [replace(c, p_holm=float(adjusted.get(i, math.nan)), family=len(comparisons))
            for i, c in enumerate(comparisons)]


def comparison_table(comparisons: Sequence[Comparison]) -> Any:
    """A styled pandas table of a family: differences in points, both p-values, verdicts."""
    import pandas as pd

    frame = pd.DataFrame([c.row() for c in comparisons])
    percent = {k: (lambda v: f"{100 * v:+.2f}") for k in ("mean of b - a", "95% low (unadjusted)",
                                                            "95% high (unadjusted)")}
    frame = frame.rename(columns={k: f"{k} (points)" for k in percent})
    formats = {f"{k} (points)": f for k, f in percent.items()}
    formats.update({"p (paired t)": p_text, "p (Holm)": p_text})
    return frame.style.format(formats, na_rep="-").hide(axis="index")


def save(chapter: str, comparisons: Sequence[Comparison]) -> None:
    """Publish a chapter's comparisons in the build folder; the scoreboard lists them all."""
    from mnist_utils.results import save_comparisons

    save_comparisons(chapter, [c.record() for c in comparisons])


def tuning_table(rows: Sequence[tuple[str, str, str, str]]) -> Any:
    """The chapter's "what was tuned on what" table.

    Each row: the hyperparameter, the values tried (or why it was fixed), the value
    used, and the data it was chosen on (a validation split, or "fixed").
    """
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["hyperparameter", "values tried, or why fixed",
                                        "value used", "chosen on"])
    return frame.style.hide(axis="index")
