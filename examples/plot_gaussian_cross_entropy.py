"""
Gaussian cross-entropy as a function of μ_q and σ_q
===================================================

For a true density ``P = N(0, 1)`` and a model ``Q = N(μ_q, σ_q²)``,
:func:`skce.information.gaussian_cross_entropy` gives the average surprise
``H(P, Q) = −E_P[ln q(x)]`` in closed form. It is smallest, and equal to the
entropy ``h(P) = ½ ln(2πe)``, at ``Q = P``; a wrong mean costs a squared error, a
wrong spread is punished much more when it is too small than when it is too large.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm

from skce.information import gaussian_cross_entropy, gaussian_entropy, gaussian_kl_divergence

QUICK = os.environ.get("SKCE_DOCS_QUICK") == "1"
n_grid = 80 if QUICK else 300
mu_p, sigma_p = 0.0, 1.0

mu_q = np.linspace(-3, 3, n_grid)
sigma_q = np.linspace(0.25, 3, n_grid)
H = gaussian_cross_entropy(mu_p, sigma_p, mu_q[None, :], sigma_q[:, None])
h_p = gaussian_entropy(sigma_p)
print(f"h(P) = {h_p:.4f} nats; smallest H(P, Q) on the grid = {H.min():.4f}")

# %%
# The map, and two slices
# -----------------------
# Right: along ``σ_q`` at several mean errors ``d = μ_q − μ_p``; the best ``σ_q`` is
# ``sqrt(σ_p² + d²)`` (dots), the model's root mean squared error.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.3), layout="constrained")
levels = h_p + np.array([0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8])
image = ax1.contourf(mu_q, sigma_q, H, levels=np.r_[h_p, levels, H.max()], cmap="viridis_r")
ax1.contour(mu_q, sigma_q, H, levels=levels, colors="white", linewidths=0.5)
ax1.plot(mu_p, sigma_p, "r*", ms=14, label="Q = P: minimum h(P)")
ax1.set_xlabel("μ_q")
ax1.set_ylabel("σ_q")
ax1.legend(loc="upper right")
fig.colorbar(image, ax=ax1, label="H(P, Q) (nats)")
for d in [0.0, 1.0, 2.0]:
    (line,) = ax2.plot(
        sigma_q, gaussian_cross_entropy(mu_p, sigma_p, mu_p + d, sigma_q), label=f"d = {d:g}"
    )
    best = np.sqrt(sigma_p**2 + d**2)
    ax2.plot(
        best, gaussian_cross_entropy(mu_p, sigma_p, mu_p + d, best), "o", color=line.get_color()
    )
ax2.axhline(h_p, ls=":", color="gray", label="h(P)")
ax2.set_xlabel("σ_q")
ax2.set_ylabel("H(P, Q) (nats)")
ax2.set_ylim(top=h_p + 4)
ax2.legend()
plt.show()

# %%
# The decomposition and a Monte-Carlo check
# -----------------------------------------
# ``H(P, Q) = h(P) + KL(P ‖ Q)`` holds for densities too, and the closed form agrees with
# the average of ``−ln q(x)`` over samples drawn from ``P``.
rng = np.random.default_rng(0)
x = rng.normal(mu_p, sigma_p, 20_000 if QUICK else 200_000)
for m, s in [(0.0, 1.0), (1.0, 0.5), (-2.0, 2.0)]:
    closed = gaussian_cross_entropy(mu_p, sigma_p, m, s)
    split = h_p + gaussian_kl_divergence(mu_p, sigma_p, m, s)
    sampled = -norm.logpdf(x, m, s).mean()
    print(
        f"μ_q = {m:4.1f}, σ_q = {s:3.1f}: closed form {closed:.4f}, h + KL {split:.4f}, "
        f"Monte Carlo {sampled:.4f}"
    )
