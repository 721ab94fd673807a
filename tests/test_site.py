"""The built site in a real browser, and reproducibility of the smoke build.

Run after the book is built (``.ci/run`` does: ``pytest -m site``). Chromium comes from
Debian (``/usr/bin/chromium``), driven by Playwright. The machine is offline, so requests
to other hosts (MathJax's CDN) are blocked and their console errors set aside; every
other console error fails the test.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from tools.run import chapter_notebooks

REPO = Path(__file__).resolve().parent.parent
# `make site-test` checks the full build; CI points MNIST_SITE_DIR at the smoke build.
HTML = Path(os.environ.get("MNIST_SITE_DIR", REPO / "_build" / "html"))
CHROMIUM = Path("/usr/bin/chromium")
CHAPTERS = [nb.with_suffix(".html").as_posix() for nb in chapter_notebooks(REPO)]

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    if not (HTML / "index.html").is_file():
        pytest.fail("build the book first: _build/html/index.html is missing")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    blocked: set[str] = set()

    def route(r) -> None:
        if urlparse(r.request.url).hostname in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            blocked.add(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(f"{m.text} @ {m.location.get('url')}")
            if m.type == "error" and m.location.get("url") not in blocked else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
    page.wait_for_load_state("networkidle")
    return page, errors


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_page(browser, site: str, chapter: str) -> None:
    page, errors = _open(browser, urljoin(site, chapter))
    assert not errors, f"console errors on {chapter}: {errors}"
    broken = page.evaluate(
        "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    assert not broken, f"images that did not load: {broken}"
    assert page.evaluate("document.querySelectorAll('.cell_output img').length") > 0, "no figures"
    outputs = page.evaluate(
        "Array.from(document.querySelectorAll('.cell_output')).map(e => e.innerText).join('\\n')")
    assert "Traceback (most recent call last)" not in outputs
    assert "Error" not in page.evaluate(
        "Array.from(document.querySelectorAll('.cell_output .traceback, .output.traceback'))"
        ".map(e => e.innerText).join('')")
    colab = page.evaluate(
        "Array.from(document.querySelectorAll('a')).map(a => a.href)"
        ".filter(h => h.includes('colab.research.google.com'))")
    stem = Path(chapter).stem
    assert colab and all(h.endswith(f"/book/{stem}.ipynb") for h in colab), colab
    links = page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    for link in links:
        parsed = urlparse(link)
        if parsed.hostname != "127.0.0.1" or not parsed.path:
            continue
        target = HTML / parsed.path.lstrip("/")
        if parsed.path.endswith("/"):
            target = target / "index.html"
        assert target.exists(), f"{chapter} links to missing {parsed.path}"
    page.close()


def test_screenshots(browser, site: str) -> None:
    out = REPO / "_build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for chapter in (CHAPTERS[0], CHAPTERS[-1]):
        page, _ = _open(browser, urljoin(site, chapter))
        page.screenshot(path=str(out / f"{Path(chapter).stem}.png"), full_page=False)
        page.close()
    assert len(list(out.glob("*.png"))) >= 2
