"""The practice page (``symgrad serve``): a small local web app where a student gets a
variant of an exercise template, types answers (numbers, or a gradient as text or LaTeX
with a live preview) and sees right or wrong with the diagnosis, and the worked solution
on request.

By module: :mod:`.guard` holds what untrusted requests meet first (size limits, the
per-client rate limit, CSRF tokens), :mod:`.preview` shows a typed expression through
symgrad's parser and printer, :mod:`.app` is the Starlette app and :mod:`.server` serves
it with uvicorn. It needs the ``serve`` extra: ``pip install 'symgrad[serve]'``.
"""

from __future__ import annotations

from importlib.util import find_spec

from ..errors import MissingDependencyError

#: How to install what the practice page needs.
INSTALL_HINT = "pip install 'symgrad[serve]'"
_NEEDS = ("starlette", "uvicorn")

_missing = [name for name in _NEEDS if find_spec(name) is None]
if _missing:
    raise MissingDependencyError(f"the practice page needs {' and '.join(_missing)}, which "
                                 f"{'is' if len(_missing) == 1 else 'are'} not installed; "
                                 f"install with: {INSTALL_HINT}")

from .app import create_app  # noqa: E402  (after the check: these import starlette)
from .guard import Limits, RateLimit, Tokens  # noqa: E402
from .server import Server  # noqa: E402

__all__ = ["create_app", "Server", "Limits", "RateLimit", "Tokens", "INSTALL_HINT"]
