"""MathJax served from the site itself: the book renders its maths without a CDN.

npm installs a pinned MathJax 3 once under ``_build/vendor`` (ignored by git, never
committed); :func:`vendor_mathjax` copies the few parts the pages load into the staged
book's ``_vendor/mathjax``. ``_config.yml`` lists ``_vendor`` in ``html_static_path``, so
Sphinx publishes them as ``_static/mathjax/``, and points ``mathjax_path`` at the entry
script there (a relative ``mathjax_path`` is relative to ``_static``).

Why not the staged book's ``_static``: Jupyter Book 1.x adds every ``.js`` file under a
book's ``_static`` folder to every page as a script, so each MathJax component would load
on every page.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MATHJAX_VERSION = "3.2.2"
# TeX in, CommonHTML out: the same configuration as Sphinx's default CDN script
# (es5/tex-mml-chtml.js) without the MathML input the book never uses.
MATHJAX_ENTRY = "es5/tex-chtml.js"
# What the pages load: the entry script, the TeX extensions it loads on demand (autoload,
# \require) and its web fonts. Not copied: the SVG output, the other combined entry scripts,
# and the accessibility explorer (a11y/, sre/: about 4 MB), which loads only when a reader
# turns it on in MathJax's menu (the default assistive MathML is inside the entry script).
MATHJAX_PARTS = (MATHJAX_ENTRY, "es5/input/tex/extensions", "es5/output/chtml/fonts/woff-v2", "LICENSE")
# the staged folder _config.yml lists in html_static_path; its contents land in _static/
STATIC_DIR = "_vendor"
VENDOR_DIR = REPO_ROOT / "_build" / "vendor"


def _installed(package: Path) -> bool:
    manifest = package / "package.json"
    if not manifest.is_file():
        return False
    version = json.loads(manifest.read_text()).get("version")
    return version == MATHJAX_VERSION and all((package / part).exists() for part in MATHJAX_PARTS)


def install_mathjax(cache: Path = VENDOR_DIR, npm: str | None = None) -> Path:
    """The pinned MathJax package folder, installed from the npm registry on first use.

    npm installs into a temporary folder that is renamed into place once complete, so an
    interrupted install is never mistaken for a finished one.
    """
    home = cache / f"mathjax-{MATHJAX_VERSION}"
    package = home / "node_modules" / "mathjax"
    if _installed(package):
        return package
    exe = npm or shutil.which("npm")
    if not exe:
        raise SystemExit(
            f"npm is needed to install MathJax {MATHJAX_VERSION} for the book's maths "
            "(install Node.js with npm, e.g. `apt-get install npm`), then build again")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=cache))
    cmd = [exe, "install", "--no-audit", "--no-fund", "--prefix", str(tmp), f"mathjax@{MATHJAX_VERSION}"]
    print("[vendor] " + " ".join(cmd), flush=True)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SystemExit(f"could not run npm ({exe}) to install MathJax: {error}") from error
    if result.returncode or not _installed(tmp / "node_modules" / "mathjax"):
        shutil.rmtree(tmp, ignore_errors=True)
        output = (result.stdout + result.stderr).strip()[-2000:]
        raise SystemExit(
            f"`npm install mathjax@{MATHJAX_VERSION}` failed (exit {result.returncode}); the book "
            f"serves MathJax itself and needs the npm registry once to install it:\n{output}")
    if _installed(package):  # another build installed it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
        return package
    if home.exists():  # an incomplete or other-version folder
        shutil.rmtree(home)
    tmp.rename(home)
    return package


def vendor_mathjax(stage: Path, cache: Path = VENDOR_DIR, npm: str | None = None) -> None:
    """Copy the pinned MathJax's needed parts into ``<stage>/_vendor/mathjax``."""
    package = install_mathjax(cache, npm)
    target = stage / STATIC_DIR / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    for part in MATHJAX_PARTS:
        src, dst = package / part, target / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
