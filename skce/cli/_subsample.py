"""``skce fit --subsample N``: the final fit (and every fold's) on a sample of the rows.

The estimator of ``skce fit`` is wrapped in :class:`~skce.SubsampledCE`, which
keeps every row of the rarest class and a sample of the others (``--subsample
N`` rows expected, or a fraction of the rows), weights the kept rows by ``1 /
pi`` and fits the estimator to them: an estimate of the fit on all rows. The
rest of ``skce fit`` is unchanged: the cross-validation scores the subsampled
fit on each fold (what the saved model is), the coefficient table is
``SubsampledCE.coef_table`` on all rows (sandwich standard errors of the kept
rows, the sampling's variance included), and the model file holds the
estimate as a plain ``WeightedLogisticCE`` or ``SoftmaxCE`` (so ``skce
predict`` and older readers of the file need nothing new) with the facts of
the subsample in ``training.subsample``.

Files on a dask cluster take the same path: :meth:`SubsampledCE.fit` draws
where the feature blocks are when it is given the dask arrays that
:class:`~skce.cli._files.FilesOnCluster` fits.

Importing this module imports only the standard library (it adds the options
to the parser of :mod:`skce.cli._main`); the rest imports skce when it runs.
"""

import argparse
import copy
import math
from dataclasses import dataclass

from ._coefficients import final_fit_standard_errors, report_fit_status
from ._output import UsageError, wrap

#: ``--subsample-method`` choices (``SubsampledCE``'s ``method``); the first is the default.
METHODS = ("optimal", "uniform", "local")


# -- the options --------------------------------------------------------------------
def subsample_size(text):
    """``--subsample``: a number of rows (an int >= 1, ``5e4`` too) or a fraction in (0, 1)."""
    try:
        value = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 1 and value.is_integer():
            value = int(value)  # 5e4: a count written in scientific notation
    if (isinstance(value, int) and value >= 1) or 0 < value < 1:
        return value
    raise argparse.ArgumentTypeError(
        "must be a number of rows (an integer >= 1, e.g. 50000 or 5e4) or a fraction of the "
        f"rows between 0 and 1 (e.g. 0.1), got {text!r}"
    )


def add_arguments(parser):
    """Add ``--subsample`` and ``--subsample-method`` to the ``skce fit`` parser."""
    parser.add_argument(
        "--subsample",
        type=subsample_size,
        default=None,
        metavar="N",
        help="fit on a sample of the rows (SubsampledCE): every row of the rarest class and "
        "about N rows in all (an integer), or that fraction of the rows (a number between 0 "
        "and 1); the kept rows are weighted by 1/π, so the fit estimates the fit on all rows",
    )
    parser.add_argument(
        "--subsample-method",
        choices=METHODS,
        default=None,
        metavar="{" + ",".join(METHODS) + "}",
        help="how --subsample keeps rows: optimal (by a pilot fit's gradient sizes), uniform "
        "(at random within each class) or local (local case-control: binary, β = 1, one "
        "file) (default: optimal); the draws are seeded by --seed",
    )


# -- checks -------------------------------------------------------------------------
def check_options(args, several):
    """Usage errors of ``--subsample`` and the options it combines with, before any work.

    ``several`` says the rows are files on a cluster.
    """
    if args.subsample is None:
        if args.subsample_method is not None:
            raise UsageError("--subsample-method applies with --subsample N; add --subsample")
        return
    if args.tune_beta:
        raise UsageError(
            "--tune-beta is not available with --subsample (its search fits every (β, alpha) "
            "on all rows); tune β without --subsample on a sample of the file, then pass "
            "--beta B with --subsample"
        )
    if method(args) != "local":
        return
    if args.softmax:
        raise UsageError(
            "--subsample-method local is for the binary WeightedLogisticCE, not --softmax; "
            "use --subsample-method optimal or uniform"
        )
    if args.beta is not None and args.beta != 1:
        raise UsageError(
            f"--subsample-method local estimates the unweighted fit (β = 1), not --beta "
            f"{args.beta if isinstance(args.beta, str) else f'{args.beta:g}'}; use "
            "--subsample-method optimal or uniform, which estimate the β-weighted fit"
        )
    if several:
        raise UsageError(
            "--subsample-method local is not available with several files or --scheduler: "
            "their cross-validation fits weight the held-out rows 0, and local case-control "
            "estimates the unweighted fit only; use --subsample-method optimal or uniform"
        )


def method(args):
    """The ``SubsampledCE`` method of the options (``optimal`` unless given)."""
    return args.subsample_method or METHODS[0]


def _rows(size, n_rows):
    """The expected number of rows ``--subsample`` asks for (as ``SubsampledCE`` resolves it)."""
    return size if isinstance(size, int) else max(1, round(size * n_rows))


def subsampled(args, classes, counts, estimator, grid, described):
    """``(estimator, grid, described)`` of ``skce fit``, wrapped in ``SubsampledCE`` if asked.

    ``classes`` and ``counts`` are the target's: a ``--subsample`` smaller than
    the rarest class (all of whose rows are kept) is a usage error here,
    before the fits.
    """
    if args.subsample is None:
        return estimator, grid, described
    from ..linear_model import SubsampledCE

    rarest = min(range(len(counts)), key=counts.__getitem__)
    size, n_rows = args.subsample, sum(counts)
    shown = f"{size:g}" if isinstance(size, float) else str(size)
    if _rows(size, n_rows) < counts[rarest]:
        others = counts[rarest] * len(counts)
        raise UsageError(
            f"--subsample {shown} is {_rows(size, n_rows)} rows, fewer than the "
            f"{counts[rarest]} rows of the rarest class {classes[rarest]!r}, which the sample "
            f"is meant to keep whole; pass --subsample of at least {counts[rarest]} rows "
            f"(better {others} or more, with as many rows of each other class), or leave "
            "--subsample out"
        )
    wrapped = SubsampledCE(estimator, method=method(args), sample_size=size, random_state=args.seed)
    return (
        wrapped,
        grid,
        f"SubsampledCE({described}, method={method(args)}, sample_size={shown})",
    )


# -- after the final fit ------------------------------------------------------------
@dataclass
class FittedOn:
    """The rows the saved model was fitted on: all of them, or a subsample.

    Attributes
    ----------
    n_rows : int
        The rows read.
    subsample : dict or None
        The model file's ``training.subsample``: ``method``, ``sample_size``
        (``--subsample`` as given), ``seed``, ``n_subsample`` (rows kept),
        ``n_samples_fit`` (rows read), ``expected_size`` and ``n_certain``
        (rows kept with probability 1); None for a fit on all rows.
    """

    n_rows: int
    subsample: dict | None = None

    def print(self, out):
        """The lines of the subsample (before the coefficient table); none without one."""
        if self.subsample is None:
            return
        s = self.subsample
        out.result()
        out.result(
            f"subsample: kept {s['n_subsample']} of the {s['n_samples_fit']} rows read "
            f"(method {s['method']}, expected size {s['expected_size']:.1f}, seed {s['seed']})"
        )
        if s["method"] == "local":
            how = (
                "local case-control's estimate of the unweighted fit on all rows: a pilot fit "
                "plus the fit of the kept rows, unweighted"
            )
            variance = "the variance given the pilot"
        else:
            how = (
                "SubsampledCE's estimate of the fit on all rows, from the kept rows weighted by 1/π"
            )
            variance = "the sampling's variance included"
        # The optimal method pools the pilot's case-control rows with the sample.
        pooled = "; the expected size counts the pilot's rows" if s["method"] == "optimal" else ""
        out.info(
            wrap(
                f"note: the model is {how} ({s['n_certain']} rows kept with probability "
                f"1{pooled}); the standard errors are the sandwich of the kept rows, "
                f"{variance}."
            )
        )

    def training(self):
        """The model file's ``training`` fields of the subsample (none without one)."""
        return {} if self.subsample is None else {"subsample": self.subsample}

    def described(self):
        """``all 120 rows`` or ``a subsample of 40 of the 120 rows``, for the saved line."""
        if self.subsample is None:
            return f"all {self.n_rows} rows"
        return f"a subsample of {self.subsample['n_subsample']} of the {self.n_rows} rows"


def final_fit(final, source, classes, out, args):
    """The status line, standard errors and rows of the final pipeline ``final``.

    Returns ``(final, errors, fitted_on)``: a subsampled fit's pipeline comes
    back with its estimate as a plain ``WeightedLogisticCE`` or ``SoftmaxCE``
    in place of the ``SubsampledCE`` (what the model file saves and ``skce
    predict`` uses), after its standard errors (which need the sample) are
    computed. Called before the classes are renamed.
    """
    model = final[-1]
    if args.subsample is None:
        report_fit_status(model, out, with_std_errors=True)
        errors = final_fit_standard_errors(final, source, classes, out)
        return final, errors, FittedOn(source.n_rows)
    from sklearn.pipeline import Pipeline

    # The status is the fit's on the kept rows; the table is SubsampledCE's.
    report_fit_status(model.estimator_, out, with_std_errors=True)
    errors = final_fit_standard_errors(final, source, classes, out, fitted=model.estimator_)
    estimate = copy.deepcopy(model.estimator_)
    # coef_ and intercept_ are the estimate of the full fit (for "local" the
    # pilot's plus the correction's): with them the plain estimator predicts
    # as the SubsampledCE does.
    estimate.coef_, estimate.intercept_ = model.coef_.copy(), model.intercept_.copy()
    probabilities = model.sampling_probabilities_
    facts = {
        "method": model.method,
        "sample_size": args.subsample,
        "seed": args.seed,
        "n_subsample": int(model.n_subsample_),
        "n_samples_fit": int(model.n_samples_fit_),
        "expected_size": float(probabilities["expected_size"]),
        "n_certain": int(probabilities["n_certain"]),
    }
    plain = Pipeline([*final.steps[:-1], ("model", estimate)])
    return plain, errors, FittedOn(source.n_rows, facts)
