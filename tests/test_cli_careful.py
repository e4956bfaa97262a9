"""The command line as a careful colleague (issue 16): files kept safe, columns typed
out loud, errors that say what went wrong.

In-process through ``main(argv)`` like ``tests/test_cli.py`` (whose helpers are
reused); one test runs ``skce predict`` as a subprocess into a closed pipe.
"""

import io
import json
import os
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config

from skce.cli import ModelFileError, load_model, main
from tests.test_cli import FAST, assert_one_line_error, make_frame, run, with_checksum


@pytest.fixture
def train(tmp_path):
    """tmp_path with train.csv (x1, x2, colour, label) and new.csv (no label)."""
    make_frame().to_csv(tmp_path / "train.csv", index=False)
    make_frame(n=25, seed=1).drop(columns="label").to_csv(tmp_path / "new.csv", index=False)
    return tmp_path


def fit(path, *args):
    result = run("fit", "train.csv", "--target", "label", *FAST, *args, cwd=path)
    assert result.returncode == 0, result.stderr
    return result


def assert_error_after_progress(result, code, *fragments):
    """Exit status ``code``; stderr is progress lines, then one error line naming the fragments."""
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("skce: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, lines[-1])
    for line in lines[:-1]:
        assert line.startswith("skce: cross-validation: "), result.stderr


def warnings_of(result):
    return [line for line in result.stderr.splitlines() if line.startswith("skce: warning:")]


# -- item 1: never overwrite, never write over an input ----------------------------------
def test_fit_does_not_replace_an_existing_model_without_force(train):
    (train / "train.skce.json").write_text("keep me")
    result = run("fit", "train.csv", "--target", "label", *FAST, cwd=train)
    assert_one_line_error(result, 2, "train.skce.json", "exists", "--force")
    assert (train / "train.skce.json").read_text() == "keep me"
    assert "fits done" not in result.stderr  # refused before the cross-validation
    fit(train, "--force")
    assert load_model(train / "train.skce.json").classes == ["no", "yes"]


def test_predict_does_not_replace_an_existing_file_without_force(train):
    fit(train)
    (train / "pred.csv").write_text("keep me")
    args = ["predict", "train.skce.json", "new.csv", "--out", "pred.csv"]
    assert_one_line_error(run(*args, cwd=train), 2, "pred.csv", "exists", "--force")
    assert (train / "pred.csv").read_text() == "keep me"
    assert run(*args, "--force", cwd=train).returncode == 0
    assert len(pd.read_csv(train / "pred.csv")) == 25


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_force_keeps_the_permissions_of_the_replaced_file(train):
    # Written as a temporary file and renamed over the old one: the new file
    # must not come out with the temporary's owner-only permissions, nor lose
    # the ones the user gave the file it replaces.
    fit(train)
    args = ["predict", "train.skce.json", "new.csv", "--out", "pred.csv"]
    assert run(*args, cwd=train).returncode == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((train / "pred.csv").stat().st_mode) == 0o666 & ~umask
    for mode in (0o640, 0o604):
        (train / "pred.csv").chmod(mode)
        assert run(*args, "--force", cwd=train).returncode == 0
        assert stat.S_IMODE((train / "pred.csv").stat().st_mode) == mode
        (train / "train.skce.json").chmod(mode)
        fit(train, "--force")
        assert stat.S_IMODE((train / "train.skce.json").stat().st_mode) == mode


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
def test_outputs_never_replace_an_input(train, force):
    fit(train)
    model = (train / "train.skce.json").read_bytes()
    data = (train / "new.csv").read_bytes()
    os.link(train / "new.csv", train / "hardlink.csv")
    os.symlink(train / "train.skce.json", train / "symlink.json")
    cases = [
        (["predict", "train.skce.json", "new.csv", "--out", "new.csv"], "input data"),
        (["predict", "train.skce.json", "new.csv", "--out", "./sub/../new.csv"], "input data"),
        (["predict", "train.skce.json", "new.csv", "--out", "hardlink.csv"], "input data"),
        (["predict", "train.skce.json", "new.csv", "--out", "train.skce.json"], "model"),
        (["predict", "train.skce.json", "new.csv", "--out", "symlink.json"], "model"),
        (["fit", "new.csv", "--target", "x1", "--model", "new.csv", *FAST], "training data"),
    ]
    (train / "sub").mkdir()
    for args, what in cases:
        assert_one_line_error(run(*args, *force, cwd=train), 2, "would overwrite", what)
    assert (train / "train.skce.json").read_bytes() == model
    assert (train / "new.csv").read_bytes() == data


def test_unwritable_model_path_is_refused_before_cross_validation(train):
    (train / "dir.json").mkdir()
    cases = {
        "nowhere/model.json": "nowhere",
        "dir.json": "is a directory",
    }
    if os.geteuid() != 0:  # root writes into read-only directories
        (train / "ro").mkdir(mode=0o555)
        cases["ro/model.json"] = "not writable"
    for model, fragment in cases.items():
        result = run("fit", "train.csv", "--target", "label", "--model", model, *FAST, cwd=train)
        assert_one_line_error(result, 2, fragment)
        assert "fits done" not in result.stderr


def test_model_is_written_atomically(train, monkeypatch):
    """A write that fails half-way leaves the previous file and no temporary file."""
    from skce.cli import _output

    fit(train)
    before = (train / "train.skce.json").read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_output.os, "replace", fail)
    result = run("fit", "train.csv", "--target", "label", "--force", *FAST, cwd=train)
    assert_error_after_progress(result, 1, "No space left on device")
    assert (train / "train.skce.json").read_bytes() == before
    assert sorted(p.name for p in train.iterdir()) == ["new.csv", "train.csv", "train.skce.json"]


# -- item 2: column types said out loud, --drop ------------------------------------------
def test_stray_text_in_a_numeric_column_is_an_error_naming_values_and_rows(train):
    frame = make_frame()
    frame["x2"] = frame["x2"].astype(object)
    frame.loc[6, "x2"] = "n/a?"  # data row 7
    frame.loc[40, "x2"] = "?"  # data row 41
    frame.to_csv(train / "stray.csv", index=False)
    result = run("fit", "stray.csv", "--target", "label", *FAST, cwd=train)
    assert_one_line_error(result, 2, "'x2'", "'n/a?'", "row 7", "'?'", "row 41", "--drop")


def test_text_column_unique_per_row_is_refused_at_fit(train):
    frame = make_frame()
    frame.insert(0, "customer", [f"C{k:05d}" for k in range(len(frame))])
    frame.to_csv(train / "ids.csv", index=False)
    result = run("fit", "ids.csv", "--target", "label", *FAST, cwd=train)
    assert_one_line_error(result, 2, "'customer'", "120 distinct values in 120 rows", "--drop")


def test_drop_excludes_columns_and_predict_ignores_them(train):
    frame = make_frame()
    frame.insert(0, "customer", [f"C{k:05d}" for k in range(len(frame))])
    frame.to_csv(train / "ids.csv", index=False)
    args = ["fit", "ids.csv", "--target", "label", "--drop", "customer", "colour", *FAST]
    result = run(*args, cwd=train)
    assert result.returncode == 0, result.stderr
    assert "dropped 2 columns: 'customer', 'colour'" in result.stdout
    document = json.loads((train / "ids.skce.json").read_text())
    assert document["columns"]["order"] == ["x1", "x2"]
    assert document["columns"]["dropped"] == ["customer", "colour"]
    # The new file has no customer column; predict does not ask for it.
    result = run("predict", "ids.skce.json", "new.csv", cwd=train)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "drop, fragments",
    [
        (["nothing"], ["--drop", "no column 'nothing'", "'x1'"]),
        (["label"], ["--drop", "'label'", "target"]),
        (["x1", "x2", "colour"], ["--drop", "no feature columns"]),
    ],
    ids=["unknown", "target", "everything"],
)
def test_drop_errors(train, drop, fragments):
    result = run("fit", "train.csv", "--target", "label", "--drop", *drop, *FAST, cwd=train)
    assert_one_line_error(result, 2, *fragments)


def test_few_distinct_codes_stay_categorical(train):
    """A text column is not refused for being text: only when (nearly) unique per row."""
    frame = make_frame()
    frame["code"] = np.where(frame["x1"] > 0, "A1", "B2")
    frame.to_csv(train / "codes.csv", index=False)
    result = run("fit", "codes.csv", "--target", "label", *FAST, cwd=train)
    assert result.returncode == 0, result.stderr
    assert "2 categorical" in result.stdout


# -- item 3: --positive ----------------------------------------------------------------------
def test_positive_label_chooses_the_positive_class(train):
    result = fit(train, "--positive", "no", "--beta", "3", "--model", "pos.json")
    assert "positive class 'no'" in result.stdout
    assert "recall ('no')" in result.stdout
    saved = load_model(train / "pos.json")
    assert saved.classes == ["yes", "no"]  # proba columns: negative, then positive
    result = run("predict", "pos.json", "new.csv", "--proba", cwd=train)
    assert result.returncode == 0, result.stderr
    predicted = pd.read_csv(io.StringIO(result.stdout))
    assert list(predicted.columns) == ["label", "proba_yes", "proba_no"]
    # β = 3 weights 'no': the independent reference is the 0/1 fit with 'no' as 1.
    from sklearn.linear_model import LogisticRegression

    from tests.test_cli import FEATURES, reference_pipeline

    frame = make_frame()
    X = frame[FEATURES].astype({"colour": object})
    y01 = (frame["label"] == "no").to_numpy().astype(int)
    n = len(y01)
    ref = reference_pipeline(
        LogisticRegression(C=1 / (1e-4 * n), class_weight={0: 1, 1: 3.0}, tol=1e-10, max_iter=10000)
    ).fit(X, y01)
    X_new = make_frame(n=25, seed=1)[FEATURES].astype({"colour": object})
    expected = ref.predict_proba(X_new)[:, 1]
    np.testing.assert_allclose(predicted["proba_no"], expected, rtol=1e-4, atol=1e-6)
    labels = np.where(expected > 0.5, "no", "yes")
    assert predicted["label"].tolist() == labels.tolist()


def test_positive_integer_labels_given_as_text(train):
    frame = make_frame()
    frame["label"] = np.where(frame["label"] == "yes", 1, 0)
    frame.to_csv(train / "ints.csv", index=False)
    args = ["fit", "ints.csv", "--target", "label", "--positive", "0", *FAST]
    result = run(*args, cwd=train)
    assert result.returncode == 0, result.stderr
    assert load_model(train / "ints.skce.json").classes == [1, 0]


@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--positive", "maybe"], ["--positive 'maybe'", "'no'", "'yes'"]),
        (["--positive", "yes", "--softmax"], ["--positive", "--softmax"]),
    ],
    ids=["unknown-label", "softmax"],
)
def test_positive_errors(train, extra, fragments):
    result = run("fit", "train.csv", "--target", "label", *extra, *FAST, cwd=train)
    assert_one_line_error(result, 2, *fragments)


@pytest.mark.parametrize("positive", [[], ["--positive", "1"]], ids=["default", "given"])
def test_majority_positive_class_is_warned_about(tmp_path, positive):
    frame = make_frame()
    frame["label"] = np.where(frame["x1"] > -0.8, 1, 0)  # about 79% ones
    frame.to_csv(tmp_path / "major.csv", index=False)
    result = run("fit", "major.csv", "--target", "label", *positive, *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [w for w in warnings_of(result) if "majority" in w]
    assert len(lines) == 1, result.stderr
    assert "positive class 1" in lines[0] and "--positive 0" in lines[0]


@pytest.mark.parametrize(("n_positive", "warned"), [(51, True), (50, False)])
def test_any_majority_is_warned_about_and_a_tie_is_not(tmp_path, n_positive, warned):
    frame = make_frame().head(100).copy()
    frame["label"] = np.where(np.arange(len(frame)) < n_positive, "yes", "no")
    frame.to_csv(tmp_path / "split.csv", index=False)
    result = run("fit", "split.csv", "--target", "label", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [w for w in warnings_of(result) if "majority" in w]
    assert len(lines) == int(warned), result.stderr


def test_minority_positive_class_is_not_warned_about(train):
    result = fit(train, "--positive", "yes")
    assert not [w for w in warnings_of(result) if "majority" in w], result.stderr


# -- item 4: delimiters and encodings ---------------------------------------------------------
@pytest.mark.parametrize("sep", [";", "\t", "|"], ids=["semicolon", "tab", "pipe"])
def test_delimiter_is_sniffed(train, sep):
    frame = make_frame()
    text = frame.to_csv(index=False, sep=sep)
    if sep == ";":  # decimal commas, as such files often have
        text = text.replace(".", ",")
    (train / "other.csv").write_text(text)
    decimal = []
    if sep == ";":  # said out loud, not guessed
        result = run("fit", "other.csv", "--target", "label", *FAST, cwd=train)
        assert_one_line_error(result, 2, "column 'x1'", "decimal comma", "--decimal ,")
        decimal = ["--decimal", ","]
    result = run("fit", "other.csv", "--target", "label", *decimal, *FAST, cwd=train)
    assert result.returncode == 0, result.stderr
    assert "2 numeric, 1 categorical" in result.stdout
    assert f"separated by {sep!r}" in result.stdout
    # The model is the one fitted on the comma-separated file.
    frame.to_csv(train / "comma.csv", index=False)
    run("fit", "comma.csv", "--target", "label", *FAST, cwd=train)
    check = [
        json.loads((train / f).read_text())["check"] for f in ("other.skce.json", "comma.skce.json")
    ]
    assert check[0] == check[1]


def test_sep_overrides_the_sniffer(train):
    (train / "odd.csv").write_text(
        "a;b,label\n" + "\n".join(f"{k % 3};x,{'yes' if k % 2 else 'no'}" for k in range(20)) + "\n"
    )
    result = run("fit", "odd.csv", "--target", "label", "--sep", ",", *FAST, cwd=train)
    assert result.returncode == 0, result.stderr
    assert "'a;b'" not in result.stderr
    document = json.loads((train / "odd.skce.json").read_text())
    assert document["columns"]["order"] == ["a;b"]


def test_one_column_file_suggests_sep(train):
    (train / "weird.csv").write_text("a:b:label\n" + "\n".join(f"{k}:1:x" for k in range(5)) + "\n")
    result = run("fit", "weird.csv", "--target", "label", *FAST, cwd=train)
    assert_one_line_error(result, 2, "no column 'label'", "--sep")


def test_encoding_option_reads_latin1(train):
    frame = make_frame()
    frame["colour"] = frame["colour"].map({"red": "rouge", "green": "vert", "blue": "bleu clair é"})
    (train / "latin.csv").write_bytes(frame.to_csv(index=False).encode("latin-1"))
    result = run("fit", "latin.csv", "--target", "label", *FAST, cwd=train)
    assert_one_line_error(result, 2, "latin.csv", "UTF-8", "--encoding")
    result = run("fit", "latin.csv", "--target", "label", "--encoding", "latin-1", *FAST, cwd=train)
    assert result.returncode == 0, result.stderr
    document = json.loads((train / "latin.skce.json").read_text(encoding="utf-8"))
    assert "bleu clair é" in document["preprocess"]["categorical"]["categories"][0]


def test_unknown_encoding_is_a_usage_error(train):
    result = run("fit", "train.csv", "--target", "label", "--encoding", "klingon", cwd=train)
    assert_one_line_error(result, 2, "--encoding", "klingon")


def test_utf8_byte_order_mark_is_not_part_of_the_first_column(train):
    (train / "bom.csv").write_bytes(b"\xef\xbb\xbf" + make_frame().to_csv(index=False).encode())
    result = run("fit", "bom.csv", "--target", "label", *FAST, cwd=train)
    assert result.returncode == 0, result.stderr
    assert json.loads((train / "bom.skce.json").read_text())["columns"]["order"][0] == "x1"


# -- item 5: values that overflow --------------------------------------------------------
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_overflowing_value_names_column_and_row(tmp_path, jobs):
    frame = make_frame()
    frame.loc[5, "x1"] = 1e305  # data row 6
    frame.to_csv(tmp_path / "big.csv", index=False)
    result = run("fit", "big.csv", "--target", "label", "--cv", "3", "-j", jobs, cwd=tmp_path)
    assert_one_line_error(result, 2, "column 'x1'", "data row 6", "1e+305")
    assert "Warning" not in result.stderr and "warning" not in result.stderr


def test_overflowing_value_at_predict(train):
    fit(train)
    frame = make_frame(n=25, seed=1).drop(columns="label")
    frame.loc[2, "x2"] = -1e300
    frame.to_csv(train / "huge.csv", index=False)
    result = run("predict", "train.skce.json", "huge.csv", cwd=train)
    assert_one_line_error(result, 2, "column 'x2'", "data row 3")


def test_failed_fold_under_a_verbose_joblib_config_is_one_line(tmp_path, monkeypatch):
    """joblib's sequential generator, closed early with verbose > 0, reads an attribute
    that only its parallel path sets ('_pre_dispatch_amount'): the failure must still be
    the fold's one line."""
    from skce.cli._sources import InMemoryTable

    def failing(self, pipeline, params, fold, metrics):
        raise ValueError("boom")

    monkeypatch.setattr(InMemoryTable, "fit_and_score", failing)
    make_frame().to_csv(tmp_path / "train.csv", index=False)
    with parallel_config(verbose=10):
        result = run("fit", "train.csv", "--target", "label", *FAST, cwd=tmp_path)
    assert_error_after_progress(result, 1, "fitting failed (fold 1 of 3): ValueError: boom")


# -- item 6: a closed pipe ----------------------------------------------------------------------
def test_closed_pipe_ends_quietly_with_status_0(train):
    frame = make_frame(n=4000, seed=2).drop(columns="label")
    frame.to_csv(train / "many.csv", index=False)
    fit(train)
    env = {k: v for k, v in os.environ.items() if k != "SCIPY_ARRAY_API"}
    process = subprocess.Popen(
        [sys.executable, "-m", "skce", "predict", "train.skce.json", "many.csv", "--proba"],
        cwd=train,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    first = process.stdout.readline()  # like `| head -1`
    process.stdout.close()
    stderr = process.stderr.read()
    code = process.wait(timeout=60)
    assert first.startswith(b"label,proba_no,proba_yes")
    assert code == 0, stderr
    assert stderr == b""


def test_broken_pipe_in_process_is_status_0(train, monkeypatch, capsys):
    fit(train)

    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(os, "dup2", lambda *a: None)  # keep the test runner's stdout
    monkeypatch.chdir(train)
    monkeypatch.setattr(sys, "stdout", Closed())
    code = main(["predict", "train.skce.json", "new.csv"])
    monkeypatch.undo()
    assert code == 0
    assert capsys.readouterr().err == ""


# -- item 7: model files that were changed ---------------------------------------------------
def _edits():
    def labels(d):
        d["target"]["classes"] = ["nope", "yes"]

    def intercept_times_10(d):
        d["model"]["intercept"] = [10 * v for v in d["model"]["intercept"]]

    def intercept_sign(d):
        d["model"]["intercept"] = [-v for v in d["model"]["intercept"]]

    def coef_zero(d):
        d["model"]["coef"][0][1] = 0.0

    def scale_tenth(d):
        d["preprocess"]["numeric"]["scale"][0] *= 0.1

    def mean_twice(d):
        d["preprocess"]["numeric"]["mean"][1] *= 2

    def swap_columns(d):
        for key in ("order", "numeric"):
            names = d["columns"][key]
            i, j = names.index("x1"), names.index("x2")
            names[i], names[j] = names[j], names[i]

    return {
        f.__name__: f
        for f in (
            labels,
            intercept_times_10,
            intercept_sign,
            coef_zero,
            scale_tenth,
            mean_twice,
            swap_columns,
        )
    }


@pytest.mark.parametrize("edit", list(_edits()))
def test_every_accidental_edit_is_refused(train, edit):
    fit(train)
    document = json.loads((train / "train.skce.json").read_text())
    _edits()[edit](document)
    (train / "edited.json").write_text(json.dumps(document, indent=1))
    result = run("predict", "edited.json", "new.csv", cwd=train)
    assert_one_line_error(result, 1, "edited.json", "was changed")
    # Even with the checksum recomputed (a deliberate edit, or a file from a skce
    # whose estimators differ), the check rows catch the change.
    document = with_checksum(document)
    (train / "edited.json").write_text(json.dumps(document, indent=1))
    with pytest.raises(ModelFileError, match="does not reproduce"):
        load_model(train / "edited.json")


def test_reformatted_model_file_still_loads(train):
    fit(train)
    document = json.loads((train / "train.skce.json").read_text())
    assert document["checksum"] == with_checksum(document)["checksum"]
    (train / "flat.json").write_text(json.dumps(document, indent=None))
    assert load_model(train / "flat.json").classes == ["no", "yes"]


def test_check_rows_are_not_saturated(tmp_path):
    """Even with a tiny-scale column and a large intercept, the check rows' logits are moderate."""
    rng = np.random.default_rng(4)
    n = 300
    x = rng.normal(size=n) * 1e-6
    frame = pd.DataFrame(
        {"x": x, "z": rng.normal(size=n) * 1e4, "k": rng.choice(list("abc"), size=n)}
    )
    frame["y"] = np.where(x + 3e-7 * rng.normal(size=n) > -1.5e-6, "a", "b")  # ~93% a
    frame.to_csv(tmp_path / "tiny.csv", index=False)
    result = run("fit", "tiny.csv", "--target", "y", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    proba = np.array(
        json.loads((tmp_path / "tiny.skce.json").read_text())["check"]["predict_proba"]
    )
    assert proba.shape[0] >= 8
    assert np.all((proba > 1e-3) & (proba < 1 - 1e-3)), proba


def test_format_version_1_is_refused_with_a_clear_message(train):
    fit(train)
    document = json.loads((train / "train.skce.json").read_text())
    document["format_version"] = 1
    del document["checksum"]
    (train / "old.json").write_text(json.dumps(document))
    result = run("predict", "old.json", "new.csv", cwd=train)
    assert_one_line_error(result, 1, "format_version 1", "refit", "skce fit")


# -- item 8: default number of processes --------------------------------------------------
def test_default_jobs_is_one_and_the_help_says_so(capsys):
    from skce.cli import build_parser

    for command in (["fit", "d.csv", "--target", "y"], ["demo"]):
        assert build_parser().parse_args(command).jobs == 1
    assert main(["fit", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "parallel processes for cross-validation (default: 1;" in help_text


# -- item 9: typos, duplicate columns ---------------------------------------------------------
@pytest.mark.parametrize(
    "argv, fragments",
    [
        (
            ["fit", "train.csv", "--target", "label", "--tune_beta"],
            ["--tune_beta", "--tune-beta", "'skce fit --help'"],
        ),
        (
            ["predict", "m.json", "d.csv", "--probas"],
            ["--probas", "--proba", "'skce predict --help'"],
        ),
        (["demo", "--sed", "3"], ["--sed", "--seed", "'skce demo --help'"]),
    ],
    ids=["tune_beta", "prob", "sed"],
)
def test_typo_points_to_the_command_help(train, argv, fragments):
    assert_one_line_error(run(*argv, cwd=train), 2, "did you mean", *fragments)


def test_duplicate_column_names_are_an_error(train):
    text = "x1,x2,x1,label\n" + "\n".join(
        f"{k},{k % 3},{k % 5},{'yes' if k % 2 else 'no'}" for k in range(30)
    )
    (train / "dup.csv").write_text(text + "\n")
    result = run("fit", "dup.csv", "--target", "label", *FAST, cwd=train)
    assert_one_line_error(result, 2, "dup.csv", "'x1'", "columns 1 and 3")
