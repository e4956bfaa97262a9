"""The command line's imports: skce's public API only, and no cycle among its modules.

Read from the source with :mod:`ast` (imports inside functions included), so
that a lazy import cannot hide an edge.
"""

import ast
from pathlib import Path

import skce.cli

CLI = Path(skce.cli.__file__).parent
#: What ``skce/cli`` may import from skce outside itself. ``_warnings`` is the
#: record/replay helper that the fold fits share with skce/_cv.py (issue 22, item 7).
PUBLIC = {"skce", "skce.linear_model", "skce.metrics", "skce.information", "skce._warnings"}


def _imports(path):
    """The absolute names of the modules that ``path`` (a module of skce.cli) imports."""
    package = ["skce", "cli"]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
    return {n for n in names if n == "skce" or n.startswith("skce.")}


def test_the_cli_imports_only_skces_public_api():
    outside = {
        (path.name, name)
        for path in CLI.glob("*.py")
        for name in _imports(path)
        if not name.startswith("skce.cli") and name not in PUBLIC
    }
    assert outside == set()


def test_the_cli_modules_import_no_cycle():
    graph = {
        path.stem: {n.rsplit(".", 1)[-1] for n in _imports(path) if n.startswith("skce.cli.")}
        for path in CLI.glob("*.py")
    }
    done, active = set(), []

    def visit(module):
        assert module not in active, " -> ".join([*active[active.index(module) :], module])
        if module in done:
            return
        active.append(module)
        for other in graph.get(module, ()):
            visit(other)
        active.pop()
        done.add(module)

    for module in graph:
        visit(module)
