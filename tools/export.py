"""The book's trained models as ONNX, checked against PyTorch, for the "Try the models" page.

The chapters keep their final models with ``mnist_utils.results.save_model``
(``<build>/models/<chapter>/<key>.pt``, a state dict, and ``<key>.json``: class, constructor
arguments, pixel scaling, input shape). This step (``tools/run.py`` runs it after the
chapters, before the HTML) rebuilds each model, exports it to ONNX with the TorchScript-based
exporter (one image [1, 1, 28, 28], scaled as in training, in; ten logits out) and runs the
export with onnxruntime on the first 256 test images against PyTorch: the largest
|logit difference| must stay within 1e-4 and every prediction must be the same, or the
build fails. ``<build>/models/manifest.json`` records the models, their checks and a few
test images with every model's PyTorch probabilities, which the page (``book/try/try.js``)
and its browser test compare with what onnxruntime-web computes.

    python -m tools.export --build-dir _build/smoke    # on its own, after the chapters
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import inspect
import io
import json
import os
import shutil
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import softmax

from mnist_utils.build_folder import BuildFolder, write_json_atomic
from mnist_utils.results import declared_metrics

REPO_ROOT = Path(__file__).resolve().parent.parent
OPSET = 17
CHECK_IMAGES = 256
TOLERANCE = 1e-4  # largest |ONNX logit - PyTorch logit| accepted
EXAMPLES = 6  # test images the page offers as buttons
# ONNX bytes the page may carry; the runtime adds about 4 MB, so the site grows by less than 15 MB.
# A model past the budget (VGG-11 at the paper's widths, on a GPU build) is left off the page.
MODEL_BUDGET = 10_000_000
MODULES = ("mnist_utils.models", "torch.nn")  # where the classes of saved models may come from
PAGE_DIR = "try"  # under the staged _vendor/: the site's _static/try/


def missing_modules() -> list[str]:
    """The Python packages the export needs that are not installed."""
    return [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]


def load_model(sidecar: Path) -> tuple[Any, dict[str, Any]]:
    """The model ``save_model`` kept (in eval mode) and its sidecar."""
    import torch

    meta = json.loads(sidecar.read_text())
    module, _, name = meta["class"].partition(":")
    if not any(module == m or module.startswith(f"{m}.") for m in MODULES):
        raise ValueError(f"{sidecar}: class {meta['class']} is not from {MODULES}")
    model = getattr(importlib.import_module(module), name)(**meta["init"])
    model.load_state_dict(torch.load(sidecar.with_suffix(".pt"), weights_only=True))
    return model.eval(), meta


def page_model(model: Any, input_shape: list[int]) -> Any:
    """``model`` taking one [B, 1, 28, 28] batch, whatever the shape it was trained on."""
    from torch import nn

    class PageInput(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x.reshape(x.shape[0], *input_shape))

    return PageInput().eval()


def to_onnx(model: Any) -> bytes:
    """ONNX bytes of a page model, for one image (the page classifies one drawing at a time)."""
    import torch

    # dynamo=False: the TorchScript-based exporter (torch >= 2.1; no onnxscript needed).
    options = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
        torch.onnx.export(model, (torch.zeros(1, 1, 28, 28),), buffer, opset_version=OPSET,
                          input_names=["image"], output_names=["logits"], **options)
    return buffer.getvalue()


def compare(onnx_bytes: bytes, model: Any, x: Any) -> tuple[dict[str, Any], np.ndarray]:
    """onnxruntime (CPU) against PyTorch on the images ``x`` [N, 1, 28, 28]: the check's
    numbers, and PyTorch's logits."""
    import onnx
    import onnxruntime
    import torch

    onnx.checker.check_model(onnx.load_from_string(onnx_bytes))
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        reference = model(x).double().numpy()
    images = x.numpy()
    ours = np.concatenate([session.run(None, {"image": images[i:i + 1]})[0] for i in range(len(images))])
    return {"images": len(images), "max_abs_logit_diff": float(np.abs(ours - reference).max()),
            "same_predictions": bool((ours.argmax(1) == reference.argmax(1)).all())}, reference


def choose_examples(labels: np.ndarray, probs: list[np.ndarray],
                    count: int = EXAMPLES) -> list[tuple[int, bool]]:
    """The page's test images as (index, hard): the first image of each of ``count - 1``
    digits, then the image most models get wrong (ties: the least summed true-class
    probability), marked hard."""
    chosen: list[int] = []
    for i, label in enumerate(labels):
        if len(chosen) < count - 1 and all(labels[j] != label for j in chosen):
            chosen.append(i)
    picks = [(i, False) for i in chosen]
    rest = [i for i in range(len(labels)) if i not in chosen]
    if probs and rest:
        wrong = sum((p.argmax(1) != labels).astype(int) for p in probs)
        truth = sum(p[np.arange(len(labels)), labels] for p in probs)
        picks.append((min(rest, key=lambda i: (-wrong[i], truth[i])), True))
    return picks


def _inputs_key(build: Path, sidecars: list[Path]) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sidecars:
        for part in (path, path.with_suffix(".pt"), BuildFolder(build).metrics(path.parent.name)):
            content = part.read_bytes() if part.is_file() else b""
            digest.update(str(part.relative_to(build)).encode() + b"\0" + content)
    for name in ("torch", "onnx", "onnxruntime", "numpy"):
        digest.update(f"{name}={metadata.version(name)}".encode())
    return digest.hexdigest()


def _saved(build: Path) -> list[Path]:
    """Sidecars of the saved models, in the book's order (chapter, then metrics.yml's order)."""
    order = {(chapter, key): i for i, (chapter, key) in enumerate(
        (c, k) for c, keys in declared_metrics().items() for k in (keys or {}))}
    found = sorted(BuildFolder(build).models().glob("*/*.json"))
    return sorted(found, key=lambda p: (p.parent.name, order.get((p.parent.name, p.stem), len(order)),
                                        p.stem))


def export_models(build: Path, images: Any = None, labels: Any = None) -> dict[str, Any]:
    """Export and check every saved model of ``build``; write and return the manifest.

    ``images`` (uint8 [N, 28, 28]) and ``labels`` default to the first 256 MNIST test images.
    """
    import torch

    from mnist_utils.data import scale_images

    sidecars = _saved(build)
    path = BuildFolder(build).manifest
    key = _inputs_key(build, sidecars)
    if path.is_file() and json.loads(path.read_text()).get("key") == key and images is None:
        print("[export] cached (no saved model changed)", flush=True)
        return json.loads(path.read_text())
    if images is None and sidecars:
        from mnist_utils.data import load_mnist

        mnist = load_mnist(scaling="none")
        images, labels = mnist.x_test[:CHECK_IMAGES], mnist.y_test[:CHECK_IMAGES]
    labels = np.asarray(labels if labels is not None else [], dtype=np.int64)
    models, omitted, probs, failures, used = [], [], [], [], 0
    for sidecar in sidecars:
        model, meta = load_model(sidecar)
        wrapped = page_model(model, meta["input_shape"])
        onnx_bytes = to_onnx(wrapped)
        x = scale_images(torch.as_tensor(images), meta["scaling"]).unsqueeze(1)
        check, logits = compare(onnx_bytes, wrapped, x)
        name = f"{meta['chapter']}/{meta['key']}"
        print(f"[export] {name}: {len(onnx_bytes) / 1e6:.2f} MB, max |logit diff| "
              f"{check['max_abs_logit_diff']:.1e} on {check['images']} images, same predictions: "
              f"{check['same_predictions']}", flush=True)
        if check["max_abs_logit_diff"] > TOLERANCE or not check["same_predictions"]:
            failures.append(f"{name}: {check}")
        metrics = BuildFolder(build).metrics(meta["chapter"])
        accuracy = json.loads(metrics.read_text()).get(meta["key"]) if metrics.is_file() else None
        entry = {"id": name, "chapter": meta["chapter"], "key": meta["key"], "name": meta["name"],
                 "note": meta.get("note", ""), "scaling": meta["scaling"], "file": f"{name}.onnx",
                 "bytes": len(onnx_bytes), "accuracy": accuracy, "check": check}
        if used + len(onnx_bytes) > MODEL_BUDGET:
            omitted.append({**entry, "reason": f"its ONNX file ({len(onnx_bytes) / 1e6:.0f} MB) would take "
                                                "the page past its size budget"})
            continue
        used += len(onnx_bytes)
        (sidecar.with_suffix(".onnx")).write_bytes(onnx_bytes)
        models.append(entry)
        probs.append(softmax(logits, axis=-1))
    if failures:
        path.unlink(missing_ok=True)  # the page never serves models that failed their check
        raise SystemExit("[export] ONNX and PyTorch disagree beyond the tolerance "
                         f"({TOLERANCE:g}, identical predictions):\n  " + "\n  ".join(failures))
    manifest = _manifest(key, models, omitted, images, labels, probs)
    write_json_atomic(path, manifest)
    return manifest


def _manifest(key: str, models: list[dict[str, Any]], omitted: list[dict[str, Any]], images: Any,
              labels: np.ndarray, probs: list[np.ndarray]) -> dict[str, Any]:
    """The page's manifest: the exported models, those left off, and the example digits."""
    from mnist_utils.data import PIXEL_MEAN, PIXEL_STD

    pixels = np.asarray(images).reshape(len(labels), -1) if len(labels) else np.zeros((0, 784))
    examples = [{"index": int(i), "label": int(labels[i]), "hard": hard,
                 "pixels": pixels[i].astype(int).tolist(),
                 "probabilities": {m["id"]: p[i].tolist() for m, p in zip(models, probs)}}
                for i, hard in choose_examples(labels, probs)]
    return {"key": key, "opset": OPSET, "tolerance": TOLERANCE,
            "scalings": {"unit": {"mean": 0.0, "std": 1.0},
                         "standard": {"mean": PIXEL_MEAN, "std": PIXEL_STD}},
            "models": models, "omitted": omitted, "examples": examples,
            "versions": {n: metadata.version(n) for n in ("torch", "onnx", "onnxruntime")}}


def export_step(build: Path) -> None:
    """The runner's step: export, or (outside CI only) say why not when onnx is missing."""
    missing = missing_modules()
    if missing:
        message = (f"[export] {', '.join(missing)} not installed (pip install -r requirements.txt): the "
                   "models are not exported, and the \"Try the models\" page will say so")
        if os.environ.get("CI"):
            raise SystemExit(message + "; CI must export them")
        print(message, flush=True)
        BuildFolder(build).manifest.unlink(missing_ok=True)  # never serve stale models
        return
    export_models(build)


def stage_page(root: Path, build: Path, stage: Path) -> None:
    """The page's files into ``<stage>/_vendor/try``: its script and style (``book/try/``), the
    runtime (``tools/vendor.py``), and the manifest with the exported models, if any."""
    from tools.vendor import STATIC_DIR, vendor_onnxruntime

    target = stage / STATIC_DIR / PAGE_DIR
    if target.exists():
        shutil.rmtree(target)
    if not (root / "book" / "try").is_dir():  # a book without the page (the runner's tests)
        return
    shutil.copytree(root / "book" / "try", target)
    vendor_onnxruntime(target / "ort")
    manifest = BuildFolder(build).manifest
    if manifest.is_file():
        (target / "models").mkdir()
        shutil.copy2(manifest, target / "models" / "manifest.json")
        for model in json.loads(manifest.read_text())["models"]:
            dst = target / "models" / model["file"]
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(BuildFolder(build).models() / model["file"], dst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, default=BuildFolder.of_repository(REPO_ROOT).root)
    export_step(parser.parse_args(argv).build_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
