"""The chunked objective: the sum of per-chunk objectives, evaluated where the chunks live.

Imported only for dask input (:mod:`skce._dask`).
"""

import copy

import numpy as np

from ._columns import merge_constant_values, merge_moments
from ._gram import top_eigenvalue, weighted_gram_matvec
from ._noise import l2_penalty_noise
from ._objective import LinearParameters, l2_penalty

__all__ = ["ChunkedObjective"]


def _call(item, name, *args):
    """``item.name(*args)``: one method of a chunk's objective, where the chunk is."""
    return getattr(item, name)(*args)


def _attribute(item, name):
    return getattr(item, name)


class ChunkedObjective(LinearParameters):
    """The sum of per-chunk :class:`~skce._objective.LinearObjective` partials.

    Every evaluation is one map over the chunks, where they live, and a sum of
    their small results on the client (in a fixed order, so a fit is
    repeatable); the penalty ``(alpha / 2) ||W||^2`` is added once, here. The
    metrics and moments are exact sums over every row (the fit plan takes row
    samples of data in memory only).

    Parameters
    ----------
    chunks : _LocalChunks or _ClusterChunks
        One ``LinearObjective`` per chunk, with ``alpha = 0`` and the weights
        normalised over every row.
    loss : object
        The loss of the chunk objectives.
    n_samples, n_features, n_outputs : int
    alpha : float
    fit_intercept : bool
    sparse : bool
        Whether the chunks are CSR matrices.
    dtype : numpy dtype
        X's dtype (float32 or float64).
    """

    def __init__(
        self, chunks, loss, *, n_samples, n_features, n_outputs, alpha, fit_intercept, sparse, dtype
    ):
        self.chunks = chunks
        self.loss = loss
        self.n_samples = int(n_samples)
        self.n_features = int(n_features)
        self.n_outputs = int(n_outputs)
        self.alpha = float(alpha)
        self.fit_intercept = bool(fit_intercept)
        self.n_params = self.n_outputs * (self.n_features + self.fit_intercept)
        self.sparse = bool(sparse)
        self.dtype = np.dtype(dtype)
        self._nnz = None

    def with_alpha(self, alpha):
        """The same objective with the penalty ``alpha`` (the chunks are shared)."""
        other = copy.copy(self)
        other.alpha = float(alpha)
        return other

    def _each(self, name, *args):
        """``name(*args)`` of every chunk's objective, gathered on the client."""
        return self.chunks.map(_call, name, *args).gather()

    @property
    def nnz(self):
        """Stored entries of X over every chunk (every entry for dense chunks)."""
        if self._nnz is None:
            self._nnz = int(sum(self.chunks.map(_attribute, "nnz").gather()))
        return self._nnz

    def value_and_grad(self, theta):
        """Return ``(J(theta), grad J(theta))``."""
        f, grad = map(_sum, zip(*self._each("value_and_grad", theta), strict=True))
        penalty, penalty_grad = l2_penalty(self.alpha, self.unpack(theta)[0])
        self.unpack(grad)[0][...] += penalty_grad
        return f + penalty, grad

    def value(self, theta):
        """Return ``J(theta)``."""
        return _sum(self._each("value", theta)) + l2_penalty(self.alpha, self.unpack(theta)[0])[0]

    def curvature_operator(self, theta):
        """``(product, diagonal)`` at ``theta`` (see LinearObjective): each product one map."""

        def product(v):
            out = _sum(self._each("hessian_product", theta, v))
            self.unpack(out)[0][...] += self.alpha * self.unpack(v)[0]
            return out

        parts = self._each("curvature_diagonal", theta)
        diag_W, cross, h_b = (_sum([part[j] for part in parts]) for j in range(3))
        return product, (diag_W + self.alpha, cross, h_b)

    def rounding_noise(self, theta):
        """The sum of the chunks' rounding noise plus the penalty's (see LinearObjective)."""
        f_noise, g_noise = map(_sum, zip(*self._each("rounding_noise", theta), strict=True))
        eps = float(np.finfo(self.dtype).eps)
        penalty_f, penalty_g = l2_penalty_noise(self.alpha, self.unpack(theta)[0], eps)
        self.unpack(g_noise)[0][...] += penalty_g
        return f_noise + penalty_f, g_noise

    def separates(self, theta):
        """Whether ``theta`` classifies every weighted sample of every chunk strictly right."""
        return all(self._each("separates", theta))

    def column_moments(self):
        """Weighted column mean and spread over every row, merged from the chunks' own."""
        return merge_moments(self._each("column_moments"), centred=self.fit_intercept)

    def constant_values(self, columns):
        """:meth:`LinearObjective.constant_values` over every chunk (merged)."""
        return merge_constant_values(self._each("constant_values", columns))

    def standardized_gram(self, theta, mean, sigma, tau, floor):
        """:meth:`LinearObjective.standardized_gram` summed over the chunks (every row)."""
        return _sum(self._each("standardized_gram", theta, mean, sigma, tau, floor))

    def coupled_gram(self, theta, mean, sigma, tau, floor):
        """:meth:`LinearObjective.coupled_gram` summed over the chunks (every row)."""
        return _sum(self._each("coupled_gram", theta, mean, sigma, tau, floor))

    def lipschitz(self):
        """Lipschitz constant of ``grad J``, as :meth:`LinearObjective.lipschitz`.

        Lanczos on the weighted Gram matrix of ``[X, 1]``, each product one map
        over the chunks: the in-memory ``L`` (to Lanczos's tolerance), not the
        larger sum of the chunks' constants.
        """
        m = self.n_features + self.fit_intercept
        lam = top_eigenvalue(lambda v: _sum(self.chunks.map(weighted_gram_matvec, v).gather()), m)
        return self.loss.curvature_bound * max(lam, 0.0) + self.alpha


def _sum(parts):
    """The chunks' partials added in chunk order (so a fit is repeatable), in float64."""
    total = np.zeros_like(parts[0], dtype=np.float64)
    for part in parts:
        total += part
    return total
