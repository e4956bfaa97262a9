"""WeightedLogisticCE and SoftmaxCE against independent references and in sklearn tools."""

import pickle
import re
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import skce
from skce import SoftmaxCE, WeightedLogisticCE
from skce._compat import SKLEARN_VERSION, InvalidParameterError
from skce._links import api_page_template

from ._data import binary_data, multiclass_data, raw_scales

# Solvers with line searches, in standardised coordinates; "gd" is the textbook one.
GUARDED_SOLVERS = ["bb", "agd", "lbfgs"]
ALL_SOLVERS = [*GUARDED_SOLVERS, "gd"]


def _sklearn_reference(X, y, alpha, sample_weight=None, class_weight=None, penalty="l2"):
    """LogisticRegression at the mapped C = 1 / (alpha * sum s), solved tightly by Newton."""
    s = np.ones(len(y)) if sample_weight is None else sample_weight
    if class_weight == "balanced" and SKLEARN_VERSION < (1, 7):
        # LogisticRegression counts the classes without sample_weight before
        # scikit-learn 1.7; skce's "balanced" is the weighted formula, written out:
        # c_k = (sum_i s_i) / (K * sum_{i: y_i = k} s_i).
        classes, codes = np.unique(y, return_inverse=True)
        totals = np.bincount(codes, weights=s)
        weights = totals.sum() / (len(classes) * totals)
        class_weight = dict(zip(classes.tolist(), weights.tolist(), strict=True))
    params = dict(solver="newton-cholesky", tol=1e-12, max_iter=1000, class_weight=class_weight)
    if penalty is None:
        params["C"] = np.inf
    else:
        params["C"] = 1.0 / (alpha * s.sum())
    return LogisticRegression(**params).fit(X, y, sample_weight=sample_weight)


# -- the optimum --------------------------------------------------------------------
@pytest.mark.parametrize("solver", ALL_SOLVERS)
@pytest.mark.parametrize("beta", [1.0, 7.5, 0.4])
def test_binary_optimum_equals_logistic_regression(solver, beta):
    X, y = binary_data()
    sw = np.random.RandomState(0).uniform(0.2, 3.0, len(y))
    alpha = 1e-2
    ref = _sklearn_reference(X, y, alpha, sample_weight=sw, class_weight={0: 1, 1: beta})
    max_iter = 100_000 if solver == "gd" else 10_000
    model = WeightedLogisticCE(beta=beta, alpha=alpha, solver=solver, tol=1e-10, max_iter=max_iter)
    model.fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=1e-6)
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), atol=1e-7)


@pytest.mark.parametrize("solver", ALL_SOLVERS)
@pytest.mark.parametrize("class_weight", [None, {0: 1.0, 1: 4.0, 2: 0.5}, "balanced"])
def test_multinomial_optimum_equals_logistic_regression(solver, class_weight):
    X, y = multiclass_data()
    sw = np.random.RandomState(1).uniform(0.2, 3.0, len(y))
    alpha = 1e-2
    ref = _sklearn_reference(X, y, alpha, sample_weight=sw, class_weight=class_weight)
    max_iter = 100_000 if solver == "gd" else 10_000
    model = SoftmaxCE(
        class_weight=class_weight, alpha=alpha, solver=solver, tol=1e-10, max_iter=max_iter
    )
    model.fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-6)
    # Softmax intercepts are defined up to a common shift: compare centred ones.
    np.testing.assert_allclose(
        model.intercept_ - model.intercept_.mean(),
        ref.intercept_ - ref.intercept_.mean(),
        atol=1e-6,
    )
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), atol=1e-7)


def test_softmax_on_two_classes_equals_weighted_logistic_with_double_alpha():
    """K = 2 softmax with alpha = 2a is the logistic model with alpha = a: w = w_1 - w_0."""
    X, y = binary_data()
    a = 3e-3
    logistic = WeightedLogisticCE(alpha=a, tol=1e-10).fit(X, y)
    softmax = SoftmaxCE(alpha=2 * a, tol=1e-10).fit(X, y)
    assert softmax.coef_.shape == (2, X.shape[1])
    np.testing.assert_allclose(softmax.predict_proba(X), logistic.predict_proba(X), atol=1e-8)
    np.testing.assert_allclose(
        softmax.decision_function(X), logistic.decision_function(X), rtol=1e-6, atol=1e-7
    )
    np.testing.assert_array_equal(softmax.predict(X), logistic.predict(X))


@pytest.mark.parametrize("solver", GUARDED_SOLVERS)
@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_raw_unscaled_features_reach_the_mle(solver, estimator):
    """alpha = 0 on columns scaled from 1e-3 to 1e3 with offsets: the MLE, unpenalised."""
    X, y = binary_data(n_features=5) if estimator is WeightedLogisticCE else multiclass_data()
    X_raw = raw_scales(X)
    # The MLE is equivariant under column scaling: fit Newton on the standardised data
    # and map the coefficients back, an independent route to the same optimum.
    ref = _sklearn_reference(X, y, alpha=0.0, penalty=None)
    scale = X_raw.std(axis=0)
    mean = X_raw.mean(axis=0)
    ref_coef = ref.coef_ / scale
    ref_intercept = ref.intercept_ - ref_coef @ mean
    # tol=1e-8 is about 1e-11 relative to the gradient of the 1e3-scaled columns.
    model = estimator(alpha=0.0, solver=solver, tol=1e-8, max_iter=20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X_raw, y)
    if estimator is WeightedLogisticCE:
        np.testing.assert_allclose(model.coef_, ref_coef, rtol=1e-5)
        np.testing.assert_allclose(model.intercept_, ref_intercept, rtol=1e-5)
    else:
        centred = model.intercept_ - model.intercept_.mean()
        np.testing.assert_allclose(centred, ref_intercept - ref_intercept.mean(), rtol=1e-5)
        np.testing.assert_allclose(model.coef_, ref_coef, rtol=1e-5)
    np.testing.assert_allclose(model.predict_proba(X_raw), ref.predict_proba(X), atol=1e-6)


def test_textbook_gd_is_slow_on_raw_features():
    """The documented contrast: plain GD with 1/L does not get there within max_iter."""
    X, y = binary_data(n_features=5)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        WeightedLogisticCE(alpha=0.0, solver="gd", max_iter=300).fit(raw_scales(X), y)


# -- gradient descent specifics ---------------------------------------------------------
def test_gd_with_too_large_learning_rate_raises():
    X, y = binary_data()
    X = X * 100
    with pytest.raises(ValueError, match="learning_rate"):
        WeightedLogisticCE(solver="gd", learning_rate=1e4, max_iter=500).fit(X, y)


def test_gd_auto_learning_rate_is_inverse_lipschitz_and_monotone():
    X, y = binary_data()
    model = WeightedLogisticCE(solver="gd", alpha=1e-2, tol=1e-7, max_iter=20_000)
    model.fit(X, y)
    ref = _sklearn_reference(X, y, 1e-2)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-5)


def test_max_iter_gives_convergence_warning_and_n_iter():
    X, y = multiclass_data()
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        model = SoftmaxCE(max_iter=3).fit(X, y)
    assert model.n_iter_ == 3


@pytest.mark.parametrize("solver", GUARDED_SOLVERS)
def test_stall_at_float32_precision_warns(solver):
    """A tol below what float32 arithmetic resolves ends with a warning, never silently."""
    X, y = multiclass_data()
    model = SoftmaxCE(solver=solver, tol=1e-13, max_iter=5000)
    with pytest.warns(ConvergenceWarning, match="limit of the working precision"):
        model.fit(X.astype(np.float32), y)
    assert model.n_iter_ < 5000
    reference = SoftmaxCE(solver=solver, tol=1e-9).fit(X, y)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-4, atol=1e-5)


def test_n_iter_and_tol_semantics():
    """Stopping means max |grad J| <= tol at the returned coefficients."""
    X, y = binary_data()
    sw = np.random.RandomState(3).uniform(0.5, 2, len(y))
    alpha, beta, tol = 1e-2, 3.0, 1e-5
    model = WeightedLogisticCE(beta=beta, alpha=alpha, tol=tol).fit(X, y, sample_weight=sw)
    assert model.n_iter_ >= 1
    # Gradient at the returned point, written out from the documented formula.
    z = X @ model.coef_[0] + model.intercept_[0]
    p = 1 / (1 + np.exp(-z))
    c = np.where(y == 1, beta, 1.0)
    err = sw * c * (p - y) / sw.sum()
    grad = np.append(X.T @ err + alpha * model.coef_[0], err.sum())
    assert np.abs(grad).max() <= tol


@pytest.mark.parametrize("estimator", [WeightedLogisticCE(), SoftmaxCE()])
def test_warm_start_continues_from_previous_solution(estimator):
    X, y = binary_data() if isinstance(estimator, WeightedLogisticCE) else multiclass_data()
    full = clone(estimator).set_params(tol=1e-9).fit(X, y)
    warm = clone(estimator).set_params(warm_start=True, max_iter=4, tol=1e-9)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, y)
    assert not np.allclose(warm.coef_, full.coef_, atol=1e-6)
    warm.set_params(max_iter=1000).fit(X, y)
    np.testing.assert_allclose(warm.coef_, full.coef_, atol=1e-7)
    # From the optimum, a warm fit stops at once.
    warm.fit(X, y)
    assert warm.n_iter_ == 0
    cold = clone(estimator).set_params(tol=1e-9).fit(X, y)
    assert cold.n_iter_ > 5


@pytest.mark.parametrize("estimator", [WeightedLogisticCE(beta=3.0), SoftmaxCE()])
def test_fit_is_deterministic(estimator):
    X, y = binary_data() if isinstance(estimator, WeightedLogisticCE) else multiclass_data()
    a = clone(estimator).fit(X, y)
    b = clone(estimator).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)


@pytest.mark.parametrize(
    "estimator",
    [
        WeightedLogisticCE(alpha=1e-2, tol=1e-10),
        WeightedLogisticCE(alpha=1e-2, beta="balanced", tol=1e-10),
        SoftmaxCE(alpha=1e-2, tol=1e-10),
        SoftmaxCE(alpha=1e-2, class_weight="balanced", tol=1e-10),
    ],
    ids=repr,
)
def test_integer_sample_weights_equal_repeated_rows(estimator):
    """Weight k (0 included) is the row repeated k times (0: removed), in any row order.

    scikit-learn's check_sample_weight_equivalence tests this too; before 1.7 it
    cannot for a binary-only classifier (see tests/test_common.py).
    """
    binary = isinstance(estimator, WeightedLogisticCE)
    X, y = binary_data(n_samples=80) if binary else multiclass_data(n_samples=80)
    sw = np.random.RandomState(3).randint(0, 4, size=len(y))
    repeated = clone(estimator).fit(X.repeat(sw, axis=0), y.repeat(sw))
    order = np.random.RandomState(4).permutation(len(y))
    weighted = clone(estimator).fit(X[order], y[order], sample_weight=sw[order])
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-8)
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, atol=1e-6)


def test_beta_balanced_uses_weighted_class_totals():
    X, y = binary_data(weights=(0.9, 0.1))
    sw = np.random.RandomState(0).uniform(0.1, 2, len(y))
    model = WeightedLogisticCE(beta="balanced", tol=1e-9).fit(X, y, sample_weight=sw)
    expected = sw[y == 0].sum() / sw[y == 1].sum()
    assert model.beta_ == pytest.approx(expected)
    same = WeightedLogisticCE(beta=expected, tol=1e-9).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(model.coef_, same.coef_, rtol=1e-10)


def test_beta_shifts_positive_probability_up():
    X, y = binary_data(weights=(0.9, 0.1))
    p1 = WeightedLogisticCE(beta=1.0).fit(X, y).predict_proba(X)[:, 1]
    p20 = WeightedLogisticCE(beta=20.0).fit(X, y).predict_proba(X)[:, 1]
    assert p20.mean() > p1.mean() + 0.1
    assert (p20 >= p1 - 1e-12).mean() > 0.95


# -- dtypes, sparse input, memory -----------------------------------------------------
@pytest.mark.parametrize("estimator", [WeightedLogisticCE(tol=1e-7), SoftmaxCE(tol=1e-7)])
def test_float32_input_keeps_float32_and_accuracy(estimator):
    X, y = binary_data() if isinstance(estimator, WeightedLogisticCE) else multiclass_data()
    m64 = clone(estimator).fit(X, y)
    m32 = clone(estimator).fit(X.astype(np.float32), y)
    assert m32.coef_.dtype == np.float32 and m32.intercept_.dtype == np.float32
    assert m64.coef_.dtype == np.float64
    # float32 data is the float64 data rounded: optima agree to float32 precision.
    np.testing.assert_allclose(m32.coef_, m64.coef_, rtol=1e-4, atol=1e-5)


class _NoDensifyCSR(sp.csr_matrix):
    """A CSR matrix that refuses to be densified."""

    def toarray(self, *args, **kwargs):
        raise AssertionError("X was densified")

    def todense(self, *args, **kwargs):
        raise AssertionError("X was densified")


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize(
    "estimator",
    # An explicit preconditioner: "auto" picks the full metric for dense input only.
    [
        Estimator(tol=1e-9, preconditioner=preconditioner)
        for Estimator in (WeightedLogisticCE, SoftmaxCE)
        for preconditioner in ("diagonal", "full")
    ],
    ids=repr,
)
def test_sparse_input_gives_the_dense_result(fmt, estimator):
    X, y = binary_data() if isinstance(estimator, WeightedLogisticCE) else multiclass_data()
    X[np.abs(X) < 0.7] = 0.0
    dense = clone(estimator).fit(X, y)
    sparse = clone(estimator).fit(sp.csr_matrix(X).asformat(fmt), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X))


@pytest.mark.parametrize("preconditioner", ["diagonal", "full"])
def test_sparse_input_is_not_densified(preconditioner):
    X, y = binary_data()
    X[np.abs(X) < 0.7] = 0.0
    X_sparse = _NoDensifyCSR(X)
    model = WeightedLogisticCE(preconditioner=preconditioner).fit(X_sparse, y)
    model.predict_proba(X_sparse)


def _peak_fit_memory(X, y, preconditioner="diagonal"):
    """Peak bytes allocated by a short fit (tracemalloc).

    With the full preconditioner the fit runs past its first round (8
    iterations), so the metric is also rebuilt from the curvature once.
    """
    max_iter = 5 if preconditioner == "diagonal" else 12
    model = WeightedLogisticCE(max_iter=max_iter, preconditioner=preconditioner)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("preconditioner", ["diagonal", "full"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_does_not_copy_dense_x(dtype, preconditioner):
    """Peak extra memory during fit stays far below the size of X (no upcast copy)."""
    rng = np.random.RandomState(0)
    X = rng.randn(40_000, 100).astype(dtype)
    y = (X[:, 0] + rng.randn(40_000) > 0).astype(int)
    assert _peak_fit_memory(X, y, preconditioner) < 0.5 * X.nbytes


@pytest.mark.parametrize("order", ["C", "F"])
def test_large_dense_fit_copies_only_its_row_sample(order):
    # More than 65,536 rows: the fit starts on a row sample, whose rows are copied
    # (at most an eighth of X). np.take on a Fortran-ordered X (a pandas
    # DataFrame's values) copied all of X for every group of sampled rows: peak
    # 1.2 X and an 8x slower fit.
    rng = np.random.RandomState(0)
    X = np.asarray(rng.randn(70_000, 50), order=order)
    y = (X[:, 0] + rng.randn(70_000) > 0).astype(int)
    assert _peak_fit_memory(X, y, "full") < 0.4 * X.nbytes


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_does_not_copy_sparse_x(fmt, dtype):
    rng = np.random.RandomState(0)
    n, d, per_row = 20_000, 5_000, 30
    indices = rng.randint(0, d, n * per_row)
    indptr = np.arange(0, n * per_row + 1, per_row)
    X = sp.csr_matrix((rng.randn(n * per_row), indices, indptr), shape=(n, d)).astype(dtype)
    X = X.asformat(fmt)
    y = (np.asarray(X[:, :50].sum(axis=1)).ravel() + rng.randn(n) > 0).astype(int)
    size = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    assert _peak_fit_memory(X, y) < 0.5 * size


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_full_preconditioner_does_not_copy_sparse_x(fmt):
    # The metric's Gram matrix is summed over slices of X: no copy of X, and
    # (d + 1)^2 floats for the metric itself (d = 200 here: 0.3 MB).
    rng = np.random.RandomState(0)
    n, d, per_row = 100_000, 200, 20
    indices = rng.randint(0, d, n * per_row)
    indptr = np.arange(0, n * per_row + 1, per_row)
    X = sp.csr_matrix((rng.randn(n * per_row), indices, indptr), shape=(n, d)).asformat(fmt)
    y = (np.asarray(X[:, :20].sum(axis=1)).ravel() + rng.randn(n) > 0).astype(int)
    size = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    assert _peak_fit_memory(X, y, "full") < 0.5 * size


# -- numerical robustness ----------------------------------------------------------------
@pytest.mark.parametrize("estimator", [WeightedLogisticCE(), SoftmaxCE()])
def test_huge_features_and_logits_stay_finite(estimator):
    X, y = binary_data() if isinstance(estimator, WeightedLogisticCE) else multiclass_data()
    X_big = X * 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = clone(estimator).fit(X_big, y)
        proba = model.predict_proba(X_big * 1e3)
        log_proba = model.predict_log_proba(X_big * 1e3)
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    assert np.all(np.isfinite(proba)) and np.all(np.isfinite(log_proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # Scaling X by 1e6 scales the optimal coefficients by 1e-6 when alpha is scaled
    # by 1e12 (the penalty acts on coefficients 1e6 times smaller): compare with the
    # fit on the original scale. The gradient in w scales by 1e6, so tol=1e-5 on the
    # big problem is 1e-11 for the coefficients of the original one.
    small = clone(estimator).set_params(tol=1e-9).fit(X, y)
    big = clone(estimator).set_params(alpha=estimator.alpha * 1e12, tol=1e-5).fit(X_big, y)
    np.testing.assert_allclose(big.coef_ * 1e6, small.coef_, rtol=1e-4, atol=1e-6)


# -- sklearn integration ---------------------------------------------------------------------
def test_pipeline_grid_search_over_beta():
    X, y = binary_data(n_samples=400, weights=(0.9, 0.1))
    X = raw_scales(X)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", WeightedLogisticCE())])
    search = GridSearchCV(
        pipe,
        {"clf__beta": [1.0, 3.0, 9.0]},
        scoring="recall",
        cv=StratifiedKFold(3),
        n_jobs=2,
    )
    search.fit(X, y)
    assert search.best_params_["clf__beta"] == 9.0  # recall grows with beta
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] < scores[-1]


@pytest.mark.parametrize("estimator", [WeightedLogisticCE(beta=2.0), SoftmaxCE()])
def test_cross_val_score_and_clone(estimator):
    X, y = binary_data() if isinstance(estimator, WeightedLogisticCE) else multiclass_data()
    scores = cross_val_score(estimator, X, y, cv=5)
    assert scores.shape == (5,) and np.all(scores > 0.6)
    twin = clone(estimator)
    assert twin.get_params() == estimator.get_params()
    assert not hasattr(twin, "coef_")


@pytest.mark.parametrize("estimator", [WeightedLogisticCE(beta=2.0), SoftmaxCE()])
def test_pickle_round_trip(estimator):
    X, y = binary_data() if isinstance(estimator, WeightedLogisticCE) else multiclass_data()
    model = clone(estimator).fit(X, y)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.coef_, model.coef_)


def _links(html):
    return set(re.findall(r'href="([^"#]+)', html))


@pytest.mark.parametrize("estimator", [WeightedLogisticCE(), SoftmaxCE()], ids=repr)
def test_html_repr_links_to_the_skce_api_page(estimator):
    """The diagram links to docs/api.rst's autosummary page of the class, for this version."""
    name = type(estimator).__name__
    version = skce.__version__ if re.fullmatch(r"[0-9.]+", skce.__version__) else "latest"
    page = f"https://skce.readthedocs.io/en/{version}/generated/skce.{name}.html"
    assert _links(estimator._repr_html_()) == {page}
    # In a pipeline each step keeps its own link: scikit-learn's steps point to scikit-learn.
    links = _links(Pipeline([("scale", StandardScaler()), ("clf", estimator)])._repr_html_())
    assert page in links
    assert not any("skce" in link for link in _links(StandardScaler()._repr_html_()))
    assert any("scikit-learn.org" in link and "StandardScaler" in link for link in links)


@pytest.mark.parametrize(
    "version, folder",
    [("0.1.0", "0.1.0"), ("2.10.3", "2.10.3"), ("0.2.0.dev1", "latest"), ("0.1.0+g1a2b", "latest")],
)
def test_docs_version_of_releases_and_development_versions(version, folder):
    assert api_page_template(version).format(estimator_name="SoftmaxCE") == (
        f"https://skce.readthedocs.io/en/{folder}/generated/skce.SoftmaxCE.html"
    )


def test_string_labels_and_positive_class():
    X, y = binary_data()
    labels = np.array(["healthy", "sick"])[y]
    model = WeightedLogisticCE(beta=4.0).fit(X, labels)
    assert list(model.classes_) == ["healthy", "sick"]
    numeric = WeightedLogisticCE(beta=4.0).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), numeric.predict_proba(X))
    # The positive class is classes_[1]: "sick" gets beta.
    assert set(model.predict(X)) <= {"healthy", "sick"}


def test_softmax_binary_decision_function_is_margin():
    X, y = binary_data()
    model = SoftmaxCE().fit(X, y)
    Z = X @ model.coef_.T + model.intercept_
    np.testing.assert_allclose(model.decision_function(X), Z[:, 1] - Z[:, 0])


# -- errors -------------------------------------------------------------------------------------
def test_multiclass_target_is_refused_by_weighted_logistic():
    X, y = multiclass_data()
    with pytest.raises(ValueError, match=r"Only binary classification is supported\..*SoftmaxCE"):
        WeightedLogisticCE().fit(X, y)


@pytest.mark.parametrize("estimator", [WeightedLogisticCE(), SoftmaxCE()])
def test_one_class_target_is_refused(estimator):
    X, _ = binary_data()
    with pytest.raises(ValueError, match=r"only one class: 0\.0\. A classifier needs"):
        clone(estimator).fit(X, np.zeros(len(X)))
    # Weights that leave one class: the message names it as the caller wrote it.
    y = np.where(np.arange(len(X)) % 2 == 0, "no", "yes")
    weights = (y == "yes").astype(float)
    with pytest.raises(ValueError, match=r"positive total sample weight \(class 'yes'\)"):
        clone(estimator).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize(
    "params",
    [
        {"beta": 0.0},
        {"beta": -1.0},
        {"beta": "auto"},
        {"alpha": -1.0},
        {"solver": "sgd"},
        {"learning_rate": 0.0},
        {"tol": -1.0},
        {"max_iter": 0},
    ],
)
def test_invalid_parameters_raise_invalid_parameter_error(params):
    X, y = binary_data()
    with pytest.raises(InvalidParameterError):
        WeightedLogisticCE(**params).fit(X, y)


def test_infinite_beta_is_refused():
    X, y = binary_data()
    with pytest.raises(ValueError, match="'beta' parameter"):
        WeightedLogisticCE(beta=np.inf).fit(X, y)


def test_class_weight_with_unknown_label_is_refused():
    X, y = multiclass_data()
    with pytest.raises(ValueError, match=r"not in the training data: \[7\]"):
        SoftmaxCE(class_weight={0: 1.0, 7: 2.0}).fit(X, y)


def test_class_weight_dict_leaves_other_classes_at_one():
    X, y = multiclass_data()
    model = SoftmaxCE(class_weight={2: 3.0}).fit(X, y)
    np.testing.assert_array_equal(model.class_weight_, [1.0, 1.0, 3.0])


def test_negative_sample_weight_is_refused():
    X, y = binary_data()
    sw = np.ones(len(y))
    sw[3] = -1
    with pytest.raises(ValueError, match=r"[Nn]egative"):
        WeightedLogisticCE().fit(X, y, sample_weight=sw)


def _max_iter_message(model, X, y):
    with pytest.warns(ConvergenceWarning) as record:
        model.fit(X, y)
    messages = [str(w.message) for w in record if issubclass(w.category, ConvergenceWarning)]
    assert len(messages) == 1 and model.status_ == "max_iter", messages
    return messages[0]


def test_max_iter_warning_reports_the_objectives_progress_and_advice_that_works():
    # Raw breast cancer (columns from 1e-3 to 4e3, strongly correlated): lbfgs in the
    # diagonal scaling reaches max_iter close to the optimum. The warning says how
    # little the objective still moves, and its advice is the full metric, not
    # scaling the features (the solver already runs on standardised columns).
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    model = SoftmaxCE(alpha=1e-6, solver="lbfgs", max_iter=300)
    message = _max_iter_message(model, X, y)
    assert "scale the features" not in message and "preconditioner='full'" in message
    reported = float(re.search(r"last 100 iterations the objective fell by (\S+) of", message)[1])
    curve = model.loss_curve_
    assert reported == pytest.approx((curve[-101] - curve[-1]) / curve[-1], rel=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        advised = clone(model).set_params(preconditioner="full").fit(X, y)
    assert advised.status_ == "converged"
    # Only gd, which steps in the features' own units, is told to scale them; a fit
    # in the full metric is told neither.
    gd = _max_iter_message(WeightedLogisticCE(solver="gd", max_iter=3), X, y)
    assert "scale the features" in gd and "preconditioner" not in gd
    full = _max_iter_message(WeightedLogisticCE(preconditioner="full", max_iter=3), X, y)
    assert "scale the features" not in full and "preconditioner" not in full
    assert "last 3 iterations" in full
    # Truncated Newton (the default on wide sparse data) already follows the
    # curvature: neither, and the warning names the solver that ran.
    wide = sp.random(300, 200, density=0.02, format="csr", random_state=0)
    yw = np.arange(300) % 2
    newton = _max_iter_message(WeightedLogisticCE(alpha=1e-6, max_iter=1), wide, yw)
    assert "scale the features" not in newton and "preconditioner" not in newton
    assert "(solver='auto', ran 'newton')" in newton
