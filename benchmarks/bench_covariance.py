"""What the standard errors cost: ``covariance_matrix`` against loss-and-gradient evaluations.

Issue 24's budget: on 1M x 50 dense data, the covariance should take at most the
time of two loss-and-gradient evaluations plus a d x d solve. On a fitted
``WeightedLogisticCE`` (β = 16) this times, alternating, with BLAS at one thread
(skce's thread policy; every contender here runs inside ``threadpool_limits(1)``):

- ``skce loss+grad``: one evaluation of the fit's objective (skce's, blocked rows);
- ``covariance (sandwich)``, ``covariance (model)``, ``covariance (groups)``:
  ``covariance_matrix`` as users call it (validation included);
- ``one Gram matrix``: ``C^T C`` of the 1M x 51 centred rows (numpy's matmul, a
  symmetric rank-k update in BLAS): the floor of each of the sandwich's two
  matrices ``A = C^T diag(h) C`` and ``B = C^T diag(g^2) C``;
- ``d x d solve``: ``numpy.linalg.eigh`` of a 51 x 51 matrix (what the covariance
  uses to check and invert ``A``).

and reports medians and the ratio of each to skce's evaluation.

Usage::

    python benchmarks/bench_covariance.py            # 1M x 50, 5 repeats (~1 minute)
    python benchmarks/bench_covariance.py --quick    # 100k x 50

Results go to ``benchmarks/results/issue24/bench_covariance[-quick].json``.
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from skce import WeightedLogisticCE

BETA = 16.0
ALPHA = 1e-6


def make_data(n, d, seed=0):
    """Standard normal features, a logistic model with a rare-ish positive class."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) * 0.3
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ w - 2.0)))).astype(np.int64)
    return X, y


def contenders(model, X, y):
    from skce._loss import BinaryCrossEntropy
    from skce._objective import LinearObjective, weighted_targets

    A = weighted_targets(y, 2, None, np.array([1.0, BETA]))
    objective = LinearObjective(BinaryCrossEntropy, X, A, alpha=ALPHA)
    theta = objective.pack(model.coef_, model.intercept_)
    groups = np.arange(X.shape[0]) % 1000
    C = np.empty((X.shape[0], X.shape[1] + 1))
    C[:, :-1] = X - X.mean(axis=0)
    C[:, -1] = 1.0
    square = C.T @ C

    return {
        "skce loss+grad": lambda: objective.value_and_grad(theta),
        "covariance (sandwich)": lambda: model.covariance_matrix(X, y),
        "covariance (model)": lambda: model.covariance_matrix(X, y, kind="model"),
        "covariance (groups)": lambda: model.covariance_matrix(X, y, groups=groups),
        "one Gram matrix": lambda: C.T @ C,
        "d x d solve": lambda: np.linalg.eigh(square),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k rows, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    n = 100_000 if args.quick else 1_000_000
    repeats = args.repeats or (3 if args.quick else 5)
    d = 50
    X, y = make_data(n, d)
    with threadpool_limits(1):
        start = time.perf_counter()
        model = WeightedLogisticCE(beta=BETA, alpha=ALPHA, tol=1e-8).fit(X, y)
        fit_seconds = time.perf_counter() - start
        runs = contenders(model, X, y)
        import warnings

        times = {name: [] for name in runs}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # kind="model" on a β fit
            for _ in range(repeats):
                for name, run in runs.items():  # alternating the contenders
                    start = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - start)
    unit = statistics.median(times["skce loss+grad"])
    rows = []
    print(f"{n} x {d} dense float64, beta={BETA}, alpha={ALPHA}, BLAS 1 thread, {repeats} repeats")
    print(f"| {'what':24} | median s | / skce loss+grad |")
    print(f"|{'-' * 26}|----------|------------------|")
    for name, values in times.items():
        median = statistics.median(values)
        rows.append({"what": name, "median_s": median, "ratio": median / unit, "all_s": values})
        print(f"| {name:24} | {median:8.3f} | {median / unit:16.2f} |")
    budget = 2 * unit + statistics.median(times["d x d solve"])
    print(f"the fit (tol=1e-8, once): {fit_seconds:.3f} s = {fit_seconds / unit:.1f} evaluations")
    print(f"budget (2 skce evaluations + solve): {budget:.3f} s")
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": [
            {k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for p in threadpool_info()
        ],
    }
    out = args.out or Path(__file__).parent / "results" / "issue24" / (
        "bench_covariance-quick.json" if args.quick else "bench_covariance.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"n": n, "d": d, "beta": BETA, "alpha": ALPHA, "repeats": repeats}
    payload.update({"budget_s": budget, "fit_s": fit_seconds, "rows": rows, "machine": machine})
    out.write_text(json.dumps(payload, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
