"""The ``skce`` command line: ``skce demo``, ``skce fit`` and ``skce predict``.

Run ``skce --help`` (or ``python -m skce --help``) for the commands and
``docs/cli.md`` for the details. The entry point is :func:`main`, which
returns the exit status: 0 on success, 1 when something failed at run time
(a fit that failed, a model file that is not valid) and 2 for a usage error
(bad options, a missing file or column, a target the model cannot fit). Every
error is one line on stderr that starts with ``skce: error:``.

Fitted models are saved in a format of our own: a JSON document that holds the
column names, the target's classes and the fitted numbers of each step of the
pipeline. :func:`load_model` reads it with :func:`json.loads` (which builds only
dicts, lists, strings, numbers, booleans and ``None``), validates every field
and rebuilds the pipeline from a fixed set of known classes, so a model file
cannot make the loader import a module or call a function: a tampered file is
either refused or, at worst, predicts nonsense.
"""

import argparse
import contextlib
import json
import math
import os
import re
import sys
import time
import warnings
from pathlib import Path

from . import __version__

__all__ = ["BETA_GRID", "DEMO_DIGIT", "SavedModel", "load_model", "main", "read_csv"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

#: The β values that ``skce demo`` and ``skce fit --tune-beta`` compare.
BETA_GRID = (1.0, 2.0, 4.0, 8.0, 16.0, "balanced")
#: The positive class of ``skce demo``: this digit against the nine others.
DEMO_DIGIT = 8

MODEL_FORMAT = "skce-model"
MODEL_FORMAT_VERSION = 1
MODEL_SUFFIX = ".skce.json"
_MAX_MODEL_BYTES = 256 * 2**20
_SOLVERS = ("bb", "agd", "lbfgs", "gd")
_N_PROBE_ROWS = 12
_PROBE_RTOL = 1e-6


# -- errors and output ----------------------------------------------------------
class CLIError(Exception):
    """An error reported as one ``skce: error:`` line; ``exit_code`` is the status."""

    exit_code = EXIT_FAILURE


class UsageError(CLIError):
    """The user asked for something that cannot work (exit status 2)."""

    exit_code = EXIT_USAGE


class ModelFileError(CLIError):
    """A model file that is not a valid skce model (exit status 1)."""

    exit_code = EXIT_FAILURE


def _one_line(text):
    return " ".join(str(text).split("\n")).strip()


def _wrap(text, width=92):
    """Wrap a paragraph for the terminal, continuation lines indented."""
    import textwrap

    return textwrap.fill(text, width=width, subsequent_indent="    ", break_on_hyphens=False)


def _first_line(exc):
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


class _Output:
    """Results go to stdout; progress, notes and warnings to stderr unless quiet."""

    def __init__(self, quiet=False):
        self.quiet = quiet

    def result(self, text=""):
        print(text, flush=True)

    def info(self, text=""):
        if not self.quiet:
            print(text, flush=True)

    def progress(self, text):
        if not self.quiet:
            print(f"skce: {text}", file=sys.stderr, flush=True)

    def warning(self, text):
        if not self.quiet:
            print(f"skce: warning: {_one_line(text)}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _warnings_as_lines(out):
    """Show the warnings raised in this process as ``skce: warning:`` lines."""

    def show(message, category, filename, lineno, file=None, line=None):
        out.warning(f"{category.__name__}: {message}")

    with warnings.catch_warnings():
        if out.quiet:
            warnings.simplefilter("ignore")
        warnings.showwarning = show
        yield


class _ProgressStream:
    """Stand-in for ``sys.stderr`` while joblib runs the cross-validation fits.

    joblib (with ``verbose``) writes a ``[Parallel(...)]: Done  12 tasks ...``
    line per finished fit; this rewrites them as at most one ``skce:`` line per
    ``interval`` seconds, plus the last one. Other text passes through, so a
    future change of joblib's wording shows its own lines instead of nothing.
    """

    _DONE = re.compile(r"^\[Parallel\(.*?\)\]: Done\s+(\d+)")
    _OTHER = re.compile(r"^\[Parallel\(.*?\)\]: (Using backend|Batch computation)")

    def __init__(self, stream, total, label, interval=1.0):
        self._stream = stream
        self._total = total
        self._label = label
        self._interval = interval
        self._start = self._last = time.perf_counter()
        self._shown = 0
        self._buffer = ""

    def write(self, text):
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._handle(line)
        return len(text)

    def flush(self):
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def _handle(self, line):
        match = self._DONE.match(line)
        if match is None:
            if not self._OTHER.match(line):
                self._stream.write(line + "\n")
            return
        done = int(match.group(1))
        now = time.perf_counter()
        if done == self._shown:
            return
        if done >= self._total or now - self._last >= self._interval:
            self._last, self._shown = now, done
            self._stream.write(
                f"skce: {self._label}: {done}/{self._total} fits done ({now - self._start:.1f} s)\n"
            )
            self._stream.flush()


# -- argument types ---------------------------------------------------------------
def _beta(text):
    if text.strip().lower() == "balanced":
        return "balanced"
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number > 0 or 'balanced', got {text!r}")
    return value


def _alpha(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def _seed(text):
    value = _int_at_least(0)(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32 - 1], got {text!r}")
    return value


def _default_jobs():
    return max(1, min(2, os.cpu_count() or 1))


def _format_beta(beta):
    if isinstance(beta, str):
        return beta
    return f"{beta:g}"


# -- the command line parser ------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``skce: error:`` line (exit 2)."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _versions():
    from importlib import metadata

    parts = []
    for name in ("scikit-learn", "numpy", "scipy", "pandas"):
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name} not installed")
    python = ".".join(str(v) for v in sys.version_info[:3])
    return f"skce {__version__} ({', '.join(parts)}, Python {python})"


_MAIN_DESCRIPTION = """\
Linear classifiers trained by minimising (β-weighted) cross-entropy, from the
command line: tune β on an imbalanced example, fit a model on a CSV file with
cross-validated metrics, and predict with a saved model."""

_MAIN_EPILOG = """\
examples:
  skce demo                                  β-weighted logistic regression on digits
  skce fit train.csv --target churned        cross-validate, fit, save train.skce.json
  skce fit train.csv --target churned --tune-beta --impute
  skce fit iris.csv --target species --softmax
  skce predict train.skce.json new.csv --proba --out predictions.csv

exit status: 0 success, 1 run-time failure (fit failed, invalid model file),
2 usage error (bad option, missing file or column, unusable target)."""

_DEMO_DESCRIPTION = f"""\
Tune β of WeightedLogisticCE on an imbalanced problem that ships with
scikit-learn (no download): the 8x8 handwritten digits, "is it the digit {DEMO_DIGIT}?"
(about 10 % positives). A GridSearchCV over β in {{1, 2, 4, 8, 16, balanced}}
of StandardScaler + WeightedLogisticCE with stratified K-fold CV reports
cross-entropy, recall, precision and balanced accuracy per β, and refits the β
with the best balanced accuracy."""

_DEMO_EPILOG = """\
examples:
  skce demo
  skce demo --cv 10 --seed 3
  skce demo --quiet"""

_FIT_DESCRIPTION = """\
Fit a classifier on a CSV file (with a header row) and save it. Numeric
columns are standardised, other columns one-hot encoded (categories unseen in
training are encoded as all zeros at prediction). A binary target gets
WeightedLogisticCE (β weights the positive class, the larger label in sort
order); --softmax fits SoftmaxCE, which is required for more than two classes.
Prints stratified K-fold cross-validated cross-entropy and classification
metrics, then fits on all rows and saves the model as JSON."""

_FIT_EPILOG = """\
examples:
  skce fit train.csv --target label
  skce fit train.csv --target label --beta 4 --model model.skce.json
  skce fit train.csv --target label --tune-beta --cv 10
  skce fit train.csv --target label --impute      fill missing values
  skce fit iris.csv --target species --softmax"""

_PREDICT_DESCRIPTION = """\
Predict with a model saved by 'skce fit'. The CSV must have the model's feature
columns (other columns, such as the target, are ignored). Writes a CSV with one
column named after the target; --proba adds a column proba_<class> per class."""

_PREDICT_EPILOG = """\
examples:
  skce predict train.skce.json new.csv
  skce predict train.skce.json new.csv --proba --out predictions.csv"""


def build_parser():
    """Return the ``skce`` argument parser."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="skce",
        description=_MAIN_DESCRIPTION,
        epilog=_MAIN_EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=_versions())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def common(sub, *, cv=True):
        if cv:
            sub.add_argument(
                "--cv",
                type=_int_at_least(2),
                default=5,
                metavar="K",
                help="number of stratified cross-validation folds (default: 5)",
            )
            sub.add_argument(
                "--seed",
                type=_seed,
                default=0,
                help="seed of the shuffled fold assignment (default: 0)",
            )
            sub.add_argument(
                "-j",
                "--jobs",
                type=_int_at_least(1),
                default=_default_jobs(),
                metavar="N",
                help="parallel processes for cross-validation (default: %(default)s)",
            )
        sub.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            help="print only results and errors (no progress, notes or warnings)",
        )

    demo = commands.add_parser(
        "demo",
        help="tune β on an imbalanced built-in dataset (handwritten digits)",
        description=_DEMO_DESCRIPTION,
        epilog=_DEMO_EPILOG,
        formatter_class=formatter,
    )
    common(demo)
    demo.set_defaults(handler=_cmd_demo)

    fit = commands.add_parser(
        "fit",
        help="cross-validate and fit a model on a CSV file, save it",
        description=_FIT_DESCRIPTION,
        epilog=_FIT_EPILOG,
        formatter_class=formatter,
    )
    fit.add_argument("data", metavar="DATA.csv", help="training data, CSV with a header row")
    fit.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    how = fit.add_mutually_exclusive_group()
    how.add_argument(
        "--beta",
        type=_beta,
        default=None,
        metavar="B",
        help="weight of the positive class: a number > 0 or 'balanced' (default: 1)",
    )
    how.add_argument(
        "--tune-beta",
        action="store_true",
        help="choose β among 1, 2, 4, 8, 16, balanced by cross-validated balanced accuracy",
    )
    fit.add_argument(
        "--softmax",
        action="store_true",
        help="fit the multinomial SoftmaxCE (needed for more than two classes)",
    )
    fit.add_argument(
        "--alpha",
        type=_alpha,
        default=1e-4,
        metavar="A",
        help="L2 penalty strength (default: 1e-4)",
    )
    fit.add_argument(
        "--impute",
        action="store_true",
        help="fill missing values: median (numeric), most frequent value (other columns)",
    )
    fit.add_argument(
        "--model",
        metavar="OUT",
        default=None,
        help=f"where to save the model (default: DATA with suffix {MODEL_SUFFIX})",
    )
    common(fit)
    fit.set_defaults(handler=_cmd_fit)

    predict = commands.add_parser(
        "predict",
        help="predict with a saved model",
        description=_PREDICT_DESCRIPTION,
        epilog=_PREDICT_EPILOG,
        formatter_class=formatter,
    )
    predict.add_argument("model", metavar="MODEL", help="a model file saved by 'skce fit'")
    predict.add_argument("data", metavar="DATA.csv", help="CSV with the model's feature columns")
    predict.add_argument(
        "--proba", action="store_true", help="add the class probabilities, proba_<class>"
    )
    predict.add_argument("--out", metavar="FILE", help="write the CSV here (default: stdout)")
    common(predict, cv=False)
    predict.set_defaults(handler=_cmd_predict)
    return parser


def main(argv=None):
    """Run the ``skce`` command line with ``argv`` and return the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; ``None`` uses ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 for a run-time failure, 2 for a usage error.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError(
                "missing command: choose one of demo, fit, predict (see 'skce --help')"
            )
        return args.handler(args, _Output(args.quiet))
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except CLIError as exc:
        print(f"skce: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("skce: error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (e.g. "| head"); stop quietly.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE
    except Exception as exc:  # an unforeseen failure: still one line, unless asked
        if os.environ.get("SKCE_TRACEBACK"):
            raise
        print(
            f"skce: error: unexpected {type(exc).__name__}: {_one_line(_first_line(exc))} "
            "(set SKCE_TRACEBACK=1 to see the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILURE


# -- reading CSV files ----------------------------------------------------------------
def _import_pandas():
    try:
        import pandas
    except ImportError:
        raise CLIError(
            "this command needs pandas, which is not installed: pip install 'skce[cli]'"
        ) from None
    return pandas


def _check_input_file(path, what):
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{what} not found: {path}")
    if path.is_dir():
        raise UsageError(f"{what} {path} is a directory, not a file")
    return path


def read_csv(path):
    """Read a CSV file with a header row, every value as text.

    Values are kept as the strings in the file (missing values, such as empty
    fields or ``NA``, as NaN) so that the same text gives the same feature at
    fit and at predict time; :func:`_split_columns` then decides which columns
    are numeric.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    pandas.DataFrame
        The data, one row per record after the header.
    """
    pd = _import_pandas()
    path = _check_input_file(path, "data file")
    try:
        frame = pd.read_csv(path, dtype=str)
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path} is empty: expected a CSV file with a header row") from None
    except pd.errors.ParserError as exc:
        raise UsageError(f"cannot parse {path} as CSV: {_first_line(exc)}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text: expected a CSV file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if frame.shape[0] == 0:
        raise UsageError(f"{path} has a header but no data rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _numeric(series):
    """The column as float64 (NaN where missing or not a number)."""
    pd = _import_pandas()
    return pd.to_numeric(series, errors="coerce").astype("float64")


def _is_numeric(series):
    present = series.notna()
    return bool((_numeric(series).notna() == present).all())


def _split_columns(frame, columns):
    """Numeric columns (every present value is a number) and the others."""
    numeric = [c for c in columns if _is_numeric(frame[c])]
    categorical = [c for c in columns if c not in set(numeric)]
    return numeric, categorical


def _as_text(series):
    """A categorical column as an object array of str, NaN where missing."""
    import numpy as np

    values = series.astype(object).to_numpy()
    return np.array([v if _missing(v) else str(v) for v in values], dtype=object)


def _missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def _features(frame, numeric, categorical, path):
    """The feature frame (columns in the order ``numeric + categorical``)."""
    pd = _import_pandas()
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
        data[column] = values.to_numpy()
    for column in categorical:
        data[column] = _as_text(frame[column])
    return pd.DataFrame(data, columns=list(numeric) + list(categorical))


def _check_missing(X, path, hint):
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


# -- the pipeline ---------------------------------------------------------------------
def _make_pipeline(numeric, categorical, estimator, *, impute):
    """Preprocessing (ColumnTransformer) followed by ``estimator``, unfitted."""
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


def _scorers(classes):
    """The cross-validation metrics: name -> (scorer, label, lower_is_better)."""
    from sklearn.metrics import make_scorer, precision_score, recall_score

    from .metrics import cross_entropy_score

    metrics = {
        "cross_entropy": (cross_entropy_score, "cross-entropy (nats)", True),
        "accuracy": ("accuracy", "accuracy", False),
        "balanced_accuracy": ("balanced_accuracy", "balanced accuracy", False),
    }
    if len(classes) == 2:
        positive = classes[1]
        metrics["recall"] = (
            make_scorer(recall_score, pos_label=positive, zero_division=0),
            f"recall ({positive!r})",
            False,
        )
        metrics["precision"] = (
            make_scorer(precision_score, pos_label=positive, zero_division=0),
            f"precision ({positive!r})",
            False,
        )
        metrics["roc_auc"] = ("roc_auc", "ROC AUC", False)
    return metrics


def _grid_search(pipeline, grid, X, y, *, scoring, refit, folds, seed, jobs, out, label):
    """GridSearchCV with stratified shuffled folds, progress lines on stderr.

    Fits that fail raise (``error_score="raise"``). Convergence warnings of
    the fold fits and notes about categories a fold did not see are silenced
    (in the worker processes too): the caller checks the final model.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold

    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    search = GridSearchCV(
        pipeline,
        grid,
        scoring=scoring,
        refit=refit,
        cv=cv,
        n_jobs=jobs,
        error_score="raise",
    )
    n_candidates = len(ParameterGrid(grid))
    n_fits = n_candidates * folds
    out.progress(
        f"{label}: {n_fits} fits ({n_candidates} × {folds} folds) "
        f"on {jobs} process{'es' if jobs > 1 else ''}"
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Found unknown categories")
        with contextlib.ExitStack() as stack:
            if not out.quiet:
                try:
                    from joblib import parallel_config
                except ImportError:  # joblib < 1.3: no progress lines
                    pass
                else:
                    stack.enter_context(parallel_config(verbose=11))
                    progress = _ProgressStream(sys.stderr, n_fits, label)
                    stack.enter_context(contextlib.redirect_stderr(progress))
            try:
                search.fit(X, y)
            except (CLIError, KeyboardInterrupt):
                raise
            except Exception as exc:
                raise CLIError(f"fitting failed: {_one_line(_first_line(exc))}") from None
    out.progress(f"{label}: done in {time.perf_counter() - start:.1f} s")
    return search


def _check_converged(estimator, out):
    if estimator.n_iter_ >= estimator.max_iter:
        out.warning(
            f"{type(estimator).__name__} stopped at max_iter={estimator.max_iter} iterations "
            "before reaching its tolerance; the model may be less accurate than it could be "
            "(a larger --alpha helps)"
        )


def _table(headers, rows, mark=None):
    """Aligned text table: the first column left-aligned, the others right."""
    cells = [list(headers)] + [list(r) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for k, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        suffix = "  <- chosen" if mark is not None and k - 1 == mark else ""
        lines.append(("  " + "   ".join(parts) + suffix).rstrip())
    return "\n".join(lines)


def _beta_rows(search, balanced_value):
    """Rows β | cross-entropy | recall | precision | balanced accuracy | fit time."""
    results = search.cv_results_
    rows = []
    for k, params in enumerate(results["params"]):
        beta = params["model__beta"]
        name = _format_beta(beta)
        if beta == "balanced":
            name = f"balanced (={balanced_value:.3g})"
        rows.append(
            [
                name,
                f"{-results['mean_test_cross_entropy'][k]:.4f}",
                f"{results['mean_test_recall'][k]:.3f}",
                f"{results['mean_test_precision'][k]:.3f}",
                f"{results['mean_test_balanced_accuracy'][k]:.4f}",
                f"{results['mean_fit_time'][k]:.3f} s",
            ]
        )
    return rows


_BETA_HEADERS = ("β", "cross-entropy", "recall", "precision", "balanced accuracy", "fit time")

_WHY_BALANCED_ACCURACY = (
    "β is chosen by balanced accuracy (the mean of the recall of each class): β exists "
    "so that the rare class is not ignored, which shows in the decisions, and balanced "
    "accuracy scores the decisions with both classes counted equally. Unweighted "
    "cross-entropy rewards probabilities calibrated to the observed class frequencies, "
    "so it prefers β ≈ 1 and would undo the weighting."
)


def _largest_beta():
    return max(b for b in BETA_GRID if not isinstance(b, str))


def _best_index(search, metric):
    import numpy as np

    return int(np.argmin(search.cv_results_[f"rank_test_{metric}"]))


# -- skce demo ----------------------------------------------------------------------
def _cmd_demo(args, out):
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.metrics import make_scorer, precision_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from .linear_model import WeightedLogisticCE
    from .metrics import cross_entropy_score

    start = time.perf_counter()
    X, digit = load_digits(return_X_y=True)
    y = (digit == DEMO_DIGIT).astype(np.int64)
    n_pos = int(y.sum())
    n = y.shape[0]
    if args.cv > n_pos:
        raise UsageError(f"--cv {args.cv} is more than the {n_pos} positives; use --cv <= {n_pos}")
    balanced_value = (n - n_pos) / n_pos

    out.result("skce demo: β-weighted logistic regression on an imbalanced problem")
    out.info(
        f"data:   scikit-learn's handwritten digits (load_digits): {n} images of 8x8 "
        f"pixels, {X.shape[1]} features"
    )
    out.result(
        f"target: positive class = digit {DEMO_DIGIT} ({n_pos} images, {n_pos / n:.1%}); "
        "negative = the nine other digits"
    )
    out.info(
        "model:  Pipeline(StandardScaler, WeightedLogisticCE(alpha=1e-4)), "
        "β in {" + ", ".join(_format_beta(b) for b in BETA_GRID) + "}"
    )
    out.info(
        f"search: GridSearchCV, stratified {args.cv}-fold CV (shuffled, seed {args.seed}), "
        f"refit by balanced accuracy"
    )
    out.info()

    pipeline = Pipeline([("scale", StandardScaler()), ("model", WeightedLogisticCE())])
    scoring = {
        "cross_entropy": cross_entropy_score,
        "recall": "recall",
        "precision": make_scorer(precision_score, zero_division=0),
        "balanced_accuracy": "balanced_accuracy",
    }
    with _warnings_as_lines(out):
        search = _grid_search(
            pipeline,
            {"model__beta": list(BETA_GRID)},
            X,
            y,
            scoring=scoring,
            refit="balanced_accuracy",
            folds=args.cv,
            seed=args.seed,
            jobs=args.jobs,
            out=out,
            label="cross-validation",
        )
        _check_converged(search.best_estimator_[-1], out)

    best = search.best_index_
    by_ce = _best_index(search, "cross_entropy")
    results = search.cv_results_
    out.result(f"mean over {args.cv} folds (cross-entropy in nats, lower is better):")
    out.result(_table(_BETA_HEADERS, _beta_rows(search, balanced_value), mark=best))
    out.result()
    chosen = search.best_params_["model__beta"]
    chosen_text = _format_beta(chosen)
    if chosen == "balanced":
        chosen_text = f"balanced (= {balanced_value:.3g})"
    out.result(
        f"chosen β = {chosen_text}: best balanced accuracy "
        f"({results['mean_test_balanced_accuracy'][best]:.4f}), refit on all {n} images"
        + (", the largest β tried" if chosen == _largest_beta() else "")
    )
    ce_beta = _format_beta(results["params"][by_ce]["model__beta"])
    out.info(_wrap(f"why: {_WHY_BALANCED_ACCURACY}"))

    def metric(name, k):
        return results[f"mean_test_{name}"][k]

    if by_ce != best:
        interpretation = (
            f"interpretation: β = {chosen_text} finds {metric('recall', best):.0%} of the "
            f"{DEMO_DIGIT}s, against {metric('recall', by_ce):.0%} at β = {ce_beta}, the β that "
            f"unweighted cross-entropy prefers ({-metric('cross_entropy', by_ce):.3f} vs "
            f"{-metric('cross_entropy', best):.3f} nats); it pays with precision "
            f"{metric('precision', best):.2f} instead of {metric('precision', by_ce):.2f}, i.e. "
            "more false alarms: a positive error costs β times a negative one."
        )
    else:
        interpretation = (
            f"interpretation: β = {chosen_text} is best by both balanced accuracy and "
            f"cross-entropy here (recall {metric('recall', best):.2f}, precision "
            f"{metric('precision', best):.2f})."
        )
    out.result(_wrap(interpretation))
    out.info(f"finished in {time.perf_counter() - start:.1f} s")
    return EXIT_OK


# -- skce fit -------------------------------------------------------------------------
def _target(frame, column, path):
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
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            bad = raw.iloc[int(np.argmax(~np.isfinite(values) | (values != np.round(values))))]
            raise UsageError(
                f"target column {column!r} holds numbers that are not integers (e.g. {bad!r}); "
                "a classifier needs class labels: integers or text"
            )
        if np.max(np.abs(values)) >= 2**53:
            raise UsageError(f"target column {column!r} has integers too large to be labels")
        return values.astype(np.int64)
    return _as_text(raw)


def _counts_text(classes, counts, limit=6):
    total = sum(counts)
    parts = [f"{c!r}: {n} ({n / total:.1%})" for c, n in zip(classes, counts, strict=True)]
    if len(parts) > limit:
        parts = [*parts[:limit], f"... ({len(parts) - limit} more)"]
    return ", ".join(parts)


def _cmd_fit(args, out):
    import numpy as np

    from .linear_model import SoftmaxCE, WeightedLogisticCE

    frame = read_csv(args.data)
    path = Path(args.data)
    if args.target not in frame.columns:
        raise UsageError(
            f"{path} has no column {args.target!r}; its columns are "
            f"{', '.join(repr(c) for c in frame.columns)}"
        )
    columns = [c for c in frame.columns if c != args.target]
    if not columns:
        raise UsageError(f"{path} has no feature columns besides the target {args.target!r}")

    y = _target(frame, args.target, path)
    classes, counts = np.unique(y, return_counts=True)
    classes_list = classes.tolist()
    if len(classes) < 2:
        raise UsageError(
            f"target column {args.target!r} has only one class ({classes_list[0]!r}); a "
            "classifier needs at least two"
        )
    if len(classes) > 2 and not args.softmax:
        raise UsageError(
            f"target column {args.target!r} has {len(classes)} classes; WeightedLogisticCE "
            "is binary: pass --softmax to fit the multinomial SoftmaxCE"
        )
    if args.softmax and (args.beta is not None or args.tune_beta):
        option = "--tune-beta" if args.tune_beta else "--beta"
        raise UsageError(f"{option} applies to the binary WeightedLogisticCE, not to --softmax")
    smallest = int(counts.min())
    if smallest < args.cv:
        rare = classes_list[int(counts.argmin())]
        raise UsageError(
            f"--cv {args.cv} needs at least {args.cv} rows of every class, but class {rare!r} "
            f"has {smallest}; use a smaller --cv"
        )

    model_path = Path(args.model) if args.model else _default_model_path(path)
    if model_path.exists() and model_path.resolve() == path.resolve():
        raise UsageError(f"--model {model_path} would overwrite the training data")

    numeric, categorical = _split_columns(frame, columns)
    X = _features(frame, numeric, categorical, path)
    if args.impute:
        empty = [c for c in X.columns if X[c].isna().all()]
        if empty:
            raise UsageError(
                f"column {empty[0]!r} has no values at all, so there is nothing to impute "
                "from; remove the column"
            )
    else:
        _check_missing(
            X,
            path,
            "pass --impute to fill missing values (median for numeric, most frequent value "
            "for other columns)",
        )

    if args.softmax:
        estimator = SoftmaxCE(alpha=args.alpha)
        grid = [{}]
        described = f"SoftmaxCE(alpha={args.alpha:g})"
    else:
        beta = 1.0 if args.beta is None else args.beta
        estimator = WeightedLogisticCE(beta=beta, alpha=args.alpha)
        grid = {"model__beta": list(BETA_GRID)} if args.tune_beta else [{}]
        described = (
            f"WeightedLogisticCE(alpha={args.alpha:g}), β tuned"
            if args.tune_beta
            else f"WeightedLogisticCE(beta={_format_beta(beta)}, alpha={args.alpha:g})"
        )
    pipeline = _make_pipeline(numeric, categorical, estimator, impute=args.impute)
    metrics = _scorers(classes_list)
    binary = len(classes) == 2

    out.info(
        f"data:   {path}: {len(frame)} rows, {len(columns)} feature "
        f"column{'s' if len(columns) > 1 else ''} "
        f"({len(numeric)} numeric, {len(categorical)} categorical)"
        + (", missing values imputed" if args.impute else "")
    )
    positive = f"; positive class {classes_list[1]!r}" if binary and not args.softmax else ""
    out.info(
        f"target: {args.target!r}, {len(classes)} classes: "
        f"{_counts_text(classes_list, counts.tolist())}{positive}"
    )
    steps = [
        f"{name} columns {how}"
        for name, how, cols in (
            ("numeric", "standardised", numeric),
            ("other", "one-hot encoded", categorical),
        )
        if cols
    ]
    out.info(_wrap(f"model:  {described}; {', '.join(steps)}"))
    out.info()

    refit = "balanced_accuracy" if args.tune_beta else "cross_entropy"
    with _warnings_as_lines(out):
        search = _grid_search(
            pipeline,
            grid,
            X,
            y,
            scoring={name: scorer for name, (scorer, _, _) in metrics.items()},
            refit=refit,
            folds=args.cv,
            seed=args.seed,
            jobs=args.jobs,
            out=out,
            label="cross-validation",
        )
        final = search.best_estimator_
        _check_converged(final[-1], out)
    results = search.cv_results_
    best = search.best_index_

    if args.tune_beta:
        y_codes = np.searchsorted(classes, y)
        balanced_value = float(np.sum(y_codes == 0) / np.sum(y_codes == 1))
        out.result(f"β candidates, mean over {args.cv} folds (cross-entropy in nats):")
        out.result(_table(_BETA_HEADERS, _beta_rows(search, balanced_value), mark=best))
        chosen = final[-1].beta
        chosen_text = _format_beta(chosen)
        if chosen == "balanced":
            chosen_text = f"balanced (= {final[-1].beta_:.3g} on all rows)"
        edge = " (the largest β tried)" if chosen == _largest_beta() else ""
        out.result(
            f"chosen β = {chosen_text}{edge}: best cross-validated balanced accuracy "
            f"({results['mean_test_balanced_accuracy'][best]:.4f})"
        )
        out.info(_wrap(f"why: {_WHY_BALANCED_ACCURACY}"))
        out.result()

    which = f" at β = {_format_beta(final[-1].beta)}" if args.tune_beta else ""
    out.result(
        f"{args.cv}-fold stratified cross-validation{which} (shuffled, seed {args.seed}), "
        f"{len(frame)} rows:"
    )
    rows = []
    for name, (_, label, lower) in metrics.items():
        folds = np.array([results[f"split{k}_test_{name}"][best] for k in range(args.cv)])
        if name == "cross_entropy":
            folds = -folds
        rows.append(
            [
                label,
                f"{folds.mean():.4f}",
                f"{folds.std():.4f}",
                "lower is better" if lower else "",
            ]
        )
    out.result(_table(("metric", "mean", "std", ""), rows))

    summary = {
        name: float(
            np.mean([results[f"split{k}_test_{name}"][best] for k in range(args.cv)])
            * (-1 if name == "cross_entropy" else 1)
        )
        for name in metrics
    }
    document = _model_document(
        final,
        target=args.target,
        classes=classes_list,
        numeric=numeric,
        categorical=categorical,
        order=columns,
        impute=args.impute,
        training={
            "data": path.name,
            "n_rows": len(frame),
            "cv_folds": args.cv,
            "cv_seed": args.seed,
            "cv_mean": summary,
        },
    )
    _write_model(document, model_path)
    out.result()
    out.result(f"model fitted on all {len(frame)} rows, saved to {model_path}")
    return EXIT_OK


def _default_model_path(data_path):
    name = data_path.name
    stem = name[: -len(data_path.suffix)] if data_path.suffix else name
    return data_path.with_name(stem + MODEL_SUFFIX)


# -- model files: writing ---------------------------------------------------------------
def _model_document(pipeline, *, target, classes, numeric, categorical, order, impute, training):
    """The JSON-ready description of a fitted pipeline built by :func:`_make_pipeline`."""
    from importlib import metadata

    preprocess = pipeline.named_steps["preprocess"]
    estimator = pipeline.named_steps["model"]
    document = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "created_with": {
            "skce": __version__,
            "scikit-learn": metadata.version("scikit-learn"),
        },
        "target": {"name": target, "classes": list(classes)},
        "columns": {
            "order": list(order),
            "numeric": list(numeric),
            "categorical": list(categorical),
        },
        "impute": bool(impute),
        "preprocess": {"sparse_output": bool(preprocess.sparse_output_)},
        "training": training,
    }
    if numeric:
        steps = preprocess.named_transformers_["num"].named_steps
        scaler = steps["scale"]
        document["preprocess"]["numeric"] = {
            "median": steps["impute"].statistics_.tolist() if impute else None,
            "mean": scaler.mean_.tolist(),
            "scale": scaler.scale_.tolist(),
            "var": scaler.var_.tolist(),
            "n_samples_seen": int(scaler.n_samples_seen_),
        }
    if categorical:
        steps = preprocess.named_transformers_["cat"].named_steps
        document["preprocess"]["categorical"] = {
            "most_frequent": [str(v) for v in steps["impute"].statistics_] if impute else None,
            "categories": [[str(v) for v in c] for c in steps["onehot"].categories_],
        }
    model = {
        "class": type(estimator).__name__,
        "params": {k: v for k, v in estimator.get_params().items() if _json_scalar(v)},
        "coef": estimator.coef_.tolist(),
        "intercept": estimator.intercept_.tolist(),
        "n_iter": int(estimator.n_iter_),
    }
    if hasattr(estimator, "beta_"):
        model["beta_"] = float(estimator.beta_)
    if hasattr(estimator, "class_weight_"):
        model["class_weight_"] = estimator.class_weight_.tolist()
    document["model"] = model
    categories = document["preprocess"].get("categorical", {}).get("categories", [])
    probe = _probe_frame(numeric, categorical, categories, impute)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document["check"] = {"predict_proba": pipeline.predict_proba(probe).tolist()}
    return document


def _layout_frame(numeric, categorical, categories):
    """A small frame with every category: fitting the preprocessing on it fixes its layout."""
    import numpy as np

    pd = _import_pandas()
    n_rows = max([2] + [len(c) for c in categories])
    data = {c: np.arange(n_rows, dtype=np.float64) for c in numeric}
    for column, values in zip(categorical, categories, strict=True):
        data[column] = np.array([values[i % len(values)] for i in range(n_rows)], dtype=object)
    return pd.DataFrame(data, columns=list(numeric) + list(categorical))


def _probe_frame(numeric, categorical, categories, impute):
    """Rows whose probabilities the model file records, to check the rebuilt model."""
    import numpy as np

    frame = _layout_frame(numeric, categorical, categories).head(_N_PROBE_ROWS).copy()
    if impute:  # one row of missing values checks the imputation too
        frame.loc[len(frame)] = [np.nan] * (len(numeric) + len(categorical))
        if numeric:
            frame[list(numeric)] = frame[list(numeric)].astype(np.float64)
    return frame


def _json_scalar(value):
    return value is None or isinstance(value, (str, bool, int, float))


def _dumps(value, indent=""):
    """JSON text with objects indented and lists of plain values on one line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [inner + _dumps(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _write_model(document, path):
    text = _dumps(document) + "\n"
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise CLIError(f"cannot write the model to {path}: {exc.strerror or exc}") from None


# -- model files: reading -----------------------------------------------------------------
class SavedModel:
    """A model loaded by :func:`load_model`.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The fitted pipeline (ColumnTransformer, then WeightedLogisticCE or
        SoftmaxCE); it takes a DataFrame with the columns ``numeric +
        categorical`` as made by :meth:`features`.
    target : str
        Name of the target column.
    classes : list
        The class labels, in the order of ``predict_proba``'s columns.
    numeric, categorical : list of str
        Feature columns by kind.
    impute : bool
        Whether missing values are imputed.
    document : dict
        The validated content of the model file.
    """

    def __init__(self, pipeline, document):
        self.pipeline = pipeline
        self.document = document
        self.target = document["target"]["name"]
        self.classes = list(document["target"]["classes"])
        self.numeric = list(document["columns"]["numeric"])
        self.categorical = list(document["columns"]["categorical"])
        self.impute = bool(document["impute"])

    @property
    def columns(self):
        """The feature columns in the training file's order."""
        return list(self.document["columns"]["order"])

    def features(self, frame, path="the data"):
        """The feature frame for :attr:`pipeline` from a frame read by :func:`read_csv`.

        Raises :class:`UsageError` for missing columns, non-numbers in numeric
        columns and (for a model without imputation) missing values.
        """
        absent = [c for c in self.columns if c not in frame.columns]
        if absent:
            raise UsageError(
                f"{path} lacks {len(absent)} column{'s' if len(absent) > 1 else ''} that the "
                f"model needs: {', '.join(repr(c) for c in absent)}"
            )
        X = _features(frame, self.numeric, self.categorical, path)
        if not self.impute:
            _check_missing(
                X,
                path,
                "the model was fitted without --impute, so every value is needed: fill it "
                "in, or refit with --impute",
            )
        return X


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed")


def load_model(path):
    """Load a model file written by ``skce fit``, safely.

    The file is parsed as JSON text (never unpickled), every field is checked,
    and the pipeline is rebuilt from known scikit-learn and skce classes only.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    SavedModel

    Raises
    ------
    UsageError
        If the file does not exist.
    ModelFileError
        If the file is not a valid skce model file.
    """
    path = _check_input_file(path, "model file")
    try:
        size = path.stat().st_size
        if size > _MAX_MODEL_BYTES:
            raise ModelFileError(f"{path} is too large for an skce model file ({size} bytes)")
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if raw[:1] == b"\x80" or raw[:2] == b"PK":
        kind = "a pickle" if raw[:1] == b"\x80" else "a zip archive (e.g. skops or joblib)"
        raise ModelFileError(
            f"{path} is {kind}, not an skce model file; skce loads only its own JSON model "
            "files, never pickles, because loading a pickle can run arbitrary code"
        )
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(
            f"{path} is not an skce model file (not valid JSON: {_first_line(exc)})"
        ) from None
    try:
        return SavedModel(_rebuild(document), document)
    except ModelFileError as exc:
        raise ModelFileError(f"{path} is not a valid skce model file: {exc}") from None
    except (CLIError, KeyboardInterrupt):
        raise
    except Exception as exc:  # e.g. scikit-learn refusing a value
        raise ModelFileError(
            f"{path} is not a valid skce model file: cannot rebuild the model "
            f"({type(exc).__name__}: {_one_line(_first_line(exc))})"
        ) from None


def _bad(message):
    raise ModelFileError(message)


def _get(mapping, key, where):
    if not isinstance(mapping, dict):
        _bad(f"{where} must be an object")
    if key not in mapping:
        _bad(f"missing field {where}.{key}")
    return mapping[key]


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _array(value, ndim, where):
    import numpy as np

    def check(item, depth):
        if depth == 0:
            if not _is_number(item):
                _bad(f"{where} must hold numbers, found {type(item).__name__}")
            return
        if not isinstance(item, list):
            _bad(f"{where} must be a {ndim}-dimensional list of numbers")
        for element in item:
            check(element, depth - 1)

    check(value, ndim)
    try:
        array = np.array(value, dtype=np.float64)
    except (ValueError, OverflowError):
        _bad(f"{where} must be a rectangular list of numbers")
    if array.ndim != ndim or not np.all(np.isfinite(array)):
        _bad(f"{where} must be a {ndim}-dimensional list of finite numbers")
    return array


def _strings(value, where, *, unique=True, allow_empty=True):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _bad(f"{where} must be a list of strings")
    if unique and len(set(value)) != len(value):
        _bad(f"{where} has duplicates")
    if not allow_empty and not value:
        _bad(f"{where} is empty")
    return value


def _rebuild(document):
    """The fitted pipeline described by a (parsed, untrusted) model document."""
    import numpy as np

    from .linear_model import SoftmaxCE, WeightedLogisticCE

    if _get(document, "format", "model") != MODEL_FORMAT:
        _bad(f"format is not {MODEL_FORMAT!r}")
    version = _get(document, "format_version", "model")
    if version != MODEL_FORMAT_VERSION:
        _bad(
            f"format_version {version!r} is not supported (this skce {__version__} reads "
            f"version {MODEL_FORMAT_VERSION})"
        )

    target = _get(document, "target", "model")
    if not isinstance(_get(target, "name", "target"), str):
        _bad("target.name must be a string")
    classes = _get(target, "classes", "target")
    if not isinstance(classes, list) or len(classes) < 2:
        _bad("target.classes must be a list of at least two labels")
    if not (
        all(isinstance(c, str) for c in classes)
        or all(isinstance(c, int) and not isinstance(c, bool) for c in classes)
    ):
        _bad("target.classes must be all strings or all integers")
    if classes != sorted(set(classes)):
        _bad("target.classes must be sorted and unique")

    columns = _get(document, "columns", "model")
    order = _strings(_get(columns, "order", "columns"), "columns.order", allow_empty=False)
    numeric = _strings(_get(columns, "numeric", "columns"), "columns.numeric")
    categorical = _strings(_get(columns, "categorical", "columns"), "columns.categorical")
    if sorted(numeric + categorical) != sorted(order):
        _bad("columns.numeric and columns.categorical must split columns.order")
    impute = _get(document, "impute", "model")
    if not isinstance(impute, bool):
        _bad("impute must be true or false")

    prep = _get(document, "preprocess", "model")
    sparse_output = _get(prep, "sparse_output", "preprocess")
    if not isinstance(sparse_output, bool):
        _bad("preprocess.sparse_output must be true or false")
    n_features = 0
    if numeric:
        num = _get(prep, "numeric", "preprocess")
        mean = _array(_get(num, "mean", "preprocess.numeric"), 1, "preprocess.numeric.mean")
        scale = _array(_get(num, "scale", "preprocess.numeric"), 1, "preprocess.numeric.scale")
        var = _array(_get(num, "var", "preprocess.numeric"), 1, "preprocess.numeric.var")
        seen = _get(num, "n_samples_seen", "preprocess.numeric")
        if not (isinstance(seen, int) and not isinstance(seen, bool) and seen > 0):
            _bad("preprocess.numeric.n_samples_seen must be a positive integer")
        if not (mean.shape == scale.shape == var.shape == (len(numeric),)):
            _bad("preprocess.numeric arrays must have one entry per numeric column")
        if np.any(scale <= 0) or np.any(var < 0):
            _bad("preprocess.numeric.scale must be > 0 and var >= 0")
        median = _get(num, "median", "preprocess.numeric")
        if impute:
            median = _array(median, 1, "preprocess.numeric.median")
            if median.shape != (len(numeric),):
                _bad("preprocess.numeric.median must have one entry per numeric column")
        elif median is not None:
            _bad("preprocess.numeric.median must be null without imputation")
        n_features += len(numeric)
    categories = []
    if categorical:
        cat = _get(prep, "categorical", "preprocess")
        categories = _get(cat, "categories", "preprocess.categorical")
        if not isinstance(categories, list) or len(categories) != len(categorical):
            _bad("preprocess.categorical.categories must have one list per categorical column")
        for k, values in enumerate(categories):
            where = f"preprocess.categorical.categories[{k}]"
            _strings(values, where, allow_empty=False)
            if values != sorted(values):
                _bad(f"{where} must be sorted")
        frequent = _get(cat, "most_frequent", "preprocess.categorical")
        if impute:
            _strings(frequent, "preprocess.categorical.most_frequent", unique=False)
            if len(frequent) != len(categorical) or any(
                v not in c for v, c in zip(frequent, categories, strict=True)
            ):
                _bad("preprocess.categorical.most_frequent must be one category per column")
        elif frequent is not None:
            _bad("preprocess.categorical.most_frequent must be null without imputation")
        n_features += sum(len(c) for c in categories)

    model = _get(document, "model", "model")
    kinds = {"WeightedLogisticCE": WeightedLogisticCE, "SoftmaxCE": SoftmaxCE}
    kind = _get(model, "class", "model")
    if kind not in kinds:
        _bad(f"model.class must be one of {', '.join(kinds)}, got {kind!r}")
    params = _get(model, "params", "model")
    if not isinstance(params, dict) or not all(_json_scalar(v) for v in params.values()):
        _bad("model.params must map names to plain values")
    known = set(kinds[kind]().get_params())
    unknown = sorted(set(params) - known)
    if unknown:
        _bad(f"model.params has unknown parameters {unknown}")
    _check_params(params)
    estimator = kinds[kind](**params)
    n_outputs = 1 if kind == "WeightedLogisticCE" else len(classes)
    if kind == "WeightedLogisticCE" and len(classes) != 2:
        _bad("a WeightedLogisticCE model needs exactly two classes")
    coef = _array(_get(model, "coef", "model"), 2, "model.coef")
    intercept = _array(_get(model, "intercept", "model"), 1, "model.intercept")
    if coef.shape != (n_outputs, n_features) or intercept.shape != (n_outputs,):
        _bad(
            f"model.coef must have shape ({n_outputs}, {n_features}) and model.intercept "
            f"({n_outputs},) for these columns and classes"
        )
    n_iter = _get(model, "n_iter", "model")
    if not (isinstance(n_iter, int) and not isinstance(n_iter, bool) and n_iter >= 0):
        _bad("model.n_iter must be an integer >= 0")

    # Build the pipeline from the known classes, fit its preprocessing on a
    # small synthetic frame (that fixes the column layout through the public
    # API) and put the saved numbers in place.
    pipeline = _make_pipeline(numeric, categorical, estimator, impute=impute)
    synthetic = _layout_frame(numeric, categorical, categories)
    preprocess = pipeline.named_steps["preprocess"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preprocess.fit(synthetic)
    if numeric:
        steps = preprocess.named_transformers_["num"].named_steps
        steps["scale"].mean_ = mean
        steps["scale"].scale_ = scale
        steps["scale"].var_ = var
        steps["scale"].n_samples_seen_ = seen
        if impute:
            steps["impute"].statistics_ = median
    if categorical:
        steps = preprocess.named_transformers_["cat"].named_steps
        fitted = [c.tolist() for c in steps["onehot"].categories_]
        if fitted != categories:
            _bad("preprocess.categorical.categories do not round-trip")
        if impute:
            steps["impute"].statistics_ = np.array(frequent, dtype=object)
    preprocess.sparse_output_ = sparse_output
    if preprocess.transform(synthetic).shape[1] != n_features:
        _bad("the preprocessing does not produce model.coef's number of features")

    if all(isinstance(c, str) for c in classes):
        estimator.classes_ = np.array(classes, dtype=object)
    else:
        estimator.classes_ = np.array(classes, dtype=np.int64)
    estimator.coef_ = coef
    estimator.intercept_ = intercept
    estimator.n_features_in_ = n_features
    estimator.n_iter_ = n_iter
    if kind == "WeightedLogisticCE":
        beta_ = _get(model, "beta_", "model")
        if not (_is_number(beta_) and math.isfinite(beta_) and beta_ > 0):
            _bad("model.beta_ must be a finite number > 0")
        estimator.beta_ = float(beta_)
    else:
        weights = _array(_get(model, "class_weight_", "model"), 1, "model.class_weight_")
        if weights.shape != (len(classes),) or np.any(weights < 0):
            _bad("model.class_weight_ must hold one weight >= 0 per class")
        estimator.class_weight_ = weights

    # The file records the probabilities of a few synthetic rows: the rebuilt
    # pipeline must reproduce them, or it is not the model that was saved (say,
    # written by a version of skce whose estimators keep more fitted state).
    expected = _array(_get(_get(document, "check", "model"), "predict_proba", "check"), 2, "check")
    probe = _probe_frame(numeric, categorical, categories, impute)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = pipeline.predict_proba(probe)
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=_PROBE_RTOL, atol=1e-12):
        _bad(
            "the rebuilt model does not reproduce the probabilities recorded in the file "
            "(was it written by a different version of skce, or edited?)"
        )
    return pipeline


def _check_params(params):
    """Check the estimator's hyper-parameters (used only if the model is refitted)."""

    def number(name, low, closed):
        if name not in params:
            return
        value = params[name]
        ok = _is_number(value) and math.isfinite(value)
        ok = ok and (value >= low if closed else value > low)
        if not ok:
            _bad(f"model.params.{name} must be a finite number {'>=' if closed else '>'} {low}")

    if "beta" in params and params["beta"] != "balanced":
        number("beta", 0, False)
    number("alpha", 0, True)
    number("tol", 0, True)
    if "learning_rate" in params and params["learning_rate"] != "auto":
        number("learning_rate", 0, False)
    if "max_iter" in params:
        value = params["max_iter"]
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            _bad("model.params.max_iter must be an integer >= 1")
    if "solver" in params and params["solver"] not in _SOLVERS:
        _bad(f"model.params.solver must be one of {', '.join(_SOLVERS)}")
    for name in ("fit_intercept", "warm_start"):
        if name in params and not isinstance(params[name], bool):
            _bad(f"model.params.{name} must be true or false")
    if "class_weight" in params and params["class_weight"] not in (None, "balanced"):
        _bad("model.params.class_weight must be null or 'balanced'")


# -- skce predict -----------------------------------------------------------------------
def _cmd_predict(args, out):
    pd = _import_pandas()
    saved = load_model(args.model)
    frame = read_csv(args.data)
    path = Path(args.data)
    X = saved.features(frame, path)
    for column in saved.categorical:
        categories = saved.document["preprocess"]["categorical"]["categories"]
        known = set(categories[saved.categorical.index(column)])
        values = X[column]
        unseen = sorted({v for v in values if isinstance(v, str) and v not in known})
        if unseen:
            shown = ", ".join(repr(v) for v in unseen[:3]) + (", ..." if len(unseen) > 3 else "")
            out.warning(
                f"column {column!r} has {len(unseen)} value{'s' if len(unseen) > 1 else ''} "
                f"not seen in training ({shown}), encoded as all zeros"
            )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found unknown categories")
        try:
            proba = saved.pipeline.predict_proba(X)
        except (CLIError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise CLIError(f"prediction failed: {_one_line(_first_line(exc))}") from None
    classes = saved.pipeline.classes_
    result = pd.DataFrame({saved.target: saved.pipeline.predict(X)})
    if args.proba:
        for k, label in enumerate(classes.tolist()):
            result[f"proba_{label}"] = proba[:, k]
    if args.out:
        target = Path(args.out)
        try:
            result.to_csv(target, index=False)
        except OSError as exc:
            raise CLIError(f"cannot write {target}: {exc.strerror or exc}") from None
        out.progress(f"wrote {len(result)} predictions to {target}")
    else:
        result.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
    return EXIT_OK
