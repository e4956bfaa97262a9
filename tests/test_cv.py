"""The cross-validated estimators (issue 15) against independent references.

The reference for every score and choice is a real ``GridSearchCV`` over the
plain estimator with the same splitter object and scorer; the reference for a
warm-started fit is a cold fit at the same parameters. The problems are small
and the tolerances tight on both sides (``tol=1e-10``) so that both reach the
unique optimum (alpha > 0) and their scores agree to 1e-6.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import (
    ConvergenceWarning,
    NotFittedError,
    UndefinedMetricWarning,
    UnsetMetadataPassedError,
)
from sklearn.metrics import make_scorer, recall_score, roc_auc_score
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    StratifiedKFold,
    cross_val_score,
)

from skce import (
    SoftmaxCE,
    SoftmaxCECV,
    WeightedLogisticCE,
    WeightedLogisticCECV,
    _columns,
    _gram,
    cross_entropy_score,
    make_cross_entropy_scorer,
)
from skce._compat import SKLEARN_VERSION, InvalidParameterError
from skce.linear_model import GridEdgeWarning

from ._data import binary_data, multiclass_data, raw_scales

# The comparisons with GridSearchCV use small grids whose best cell is often at an
# edge; the tests of the warning itself catch it with pytest.warns.
pytestmark = pytest.mark.filterwarnings("ignore::skce.linear_model.GridEdgeWarning")

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
    for owner, name, key in (
        (_columns, "moments", "moments"),
        (_gram, "standardized_gram", "gram"),
    ):
        original = getattr(owner, name)

        def counted(*args, _original=original, _key=key, **kwargs):
            counts[_key] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)

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


def _raw(data):
    X, y = data
    return raw_scales(X), y


# -- the answer of GridSearchCV ---------------------------------------------------------
BETAS = (1, 3, "balanced")
GRID_ALPHAS = (1e-1, 1e-2, 1e-3)


def _search(estimator, grid, cv, scoring, refit=True, **fit_params):
    """The independent reference: GridSearchCV over the plain estimator."""
    search = GridSearchCV(estimator, grid, cv=cv, scoring=scoring, refit=refit)
    return search.fit(*fit_params.pop("data"), **fit_params)


def _assert_same_search(ours, reference, metrics=("score",), atol=1e-6):
    ref = reference.cv_results_
    res = ours.cv_results_
    assert set(res) == set(ref)
    assert res["params"] == ref["params"]
    for name in ("param_alpha", *(k for k in ref if k.startswith("param_") and k != "params")):
        assert res[name].tolist() == ref[name].tolist(), name
    for metric in metrics:
        for key in ref:
            if key.endswith(f"test_{metric}") and not key.startswith("rank"):
                np.testing.assert_allclose(res[key], ref[key], rtol=0, atol=atol, err_msg=key)
    if hasattr(reference, "best_params_"):
        assert ours.best_params_ == reference.best_params_
        assert ours.best_index_ == reference.best_index_


def _binary(n=160, seed=0):
    X, y = binary_data(n_samples=n, n_features=5, weights=(0.8, 0.2), seed=seed)
    return X, y


@pytest.mark.parametrize(
    "scoring",
    [
        "neg_log_loss",
        cross_entropy_score,
        make_cross_entropy_scorer(beta=3.0),
        "roc_auc",
        "balanced_accuracy",
        None,
    ],
    ids=["neg_log_loss", "cross_entropy_score", "cross_entropy_beta3", "roc_auc", "bacc", "None"],
)
def test_weighted_logistic_cv_is_grid_search_cv(scoring):
    X, y = _binary()
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    ours = WeightedLogisticCECV(
        betas=BETAS, alphas=GRID_ALPHAS, cv=cv, scoring=scoring, tol=1e-10
    ).fit(X, y)
    reference = _reference_search(cv, scoring, X, y)
    _assert_same_search(ours, reference)
    # The refit is a direct fit at the chosen parameters.
    direct = WeightedLogisticCE(tol=1e-10, **reference.best_params_).fit(X, y)
    np.testing.assert_allclose(ours.coef_, direct.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, direct.intercept_, rtol=0, atol=1e-6)
    assert ours.beta_ == direct.beta_ and ours.alpha_ == reference.best_params_["alpha"]
    assert ours.best_score_ == pytest.approx(reference.best_score_, abs=1e-6)
    np.testing.assert_array_equal(ours.classes_, direct.classes_)
    assert ours.n_iter_ == direct.n_iter_
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        np.testing.assert_allclose(
            getattr(ours, method)(X), getattr(direct, method)(X), rtol=1e-6, atol=1e-9
        )


@pytest.mark.parametrize("Search", [WeightedLogisticCECV, SoftmaxCECV])
def test_the_default_grid_is_the_documented_one_and_its_choice_is_cross_val_score(Search):
    # The defaults as documented: 6 betas (2 class weightings) x 8 alphas, 5 folds of
    # StratifiedKFold, balanced accuracy; the best score is cross_val_score's there.
    X, y = _binary(n=120) if Search is WeightedLogisticCECV else multiclass_data(n_samples=120)
    search = Search().fit(X, y)
    weights = (1, 2, 4, 8, 16, "balanced") if Search is WeightedLogisticCECV else (None, "balanced")
    name = "beta" if Search is WeightedLogisticCECV else "class_weight"
    alphas = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5)
    assert search.cv_results_["params"] == [{"alpha": a, name: w} for a in alphas for w in weights]
    assert search.n_splits_ == 5
    estimator = search.best_estimator_
    scores = cross_val_score(clone(estimator), X, y, cv=5, scoring="balanced_accuracy")
    assert search.best_score_ == pytest.approx(scores.mean(), abs=1e-9)
    assert search.best_params_ == {"alpha": estimator.alpha, name: getattr(estimator, name)}


def test_several_metrics_with_refit_by_name_is_grid_search_cv():
    X, y = _binary(seed=1)
    cv = StratifiedKFold(4, shuffle=True, random_state=1)
    scoring = {
        "ce": cross_entropy_score,
        "bacc": "balanced_accuracy",
        "recall": "recall",
        "auc": make_scorer(roc_auc_score, response_method="predict_proba"),
    }
    ours = WeightedLogisticCECV(
        betas=(1, 4), alphas=(1e-2, 1e-1), cv=cv, scoring=scoring, refit="bacc", tol=1e-10
    ).fit(X, y)
    reference = _search(
        WeightedLogisticCE(tol=1e-10),
        {"beta": [1, 4], "alpha": [1e-2, 1e-1]},  # alphas given increasing: their order is kept
        cv,
        scoring,
        refit="bacc",
        data=(X, y),
    )
    _assert_same_search(ours, reference, metrics=list(scoring))
    assert ours.multimetric_ and ours.best_score_ == reference.best_score_


def test_softmax_cv_is_grid_search_cv_on_sparse_data():
    X, y = multiclass_data(n_samples=150)
    X[np.abs(X) < 0.5] = 0.0
    X = sp.csr_matrix(X)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    weights = (None, "balanced", {0: 3.0})
    ours = SoftmaxCECV(
        class_weights=weights, alphas=GRID_ALPHAS, cv=cv, scoring="neg_log_loss", tol=1e-10
    ).fit(X, y)
    reference = _search(
        SoftmaxCE(tol=1e-10),
        {"class_weight": list(weights), "alpha": list(GRID_ALPHAS)},
        cv,
        "neg_log_loss",
        data=(X, y),
    )
    _assert_same_search(ours, reference)
    direct = SoftmaxCE(tol=1e-10, **reference.best_params_).fit(X, y)
    np.testing.assert_allclose(ours.coef_, direct.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.class_weight_, direct.class_weight_)


def test_beta_cv_is_grid_search_cv_on_wide_sparse_data():
    # One-hot codes of many levels: too wide for the full metric, so the path runs
    # truncated Newton warm-started along the alphas, GridSearchCV cold fits.
    rng = np.random.RandomState(4)
    codes = np.column_stack([rng.randint(0, 80, 600), rng.randint(0, 20, 600)])
    X = sp.hstack([sp.csr_matrix(np.eye(80)[codes[:, 0]]), sp.csr_matrix(np.eye(20)[codes[:, 1]])])
    X = X.tocsr()
    logit = rng.randn(80)[codes[:, 0]] + rng.randn(20)[codes[:, 1]] - 1.0
    y = (rng.rand(600) < 1 / (1 + np.exp(-logit))).astype(int)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    alphas = (1e-2, 1e-4, 1e-6)
    ours = WeightedLogisticCECV(
        betas=(1, 4), alphas=alphas, cv=cv, scoring="neg_log_loss", tol=1e-10
    ).fit(X, y)
    assert ours.solver_ == "newton"
    reference = _search(
        WeightedLogisticCE(tol=1e-10),
        {"beta": [1, 4], "alpha": list(alphas)},
        cv,
        "neg_log_loss",
        data=(X, y),
    )
    _assert_same_search(ours, reference)


def test_sample_weights_are_routed_to_the_fits_and_the_scorer():
    X, y = _binary(seed=2)
    sw = np.random.RandomState(0).uniform(0.2, 3.0, y.shape[0])
    cv = StratifiedKFold(3, shuffle=True, random_state=2)
    grid = {"beta": [1, 4], "alpha": [1e-1, 1e-3]}
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_cross_entropy_scorer().set_score_request(sample_weight=True)
        ours = WeightedLogisticCECV(
            betas=(1, 4), alphas=(1e-1, 1e-3), cv=cv, scoring=scorer, tol=1e-10
        ).fit(X, y, sample_weight=sw)
        reference = _search(
            WeightedLogisticCE(tol=1e-10).set_fit_request(sample_weight=True),
            grid,
            cv,
            scorer,
            data=(X, y),
            sample_weight=sw,
        )
        # A scorer that does not want the weights gets none.
        unweighted = make_cross_entropy_scorer().set_score_request(sample_weight=False)
        ours_unweighted = clone(ours).set_params(scoring=unweighted).fit(X, y, sample_weight=sw)
        # A scorer that says nothing: routing refuses to guess.
        with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
            clone(ours).set_params(scoring=make_cross_entropy_scorer()).fit(X, y, sample_weight=sw)
    _assert_same_search(ours, reference)
    direct = WeightedLogisticCE(tol=1e-10, **reference.best_params_).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, direct.coef_, rtol=0, atol=1e-6)
    # The weighted and unweighted scores differ: the weights did reach the scorer.
    gap = ours.cv_results_["mean_test_score"] - ours_unweighted.cv_results_["mean_test_score"]
    assert np.abs(gap).max() > 1e-3


@pytest.mark.skipif(SKLEARN_VERSION < (1, 7), reason="GridSearchCV forwards weights from 1.7")
def test_sample_weights_without_routing_reach_a_scorer_that_takes_them():
    X, y = _binary(seed=3)
    sw = np.random.RandomState(1).uniform(0.2, 3.0, y.shape[0])
    cv = StratifiedKFold(3, shuffle=True, random_state=3)
    ours = WeightedLogisticCECV(
        betas=(1, 4), alphas=(1e-1, 1e-3), cv=cv, scoring="neg_log_loss", tol=1e-10
    ).fit(X, y, sample_weight=sw)
    reference = _search(
        WeightedLogisticCE(tol=1e-10),
        {"beta": [1, 4], "alpha": [1e-1, 1e-3]},
        cv,
        "neg_log_loss",
        data=(X, y),
        sample_weight=sw,
    )
    _assert_same_search(ours, reference)


def test_groups_reach_the_splitter_with_routing():
    X, y = _binary(seed=4)
    groups = np.arange(y.shape[0]) % 4
    with sklearn.config_context(enable_metadata_routing=True):
        ours = WeightedLogisticCECV(
            betas=(1, 2), alphas=(1e-2,), cv=GroupKFold(4), scoring="neg_log_loss"
        ).fit(X, y, groups=groups)
        reference = _search(
            WeightedLogisticCE(),
            {"beta": [1, 2], "alpha": [1e-2]},
            GroupKFold(4),
            "neg_log_loss",
            data=(X, y),
            groups=groups,
        )
    _assert_same_search(ours, reference, atol=1e-5)
    with pytest.raises(ValueError, match="metadata routing"):
        WeightedLogisticCECV(cv=GroupKFold(4)).fit(X, y, groups=groups)


def test_parallel_paths_give_the_serial_answer_and_their_warnings():
    X, y = _binary(seed=5)
    cv = StratifiedKFold(3, shuffle=True, random_state=5)
    settings = dict(betas=(1, 4), alphas=(1e-1, 1e-4), cv=cv, scoring="neg_log_loss", max_iter=3)

    def fit_recording(**more):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            search = WeightedLogisticCECV(**settings, **more).fit(X, y)
        messages = [str(w.message) for w in caught if w.category is ConvergenceWarning]
        # One summed warning for the 12 fold fits, one of the refit (also max_iter=3).
        assert sum("of 12 cross-validation fits did not reach tol" in m for m in messages) == 1
        refit = "WeightedLogisticCE (solver='auto', ran 'bb') did not"
        assert sum(m.startswith(refit) for m in messages) == 1
        return search

    serial = fit_recording()
    # The workers' warnings come back to this process (n_jobs=2: loky processes).
    parallel = fit_recording(n_jobs=2)
    np.testing.assert_array_equal(
        serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"]
    )


def test_refit_false_chooses_without_a_model():
    X, y = _binary()
    search = WeightedLogisticCECV(
        betas=(1, "balanced"), alphas=(1e-1, 1e-2), cv=3, refit=False
    ).fit(X, y)
    assert set(search.best_params_) == {"alpha", "beta"}
    assert not hasattr(search, "coef_") and not hasattr(search, "best_estimator_")
    if search.best_params_["beta"] == "balanced":
        assert search.beta_ == pytest.approx((y == 0).sum() / (y == 1).sum())
    with pytest.raises(NotFittedError, match="refit=False"):
        search.predict(X)
    several = WeightedLogisticCECV(
        betas=(1,), alphas=(1e-2,), cv=3, scoring=["accuracy", "recall"], refit=False
    ).fit(X, y)
    assert not hasattr(several, "best_params_") and "mean_test_recall" in several.cv_results_


def test_callable_refit_picks_the_index_it_returns():
    X, y = _binary()
    search = WeightedLogisticCECV(
        betas=(1, 2), alphas=(1e-1, 1e-2), cv=3, refit=lambda results: 3
    ).fit(X, y)
    assert search.best_index_ == 3 and search.best_params_ == {"alpha": 1e-2, "beta": 2}
    assert not hasattr(search, "best_score_")
    direct = WeightedLogisticCE(beta=2, alpha=1e-2).fit(X, y)
    np.testing.assert_allclose(search.coef_, direct.coef_, atol=1e-6)


def test_feature_names_are_kept_and_checked():
    pd = pytest.importorskip("pandas")
    X, y = _binary()
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    search = WeightedLogisticCECV(betas=(1, 2), alphas=(1e-2,), cv=3).fit(frame, y)
    assert search.feature_names_in_.tolist() == list(frame.columns)
    assert search.best_estimator_.feature_names_in_.tolist() == list(frame.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        search.predict(frame)
    with pytest.warns(UserWarning, match="feature names"):
        search.predict(X)


# -- the choice, explained ---------------------------------------------------------------
def _imbalanced(n=600, seed=0):
    X, y = make_classification(
        n_samples=n,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        weights=[0.9],
        flip_y=0.02,
        class_sep=0.8,
        random_state=seed,
    )
    return X, y


def test_the_default_scorer_chooses_beta_where_cross_entropy_cannot():
    # Why the default is balanced accuracy: on imbalanced data the unweighted
    # cross-entropy picks beta = 1 (calibration to the observed frequencies) and a
    # beta-weighted one picks the beta of its own weight, while balanced accuracy
    # picks a beta > 1, which finds more of the rare class.
    X, y = _imbalanced()
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    betas = (1, 2, 4, 8, 16)
    settings = dict(betas=betas, alphas=(1e-3,), cv=cv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GridEdgeWarning)
        default = WeightedLogisticCECV(**settings).fit(X, y)
        by_ce = WeightedLogisticCECV(**settings, scoring=cross_entropy_score).fit(X, y)
        by_weighted_ce = {
            b: WeightedLogisticCECV(**settings, scoring=make_cross_entropy_scorer(beta=b))
            .fit(X, y)
            .best_params_["beta"]
            for b in (4, 16)
        }
    assert default.get_params()["scoring"] == "balanced_accuracy"
    assert by_ce.best_params_["beta"] == 1
    assert by_weighted_ce == {4: 4, 16: 16}
    assert default.best_params_["beta"] > 1
    recall = recall_score(y, default.predict(X))
    assert recall > recall_score(y, by_ce.predict(X)) + 0.1


@pytest.mark.parametrize(
    "signal, alphas, expected",
    [
        # No signal: the strongest penalty is best, and stronger ones may be better.
        (False, (1e-3, 1e-2, 1e-1), "alpha = 0.1 is the largest in alphas"),
        # Signal, a grid of strong penalties: the weakest is best.
        (True, (3.0, 1.0, 0.3), "alpha = 0.3 is the smallest in alphas"),
        (True, (1e-1, 1e-2, 1e-3, 1e-4, 1e-6), None),
    ],
)
def test_an_alpha_at_the_edge_of_its_grid_is_explained(signal, alphas, expected):
    X, y = _binary(n=200)
    if not signal:
        y = np.random.RandomState(0).permutation(y)
    search = WeightedLogisticCECV(betas=(1,), alphas=alphas, cv=3, scoring="neg_log_loss")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    edge = [str(w.message) for w in caught if issubclass(w.category, GridEdgeWarning)]
    if expected is None:
        assert min(alphas) < search.alpha_ < max(alphas) and edge == []
    else:
        direction = "upward" if "largest" in expected else "downward"
        assert len(edge) == 1 and expected in edge[0], edge
        assert f"extend alphas {direction}" in edge[0]


def test_a_beta_at_the_edge_of_its_grid_is_explained():
    X, y = _imbalanced()
    with pytest.warns(GridEdgeWarning, match=r"beta = 2 is the largest in betas.*upward") as w:
        WeightedLogisticCECV(betas=(1, 2), alphas=(1e-3,), cv=3).fit(X, y)
    assert "(e.g. add 4)" in str(w[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GridEdgeWarning)
        WeightedLogisticCECV(betas=(1, 4, 64), alphas=(1e-3,), cv=3).fit(X, y)


def _edge_messages(X, y, **params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = WeightedLogisticCECV(cv=3, **params).fit(X, y)
    return search, [str(w.message) for w in caught if issubclass(w.category, GridEdgeWarning)]


@pytest.mark.parametrize(
    "scoring",
    [
        "neg_log_loss",
        cross_entropy_score,
        "neg_brier_score",
        {"ce": cross_entropy_score, "recall": "recall"},
    ],
    ids=["neg_log_loss", "cross_entropy_score", "neg_brier_score", "dict"],
)
def test_the_beta_edge_advice_under_a_score_that_prefers_the_unweighted_fit(scoring):
    # These scores prefer beta = 1 whatever the costs (calibrated probabilities
    # score best): beta = 1 at an end of the grid is where they should end, so
    # there is nothing to advise about beta; a grid above 1 is advised to add 1,
    # never to go below it. The alpha advice stays.
    X, y = _imbalanced()
    refit = "ce" if isinstance(scoring, dict) else True
    settings = dict(scoring=scoring, refit=refit)
    for betas in [(1, 2), (0.5, 1)]:
        search, edge = _edge_messages(X, y, betas=betas, alphas=(1e-3,), **settings)
        assert search.best_params_["beta"] == 1 and edge == []
    search, edge = _edge_messages(X, y, betas=(2, 4), alphas=(1e-3,), **settings)
    assert search.best_params_["beta"] == 2 and len(edge) == 1
    assert "beta = 2 is the smallest in betas" in edge[0]
    assert "prefers the unweighted fit (beta = 1" in edge[0] and edge[0].endswith("add 1 to betas.")
    assert "downward" not in edge[0]
    search, edge = _edge_messages(X, y, betas=(1, 2), alphas=(3.0, 1.0, 0.3), **settings)
    assert search.best_params_ == {"alpha": 0.3, "beta": 1} and len(edge) == 1
    assert "extend alphas downward" in edge[0] and "beta" not in edge[0]


def test_the_beta_edge_advice_under_a_weighted_score_extends_the_grid():
    # A beta-weighted cross-entropy prefers the fitted beta nearest its own weight:
    # with weight 0.5 the same grid's beta = 1 is an edge worth extending downward.
    X, y = _imbalanced()
    scorer = make_cross_entropy_scorer(beta=0.5)
    search, edge = _edge_messages(X, y, betas=(1, 2), alphas=(1e-3,), scoring=scorer)
    assert search.best_params_["beta"] == 1 and len(edge) == 1
    assert "beta = 1 is the smallest in betas" in edge[0]
    assert "extend betas downward (e.g. add 0.5)" in edge[0]
    assert "unweighted" not in edge[0]
    # Below 1, it is advised to extend further down where a calibrating score is not.
    search, edge = _edge_messages(X, y, betas=(0.5, 1), alphas=(1e-3,), scoring=scorer)
    assert search.best_params_["beta"] == 0.5 and "extend betas downward" in edge[0]
    # A calibrating score on the same side of 1 is only pointed back to 1.
    search, edge = _edge_messages(X, y, betas=(0.25, 0.5), alphas=(1e-3,), scoring="neg_log_loss")
    assert search.best_params_["beta"] == 0.5 and len(edge) == 1
    assert "beta = 0.5 is the largest in betas" in edge[0] and "add 1 to betas" in edge[0]


# -- bad input: one clear error each ---------------------------------------------------------
@pytest.mark.parametrize(
    "params, match",
    [
        ({"alphas": ()}, "alphas is empty"),
        ({"alphas": (1e-2, 0.0)}, r"alphas must be finite numbers > 0, got 0\.0"),
        ({"alphas": (1e-2, -1.0)}, "alphas must be finite numbers > 0"),
        ({"alphas": (np.nan,)}, "alphas must be finite numbers > 0"),
        ({"alphas": (1e-2, 0.01)}, r"alphas has duplicates: \[0\.01\]"),
        ({"betas": ()}, "betas is empty"),
        ({"betas": (1, -2)}, r'betas must hold finite numbers > 0 or "balanced", got -2'),
        ({"betas": (1, "balance")}, "betas must hold finite numbers > 0"),
        ({"betas": (2, 2.0)}, r"betas has duplicates: \[2\.0\]"),
        ({"betas": ("balanced", 1, "balanced")}, "betas has duplicates"),
    ],
)
def test_bad_grids_of_weighted_logistic_cv(params, match):
    X, y = _binary()
    with pytest.raises(ValueError, match=match):
        WeightedLogisticCECV(**params).fit(X, y)


@pytest.mark.parametrize(
    "weights, match",
    [
        ((), "class_weights is empty"),
        ((None, None), "class_weights has duplicates"),
        (({0: 2}, {0: 2.0}), "class_weights has duplicates"),
        ((None, "equal"), 'class_weights must hold None, "balanced" or dicts'),
        (({0: -1.0},), "finite weights >= 0, got -1.0"),
    ],
)
def test_bad_grids_of_softmax_cv(weights, match):
    X, y = multiclass_data(n_samples=60)
    with pytest.raises(ValueError, match=match):
        SoftmaxCECV(class_weights=weights).fit(X, y)


# -- classes smaller than the folds: scikit-learn's convention ----------------------------
def _rare_class(n_rare, rare=1, n=100):
    """``_binary`` data with only ``n_rare`` samples of class ``rare``."""
    X, y = _binary(n=n)
    keep = np.concatenate([np.flatnonzero(y != rare), np.flatnonzero(y == rare)[:n_rare]])
    return X[keep], y[keep]


def _fit_recording(search, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    return [str(w.message) for w in caught if w.category is UserWarning]


@pytest.mark.parametrize("scoring", [cross_entropy_score, "balanced_accuracy"])
def test_a_class_smaller_than_the_folds_warns_and_the_search_is_grid_search_cv(scoring):
    # Three positives and five stratified folds: two test parts hold no positive,
    # every training part holds two or three. StratifiedKFold warns and
    # LogisticRegressionCV fits; so do these, with one warning that says what to change.
    X, y = _rare_class(3)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    ours = WeightedLogisticCECV(betas=BETAS, alphas=GRID_ALPHAS, cv=cv, scoring=scoring, tol=1e-10)
    messages = _fit_recording(ours, X, y)
    ours_messages = [m for m in messages if m.startswith("WeightedLogisticCECV")]
    assert len(ours_messages) == 1, messages
    assert "5 stratified folds" in ours_messages[0]
    assert "class 1 (3 samples) is missing from 2 of the 5 test parts" in ours_messages[0]
    assert "Use cv <= 3" in ours_messages[0] and "training part" not in ours_messages[0]
    # It replaces the splitter's warning instead of repeating it.
    assert not any(m.startswith("The least populated class") for m in messages)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        reference = _reference_search(cv, scoring, X, y)
    _assert_same_search(ours, reference)


def _reference_search(cv, scoring, X, y):
    """GridSearchCV over ``BETAS`` x ``GRID_ALPHAS`` of a tight WeightedLogisticCE."""
    grid = {"beta": list(BETAS), "alpha": list(GRID_ALPHAS)}
    return _search(WeightedLogisticCE(tol=1e-10), grid, cv, scoring, data=(X, y))


@pytest.mark.parametrize("rare", [1, 0])
def test_a_training_part_without_a_class_is_fitted_with_every_class(rare):
    # One sample of a class: the split whose test part holds it trains on the
    # other class only. LogisticRegressionCV fits that split with the classes of
    # all the data; so does this search ("balanced" then means beta = 1). Its
    # model predicts the other class only: for every candidate, its accuracy is
    # that of all but the one sample and its balanced accuracy 1/2 (recall 1
    # and 0). The other splits are GridSearchCV's, whose fit of that split fails.
    X, y = _rare_class(1, rare)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the splitter's: class of 1 member
        splits = list(cv.split(X, y))
    lacking = [k for k, (train, _) in enumerate(splits) if rare not in y[train]]
    assert len(lacking) == 1
    scoring = {"bacc": "balanced_accuracy", "acc": "accuracy"}
    ours = WeightedLogisticCECV(
        betas=BETAS, alphas=GRID_ALPHAS, cv=cv, scoring=scoring, refit="bacc", tol=1e-10
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours.fit(X, y)
    messages = [
        str(w.message)
        for w in caught
        if w.category is UserWarning and str(w.message).startswith("WeightedLogisticCECV")
    ]
    assert len(messages) == 1
    assert f"split {lacking[0]} holds no sample of class {rare}" in messages[0]
    assert f"class {rare} (1 sample) is missing from 4 of the 5 test parts" in messages[0]
    assert "A class of one sample" in messages[0]
    assert not [w for w in caught if issubclass(w.category, (RuntimeWarning, ConvergenceWarning))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = GridSearchCV(
            WeightedLogisticCE(tol=1e-10),
            {"beta": list(BETAS), "alpha": list(GRID_ALPHAS)},
            cv=cv,
            scoring=scoring,
            refit="bacc",
        ).fit(X, y)
    for k in range(5):
        for metric in scoring:
            key = f"split{k}_test_{metric}"
            if k not in lacking:
                np.testing.assert_allclose(
                    ours.cv_results_[key], reference.cv_results_[key], atol=1e-6
                )
                continue
            assert np.isnan(reference.cv_results_[key]).all()
            n_test = splits[k][1].shape[0]
            expected = 0.5 if metric == "bacc" else (n_test - 1) / n_test
            np.testing.assert_allclose(ours.cv_results_[key], expected, rtol=1e-12)
    direct = WeightedLogisticCE(tol=1e-10, **ours.best_params_).fit(X, y)
    np.testing.assert_allclose(ours.coef_, direct.coef_, rtol=0, atol=1e-6)


def _single_sample_of_class_2():
    X, y = multiclass_data(n_samples=120)
    keep = np.concatenate([np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:1]])
    return X[keep], y[keep]


@pytest.mark.parametrize("prior_correction", [False, True])
def test_softmax_cv_fits_a_split_without_a_class_as_grid_search_cv_predicts(prior_correction):
    # Three classes, one of them a single sample. The split that lacks it in
    # its training part is fitted with all three classes; the absent class's
    # probability vanishes (its logit falls until the gradient is below tol), so
    # the predictions, and the balanced accuracy, are those of GridSearchCV's
    # two-class model of that split, with or without prior correction.
    X, y = _single_sample_of_class_2()
    cv = StratifiedKFold(4, shuffle=True, random_state=1)
    weights = (None, {0: 2.0})
    settings = dict(tol=1e-10, prior_correction=prior_correction)
    ours = SoftmaxCECV(
        class_weights=weights, alphas=GRID_ALPHAS, cv=cv, scoring="balanced_accuracy", **settings
    )
    messages = [m for m in _fit_recording(ours, X, y) if m.startswith("SoftmaxCECV")]
    assert len(messages) == 1 and "holds no sample of class 2" in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = _search(
            SoftmaxCE(**settings),
            {"class_weight": list(weights), "alpha": list(GRID_ALPHAS)},
            cv,
            "balanced_accuracy",
            data=(X, y),
        )
    _assert_same_search(ours, reference)


def test_a_class_absent_from_a_training_part_has_weight_one():
    # "balanced" would give the absent class the weight 0, which prior_correction
    # refuses (ln 0); it weighs no sample there, so its weight is 1 (no correction).
    X, y = _single_sample_of_class_2()
    search = SoftmaxCECV(class_weights=("balanced",), alphas=(1e-2,), cv=4, prior_correction=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    np.testing.assert_allclose(search.class_weight_, y.shape[0] / (3 * np.bincount(y)))


def test_more_folds_than_every_class_has_members_is_one_clear_error():
    X, y = _binary(n=100)
    X, y = X[:8], np.repeat([0, 1], 4)
    with pytest.raises(ValueError) as error:
        WeightedLogisticCECV(alphas=(1e-2,)).fit(X, y)
    message = str(error.value)
    assert "cv=5 makes 5 stratified folds, but every class has fewer samples" in message
    assert "Use cv <= 4" in message
    # The condition on which StratifiedKFold raises its own error, which says less.
    with pytest.raises(ValueError, match="cannot be greater than the number of members"):
        list(StratifiedKFold(5).split(X, y))


def test_a_training_part_without_a_class_warns_with_any_splitter():
    X, y = _binary(n=100)
    order = np.argsort(y, kind="stable")
    search = WeightedLogisticCECV(betas=(1, 2), alphas=(1e-2,), cv=KFold(2))
    messages = _fit_recording(search, X[order], y[order])
    assert any(
        "the training part of split 1 holds no sample of class 1" in m
        and "Use a stratified splitter" in m
        for m in messages
    ), messages
    assert search.n_splits_ == 2 and np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_a_scorer_that_cannot_score_the_model_is_one_clear_error():
    X, y = multiclass_data(n_samples=90)
    # A binary-only metric on three classes.
    with pytest.raises(ValueError, match=r"The scoring .* cannot score the model fitted at "):
        SoftmaxCECV(alphas=(1e-2,), cv=3, scoring="roc_auc").fit(X, y)
    with pytest.raises(ValueError, match="refit must be the name"):
        WeightedLogisticCECV(scoring={"a": "accuracy", "b": "recall"}).fit(*_binary())
    with pytest.raises(InvalidParameterError, match="scoring"):
        WeightedLogisticCECV(scoring="recal").fit(*_binary())


def test_dask_arrays_are_refused_with_the_way_out():
    da = pytest.importorskip("dask.array")
    X, y = _binary()
    with pytest.raises(TypeError, match="parallel_backend"):
        WeightedLogisticCECV().fit(da.from_array(X, chunks=50), y)


def test_a_warning_of_the_fold_fits_reaches_the_caller_once():
    # alpha = 100: every fold model predicts the majority class, and precision is
    # undefined on every test fold; scikit-learn warns in each of them.
    X, y = _binary()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        WeightedLogisticCECV(betas=(1,), alphas=(100.0,), cv=3, scoring="precision").fit(X, y)
    undefined = [w for w in caught if issubclass(w.category, UndefinedMetricWarning)]
    assert len(undefined) == 1 and "Precision" in str(undefined[0].message)
    assert undefined[0].filename == __file__
