"""Diagnosis of a wrong layer output: which matrix-form mistake explains it.

Each kind of mistake is one small function, tried in the order of :data:`TESTS`: the
result transposed (or a factor in a product left untransposed), a sum over the wrong
axis (or no sum), the sign, a softmax Jacobian kept diagonal, batch norm without its
mean terms, a variance with N − 1, a dropout mask not rescaled, a convolution kernel not
flipped, a stride or padding misapplied, BPTT without the recurrent term, a gradient off
by one time step, a Hadamard product where a matrix product belongs or the reverse, a
factor N (a sum where a mean belongs, or the reverse), another constant factor. The
first that holds is the diagnosis; each compares the user's array with the array the
mistake would give, entry by entry. Shape mistakes come first, since a wrong shape rules
out every other comparison; the layer-specific mistakes come before the constant
factors, since an unscaled dropout mask *is* a constant factor p, and the diagnosis
should say why.

>>> from symgrad.check.layer_calls import get_convention
>>> conv = get_convention("affine")
>>> a = conv.make(conv.dims, {}, np.random.default_rng(0))
>>> want = conv.reference(a)
>>> diagnose_output(Case(conv, a, "dw", want["dw"].T, want["dw"], want))[0]
'transposed'
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .layer_calls_conv import conv_grads, pool
from .layer_calls_rnn import bptt, step_view
from .layer_convention import Arrays, Convention

__all__ = ["Case", "diagnose_output", "TESTS", "Found"]

Found = tuple[str | None, str]


@dataclass
class Case:
    """One differing output: the convention, the arrays the user's code got, the output's
    name, the user's value ``got``, symgrad's ``want`` and every reference value."""

    conv: Convention
    a: Arrays
    name: str
    got: np.ndarray
    want: np.ndarray
    expected: Mapping[str, np.ndarray]

    @property
    def layer(self) -> str:
        return self.conv.name

    def matches(self, candidate: Any) -> bool:
        """``got`` equals ``candidate`` (same shape, every entry to 1e-6 relative)."""
        c = np.asarray(candidate, dtype=np.float64)
        if c.shape != self.got.shape:
            return False
        scale = max(1e-300, float(np.abs(c).max(initial=0.0)))
        return bool(np.all(np.abs(self.got - c) <= 1e-6 * np.abs(c) + 1e-9 * scale))

    def first(self, candidates: Iterable[tuple[str, Callable[[], Any]]]) -> str | None:
        """The words of the first candidate ``got`` equals; one that is ``None`` or whose
        shapes do not broadcast (the mistake is impossible here) is skipped."""
        for words, make in candidates:
            try:
                with np.errstate(all="ignore"):
                    value = make()
            except (ValueError, KeyError):  # impossible at these shapes or settings
                continue
            if value is not None and self.matches(value):
                return words
        return None


def _transposed(c: Case) -> Found | None:
    """The result transposed, or a factor of its product left untransposed (``dout W``
    where ``dout Wᵀ`` belongs)."""
    if c.want.ndim == 2 and c.matches(c.want.T):
        return ("transposed", f"transposed: yours is ({c.name})ᵀ, of shape {c.got.shape} "
                              f"where {c.want.shape} belongs")
    if c.want.ndim == 4 and c.matches(c.want.swapaxes(0, 1)):  # a kernel's (F, C) swapped
        return ("transposed", f"transposed: yours has the first two axes of {c.name} "
                              f"swapped, shape {c.got.shape} where {c.want.shape} belongs")
    factors = _UNTRANSPOSED.get((c.layer, c.conv.layout, c.name), ())
    words = c.first((w, lambda f=f: f(c.a, c.expected)) for w, f in factors)
    return None if words is None else ("transposed", words)


_Make = Callable[[Arrays, Mapping[str, Any]], Any]
_UNTRANSPOSED: dict[tuple[str, str, str], tuple[tuple[str, _Make], ...]] = {
    ("affine", "rows", "dx"): (("transposed factor: yours is dout W where dout Wᵀ belongs",
                                lambda a, e: a["dout"] @ a["w"]),),
    ("affine", "columns", "dx"): (("transposed factor: yours is W dout where Wᵀ dout belongs",
                                   lambda a, e: a["w"] @ a["dout"]),),
    ("rnn_step", "rows", "dprev_h"): (
        ("transposed factor: yours is δ W_h where δ W_hᵀ belongs",
         lambda a, e: (a["dout"][:, 0] * (1 - e["out"] ** 2)) @ a["Wh"]),),
}


#: Outputs that are sums over the batch: (layer, layout, output) -> the summand and the
#: axes the sum runs over.
SUMS: dict[tuple[str, str, str],
           Callable[[Arrays, Mapping[str, Any]], tuple[Any, tuple[int, ...]]]] = {
    ("affine", "rows", "db"): lambda a, e: (a["dout"], (0,)),
    ("affine", "columns", "db"): lambda a, e: (a["dout"], (1,)),
    ("batchnorm", "rows", "dbeta"): lambda a, e: (a["dout"], (0,)),
    ("batchnorm", "rows", "dgamma"): lambda a, e: (a["dout"] * _batchnorm_stats(a)[2], (0,)),
    ("conv", "rows", "db"): lambda a, e: (a["dout"], (0, 2, 3)),
}


def _axes(axes: tuple[int, ...]) -> str:
    return f"axis {axes[0]}" if len(axes) == 1 else f"axes {axes}"


def _wrong_axis(c: Case) -> Found | None:
    """A sum over the batch taken over other axes, over every axis, or not at all."""
    found = SUMS.get((c.layer, c.conv.layout, c.name))
    if found is None:
        return None
    summand, axes = found(c.a, c.expected)
    summand = np.asarray(summand)
    right = f"the sum over {_axes(axes)} (shape {c.want.shape})"
    if c.matches(summand):
        return ("not_summed", f"not summed over the samples: yours keeps one entry per "
                              f"sample (shape {c.got.shape}) where {right} belongs")
    if c.matches(summand.sum()):
        return ("wrong_axis", f"summed over every axis: yours is one number where {right} "
                              "belongs")
    for other in itertools.combinations(range(summand.ndim), len(axes)):
        if other == axes:
            continue
        for value in (summand.sum(axis=other), summand.sum(axis=other, keepdims=True)):
            if c.matches(value):
                return ("wrong_axis", f"summed over the wrong axis: yours sums over "
                                      f"{_axes(other)} where {right} belongs")
    return None


def _sign(c: Case) -> Found | None:
    """The sign flipped (``S − Y`` written ``Y − S``)."""
    if c.matches(-c.want):
        return "sign", f"the sign is wrong: yours is −{c.name}"
    return None


def _softmax_diagonal(c: Case) -> Found | None:
    """The softmax Jacobian kept diagonal: ``s ⊙ (1 − s) ⊙ dout`` (softmax) or
    ``(1 − s) ⊙ dout`` (log-softmax), as if each output depended on its own input only."""
    if c.name != "dx" or c.layer not in ("softmax", "log_softmax"):
        return None
    x, dout = c.a["x"], c.a["dout"]
    s = np.exp(x - x.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    diagonal = s * (1 - s) * dout if c.layer == "softmax" else (1 - s) * dout
    if not c.matches(diagonal):
        return None
    return ("softmax_diagonal", "the softmax Jacobian kept diagonal: yours multiplies dout "
                                "by the diagonal entries only, leaving out the terms −s_i s_j "
                                "(i ≠ j) of ∂s/∂x that couple the classes")


def _batchnorm_stats(a: Arrays, ddof: int = 0) -> tuple[Any, Any, Any]:
    x = a["x"]
    std = np.sqrt(x.var(axis=0, ddof=ddof) + a["eps"])
    return x, std, (x - x.mean(axis=0)) / std


def _batchnorm_mean_terms(c: Case) -> Found | None:
    """Batch norm's input gradient without one or both of its mean terms."""
    if c.layer != "batchnorm" or c.name != "dx":
        return None
    _, std, xhat = _batchnorm_stats(c.a)
    g, dout = c.a["gamma"] * c.a["dout"], c.a["dout"]
    words = c.first([
        ("batch norm without the mean terms: yours is γ ⊙ dout / σ, as if μ and σ² did not "
         "depend on X (both −mean(dout) and −x̂ ⊙ mean(dout ⊙ x̂) are missing)",
         lambda: g / std),
        ("batch norm without the variance's mean term: −x̂ ⊙ mean(dout ⊙ x̂) is missing",
         lambda: c.a["gamma"] / std * (dout - dout.mean(axis=0))),
        ("batch norm without the mean's term: −mean(dout) is missing",
         lambda: c.a["gamma"] / std * (dout - xhat * (dout * xhat).mean(axis=0)))])
    return None if words is None else ("batchnorm_mean_terms", words)


def _variance_n_minus_1(c: Case) -> Found | None:
    """Batch norm's variance with N − 1 (``np.var(..., ddof=1)``) where the batch's own
    variance (1/N) belongs: in the forward pass (then ``out``, ``dgamma`` and ``dx`` all
    use it), or in the backward's ``dvar`` term alone."""
    if c.layer != "batchnorm" or c.name not in ("out", "dx", "dgamma"):
        return None
    n = c.a["x"].shape[0]
    if n < 2:
        return None
    g, dout = c.a["gamma"], c.a["dout"]
    xhat1 = _batchnorm_stats(c.a, 1)[2]

    def backward(ddof: int, divisor: int) -> Any:
        _, std, xhat = _batchnorm_stats(c.a, ddof)
        return g / std * (dout - dout.mean(axis=0) - xhat * (dout * xhat).sum(axis=0) / divisor)
    forward = ("variance with N − 1: yours normalizes by the unbiased variance (ddof=1) "
               "where the batch variance Σ(x − μ)²/N belongs")
    candidates = {
        "out": [(forward, lambda: g * xhat1 + c.a["beta"])],
        "dgamma": [(forward + " (x̂ comes from the forward pass)",
                    lambda: (dout * xhat1).sum(axis=0))],
        "dx": [("variance with N − 1 in the backward pass: yours divides the variance term "
                "by N − 1 where ∂σ²/∂X = 2(X − μ)/N belongs", lambda: backward(0, n - 1)),
               (forward + " (x̂ and σ come from the forward pass)", lambda: backward(1, n)),
               ("variance with N − 1 in the forward and the backward pass (ddof=1 where the "
                "batch variance Σ(x − μ)²/N belongs)", lambda: backward(1, n - 1))]}
    words = c.first(candidates[c.name])
    return None if words is None else ("variance_n_minus_1", words)


def _dropout_not_rescaled(c: Case) -> Found | None:
    """Inverted dropout's mask without its 1/p (or with p where 1/p belongs)."""
    if c.layer != "dropout" or c.name not in ("out", "dx"):
        return None
    p = c.a["p"]
    words = c.first([(f"dropout mask not rescaled: yours is missing the factor 1/p = "
                      f"{1 / p:.4g} of inverted dropout", lambda: p * c.want),
                     (f"dropout mask multiplied by p = {p:g} where 1/p belongs",
                      lambda: p * p * c.want),
                     (f"dropout mask rescaled by 1/(1 − p) where 1/p belongs (p = {p:g} is "
                      "the probability of keeping a unit)", lambda: p / (1 - p) * c.want)])
    return None if words is None else ("dropout_not_rescaled", words)


def _kernel_not_flipped(c: Case) -> Found | None:
    """dX as a correlation of dout with W (the kernel left unflipped) where the full
    convolution belongs, or dW flipped where the correlation of the input with dout
    belongs."""
    if c.layer != "conv" or c.name not in ("dx", "dw"):
        return None
    a = c.a
    words = c.first([
        ("convolution kernel not flipped: yours correlates the padded dout with W where dX "
         "is the full convolution of dout with W, i.e. a correlation with W flipped in "
         "space (W[f, c, ::-1, ::-1])",
         lambda: conv_grads(a["x"], a["w"], a["b"], a["dout"], a["stride"], a["pad"],
                            flip=True)["dx"] if c.name == "dx" else None),
        ("kernel gradient flipped in space: dW is the correlation of the input with dout, "
         "not a convolution", lambda: c.want[:, :, ::-1, ::-1] if c.name == "dw" else None)])
    return None if words is None else ("kernel_not_flipped", words)


def _stride_padding(c: Case) -> Found | None:
    """A stride or padding misapplied: the windows taken at every position instead of
    every s-th (stride 1 in the backward pass), or dX left padded."""
    if c.layer not in ("conv", "max_pool", "avg_pool") or c.name not in ("dx", "dw"):
        return None
    words = c.first([(w, lambda f=f: f(c.a)[c.name]) for w, f in _MISAPPLIED[c.layer]])
    return None if words is None else ("stride_padding", words)


def _conv_stride_1(a: Arrays) -> dict[str, Any]:
    """The backward pass of a convolution with stride 1 over the first windows: what code
    that forgets the stride in its loops computes."""
    p, (hh, ww), (ho, wo) = a["pad"], a["w"].shape[2:], a["dout"].shape[2:]
    if a["stride"] == 1:
        return {}
    padded = np.pad(a["x"], ((0, 0), (0, 0), (p, p), (p, p)))
    g = conv_grads(padded[:, :, :ho + hh - 1, :wo + ww - 1], a["w"], a["b"], a["dout"], 1, 0)
    dx = np.zeros_like(padded)
    dx[:, :, :ho + hh - 1, :wo + ww - 1] = g["dx"]
    return {"dx": dx[:, :, p:p + a["x"].shape[2], p:p + a["x"].shape[3]], "dw": g["dw"]}


def _conv_padded_dx(a: Arrays) -> dict[str, Any]:
    p = a["pad"]
    padded = np.pad(a["x"], ((0, 0), (0, 0), (p, p), (p, p)))
    return {"dx": conv_grads(padded, a["w"], a["b"], a["dout"], a["stride"], 0)["dx"]} \
        if p else {}


def _pool_stride_1(mode: str) -> Callable[[Arrays], dict[str, Any]]:
    def make(a: Arrays) -> dict[str, Any]:
        (ph, pw), (ho, wo) = a["kernel"], a["dout"].shape[2:]
        if a["stride"] == 1:
            return {}
        crop = a["x"][:, :, :ho + ph - 1, :wo + pw - 1]
        dx = np.zeros_like(a["x"])
        dx[:, :, :ho + ph - 1, :wo + pw - 1] = pool(crop, a["kernel"], 1, mode, a["dout"])[1]
        return {"dx": dx}
    return make


_STRIDE_1 = ("stride misapplied: yours takes the windows at every position (stride 1) "
             "where they start every s-th entry")
_MISAPPLIED: dict[str, tuple[tuple[str, Callable[[Arrays], dict[str, Any]]], ...]] = {
    "conv": ((_STRIDE_1, _conv_stride_1),
             ("padding misapplied: yours returns the gradient of the padded input; the p "
              "rows and columns of padding must be cropped from dX", _conv_padded_dx)),
    "max_pool": ((_STRIDE_1, _pool_stride_1("max")),),
    "avg_pool": ((_STRIDE_1, _pool_stride_1("avg")),),
}


def _bptt_recurrent(c: Case) -> Found | None:
    """Back-propagation through time without the recurrent term ``δ_{t+1} W_hᵀ``."""
    if c.layer != "rnn" or c.name == "out":
        return None
    words = c.first([("BPTT without the recurrent term: yours back-propagates each step's "
                      "dh_t alone, where δ_t also carries δ_{t+1} W_hᵀ from the step after it",
                      lambda: bptt(c.a, recurrent=False)[c.name])])
    return None if words is None else ("bptt_recurrent", words)


def _time_step_off(c: Case) -> Found | None:
    """A recurrent layer's gradient off by one time step: ``h_t`` where ``h_{t−1}``
    belongs, the previous state's tanh slope, or the upstream gradient of another step."""
    if c.layer not in ("rnn", "rnn_step") or c.name == "out":
        return None
    view = (lambda g: step_view(c.a, g)) if c.layer == "rnn_step" else (lambda g: g)
    off = "off by one time step: yours "
    words = c.first((w, lambda k=k: view(bptt(c.a, **k))[c.name]) for w, k in [
        (off + "uses h_t where h_{t−1} belongs (dW_h = Σ_t h_{t−1}ᵀ δ_t)", {"h_lag": 0}),
        (off + "takes the tanh slope 1 − h_{t−1}² of the previous state where 1 − h_t² "
         "belongs", {"slope_lag": 1}),
        (off + "adds the upstream gradient dh_{t+1} at step t", {"dh_shift": 1}),
        (off + "adds the upstream gradient dh_{t−1} at step t", {"dh_shift": -1})])
    return None if words is None else ("time_step_off", words)


def _hadamard_matrix(c: Case) -> Found | None:
    """A Hadamard product where a matrix product belongs, or the reverse."""
    table = _PRODUCTS.get((c.layer, c.name), ())
    for kind, words, make in table:
        if c.first([(words, lambda m=make: m(c.a, c.expected))]) is not None:
            return kind, words
    return None


_ELEMENTWISE_MATRIX = (
    ("matrix_for_hadamard", "a matrix product where the Hadamard product belongs: yours is "
     "dout · f′(X)ᵀ, the slope must multiply dout entry by entry",
     lambda a, e: a["dout"] @ e["slope"].T),
    ("matrix_for_hadamard", "a matrix product where the Hadamard product belongs: yours is "
     "doutᵀ · f′(X)", lambda a, e: a["dout"].T @ e["slope"]))
_PRODUCTS: dict[tuple[str, str], tuple[tuple[str, str, Callable[[Arrays, Any], Any]], ...]] = {
    **{(name, "dx"): _ELEMENTWISE_MATRIX for name in ("relu", "sigmoid", "tanh", "dropout")},
    ("affine", "dx"): (("hadamard_for_matrix", "a Hadamard product where a matrix product "
                        "belongs: yours is dout ⊙ Wᵀ", lambda a, e: a["dout"] * a["w"].T),),
    ("affine", "dw"): (("hadamard_for_matrix", "a Hadamard product where a matrix product "
                        "belongs: yours is Xᵀ ⊙ dout", lambda a, e: a["x"].T * a["dout"]),),
}


def _factor_n(c: Case) -> Found | None:
    """A sum where a mean belongs (N times too large) or a mean where a sum belongs."""
    n = int(c.a["N"])
    if n < 2:
        return None
    if c.matches(n * c.want):
        return ("factor_n", f"a factor N = {n} too large: yours sums over the batch where "
                            "the mean belongs (the 1/N is missing)")
    if c.matches(c.want / n):
        return ("factor_n", f"a factor N = {n} too small: yours divides by N where the sum "
                            "over the batch belongs")
    return None


def _constant_factor(c: Case) -> Found | None:
    """Another constant factor (a max pooling that averages: 1/(ph pw))."""
    ok = (np.abs(c.want) > 1e-12) if c.got.shape == c.want.shape else None
    if ok is None or ok.sum() < 1:
        return None
    frac = Fraction(float(np.median(c.got[ok] / c.want[ok]))).limit_denominator(100)
    if frac in (0, 1) or not c.matches(float(frac) * c.want):
        return None
    return ("constant_factor", f"a constant factor off: yours is {frac} times {c.name}")


#: The mistakes a diagnosis tries, in this order; the first that holds is the answer.
TESTS: tuple[Callable[[Case], Found | None], ...] = (
    _transposed, _wrong_axis, _sign, _softmax_diagonal, _batchnorm_mean_terms,
    _variance_n_minus_1, _dropout_not_rescaled, _kernel_not_flipped, _stride_padding,
    _bptt_recurrent, _time_step_off, _hadamard_matrix, _factor_n, _constant_factor)


def diagnose_output(case: Case) -> Found:
    """The kind of mistake (``None``: no usual one) and what it is, in words."""
    for test in TESTS:
        found = test(case)
        if found is not None:
            return found
    return None, "differs, and no usual matrix-form mistake explains it"
