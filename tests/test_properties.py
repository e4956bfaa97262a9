"""Property-based tests (hypothesis) of the estimators and the metrics.

Over random shapes, feature scales, sample weights and labels: no NaN, no
exception except the documented ValueErrors, probabilities in [0, 1] summing to
1, and a non-increasing objective for the monotone solvers ("gd" with the step
1/L, by the descent lemma, and "lbfgs", whose Armijo search only accepts steps
that do not increase the objective beyond its rounding noise).
"""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss

from skce import SoftmaxCE, WeightedLogisticCE
from skce.metrics import cross_entropy_loss

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw, max_classes=4):
    n = draw(st.integers(2, 40))
    d = draw(st.integers(1, 8))
    k = draw(st.integers(2, max_classes))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.RandomState(seed)
    scales = 10.0 ** rng.uniform(-draw(st.integers(0, 4)), draw(st.integers(0, 4)), d)
    X = rng.randn(n, d) * scales + rng.randn(d) * scales * draw(st.sampled_from([0, 1, 10]))
    y = rng.randint(0, k, n)
    y[:2] = [0, 1]  # at least two classes
    weights = draw(st.sampled_from(["none", "uniform", "wide", "zeros"]))
    sw = {
        "none": None,
        "uniform": rng.uniform(0.1, 2, n),
        "wide": 10.0 ** rng.uniform(-6, 6, n),
        "zeros": np.where(rng.rand(n) < 0.3, 0.0, 1.0),
    }[weights]
    if sw is not None:
        sw[:2] = 1.0
    return X, y, sw


def _fit(model, X, y, sw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, sample_weight=sw)


def _check_probabilities(model, X):
    proba = model.predict_proba(X)
    assert np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    log_proba = model.predict_log_proba(X)
    assert np.all(log_proba <= 0) and not np.any(np.isnan(log_proba))
    assert set(model.predict(X)) <= set(model.classes_)


def _assert_monotone(curve):
    curve = np.asarray(curve)
    assert np.all(np.isfinite(curve))
    # Allowance: the Armijo test accepts rises within 16 eps |f| of rounding noise.
    slack = 64 * np.finfo(np.float64).eps * np.abs(curve[:-1])
    assert np.all(np.diff(curve) <= slack), np.diff(curve).max()


@SETTINGS
@given(
    problems(max_classes=2),
    st.sampled_from([1e-3, 1.0, 1e3]),
    st.sampled_from([0.0, 1e-3, 1.0]),
    st.sampled_from(["gd", "lbfgs", "bb", "agd"]),
)
def test_weighted_logistic_properties(problem, beta, alpha, solver):
    X, y, sw = problem
    model = _fit(WeightedLogisticCE(beta=beta, alpha=alpha, solver=solver, max_iter=200), X, y, sw)
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    _check_probabilities(model, X)
    assert model.loss_curve_[-1] <= model.loss_curve_[0] * (1 + 1e-12)
    if solver in ("gd", "lbfgs"):
        _assert_monotone(model.loss_curve_)


@SETTINGS
@given(
    problems(),
    st.sampled_from([0.0, 1e-3, 1.0]),
    st.sampled_from(["gd", "lbfgs", "bb", "agd"]),
    st.sampled_from([None, "balanced"]),
    st.sampled_from([0.0, 0.1]),
)
def test_softmax_properties(problem, alpha, solver, class_weight, smoothing):
    X, y, sw = problem
    model = SoftmaxCE(
        alpha=alpha,
        solver=solver,
        class_weight=class_weight,
        label_smoothing=smoothing,
        max_iter=200,
    )
    _fit(model, X, y, sw)
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    _check_probabilities(model, X)
    if solver in ("gd", "lbfgs"):
        _assert_monotone(model.loss_curve_)


@SETTINGS
@given(
    st.integers(1, 30),
    st.integers(2, 5),
    st.integers(0, 2**31 - 1),
    st.sampled_from([None, "wide", "zeros"]),
)
def test_cross_entropy_loss_properties(n, k, seed, weights):
    rng = np.random.RandomState(seed)
    logits = rng.randn(n, k) * rng.choice([0.1, 10, 100])
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    y = rng.randint(0, k, n)
    labels = np.arange(k)
    sw = None
    if weights == "wide":
        sw = 10.0 ** rng.uniform(-8, 8, n)
    elif weights == "zeros":
        sw = np.where(rng.rand(n) < 0.5, 0.0, rng.uniform(0.1, 2, n))
        sw[0] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = cross_entropy_loss(y, proba, labels=labels, sample_weight=sw)
    assert np.isfinite(loss) and loss >= 0
    eps = np.finfo(np.float64).eps
    q = np.clip(proba[np.arange(n), y], eps, 1 - eps)
    w = np.ones(n) if sw is None else sw
    assert loss == np.float64(loss)
    np.testing.assert_allclose(loss, w @ -np.log(q) / w.sum(), rtol=1e-10)
    np.testing.assert_allclose(loss, log_loss(y, proba, labels=labels, sample_weight=sw), rtol=1e-6)
    cw = dict(zip(labels.tolist(), rng.uniform(0, 3, k).tolist(), strict=True))
    weighted = cross_entropy_loss(y, proba, labels=labels, sample_weight=sw, class_weight=cw)
    c = np.array([cw[label] for label in y])
    np.testing.assert_allclose(weighted, (w * c) @ -np.log(q) / w.sum(), rtol=1e-10, atol=1e-300)
