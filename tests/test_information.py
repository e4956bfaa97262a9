"""Tests for skce.information against independent references.

References are SciPy (``scipy.stats.entropy``, ``scipy.special.rel_entr``),
sums written out here with ``np.log``, numerical integration with
``scipy.integrate.quad`` and high-precision ``decimal`` arithmetic.
"""

import math
import warnings
from decimal import Decimal, localcontext

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.special import rel_entr

from skce.information import (
    CrossEntropyDecomposition,
    cross_entropy,
    cross_entropy_decomposition,
    entropy,
    gaussian_cross_entropy,
    gaussian_entropy,
    gaussian_kl_divergence,
    kl_divergence,
)

DISCRETE_PAIR = [cross_entropy, kl_divergence, cross_entropy_decomposition]
SETTINGS = settings(max_examples=60, deadline=None)


def random_distributions(rng, shape, axis=-1):
    """Positive random distributions normalised along ``axis``."""
    w = rng.gamma(0.5, size=shape) + 1e-12
    return w / w.sum(axis=axis, keepdims=True)


def direct_cross_entropy(p, q):
    """-sum p ln q over the last axis, skipping p = 0 terms."""
    p, q = np.broadcast_arrays(np.asarray(p, float), np.asarray(q, float))
    with np.errstate(divide="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, q, 1.0)), 0.0)
    return terms.sum(axis=-1)


def normal_logpdf(x, mu, sigma):
    return -0.5 * math.log(2 * math.pi) - math.log(sigma) - 0.5 * ((x - mu) / sigma) ** 2


def integrate_against_p(f, mu_p, sigma_p):
    """Integral of f(x) * p(x) over mu_p +- 40 sigma_p for P = N(mu_p, sigma_p²)."""
    value, _ = quad(
        lambda x: math.exp(normal_logpdf(x, mu_p, sigma_p)) * f(x),
        mu_p - 40 * sigma_p,
        mu_p + 40 * sigma_p,
        points=[mu_p],
        limit=200,
        epsabs=1e-12,
        epsrel=1e-12,
    )
    return value


# --------------------------------------------------------------------- strategies

weights = st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e3)), min_size=1, max_size=8).filter(
    lambda w: sum(w) > 0
)


@st.composite
def distribution_pairs(draw, q_zeros=False):
    """Two distributions of equal length; ``q`` strictly positive unless ``q_zeros``."""
    wp = draw(weights)
    elem = st.floats(0.0 if q_zeros else 1e-6, 1e3)
    wq = draw(st.lists(elem, min_size=len(wp), max_size=len(wp)).filter(lambda w: sum(w) > 0))
    p, q = np.array(wp), np.array(wq)
    return p / p.sum(), q / q.sum()


gauss_mu = st.floats(-1e3, 1e3)
gauss_sigma = st.floats(1e-3, 1e3)


# ------------------------------------------------------------ values vs SciPy


@pytest.mark.parametrize("base", [None, 2, 10, 0.5])
def test_entropy_matches_scipy(base):
    rng = np.random.default_rng(0)
    for n in [1, 2, 5, 50]:
        p = random_distributions(rng, n)
        assert entropy(p, base=base) == pytest.approx(
            scipy.stats.entropy(p, base=base), rel=1e-12, abs=1e-15
        )


@pytest.mark.parametrize("base", [None, 2])
def test_kl_matches_scipy(base):
    rng = np.random.default_rng(1)
    for n in [1, 2, 5, 50]:
        p, q = random_distributions(rng, (2, n))
        expected = scipy.stats.entropy(p, q, base=base)
        assert kl_divergence(p, q, base=base) == pytest.approx(expected, rel=1e-10, abs=1e-14)
        in_nats = rel_entr(p, q).sum()
        assert kl_divergence(p, q) == pytest.approx(in_nats, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("base", [None, 2])
def test_cross_entropy_matches_direct_sum(base):
    rng = np.random.default_rng(2)
    for n in [1, 2, 5, 50]:
        p, q = random_distributions(rng, (2, n))
        expected = -np.sum(p * np.log(q)) / (1.0 if base is None else np.log(base))
        assert cross_entropy(p, q, base=base) == pytest.approx(expected, rel=1e-12)


def test_bits_of_uniform_distributions():
    for n in [2, 4, 8, 1024]:
        assert entropy(np.full(n, 1.0 / n), base=2) == pytest.approx(math.log2(n), rel=1e-12)


def test_one_hot_target_collapses_to_minus_log_q():
    q = np.array([0.1, 0.6, 0.3])
    for c in range(3):
        p = np.eye(3)[c]
        assert cross_entropy(p, q) == pytest.approx(-math.log(q[c]), rel=1e-14)
        assert entropy(p) == 0.0


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
def test_batched_along_any_axis(axis):
    rng = np.random.default_rng(3)
    p = random_distributions(rng, (3, 4, 5), axis=axis)
    q = random_distributions(rng, (3, 4, 5), axis=axis)
    h = entropy(p, axis=axis)
    kl = kl_divergence(p, q, axis=axis)
    ce = cross_entropy(p, q, axis=axis)
    assert isinstance(h, np.ndarray)
    assert h.shape == kl.shape == ce.shape == tuple(np.delete((3, 4, 5), axis))
    np.testing.assert_allclose(h, scipy.stats.entropy(p, axis=axis), rtol=1e-12)
    np.testing.assert_allclose(kl, scipy.stats.entropy(p, q, axis=axis), rtol=1e-10, atol=1e-14)
    moved = direct_cross_entropy(np.moveaxis(p, axis, -1), np.moveaxis(q, axis, -1))
    np.testing.assert_allclose(ce, moved, rtol=1e-12)
    np.testing.assert_allclose(
        entropy(p, axis=axis, base=2), scipy.stats.entropy(p, axis=axis, base=2), rtol=1e-12
    )


def test_p_and_q_broadcast_against_each_other():
    rng = np.random.default_rng(4)
    p = random_distributions(rng, 4)
    q = random_distributions(rng, (3, 4))
    ce = cross_entropy(p, q)
    kl = kl_divergence(q, p)  # swapped roles broadcast the same way
    assert ce.shape == kl.shape == (3,)
    for i in range(3):
        assert ce[i] == pytest.approx(-np.sum(p * np.log(q[i])), rel=1e-12)
        assert kl[i] == pytest.approx(scipy.stats.entropy(q[i], p), rel=1e-10)


def test_return_types():
    assert type(entropy([0.5, 0.5])) is float
    assert type(cross_entropy([0.5, 0.5], [0.2, 0.8])) is float
    assert type(kl_divergence([0.5, 0.5], [0.2, 0.8])) is float
    assert isinstance(entropy([[0.5, 0.5]]), np.ndarray)
    assert entropy([[0.5, 0.5]]).shape == (1,)
    assert entropy(np.ones((0, 3)) / 3).shape == (0,)
    assert type(gaussian_entropy(1.0)) is float
    assert type(gaussian_kl_divergence(0.0, 1.0, 0.0, 2.0)) is float
    assert gaussian_entropy([1.0, 2.0]).shape == (2,)


def test_decomposition_named_tuple():
    p, q = [0.2, 0.3, 0.5], [0.4, 0.4, 0.2]
    d = cross_entropy_decomposition(p, q, base=2)
    assert isinstance(d, CrossEntropyDecomposition)
    assert d._fields == ("entropy", "kl_divergence", "cross_entropy")
    assert d.entropy == entropy(p, base=2)
    assert d.kl_divergence == kl_divergence(p, q, base=2)
    assert d.cross_entropy == cross_entropy(p, q, base=2)
    h, kl, ce = d
    assert kl == pytest.approx(scipy.stats.entropy(p, q, base=2), rel=1e-12)
    assert ce == pytest.approx(direct_cross_entropy(p, q) / math.log(2), rel=1e-12)
    assert h == pytest.approx(scipy.stats.entropy(p, base=2), rel=1e-12)


# ------------------------------------------------ zeros, infinities, no warnings


def test_zero_q_where_p_positive_is_inf_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cross_entropy([0.5, 0.5], [1.0, 0.0]) == math.inf
        assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
        assert kl_divergence([0.5, 0.5], [1.0, 0.0], base=2) == math.inf
        d = cross_entropy_decomposition([0.5, 0.5], [1.0, 0.0])
        assert d.entropy == pytest.approx(math.log(2))
        assert d.kl_divergence == d.cross_entropy == math.inf
        ce = cross_entropy([[0.5, 0.5], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]])
        assert ce[0] == math.inf
        assert ce[1] == 0.0


def test_zero_p_terms_contribute_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert entropy([1.0, 0.0, 0.0]) == 0.0
        assert cross_entropy([1.0, 0.0], [1.0, 0.0]) == 0.0
        assert kl_divergence([0.0, 1.0], [0.0, 1.0]) == 0.0
        # Dropping the p = 0 entries (q = 0 or not) changes nothing.
        p = [0.25, 0.0, 0.75, 0.0]
        q = [0.5, 0.0, 0.25, 0.25]
        assert cross_entropy(p, q) == pytest.approx(
            -(0.25 * math.log(0.5) + 0.75 * math.log(0.25)), rel=1e-14
        )
        assert kl_divergence(p, q) == pytest.approx(
            0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.25), rel=1e-14
        )
        assert entropy(p) == pytest.approx(scipy.stats.entropy([0.25, 0.75]), rel=1e-14)


def test_tiny_q_stays_finite():
    # q of 1e-320 is subnormal: p / q overflows, but p ln(p / q) does not.
    p, q = [0.5, 0.5], [1.0 - 1e-320, 1e-320]
    expected = 0.5 * (math.log(0.5) - math.log(1e-320)) + 0.5 * math.log(0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kl_divergence(p, q) == pytest.approx(expected, rel=1e-12)
        assert cross_entropy(p, q) == pytest.approx(-0.5 * math.log(1e-320), rel=1e-12)


# ------------------------------------------------------ hypothesis properties


@SETTINGS
@given(distribution_pairs())
def test_decomposition_identity(pq):
    p, q = pq
    d = cross_entropy_decomposition(p, q)
    direct = direct_cross_entropy(p, q)
    assert d.cross_entropy == pytest.approx(direct, rel=1e-9, abs=1e-12)
    assert d.cross_entropy == pytest.approx(d.entropy + d.kl_divergence, rel=1e-12, abs=1e-15)
    ref_h = -sum(x * math.log(x) for x in p if x > 0)
    assert d.entropy == pytest.approx(ref_h, rel=1e-9, abs=1e-12)


@SETTINGS
@given(distribution_pairs(q_zeros=True))
def test_identity_with_zeros_in_q(pq):
    p, q = pq
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = cross_entropy_decomposition(p, q, base=2)
    if np.any((p > 0) & (q == 0)):
        assert d.kl_divergence == d.cross_entropy == math.inf
    else:
        assert d.cross_entropy == pytest.approx(
            direct_cross_entropy(p, q) / math.log(2), rel=1e-9, abs=1e-12
        )
    assert math.isfinite(d.entropy)


@SETTINGS
@given(distribution_pairs())
def test_gibbs_inequality(pq):
    p, q = pq
    kl = kl_divergence(p, q)
    assert kl >= 0.0
    assert kl_divergence(p, p) == 0.0
    assert kl_divergence(q, q) == 0.0
    # Pinsker: KL >= ½ ||p - q||_1², so KL > 0 whenever p and q differ visibly.
    l1 = float(np.abs(p - q).sum())
    assert kl >= 0.5 * l1**2 * (1 - 1e-9) - 1e-15


@SETTINGS
@given(weights, st.lists(st.floats(-1e-9, 1e-9), min_size=8, max_size=8))
def test_gibbs_inequality_survives_rounding_for_close_distributions(w, jitter):
    # Summing p ln(p / q) for q within rounding of p often lands on -1e-17.
    p = np.array(w) / sum(w)
    q = p * (1 + np.array(jitter[: len(p)]))
    q /= q.sum()
    assert kl_divergence(p, q) >= 0.0
    assert cross_entropy(p, q) >= entropy(p)
    assert kl_divergence(p, q) == pytest.approx(0.0, abs=1e-15)


@SETTINGS
@given(distribution_pairs(q_zeros=True))
def test_cross_entropy_at_least_entropy(pq):
    p, q = pq
    assert cross_entropy(p, q) >= entropy(p)
    assert cross_entropy(p, p) == pytest.approx(entropy(p), rel=1e-12, abs=1e-15)


@SETTINGS
@given(distribution_pairs(), st.sampled_from([2, 10, 0.5, math.e]))
def test_base_is_a_change_of_unit(pq, base):
    p, q = pq
    ln_b = math.log(base)
    assert entropy(p, base=base) == pytest.approx(entropy(p) / ln_b, rel=1e-12, abs=1e-15)
    assert kl_divergence(p, q, base=base) == pytest.approx(
        kl_divergence(p, q) / ln_b, rel=1e-12, abs=1e-15
    )


# --------------------------------------------------------------------- Gaussians

GAUSSIAN_CASES = [
    (0.0, 1.0, 0.0, 1.0),
    (0.0, 1.0, 1.0, 2.0),
    (3.0, 0.01, -2.0, 5.0),
    (-1.5, 4.0, 2.0, 0.5),
    (100.0, 30.0, 90.0, 20.0),
]


@pytest.mark.parametrize("mu_p, sigma_p, mu_q, sigma_q", GAUSSIAN_CASES)
def test_gaussian_closed_forms_match_integration(mu_p, sigma_p, mu_q, sigma_q):
    def log_p(x):
        return normal_logpdf(x, mu_p, sigma_p)

    def log_q(x):
        return normal_logpdf(x, mu_q, sigma_q)

    h = integrate_against_p(lambda x: -log_p(x), mu_p, sigma_p)
    ce = integrate_against_p(lambda x: -log_q(x), mu_p, sigma_p)
    kl = integrate_against_p(lambda x: log_p(x) - log_q(x), mu_p, sigma_p)
    assert gaussian_entropy(sigma_p) == pytest.approx(h, rel=1e-8, abs=1e-10)
    assert gaussian_cross_entropy(mu_p, sigma_p, mu_q, sigma_q) == pytest.approx(
        ce, rel=1e-8, abs=1e-10
    )
    assert gaussian_kl_divergence(mu_p, sigma_p, mu_q, sigma_q) == pytest.approx(
        kl, rel=1e-8, abs=1e-10
    )
    bits = gaussian_kl_divergence(mu_p, sigma_p, mu_q, sigma_q, base=2)
    assert bits == pytest.approx(kl / math.log(2), rel=1e-8, abs=1e-10)


def test_gaussian_entropy_matches_scipy_norm():
    for sigma in [1e-3, 0.5, 1.0, 7.0]:
        expected = scipy.stats.norm(scale=sigma).entropy()
        assert gaussian_entropy(sigma) == pytest.approx(expected, rel=1e-12)
        assert gaussian_entropy(sigma, base=2) == pytest.approx(expected / math.log(2))


def test_gaussian_broadcasting():
    mu_q = np.array([[0.0], [1.0]])
    sigma_q = np.array([1.0, 2.0, 3.0])
    out = gaussian_kl_divergence(0.5, 1.5, mu_q, sigma_q)
    assert out.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert out[i, j] == gaussian_kl_divergence(0.5, 1.5, mu_q[i, 0], sigma_q[j])
    assert gaussian_cross_entropy([0.0, 1.0], 1.0, 0.0, 1.0).shape == (2,)


def test_gaussian_extreme_sigmas_are_finite():
    half_log_2pi_e = 0.5 * math.log(2 * math.pi * math.e)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for exponent in [-300, -200, 200, 300]:
            sigma = 10.0**exponent
            assert gaussian_entropy(sigma) == pytest.approx(
                half_log_2pi_e + exponent * math.log(10), rel=1e-14, abs=0.0
            )
            assert gaussian_kl_divergence(1.0, sigma, 1.0, sigma) == 0.0
        for exponent in [-300, -200]:
            # ln(sigma_q / sigma_p) - ½ + ½ sigma_p² / sigma_q², the last term underflows.
            assert gaussian_kl_divergence(0.0, 10.0**exponent, 0.0, 1.0) == pytest.approx(
                -exponent * math.log(10) - 0.5, rel=1e-14, abs=0.0
            )
        # With sigma_p tiny, h(P) and D_KL(P || Q) nearly cancel in h + D_KL;
        # the direct closed form does not cancel.
        for sigma_p in [1e-200, 1e-300]:
            assert gaussian_cross_entropy(0.0, sigma_p, 0.0, 1.0) == pytest.approx(
                0.5 * math.log(2 * math.pi), rel=4e-16, abs=0.0
            )


@pytest.mark.parametrize("sigma_q", [1.0, 0.37, 2.9e5])
@pytest.mark.parametrize("t", [1e-12, -1e-9, 1e-6, -3e-4, 0.1, -0.49, 0.6, 40.0, -0.999])
def test_gaussian_kl_accurate_for_close_sigmas(sigma_q, t):
    # D_KL(N(0, sigma_p²) || N(0, sigma_q²)) = ½ (r² - 1) - ln r with
    # r = sigma_p / sigma_q, evaluated in 60 digits from the exact float inputs.
    sigma_p = sigma_q * (1.0 + t)
    with localcontext() as ctx:
        ctx.prec = 60
        r = Decimal(sigma_p) / Decimal(sigma_q)
        expected = float((r * r - 1) / 2 - r.ln())
    assert expected > 0
    kl = gaussian_kl_divergence(0.0, sigma_p, 0.0, sigma_q)
    # t - ln(1 + t) loses about eps / |t| of relative accuracy; the textbook
    # formula loses eps / t², i.e. everything, at these t.
    assert kl == pytest.approx(expected, rel=1e-9 + 1e-15 / abs(t), abs=0.0)


@SETTINGS
@given(gauss_mu, gauss_sigma, gauss_mu, gauss_sigma)
def test_gaussian_properties(mu_p, sigma_p, mu_q, sigma_q):
    h = gaussian_entropy(sigma_p)
    kl = gaussian_kl_divergence(mu_p, sigma_p, mu_q, sigma_q)
    ce = gaussian_cross_entropy(mu_p, sigma_p, mu_q, sigma_q)
    assert kl >= 0.0
    assert gaussian_kl_divergence(mu_p, sigma_p, mu_p, sigma_p) == 0.0
    assert ce == pytest.approx(h + kl, rel=1e-9, abs=1e-9)
    assert ce >= h - 1e-12 * (1 + abs(h))
    # The textbook formula, where it is safe to evaluate naively.
    naive = math.log(sigma_q / sigma_p) + (sigma_p**2 + (mu_p - mu_q) ** 2) / (2 * sigma_q**2) - 0.5
    assert kl == pytest.approx(naive, rel=1e-9, abs=1e-9)


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "p, match",
    [
        ([0.5, -0.1, 0.6], "p has negative entries"),
        ([0.5, np.nan, 0.5], r"p has non-finite entries"),
        ([0.5, np.inf], r"p has non-finite entries"),
        ([], "p is empty along axis -1"),
        (np.ones((2, 0)), "p is empty along axis -1"),
        ([0.5, 0.4], r"p does not sum to 1 along axis -1 \(sums range from 0.9 to 0.9"),
        ([[0.5, 0.5], [0.5, 0.6]], r"sums range from 1 to 1.1"),
        ([1, 1], "p does not sum to 1"),  # no silent normalisation
        (0.5, "at least one dimension"),
        (["a", "b"], "real numbers"),
    ],
)
def test_entropy_rejects_non_distributions(p, match):
    with pytest.raises(ValueError, match=match):
        entropy(p)


@pytest.mark.parametrize("func", DISCRETE_PAIR)
@pytest.mark.parametrize(
    "p, q, match",
    [
        ([0.5, 0.5], [1.2, -0.2], "q has negative entries"),
        ([1.5, -0.5], [0.5, 0.5], "p has negative entries"),
        ([0.5, 0.5], [np.nan, 1.0], "q has non-finite entries"),
        ([0.5, 0.5], [0.5, 0.4], r"q does not sum to 1 along axis -1 \(sums range from 0.9"),
        ([0.5, 0.6], [0.5, 0.5], "p does not sum to 1"),
        ([0.5, 0.5], [1 / 3] * 3, r"cannot broadcast p \(2,\) and q \(3,\)"),
        (1.0, 1.0, "at least one dimension"),
    ],
)
def test_pair_functions_reject_non_distributions(func, p, q, match):
    with pytest.raises(ValueError, match=match):
        func(p, q)


def test_sum_error_reports_axis():
    p = np.array([[0.5, 0.5], [0.25, 0.75]])  # rows sum to 1, columns do not
    with pytest.raises(ValueError, match="p does not sum to 1 along axis 0"):
        entropy(p, axis=0)
    with pytest.raises(ValueError, match="q does not sum to 1 along axis 0"):
        kl_divergence(np.eye(2), p, axis=0)


@pytest.mark.parametrize("axis", [1, -2, 5])
def test_axis_out_of_bounds(axis):
    with pytest.raises(ValueError, match="out of bounds"):
        entropy([0.5, 0.5], axis=axis)
    with pytest.raises(ValueError, match="out of bounds"):
        cross_entropy([0.5, 0.5], [0.5, 0.5], axis=axis)


@pytest.mark.parametrize("base", [0, -2, 1, 1.0, math.inf, math.nan, "2", [2]])
def test_invalid_base(base):
    match = "base must be a finite number > 0 and != 1"
    with pytest.raises(ValueError, match=match):
        entropy([0.5, 0.5], base=base)
    for func in DISCRETE_PAIR:
        with pytest.raises(ValueError, match=match):
            func([0.5, 0.5], [0.5, 0.5], base=base)
    with pytest.raises(ValueError, match=match):
        gaussian_entropy(1.0, base=base)
    with pytest.raises(ValueError, match=match):
        gaussian_cross_entropy(0.0, 1.0, 0.0, 1.0, base=base)
    with pytest.raises(ValueError, match=match):
        gaussian_kl_divergence(0.0, 1.0, 0.0, 1.0, base=base)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, [1.0, 0.0]])
def test_gaussian_entropy_rejects_bad_sigma(bad):
    with pytest.raises(ValueError, match="sigma must be"):
        gaussian_entropy(bad)


@pytest.mark.parametrize("func", [gaussian_cross_entropy, gaussian_kl_divergence])
@pytest.mark.parametrize("position, name", list(enumerate(["mu_p", "sigma_p", "mu_q", "sigma_q"])))
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 0.0, -2.0])
def test_gaussian_pair_rejects_bad_parameters(func, position, name, bad):
    args = [0.0, 1.0, 0.5, 2.0]
    args[position] = bad
    if name.startswith("mu") and math.isfinite(bad):
        func(*args)  # any finite mean is fine
        return
    with pytest.raises(ValueError, match=f"{name} must be"):
        func(*args)


# ----------------------------------------------------- input handling, dtypes


def test_inputs_not_modified():
    p = np.array([[0.2, 0.0, 0.8], [0.5, 0.25, 0.25]])
    q = np.array([[0.1, 0.0, 0.9], [0.25, 0.25, 0.5]], dtype=np.float32)
    p0, q0 = p.copy(), q.copy()
    entropy(p)
    cross_entropy(p, q)
    kl_divergence(p, q)
    cross_entropy_decomposition(p, q, base=2)
    np.testing.assert_array_equal(p, p0)
    np.testing.assert_array_equal(q, q0)
    assert q.dtype == np.float32
    sigma = np.array([1.0, 2.0])
    mu = np.array([0.0, 1.0])
    s0, m0 = sigma.copy(), mu.copy()
    gaussian_entropy(sigma)
    gaussian_kl_divergence(mu, sigma, mu[::-1], sigma[::-1])
    gaussian_cross_entropy(mu, sigma, mu[::-1], sigma[::-1])
    np.testing.assert_array_equal(sigma, s0)
    np.testing.assert_array_equal(mu, m0)


def test_lists_and_integers_accepted():
    assert entropy([0.5, 0.5]) == pytest.approx(math.log(2))
    assert entropy([1, 0]) == 0.0
    assert cross_entropy([1, 0], [0.25, 0.75]) == pytest.approx(-math.log(0.25))
    ce = cross_entropy([[1, 0], [0, 1]], [0.25, 0.75])
    np.testing.assert_allclose(ce, [-math.log(0.25), -math.log(0.75)])
    assert gaussian_entropy([1.0, 2.0])[1] == pytest.approx(
        0.5 * math.log(2 * math.pi * math.e * 4)
    )


def test_float32_input():
    rng = np.random.default_rng(5)
    p64, q64 = random_distributions(rng, (2, 10))
    p32, q32 = p64.astype(np.float32), q64.astype(np.float32)
    assert cross_entropy(p32, q32) == pytest.approx(cross_entropy(p64, q64), rel=1e-5)
    assert kl_divergence(p32, q32) == pytest.approx(
        scipy.stats.entropy(p32.astype(float), q32.astype(float)), rel=1e-6, abs=1e-9
    )
    # A float32 softmax over many classes carries float32 rounding in its sum.
    z = rng.normal(size=(20, 1000)).astype(np.float32)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    assert entropy(probs).shape == (20,)


def test_sum_tolerance_scales_with_dtype():
    off = np.array([0.3, 0.3, 0.4 + 3e-6])  # sums to 1 + 3e-6
    entropy(off.astype(np.float32))  # within float32 rounding: accepted
    with pytest.raises(ValueError, match="p does not sum to 1"):
        entropy(off)  # float64: rejected
    with pytest.raises(ValueError, match="p does not sum to 1"):
        entropy(np.array([0.3, 0.3, 0.41], dtype=np.float32))
    entropy(np.array([0.3, 0.3, 0.4 + 5e-7]))  # float64 within 1e-6: accepted
