"""Dask benchmark: skce's chunked fits on a local 2-worker cluster against in memory.

Issue 14, section "Performance". On a ``distributed.LocalCluster`` with 2 worker
processes of 1 thread each, for a dense and a sparse (CSR) data set generated
on the workers, the benchmark

1. generates and persists the data on the workers: dense float64 ``X`` of
   ``--rows`` x 50 (standard Gaussian), sparse CSR ``X`` of ``--sparse-rows`` x
   20,000 with 20 non-zeros a row (one column drawn in each of 20 equal column
   strata, Gaussian values), both in ``--chunks`` row chunks made by
   ``map_blocks`` with a seed per block, and labels from a logistic model drawn
   next to each chunk (no download, nothing of ``X`` passes through the client);
2. fits ``WeightedLogisticCE`` (default solver, ``alpha = 1 / n``, ``tol =
   --tol``) on the dask arrays: wall time, ``n_iter_``, evaluations, and the
   client's peak memory during the fit as a fraction of ``X``'s bytes, measured
   two ways in two separate fits: the peak of ``tracemalloc`` (Python and NumPy
   allocations of the client process) and the peak of the client's resident set
   size sampled every 5 ms by a thread (psutil), above its value before the fit;
3. times one evaluation of ``J`` and its gradient: the chunked objective built
   as ``WeightedLogisticCE.fit`` builds it (``ChunkedData(X, y).objective(...)``,
   skce/_dask.py) against ``LinearObjective.value_and_grad`` on the same data
   gathered into one NumPy array or CSR matrix in the client process, with BLAS
   at 1 thread through threadpoolctl (each worker also runs 1 thread), at the same
   nonzero ``theta``; medians of ``--repeats``, alternating the two. The
   in-memory side is skipped (and the output says so) when ``X`` is larger than
   ``--in-memory-max-gb``. With the in-memory copy it also fits in memory and
   compares the two optima;
4. with ``--dask-ml``, if ``dask_ml`` is importable, fits its
   ``LogisticRegression`` solvers on the same dask arrays with ``C = 1 / (alpha
   n)`` (the same objective up to a factor ``n``, except that dask-glm also
   penalises the intercept) and reports their time and objective gap to skce's
   fit, the objective evaluated by skce's chunked objective. Off by default.

Usage::

    python benchmarks/bench_dask.py                      # the issue's sizes
    python benchmarks/bench_dask.py --rows 1000000 --chunks 10 --sparse-rows 400000

It prints Markdown tables and writes them, with the machine description and
every timing, to ``benchmarks/results/bench_dask.{json,md}`` (``--out``).
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import machine

N_FEATURES = 50
SPARSE_COLS = 20_000
SPARSE_NNZ = 20
DASK_ML_SOLVERS = ["lbfgs", "admm", "newton", "gradient_descent", "proximal_grad"]


# -- data, generated where the chunks live ---------------------------------------
def _row_chunks(n, n_chunks):
    base, extra = divmod(n, n_chunks)
    return tuple(base + (i < extra) for i in range(n_chunks))


def _dense_block(n_features, seed, block_info=None):
    info = block_info[None]
    (start, stop), _ = info["array-location"]
    rng = np.random.default_rng([seed, info["chunk-location"][0]])
    return rng.standard_normal((stop - start, n_features))


def _sparse_block(n_cols, nnz, seed, block_info=None):
    info = block_info[None]
    (start, stop), _ = info["array-location"]
    rows = stop - start
    rng = np.random.default_rng([seed, info["chunk-location"][0]])
    width = n_cols // nnz  # one non-zero in each of nnz column strata: sorted, no duplicates
    indices = (np.arange(nnz) * width + rng.integers(0, width, (rows, nnz))).astype(np.int32)
    indptr = np.arange(0, rows * nnz + 1, nnz, dtype=np.int64)
    data = rng.standard_normal(rows * nnz)
    return sp.csr_matrix((data, indices.ravel(), indptr), shape=(rows, n_cols))


def _model_weights(n_features, seed, scale):
    return np.random.default_rng([seed, 10**6]).standard_normal(n_features) * scale


def _labels_block(x, scale, seed, block_info=None):
    """Labels of one chunk from the logistic model ``P(y = 1) = sigmoid(x . w)``."""
    w = _model_weights(x.shape[1], seed, scale)
    logits = np.asarray(x @ w).ravel()
    rng = np.random.default_rng([seed, 2 * 10**6, block_info[0]["chunk-location"][0]])
    return (rng.random(x.shape[0]) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int64)


def make_data(kind, n_rows, n_chunks, seed):
    """Lazy ``(X, y)``: dense or CSR chunks made on the workers, a seed per block."""
    import dask.array as da

    chunks = _row_chunks(n_rows, n_chunks)
    if kind == "dense":
        X = da.map_blocks(
            _dense_block,
            N_FEATURES,
            seed,
            chunks=(chunks, (N_FEATURES,)),
            dtype=np.float64,
            meta=np.empty((0, 0)),
        )
        scale = 2.0 / np.sqrt(N_FEATURES)
    else:
        X = da.map_blocks(
            _sparse_block,
            SPARSE_COLS,
            SPARSE_NNZ,
            seed,
            chunks=(chunks, (SPARSE_COLS,)),
            dtype=np.float64,
            meta=sp.csr_matrix((0, 0)),
        )
        scale = 2.0 / np.sqrt(SPARSE_NNZ)
    y = X.map_blocks(
        _labels_block, scale, seed, drop_axis=1, dtype=np.int64, meta=np.empty((0,), np.int64)
    )
    return X, y


def _chunk_nbytes(x):
    if sp.issparse(x):
        return int(x.data.nbytes + x.indices.nbytes + x.indptr.nbytes)
    return int(x.nbytes)


def x_nbytes(client, X):
    import dask

    parts = [dask.delayed(_chunk_nbytes)(d) for d in X.to_delayed().ravel()]
    return int(sum(client.gather(client.compute(parts))))


def gather_in_memory(client, X, y):
    """``X`` (one NumPy array or CSR matrix) and ``y`` in the client process."""
    xs = client.gather(client.compute(list(X.to_delayed().ravel())))
    ys = client.gather(client.compute(list(y.to_delayed().ravel())))
    if sp.issparse(xs[0]):
        Xm = sp.vstack(xs, format="csr")
    else:
        Xm = np.ascontiguousarray(np.concatenate(xs))
    del xs
    return Xm, np.concatenate(ys)


# -- objectives -----------------------------------------------------------------
def chunked_objective(estimator, X, y):
    """The chunked objective exactly as ``WeightedLogisticCE.fit`` builds it."""
    from skce._dask import ChunkedData

    objective = estimator._chunked_objective(ChunkedData(X, y))
    return objective, np.asarray(estimator._fitted_class_weights(), dtype=np.float64)


def in_memory_objective(estimator, X, y, class_weight):
    """The in-memory ``LinearObjective`` of ``WeightedLogisticCE.fit`` (unit weights)."""
    from skce._objective import LinearObjective, weighted_targets

    classes, codes = np.unique(y, return_inverse=True)
    A = weighted_targets(
        codes, classes.shape[0], np.ones(codes.shape[0]), class_weight, estimator.label_smoothing
    )
    return LinearObjective(
        estimator._loss, X, A, alpha=estimator.alpha, fit_intercept=estimator.fit_intercept
    )


def _timed(func, *args):
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


# -- memory -----------------------------------------------------------------
class RssSampler:
    """Peak resident set size of this process, sampled by a thread."""

    def __init__(self, interval=0.005):
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def _fit(estimator, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X, y)
        return time.perf_counter() - start


# -- one scenario -----------------------------------------------------------------
def run_scenario(kind, client, args, log):
    from skce import WeightedLogisticCE

    n_rows = args.rows if kind == "dense" else args.sparse_rows
    X, y = make_data(kind, n_rows, args.chunks, args.seed)
    start = time.perf_counter()
    X, y = client.persist([X, y])
    from distributed import wait

    wait([X, y])
    generate_s = time.perf_counter() - start
    nbytes = x_nbytes(client, X)
    n_cols = X.shape[1]
    alpha = 1.0 / n_rows
    log(
        f"{kind}: {n_rows} x {n_cols} in {args.chunks} chunks, {nbytes / 1e9:.2f} GB, "
        f"generated and persisted in {generate_s:.1f} s"
    )
    out = {
        "scenario": kind,
        "n_samples": n_rows,
        "n_features": n_cols,
        "nnz_per_row": SPARSE_NNZ if kind == "sparse" else n_cols,
        "n_chunks": args.chunks,
        "X_nbytes": nbytes,
        "alpha": alpha,
        "generate_persist_s": generate_s,
    }

    def make(**kw):
        return WeightedLogisticCE(
            alpha=alpha,
            tol=args.tol,
            max_iter=10_000,
            fit_intercept=not args.no_intercept,
            **kw,
        )

    # 1. Whole fit on the cluster: time with RSS sampling, then a fit under tracemalloc.
    model = make()
    with RssSampler() as rss:
        fit_s = _fit(model, X, y)
    log(f"  dask fit: {fit_s:.2f} s, {model.n_iter_} iterations, {model._n_evals} evaluations")
    traced = make()
    tracemalloc.start()
    try:
        _fit(traced, X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out["dask_fit"] = {
        "solver": model.solver,
        "tol": args.tol,
        "seconds": fit_s,
        "n_iter": int(model.n_iter_),
        "n_evals": int(model._n_evals),
        "status": str(model.status_),
        "client_rss_peak_increase_bytes": int(rss.peak - rss.baseline),
        "client_rss_peak_increase_over_X": (rss.peak - rss.baseline) / nbytes,
        "client_rss_baseline_bytes": int(rss.baseline),
        "client_tracemalloc_peak_bytes": int(peak),
        "client_tracemalloc_peak_over_X": peak / nbytes,
    }
    log(
        f"  client memory during the fit: RSS +{(rss.peak - rss.baseline) / 1e6:.1f} MB, "
        f"tracemalloc peak {peak / 1e6:.1f} MB (X: {nbytes / 1e6:.0f} MB)"
    )

    # 2. Time per evaluation, chunked against in memory.
    start = time.perf_counter()
    objective, class_weight = chunked_objective(make(), X, y)
    out["chunked_objective_build_s"] = time.perf_counter() - start
    rng = np.random.default_rng(args.seed + 1)
    theta = rng.standard_normal(objective.n_params) * 0.01
    f_dask, g_dask = objective.value_and_grad(theta)  # warm-up
    in_memory = None
    if nbytes > args.in_memory_max_gb * 1e9:
        out["in_memory"] = (
            f"skipped: X is {nbytes / 1e9:.2f} GB, more than --in-memory-max-gb "
            f"{args.in_memory_max_gb}"
        )
        log(f"  in memory: {out['in_memory']}")
    else:
        Xm, ym = gather_in_memory(client, X, y)
        in_memory = in_memory_objective(make(), Xm, ym, class_weight)
        with threadpool_limits(limits=1, user_api="blas"):
            f_mem, g_mem = in_memory.value_and_grad(theta)
        out["value_rel_diff"] = abs(f_dask - f_mem) / abs(f_mem)
        out["grad_max_abs_diff"] = float(np.max(np.abs(g_dask - g_mem)))
    # In memory at 1 BLAS thread (skce's default) and at 2, the cluster's thread
    # count (2 workers x 1 thread): the "same thread count" comparison.
    dask_times, mem_times = [], {1: [], 2: []}
    for _ in range(args.repeats):
        dask_times.append(_timed(objective.value_and_grad, theta))
        if in_memory is not None:
            for threads in mem_times:
                with threadpool_limits(limits=threads, user_api="blas"):
                    in_memory.value_and_grad(theta)  # untimed: wakes the BLAS threads
                    mem_times[threads].append(_timed(in_memory.value_and_grad, theta))
    evaluation = {
        "repeats": args.repeats,
        "dask_ms": statistics.median(dask_times) * 1e3,
        "dask_times_s": dask_times,
    }
    if in_memory is not None:
        for threads, times in mem_times.items():
            evaluation[f"in_memory_{threads}thread_ms"] = statistics.median(times) * 1e3
            evaluation[f"in_memory_{threads}thread_times_s"] = times
            evaluation[f"ratio_to_{threads}thread"] = statistics.median(
                dask_times
            ) / statistics.median(times)
    out["evaluation"] = evaluation
    log(
        "  evaluation: "
        + ", ".join(
            f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in evaluation.items()
            if not k.endswith("times_s")
        )
    )

    # 3. In-memory fit on the gathered copy (BLAS at 1 thread, skce's default): same optimum?
    if in_memory is not None:
        mem_model = make()
        with threadpool_limits(limits=1, user_api="blas"):
            mem_s = _fit(mem_model, Xm, ym)
        j_dask = in_memory.value(in_memory.pack(model.coef_, model.intercept_))
        j_mem = in_memory.value(in_memory.pack(mem_model.coef_, mem_model.intercept_))
        out["in_memory_fit"] = {
            "seconds": mem_s,
            "n_iter": int(mem_model.n_iter_),
            "n_evals": int(mem_model._n_evals),
            "J": float(j_mem),
            "dask_fit_J": float(j_dask),
            "dask_minus_in_memory_rel": float((j_dask - j_mem) / abs(j_mem)),
        }
        log(
            f"  in-memory fit: {mem_s:.2f} s, {mem_model.n_iter_} iterations; "
            f"J(dask) - J(memory) = {out['in_memory_fit']['dask_minus_in_memory_rel']:.1e} rel"
        )
        del Xm, ym, in_memory

    # 4. dask-ml, optional.
    if args.dask_ml:
        out["dask_ml"] = run_dask_ml(X, y, alpha, n_rows, objective, model, args, log)
    # Let the scenario's data and chunk objectives go before the next one
    # (client.cancel on persisted collections trips an assertion in the scheduler).
    del X, y, objective
    return out


def run_dask_ml(X, y, alpha, n_rows, objective, model, args, log):
    try:
        from dask_ml.linear_model import LogisticRegression
    except ImportError as error:
        log(f"  dask-ml: not importable ({error}); skipped")
        return {"skipped": f"dask_ml not importable: {error}"}
    j_skce = objective.value(objective.pack(model.coef_, model.intercept_))
    rows = []
    for solver in args.dask_ml_solvers.split(","):
        est = LogisticRegression(
            penalty="l2",
            C=1.0 / (alpha * n_rows),
            solver=solver,
            max_iter=args.dask_ml_max_iter,
            fit_intercept=not args.no_intercept,
        )
        try:
            seconds = _fit(est, X, y)
        except Exception as error:  # record and go on: some solvers refuse sparse input
            rows.append({"solver": solver, "error": f"{type(error).__name__}: {error}"})
            log(f"  dask-ml {solver}: {type(error).__name__}: {error}")
            continue
        coef = np.asarray(est.coef_, dtype=np.float64).reshape(1, -1)
        intercept = np.atleast_1d(np.asarray(est.intercept_, dtype=np.float64))
        j = objective.value(objective.pack(coef, intercept))
        rows.append(
            {"solver": solver, "seconds": seconds, "gap": float((j - j_skce) / abs(j_skce))}
        )
        log(f"  dask-ml {solver}: {seconds:.1f} s, gap {rows[-1]['gap']:.1e}")
    return {"rows": rows}


# -- output -----------------------------------------------------------------
def format_tables(results):
    lines = [
        "| data | X | chunks | X GB | dask fit s | iter | evals | client RSS peak / X | "
        "client tracemalloc peak / X | in-memory fit s (iter) | J(dask) − J(memory), rel |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        f = r["dask_fit"]
        shape = f"{r['n_samples']:,} × {r['n_features']:,}"
        m = r.get("in_memory_fit")
        mem = f"{m['seconds']:.2f} ({m['n_iter']})" if m else "not run"
        gap = f"{m['dask_minus_in_memory_rel']:.1e}" if m else "not run"
        lines.append(
            f"| {r['scenario']} | {shape} | {r['n_chunks']} | {r['X_nbytes'] / 1e9:.2f} | "
            f"{f['seconds']:.2f} | {f['n_iter']} | {f['n_evals']} | "
            f"{f['client_rss_peak_increase_over_X']:.3f} | "
            f"{f['client_tracemalloc_peak_over_X']:.4f} | {mem} | {gap} |"
        )
    lines += [
        "",
        "| data | building the chunked objective, s | dask evaluation ms | "
        "in memory, 1 BLAS thread, ms | ratio | in memory, 2 BLAS threads, ms | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        e = r["evaluation"]
        if "in_memory_1thread_ms" in e:
            lines.append(
                f"| {r['scenario']} | {r['chunked_objective_build_s']:.2f} | {e['dask_ms']:.1f} | "
                f"{e['in_memory_1thread_ms']:.1f} | {e['ratio_to_1thread']:.2f} | "
                f"{e['in_memory_2thread_ms']:.1f} | {e['ratio_to_2thread']:.2f} |"
            )
        else:
            lines.append(
                f"| {r['scenario']} | {r['chunked_objective_build_s']:.2f} | {e['dask_ms']:.1f} | "
                f"{r['in_memory']} | | | |"
            )
    dask_ml = [(r["scenario"], r["dask_ml"]) for r in results if "dask_ml" in r]
    if dask_ml:
        lines += [
            "",
            "| data | dask-ml solver | s | (J − J(skce's dask fit)) / J(skce's dask fit) |",
            "|---|---|---|---|",
        ]
        for name, d in dask_ml:
            if "skipped" in d:
                lines.append(f"| {name} | {d['skipped']} | | |")
                continue
            for row in d["rows"]:
                if "error" in row:
                    lines.append(f"| {name} | {row['solver']} | {row['error']} | |")
                else:
                    lines.append(
                        f"| {name} | {row['solver']} | {row['seconds']:.1f} | {row['gap']:.1e} |"
                    )
    return "\n".join(lines)


def worker_threads(client):
    """BLAS thread pools of each worker process (threadpoolctl on the worker)."""

    def info():
        return [
            {k: i.get(k) for k in ("internal_api", "num_threads", "filepath")}
            for i in threadpool_info()
        ]

    return client.run(info)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000, help="dense rows (x 50)")
    parser.add_argument("--sparse-rows", type=int, default=2_000_000, help="CSR rows (x 20,000)")
    parser.add_argument("--chunks", type=int, default=20, help="row chunks of each X")
    parser.add_argument("--repeats", type=int, default=7, help="timed evaluations per side")
    parser.add_argument("--tol", type=float, default=1e-9, help="tol of the timed fits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--in-memory-max-gb",
        type=float,
        default=4.0,
        help="gather X into the client for the in-memory side only up to this size",
    )
    parser.add_argument("--only", choices=["dense", "sparse"], default=None)
    parser.add_argument("--dask-ml", action="store_true", help="also fit dask-ml's solvers")
    parser.add_argument(
        "--no-intercept",
        action="store_true",
        help="fit_intercept=False for skce and dask-ml (dask-ml 2025.1 cannot add its "
        "intercept column to CSR chunks)",
    )
    parser.add_argument("--dask-ml-max-iter", type=int, default=1000)
    parser.add_argument(
        "--dask-ml-solvers",
        default=",".join(DASK_ML_SOLVERS),
        help="comma-separated dask-ml solvers (default: all five)",
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON output (and .md next to it)")
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    out = args.out or Path(__file__).parent / "results" / "bench_dask.json"

    def log(message):
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    load_before = os.getloadavg()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        workers = worker_threads(client)
        results = []
        for kind in ("dense", "sparse"):
            if args.only and args.only != kind:
                continue
            results.append(run_scenario(kind, client, args, log))
    tables = format_tables(results)
    print(tables)
    payload = {
        "machine": machine(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "cluster": "LocalCluster(n_workers=2, threads_per_worker=1, processes=True)",
        "client_blas_threads": "1 (skce's default in its fits; threadpoolctl for the "
        "in-memory evaluations)",
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "worker_blas_threads": workers,
        "SKCE_BLAS_THREADS": os.environ.get("SKCE_BLAS_THREADS"),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "seconds": time.perf_counter() - started,
        "scenarios": results,
        "table_markdown": tables,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=str))
    m = payload["machine"]
    md = [
        "# bench_dask",
        "",
        f"`python benchmarks/bench_dask.py {' '.join(payload['argv'])}`, "
        f"{payload['date_utc']} UTC, {payload['seconds']:.0f} s.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']}, "
        f"scipy {m['scipy']}, skce {m['skce']}. Cluster: {payload['cluster']}. "
        f"Load average (1, 5, 15 min) before: {', '.join(f'{v:.2f}' for v in load_before)}; "
        f"after: {', '.join(f'{v:.2f}' for v in payload['load_average_after'])}.",
        "",
        tables,
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(md))
    log(f"wrote {out} and {out.with_suffix('.md')} ({payload['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
