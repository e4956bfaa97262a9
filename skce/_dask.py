"""Fitting and predicting where the rows of a dask array live.

Imported only when ``fit`` or a prediction method receives a
``dask.array.Array``: ``import skce`` and fits on NumPy or SciPy input never
import dask.

A fit on a dask array never gathers ``X`` on the client (see
:class:`ChunkedData` for where the chunks are kept, or not). ``X`` must be chunked
by rows only; each chunk (a NumPy array or a CSR matrix) becomes one
:class:`~skce._objective.LinearObjective` built next to it (on a worker of a
``distributed`` client, or in this process with dask's local schedulers),
with the weight normalisation ``1 / sum_i s_i`` taken over every row and no
penalty. :class:`ChunkedObjective` sums their partial values, gradients, column
moments and metrics, adds the penalty once, and implements the same declared
interface as a ``LinearObjective`` (:class:`skce._objective.Objective`), so the
fit plan, the coordinates and the solvers run unchanged on the client on the
parameter vector::

    J(theta) = sum_c J_c(theta) + (alpha / 2) ||W||^2

    J_c(theta) = sum_{i in chunk c} l(x_i W^T + b, A_i),   A_ki = s_i c_k t_ki / sum_i s_i

This module knows nothing of scikit-learn estimators beyond calling a fitted
one's own prediction methods on each chunk.
"""

import contextlib
import copy
import sys
import warnings
from concurrent.futures import CancelledError

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp
from dask.base import get_scheduler
from sklearn.utils.multiclass import check_classification_targets

from ._columns import merge_constant_values, merge_moments
from ._gram import top_eigenvalue, weighted_gram_matvec
from ._noise import l2_penalty_noise
from ._objective import LinearObjective, LinearParameters, l2_penalty, weighted_targets

__all__ = ["ChunkedData", "ChunkedObjective", "as_dask_arrays", "lazy_prediction"]

#: Rows with NaN or infinity named in an error message, at most.
_ROWS_NAMED = 10

_DTYPES = (np.float32, np.float64)


# -- where the chunks live ------------------------------------------------------
def _current_client(X):
    """The ``distributed`` client dask would compute ``X`` with, or None.

    None means one of dask's local schedulers (threads, processes,
    synchronous): the chunks are then held and evaluated in this process. The
    choice is dask's own (:func:`dask.base.get_scheduler`): a default client,
    ``dask.config.set(scheduler=client)``, or a local scheduler set in the
    configuration. If ``distributed`` has not been imported, no client exists.
    """
    if "distributed" not in sys.modules:
        return None
    from distributed import Client

    owner = getattr(get_scheduler(collections=[X]), "__self__", None)
    if not isinstance(owner, Client):
        return None
    if owner.status in ("closing", "closed"):
        raise RuntimeError(
            f"The dask client dask would use ({owner}) is closed, so the chunks of X "
            "cannot be computed. Create a new distributed.Client, or leave "
            "dask.config's 'scheduler' unset to fit with dask's local scheduler."
        )
    return owner


def _call(item, name, *args):
    """``item.name(*args)``: one method of a chunk's objective, where the chunk is."""
    return getattr(item, name)(*args)


class _LocalChunks:
    """Chunks held in this process (no ``distributed`` client), evaluated in turn."""

    def __init__(self, items):
        self.items = list(items)

    @classmethod
    def from_arrays(cls, *arrays):
        # One compute for all of them: shared parts of their graphs run once.
        # Unoptimised graphs keep the keys of shared tasks (X and y read from one
        # file, say), so that one compute runs them once.
        parts = dask.compute(*[list(a.to_delayed(optimize_graph=False).ravel()) for a in arrays])
        return cls(zip(*parts, strict=True))

    def map(self, func, *args):
        """``func(item, *args)`` for every chunk; the results stay chunks."""
        return _LocalChunks(func(item, *args) for item in self.items)

    def gather(self):
        return self.items


class _RecomputedChunks:
    """Chunks recomputed from ``X``'s graph (e.g. read from files) at every evaluation.

    Nothing is kept: ``map`` only composes tasks onto each chunk's recipe, and
    ``gather`` computes them with dask's current scheduler (a ``distributed``
    client or a local one), so every evaluation loads each chunk, builds its
    objective, evaluates it and lets it go. For data larger than the memory
    that would hold it.
    """

    def __init__(self, items):
        self.items = list(items)

    @classmethod
    def from_arrays(cls, *arrays):
        delayed = [list(a.to_delayed(optimize_graph=False).ravel()) for a in arrays]
        return cls(dask.delayed(_bundle, pure=True)(*parts) for parts in zip(*delayed, strict=True))

    def map(self, func, *args):
        return _RecomputedChunks(dask.delayed(func, pure=False)(item, *args) for item in self.items)

    def gather(self):
        return list(dask.compute(*self.items))


#: The values of the dask configuration key ``skce.chunks``: keep the chunks in
#: memory where they are (the default) or recompute them at every evaluation.
CHUNK_POLICIES = ("keep", "recompute")


def _chunk_policy():
    policy = dask.config.get("skce.chunks", "keep")
    if policy not in CHUNK_POLICIES:
        raise ValueError(
            f"dask.config 'skce.chunks' must be one of {list(CHUNK_POLICIES)}, got {policy!r}."
        )
    return policy


class _ClusterChunks:
    """Chunks held as futures on the workers of a ``distributed`` client.

    ``map`` sends the function and its small arguments to the chunks; only
    ``gather`` brings results (small partials) to the client.
    """

    def __init__(self, client, futures):
        self.client = client
        self.futures = futures

    @classmethod
    def from_arrays(cls, client, *arrays):
        # One compute for all of them: shared parts of their graphs (y derived
        # from X, say) are one set of tasks, not two with the same keys.
        parts = [list(a.to_delayed(optimize_graph=False).ravel()) for a in arrays]
        flat = client.compute([d for part in parts for d in part])
        n = len(parts[0])
        futures = [flat[i * n : (i + 1) * n] for i in range(len(parts))]
        return cls(client, client.map(_bundle, *futures, pure=False))

    def map(self, func, *args):
        n = len(self.futures)
        repeated = [[arg] * n for arg in args]
        with _cluster_errors():
            futures = self.client.map(func, self.futures, *repeated, pure=False)
        return _ClusterChunks(self.client, futures)

    def gather(self):
        with _cluster_errors():
            return self.client.gather(self.futures)


@contextlib.contextmanager
def _cluster_errors():
    """One clear error when the client, its scheduler or every worker is gone.

    A single lost worker is not an error: the scheduler recomputes its chunks.
    """
    from distributed.client import ClosedClientError

    try:
        yield
    except (OSError, CancelledError, ClosedClientError) as error:
        raise RuntimeError(
            f"The fit lost its dask cluster ({type(error).__name__}: {error}). The chunks "
            "of X live on the cluster's workers; start the fit again with a working "
            "distributed.Client."
        ) from error


def _attribute(item, name):
    return getattr(item, name)


def _bundle(*parts):
    return parts


# -- input checks ---------------------------------------------------------------
def check_rows_chunked(X):
    """``X`` as a 2-d dask array chunked by rows only, float32 or float64.

    Raises ValueError with what to change otherwise, also for row chunks of
    unknown size: a fit needs to know where every chunk's rows start. Other
    dtypes are cast to float64 chunk by chunk (lazily).
    """
    X = check_whole_rows(X)
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "X has chunks of unknown size (NaN in X.chunks, as from a dask DataFrame's "
            "values); call X.compute_chunk_sizes() first."
        )
    return X


def check_whole_rows(X):
    """``X`` as a 2-d dask array whose chunks hold whole rows, float32 or float64.

    As :func:`check_rows_chunked`, but the row chunks may be of unknown size:
    a prediction maps over the chunks and needs no row counts.
    """
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-dimensional dask array X, got {X.ndim} dimension(s).")
    columns = X.chunks[1]
    if len(columns) != 1:
        raise ValueError(
            f"X is chunked by columns ({len(columns)} column chunks of {list(columns)} "
            "columns): skce needs each chunk to hold whole rows. Rechunk by rows only, "
            "e.g. X = X.rechunk({1: -1}) (one column chunk; choose the row chunks so that "
            "one chunk fits a worker's memory)."
        )
    if X.dtype not in _DTYPES:
        X = X.astype(np.float64)
    return X


def _is_frame(v):
    frame = sys.modules.get("dask.dataframe")
    return frame is not None and isinstance(v, (frame.DataFrame, frame.Series))


def feature_names(frame):
    """Column names of a dask DataFrame as ``feature_names_in_``, or None.

    As scikit-learn treats a pandas DataFrame: names only if every column name
    is a string; a mix of strings and other names is an error.
    """
    columns = list(frame.columns)
    strings = [isinstance(c, str) for c in columns]
    if all(strings):
        return np.asarray(columns, dtype=object)
    if any(strings):
        raise TypeError(
            "Feature names are only supported if every column name of the dask DataFrame "
            f"is a string; got {sorted({type(c).__name__ for c in columns})}. Convert them, "
            "e.g. X.columns = X.columns.astype(str)."
        )
    return None


def _frame_rows(*frames):
    """Dask DataFrames or Series as dask arrays with known row chunks (one per partition).

    A fit splits every evaluation by rows and must know where the chunks
    start, so each partition's rows are counted: one pass over the data (e.g.
    reading its files), for all the frames in one ``dask.compute``, so that
    frames from the same source (``X = df[features]``, ``y = df["label"]``)
    read it once.
    """
    counts = dask.compute(*[f.map_partitions(len) for f in frames])
    return [
        f.to_dask_array(lengths=[int(n) for n in c]) for f, c in zip(frames, counts, strict=True)
    ]


def _check_not_series(X):
    if X.ndim != 2:
        raise ValueError(
            "X is a dask Series: pass a dask DataFrame (X.to_frame()) or a 2-d dask array."
        )


def as_dask_arrays(X, y=None, sample_weight=None):
    """``(X, y, sample_weight, feature_names)`` with dask DataFrames/Series as dask arrays.

    Arrays and NumPy input pass through; ``feature_names`` comes from a dask
    DataFrame ``X`` (None otherwise).
    """
    names = None
    if _is_frame(X):
        _check_not_series(X)
        names = feature_names(X)
    values = [X, y, sample_weight]
    frames = [k for k, v in enumerate(values) if _is_frame(v)]
    for k, array in zip(frames, _frame_rows(*[values[k] for k in frames]), strict=True):
        values[k] = array
    X, y, sample_weight = values
    return X, y, sample_weight, names


def _rows_like(v, X, name):
    """``v`` (y or sample_weight) as a 1-d dask array with X's row chunks."""
    n = X.shape[0]
    if isinstance(v, da.Array):
        if v.ndim != 1:
            raise ValueError(f"{name} must be 1-dimensional, got shape {v.shape}.")
        if v.shape[0] != n:
            raise ValueError(f"{name} has {v.shape[0]} entries but X has {n} rows.")
        if v.chunks[0] != X.chunks[0]:
            raise ValueError(
                f"{name} and X are chunked differently: X's row chunks are "
                f"{X.chunks[0]}, {name}'s are {v.chunks[0]}. Each chunk of {name} "
                f"must hold the same rows as a chunk of X: {name} = "
                f"{name}.rechunk(X.chunks[0])."
            )
        return v
    array = np.asarray(v)
    if name == "sample_weight" and array.ndim == 0:
        array = np.full(n, float(array))
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) like X's rows, got {array.shape}.")
    # Split (not copied) into X's row chunks.
    return da.from_array(array, chunks=(X.chunks[0],))


def _chunk_summary(part):
    """What the client needs to know about one chunk before the objective is built.

    Labels and their weight totals, the weight sum, the non-finite rows of X,
    and problems with the weights, in one pass over the chunk.
    """
    x, y, w = part
    y = np.asarray(y)
    labels, codes = np.unique(y, return_inverse=True)
    if w is None:
        w = np.ones(y.shape[0])
    w = np.asarray(w, dtype=np.float64)
    if sp.issparse(x):
        kind = "csr" if x.format == "csr" else x.format
        bad_entries = np.flatnonzero(~np.isfinite(x.data)) if kind == "csr" else []
        bad = np.unique(np.searchsorted(x.indptr, bad_entries, side="right") - 1)
    else:
        kind = "dense" if isinstance(x, np.ndarray) else type(x).__name__
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1)) if kind == "dense" else []
    return {
        "kind": kind,
        "labels": labels,
        "totals": np.bincount(codes.ravel(), weights=w, minlength=labels.shape[0]),
        "weight_sum": float(w.sum()),
        "n_bad": len(bad),
        "bad_rows": np.asarray(bad[:_ROWS_NAMED], dtype=np.int64),
        "weights_finite": bool(np.all(np.isfinite(w))),
        "weights_negative": bool(np.any(w < 0)),
    }


def _chunk_objective(part, loss, classes, class_weight, label_smoothing, weight_total, intercept):
    """One chunk's objective (no penalty), built where the chunk is."""
    x, y, w = part
    codes = np.searchsorted(classes, np.asarray(y))
    w = np.ones(codes.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    if isinstance(x, np.ndarray) and not x.flags.aligned:
        # Chunks can arrive unaligned from a worker's transfer; BLAS products on
        # them were measured 5-20x slower (issue 14). A copy of the chunk only.
        x = np.require(x, requirements=["A"])
    A = weighted_targets(
        codes, classes.shape[0], w, class_weight, label_smoothing, weight_total=weight_total
    )
    return LinearObjective(loss, x, A, alpha=0.0, fit_intercept=intercept)


class ChunkedData:
    """The rows of a dask array ``X`` with its labels and weights, where they live.

    Checks the layout, brings the chunks together with their labels and weights
    (as futures on the workers of a ``distributed`` client, or in this process;
    or, with the dask configuration ``skce.chunks = "recompute"``, as recipes
    computed again at every evaluation),
    and in one pass over them finds the classes, the weight total of each class
    and any non-finite rows. Nothing of ``X`` comes to the client.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked by rows only; chunks are NumPy arrays or CSR matrices.
    y : dask.array.Array or array-like of shape (n_samples,)
        Class labels; a dask array must have X's row chunks, a NumPy array is
        split to match them.
    sample_weight : dask.array.Array, array-like of shape (n_samples,), float or None
        As ``y``; ``None`` means all ones.
    """

    def __init__(self, X, y, sample_weight=None):
        X = check_rows_chunked(X)
        self.X = X
        self.n_samples, self.n_features = X.shape
        if self.n_samples == 0 or self.n_features == 0:
            raise ValueError(f"X has shape {X.shape}: at least one row and one column needed.")
        if y is None:
            raise ValueError("y is required: the class labels of X's rows.")
        arrays = [X, _rows_like(y, X, "y")]
        if sample_weight is not None:
            arrays.append(_rows_like(sample_weight, X, "sample_weight"))
        if 0 in X.chunks[0]:
            # Empty chunks (as left by a row filter) would make empty objectives.
            rows = tuple(c for c in X.chunks[0] if c)
            arrays = [a.rechunk({0: rows}) for a in arrays]
        # Row offsets of the chunks the fit works on (after dropping empty ones).
        self._offsets = np.cumsum((0, *arrays[0].chunks[0]))
        client = _current_client(X)
        if _chunk_policy() == "recompute":
            chunks = _RecomputedChunks.from_arrays(*arrays)
        elif client is None:
            chunks = _LocalChunks.from_arrays(*arrays)
        else:
            chunks = _ClusterChunks.from_arrays(client, *arrays)
        if sample_weight is None:
            chunks = chunks.map(_with_unit_weights)
        self._chunks = chunks
        self._summarise(chunks.map(_chunk_summary).gather())

    def _summarise(self, summaries):
        kinds = {s["kind"] for s in summaries}
        if not kinds <= {"dense", "csr"}:
            raise ValueError(
                f"The chunks of X must be NumPy arrays or CSR matrices, got {sorted(kinds)}; "
                "e.g. X.map_blocks(scipy.sparse.csr_matrix) for sparse chunks."
            )
        if len(kinds) > 1:
            raise ValueError("The chunks of X mix NumPy arrays and CSR matrices: use one kind.")
        self.sparse = kinds == {"csr"}
        self._check_finite(summaries)
        if not all(s["weights_finite"] for s in summaries):
            raise ValueError("Input sample_weight contains NaN or infinity.")
        if any(s["weights_negative"] for s in summaries):
            raise ValueError("Negative values in data passed to `sample_weight`.")
        self.weight_total = sum(s["weight_sum"] for s in summaries)
        if not self.weight_total > 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        classes = np.unique(np.concatenate([s["labels"] for s in summaries]))
        check_classification_targets(classes)
        totals = np.zeros(classes.shape[0])
        for s in summaries:
            np.add.at(totals, np.searchsorted(classes, s["labels"]), s["totals"])
        self.classes = classes
        self.class_totals = totals

    def _check_finite(self, summaries):
        n_bad = sum(s["n_bad"] for s in summaries)
        if n_bad == 0:
            return
        named = []
        for c, s in enumerate(summaries):
            named.extend(int(self._offsets[c] + r) for r in s["bad_rows"])
        named = named[:_ROWS_NAMED]
        more = f" (the first {len(named)} shown)" if n_bad > len(named) else ""
        raise ValueError(
            f"Input X contains NaN or infinity in {n_bad} row(s){more}: rows "
            f"{named}. Remove or impute those rows (e.g. with "
            "dask.array.isfinite(X).all(axis=1) as a row mask)."
        )

    def objective(self, loss, class_weight, label_smoothing, alpha, fit_intercept):
        """The :class:`ChunkedObjective`; each chunk's objective is built where it is."""
        objectives = self._chunks.map(
            _chunk_objective,
            loss,
            self.classes,
            np.asarray(class_weight, dtype=np.float64),
            float(label_smoothing),
            self.weight_total,
            bool(fit_intercept),
        )
        # The chunk objectives hold the chunks now; drop the (X, y, s) bundles.
        self._chunks = None
        return ChunkedObjective(
            objectives,
            loss,
            n_samples=self.n_samples,
            n_features=self.n_features,
            n_outputs=loss.n_outputs(self.classes.shape[0]),
            alpha=alpha,
            fit_intercept=fit_intercept,
            sparse=self.sparse,
            dtype=self.X.dtype,
        )


def _with_unit_weights(part):
    x, y = part
    return x, y, None


# -- the objective --------------------------------------------------------------
class ChunkedObjective(LinearParameters):
    """The sum of per-chunk :class:`~skce._objective.LinearObjective` partials.

    Every evaluation is one map over the chunks, where they live, and a sum of
    their small results on the client (in a fixed order, so a fit is
    repeatable); the penalty ``(alpha / 2) ||W||^2`` is added once, here. The
    metrics and moments are exact sums over every row (the fit plan takes row
    samples of data in memory only).

    Parameters
    ----------
    chunks : _LocalChunks or _ClusterChunks
        One ``LinearObjective`` per chunk, with ``alpha = 0`` and the weights
        normalised over every row.
    loss : object
        The loss of the chunk objectives.
    n_samples, n_features, n_outputs : int
    alpha : float
    fit_intercept : bool
    sparse : bool
        Whether the chunks are CSR matrices.
    dtype : numpy dtype
        X's dtype (float32 or float64).
    """

    def __init__(
        self, chunks, loss, *, n_samples, n_features, n_outputs, alpha, fit_intercept, sparse, dtype
    ):
        self.chunks = chunks
        self.loss = loss
        self.n_samples = int(n_samples)
        self.n_features = int(n_features)
        self.n_outputs = int(n_outputs)
        self.alpha = float(alpha)
        self.fit_intercept = bool(fit_intercept)
        self.n_params = self.n_outputs * (self.n_features + self.fit_intercept)
        self.sparse = bool(sparse)
        self.dtype = np.dtype(dtype)
        self._nnz = None

    def with_alpha(self, alpha):
        """The same objective with the penalty ``alpha`` (the chunks are shared)."""
        other = copy.copy(self)
        other.alpha = float(alpha)
        return other

    def _each(self, name, *args):
        """``name(*args)`` of every chunk's objective, gathered on the client."""
        return self.chunks.map(_call, name, *args).gather()

    @property
    def nnz(self):
        """Stored entries of X over every chunk (every entry for dense chunks)."""
        if self._nnz is None:
            self._nnz = int(sum(self.chunks.map(_attribute, "nnz").gather()))
        return self._nnz

    def value_and_grad(self, theta):
        """Return ``(J(theta), grad J(theta))``."""
        parts = self._each("value_and_grad", theta)
        f = 0.0
        grad = np.zeros_like(theta, dtype=np.float64)
        for part_f, part_g in parts:
            f += part_f
            grad += part_g
        W = self.unpack(theta)[0]
        penalty, penalty_grad = l2_penalty(self.alpha, W)
        self.unpack(grad)[0][...] += penalty_grad
        return f + penalty, grad

    def value(self, theta):
        """Return ``J(theta)``."""
        f = 0.0
        for part in self._each("value", theta):
            f += part
        return f + l2_penalty(self.alpha, self.unpack(theta)[0])[0]

    def rounding_noise(self, theta):
        """The sum of the chunks' rounding noise plus the penalty's (see LinearObjective)."""
        f_noise = 0.0
        g_noise = np.zeros_like(theta, dtype=np.float64)
        for part_f, part_g in self._each("rounding_noise", theta):
            f_noise += part_f
            g_noise += part_g
        eps = float(np.finfo(self.dtype).eps)
        penalty_f, penalty_g = l2_penalty_noise(self.alpha, self.unpack(theta)[0], eps)
        self.unpack(g_noise)[0][...] += penalty_g
        return f_noise + penalty_f, g_noise

    def separates(self, theta):
        """Whether ``theta`` classifies every weighted sample of every chunk strictly right."""
        return all(self._each("separates", theta))

    def column_moments(self):
        """Weighted column mean and spread over every row, merged from the chunks.

        :func:`~skce._objective.merge_moments` (the parallel-variance formula)
        over the chunks' own moments; without intercept the spreads are
        uncentred and simply add.
        """
        return merge_moments(self._each("column_moments"), centred=self.fit_intercept)

    def constant_values(self, columns):
        """:meth:`LinearObjective.constant_values` over every chunk (merged)."""
        return merge_constant_values(self._each("constant_values", columns))

    def standardized_gram(self, theta, mean, sigma, tau, floor):
        """:meth:`LinearObjective.standardized_gram` summed over the chunks (every row)."""
        return _sum(self._each("standardized_gram", theta, mean, sigma, tau, floor))

    def coupled_gram(self, theta, mean, sigma, tau, floor):
        """:meth:`LinearObjective.coupled_gram` summed over the chunks (every row)."""
        return _sum(self._each("coupled_gram", theta, mean, sigma, tau, floor))

    def lipschitz(self):
        """Lipschitz constant of ``grad J``, as :meth:`LinearObjective.lipschitz`.

        The largest eigenvalue of the weighted Gram matrix of ``[X, 1]`` by
        Lanczos (:func:`~skce._objective.top_eigenvalue`), each product with it
        one map over the chunks (:func:`~skce._gram.weighted_gram_matvec`) and a sum of
        ``d + 1`` numbers per chunk: the in-memory ``L`` (to Lanczos's
        tolerance), not the larger sum of the chunks' constants.
        """
        m = self.n_features + self.fit_intercept
        lam = top_eigenvalue(lambda v: _sum(self.chunks.map(weighted_gram_matvec, v).gather()), m)
        return self.loss.curvature_bound * max(lam, 0.0) + self.alpha


def _sum(parts):
    total = np.zeros_like(parts[0])
    for part in parts:
        total += part
    return total


# -- lazy predictions -----------------------------------------------------------
def _predict_chunk(x, estimator, method):
    return getattr(estimator, method)(x)


def lazy_prediction(estimator, X, method):
    """``estimator.method`` on every chunk of ``X``, as a lazy dask array.

    The fitted estimator's own in-memory method runs on each chunk (one piece of
    maths), so the results equal the in-memory ones. ``X`` must be chunked by
    rows only. Nothing is computed here: a dask DataFrame's partitions become
    chunks of unknown length (counting their rows would read every partition
    now), and so do the result's.
    """
    fitted = getattr(estimator, "feature_names_in_", None)
    if _is_frame(X):
        names = feature_names(X) if X.ndim == 2 else None
        if fitted is not None and (names is None or list(names) != list(fitted)):
            raise ValueError(
                "The dask DataFrame's columns are not the feature names seen in fit "
                f"({list(fitted)}); select them in that order: X[{list(fitted)}]."
            )
        _check_not_series(X)
        X = X.to_dask_array()
    elif fitted is not None:
        # What scikit-learn says of a NumPy array, said once here rather than by
        # every chunk's prediction on the workers.
        warnings.warn(
            f"X does not have valid feature names, but {type(estimator).__name__} was "
            "fitted with feature names",
            UserWarning,
            stacklevel=4,  # the caller of predict, predict_proba, ...
        )
    X = check_whole_rows(X)
    # The model as it is now: a later fit of the same estimator must not change
    # what this lazy array computes. Its chunks are NumPy or SciPy, without
    # names (checked above).
    estimator = copy.deepcopy(estimator)
    if fitted is not None:
        del estimator.feature_names_in_
    expected = getattr(estimator, "n_features_in_", X.shape[1])
    if X.shape[1] != expected:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{expected} features as input."
        )
    # One row tells the shape and dtype of the result (and checks the fit).
    sample = getattr(estimator, method)(np.zeros((1, X.shape[1]), dtype=X.dtype))
    if sample.ndim == 1:
        return X.map_blocks(
            _predict_chunk,
            estimator,
            method,
            drop_axis=1,
            dtype=sample.dtype,
            meta=np.empty((0,), dtype=sample.dtype),
        )
    return X.map_blocks(
        _predict_chunk,
        estimator,
        method,
        chunks=(X.chunks[0], (sample.shape[1],)),
        dtype=sample.dtype,
        meta=np.empty((0, 0), dtype=sample.dtype),
    )
