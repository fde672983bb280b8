"""Training: one gradient-descent loop (:mod:`.loop`, :func:`train`) over either level's
gradients (:mod:`.models`: one compiled function per parameter, or the layer level's
minibatch kernels for a data set).

The package itself is callable, as :func:`train`, so that ``symgrad.train(net, ...)``
works while ``symgrad.train`` names this package.

>>> import symgrad
>>> symgrad.train.loop.train is symgrad.train.train
True
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .loop import (DEFAULT_ITERATIONS, GROWTH_STEPS, Step, TrainingResult, train,
                   write_history_csv)
from .models import choose_level

__all__ = ["train", "Step", "TrainingResult", "write_history_csv", "GROWTH_STEPS",
           "DEFAULT_ITERATIONS", "choose_level"]


class _CallableModule(types.ModuleType):
    """This package's module type: calling it calls :func:`train`."""

    def __call__(self, *args: Any, **kwargs: Any) -> TrainingResult:
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
