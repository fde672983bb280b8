"""Packages and modules named after their main function, and callable as it.

``symgrad.derive``, ``symgrad.compile``, ``symgrad.train``, ``symgrad.check`` and
``symgrad.report`` are each a module and the function it is named after. Python binds a
package's attribute to a submodule when the submodule is first imported, whatever the
package's ``__init__`` bound before, so ``symgrad.derive`` is the module once anything
imports ``symgrad.derive.unit``. Making the module callable as its function keeps
``symgrad.derive(net)`` working in every import order.

>>> import symgrad.derive, symgrad.derive.unit
>>> symgrad.derive.derive is symgrad.derive.unit.derive, callable(symgrad.derive)
(True, True)
"""

from __future__ import annotations

import sys
import types
from typing import Any, Callable

__all__ = ["make_callable"]


def make_callable(module_name: str, function: Callable[..., Any]) -> None:
    """Make the module ``module_name`` callable as ``function`` (its ``__call__`` calls it,
    and its documentation says so)."""

    class CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

    CallableModule.__doc__ = f"Calling this module calls {function.__qualname__}."
    sys.modules[module_name].__class__ = CallableModule
