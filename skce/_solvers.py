"""First-order solvers over a loss-and-gradient function.

Every solver minimises a smooth function given as ``fun(x) -> (f, g)`` with
``x`` a flat float64 vector, and stops when ``grad_norm(g) <= tol`` (by default
the largest absolute entry of ``g``) or after ``max_iter`` iterations. They
know nothing of scikit-learn, of ``X`` or of the model: the estimators hand
them an objective (possibly in rescaled coordinates) and a stopping measure.

One loop, :func:`_minimise`, owns what all solvers share: the callback, the
stopping test, ``max_iter``, stall detection, the point returned, the history
and the evaluation count. A solver is a step rule inside it: a small object
whose ``start`` sees the initial point and whose ``step`` moves from the
current point to the next, or reports that its line search can no longer
move at float precision. :data:`SOLVERS` registers every solver by name.

A solver returns a :class:`SolverResult`; it never warns. Deciding what a
non-converged result means to a user is the caller's business.
"""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

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
]

_EPS = np.finfo(np.float64).eps


def _max_abs(g):
    return float(np.max(np.abs(g), initial=0.0))


def _negligible(move, x_max):
    """Whether a move of largest entry ``move`` leaves ``x`` unchanged at float precision.

    A line search that has shrunk its step this far can make no more progress:
    this is the stall signal of the guarded step rules.
    """
    return move <= _EPS * (1.0 + x_max)


@dataclass
class SolverResult:
    """Outcome of a solver run.

    Attributes
    ----------
    x : ndarray
        The returned point: the converged one, or else the point with the
        smallest stopping measure seen (``gd``: its last iterate);
        ``grad_norm`` was measured at it.
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
        precision, or the run stopped making progress: the objective no longer
        decreases at the working precision).
    history : list of float
        Objective value after each iteration, starting with the initial point.
    last : ndarray or None
        With status ``"max_iter"``, the final iterate (``x`` is the point with
        the smallest stopping measure, which a guarded solver need not have
        ended at): where to continue from. None otherwise.
    tracker : object or None
        The guarded solvers' record of the best point and of the iterations
        without progress; pass it to a later run (``tracker=``) to continue it.
    noise_ratio : float or None
        With status ``"stalled"`` and a ``resolution``: the largest ratio of a
        gradient entry to its rounding noise where the run stopped. At most
        ``_RESOLVABLE`` when the gradient is at its floor; larger when the
        objective's rounding noise, not the gradient's, stopped the line search.
    """

    x: np.ndarray
    fun: float
    grad_norm: float
    n_iter: int
    n_evals: int
    status: str
    history: list = field(default_factory=list)
    last: np.ndarray = None
    tracker: object = None
    noise_ratio: float = None

    @property
    def converged(self):
        return self.status == "converged"


class LearningRateError(ValueError):
    """Raised when a constant learning rate makes gradient descent diverge."""


# -- the shared loop -------------------------------------------------------------


class _Evaluations:
    """The objective as the step rules see it, counting every call."""

    def __init__(self, fun, value=None):
        self._fun = fun
        self._value = value if value is not None else (lambda z: fun(z)[0])
        self.count = 0

    def value_and_grad(self, x):
        self.count += 1
        return self._fun(x)

    def value(self, x):
        self.count += 1
        return self._value(x)


@dataclass
class _Step:
    """Where one iteration of a step rule ended.

    ``x``, ``f`` and ``g`` are the new current point, its value and gradient
    (where the next stopping test is made); ``f_history`` is the value recorded
    in the history for this iteration.
    """

    x: np.ndarray
    f: float
    g: np.ndarray
    f_history: float


class _BestPoint:
    """The point with the smallest stopping measure so far, and stall detection.

    The guarded solvers are not monotone in the gradient, and near the optimum
    their line searches accept steps within the objective's rounding noise. When
    the arithmetic cannot resolve further progress, they wander: neither the
    record gradient nor the record objective improves any more. ``patience``
    iterations without a new gradient record (by at least 0.1%) and without an
    objective decrease larger than its rounding noise ``f_rtol * |f|`` raise the
    suspicion of a stall, which the driver then checks against the arithmetic's
    resolution (see :func:`_minimise`). (Either test alone is not enough: on
    ill-conditioned problems the objective keeps decreasing for hundreds of
    iterations while the largest gradient entry stays put.)

    A tracker can be handed to a later run (``SolverResult.tracker``), which
    then continues its record and its count: a fit made of several runs (a
    metric refreshed between them) returns the best point of all of them and
    stalls as one run would. ``x`` is in the solver's coordinates; a caller
    that changes coordinates between runs expresses it in the new ones
    (:meth:`remap`).
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

    def remap(self, x):
        """Replace the record point by ``x``: the same point in new coordinates."""
        self.x = np.array(x, dtype=np.float64)

    @property
    def stalled(self):
        return self.since >= self.patience

    def result(self, status, n_iter, n_evals, history):
        result = SolverResult(self.x, self.f, self.gn, n_iter, n_evals, status, history)
        result.tracker = self
        return result


class _LastPoint:
    """The latest iterate, never stalled: the tracker of textbook gradient descent."""

    stalled = False

    def update(self, x, f, gn):
        # gd builds a new array at every step, so a reference is enough.
        self.x, self.f, self.gn = x, f, gn

    def result(self, status, n_iter, n_evals, history):
        return SolverResult(self.x, self.f, self.gn, n_iter, n_evals, status, history)


#: How many noise allowances (``f_rtol * |f|``) an objective value may exceed another
#: before ``agd``, in the noise regime, takes it as a real rise. Both values carry rounding
#: error, and the allowance is an estimate that understates the noise of raw data: at a
#: threshold of 1, 3,028 restarts on raw wine, digits and breast cancer all fired where
#: convexity and the gradient showed no rise (differences up to 3.5 allowances), resetting
#: the momentum every 8-9 iterations (raw wine: about 18,000 iterations instead of 1,488).
_NOISE_RISE = 4.0

#: Iterations without a new best gradient before a guarded solver suspects a stall.
_PATIENCE = 200

#: A stall is declared only where no gradient entry is more than this many times
#: its rounding noise (when the caller gives a ``resolution``).
_RESOLVABLE = 10.0


def _check_finite(f, g, where):
    """FloatingPointError if ``f`` or an entry of ``g`` is NaN or infinite.

    A step rule cannot descend along a non-finite gradient (its line search
    would shrink the step for ever): the run stops here instead.
    """
    if not (np.isfinite(f) and np.all(np.isfinite(g))):
        raise FloatingPointError(
            f"The objective or its gradient is not finite {where} (f = {f!r}, "
            f"{int(np.sum(~np.isfinite(g)))} non-finite gradient entries)."
        )


def _minimise(
    rule,
    fun,
    x0,
    *,
    tol,
    max_iter,
    grad_norm,
    callback,
    value=None,
    resolution=None,
    tracker=None,
):
    """Run a step rule until the stopping test, ``max_iter`` or a stall.

    Iteration ``k`` calls ``callback(k, f, grad_norm, rule.step_length)`` at the
    current point, returns it if its stopping measure is at most ``tol``, and
    otherwise asks ``rule.step`` for the next point. The rule's tracker
    chooses the point returned without convergence and suspects a stall
    (:class:`_BestPoint` for the guarded solvers; :class:`_LastPoint`, never
    stalled, for ``gd``); a rule whose ``step`` returns ``None`` (its line
    search no longer moves ``x``) raises the same suspicion.

    What a suspected stall means depends on ``resolution``. Without it, the run
    ends as ``"stalled"``. With it, the driver asks how far the gradient is
    above the arithmetic's resolution: only where no entry is more than
    ``_RESOLVABLE`` times its rounding noise does the run end as
    ``"stalled"``. Otherwise the arithmetic can still go further and the run
    goes on from the current point, the rule keeping what it has learnt
    (curvature pairs, momentum, step) but with its noise allowance raised to
    the objective's measured rounding noise (``rule.relax``), which is what
    makes a line search fail short of the floor; the suspicion counts as an
    iteration. If the rule then cannot move from that point either, the run
    ends as ``"stalled"`` with ``noise_ratio`` above ``_RESOLVABLE``: the
    objective's rounding noise, not the gradient's, hides any further descent.

    Parameters
    ----------
    rule : object
        Step rule with ``step_length``, ``tracker()``, ``start(x, f, g)``,
        ``step(k, x, f, g, evals) -> _Step or None`` and, for the guarded
        rules, ``relax(f_rtol)``.
    fun, x0, tol, max_iter, grad_norm, callback
        As for the public solvers.
    value : callable, optional
        Loss-only function for the rules that need one (``evals.value``).
    resolution : callable, optional
        ``resolution(x, g) -> (f_noise, ratio)``: the absolute rounding noise of
        ``f`` at ``x`` and the largest ratio of a gradient entry to its rounding
        noise (in the coordinates of the stopping measure). Counted as one
        evaluation.
    tracker : _BestPoint, optional
        The tracker of an earlier run to continue (``SolverResult.tracker``).

    Returns
    -------
    SolverResult
    """
    evals = _Evaluations(fun, value)
    x = np.array(x0, dtype=np.float64)
    f, g = evals.value_and_grad(x)
    _check_finite(f, g, "at the starting point")
    history = [f]
    rule.start(x, f, g)
    gn = grad_norm(g)
    if tracker is None:
        tracker = rule.tracker()
        tracker.update(x, f, gn)
    else:
        # A continued run starts where the earlier one stood: that point was
        # seen already, and the noise allowance it had learnt carries over.
        rule.relax(tracker.f_rtol)
    relaxed_at = None
    for k in range(max_iter + 1):
        if callback is not None:
            callback(k, f, gn, rule.step_length)
        if gn <= tol:
            result = SolverResult(x, f, gn, k, evals.count, "converged", history)
            result.tracker = tracker
            return result
        if k == max_iter:
            break
        moved = None if tracker.stalled else rule.step(k, x, f, g, evals)
        if moved is None:
            if resolution is None:
                return tracker.result("stalled", k, evals.count, history)
            evals.count += 1
            f_noise, ratio = resolution(x, g)
            if ratio <= _RESOLVABLE or relaxed_at is x:
                result = tracker.result("stalled", k, evals.count, history)
                result.noise_ratio = ratio
                return result
            # Both values a line search compares carry the noise, and the
            # estimate is a first-order model, not a bound: allow 4 times it.
            f_rtol = 4.0 * f_noise / abs(f) if f != 0 else 0.0
            rule.relax(f_rtol)
            tracker.f_rtol = max(tracker.f_rtol, f_rtol)
            tracker.since = 0
            relaxed_at = x
            history.append(f)
            continue
        x, f, g = moved.x, moved.f, moved.g
        _check_finite(f, g, f"after iteration {k + 1}")
        gn = grad_norm(g)
        tracker.update(x, f, gn)
        history.append(moved.f_history)
    result = tracker.result("max_iter", max_iter, evals.count, history)
    result.last = x
    return result


# -- step rules --------------------------------------------------------------------


class _ConstantStep:
    """``x - learning_rate * g``, raising :class:`LearningRateError` on divergence."""

    def __init__(self, learning_rate):
        self.step_length = learning_rate

    @staticmethod
    def tracker():
        # Textbook gd: no stall detection, the last iterate is returned.
        return _LastPoint()

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
        return _Step(x_new, f_new, g_new, f_new)


class _Guarded:
    """Base of the step rules with a line search: best point and stall detection."""

    def __init__(self, f_rtol):
        self.f_rtol = f_rtol

    def tracker(self):
        return _BestPoint(_PATIENCE, self.f_rtol)

    def relax(self, f_rtol):
        """Raise the noise allowance to ``f_rtol``, keeping what the rule has learnt."""
        self.f_rtol = max(self.f_rtol, f_rtol)


class _Accelerated(_Guarded):
    """FISTA with a growing backtracked step and gradient restart (see :func:`agd`).

    The driver's current point is the extrapolated ``y_k``; ``x_k`` and the
    momentum ``a_k`` are state.
    """

    def __init__(self, step0, f_rtol):
        super().__init__(f_rtol)
        self.step_length = float(step0)
        self.trusted = float(step0)

    def start(self, x, f, g):
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
        gmax = _max_abs(gy)
        ymax = _max_abs(y)
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
        if self.in_noise and fy > f_new + _NOISE_RISE * noise:
            # The extrapolation raised the objective by more than rounding explains
            # (the line search, accepting rises within the noise, would otherwise
            # carry it into the next step): restart from x_{k+1}, as the gradient
            # test would have (no extrapolation, then a = the golden ratio).
            self.a = 0.5 * (1.0 + np.sqrt(5.0))
            y = x_new
            fy, gy = evals.value_and_grad(y)
        return _Step(y, fy, gy, min(fy, f_new))


class _BarzilaiBorwein(_Guarded):
    """Alternating BB steps under the GLL non-monotone Armijo rule (see :func:`bb`)."""

    def __init__(self, step0, memory, f_rtol):
        super().__init__(f_rtol)
        self.step_length = float(step0)
        self.memory = memory

    def start(self, x, f, g):
        self.recent = deque([f], maxlen=self.memory)

    def _search(self, x, f, g, evals):
        """Shrink ``lam`` by safeguarded interpolation to acceptance; ``None`` on a stall."""
        step = self.step_length
        gg = float(g @ g)
        gmax = _max_abs(g)
        xmax = _max_abs(x)
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
        return _Step(x_new, f_new, g_new, f_new)


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


class _QuasiNewton(_Guarded):
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
        dmax = _max_abs(d)
        xmax = _max_abs(x)
        noise = self.f_rtol * abs(f)
        lam = 1.0
        while True:
            x_new = x + lam * d
            f_new, g_new = evals.value_and_grad(x_new)
            if np.isfinite(f_new) and f_new <= f + 1e-4 * lam * slope + noise:
                break
            lam *= 0.5 if np.isfinite(f_new) else 0.1
            if _negligible(lam * dmax, xmax):
                return None
        s = x_new - x
        yv = g_new - g
        sy = float(s @ yv)
        if sy > _EPS * float(yv @ yv):
            self.pairs.append((s, yv, 1.0 / sy))
        return _Step(x_new, f_new, g_new, f_new)


# -- the solvers -------------------------------------------------------------------


def gd(fun, x0, *, learning_rate, tol, max_iter, grad_norm=_max_abs, callback=None):
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
    return _minimise(
        _ConstantStep(learning_rate),
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
    grad_norm=_max_abs,
    step0=1.0,
    f_rtol=4 * _EPS,
    callback=None,
    resolution=None,
    tracker=None,
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
    tracker : object, optional
        ``SolverResult.tracker`` of an earlier run, to continue its best point
        and stall count.

    Returns
    -------
    SolverResult
    """
    return _minimise(
        _Accelerated(step0, f_rtol),
        fun,
        x0,
        tol=tol,
        max_iter=max_iter,
        grad_norm=grad_norm,
        callback=callback,
        value=value,
        resolution=resolution,
        tracker=tracker,
    )


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
    resolution=None,
    tracker=None,
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
    resolution, tracker : optional
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
    return _minimise(
        _BarzilaiBorwein(step0, memory, f_rtol),
        fun,
        x0,
        tol=tol,
        max_iter=max_iter,
        grad_norm=grad_norm,
        callback=callback,
        resolution=resolution,
        tracker=tracker,
    )


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
    resolution=None,
    tracker=None,
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
    resolution, tracker : optional
        See :func:`agd`.

    Returns
    -------
    SolverResult
    """
    return _minimise(
        _QuasiNewton(step0, memory, f_rtol),
        fun,
        x0,
        tol=tol,
        max_iter=max_iter,
        grad_norm=grad_norm,
        callback=callback,
        resolution=resolution,
        tracker=tracker,
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
        ``preconditioner="auto"``) when the problem is small enough; it then
        takes ``tracker``, to continue its best point and stall count from one
        round to the next. False for
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
    "gd": Solver(gd, "original", ("learning_rate",)),
}

#: The solver names, in the order of :data:`SOLVERS`.
SOLVER_NAMES = tuple(SOLVERS)
