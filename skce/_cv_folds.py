"""How a cross-validated estimator splits its data: scikit-learn's rules for small classes.

A stratified splitter with more folds than a class has members warns (every
class smaller: an error), and a split whose training part lacks a class is
fitted anyway, as ``StratifiedKFold`` and ``LogisticRegressionCV`` do; the
messages say what to change (:func:`split_folds`).
"""

import warnings

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedGroupKFold, StratifiedKFold

from ._convergence import caller_stacklevel

__all__ = ["split_folds"]


def split_folds(name, cv_param, cv, X, y, split_params):
    """The splits of ``cv``, with scikit-learn's convention for classes smaller than the folds.

    ``name`` is the estimator's class name and ``cv_param`` its ``cv`` parameter
    as the user gave it (both for the messages); ``cv`` the checked splitter.

    As with ``StratifiedKFold`` and ``LogisticRegressionCV``, a stratified
    splitter with more folds than the smallest class has members gives a
    warning, and one with more folds than every class has members an
    error. Both are raised here, instead of the splitter's own, so that
    they say what to change. A split whose training part lacks a class
    (a class of one member, or any splitter's choice) is fitted anyway
    with the classes of all the data, as ``LogisticRegressionCV`` fits
    it, and the warning says so.
    """
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    n_splits = _stratified_n_splits(cv)
    small = [] if n_splits is None else np.flatnonzero(counts < n_splits).tolist()
    if small and len(small) == len(classes):
        largest = int(np.argmax(counts))
        change = (
            f"Use cv <= {counts[largest]}, or more samples."
            if counts[largest] >= 2
            else "Every class has one sample: collect more."
        )
        raise ValueError(
            f"cv={cv_param!r} makes {n_splits} stratified folds, but every class has fewer "
            f"samples than that (the largest, class {classes.tolist()[largest]!r}, has "
            f"{counts[largest]}). {change}"
        )
    with warnings.catch_warnings():
        # The warning of _warn_small_classes says this and what to change.
        warnings.filterwarnings("ignore", "The least populated class in y", UserWarning)
        splits = list(cv.split(X, y, **split_params))
    in_train, in_test = (_held(codes, classes.shape[0], splits, side) for side in (0, 1))
    _warn_small_classes(name, cv_param, classes, counts, n_splits, small, in_train, in_test)
    return splits


def _warn_small_classes(name, cv_param, classes, counts, n_splits, small, in_train, in_test):
    """One warning for classes missing from test parts or training parts, if any.

    ``small`` indexes the classes with fewer members than the ``n_splits``
    stratified folds; ``in_train`` and ``in_test`` (one row per split,
    one column per class) say which parts hold each class.
    """
    labels, n = classes.tolist(), in_test.shape[0]
    problems = []
    if small:
        missing = _join(
            f"class {labels[k]!r} ({_samples(counts[k])}) is missing from "
            f"{n - np.count_nonzero(in_test[:, k])}"
            for k in small
        )
        problems.append(
            f"cv={cv_param!r} makes {n_splits} stratified folds, more than "
            f"{'a class has' if len(small) == 1 else 'some classes have'} samples: "
            f"{missing} of the {n} test parts"
        )
    for k, label in enumerate(labels):
        lacking = np.flatnonzero(~in_train[:, k]).tolist()
        if lacking:
            one = len(lacking) == 1
            problems.append(
                f"the training part{'' if one else 's'} of split{'' if one else 's'} "
                f"{_join(map(str, lacking))} hold{'s' if one else ''} no sample of class "
                f"{label!r}: {'its model' if one else 'their models'} (fitted with every "
                f"class of y, as in LogisticRegressionCV) learn{'s' if one else ''} "
                "nothing of that class"
            )
    if not problems:
        return
    if small and counts.min() >= 2:
        change = f"Use cv <= {counts.min()}, or more samples of the classes named"
    elif small:
        change = (
            "A class of one sample is never on both sides of a split: collect more "
            "samples of it, or drop it or merge it into another class"
        )
    else:
        change = "Use a stratified splitter (such as StratifiedKFold) or fewer folds"
    warnings.warn(
        f"{name}: {'; '.join(problems)}. {change}, so that every "
        "split trains and tests on every class.",
        UserWarning,
        stacklevel=caller_stacklevel(),
    )


def _stratified_n_splits(cv):
    """The number of folds of a stratified splitter (per repetition), or None."""
    if isinstance(cv, RepeatedStratifiedKFold):
        return cv.get_n_splits() // cv.n_repeats
    if isinstance(cv, (StratifiedKFold, StratifiedGroupKFold)):
        return cv.n_splits
    return None


def _held(codes, n_classes, splits, side):
    """Which classes each split's training (``side=0``) or test part holds.

    A boolean array, one row per split and one column per class; ``codes``
    are the class codes of the samples.
    """
    held = [np.bincount(codes[split[side]], minlength=n_classes) > 0 for split in splits]
    return np.array(held, dtype=bool).reshape(len(splits), n_classes)


def _samples(count):
    return f"{count} sample{'' if count == 1 else 's'}"


def _join(words):
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
