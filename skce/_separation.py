"""Whether the classes are separated along a direction of a linear model's parameters.

At ``alpha = 0`` a cross-entropy has no minimiser when a hyperplane puts every
weighted row on its class's side or on the hyperplane (complete or
quasi-complete separation, Albert and Anderson 1984): the coefficients along
that direction grow for as long as a fit runs, and a covariance taken where the
fit stopped is finite, small and wrong. The covariance checks the direction in
which the fitted objective is least curved (:mod:`skce._inference`); the
margins are sums over rows, so a dask chunk computes its own. This module knows
nothing of scikit-learn estimators.
"""

import numpy as np

__all__ = ["MARGIN_RTOL", "separated", "separation_margins"]

#: A direction counts as separating when no weighted row's margin along it is
#: below minus this fraction of the largest margin: rows whose margin is that
#: small lie on the separating hyperplane, up to the rounding of the direction
#: (an eigenvector of a Hessian at finite coefficients).
MARGIN_RTOL = 1e-4


def separation_margins(objective, direction):
    """``[(largest |margin|, largest -margin)]`` of the weighted rows along ``±direction``.

    ``direction`` is a full parameter vector (``theta``'s layout); a row's
    margin is its own class's logit along it minus the largest other
    (:meth:`loss.margins`), for ``direction`` and for its opposite (an
    eigenvector's sign is arbitrary). The classes are separated along one of
    them (quasi-completely: every weighted row on its side or on the
    hyperplane) when its second number is at most ``MARGIN_RTOL`` times its
    first. Hard targets only: with label smoothing every row weighs every
    class, and a minimiser always exists (returns zeros).
    """
    weighted = objective.A > 0
    if np.any(weighted.sum(axis=0) > 1):
        return [(0.0, 0.0), (0.0, 0.0)]
    Wx, b = objective.unpack(direction)
    Wx = Wx.astype(objective.dtype)
    found = np.zeros((2, 2))
    for rows in objective.row_blocks:
        keep = weighted[:, rows].any(axis=0)
        if not keep.any():
            continue
        target = np.argmax(weighted[:, rows], axis=0)
        Z = objective.logits(rows, Wx, b)
        for k, logits in enumerate((Z, -Z)):
            margins = objective.loss.margins(logits, target)[keep]
            found[k, 0] = max(found[k, 0], float(np.max(np.abs(margins))))
            found[k, 1] = max(found[k, 1], float(np.max(-margins)))
    return [tuple(row) for row in found]


def separated(parts):
    """Whether the chunks' :func:`separation_margins` separate along either orientation."""
    for k in range(2):
        largest = max(part[k][0] for part in parts)
        wrong = max(part[k][1] for part in parts)
        if largest > 0 and wrong <= MARGIN_RTOL * largest:
            return True
    return False
