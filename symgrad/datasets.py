"""Named data sets a spec can train on: ``[data] source = "digits"``.

The only source so far is scikit-learn's bundled copy of the UCI handwritten digits
(8x8 images, 1,797 samples, 10 classes), read with ``sklearn.datasets.load_digits``:
it ships inside scikit-learn, so nothing is downloaded. scikit-learn is the optional
extra ``symgrad[examples]``; without it, loading the data set is a
:class:`~symgrad.errors.MissingDependencyError` that says how to install it.

The samples are split once with a fixed seed (75/25 by default) and, by default,
every feature is standardized with the mean and standard deviation of the training
part only, so no statistic of the test part leaks into training.

Options (in the ``[data]`` table, next to ``source``):

* ``test_fraction``: share of samples held out for testing, strictly between 0 and 1
  (default 0.25);
* ``standardize``: ``true`` or ``false`` (default ``true``);
* ``seed``: seed of the split, an integer >= 0 (default 0).

>>> from symgrad.spec import parse_spec
>>> spec = parse_spec('''
... [network]
... inputs = 64
... layers = [{ units = 10, activation = "softmax" }]
... loss = "cce"
... [data]
... source = "digits"
... seed = 3
... ''', path="inline.toml")
>>> data = load_dataset(spec)
>>> data.x_train.shape, data.x_test.shape, data.y_train.shape
((1348, 64), (449, 64), (1348, 10))
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .errors import MissingDependencyError
from .spec import Spec

__all__ = ["Dataset", "load_dataset", "load_digits", "load_bit_counts", "training_samples",
           "SOURCES", "EXTRA_HINT"]

#: What to run when scikit-learn is missing.
EXTRA_HINT = "pip install 'symgrad[examples]'"
#: Names a spec may give as ``[data] source``.
SOURCES = ("digits", "bit_counts")
_OPTIONS = {"digits": ("test_fraction", "standardize", "seed"),
            "bit_counts": ("test_fraction", "seed", "steps", "samples")}
#: Images in scikit-learn's bundled digits (before the split); bit_counts' default samples.
DIGITS_SAMPLES, BIT_COUNTS_SAMPLES = 1797, 2000


@dataclass(frozen=True)
class Dataset:
    """A data set split for training: rows are samples.

    ``y_train`` and ``y_test`` are one-hot targets (one column per class);
    ``labels_train`` and ``labels_test`` are the class indices (0-based).
    ``mean`` and ``scale`` are the training statistics used to standardize (zeros and
    ones when standardization is off).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    labels_train: np.ndarray
    labels_test: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    @property
    def features(self) -> int:
        return int(self.x_train.shape[-1])  # a sequence's samples are (steps, features)

    @property
    def classes(self) -> int:
        return int(self.y_train.shape[1])


def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        sk_datasets = importlib.import_module("sklearn.datasets")
    except ImportError:
        raise MissingDependencyError(
            f"the digits data set needs scikit-learn, which is not installed; "
            f"install it with: {EXTRA_HINT}") from None
    bunch = sk_datasets.load_digits()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.intp)


def load_digits(*, test_fraction: float = 0.25, standardize: bool = True,
                seed: int = 0) -> Dataset:
    """The handwritten digits, split with ``seed`` and standardized with training statistics.

    >>> d = load_digits(seed=0)
    >>> d.features, d.classes, len(d.x_train) + len(d.x_test)
    (64, 10, 1797)
    >>> bool(abs(d.x_train.mean()) < 1e-12)
    True
    """
    x, labels = _sklearn_digits()
    return _split(x, labels, "digits", test_fraction, standardize, seed)


def load_bit_counts(*, steps: int = 8, samples: int = BIT_COUNTS_SAMPLES,
                    test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """Sequences of ``steps`` random bits, ``x`` of shape ``(samples, steps, 1)``; a
    sequence's class is how many of its bits are 1 (``steps + 1`` classes): a task for a
    recurrent layer, which must count along the sequence. Generated, nothing to install.

    >>> d = load_bit_counts(steps=4, samples=10)
    >>> d.x_train.shape, d.classes, bool((d.x_train.sum(axis=(1, 2)) == d.labels_train).all())
    ((8, 4, 1), 5, True)
    """
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=(samples, steps, 1)).astype(np.float64)
    labels = np.add.reduce(x, axis=(1, 2)).astype(np.intp)
    return _split(x, labels, "bit_counts", test_fraction, False, seed, classes=steps + 1)


def _split(x: np.ndarray, labels: np.ndarray, name: str, test_fraction: float,
           standardize: bool, seed: int, classes: int | None = None) -> Dataset:
    n = len(x)
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    test, train = order[:n_test], order[n_test:]
    x_train, x_test = x[train], x[test]
    if standardize:
        mean = x_train.mean(axis=0)
        scale = x_train.std(axis=0)
        scale[scale == 0.0] = 1.0  # pixels that are blank in every training image
        x_train = (x_train - mean) / scale
        x_test = (x_test - mean) / scale
    else:
        mean, scale = np.zeros(x.shape[1]), np.ones(x.shape[1])
    eye = np.eye(int(labels.max()) + 1 if classes is None else classes)
    return Dataset(name, np.ascontiguousarray(x_train), eye[labels[train]],
                   np.ascontiguousarray(x_test), eye[labels[test]], labels[train],
                   labels[test], mean, scale)


def _options(spec: Spec) -> dict[str, Any]:
    raw: Mapping[str, Any] = spec.data.options
    known = _OPTIONS[str(spec.data.source)]
    for key in raw:
        if key not in known:
            raise spec.error(f"data.{key}", f"unknown option of source "
                             f"'{spec.data.source}'; expected one of: {', '.join(known)}")
    out: dict[str, Any] = {}
    if "test_fraction" in raw:
        value = raw["test_fraction"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0.0 < float(value) < 1.0:
            raise spec.error("data.test_fraction",
                             f"must be a number strictly between 0 and 1, got {value!r}",
                             value=value)
        out["test_fraction"] = float(value)
    if "standardize" in raw:
        value = raw["standardize"]
        if not isinstance(value, bool):
            raise spec.error("data.standardize", f"expected true or false, got {value!r}",
                             value=value)
        out["standardize"] = value
    for key, least in (("seed", 0), ("steps", 1), ("samples", 4)):
        value = raw.get(key, least)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise spec.error(f"data.{key}", f"expected an integer >= {least}, got {value!r}",
                             value=value)
        if key in raw:
            out[key] = value
    return out


def load_dataset(spec: Spec) -> Dataset:
    """The data set a spec names in ``[data] source``, checked against the network's sizes.

    Errors name the spec's field: an unknown source or option, a bad option value, a
    network whose inputs do not match the number of features or whose last layer does
    not have one unit per class.
    """
    data = _LOADERS[_source(spec)](**_options(spec))
    net = spec.network
    if net.inputs != data.features:
        raise spec.error("network.inputs", f"the {data.name} data set has {data.features} "
                         f"features, but the network has {net.inputs} inputs",
                         value=net.inputs)
    last = len(net.layers) - 1
    if net.layers[last].type == "dense" and net.layers[last].units != data.classes:
        raise spec.error(f"network.layers[{last}].units",
                         f"the {data.name} data set has {data.classes} classes, but the last "
                         f"layer has {net.layers[last].units} units")
    return data


def _source(spec: Spec) -> str:
    """The name of the data set ``spec`` gives, one of :data:`SOURCES`."""
    source = spec.data.source
    if source is None:
        raise spec.error("data.source", "this spec gives no data set (no 'source' in [data])")
    if source not in SOURCES:
        raise spec.error("data.source", f"unknown data set '{source}'; known: "
                         f"{', '.join(SOURCES)}", value=source)
    return source


def training_samples(spec: Spec) -> tuple[int, str]:
    """The training samples of the data set ``spec`` names and the field that sets their
    number, from its options alone (nothing is loaded or generated), for the size limits
    to check before any work; the options are checked as :func:`load_dataset` does.

    >>> from symgrad.spec import read_spec
    >>> training_samples(read_spec("derivations/digits_mlp.toml"))
    (1348, 'data.source')
    """
    source = _source(spec)
    options = _options(spec)
    total, field = ((options.get("samples", BIT_COUNTS_SAMPLES), "data.samples")
                    if source == "bit_counts" else (DIGITS_SAMPLES, "data.source"))
    return total - int(round(total * options.get("test_fraction", 0.25))), field


_LOADERS = {"digits": load_digits, "bit_counts": load_bit_counts}
