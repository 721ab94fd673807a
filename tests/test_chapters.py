"""Every chapter executes in the smoke profile and writes the metrics the scoreboard reads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mnist_utils import run

REPO = Path(__file__).resolve().parent.parent
EXPECTED = {
    "01_data": ["load_seconds", "test_acc_nearest_mean"],
    "02_linear_sgd": ["test_acc_square_loss", "test_acc_cross_entropy"],
    "03_batch_size": ["test_acc_b1", "test_acc_b10", "test_acc_b100", "test_acc_b1000",
                      "test_acc_bfull", "seconds_b1", "seconds_bfull"],
    "04_training_set_size": ["test_acc_n100", "test_acc_n500", "test_acc_n1000"],
    "05_pytorch": ["max_abs_weight_diff", "test_acc_pytorch", "test_acc_handcoded"],
    "06_mlp_depth": ["test_acc_mlp3", "test_acc_mlp4", "test_acc_mlp3_full", "test_acc_mlp4_full"],
    # the full-data point is named by its size: test_acc_n60000 in the full profile
    "07_lenet": ["test_acc_best", "test_acc_double_conv", "test_acc_n600", "test_acc_n1800",
                 "test_acc_no_augmentation", "epoch_seconds"],
    "08_vit": ["test_acc_6k", "test_acc_60k", "params", "epoch_seconds_60k"],
    "09_bovw": ["test_acc_bovw", "vocab_size", "seconds_total"],
    "10_scoreboard": [],
}
# Written where the site tests (run after the smoke build) can compare them.
SMOKE_DIR = REPO / "_build" / "test-smoke"


@pytest.mark.chapters
def test_every_chapter_runs_in_the_smoke_profile(offline_copy: Path) -> None:
    os.environ.setdefault("MNIST_DATA_DIR", str(offline_copy))
    code = run.main(["--profile", "smoke", "--build-dir", str(SMOKE_DIR), "--no-html"])
    report = json.loads((SMOKE_DIR / "report.json").read_text())
    failed = {k: v.get("error") for k, v in report["chapters"].items() if v["status"] != "ok"}
    assert code == 0 and not failed, failed
    assert list(report["chapters"]) == list(EXPECTED)
    for chapter, keys in EXPECTED.items():
        if not keys:
            continue
        metrics = json.loads((SMOKE_DIR / "metrics" / f"{chapter}.json").read_text())
        assert set(keys) <= set(metrics), f"{chapter} lacks {set(keys) - set(metrics)}"
        for key, value in metrics.items():
            if key.startswith("test_acc"):
                assert 0.0 <= value <= 1.0
    assert json.loads((SMOKE_DIR / "metrics" / "05_pytorch.json").read_text())[
        "max_abs_weight_diff"] < 1e-5
