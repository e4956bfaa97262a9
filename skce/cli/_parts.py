"""The files of ``skce fit``'s DATA argument: finding them, reading one, summarising one.

Step 1 of fitting several files (:mod:`skce.cli._files`). :func:`find_files`
lists the CSV or Parquet files that a directory or glob pattern names. Each
file is one block of rows, read where it lives: a dask worker reads it
(:func:`read_part`) and summarises it (:func:`_summarise`): its columns, which
columns are numeric, their count, mean and spread, the categories of the
others, the target's labels and their counts, and the first problem (a missing
or infinite value, a text value in a numeric column) with its file and row.
The client sees only these summaries, never the rows.

Nothing here imports dask: the workers call these functions, which import
numpy and pandas (and pyarrow for Parquet) when they run.
"""

import glob
import os
from pathlib import Path

from ._data import (
    _numeric,
    as_text,
    check_decimal_comma,
    check_mostly_numeric,
    features,
    read_csv,
    split_columns,
    target,
)
from ._output import CLIError, MissingDependencyError, UsageError, first_line, one_line

#: File kinds by suffix.
_KINDS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_GLOB_CHARACTERS = set("*?[")


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
