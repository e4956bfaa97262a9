"""The shared estimator base: validation, the fit driver, the prediction API.

Everything that :class:`~skce.WeightedLogisticCE` and :class:`~skce.SoftmaxCE`
have in common lives here; the subclasses only say which loss they use, how
their per-class weights are built and how many classes they accept.
"""

import sys
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._compat import Interval, StrOptions, _check_sample_weight, _fit_context
from ._convergence import warn_if_not_converged
from ._fit import run
from ._inference import InferenceMixin
from ._links import api_page_template
from ._objective import LinearObjective, weighted_targets
from ._plan import PRECONDITIONERS, SOLVER_CHOICES, plan_fit
from ._solvers import SOLVERS
from ._threads import limit_blas_threads

_DTYPES = [np.float64, np.float32]
_SPARSE_FORMATS = ["csr", "csc"]


def _is_dask_array(X):
    """Whether ``X`` is a dask array, DataFrame or Series, without importing dask.

    If dask.array (dask.dataframe) has not been imported, nothing can be one of
    its arrays (frames).
    """
    array = sys.modules.get("dask.array")
    if array is not None and isinstance(X, array.Array):
        return True
    frame = sys.modules.get("dask.dataframe")
    return frame is not None and isinstance(X, (frame.DataFrame, frame.Series))


def store_parameters(estimator, parameters):
    """Set the arguments of ``__init__`` (its ``locals()``) as attributes, unchanged.

    scikit-learn's rule for ``__init__``: store, never validate (``fit`` does).
    """
    for name, value in parameters.items():
        if name != "self":
            setattr(estimator, name, value)


def _check_prior_correction(class_weight):
    """Refuse ``prior_correction`` with a zero class weight (``ln 0``)."""
    if np.any(class_weight == 0):
        raise ValueError(
            "prior_correction=True needs positive class weights: the correction "
            "subtracts ln(c_k) from the logits, and a class weight is 0."
        )


class BaseCrossEntropyClassifier(InferenceMixin, ClassifierMixin, BaseEstimator):
    """Linear classifier fitted by minimising weighted cross-entropy.

    Subclasses set ``_loss`` and implement ``_check_n_classes`` and
    ``_class_weights``.
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions(set(SOLVER_CHOICES))],
        "preconditioner": [StrOptions(set(PRECONDITIONERS))],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "prior_correction": ["boolean"],
        "verbose": ["verbose"],
    }

    _loss = None

    # scikit-learn's HTML repr links the estimator's diagram to its API page
    # through these two (private hooks, see skce/_compat.py): the skce page, not
    # scikit-learn's, which has none for skce's classes.
    _doc_link_module = "skce"

    @property
    def _doc_link_template(self):
        # Imported here: skce/__init__.py sets __version__ after importing this module.
        from . import __version__

        return api_page_template(__version__)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- hooks for subclasses ------------------------------------------------
    def _check_n_classes(self, n_classes):
        raise NotImplementedError

    def _class_weights(self, class_totals):
        """Per-class weights ``c_k`` as an array of shape (n_classes,).

        ``class_totals`` holds the sum of the sample weights of each class.
        Sets the fitted attribute of the weights (``beta_``, ``class_weight_``).
        """
        raise NotImplementedError

    def _set_class_weights(self, class_weight):
        """Set the fitted attribute of the weights to ``class_weight`` (all ``c_k``)."""
        raise NotImplementedError

    # -- fit -------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    @limit_blas_threads  # BLAS thread policy: skce/_threads.py
    def fit(self, X, y, sample_weight=None):
        """Fit the model by minimising the penalised weighted cross-entropy.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data. float32 input is kept float32 (the fitted attributes
            are float32); CSR and CSC matrices are used without densifying or
            copying. Other input is converted to float64. A
            ``dask.array.Array`` chunked by rows only (NumPy or CSR chunks), or
            a dask DataFrame (one chunk per partition; its column names become
            ``feature_names_in_``), is fitted where its chunks live (see Notes).
        y : array-like or dask array of shape (n_samples,)
            Class labels. With a dask ``X``: a dask array with ``X``'s row
            chunks, or a NumPy array (split to match them).
        sample_weight : array-like or dask array of shape (n_samples,), default=None
            Non-negative weights ``s_i``; ``None`` means all ones. With a dask
            ``X``, as ``y``.

        Returns
        -------
        self : object
            The fitted estimator.

        Notes
        -----
        With a dask array ``X`` (the ``skce[dask]`` extra), ``X`` is never
        gathered on the client: its chunks are kept (or, with
        ``dask.config.set({"skce.chunks": "recompute"})``, recomputed) on the
        workers, every sum over rows is a sum of per-chunk partials, and the
        optimum is the in-memory one. ``X`` chunked by columns, ``y`` or
        ``sample_weight`` chunked unlike ``X``, and rows with NaN or infinity
        raise a ``ValueError`` that says what to change. See the "Scaling
        out" page of the documentation (also for what differs from a fit in
        memory).
        """
        if _is_dask_array(X):
            # Imported only for dask input: `import skce` and NumPy fits never import dask.
            from ._dask import ChunkedData, as_dask_arrays

            X, y, sample_weight, names = as_dask_arrays(X, y, sample_weight)
            data = ChunkedData(X, y, sample_weight)
            self.__dict__.pop("feature_names_in_", None)  # an earlier fit's
            if names is not None:
                self.feature_names_in_ = names
            self.n_features_in_ = data.n_features
            self._fit_objective(self._chunked_objective(data), data.X)
        else:
            self._fit_objective(*self._objective(X, y, sample_weight))
        return self

    def _objective(self, X, y, sample_weight, reset=True, classes=None):
        """Validate in-memory data and build the objective of a fit: ``(objective, X)``.

        Sets ``classes_``, the fitted class weights and (with ``reset``) the
        feature attributes, as a fit does; ``X`` is the validated array (its
        dtype is that of the fitted attributes). Everything here is done once
        per data set: :meth:`_fit_path` solves the objective at many ``alpha``.

        ``classes`` (sorted, holding every label of ``y``) are the classes of
        the model when given: a cross-validation fold is fitted with the
        classes of all the data, so that a training part that lacks a class
        still gives a model of every class (see :meth:`_fit_classes`).
        """
        X, y = validate_data(
            self, X, y, accept_sparse=_SPARSE_FORMATS, dtype=_DTYPES, order=None, reset=reset
        )
        check_classification_targets(y)
        # The class codes in the smallest integer type, by a search among the
        # sorted classes: peak memory of a fit on 1M x 10 dense 0.51 of X with
        # np.unique's int64 inverse, 0.35 with these (LogisticRegression: 0.41).
        absent = None
        if classes is None:
            classes = np.unique(y)
        else:
            absent = ~np.isin(classes, y)
        y_codes = np.searchsorted(classes, y).astype(np.min_scalar_type(classes.size - 1))
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        class_totals = np.bincount(y_codes, weights=sample_weight, minlength=classes.shape[0])
        class_totals = class_totals.astype(np.float64)
        class_weight = self._fit_classes(classes, class_totals, absent)
        A = weighted_targets(
            y_codes, classes.shape[0], sample_weight, class_weight, self.label_smoothing
        )
        objective = LinearObjective(
            self._loss, X, A, alpha=self.alpha, fit_intercept=self.fit_intercept
        )
        return objective, X

    def _fit_path(self, objective, X, alphas):
        """Fit at every alpha of ``alphas`` in turn, each fit warm-started from the last.

        ``objective`` and ``X`` come from :meth:`_objective`; the column
        moments and curvature bound are computed once and shared by all the
        fits (:meth:`LinearObjective.with_alpha`). Each fit is the one that
        ``set_params(alpha=a, warm_start=True).fit(...)`` would run after the
        previous one: the same solver, coordinates and stopping rule
        (``max |grad J| <= tol``), so the optimum reached does not depend on
        the path, only the iterations to reach it do. Yields after each fit,
        with the fitted attributes of that ``alpha`` set on ``self``; the
        parameters ``alpha`` and ``warm_start`` are left as they were.
        """
        alpha, warm_start = self.alpha, self.warm_start
        coords = None
        try:
            for k, a in enumerate(alphas):
                self.alpha = float(a)
                self.warm_start = warm_start or k > 0
                at_alpha = objective.with_alpha(a)
                coords = self._fit_objective(at_alpha, X, coords)
                yield self
        finally:
            self.alpha, self.warm_start = alpha, warm_start

    def _chunked_objective(self, data):
        """The objective of a fit on chunked ``data`` (a ``skce._dask.ChunkedData``).

        Checks the classes and sets ``classes_`` and the fitted class weights,
        as a fit does.
        """
        class_weight = self._fit_classes(data.classes, data.class_totals)
        return data.objective(
            self._loss,
            class_weight,
            self.label_smoothing,
            alpha=self.alpha,
            fit_intercept=self.fit_intercept,
        )

    def _fit_classes(self, classes, class_totals, absent=None):
        """Check the classes and their weight totals; set ``classes_``; return ``c_k``.

        ``classes`` are the sorted labels, ``class_totals`` the sum of the
        sample weights of each. ``absent`` (a boolean mask over ``classes``,
        or None) marks the classes that have no sample in the data fitted:
        only a cross-validation fold whose training part lacks a class has
        them. Such a fold is fitted anyway, as ``LogisticRegressionCV`` fits
        it: an absent class counts among the classes of the model (one
        present class is then enough) and gets the weight 1, which changes
        nothing in the fit (it weighs no sample) and leaves its logit
        uncorrected under ``prior_correction``.
        """
        self._check_n_classes(classes.shape[0])
        if classes.shape[0] < 2:
            raise ValueError(
                "The data contains only one class: "
                f"{classes.tolist()[0]!r}. A classifier needs samples of at least two classes."
            )
        self.classes_ = classes
        n_absent = 0 if absent is None else int(np.count_nonzero(absent))
        if np.count_nonzero(class_totals) + n_absent < 2:
            raise ValueError(
                "Only one class has a positive total sample weight "
                f"(class {classes.tolist()[int(np.argmax(class_totals))]!r}); a classifier needs "
                "weighted samples of at least two classes."
            )
        class_weight = self._class_weights(class_totals)
        if n_absent:
            class_weight = np.where(absent, 1.0, class_weight)
            self._set_class_weights(class_weight)
        if self.prior_correction:
            _check_prior_correction(class_weight)
        return class_weight

    def _fit_objective(self, objective, X, previous=None):
        """Plan and run the fit of ``objective``, store it; return the coordinates it ended in.

        ``X`` gives the fitted attributes' dtype. ``previous`` are the
        coordinates a fit of the same data at another ``alpha`` ended in
        (:meth:`_fit_path`): a full metric is then carried over instead of
        rebuilt (see :mod:`skce._plan` for every choice).
        """
        theta0 = self._initial_theta(objective)
        plan = plan_fit(
            objective,
            solver=self.solver,
            preconditioner=self.preconditioner,
            warm=bool(theta0.any()),
            carried=previous is not None,
        )
        options = {}
        if "learning_rate" in SOLVERS[plan.solver].options:
            options["learning_rate"] = self._learning_rate(objective)
        result, coords = run(
            plan,
            objective,
            theta0,
            tol=self.tol,
            max_iter=self.max_iter,
            callback=self._progress_printer(),
            previous=previous,
            **options,
        )
        self._store_fit(objective, result, X, plan)
        return coords

    def _store_fit(self, objective, result, X, plan):
        """Store the fitted attributes of a solver ``result`` (``X`` gives the dtype)."""
        W, b = objective.unpack(result.x)
        self.coef_ = np.array(W, dtype=X.dtype)
        self.intercept_ = np.array(b, dtype=X.dtype)
        self.n_iter_ = int(result.n_iter)
        self.solver_ = plan.solver
        self.status_ = result.status
        self.loss_curve_ = [float(f) for f in result.history]
        # Loss-and-gradient (or loss-only) evaluations, for the benchmarks.
        self._n_evals = int(result.n_evals)
        # alpha=0 on separable data: the solver can meet tol (the gradient vanishes
        # as the weights grow) although no minimiser exists. A fit that classifies
        # every weighted sample correctly proves it (LinearObjective.separates).
        separable = bool(self.alpha == 0 and objective.separates(result.x))
        self.separable_ = separable
        warn_if_not_converged(self, result, separable, plan)

    def _initial_theta(self, objective):
        if self.warm_start and hasattr(self, "coef_"):
            shape = (objective.n_outputs, objective.n_features)
            if self.coef_.shape == shape:
                return objective.pack(self.coef_, self.intercept_)
        return np.zeros(objective.n_params)

    def _fitted_class_weights(self):
        """The class weights ``c_k`` of the fit, from its public attributes."""
        raise NotImplementedError

    def _prior_offset(self):
        """What ``prior_correction`` subtracts from the logits, or None.

        ``ln c_k`` per logit, computed from the fitted public attributes
        (``beta_`` or ``class_weight_``) and the ``prior_correction`` parameter,
        so a model rebuilt from its parameters and public attributes predicts
        the same. The correction does not change the fit, so it is read at
        prediction time: ``set_params(prior_correction=...)`` after ``fit``
        takes effect without a refit.
        """
        if not self.prior_correction:
            return None
        weights = np.asarray(self._fitted_class_weights(), dtype=np.float64)
        _check_prior_correction(weights)
        return self._logit_offset(np.log(weights))

    @staticmethod
    def _logit_offset(log_weights):
        """The offset per logit from ``ln c_k``; one logit per class here."""
        return log_weights

    def _progress_printer(self):
        """Solver callback printing progress on stderr when ``verbose`` is set.

        ``verbose=1`` prints the first iteration, every 10th, and any iteration
        more than 2 seconds after the last line, so long fits stay visible;
        ``verbose >= 2`` prints every iteration.
        """
        if not self.verbose:
            return None
        name = type(self).__name__
        every = 1 if self.verbose >= 2 else 10
        last = [time.perf_counter()]

        def report(k, f, grad_max, step):
            now = time.perf_counter()
            if k % every == 0 or now - last[0] > 2.0:
                last[0] = now
                print(
                    f"{name} [{self.solver}] iter {k:6d}  objective {f:.12g}  "
                    f"max|grad| {grad_max:.3e}  step {step:.3e}",
                    file=sys.stderr,
                    flush=True,
                )

        return report

    def _learning_rate(self, objective):
        if self.learning_rate == "auto":
            # The descent lemma: 1/L makes every step of gd decrease the objective.
            with np.errstate(over="ignore", invalid="ignore"):
                lipschitz = objective.lipschitz()
            if not np.isfinite(lipschitz):
                raise ValueError(
                    "The Lipschitz constant of the gradient (which sets the step of "
                    "solver='gd') overflows float64: X holds values too large for their "
                    "squares (about 1e154 and beyond). Rescale X before fitting, e.g. with "
                    "sklearn.preprocessing.MaxAbsScaler or StandardScaler."
                )
            return 1.0 / lipschitz
        return float(self.learning_rate)

    # -- prediction ------------------------------------------------------------
    def _lazy_prediction(self, X, method):
        """``method`` on a dask array: a lazy dask array, computed chunk by chunk."""
        from ._dask_predict import lazy_prediction

        return lazy_prediction(self, X, method)

    @limit_blas_threads  # BLAS thread policy: skce/_threads.py
    def _logits(self, X):
        """Logits ``X W^T + b`` of shape (n_samples, n_outputs).

        With ``prior_correction=True``, minus ``ln c_k`` (the prior shift that the
        class weights put into the fitted logits).
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=_SPARSE_FORMATS, dtype=_DTYPES, reset=False)
        Z = X @ self.coef_.T
        Z = np.asarray(Z) + self.intercept_
        offset = self._prior_offset()
        if offset is not None:
            Z = Z - offset
        return Z

    def predict_log_proba(self, X):
        """Log of the class probabilities.

        Computed from the logits with a log-sigmoid / log-softmax formula, so it
        is finite even where ``predict_proba`` rounds to 0.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            A dask array (chunked by rows only) gives a lazy dask array,
            computed chunk by chunk.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        if _is_dask_array(X):
            return self._lazy_prediction(X, "predict_log_proba")
        return self._loss.log_proba(self._logits(X))

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            A dask array (chunked by rows only) gives a lazy dask array,
            computed chunk by chunk.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; rows sum to 1.
        """
        if _is_dask_array(X):
            return self._lazy_prediction(X, "predict_proba")
        return self._loss.proba(self._logits(X))

    def predict(self, X):
        """Most probable class of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            A dask array (chunked by rows only) gives a lazy dask array,
            computed chunk by chunk.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        if _is_dask_array(X):
            return self._lazy_prediction(X, "predict")
        Z = self._logits(X)
        if Z.shape[1] == 1:
            index = (Z[:, 0] > 0).astype(np.intp)
        else:
            index = np.argmax(Z, axis=1)
        return self.classes_[index]
