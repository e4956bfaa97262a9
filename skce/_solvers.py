"""First-order solvers over a loss-and-gradient function, and their registry.

Every solver minimises a smooth function given as ``fun(x) -> (f, g)`` with
``x`` a flat float64 vector, and stops when ``grad_norm(g) <= tol`` (by default
the largest absolute entry of ``g``) or after ``max_iter`` iterations. They
know nothing of scikit-learn, of ``X`` or of the model: the estimators hand
them an objective (possibly in rescaled coordinates) and a stopping measure.

A solver is a step rule (:mod:`skce._steps`) inside the one shared loop
(:func:`skce._loop.minimise`), which owns stopping, stall detection, the point
returned, the history and the metric refresh. :data:`SOLVERS` registers every
solver by name. A solver returns a :class:`SolverResult`; it never warns.
Deciding what a non-converged result means to a user is the caller's business.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._loop import SolverResult, minimise
from ._steps import (
    Accelerated,
    BarzilaiBorwein,
    ConstantStep,
    LearningRateError,
    QuasiNewton,
    TruncatedNewton,
    max_abs,
)

__all__ = [
    "SOLVERS",
    "SOLVER_NAMES",
    "LearningRateError",
    "Solver",
    "SolverResult",
    "agd",
    "bb",
    "gd",
    "lbfgs",
    "newton",
]

_EPS = np.finfo(np.float64).eps


# -- the solvers -------------------------------------------------------------------


def gd(fun, x0, *, learning_rate, tol, max_iter, grad_norm=max_abs, callback=None):
    """Textbook gradient descent with a constant step.

    ``x_{k+1} = x_k - learning_rate * grad f(x_k)``. With ``learning_rate <= 1/L``
    (``L`` the Lipschitz constant of the gradient) the objective decreases at
    every step (the descent lemma), and for any step below ``2/L`` the method
    converges on a convex function.

    Unlike the guarded solvers, it has no stall detection and returns its last
    iterate when ``max_iter`` is reached: with a step of at most ``1/L`` that is
    also the point of smallest objective, and the method stays the textbook one.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)``, the value and gradient at a flat float64 ``x``.
    x0 : array-like
        Starting point (copied).
    learning_rate : float
        The constant step.
    tol : float
        Stop when ``grad_norm(g) <= tol``.
    max_iter : int
        Largest number of iterations.
    grad_norm : callable, default=max |g|
        Stopping measure of a gradient.
    callback : callable, optional
        ``callback(k, f, grad_norm, step)`` at iterations ``k = 0 .. n_iter``.

    Returns
    -------
    SolverResult

    Raises
    ------
    LearningRateError
        If the objective becomes non-finite, or rises above its starting value by
        more than the starting value's magnitude (at least 1): the step is too
        large for this problem.

    Examples
    --------
    >>> import numpy as np
    >>> from skce._solvers import gd
    >>> res = gd(lambda x: (0.5 * x @ x, x), np.ones(2), learning_rate=0.5, tol=1e-6,
    ...          max_iter=100)
    >>> res.status, res.n_iter
    ('converged', 20)
    """
    return minimise(
        ConstantStep(learning_rate),
        fun,
        x0,
        tol=tol,
        max_iter=max_iter,
        grad_norm=grad_norm,
        callback=callback,
    )


def agd(
    fun,
    x0,
    *,
    tol,
    max_iter,
    value=None,
    grad_norm=max_abs,
    step0=1.0,
    f_rtol=4 * _EPS,
    callback=None,
    resolution=None,
    refresh=None,
):
    """Nesterov-accelerated gradient descent with line search and adaptive restart.

    Iterates ``x_{k+1} = y_k - t_k grad f(y_k)`` and
    ``y_{k+1} = x_{k+1} + (a_k - 1) / a_{k+1} (x_{k+1} - x_k)`` with
    ``a_{k+1} = (1 + sqrt(1 + 4 a_k^2)) / 2`` (FISTA, Beck & Teboulle 2009).
    The step ``t_k`` is found by backtracking on the sufficient-decrease
    condition ``f(x_{k+1}) <= f(y_k) - t_k/2 ||grad f(y_k)||^2`` and is allowed to
    grow by 25% at every iteration, so it tracks the local curvature in both
    directions. Momentum restarts (``a = 1``) whenever
    ``grad f(y_k) . (x_{k+1} - x_k) > 0``, the gradient scheme of O'Donoghue &
    Candès (2015), which recovers linear convergence on strongly convex
    problems without knowing the strong-convexity constant. Where the
    sufficient decrease falls below the objective's rounding noise (the line
    search can no longer judge a step), the search starts from the last length
    accepted on a measurable decrease, without growing it, and the momentum is
    kept under the gradient restart test; an extrapolated point whose objective
    exceeds ``f(x_{k+1})`` by more than rounding explains (4 noise allowances)
    is replaced by ``x_{k+1}`` (a restart).

    The stopping test is made at ``y_k``, whose gradient is the one computed,
    and ``y_k`` is the point returned on convergence (otherwise the point with
    the smallest stopping measure seen). The history records, per iteration,
    the smaller of ``f(x_{k+1})`` and ``f(y_{k+1})``.

    Parameters
    ----------
    fun, x0, tol, max_iter, grad_norm, callback
        As for :func:`gd`.
    value : callable, optional
        ``value(x) -> f``, used by the line search, which needs no gradient;
        by default ``fun(x)[0]``.
    step0 : float, default=1.0
        Initial step (grown by 25% before the first line search).
    f_rtol : float, default=4 eps
        Relative rounding noise of ``f``: the line search accepts increases
        below ``f_rtol * |f|``, and stall detection ignores them.
    resolution : callable, optional
        ``resolution(x, g) -> (f_noise, ratio)``: the rounding noise of ``f``
        at ``x`` and the largest ratio of a gradient entry to its own rounding
        noise. With it, a run stalls only at the arithmetic's floor (see
        :func:`_minimise`); without it, whenever the line search cannot move
        ``x`` or 200 iterations bring no progress.
    refresh : object, optional
        A change of coordinates between iterations (a metric refreshed), which
        the loop makes when it is due; see :func:`skce._loop.minimise`.

    Returns
    -------
    SolverResult
    """
    return minimise(
        Accelerated(step0, f_rtol),
        fun,
        x0,
        tol=tol,
        max_iter=max_iter,
        grad_norm=grad_norm,
        callback=callback,
        value=value,
        resolution=resolution,
        refresh=refresh,
    )


def bb(
    fun,
    x0,
    *,
    tol,
    max_iter,
    grad_norm=max_abs,
    step0=1.0,
    memory=10,
    f_rtol=4 * _EPS,
    callback=None,
    resolution=None,
    refresh=None,
):
    """Barzilai-Borwein gradient descent with a non-monotone line search.

    The step alternates the two Barzilai-Borwein lengths (Barzilai & Borwein
    1988), ``s.s / s.y`` and ``s.y / y.y`` with ``s = x_k - x_{k-1}`` and
    ``y = g_k - g_{k-1}``, and is safeguarded by the non-monotone Armijo rule of
    Grippo, Lampariello & Lucidi (1986): a trial point is accepted when
    ``f(x_k - lam t g) <= max(last `memory` values) - 1e-4 lam t ||g||^2``;
    otherwise ``lam`` shrinks by safeguarded quadratic interpolation. This is
    the guarded BB of Raydan (1997); it is robust where unguarded BB diverges.

    Parameters
    ----------
    fun, x0, tol, max_iter, grad_norm, callback
        As for :func:`gd`.
    step0 : float, default=1.0
        First trial step.
    memory : int, default=10
        Number of recent objective values the reference value is taken over.
    f_rtol : float, default=4 eps
        Relative rounding noise of ``f`` (see :func:`agd`).
    resolution, refresh : optional
        See :func:`agd`.

    Returns
    -------
    SolverResult

    Examples
    --------
    >>> import numpy as np
    >>> from skce._solvers import bb
    >>> A = np.diag([1.0, 10.0, 100.0])
    >>> res = bb(lambda x: (0.5 * x @ A @ x, A @ x), np.ones(3), tol=1e-10, max_iter=500)
    >>> res.status, bool(np.allclose(res.x, 0.0, atol=1e-9))
    ('converged', True)
    """
    return minimise(
        BarzilaiBorwein(step0, memory, f_rtol),
        fun,
        x0,
        tol=tol,
        max_iter=max_iter,
        grad_norm=grad_norm,
        callback=callback,
        resolution=resolution,
        refresh=refresh,
    )


def lbfgs(
    fun,
    x0,
    *,
    tol,
    max_iter,
    grad_norm=max_abs,
    step0=1.0,
    memory=10,
    f_rtol=4 * _EPS,
    callback=None,
    resolution=None,
    refresh=None,
):
    """Limited-memory BFGS with a backtracking Armijo line search.

    The direction comes from the two-loop recursion over the last ``memory``
    curvature pairs, with the initial inverse Hessian ``(s.y / y.y) I``
    (Nocedal & Wright, *Numerical Optimization*, algorithm 7.4). A pair is
    stored only when ``s.y > 0``, which keeps the approximation positive
    definite without a Wolfe line search; a direction that is not a descent
    direction resets the memory. Provided for comparison with the
    gradient-descent solvers on the same objective and stopping rule.

    Parameters
    ----------
    fun, x0, tol, max_iter, grad_norm, callback
        As for :func:`gd`; the callback's ``step`` is always 1 (the trial step).
    step0 : float, default=1.0
        Scale of the steepest-descent direction used without curvature pairs.
    memory : int, default=10
        Number of curvature pairs kept.
    f_rtol : float, default=4 eps
        Relative rounding noise of ``f`` (see :func:`agd`).
    resolution, refresh : optional
        See :func:`agd`.

    Returns
    -------
    SolverResult
    """
    return minimise(
        QuasiNewton(step0, memory, f_rtol),
        fun,
        x0,
        tol=tol,
        max_iter=max_iter,
        grad_norm=grad_norm,
        callback=callback,
        resolution=resolution,
        refresh=refresh,
    )


def newton(
    fun,
    x0,
    *,
    tol,
    max_iter,
    curvature,
    grad_norm=max_abs,
    max_products=None,
    f_rtol=4 * _EPS,
    callback=None,
    resolution=None,
    refresh=None,
):
    """Truncated Newton: conjugate-gradient directions on Hessian-vector products.

    Each iteration solves the Newton equations ``H d = -g`` approximately by
    conjugate gradients (each step one curvature product ``H v``, from
    ``curvature(x)``), to the relative residual ``min(0.5, sqrt(||g||))``, and
    backtracks from the unit step on the Armijo rule (Nocedal & Wright,
    *Numerical Optimization*, algorithm 7.1, line-search Newton-CG). Far from
    the optimum a few products give a gradient-like step; near it the
    directions become Newton's and the convergence superlinear, so the last
    digits of the optimum cost a few iterations. It is the method of
    scikit-learn's ``newton-cg`` and, with a trust region, of liblinear.

    Parameters
    ----------
    fun, x0, tol, max_iter, grad_norm, callback
        As for :func:`gd`.
    curvature : callable
        ``curvature(x) -> (product, diagonal)``: Hessian-vector products
        ``product(v) = H v`` at ``x``, and ``H``'s diagonal (or None), which
        preconditions the conjugate gradients.
    max_products : int, optional
        Most curvature products per iteration; by default the number of
        parameters (at most 1000).
    f_rtol : float, default=4 eps
        Relative rounding noise of ``f`` (see :func:`agd`).
    resolution, refresh : optional
        See :func:`agd`.

    Returns
    -------
    SolverResult

    Examples
    --------
    >>> import numpy as np
    >>> from skce._solvers import newton
    >>> A = np.diag([1.0, 10.0, 100.0])
    >>> res = newton(lambda x: (0.5 * x @ A @ x, A @ x), np.ones(3), tol=1e-10, max_iter=50,
    ...              curvature=lambda x: ((lambda v: A @ v), np.diag(A)))
    >>> res.status, res.n_iter
    ('converged', 1)
    """
    if max_products is None:
        max_products = min(1000, np.asarray(x0).size)
    return minimise(
        TruncatedNewton(max_products, f_rtol, grad_norm, tol),
        fun,
        x0,
        tol=tol,
        max_iter=max_iter,
        grad_norm=grad_norm,
        callback=callback,
        resolution=resolution,
        refresh=refresh,
        curvature=curvature,
    )


# -- the registry ------------------------------------------------------------------


@dataclass(frozen=True)
class Solver:
    """A registered solver: its function and what a caller must give it.

    Calling the entry calls the solver. The estimators read ``coordinates`` and
    ``options`` so that adding a solver means adding one entry here.

    Attributes
    ----------
    minimise : callable
        ``minimise(fun, x0, *, tol, max_iter, grad_norm, callback, **options)``.
    coordinates : str
        The parametrisation the solver should see: ``"standardized"`` for the
        guarded solvers (they are meant to run on a well-scaled problem),
        ``"original"`` for ``gd``, whose ``learning_rate`` is defined on the
        problem as posed.
    options : tuple of str
        Keyword arguments it takes beyond the shared ones, among
        ``"learning_rate"``, ``"value"`` (loss only), ``"f_rtol"`` (relative
        rounding noise of the objective) and ``"resolution"`` (the rounding
        noise at a point, which decides whether a stall is real).
    refreshed_metric : bool
        Whether the solver gets a metric rebuilt between rounds (the estimators'
        ``preconditioner="auto"``) when the problem is small enough (the fit
        plan's rule, :mod:`skce._plan`). Every solver takes ``refresh``. False for
        ``lbfgs``: it builds its own curvature model from its step pairs, which
        every refresh discards, and with the refreshed metric its fits on flat
        problems were not reproducible to scikit-learn's 1e-7 (sample-weight
        equivalence check: 5e-6) at the default ``tol``.
    """

    minimise: Callable
    coordinates: str
    options: tuple = ()
    refreshed_metric: bool = False

    def __call__(self, fun, x0, **kwargs):
        return self.minimise(fun, x0, **kwargs)


#: Every solver by name, the default first; the single source of the solver names.
SOLVERS = {
    "bb": Solver(bb, "standardized", ("f_rtol", "resolution"), refreshed_metric=True),
    "agd": Solver(agd, "standardized", ("value", "f_rtol", "resolution"), refreshed_metric=True),
    "lbfgs": Solver(lbfgs, "standardized", ("f_rtol", "resolution")),
    "newton": Solver(
        newton, "standardized", ("curvature", "f_rtol", "resolution"), refreshed_metric=True
    ),
    "gd": Solver(gd, "original", ("learning_rate",)),
}

#: The solver names, in the order of :data:`SOLVERS`.
SOLVER_NAMES = tuple(SOLVERS)
