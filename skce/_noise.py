"""How far rounding can move the objective and its gradient: the arithmetic's resolution.

The solvers ask for it where a line search can no longer move (see
:func:`skce._loop.minimise`): a gradient entry within a small multiple of its
rounding noise cannot be made smaller reliably, and an objective difference
within the objective's noise cannot be told from zero.
"""

import numpy as np
import scipy.sparse as sp

from ._columns import major_slices

__all__ = ["l2_penalty_noise", "rounding_noise"]


def l2_penalty_noise(alpha, W, eps):
    """Rounding noise of ``(alpha / 2) ||W||^2`` (value, gradient) at unit roundoff ``eps``."""
    return eps * 0.5 * alpha * float(np.vdot(W, W)), eps * alpha * np.abs(W)


def rounding_noise(objective, theta):
    """``(f_noise, g_noise)``: how far rounding can move ``J`` and each entry of ``grad J``.

    For float64 data, a first-order error model (two passes over ``X``, like
    one evaluation): a logit is a sum of products, so it carries an absolute
    error up to about ``delta_i = eps (|x_i| . |w| + |b|)``. That error reaches
    the residual ``dl/dz`` through the curvature (``p (1 - p)`` per unit
    weight), and the residual itself is rounded (``eps`` per unit weight; the
    loss's ``residual_error``, which for softmax includes the other classes'
    errors through the normalisation); the gradient sums these errors times
    ``|x_ij|``, the objective the residual times ``delta_i``. The sums carry a
    further ``eps`` per term, and the softmax loss the rounding of ln of its sum
    of exponentials, ``eps`` per unit weight (the loss's ``value_rounding``):
    near a sharp optimum, where the loss is far below its weight, that is most
    of the objective's noise (raw wine with class weight 64: 1e-16 on J = 5e-5).

    For float32 data the logits are computed in float32, and the model's
    worst-case sums overstate their error (on raw breast cancer, 170 times,
    which declared a stall far above the float32 floor): the error is measured
    instead, as the difference from the same evaluation in float64 (the float64
    model's noise added as its floor). Three passes over ``X``, only where a
    stall is suspected.
    """
    f_floor, g_floor = _modelled(objective, theta)
    if objective.dtype == np.float64:
        return f_floor, g_floor
    f, g = objective.value_and_grad(theta)
    f64, g64 = _float64_value_and_grad(objective, theta)
    return abs(f - f64) + f_floor, np.abs(g - g64) + g_floor


def _float64_value_and_grad(objective, theta):
    """``J`` and its gradient with ``X`` promoted to float64, block by block."""
    W, b = objective.unpack(theta)
    grad = np.zeros_like(theta)
    gW, gb = objective.unpack(grad)
    loss = 0.0
    X = objective.X.astype(np.float64) if objective.sparse else objective.X
    for rows in objective.row_blocks:
        Xb = X if objective.sparse else X[rows].astype(np.float64)
        Z = np.asarray(Xb @ W.T).T + b[:, None]
        part, dZ = objective.loss.loss_gradient(
            Z, objective.A[:, rows], objective.total_weight[rows]
        )
        loss += part
        gW += np.asarray(dZ @ Xb) if not objective.sparse else np.asarray((Xb.T @ dZ.T).T)
        if objective.fit_intercept:
            gb += dZ.sum(axis=1)
    penalty = 0.5 * objective.alpha * float(np.vdot(W, W))
    gW += objective.alpha * W
    return loss + penalty, grad


def _modelled(objective, theta):
    """The first-order error model of float64 arithmetic (see :func:`rounding_noise`)."""
    eps = float(np.finfo(np.float64).eps)
    W, b = objective.unpack(theta)
    X = objective.X
    absW = np.abs(W).astype(X.dtype)
    absb = np.abs(b)
    Wx = W.astype(X.dtype, copy=False)
    g_noise = np.zeros_like(theta)
    nW, nb = objective.unpack(g_noise)
    f_noise = 0.0
    for rows in objective.row_blocks:
        if objective.sparse:
            delta = _abs_sparse_forward(X, absW)
        else:
            delta = (absW @ np.abs(X[rows]).T).astype(np.float64)
        delta += absb[:, None]
        delta *= eps
        Z = objective.logits(rows, Wx, b)
        weight = objective.total_weight[rows]
        loss, dZ = objective.loss.loss_gradient(Z.copy(), objective.A[:, rows], weight)
        f_noise += float(np.sum(np.abs(dZ) * delta)) + eps * abs(loss)
        # The loss's own rounding (ln of a rounded sum: eps per unit weight).
        f_noise += eps * objective.loss.value_rounding * float(weight.sum())
        err = (objective.loss.residual_error(Z, delta) + 2.0 * eps) * weight
        if objective.sparse:
            _abs_sparse_backward(X, err, nW)
        else:
            nW += (err @ np.abs(X[rows])).astype(np.float64)
        if objective.fit_intercept:
            nb += err.sum(axis=1)
    penalty_f, penalty_g = l2_penalty_noise(objective.alpha, W, eps)
    nW += penalty_g
    return f_noise + penalty_f, g_noise


def _abs_sparse_slices(X):
    """``(start, stop, |X| slice)`` over major slices of sparse ``X``, on views of it."""
    for start, stop in major_slices(X, 1 << 16):
        lo, hi = X.indptr[start], X.indptr[stop]
        parts = (np.abs(X.data[lo:hi]), X.indices[lo:hi], X.indptr[start : stop + 1] - lo)
        if X.format == "csr":
            yield start, stop, sp.csr_matrix(parts, shape=(stop - start, X.shape[1]))
        else:
            yield start, stop, sp.csc_matrix(parts, shape=(X.shape[0], stop - start))


def _abs_sparse_forward(X, absW):
    """``|W| |X|^T``, shape (k, n), for sparse ``X``, slice by slice."""
    out = np.zeros((absW.shape[0], X.shape[0]))
    for start, stop, S in _abs_sparse_slices(X):
        if X.format == "csr":
            out[:, start:stop] = np.asarray(S @ absW.T).T
        else:
            out += np.asarray(S @ absW[:, start:stop].T).T
    return out


def _abs_sparse_backward(X, err, out_W):
    """Add ``err |X|`` (err of shape (k, n)) to ``out_W`` for sparse ``X``."""
    for start, stop, S in _abs_sparse_slices(X):
        if X.format == "csr":
            out_W += np.asarray(S.T @ err[:, start:stop].T).T
        else:
            out_W[:, start:stop] += np.asarray(S.T @ err.T).T
