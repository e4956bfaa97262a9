"""Changes of variables the solvers run in: identity, diagonal (Jacobi) and full metric.

Each maps the model's parameters ``theta = (W, b)`` to the solver's ``u`` and
back (``to_u``, ``to_theta``), and gradients both ways (``grad_to_u``,
``grad_to_theta``): an exact change of variables, so the optimum and the
stopping rule (``max |grad_theta J|``) do not depend on it. Which one a fit
uses, and the statistics it is built from, is the fit plan's decision
(:mod:`skce._plan`); the data is read only through the objective's sums.
"""

import copy

import numpy as np
from scipy.linalg.lapack import dtrtrs

from ._columns import check_representable

__all__ = ["OriginalCoordinates", "StandardizedCoordinates", "WhitenedCoordinates"]


class _ChangeOfVariables:
    """What every change of variables ``theta = theta(u)`` of an objective offers.

    Subclasses set ``objective`` and define ``to_theta``, ``to_u``, ``grad_to_u``
    and ``grad_to_theta``; the objective, its value and the stopping measure in
    the solver's coordinates follow.
    """

    def value_and_grad(self, u):
        """``(J, grad_u J)`` at ``u``."""
        f, g = self.objective.value_and_grad(self.to_theta(u))
        return f, self.grad_to_u(g)

    def value(self, u):
        """``J`` at ``u``."""
        return self.objective.value(self.to_theta(u))

    def curvature_operator(self, u):
        """``(product, diagonal)``: the Hessian ``H_u`` of ``J`` in the solver's coordinates.

        ``product(v) = H_u v``: ``theta`` is affine in ``u`` (``theta = T u +
        theta(0)``), so ``H_u = T^T H_theta T`` with ``T v = to_theta(v) -
        to_theta(0)`` and ``T^T`` :meth:`grad_to_u`. ``diagonal`` is the
        diagonal of ``H_u`` where it is cheap (:meth:`_hessian_diagonal`), else
        None.
        """
        hessian, parts = self.objective.curvature_operator(self.to_theta(u))
        origin = self.to_theta(np.zeros_like(u))

        def product(v):
            return self.grad_to_u(hessian(self.to_theta(v) - origin))

        return product, self._hessian_diagonal(parts)

    def _hessian_diagonal(self, parts):
        """The diagonal of ``H_u`` from the objective's ``(diag_W, cross, h_b)``; None here."""
        return None

    def on(self, objective):
        """The same change of variables for ``objective`` (same columns): a copy.

        A fit on every row continues a row sample's; a path's next fit, the previous one's.
        """
        other = copy.copy(self)
        other.objective = objective
        return other

    def stopping_measure(self, g):
        """``max |g|`` of a gradient ``g`` in ``theta``, over the solver's parameters.

        The coefficients of constant columns are not the solver's (they are 0 at
        the optimum, exactly): their entries are left out.
        """
        return self.grad_max(self.grad_to_u(g))

    def grad_max(self, gu):
        """The stopping measure of a gradient ``gu`` in ``u``: ``max |grad_theta J|``."""
        return float(np.max(np.abs(self.grad_to_theta(gu)), initial=0.0))

    def resolution(self, u, gu):
        """How far the gradient at ``u`` is above the arithmetic's resolution.

        Returns ``(f_noise, ratio)``: the rounding noise of ``J`` at ``u`` and
        the largest ``|grad_theta J|_j / noise_j`` over the parameters
        (:func:`skce._noise.rounding_noise`), in the original coordinates,
        where the stopping measure is taken.
        """
        f_noise, g_noise = self.objective.rounding_noise(self.to_theta(u))
        ratio = np.abs(self.grad_to_theta(gu)) / np.maximum(g_noise, np.finfo(np.float64).tiny)
        return f_noise, float(np.max(ratio, initial=0.0))


class OriginalCoordinates(_ChangeOfVariables):
    """The identity change of variables: the solver sees ``theta`` itself (``gd``)."""

    def __init__(self, objective):
        self.objective = objective

    @staticmethod
    def to_u(theta):
        return theta

    to_theta = grad_to_u = grad_to_theta = to_u


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

    With an intercept, a column that holds one value ``c_j`` on every weighted
    row (``constant``) only adds ``c_j W_j`` to every logit, which the
    unpenalised intercept takes over: at the optimum ``W_j = 0`` exactly (the
    penalty's minimum). Such a column is not among the solver's parameters at
    all (``V`` has the other columns only, ``W_j = 0``, and the stopping measure
    leaves its entry ``c_j grad_b`` out): as one, its ``c_j W_j`` and the
    intercept's ``- c_j W_j`` cancel in every logit to ``eps |c_j W_j|``, which
    stalls fits with ``|c_j|`` beyond about 1e8.

    Parameters
    ----------
    objective : Objective
    moments : tuple
        ``(mean, spread2, weight_sum)`` of the columns (:func:`skce._columns.moments`).
    constant : tuple or None
        ``(mask, values)``: the constant columns and their values, or None.
    """

    def __init__(self, objective, moments, constant=None):
        self.objective = objective
        mean, spread2, wsum = moments
        check_representable(mean, spread2)
        kappa = objective.loss.curvature_bound
        with np.errstate(over="ignore"):
            sigma2 = kappa * spread2 + objective.alpha
        self.mean = mean
        self.sigma = np.where(sigma2 > 0, np.sqrt(sigma2), 1.0)
        tau2 = kappa * wsum
        self.tau = float(np.sqrt(tau2)) if tau2 > 0 else 1.0
        self._k = objective.n_outputs
        self._d = objective.n_features
        self._intercept = objective.fit_intercept
        #: The columns the solver moves: a slice of all, or the non-constant ones.
        self.active = slice(None)
        if constant is not None and self._intercept and constant[0].any():
            self.mean = mean.copy()
            self.mean[constant[0]] = constant[1]  # their centred values are 0
            self.active = np.flatnonzero(~constant[0])
        self.n_active = self.mean[self.active].shape[0]

    def _split(self, v, d):
        """Views ``(k x d, intercepts)`` of ``u`` (``d = n_active``) or ``theta`` (all columns)."""
        return v[: self._k * d].reshape(self._k, d), v[self._k * d :]

    def to_theta(self, u):
        """Original parameters ``theta = (W, b)`` from ``u = (V, c)``."""
        V, c = self._split(u, self.n_active)
        theta = np.zeros(self.objective.n_params)
        W, b = self._split(theta, self._d)
        W[:, self.active] = V / self.sigma[self.active]
        if self._intercept:
            b[:] = c / self.tau - W @ self.mean
        return theta

    def to_u(self, theta):
        """``u = (V, c)`` from original parameters ``theta = (W, b)``."""
        W, b = self._split(theta, self._d)
        u = np.empty(self._k * (self.n_active + self._intercept))
        V, c = self._split(u, self.n_active)
        V[:] = W[:, self.active] * self.sigma[self.active]
        if self._intercept:
            # A constant column's c_j W_j moves into the intercept: the same logits.
            c[:] = (b + W @ self.mean) * self.tau
        return u

    def grad_to_u(self, g):
        """Gradient in ``u`` from the gradient in ``theta``."""
        gW, gb = self._split(g, self._d)
        out = np.empty(self._k * (self.n_active + self._intercept))
        gV, gc = self._split(out, self.n_active)
        gV[:] = gW[:, self.active]
        if self._intercept:
            gV -= gb[:, None] * self.mean[self.active]
            gc[:] = gb / self.tau
        gV /= self.sigma[self.active]
        return out

    def _hessian_diagonal(self, parts):
        """The diagonal of ``H_u``: the Jacobi preconditioner of the current curvature.

        ``V_kj`` moves ``W_kj`` by ``1 / sigma_j`` and ``b_k`` by ``-mu_j / sigma_j``,
        so its diagonal entry is ``(H_WW - 2 mu_j H_Wb + mu_j^2 H_bb) / sigma_j^2``;
        ``c_k`` moves ``b_k`` by ``1 / tau``: ``H_bb / tau^2``. For softmax the
        entries are averaged over the classes (below): the diagonal of ``H_u`` for
        one output, the Jacobi scaling of its classes for several.
        """
        diag_W, cross, h_b = parts
        a = self.active
        mean, sigma = self.mean[a], self.sigma[a]
        dV = diag_W[:, a]
        if self._intercept:
            dV = dV - 2.0 * mean * cross[:, a] + mean**2 * h_b[:, None]
        # One scale per column for all classes (their mean): a preconditioner that
        # treats the classes alike keeps the class sums of the parameters, which
        # softmax leaves unidentified (the intercepts' always, W's at alpha = 0),
        # where they were; per-class scales moved the intercepts along it.
        dV = np.broadcast_to(dV.mean(axis=0), dV.shape) / sigma**2
        if self._intercept:
            return np.concatenate([dV.ravel(), np.full(self._k, h_b.mean() / self.tau**2)])
        return dV.ravel()

    def grad_to_theta(self, gu):
        """Gradient in ``theta`` from the gradient in ``u`` (0 for the constant columns)."""
        gV, gc = self._split(gu, self.n_active)
        out = np.zeros(self.objective.n_params)
        gW, gb = self._split(out, self._d)
        gW[:, self.active] = gV * self.sigma[self.active]
        if self._intercept:
            gb[:] = gc * self.tau
            gW[:, self.active] += gb[:, None] * self.mean[self.active]
        return out


class WhitenedCoordinates(_ChangeOfVariables):
    """A full-matrix change of variables: the metric of Newton's method, refreshed.

    Built on :class:`StandardizedCoordinates` (centred, Jacobi-scaled
    parameters ``v_k = (V_k, c_k)``, one vector of ``d + 1`` per output ``k``),
    it factors a symmetric positive definite metric ``M = L L^T`` and lets the
    solver work on ``z_k = L^T v_k``::

        v_k = L^{-T} z_k         grad_z = L^{-1} grad_v

    so the solver sees a problem whose Hessian is ``L^{-1} H L^{-T}``: the
    identity where ``M`` equals the Hessian ``H``. ``M`` is the curvature-weighted
    Gram matrix of the standardised columns (:func:`skce._gram.standardized_gram`)
    plus the penalty ``alpha / sigma^2``: at first with the curvature bound
    (Böhning's; at ``theta = 0`` the exact binary Hessian), and after
    :meth:`refresh` with the curvature ``p (1 - p)`` at the current parameters;
    for one output it is then the Hessian. With ``coupled`` (softmax), one
    metric for all ``K (d + 1)`` parameters couples the classes: the Hessian
    (:func:`skce._gram.coupled_gram`) plus a curvature along the class-sum
    directions that the loss does not see. Otherwise softmax shares one
    ``(d + 1)``-metric between the classes (the average of the Hessian's
    diagonal blocks). Both leave the class-sum of the parameters (which the
    penalty keeps at zero) where it was. A small floor (``1e-6`` of the bound)
    keeps ``M`` positive definite where the fitted probabilities saturate.

    Parameters
    ----------
    objective : Objective
        The function minimised.
    std : StandardizedCoordinates
        The diagonal scaling underneath.
    metric_rows : Objective
        The rows the metric is summed over: ``objective`` or a row sample of
        it (weights on the whole data's scale), chosen by the fit plan.
    coupled : Objective or None
        For the class-coupled metric, the rows it is summed over; None for one
        metric shared between the outputs.
    theta : ndarray, optional
        Where the first metric takes its curvature (a warm start); by default
        the curvature bound.
    """

    #: Curvature floor, relative to the loss's curvature bound.
    floor = 1e-6

    def __init__(self, objective, std, metric_rows, coupled=None, theta=None):
        self.objective = objective
        self.std = std
        self.metric_rows = metric_rows
        self.coupled = coupled
        self._k = objective.n_outputs
        self._d = std.n_active  # the metric sees the solver's columns only
        self._intercept = objective.fit_intercept
        # The rows and columns of the Gram matrices (of every column and the
        # intercept) that belong to the solver's parameters.
        every = np.arange(objective.n_features + 1)
        self._rows = np.append(every[:-1][std.active], every[-1])
        self.refresh(theta)

    def on(self, objective):
        """The same coordinates and metric for ``objective`` (same columns): a copy.

        If ``objective`` has another penalty ``alpha`` (the next fit of a
        regularisation path), the metric keeps its curvature and gets the new
        penalty: a Cholesky factorisation, no Gram matrix (the curvature at the
        previous fit's optimum, where the next fit starts, is the one it needs).
        """
        other = super().on(objective)
        other.std = self.std.on(objective)
        if objective.alpha != self.objective.alpha:
            other.L = other._penalised_factor()
        return other

    def refresh(self, theta):
        """Rebuild the metric from the curvature at ``theta`` (original coordinates).

        ``theta=None``: the curvature bound; for the coupled metric then
        ``(I - 11^T / K) kron G`` (Böhning's, ``G`` the bound metric of one
        output, which carries ``kappa``).
        """
        std, k, rows = self.std, self._k, self._rows
        args = (theta, std.mean, std.sigma, std.tau, self.floor)
        #: Whether the metric holds the curvature at a point (not the bound).
        self.refreshed = theta is not None
        # The metric without the penalty, kept for a change of alpha (on()).
        if self.coupled is None:
            self._curvature = self.metric_rows.standardized_gram(*args)[np.ix_(rows, rows)]
        elif theta is None:
            G = self.coupled.standardized_gram(*args)[np.ix_(rows, rows)]
            self._curvature = np.kron(np.eye(k) - np.ones((k, k)) / k, G)
        else:
            index = (np.arange(k)[:, None] * (self.objective.n_features + 1) + rows).ravel()
            self._curvature = self.coupled.coupled_gram(*args)[np.ix_(index, index)]
        self.L = self._penalised_factor()

    def _penalised_factor(self):
        """Cholesky factor of the stored curvature plus the objective's penalty.

        The coupled metric gets ``c (11^T / K) kron I`` too (``c`` its mean
        diagonal): curvature and penalty commute with the projection on
        class-sum zero, so this gives the directions the loss does not see a
        curvature without changing a step's other components.
        """
        k, d = self._k, self._d
        M = self._curvature.copy()
        penalty = np.zeros(d + 1)
        penalty[:d] = self.objective.alpha / self.std.sigma[self.std.active] ** 2
        if self.coupled is None:
            M[np.diag_indices_from(M)] += penalty
            return _cholesky_with_jitter(M if self._intercept else M[:d, :d])
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
        if self.coupled is not None:
            V = _solve_lower(self.L, Z.ravel(), transposed=True).reshape(Z.shape)
        else:
            V = _solve_lower(self.L, Z.T, transposed=True).T
        return self.std.to_theta(self._flat(V))

    def to_u(self, theta):
        """``z_k = L^T v_k`` from original parameters."""
        V = self._blocks(self.std.to_u(theta))
        if self.coupled is not None:
            return self._flat((self.L.T @ V.ravel()).reshape(V.shape))
        return self._flat(V @ self.L)

    def grad_to_u(self, g):
        """``grad_z = L^{-1} grad_v`` from the gradient in ``theta``."""
        Gv = self._blocks(self.std.grad_to_u(g))
        if self.coupled is not None:
            return self._flat(_solve_lower(self.L, Gv.ravel()).reshape(Gv.shape))
        return self._flat(_solve_lower(self.L, Gv.T).T)

    def grad_to_theta(self, gz):
        """Gradient in ``theta`` from the gradient in ``z`` (``grad_v = L grad_z``)."""
        Gz = self._blocks(gz)
        if self.coupled is not None:
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
    ``scipy.linalg.solve_triangular`` makes for a C-ordered ``L`` (so the same
    numbers), without its input checks and dispatch, which cost 10-15 times the
    solve itself at the sizes of a metric (tens of parameters), where every
    evaluation solves twice.
    """
    x, info = dtrtrs(L.T, b, lower=False, trans=0 if transposed else 1)
    if info != 0:
        raise np.linalg.LinAlgError(f"singular triangular factor (trtrs info {info})")
    return x
