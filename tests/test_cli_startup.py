"""Start-up: ``import skce`` and ``skce --help`` do not import the heavy libraries.

``skce --version`` and ``skce --help`` should answer at once; what makes them
slow is importing scikit-learn, SciPy and pandas (about 2 s here), so the
tests check what is imported rather than timing it.
"""

import os
import subprocess
import sys

import skce

HEAVY = ("sklearn", "scipy", "pandas")

_PROBE = """
import sys
import skce
import skce.cli
for argv in (["--help"], ["fit", "--help"], ["demo", "--help"], ["--version"]):
    assert skce.cli.main(argv) == 0
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))
print("HEAVY:" + ",".join(heavy))
"""


def test_import_skce_and_help_do_not_import_sklearn_scipy_or_pandas():
    env = {k: v for k, v in os.environ.items() if k != "SCIPY_ARRAY_API"}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *HEAVY],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:", result.stdout


def test_public_names_resolve_lazily():
    from skce import (
        SoftmaxCE,
        WeightedLogisticCE,
        cross_entropy_score,
        information,
        make_cross_entropy_scorer,
        metrics,
    )

    assert WeightedLogisticCE.__module__ == "skce.linear_model"
    assert SoftmaxCE.__module__ == "skce.linear_model"
    assert cross_entropy_score is metrics.cross_entropy_score
    assert make_cross_entropy_scorer is metrics.make_cross_entropy_scorer
    assert information.__name__ == "skce.information"
    for name in skce.__all__:
        assert getattr(skce, name) is not None
        assert name in dir(skce)


def test_unknown_attribute_is_an_attribute_error():
    try:
        skce.not_a_name  # noqa: B018
    except AttributeError as exc:
        assert "not_a_name" in str(exc)
    else:
        raise AssertionError("skce.not_a_name did not raise AttributeError")


def test_submodules_are_attributes_of_a_fresh_import():
    # In a fresh interpreter nothing has imported the submodules yet, so each
    # must come from the package's lazy __getattr__ (in this process other tests
    # have imported them already, which would hide a missing entry).
    code = (
        "import skce\n"
        "for name in ('linear_model', 'metrics', 'information'):\n"
        "    print(name, getattr(skce, name).__name__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SCIPY_ARRAY_API"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "linear_model", "skce.linear_model",
        "metrics", "skce.metrics",
        "information", "skce.information",
    ]  # fmt: skip
