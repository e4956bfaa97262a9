"""Input checks of the evaluation functions in :mod:`skce.metrics`.

Labels, probabilities, sample weights and the evaluation weights (β or class
weights), each checked once with an error that says what to change.
"""

from collections.abc import Mapping
from numbers import Real

import numpy as np

__all__ = [
    "check_evaluation_weights",
    "check_labels",
    "check_sample_weight",
    "check_y_prob",
    "check_y_true",
    "encode",
    "sorted_unique",
]


def _is_number(value):
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def _check_beta(beta):
    if not (_is_number(beta) and np.isfinite(float(beta)) and float(beta) > 0):
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}.")
    return float(beta)


def _check_class_weight(class_weight):
    if class_weight is None:
        return None
    if not isinstance(class_weight, Mapping):
        raise ValueError(
            "class_weight must be a dict {label: weight} or None, got "
            f"{type(class_weight).__name__}: {class_weight!r}."
        )
    checked = {}
    for label, weight in class_weight.items():
        if not _is_number(weight):
            raise ValueError(f"class_weight[{label!r}] must be a number, got {weight!r}.")
        value = float(weight)
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(
                f"class_weight[{label!r}] must be a finite number >= 0, got {weight!r}."
            )
        checked[label] = value
    return checked


def check_evaluation_weights(beta, class_weight):
    beta = _check_beta(beta)
    class_weight = _check_class_weight(class_weight)
    if beta != 1.0 and class_weight is not None:
        raise ValueError(
            "beta and class_weight cannot be used together: beta is the binary "
            "special case class_weight={negative_label: 1, positive_label: beta}."
        )
    return beta, class_weight


def sorted_unique(values, name, return_inverse=False):
    try:
        return np.unique(values, return_inverse=return_inverse)
    except TypeError as exc:
        raise ValueError(
            f"The labels in {name} cannot be compared with each other (mixed types?): {exc}"
        ) from None


def check_y_true(y_true):
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"y_true must be a 1-D array of class labels, got shape {y.shape}.")
    if y.shape[0] == 0:
        raise ValueError("y_true is empty; at least one sample is needed.")
    if y.dtype.kind in "fc" and not np.all(np.isfinite(y)):
        raise ValueError("y_true contains NaN or infinite labels.")
    return y


def check_labels(labels, y_unique):
    """Return the labels (1-D array, column order of y_prob)."""
    if labels is None:
        if y_unique.shape[0] < 2:
            raise ValueError(
                f"y_true contains only one label ({y_unique.tolist()[0]!r}). Pass all the "
                "class labels through the labels argument, e.g. labels=model.classes_."
            )
        return y_unique
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of labels, got shape {labels.shape}.")
    if labels.shape[0] < 2:
        raise ValueError(
            f"labels must contain at least two labels, got {labels.tolist()!r}; "
            "cross-entropy needs two or more classes."
        )
    if sorted_unique(labels, "labels").shape[0] != labels.shape[0]:
        raise ValueError(f"labels contains duplicates: {labels.tolist()!r}.")
    return labels


def encode(y_unique, y_inverse, labels):
    """Column index in ``labels`` of every sample's label."""
    position = {label: k for k, label in enumerate(labels.tolist())}
    unknown = [label for label in y_unique.tolist() if label not in position]
    if unknown:
        raise ValueError(
            f"y_true contains labels that are not in labels: {unknown!r}. "
            f"The labels are {labels.tolist()!r}."
        )
    lookup = np.array([position[label] for label in y_unique.tolist()], dtype=np.intp)
    return lookup[y_inverse]


def check_y_prob(y_prob, n_samples, labels):
    """Validated probabilities as float32 or float64; a 1-D array stays 1-D."""
    proba = np.asarray(y_prob)
    if proba.dtype.kind not in "biuf":
        raise ValueError(f"y_prob must be an array of numbers, got dtype {proba.dtype}.")
    dtype = np.float32 if proba.dtype == np.float32 else np.float64
    proba = proba.astype(dtype, copy=False)  # read only from here on
    n_labels = labels.shape[0]
    if proba.ndim not in (1, 2):
        raise ValueError(
            f"y_prob must be 1-D (binary) or 2-D (n_samples, n_labels), got shape {proba.shape}."
        )
    if proba.shape[0] != n_samples:
        raise ValueError(
            f"y_prob has {proba.shape[0]} rows but y_true has {n_samples} samples; "
            "they must have the same length."
        )
    if np.isnan(proba).any():
        raise ValueError("y_prob contains NaN.")
    low, high = proba.min(), proba.max()
    if low < 0 or high > 1:
        raise ValueError(
            f"y_prob must contain probabilities in [0, 1], got values in [{low!r}, {high!r}]."
        )
    if proba.ndim == 1:
        if n_labels != 2:
            raise ValueError(
                "A 1-D y_prob is the probability of the positive class and needs "
                f"exactly 2 labels, but there are {n_labels}: {labels.tolist()!r}. "
                "Pass an array of shape (n_samples, n_labels)."
            )
        return proba
    if proba.shape[1] != n_labels:
        raise ValueError(
            f"y_prob has {proba.shape[1]} columns but there are {n_labels} labels "
            f"{labels.tolist()!r}; there must be one column per label (pass labels= "
            "if y_true does not contain every class)."
        )
    tol = max(1e-6, float(np.sqrt(np.finfo(dtype).eps)))
    row_sums = proba.sum(axis=1, dtype=np.float64)
    bad = np.flatnonzero(np.abs(row_sums - 1.0) > tol)
    if bad.size:
        raise ValueError(
            f"The rows of y_prob must sum to 1 (tolerance {tol:.1e}); {bad.size} "
            f"row(s) do not, e.g. row {bad[0]} sums to {float(row_sums[bad[0]])!r}."
        )
    return proba


def check_sample_weight(sample_weight, n_samples):
    if sample_weight is None:
        return None
    sw = np.asarray(sample_weight)
    if sw.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight must contain numbers, got dtype {sw.dtype}.")
    sw = sw.astype(np.float64)
    if sw.ndim == 0:
        sw = np.full(n_samples, float(sw))
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},) like y_true, got {sw.shape}."
        )
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinite values.")
    if np.any(sw < 0):
        raise ValueError("sample_weight must be non-negative; it has negative values.")
    largest = sw.max()
    if largest == 0:
        raise ValueError("sample_weight is zero for every sample; the loss is undefined.")
    # Rescaling leaves the normalised loss unchanged and avoids overflow.
    return sw / largest


# -- the loss ------------------------------------------------------------------
