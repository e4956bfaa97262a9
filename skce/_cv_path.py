"""One task of a cross-validated fit: a warm-started alpha path on one fold, scored.

Run by :class:`skce._cv.CrossValidatedMixin` through joblib, one task per
(class weight, fold): the fold's objective is prepared once and solved at every
alpha, each fit warm-started from the previous one, each scored on the test
fold; the warnings are recorded and returned for the caller to replay.
"""

import time

import numpy as np
from scipy.stats import rankdata

from ._threads import blas_threads
from ._warnings import recorded_warnings

__all__ = ["describe_value", "fit_and_score_path", "param_array", "rank"]


def _fold_params(params, indices, n_samples):
    """Metadata for one fold: array-likes of length ``n_samples`` indexed by ``indices``.

    Other values (scalars, arrays of another length) are passed as they are,
    as scikit-learn's searches do.
    """
    out = {}
    for name, value in params.items():
        if value is not None and hasattr(value, "__len__") and not isinstance(value, str):
            if len(value) == n_samples:
                value = value[indices] if hasattr(value, "shape") else np.asarray(value)[indices]
        out[name] = value
    return out


def param_array(values):
    """A ``param_<name>`` column as ``GridSearchCV`` builds it: a masked array.

    Numeric values give a numeric array; strings, ``None``, dicts and mixtures
    an object array. Nothing is masked: every candidate has every parameter.
    """
    try:
        array = np.array(values)
        dtype = array.dtype if array.dtype.kind not in "UO" and array.ndim == 1 else object
    except ValueError:
        dtype = object
    column = np.empty(len(values), dtype=dtype)
    for k, value in enumerate(values):
        column[k] = value
    return np.ma.MaskedArray(column, mask=False)


def rank(means):
    """Rank 1 for the highest mean (ties share the lowest rank); NaN ranks last."""
    if np.isnan(means).all():
        return np.ones(means.shape[0], dtype=np.int32)
    filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
    return rankdata(-filled, method="min").astype(np.int32)


def describe_value(value):
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


def _score(scorer, estimator, X, y, params, where):
    """``scorer(estimator, X, y, **params)``; a failure names the scorer and the fit."""
    try:
        return scorer(estimator, X, y, **params)
    except Exception as exc:
        raise ValueError(
            f"The scoring {scorer!r} cannot score the model fitted at {where}: "
            f"{type(exc).__name__}: {exc}. Choose a scoring that applies to this "
            "problem (e.g. a binary-only metric does not apply to more than two classes)."
        ) from exc


def fit_and_score_path(
    estimator, label, alphas, X, y, classes, sample_weight, train, test, scorer, params
):
    """One (class weight, fold) task: fit along ``alphas`` on ``train``, score on ``test``.

    ``estimator`` has the class weight set (``label`` says which, for error
    messages); the fold's objective is prepared once, with ``classes`` (those
    of all the data, also when the training part lacks one, as
    ``LogisticRegressionCV`` fits it), and solved at every alpha from the
    first to the last, each fit warm-started from the previous one. Returns
    the score of each alpha (a float, or a dict for several scorers), the fit
    and score times, and the warnings raised, which the caller emits (the
    same with one process as with many, and subject to the caller's warning
    filters).

    The preparation's time is shared equally among the alphas' fit times.
    """
    n_samples = X.shape[0]
    X_train, y_train = X[train], y[train]
    w_train = None if sample_weight is None else sample_weight[train]
    X_test, y_test = X[test], y[test]
    test_params = _fold_params(params, test, n_samples)
    scores, fit_times, score_times = [], [], []
    # Every warning is recorded here and replayed by the caller, whose filters
    # then decide (a worker process does not share them).
    with blas_threads(), recorded_warnings() as caught:
        start = time.perf_counter()
        objective, X_fit = estimator._objective(X_train, y_train, w_train, classes=classes)
        preparation = time.perf_counter() - start
        path = estimator._fit_path(objective, X_fit, alphas)
        start = time.perf_counter()
        for alpha, fitted in zip(alphas, path, strict=True):
            fit_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            where = f"{label}, alpha={alpha:g}"
            scores.append(_score(scorer, fitted, X_test, y_test, test_params, where))
            score_times.append(time.perf_counter() - start)
            start = time.perf_counter()
    fit_times = np.asarray(fit_times) + preparation / len(alphas)
    return scores, fit_times, np.asarray(score_times), caught
