"""The coefficient table of ``skce fit``: standard errors of the final fit, printed and saved.

After the final fit on all rows, :func:`standard_errors` asks the fitted
estimator for its coefficient table (``coef_table``: sandwich standard
errors, which hold for any weighting, β included) on the rows that fit saw,
with the features named as the file's columns (``colour=red`` for a one-hot
column). :func:`print_coef_table` prints it; :meth:`StandardErrors.document`
is the model file's ``model.std_errors``. When the standard errors do not
exist (a singular Hessian, separable classes) or cannot be computed, the
fit still succeeds: one warning line says why, and the model file records
that they are unavailable.
"""

import copy
import math
import warnings
from dataclasses import dataclass

from ._output import first_line, import_pandas, one_line, wrap

#: The kind of standard errors of ``skce fit``: right for the β-weighted fit.
KIND = "sandwich"

#: The confidence level of the printed intervals (the model file holds the
#: standard errors, from which any level's interval follows).
CONFIDENCE_LEVEL = 0.95

#: The most parameters (coefficients and intercepts of the identified outputs) whose
#: standard errors `skce fit` computes: the covariance works on P x P matrices, about
#: 13 of them at its peak (measured), 0.4 GB and a few seconds at this size; wide
#: one-hot models beyond it are saved without them.
MAX_PARAMETERS = 2000
_PEAK_MATRICES = 13

#: Why a fit on separable classes has no standard errors (its status line says so).
SEPARABLE = (
    "the classes are linearly separable and --alpha is 0, so the coefficients have no finite "
    "value to estimate"
)

# Added to a singular Hessian's reason when --alpha is 0 and a column is one-hot encoded.
_ONE_HOT_WITH_ALPHA_0 = (
    "(The one-hot columns of a categorical column sum to 1, as the intercept's column does: "
    "with --alpha 0 they are collinear; pass --alpha > 0, e.g. the default 1e-4.)"
)

# scikit-learn's note when an estimator given feature names (here: the
# columns' names, for the table) sees an array; the array holds those features.
_NAMELESS_ARRAY = "X does not have valid feature names"


@dataclass
class StandardErrors:
    """The coefficient table of a fitted model, or why there is none.

    Attributes
    ----------
    table : pandas.DataFrame or None
        The estimator's ``coef_table`` with the features named as in the
        file; None when ``unavailable``.
    reference_class : object
        The class the coefficients are relative to (the negative class of a
        binary model, ``classes[0]`` of a softmax model).
    n_outputs : int
        The number of coefficient vectors (1, or ``K - 1`` for softmax).
    fit_intercept : bool
    unavailable : str or None
        Why there are no standard errors.
    """

    table: object
    reference_class: object
    n_outputs: int
    fit_intercept: bool = True
    unavailable: str | None = None

    def document(self):
        """The model file's ``model.std_errors``: plain values, never NaN or infinity.

        ``coef[k]`` and ``intercept[k]`` are the standard errors of output
        ``k``'s coefficients and intercept: for a binary model the log-odds
        of the positive class, for softmax class ``classes[k + 1]``'s logit
        minus the reference class's.
        """
        coef = intercept = None
        if self.unavailable is None:
            se = self.table["std_err"].to_numpy().reshape(self.n_outputs, -1)
            if self.fit_intercept:
                coef, intercept = se[:, :-1].tolist(), se[:, -1].tolist()
            else:
                coef = se.tolist()
        return {
            "kind": KIND,
            "reference_class": self.reference_class,
            "coef": coef,
            "intercept": intercept,
            "unavailable": self.unavailable,
        }


def feature_names(pipeline, numeric, categorical):
    """The names of the model's features: numeric columns, then ``column=category``."""
    names = list(numeric)
    if categorical:
        preprocess = pipeline.named_steps["preprocess"]
        onehot = preprocess.named_transformers_["cat"].named_steps["onehot"]
        for column, categories in zip(categorical, onehot.categories_, strict=True):
            names.extend(f"{column}={category}" for category in categories)
    return names


def standard_errors(estimator, X, y, sample_weight, *, names, classes, categorical, table_of=None):
    """The :class:`StandardErrors` of ``estimator`` fitted on ``(X, y, sample_weight)``.

    ``X``, ``y`` and ``sample_weight`` are what the final fit saw (arrays in
    memory, or dask arrays on a cluster); ``classes`` are the labels in the
    order of the model's outputs (for a binary model ``[negative,
    positive]``). ``table_of`` is the model whose ``coef_table`` is asked
    (default ``estimator``): a :class:`~skce.SubsampledCE`, whose fitted
    ``estimator_`` is ``estimator`` and whose table takes the kept rows from
    all of them. A warning from the computation (e.g. that the fit stopped
    short of the minimum) is left to the caller's warning lines.
    """
    from ..linear_model import SingularHessianError

    def without(reason):
        return StandardErrors(None, classes[0], len(classes) - 1, estimator.fit_intercept, reason)

    if estimator.separable_:
        return without(SEPARABLE)  # report_fit_status has said so
    n_params = (len(classes) - 1) * (estimator.coef_.shape[1] + estimator.fit_intercept)
    if n_params > MAX_PARAMETERS:
        gigabytes = _PEAK_MATRICES * 8 * n_params**2 / 1e9
        return without(
            f"not computed for {n_params:,} parameters (more than {MAX_PARAMETERS:,}: their "
            f"covariance would take about {gigabytes:.1f} GB and longer than the fit); "
            "covariance_matrix in Python computes them"
        )
    named = copy.copy(estimator if table_of is None else table_of)
    named.feature_names_in_ = _object_array(names)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_NAMELESS_ARRAY, category=UserWarning)
            table = named.coef_table(X, y, sample_weight, kind=KIND)
    except SingularHessianError as exc:
        reason = one_line(exc)
        if categorical and estimator.alpha == 0:
            reason += f" {_ONE_HOT_WITH_ALPHA_0}"
        return without(reason)
    except Exception as exc:  # e.g. no memory for the P x P matrices: save the model anyway
        return without(
            f"they could not be computed: {type(exc).__name__}: {one_line(first_line(exc))}"
        )
    return StandardErrors(table, classes[0], len(classes) - 1, estimator.fit_intercept)


def _object_array(values):
    import numpy as np

    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def report_fit_status(estimator, out, *, with_std_errors=False):
    """One warning line if the final fit is not an optimum, saying what to do.

    Reads the estimator's public ``status_`` and ``separable_``. Separable
    classes come first: with them, running longer cannot help (and, for a
    fit whose standard errors were to be computed, ``with_std_errors``, the
    line says that there are none).
    """
    name = type(estimator).__name__
    if getattr(estimator, "separable_", False):
        none = (
            ", and there are no standard errors (no coefficient table)" if with_std_errors else ""
        )
        out.warning(
            f"{name}: the classes are linearly separable in the training data and --alpha is "
            "0, so the cross-entropy has no minimum: the coefficients grow without bound and "
            f"the probabilities are pushed towards 0 and 1{none}; pass --alpha > 0 (the "
            "default is 1e-4) for a finite model"
        )
    elif estimator.status_ == "max_iter":
        out.warning(
            f"{name} stopped at max_iter={estimator.max_iter} iterations before reaching its "
            "tolerance; the model may be less accurate than it could be (a larger --alpha "
            "helps)"
        )
    elif estimator.status_ == "stalled":
        out.warning(
            f"{name} stopped after {estimator.n_iter_} iterations at the limit of "
            "floating-point precision (the gradient is within rounding error of zero), before "
            "its tolerance was met; the "
            "model is as accurate as the data allow and can be used (a larger --alpha makes "
            "the problem better conditioned)"
        )


def final_fit_standard_errors(final, source, classes, out, *, fitted=None):
    """The :class:`StandardErrors` of the final pipeline ``final`` on ``source``'s rows.

    Computed before the classes are renamed (the fit saw the labels 0 and 1 of
    ``source.fitted_rows``); says in one warning line why they are unavailable.
    ``fitted`` is the estimator that ``final[-1]`` fitted, if it is another
    (the ``estimator_`` of a :class:`~skce.SubsampledCE`).
    """
    errors = standard_errors(
        final[-1] if fitted is None else fitted,
        *source.fitted_rows(final),
        names=feature_names(final, source.numeric, source.categorical),
        classes=classes,
        categorical=source.categorical,
        table_of=final[-1],
    )
    report_unavailable(out, errors)
    return errors


def report_unavailable(out, errors):
    """The one warning line of a fit without standard errors (none if separable: said already)."""
    if errors.unavailable is not None and errors.unavailable != SEPARABLE:
        out.warning(
            f"no coefficient table and no standard errors in the model file: {errors.unavailable}"
        )


_FORMATS = {
    "coef": "{:.4f}".format,
    "std err": "{:.4f}".format,
    "z": "{:.2f}".format,
    "p-value": lambda p: "<0.0001" if p < 0.00005 else f"{p:.4f}",
}


def coef_frame(errors):
    """The printed table as a DataFrame: (class,) term, coef, std err, z, p-value, interval."""
    pd = import_pandas()
    table = errors.table
    percent = f"{CONFIDENCE_LEVEL:.0%}"
    columns = {}
    if isinstance(table.index, pd.MultiIndex):
        columns["class"] = [str(c) for c in table.index.get_level_values("class")]
    columns["term"] = [str(t) for t in table.index.get_level_values("term")]
    columns.update(
        {
            "coef": table["coef"].to_numpy(),
            "std err": table["std_err"].to_numpy(),
            "z": table["z"].to_numpy(),
            "p-value": table["p_value"].to_numpy(),
            f"{percent} lower": table["ci_lower"].to_numpy(),
            f"{percent} upper": table["ci_upper"].to_numpy(),
        }
    )
    return pd.DataFrame(columns)


def print_coef_table(out, errors, *, classes, binary, alpha, beta=None):
    """Print the coefficient table under a heading that says what it holds, and a note.

    ``classes`` are the labels in output order; ``binary`` says the model is
    ``WeightedLogisticCE`` (``classes = [negative, positive]``); ``alpha``
    and ``beta`` (its fitted β) are for the note.
    """
    from ._reports import text_table

    frame = coef_frame(errors)
    percent = f"{CONFIDENCE_LEVEL:.0%}"
    reference = f"{errors.reference_class!r}"
    what = f"of the log-odds of {classes[1]!r}" if binary else f"relative to class {reference}"
    out.result(f"coefficients {what}, {KIND} standard errors, {percent} confidence intervals:")
    formats = dict(_FORMATS)
    formats.update({c: "{:.4f}".format for c in frame.columns if c.startswith(percent)})
    left = 1 if binary else 2
    out.result(text_table(frame, formats, left=left))
    notes = ["numeric columns are standardised, so their coefficients are per standard deviation"]
    weighted = binary and beta is not None and beta != 1
    if weighted:
        notes.append(
            f"with β = {beta:.3g} the intercept is about ln β = {math.log(beta):.3f} above the "
            "unweighted log-odds"
        )
    if not binary:
        notes.append(
            f"each class's rows are its logit minus that of the reference class {reference} "
            "(the first in sort order)"
        )
    adjectives = ", ".join(["β-weighted"] * weighted + ["penalised"] * (alpha > 0))
    estimates = f"{adjectives} estimates" if adjectives else "estimates"
    notes.append(f"the {KIND} standard errors are those of these {estimates}")
    out.info(wrap(f"note: {'; '.join(notes)}."))
