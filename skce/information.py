"""Entropy, cross-entropy and Kullback-Leibler divergence.

The estimators in this package minimise a cross-entropy. This module states the
information theory behind that loss as plain functions (explained in
:doc:`scoring_and_information`). The cross-entropy of a model ``Q`` under
the true distribution ``P`` is the average surprise ``-ln q_k`` of ``Q``; for
a hard label ``c`` it is the log-loss ``-ln q_c`` of one sample. It splits into
the entropy of ``P`` (the least average surprise any model can achieve) and the
Kullback-Leibler divergence of ``Q`` from ``P``::

    H(P, Q) = -sum_k p_k ln q_k = H(P) + D_KL(P || Q)

    H(P) = -sum_k p_k ln p_k,   D_KL(P || Q) = sum_k p_k ln(p_k / q_k)

Because ``D_KL(P || Q) >= 0`` with equality if and only if ``P = Q`` (Gibbs'
inequality), minimising the cross-entropy over ``Q`` minimises the divergence
to ``P``.

Conventions
-----------
All quantities are in nats (natural logarithm) unless ``base`` is given
(``base=2`` gives bits). Terms with ``p_k = 0`` contribute nothing
(``0 ln 0 = 0``), even where ``q_k = 0``; a ``q_k = 0`` where ``p_k > 0``
makes the cross-entropy and the divergence ``+inf``, without a warning.
Inputs are checked, never normalised: unlike :func:`scipy.stats.entropy`,
an input that does not sum to 1 is an error.

The Gaussian functions give the same three quantities in closed form for
univariate normal densities (differential entropy, which may be negative).
"""

from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy.special import entr, rel_entr

__all__ = [
    "CrossEntropyDecomposition",
    "cross_entropy",
    "cross_entropy_decomposition",
    "entropy",
    "gaussian_cross_entropy",
    "gaussian_entropy",
    "gaussian_kl_divergence",
    "kl_divergence",
]

_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)


class CrossEntropyDecomposition(NamedTuple):
    """``H(P, Q) = H(P) + D_KL(P || Q)``, as returned by :func:`cross_entropy_decomposition`."""

    entropy: float | np.ndarray
    kl_divergence: float | np.ndarray
    cross_entropy: float | np.ndarray


def _check_distributions(axis, **arrays):
    """Broadcast the named inputs together and check each is a distribution along ``axis``.

    Returns float64 copies (inputs are never modified). A distribution must be
    finite, non-negative, non-empty along ``axis`` and sum to 1 there within
    ``max(1e-6, 32 * eps)``, where ``eps`` is the machine epsilon of the input's
    floating dtype (float64 for integer or boolean input).
    """
    raw = {name: np.asarray(x) for name, x in arrays.items()}
    for name, a in raw.items():
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{name} must contain real numbers, got dtype {a.dtype}")
    try:
        shape = np.broadcast_shapes(*(a.shape for a in raw.values()))
    except ValueError:
        shapes = " and ".join(f"{name} {a.shape}" for name, a in raw.items())
        raise ValueError(f"cannot broadcast {shapes} together") from None
    if len(shape) == 0:
        raise ValueError(f"{' and '.join(raw)} must have at least one dimension, got scalars")
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis {axis} is out of bounds for inputs with {len(shape)} dimensions")

    checked = []
    for name, a in raw.items():
        eps = np.finfo(a.dtype if a.dtype.kind == "f" else np.float64).eps
        tol = max(1e-6, 32 * float(eps))
        a = np.broadcast_to(a, shape).astype(np.float64)
        if a.shape[axis] == 0:
            raise ValueError(f"{name} is empty along axis {axis}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} has non-finite entries (NaN or inf)")
        if np.any(a < 0):
            raise ValueError(f"{name} has negative entries")
        sums = a.sum(axis=axis)
        if np.any(np.abs(sums - 1.0) > tol):
            raise ValueError(
                f"{name} does not sum to 1 along axis {axis} (sums range from "
                f"{sums.min():.10g} to {sums.max():.10g}; tolerance {tol:.2g})"
            )
        checked.append(a)
    return checked


def _log_base(base):
    """Return ``ln(base)``, the divisor converting nats to the requested unit."""
    if base is None:
        return 1.0
    if not isinstance(base, Real) or not (np.isfinite(base) and base > 0 and base != 1):
        raise ValueError(f"base must be a finite number > 0 and != 1, got {base!r}")
    return float(np.log(base))


def _output(value):
    """Return a Python float for a 0-d result, otherwise the ndarray itself."""
    return float(value) if np.ndim(value) == 0 else value


def entropy(p, *, base=None, axis=-1):
    """Shannon entropy ``H(P) = -sum_k p_k ln p_k`` of a discrete distribution.

    Terms with ``p_k = 0`` contribute 0. The input is checked, not normalised
    (unlike :func:`scipy.stats.entropy`).

    Parameters
    ----------
    p : array-like
        Probabilities along ``axis``: finite, non-negative, summing to 1
        (within ``max(1e-6, 32 * eps)`` of the input's floating dtype).
        Other axes index independent distributions.
    base : float, optional
        Logarithm base (``> 0`` and ``!= 1``); ``None`` gives nats, 2 gives bits.
    axis : int, default=-1
        Axis along which ``p`` sums to 1 and which is reduced.

    Returns
    -------
    float or ndarray
        A Python float for 1-D ``p``, otherwise a float64 array of the shape
        of ``p`` without ``axis``.

    Raises
    ------
    ValueError
        If ``p`` is not a distribution along ``axis`` (negative, non-finite,
        empty, or not summing to 1), is a scalar, ``axis`` is out of bounds,
        or ``base`` is invalid.

    Examples
    --------
    >>> from skce.information import entropy
    >>> entropy([0.5, 0.5], base=2)
    1.0
    >>> round(entropy([0.25, 0.25, 0.5]), 6)
    1.039721
    >>> entropy([[1.0, 0.0], [0.5, 0.5]], base=2)
    array([0., 1.])
    """
    log_base = _log_base(base)
    (p,) = _check_distributions(axis, p=p)
    return _output(entr(p).sum(axis=axis) / log_base)


def cross_entropy_decomposition(p, q, *, base=None, axis=-1):
    """Cross-entropy split as ``H(P, Q) = H(P) + D_KL(P || Q)``.

    The divergence is summed from the elementwise terms ``p_k ln(p_k / q_k)``
    (:func:`scipy.special.rel_entr`, accurate even for tiny ``q_k``), not
    formed as ``H(P, Q) - H(P)``, which would cancel when ``Q`` is close to
    ``P``; it is clipped at 0, as Gibbs' inequality guarantees and rounding
    could break. The cross-entropy is the sum ``H(P) + D_KL(P || Q)`` of two
    non-negative terms, so the identity holds exactly as computed.

    Parameters
    ----------
    p : array-like
        True distribution along ``axis`` (see :func:`entropy`).
    q : array-like
        Model distribution along ``axis``, broadcastable against ``p``.
    base : float, optional
        Logarithm base (``> 0`` and ``!= 1``); ``None`` gives nats, 2 gives bits.
    axis : int, default=-1
        Axis, after broadcasting ``p`` against ``q``, along which both sum
        to 1 and which is reduced.

    Returns
    -------
    CrossEntropyDecomposition
        Named tuple ``(entropy, kl_divergence, cross_entropy)``; each field is
        a Python float when the broadcast input is 1-D, otherwise an ndarray.
        ``kl_divergence`` and ``cross_entropy`` are ``+inf`` where ``q_k = 0``
        for some ``p_k > 0``.

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is not a distribution along ``axis``, they do not
        broadcast, ``axis`` is out of bounds, or ``base`` is invalid.

    Examples
    --------
    >>> from skce.information import cross_entropy_decomposition
    >>> d = cross_entropy_decomposition([0.5, 0.5], [0.25, 0.75], base=2)
    >>> d.entropy, round(d.kl_divergence, 6), round(d.cross_entropy, 6)
    (1.0, 0.207519, 1.207519)
    >>> d.cross_entropy == d.entropy + d.kl_divergence
    True
    """
    log_base = _log_base(base)
    p, q = _check_distributions(axis, p=p, q=q)
    h = entr(p).sum(axis=axis) / log_base
    kl = np.maximum(rel_entr(p, q).sum(axis=axis), 0.0) / log_base
    return CrossEntropyDecomposition(_output(h), _output(kl), _output(h + kl))


def cross_entropy(p, q, *, base=None, axis=-1):
    """Cross-entropy ``H(P, Q) = -sum_k p_k ln q_k``, the average surprise of ``Q`` under ``P``.

    Terms with ``p_k = 0`` contribute 0, even where ``q_k = 0``; a ``q_k = 0``
    where ``p_k > 0`` gives ``+inf`` (without a warning). For a one-hot ``p``
    on class ``c`` this is the log-loss ``-ln q_c``. Computed as
    ``H(P) + D_KL(P || Q)``, see :func:`cross_entropy_decomposition`. Inputs
    are checked, not normalised.

    Parameters
    ----------
    p : array-like
        True distribution along ``axis`` (see :func:`entropy`).
    q : array-like
        Model distribution along ``axis``, broadcastable against ``p``.
    base : float, optional
        Logarithm base (``> 0`` and ``!= 1``); ``None`` gives nats, 2 gives bits.
    axis : int, default=-1
        Axis, after broadcasting, along which both sum to 1 and which is reduced.

    Returns
    -------
    float or ndarray
        A Python float when the broadcast input is 1-D, otherwise an ndarray
        of the broadcast shape without ``axis``.

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is not a distribution along ``axis``, they do not
        broadcast, ``axis`` is out of bounds, or ``base`` is invalid.

    Examples
    --------
    >>> import math
    >>> from skce.information import cross_entropy
    >>> round(cross_entropy([0.0, 1.0, 0.0], [0.2, 0.7, 0.1]), 6)  # one-hot: -ln 0.7
    0.356675
    >>> round(-math.log(0.7), 6)
    0.356675
    >>> cross_entropy([0.5, 0.5], [1.0, 0.0])
    inf
    """
    return cross_entropy_decomposition(p, q, base=base, axis=axis).cross_entropy


def kl_divergence(p, q, *, base=None, axis=-1):
    """Kullback-Leibler divergence ``D_KL(P || Q) = sum_k p_k ln(p_k / q_k)``.

    Gibbs' inequality: ``D_KL(P || Q) >= 0``, with equality if and only if
    ``P = Q``. The divergence is not symmetric in ``P`` and ``Q``. Terms with
    ``p_k = 0`` contribute 0; a ``q_k = 0`` where ``p_k > 0`` gives ``+inf``
    (without a warning). Inputs are checked, not normalised. See
    :func:`cross_entropy_decomposition` for how it is computed.

    Parameters
    ----------
    p : array-like
        True distribution along ``axis`` (see :func:`entropy`).
    q : array-like
        Model distribution along ``axis``, broadcastable against ``p``.
    base : float, optional
        Logarithm base (``> 0`` and ``!= 1``); ``None`` gives nats, 2 gives bits.
    axis : int, default=-1
        Axis, after broadcasting, along which both sum to 1 and which is reduced.

    Returns
    -------
    float or ndarray
        A Python float when the broadcast input is 1-D, otherwise an ndarray
        of the broadcast shape without ``axis``.

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is not a distribution along ``axis``, they do not
        broadcast, ``axis`` is out of bounds, or ``base`` is invalid.

    Examples
    --------
    >>> from skce.information import kl_divergence
    >>> round(kl_divergence([0.5, 0.5], [0.25, 0.75], base=2), 6)
    0.207519
    >>> kl_divergence([0.3, 0.7], [0.3, 0.7])
    0.0
    """
    return cross_entropy_decomposition(p, q, base=base, axis=axis).kl_divergence


def _check_gaussian(**params):
    """Return the named parameters as float64 arrays; all finite, ``sigma*`` positive."""
    checked = []
    for name, value in params.items():
        a = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be finite")
        if name.startswith("sigma") and np.any(a <= 0):
            raise ValueError(f"{name} must be positive")
        checked.append(a)
    return checked


def gaussian_entropy(sigma, *, base=None):
    """Differential entropy ``h = ½ ln(2 pi e sigma²)`` of a normal distribution.

    Computed as ``½ ln(2 pi e) + ln sigma`` so that no ``sigma²`` can overflow.
    Differential entropy is negative when ``sigma < 1 / sqrt(2 pi e)``.

    Parameters
    ----------
    sigma : float or array-like
        Standard deviation(s), positive and finite.
    base : float, optional
        Logarithm base (``> 0`` and ``!= 1``); ``None`` gives nats, 2 gives bits.

    Returns
    -------
    float or ndarray
        A Python float for scalar input, otherwise an ndarray.

    Raises
    ------
    ValueError
        If ``sigma`` is not positive and finite, or ``base`` is invalid.

    Examples
    --------
    >>> from skce.information import gaussian_entropy
    >>> round(gaussian_entropy(1.0), 6)
    1.418939
    >>> round(gaussian_entropy(1e200), 3)  # sigma² would overflow
    461.936
    """
    log_base = _log_base(base)
    (sigma,) = _check_gaussian(sigma=sigma)
    return _output((_HALF_LOG_2PI + 0.5 + np.log(sigma)) / log_base)


def gaussian_cross_entropy(mu_p, sigma_p, mu_q, sigma_q, *, base=None):
    """Differential cross-entropy ``-∫ p ln q`` of two normal densities.

    With ``P = N(mu_p, sigma_p²)`` and ``Q = N(mu_q, sigma_q²)``::

        H(P, Q) = ½ ln(2 pi sigma_q²) + (sigma_p² + (mu_p - mu_q)²) / (2 sigma_q²)

    evaluated as ``½ ln(2 pi) + ln sigma_q + ½ (r² + z²)`` with
    ``r = sigma_p / sigma_q`` and ``z = (mu_p - mu_q) / sigma_q``. It is
    computed directly rather than as ``h(P) + D_KL(P || Q)``, because the
    differential entropy ``h(P)`` may be negative and that sum could cancel.

    Parameters
    ----------
    mu_p, sigma_p : float or array-like
        Mean and standard deviation of ``P``; finite, ``sigma_p > 0``.
    mu_q, sigma_q : float or array-like
        Mean and standard deviation of ``Q``; finite, ``sigma_q > 0``.
        All four broadcast against each other.
    base : float, optional
        Logarithm base (``> 0`` and ``!= 1``); ``None`` gives nats, 2 gives bits.

    Returns
    -------
    float or ndarray
        A Python float for scalar input, otherwise an ndarray.

    Raises
    ------
    ValueError
        If a parameter is not finite, a standard deviation is not positive,
        or ``base`` is invalid.

    Examples
    --------
    >>> from skce.information import gaussian_cross_entropy, gaussian_entropy
    >>> round(gaussian_cross_entropy(0.0, 1.0, 1.0, 2.0), 6)
    1.862086
    >>> gaussian_cross_entropy(0.0, 1.0, 0.0, 1.0) == gaussian_entropy(1.0)
    True
    """
    log_base = _log_base(base)
    mu_p, sigma_p, mu_q, sigma_q = _check_gaussian(
        mu_p=mu_p, sigma_p=sigma_p, mu_q=mu_q, sigma_q=sigma_q
    )
    r = sigma_p / sigma_q
    z = (mu_p - mu_q) / sigma_q
    return _output((_HALF_LOG_2PI + np.log(sigma_q) + 0.5 * (r * r + z * z)) / log_base)


def gaussian_kl_divergence(mu_p, sigma_p, mu_q, sigma_q, *, base=None):
    """Kullback-Leibler divergence ``∫ p ln(p / q)`` of two normal densities.

    With ``P = N(mu_p, sigma_p²)`` and ``Q = N(mu_q, sigma_q²)``::

        D_KL(P || Q) = ln(sigma_q / sigma_p)
                       + (sigma_p² + (mu_p - mu_q)²) / (2 sigma_q²) - ½

    evaluated as ``½ z² + g(r)`` with ``z = (mu_p - mu_q) / sigma_q``,
    ``r = sigma_p / sigma_q`` and ``g(r) = ½ (r² - 1) - ln r >= 0``. ``g`` is
    written in ``t = r - 1`` as ``½ t² + (t - ln(1 + t))`` with ``log1p``
    when ``|t| < ½``, so the result stays accurate and non-negative when
    ``P`` is close to ``Q``; elsewhere ``ln r = ln sigma_p - ln sigma_q``, so
    no ratio or square of a huge or tiny ``sigma`` is logged. As for discrete
    distributions (Gibbs' inequality) it is ``>= 0``, with equality if and
    only if ``P = Q``.

    Parameters
    ----------
    mu_p, sigma_p : float or array-like
        Mean and standard deviation of ``P``; finite, ``sigma_p > 0``.
    mu_q, sigma_q : float or array-like
        Mean and standard deviation of ``Q``; finite, ``sigma_q > 0``.
        All four broadcast against each other.
    base : float, optional
        Logarithm base (``> 0`` and ``!= 1``); ``None`` gives nats, 2 gives bits.

    Returns
    -------
    float or ndarray
        A Python float for scalar input, otherwise an ndarray.

    Raises
    ------
    ValueError
        If a parameter is not finite, a standard deviation is not positive,
        or ``base`` is invalid.

    Examples
    --------
    >>> from skce.information import gaussian_kl_divergence
    >>> round(gaussian_kl_divergence(0.0, 1.0, 1.0, 2.0), 6)
    0.443147
    >>> gaussian_kl_divergence(3.0, 2.0, 3.0, 2.0)
    0.0
    """
    log_base = _log_base(base)
    mu_p, sigma_p, mu_q, sigma_q = _check_gaussian(
        mu_p=mu_p, sigma_p=sigma_p, mu_q=mu_q, sigma_q=sigma_q
    )
    t = (sigma_p - sigma_q) / sigma_q
    z = (mu_p - mu_q) / sigma_q
    near = np.abs(t) < 0.5
    log_r = np.where(near, np.log1p(np.where(near, t, 0.0)), np.log(sigma_p) - np.log(sigma_q))
    g = 0.5 * t * t + (t - log_r)
    return _output((0.5 * z * z + g) / log_base)
