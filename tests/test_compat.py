"""skce._compat: the one module that imports private scikit-learn names."""

import ast
from pathlib import Path

import numpy as np
import pytest

from skce._compat import _check_sample_weight, _release

ROOT = Path(__file__).resolve().parent.parent
COMPAT = ROOT / "skce" / "_compat.py"


def _private_sklearn_imports(path):
    """(line, text) of each import of a private scikit-learn module or name in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sklearn":
            modules = node.module.split(".")
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            modules = [part for alias in node.names for part in alias.name.split(".")]
            names = []
            if modules[0] != "sklearn":
                continue
        else:
            continue
        if any(part.startswith("_") for part in modules + names):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_private_sklearn_names_are_imported_in_compat_only():
    files = [
        path
        for folder in ("skce", "tests", "examples", "benchmarks", "docs")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != COMPAT
    ]
    assert len(files) > 20  # the walk found the project
    offenders = {
        str(path.relative_to(ROOT)): hits
        for path in files
        if (hits := _private_sklearn_imports(path))
    }
    assert offenders == {}, "import these through skce._compat instead"
    # the detector itself finds what _compat imports
    assert len(_private_sklearn_imports(COMPAT)) >= 3


@pytest.mark.parametrize(
    "version, expected",
    [("1.6.1", (1, 6)), ("1.9.1", (1, 9)), ("1.10.dev0", (1, 10)), ("2.0rc1", (2, 0))],
)
def test_release_parses_major_and_minor(version, expected):
    assert _release(version) == expected


def test_all_zero_sample_weights_are_rejected_on_every_version():
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="at least one non-zero"):
        _check_sample_weight(np.zeros(4), X, dtype=np.float64, ensure_non_negative=True)
    np.testing.assert_array_equal(
        _check_sample_weight([0, 2, 0, 1], X, dtype=np.float64), [0.0, 2.0, 0.0, 1.0]
    )
