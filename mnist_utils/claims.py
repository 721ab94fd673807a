"""The claims a chapter's prose makes, each checked against the run's numbers.

Numbers and verdict words reach the prose from the run (``glue``), but headings and
framing sentences are typed: "cross-entropy is more accurate than the square loss",
"small batches reach a given accuracy in fewer passes". Each such claim is declared
once, in ``claims.yml`` beside this file, with the condition on the run's numbers
that makes it true::

    02_linear_sgd:
      - id: softmax_mse_not_behind
        says: "Softmax + square loss is not less accurate than cross-entropy."
        when: "softmax_mse_minus_ce_low > -0.002"

After computing its evidence, a chapter calls ``check_claims(chapter, evidence)``.
A claim the run contradicts stops a full-profile build with a message naming the
claim and the numbers; in the smoke profile and in Colab (tiny data, other hardware)
the chapter shows a short note instead, since a student's run may legitimately
differ from the book's. The verdicts are saved for the scoreboard, which lists every
claim with its evidence and its status in this build.

``when`` is a small expression language, parsed with ``ast`` and evaluated without
``eval``: names of evidence values, numbers, ``+ - * /``, comparisons, ``and``,
``or``, ``not`` and the functions ``abs``, ``min`` and ``max``.
"""

from __future__ import annotations

import ast
import operator
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

PROFILE_ENV = "MNIST_PROFILE"  # set by the book's runner: "full" or "smoke"

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max}


class ClaimError(AssertionError):
    """A claim of the book's prose that this run's numbers contradict."""


@dataclass(frozen=True)
class Claim:
    """One sentence of the prose (``says``) and the condition that makes it true (``when``)."""

    chapter: str
    id: str
    says: str
    when: str

    def names(self) -> list[str]:
        """The evidence values the condition reads, in order of appearance."""
        tree = ast.parse(self.when, mode="eval")
        found = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in _FUNCTIONS]
        return list(dict.fromkeys(found))


@dataclass(frozen=True)
class Verdict:
    """A claim judged on one run: whether it holds, and the numbers it was judged on."""

    claim: Claim
    holds: bool
    values: dict[str, float]

    def explain(self) -> str:
        numbers = ", ".join(f"{k} = {v:.4g}" for k, v in self.values.items())
        claim = self.claim
        return f"{claim.chapter}/{claim.id}: \"{claim.says}\" needs {claim.when} ({numbers})"


def _evaluate(node: ast.AST, values: Mapping[str, float]) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, values)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        operand = _evaluate(node.operand, values)
        return -operand if isinstance(node.op, ast.USub) else not operand
    if isinstance(node, ast.BoolOp):
        results = [bool(_evaluate(v, values)) for v in node.values]
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left, holds = _evaluate(node.left, values), True
        for op, comparator in zip(node.ops, node.comparators):
            right = _evaluate(comparator, values)
            holds, left = holds and _COMPARE[type(op)](left, right), right
        return holds
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
            and not node.keywords):
        return _FUNCTIONS[node.func.id](*(_evaluate(a, values) for a in node.args))
    raise ValueError(f"unsupported expression in a claim's condition: {ast.unparse(node)!r}")


def evaluate(when: str, values: Mapping[str, float]) -> bool:
    """Whether the condition ``when`` holds for ``values`` (see the module docstring)."""
    return bool(_evaluate(ast.parse(when, mode="eval"), values))


@cache
def declared_claims() -> dict[str, tuple[Claim, ...]]:
    """``claims.yml``: chapter -> its claims, in the order the prose makes them."""
    text = resources.files("mnist_utils").joinpath("claims.yml").read_text()
    return {chapter: tuple(Claim(chapter, **entry) for entry in entries or [])
            for chapter, entries in (yaml.safe_load(text) or {}).items()}


def judge(claims: Sequence[Claim], evidence: Mapping[str, float]) -> list[Verdict]:
    """Judge every claim on ``evidence``; a name the evidence lacks is a bug, never a pass."""
    verdicts = []
    for claim in claims:
        missing = [n for n in claim.names() if n not in evidence]
        if missing:
            raise KeyError(f"claim {claim.chapter}/{claim.id} reads {missing}, which the chapter did not "
                           f"pass to check_claims (it passed {sorted(evidence)})")
        values = {n: float(evidence[n]) for n in claim.names()}
        verdicts.append(Verdict(claim, evaluate(claim.when, values), values))
    return verdicts


def is_strict() -> bool:
    """Contradictions fail the chapter only in the book's full-profile build."""
    return os.environ.get(PROFILE_ENV) == "full"


def check_claims(chapter: str, evidence: Mapping[str, float], *, claims: Sequence[Claim] | None = None,
                 strict: bool | None = None) -> list[Verdict]:
    """Judge ``chapter``'s declared claims on this run; save the verdicts; fail or warn.

    ``strict`` (default: the full-profile build) raises ``ClaimError`` naming every
    contradicted claim and its numbers; otherwise a visible note says how this run
    differs from the book.
    """
    from mnist_utils.results import save_claims

    chosen = declared_claims().get(chapter, ()) if claims is None else tuple(claims)
    verdicts = judge(chosen, evidence)
    save_claims(chapter, [{"id": v.claim.id, "says": v.claim.says, "when": v.claim.when,
                           "holds": v.holds, "values": v.values} for v in verdicts])
    broken = [v for v in verdicts if not v.holds]
    if broken and (is_strict() if strict is None else strict):
        raise ClaimError("this run contradicts the book's prose:\n" + "\n".join(v.explain() for v in broken))
    if broken:
        from IPython.display import display

        lines = "\n".join(f"- *{v.claim.says}* (needs `{v.claim.when}`; this run: "
                          + ", ".join(f"`{k}` = {x:.4g}" for k, x in v.values.items()) + ")" for v in broken)
        note = (f"**This run differs from the book** (smaller data or other hardware than the book's "
                f"build), so {'this claim' if len(broken) == 1 else 'these claims'} of the text do not "
                f"hold here:\n\n{lines}")
        display({"text/markdown": note, "text/plain": note}, raw=True)
    return verdicts
