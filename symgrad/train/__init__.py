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

from ..callable_module import make_callable
from .loop import (DEFAULT_ITERATIONS, GROWTH_STEPS, Step, TrainingResult, train,
                   write_history_csv)
from .models import choose_level

__all__ = ["train", "Step", "TrainingResult", "write_history_csv", "GROWTH_STEPS",
           "DEFAULT_ITERATIONS", "choose_level"]

make_callable(__name__, train)
