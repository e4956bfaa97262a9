"""Sparse input at the defaults: one-hot pipelines, wide one-hot data, weighted raw data as CSR.

What a scikit-learn user hands an estimator most often (``OneHotEncoder`` and
``ColumnTransformer`` return CSR). Each fit at the defaults must converge
without a warning to the optimum of the objective, checked against
scikit-learn's ``LogisticRegression`` (newton-cholesky on the same matrix made
dense, at the mapped ``C = 1 / (alpha sum s)``), through an objective written
out here.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.special import log_softmax
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skce import SoftmaxCE, WeightedLogisticCE


def _objective(model, X, y, alpha, sample_weight=None, class_weight=None):
    """``J`` of a fitted model: weighted mean cross-entropy plus ``alpha/2 ||W||^2``."""
    classes = np.unique(y)
    codes = np.searchsorted(classes, y)
    Z = np.asarray(X @ model.coef_.T) + model.intercept_
    if Z.shape[1] == 1:
        Z = np.column_stack([np.zeros(len(y)), Z[:, 0]])
    ce = -log_softmax(Z, axis=1)[np.arange(len(y)), codes]
    s = np.ones(len(y)) if sample_weight is None else sample_weight
    c = np.ones(len(classes)) if class_weight is None else np.asarray(class_weight)
    return (s * c[codes] * ce).sum() / s.sum() + 0.5 * alpha * float((model.coef_**2).sum())


def _reference(X, y, alpha, sample_weight=None):
    s_sum = len(y) if sample_weight is None else sample_weight.sum()
    dense = X.toarray() if sp.issparse(X) else X
    return LogisticRegression(
        C=1 / (alpha * s_sum), solver="newton-cholesky", tol=1e-12, max_iter=1000
    ).fit(dense, y, sample_weight=sample_weight)


def _fit_quietly(model, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return model.fit(X, y, **fit_params)


def _categorical_frame(n, levels, seed=0):
    """Two numeric and ``len(levels)`` categorical columns, and a 4-class target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x0": rng.normal(3, 2, n), "x1": rng.exponential(5, n)})
    logits = np.outer(frame["x0"] - 3, [0.5, -0.3, 0.1, 0.0])
    for j, m in enumerate(levels):
        codes = rng.integers(0, m, n)
        frame[f"c{j}"] = [f"l{v}" for v in codes]
        logits += rng.normal(0, 1, (m, 4))[codes]
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    return frame, y


@pytest.mark.parametrize("alpha", [1e-3, 1e-6])
def test_one_hot_pipeline_fits_at_the_defaults_in_the_full_metric(alpha):
    # ColumnTransformer with sparse output: few columns, the full (class-coupled)
    # metric summed from the stored entries.
    frame, y = _categorical_frame(3000, [7, 8])
    encode = ColumnTransformer(
        [("num", StandardScaler(), ["x0", "x1"]), ("cat", OneHotEncoder(), ["c0", "c1"])],
        sparse_threshold=1.0,
    )
    X = encode.fit_transform(frame)
    assert sp.issparse(X) and X.shape[1] == 17
    model = _fit_quietly(make_pipeline(encode, SoftmaxCE(alpha=alpha)), frame, y)[-1]
    assert model.solver_ == "bb" and model.status_ == "converged"
    j_ref = _objective(_reference(X, y, alpha), X, y, alpha)
    assert (_objective(model, X, y, alpha) - j_ref) / j_ref <= 1e-10
    # The same matrix made dense: the same optimum.
    dense = _fit_quietly(SoftmaxCE(alpha=alpha), X.toarray(), y)
    np.testing.assert_allclose(model.coef_, dense.coef_, atol=1e-5)


@pytest.mark.parametrize("beta", [1.0, 16.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_wide_one_hot_data_reach_the_optimum_with_truncated_newton(beta, fit_intercept):
    # 400 + 60 levels: too wide for the full metric. At alpha 1e-6 the diagonal
    # metric's first-order methods need thousands of iterations here.
    frame, y4 = _categorical_frame(4000, [400, 60], seed=1)
    X = OneHotEncoder().fit_transform(frame[["c0", "c1"]]).tocsr()
    y = (y4 >= 2).astype(int)
    alpha = 1e-6
    params = dict(alpha=alpha, beta=beta, fit_intercept=fit_intercept)
    assert _fit_quietly(WeightedLogisticCE(**params), X, y).solver_ == "newton"
    # Nearly unpenalised: J is so flat that tol=1e-7 leaves a gap of about 1e-9.
    model = _fit_quietly(WeightedLogisticCE(**params, tol=1e-10), X, y)
    assert model.n_iter_ <= 30
    ref = LogisticRegression(
        C=1 / (alpha * len(y)),
        class_weight={0: 1, 1: beta},
        fit_intercept=fit_intercept,
        solver="newton-cholesky",
        tol=1e-12,
        max_iter=1000,
    ).fit(X.toarray(), y)
    c = [1.0, beta]
    j_ref = _objective(ref, X, y, alpha, class_weight=c)
    assert (_objective(model, X, y, alpha, class_weight=c) - j_ref) / j_ref <= 1e-10


def test_wide_sparse_softmax_reaches_the_optimum_with_truncated_newton():
    frame, y = _categorical_frame(2000, [200, 30], seed=2)
    X = OneHotEncoder().fit_transform(frame[["c0", "c1"]]).tocsr()
    alpha = 1e-5
    assert _fit_quietly(SoftmaxCE(alpha=alpha), X, y).solver_ == "newton"
    model = _fit_quietly(SoftmaxCE(alpha=alpha, tol=1e-10), X, y)
    assert model.n_iter_ <= 30
    # The class sum of the intercepts, which the objective leaves free, stays at its
    # start (0): the conjugate gradients treat the classes alike.
    assert abs(model.intercept_.sum()) <= 1e-8 * np.abs(model.intercept_).max()
    j_ref = _objective(_reference(X, y, alpha), X, y, alpha)
    assert (_objective(model, X, y, alpha) - j_ref) / j_ref <= 1e-10


@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_raw_breast_cancer_as_csr_with_extreme_sample_weights_converges(estimator):
    # From the robustness sweep: raw columns, weights spread over 12 decades.
    X, y = load_breast_cancer(return_X_y=True)
    w = 10.0 ** np.random.default_rng(0).uniform(-6, 6, len(y))
    alpha = 1e-4
    model = _fit_quietly(estimator(alpha=alpha), sp.csr_matrix(X), y, sample_weight=w)
    j_ref = _objective(_reference(X, y, alpha, w), X, y, alpha, w)
    assert (_objective(model, X, y, alpha, w) - j_ref) / j_ref <= 1e-9


def test_standardised_classification_with_redundant_columns_as_csr_converges():
    X, y = make_classification(
        3000, 15, n_informative=2, n_redundant=2, n_classes=4, n_clusters_per_class=1,
        random_state=0,
    )  # fmt: skip
    X = sp.csr_matrix(StandardScaler().fit_transform(X))
    alpha = 1e-4
    model = _fit_quietly(SoftmaxCE(alpha=alpha), X, y)
    j_ref = _objective(_reference(X, y, alpha), X, y, alpha)
    assert (_objective(model, X, y, alpha) - j_ref) / j_ref <= 1e-10
