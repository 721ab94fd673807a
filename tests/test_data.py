"""The data layer: loading from the offline copy, checksums, clear errors, atomic writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from mnist_utils.data import (
    DATA_DIR_ENV,
    SHA256,
    MNISTDataError,
    load_mnist,
    read_idx,
    scale_images,
)

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def use_copy(offline_copy: Path, fresh_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(DATA_DIR_ENV, str(offline_copy))
    return fresh_cache


def test_offline_copy_loads_uint8_with_known_counts(use_copy: Path) -> None:
    mnist = load_mnist(scaling="none")
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.x_train.dtype == torch.uint8
    assert mnist.y_train.dtype == torch.int64
    assert torch.bincount(mnist.y_train).tolist() == TRAIN_COUNTS
    assert torch.bincount(mnist.y_test).tolist() == TEST_COUNTS
    # the torchvision layout, so torchvision itself would find the files
    assert sorted(p.name for p in (use_copy / "MNIST" / "raw").iterdir()) == sorted(SHA256)


def test_float_scalings(use_copy: Path) -> None:
    unit = load_mnist(scaling="unit")
    assert unit.x_train.dtype == torch.float32
    assert unit.x_train.min() == 0.0 and unit.x_train.max() == 1.0
    flat = load_mnist(scaling="standard", flatten=True)
    assert flat.x_train.shape == (60000, 784)
    assert abs(flat.x_train.mean().item()) < 1e-3
    assert abs(flat.x_train.std().item() - 1.0) < 1e-3


def test_bad_scaling_is_rejected() -> None:
    with pytest.raises(ValueError, match="scaling"):
        scale_images(torch.zeros(2, 28, 28, dtype=torch.uint8), "percent")  # type: ignore[arg-type]


def _copy_with_flipped_byte(src: Path, dst: Path, name: str, offset: int) -> None:
    shutil.copytree(src, dst)
    target = dst / name
    target.chmod(0o644)
    data = bytearray(target.read_bytes())
    data[offset] ^= 0xFF
    target.write_bytes(bytes(data))


@pytest.mark.parametrize("offset", [-20, 1000])  # in the gzip trailer / in the compressed data
def test_corrupted_copy_names_the_file(
    offline_copy: Path, fresh_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    offset: int,
) -> None:
    bad = tmp_path / "bad"
    _copy_with_flipped_byte(offline_copy, bad, "t10k-labels-idx1-ubyte.gz", offset)
    monkeypatch.setenv(DATA_DIR_ENV, str(bad))
    with pytest.raises(MNISTDataError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist()
    raw = fresh_cache / "MNIST" / "raw"
    assert not (raw / "t10k-labels-idx1-ubyte").exists()  # nothing half-written was kept
    assert not list(raw.glob("*.part"))


def test_corrupted_cache_is_repaired(use_copy: Path) -> None:
    load_mnist(scaling="none")
    cached = use_copy / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    data = bytearray(cached.read_bytes())
    data[100] ^= 0x01
    cached.write_bytes(bytes(data))
    assert torch.bincount(load_mnist(scaling="none").y_train).tolist() == TRAIN_COUNTS


def test_missing_folder_names_the_variable(
    tmp_path: Path, fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(MNISTDataError, match=DATA_DIR_ENV):
        load_mnist()


def test_folder_without_files_lists_them(
    tmp_path: Path, fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "empty"))
    with pytest.raises(MNISTDataError, match="train-images-idx3-ubyte.gz"):
        load_mnist()


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path: Path) -> None:
    header = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big")
    (tmp_path / "ok").write_bytes(header + bytes(range(10)))
    assert read_idx(tmp_path / "ok").tolist() == list(range(10))
    (tmp_path / "short").write_bytes(header + bytes(5))
    with pytest.raises(MNISTDataError, match="truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "png").write_bytes(b"\x89PNG....")
    with pytest.raises(MNISTDataError, match="IDX"):
        read_idx(tmp_path / "png")


def test_interrupted_load_leaves_a_usable_cache(use_copy: Path, offline_copy: Path) -> None:
    """Kill a loader mid-way (as a killed chapter would be); the next load must succeed."""
    import subprocess
    import sys
    import time

    script = "from mnist_utils.data import load_mnist; load_mnist()"
    for delay in (0.3, 0.8, 1.5):
        proc = subprocess.Popen([sys.executable, "-c", script])
        time.sleep(delay)
        proc.kill()
        proc.wait()
        mnist = load_mnist(scaling="none")
        assert torch.bincount(mnist.y_test).tolist() == TEST_COUNTS
        shutil.rmtree(use_copy)
