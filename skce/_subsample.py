"""SubsampledCE: the fit of all rows, estimated from a sample of them.

Rare events: with a million negatives per positive, nearly all of a full fit's
work goes into negatives the model already scores near 0. The meta-estimator
keeps every row of the rare class(es) and a sample of the others, weights the
kept rows by ``1 / pi`` (``pi`` the probability that the row was kept), and fits
the wrapped estimator to them: the weighted subsample objective is an unbiased
estimate of the full one, so the fit targets the full fit. The sampling maths
is in :mod:`skce._sampling`; the in-memory draws are here, the dask ones in
:mod:`skce._dask_subsample`.
"""

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _sampling
from ._base import _is_dask_array
from ._compat import Interval, StrOptions, _check_sample_weight, _fit_context
from ._cv import CrossValidatedMixin
from ._estimators import SoftmaxCE, WeightedLogisticCE
from ._inference import _plain
from ._subsample_memory import InMemoryRows
from ._threads import limit_blas_threads

__all__ = ["SubsampledCE"]

#: ``sample_size="auto"``: rows of every other class per row of the rarest one
#: (20 negatives per positive, the rate at which issue 25's benchmark asks the
#: estimate to be within one standard error of the full fit).
AUTO_ROWS_PER_RARE_ROW = 20

#: ``pilot_size="auto"``: rows per class of the pilot's case-control sample.
AUTO_PILOT_ROWS_PER_CLASS = 1000


class SubsampledCE(ClassifierMixin, BaseEstimator):
    """The fit of a cross-entropy classifier on all rows, estimated from a sample.

    For rare events: every row of the rarest class is kept (in practice: for
    ``"optimal"`` the cap below keeps them), the other rows are sampled, each
    kept row ``i`` is weighted by ``1 / pi_i`` (``pi_i`` the probability that
    it was kept) and ``estimator`` is fitted to them with its own β, class
    weights, ``alpha`` and the sample weights times ``1 / pi``. The weighted
    objective of the sample is an unbiased estimate of the objective of all
    rows, so the fit estimates the full fit of ``estimator`` (same β, class
    weights, sample weights and ``alpha``), its probabilities are on the
    full data's scale, and ``prior_correction`` works as on the full fit.
    Rows are kept independently (Poisson sampling).

    Parameters
    ----------
    estimator : WeightedLogisticCE or SoftmaxCE, default=None
        The model to fit (unfitted; it is cloned). None means
        ``WeightedLogisticCE()``. Its parameters can be tuned through this
        estimator (``estimator__beta`` in ``GridSearchCV``). Class weights
        given as ``"balanced"`` are resolved on all rows (the sample's own
        weights would give slightly different ones), so the fitted
        ``estimator_`` shows the numbers.

    method : {"optimal", "uniform", "local"}, default="optimal"
        How rows are kept:

        - ``"uniform"``: every row of the rarest class, and the rows of the
          others uniformly within each class, at rates ``min(1, t / n_k)``
          (``n_k`` rows of class ``k``) with ``t`` set by ``sample_size``.
          No pilot.
        - ``"optimal"`` (Wang, Zhu & Ma 2018, "OSMAC", the mVc criterion):
          a pilot fit on a case-control sample of ``pilot_size`` rows, then
          ``pi_i = min(1, c * a_i)`` with ``a_i`` the norm of row ``i``'s
          gradient at the pilot, ``s_i c_{y_i} ||p_i - y_i|| * ||x_i||``
          (sample weight, class weight, the pilot's prediction error; ``x``
          in standardised columns, centred only with an intercept, and a 1
          for the intercept), and ``c`` set
          by ``sample_size``. Rows of the rare class have large errors and
          are kept with probability 1 in practice. The pilot's rows are pooled
          with the sample: a row is kept if either draw kept it, with ``pi``
          the probability of that.
        - ``"local"`` (local case-control, Fithian & Hastie 2014): a pilot as
          above, then ``pi_i = min(1, c |y_i - p_i|)``; the sample is fitted
          without the ``1 / pi`` weights and the pilot's coefficients are
          added. Its target is the maximum-likelihood fit: only for
          :class:`~skce.WeightedLogisticCE` with ``beta=1``, no sample weights
          and no label smoothing (other targets raise a ``ValueError``). Its
          estimate is not the full fit's: it is consistent for a correctly
          specified model (twice the full fit's variance, whatever the
          imbalance). Rows capped at ``pi = 1`` are weighted by ``c |y_i -
          p_i|``, which keeps the estimate consistent at any ``sample_size``.
          ``alpha`` penalises the correction to the pilot, not the
          coefficients.

    sample_size : int, float or "auto", default="auto"
        The expected number of rows drawn (for ``"optimal"``, besides the
        pilot's rows, which are pooled with them): an int, or a float in
        (0, 1] for that fraction of the rows. ``"auto"``: every row of the
        rarest class and 20 rows of each other class per row of it. At least
        the rows of the rarest class; at or above the number of rows, every
        row is kept, with weight 1 (``"uniform"`` and ``"optimal"`` then give
        the fit on all rows; ``"local"`` weights each row by ``|y_i - p_i|``,
        its estimating equation at ``pi = 1``). The realised count is ``n_subsample_``.

    pilot_size : int, float or "auto", default="auto"
        For ``"optimal"`` and ``"local"``: the expected number of rows of the
        pilot's case-control sample (at most ``t`` rows of each class, all the
        rows of smaller classes), as an int or a fraction of the rows.
        ``"auto"``: 1000 rows per class (1000 times the number of classes in
        all; a class with fewer rows gives the rest to the others).

    random_state : int, RandomState instance or None, default=None
        Seeds the draws. Pass an int for the same sample at every fit.

    Attributes
    ----------
    estimator_ : WeightedLogisticCE or SoftmaxCE
        ``estimator`` fitted on the kept rows (with weights ``s_i / pi_i``;
        for ``"local"``, the correction to the pilot).
    pilot_ : WeightedLogisticCE, SoftmaxCE or None
        The pilot fit (None for ``"uniform"``).
    coef_ : ndarray of shape (n_outputs, n_features)
        The estimate of the full fit's coefficients (for ``"local"``: the
        pilot's plus the correction's).
    intercept_ : ndarray of shape (n_outputs,)
        The estimate of the full fit's intercepts.
    classes_ : ndarray of shape (n_classes,)
        The labels of all rows.
    n_subsample_ : int
        The number of rows fitted (kept).
    subsample_indices_ : ndarray of shape (`n_subsample_`,)
        The positions of the kept rows in the data of the fit, increasing.
    subsample_weight_ : ndarray of shape (`n_subsample_`,)
        What each kept row's sample weight was multiplied by in the fit:
        ``1 / pi_i`` (``"local"``: 1, or ``c |y_i - p_i|`` where capped;
        ``|y_i - p_i|`` when every row is kept).
    sampling_probabilities_ : dict
        A summary of ``pi`` over all rows: ``"expected_size"`` (its sum),
        ``"min"``, ``"max"`` and ``"n_certain"`` (rows with ``pi = 1``).
    n_samples_fit_ : int
        The number of rows of the data of the fit.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    WeightedLogisticCE, SoftmaxCE : The estimators it wraps.

    Notes
    -----
    Standard errors (:meth:`covariance_matrix`) are the sandwich of the
    weighted fit on the kept rows: with weights ``1 / pi`` it estimates the
    variance of the estimate around the population target, the sampling's
    variance included (the OSMAC variance estimator).

    References
    ----------
    Wang, H., Zhu, R. and Ma, P. (2018). Optimal subsampling for large sample
    logistic regression. JASA 113(522), 829-844.

    Wang, H. (2020). Logistic regression for massive data with rare events.
    ICML 2020.

    Fithian, W. and Hastie, T. (2014). Local case-control sampling: efficient
    subsampling in imbalanced data sets. Annals of Statistics 42(5),
    1693-1724.

    Examples
    --------
    >>> import numpy as np
    >>> from skce import SubsampledCE, WeightedLogisticCE
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200_000, 3))
    >>> y = (rng.random(200_000) < 1 / (1 + np.exp(7 - X[:, 0]))).astype(int)
    >>> model = SubsampledCE(WeightedLogisticCE(alpha=1e-6), random_state=0).fit(X, y)
    >>> model.n_subsample_ < 20_000
    True
    >>> bool(abs(model.coef_[0, 0] - 1) < 0.2)
    True
    """

    _parameter_constraints: dict = {
        "estimator": [WeightedLogisticCE, SoftmaxCE, None],
        "method": [StrOptions({"optimal", "uniform", "local"})],
        "sample_size": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
            StrOptions({"auto"}),
        ],
        "pilot_size": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
            StrOptions({"auto"}),
        ],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        method="optimal",
        sample_size="auto",
        pilot_size="auto",
        random_state=None,
    ):
        self.estimator = estimator
        self.method = method
        self.sample_size = sample_size
        self.pilot_size = pilot_size
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        if self.estimator is not None:
            tags.classifier_tags.multi_class = isinstance(self.estimator, SoftmaxCE)
        else:
            tags.classifier_tags.multi_class = False
        return tags

    # -- fit -------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)  # the wrapped estimator's own checks
    @limit_blas_threads  # BLAS thread policy: skce/_threads.py
    def fit(self, X, y, sample_weight=None):
        """Draw the sample and fit ``estimator`` to it.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data (dense, CSR or CSC; or a dask array chunked by rows,
            whose draws run where its chunks live and whose kept rows alone
            reach the client).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights ``s_i`` of the full fit's objective.

        Returns
        -------
        self : object
        """
        estimator = self._checked_estimator()
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        if _is_dask_array(X):
            # Imported only for dask input: NumPy fits never import dask.
            from ._dask_subsample import ChunkedRows

            source = ChunkedRows(X, y, sample_weight, seed)
            self.__dict__.pop("feature_names_in_", None)  # an earlier fit's
            if source.feature_names is not None:
                self.feature_names_in_ = source.feature_names
            self.n_features_in_ = source.n_features
            return self._fit_source(estimator, source)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            order=None,
        )
        if hasattr(X, "tocsr"):
            X = X.tocsr()  # rows are taken: CSR's are contiguous
        if y.dtype.kind not in "biu":  # integers are always class labels (and cheap)
            check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        return self._fit_source(estimator, InMemoryRows(X, y, sample_weight, seed))

    def _fit_source(self, estimator, source):
        """Draw from ``source`` (rows in memory or in chunks) and fit; the one plan of both."""
        classes, counts, totals = source.classes, source.counts, source.class_totals
        target, class_weight = self._target(estimator, classes, totals)
        self._check_method(target, class_weight, source.weights_vary)
        size = self._resolve_size(self.sample_size, counts, "sample_size")
        self._check_size(size, counts, classes)
        if self.method == "uniform":
            self.pilot_ = None
            present = np.where(counts > 0, counts, np.iinfo(np.int64).max)
            rates = _sampling.class_rates(counts, size, whole=int(np.argmin(present)))
            sample = source.by_class(rates, _sampling.SAMPLE_STREAM)
        else:
            pilot_size = self._resolve_size(self.pilot_size, counts, "pilot_size")
            rates = _sampling.class_rates(counts, pilot_size)
            pilot = source.by_class(rates, _sampling.PILOT_STREAM)
            self._check_classes(pilot, classes, totals, "pilot_size")
            self.pilot_ = clone(target).fit(pilot.X, pilot.y, pilot.weight)
            sample = source.scored(self.method, self.pilot_, class_weight, pilot, rates, size)
        self._check_classes(sample, classes, totals, "sample_size")
        self.estimator_ = clone(target).fit(sample.X, sample.y, sample.weight)
        self.subsample_indices_ = sample.indices
        self.subsample_weight_ = sample.multiplier
        self.n_subsample_ = int(sample.indices.shape[0])
        self.n_samples_fit_ = int(source.n_rows)
        self.sampling_probabilities_ = dict(sample.summary)
        self._finish()
        return self

    def _checked_estimator(self):
        estimator = WeightedLogisticCE() if self.estimator is None else self.estimator
        if isinstance(estimator, CrossValidatedMixin):
            raise ValueError(
                f"estimator must be a WeightedLogisticCE or SoftmaxCE, got the cross-validated "
                f"{type(estimator).__name__}: tune through SubsampledCE instead, e.g. "
                "GridSearchCV(SubsampledCE(WeightedLogisticCE()), {'estimator__beta': [...]})."
            )
        return estimator

    @staticmethod
    def _target(estimator, classes, class_totals):
        """``estimator`` with its class weights fixed to those of all rows; and the weights."""
        probe = clone(estimator)
        class_weight = probe._fit_classes(classes, class_totals)
        return clone(estimator).set_params(**probe._weight_parameters(class_weight)), class_weight

    def _check_method(self, target, class_weight, weights_vary):
        if self.method != "local":
            return
        if not isinstance(target, WeightedLogisticCE):
            raise ValueError(
                "method='local' (local case-control) is for binary WeightedLogisticCE; "
                "use method='optimal' with SoftmaxCE."
            )
        weighted = np.any(class_weight != 1.0) or target.label_smoothing > 0 or weights_vary
        if weighted:
            raise ValueError(
                "method='local' (local case-control) estimates the unweighted maximum-likelihood "
                "fit; the target here is weighted (beta != 1, sample weights or label "
                "smoothing), which it does not estimate. Use method='optimal' or 'uniform', "
                "whose target is the weighted full fit."
            )

    @staticmethod
    def _resolve_size(value, counts, name):
        n = int(counts.sum())
        if value == "auto":
            if name == "pilot_size":
                return AUTO_PILOT_ROWS_PER_CLASS * counts.shape[0]
            rarest = int(counts[counts > 0].min())
            return min(n, rarest * (1 + AUTO_ROWS_PER_RARE_ROW * (counts.shape[0] - 1)))
        if isinstance(value, Integral):
            return int(value)
        return max(1, round(float(value) * n))

    @staticmethod
    def _check_size(size, counts, classes):
        rarest = int(np.argmin(np.where(counts > 0, counts, np.iinfo(np.int64).max)))
        if size < counts[rarest]:
            raise ValueError(
                f"sample_size={size} is smaller than the rare class: class "
                f"{_plain(classes[rarest])!r} has {int(counts[rarest])} rows, which the "
                "sample is meant to keep whole. "
                f"Pass a sample_size of at least {int(counts[rarest])} rows (with room for "
                "the other classes, e.g. 20 rows of each per rare row), or fit the "
                "estimator on all rows."
            )

    def _check_classes(self, sample, classes, class_totals, parameter):
        """Refuse a sample (the pilot's or the fit's) that misses a weighted class."""
        codes = np.searchsorted(classes, sample.y)
        present = np.bincount(codes, weights=sample.weight, minlength=classes.shape[0]) > 0
        missing = np.flatnonzero((class_totals > 0) & ~present)
        if missing.size:
            which = "pilot sample" if parameter == "pilot_size" else "sample"
            value = getattr(self, parameter)
            raise ValueError(
                f"The {which} has no rows of class {_plain(classes[missing[0]])!r} with a positive "
                "sample weight, so it cannot be "
                f"fitted: raise {parameter} (now {value!r})"
                + (", or use method='uniform'." if parameter == "pilot_size" else ".")
            )

    def _finish(self):
        """``coef_``, ``intercept_``, ``classes_`` and the model that predicts."""
        fitted = self.estimator_
        if self.method == "local":
            fitted = copy.deepcopy(fitted)
            dtype = fitted.coef_.dtype
            fitted.coef_ = (fitted.coef_ + self.pilot_.coef_).astype(dtype)
            fitted.intercept_ = (fitted.intercept_ + self.pilot_.intercept_).astype(dtype)
        self._model = fitted
        self.coef_ = fitted.coef_
        self.intercept_ = fitted.intercept_
        self.classes_ = fitted.classes_

    # -- prediction ------------------------------------------------------------
    def _validated(self, X):
        check_is_fitted(self)
        if _is_dask_array(X):
            return X
        return validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=False
        )

    def decision_function(self, X):
        """The logits of the estimate (see the wrapped estimator's ``decision_function``)."""
        X = self._validated(X)
        return self._model.decision_function(X)

    def predict_proba(self, X):
        """Class probabilities, on the scale of all rows (columns follow ``classes_``)."""
        X = self._validated(X)
        return self._model.predict_proba(X)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, finite where it rounds to 0."""
        X = self._validated(X)
        return self._model.predict_log_proba(X)

    def predict(self, X):
        """The most probable class of each row."""
        X = self._validated(X)
        return self._model.predict(X)

    # -- standard errors -------------------------------------------------------
    def covariance_matrix(self, X, y, sample_weight=None, *, kind="sandwich", groups=None):
        """Covariance of ``coef_`` and ``intercept_``, the sampling's variance included.

        Pass the data of the fit (all rows): the kept rows
        (``subsample_indices_``) are taken from it, and the result is the
        sandwich of ``estimator_`` on them with the weights of the fit,
        ``s_i / pi_i`` (see the wrapped estimator's ``covariance_matrix`` for
        the layout and what a sandwich estimates). With the ``1 / pi``
        weights it is the OSMAC variance estimator: the variance of the
        estimate around the population target, which adds the sampling's
        variance to the full fit's. For ``"local"``: the variance given the
        pilot. Only ``kind="sandwich"``: the model-based kind would read the
        ``1 / pi`` weights as counts and leave the sampling's variance out.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (`n_samples_fit_`, n_features)
            The rows of the fit (a dask ``X``: the kept rows are computed).
        y : array-like of shape (`n_samples_fit_`,)
        sample_weight : array-like of shape (`n_samples_fit_`,), default=None
            The sample weights of the fit.
        kind : {"sandwich"}, default="sandwich"
        groups : array-like of shape (`n_samples_fit_`,), default=None
            Labels of dependent groups of rows (cluster-robust sandwich over
            the kept rows).

        Returns
        -------
        ndarray of shape (n_params, n_params)
        """
        rows = self._kept_rows(X, y, sample_weight, kind, groups)
        return self.estimator_.covariance_matrix(*rows[:3], kind=kind, groups=rows[3])

    def std_errors(self, X, y, sample_weight=None, *, kind="sandwich", groups=None):
        """Standard errors: the square roots of :meth:`covariance_matrix`'s diagonal."""
        matrix = self.covariance_matrix(X, y, sample_weight, kind=kind, groups=groups)
        return np.sqrt(np.diag(matrix))

    def coef_table(
        self, X, y, sample_weight=None, *, kind="sandwich", groups=None, confidence_level=0.95
    ):
        """The coefficient table of ``coef_`` with :meth:`std_errors` (pandas DataFrame).

        As the wrapped estimator's ``coef_table``, with this estimate's
        coefficients and the standard errors of :meth:`covariance_matrix`.
        """
        se = self.std_errors(X, y, sample_weight, kind=kind, groups=groups)
        features = getattr(self, "feature_names_in_", None)
        coef = self._model._identified_parameters()
        return self._model._table(coef, se, kind, confidence_level, features=features)

    def _kept_rows(self, X, y, sample_weight, kind, groups):
        check_is_fitted(self)
        if kind != "sandwich":
            raise ValueError(
                f"SubsampledCE's covariance is the sandwich (kind='sandwich'), got kind={kind!r}: "
                "the model-based kind would read the 1 / pi weights as counts of rows and leave "
                "the sampling's variance out."
            )
        idx = self.subsample_indices_
        if _is_dask_array(X):
            from ._dask_subsample import kept_rows

            X, y, sample_weight = kept_rows(X, y, sample_weight, idx, self.n_samples_fit_)
        else:
            X = validate_data(
                self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=False
            )
            if X.shape[0] != self.n_samples_fit_:
                raise ValueError(
                    f"X has {X.shape[0]} rows, but the fit had {self.n_samples_fit_}: pass the "
                    "data of the fit (all its rows), from which the kept rows are taken."
                )
            X = X.tocsr()[idx] if hasattr(X, "tocsr") else X[idx]
            y = _rows(y, idx, self.n_samples_fit_, "y")
            if sample_weight is not None:
                sample_weight = _rows(sample_weight, idx, self.n_samples_fit_, "sample_weight")
        weight = self.subsample_weight_
        if sample_weight is not None:
            weight = np.asarray(sample_weight, dtype=np.float64) * weight
        if groups is not None:
            groups = _rows(groups, idx, self.n_samples_fit_, "groups")
        return X, y, weight, groups


def _rows(values, idx, n, name):
    values = np.asarray(values)
    if values.ndim != 1 or values.shape[0] != n:
        raise ValueError(
            f"{name} has shape {values.shape}, but the fit had {n} rows: pass the {name} of "
            "the fit (one per row)."
        )
    return values[idx]
