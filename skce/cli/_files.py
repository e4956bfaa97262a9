"""The data source of ``skce fit`` for a directory or glob of CSV or Parquet files.

:class:`FilesOnCluster` reads and fits them on a dask cluster.

Each file is one block of rows and stays on the cluster's workers: the client
sees per-file summaries and small partial sums, never the rows. The steps are
those of the one-file ``skce fit``, done blockwise:

1. every file is summarised where it is read: its columns, which columns are
   numeric, their count, mean and spread, the categories of the others, the
   target's labels and their counts, and the first problem (a missing or
   infinite value, a text value in a numeric column) with its file and row;
2. the client merges the summaries (the spreads by the parallel-variance
   formula of Chan, Golub and LeVeque) into the fitted
   preprocessing: a ``StandardScaler`` with the moments of all rows and a
   ``OneHotEncoder`` with the union of the categories, exactly as the one-file
   pipeline would have fitted them on the files joined;
3. the workers turn their files into feature blocks (dense, or CSR where the
   one-file pipeline's ``ColumnTransformer`` would output sparse data, see
   ``_Layout.sparse``) and keep them (``Client.persist``; workers spill
   to disk what does not fit their memory), with the labels and each row's
   cross-validation fold;
4. cross-validation (the loop of :mod:`skce.cli._crossval`, one fit at a
   time) fits the estimator on the dask array with sample weight 0
   on the held-out fold, which is the fit on the other folds: the objective
   normalises by the weight total, so rows of weight 0 do not change it;
   every metric is summed blockwise (counts of a confusion matrix, sums of
   cross-entropy), except ROC AUC, which ranks the held-out rows and so
   gathers one score and one label per held-out row on the client;
5. the final fit uses every row, and the model file is the one-file format.

Folds are stratified as ``StratifiedKFold`` stratifies (they are other
folds): the rows of each class are dealt to the folds in turn across the
files (starting at a random fold per class, in a random order within a
file), so every fold has the same share of each class, to one row.

dask, distributed (and pyarrow for Parquet) are imported when this runs.
"""

import contextlib
import gc
import glob
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from ._data import (
    _numeric,
    as_text,
    check_decimal_comma,
    check_distinct_share,
    check_mostly_numeric,
    features,
    read_csv,
    split_columns,
    target,
)
from ._modelfile import MODEL_SUFFIX, default_model_path
from ._output import (
    CLIError,
    MissingDependencyError,
    UsageError,
    first_line,
    one_line,
)
from ._sources import DataSource

#: File kinds by suffix.
_KINDS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_GLOB_CHARACTERS = set("*?[")
#: ColumnTransformer's default ``sparse_threshold``, which the one-file pipeline uses.
_SPARSE_THRESHOLD = 0.3


def is_several_files(spec):
    """Whether the DATA argument names a directory or a glob pattern (not one file)."""
    path = Path(spec)
    if path.is_dir():
        return True
    return not path.exists() and bool(_GLOB_CHARACTERS & set(str(spec)))


def find_files(spec):
    """The data files of a directory or glob pattern, sorted, and their kind.

    Raises
    ------
    UsageError
        If nothing matches, or the files mix CSV and Parquet, or a match has
        another suffix.
    """
    path = Path(spec)
    if path.is_file():
        if path.suffix.lower() not in _KINDS:
            raise UsageError(f"{path} is neither .csv nor .parquet")
        return [path], _KINDS[path.suffix.lower()]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _KINDS and p.is_file())
        where = f"directory {path}"
        if not files:
            raise UsageError(f"{where} has no .csv or .parquet files")
    elif not _GLOB_CHARACTERS & set(str(spec)):
        raise UsageError(f"data file not found: {spec}")
    else:
        files = sorted(Path(p) for p in glob.glob(str(spec)) if Path(p).is_file())
        where = f"pattern {spec!r}"
        if not files:
            raise UsageError(f"no file matches {where}")
        others = [p for p in files if p.suffix.lower() not in _KINDS]
        if others:
            raise UsageError(
                f"{where} matches {others[0]}, which is neither .csv nor .parquet; "
                "narrow the pattern"
            )
    kinds = {_KINDS[p.suffix.lower()] for p in files}
    if len(kinds) > 1:
        raise UsageError(f"{where} has both CSV and Parquet files; use one kind")
    return files, kinds.pop()


def _import_cluster():
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "fitting several files needs dask and distributed: pip install 'skce[cli,dask]'"
        ) from None


def read_part(path, kind, options=None):
    """One file as a frame of text values (numbers as they are in Parquet).

    A CSV file is read as :func:`~skce.cli._data.read_csv` reads one, with
    ``options`` (``sep``, ``encoding``, ``decimal``); a Parquet file keeps its
    numeric columns' numbers, and the other columns become text, so that the
    column typing of the one-file path applies.
    """
    if kind == "csv":
        return read_csv(path, **(options or {}))
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise MissingDependencyError(
            "reading Parquet files needs pyarrow: pip install 'skce[parquet]'"
        ) from None
    except Exception as exc:
        raise UsageError(f"cannot read {path} as Parquet: {one_line(first_line(exc))}") from None
    if frame.shape[0] == 0:
        raise UsageError(f"{path} has no data rows")
    frame.columns = [str(c) for c in frame.columns]
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind not in "iuf":
            frame[column] = pd.Series(as_text(values), index=frame.index, dtype=object)
    return frame


# -- 1. per-file summaries ------------------------------------------------------------
def _worker_path(path):
    """``path`` as the workers read it: absolute, as this process sees it.

    A worker's working directory is its own (a scheduler's workers are started
    elsewhere, often on other machines), so a relative path would name another
    file there, or none.
    """
    return os.path.abspath(path)


def _summarise(path, shown, kind, target_column, options, drop):
    """What the client needs of one file; a problem comes back as ``{"error": ...}``.

    ``path`` is the file's absolute path, read here on a worker; ``shown`` the
    name the user gave it, which the messages use.
    """
    import numpy as np

    if not os.path.isfile(path):
        return {
            "error": f"the dask worker that reads {shown} finds no file at {path}: the "
            "workers read the files at the paths this machine sees, so the files must be on "
            "storage that every worker mounts at the same path",
            "kind": "UsageError",
        }
    try:
        frame = read_part(path, kind, options)
        columns = list(frame.columns)
        if target_column not in columns:
            raise UsageError(
                f"{path} has no column {target_column!r}; its columns are "
                f"{', '.join(repr(c) for c in columns)}"
            )
        for column in drop:
            if column not in columns:
                raise UsageError(
                    f"--drop: {path} has no column {column!r}; its columns are "
                    f"{', '.join(repr(c) for c in columns)}"
                )
        columns = [c for c in columns if c not in drop]
        features_ = [c for c in columns if c != target_column]
        numeric, categorical = split_columns(frame, features_)
        # The identifier rule is the merged data's (merge_summaries): a column
        # unique in each file may repeat across them, and the reverse.
        for column in categorical:
            check_decimal_comma(frame[column], column, path)
            check_mostly_numeric(frame[column], column, path)
        X = features(frame, numeric, categorical, path)
        missing = {}
        for column in X.columns:
            mask = X[column].isna().to_numpy()
            if mask.any():
                missing[column] = (int(mask.argmax()) + 1, int(mask.sum()))
        moments = {}
        for column in numeric:
            values = X[column].to_numpy(dtype=np.float64)
            mean = values.mean()
            moments[column] = (mean, float(np.sum((values - mean) ** 2)))
        categories = {c: sorted(set(X[c].dropna().tolist())) for c in categorical}
        first_text = {}
        for column in categorical:  # for a message, if the column is numeric elsewhere
            values = frame[column]
            text = (values.notna() & _numeric(values).isna()).to_numpy()
            row = int(text.argmax())
            first_text[column] = (row + 1, values.iloc[row], int(text.sum()))
        labels = target(frame, target_column, path)
        classes, counts = np.unique(labels, return_counts=True)
        return {
            "columns": columns,
            "rows": len(frame),
            "numeric": numeric,
            "categorical": categorical,
            "moments": moments,
            "categories": categories,
            "first_text": first_text,
            "missing": missing,
            "target_numeric": labels.dtype.kind == "i",
            "classes": classes.tolist(),
            "counts": counts.tolist(),
        }
    except CLIError as exc:
        return {"error": str(exc).replace(path, shown), "kind": type(exc).__name__}


@dataclass
class _Layout:
    """The merged summaries: what the files hold, as the one-file fit would see it."""

    files: list
    kind: str
    columns: list  # feature columns in file order
    numeric: list
    categorical: list
    categories: list  # per categorical column
    mean: object
    var: object
    rows: list  # per file
    classes: list
    class_counts: list  # per file, per class
    target_numeric: bool
    options: dict  # how CSV files are read (sep, encoding, decimal)
    positive: object = None  # binary fits: the label fitted as 1, the other as 0

    @property
    def fit_classes(self):
        """The labels the estimator is fitted on: 0 and 1 for a binary fit, else the classes."""
        return [0, 1] if self.positive is not None else self.classes

    @property
    def n_rows(self):
        return sum(self.rows)

    @property
    def sparse(self):
        """Whether the feature blocks are CSR: ``ColumnTransformer``'s rule on the whole data.

        Each numeric column gives one non-zero a row, each categorical column
        one; CSR when that is under ``sparse_threshold`` (0.3) of the features,
        as the one-file pipeline decides. One decision for every file: the
        chunks of a dask array are all dense or all CSR.
        """
        width = len(self.numeric) + sum(len(c) for c in self.categories)
        return (len(self.numeric) + len(self.categorical)) / width < _SPARSE_THRESHOLD


def _raise_from(summary):
    if summary["kind"] == "MissingDependencyError":
        raise MissingDependencyError(summary["error"])
    raise UsageError(summary["error"])


def merge_summaries(files, kind, summaries, target_column, options):
    """The :class:`_Layout` of the files, or the first problem as a :class:`UsageError`."""
    import numpy as np

    for summary in summaries:
        if "error" in summary:
            _raise_from(summary)
    first = summaries[0]
    columns = [c for c in first["columns"] if c != target_column]
    if not columns:
        raise UsageError(f"{files[0]} has no feature columns besides the target {target_column!r}")
    for path, summary in zip(files[1:], summaries[1:], strict=True):
        if set(summary["columns"]) != set(first["columns"]):
            missing = sorted(set(first["columns"]) - set(summary["columns"]))
            extra = sorted(set(summary["columns"]) - set(first["columns"]))
            what = "lacks " + ", ".join(map(repr, missing)) if missing else ""
            what += (" and " if missing and extra else "") + (
                "has " + ", ".join(map(repr, extra)) if extra else ""
            )
            raise UsageError(
                f"{path} {what}: every file needs the columns of {files[0]} "
                f"({', '.join(map(repr, first['columns']))})"
            )
    for path, summary in zip(files, summaries, strict=True):
        if summary["missing"]:
            column, (row, count) = next(iter(summary["missing"].items()))
            raise UsageError(
                f"column {column!r} has a missing value in data row {row} of {path} "
                f"({count} missing in that column there); fill missing values first "
                "(--impute needs every file's values at once and is not available with "
                "several files)"
            )
    text_somewhere = {c for s in summaries for c in s["categorical"]}
    for column in sorted(text_somewhere):
        numeric_in = [p for p, s in zip(files, summaries, strict=True) if column in s["numeric"]]
        if numeric_in:
            path, summary = next(
                (p, s) for p, s in zip(files, summaries, strict=True) if column in s["categorical"]
            )
            row, value, count = summary["first_text"][column]
            raise UsageError(
                f"column {column!r} holds numbers in {numeric_in[0]} but text in {path} "
                f"({count} value{'s' if count > 1 else ''} that are not numbers, the first "
                f"{value!r} in data row {row}); a column must be numeric in every file or "
                "text in every file"
            )
    numeric = [c for c in columns if c in first["numeric"]]
    categorical = [c for c in columns if c in first["categorical"]]
    categories = [
        sorted(set().union(*(s["categories"][c] for s in summaries))) for c in categorical
    ]
    for column, values in zip(categorical, categories, strict=True):
        n_present = sum(s["rows"] - s["missing"].get(column, (0, 0))[1] for s in summaries)
        where = f"in the {len(files)} files" if len(files) > 1 else f"of {files[0]}"
        check_distinct_share(len(values), n_present, column, where)
    rows = [s["rows"] for s in summaries]
    if numeric:
        # Chan, Golub and LeVeque's parallel formulas: the mean of all rows is the
        # files' means weighted by their rows; the spread sum_i (x_i - mean)^2 is
        # the files' spreads plus each file's rows times (its mean - mean)^2.
        n = np.array(rows, dtype=np.float64)[:, None]
        means = np.array([[s["moments"][c][0] for c in numeric] for s in summaries])
        spreads = np.array([[s["moments"][c][1] for c in numeric] for s in summaries])
        mean = (n * means).sum(axis=0) / n.sum()
        var = (spreads + n * (means - mean) ** 2).sum(axis=0) / n.sum()
    else:
        mean = var = None
    kinds = [s["target_numeric"] for s in summaries]
    target_numeric = all(kinds)
    if any(kinds) and not target_numeric:
        raise UsageError(
            f"target column {target_column!r} holds numbers in {files[kinds.index(True)]} but "
            f"text in {files[kinds.index(False)]}; use one kind of label in every file"
        )
    labels = [_label(c, target_numeric) for s in summaries for c in s["classes"]]
    classes = sorted(set(labels))
    class_counts = []
    for s in summaries:
        counts = dict.fromkeys(classes, 0)
        for c, n_c in zip(s["classes"], s["counts"], strict=True):
            counts[_label(c, target_numeric)] += n_c
        class_counts.append([counts[c] for c in classes])
    return _Layout(
        files=files,
        kind=kind,
        columns=columns,
        numeric=numeric,
        categorical=categorical,
        categories=categories,
        mean=mean,
        var=var,
        rows=rows,
        classes=classes,
        class_counts=class_counts,
        target_numeric=target_numeric,
        options=options,
    )


def _label(value, numeric):
    return int(value) if numeric else str(value)


# -- 2. the fitted preprocessing -----------------------------------------------------
def _scale(mean, var, n):
    """``StandardScaler``'s ``scale_`` for these moments.

    The square root of the variance, and 1 for a column whose variance is
    within rounding error of zero (``var <= n eps var + (n eps mean)^2``, the
    bound scikit-learn's StandardScaler documents for constant features), so
    that a constant column is centred, not blown up. Only that bound: a column
    of tiny but varying values (a spread below ``10 eps``, say around 1e-20)
    keeps its tiny scale, as StandardScaler keeps it.
    """
    import numpy as np

    eps = np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * eps * mean) ** 2
    scale = np.sqrt(var)
    scale[constant] = 1.0
    return scale


def fitted_preprocessing(layout, estimator):
    """The one-file pipeline, its preprocessing fitted to the merged summaries."""
    import numpy as np

    from ._data import make_pipeline
    from ._rebuild import layout_frame

    pipeline = make_pipeline(layout.numeric, layout.categorical, estimator, impute=False)
    preprocess = pipeline.named_steps["preprocess"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preprocess.fit(layout_frame(layout.numeric, layout.categorical, layout.categories))
    if layout.numeric:
        scaler = preprocess.named_transformers_["num"].named_steps["scale"]
        scaler.mean_ = np.asarray(layout.mean, dtype=np.float64)
        scaler.var_ = np.asarray(layout.var, dtype=np.float64)
        scaler.scale_ = _scale(scaler.mean_, scaler.var_, layout.n_rows)
        scaler.n_samples_seen_ = np.int64(layout.n_rows)
    preprocess.sparse_output_ = layout.sparse
    return pipeline


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
    d = preprocess.transform(_layout_rows(layout)).shape[1]
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


def _layout_rows(layout):
    from ._rebuild import layout_frame

    return layout_frame(layout.numeric, layout.categorical, layout.categories)


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

    def _model(self, pipeline, params, sample_weight):
        """The pipeline's estimator with ``params``, fitted on the feature blocks."""
        from sklearn.base import clone

        X, y, _ = self.arrays
        model = clone(pipeline).set_params(**params).named_steps["model"]
        return model.fit(X, y, sample_weight=sample_weight)
