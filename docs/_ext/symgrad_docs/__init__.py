"""Sphinx extension of symgrad's documentation: the reference pages generated from the code.

* ``symgrad-spec-fields TABLE``, ``symgrad-spec-names``: a spec table's fields, the
  default symbol names (:mod:`.spec`);
* ``symgrad-catalogue activations|losses``: the catalogue (:mod:`.catalogue`);
* ``symgrad-cli``: the command line (:mod:`.cli`);
* ``symgrad-api`` NAMES: the public API (:mod:`.api`).

A spec table or a public name that no page shows fails a ``-W`` build (:mod:`.coverage`).
Notebook output streams are merged without breaking lines (:mod:`.streams`), and
symgrad's ``name : description`` fields are read as such (:mod:`.docstrings`).
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

from . import api, catalogue, cli, coverage, docstrings, spec, streams

__all__ = ["setup"]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("symgrad-spec-fields", spec.SpecFieldsDirective)
    app.add_directive("symgrad-spec-names", spec.SpecNamesDirective)
    app.add_directive("symgrad-catalogue", catalogue.CatalogueDirective)
    app.add_directive("symgrad-cli", cli.CliDirective)
    app.add_directive("symgrad-api", api.ApiDirective)
    streams.install()
    docstrings.setup(app)
    coverage.setup(app, {"spec table": spec.expected, "public name": api.expected})
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
