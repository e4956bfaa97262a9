"""
Label smoothing and the decomposition H(t, q) = H(t) + KL(t ‖ q)
=================================================================

With ``label_smoothing=ε`` the target of a sample is no longer one-hot but
``t = (1 − ε)·onehot(y) + ε/2`` (two classes). Its cross-entropy with the model's
probabilities ``q`` splits into the entropy of the target, which no model can
remove, and the Kullback–Leibler divergence, which the fit drives down
(:func:`skce.information.cross_entropy_decomposition`). As ε grows, the floor
``H(t)`` rises, and the model stops pushing probabilities towards 0 and 1.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from skce import WeightedLogisticCE
from skce.information import cross_entropy, cross_entropy_decomposition

QUICK = os.environ.get("SKCE_DOCS_QUICK") == "1"
epsilons = [0.0, 0.1, 0.2, 0.4] if QUICK else [0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5]

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)

# %%
# Fit, then split the training cross-entropy
# ------------------------------------------
# Targets and predictions are written as two-column distributions (rows sum to 1), the
# form the :mod:`skce.information` functions take.
rows = []
for eps in epsilons:
    model = WeightedLogisticCE(alpha=1e-3, label_smoothing=eps).fit(X, y)
    q = model.predict_proba(X)
    t1 = y * (1 - eps) + eps / 2
    t = np.column_stack([1 - t1, t1])
    parts = cross_entropy_decomposition(t, q)
    assert np.allclose(parts.cross_entropy, cross_entropy(t, q))
    rows.append(
        (eps, parts.entropy.mean(), parts.kl_divergence.mean(), np.abs(q[:, 1] - 0.5).max() + 0.5)
    )
    print(
        f"ε = {eps:4.2f}: H(t) = {rows[-1][1]:.4f}, KL(t‖q) = {rows[-1][2]:.4f}, "
        f"H(t, q) = {parts.cross_entropy.mean():.4f} nats, most confident q = {rows[-1][3]:.4f}"
    )
eps_, entropy_, kl_, confident_ = map(np.array, zip(*rows, strict=True))

# %%
# Entropy floor and divergence
# ----------------------------
# The bars stack to the mean training cross-entropy. The entropy part is fixed by ε;
# the fit can only shrink the divergence, which stays small for every ε. The most
# confident prediction moves away from 1 as ε grows. It can still exceed the largest
# target probability ``1 − ε/2`` (dashed): one linear model has to fit every sample,
# and those far from the boundary get more extreme probabilities than their targets.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
positions = np.arange(len(eps_))
ax1.bar(positions, entropy_, label="H(t): entropy of the targets")
ax1.bar(positions, kl_, bottom=entropy_, label="KL(t ‖ q): what the model adds")
ax1.set_xticks(positions, [f"{e:g}" for e in eps_])
ax1.set_xlabel("label smoothing ε")
ax1.set_ylabel("mean over the training samples (nats)")
ax1.legend()
ax2.plot(eps_, confident_, "o-", label="largest predicted probability")
ax2.plot(eps_, 1 - eps_ / 2, "--", color="gray", label="1 − ε/2")
ax2.set_xlabel("label smoothing ε")
ax2.legend()
plt.show()
