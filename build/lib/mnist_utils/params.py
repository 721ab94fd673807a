"""Checks of chapter parameters that fail early and by name.

Each chapter keeps its settings in one cell tagged ``parameters``. The library
functions that use a value check it where they use it, with these helpers, so a bad
value (a batch size of 0, a subset larger than the data, an unknown optimizer) stops
with a message that names the parameter instead of failing deep inside training.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class ParameterError(ValueError):
    """A chapter parameter has a value the chapter cannot use."""


def _fail(name: str, expected: str, value: Any) -> ParameterError:
    return ParameterError(
        f"parameter `{name}` must be {expected}, got {value!r} "
        "(set it in the chapter's parameters cell or the runner's profile)"
    )


def positive_int(name: str, value: Any, *, at_most: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(name, "a positive integer", value)
    if at_most is not None and value > at_most:
        raise _fail(name, f"at most {at_most}", value)
    return value


def positive_ints(name: str, values: Iterable[Any], *, at_most: int | None = None) -> list[int]:
    values = list(values)
    if not values:
        raise _fail(name, "a non-empty list of positive integers", values)
    for value in values:
        positive_int(name, value, at_most=at_most)
    return values


def positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise _fail(name, "a positive number", value)
    return float(value)


def fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise _fail(name, "a fraction in (0, 1]", value)
    return float(value)


def one_of(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = list(choices)
    if value not in choices:
        raise _fail(name, f"one of {choices}", value)
    return value


def keys_cover(name: str, mapping: Mapping[str, Any], keys: Iterable[Any]) -> None:
    missing = [str(k) for k in keys if str(k) not in mapping]
    if missing:
        raise _fail(name, f"a mapping with entries for {missing}", dict(mapping))
