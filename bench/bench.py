"""Time the seed assignments' patterns against the book's, side by side in one run.

    .venv/bin/python bench/bench.py [--repeats 3] [--skip-book]

Each comparison runs both variants alternately, ``--repeats`` times, and reports the
median seconds of each and their ratio (seed / ours): absolute seconds on a shared
machine are noisy, ratios measured together much less so. Prints a Markdown table
(paste it into bench/README.md) and writes ``_build/bench.json``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from mnist_utils.bovw import extract_descriptors
from mnist_utils.data import default_cache_dir, ensure_raw_files, load_mnist
from mnist_utils.models import LeNet, ViT
from mnist_utils.results import write_json_atomic
from mnist_utils.sampling import make_generator, minibatches

REPO = Path(__file__).resolve().parent.parent


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name: str, seed_fn, ours_fn, repeats: int, note: str = "") -> dict:
    seed_times, our_times = [], []
    for _ in range(repeats):
        seed_times.append(seconds(seed_fn))
        our_times.append(seconds(ours_fn))
    seed, ours = statistics.median(seed_times), statistics.median(our_times)
    row = {"what": name, "seed_s": seed, "ours_s": ours, "ratio": seed / ours, "note": note}
    print(f"{name:45s} seed {seed:8.2f} s   ours {ours:8.2f} s   ratio {seed / ours:6.1f}x", flush=True)
    return row


def torchvision_dataset(train: bool):
    """The seeds' pattern: a torchvision dataset that converts each image through PIL."""
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    return datasets.MNIST(str(default_cache_dir()), train=train, download=False, transform=tf)


def seed_load() -> None:
    train, test = torchvision_dataset(True), torchvision_dataset(False)
    torch.stack([img.view(-1) for img, _ in train])
    torch.stack([img.view(-1) for img, _ in test])


def train_epoch(model: nn.Module, batches, limit: int | None = None) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for i, (xb, yb) in enumerate(batches):
        if limit is not None and i == limit:
            break
        loss = nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-book", action="store_true")
    args = parser.parse_args()
    ensure_raw_files()
    torch.set_num_threads(2)
    mnist = load_mnist("standard")
    x = mnist.x_train.unsqueeze(1)
    rows = []

    rows.append(compare("load MNIST into tensors (train + test)", seed_load,
                        lambda: load_mnist("standard"), args.repeats))

    def seed_loader(batch_size: int):
        return DataLoader(torchvision_dataset(True), batch_size=batch_size, shuffle=True,
                          generator=make_generator(0))

    def ours_batches(batch_size: int):
        return minibatches(x, mnist.y_train, batch_size, generator=make_generator(0))

    rows.append(compare(
        "one LeNet epoch, 60,000 images, B=64",
        lambda: train_epoch(LeNet(), seed_loader(64)),
        lambda: train_epoch(LeNet(), ours_batches(64)),
        max(1, args.repeats - 1), "same model, optimizer and batch size; only the data path differs"))

    # A quarter epoch (235 batches of 64) of each, scaled by 4: the seed's ViT is slow.
    rows.append(compare(
        "one ViT epoch (x4 of 235 batches of 64)",
        lambda: train_epoch(ViT(dim=128, depth=6, heads=8, mlp_dim=256), seed_loader(64), 235),
        lambda: train_epoch(ViT(), ours_batches(128), 118),
        1, "seed: depth 6, width 128, DataLoader, B=64; ours: depth 2, width 64, tensors, B=128"))
    rows[-1].update(seed_s=4 * rows[-1]["seed_s"], ours_s=4 * rows[-1]["ours_s"])

    for model_name, make in (("LeNet", LeNet), ("ViT", ViT)):
        def epoch_with(threads: int, make=make) -> None:
            torch.set_num_threads(threads)
            train_epoch(make(), ours_batches(128), 118)
        rows.append(compare(f"{model_name}, 1 vs 2 CPU threads (quarter epoch)",
                            lambda: epoch_with(1), lambda: epoch_with(2), args.repeats,
                            "'seed' column = 1 thread, 'ours' = 2 threads"))
    torch.set_num_threads(2)

    images = load_mnist("none").x_train[:2000].numpy()  # SIFT works on the raw bytes
    rows.append(compare("SIFT descriptors, 2,000 images",
                        lambda: extract_descriptors(images, step=6, size=5.0, n_jobs=1),
                        lambda: extract_descriptors(images, step=6, size=5.0, n_jobs=-1),
                        args.repeats, "'seed' column = serial, 'ours' = parallel over cores"))

    if not args.skip_book:
        build = REPO / "_build" / "bench-smoke"
        cmd = [sys.executable, "-m", "tools.run", "--profile", "smoke", "--build-dir", str(build)]
        book = seconds(lambda: subprocess.run(cmd, check=True, capture_output=True, cwd=REPO))
        rows.append({"what": "whole book, smoke profile (execute + HTML)", "seed_s": None,
                     "ours_s": book, "ratio": None, "note": ""})
        print(f"whole book, smoke profile: {book:.1f} s", flush=True)

    machine = f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    print(f"\n{time.strftime('%Y-%m-%d')}, {machine}\n")
    print("| what | seed pattern (s) | ours (s) | ratio | note |\n| --- | --- | --- | --- | --- |")
    for r in rows:
        seed = f"{r['seed_s']:.2f}" if r["seed_s"] is not None else "-"
        ratio = f"{r['ratio']:.1f}x" if r["ratio"] is not None else "-"
        print(f"| {r['what']} | {seed} | {r['ours_s']:.2f} | {ratio} | {r['note']} |")
    write_json_atomic(REPO / "_build" / "bench.json", {"machine": machine, "rows": rows})


if __name__ == "__main__":
    main()
