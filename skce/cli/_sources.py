"""Where the rows of ``skce fit`` live: the data-source interface and the table in memory.

``skce fit`` (:func:`~skce.cli._commands.cmd_fit`) is one flow over a
:class:`DataSource`: :class:`InMemoryTable` (here) or
:class:`~skce.cli._files.FilesOnCluster`.
"""

import abc
import contextlib
import time
from pathlib import Path

from ._crossval import search_beta_alpha
from ._data import (
    check_feature_columns,
    check_input_file,
    check_missing,
    features,
    make_pipeline,
    read_csv,
    split_columns,
    target,
)
from ._modelfile import default_model_path
from ._output import UsageError


class DataSource(abc.ABC):
    """The rows of ``skce fit``: read, split into folds, fitted and scored.

    The constructor checks the options that concern the source (before any
    work); :meth:`read` sets the attributes below; :meth:`prepare` builds the
    pipeline and the folds; then the cross-validation calls
    :meth:`fit_and_score` for every (candidate, fold) through :meth:`run`, and
    :meth:`fit` fits on all rows; :meth:`fitted_rows` gives the rows of that
    fit to its coefficient table.

    Attributes
    ----------
    classes, counts : list
        The target's labels (sorted) and their row counts.
    columns, numeric, categorical : list of str
        The feature columns in file order, and by kind.
    n_rows : int
    searches_alpha : bool
        Whether ``--tune-beta`` searches alpha too, with
        :class:`~skce.WeightedLogisticCECV` on the rows (:meth:`search`);
        otherwise β is tuned by cross-validating ``WeightedLogisticCE`` at
        ``--alpha``.
    processes : str
        Where the fold fits run, for the progress line (``"on 2 processes"``).
    """

    searches_alpha = False

    def __init__(self, args):
        self.args = args

    @abc.abstractmethod
    def inputs(self):
        """Pairs (description, path) that the model file must not overwrite."""

    @abc.abstractmethod
    def default_model_path(self):
        """Where the model is saved without ``--model``."""

    def session(self, out):
        """A context in which the source's work happens (e.g. a connected cluster)."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    def read(self, out):
        """Read and check the data; set ``classes``, ``counts``, ``columns``, ... ."""

    @abc.abstractmethod
    def described(self):
        """The start of the ``data:`` line, e.g. ``train.csv: 120 rows``."""

    @abc.abstractmethod
    def rows(self):
        """What was cross-validated, e.g. ``120 rows``."""

    @abc.abstractmethod
    def training(self):
        """The model file's ``training`` fields that describe the data."""

    @abc.abstractmethod
    def prepare(self, estimator, positive):
        """The pipeline around ``estimator``; the fits see 1 for ``positive`` (if not None)."""

    @abc.abstractmethod
    def fit_and_score(self, pipeline, params, fold, metrics):
        """Fit ``pipeline`` with ``params`` off ``fold``, score it on ``fold``.

        Returns ``fit_time``, ``score_time`` (seconds) and ``test_<name>``
        for every metric of ``metrics`` (as :func:`~skce.cli._crossval.fit_scorers`
        returns them: greater is better).
        """

    @abc.abstractmethod
    def run(self, tasks):
        """A generator of the results of ``tasks`` (``joblib.delayed`` calls), in any order."""

    @abc.abstractmethod
    def fit(self, pipeline, params):
        """``pipeline`` with ``params`` fitted on all rows."""

    @abc.abstractmethod
    def fitted_rows(self, pipeline):
        """``(X, y, sample_weight)`` as the estimator of ``pipeline``, fitted on all rows, saw them.

        The features after the pipeline's preprocessing, the labels as the
        fit encoded them, and the weights it used: the data of its
        coefficient table.
        """


class InMemoryTable(DataSource):
    """One CSV file read into memory; stratified K-fold splits; fold fits through joblib."""

    searches_alpha = True

    def __init__(self, args):
        super().__init__(args)
        self.path = check_input_file(args.data, "data file")
        jobs = args.jobs
        self.processes = f"on {jobs} process{'es' if jobs > 1 else ''}"

    def inputs(self):
        return {"the training data": self.path}

    def default_model_path(self):
        return default_model_path(self.path)

    def read(self, out):
        import numpy as np

        args, path = self.args, self.path
        frame = read_csv(path, sep=args.sep, encoding=args.encoding, decimal=args.decimal)
        if args.target not in frame.columns:
            hint = ""
            if frame.shape[1] == 1:
                hint = (
                    f"; the file has a single column when read as separated by "
                    f"{frame.attrs['sep']!r}: if another character separates its fields, "
                    "pass --sep"
                )
            raise UsageError(
                f"{path} has no column {args.target!r}; its columns are "
                f"{', '.join(repr(c) for c in frame.columns)}{hint}"
            )
        self._check_drop(frame)
        self.columns = [c for c in frame.columns if c != args.target and c not in args.drop]
        if not self.columns:
            if args.drop:
                raise UsageError(f"--drop leaves {path} with no feature columns besides the target")
            raise UsageError(f"{path} has no feature columns besides the target {args.target!r}")
        self.y = target(frame, args.target, path)
        classes, counts = np.unique(self.y, return_counts=True)
        self.classes, self.counts = classes.tolist(), counts.tolist()
        self.n_rows = len(frame)
        self.separator = frame.attrs.get("sep", ",")
        self.numeric, self.categorical = split_columns(frame, self.columns)
        check_feature_columns(frame, self.categorical, path)
        self.X = features(frame, self.numeric, self.categorical, path)
        if args.impute:
            empty = [c for c in self.X.columns if self.X[c].isna().all()]
            if empty:
                raise UsageError(
                    f"column {empty[0]!r} has no values at all, so there is nothing to impute "
                    "from; remove the column"
                )
        else:
            check_missing(
                self.X,
                path,
                "pass --impute to fill missing values (median for numeric, most frequent "
                "value for other columns)",
            )

    def _check_drop(self, frame):
        """The usage error of ``--drop`` naming a column the file lacks."""
        for column in self.args.drop:
            if column not in frame.columns:
                raise UsageError(
                    f"--drop: {self.path} has no column {column!r}; its columns are "
                    f"{', '.join(repr(c) for c in frame.columns)}"
                )

    def described(self):
        separated = f", separated by {self.separator!r}" if self.separator != "," else ""
        return f"{self.path}: {self.n_rows} rows{separated}"

    def rows(self):
        return f"{self.n_rows} rows"

    def training(self):
        return {"data": Path(self.path).name, "n_rows": self.n_rows}

    def prepare(self, estimator, positive):
        import numpy as np
        from sklearn.model_selection import StratifiedKFold

        if positive is not None:
            # WeightedLogisticCE weights classes_[1], the larger label: fitted
            # on 1 for the positive label, any label is the weighted one.
            self.y = (np.asarray(self.y) == positive).astype(np.int64)
        args = self.args
        folds = StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=args.seed)
        # Each row's fold (the test sets partition the rows): one array to send
        # to joblib's workers, not every fold's train and test indices.
        self.fold = np.empty(self.n_rows, dtype=np.int64)
        for k, (_, test) in enumerate(folds.split(self.X, self.y)):
            self.fold[test] = k
        return make_pipeline(self.numeric, self.categorical, estimator, impute=args.impute)

    def fit_and_score(self, pipeline, params, fold, metrics):
        import numpy as np
        from sklearn.metrics import get_scorer

        train, test = np.flatnonzero(self.fold != fold), np.flatnonzero(self.fold == fold)
        start = time.perf_counter()
        model = self.fit(pipeline, params, train)
        record = {"fit_time": time.perf_counter() - start}
        start = time.perf_counter()
        X_test, y_test = self.X.iloc[test], self.y[test]
        for name, (scorer, _, _) in metrics.items():
            scorer = get_scorer(scorer) if isinstance(scorer, str) else scorer
            record[f"test_{name}"] = float(scorer(model, X_test, y_test))
        record["score_time"] = time.perf_counter() - start
        return record

    def run(self, tasks):
        import warnings

        from joblib import Parallel

        # verbose=0 whatever a caller's joblib.parallel_config says: the progress
        # lines are ours, and joblib's sequential generator (n_jobs=1), closed
        # early after a failed fit with verbose > 0, fails in its own progress
        # report ("'Parallel' object has no attribute '_pre_dispatch_amount'").
        results = Parallel(n_jobs=self.args.jobs, verbose=0, return_as="generator_unordered")
        generator = results(tasks)
        try:
            # Not "yield from": it would close the generator outside the filter below.
            for result in generator:  # noqa: UP028
                yield result
        finally:
            # Closing stops the fits still queued after a failure; joblib warns
            # that it cancelled them, which is what was asked for.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=UserWarning, module="joblib")
                generator.close()

    def fit(self, pipeline, params, rows=None):
        from sklearn.base import clone

        model = clone(pipeline).set_params(**params)
        if rows is None:
            return model.fit(self.X, self.y)
        return model.fit(self.X.iloc[rows], self.y[rows])

    def fitted_rows(self, pipeline):
        return pipeline.named_steps["preprocess"].transform(self.X), self.y, None

    def search(self, pipeline, out):
        """``--tune-beta``: the ``WeightedLogisticCECV`` pipeline fitted on the rows."""
        return search_beta_alpha(pipeline, self.X, self.y, out=out)
