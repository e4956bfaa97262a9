"""The data source of ``skce fit`` for a directory or glob of CSV or Parquet files.

:class:`FilesOnCluster` reads and fits them on a dask cluster.

Each file is one block of rows and stays on the cluster's workers: the client
sees per-file summaries and small partial sums, never the rows. The steps are
those of the one-file ``skce fit``, done blockwise:

1. every file is summarised where it is read (:mod:`skce.cli._parts`): its
   columns, which columns are numeric, their count, mean and spread, the
   categories of the others, the target's labels and their counts, and the
   first problem (a missing or infinite value, a text value in a numeric
   column) with its file and row;
2. the client merges the summaries (:mod:`skce.cli._layout`; the spreads by
   the parallel-variance formula of Chan, Golub and LeVeque) into the fitted
   preprocessing: a ``StandardScaler`` with the moments of all rows and a
   ``OneHotEncoder`` with the union of the categories, exactly as the one-file
   pipeline would have fitted them on the files joined;
3. the workers turn their files into feature blocks (dense, or CSR where the
   one-file pipeline's ``ColumnTransformer`` would output sparse data, see
   ``_layout._Layout.sparse``) and keep them (``Client.persist``; workers spill
   to disk what does not fit their memory), with the labels and each row's
   cross-validation fold;
4. cross-validation (the loop of :mod:`skce.cli._crossval`, one fit at a
   time) fits the estimator on the dask array with sample weight 0
   on the held-out fold, which is the fit on the other folds: the objective
   normalises by the weight total, so rows of weight 0 do not change it;
   every metric is summed blockwise (counts of a confusion matrix, sums of
   cross-entropy), except ROC AUC, which ranks the held-out rows and so
   gathers one score and one label per held-out row on the client;
5. the final fit uses every row, and the model file is the one-file format;
   its coefficient table's sums are computed where the feature blocks are
   (:meth:`FilesOnCluster.fitted_rows` hands the estimator the dask arrays).

Folds are stratified as ``StratifiedKFold`` stratifies (they are other
folds): the rows of each class are dealt to the folds in turn across the
files (starting at a random fold per class, in a random order within a
file), so every fold has the same share of each class, to one row.

This module holds steps 3 to 5, the cluster and the data source; steps 1
and 2 are the modules named above. dask, distributed (and pyarrow for
Parquet) are imported when this runs.
"""

import contextlib
import gc
import os
import time
import warnings
from pathlib import Path

from ._data import features, target
from ._layout import fitted_preprocessing, layout_rows, merge_summaries
from ._modelfile import MODEL_SUFFIX, default_model_path
from ._output import MissingDependencyError, UsageError, first_line, one_line
from ._parts import _summarise, find_files, read_part
from ._sources import DataSource


def _import_cluster():
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "fitting several files needs dask and distributed: pip install 'skce[cli,dask]'"
        ) from None


def _worker_path(path):
    """``path`` as the workers read it: absolute, as this process sees it.

    A worker's working directory is its own (a scheduler's workers are started
    elsewhere, often on other machines), so a relative path would name another
    file there, or none.
    """
    return os.path.abspath(path)


# -- 3. feature blocks, labels and folds where the files are --------------------------
def fold_offsets(class_counts, folds, seed):
    """Per file and class, the fold its first row of that class is dealt to.

    The rows of class ``c`` are dealt to folds ``start_c, start_c + 1, ...``
    (mod ``folds``) in file order, so file ``p`` starts at ``start_c`` plus the
    class's rows in the files before it.
    """
    import numpy as np

    counts = np.asarray(class_counts, dtype=np.int64)  # (files, classes)
    start = np.random.default_rng(seed).integers(folds, size=counts.shape[1])
    before = np.cumsum(counts, axis=0) - counts
    return (start + before) % folds


def deal_folds(codes, offsets, folds, seed, part):
    """Fold of each row of one file: its class's rows dealt in turn, in a random order."""
    import numpy as np

    rng = np.random.default_rng([seed, part])
    fold = np.empty(codes.shape[0], dtype=np.int64)
    for c, offset in enumerate(offsets):
        rows = np.flatnonzero(codes == c)
        fold[rng.permutation(rows)] = (offset + np.arange(rows.shape[0])) % folds
    return fold


def _block(path, kind, layout, preprocess, target_column, offsets, folds, seed, part):
    """(X block, labels, folds) of one file, built where it is read.

    A binary target is 1 for ``layout.positive`` and 0 for the other label, as
    the one-file fit encodes it.
    """
    import numpy as np
    import scipy.sparse as sp

    frame = read_part(path, kind, layout.options)
    X = features(frame, layout.numeric, layout.categorical, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        block = preprocess.transform(X)
    if layout.sparse:
        block = sp.csr_matrix(block, dtype=np.float64)
    else:
        block = np.require(np.asarray(block, dtype=np.float64), requirements=["A", "C"])
    labels = target(frame, target_column, path)
    codes = np.searchsorted(np.asarray(layout.classes, dtype=labels.dtype), labels)
    if layout.positive is not None:
        labels = (labels == layout.positive).astype(np.int64)
    return block, labels, deal_folds(codes, offsets, folds, seed, part)


def _item(triple, k):
    return triple[k]


def chunked_arrays(client, layout, preprocess, target_column, folds, seed):
    """X, y and the fold of each row as dask arrays, one chunk per file, persisted."""
    import dask
    import dask.array as da
    import numpy as np
    import scipy.sparse as sp

    offsets = fold_offsets(layout.class_counts, folds, seed)
    d = preprocess.transform(layout_rows(layout)).shape[1]
    label_dtype = np.int64 if layout.target_numeric or layout.positive is not None else object
    xs, ys, fs = [], [], []
    for part, (path, n) in enumerate(zip(layout.files, layout.rows, strict=True)):
        triple = dask.delayed(_block, pure=True)(
            _worker_path(path),
            layout.kind,
            layout,
            preprocess,
            target_column,
            offsets[part],
            folds,
            seed,
            part,
        )
        meta = sp.csr_matrix((0, d)) if layout.sparse else np.empty((0, d))
        xs.append(
            da.from_delayed(dask.delayed(_item)(triple, 0), (n, d), dtype=np.float64, meta=meta)
        )
        ys.append(da.from_delayed(dask.delayed(_item)(triple, 1), (n,), dtype=label_dtype))
        fs.append(da.from_delayed(dask.delayed(_item)(triple, 2), (n,), dtype=np.int64))
    X, y, fold = (da.concatenate(a) for a in (xs, ys, fs))
    return client.persist([X, y, fold])


# -- 4. cross-validation with weights, metrics summed blockwise -------------------------
def _held_out_sums(x, y, fold, model, k, classes):
    """Confusion counts, cross-entropy sum and (for AUC) decision values of fold ``k``'s rows."""
    import numpy as np
    from sklearn.metrics import confusion_matrix

    from ..metrics import cross_entropy_loss

    rows = np.flatnonzero(fold == k)
    K = len(classes)
    if rows.shape[0] == 0:
        return np.zeros((K, K), dtype=np.int64), 0.0, np.empty(0), np.empty(0, dtype=bool)
    x, y = x[rows], y[rows]
    proba = model.predict_proba(x)
    labels = np.asarray(classes, dtype=y.dtype)
    predicted = labels[np.argmax(proba, axis=1)]
    counts = confusion_matrix(y, predicted, labels=labels)
    ce_sum = rows.shape[0] * cross_entropy_loss(y, proba, labels=labels)
    if K == 2:
        # Ranked by the decision function, as scikit-learn's "roc_auc" scorer
        # ranks: probabilities round to 1.0 beyond a logit of about 37, and ties
        # there would change the AUC.
        return counts, ce_sum, model.decision_function(x), y == labels[1]
    return counts, ce_sum, np.empty(0), np.empty(0, dtype=bool)


def _metrics_from_sums(counts, ce_sum, scores, positive):
    """The ``skce fit`` metrics (greater is better) from summed held-out quantities."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    n = counts.sum()
    support = counts.sum(axis=1)
    present = support > 0
    values = {
        "cross_entropy": -ce_sum / n,
        "accuracy": np.trace(counts) / n,
        "balanced_accuracy": float(np.mean(np.diag(counts)[present] / support[present])),
    }
    if counts.shape[0] == 2:
        tp = counts[1, 1]
        values["recall"] = tp / support[1] if support[1] else 0.0
        predicted = counts[:, 1].sum()
        values["precision"] = tp / predicted if predicted else 0.0
        values["roc_auc"] = float(roc_auc_score(positive, scores))
    return {name: float(v) for name, v in values.items()}


def _score_fold(client, arrays, model, k, classes):
    import dask
    import numpy as np

    X, y, fold = arrays
    parts = zip(*(a.to_delayed().ravel() for a in (X, y, fold)), strict=True)
    tasks = [dask.delayed(_held_out_sums)(x, yy, f, model, k, classes) for x, yy, f in parts]
    results = client.gather(client.compute(tasks))
    counts = sum(r[0] for r in results)
    ce_sum = sum(r[1] for r in results)
    scores = np.concatenate([r[2] for r in results])
    positive = np.concatenate([r[3] for r in results])
    return _metrics_from_sums(counts, ce_sum, scores, positive)


# -- the cluster ------------------------------------------------------------------------
@contextlib.contextmanager
def cluster(address, workers, out):
    """A ``distributed.Client``: to ``address``, or to a new local cluster of ``workers``."""
    _import_cluster()
    import logging

    from distributed import Client, LocalCluster

    if address:
        failure = None
        try:
            client = Client(address, set_as_default=True)
        except (OSError, TimeoutError) as exc:
            failure = UsageError(
                f"cannot reach a dask scheduler at {address!r}: {one_line(first_line(exc))}"
            )
        except ValueError as exc:  # distributed's parsing of the address
            failure = UsageError(
                f"--scheduler {address!r} is not a dask scheduler address "
                f"({one_line(first_line(exc))}); give one such as tcp://10.0.0.5:8786"
            )
        if failure is not None:
            # The half-built Client is garbage in a reference cycle. Its finaliser
            # stops its event loop under distributed's process-wide loop lock; if
            # the garbage collector ran it later inside another Client's start-up
            # (which holds that lock while its loop thread starts), that start-up
            # would wait 10 s and fail with a bare AssertionError (seen when
            # ``main`` runs twice in one process). Finalise it here, now.
            gc.collect()
            raise failure
        out.progress(f"connected to the dask scheduler at {address}")
        with client:
            yield client
        return
    out.progress(f"starting a local dask cluster: {workers} worker processes, 1 thread each")
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            worker_dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as local,
        Client(local, set_as_default=True) as client,
    ):
        out.progress(f"dask dashboard: {client.dashboard_link}")
        yield client


# -- the data source -----------------------------------------------------------------
class FilesOnCluster(DataSource):
    """A directory or glob of CSV or Parquet files, read and fitted on a dask cluster."""

    processes = "on the cluster"

    def __init__(self, args):
        super().__init__(args)
        if args.impute:
            raise UsageError(
                "--impute is not available with several files or --scheduler (it needs every "
                "file's values at once); fill missing values first"
            )
        self.files, self.kind = find_files(args.data)
        self.options = {"sep": args.sep, "encoding": args.encoding, "decimal": args.decimal}
        if self.kind == "parquet":
            given = [f"--{k}" for k, v in self.options.items() if v is not None and v != "."]
            if given:
                raise UsageError(f"{', '.join(given)} apply to CSV files, not to Parquet files")
            self.options = {}

    def inputs(self):
        return [("a training file", p) for p in self.files]

    def default_model_path(self):
        path = Path(self.args.data)
        if path.is_file():
            return default_model_path(path)
        if path.is_dir():
            return path.parent / (path.resolve().name + MODEL_SUFFIX)
        return self.files[0].parent / ("model" + MODEL_SUFFIX)

    @contextlib.contextmanager
    def session(self, out):
        args = self.args
        _import_cluster()
        if args.scheduler and getattr(args, "jobs_given", False):
            out.warning(
                f"-j/--jobs {args.jobs} is ignored with --scheduler: the cluster's workers do "
                "the work"
            )
        with cluster(args.scheduler, args.jobs, out) as self.client:
            yield

    def read(self, out):
        files, kind, args = self.files, self.kind, self.args
        out.progress(f"reading {len(files)} {kind.upper()} file{'s' if len(files) > 1 else ''}")
        how = (kind, args.target, self.options, list(args.drop))
        futures = [
            self.client.submit(_summarise, _worker_path(p), str(p), *how, pure=False) for p in files
        ]
        summaries = self.client.gather(futures)
        layout = merge_summaries(files, kind, summaries, args.target, self.options)
        self.layout = layout
        self.classes = layout.classes
        self.counts = [
            int(sum(c[k] for c in layout.class_counts)) for k in range(len(self.classes))
        ]
        self.columns, self.numeric = layout.columns, layout.numeric
        self.categorical = layout.categorical
        self.n_rows = layout.n_rows

    def described(self):
        n, kind = len(self.files), self.kind.upper()
        return f"{self.args.data}: {n} {kind} file{'s' if n > 1 else ''}, {self.n_rows} rows"

    def rows(self):
        n = len(self.files)
        return f"{self.n_rows} rows in {n} file{'s' if n > 1 else ''}"

    def training(self):
        return {"data": str(self.args.data), "n_rows": self.n_rows, "n_files": len(self.files)}

    def prepare(self, estimator, positive):
        self.layout.positive = positive
        pipeline = fitted_preprocessing(self.layout, estimator)
        args = self.args
        self.arrays = chunked_arrays(
            self.client,
            self.layout,
            pipeline.named_steps["preprocess"],
            args.target,
            args.cv,
            args.seed,
        )
        return pipeline

    def fit_and_score(self, pipeline, params, fold, metrics):
        # The fit on the other folds is the fit with weight 0 on this fold's
        # rows: the objective normalises by the weight total.
        start = time.perf_counter()
        model = self._model(pipeline, params, (self.arrays[2] != fold).astype("float64"))
        record = {"fit_time": time.perf_counter() - start}
        start = time.perf_counter()
        scores = _score_fold(self.client, self.arrays, model, fold, self.layout.fit_classes)
        record["score_time"] = time.perf_counter() - start
        record.update({f"test_{name}": scores[name] for name in metrics})
        return record

    def run(self, tasks):
        # One fit at a time: each is spread over the cluster's workers.
        for function, args, kwargs in tasks:
            yield function(*args, **kwargs)

    def fit(self, pipeline, params):
        from sklearn.pipeline import Pipeline

        model = self._model(pipeline, params, None)
        return Pipeline([("preprocess", pipeline.named_steps["preprocess"]), ("model", model)])

    def fitted_rows(self, pipeline):
        # The feature blocks stay on the workers: the coefficient table's sums
        # are computed there, chunk by chunk.
        X, y, _ = self.arrays
        return X, y, None

    def _model(self, pipeline, params, sample_weight):
        """The pipeline's estimator with ``params``, fitted on the feature blocks."""
        from sklearn.base import clone

        X, y, _ = self.arrays
        model = clone(pipeline).set_params(**params).named_steps["model"]
        return model.fit(X, y, sample_weight=sample_weight)
