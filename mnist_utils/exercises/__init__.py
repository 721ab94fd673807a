"""Exercises a student completes and checks: the scaffolds' error and the checking helpers.

A coding exercise in a chapter is three cells:

1. a **scaffold** (tagged ``exercise``): a function the student completes, whose body
   raises ``NotDone`` until then;
2. a **check**: ``ch07.check_conv2d_loop(conv2d_loop)`` runs the student's function on
   small inputs and says in plain words what is right or wrong (a shape, a value against
   PyTorch, a gradient against autograd, a property that must hold); it never raises, so
   the chapter still runs with the scaffold untouched;
3. a hint and a **solution** in dropdowns (the solution as a ``python`` code block).

``tests/test_exercises.py`` proves for every exercise of every chapter that the solution
passes its check and the untouched scaffold fails it, so no check is vacuous.
The checks of each chapter live in ``mnist_utils.exercises.chNN``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


class NotDone(NotImplementedError):
    """Raised by an exercise's scaffold until the student completes it."""


class Mismatch(AssertionError):
    """What a check found wrong, in words a student can act on."""


@dataclass(frozen=True)
class Result:
    """The outcome of a check: shown as one line in the notebook, truthy if it passed."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"{'Correct' if self.passed else 'Not yet'} ({self.exercise}): {self.message}"

    def _repr_markdown_(self) -> str:
        return f"{'✅ **Correct**' if self.passed else '❌ **Not yet**'} ({self.exercise}): {self.message}"


def run_check(exercise: str, probe: Callable[[], str]) -> Result:
    """Run ``probe`` (which raises ``Mismatch`` on a wrong answer and returns praise)."""
    try:
        return Result(exercise, True, probe())
    except NotDone:
        return Result(exercise, False, "not done yet: complete the function (it still raises NotDone).")
    except Mismatch as wrong:
        return Result(exercise, False, str(wrong))
    except Exception as error:  # the student's code crashed: say where, not a traceback
        return Result(exercise, False, f"your code raised {type(error).__name__}: {error}")


def expect_shape(name: str, got: Any, shape: tuple[int, ...]) -> None:
    if not isinstance(got, torch.Tensor):
        raise Mismatch(f"{name} should be a tensor, got {type(got).__name__}.")
    if tuple(got.shape) != tuple(shape):
        raise Mismatch(f"{name} has shape {list(got.shape)}; expected {list(shape)}.")


def expect_close(name: str, got: Any, expected: torch.Tensor, what: str, atol: float = 1e-6) -> None:
    """``got`` must have ``expected``'s shape and values (``what`` names the reference)."""
    expect_shape(name, got, tuple(expected.shape))
    error = (got.detach().double() - expected.detach().double()).abs()
    if not torch.isfinite(got).all():
        raise Mismatch(f"{name} contains inf or nan values.")
    if error.max().item() > atol:
        where = tuple(int(i) for i in torch.nonzero(error == error.max())[0])
        worst = int(error.flatten().argmax())
        raise Mismatch(f"{name} differs from {what} by up to {error.max().item():.3g} "
                       f"(at index {list(where)}: yours {got.flatten()[worst].item():.6g}, "
                       f"expected {expected.flatten()[worst].item():.6g}).")


def seeded(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A reproducible random tensor for a check's inputs."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)
