"""
Calibration with and without prior correction
=============================================

Here the true probability ``P(y = 1 | x)`` is known: the labels are drawn from a
logistic model with about 5 % positives. ``WeightedLogisticCE(beta=10)`` over-states
the positive class (its logit is shifted by about ln 10), and
``prior_correction=True`` subtracts that shift again.
:func:`sklearn.calibration.calibration_curve` shows the result, and the distance to
the known probabilities measures it.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import expit
from sklearn.calibration import calibration_curve

from skce import WeightedLogisticCE

QUICK = os.environ.get("SKCE_DOCS_QUICK") == "1"
n_train = 20_000 if QUICK else 100_000
rng = np.random.default_rng(0)
w_true = np.array([1.5, -1.0, 0.5, 0.0, 0.8])
b_true = -4.0


def sample(n):
    X = rng.standard_normal((n, w_true.size))
    p = expit(X @ w_true + b_true)
    return X, rng.random(n) < p, p


X_train, y_train, _ = sample(n_train)
X_test, y_test, p_test = sample(n_train)
print(f"positives: {y_train.mean():.1%}")

# %%
# Three models
# ------------
beta = 10.0
models = {
    "β = 1": WeightedLogisticCE(beta=1.0, alpha=1e-5),
    f"β = {beta:g}": WeightedLogisticCE(beta=beta, alpha=1e-5),
    f"β = {beta:g}, prior_correction=True": WeightedLogisticCE(
        beta=beta, alpha=1e-5, prior_correction=True
    ),
}
proba = {}
for name, model in models.items():
    proba[name] = model.fit(X_train, y_train).predict_proba(X_test)[:, 1]
    error = np.abs(proba[name] - p_test).mean()
    print(
        f"{name:36s} mean p = {proba[name].mean():.4f}  (true {p_test.mean():.4f}), "
        f"mean |p − p_true| = {error:.4f}, recall = {model.predict(X_test)[y_test].mean():.3f}"
    )

# %%
# Reliability diagram
# -------------------
# Bins by quantile of the predicted probability, so every point holds the same number
# of test samples. The weighted model lies below the diagonal (it predicts too high);
# the corrected one lies on it, like the unweighted one. Note the recall above: the
# correction also moves the decisions back to those of a calibrated model.
fig, ax = plt.subplots(figsize=(5.5, 5.5), layout="constrained")
ax.plot([0, 1], [0, 1], ":", color="gray", label="perfectly calibrated")
for (name, p), marker in zip(proba.items(), ["o", "s", "^"], strict=True):
    frac, mean_pred = calibration_curve(y_test, p, n_bins=10, strategy="quantile")
    ax.plot(mean_pred, frac, marker + "-", label=name)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("mean predicted probability (bin)")
ax.set_ylabel("fraction of positives (bin)")
ax.legend(loc="upper left", fontsize=9)
plt.show()
