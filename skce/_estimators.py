"""The estimators: WeightedLogisticCE and SoftmaxCE, only what differs between them.

Everything they share (validation, the fit, prediction) is in :mod:`skce._base`;
their public home is :mod:`skce.linear_model`.
"""

from numbers import Real

import numpy as np

from ._base import BaseCrossEntropyClassifier, _is_dask_array, store_parameters
from ._compat import Interval, StrOptions
from ._docstrings import document
from ._loss import BinaryCrossEntropy, MultinomialCrossEntropy

__all__ = ["SoftmaxCE", "WeightedLogisticCE"]


@document
class WeightedLogisticCE(BaseCrossEntropyClassifier):
    """Binary logistic regression on the β-weighted cross-entropy.

    For samples ``i`` with logit ``z_i = x_i . w + b``, probability
    ``p_i = sigmoid(z_i)``, label ``y_i`` in {0, 1} (1 is ``classes_[1]``) and
    sample weight ``s_i`` (default 1), the fit minimises::

        J(w, b) = (1 / sum_i s_i) * sum_i s_i * CE_i  +  (alpha / 2) * ||w||^2

        CE_i = -[beta * y_i * ln p_i + (1 - y_i) * ln(1 - p_i)]

    that is the per-class weights are ``c_1 = beta`` and ``c_0 = 1``; the
    intercept ``b`` is not penalised, and the normalisation is by the sample
    weights only, never by ``beta``. Hence ``LogisticRegression(C=1 / (alpha *
    sum_i s_i), class_weight={0: 1, 1: beta})`` minimises the same function up
    to a constant factor. The gradient is the prediction error times the
    input::

        grad_w J = X^T (s * c_y * (p - y)) / sum_i s_i + alpha * w

    ``beta > 1`` makes errors on the positive class cost more: use it when
    positives are rare and important. It shifts the fitted logit by about
    ``ln(beta)``, so the probabilities are those of a population in which
    positives are ``beta`` times more frequent.

    Parameters
    ----------
    beta : float > 0 or "balanced", default=1.0
        Weight of the positive class ``classes_[1]`` in the cross-entropy.
        ``"balanced"`` uses ``beta = (sum of s_i over negatives) / (sum of s_i
        over positives)``, which gives both classes the same total weight.

    %(shared_parameters)s
    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features)
        Coefficients ``w``, in the dtype of ``X`` (float32 or float64).

    intercept_ : ndarray of shape (1,)
        Intercept ``b``.

    beta_ : float
        The ``beta`` used in the fit (resolves ``"balanced"``).

    %(shared_attributes)s
    See Also
    --------
    SoftmaxCE : Multinomial softmax regression for two or more classes.
    sklearn.linear_model.LogisticRegression : The same model fitted by
        quasi-Newton or Newton methods.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skce import WeightedLogisticCE
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), WeightedLogisticCE(beta=2.0, alpha=1e-3))
    >>> model.fit(X, y).score(X, y) > 0.95
    True
    >>> model[-1].coef_.shape
    (1, 30)
    """

    _parameter_constraints: dict = {
        **BaseCrossEntropyClassifier._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="neither"), StrOptions({"balanced"})],
    }

    _loss = BinaryCrossEntropy

    def __init__(
        self,
        beta=1.0,
        *,
        alpha=1e-4,
        fit_intercept=True,
        solver="auto",
        preconditioner="auto",
        learning_rate="auto",
        tol=1e-7,
        max_iter=1000,
        warm_start=False,
        label_smoothing=0.0,
        prior_correction=False,
        verbose=0,
    ):
        store_parameters(self, locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _check_n_classes(self, n_classes):
        if n_classes > 2:
            raise ValueError(
                "Only binary classification is supported. The target has "
                f"{n_classes} classes; use skce.SoftmaxCE for more than two classes."
            )

    def _class_weights(self, class_totals):
        if isinstance(self.beta, str):  # "balanced"
            negatives, positives = class_totals
            # Both are positive in a fit; only a cross-validation fold whose
            # training part lacks a class has a zero (see _fit_classes), and
            # there the ratio is undefined: 1 weighs its one class as beta=1 does.
            beta = negatives / positives if negatives > 0 and positives > 0 else 1.0
        else:
            beta = float(self.beta)
            if not np.isfinite(beta):
                raise ValueError(f"beta must be a finite number > 0, got {self.beta!r}.")
        self.beta_ = float(beta)
        return np.array([1.0, beta])

    def _set_class_weights(self, class_weight):
        self.beta_ = float(class_weight[1])  # c_0 is 1

    def _fitted_class_weights(self):
        return np.array([1.0, self.beta_])

    def _weight_parameters(self, class_weight):
        """The parameters that fix the class weights to ``class_weight`` (``c_0 = 1``)."""
        return {"beta": float(class_weight[1])}

    @staticmethod
    def _logit_offset(log_weights):
        # One logit, z = z_1 - z_0: its offset is ln(c_1 / c_0) = ln(beta).
        return log_weights[1:] - log_weights[:1]

    def decision_function(self, X):
        """Logit of the positive class, ``z = X w + b`` (minus ``ln beta`` with prior correction).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            A dask array (chunked by rows only) gives a lazy dask array,
            computed chunk by chunk.

        Returns
        -------
        ndarray of shape (n_samples,)
            Positive values predict ``classes_[1]``.
        """
        if _is_dask_array(X):
            return self._lazy_prediction(X, "decision_function")
        return self._logits(X)[:, 0]


@document
class SoftmaxCE(BaseCrossEntropyClassifier):
    """Multinomial softmax regression on the class-weighted cross-entropy.

    For samples ``i`` with logits ``z_i = x_i W^T + b`` (one per class, ``W``
    of shape (K, n_features)), class probabilities ``q_i = softmax(z_i)``,
    label ``y_i``, sample weight ``s_i`` (default 1) and class weights ``c_k``
    (from ``class_weight``), the fit minimises::

        J(W, b) = (1 / sum_i s_i) * sum_i s_i * c_{y_i} * CE_i  +  (alpha / 2) * ||W||_F^2

        CE_i = -ln softmax(z_i)_{y_i}

    The intercepts ``b`` are not penalised and the normalisation is by the
    sample weights only, never by the class weights. Hence
    ``LogisticRegression(C=1 / (alpha * sum_i s_i), class_weight=class_weight)``
    (multinomial) minimises the same function up to a constant factor. The
    gradient is the prediction error times the input::

        grad_W J = (s * c_y * (Q - Y))^T X / sum_i s_i + alpha * W

    with ``Y`` the one-hot labels. The model is the true multinomial one, with
    ``K`` rows of coefficients also when ``K = 2``; on two classes
    ``SoftmaxCE(alpha=2a)`` gives the same probabilities as
    ``WeightedLogisticCE(alpha=a, beta=1)``.

    Parameters
    ----------
    class_weight : dict, "balanced" or None, default=None
        Per-class weights ``c_k``. ``None`` gives every class weight 1. A dict
        ``{label: weight}`` sets the weights of the labels it names (others keep
        weight 1); a label that is not in the training data raises a
        ``ValueError``. ``"balanced"`` uses scikit-learn's
        :func:`~sklearn.utils.class_weight.compute_class_weight` formula with
        the sample weights: ``c_k = (sum_i s_i) / (K * sum_{i: y_i = k} s_i)``.

    %(shared_parameters)s
    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features)
        Coefficients ``W``, in the dtype of ``X`` (float32 or float64).

    intercept_ : ndarray of shape (n_classes,)
        Intercepts ``b``.

    class_weight_ : ndarray of shape (n_classes,)
        The class weights ``c_k`` used in the fit.

    %(shared_attributes)s
    See Also
    --------
    WeightedLogisticCE : Binary logistic regression with a positive-class weight.
    sklearn.linear_model.LogisticRegression : The same model fitted by
        quasi-Newton or Newton methods.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skce import SoftmaxCE
    >>> X, y = load_iris(return_X_y=True)
    >>> model = SoftmaxCE(alpha=1e-3).fit(X, y)
    >>> model.coef_.shape, model.intercept_.shape
    ((3, 4), (3,))
    >>> model.predict_proba(X[:2]).sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    """

    _parameter_constraints: dict = {
        **BaseCrossEntropyClassifier._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    _loss = MultinomialCrossEntropy

    def __init__(
        self,
        class_weight=None,
        *,
        alpha=1e-4,
        fit_intercept=True,
        solver="auto",
        preconditioner="auto",
        learning_rate="auto",
        tol=1e-7,
        max_iter=1000,
        warm_start=False,
        label_smoothing=0.0,
        prior_correction=False,
        verbose=0,
    ):
        store_parameters(self, locals())

    def _check_n_classes(self, n_classes):
        """Any number of classes from two up is supported."""

    def _class_weights(self, class_totals):
        n_classes = self.classes_.shape[0]
        weights = np.ones(n_classes)
        totals = class_totals
        if isinstance(self.class_weight, str):  # "balanced"
            with np.errstate(divide="ignore"):
                weights = np.where(totals > 0, totals.sum() / (n_classes * totals), 0.0)
        elif self.class_weight is not None:
            known = {label: k for k, label in enumerate(self.classes_.tolist())}
            unknown = [label for label in self.class_weight if label not in known]
            if unknown:
                raise ValueError(
                    f"class_weight has labels that are not in the training data: "
                    f"{unknown}. The classes are {self.classes_.tolist()}."
                )
            for label, weight in self.class_weight.items():
                weight = float(weight)
                if not (np.isfinite(weight) and weight >= 0):
                    raise ValueError(
                        f"class_weight[{label!r}] must be a finite number >= 0, got {weight!r}."
                    )
                weights[known[label]] = weight
            if np.count_nonzero(totals * weights) < 2:
                raise ValueError(
                    "class_weight leaves fewer than two classes with a positive "
                    "weight; a classifier needs at least two weighted classes."
                )
        self.class_weight_ = weights
        return weights

    def _set_class_weights(self, class_weight):
        self.class_weight_ = class_weight

    def _fitted_class_weights(self):
        return self.class_weight_

    def _weight_parameters(self, class_weight):
        """The parameters that fix the class weights to ``class_weight`` (``classes_`` set)."""
        labels = self.classes_.tolist()
        return {"class_weight": dict(zip(labels, map(float, class_weight), strict=True))}

    def decision_function(self, X):
        """Logits of the classes.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            A dask array (chunked by rows only) gives a lazy dask array,
            computed chunk by chunk.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            With two classes, the margin ``z_1 - z_0`` (positive values predict
            ``classes_[1]``), as in scikit-learn's binary convention.
        """
        if _is_dask_array(X):
            return self._lazy_prediction(X, "decision_function")
        Z = self._logits(X)
        if Z.shape[1] == 2:
            return Z[:, 1] - Z[:, 0]
        return Z
