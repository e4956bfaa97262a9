"""Reading data: CSV files, numeric and categorical columns, features, targets.

Values are read as the text in the file, so the same text gives the same
feature at fit and at predict time. pandas and scikit-learn are imported inside
the functions: this module is imported by ``skce --help``.
"""

import codecs
import math
from pathlib import Path

from ._output import UsageError, first_line, import_pandas


def check_input_file(path, what):
    """``path`` as a Path, or :class:`UsageError` if it is missing or a directory."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{what} not found: {path}")
    if path.is_dir():
        raise UsageError(f"{what} {path} is a directory, not a file")
    return path


#: The delimiters that :func:`sniff_separator` tries, in order of preference.
SEPARATORS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 * 1024


def sniff_separator(path, encoding="utf-8-sig"):
    """The delimiter of a CSV file, judged from its first 64 KiB.

    A candidate of :data:`SEPARATORS` fits if it splits every complete line of
    the sample (as the ``csv`` module reads it, quotes included) into the same
    number of fields, more than one; of those, the one giving the most fields
    wins, ties going to the earlier candidate. With none fitting (a file of one
    column, or ragged lines) it is the comma, and the caller's errors suggest
    ``--sep``.
    """
    import csv
    import io

    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        sample = handle.read(_SNIFF_BYTES)
    if len(sample) == _SNIFF_BYTES:  # drop the last, perhaps incomplete, line
        sample = sample[: sample.rfind("\n") + 1] or sample
    best, width = ",", 1
    for separator in SEPARATORS:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample), delimiter=separator) if r]
        except csv.Error:
            continue
        widths = {len(r) for r in rows}
        if len(widths) == 1 and (n := widths.pop()) > width:
            best, width = separator, n
    return best


def _check_unique_names(names, path):
    """:class:`UsageError` naming a repeated column name and its positions (1-based)."""
    seen = {}
    for position, name in enumerate(names, start=1):
        seen.setdefault(name, []).append(position)
    repeated = {name: where for name, where in seen.items() if len(where) > 1}
    if repeated:
        name, where = next(iter(repeated.items()))
        positions = ", ".join(str(k) for k in where[:-1]) + f" and {where[-1]}"
        more = f" (and {len(repeated) - 1} more repeated names)" if len(repeated) > 1 else ""
        raise UsageError(
            f"{path} has the column name {name!r} more than once, in columns {positions}"
            f"{more}; rename them so that every column has its own name"
        )


def read_csv(path, *, sep=None, encoding=None, decimal=None):
    """Read a CSV file with a header row, every value as text.

    Values are kept as the strings in the file (missing values, such as empty
    fields or ``NA``, as NaN) so that the same text gives the same feature at
    fit and at predict time; :func:`split_columns` then decides which columns
    are numeric.

    Parameters
    ----------
    path : str or path-like
    sep : str, optional
        The delimiter; by default :func:`sniff_separator` finds it.
    encoding : str, optional
        The text encoding; by default UTF-8 (a byte-order mark is skipped).
    decimal : str, optional
        ``","`` reads numbers written with a decimal comma (``0,5``): such a
        value becomes ``0.5``. By default the decimal mark is the dot.

    Returns
    -------
    pandas.DataFrame
        The data, one row per record after the header. ``frame.attrs["sep"]``
        is the delimiter used.

    Raises
    ------
    UsageError
        If the file is missing, empty, not text in ``encoding``, not CSV, or
        has a column name more than once.
    """
    pd = import_pandas("reading CSV files")
    path = check_input_file(path, "data file")
    _refuse_parquet(path)
    if encoding is None or codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # UTF-8 that skips a byte-order mark
    try:
        sep = sep or sniff_separator(path, encoding)
        # The header is read apart, as it is (pandas would rename a second
        # 'x' to 'x.1' and read a column named 'NA' as missing).
        options = {"sep": sep, "encoding": encoding, "header": None, "dtype": str}
        try:
            header = pd.read_csv(path, nrows=1, keep_default_na=False, **options)
        except pd.errors.EmptyDataError:
            raise UsageError(f"{path} is empty: expected a CSV file with a header row") from None
        try:
            frame = pd.read_csv(path, skiprows=1, **options)
        except pd.errors.EmptyDataError:
            raise UsageError(f"{path} has a header but no data rows") from None
    except pd.errors.ParserError as exc:
        raise UsageError(
            f"cannot parse {path} as CSV separated by {sep!r}: {first_line(exc)} (pass --sep "
            "if the delimiter is another one)"
        ) from None
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding == "utf-8-sig" else encoding
        raise UsageError(
            f"{path} is not {name} text (it has the byte 0x{exc.object[exc.start]:02x}, which "
            f"{name} does not allow there); pass its encoding, e.g. --encoding latin-1 or "
            "--encoding cp1252"
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    names = [c or f"Unnamed: {k}" for k, c in enumerate(header.iloc[0].tolist())]
    _check_unique_names(names, path)
    for k in range(frame.shape[1], len(names)):  # rows shorter than the header
        frame[k] = float("nan")
    if frame.shape[1] != len(names):
        raise UsageError(
            f"cannot parse {path} as CSV separated by {sep!r}: the header has {len(names)} "
            f"fields and the data rows {frame.shape[1]} (pass --sep if the delimiter is "
            "another one)"
        )
    frame.columns = names
    if decimal == ",":
        for column in frame.columns:
            frame[column] = _decimal_comma_to_dot(frame[column])
    frame.attrs["sep"] = sep
    return frame


#: The first bytes of a Parquet file.
_PARQUET_MAGIC = b"PAR1"


def _refuse_parquet(path):
    """:class:`UsageError` for a Parquet file given where a CSV file is read.

    Read as text, it fails as an undecodable file, and the message would
    suggest another --encoding.
    """
    try:
        with open(path, "rb") as handle:
            start = handle.read(len(_PARQUET_MAGIC))
    except OSError:
        return  # the CSV reader reports it
    if start == _PARQUET_MAGIC:
        raise UsageError(
            f"{path} is a Parquet file, not a CSV file: 'skce fit' reads Parquet files given "
            "as a directory or a glob pattern, or with --scheduler; 'skce predict' reads CSV "
            "files only"
        )


def _decimal_comma_to_dot(series):
    """The values that are numbers once their one comma is a dot, with the dot."""
    if series.dtype.kind == "f":  # all missing
        return series
    dotted = series.str.replace(",", ".", regex=False)
    convert = series.str.count(",").eq(1) & _numeric(dotted).notna()
    return series.where(~convert, dotted)


def _numeric(series):
    """The column as float64 (NaN where missing or not a number).

    pandas decides what is a number; the values come from Python's ``float``,
    which rounds correctly: pandas 2's ``to_numeric`` parser is off by an ulp on
    about a third of 17-digit values, and then the same file would give a
    different model than the numbers in it.
    """
    pd = import_pandas()
    parsed = pd.to_numeric(series, errors="coerce").astype("float64")
    valid = parsed.notna() & series.notna()
    exact = parsed.copy()
    pairs = zip(series[valid], parsed[valid], strict=True)
    exact[valid] = [_exact_float(text, value) for text, value in pairs]
    return exact


def _exact_float(text, value):
    """``float(text)``, or pandas' ``value`` for a spelling Python does not read."""
    try:
        return float(text)
    except ValueError:
        return value


def _is_numeric(series):
    present = series.notna()
    return bool((_numeric(series).notna() == present).all())


def split_columns(frame, columns):
    """Numeric columns (every present value is a number) and the others."""
    numeric = [c for c in columns if _is_numeric(frame[c])]
    categorical = [c for c in columns if c not in set(numeric)]
    return numeric, categorical


#: A column with at least this share of numbers among its present values is
#: numeric data with a few stray values, not a categorical column.
MOSTLY_NUMERIC = 0.9
#: A text column with at least this many distinct values per present value, and
#: at least ``IDENTIFIER_MIN_ROWS`` present values, is an identifier or free text.
IDENTIFIER_SHARE = 0.9
IDENTIFIER_MIN_ROWS = 20


def _values_and_rows(series, mask, limit=3):
    """``'n/a?' (data row 7), '?' (data rows 41, 52)``: the first ``limit`` distinct values."""
    rows = {}
    for row, value in zip(mask.to_numpy().nonzero()[0], series[mask], strict=True):
        rows.setdefault(value, []).append(int(row) + 1)
    parts = []
    for value, where in list(rows.items())[:limit]:
        shown = ", ".join(str(r) for r in where[:3]) + (", ..." if len(where) > 3 else "")
        parts.append(f"{value!r} (data row{'s' if len(where) > 1 else ''} {shown})")
    if len(rows) > limit:
        parts.append(f"and {len(rows) - limit} other values")
    return ", ".join(parts)


def check_mostly_numeric(series, column, path):
    """:class:`UsageError` if a column is numbers except for a few values.

    Such a column would otherwise be one-hot encoded as text (one feature per
    distinct number), which is almost never what the file means: the few
    values are typos or codes for "unknown". The message names them and their
    data rows (1-based, the first row after the header is row 1).
    """
    present = series.notna()
    n_present = int(present.sum())
    stray = present & _numeric(series).isna()
    n_stray = int(stray.sum())
    if n_stray == 0 or n_stray > (1 - MOSTLY_NUMERIC) * n_present:
        return
    raise UsageError(
        f"column {column!r} of {path} holds numbers except for {n_stray} "
        f"value{'s' if n_stray > 1 else ''}: {_values_and_rows(series, stray)}; as it is, "
        "the column would be treated as text (one feature per distinct value): correct "
        "those values, or empty them and pass --impute, or pass --drop "
        f"{_shell_word(column)} to leave the column out"
    )


def check_not_identifier(series, column, path):
    """:class:`UsageError` if a text column has (nearly) one distinct value per row.

    An identifier or free text, one-hot encoded, gives one feature per row
    that no new row matches: the model learns the rows by heart.
    """
    present = series.dropna()
    check_distinct_share(int(present.nunique()), len(present), column, f"of {path}")


def check_distinct_share(distinct, n_present, column, where):
    """The rule of :func:`check_not_identifier` on counts: ``distinct`` values in
    ``n_present`` rows; ``where`` says which data (``"of train.csv"``)."""
    if n_present < IDENTIFIER_MIN_ROWS or distinct < IDENTIFIER_SHARE * n_present:
        return
    raise UsageError(
        f"column {column!r} {where} has {distinct} distinct values in {n_present} rows: "
        "an identifier or free text, which one-hot encoding would turn into a feature per "
        f"row that new rows do not match; pass --drop {_shell_word(column)} to leave it out"
    )


def check_decimal_comma(series, column, path):
    """:class:`UsageError` if a text column holds numbers written with a decimal comma."""
    present = series.dropna()
    if len(present) == 0 or not present.str.contains(",", regex=False).any():
        return
    if _numeric(_decimal_comma_to_dot(present)).notna().all():
        example = present[present.str.contains(",", regex=False)].iloc[0]
        raise UsageError(
            f"column {column!r} of {path} holds numbers written with a decimal comma (e.g. "
            f"{example!r}); pass --decimal , to read them as numbers"
        )


def check_feature_columns(frame, categorical, path):
    """The checks of a training file's text columns (see the functions above)."""
    for column in categorical:
        check_decimal_comma(frame[column], column, path)
        check_mostly_numeric(frame[column], column, path)
        check_not_identifier(frame[column], column, path)


def _shell_word(text):
    import shlex

    return shlex.quote(text)


def _missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def as_text(series):
    """A categorical column as an object array of str, NaN where missing.

    Missing is what pandas says is missing: NaN and None, and also ``pd.NA``
    and ``NaT`` of the nullable and datetime dtypes a Parquet file can hold,
    which would otherwise become the text ``'<NA>'`` or ``'NaT'``: a category,
    or a class of the target.
    """
    import numpy as np

    values = series.astype(object).to_numpy()
    missing = series.isna().to_numpy()
    return np.array(
        [np.nan if m else str(v) for v, m in zip(values, missing, strict=True)], dtype=object
    )


def features(frame, numeric, categorical, path):
    """The feature frame (columns in the order ``numeric + categorical``)."""
    pd = import_pandas()
    data = {}
    for column in numeric:
        values = _numeric(frame[column])
        bad = frame[column].notna() & values.isna()
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise UsageError(
                f"column {column!r} is numeric in the model, but data row {row + 1} of "
                f"{path} has {frame[column].iloc[row]!r}"
            )
        infinite = values.abs() == math.inf
        if infinite.any():
            row = int(infinite.to_numpy().argmax())
            raise UsageError(
                f"column {column!r} has an infinite value in data row {row + 1} of {path}; "
                "replace it with a finite number"
            )
        check_magnitude(values, column, path)
        data[column] = values.to_numpy()
    for column in categorical:
        data[column] = as_text(frame[column])
    return pd.DataFrame(data, columns=list(numeric) + list(categorical))


#: The largest magnitude of a number in a numeric column: squared (as
#: standardisation does) and summed over rows it stays within float64.
MAX_MAGNITUDE = 1e150


def check_magnitude(values, column, path):
    """:class:`UsageError` for a number whose square would overflow in standardisation.

    ``StandardScaler`` sums squared deviations from the mean; beyond about
    1e154 they overflow to infinity, the scale becomes meaningless and the fit
    fails (or, with values of both signs, never ends). The message names the
    column, the largest value and its data row.
    """
    import numpy as np

    magnitude = np.abs(values.to_numpy(dtype=float))
    if np.nanmax(magnitude, initial=0.0) <= MAX_MAGNITUDE:
        return
    row = int(np.nanargmax(magnitude))
    raise UsageError(
        f"column {column!r} has {values.iloc[row]:g} in data row {row + 1} of {path}: numbers "
        f"beyond ±{MAX_MAGNITUDE:g} overflow when the column is standardised (their squares "
        "exceed the range of floating-point numbers); rescale the column, e.g. use other units"
    )


def check_missing(X, path, hint):
    """:class:`UsageError` naming the column and data row of the first missing value."""
    import numpy as np

    mask = X.isna().to_numpy()
    if mask.any():
        row, col = np.argwhere(mask)[0]
        column = X.columns[col]
        count = int(mask[:, col].sum())
        raise UsageError(
            f"column {column!r} has a missing value in data row {row + 1} of {path} "
            f"({count} missing in that column); {hint}"
        )


def target(frame, column, path):
    """The target as an array of class labels (int when all are integers, else str)."""
    import numpy as np

    raw = frame[column]
    missing = raw.isna().to_numpy()
    if missing.any():
        row = int(missing.argmax())
        raise UsageError(
            f"target column {column!r} has a missing value in data row {row + 1} of {path} "
            f"({int(missing.sum())} missing); remove the rows without a target"
        )
    if _is_numeric(raw):
        values = _numeric(raw).to_numpy()
        not_integer = ~np.isfinite(values) | (values != np.round(values))
        if np.any(not_integer):
            bad = raw.iloc[int(np.argmax(not_integer))]
            raise UsageError(
                f"target column {column!r} holds numbers that are not integers (e.g. {bad!r}); "
                "a classifier needs class labels: integers or text"
            )
        if np.max(np.abs(values)) >= 2**53:
            raise UsageError(f"target column {column!r} has integers too large to be labels")
        return values.astype(np.int64)
    return as_text(raw)


def counts_text(classes, counts, limit=6):
    """``'a': 10 (50.0%), 'b': 10 (50.0%)``, at most ``limit`` classes."""
    total = sum(counts)
    parts = [f"{c!r}: {n} ({n / total:.1%})" for c, n in zip(classes, counts, strict=True)]
    if len(parts) > limit:
        parts = [*parts[:limit], f"... ({len(parts) - limit} more)"]
    return ", ".join(parts)


def make_pipeline(numeric, categorical, estimator, *, impute):
    """Preprocessing (ColumnTransformer) followed by ``estimator``, unfitted.

    The one pipeline that ``skce fit`` builds and a model file describes:
    numeric columns standardised, the others one-hot encoded, each optionally
    imputed first.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    transformers = []
    if numeric:
        steps = [("impute", SimpleImputer(strategy="median"))] if impute else []
        steps.append(("scale", StandardScaler()))
        transformers.append(("num", Pipeline(steps), list(numeric)))
    if categorical:
        steps = [("impute", SimpleImputer(strategy="most_frequent"))] if impute else []
        steps.append(("onehot", OneHotEncoder(handle_unknown="ignore")))
        transformers.append(("cat", Pipeline(steps), list(categorical)))
    return Pipeline([("preprocess", ColumnTransformer(transformers)), ("model", estimator)])
