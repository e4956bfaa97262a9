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
            G += _sparse_gram(objective, h[:, None], mean, sigma, tau)[0]
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
    if objective.sparse:
        return _sparse_coupled_gram(objective, Wx, b, mean, sigma, tau, floor)
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


def _sparse_coupled_gram(objective, Wx, b, mean, sigma, tau, floor):
    """:func:`coupled_gram` for sparse ``X``: ``K (K + 1) / 2`` weighted Gram matrices.

    Block ``(k, l)`` is ``S^T diag(h_kl) S`` with the weights
    ``h_kl = w (q_k (delta_kl - q_l) + floor kappa (delta_kl - 1/K))``, all
    summed in one product with the pair matrix (:func:`_sparse_gram`).
    """
    k, p = objective.n_outputs, objective.n_features + 1
    kappa = objective.loss.curvature_bound
    q = objective.loss.probabilities(objective.logits(slice(None), Wx, b))
    w = objective.total_weight
    blocks = [(j, m) for j in range(k) for m in range(j, k)]
    H = np.empty((objective.n_samples, len(blocks)))
    for c, (j, m) in enumerate(blocks):
        H[:, c] = w * (q[j] * ((j == m) - q[m]) + floor * kappa * ((j == m) - 1.0 / k))
    grams = _sparse_gram(objective, H, mean, sigma, tau)
    M = np.zeros((k, p, k, p))
    for (j, m), block in zip(blocks, grams, strict=True):
        M[j, :, m, :] = block
        M[m, :, j, :] = block.T
    return M.reshape(k * p, k * p)


#: Products ``x_ij x_il`` per piece of the pair matrix (:func:`_pair_pieces`): the
#: build's temporaries are about 60 bytes per product, so a piece stays near 4 MB
#: whatever the data's size.
PAIR_PIECE = 1 << 16


def _pair_pieces(X):
    """The pair matrix of sparse ``X``, one piece of consecutive rows at a time.

    Yields ``(rows, E)``: for the rows ``rows``, ``E`` is CSR of shape
    ``(rows, d^2)`` whose row ``i`` holds every product ``x_ij x_il`` (``j <= l``)
    of two stored entries of row ``i``, in column ``j d + l``. Then the upper
    triangle of ``X^T diag(h) X`` is ``E^T h``: ``sum_i nnz_i (nnz_i + 1) / 2``
    multiply-adds, not ``d^2`` per row. The pieces are built where they are
    used, not kept: together they are several times the size of ``X``.
    """
    Xr = X
    n, d = Xr.shape
    widths = np.diff(Xr.indptr).astype(np.int64)
    pairs = widths * (widths + 1) // 2
    ends = np.cumsum(pairs)
    start = 0
    while start < n:
        done = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, done + PAIR_PIECE, side="right")))
        lo, hi = Xr.indptr[start], Xr.indptr[stop]
        w = widths[start:stop]
        # Entry e at place t of its row pairs with the entries t .. w - 1 of the row.
        place = np.arange(hi - lo) - np.repeat(Xr.indptr[start:stop] - lo, w)
        count = np.repeat(w, w) - place
        first = np.repeat(np.arange(lo, hi), count)
        second = first + (np.arange(first.size) - np.repeat(np.cumsum(count) - count, count))
        j, m = Xr.indices[first], Xr.indices[second]
        key = np.minimum(j, m).astype(np.int64) * d + np.maximum(j, m)
        values = Xr.data[first].astype(np.float64) * Xr.data[second]
        indptr = np.concatenate([[0], np.cumsum(pairs[start:stop])])
        yield slice(start, stop), sp.csr_matrix((values, key, indptr), shape=(stop - start, d * d))
        start = stop


def _sparse_gram(objective, H, mean, sigma, tau):
    """``S^T diag(H[:, c]) S`` for each column ``c`` of ``H`` (sparse ``X``): (m, d + 1, d + 1).

    ``X^T H X`` from the pair matrix, then the centring and scaling:
    ``(X - 1 mean^T)^T H (X - 1 mean^T) = X^T H X - mean s^T - s mean^T +
    (sum h) mean mean^T`` with ``s = X^T h``.
    """
    X, d = objective.X, objective.n_features
    m = H.shape[1]
    if X.format == "csr":
        upper = np.zeros((d * d, m))
        for rows, E in _pair_pieces(X):
            upper += E.T @ H[rows]
        upper = upper.T.reshape(m, d, d)
        diagonal = np.arange(d)
        XtHX = upper + upper.transpose(0, 2, 1)
        XtHX[:, diagonal, diagonal] = upper[:, diagonal, diagonal]
    else:
        # CSC has no rows to pair (a CSR copy would double X): columns a:b of
        # X^T H X are X^T (H X[:, a:b]), over slices of about PAIR_PIECE entries.
        XtHX = np.zeros((m, d, d))
        Xt = X.T
        for a, b in major_slices(X, PAIR_PIECE):
            for c in range(m):
                XtHX[c, :, a:b] = (Xt @ (sp.diags(H[:, c]) @ X[:, a:b])).toarray()
    s = np.asarray(X.T @ H).T  # (m, d)
    total = H.sum(axis=0)
    out = np.empty((m, d + 1, d + 1))
    scale = np.outer(sigma, sigma)
    for c in range(m):
        block = XtHX[c] - np.outer(mean, s[c]) - np.outer(s[c], mean)
        block += total[c] * np.outer(mean, mean)
        out[c, :d, :d] = block / scale
        col = (s[c] - total[c] * mean) / sigma / tau
        out[c, :d, d] = col
        out[c, d, :d] = col
        out[c, d, d] = total[c] / tau**2
    return out


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
