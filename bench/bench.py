"""Time the book's training against the device's floor, and the seeds' patterns against ours.

    .venv/bin/python bench/bench.py [--repeats 3] [--skip-book] [--skip-comparisons]
    .venv/bin/python bench/bench.py --quick      # a few hundred images: seconds, for the tests

Why: "is training fast?" has no answer without a yardstick. The floor table gives two.

* The floor. For each model of the book, one training epoch over 60,000 images, through
  the book's own path (``training.train_one_epoch`` on tensors already on the device, the
  chapter's batch size and optimizer, convolutional models channels-last as ``fit`` does).
  Its matmul and convolution FLOPs are counted with ``torch.utils.flop_counter`` on one
  training step (forward and backward), times the steps of an epoch; the device's own
  float32 rate is measured on large square matmuls with the same threads. FLOPs / rate
  is the time the epoch could not beat if every counted FLOP ran at that rate: the epoch
  reports how many times above that floor it runs. (The optimizer's and the elementwise
  ops' FLOPs are not counted, so the floor is a lower bound.) On a CPU, VGG-11 is timed on
  the first 6,000 images (the chapter's training set) and scaled x10: same batches, same
  shapes, a minute and a half less per `make bench`.
* The seeds' pattern, in the same run: the same model, optimizer and batch size fed by a
  ``DataLoader`` over torchvision's MNIST, converting each image through PIL
  (``ToTensor``, ``Normalize``) on every epoch, in a plain loop on a contiguous model.

Then the older side-by-side comparisons (loading, the seed's own ViT, threads, SIFT, the
smoke book). Each comparison runs both variants alternately, ``--repeats`` times, and
reports the fastest run of each and their ratio (seed / ours). The fastest, not the
median: on a shared machine other work only ever adds time, and a burst of it can spoil
two runs in three (it did, in the first full run). Ratios measured together are steadier
than absolute seconds. Prints Markdown tables (paste them into bench/README.md) and
writes ``_build/bench.json`` (``--out``), every run's seconds and the medians included.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Subset

from mnist_utils.bovw import extract_descriptors
from mnist_utils.build_folder import BuildFolder, write_json_atomic
from mnist_utils.data import ensure_raw_files, load_mnist
from mnist_utils.models import MLP, VGG11, LeNet, ViT
from mnist_utils.runtime import available_cores, configure_threads, pick_device, seed_everything
from mnist_utils.sampling import make_generator
from mnist_utils.training import TrainConfig, make_optimizer, make_scheduler, train_one_epoch
from mnist_utils.yardstick import SIZES

# isort: split
# siblings in bench/ (this file runs as a script, so its folder is on the path)
from flops import epoch_flops, matmul_gflops
from seed_pattern import seed_epoch, seed_load, seed_loader, torchvision_dataset
from timing import compare, seconds

REPO = Path(__file__).resolve().parent.parent
BOOK_THREADS = 2  # the chapters' `threads` parameter (MNIST_TORCH_THREADS overrides it)
VGG_WIDTH = {"cpu": 0.0625, "cuda": 1.0}  # 06_mlp_depth: vgg_width_cpu, vgg_width_gpu
VGG_TIMED_IMAGES = {"cpu": 6000}  # on a CPU VGG-11 is timed on the chapter's 6,000 images, x10
FLOOR_COLUMNS = ("model", "book's training", "epoch (s)", "images/s", "GFLOP counted", "GFLOP/s",
                 "floor (s)", "x floor", "seed pattern (s)", "seed / ours")
LENET_TARGET_S, LENET_TARGET_RATIO = 1.5, 4.0  # the speed issue's target for one LeNet epoch


@dataclass(frozen=True)
class Workload:
    """A model of the book with the chapter's training settings."""

    name: str
    build: Callable[[float], nn.Module]  # background value (VGG pads with it) -> model
    config: TrainConfig
    images: str  # as the chapter feeds them: "flat" [N, 784], "28x28" [N, 28, 28] or "1x28x28"
    describe: str
    timed_images: int | None = None  # time on this many images and scale up (None: all of them)


def book_workloads(device: torch.device) -> list[Workload]:
    """The book's models and their chapters' settings (parameters cells of 05-08)."""
    width = VGG_WIDTH.get(device.type, VGG_WIDTH["cpu"])
    sgd = TrainConfig(batch_size=64, lr=0.01, optimizer="sgd", momentum=0.9)  # 06_mlp_depth
    return [
        # 05_pytorch's nn.Linear (not mnist_utils.linear's hand-coded SGD); lr does not change the time.
        Workload("linear", lambda bg: nn.Linear(28 * 28, 10),
                 TrainConfig(batch_size=100, lr=0.1, optimizer="sgd"), "flat", "SGD, B=100"),
        Workload("MLP-3", lambda bg: MLP(3), sgd, "28x28", "SGD momentum 0.9, B=64"),
        Workload("LeNet", lambda bg: LeNet(),  # 07_lenet's best setting (the reference run)
                 TrainConfig(batch_size=128, lr=0.002, optimizer="adam", schedule="cosine"), "1x28x28",
                 "Adam, B=128"),
        Workload("ViT", lambda bg: ViT(patch=7, dim=64, depth=2, heads=4, mlp_dim=128),  # 08_vit
                 TrainConfig(batch_size=128, lr=0.008, optimizer="adamw", weight_decay=0.05,
                             schedule="cosine", warmup_epochs=1.0), "1x28x28",
                 "AdamW, B=128, depth 2, dim 64"),
        Workload(f"VGG-11 (width {width:g})", lambda bg: VGG11(width, background=bg), sgd, "1x28x28",
                 "SGD momentum 0.9, B=64", VGG_TIMED_IMAGES.get(device.type)),
    ]


def prepare(model: nn.Module, device: torch.device) -> nn.Module:
    """On the device and, for convolutional models, channels-last: what ``fit`` trains."""
    model = model.to(device)
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        model.to(memory_format=torch.channels_last)
    return model


def book_epoch(work: Workload, background: float, data: tuple[torch.Tensor, torch.Tensor],
               device: torch.device) -> None:
    """One epoch as the chapters train it: ``train_one_epoch`` on tensors on the device."""
    seed_everything(0)
    model = prepare(work.build(background), device)
    optimizer = make_optimizer(model, work.config)
    steps = -(-len(data[0]) // work.config.batch_size)
    scheduler = make_scheduler(optimizer, work.config, steps)
    train_one_epoch(model, optimizer, data, work.config, generator=make_generator(0), scheduler=scheduler)


def seed_pattern_epoch(work: Workload, background: float, dataset, device: torch.device) -> None:
    """The same model, optimizer and batch size, fed the seeds' way (contiguous model)."""
    seed_everything(0)
    model = work.build(background).to(device)
    optimizer = make_optimizer(model, work.config)
    seed_epoch(model, optimizer, seed_loader(dataset, work.config.batch_size), device,
               flat=work.images == "flat")


def floor_row(work: Workload, mnist, train_set, device: torch.device, repeats: int) -> dict:
    """One line of the floor table: ours and the seeds' pattern alternately, and the FLOPs."""
    x = {"flat": mnist.x_train.flatten(1), "28x28": mnist.x_train,
         "1x28x28": mnist.x_train.unsqueeze(1)}[work.images]
    data = (x.to(device), mnist.y_train.to(device))
    background = float(mnist.x_train.min())
    flops = epoch_flops(prepare(work.build(background), device), *data, work.config.batch_size)
    timed = min(len(x), work.timed_images or len(x))  # both variants see the same first images
    timed_data, dataset = (data[0][:timed], data[1][:timed]), Subset(train_set, range(timed))
    row = compare(work.name, lambda: seed_pattern_epoch(work, background, dataset, device),
                  lambda: book_epoch(work, background, timed_data, device), repeats, device=device,
                  scale=len(x) / timed)  # an epoch of all the images, from the timed part
    row.update(timed_images=timed)
    epoch_s = row["ours_s"]
    row.update(model=work.name, training=work.describe, images=len(x), epoch_s=epoch_s,
               images_per_s=len(x) / epoch_s, flops=flops, gflops_per_s=flops / epoch_s / 1e9)
    return row


def floor_table(mnist, device: torch.device, repeats: int, workloads: list[Workload]) -> list[dict]:
    train_set = torchvision_dataset(True)
    return [floor_row(w, mnist, train_set, device, repeats) for w in workloads]


def set_floor(rows: list[dict], rate: float) -> None:
    """The floor of each epoch at ``rate`` GFLOP/s, and how many times above it the epoch runs."""
    for row in rows:
        row.update(floor_s=row["flops"] / (rate * 1e9), times_floor=rate / row["gflops_per_s"])


def print_floor_table(rows: list[dict]) -> None:
    print("| " + " | ".join(FLOOR_COLUMNS) + " |\n|" + " --- |" * len(FLOOR_COLUMNS))
    for r in rows:
        scaled = f" (timed on {r['timed_images']:,}, x{r['images'] / r['timed_images']:g})"
        cells = (r["model"], r["training"] + (scaled if r["timed_images"] < r["images"] else ""),
                 f"{r['epoch_s']:.2f}", f"{r['images_per_s']:,.0f}",
                 f"{r['flops'] / 1e9:.3g}", f"{r['gflops_per_s']:.3g}", f"{r['floor_s']:.3g}",
                 f"{r['times_floor']:,.0f}x" if r["times_floor"] >= 100 else f"{r['times_floor']:.1f}x",
                 f"{r['seed_s']:.2f}", f"{r['ratio']:.1f}x")
        print("| " + " | ".join(cells) + " |")


def lenet_target(rows: list[dict]) -> dict | None:
    """The speed issue's target: LeNet epoch <= 1.5 s and >= 4x the seeds' pattern."""
    lenet = next((r for r in rows if r["model"] == "LeNet"), None)
    if lenet is None:
        return None
    return {"epoch_s": lenet["epoch_s"], "target_s": LENET_TARGET_S,
            "met_s": lenet["epoch_s"] <= LENET_TARGET_S, "ratio": lenet["ratio"],
            "target_ratio": LENET_TARGET_RATIO, "met_ratio": lenet["ratio"] >= LENET_TARGET_RATIO}


def comparisons(mnist, device: torch.device, repeats: int, skip_book: bool) -> list[dict]:
    """The side-by-side comparisons beyond one epoch of each model."""
    rows = [compare("load MNIST into tensors (train + test)", seed_load, lambda: load_mnist("standard"),
                    repeats, "seed: torchvision dataset + `ToTensor`/`Normalize` per image, then "
                    "`torch.stack`; ours: `load_mnist(\"standard\")`")]
    x, y = mnist.x_train.unsqueeze(1).to(device), mnist.y_train.to(device)
    vit = book_workloads(device)[3]

    # The seed's own ViT (depth 6, width 128, B=64) against the book's: a quarter epoch each, x4.
    def seed_vit() -> None:
        model = ViT(dim=128, depth=6, heads=8, mlp_dim=256).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        seed_epoch(model, optimizer, seed_loader(torchvision_dataset(True), 64), device, limit=235)

    quarter = (x[: len(x) // 4], y[: len(y) // 4])
    rows.append(compare("one ViT epoch (x4 of a quarter epoch)", seed_vit,
                        lambda: book_epoch(vit, 0.0, quarter, device), 1,
                        "seed: depth 6, width 128, DataLoader, B=64; ours: depth 2, width 64, tensors, "
                        "B=128", device, scale=4))

    if device.type == "cpu":
        for work in book_workloads(device)[2:4]:  # LeNet, ViT
            def epoch_with(threads: int, work=work) -> None:
                torch.set_num_threads(threads)
                book_epoch(work, 0.0, quarter, device)
            rows.append(compare(f"{work.name}, 1 vs 2 CPU threads (quarter epoch)",
                                lambda: epoch_with(1), lambda: epoch_with(2), repeats,
                                "'seed' column = 1 thread, 'ours' = 2 threads"))
        configure_threads(BOOK_THREADS)

    images = load_mnist("none").x_train[:2000].numpy()  # SIFT works on the raw bytes
    rows.append(compare("SIFT descriptors, 2,000 images",
                        lambda: extract_descriptors(images, step=6, size=5.0, n_jobs=1),
                        lambda: extract_descriptors(images, step=6, size=5.0, n_jobs=-1),
                        repeats, "'seed' column = serial, 'ours' = parallel over cores"))

    if not skip_book:
        build = BuildFolder.of_repository(REPO).bench_book
        cmd = [sys.executable, "-m", "tools.run", "--profile", "smoke", "--build-dir", str(build)]
        book = seconds(lambda: subprocess.run(cmd, check=True, capture_output=True, cwd=REPO))
        rows.append({"what": "whole book, smoke profile (execute + HTML)", "seed_s": None,
                     "ours_s": book, "ratio": None, "note": ""})
        print(f"whole book, smoke profile: {book:.1f} s", flush=True)
    return rows


def print_comparisons(rows: list[dict]) -> None:
    print("| what | seed pattern (s) | ours (s) | ratio | note |\n| --- | --- | --- | --- | --- |")
    for r in rows:
        seed = f"{r['seed_s']:.2f}" if r["seed_s"] is not None else "-"
        ratio = f"{r['ratio']:.1f}x" if r["ratio"] is not None else "-"
        print(f"| {r['what']} | {seed} | {r['ours_s']:.2f} | {ratio} | {r['note']} |")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.machine()} CPU, {available_cores()} cores, {torch.get_num_threads()} threads"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant (fastest reported)")
    parser.add_argument("--images", type=int, default=60000, help="training images per epoch")
    parser.add_argument("--quick", action="store_true",
                        help="a few hundred images, one repeat, the floor table only (for tests)")
    parser.add_argument("--skip-comparisons", action="store_true", help="the floor table only")
    parser.add_argument("--skip-book", action="store_true", help="not the smoke-book build")
    parser.add_argument("--out", type=Path, default=BuildFolder.of_repository(REPO).bench_report)
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.repeats, args.skip_comparisons = min(args.images, 256), 1, True
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load_before = os.getloadavg()  # the machine's load (1, 5, 15 min): others' work skews timings
    ensure_raw_files()
    device = pick_device()
    configure_threads(BOOK_THREADS)
    full = load_mnist("standard")
    n = args.images
    mnist = dataclasses.replace(full, x_train=full.x_train[:n], y_train=full.y_train[:n])
    size = 512 if args.quick else SIZES.get(device.type, SIZES["cpu"])
    rates = [matmul_gflops(device, size)]  # measured again after the table: the better one counts
    print(f"float32 matmul rate: {rates[0]:.1f} GFLOP/s on {describe_device(device)}", flush=True)

    floor = floor_table(mnist, device, args.repeats, book_workloads(device))
    rates.append(matmul_gflops(device, size))
    rate = max(rates)
    set_floor(floor, rate)
    target = lenet_target(floor)
    rows = [] if args.skip_comparisons else comparisons(mnist, device, args.repeats, args.skip_book)

    load = {"before": load_before, "after": os.getloadavg()}
    machine = f"{describe_device(device)}, torch {torch.__version__}"
    print(f"\n{time.strftime('%Y-%m-%d')}, {machine}, {len(mnist.x_train):,} images per epoch, "
          f"fastest of {args.repeats}, matmul rate {rate:.1f} GFLOP/s ({size}x{size}), load average "
          f"{load_before[0]:.2f} before, {load['after'][0]:.2f} after (1 min)\n")
    print_floor_table(floor)
    if target is not None:
        print(f"\nLeNet target: epoch {target['epoch_s']:.2f} s (target <= {LENET_TARGET_S} s: "
              f"{'met' if target['met_s'] else 'not met'}), {target['ratio']:.1f}x the seeds' pattern "
              f"(target >= {LENET_TARGET_RATIO:g}x: {'met' if target['met_ratio'] else 'not met'})")
    if rows:
        print()
        print_comparisons(rows)
    write_json_atomic(args.out, {
        "date": time.strftime("%Y-%m-%d"), "machine": machine, "device": device.type,
        "threads": torch.get_num_threads(), "images": len(mnist.x_train), "repeats": args.repeats,
        "matmul_size": size, "matmul_gflops": rate, "matmul_gflops_before_after": rates,
        "columns": list(FLOOR_COLUMNS), "floor": floor, "lenet_target": target,
        "rows": rows, "load_average": load,
    })
    if not all(math.isfinite(r["gflops_per_s"]) for r in floor):
        sys.exit("non-finite GFLOP/s in the floor table")


if __name__ == "__main__":
    main()
