"""The fit plan: every choice a fit makes, decided once from the data and the parameters.

A fit reads as: validate -> :func:`plan_fit` -> :func:`skce._fit.run` -> store.
The plan, a small immutable :class:`FitPlan` that a test can inspect without
fitting, holds every choice (docs/fit_plan.md lists the rules in a table), and
every tuned constant of the fit path sits here, with a line on how it was
measured. No choice changes the optimum or the stopping rule (``max
|grad_theta J| <= tol``), only the time to reach them: coordinates are a change
of variables, and a sample only sets the scaling, the metric and the start.
"""

from dataclasses import dataclass

import numpy as np

from ._columns import constant_columns
from ._objective import LinearObjective, check_objective
from ._sample import rows_of, stratified_rows
from ._solvers import SOLVERS

__all__ = ["PRECONDITIONERS", "SOLVER_CHOICES", "FitPlan", "plan_fit"]

#: The values of the estimators' ``preconditioner`` parameter.
PRECONDITIONERS = ("auto", "diagonal", "full")

#: The values of the estimators' ``solver`` parameter: ``"auto"`` and every solver.
SOLVER_CHOICES = ("auto", *SOLVERS)

#: Dense data in memory with more rows than this gets one row sample, from which
#: the column moments, the metric and the starting point are taken: below it a
#: sample of at most an eighth of the rows saves less than it costs.
SAMPLE_MIN_ROWS = 1 << 16

#: Rows of the sample, at most ``n / SAMPLE_MAX_FRACTION``. Measured (1 BLAS
#: thread) on dense 200k x 100 and softmax 100k x 50, K = 10: 16k rows left 4
#: full-data iterations on both; 8k rows started the softmax fit too far away (10
#: iterations); 32k rows cost a third of the softmax data's time.
SAMPLE_ROWS = 1 << 14
SAMPLE_MAX_FRACTION = 8

#: A class with less than this fraction of its share of the weight in the sample
#: (a rare class the sample happens to under-represent) turns the sample off.
CLASS_SHARE = 0.5

#: The fit on the sample stops at this fraction of its starting max|gradient|:
#: far cheaper iterations that end within the sample's statistical error.
SAMPLE_RTOL = 1e-2

#: Up to this many features, ``preconditioner="auto"`` gives the solvers with a
#: refreshed metric the full-matrix metric on dense data. Measured with ``bb`` on
#: standardised data, 1 BLAS thread (docs/solvers.md): 1.6-1.8x faster at 50 and
#: 100 features, 1.8x slower at 300, 2.3x at 500 and 3.4x at 1000, where its
#: Gram matrix (``d^2`` per row) costs more than the iterations it saves. Sparse
#: data keeps the diagonal scaling: 2-45x slower with the full metric at 150-200.
FULL_METRIC_MAX_FEATURES = 200

#: Sparse data gets the full metric where ``(d + 1)^2`` is at most this fraction
#: of its stored entries: its Gram matrix costs ``nnz_i^2 / 2`` per row (the pair
#: matrix, :mod:`skce._gram`), whatever ``d``, but every evaluation solves two
#: triangular systems of ``(d + 1)^2`` per output, against ``4 nnz`` for the
#: passes over ``X``. The quarter is this cost model's, not a measured crossover:
#: the one-hot pipeline of docs/solvers.md ((d + 1)^2 = 0.1% of nnz: bb in the
#: full metric 17 iterations, 1.1x the dense fit) is far inside it, InstEval
#: ((d + 1)^2 = 39 nnz) far outside; between them it is not measured.
SPARSE_FULL_METRIC_SHARE = 0.25

#: Softmax gets the class-coupled metric summed over at most this many
#: multiply-adds per refresh (rows x K(K+1)/2 x (d+1)^2). Measured on softmax
#: 100k x 50, K = 10 (1 BLAS thread): 6-8 iterations, against 15-22 with one
#: metric shared between the classes; a budget of 2e9 saved one iteration and
#: cost 30% more time.
COUPLED_METRIC_MAX_FLOPS = 1e9

#: Fewest rows per parameter the class-coupled metric may be summed over: a
#: Hessian estimated from ``r`` rows per parameter is within about ``1/sqrt(r)``.
COUPLED_ROWS_PER_PARAMETER = 8

#: Iterations of the first round of a refreshed metric, and of the first round
#: when the metric comes in built near the optimum (from the sample's fit or the
#: previous fit of a path, which need few iterations).
FIRST_ROUND = 4
CARRIED_ROUND = 8

#: A round lasts at least this fraction of a refresh's cost in evaluations (a
#: costly metric is rebuilt less often), and each is this much longer than the
#: one before, so a fit of many iterations refreshes O(log max_iter) times.
ROUND_PER_REFRESH = 0.1
ROUND_GROWTH = 1.25


@dataclass(frozen=True, eq=False)
class FitPlan:
    """Every choice of one fit.

    Attributes
    ----------
    solver : str
        The solver that runs (``solver="auto"`` resolved), a name of
        :data:`skce._solvers.SOLVERS`.
    coordinates : {"original", "diagonal", "full"}
        The change of variables the solver runs in (:mod:`skce._coordinates`).
    coupled : bool
        With ``"full"`` and several outputs: one metric coupling the classes.
    sample : ndarray or None
        The row sample (sorted row indices): the rows the moments, the metric
        and the start are taken over. None: every row.
    coupled_rows : ndarray or None
        Positions, within the metric's rows, that the coupled metric is summed
        over; None: all of them.
    moments : tuple or None
        ``(mean, spread2, weight_sum)`` of the columns (of the sample's rows,
        scaled to the whole data's weight), for the scaling.
    constant : tuple or None
        ``(mask, values)``: the columns that hold one non-zero value on every
        weighted row, decided exactly on every row; held at 0 with an intercept.
    start : {"zero", "given", "sample"}
        Where the solver starts: the origin, the given parameters (a warm
        start) or the optimum of the sample, reached first.
    rounds, sample_rounds : tuple or None
        ``(first, growth)`` of the metric refresh of the fit on every row and of
        the fit on the sample: the first round's iterations and the growth of
        each next one. None: no refresh.
    """

    solver: str
    coordinates: str
    coupled: bool = False
    sample: np.ndarray = None
    coupled_rows: np.ndarray = None
    moments: tuple = None
    constant: tuple = None
    start: str = "zero"
    rounds: tuple = None
    sample_rounds: tuple = None


def plan_fit(objective, *, solver, preconditioner="auto", warm=False, carried=False):
    """The plan of a fit of ``objective`` with the named ``solver``.

    Parameters
    ----------
    objective : Objective
        The function to minimise (its data: shape, sparsity, rows).
    solver : str
        ``"auto"`` or a name of :data:`skce._solvers.SOLVERS`.
    preconditioner : {"auto", "diagonal", "full"}
    warm : bool
        Whether the fit starts from given parameters.
    carried : bool
        Whether the full metric comes from the previous fit of a path.
    """
    check_objective(objective)
    metric_pays = _full_metric_pays(objective)
    if solver == "auto":
        # Where the full metric pays, bb's steps in it are Newton-like at one
        # gradient each; elsewhere, on sparse data, a first-order method spends
        # thousands of iterations on the last digits, and truncated Newton's
        # cost falls sharply near the optimum (docs/solvers.md: InstEval one-hot
        # at alpha 1e-6, 7 iterations against 2,915). Dense data keeps bb.
        solver = "newton" if objective.sparse and not metric_pays else "bb"
    entry = SOLVERS[solver]
    if entry.coordinates == "original":
        return FitPlan(solver, "original", start="given" if warm else "zero")
    full = preconditioner == "full" or (
        preconditioner == "auto" and entry.refreshed_metric and metric_pays
    )
    sample, moments, constant = _row_sample(objective)
    coupled, coupled_rows = _coupled_metric(objective, sample) if full else (False, None)
    start = "given" if warm else ("sample" if sample is not None else "zero")
    rounds = sample_rounds = None
    if full:
        n = objective.n_samples
        m = n if sample is None else sample.size
        r = (m if coupled_rows is None else coupled_rows.size) if coupled else None
        first = CARRIED_ROUND if carried or start == "sample" else FIRST_ROUND
        rounds = _rounds(first, objective, n, m, r)
        if start == "sample":
            sample_rounds = _rounds(FIRST_ROUND, objective, m, m, r)
    return FitPlan(
        solver,
        "full" if full else "diagonal",
        coupled,
        sample,
        coupled_rows,
        moments,
        constant,
        start,
        rounds,
        sample_rounds,
    )


def _full_metric_pays(objective):
    """Whether the full metric was measured to pay on ``objective``'s data (see the constants)."""
    d = objective.n_features
    if objective.sparse:
        return (d + 1) ** 2 <= SPARSE_FULL_METRIC_SHARE * objective.nnz
    return d <= FULL_METRIC_MAX_FEATURES


def _moments(objective):
    # Squares of values beyond about 1e154 overflow: the coordinates say so once
    # (skce._columns.check_representable), not numpy's warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        return objective.column_moments()


def _constant(mask, values):
    return (mask, values) if mask.any() else None


def _row_sample(objective):
    """``(sample, moments, constant)``: the one row sample (if any) and what it gives.

    The sample is used only where it represents the data: every column that
    looks constant in it must be constant on every row (a rare feature it misses
    would get the scaling of a constant column, and a metric nearly singular
    along it), and every class must have at least ``CLASS_SHARE`` of its share
    of the weight in it. The constant columns are decided exactly on every row
    either way (:func:`skce._columns.constant_columns`).
    """
    n = objective.n_samples
    if isinstance(objective, LinearObjective) and not objective.sparse and n > SAMPLE_MIN_ROWS:
        sample = stratified_rows(n, min(SAMPLE_ROWS, n // SAMPLE_MAX_FRACTION))
        moments = _moments(rows_of(objective, sample))
        mask, values, misread = constant_columns(objective, *moments)
        if misread.size == 0 and _classes_represented(objective, sample):
            return sample, moments, _constant(mask, values)
    moments = _moments(objective)
    mask, values, _ = constant_columns(objective, *moments)
    return None, moments, _constant(mask, values)


def _classes_represented(objective, sample):
    sampled = objective.A[:, sample].sum(axis=1)
    expected = objective.A.sum(axis=1) * (sample.size / objective.n_samples)
    return bool(np.all(sampled >= CLASS_SHARE * expected))


def _coupled_metric(objective, sample):
    """Whether softmax gets the class-coupled metric, and the positions it is summed over.

    On dense data with an intercept, over every row of the metric's rows when
    that costs at most ``COUPLED_METRIC_MAX_FLOPS`` per refresh; otherwise over
    a stratified subset of them within that budget, if it holds at least
    ``COUPLED_ROWS_PER_PARAMETER`` rows per parameter and represents every
    column (data in memory); otherwise the classes share one metric.
    """
    k, d = objective.n_outputs, objective.n_features
    if k == 1 or not objective.fit_intercept:
        return False, None
    m = objective.n_samples if sample is None else sample.size
    per_row = _coupled_cost_per_row(k, _row_width(objective))
    if m * per_row <= COUPLED_METRIC_MAX_FLOPS:
        return True, None
    r = int(COUPLED_METRIC_MAX_FLOPS // per_row)
    if r < COUPLED_ROWS_PER_PARAMETER * k * (d + 1) or not isinstance(objective, LinearObjective):
        return False, None
    positions = stratified_rows(m, r)
    moments = _moments(rows_of(rows_of(objective, sample), positions))
    misread = constant_columns(objective, *moments)[2]
    return (True, positions) if misread.size == 0 else (False, None)


def _row_width(objective):
    """Entries per row that a Gram matrix multiplies: stored ones (sparse) or every column."""
    if objective.sparse:
        return objective.nnz / max(objective.n_samples, 1)
    return objective.n_features


def _coupled_cost_per_row(k, width):
    """Multiply-adds per row of the class-coupled metric: ``K (K + 1) / 2`` Gram blocks."""
    return k * (k + 1) / 2 * (width + 1) ** 2


def _rounds(first, objective, n, metric_rows, coupled_rows):
    """``(first, growth)`` of a metric refresh of a fit on ``n`` rows.

    The first round lasts at least ``ROUND_PER_REFRESH`` times what one refresh
    costs in evaluations of the objective, by a flop model: an evaluation is two
    passes over ``X`` (``4 nnz K`` flops); a refresh is the Gram matrix over the
    metric's rows (``K (K + 1) / 2`` of them when the classes are coupled) and its
    Cholesky factorisation. Both carry a fixed overhead of about a million flops
    (Python and temporaries), which dominates on small data.
    """
    d, k = objective.n_features, objective.n_outputs
    per_row = _row_width(objective)
    evaluation = 4.0 * per_row * max(n, 1) * k
    if coupled_rows is not None:
        size = k * (d + 1)
        refresh = 2 * coupled_rows * _coupled_cost_per_row(k, per_row) + size**3 / 3
    else:
        refresh = metric_rows * (per_row + 1) * (d + 1) + (d + 1) ** 3 / 3
    overhead = 1e6
    cost = (refresh + overhead) / (evaluation + overhead)
    return max(first, ROUND_PER_REFRESH * cost), ROUND_GROWTH
