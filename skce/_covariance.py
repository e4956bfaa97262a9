"""The covariance of a fitted linear model's parameters: the sandwich and the inverse Hessian.

A fit minimises ``J(theta) = sum_i l_i(theta) + (alpha / 2) ||W||^2``, the rows'
weighted losses ``l_i`` normalised by the weight total ``S = sum_i s_i`` (as in
:mod:`skce._objective`). At its minimiser, with

    A = the Hessian of J (penalty included),
    B = sum_i u_i u_i^T  (u_i = grad l_i, the row's score over S),

the estimator's covariance is ``A^-1 B A^-1`` (the sandwich of an M-estimator,
Huber 1967, White 1980; HC0) and, for an unweighted maximum-likelihood fit only,
the inverse Fisher information of the summed log-likelihood, ``(S A)^-1`` (kind
"model"). With groups of rows that are not independent of each other,
``u_g = sum_{i in g} u_i`` replaces the rows' scores in ``B`` (cluster-robust,
Liang and Zeger 1986; no small-sample factor).

The parameters are those the data identify (``loss.identified_outputs``): all of
them for one logit, the differences from class 0 for softmax. The sums are taken
over the standardised columns ``[(X - mean) / scale, 1]`` of the rows they cover,
in which the matrices are well conditioned whatever the columns' offsets (dense
rows are centred one by one; sparse columns through their sums, which loses about
``(mean / scale)^2`` units of rounding: :attr:`CovarianceSums.offsets`);
sums over different row sets (dask chunks) are moved to one standardisation
exactly and added (:func:`merge_sums`); :func:`covariance` adds the penalty,
checks and inverts ``A`` and returns the covariance of the original parameters.
This module knows nothing of scikit-learn estimators.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._gram import _sparse_gram

__all__ = [
    "CovarianceSums",
    "SingularHessianError",
    "check_variances",
    "covariance",
    "covariance_sums",
    "involved",
    "listed",
    "merge_sums",
]

#: ``A`` (scaled to a unit diagonal) counts as singular when its smallest
#: eigenvalue is below this many units of rounding (eps times the parameter
#: count) of its largest: exactly collinear columns leave an eigenvalue of a few
#: such units, a genuinely ill-conditioned but regular ``A`` one far above.
SINGULAR_RTOL = 100.0


class SingularHessianError(ValueError):
    """The Hessian of the fitted objective is singular: some standard errors are infinite.

    Raised by ``covariance_matrix``, ``std_errors`` and ``coef_table`` of the
    skce estimators when ``alpha = 0`` and the data leave a combination of the
    parameters undetermined: collinear columns (a constant column next to the
    intercept, a column that is a sum of others), or classes separated by a
    hyperplane, for which no finite minimiser exists. A penalty ``alpha > 0``
    makes every Hessian regular.
    """


@dataclass
class CovarianceSums:
    """Sums over a set of rows, in the standardisation ``(mean, scale)``.

    Per unit of the rows' weight total ``weight_total`` (``sum_i s_i``):
    ``hessian`` is the loss's Hessian (``P x P``, no penalty), ``score`` the
    loss's gradient, ``meat`` the sum of the rows' score outer products (None
    with groups or when not asked for), ``group_labels`` and ``group_scores``
    (``G x P``) the sums of the scores per group. ``P = r (d + intercept)``,
    output-major. ``offsets`` (sparse rows only) are the columns' ``|mean| /
    scale``: sparse columns are centred by algebra on their sums, which loses
    about ``offsets^2`` units of rounding.
    """

    mean: np.ndarray
    scale: np.ndarray
    weight_total: float
    hessian: np.ndarray
    score: np.ndarray
    meat: np.ndarray | None = None
    group_labels: np.ndarray | None = None
    group_scores: np.ndarray | None = None
    offsets: np.ndarray | None = None


#: Rows of the evenly spaced sample whose column means and spreads standardise
#: the sums. Any centre and scale give the same covariance (the change back is
#: exact); a sample's are close enough to the data's to remove the offsets that
#: would cost precision, and cost nothing next to the sums.
STANDARDISING_ROWS = 4096


def _standardisation(objective):
    """``(mean, scale)`` of an evenly spaced row sample; zero spread -> scale 1.

    Without an intercept the columns are only scaled (centring is then not a
    change of parameters).
    """
    X = objective.X
    step = max(1, -(-X.shape[0] // STANDARDISING_ROWS))
    sample = X[::step]
    if sp.issparse(sample):
        mean = np.asarray(sample.mean(axis=0), dtype=np.float64).ravel()
        square = np.asarray(sample.multiply(sample).mean(axis=0), dtype=np.float64).ravel()
    else:
        mean = sample.mean(axis=0, dtype=np.float64)
        square = np.square(sample, dtype=np.float64).mean(axis=0)
    spread = np.sqrt(np.maximum(square - mean**2, 0.0))
    scale = np.where(spread > 0, spread, 1.0)
    if not objective.fit_intercept:
        mean = np.zeros_like(mean)
    return mean, scale


def _centred_rows(objective, rows, mean):
    """``[X[rows] - mean, 1]`` in float64 (no column of ones without intercept).

    Without intercept, float64 ``X[rows]`` itself (``mean`` is then 0): no copy.
    """
    block = objective.X[rows]
    if not objective.fit_intercept:
        return block.astype(np.float64, copy=False)
    d = objective.n_features
    C = np.empty((block.shape[0], d + 1))
    np.subtract(block, mean, out=C[:, :d])
    C[:, d] = 1.0
    return C


def _gram(S, h):
    """``S^T diag(h) S``: one symmetric rank-k update where ``h`` has one sign."""
    if np.all(h >= 0):
        R = S * np.sqrt(h)[:, None]
        return R.T @ R
    if np.all(h <= 0):
        R = S * np.sqrt(-h)[:, None]
        return -(R.T @ R)
    return S.T @ (h[:, None] * S)


def _row_terms(objective, rows, Wx, b):
    """The block's per-row Hessian weights and scores in the identified outputs.

    Returns ``(pairs, H, G)``: ``H[:, c]`` the weight of output pair ``pairs[c]``
    in the Hessian, ``w_i (d_k delta_kl - u_k u_l)``, and ``G`` (r, m) the scores
    ``dl_i / dz_k`` (weights included).
    """
    loss = objective.loss
    Z = objective.logits(rows, Wx, b)
    state = loss.hessian_state(Z)
    _, dZ = loss.loss_gradient(Z, objective.A[:, rows], objective.total_weight[rows])
    keep = loss.identified_outputs(objective.n_outputs)
    G = dZ[keep]
    d, u = loss.identified_hessian(state)
    w = objective.total_weight[rows]
    r = G.shape[0]
    pairs = [(k, m) for k in range(r) for m in range(k, r)]
    H = np.empty((w.shape[0], len(pairs)))
    for c, (k, m) in enumerate(pairs):
        H[:, c] = d[k] * w if k == m else 0.0
        if u is not None:
            H[:, c] -= w * u[k] * u[m]
    return pairs, H, G


def _place(out, pairs, blocks, q):
    """Add the pair blocks (each ``q x q``) into the symmetric ``out``, output-major."""
    for (k, m), block in zip(pairs, blocks, strict=True):
        out[k * q : (k + 1) * q, m * q : (m + 1) * q] += block
        if k != m:
            out[m * q : (m + 1) * q, k * q : (k + 1) * q] += block.T


def _group_codes(groups):
    """The sorted group labels and each row's index among them."""
    groups = np.asarray(groups)
    if groups.dtype.kind in "fcO":
        missing = groups != groups  # NaN
        if groups.dtype.kind == "O":
            missing |= np.equal(groups, None)
        if missing.any():
            raise ValueError(
                f"groups has {int(missing.sum())} missing labels (NaN or None), e.g. at row "
                f"{int(np.flatnonzero(missing)[0])}: give every row a group (its own, if it "
                "belongs to none)."
            )
    try:
        labels, codes = np.unique(groups, return_inverse=True)
    except TypeError as error:  # e.g. None among strings: no order
        raise ValueError(
            f"groups must be labels of one comparable type (numbers or strings), got: {error}"
        ) from error
    return labels, codes.ravel()


def covariance_sums(objective, theta, weight_total, groups=None, meat=True):
    """The :class:`CovarianceSums` of a :class:`~skce._objective.LinearObjective` at ``theta``.

    The objective's targets are normalised by its rows' ``weight_total`` (as a
    fit's are). One pass over ``X``. ``groups`` (one label per row, or None)
    gives the per-group score sums instead of the rows' outer products;
    ``meat=False`` neither (the model-based covariance needs only the Hessian).
    """
    mean, scale = _standardisation(objective)
    Wx, b = objective.logit_weights(theta)
    if Wx is None:
        Wx = np.zeros((objective.n_outputs, objective.n_features), dtype=objective.dtype)
    r = len(range(objective.n_outputs)[objective.loss.identified_outputs(objective.n_outputs)])
    q = objective.n_features + objective.fit_intercept
    P = r * q
    hessian, score = np.zeros((P, P)), np.zeros(P)
    with_meat = meat and groups is None
    outer = np.zeros((P, P)) if with_meat else None
    if groups is not None:
        labels, codes = _group_codes(groups)
        group_scores = np.zeros((labels.shape[0], P))
    for rows in objective.row_blocks:
        pairs, H, G = _row_terms(objective, rows, Wx, b)
        if objective.sparse:
            # Every weight column in one product with the pair matrix.
            squares = [G[k] * G[m] for k, m in pairs] if with_meat else []
            W = np.column_stack([H, *squares]) if squares else H
            grams = _sparse_gram(objective, W, mean, scale, 1.0)[:, :q, :q]
            _place(hessian, pairs, grams[: len(pairs)], q)
            if with_meat:
                _place(outer, pairs, grams[len(pairs) :], q)
            score += _sparse_row_sums(objective.X, G, mean, scale, q).ravel()
        else:
            # Sums over the centred rows C; the scaling is applied once, at the end.
            C = _centred_rows(objective, rows, mean)
            _place(hessian, pairs, [_gram(C, H[:, c]) for c in range(len(pairs))], q)
            if with_meat:
                _place(outer, pairs, [_gram(C, G[k] * G[m]) for k, m in pairs], q)
            score += (G @ C).ravel()
        if groups is not None:
            group_scores += _group_sums(
                objective, rows, G, codes[rows], labels.shape[0], mean, scale
            )
    if not objective.sparse:
        unit = np.kron(np.ones(r), np.concatenate([1.0 / scale, np.ones(q - scale.shape[0])]))
        hessian *= unit[:, None] * unit[None, :]
        score *= unit
        if outer is not None:
            outer *= unit[:, None] * unit[None, :]
    sums = CovarianceSums(mean, scale, float(weight_total), hessian, score, outer)
    if objective.sparse:
        sums.offsets = np.abs(mean) / scale
    if groups is not None:
        sums.group_labels, sums.group_scores = labels, group_scores
    return sums


def _sparse_row_sums(X, V, mean, scale, q):
    """``V S`` for sparse ``X``: weighted sums of the standardised rows, (n_out, q).

    ``V`` (n_out, m) is dense or sparse; ``S`` is never formed:
    ``V (X - 1 mean^T) / scale = (V X - (V 1) mean^T) / scale``.
    """
    d = X.shape[1]
    if sp.issparse(V):
        VX = (V @ X).toarray()
        totals = np.asarray(V.sum(axis=1)).ravel()
    else:
        VX = np.asarray(X.T @ V.T).T
        totals = V.sum(axis=1)
    out = np.empty((V.shape[0], q))
    out[:, :d] = (VX - np.outer(totals, mean)) / scale
    if q > d:
        out[:, d] = totals
    return out


def _group_sums(objective, rows, G, codes, n_groups, mean, scale):
    """``sum_{i in g} G_ki S_i`` for every group ``g`` and output ``k``: (n_groups, r q)."""
    q = objective.n_features + objective.fit_intercept
    m = rows.stop - rows.start
    parts = []
    for k in range(G.shape[0]):
        M = sp.csr_matrix((G[k], (codes, np.arange(m))), shape=(n_groups, m))
        if objective.sparse:
            parts.append(_sparse_row_sums(objective.X, M, mean, scale, q))
        else:
            part = M @ _centred_rows(objective, rows, mean)
            part[:, : scale.shape[0]] /= scale
            parts.append(part)
    return np.hstack(parts)


def _change(old, new, fit_intercept):
    """``T`` (q x q, one output's parameters) with ``phi_old = T phi_new``.

    Standardisations ``(mean, scale)``: ``theta = T phi`` with ``W = phi_W / scale``
    and ``b = phi_b - W . mean``; so ``phi_old = T_old^-1 T_new phi_new``: ``phi_W``
    scaled by ``scale_old / scale_new``, ``phi_b`` shifted by ``(mean_old - mean_new)
    . phi_W / scale_new``. The same ``T`` acts on every output's block.
    """
    (mean_o, scale_o), (mean_n, scale_n) = old, new
    d = mean_o.shape[0]
    q = d + fit_intercept
    T = np.zeros((q, q))
    T[np.arange(d), np.arange(d)] = scale_o / scale_n
    if fit_intercept:
        T[d, :d] = (mean_o - mean_n) / scale_n
        T[d, d] = 1.0
    return T


def _to_theta(mean, scale, fit_intercept):
    """``T`` with ``theta = T phi`` per output (the standardisation undone)."""
    return _change((np.zeros_like(mean), np.ones_like(scale)), (mean, scale), fit_intercept)


def _congruence(matrix, T):
    """``K^T matrix K`` for ``K = I_r (x) T`` (block-diagonal), without forming ``K``."""
    q = T.shape[0]
    r = matrix.shape[0] // q
    blocks = matrix.reshape(r, q, r, q)
    return np.einsum("ai,kalb,bj->kilj", T, blocks, T, optimize=True).reshape(matrix.shape)


def _times(T, vector, transpose=False):
    """``K v`` (or ``K^T v``) for ``K = I_r (x) T``."""
    blocks = vector.reshape(-1, T.shape[0])
    return (blocks @ (T if transpose else T.T)).ravel()


def merge_sums(parts, fit_intercept):
    """The sums over the union of the parts' rows, in the first part's standardisation.

    Each part's sums are per unit of its own weight total; the merged ones per
    unit of the sum of them (the meat, a sum of squares, by its square).
    """
    first = parts[0]
    reference = (first.mean, first.scale)
    total = sum(part.weight_total for part in parts)
    hessian, score = np.zeros_like(first.hessian), np.zeros_like(first.score)
    meat = None if first.meat is None else np.zeros_like(first.meat)
    grouped = first.group_scores is not None
    labels, scores = [], []
    for part in parts:
        share = part.weight_total / total
        T = _change((part.mean, part.scale), reference, fit_intercept)
        hessian += share * _congruence(part.hessian, T)
        score += share * _times(T, part.score, transpose=True)
        if meat is not None:
            meat += share**2 * _congruence(part.meat, T)
        if grouped:
            labels.append(part.group_labels)
            scores.append(
                share
                * (part.group_scores.reshape(-1, T.shape[0]) @ T).reshape(part.group_scores.shape)
            )
    merged = CovarianceSums(first.mean, first.scale, total, hessian, score, meat)
    offsets = [part.offsets for part in parts if part.offsets is not None]
    if offsets:
        merged.offsets = np.max(offsets, axis=0)
    if grouped:
        merged.group_labels, codes = _group_codes(np.concatenate(labels))
        merged.group_scores = np.zeros((merged.group_labels.shape[0], score.shape[0]))
        np.add.at(merged.group_scores, codes, np.vstack(scores))
    return merged


@dataclass
class Covariance:
    """The result of :func:`covariance`.

    ``matrix`` is the covariance of the identified parameters (P x P); ``step``
    the Newton step ``A^-1 grad J`` at the fitted point, in the same parameters
    (zero at an exact minimiser of this data's objective); ``weakest`` the
    direction of the parameters in which ``A`` is least curved (relative to
    its diagonal) and ``weakest_ratio`` that curvature over the largest: a
    direction in which the data may separate the classes
    (:func:`skce._separation.separation_margins`).
    """

    matrix: np.ndarray
    step: np.ndarray
    weakest: np.ndarray
    weakest_ratio: float


def covariance(sums, theta, *, loss, n_outputs, alpha, kind, names):
    """The covariance of the identified parameters at the fitted ``theta``.

    Parameters
    ----------
    sums : CovarianceSums
        Over every row of the fit's data, per unit of its weight total ``S``
        (the fit's normalisation).
    theta : ndarray of shape (P,)
        The identified parameters in the original coordinates (output-major,
        each output's coefficients then its intercept).
    loss : object
        The loss (its identified outputs and penalty coupling).
    n_outputs : int
    alpha : float
        The fit's penalty.
    kind : {"sandwich", "model"}
    names : list of str
        The parameters' names, for the error on a singular Hessian.

    Returns
    -------
    Covariance
    """
    d = sums.mean.shape[0]
    P = sums.hessian.shape[0]
    coupling = loss.output_penalty(n_outputs)
    q = P // coupling.shape[0]
    fit_intercept = q > d
    per_column = np.concatenate([1.0 / sums.scale**2, np.zeros(q - d)])
    penalty = alpha * np.kron(coupling, np.diag(per_column))
    A = sums.hessian + penalty
    T = _to_theta(sums.mean, sums.scale, fit_intercept)
    phi = np.linalg.solve(T, theta.reshape(-1, q).T).T.ravel()
    gradient = sums.score + penalty @ phi
    inverse, weakest, ratio = _inverse(A, names)
    if kind == "model":
        # The inverse information of the summed log-likelihood, S J: (S A)^-1.
        matrix = inverse / sums.weight_total
    else:
        B = sums.meat if sums.meat is not None else sums.group_scores.T @ sums.group_scores
        matrix = inverse @ B @ inverse
    matrix = _congruence(matrix, T.T)
    matrix = 0.5 * (matrix + matrix.T)
    step = _times(T, inverse @ gradient)
    return Covariance(matrix, step, _times(T, weakest), ratio)


def check_variances(result, names):
    """SingularHessianError if rounding has left a variance negative or not finite."""
    variances = np.diag(result.matrix)
    bad = np.flatnonzero(~(np.isfinite(variances) & (variances >= 0)))
    if bad.size:
        raise SingularHessianError(
            "The covariance is numerically singular: the variances of "
            f"{listed([names[j] for j in bad])} are lost to rounding (the Hessian's smallest "
            f"eigenvalue is {result.weakest_ratio:.1e} of its largest). Fit with alpha > 0, or "
            "drop columns."
        )


def _inverse(A, names):
    """``(A^-1, weakest, ratio)`` of a symmetric ``A``; SingularHessianError if it is singular.

    ``weakest`` is the eigenvector of the smallest eigenvalue of ``A`` scaled to
    a unit diagonal (in ``A``'s coordinates) and ``ratio`` that eigenvalue over
    the largest.
    """
    diagonal = np.diag(A).copy()
    flat = np.flatnonzero(~(diagonal > 0))
    if flat.size:
        raise SingularHessianError(
            "The Hessian of the fitted objective is singular: the data do not determine "
            f"{listed([names[j] for j in flat])} (no curvature in the "
            f"{'direction' if flat.size == 1 else 'directions'}: a column that is constant, "
            "or zero, on the weighted rows). Drop it, or fit with alpha > 0."
        )
    unit = 1.0 / np.sqrt(diagonal)
    scaled = A * unit[:, None] * unit[None, :]
    values, vectors = np.linalg.eigh(scaled)
    P = A.shape[0]
    ratio = max(values[0], 0.0) / values[-1]
    if not values[0] > SINGULAR_RTOL * P * np.finfo(np.float64).eps * values[-1]:
        raise SingularHessianError(
            "The Hessian of the fitted objective is singular (its smallest eigenvalue is "
            f"{ratio:.1e} of its largest): the data do not determine the combination of "
            f"{listed(involved(vectors[:, 0], names))} — collinear columns (e.g. a constant "
            "column with the intercept, or columns that sum to another), or classes separated "
            "by a hyperplane. Drop a column, or fit with alpha > 0."
        )
    inverse = (vectors / values) @ vectors.T
    return inverse * unit[:, None] * unit[None, :], vectors[:, 0] * unit, ratio


def involved(vector, names):
    """The names of the parameters with a large share of ``vector``."""
    weights = np.abs(vector)
    return [names[j] for j in np.flatnonzero(weights > 0.1 * weights.max())]


def listed(items, at_most=8):
    shown = [repr(str(item)) for item in items[:at_most]]
    more = f" and {len(items) - at_most} more" if len(items) > at_most else ""
    return ", ".join(shown) + more
