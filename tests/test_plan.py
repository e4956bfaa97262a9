"""The fit plan's decisions, as a table (data kind and shape -> plan), and running a plan.

The plan is built from a small objective without fitting (skce._plan.plan_fit);
the fits that follow a plan are checked against scikit-learn's Newton solver at
the mapped C, and against a run of the same data with one decision changed.
"""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from skce import SoftmaxCE, WeightedLogisticCE
from skce._fit import run
from skce._objective import LinearObjective, weighted_targets
from skce._plan import FitPlan, plan_fit
from skce._sample import stratified_rows

from ._data import unsampled_rows


def _objective(n, d, *, k=2, sparse=False, intercept=True, X=None, y=None, seed=0):
    rng = np.random.RandomState(seed)
    if X is None:
        X = rng.randn(n, d)
        if sparse:
            X[np.abs(X) < 1.0] = 0.0
            X = sp.csr_matrix(X)
    if y is None:
        y = rng.randint(0, k, n)
        y[:k] = np.arange(k)
    model = WeightedLogisticCE() if k == 2 else SoftmaxCE()
    A = weighted_targets(y, k, np.ones(n), np.ones(k))
    return LinearObjective(model._loss, X, A, alpha=1e-4, fit_intercept=intercept)


# Data and parameters -> the plan's decisions. "dense"/"sparse", "icpt" (with an
# intercept) or "none"; "warm" or "cold"; then the coordinates, whether the
# classes are coupled, whether a row sample is taken, the start and whether the
# metric is refreshed, after the solver that runs (``solver="auto"`` resolved).
TABLE = """
small dense, bb      |   300| 10|2|dense  icpt|bb     auto     cold|bb     full     0 0 zero   1
small dense, agd     |   300| 10|2|dense  icpt|agd    auto     cold|agd    full     0 0 zero   1
200 dense features   |   300|200|2|dense  icpt|bb     auto     cold|bb     full     0 0 zero   1
201 dense features   |   300|201|2|dense  icpt|bb     auto     cold|bb     diagonal 0 0 zero   0
sparse               |   300| 10|2|sparse icpt|bb     auto     cold|bb     full     0 0 zero   1
sparse, full asked   |   300| 10|2|sparse icpt|bb     full     cold|bb     full     0 0 zero   1
lbfgs                |   300| 10|2|dense  icpt|lbfgs  auto     cold|lbfgs  diagonal 0 0 zero   0
lbfgs, full asked    |   300| 10|2|dense  icpt|lbfgs  full     cold|lbfgs  full     0 0 zero   1
diagonal asked       |   300| 10|2|dense  icpt|bb     diagonal cold|bb     diagonal 0 0 zero   0
gd                   |   300| 10|2|dense  icpt|gd     full     cold|gd     original 0 0 zero   0
warm start           |   300| 10|2|dense  icpt|bb     auto     warm|bb     full     0 0 given  1
softmax              |   300| 10|3|dense  icpt|bb     auto     cold|bb     full     1 0 zero   1
softmax, no intercept|   300| 10|3|dense  none|bb     auto     cold|bb     full     0 0 zero   1
softmax, sparse full |   300| 10|3|sparse icpt|bb     full     cold|bb     full     1 0 zero   1
many dense rows      |70,000|  5|2|dense  icpt|bb     auto     cold|bb     full     0 1 sample 1
many rows, lbfgs     |70,000|  5|2|dense  icpt|lbfgs  auto     cold|lbfgs  diagonal 0 1 sample 0
many rows, warm      |70,000|  5|2|dense  icpt|bb     auto     warm|bb     full     0 1 given  1
many rows, gd        |70,000|  5|2|dense  icpt|gd     auto     cold|gd     original 0 0 zero   0
many sparse rows     |70,000|  5|2|sparse icpt|bb     auto     cold|bb     full     0 0 zero   1
65,536 dense rows    |65,536|  5|2|dense  icpt|bb     auto     cold|bb     full     0 0 zero   1
auto, dense          |   300| 10|2|dense  icpt|auto   auto     cold|bb     full     0 0 zero   1
auto, wide dense     |   300|201|2|dense  icpt|auto   auto     cold|bb     diagonal 0 0 zero   0
auto, narrow sparse  |   300| 10|3|sparse icpt|auto   auto     cold|bb     full     1 0 zero   1
auto, wide sparse    |   300|100|2|sparse icpt|auto   auto     cold|newton diagonal 0 0 zero   0
newton, narrow sparse|   300| 10|2|sparse icpt|newton auto     cold|newton full     0 0 zero   1
"""
ROWS = {line.split("|")[0].strip(): line.split("|")[1:] for line in TABLE.strip().splitlines()}


@pytest.mark.parametrize("case", list(ROWS))
def test_plan_table(case):
    n, d, k, data, params, expected = (part.split() for part in ROWS[case])
    n, d, k = int(n[0].replace(",", "")), int(d[0]), int(k[0])
    solver, preconditioner, start_kind = params
    objective = _objective(n, d, k=k, sparse=data[0] == "sparse", intercept=data[1] == "icpt")
    plan = plan_fit(
        objective, solver=solver, preconditioner=preconditioner, warm=start_kind == "warm"
    )
    resolved, coordinates, coupled, sampled, start, refreshed = expected
    assert plan.solver == resolved
    assert plan.coordinates == coordinates
    assert plan.coupled == bool(int(coupled))
    assert (plan.sample is not None) == bool(int(sampled))
    assert plan.start == start
    assert (plan.rounds is not None) == bool(int(refreshed))
    if plan.sample is not None:
        # One stratified index set, at most an eighth of the rows.
        assert plan.sample.size == min(1 << 14, n // 8)
        assert np.all(np.diff(plan.sample) > 0)
    # What the coordinates need (moments) is planned for all but gd.
    assert (plan.moments is None) == (coordinates == "original")


def test_the_plan_is_immutable():
    plan = plan_fit(_objective(300, 5), solver="bb")
    assert isinstance(plan, FitPlan)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.start = "given"


def test_stratified_rows_hold_one_row_per_stratum():
    rows = stratified_rows(1000, 64)
    edges = np.arange(65) * 1000 // 64
    assert rows.size == 64
    assert np.all((rows >= edges[:-1]) & (rows < edges[1:]))
    np.testing.assert_array_equal(rows, stratified_rows(1000, 64))  # repeatable
    np.testing.assert_array_equal(stratified_rows(10, 64), np.arange(10))


def test_softmax_on_many_rows_couples_the_classes_over_the_sample_or_part_of_it():
    # 80k x 40, K = 5: the coupled metric over the 10k-row sample costs 2.5e8
    # multiply-adds per refresh (over every row it would be 2e9): the whole sample.
    plan = plan_fit(_objective(80_000, 40, k=5), solver="bb")
    assert plan.coupled and plan.sample.size == 10_000 and plan.coupled_rows is None
    # 70k x 50, K = 10: over the 8,750-row sample it would cost 1.25e9: a
    # stratified part of the sample within the budget, 8 rows per parameter or more.
    n, d, k = 70_000, 50, 10
    plan = plan_fit(_objective(n, d, k=k), solver="bb")
    assert plan.coupled and plan.sample.size == n // 8
    assert 8 * k * (d + 1) <= plan.coupled_rows.size < plan.sample.size
    assert plan.coupled_rows.size * 55 * 51**2 <= 1e9
    assert np.all(plan.coupled_rows < plan.sample.size)


def test_constant_columns_are_decided_exactly_on_every_row():
    n = 70_000
    rng = np.random.RandomState(0)
    X = rng.randn(n, 4)
    X[:, 1] = 3.3  # constant everywhere: frozen, and the sample stays
    X[:, 2] = 0.0  # zeros everywhere: nothing to freeze
    plan = plan_fit(_objective(n, 4, X=X), solver="bb")
    assert plan.sample is not None
    mask, values = plan.constant
    np.testing.assert_array_equal(mask, [False, True, False, False])
    np.testing.assert_array_equal(values, [3.3])
    # Without an intercept nothing is frozen, but the decision is the same data's.
    assert plan_fit(_objective(n, 4, X=X, intercept=False), solver="bb").sample is not None


def test_no_row_sample_where_it_misses_a_column_or_a_class():
    n = 70_000
    rng = np.random.RandomState(1)
    # A rare column non-zero only on rows the sample does not hold: the sample
    # would see a constant column. Moments and metric then come from every row.
    X = np.column_stack([rng.randn(n, 3), np.zeros(n)])
    X[unsampled_rows(n)[:600], -1] = 50.0
    plan = plan_fit(_objective(n, 4, X=X), solver="bb")
    assert plan.sample is None and plan.start == "zero" and plan.constant is None
    # A class the sample holds less than half its share of.
    y = np.zeros(n, dtype=int)
    y[unsampled_rows(n)[:2000]] = 1
    assert plan_fit(_objective(n, 3, y=y), solver="bb").sample is None
    # A class on one stretch of consecutive rows is sampled in proportion.
    y = np.zeros(n, dtype=int)
    y[34_000:36_000] = 1
    plan = plan_fit(_objective(n, 3, y=y), solver="bb")
    assert plan.sample is not None
    assert y[plan.sample].mean() == pytest.approx(2000 / n, rel=0.02)


@pytest.mark.parametrize("solver", ["bb", "agd", "lbfgs"])
def test_the_sample_start_reaches_the_optimum_in_fewer_full_data_evaluations(solver):
    # The same plan with the start from zero is the reference run.
    rng = np.random.RandomState(1)
    n = 70_000
    X = rng.randn(n, 8) * rng.uniform(0.5, 20, 8) + rng.uniform(-5, 5, 8)
    y = (X @ rng.randn(8) / 10 + rng.logistic(size=n) > 0).astype(int)
    alpha, tol = 1e-5, 1e-8
    objective = _objective(n, 8, X=X, y=y).with_alpha(alpha)
    plan = plan_fit(objective, solver=solver)
    assert plan.start == "sample"
    theta0 = np.zeros(objective.n_params)
    sampled, _ = run(plan, objective, theta0, tol=tol, max_iter=1000)
    cold, _ = run(dataclasses.replace(plan, start="zero"), objective, theta0, tol=tol,
                  max_iter=1000)  # fmt: skip
    assert sampled.status == cold.status == "converged"
    assert sampled.n_evals < cold.n_evals
    ref = LogisticRegression(C=1 / (alpha * n), solver="newton-cholesky", tol=1e-12).fit(X, y)
    theta_ref = objective.pack(ref.coef_, ref.intercept_)
    f_ref = objective.value(theta_ref)
    assert (sampled.fun - f_ref) / f_ref <= 1e-10
