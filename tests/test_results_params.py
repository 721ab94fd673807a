"""Metrics files and chapter parameters: validation and clear messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnist_utils import params
from mnist_utils.results import BUILD_DIR_ENV, load_metrics, save_metrics


def test_save_and_load_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BUILD_DIR_ENV, str(tmp_path))
    path = save_metrics("07_lenet", {"test_acc_best": np.float32(0.99), "params": 44426})
    assert path == tmp_path / "metrics" / "07_lenet.json"
    data = json.loads(path.read_text())
    assert data == {"test_acc_best": pytest.approx(0.99), "params": 44426}
    assert load_metrics("07_lenet") == data
    assert load_metrics("missing") is None
    assert not list((tmp_path / "metrics").glob("*.part"))


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"test_acc_x": 99.1}, "fraction"),
        ({"seconds": float("nan")}, "finite"),
        ({"note": "fast"}, "number"),
        ({"flag": True}, "number"),
    ],
)
def test_save_metrics_rejects_bad_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, metrics: dict, message: str
) -> None:
    monkeypatch.setenv(BUILD_DIR_ENV, str(tmp_path))
    with pytest.raises((ValueError, TypeError), match=message):
        save_metrics("x", metrics)


def test_parameter_checks_name_the_parameter() -> None:
    with pytest.raises(params.ParameterError, match="`batch_size`"):
        params.positive_int("batch_size", 0)
    with pytest.raises(params.ParameterError, match="`train_size`.*at most 60000"):
        params.positive_int("train_size", 70000, at_most=60000)
    with pytest.raises(params.ParameterError, match="`optimizer`"):
        params.one_of("optimizer", "lbfgs", ["sgd", "adam"])
    with pytest.raises(params.ParameterError, match="`iterations`"):
        params.keys_cover("iterations", {"1": 10}, [1, 10])
    assert params.positive_ints("sizes", [1, 2]) == [1, 2]
    assert params.fraction("f", 0.5) == 0.5


def test_profiles() -> None:
    assert params.profile_parameters("07_lenet", "full") == {}
    assert params.profile_parameters("07_lenet", "smoke")["epochs"] == 1
    with pytest.raises(params.ParameterError, match="profile"):
        params.profile_parameters("07_lenet", "huge")
