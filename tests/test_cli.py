"""End-to-end tests of the ``skce`` command line, run in-process through ``main(argv)``.

The data are small CSV files written here (two numeric columns, a categorical
column, string labels); the CLI runs with ``--cv 3 -j 1`` to stay fast. One
test (``test_python_m_skce_smoke``) runs ``python -m skce`` as a subprocess.
"""

import contextlib
import hashlib
import io
import json
import os
import pickle
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.metrics import make_scorer, precision_score, recall_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skce import SoftmaxCE, WeightedLogisticCE, WeightedLogisticCECV, cross_entropy_score
from skce.cli import BETA_GRID, DEMO_DIGIT, ModelFileError, load_model, main, read_csv
from skce.cli._commands import report_fit_status
from skce.cli._modelfile import model_document, write_model
from skce.cli._output import Output
from skce.cli._reports import format_beta

FEATURES = ["x1", "x2", "colour"]
FAST = ["--cv", "3", "-j", "1"]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _working_directory(path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def run(*args, cwd):
    """Run ``main(ARGS)`` in ``cwd``, capturing stdout and stderr; return a Result."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        _working_directory(cwd),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        code = main([str(a) for a in args])
    return Result(code, stdout.getvalue(), stderr.getvalue())


def assert_one_line_error(result, code, *fragments):
    """Exit status ``code``, one ``skce: error:`` line naming every fragment, no traceback."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("skce: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def make_frame(n=120, seed=0, n_classes=2):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n).round(6)
    x2 = rng.normal(5.0, 2.0, size=n).round(6)
    colour = rng.choice(["red", "green", "blue"], size=n)
    logit = 1.5 * x1 - 0.5 * (x2 - 5.0) + 1.0 * (colour == "red") - 1.0
    if n_classes == 2:
        label = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    else:
        label = np.select([logit > 0.5, logit < -1.5], ["high", "low"], "mid")
    return pd.DataFrame({"x1": x1, "x2": x2, "colour": colour, "label": label})


def reference_pipeline(estimator, impute=False):
    """The pipeline that ``skce fit`` builds, written out independently."""
    num = [("impute", SimpleImputer(strategy="median"))] if impute else []
    cat = [("impute", SimpleImputer(strategy="most_frequent"))] if impute else []
    num.append(("scale", StandardScaler()))
    cat.append(("onehot", OneHotEncoder(handle_unknown="ignore")))
    preprocess = ColumnTransformer(
        [("num", Pipeline(num), ["x1", "x2"]), ("cat", Pipeline(cat), ["colour"])]
    )
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def in_process_fit(frame, estimator, impute=False):
    X = frame[FEATURES].astype({"colour": object})
    y = frame["label"].to_numpy(dtype=object)
    return reference_pipeline(estimator, impute).fit(X, y)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A directory with train.csv, new.csv, three.csv, and a model fitted by the CLI."""
    path = tmp_path_factory.mktemp("cli")
    make_frame().to_csv(path / "train.csv", index=False)
    new = make_frame(n=25, seed=1).drop(columns="label")
    new.to_csv(path / "new.csv", index=False)
    make_frame(n_classes=3).to_csv(path / "three.csv", index=False)
    fit = run("fit", "train.csv", "--target", "label", "--beta", "2", *FAST, cwd=path)
    return path, fit


# -- demo ----------------------------------------------------------------------------
def table_rows(text, header):
    """The rows of the text table under the line starting with ``header``, split into cells."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if line.strip().startswith(header))
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def _scaled_digits():
    X, digit = load_digits(return_X_y=True)
    y = (digit == DEMO_DIGIT).astype(np.int64)
    # The demo's pipeline scales all rows once, then its search splits them.
    return StandardScaler().fit_transform(X), y


def test_demo_prints_the_beta_alpha_table_of_grid_search_cv(tmp_path):
    result = run("demo", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"digit {DEMO_DIGIT}" in out
    assert out.count("<- chosen") == 1
    assert "chosen β = " in out and "interpretation:" in out
    # Progress on stderr: 6 β × 8 alphas × 3 folds, in 18 warm-started paths.
    assert "240" not in result.stderr and "144 fits (6 β × 8 alphas × 3 folds)" in result.stderr
    assert "in 18 warm-started paths" in result.stderr

    rows = table_rows(out, "β  ")
    assert len(rows) == len(BETA_GRID)
    grid = table_rows(out.split("balanced accuracy over β")[1], "β ")  # the β × alpha table
    alphas = [
        float(a) for a in out.split("balanced accuracy over β")[1].splitlines()[1].split()[1:]
    ]
    assert len(grid) == len(BETA_GRID) and len(alphas) == 8

    # The independent reference: GridSearchCV with the same folds and scorers at the
    # (β, alpha) of every printed row.
    X, y = _scaled_digits()
    pairs = [(beta, float(row[1])) for beta, row in zip(BETA_GRID, rows, strict=True)]
    search = GridSearchCV(
        WeightedLogisticCE(),
        [{"beta": [beta], "alpha": [alpha]} for beta, alpha in pairs],
        scoring={
            "ce": cross_entropy_score,
            "recall": "recall",
            "precision": make_scorer(precision_score, zero_division=0),
            "bacc": "balanced_accuracy",
        },
        refit=False,
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    cv = search.cv_results_
    for k, (row, beta) in enumerate(zip(rows, BETA_GRID, strict=True)):
        label = beta if isinstance(beta, str) else f"{beta:g}"
        assert row[0].startswith(label), row
        assert row[2:6] == [
            f"{-cv['mean_test_ce'][k]:.4f}",
            f"{cv['mean_test_recall'][k]:.3f}",
            f"{cv['mean_test_precision'][k]:.3f}",
            f"{cv['mean_test_bacc'][k]:.4f}",
        ], (beta, row)
        # Each row is its β's best alpha in the grid table, and the grid agrees.
        cells = [float(c) for c in grid[k][1:]]
        assert row[5] == f"{max(cells):.4f}" == grid[k][1 + alphas.index(pairs[k][1])]
    chosen = int(np.argmax(cv["mean_test_bacc"]))
    assert rows[chosen][-1].endswith("<- chosen")
    best_cell = max(float(c) for g in grid for c in g[1:])
    assert f"({best_cell:.4f})" in out


# -- fit and predict ---------------------------------------------------------------------
def test_fit_prints_metrics_and_saves_the_model(work):
    path, fit = work
    assert fit.returncode == 0, fit.stderr
    for metric in ("cross-entropy", "accuracy", "balanced accuracy", "recall", "precision"):
        assert metric in fit.stdout
    assert "ROC AUC" in fit.stdout and "positive class 'yes'" in fit.stdout
    assert (path / "train.skce.json").is_file()
    assert "saved to train.skce.json" in fit.stdout
    assert "fits done" in fit.stderr  # progress


def test_fit_metrics_equal_cross_validate(work):
    path, fit = work
    frame = pd.read_csv(path / "train.csv")
    X = frame[FEATURES].astype({"colour": object})
    y = frame["label"].to_numpy(dtype=object)
    scoring = {
        "cross-entropy (nats)": cross_entropy_score,
        "accuracy": "accuracy",
        "balanced accuracy": "balanced_accuracy",
        "recall ('yes')": make_scorer(recall_score, pos_label="yes"),
        "precision ('yes')": make_scorer(precision_score, pos_label="yes", zero_division=0),
        "ROC AUC": "roc_auc",
    }
    reference = cross_validate(
        reference_pipeline(WeightedLogisticCE(beta=2.0, alpha=1e-4)),
        X,
        y,
        scoring=scoring,
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
    )
    rows = {row[0]: row[1:3] for row in table_rows(fit.stdout, "metric")}
    assert list(rows) == list(scoring)
    for name in scoring:
        scores = reference[f"test_{name}"] * (-1 if name.startswith("cross-entropy") else 1)
        assert rows[name] == [f"{scores.mean():.4f}", f"{scores.std():.4f}"], name


def test_predict_round_trip_matches_the_in_process_pipeline(work):
    path, _ = work
    result = run("predict", "train.skce.json", "new.csv", "--proba", cwd=path)
    assert result.returncode == 0, result.stderr
    # Read as text and parsed by Python's float: pandas 2's default float parser is
    # an ulp off on some values (pandas 3 deprecates its float_precision option).
    predicted = pd.read_csv(io.StringIO(result.stdout), dtype=str)
    for column in ["proba_no", "proba_yes"]:
        predicted[column] = predicted[column].map(float)
    assert list(predicted.columns) == ["label", "proba_no", "proba_yes"]

    reference = in_process_fit(
        pd.read_csv(path / "train.csv"), WeightedLogisticCE(beta=2.0, alpha=1e-4)
    )
    X_new = pd.read_csv(path / "new.csv").astype({"colour": object})
    proba = predicted[["proba_no", "proba_yes"]].to_numpy()
    np.testing.assert_allclose(proba, reference.predict_proba(X_new), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert predicted["label"].tolist() == reference.predict(X_new).tolist()

    # The loaded pipeline, in this process, predicts the same.
    saved = load_model(path / "train.skce.json")
    X = saved.features(read_csv(path / "new.csv"))
    np.testing.assert_array_equal(saved.pipeline.predict_proba(X), proba)
    assert saved.target == "label" and saved.classes == ["no", "yes"]


def test_predict_writes_out_file(work):
    path, _ = work
    result = run("predict", "train.skce.json", "new.csv", "--out", "pred.csv", cwd=path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    predicted = pd.read_csv(path / "pred.csv")
    assert list(predicted.columns) == ["label"]
    assert len(predicted) == 25 and set(predicted["label"]) <= {"no", "yes"}


def test_tune_beta_reports_the_chosen_beta_and_alpha(work):
    path, _ = work
    result = run(
        "fit",
        "train.csv",
        "--target",
        "label",
        "--tune-beta",
        "--model",
        "tuned.json",
        *FAST,
        cwd=path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("<- chosen") == 1
    assert "chosen β = " in result.stdout and ", alpha = " in result.stdout
    model = json.loads((path / "tuned.json").read_text())["model"]
    assert model["class"] == "WeightedLogisticCE"
    chosen = (model["params"]["beta"], model["params"]["alpha"])
    # The independent reference: GridSearchCV over β and alpha with the same folds,
    # on the rows preprocessed once (as the search's pipeline does), choosing by
    # balanced accuracy as the command says it does.
    frame = pd.read_csv(path / "train.csv")
    X = frame[FEATURES].astype({"colour": object})
    y = frame["label"].to_numpy(dtype=object)
    features = reference_pipeline(WeightedLogisticCE())[:-1].fit_transform(X)
    alphas = WeightedLogisticCECV().alphas
    search = GridSearchCV(
        WeightedLogisticCE(),
        {"beta": list(BETA_GRID), "alpha": list(alphas)},
        scoring="balanced_accuracy",
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
        refit=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(features, y)
    means = search.cv_results_["mean_test_score"]
    winners = [
        (p["beta"], p["alpha"])
        for p, score in zip(search.cv_results_["params"], means, strict=True)
        if score == means.max()
    ]
    assert chosen in winners, (chosen, winners)
    assert f"({means.max():.4f})" in result.stdout
    # The metrics printed are those of the chosen candidate.
    assert f"at β = {format_beta(chosen[0])}, alpha = {chosen[1]:g}" in result.stdout
    # So are the coefficient table and the saved standard errors.
    assert "coefficients of the log-odds of 'yes', sandwich standard errors" in result.stdout
    codes = (y == "yes").astype(np.int64)
    best = WeightedLogisticCE(beta=chosen[0], alpha=chosen[1]).fit(features, codes)
    reference = best.std_errors(features, codes)
    saved = model["std_errors"]
    np.testing.assert_allclose(saved["coef"][0] + saved["intercept"], reference, rtol=1e-5)


def test_tune_beta_at_a_given_alpha_tunes_beta_only(work):
    path, _ = work
    result = run(
        "fit", "train.csv", "--target", "label", "--tune-beta", "--alpha", "0.01",
        "--model", "tuned_alpha.json", *FAST, cwd=path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "6 β × 1 alpha × 3 folds" in result.stderr
    assert json.loads((path / "tuned_alpha.json").read_text())["model"]["params"]["alpha"] == 0.01


def test_softmax_three_classes(work):
    path, _ = work
    result = run("fit", "three.csv", "--target", "label", "--softmax", *FAST, cwd=path)
    assert result.returncode == 0, result.stderr
    assert "balanced accuracy" in result.stdout and "ROC AUC" not in result.stdout
    result = run("predict", "three.skce.json", "new.csv", "--proba", cwd=path)
    assert result.returncode == 0, result.stderr
    predicted = pd.read_csv(io.StringIO(result.stdout))
    columns = ["proba_high", "proba_low", "proba_mid"]
    assert list(predicted.columns) == ["label", *columns]
    np.testing.assert_allclose(predicted[columns].sum(axis=1), 1.0, rtol=1e-12)
    reference = in_process_fit(pd.read_csv(path / "three.csv"), SoftmaxCE(alpha=1e-4))
    X_new = pd.read_csv(path / "new.csv").astype({"colour": object})
    np.testing.assert_allclose(
        predicted[columns].to_numpy(), reference.predict_proba(X_new), rtol=1e-9, atol=1e-12
    )


def test_impute_fills_missing_values(tmp_path):
    frame = make_frame()
    frame.loc[6, "x2"] = np.nan
    frame.loc[9, "colour"] = np.nan
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    result = run("fit", "gaps.csv", "--target", "label", "--impute", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "imputed" in result.stdout
    result = run("predict", "gaps.skce.json", "gaps.csv", "--proba", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    predicted = pd.read_csv(io.StringIO(result.stdout))
    reference = in_process_fit(frame, WeightedLogisticCE(alpha=1e-4), impute=True)
    X = frame[FEATURES].astype({"colour": object})
    np.testing.assert_allclose(
        predicted[["proba_no", "proba_yes"]].to_numpy(),
        reference.predict_proba(X),
        rtol=1e-9,
        atol=1e-12,
    )


def test_quiet_prints_only_results(work):
    path, _ = work
    args = ["fit", "train.csv", "--target", "label", "--model", "q.json", "-q", *FAST]
    result = run(*args, cwd=path)
    assert result.returncode == 0
    assert result.stderr == ""
    assert "balanced accuracy" in result.stdout and "data:" not in result.stdout


def test_version_and_help(tmp_path):
    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("skce ")
    result = run("fit", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "examples:" in result.stdout and "--tune-beta" in result.stdout


def test_python_m_skce_smoke(tmp_path):
    """The one subprocess test: the console entry point as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k != "SCIPY_ARRAY_API"}
    result = subprocess.run(
        [sys.executable, "-m", "skce", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("skce 0.") and "scikit-learn" in result.stdout


def test_repeated_in_process_calls_leave_no_state(work):
    path, _ = work
    filters, show = list(warnings.filters), warnings.showwarning
    args = ["fit", "train.csv", "--target", "label", "--model", "again.json", "--force", *FAST]
    first = run(*args, cwd=path)
    failed = run("fit", "train.csv", "--target", "nothing", cwd=path)
    second = run(*args, cwd=path)
    assert first.returncode == second.returncode == 0 and failed.returncode == 2
    assert warnings.filters == filters and warnings.showwarning is show
    assert first.stdout == second.stdout


def test_saved_model_with_prior_correction_predicts_as_the_fitted_pipeline(tmp_path):
    frame = make_frame()
    X = frame[FEATURES].astype({"colour": object})
    y = frame["label"].to_numpy(dtype=object)
    X_new = make_frame(n=25, seed=1)[FEATURES].astype({"colour": object})
    for estimator in (
        WeightedLogisticCE(beta=4.0, prior_correction=True),
        SoftmaxCE(class_weight={"yes": 3.0}, prior_correction=True),
    ):
        fitted = reference_pipeline(estimator).fit(X, y)
        document = model_document(
            fitted,
            target="label",
            classes=["no", "yes"],
            numeric=["x1", "x2"],
            categorical=["colour"],
            order=FEATURES,
            impute=False,
            training={},
            positive="yes" if isinstance(estimator, WeightedLogisticCE) else None,
        )
        model_path = tmp_path / "prior.skce.json"
        write_model(document, model_path)
        loaded = load_model(model_path).pipeline
        expected = fitted.predict_proba(X_new)
        np.testing.assert_allclose(loaded.predict_proba(X_new), expected, rtol=1e-12)
        # The correction matters: without it the probabilities differ.
        uncorrected = reference_pipeline(estimator.set_params(prior_correction=False))
        assert not np.allclose(uncorrected.fit(X, y).predict_proba(X_new), expected)

        # A file that does not say whether the correction applies is refused.
        del document["model"]["params"]["prior_correction"]
        write_model(with_checksum(document), model_path)
        with pytest.raises(ModelFileError, match="prior_correction"):
            load_model(model_path)


# -- usage errors (exit status 2) -------------------------------------------------------------
@pytest.mark.parametrize(
    "args, fragments",
    [
        (["fit", "nowhere.csv", "--target", "label"], ["not found", "nowhere.csv"]),
        (
            ["fit", "train.csv", "--target", "colour_", "--model", "unused.json"],
            ["no column 'colour_'", "'label'"],
        ),
        (
            ["fit", "three.csv", "--target", "label", "--model", "unused.json"],
            ["3 classes", "--softmax"],
        ),
        (["fit", "train.csv", "--target", "label", "--beta", "-2"], ["--beta", "'balanced'"]),
    ],
    ids=["missing-file", "missing-column", "three-classes-without-softmax", "bad-beta"],
)
def test_usage_errors(work, args, fragments):
    path, _ = work
    assert_one_line_error(run(*args, cwd=path), 2, *fragments)


def test_one_class_target(tmp_path):
    frame = make_frame(n=20)
    frame["label"] = "yes"
    frame.to_csv(tmp_path / "one.csv", index=False)
    result = run("fit", "one.csv", "--target", "label", cwd=tmp_path)
    assert_one_line_error(result, 2, "only one class", "'yes'")


def test_missing_value_without_impute_names_column_and_row(tmp_path):
    frame = make_frame(n=30)
    frame.loc[6, "x2"] = np.nan  # data row 7
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    result = run("fit", "gaps.csv", "--target", "label", cwd=tmp_path)
    assert_one_line_error(result, 2, "column 'x2'", "data row 7", "--impute")


class FailingCE(WeightedLogisticCE):
    """A classifier whose every fit fails (importable, so joblib's workers can load it)."""

    def fit(self, X, y, sample_weight=None):
        raise ValueError("deliberate failure")


def fit_with(estimator, work, tmp_path, monkeypatch, *options):
    """``skce fit`` of train.csv with ``estimator`` in place of the one the options choose."""
    from skce.cli import _commands

    choice = (estimator, [{}], type(estimator).__name__)
    monkeypatch.setattr(_commands, "_estimator", lambda args: choice)
    path, _ = work
    return run("fit", path / "train.csv", "--target", "label", *options, cwd=tmp_path)


@pytest.mark.parametrize("jobs", [1, 2])
def test_failed_fit_is_a_run_time_error(work, tmp_path, jobs, monkeypatch):
    # The fit fails in this process (-j 1) as in joblib's worker processes (-j 2).
    options = ["--model", "failed.json", "--cv", "2", "-j", jobs]
    result = fit_with(FailingCE(), work, tmp_path, monkeypatch, *options)
    assert result.returncode == 1, result.stderr
    # Progress lines, then the error; no warnings (not even joblib's note that
    # it cancelled the other fit) and no traceback.
    assert "warning" not in result.stderr and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("skce: error:")]
    assert errors == [result.stderr.splitlines()[-1]]
    assert "fitting failed (fold " in errors[0] and "ValueError: deliberate failure" in errors[0]
    assert not (tmp_path / "failed.json").exists()


class WarningCE(WeightedLogisticCE):
    """A classifier that warns in every fit (importable, for joblib's workers)."""

    def fit(self, X, y, sample_weight=None):
        warnings.warn("a note from fit", UserWarning, stacklevel=2)
        return super().fit(X, y, sample_weight)


@pytest.mark.parametrize("jobs", [1, 2])
def test_fold_warnings_are_replayed_once_with_their_count(work, tmp_path, jobs, monkeypatch):
    # Recorded in the fold fits (in worker processes with -j 2), replayed once.
    options = ["--model", "warned.json", "--cv", "3", "-j", jobs]
    result = fit_with(WarningCE(), work, tmp_path, monkeypatch, *options)
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "a note from fit" in line]
    assert warned == [
        "skce: warning: UserWarning: a note from fit (in 3 of 3 cross-validation fits)",
        "skce: warning: UserWarning: a note from fit",  # the final fit
    ]
    quiet = fit_with(WarningCE(), work, tmp_path, monkeypatch, *options, "--quiet", "--force")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_demo_without_pandas_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    result = run("demo", *FAST, cwd=tmp_path)
    assert_one_line_error(result, 2, "'skce demo' needs pandas", "pip install 'skce[cli]'")


def test_separable_classes_with_alpha_0_are_reported(tmp_path):
    frame = make_frame()
    frame["label"] = np.where(frame["x1"] > 0, "yes", "no")
    frame.to_csv(tmp_path / "sep.csv", index=False)
    result = run("fit", "sep.csv", "--target", "label", "--alpha", "0", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # (The other warning line: 'yes' is the majority here, 54% of the rows.)
    lines = [
        line
        for line in result.stderr.splitlines()
        if "warning" in line and "is the majority" not in line
    ]
    assert len(lines) == 1, result.stderr
    assert "linearly separable" in lines[0] and "--alpha > 0" in lines[0]
    # The same line says that there are no standard errors; the model file records it.
    assert "no standard errors (no coefficient table)" in lines[0]
    assert "coefficients of" not in result.stdout
    errors = load_model(tmp_path / "sep.skce.json").std_errors
    assert errors["coef"] is None and "linearly separable" in errors["unavailable"]


@pytest.mark.parametrize(
    "status, separable, fragments",
    [
        ("max_iter", False, ["max_iter=7", "larger --alpha"]),
        ("stalled", False, ["limit of floating-point precision", "can be used"]),
        ("max_iter", True, ["linearly separable", "--alpha > 0"]),
        ("converged", True, ["linearly separable", "--alpha > 0"]),
    ],
)
def test_fit_status_is_one_warning_line(status, separable, fragments, capsys):
    estimator = WeightedLogisticCE(max_iter=7)
    estimator.status_, estimator.separable_, estimator.n_iter_ = status, separable, 7
    report_fit_status(estimator, Output())
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("skce: warning: WeightedLogisticCE")
    for fragment in fragments:
        assert fragment in lines[0]


def test_converged_fit_prints_no_status(capsys):
    estimator = WeightedLogisticCE()
    estimator.status_, estimator.separable_, estimator.n_iter_ = "converged", False, 7
    report_fit_status(estimator, Output())
    assert capsys.readouterr().err == ""


def test_predict_with_missing_columns(work):
    path, _ = work
    pd.read_csv(path / "new.csv").drop(columns=["x2", "colour"]).to_csv(
        path / "partial.csv", index=False
    )
    result = run("predict", "train.skce.json", "partial.csv", cwd=path)
    assert_one_line_error(result, 2, "'x2'", "'colour'")


# -- model files that are not ours ----------------------------------------------------------
class _Payload:
    """Pickles into a call of os.system that would create ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_model_file_is_refused_without_running_it(work):
    path, _ = work
    marker = path / "PWNED-pickle"
    (path / "evil.skce.json").write_bytes(pickle.dumps(_Payload(marker)))
    result = run("predict", "evil.skce.json", "new.csv", cwd=path)
    assert_one_line_error(result, 1, "pickle")
    assert not marker.exists()


def test_json_model_file_naming_os_system_is_refused(work):
    path, _ = work
    document = json.loads((path / "train.skce.json").read_text())
    document["model"]["class"] = "os.system"
    (path / "evil.json").write_text(json.dumps(with_checksum(document)))
    result = run("predict", "evil.json", "new.csv", cwd=path)
    assert_one_line_error(result, 1, "os.system", "not a valid skce model file")


def with_checksum(document):
    """``document`` with its checksum recomputed, as a deliberate tamperer would.

    Written out here (sha256 of the canonical JSON without the field), so that
    the loader's own validation, not the checksum, is what refuses the file.
    """
    content = {k: v for k, v in document.items() if k != "checksum"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {**document, "checksum": "sha256:" + hashlib.sha256(text.encode()).hexdigest()}


def _tampered(document, edit):
    document = json.loads(json.dumps(document))
    edit(document)
    return json.dumps(with_checksum(document)).encode()


def test_load_model_refuses_tampered_files(work, tmp_path):
    path, _ = work
    marker = tmp_path / "PWNED"
    document = json.loads((path / "train.skce.json").read_text())
    eval_call = {"py/function": "builtins.eval", "args": [f"open({str(marker)!r}, 'w')"]}

    def set_coef(d):
        d["model"]["coef"][0][0] += 1.0

    def set_solver(d):
        d["model"]["params"]["solver"] = eval_call

    def set_class(d):
        d["model"]["class"] = "builtins.eval"

    variants = {
        "pickle-protocol-0": pickle.dumps(_Payload(marker), protocol=0),
        "zip": b"PK\x03\x04" + b"\0" * 40,
        "eval-in-params": _tampered(document, set_solver),
        "unknown-preconditioner": _tampered(
            document, lambda d: d["model"]["params"].update(preconditioner="newton")
        ),
        "eval-as-class": _tampered(document, set_class),
        "string-coefficients": _tampered(
            document, lambda d: d["model"].update(coef=[["__import__('os')"] * 5])
        ),
        "edited-coefficients": _tampered(document, set_coef),
        "future-version": _tampered(document, lambda d: d.update(format_version=99)),
        "nan": _tampered(document, lambda d: None).replace(b'"n_iter": ', b'"n_iter": NaN, "x": '),
        "deep": b"[" * 100000 + b"]" * 100000,
    }
    for name, content in variants.items():
        model = tmp_path / f"{name}.json"
        model.write_bytes(content)
        with pytest.raises(ModelFileError):
            load_model(model)
    assert not marker.exists()
    assert document["model"]["params"]["preconditioner"] == "auto"
    # The untouched document still loads.
    model = tmp_path / "good.json"
    model.write_bytes(_tampered(document, lambda d: None))
    assert load_model(model).classes == ["no", "yes"]


def test_numeric_columns_are_parsed_exactly():
    # Every 17-significant-digit value must come back bit for bit (pandas 2's
    # to_numeric alone is an ulp off on about a third of them).
    from skce.cli._data import _numeric

    values = np.random.default_rng(3).normal(size=2000) * 10.0 ** np.arange(-4, 4).repeat(250)
    texts = pd.Series([repr(float(v)) for v in values] + ["n/a", None, "1_000"], dtype=object)
    parsed = _numeric(texts).to_numpy()
    np.testing.assert_array_equal(parsed[:-3], values)
    assert np.isnan(parsed[-3:]).all()


@pytest.mark.parametrize(
    "name, value, fragments",
    [
        ("alpha", -1.0, ["'alpha' parameter of WeightedLogisticCE", "Got -1.0"]),
        ("max_iter", 0, ["'max_iter' parameter of WeightedLogisticCE", "Got 0"]),
        ("solver", "sgd", ["'solver' parameter of WeightedLogisticCE", "'sgd'"]),
        ("label_smoothing", 1.0, ["'label_smoothing' parameter", "Got 1.0"]),
        ("beta", "huge", ["'beta' parameter of WeightedLogisticCE", "'huge'"]),
        ("gamma", 1.0, ["Invalid parameter 'gamma'"]),
    ],
)
def test_model_file_parameters_are_judged_by_the_estimators_validation(
    work, tmp_path, name, value, fragments
):
    # The values scikit-learn's parameter validation refuses for the estimator
    # (WeightedLogisticCE(**{name: value}).fit would raise) make the file invalid.
    path, _ = work
    document = json.loads((path / "train.skce.json").read_text())
    document["model"]["params"][name] = value
    (tmp_path / "bad.json").write_text(json.dumps(with_checksum(document)))
    with pytest.raises((ValueError, TypeError)):
        WeightedLogisticCE(**document["model"]["params"]).fit([[0.0], [1.0]], [0, 1])
    result = run("predict", tmp_path / "bad.json", path / "new.csv", cwd=tmp_path)
    assert_one_line_error(result, 1, "not a valid skce model file", "model.params", *fragments)
