"""Notebook output streams merged as they came.

``%%bash`` cells send a command's output in chunks of 100 bytes, one stream message each.
myst-nb's own merging (``nb_merge_streams``) strips every chunk and ends it with a
newline, so a line cut between two chunks is printed as two lines. :func:`merge` joins
the chunks of each stream unchanged instead, and :func:`install` makes myst-nb use it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["merge", "install"]


def merge(outputs: list[Any]) -> list[Any]:
    """The outputs with the text of every stream (stdout, stderr) joined into its first
    output, in the order it arrived; other outputs are kept as they are.

    >>> out = merge([{"output_type": "stream", "name": "stdout", "text": "one li"},
    ...              {"output_type": "stream", "name": "stdout", "text": "ne\\n"}])
    >>> [o["text"] for o in out]
    ['one line\\n']
    """
    merged: list[Any] = []
    streams: dict[str, Any] = {}
    for output in outputs:
        name = output["name"] if output["output_type"] == "stream" else None
        if name in streams:
            streams[name]["text"] += output["text"]
            continue
        if name is not None:
            streams[name] = output
        merged.append(output)
    return merged


def install() -> None:
    """Have myst-nb merge streams with :func:`merge` (with ``nb_merge_streams = True``)."""
    from myst_nb.core import render

    if not hasattr(render, "coalesce_streams"):  # a myst-nb that moved it: fail, loudly
        raise RuntimeError("myst_nb.core.render.coalesce_streams is gone: see "
                           "docs/_ext/symgrad_docs/streams.py")
    render.coalesce_streams = merge
