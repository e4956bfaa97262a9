"""Check that the estimators' HTML-repr links point at pages the docs build wrote.

Run after the Sphinx build (``.ci/run`` does): for each skce estimator, the link
in its ``_repr_html_()`` is taken apart into the documentation site and the
page path, and the page must exist under ``docs/_build/html``. Whether the site
itself is published there is outside what a build can check.
"""

import re
import sys
from pathlib import Path

from skce import SoftmaxCE, SoftmaxCECV, WeightedLogisticCE, WeightedLogisticCECV
from skce._links import DOCS_BASE_URL


def main(build=Path("docs/_build/html")):
    pattern = re.compile(re.escape(DOCS_BASE_URL) + r'/[^/"]+/([^"#]+)"')
    failures = []
    for estimator in (WeightedLogisticCE(), SoftmaxCE(), WeightedLogisticCECV(), SoftmaxCECV()):
        found = pattern.findall(estimator._repr_html_())
        name = type(estimator).__name__
        if not found:
            failures.append(f"{name}: no link to {DOCS_BASE_URL} in its HTML repr")
        for page in found:
            if not (build / page).is_file():
                failures.append(f"{name}: links {page}, which the docs build did not write")
            else:
                print(f"{name}: {page} exists")
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
