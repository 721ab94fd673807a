"""Metrics files, declared keys, saved predictions, and parameter checks with clear messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_utils import params
from mnist_utils.results import (
    BUILD_DIR_ENV,
    declared_metrics,
    load_metrics,
    load_predictions,
    require_result,
    save_metrics,
)
from mnist_utils.sampling import balanced_subset, make_generator, random_subset
from mnist_utils.training import TrainConfig

UNITS = {"fraction", "s", "ms", "count", "-"}


def test_save_and_load_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BUILD_DIR_ENV, str(tmp_path))
    pred = torch.tensor([1, 2, 3, 9])
    assert save_metrics("07_lenet", {"test_acc_best": np.float32(0.99), "params": 44426},
                        predictions={"test_acc_best": pred}) is None
    data = json.loads((tmp_path / "metrics" / "07_lenet.json").read_text())
    assert data == {"test_acc_best": pytest.approx(0.99), "params": 44426}
    assert load_metrics("07_lenet") == data
    assert load_metrics("missing") is None
    assert load_predictions("07_lenet", "test_acc_best").tolist() == [1, 2, 3, 9]
    assert load_predictions("07_lenet", "test_acc_full") is None
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob(".*.npy"))


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"test_acc_best": 99.1}, "fraction"),
        ({"epoch_seconds": float("nan")}, "finite"),
        ({"params": "fast"}, "number"),
        ({"params": True}, "number"),
        ({"test_acc_bset": 0.99}, "not declared"),
    ],
)
def test_save_metrics_rejects_bad_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, metrics: dict, message: str
) -> None:
    monkeypatch.setenv(BUILD_DIR_ENV, str(tmp_path))
    with pytest.raises((ValueError, TypeError, KeyError), match=message):
        save_metrics("07_lenet", metrics)
    assert not (tmp_path / "metrics" / "07_lenet.json").exists()  # nothing half-written


def test_predictions_must_be_declared_and_digits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BUILD_DIR_ENV, str(tmp_path))
    with pytest.raises(KeyError, match="no predictions"):
        save_metrics("07_lenet", {}, predictions={"epoch_seconds": [1, 2]})
    with pytest.raises(ValueError, match="digits"):
        save_metrics("07_lenet", {}, predictions={"test_acc_best": [1, 12]})
    # a notebook of your own (not a chapter of the book) may save any key
    save_metrics("my_model", {"test_acc_mine": 0.5, "anything": 3})
    assert load_metrics("my_model") == {"test_acc_mine": 0.5, "anything": 3}


def test_declarations_are_well_formed() -> None:
    declared = declared_metrics()
    assert "10_scoreboard" in declared and "07_lenet" in declared
    for chapter, keys in declared.items():
        for key, spec in (keys or {}).items():
            assert spec["meaning"] and spec["unit"] in UNITS, (chapter, key)
            if spec["unit"] == "fraction" and key.startswith("test_acc") and not key.endswith("_std"):
                assert 0 < spec["tolerance"] < 0.05, (chapter, key)
            board = spec.get("board")
            if board:
                for ref in ("params", "seconds"):
                    assert board.get(ref) in (None, *keys), (chapter, key, ref)
                assert 0 < board.get("assignment", 0.5) < 1


def test_require_result_names_the_chapter_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv(BUILD_DIR_ENV, str(tmp_path))
    assert require_result("07_lenet", "test_acc_full") is None
    assert "Run 07_lenet.ipynb first" in capsys.readouterr().out
    save_metrics("07_lenet", {"test_acc_full": 0.99})
    assert require_result("07_lenet", "test_acc_full") == 0.99
    with pytest.raises(KeyError, match="not a declared result"):
        require_result("07_lenet", "test_acc_n60000")


def test_parameter_checks_name_the_parameter() -> None:
    """The checks live where values are used; each message names the chapter parameter."""
    with pytest.raises(params.ParameterError, match="`batch_size`"):
        TrainConfig(batch_size=0)
    with pytest.raises(params.ParameterError, match="`train_size`.*60000"):
        random_subset(60000, 70000, make_generator(0), name="train_size")
    with pytest.raises(params.ParameterError, match="`optimizer`"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(params.ParameterError, match="`per_class`"):
        balanced_subset(torch.tensor([0, 0, 1]), 2, make_generator(0))
    assert issubclass(params.ParameterError, ValueError)
