"""Load MNIST straight into tensors, from an offline copy or through torchvision.

Why not ``torchvision.datasets.MNIST`` with a ``ToTensor`` transform? Indexing that
dataset converts every image through PIL, which takes seconds per pass over the data.
The raw IDX files are a tiny header followed by the pixels, so we read them with NumPy
in one call and hand the chapters ready-made tensors.

Two sources, chosen by the environment:

* ``MNIST_DATA_DIR`` names a folder holding the four ``*-ubyte.gz`` files (machines
  that cannot reach the MNIST mirrors, CI). They are decompressed into the torchvision
  layout ``<cache>/MNIST/raw/`` and every decompressed file is checked against its
  known SHA-256.
* Otherwise torchvision downloads the files into the same layout, as on a student's
  machine or in Colab.

Every write goes to a temporary file that is renamed into place only once complete
and verified, so an interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

DATA_DIR_ENV = "MNIST_DATA_DIR"
CACHE_DIR_ENV = "MNIST_CACHE_DIR"

# SHA-256 of the decompressed IDX files (identical to what torchvision leaves in raw/).
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Mean and standard deviation of the training pixels scaled to [0, 1].
PIXEL_MEAN = 0.1307
PIXEL_STD = 0.3081

Scaling = Literal["none", "unit", "standard"]
SCALINGS = ("none", "unit", "standard")


class MNISTDataError(RuntimeError):
    """The MNIST files are missing, incomplete or corrupted; the message says what to do."""


@dataclass(frozen=True)
class MNIST:
    """The four MNIST tensors. Images are [N, 28, 28]; labels are int64 [N]."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def default_cache_dir() -> Path:
    """Where decompressed files live: ``$MNIST_CACHE_DIR`` or ``~/.cache/mnist-course``."""
    env = os.environ.get(CACHE_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mnist-course"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_decompress(source: Path, target: Path) -> None:
    """Decompress ``source`` to ``target`` via a temporary file; verify before renaming."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, gzip.open(source, "rb") as src:
            shutil.copyfileobj(src, out, length=1 << 20)
        actual = sha256_of(tmp)
        if actual != SHA256[target.name]:
            raise MNISTDataError(
                f"Checksum mismatch for {source}: decompressed SHA-256 is {actual}, "
                f"expected {SHA256[target.name]}. The file is corrupted; replace it with "
                f"a fresh copy of {source.name}."
            )
        os.replace(tmp, target)
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise MNISTDataError(
            f"Could not decompress {source}: {err}. The file is truncated or corrupted; "
            f"replace it with a fresh copy of {source.name}."
        ) from err
    finally:
        tmp.unlink(missing_ok=True)


def _is_valid(path: Path) -> bool:
    return path.is_file() and sha256_of(path) == SHA256[path.name]


def _prepare_from_offline_copy(source_dir: Path, raw_dir: Path) -> None:
    if not source_dir.is_dir():
        raise MNISTDataError(
            f"{DATA_DIR_ENV} points at {source_dir}, which is not a folder. Set {DATA_DIR_ENV} "
            "to a folder holding the four MNIST *-ubyte.gz files, or unset it to download "
            "MNIST through torchvision."
        )
    missing = [f"{name}.gz" for name in SHA256 if not (source_dir / f"{name}.gz").is_file()]
    if missing:
        raise MNISTDataError(
            f"{DATA_DIR_ENV}={source_dir} lacks {', '.join(missing)}. Put the four MNIST "
            f"*-ubyte.gz files there, or unset {DATA_DIR_ENV} to download through torchvision."
        )
    for name in SHA256:
        target = raw_dir / name
        if not _is_valid(target):
            _atomic_decompress(source_dir / f"{name}.gz", target)


def _prepare_by_download(cache_dir: Path, raw_dir: Path) -> None:
    from torchvision.datasets import MNIST as TorchvisionMNIST  # imported only when needed

    for attempt in range(2):
        if all(_is_valid(raw_dir / name) for name in SHA256):
            return
        # A file left over from an interrupted download fails its checksum: start afresh.
        for name in SHA256:
            if (raw_dir / name).exists() and not _is_valid(raw_dir / name):
                (raw_dir / name).unlink()
        try:
            for train in (True, False):
                TorchvisionMNIST(str(cache_dir), train=train, download=True)
        except Exception as err:  # network errors come in many types
            if attempt == 1:
                raise MNISTDataError(
                    f"Downloading MNIST through torchvision into {cache_dir} failed: {err}. "
                    f"Check the network, or set {DATA_DIR_ENV} to a folder holding the four "
                    "*-ubyte.gz files."
                ) from err
    bad = [name for name in SHA256 if not _is_valid(raw_dir / name)]
    if bad:
        raise MNISTDataError(f"Downloaded MNIST files fail their checksum: {', '.join(bad)}.")


def ensure_raw_files(cache_dir: Path | None = None) -> Path:
    """Make the four verified raw IDX files exist; return the ``raw`` folder holding them."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    raw_dir = cache_dir / "MNIST" / "raw"
    source = os.environ.get(DATA_DIR_ENV)
    if source:
        _prepare_from_offline_copy(Path(source).expanduser(), raw_dir)
    else:
        _prepare_by_download(cache_dir, raw_dir)
    return raw_dir


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file: magic (2 zero bytes, dtype code, ndim), big-endian dims, data."""
    raw = path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise MNISTDataError(f"{path} is not an unsigned-byte IDX file.")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise MNISTDataError(f"{path} is truncated: header says {shape}, found {data.size} bytes.")
    return data.reshape(shape)


def _check_scaling(scaling: str) -> None:
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")


def scale_images(images: torch.Tensor, scaling: Scaling) -> torch.Tensor:
    """uint8 pixels -> ``none`` (uint8 as is), ``unit`` ([0, 1]) or ``standard`` (zero mean, unit std)."""
    _check_scaling(scaling)
    if scaling == "none":
        return images
    # One float allocation, then in-place arithmetic: fresh 188 MB buffers cost more
    # (page faults) than the arithmetic itself.
    out = images.to(torch.float32).mul_(1.0 / 255.0)
    if scaling == "standard":
        out.sub_(PIXEL_MEAN).div_(PIXEL_STD)
    return out


def load_mnist(
    scaling: Scaling = "unit", *, flatten: bool = False, cache_dir: Path | None = None
) -> MNIST:
    """Load all 70,000 images as tensors: [N, 28, 28] (or [N, 784] with ``flatten``)."""
    _check_scaling(scaling)  # before any file work
    raw_dir = ensure_raw_files(cache_dir)
    tensors = []
    for split in ("train", "test"):
        images_file, labels_file = FILES[split]
        images = torch.from_numpy(read_idx(raw_dir / images_file).copy())
        labels = torch.from_numpy(read_idx(raw_dir / labels_file).astype(np.int64))
        if flatten:
            images = images.reshape(len(images), -1)
        tensors += [scale_images(images, scaling), labels]
    return MNIST(*tensors)
