"""Robustness: extreme but valid input, invalid input, input immutability, determinism.

References are independent of skce: scikit-learn's LogisticRegression solved by
Newton's method at the mapped ``C = 1 / (alpha * sum s)``, or exact invariances of
the objective (column rescaling at ``alpha = 0``, duplicated and constant columns,
zero sample weights, sample order).
"""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from skce import SoftmaxCE, WeightedLogisticCE
from skce.information import cross_entropy, cross_entropy_decomposition, gaussian_kl_divergence
from skce.metrics import cross_entropy_loss

from ._data import binary_data, multiclass_data

GUARDED_SOLVERS = ["bb", "agd", "lbfgs"]
ALL_SOLVERS = [*GUARDED_SOLVERS, "gd"]


def _reference(X, y, alpha, sample_weight=None, class_weight=None):
    """LogisticRegression minimising the same objective (``alpha=0``: no penalty)."""
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight)
    C = np.inf if alpha == 0 else 1.0 / (alpha * s.sum())
    model = LogisticRegression(
        C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000, class_weight=class_weight
    )
    return model.fit(X, y, sample_weight=sample_weight)


def _fit_quietly(model, X, y, **fit_params):
    """Fit; any warning (RuntimeWarning, ConvergenceWarning, ...) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return model.fit(X, y, **fit_params)


def _assert_finite(model):
    assert np.all(np.isfinite(model.coef_))
    assert np.all(np.isfinite(model.intercept_))
    assert np.all(np.isfinite(model.loss_curve_))


# ------------------------------------------------------------- extreme but valid input


@pytest.mark.timeout(15)  # it used to loop for ever in bb's line search
@pytest.mark.parametrize("magnitude", [1e160, 1e305])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("solver", ["bb", "agd", "lbfgs", "gd"])
@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_values_whose_squares_overflow_get_one_clear_error(estimator, solver, sparse, magnitude):
    # Finite float64 values beyond ~1e154 square to infinity: the column scales and
    # curvature bounds the solvers need do not exist in float64. One ValueError that
    # says what to do, no numpy warnings (the suite turns RuntimeWarnings into errors).
    X, y = binary_data()
    X = X.copy()
    X[3, 1] = magnitude
    X = sp.csr_matrix(X) if sparse else X
    with pytest.raises(ValueError, match="too large") as caught:
        estimator(solver=solver).fit(X, y)
    assert "Rescale" in str(caught.value)


@pytest.mark.parametrize("solver", GUARDED_SOLVERS)
@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_features_of_magnitude_1e6_and_1e_minus6_together(solver, estimator):
    """At alpha=0 rescaling column j by c_j divides its coefficient by c_j exactly."""
    X, y = binary_data() if estimator is WeightedLogisticCE else multiclass_data()
    scales = np.ones(X.shape[1])
    scales[0], scales[1] = 1e6, 1e-6
    ref = _reference(X, y, alpha=0)
    model = _fit_quietly(
        estimator(alpha=0.0, solver=solver, tol=1e-9, max_iter=20_000), X * scales, y
    )
    _assert_finite(model)
    # SoftmaxCE at alpha=0 is only identified up to a common shift of all classes.
    coef = model.coef_ * scales
    ref_coef = ref.coef_
    if estimator is SoftmaxCE:
        coef = coef - coef.mean(axis=0)
        ref_coef = ref_coef - ref_coef.mean(axis=0)
    np.testing.assert_allclose(coef, ref_coef, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_proba(X * scales), ref.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("solver", GUARDED_SOLVERS)
def test_constant_columns_get_zero_coefficient(solver):
    """With an intercept and alpha > 0, grad_w of a constant column is alpha * w: zero."""
    X, y = binary_data()
    Xc = np.column_stack([X[:, :2], np.full(len(y), 1e3), X[:, 2:], np.zeros(len(y))])
    alpha = 1e-2
    model = _fit_quietly(WeightedLogisticCE(alpha=alpha, solver=solver, tol=1e-9), Xc, y)
    assert abs(model.coef_[0, 2]) < 1e-8
    assert model.coef_[0, -1] == 0.0
    ref = _reference(X, y, alpha)
    np.testing.assert_allclose(
        np.delete(model.coef_, [2, Xc.shape[1] - 1], axis=1), ref.coef_, atol=1e-6
    )
    np.testing.assert_allclose(model.predict_proba(Xc), ref.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("value", [1e8, 1e15, -1.7e18])
@pytest.mark.parametrize("preconditioner", ["auto", "diagonal"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("solver", GUARDED_SOLVERS)
@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_constant_column_of_large_values_gets_the_fit_without_it(
    estimator, solver, sparse, preconditioner, value
):
    # With an intercept, a constant column c only adds c * w_j to every logit, which
    # the unpenalised intercept takes over: the optimum has w_j = 0 and is otherwise
    # the optimum without the column. (A timestamp in nanoseconds is about 1.7e18.)
    # Before, c * w_j and the intercept's share cancelled in every logit: fits
    # stalled from c ~ 1e10, and from c ~ 1e15 ended at w = 0 with a warning that the
    # result was as accurate as the data allow.
    X, y = binary_data() if estimator is WeightedLogisticCE else multiclass_data()
    alpha = 1e-2
    # A row of weight 0 may hold another value: it does not enter the objective.
    weights = np.ones(len(y))
    weights[5] = 0.0
    column = np.full(len(y), value)
    column[5] = 3.0
    Xc = np.column_stack([X[:, :2], column, X[:, 2:]])
    Xc = sp.csr_matrix(Xc) if sparse else Xc
    model = _fit_quietly(
        estimator(alpha=alpha, solver=solver, tol=1e-9, preconditioner=preconditioner),
        Xc,
        y,
        sample_weight=weights,
    )
    assert np.all(model.coef_[:, 2] == 0.0)
    ref = _reference(X, y, alpha, sample_weight=weights)
    np.testing.assert_allclose(np.delete(model.coef_, 2, axis=1), ref.coef_, atol=1e-6)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=1e-6)


@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_a_column_constant_but_for_one_row_or_without_intercept_is_fitted(estimator):
    # Not constant on every weighted row, or no intercept to take it over: the
    # column's coefficient is fitted like any other (not held at 0).
    X, y = binary_data() if estimator is WeightedLogisticCE else multiclass_data()
    column = np.full(len(y), 5.0)
    column[7] = 9.0
    Xc = np.column_stack([X, column])
    alpha = 1e-2
    model = _fit_quietly(estimator(alpha=alpha, tol=1e-10), Xc, y)
    ref = _reference(Xc, y, alpha)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-6)
    assert np.all(np.abs(model.coef_[:, -1]) > 1e-4)
    # Without an intercept, a constant column is the intercept, penalised.
    Xk = np.column_stack([X, np.full(len(y), 5.0)])
    model = _fit_quietly(estimator(alpha=alpha, tol=1e-10, fit_intercept=False), Xk, y)
    ref = LogisticRegression(
        C=1.0 / (alpha * len(y)), solver="newton-cholesky", tol=1e-12, fit_intercept=False
    ).fit(Xk, y)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-6)
    assert np.all(np.abs(model.coef_[:, -1]) > 1e-4)


@pytest.mark.parametrize("value", [1.0, 1e15])
def test_a_constant_column_on_large_data_gets_the_fit_without_it(value):
    # statsmodels' add_constant and the like put a column of ones next to the
    # intercept. On large dense data the fit starts on a row sample, which such a
    # column no longer turns off, and whose tolerance (relative to its starting
    # gradient) no longer counts the column's entry (1e15 times the intercept's):
    # the same iterations as without the column, and its coefficient 0.
    rng = np.random.RandomState(0)
    n = 70_000
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] - X[:, 1] + rng.logistic(size=n) > 0.5).astype(int)
    alpha = 1e-4
    with_column = _fit_quietly(
        WeightedLogisticCE(alpha=alpha, tol=1e-9), np.column_stack([np.full(n, value), X]), y
    )
    without = _fit_quietly(WeightedLogisticCE(alpha=alpha, tol=1e-9), X, y)
    assert with_column.coef_[0, 0] == 0.0
    assert with_column.n_iter_ == without.n_iter_
    ref = _reference(X, y, alpha)
    np.testing.assert_allclose(with_column.coef_[:, 1:], ref.coef_, atol=1e-6)
    np.testing.assert_allclose(with_column.intercept_, ref.intercept_, atol=1e-6)


@pytest.mark.parametrize("sparse", [False, True])
def test_a_nearly_constant_column_is_fitted_like_its_shifted_copy(sparse):
    # 1e6 on every row but one (1e6 + 1): its spread is below 1e-4 of its mean,
    # so it is checked exactly for constancy, and fitted as a feature. Reference:
    # the exact invariance under shifting a column (only the intercept changes).
    X, y = binary_data()
    column = np.full(len(y), 1e6)
    column[11] += 1.0
    alpha = 1e-3
    shifted = WeightedLogisticCE(alpha=alpha, tol=1e-10).fit(np.column_stack([X, column - 1e6]), y)
    Xc = np.column_stack([X, column])
    # The gradient entry of a column of 1e6 carries rounding noise near tol=1e-7:
    # the fit may end at the working precision, with a ConvergenceWarning saying so.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = WeightedLogisticCE(alpha=alpha).fit(sp.csr_matrix(Xc) if sparse else Xc, y)
    assert model.status_ in ("converged", "stalled")
    assert abs(shifted.coef_[0, -1]) > 1e-3
    np.testing.assert_allclose(model.coef_, shifted.coef_, atol=1e-6)
    np.testing.assert_allclose(
        model.intercept_ + 1e6 * model.coef_[0, -1], shifted.intercept_, atol=1e-6
    )


@pytest.mark.parametrize("solver", GUARDED_SOLVERS)
@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_duplicated_column_splits_the_weight(solver, estimator):
    """[X, x_j] with an L2 penalty equals X with x_j scaled by sqrt(2), coefficient split."""
    X, y = binary_data() if estimator is WeightedLogisticCE else multiclass_data()
    alpha, j = 1e-2, 1
    Xdup = np.column_stack([X, X[:, j]])
    Xs = X.copy()
    Xs[:, j] *= np.sqrt(2)
    ref = _reference(Xs, y, alpha)
    model = _fit_quietly(estimator(alpha=alpha, solver=solver, tol=1e-10), Xdup, y)
    coef = model.coef_
    np.testing.assert_allclose(coef[:, j], coef[:, -1], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(coef[:, j], ref.coef_[:, j] / np.sqrt(2), atol=1e-6)
    np.testing.assert_allclose(
        np.delete(coef, [j, X.shape[1]], axis=1), np.delete(ref.coef_, j, axis=1), atol=1e-6
    )
    np.testing.assert_allclose(model.predict_proba(Xdup), ref.predict_proba(Xs), atol=1e-6)


@pytest.mark.parametrize("solver", GUARDED_SOLVERS)
@pytest.mark.parametrize("beta", [1e-6, 1e6])
def test_extreme_beta_matches_logistic_regression(solver, beta):
    X, y = binary_data()
    alpha = 1e-2
    ref = _reference(X, y, alpha, class_weight={0: 1.0, 1: beta})
    model = WeightedLogisticCE(beta=beta, alpha=alpha, solver=solver, tol=1e-10, max_iter=20_000)
    _fit_quietly(model, X, y)
    _assert_finite(model)
    # At beta=1e-6 the intercept sits near -15 where the curvature is ~exp(-15): a
    # gradient within tol=1e-10 then only pins it to ~3e-4 (relative 2e-5).
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=1e-4)
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), rtol=1e-3, atol=1e-9)


def _separable_data(n_classes=2):
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    if n_classes == 3:
        y[X[:, 0] > 0.8] = 2
    return X, y


def _convergence_warnings(model, X, y, **fit_params):
    """Fit; return the messages of the ConvergenceWarnings, fail on any other warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y, **fit_params)
    messages = [str(w.message) for w in caught]
    assert all(issubclass(w.category, ConvergenceWarning) for w in caught), messages
    return messages


def _single_convergence_warning(model, X, y, **fit_params):
    """Fit; return the message of the one ConvergenceWarning, fail on anything else."""
    messages = _convergence_warnings(model, X, y, **fit_params)
    assert len(messages) == 1, messages
    return messages[0]


SEPARABLE = "The classes are linearly separable in the training data"


@pytest.mark.parametrize(("tol", "max_iter"), [(1e-7, 300), (0.0, 3000)])
@pytest.mark.parametrize(
    ("solver", "preconditioner"),
    [*((solver, "diagonal") for solver in ALL_SOLVERS), *((s, "full") for s in GUARDED_SOLVERS)],
)
@pytest.mark.parametrize(
    ("estimator", "n_classes"), [(WeightedLogisticCE, 2), (SoftmaxCE, 2), (SoftmaxCE, 3)]
)
def test_separable_data_without_penalty_warns_about_separability(
    estimator, n_classes, solver, preconditioner, tol, max_iter
):
    """alpha=0 on separable data: no optimum. Stop by max_iter, finite, and say why.

    The guarded solvers can meet ``tol`` here (the gradient fades as the weights
    grow); that must not be reported as convergence. With ``tol=0`` they run until
    max_iter or until the objective stops decreasing, without overflow.
    """
    X, y = _separable_data(n_classes)
    model = estimator(
        alpha=0.0, solver=solver, tol=tol, max_iter=max_iter, preconditioner=preconditioner
    )
    message = _single_convergence_warning(model, X, y)
    assert 1 <= model.n_iter_ <= max_iter
    _assert_finite(model)
    if solver != "bb":  # bb is non-monotone by design (GLL line search)
        # Monotone up to rounding. As the weights grow, the logits lose absolute
        # accuracy, about eps (|x| . |w| + |b|) each, and since |dl/dz| <= l for
        # cross-entropy, J is then known only to that relative accuracy: the
        # line searches may not tell an increase that small from noise. The
        # softmax loss also takes ln of a rounded sum of exponentials: eps per
        # unit weight, absolute (the total weight is 1 here).
        curve = np.asarray(model.loss_curve_)
        eps = np.finfo(float).eps
        logit_error = eps * float(
            (np.abs(X) @ np.abs(model.coef_).T + np.abs(model.intercept_)).max()
        )
        log_rounding = 4 * eps if estimator is SoftmaxCE else 0.0
        allowed = (8 * logit_error + 1e-12) * np.abs(curve[:-1]) + log_rounding
        assert np.all(np.diff(curve) <= allowed)
    separated = (model.predict(X) == y).all()
    if solver == "gd":
        # Constant steps: the weights grow slowly and max_iter ends the fit, before
        # or after the model separates the classes; the message says which.
        assert model.n_iter_ == max_iter and f"max_iter={max_iter}" in message
        assert "linearly separable" in message
        assert (SEPARABLE in message) == separated
    else:
        assert separated
        assert SEPARABLE in message and "alpha > 0" in message
        # The weights are on their way to infinity: far from any penalised fit.
        assert np.abs(model.coef_).max() > 50.0


@pytest.mark.parametrize("solver", ALL_SOLVERS)
@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_separability_ignores_samples_without_weight(estimator, solver):
    """A misclassified sample of weight 0 is not in the objective: still separable."""
    X, y = _separable_data()
    X = np.vstack([X, [[3.0, 3.0, 0.0]]])  # deep in class 1's half-space
    y = np.append(y, 0)
    weights = np.append(np.ones(60), 0.0)
    model = estimator(alpha=0.0, solver=solver, max_iter=3000)
    message = _single_convergence_warning(model, X, y, sample_weight=weights)
    assert SEPARABLE in message
    assert model.predict(X[-1:])[0] == 1  # the zero-weight sample stays misclassified
    # With weight 1 the data overlap: a finite MLE exists and the fit converges.
    _fit_quietly(estimator(alpha=0.0, solver=solver, max_iter=20000), X, y)


@pytest.mark.parametrize("solver", ALL_SOLVERS)
@pytest.mark.parametrize("params", [{"alpha": 1e-4}, {"alpha": 0.0, "label_smoothing": 0.05}])
@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_separable_data_with_a_finite_optimum_converges_silently(estimator, params, solver):
    """A penalty or soft targets make the optimum finite: no separability warning.

    The guarded solvers converge silently. Plain ``gd`` needs more than ``max_iter``
    iterations for ``SoftmaxCE`` at ``alpha=1e-4`` (condition number ~1e4); its one
    warning must then be the plain "did not converge", not a separability claim.
    """
    X, y = _separable_data()
    model = estimator(solver=solver, max_iter=20000, **params)
    if solver in GUARDED_SOLVERS:
        _fit_quietly(model, X, y)
        assert model.n_iter_ < 20000
    else:
        messages = _convergence_warnings(model, X, y)
        assert len(messages) <= 1 and not any(SEPARABLE in m for m in messages), messages
    _assert_finite(model)


@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_one_sample_per_class(estimator):
    X = np.array([[1.0, 2.0, -1.0], [-0.5, 0.3, 2.0]])
    y = np.array([0, 1])
    alpha = 0.1
    model = _fit_quietly(estimator(alpha=alpha, tol=1e-10), X, y)
    ref = _reference(X, y, alpha)
    # SoftmaxCE's two rows are a symmetric split of LogisticRegression's binary row
    # at twice the penalty; compare through the probabilities for both.
    if estimator is WeightedLogisticCE:
        np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-7)
    else:  # documented: SoftmaxCE(alpha=2a) gives WeightedLogisticCE(alpha=a)'s probabilities
        ref = _reference(X, y, alpha / 2)
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), atol=1e-7)
    assert (model.predict(X) == y).all()


def _reference_in_row_space(X, y, alpha):
    """``_reference`` for ``d >> n`` through the representer theorem.

    At the optimum ``alpha W = -X^T R / S`` (R the weighted residuals), so every
    row of ``W`` lies in the row space of ``X``. With the thin SVD ``X = U S V^T``
    and ``W = B V^T``: ``X W^T = (U S) B^T`` and ``||W|| = ||B||``, so the
    ``n``-feature problem on ``Z = U S`` has the same objective, and its Newton
    solution mapped back by ``V`` is the optimum. Exact, and ``n x n`` instead of
    a ``d x d`` (or ``Kd x Kd``) Hessian.
    """
    _, svals, Vt = np.linalg.svd(X, full_matrices=False)
    rank = int(np.sum(svals > svals[0] * 1e-12))
    Vt = Vt[:rank]
    ref = _reference(X @ Vt.T, y, alpha)
    return ref.coef_ @ Vt, ref.intercept_


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_many_more_features_than_samples(sparse, estimator):
    rng = np.random.RandomState(0)
    n, d = 30, 2500
    X = rng.randn(n, d)
    X[rng.rand(n, d) < 0.9] = 0.0
    y = np.arange(n) % (2 if estimator is WeightedLogisticCE else 3)
    alpha = 1e-2
    Xfit = sp.csr_matrix(X) if sparse else X
    model = _fit_quietly(estimator(alpha=alpha, tol=1e-9), Xfit, y)
    coef, intercept = _reference_in_row_space(X, y, alpha)
    np.testing.assert_allclose(model.coef_, coef, atol=1e-6)
    np.testing.assert_allclose(model.intercept_, intercept, atol=1e-6)


@pytest.mark.parametrize("scale", [1e30, 1e-30])
@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_float32_near_the_ends_of_its_range(scale, estimator):
    """float32 data ~1e30 or ~1e-30: coefficients scale by 1/scale (alpha=0), finite."""
    X, y = binary_data(n_features=4) if estimator is WeightedLogisticCE else multiclass_data()
    ref = _reference(X, y, alpha=0)
    X32 = (X * scale).astype(np.float32)
    assert np.isfinite(X32).all() and np.abs(X32).max() > 0
    model = estimator(alpha=0.0, tol=1e-6 * scale, max_iter=5000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        # The gradient in w scales with the data, in b it does not: for tiny data no
        # absolute tol fits both, and the fit may stop at float32 precision (warned).
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X32, y)
    assert model.coef_.dtype == np.float32
    _assert_finite(model)
    proba = model.predict_proba(X32)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba, ref.predict_proba(X), atol=1e-3)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_sparse_with_empty_rows_and_columns(fmt, estimator):
    X, y = binary_data() if estimator is WeightedLogisticCE else multiclass_data()
    X = np.column_stack([X, np.zeros(len(y))])
    X[X < 0.3] = 0.0
    X[::7] = 0.0  # empty rows: intercept-only samples
    X[:, 2] = 0.0  # empty column
    alpha = 1e-2
    model = _fit_quietly(estimator(alpha=alpha, tol=1e-10), sp.csr_matrix(X).asformat(fmt), y)
    assert np.all(model.coef_[:, [2, -1]] == 0.0)
    ref = _reference(X, y, alpha)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=1e-6)


@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_zero_sample_weights_equal_dropping_the_samples(estimator):
    X, y = binary_data() if estimator is WeightedLogisticCE else multiclass_data()
    sw = np.random.RandomState(0).uniform(0.5, 2, len(y))
    sw[::3] = 0.0
    keep = sw > 0
    a = _fit_quietly(estimator(alpha=1e-2, tol=1e-10), X, y, sample_weight=sw)
    b = _fit_quietly(estimator(alpha=1e-2, tol=1e-10), X[keep], y[keep], sample_weight=sw[keep])
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
    np.testing.assert_allclose(a.intercept_, b.intercept_, atol=1e-8)


@pytest.mark.parametrize("solver", GUARDED_SOLVERS)
@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_sample_weights_from_1e_minus8_to_1e8(solver, estimator):
    X, y = binary_data() if estimator is WeightedLogisticCE else multiclass_data()
    sw = 10.0 ** np.random.RandomState(0).uniform(-8, 8, len(y))
    alpha = 1e-3
    ref = _reference(X, y, alpha, sample_weight=sw)
    model = _fit_quietly(
        estimator(alpha=alpha, solver=solver, tol=1e-10, max_iter=20_000), X, y, sample_weight=sw
    )
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), atol=1e-6)


# ------------------------------------------------------------------ invalid input


def _bad(X, row=3, col=1, value=np.nan):
    X = X.copy()
    X[row, col] = value
    return X


_X, _Y = binary_data(n_samples=40)


@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
@pytest.mark.parametrize(
    "X, y, fit_params, match",
    [
        (_bad(_X), _Y, {}, "NaN"),
        (_bad(_X, value=np.inf), _Y, {}, "infinity"),
        (sp.csr_matrix(_bad(_X, value=-np.inf)), _Y, {}, "infinity"),
        (_X, _Y, {"sample_weight": _bad(np.ones((40, 1)), col=0)[:, 0]}, "NaN"),
        (_X, _Y, {"sample_weight": _bad(np.ones((40, 1)), col=0, value=np.inf)[:, 0]}, "inf"),
        (_X, _Y, {"sample_weight": _bad(np.ones((40, 1)), col=0, value=-1.0)[:, 0]}, "egative"),
        (_X, _Y, {"sample_weight": np.ones(39)}, r"\(39,\)"),
        (_X[:-1], _Y, {}, "inconsistent numbers of samples"),
        (_X, _Y.reshape(-1, 1).repeat(2, axis=1), {}, "y"),
        (_X, _Y + np.linspace(0, 0.5, 40), {}, "Unknown label type"),
        (_X, _Y, {"sample_weight": np.zeros(40)}, "non-zero"),
        (_X.astype(object), _Y, {}, None),
    ],
)
def test_invalid_fit_input_raises_one_clear_value_error(estimator, X, y, fit_params, match):
    if match is None:  # object arrays of numbers are accepted (converted to float64)
        estimator().fit(X, y, **fit_params)
        return
    with pytest.raises(ValueError, match=match):
        estimator().fit(X, y, **fit_params)


@pytest.mark.parametrize(
    "estimator",
    [
        WeightedLogisticCE(beta=0.0),
        WeightedLogisticCE(beta=-1e-300),
        WeightedLogisticCE(beta=np.nan),
        WeightedLogisticCE(label_smoothing=1.0),
        WeightedLogisticCE(label_smoothing=-0.1),
        SoftmaxCE(label_smoothing=1.5),
        SoftmaxCE(learning_rate=-1.0, solver="gd"),
        SoftmaxCE(learning_rate=0.0, solver="gd"),
        SoftmaxCE(class_weight={0: 1.0, "x": 2.0}),
        SoftmaxCE(class_weight={0: -1.0}),
        SoftmaxCE(class_weight={0: np.nan}),
        SoftmaxCE(class_weight=[1.0, 2.0]),
    ],
)
def test_invalid_parameters_raise_value_error(estimator):
    with pytest.raises(ValueError, match=r"beta|label_smoothing|learning_rate|class_weight"):
        estimator.fit(_X, _Y)


def test_predict_rejects_nan_and_wrong_width():
    model = WeightedLogisticCE().fit(_X, _Y)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(_bad(_X))
    with pytest.raises(ValueError, match="features"):
        model.predict_proba(_X[:, :-1])


def test_metrics_and_information_gaps():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        cross_entropy_loss([0, 1], np.array([[np.inf, 0.0], [0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        cross_entropy_loss([0, 1], [-np.inf, 0.5])
    with pytest.raises(ValueError, match="q has negative entries"):
        cross_entropy_decomposition([0.5, 0.5], [1.5, -0.5])
    with pytest.raises(ValueError, match="p has non-finite"):
        cross_entropy([[0.5, 0.5], [np.inf, 0.0]], [0.5, 0.5])
    with pytest.raises(ValueError, match="sigma_q must be"):
        gaussian_kl_divergence([0.0, 1.0], [1.0, 1.0], 0.0, [1.0, -1.0])


# ------------------------------------------------------------ inputs are not modified


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nothing_the_caller_passes_is_modified(sparse, dtype):
    X, y = multiclass_data()
    X = X.astype(dtype)
    X = sp.csr_matrix(X) if sparse else X
    sw = np.random.RandomState(0).uniform(0, 2, len(y))
    cw = {0: 2.0, 2: 0.5}
    copies = (X.copy(), y.copy(), sw.copy(), dict(cw))
    model = SoftmaxCE(class_weight=cw, prior_correction=True).fit(X, y, sample_weight=sw)
    model.predict_proba(X)
    WeightedLogisticCE(beta=3.0).fit(X, (y == 1).astype(int), sample_weight=sw).predict(X)
    if sparse:
        assert (X != copies[0]).nnz == 0
        np.testing.assert_array_equal(X.indices, copies[0].indices)
    else:
        np.testing.assert_array_equal(X, copies[0])
    np.testing.assert_array_equal(y, copies[1])
    np.testing.assert_array_equal(sw, copies[2])
    assert cw == copies[3]


@pytest.mark.parametrize(
    "estimator",
    # An explicit preconditioner: "auto" picks the full metric for dense input only.
    [
        Estimator(preconditioner=preconditioner)
        for Estimator in (WeightedLogisticCE, SoftmaxCE)
        for preconditioner in ("diagonal", "full")
    ],
    ids=repr,
)
def test_read_only_and_memmap_input(estimator, tmp_path):
    X, y = binary_data()
    expected = clone(estimator).fit(X, y)
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    X_ro = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    y_ro = y.copy()
    y_ro.setflags(write=False)
    sw = np.ones(len(y))
    sw.setflags(write=False)
    model = clone(estimator).fit(X_ro, y_ro, sample_weight=sw)
    np.testing.assert_array_equal(model.coef_, expected.coef_)
    np.testing.assert_array_equal(model.predict_proba(X_ro), expected.predict_proba(X))
    Xs = sp.csr_matrix(X)
    for a in (Xs.data, Xs.indices, Xs.indptr):
        a.setflags(write=False)
    np.testing.assert_allclose(
        clone(estimator).fit(Xs, y).predict_proba(Xs), expected.predict_proba(X), atol=1e-7
    )


# ------------------------------------------------------------------ determinism


def _fit_coef(args):
    estimator, X, y, sw = args
    model = clone(estimator).fit(X, y, sample_weight=sw)
    return np.concatenate([model.coef_.ravel(), model.intercept_])


ESTIMATORS = [WeightedLogisticCE(beta=3.0, solver=s) for s in [*GUARDED_SOLVERS, "gd"]] + [
    SoftmaxCE(class_weight="balanced", solver=s) for s in [*GUARDED_SOLVERS, "gd"]
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_bit_identical_runs_permutation_invariance_and_threads(estimator):
    X, y = binary_data() if isinstance(estimator, WeightedLogisticCE) else multiclass_data()
    sw = np.random.RandomState(0).uniform(0.5, 2, len(y))
    estimator = clone(estimator).set_params(tol=1e-10, max_iter=50_000, alpha=1e-2)
    first = _fit_coef((estimator, X, y, sw))
    np.testing.assert_array_equal(_fit_coef((estimator, X, y, sw)), first)
    perm = np.random.RandomState(1).permutation(len(y))
    np.testing.assert_allclose(
        _fit_coef((estimator, X[perm], y[perm], sw[perm])), first, rtol=1e-6, atol=1e-8
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_fit_coef, [(estimator, X, y, sw)] * 4))
    # Concurrent fits in Python threads agree with each other bit for bit. With the
    # main thread's fit only to rounding: some OpenBLAS builds (0.3.21, numpy 1.24)
    # ignore a thread limit set from a non-main thread, so those fits run BLAS on
    # more threads than skce's policy asks, and the sums are split differently.
    for r in results:
        np.testing.assert_array_equal(r, results[0])
        np.testing.assert_allclose(r, first, rtol=1e-12, atol=1e-14)
