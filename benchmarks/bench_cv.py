"""Cross-validation benchmark: WeightedLogisticCECV against GridSearchCV (issue 15).

Both contenders cross-validate the same grid with the same splits and scorer:

- ``WeightedLogisticCECV(betas=BETAS, alphas=ALPHAS, cv=cv, n_jobs=n)``: one task
  per (β, fold), each preparing the fold's objective once and solving the alphas
  from the largest to the smallest, warm-started;
- ``GridSearchCV(WeightedLogisticCE(), {"beta": BETAS, "alpha": ALPHAS}, cv=cv,
  n_jobs=n)``: one cold fit per (β, alpha, fold);

with 6 β (1, 2, 4, 8, 16, "balanced") × 8 alphas (the estimator's default grid,
1e-1 to 3e-5) × 5 stratified folds (shuffled, seed 0) = 240 fits plus the refit,
scored by the default scorer (balanced accuracy), at the same ``n_jobs``, on

- dense: 50,000 × 100 standard normal features, float64, about 23 % positives
  drawn from a logistic model;
- sparse: CSR 50,000 × 20,000, 20 stored entries per row, about 23 % positives.

Each contender runs ``--repeats`` times, alternating (the order flips every
repeat), and the medians are reported with their ratio; the load average is
recorded around every run. The results are checked to be the same: the largest
difference of ``mean_test_score``, the chosen parameters and the refitted
coefficients. ``--profile`` adds a cProfile of one serial ``WeightedLogisticCECV``
fit (where its time goes).

skce limits BLAS to one thread in its own fits and predictions (skce/_threads.py),
and joblib's worker processes run BLAS on one thread, so both contenders run
every BLAS call on one thread; ``threadpoolctl.threadpool_info()`` is recorded.

Usage::

    python benchmarks/bench_cv.py                 # both set-ups, n_jobs=2, 3 repeats
    python benchmarks/bench_cv.py --quick         # 10x smaller data, about a minute
    python benchmarks/bench_cv.py --only dense --n-jobs 1 --profile

It prints a Markdown table and writes it to ``benchmarks/results/bench_cv[-quick].md``,
and every timing, with the machine description, to the ``.json`` file of the same
name (``--out`` sets the JSON path).
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
import warnings
from pathlib import Path

import bench_fit  # the benchmark next to this one (same folder): machine description
import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skce import WeightedLogisticCE, WeightedLogisticCECV
from skce._cv import DEFAULT_ALPHAS

BETAS = (1, 2, 4, 8, 16, "balanced")
ALPHAS = DEFAULT_ALPHAS
N_FOLDS = 5
#: WeightedLogisticCECV's default; GridSearchCV's default would be accuracy.
SCORING = "balanced_accuracy"


def make_setups(scale):
    """``(name, X, y)`` of the two set-ups; ``scale`` < 1 shrinks them."""
    rng = np.random.RandomState(0)
    n = int(50_000 * scale)
    X = rng.randn(n, 100)
    w = rng.randn(100) * 2.0 / np.sqrt(100)
    yield "dense 50k x 100" if scale == 1 else f"dense {n} x 100", X, _labels(rng, X @ w)

    n_cols = int(20_000 * scale)
    per_row = 20
    indices = np.concatenate(
        [np.sort(rng.choice(n_cols, per_row, replace=False)) for _ in range(n)]
    ).astype(np.int32)
    indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int32)
    Xs = sp.csr_matrix((rng.randn(n * per_row), indices, indptr), shape=(n, n_cols))
    ws = rng.randn(n_cols) * 0.5
    name = "sparse CSR 50k x 20k" if scale == 1 else f"sparse CSR {n} x {n_cols}"
    yield name, Xs, _labels(rng, np.asarray(Xs @ ws))


def _labels(rng, logits):
    """Logistic labels, the intercept at the logits' 80th percentile (about 23 % positives)."""
    shift = np.quantile(logits, 0.8)
    p = 1.0 / (1.0 + np.exp(-(logits - shift) * 1.5))
    return (rng.rand(logits.shape[0]) < p).astype(np.int64)


def contenders(cv, n_jobs):
    return {
        "WeightedLogisticCECV": lambda: WeightedLogisticCECV(
            betas=BETAS, alphas=ALPHAS, cv=cv, scoring=SCORING, n_jobs=n_jobs
        ),
        "GridSearchCV": lambda: GridSearchCV(
            WeightedLogisticCE(),
            {"beta": list(BETAS), "alpha": list(ALPHAS)},
            cv=cv,
            scoring=SCORING,
            n_jobs=n_jobs,
        ),
    }


def _load():
    return os.getloadavg()[0]


def timed(make, X, y):
    """Fit a fresh contender; (seconds, fitted, warnings, load before, load after)."""
    search = make()
    before = _load()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        search.fit(X, y)
        seconds = time.perf_counter() - start
    kinds = sorted({w.category.__name__ for w in caught})
    return seconds, search, kinds, before, _load()


def compare(ours, reference):
    """How far the two answers are apart."""
    res, ref = ours.cv_results_, reference.cv_results_
    best = reference.best_estimator_
    return {
        "max_abs_mean_test_score_diff": float(
            np.max(np.abs(res["mean_test_score"] - ref["mean_test_score"]))
        ),
        "same_best_params": ours.best_params_ == reference.best_params_,
        "best_params_cv": {k: str(v) for k, v in ours.best_params_.items()},
        "best_params_grid_search": {k: str(v) for k, v in reference.best_params_.items()},
        "max_abs_coef_diff": float(np.max(np.abs(ours.coef_ - best.coef_)))
        if ours.best_params_ == reference.best_params_
        else None,
    }


def profile(make, X, y, lines=25):
    """The cProfile of one fit, by cumulative time."""
    profiler = cProfile.Profile()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        profiler.runcall(make().fit, X, y)
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(lines)
    return stream.getvalue()


def run_setup(name, X, y, n_jobs, repeats, log):
    cv = StratifiedKFold(N_FOLDS, shuffle=True, random_state=0)
    makers = contenders(cv, n_jobs)
    order = list(makers)
    times = {k: [] for k in order}
    loads, kinds, fitted = [], {}, {}
    for repeat in range(repeats):
        for key in order if repeat % 2 == 0 else order[::-1]:
            seconds, search, caught, before, after = timed(makers[key], X, y)
            times[key].append(seconds)
            loads.append((before, after))
            kinds[key] = sorted(set(kinds.get(key, [])) | set(caught))
            fitted[key] = search
            log(f"  {key}: {seconds:.2f} s (load {before:.2f} -> {after:.2f})")
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {
        "setup": name,
        "shape": list(X.shape),
        "nnz": int(X.nnz) if sp.issparse(X) else int(X.size),
        "positives": float(y.mean()),
        "n_jobs": n_jobs,
        "grid": {"betas": [str(b) for b in BETAS], "alphas": list(ALPHAS), "folds": N_FOLDS},
        "fits": len(BETAS) * len(ALPHAS) * N_FOLDS,
        "times_s": times,
        "median_s": medians,
        "ratio_cv_over_grid_search": medians["WeightedLogisticCECV"] / medians["GridSearchCV"],
        "warnings": kinds,
        "load_before_after": loads,
        "same_results": compare(fitted["WeightedLogisticCECV"], fitted["GridSearchCV"]),
    }


def format_table(rows, info):
    lines = [
        f"Machine: {info['machine']['cpu']}, {info['machine']['cores']} cores; Python "
        f"{info['machine']['python']}, numpy {info['machine']['numpy']}, scipy "
        f"{info['machine']['scipy']}, scikit-learn {info['machine']['sklearn']}, skce "
        f"{info['machine']['skce']}.",
        "BLAS (threadpoolctl, in this process): "
        + ", ".join(
            f"{b['internal_api']} {b['version']} ({b['num_threads']} threads)"
            for b in info["machine"]["blas"]
        )
        + "; skce's fits and joblib's workers run BLAS on 1 thread.",
        f"Load average (1 min) before/after the run: {info['load_before']:.2f} / "
        f"{info['load_after']:.2f}; {info['repeats']} runs per contender, alternating, medians.",
        "Grid: 6 β (1, 2, 4, 8, 16, balanced) × 8 alphas (1e-1 ... 3e-5) × 5 stratified "
        "folds = 240 fits + refit; scoring balanced accuracy (the default of both).",
        "",
        "| set-up | n_jobs | WeightedLogisticCECV s | GridSearchCV s | ratio | max |Δ mean score| "
        "| same best_params_ | max |Δ coef_| | load during runs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        same = r["same_results"]
        coef = same["max_abs_coef_diff"]
        coef = "—" if coef is None else f"{coef:.1e}"
        loads = [x for pair in r["load_before_after"] for x in pair]
        lines.append(
            f"| {r['setup']} | {r['n_jobs']} | {r['median_s']['WeightedLogisticCECV']:.2f} | "
            f"{r['median_s']['GridSearchCV']:.2f} | {r['ratio_cv_over_grid_search']:.2f} | "
            f"{same['max_abs_mean_test_score_diff']:.1e} | {same['same_best_params']} | "
            f"{coef} | {min(loads):.1f}–{max(loads):.1f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller data")
    parser.add_argument("--repeats", type=int, default=3, help="runs per contender")
    parser.add_argument("--n-jobs", type=int, default=2, help="n_jobs of both contenders")
    parser.add_argument("--only", default=None, help="run only set-ups whose name has this")
    parser.add_argument("--profile", action="store_true", help="profile one serial CV fit")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    args = parser.parse_args(argv)
    out = args.out or Path(__file__).parent / "results" / (
        "bench_cv-quick.json" if args.quick else "bench_cv.json"
    )

    def log(message):
        print(message, file=sys.stderr, flush=True)

    load_before = _load()
    started = time.perf_counter()
    rows, profiles = [], {}
    for name, X, y in make_setups(0.1 if args.quick else 1.0):
        if args.only and args.only not in name:
            continue
        log(f"{name} ({y.mean():.1%} positives), n_jobs={args.n_jobs}")
        rows.append(run_setup(name, X, y, args.n_jobs, args.repeats, log))
        if args.profile:
            cv = StratifiedKFold(N_FOLDS, shuffle=True, random_state=0)
            profiles[name] = profile(contenders(cv, None)["WeightedLogisticCECV"], X, y)
            log(profiles[name])
    info = {
        "machine": bench_fit.machine(),
        "repeats": args.repeats,
        "load_before": load_before,
        "load_after": _load(),
    }
    table = format_table(rows, info)
    print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        **info,
        "quick": args.quick,
        "seconds": time.perf_counter() - started,
        "rows": rows,
        "profiles": profiles,
        "table_markdown": table,
    }
    out.write_text(json.dumps(payload, indent=2))
    out.with_suffix(".md").write_text(table + "\n")
    log(f"wrote {out} and {out.with_suffix('.md')} ({payload['seconds']:.0f} s)")


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        main()
