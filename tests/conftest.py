"""Test configuration.

scikit-learn's array-API estimator check (``check_array_api_input`` with
NumPy) only runs when SciPy's array-API mode is on, which SciPy reads from
the environment when it is first imported: set it here, before any test module
imports SciPy, so that the check runs instead of being skipped.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")
