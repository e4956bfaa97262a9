"""The covariance sums of a fitted model over a dask array's chunks.

One map over the chunks, where they live: each chunk checks its rows, builds
their objective (its weights normalised by its own weight total, no penalty)
and returns its :class:`~skce._covariance.CovarianceSums` (``P x P`` matrices,
or its groups' score sums); the client merges them exactly
(:func:`skce._covariance.merge_sums`). The chunks' objectives stay where they
are for the one more map that a suspected separation asks for
(:func:`skce._covariance.separation_margins`). ``X`` never comes to the client.
Imported only for dask input.
"""

import numpy as np
import scipy.sparse as sp

from ._covariance import covariance_sums, merge_sums
from ._dask import _rows_like, as_dask_arrays, check_whole_rows
from ._dask_chunks import chunk_holder, current_client
from ._objective import LinearObjective, weighted_targets
from ._separation import separation_margins

__all__ = ["chunked_covariance_sums"]


def _chunk_rows(part, loss, classes, class_weight, label_smoothing, fit_intercept, layout):
    """``(objective, weight total, groups)`` of one chunk; None without weighted rows."""
    x, y, *rest = part
    weighted, grouped = layout
    w = np.asarray(rest[0], dtype=np.float64) if weighted else None
    groups = np.asarray(rest[-1]) if grouped else None
    y = np.asarray(y)
    if not np.isfinite(x.data if sp.issparse(x) else x).all():
        raise ValueError("Input X contains NaN or infinity.")
    if w is not None and not (np.all(np.isfinite(w)) and np.all(w >= 0)):
        raise ValueError("sample_weight must be finite and non-negative.")
    unknown = ~np.isin(y, classes)
    if unknown.any():
        raise ValueError(
            f"y has labels the model was not fitted with: {np.unique(y[unknown]).tolist()}. "
            f"The classes are {classes.tolist()}."
        )
    total = float(y.shape[0] if w is None else w.sum())
    if not total > 0:
        return None  # no weighted row (or no row): nothing to add
    if sp.issparse(x) and x.format != "csr":
        x = x.tocsr()
    codes = np.searchsorted(classes, y)
    A = weighted_targets(codes, classes.shape[0], w, class_weight, label_smoothing)
    objective = LinearObjective(loss, x, A, alpha=0.0, fit_intercept=fit_intercept)
    return objective, total, groups


def _chunk_sums(rows, theta, meat):
    if rows is None:
        return None
    objective, total, groups = rows
    return covariance_sums(objective, theta, total, groups, meat)


def _chunk_margins(rows, direction):
    return None if rows is None else separation_margins(rows[0], direction)


def chunked_covariance_sums(estimator, X, y, sample_weight, groups, kind):
    """The covariance sums of a fitted ``estimator`` over dask ``X``, and the margins' map.

    ``y``, ``sample_weight`` and ``groups`` are dask arrays with ``X``'s row
    chunks or NumPy arrays (split to match them). Returns ``(sums, margins_along)``
    with ``margins_along(direction)`` the chunks' :func:`separation_margins`.
    """
    X, y, sample_weight, names = as_dask_arrays(X, y, sample_weight)
    X = check_whole_rows(X)
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "X has chunks of unknown size (NaN in X.chunks, as from a dask DataFrame's "
            "values); call X.compute_chunk_sizes() first."
        )
    d = estimator.coef_.shape[1]
    if X.shape[1] != d:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} was fitted with {d}."
        )
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if names is not None and fitted_names is not None and list(names) != list(fitted_names):
        raise ValueError(
            "The feature names should match those that were passed during fit: got "
            f"{list(names)}, fitted with {list(fitted_names)}."
        )
    if y is None:
        raise ValueError("y is required: the class labels of X's rows.")
    arrays = [X, _rows_like(y, X, "y")]
    if sample_weight is not None:
        arrays.append(_rows_like(sample_weight, X, "sample_weight"))
    if groups is not None:
        arrays.append(_rows_like(groups, X, "groups"))
    rows = chunk_holder(current_client(X), *arrays).map(
        _chunk_rows,
        estimator._loss,
        estimator.classes_,
        np.asarray(estimator._fitted_class_weights(), dtype=np.float64),
        float(estimator.label_smoothing),
        bool(estimator.fit_intercept),
        (sample_weight is not None, groups is not None),
    )
    theta = np.asarray(estimator.coef_, dtype=np.float64).ravel()
    if estimator.fit_intercept:
        theta = np.concatenate([theta, np.asarray(estimator.intercept_, dtype=np.float64)])
    parts = [p for p in rows.map(_chunk_sums, theta, kind == "sandwich").gather() if p]
    if not parts:
        raise ValueError("Sample weights must contain at least one non-zero number.")

    def margins_along(direction):
        return [m for m in rows.map(_chunk_margins, direction).gather() if m is not None]

    return merge_sums(parts, estimator.fit_intercept), margins_along
