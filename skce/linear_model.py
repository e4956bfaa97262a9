"""Linear classifiers trained by minimising cross-entropy with gradient descent."""

from ._covariance import SingularHessianError
from ._cv import GridEdgeWarning
from ._cv_estimators import SoftmaxCECV, WeightedLogisticCECV
from ._estimators import SoftmaxCE, WeightedLogisticCE
from ._subsample import SubsampledCE

__all__ = [
    "GridEdgeWarning",
    "SingularHessianError",
    "SoftmaxCE",
    "SoftmaxCECV",
    "SubsampledCE",
    "WeightedLogisticCE",
    "WeightedLogisticCECV",
]

# Their public home, for pickles, reprs and documentation: the classes are
# written in private modules by concern.
for _cls in (
    GridEdgeWarning,
    SingularHessianError,
    SoftmaxCE,
    SoftmaxCECV,
    SubsampledCE,
    WeightedLogisticCE,
    WeightedLogisticCECV,
):
    _cls.__module__ = __name__
del _cls
