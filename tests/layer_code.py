"""Students' layer code, right and wrong, in the conventions of the usual course assignments.

Each wrong function carries one plausible mistake, as it appears in real code; the
catalogue at the end says which layer it is, what to call it with and what the diagnosis
must be. The right ones are written in other ways (einsum, loops, staged graphs, samples
as columns) and must all pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Code:
    id: str
    layer: str
    backward: Callable[..., Any]
    forward: Callable[..., Any] | None = None
    shape: dict[str, int] = field(default_factory=dict)
    layout: str = "rows"
    hyper: dict[str, float] = field(default_factory=dict)
    expect: dict[str, str | None] = field(default_factory=dict)  # output -> mistake kind


# -- affine -----------------------------------------------------------------------------

def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)


def affine_backward_einsum(dout, cache):
    x, w, b = cache
    return (np.einsum("nm,dm->nd", dout, w), np.einsum("nd,nm->dm", x, dout),
            np.einsum("nm->m", dout))


def affine_backward_loops(dout, cache):
    x, w, b = cache
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
    for n in range(x.shape[0]):
        dx[n] = w @ dout[n]
        dw += np.outer(x[n], dout[n])
        db += dout[n]
    return dx, dw, db


def affine_backward_dot(dout, cache):
    x, w, b = cache
    return np.dot(dout, w.T), np.dot(x.T, dout), np.sum(dout, axis=0)


def affine_backward_columns(dout, cache):  # Z = W X + b, samples as columns
    x, w, b = cache
    return w.T @ dout, dout @ x.T, dout.sum(axis=1, keepdims=True)


def affine_backward_columns_einsum(dout, cache):
    x, w, b = cache
    return (np.einsum("md,mn->dn", w, dout), np.einsum("mn,dn->md", dout, x),
            np.einsum("mn->m", dout)[:, None])


def affine_dw_transposed(dout, cache):
    x, w, b = cache
    return dout @ w.T, dout.T @ x, dout.sum(axis=0)


def affine_dx_w_untransposed(dout, cache):
    x, w, b = cache
    return dout @ w, x.T @ dout, dout.sum(axis=0)


def affine_db_axis1(dout, cache):
    x, w, b = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=1)


def affine_db_not_summed(dout, cache):
    x, w, b = cache
    return dout @ w.T, x.T @ dout, dout


def affine_dw_mean(dout, cache):
    x, w, b = cache
    return dout @ w.T, x.T @ dout / x.shape[0], dout.sum(axis=0)


def affine_dx_mean(dout, cache):
    x, w, b = cache
    return dout @ w.T / x.shape[0], x.T @ dout, dout.sum(axis=0)


def affine_dx_hadamard(dout, cache):
    x, w, b = cache
    return dout * w.T, x.T @ dout, dout.sum(axis=0)


def affine_columns_dw_transposed(dout, cache):
    x, w, b = cache
    return w.T @ dout, x @ dout.T, dout.sum(axis=1, keepdims=True)


def affine_columns_db_axis0(dout, cache):
    x, w, b = cache
    return w.T @ dout, dout @ x.T, dout.sum(axis=0)


# -- elementwise activations -----------------------------------------------------------

def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def relu_backward_where(dout, cache):
    return np.where(cache > 0, dout, 0.0)


def relu_backward_heaviside(dout, cache):
    return dout * np.heaviside(cache, 0.0)


def relu_backward_loops(dout, cache):
    dx = np.zeros_like(dout)
    for i in range(dout.shape[0]):
        for j in range(dout.shape[1]):
            if cache[i, j] > 0:
                dx[i, j] = dout[i, j]
    return dx


def relu_backward_copy(dout, cache):
    dx = dout.copy()
    dx[cache <= 0] = 0
    return dx


def relu_matmul(dout, cache):
    return dout @ (cache > 0).T


def relu_times_x(dout, cache):
    return dout * cache


def sigmoid_forward(x):
    out = 1 / (1 + np.exp(-x))
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache * (1 - cache)


def sigmoid_matmul(dout, cache):
    return dout @ (cache * (1 - cache)).T


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    return dout * (1 - cache ** 2)


# -- softmax with cross-entropy ----------------------------------------------------------

def _probs(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_loss(x, y):
    n = x.shape[0]
    p = _probs(x)
    loss = -np.log(p[np.arange(n), y]).mean()
    dx = p.copy()
    dx[np.arange(n), y] -= 1
    return loss, dx / n


def softmax_loss_loops(x, y):
    n = x.shape[0]
    loss, dx = 0.0, np.zeros_like(x)
    for i in range(n):
        shifted = x[i] - x[i].max()
        p = np.exp(shifted) / np.exp(shifted).sum()
        loss -= np.log(p[y[i]])
        p[y[i]] -= 1
        dx[i] = p / n
    return loss / n, dx


def softmax_loss_logsumexp(x, y):
    n, c = x.shape
    m = x.max(axis=1, keepdims=True)
    log_p = x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))
    onehot = np.eye(c)[y]
    return -(onehot * log_p).sum() / n, (np.exp(log_p) - onehot) / n


def softmax_loss_columns(x, y):  # classes as rows, samples as columns
    loss, dx = softmax_loss(x.T, y)
    return loss, dx.T


def softmax_loss_no_mean(x, y):
    loss, dx = softmax_loss(x, y)
    return loss, dx * x.shape[0]


def softmax_loss_summed(x, y):
    loss, dx = softmax_loss(x, y)
    return loss * x.shape[0], dx


def softmax_loss_sign(x, y):
    loss, dx = softmax_loss(x, y)
    return loss, -dx


def softmax_loss_columns_rows_dx(x, y):
    return softmax_loss(x.T, y)


# -- batch normalization ----------------------------------------------------------------

def batchnorm_forward(x, gamma, beta, bn_param):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    std = np.sqrt(var + bn_param["eps"])
    xhat = (x - mu) / std
    return gamma * xhat + beta, (x, xhat, mu, var, std, gamma, bn_param["eps"])


def batchnorm_forward_unbiased(x, gamma, beta, bn_param):
    mu = x.mean(axis=0)
    var = x.var(axis=0, ddof=1)
    std = np.sqrt(var + bn_param["eps"])
    xhat = (x - mu) / std
    return gamma * xhat + beta, (x, xhat, mu, var, std, gamma, bn_param["eps"])


def batchnorm_backward(dout, cache):  # the compact form
    x, xhat, mu, var, std, gamma, eps = cache
    n = x.shape[0]
    dxhat = dout * gamma
    dx = (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (n * std)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_backward_staged(dout, cache):  # the computational graph, node by node
    x, xhat, mu, var, std, gamma, eps = cache
    n = x.shape[0]
    dxhat = dout * gamma
    dvar = np.sum(dxhat * (x - mu) * -0.5 * (var + eps) ** -1.5, axis=0)
    dmu = np.sum(-dxhat / std, axis=0) + dvar * np.mean(-2 * (x - mu), axis=0)
    dx = dxhat / std + dvar * 2 * (x - mu) / n + dmu / n
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)


def batchnorm_backward_einsum(dout, cache):
    x, xhat, mu, var, std, gamma, eps = cache
    n = x.shape[0]
    dgamma = np.einsum("nd,nd->d", dout, xhat)
    dbeta = np.einsum("nd->d", dout)
    dx = gamma / std * (dout - dbeta / n - xhat * dgamma / n)
    return dx, dgamma, dbeta


def batchnorm_backward_loops(dout, cache):  # one feature at a time, the Jacobian in full
    x, xhat, mu, var, std, gamma, eps = cache
    n, d = x.shape
    dx = np.zeros_like(x)
    for j in range(d):
        jac = (np.eye(n) - 1 / n - np.outer(xhat[:, j], xhat[:, j]) / n) / std[j]
        dx[:, j] = gamma[j] * jac.T @ dout[:, j]
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_no_mean_terms(dout, cache):
    x, xhat, mu, var, std, gamma, eps = cache
    return dout * gamma / std, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_no_variance_term(dout, cache):
    x, xhat, mu, var, std, gamma, eps = cache
    return gamma / std * (dout - dout.mean(axis=0)), (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_no_mean_of_dout(dout, cache):
    x, xhat, mu, var, std, gamma, eps = cache
    dx = gamma / std * (dout - xhat * (dout * xhat).mean(axis=0))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_dvar_n_minus_1(dout, cache):
    x, xhat, mu, var, std, gamma, eps = cache
    n = x.shape[0]
    dxhat = dout * gamma
    dvar = np.sum(dxhat * (x - mu) * -0.5 * (var + eps) ** -1.5, axis=0)
    dmu = np.sum(-dxhat / std, axis=0)
    dx = dxhat / std + dvar * 2 * (x - mu) / (n - 1) + dmu / n
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)


def batchnorm_dgamma_axis1(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    return dx, (dout * cache[1]).sum(axis=1), dbeta


def batchnorm_dbeta_all(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    return dx, dgamma, np.sum(dout)


def batchnorm_dbeta_transposed_sum(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    return dx, dgamma, dout


# -- dropout (p: the probability of keeping a unit) -------------------------------------

def dropout_forward(x, dropout_param):
    p = dropout_param["p"]
    rng = np.random.default_rng(dropout_param["seed"])
    mask = (rng.random(x.shape) < p) / p
    return x * mask, (dropout_param, mask)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask


def dropout_backward_where(dout, cache):
    dropout_param, mask = cache
    return np.where(mask != 0, dout / dropout_param["p"], 0.0)


def dropout_forward_unscaled(x, dropout_param):
    rng = np.random.default_rng(dropout_param["seed"])
    mask = rng.random(x.shape) < dropout_param["p"]
    return x * mask, (dropout_param, mask)


def dropout_forward_times_p(x, dropout_param):
    p = dropout_param["p"]
    rng = np.random.default_rng(dropout_param["seed"])
    mask = (rng.random(x.shape) < p) * p
    return x * mask, (dropout_param, mask)


def dropout_forward_drop_rate(x, dropout_param):
    p = dropout_param["p"]
    rng = np.random.default_rng(dropout_param["seed"])
    mask = (rng.random(x.shape) < p) / (1 - p)
    return x * mask, (dropout_param, mask)


def dropout_backward_boolean(dout, cache):
    dropout_param, mask = cache
    return dout * (mask > 0)


# -- softmax and log-softmax as layers --------------------------------------------------

def softmax_forward(x):
    s = _probs(x)
    return s, s


def softmax_backward(dout, cache):
    return cache * (dout - (dout * cache).sum(axis=1, keepdims=True))


def softmax_backward_jacobian(dout, cache):  # J = diag(s) - s s^T per sample
    jac = np.einsum("ni,ij->nij", cache, np.eye(cache.shape[1])) - \
        np.einsum("ni,nj->nij", cache, cache)
    return np.einsum("nij,ni->nj", jac, dout)


def softmax_diagonal(dout, cache):
    return dout * cache * (1 - cache)


def softmax_sign(dout, cache):
    return cache * ((dout * cache).sum(axis=1, keepdims=True) - dout)


def log_softmax_forward(x):
    out = np.log(_probs(x))
    return out, out


def log_softmax_backward(dout, cache):
    return dout - np.exp(cache) * dout.sum(axis=1, keepdims=True)


def log_softmax_diagonal(dout, cache):
    return dout * (1 - np.exp(cache))


# -- convolution and pooling (CS231n's naive layers) -------------------------------------

def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    (n, _, h, wd), (f, _, hh, ww) = xp.shape, w.shape
    ho, wo = (h - hh) // s + 1, (wd - ww) // s + 1
    out = np.zeros((n, f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            window = xp[:, :, i * s:i * s + hh, j * s:j * s + ww]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def _conv_backward_loops(dout, cache, step=None, crop=True):
    x, w, b, conv_param = cache
    s, p = conv_param["stride"], conv_param["pad"]
    s = s if step is None else step
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    hh, ww = w.shape[2:]
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = xp[:, :, i * s:i * s + hh, j * s:j * s + ww]
            dw += np.tensordot(dout[:, :, i, j], window, axes=([0], [0]))
            dxp[:, :, i * s:i * s + hh, j * s:j * s + ww] += np.tensordot(
                dout[:, :, i, j], w, axes=([1], [0]))
    dx = dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]] if crop else dxp
    return dx, dw, dout.sum(axis=(0, 2, 3))


def conv_backward_naive(dout, cache):
    return _conv_backward_loops(dout, cache)


def conv_backward_windows(dout, cache):  # einsum over a strided view of the windows
    x, w, b, conv_param = cache
    s, p = conv_param["stride"], conv_param["pad"]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    hh, ww = w.shape[2:]
    ho, wo = dout.shape[2:]
    win = np.lib.stride_tricks.sliding_window_view(xp, (hh, ww), axis=(2, 3))
    win = win[:, :, ::s, ::s][:, :, :ho, :wo]
    dw = np.einsum("nfij,ncijuv->fcuv", dout, win)
    dxp = np.zeros_like(xp)
    contrib = np.einsum("nfij,fcuv->ncijuv", dout, w)
    for u in range(hh):
        for v in range(ww):
            dxp[:, :, u:u + s * ho:s, v:v + s * wo:s] += contrib[:, :, :, :, u, v]
    return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]], dw, np.einsum("nfij->f", dout)


def conv_backward_full_convolution(dout, cache):  # stride 1: dX = dout full-conv W
    x, w, b, conv_param = cache
    p = conv_param["pad"]
    hh, ww = w.shape[2:]
    padded = np.pad(dout, ((0, 0), (0, 0), (hh - 1, hh - 1), (ww - 1, ww - 1)))
    flipped = w[:, :, ::-1, ::-1]
    win = np.lib.stride_tricks.sliding_window_view(padded, (hh, ww), axis=(2, 3))
    dxp = np.einsum("nfyxuv,fcuv->ncyx", win, flipped)
    dw = np.einsum("nfij,ncijuv->fcuv", dout, np.lib.stride_tricks.sliding_window_view(
        np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))), (hh, ww), axis=(2, 3)))
    return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]], dw, dout.sum(axis=(0, 2, 3))


def conv_not_flipped(dout, cache):  # the same, the kernel left as it is
    x, w, b, conv_param = cache
    p = conv_param["pad"]
    hh, ww = w.shape[2:]
    padded = np.pad(dout, ((0, 0), (0, 0), (hh - 1, hh - 1), (ww - 1, ww - 1)))
    win = np.lib.stride_tricks.sliding_window_view(padded, (hh, ww), axis=(2, 3))
    dxp = np.einsum("nfyxuv,fcuv->ncyx", win, w)
    dx, dw, db = conv_backward_naive(dout, cache)
    return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]], dw, db


def conv_stride_forgotten(dout, cache):
    return _conv_backward_loops(dout, cache, step=1)


def conv_padding_kept(dout, cache):
    return _conv_backward_loops(dout, cache, crop=False)


def conv_db_axes(dout, cache):
    dx, dw, db = conv_backward_naive(dout, cache)
    return dx, dw, dout.sum(axis=(1, 2, 3))


def conv_dw_channels_swapped(dout, cache):
    dx, dw, db = conv_backward_naive(dout, cache)
    return dx, dw.transpose(1, 0, 2, 3), db


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    ho, wo = (x.shape[2] - ph) // s + 1, (x.shape[3] - pw) // s + 1
    out = np.zeros(x.shape[:2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def _pool_backward(dout, cache, step=None, spread=False, average=False):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    s = s if step is None else step
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * s:i * s + ph, j * s:j * s + pw]
            if average:
                mask = np.ones_like(window) / (1 if spread else ph * pw)
            else:
                mask = window == window.max(axis=(2, 3), keepdims=True)
                mask = mask / (ph * pw) if spread else mask
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += mask * dout[:, :, i, j, None, None]
    return dx


def max_pool_backward_naive(dout, cache):
    return _pool_backward(dout, cache)


def max_pool_backward_reshape(dout, cache):  # windows that tile the input (stride = size)
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    n, c, ho, wo = dout.shape
    tiles = x[:, :, :ho * ph, :wo * pw].reshape(n, c, ho, ph, wo, pw)
    mask = tiles == tiles.max(axis=(3, 5), keepdims=True)
    dx = np.zeros_like(x)
    dx[:, :, :ho * ph, :wo * pw] = (mask * dout[:, :, :, None, :, None]).reshape(
        n, c, ho * ph, wo * pw)
    return dx


def max_pool_stride_forgotten(dout, cache):
    return _pool_backward(dout, cache, step=1)


def max_pool_averaged(dout, cache):
    return _pool_backward(dout, cache, spread=True)


def avg_pool_backward_naive(dout, cache):
    return _pool_backward(dout, cache, average=True)


def avg_pool_not_divided(dout, cache):
    return _pool_backward(dout, cache, average=True, spread=True)


# -- a recurrent (Elman, tanh) layer: one step and a sequence ----------------------------

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dz = dnext_h * (1 - next_h ** 2)
    return dz @ Wx.T, dz @ Wh.T, x.T @ dz, prev_h.T @ dz, dz.sum(axis=0)


def rnn_step_backward_einsum(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dz = np.einsum("nh,nh->nh", dnext_h, 1 - next_h ** 2)
    return (np.einsum("nh,dh->nd", dz, Wx), np.einsum("nh,kh->nk", dz, Wh),
            np.einsum("nd,nh->dh", x, dz), np.einsum("nk,nh->kh", prev_h, dz),
            np.einsum("nh->h", dz))


def rnn_step_slope_of_prev(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dz = dnext_h * (1 - prev_h ** 2)
    return dz @ Wx.T, dz @ Wh.T, x.T @ dz, prev_h.T @ dz, dz.sum(axis=0)


def rnn_step_dwh_next(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dz = dnext_h * (1 - next_h ** 2)
    return dz @ Wx.T, dz @ Wh.T, x.T @ dz, next_h.T @ dz, dz.sum(axis=0)


def rnn_step_wh_untransposed(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dz = dnext_h * (1 - next_h ** 2)
    return dz @ Wx.T, dz @ Wh, x.T @ dz, prev_h.T @ dz, dz.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    n, t_len, _ = x.shape
    h, caches, prev = np.zeros((n, t_len, h0.shape[1])), [], h0
    for t in range(t_len):
        prev, cache = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        h[:, t] = prev
        caches.append(cache)
    return h, caches


def _rnn_backward(dh, caches, recurrent=True, lag_h=False):
    n, t_len, _ = dh.shape
    x0, h0, Wx, Wh, _ = caches[0]
    dx = np.zeros((n, t_len, x0.shape[1]))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])
    dprev = np.zeros_like(h0)
    for t in reversed(range(t_len)):
        x, prev_h, _, _, next_h = caches[t]
        dz = (dh[:, t] + (dprev if recurrent else 0)) * (1 - next_h ** 2)
        dx[:, t] = dz @ Wx.T
        dWx += x.T @ dz
        dWh += (next_h if lag_h else prev_h).T @ dz
        db += dz.sum(axis=0)
        dprev = dz @ Wh.T
    return dx, dprev, dWx, dWh, db


def rnn_backward(dh, cache):
    return _rnn_backward(dh, cache)


def rnn_backward_by_steps(dh, cache):  # the step function, called T times
    dx = np.zeros(dh.shape[:2] + (cache[0][0].shape[1],))
    dprev, grads = 0.0, None
    for t in reversed(range(dh.shape[1])):
        dx[:, t], dprev, *g = rnn_step_backward(dh[:, t] + dprev, cache[t])
        grads = g if grads is None else [a + b for a, b in zip(grads, g)]
    return (dx, dprev, *grads)


def rnn_backward_no_recurrent_term(dh, cache):
    return _rnn_backward(dh, cache, recurrent=False)


def rnn_backward_h_t(dh, cache):
    return _rnn_backward(dh, cache, lag_h=True)


def rnn_backward_shifted(dh, cache):  # the upstream gradient read one step late
    shifted = np.zeros_like(dh)
    shifted[:, 1:] = dh[:, :-1]
    return _rnn_backward(shifted, cache)


SQUARE = {"N": 4, "D": 4, "M": 4}

CORRECT = [
    Code("affine", "affine", affine_backward),
    Code("affine-with-forward", "affine", affine_backward, affine_forward),
    Code("affine-einsum", "affine", affine_backward_einsum, shape={"N": 7}),
    Code("affine-loops", "affine", affine_backward_loops),
    Code("affine-dot", "affine", affine_backward_dot, shape={"N": 1}),
    Code("affine-columns", "affine", affine_backward_columns, layout="columns"),
    Code("affine-columns-einsum", "affine", affine_backward_columns_einsum, layout="columns"),
    Code("affine-square", "affine", affine_backward, shape=SQUARE),
    Code("relu", "relu", relu_backward),
    Code("relu-with-forward", "relu", relu_backward, relu_forward),
    Code("relu-where", "relu", relu_backward_where),
    Code("relu-heaviside", "relu", relu_backward_heaviside),
    Code("relu-loops", "relu", relu_backward_loops),
    Code("relu-copy", "relu", relu_backward_copy, layout="columns"),
    Code("sigmoid", "sigmoid", sigmoid_backward, sigmoid_forward),
    Code("tanh", "tanh", tanh_backward, tanh_forward, layout="columns"),
    Code("softmax-loss", "softmax_loss", softmax_loss),
    Code("softmax-loss-loops", "softmax_loss", softmax_loss_loops),
    Code("softmax-loss-logsumexp", "softmax_loss", softmax_loss_logsumexp, shape={"C": 10}),
    Code("softmax-loss-columns", "softmax_loss", softmax_loss_columns, layout="columns"),
    Code("batchnorm", "batchnorm", batchnorm_backward, batchnorm_forward),
    Code("batchnorm-staged", "batchnorm", batchnorm_backward_staged, batchnorm_forward),
    Code("batchnorm-einsum", "batchnorm", batchnorm_backward_einsum, batchnorm_forward,
         shape={"N": 3, "D": 2}),
    Code("batchnorm-loops", "batchnorm", batchnorm_backward_loops, batchnorm_forward),
    Code("dropout", "dropout", dropout_backward, dropout_forward),
    Code("dropout-backward-alone", "dropout", dropout_backward),
    Code("dropout-where", "dropout", dropout_backward_where, dropout_forward),
    Code("softmax", "softmax", softmax_backward, softmax_forward),
    Code("softmax-jacobian", "softmax", softmax_backward_jacobian),
    Code("log-softmax", "log_softmax", log_softmax_backward, log_softmax_forward),
    Code("conv-naive", "conv", conv_backward_naive, conv_forward_naive),
    Code("conv-windows", "conv", conv_backward_windows, hyper={"stride": 3, "pad": 2}),
    Code("conv-full-convolution", "conv", conv_backward_full_convolution,
         hyper={"stride": 1, "pad": 1}),
    Code("max-pool-naive", "max_pool", max_pool_backward_naive, max_pool_forward_naive),
    Code("max-pool-overlapping", "max_pool", max_pool_backward_naive,
         hyper={"pool_height": 3, "pool_width": 3, "stride": 2}),
    Code("max-pool-reshape", "max_pool", max_pool_backward_reshape, shape={"H": 8, "W": 6}),
    Code("avg-pool-naive", "avg_pool", avg_pool_backward_naive),
    Code("rnn-step", "rnn_step", rnn_step_backward, rnn_step_forward),
    Code("rnn-step-einsum", "rnn_step", rnn_step_backward_einsum, rnn_step_forward,
         shape={"N": 1, "H": 2}),
    Code("rnn", "rnn", rnn_backward, rnn_forward),
    Code("rnn-by-steps", "rnn", rnn_backward_by_steps, rnn_forward, shape={"T": 7}),
]

WRONG = [
    Code("affine-dw-transposed", "affine", affine_dw_transposed, expect={"dw": "transposed"}),
    Code("affine-dx-w-untransposed", "affine", affine_dx_w_untransposed,
         shape={"D": 4, "M": 4}, expect={"dx": "transposed"}),
    Code("affine-db-axis1", "affine", affine_db_axis1, expect={"db": "wrong_axis"}),
    Code("affine-db-not-summed", "affine", affine_db_not_summed, expect={"db": "not_summed"}),
    Code("affine-dw-mean", "affine", affine_dw_mean, expect={"dw": "factor_n"}),
    Code("affine-dx-mean", "affine", affine_dx_mean, expect={"dx": "factor_n"}),
    Code("affine-dx-hadamard", "affine", affine_dx_hadamard, shape=SQUARE,
         expect={"dx": "hadamard_for_matrix"}),
    Code("affine-columns-dw-transposed", "affine", affine_columns_dw_transposed,
         layout="columns", expect={"dw": "transposed"}),
    Code("affine-columns-db-axis0", "affine", affine_columns_db_axis0, layout="columns",
         expect={"db": "wrong_axis"}),
    Code("relu-matmul", "relu", relu_matmul, shape={"N": 4, "D": 4},
         expect={"dx": "matrix_for_hadamard"}),
    Code("relu-times-x", "relu", relu_times_x, expect={"dx": None}),
    Code("sigmoid-matmul", "sigmoid", sigmoid_matmul, sigmoid_forward, shape={"N": 5, "D": 5},
         expect={"dx": "matrix_for_hadamard"}),
    Code("softmax-loss-no-mean", "softmax_loss", softmax_loss_no_mean,
         expect={"dx": "factor_n"}),
    Code("softmax-loss-summed", "softmax_loss", softmax_loss_summed,
         expect={"loss": "factor_n"}),
    Code("softmax-loss-sign", "softmax_loss", softmax_loss_sign, expect={"dx": "sign"}),
    Code("softmax-loss-columns-rows-dx", "softmax_loss", softmax_loss_columns_rows_dx,
         layout="columns", expect={"dx": "transposed"}),
    Code("batchnorm-no-mean-terms", "batchnorm", batchnorm_no_mean_terms, batchnorm_forward,
         expect={"dx": "batchnorm_mean_terms"}),
    Code("batchnorm-no-variance-term", "batchnorm", batchnorm_no_variance_term,
         batchnorm_forward, expect={"dx": "batchnorm_mean_terms"}),
    Code("batchnorm-no-mean-of-dout", "batchnorm", batchnorm_no_mean_of_dout,
         batchnorm_forward, expect={"dx": "batchnorm_mean_terms"}),
    Code("batchnorm-unbiased-variance", "batchnorm", batchnorm_backward_staged,
         batchnorm_forward_unbiased,
         expect={"out": "variance_n_minus_1", "dx": "variance_n_minus_1"}),
    Code("batchnorm-dvar-n-minus-1", "batchnorm", batchnorm_dvar_n_minus_1, batchnorm_forward,
         expect={"dx": "variance_n_minus_1"}),
    Code("batchnorm-dgamma-axis1", "batchnorm", batchnorm_dgamma_axis1, batchnorm_forward,
         expect={"dgamma": "wrong_axis"}),
    Code("batchnorm-dbeta-all", "batchnorm", batchnorm_dbeta_all, batchnorm_forward,
         expect={"dbeta": "wrong_axis"}),
    Code("batchnorm-dbeta-not-summed", "batchnorm", batchnorm_dbeta_transposed_sum,
         batchnorm_forward, expect={"dbeta": "not_summed"}),
    Code("dropout-unscaled", "dropout", dropout_backward, dropout_forward_unscaled,
         expect={"out": "dropout_not_rescaled", "dx": "dropout_not_rescaled"}),
    Code("dropout-times-p", "dropout", dropout_backward, dropout_forward_times_p,
         expect={"out": "dropout_not_rescaled", "dx": "dropout_not_rescaled"}),
    Code("dropout-drop-rate", "dropout", dropout_backward, dropout_forward_drop_rate,
         expect={"out": "dropout_not_rescaled", "dx": "dropout_not_rescaled"}),
    Code("dropout-boolean-mask", "dropout", dropout_backward_boolean,
         expect={"dx": "dropout_not_rescaled"}),
    Code("softmax-diagonal", "softmax", softmax_diagonal, softmax_forward,
         expect={"dx": "softmax_diagonal"}),
    Code("softmax-sign", "softmax", softmax_sign, expect={"dx": "sign"}),
    Code("log-softmax-diagonal", "log_softmax", log_softmax_diagonal, log_softmax_forward,
         expect={"dx": "softmax_diagonal"}),
    Code("conv-not-flipped", "conv", conv_not_flipped, hyper={"stride": 1, "pad": 1},
         expect={"dx": "kernel_not_flipped"}),
    Code("conv-stride-forgotten", "conv", conv_stride_forgotten,
         expect={"dx": "stride_padding", "dw": "stride_padding"}),
    Code("conv-padding-kept", "conv", conv_padding_kept, expect={"dx": "stride_padding"}),
    Code("conv-db-axes", "conv", conv_db_axes, expect={"db": "wrong_axis"}),
    Code("conv-dw-channels-swapped", "conv", conv_dw_channels_swapped,
         expect={"dw": "transposed"}),
    Code("max-pool-stride-forgotten", "max_pool", max_pool_stride_forgotten,
         expect={"dx": "stride_padding"}),
    Code("max-pool-averaged", "max_pool", max_pool_averaged,
         expect={"dx": "constant_factor"}),
    Code("avg-pool-not-divided", "avg_pool", avg_pool_not_divided,
         expect={"dx": "constant_factor"}),
    Code("rnn-step-slope-of-prev", "rnn_step", rnn_step_slope_of_prev, rnn_step_forward,
         expect={"dx": "time_step_off", "dWh": "time_step_off"}),
    Code("rnn-step-dwh-next", "rnn_step", rnn_step_dwh_next, rnn_step_forward,
         expect={"dWh": "time_step_off"}),
    Code("rnn-step-wh-untransposed", "rnn_step", rnn_step_wh_untransposed, rnn_step_forward,
         expect={"dprev_h": "transposed"}),
    Code("rnn-no-recurrent-term", "rnn", rnn_backward_no_recurrent_term, rnn_forward,
         expect={"dx": "bptt_recurrent", "dWh": "bptt_recurrent"}),
    Code("rnn-h-t", "rnn", rnn_backward_h_t, rnn_forward, expect={"dWh": "time_step_off"}),
    Code("rnn-shifted", "rnn", rnn_backward_shifted, rnn_forward,
         expect={"dx": "time_step_off", "dh0": "time_step_off"}),
]
