"""Curvature-weighted Gram matrices of an objective's rows, and the Lipschitz bound.

The metrics of :class:`skce._coordinates.WhitenedCoordinates` and the largest
eigenvalue behind ``learning_rate="auto"``, each a sum over the rows of a
:class:`skce._objective.LinearObjective` (a row sample or a dask chunk is one).
"""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh

from ._columns import major_slices

__all__ = [
    "coupled_gram",
    "gram_eigenvalue",
    "standardized_gram",
    "top_eigenvalue",
    "weighted_gram_matvec",
]

#: Stored entries of sparse X per slice when a Gram matrix is summed: the
#: temporary memory is a few slices and the ``d x d`` result.
GRAM_CHUNK_ENTRIES = 1 << 16

#: Up to this many parameters per output (features + intercept), dense data gets
#: its Lipschitz constant from an exact eigen-decomposition of the Gram matrix;
#: beyond it, and for sparse data, from Lanczos iterations.
EXACT_EIGEN_MAX = 2000


def _standardized_rows(objective, rows, mean, sigma, tau):
    """``S = [(X[rows] - mean) / sigma, 1 / tau]``, float64, one dense block."""
    d = objective.n_features
    S = np.empty((rows.stop - rows.start, d + 1))
    np.subtract(objective.X[rows], mean, out=S[:, :d])
    S[:, :d] /= sigma
    S[:, d] = 1.0 / tau
    return S


def standardized_gram(objective, theta, mean, sigma, tau, floor):
    """Curvature-weighted Gram matrix of the standardised columns.

    With ``S = [(X - mean) / sigma, 1 / tau]`` (the columns the standardised
    coordinates see) and weights ``h_i = w_i (c(z_i) + floor * kappa)``, where
    ``c`` is the loss's curvature per unit weight at the logits of ``theta``
    averaged over the outputs (``theta=None``: its bound ``kappa``, Böhning's),
    returns ``G = S^T diag(h) S`` of shape ``(d + 1, d + 1)``: the Hessian of
    ``J`` in the standardised coordinates at ``theta``, without the penalty (for
    softmax, the average of its diagonal blocks).
    """
    d = objective.n_features
    kappa = objective.loss.curvature_bound
    G = np.zeros((d + 1, d + 1))
    Wx, b = objective.logit_weights(theta) if theta is not None else (None, None)
    for rows in objective.row_blocks:
        w = objective.total_weight[rows]
        if theta is None:
            h = (1.0 + floor) * kappa * w
        else:
            curvature = objective.loss.curvature(objective.logits(rows, Wx, b)).mean(axis=0)
            h = (curvature + floor * kappa) * w
        if objective.sparse:
            _add_sparse_gram(objective.X, G, h, mean, sigma, tau)
        else:
            # sqrt(h) S in one block-sized buffer: S^T diag(h) S = (sqrt(h) S)^T (sqrt(h) S).
            S = _standardized_rows(objective, rows, mean, sigma, tau)
            S *= np.sqrt(h)[:, None]
            G += S.T @ S
            del S
    return G


def coupled_gram(objective, theta, mean, sigma, tau, floor):
    """The softmax Hessian in the standardised coordinates, classes coupled (dense ``X``).

    With ``S`` as in :func:`standardized_gram` and the class probabilities
    ``q_i`` at ``theta``, the ``(K (d + 1), K (d + 1))`` matrix whose block
    ``(k, l)`` is ``S^T diag(w (q_k (delta_kl - q_l) + floor kappa (delta_kl - 1/K))) S``
    (the penalty left out), summed as ``K + 1`` Gram matrices of ``S`` and one of
    the rows ``q_i kron s_i`` (``K (d + 1)`` wide, in chunks of rows) for ``q q^T``.
    """
    k, d = objective.n_outputs, objective.n_features
    p = d + 1
    kappa = objective.loss.curvature_bound
    Wx, b = objective.logit_weights(theta)
    M = np.zeros((k, p, k, p))
    G0 = np.zeros((p, p))
    QQ = np.zeros((k * p, k * p))
    chunk = max(1, (1 << 20) // (8 * k * p))  # rows of q kron s per product, ~1 MB
    for start in range(0, objective.n_samples, chunk):
        rows = slice(start, min(start + chunk, objective.n_samples))
        S = _standardized_rows(objective, rows, mean, sigma, tau)
        q = objective.loss.probabilities(objective.logits(rows, Wx, b))
        w = objective.total_weight[rows]
        G0 += S.T @ (w[:, None] * S)
        for j in range(k):
            M[j, :, j, :] += S.T @ ((w * q[j])[:, None] * S)
        B = (np.sqrt(w)[:, None, None] * q.T[:, :, None]) * S[:, None, :]
        B = B.reshape(len(w), k * p)
        QQ += B.T @ B
    M = M.reshape(k * p, k * p) - QQ
    M += floor * kappa * np.kron(np.eye(k) - 1.0 / k, G0)
    return M


def _add_sparse_gram(X, G, h, mean, sigma, tau, chunk=GRAM_CHUNK_ENTRIES):
    """Add ``S^T diag(h) S`` for sparse ``X`` without densifying or copying it.

    ``(X - 1 mean^T)^T H (X - 1 mean^T) = X^T H X - mean s^T - s mean^T +
    (sum h) mean mean^T`` with ``s = X^T h``. ``X^T H X`` is summed over slices
    of about ``chunk`` stored entries (rows of CSR, columns of CSC).
    """
    d = X.shape[1]
    h = np.ascontiguousarray(h)
    XtHX = np.zeros((d, d))
    for start, stop in major_slices(X, chunk):
        if X.format == "csr":
            part = X[start:stop]
            XtHX += (part.T @ sp.diags(h[start:stop]) @ part).toarray()
        else:
            # Columns start:stop of X^T H X = X^T (H X[:, start:stop]).
            XtHX[:, start:stop] += (X.T @ (sp.diags(h) @ X[:, start:stop])).toarray()
    s = np.asarray(X.T @ h).ravel()
    total = float(h.sum())
    block = XtHX - np.outer(mean, s) - np.outer(s, mean) + total * np.outer(mean, mean)
    G[:d, :d] += block / np.outer(sigma, sigma)
    col = (s - total * mean) / sigma / tau
    G[:d, d] += col
    G[d, :d] += col
    G[d, d] += total / tau**2


def weighted_gram_matvec(objective, v):
    """``X1^T diag(w) X1 v`` for ``X1 = [X, 1]`` (intercept column if fitted)."""
    d = objective.n_features
    W = v[:d].reshape(1, d).astype(objective.dtype)
    b = v[d:] if objective.fit_intercept else np.zeros(1)
    out = np.zeros(d + objective.fit_intercept)
    outW = out[:d].reshape(1, d)
    for rows in objective.row_blocks:
        u = objective.logits(rows, W, b) * objective.total_weight[rows]
        objective.add_backward(rows, u, outW)
        if objective.fit_intercept:
            out[d] += u.sum()
    return out


def top_eigenvalue(matvec, m):
    """An upper bound on the largest eigenvalue of a PSD ``m x m`` operator, by Lanczos.

    ``matvec(v)`` applies the operator. Lanczos (``scipy.sparse.linalg.eigsh``)
    approaches the top eigenvalue from below; a margin of ``1e-5`` (relative)
    keeps ``1/L`` built on it a safe gradient step (stable for any step ``< 2/L``).
    """
    if m == 1:
        return float(matvec(np.ones(1))[0])
    v0 = np.ones(m) / np.sqrt(m)
    if not np.all(np.isfinite(matvec(v0))):
        return np.inf  # the operator's entries overflow: no finite bound
    op = LinearOperator((m, m), matvec=matvec, dtype=np.float64)
    lam = float(eigsh(op, k=1, which="LA", tol=1e-6, v0=v0, return_eigenvectors=False)[0])
    return lam * (1.0 + 1e-5)


def gram_eigenvalue(objective):
    """``max(lambda_max(X1^T diag(w) X1), 0)``: exact for small dense, Lanczos otherwise."""
    m = objective.n_features + objective.fit_intercept
    if objective.sparse or m > EXACT_EIGEN_MAX:
        return max(top_eigenvalue(lambda v: weighted_gram_matvec(objective, v), m), 0.0)
    G = np.zeros((m, m))
    d = objective.n_features
    for rows in objective.row_blocks:
        Xb = objective.X[rows].astype(np.float64, copy=False)
        w = objective.total_weight[rows]
        G[:d, :d] += Xb.T @ (w[:, None] * Xb)
        if objective.fit_intercept:
            col = Xb.T @ w
            G[:d, d] += col
            G[d, :d] += col
            G[d, d] += w.sum()
    if not np.all(np.isfinite(G)):
        return np.inf  # the Gram matrix overflows: no finite bound
    return max(float(np.linalg.eigvalsh(G)[-1]), 0.0)
