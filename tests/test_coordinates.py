"""The changes of variables the solvers run in, against independent references.

Each is exact: ``theta(u(theta)) = theta``, the same objective value, and a
gradient in ``u`` that finite differences of ``u -> J(theta(u))`` confirm. The
full metric is the Hessian where it claims to be (finite-difference Hessians
in its coordinates). The coordinates are built as a fit builds them, from its
plan (skce._plan.plan_fit decides the constant columns and the coupled metric).
"""

import numpy as np
import pytest
import scipy.sparse as sp

from skce import _gram
from skce._coordinates import StandardizedCoordinates, WhitenedCoordinates
from skce._fit import coordinates
from skce._loss import BinaryCrossEntropy, MultinomialCrossEntropy
from skce._objective import LinearObjective, weighted_targets
from skce._plan import plan_fit

from ._data import central_differences
from .test_objective import _problem


def _coordinates(objective, preconditioner, theta=None):
    """The coordinates of a ``bb`` fit of ``objective`` with this preconditioner."""
    plan = plan_fit(objective, solver="bb", preconditioner=preconditioner)
    return coordinates(plan, objective, theta)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("intercept", [True, False])
def test_standardized_coordinates_are_an_exact_change_of_variables(sparse, intercept):
    obj, theta, _ = _problem(MultinomialCrossEntropy, k=3, sparse=sparse, intercept=intercept)
    coords = _coordinates(obj, "diagonal")
    assert type(coords) is StandardizedCoordinates
    _assert_exact_change_of_variables(coords, obj, theta, rtol=1e-10, atol=1e-13)


def _assert_exact_change_of_variables(coords, obj, theta, rtol, atol):
    """theta round-trips, J is unchanged, the gradient in u is J(theta(u))'s, and maps back."""
    u = coords.to_u(theta)
    np.testing.assert_allclose(coords.to_theta(u), theta, rtol=100 * rtol, atol=100 * atol)
    f, gu = coords.value_and_grad(u)
    assert f == pytest.approx(obj.value(theta), rel=1e-12)
    # The gradient in u is the derivative of u -> J(theta(u)): finite differences.
    fd = central_differences(coords.value, u)
    np.testing.assert_allclose(gu, fd, rtol=1e-6, atol=1e-8)
    g = obj.value_and_grad(theta)[1]
    np.testing.assert_allclose(coords.grad_to_theta(gu), g, rtol=rtol, atol=atol)
    assert coords.grad_max(gu) == pytest.approx(np.abs(g).max(), rel=rtol)


@pytest.mark.parametrize("sparse", [False, True])
def test_a_column_constant_on_every_weighted_row_is_frozen_with_its_exact_value(sparse):
    # Column 1 holds 5.0 on every row of positive weight; row 0, of weight 0,
    # holds 9.0. With an intercept the column only adds 5 W_1 to every weighted
    # logit, which the intercept takes over: its coefficient is not among the
    # solver's parameters and is 0 (the logits unchanged), its centring uses the
    # exact value, and the stopping measure leaves out its gradient entry (5
    # times the intercept's, which the measure holds already). Once row 0
    # weighs, the column is not constant.
    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    X[:, 1] = 5.0
    X[0, 1] = 9.0
    y = rng.randint(0, 2, 30)
    y[:2] = [0, 1]
    sw = np.ones(30)
    sw[0] = 0.0
    Xs = sp.csr_matrix(X) if sparse else X
    without_row = LinearObjective(
        BinaryCrossEntropy, Xs, weighted_targets(y, 2, sw, np.ones(2)), 0.1
    )
    theta = np.array([0.3, -0.7, 0.2, 0.5])
    g = without_row.value_and_grad(theta)[1]
    live = np.abs(g[[0, 2, 3]]).max()
    assert abs(g[1]) > live  # the entry left out is the largest
    logits = lambda t: X[1:] @ t[:3] + t[3]  # noqa: E731 (the weighted rows)
    for preconditioner in ("diagonal", "full"):
        coords = _coordinates(without_row, preconditioner)
        std = coords if preconditioner == "diagonal" else coords.std
        np.testing.assert_array_equal(std.active, [0, 2])
        assert std.mean[1] == 5.0
        u = coords.to_u(theta)
        assert u.shape == (3,)  # two coefficients and the intercept: the solver's parameters
        moved = coords.to_theta(u)
        assert moved[1] == 0.0
        np.testing.assert_allclose(logits(moved), logits(theta), rtol=1e-12)
        assert coords.grad_to_u(g).shape == (3,)
        assert coords.stopping_measure(g) == pytest.approx(live, rel=1e-12)
    every_row = LinearObjective(
        BinaryCrossEntropy, Xs, weighted_targets(y, 2, np.ones(30), np.ones(2)), 0.1
    )
    for preconditioner in ("diagonal", "full"):
        coords = _coordinates(every_row, preconditioner)
        assert coords.to_u(theta).shape == (4,)
        assert coords.stopping_measure(g) == pytest.approx(np.abs(g).max(), rel=1e-12)


# -- the full-matrix metric (WhitenedCoordinates) -----------------------------------------
@pytest.mark.parametrize("loss, k", [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 3)])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("refreshed", [False, True])
def test_whitened_coordinates_are_an_exact_change_of_variables(
    loss, k, sparse, intercept, refreshed
):
    obj, theta, _ = _problem(loss, k=k, sparse=sparse, intercept=intercept)
    coords = _coordinates(obj, "full")
    assert type(coords) is WhitenedCoordinates
    if refreshed:
        coords.refresh(theta * 2.0)
    assert coords.refreshed == refreshed
    _assert_exact_change_of_variables(coords, obj, theta, rtol=1e-9, atol=1e-12)


def _fd_hessian_in_z(coords, z0, eps=1e-4):
    """Central finite-difference Hessian of ``z -> J(theta(z))`` at ``z0``."""
    H = np.empty((z0.size, z0.size))
    for j in range(z0.size):
        step = np.zeros_like(z0)
        step[j] = eps
        H[:, j] = (coords.value_and_grad(z0 + step)[1] - coords.value_and_grad(z0 - step)[1]) / (
            2 * eps
        )
    return H


def test_refreshed_metric_is_the_hessian_for_a_binary_problem():
    # One output, theta given: the metric (plus the penalty) is the exact Hessian of
    # J in the standardised coordinates, so in z the Hessian is the identity: a
    # finite-difference Hessian of z -> J(theta(z)) at the refresh point.
    obj, theta, _ = _problem(BinaryCrossEntropy, k=2, n=80, d=3)
    coords = _coordinates(obj, "full")
    coords.floor = 0.0
    coords.refresh(theta)
    z0 = coords.to_u(theta)
    np.testing.assert_allclose(_fd_hessian_in_z(coords, z0), np.eye(z0.size), atol=1e-6)


def test_singular_metric_gets_a_ridge():
    # A constant column and a duplicated one with alpha = 0: the Gram matrix is
    # singular; the change of variables must still be exact and finite.
    rng = np.random.RandomState(0)
    X = rng.randn(50, 3)
    X = np.column_stack([X, X[:, 0], np.full(50, 2.0)])
    y = (X[:, 0] + rng.randn(50) > 0).astype(int)
    A = weighted_targets(y, 2, np.ones(50), np.ones(2))
    obj = LinearObjective(BinaryCrossEntropy, X, A, alpha=0.0)
    coords = _coordinates(obj, "full")
    theta = rng.randn(obj.n_params)
    u = coords.to_u(theta)
    assert np.all(np.isfinite(u))
    # The constant column's coefficient is not the solver's and is 0 (with an
    # intercept): its share 2 w_4 of every logit moves into the intercept; the
    # rest is unchanged.
    assert u.shape == (5,)
    expected = theta.copy()
    expected[4], expected[5] = 0.0, theta[5] + 2.0 * theta[4]
    np.testing.assert_allclose(coords.to_theta(u), expected, rtol=1e-6, atol=1e-6)


def test_coupled_softmax_metric_is_the_hessian_on_the_class_sum_zero_subspace():
    # Dense softmax with an intercept and small K d: the metric couples the classes
    # (the Hessian of the loss, plus the penalty, plus a curvature along the
    # class-sum directions the loss does not see). For v with class sums zero and
    # z = L^T v, the Hessian in z maps z to itself: a directional finite
    # difference of the gradient in z, at the refresh point.
    obj, theta, _ = _problem(MultinomialCrossEntropy, k=3, n=80, d=3)
    coords = _coordinates(obj, "full")
    assert coords.coupled is not None
    coords.floor = 0.0
    coords.refresh(theta)
    k, width = 3, 4
    v = np.random.RandomState(5).randn(k, width)
    v -= v.mean(axis=0)
    z_dir = coords._flat((coords.L.T @ v.ravel()).reshape(k, width))
    z0 = coords.to_u(theta)
    eps = 1e-4
    hz = (
        coords.value_and_grad(z0 + eps * z_dir)[1] - coords.value_and_grad(z0 - eps * z_dir)[1]
    ) / (2 * eps)
    np.testing.assert_allclose(hz, z_dir, rtol=1e-5, atol=1e-6)


def test_metric_carried_to_another_alpha_is_that_alphas_hessian(monkeypatch):
    # A regularisation path carries the metric from one alpha to the next
    # (WhitenedCoordinates.on with LinearObjective.with_alpha): the curvature is
    # kept and the penalty replaced, so at the refresh point the metric is the
    # Hessian of the new objective (the identity in z, by finite differences),
    # without a new Gram matrix.
    obj, theta, _ = _problem(BinaryCrossEntropy, k=2, n=80, d=3, alpha=0.3)
    coords = _coordinates(obj, "full")
    coords.floor = 0.0
    coords.refresh(theta)
    calls = []
    for name in ("standardized_gram", "coupled_gram"):
        gram = getattr(_gram, name)
        monkeypatch.setattr(
            _gram, name, lambda *a, gram=gram, **k: calls.append(1) or gram(*a, **k)
        )
    moved = coords.on(obj.with_alpha(1e-3))
    assert not calls
    assert moved.objective.alpha == 1e-3 and coords.objective.alpha == 0.3
    for c in (coords, moved):  # the original keeps its own penalty
        np.testing.assert_allclose(_fd_hessian_in_z(c, c.to_u(theta)), np.eye(4), atol=1e-6)


def test_coupled_metric_carried_to_another_alpha_keeps_its_form():
    # The coupled metric carried to another alpha is the one built there at the
    # same point with the same scaling.
    obj, theta, _ = _problem(MultinomialCrossEntropy, k=3, n=80, d=3, alpha=0.3)
    coords = _coordinates(obj, "full")
    coords.floor = 0.0
    coords.refresh(theta)
    other = obj.with_alpha(1e-3)
    moved = coords.on(other)
    assert moved.coupled is not None
    reference = WhitenedCoordinates(other, moved.std, other, coupled=other)
    reference.floor = 0.0
    reference.refresh(theta)
    np.testing.assert_allclose(moved.L, reference.L, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize(("loss", "k"), [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 3)])
@pytest.mark.parametrize("preconditioner", ["diagonal", "full"])
def test_curvature_products_in_the_solvers_coordinates(loss, k, intercept, sparse, preconditioner):
    # H_u is the Hessian of u -> J(theta(u)): central differences of the gradient in
    # u; the diagonal scaling also gives H_u's diagonal (Jacobi for the conjugate
    # gradients), the full metric none (it preconditions them itself).
    obj, theta, _ = _problem(loss, k=k, sparse=sparse, intercept=intercept)
    coords = _coordinates(obj, preconditioner, theta)
    u = coords.to_u(theta)
    product, diagonal = coords.curvature_operator(u)
    H = np.column_stack(
        [
            (coords.value_and_grad(u + 1e-5 * e)[1] - coords.value_and_grad(u - 1e-5 * e)[1]) / 2e-5
            for e in np.eye(u.size)
        ]
    )
    v = np.random.RandomState(2).randn(u.size)
    np.testing.assert_allclose(product(v), H @ v, rtol=1e-6, atol=1e-7)
    if preconditioner == "full":
        assert diagonal is None
    elif k == 2:
        np.testing.assert_allclose(diagonal, np.diag(H), rtol=1e-6, atol=1e-8)
    else:
        # Softmax: H_u's diagonal averaged over the classes, one scale per column
        # (the class sums of the parameters stay where they are).
        n_w = k * coords.n_active
        per_class = np.diag(H)[:n_w].reshape(k, -1).mean(axis=0)
        np.testing.assert_allclose(diagonal[:n_w], np.tile(per_class, k), rtol=1e-6, atol=1e-8)
        if intercept:
            np.testing.assert_allclose(diagonal[n_w:], np.diag(H)[n_w:].mean(), rtol=1e-6)
