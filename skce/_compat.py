"""The one place where skce touches private scikit-learn API.

scikit-learn may change or remove any name that starts with an underscore, or
that lives in an underscore module, in any release without a deprecation. Every
such name that skce (or its tests) uses is imported here, with the reason and
with the public API that would replace it, so that a scikit-learn upgrade that
breaks one of them breaks this file only. skce modules import these names from
``skce._compat``; so do the tests.

This module imports scikit-learn, so only modules that already need
scikit-learn import it (``import skce`` itself must stay light).

Private hooks that skce *implements* rather than imports are listed at the end.
"""

import inspect
import re

import numpy as np
import sklearn

# `_fit_context` decorates `fit`: it validates the parameters against the
# estimator's `_parameter_constraints` once per call and tells nested estimators
# and functions to skip re-validation. No public equivalent exists (the method it
# calls, `BaseEstimator._validate_params`, is private too); without it, `fit` would
# check each parameter by hand.
from sklearn.base import _fit_context

# `Interval` and `StrOptions` describe the valid values in `_parameter_constraints`,
# from which the checks generate invalid-parameter tests and error messages; they
# are what `_fit_context` reads. `InvalidParameterError` is what it raises (a
# subclass of ValueError and TypeError): the tests match on it. No public module
# exports them; the public replacement is hand-written validation raising ValueError.
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions


def _release(version):
    """(major, minor) of a version string such as "1.6.1", "1.9.dev0" or "1.10rc1"."""
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2)))


# The installed scikit-learn as (major, minor), for version shims: compare it with
# a tuple, e.g. `SKLEARN_VERSION >= (1, 7)`. Parsed here rather than with
# `packaging`, which is not a dependency of skce.
SKLEARN_VERSION = _release(sklearn.__version__)

# `_check_sample_weight` turns `sample_weight=None`, a scalar or an array into a
# validated float array of shape (n_samples,), rejecting negative weights, with the
# same messages as scikit-learn's own estimators. Public replacement:
# `sklearn.utils.check_array(sample_weight, ensure_2d=False)` plus the shape, sign
# and all-zero checks written here.
if SKLEARN_VERSION >= (1, 9):
    from sklearn.utils.validation import _check_sample_weight
else:
    from sklearn.utils.validation import _check_sample_weight as _check_sample_weight_before_1_9

    def _check_sample_weight(sample_weight, X, **kwargs):
        """scikit-learn's `_check_sample_weight`, also rejecting all-zero weights as 1.9 does
        (the estimator check `check_all_zero_sample_weights_error` asks for it)."""
        sample_weight = _check_sample_weight_before_1_9(sample_weight, X, **kwargs)
        if not np.any(sample_weight):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return sample_weight


def scorer_accepts_sample_weight(scorer):
    """Whether a scorer takes ``sample_weight``, as scikit-learn's searches decide it.

    Without metadata routing, scikit-learn >= 1.7 forwards the ``sample_weight``
    given to ``GridSearchCV.fit`` to a scorer whose private
    ``_accept_sample_weight()`` says yes; skce/_cv.py asks the same, to score as
    ``GridSearchCV`` does. A scorer without the hook takes it when its signature
    names ``sample_weight``. Public replacement: metadata routing.
    """
    hook = getattr(scorer, "_accept_sample_weight", None)
    if hook is not None:
        return bool(hook())
    try:
        return "sample_weight" in inspect.signature(scorer).parameters
    except (TypeError, ValueError):  # no signature to read
        return False


# Private hooks that skce implements (duck-typed; nothing imported):
#
# - `_doc_link_module` and `_doc_link_template` (skce._base): scikit-learn's HTML
#   repr (`sklearn.utils._repr_html`, `_estimator_html_repr` before 1.7) reads them
#   to link an estimator's diagram to its API page. Public replacement: none.
# - `_accept_sample_weight()` (skce.metrics): see `scorer_accepts_sample_weight`; a
#   dict of scorers calls it on every scorer. Public replacement: metadata routing
#   (`set_score_request`), which skce's scorer supports.

__all__ = [
    "SKLEARN_VERSION",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
    "scorer_accepts_sample_weight",
]
