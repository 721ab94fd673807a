"""MathJax served from the site: installed once with npm, only the needed parts staged.

npm is replaced by a small script here (no network); the real install runs in every
HTML build, and the site tests check the maths renders from the site's own files.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from tools import vendor

REPO = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((REPO / "_config.yml").read_text())

FAKE_NPM = """#!/bin/sh
# records its call, then lays out a MathJax package under --prefix like npm would
echo "$@" >> "{log}"
[ -n "{fail}" ] && {{ echo "npm error 404 Not Found - GET https://registry.npmjs.org/mathjax" >&2; exit 1; }}
while [ "$1" != "--prefix" ]; do shift; done
pkg="$2/node_modules/mathjax"
mkdir -p "$pkg/es5/input/tex/extensions" "$pkg/es5/output/chtml/fonts/woff-v2" "$pkg/es5/sre"
echo '{{"name": "mathjax", "version": "{version}"}}' > "$pkg/package.json"
for f in LICENSE es5/tex-chtml.js es5/tex-svg.js es5/input/tex/extensions/ams.js \
         es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff es5/sre/speech.js; do
  echo x > "$pkg/$f"
done
"""


def _fake_npm(tmp_path: Path, fail: bool = False) -> tuple[str, Path]:
    log = tmp_path / "npm.log"
    script = tmp_path / "npm"
    script.write_text(FAKE_NPM.format(log=log, fail="1" if fail else "", version=vendor.MATHJAX_VERSION))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), log


def test_config_loads_mathjax_from_the_site() -> None:
    config = CONFIG["sphinx"]["config"]
    assert "://" not in config["mathjax_path"], "MathJax must not come from a CDN"
    assert config["mathjax_path"] == f"mathjax/{vendor.MATHJAX_ENTRY}"
    assert vendor.STATIC_DIR in config["html_static_path"]


def test_installs_once_and_stages_only_the_needed_parts(tmp_path: Path) -> None:
    npm, log = _fake_npm(tmp_path)
    cache, stage = tmp_path / "vendor", tmp_path / "stage"
    for _ in range(2):
        vendor.vendor_mathjax(stage, cache=cache, npm=npm)
    calls = log.read_text().splitlines()
    assert len(calls) == 1, "npm runs only when MathJax is missing"
    assert f"mathjax@{vendor.MATHJAX_VERSION}" in calls[0] and "--prefix" in calls[0]
    mathjax = stage / vendor.STATIC_DIR / "mathjax"
    staged = sorted(p.relative_to(mathjax).as_posix() for p in mathjax.rglob("*") if p.is_file())
    assert staged == [
        "LICENSE",
        "es5/input/tex/extensions/ams.js",
        "es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
        "es5/tex-chtml.js",
    ]
    assert [p.name for p in cache.iterdir()] == [f"mathjax-{vendor.MATHJAX_VERSION}"]


def test_a_failed_install_names_npm_and_leaves_nothing(tmp_path: Path) -> None:
    npm, _ = _fake_npm(tmp_path, fail=True)
    cache = tmp_path / "vendor"
    with pytest.raises(SystemExit, match=r"npm install mathjax@.*failed(.|\n)*404"):
        vendor.vendor_mathjax(tmp_path / "stage", cache=cache, npm=npm)
    assert list(cache.iterdir()) == []


def test_missing_npm_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vendor.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="npm is needed to install MathJax"):
        vendor.vendor_mathjax(tmp_path / "stage", cache=tmp_path / "vendor")
