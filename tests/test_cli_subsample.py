"""``skce fit --subsample N`` (issue 25, item 4): the fit on a sample of the rows.

In-process through ``main(argv)`` like ``tests/test_cli.py`` (whose helpers are
reused). The reference is an independent path through the public API: a
``SubsampledCE`` fitted here, in the pipeline written out in
``tests/test_cli.py``, on the same rows with the same seed: the CLI must print
its kept count, rows read and standard errors, and save its estimate.
"""

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

from skce import SubsampledCE, WeightedLogisticCE
from skce.cli import load_model
from tests.test_cli import FEATURES, assert_one_line_error, reference_pipeline, run
from tests.test_cli_coefficients import printed_table

FAST = ["--cv", "2", "-j", "1"]
N_ROWS = 2000
SUBSAMPLE_LINE = re.compile(
    r"^subsample: kept (\d+) of the (\d+) rows read "
    r"\(method (\w+), expected size ([\d.]+), seed (\d+)\)$",
    re.MULTILINE,
)


def rare_frame(n=N_ROWS, seed=0):
    """x1, x2, colour and a label with about 11% 'yes' (a rare-ish positive class)."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n).round(6)
    x2 = rng.normal(5.0, 2.0, size=n).round(6)
    colour = rng.choice(["red", "green", "blue"], size=n)
    logit = 1.5 * x1 - 0.5 * (x2 - 5.0) + 1.0 * (colour == "red") - 3.0
    label = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": x2, "colour": colour, "label": label})


def reference(frame, **params):
    """(pipeline, X, y): ``SubsampledCE`` fitted as ``skce fit --subsample`` fits it.

    The CLI's defaults: β = 1, alpha = 1e-4, 'yes' the positive class (seen as 1).
    """
    X = frame[FEATURES].astype({"colour": object})
    y = (frame["label"].to_numpy() == "yes").astype(np.int64)
    model = SubsampledCE(WeightedLogisticCE(beta=1.0, alpha=1e-4), **params)
    return reference_pipeline(model).fit(X, y), X, y


def fit(path, *args):
    result = run("fit", "train.csv", "--target", "label", *FAST, *args, cwd=path)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def optimal(tmp_path_factory):
    """``skce fit --subsample 800 --seed 3`` of train.csv: (directory, result, document)."""
    path = tmp_path_factory.mktemp("subsample")
    rare_frame().to_csv(path / "train.csv", index=False)
    result = fit(path, "--subsample", "800", "--seed", "3")
    return path, result, json.loads((path / "train.skce.json").read_text())


@pytest.fixture(scope="module")
def expected():
    """The reference of ``optimal``: (pipeline, X, y), fitted here."""
    return reference(rare_frame(), sample_size=800, random_state=3)


def test_prints_the_kept_count_and_rows_read_of_subsampled_ce(optimal, expected):
    _, result, _ = optimal
    pipeline, _, _ = expected
    model = pipeline[-1]
    (line,) = SUBSAMPLE_LINE.findall(result.stdout)
    kept, read, method, expected, seed = line
    assert int(kept) == model.n_subsample_
    assert int(read) == model.n_samples_fit_ == N_ROWS
    assert (method, seed) == ("optimal", "3")
    assert expected == f"{model.sampling_probabilities_['expected_size']:.1f}"
    assert f"model fitted on a subsample of {kept} of the {N_ROWS} rows" in result.stdout
    assert "SubsampledCE(WeightedLogisticCE(beta=1, alpha=0.0001), method=optimal," in (
        result.stderr + result.stdout
    )
    # The lines come after the metrics and before the coefficient table.
    out = result.stdout
    assert out.index("ROC AUC") < out.index("subsample: kept") < out.index("coefficients of")


def test_printed_standard_errors_are_subsampled_ce_std_errors(optimal, expected):
    _, result, document = optimal
    pipeline, X, y = expected
    model, Xt = pipeline[-1], pipeline[:-1].transform(X)
    se = model.std_errors(Xt, y)
    _, rows = printed_table(result.stdout)
    printed = np.array([[float(row[1]), float(row[2])] for row in rows])
    coef = np.append(model.coef_[0], model.intercept_)
    np.testing.assert_allclose(printed[:, 0], coef, atol=5.001e-5)
    np.testing.assert_allclose(printed[:, 1], se, atol=5.001e-5)
    saved = document["model"]["std_errors"]
    np.testing.assert_allclose(saved["coef"], [se[:-1]], rtol=1e-6)
    np.testing.assert_allclose(saved["intercept"], [se[-1]], rtol=1e-6)


def test_model_file_holds_the_estimate_and_the_subsample(optimal, expected):
    path, _, document = optimal
    pipeline, X, _ = expected
    model = pipeline[-1]
    assert document["model"]["class"] == "WeightedLogisticCE"  # the estimate, a plain model
    np.testing.assert_allclose(document["model"]["coef"], model.coef_, rtol=1e-9)
    np.testing.assert_allclose(document["model"]["intercept"], model.intercept_, rtol=1e-9)
    assert document["training"]["subsample"] == {
        "method": "optimal",
        "sample_size": 800,
        "seed": 3,
        "n_subsample": model.n_subsample_,
        "n_samples_fit": N_ROWS,
        "expected_size": pytest.approx(model.sampling_probabilities_["expected_size"]),
        "n_certain": model.sampling_probabilities_["n_certain"],
    }
    # It loads, and skce predict gives SubsampledCE's predictions.
    saved = load_model(path / "train.skce.json")
    np.testing.assert_allclose(
        saved.pipeline.predict_proba(X), pipeline.predict_proba(X), rtol=1e-9
    )
    result = run("predict", "train.skce.json", "train.csv", "--proba", cwd=path)
    assert result.returncode == 0, result.stderr
    predicted = pd.read_csv(io.StringIO(result.stdout))
    np.testing.assert_allclose(predicted["proba_yes"], pipeline.predict_proba(X)[:, 1], rtol=1e-9)
    want = np.where(pipeline.predict(X) == 1, "yes", "no")
    assert (predicted["label"].to_numpy() == want).all()


def test_uniform_fraction_keeps_the_rows_subsampled_ce_keeps(tmp_path):
    rare_frame().to_csv(tmp_path / "train.csv", index=False)
    result = fit(tmp_path, "--subsample", "0.2", "--subsample-method", "uniform", "-q")
    pipeline, _, _ = reference(rare_frame(), method="uniform", sample_size=0.2, random_state=0)
    model = pipeline[-1]
    (line,) = SUBSAMPLE_LINE.findall(result.stdout)
    assert line == (str(model.n_subsample_), str(N_ROWS), "uniform", "400.0", "0")
    document = json.loads((tmp_path / "train.skce.json").read_text())
    assert document["training"]["subsample"]["sample_size"] == 0.2
    np.testing.assert_allclose(document["model"]["coef"], model.coef_, rtol=1e-9)


def test_subsample_of_every_row_is_the_full_fit(tmp_path):
    frame = rare_frame(n=600)
    frame.to_csv(tmp_path / "train.csv", index=False)
    full = fit(tmp_path, "--model", "full.skce.json")
    sub = fit(tmp_path, "--model", "sub.skce.json", "--subsample", "600")
    (line,) = SUBSAMPLE_LINE.findall(sub.stdout)
    assert line[:2] == ("600", "600")
    a = json.loads((tmp_path / "full.skce.json").read_text())["model"]
    b = json.loads((tmp_path / "sub.skce.json").read_text())["model"]
    # Every row kept with weight 1: the same objective, so the same optimum.
    np.testing.assert_allclose(b["coef"], a["coef"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(b["intercept"], a["intercept"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(b["std_errors"]["coef"], a["std_errors"]["coef"], rtol=1e-4)
    # And so the same cross-validated metrics.
    assert full.stdout.split("ROC AUC")[1].split()[:2] == sub.stdout.split("ROC AUC")[1].split()[:2]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--subsample", "0"], ["--subsample", "integer >= 1", "'0'"]),
        (["--subsample", "1.5"], ["--subsample", "between 0 and 1", "'1.5'"]),
        (["--subsample", "many"], ["--subsample", "'many'"]),
        (["--subsample", "-10"], ["--subsample", "'-10'"]),
        (["--subsample", "800", "--subsample-method", "best"], ["invalid choice: 'best'"]),
        (["--subsample-method", "uniform"], ["--subsample-method applies with --subsample"]),
        (["--subsample", "800", "--tune-beta"], ["--tune-beta", "--subsample"]),
        (
            ["--subsample", "800", "--subsample-method", "local", "--beta", "2"],
            ["local", "β = 1", "--beta 2"],
        ),
        (
            ["--subsample", "800", "--subsample-method", "local", "--softmax"],
            ["local", "--softmax"],
        ),
        # Fewer rows than the rare class, all of which are kept: as a count, as a fraction.
        (["--subsample", "100"], ["--subsample 100 is 100 rows", "rarest class 'yes'"]),
        (["--subsample", "0.01"], ["--subsample 0.01 is 20 rows", "rarest class 'yes'"]),
    ],
)
def test_bad_subsample_options_are_one_line_usage_errors(tmp_path, args, fragments):
    rare_frame().to_csv(tmp_path / "train.csv", index=False)
    result = run("fit", "train.csv", "--target", "label", *FAST, *args, cwd=tmp_path)
    assert_one_line_error(result, 2, *fragments)
    assert not (tmp_path / "train.skce.json").exists()


def test_files_on_a_cluster_go_through_subsampled_ce_on_the_dask_arrays(tmp_path):
    """Two CSV files, an in-process cluster: SubsampledCE's dask path (skce/_dask_subsample.py).

    The reference is ``SubsampledCE`` fitted here on a dask array chunked as the
    files are (one chunk per file), with the same seed.
    """
    import dask.array as da
    from distributed import Client, LocalCluster

    (tmp_path / "parts").mkdir()
    frames = [rare_frame(n=700, seed=1), rare_frame(n=500, seed=2)]
    for k, frame in enumerate(frames):
        frame.to_csv(tmp_path / "parts" / f"part{k}.csv", index=False)
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=":0",
            worker_dashboard_address=None,
        ) as cluster,
        Client(cluster, set_as_default=False),
    ):
        result = run(
            "fit", "parts", "--target", "label", "--scheduler", cluster.scheduler_address,
            "--subsample", "400", "--seed", "5", "--cv", "2", cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        joined = pd.concat(frames, ignore_index=True)
        X = joined[FEATURES].astype({"colour": object})
        y = (joined["label"].to_numpy() == "yes").astype(np.int64)
        preprocess = reference_pipeline(WeightedLogisticCE())[:-1].fit(X)
        chunks = ((700, 500),)
        Xd = da.from_array(np.asarray(preprocess.transform(X)), chunks=(chunks[0], -1))
        yd = da.from_array(y, chunks=chunks)
        model = SubsampledCE(WeightedLogisticCE(alpha=1e-4), sample_size=400, random_state=5)
        model.fit(Xd, yd)
        se = model.std_errors(Xd, yd)
    (line,) = SUBSAMPLE_LINE.findall(result.stdout)
    assert line[:3] == (str(model.n_subsample_), "1200", "optimal")
    document = json.loads((tmp_path / "parts.skce.json").read_text())
    assert document["training"]["subsample"]["n_subsample"] == model.n_subsample_
    np.testing.assert_allclose(document["model"]["coef"], model.coef_, rtol=1e-6, atol=1e-8)
    # The standard errors: SubsampledCE's on the kept rows, taken from the files' chunks.
    errors = document["model"]["std_errors"]
    assert errors["unavailable"] is None
    np.testing.assert_allclose(errors["coef"], [se[:-1]], rtol=1e-5)
