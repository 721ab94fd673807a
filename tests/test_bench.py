"""The benchmark's floor table runs end to end on a few hundred images (`bench.py --quick`)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLUMNS = ["model", "book's training", "epoch (s)", "images/s", "GFLOP counted", "GFLOP/s",
           "floor (s)", "x floor", "seed pattern (s)", "seed / ours"]
MODELS = ["linear", "MLP-3", "LeNet", "ViT", "VGG-11"]


def test_quick_floor_table(offline_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "MNIST_TORCH_THREADS": "1"}  # one thread: no fight for cores with other work
    done = subprocess.run([sys.executable, "bench/bench.py", "--quick", "--out", str(out)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    header = "| " + " | ".join(COLUMNS) + " |"
    assert header in done.stdout.splitlines()

    result = json.loads(out.read_text())
    assert result["columns"] == COLUMNS
    assert result["threads"] == 1
    assert math.isfinite(result["matmul_gflops"]) and result["matmul_gflops"] > 0
    rows = result["floor"]
    assert [r["model"].split(" (")[0] for r in rows] == MODELS
    for r in rows:
        assert r["images"] == 256
        assert r["flops"] > 0
        for key in ("epoch_s", "gflops_per_s", "floor_s", "times_floor", "seed_s", "ratio"):
            assert math.isfinite(r[key]) and r[key] > 0, (r["model"], key, r[key])
    assert result["lenet_target"]["epoch_s"] == next(r for r in rows if r["model"] == "LeNet")["epoch_s"]


def test_vit_encoder_comparison_prints_both_rows() -> None:
    cmd = [sys.executable, "bench/vit_encoder.py", "--images", "256", "--repeats", "1"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert len(rows) == 2
    for row in rows:
        fused, ours, ratio = (cell.strip() for cell in row.strip("|").split("|")[1:])
        assert float(fused) > 0 and float(ours) > 0 and ratio.endswith("x")
