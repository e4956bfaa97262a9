"""The report tables: the β report and the metrics table, built with pandas.

The β report (the table of β against the cross-validated metrics, the chosen
β and why) is written once here for ``skce demo`` and ``skce fit --tune-beta``.
"""

from ._output import import_pandas, wrap

#: The β values that ``skce demo`` and ``skce fit --tune-beta`` compare.
BETA_GRID = (1.0, 2.0, 4.0, 8.0, 16.0, "balanced")

WHY_BALANCED_ACCURACY = (
    "β is chosen by balanced accuracy (the mean of the recall of each class): β exists "
    "so that the rare class is not ignored, which shows in the decisions, and balanced "
    "accuracy scores the decisions with both classes counted equally. Unweighted "
    "cross-entropy rewards probabilities calibrated to the observed class frequencies, "
    "so it prefers β ≈ 1 and would undo the weighting."
)


def format_beta(beta):
    """``2`` for 2.0, ``balanced`` for "balanced"."""
    if isinstance(beta, str):
        return beta
    return f"{beta:g}"


def _largest_beta():
    return max(b for b in BETA_GRID if not isinstance(b, str))


def text_table(frame, formats, mark=None):
    """A DataFrame as an indented text table, the first column left-aligned.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per table row; the column names are the headers.
    formats : dict
        Column -> function from a value to its text (columns not named are
        shown with ``str``).
    mark : int, optional
        The position of a row to flag with ``<- chosen``.

    Returns
    -------
    str
    """
    cells = frame.copy()
    for column in cells.columns:
        cells[column] = cells[column].map(formats.get(column, str))
    first = cells.columns[0]
    width = max(len(first), *cells[first].str.len())
    # to_string right-aligns every column; padding the first column's text
    # (and its header) to its full width left-aligns it.
    cells[first] = cells[first].str.ljust(width)
    cells = cells.rename(columns={first: first.ljust(width)})
    # Three spaces between columns: a column is at least 2 wider than its text.
    space = {c: max(len(c), *cells[c].str.len()) + 2 for c in cells.columns[1:]}
    lines = cells.to_string(index=False, col_space=space).splitlines()
    if mark is not None:
        lines[mark + 1] += "  <- chosen"
    return "\n".join(("  " + line).rstrip() for line in lines)


def beta_frame(results, balanced_value):
    """The per-β means over the folds as a DataFrame (cross-entropy as a loss).

    Parameters
    ----------
    results : CVResults
        Cross-validation of the β grid with the scorers ``cross_entropy``,
        ``recall``, ``precision`` and ``balanced_accuracy``.
    balanced_value : float
        The value of β = "balanced" on all rows, shown next to it.
    """
    pd = import_pandas()
    names = []
    for params in results.candidates:
        beta = params["model__beta"]
        names.append(
            f"balanced (={balanced_value:.3g})" if beta == "balanced" else format_beta(beta)
        )
    return pd.DataFrame(
        {
            "β": names,
            "cross-entropy": -results.mean("cross_entropy"),
            "recall": results.mean("recall"),
            "precision": results.mean("precision"),
            "balanced accuracy": results.mean("balanced_accuracy"),
            "fit time": results.mean("fit_time"),
        }
    )


_BETA_FORMATS = {
    "cross-entropy": "{:.4f}".format,
    "recall": "{:.3f}".format,
    "precision": "{:.3f}".format,
    "balanced accuracy": "{:.4f}".format,
    "fit time": "{:.3f} s".format,
}


def print_beta_report(out, results, *, balanced_value, final, n_rows):
    """Print the β table, the chosen β and why it was chosen by balanced accuracy.

    Parameters
    ----------
    out : Output
    results : CVResults
        See :func:`beta_frame`.
    balanced_value : float
        β = "balanced" on all rows.
    final : WeightedLogisticCE
        The model refitted on all rows with the chosen β.
    n_rows : int
        The number of rows it was refitted on.

    Returns
    -------
    int
        The index of the chosen candidate.
    """
    best = results.best("balanced_accuracy")
    frame = beta_frame(results, balanced_value)
    out.result(
        f"β candidates, mean over {results.n_folds} folds (cross-entropy in nats, lower is better):"
    )
    out.result(text_table(frame, _BETA_FORMATS, mark=best))
    out.result()
    chosen = final.beta
    chosen_text = format_beta(chosen)
    if chosen == "balanced":
        chosen_text = f"balanced (= {final.beta_:.3g})"
    edge = " (the largest β tried)" if chosen == _largest_beta() else ""
    out.result(
        f"chosen β = {chosen_text}{edge}: best cross-validated balanced accuracy "
        f"({frame['balanced accuracy'][best]:.4f}), refit on all {n_rows} rows"
    )
    out.info(wrap(f"why: {WHY_BALANCED_ACCURACY}"))
    return best


def print_metrics_table(out, results, metrics, index):
    """Mean and standard deviation over the folds of every metric of one candidate.

    ``metrics`` maps a scorer name to ``(scorer, label, lower_is_better)``; a
    loss (lower is better) is shown as the loss, not as the scorer's negative.
    """
    pd = import_pandas()
    rows = []
    for name, (_, label, lower) in metrics.items():
        folds = results.scores(name)[index]
        if lower:
            folds = -folds
        # The population standard deviation, as GridSearchCV's std_test_*.
        rows.append([label, folds.mean(), folds.std(), "lower is better" if lower else ""])
    frame = pd.DataFrame(rows, columns=["metric", "mean", "std", ""])
    out.result(text_table(frame, {"mean": "{:.4f}".format, "std": "{:.4f}".format}))
