"""Sphinx configuration of the skce documentation.

Build: ``sphinx-build -W -b html docs docs/_build/html`` (or ``make -C docs html``).

Environment variables:

- ``SKCE_DOCS_QUICK=1``: the gallery examples use smaller data and grids (they
  read the variable themselves), so CI still runs every example, only faster.
- ``SKCE_DOCS_INTERSPHINX=1``: link to the scikit-learn, NumPy, SciPy and Python
  documentation. Off by default because the inventories are fetched over the
  network, and an unreachable inventory is an (unsuppressible) Sphinx warning,
  which ``-W`` turns into an error. ``SKCE_DOCS_INVENTORIES=DIR`` reads
  ``DIR/<name>.inv`` (name: python, numpy, scipy, sklearn) first when present.
"""

import os
import sys
from pathlib import Path

import skce

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_scripts"))

project = "skce"
author = "The skce developers"
copyright = "The skce developers"
version = release = skce.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
    "cli_help",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/README.md"]
templates_path = ["_templates"]

# -- autodoc / autosummary / numpydoc -------------------------------------------
autosummary_generate = True
# Document skce's own methods (also those of its private base class), not the ones that
# scikit-learn's mixins provide: their docstrings refer to labels of scikit-learn's docs.
autodoc_default_options = {
    "members": True,
    "inherited-members": "ClassifierMixin,BaseEstimator,_MetadataRequester",
    "exclude-members": "set_fit_request,set_score_request",
}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- MyST (the user-guide pages are the Markdown files in docs/) ----------------
myst_enable_extensions = ["deflist"]
myst_heading_anchors = 3

# -- intersphinx: off unless asked for (no network here) -------------------------
_INVENTORIES = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "sklearn": "https://scikit-learn.org/stable/",
}
intersphinx_mapping = {}
if os.environ.get("SKCE_DOCS_INTERSPHINX") == "1":
    _local = os.environ.get("SKCE_DOCS_INVENTORIES")
    for _name, _url in _INVENTORIES.items():
        _file = Path(_local, f"{_name}.inv") if _local else None
        _locations = (str(_file), None) if _file is not None and _file.is_file() else None
        intersphinx_mapping[_name] = (_url, _locations)
intersphinx_timeout = 10

# -- sphinx-gallery -----------------------------------------------------------------
QUICK = os.environ.get("SKCE_DOCS_QUICK") == "1"
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # quickstart.py is a plain script (``python examples/quickstart.py``), not a gallery page.
    "ignore_pattern": r"__init__\.py|quickstart\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reset_modules": ("matplotlib", "seaborn"),
    "matplotlib_animations": False,
    "min_reported_time": 1,
    "show_memory": False,
    "reference_url": {"skce": None},
    "doc_module": ("skce",),
    "backreferences_dir": None,
    "run_stale_examples": False,
    "abort_on_example_error": True,
}

# -- matplotlib plot directive (the benchmark figure) ------------------------------
plot_working_directory = str(DOCS / "_scripts")
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]

# -- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skce {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "api": [], "auto_examples/index": []}
html_static_path = []
html_show_sourcelink = False
html_copy_source = False
