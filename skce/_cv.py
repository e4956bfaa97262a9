"""Cross-validated estimators: the class weights and ``alpha`` chosen in one fit.

:class:`CrossValidatedMixin` turns an estimator of :mod:`skce.linear_model` into
its cross-validated version. It computes what ``GridSearchCV`` over the class
weight and ``alpha`` computes, with the same splits and scorers, in less time:
one joblib task per (class weight, fold) prepares the fold's objective once and
solves the ``alphas`` from the largest to the smallest, each fit warm-started
from the previous one (:mod:`skce._cv_path`). The tasks run through
scikit-learn's ``Parallel``, which carries the configuration (metadata routing)
to the workers; under ``joblib.parallel_backend("dask")`` on a dask cluster. The
results are laid out as ``GridSearchCV`` lays them out, the candidates in
``ParameterGrid`` order, so that ties are broken the same way.
"""

import numbers
import time
import warnings
from collections import Counter

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import check_scoring
from sklearn.model_selection import (
    check_cv,
)
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import validate_data

from ._base import _is_dask_array
from ._compat import _check_sample_weight, _fit_context, scorer_accepts_sample_weight
from ._convergence import caller_stacklevel
from ._cv_folds import split_folds
from ._cv_path import describe_value, fit_and_score_path, param_array, rank
from ._threads import limit_blas_threads
from ._warnings import replay
from .metrics import _CrossEntropyScorer

__all__ = ["DEFAULT_ALPHAS", "CrossValidatedMixin", "GridEdgeWarning"]

#: The default ``alphas``: 3 per decade from 1e-1 down to 3e-5 (half-decade steps).
DEFAULT_ALPHAS = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5)

#: scikit-learn's scorers of the predicted probabilities that weigh every class
#: alike and are strictly proper (calibrated probabilities score best): they
#: prefer the unweighted fit, whose probabilities are calibrated.
_UNWEIGHTED_PROBABILITY_SCORERS = frozenset(
    {"neg_log_loss", "neg_brier_score", "d2_log_loss_score", "d2_brier_score"}
)


class GridEdgeWarning(UserWarning):
    """The best value of a grid is at its edge: the optimum may lie beyond it.

    Emitted by :class:`~skce.WeightedLogisticCECV` and :class:`~skce.SoftmaxCECV`
    after ``fit``, with the direction in which to extend the grid.
    """


class CrossValidatedMixin:
    """What a cross-validated estimator adds to its base estimator.

    Subclasses derive from this mixin and from the estimator they tune (for
    the prediction API, which reads the refitted ``coef_``, ``intercept_`` and
    class weights), and set:

    - ``_estimator_class``: the estimator tuned (``WeightedLogisticCE``);
    - ``_weight_parameter``: its class-weight parameter (``"beta"``);
    - ``_weight_attribute``: the fitted attribute of the resolved weights
      (``"beta_"``);

    and implement ``_check_weights`` (the grid's values) and ``_weight_edges``
    (which end of the grid the best value sits at, if the grid is ordered).
    """

    _estimator_class = None
    _weight_parameter = None
    _weight_attribute = None

    # -- the grid --------------------------------------------------------------
    def _check_alphas(self):
        """The alphas as floats, in the given order (the order of the candidates)."""
        alphas = list(np.ravel(np.asarray(self.alphas, dtype=object)))
        if not alphas:
            raise ValueError("alphas is empty: give at least one penalty strength > 0.")
        values = []
        for alpha in alphas:
            ok = isinstance(alpha, numbers.Real) and not isinstance(alpha, bool)
            if not (ok and np.isfinite(alpha) and alpha > 0):
                raise ValueError(
                    f"alphas must be finite numbers > 0, got {alpha!r} in {alphas!r}. "
                    "alpha = 0 has no unique optimum on separable folds; use a small "
                    "positive value such as 1e-6 instead."
                )
            values.append(float(alpha))
        _refuse_duplicates("alphas", values)
        return values

    def _candidates(self, weights, alphas):
        """The candidates in ``ParameterGrid`` order: alpha outer, weight inner."""
        name = self._weight_parameter
        return [{"alpha": a, name: w} for a in alphas for w in weights]

    # -- building blocks ---------------------------------------------------------
    def _estimator_params(self):
        """The tuned estimator's parameters that this estimator passes through."""
        names = self._estimator_class().get_params()
        return {
            name: getattr(self, name)
            for name in names
            if name not in ("alpha", self._weight_parameter)
        }

    def _estimator(self, weight, alpha, **params):
        """A fresh tuned estimator with ``weight`` and ``alpha``."""
        settings = {**self._estimator_params(), **params}
        return self._estimator_class(**settings, alpha=alpha, **{self._weight_parameter: weight})

    def _scorer(self):
        """The scorer: one callable (a dict of scores for several metrics)."""
        template = self._estimator_class(**self._estimator_params())
        return check_scoring(template, scoring=self.scoring)

    def _metric_names(self):
        """The names of several metrics, or None for one."""
        if isinstance(self.scoring, (dict, list, tuple, set)):
            return list(self.scoring)
        return None

    def _check_refit(self, names):
        if names is None or self.refit is False or callable(self.refit):
            return
        if not (isinstance(self.refit, str) and self.refit in names):
            raise ValueError(
                f"With several metrics ({', '.join(map(repr, names))}), refit must be the "
                f"name of the one that chooses the model, False or a callable, got "
                f"{self.refit!r}."
            )

    # -- metadata routing ----------------------------------------------------------
    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``fit`` consumes ``sample_weight`` itself (every fit of the search is
        weighted) and routes metadata to the scorer (``score``) and to the
        splitter (``split``, e.g. ``groups``), as requested by them. See
        scikit-learn's user guide on metadata routing.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
            The routing information.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                splitter=check_cv(self.cv),
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
            .add(
                scorer=self._scorer(),
                method_mapping=MethodMapping().add(caller="fit", callee="score"),
            )
        )

    def _routed_params(self, sample_weight, params):
        """``(score_params, split_params)`` for ``fit``'s metadata."""
        if sklearn.get_config()["enable_metadata_routing"]:
            routed = process_routing(self, "fit", sample_weight=sample_weight, **params)
            return dict(routed.scorer.score), dict(routed.splitter.split)
        if params:
            raise ValueError(
                f"{type(self).__name__}.fit got {sorted(params)}: metadata other than "
                "sample_weight needs metadata routing, enabled with "
                "sklearn.set_config(enable_metadata_routing=True)."
            )
        if sample_weight is None:
            return {}, {}
        scorer = self._scorer()
        if scorer_accepts_sample_weight(scorer):
            return {"sample_weight": sample_weight}, {}
        warnings.warn(
            f"The scoring {scorer!r} does not accept sample_weight: the fits of "
            f"{type(self).__name__} are weighted, its scores are not.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
        return {}, {}

    # -- fit -----------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    @limit_blas_threads  # BLAS thread policy: skce/_threads.py
    def fit(self, X, y, sample_weight=None, **params):
        """Cross-validate every (class weight, alpha) and refit the best.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (float32 kept float32; CSR and CSC used as they are).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights ``s_i``. Every fit of the search (and the
            refit) is weighted. The scores are weighted as well when the
            scorer accepts ``sample_weight``: with metadata routing, when it
            requests it (``set_score_request(sample_weight=True)``);
            without, whenever its metric takes ``sample_weight``.
        **params : dict
            Other metadata, routed to the scorer and the splitter (e.g.
            ``groups``); only with metadata routing enabled.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if _is_dask_array(X):
            raise TypeError(
                f"{type(self).__name__} does not fit dask collections. Fit it on in-memory data "
                "(its folds can run on a dask cluster under "
                "joblib.parallel_backend('dask')), or fit the plain estimator on the dask "
                "array at chosen parameters."
            )
        weights, alphas = self._check_weights(), self._check_alphas()
        # Each path runs from the strongest penalty to the weakest: every fit
        # starts near its optimum (the coefficients grow as alpha falls).
        path = sorted(alphas, reverse=True)
        names = self._metric_names()
        self._check_refit(names)
        X_in = X
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32]
        )
        check_classification_targets(y)
        sample_weight = (
            None
            if sample_weight is None
            else _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        )
        classes, totals = self._check_classes(y, sample_weight)
        score_params, split_params = self._routed_params(sample_weight, params)

        cv = check_cv(self.cv, y, classifier=True)
        splits = split_folds(type(self).__name__, self.cv, cv, X, y, split_params)
        self.n_splits_ = len(splits)

        scorer = self._scorer()
        tasks = [
            delayed(fit_and_score_path)(
                self._estimator(weight, path[0], warm_start=False),
                f"{self._weight_parameter}={describe_value(weight)}, fold {fold}",
                path,
                X,
                y,
                classes,
                sample_weight,
                train,
                test,
                scorer,
                score_params,
            )
            for weight in weights
            for fold, (train, test) in enumerate(splits)
        ]
        outputs = Parallel(n_jobs=self.n_jobs)(tasks)
        self._emit_warnings(outputs, weights, path)
        self.cv_results_ = self._results(weights, alphas, path, outputs)
        self._choose()
        self.classes_ = classes
        if self.refit is not False:
            self._refit(X_in, y, sample_weight)
        elif hasattr(self, "best_index_"):
            self._set_best(classes, totals)
        self._warn_at_edges(alphas, totals)
        return self

    def _check_classes(self, y, sample_weight):
        """The sorted classes, checked as the tuned estimator checks them."""
        classes, codes = np.unique(y, return_inverse=True)
        totals = np.bincount(codes, weights=sample_weight, minlength=classes.shape[0])
        probe = self._estimator_class(**self._estimator_params())
        probe._fit_classes(classes, totals)
        return classes, totals

    def _emit_warnings(self, outputs, weights, alphas):
        """The tasks' warnings, once each; non-convergence summed up in one warning."""
        name = self._weight_parameter
        n_folds = self.n_splits_
        not_converged, first, others = [], None, Counter()
        for k, (_, _, _, caught) in enumerate(outputs):
            weight = weights[k // n_folds]
            for category, message in caught:
                if issubclass(category, ConvergenceWarning):
                    not_converged.append(describe_value(weight))
                    first = first or message
                else:
                    others[(category, message)] += 1
        replay(others, stacklevel=caller_stacklevel())
        if not_converged:
            total = len(outputs) * len(alphas)
            where = ", ".join(sorted(set(not_converged), key=not_converged.index))
            warnings.warn(
                f"{type(self).__name__}: {len(not_converged)} of {total} cross-validation "
                f"fits did not reach tol (at {name} = {where}). The first: {first}",
                ConvergenceWarning,
                stacklevel=caller_stacklevel(),
            )

    def _results(self, weights, alphas, path, outputs):
        """``cv_results_`` in ``GridSearchCV``'s layout."""
        n_weights, n_folds = len(weights), self.n_splits_
        candidates = self._candidates(weights, alphas)
        position = {alpha: a for a, alpha in enumerate(alphas)}
        # outputs[w * n_folds + f] holds the path's alphas in path order; the
        # candidate of (alpha a, weight w) is a * n_weights + w.
        fit_time = np.empty((len(candidates), n_folds))
        score_time = np.empty_like(fit_time)
        scores = {}
        for k, (path_scores, fits, scorings, _) in enumerate(outputs):
            w, f = divmod(k, n_folds)
            for p, alpha in enumerate(path):
                c = position[alpha] * n_weights + w
                fit_time[c, f], score_time[c, f] = fits[p], scorings[p]
                value = path_scores[p]
                named = value if isinstance(value, dict) else {"score": value}
                for metric, score in named.items():
                    scores.setdefault(metric, np.empty_like(fit_time))[c, f] = score
        self.multimetric_ = self._metric_names() is not None or "score" not in scores
        if self.multimetric_:
            self._check_refit(list(scores))
        results = {
            "mean_fit_time": fit_time.mean(axis=1),
            "std_fit_time": fit_time.std(axis=1),
            "mean_score_time": score_time.mean(axis=1),
            "std_score_time": score_time.std(axis=1),
        }
        for parameter in ("alpha", self._weight_parameter):
            results[f"param_{parameter}"] = param_array([c[parameter] for c in candidates])
        results["params"] = candidates
        for metric, table in scores.items():
            suffix = f"_{metric}" if self.multimetric_ else "_score"
            for f in range(n_folds):
                results[f"split{f}_test{suffix}"] = table[:, f]
            means = table.mean(axis=1)
            results[f"mean_test{suffix}"] = means
            results[f"std_test{suffix}"] = table.std(axis=1)
            results[f"rank_test{suffix}"] = rank(means)
        return results

    def _choose(self):
        """``best_index_``, ``best_params_``, ``best_score_`` as ``GridSearchCV`` sets them."""
        for name in ("best_index_", "best_params_", "best_score_", "alpha_"):
            self.__dict__.pop(name, None)
        self.__dict__.pop(self._weight_attribute, None)
        results = self.cv_results_
        if callable(self.refit):
            index = self.refit(results)
            if not isinstance(index, numbers.Integral) or not (0 <= index < len(results["params"])):
                raise ValueError(
                    f"refit returned {index!r}: it must return the index of a candidate, an "
                    f"integer in [0, {len(results['params'])})."
                )
            self.best_index_ = int(index)
        elif self.multimetric_ and self.refit is False:
            return
        else:
            suffix = f"_{self.refit}" if self.multimetric_ else "_score"
            self.best_index_ = int(results[f"rank_test{suffix}"].argmin())
            self.best_score_ = float(results[f"mean_test{suffix}"][self.best_index_])
        self.best_params_ = dict(results["params"][self.best_index_])
        self.alpha_ = float(self.best_params_["alpha"])

    def _fitted_alpha(self):
        """The chosen penalty, ``alpha_``: that of the refitted model."""
        return float(self.alpha_)

    def _refit(self, X, y, sample_weight):
        """Fit the best candidate on all the data; its fitted attributes become ours."""
        params = self.best_params_
        best = self._estimator(params[self._weight_parameter], params["alpha"])
        if self.warm_start and hasattr(self, "coef_"):
            best.coef_, best.intercept_ = self.coef_, self.intercept_
        start = time.perf_counter()
        best.fit(X, y, sample_weight=sample_weight)
        self.refit_time_ = time.perf_counter() - start
        self.best_estimator_ = best
        for name in (
            "coef_",
            "intercept_",
            "n_iter_",
            "solver_",
            "status_",
            "loss_curve_",
            "separable_",
            "_n_evals",
            self._weight_attribute,
        ):
            setattr(self, name, getattr(best, name))

    def _set_best(self, classes, totals):
        """Without refit: the chosen class weights, resolved on all the data."""
        for name in ("coef_", "intercept_", "best_estimator_"):
            self.__dict__.pop(name, None)
        probe = self._estimator(self.best_params_[self._weight_parameter], self.alpha_)
        probe._fit_classes(classes, totals)
        setattr(self, self._weight_attribute, getattr(probe, self._weight_attribute))

    def _warn_at_edges(self, alphas, totals):
        """A GridEdgeWarning when the best value sits at an end of its grid.

        ``totals`` are the classes' sample-weight totals, which give the value
        of a ``"balanced"`` entry.
        """
        if not hasattr(self, "best_index_"):
            return
        advice = []
        alpha = self.alpha_
        if len(alphas) > 1 and alpha == max(alphas):
            advice.append(
                f"alpha = {alpha:g} is the largest in alphas: the best penalty may be "
                f"stronger; extend alphas upward (e.g. add {alpha * 10:g})"
            )
        elif len(alphas) > 1 and alpha == min(alphas):
            advice.append(
                f"alpha = {alpha:g} is the smallest in alphas: the best penalty may be "
                f"weaker; extend alphas downward (e.g. add {alpha / 10:g})"
            )
        advice.extend(self._weight_edges(totals, self._calibrating_scoring()))
        if advice:
            warnings.warn(
                f"{type(self).__name__}: the best {'; '.join(advice)}.",
                GridEdgeWarning,
                stacklevel=caller_stacklevel(),
            )

    def _calibrating_scoring(self):
        """The scoring that chose, shown, if it prefers the unweighted fit; else None.

        Those are the scores of the probabilities that weigh every class
        alike and are strictly proper: scikit-learn's ``"neg_log_loss"``,
        ``"neg_brier_score"``, ``"d2_log_loss_score"`` and ``"d2_brier_score"``
        (by name) and skce's cross-entropy scorers without class weights
        (:data:`~skce.cross_entropy_score`). Calibrated probabilities score
        best under them, and the unweighted fit is the one fitted to be
        calibrated, so they prefer it whatever the costs of the errors. Other
        scorings (decisions, ranks, a weighted cross-entropy, scorer objects
        made otherwise) and a callable ``refit`` get the plain edge advice.
        """
        if callable(self.refit):  # the callable chose, not a scoring
            return None
        scoring = self.scoring
        if isinstance(scoring, dict):
            scoring = scoring.get(self.refit)
        elif isinstance(scoring, (list, tuple, set)):
            scoring = self.refit  # a name among the scoring's names
        if isinstance(scoring, str) and scoring in _UNWEIGHTED_PROBABILITY_SCORERS:
            return repr(scoring)
        if isinstance(scoring, _CrossEntropyScorer) and not scoring._weighs_classes():
            return repr(scoring)
        return None

    # -- prediction ------------------------------------------------------------------
    def _logits(self, X):
        if hasattr(self, "cv_results_") and not hasattr(self, "coef_"):
            raise NotFittedError(
                f"This {type(self).__name__} was fitted with refit={self.refit!r}, so it has "
                "no model to predict with. Fit it with refit=True (or refit=<metric name>), "
                "or fit the plain estimator at best_params_."
            )
        return super()._logits(X)


def _refuse_duplicates(name, values):
    """Refuse a grid whose values repeat (by equality: ``2`` and ``2.0`` are one)."""
    seen, repeated = [], []
    for value in values:
        if any(value == other for other in seen):
            repeated.append(value)
        else:
            seen.append(value)
    if repeated:
        raise ValueError(
            f"{name} has duplicates: {repeated!r} in {list(values)!r}. Give each value once "
            "(each candidate is cross-validated once; a repeat would only cost time)."
        )
