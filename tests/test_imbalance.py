"""Label smoothing, prior correction, loss curves and progress output."""

import warnings

import numpy as np
import pytest
from scipy.special import expit, log_softmax
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skce import SoftmaxCE, WeightedLogisticCE
from skce._loss import BinaryCrossEntropy, MultinomialCrossEntropy
from skce._objective import LinearObjective, weighted_targets

from ._data import binary_data, central_differences, multiclass_data


def torch_style_multinomial(X, y, sw, cw, eps, alpha, theta):
    """Smoothed, class-weighted cross-entropy as PyTorch defines its terms.

    Per sample: (1 - eps) * (-c_y ln q_y) + (eps / K) * sum_k (-c_k ln q_k); here
    normalised by the sum of the sample weights, plus the L2 penalty on W.
    """
    k = cw.shape[0]
    d = X.shape[1]
    W = theta[: k * d].reshape(k, d)
    b = theta[k * d :]
    logq = log_softmax(X @ W.T + b, axis=1)
    rows = np.arange(len(y))
    per_sample = (1 - eps) * (-cw[y] * logq[rows, y]) + (eps / k) * (-(cw * logq).sum(axis=1))
    return (sw * per_sample).sum() / sw.sum() + 0.5 * alpha * (W**2).sum()


def smoothed_binary(X, y, sw, beta, eps, alpha, theta):
    """-[beta t ln p + (1 - t) ln(1 - p)] with t = y (1 - eps) + eps / 2."""
    d = X.shape[1]
    p = expit(X @ theta[:d] + theta[d])
    t = y * (1 - eps) + eps / 2
    ce = -(beta * t * np.log(p) + (1 - t) * np.log(1 - p))
    return (sw * ce).sum() / sw.sum() + 0.5 * alpha * theta[:d] @ theta[:d]


def _data(seed=0, n=60, d=4, k=3):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    y = rng.randint(0, k, n)
    y[:k] = np.arange(k)
    sw = rng.uniform(0.2, 2.0, n)
    cw = rng.uniform(0.5, 3.0, k)
    return rng, X, y, sw, cw


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.6])
def test_smoothed_multinomial_objective_matches_torch_style_formula(eps):
    rng, X, y, sw, cw = _data()
    A = weighted_targets(y, 3, sw, cw, label_smoothing=eps)
    obj = LinearObjective(MultinomialCrossEntropy, X, A, alpha=0.2)
    theta = rng.randn(obj.n_params)
    expected = torch_style_multinomial(X, y, sw, cw, eps, 0.2, theta)
    assert obj.value(theta) == pytest.approx(expected, rel=1e-12)
    fd = central_differences(obj.value, theta)
    np.testing.assert_allclose(obj.value_and_grad(theta)[1], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("eps", [0.05, 0.3])
@pytest.mark.parametrize("beta", [1.0, 8.0])
def test_smoothed_binary_objective_matches_formula(eps, beta):
    rng, X, y, sw, _ = _data(k=2)
    A = weighted_targets(y, 2, sw, np.array([1.0, beta]), label_smoothing=eps)
    obj = LinearObjective(BinaryCrossEntropy, X, A, alpha=0.1)
    theta = rng.randn(obj.n_params)
    expected = smoothed_binary(X, y, sw, beta, eps, 0.1, theta)
    assert obj.value(theta) == pytest.approx(expected, rel=1e-12)
    fd = central_differences(obj.value, theta)
    np.testing.assert_allclose(obj.value_and_grad(theta)[1], fd, rtol=1e-6, atol=1e-8)


def test_estimator_with_label_smoothing_minimises_the_smoothed_objective():
    """At the fitted coefficients, the test's own formula has zero gradient."""
    X, y = multiclass_data(n_samples=150)
    sw = np.random.RandomState(0).uniform(0.5, 2, len(y))
    model = SoftmaxCE(class_weight={0: 2.0}, label_smoothing=0.2, alpha=1e-2, tol=1e-9)
    model.fit(X, y, sample_weight=sw)
    theta = np.concatenate([model.coef_.ravel(), model.intercept_])
    cw = np.array([2.0, 1.0, 1.0])

    def formula(t):
        return torch_style_multinomial(X, y, sw, cw, 0.2, 1e-2, t)

    assert np.abs(central_differences(formula, theta)).max() < 1e-6
    assert model.loss_curve_[-1] == pytest.approx(formula(theta), rel=1e-10)


def test_label_smoothing_shrinks_confidence():
    X, y = binary_data()
    sharp = WeightedLogisticCE().fit(X, y).predict_proba(X)
    smooth = WeightedLogisticCE(label_smoothing=0.3).fit(X, y).predict_proba(X)
    assert smooth.max() < sharp.max()
    # Smoothed targets pull every probability towards 1/2: smaller logits on average.
    assert (
        np.abs(np.log(smooth[:, 1] / smooth[:, 0])).mean()
        < 0.8 * np.abs(np.log(sharp[:, 1] / sharp[:, 0])).mean()
    )


def _known_probability_data(n=40_000, seed=0):
    """Features with a known P(y = 1 | x) = sigmoid(x . w + b), about 5% positives."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 3)
    p_true = expit(X @ np.array([1.0, -0.5, 0.8]) - 3.5)
    y = (rng.rand(n) < p_true).astype(int)
    return X, y, p_true


def test_prior_correction_restores_calibration():
    X, y, p_true = _known_probability_data()
    beta = 10.0
    raw = WeightedLogisticCE(beta=beta, alpha=1e-6).fit(X, y)
    corrected = WeightedLogisticCE(beta=beta, alpha=1e-6, prior_correction=True).fit(X, y)
    np.testing.assert_array_equal(raw.coef_, corrected.coef_)
    p_raw = raw.predict_proba(X)[:, 1]
    p_cor = corrected.predict_proba(X)[:, 1]
    # Distance to the known probabilities (Brier-type, against the truth).
    err_raw = np.mean((p_raw - p_true) ** 2)
    err_cor = np.mean((p_cor - p_true) ** 2)
    assert err_cor < 0.05 * err_raw
    assert err_cor < 1e-4
    # Calibration in the large: mean predicted probability matches the base rate.
    assert abs(p_cor.mean() - y.mean()) < 0.005
    assert p_raw.mean() > 3 * y.mean()
    # The correction is exactly ln(beta) on the logit.
    np.testing.assert_allclose(
        raw.decision_function(X) - corrected.decision_function(X), np.log(beta), rtol=1e-12
    )
    # Reliability: in deciles of predicted probability, observed frequency ~ predicted.
    order = np.argsort(p_cor)
    for chunk in np.array_split(order, 10):
        assert abs(y[chunk].mean() - p_cor[chunk].mean()) < 0.02


def test_softmax_prior_correction_subtracts_log_class_weights():
    X, y = multiclass_data()
    cw = {0: 1.0, 1: 4.0, 2: 0.5}
    raw = SoftmaxCE(class_weight=cw).fit(X, y)
    corrected = SoftmaxCE(class_weight=cw, prior_correction=True).fit(X, y)
    Z = X @ raw.coef_.T + raw.intercept_
    expected = log_softmax(Z - np.log([1.0, 4.0, 0.5]), axis=1)
    np.testing.assert_allclose(corrected.predict_log_proba(X), expected, atol=1e-12)
    np.testing.assert_array_equal(corrected.predict(X), np.argmax(expected, axis=1))


def test_prior_correction_with_zero_class_weight_is_refused():
    X, y = multiclass_data()
    with pytest.raises(ValueError, match="prior_correction"):
        SoftmaxCE(class_weight={2: 0.0}, prior_correction=True).fit(X, y)


@pytest.mark.parametrize("solver", ["bb", "agd", "lbfgs", "gd"])
def test_loss_curve_records_the_objective(solver):
    X, y = binary_data()
    sw = np.ones(len(y))
    model = WeightedLogisticCE(alpha=1e-2, solver=solver, max_iter=5000).fit(X, y)
    curve = np.array(model.loss_curve_)
    assert curve.shape == (model.n_iter_ + 1,)
    # Starts at theta = 0, where p = 1/2 for every sample: J = ln 2.
    assert curve[0] == pytest.approx(np.log(2))
    theta = np.append(model.coef_[0], model.intercept_)
    final = smoothed_binary(X, y, sw, 1.0, 0.0, 1e-2, theta)
    assert curve.min() == pytest.approx(final, rel=1e-9)
    if solver in ("gd", "lbfgs"):  # monotone methods
        assert np.all(np.diff(curve) <= 1e-15)


def test_verbose_prints_progress_on_stderr(capsys):
    X, y = multiclass_data()
    SoftmaxCE(verbose=1).fit(X, y)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "iter" in line]
    assert len(lines) >= 2
    assert "objective" in lines[0] and "max|grad|" in lines[0]
    SoftmaxCE(verbose=0).fit(X, y)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "model",
    [
        WeightedLogisticCE(beta="balanced", prior_correction=True),
        SoftmaxCE(class_weight={0: 1.0, 1: 4.0, 2: 0.5}, prior_correction=True),
    ],
    ids=["binary", "softmax"],
)
def test_prior_correction_follows_from_public_attributes(model):
    # A model rebuilt from its parameters and public fitted attributes only (as a
    # model file or a hand-made copy does) must apply the same correction.
    X, y = multiclass_data()
    if isinstance(model, WeightedLogisticCE):
        y = (y == 2).astype(int)
    fitted = clone(model).fit(X, y)
    rebuilt = clone(model)
    public = [name for name in vars(fitted) if name.endswith("_") and not name.startswith("_")]
    for name in public:
        setattr(rebuilt, name, getattr(fitted, name))
    assert not [name for name in vars(fitted) if name.startswith("_") and name != "_n_evals"]
    np.testing.assert_array_equal(rebuilt.predict_log_proba(X), fitted.predict_log_proba(X))
    # ... and the correction is really there: it differs from the uncorrected model.
    rebuilt.set_params(prior_correction=False)
    assert np.max(np.abs(rebuilt.predict_log_proba(X) - fitted.predict_log_proba(X))) > 0.1


@pytest.mark.parametrize("Model", [WeightedLogisticCE, SoftmaxCE])
def test_status_attributes_report_how_the_fit_ended(Model):
    X, y = binary_data()
    model = Model(alpha=1e-2).fit(X, y)
    assert model.status_ == "converged" and model.separable_ is False
    with pytest.warns(ConvergenceWarning):
        short = Model(alpha=1e-2, max_iter=2).fit(X, y)
    assert short.status_ == "max_iter" and short.separable_ is False


def test_prior_correction_switched_on_after_fit():
    # The correction is applied at prediction time: switching it on after fit
    # equals fitting with it, and a zero class weight is refused then too.
    X, y = multiclass_data()
    cw = {0: 1.0, 1: 4.0, 2: 0.5}
    late = SoftmaxCE(class_weight=cw).fit(X, y).set_params(prior_correction=True)
    early = SoftmaxCE(class_weight=cw, prior_correction=True).fit(X, y)
    np.testing.assert_array_equal(late.predict_log_proba(X), early.predict_log_proba(X))
    with warnings.catch_warnings():
        # A class of zero weight has no finite intercept (docs/objective.md): the fit
        # may end at max_iter; only the refusal at prediction matters here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        zero = SoftmaxCE(class_weight={2: 0.0}).fit(X, y)
    zero.set_params(prior_correction=True)
    with pytest.raises(ValueError, match="prior_correction=True needs positive class weights"):
        zero.predict_proba(X)
