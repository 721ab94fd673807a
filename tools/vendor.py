"""Scripts the site serves itself: MathJax for the maths, onnxruntime-web for "Try the models".

npm installs each pinned package once under ``_build/vendor`` (ignored by git, never
committed); the ``vendor_*`` functions copy the few parts the pages load into the staged
book's ``_vendor/``. ``_config.yml`` lists ``_vendor`` in ``html_static_path``, so Sphinx
publishes them under ``_static/``: MathJax as ``_static/mathjax/`` (``mathjax_path`` points
at its entry script; a relative ``mathjax_path`` is relative to ``_static``), the runtime
of the models' page as ``_static/try/ort/``.

Why not the staged book's ``_static``: Jupyter Book 1.x adds every ``.js`` file under a
book's ``_static`` folder to every page as a script, so each MathJax component would load
on every page.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from mnist_utils.build_folder import BuildFolder

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
# onnxruntime-web, for the models' page: the WebAssembly (CPU) backend only, as a classic
# script (global `ort`), the glue module it imports and the WebAssembly binary that glue
# runs. Not copied: the WebGPU/WebGL builds and the other binaries (JSEP, JSPI, asyncify).
ORT_VERSION = "1.30.0"
ORT_SCRIPT, ORT_GLUE, ORT_WASM = ("dist/ort.wasm.min.js", "dist/ort-wasm-simd-threaded.mjs",
                                  "dist/ort-wasm-simd-threaded.wasm")
# axe-core, for the site tests only (never published): the accessibility audit of every page
# in Chromium (tests/test_site.py injects axe.min.js and runs the WCAG 2.1 A/AA rules).
AXE_VERSION = "4.14.1"
AXE_SCRIPT = "axe.min.js"
PACKAGES = {  # npm name -> (version, the parts the site needs, its name, what the site uses it for)
    "mathjax": (MATHJAX_VERSION, MATHJAX_PARTS, "MathJax", "the book's maths"),
    "onnxruntime-web": (ORT_VERSION, (ORT_SCRIPT, ORT_GLUE, ORT_WASM), "onnxruntime-web", "the models' page"),
    "axe-core": (AXE_VERSION, (AXE_SCRIPT, "LICENSE"), "axe-core", "the site tests' accessibility audit"),
}
# the staged folder _config.yml lists in html_static_path; its contents land in _static/
STATIC_DIR = "_vendor"
VENDOR_DIR = BuildFolder.of_repository(REPO_ROOT).vendor


def _installed(package: Path, name: str) -> bool:
    manifest = package / "package.json"
    if not manifest.is_file():
        return False
    version, parts, _, _ = PACKAGES[name]
    return json.loads(manifest.read_text()).get("version") == version and \
        all((package / part).exists() for part in parts)


def install_npm(name: str, cache: Path = VENDOR_DIR, npm: str | None = None) -> Path:
    """The pinned package's folder, installed from the npm registry on first use.

    npm installs into a temporary folder that is renamed into place once complete, so an
    interrupted install is never mistaken for a finished one. No install scripts run: the
    site only copies files the package ships.
    """
    version, _, label, use = PACKAGES[name]
    home = cache / f"{name}-{version}"
    package = home / "node_modules" / name
    if _installed(package, name):
        return package
    exe = npm or shutil.which("npm")
    if not exe:
        raise SystemExit(
            f"npm is needed to install {label} {version} for {use} "
            "(install Node.js with npm, e.g. `apt-get install npm`), then build again")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=cache))
    cmd = [exe, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", str(tmp),
           f"{name}@{version}"]
    print("[vendor] " + " ".join(cmd), flush=True)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SystemExit(f"could not run npm ({exe}) to install {name}: {error}") from error
    if result.returncode or not _installed(tmp / "node_modules" / name, name):
        shutil.rmtree(tmp, ignore_errors=True)
        output = (result.stdout + result.stderr).strip()[-2000:]
        raise SystemExit(
            f"`npm install {name}@{version}` failed (exit {result.returncode}); the site serves "
            f"{label} itself and needs the npm registry once to install it:\n{output}")
    if _installed(package, name):  # another build installed it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
        return package
    if home.exists():  # an incomplete or other-version folder
        shutil.rmtree(home)
    tmp.rename(home)
    return package


def axe_script(cache: Path = VENDOR_DIR, npm: str | None = None) -> Path:
    """The pinned axe-core's ``axe.min.js`` (installed from npm on first use), for the site tests."""
    return install_npm("axe-core", cache, npm) / AXE_SCRIPT


def install_mathjax(cache: Path = VENDOR_DIR, npm: str | None = None) -> Path:
    return install_npm("mathjax", cache, npm)


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


def vendor_onnxruntime(target: Path, cache: Path = VENDOR_DIR, npm: str | None = None) -> None:
    """The runtime of the models' page into ``target``: the script, its glue module, and the
    WebAssembly binary gzipped (a quarter of its size; the page inflates it with the browser's
    own ``DecompressionStream`` and hands it to onnxruntime as ``env.wasm.wasmBinary``)."""
    package = install_npm("onnxruntime-web", cache, npm)
    packed = package.parent.parent / (Path(ORT_WASM).name + ".gz")
    if not packed.is_file():  # compressed once per install; mtime=0: the same bytes every build
        data = gzip.compress((package / ORT_WASM).read_bytes(), compresslevel=9, mtime=0)
        fd, tmp = tempfile.mkstemp(dir=packed.parent, prefix=f".{packed.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, packed)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for src in (package / ORT_SCRIPT, package / ORT_GLUE, packed):
        shutil.copy2(src, target / src.name)
