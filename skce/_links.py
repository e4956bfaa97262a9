"""Where skce's documentation lives: the one place that spells its address.

scikit-learn's HTML representation of an estimator (its diagram in Jupyter)
links each step to the step's API page; skce's estimators point theirs here.
"""

import re

# The documentation site, one folder per documented version ("latest", "0.1.0", ...).
DOCS_BASE_URL = "https://skce.readthedocs.io/en"


def docs_version(version):
    """The documentation folder for a package version.

    A release ("0.1.0") has its own folder; anything else (a development or
    local version such as "0.2.0.dev1" or "0.1.0+g1234") is documented under
    "latest", built from the main branch.
    """
    return version if re.fullmatch(r"\d+(\.\d+)*", version) else "latest"


def api_page_template(version):
    """URL template of an estimator's API page, with an ``{estimator_name}`` field.

    The page is the one that ``docs/api.rst``'s autosummary writes to
    ``generated/skce.<name>.html``, for the estimators exported by ``skce``.
    """
    return f"{DOCS_BASE_URL}/{docs_version(version)}/generated/skce.{{estimator_name}}.html"
