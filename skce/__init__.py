"""skce: linear classifiers trained by minimising cross-entropy with gradient descent.

The estimators follow the scikit-learn API and can be used in pipelines,
grid searches and cross-validation:

- :class:`WeightedLogisticCE`: binary logistic regression on the β-weighted
  cross-entropy ``-[beta y ln p + (1 - y) ln(1 - p)]``.
- :class:`SoftmaxCE`: multinomial softmax regression with per-class weights.
"""

from .linear_model import SoftmaxCE, WeightedLogisticCE

__all__ = ["SoftmaxCE", "WeightedLogisticCE", "__version__"]

__version__ = "0.1.0"
