"""Sphinx extension: drop repeated <script> tags from each page.

Jupyter Book 1.x with Sphinx 7 registers sphinx-thebe's inline configuration script
twice, so every page declares ``const THEBE_JS_URL`` twice and the browser reports a
SyntaxError on load. Keeping the first of identical scripts removes the error.
"""

from __future__ import annotations

from typing import Any


def _key(script: Any) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    # an inline script may carry filename None or "" for the same body
    return (getattr(script, "filename", str(script)) or "", tuple(sorted(attributes.items())))


def unique_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
