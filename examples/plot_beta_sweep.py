"""
β on imbalanced data: recall, precision and cross-entropy
=========================================================

``WeightedLogisticCE(beta=β)`` makes each error on the rare positive class cost β
times as much. This example sweeps β with ``GridSearchCV`` on data with about 5 %
positives, scoring every β by cross-entropy, recall, precision and balanced
accuracy, and shows why the unweighted cross-entropy is the wrong score for
choosing β (it prefers β ≈ 1) while balanced accuracy measures what β is for.
"""

# %%
# Data: 5 % positives
# -------------------
# ``SKCE_DOCS_QUICK=1`` (used when the documentation is built in CI) makes the data
# and the grid smaller.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skce import WeightedLogisticCE, cross_entropy_score, make_cross_entropy_scorer

QUICK = os.environ.get("SKCE_DOCS_QUICK") == "1"
n_samples = 3_000 if QUICK else 20_000
betas = [1, 2, 4, 8, 16, 32] if QUICK else [1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32]

X, y = make_classification(
    n_samples=n_samples,
    n_features=20,
    n_informative=5,
    weights=[0.95],
    flip_y=0.01,
    class_sep=0.8,
    random_state=0,
)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
print(f"{len(y_train)} training samples, {y_train.mean():.1%} positives")

# %%
# A grid search over β with several scores
# ----------------------------------------
# ``cross_entropy_score`` is the unweighted cross-entropy (as a score: minus the loss,
# greater is better). ``make_cross_entropy_scorer(beta=8)`` weights the positives by 8
# at evaluation time. The search refits the β with the best balanced accuracy.
scoring = {
    "cross-entropy": cross_entropy_score,
    "cross-entropy, evaluation weight 8": make_cross_entropy_scorer(beta=8.0),
    "recall": "recall",
    "precision": "precision",
    "balanced accuracy": "balanced_accuracy",
}
search = GridSearchCV(
    make_pipeline(StandardScaler(), WeightedLogisticCE(alpha=1e-3)),
    {"weightedlogisticce__beta": betas},
    scoring=scoring,
    refit="balanced accuracy",
    cv=StratifiedKFold(n_splits=3 if QUICK else 5, shuffle=True, random_state=0),
    n_jobs=1,
)
search.fit(X_train, y_train)
results = search.cv_results_
print(f"chosen β = {search.best_params_['weightedlogisticce__beta']}")

# %%
# Each score against β
# --------------------
# Recall rises and precision falls with β; balanced accuracy peaks in between. The
# unweighted cross-entropy is best at β = 1 and grows with β: any β ≠ 1 moves the
# probabilities away from the observed frequencies. The β-weighted cross-entropy is
# best near its own evaluation weight (8), so it only moves the choice.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for name in ["recall", "precision", "balanced accuracy"]:
    ax1.plot(betas, results[f"mean_test_{name}"], "o-", label=name)
ax1.set_xscale("log", base=2)
ax1.set_xlabel("β")
ax1.set_title("decisions")
ax1.legend()
for name in ["cross-entropy", "cross-entropy, evaluation weight 8"]:
    loss = -results[f"mean_test_{name}"]
    best = int(np.argmin(loss))
    (line,) = ax2.plot(betas, loss, "o-", label=name)
    ax2.plot(betas[best], loss[best], "*", ms=16, color=line.get_color())
ax2.set_xscale("log", base=2)
ax2.set_xlabel("β")
ax2.set_ylabel("cross-validated loss (nats), ★ = best")
ax2.set_title("probabilities")
ax2.legend()
plt.show()

# %%
# What β does to the probabilities
# --------------------------------
# A model fitted with β estimates the probabilities of a population in which the odds
# of a positive are β times larger: its mean predicted probability exceeds the base
# rate. ``prior_correction=True`` subtracts ln β from the logit and brings the
# probabilities (and the decisions) back.
print(f"base rate of the test set: {y_test.mean():.3f}")
print(" β    mean p   mean p (prior_correction)   recall   recall (prior_correction)")
for beta in [1, 4, 16]:
    plain = make_pipeline(StandardScaler(), WeightedLogisticCE(beta=beta, alpha=1e-3))
    corrected = make_pipeline(
        StandardScaler(), WeightedLogisticCE(beta=beta, alpha=1e-3, prior_correction=True)
    )
    plain.fit(X_train, y_train)
    corrected.fit(X_train, y_train)
    print(
        f"{beta:2d}   {plain.predict_proba(X_test)[:, 1].mean():.3f}    "
        f"{corrected.predict_proba(X_test)[:, 1].mean():.3f}                       "
        f"{(plain.predict(X_test)[y_test == 1] == 1).mean():.3f}    "
        f"{(corrected.predict(X_test)[y_test == 1] == 1).mean():.3f}"
    )
