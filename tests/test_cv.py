"""The cross-validated estimators (issue 15) against independent references.

The reference for every score and choice is a real ``GridSearchCV`` over the
plain estimator with the same splitter object and scorer; the reference for a
warm-started fit is a cold fit at the same parameters. The problems are small
and the tolerances tight on both sides (``tol=1e-10``) so that both reach the
unique optimum (alpha > 0) and their scores agree to 1e-6.
"""

import numpy as np
import pytest

from skce import SoftmaxCE, WeightedLogisticCE
from skce._objective import LinearObjective

from ._data import binary_data, multiclass_data, raw_scales

ALPHAS = (1e-1, 1e-2, 1e-3, 1e-4)


# -- the path: prepared once, warm-started along alpha ------------------------------------
@pytest.mark.parametrize(
    "make, data",
    [
        (lambda: WeightedLogisticCE(beta=3.0, tol=1e-9), lambda: binary_data()),
        # Raw scales: the full metric is rebuilt at every warm start.
        (lambda: WeightedLogisticCE(beta="balanced", tol=1e-9), lambda: _raw(binary_data())),
        (lambda: WeightedLogisticCE(solver="agd", tol=1e-9), lambda: binary_data()),
        (lambda: WeightedLogisticCE(solver="gd", tol=1e-7, max_iter=20_000), lambda: binary_data()),
        (lambda: SoftmaxCE(class_weight="balanced", tol=1e-9), lambda: multiclass_data()),
        (lambda: SoftmaxCE(solver="lbfgs", tol=1e-9), lambda: multiclass_data()),
    ],
)
def test_fit_path_reaches_the_cold_fits_optimum_at_every_alpha(make, data):
    X, y = data()
    path_model = make()
    objective, X_fit = path_model._objective(X, y, None)
    for alpha, fitted in zip(ALPHAS, path_model._fit_path(objective, X_fit, ALPHAS), strict=True):
        cold = make().set_params(alpha=alpha).fit(X, y)
        assert fitted.status_ == cold.status_ == "converged"
        # Both stop at max|grad J| <= tol; the optimum is unique (alpha > 0), so
        # their distance is at most about tol / alpha.
        np.testing.assert_allclose(fitted.coef_, cold.coef_, atol=2e-4 * cold.tol / alpha * 1e3)
        np.testing.assert_allclose(fitted.intercept_, cold.intercept_, atol=1e-4)
        np.testing.assert_allclose(fitted.loss_curve_[-1], cold.loss_curve_[-1], rtol=1e-9)
    # The parameters are left as they were.
    assert path_model.alpha == make().alpha and path_model.warm_start is False


def test_fit_path_prepares_once_and_reuses_the_metric(monkeypatch):
    """The path computes the column moments once and no Gram matrix at a warm start."""
    X, y = _raw(binary_data(n_samples=2000))
    counts = {"moments": 0, "gram": 0}
    for name, key in (("_column_moments", "moments"), ("standardized_gram", "gram")):
        original = getattr(LinearObjective, name)

        def counted(self, *args, _original=original, _key=key, **kwargs):
            counts[_key] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(LinearObjective, name, counted)

    def path():
        model = WeightedLogisticCE(beta=4.0)
        objective, X_fit = model._objective(X, y, None)
        return [(f.n_iter_, f.loss_curve_[-1]) for f in model._fit_path(objective, X_fit, ALPHAS)]

    def cold():
        return [
            (m.n_iter_, m.loss_curve_[-1])
            for m in (WeightedLogisticCE(beta=4.0, alpha=a).fit(X, y) for a in ALPHAS)
        ]

    warm = path()
    path_counts = dict(counts)
    counts.update(moments=0, gram=0)
    reference = cold()
    # Cold fits: moments and the bound metric per fit, plus its refreshes.
    assert counts["moments"] == len(ALPHAS) and counts["gram"] >= 2 * len(ALPHAS)
    # The path: moments once; Gram matrices only for the first fit's metric and
    # for refreshes within a fit, none to start a warm fit.
    assert path_counts["moments"] == 1
    assert path_counts["gram"] <= counts["gram"] - (len(ALPHAS) - 1), (path_counts, counts)
    np.testing.assert_allclose([f for _, f in warm], [f for _, f in reference], rtol=1e-9)
    assert sum(n for n, _ in warm[1:]) <= sum(n for n, _ in reference[1:]) + 2


def _raw(data):
    X, y = data
    return raw_scales(X), y
