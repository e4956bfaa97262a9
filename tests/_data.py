"""Small, deterministic data sets shared by the tests."""

import numpy as np
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from skce._loss import BinaryCrossEntropy
from skce._objective import LinearObjective


def binary_data(n_samples=300, n_features=6, weights=(0.8, 0.2), seed=0):
    """Standardised, overlapping two-class data (a finite MLE exists)."""
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=4,
        n_redundant=0,
        weights=list(weights),
        flip_y=0.1,
        class_sep=0.8,
        random_state=seed,
    )
    return StandardScaler().fit_transform(X), y


def multiclass_data(n_samples=300, n_features=5, n_classes=3, seed=0):
    """Standardised, overlapping K-class data."""
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        flip_y=0.1,
        class_sep=0.8,
        random_state=seed,
    )
    return StandardScaler().fit_transform(X), y


def raw_scales(X, seed=0):
    """Give the columns of X wildly different scales and offsets (1e-3 to 1e3)."""
    rng = np.random.RandomState(seed)
    scales = np.logspace(-3, 3, X.shape[1])
    rng.shuffle(scales)
    offsets = rng.uniform(-5, 5, X.shape[1]) * scales
    return X * scales + offsets


def central_differences(f, x, h=1e-5):
    """Central finite-difference gradient of f at x: error O(h^2), independent of skce."""
    grad = np.empty_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        grad[j] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


def unsampled_rows(n):
    """Rows of an n-row dense problem outside the row sample its fit plan takes."""
    from skce._plan import plan_fit

    X = np.random.default_rng(0).standard_normal((n, 1))
    dummy = LinearObjective(BinaryCrossEntropy, X, np.ones((2, n)) / (2 * n), 0.0)
    return np.setdiff1d(np.arange(n), plan_fit(dummy, solver="bb").sample)
