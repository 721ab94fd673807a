"""Accessibility fixes to HTML that Sphinx and MyST-NB write into the pages' bodies.

* Sphinx's HTML writer (``visit_citation``) puts citations in ``<div role="list"
  class="citation-list">`` and gives each one ``role="doc-biblioentry"``, a DPUB-ARIA role
  deprecated in DPUB-ARIA 1.1 that is not a list item: axe-core reports a critical
  ``aria-required-children`` (a list without list items) and a deprecated role per entry on the
  references page. Each entry becomes a ``listitem``, which is what it is.
* MyST-NB (``visit_HideCellInput``) names the toggle of a hidden cell "Toggle hidden content"
  (``aria-label``) while it shows "Show code cell source": the name does not contain the visible
  label (WCAG 2.5.3; axe-core: serious ``label-content-name-mismatch``). Without the
  ``aria-label`` the toggle's name is the label it shows.

Both are upstream markup (Sphinx 7.4, MyST-NB 1.4), fixed here until they change there.
"""

from __future__ import annotations

from typing import Any

REPLACEMENTS = (
    ('role="doc-biblioentry"', 'role="listitem"'),
    ('<summary aria-label="Toggle hidden content">', "<summary>"),
)


def _fix_body(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    body = context.get("body")
    if isinstance(body, str):
        for old, new in REPLACEMENTS:
            body = body.replace(old, new)
        context["body"] = body


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _fix_body)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
