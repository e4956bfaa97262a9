"""Fit-time benchmark: skce's solvers against scikit-learn's LogisticRegression.

For every scenario and dtype the benchmark

1. computes a reference optimum ``J*`` of the common objective (one tight solve);
2. calibrates every contender: the loosest ``tol`` of a ladder at which its fit
   reaches a relative gap ``(J - J*) / |J*| <= 1e-8`` (the gap is always measured
   with the same float64 evaluation of the objective on the same data);
3. times every contender at its calibrated ``tol``, alternating contenders, at
   least ``--repeats`` times each, and reports medians and the ratio to
   ``LogisticRegression(solver="lbfgs")``;
4. measures the time of one skce loss-and-gradient evaluation against a bare
   ``X @ w`` + ``X.T @ r`` pass, the peak extra memory of one fit (tracemalloc) as a
   multiple of ``X.nbytes``, and the gap reached with default parameters.

The objective is ``J = (1 / sum s) sum_i s_i c_{y_i} CE_i + alpha/2 ||W||^2`` with
``alpha = 1 / n`` (scikit-learn's ``C = 1 / (alpha * sum s) = 1``).

Usage::

    python benchmarks/bench_fit.py            # full run (about 10-15 minutes on 2 cores)
    python benchmarks/bench_fit.py --quick    # small data, about a minute
    python benchmarks/bench_fit.py --blas-threads 1   # every BLAS pool at 1 thread

skce limits BLAS to one thread during its own fits (skce/_threads.py) whatever
the setting; ``--blas-threads 1`` also limits scikit-learn's (numpy's and scipy's
OpenBLAS pools), the other threading set-up the comparison is reported for.

It prints a table and writes it, with the machine description, to a JSON file
(``--out``, default ``benchmarks/results/bench_fit[-quick].json``).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

import skce
from skce import SoftmaxCE, WeightedLogisticCE
from skce._loss import BinaryCrossEntropy, MultinomialCrossEntropy
from skce._objective import LinearObjective, weighted_targets

TARGET_GAP = 1e-8
SKCE_TOLS = [1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10]
SKLEARN_TOLS = [1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-12]
SKCE_SOLVERS = ["bb", "lbfgs", "agd", "newton"]


# -- data -----------------------------------------------------------------
@dataclass
class Scenario:
    name: str
    X: object  # float64 data; the float32 variant is derived from it
    y: np.ndarray
    beta: float = 1.0
    multinomial: bool = False

    @property
    def sparse(self):
        return sp.issparse(self.X)


def _logistic_labels(rng, logits):
    return (rng.rand(logits.shape[0]) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int64)


def make_scenarios(scale):
    """The scenarios of the benchmark; ``scale`` < 1 shrinks the sample counts."""
    rng = np.random.RandomState(0)
    n = int(200_000 * scale)
    X = rng.randn(n, 100)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    w = rng.randn(100) * 2.0 / np.sqrt(100)
    yield Scenario("dense balanced", X, _logistic_labels(rng, X @ w))

    # Imbalanced 1:20: the intercept puts about 1 positive in 21 samples.
    y = _logistic_labels(rng, X @ w - 3.9)
    yield Scenario("dense imbalanced 1:20", X, y, beta=20.0)

    # Narrow and long: per-row arrays (targets, logits, class codes) weigh most
    # against X here (issue 22, item 9: peak memory).
    n_narrow = int(1_000_000 * scale)
    Xn = rng.randn(n_narrow, 10)
    yield Scenario("dense narrow d=10", Xn, _logistic_labels(rng, Xn @ rng.randn(10)))

    n_sparse = int(100_000 * scale)
    n_cols = max(2000, int(20_000 * scale))
    nnz_per_row = 20
    indices = np.concatenate(
        [np.sort(rng.choice(n_cols, nnz_per_row, replace=False)) for _ in range(n_sparse)]
    ).astype(np.int32)
    indptr = np.arange(0, n_sparse * nnz_per_row + 1, nnz_per_row, dtype=np.int32)
    data = rng.randn(n_sparse * nnz_per_row)
    Xs = sp.csr_matrix((data, indices, indptr), shape=(n_sparse, n_cols))
    ws = rng.randn(n_cols)
    yield Scenario("sparse CSR", Xs, _logistic_labels(rng, Xs @ ws))

    n_multi = int(100_000 * scale)
    Xm = rng.randn(n_multi, 50)
    W = rng.randn(10, 50) / np.sqrt(50) * 2.0
    Z = Xm @ W.T
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    ym = (P.cumsum(axis=1) > rng.rand(n_multi)[:, None]).argmax(axis=1)
    yield Scenario("multinomial K=10", Xm, ym, multinomial=True)


def nbytes(X):
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


# -- the common objective -----------------------------------------------------------------
def objective_for(scenario, X, alpha):
    """skce's objective for the scenario's labels and β on the data X."""
    classes, codes = np.unique(scenario.y, return_inverse=True)
    k = classes.shape[0]
    class_weight = np.ones(k)
    if not scenario.multinomial:
        class_weight[1] = scenario.beta
    A = weighted_targets(codes, k, np.ones(codes.shape[0]), class_weight)
    loss = MultinomialCrossEntropy if scenario.multinomial else BinaryCrossEntropy
    return LinearObjective(loss, X, A, alpha=alpha)


class Evaluator:
    """J(W, b) in float64 on the float64 image of the scenario's data."""

    def __init__(self, scenario, X, alpha):
        self.objective = objective_for(scenario, X.astype(np.float64), alpha)

    def __call__(self, coef, intercept):
        theta = self.objective.pack(np.asarray(coef, np.float64), np.asarray(intercept))
        return self.objective.value(theta)


# -- contenders -----------------------------------------------------------------
@dataclass
class Contender:
    label: str
    make: object  # tol -> unfitted estimator
    tols: list
    is_skce: bool


def contenders(scenario, alpha):
    n = scenario.y.shape[0]
    C = 1.0 / (alpha * n)
    out = []
    for solver in SKCE_SOLVERS:
        if scenario.multinomial:

            def make(tol, solver=solver):
                return SoftmaxCE(alpha=alpha, solver=solver, tol=tol, max_iter=100_000)

        else:

            def make(tol, solver=solver):
                return WeightedLogisticCE(
                    beta=scenario.beta, alpha=alpha, solver=solver, tol=tol, max_iter=100_000
                )

        out.append(Contender(f"skce {solver}", make, SKCE_TOLS, True))
    class_weight = None if scenario.multinomial else {0: 1.0, 1: scenario.beta}
    sk_solvers = ["lbfgs"] if scenario.sparse else ["lbfgs", "newton-cholesky"]
    for solver in sk_solvers:

        def make(tol, solver=solver):
            return LogisticRegression(
                C=C, solver=solver, tol=tol, max_iter=100_000, class_weight=class_weight
            )

        out.append(Contender(f"sklearn {solver}", make, SKLEARN_TOLS, False))
    return out


def timed_fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X, y)
        return time.perf_counter() - start


def n_iter_of(estimator):
    return int(np.max(estimator.n_iter_))


# -- measurements -----------------------------------------------------------------
def bare_pass_seconds(X, n_outputs, repeats):
    """Median time of the two products an evaluation needs, in X's dtype."""
    rng = np.random.RandomState(1)
    shape = (X.shape[1],) if n_outputs == 1 else (X.shape[1], n_outputs)
    w = rng.randn(*shape).astype(X.dtype)
    r = rng.randn(X.shape[0], *shape[1:]).astype(X.dtype)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        X @ w
        X.T @ r
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def kernel_seconds(scenario, X, alpha, repeats):
    """Median time of one skce loss-and-gradient evaluation on X (its own dtype)."""
    objective = objective_for(scenario, X, alpha)
    theta = np.random.RandomState(2).randn(objective.n_params) * 0.01
    objective.value_and_grad(theta)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        objective.value_and_grad(theta)
        times.append(time.perf_counter() - start)
    return statistics.median(times), objective.n_outputs


def peak_memory_ratio(estimator, X, y):
    """Peak memory allocated during one fit, as a multiple of X.nbytes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tracemalloc.start()
        try:
            estimator.fit(X, y)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return peak / nbytes(X)


@dataclass
class Row:
    scenario: str
    dtype: str
    method: str
    tol: float | None
    reached: bool
    gap: float
    median_s: float
    times_s: list = field(default_factory=list)
    ratio_to_sklearn_lbfgs: float | None = None
    n_iter: int | None = None
    n_evals: int | None = None


def run_scenario(scenario, dtype, repeats, log):
    X = scenario.X.astype(dtype)
    y = scenario.y
    n = y.shape[0]
    alpha = 1.0 / n
    evaluate = Evaluator(scenario, X, alpha)
    cands = contenders(scenario, alpha)

    # 1. Reference optimum: skce's L-BFGS on the float64 image of X, tight.
    ref = cands[1].make(1e-11)
    timed_fit(ref, X.astype(np.float64), y)
    j_star = evaluate(ref.coef_, ref.intercept_)

    def gap(model):
        return (evaluate(model.coef_, model.intercept_) - j_star) / abs(j_star)

    # 2. Calibration: the loosest tol that reaches the target gap.
    chosen = {}
    for cand in cands:
        best = None
        for tol in cand.tols:
            model = cand.make(tol)
            seconds = timed_fit(model, X, y)
            g = gap(model)
            best = (tol, g, seconds)
            log(f"    calibrate {cand.label:24s} tol={tol:.0e} gap={g:.1e} {seconds:.2f}s")
            if g <= TARGET_GAP:
                break
        chosen[cand.label] = best

    # 3. Timing, alternating contenders.
    times = {cand.label: [] for cand in cands}
    fitted = {}
    for _ in range(repeats):
        for cand in cands:
            model = cand.make(chosen[cand.label][0])
            times[cand.label].append(timed_fit(model, X, y))
            fitted[cand.label] = model
    rows = []
    for cand in cands:
        tol, _, _ = chosen[cand.label]
        model = fitted[cand.label]
        g = gap(model)
        rows.append(
            Row(
                scenario=scenario.name,
                dtype=np.dtype(dtype).name,
                method=cand.label,
                tol=tol,
                reached=bool(g <= TARGET_GAP),
                gap=float(g),
                median_s=statistics.median(times[cand.label]),
                times_s=times[cand.label],
                n_iter=n_iter_of(model),
                n_evals=getattr(model, "_n_evals", None),
            )
        )
    reference = next(r for r in rows if r.method == "sklearn lbfgs").median_s
    for r in rows:
        r.ratio_to_sklearn_lbfgs = r.median_s / reference

    # 4. Kernel against the bare products, memory, defaults.
    kernel, n_outputs = kernel_seconds(scenario, X, alpha, repeats=7)
    bare = bare_pass_seconds(X, n_outputs, repeats=7)
    default = cands[0].make(1e-7)
    default.set_params(tol=type(default)().tol, max_iter=type(default)().max_iter)
    default_seconds = timed_fit(default, X, y)
    extras = {
        "scenario": scenario.name,
        "dtype": np.dtype(dtype).name,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "X_nbytes": int(nbytes(X)),
        "bare_pass_ms": bare * 1e3,
        "kernel_ms": kernel * 1e3,
        "kernel_over_bare": kernel / bare,
        "peak_memory_over_X": {
            "skce bb": peak_memory_ratio(cands[0].make(1e-7), X, y),
            "sklearn lbfgs": peak_memory_ratio(
                next(c for c in cands if c.label == "sklearn lbfgs").make(1e-4), X, y
            ),
        },
        "default_params": {
            "gap": float(gap(default)),
            "seconds": default_seconds,
            "n_iter": n_iter_of(default),
        },
        "j_star": float(j_star),
    }
    return rows, extras


def machine():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info

        blas = [
            {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for info in threadpool_info()
        ]
    except ImportError:  # pragma: no cover
        blas = []
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "skce": skce.__version__,
        "blas": blas,
    }


def format_table(rows, extras):
    lines = [
        "| scenario | dtype | method | tol | median s | × sklearn lbfgs | iter | evals | gap |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gap = f"{r.gap:.1e}" + ("" if r.reached else " (not reached)")
        evals = "" if r.n_evals is None else str(r.n_evals)
        lines.append(
            f"| {r.scenario} | {r.dtype} | {r.method} | {r.tol:.0e} | {r.median_s:.3f} | "
            f"{r.ratio_to_sklearn_lbfgs:.2f} | {r.n_iter} | {evals} | {gap} |"
        )
    lines += [
        "",
        "| scenario | dtype | X MB | bare X@w + X.T@r ms | skce evaluation ms | ratio | "
        "peak mem / X (skce bb) | peak mem / X (sklearn lbfgs) | default-params gap |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in extras:
        mem = e["peak_memory_over_X"]
        lines.append(
            f"| {e['scenario']} | {e['dtype']} | {e['X_nbytes'] / 1e6:.0f} | "
            f"{e['bare_pass_ms']:.1f} | {e['kernel_ms']:.1f} | {e['kernel_over_bare']:.2f} | "
            f"{mem['skce bb']:.2f} | {mem['sklearn lbfgs']:.2f} | "
            f"{e['default_params']['gap']:.1e} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, about a minute")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per contender")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    parser.add_argument("--only", default=None, help="run only scenarios whose name has this")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit every BLAS pool to this many threads (default: the libraries' own)",
    )
    args = parser.parse_args(argv)
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.blas_threads, user_api="blas"):
            return _run(args)
    return _run(args)


def _run(args):
    scale = 0.1 if args.quick else 1.0
    suffix = "" if args.blas_threads is None else f"-{args.blas_threads}thread"
    out = args.out or Path(__file__).parent / "results" / (
        f"bench_fit{suffix}-quick.json" if args.quick else f"bench_fit{suffix}.json"
    )

    def log(message):
        print(message, file=sys.stderr, flush=True)

    rows, extras = [], []
    started = time.perf_counter()
    for scenario in make_scenarios(scale):
        if args.only and args.only not in scenario.name:
            continue
        for dtype in (np.float64, np.float32):
            log(f"{scenario.name}, {np.dtype(dtype).name}")
            r, e = run_scenario(scenario, dtype, args.repeats, log)
            rows += r
            extras.append(e)
    table = format_table(rows, extras)
    print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": machine(),
        "quick": args.quick,
        "blas_threads": args.blas_threads,
        "repeats": args.repeats,
        "target_gap": TARGET_GAP,
        "seconds": time.perf_counter() - started,
        "rows": [asdict(r) for r in rows],
        "scenarios": extras,
        "table_markdown": table,
    }
    out.write_text(json.dumps(payload, indent=2))
    log(f"wrote {out} ({payload['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
