"""Checks for chapter 10's coding exercises: McNemar's exact p-value and Holm's correction."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

from mnist_utils.exercises import Mismatch, Result, run_check
from mnist_utils.stats import holm


def check_mcnemar(p_value: Callable) -> Result:
    """``p_value(only_a, only_b)``: the exact two-sided McNemar p-value."""
    def probe() -> str:
        for a, b in ((36, 51), (27, 49), (5, 5), (0, 9), (120, 80)):
            expected = stats.binomtest(min(a, b), a + b, 0.5).pvalue
            got = float(p_value(a, b))
            if abs(got - expected) > 1e-9:
                raise Mismatch(f"p_value({a}, {b}) = {got:.6g}; expected {expected:.6g} (two-sided binomial "
                               f"test of {min(a, b)} successes in {a + b} fair coin flips).")
        return "it matches SciPy's exact binomial test."
    return run_check("McNemar", probe)


def check_holm(holm_adjust: Callable) -> Result:
    """``holm_adjust(p_values) -> adjusted p-values`` in the input's order."""
    def probe() -> str:
        for p in ([0.01, 0.04, 0.03, 0.005], [0.2, 0.01, 0.5], [0.04]):
            got = np.asarray(holm_adjust(p), dtype=float)
            if got.shape != (len(p),) or not np.allclose(got, holm(p), atol=1e-12):
                raise Mismatch(f"for {p} you give {np.round(got, 4).tolist()}; Holm gives "
                               f"{np.round(holm(p), 4).tolist()} (sorted, times m - i, running maximum, "
                               "capped at 1, back in the input's order).")
        return "it matches statsmodels' Holm adjustment."
    return run_check("Holm", probe)
