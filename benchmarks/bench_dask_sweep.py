"""Time per evaluation of a chunked fit against the number of chunks and of workers.

Issue 14, "Docs": the "Scaling out" page's plot. For the benchmark's two data
sets (bench_dask.py: dense float64 ``--rows`` x 50, and CSR ``--sparse-rows`` x
20,000 with 20 non-zeros a row, generated on the workers), on a
``distributed.LocalCluster`` of 1 and of 2 worker processes with 1 thread each,
and for every count of row chunks in ``--chunks``, it builds the chunked
objective as ``WeightedLogisticCE.fit`` does and times one evaluation of ``J``
and its gradient (median of ``--repeats``), against the in-memory evaluation
of the same data in this process with BLAS at 1 thread.

Usage::

    python benchmarks/bench_dask_sweep.py                 # the issue's sizes
    python benchmarks/bench_dask_sweep.py --rows 400000 --sparse-rows 200000 --repeats 3

Writes ``benchmarks/results/bench_dask_sweep.{json,md}`` and the plot
``docs/images/dask_evaluation.png`` (``--out``, ``--plot``).
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dask import chunked_objective, gather_in_memory, in_memory_objective, make_data
from bench_fit import machine

ROOT = Path(__file__).resolve().parent.parent


def _median_time(objective, theta, repeats):
    """Median seconds of ``objective.value_and_grad(theta)``, after one untimed call."""
    objective.value_and_grad(theta)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        objective.value_and_grad(theta)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sweep(kind, n_rows, chunk_counts, worker_counts, repeats, log):
    from distributed import Client, LocalCluster

    from skce import WeightedLogisticCE

    estimator = WeightedLogisticCE(alpha=1.0 / n_rows)
    rows = []
    in_memory = None
    for workers in worker_counts:
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                worker_dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            for n_chunks in chunk_counts:
                X, y = make_data(kind, n_rows, n_chunks, seed=0)
                X, y = client.persist([X, y])
                objective, class_weight = chunked_objective(estimator, X, y)
                theta = np.random.default_rng(1).normal(size=objective.n_params) * 0.01
                seconds = _median_time(objective, theta, repeats)
                if in_memory is None:
                    Xm, ym = gather_in_memory(client, X, y)
                    memory = in_memory_objective(estimator, Xm, ym, class_weight)
                    with threadpool_limits(1):
                        in_memory = _median_time(memory, theta, repeats)
                    del Xm, ym, memory
                row = {
                    "kind": kind,
                    "workers": workers,
                    "chunks": n_chunks,
                    "evaluation_s": seconds,
                    "in_memory_1_thread_s": in_memory,
                    "ratio": seconds / in_memory,
                }
                rows.append(row)
                log(
                    f"{kind}: {workers} worker(s), {n_chunks} chunks: "
                    f"{seconds * 1e3:.1f} ms ({row['ratio']:.2f}x in memory)"
                )
                del objective, X, y
                client.cancel(list(client.futures))
    return rows


def plot(rows, sizes, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({r["kind"] for r in rows})
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 3.8), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        mine = [r for r in rows if r["kind"] == kind]
        for workers in sorted({r["workers"] for r in mine}):
            line = sorted((r for r in mine if r["workers"] == workers), key=lambda r: r["chunks"])
            ax.plot(
                [r["chunks"] for r in line],
                [r["evaluation_s"] * 1e3 for r in line],
                marker="o",
                label=f"{workers} worker{'s' if workers > 1 else ''} (1 thread each)",
            )
        ax.axhline(
            mine[0]["in_memory_1_thread_s"] * 1e3,
            color="grey",
            linestyle="--",
            label="in memory, 1 thread",
        )
        ax.set_xscale("log")
        counts = sorted({r["chunks"] for r in mine})
        ax.set_xticks(counts, [str(c) for c in counts])
        ax.minorticks_off()
        ax.set_xlabel("row chunks")
        ax.set_ylabel("ms per evaluation of J and ∇J")
        ax.set_title(f"{kind}: {sizes[kind]}")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000, help="dense rows")
    parser.add_argument("--sparse-rows", type=int, default=2_000_000, help="CSR rows")
    parser.add_argument("--chunks", default="2,4,10,20,40", help="row chunk counts")
    parser.add_argument("--workers", default="1,2", help="worker counts")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--kinds", default="dense,sparse", help="data sets to sweep")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/bench_dask_sweep.json"))
    parser.add_argument("--plot", default=str(ROOT / "docs/images/dask_evaluation.png"))
    args = parser.parse_args(argv)
    chunk_counts = [int(c) for c in args.chunks.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]
    start = time.time()
    load_before = os.getloadavg()
    rows = []
    for kind, n in (("dense", args.rows), ("sparse", args.sparse_rows)):
        if kind in args.kinds.split(","):
            rows += sweep(kind, n, chunk_counts, worker_counts, args.repeats, print)
    sizes = {
        "dense": f"{args.rows:,} × 50 float64",
        "sparse": f"CSR {args.sparse_rows:,} × 20,000, 20 non-zeros a row",
    }
    sizes = {k: v for k, v in sizes.items() if k in args.kinds.split(",")}
    result = {
        "command": "python benchmarks/bench_dask_sweep.py " + " ".join(argv or sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(start)),
        "seconds": time.time() - start,
        "machine": machine(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "sizes": sizes,
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# bench_dask_sweep",
        "",
        f"`{result['command'].strip()}`, {result['date']}, {result['seconds']:.0f} s. "
        f"Load average before: {', '.join(f'{v:.2f}' for v in load_before)}; after: "
        f"{', '.join(f'{v:.2f}' for v in result['load_after'])}.",
        "",
        "| data | workers | chunks | ms per evaluation | in memory, 1 thread, ms | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {sizes[r['kind']]} | {r['workers']} | {r['chunks']} | "
            f"{r['evaluation_s'] * 1e3:.1f} | {r['in_memory_1_thread_s'] * 1e3:.1f} | "
            f"{r['ratio']:.2f} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(rows, sizes, Path(args.plot))


if __name__ == "__main__":
    main()
