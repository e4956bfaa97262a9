"""Coverage of the 95 % Wald intervals from ``std_errors`` (issue 24): a simulation.

For data drawn from a logistic model whose parameters are known, every replicate
fits ``WeightedLogisticCE(beta=β, alpha=0)`` and asks for the standard errors of
the fitted coefficients and intercept; the interval ``coef -/+ 1.96 se`` covers
the target or not. Over ``--replicates`` replicates the fraction that covers
should be near 0.95, within a few Monte Carlo standard errors
``sqrt(0.95 * 0.05 / R)``.

The target is the minimiser of the fitted objective in the population. For a
correctly specified logistic model ``P(y = 1 | x) = sigmoid(x . w + b)``, the
β-weighted population has odds β times the true ones, so the target is ``w``
for the slopes and ``b + ln β`` for the intercept.

Designs (3 features, ``w = (1, -0.5, 0.25)``, ``b = -2``: about 15 % positives):

``independent``
    1,500 independent rows, ``x ~ N(0, S)`` with unit variances and correlation
    0.3 between every two features. Standard errors: ``kind="sandwich"`` and
    ``kind="model"``.
``clustered``
    200 clusters of 10 rows. The covariates share a cluster part,
    ``x_ij = a_j + e_ij`` with ``a_j, e_ij ~ N(0, I / 2)`` (unit variance, half of
    it shared), and the outcomes are dependent within a cluster:
    ``y_ij = 1[U_ij < sigmoid(x_ij . w + b)]`` with
    ``U_ij = Phi(sqrt(rho) Z_j + sqrt(1 - rho) E_ij)``, ``rho = 0.5``, ``Z_j,
    E_ij ~ N(0, 1)`` independent of the covariates. Each ``U_ij`` is uniform and
    independent of every covariate, so ``P(y_ij = 1 | x) = sigmoid(x_ij . w +
    b)`` exactly and the target is the one above; only the rows' independence
    is lost. Standard errors: the per-row sandwich, the cluster sandwich
    (``groups=`` the cluster labels) and ``kind="model"``.

Both designs run at β = 1 and β = 16 on the same replicate data (one data set,
two fits). The estimator runs at ``alpha=0`` and ``tol=1e-10`` (``max |grad J|``,
far below the standard errors' scale: the covariance methods warn when the fit
is more than 0.01 standard errors from the minimum, and no such warning may be
raised). Every warning is recorded; the expected one (``kind="model"`` on a
β-weighted fit) is counted apart. Besides the coverage, the diagnostics table
gives, per parameter, the bias of the estimates over their standard deviation
across replicates, and the mean standard error over that standard deviation
(1 for a standard error that is right on average).

Replicate ``r`` of a design draws from its own stream
(``SeedSequence([seed, design]).spawn``), so a run with fewer replicates
repeats the first ones of a longer run. Everything runs inside
``threadpoolctl.threadpool_limits(1)``.

Usage::

    python benchmarks/bench_coverage.py            # 2,000 replicates per design, 1-2 minutes
    python benchmarks/bench_coverage.py --quick    # 200 replicates, ~10 seconds
    python benchmarks/bench_coverage.py --replicates 5000 --seed 1
    python benchmarks/bench_coverage.py --only clustered --clusters 800 --replicates 1000 \\
        --out benchmarks/results/issue24/coverage-clustered-800.json

It prints Markdown tables and writes them to
``benchmarks/results/issue24/coverage[-quick].md``, and the results, with the
machine description, to the ``.json`` file of the same name (``--out`` sets the
JSON path; the ``.md`` goes next to it).
"""

import argparse
import json
import math
import os
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import bench_fit  # the benchmark next to this one (same folder): machine description
import numpy as np
from scipy.special import expit
from scipy.stats import norm
from threadpoolctl import threadpool_info, threadpool_limits

from skce import WeightedLogisticCE

W_TRUE = np.array([1.0, -0.5, 0.25])
B_TRUE = -2.0
PARAMETERS = ("x0", "x1", "x2", "intercept")
BETAS = (1.0, 16.0)
TOL = 1e-10
LEVEL = 0.95
Z = norm.ppf(0.5 + LEVEL / 2)  # 1.96
# The warning kind="model" raises on every β-weighted fit: expected, counted apart.
EXPECTED_WARNING = "kind='model' on a weighted fit"


def target(beta):
    """The population minimiser of the β-weighted cross-entropy: (w, b + ln β)."""
    return np.append(W_TRUE, B_TRUE + math.log(beta))


# -- designs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Design:
    name: str
    n_rows: int
    methods: tuple  # labels of the standard errors compared

    def sample(self, rng):
        """One replicate: (X, y, groups); groups None for independent rows."""
        raise NotImplementedError


@dataclass(frozen=True)
class Independent(Design):
    correlation: float = 0.3

    def sample(self, rng):
        d = W_TRUE.size
        S = np.full((d, d), self.correlation) + (1 - self.correlation) * np.eye(d)
        X = rng.standard_normal((self.n_rows, d)) @ np.linalg.cholesky(S).T
        y = (rng.random(self.n_rows) < expit(X @ W_TRUE + B_TRUE)).astype(np.int64)
        return X, y, None


@dataclass(frozen=True)
class Clustered(Design):
    n_clusters: int = 200
    shared_x: float = 0.5  # the share of each covariate's variance common to a cluster
    rho: float = 0.5  # the correlation of the latent normals behind U within a cluster

    def sample(self, rng):
        G, d = self.n_clusters, W_TRUE.size
        m = self.n_rows // G
        groups = np.repeat(np.arange(G), m)
        a = math.sqrt(self.shared_x) * rng.standard_normal((G, d))
        X = a[groups] + math.sqrt(1 - self.shared_x) * rng.standard_normal((G * m, d))
        latent = math.sqrt(self.rho) * rng.standard_normal(G)[groups]
        latent += math.sqrt(1 - self.rho) * rng.standard_normal(G * m)
        U = norm.cdf(latent)  # uniform, independent of X, dependent within a cluster
        y = (U < expit(X @ W_TRUE + B_TRUE)).astype(np.int64)
        return X, y, groups


ROWS_PER_CLUSTER = 10


def make_designs(n_clusters=200):
    return (
        Independent("independent", 1500, ("sandwich", "model")),
        Clustered(
            "clustered",
            ROWS_PER_CLUSTER * n_clusters,
            ("sandwich (rows)", "sandwich (clusters)", "model"),
            n_clusters=n_clusters,
        ),
    )


def standard_errors(model, X, y, groups, method):
    if method == "model":
        return model.std_errors(X, y, kind="model")
    if method == "sandwich (clusters)":
        return model.std_errors(X, y, groups=groups)
    return model.std_errors(X, y)  # "sandwich", "sandwich (rows)": one row, one unit


# -- one design -------------------------------------------------------------------------------
def run_design(index, design, replicates, seed, log):
    """Estimates and standard errors of every replicate, at every β; warnings counted."""
    streams = np.random.SeedSequence([seed, index]).spawn(replicates)
    P = len(PARAMETERS)
    estimates = {beta: np.empty((replicates, P)) for beta in BETAS}
    errors = {beta: {m: np.empty((replicates, P)) for m in design.methods} for beta in BETAS}
    not_converged = Counter()
    expected, unexpected = Counter(), Counter()
    positives = np.empty(replicates)
    for r, stream in enumerate(streams):
        X, y, groups = design.sample(np.random.default_rng(stream))
        positives[r] = y.mean()
        for beta in BETAS:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = WeightedLogisticCE(beta=beta, alpha=0.0, tol=TOL, max_iter=10_000)
                model.fit(X, y)
                for method in design.methods:
                    errors[beta][method][r] = standard_errors(model, X, y, groups, method)
            for w in caught:
                message = str(w.message)
                if EXPECTED_WARNING in message:
                    expected[beta] += 1
                else:
                    unexpected[f"{w.category.__name__}: {message[:120]}"] += 1
            not_converged[beta] += model.status_ != "converged"
            estimates[beta][r] = np.append(model.coef_.ravel(), model.intercept_)
        if (r + 1) % max(1, replicates // 10) == 0:
            log(f"  {design.name}: {r + 1}/{replicates}")
    return summarise(design, estimates, errors), {
        "rows": design.n_rows,
        "clusters": getattr(design, "n_clusters", None),
        "positives_mean": float(positives.mean()),
        "positives_range": [float(positives.min()), float(positives.max())],
        "not_converged": {f"{b:g}": int(not_converged[b]) for b in BETAS},
        "expected_warnings": {f"{b:g}": int(expected[b]) for b in BETAS},
        "unexpected_warnings": dict(unexpected),
    }


def summarise(design, estimates, errors):
    """Per β and method: coverage, bias / SD and mean se / SD of every parameter."""
    rows = []
    for beta in BETAS:
        theta = target(beta)
        est = estimates[beta]
        sd = est.std(axis=0, ddof=1)
        bias = est.mean(axis=0) - theta
        for method in design.methods:
            se = errors[beta][method]
            covered = np.abs(est - theta) <= Z * se
            rows.append(
                {
                    "design": design.name,
                    "beta": beta,
                    "method": method,
                    "coverage": dict(zip(PARAMETERS, covered.mean(axis=0).tolist(), strict=True)),
                    "bias_over_sd": dict(zip(PARAMETERS, (bias / sd).tolist(), strict=True)),
                    "mean_se_over_sd": dict(
                        zip(PARAMETERS, (se.mean(axis=0) / sd).tolist(), strict=True)
                    ),
                    "target": dict(zip(PARAMETERS, theta.tolist(), strict=True)),
                    "mean_estimate": dict(zip(PARAMETERS, est.mean(axis=0).tolist(), strict=True)),
                    "sd_estimate": dict(zip(PARAMETERS, sd.tolist(), strict=True)),
                }
            )
    return rows


# -- output -------------------------------------------------------------------------------------
def coverage_table(rows):
    columns = " | ".join(PARAMETERS)
    lines = [
        f"| design | β | standard error | {columns} |",
        "|---|---|---|" + "---|" * len(PARAMETERS),
    ]
    for row in rows:
        cells = " | ".join(f"{row['coverage'][p]:.3f}" for p in PARAMETERS)
        lines.append(f"| {row['design']} | {row['beta']:g} | {row['method']} | {cells} |")
    return "\n".join(lines)


def diagnostics_table(rows):
    ratios = " | ".join(f"se/SD {p}" for p in PARAMETERS)
    biases = " | ".join(f"bias/SD {p}" for p in PARAMETERS)
    lines = [
        f"| design | β | standard error | {ratios} | {biases} |",
        "|---|---|---|" + "---|" * (2 * len(PARAMETERS)),
    ]
    for row in rows:
        ratios = " | ".join(f"{row['mean_se_over_sd'][p]:.2f}" for p in PARAMETERS)
        biases = " | ".join(f"{row['bias_over_sd'][p]:+.2f}" for p in PARAMETERS)
        lines.append(
            f"| {row['design']} | {row['beta']:g} | {row['method']} | {ratios} | {biases} |"
        )
    return "\n".join(lines)


def header(info, args, seconds, checks):
    blas = ", ".join(
        f"{b['internal_api']} {b['version']} ({b['num_threads']} thread)" for b in info["blas"]
    )
    mc = math.sqrt(LEVEL * (1 - LEVEL) / args.replicates)
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores; Python {info['python']}, "
        f"numpy {info['numpy']}, scipy {info['scipy']}, scikit-learn {info['sklearn']}, "
        f"skce {info['skce']}.",
        f"BLAS: every pool limited to 1 thread (threadpoolctl.threadpool_limits(1)): {blas}.",
        f"{'Quick run' if args.quick else 'Full run'}: {args.replicates} replicates per design, "
        f"seed {args.seed}, {seconds:.0f} s in all. WeightedLogisticCE(alpha=0, tol={TOL:g}); "
        f"intervals coef ± {Z:.2f} se; target: w = {W_TRUE.tolist()}, intercept "
        f"{B_TRUE:g} + ln β.",
        f"Monte Carlo standard error of a coverage of {LEVEL}: sqrt({LEVEL} × {1 - LEVEL:.2f} / "
        f"{args.replicates}) = {mc:.4f} (a 95 % band {LEVEL - 1.96 * mc:.3f} to "
        f"{LEVEL + 1.96 * mc:.3f}).",
    ]
    for name, check in checks.items():
        lo, hi = check["positives_range"]
        shape = f"{check['rows']} rows" + (
            f" in {check['clusters']} clusters" if check["clusters"] else ""
        )
        lines.append(
            f"{name} ({shape}): positives {check['positives_mean']:.1%} on average "
            f"({lo:.1%} to {hi:.1%}); "
            f"fits not converged {check['not_converged']}; expected kind='model' warnings "
            f"{check['expected_warnings']}; other warnings: "
            f"{check['unexpected_warnings'] or 'none'}."
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 replicates per design")
    parser.add_argument("--replicates", type=int, default=None, help="replicates per design")
    parser.add_argument("--seed", type=int, default=24, help="the root seed")
    parser.add_argument(
        "--clusters", type=int, default=200, help="clusters of 10 rows in the clustered design"
    )
    parser.add_argument("--only", default=None, help="run only the design of this name")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    args = parser.parse_args(argv)
    designs = make_designs(args.clusters)
    if args.replicates is None:
        args.replicates = 200 if args.quick else 2000
    out = args.out or Path(__file__).parent / "results" / "issue24" / (
        "coverage-quick.json" if args.quick else "coverage.json"
    )

    def log(message):
        print(message, file=sys.stderr, flush=True)

    rows, checks = [], {}
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        assert all(info["num_threads"] == 1 for info in threadpool_info())
        info = bench_fit.machine()
        for index, design in enumerate(designs):
            if args.only is not None and design.name != args.only:
                continue
            design_rows, checks[design.name] = run_design(
                index, design, args.replicates, args.seed, log
            )
            rows += design_rows
    seconds = time.perf_counter() - started
    loads = [load_before, os.getloadavg()[0]]
    text = "\n\n".join(
        [
            header(info, args, seconds, checks),
            "Coverage of the 95 % intervals:",
            coverage_table(rows),
            "Diagnostics (SD: the standard deviation of the estimates over the replicates):",
            diagnostics_table(rows),
        ]
    )
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": info,
        "quick": args.quick,
        "replicates": args.replicates,
        "seed": args.seed,
        "blas_threads": 1,
        "tol": TOL,
        "alpha": 0.0,
        "level": LEVEL,
        "monte_carlo_se": math.sqrt(LEVEL * (1 - LEVEL) / args.replicates),
        "true_coef": W_TRUE.tolist(),
        "true_intercept": B_TRUE,
        "designs": {d.name: {k: v for k, v in vars(d).items() if k != "methods"} for d in designs},
        "checks": checks,
        "seconds": seconds,
        "load_average_1min": loads,
        "rows": rows,
        "table_markdown": text,
    }
    out.write_text(json.dumps(payload, indent=2))
    out.with_suffix(".md").write_text(text + "\n")
    log(f"wrote {out} and {out.with_suffix('.md')} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
