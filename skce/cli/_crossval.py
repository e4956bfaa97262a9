"""Cross-validation of a few candidate pipelines on a data source, with progress lines.

:func:`cross_validate` is the one loop of ``skce fit``: every (candidate,
fold) fit is a task that the data source runs (:mod:`skce.cli._sources`:
joblib's ``Parallel`` with ``return_as="generator_unordered"`` for a table in
memory, one after another for files on a cluster, where each fit is spread
over the workers). Counting the fits as they finish gives the progress line;
a failed fit comes back as a record, and the fits' warnings as recorded
pairs (:mod:`skce._warnings`), the same with one process as with many. In
memory, the scores are those that :class:`~sklearn.model_selection.GridSearchCV`
computes with the same folds and scorers (``tests/test_cli.py``:
``test_fit_metrics_equal_cross_validate``); on files, scikit-learn's metrics on
the same folds (``tests/test_cli_files.py``).

``skce demo`` and ``skce fit --tune-beta`` on a table in memory search β and
alpha with :class:`~skce.WeightedLogisticCECV` instead (:func:`search_beta_alpha`),
whose scores are also ``GridSearchCV``'s (``tests/test_cv.py``), and read its
table as the same :class:`CVResults`.
"""

import time
import warnings
from dataclasses import dataclass

from .._warnings import recorded_warnings, replay, tally
from ._output import CLIError, first_line, import_pandas, one_line

# Warnings the fold fits do not report: the final model's convergence is
# reported once from its status_ (a fold's is not the model's), and a category
# that a training fold did not see is expected with small folds.
_SILENCED_MESSAGES = ("Found unknown categories",)


def fit_scorers(classes, *, pos_label=None):
    """The metrics of ``skce fit``: name -> (scorer, label, lower_is_better).

    Scorers follow scikit-learn's "greater is better" convention, so the
    cross-entropy scorer returns minus the loss. With two classes, recall and
    precision are those of ``classes[1]``, which is ``pos_label`` in the
    target the fits see (by default the label itself).
    """
    from sklearn.metrics import make_scorer, precision_score, recall_score

    from ..metrics import cross_entropy_score

    metrics = {
        "cross_entropy": (cross_entropy_score, "cross-entropy (nats)", True),
        "accuracy": ("accuracy", "accuracy", False),
        "balanced_accuracy": ("balanced_accuracy", "balanced accuracy", False),
    }
    if len(classes) == 2:
        positive = classes[1]
        pos_label = positive if pos_label is None else pos_label
        metrics["recall"] = (
            make_scorer(recall_score, pos_label=pos_label, zero_division=0),
            f"recall ({positive!r})",
            False,
        )
        metrics["precision"] = (
            make_scorer(precision_score, pos_label=pos_label, zero_division=0),
            f"precision ({positive!r})",
            False,
        )
        metrics["roc_auc"] = ("roc_auc", "ROC AUC", False)
    return metrics


@dataclass
class CVResults:
    """The scores of every (candidate, fold) fit.

    Attributes
    ----------
    candidates : list of dict
        The parameters of each candidate, in grid order.
    fits : pandas.DataFrame
        One row per fit, sorted by candidate then fold: ``candidate``,
        ``fold``, ``fit_time``, ``score_time`` (seconds) and ``test_<name>``
        for every scorer (greater is better, as scikit-learn's scorers).
    n_folds : int
    """

    candidates: list
    fits: object
    n_folds: int

    def scores(self, name):
        """Array (n_candidates, n_folds) of ``test_<name>``, or of a column such as ``fit_time``."""
        column = name if name in self.fits.columns else f"test_{name}"
        values = self.fits[column].to_numpy(dtype=float)
        return values.reshape(len(self.candidates), self.n_folds)

    def mean(self, name):
        """Mean over folds per candidate (the arithmetic of GridSearchCV's ``mean_test_*``)."""
        return self.scores(name).mean(axis=1)

    def best(self, name):
        """Index of the candidate with the highest mean score (the first on ties)."""
        return int(self.mean(name).argmax())


class _Progress:
    """``skce: LABEL: 12/30 fits done (1.1 s)``: at most a line a second, plus the last."""

    def __init__(self, out, total, label, interval=1.0):
        self._out = out
        self._total = total
        self._label = label
        self._interval = interval
        self._start = self._last = time.perf_counter()

    def update(self, done):
        now = time.perf_counter()
        if done >= self._total or now - self._last >= self._interval:
            self._last = now
            self._out.progress(
                f"{self._label}: {done}/{self._total} fits done ({now - self._start:.1f} s)"
            )


def fold_fit(source, pipeline, params, fold, metrics, candidate):
    """One fold fit of ``source``; returns a record, with ``error`` set if it failed.

    Never raises. Runs in a worker process when the source's tasks run there:
    its warnings are recorded and returned with the scores, so that the
    parent reports them the same way whatever the number of processes.
    """
    from sklearn.exceptions import ConvergenceWarning

    record = {"candidate": candidate, "fold": fold}
    with recorded_warnings((ConvergenceWarning,), _SILENCED_MESSAGES) as caught:
        try:
            record.update(source.fit_and_score(pipeline, params, fold, metrics))
        except Exception as exc:
            record["error"] = f"{type(exc).__name__}: {one_line(first_line(exc))}"
    record["warnings"] = caught
    return record


def _describe(params, fold, n_folds):
    """``beta = 2, fold 1 of 5``: which fit failed."""
    where = []
    for name, value in params.items():
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        where.append(f"{name.split('__')[-1]} = {shown}")
    return ", ".join([*where, f"fold {fold + 1} of {n_folds}"])


def cross_validate(source, pipeline, grid, metrics, *, folds, out):
    """Score every candidate of ``grid`` on the folds of ``source``.

    ``source`` (:mod:`skce.cli._sources`) splits, fits, scores and runs the
    fits of ``pipeline`` (as it prepared it) with the parameters of each
    candidate of ``grid`` (as :class:`~sklearn.model_selection.ParameterGrid`
    takes it; ``[{}]`` scores ``pipeline`` alone) and the ``metrics`` of
    :func:`fit_scorers`. Progress goes to ``out``; the fits' warnings are
    replayed, once each, through the caller's warning filters. Returns
    :class:`CVResults`; the first failed fit is a :class:`CLIError` naming its
    candidate and fold.
    """
    from joblib import delayed
    from sklearn.model_selection import ParameterGrid

    pd = import_pandas()
    candidates = list(ParameterGrid(grid))
    total = len(candidates) * folds
    out.progress(
        f"cross-validation: {total} fits ({len(candidates)} × {folds} folds) {source.processes}"
    )
    progress = _Progress(out, total, "cross-validation")
    tasks = (
        delayed(fold_fit)(source, pipeline, params, f, metrics, k)
        for k, params in enumerate(candidates)
        for f in range(folds)
    )
    records, recorded = [], []
    start = time.perf_counter()
    results = source.run(tasks)
    try:
        for record in results:
            if "error" in record:
                where = _describe(candidates[record["candidate"]], record["fold"], folds)
                raise CLIError(f"fitting failed ({where}): {record['error']}")
            recorded.append(record.pop("warnings"))
            records.append(record)
            progress.update(len(records))
    except (CLIError, KeyboardInterrupt):
        raise
    except Exception as exc:  # the runner itself failed, e.g. a worker process died
        raise CLIError(
            f"cross-validation failed: {type(exc).__name__}: {first_line(exc)}"
        ) from None
    finally:
        results.close()
    out.progress(f"cross-validation: done in {time.perf_counter() - start:.1f} s")
    # Replayed through the caller's filters, into warnings_as_lines.
    replay(
        tally(recorded),
        describe=lambda text, n: f"{text} (in {n} of {total} cross-validation fits)",
    )
    fits = pd.DataFrame(records).sort_values(["candidate", "fold"], ignore_index=True)
    return CVResults(candidates=candidates, fits=fits, n_folds=folds)


def refit(source, pipeline, params):
    """``pipeline`` with ``params`` fitted on all rows of ``source``.

    Its ConvergenceWarning is silenced: the caller reports the fit's
    ``status_`` and ``separable_`` in the CLI's own words.
    """
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            return source.fit(pipeline, params)
        except (CLIError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise CLIError(
                f"fitting failed on all rows: {type(exc).__name__}: {one_line(first_line(exc))}"
            ) from None


def search_beta_alpha(pipeline, X, y, *, out):
    """Fit ``pipeline``, whose step ``model`` is a ``WeightedLogisticCECV``, with progress.

    The search cross-validates every (β, alpha) with warm-started paths and
    refits the best (skce/_cv.py); the preprocessing steps before it are fitted
    once, on all rows. Its ConvergenceWarning is silenced, as for the fold fits
    of :func:`cross_validate`: the final fit is reported from its ``status_``.

    Returns
    -------
    results : CVResults
        The search's ``cv_results_``: candidates ``{"model__beta", "model__alpha"}``
        in its order, fold scores ``test_<name>`` of every metric, and each
        candidate's mean fit time (a warm-started fit plus its share of the
        path's preparation) in every fold row.
    final : sklearn.pipeline.Pipeline
        The fitted preprocessing followed by the refitted ``WeightedLogisticCE``.

    Raises
    ------
    CLIError
        If the search fails.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import Pipeline

    search = pipeline.named_steps["model"]
    n_betas, n_alphas, folds = len(search.betas), len(search.alphas), search.cv.get_n_splits()
    jobs = search.n_jobs
    out.progress(
        f"cross-validation: {n_betas * n_alphas * folds} fits ({n_betas} β × {n_alphas} "
        f"alpha{'s' if n_alphas > 1 else ''} × {folds} folds) in {n_betas * folds} "
        f"warm-started paths on {jobs} process{'es' if jobs > 1 else ''}"
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for message in _SILENCED_MESSAGES:
            warnings.filterwarnings("ignore", message=message)
        try:
            pipeline.fit(X, y)
        except (CLIError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise CLIError(
                f"cross-validation failed: {type(exc).__name__}: {one_line(first_line(exc))}"
            ) from None
    out.progress(f"cross-validation: done in {time.perf_counter() - start:.1f} s")
    final = Pipeline([*pipeline.steps[:-1], ("model", search.best_estimator_)])
    return _search_results(search), final


def _search_results(search):
    """A fitted search's ``cv_results_`` as :class:`CVResults`."""
    pd = import_pandas()
    res = search.cv_results_
    names = list(search.scoring) if search.multimetric_ else ["score"]
    candidates = [{"model__beta": p["beta"], "model__alpha": p["alpha"]} for p in res["params"]]
    records = []
    for c in range(len(candidates)):
        for f in range(search.n_splits_):
            record = {
                "candidate": c,
                "fold": f,
                "fit_time": float(res["mean_fit_time"][c]),
                "score_time": float(res["mean_score_time"][c]),
            }
            for name in names:
                record[f"test_{name}"] = float(res[f"split{f}_test_{name}"][c])
            records.append(record)
    return CVResults(candidates=candidates, fits=pd.DataFrame(records), n_folds=search.n_splits_)
