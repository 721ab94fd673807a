"""Hyperparameter search on a held-out split, with a grid that brackets its optimum.

A grid whose best value sits at its edge has not found an optimum: the best may lie
beyond. ``bracketed_search`` therefore extends the grid geometrically past that edge
(up to ``max_extensions`` new values) until the best value has a worse neighbour on
both sides, and says whether it got there. The test set plays no part: ``score`` must
measure on a validation split.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SearchResult:
    """Scores per value (in increasing value order), the best value, and whether it is bracketed."""

    scores: dict[float, float]
    best: float
    bracketed: bool  # the best value has a tried value on each side
    added: tuple[float, ...]  # values beyond the given grid that the search added

    def describe(self, name: str) -> str:
        """One sentence for a chapter: which value won and whether the grid brackets it."""
        text = f"The best {name} on the validation split is {self.best:.3g}"
        if self.added:
            text += (f"; the given grid's best lay at its edge, so the search tried "
                     f"{', '.join(f'{v:.3g}' for v in self.added)} beyond it")
        if self.bracketed:
            return text + ", and it is bracketed: a smaller and a larger value both score lower."
        return text + (", at the edge of the values tried: the optimum may lie further out, "
                       "and the search stopped there (see the text for why).")


def bracketed_search(
    score: Callable[[float], float],
    grid: Sequence[float],
    *,
    factor: float | None = None,
    max_extensions: int = 3,
) -> SearchResult:
    """Score every value of ``grid`` (higher is better), extending it past an edge optimum.

    ``factor`` is the ratio between added values (default: the grid's own ratio at that
    edge); ``max_extensions`` = 0 scores the grid as given and only reports the edge.
    Ties go to the larger value (for a step size: the one that moved further; scores
    such as accuracy are flat for tiny steps, where argmax ignores the weights' scale).
    """
    values = sorted({float(v) for v in grid})
    if not values or any(not v > 0 for v in values):
        raise ValueError(f"the grid must hold positive values, got {list(grid)}")
    scores = {v: float(score(v)) for v in values}
    added: list[float] = []
    while True:
        ordered = sorted(scores)
        best = max(ordered, key=lambda v: (scores[v], v))
        at_low, at_high = best == ordered[0], best == ordered[-1]
        if len(ordered) < 2 or not (at_low or at_high) or len(added) >= max_extensions:
            break
        edge = ordered[0] if at_low else ordered[-1]
        inner = ordered[1] if at_low else ordered[-2]
        ratio = factor or (inner / edge if at_low else edge / inner)
        new = edge / ratio if at_low else edge * ratio
        value = float(score(new))
        scores[new] = value if math.isfinite(value) else -math.inf
        added.append(new)
    ordered = sorted(scores)
    best = max(ordered, key=lambda v: (scores[v], v))
    bracketed = ordered[0] < best < ordered[-1]
    return SearchResult({v: scores[v] for v in ordered}, best, bracketed, tuple(added))
