"""Figure of benchmarks/results/bench_fit.json: fit time relative to scikit-learn's L-BFGS."""

import json
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

# The plot directive runs this script with docs/_scripts as the working directory.
RESULTS = Path.cwd().parents[1] / "benchmarks" / "results" / "bench_fit.json"
METHODS = ["skce bb", "skce lbfgs", "skce agd", "sklearn lbfgs", "sklearn newton-cholesky"]
COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#7f7f7f", "#d9d9d9"]

rows = json.loads(RESULTS.read_text())["rows"]
cases = []
for row in rows:
    case = (row["scenario"], row["dtype"])
    if case not in cases:
        cases.append(case)
ratio = {(r["scenario"], r["dtype"], r["method"]): r["ratio_to_sklearn_lbfgs"] for r in rows}

fig, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
width = 0.16
x = np.arange(len(cases))
for j, (method, color) in enumerate(zip(METHODS, COLORS, strict=True)):
    values = [ratio.get((s, d, method), np.nan) for s, d in cases]
    ax.bar(x + (j - 2) * width, values, width, label=method, color=color, edgecolor="black", lw=0.4)
ax.axhline(1.0, color="black", lw=0.8)
ax.axhline(0.5, color="tab:red", lw=0.8, ls="--", label="target for bb (0.5)")
ax.set_yscale("log")
ax.set_yticks([0.1, 0.2, 0.5, 1, 2, 5, 10], labels=["0.1", "0.2", "0.5", "1", "2", "5", "10"])
ax.set_xticks(x, [f"{textwrap.fill(s, 12)}\n{d}" for s, d in cases], fontsize=8)
ax.set_ylabel("median fit time / sklearn lbfgs")
ax.set_title("Time to reach a relative gap of 1e-8 (lower is better)")
ax.legend(ncols=3, fontsize=8, loc="upper left")
