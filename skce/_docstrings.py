"""The docstring parts the estimators share, and the decorators that fill them in.

The parameters and attributes common to :class:`~skce.WeightedLogisticCE`,
:class:`~skce.SoftmaxCE` and their cross-validated forms are written once here;
each class's docstring names them with a placeholder on its own line.
"""

__all__ = ["document", "document_cv"]

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

    solver : {"auto", "bb", "agd", "lbfgs", "newton", "gd"}, default="auto"
        The method:

        - ``"auto"``: ``"newton"`` on sparse ``X`` too wide for the full
          metric (see ``preconditioner``), ``"bb"`` otherwise. On wide sparse
          data (one-hot encodings of many levels, text) a first-order method
          spends thousands of iterations on the last digits; truncated
          Newton's cost falls sharply near the optimum. Where the full metric
          pays, ``"bb"``'s steps in it are Newton-like at one gradient each.
        - ``"bb"``: gradient descent with Barzilai-Borwein step lengths and a
          non-monotone (Grippo-Lampariello-Lucidi) Armijo line search.
        - ``"agd"``: Nesterov-accelerated gradient descent with a backtracking
          line search that can also grow the step, and gradient-based adaptive
          restart.
        - ``"lbfgs"``: limited-memory BFGS with a backtracking line search, on
          the same objective and stopping rule; a quasi-Newton method, there
          for comparison.
        - ``"newton"``: truncated Newton: each iteration solves the Newton
          equations approximately by conjugate gradients on Hessian-vector
          products (two passes over ``X`` each, like a gradient) and
          backtracks from the unit step, the method of scikit-learn's
          ``newton-cg``; in the coordinates below, so the conjugate gradients
          are preconditioned by the diagonal scaling or the full metric.
        - ``"gd"``: textbook gradient descent with the constant step
          ``learning_rate``, in the original coordinates. Slow on ill-conditioned
          data; there for teaching and comparison.

        ``"bb"``, ``"agd"``, ``"lbfgs"`` and ``"newton"`` run in implicitly
        standardised coordinates (an exact change of variables equivalent to
        centring and scaling the columns, without copying ``X``), so they are
        robust on raw, unscaled features. All solvers minimise the same
        objective and stop by the same rule.

    preconditioner : {"auto", "diagonal", "full"}, default="auto"
        The change of variables the solvers other than ``"gd"`` run in
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
          costs a ``(d + 1)^2`` Gram matrix per refresh (over the row
          sample of large dense data: at most 16,384 rows; for sparse ``X``
          summed from its stored entries, ``nnz_i^2 / 2`` per row) and two
          triangular solves per evaluation. ``SoftmaxCE`` couples the classes in the metric when
          ``K (d + 1)`` is small (raw iris, wine, digits, a one-hot
          pipeline's few columns), and otherwise shares one metric between
          them. With ``"newton"`` the metric preconditions its conjugate
          gradients.
        - ``"auto"``: ``"full"`` for ``"bb"``, ``"agd"`` and ``"newton"`` on
          dense ``X`` with at most 200 features, and on sparse ``X`` whose
          ``(d + 1)^2`` is at most a quarter of its stored entries (one-hot
          pipelines of a few categorical columns), where it was measured to
          pay; ``"diagonal"`` otherwise, and for ``"lbfgs"`` (which keeps its
          own curvature pairs, discarded at every refresh).

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

_FIT_ATTRIBUTES = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
"""

_SOLVER_ATTRIBUTES = """\
    n_iter_ : int
        Number of solver iterations performed. On dense data with more than
        65,536 rows, the solvers other than ``"gd"`` (unless warm-started)
        first fit a 16,384-row sample and start from its solution; those
        cheaper iterations are not counted here.

    solver_ : str
        The solver that ran: ``solver`` itself, or what ``solver="auto"``
        chose for this data (``"newton"`` or ``"bb"``).

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
        is used as it is. As in ``LogisticRegressionCV``, a stratified
        splitter with more folds than a class has members gives a warning
        (some test parts hold none of that class), and one with more folds
        than every class has members a ``ValueError``; a split whose
        training part lacks a class (a class of one member, or any
        splitter's choice) is fitted with the classes of all the data, and
        the warning says so.

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


def document(cls):
    # The placeholders sit on their own indented line; the shared text carries
    # its own indentation.
    estimator = _ESTIMATOR_PARAMETERS
    doc = cls.__doc__.replace("    %(shared_parameters)s\n", _ALPHA_PARAMETER + estimator)
    cv_estimator = estimator.replace(_WARM_START, _CV_WARM_START)
    doc = doc.replace("    %(cv_parameters)s\n", _CV_PARAMETERS)
    doc = doc.replace("    %(alphas)s\n", _CV_ALPHAS)
    doc = doc.replace("    %(estimator_parameters)s\n", cv_estimator)
    shared = _FIT_ATTRIBUTES + "\n" + _SOLVER_ATTRIBUTES
    cls.__doc__ = doc.replace("    %(shared_attributes)s\n", shared)
    return cls


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

"""

_REFITTED_ATTRIBUTES = """\
    n_iter_, loss_curve_, status_, separable_ :
        Those of the refitted model (see the estimator).
"""


def document_cv(cls):
    cv_attributes = _CV_ATTRIBUTES + _FIT_ATTRIBUTES + "\n" + _REFITTED_ATTRIBUTES
    doc = cls.__doc__.replace("    %(cv_attributes)s\n", cv_attributes)
    cls.__doc__ = doc.replace("    %(scoring_choice)s\n", _SCORING_CHOICE + "\n")
    return document(cls)


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
