"""Linear classifiers trained by minimising cross-entropy with gradient descent."""

from numbers import Integral, Real

import numpy as np
from sklearn.metrics import get_scorer_names

from ._base import BaseCrossEntropyClassifier, _is_dask_array
from ._compat import Interval, StrOptions
from ._cv import DEFAULT_ALPHAS, CrossValidatedMixin, GridEdgeWarning, _refuse_duplicates
from ._loss import BinaryCrossEntropy, MultinomialCrossEntropy

__all__ = [
    "GridEdgeWarning",
    "SoftmaxCE",
    "SoftmaxCECV",
    "WeightedLogisticCE",
    "WeightedLogisticCECV",
]

_ALPHA_PARAMETER = """\
    alpha : float, default=1e-4
        Strength of the L2 penalty ``(alpha / 2) ||W||^2`` on the coefficients
        (never on the intercept). ``alpha=0`` fits the maximum-likelihood
        estimate, which exists only if the classes are not linearly separable;
        a fit with ``alpha=0`` whose logits classify every training sample of
        positive weight correctly ends with a ``ConvergenceWarning`` that says
        so.
        ``LogisticRegression(C=C)`` on ``n`` unit-weight samples corresponds to
        ``alpha = 1 / (C * n)``.

"""

_ESTIMATOR_PARAMETERS = """\
    fit_intercept : bool, default=True
        Whether to fit the unpenalised intercept ``b``.

    solver : {"bb", "agd", "lbfgs", "gd"}, default="bb"
        The gradient-descent method:

        - ``"bb"``: gradient descent with Barzilai-Borwein step lengths and a
          non-monotone (Grippo-Lampariello-Lucidi) Armijo line search.
        - ``"agd"``: Nesterov-accelerated gradient descent with a backtracking
          line search that can also grow the step, and gradient-based adaptive
          restart.
        - ``"lbfgs"``: limited-memory BFGS with a backtracking line search, on
          the same objective and stopping rule; a quasi-Newton method, there
          for comparison.
        - ``"gd"``: textbook gradient descent with the constant step
          ``learning_rate``, in the original coordinates. Slow on ill-conditioned
          data; there for teaching and comparison.

        ``"bb"``, ``"agd"`` and ``"lbfgs"`` run in implicitly standardised coordinates (an
        exact change of variables equivalent to centring and scaling the
        columns, without copying ``X``), so they are robust on raw, unscaled
        features. All solvers minimise the same objective and stop by the same
        rule.

    preconditioner : {"auto", "diagonal", "full"}, default="auto"
        The change of variables ``"bb"``, ``"agd"`` and ``"lbfgs"`` run in
        (``"gd"`` ignores it):

        - ``"diagonal"``: implicitly centred and scaled columns (Jacobi
          scaling from the curvature bound).
        - ``"full"``: on top of that, a full-matrix metric, the
          curvature-weighted Gram matrix of the standardised columns and its
          Cholesky factor; first built from the curvature bound, then rebuilt
          from the curvature ``p (1 - p)`` at the current point after rounds
          of 4 iterations or more, each 25% longer than the last (longer
          first rounds where a refresh costs many evaluations); the solver
          continues from its last iterate in the new metric. Steps then behave
          like Newton steps: on raw, collinear features it converges in 14-26
          iterations on breast cancer and about 40 on digits, where
          ``"diagonal"`` hits ``max_iter``. It
          costs a ``(d + 1)^2`` Gram matrix per refresh (from at most 32k
          sampled rows of dense data) and two triangular solves per
          evaluation. ``SoftmaxCE`` couples the classes in the metric when
          ``K (d + 1)`` is small (raw iris, wine, digits), and otherwise
          shares one metric between them.
        - ``"auto"``: ``"full"`` for ``"bb"`` and ``"agd"`` on dense ``X``
          with at most 200 features (where it was measured to pay),
          ``"diagonal"`` otherwise: for sparse ``X`` (no row sampling, measured
          slower) and for ``"lbfgs"`` (which keeps its own curvature pairs,
          discarded at every refresh).

        All are exact changes of variables: the objective, its optimum and the
        stopping rule (``max |grad J| <= tol`` in the original coordinates) are
        the same.

    learning_rate : "auto" or float, default="auto"
        Constant step of ``solver="gd"`` (ignored by the other solvers).
        ``"auto"`` uses ``1 / L`` with ``L`` the Lipschitz constant of the
        gradient computed from the weighted data. A step so large that the
        objective explodes raises a ``ValueError`` naming ``learning_rate``.

    tol : float, default=1e-7
        Stop when the largest absolute entry of the gradient of ``J`` (intercept
        included) is at most ``tol``. With an intercept, a column that holds one
        value on every row of positive weight gets coefficient 0 exactly (the
        optimum: the intercept takes it over) and its entry, which is that value
        times the intercept's, is left out (the ``bb``, ``agd`` and ``lbfgs``
        solvers).

    max_iter : int, default=1000
        Maximum number of iterations. When it is reached before ``tol``, a
        :class:`~sklearn.exceptions.ConvergenceWarning` is emitted.

    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_`` (when their shape
        fits) instead of zeros. ``fit`` is otherwise deterministic.

    label_smoothing : float in [0, 1), default=0.0
        Replace the one-hot targets by ``t = (1 - eps) onehot(y) + eps / K``
        (``K = 2`` for the binary model: ``t = y (1 - eps) + eps / 2``), as in
        PyTorch's ``CrossEntropyLoss``. ``CE_i`` becomes
        ``-sum_k c_k t_ik ln q_ik``, exactly, in the objective and its gradient.
        The smallest possible ``CE_i`` is then the entropy of ``t_i`` (> 0), by
        ``H(t, q) = H(t) + KL(t || q)``.

    prior_correction : bool, default=False
        Class weights shift the fitted logits by about ``ln c_k`` (``ln beta``
        for the binary model), so ``predict_proba`` describes a population in
        which class ``k`` is ``c_k`` times more frequent. With
        ``prior_correction=True``, ``decision_function``, ``predict_proba``,
        ``predict_log_proba`` and ``predict`` use the logits minus ``ln c_k``,
        which restores calibrated probabilities (and moves the decision
        threshold back). ``coef_`` and ``intercept_`` stay the minimiser of
        ``J``: the correction does not change the fit, and is applied at
        prediction time from ``prior_correction`` and the fitted ``beta_`` /
        ``class_weight_`` (so ``set_params(prior_correction=...)`` after
        ``fit`` takes effect without a refit; a zero class weight is refused).

    verbose : int, default=0
        ``1`` prints the iteration, objective, largest gradient entry and step
        on stderr every 10 iterations (and at least every 2 seconds); ``2``
        every iteration.
"""

_SHARED_ATTRIBUTES = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    n_iter_ : int
        Number of solver iterations performed. On dense data with more than
        65,536 rows, ``"bb"``, ``"agd"`` and ``"lbfgs"`` (unless warm-started)
        first fit a 16,384-row sample and start from its solution; those
        cheaper iterations are not counted here.

    loss_curve_ : list of float
        The objective ``J`` at the start and after every iteration of the fit
        (on every row; after the sample fit, if there was one).

    status_ : {"converged", "max_iter", "stalled"}
        How the solver ended: ``"converged"`` (the largest gradient entry is at
        most ``tol``), ``"max_iter"`` (the iteration limit came first) or
        ``"stalled"`` (the limit of the working precision: no more progress,
        and no gradient entry more than 10 times its estimated rounding error,
        or the objective's rounding error hides any further decrease).
        Anything but ``"converged"`` also emitted a ``ConvergenceWarning``.

    separable_ : bool
        True when ``alpha=0`` and the fitted logits classify every training
        sample of positive weight strictly correctly: the classes are linearly
        separable, the cross-entropy has no minimiser, and the fit emitted a
        ``ConvergenceWarning`` that says so, whatever ``status_`` is.
"""


_WARM_START = """\
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_`` (when their shape
        fits) instead of zeros. ``fit`` is otherwise deterministic.
"""

_CV_WARM_START = """\
    warm_start : bool, default=False
        Start the refit from the previous ``coef_`` and ``intercept_`` (when
        their shape fits) instead of zeros. The fits along ``alphas`` are
        warm-started from each other whatever its value.
"""

_CV_PARAMETERS = """\
    cv : int, cross-validation generator or iterable, default=5
        The splits, as for ``GridSearchCV``: an int is the number of folds
        of :class:`~sklearn.model_selection.StratifiedKFold` (not shuffled);
        a splitter object or an iterable of ``(train, test)`` index arrays
        is used as it is. Every training part must hold every class, and a
        stratified splitter needs at least one member of every class per
        fold: otherwise ``fit`` raises a ``ValueError`` before any fit.

    refit : bool, str or callable, default=True
        Whether to fit the best candidate on all the data, which gives the
        fitted attributes and the prediction API. With several metrics, the
        name of the one that chooses the best candidate. A callable takes
        ``cv_results_`` and returns ``best_index_``, as in ``GridSearchCV``.
        With ``refit=False`` and one metric, ``best_params_`` and the chosen
        values are still set; there is no model to predict with.

    n_jobs : int, default=None
        Number of (class weight, fold) paths run in parallel by joblib
        (``None``: one, unless in a ``joblib.parallel_backend`` context;
        ``-1``: all processors). Under ``joblib.parallel_backend("dask")``
        the paths run as tasks on a dask cluster.

"""

_CV_ALPHAS = """\
    alphas : array-like of float > 0, default=(1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5)
        The penalty strengths tried (see ``alpha`` of the estimator), three
        per decade by default: with features of unit scale, ``1e-1`` shrinks
        the coefficients hard and ``3e-5`` hardly at all for a few thousand
        samples (``alpha`` is divided by no sample count: ``alpha = 1 / (C
        n)`` in ``LogisticRegression``'s terms, so large data sets may want
        smaller values; a warning says when the best value is the smallest).
        Each path solves them from the largest to the smallest, whatever
        their order here; the order here is that of the candidates.

"""


def _document(cls):
    # The placeholders sit on their own indented line; the shared text carries
    # its own indentation.
    estimator = _ESTIMATOR_PARAMETERS
    doc = cls.__doc__.replace("    %(shared_parameters)s\n", _ALPHA_PARAMETER + estimator)
    cv_estimator = estimator.replace(_WARM_START, _CV_WARM_START)
    doc = doc.replace("    %(cv_parameters)s\n", _CV_PARAMETERS)
    doc = doc.replace("    %(alphas)s\n", _CV_ALPHAS)
    doc = doc.replace("    %(estimator_parameters)s\n", cv_estimator)
    cls.__doc__ = doc.replace("    %(shared_attributes)s\n", _SHARED_ATTRIBUTES)
    return cls


@_document
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
        solver="bb",
        preconditioner="auto",
        learning_rate="auto",
        tol=1e-7,
        max_iter=1000,
        warm_start=False,
        label_smoothing=0.0,
        prior_correction=False,
        verbose=0,
    ):
        super().__init__(
            alpha=alpha,
            fit_intercept=fit_intercept,
            solver=solver,
            preconditioner=preconditioner,
            learning_rate=learning_rate,
            tol=tol,
            max_iter=max_iter,
            warm_start=warm_start,
            label_smoothing=label_smoothing,
            prior_correction=prior_correction,
            verbose=verbose,
        )
        self.beta = beta

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
            beta = negatives / positives
        else:
            beta = float(self.beta)
            if not np.isfinite(beta):
                raise ValueError(f"beta must be a finite number > 0, got {self.beta!r}.")
        self.beta_ = float(beta)
        return np.array([1.0, beta])

    def _fitted_class_weights(self):
        return np.array([1.0, self.beta_])

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


@_document
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
        solver="bb",
        preconditioner="auto",
        learning_rate="auto",
        tol=1e-7,
        max_iter=1000,
        warm_start=False,
        label_smoothing=0.0,
        prior_correction=False,
        verbose=0,
    ):
        super().__init__(
            alpha=alpha,
            fit_intercept=fit_intercept,
            solver=solver,
            preconditioner=preconditioner,
            learning_rate=learning_rate,
            tol=tol,
            max_iter=max_iter,
            warm_start=warm_start,
            label_smoothing=label_smoothing,
            prior_correction=prior_correction,
            verbose=verbose,
        )
        self.class_weight = class_weight

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

    def _fitted_class_weights(self):
        return self.class_weight_

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


# -- cross-validated estimators ----------------------------------------------------------
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

_CV_ATTRIBUTES = """\
    cv_results_ : dict of ndarray
        The cross-validation table, with ``GridSearchCV``'s keys and layout:
        ``params``, ``param_alpha``, ``param_<weight>``, ``split<k>_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score`` (with
        several metrics, ``_<name>`` instead of ``_score``),
        ``mean_fit_time``, ``std_fit_time``, ``mean_score_time`` and
        ``std_score_time``. The candidates are in ``ParameterGrid`` order
        (alpha outer, class weight inner). A fit's time is its warm-started
        solve plus an equal share of its path's preparation (validation,
        weighted targets, column moments).

    best_index_ : int
        Index of the chosen candidate in ``cv_results_``: the first with the
        highest mean test score (of the ``refit`` metric), as in
        ``GridSearchCV``. Not set with several metrics and ``refit=False``.

    best_params_ : dict
        The chosen candidate's parameters.

    best_score_ : float
        Its mean test score (not set with a callable ``refit``).

    alpha_ : float
        The chosen ``alpha``.

    best_estimator_ : estimator
        The chosen candidate refitted on all the data (``refit`` not False);
        its fitted attributes are also this estimator's.

    refit_time_ : float
        Seconds spent refitting.

    n_splits_ : int
        Number of cross-validation splits.

    multimetric_ : bool
        Whether several metrics were scored.

    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    n_iter_, loss_curve_, status_, separable_ :
        Those of the refitted model (see the estimator).
"""


def _document_cv(cls):
    doc = cls.__doc__.replace("    %(cv_attributes)s\n", _CV_ATTRIBUTES)
    cls.__doc__ = doc.replace("    %(scoring_choice)s\n", _SCORING_CHOICE + "\n")
    return _document(cls)


_SCORING_CHOICE = """\
        The default, balanced accuracy (the mean recall of the classes),
        scores the decisions, which are what class weights change, and counts
        every class equally. The cross-entropy scorers are the wrong tool for
        choosing the class weights: the unweighted cross-entropy
        (:data:`~skce.cross_entropy_score`, ``"neg_log_loss"``) rewards
        probabilities calibrated to the observed class frequencies, which the
        unweighted fit is fitted to, so it prefers a weight of 1 whatever the
        costs of the errors; a weighted one
        (:func:`~skce.make_cross_entropy_scorer`) prefers the fitted weights
        that equal its own, so it only moves the choice. Cross-entropy is the
        right score to choose ``alpha`` alone for calibrated probabilities
        (with a grid of one class weight). See "Choosing β and alpha by
        cross-validation" in the user guide."""


@_document_cv
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
    which way to extend the grid.

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
        solver="bb",
        preconditioner="auto",
        learning_rate="auto",
        tol=1e-7,
        max_iter=1000,
        warm_start=False,
        label_smoothing=0.0,
        prior_correction=False,
        verbose=0,
    ):
        self.betas = betas
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.preconditioner = preconditioner
        self.learning_rate = learning_rate
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.label_smoothing = label_smoothing
        self.prior_correction = prior_correction
        self.verbose = verbose

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

    def _weight_edges(self, totals):
        """Advice when the best β is the largest or smallest β of the grid."""
        balanced = float(totals[0] / totals[1])
        betas = self._check_weights()
        values = [balanced if isinstance(b, str) else float(b) for b in betas]
        best = self.best_params_["beta"]
        value = balanced if isinstance(best, str) else float(best)
        if len(set(values)) < 2:
            return []
        shown = f"beta = {best!r} (= {value:.3g})" if isinstance(best, str) else f"beta = {value:g}"
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


@_document_cv
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
        solver="bb",
        preconditioner="auto",
        learning_rate="auto",
        tol=1e-7,
        max_iter=1000,
        warm_start=False,
        label_smoothing=0.0,
        prior_correction=False,
        verbose=0,
    ):
        self.class_weights = class_weights
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.preconditioner = preconditioner
        self.learning_rate = learning_rate
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.label_smoothing = label_smoothing
        self.prior_correction = prior_correction
        self.verbose = verbose

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

    def _weight_edges(self, totals):
        """Class weightings have no order: no edge to warn about."""
        return []
