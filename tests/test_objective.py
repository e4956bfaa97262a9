"""The loss, the objective and the sums over its rows, against independent references.

Finite differences for the gradient, direct formulas for the value, the column
moments and the Gram matrices, dense eigensolvers for the Lipschitz constant,
scipy for the log-probabilities, and extended precision for the rounding
noise. The changes of variables built on these sums are in
tests/test_coordinates.py, the fit plan's decisions in tests/test_plan.py.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.special import expit, log_softmax

from skce import _columns, _gram
from skce._columns import _sparse_moments, constant_columns, merge_constant_values
from skce._fit import coordinates
from skce._loss import BinaryCrossEntropy, MultinomialCrossEntropy
from skce._objective import LinearObjective, weighted_targets
from skce._plan import plan_fit
from skce._sample import rows_of, stratified_rows

from ._data import central_differences, unsampled_rows


def _problem(
    loss, n=40, d=5, k=2, sparse=False, seed=0, alpha=0.3, intercept=True, block_rows=None
):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * rng.uniform(0.5, 3, d) + rng.uniform(-2, 2, d)
    if sparse:
        X[rng.rand(n, d) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    y = rng.randint(0, k, n)
    y[:k] = np.arange(k)
    sw = rng.uniform(0, 3, n)
    cw = rng.uniform(0.2, 5, k)
    A = weighted_targets(y, k, sw, cw)
    obj = LinearObjective(loss, X, A, alpha=alpha, fit_intercept=intercept, block_rows=block_rows)
    theta = rng.randn(obj.n_params) * 0.5
    return obj, theta, (X, y, sw, cw)


def _direct_binary(X, y, sw, beta, alpha, theta, intercept=True):
    """The documented WeightedLogisticCE objective, written out from its definition."""
    d = X.shape[1]
    w, b = theta[:d], (theta[d] if intercept else 0.0)
    p = expit(np.asarray(X @ w).ravel() + b)
    ce = -(beta * y * np.log(p) + (1 - y) * np.log(1 - p))
    return (sw * ce).sum() / sw.sum() + 0.5 * alpha * w @ w


def _direct_multinomial(X, y, sw, cw, alpha, theta, k):
    d = X.shape[1]
    W = theta[: k * d].reshape(k, d)
    b = theta[k * d :]
    logq = log_softmax(np.asarray(X @ W.T) + b, axis=1)
    ce = -logq[np.arange(len(y)), y]
    return (sw * cw[y] * ce).sum() / sw.sum() + 0.5 * alpha * (W**2).sum()


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("beta", [1.0, 0.3, 20.0])
def test_binary_value_matches_definition(sparse, intercept, beta):
    obj, theta, (X, y, sw, _) = _problem(BinaryCrossEntropy, sparse=sparse, intercept=intercept)
    A = weighted_targets(y, 2, sw, np.array([1.0, beta]))
    obj = LinearObjective(BinaryCrossEntropy, X, A, alpha=obj.alpha, fit_intercept=intercept)
    expected = _direct_binary(X, y, sw, beta, obj.alpha, theta, intercept)
    assert obj.value(theta) == pytest.approx(expected, rel=1e-12)
    assert obj.value_and_grad(theta)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_multinomial_value_matches_definition(sparse):
    obj, theta, (X, y, sw, cw) = _problem(MultinomialCrossEntropy, k=4, sparse=sparse)
    expected = _direct_multinomial(X, y, sw, cw, obj.alpha, theta, 4)
    assert obj.value(theta) == pytest.approx(expected, rel=1e-12)
    assert obj.value_and_grad(theta)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "loss, k", [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 2), (MultinomialCrossEntropy, 4)]
)
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("intercept", [True, False])
def test_gradient_matches_finite_differences(loss, k, sparse, intercept):
    obj, theta, _ = _problem(loss, k=k, sparse=sparse, intercept=intercept)
    fd = central_differences(obj.value, theta)
    np.testing.assert_allclose(obj.value_and_grad(theta)[1], fd, rtol=1e-6, atol=1e-8)


def test_gradient_is_prediction_error_times_input():
    """grad_w = X^T (s c_y (p - y)) / sum s + alpha w, written out."""
    obj, theta, (X, y, sw, cw) = _problem(BinaryCrossEntropy)
    d = X.shape[1]
    p = expit(X @ theta[:d] + theta[d])
    err = sw * cw[y] * (p - y) / sw.sum()
    g = obj.value_and_grad(theta)[1]
    np.testing.assert_allclose(g[:d], X.T @ err + obj.alpha * theta[:d], rtol=1e-10)
    np.testing.assert_allclose(g[d], err.sum(), rtol=1e-10)


def test_float32_objective_is_accurate_to_float32_precision():
    """float32 X is multiplied in float32 within a block, summed in float64 across blocks."""
    obj64, theta, (X, *_) = _problem(MultinomialCrossEntropy, n=500, k=3)
    X32 = X.astype(np.float32)
    obj32 = LinearObjective(MultinomialCrossEntropy, X32, obj64.A, alpha=obj64.alpha)
    ref = LinearObjective(MultinomialCrossEntropy, X32.astype(np.float64), obj64.A, obj64.alpha)
    f32, g32 = obj32.value_and_grad(theta)
    f, g = ref.value_and_grad(theta)
    eps32 = float(np.finfo(np.float32).eps)
    assert f32 == pytest.approx(f, rel=10 * eps32)
    np.testing.assert_allclose(g32, g, rtol=0, atol=50 * eps32 * np.abs(g).max())
    assert not np.array_equal(g32, g)  # float32 arithmetic really is used


def test_blocked_dense_equals_single_pass():
    """Many row blocks give the same sums as one block."""
    obj, theta, (X, *_) = _problem(MultinomialCrossEntropy, n=1000, k=3)
    assert len(obj.row_blocks) == 1
    f1, g1 = obj.value_and_grad(theta)
    blocked = LinearObjective(MultinomialCrossEntropy, X, obj.A, alpha=obj.alpha, block_rows=64)
    assert len(blocked.row_blocks) > 10
    f2, g2 = blocked.value_and_grad(theta)
    assert f2 == pytest.approx(f1, rel=1e-13)
    np.testing.assert_allclose(g2, g1, rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("loss, k", [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 3)])
@pytest.mark.parametrize("sparse", [False, True])
def test_lipschitz_bounds_gradient_differences(loss, k, sparse):
    obj, _, _ = _problem(loss, k=k, sparse=sparse, n=60)
    L = obj.lipschitz()
    rng = np.random.RandomState(1)
    ratios = []
    for _ in range(50):
        a, b = rng.randn(2, obj.n_params) * rng.choice([0.01, 0.3, 3.0])
        ga = obj.value_and_grad(a)[1]
        gb = obj.value_and_grad(b)[1]
        ratios.append(np.linalg.norm(ga - gb) / np.linalg.norm(a - b))
    assert max(ratios) <= L * (1 + 1e-9)
    # Tight for the logistic loss: its curvature is exactly 1/4 at theta = 0, so
    # the finite-difference Hessian there has top eigenvalue close to L - alpha.
    if loss is BinaryCrossEntropy:
        zero = np.zeros(obj.n_params)
        eps = 1e-5
        H = np.column_stack(
            [
                (obj.value_and_grad(zero + eps * e)[1] - obj.value_and_grad(zero - eps * e)[1])
                / (2 * eps)
                for e in np.eye(obj.n_params)
            ]
        )
        top = np.linalg.eigvalsh((H + H.T) / 2)[-1]
        assert top <= L + 1e-6
        assert top >= (L - obj.alpha) * 0.999


@pytest.mark.parametrize("loss, k", [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 3)])
def test_extreme_logits_are_finite_without_warnings(loss, k):
    n_out = loss.n_outputs(k)
    Z = np.array([[1e4] * n_out, [-1e4] * n_out, [0.0] * n_out, [700.0] * n_out])
    if n_out > 1:
        Z[:, 0] = [-1e4, 1e4, 0.0, -800.0]
    A = np.eye(k)[np.array([0, 1, 0, 1]) % k] * 0.25
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The loss works on class-major blocks; log_proba on sample-major logits.
        loss_value, dZ = loss.loss_gradient(Z.T.copy(), A.T, A.sum(axis=1))
        logp = loss.log_proba(Z)
    assert np.isfinite(loss_value) and np.all(np.isfinite(dZ)) and np.all(np.isfinite(logp))
    # Wrong-side logits of 1e4 cost about 1e4 nats each, right-side ones nothing.
    assert loss_value > 1e3
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0)


@pytest.mark.parametrize("margin", [30.0, 36.0, 40.0])
def test_losses_at_large_margins_are_within_their_documented_rounding(margin):
    """A well-classified sample at margin z costs ln(1 + e^-z).

    The binary loss keeps its relative accuracy (log1p): at z = 36 the cost is
    2.3e-16, and at z = 40 4.2e-18. The softmax loss takes ln of the rounded sum
    1 + e^-z, off by up to eps per unit weight (its ``value_rounding``, which the
    noise model counts): at z = 40 it is 0. (abs=0: pytest.approx's default
    absolute tolerance of 1e-12 would accept anything.)
    """
    expected = 2 * np.log1p(np.exp(-margin))
    Z = np.array([[margin, -margin]])  # class-major: one row of logits
    A = np.array([[0.0, 1.0], [1.0, 0.0]])  # sample 0 positive, sample 1 negative
    value, _ = BinaryCrossEntropy.loss_gradient(Z, A, A.sum(axis=0))
    assert value == pytest.approx(expected, rel=1e-12, abs=0)
    assert BinaryCrossEntropy.value_rounding == 0.0
    A = np.eye(2)
    Z = np.array([[margin, 0.0], [0.0, margin]])
    value, _ = MultinomialCrossEntropy.loss_gradient(Z, A, A.sum(axis=0))
    eps = np.finfo(np.float64).eps
    assert abs(value - expected) <= MultinomialCrossEntropy.value_rounding * eps * A.sum()


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_column_moments_equal_dense_ones(fmt):
    """Chunked sparse sums agree with the dense computation, for any chunk size."""
    obj, _, (X, *_) = _problem(MultinomialCrossEntropy, n=300, k=3, sparse=True)
    dense = LinearObjective(MultinomialCrossEntropy, X.toarray(), obj.A, alpha=obj.alpha)
    expected = dense.column_moments()
    Xf = X.asformat(fmt)
    sparse = LinearObjective(MultinomialCrossEntropy, Xf, obj.A, alpha=obj.alpha)
    w = sparse.total_weight
    # chunk=1 and 7: one major index (row of CSR, column of CSC) or a few per slice.
    assert len(list(_columns.major_slices(Xf, 7))) > 4
    results = [_sparse_moments(Xf, w, True, chunk=c) for c in (1, 7, 1 << 16)]
    for got_moments in [sparse.column_moments(), *results]:
        for got, want in zip(got_moments, expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_column_moments_match_their_definition(intercept, sparse):
    """Weighted mean (0 without intercept) and spread about it, over many row blocks."""
    obj, _, (X, *_) = _problem(
        BinaryCrossEntropy, n=300, sparse=sparse, intercept=intercept, block_rows=64
    )
    assert len(obj.row_blocks) == (1 if sparse else 5)
    Xd = X.toarray() if sparse else X
    w = obj.A.sum(axis=0)
    mean = (w @ Xd) / w.sum() if intercept else np.zeros(Xd.shape[1])
    spread2 = w @ (Xd - mean) ** 2
    got_mean, got_spread2, got_wsum = obj.column_moments()
    np.testing.assert_allclose(got_mean, mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_spread2, spread2, rtol=1e-10)
    assert got_wsum == pytest.approx(w.sum(), rel=1e-14)


@pytest.mark.parametrize("blocks", [1, 5])
def test_column_moments_keep_the_spread_of_columns_with_a_large_offset(blocks):
    """Unit spread on an offset of 1e8: one-pass sums about 0 would lose it entirely."""
    rng = np.random.RandomState(4)
    n = 300
    X = rng.randn(n, 3) + np.array([1e8, 0.0, -3.0])
    y = rng.randint(0, 2, n)
    A = weighted_targets(y, 2, np.ones(n), np.ones(2))  # total weight exactly 1
    obj = LinearObjective(
        BinaryCrossEntropy, X, A, alpha=0.0, block_rows=64 if blocks > 1 else None
    )
    assert len(obj.row_blocks) == blocks
    mean, spread2, wsum = obj.column_moments()
    assert wsum == pytest.approx(1.0, rel=1e-15)
    centred = X - X.mean(axis=0)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(spread2, (centred**2).mean(axis=0), rtol=1e-6)


def test_moments_of_the_row_sample_are_close_and_carry_the_full_weight():
    # The plan's row sample (large dense data) gives the moments the scaling is
    # built from: each an estimate of the exact one within a few standard errors,
    # on the whole data's weight (the sample's weights are rescaled to the full total).
    rng = np.random.RandomState(0)
    n = 70_000
    X = rng.randn(n, 4) * [1.0, 10.0, 0.1, 3.0] + [0.0, 50.0, -1.0, 2.0]
    y = rng.randint(0, 2, n)
    A = weighted_targets(y, 2, rng.uniform(0.5, 2, n), np.ones(2))
    obj = LinearObjective(BinaryCrossEntropy, X, A, alpha=0.0)
    plan = plan_fit(obj, solver="bb")
    assert plan.sample is not None
    exact = obj.column_moments()
    sampled = rows_of(obj, plan.sample).column_moments()
    for planned, got in zip(plan.moments, sampled, strict=True):  # the scaling's moments
        np.testing.assert_array_equal(planned, got)
    # Effective rows of the weighted sample, (sum w)^2 / sum w^2.
    w = obj.total_weight[plan.sample]
    m = w.sum() ** 2 / (w @ w)
    assert 0.8 * plan.sample.size < m < plan.sample.size
    variance = exact[1] / exact[2]
    # Normal columns: the standard error of a mean is sqrt(var / m), of a spread
    # about sqrt(2 / m) relative.
    assert np.all(np.abs(sampled[0] - exact[0]) <= 4 * np.sqrt(variance / m))
    assert np.all(np.abs(sampled[1] / exact[1] - 1) <= 4 * np.sqrt(2 / m))
    assert sampled[2] == pytest.approx(exact[2], rel=1e-12)
    # A column that is zero on every sampled row but not on every row: the plan
    # takes its moments from every row.
    X_rare = X.copy()
    X_rare[:, 2] = 0.0
    X_rare[unsampled_rows(n)[10], 2] = 5.0
    rare = LinearObjective(BinaryCrossEntropy, X_rare, A, alpha=0.0)
    assert rows_of(rare, plan.sample).column_moments()[1][2] == 0
    plan = plan_fit(rare, solver="bb")
    assert plan.moments[1][2] > 0
    for got, want in zip(plan.moments, rare.column_moments(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_zero_coefficients_shortcut_matches_definition(sparse):
    """At W = 0 the forward product is skipped; value and gradient must not change."""
    obj, theta, (X, y, sw, cw) = _problem(MultinomialCrossEntropy, k=3, sparse=sparse)
    theta[: 3 * X.shape[1]] = 0.0
    expected = _direct_multinomial(X, y, sw, cw, obj.alpha, theta, 3)
    f, g = obj.value_and_grad(theta)
    assert f == pytest.approx(expected, rel=1e-12)
    assert obj.value(theta) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(g, central_differences(obj.value, theta), rtol=1e-6, atol=1e-8)


# -- added for mutation testing (dev-notes/mutation-testing.md) ------------------------
def _direct_lipschitz(X, w, kappa, alpha, intercept):
    """``kappa * lambda_max([X, 1]^T diag(w) [X, 1]) + alpha``, from a dense eigensolver."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    X1 = np.column_stack([X, np.ones(len(X))]) if intercept else X
    return kappa * np.linalg.eigvalsh(X1.T @ (w[:, None] * X1))[-1] + alpha


@pytest.mark.parametrize("loss, k", [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 3)])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("blocks", [1, 16])
def test_lipschitz_equals_direct_eigenvalue(loss, k, intercept, blocks):
    obj, _, (X, *_rest) = _problem(
        loss, k=k, n=400, intercept=intercept, block_rows=25 if blocks > 1 else None
    )
    assert len(obj.row_blocks) == blocks
    ref = _direct_lipschitz(X, obj.A.sum(axis=0), loss.curvature_bound, obj.alpha, intercept)
    assert obj.lipschitz() == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("scale", [1.0, 1e-3])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("intercept", [True, False])
def test_lanczos_eigenvalue_over_row_blocks(intercept, sparse, scale):
    """Lanczos on the Gram product summed over row blocks (dense here too).

    Large dense data and sparse data take this path; ``scale=1e-3`` without
    intercept makes the top eigenvalue far below 1; a single column without
    intercept is the one-parameter shortcut.
    """
    for loss, k in [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 3)]:
        for d in [1, 6]:
            obj, _, (X, *_) = _problem(loss, k=k, n=300, d=d, sparse=sparse, alpha=0.0)
            X = X * scale
            obj = LinearObjective(loss, X, obj.A, alpha=0.0, fit_intercept=intercept, block_rows=64)
            assert len(obj.row_blocks) == (1 if sparse else 5)
            w = obj.A.sum(axis=0)
            ref = _direct_lipschitz(X, w, 1.0, 0.0, intercept)  # lambda_max
            if scale < 1 and not intercept:  # an eigenvalue far below 1
                assert ref < 1e-3
            m = d + intercept
            top = _gram.top_eigenvalue(lambda v, obj=obj: _gram.weighted_gram_matvec(obj, v), m)
            # Lanczos adds a 1e-5 margin; one parameter is exact (to rounding).
            assert ref * (1 - 1e-12) <= top <= ref * (1 + 1e-4)


@pytest.mark.parametrize("intercept", [True, False])
def test_lanczos_lipschitz_is_a_tight_upper_bound(intercept):
    """Sparse data (and more than 2000 columns) use Lanczos, with a 1e-5 safety margin."""
    for loss, k in [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 3)]:
        obj, _, (X, *_) = _problem(loss, k=k, n=80, sparse=True, intercept=intercept)
        ref = _direct_lipschitz(X, obj.A.sum(axis=0), loss.curvature_bound, obj.alpha, intercept)
        L = obj.lipschitz()
        assert ref <= L <= ref * (1 + 1e-4)


def test_lanczos_lipschitz_is_an_upper_bound_for_a_crowded_spectrum():
    """Many parameters whose top eigenvalues lie close together (a Gaussian Gram matrix).

    Lanczos needs more than one restart here; stopping it early (a loose tolerance)
    underestimates the top eigenvalue by far more than the 1e-5 margin, and a step of
    1/L from an underestimate can make gradient descent diverge.
    """
    rng = np.random.RandomState(0)
    X = sp.csr_matrix(rng.randn(400, 150))
    y = rng.randint(0, 2, 400)
    A = weighted_targets(y, 2, np.ones(400), np.ones(2))
    obj = LinearObjective(BinaryCrossEntropy, X, A, alpha=0.0, fit_intercept=False)
    ref = _direct_lipschitz(X, A.sum(axis=0), BinaryCrossEntropy.curvature_bound, 0.0, False)
    assert ref <= obj.lipschitz() <= ref * (1 + 1e-4)


@pytest.mark.parametrize("loss, k", [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 3)])
def test_blocked_value_and_gradient_match_definition(loss, k):
    """Both ``value`` and ``value_and_grad`` sum over many row blocks correctly."""
    obj, theta, (X, y, sw, cw) = _problem(loss, k=k, n=700)
    blocked = LinearObjective(loss, X, obj.A, alpha=obj.alpha, block_rows=64)
    assert len(blocked.row_blocks) > 5
    if loss is BinaryCrossEntropy:
        beta = cw[1] / cw[0]

        def direct(t):
            return cw[0] * _direct_binary(X, y, sw, beta, obj.alpha / cw[0], t)
    else:

        def direct(t):
            return _direct_multinomial(X, y, sw, cw, obj.alpha, t, k)

    f, g = blocked.value_and_grad(theta)
    assert f == pytest.approx(direct(theta), rel=1e-12)
    assert blocked.value(theta) == pytest.approx(direct(theta), rel=1e-12)
    np.testing.assert_allclose(g, central_differences(direct, theta), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss, k", [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 3)])
def test_sparse_float32_objective_matches_float64(loss, k):
    obj, theta, (X, *_) = _problem(loss, k=k, sparse=True, n=200)
    obj32 = LinearObjective(loss, X.astype(np.float32), obj.A, alpha=obj.alpha)
    ref = LinearObjective(loss, X.astype(np.float32).astype(np.float64), obj.A, alpha=obj.alpha)
    f32, g32 = obj32.value_and_grad(theta)
    f, g = ref.value_and_grad(theta)
    eps32 = float(np.finfo(np.float32).eps)
    assert obj32.value(theta) == pytest.approx(f, rel=10 * eps32)
    assert f32 == pytest.approx(f, rel=10 * eps32)
    np.testing.assert_allclose(g32, g, rtol=0, atol=50 * eps32 * np.abs(g).max())


def test_log_proba_matches_scipy():
    rng = np.random.RandomState(3)
    z = rng.randn(20, 1) * 30
    np.testing.assert_allclose(
        BinaryCrossEntropy.log_proba(z),
        np.column_stack([np.log(expit(-z[:, 0])), np.log(expit(z[:, 0]))]),
        rtol=1e-9,
        atol=1e-12,
    )
    Z = rng.randn(20, 4) * 30
    np.testing.assert_allclose(
        MultinomialCrossEntropy.log_proba(Z), log_softmax(Z, axis=1), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(("loss", "k"), [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 3)])
def test_separates_is_strict_correct_classification_of_weighted_samples(loss, k, sparse, dtype):
    """separates(theta) == every sample with weight > 0 has its class strictly on top.

    Dense X runs in blocks of 64 rows, so that a block holding only zero-weight
    samples is skipped.
    """
    rng = np.random.RandomState(5)
    n, d = 200, 4
    X = rng.randn(n, d)
    W_true = rng.randn(k if k > 2 else 1, d) * 3
    Z = X @ W_true.T
    y = (Z[:, 0] > 0).astype(int) if k == 2 else np.argmax(Z, axis=1)
    X = X.astype(dtype)
    Xin = sp.csr_matrix(X) if sparse else X
    sw = np.ones(n)
    sw[64:128] = 0.0  # one whole block without weight

    def objective(A):
        return LinearObjective(loss, Xin, A, alpha=0.0, block_rows=64)

    obj = objective(weighted_targets(y, k, sw, np.ones(k)))
    assert sparse or obj.row_blocks[1] == slice(64, 128)
    theta = obj.pack(W_true, np.zeros(W_true.shape[0]))
    assert obj.separates(theta)
    # Break one sample (in the block after the unweighted one): flip its label.
    # Weighted, it is misclassified; unweighted, ignored.
    y_bad = y.copy()
    y_bad[150] = (y[150] + 1) % k
    y_bad[100] = (y[100] + 1) % k
    for weight, expected in [(1.0, False), (0.0, True)]:
        sw_bad = sw.copy()
        sw_bad[150] = weight
        A = weighted_targets(y_bad, k, sw_bad, np.ones(k))
        assert objective(A).separates(theta) is expected
    # A class weight of 0 removes a whole class from the objective.
    cw = np.ones(k)
    cw[y_bad[150]] = 0.0
    sw_bad = sw.copy()
    A = weighted_targets(y_bad, k, sw_bad, cw)
    assert objective(A).separates(theta)
    # Ties (all logits equal at theta = 0) are not a strict separation.
    assert not obj.separates(np.zeros(obj.n_params))
    # Soft targets: every sample weighs on every class; no separation claim, even for
    # a theta that puts every sample in the first class (or in its own class).
    A_soft = weighted_targets(y, k, sw, np.ones(k), label_smoothing=0.1)
    soft = objective(A_soft)
    first = np.zeros(W_true.shape[0])
    first[0] = -10.0 if k == 2 else 10.0
    for point in (theta, obj.pack(np.zeros_like(W_true), first)):
        assert not soft.separates(point)
    # With hard targets that theta is a separation only if every weighted sample is in
    # the first class, which it is not here.
    assert np.any(y[sw > 0] != 0)
    assert not obj.separates(obj.pack(np.zeros_like(W_true), first))


@pytest.mark.parametrize(("loss", "k"), [(BinaryCrossEntropy, 1), (MultinomialCrossEntropy, 3)])
def test_margins_are_target_logit_minus_best_other(loss, k):
    rng = np.random.RandomState(2)
    Z = rng.randn(k, 25)
    target = rng.randint(0, max(k, 2), 25)
    if k == 1:
        # Two classes with logits (0, z): the margin of class 1 is z, of class 0 is -z.
        full = np.vstack([np.zeros(25), Z[0]])
    else:
        full = Z
    own = full[target, np.arange(25)]
    rest = np.array([np.delete(full[:, i], target[i]).max() for i in range(25)])
    np.testing.assert_array_equal(loss.margins(Z, target), own - rest)
    Z_before = Z.copy()
    loss.margins(Z, target)
    np.testing.assert_array_equal(Z, Z_before)


def _direct_standardized_gram(obj, theta, mean, sigma, tau, floor):
    """``S^T diag(h_k) S`` written out with scipy's sigmoid / softmax."""
    X = obj.X.toarray() if sp.issparse(obj.X) else obj.X
    S = np.column_stack([(X - mean) / sigma, np.full(X.shape[0], 1.0 / tau)])
    W, b = obj.unpack(theta)
    Z = X @ W.T + b
    if obj.n_outputs == 1:
        p = expit(Z)
        curv = (p * (1 - p)).T
    else:
        q = np.exp(log_softmax(Z, axis=1))
        curv = (q * (1 - q)).T
    h = (curv.mean(axis=0) + floor * obj.loss.curvature_bound) * obj.total_weight
    return S.T @ (h[:, None] * S)


@pytest.mark.parametrize("loss, k", [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 3)])
@pytest.mark.parametrize("sparse", [False, "csr", "csc"])
@pytest.mark.parametrize("chunk", [1 << 16, 7])
def test_standardized_gram_matches_its_definition(loss, k, sparse, chunk, monkeypatch):
    # chunk=7: the sparse sum runs over many pieces of the pair matrix (about
    # `chunk` products x_ij x_il each; CSC: column slices of about `chunk`
    # entries); dense X over many row blocks.
    monkeypatch.setattr(_gram, "PAIR_PIECE", chunk)
    obj, theta, _ = _problem(
        loss, k=k, sparse=bool(sparse), n=60, block_rows=16 if chunk < 60 else None
    )
    if sparse:
        obj = LinearObjective(obj.loss, obj.X.asformat(sparse), obj.A, obj.alpha)
        pieces = (
            list(_gram._pair_pieces(obj.X))
            if sparse == "csr"
            else list(_columns.major_slices(obj.X, chunk))
        )
        assert (len(pieces) > 2) == (chunk < 60)
    else:
        assert (len(obj.row_blocks) > 2) == (chunk < 60)
    rng = np.random.RandomState(3)
    d = obj.n_features
    mean, sigma, tau = rng.randn(d), rng.uniform(0.5, 2, d), 1.7
    G = obj.standardized_gram(theta, mean, sigma, tau, floor=1e-3)
    expected = _direct_standardized_gram(obj, theta, mean, sigma, tau, 1e-3)
    np.testing.assert_allclose(G, expected, rtol=1e-10, atol=1e-12)
    # theta=None: the curvature bound everywhere (Böhning).
    G0 = obj.standardized_gram(None, mean, sigma, tau, floor=0.0)
    X = obj.X.toarray() if sparse else obj.X
    S = np.column_stack([(X - mean) / sigma, np.full(X.shape[0], 1.0 / tau)])
    h = obj.loss.curvature_bound * obj.total_weight
    np.testing.assert_allclose(G0, S.T @ (h[:, None] * S), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    ("loss", "k", "sparse", "dtype"),
    [
        (BinaryCrossEntropy, 2, False, np.float64),
        (BinaryCrossEntropy, 2, "csr", np.float64),
        (MultinomialCrossEntropy, 3, "csc", np.float64),
        (MultinomialCrossEntropy, 3, False, np.float64),
        (MultinomialCrossEntropy, 3, False, np.float32),
    ],
)
def test_rounding_noise_estimates_the_actual_rounding_error(loss, k, sparse, dtype, seed):
    # The error of J and grad J against the same formulas in extended precision
    # (np.longdouble, 64-bit mantissa on x86-64). The noise is an estimate, not
    # a bound: over 16 seeds the actual error reached 1.6x it and it reached 32x
    # the largest actual error. Asserted with margin: every entry within 3x its
    # noise, and the noise within 100x the largest actual error (not vacuous).
    if np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
        pytest.skip("np.longdouble is no wider than float64 on this platform")
    rng = np.random.RandomState(seed)
    n, d = 300, 6
    X = (rng.randn(n, d) * 10.0 ** rng.uniform(-1, 3, d) + 100.0).astype(dtype)
    if sparse:
        X[rng.rand(n, d) < 0.5] = 0.0
        X = sp.csr_matrix(X) if sparse == "csr" else sp.csc_matrix(X)
    y = rng.randint(0, k, n)
    A = weighted_targets(y, k, rng.uniform(0.5, 2, n), rng.uniform(0.5, 3, k))
    obj = LinearObjective(loss(), X, A, alpha=1e-3)
    scale = 1.0 / np.abs(X).max(axis=0).toarray().ravel() if sparse else 1.0 / np.abs(X).max(0)
    W = rng.randn(obj.n_outputs, d) * 20.0 * scale
    theta = obj.pack(W, rng.randn(obj.n_outputs))
    f, g = obj.value_and_grad(theta)
    f_noise, g_noise = obj.rounding_noise(theta)

    L = np.longdouble
    Xl = (X.toarray() if sparse else X).astype(L)
    Wl, bl = (v.astype(L) for v in obj.unpack(theta.astype(L)))
    Z = Xl @ Wl.T + bl
    if obj.n_outputs == 1:
        z = Z[:, 0]
        ell = A[0].astype(L) * np.logaddexp(L(0), z) + A[1].astype(L) * np.logaddexp(L(0), -z)
        p = 1 / (1 + np.exp(-z))
        R = (A.sum(0).astype(L) * p - A[1].astype(L))[:, None]
    else:
        lse = np.log(np.exp(Z - Z.max(1, keepdims=True)).sum(1)) + Z.max(1)
        Al = A.T.astype(L)
        ell = Al.sum(1) * lse - (Al * Z).sum(1)
        Q = np.exp(Z - lse[:, None])
        R = Al.sum(1)[:, None] * Q - Al
    f_ref = ell.sum() + L(0.5e-3) * (Wl**2).sum()
    g_ref = np.concatenate([(R.T @ Xl + L(1e-3) * Wl).ravel(), R.sum(0)])
    g_err = np.abs(g.astype(L) - g_ref).astype(np.float64)
    f_err = float(abs(L(f) - f_ref))
    assert np.all(g_err <= 3 * g_noise)
    assert f_err <= 3 * f_noise
    assert g_noise.max() <= 100 * g_err.max()


def test_a_row_sample_is_the_weighted_mean_over_the_sampled_rows():
    # objective.subset(rows): a copy of those rows, their weights s_i c_{y_i}
    # rescaled to the full total, so that J over them is the weighted mean of the
    # cross-entropy over the sampled rows on the full data's scale.
    rng = np.random.RandomState(4)
    n, d, k = 3000, 4, 3
    X = rng.randn(n, d) + 2.0
    y = rng.randint(0, k, n)
    sw, cw = rng.uniform(0.5, 2, n), np.array([1.0, 3.0, 0.5])
    obj = LinearObjective(MultinomialCrossEntropy(), X, weighted_targets(y, k, sw, cw), 0.1)
    rows = stratified_rows(n, n // 8)
    # One row from each stratum of 8 consecutive rows, not at one place in each.
    assert len(rows) == 375 and len(np.unique(rows % 8)) > 4
    sample = obj.subset(rows)
    np.testing.assert_array_equal(sample.X, X[rows])  # a copy of those rows
    assert not np.shares_memory(sample.X, X)
    assert sample.n_samples == 375 and sample.alpha == obj.alpha
    assert sample.A.sum() == pytest.approx(obj.A.sum(), rel=1e-14)
    theta = rng.randn(obj.n_params) * 0.3
    w = sw * cw[y]
    ce = -log_softmax(X @ theta[: k * d].reshape(k, d).T + theta[k * d :], axis=1)[np.arange(n), y]
    W = theta[: k * d]
    want = (w.sum() / sw.sum()) * (w[rows] @ ce[rows]) / w[rows].sum() + 0.05 * (W @ W)
    assert sample.value(theta) == pytest.approx(want, rel=1e-12)
    # Fortran-ordered X (a pandas DataFrame's values) gives the same rows.
    fortran = LinearObjective(obj.loss, np.asfortranarray(X), obj.A, obj.alpha).subset(rows)
    np.testing.assert_array_equal(fortran.X, X[rows])
    assert fortran.value(theta) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("gram", ["standardized_gram", "coupled_gram"])
def test_the_gram_matrix_of_a_row_sample_is_that_of_its_rows_rescaled(gram):
    # The metric over a row sample is the same sum as over every row, taken over
    # the sampled rows with their weights rescaled to the full total: an
    # objective with those weights on the sampled rows and 0 on the others.
    obj, theta, _ = _problem(MultinomialCrossEntropy, k=3, n=400, d=3)
    mean, spread2, wsum = obj.column_moments()
    kappa = obj.loss.curvature_bound
    sigma, tau = np.sqrt(kappa * spread2 + obj.alpha), np.sqrt(kappa * wsum)
    args = (theta, mean, sigma, tau, 1e-6)
    rows = stratified_rows(400, 96)
    scale = obj.A.sum() / obj.A[:, rows].sum()
    assert scale > 1
    A = np.zeros_like(obj.A)
    A[:, rows] = obj.A[:, rows] * scale
    restricted = LinearObjective(obj.loss, obj.X, A, obj.alpha)
    np.testing.assert_allclose(
        getattr(obj.subset(rows), gram)(*args),
        getattr(restricted, gram)(*args),
        rtol=1e-12,
        atol=1e-14,
    )


# -- with_alpha: one prepared objective, many penalties (the cross-validated paths) --------
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("loss", [BinaryCrossEntropy, MultinomialCrossEntropy])
def test_with_alpha_is_the_objective_built_at_that_alpha(loss, sparse):
    k = 2 if loss is BinaryCrossEntropy else 3
    obj, theta, (X, y, sw, cw) = _problem(loss, k=k, sparse=sparse, alpha=0.3)
    fresh = LinearObjective(loss, X, weighted_targets(y, k, sw, cw), alpha=1e-3)
    other = obj.with_alpha(1e-3)
    f, g = other.value_and_grad(theta)
    f_ref, g_ref = fresh.value_and_grad(theta)
    np.testing.assert_allclose(f, f_ref, rtol=1e-14)
    np.testing.assert_allclose(g, g_ref, rtol=1e-13, atol=1e-15)
    assert other.lipschitz() == pytest.approx(fresh.lipschitz(), rel=1e-12)
    for a, b in zip(other.column_moments(), fresh.column_moments(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    # The original keeps its own alpha.
    assert obj.alpha == 0.3
    np.testing.assert_allclose(obj.value(theta), _problem(loss, k=k, sparse=sparse)[0].value(theta))


def test_with_alpha_copies_share_the_alpha_free_work(monkeypatch):
    # The column moments and the Gram matrix's top eigenvalue do not depend on
    # alpha: a regularisation path computes them once for all its penalties.
    obj, _, _ = _problem(BinaryCrossEntropy)
    calls = {"moments": 0, "eigen": 0}
    moments, eigen = _columns.moments, _gram.gram_eigenvalue

    def counted_moments(objective):
        calls["moments"] += 1
        return moments(objective)

    def counted_eigen(objective):
        calls["eigen"] += 1
        return eigen(objective)

    monkeypatch.setattr(_columns, "moments", counted_moments)
    monkeypatch.setattr(_gram, "gram_eigenvalue", counted_eigen)
    lipschitz = [obj.with_alpha(a).lipschitz() for a in (1.0, 0.1, 0.01)]
    for a in (1.0, 0.1, 0.01):
        other = obj.with_alpha(a)
        coordinates(plan_fit(other, solver="bb", preconditioner="diagonal"), other)
    assert calls == {"moments": 1, "eigen": 1}
    # L = kappa lambda_max + alpha: the alphas' constants differ by their alphas.
    np.testing.assert_allclose(np.diff(lipschitz), [-0.9, -0.09], rtol=1e-10)


def test_merge_constant_values_over_parts():
    # Columns: constant 2.0 everywhere; constant per part but 2.0 vs 3.0; not
    # constant in one part; constant, with one part that has no weighted row.
    parts = [
        (np.array([True, True, False, True]), np.array([2.0, 2.0, np.nan, 7.0])),
        (np.array([True, True, True, True]), np.array([2.0, 3.0, 1.0, np.nan])),
        (np.array([True, True, True, True]), np.array([2.0, 3.0, 1.0, 7.0])),
    ]
    constant, values = merge_constant_values(parts)
    np.testing.assert_array_equal(constant, [True, False, False, True])
    np.testing.assert_array_equal(values[[0, 3]], [2.0, 7.0])
    assert np.isnan(values[[1, 2]]).all()


@pytest.mark.parametrize("base", [0.0, 123.456])
def test_constant_columns_read_from_sample_moments_are_checked_on_every_row(base):
    # A column constant on the sampled rows but not on every row (a rare feature
    # the sample misses) is a candidate by its moments, and the exact check on
    # every row rejects it: reported as misread, not frozen. The candidate test is
    # relative to the mean: on base 123.456 the weighted sample spread carries
    # rounding (about 1e-42 here). A column constant on every row is frozen with
    # its exact value; a column of zeros has nothing to freeze.
    rng = np.random.RandomState(0)
    n = 800
    rows = stratified_rows(n, n // 8)
    X = np.column_stack([rng.randn(n), np.full(n, 7.1), np.zeros(n), np.full(n, base)])
    X[np.setdiff1d(np.arange(n), rows)[::50], 3] = 1.0
    y = rng.randint(0, 2, n)
    A = weighted_targets(y, 2, rng.uniform(0.5, 2, n), np.ones(2))
    obj = LinearObjective(BinaryCrossEntropy, X, A, 0.0)
    sample_moments = obj.subset(rows).column_moments()
    np.testing.assert_array_equal(_columns.looks_constant(*sample_moments), [0, 1, 1, 1])
    mask, values, misread = constant_columns(obj, *sample_moments)
    np.testing.assert_array_equal(mask, [False, True, False, False])
    np.testing.assert_array_equal(values, [7.1])
    np.testing.assert_array_equal(misread, [3])
    # On every row's moments the rare column is no candidate: nothing misread.
    mask, values, misread = constant_columns(obj, *obj.column_moments())
    np.testing.assert_array_equal(mask, [False, True, False, False])
    assert misread.size == 0


# -- curvature products (truncated Newton) and the sparse metrics ---------------------
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize(("loss", "k"), [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 3)])
def test_curvature_products_are_the_hessian_of_the_gradient(loss, k, intercept, sparse):
    # Reference: the Hessian by central differences of the gradient, column by column.
    obj, theta, _ = _problem(loss, k=k, sparse=sparse, intercept=intercept, block_rows=16)
    product, parts = obj.curvature_operator(theta)
    m = obj.n_params
    H = np.column_stack(
        [
            (obj.value_and_grad(theta + 1e-5 * e)[1] - obj.value_and_grad(theta - 1e-5 * e)[1])
            / 2e-5
            for e in np.eye(m)
        ]
    )
    v = np.random.RandomState(1).randn(m)
    np.testing.assert_allclose(product(v), H @ v, rtol=1e-6, atol=1e-8)
    # The products of a chunk (the curvature computed afresh) are the same.
    np.testing.assert_allclose(obj.hessian_product(theta, v), product(v), rtol=1e-14)
    # The diagonal's parts: H's W block diagonal, its column of the intercept, H_bb.
    k, d = obj.n_outputs, obj.n_features
    diag_W, cross, h_b = parts
    np.testing.assert_allclose(diag_W.ravel(), np.diag(H)[: k * d], rtol=1e-6)
    if intercept:
        np.testing.assert_allclose(h_b, np.diag(H)[k * d :], rtol=1e-6)
        for j in range(k):
            np.testing.assert_allclose(cross[j], H[k * d + j, j * d : (j + 1) * d], rtol=1e-6)
    for got, want in zip(obj.curvature_diagonal(theta), parts, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_coupled_gram_matches_its_definition(fmt, monkeypatch):
    # Several pieces of the pair matrix; reference: the blocks written out densely.
    monkeypatch.setattr(_gram, "PAIR_PIECE", 50)
    k = 3
    obj, theta, (X, *_) = _problem(MultinomialCrossEntropy, k=k, n=60, sparse=True)
    obj = LinearObjective(obj.loss, X.asformat(fmt), obj.A, obj.alpha)
    rng = np.random.RandomState(2)
    d = obj.n_features
    mean, sigma, tau, floor = rng.randn(d), rng.uniform(0.5, 2, d), 1.3, 1e-3
    M = obj.coupled_gram(theta, mean, sigma, tau, floor)
    Xd = X.toarray()
    S = np.column_stack([(Xd - mean) / sigma, np.full(Xd.shape[0], 1.0 / tau)])
    W, b = theta[: k * d].reshape(k, d), theta[k * d :]
    q = np.exp(log_softmax(Xd @ W.T + b, axis=1))
    w, kappa, p = obj.total_weight, obj.loss.curvature_bound, d + 1
    for j in range(k):
        for m in range(k):
            h = w * (q[:, j] * ((j == m) - q[:, m]) + floor * kappa * ((j == m) - 1 / k))
            block = M[j * p : (j + 1) * p, m * p : (m + 1) * p]
            np.testing.assert_allclose(block, S.T @ (h[:, None] * S), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_weighted_square_sums_in_slices_are_the_dense_sums(fmt):
    rng = np.random.RandomState(5)
    X = rng.randn(50, 7) * (rng.rand(50, 7) < 0.4)
    H = rng.randn(3, 50)
    data = X if fmt == "dense" else sp.csr_matrix(X).asformat(fmt)
    got = _columns.weighted_square_sums(data, H, chunk=9)  # many slices
    np.testing.assert_allclose(got, H @ X**2, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss, n_classes", [(BinaryCrossEntropy, 2), (MultinomialCrossEntropy, 4)])
def test_residual_is_the_derivative_of_the_loss(loss, n_classes):
    # dl_i/dz_i alone, against central differences of the loss's value, with class
    # weights, sample weights, label smoothing and logits in both tails.
    rng = np.random.default_rng(0)
    m = 50
    codes = rng.integers(0, n_classes, m)
    A = weighted_targets(
        codes, n_classes, rng.uniform(0, 2, m), rng.uniform(0.5, 3, n_classes), 0.1
    )
    Z = rng.normal(size=(loss.n_outputs(n_classes), m)) * 8
    R = loss.residual(Z, A)
    h = 1e-6
    for k in range(Z.shape[0]):
        up, down = Z.copy(), Z.copy()
        up[k] += h
        down[k] -= h
        per_row = []
        for i in range(m):
            f = [
                loss.loss_gradient(
                    V[:, i : i + 1].copy(), A[:, i : i + 1], A[:, i].sum(keepdims=True)
                )[0]
                for V in (up, down)
            ]
            per_row.append((f[0] - f[1]) / (2 * h))
        assert_allclose(R[k], per_row, rtol=1e-5, atol=1e-8)
