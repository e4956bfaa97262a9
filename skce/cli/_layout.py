"""What several files hold, merged: the column layout and the fitted preprocessing.

Step 2 of fitting several files (:mod:`skce.cli._files`), on the client.
:func:`merge_summaries` checks the per-file summaries of
:mod:`skce.cli._parts` against each other (the same columns in every file, a
column numeric in every file or text in every file, no missing value, one kind
of label) and merges them into a :class:`_Layout`: the columns, the union of
the categories, the classes and their counts per file, and the moments of all
rows (the spreads by the parallel-variance formula of Chan, Golub and
LeVeque). :func:`fitted_preprocessing` makes the one-file pipeline and fits
its preprocessing to the layout: a ``StandardScaler`` with the moments of all
rows and a ``OneHotEncoder`` with the union of the categories, exactly as the
one-file pipeline would have fitted them on the files joined.

numpy and scikit-learn are imported when these functions run; dask is not.
"""

import warnings
from dataclasses import dataclass

from ._data import check_distinct_share, make_pipeline
from ._output import MissingDependencyError, UsageError

#: ColumnTransformer's default ``sparse_threshold``, which the one-file pipeline uses.
_SPARSE_THRESHOLD = 0.3


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

    pipeline = make_pipeline(layout.numeric, layout.categorical, estimator, impute=False)
    preprocess = pipeline.named_steps["preprocess"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preprocess.fit(layout_rows(layout))
    if layout.numeric:
        scaler = preprocess.named_transformers_["num"].named_steps["scale"]
        scaler.mean_ = np.asarray(layout.mean, dtype=np.float64)
        scaler.var_ = np.asarray(layout.var, dtype=np.float64)
        scaler.scale_ = _scale(scaler.mean_, scaler.var_, layout.n_rows)
        scaler.n_samples_seen_ = np.int64(layout.n_rows)
    preprocess.sparse_output_ = layout.sparse
    return pipeline


def layout_rows(layout):
    """A small frame of the layout's columns with every category, to fit the preprocessing on."""
    from ._rebuild import layout_frame

    return layout_frame(layout.numeric, layout.categorical, layout.categories)
