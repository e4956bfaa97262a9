"""Real-data benchmark: skce's solvers on raw (unscaled) datasets against scikit-learn.

For every case (dataset, alpha, and β for the binary estimator) the benchmark fits
the same objective

    J(W, b) = (1 / n) sum_i c_{y_i} CE_i + alpha/2 ||W||^2      (b not penalised)

with

- every skce solver (``bb``, ``agd``, ``lbfgs``, ``gd``) at its default ``tol`` and
  ``max_iter`` (the imbalanced make_classification cases set ``tol=1e-8``, the
  issue's target "converges to tol 1e-8 within the default max_iter"), and, when
  the estimator has a ``preconditioner`` parameter, with each of its values
  (``gd``, which ignores it, once);
- scikit-learn's ``LogisticRegression`` with ``solver="lbfgs"`` and
  ``"newton-cholesky"`` at the mapped ``C = 1 / (alpha n)`` and
  ``class_weight={0: 1, 1: β}``, at ``tol=1e-8`` and the default ``max_iter=100``;
- ``newton-cholesky`` at ``tol=1e-12`` (``max_iter=1000``), the reference optimum.

Each fit's objective is evaluated by an independent formula in this file
(``scipy.special.logsumexp`` / ``numpy.logaddexp`` on the fitted logits, not skce's
code), ``J*`` is the smallest objective any contender reached (normally the
reference), and the table reports the relative gap ``(J - J*) / |J*|``, the
iterations (``n_iter_``; the largest entry for scikit-learn), the median fit
time, the time relative to ``newton-cholesky`` at ``tol=1e-8``, skce's
``status_`` and the warnings each fit raised.

The data are used as shipped: no scaling and no constant column (every estimator
fits an intercept). Only the imbalanced make_classification set is standardised.
Textbook ``gd`` runs only at ``alpha >= 1e-4`` (``--gd-all`` runs it everywhere): on raw
data it reaches ``max_iter`` at every alpha, and at the small alphas (the 30k-row
cases) its 1000 iterations would take most of the run time.

Everything runs inside ``threadpoolctl.threadpool_limits(1)``: every BLAS pool
(numpy's and scipy's OpenBLAS) at one thread, for skce and scikit-learn alike.
Contenders alternate within each case; each is timed ``--repeats`` times and the
median is reported; the load average is recorded before and after every case.

Usage::

    python benchmarks/bench_real.py            # full run (about 2 minutes on 2 cores; up
                                               # to 5 with the 3 preconditioner values)
    python benchmarks/bench_real.py --quick    # a subset, fewer repeats, about a minute
    python benchmarks/bench_real.py --only breast --solvers bb lbfgs

It prints a Markdown table, writes it to ``benchmarks/results/bench_real[-quick].md``
and writes every timing, with the machine description, to the ``.json`` file of the
same name (``--out`` sets the JSON path; the ``.md`` goes next to it).
Datasets: scikit-learn's breast cancer, wine, digits and iris, and statsmodels'
spector, fair and anes96 (the ``bench`` extra installs statsmodels); nothing is
downloaded.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import bench_fit  # the benchmark next to this one (same folder): machine description
import numpy as np
from scipy.special import logsumexp
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

from skce import SoftmaxCE, WeightedLogisticCE

SKCE_SOLVERS = ("bb", "agd", "lbfgs", "gd")
SKLEARN_TOL = 1e-8
REFERENCE_TOL = 1e-12
REFERENCE = "sklearn newton-cholesky tol=1e-12"
BASELINE = "sklearn newton-cholesky"
GD_MIN_ALPHA = 1e-4


# -- datasets (raw, as shipped) -------------------------------------------------------------
@cache
def _statsmodels(name):
    try:
        import statsmodels.api as sm
    except ImportError as error:  # pragma: no cover
        raise SystemExit(
            "statsmodels is needed for the spector, fair and anes96 datasets: "
            'pip install -e ".[bench]"'
        ) from error
    return getattr(sm.datasets, name).load_pandas()


def _binary(y):
    return np.asarray(y).astype(np.int64)


def breast_cancer():
    return load_breast_cancer(return_X_y=True)


def wine():
    return load_wine(return_X_y=True)


def digits():
    return load_digits(return_X_y=True)


def digits_is_8():
    X, y = load_digits(return_X_y=True)
    return X, _binary(y == 8)


def iris():
    return load_iris(return_X_y=True)


def spector():
    data = _statsmodels("spector")
    return data.exog.to_numpy(np.float64), _binary(data.endog)


def fair():
    data = _statsmodels("fair")
    return data.exog.to_numpy(np.float64), _binary(data.endog > 0)


def anes96():
    # exog as shipped (logpopul, selfLR, age, educ, income); target: the vote column.
    data = _statsmodels("anes96")
    return data.exog.to_numpy(np.float64), _binary(data.data["vote"])


def imbalanced(random_state):
    # make_classification's other defaults: 2 informative and 2 redundant (collinear) columns.
    def load():
        X, y = make_classification(
            n_samples=30_000, n_features=60, weights=[0.92], random_state=random_state
        )
        return StandardScaler().fit_transform(X), y

    return load


# -- cases -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    dataset: str
    load: object  # () -> (X, y)
    multinomial: bool
    alpha: float
    beta: float = 1.0
    tol: float | None = None  # None: the estimator's default
    quick: bool = False  # part of the --quick subset

    @property
    def name(self):
        beta = "" if self.multinomial else f", β={self.beta:g}"
        return f"{self.dataset}, α={self.alpha:g}{beta}"


def make_cases():
    cases = []
    for beta in (1.0, 5.0):
        for alpha in (1e-2, 1e-4, 1e-6):
            quick = (beta, alpha) in {(1.0, 1e-2), (1.0, 1e-6), (5.0, 1e-4)}
            cases.append(Case("breast cancer", breast_cancer, False, alpha, beta, quick=quick))
    for alpha in (1e-2, 1e-4, 1e-6):
        cases.append(Case("wine", wine, True, alpha, quick=alpha == 1e-2))
    for alpha in (1e-3, 1e-6):
        cases.append(Case("digits", digits, True, alpha, quick=alpha == 1e-3))
    cases.append(Case("digits is 8", digits_is_8, False, 1e-6, quick=True))
    for alpha in (1e-2, 1e-6):
        cases.append(Case("iris", iris, True, alpha, quick=alpha == 1e-6))
    for name, load in (("spector", spector), ("fair", fair), ("anes96", anes96)):
        for alpha in (1e-2, 1e-4, 1e-6):
            cases.append(Case(name, load, False, alpha, quick=alpha == 1e-4))
    for random_state in (0, 1, 2):
        for beta in (16.0, 32.0):
            cases.append(
                Case(
                    f"imbalanced 30k×60 std, seed {random_state}",
                    imbalanced(random_state),
                    False,
                    1e-6,
                    beta,
                    tol=1e-8,
                    quick=(random_state, beta) == (0, 16.0),
                )
            )
    return cases


def load_case_data(case):
    return _load(case.dataset, case.load)


@cache
def _load(dataset, load):
    X, y = load()
    return np.ascontiguousarray(X, dtype=np.float64), np.asarray(y)


# -- the objective, written independently of skce ----------------------------------------
def objective(case, X, y, coef, intercept):
    """J(W, b) from the fitted coefficients, in float64.

    Binary: CE_i = ln(1 + exp(-z_i)) for y_i = 1 and ln(1 + exp(z_i)) for y_i = 0,
    z = X w + b, class weight β on y = 1. Multinomial: CE_i = logsumexp(Z_i) - Z_{i, y_i}.
    """
    coef = np.asarray(coef, np.float64)
    intercept = np.asarray(intercept, np.float64)
    n = y.shape[0]
    if case.multinomial:
        _, codes = np.unique(y, return_inverse=True)
        Z = X @ coef.T + intercept
        ce = logsumexp(Z, axis=1) - Z[np.arange(n), codes]
        weighted = ce.sum()
    else:
        z = X @ coef.ravel() + intercept.ravel()[0]
        positive = y == y.max()
        ce = np.where(positive, np.logaddexp(0.0, -z), np.logaddexp(0.0, z))
        weighted = case.beta * ce[positive].sum() + ce[~positive].sum()
    return weighted / n + 0.5 * case.alpha * float(np.sum(coef * coef))


# -- contenders -------------------------------------------------------------------------------
@dataclass
class Contender:
    label: str
    make: object  # () -> unfitted estimator
    is_skce: bool


PRECONDITIONERS = ("diagonal", "full")


def preconditioner_values(estimator):
    """The values of the ``preconditioner`` parameter, or [None] when it has none."""
    if "preconditioner" in estimator().get_params():
        return list(PRECONDITIONERS)
    return [None]


def skce_contenders(case, solvers, gd_all):
    estimator = SoftmaxCE if case.multinomial else WeightedLogisticCE
    preconditioners = preconditioner_values(estimator)
    out = []
    for solver in solvers:
        if solver == "gd" and case.alpha < GD_MIN_ALPHA and not gd_all:
            continue
        # gd runs in the original coordinates: its preconditioner is ignored, one run.
        values = [None] if solver == "gd" else preconditioners
        for preconditioner in values:
            params = {"alpha": case.alpha, "solver": solver}
            if not case.multinomial:
                params["beta"] = case.beta
            if case.tol is not None:
                params["tol"] = case.tol
            label = f"skce {solver}"
            if preconditioner is not None:
                params["preconditioner"] = preconditioner
                label += f" [{preconditioner}]"
            out.append(Contender(label, lambda p=params: estimator(**p), True))
    return out


def sklearn_contenders(case, n):
    C = 1.0 / (case.alpha * n)
    class_weight = None if case.multinomial else {0: 1.0, 1: case.beta}

    def make(solver, tol, max_iter=100):
        return lambda: LogisticRegression(
            C=C, solver=solver, tol=tol, max_iter=max_iter, class_weight=class_weight
        )

    return [
        Contender("sklearn lbfgs", make("lbfgs", SKLEARN_TOL), False),
        Contender(BASELINE, make("newton-cholesky", SKLEARN_TOL), False),
        Contender(REFERENCE, make("newton-cholesky", REFERENCE_TOL, 1000), False),
    ]


def _short(warning):
    text = str(warning.message).replace("\n", " ")
    return f"{warning.category.__name__}: {text[:160]}"


def fit_once(contender, X, y):
    """One timed fit: (seconds, fitted model, warnings raised as short strings)."""
    model = contender.make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    return seconds, model, [_short(w) for w in caught]


# -- one case -----------------------------------------------------------------------------------
@dataclass
class Row:
    case: str
    dataset: str
    estimator: str
    alpha: float
    beta: float | None
    tol: str
    method: str
    n_iter: int
    median_s: float
    times_s: list = field(default_factory=list)
    objective: float = float("nan")
    gap: float = float("nan")
    ratio_to_newton_cholesky: float = float("nan")
    status: str = ""
    warnings: list = field(default_factory=list)
    error: str | None = None


def _status(model, caught):
    status = getattr(model, "status_", None)
    if status is not None:
        return status
    return "max_iter" if any(w.startswith("ConvergenceWarning") for w in caught) else "converged"


def run_case(case, contenders, repeats, log):
    X, y = load_case_data(case)
    times = {c.label: [] for c in contenders}
    fitted, caught, errors = {}, {}, {}
    # One untimed fit first: the case's first timed fit was up to 5x slower (cold caches).
    try:
        fit_once(contenders[0], X, y)
    except (ValueError, TypeError):
        pass
    for repeat in range(repeats):
        for contender in contenders:
            if contender.label in errors:
                continue
            try:
                seconds, model, messages = fit_once(contender, X, y)
            except (ValueError, TypeError) as error:  # an unsupported combination
                errors[contender.label] = f"{type(error).__name__}: {error}"
                continue
            times[contender.label].append(seconds)
            if repeat == 0:
                fitted[contender.label], caught[contender.label] = model, messages
    values = {
        label: objective(case, X, y, model.coef_, model.intercept_)
        for label, model in fitted.items()
    }
    j_star = min(values.values())
    best = min(values, key=values.get)
    baseline = statistics.median(times[BASELINE])
    rows = []
    for contender in contenders:
        label = contender.label
        row = Row(
            case=case.name,
            dataset=case.dataset,
            estimator="SoftmaxCE" if case.multinomial else "WeightedLogisticCE",
            alpha=case.alpha,
            beta=None if case.multinomial else case.beta,
            tol=_tol_label(case, contender),
            method=label,
            n_iter=0,
            median_s=float("nan"),
        )
        if label in errors:
            row.error = errors[label]
            row.status = "error"
        else:
            model = fitted[label]
            row.n_iter = int(np.max(model.n_iter_))
            row.times_s = times[label]
            row.median_s = statistics.median(times[label])
            row.objective = values[label]
            row.gap = (values[label] - j_star) / abs(j_star)
            row.ratio_to_newton_cholesky = row.median_s / baseline
            row.status = _status(model, caught[label])
            row.warnings = caught[label]
        rows.append(row)
        log(
            f"    {label:36s} iter {row.n_iter:6d}  {row.median_s:8.4f} s  "
            f"gap {row.gap:8.1e}  {row.status}"
        )
    return rows, {"case": case.name, "j_star": j_star, "j_star_from": best}


def _tol_label(case, contender):
    if not contender.is_skce:
        return f"{REFERENCE_TOL:g}" if contender.label == REFERENCE else f"{SKLEARN_TOL:g}"
    return "default" if case.tol is None else f"{case.tol:g}"


# -- output -----------------------------------------------------------------------------------
def _number(value, spec):
    return format(value, spec) if np.isfinite(value) else "—"


def _gap_text(gap):
    if not np.isfinite(gap):
        return "—"
    return "0" if gap == 0 else f"{gap:.1e}"


def _warning_text(row):
    if row.error:
        return row.error[:80]
    names = sorted({w.split(":", 1)[0] for w in row.warnings})
    return ", ".join(names)


def format_table(rows):
    lines = [
        "| case | method | tol | iter | median s | × sklearn n-c | gap | status | warnings |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    previous = None
    for r in rows:
        case = r.case if r.case != previous else ""
        previous = r.case
        lines.append(
            f"| {case} | {r.method} | {r.tol} | {r.n_iter} | {_number(r.median_s, '.4f')} | "
            f"{_number(r.ratio_to_newton_cholesky, '.2f')} | {_gap_text(r.gap)} | {r.status} | "
            f"{_warning_text(r)} |"
        )
    return "\n".join(lines)


def format_summary(rows):
    """Per method: cases run, reached gap <= 1e-8 / 1e-6, warned, median time ratio."""
    lines = [
        "| method | cases | gap ≤ 1e-8 | gap ≤ 1e-6 | with a warning | median × sklearn n-c |",
        "|---|---|---|---|---|---|",
    ]
    methods = list(dict.fromkeys(r.method for r in rows))
    for method in methods:
        mine = [r for r in rows if r.method == method and r.error is None]
        if not mine:
            continue
        ratios = [r.ratio_to_newton_cholesky for r in mine]
        lines.append(
            f"| {method} | {len(mine)} | {sum(r.gap <= 1e-8 for r in mine)} | "
            f"{sum(r.gap <= 1e-6 for r in mine)} | {sum(bool(r.warnings) for r in mine)} | "
            f"{statistics.median(ratios):.2f} |"
        )
    return "\n".join(lines)


def header(info, args, seconds, loads):
    blas = ", ".join(
        f"{b['internal_api']} {b['version']} ({b['num_threads']} thread)" for b in info["blas"]
    )
    return "\n".join(
        [
            f"Machine: {info['cpu']}, {info['cores']} cores; Python {info['python']}, "
            f"numpy {info['numpy']}, scipy {info['scipy']}, scikit-learn {info['sklearn']}, "
            f"skce {info['skce']}.",
            f"BLAS: every pool limited to 1 thread (threadpoolctl.threadpool_limits(1)): {blas}.",
            f"Load average (1 min) before/after the run: {loads[0]:.2f} / {loads[-1]:.2f} "
            f"(max {max(loads):.2f}).",
            "skce preconditioner: "
            + (
                ", ".join(PRECONDITIONERS) + " (one contender each)."
                if preconditioner_values(WeightedLogisticCE)[0] is not None
                else "no `preconditioner` parameter in this skce (its diagonal scaling)."
            ),
            f"{'Quick run' if args.quick else 'Full run'}: {args.repeats} timed fits per "
            f"contender (alternating, median), {seconds:.0f} s in all.",
            "skce at default tol (1e-7) and max_iter (1000) except where tol says otherwise; "
            f"sklearn at tol={SKLEARN_TOL:g}, max_iter=100 (default); reference "
            f"newton-cholesky at tol={REFERENCE_TOL:g}, max_iter=1000. "
            f"gap = (J - J*) / |J*|, J* the best objective of the case. skce gd only at "
            f"alpha >= {GD_MIN_ALPHA:g}" + (" (--gd-all: everywhere)." if args.gd_all else "."),
        ]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a subset, fewer repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed fits per contender")
    parser.add_argument("--only", default=None, help="run only cases whose name has this")
    parser.add_argument(
        "--solvers", nargs="+", choices=SKCE_SOLVERS, default=list(SKCE_SOLVERS), help="skce"
    )
    parser.add_argument("--gd-all", action="store_true", help="run gd at every alpha")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    out = args.out or Path(__file__).parent / "results" / (
        "bench_real-quick.json" if args.quick else "bench_real.json"
    )

    def log(message):
        print(message, file=sys.stderr, flush=True)

    cases = [
        c
        for c in make_cases()
        if (c.quick or not args.quick) and (args.only is None or args.only in c.name)
    ]
    rows, references, loads = [], [], [os.getloadavg()[0]]
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        assert all(info["num_threads"] == 1 for info in threadpool_info())
        info = bench_fit.machine()
        for case in cases:
            X, y = load_case_data(case)
            log(f"{case.name}: {X.shape[0]} × {X.shape[1]}, load {os.getloadavg()[0]:.2f}")
            contenders = skce_contenders(case, args.solvers, args.gd_all)
            contenders += sklearn_contenders(case, y.shape[0])
            case_rows, reference = run_case(case, contenders, args.repeats, log)
            loads.append(os.getloadavg()[0])
            reference["load_after"] = loads[-1]
            rows += case_rows
            references.append(reference)
    seconds = time.perf_counter() - started
    text = "\n\n".join(
        [header(info, args, seconds, loads), format_summary(rows), format_table(rows)]
    )
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": info,
        "quick": args.quick,
        "repeats": args.repeats,
        "blas_threads": 1,
        "sklearn_tol": SKLEARN_TOL,
        "reference_tol": REFERENCE_TOL,
        "preconditioners": {
            name: preconditioner_values(estimator)
            for name, estimator in (
                ("WeightedLogisticCE", WeightedLogisticCE),
                ("SoftmaxCE", SoftmaxCE),
            )
        },
        "seconds": seconds,
        "load_average_1min": loads,
        "cases": references,
        "rows": [asdict(r) for r in rows],
        "table_markdown": text,
    }
    out.write_text(json.dumps(payload, indent=2))
    out.with_suffix(".md").write_text(text + "\n")
    log(f"wrote {out} and {out.with_suffix('.md')} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
