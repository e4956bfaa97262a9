"""The maths of subsampling rows: inclusion probabilities, Poisson draws, pilot scores.

A row ``i`` is kept independently with probability ``pi_i`` (Poisson sampling)
and weighted by ``1 / pi_i``, so that the weighted sum of any per-row quantity
over the kept rows is an unbiased (Horvitz-Thompson) estimate of its sum over
all rows. Three rules for ``pi``:

- per class (:func:`class_rates`): ``pi_i = r_{y_i}`` with the rates filled
  like water, ``r_k = min(1, t / n_k)``, so that every class contributes at
  most ``t`` rows in expectation (case-control sampling); a class can be kept
  whole first;
- proportional to a score ``a_i`` and capped at 1 (:func:`poisson_scale`):
  ``pi_i = min(1, c a_i)`` with ``c`` chosen for the expected number of rows;
- the scores of optimal subsampling (Wang, Zhu & Ma 2018, "OSMAC", the mVc
  criterion) are the norms of the rows' gradients at a pilot fit
  (:func:`gradient_scores`); those of local case-control sampling (Fithian &
  Hastie 2014) are the pilot's errors ``|y_i - p_i|`` (:func:`pilot_errors`).

Nothing here knows of estimators or scikit-learn: arrays in, arrays out.
"""

from typing import NamedTuple

import numpy as np

from ._objective import weighted_targets

__all__ = [
    "Sample",
    "capped_scale",
    "class_rates",
    "draw",
    "gradient_scores",
    "local_multiplier",
    "merge_summaries",
    "pilot_errors",
    "poisson_scale",
    "score_parameters",
    "standardisation",
    "summary",
    "union_probability",
]

#: Rows per block when scoring rows in memory: the temporaries of a block
#: (its logits, its standardised rows) stay within a few MB.
SCORE_BLOCK_ROWS = 65536

#: Streams of random numbers, one per draw (with the seed and the chunk's index).
PILOT_STREAM, SAMPLE_STREAM = 0, 1


def class_rates(counts, size, whole=None):
    """Per-class inclusion probabilities that keep ``size`` rows in expectation.

    ``r_k = min(1, t / n_k)`` with ``t`` such that ``sum_k n_k r_k = size``:
    classes of at most ``t`` rows are kept whole, the others contribute ``t``
    rows each in expectation. ``whole`` (a class index, or None) is kept whole
    first, whatever its count; the others share what is left of ``size``.
    Classes with no rows get rate 0. ``size`` at or above the number of rows
    gives every class rate 1.
    """
    counts = np.asarray(counts, dtype=np.float64)
    rates = np.zeros(counts.shape[0])
    budget = float(size)
    if whole is not None:
        rates[whole] = 1.0
        budget -= counts[whole]
    others = [k for k in np.argsort(counts, kind="stable") if k != whole and counts[k] > 0]
    for place, k in enumerate(others):
        share = budget / (len(others) - place)  # t, if every class left is subsampled
        if counts[k] <= share:
            rates[k] = 1.0
            budget -= counts[k]
        else:
            for j in others[place:]:
                rates[j] = max(share, 0.0) / counts[j]
            break
    return rates


def poisson_scale(scores, size, weights=None):
    """The ``c`` of ``pi_i = min(1, c a_i)`` with ``sum_i w_i pi_i = size``.

    ``w_i`` are 1 (every row's score is given: the expected size is exactly
    ``size``) or the inverse inclusion probabilities of a sample of the rows
    (an unbiased estimate of it). Returns ``inf`` when ``size`` reaches the
    (weighted) number of rows with a positive score: every such row is then
    kept.

    Exact, by water-filling over the rows that may be capped
    (:func:`capped_scale`): only rows with ``a_i >= tau`` are sorted, with
    ``tau`` lowered until ``c tau < 1`` (no row below it is capped). The first
    ``tau = 1 / (4 c_0)``, ``c_0 = size / sum w a`` (no cap), passes at most
    ``4 size / min w`` rows.
    """
    a = np.asarray(scores, dtype=np.float64)
    if weights is None:
        w, wa = None, a
        if size >= np.count_nonzero(a > 0):
            return np.inf
    else:
        w = np.asarray(weights, dtype=np.float64)
        if size >= w[a > 0].sum():
            return np.inf
        wa = w * a
    tau = wa.sum() / size / 4.0
    while True:
        candidate = a >= tau
        c = capped_scale(
            a[candidate],
            size,
            float(np.add.reduce(wa, where=~candidate)),  # no copy of the (many) others
            tau,
            weights=None if w is None else w[candidate],
            everything=bool(candidate.all()),
        )
        if c is not None:
            return c
        tau = tau / 4.0 if np.any(~candidate & (a > 0) & (a >= tau / 4.0)) else 0.0


def capped_scale(candidates, size, rest, tau, weights=None, everything=False):
    """One step of :func:`poisson_scale`: ``c`` from the rows with ``a_i >= tau``.

    ``candidates`` are those rows' scores (in row order: ties keep it),
    ``weights`` their ``w_i`` (None: 1) and ``rest`` the sum of ``w_i a_i``
    over the other rows. With ``k`` rows capped (the ``k`` largest scores),
    ``c = (size - W_k) / (sum w a - (wa)_k)``, the sums over those rows; the
    answer is the ``k`` whose ``c`` caps exactly them. Returns None when no
    ``k`` does without capping a row below ``tau`` (lower ``tau``), unless
    ``everything`` (the candidates are all the rows): then, rounding at a
    boundary, the last ``c`` that caps its rows. The candidates can be gathered
    from chunks of rows, with ``rest`` summed over the chunks.
    """
    a = np.asarray(candidates, dtype=np.float64)
    order = np.argsort(-a, kind="stable")
    a_rows = a[order]
    # For k = 0, 1, ..., len(rows) capped rows: their weight, and the others'
    # w a summed directly (a difference of sums loses the small ones).
    if weights is None:
        w_rows, wa_rows = np.ones(a.size), a_rows
    else:
        w_rows = np.asarray(weights, dtype=np.float64)[order]
        wa_rows = w_rows * a_rows
    capped = np.concatenate([[0.0], np.cumsum(w_rows)])
    tail = np.cumsum(wa_rows[::-1])[::-1]
    others = np.concatenate([tail, [0.0]]) + rest
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        c = (size - capped) / others
        caps = (c > 0) & (c * np.concatenate([[np.inf], a_rows]) >= 1.0)
        fits = caps & (c * np.concatenate([a_rows, [tau]]) < 1.0)  # and no other
    if fits.any():
        return float(c[np.argmax(fits)])
    if everything:
        return float(c[np.flatnonzero(caps)[-1]])
    return None


def probabilities(scores, c, out=None):
    """``min(1, c a_i)``; every row 1 when ``c`` is infinite.

    ``out`` (e.g. ``scores`` itself, when they are not needed again) saves an
    array of the rows' length: on 10 million rows each costs about 0.1 s.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if np.isinf(c):
        out = np.empty_like(scores) if out is None else out
        out.fill(1.0)
        return out
    out = np.multiply(scores, c, out=out)
    return np.minimum(out, 1.0, out=out)


def union_probability(first, second, out=None):
    """Probability that either of two independent Poisson draws keeps a row.

    ``1 - (1 - first)(1 - second)``; ``out`` as in :func:`probabilities`.
    """
    out = np.subtract(1.0, second, out=out)
    out *= 1.0 - np.asarray(first)
    return np.subtract(1.0, out, out=out)


def uniforms(seed, stream, chunk, m):
    """The ``m`` uniform numbers of draw ``stream`` for the rows of chunk ``chunk``.

    One generator per (seed, draw, chunk): a chunk's draws do not depend on the
    other chunks, so workers draw their own rows, and a draw can be repeated
    exactly (a pilot row's membership is known again in a later pass).
    """
    return np.random.default_rng([seed, stream, chunk]).random(m)


def draw(probability, seed, stream, chunk=0):
    """The Poisson draw: a boolean mask keeping row ``i`` with probability ``pi_i``."""
    probability = np.asarray(probability, dtype=np.float64)
    return uniforms(seed, stream, chunk, probability.shape[0]) < probability


def standardisation(X, weights, fit_intercept=True):
    """Weighted column means and standard deviations of rows ``X`` (dense or CSR).

    The coordinates in which the gradient norms are taken: the fit's
    standardised columns. A constant column gets scale 1. Without an intercept
    the columns are only scaled (the mean is 0): centring is then not a change
    of parameters, and a row's gradient is ``residual * x / scale``.
    """
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum()
    mean = np.asarray(X.T @ w).ravel() / total
    if hasattr(X, "multiply"):  # sparse
        second = np.asarray(X.multiply(X).T @ w).ravel() / total
    else:
        second = np.einsum("ij,ij,i->j", X, X, w) / total
    var = np.maximum(second - mean**2, 0.0)
    scale = np.sqrt(var)
    scale[scale <= 1e-12 * np.maximum(np.abs(mean), 1.0)] = 1.0
    if not fit_intercept:
        mean = np.zeros_like(mean)
    return mean, scale


def _norm_terms(mean, scale):
    """``(1 / scale^2, mean / scale^2, sum mean^2 / scale^2)``: the expanded square."""
    inv2 = 1.0 / np.asarray(scale, dtype=np.float64) ** 2
    mean = np.asarray(mean, dtype=np.float64)
    return inv2, mean * inv2, float(mean**2 @ inv2)


def _squares(X, inv2):
    """``sum_j x_ij^2 / scale_j^2`` of every row, without a copy of ``X``."""
    if hasattr(X, "multiply"):  # sparse
        return np.asarray(X.multiply(X) @ inv2).ravel()
    return np.einsum("ij,ij,j->i", X, X, inv2)


def _norms(squares, linear, const, intercept):
    """``||((x - mean) / scale, 1)||`` from the expanded square's terms.

    ``sum x^2 / s^2 - 2 x . (mean / s^2) + sum mean^2 / s^2``: no centred copy of
    the rows (the norm is a sampling score: the rounding of the expansion, at
    most ``eps (|mean| / scale)^2`` relative, is immaterial), floored at 0.
    """
    sq = squares - 2.0 * linear + const
    np.maximum(sq, 0.0, out=sq)
    if intercept:
        sq += 1.0
    return np.sqrt(sq)


def score_parameters(pilot_model, pilot, class_weight):
    """``(model, standard)`` of :func:`gradient_scores` at the pilot fit.

    ``pilot_model`` is the fitted pilot (its ``coef_``, ``intercept_``,
    ``fit_intercept`` and ``label_smoothing``), ``pilot`` its :class:`Sample`
    (whose weighted column moments standardise the rows), ``class_weight`` the
    class weights of the target.
    """
    fit_intercept = pilot_model.fit_intercept
    standard = (*standardisation(pilot.X, pilot.weight, fit_intercept), fit_intercept)
    model = (
        pilot_model.coef_,
        pilot_model.intercept_,
        np.asarray(class_weight, dtype=np.float64),
        pilot_model.label_smoothing,
    )
    return model, standard


def gradient_scores(loss, X, y_codes, sample_weight, model, standard):
    """Norms of the rows' gradients at the pilot, in standardised coordinates.

    ``||s_i c_{y_i} (p_i - t_i)|| * ||(x_i - mean) / scale, 1)||``, the norm of
    row ``i``'s gradient of the weighted cross-entropy (the mVc criterion of
    Wang, Zhu & Ma 2018, with the row's weight). ``model`` is ``(coef,
    intercept, class_weight, label_smoothing)`` of the pilot; ``standard`` is
    ``(mean, scale, intercept)``: :func:`standardisation`'s and whether the
    fit has an intercept.
    """
    coef, intercept, class_weight, smoothing = model
    mean, scale, fit_intercept = standard
    inv2, lin, const = _norm_terms(mean, scale)
    W = np.asarray(coef, dtype=np.float64)
    # Matrix-vector products, one per output: BLAS's matrix-matrix product with
    # two or three columns took 6x a read of X here.
    Z = np.stack([np.asarray(X @ w).ravel() for w in W])
    Z += np.asarray(intercept, dtype=np.float64)[:, None]
    A = weighted_targets(
        y_codes, class_weight.shape[0], sample_weight, class_weight, smoothing, weight_total=1.0
    )
    dZ = loss.residual(Z, A)
    residual = np.sqrt(np.einsum("km,km->m", dZ, dZ))
    # Without an intercept the mean is 0: no pass for the linear term.
    linear = np.asarray(X @ lin).ravel() if fit_intercept else 0.0
    return residual * _norms(_squares(X, inv2), linear, const, fit_intercept)


def _logits(X, coef, intercept):
    """Class-major float64 logits ``(W x_i + b)``, shape (n_outputs, m)."""
    Z = np.asarray(X @ np.asarray(coef, dtype=np.float64).T) + intercept
    return np.ascontiguousarray(Z.T, dtype=np.float64)


def pilot_errors(X, y_codes, coef, intercept):
    """``|y_i - p_i|`` of a binary pilot (local case-control's acceptance score)."""
    from scipy.special import expit

    z = _logits(X, coef, intercept)[0]
    # |y - p| = p for a negative, 1 - p = sigmoid(-z) for a positive: no cancellation.
    return expit(np.where(y_codes == 1, -z, z))


class Sample(NamedTuple):
    """The kept rows of a draw, as a fit takes them."""

    #: Positions of the kept rows among all rows, increasing.
    indices: np.ndarray
    X: object
    y: np.ndarray
    #: The sample weights of the fit: ``s_i`` times ``multiplier``.
    weight: np.ndarray
    #: What each kept row's sample weight is multiplied by (``1 / pi_i``).
    multiplier: np.ndarray
    #: :func:`summary` of the probabilities of all rows.
    summary: dict


def summary(pi):
    """What ``sampling_probabilities_`` reports of the probabilities ``pi`` of all rows."""
    pi = np.asarray(pi, dtype=np.float64)
    return {
        "expected_size": float(pi.sum()),
        "min": float(pi.min()),
        "max": float(pi.max()),
        "n_certain": int(np.count_nonzero(pi >= 1.0)),
    }


def merge_summaries(parts):
    """The :func:`summary` of all rows from those of their chunks."""
    return {
        "expected_size": float(sum(p["expected_size"] for p in parts)),
        "min": float(min(p["min"] for p in parts)),
        "max": float(max(p["max"] for p in parts)),
        "n_certain": int(sum(p["n_certain"] for p in parts)),
    }


def local_multiplier(scores, c):
    """Local case-control's weights of kept rows: ``c a_i`` where capped, else 1.

    ``c a_i / pi_i``: keeps its estimating equation unbiased at any size. With
    every row kept (``c`` infinite): ``a_i``, the same up to a common factor.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if np.isinf(c):
        return scores
    return np.maximum(1.0, c * scores)
