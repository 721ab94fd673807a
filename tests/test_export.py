"""Saving the chapters' models, their ONNX export and its check against PyTorch, on tiny models.

The smoke build exports the book's own models (``tests/test_chapters.py``) and the site
tests run them in Chromium (``tests/test_site.py``); here small untrained models keep it fast.
"""

from __future__ import annotations

import gzip
import json
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_utils.models import MLP, LeNet, ViT
from mnist_utils.results import BUILD_DIR_ENV, save_model
from tools import export, vendor

pytest.importorskip("onnxruntime")


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(BUILD_DIR_ENV, str(tmp_path))
    return tmp_path


def _images(n: int = 24) -> tuple[torch.Tensor, np.ndarray]:
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=gen)
    return images, (np.arange(n) % 10)


def _save_tiny_models() -> None:
    torch.manual_seed(0)
    save_model("02_linear_sgd", "test_acc_cross_entropy", torch.nn.Linear(784, 10), scaling="unit",
               input_shape=[784], init={"in_features": 784, "out_features": 10})
    save_model("06_mlp_depth", "test_acc_mlp4_full", MLP(4, width=16).eval(), scaling="standard",
               input_shape=[28, 28], init={"depth": 4, "width": 16})
    save_model("07_lenet", "test_acc_best", LeNet(), scaling="standard", init={})
    vit = {"dim": 16, "depth": 1, "heads": 2, "mlp_dim": 32}
    save_model("08_vit", "test_acc_60k", ViT(**vit), scaling="standard", init=vit)


def test_save_model_keeps_a_state_dict_and_what_rebuilds_it(build: Path) -> None:
    lenet = LeNet()
    path = save_model("07_lenet", "test_acc_best", lenet, scaling="standard", init={}, note="final")
    assert path == build / "models" / "07_lenet" / "test_acc_best.pt"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta == {"chapter": "07_lenet", "key": "test_acc_best", "name": "LeNet, final (augmented)",
                    "class": "mnist_utils.models:LeNet", "init": {}, "scaling": "standard",
                    "input_shape": [1, 28, 28], "note": "final"}
    model, _ = export.load_model(path.with_suffix(".json"))
    for name, tensor in lenet.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor)
    assert not list(build.rglob(".*"))  # no temporary file left behind


@pytest.mark.parametrize(("key", "options", "message"), [
    ("test_acc_full", {"scaling": "standard"}, "declares no model"),
    ("test_acc_best", {"scaling": "minmax"}, "scaling"),
    ("test_acc_best", {"scaling": "unit", "input_shape": [28, 27]}, "28 x 28"),
])
def test_save_model_rejects_what_the_page_cannot_use(
    build: Path, key: str, options: dict, message: str
) -> None:
    with pytest.raises((KeyError, ValueError), match=message):
        save_model("07_lenet", key, LeNet(), init={}, **options)
    assert not (build / "models" / "07_lenet" / f"{key}.pt").exists()


def test_export_matches_pytorch_and_writes_the_manifest(build: Path) -> None:
    _save_tiny_models()
    images, labels = _images()
    manifest = export.export_models(build, images, labels)
    ids = [m["id"] for m in manifest["models"]]
    assert ids == ["02_linear_sgd/test_acc_cross_entropy", "06_mlp_depth/test_acc_mlp4_full",
                   "07_lenet/test_acc_best", "08_vit/test_acc_60k"]
    for model in manifest["models"]:
        assert model["check"]["images"] == len(images) and model["check"]["same_predictions"]
        assert model["check"]["max_abs_logit_diff"] <= export.TOLERANCE
        assert (build / "models" / model["file"]).stat().st_size == model["bytes"]
    assert manifest["scalings"]["standard"] == {"mean": 0.1307, "std": 0.3081}
    examples = manifest["examples"]
    assert len(examples) == export.EXAMPLES and [e["hard"] for e in examples] == [False] * 5 + [True]
    assert [e["label"] for e in examples[:5]] == [0, 1, 2, 3, 4]
    for example in examples:
        assert example["pixels"] == images[example["index"]].flatten().tolist()
        for probs in example["probabilities"].values():
            assert len(probs) == 10 and sum(probs) == pytest.approx(1, abs=1e-9)
    assert json.loads((build / "models" / "manifest.json").read_text()) == manifest


def test_a_disagreeing_export_fails_the_build(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _save_tiny_models()
    other = export.to_onnx(export.page_model(LeNet().eval(), [1, 28, 28]))  # other weights
    monkeypatch.setattr(export, "to_onnx", lambda model: other)
    with pytest.raises(SystemExit, match="disagree"):
        export.export_models(build, *_images())
    assert not (build / "models" / "manifest.json").exists()


def test_models_past_the_budget_are_left_off_the_page(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _save_tiny_models()
    monkeypatch.setattr(export, "MODEL_BUDGET", 100_000)  # the linear model (31 kB) fits, the rest not all
    manifest = export.export_models(build, *_images())
    assert manifest["models"][0]["key"] == "test_acc_cross_entropy"
    assert sum(m["bytes"] for m in manifest["models"]) <= 100_000
    assert manifest["omitted"] and all("budget" in m["reason"] for m in manifest["omitted"])
    for model in manifest["omitted"]:
        assert not (build / "models" / model["file"]).exists()


def test_without_onnx_the_step_is_skipped_outside_ci_only(
    build: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(export, "missing_modules", lambda: ["onnx"])
    monkeypatch.delenv("CI", raising=False)
    export.export_step(build)
    assert "not exported" in capsys.readouterr().out
    monkeypatch.setenv("CI", "true")
    with pytest.raises(SystemExit, match="CI must export"):
        export.export_step(build)


FAKE_NPM = """#!/bin/sh
# lays out an onnxruntime-web package under --prefix like npm would
while [ "$1" != "--prefix" ]; do shift; done
pkg="$2/node_modules/onnxruntime-web"
mkdir -p "$pkg/dist"
echo '{{"name": "onnxruntime-web", "version": "{version}"}}' > "$pkg/package.json"
for f in ort.wasm.min.js ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm ort.all.min.js \
         ort-wasm-simd-threaded.jsep.wasm; do
  echo "$f" > "$pkg/dist/$f"
done
"""


def test_the_page_gets_its_script_the_runtime_and_the_models(
    build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save_tiny_models()
    export.export_models(build, *_images())
    npm = tmp_path / "npm"
    npm.write_text(FAKE_NPM.format(version=vendor.ORT_VERSION))
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    stage = tmp_path / "stage"
    original = vendor.vendor_onnxruntime
    monkeypatch.setattr(vendor, "vendor_onnxruntime",
                        lambda target: original(target, cache=tmp_path / "vendor", npm=str(npm)))
    export.stage_page(export.REPO_ROOT, build, stage)
    page = stage / vendor.STATIC_DIR / export.PAGE_DIR
    files = sorted(p.relative_to(page).as_posix() for p in page.rglob("*") if p.is_file())
    assert files == [
        "models/02_linear_sgd/test_acc_cross_entropy.onnx", "models/06_mlp_depth/test_acc_mlp4_full.onnx",
        "models/07_lenet/test_acc_best.onnx", "models/08_vit/test_acc_60k.onnx", "models/manifest.json",
        "ort/ort-wasm-simd-threaded.mjs", "ort/ort-wasm-simd-threaded.wasm.gz", "ort/ort.wasm.min.js",
        "try.css", "try.js",
    ]
    assert gzip.decompress((page / "ort" / "ort-wasm-simd-threaded.wasm.gz").read_bytes()) == \
        b"ort-wasm-simd-threaded.wasm\n"
