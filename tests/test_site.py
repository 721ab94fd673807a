"""The built site in a real browser, and reproducibility of the smoke build.

Run after the book is built (``.ci/run`` does: ``pytest -m site``). Chromium is the first
found of ``MNIST_CHROMIUM``, ``chromium``/``chromium-browser``/``google-chrome`` on the PATH and
Playwright's own (``playwright install chromium``), driven by Playwright. The site must be complete offline: a
request to any host but the site's own is blocked and fails the test, and so does any
console error. On every page whose source has maths, MathJax (served from the site's
``_static/mathjax``, see ``tools/vendor.py``) must have typeset all of it. On "Try the
models" every model the build exported runs in the browser (onnxruntime-web, served from
``_static/try``): on a drawn stroke, and on each test image, where it must agree with PyTorch.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import nbformat
import pytest

from tools.toc import chapter_notebooks, toc_documents

REPO = Path(__file__).resolve().parent.parent
# `make site-test` checks the full build; CI points MNIST_SITE_DIR at the smoke build.
HTML = Path(os.environ.get("MNIST_SITE_DIR", REPO / "_build" / "html"))
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHAPTERS = [nb.with_suffix(".html").as_posix() for nb in chapter_notebooks(REPO)]
# MyST maths in a source: $...$, $$...$$, \(...\), \[...\], {math}, \begin{...}
MATHS = re.compile(r"\$\$|(?<![\\$])\$[^\s$][^$\n]*?(?<![\s\\])\$|\\\(|\\\[|\{math\}|\\begin\{")


def _source_has_maths(doc: str) -> bool:
    """Whether the source of a table-of-contents document (``book/02_linear_sgd``) has maths."""
    path = REPO / f"{doc}.ipynb"
    if path.is_file():
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    else:
        text = (REPO / f"{doc}.md").read_text()
    return bool(MATHS.search(text))


# pages (as site paths) whose sources have maths: MathJax must have typeset them
MATHS_PAGES = {f"{doc}.html" for doc in toc_documents(REPO / "_toc.yml") if _source_has_maths(doc)}

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


def find_chromium(playwright=None) -> str:
    """The Chromium to drive; a clear failure naming the ways to get one when there is none."""
    explicit = os.environ.get("MNIST_CHROMIUM")
    if explicit:
        if not Path(explicit).is_file():
            pytest.fail(f"MNIST_CHROMIUM={explicit} is not a file", pytrace=False)
        return explicit
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if playwright is not None:
        bundled = playwright.chromium.executable_path
        if bundled and Path(bundled).is_file():
            return bundled
    pytest.fail("no Chromium found for the site tests: install one on the PATH (Debian/Ubuntu: "
                "apt-get install chromium; macOS: brew install --cask chromium), or Playwright's "
                "(.venv/bin/playwright install chromium), or set MNIST_CHROMIUM to its path", pytrace=False)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=find_chromium(p),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@dataclass
class Visit:
    page: Any
    errors: list[str] = field(default_factory=list)  # console errors, page errors
    blocked: list[str] = field(default_factory=list)  # requests to other hosts (never sent)


def _open(browser, site: str, path: str, rewrite: tuple[str, str] | None = None, **options: Any) -> Visit:
    """Open ``path`` of the site; requests that leave the site's host are blocked and listed.

    ``rewrite`` (pattern, replacement) edits the page's HTML on its way to the browser: the
    self-test's way of serving a broken copy of a built page. ``options`` go to the new page
    (a phone's viewport).
    """
    url = urljoin(site, path)
    page = browser.new_page(**{"viewport": {"width": 1280, "height": 900}, **options})
    visit = Visit(page)
    own = urlparse(site).netloc

    def route(r) -> None:
        request = urlparse(r.request.url)
        if request.scheme in ("data", "blob"):
            r.continue_()
        elif request.netloc != own:
            visit.blocked.append(r.request.url)
            r.abort()
        elif rewrite and r.request.url.split("?")[0] == url:
            response = r.fetch()
            r.fulfill(response=response, body=re.sub(rewrite[0], rewrite[1], response.text()))
        else:
            r.continue_()

    page.route("**/*", route)
    page.on("console", lambda m: visit.errors.append(f"{m.text} @ {m.location.get('url')}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: visit.errors.append(f"page error: {e}"))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
    page.wait_for_load_state("networkidle")
    return visit


# What is left of the maths once MathJax has (or has not) typeset the page: raw TeX in the
# article's text (code blocks aside), maths elements without MathJax's output, TeX errors.
_MATHS_STATE = r"""async () => {
  const mj = window.MathJax;
  // Sphinx's inline configuration defines window.MathJax too: only the script adds startup
  if (mj && mj.startup && mj.startup.promise) { await mj.startup.promise; }
  const article = document.querySelector('article') || document.querySelector('main');
  if (!article) { return {raw: ['no <article> on the page'], untypeset: 0, errors: 0, containers: 0}; }
  const text = article.cloneNode(true);
  text.querySelectorAll('pre, code, script, style, textarea').forEach(e => e.remove());
  const content = text.textContent;
  const raw = ['\\(', '\\[', '$$'].filter(d => content.includes(d)).map(d => {
    const i = content.indexOf(d);
    return content.slice(Math.max(0, i - 40), i + 60).replace(/\s+/g, ' ');
  });
  return {
    raw,
    untypeset: Array.from(article.querySelectorAll('.math'))
      .filter(e => !e.querySelector('mjx-container')).length,
    errors: article.querySelectorAll('mjx-merror').length,
    containers: article.querySelectorAll('mjx-container').length,
  };
}"""


def _maths_problems(page, has_maths: bool) -> list[str]:
    """Why the page's maths is not (all) rendered; empty when it is."""
    state = page.evaluate(_MATHS_STATE)
    problems = [f"raw TeX left in the text: ...{snippet}..." for snippet in state["raw"]]
    if state["untypeset"]:
        problems.append(f"{state['untypeset']} maths element(s) without MathJax output (mjx-container)")
    if state["errors"]:
        problems.append(f"{state['errors']} TeX error(s) (mjx-merror)")
    if has_maths and not state["containers"]:
        problems.append("the source has maths but MathJax rendered none (no mjx-container)")
    return problems


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_page(browser, site: str, chapter: str) -> None:
    visit = _open(browser, site, chapter)
    page = visit.page
    assert not visit.blocked, f"{chapter} requested other hosts (the site must be complete): {visit.blocked}"
    assert not visit.errors, f"console errors on {chapter}: {visit.errors}"
    problems = _maths_problems(page, chapter in MATHS_PAGES)
    assert not problems, f"maths on {chapter} not rendered: {problems}"
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


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_code_cells_fit_the_page(browser, site: str, chapter: str) -> None:
    """At a 1280-px-wide window no visible code cell scrolls sideways (issue: lines cut off)."""
    visit = _open(browser, site, chapter)
    wide = visit.page.evaluate(
        "Array.from(document.querySelectorAll('.cell_input pre'))"
        ".filter(e => e.checkVisibility() && e.scrollWidth > e.clientWidth + 1)"
        ".map(e => e.innerText.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), ''))")
    visit.page.close()
    assert not wide, f"{chapter}: code cells wider than the page at 1280 px; longest lines: {wide}"


@pytest.mark.parametrize("path", ["book/intro.html", "book/notation.html", "book/references.html",
                                  "search.html", "genindex.html"])
def test_other_page(browser, site: str, path: str) -> None:
    visit = _open(browser, site, path)
    assert not visit.blocked, f"{path} requested other hosts (the site must be complete): {visit.blocked}"
    assert not visit.errors, f"console errors on {path}: {visit.errors}"
    problems = _maths_problems(visit.page, path in MATHS_PAGES)
    assert not problems, f"maths on {path} not rendered: {problems}"
    visit.page.close()


# The accessibility audit: axe-core (pinned in tools/vendor.py, installed from npm like MathJax)
# with the WCAG 2.0/2.1 A and AA rules, on every page of the site. No critical or serious
# violation may remain; moderate and minor ones are printed (and listed in the README).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_BLOCKING = ("critical", "serious")


def _site_pages() -> list[str]:
    docs = [f"{doc}.html" for doc in toc_documents(REPO / "_toc.yml")]
    return [*docs, "search.html", "genindex.html"]


@pytest.fixture(scope="module")
def axe_source() -> str:
    from tools.vendor import axe_script

    return axe_script().read_text()


def axe_violations(page, axe_source: str) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the open page (impact, rule, nodes)."""
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "async (tags) => { const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5), count: v.nodes.length})); }",
        AXE_TAGS)
    return result


@pytest.mark.parametrize("path", _site_pages())
def test_page_is_accessible(browser, site: str, axe_source: str, path: str) -> None:
    visit = _open(browser, site, path)
    if path == TRY_PAGE and (HTML / "_static" / "try" / "models" / "manifest.json").is_file():
        visit.page.wait_for_function(
            "document.getElementById('try-app').dataset.state !== 'loading'", timeout=120_000)
    violations = axe_violations(visit.page, axe_source)
    visit.page.close()
    for v in violations:
        if v["impact"] not in AXE_BLOCKING:
            print(f"{path}: {v['impact']} {v['id']} ({v['count']}): {v['help']} {v['nodes']}")
    blocking = [v for v in violations if v["impact"] in AXE_BLOCKING]
    assert not blocking, f"{path}: accessibility violations (axe-core {AXE_TAGS}): {blocking}"


def test_the_audit_catches_an_unlabelled_button(browser, site: str, axe_source: str) -> None:
    """The audit can fail: a built page with an icon-only button that has no accessible name."""
    path = "book/intro.html"
    unlabelled = (r"<body([^>]*)>", r'<body\1><button class="x"><i></i></button>')
    visit = _open(browser, site, path, rewrite=unlabelled)
    ids = {v["id"] for v in axe_violations(visit.page, axe_source) if v["impact"] in AXE_BLOCKING}
    visit.page.close()
    assert "button-name" in ids, ids


def test_the_checks_catch_maths_from_a_cdn(browser, site: str) -> None:
    """The checks above can fail: a built page pointed back at MathJax's CDN, as the site
    was before MathJax came with it, requests another host and shows raw TeX (offline)."""
    chapter = min(MATHS_PAGES & set(CHAPTERS))
    cdn = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
    visit = _open(browser, site, chapter, rewrite=(r'src="[^"]*_static/mathjax/[^"]*"', f'src="{cdn}"'))
    assert visit.blocked == [cdn]
    problems = _maths_problems(visit.page, has_maths=True)
    assert any(p.startswith("raw TeX left") for p in problems), problems
    assert any("without MathJax output" in p for p in problems), problems
    visit.page.close()


def test_screenshots(browser, site: str) -> None:
    out = REPO / "_build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for chapter in (CHAPTERS[0], CHAPTERS[-1]):
        page = _open(browser, site, chapter).page
        page.screenshot(path=str(out / f"{Path(chapter).stem}.png"), full_page=False)
        page.close()
    assert len(list(out.glob("*.png"))) >= 2


TRY_PAGE = "book/try.html"
SCREENSHOTS = REPO / "_build" / "screenshots"


def _try_manifest() -> dict[str, Any]:
    path = HTML / "_static" / "try" / "models" / "manifest.json"
    assert path.is_file(), f"the build exported no models for {TRY_PAGE} ({path} is missing)"
    return json.loads(path.read_text())


def _open_try_page(browser, site: str, **options: Any) -> Visit:
    visit = _open(browser, site, TRY_PAGE, **options)
    visit.page.wait_for_function("document.getElementById('try-app').dataset.state !== 'loading'",
                                 timeout=120_000)
    state = visit.page.get_attribute("#try-app", "data-state")
    assert state == "ready", f"{TRY_PAGE}: {visit.page.inner_text('#try-status')} {visit.errors}"
    return visit


def _classified(page, action, source: str) -> dict[str, list[float] | None]:
    """Run ``action`` (a stroke, a click), wait until the models have classified its result
    (``source``: drawing, example:<index>); every model's ten probabilities."""
    runs = int(page.get_attribute("#try-app", "data-runs"))
    action()
    page.wait_for_function(
        "([runs, source]) => { const app = document.getElementById('try-app');"
        " return Number(app.dataset.runs) > runs && app.dataset.source === source; }",
        arg=[runs, source], timeout=60_000)
    return page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('.try-model'))"
        ".map(c => [c.dataset.model, c.dataset.probs ? JSON.parse(c.dataset.probs) : null]))")


def _stroke(page, points: list[tuple[float, float]]) -> None:
    """Draw through ``points`` (fractions of the canvas) with the mouse."""
    box = page.locator("#try-canvas").bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()


SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]


def test_try_the_models_classifies_drawings_and_agrees_with_pytorch(browser, site: str) -> None:
    manifest = _try_manifest()
    ids = {m["id"] for m in manifest["models"]}
    assert ids, "the build exported no models"
    visit = _open_try_page(browser, site)
    page = visit.page
    probs = _classified(page, lambda: _stroke(page, SEVEN), "drawing")
    assert set(probs) == ids
    for model, p in probs.items():
        assert p is not None and len(p) == 10 and all(v >= 0 for v in p), (model, p)
        assert abs(sum(p) - 1) <= 1e-4, f"{model}: probabilities sum to {sum(p)}"
    buttons = page.locator(".try-example")
    assert buttons.count() == len(manifest["examples"]) > 0
    for i, example in enumerate(manifest["examples"]):
        probs = _classified(page, buttons.nth(i).click, f"example:{example['index']}")
        assert set(example["probabilities"]) == ids
        for model, expected in example["probabilities"].items():
            got = probs[model]
            worst = max(abs(a - b) for a, b in zip(got, expected))
            assert worst <= 1e-4, f"{model} on test image {example['index']}: off PyTorch by {worst:.2e}"
            assert got.index(max(got)) == expected.index(max(expected)), (model, example["index"])
    # without a mouse: Tab to a test image's button, Enter classifies it
    first = manifest["examples"][0]
    assert buttons.nth(0).get_attribute("aria-label").startswith(f"Classify test image {first['index']}")
    probs = _classified(page, lambda: (buttons.nth(0).focus(), page.keyboard.press("Enter")),
                        f"example:{first['index']}")
    assert set(probs) == ids
    assert not visit.blocked, f"{TRY_PAGE} requested other hosts (the site must be complete): {visit.blocked}"
    assert not visit.errors, f"console errors on {TRY_PAGE}: {visit.errors}"
    page.close()


def test_try_the_models_on_a_phone(browser, site: str) -> None:
    width = 390
    visit = _open_try_page(browser, site, viewport={"width": width, "height": 844}, device_scale_factor=2,
                           is_mobile=True, has_touch=True)
    page = visit.page
    probs = _classified(page, lambda: _stroke(page, SEVEN), "drawing")
    assert all(p is not None for p in probs.values())
    overflow = page.evaluate("document.documentElement.scrollWidth") - width
    assert overflow <= 0, f"{TRY_PAGE} is {overflow} px wider than a phone's screen"
    for selector in ("#try-canvas", "#try-models", "#try-examples"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#try-app").screenshot(path=str(SCREENSHOTS / "try-phone.png"))
    assert not visit.blocked and not visit.errors, (visit.blocked, visit.errors)
    page.close()
