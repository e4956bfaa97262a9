"""The linear model around a pointwise loss.

:class:`LinearObjective` turns a loss from :mod:`skce._loss` into the function
the solvers minimise::

    J(W, b) = sum_i l(x_i W^T + b, A_i) + (alpha / 2) ||W||_F^2

where the weighted targets ``A`` already carry the sample weights, the class
weights and the ``1 / sum_i s_i`` normalisation (see :mod:`skce._loss`), and the
intercept ``b`` is not penalised. Its gradient is the prediction error times
the input, ``grad_W = X^T dZ + alpha W`` and ``grad_b = sum_i dZ_i``.

Parameters are one flat float64 vector ``theta = [W.ravel(), b]`` with ``W`` of
shape ``(n_outputs, n_features)``. Dense ``X`` is processed in blocks of rows so
that each block is read from memory once per evaluation and stays in cache
between the forward (``X W^T``) and backward (``X^T dZ``) products; float32
blocks are promoted block by block, never ``X`` as a whole.

:class:`StandardizedCoordinates` is an exact change of variables that makes the
problem as well conditioned as if the columns had been centred and scaled, at
no cost in memory: first-order solvers run in those coordinates.

This module knows nothing of scikit-learn estimators.
"""

import copy

import numpy as np
import scipy.sparse as sp
from scipy.linalg.lapack import dtrtrs
from scipy.sparse.linalg import LinearOperator, eigsh

__all__ = [
    "FULL_METRIC_MAX_FEATURES",
    "LinearObjective",
    "LinearParameters",
    "OriginalCoordinates",
    "StandardizedCoordinates",
    "WhitenedCoordinates",
    "l2_penalty",
    "l2_penalty_noise",
    "top_eigenvalue",
    "weighted_targets",
]

# Bytes of a float64 dense row block (float32 blocks have the same rows, half the
# bytes): small enough to stay in cache between the forward and backward
# products, large enough to amortise Python overhead. 4 MiB measured best for
# float64 on the 2-core benchmark machine (docs/performance.md).
_BLOCK_BYTES = 1 << 22

# Dense data with more rows than this gets its column moments (the scales of
# the standardised coordinates) from an evenly spread sample of this many rows
# (one row per stratum of n/32k rows: LinearObjective._sample_blocks), instead of a full extra
# pass over X.
_MOMENT_SAMPLE_ROWS = 1 << 15

# Rows of the sample a large dense fit starts on (LinearObjective.row_sample).
# Measured (1 BLAS thread) on dense 200k x 100 and softmax 100k x 50, K = 10:
# 16k rows left 4 full-data iterations on both; 8k rows started the softmax fit
# too far away (10 iterations); 32k rows cost a third of the softmax data.
_START_SAMPLE_ROWS = 1 << 14

# Rows per group of a sample (:meth:`LinearObjective._sample_blocks`). The
# moment and metric samples gather one group at a time into a buffer of this
# many rows; the start sample (row_sample) copies its rows and sums over blocks
# of this many. Larger groups raise the peak memory of the sampled sums;
# smaller ones cost more Python overhead.
_SAMPLE_GROUP = 1024

# Seed of the place of each sampled row within its stratum (_sample_blocks).
_SAMPLE_SEED = 20261129

# Stored entries of sparse X per slice when the preconditioner sums its Gram matrix.
_GRAM_CHUNK_ENTRIES = 1 << 16

# Up to this many parameters per output (features + intercept), dense data gets
# its Lipschitz constant from an exact eigen-decomposition of the Gram matrix;
# beyond it, and for sparse data, from Lanczos iterations.
_EXACT_EIGEN_MAX = 2000


def weighted_targets(
    y_codes, n_classes, sample_weight, class_weight, label_smoothing=0.0, weight_total=None
):
    """Build the weighted targets ``A_ki = s_i c_k t_ki / sum_i s_i``.

    The target distribution of sample ``i`` is ``t_i = (1 - eps) onehot(y_i) +
    eps / K`` with ``eps = label_smoothing`` (one-hot for ``eps = 0``), the
    smoothing of Szegedy et al. (2016) and of PyTorch's ``CrossEntropyLoss``.

    Parameters
    ----------
    y_codes : ndarray of shape (n_samples,), int
        Class index of each sample, in ``range(n_classes)``.
    n_classes : int
    sample_weight : ndarray of shape (n_samples,)
        Non-negative, with a positive sum.
    class_weight : ndarray of shape (n_classes,)
        Non-negative per-class weights ``c_k``.
    label_smoothing : float in [0, 1), default=0
    weight_total : float, optional
        The normaliser ``sum_i s_i``; by default the sum of ``sample_weight``.
        Given when these rows are one chunk of a larger data set (the sum is
        then over every row of it, :mod:`skce._dask`).

    Returns
    -------
    A : ndarray of shape (n_classes, n_samples), float64
        Class-major, the layout of the loss blocks.
    """
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    class_weight = np.asarray(class_weight, dtype=np.float64)
    n = y_codes.shape[0]
    A = np.full((n_classes, n), label_smoothing / n_classes)
    A[y_codes, np.arange(n)] += 1.0 - label_smoothing
    A *= class_weight[:, None]
    total = sample_weight.sum() if weight_total is None else float(weight_total)
    A *= sample_weight / total
    return A


def l2_penalty(alpha, W):
    """The penalty ``(alpha / 2) ||W||_F^2`` and its gradient ``alpha W``."""
    return 0.5 * alpha * float(np.vdot(W, W)), alpha * W


def l2_penalty_noise(alpha, W, eps):
    """Rounding noise of :func:`l2_penalty` (value, gradient) at unit roundoff ``eps``."""
    return eps * 0.5 * alpha * float(np.vdot(W, W)), eps * alpha * np.abs(W)


def merge_moments(parts, centred=True):
    """Column means and spreads of all rows from those of row blocks.

    Block ``c`` gives its weight ``w_c``, mean ``m_c`` and spread
    ``S_c = sum_{i in c} w_i (x_i - m_c)^2``. Over all rows (Chan, Golub and
    LeVeque's parallel formula) ``m = sum_c w_c m_c / sum_c w_c`` and
    ``S = sum_c S_c + sum_c w_c (m_c - m)^2``. With ``centred=False`` the
    means are zero, the spreads uncentred, and they simply add.

    Parameters
    ----------
    parts : iterable of (mean, spread2, weight)
        Per block: arrays of shape (n_columns,) and a float.

    Returns
    -------
    mean, spread2 : ndarray of shape (n_columns,)
    weight : float
    """
    parts = list(parts)
    wsum = float(sum(w_c for _, _, w_c in parts))
    mean = np.zeros_like(np.asarray(parts[0][0], dtype=np.float64))
    if centred and wsum > 0:
        for m_c, _, w_c in parts:
            mean += w_c * m_c
        mean /= wsum
    spread2 = np.zeros_like(mean)
    for m_c, s_c, w_c in parts:
        spread2 += s_c
        if centred:
            spread2 += w_c * (m_c - mean) ** 2
    return mean, spread2, wsum


def top_eigenvalue(matvec, m):
    """An upper bound on the largest eigenvalue of a PSD ``m x m`` operator, by Lanczos.

    ``matvec(v)`` applies the operator. Lanczos (``scipy.sparse.linalg.eigsh``)
    approaches the top eigenvalue from below; a margin of ``1e-5`` (relative)
    keeps ``1/L`` built on it a safe gradient step (stable for any step
    ``< 2/L``).
    """
    if m == 1:
        return float(matvec(np.ones(1))[0])
    v0 = np.ones(m) / np.sqrt(m)
    if not np.all(np.isfinite(matvec(v0))):
        return np.inf  # the operator's entries overflow: no finite bound
    op = LinearOperator((m, m), matvec=matvec, dtype=np.float64)
    lam = float(eigsh(op, k=1, which="LA", tol=1e-6, v0=v0, return_eigenvectors=False)[0])
    return lam * (1.0 + 1e-5)


def _major_slices(X, chunk):
    """``(start, stop)`` ranges of major indices (rows of CSR, columns of CSC).

    Each range holds about ``chunk`` stored entries (at least one major index),
    so work on ``X`` slice by slice needs a few times ``chunk`` of memory.
    """
    n_major = X.shape[0] if X.format == "csr" else X.shape[1]
    start = 0
    while start < n_major:
        stop = int(np.searchsorted(X.indptr, X.indptr[start] + chunk, side="right"))
        stop = min(max(stop - 1, start + 1), n_major)
        yield start, stop
        start = stop


def _sparse_weighted_column_sums(X, w, chunk=1 << 14):
    """``(sum_i w_i x_ij, sum_i w_i x_ij^2)`` for a CSR or CSC matrix, in float64.

    Works on slices of ``X.data`` of about ``chunk`` stored entries, so the
    temporary memory is a few times ``chunk``, never a copy of ``X``.
    """
    d = X.shape[1]
    s1 = np.zeros(d)
    s2 = np.zeros(d)
    by_row = X.format == "csr"
    indptr = X.indptr
    for start, stop in _major_slices(X, chunk):
        lo, hi = int(indptr[start]), int(indptr[stop])
        data = X.data[lo:hi].astype(np.float64)
        minor = X.indices[lo:hi]
        major = np.repeat(np.arange(start, stop), np.diff(indptr[start : stop + 1]))
        if by_row:
            weighted = data * w[major]
            s1 += np.bincount(minor, weights=weighted, minlength=d)
            s2 += np.bincount(minor, weights=weighted * data, minlength=d)
        else:
            weighted = data * w[minor]
            s1 += np.bincount(major, weights=weighted, minlength=d)
            s2 += np.bincount(major, weights=weighted * data, minlength=d)
    return s1, s2


class LinearParameters:
    """The parameter layout of a linear model: ``theta = (W.ravel(), b)``.

    Shared by the objectives (:class:`LinearObjective`, and the chunked one of
    :mod:`skce._dask`), which set ``n_outputs``, ``n_features`` and
    ``fit_intercept``; without an intercept ``b`` is not in ``theta``.
    """

    def unpack(self, theta):
        """Views ``(W, b)`` of a flat parameter vector; ``b`` is zeros without intercept."""
        k, d = self.n_outputs, self.n_features
        W = theta[: k * d].reshape(k, d)
        b = theta[k * d :] if self.fit_intercept else np.zeros(k)
        return W, b

    def pack(self, W, b):
        """Flat float64 parameter vector from ``W`` (k, d) and ``b`` (k,)."""
        W = np.asarray(W, dtype=np.float64).reshape(self.n_outputs, self.n_features)
        parts = [W.ravel()]
        if self.fit_intercept:
            parts.append(np.asarray(b, dtype=np.float64).reshape(self.n_outputs))
        return np.concatenate(parts)


class LinearObjective(LinearParameters):
    """Penalised weighted cross-entropy of a linear model.

    Parameters
    ----------
    loss : object
        A loss from :mod:`skce._loss` (``loss_gradient``, ``n_outputs``,
        ``curvature_bound``).
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        float32 or float64; never copied (a row sample, :meth:`row_sample`,
        copies its rows).
    A : ndarray of shape (n_classes, n_samples)
        Weighted targets, class-major (see :func:`weighted_targets`).
    alpha : float
        L2 penalty on ``W``.
    fit_intercept : bool
    block_rows : int, optional
        Dense ``X`` only: rows per block of the sums over ``X`` (by default as
        many as make a 4 MiB float64 block). A row sample (:meth:`row_sample`)
        uses small blocks, so that its temporaries stay small.
    """

    def __init__(self, loss, X, A, alpha, fit_intercept=True, block_rows=None):
        self.loss = loss
        self.X = X
        self.A = A
        self.total_weight = A.sum(axis=0)
        self.alpha = float(alpha)
        self.fit_intercept = bool(fit_intercept)
        self.n_samples, self.n_features = X.shape
        self.n_outputs = loss.n_outputs(A.shape[0])
        self.n_params = self.n_outputs * (self.n_features + self.fit_intercept)
        self._sparse = sp.issparse(X)
        self._sample_moments_cache = {}  # rows -> _dense_moments over _sample_blocks(rows)
        # What does not depend on alpha (column moments, the top eigenvalue of the
        # weighted Gram matrix), computed once and shared with with_alpha's copies.
        self._alpha_free_cache = {}
        if self._sparse:
            self._blocks = [slice(0, self.n_samples)]
        else:
            size = block_rows or max(64, _BLOCK_BYTES // max(1, self.n_features * 8))
            self._blocks = [
                slice(s, min(s + size, self.n_samples)) for s in range(0, self.n_samples, size)
            ]
        # Work buffers reused by every evaluation (dense blocks): logits/residuals,
        # the loss's scratch, and a copy in X's dtype when X is not float64.
        largest = max(r.stop - r.start for r in self._blocks) if not self._sparse else 0
        self._logit_buffer = np.empty(self.n_outputs * largest)
        self._loss_work = np.empty(2 * largest)
        narrow = X.dtype != np.float64 and not self._sparse
        self._cast_buffer = np.empty(self.n_outputs * largest, dtype=X.dtype) if narrow else None
        # Groups of sampled rows (index arrays, :meth:`_sample_blocks`) are gathered
        # into one buffer, made when first needed: [buffer, the group it holds].
        self._gathered = [None, None]

    def with_alpha(self, alpha):
        """The same objective with the penalty ``alpha``: a copy that shares the data.

        ``X``, the weighted targets, the row blocks, the work buffers and the
        cached column moments and curvature bound (which do not depend on
        ``alpha``) are shared, not recomputed: a regularisation path prepares
        them once and solves at many ``alpha``. The copies share work buffers,
        so they are evaluated one at a time.
        """
        other = copy.copy(self)
        other.alpha = float(alpha)
        return other

    @property
    def sparse(self):
        """Whether ``X`` is a scipy.sparse matrix."""
        return self._sparse

    @property
    def nnz(self):
        """Stored entries of ``X`` (every entry when ``X`` is dense)."""
        return self.X.nnz if self._sparse else self.n_samples * self.n_features

    # -- linear algebra on X --------------------------------------------------
    # The products run in X's own dtype (float32 data is never promoted as a
    # whole); logits and residuals are float64 and class-major (k, m), and the
    # per-block gradient contributions are summed in float64, so float32 rounding
    # only enters within one block. A single output uses matrix-vector products.
    def _rows(self, rows):
        # Sparse X is one block: slicing it, even with slice(None), would copy it.
        if self._sparse:
            return self.X
        if isinstance(rows, slice):
            return self.X[rows]
        # An index array (a group of sampled rows) is gathered into a buffer that
        # is valid until the next group is gathered (a fresh array for every group
        # cost 7x more: page faults). np.take is 2x faster than X[rows] on a
        # C-ordered X, but copies all of any other X first (a pandas DataFrame's
        # values are Fortran-ordered): 8x slower fits, peak memory 1.1 X.
        if not self.X.flags.c_contiguous:
            return self.X[rows]
        buffer, last = self._gathered
        if buffer is None or buffer.shape[0] < rows.shape[0]:
            buffer = np.empty((max(rows.shape[0], _SAMPLE_GROUP), self.n_features), self.X.dtype)
            self._gathered[:] = [buffer, None]
        out = buffer[: rows.shape[0]]
        if last is not rows:
            np.take(self.X, rows, axis=0, out=out, mode="clip")
            self._gathered[1] = rows
        return out

    def _forward(self, rows, Wx, b, reuse=False):
        """Logits ``(X[rows] W^T + b)^T``, shape (k, m), float64; ``Wx`` is ``W`` in X's dtype.

        ``Wx=None`` means ``W = 0`` (the usual starting point): no product needed.
        With ``reuse=True`` (dense blocks) the result is written into the
        objective's work buffer, valid until the next call.
        """
        k = Wx.shape[0] if Wx is not None else b.shape[0]
        Xb = self._rows(rows)
        m = Xb.shape[0]
        if reuse and not self._sparse:
            Z = self._logit_buffer[: k * m].reshape(k, m)
        else:
            Z = np.empty((k, m))
        if Wx is None:
            Z[:] = b[:, None]
            return Z
        if self._sparse:
            product = Xb @ (Wx[0] if k == 1 else Wx.T)
            Z[:] = np.asarray(product).reshape(m, k).T
        else:
            cast = self._cast_buffer
            target = Z if cast is None else cast[: k * m].reshape(k, m)
            if k == 1:
                np.matmul(Xb, Wx[0], out=target[0])
            else:
                np.matmul(Wx, Xb.T, out=target)
            if cast is not None:
                Z[:] = target
        Z += b[:, None]
        return Z

    def _backward(self, rows, dZ, out_W):
        """Add ``dZ X[rows]`` to ``out_W`` (k, d), accumulating in float64."""
        Xb = self._rows(rows)
        k, m = dZ.shape
        if self.X.dtype == np.float64:
            dZx = dZ
        elif self._cast_buffer is not None:
            dZx = self._cast_buffer[: k * m].reshape(k, m)
            dZx[:] = dZ
        else:
            dZx = dZ.astype(self.X.dtype)
        if k == 1:
            out_W[0] += np.asarray(Xb.T @ dZx[0]).ravel()
        elif self._sparse:
            out_W += np.asarray(Xb.T @ dZx.T).T
        else:
            out_W += dZx @ Xb

    # -- objective -------------------------------------------------------------
    def value_and_grad(self, theta):
        """Return ``(J(theta), grad J(theta))``."""
        W, b = self.unpack(theta)
        Wx = W.astype(self.X.dtype, copy=False) if W.any() else None
        grad = np.zeros_like(theta)
        gW, gb = self.unpack(grad)
        loss = 0.0
        for rows in self._blocks:
            Z = self._forward(rows, Wx, b, reuse=True)
            block_loss, dZ = self.loss.loss_gradient(
                Z, self.A[:, rows], self.total_weight[rows], self._loss_work
            )
            loss += block_loss
            self._backward(rows, dZ, gW)
            if self.fit_intercept:
                gb += dZ.sum(axis=1)
        penalty, penalty_grad = l2_penalty(self.alpha, W)
        gW += penalty_grad
        return loss + penalty, grad

    def value(self, theta):
        """Return ``J(theta)`` (one pass over ``X``)."""
        W, b = self.unpack(theta)
        Wx = W.astype(self.X.dtype, copy=False) if W.any() else None
        loss = 0.0
        for rows in self._blocks:
            Z = self._forward(rows, Wx, b, reuse=True)
            loss += self.loss.loss_gradient(
                Z, self.A[:, rows], self.total_weight[rows], self._loss_work
            )[0]
        return loss + l2_penalty(self.alpha, W)[0]

    def rounding_noise(self, theta):
        """How far rounding can move ``J`` and each entry of ``grad J`` at ``theta``.

        A first-order error model (two passes over ``X``, like one evaluation):
        a logit is a sum of products computed in ``X``'s dtype, so it carries an
        absolute error up to about ``delta_i = eps (|x_i| . |w| + |b|)``
        (``eps`` of ``X``'s dtype). That error reaches the residual
        ``dl/dz`` through the curvature (``p (1 - p)`` per unit weight), and the
        residual itself is rounded (``eps`` per unit weight; the loss's
        ``residual_error``, which for softmax includes the other classes'
        errors through the normalisation); the gradient sums
        these errors times ``|x_ij|``, the objective the residual times
        ``delta_i``. The sums carry a further ``eps`` per term. The result is
        the resolution of the arithmetic: a gradient entry within a small
        multiple of its noise cannot be made smaller reliably, and an objective
        difference within ``f_noise`` cannot be told from zero.

        Returns
        -------
        f_noise : float
        g_noise : ndarray, same layout as ``theta``
        """
        W, b = self.unpack(theta)
        eps = float(np.finfo(self.X.dtype).eps)
        absW = np.abs(W).astype(self.X.dtype)
        absb = np.abs(b)
        Wx = W.astype(self.X.dtype, copy=False)
        g_noise = np.zeros_like(theta)
        nW, nb = self.unpack(g_noise)
        f_noise = 0.0
        for rows in self._blocks:
            if self._sparse:
                delta = self._abs_sparse_forward(absW)
            else:
                delta = (absW @ np.abs(self.X[rows]).T).astype(np.float64)
            delta += absb[:, None]
            delta *= eps
            Z = self._forward(rows, Wx, b)
            weight = self.total_weight[rows]
            loss, dZ = self.loss.loss_gradient(Z.copy(), self.A[:, rows], weight)
            f_noise += float(np.sum(np.abs(dZ) * delta)) + eps * abs(loss)
            err = (self.loss.residual_error(Z, delta) + 2.0 * eps) * weight
            if self._sparse:
                self._abs_sparse_backward(err, nW)
            else:
                nW += (err @ np.abs(self.X[rows])).astype(np.float64)
            if self.fit_intercept:
                nb += err.sum(axis=1)
        penalty_f, penalty_g = l2_penalty_noise(self.alpha, W, eps)
        nW += penalty_g
        return f_noise + penalty_f, g_noise

    def _abs_sparse_slices(self):
        """``(start, stop, |X| slice)`` over major slices of sparse ``X``.

        Each slice is built on views of ``X``'s index arrays and the absolute
        values of its part of ``X.data`` (about 64k entries): ``X`` is not copied.
        """
        X = self.X
        for start, stop in _major_slices(X, 1 << 16):
            lo, hi = X.indptr[start], X.indptr[stop]
            parts = (np.abs(X.data[lo:hi]), X.indices[lo:hi], X.indptr[start : stop + 1] - lo)
            if X.format == "csr":
                yield start, stop, sp.csr_matrix(parts, shape=(stop - start, X.shape[1]))
            else:
                yield start, stop, sp.csc_matrix(parts, shape=(X.shape[0], stop - start))

    def _abs_sparse_forward(self, absW):
        """``|W| |X|^T``, shape (k, n), for sparse ``X``, slice by slice."""
        out = np.zeros((absW.shape[0], self.n_samples))
        for start, stop, S in self._abs_sparse_slices():
            if self.X.format == "csr":
                out[:, start:stop] = np.asarray(S @ absW.T).T
            else:
                out += np.asarray(S @ absW[:, start:stop].T).T
        return out

    def _abs_sparse_backward(self, err, out_W):
        """Add ``err |X|`` (err of shape (k, n)) to ``out_W`` for sparse ``X``."""
        for start, stop, S in self._abs_sparse_slices():
            if self.X.format == "csr":
                out_W += np.asarray(S.T @ err[:, start:stop].T).T
            else:
                out_W[:, start:stop] += np.asarray(S.T @ err.T).T

    def separates(self, theta):
        """Whether ``theta`` classifies every weighted training sample strictly right.

        Only defined for hard targets (each sample's weight on one class, no
        label smoothing); returns False otherwise. Samples with zero weight do
        not count. When it returns True the classes are linearly separable in
        the training data and, if ``alpha = 0``, ``J`` has no minimiser: every
        term of ``J(t theta)`` decreases strictly as ``t`` grows, towards the
        infimum 0, which no finite parameter attains.
        """
        weighted = self.A > 0
        if np.any(weighted.sum(axis=0) > 1):
            return False
        W, b = self.unpack(theta)
        Wx = W.astype(self.X.dtype, copy=False)
        for rows in self._blocks:
            keep = weighted[:, rows].any(axis=0)
            if not keep.any():
                continue
            target = np.argmax(weighted[:, rows], axis=0)
            margins = self.loss.margins(self._forward(rows, Wx, b), target)
            if not np.all(margins[keep] > 0):
                return False
        return True

    # -- curvature ---------------------------------------------------------------
    def _weighted_gram_matvec(self, v):
        """``X1^T diag(w) X1 v`` for ``X1 = [X, 1]`` (intercept column if fitted)."""
        d = self.n_features
        W = v[:d].reshape(1, d).astype(self.X.dtype)
        b = v[d:] if self.fit_intercept else np.zeros(1)
        out = np.zeros(d + self.fit_intercept)
        outW = out[:d].reshape(1, d)
        for rows in self._blocks:
            u = self._forward(rows, W, b) * self.total_weight[rows]
            self._backward(rows, u, outW)
            if self.fit_intercept:
                out[d] += u.sum()
        return out

    def lipschitz(self):
        """Lipschitz constant of ``grad J`` in the original coordinates.

        ``L = curvature_bound * lambda_max(X1^T diag(w) X1) + alpha`` with
        ``w_i = sum_k A_ik``: the loss's curvature bound (1/4 for the logistic
        loss, 1/2 for softmax by Böhning's bound) times the largest eigenvalue of
        the weighted Gram matrix of ``[X, 1]``, plus the penalty. The penalty is
        added in full although the intercept is not penalised, which keeps ``L``
        an upper bound. Exact (dense eigen-decomposition) for up to 2000
        features (``_EXACT_EIGEN_MAX``), Lanczos (``scipy.sparse.linalg.eigsh``)
        otherwise.
        """
        if not self.total_weight.any():
            # No weighted row (a chunk of a chunked fit can have none): no loss term.
            return self.alpha
        cache = self._alpha_free_cache
        if "gram_eigenvalue" not in cache:
            cache["gram_eigenvalue"] = self._weighted_gram_eigenvalue()
        return self.loss.curvature_bound * cache["gram_eigenvalue"] + self.alpha

    def _weighted_gram_eigenvalue(self):
        """``max(lambda_max(X1^T diag(w) X1), 0)``, for :meth:`lipschitz`."""
        m = self.n_features + self.fit_intercept
        if not self._sparse and m <= _EXACT_EIGEN_MAX:
            G = np.zeros((m, m))
            d = self.n_features
            for rows in self._blocks:
                Xb = self.X[rows].astype(np.float64, copy=False)
                w = self.total_weight[rows]
                G[:d, :d] += Xb.T @ (w[:, None] * Xb)
                if self.fit_intercept:
                    col = Xb.T @ w
                    G[:d, d] += col
                    G[d, :d] += col
                    G[d, d] += w.sum()
            if not np.all(np.isfinite(G)):
                return np.inf  # the Gram matrix overflows: no finite bound
            lam = float(np.linalg.eigvalsh(G)[-1])
        else:
            lam = top_eigenvalue(self._weighted_gram_matvec, m)
        return max(lam, 0.0)

    def column_moments(self):
        """Weighted mean and curvature-weighted spread of every column.

        Returns ``(mean, spread2, weight_sum)`` where, with ``w_i = sum_k A_ki``,
        ``mean_j = sum_i w_i x_ij / sum_i w_i`` (zero without intercept) and
        ``spread2_j = sum_i w_i (x_ij - mean_j)^2``. For dense data with many
        rows they are estimated from an evenly spread sample of rows (see
        ``_MOMENT_SAMPLE_ROWS`` and :meth:`_sample_blocks`); they only set the
        solver's scaling. Computed once per objective (shared with its
        :meth:`with_alpha` copies).
        """
        cache = self._alpha_free_cache
        if "column_moments" not in cache:
            cache["column_moments"] = self._column_moments()
        return cache["column_moments"]

    def _column_moments(self):
        w = self.total_weight
        wsum = float(w.sum())
        d = self.n_features
        if self._sparse:
            sx, sxx = _sparse_weighted_column_sums(self.X, w)
            mean = sx / wsum if (self.fit_intercept and wsum > 0) else np.zeros(d)
            spread2 = np.maximum(sxx - 2 * mean * sx + mean**2 * wsum, 0.0)
            return mean, spread2, wsum
        # Exact moments are only needed for the scaling to be good, not for
        # correctness (any mean and scale give an exact change of variables);
        # a column that looks constant in the sample may be a rare non-zero
        # feature, so then fall back to the full pass.
        if self.can_sample and self.sample_sees_every_column(_MOMENT_SAMPLE_ROWS):
            mean, spread2, sampled = self._sample_moments(_MOMENT_SAMPLE_ROWS)
            return mean, spread2 * (wsum / sampled), wsum
        return self._dense_moments(self._blocks, w)

    def _sample_moments(self, rows):
        """:meth:`_dense_moments` over the sample of about ``rows`` rows (cached)."""
        cache = self._sample_moments_cache
        if rows not in cache:
            cache[rows] = self._dense_moments(self._sample_blocks(rows), self.total_weight)
        return cache[rows]

    def sample_sees_every_column(self, rows):
        """Whether the sample of about ``rows`` rows represents every column.

        Dense ``X`` with more than ``rows`` rows only (False otherwise). A
        column that is constant in the sample may be a rare non-zero feature:
        sums that would be estimated from the sample (column moments, metrics)
        are then taken over every row. Unless it is constant on every weighted
        row (a column of ones, say): any sample then shows it as it is. (Such
        columns cost a 2.9x slower fit on 200k x 100 when they turned the
        sample off.)
        """
        if self._sparse or rows >= self.n_samples:
            return False
        # Constant in the sample up to the moments' rounding (a constant 3.3
        # leaves a spread of a few ulps), as StandardizedCoordinates judges it.
        mean, spread2, wsum = self._sample_moments(rows)
        flat = np.flatnonzero(_looks_constant(mean, spread2, wsum))
        return bool(flat.size == 0 or np.all(self.constant_values(flat)[0]))

    def constant_values(self, columns):
        """Whether each of ``columns`` holds one value on every row of positive weight.

        Returns ``(constant, value)``: a bool array and the value of each
        constant column (NaN where the objective has no row of positive weight,
        which is constant with any value). Takes a copy of those columns only;
        called for the few columns whose moments say they might be constant
        (:class:`StandardizedCoordinates`).
        """
        columns = np.asarray(columns, dtype=np.intp)
        key = ("constant_values", columns.tobytes())
        if key not in self._alpha_free_cache:
            self._alpha_free_cache[key] = self._constant_values(columns)
        return self._alpha_free_cache[key]

    def _constant_values(self, columns):
        # The smallest and largest value of each column over the weighted rows,
        # block by block (dense: a block's copy of those columns at a time, so a
        # wide matrix with many candidate columns is never copied whole; sparse:
        # the columns' stored entries, with the implicit zeros counted).
        c = columns.size
        weighted = self.total_weight > 0
        n_weighted = int(np.count_nonzero(weighted))
        if n_weighted == 0:
            return np.ones(c, dtype=bool), np.full(c, np.nan)
        lo = np.full(c, np.inf)
        hi = np.full(c, -np.inf)
        if self._sparse:
            part = sp.csc_matrix(self.X[:, columns])
            for j in range(c):
                entries = slice(part.indptr[j], part.indptr[j + 1])
                values = part.data[entries][weighted[part.indices[entries]]]
                if values.size < n_weighted:  # some weighted rows hold an implicit 0
                    values = np.append(values, 0.0)
                lo[j], hi[j] = values.min(), values.max()
        else:
            for rows in self._blocks:
                keep = weighted[rows]
                if not keep.any():
                    continue
                part = self.X[rows][:, columns]
                if not keep.all():
                    part = part[keep]
                np.minimum(lo, part.min(axis=0), out=lo)
                np.maximum(hi, part.max(axis=0), out=hi)
        constant = lo == hi
        return constant, np.where(constant, lo, np.nan)

    def standardized_gram(self, theta, mean, sigma, tau, floor, rows=None):
        """Curvature-weighted Gram matrix of the standardised columns.

        With ``S = [(X - mean) / sigma, 1 / tau]`` (the columns the standardised
        coordinates see) and weights ``h_i = w_i (c(z_i) + floor * kappa)``,
        where ``c`` is the loss's curvature per unit weight at the logits of
        ``theta`` averaged over the outputs (``theta=None``: its bound
        ``kappa``, Böhning's), returns ``G = S^T diag(h) S`` of shape
        ``(d + 1, d + 1)``. For one output this is the Hessian of ``J`` in the
        standardised coordinates at ``theta``, without the penalty; for
        softmax, the average of its diagonal blocks (one metric shared by the
        classes, so that steps keep the class-sum of the parameters where it
        was: at zero from a zero start, as with the diagonal scaling).

        With ``rows`` (dense data), the sum is over the evenly spread sample of
        about that many rows (:meth:`_sample_blocks`), rescaled to the full weight: the result only
        sets the solver's metric, and any symmetric positive definite metric is
        exact (but a poor one is slow: see :class:`WhitenedCoordinates` for
        when a sample is used). By default, over every row.
        """
        d = self.n_features
        kappa = self.loss.curvature_bound
        G = np.zeros((d + 1, d + 1))
        W, b = self.unpack(theta) if theta is not None else (None, None)
        Wx = W.astype(self.X.dtype, copy=False) if W is not None and W.any() else None
        blocks, rescale = self._metric_blocks(rows)
        for rows in blocks:
            w = self.total_weight[rows]
            if theta is None:
                h = (1.0 + floor) * kappa * w
            else:
                curvature = self.loss.curvature(self._forward(rows, Wx, b)).mean(axis=0)
                h = (curvature + floor * kappa) * w
            if self._sparse:
                self._add_sparse_gram(G, h, mean, sigma, tau)
            else:
                # sqrt(h) S in one block-sized buffer: S^T diag(h) S = (sqrt(h) S)^T (sqrt(h) S).
                S = self._standardized_rows(rows, mean, sigma, tau)
                S *= np.sqrt(h)[:, None]
                G += S.T @ S
                del S
        return G * rescale

    def coupled_gram(self, theta, mean, sigma, tau, floor, rows=None):
        """The softmax Hessian in the standardised coordinates, classes coupled.

        With ``S`` and ``rows`` as in :meth:`standardized_gram` and the class
        probabilities ``q_i`` at
        ``theta``, returns the ``(K (d + 1), K (d + 1))`` matrix whose block
        ``(k, l)`` is
        ``S^T diag(w (q_k (delta_kl - q_l) + floor kappa (delta_kl - 1/K))) S``:
        the Hessian of the loss (plus the floor times Böhning's bound), without
        the penalty. Dense ``X`` only. It is summed as
        ``sum_i w_i (diag(q_i) - q_i q_i^T) kron s_i s_i^T``: ``K + 1`` Gram
        matrices of ``S`` for the diagonal and the floor, and one of the rows
        ``q_i kron s_i`` (``K (d + 1)`` wide, in chunks of rows) for
        ``q q^T``.
        """
        k, d = self.n_outputs, self.n_features
        p = d + 1
        kappa = self.loss.curvature_bound
        W, b = self.unpack(theta)
        Wx = W.astype(self.X.dtype, copy=False)
        M = np.zeros((k, p, k, p))
        G0 = np.zeros((p, p))
        QQ = np.zeros((k * p, k * p))
        blocks, rescale = self._metric_blocks(rows)
        chunk = max(1, (1 << 20) // (8 * k * p))  # rows of q kron s per product, ~1 MB
        for part in _grouped(blocks, chunk):
            S = np.concatenate([self._standardized_rows(r, mean, sigma, tau) for r in part])
            q = np.concatenate(
                [self.loss.probabilities(self._forward(r, Wx, b)) for r in part], axis=1
            )
            w = np.concatenate([self.total_weight[r] for r in part])
            G0 += S.T @ (w[:, None] * S)
            for j in range(k):
                M[j, :, j, :] += S.T @ ((w * q[j])[:, None] * S)
            B = (np.sqrt(w)[:, None, None] * q.T[:, :, None]) * S[:, None, :]
            B = B.reshape(len(w), k * p)
            QQ += B.T @ B
        M = M.reshape(k * p, k * p) - QQ
        M += floor * kappa * np.kron(np.eye(k) - 1.0 / k, G0)
        return M * rescale

    def _metric_blocks(self, rows=None):
        """Row blocks a sum is taken over, and the factor that rescales it.

        With ``rows`` (dense ``X``), the evenly spread sample of about that many
        rows (:meth:`_sample_blocks`) and ``total weight / sampled weight``;
        otherwise every block and 1.
        """
        if rows is None or self._sparse:
            return self._blocks, 1.0
        blocks = self._sample_blocks(rows)
        used = sum(self.total_weight[r].sum() for r in blocks)
        return blocks, (self.total_weight.sum() / used if used > 0 else 1.0)

    def _standardized_rows(self, rows, mean, sigma, tau):
        """``S = [(X[rows] - mean) / sigma, 1 / tau]``, float64, one dense block."""
        d = self.n_features
        S = np.empty((_count(rows), d + 1))
        np.subtract(self._rows(rows), mean, out=S[:, :d])
        S[:, :d] /= sigma
        S[:, d] = 1.0 / tau
        return S

    @property
    def can_sample(self):
        """Whether row sums may be estimated from a row sample (dense, many rows)."""
        return not self._sparse and self.n_samples > 2 * _MOMENT_SAMPLE_ROWS

    def _add_sparse_gram(self, G, h, mean, sigma, tau):
        """Add ``S^T diag(h) S`` for sparse ``X`` without densifying or copying it.

        ``(X - 1 mean^T)^T H (X - 1 mean^T) = X^T H X - mean s^T - s mean^T +
        (sum h) mean mean^T`` with ``s = X^T h``. ``X^T H X`` is summed over
        slices of about ``_GRAM_CHUNK_ENTRIES`` stored entries (rows of CSR,
        columns of CSC), so the temporary memory is a few slices and the
        ``d x d`` result.
        """
        d = self.n_features
        h = np.ascontiguousarray(h)
        X = self.X
        XtHX = np.zeros((d, d))
        by_row = X.format == "csr"
        for start, stop in _major_slices(X, _GRAM_CHUNK_ENTRIES):
            if by_row:
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

    def _sample_blocks(self, rows):
        """An evenly spread sample of about ``rows`` rows, as sorted index arrays.

        Dense ``X`` only. The rows are cut into ``rows`` strata of consecutive
        rows, and one row is drawn from each, at a random place (a fixed seed:
        fits are repeatable); the result comes in groups of at most
        ``_SAMPLE_GROUP`` rows. Any stretch of more than two strata is
        represented in proportion to its length: sample blocks of consecutive
        rows, as before, could miss a stretch of rows in other units (one
        source file of several, say; measured: a tenth of the rows of a
        200k-row data set between two blocks made the default fit hit
        ``max_iter``). The random place within each stratum keeps the sample
        from lining up with a periodic row order, as every ``n / rows``-th row
        did (196,603 rows with one row in 12 in other units: no sample saw
        them, ``max_iter`` again). Each group is gathered where it is used.
        """
        n, m = self.n_samples, min(rows, self.n_samples)
        edges = np.arange(m + 1, dtype=np.intp) * n // m  # strictly increasing: m <= n
        offsets = np.random.default_rng(_SAMPLE_SEED).random(m) * np.diff(edges)
        positions = edges[:-1] + offsets.astype(np.intp)
        return [positions[i : i + _SAMPLE_GROUP] for i in range(0, positions.size, _SAMPLE_GROUP)]

    def row_sample(self, rows=_START_SAMPLE_ROWS):
        """The objective on an evenly spread sample of about ``rows`` rows, or None.

        Dense ``X`` with many rows only (:attr:`can_sample`). The sampled rows
        (:meth:`_sample_blocks`; at most an eighth of ``X``) are copied, so that
        the many evaluations on them read contiguous memory (gathering them at
        every evaluation cost 2.5 times as much); their weights are rescaled to
        the full total, so the result is the same weighted mean over fewer
        rows: an estimate of ``J`` whose minimiser is a starting point close to
        ``J``'s. The copy lives as long as the sample objective (the start of a
        fit, not its full-data part).

        None also when the sample would mislead more than help: when a column is
        constant in it (a rare feature it misses would get the scaling of a
        constant column), or when a class has less than half its share of the
        weight in it (a rare class the sample happens to under-represent).
        """
        rows = min(rows, self.n_samples // 8)
        if not (self.can_sample and self.sample_sees_every_column(rows)):
            return None
        index = np.concatenate(self._sample_blocks(rows))
        A = self.A[:, index]
        sampled = A.sum(axis=1)
        expected = self.A.sum(axis=1) * (index.size / self.n_samples)
        if np.any(sampled < 0.5 * expected):
            return None
        used = sampled.sum()
        A *= self.total_weight.sum() / used if used > 0 else 1.0
        X = np.take(self.X, index, axis=0) if self.X.flags.c_contiguous else self.X[index]
        return LinearObjective(
            self.loss, X, A, self.alpha, self.fit_intercept, block_rows=_SAMPLE_GROUP
        )

    def _dense_moments(self, blocks, w):
        """Mean, spread and weight sum over the rows in ``blocks``."""
        d = self.n_features
        wsum = float(sum(w[rows].sum() for rows in blocks))
        # "Shifted data" sums of (x - shift) and (x - shift)^2 with the first
        # block's mean as the shift, so that columns with a large offset keep their
        # spread (no cancellation unless the first block's mean is far from the
        # overall one in units of the spread).
        first = self._rows(blocks[0])
        shift = first.mean(axis=0, dtype=np.float64) if self.fit_intercept else np.zeros(d)
        del first
        s1 = np.zeros(d)
        s2 = np.zeros(d)
        for rows in blocks:
            block = self._rows(rows).astype(np.float64, copy=True)
            block -= shift
            s1 += w[rows] @ block
            block *= block
            s2 += w[rows] @ block
            del block  # free before the next block is promoted
        if self.fit_intercept and wsum > 0:
            offset = s1 / wsum
            mean = shift + offset
            spread2 = np.maximum(s2 - wsum * offset**2, 0.0)
        else:
            mean = np.zeros(d)
            spread2 = s2
        return mean, spread2, wsum


def _coupled_cost_per_row(k, d):
    """Multiply-adds per row of the class-coupled metric: ``K (K + 1) / 2`` Gram blocks."""
    return k * (k + 1) / 2 * (d + 1) ** 2


def _count(rows):
    """How many rows a block selects: a slice (with its bounds) or an index array."""
    return rows.stop - rows.start if isinstance(rows, slice) else int(rows.shape[0])


def _grouped(blocks, rows):
    """Lists of row selections of about ``rows`` rows each, from ``blocks``.

    Short blocks are grouped; blocks longer than ``rows`` are cut into pieces.
    A block is a slice or an index array.
    """
    group, size = [], 0
    for block in blocks:
        if isinstance(block, slice):
            pieces = [
                slice(start, min(start + rows, block.stop))
                for start in range(block.start, block.stop, rows)
            ]
        else:
            pieces = [block[i : i + rows] for i in range(0, block.shape[0], rows)]
        for piece in pieces:
            group.append(piece)
            size += _count(piece)
            if size >= rows:
                yield group
                group, size = [], 0
    if group:
        yield group


class OriginalCoordinates:
    """The identity change of variables: the solver sees ``theta`` itself.

    The counterpart of :class:`StandardizedCoordinates` for
    the solvers registered with ``coordinates="original"`` (``gd``).
    """

    def __init__(self, objective):
        self.objective = objective  # for the options built from it (learning_rate)
        self.value_and_grad = objective.value_and_grad
        self.value = objective.value

    @staticmethod
    def to_u(theta):
        return theta

    @staticmethod
    def to_theta(u):
        return u

    @staticmethod
    def grad_max(g):
        """``max |grad_theta J|``, the stopping measure."""
        return float(np.max(np.abs(g), initial=0.0))


class _ChangeOfVariables:
    """What every change of variables ``theta = theta(u)`` of an objective offers.

    Subclasses set ``objective`` and define ``to_theta``, ``to_u``,
    ``grad_to_u`` and ``grad_to_theta``; the objective, its loss-only value and
    the stopping measure in the solver's coordinates follow from them.
    """

    def value_and_grad(self, u):
        """``(J, grad_u J)`` at ``u``."""
        f, g = self.objective.value_and_grad(self.to_theta(u))
        return f, self.grad_to_u(g)

    def value(self, u):
        """``J`` at ``u``."""
        return self.objective.value(self.to_theta(u))

    def on(self, objective):
        """The same change of variables for ``objective`` (same features): a copy.

        Used to continue a fit on every row in the coordinates a fit on a row
        sample ended in (:meth:`LinearObjective.row_sample`).
        """
        other = copy.copy(self)
        other.objective = objective
        return other

    #: Columns whose coefficients are held at 0 (see :meth:`StandardizedCoordinates._freeze`).
    frozen = None

    def _measured(self, g):
        """``|g|`` with the frozen columns' entries left out (set to 0).

        A frozen column's gradient entry is exactly ``c_j`` times the
        intercept's, which the measure already holds; with ``|c_j|`` large it
        is ``|c_j|`` times the intercept gradient's rounding error, which no
        representable parameters reduce.
        """
        g = np.abs(g)
        frozen = self.frozen
        if frozen is not None:
            k, d = self.objective.n_outputs, self.objective.n_features
            g[: k * d].reshape(k, d)[:, frozen] = 0.0
        return g

    def stopping_measure(self, g):
        """``max |g|`` of a gradient ``g`` in the original coordinates.

        Over every parameter but the coefficients of constant columns, which
        are exactly 0 (:meth:`StandardizedCoordinates._freeze`).
        """
        return float(np.max(self._measured(g), initial=0.0))

    def grad_max(self, gu):
        """The stopping measure (:meth:`stopping_measure`) of a gradient ``gu`` in ``u``."""
        return self.stopping_measure(self.grad_to_theta(gu))

    def resolution(self, u, gu):
        """How far the gradient at ``u`` is above the arithmetic's resolution.

        Returns ``(f_noise, ratio)``: the rounding noise of ``J`` at ``u`` and
        the largest ``|grad_theta J|_j / noise_j`` over the parameters
        (:meth:`LinearObjective.rounding_noise`), in the original coordinates,
        where the stopping measure is taken.
        """
        f_noise, g_noise = self.objective.rounding_noise(self.to_theta(u))
        ratio = self._measured(self.grad_to_theta(gu)) / np.maximum(
            g_noise, np.finfo(np.float64).tiny
        )
        return f_noise, float(np.max(ratio, initial=0.0))


#: A column is a candidate for being constant (then checked exactly, see
#: :meth:`LinearObjective.constant_values`) when its weighted standard deviation
#: is at most 1e-4 of its mean: ``spread2 <= _CONSTANT_RTOL * mean^2 * weight_sum``.
#: Generous, so that it holds whatever rounding the one-pass sparse moments
#: (about ``n eps`` relative at worst) leave of a constant column; the exact
#: check decides.
_CONSTANT_RTOL = 1e-8


def _looks_constant(mean, spread2, wsum):
    """Which columns' moments allow them to be constant (``_CONSTANT_RTOL``)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return spread2 <= _CONSTANT_RTOL * mean * mean * wsum


def merge_constant_values(parts):
    """Merge per-part :meth:`LinearObjective.constant_values` into the whole data's.

    A column is constant over the whole data when it is constant in every part
    and the parts' values agree (a part without weighted rows agrees with any).
    Returns ``(constant, value)`` as :meth:`LinearObjective.constant_values` does.
    """
    values = np.vstack([v for _, v in parts])
    known = ~np.isnan(values)
    columns = np.arange(values.shape[1])
    first = values[known.argmax(axis=0), columns]  # NaN where no part knows
    agree = np.all(~known | (values == first), axis=0)
    constant = np.logical_and.reduce([c for c, _ in parts]) & agree
    return constant, np.where(constant, first, np.nan)


def _constant_columns(objective, mean, spread2, wsum):
    """The columns that hold one non-zero value on every weighted row, and those values.

    Returns ``(mask, values)``. Candidates come from the column moments; each
    is then checked exactly (:meth:`LinearObjective.constant_values`), so the
    mask is exact whatever the moments' rounding or sampling.
    """
    mask = np.zeros(mean.shape[0], dtype=bool)
    candidates = np.flatnonzero((mean != 0) & _looks_constant(mean, spread2, wsum))
    if candidates.size == 0:
        return mask, np.empty(0)
    constant, values = objective.constant_values(candidates)  # cached: not modified
    # A column with no weighted row at all (NaN value) is left alone.
    constant = constant & ~np.isnan(values) & (values != 0)
    mask[candidates[constant]] = True
    return mask, values[constant]


def _check_representable(mean, spread2):
    """ValueError naming the columns whose mean or spread is not a finite float64."""
    bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(spread2)))
    if bad.size:
        shown = bad[:10].tolist()
        raise ValueError(
            f"X's column(s) {shown}{' (and more)' if bad.size > 10 else ''} hold values too "
            "large for float64 arithmetic: their squared deviations overflow (values of "
            "about 1e154 and beyond). Rescale those columns before fitting, e.g. with "
            "sklearn.preprocessing.MaxAbsScaler or StandardScaler."
        )


class StandardizedCoordinates(_ChangeOfVariables):
    """An exact change of variables that standardises the problem implicitly.

    With column means ``mu`` and scales ``sigma`` (see below), the solver works
    on ``u = (V, c)`` with::

        W = V / sigma        b = c / tau - W mu

    so that ``X W^T + b = ((X - mu) / sigma) V^T + c / tau``: the model seen by
    the solver is the one on centred, scaled columns, which is much better
    conditioned on raw features, yet ``X`` is neither copied nor densified. The
    objective value is unchanged; gradients map by the chain rule::

        grad_V = (grad_W - grad_b mu^T) / sigma      grad_c = grad_b / tau

    ``sigma_j^2 = curvature_bound * sum_i w_i (x_ij - mu_j)^2 + alpha`` and
    ``tau^2 = curvature_bound * sum_i w_i`` are the diagonal of the Hessian bound
    in the centred coordinates (Jacobi scaling), so every coordinate has
    curvature at most about one.

    Parameters
    ----------
    objective : LinearObjective
    """

    def __init__(self, objective):
        self.objective = objective
        # Squares of values beyond about 1e154 overflow: say so once (below), not
        # in numpy's warnings and then in a fit on infinite scales.
        with np.errstate(over="ignore", invalid="ignore"):
            mean, spread2, wsum = objective.column_moments()
        _check_representable(mean, spread2)
        kappa = objective.loss.curvature_bound
        sigma2 = kappa * spread2 + objective.alpha
        self.mean = mean
        self.sigma = np.where(sigma2 > 0, np.sqrt(sigma2), 1.0)
        tau2 = kappa * wsum
        self.tau = float(np.sqrt(tau2)) if tau2 > 0 else 1.0
        self._k = objective.n_outputs
        self._d = objective.n_features
        self._intercept = objective.fit_intercept
        self.frozen = None
        if self._intercept:
            frozen, values = _constant_columns(objective, mean, spread2, wsum)
            self._freeze(frozen, values)

    def _freeze(self, frozen, values):
        """Hold the coefficients of the constant columns ``frozen`` at 0.

        With an intercept, a column that holds one value ``c`` on every
        weighted row only adds ``c W_j`` to every logit, which the unpenalised
        intercept can take over: at the optimum ``W_j = 0`` exactly (the
        penalty's minimum), and the gradient there is ``c grad_b``. So the
        change of variables maps those coefficients to 0 and their gradients in
        the solver's coordinates to 0 (the solver cannot move them), and the
        stopping measure leaves out their gradient entries, ``c grad_b`` at
        ``W_j = 0``: ``c`` times the intercept's, which it holds already.
        Without this, ``c x W_j`` and the intercept's ``- c W_j`` cancel in every
        logit, to a rounding error of ``eps |c W_j|``: beyond ``|c|`` of about
        1e8 fits stalled, and beyond about 1e15 they ended at the starting point
        (seen on raw data with a constant column of large values). The mean is
        set to the exact value, so centred values of these columns are 0.
        """
        self.frozen = frozen if frozen.any() else None
        if self.frozen is not None:
            self.mean = self.mean.copy()
            self.mean[frozen] = values

    def on(self, objective):
        """The same change of variables for ``objective`` (same features): a copy.

        The frozen columns are checked again: a column constant on a row sample
        may vary on every row, and is then no longer frozen.
        """
        other = super().on(objective)
        if self.frozen is not None:
            columns = np.flatnonzero(self.frozen)
            constant, values = objective.constant_values(columns)
            keep = constant & (values == self.mean[columns])
            frozen = np.zeros_like(self.frozen)
            frozen[columns[keep]] = True
            other.frozen = frozen if frozen.any() else None
        return other

    def _split(self, v):
        k, d = self._k, self._d
        return v[: k * d].reshape(k, d), v[k * d :]

    def to_theta(self, u):
        """Original parameters ``theta = (W, b)`` from ``u = (V, c)``."""
        V, c = self._split(u)
        theta = np.empty_like(u)
        W, b = self._split(theta)
        np.divide(V, self.sigma, out=W)
        if self.frozen is not None:
            W[:, self.frozen] = 0.0
        if self._intercept:
            b[:] = c / self.tau - W @ self.mean
        return theta

    def to_u(self, theta):
        """``u = (V, c)`` from original parameters ``theta = (W, b)``."""
        W, b = self._split(theta)
        u = np.empty_like(theta)
        V, c = self._split(u)
        np.multiply(W, self.sigma, out=V)
        if self._intercept:
            # A frozen column's c W_j moves into the intercept: the same logits.
            c[:] = (b + W @ self.mean) * self.tau
        if self.frozen is not None:
            V[:, self.frozen] = 0.0
        return u

    def grad_to_u(self, g):
        """Gradient in ``u`` from the gradient in ``theta``."""
        gW, gb = self._split(g)
        out = np.empty_like(g)
        gV, gc = self._split(out)
        if self._intercept:
            np.subtract(gW, gb[:, None] * self.mean, out=gV)
            gc[:] = gb / self.tau
        else:
            gV[:] = gW
        gV /= self.sigma
        if self.frozen is not None:
            gV[:, self.frozen] = 0.0
        return out

    def grad_to_theta(self, gu):
        """Gradient in ``theta`` from the gradient in ``u``."""
        gV, gc = self._split(gu)
        out = np.empty_like(gu)
        gW, gb = self._split(out)
        np.multiply(gV, self.sigma, out=gW)
        if self._intercept:
            gb[:] = gc * self.tau
            gW += gb[:, None] * self.mean
        return out


#: Up to this many features, ``preconditioner="auto"`` uses the full-matrix metric
#: (:class:`WhitenedCoordinates`). Measured with ``bb`` on standardised data, 1
#: BLAS thread (docs/solvers.md): the full metric was 1.6-1.8x faster at 50 and
#: 100 features, 1.8x slower at 300, 2.3x at 500 and 3.4x at 1000, where its
#: Gram matrix (``d^2`` per sampled row) costs more than the iterations it saves.
FULL_METRIC_MAX_FEATURES = 200

#: Softmax gets the class-coupled metric (:meth:`LinearObjective.coupled_gram`)
#: summed over at most this many multiply-adds per refresh (rows x K(K+1)/2 x
#: (d+1)^2): raw digits (1797 rows, K = 10, 64 features) is 4e8, every row; a
#: 100k x 50, K = 10 problem would be 1.4e10 over every row and is summed over
#: an evenly spread sample of 6,990 rows (13.7 per parameter). Measured on that
#: problem (1 BLAS thread): 6-8 iterations, against 15-22 with one metric shared
#: between the classes.
_COUPLED_METRIC_MAX_FLOPS = 1e9

#: Fewest rows per parameter the class-coupled metric may be summed over.
_COUPLED_ROWS_PER_PARAMETER = 8


class WhitenedCoordinates(_ChangeOfVariables):
    """A full-matrix change of variables: the metric of Newton's method, refreshed.

    Built on :class:`StandardizedCoordinates` (centred, Jacobi-scaled
    parameters ``v_k = (V_k, c_k)``, one vector of ``d + 1`` per output ``k``),
    it factors a symmetric positive definite metric ``M = L L^T`` and lets the
    solver work on ``z_k = L^T v_k``::

        v_k = L^{-T} z_k         grad_z = L^{-1} grad_v

    so the solver sees a problem whose Hessian is ``L^{-1} H L^{-T}``: the
    identity where ``M`` equals the Hessian ``H``. ``M`` is the curvature-weighted
    Gram matrix of the standardised columns
    (:meth:`LinearObjective.standardized_gram`) plus the penalty
    ``alpha / sigma^2``: at first with the curvature bound (Böhning's; at
    ``theta = 0`` the exact binary Hessian), and after :meth:`refresh` with the
    curvature ``p (1 - p)`` at the current parameters; for one output it is
    then the Hessian. Softmax on dense data with an intercept and a small
    ``K d`` (``_COUPLED_METRIC_MAX_FLOPS``) gets one metric for all
    ``K (d + 1)`` parameters, which couples the classes: the Hessian
    (:meth:`LinearObjective.coupled_gram`) plus a curvature along the
    class-sum directions that the loss does not see. Otherwise softmax shares
    one ``(d + 1)``-metric between the classes (the average of the Hessian's
    diagonal blocks). Both leave the class-sum of the parameters (which the
    penalty keeps at zero) where it was. A small floor (``1e-6`` of the
    bound) keeps ``M`` positive definite where the fitted probabilities
    saturate. ``X`` is never copied or transformed: the maps act on the
    ``k (d + 1)`` parameters only.
    The objective value is unchanged, and the stopping measure stays
    ``max |grad_theta J|``.

    Parameters
    ----------
    objective : LinearObjective
    """

    #: Curvature floor, relative to the loss's curvature bound.
    floor = 1e-6

    @property
    def frozen(self):
        """The frozen columns of the standardised coordinates underneath."""
        return self.std.frozen

    def __init__(self, objective, theta=None):
        self.objective = objective
        self.std = StandardizedCoordinates(objective)
        self._k = objective.n_outputs
        self._d = objective.n_features
        self._intercept = objective.fit_intercept
        self._rows = self._metric_rows(objective)
        self._coupled, self._coupled_rows = self._coupled_sample(objective)
        self._factor(theta)

    @staticmethod
    def _metric_rows(objective):
        """The rows the metric of one output is summed over (None: every row).

        The 32k sample rows of large dense data, when those see every column (a
        rare feature missed by the sample would get almost no curvature and
        leave the metric nearly singular along it).
        """
        if objective.can_sample and objective.sample_sees_every_column(_MOMENT_SAMPLE_ROWS):
            return _MOMENT_SAMPLE_ROWS
        return None

    def _coupled_sample(self, objective):
        """Whether softmax gets the class-coupled metric, and the rows it is summed over.

        The coupled metric costs ``K (K + 1) / 2 (d + 1)^2`` multiply-adds per
        row (:func:`_coupled_cost_per_row`). On dense data with an intercept it
        is summed over every row when that costs at most
        ``_COUPLED_METRIC_MAX_FLOPS``; otherwise over an evenly spread sample of
        as many rows as that budget allows, if those are at least
        ``_COUPLED_ROWS_PER_PARAMETER`` per parameter and the sample sees every
        column; otherwise the classes share one metric. A sampled Hessian is
        only a metric: the change of variables stays exact, and a Hessian
        estimated from ``r`` rows per parameter is within about ``1/sqrt(r)``
        of the exact one.
        """
        k, p, n = self._k, self._d + 1, objective.n_samples
        if k == 1 or not self._intercept or objective.sparse:
            return False, None
        per_row = _coupled_cost_per_row(k, self._d)
        if n * per_row <= _COUPLED_METRIC_MAX_FLOPS:
            return True, None
        rows = int(_COUPLED_METRIC_MAX_FLOPS // per_row)
        if rows < _COUPLED_ROWS_PER_PARAMETER * k * p:
            return False, None
        return objective.sample_sees_every_column(rows), rows

    @property
    def refresh_evaluations(self):
        """What one :meth:`refresh` costs, in evaluations of the objective (a flop model).

        An evaluation is two passes over ``X`` (``4 n d K`` flops); a refresh is
        the Gram matrix over the rows the metric is summed over (``K (K + 1) / 2``
        of them when the classes are coupled) and its Cholesky factorisation.
        Both carry a fixed overhead of about a million flops (Python and
        temporaries), which dominates on small data.
        """
        objective = self.objective
        n, d, k = objective.n_samples, self._d, self._k
        rows = (self._coupled_rows if self._coupled else self._rows) or n
        if objective.sparse:
            per_row = objective.nnz / max(n, 1)
            evaluation = 4.0 * objective.nnz * k
        else:
            per_row = d
            evaluation = 4.0 * n * d * k
        if self._coupled:
            size = k * (d + 1)
            refresh = 2 * rows * _coupled_cost_per_row(k, d) + size**3 / 3
        else:
            refresh = rows * (per_row + 1) * (d + 1) + (d + 1) ** 3 / 3
        overhead = 1e6
        return (refresh + overhead) / (evaluation + overhead)

    def refresh(self, theta):
        """Rebuild the metric from the curvature at ``theta`` (original coordinates)."""
        self._factor(theta)

    def on(self, objective):
        """The same coordinates and metric for ``objective`` (same features): a copy.

        The sampling of later refreshes follows ``objective``'s rows; if that
        changes the metric's form (class-coupled or not), the copy starts from
        the curvature bound. If ``objective`` has another penalty ``alpha``
        (the next fit of a regularisation path, :meth:`LinearObjective.with_alpha`),
        the metric keeps its curvature and gets the new penalty: a Cholesky
        factorisation, no Gram matrix (the curvature at the previous fit's
        optimum, where the next fit starts, is the metric it needs).
        """
        other = copy.copy(self)
        other.objective = objective
        other.std = self.std.on(objective)
        other._rows = other._metric_rows(objective)
        other._coupled, other._coupled_rows = other._coupled_sample(objective)
        if other._coupled != self._coupled:
            other._factor(None)
        elif objective.alpha != self.objective.alpha:
            other.L = other._penalised_factor()
        return other

    def _factor(self, theta):
        objective, std = self.objective, self.std
        #: Where the metric's curvature was taken (None: the curvature bound).
        self.curvature_at = None if theta is None else theta.copy()
        # The metric without the penalty, kept for a change of alpha (on()).
        if self._coupled:
            self._curvature = self._coupled_curvature(theta)
        else:
            self._curvature = objective.standardized_gram(
                theta, std.mean, std.sigma, std.tau, self.floor, rows=self._rows
            )
        self._isolate_frozen()
        self.L = self._penalised_factor()

    def _isolate_frozen(self):
        """Decouple the frozen columns' coordinates in the metric (unit curvature).

        Their coefficients are held at 0 (:meth:`StandardizedCoordinates._freeze`)
        and their centred values are 0 in exact arithmetic; any rounding left in
        their rows of the Gram matrix would couple a dead coordinate to live
        ones. A unit diagonal keeps the metric positive definite.
        """
        frozen = self.std.frozen
        if frozen is None:
            return
        d1 = self._d + 1
        blocks = self._k if self._coupled else 1
        index = (np.arange(blocks)[:, None] * d1 + np.flatnonzero(frozen)[None, :]).ravel()
        G = self._curvature
        G[index, :] = 0.0
        G[:, index] = 0.0
        G[index, index] = 1.0

    def _penalised_factor(self):
        """Cholesky factor of the stored curvature plus the objective's penalty."""
        if self._coupled:
            return self._coupled_factor()
        d = self._d
        G = self._curvature.copy()
        diag = np.arange(d)
        G[diag, diag] += self.objective.alpha / self.std.sigma**2
        if not self._intercept:
            G = G[:d, :d]
        return _cholesky_with_jitter(G)

    def _coupled_curvature(self, theta):
        """The class-coupled curvature (softmax, small ``K d``), without the penalty.

        At ``theta=None`` the bound ``(I - 11^T / K) kron G`` (Böhning's, ``G``
        the bound metric of one output, which carries ``kappa``); otherwise the
        Hessian from :meth:`LinearObjective.coupled_gram`.
        """
        objective, std = self.objective, self.std
        k = self._k
        if theta is None:
            G = objective.standardized_gram(
                None, std.mean, std.sigma, std.tau, self.floor, rows=self._coupled_rows
            )
            centring = np.eye(k) - np.ones((k, k)) / k
            return np.kron(centring, G)
        return objective.coupled_gram(
            theta, std.mean, std.sigma, std.tau, self.floor, rows=self._coupled_rows
        )

    def _coupled_factor(self):
        """Cholesky factor of the class-coupled metric.

        The curvature (:meth:`_coupled_curvature`) plus the penalty. Both
        commute with the projection on class-sum zero, so adding
        ``c (11^T / K) kron I`` (``c`` the mean diagonal) gives the directions
        the loss does not see a curvature without changing a step's other
        components.
        """
        k, d = self._k, self._d
        M = self._curvature.copy()
        penalty = np.zeros(d + 1)
        penalty[:d] = self.objective.alpha / self.std.sigma**2
        M[np.diag_indices_from(M)] += np.tile(penalty, k)
        scale = float(np.trace(M)) / M.shape[0]
        M += np.kron(np.full((k, k), scale / k), np.eye(d + 1))
        return _cholesky_with_jitter(M)

    def _blocks(self, v):
        """``(k, d + intercept)`` matrix of the per-output vectors of a flat vector."""
        k, d = self._k, self._d
        if not self._intercept:
            return v.reshape(k, d)
        out = np.empty((k, d + 1))
        out[:, :d] = v[: k * d].reshape(k, d)
        out[:, d] = v[k * d :]
        return out

    def _flat(self, B):
        k, d = self._k, self._d
        if not self._intercept:
            return B.reshape(k * d).copy()
        return np.concatenate([B[:, :d].ravel(), B[:, d]])

    def to_theta(self, z):
        """Original parameters from ``z``: ``v_k = L^{-T} z_k``, then unstandardise."""
        Z = self._blocks(z)
        if self._coupled:
            V = _solve_lower(self.L, Z.ravel(), transposed=True).reshape(Z.shape)
        else:
            V = _solve_lower(self.L, Z.T, transposed=True).T
        return self.std.to_theta(self._flat(V))

    def to_u(self, theta):
        """``z_k = L^T v_k`` from original parameters."""
        V = self._blocks(self.std.to_u(theta))
        if self._coupled:
            return self._flat((self.L.T @ V.ravel()).reshape(V.shape))
        return self._flat(V @ self.L)

    def grad_to_u(self, g):
        """``grad_z = L^{-1} grad_v`` from the gradient in ``theta``."""
        Gv = self._blocks(self.std.grad_to_u(g))
        if self._coupled:
            return self._flat(_solve_lower(self.L, Gv.ravel()).reshape(Gv.shape))
        return self._flat(_solve_lower(self.L, Gv.T).T)

    def grad_to_theta(self, gz):
        """Gradient in ``theta`` from the gradient in ``z`` (``grad_v = L grad_z``)."""
        Gz = self._blocks(gz)
        if self._coupled:
            return self.std.grad_to_theta(self._flat((self.L @ Gz.ravel()).reshape(Gz.shape)))
        return self.std.grad_to_theta(self._flat(Gz @ self.L.T))


def _cholesky_with_jitter(G):
    """Lower Cholesky factor of ``G``, adding a growing ridge if ``G`` is singular.

    Exactly collinear or constant columns with ``alpha = 0`` make the metric
    singular; any positive definite metric gives an exact change of variables,
    so then a ridge of ``1e-12``, ``1e-10``, ... times the mean diagonal is added
    until the factorisation succeeds.
    """
    scale = float(np.trace(G)) / G.shape[0] if G.shape[0] else 1.0
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0
    eye = np.eye(G.shape[0])
    for ridge in [0.0, *(10.0**e for e in range(-12, 1, 2))]:
        try:
            return np.linalg.cholesky(G + (ridge * scale) * eye)
        except np.linalg.LinAlgError:
            continue
    return np.sqrt(scale) * eye


def _solve_lower(L, b, transposed=False):
    """``L^{-1} b`` (or ``L^{-T} b``) for lower-triangular, C-ordered ``L`` (float64).

    LAPACK's ``trtrs`` on ``L^T`` (Fortran-ordered: no copy), the call that
    ``scipy.linalg.solve_triangular`` makes for a C-ordered ``L`` (so the
    same numbers), without its input checks and dispatch, which cost 10-15
    times the solve itself at the sizes of a metric (tens of parameters),
    where every evaluation solves twice.
    """
    x, info = dtrtrs(L.T, b, lower=False, trans=0 if transposed else 1)
    if info != 0:
        raise np.linalg.LinAlgError(f"singular triangular factor (trtrs info {info})")
    return x
