"""skce: linear classifiers trained by minimising cross-entropy with gradient descent.

The estimators follow the scikit-learn API and can be used in pipelines,
grid searches and cross-validation:

- :class:`WeightedLogisticCE`: binary logistic regression on the β-weighted
  cross-entropy ``-[beta y ln p + (1 - y) ln(1 - p)]``.
- :class:`SoftmaxCE`: multinomial softmax regression with per-class weights.

Evaluation by cross-entropy (:mod:`skce.metrics`):

- :data:`cross_entropy_score`: a scorer (greater is better) for
  ``cross_val_score`` and ``GridSearchCV``, finite on folds that miss a class.
- :func:`make_cross_entropy_scorer`: the same with β or class weights.

The information theory behind it, as functions, is in :mod:`skce.information`.
"""

from . import information, metrics
from .linear_model import SoftmaxCE, WeightedLogisticCE
from .metrics import cross_entropy_score, make_cross_entropy_scorer

__all__ = [
    "SoftmaxCE",
    "WeightedLogisticCE",
    "__version__",
    "cross_entropy_score",
    "information",
    "make_cross_entropy_scorer",
    "metrics",
]

__version__ = "0.1.0"
