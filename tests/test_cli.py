"""End-to-end tests of the ``skce`` command line, run in-process through ``main(argv)``.

The data are small CSV files written here (two numeric columns, a categorical
column, string labels); the CLI runs with ``--cv 3 -j 1`` to stay fast. One
test (``test_python_m_skce_smoke``) runs ``python -m skce`` as a subprocess.
"""

import contextlib
import io
import json
import os
import pickle
import subprocess
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skce import SoftmaxCE, WeightedLogisticCE
from skce.cli import BETA_GRID, DEMO_DIGIT, ModelFileError, load_model, main, read_csv

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
def test_demo_runs_the_beta_search(tmp_path):
    result = run("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"digit {DEMO_DIGIT}" in out
    table = out[out.index("β ") :]
    for beta in BETA_GRID:
        label = beta if isinstance(beta, str) else f"{beta:g}"
        assert any(line.strip().startswith(label) for line in table.splitlines()), label
    assert "cross-entropy" in out and "balanced accuracy" in out and "fit time" in out
    assert out.count("<- chosen") == 1
    assert "chosen β = " in out and "interpretation:" in out
    # Progress on stderr, ending with the total number of fits (6 β × 5 folds).
    assert "30/30 fits done" in result.stderr
    assert "Traceback" not in result.stderr


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


def test_predict_round_trip_matches_the_in_process_pipeline(work):
    path, _ = work
    result = run("predict", "train.skce.json", "new.csv", "--proba", cwd=path)
    assert result.returncode == 0, result.stderr
    predicted = pd.read_csv(io.StringIO(result.stdout))
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


def test_tune_beta_reports_the_chosen_beta(work):
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
    assert "chosen β = " in result.stdout
    chosen = json.loads((path / "tuned.json").read_text())["model"]["params"]["beta"]
    assert chosen in BETA_GRID


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


# -- usage errors (exit status 2) -------------------------------------------------------------
@pytest.mark.parametrize(
    "args, fragments",
    [
        (["fit", "nowhere.csv", "--target", "label"], ["not found", "nowhere.csv"]),
        (["fit", "train.csv", "--target", "colour_"], ["no column 'colour_'", "'label'"]),
        (["fit", "three.csv", "--target", "label"], ["3 classes", "--softmax"]),
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


def test_failed_fit_is_a_run_time_error(tmp_path):
    # Values near the float64 limit overflow when standardised: the fit fails.
    values = [1e308, -1e308, 1.5e308, -1.7e308, 1e308, -1e308]
    frame = pd.DataFrame({"x": values, "y": ["a", "b"] * 3})
    frame.to_csv(tmp_path / "huge.csv", index=False)
    result = run("fit", "huge.csv", "--target", "y", "--cv", "2", "-j", "1", "-q", cwd=tmp_path)
    assert_one_line_error(result, 1, "fitting failed")
    assert not (tmp_path / "huge.skce.json").exists()


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
    (path / "evil.json").write_text(json.dumps(document))
    result = run("predict", "evil.json", "new.csv", cwd=path)
    assert_one_line_error(result, 1, "os.system", "not a valid skce model file")


def _tampered(document, edit):
    document = json.loads(json.dumps(document))
    edit(document)
    return json.dumps(document).encode()


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
    # The untouched document still loads.
    model = tmp_path / "good.json"
    model.write_bytes(_tampered(document, lambda d: None))
    assert load_model(model).classes == ["no", "yes"]
