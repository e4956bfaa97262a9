"""The solver loop: what every step rule shares, written once.

:func:`minimise` runs a step rule (:mod:`skce._steps`) and owns the callback,
the stopping test, ``max_iter``, stall detection, the point returned, the
history, the evaluation count and the metric refresh (a hook the caller
passes: between two iterations it changes the solver's coordinates, and the
loop carries its best point and stall count across). It knows nothing of
scikit-learn, of ``X`` or of the model.
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SolverResult", "minimise"]

#: Iterations without a new best gradient (and without a measurable decrease of
#: the objective) before a guarded solver suspects a stall.
PATIENCE = 200

#: A stall is declared only where no gradient entry is more than this many times
#: its rounding noise (when the caller gives a ``resolution``).
RESOLVABLE = 10.0

#: How many noise estimates a line search allows where the arithmetic's
#: resolution says it can still go further (:func:`minimise`), and by how many an
#: extrapolated point of ``agd`` must rise before it counts as a real rise. Both
#: values compared carry the noise, and the estimate is a first-order model, not
#: a bound: on raw wine, digits and breast cancer, rises up to 3.5 estimates
#: were rounding alone (a threshold of 1 reset agd's momentum every 8-9
#: iterations there).
NOISE_ALLOWANCES = 4.0


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
        ``value`` (loss only) and of ``resolution``.
    status : str
        ``"converged"`` (``grad_norm <= tol``), ``"max_iter"`` or ``"stalled"``
        (the line search shrank the step until it no longer moves ``x`` at float
        precision, or the run stopped making progress: the objective no longer
        decreases at the working precision).
    history : list of float
        Objective value after each iteration, starting with the initial point.
    noise_ratio : float or None
        With status ``"stalled"`` and a ``resolution``: the largest ratio of a
        gradient entry to its rounding noise where the run stopped. At most
        ``RESOLVABLE`` when the gradient is at its floor; larger when the
        objective's rounding noise, not the gradient's, stopped the line search.
    """

    x: np.ndarray
    fun: float
    grad_norm: float
    n_iter: int
    n_evals: int
    status: str
    history: list = field(default_factory=list)
    noise_ratio: float = None

    @property
    def converged(self):
        return self.status == "converged"


class Evaluations:
    """The objective as the step rules see it, counting every call."""

    def __init__(self, fun, value=None, curvature=None):
        self._fun = fun
        self._value = value if value is not None else (lambda z: fun(z)[0])
        self._curvature = curvature
        self.count = 0

    def value_and_grad(self, x):
        self.count += 1
        return self._fun(x)

    def value(self, x):
        self.count += 1
        return self._value(x)

    def curvature(self, x):
        """``(v -> H v, diagonal)`` at ``x``; a product counts as an evaluation (it costs one)."""
        product, diagonal = self._curvature(x)

        def counted(v):
            self.count += 1
            return product(v)

        return counted, diagonal


class BestPoint:
    """The point with the smallest stopping measure so far, and stall detection.

    The guarded solvers are not monotone in the gradient, and near the optimum
    their line searches accept steps within the objective's rounding noise. When
    the arithmetic cannot resolve further progress, they wander: neither the
    record gradient nor the record objective improves any more. ``patience``
    iterations without a new gradient record (by at least 0.1%) and without an
    objective decrease larger than its rounding noise ``f_rtol * |f|`` raise the
    suspicion of a stall, which :func:`minimise` then checks against the
    arithmetic's resolution. (Either test alone is not enough: on
    ill-conditioned problems the objective keeps decreasing for hundreds of
    iterations while the largest gradient entry stays put.)
    """

    stalls = True

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


class LastPoint:
    """The latest iterate, never stalled: the tracker of textbook gradient descent."""

    stalls = False
    stalled = False

    def update(self, x, f, gn):
        # gd builds a new array at every step, so a reference is enough.
        self.x, self.f, self.gn = x, f, gn


def check_finite(f, g, where):
    """FloatingPointError if ``f`` or an entry of ``g`` is NaN or infinite.

    A step rule cannot descend along a non-finite gradient (its line search
    would shrink the step for ever): the run stops here instead.
    """
    if not (np.isfinite(f) and np.all(np.isfinite(g))):
        raise FloatingPointError(
            f"The objective or its gradient is not finite {where} (f = {f!r}, "
            f"{int(np.sum(~np.isfinite(g)))} non-finite gradient entries)."
        )


def minimise(
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
    refresh=None,
    curvature=None,
):
    """Run a step rule until the stopping test, ``max_iter`` or a stall.

    Iteration ``k`` calls ``callback(k, f, grad_norm, rule.step_length)`` at the
    current point, returns it if its stopping measure is at most ``tol``, and
    otherwise asks ``rule.step`` for the next point. The rule's tracker
    chooses the point returned without convergence and suspects a stall
    (:class:`BestPoint` for the guarded rules; :class:`LastPoint`, never
    stalled, for ``gd``); a rule whose ``step`` returns ``None`` (its line
    search no longer moves ``x``) raises the same suspicion.

    What a suspected stall means depends on ``resolution``. Without it, the run
    ends as ``"stalled"``. With it, the loop asks how far the gradient is above
    the arithmetic's resolution: only where no entry is more than
    ``RESOLVABLE`` times its rounding noise does the run end as ``"stalled"``.
    Otherwise the run goes on from the current point, the rule keeping what it
    has learnt but with its noise allowance raised to ``NOISE_ALLOWANCES``
    times the objective's measured rounding noise (``rule.relax``), which is
    what makes a line search fail short of the floor; the suspicion counts as
    an iteration. If the rule then cannot move from that point either, the run
    ends as ``"stalled"`` with ``noise_ratio`` above ``RESOLVABLE``.

    Parameters
    ----------
    rule : object
        Step rule with ``step_length``, ``tracker()``, ``start(x, f, g)``,
        ``step(k, x, f, g, evals) -> Step or None`` and, for the guarded
        rules, ``relax(f_rtol)``.
    fun, x0, tol, max_iter, grad_norm, callback
        As for the public solvers (:mod:`skce._solvers`).
    value : callable, optional
        Loss-only function for the rules that need one (``evals.value``).
    curvature : callable, optional
        ``curvature(x) -> (product, diagonal)``: Hessian-vector products
        ``product(v) = H v`` at ``x`` and the diagonal of ``H`` (or None), for the
        rules that need them (``evals.curvature``); each product counts as an
        evaluation.
    resolution : callable, optional
        ``resolution(x, g) -> (f_noise, ratio)``: the absolute rounding noise of
        ``f`` at ``x`` and the largest ratio of a gradient entry to its rounding
        noise. Counted as one evaluation.
    refresh : object, optional
        A change of the solver's coordinates between iterations: ``due(k)``
        says whether it comes after iteration ``k``, and ``refresh(x, best) ->
        (x, best)`` makes it and maps the current and the best point into the
        new coordinates (``fun``, ``value``, ``grad_norm`` and ``resolution``
        follow the change). The rule then starts afresh from the current point
        (its iterations counted from there), keeping its noise allowance; the
        best point and the stall count carry on.

    Returns
    -------
    SolverResult
    """
    evals = Evaluations(fun, value, curvature)
    x = np.array(x0, dtype=np.float64)
    f, g = evals.value_and_grad(x)
    check_finite(f, g, "at the starting point")
    history = [f]
    rule.start(x, f, g)
    gn = grad_norm(g)
    tracker = rule.tracker()
    tracker.update(x, f, gn)
    relaxed_at = None
    started = 0  # the iteration the rule last started at: its own count starts there

    def ended(status, k, noise_ratio=None):
        if status == "converged" or not tracker.stalls:
            point = (x, f, gn)
        else:
            point = (tracker.x, tracker.f, tracker.gn)
        return SolverResult(*point, k, evals.count, status, history, noise_ratio)

    for k in range(max_iter + 1):
        if callback is not None:
            callback(k, f, gn, rule.step_length)
        if gn <= tol:
            return ended("converged", k)
        if k == max_iter:
            break
        if refresh is not None and refresh.due(k):
            x, tracker.x = refresh(x, tracker.x)
            f, g = evals.value_and_grad(x)
            check_finite(f, g, f"after the metric refresh at iteration {k}")
            gn = grad_norm(g)
            rule.start(x, f, g)
            relaxed_at, started = None, k
            if gn <= tol:
                return ended("converged", k)
        moved = None if tracker.stalled else rule.step(k - started, x, f, g, evals)
        if moved is None:
            if resolution is None:
                return ended("stalled", k)
            evals.count += 1
            f_noise, ratio = resolution(x, g)
            if ratio <= RESOLVABLE or relaxed_at is x:
                return ended("stalled", k, ratio)
            f_rtol = NOISE_ALLOWANCES * f_noise / abs(f) if f != 0 else 0.0
            rule.relax(f_rtol)
            tracker.f_rtol = max(tracker.f_rtol, f_rtol)
            tracker.since = 0
            relaxed_at = x
            history.append(f)
            continue
        x, f, g = moved.x, moved.f, moved.g
        check_finite(f, g, f"after iteration {k + 1}")
        gn = grad_norm(g)
        tracker.update(x, f, gn)
        history.append(moved.f_history)
    return ended("max_iter", max_iter)
