"""Running a fit plan: coordinates, the sample's start, the solver, the metric refresh.

:func:`run` carries out a :class:`skce._plan.FitPlan` on an objective and
returns the solver's result in the model's parameters. It knows nothing of
scikit-learn estimators: the estimator validates, plans, runs and stores.
"""

import math

import numpy as np

from ._coordinates import OriginalCoordinates, StandardizedCoordinates, WhitenedCoordinates
from ._plan import SAMPLE_RTOL
from ._sample import rows_of
from ._solvers import SOLVERS

__all__ = ["coordinates", "run"]


def coordinates(plan, objective, theta=None, previous=None):
    """The change of variables the plan names, for ``objective``.

    ``theta`` is where a full metric takes its first curvature (a warm start;
    the curvature bound otherwise); ``previous`` are the full-metric
    coordinates of the previous fit of a path, whose metric is carried over
    with the new penalty.
    """
    if plan.coordinates == "original":
        return OriginalCoordinates(objective)
    std = StandardizedCoordinates(objective, plan.moments, plan.constant)
    if plan.coordinates == "diagonal":
        return std
    if previous is not None:
        return previous.on(objective)
    rows = rows_of(objective, plan.sample)
    coupled = rows_of(rows, plan.coupled_rows) if plan.coupled else None
    return WhitenedCoordinates(objective, std, rows, coupled, theta)


class MetricRefresh:
    """The hook by which the solver loop refreshes a full metric (:func:`skce._loop.minimise`)."""

    def __init__(self, coords, rounds):
        self.coords = coords
        self.length, self.growth = rounds
        self.next = math.ceil(self.length)

    def due(self, k):
        """Whether the metric is refreshed after iteration ``k`` (rounds: ``FitPlan.rounds``)."""
        if k < self.next:
            return False
        self.length *= self.growth
        self.next += math.ceil(self.length)
        return True

    def __call__(self, u, best):
        """Refresh at ``u``; return ``u`` and ``best`` in the new coordinates."""
        coords = self.coords
        theta, best = coords.to_theta(u), coords.to_theta(best)
        coords.refresh(theta)
        return coords.to_u(theta), coords.to_u(best)


def solve(solver, coords, theta0, rounds, *, tol, max_iter, callback, learning_rate=None):
    """Run ``solver`` (a registry entry) in ``coords`` from ``theta0``; ``x`` is in ``theta``."""
    makers = {
        "learning_rate": lambda: learning_rate,
        "value": lambda: coords.value,
        # Relative rounding noise of the objective: logits are computed in X's dtype.
        "f_rtol": lambda: 16 * float(np.finfo(coords.objective.dtype).eps),
        "resolution": lambda: coords.resolution,
        "curvature": lambda: coords.curvature_operator,
    }
    options = {name: makers[name]() for name in solver.options}
    if rounds is not None:
        options["refresh"] = MetricRefresh(coords, rounds)
    result = solver(
        coords.value_and_grad,
        coords.to_u(theta0),
        tol=tol,
        max_iter=max_iter,
        grad_norm=coords.grad_max,
        callback=callback,
        **options,
    )
    result.x = coords.to_theta(result.x)
    return result


def run(plan, objective, theta0, *, tol, max_iter, callback=None, **kwargs):
    """Carry out ``plan``: ``(result, coordinates)``, ``result.x`` in the model's parameters.

    With ``plan.start == "sample"``, ``J`` is first minimised over the row
    sample, to ``SAMPLE_RTOL`` times its starting gradient, in the same
    coordinates; the fit on every row continues from there with the metric of
    the sample's optimum, and ``n_iter``, the history and the callback count its
    iterations only. ``kwargs`` go to :func:`coordinates` (``previous``) and to
    the solver (``learning_rate``).
    """
    entry = SOLVERS[plan.solver]
    learning_rate = kwargs.pop("learning_rate", None)
    theta_metric = theta0 if plan.start == "given" else None
    coords = coordinates(plan, objective, theta_metric, **kwargs)
    if plan.start == "sample":
        sample = rows_of(objective, plan.sample).with_alpha(objective.alpha)
        on_sample = coords.on(sample)
        g0 = sample.value_and_grad(theta0)[1]
        sample_tol = max(tol, SAMPLE_RTOL * on_sample.stopping_measure(g0))
        theta0 = solve(
            entry, on_sample, theta0, plan.sample_rounds, tol=sample_tol, max_iter=max_iter,
            callback=None,
        ).x  # fmt: skip
        if plan.coordinates == "full" and not on_sample.refreshed:
            on_sample.refresh(theta0)  # the metric at the sample's optimum
        coords = on_sample.on(objective)
    result = solve(
        entry, coords, theta0, plan.rounds, tol=tol, max_iter=max_iter, callback=callback,
        learning_rate=learning_rate,
    )  # fmt: skip
    return result, coords
