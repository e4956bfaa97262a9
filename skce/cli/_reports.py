"""The report tables: the β report and the metrics table, built with pandas.

The β report (the table of β against the cross-validated metrics, the chosen
β and why) is written once here for ``skce demo``, ``skce fit --tune-beta``
(β and alpha searched by ``WeightedLogisticCECV``: one row per β at its best
alpha, then the balanced accuracy over the whole grid) and the several-files
fit (β only).
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


def text_table(frame, formats, mark=None, left=1):
    """A DataFrame as an indented text table, the first ``left`` columns left-aligned.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per table row; the column names are the headers.
    formats : dict
        Column -> function from a value to its text (columns not named are
        shown with ``str``).
    mark : int, optional
        The position of a row to flag with ``<- chosen``.
    left : int, default=1
        How many leading columns (labels) are left-aligned; the others are
        right-aligned.

    Returns
    -------
    str
    """
    cells = frame.copy()
    for column in cells.columns:
        cells[column] = cells[column].map(formats.get(column, str))
    # to_string right-aligns every column; padding a column's text (and its
    # header) to its full width left-aligns it.
    names = {}
    for column in cells.columns[:left]:
        width = max(len(column), *cells[column].str.len())
        cells[column] = cells[column].str.ljust(width)
        names[column] = column.ljust(width)
    cells = cells.rename(columns=names)
    # Three spaces between columns: a column is at least 2 wider than its text.
    space = {c: max(len(c), *cells[c].str.len()) + 2 for c in cells.columns[1:]}
    lines = cells.to_string(index=False, col_space=space).splitlines()
    if mark is not None:
        lines[mark + 1] += "  <- chosen"
    return "\n".join(("  " + line).rstrip() for line in lines)


def _has_alpha(results):
    return "model__alpha" in results.candidates[0]


def _beta_label(beta, balanced_value):
    return f"balanced (={balanced_value:.3g})" if beta == "balanced" else format_beta(beta)


def _rows_per_beta(results, metric="balanced_accuracy"):
    """The candidate shown for each β: its alpha with the best mean ``metric``.

    The first such candidate (in the search's order) on ties, as the search
    itself chooses; one candidate per β when alpha was not searched.
    """
    means = results.mean(metric)
    chosen = {}
    for k, params in enumerate(results.candidates):
        key = repr(params["model__beta"])
        if key not in chosen or means[k] > means[chosen[key]]:
            chosen[key] = k
    return list(chosen.values())


def beta_frame(results, balanced_value):
    """The per-β means over the folds as a DataFrame (cross-entropy as a loss).

    Parameters
    ----------
    results : CVResults
        Cross-validation of the β grid (or of the β and alpha grid) with the
        scorers ``cross_entropy``, ``recall``, ``precision`` and
        ``balanced_accuracy``.
    balanced_value : float
        The value of β = "balanced" on all rows, shown next to it.

    Returns
    -------
    frame : pandas.DataFrame
        One row per β, in grid order; with alpha searched, at the β's best
        alpha by balanced accuracy, with an ``alpha`` column.
    rows : list of int
        The candidate of each row.
    """
    pd = import_pandas()
    rows = _rows_per_beta(results)
    columns = {
        "β": [_beta_label(results.candidates[k]["model__beta"], balanced_value) for k in rows]
    }
    if _has_alpha(results):
        columns["alpha"] = [results.candidates[k]["model__alpha"] for k in rows]
    columns.update(
        {
            "cross-entropy": -results.mean("cross_entropy")[rows],
            "recall": results.mean("recall")[rows],
            "precision": results.mean("precision")[rows],
            "balanced accuracy": results.mean("balanced_accuracy")[rows],
            "fit time": results.mean("fit_time")[rows],
        }
    )
    return pd.DataFrame(columns), rows


def grid_frame(results, balanced_value, metric="balanced_accuracy"):
    """The mean ``metric`` over the β × alpha grid: one row per β, one column per alpha."""
    pd = import_pandas()
    means = results.mean(metric)
    betas, alphas, cells = [], [], {}
    for k, params in enumerate(results.candidates):
        beta, alpha = params["model__beta"], params["model__alpha"]
        if repr(beta) not in [repr(b) for b in betas]:
            betas.append(beta)
        if alpha not in alphas:
            alphas.append(alpha)
        cells[(repr(beta), alpha)] = means[k]
    frame = pd.DataFrame({"β": [_beta_label(b, balanced_value) for b in betas]})
    for alpha in alphas:
        frame[f"{alpha:g}"] = [cells[(repr(b), alpha)] for b in betas]
    return frame


_BETA_FORMATS = {
    "alpha": "{:g}".format,
    "cross-entropy": "{:.4f}".format,
    "recall": "{:.3f}".format,
    "precision": "{:.3f}".format,
    "balanced accuracy": "{:.4f}".format,
    "fit time": "{:.3f} s".format,
}


def print_beta_report(out, results, *, balanced_value, final, n_rows):
    """Print the β table, the chosen β and why it was chosen by balanced accuracy.

    With alpha searched too (``skce demo``, ``skce fit --tune-beta``), each β's
    row is at its best alpha, and the balanced accuracy of every (β, alpha)
    follows as a grid.

    Parameters
    ----------
    out : Output
    results : CVResults
        See :func:`beta_frame`.
    balanced_value : float
        β = "balanced" on all rows.
    final : WeightedLogisticCE
        The model refitted on all rows with the chosen β (and alpha).
    n_rows : int
        The number of rows it was refitted on.

    Returns
    -------
    int
        The index of the chosen candidate.
    """
    best = results.best("balanced_accuracy")
    frame, rows = beta_frame(results, balanced_value)
    with_alpha = _has_alpha(results)
    which = "β candidates, each at its best alpha" if with_alpha else "β candidates"
    out.result(
        f"{which}, mean over {results.n_folds} folds (cross-entropy in nats, lower is better):"
    )
    out.result(text_table(frame, _BETA_FORMATS, mark=rows.index(best)))
    out.result()
    if with_alpha:
        grid = grid_frame(results, balanced_value)
        formats = {column: "{:.4f}".format for column in grid.columns[1:]}
        out.result(
            f"balanced accuracy over β (rows) × alpha (columns), mean over {results.n_folds} folds:"
        )
        out.result(text_table(grid, formats))
        out.result()
    chosen = final.beta
    chosen_text = format_beta(chosen)
    if chosen == "balanced":
        chosen_text = f"balanced (= {final.beta_:.3g})"
    edge = " (the largest β tried)" if chosen == _largest_beta() else ""
    alpha = f", alpha = {final.alpha:g}" if with_alpha else ""
    out.result(
        f"chosen β = {chosen_text}{edge}{alpha}: best cross-validated balanced accuracy "
        f"({results.mean('balanced_accuracy')[best]:.4f}), refit on all {n_rows} rows"
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
