"""Sphinx configuration of symgrad's documentation.

Build it with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (the
``docs`` extra installs what it needs). The tutorials are notebooks executed during the
build, so a broken example fails it; the reference pages are generated from the code
(``docs/_ext``), so they cannot drift from it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
# the notebooks' kernel inherits this environment: its `%%bash` cells find the `symgrad`
# command installed beside the Python that builds the documentation, venv activated or not
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                      os.environ.get("PATH", "")])

import symgrad  # noqa: E402  (after the path is set)

project = "symgrad"
author = "the symgrad authors"
copyright = "the symgrad authors, MIT licence"  # noqa: A001  (Sphinx's name)
release = version = symgrad.__version__

extensions = [
    "myst_nb",               # Markdown pages and notebooks, executed
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",   # the NumPy-style sections of symgrad's docstrings
    "sphinx.ext.mathjax",
    "symgrad_docs",          # docs/_ext: the generated reference pages
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
exclude_patterns = ["_build", "_ext", "**.ipynb_checkpoints"]
root_doc = "index"
# no curly quotes or dashes: "--expr" must stay two hyphens, or a copied command fails
smartquotes = False

# -- MyST and the notebooks ---------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "force"          # every build runs every notebook
nb_execution_show_tb = True          # a cell that raises is a warning (an error with -W)
                                     # that shows the cell, its output and the traceback
nb_execution_timeout = 300           # seconds per cell
nb_execution_in_temp = True          # files the tutorials write go to a scratch folder
nb_output_stderr = "warn"            # a warning or stray stderr output fails a -W build
nb_merge_streams = True              # joined as they came (symgrad_docs.streams)

# -- autodoc ------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_preserve_defaults = True
napoleon_google_docstring = False
napoleon_numpy_docstring = True

# -- HTML -----------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"symgrad {release}"
html_static_path = ["_static"]
html_css_files = ["symgrad.css"]
