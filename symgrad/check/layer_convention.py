"""What a calling convention of layer code is: :class:`Convention` (the entries are in
:mod:`.layer_calls` and :mod:`.layer_calls_conv`).

>>> sorted(Convention.__dataclass_fields__)[:3]
['cache', 'dims', 'forms']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

__all__ = ["Convention", "Arrays", "Maker"]

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
