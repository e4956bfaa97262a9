"""Lazy predictions on dask arrays: the fitted estimator's own methods, chunk by chunk.

Imported only for dask input.
"""

import copy
import warnings

import numpy as np

from ._dask import _check_not_series, _is_frame, check_whole_rows, feature_names

__all__ = ["lazy_prediction"]


def _predict_chunk(x, estimator, method):
    return getattr(estimator, method)(x)


def lazy_prediction(estimator, X, method):
    """``estimator.method`` on every chunk of ``X``, as a lazy dask array.

    The fitted estimator's own in-memory method runs on each chunk (one piece of
    maths), so the results equal the in-memory ones. ``X`` must be chunked by
    rows only. Nothing is computed here: a dask DataFrame's partitions become
    chunks of unknown length (counting their rows would read every partition
    now), and so do the result's.
    """
    fitted = getattr(estimator, "feature_names_in_", None)
    if _is_frame(X):
        names = feature_names(X) if X.ndim == 2 else None
        if fitted is not None and (names is None or list(names) != list(fitted)):
            raise ValueError(
                "The dask DataFrame's columns are not the feature names seen in fit "
                f"({list(fitted)}); select them in that order: X[{list(fitted)}]."
            )
        _check_not_series(X)
        X = X.to_dask_array()
    elif fitted is not None:
        # What scikit-learn says of a NumPy array, said once here rather than by
        # every chunk's prediction on the workers.
        warnings.warn(
            f"X does not have valid feature names, but {type(estimator).__name__} was "
            "fitted with feature names",
            UserWarning,
            stacklevel=4,  # the caller of predict, predict_proba, ...
        )
    X = check_whole_rows(X)
    # The model as it is now: a later fit of the same estimator must not change
    # what this lazy array computes. Its chunks are NumPy or SciPy, without
    # names (checked above).
    estimator = copy.deepcopy(estimator)
    if fitted is not None:
        del estimator.feature_names_in_
    expected = getattr(estimator, "n_features_in_", X.shape[1])
    if X.shape[1] != expected:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{expected} features as input."
        )
    # One row tells the shape and dtype of the result (and checks the fit).
    sample = getattr(estimator, method)(np.zeros((1, X.shape[1]), dtype=X.dtype))
    if sample.ndim == 1:
        shape = {"drop_axis": 1}
    else:
        shape = {"chunks": (X.chunks[0], (sample.shape[1],))}
    return X.map_blocks(
        _predict_chunk,
        estimator,
        method,
        dtype=sample.dtype,
        meta=np.empty((0,) * sample.ndim, dtype=sample.dtype),
        **shape,
    )
