"""What the generated pages showed, checked against what the code has: a spec table or a
public name that no page shows is a build warning (an error with ``-W``).

Directives call :func:`shown`; :func:`setup` keeps the record right when pages are read
again, or in parallel, and checks it once every page has been read.
"""

from __future__ import annotations

from typing import Callable

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

__all__ = ["shown", "setup"]

_LOG = logging.getLogger(__name__)
_KEY = "symgrad_shown"  # env attribute: {kind: {docname: {item, ...}}}


def _record(env: BuildEnvironment) -> dict[str, dict[str, set[str]]]:
    if not hasattr(env, _KEY):
        setattr(env, _KEY, {})
    return getattr(env, _KEY)


def shown(env: BuildEnvironment, kind: str, item: str) -> None:
    """Note that the page being read shows ``item`` (a spec table, a public name)."""
    _record(env).setdefault(kind, {}).setdefault(env.docname, set()).add(item)


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    for pages in _record(env).values():
        pages.pop(docname, None)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str],
           other: BuildEnvironment) -> None:
    for kind, pages in _record(other).items():
        for docname in docnames:
            if docname in pages:
                _record(env).setdefault(kind, {})[docname] = pages[docname]


def setup(app: Sphinx, expected: dict[str, Callable[[], set[str]]]) -> None:
    """Keep the record, and warn about every item of ``expected[kind]()`` that no page
    showed."""

    def check(app: Sphinx, env: BuildEnvironment) -> None:
        for kind, items in expected.items():
            seen = set().union(*_record(env).get(kind, {}).values())
            for item in sorted(items() - seen):
                _LOG.warning(f"symgrad docs: no page shows the {kind} '{item}'")

    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-check-consistency", check)
