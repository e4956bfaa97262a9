"""skce: linear classifiers trained by minimising cross-entropy with gradient descent.

The estimators follow the scikit-learn API and can be used in pipelines,
grid searches and cross-validation:

- :class:`WeightedLogisticCE`: binary logistic regression on the β-weighted
  cross-entropy ``-[beta y ln p + (1 - y) ln(1 - p)]``.
- :class:`SoftmaxCE`: multinomial softmax regression with per-class weights.
- :class:`WeightedLogisticCECV` and :class:`SoftmaxCECV`: the same with the
  class weights and ``alpha`` chosen by cross-validation, in one fit
  (warm-started paths over ``alpha``; the answer of ``GridSearchCV``).
- :class:`SubsampledCE`: the fit of all rows estimated from a sample of them
  (rare events: every rare row, a weighted sample of the others).

Evaluation by cross-entropy (:mod:`skce.metrics`):

- :data:`cross_entropy_score`: a scorer (greater is better) for
  ``cross_val_score`` and ``GridSearchCV``, finite on folds that miss a class.
- :func:`make_cross_entropy_scorer`: the same with β or class weights.

The information theory behind it, as functions, is in :mod:`skce.information`.
"""

import importlib

__version__ = "0.1.0"

# The public names are imported on first use (PEP 562), so that `import skce`
# (and with it `skce --help`, `skce --version`) does not import scikit-learn,
# SciPy or pandas. Name -> the submodule that defines it (None: the submodule
# itself).
_LAZY = {
    "SoftmaxCE": "linear_model",
    "SoftmaxCECV": "linear_model",
    "SubsampledCE": "linear_model",
    "WeightedLogisticCE": "linear_model",
    "WeightedLogisticCECV": "linear_model",
    "cross_entropy_score": "metrics",
    "make_cross_entropy_scorer": "metrics",
    "information": None,
    "linear_model": None,
    "metrics": None,
}

__all__ = [
    "SoftmaxCE",
    "SoftmaxCECV",
    "SubsampledCE",
    "WeightedLogisticCE",
    "WeightedLogisticCECV",
    "__version__",
    "cross_entropy_score",
    "information",
    "make_cross_entropy_scorer",
    "metrics",
]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
    value = module if _LAZY[name] is None else getattr(module, name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
