"""The cross-validated estimators: WeightedLogisticCECV and SoftmaxCECV.

The fitting logic is :class:`skce._cv.CrossValidatedMixin`; here are only the
parameters, the grid's checks and the edge advice of each. Their public home is
:mod:`skce.linear_model`.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.metrics import get_scorer_names

from ._base import BaseCrossEntropyClassifier, store_parameters
from ._compat import StrOptions
from ._cv import DEFAULT_ALPHAS, CrossValidatedMixin, _refuse_duplicates
from ._docstrings import document_cv
from ._estimators import SoftmaxCE, WeightedLogisticCE

__all__ = ["SoftmaxCECV", "WeightedLogisticCECV"]

_CV_CONSTRAINTS = {
    name: constraint
    for name, constraint in BaseCrossEntropyClassifier._parameter_constraints.items()
    if name != "alpha"
}
_CV_CONSTRAINTS.update(
    {
        "alphas": ["array-like"],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, list, tuple, set, dict, None],
        "refit": ["boolean", str, callable],
        "n_jobs": [Integral, None],
    }
)


@document_cv
class WeightedLogisticCECV(CrossValidatedMixin, WeightedLogisticCE):
    """β-weighted logistic regression with β and alpha chosen by cross-validation.

    For every β in ``betas`` and ``alpha`` in ``alphas`` it computes the
    cross-validated score that ::

        GridSearchCV(WeightedLogisticCE(), {"beta": betas, "alpha": alphas},
                     cv=cv, scoring=scoring, refit=refit)

    computes, chooses the best candidate the same way (ties: the first in
    ``ParameterGrid`` order) and refits it on all the data, in a fraction of
    the time: per (β, fold) the fold's objective is prepared once (validation,
    weighted targets ``A``, column moments, curvature bound) and minimised at
    every alpha from the largest to the smallest, each fit warm-started from
    the previous one and stopped by the same rule, ``max |grad J| <= tol``,
    as a cold fit (so the optimum does not depend on the path). The
    (β, fold) paths run in parallel with joblib. When the best β or alpha is
    at an end of its grid a :class:`~skce.linear_model.GridEdgeWarning` says
    which way to extend the grid; under a scoring that prefers the
    unweighted fit (``"neg_log_loss"``, ``"neg_brier_score"``,
    :data:`~skce.cross_entropy_score`) its advice on β only ever points
    towards β = 1.

    Parameters
    ----------
    betas : array-like of (float > 0 or "balanced"), default=(1, 2, 4, 8, 16, "balanced")
        The weights of the positive class tried (see ``beta`` of
        :class:`WeightedLogisticCE`). ``"balanced"`` is the ratio of the
        negative to the positive sample weight of each training fold, as in
        ``WeightedLogisticCE(beta="balanced")``.

    %(alphas)s
    %(cv_parameters)s
    scoring : str, callable, list, tuple, set, dict or None, default="balanced_accuracy"
        How a candidate is scored on a test fold (greater is better): any
        scikit-learn scorer name, a scorer callable ``scorer(estimator, X,
        y)`` (such as :data:`~skce.cross_entropy_score`), a list of names
        or a dict of name to scorer (several metrics, with ``refit=<name>``),
        or None for the estimator's ``score`` (accuracy).
    %(scoring_choice)s

    %(estimator_parameters)s
    Attributes
    ----------
    beta_ : float
        The chosen β (``"balanced"`` resolved on all the data).

    coef_ : ndarray of shape (1, n_features)
        Coefficients of the refitted model.

    intercept_ : ndarray of shape (1,)
        Intercept of the refitted model.

    %(cv_attributes)s
    See Also
    --------
    WeightedLogisticCE : The estimator tuned here.
    SoftmaxCECV : The same for softmax regression and class weights.
    sklearn.model_selection.GridSearchCV : The search this computes.

    Notes
    -----
    The folds' fits emit no warnings of their own: their warnings are
    gathered and emitted once by ``fit`` (fits that did not converge as one
    ``ConvergenceWarning`` that counts them), the same with one process as
    with many.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skce import WeightedLogisticCECV
    >>> X, y = make_classification(n_samples=600, weights=[0.9], random_state=0)
    >>> search = WeightedLogisticCECV(betas=[1, 4, "balanced"], alphas=[1e-1, 1e-2, 1e-3])
    >>> search = search.fit(X, y)
    >>> sorted(search.best_params_)
    ['alpha', 'beta']
    >>> search.cv_results_["mean_test_score"].shape
    (9,)
    >>> search.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {**_CV_CONSTRAINTS, "betas": ["array-like"]}

    _estimator_class = WeightedLogisticCE
    _weight_parameter = "beta"
    _weight_attribute = "beta_"

    def __init__(
        self,
        *,
        betas=(1, 2, 4, 8, 16, "balanced"),
        alphas=DEFAULT_ALPHAS,
        cv=5,
        scoring="balanced_accuracy",
        refit=True,
        n_jobs=None,
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

    def _check_weights(self):
        betas = list(np.ravel(np.asarray(self.betas, dtype=object)))
        if not betas:
            raise ValueError('betas is empty: give at least one beta > 0 or "balanced".')
        for beta in betas:
            if isinstance(beta, str) and beta == "balanced":
                continue
            number = isinstance(beta, Real) and not isinstance(beta, bool)
            if not (number and np.isfinite(beta) and beta > 0):
                raise ValueError(
                    f'betas must hold finite numbers > 0 or "balanced", got {beta!r} in {betas!r}.'
                )
        _refuse_duplicates("betas", betas)
        return betas

    def _weight_edges(self, totals, calibrating):
        """Advice when the best β is the largest or smallest β of the grid.

        ``calibrating`` names the scoring that chose if it prefers the
        unweighted fit (such as ``"neg_log_loss"``, see
        ``_calibrating_scoring``), else is None. Such a scoring's best β is 1
        in principle, so the advice only ever points towards 1: add 1 when the
        best β is the end of the grid nearest to 1 and the grid lacks 1, and
        nothing otherwise (a best β of 1 leaves nothing to extend, and beyond
        the end away from 1 this scoring has nothing to gain).
        """
        balanced = float(totals[0] / totals[1])
        betas = self._check_weights()
        values = [balanced if isinstance(b, str) else float(b) for b in betas]
        best = self.best_params_["beta"]
        value = balanced if isinstance(best, str) else float(best)
        if len(set(values)) < 2:
            return []
        shown = f"beta = {best!r} (= {value:.3g})" if isinstance(best, str) else f"beta = {value:g}"
        if calibrating:
            if value == max(values) < 1:
                end = "largest"
            elif value == min(values) > 1:
                end = "smallest"
            else:  # not at an end, at 1, or at the end away from 1
                return []
            return [
                f"{shown} is the {end} in betas, and the scoring {calibrating} prefers the "
                "unweighted fit (beta = 1, whose probabilities are calibrated): add 1 to betas"
            ]
        if value == max(values):
            return [
                f"{shown} is the largest in betas: the best weight of the positive class may "
                f"be larger; extend betas upward (e.g. add {2 * value:.3g})"
            ]
        if value == min(values):
            return [
                f"{shown} is the smallest in betas: the best weight of the positive class "
                f"may be smaller; extend betas downward (e.g. add {value / 2:.3g})"
            ]
        return []


@document_cv
class SoftmaxCECV(CrossValidatedMixin, SoftmaxCE):
    """Softmax regression with the class weights and alpha chosen by cross-validation.

    For every class weighting in ``class_weights`` and ``alpha`` in
    ``alphas`` it computes the cross-validated score that ::

        GridSearchCV(SoftmaxCE(), {"class_weight": class_weights, "alpha": alphas},
                     cv=cv, scoring=scoring, refit=refit)

    computes, chooses the best candidate the same way and refits it on all the
    data, with one prepared objective and a warm-started path over the alphas
    (largest first) per (class weighting, fold), the paths in parallel: see
    :class:`WeightedLogisticCECV`, which does the same for β. When the best
    alpha is at an end of its grid a
    :class:`~skce.linear_model.GridEdgeWarning` says which way to extend it.

    Parameters
    ----------
    class_weights : array-like of (None, "balanced" or dict), default=(None, "balanced")
        The class weightings tried (see ``class_weight`` of
        :class:`SoftmaxCE`). ``"balanced"`` is computed on each training
        fold.

    %(alphas)s
    %(cv_parameters)s
    scoring : str, callable, list, tuple, set, dict or None, default="balanced_accuracy"
        How a candidate is scored on a test fold (greater is better): any
        scikit-learn scorer name, a scorer callable (such as
        :data:`~skce.cross_entropy_score`), a list of names or a dict of
        name to scorer (several metrics, with ``refit=<name>``), or None for
        the estimator's ``score`` (accuracy).
    %(scoring_choice)s

    %(estimator_parameters)s
    Attributes
    ----------
    class_weight_ : ndarray of shape (n_classes,)
        The class weights ``c_k`` of the refitted model (of the chosen
        weighting on all the data, with ``refit=False``).

    coef_ : ndarray of shape (n_classes, n_features)
        Coefficients of the refitted model.

    intercept_ : ndarray of shape (n_classes,)
        Intercepts of the refitted model.

    %(cv_attributes)s
    See Also
    --------
    SoftmaxCE : The estimator tuned here.
    WeightedLogisticCECV : The same for the binary model and β.
    sklearn.model_selection.GridSearchCV : The search this computes.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skce import SoftmaxCECV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = SoftmaxCECV(alphas=[1e-2, 1e-3, 1e-4, 1e-5], cv=3).fit(X, y)
    >>> sorted(search.best_params_)
    ['alpha', 'class_weight']
    >>> search.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {**_CV_CONSTRAINTS, "class_weights": ["array-like"]}

    _estimator_class = SoftmaxCE
    _weight_parameter = "class_weight"
    _weight_attribute = "class_weight_"

    def __init__(
        self,
        *,
        class_weights=(None, "balanced"),
        alphas=DEFAULT_ALPHAS,
        cv=5,
        scoring="balanced_accuracy",
        refit=True,
        n_jobs=None,
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

    def _check_weights(self):
        weights = list(self.class_weights)
        if not weights:
            raise ValueError(
                'class_weights is empty: give at least one of None, "balanced" or a dict.'
            )
        for weight in weights:
            if weight is None or (isinstance(weight, str) and weight == "balanced"):
                continue
            if not isinstance(weight, dict):
                raise ValueError(
                    'class_weights must hold None, "balanced" or dicts {label: weight}, got '
                    f"{weight!r} in {weights!r}."
                )
            for label, value in weight.items():
                number = isinstance(value, Real) and not isinstance(value, bool)
                if not (number and np.isfinite(value) and value >= 0):
                    raise ValueError(
                        f"class_weights must hold finite weights >= 0, got {value!r} for "
                        f"label {label!r} in {weight!r}."
                    )
        _refuse_duplicates("class_weights", weights)
        return weights

    def _weight_edges(self, totals, calibrating):
        """Class weightings have no order: no edge to warn about."""
        return []
