"""Label-based evaluation by (weighted) cross-entropy.

:func:`cross_entropy_loss` computes the cross-entropy that
:class:`~skce.WeightedLogisticCE` and :class:`~skce.SoftmaxCE` minimise (without
the penalty), normalised in the same way: by the sum of the sample weights
only. With no evaluation weights it equals :func:`sklearn.metrics.log_loss`.

:data:`cross_entropy_score` and :func:`make_cross_entropy_scorer` turn it into a
scikit-learn scorer (greater is better) for ``cross_val_score``,
``cross_validate`` and ``GridSearchCV``. The scorer aligns the columns of
``predict_proba`` on the union of the estimator's ``classes_`` and the labels of
the evaluated data, so it gives a finite score on folds where the training or
the test part lacks a class.
"""

import copy

import numpy as np
import sklearn

# Public scikit-learn API only: a scorer is any callable
# ``scorer(estimator, X, y, sample_weight=None)``, and metadata routing asks it
# for ``get_metadata_routing()``, which a ``MetadataRequest`` answers.
from sklearn.utils.metadata_routing import UNCHANGED, MetadataRequest

from ._metric_inputs import (
    check_evaluation_weights,
    check_labels,
    check_sample_weight,
    check_y_prob,
    check_y_true,
    encode,
    sorted_unique,
)

__all__ = ["cross_entropy_loss", "cross_entropy_score", "make_cross_entropy_scorer"]


def cross_entropy_loss(
    y_true, y_prob, *, beta=1.0, class_weight=None, labels=None, sample_weight=None
):
    """Weighted cross-entropy of predicted probabilities, normalised by sample weights.

    For samples ``i`` with true label ``y_i``, predicted probability
    ``q_{i,y_i}`` of that label, sample weight ``s_i`` (default 1) and class
    weight ``c_k`` (default 1)::

        L = (1 / sum_i s_i) * sum_i s_i * c_{y_i} * (-ln q_{i,y_i})

    With ``beta`` (binary only) the class weights are ``c = 1`` for the negative
    label ``labels[0]`` and ``c = beta`` for the positive label ``labels[-1]``,
    that is, with ``y_i`` in {0, 1} and ``p_i`` the positive-class probability::

        L = (1 / sum_i s_i) * sum_i s_i * -[beta * y_i * ln p_i + (1 - y_i) * ln(1 - p_i)]

    This is the data term of the objective of :class:`~skce.WeightedLogisticCE`
    and :class:`~skce.SoftmaxCE`. The normalisation is by the sample weights
    only, never by ``beta`` or the class weights. With ``beta=1`` and
    ``class_weight=None`` the value equals :func:`sklearn.metrics.log_loss`.
    Probabilities are clipped to ``[eps, 1 - eps]`` (``eps`` the machine
    epsilon of their dtype), so exact zeros and ones give a large but finite
    loss. Lower is better.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.
    y_prob : array-like of shape (n_samples, n_labels) or (n_samples,)
        Predicted probabilities, one column per label in the order of
        ``labels``, as returned by ``predict_proba``; each row must sum to 1
        (within ``max(1e-6, sqrt(eps))``). For a binary problem it may be the
        1-D probability of the positive label ``labels[-1]``. float32 input is
        clipped with the float32 epsilon; other input is converted to float64.
    beta : float > 0, default=1.0
        Weight of the positive label ``labels[-1]`` of a binary problem. A
        value other than 1 with more than two labels raises a ``ValueError``.
    class_weight : dict or None, default=None
        Class weights ``{label: c_label}``, finite and >= 0; labels not in the
        dict get weight 1. Cannot be combined with ``beta``.
    labels : array-like of shape (n_labels,), default=None
        All class labels, in the column order of ``y_prob``. By default the
        sorted unique labels of ``y_true`` (the order of an estimator's
        ``classes_``). Needed when ``y_true`` lacks some class. Unlike
        :func:`sklearn.metrics.log_loss`, which sorts the labels it is given,
        the order given here is kept; with sorted labels both agree.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative, finite sample weights ``s_i``, not all zero.

    Returns
    -------
    loss : float
        The weighted mean cross-entropy (in nats), >= 0.

    Raises
    ------
    ValueError
        If the probabilities are outside [0, 1] or NaN, rows of a 2-D
        ``y_prob`` do not sum to 1, the lengths or shapes of the inputs do not
        match, the number of columns of ``y_prob`` is not the number of labels,
        ``y_true`` has labels that are not in ``labels``, there are fewer than
        two labels, ``labels`` has duplicates, ``sample_weight`` or the class
        weights are negative or not finite, the sample weights are all zero,
        ``beta`` is not a finite number > 0, ``beta != 1`` is used with more
        than two labels, or ``beta`` and ``class_weight`` are both given.

    See Also
    --------
    make_cross_entropy_scorer : A scorer for model selection built on this loss.
    sklearn.metrics.log_loss : The unweighted cross-entropy.

    Examples
    --------
    >>> from skce.metrics import cross_entropy_loss
    >>> y = ["ham", "spam", "spam", "ham"]
    >>> proba = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]]
    >>> round(cross_entropy_loss(y, proba), 3)
    0.299
    >>> round(cross_entropy_loss(y, [0.1, 0.8, 0.6, 0.3]), 3)  # P(spam) only
    0.299
    >>> round(cross_entropy_loss(y, proba, beta=2.0), 3)  # errors on "spam" cost twice
    0.482
    >>> round(cross_entropy_loss(y, proba, class_weight={"spam": 2.0}), 3)
    0.482
    """
    beta, class_weight = check_evaluation_weights(beta, class_weight)
    y = check_y_true(y_true)
    n_samples = y.shape[0]
    y_unique, y_inverse = sorted_unique(y, "y_true", return_inverse=True)
    labels = check_labels(labels, y_unique)
    codes = encode(y_unique, y_inverse.reshape(-1), labels)
    proba = check_y_prob(y_prob, n_samples, labels)
    sw = check_sample_weight(sample_weight, n_samples)

    n_labels = labels.shape[0]
    weights = None
    if beta != 1.0:
        if n_labels != 2:
            raise ValueError(
                f"beta is for binary problems, but there are {n_labels} labels "
                f"{labels.tolist()!r}; use class_weight for more than two classes."
            )
        weights = np.array([1.0, beta])
    elif class_weight is not None:
        known = set(labels.tolist())
        unknown = [label for label in class_weight if label not in known]
        if unknown:
            raise ValueError(
                f"class_weight has labels that are not in labels: {unknown!r}. "
                f"The labels are {labels.tolist()!r}."
            )
        weights = np.array([class_weight.get(label, 1.0) for label in labels.tolist()])

    # Probability of each sample's true label, clipped in the input's dtype.
    if proba.ndim == 1:
        q = np.where(codes == 1, proba, 1 - proba)
    else:
        q = proba[np.arange(n_samples), codes]
    eps = np.finfo(proba.dtype).eps
    q = np.clip(q, eps, 1 - eps).astype(np.float64)
    losses = -np.log(q)
    if weights is not None:
        losses = weights[codes] * losses
    if sw is None:
        return float(np.mean(losses))
    return float(np.dot(sw, losses) / np.sum(sw))


# -- the scorer ----------------------------------------------------------------
class _CrossEntropyScorer:
    """Scorer ``-cross_entropy_loss`` on class-aligned ``predict_proba``.

    A plain callable with scikit-learn's metadata-routing methods
    (``get_metadata_routing`` and ``set_score_request``), built on the public
    :class:`~sklearn.utils.metadata_routing.MetadataRequest` rather than on
    scikit-learn's private scorer base class.
    """

    def __init__(self, beta=1.0, class_weight=None):
        self._beta = beta
        self._class_weight = class_weight
        # sample_weight starts as "error if passed" (None), as for scikit-learn's
        # own scorers: routed weights must be requested, so that a weighted fit
        # cannot silently produce an unweighted score. The owner is the repr, which
        # the routing machinery prints in its error messages.
        self._score_request = MetadataRequest(owner=repr(self))
        self._score_request.score.add_request(param="sample_weight", alias=None)

    def __repr__(self):
        args = []
        if self._beta != 1.0:
            args.append(f"beta={self._beta!r}")
        if self._class_weight is not None:
            args.append(f"class_weight={self._class_weight!r}")
        return f"make_cross_entropy_scorer({', '.join(args)})"

    def get_metadata_routing(self):
        """Return the metadata this scorer requests (``sample_weight`` for ``score``).

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRequest
            A copy of the request, so that changing it does not change the scorer.
        """
        return copy.deepcopy(self._score_request)

    def set_score_request(self, *, sample_weight=UNCHANGED):
        """Request (or not) the ``sample_weight`` routed by a meta-estimator.

        Only available with ``sklearn.set_config(enable_metadata_routing=True)``.

        Parameters
        ----------
        sample_weight : bool, None or str, default=sklearn.utils.metadata_routing.UNCHANGED
            ``True``: pass the routed ``sample_weight`` to the scorer; ``False``:
            do not; ``None``: raise an error if it is passed; a string: receive
            the metadata of that name as ``sample_weight`` (an alias).

        Returns
        -------
        self : object
            The scorer, modified in place.
        """
        if not sklearn.get_config()["enable_metadata_routing"]:
            raise RuntimeError(
                "set_score_request is only available when metadata routing is enabled: "
                "call sklearn.set_config(enable_metadata_routing=True) first."
            )
        if sample_weight is not UNCHANGED:
            self._score_request.score.add_request(param="sample_weight", alias=sample_weight)
        return self

    def _weighs_classes(self):
        """Whether the score weighs some class more than another (skce's CV estimators ask)."""
        weights = {} if self._class_weight is None else self._class_weight
        return self._beta != 1.0 or any(value != 1 for value in weights.values())

    def _accept_sample_weight(self):
        # Hook of scikit-learn >= 1.7 (see skce/_compat.py): without metadata
        # routing, GridSearchCV.fit(sample_weight=...) forwards the weights to the
        # scorers that accept them, and asks every scorer of a dict this question.
        return True

    def __call__(self, estimator, X, y_true, sample_weight=None, **kwargs):
        """Return ``-cross_entropy_loss`` of ``estimator`` on ``(X, y_true)``.

        As documented for :data:`cross_entropy_score`; ``**kwargs`` is there so
        that unexpected routed metadata gives a clear error.
        """
        if kwargs:
            raise TypeError(
                f"{self!r} accepts only sample_weight as metadata, got {sorted(kwargs)}."
            )
        classes = getattr(estimator, "classes_", None)
        if classes is None or not hasattr(estimator, "predict_proba"):
            raise TypeError(
                f"{self!r} needs a fitted classifier with classes_ and predict_proba, "
                f"got {type(estimator).__name__}."
            )
        classes = np.asarray(classes)
        proba = np.asarray(estimator.predict_proba(X))
        if proba.ndim != 2 or proba.shape[1] != classes.shape[0]:
            raise ValueError(
                f"predict_proba returned shape {proba.shape}, expected one column per "
                f"class in classes_ ({classes.shape[0]})."
            )
        y = check_y_true(y_true)
        try:
            union = sorted(set(classes.tolist()) | set(sorted_unique(y, "y").tolist()))
        except TypeError:
            raise ValueError(
                f"The labels of y ({y.dtype}) cannot be compared with the estimator's "
                f"classes_ {classes.tolist()!r}."
            ) from None
        labels = np.asarray(union)
        position = {label: k for k, label in enumerate(union)}
        columns = [position[label] for label in classes.tolist()]
        dtype = np.float32 if proba.dtype == np.float32 else np.float64
        aligned = np.zeros((proba.shape[0], labels.shape[0]), dtype=dtype)
        aligned[:, columns] = proba  # labels the model never saw keep probability 0
        class_weight = self._class_weight
        if class_weight is not None:  # weights of classes absent from this fold are moot
            class_weight = {k: v for k, v in class_weight.items() if k in position}
        loss = cross_entropy_loss(
            y,
            aligned,
            sample_weight=sample_weight,
            labels=labels,
            beta=self._beta,
            class_weight=class_weight,
        )
        return -loss


def make_cross_entropy_scorer(*, beta=1.0, class_weight=None):
    """Make a scorer that returns minus the weighted cross-entropy.

    The scorer is called as ``scorer(estimator, X, y, sample_weight=None)`` and
    returns::

        -(1 / sum_i s_i) * sum_i s_i * c_{y_i} * (-ln q_{i,y_i})

    with ``q = estimator.predict_proba(X)``, that is ``-cross_entropy_loss(y, q,
    beta=beta, class_weight=class_weight, sample_weight=sample_weight)``
    (greater is better). It can be passed as ``scoring=`` to
    ``cross_val_score``, ``cross_validate`` and ``GridSearchCV``, alone or in a
    multi-metric dict.

    The columns of ``predict_proba`` are placed at the positions of
    ``estimator.classes_`` in the sorted union of ``classes_`` and the labels of
    ``y``. A label of ``y`` that the model never saw (its training fold lacked
    that class) thus gets probability 0, clipped to ``eps``: a large but finite
    loss. Classes missing from ``y`` simply have no samples. Hence every fold
    gets a finite score. Class weights of labels absent from both are ignored.

    Sample weights reach the scorer through scikit-learn's metadata routing:
    with ``sklearn.set_config(enable_metadata_routing=True)``, request them with
    ``scorer.set_score_request(sample_weight=True)`` (this modifies and returns
    the scorer, so make a fresh one rather than modifying the shared
    :data:`cross_entropy_score`).

    Parameters
    ----------
    beta : float > 0, default=1.0
        Weight of the positive class (the largest label) of a binary problem,
        as in :class:`~skce.WeightedLogisticCE`.
    class_weight : dict or None, default=None
        Class weights ``{label: c_label}`` (>= 0; missing labels get 1), as in
        :class:`~skce.SoftmaxCE`. Cannot be combined with ``beta``.

    Returns
    -------
    scorer : callable
        A scorer object ``scorer(estimator, X, y, sample_weight=None) -> float``.

    Raises
    ------
    ValueError
        If ``beta`` is not a finite number > 0, ``class_weight`` is not a dict
        of finite non-negative numbers, or both are given. Calling the scorer
        raises the errors of :func:`cross_entropy_loss`, e.g. when ``beta != 1``
        meets more than two labels.

    See Also
    --------
    cross_entropy_loss : The loss that the scorer negates.
    cross_entropy_score : The scorer with no evaluation weights.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skce import WeightedLogisticCE
    >>> from skce.metrics import make_cross_entropy_scorer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> scorer = make_cross_entropy_scorer(beta=2.0)
    >>> scorer
    make_cross_entropy_scorer(beta=2.0)
    >>> model = make_pipeline(StandardScaler(), WeightedLogisticCE(beta=2.0, alpha=1e-2))
    >>> scores = cross_val_score(model, X, y, cv=3, scoring=scorer)
    >>> bool(-0.5 < scores.mean() < 0)
    True
    """
    beta, class_weight = check_evaluation_weights(beta, class_weight)
    return _CrossEntropyScorer(beta=beta, class_weight=class_weight)


cross_entropy_score = make_cross_entropy_scorer()
cross_entropy_score.__doc__ = """Scorer: minus the cross-entropy of ``predict_proba``.

``cross_entropy_score(estimator, X, y, sample_weight=None)`` returns
``-cross_entropy_loss(y, estimator.predict_proba(X), sample_weight=sample_weight)``
(greater is better), with the columns of ``predict_proba`` aligned on the union
of ``estimator.classes_`` and the labels of ``y``::

    -(1 / sum_i s_i) * sum_i s_i * (-ln q_{i,y_i})

A label the model never saw counts as probability 0, clipped: a large finite
loss. Use it as ``scoring=cross_entropy_score``; it is
``make_cross_entropy_scorer()``. For metadata-routed sample weights, call
``make_cross_entropy_scorer().set_score_request(sample_weight=True)`` instead of
modifying this shared object.

Parameters
----------
estimator : fitted classifier
    With ``classes_`` and ``predict_proba`` (pipelines qualify).
X : {array-like, sparse matrix} of shape (n_samples, n_features)
    Evaluation data.
y : array-like of shape (n_samples,)
    True labels.
sample_weight : array-like of shape (n_samples,), default=None
    Sample weights ``s_i``.

Returns
-------
score : float
    Minus the mean cross-entropy; greater is better.

Raises
------
ValueError
    For invalid inputs, as :func:`cross_entropy_loss`.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from sklearn.model_selection import cross_val_score
>>> from skce import SoftmaxCE
>>> from skce.metrics import cross_entropy_score
>>> X, y = load_iris(return_X_y=True)
>>> scores = cross_val_score(SoftmaxCE(alpha=1e-2), X, y, cv=3, scoring=cross_entropy_score)
>>> bool(all(-1 < s < 0 for s in scores))
True
"""

__test__ = {"cross_entropy_score": cross_entropy_score.__doc__}
