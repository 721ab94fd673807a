"""Shared fixtures: the offline MNIST copy, a throw-away cache, tiny notebooks for runner tests."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from mnist_utils.data import CACHE_DIR_ENV, DATA_DIR_ENV
from mnist_utils.yardstick import SIZE_ENV

REPO = Path(__file__).resolve().parent.parent


def _downloaded_copy() -> Path:
    """MNIST's four *-ubyte.gz files, downloaded through torchvision the way ``make book`` gets
    them (into the cache, ``MNIST_CACHE_DIR`` or ``~/.cache/mnist-course``, checksums verified)."""
    import gzip

    from mnist_utils.data import SHA256, MNISTDataError, ensure_raw_files

    try:
        raw = ensure_raw_files()
    except MNISTDataError as error:
        pytest.fail(f"{error} (the tests need MNIST: without {DATA_DIR_ENV} they download it)", pytrace=False)
    for name in SHA256:  # torchvision keeps the archives; recreate any it did not
        packed = raw / f"{name}.gz"
        if not packed.is_file():
            tmp = packed.with_suffix(".gz.part")
            tmp.write_bytes(gzip.compress((raw / name).read_bytes(), mtime=0))
            tmp.replace(packed)
    return raw


@pytest.fixture(autouse=True)
def small_yardstick(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner measures the machine's matmul rate twice a build (a second or two each, on a
    CPU); the tests' many tiny builds measure it on small matrices, in milliseconds."""
    if not os.environ.get(SIZE_ENV):
        monkeypatch.setenv(SIZE_ENV, "256")


@pytest.fixture(scope="session")
def offline_copy() -> Path:
    """The folder of the four *-ubyte.gz files: ``MNIST_DATA_DIR``, or (not in CI, which must
    provide it) MNIST downloaded once into the cache, as ``make book`` does. Never a skip."""
    folder = os.environ.get(DATA_DIR_ENV)
    if not folder:
        if os.environ.get("CI"):
            pytest.fail(f"{DATA_DIR_ENV} must point at the offline MNIST copy in CI")
        return _downloaded_copy()
    return Path(folder)


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(cache))
    return cache


def _write_notebook(path: Path, *sources: str) -> None:
    """A notebook whose first cell (tagged ``parameters``) and the rest are ``sources``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(sources[0])
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(s) for s in sources[1:])]
    nbformat.write(nb, path)


@pytest.fixture
def write_notebook():
    return _write_notebook
