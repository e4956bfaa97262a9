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
penalty. :class:`~skce._dask_objective.ChunkedObjective` sums their partial
values, gradients, column moments and metrics, adds the penalty once, and
implements the same declared interface as a ``LinearObjective``
(:class:`skce._objective.Objective`), so the fit plan, the coordinates and the
solvers run unchanged on the client on the parameter vector::

    J(theta) = sum_c J_c(theta) + (alpha / 2) ||W||^2

    J_c(theta) = sum_{i in chunk c} l(x_i W^T + b, A_i),   A_ki = s_i c_k t_ki / sum_i s_i

This module checks the input and brings the chunks together
(:mod:`skce._dask_chunks` holds them, :mod:`skce._dask_objective` sums over them,
:mod:`skce._dask_predict` predicts chunk by chunk); it knows nothing of
scikit-learn estimators.
"""

import sys

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import check_classification_targets

from ._dask_chunks import chunk_holder, current_client
from ._dask_objective import ChunkedObjective
from ._objective import LinearObjective, weighted_targets

__all__ = ["ChunkedData", "as_dask_arrays"]

#: Rows with NaN or infinity named in an error message, at most.
_ROWS_NAMED = 10


def check_whole_rows(X):
    """``X`` as a 2-d dask array whose chunks hold whole rows, float32 or float64.

    Raises ValueError with what to change otherwise. Other dtypes are cast to
    float64 chunk by chunk (lazily). The row chunks may be of unknown size.
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
    if X.dtype not in (np.float32, np.float64):
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


def _unpack(part):
    """One chunk's ``(x, y, w)``; ``w`` all ones where the fit has no sample weights."""
    x, y, *w = part
    y = np.asarray(y)
    w = np.asarray(w[0], dtype=np.float64) if w else np.ones(y.shape[0])
    return x, y, w


def _chunk_summary(part):
    """What the client needs to know about one chunk before the objective is built.

    Labels and their weight totals, the weight sum, the non-finite rows of X,
    and problems with the weights, in one pass over the chunk.
    """
    x, y, w = _unpack(part)
    labels, codes = np.unique(y, return_inverse=True)
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
    x, y, w = _unpack(part)
    codes = np.searchsorted(classes, y)
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
        X = check_whole_rows(X)
        if any(np.isnan(c) for c in X.chunks[0]):
            # A fit needs to know where every chunk's rows start.
            raise ValueError(
                "X has chunks of unknown size (NaN in X.chunks, as from a dask DataFrame's "
                "values); call X.compute_chunk_sizes() first."
            )
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
        self._chunks = chunk_holder(current_client(X), *arrays)
        self._summarise(self._chunks.map(_chunk_summary).gather())

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
