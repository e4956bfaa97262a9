"""
Loss curves of the solvers
==========================

All four solvers of skce minimise the same objective and stop by the same rule
(largest gradient entry at most ``tol``). ``loss_curve_`` records the objective at
the start and after every iteration, so their progress can be compared directly.
The features here are deliberately left unscaled (their scales span three orders of
magnitude): ``"bb"``, ``"agd"`` and ``"lbfgs"`` work in implicitly standardised
coordinates and do not mind, while textbook gradient descent (``"gd"``) crawls.
"""

# %%
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from skce import WeightedLogisticCE

QUICK = os.environ.get("SKCE_DOCS_QUICK") == "1"
n_samples = 2_000 if QUICK else 20_000
gd_iterations = 200 if QUICK else 1_000

X, y = make_classification(
    n_samples=n_samples, n_features=30, n_informative=10, random_state=1, class_sep=0.7
)
scales = np.logspace(-1.5, 1.5, X.shape[1])
X = X * scales  # raw features with very different scales

# %%
# The optimum, from a very tight fit
# ----------------------------------
alpha = 1e-3
reference = WeightedLogisticCE(alpha=alpha, solver="lbfgs", tol=1e-12, max_iter=5_000).fit(X, y)
J_star = reference.loss_curve_[-1]

# %%
# The same fit with every solver
# ------------------------------
# ``"gd"`` would need far more than ``max_iter`` iterations here; its
# ``ConvergenceWarning`` is expected and silenced.
curves = {}
for solver in ["bb", "lbfgs", "agd", "gd"]:
    model = WeightedLogisticCE(
        alpha=alpha, solver=solver, tol=1e-8, max_iter=gd_iterations if solver == "gd" else 1_000
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    seconds = time.perf_counter() - start
    curves[solver] = np.asarray(model.loss_curve_)
    print(
        f"{solver:>5}: {model.n_iter_:5d} iterations, {seconds:6.3f} s, "
        f"J - J* = {model.loss_curve_[-1] - J_star:.1e}"
    )

# %%
# Distance to the optimum per iteration
# -------------------------------------
# ``"bb"`` is not monotone (its line search only asks for a decrease relative to the
# worst of the last ten values), which shows as spikes on the way down.
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for solver, curve in curves.items():
    gap = np.maximum(curve - J_star, 1e-16)
    ax.semilogy(np.arange(len(gap)), gap, label=solver, lw=1.5)
ax.set_xscale("symlog", linthresh=10)
ax.set_xlabel("iteration")
ax.set_ylabel("J − J*")
ax.set_title("WeightedLogisticCE on unscaled features")
ax.legend()
plt.show()
