"""Pointwise cross-entropy losses on raw logits.

This module is the single home of the cross-entropy maths. It knows nothing of
scikit-learn, of the linear model or of the solvers: a loss receives a block of
raw logits ``Z`` and a block of *weighted targets* ``A`` and returns the summed
loss together with its gradient with respect to ``Z``.

Weighted targets
----------------
For sample ``i`` with sample weight ``s_i``, per-class weight ``c_k`` and target
distribution ``t_ik`` (one-hot for hard labels), the objective's normalisation
``S = sum_i s_i`` is folded in once::

    A_ki = s_i * c_k * t_ki / S

so that every loss below is a plain sum over samples and the objective never
has to know about weights again. Blocks are class-major: ``Z`` and ``A`` have
one row per logit or class and one column per sample.

Both losses are the weighted cross-entropy ``-sum_k A_ik ln q_ik`` of a
model distribution ``q_i`` given by the link function on the logits, and in
both cases the gradient is the weighted prediction error
``dL/dz_ki = (sum_l A_li) * q_ki - A_ki``, which for a one-hot target reduces
to ``s_i c_{y_i} (q_ki - [k = y_i]) / S``.
"""

import numpy as np
from scipy.special import expit

__all__ = ["BinaryCrossEntropy", "MultinomialCrossEntropy", "softplus"]


def softplus(z):
    """Return ``ln(1 + exp(z))`` without overflow for any finite ``z``.

    Uses ``max(z, 0) + log1p(exp(-|z|))``, exact to rounding for all ``z``.
    """
    z = np.asarray(z, dtype=np.float64)
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _scratch(work, count, m):
    """``count`` float64 vectors of length ``m``: views of ``work`` or new arrays."""
    if work is None or work.shape[0] < count * m:
        work = np.empty(count * m)
    return [work[j * m : (j + 1) * m] for j in range(count)]


class BinaryCrossEntropy:
    """β-weighted binary cross-entropy on one logit per sample.

    With ``p = sigmoid(z)``, the loss of one sample with weighted targets
    ``(A_0i, A_1i)`` (negative, positive) is::

        l_i = -[A_1i ln p + A_0i ln(1 - p)]
            = (A_0i + A_1i) * softplus(z) - A_1i * z

    because ``-ln p = softplus(-z) = softplus(z) - z`` and
    ``-ln(1 - p) = softplus(z)``. Its derivative is
    ``dl_i/dz = (A_0i + A_1i) * p - A_1i``, and its second derivative is at
    most ``(A_0i + A_1i) / 4``.

    Arrays are class-major: logits ``Z`` of shape (1, m), targets ``A`` of
    shape (2, m).
    """

    #: Upper bound of the curvature ``d²l/dz²`` per unit of sample weight.
    curvature_bound = 0.25

    #: Absolute rounding of a sample's loss, in eps per unit weight, beyond what
    #: its logits' errors cause: none (every term is a log1p or a product).
    value_rounding = 0.0

    @staticmethod
    def n_outputs(n_classes):
        """Number of logits per sample: one, whatever ``n_classes`` (= 2) is."""
        return 1

    @staticmethod
    def loss_gradient(Z, A, total_weight, work=None):
        """Summed loss and its gradient with respect to the logits.

        Parameters
        ----------
        Z : ndarray of shape (1, m), float64
            Raw logits; overwritten by the gradient, which is returned in it.
        A : ndarray of shape (2, m)
            Weighted targets, row 0 the negative class, row 1 the positive.
        total_weight : ndarray of shape (m,)
            ``A.sum(axis=0)``, precomputed by the caller.
        work : ndarray of shape (>= 2 * m,), optional
            Scratch space reused across calls; allocated when not given.

        Returns
        -------
        loss : float
            ``sum_i l_i``.
        dZ : ndarray of shape (1, m), float64
            ``dl_i / dz_i`` (the array ``Z``).
        """
        z = Z[0]
        m = z.shape[0]
        e, t = _scratch(work, 2, m)
        # One exp per sample: e = exp(-|z|) gives softplus(±z) and sigmoid(z).
        np.abs(z, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)
        # softplus(z) = max(z, 0) + log1p(e) and softplus(-z) = max(-z, 0) + log1p(e):
        # every term is >= 0, so the sum has no cancellation even for |z| ~ 1e4.
        np.log1p(e, out=t)
        loss = float(total_weight @ t)
        np.maximum(z, 0.0, out=t)
        loss += float(A[0] @ t)
        np.minimum(z, 0.0, out=t)
        loss -= float(A[1] @ t)
        # sigmoid(z) = 1 / (1 + e) for z >= 0 and e / (1 + e) otherwise, computed in
        # place in z (which becomes the residual dl/dz): numerator 1 + [z < 0] (e - 1).
        np.add(e, 1.0, out=t)
        np.less(z, 0.0, out=z, casting="unsafe")
        e -= 1.0
        z *= e
        z += 1.0
        z /= t
        z *= total_weight
        z -= A[1]
        return loss, Z

    @staticmethod
    def residual(Z, A):
        """``dl_i/dz_i = (A_0i + A_1i) p_i - A_1i`` alone (no loss value), shape (1, m).

        ``expit`` is accurate in both tails; 7x cheaper than :meth:`loss_gradient`
        where only the gradient is needed (the rows' scores of a subsample).
        """
        return ((A[0] + A[1]) * expit(Z[0]) - A[1])[None, :]

    @staticmethod
    def margins(Z, target):
        """Margin of the target class (0 or 1): ``z`` for the positive class, ``-z`` otherwise."""
        return np.where(target == 1, Z[0], -Z[0])

    @staticmethod
    def curvature(Z):
        """``d²l/dz² / (A_0i + A_1i) = p (1 - p)`` for logits ``Z`` of shape (1, m).

        Computed as ``sigmoid(z) * sigmoid(-z)``, which stays accurate (no
        ``1 - p`` cancellation) for large ``|z|``.
        """
        e = np.exp(-np.abs(Z))
        return e / (1.0 + e) ** 2

    @staticmethod
    def hessian_state(Z):
        """What :meth:`hessian_product` needs of the logits ``Z`` (1, m): ``p (1 - p)``."""
        return BinaryCrossEntropy.curvature(Z)

    @staticmethod
    def hessian_product(state, V):
        """``d²l/dz² V`` per unit weight: ``p (1 - p) V`` for logit directions ``V`` (1, m)."""
        return state * V

    @staticmethod
    def hessian_diagonal(state):
        """The diagonal of ``d²l/dz²`` per unit weight: ``p (1 - p)``, shape (1, m)."""
        return state

    @staticmethod
    def identified_outputs(n_outputs):
        """The outputs whose parameters the data identify: the one logit."""
        return slice(0, n_outputs)

    @staticmethod
    def output_penalty(n_outputs):
        """The L2 penalty's coupling of the identified outputs (1 x 1): the identity."""
        return np.eye(1)

    @staticmethod
    def identified_hessian(state):
        """``(d, u)`` with the Hessian per unit weight in the identified logits ``diag(d) - u u^T``.

        One logit: ``d = p (1 - p)`` and no rank-one part (``u`` is None).
        """
        return state, None

    @staticmethod
    def residual_error(Z, delta):
        """Error of ``dl/dz`` per unit weight from logit errors ``delta``: ``p (1 - p) delta``."""
        return BinaryCrossEntropy.curvature(Z) * delta

    @staticmethod
    def log_proba(Z):
        """Log-probabilities (negative, positive) for sample-major logits ``Z`` (m, 1)."""
        z = np.asarray(Z, dtype=np.float64)[:, 0]
        log_p1 = -softplus(-z)
        log_p0 = -softplus(z)
        return np.column_stack([log_p0, log_p1])

    @staticmethod
    def proba(Z):
        """Probabilities (negative, positive) for sample-major logits ``Z`` (m, 1).

        ``sigmoid(-z)`` and ``sigmoid(z)`` (scipy's ``expit``, each accurate in
        its own tail: no ``1 - p`` cancellation).
        """
        z = np.asarray(Z, dtype=np.float64)[:, 0]
        out = np.empty((z.shape[0], 2))
        expit(z, out=out[:, 1])
        expit(-z, out=out[:, 0])
        return out


class MultinomialCrossEntropy:
    """Softmax cross-entropy on K logits per sample.

    With ``lse_i = ln sum_k exp(z_ki)`` and ``q_ki = exp(z_ki - lse_i)``::

        l_i = -sum_k A_ki ln q_ki = (sum_k A_ki) * lse_i - sum_k A_ki z_ki

    with derivative ``dl_i/dz_ki = (sum_l A_li) q_ki - A_ki``. The Hessian of
    ``l_i`` in ``z_i`` is ``(sum_k A_ki)(diag(q_i) - q_i q_i^T)``, bounded by
    ``(sum_k A_ki) / 2`` times the identity (Böhning, 1992).

    Arrays are class-major, shape (K, m): reductions over the classes then run
    across K long contiguous rows, several times faster than along a short
    last axis of length K.
    """

    curvature_bound = 0.5

    #: Absolute rounding of a sample's loss, in eps per unit weight, beyond what
    #: its logits' errors cause: ln of the sum of exponentials, which is at least
    #: 1 and rounded to eps, is off by up to eps even where the loss is far smaller
    #: (a well-classified sample).
    value_rounding = 1.0

    @staticmethod
    def n_outputs(n_classes):
        """Number of logits per sample: one per class."""
        return n_classes

    @staticmethod
    def loss_gradient(Z, A, total_weight, work=None):
        """As :meth:`BinaryCrossEntropy.loss_gradient`, with ``Z`` and ``A`` of shape (K, m)."""
        m = Z.shape[1]
        zmax, sumexp = _scratch(work, 2, m)
        # Shifted log-sum-exp: no overflow for any finite logits. Written as
        # l_i = w_i ln(sum_k exp(z_ki - m_i)) + sum_k A_ki (m_i - z_ki), a sum of
        # non-negative terms, so large logits cause no cancellation. ln of the
        # rounded sum carries up to eps per unit weight (value_rounding).
        Z.max(axis=0, out=zmax)
        Z -= zmax
        loss = -float(np.vdot(A, Z))
        np.exp(Z, out=Z)
        Z.sum(axis=0, out=sumexp)
        np.log(sumexp, out=zmax)
        loss += float(total_weight @ zmax)
        np.divide(total_weight, sumexp, out=sumexp)
        Z *= sumexp
        Z -= A
        return loss, Z

    @staticmethod
    def residual(Z, A):
        """``dl_i/dz_ki = (sum_l A_li) q_ki - A_ki`` alone (no loss value), shape (K, m)."""
        return MultinomialCrossEntropy.probabilities(Z) * A.sum(axis=0) - A

    @staticmethod
    def margins(Z, target):
        """Margin of the target class: its logit minus the largest other logit, ``Z`` (K, m)."""
        columns = np.arange(Z.shape[1])
        own = Z[target, columns]
        others = Z.copy()
        others[target, columns] = -np.inf
        return own - others.max(axis=0)

    @staticmethod
    def probabilities(Z):
        """Class probabilities ``q`` (softmax over the classes) for ``Z`` of shape (K, m)."""
        q = np.exp(Z - Z.max(axis=0))
        q /= q.sum(axis=0)
        return q

    @staticmethod
    def curvature(Z):
        """Diagonal of the Hessian per unit weight, ``q_k (1 - q_k)``, for ``Z`` of shape (K, m)."""
        q = MultinomialCrossEntropy.probabilities(Z)
        return q * (1.0 - q)

    @staticmethod
    def hessian_state(Z):
        """What :meth:`hessian_product` needs of the logits ``Z`` (K, m): the probabilities."""
        return MultinomialCrossEntropy.probabilities(Z)

    @staticmethod
    def hessian_diagonal(q):
        """The diagonal of the Hessian in the logits per unit weight: ``q (1 - q)``, (K, m)."""
        return q * (1.0 - q)

    @staticmethod
    def hessian_product(q, V):
        """``(diag(q_i) - q_i q_i^T) v_i`` per sample: the Hessian per unit weight times ``V``."""
        out = q * V
        out -= q * out.sum(axis=0)
        return out

    @staticmethod
    def identified_outputs(n_outputs):
        """The outputs whose parameters the data identify: classes 1 .. K - 1, relative to class 0.

        The loss depends on the logits only through their differences (adding
        one vector to every class's parameters changes nothing), so the data
        identify ``theta_k - theta_0``: the reference-class parametrisation of
        statsmodels' ``MNLogit``. Its derivatives in ``theta_k - theta_0`` are
        the full ones of the classes ``k >= 1``.
        """
        return slice(1, n_outputs)

    @staticmethod
    def output_penalty(n_outputs):
        """The L2 penalty's coupling of the identified outputs: ``I - 1 1^T / K``, (K - 1) square.

        The penalty ``(alpha / 2) sum_k ||W_k||^2`` is least, for given
        differences ``delta_k = W_k - W_0``, at the centred ``W_k = delta_k -
        mean(delta)`` (which a penalised fit reaches): ``(alpha / 2) delta^T
        (I - 1 1^T / K) delta`` over ``k >= 1`` (with ``delta_0 = 0``).
        """
        k = n_outputs - 1
        return np.eye(k) - 1.0 / n_outputs

    @staticmethod
    def identified_hessian(q):
        """``(d, u)`` with the Hessian per unit weight in the identified logits ``diag(d) - u u^T``.

        For classes ``k, l >= 1``: ``q_k (delta_kl - q_l)``, so ``d = u = q[1:]``.
        """
        return q[1:], q[1:]

    @staticmethod
    def residual_error(Z, delta):
        """Error of ``dl/dz_k`` per unit weight from logit errors up to ``delta`` (K, m).

        ``dq_k = q_k ((1 - q_k) dz_k - sum_{l != k} q_l dz_l)``: the class's own
        error and those of the others, through the normalisation. Rounding
        errors of different logits are independent, so their typical size is
        taken, ``q_k sqrt(((1 - q_k) delta_k)^2 + sum_{l != k} (q_l delta_l)^2)``
        (adding them as if aligned overstated the measured error up to 600
        times).
        """
        q = MultinomialCrossEntropy.probabilities(Z)
        qd2 = (q * delta) ** 2
        others = np.maximum(qd2.sum(axis=0) - qd2, 0.0)
        return q * np.sqrt(((1.0 - q) * delta) ** 2 + others)

    @staticmethod
    def log_proba(Z):
        """Log-softmax of sample-major logits ``Z`` of shape (m, K)."""
        Z = np.asarray(Z, dtype=np.float64)
        zmax = Z.max(axis=1, keepdims=True)
        shifted = Z - zmax
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    @staticmethod
    def proba(Z):
        """Softmax of sample-major logits ``Z`` of shape (m, K)."""
        Z = np.asarray(Z, dtype=np.float64)
        q = np.exp(Z - Z.max(axis=1, keepdims=True))
        q /= q.sum(axis=1, keepdims=True)
        return q
