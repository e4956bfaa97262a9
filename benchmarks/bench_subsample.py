"""SubsampledCE against the full fit: time, coefficients and held-out fit (issue 25).

Simulated rare events with 20 features (18 standard normal, one skewed: a
standardised chi-square with 4 degrees of freedom, one binary: Bernoulli 0.3),
labels from ``P(y = 1) = sigmoid(b + x . w [+ g (x_0^2 - 1)])`` with fixed
moderate slopes ``w`` (``||w|| = 1``), the quadratic term (``g = 0.5``) only in
the *misspecified* data (the model leaves it out), and ``b`` solved by Monte
Carlo so that the positive rate is the target. Every chunk of rows is made
from ``(seed, chunk index)``, in memory or on dask workers alike, so memory
stays bounded and the rows are the same whoever makes them.

For each positive rate (1e-3, 1e-4), specification (correct, misspecified)
and β (1, 16), with ``alpha = 1e-6``:

- the **full fit**: ``WeightedLogisticCE(beta, alpha).fit(X, y)`` on all rows
  (``--full-repeats`` times, median) and its sandwich standard errors
  (``std_errors``, timed once);
- **SubsampledCE** with ``method`` in ("uniform", "optimal", and "local" where
  β = 1), ``sample_size="auto"`` (every positive and 20 negatives per
  positive), ``--repeats`` seeds, the contenders alternating (full, uniform,
  optimal, local, full, uniform, ...);
- per method: the median time and its ratio to the full fit's median; the
  root mean square over seeds and parameters (20 slopes and the intercept) of
  ``(estimate - full fit) / (full fit's sandwich standard error)``; and on a
  held-out set (``--holdout`` rows, another seed) the β-weighted
  cross-entropy (``skce.metrics.cross_entropy_loss(..., beta=beta)``, checked
  against ``sklearn.metrics.log_loss`` with sample weights ``beta`` on the
  positives) and the sum of the predicted probabilities, relative to the full
  fit's; the sum is also compared with the observed count of positives (for
  β = 16 with ``prior_correction=True`` set on the fitted estimators).

Parts (``--part``):

- ``memory``: ``--rows`` (10^7) x 20 float64 in memory (1.6 GB);
- ``cluster``: ``--cluster-rows`` (10^8) rows on a ``LocalCluster`` of 2
  worker processes with 1 thread each, the chunks made on the workers by
  ``map_blocks`` and never persisted: the full fit runs with
  ``dask.config.set({"skce.chunks": "recompute"})`` (10^8 x 20 float64 is 16 GB,
  more than this machine can keep next to everything else), so each of its
  evaluations makes the rows again; ``SubsampledCE().fit(dask_X, dask_y)``
  through the public API. ``--cluster-configs`` picks which configurations
  (``rate:spec:beta``) run, a full fit there taking many minutes;
- ``variance``: the study for the gallery: ``--variance-rows`` (2 x 10^5) rows at
  rate ``--variance-rate`` (1e-2), ``--replicates`` (200) draws per method and
  ``sample_size``, the empirical variance of each coefficient over the draws
  (the data fixed) and its mean squared difference from the full fit, both
  relative to the full fit's sandwich variance.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_subsample.py --part memory
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_subsample.py --part variance
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_subsample.py --part cluster
    python benchmarks/bench_subsample.py --quick     # every part, small (about a minute)

Each part writes ``benchmarks/results/issue25/bench_subsample-<part>[-quick].json``
and a Markdown table next to it (``--out-dir``), with the machine, the thread
count and the command line.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import machine

from skce import SubsampledCE, WeightedLogisticCE
from skce.metrics import cross_entropy_loss

N_FEATURES = 20
ALPHA = 1e-6
QUADRATIC = 0.5  # g of the misspecified data's g (x_0^2 - 1)
CHUNK_ROWS = 1_000_000
DATA_SEED, HOLDOUT_SEED, INTERCEPT_SEED = 2025, 2026, 2027
LABEL_STREAM = 7
RATES = (1e-3, 1e-4)
SPECS = ("correct", "misspecified")
BETAS = (1.0, 16.0)


# -- the generating model -------------------------------------------------------
def true_slopes():
    """Fixed moderate slopes, alternating in sign and decreasing, ``||w|| = 1``."""
    j = np.arange(N_FEATURES)
    w = (-1.0) ** j * (1.0 - j / (2 * N_FEATURES))
    return w / np.linalg.norm(w)


def features_block(rows, seed, index):
    """``rows`` x 20 features of chunk ``index``: 18 normal, a skewed one, a binary one."""
    rng = np.random.default_rng([seed, index])
    X = rng.standard_normal((rows, N_FEATURES))
    X[:, -2] = (rng.gamma(2.0, 2.0, rows) - 4.0) / np.sqrt(8.0)  # chi-square(4), standardised
    X[:, -1] = rng.random(rows) < 0.3
    return X


def linear_part(X, spec):
    eta = X @ true_slopes()
    if spec == "misspecified":
        eta += QUADRATIC * (X[:, 0] ** 2 - 1.0)
    return eta


def solve_intercept(rate, spec, rows=2_000_000):
    """``b`` with ``mean sigmoid(b + eta) = rate`` over a Monte Carlo sample of rows."""
    eta = np.concatenate(
        [
            linear_part(features_block(CHUNK_ROWS, INTERCEPT_SEED, i), spec)
            for i in range(rows // CHUNK_ROWS)
        ]
    )
    return brentq(lambda b: expit(b + eta).mean() - rate, -40.0, 10.0, xtol=1e-10)


def labels_block(X, intercept, spec, seed, index):
    """Labels of chunk ``index``: one uniform per row, the same for every configuration."""
    u = np.random.default_rng([seed, index, LABEL_STREAM]).random(X.shape[0])
    return (u < expit(intercept + linear_part(X, spec))).astype(np.int64)


def chunk_sizes(n, chunk_rows):
    full, rest = divmod(n, chunk_rows)
    return [chunk_rows] * full + ([rest] if rest else [])


def make_features(n, seed, chunk_rows=CHUNK_ROWS):
    X = np.empty((n, N_FEATURES))
    start = 0
    for i, rows in enumerate(chunk_sizes(n, chunk_rows)):
        X[start : start + rows] = features_block(rows, seed, i)
        start += rows
    return X


def make_labels(X, intercept, spec, seed, chunk_rows=CHUNK_ROWS):
    y = np.empty(X.shape[0], dtype=np.int64)
    start = 0
    for i, rows in enumerate(chunk_sizes(X.shape[0], chunk_rows)):
        y[start : start + rows] = labels_block(X[start : start + rows], intercept, spec, seed, i)
        start += rows
    return y


# -- measures ---------------------------------------------------------------------
def params(model):
    return np.concatenate([np.ravel(model.coef_), np.ravel(model.intercept_)])


def positive_proba(model, X):
    proba = model.predict_proba(X)
    return np.asarray(proba)[:, 1]


def held_out(model, fitted, X, y, beta):
    """β-weighted cross-entropy and sums of probabilities on held-out rows.

    ``fitted`` is the WeightedLogisticCE whose ``prior_correction`` is read at
    prediction time (the model itself, or a SubsampledCE's ``estimator_``).
    """
    p = positive_proba(model, X)
    ce = cross_entropy_loss(y, p, beta=beta)
    weights = np.where(y == 1, beta, 1.0)
    check = log_loss(y, p, sample_weight=weights, labels=[0, 1]) * weights.sum() / y.shape[0]
    out = {"ce": float(ce), "ce_log_loss_check": float(check), "sum_p": float(p.sum())}
    if beta != 1.0:
        fitted.set_params(prior_correction=True)
        try:
            corrected = positive_proba(model, X)
        finally:
            fitted.set_params(prior_correction=False)
        # the correction is sigmoid(logit - ln beta): checked against the formula
        manual = expit(X @ np.ravel(model.coef_) + model.intercept_[0] - np.log(beta))
        out["corrected_formula_max_diff"] = float(np.max(np.abs(corrected - manual)))
        out["sum_p_corrected"] = float(corrected.sum())
    return out


#: CPU seconds of this process of the last ``timed`` call (wall time is what the
#: targets are about; CPU time is the work, less sensitive to a shared machine).
LAST_CPU = [0.0]


LAST_START = [0.0]


def timed(func):
    start, cpu = time.perf_counter(), time.process_time()
    LAST_START[0] = start
    result = func()
    LAST_CPU[0] = time.process_time() - cpu
    return time.perf_counter() - start, result


def methods_for(beta):
    return ("uniform", "optimal", "local") if beta == 1.0 else ("uniform", "optimal")


def summarise(config, full_times, full_cpu, se_time, full_params, se, full_eval, runs, observed):
    """One configuration's row per method (the full fit's own row first)."""
    t_full = statistics.median(full_times)
    count_key = "sum_p" if config["beta"] == 1.0 else "sum_p_corrected"
    rows = [
        {
            **config,
            "method": "full",
            "time_s": t_full,
            "times_s": full_times,
            "cpu_s": statistics.median(full_cpu),
            "cpus_s": full_cpu,
            "se_time_s": se_time,
            "ce": full_eval["ce"],
            "ce_log_loss_check": full_eval["ce_log_loss_check"],
            "sum_p": full_eval["sum_p"],
            "sum_p_vs_observed": full_eval[count_key] / observed - 1.0,
            "observed": observed,
            "holdout_expected": config["holdout_expected"],
            "params": full_params.tolist(),
            "std_errors": se.tolist(),
        }
    ]
    for method, fits in runs.items():
        z = np.array([(f["params"] - full_params) / se for f in fits])
        ce = np.array([f["eval"]["ce"] for f in fits])
        sums = np.array([f["eval"]["sum_p"] for f in fits])
        counted = np.array([f["eval"][count_key] for f in fits])
        times = [f["time_s"] for f in fits]
        cpus = [f["cpu_s"] for f in fits]
        rows.append(
            {
                **config,
                "method": method,
                "time_s": statistics.median(times),
                "times_s": times,
                "time_ratio": statistics.median(times) / t_full,
                "cpu_s": statistics.median(cpus),
                "cpus_s": cpus,
                "cpu_ratio": statistics.median(cpus) / statistics.median(full_cpu),
                "z_rms": float(np.sqrt(np.mean(z**2))),
                "z_max_abs": float(np.max(np.abs(z))),
                "z_rms_per_seed": np.sqrt(np.mean(z**2, axis=1)).tolist(),
                "ce_rel_max": float(np.max(np.abs(ce / full_eval["ce"] - 1.0))),
                "ce_rel_median": float(np.median(ce / full_eval["ce"] - 1.0)),
                "sum_p_rel_max": float(np.max(np.abs(sums / full_eval["sum_p"] - 1.0))),
                "sum_p_vs_observed_max": float(np.max(np.abs(counted / observed - 1.0))),
                "n_subsample": [f["n_subsample"] for f in fits],
                "ce_values": ce.tolist(),
                "sum_p_values": sums.tolist(),
            }
        )
    return rows


def run_config(X, y, Xh, yh, config, repeats, full_repeats, log, fit_kwargs=None):
    """Full fit and subsample fits of one configuration, alternating; the rows of the table."""
    beta = config["beta"]
    estimator = WeightedLogisticCE(beta=beta, alpha=ALPHA)
    fit_kwargs = fit_kwargs or {}
    full_times, full_cpu, full = [], [], None
    runs = {method: [] for method in methods_for(beta)}
    for r in range(max(repeats, full_repeats)):
        if r < full_repeats:
            seconds, full = timed(lambda: WeightedLogisticCE(beta=beta, alpha=ALPHA).fit(X, y))
            full_times.append(seconds)
            full_cpu.append(LAST_CPU[0])
            log(f"  full fit {seconds:.2f} s ({full.n_iter_} iterations)")
        if r < repeats:
            for method in runs:
                model = SubsampledCE(estimator, method=method, random_state=r)
                seconds, _ = timed(lambda model=model: model.fit(X, y))
                runs[method].append(
                    {
                        "time_s": seconds,
                        "cpu_s": LAST_CPU[0],
                        "params": params(model),
                        "model": model,
                        "n_subsample": model.n_subsample_,
                    }
                )
                log(f"  {method} seed {r}: {seconds:.2f} s, {model.n_subsample_} rows")
    se_time, se = timed(lambda: full.std_errors(X, y))
    log(f"  full fit's sandwich standard errors {se_time:.2f} s")
    full_eval = held_out(full, full, Xh, yh, beta)
    for fits in runs.values():
        for f in fits:
            model = f.pop("model")
            f["eval"] = held_out(model, model.estimator_, Xh, yh, beta)  # local: beta 1 only
    return summarise(
        config, full_times, full_cpu, se_time, params(full), se, full_eval, runs, float(yh.sum())
    )


# -- the parts --------------------------------------------------------------------
def configurations(args):
    for rate in args.rates:
        for spec in args.specs:
            for beta in args.betas:
                yield rate, spec, beta


def part_memory(args, log, save):
    n = args.rows
    seconds, X = timed(lambda: make_features(n, DATA_SEED))
    log(f"memory: X {n} x {N_FEATURES} made in {seconds:.1f} s ({X.nbytes / 1e9:.2f} GB)")
    Xh = make_features(args.holdout, HOLDOUT_SEED)
    rows, labels = [], {}
    for rate, spec, beta in configurations(args):
        if (rate, spec) not in labels:
            labels.clear()  # one configuration's labels at a time
            b = solve_intercept(rate, spec)
            labels[rate, spec] = (
                b,
                make_labels(X, b, spec, DATA_SEED),
                make_labels(Xh, b, spec, HOLDOUT_SEED),
            )
        b, y, yh = labels[rate, spec]
        config = {
            "part": "memory",
            "n": n,
            "rate": rate,
            "spec": spec,
            "beta": beta,
            "true_intercept": b,
            "n_pos": int(y.sum()),
            "holdout": args.holdout,
            "holdout_expected": float(expit(b + linear_part(Xh, spec)).sum()),
        }
        log(f"memory: rate {rate:g}, {spec}, beta {beta:g}: {config['n_pos']} positives")
        rows += run_config(X, y, Xh, yh, config, args.repeats, args.full_repeats, log)
        save(rows)
    return rows


def _features_chunk(seed, block_info=None):
    info = block_info[None]
    (start, stop), _ = info["array-location"]
    return features_block(stop - start, seed, info["chunk-location"][0])


def _labels_chunk(x, intercept, spec, seed, block_info=None):
    return labels_block(x, intercept, spec, seed, block_info[0]["chunk-location"][0])


def dask_data(n, chunk_rows, intercept, spec, seed):
    """Lazy ``(X, y)`` whose chunks are made on the workers from ``(seed, chunk index)``."""
    import dask.array as da

    sizes = tuple(chunk_sizes(n, chunk_rows))
    X = da.map_blocks(
        _features_chunk,
        seed,
        chunks=(sizes, (N_FEATURES,)),
        dtype=np.float64,
        meta=np.empty((0, 0)),
    )
    y = X.map_blocks(
        _labels_chunk,
        intercept,
        spec,
        seed,
        drop_axis=1,
        dtype=np.int64,
        meta=np.empty((0,), np.int64),
    )
    return X, y


def part_cluster(args, log, save):
    import dask
    from distributed import Client, LocalCluster, wait

    n = args.cluster_rows
    wanted = [c.split(":") for c in args.cluster_configs]
    Xh = make_features(args.holdout, HOLDOUT_SEED)
    rows = []
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        log(f"cluster: {client}")
        for rate, spec, beta in wanted:
            rate, beta = float(rate), float(beta)
            b = solve_intercept(rate, spec)
            X, y = dask_data(n, args.cluster_chunk_rows, b, spec, DATA_SEED)
            yh = make_labels(Xh, b, spec, HOLDOUT_SEED)
            with dask.config.set({"skce.chunks": "recompute"}):
                # y is persisted (8 bytes a row; X is made again at every pass): in
                # practice the labels are a column read apart from X's, and here
                # making them costs a pass over X.
                seconds, y = timed(lambda y=y: y.persist())
                wait(y)
                seconds = time.perf_counter() - LAST_START[0]
                n_pos = int(y.sum().compute())
                log(
                    f"cluster: rate {rate:g}, {spec}, beta {beta:g}: {n_pos} positives "
                    f"(y made and persisted, one pass over X: {seconds:.1f} s)"
                )
                config = {
                    "part": "cluster",
                    "n": n,
                    "rate": rate,
                    "spec": spec,
                    "beta": beta,
                    "true_intercept": b,
                    "n_pos": n_pos,
                    "holdout": args.holdout,
                    "holdout_expected": float(expit(b + linear_part(Xh, spec)).sum()),
                    "chunk_rows": args.cluster_chunk_rows,
                    "n_chunks": X.numblocks[0],
                    "y_persist_one_pass_s": seconds,
                }
                rows += run_config(
                    X, y, Xh, yh, config, args.cluster_repeats, args.cluster_full_repeats, log
                )
            save(rows)
    return rows


def _profile_rows(stats, top):
    """skce's ``top`` functions by cumulative time, and the ``top`` of all by own time."""
    rows = []
    for (filename, line, function), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        parts = Path(filename).parts
        short = "/".join(parts[-2:]) if len(parts) > 1 else filename
        rows.append(
            {
                "function": f"{short}:{line}({function})",
                "skce": "/skce/" in filename,
                "ncalls": ncalls,
                "tottime_s": tottime,
                "cumtime_s": cumtime,
            }
        )
    by_cumulative = sorted((r for r in rows if r["skce"]), key=lambda r: -r["cumtime_s"])
    by_own = sorted(rows, key=lambda r: -r["tottime_s"])
    return by_cumulative[:top], by_own[:top]


def part_profile(args, log, save):
    """Where a SubsampledCE fit's time goes: cProfile of one fit per method at ``--rows``."""
    import cProfile
    import pstats

    X = make_features(args.rows, DATA_SEED)
    rate, spec = args.rates[0], args.specs[0]
    b = solve_intercept(rate, spec)
    y = make_labels(X, b, spec, DATA_SEED)
    rows = []
    full_s, full = timed(lambda: WeightedLogisticCE(alpha=ALPHA).fit(X, y))
    rows.append(
        {
            "method": "full",
            "rate": rate,
            "spec": spec,
            "n": args.rows,
            "time_s": full_s,
            "n_iter": int(full.n_iter_),
        }
    )
    log(f"profile: full fit {full_s:.2f} s, {full.n_iter_} iterations")
    for method in ("uniform", "optimal", "local"):
        model = SubsampledCE(WeightedLogisticCE(alpha=ALPHA), method=method, random_state=0)
        seconds, _ = timed(lambda model=model: model.fit(X, y))  # unprofiled
        profiler = cProfile.Profile()
        profiler.enable()
        model.fit(X, y)
        profiler.disable()
        stats = pstats.Stats(profiler)
        rows.append(
            {
                "method": method,
                "rate": rate,
                "spec": spec,
                "n": args.rows,
                "time_s": seconds,
                "cpu_s": LAST_CPU[0],
                "profiled_s": stats.total_tt,
                "top": _profile_rows(stats, 14)[0],
                "top_own": _profile_rows(stats, 12)[1],
            }
        )
        log(f"profile: {method} {seconds:.2f} s (profiled {stats.total_tt:.2f} s)")
        save(rows)
    return rows


def profile_table(rows):
    out = []
    full = rows[0]
    out.append(f"Full fit: {full['time_s']:.2f} s, {full['n_iter']} iterations.")
    for r in rows[1:]:
        out += [
            "",
            f"## {r['method']}: {r['time_s']:.2f} s unprofiled "
            f"({r['time_s'] / full['time_s']:.3f} of the full fit), "
            f"{r['profiled_s']:.2f} s profiled",
            "",
            "| function | calls | own s | cumulative s |",
            "|---|---|---|---|",
        ]
        for f in r["top"]:
            out.append(
                f"| `{f['function']}` | {f['ncalls']} | {f['tottime_s']:.3f} "
                f"| {f['cumtime_s']:.3f} |"
            )
        out += [
            "",
            "By own time (all functions):",
            "",
            "| function | calls | own s |",
            "|---|---|---|",
        ]
        out += [
            f"| `{f['function']}` | {f['ncalls']} | {f['tottime_s']:.3f} |" for f in r["top_own"]
        ]
    return out


def part_variance(args, log, save):
    n, rate = args.variance_rows, args.variance_rate
    X = make_features(n, DATA_SEED + 1)
    study = []
    for spec in args.specs:
        b = solve_intercept(rate, spec)
        y = make_labels(X, b, spec, DATA_SEED + 1)
        n_pos = int(y.sum())
        for beta in args.betas:
            full = WeightedLogisticCE(beta=beta, alpha=ALPHA).fit(X, y)
            theta, se = params(full), full.std_errors(X, y)
            for per_positive in args.variance_ratios:
                size = n_pos * (1 + per_positive)
                for method in methods_for(beta):
                    start = time.perf_counter()
                    draws = np.array(
                        [
                            params(
                                SubsampledCE(
                                    WeightedLogisticCE(beta=beta, alpha=ALPHA),
                                    method=method,
                                    sample_size=size,
                                    random_state=r,
                                ).fit(X, y)
                            )
                            for r in range(args.replicates)
                        ]
                    )
                    rel_var = draws.var(axis=0, ddof=1) / se**2
                    rel_mse = np.mean((draws - theta) ** 2, axis=0) / se**2
                    bias_z = (draws.mean(axis=0) - theta) / se
                    study.append(
                        {
                            "spec": spec,
                            "beta": beta,
                            "n": n,
                            "rate": rate,
                            "n_pos": n_pos,
                            "method": method,
                            "negatives_per_positive": per_positive,
                            "sample_size": size,
                            "replicates": args.replicates,
                            "rel_var": rel_var.tolist(),
                            "rel_mse": rel_mse.tolist(),
                            "bias_z": bias_z.tolist(),
                            "rel_var_mean": float(rel_var.mean()),
                            "rel_var_median": float(np.median(rel_var)),
                            "rel_mse_mean": float(rel_mse.mean()),
                            "full_params": theta.tolist(),
                            "full_std_errors": se.tolist(),
                            "seconds": time.perf_counter() - start,
                        }
                    )
                    log(
                        f"variance: {spec} beta {beta:g} {method} {per_positive}/pos: "
                        f"var/sandwich {rel_var.mean():.3f}, mse/sandwich {rel_mse.mean():.3f} "
                        f"({time.perf_counter() - start:.0f} s)"
                    )
                    save(study)
    return study


# -- tables -----------------------------------------------------------------------
def comparison_table(rows, time_target, cpu=True):
    """One row per fit; ``targets`` lists the targets missed (wall-time ratio, z RMS, CE, Σp)."""
    head = (
        "| rate | spec | β | method | rows fitted | time s | / full | "
        + ("CPU s | CPU / full | " if cpu else "")
        + "z RMS | max abs z | CE vs full (max) | Σp vs full (max) | Σp vs observed (max) "
        "| targets |"
    )
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lead = f"| {r['rate']:g} | {r['spec']} | {r['beta']:g} | {r['method']} "
        if r["method"] == "full":
            out.append(
                lead
                + f"| {r['n']} | {r['time_s']:.2f} | 1 | "
                + (f"{r['cpu_s']:.2f} | 1 | " if cpu else "")
                + f"| | CE {r['ce']:.5g} | Σp {r['sum_p']:.1f} "
                f"| {r['sum_p_vs_observed']:+.2%} (observed {r['observed']:.0f}, true model "
                f"{r['holdout_expected']:.1f}) | SE {r['se_time_s']:.2f} s |"
            )
            continue
        missed = [
            name
            for name, ok in [
                ("time", r["time_ratio"] <= time_target),
                ("z", r["method"] == "local" or r["z_rms"] <= 1.0),
                ("CE", r["ce_rel_max"] <= 0.01),
                ("Σp", r["sum_p_rel_max"] <= 0.05),
            ]
            if not ok
        ]
        out.append(
            lead
            + f"| {int(np.median(r['n_subsample']))} | {r['time_s']:.3f} | {r['time_ratio']:.3f} | "
            + (f"{r['cpu_s']:.3f} | {r['cpu_ratio']:.3f} | " if cpu else "")
            + f"{r['z_rms']:.2f} | {r['z_max_abs']:.2f} | {r['ce_rel_max']:.3%} "
            f"| {r['sum_p_rel_max']:.2%} | {r['sum_p_vs_observed_max']:.2%} "
            f"| {'met' if not missed else '**missed: ' + ', '.join(missed) + '**'} |"
        )
    return out


def variance_table(study):
    out = [
        "| spec | β | method | negatives per positive | sample_size "
        "| var / sandwich (mean, median, max over params) | MSE vs full / sandwich (mean) |",
        "|" + "---|" * 7,
    ]
    for s in study:
        out.append(
            f"| {s['spec']} | {s['beta']:g} | {s['method']} | {s['negatives_per_positive']} "
            f"| {s['sample_size']} | {s['rel_var_mean']:.3f}, {s['rel_var_median']:.3f}, "
            f"{max(s['rel_var']):.3f} | {s['rel_mse_mean']:.3f} |"
        )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part", choices=["memory", "cluster", "variance", "profile", "all"], default="all"
    )
    parser.add_argument("--quick", action="store_true", help="every part, small (about a minute)")
    parser.add_argument("--rows", type=int, default=10_000_000, help="in-memory rows")
    parser.add_argument("--holdout", type=int, default=1_000_000, help="held-out rows")
    parser.add_argument("--repeats", type=int, default=5, help="subsample seeds per method")
    parser.add_argument("--full-repeats", type=int, default=2, help="full fits per configuration")
    parser.add_argument("--rates", type=float, nargs="+", default=list(RATES))
    parser.add_argument("--specs", nargs="+", choices=SPECS, default=list(SPECS))
    parser.add_argument("--betas", type=float, nargs="+", default=list(BETAS))
    parser.add_argument("--cluster-rows", type=int, default=100_000_000)
    parser.add_argument("--cluster-chunk-rows", type=int, default=2_500_000)
    parser.add_argument("--cluster-repeats", type=int, default=3)
    parser.add_argument("--cluster-full-repeats", type=int, default=1)
    parser.add_argument(
        "--cluster-configs",
        nargs="+",
        default=["0.001:correct:1"],
        help="rate:spec:beta of the cluster configurations",
    )
    parser.add_argument("--variance-rows", type=int, default=200_000)
    parser.add_argument("--variance-rate", type=float, default=1e-2)
    parser.add_argument(
        "--variance-ratios",
        type=int,
        nargs="+",
        default=[5, 10, 20, 50],
        help="negatives per positive of the variance study's sample sizes",
    )
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument(
        "--out-dir", type=Path, default=Path(__file__).parent / "results" / "issue25"
    )
    parser.add_argument("--tag", default="", help="suffix of the output files")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.holdout, args.repeats, args.full_repeats = 200_000, 100_000, 2, 1
        args.rates = [1e-2]
        args.cluster_rows, args.cluster_chunk_rows, args.cluster_repeats = 400_000, 100_000, 2
        args.cluster_configs = ["0.01:correct:1"]
        args.variance_rows, args.replicates, args.variance_ratios = 20_000, 10, [5, 20]
        args.specs, args.betas = args.specs[:1], args.betas
    parts = ["memory", "variance", "cluster"] if args.part == "all" else [args.part]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()

    def log(message):
        print(f"[{time.time() - started:7.1f} s] {message}", flush=True)

    for part in parts:
        name = f"bench_subsample-{part}{'-quick' if args.quick else ''}{args.tag}"
        out = args.out_dir / f"{name}.json"
        header = {
            "command": "OPENBLAS_NUM_THREADS="
            + os.environ.get("OPENBLAS_NUM_THREADS", "(unset)")
            + " python "
            + " ".join(sys.argv),
            "machine": machine(),
            "threads": "BLAS limited to 1 thread (threadpool_limits(1) here, skce's own policy); "
            + ("cluster: 2 worker processes x 1 thread" if part == "cluster" else "one process"),
            "load_average_at_start": os.getloadavg(),
            "alpha": ALPHA,
            "quadratic": QUADRATIC,
            "true_slopes": true_slopes().tolist(),
        }

        def save(rows, part=part, out=out, header=header):
            payload = {
                **header,
                "part": part,
                "load_average_now": os.getloadavg(),
                "seconds": time.time() - started,
                "rows": rows,
            }
            out.write_text(json.dumps(payload, indent=2, default=float))
            if part == "profile":
                table = profile_table(rows)
                title = f"Where SubsampledCE's time goes (cProfile, {args.rows} rows)"
            elif part == "variance":
                table = variance_table(rows)
                title = (
                    f"Variance of SubsampledCE's coefficients over {args.replicates} draws, "
                    "relative to the full fit's sandwich variance "
                    f"({args.variance_rows} rows, rate {args.variance_rate:g})"
                )
            else:
                target = 0.1 if part == "memory" else 0.2
                table = comparison_table(rows, target, cpu=part == "memory")
                title = (
                    f"SubsampledCE against the full fit, {part} "
                    f"(time target ≤ {target:g} of the full fit; z = (estimate − full) / full SE)"
                )
            md = [
                f"# {title}",
                "",
                f"Command: `{header['command']}`",
                "",
                f"Machine: {header['machine']['cpu']}, {header['machine']['cores']} cores, "
                f"numpy {header['machine']['numpy']}, scipy {header['machine']['scipy']}, "
                f"scikit-learn {header['machine']['sklearn']}; {header['threads']}; "
                f"load average at start {header['load_average_at_start'][0]:.2f}, "
                f"now {payload['load_average_now'][0]:.2f}",
                "",
                *table,
                "",
            ]
            out.with_suffix(".md").write_text("\n".join(md))

        runner = {
            "memory": part_memory,
            "cluster": part_cluster,
            "variance": part_variance,
            "profile": part_profile,
        }[part]
        with threadpool_limits(1), warnings.catch_warnings():
            rows = runner(args, log, save)
        save(rows)
        log(f"wrote {out} and {out.with_suffix('.md')}")
        print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
