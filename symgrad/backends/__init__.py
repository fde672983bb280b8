"""Where compiled gradients run besides :mod:`symgrad.compile`'s per-unit kernels:
:mod:`.minibatch` runs the layer level as NumPy matrix products over minibatches."""

from __future__ import annotations

from .minibatch import CompiledLayers

__all__ = ["CompiledLayers"]
