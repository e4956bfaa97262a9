"""Quick start: β-weighted logistic regression on imbalanced data.

Fits WeightedLogisticCE for a few values of β on a data set where positives
are rare (5%), shows what β does to recall, precision and the mean predicted
probability, checks that the fitted optimum is the one sklearn's
LogisticRegression finds at the mapped C, and fits SoftmaxCE on the digits.

Run with ``python examples/quickstart.py``; it takes a few seconds.
"""

import time

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, precision_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skce import SoftmaxCE, WeightedLogisticCE

X, y = make_classification(
    n_samples=20_000, n_features=20, n_informative=6, weights=[0.95], flip_y=0.02, random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

print("WeightedLogisticCE on 5% positives")
print(f"{'beta':>6} {'recall':>7} {'precision':>9} {'mean p':>7} {'log loss':>9} {'fit s':>6}")
for beta in [1.0, 3.0, 10.0, "balanced"]:
    model = make_pipeline(StandardScaler(), WeightedLogisticCE(beta=beta, alpha=1e-4))
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    pred = model.predict(X_test)
    proba = model.predict_proba(X_test)[:, 1]
    print(
        f"{model[-1].beta_:6.2f} {recall_score(y_test, pred):7.3f} "
        f"{precision_score(y_test, pred):9.3f} {proba.mean():7.3f} "
        f"{log_loss(y_test, proba):9.4f} {seconds:6.2f}"
    )

# The same optimum as LogisticRegression(C = 1 / (alpha * n), class_weight={0: 1, 1: beta}).
alpha, beta = 1e-3, 5.0
Xs = StandardScaler().fit_transform(X_train)
ours = WeightedLogisticCE(beta=beta, alpha=alpha, tol=1e-10).fit(Xs, y_train)
ref = LogisticRegression(
    C=1 / (alpha * len(y_train)), class_weight={0: 1, 1: beta}, tol=1e-10, max_iter=1000
).fit(Xs, y_train)
print(f"\nmax |coef - LogisticRegression coef| = {np.abs(ours.coef_ - ref.coef_).max():.2e}")

digits_X, digits_y = load_digits(return_X_y=True)
Xd_train, Xd_test, yd_train, yd_test = train_test_split(digits_X, digits_y, random_state=0)
softmax = make_pipeline(StandardScaler(), SoftmaxCE(alpha=1e-3)).fit(Xd_train, yd_train)
print(f"SoftmaxCE on digits: test accuracy {softmax.score(Xd_test, yd_test):.3f}")
