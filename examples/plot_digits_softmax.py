"""
SoftmaxCE on handwritten digits
===============================

:class:`skce.SoftmaxCE` fits one row of coefficients per class. On scikit-learn's
bundled 8×8 digits each row has one weight per pixel, so it can be shown as an
image: red pixels raise the logit of that digit, blue pixels lower it.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split

from skce import SoftmaxCE
from skce.metrics import cross_entropy_loss

QUICK = os.environ.get("SKCE_DOCS_QUICK") == "1"
X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixel intensities in [0, 1]; kept unstandardised so the images are readable
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

model = SoftmaxCE(alpha=1e-2 if QUICK else 3e-3).fit(X_train, y_train)
print(f"{model.n_iter_} iterations")
print(f"test accuracy: {model.score(X_test, y_test):.3f}")
print(f"test cross-entropy: {cross_entropy_loss(y_test, model.predict_proba(X_test)):.3f} nats")

# %%
# The coefficient images
# ----------------------
fig, axes = plt.subplots(2, 5, figsize=(10, 4.4), layout="constrained")
limit = np.abs(model.coef_).max()
for digit, ax in zip(model.classes_, axes.ravel(), strict=True):
    image = ax.imshow(model.coef_[digit].reshape(8, 8), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(f"digit {digit}")
    ax.set_axis_off()
fig.colorbar(image, ax=axes, shrink=0.8, label="coefficient")
plt.show()

# %%
# Which digits it confuses
# ------------------------
ConfusionMatrixDisplay.from_estimator(model, X_test, y_test, colorbar=False)
plt.show()
