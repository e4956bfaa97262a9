"""The coefficient table of ``skce fit`` and the standard errors in its model file (issue 24).

In-process through ``main(argv)`` like ``tests/test_cli.py`` (whose helpers
are reused). References: the estimator's own ``coef_table``, computed here on
the same data by the pipeline written out in ``tests/test_cli.py``, and
statsmodels' ``Logit`` with HC0 (sandwich) standard errors for an
unweighted, unpenalised fit.
"""

import json

import numpy as np
import pandas as pd
import pytest

from skce import SoftmaxCE, WeightedLogisticCE
from skce.cli import ModelFileError, load_model
from tests.test_cli import FEATURES, make_frame, reference_pipeline, run, with_checksum

FAST = ["--cv", "2", "-j", "1"]
TERMS = ["x1", "x2", "colour=blue", "colour=green", "colour=red", "intercept"]
COLUMNS = ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]


def printed_table(stdout):
    """The rows of the coefficient table (header excluded), split into cells."""
    lines = stdout.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("coefficients "))
    assert lines[start + 1].split()[:2] in (["term", "coef"], ["class", "term"])
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("  "):
            break
        rows.append(line.split())
    return lines[start], rows


def numbers(cells):
    """A printed row's numbers: coef, std err, z, p-value (``<0.0001`` as 0), interval."""
    return [0.0 if c == "<0.0001" else float(c) for c in cells]


def assert_rows_match(rows, reference):
    """Every printed number is the reference's, rounded as printed (z to 2 decimals)."""
    got = np.array([numbers(row[-6:]) for row in rows])
    want = reference[COLUMNS].to_numpy(copy=True)
    # p-values below 1e-4 are printed as <0.0001.
    want[:, 3] = np.where(want[:, 3] < 5e-5, 0.0, want[:, 3])
    tolerance = np.array([5e-5, 5e-5, 5e-3, 5e-5, 5e-5, 5e-5]) * 1.001
    assert np.all(np.abs(got - want) <= tolerance), (got, want)


def in_process_table(frame, estimator, positive=None):
    """The estimator's coef_table on the rows the CLI's final fit saw, fitted here."""
    X = frame[FEATURES].astype({"colour": object})
    y = frame["label"].to_numpy(dtype=object)
    if positive is not None:
        y = (y == positive).astype(np.int64)
    pipeline = reference_pipeline(estimator).fit(X, y)
    return pipeline[-1].coef_table(pipeline[:-1].transform(X), y)


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    """``skce fit --beta 2`` of train.csv: (directory, result, model document)."""
    path = tmp_path_factory.mktemp("coef")
    make_frame().to_csv(path / "train.csv", index=False)
    result = run("fit", "train.csv", "--target", "label", "--beta", "2", *FAST, cwd=path)
    assert result.returncode == 0, result.stderr
    return path, result, json.loads((path / "train.skce.json").read_text())


def test_fit_prints_the_coef_table_of_the_estimator(binary):
    _, result, _ = binary
    heading, rows = printed_table(result.stdout)
    assert heading == (
        "coefficients of the log-odds of 'yes', sandwich standard errors, 95% confidence intervals:"
    )
    assert [row[0] for row in rows] == TERMS
    reference = in_process_table(
        make_frame(), WeightedLogisticCE(beta=2.0, alpha=1e-4), positive="yes"
    )
    assert_rows_match(rows, reference)
    # The table comes after the metrics and before the saved model's line.
    out = result.stdout
    assert out.index("ROC AUC") < out.index("coefficients of") < out.index("saved to")
    assert "with β = 2 the intercept is about ln β = 0.693" in " ".join(out.split())
    assert "skce: warning" not in result.stderr


def test_model_file_holds_the_standard_errors(binary):
    path, _, document = binary
    errors = document["model"]["std_errors"]
    assert errors["kind"] == "sandwich" and errors["unavailable"] is None
    assert errors["reference_class"] == "no"  # the log-odds of 'yes' against 'no'
    reference = in_process_table(
        make_frame(), WeightedLogisticCE(beta=2.0, alpha=1e-4), positive="yes"
    )
    np.testing.assert_allclose(errors["coef"], [reference["std_err"][:-1]], rtol=1e-6)
    np.testing.assert_allclose(errors["intercept"], [reference["std_err"].iloc[-1]], rtol=1e-6)
    assert load_model(path / "train.skce.json").std_errors == errors


def test_model_file_without_standard_errors_still_loads(binary, tmp_path):
    # A file written before skce saved them: the same format_version, no model.std_errors.
    path, _, document = binary
    document = json.loads(json.dumps(document))
    del document["model"]["std_errors"]
    old = tmp_path / "old.skce.json"
    old.write_text(json.dumps(with_checksum(document), indent=1))
    saved = load_model(old)
    assert saved.std_errors is None
    new = load_model(path / "train.skce.json")
    X = saved.features(pd.read_csv(path / "train.csv").astype({"colour": object}))
    np.testing.assert_array_equal(saved.pipeline.predict_proba(X), new.pipeline.predict_proba(X))
    result = run("predict", old, path / "train.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def _negative(errors):
    errors["coef"][0][0] = -errors["coef"][0][0]


def _wrong_shape(errors):
    errors["coef"] = errors["coef"] * 2


def _numbers_with_a_reason(errors):
    errors["unavailable"] = "a reason"


def _unknown_kind(errors):
    errors["kind"] = "bootstrap"


def _other_reference(errors):
    errors["reference_class"] = "yes"


def _intercept_missing(errors):
    errors["intercept"] = None


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (_negative, "model.std_errors.coef"),
        (_wrong_shape, "model.std_errors.coef"),
        (_numbers_with_a_reason, "null when they are unavailable"),
        (_unknown_kind, "model.std_errors.kind"),
        (_other_reference, "model.std_errors.reference_class"),
        (_intercept_missing, "model.std_errors.intercept"),
    ],
)
def test_malformed_standard_errors_are_refused(binary, tmp_path, edit, fragment):
    _, _, document = binary
    document = json.loads(json.dumps(document))
    edit(document["model"]["std_errors"])
    model = tmp_path / "edited.skce.json"
    model.write_text(json.dumps(with_checksum(document)))
    with pytest.raises(ModelFileError, match=fragment):
        load_model(model)


def test_standard_errors_of_a_maximum_likelihood_fit_are_statsmodels(tmp_path):
    sm = pytest.importorskip("statsmodels.api")
    frame = make_frame()
    frame.to_csv(tmp_path / "train.csv", index=False)
    result = run("fit", "train.csv", "--target", "label", "--alpha", "0", "--drop", "colour",
                 *FAST, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Logit on the standardised columns (StandardScaler: the population standard
    # deviation) and a constant, with HC0 (sandwich) standard errors.
    X = frame[["x1", "x2"]].to_numpy()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = (frame["label"] == "yes").to_numpy(dtype=float)
    logit = sm.Logit(y, np.column_stack([X, np.ones(len(y))])).fit(disp=0, cov_type="HC0")
    _, rows = printed_table(result.stdout)
    assert [row[0] for row in rows] == ["x1", "x2", "intercept"]
    printed = np.array([numbers(row[1:3]) for row in rows])
    np.testing.assert_allclose(printed[:, 0], logit.params, atol=5.01e-5)
    np.testing.assert_allclose(printed[:, 1], logit.bse, atol=5.01e-5)
    saved = json.loads((tmp_path / "train.skce.json").read_text())["model"]["std_errors"]
    np.testing.assert_allclose(saved["coef"][0] + saved["intercept"], logit.bse, rtol=1e-5)
    assert "note: numeric columns are standardised" in result.stdout
    assert "of these estimates." in " ".join(result.stdout.split())  # not weighted, penalised


def test_no_coef_table_leaves_it_out_and_keeps_the_standard_errors(tmp_path):
    make_frame(n=60).to_csv(tmp_path / "train.csv", index=False)
    result = run("fit", "train.csv", "--target", "label", "--no-coef-table", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "coefficients" not in result.stdout and "std err" not in result.stdout
    assert "saved to train.skce.json" in result.stdout
    errors = load_model(tmp_path / "train.skce.json").std_errors
    assert errors["unavailable"] is None and len(errors["coef"][0]) == 5


@pytest.mark.parametrize(
    "edit, options, fragments",
    [
        # A column that repeats another: their difference is undetermined.
        (lambda f: f.assign(again=f["x1"]), ["--drop", "colour"], ["'x1'", "'again'"]),
        # The one-hot columns of 'colour' sum to the intercept's column.
        (lambda f: f, [], ["'colour=blue'", "one-hot columns", "--alpha > 0"]),
    ],
    ids=["repeated-column", "one-hot"],
)
def test_singular_hessian_warns_and_still_writes_the_model(tmp_path, edit, options, fragments):
    edit(make_frame(n=60)).to_csv(tmp_path / "train.csv", index=False)
    result = run("fit", "train.csv", "--target", "label", "--alpha", "0", *options, *FAST,
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("skce: warning:")]
    assert len(warned) == 1, result.stderr
    assert "no coefficient table and no standard errors in the model file" in warned[0]
    assert "singular" in warned[0]
    for fragment in fragments:
        assert fragment in warned[0], (fragment, warned[0])
    assert "coefficients of" not in result.stdout
    text = (tmp_path / "train.skce.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    errors = load_model(tmp_path / "train.skce.json").std_errors
    assert errors["coef"] is None and errors["intercept"] is None
    assert "singular" in errors["unavailable"]
    predicted = run("predict", "train.skce.json", "train.csv", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr


def test_softmax_table_is_per_class_relative_to_the_first(tmp_path):
    frame = make_frame(n_classes=3)
    frame.to_csv(tmp_path / "three.csv", index=False)
    result = run("fit", "three.csv", "--target", "label", "--softmax", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    heading, rows = printed_table(result.stdout)
    assert heading == (
        "coefficients relative to class 'high', sandwich standard errors, 95% confidence intervals:"
    )
    assert [row[:2] for row in rows] == [[c, t] for c in ("low", "mid") for t in TERMS]
    reference = in_process_table(frame, SoftmaxCE(alpha=1e-4))
    assert reference.attrs["reference_class"] == "high"
    assert_rows_match(rows, reference)
    assert "reference class 'high' (the first in sort order)" in " ".join(result.stdout.split())
    errors = load_model(tmp_path / "three.skce.json").std_errors
    assert errors["reference_class"] == "high"
    se = reference["std_err"].to_numpy().reshape(2, 6)
    np.testing.assert_allclose(errors["coef"], se[:, :-1], rtol=1e-6)
    np.testing.assert_allclose(errors["intercept"], se[:, -1], rtol=1e-6)


def test_wide_models_are_saved_without_standard_errors(tmp_path):
    """A categorical column of 2,100 levels: 2,102 parameters, more than the CLI computes
    a covariance for (its P x P matrices); one warning line, and the model still works."""
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame({"x1": rng.normal(size=n), "code": [f"c{i % 2100}" for i in range(n)]})
    frame["label"] = np.where(frame["x1"] + rng.normal(size=n) > 0, "yes", "no")
    frame.to_csv(tmp_path / "wide.csv", index=False)
    result = run("fit", "wide.csv", "--target", "label", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("skce: warning:")]
    assert len(warned) == 1 and "not computed for 2,102 parameters" in warned[0], result.stderr
    assert "coefficients of" not in result.stdout
    errors = load_model(tmp_path / "wide.skce.json").std_errors
    assert errors["coef"] is None and "2,102 parameters" in errors["unavailable"]
    assert run("predict", "wide.skce.json", "wide.csv", cwd=tmp_path).returncode == 0
