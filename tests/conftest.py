"""Shared fixtures: the offline MNIST copy, and a throw-away cache for each test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mnist_utils.data import CACHE_DIR_ENV, DATA_DIR_ENV

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def offline_copy() -> Path:
    """The folder of the four *-ubyte.gz files; CI must provide it, elsewhere we skip."""
    folder = os.environ.get(DATA_DIR_ENV)
    if not folder:
        if os.environ.get("CI"):
            pytest.fail(f"{DATA_DIR_ENV} must point at the offline MNIST copy in CI")
        pytest.skip(f"{DATA_DIR_ENV} is not set")
    return Path(folder)


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(cache))
    return cache
