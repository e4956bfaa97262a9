"""Standard errors of the fits (issue 24) against independent references.

``covariance_matrix``, ``std_errors`` and ``coef_table`` are checked against

- statsmodels: ``Logit`` and ``MNLogit`` (the inverse information of an
  unweighted maximum-likelihood fit, ``kind="model"``) and ``GLM(Binomial,
  var_weights=s * c)`` with ``cov_type="HC0"`` and ``"cluster"`` (the sandwich of
  a weighted fit, and its cluster-robust form);
- a brute-force reference written below with plain numpy from the formula
  (per-row scores and Hessians, explicitly), and a finite-difference Hessian of
  the objective as written in the estimators' docstrings;
- invariances that follow from the definitions alone (sparse = dense, a change
  of units of the columns, frequency weights = repeated rows, ...).

Every fit is tight (``tol=1e-10``) so that skce and the references sit at the
same optimum, and the data are small so that the file runs in a few seconds.
"""

import builtins
import copy
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.special import expit, log_softmax, softmax
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from statsmodels.datasets import anes96, spector
from statsmodels.discrete.discrete_model import Logit, MNLogit
from statsmodels.genmod.families import Binomial
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.sm_exceptions import SpecificationWarning
from statsmodels.tools.tools import add_constant

from skce import SoftmaxCE, SoftmaxCECV, WeightedLogisticCE, WeightedLogisticCECV
from skce.linear_model import SingularHessianError

TOL = 1e-10
ANES_COLUMNS = ["logpopul", "selfLR", "age", "educ", "income"]
OFF_MINIMUM_MESSAGE = "standard errors from the minimum"
WEIGHTED_MODEL_MESSAGE = "kind='model' on a weighted fit"


# -- data ------------------------------------------------------------------------------
def _binary(n=240, seed=0):
    """Three columns of different scales and offsets; labels from a logistic model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -2.0]
    y = (rng.random(n) < expit(X @ [0.8, -0.4, 1.0] + 0.5)).astype(int)
    return X, y


def _multiclass(n=300, n_classes=3, seed=0):
    """Three columns; labels from a multinomial logit model (Gumbel-max sampling)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -2.0]
    W = rng.normal(size=(n_classes, 3)) * 0.7
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, n_classes)), axis=1)
    return X, y


def _sample_weight(n, seed=1):
    return np.random.default_rng(seed).uniform(0.5, 2.0, n)


def _anes96():
    data = anes96.load_pandas().data
    return data[ANES_COLUMNS], data


def _assert_close(actual, desired, rtol):
    """Entrywise, relative to the largest entry of ``desired`` (off-diagonals can be ~0)."""
    desired = np.asarray(desired, dtype=np.float64)
    assert np.shape(actual) == desired.shape
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * np.abs(desired).max())


def _identified(model):
    """The parameters in the documented order, from the public ``coef_`` and ``intercept_``.

    Per output its coefficients then its intercept; for softmax, classes 1..K-1
    minus class 0.
    """
    W = np.asarray(model.coef_, dtype=np.float64)
    b = np.asarray(model.intercept_, dtype=np.float64)
    if W.shape[0] > 1:
        W, b = (W - W[0])[1:], (b - b[0])[1:]
    if model.fit_intercept:
        W = np.column_stack([W, b])
    return W.ravel()


# -- the brute-force reference ---------------------------------------------------------
# The fit minimises, over the logits' parameters (docstrings of the estimators),
#
#     J = (1 / S) sum_i s_i sum_k c_k t_ik (-ln q_ik) + (alpha / 2) ||W||_F^2,   S = sum_i s_i,
#
# t_i = (1 - eps) onehot(y_i) + eps / K and q_i = softmax(z_i). The binary model is
# K = 2 with one logit z = z_1 - z_0 (so class 0's logit is 0), W = w and c = (1, beta).
#
# Softmax: the loss sees only the differences delta_k = W_k - W_0 (and b_k - b_0);
# with W_k = delta_k + m (delta_0 = 0) the penalty is (alpha / 2) sum_k ||delta_k + m||^2,
# minimised over the free common shift m at m = -mean_k delta_k. The fitted delta
# therefore minimises loss(delta) + (alpha / 2) sum_{k=0}^{K-1} ||delta_k - mean(delta)||^2
#     = loss(delta) + (alpha / 2) [sum_k ||delta_k||^2 - (1 / K) ||sum_k delta_k||^2],
# a quadratic whose Hessian in (delta_1, ..., delta_{K-1}) is alpha (I - 1 1^T / K) (x) I_d
# on the coefficients (0 on the intercepts, which are not penalised). For K = 2 it is
# alpha / 2: SoftmaxCE(alpha=2a) and WeightedLogisticCE(alpha=a) fit the same model.
#
# Row i's loss l_i = sum_k a_ik (-ln q_ik) with a_ik = s_i c_k t_ik has
#     dl_i/dz_k = (sum_m a_im) q_ik - a_ik,
#     d2l_i/dz_k dz_m = (sum_m a_im) (q_ik [k = m] - q_ik q_im),
# and z_k = delta_k . x_i + beta_k, so u_i = (dl_i/dz_k x~_i)_{k>=1} with x~_i = (x_i, 1).
# A = (1/S) sum_i (Hessian of l_i) + penalty, B = (1/S^2) sum_i u_i u_i^T (or over the
# group sums of u_i); sandwich = A^-1 B A^-1, model = (S A)^-1.


def _penalty_hessian(alpha, n_classes, d, fit_intercept, binary):
    coupling = np.eye(1) if binary else np.eye(n_classes - 1) - 1.0 / n_classes
    return alpha * np.kron(coupling, np.diag([1.0] * d + [0.0] * fit_intercept))


def _targets(y, classes, class_weight, sample_weight, label_smoothing):
    """``a_ik = s_i c_k t_ik``, (n, K)."""
    K = len(classes)
    onehot = (np.asarray(y)[:, None] == np.asarray(classes)[None, :]).astype(float)
    t = (1.0 - label_smoothing) * onehot + label_smoothing / K
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    return s[:, None] * np.asarray(class_weight, dtype=float)[None, :] * t, s.sum()


def _design(X, fit_intercept):
    X = np.asarray(X, dtype=np.float64)
    return np.column_stack([X, np.ones(len(X))]) if fit_intercept else X


def _logits(Xt, theta, n_classes):
    """All K logits, class 0's at 0, from the identified parameters."""
    Z = np.zeros((Xt.shape[0], n_classes))
    Z[:, 1:] = Xt @ theta.reshape(n_classes - 1, Xt.shape[1]).T
    return Z


def _reference_terms(
    X,
    y,
    classes,
    theta,
    *,
    fit_intercept,
    binary,
    class_weight,
    sample_weight=None,
    label_smoothing=0.0,
    alpha=0.0,
):
    """``(A, U, S, gradient)``: J's Hessian, the rows' scores, the weight total, J's gradient."""
    K = len(classes)
    Xt = _design(X, fit_intercept)
    n, q = Xt.shape
    a, S = _targets(y, classes, class_weight, sample_weight, label_smoothing)
    Q = softmax(_logits(Xt, theta, K), axis=1)
    total = a.sum(axis=1)
    G = total[:, None] * Q - a  # dl_i / dz_k
    U = np.einsum("ik,ij->ikj", G[:, 1:], Xt).reshape(n, (K - 1) * q)
    Hz = total[:, None, None] * (np.eye(K)[None] * Q[:, :, None] - Q[:, :, None] * Q[:, None, :])
    H = np.einsum("ikm,ij,il->kjml", Hz[:, 1:, 1:], Xt, Xt).reshape((K - 1) * q, (K - 1) * q)
    penalty = _penalty_hessian(alpha, K, X.shape[1], fit_intercept, binary)
    return H / S + penalty, U, S, U.sum(axis=0) / S + penalty @ theta


def _reference_covariance(A, U, S, kind="sandwich", groups=None):
    inverse = np.linalg.inv(A)
    if kind == "model":
        return inverse / S
    if groups is not None:
        _, codes = np.unique(groups, return_inverse=True)
        U = np.stack([U[codes == g].sum(axis=0) for g in range(codes.max() + 1)])
    return inverse @ (U.T @ U / S**2) @ inverse


def _objective(
    X,
    y,
    classes,
    theta,
    *,
    fit_intercept,
    binary,
    class_weight,
    sample_weight=None,
    label_smoothing=0.0,
    alpha=0.0,
):
    """J at the identified parameters, with the penalty on the centred W (not on the coupling)."""
    K = len(classes)
    Xt = _design(X, fit_intercept)
    a, S = _targets(y, classes, class_weight, sample_weight, label_smoothing)
    loss = -np.sum(a * log_softmax(_logits(Xt, theta, K), axis=1)) / S
    d = X.shape[1]
    delta = np.vstack([np.zeros(d), theta.reshape(K - 1, Xt.shape[1])[:, :d]])
    W = delta[1:] if binary else delta - delta.mean(axis=0)  # the shift m minimising ||W||^2
    return loss + 0.5 * alpha * np.sum(W**2)


def _finite_difference_hessian(f, x, h=1e-4):
    """Second central differences of ``f`` at ``x``: O(h^2), independent of any gradient."""
    P = x.size
    H = np.empty((P, P))
    E = np.eye(P) * h
    for j in range(P):
        for k in range(j, P):
            H[j, k] = H[k, j] = (
                f(x + E[j] + E[k]) - f(x + E[j] - E[k]) - f(x - E[j] + E[k]) + f(x - E[j] - E[k])
            ) / (4 * h * h)
    return H


# Cases for the brute-force reference: (estimator, class weights c_k, data, options).
def _case(name):
    X, y = _binary()
    Xm, ym = _multiclass()
    X4, y4 = _multiclass(n=320, n_classes=4, seed=3)
    s = _sample_weight(len(y))
    groups = np.arange(len(y)) % 17
    cases = {
        # alpha > 0: the penalty in A, and not on the intercept.
        "binary-alpha": (WeightedLogisticCE(beta=3.0, alpha=0.05), [1.0, 3.0], X, y, s, None),
        "binary-alpha-groups": (
            WeightedLogisticCE(beta=3.0, alpha=0.05),
            [1.0, 3.0],
            X,
            y,
            s,
            groups,
        ),
        "binary-smoothing": (
            WeightedLogisticCE(beta=2.0, alpha=1e-3, label_smoothing=0.1),
            [1.0, 2.0],
            X,
            y,
            None,
            None,
        ),
        "binary-no-intercept": (
            WeightedLogisticCE(alpha=0.01, fit_intercept=False),
            [1.0, 1.0],
            X,
            y,
            s,
            None,
        ),
        "softmax-K3-class-weight": (
            SoftmaxCE(class_weight={0: 1.0, 1: 2.5, 2: 0.5}, alpha=0.05),
            [1.0, 2.5, 0.5],
            Xm,
            ym,
            _sample_weight(len(ym)),
            None,
        ),
        "softmax-K4-smoothing-no-intercept-groups": (
            SoftmaxCE(class_weight={3: 2.0}, alpha=0.02, label_smoothing=0.05, fit_intercept=False),
            [1.0, 1.0, 1.0, 2.0],
            X4,
            y4,
            None,
            np.arange(len(y4)) % 23,
        ),
    }
    model, class_weight, X, y, s, groups = cases[name]
    model.set_params(tol=TOL, max_iter=10_000).fit(X, y, sample_weight=s)
    options = dict(
        fit_intercept=model.fit_intercept,
        binary=isinstance(model, WeightedLogisticCE),
        class_weight=class_weight,
        sample_weight=s,
        label_smoothing=model.label_smoothing,
        alpha=model.alpha,
    )
    return model, X, y, s, groups, options


CASES = [
    "binary-alpha",
    "binary-alpha-groups",
    "binary-smoothing",
    "binary-no-intercept",
    "softmax-K3-class-weight",
    "softmax-K4-smoothing-no-intercept-groups",
]


# -- statsmodels -----------------------------------------------------------------------
def test_model_kind_equals_statsmodels_logit_on_spector():
    data = spector.load_pandas()
    X, y = data.exog, data.endog
    model = WeightedLogisticCE(alpha=0.0, tol=TOL).fit(X, y)
    reference = Logit(y, add_constant(X, prepend=False)).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(_identified(model), reference.params, rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unweighted fit: no warning
        covariance = model.covariance_matrix(X, y, kind="model")
        se = model.std_errors(X, y, kind="model")
    _assert_close(covariance, reference.cov_params(), rtol=1e-6)
    np.testing.assert_allclose(se, reference.bse, rtol=1e-6)


def test_model_kind_equals_statsmodels_mnlogit_on_anes96():
    X, data = _anes96()
    y = data["PID"]  # 7 classes; statsmodels' MNLogit example
    model = SoftmaxCE(alpha=0.0, tol=TOL, max_iter=10_000).fit(X, y)
    reference = MNLogit(y, add_constant(X, prepend=False)).fit(
        disp=0, method="newton", tol=1e-12, maxiter=100
    )
    # statsmodels: params (d + 1) x (K - 1), the constant last, each column a class
    # relative to the first; its cov_params is class-major, in the same order.
    np.testing.assert_allclose(_identified(model), reference.params.to_numpy().T.ravel(), rtol=1e-6)
    _assert_close(model.covariance_matrix(X, y, kind="model"), reference.cov_params(), rtol=1e-6)
    np.testing.assert_allclose(
        model.std_errors(X, y, kind="model"), reference.bse.to_numpy().T.ravel(), rtol=1e-6
    )


@pytest.mark.parametrize("clustered", [False, True])
def test_softmax_sandwich_equals_statsmodels_mnlogit_robust(clustered):
    X, data = _anes96()
    y = data["PID"]
    groups = data["TVnews"].to_numpy() if clustered else None
    model = SoftmaxCE(alpha=0.0, tol=TOL, max_iter=10_000).fit(X, y)
    fit = dict(disp=0, method="newton", tol=1e-12, maxiter=100)
    if clustered:
        fit.update(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
    else:
        fit.update(cov_type="HC0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # statsmodels' own kwargs check
        reference = MNLogit(y, add_constant(X, prepend=False)).fit(**fit)
    if clustered:  # 8 days of TV news for 36 parameters: B is rank-deficient, and skce says so
        with pytest.warns(UserWarning, match="groups has 8 groups for 36 parameters"):
            covariance = model.covariance_matrix(X, y, groups=groups)
    else:
        covariance = model.covariance_matrix(X, y)
    _assert_close(covariance, reference.cov_params(), rtol=1e-6)


@pytest.mark.parametrize("clustered", [False, True])
@pytest.mark.parametrize(
    "beta, weighted", [(4.0, False), (1.0, True), (4.0, True)], ids=["beta", "sample", "both"]
)
def test_sandwich_equals_statsmodels_glm_var_weights(beta, weighted, clustered):
    X, data = _anes96()
    y = data["vote"].to_numpy()
    s = _sample_weight(len(y)) if weighted else None
    groups = data["TVnews"].to_numpy() if clustered else None  # 8 groups: days of TV news
    model = WeightedLogisticCE(beta=beta, alpha=0.0, tol=TOL).fit(X, y, sample_weight=s)
    var_weights = (1.0 if s is None else s) * np.where(y == 1, beta, 1.0)  # s_i c_{y_i}
    glm = GLM(y, add_constant(X, prepend=False), family=Binomial(), var_weights=var_weights)
    with warnings.catch_warnings():
        # "cov_type not fully supported with var_weights": the sandwich of the weighted
        # score is what is wanted here.
        warnings.simplefilter("ignore", SpecificationWarning)
        if clustered:
            reference = glm.fit(
                cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False}, tol=1e-12
            )
        else:
            reference = glm.fit(cov_type="HC0", tol=1e-12)
    np.testing.assert_allclose(_identified(model), reference.params, rtol=1e-6)
    covariance = model.covariance_matrix(X, y, s, groups=groups)
    _assert_close(covariance, reference.cov_params(), rtol=1e-6)
    table = model.coef_table(X, y, s, groups=groups)
    np.testing.assert_allclose(table["std_err"], reference.bse, rtol=1e-6)


# -- the brute-force reference ---------------------------------------------------------
@pytest.mark.parametrize("name", CASES)
def test_sandwich_and_model_equal_the_formula(name):
    model, X, y, s, groups, options = _case(name)
    theta = _identified(model)
    A, U, S, gradient = _reference_terms(X, y, model.classes_, theta, **options)
    # The fit is at the minimum of J as written above (else the reference is of
    # another objective): its Newton step is a tiny fraction of the standard errors.
    sandwich = _reference_covariance(A, U, S, groups=groups)
    step = np.linalg.solve(A, gradient)
    assert np.max(np.abs(step) / np.sqrt(np.diag(sandwich))) < 1e-4

    _assert_close(model.covariance_matrix(X, y, s, groups=groups), sandwich, rtol=1e-7)
    np.testing.assert_allclose(
        model.std_errors(X, y, s, groups=groups), np.sqrt(np.diag(sandwich)), rtol=1e-7
    )
    if groups is None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=WEIGHTED_MODEL_MESSAGE)
            inverse = model.covariance_matrix(X, y, s, kind="model")
        _assert_close(inverse, _reference_covariance(A, U, S, kind="model"), rtol=1e-7)


@pytest.mark.parametrize("name", ["binary-alpha", "softmax-K3-class-weight"])
def test_hessian_equals_finite_differences_of_the_objective(name):
    """A from second differences of J (the penalty on the centred W, not the coupling)."""
    model, X, y, s, _, options = _case(name)
    theta = _identified(model)
    A, U, S, _ = _reference_terms(X, y, model.classes_, theta, **options)
    A_fd = _finite_difference_hessian(
        lambda t: _objective(X, y, model.classes_, t, **options), theta
    )
    _assert_close(A, A_fd, rtol=1e-5)  # the analytic reference itself
    inverse = np.linalg.inv(A_fd)
    sandwich = inverse @ (U.T @ U / S**2) @ inverse
    _assert_close(model.covariance_matrix(X, y, s), sandwich, rtol=1e-5)


# -- invariances -------------------------------------------------------------------------
@pytest.mark.parametrize("to_sparse", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
@pytest.mark.parametrize("estimator", ["binary", "softmax"])
def test_sparse_input_equals_dense(to_sparse, estimator):
    X, y = _binary() if estimator == "binary" else _multiclass()
    X = X.copy()
    X[np.random.default_rng(5).random(X.shape) < 0.4] = 0.0  # many zeros: sparse storage differs
    s = _sample_weight(len(y))
    groups = np.arange(len(y)) % 13
    model = (
        WeightedLogisticCE(beta=3.0, alpha=1e-3, tol=TOL)
        if estimator == "binary"
        else SoftmaxCE(class_weight={0: 2.0}, alpha=1e-2, tol=TOL)
    ).fit(X, y, sample_weight=s)
    for g in (None, groups):
        dense = model.covariance_matrix(X, y, s, groups=g)
        _assert_close(model.covariance_matrix(to_sparse(X), y, s, groups=g), dense, rtol=1e-7)
    # A fit on the sparse matrix too.
    sparse_fit = model.__class__(**model.get_params()).fit(to_sparse(X), y, sample_weight=s)
    _assert_close(
        sparse_fit.covariance_matrix(to_sparse(X), y, s), model.covariance_matrix(X, y, s), 1e-6
    )


def test_float32_data_close_to_float64():
    X, y = _binary()
    s = _sample_weight(len(y))
    model = WeightedLogisticCE(beta=3.0, alpha=1e-3, tol=TOL).fit(X, y, sample_weight=s)
    with warnings.catch_warnings():
        # float32 cannot reach tol=1e-10; the fit says so.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model32 = WeightedLogisticCE(beta=3.0, alpha=1e-3, tol=1e-6).fit(
            X.astype(np.float32), y, sample_weight=s
        )
    covariance = model32.covariance_matrix(X.astype(np.float32), y, s)
    assert covariance.dtype == np.float64
    _assert_close(covariance, model.covariance_matrix(X, y, s), rtol=1e-4)


@pytest.mark.parametrize(
    "scale, shift, alpha, kind",
    [
        ([1e-3, 10.0, 1e3], [5.0, -1e3, 1e4], 0.0, "sandwich"),
        ([1e-2, 3.0, 1e2], [-2.0, 50.0, 0.5], 0.0, "model"),
        ([1.0, 1.0, 1.0], [5.0, -1e3, 1e2], 0.05, "sandwich"),  # the intercept is not penalised
    ],
)
def test_change_of_units_transforms_the_covariance(scale, shift, alpha, kind):
    """X' = X diag(c) + 1 m^T: w' = w / c, b' = b - m . (w / c); Cov' = M Cov M^T."""
    X, y = _binary()
    s = _sample_weight(len(y)) if kind == "sandwich" else None
    beta = 3.0 if kind == "sandwich" else 1.0
    scale, shift = np.asarray(scale), np.asarray(shift)
    fit = dict(beta=beta, alpha=alpha, tol=TOL, max_iter=10_000)
    model = WeightedLogisticCE(**fit).fit(X, y, sample_weight=s)
    X2 = X * scale + shift
    model2 = WeightedLogisticCE(**fit).fit(X2, y, sample_weight=s)
    d = X.shape[1]
    M = np.eye(d + 1)
    M[np.arange(d), np.arange(d)] = 1.0 / scale
    M[d, :d] = -shift / scale
    np.testing.assert_allclose(_identified(model2), M @ _identified(model), rtol=1e-6)
    covariance = model.covariance_matrix(X, y, s, kind=kind)
    _assert_close(model2.covariance_matrix(X2, y, s, kind=kind), M @ covariance @ M.T, rtol=1e-6)
    se, se2 = model.std_errors(X, y, s, kind=kind), model2.std_errors(X2, y, s, kind=kind)
    np.testing.assert_allclose(se2[:d], se[:d] / scale, rtol=1e-6)


@pytest.mark.parametrize("groups", [False, True])
def test_two_class_softmax_equals_weighted_logistic_at_double_alpha(groups):
    X, y = _binary()
    s = _sample_weight(len(y))
    g = np.arange(len(y)) % 11 if groups else None
    binary = WeightedLogisticCE(alpha=0.02, tol=TOL).fit(X, y, sample_weight=s)
    softmax_ = SoftmaxCE(alpha=0.04, tol=TOL).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(
        softmax_.predict_proba(X), binary.predict_proba(X), rtol=1e-7, atol=1e-9
    )
    _assert_close(
        softmax_.covariance_matrix(X, y, s, groups=g),
        binary.covariance_matrix(X, y, s, groups=g),
        rtol=1e-6,
    )
    if not groups:
        _assert_close(
            softmax_.covariance_matrix(X, y, s, kind="model"),
            binary.covariance_matrix(X, y, s, kind="model"),
            rtol=1e-6,
        )


@pytest.mark.parametrize("estimator", ["binary", "softmax"])
def test_integer_weights_are_repeated_rows(estimator):
    """kind="model": frequency weights; the sandwich: a weighted row is its copies in one group."""
    X, y = _binary() if estimator == "binary" else _multiclass()
    counts = np.random.default_rng(2).integers(1, 4, len(y))
    rows = np.repeat(np.arange(len(y)), counts)
    Estimator = WeightedLogisticCE if estimator == "binary" else SoftmaxCE
    weighted = Estimator(alpha=1e-2, tol=TOL).fit(X, y, sample_weight=counts)
    repeated = Estimator(alpha=1e-2, tol=TOL).fit(X[rows], y[rows])
    _assert_close(
        weighted.covariance_matrix(X, y, counts.astype(float), kind="model"),
        repeated.covariance_matrix(X[rows], y[rows], kind="model"),
        rtol=1e-6,
    )
    _assert_close(
        weighted.covariance_matrix(X, y, counts),
        repeated.covariance_matrix(X[rows], y[rows], groups=rows),
        rtol=1e-6,
    )


def test_zero_weight_rows_are_absent_rows():
    X, y = _multiclass()
    s = _sample_weight(len(y))
    s[::4] = 0.0
    keep = s > 0
    g = np.arange(len(y)) % 9
    model = SoftmaxCE(class_weight="balanced", alpha=1e-2, tol=TOL).fit(X, y, sample_weight=s)
    kept = SoftmaxCE(class_weight="balanced", alpha=1e-2, tol=TOL).fit(
        X[keep], y[keep], sample_weight=s[keep]
    )
    _assert_close(
        model.covariance_matrix(X, y, s, groups=g),
        kept.covariance_matrix(X[keep], y[keep], s[keep], groups=g[keep]),
        rtol=1e-6,
    )


def test_one_row_per_group_equals_no_groups():
    X, y = _binary()
    s = _sample_weight(len(y))
    model = WeightedLogisticCE(beta=2.0, alpha=1e-3, tol=TOL).fit(X, y, sample_weight=s)
    labels = np.random.default_rng(0).permutation(len(y)).astype(str)  # any labels, any order
    _assert_close(
        model.covariance_matrix(X, y, s, groups=labels), model.covariance_matrix(X, y, s), 1e-10
    )


@pytest.mark.filterwarnings("ignore::skce.linear_model.GridEdgeWarning")
@pytest.mark.parametrize("estimator", ["binary", "softmax"])
def test_cv_estimator_equals_plain_estimator_refitted_at_best_params(estimator):
    # The grids leave out the plain estimators' default alpha (1e-4), so that a
    # covariance taken at the default instead of alpha_ would show.
    if estimator == "binary":
        X, y = _binary()
        search = WeightedLogisticCECV(betas=[1.0, 4.0], alphas=[0.3, 1e-3], cv=3, tol=TOL)
        Plain = WeightedLogisticCE
    else:
        X, y = _multiclass()
        search = SoftmaxCECV(class_weights=[None, "balanced"], alphas=[0.3, 1e-3], cv=3, tol=TOL)
        Plain = SoftmaxCE
    s = _sample_weight(len(y))
    g = np.arange(len(y)) % 23
    search.fit(X, y, sample_weight=s)
    plain = Plain(**search.best_params_, tol=TOL).fit(X, y, sample_weight=s)
    for groups in (None, g):
        _assert_close(
            search.covariance_matrix(X, y, s, groups=groups),
            plain.covariance_matrix(X, y, s, groups=groups),
            rtol=1e-6,
        )
    pd.testing.assert_frame_equal(
        search.coef_table(X, y, s), plain.coef_table(X, y, s), rtol=1e-6, atol=1e-8
    )


@pytest.mark.filterwarnings("ignore::skce.linear_model.GridEdgeWarning")
@pytest.mark.parametrize("method", ["covariance_matrix", "std_errors", "coef_table"])
def test_cv_estimator_without_refit_is_not_fitted(method):
    X, y = _multiclass(n=120)
    for search in (
        WeightedLogisticCECV(betas=[1.0], alphas=[1e-2], cv=2, refit=False),
        SoftmaxCECV(class_weights=[None], alphas=[1e-2], cv=2, refit=False),
    ):
        yy = (y == 0).astype(int) if isinstance(search, WeightedLogisticCECV) else y
        search.fit(X, yy)
        with pytest.raises(NotFittedError):
            getattr(search, method)(X, yy)


# -- coef_table ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, clustered", [("sandwich", False), ("sandwich", True), ("model", False)]
)
def test_coef_table_binary_against_scipy_norm(kind, clustered):
    X, y = _binary()
    frame = pd.DataFrame(X, columns=["height", "weight", "age"])
    groups = np.arange(len(y)) % 10 if clustered else None
    model = WeightedLogisticCE(alpha=1e-3, tol=TOL).fit(frame, y)
    table = model.coef_table(frame, y, groups=groups, kind=kind, confidence_level=0.9)
    assert list(table.columns) == ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
    assert list(table.index) == ["height", "weight", "age", "intercept"]
    coef = np.append(model.coef_[0], model.intercept_[0])
    se = np.sqrt(np.diag(model.covariance_matrix(frame, y, groups=groups, kind=kind)))
    z = coef / se
    np.testing.assert_allclose(table["coef"], coef, rtol=1e-12)
    np.testing.assert_allclose(table["std_err"], se, rtol=1e-12)
    np.testing.assert_allclose(table["z"], z, rtol=1e-12)
    np.testing.assert_allclose(table["p_value"], 2 * norm.cdf(-np.abs(z)), rtol=1e-9)
    half = norm.ppf(0.95) * se  # 90 %: the 5 % and 95 % quantiles
    np.testing.assert_allclose(table["ci_lower"], coef - half, rtol=1e-12)
    np.testing.assert_allclose(table["ci_upper"], coef + half, rtol=1e-12)


def test_coef_table_softmax_index_and_reference_class():
    X, y = _multiclass()
    labels = np.array(["red", "green", "blue"])[y]
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = SoftmaxCE(alpha=1e-2, tol=TOL).fit(frame, labels)
    table = model.coef_table(frame, labels)
    assert list(model.classes_) == ["blue", "green", "red"]
    assert table.attrs["reference_class"] == "blue"
    assert table.index.names == ["class", "term"]
    terms = ["a", "b", "c", "intercept"]
    assert list(table.index) == [(k, t) for k in ("green", "red") for t in terms]
    # Each class's parameters minus the reference class's, from coef_ and intercept_.
    for k, label in enumerate(model.classes_):
        if k == 0:
            continue
        expected = np.append(
            model.coef_[k] - model.coef_[0], model.intercept_[k] - model.intercept_[0]
        )
        np.testing.assert_allclose(table.loc[label, "coef"], expected, rtol=1e-12)
    np.testing.assert_allclose(
        table["std_err"], np.sqrt(np.diag(model.covariance_matrix(frame, labels))), rtol=1e-12
    )
    z = table["coef"] / table["std_err"]
    np.testing.assert_allclose(table["p_value"], 2 * norm.sf(np.abs(z)), rtol=1e-9)
    half = norm.ppf(0.975) * table["std_err"]
    np.testing.assert_allclose(table["ci_upper"] - table["ci_lower"], 2 * half, rtol=1e-9)


def test_coef_table_without_feature_names_or_intercept():
    X, y = _binary()
    model = WeightedLogisticCE(alpha=1e-2, fit_intercept=False, tol=TOL).fit(X, y)
    table = model.coef_table(X, y)
    assert list(table.index) == ["x0", "x1", "x2"]
    np.testing.assert_allclose(table["coef"], model.coef_[0], rtol=1e-12)


@pytest.mark.parametrize("confidence_level", [0, 1, 1.5, -0.5, "x", None, True, np.nan])
def test_coef_table_rejects_bad_confidence_level(confidence_level):
    X, y = _binary(n=80)
    model = WeightedLogisticCE(alpha=1e-2).fit(X, y)
    with pytest.raises(ValueError, match="confidence_level"):
        model.coef_table(X, y, confidence_level=confidence_level)


def test_coef_table_without_pandas_names_pandas(monkeypatch):
    X, y = _binary(n=80)
    model = WeightedLogisticCE(alpha=1e-2).fit(X, y)
    # `import pandas` raises ImportError, as where pandas is not installed; sys.modules
    # is left alone: scikit-learn (< 1.7) reads pandas from it while validating X.
    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match=r"coef_table needs pandas: pip install pandas"):
        model.coef_table(X, y)


# -- bad input ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    X, y = _binary()
    return WeightedLogisticCE(alpha=1e-3, tol=TOL).fit(X, y), X, y


METHODS = ["covariance_matrix", "std_errors", "coef_table"]


@pytest.mark.parametrize("method", METHODS)
def test_other_number_of_columns_is_refused(fitted, method):
    model, X, y = fitted
    with pytest.raises(ValueError, match="X has 2 features, but WeightedLogisticCE is expecting 3"):
        getattr(model, method)(X[:, :2], y)


@pytest.mark.parametrize("method", METHODS)
def test_other_column_names_are_refused(method):
    X, y = _binary()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = WeightedLogisticCE(alpha=1e-3).fit(frame, y)
    with pytest.raises(ValueError, match="feature names should match"):
        getattr(model, method)(frame.rename(columns={"b": "z"}), y)


@pytest.mark.parametrize("method", METHODS)
def test_unseen_label_is_named(method):
    X, y = _multiclass()
    model = SoftmaxCE(alpha=1e-2).fit(X, y)
    y_other = np.where(y == 2, 7, y)
    with pytest.raises(ValueError, match=r"\[7\]"):
        getattr(model, method)(X, y_other)


@pytest.mark.parametrize("method", METHODS)
def test_bad_kind_and_groups_are_refused(fitted, method):
    model, X, y = fitted
    call = getattr(model, method)
    with pytest.raises(ValueError, match="kind"):
        call(X, y, kind="hc0")
    with pytest.raises(ValueError, match="groups"):
        call(X, y, kind="model", groups=np.arange(len(y)))
    with pytest.raises(ValueError, match="groups"):
        call(X, y, groups=np.arange(len(y) - 1))
    with pytest.raises(ValueError, match="groups"):
        call(X, y, groups=np.arange(2 * len(y)).reshape(len(y), 2))
    unordered = np.array(["a", 1] * (len(y) // 2) + ["a"] * (len(y) % 2), dtype=object)
    with pytest.raises(ValueError, match="groups must be labels of one comparable type"):
        call(X, y, groups=unordered)
    for missing in (None, np.nan):
        labels = np.array(["a", "b"] * (len(y) // 2) + ["a"] * (len(y) % 2), dtype=object)
        labels[3] = missing
        with pytest.raises(ValueError, match="groups has 1 missing labels"):
            call(X, y, groups=labels)
    with pytest.raises(ValueError, match="missing labels"):
        call(X, y, groups=np.where(np.arange(len(y)) == 5, np.nan, np.arange(len(y)) % 9))
    with pytest.raises(ValueError, match="a single group"):
        call(X, y, groups=np.zeros(len(y)))


@pytest.mark.parametrize("method", METHODS)
def test_unfitted_estimator_raises_not_fitted(method):
    X, y = _binary(n=50)
    for model in (WeightedLogisticCE(), SoftmaxCE()):
        with pytest.raises(NotFittedError):
            getattr(model, method)(X, y)


@pytest.mark.parametrize(
    "estimator, make_column, named",
    [
        ("binary", lambda X: X[:, 1], ["b", "copy"]),  # a duplicated column
        ("binary", lambda X: X[:, 0] - 2.0 * X[:, 2], ["a", "c", "copy"]),  # a sum of others
        ("binary", lambda X: np.full(len(X), 3.0), ["copy"]),  # constant, next to the intercept
        ("softmax", lambda X: X[:, 1], ["b", "copy"]),
    ],
    ids=["duplicate", "combination", "constant", "softmax-duplicate"],
)
@pytest.mark.parametrize("kind", ["sandwich", "model"])
def test_collinear_columns_raise_singular_hessian_naming_them(estimator, make_column, named, kind):
    X, y = _binary() if estimator == "binary" else _multiclass()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["copy"] = make_column(X)
    Estimator = WeightedLogisticCE if estimator == "binary" else SoftmaxCE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = Estimator(alpha=0.0, tol=1e-8).fit(frame, y)
    with pytest.raises(SingularHessianError) as error:
        model.covariance_matrix(frame, y, kind=kind)
    assert isinstance(error.value, ValueError)
    message = str(error.value)
    for name in named:  # 'b' for one logit, 'b (class 1)' and the like for softmax
        assert re.search(rf"'{name}[' ]", message), (name, message)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["sandwich", "model"])
@pytest.mark.parametrize("estimator", ["binary", "softmax"])
def test_separable_classes_raise_singular_hessian(estimator, kind):
    """No finite minimiser: the documented SingularHessianError, never finite numbers."""
    X, _ = _binary()
    if estimator == "binary":
        y = (X[:, 0] > 0).astype(int)
        model = WeightedLogisticCE(alpha=0.0, tol=TOL).fit(X, y)
    else:
        y = np.digitize(X[:, 0], [-0.5, 0.5])
        model = SoftmaxCE(alpha=0.0, tol=TOL, max_iter=10_000).fit(X, y)
    with pytest.raises(SingularHessianError):
        model.covariance_matrix(X, y, kind=kind)


def _quasi_separated(label=1, sign=1.0, n=2000, seed=4):
    """One numeric column and a one-hot category (3 of 4 levels) whose rows are all ``label``.

    ``sign=-1`` negates the columns: the separating direction then points the other way.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    category = rng.integers(0, 4, n)
    y = (x + rng.normal(size=n) > 0).astype(int)
    y[category == 3] = label
    X = np.column_stack([x, category == 1, category == 2, category == 3]).astype(float)
    return sign * X, y


@pytest.mark.parametrize(
    "tol, label, sign", [(1e-7, 1, 1.0), (1e-12, 1, 1.0), (1e-9, 0, 1.0), (1e-9, 1, -1.0)]
)
@pytest.mark.parametrize("estimator", ["binary", "softmax"])
def test_quasi_separation_raises_singular_hessian_naming_the_column(estimator, tol, label, sign):
    """A category whose rows are all of one class: no finite minimiser at alpha = 0.

    ``separable_`` is False (some rows are on the hyperplane), the fit stops at its tol
    with the category's coefficient large and growing, and the sandwich would be finite,
    small and wrong (its B sees no variation in those rows' scores): it must raise,
    naming the category's column, at a loose tol and a tight one.
    """
    X, y = _quasi_separated(label, sign)
    Estimator = WeightedLogisticCE if estimator == "binary" else SoftmaxCE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = Estimator(alpha=0.0, tol=tol, max_iter=100_000).fit(X, y)
    assert not model.separable_
    for kind in ("sandwich", "model"):
        with pytest.raises(SingularHessianError, match=r"separated along .*'x3[ ']"):
            model.covariance_matrix(X, y, kind=kind)
    # The same data with a penalty: a minimiser exists, and so do the standard errors.
    penalised = Estimator(alpha=1e-3, tol=TOL).fit(X, y)
    assert np.all(np.isfinite(penalised.std_errors(X, y)))


def test_ill_conditioned_but_overlapping_data_are_not_called_separated():
    """Nearly collinear columns make A's smallest eigenvalue tiny; the rows overlap along
    that direction, so the separation check (run because of it) finds no separation."""
    X, y = _binary(n=600)
    rng = np.random.default_rng(5)
    X = np.column_stack([X, X[:, 0] + 1e-4 * rng.normal(size=len(y))])
    model = WeightedLogisticCE(alpha=0.0, tol=TOL, max_iter=100_000).fit(X, y)
    reference = GLM(y, add_constant(X, prepend=False), family=Binomial()).fit()
    np.testing.assert_allclose(model.std_errors(X, y, kind="model"), reference.bse, rtol=1e-4)


@pytest.mark.parametrize("scale", [1e-170, 1e160])
def test_extreme_weight_scales_give_the_same_sandwich(scale):
    """The fit does not depend on the sample weights' scale; nor does the sandwich, and
    the model-based covariance counts them as frequencies (scales as 1 / weight)."""
    X, y = _binary()
    s = _sample_weight(len(y))
    model = WeightedLogisticCE(beta=3.0, alpha=1e-3, tol=TOL).fit(X, y, sample_weight=s)
    _assert_close(model.covariance_matrix(X, y, s * scale), model.covariance_matrix(X, y, s), 1e-9)


def test_sparse_columns_far_from_zero_warn():
    X, y = _binary()
    X = X.copy()
    X[:, 1] = 1e6 + X[:, 1]  # mean 1e6, spread 2: the algebraic centring of sparse X loses it
    model = WeightedLogisticCE(alpha=1e-3, tol=1e-6).fit(X, y)  # float64's limit here
    with pytest.warns(UserWarning, match=r"Sparse X has columns whose mean is far .*'x1'"):
        model.std_errors(sp.csr_matrix(X), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dense X is centred row by row: no warning
        model.std_errors(X, y)


def test_penalty_makes_collinear_and_separable_data_regular():
    X, _ = _binary()
    y = (X[:, 0] > 0).astype(int)
    X = np.column_stack([X, X[:, 1]])
    model = WeightedLogisticCE(alpha=1e-2, tol=TOL).fit(X, y)
    se = model.std_errors(X, y)
    assert np.all(np.isfinite(se)) and np.all(se > 0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "params",
    [{"beta": 4.0}, {"label_smoothing": 0.1}, {"beta": "balanced"}],
    ids=["beta", "smoothing", "balanced"],
)
def test_model_kind_on_weighted_fit_warns(params, method):
    X, y = _binary()
    model = WeightedLogisticCE(alpha=1e-3, tol=TOL, **params).fit(X, y)
    with pytest.warns(UserWarning, match=WEIGHTED_MODEL_MESSAGE):
        getattr(model, method)(X, y, kind="model")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the sandwich is right for it: no warning
        getattr(model, method)(X, y)


@pytest.mark.parametrize("class_weight", [{1: 3.0}, {0: 2.0, 1: 2.0, 2: 2.0}])
def test_model_kind_on_class_weighted_softmax_warns(class_weight):
    """Equal weights c != 1 too: J is c times the log-likelihood, its inverse Hessian 1/c
    times the inverse Fisher information (the sandwich does not depend on c)."""
    X, y = _multiclass()
    model = SoftmaxCE(class_weight=class_weight, alpha=1e-3, tol=TOL).fit(X, y)
    with pytest.warns(UserWarning, match=WEIGHTED_MODEL_MESSAGE):
        model.covariance_matrix(X, y, kind="model")
    if len(class_weight) == 3:
        plain = SoftmaxCE(alpha=5e-4, tol=TOL).fit(X, y)  # the same fit: J / 2
        np.testing.assert_allclose(
            model.covariance_matrix(X, y), plain.covariance_matrix(X, y), rtol=1e-6
        )


@pytest.mark.parametrize("method", METHODS)
def test_model_kind_on_unweighted_fit_is_silent(fitted, method):
    model, X, y = fitted
    s = _sample_weight(len(y))
    weighted = WeightedLogisticCE(alpha=1e-3, tol=TOL).fit(X, y, sample_weight=s)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(model, method)(X, y, kind="model")
        getattr(weighted, method)(X, y, s, kind="model")  # sample weights: frequency weights


@pytest.mark.parametrize("method", METHODS)
def test_other_data_than_the_fit_warns_off_minimum(fitted, method):
    model, X, y = fitted
    with pytest.warns(UserWarning, match=OFF_MINIMUM_MESSAGE):
        getattr(model, method)(X[:120], y[:120])
    s = _sample_weight(len(y))
    with pytest.warns(UserWarning, match=OFF_MINIMUM_MESSAGE):
        getattr(model, method)(X, y, s)  # weights the fit did not have


@pytest.mark.parametrize("method", METHODS)
def test_warnings_point_at_the_caller(method):
    """A warning is attributed to the line that called the method, not to skce."""
    X, y = _binary()
    model = WeightedLogisticCE(beta=4.0, alpha=1e-3, tol=TOL).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        getattr(model, method)(X, y, kind="model")
        getattr(model, method)(X[:120], y[:120])
    assert len(caught) == 2
    assert [w.filename for w in caught] == [__file__] * 2, [(w.filename, w.lineno) for w in caught]


def _snapshot(model):
    return {key: copy.deepcopy(value) for key, value in vars(model).items()}


def _assert_same_state(before, after):
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value, err_msg=key)
            assert after[key].dtype == value.dtype, key
        else:
            assert type(after[key]) is type(value), key
            if isinstance(value, (int, float, str, bool, type(None), tuple, list, dict)):
                assert after[key] == value, key


@pytest.mark.parametrize("container", ["frame", "sparse"])
@pytest.mark.parametrize("estimator", ["binary", "softmax"])
def test_inputs_and_fitted_attributes_are_not_modified(estimator, container):
    X, y = _binary() if estimator == "binary" else _multiclass()
    X = pd.DataFrame(X, columns=["a", "b", "c"]) if container == "frame" else sp.csr_matrix(X)
    y = pd.Series(np.array(["n", "p", "q"])[y]) if container == "frame" else y
    s = _sample_weight(len(y))
    g = np.arange(len(y)) % 9
    model = (
        WeightedLogisticCE(beta=3.0, alpha=1e-3, tol=TOL)
        if estimator == "binary"
        else SoftmaxCE(class_weight="balanced", alpha=1e-3, tol=TOL)
    ).fit(X, y, sample_weight=s)
    copies = [copy.deepcopy(value) for value in (X, y, s, g)]
    before = _snapshot(model)
    model.covariance_matrix(X, y, s, groups=g)
    model.std_errors(X, y, s, groups=g)
    model.coef_table(X, y, s, groups=g)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=WEIGHTED_MODEL_MESSAGE)
        model.coef_table(X, y, s, kind="model")
    if container == "frame":
        pd.testing.assert_frame_equal(X, copies[0])
        pd.testing.assert_series_equal(y, copies[1])
    else:
        assert X.format == "csr"
        for part in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(X, part), getattr(copies[0], part))
        np.testing.assert_array_equal(y, copies[1])
    np.testing.assert_array_equal(s, copies[2])
    np.testing.assert_array_equal(g, copies[3])
    _assert_same_state(before, _snapshot(model))
