"""Step rules: how each solver moves from one point to the next.

A step rule is a small object that :func:`skce._loop.minimise` drives: ``start``
sees the point a run (or a round after a metric refresh) starts from and resets
the rule's state, ``step`` moves from the current point to the next, or returns
None when its line search can no longer move at float precision. Stopping,
stall detection, the best point and the history are the loop's business.
"""

from collections import deque
from dataclasses import dataclass

import numpy as np

from ._loop import NOISE_ALLOWANCES, PATIENCE, BestPoint, LastPoint

__all__ = [
    "Accelerated",
    "BarzilaiBorwein",
    "ConstantStep",
    "LearningRateError",
    "QuasiNewton",
    "TruncatedNewton",
]

_EPS = np.finfo(np.float64).eps


def max_abs(g):
    return float(np.max(np.abs(g), initial=0.0))


def _negligible(move, x_max):
    """Whether a move of largest entry ``move`` leaves ``x`` unchanged at float precision.

    A line search that has shrunk its step this far can make no more progress:
    this is the stall signal of the guarded step rules.
    """
    return move <= _EPS * (1.0 + x_max)


class LearningRateError(ValueError):
    """Raised when a constant learning rate makes gradient descent diverge."""


@dataclass
class Step:
    """Where one iteration of a step rule ended.

    ``x``, ``f`` and ``g`` are the new current point, its value and gradient
    (where the next stopping test is made); ``f_history`` is the value recorded
    in the history for this iteration.
    """

    x: np.ndarray
    f: float
    g: np.ndarray
    f_history: float


class ConstantStep:
    """``x - learning_rate * g``, raising :class:`LearningRateError` on divergence."""

    def __init__(self, learning_rate):
        self.step_length = learning_rate

    @staticmethod
    def tracker():
        # Textbook gd: no stall detection, the last iterate is returned.
        return LastPoint()

    def start(self, x, f, g):
        self.f0 = f
        self.limit = f + max(1.0, abs(f))

    def step(self, k, x, f, g, evals):
        x_new = x - self.step_length * g
        f_new, g_new = evals.value_and_grad(x_new)
        if not (np.isfinite(f_new) and np.all(np.isfinite(g_new))) or f_new > self.limit:
            raise LearningRateError(
                f"Gradient descent diverged at iteration {k + 1}: the objective went "
                f"from {self.f0:.6g} to {f_new:.6g}. learning_rate={self.step_length:.6g} "
                "is too large for this data; use learning_rate='auto' (1/L, with L the "
                "Lipschitz constant of the gradient) or a smaller value."
            )
        return Step(x_new, f_new, g_new, f_new)


class _Guarded:
    """Base of the step rules with a line search: best point and stall detection."""

    def __init__(self, f_rtol):
        self.f_rtol = f_rtol

    def tracker(self):
        return BestPoint(PATIENCE, self.f_rtol)

    def relax(self, f_rtol):
        """Raise the noise allowance to ``f_rtol``, keeping what the rule has learnt."""
        self.f_rtol = max(self.f_rtol, f_rtol)


class Accelerated(_Guarded):
    """FISTA with a growing backtracked step and gradient restart (see :func:`agd`).

    The driver's current point is the extrapolated ``y_k``; ``x_k`` and the
    momentum ``a_k`` are state.
    """

    def __init__(self, step0, f_rtol):
        super().__init__(f_rtol)
        self.step0 = float(step0)
        self.step_length = self.step0

    def start(self, x, f, g):
        self.step_length = self.trusted = self.step0
        self.x = x
        self.a = 1.0
        self.in_noise = False

    def relax(self, f_rtol):
        # The failed searches may have been shrunk by noise: back to the last
        # step accepted on a measurable decrease.
        super().relax(f_rtol)
        self.step_length = max(self.step_length, self.trusted)

    def _search(self, y, fy, gy, gg, noise, evals):
        """Backtrack from a grown step to sufficient decrease; ``None`` on a stall."""
        gmax = max_abs(gy)
        ymax = max_abs(y)
        step = self.trusted if self.in_noise else 1.25 * self.step_length
        while True:
            x_new = y - step * gy
            f_new = evals.value(x_new)
            if np.isfinite(f_new) and f_new <= fy - 0.5 * step * gg + noise:
                return step, x_new, f_new
            step *= 0.5
            # Stalled: the step no longer moves y at the working precision. (A
            # test on the predicted decrease against the objective's noise would
            # stop too early: where that decrease is below the noise, the gradient
            # is still accurate, and the rounding allowance lets steps through.)
            if _negligible(step * gmax, ymax):
                return None

    def step(self, k, y, fy, gy, evals):
        gg = float(gy @ gy)
        noise = self.f_rtol * abs(fy)
        found = self._search(y, fy, gy, gg, noise, evals)
        if found is None:
            return None
        step, x_new, f_new = found
        self.step_length = step
        # Where the sufficient decrease is below the objective's rounding noise the
        # line search cannot tell good steps from bad ones (and noise can shrink
        # the step for nothing): start the search from the last length accepted
        # on a measurable decrease, short enough for the local curvature (the
        # descent lemma), without growing it. The momentum stays, under the
        # gradient restart test: dropping it made an ill-conditioned problem
        # crawl at the rate of plain gradient descent (raw breast cancer with the
        # diagonal scaling: 20,000 iterations from max|grad| 2e-6 to 1e-7).
        self.in_noise = 0.5 * step * gg <= noise
        if not self.in_noise:
            self.trusted = step
        a = self.a
        if gy @ (x_new - self.x) > 0:
            a = 1.0
        a_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * a * a))
        y = x_new + ((a - 1.0) / a_new) * (x_new - self.x)
        self.x, self.a = x_new, a_new
        fy, gy = evals.value_and_grad(y)
        if self.in_noise and fy > f_new + NOISE_ALLOWANCES * noise:
            # The extrapolation raised the objective by more than rounding explains
            # (the line search, accepting rises within the noise, would otherwise
            # carry it into the next step): restart from x_{k+1}, as the gradient
            # test would have (no extrapolation, then a = the golden ratio).
            self.a = 0.5 * (1.0 + np.sqrt(5.0))
            y = x_new
            fy, gy = evals.value_and_grad(y)
        return Step(y, fy, gy, min(fy, f_new))


class BarzilaiBorwein(_Guarded):
    """Alternating BB steps under the GLL non-monotone Armijo rule (see :func:`bb`)."""

    def __init__(self, step0, memory, f_rtol):
        super().__init__(f_rtol)
        self.step0 = float(step0)
        self.step_length = self.step0
        self.memory = memory

    def start(self, x, f, g):
        self.step_length = self.step0
        self.recent = deque([f], maxlen=self.memory)

    def _search(self, x, f, g, evals):
        """Shrink ``lam`` by safeguarded interpolation to acceptance; ``None`` on a stall."""
        step = self.step_length
        gg = float(g @ g)
        gmax = max_abs(g)
        xmax = max_abs(x)
        f_ref = max(self.recent)
        noise = self.f_rtol * abs(f_ref)
        lam = 1.0
        while True:
            x_new = x - (lam * step) * g
            f_new, g_new = evals.value_and_grad(x_new)
            slope = lam * step * gg
            if np.isfinite(f_new) and f_new <= f_ref - 1e-4 * slope + noise:
                return lam, x_new, f_new, g_new
            if np.isfinite(f_new):
                # Minimiser of the quadratic through f(x), its slope and f_new.
                denom = 2.0 * (f_new - f + slope)
                lam_q = lam * slope / denom if denom > 0 else 0.1 * lam
                lam = min(max(lam_q, 0.1 * lam), 0.5 * lam)
            else:
                lam *= 0.1
            if _negligible(lam * step * gmax, xmax):
                return None

    def step(self, k, x, f, g, evals):
        found = self._search(x, f, g, evals)
        if found is None:
            return None
        lam, x_new, f_new, g_new = found
        s = x_new - x
        yv = g_new - g
        sy = float(s @ yv)
        if sy > 0:
            step = float(s @ s) / sy if k % 2 == 0 else sy / float(yv @ yv)
        else:
            step = lam * self.step_length * 2.0
        self.step_length = min(max(step, 1e-12), 1e12)
        self.recent.append(f_new)
        return Step(x_new, f_new, g_new, f_new)


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


class QuasiNewton(_Guarded):
    """L-BFGS directions under Armijo backtracking (see :func:`lbfgs`)."""

    #: Reported to the callback: the trial step of the line search is always 1.
    step_length = 1.0

    def __init__(self, step0, memory, f_rtol):
        super().__init__(f_rtol)
        self.step0 = step0
        self.memory = memory

    def start(self, x, f, g):
        self.pairs = deque(maxlen=self.memory)

    def _direction(self, g):
        """The two-loop direction, or steepest descent if it does not descend."""
        d = _two_loop(g, self.pairs) if self.pairs else -self.step0 * g
        slope = float(g @ d)
        if slope >= 0:
            self.pairs.clear()
            d = -self.step0 * g
            slope = float(g @ d)
        return d, slope

    def step(self, k, x, f, g, evals):
        d, slope = self._direction(g)
        found = _backtrack(x, f, d, slope, self.f_rtol * abs(f), evals)
        if found is None:
            return None
        x_new, f_new, g_new = found
        s = x_new - x
        yv = g_new - g
        sy = float(s @ yv)
        yy = float(yv @ yv)
        # A pair is kept where its curvature s.y is positive and y.y representable
        # (gradients fading towards 0 on separable data can underflow it).
        if sy > _EPS * yy and yy > 0.0:
            self.pairs.append((s, yv, 1.0 / sy))
        return Step(x_new, f_new, g_new, f_new)


def _backtrack(x, f, d, slope, noise, evals):
    """Armijo backtracking along ``d`` from the unit step: ``(x, f, g)`` or ``None`` on a stall.

    A trial point is accepted when ``f(x + lam d) <= f + 1e-4 lam slope + noise``
    (``slope = g.d < 0``); ``lam`` halves (a tenth where ``f`` is not finite).
    """
    dmax = max_abs(d)
    xmax = max_abs(x)
    lam = 1.0
    while True:
        x_new = x + lam * d
        f_new, g_new = evals.value_and_grad(x_new)
        if np.isfinite(f_new) and f_new <= f + 1e-4 * lam * slope + noise:
            return x_new, f_new, g_new
        lam *= 0.5 if np.isfinite(f_new) else 0.1
        if _negligible(lam * dmax, xmax):
            return None


def conjugate_gradient(product, b, atol, max_steps, enough=None, diagonal=None):
    """Approximate solution of ``H d = b`` by conjugate gradients from ``d = 0``.

    ``product(v) = H v`` for a symmetric positive semi-definite ``H``; with
    ``diagonal`` (positive: ``H``'s diagonal) the conjugate gradients are
    preconditioned by it (Jacobi). Stops when the residual ``r = b - H d`` has
    ``||r|| <= atol`` or ``enough(r)`` is true, after ``max_steps`` products, or
    where a direction has no positive curvature (``H`` singular along it:
    ``alpha = 0`` on collinear columns); ``d`` then is the last iterate, a
    descent direction for ``-b`` the gradient (Nocedal & Wright, *Numerical
    Optimization*, algorithms 5.3 and 7.1). Returns ``(d, products)``.
    """
    scale = None
    if diagonal is not None:
        scale = 1.0 / diagonal if np.all(diagonal > 0) else None
    d = np.zeros_like(b)
    r = b.copy()
    z = r if scale is None else scale * r
    p = z.copy()
    rz = float(r @ z)
    for j in range(1, max_steps + 1):
        Hp = product(p)
        curvature = float(p @ Hp)
        if not curvature > 0:
            return (d if j > 1 else p), j
        step = rz / curvature
        d += step * p
        r -= step * Hp
        if np.sqrt(float(r @ r)) <= atol or (enough is not None and enough(r)):
            return d, j
        z = r if scale is None else scale * r
        rz_new = float(r @ z)
        p *= rz_new / rz
        p += z
        rz = rz_new
    return d, max_steps


class TruncatedNewton(_Guarded):
    """Newton directions from conjugate gradients on curvature products, under Armijo backtracking.

    At ``x`` the direction solves ``H d = -g`` by conjugate gradients,
    preconditioned by ``H``'s own diagonal where the coordinates give it (the
    curvature at ``x``, not the bound the diagonal scaling was built from:
    measured on InstEval one-hot, alpha 1e-6, tol 1e-8: 231 curvature
    products against 365, and 337 against 432 with beta 16), to the relative residual
    ``eta = min(FORCING_MAX, sqrt(||g||))`` (a forcing sequence that makes the
    convergence superlinear, Dembo, Eisenstat & Steihaug 1982; ``||g||`` in the
    solver's well-scaled coordinates, where it is at most about 1 at the start),
    at most ``max_products`` curvature products; the unit step is tried first.
    The residual ``r`` of the equations is the gradient the unit step would
    leave on the quadratic model: the solve also stops once its stopping
    measure ``grad_norm(r)`` is below ``tol / 2`` (more digits would be spent
    past the stopping rule; measured on InstEval one-hot, alpha 1e-6, beta 16,
    tol 1e-7: the last iteration's products fell from 418 to 204).
    """

    #: Reported to the callback: the trial step of the line search is always 1.
    step_length = 1.0

    #: The largest relative residual of the Newton equations.
    FORCING_MAX = 0.5

    def __init__(self, max_products, f_rtol, grad_norm=max_abs, tol=0.0):
        super().__init__(f_rtol)
        self.max_products = max_products
        self.enough = lambda r: grad_norm(r) <= 0.5 * tol

    def start(self, x, f, g):
        pass

    def step(self, k, x, f, g, evals):
        gnorm = float(np.sqrt(g @ g))
        eta = min(self.FORCING_MAX, np.sqrt(gnorm))
        product, diagonal = evals.curvature(x)
        d, _ = conjugate_gradient(
            product, -g, eta * gnorm, self.max_products, self.enough, diagonal
        )
        slope = float(g @ d)
        if not slope < 0:
            d, slope = -g, -(gnorm**2)
        found = _backtrack(x, f, d, slope, self.f_rtol * abs(f), evals)
        if found is None:
            return None
        x_new, f_new, g_new = found
        return Step(x_new, f_new, g_new, f_new)
