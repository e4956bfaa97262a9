"""Property-based tests (hypothesis) of the estimators and the metrics.

Over random shapes, feature scales, sample weights and labels: no NaN, no
exception except the documented ValueErrors, probabilities in [0, 1] summing to
1, and a non-increasing objective for the monotone solvers ("gd" with the step
1/L, by the descent lemma, and "lbfgs", whose Armijo search only accepts steps
that do not increase the objective beyond its rounding noise). The scorer on
folds with and without unseen labels, and the information functions against
SciPy, Gibbs' inequality and the decomposition.

Each test tries 30 examples; ``SKCE_HYPOTHESIS_EXAMPLES=N`` asks for more (a
longer search before a release).
"""

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import entropy as scipy_entropy
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss

from skce import SoftmaxCE, WeightedLogisticCE
from skce.information import cross_entropy, cross_entropy_decomposition, entropy, kl_divergence
from skce.metrics import cross_entropy_loss, cross_entropy_score, make_cross_entropy_scorer

SETTINGS = settings(
    max_examples=int(os.environ.get("SKCE_HYPOTHESIS_EXAMPLES", 30)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


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


class _FixedProbabilities:
    """A fitted 'classifier' whose predict_proba returns the rows it was given."""

    def __init__(self, classes, proba):
        self.classes_ = np.asarray(classes)
        self._proba = proba

    def predict_proba(self, X):
        return self._proba[np.asarray(X, dtype=int)[:, 0]]


@SETTINGS
@given(
    st.integers(1, 30),
    st.integers(2, 5),
    st.integers(0, 2**31 - 1),
    st.sampled_from([None, "wide", "zeros"]),
    st.booleans(),
)
def test_scorer_properties(n, k, seed, weights, class_weighted):
    """Any fold, with or without labels the model never saw: finite, exact, <= 0."""
    rng = np.random.RandomState(seed)
    seen = np.sort(rng.choice(np.arange(k + 2), size=k, replace=False))
    logits = rng.randn(n, k) * rng.choice([0.1, 10, 100])
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    y = rng.randint(0, k + 2, n)  # may include labels outside `seen`
    sw = None
    if weights == "wide":
        sw = 10.0 ** rng.uniform(-8, 8, n)
    elif weights == "zeros":
        sw = np.where(rng.rand(n) < 0.5, 0.0, rng.uniform(0.1, 2, n))
        sw[0] = 1.0
    cw = None
    if class_weighted:
        cw = {int(label): float(rng.uniform(0, 3)) for label in range(k + 2)}
    model = _FixedProbabilities(seen, proba)
    X = np.arange(n)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = make_cross_entropy_scorer(class_weight=cw)(model, X, y, sample_weight=sw)
    assert np.isfinite(score) and score <= 0
    # Written out: the probability of each true label, 0 for labels never seen.
    eps = np.finfo(np.float64).eps
    column = {label: j for j, label in enumerate(seen.tolist())}
    q = np.array([proba[i, column[t]] if t in column else 0.0 for i, t in enumerate(y)])
    w = np.ones(n) if sw is None else sw
    c = np.ones(n) if cw is None else np.array([cw[t] for t in y])
    expected = -((w * c) @ -np.log(np.clip(q, eps, 1 - eps))) / w.sum()
    np.testing.assert_allclose(score, expected, rtol=1e-10, atol=1e-300)
    if cw is None and set(y) <= set(seen.tolist()):
        assert score == cross_entropy_score(model, X, y, sample_weight=sw)
        np.testing.assert_allclose(
            -score, log_loss(y, proba, labels=seen, sample_weight=sw), rtol=1e-6
        )


@st.composite
def distributions(draw):
    """Pairs (P, Q) of distributions over k outcomes, with zeros in P."""
    k = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.RandomState(seed)
    p = rng.dirichlet(np.full(k, draw(st.sampled_from([0.05, 1.0, 20.0]))))
    p[rng.rand(k) < draw(st.sampled_from([0.0, 0.3]))] = 0.0
    if p.sum() == 0:
        p[0] = 1.0
    p /= p.sum()
    q = rng.dirichlet(np.ones(k)) * 0.5 + p * 0.5 if k > 1 else np.ones(1)
    q /= q.sum()
    return p, q


@SETTINGS
@given(distributions(), st.sampled_from([None, 2, 10, 0.5]))
def test_information_properties(pq, base):
    """Against SciPy; Gibbs' inequality; H(P, Q) = H(P) + D_KL(P || Q)."""
    p, q = pq
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = entropy(p, base=base)
        hpq = cross_entropy(p, q, base=base)
        kl = kl_divergence(p, q, base=base)
        parts = cross_entropy_decomposition(p, q, base=base)
        kl_self = kl_divergence(p, p, base=base)
    assert all(np.isfinite([h, hpq, kl]))
    np.testing.assert_allclose(h, scipy_entropy(p, base=base), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(kl, scipy_entropy(p, q, base=base), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(hpq, h + kl, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        (parts.cross_entropy, parts.entropy, parts.kl_divergence),
        (hpq, h, kl),
        rtol=1e-12,
        atol=1e-14,
    )
    # Gibbs: D_KL >= 0 (with base > 1; base < 1 flips every sign), 0 at Q = P.
    sign = 1.0 if base is None or base > 1 else -1.0
    assert sign * kl >= 0 and sign * h >= 0
    assert kl_self == 0
    assert sign * h <= sign * np.log(p.shape[0]) / np.log(base or np.e) + 1e-12


@SETTINGS
@given(
    problems(),
    st.sampled_from(
        ["nan_X", "inf_X", "nan_weight", "negative_weight", "short_weight", "one_class"]
    ),
    st.sampled_from([WeightedLogisticCE, SoftmaxCE]),
)
def test_corrupted_input_raises_one_value_error(problem, corruption, estimator):
    """Whatever the data, a corrupted input gives a ValueError that names the problem."""
    X, y, sw = problem
    X = X.copy()
    y = np.minimum(y, 1) if estimator is WeightedLogisticCE else y
    sw = np.ones(len(y)) if sw is None else sw.copy()
    i = len(y) // 2
    if corruption == "nan_X":
        X[i, 0] = np.nan
    elif corruption == "inf_X":
        X[i, -1] = -np.inf
    elif corruption == "nan_weight":
        sw[i] = np.nan
    elif corruption == "negative_weight":
        sw[i] = -1.0
    elif corruption == "short_weight":
        sw = sw[:-1]
    else:
        y = np.zeros_like(y)
    pattern = {
        "nan_X": "NaN",
        "inf_X": "infinity",
        "nan_weight": "NaN",
        "negative_weight": "[Nn]egative",
        "short_weight": "shape|length|samples",
        "one_class": "one class",
    }[corruption]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=pattern):
            estimator().fit(X, y, sample_weight=sw)
