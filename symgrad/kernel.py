"""A generated NumPy kernel of two outputs, callable on numbers or arrays, with a direct
entry for same-shaped float arrays (the minibatch loops' hot path).

>>> import numpy as np
>>> k = Kernel(lambda z: (z * 2.0, 1), 1)   # a constant second output: reshaped
>>> k.on_arrays is k, k(np.zeros(3))[1].tolist()
(True, [1.0, 1.0, 1.0])
>>> Kernel(lambda z: (z * 2.0, z + 1.0), 1).on_arrays is not None
True
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["Kernel", "kernel_docstring"]


def _shaped(result: Any, like: Any) -> Any:
    """A kernel's result with the shape of its argument ``like``: a constant (the linear
    slope 1) comes back as a number, and the identity as the caller's own array."""
    if result is like:  # the identity: a fresh array, never the caller's own
        return np.array(like, dtype=float)
    return result if np.shape(result) == np.shape(like) else \
        np.asarray(result) + np.zeros_like(like)


class Kernel:
    """Two outputs as one generated NumPy function: ``kernel(*values)`` takes arrays or
    numbers and returns both results shaped as the first argument; ``kernel.on_arrays`` is
    the same function for float arrays of one shape, without that reshaping where the
    generated code already returns fresh arrays of the argument's shape (the minibatch
    loops call it once per layer and batch, where a wrapper's call costs 5% of an epoch).
    """

    __slots__ = ("raw", "on_arrays")

    def __init__(self, raw: Callable[..., tuple[Any, Any]], arguments: int) -> None:
        self.raw = raw
        probe = [np.full((2, 3), 0.5) for _ in range(arguments)]
        with np.errstate(all="ignore"):
            outs = raw(*probe)
        direct = all(isinstance(o, np.ndarray) and o.shape == (2, 3) and o.dtype == float
                     and not any(o is p for p in probe) for o in outs)
        self.on_arrays: Callable[..., tuple[Any, Any]] = raw if direct else self

    def __call__(self, *values: Any) -> tuple[Any, Any]:
        first, second = self.raw(*values)
        return _shaped(first, values[0]), _shaped(second, values[0])


def kernel_docstring(what: str, scalar: bool, arguments: Sequence[str], n_data: int,
                     samples: str, returns: Sequence[str]) -> str:
    """The docstring of a generated kernel returning ``what``: its arguments (the first
    ``n_data`` are data: floats for a ``scalar`` kernel, else numbers or arrays of samples;
    ``samples`` names a block's sample count) and its results.

    >>> print(kernel_docstring("the loss", True, ["x", "w"], 1, "n", ["E"]))
    Return the loss.
    <BLANKLINE>
    Parameters
    ----------
    x : float
    w : float
    <BLANKLINE>
    Returns
    -------
    tuple: E
    """
    lines = [f"Return {what}.", "", "Parameters", "----------"]
    for k, a in enumerate(arguments):
        kind = ("float" if scalar else "number or 1-D array of samples") if k < n_data else \
            "float" if a != samples else "int, the number of samples in the block"
        lines.append(f"{a} : {kind}")
    lines += ["", "Returns", "-------", f"tuple: {', '.join(returns)}"]
    return "\n".join(lines)
