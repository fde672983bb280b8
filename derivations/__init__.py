"""The example specs, installed with symgrad as the package ``symgrad.examples``.

Only the ``*.toml`` files here are data for symgrad; this file makes the folder importable
so that ``symgrad examples DIR`` finds the specs in an installed copy as well.
"""
