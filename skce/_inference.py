"""How sure is a coefficient: the covariance, standard errors and coefficient table of a fit.

:class:`InferenceMixin` gives the estimators ``covariance_matrix``,
``std_errors`` and ``coef_table``; the maths is in :mod:`skce._covariance`.
"""

import warnings
from numbers import Real

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from ._compat import _check_sample_weight
from ._convergence import caller_stacklevel
from ._covariance import (
    SingularHessianError,
    check_variances,
    covariance,
    covariance_sums,
    involved,
    listed,
)
from ._objective import LinearObjective, weighted_targets
from ._separation import separated, separation_margins
from ._threads import limit_blas_threads

__all__ = ["InferenceMixin"]

_KINDS = ("sandwich", "model")

#: The fitted coefficients count as the minimiser of the objective on the data
#: passed when the Newton step from them is below this fraction of every
#: standard error (a converged fit's is 1e-4 or less, measured on the test
#: data); beyond it the data are not the fit's, or the fit stopped early.
OFF_MINIMUM = 0.01

#: Sparse columns whose |mean| exceeds this many spreads make the covariance
#: warn: their algebraic centring loses ~ratio^2 units of rounding (1e-8 here;
#: measured 9e-7 at 1e4, 2e-3 at 1e6, 0.9 at 1e8 on one column of offset data).
SPARSE_OFFSET = 1e4

_SHARED = """
        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            The data the model was fitted on (the covariance is that of the
            minimiser of the fit's objective on these rows).
        y : array-like of shape (n_samples,)
            Their labels.
        sample_weight : array-like of shape (n_samples,), default=None
            The fit's sample weights.
        kind : {"sandwich", "model"}, default="sandwich"
            ``"sandwich"``: ``A^-1 B A^-1``, right for any weighting (β, class
            and sample weights, label smoothing) and under misspecification.
            ``"model"``: ``A^-1``, the textbook standard errors of a maximum
            likelihood fit; right only when the fit is one (β = 1, no class
            weights, no label smoothing) and the model holds. Asking for it on
            a weighted fit warns.
        groups : array-like of shape (n_samples,), default=None
            Labels of groups of rows that may be dependent (patients, sessions,
            users): the sandwich then sums the scores per group before their
            outer products (cluster-robust, no small-sample factor). Only with
            ``kind="sandwich"``.
"""


class InferenceMixin:
    """``covariance_matrix``, ``std_errors`` and ``coef_table`` of a fitted linear model."""

    def _fitted_alpha(self):
        """The penalty of the fitted model (the CV estimators: the chosen ``alpha_``)."""
        return float(self.alpha)

    @limit_blas_threads  # BLAS thread policy: skce/_threads.py
    def covariance_matrix(self, X, y, sample_weight=None, *, kind="sandwich", groups=None):
        """Covariance of the fitted coefficients and intercepts.

        At the fitted parameters, with ``A`` the Hessian of the objective
        ``J`` the fit minimised (the penalty included; its loss term is the
        weighted mean over ``S = sum_i s_i``) and ``B = (1 / S^2) sum_i u_i
        u_i^T`` the outer products of the rows' scores ``u_i`` (the gradient
        of row ``i``'s weighted loss, ``s_i c_{y_i} (p_i - y_i) x_i`` for one
        logit), the sandwich covariance is ``A^-1 B A^-1`` (HC0) and the
        model-based one is ``(S A)^-1``, the inverse Hessian of the summed
        log-likelihood. The matrices use the weights of the fit: the sandwich
        equals statsmodels' ``GLM(y, X, family=Binomial(), var_weights=s * c)``
        with ``cov_type="HC0"`` (``"cluster"`` for ``groups``, without its
        small-sample correction).

        What it estimates:

        - With β or class weights the fit is not a maximum-likelihood fit and
          its target is the minimiser of the *weighted* population
          cross-entropy (for a correctly specified logistic model: the true
          slopes, with the intercept shifted by ``ln beta``). The sandwich is
          the covariance of the estimate around that target; ``kind="model"``
          is not.
        - With ``alpha > 0`` it is the covariance of the *penalised* estimator
          around its own target (which the penalty shrinks towards 0), not of
          an unpenalised one; the penalty's curvature is in ``A``.
        - Sample weights are treated as the fit treats them: a weight of 2
          counts like a repeated row in the coefficients and in ``A``. In
          ``B`` a row is one independent unit whose score is scaled by its
          weight (a row of weight 2 is two copies that always occur together:
          inverse-probability and importance weights). For rows that really
          are counts of independent observations, repeat them instead (or use
          ``kind="model"`` on an unweighted fit).
        - :class:`~skce.SoftmaxCE`: the ``K`` coefficient vectors are
          identified only up to a common shift (by the penalty), so the
          covariance is that of each class's parameters *minus class 0's*
          (``classes_[0]`` is the reference class, as in statsmodels'
          ``MNLogit``): ``K - 1`` blocks.
        %(shared)s

        Returns
        -------
        ndarray of shape (n_params, n_params)
            Ordered by output and, within one, the coefficients in column
            order then the intercept (if fitted): for
            :class:`~skce.WeightedLogisticCE` ``n_params = n_features + 1``;
            for :class:`~skce.SoftmaxCE` class 1's parameters (relative to
            class 0), then class 2's, and so on.

        Raises
        ------
        SingularHessianError
            When ``A`` is singular or the minimiser does not exist: ``alpha =
            0`` with collinear columns, or classes separated by a hyperplane
            (completely, or quasi-completely: e.g. a category whose rows are
            all of one class; at ``alpha = 0`` the direction in which ``A`` is
            least curved is checked with one more pass over ``X``). The
            message names the parameters involved.
        ValueError
            For ``groups`` with a single group or missing labels; fewer groups
            than parameters warn (``B`` then has too low a rank).

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.preprocessing import StandardScaler
        >>> from skce import WeightedLogisticCE
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> X = StandardScaler().fit_transform(X[:, :4])
        >>> model = WeightedLogisticCE(beta=4.0, alpha=1e-3).fit(X, y)
        >>> model.covariance_matrix(X, y).shape
        (5, 5)
        """
        return self._covariance(X, y, sample_weight, kind, groups).matrix

    def std_errors(self, X, y, sample_weight=None, *, kind="sandwich", groups=None):
        """Standard errors of the fitted coefficients and intercepts.

        The square roots of the diagonal of :meth:`covariance_matrix` (see
        there for what they estimate), in its order.
        %(shared)s

        Returns
        -------
        ndarray of shape (n_params,)
        """
        matrix = self.covariance_matrix(X, y, sample_weight, kind=kind, groups=groups)
        return np.sqrt(np.diag(matrix))

    @limit_blas_threads  # BLAS thread policy: skce/_threads.py
    def coef_table(
        self, X, y, sample_weight=None, *, kind="sandwich", groups=None, confidence_level=0.95
    ):
        """The coefficient table: estimate, standard error, z, p-value and interval.

        ``z = coef / std_err``, the two-sided p-value ``2 (1 - Phi(|z|))`` of
        the hypothesis that the parameter's target is 0, and the Wald interval
        ``coef -/+ Phi^-1((1 + confidence_level) / 2) std_err``, from
        :meth:`std_errors` (see :meth:`covariance_matrix` for what they
        estimate: with β > 1, the intercept's target is shifted by ``ln
        beta``; with ``alpha > 0``, the targets are the penalised ones).
        Needs pandas (``pip install "skce[cli]"``).
        %(shared)s
        confidence_level : float in (0, 1), default=0.95
            The coverage of the Wald intervals.

        Returns
        -------
        pandas.DataFrame
            One row per parameter, indexed by the feature names
            (``feature_names_in_``, else ``x0``, ``x1``, ...) and
            ``"intercept"``; for :class:`~skce.SoftmaxCE` by (class, name),
            each class relative to ``classes_[0]``. Columns ``coef``,
            ``std_err``, ``z``, ``p_value``, ``ci_lower``, ``ci_upper``.
        """
        result = self._covariance(X, y, sample_weight, kind, groups)
        se = np.sqrt(np.diag(result.matrix))
        return self._table(self._identified_parameters(), se, kind, confidence_level)

    def _table(self, coef, se, kind, confidence_level, features=None):
        """The coefficient table of estimates ``coef`` with standard errors ``se``.

        ``features`` names the columns instead of ``feature_names_in_``.
        """
        try:
            import pandas as pd
        except ImportError as error:
            raise ImportError(
                "coef_table needs pandas: pip install pandas (or the skce[cli] extra)."
            ) from error
        from scipy.stats import norm

        if not (
            isinstance(confidence_level, Real)
            and not isinstance(confidence_level, bool)
            and 0 < confidence_level < 1
        ):
            raise ValueError(
                f"confidence_level must be a number in (0, 1), got {confidence_level!r}."
            )
        z = coef / se
        half = norm.ppf(0.5 + confidence_level / 2) * se
        outputs, names = self._parameter_labels(features)
        if outputs is None:
            index = pd.Index(names, name="term")
        else:
            index = pd.MultiIndex.from_arrays([outputs, names], names=["class", "term"])
        table = pd.DataFrame(
            {
                "coef": coef,
                "std_err": se,
                "z": z,
                "p_value": 2 * norm.sf(np.abs(z)),
                "ci_lower": coef - half,
                "ci_upper": coef + half,
            },
            index=index,
        )
        if outputs is not None:
            table.attrs["reference_class"] = self.classes_[0]
        table.attrs["kind"] = kind
        return table

    # -- helpers -----------------------------------------------------------------
    def _identified_parameters(self):
        """The identified parameters, output-major: ``[coef, intercept]`` per output.

        For softmax, each class's minus class 0's (``classes_[0]`` the reference).
        """
        W = np.asarray(self.coef_, dtype=np.float64)
        b = np.asarray(self.intercept_, dtype=np.float64)
        keep = self._loss.identified_outputs(W.shape[0])
        if keep.start > 0:  # logits identified up to a shift: relative to output 0
            W, b = W - W[0], b - b[0]
        W, b = W[keep], b[keep]
        blocks = [np.append(w, c) if self.fit_intercept else w for w, c in zip(W, b, strict=True)]
        return np.concatenate(blocks)

    def _parameter_labels(self, features=None):
        """``(outputs, names)`` of the identified parameters; ``outputs`` None for one logit.

        ``features`` names the columns instead of ``feature_names_in_``.
        """
        d = self.coef_.shape[1]
        if features is None:
            features = getattr(self, "feature_names_in_", None)
        if features is None:
            features = [f"x{j}" for j in range(d)]
        features = [str(f) for f in features]
        terms = features + (["intercept"] if self.fit_intercept else [])
        keep = self._loss.identified_outputs(self.coef_.shape[0])
        if keep.start == 0:
            return None, terms
        labels = self.classes_[keep]
        outputs = [label for label in labels for _ in terms]
        return outputs, terms * len(labels)

    def _covariance(self, X, y, sample_weight, kind, groups):
        check_is_fitted(self, ["coef_", "intercept_"])
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {list(_KINDS)}, got {kind!r}.")
        if kind == "model" and groups is not None:
            raise ValueError(
                "groups is for kind='sandwich' (cluster-robust); kind='model' ignores "
                "dependence between rows. Pass kind='sandwich' or leave groups out."
            )
        if kind == "model":
            self._warn_if_weighted()
        if self._fitted_alpha() == 0 and getattr(self, "separable_", False):
            raise SingularHessianError(
                "The classes are linearly separable in the data the model was fitted on and "
                "alpha is 0: the cross-entropy has no minimum (the coefficients grow without "
                "bound as the fit runs), so there are no finite standard errors. Fit with "
                "alpha > 0."
            )
        theta = self._identified_parameters()
        if _is_dask(X):
            from ._dask_covariance import chunked_covariance_sums

            sums, margins_along = chunked_covariance_sums(self, X, y, sample_weight, groups, kind)
        else:
            sums, margins_along = self._covariance_sums(X, y, sample_weight, groups, kind)
        outputs, names = self._parameter_labels()
        if outputs is not None:
            pairs = zip(outputs, names, strict=True)
            names = [f"{name} (class {_plain(output)!r})" for output, name in pairs]
        if groups is not None:
            self._check_group_count(sums.group_labels.shape[0], len(names))
        self._warn_if_offset(sums.offsets)
        alpha = self._fitted_alpha()
        result = covariance(
            sums,
            theta,
            loss=self._loss,
            n_outputs=self.coef_.shape[0],
            alpha=alpha,
            kind=kind,
            names=names,
        )
        # At alpha = 0 the minimiser may not exist: the classes may be separated
        # (quasi-completely: some rows on the hyperplane, which `separable_` does not
        # catch) along the direction in which A is least curved, where the fit's
        # coefficients run off and the sandwich is finite, small and wrong. One more
        # pass over X checks that direction's margins.
        if alpha == 0 and separated(margins_along(self._full_direction(result.weakest))):
            raise SingularHessianError(
                "The classes are separated along a direction of the parameters "
                f"{listed(involved(result.weakest, names))}: every weighted row is on "
                "its class's side of a hyperplane or on it (quasi-complete separation, "
                "e.g. a category whose rows are all of one class), so at alpha = 0 the "
                "cross-entropy has no minimum and those coefficients grow without bound "
                "as the fit runs: their standard errors are not finite. Fit with "
                "alpha > 0, or drop or merge the columns."
            )
        check_variances(result, names)
        self._warn_if_off_minimum(result)
        return result

    def _full_direction(self, direction):
        """A direction of the identified parameters as a full ``theta`` (fit layout)."""
        K, d = self.coef_.shape
        q = d + self.fit_intercept
        V = direction.reshape(-1, q)
        W, b = V[:, :d], (V[:, d] if self.fit_intercept else np.zeros(V.shape[0]))
        if V.shape[0] < K:  # relative to output 0, whose own parameters are 0
            W = np.vstack([np.zeros(d), W])
            b = np.concatenate([[0.0], b])
        return np.concatenate([W.ravel(), b]) if self.fit_intercept else W.ravel()

    def _warn_if_offset(self, offsets):
        """Warn when sparse columns' offsets cost the covariance its precision."""
        if offsets is None or not offsets.max() > SPARSE_OFFSET:
            return
        worst = np.flatnonzero(offsets > SPARSE_OFFSET)
        names = self._parameter_labels()[1]
        warnings.warn(
            f"Sparse X has columns whose mean is far from 0 next to their spread (up to "
            f"{offsets.max():.1e} times: {listed([names[j] for j in worst])}). Sparse columns "
            "are centred through their sums, which loses about the square of that ratio in "
            "units of rounding (1e-16): their standard errors may be imprecise. Pass X dense, "
            "or centre those columns before fitting.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )

    @staticmethod
    def _check_group_count(n_groups, n_params):
        if n_groups < 2:
            raise ValueError(
                "groups has a single group: the cluster-robust covariance needs many groups "
                "(dozens at the least), as its B is a sum over them."
            )
        if n_groups <= n_params:
            warnings.warn(
                f"groups has {n_groups} groups for {n_params} parameters: the cluster-robust "
                "B has rank at most the number of groups, so the standard errors are too "
                "small in some directions. It needs many more groups than parameters.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )

    def _covariance_sums(self, X, y, sample_weight, groups, kind):
        """The sums over in-memory rows, and ``direction -> margins`` along it (one part)."""
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=False
        )
        codes = self._class_codes(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        if groups is not None:
            groups = np.asarray(groups)
            if groups.ndim != 1 or groups.shape[0] != X.shape[0]:
                raise ValueError(
                    f"groups must have shape ({X.shape[0]},) like X's rows, got {groups.shape}."
                )
        total = float(X.shape[0] if sample_weight is None else sample_weight.sum())
        if not total > 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        A = weighted_targets(
            codes,
            self.classes_.shape[0],
            sample_weight,
            self._fitted_class_weights(),
            self.label_smoothing,
        )
        objective = LinearObjective(
            self._loss, X, A, alpha=self._fitted_alpha(), fit_intercept=self.fit_intercept
        )
        theta = objective.pack(self.coef_, self.intercept_)
        sums = covariance_sums(objective, theta, total, groups, meat=kind == "sandwich")
        return sums, lambda direction: [separation_margins(objective, direction)]

    def _class_codes(self, y):
        """The class index of each label; ValueError for labels the fit did not see."""
        y = np.asarray(y)
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(
                f"y has labels the model was not fitted with: {np.unique(y[unknown]).tolist()}. "
                f"The classes are {self.classes_.tolist()}."
            )
        return np.searchsorted(self.classes_, y)

    def _warn_if_weighted(self):
        weights = np.asarray(self._fitted_class_weights(), dtype=np.float64)
        causes = []
        if np.any(weights != 1.0):
            # Equal weights c != 1 too: J is then c times the log-likelihood, and the
            # inverse of its Hessian 1/c times the inverse Fisher information.
            causes.append(f"class weights {weights.tolist()}")
        if self.label_smoothing:
            causes.append(f"label_smoothing={self.label_smoothing}")
        if causes:
            warnings.warn(
                f"kind='model' on a weighted fit ({', '.join(causes)}): the inverse Hessian is "
                "the covariance of a maximum-likelihood fit only, and this fit is not one. "
                "Use kind='sandwich'.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )

    def _warn_if_off_minimum(self, result):
        se = np.sqrt(np.diag(result.matrix))
        # A parameter with no variance (a penalised constant column's coefficient,
        # exactly 0 whatever the data) has no scale to measure a step in.
        free = se > 0
        ratio = float(np.max(np.abs(result.step[free]) / se[free], initial=0.0))
        if not ratio <= OFF_MINIMUM:
            warnings.warn(
                f"The fitted parameters are {ratio:.2g} standard errors from the minimum of the "
                "objective on the data passed, and the covariance is that at the minimum. Pass "
                "the data (X, y, sample_weight) the model was fitted on, and a converged fit "
                "(a smaller tol or a larger max_iter).",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )


def _plain(label):
    """A class label as Python shows it (``1``, not ``np.int64(1)``)."""
    return label.item() if isinstance(label, np.generic) else label


def _is_dask(X):
    from ._base import _is_dask_array

    return _is_dask_array(X)


def _document(method):
    # A blank line before the section and after its last parameter (numpydoc).
    method.__doc__ = method.__doc__.replace("%(shared)s", "\n        " + _SHARED.strip())


for _method in (
    InferenceMixin.covariance_matrix,
    InferenceMixin.std_errors,
    InferenceMixin.coef_table,
):
    _document(_method)
