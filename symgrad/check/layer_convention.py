"""What a calling convention of layer code is: :class:`Convention` (the entries are in
:mod:`.layer_calls`, :mod:`.layer_calls_conv` and :mod:`.layer_calls_rnn`), and the
activations' kernels they share.

>>> sorted(Convention.__dataclass_fields__)[:3]
['cache', 'dims', 'forms']
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ..compile import activation_kernel

__all__ = ["Convention", "Arrays", "Maker", "activation"]

Arrays = dict[str, Any]
Maker = Callable[[Mapping[str, int], Mapping[str, float], np.random.Generator], Arrays]


@dataclass(frozen=True)
class Convention:
    """How one layer's forward and backward functions are called and what they return.

    ``make`` draws the arrays (the inputs, the parameters and the upstream gradient
    ``dout``); ``forward_args`` are the forward's positional arguments; ``cache`` builds the
    cache a backward gets without a forward (``None``: the cache is the user's own, so a
    forward is needed); ``reference`` gives symgrad's ``out`` and gradients; ``observe``
    reads what a forward chose at random (dropout's mask) from its output.
    A ``loss`` convention is one function ``(x, y) -> (loss, dx)``.
    """

    name: str
    layout: str
    title: str
    signature: str
    dims: Mapping[str, int]
    outputs: tuple[str, ...]
    make: Maker
    forward_args: Callable[[Arrays], tuple[Any, ...]]
    cache: Callable[[Arrays], Any] | None
    reference: Callable[[Arrays], dict[str, np.ndarray]]
    forms: Mapping[str, str]
    hyper: Mapping[str, float] = field(default_factory=dict)
    loss: bool = False
    observe: Callable[[Arrays, np.ndarray], None] | None = None
    upstream: Callable[[Arrays], np.ndarray] | None = None  # dout as the backward gets it


@functools.cache
def activation(name: str) -> Callable[[Any], tuple[Any, Any]]:
    """Value and slope of activation ``name`` from the catalogue's stable forms, compiled
    at first use: relu, sigmoid and tanh took 0.27 s together at import (measured, 2
    shared cores), and a check of batch norm needs none of them.

    >>> [float(v) for v in activation("tanh")(np.array(0.0))]
    [0.0, 1.0]
    """
    return activation_kernel(name)
