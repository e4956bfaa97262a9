"""BLAS-thread benchmark: skce's thread policy on an idle and on a busy machine.

skce limits BLAS to one thread during its fits and predictions
(``skce/_threads.py``; ``SKCE_BLAS_THREADS`` overrides it). This benchmark shows
what that policy is worth, for a few representative scenarios and two machine
states:

- **idle**: no competing process started by the benchmark (whatever else runs
  on the machine shows in the load average printed with every row);
- **busy (N)**: the benchmark starts N competing processes, each a Python
  busy loop (``--competitor spin``) or a loop of 400 x 400 matrix products
  (``--competitor blas``), and stops them afterwards.

In every state it times, alternating the contenders, ``--repeats`` fits of

- ``skce (policy)``: the estimator as users get it (BLAS limited to 1 thread);
- ``skce (BLAS N threads)``: the policy switched off (``SKCE_BLAS_THREADS=off``)
  with BLAS at the thread count it had when the benchmark started (N, the
  OpenBLAS default: the number of cores);
- ``sklearn lbfgs (BLAS N threads)`` and ``sklearn lbfgs (1 thread)``: scikit-learn's
  ``LogisticRegression`` at its defaults, as it runs, and inside
  ``threadpool_limits(1)``;

and reports medians, the ratio of each to ``skce (policy)``, the largest
relative difference between the objectives reached with and without the policy,
and the load average before and after each state. With ``--kernels`` it also
times single loss-and-gradient evaluations (and the Gram matrix plus
eigenvalue of the Lipschitz bound) with 1 and N BLAS threads.

Usage::

    python benchmarks/bench_threads.py            # about 3 minutes on 2 busy cores
    python benchmarks/bench_threads.py --quick    # smaller data, fewer repeats, under a minute
    python benchmarks/bench_threads.py --busy 0 1 2 --kernels

It prints markdown tables and writes them, with the machine description, to a
JSON file (``--out``, default ``benchmarks/results/bench_threads[-quick].json``).
"""

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bench_fit  # the benchmark next to this one (same folder)
import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

from skce import SoftmaxCE, WeightedLogisticCE
from skce._loss import BinaryCrossEntropy, MultinomialCrossEntropy
from skce._objective import LinearObjective, weighted_targets
from skce._threads import ENV_VARIABLE

COMPETITORS = {
    "spin": "while True: pass",
    "blas": ("import numpy as np\na = np.random.rand(400, 400)\nwhile True:\n    a @ a"),
}


# -- data -----------------------------------------------------------------
@dataclass
class Scenario:
    name: str
    X: object
    y: np.ndarray
    multinomial: bool = False


def _standardised(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _binary_labels(rng, X, scale=2.0):
    w = rng.randn(X.shape[1]) * scale / np.sqrt(X.shape[1])
    z = np.asarray(X @ w).ravel()
    return (rng.rand(X.shape[0]) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)


def _sparse(rng, n, d, dtype, nnz=20):
    """CSR matrix with ``nnz`` random non-zeros per row.

    Built row by row: ``scipy.sparse.random`` samples positions among all
    ``n * d`` cells, which allocated 16 GB for 100k x 20k.
    """
    indices = np.concatenate([np.sort(rng.choice(d, nnz, replace=False)) for _ in range(n)])
    indptr = np.arange(0, n * nnz + 1, nnz)
    return sp.csr_matrix((rng.randn(n * nnz).astype(dtype), indices, indptr), shape=(n, d))


def make_scenarios(scale):
    """The benchmark's scenarios; ``scale`` < 1 shrinks the sample counts."""
    rng = np.random.RandomState(0)
    # The case of the issue: 30k x 60, standardised (kept at full size in --quick).
    X = _standardised(rng.randn(30_000, 60))
    yield Scenario("dense 30k × 60 (standardised)", X, _binary_labels(rng, X))

    n = int(10_000 * scale)
    X = _standardised(rng.randn(n, 1000))
    yield Scenario(f"wide dense {n / 1000:g}k × 1000", X, _binary_labels(rng, X))

    n = int(100_000 * scale)
    X = rng.randn(n, 50)
    W = rng.randn(10, 50) * 2.0 / np.sqrt(50)
    Z = X @ W.T
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) > rng.rand(n)[:, None]).argmax(axis=1)
    yield Scenario(f"multinomial K=10, {n / 1000:g}k × 50", X, y, multinomial=True)

    n = int(100_000 * scale)
    d = max(2000, int(20_000 * scale))
    Xs = _sparse(rng, n, d, np.float64)
    yield Scenario(f"sparse CSR {n / 1000:g}k × {d / 1000:g}k", Xs, _binary_labels(rng, Xs, 4.0))


# -- thread settings -----------------------------------------------------------
def blas_threads_now():
    return max(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")


@contextmanager
def policy_off(threads):
    """skce's policy switched off, BLAS at ``threads`` threads."""
    saved = os.environ.get(ENV_VARIABLE)
    os.environ[ENV_VARIABLE] = "off"
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            yield
    finally:
        if saved is None:
            del os.environ[ENV_VARIABLE]
        else:
            os.environ[ENV_VARIABLE] = saved


@contextmanager
def blas_at(threads):
    with threadpool_limits(limits=threads, user_api="blas"):
        yield


@contextmanager
def as_is():
    yield


@contextmanager
def competing(n, kind):
    """``n`` competing processes for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", COMPETITORS[kind]]) for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0.0)  # let them start (and numpy import, for "blas")
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def load():
    return round(os.getloadavg()[0], 2)


# -- fits -----------------------------------------------------------------
def contenders(scenario, n_threads):
    n = scenario.y.shape[0]
    Skce = SoftmaxCE if scenario.multinomial else WeightedLogisticCE
    alpha = Skce().alpha
    C = 1.0 / (alpha * n)  # the same objective (see docs/performance.md)
    return [
        ("skce (policy)", lambda: Skce(), as_is),
        (f"skce (BLAS {n_threads} threads)", lambda: Skce(), lambda: policy_off(n_threads)),
        (
            f"sklearn lbfgs (BLAS {n_threads} threads)",
            lambda: LogisticRegression(C=C),
            lambda: blas_at(n_threads),
        ),
        ("sklearn lbfgs (1 thread)", lambda: LogisticRegression(C=C), lambda: blas_at(1)),
    ]


def timed_fit(make, setting, X, y):
    model = make()
    with setting(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - start, model


def run_state(scenarios, n_busy, competitor, repeats, n_threads, log):
    rows = []
    with competing(n_busy, competitor):
        for scenario in scenarios:
            cands = contenders(scenario, n_threads)
            times = {label: [] for label, _, _ in cands}
            n_iter = {}
            objectives = {}
            load_before = load()
            for r in range(repeats):
                # Alternate, and reverse every other round, so drifts in the
                # machine's load hit every contender alike.
                order = cands if r % 2 == 0 else cands[::-1]
                for label, make, setting in order:
                    seconds, model = timed_fit(make, setting, scenario.X, scenario.y)
                    times[label].append(seconds)
                    n_iter[label] = int(np.max(model.n_iter_))
                    if label.startswith("skce"):
                        objectives.setdefault(label, []).append(model.loss_curve_[-1])
            load_after = load()
            policy = statistics.median(times["skce (policy)"])
            # At the default tol each run stops anywhere within tol of the
            # optimum, and rounding makes the two paths differ: this shows how
            # far apart they end; tight_agreement below shows that the limit
            # changes nothing but rounding.
            f_policy, f_free = (np.array(v) for v in objectives.values())
            agreement = float(np.max(np.abs(f_policy - f_free) / np.abs(f_free)))
            for label, _, _ in cands:
                median = statistics.median(times[label])
                rows.append(
                    {
                        "state": "idle" if n_busy == 0 else f"busy ({n_busy} {competitor})",
                        "scenario": scenario.name,
                        "method": label,
                        "median_s": median,
                        "times_s": times[label],
                        "over_policy": median / policy,
                        "n_iter": n_iter[label],
                        "load_before": load_before,
                        "load_after": load_after,
                        "objective_rel_diff": agreement,
                    }
                )
                log(f"  {rows[-1]['state']:16s} {scenario.name:34s} {label:32s} {median:8.3f} s")
    return rows


def tight_agreement(scenario, n_threads, tol=1e-10):
    """Relative difference of the objectives reached with and without the policy at ``tol``."""
    Skce = SoftmaxCE if scenario.multinomial else WeightedLogisticCE
    f = []
    for setting in (as_is, lambda: policy_off(n_threads)):
        make = functools.partial(Skce, tol=tol, max_iter=10_000)
        _, model = timed_fit(make, setting, scenario.X, scenario.y)
        f.append(model.loss_curve_[-1])
    return abs(f[0] - f[1]) / abs(f[1])


# -- kernels ---------------------------------------------------------------------
KERNEL_SHAPES = [
    ("dense f64", 30_000, 60, np.float64, 2, False),
    ("dense f64", 1_000_000, 10, np.float64, 2, False),
    ("dense f64", 200_000, 100, np.float64, 2, False),
    ("dense f64", 100_000, 500, np.float64, 2, False),
    ("dense f64", 10_000, 2000, np.float64, 2, False),
    ("dense f32", 200_000, 100, np.float32, 2, False),
    ("K=10 f64", 100_000, 50, np.float64, 10, False),
    ("sparse f64", 100_000, 20_000, np.float64, 2, True),
]


def _objective(n, d, dtype, k, sparse, rng):
    if sparse:
        X = _sparse(rng, n, d, dtype)
    else:
        X = rng.randn(n, d).astype(dtype)
    y = rng.randint(k, size=n)
    A = weighted_targets(y, k, np.ones(n), np.ones(k))
    loss = MultinomialCrossEntropy if k > 2 else BinaryCrossEntropy
    return LinearObjective(loss, X, A, alpha=1.0 / n)


def _one_vs_n(function, n_threads, budget):
    """Median seconds of ``function`` with 1 and with ``n_threads`` BLAS threads."""
    times = {1: [], n_threads: []}
    started = time.perf_counter()
    rounds = 0
    # At least 3 rounds, then until the budget is spent: a slow contender (many
    # threads on a busy machine can be 10-100x slower) must not stall the run.
    while rounds < 3 or (rounds < 30 and time.perf_counter() - started < budget):
        for threads in (1, n_threads) if rounds % 2 == 0 else (n_threads, 1):
            with blas_at(threads):
                start = time.perf_counter()
                function()
                times[threads].append(time.perf_counter() - start)
        rounds += 1
    return statistics.median(times[1]), statistics.median(times[n_threads])


def run_kernels(n_busy, competitor, n_threads, scale, log):
    rng = np.random.RandomState(0)
    rows = []
    state = "idle" if n_busy == 0 else f"busy ({n_busy} {competitor})"

    def add(what, n, d, t1, tn):
        rows.append(
            {
                "state": state,
                "kernel": what,
                "n": n,
                "d": d,
                "ms_1_thread": t1 * 1e3,
                f"ms_{n_threads}_threads": tn * 1e3,
                "gain": t1 / tn,
                "load": load(),
            }
        )
        log(f"  {state:16s} {what:28s} {n:>8d} × {d:<6d} {t1 * 1e3:9.3f} {tn * 1e3:9.3f} ms")

    with competing(n_busy, competitor):
        for what, n, d, dtype, k, sparse in KERNEL_SHAPES:
            n = max(1000, int(n * scale))
            objective = _objective(n, d, dtype, k, sparse, rng)
            theta = rng.randn(objective.n_params) * 0.01
            evaluate = functools.partial(objective.value_and_grad, theta)
            t1, tn = _one_vs_n(evaluate, n_threads, 0.4)
            add(f"{what} evaluation", n, d, t1, tn)
        for n, d in ((30_000, 60), (20_000, 500)):
            objective = _objective(n, d, np.float64, 2, False, rng)
            t1, tn = _one_vs_n(objective.lipschitz, n_threads, 0.8)
            add("Gram + eigvalsh (Lipschitz)", n, d, t1, tn)
    return rows


# -- report -----------------------------------------------------------------
def limit_overhead_us():
    """Cost of entering and leaving a limit: fresh threadpool_limits vs a reused controller."""
    repeats = 50
    start = time.perf_counter()
    for _ in range(repeats):
        threadpool_limits(limits=1, user_api="blas").restore_original_limits()
    fresh = (time.perf_counter() - start) / repeats
    controller = ThreadpoolController().select(user_api="blas")
    start = time.perf_counter()
    for _ in range(repeats * 10):
        with controller.limit(limits=1):
            pass
    reused = (time.perf_counter() - start) / (repeats * 10)
    return {"threadpool_limits": fresh * 1e6, "reused_controller": reused * 1e6}


def machine():
    """bench_fit's machine description, with every thread library's file and the load."""
    info = bench_fit.machine()
    keys = ("internal_api", "prefix", "version", "architecture", "num_threads", "filepath")
    info["thread_libraries"] = [{k: lib.get(k) for k in keys} for lib in threadpool_info()]
    info["load_at_start"] = list(os.getloadavg())
    return info


def format_fit_table(rows):
    lines = [
        "| state | scenario | method | median s | × skce (policy) | iter | load before/after "
        "| objective rel. diff |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['state']} | {r['scenario']} | {r['method']} | {r['median_s']:.3f} | "
            f"{r['over_policy']:.2f} | {r['n_iter']} | "
            f"{r['load_before']:.2f} / {r['load_after']:.2f} | {r['objective_rel_diff']:.0e} |"
        )
    return "\n".join(lines)


def format_kernel_table(rows, n_threads):
    lines = [
        f"| state | kernel | n × d | ms, 1 thread | ms, {n_threads} threads | "
        f"gain of {n_threads} threads | load |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['state']} | {r['kernel']} | {r['n']:,} × {r['d']:,} | {r['ms_1_thread']:.2f} | "
            f"{r[f'ms_{n_threads}_threads']:.2f} | {r['gain']:.2f} | {r['load']:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed fits per contender")
    parser.add_argument(
        "--busy", type=int, nargs="+", default=[0, 1], help="competing processes per state"
    )
    parser.add_argument("--competitor", choices=sorted(COMPETITORS), default="spin")
    parser.add_argument("--kernels", action="store_true", help="also time single kernels")
    parser.add_argument("--only", default=None, help="run only scenarios whose name has this")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    args = parser.parse_args(argv)
    scale = 0.25 if args.quick else 1.0
    repeats = args.repeats or (3 if args.quick else 5)
    out = args.out or Path(__file__).parent / "results" / (
        "bench_threads-quick.json" if args.quick else "bench_threads.json"
    )

    def log(message):
        print(message, file=sys.stderr, flush=True)

    info = machine()
    n_threads = blas_threads_now()
    if n_threads < 2:
        log(f"BLAS runs on {n_threads} thread here: there is no threading to compare.")
    started = time.perf_counter()
    scenarios = [s for s in make_scenarios(scale) if not args.only or args.only in s.name]
    rows, kernel_rows = [], []
    for n_busy in args.busy:
        if args.kernels:
            kernel_rows += run_kernels(n_busy, args.competitor, n_threads, scale, log)
        rows += run_state(scenarios, n_busy, args.competitor, repeats, n_threads, log)
    agreement = {s.name: tight_agreement(s, n_threads) for s in scenarios}
    tables = [format_fit_table(rows)]
    tables.append(
        "Objective reached at tol=1e-10, policy vs BLAS at "
        f"{n_threads} threads (relative difference): "
        + "; ".join(f"{name} {diff:.0e}" for name, diff in agreement.items())
    )
    if kernel_rows:
        tables.append(format_kernel_table(kernel_rows, n_threads))
    overhead = limit_overhead_us()
    tables.append(
        f"Entering and leaving a BLAS limit: threadpool_limits "
        f"{overhead['threadpool_limits']:.0f} us, reused controller "
        f"{overhead['reused_controller']:.1f} us."
    )
    text = "\n\n".join(tables)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": info,
        "blas_threads_default": n_threads,
        "quick": args.quick,
        "repeats": repeats,
        "competitor": args.competitor,
        "seconds": time.perf_counter() - started,
        "load_at_end": list(os.getloadavg()),
        "limit_overhead_us": overhead,
        "fits": rows,
        "tight_tol_objective_rel_diff": agreement,
        "kernels": kernel_rows,
        "tables_markdown": text,
    }
    out.write_text(json.dumps(payload, indent=2))
    log(f"wrote {out} ({payload['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
