"""``python -m symgrad.cli``: the ``symgrad`` command."""

from . import run

run()
