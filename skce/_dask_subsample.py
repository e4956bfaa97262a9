"""The rows of a subsampled fit in a dask array: :class:`~skce.SubsampledCE`'s draws on chunks.

Imported only for dask input. The same steps as the in-memory rows of
:mod:`skce._subsample_memory`, chunk by chunk where the chunks are (on the
workers of a ``distributed`` client, or in this process with dask's local
schedulers): the per-class draws, the pilot's scores and the Poisson draw run
next to each chunk, and only the kept rows (and small summaries) reach the
client. Chunk ``c`` draws with :func:`skce._sampling.uniforms` of ``(seed,
stream, c)``, so a dask array of one chunk draws exactly the rows of the
in-memory fit with the same seed.

How often ``X`` is read (each chunk computed once per pass):

- ``"uniform"``: once, the draw.
- ``"optimal"`` and ``"local"``: three times: the pilot's draw; the scores
  at the pilot (one float per row, kept where they were computed); the draw
  (``"optimal"`` repeats the pilot's draw there, from the same seed, to pool
  its rows). The scale ``c`` of ``pi = min(1, c a)`` is solved between the
  last two from the kept scores: only the scores that may be capped (``a >=
  tau``, see :func:`skce._sampling.capped_scale`) and per-chunk sums come to
  the client, and the expected size is exactly ``sample_size``, as in memory.

The first pass over ``X`` also checks its chunks (NumPy or CSR, no NaN or
infinity) with the checks of skce's dask fits. Besides: ``y`` and the sample
weights are read once and kept where they are for every pass; a dask
DataFrame is read once more first, to count its partitions' rows (as in
skce's dask fits, with ``y`` and the weights when they are columns of the same
frame); and :meth:`~skce.SubsampledCE.covariance_matrix` reads the chunks that
hold kept rows once more (:func:`kept_rows`).
"""

import dask
import numpy as np
import scipy.sparse as sp

from . import _sampling
from ._dask import ChunkedData, _chunk_summary, _rows_like, as_dask_arrays, check_whole_rows
from ._dask_chunks import _delayed_chunks

__all__ = ["ChunkedRows", "kept_rows"]


def _known_rows(X):
    """``X`` checked as skce's dask fits check it, with row chunks of known size."""
    X = check_whole_rows(X)
    if any(np.isnan(c) for c in X.chunks[0]):
        # Global row positions (subsample_indices_) need every chunk's first row.
        raise ValueError(
            "X has chunks of unknown size (NaN in X.chunks, as from a dask DataFrame's "
            "values); call X.compute_chunk_sizes() first."
        )
    return X


class ChunkedRows:
    """The rows of a dask ``X`` with their labels and weights; the draws over its chunks.

    The interface of :class:`skce._subsample_memory.InMemoryRows`. Reads ``y``
    and ``sample_weight`` (kept where they are for the draws), not ``X``.

    Parameters
    ----------
    X : dask.array.Array or dask DataFrame of shape (n, d)
        Chunked by rows only; chunks are NumPy arrays or CSR matrices.
    y : dask.array.Array, dask Series or array-like of shape (n,)
    sample_weight : dask.array.Array, dask Series, array-like of shape (n,) or None
    seed : int
        The seed of every draw (with the draw's stream and the chunk's index).
    """

    def __init__(self, X, y, sample_weight, seed):
        X, y, sample_weight, self.feature_names = as_dask_arrays(X, y, sample_weight)
        X = _known_rows(X)
        self.n_rows, self.n_features = X.shape
        if self.n_rows == 0 or self.n_features == 0:
            raise ValueError(f"X has shape {X.shape}: at least one row and one column needed.")
        if y is None:
            raise ValueError("y is required: the class labels of X's rows.")
        small = [_rows_like(y, X, "y")]
        if sample_weight is not None:
            small.append(_rows_like(sample_weight, X, "sample_weight"))
        # Labels and weights are 1 / d of X: kept where they are for every pass.
        small = dask.persist(*small)
        self._x = X
        self._y = _delayed_chunks(small[:1])[0]
        self._w = _delayed_chunks(small[1:])[0] if sample_weight is not None else None
        self._offsets = np.cumsum((0, *X.chunks[0]))
        self.seed = seed
        self.sparse = None  # known after the first pass over X
        self._summarise(dask.compute(*[_labels_task(y, w) for y, w in self._labels_weights()]))

    def _labels_weights(self):
        w = self._w if self._w is not None else [None] * len(self._y)
        return zip(self._y, w, strict=True)

    def _summarise(self, parts):
        from sklearn.utils.multiclass import check_classification_targets

        if not all(p["finite"] for p in parts):
            raise ValueError("Input sample_weight contains NaN or infinity.")
        if any(p["negative"] for p in parts):
            raise ValueError("Negative values in data passed to `sample_weight`.")
        classes = np.unique(np.concatenate([p["labels"] for p in parts]))
        check_classification_targets(classes)
        counts = np.zeros(classes.shape[0], dtype=np.int64)
        totals = np.zeros(classes.shape[0])
        for p in parts:
            codes = np.searchsorted(classes, p["labels"])
            np.add.at(counts, codes, p["counts"])
            np.add.at(totals, codes, p["totals"])
        if not totals.sum() > 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        self.classes, self.counts, self.class_totals = classes, counts, totals
        low = min(p["low"] for p in parts)
        high = max(p["high"] for p in parts)
        self.weights_vary = self._w is not None and bool(high > low)

    # -- the passes over X -----------------------------------------------------
    def _pass(self, func, *args, extra=None):
        """``func(x, y, w, chunk, *args[, extra[chunk]])`` on every chunk, where it is."""
        chunks = _delayed_chunks([self._x])[0]
        tasks = []
        for c, (x, (y, w)) in enumerate(zip(chunks, self._labels_weights(), strict=True)):
            more = () if extra is None else (extra[c],)
            tasks.append(dask.delayed(func)(x, y, w, c, *args, *more))
        return tasks

    def by_class(self, rates, stream):
        """Poisson draw with probability ``rates[y_i]``, weighted by ``1 / pi`` (one pass)."""
        check = self.sparse is None
        tasks = self._pass(_by_class_chunk, self.classes, rates, self.seed, stream, check)
        parts = dask.compute(*tasks)
        if check:
            self._check_chunks([p[0] for p in parts])
        return self._sample([p[1] for p in parts])

    def _check_chunks(self, summaries):
        """Kinds of chunks and non-finite rows: the checks (and messages) of skce's dask fits."""
        checker = ChunkedData.__new__(ChunkedData)
        checker._offsets = self._offsets
        checker._summarise(summaries)
        self.sparse = checker.sparse

    def scored(self, method, pilot_model, class_weight, pilot, pilot_rates, size):
        """The draw of ``method`` ("optimal" or "local") from the scores at ``pilot_model``.

        As :meth:`skce._subsample_memory.InMemoryRows.scored`, in two passes
        over ``X``: the scores (kept where they are computed), then the draw.
        The scale ``c`` is solved exactly over every row's score.
        """
        if method == "optimal":
            model, standard = _sampling.score_parameters(pilot_model, pilot, class_weight)
            rule = ("optimal", pilot_model._loss, model, standard)
        else:
            rule = ("local", pilot_model.coef_, pilot_model.intercept_)
        scores = dask.persist(*self._pass(_scores_chunk, self.classes, rule))
        c = self._scale(scores, size)
        tasks = self._pass(
            _scored_chunk, self.classes, method, c, pilot_rates, self.seed, extra=scores
        )
        return self._sample(dask.compute(*tasks))

    def _scale(self, scores, size):
        """:func:`skce._sampling.poisson_scale` of all rows' scores, with only candidates gathered.

        The same steps: ``inf`` when ``size`` reaches the rows with a
        positive score; else ``tau`` from the sum of the scores, lowered
        until the candidates ``a >= tau`` hold every capped row.
        """
        stats = dask.compute(*[dask.delayed(_score_stats)(a) for a in scores])
        if size >= sum(s[1] for s in stats):
            return np.inf
        tau = sum(s[0] for s in stats) / size / 4.0
        while True:
            found = dask.compute(*[dask.delayed(_above)(a, tau) for a in scores])
            candidates = np.concatenate([f[0] for f in found])
            rest = sum(f[1] for f in found)
            everything = candidates.shape[0] == self.n_rows
            c = _sampling.capped_scale(candidates, size, rest, tau, everything=everything)
            if c is not None:
                return c
            tau = tau / 4.0 if any(f[2] for f in found) else 0.0

    def _sample(self, parts):
        """The :class:`~skce._sampling.Sample` of the kept rows of every chunk."""
        parts = [(c, p) for c, p in enumerate(parts) if p is not None]
        indices = np.concatenate([self._offsets[c] + p["indices"] for c, p in parts])
        blocks = [p["X"] for _, p in parts]
        if len(blocks) == 1:
            X = blocks[0]
        elif self.sparse:
            X = sp.vstack(blocks, format="csr")
        else:
            X = np.concatenate(blocks)
        multiplier = np.concatenate([p["multiplier"] for _, p in parts])
        s = 1.0 if self._w is None else np.concatenate([p["s"] for _, p in parts])
        return _sampling.Sample(
            indices=indices,
            X=X,
            y=np.concatenate([p["y"] for _, p in parts]),
            weight=s * multiplier,
            multiplier=multiplier,
            summary=_sampling.merge_summaries(
                [p["summary"] for _, p in parts if p["summary"] is not None]
            ),
        )


# -- on the workers: one chunk's labels, draws and scores ------------------------------
def _labels_task(y, w):
    return dask.delayed(_labels_chunk)(y, w)


def _labels_chunk(y, w):
    """A chunk's labels, their counts and weight totals, and what the checks need."""
    labels, codes = np.unique(np.asarray(y), return_inverse=True)
    codes = codes.ravel()
    counts = np.bincount(codes, minlength=labels.shape[0])
    if w is None:
        w_min = w_max = 1.0
        totals = counts.astype(np.float64)
        finite, negative = True, False
    else:
        w = np.asarray(w, dtype=np.float64)
        totals = np.bincount(codes, weights=w, minlength=labels.shape[0])
        finite, negative = bool(np.all(np.isfinite(w))), bool(np.any(w < 0))
        w_min = float(w.min()) if w.size else np.inf
        w_max = float(w.max()) if w.size else -np.inf
    return {
        "labels": labels,
        "counts": counts,
        "totals": totals,
        "finite": finite,
        "negative": negative,
        "low": w_min,
        "high": w_max,
    }


def _kept(x, y, w, kept, multiplier, pi):
    """The kept rows of a chunk, their positions in it and the summary of its ``pi``."""
    indices = np.flatnonzero(kept)
    return {
        "indices": indices,
        "X": x[indices],
        "y": np.asarray(y)[indices],
        "s": None if w is None else np.asarray(w, dtype=np.float64)[indices],
        "multiplier": np.asarray(multiplier, dtype=np.float64),
        "summary": _sampling.summary(pi) if pi.shape[0] else None,
    }


def _by_class_chunk(x, y, w, chunk, classes, rates, seed, stream, check):
    """One chunk's per-class draw (and, on the first pass over X, its check)."""
    summary = _chunk_summary((x, y)) if check else None
    if check and summary["kind"] not in ("dense", "csr"):
        return summary, None  # refused on the client, with the fits' message
    pi = rates[np.searchsorted(classes, np.asarray(y))]
    kept = _sampling.draw(pi, seed, stream, chunk=chunk)
    return summary, _kept(x, y, w, kept, 1.0 / pi[kept], pi)


def _scores_chunk(x, y, w, chunk, classes, rule):
    """One chunk's scores at the pilot, by blocks of rows as in memory."""
    codes = np.searchsorted(classes, np.asarray(y))
    w = None if w is None else np.asarray(w, dtype=np.float64)
    m = x.shape[0]
    out = np.empty(m)
    for start in range(0, m, _sampling.SCORE_BLOCK_ROWS):
        rows = slice(start, min(start + _sampling.SCORE_BLOCK_ROWS, m))
        if rule[0] == "optimal":
            _, loss, model, standard = rule
            s = None if w is None else w[rows]
            out[rows] = _sampling.gradient_scores(loss, x[rows], codes[rows], s, model, standard)
        else:
            out[rows] = _sampling.pilot_errors(x[rows], codes[rows], rule[1], rule[2])
    return out


def _score_stats(a):
    return float(a.sum()), int(np.count_nonzero(a > 0))


def _above(a, tau):
    """The candidates ``a >= tau``, the others' sum, and whether lowering ``tau`` adds any."""
    candidate = a >= tau
    lower = bool(np.any(~candidate & (a > 0) & (a >= tau / 4.0)))
    # summed as poisson_scale sums them (one chunk: the in-memory c to the last bit)
    return a[candidate], float(np.add.reduce(a, where=~candidate)), lower


def _scored_chunk(x, y, w, chunk, classes, method, c, pilot_rates, seed, a):
    """One chunk's draw from its scores ``a`` (and, for "optimal", the pilot's draw again)."""
    pi = _sampling.probabilities(a, c)
    kept = _sampling.draw(pi, seed, _sampling.SAMPLE_STREAM, chunk=chunk)
    if method == "local":
        return _kept(x, y, w, kept, _sampling.local_multiplier(a[kept], c), pi)
    # The pilot's rows pooled: kept if either draw kept them.
    pi0 = pilot_rates[np.searchsorted(classes, np.asarray(y))]
    kept |= _sampling.draw(pi0, seed, _sampling.PILOT_STREAM, chunk=chunk)
    pi = _sampling.union_probability(pi0, pi)
    return _kept(x, y, w, kept, 1.0 / pi[kept], pi)


# -- the kept rows again, for the covariance ---------------------------------------------
def kept_rows(X, y, sample_weight, idx, n_rows):
    """Rows ``idx`` (increasing positions) of a dask ``X`` with their labels and weights.

    For :meth:`~skce.SubsampledCE.covariance_matrix` on dask data: one more
    read of ``X``, of the chunks that hold kept rows only.

    Parameters
    ----------
    X : dask.array.Array or dask DataFrame of shape (n_rows, d)
    y : dask.array.Array, dask Series or array-like of shape (n_rows,)
    sample_weight : as ``y``, or None
    idx : ndarray of int
        Increasing positions of the rows to take.
    n_rows : int
        The number of rows of the fit's data.

    Returns
    -------
    X_kept : ndarray or CSR matrix of shape (len(idx), d)
    y_kept : ndarray of shape (len(idx),)
    sample_weight_kept : ndarray of shape (len(idx),) or None
    """
    X, y, sample_weight, _ = as_dask_arrays(X, y, sample_weight)
    X = _known_rows(X)
    if X.shape[0] != n_rows:
        raise ValueError(
            f"X has {X.shape[0]} rows, but the fit had {n_rows}: pass the data of the fit "
            "(all its rows), from which the kept rows are taken."
        )
    arrays = [X, _rows_like(y, X, "y")]
    if sample_weight is not None:
        arrays.append(_rows_like(sample_weight, X, "sample_weight"))
    offsets = np.cumsum((0, *X.chunks[0]))
    idx = np.asarray(idx, dtype=np.int64)
    bounds = np.searchsorted(idx, offsets)
    tasks = [
        dask.delayed(_take)(idx[bounds[c] : bounds[c + 1]] - offsets[c], *parts)
        for c, parts in enumerate(zip(*_delayed_chunks(arrays), strict=True))
        if bounds[c + 1] > bounds[c]  # chunks without kept rows are not read
    ]
    parts = dask.compute(*tasks)
    blocks = [p[0] for p in parts]
    if any(sp.issparse(b) for b in blocks):
        X_kept = sp.vstack(blocks, format="csr")
    else:
        X_kept = np.concatenate(blocks)
    y_kept = np.concatenate([p[1] for p in parts])
    w_kept = None if sample_weight is None else np.concatenate([p[2] for p in parts])
    return X_kept, y_kept, w_kept


def _take(rows, x, y, w=None):
    return (
        x[rows],
        np.asarray(y)[rows],
        None if w is None else np.asarray(w, dtype=np.float64)[rows],
    )
