"""The linear model around a pointwise loss.

:class:`LinearObjective` turns a loss from :mod:`skce._loss` into the function
the solvers minimise::

    J(W, b) = sum_i l(x_i W^T + b, A_i) + (alpha / 2) ||W||_F^2

where the weighted targets ``A`` already carry the sample weights, the class
weights and the ``1 / sum_i s_i`` normalisation (see :func:`weighted_targets`),
and the intercept ``b`` is not penalised. Its gradient is the prediction error
times the input, ``grad_W = X^T dZ + alpha W`` and ``grad_b = sum_i dZ_i``.

Parameters are one flat float64 vector ``theta = [W.ravel(), b]`` with ``W`` of
shape ``(n_outputs, n_features)``. Dense ``X`` is processed in blocks of rows so
that each block is read from memory once per evaluation and stays in cache
between the forward (``X W^T``) and backward (``X^T dZ``) products.

The sums over the rows that the fit path needs beyond evaluation are in
:mod:`skce._columns`, :mod:`skce._gram` and :mod:`skce._noise`; :class:`Objective`
declares the interface, which :mod:`skce._dask_objective` implements too. This
module knows nothing of scikit-learn estimators.
"""

import copy
from typing import Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from . import _columns, _gram
from ._noise import rounding_noise

__all__ = [
    "LinearObjective",
    "LinearParameters",
    "Objective",
    "check_objective",
    "l2_penalty",
    "weighted_targets",
]

#: Bytes of a float64 dense row block (float32 blocks have the same rows, half the
#: bytes): small enough to stay in cache between the forward and backward
#: products, large enough to amortise Python overhead. 4 MiB measured best for
#: float64 on the 2-core benchmark machine (docs/performance.md).
BLOCK_BYTES = 1 << 22


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
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative, with a positive sum; None means all ones.
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
    class_weight = np.asarray(class_weight, dtype=np.float64)
    n = y_codes.shape[0]
    if sample_weight is None:  # unit weights, without an array of ones
        scale = 1.0 / (n if weight_total is None else float(weight_total))
    else:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        total = sample_weight.sum() if weight_total is None else float(weight_total)
        scale = sample_weight / total
    # Class by class, with a boolean mask: no (row, column) index arrays, whose
    # int64 entries cost as much memory as the targets themselves.
    off = label_smoothing / n_classes
    A = np.empty((n_classes, n))
    mask = np.empty(n, dtype=bool)
    for k in range(n_classes):
        np.equal(y_codes, k, out=mask)
        np.multiply(mask, (1.0 - label_smoothing) * class_weight[k], out=A[k])
        A[k] += off * class_weight[k]
        A[k] *= scale
    return A


def l2_penalty(alpha, W):
    """The penalty ``(alpha / 2) ||W||_F^2`` and its gradient ``alpha W``."""
    return 0.5 * alpha * float(np.vdot(W, W)), alpha * W


@runtime_checkable
class Objective(Protocol):
    """What the fit plan, the coordinates and the fit driver use of an objective.

    :class:`LinearObjective` (rows in memory) and
    :class:`skce._dask.ChunkedObjective` (rows in chunks where they live)
    implement it; :func:`check_objective` checks an object at the places that
    take one. Sums over rows are over every row of the objective: a row sample
    is an objective of its own (:meth:`LinearObjective.subset`).
    """

    loss: object
    n_samples: int
    n_features: int
    n_outputs: int
    n_params: int
    alpha: float
    fit_intercept: bool
    sparse: bool
    dtype: np.dtype

    def value_and_grad(self, theta): ...
    def value(self, theta): ...
    def curvature_operator(self, theta): ...
    def unpack(self, theta): ...
    def pack(self, W, b): ...
    def with_alpha(self, alpha): ...
    def separates(self, theta): ...
    def rounding_noise(self, theta): ...
    def column_moments(self): ...
    def constant_values(self, columns): ...
    def standardized_gram(self, theta, mean, sigma, tau, floor): ...
    def coupled_gram(self, theta, mean, sigma, tau, floor): ...
    def lipschitz(self): ...


def check_objective(objective):
    """``objective`` if it implements :class:`Objective`; TypeError naming what it lacks."""
    if not isinstance(objective, Objective):
        wanted = [*Objective.__annotations__, *(n for n in vars(Objective) if n[0] != "_")]
        members = [m for m in wanted if not hasattr(objective, m)]
        raise TypeError(f"{type(objective).__name__} is not an Objective: it lacks {members}.")
    return objective


class LinearParameters:
    """The parameter layout of a linear model: ``theta = (W.ravel(), b)``.

    Shared by the objectives, which set ``n_outputs``, ``n_features`` and
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
    """Penalised weighted cross-entropy of a linear model, rows in memory.

    Parameters
    ----------
    loss : object
        A loss from :mod:`skce._loss` (``loss_gradient``, ``n_outputs``,
        ``curvature_bound``).
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        float32 or float64; never copied (a row sample, :meth:`subset`, copies
        its rows).
    A : ndarray of shape (n_classes, n_samples)
        Weighted targets, class-major (see :func:`weighted_targets`).
    alpha : float
        L2 penalty on ``W``.
    fit_intercept : bool
    block_rows : int, optional
        Dense ``X`` only: rows per block of the sums over ``X`` (by default as
        many as make a ``BLOCK_BYTES`` float64 block).
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
        self.sparse = sp.issparse(X)
        self.dtype = X.dtype
        # What does not depend on alpha (column moments, constant columns, the top
        # eigenvalue of the weighted Gram matrix, row samples), computed once and
        # shared with with_alpha's copies.
        self._cache = {}
        if self.sparse:
            # One block: slicing sparse X, even with slice(None), would copy it.
            self.row_blocks = [slice(0, self.n_samples)]
        else:
            size = block_rows or max(64, BLOCK_BYTES // max(1, self.n_features * 8))
            self.row_blocks = [
                slice(s, min(s + size, self.n_samples)) for s in range(0, self.n_samples, size)
            ]
        # Work buffers reused by every evaluation (dense blocks): logits/residuals,
        # the loss's scratch, and a copy in X's dtype when X is not float64.
        largest = 0 if self.sparse else max(r.stop - r.start for r in self.row_blocks)
        self._logit_buffer = np.empty(self.n_outputs * largest)
        self._loss_work = np.empty(2 * largest)
        narrow = X.dtype != np.float64 and not self.sparse
        self._cast_buffer = np.empty(self.n_outputs * largest, dtype=X.dtype) if narrow else None

    def with_alpha(self, alpha):
        """The same objective with the penalty ``alpha``: a copy that shares the data.

        The data, work buffers and cached statistics are shared (a path prepares
        them once), so the copies are evaluated one at a time.
        """
        other = copy.copy(self)
        other.alpha = float(alpha)
        return other

    def subset(self, rows, block_rows=None):
        """The objective on the rows ``rows`` (sorted indices), copied, weights rescaled.

        The rows' weights are scaled so that they sum to this objective's total
        (the one rescaling of a row sample): the result is the same weighted
        mean over fewer rows, an estimate of ``J`` (and of its sums: moments,
        Gram matrices) on the whole data's scale. The rows are copied, so that
        the many evaluations on them read contiguous memory.
        """
        A = self.A[:, rows]
        used = A.sum()
        if used > 0:
            A *= self.total_weight.sum() / used
        dense_c = not self.sparse and self.X.flags.c_contiguous
        X = np.take(self.X, rows, axis=0) if dense_c else self.X[rows]
        return LinearObjective(self.loss, X, A, self.alpha, self.fit_intercept, block_rows)

    def cached(self, key, make):
        """``make()``, computed once per ``key`` for this data (shared with :meth:`with_alpha`)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def nnz(self):
        """Stored entries of ``X`` (every entry when ``X`` is dense)."""
        return self.X.nnz if self.sparse else self.n_samples * self.n_features

    # -- linear algebra on X --------------------------------------------------
    # The products run in X's own dtype (float32 data is never promoted as a
    # whole); logits and residuals are float64 and class-major (k, m), and the
    # per-block gradient contributions are summed in float64, so float32 rounding
    # only enters within one block. A single output uses matrix-vector products.
    def logit_weights(self, theta):
        """``(W in X's dtype, b)`` of ``theta``; ``W`` is None when it is zero."""
        W, b = self.unpack(theta)
        return (W.astype(self.dtype, copy=False) if W.any() else None), b

    def _block(self, rows):
        return self.X if self.sparse else self.X[rows]

    def logits(self, rows, Wx, b, reuse=False):
        """Logits ``(X[rows] W^T + b)^T``, shape (k, m), float64; ``Wx`` is ``W`` in X's dtype.

        ``Wx=None`` means ``W = 0`` (the usual starting point): no product needed.
        With ``reuse=True`` (dense blocks) the result is written into the
        objective's work buffer, valid until the next call.
        """
        k = Wx.shape[0] if Wx is not None else b.shape[0]
        Xb = self._block(rows)
        m = Xb.shape[0]
        if reuse and not self.sparse:
            Z = self._logit_buffer[: k * m].reshape(k, m)
        else:
            Z = np.empty((k, m))
        if Wx is None:
            Z[:] = b[:, None]
            return Z
        if self.sparse:
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

    def add_backward(self, rows, dZ, out_W):
        """Add ``dZ X[rows]`` to ``out_W`` (k, d), accumulating in float64."""
        Xb = self._block(rows)
        k, m = dZ.shape
        if self.dtype == np.float64:
            dZx = dZ
        elif self._cast_buffer is not None:
            dZx = self._cast_buffer[: k * m].reshape(k, m)
            dZx[:] = dZ
        else:
            dZx = dZ.astype(self.dtype)
        if self.sparse:
            # One transposed view, kept: scipy checks a new one's format at every call.
            Xt = self.cached("transpose", lambda: Xb.T)
            if k == 1:
                out_W[0] += Xt @ dZx[0]
            else:
                out_W += np.asarray(Xt @ dZx.T).T
        elif k == 1:
            out_W[0] += Xb.T @ dZx[0]
        else:
            out_W += dZx @ Xb

    # -- objective -------------------------------------------------------------
    def _loss_gradient(self, rows, Wx, b):
        """The loss of the block ``rows`` and its gradient in the logits (a work buffer)."""
        Z = self.logits(rows, Wx, b, reuse=True)
        return self.loss.loss_gradient(Z, self.A[:, rows], self.total_weight[rows], self._loss_work)

    def value_and_grad(self, theta):
        """Return ``(J(theta), grad J(theta))``."""
        Wx, b = self.logit_weights(theta)
        grad = np.zeros_like(theta)
        gW, gb = self.unpack(grad)
        loss = 0.0
        for rows in self.row_blocks:
            block_loss, dZ = self._loss_gradient(rows, Wx, b)
            loss += block_loss
            self.add_backward(rows, dZ, gW)
            if self.fit_intercept:
                gb += dZ.sum(axis=1)
        penalty, penalty_grad = l2_penalty(self.alpha, self.unpack(theta)[0])
        gW += penalty_grad
        return loss + penalty, grad

    def value(self, theta):
        """Return ``J(theta)`` (one pass over ``X``)."""
        Wx, b = self.logit_weights(theta)
        loss = 0.0
        for rows in self.row_blocks:
            loss += self._loss_gradient(rows, Wx, b)[0]
        return loss + l2_penalty(self.alpha, self.unpack(theta)[0])[0]

    def curvature_operator(self, theta):
        """``(product, diagonal)``: the Hessian of ``J`` at ``theta``, for truncated Newton.

        ``product(v)`` is ``H v`` for a direction ``v`` (flat, like ``theta``).
        The loss's curvature at ``theta``'s logits is computed once; each
        product is then two passes over ``X`` (``X V^T + c`` and ``X^T dZ``), the
        cost of a gradient::

            H v = [X^T dZ + alpha V, sum_i dZ_i]   with   dZ_i = w_i H_i(z_i) (x_i V^T + c)

        ``H_i`` the loss's Hessian per unit weight in the logits, ``w_i`` the row's
        total weight (the intercept is not penalised). ``diagonal`` is what the
        diagonal of ``H`` in any affine coordinates needs (:meth:`curvature_diagonal`).
        """
        states = self._curvature_states(theta)
        return self._curvature_product(states), self._curvature_diagonal(states)

    def _curvature_states(self, theta):
        """The loss's curvature state (:meth:`hessian_state`) of each row block at ``theta``."""
        Wx, b = self.logit_weights(theta)
        return [self.loss.hessian_state(self.logits(rows, Wx, b)) for rows in self.row_blocks]

    def _curvature_product(self, states):
        """``v -> H v`` from the row blocks' curvature states."""

        def product(v):
            Vx, c = self.logit_weights(v)
            out = np.zeros_like(v)
            oW, ob = self.unpack(out)
            for rows, state in zip(self.row_blocks, states, strict=True):
                dZ = self.loss.hessian_product(state, self.logits(rows, Vx, c))
                dZ *= self.total_weight[rows]
                self.add_backward(rows, dZ, oW)
                if self.fit_intercept:
                    ob += dZ.sum(axis=1)
            oW += self.alpha * self.unpack(v)[0]
            return out

        return product

    def curvature_diagonal(self, theta):
        """``(diag_W, cross, h_b)``: the parts of the Hessian's diagonal at ``theta``.

        With ``h_ki = w_i d²l_i/dz_k²`` (the loss's per-output curvature):
        ``diag_W[k, j] = sum_i h_ki x_ij^2 + alpha`` (the diagonal of the ``W``
        block), ``cross[k, j] = sum_i h_ki x_ij`` (its coupling to the intercept
        ``b_k``) and ``h_b[k] = sum_i h_ki``: from them the diagonal in the
        centred, scaled coordinates follows (:mod:`skce._coordinates`). Two
        passes over ``X`` (one over its squares, slice by slice).
        """
        return self._curvature_diagonal(self._curvature_states(theta))

    def _curvature_diagonal(self, states):
        k, d = self.n_outputs, self.n_features
        diag_W, cross, h_b = np.zeros((k, d)), np.zeros((k, d)), np.zeros(k)
        for rows, state in zip(self.row_blocks, states, strict=True):
            h = self.loss.hessian_diagonal(state) * self.total_weight[rows]
            self.add_backward(rows, h, cross)
            diag_W += _columns.weighted_square_sums(self._block(rows), h)
            h_b += h.sum(axis=1)
        diag_W += self.alpha
        return diag_W, cross, h_b

    def hessian_product(self, theta, v):
        """``H v`` at ``theta``, the curvature computed afresh (one chunk of a chunked fit)."""
        return self._curvature_product(self._curvature_states(theta))(v)

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
        Wx = W.astype(self.dtype, copy=False)
        for rows in self.row_blocks:
            keep = weighted[:, rows].any(axis=0)
            if not keep.any():
                continue
            target = np.argmax(weighted[:, rows], axis=0)
            margins = self.loss.margins(self.logits(rows, Wx, b), target)
            if not np.all(margins[keep] > 0):
                return False
        return True

    # -- the rest of the Objective interface: sums over the rows, in their rooms --
    def rounding_noise(self, theta):
        """:func:`skce._noise.rounding_noise` of this objective at ``theta``."""
        return rounding_noise(self, theta)

    def column_moments(self):
        """:func:`skce._columns.moments` over every row (computed once)."""
        return self.cached("moments", lambda: _columns.moments(self))

    def constant_values(self, columns):
        """:func:`skce._columns.constant_values` of ``columns`` (computed once per set)."""
        columns = np.asarray(columns, dtype=np.intp)
        key = ("constant_values", columns.tobytes())
        return self.cached(key, lambda: _columns.constant_values(self, columns))

    def standardized_gram(self, theta, mean, sigma, tau, floor):
        """:func:`skce._gram.standardized_gram` over every row."""
        return _gram.standardized_gram(self, theta, mean, sigma, tau, floor)

    def coupled_gram(self, theta, mean, sigma, tau, floor):
        """:func:`skce._gram.coupled_gram` over every row."""
        return _gram.coupled_gram(self, theta, mean, sigma, tau, floor)

    def lipschitz(self):
        """Lipschitz constant of ``grad J`` in the original coordinates.

        ``L = curvature_bound * lambda_max(X1^T diag(w) X1) + alpha`` with
        ``X1 = [X, 1]`` and ``w_i = sum_k A_ik`` (:func:`skce._gram.gram_eigenvalue`):
        the penalty is added in full although the intercept is not penalised,
        which keeps ``L`` an upper bound.
        """
        if not self.total_weight.any():
            return self.alpha  # no weighted row (a chunk of a chunked fit): no loss term
        eigenvalue = self.cached("gram_eigenvalue", lambda: _gram.gram_eigenvalue(self))
        return self.loss.curvature_bound * eigenvalue + self.alpha
