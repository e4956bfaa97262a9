"""Arguments and the entry point: the ``skce`` parser and :func:`main`.

Importing this module imports only the standard library (and skce's small
``__init__``), so that ``skce --help`` and ``skce --version`` start fast; the
commands import numpy, pandas, scikit-learn and the estimators when they run.
"""

import argparse
import contextlib
import math
import os
import sys

from .. import __version__
from ._commands import DEMO_DIGIT, cmd_demo, cmd_fit, cmd_predict
from ._modelfile import MODEL_SUFFIX
from ._output import EXIT_FAILURE, EXIT_OK, CLIError, Output, UsageError, first_line, one_line
from ._subsample import add_arguments as add_subsample_arguments


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


class _StoreGiven(argparse.Action):
    """Store the value, and record in ``<dest>_given`` that the option was given."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_given", True)


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


def _separator(text):
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
    value = named.get(text.lower(), text)
    if len(value) != 1 or value in '"\r\n':
        raise argparse.ArgumentTypeError(
            f"must be one character (or tab, comma, semicolon, pipe, space), got {text!r}"
        )
    return value


def _encoding(text):
    import codecs

    try:
        return codecs.lookup(text).name
    except LookupError:
        raise argparse.ArgumentTypeError(
            f"unknown encoding {text!r} (e.g. utf-8, latin-1, cp1252, utf-16)"
        ) from None


#: The default of -j: measured in docs/cli.md ("How many processes"): on every file
#: tried, starting worker processes cost more than the fits gained.
DEFAULT_JOBS = 1


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``skce: error:`` line (exit 2)."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _unrecognized(parser, args, extras):
    """:class:`UsageError` for options the command does not know, with a suggestion.

    argparse reports them from the top-level parser (``see 'skce --help'``);
    the help that lists the right spelling is the command's. The spellings
    come from the command's usage line.
    """
    import difflib
    import re

    command = parser.commands.get(getattr(args, "command", None), parser)
    first = extras[0]
    text = first.split("=", 1)[0]
    if text.startswith("--"):
        known = set(re.findall(r"--[A-Za-z][\w-]*", command.format_usage()))
        close = difflib.get_close_matches(text.replace("_", "-"), sorted(known), n=1, cutoff=0.75)
        if close:
            raise UsageError(
                f"unrecognized argument {first}; did you mean {close[0]}? "
                f"(see '{command.prog} --help')"
            )
    raise UsageError(f"unrecognized arguments: {' '.join(extras)} (see '{command.prog} --help')")


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
  skce fit big.csv --target clicked --subsample 50000
  skce predict train.skce.json new.csv --proba --out predictions.csv

exit status: 0 success, 1 run-time failure (fit failed, invalid model file),
2 usage error (bad option, missing file or column, unusable target)."""

_DEMO_DESCRIPTION = f"""\
Tune β (and alpha) of WeightedLogisticCE on an imbalanced problem that ships
with scikit-learn (no download): the 8x8 handwritten digits, "is it the digit
{DEMO_DIGIT}?" (about 10 % positives). WeightedLogisticCECV cross-validates β in
{{1, 2, 4, 8, 16, balanced}} and alpha in its default grid (stratified K-fold,
on standardised pixels), reports cross-entropy, recall, precision and balanced
accuracy per β at its best alpha and the balanced accuracy of every (β, alpha),
and refits the (β, alpha) with the best balanced accuracy. Needs pandas (pip
install 'skce[cli]')."""

_DEMO_EPILOG = """\
examples:
  skce demo
  skce demo --cv 10 --seed 3
  skce demo --quiet"""

_FIT_DESCRIPTION = """\
Fit a classifier on a CSV file (with a header row; its delimiter is sniffed)
and save it. Numeric columns are standardised, other columns one-hot encoded
(categories unseen in training are encoded as all zeros at prediction). A
column of numbers with a few other values, or a text column with a distinct
value in (nearly) every row, is an error that names it; --drop leaves columns
out. A binary target gets WeightedLogisticCE (β weights the positive class:
the larger label in sort order, or --positive); --softmax fits SoftmaxCE,
which is required for more than two classes. Prints stratified K-fold
cross-validated cross-entropy and classification metrics, then fits on all
rows, prints the coefficient table (sandwich standard errors, z, p-values,
95% confidence intervals) and saves the model with its standard errors as
JSON (an existing file only with --force). With --subsample N every fit
(the folds' and the final one) is SubsampledCE's: every row of the rarest
class and a sample of the others, weighted by 1/π, which estimates the fit on
all rows; fit prints the kept count and the rows read, and the standard
errors include the sampling's variance."""

_FIT_EPILOG = """\
examples:
  skce fit train.csv --target label
  skce fit train.csv --target label --beta 4 --model model.skce.json
  skce fit train.csv --target label --tune-beta --cv 10
  skce fit train.csv --target label --impute      fill missing values
  skce fit train.csv --target churned --positive yes --drop customer_id
  skce fit export.csv --target label --sep ';' --decimal , --encoding cp1252
  skce fit iris.csv --target species --softmax
  skce fit big.csv --target clicked --subsample 50000
  skce fit big.csv --target clicked --subsample 0.05 --subsample-method uniform"""

_PREDICT_DESCRIPTION = """\
Predict with a model saved by 'skce fit'. The CSV must have the model's feature
columns (other columns, such as the target, are ignored). Writes a CSV with one
column named after the target; --proba adds a column proba_<class> per class.
An existing --out file is replaced only with --force, an input file never."""

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

    def files(sub):
        sub.add_argument(
            "--sep",
            type=_separator,
            default=None,
            metavar="CHAR",
            help="the CSV file's delimiter: a character, or tab (default: sniffed from "
            "the file among , ; tab |)",
        )
        sub.add_argument(
            "--encoding",
            type=_encoding,
            default=None,
            metavar="NAME",
            help="the CSV file's text encoding, e.g. latin-1 or cp1252 (default: UTF-8)",
        )
        sub.add_argument(
            "--decimal",
            choices=[".", ","],
            default=".",
            metavar="MARK",
            help="the decimal mark of the numbers in the CSV file: . or , (default: .)",
        )
        sub.add_argument(
            "--force",
            action="store_true",
            help="replace an existing output file (an input file is never replaced)",
        )

    def common(sub, *, cv=True, seeded=""):
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
                help=f"seed of the shuffled fold assignment{seeded} (default: 0)",
            )
            sub.add_argument(
                "-j",
                "--jobs",
                type=_int_at_least(1),
                default=DEFAULT_JOBS,
                action=_StoreGiven,
                metavar="N",
                help="parallel processes for cross-validation (default: %(default)s; more pay off "
                "only when each fit takes seconds)",
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
    demo.set_defaults(handler=cmd_demo)

    fit = commands.add_parser(
        "fit",
        help="cross-validate and fit a model on a CSV file, save it",
        description=_FIT_DESCRIPTION,
        epilog=_FIT_EPILOG,
        formatter_class=formatter,
    )
    fit.add_argument(
        "data",
        metavar="DATA",
        help="training data: a CSV file with a header row, or a directory or glob pattern "
        "(quoted) of CSV or Parquet files, fitted on a dask cluster",
    )
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
        help="choose β among 1, 2, 4, 8, 16, balanced (and alpha) by cross-validated "
        "balanced accuracy",
    )
    fit.add_argument(
        "--softmax",
        action="store_true",
        help="fit the multinomial SoftmaxCE (needed for more than two classes)",
    )
    fit.add_argument(
        "--alpha",
        type=_alpha,
        default=None,
        metavar="A",
        help="L2 penalty strength (default: 1e-4; with --tune-beta on one file, alpha is "
        "tuned too unless given)",
    )
    fit.add_argument(
        "--impute",
        action="store_true",
        help="fill missing values: median (numeric), most frequent value (other columns)",
    )
    fit.add_argument(
        "--positive",
        metavar="LABEL",
        default=None,
        help="the positive class of a binary target, as written in the file (default: the "
        "larger label in sort order)",
    )
    fit.add_argument(
        "--drop",
        nargs="+",
        action="extend",
        default=[],
        metavar="COLUMN",
        help="columns that are not features (IDs, free text, leaks of the target)",
    )
    fit.add_argument(
        "--no-coef-table",
        action="store_true",
        help="do not print the coefficient table (the model file keeps the standard errors)",
    )
    fit.add_argument(
        "--model",
        metavar="OUT",
        default=None,
        help=f"where to save the model (default: DATA with suffix {MODEL_SUFFIX}); an "
        "existing file is replaced only with --force",
    )
    fit.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="fit on the dask cluster of this scheduler (e.g. tcp://10.0.0.5:8786); without "
        "it, several files are fitted on a local cluster of --jobs worker processes",
    )
    add_subsample_arguments(fit)
    files(fit)
    common(fit, seeded=" and of --subsample's draws")
    fit.set_defaults(handler=cmd_fit)

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
    predict.add_argument(
        "--out",
        metavar="FILE",
        help="write the CSV here (default: stdout); an existing file is replaced only with --force",
    )
    files(predict)
    common(predict, cv=False)
    predict.set_defaults(handler=cmd_predict)
    parser.commands = {"demo": demo, "fit": fit, "predict": predict}
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
        args, extras = parser.parse_known_args(argv)
        if extras:
            _unrecognized(parser, args, extras)
        if args.command is None:
            raise UsageError(
                "missing command: choose one of demo, fit, predict (see 'skce --help')"
            )
        return args.handler(args, Output(args.quiet))
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except CLIError as exc:
        print(f"skce: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("skce: error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (e.g. "| head -1"): it has what it
        # wanted, so stop quietly and successfully, as cat and grep do. Pointing
        # stdout at /dev/null keeps the interpreter's final flush from failing.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # an unforeseen failure: still one line, unless asked
        if os.environ.get("SKCE_TRACEBACK"):
            raise
        print(
            f"skce: error: unexpected {type(exc).__name__}: {one_line(first_line(exc))} "
            "(set SKCE_TRACEBACK=1 to see the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
