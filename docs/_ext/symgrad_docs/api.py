"""The API reference: autodoc on each public name of :data:`symgrad.__all__`.

``.. symgrad-api::`` with names as content (in a reStructuredText page, since docstrings
are reStructuredText) documents each name the way its kind asks: a class with its members,
an exception with its base, a function, a value. ``symgrad.derive``, ``symgrad.compile``,
``symgrad.train``, ``symgrad.check`` and ``symgrad.report`` are modules callable as their
function, so the function is what is documented. The build fails when a name of
``__all__`` is on no page, or a page names one that is not public (see :mod:`.coverage`).
"""

from __future__ import annotations

import inspect
import types
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

import symgrad

from . import coverage

__all__ = ["ApiDirective", "expected"]

#: A callable module whose function has another name than the module's (and is public
#: under it).
_CALLS = {"report": "render_report"}


def _module_function(name: str, module: types.ModuleType) -> list[str]:
    """The function a callable module calls: documented in place, or, when it is public
    under a name of its own, a signature that points there."""
    function = _CALLS.get(name, name)
    if function == name:
        return [f".. autofunction:: symgrad.{name}.{function}", "",
                f"   ``symgrad.{name}`` is also a module; calling it calls this function: "
                f"``symgrad.{name}(...)``.", ""]
    signature = inspect.signature(type(module).__call__)
    parameters = [p.replace(annotation=inspect.Parameter.empty)  # the function shows them
                  for p in list(signature.parameters.values())[1:]]  # without self
    shown = signature.replace(parameters=parameters,
                              return_annotation=inspect.Signature.empty)
    return [f".. py:function:: symgrad.{name}{shown}", "",
            f"   Calling the package ``symgrad.{name}`` calls :func:`symgrad.{function}` "
            "with the same arguments.", ""]


def _registry(name: str, value: dict[str, Any]) -> list[str]:
    """A catalogue registry: what it holds, by name (the catalogue page has the rest)."""
    kinds = sorted({type(v).__name__ for v in value.values()})
    return [f".. py:data:: symgrad.{name}", f"   :type: dict[str, {' | '.join(kinds)}]", "",
            f"   Every :class:`symgrad.{kinds[0]}` of the catalogue by name: "
            + ", ".join(f"``{key}``" for key in value) + ".", ""]


def _lines(name: str, value: Any) -> list[str]:
    """reStructuredText that documents ``symgrad.<name>``."""
    if isinstance(value, types.ModuleType):
        return _module_function(name, value)
    if isinstance(value, type):
        exception = issubclass(value, BaseException)
        return [f".. auto{'exception' if exception else 'class'}:: symgrad.{name}",
                "   :members:", *(["   :show-inheritance:"] if exception else []), ""]
    if callable(value):
        return [f".. autofunction:: symgrad.{name}", ""]
    if isinstance(value, dict):
        return _registry(name, value)
    return [f".. py:data:: symgrad.{name}", f"   :value: {value!r}", ""]


class ApiDirective(SphinxDirective):
    """``.. symgrad-api::`` with public names as content, separated by white space."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        lines: list[str] = []
        for name in " ".join(self.content).split():
            if name not in symgrad.__all__:
                raise self.error(f"symgrad-api: '{name}' is not in symgrad.__all__")
            coverage.shown(self.env, "public name", name)
            lines += _lines(name, getattr(symgrad, name))
        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source="symgrad-api"),
                                 container)
        return container.children


def expected() -> set[str]:
    """Every name a page must document."""
    return set(symgrad.__all__)
