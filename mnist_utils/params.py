"""Chapter parameters: the smoke profile, and checks that fail early and by name.

Each chapter's cell tagged ``parameters`` holds its full-profile values, so a reader
sees and edits them in one place. The smoke profile (CI: the whole book in minutes)
overrides a few of them per chapter; papermill injects those. The checks run in the
cell right after the parameters, so a bad value (a batch size of 0, a subset larger
than the data, an unknown optimizer) stops the chapter at once with a message that
names the parameter instead of failing deep inside training.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Overrides per chapter file stem; the full profile uses the notebooks' own values.
SMOKE: dict[str, dict[str, Any]] = {
    "01_data": {},
    "02_linear_sgd": {"epochs": 1, "eval_points": 5, "train_size": 10000},
    "03_batch_size": {
        "batch_sizes": [1, 10, 100, 1000, 60000],
        "iterations": {"1": 300, "10": 300, "100": 100, "1000": 30, "60000": 5},
        "lr_grid": [0.01, 0.1],
        "search_fraction": 0.2,
        "eval_points": 5,
        "lbfgs_iterations": 5,
    },
    "04_training_set_size": {"sizes": [100, 500, 1000], "seeds": [0, 1], "iterations": 200},
    "05_pytorch": {"epochs": 1, "train_size": 6000},
    "06_mlp_depth": {"epochs": 1, "seeds": [0], "full_epochs": 1, "full_size": 6000},
    "07_lenet": {
        "epochs": 1,
        "search_epochs": 1,
        "search_size": 2000,
        "sizes": [600, 1800],
        "size_epochs": 1,
        "full_size": 3000,
    },
    "08_vit": {"epochs_6k": 1, "epochs_60k": 1, "full_size": 3000},
    "09_bovw": {
        "train_size": 600,
        "validation_size": 150,
        "test_size": 300,
        "vocab_sizes": [16, 32],
        "compare_size": 300,
    },
    "10_scoreboard": {
        "profile_note": "this build used the smoke profile (tiny data, one or two epochs): "
        "the numbers below only show that every chapter runs, not how good the models are."
    },
}
PROFILES = {"full": {}, "smoke": SMOKE}


class ParameterError(ValueError):
    """A chapter parameter has a value the chapter cannot use."""


def profile_parameters(chapter: str, profile: str) -> dict[str, Any]:
    """The parameters papermill injects into ``chapter`` for ``profile``."""
    if profile not in PROFILES:
        raise ParameterError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    return dict(PROFILES[profile].get(chapter, {}))


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
