"""First-order solvers over a loss-and-gradient function.

Every solver minimises a smooth function given as ``fun(x) -> (f, g)`` with
``x`` a flat float64 vector, and stops when ``grad_norm(g) <= tol`` (by default
the largest absolute entry of ``g``) or after ``max_iter`` iterations. They
know nothing of scikit-learn, of ``X`` or of the model: the estimators hand
them an objective (possibly in rescaled coordinates) and a stopping measure.

A solver returns a :class:`SolverResult`; it never warns. Deciding what a
non-converged result means to a user is the caller's business.
"""

from collections import deque
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SOLVERS", "SolverResult", "agd", "bb", "gd", "lbfgs"]

_EPS = np.finfo(np.float64).eps


def _max_abs(g):
    return float(np.max(np.abs(g), initial=0.0))


@dataclass
class SolverResult:
    """Outcome of a solver run.

    Attributes
    ----------
    x : ndarray
        The returned point: the converged one, or else the point with the
        smallest stopping measure seen; ``grad_norm`` was measured at it.
    fun : float
        Objective value at ``x``.
    grad_norm : float
        Stopping measure at ``x``.
    n_iter : int
        Iterations performed.
    n_evals : int
        Calls of ``fun`` (each one loss-and-gradient evaluation) plus calls of
        ``value`` (loss only).
    status : str
        ``"converged"`` (``grad_norm <= tol``), ``"max_iter"`` or ``"stalled"``
        (the line search shrank the step until it no longer moves ``x`` at float
        precision: the objective no longer decreases at the working precision).
    history : list of float
        Objective value after each iteration, starting with the initial point.
    """

    x: np.ndarray
    fun: float
    grad_norm: float
    n_iter: int
    n_evals: int
    status: str
    history: list = field(default_factory=list)

    @property
    def converged(self):
        return self.status == "converged"


class LearningRateError(ValueError):
    """Raised when a constant learning rate makes gradient descent diverge."""


class _BestPoint:
    """The point with the smallest stopping measure so far, and stall detection.

    The guarded solvers are not monotone in the gradient, and near the optimum
    their line searches accept steps within the objective's rounding noise. When
    the arithmetic cannot resolve further progress, they wander: neither the
    record gradient nor the record objective improves any more. ``patience``
    iterations without a new gradient record (by at least 0.1%) and without an
    objective decrease larger than its rounding noise ``f_rtol * |f|`` mean a
    stall, and the gradient-record point is returned. (Either test alone is not
    enough: on ill-conditioned problems the objective keeps decreasing for
    hundreds of iterations while the largest gradient entry stays put.)
    """

    def __init__(self, patience, f_rtol):
        self.patience = patience
        self.f_rtol = f_rtol
        self.x = None
        self.f = np.inf
        self.gn = np.inf
        self.f_low = np.inf
        self.since = 0

    def update(self, x, f, gn):
        progress = False
        if f < self.f_low - self.f_rtol * abs(f):
            self.f_low = f
            progress = True
        if gn < 0.999 * self.gn or self.x is None:
            self.x, self.f, self.gn = x.copy(), f, gn
            progress = True
        self.since = 0 if progress else self.since + 1

    @property
    def stalled(self):
        return self.since >= self.patience

    def result(self, status, n_iter, n_evals, history):
        return SolverResult(self.x, self.f, self.gn, n_iter, n_evals, status, history)


#: Iterations without a new best gradient before a guarded solver declares a stall.
_PATIENCE = 200


def gd(fun, x0, *, learning_rate, tol, max_iter, grad_norm=_max_abs, callback=None):
    """Textbook gradient descent with a constant step.

    ``x_{k+1} = x_k - learning_rate * grad f(x_k)``. With ``learning_rate <= 1/L``
    (``L`` the Lipschitz constant of the gradient) the objective decreases at
    every step (the descent lemma), and for any step below ``2/L`` the method
    converges on a convex function.

    Raises
    ------
    LearningRateError
        If the objective becomes non-finite, or rises above its starting value by
        more than the starting value's magnitude (at least 1): the step is too
        large for this problem.
    """
    x = np.array(x0, dtype=np.float64)
    f, g = fun(x)
    f0 = f
    history = [f]
    n_evals = 1
    limit = f0 + max(1.0, abs(f0))
    for k in range(max_iter + 1):
        gn = grad_norm(g)
        if callback is not None:
            callback(k, f, gn, learning_rate)
        if gn <= tol:
            return SolverResult(x, f, gn, k, n_evals, "converged", history)
        if k == max_iter:
            break
        x = x - learning_rate * g
        f, g = fun(x)
        n_evals += 1
        history.append(f)
        if not (np.isfinite(f) and np.all(np.isfinite(g))) or f > limit:
            raise LearningRateError(
                f"Gradient descent diverged at iteration {k + 1}: the objective went "
                f"from {f0:.6g} to {f:.6g}. learning_rate={learning_rate:.6g} is too "
                "large for this data; use learning_rate='auto' (1/L, with L the "
                "Lipschitz constant of the gradient) or a smaller value."
            )
    return SolverResult(x, f, gn, max_iter, n_evals, "max_iter", history)


def agd(
    fun,
    x0,
    *,
    tol,
    max_iter,
    value=None,
    grad_norm=_max_abs,
    step0=1.0,
    f_rtol=4 * _EPS,
    callback=None,
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
    problems without knowing the strong-convexity constant.

    The stopping test is made at ``y_k``, whose gradient is the one computed,
    and ``y_k`` is the point returned on convergence (otherwise the point with
    the smallest stopping measure seen).
    """
    value = value if value is not None else (lambda z: fun(z)[0])
    x = np.array(x0, dtype=np.float64)
    y = x
    fy, gy = fun(y)
    n_evals = 1
    history = [fy]
    step = float(step0)
    a = 1.0
    in_noise = False
    gn = grad_norm(gy)
    best = _BestPoint(_PATIENCE, f_rtol)
    best.update(y, fy, gn)
    for k in range(max_iter + 1):
        if callback is not None:
            callback(k, fy, gn, step)
        if gn <= tol:
            return SolverResult(y, fy, gn, k, n_evals, "converged", history)
        if k == max_iter:
            break
        if best.stalled:
            return best.result("stalled", k, n_evals, history)
        gg = float(gy @ gy)
        gmax = _max_abs(gy)
        ymax = _max_abs(y)
        noise = f_rtol * abs(fy)
        if not in_noise:
            step *= 1.25
        while True:
            x_new = y - step * gy
            f_new = value(x_new)
            n_evals += 1
            if np.isfinite(f_new) and f_new <= fy - 0.5 * step * gg + noise:
                break
            step *= 0.5
            # Stalled: the step no longer moves y at the working precision. (A
            # test on the predicted decrease against the objective's noise would
            # stop too early: where that decrease is below the noise, the gradient
            # is still accurate, and the rounding allowance lets steps through.)
            if step * gmax <= _EPS * (1.0 + ymax):
                return best.result("stalled", k, n_evals, history)
        # Where the sufficient decrease is below the objective's rounding noise the
        # line search cannot tell good steps from bad ones: drop the momentum and
        # stop growing the step, so that the method falls back to gradient steps
        # of a length that was accepted on measurable decreases (no random walk).
        in_noise = 0.5 * step * gg <= noise
        if in_noise or gy @ (x_new - x) > 0:
            a = 1.0
        a_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * a * a))
        y = x_new + ((a - 1.0) / a_new) * (x_new - x)
        x, a = x_new, a_new
        fy, gy = fun(y)
        n_evals += 1
        gn = grad_norm(gy)
        best.update(y, fy, gn)
        history.append(min(fy, f_new))
    return best.result("max_iter", max_iter, n_evals, history)


def bb(
    fun,
    x0,
    *,
    tol,
    max_iter,
    grad_norm=_max_abs,
    step0=1.0,
    memory=10,
    f_rtol=4 * _EPS,
    callback=None,
):
    """Barzilai-Borwein gradient descent with a non-monotone line search.

    The step alternates the two Barzilai-Borwein lengths (Barzilai & Borwein
    1988), ``s.s / s.y`` and ``s.y / y.y`` with ``s = x_k - x_{k-1}`` and
    ``y = g_k - g_{k-1}``, and is safeguarded by the non-monotone Armijo rule of
    Grippo, Lampariello & Lucidi (1986): a trial point is accepted when
    ``f(x_k - lam t g) <= max(last `memory` values) - 1e-4 lam t ||g||^2``;
    otherwise ``lam`` shrinks by safeguarded quadratic interpolation. This is
    the guarded BB of Raydan (1997); it is robust where unguarded BB diverges.
    """
    x = np.array(x0, dtype=np.float64)
    f, g = fun(x)
    n_evals = 1
    history = [f]
    recent = deque([f], maxlen=memory)
    step = float(step0)
    gn = grad_norm(g)
    best = _BestPoint(_PATIENCE, f_rtol)
    best.update(x, f, gn)
    for k in range(max_iter + 1):
        if callback is not None:
            callback(k, f, gn, step)
        if gn <= tol:
            return SolverResult(x, f, gn, k, n_evals, "converged", history)
        if k == max_iter:
            break
        if best.stalled:
            return best.result("stalled", k, n_evals, history)
        gg = float(g @ g)
        gmax = _max_abs(g)
        xmax = _max_abs(x)
        f_ref = max(recent)
        noise = f_rtol * abs(f_ref)
        lam = 1.0
        while True:
            x_new = x - (lam * step) * g
            f_new, g_new = fun(x_new)
            n_evals += 1
            slope = lam * step * gg
            if np.isfinite(f_new) and f_new <= f_ref - 1e-4 * slope + noise:
                break
            if np.isfinite(f_new):
                # Minimiser of the quadratic through f(x), its slope and f_new.
                denom = 2.0 * (f_new - f + slope)
                lam_q = lam * slope / denom if denom > 0 else 0.1 * lam
                lam = min(max(lam_q, 0.1 * lam), 0.5 * lam)
            else:
                lam *= 0.1
            if lam * step * gmax <= _EPS * (1.0 + xmax):
                return best.result("stalled", k, n_evals, history)
        s = x_new - x
        yv = g_new - g
        sy = float(s @ yv)
        if sy > 0:
            step = float(s @ s) / sy if k % 2 == 0 else sy / float(yv @ yv)
        else:
            step = lam * step * 2.0
        step = min(max(step, 1e-12), 1e12)
        x, f, g = x_new, f_new, g_new
        gn = grad_norm(g)
        best.update(x, f, gn)
        recent.append(f)
        history.append(f)
    return best.result("max_iter", max_iter, n_evals, history)


def _two_loop(g, pairs):
    """L-BFGS direction ``-H g`` from the stored ``(s, y, 1/y.s)`` pairs (Nocedal 1980)."""
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * float(s @ q)
        q -= a * y
        alphas.append(a)
    if pairs:
        s, y, _ = pairs[-1]
        q *= float(s @ y) / float(y @ y)
    for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
        q += (a - rho * float(y @ q)) * s
    return -q


def lbfgs(
    fun,
    x0,
    *,
    tol,
    max_iter,
    grad_norm=_max_abs,
    step0=1.0,
    memory=10,
    f_rtol=4 * _EPS,
    callback=None,
):
    """Limited-memory BFGS with a backtracking Armijo line search.

    The direction comes from the two-loop recursion over the last ``memory``
    curvature pairs, with the initial inverse Hessian ``(s.y / y.y) I``
    (Nocedal & Wright, *Numerical Optimization*, algorithm 7.4). A pair is
    stored only when ``s.y > 0``, which keeps the approximation positive
    definite without a Wolfe line search; a direction that is not a descent
    direction resets the memory. Provided for comparison with the
    gradient-descent solvers on the same objective and stopping rule.
    """
    x = np.array(x0, dtype=np.float64)
    f, g = fun(x)
    n_evals = 1
    history = [f]
    pairs = deque(maxlen=memory)
    gn = grad_norm(g)
    best = _BestPoint(_PATIENCE, f_rtol)
    best.update(x, f, gn)
    for k in range(max_iter + 1):
        if callback is not None:
            callback(k, f, gn, 1.0)
        if gn <= tol:
            return SolverResult(x, f, gn, k, n_evals, "converged", history)
        if k == max_iter:
            break
        if best.stalled:
            return best.result("stalled", k, n_evals, history)
        d = _two_loop(g, pairs) if pairs else -step0 * g
        slope = float(g @ d)
        if slope >= 0:
            pairs.clear()
            d = -step0 * g
            slope = float(g @ d)
        dmax = _max_abs(d)
        xmax = _max_abs(x)
        noise = f_rtol * abs(f)
        lam = 1.0
        while True:
            x_new = x + lam * d
            f_new, g_new = fun(x_new)
            n_evals += 1
            if np.isfinite(f_new) and f_new <= f + 1e-4 * lam * slope + noise:
                break
            lam *= 0.5 if np.isfinite(f_new) else 0.1
            if lam * dmax <= _EPS * (1.0 + xmax):
                return best.result("stalled", k, n_evals, history)
        s = x_new - x
        yv = g_new - g
        sy = float(s @ yv)
        if sy > _EPS * float(yv @ yv):
            pairs.append((s, yv, 1.0 / sy))
        x, f, g = x_new, f_new, g_new
        gn = grad_norm(g)
        best.update(x, f, gn)
        history.append(f)
    return best.result("max_iter", max_iter, n_evals, history)


#: Solvers that take the objective in standardised coordinates, by name.
SOLVERS = {"agd": agd, "bb": bb, "lbfgs": lbfgs}
