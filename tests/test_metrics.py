"""Tests of skce.metrics: the cross-entropy loss and its scorers.

References are independent of the code under test: scikit-learn's log_loss and
formulas written out with NumPy in the tests.
"""

import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.datasets import make_classification
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LinearRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skce import SoftmaxCE, WeightedLogisticCE
from skce._compat import SKLEARN_VERSION
from skce.metrics import cross_entropy_loss, cross_entropy_score, make_cross_entropy_scorer


# -- helpers -----------------------------------------------------------------------
def _random_problem(n=40, k=3, seed=0):
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(k), size=n)
    y = rng.integers(0, k, size=n)
    y[:k] = np.arange(k)  # every class present
    sw = rng.uniform(0.1, 3.0, size=n)
    return y, proba, sw


def _ref_weighted_ce(codes, proba, class_weights, sample_weight=None):
    """(1 / sum s) * sum s_i c_{y_i} (-ln q_{i, y_i}), written out directly."""
    eps = np.finfo(np.float64).eps
    n = len(codes)
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    q = np.clip(np.asarray(proba, dtype=float)[np.arange(n), codes], eps, 1 - eps)
    c = np.asarray(class_weights, dtype=float)[codes]
    return np.sum(s * c * -np.log(q)) / np.sum(s)


def _ref_beta_ce(y01, p, beta, sample_weight):
    """-[beta y ln p + (1 - y) ln(1 - p)], weighted mean by sample weights only."""
    eps = np.finfo(np.float64).eps
    p = np.clip(p, eps, 1 - eps)
    one_minus_p = np.clip(1 - np.asarray(p), eps, 1 - eps)
    ce = -(beta * y01 * np.log(p) + (1 - y01) * np.log(one_minus_p))
    return np.sum(sample_weight * ce) / np.sum(sample_weight)


def _binary_data(n=120, seed=0):
    X, y = make_classification(
        n_samples=n, n_features=5, n_informative=3, n_redundant=0, flip_y=0.1, random_state=seed
    )
    return StandardScaler().fit_transform(X), y


def _sorted_rare_binary():
    # 100 samples sorted by label, 12 positives at the end. Unshuffled KFold(10):
    # test folds 0-7 have no positive, fold 9's training part only 2 positives.
    X, y = make_classification(
        n_samples=100,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        weights=[0.88],
        flip_y=0,
        random_state=1,
    )
    order = np.argsort(y, kind="stable")
    X, y = StandardScaler().fit_transform(X[order]), y[order]
    assert np.bincount(y).tolist() == [88, 12]
    return X, y


def _sorted_rare_multiclass():
    # 45 / 45 / 10 samples sorted by label. Unshuffled KFold(5): the last test
    # fold holds every sample of class 2 (its training part lacks class 2) and
    # test folds 0-1 hold class 0 only.
    X, y = make_classification(
        n_samples=100,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        weights=[0.45, 0.45, 0.10],
        flip_y=0,
        random_state=3,
    )
    order = np.argsort(y, kind="stable")
    X, y = StandardScaler().fit_transform(X[order]), y[order]
    assert np.bincount(y).tolist() == [45, 45, 10]
    return X, y


# -- equality with sklearn.metrics.log_loss --------------------------------------------
def test_binary_matches_log_loss_2d_and_1d():
    y, proba, _ = _random_problem(n=50, k=2, seed=1)
    expected = log_loss(y, proba)
    assert cross_entropy_loss(y, proba) == pytest.approx(expected, rel=1e-12)
    assert cross_entropy_loss(y, proba[:, 1]) == pytest.approx(expected, rel=1e-12)
    assert cross_entropy_loss(y, proba[:, 1]) == pytest.approx(log_loss(y, proba[:, 1]), rel=1e-12)


def test_multiclass_matches_log_loss():
    y, proba, _ = _random_problem(n=60, k=4, seed=2)
    assert cross_entropy_loss(y, proba) == pytest.approx(log_loss(y, proba), rel=1e-12)


def test_float_labels_match_log_loss():
    """Finite float labels are labels like any other (only NaN/inf are refused)."""
    y = np.array([0.0, 1.5, 1.5, 0.0, 1.5])
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.9, 0.1], [0.5, 0.5]])
    expected = log_loss((y > 0).astype(int), proba)
    assert cross_entropy_loss(y, proba) == pytest.approx(expected, rel=1e-12)


def test_string_labels_match_log_loss():
    y, proba, _ = _random_problem(n=30, k=3, seed=3)
    names = np.array(["cat", "dog", "emu"])[y]
    assert cross_entropy_loss(names, proba) == pytest.approx(log_loss(names, proba), rel=1e-12)
    y2, proba2, _ = _random_problem(n=30, k=2, seed=4)
    names2 = pd.Series(np.array(["ham", "spam"], dtype=object)[y2])
    assert cross_entropy_loss(names2, proba2[:, 1]) == pytest.approx(
        log_loss(names2, proba2[:, 1]), rel=1e-12
    )
    assert cross_entropy_loss(names2, pd.DataFrame(proba2)) == pytest.approx(
        log_loss(names2, proba2), rel=1e-12
    )


@pytest.mark.parametrize("k", [2, 3])
def test_sample_weights_match_log_loss(k):
    y, proba, sw = _random_problem(n=45, k=k, seed=5)
    assert cross_entropy_loss(y, proba, sample_weight=sw) == pytest.approx(
        log_loss(y, proba, sample_weight=sw), rel=1e-12
    )


def test_labels_with_class_absent_from_y_true_matches_log_loss():
    rng = np.random.default_rng(6)
    proba = rng.dirichlet(np.ones(4), size=20)
    y = rng.choice([0, 1, 3], size=20)  # label 2 absent
    sw = rng.uniform(0.5, 2, size=20)
    expected = log_loss(y, proba, labels=[0, 1, 2, 3], sample_weight=sw)
    got = cross_entropy_loss(y, proba, labels=[0, 1, 2, 3], sample_weight=sw)
    assert got == pytest.approx(expected, rel=1e-12)
    # binary with a single class in y_true
    p = rng.uniform(0.05, 0.95, size=10)
    assert cross_entropy_loss(np.zeros(10, int), p, labels=[0, 1]) == pytest.approx(
        log_loss(np.zeros(10, int), p, labels=[0, 1]), rel=1e-12
    )


def test_float32_probabilities_match_log_loss():
    y, proba, sw = _random_problem(n=40, k=3, seed=7)
    proba32 = proba.astype(np.float32)
    assert cross_entropy_loss(y, proba32, sample_weight=sw) == pytest.approx(
        log_loss(y, proba32, sample_weight=sw), rel=1e-5
    )


def test_labels_order_given_is_the_column_order():
    y, proba, _ = _random_problem(n=30, k=3, seed=8)
    expected = log_loss(y, proba)
    permutation = [2, 0, 1]
    got = cross_entropy_loss(y, proba[:, permutation], labels=permutation)
    assert got == pytest.approx(expected, rel=1e-12)
    # binary 1-D: the probability is that of labels[-1]
    y2 = np.array([0, 1, 1, 0, 1])
    p1 = np.array([0.2, 0.7, 0.9, 0.4, 0.6])
    assert cross_entropy_loss(y2, 1 - p1, labels=[1, 0]) == pytest.approx(
        log_loss(y2, p1), rel=1e-12
    )


# -- evaluation weights -------------------------------------------------------------
@pytest.mark.parametrize("beta", [0.25, 1.0, 4.5])
def test_beta_matches_direct_formula(beta):
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, size=50)
    p = rng.uniform(0.01, 0.99, size=50)
    sw = rng.uniform(0.0, 2.0, size=50)
    expected = _ref_beta_ce(y, p, beta, sw)
    assert cross_entropy_loss(y, p, beta=beta, sample_weight=sw) == pytest.approx(expected)
    proba = np.column_stack([1 - p, p])
    assert cross_entropy_loss(y, proba, beta=beta, sample_weight=sw) == pytest.approx(expected)
    # positive label = the largest label, also for strings
    names = np.array(["no", "yes"])[y]
    assert cross_entropy_loss(names, p, beta=beta, sample_weight=sw) == pytest.approx(expected)
    # without sample weights the denominator is n, never involving beta
    assert cross_entropy_loss(y, p, beta=beta) == pytest.approx(
        _ref_beta_ce(y, p, beta, np.ones(50))
    )


def test_beta_one_is_unweighted_and_beta_is_binary_class_weight():
    y, proba, sw = _random_problem(n=40, k=2, seed=10)
    plain = cross_entropy_loss(y, proba, sample_weight=sw)
    assert cross_entropy_loss(y, proba, beta=1.0, sample_weight=sw) == plain
    assert cross_entropy_loss(y, proba, class_weight={0: 1, 1: 1}, sample_weight=sw) == (
        pytest.approx(plain, rel=1e-14)
    )
    assert cross_entropy_loss(y, proba, beta=3.0, sample_weight=sw) == pytest.approx(
        cross_entropy_loss(y, proba, class_weight={1: 3.0}, sample_weight=sw), rel=1e-14
    )
    assert cross_entropy_loss(y, proba, beta=3.0) > cross_entropy_loss(y, proba)


def test_class_weight_matches_direct_formula():
    y, proba, sw = _random_problem(n=60, k=3, seed=11)
    names = np.array(["a", "b", "c"])[y]
    class_weight = {"a": 0.5, "c": 4.0}  # "b" keeps weight 1
    expected = _ref_weighted_ce(y, proba, [0.5, 1.0, 4.0], sw)
    got = cross_entropy_loss(names, proba, class_weight=class_weight, sample_weight=sw)
    assert got == pytest.approx(expected, rel=1e-12)
    expected_unweighted_samples = _ref_weighted_ce(y, proba, [0.5, 1.0, 4.0])
    assert cross_entropy_loss(names, proba, class_weight=class_weight) == pytest.approx(
        expected_unweighted_samples, rel=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    n=st.integers(2, 25),
    k=st.integers(2, 4),
    scale=st.floats(1e-6, 1e6),
)
def test_loss_is_invariant_to_scaling_sample_weights(data, n, k, scale):
    raw = data.draw(hnp.arrays(np.float64, (n, k), elements=st.floats(0.0, 1.0)))
    proba = (raw + 1e-3) / (raw + 1e-3).sum(axis=1, keepdims=True)
    y = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
    sw = data.draw(
        hnp.arrays(np.float64, n, elements=st.one_of(st.just(0.0), st.floats(1e-3, 10.0)))
    )
    sw[0] = max(sw[0], 1e-3)  # not all zero
    cw = data.draw(hnp.arrays(np.float64, k, elements=st.floats(0.0, 5.0)))
    labels = np.arange(k)
    class_weight = dict(enumerate(cw.tolist()))

    base = cross_entropy_loss(y, proba, labels=labels, sample_weight=sw)
    assert base == pytest.approx(log_loss(y, proba, labels=labels, sample_weight=sw), rel=1e-9)
    scaled = cross_entropy_loss(y, proba, labels=labels, sample_weight=sw * scale)
    assert scaled == pytest.approx(base, rel=1e-9)

    weighted = cross_entropy_loss(
        y, proba, labels=labels, class_weight=class_weight, sample_weight=sw
    )
    assert weighted == pytest.approx(_ref_weighted_ce(y, proba, cw, sw), rel=1e-9, abs=1e-300)
    weighted_scaled = cross_entropy_loss(
        y, proba, labels=labels, class_weight=class_weight, sample_weight=sw * scale
    )
    assert weighted_scaled == pytest.approx(weighted, rel=1e-9, abs=1e-300)


# -- clipping ----------------------------------------------------------------------
def test_exact_zero_and_one_probabilities_are_clipped_without_warnings():
    y = np.array([0, 1, 2, 1])
    proba = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = cross_entropy_loss(y, proba)
        weighted = cross_entropy_loss(y, proba, class_weight={1: 2.0}, sample_weight=[1, 2, 0, 1])
        binary = cross_entropy_loss([0, 1, 1, 0], [0.0, 0.0, 1.0, 1.0], beta=2.0)
        binary32 = cross_entropy_loss([0, 1], np.array([1.0, 0.0], dtype=np.float32))
    eps = np.finfo(np.float64).eps
    for v in (value, weighted, binary, binary32):
        assert np.isfinite(v)
    assert value == pytest.approx(-np.log(eps) / 4 + 3 * -np.log1p(-eps) / 4, rel=1e-12)
    assert value == pytest.approx(log_loss(y, proba), rel=1e-12)
    assert binary == pytest.approx(
        (-np.log(eps) * 2 + -2 * np.log1p(-eps) - np.log(eps)) / 4, rel=1e-12
    )
    assert binary32 == pytest.approx(-np.log(np.finfo(np.float32).eps), rel=1e-6)


# -- errors ------------------------------------------------------------------------
_Y = np.array([0, 1, 1, 0])
_P = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.9, 0.1]])


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((_Y, _P + 0.5), {}, r"probabilities in \[0, 1\]"),
        ((_Y, _P - 0.5), {}, r"probabilities in \[0, 1\]"),
        ((_Y, np.array([0.2, np.inf, 0.6, 0.1])), {}, r"probabilities in \[0, 1\]"),
        ((_Y, np.where(_P == 0.2, np.nan, _P)), {}, r"^y_prob contains NaN\.$"),
        (
            (_Y, _P * 0.9),
            {},
            r"^The rows of y_prob must sum to 1 \(tolerance 1\.0e-06\); 4 row\(s\) do not, "
            r"e\.g\. row 0 sums to 0\.9000000000000001\.$",
        ),
        ((_Y, np.array([[0.5, 0.5 + 2e-6]] * 4)), {}, "sum to 1"),
        (
            (_Y[:3], _P),
            {},
            "^y_prob has 4 rows but y_true has 3 samples; they must have the same length",
        ),
        ((_Y, _P), {"sample_weight": [1.0, 2.0]}, "sample_weight must have shape"),
        (
            (_Y, np.full((4, 3), 1 / 3)),
            {},
            r"^y_prob has 3 columns but there are 2 labels \[0, 1\]; there must be one column "
            r"per label \(pass labels= if y_true does not contain every class\)\.$",
        ),
        ((_Y, _P[:, :1]), {}, "1 columns but there are 2 labels"),
        (
            ([0, 1, 2, 0], _P[:, 1]),
            {},
            r"^A 1-D y_prob is the probability of the positive class and needs exactly 2 "
            r"labels, but there are 3: \[0, 1, 2\]\. Pass an array of shape "
            r"\(n_samples, n_labels\)\.$",
        ),
        (([0, 1, 2, 0], _P), {"labels": [0, 1]}, r"not in labels: \[2\]"),
        ((["a", "b", "b", "a"], _P), {"labels": [0, 1]}, "not in labels"),
        (
            ([1, 1, 1, 1], _P),
            {},
            r"^y_true contains only one label \(1\)\. Pass all the class labels through the "
            r"labels argument, e\.g\. labels=model\.classes_\.$",
        ),
        (
            ([1, 1, 1, 1], _P[:, :1]),
            {"labels": [1]},
            r"^labels must contain at least two labels, got \[1\]; cross-entropy needs two or "
            r"more classes\.$",
        ),
        (
            (_Y, _P),
            {"labels": np.array([0, "a"], dtype=object)},
            "^The labels in labels cannot be compared",
        ),
        ((_Y, _P), {"labels": [0, 1, 1]}, "duplicates"),
        ((_Y, _P), {"labels": [[0, 1]]}, "labels must be a 1-D"),
        (
            (_Y, _P),
            {"sample_weight": [1.0, -1.0, 1.0, 1.0]},
            r"^sample_weight must be non-negative; it has negative values\.$",
        ),
        (
            (_Y, _P),
            {"sample_weight": [1.0, np.nan, 1.0, 1.0]},
            r"^sample_weight contains NaN or infinite values\.$",
        ),
        ((_Y, _P), {"sample_weight": [1.0, np.inf, 1.0, 1.0]}, "NaN or infinite"),
        (
            (_Y, _P),
            {"sample_weight": [0.0, 0.0, 0.0, 0.0]},
            r"^sample_weight is zero for every sample; the loss is undefined\.$",
        ),
        ((_Y, _P), {"sample_weight": ["a", "b", "c", "d"]}, "must contain numbers"),
        ((_Y, _P), {"class_weight": {0: -1.0}}, r"class_weight\[0\] must be a finite"),
        ((_Y, _P), {"class_weight": {1: np.nan}}, "must be a finite number >= 0"),
        ((_Y, _P), {"class_weight": {1: np.inf}}, "must be a finite number >= 0"),
        ((_Y, _P), {"class_weight": {1: "2"}}, "must be a number"),
        (
            (_Y, _P),
            {"class_weight": [1.0, 2.0]},
            r"^class_weight must be a dict \{label: weight\} or None, got list: \[1\.0, 2\.0\]\.$",
        ),
        ((_Y, _P), {"class_weight": "balanced"}, "must be a dict"),
        ((_Y, _P), {"class_weight": {7: 2.0}}, r"not in labels: \[7\]"),
        ((_Y, _P), {"beta": 0.0}, "beta must be a finite number > 0"),
        ((_Y, _P), {"beta": -1.0}, "beta must be a finite number > 0"),
        ((_Y, _P), {"beta": np.nan}, "beta must be a finite number > 0"),
        ((_Y, _P), {"beta": np.inf}, "beta must be a finite number > 0"),
        ((_Y, _P), {"beta": "2"}, "beta must be a finite number > 0"),
        (
            (_Y, _P),
            {"beta": 2.0, "class_weight": {1: 2.0}},
            r"^beta and class_weight cannot be used together: beta is the binary special case "
            r"class_weight=\{negative_label: 1, positive_label: beta\}\.$",
        ),
        (([0, 1, 2, 0], np.full((4, 3), 1 / 3)), {"beta": 2.0}, "beta is for binary"),
        ((_Y.reshape(-1, 1), _P), {}, "y_true must be a 1-D"),
        (([], np.empty((0, 2))), {"labels": [0, 1]}, "^y_true is empty; at least one sample"),
        ((_Y, _P.reshape(4, 2, 1)), {}, "1-D .binary. or 2-D"),
        ((_Y, np.array([["a", "b"]] * 4)), {}, "array of numbers"),
        (([0.0, 1.0, np.nan, 0.0], _P), {}, r"^y_true contains NaN or infinite labels\.$"),
        (([0.0, 1.0, np.inf, 0.0], _P), {}, r"^y_true contains NaN or infinite labels\.$"),
        ((np.array([0, "a", 1, 0], dtype=object), _P), {}, "cannot be compared"),
    ],
)
def test_invalid_input_raises_value_error(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cross_entropy_loss(*args, **kwargs)


def test_float32_sum_tolerance_is_wider():
    y = np.array([0, 1])
    off = np.array([[0.5, 0.5 + 2e-5], [0.3, 0.7]])
    with pytest.raises(ValueError, match="sum to 1"):
        cross_entropy_loss(y, off)
    assert np.isfinite(cross_entropy_loss(y, off.astype(np.float32)))
    with pytest.raises(ValueError, match="sum to 1"):
        cross_entropy_loss(y, np.array([[0.5, 0.51], [0.3, 0.7]], dtype=np.float32))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"beta": 0}, "beta must be a finite number > 0"),
        ({"beta": np.nan}, "beta must be a finite number > 0"),
        ({"class_weight": {0: -2}}, "must be a finite number >= 0"),
        ({"class_weight": 3.0}, "must be a dict"),
        ({"beta": 2.0, "class_weight": {0: 1}}, "cannot be used together"),
    ],
)
def test_make_scorer_validates_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_cross_entropy_scorer(**kwargs)


def test_inputs_are_not_modified():
    y = np.array(["a", "b", "c", "a", "b"])
    proba = np.array(
        [[1.0, 0.0, 0.0], [0.2, 0.8, 0.0], [0.1, 0.1, 0.8], [0.0, 1.0, 0.0], [0.3, 0.3, 0.4]]
    )
    sw = np.array([1.0, 2.0, 0.0, 3.0, 1.0])
    labels = np.array(["a", "b", "c"])
    class_weight = {"a": 2.0, "c": 0.5}
    proba32 = proba.astype(np.float32)
    p1 = np.array([0.0, 1.0, 0.5, 0.25, 1.0])
    y01 = np.array([0, 1, 1, 0, 0])
    saved = [a.copy() for a in (y, proba, sw, labels, proba32, p1, y01)]
    cw_saved = dict(class_weight)

    cross_entropy_loss(y, proba, labels=labels, class_weight=class_weight, sample_weight=sw)
    cross_entropy_loss(y, proba32, sample_weight=sw)
    cross_entropy_loss(y01, p1, beta=2.0, sample_weight=sw)

    for before, after in zip(saved, (y, proba, sw, labels, proba32, p1, y01), strict=True):
        np.testing.assert_array_equal(before, after)
        assert before.dtype == after.dtype
    assert class_weight == cw_saved


# -- the scorer on fitted models ---------------------------------------------------
def test_scorer_equals_negative_log_loss_on_fitted_models():
    X, y = _binary_data()
    sw = np.random.default_rng(0).uniform(0.2, 2.0, size=y.shape[0])
    model = WeightedLogisticCE(alpha=1e-2).fit(X, y)
    proba = model.predict_proba(X)
    assert cross_entropy_score(model, X, y) == pytest.approx(-log_loss(y, proba), rel=1e-12)
    assert cross_entropy_score(model, X, y, sample_weight=sw) == pytest.approx(
        -log_loss(y, proba, sample_weight=sw), rel=1e-12
    )
    X3, y3 = _sorted_rare_multiclass()
    names = np.array(["low", "mid", "top"])[y3]
    pipe = make_pipeline(StandardScaler(), SoftmaxCE(alpha=1e-2)).fit(X3, names)
    assert cross_entropy_score(pipe, X3, names) == pytest.approx(
        -log_loss(names, pipe.predict_proba(X3)), rel=1e-12
    )


def test_weighted_scorers_match_direct_formulas():
    X, y = _binary_data()
    model = WeightedLogisticCE(beta=3.0, alpha=1e-2).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    sw = np.linspace(0.5, 1.5, y.shape[0])
    scorer = make_cross_entropy_scorer(beta=3.0)
    assert scorer(model, X, y, sample_weight=sw) == pytest.approx(-_ref_beta_ce(y, p, 3.0, sw))

    X3, y3 = _sorted_rare_multiclass()
    model3 = SoftmaxCE(alpha=1e-2).fit(X3, y3)
    scorer3 = make_cross_entropy_scorer(class_weight={0: 0.5, 2: 5.0})
    expected = _ref_weighted_ce(y3, model3.predict_proba(X3), [0.5, 1.0, 5.0])
    assert scorer3(model3, X3, y3) == pytest.approx(-expected, rel=1e-12)


def test_scorer_handles_label_unseen_in_training_and_class_missing_in_test():
    X, y = _sorted_rare_multiclass()
    two_class = SoftmaxCE(alpha=1e-2).fit(X[y < 2], y[y < 2])
    assert two_class.classes_.tolist() == [0, 1]
    # the test labels include 2, which the model never saw: probability 0
    padded = np.column_stack([two_class.predict_proba(X), np.zeros(len(y))])
    expected = log_loss(y, padded, labels=[0, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = cross_entropy_score(two_class, X, y)
    assert np.isfinite(score)
    assert score == pytest.approx(-expected, rel=1e-12)
    assert -score > -np.log(np.finfo(np.float64).eps) * 0.1 * 0.9  # rare class dominates
    # an unseen label that sorts before the model's classes: columns 1, 2 hold predict_proba
    upper = SoftmaxCE(alpha=1e-2).fit(X[y > 0], y[y > 0])
    padded = np.column_stack([np.zeros(len(y)), upper.predict_proba(X)])
    expected = log_loss(y, padded, labels=[0, 1, 2])
    assert cross_entropy_score(upper, X, y) == pytest.approx(-expected, rel=1e-12)
    # test labels lacking classes of the model: columns follow classes_
    three_class = SoftmaxCE(alpha=1e-2).fit(X, y)
    mask = y == 0
    expected = log_loss(y[mask], three_class.predict_proba(X[mask]), labels=[0, 1, 2])
    assert cross_entropy_score(three_class, X[mask], y[mask]) == pytest.approx(-expected, rel=1e-12)
    # class weights of classes absent from the evaluated data are ignored
    scorer = make_cross_entropy_scorer(class_weight={2: 7.0, 9: 3.0})
    assert scorer(three_class, X[mask], y[mask]) == pytest.approx(-expected, rel=1e-12)


def test_cross_val_score_finite_with_rare_binary_class():
    X, y = _sorted_rare_binary()
    scores = cross_val_score(
        WeightedLogisticCE(alpha=1e-2),
        X,
        y,
        cv=KFold(10),
        scoring=cross_entropy_score,
        error_score="raise",
    )
    assert scores.shape == (10,)
    assert np.all(np.isfinite(scores))
    # the last fold, whose training part holds only 2 positives, checked by hand
    train, test = list(KFold(10).split(X))[-1]
    model = WeightedLogisticCE(alpha=1e-2).fit(X[train], y[train])
    expected = log_loss(y[test], model.predict_proba(X[test]), labels=[0, 1])
    assert scores[-1] == pytest.approx(-expected, rel=1e-12)


def test_cross_val_score_finite_with_rare_multiclass_class():
    X, y = _sorted_rare_multiclass()
    cv = KFold(5)
    scores = cross_val_score(
        SoftmaxCE(alpha=1e-2), X, y, cv=cv, scoring=cross_entropy_score, error_score="raise"
    )
    assert np.all(np.isfinite(scores))
    # last fold: training lacks class 2, which fills the test part
    train, test = list(cv.split(X))[-1]
    assert 2 not in y[train]
    model = SoftmaxCE(alpha=1e-2).fit(X[train], y[train])
    padded = np.column_stack([model.predict_proba(X[test]), np.zeros(len(test))])
    assert scores[-1] == pytest.approx(-log_loss(y[test], padded, labels=[0, 1, 2]), rel=1e-12)
    # first fold: the test part holds class 0 only
    train, test = next(iter(cv.split(X)))
    assert set(y[test]) == {0}
    model = SoftmaxCE(alpha=1e-2).fit(X[train], y[train])
    expected = log_loss(y[test], model.predict_proba(X[test]), labels=[0, 1, 2])
    assert scores[0] == pytest.approx(-expected, rel=1e-12)


# -- model selection ---------------------------------------------------------------
def _beta_pipeline():
    return Pipeline([("scale", StandardScaler()), ("clf", WeightedLogisticCE(alpha=1e-2))])


def test_grid_search_over_beta():
    X, y = _binary_data(n=150, seed=2)
    grid = {"clf__beta": [0.5, 1.0, 2.0]}
    cv = KFold(3)
    search = GridSearchCV(_beta_pipeline(), grid, scoring=cross_entropy_score, cv=cv).fit(X, y)
    assert search.best_params_["clf__beta"] in grid["clf__beta"]
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert search.best_score_ == pytest.approx(scores.max())
    train, test = next(iter(cv.split(X)))
    manual = _beta_pipeline().set_params(clf__beta=2.0).fit(X[train], y[train])
    assert search.cv_results_["split0_test_score"][2] == pytest.approx(
        -log_loss(y[test], manual.predict_proba(X[test]))
    )


def test_grid_search_multi_metric_refit_on_cross_entropy():
    X, y = _binary_data(n=150, seed=2)
    grid = {"clf__beta": [0.5, 1.0, 2.0]}
    search = GridSearchCV(
        _beta_pipeline(),
        grid,
        scoring={"ce": cross_entropy_score, "recall": "recall"},
        refit="ce",
        cv=KFold(3),
    ).fit(X, y)
    assert search.best_params_["clf__beta"] in grid["clf__beta"]
    results = search.cv_results_
    assert np.all(np.isfinite(results["mean_test_ce"]))
    assert np.all(np.isfinite(results["mean_test_recall"]))
    assert search.best_index_ == int(np.argmax(results["mean_test_ce"]))
    # beta > 1 favours the positive class: recall does not decrease with beta
    assert results["mean_test_recall"][2] >= results["mean_test_recall"][0]


# -- metadata routing ----------------------------------------------------------------
def _fold_references(X, y, sw, cv, make_model, loss):
    out = []
    for train, test in cv.split(X):
        model = make_model().fit(X[train], y[train])
        out.append(-loss(y[test], model.predict_proba(X[test]), sw[test]))
    return np.array(out)


def test_routed_sample_weights_reach_the_scorer():
    X, y = _binary_data(n=120, seed=4)
    sw = np.random.default_rng(4).uniform(0.0, 3.0, size=y.shape[0])
    cv = KFold(4)
    with sklearn.config_context(enable_metadata_routing=True):
        model = WeightedLogisticCE(alpha=1e-2).set_fit_request(sample_weight=False)
        scorer = make_cross_entropy_scorer().set_score_request(sample_weight=True)
        result = cross_validate(model, X, y, cv=cv, scoring=scorer, params={"sample_weight": sw})
        beta_scorer = make_cross_entropy_scorer(beta=2.5).set_score_request(sample_weight=True)
        beta_result = cross_validate(
            model, X, y, cv=cv, scoring=beta_scorer, params={"sample_weight": sw}
        )
        # a scorer that did not request sample_weight: scikit-learn refuses the metadata
        with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
            cross_validate(
                model,
                X,
                y,
                cv=cv,
                scoring=make_cross_entropy_scorer(),
                params={"sample_weight": sw},
            )
        unweighted = cross_validate(model, X, y, cv=cv, scoring=make_cross_entropy_scorer())

    def make_model():
        return WeightedLogisticCE(alpha=1e-2)

    weighted_ref = _fold_references(
        X, y, sw, cv, make_model, lambda yt, pr, s: log_loss(yt, pr, sample_weight=s)
    )
    np.testing.assert_allclose(result["test_score"], weighted_ref, rtol=1e-10)
    beta_ref = _fold_references(
        X, y, sw, cv, make_model, lambda yt, pr, s: _ref_beta_ce(yt, pr[:, 1], 2.5, s)
    )
    np.testing.assert_allclose(beta_result["test_score"], beta_ref, rtol=1e-10)
    # the weights do change the score
    assert not np.allclose(result["test_score"], unweighted["test_score"], rtol=1e-6)


def test_routed_sample_weights_in_grid_search():
    X, y = _binary_data(n=120, seed=5)
    sw = np.random.default_rng(5).uniform(0.0, 3.0, size=y.shape[0])
    cv = KFold(3)
    grid = {"clf__beta": [0.5, 2.0]}
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline(
            [
                ("scale", StandardScaler().set_fit_request(sample_weight=False)),
                ("clf", WeightedLogisticCE(alpha=1e-2).set_fit_request(sample_weight=True)),
            ]
        )
        scorer = make_cross_entropy_scorer().set_score_request(sample_weight=True)
        search = GridSearchCV(pipe, grid, scoring=scorer, cv=cv).fit(X, y, sample_weight=sw)
    assert search.best_params_["clf__beta"] in grid["clf__beta"]
    train, test = next(iter(cv.split(X)))
    manual = _beta_pipeline().set_params(clf__beta=2.0)
    manual.fit(X[train], y[train], clf__sample_weight=sw[train])
    expected = -log_loss(y[test], manual.predict_proba(X[test]), sample_weight=sw[test])
    assert search.cv_results_["split0_test_score"][1] == pytest.approx(expected, rel=1e-10)


# -- scorer object ---------------------------------------------------------------------
def test_scorer_repr_copy_and_pickle():
    assert repr(cross_entropy_score) == "make_cross_entropy_scorer()"
    assert repr(make_cross_entropy_scorer(beta=2.0)) == "make_cross_entropy_scorer(beta=2.0)"
    scorer = make_cross_entropy_scorer(class_weight={"a": 3})
    assert repr(scorer) == "make_cross_entropy_scorer(class_weight={'a': 3.0})"
    X, y = _binary_data(n=60)
    model = WeightedLogisticCE(alpha=1e-2).fit(X, y)
    for clone in (copy.deepcopy(cross_entropy_score), pickle.loads(pickle.dumps(scorer))):
        assert clone(model, X, y) == cross_entropy_score(model, X, y)


def test_scorer_rejects_non_classifiers_and_unknown_metadata():
    X, y = _binary_data(n=60)
    with pytest.raises(TypeError, match="classes_ and predict_proba"):
        cross_entropy_score(LinearRegression().fit(X, y), X, y)
    model = WeightedLogisticCE(alpha=1e-2).fit(X, y)
    with pytest.raises(TypeError, match="only sample_weight"):
        cross_entropy_score(model, X, y, groups=np.zeros(len(y)))
    with pytest.raises(ValueError, match="cannot be compared"):
        cross_entropy_score(model, X, np.where(y == 1, "yes", "no"))


def test_scorer_uses_only_the_public_scorer_protocol():
    """No scikit-learn base class: a callable plus the public metadata-routing methods."""
    assert not any(
        cls.__module__.startswith("sklearn") for cls in type(cross_entropy_score).__mro__
    )
    request = cross_entropy_score.get_metadata_routing()
    # sample_weight is known but not requested: passing it raises (as for sklearn scorers)
    assert request.score.requests == {"sample_weight": None}
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_cross_entropy_scorer(beta=2.0)
        assert scorer.set_score_request(sample_weight="w") is scorer
        assert scorer.get_metadata_routing().score.requests == {"sample_weight": "w"}
        # a copy: changing it does not change the scorer
        copied = scorer.get_metadata_routing()
        copied.score.add_request(param="sample_weight", alias=False)
        assert scorer.get_metadata_routing().score.requests == {"sample_weight": "w"}
        scorer.set_score_request()  # UNCHANGED
        assert scorer.get_metadata_routing().score.requests == {"sample_weight": "w"}
    # the shared scorer was not touched
    assert cross_entropy_score.get_metadata_routing().score.requests == {"sample_weight": None}


def test_set_score_request_needs_metadata_routing():
    with sklearn.config_context(enable_metadata_routing=False):
        with pytest.raises(RuntimeError, match=r"enable_metadata_routing=True"):
            make_cross_entropy_scorer().set_score_request(sample_weight=True)


def test_grid_search_fit_weights_without_routing_in_a_dict_of_scorers():
    """Without metadata routing, GridSearchCV.fit(sample_weight=...) works with a dict.

    scikit-learn >= 1.7 forwards the fit weights to the scorers that accept them,
    asking each scorer of the dict; before, the scorers get no weights.
    """
    X, y = _binary_data(n=120, seed=6)
    sw = np.random.default_rng(6).uniform(0.1, 3.0, size=y.shape[0])
    cv = KFold(3)
    search = GridSearchCV(
        WeightedLogisticCE(alpha=1e-2),
        {"beta": [1.0]},
        scoring={"ce": cross_entropy_score, "accuracy": "accuracy"},
        refit=False,
        cv=cv,
    ).fit(X, y, sample_weight=sw)
    train, test = next(iter(cv.split(X)))
    model = WeightedLogisticCE(alpha=1e-2).fit(X[train], y[train], sample_weight=sw[train])
    forwarded = SKLEARN_VERSION >= (1, 7)
    expected = -log_loss(
        y[test], model.predict_proba(X[test]), sample_weight=sw[test] if forwarded else None
    )
    assert search.cv_results_["split0_test_ce"][0] == pytest.approx(expected, rel=1e-10)


# -- added for mutation testing (dev-notes/mutation-testing.md) ------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_certain_correct_predictions_are_clipped_to_one_minus_eps(dtype):
    """q = 1 is clipped to 1 - eps: the loss is -ln(1 - eps) ~ eps, not 0."""
    eps = float(np.finfo(dtype).eps)
    proba = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    loss = cross_entropy_loss([0, 1], proba)
    assert loss == pytest.approx(-np.log1p(-eps), rel=1e-6)


def test_scalar_sample_weight_means_equal_weights():
    y, proba = [0, 1, 1, 0], np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    assert cross_entropy_loss(y, proba, sample_weight=3.0) == pytest.approx(
        log_loss(y, proba), rel=1e-12
    )


def test_huge_sample_weights_do_not_overflow():
    y, proba = [0, 1, 1, 0], np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    sw = np.array([1e300, 1e-300, 3e299, 0.0])
    ref = (sw / 1e300) @ -np.log([0.9, 0.8, 0.6, 0.7]) / (sw / 1e300).sum()
    assert cross_entropy_loss(y, proba, sample_weight=sw) == pytest.approx(ref, rel=1e-12)


def test_incomparable_labels_name_y_true():
    with pytest.raises(ValueError, match="labels in y_true cannot be compared"):
        cross_entropy_loss(np.array([0, "a", 1, 0], dtype=object), np.full((4, 2), 0.5))


class _ProbaOnly:
    """Has predict_proba but no classes_."""

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)


class _ClassesOnly:
    classes_ = np.array([0, 1])


class _FixedProba:
    """A 'fitted classifier' returning a given probability matrix."""

    def __init__(self, classes, proba):
        self.classes_ = np.asarray(classes)
        self._proba = proba

    def predict_proba(self, X):
        return self._proba


@pytest.mark.parametrize("estimator", [_ProbaOnly(), _ClassesOnly()])
def test_scorer_needs_both_classes_and_predict_proba(estimator):
    name = type(estimator).__name__
    with pytest.raises(
        TypeError,
        match=rf"needs a fitted classifier with classes_ and predict_proba, got {name}\.$",
    ):
        cross_entropy_score(estimator, np.zeros((2, 1)), [0, 1])


@pytest.mark.parametrize("proba", [np.full((4, 3), 1 / 3), np.full(4, 0.5)])
def test_scorer_rejects_predict_proba_of_the_wrong_shape(proba):
    model = _FixedProba([0, 1], proba)
    expected = (
        rf"^predict_proba returned shape \({proba.shape[0]},{'' if proba.ndim == 1 else ' 3'}\)"
    )
    with pytest.raises(ValueError, match=expected + r".*one column per class in classes_ \(2\)\.$"):
        cross_entropy_score(model, np.zeros((4, 1)), [0, 1, 1, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scorer_clips_unseen_labels_at_the_eps_of_the_probabilities(dtype):
    """A label the model never saw gets q = 0, clipped to eps of predict_proba's dtype."""
    proba = np.array([[0.75, 0.25], [0.5, 0.5], [0.25, 0.75]], dtype=dtype)
    model = _FixedProba([0, 1], proba)
    eps = float(np.finfo(dtype).eps)
    score = cross_entropy_score(model, np.zeros((3, 1)), [0, 2, 1])
    expected = -(-np.log(0.75) - np.log(eps) - np.log(0.75)) / 3
    assert score == pytest.approx(expected, rel=1e-6)


def test_scorer_names_y_when_its_labels_cannot_be_compared():
    model = _FixedProba([0, 1], np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match=r"^The labels in y cannot be compared"):
        cross_entropy_score(model, np.zeros((2, 1)), np.array([0, "a"], dtype=object))
