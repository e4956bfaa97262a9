"""Fits and predictions on dask arrays: the same optimum as in memory, X never gathered.

References are independent of the chunked code: the objective is written out
here in NumPy (``_objective_at``), and compared with the in-memory skce fit and
with scikit-learn's ``LogisticRegression`` at the mapped ``C``. Every test runs
with dask's local scheduler and on an in-process ``LocalCluster`` (2 worker
processes, 1 thread each), started once for the module.
"""

import os
import signal
import subprocess
import sys
import warnings

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from distributed import Client, LocalCluster, wait
from scipy.special import log_softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from skce import SoftmaxCE, WeightedLogisticCE
from skce._objective import LinearObjective
from skce.linear_model import SingularHessianError

from ._data import binary_data, multiclass_data, raw_scales

CHUNKS = 70  # rows per chunk: 300 rows -> 5 chunks, the last one short

# A tol each dtype reaches in a few iterations (float32 data is standardised: on raw
# float32 columns the fits end at the arithmetic's floor, in memory too).
_TOL = {np.float64: 1e-9, np.float32: 1e-6}


def _local_cluster(n_workers):
    """An in-process cluster of worker processes with 1 thread each; no fixed ports."""
    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        worker_dashboard_address=None,
    )


@pytest.fixture(scope="module")
def cluster():
    with _local_cluster(2) as local_cluster:
        # Not the default client: tests choose the scheduler themselves (below).
        with Client(local_cluster, set_as_default=False) as client:
            yield client


@pytest.fixture(params=["local", "distributed"])
def scheduler(request):
    """Run the test with dask's local (threaded) scheduler, then with the cluster."""
    if request.param == "local":
        with dask.config.set(scheduler="threads"):
            yield None
    else:
        client = request.getfixturevalue("cluster")
        with dask.config.set(scheduler=client):
            yield client


def _objective_at(model, X, y, sample_weight, class_weight, alpha, label_smoothing=0.0):
    """J of a fitted model, written out: weighted mean cross-entropy plus the penalty.

    ``J = sum_i s_i sum_k c_k t_ik (-ln q_ik) / sum_i s_i + alpha / 2 ||W||^2`` with
    ``t`` the smoothed one-hot targets; the binary model's logit is ``z_1 - z_0``.
    """
    X = np.asarray(X, dtype=np.float64)
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    Z = X @ model.coef_.astype(np.float64).T + model.intercept_.astype(np.float64)
    if Z.shape[1] == 1:
        Z = np.hstack([np.zeros_like(Z), Z])
    K = Z.shape[1]
    codes = np.searchsorted(model.classes_, y)
    T = np.full((len(y), K), label_smoothing / K)
    T[np.arange(len(y)), codes] += 1 - label_smoothing
    ce = -(T * np.asarray(class_weight) * log_softmax(Z, axis=1)).sum(axis=1)
    return float(s @ ce / s.sum() + 0.5 * alpha * np.sum(model.coef_.astype(np.float64) ** 2))


def _as_dask(X, y=None, sample_weight=None, chunks=CHUNKS):
    out = [da.from_array(X, chunks=(chunks, -1))]
    for v in (y, sample_weight):
        if v is not None:
            out.append(da.from_array(v, chunks=(chunks,)))
    return out


# -- the same optimum --------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("beta", "label_smoothing", "weighted"),
    [(1.0, 0.0, False), (7.5, 0.0, True), ("balanced", 0.1, True)],
)
def test_binary_dask_fit_reaches_the_in_memory_optimum(
    scheduler, dtype, beta, label_smoothing, weighted
):
    X, y = binary_data()
    if dtype == np.float64:
        X = raw_scales(X)  # raw columns: the merged moments and metric must be right
    X = X.astype(dtype)
    sw = np.random.RandomState(0).uniform(0.2, 3.0, len(y)) if weighted else None
    alpha = 1e-3
    params = dict(beta=beta, alpha=alpha, label_smoothing=label_smoothing, tol=_TOL[dtype])
    memory = WeightedLogisticCE(**params).fit(X, y, sample_weight=sw)
    Xd, yd, *swd = _as_dask(X, y, sw)
    chunked = WeightedLogisticCE(**params).fit(Xd, yd, sample_weight=swd[0] if swd else None)
    assert chunked.coef_.dtype == dtype and chunked.status_ == "converged"
    assert chunked.beta_ == pytest.approx(memory.beta_, rel=1e-14)
    c = [1.0, memory.beta_]
    j_memory = _objective_at(memory, X, y, sw, c, alpha, label_smoothing)
    j_chunked = _objective_at(chunked, X, y, sw, c, alpha, label_smoothing)
    assert abs(j_chunked - j_memory) <= 1e-10 * j_memory
    if dtype == np.float64 and label_smoothing == 0:
        # scikit-learn's Newton solver at C = 1 / (alpha sum s): J is no lower there.
        s_sum = len(y) if sw is None else sw.sum()
        ref = LogisticRegression(
            C=1 / (alpha * s_sum), class_weight={0: 1, 1: c[1]}, solver="newton-cholesky", tol=1e-12
        ).fit(X, y, sample_weight=sw)
        j_ref = _objective_at(ref, X, y, sw, c, alpha)
        assert j_chunked <= j_ref * (1 + 1e-10)
        assert abs(j_chunked - j_ref) <= 1e-9 * j_ref


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("class_weight", "label_smoothing", "weighted"),
    [(None, 0.0, False), ({0: 1.0, 1: 4.0, 2: 0.5}, 0.0, True), ("balanced", 0.2, True)],
)
def test_softmax_dask_fit_reaches_the_in_memory_optimum(
    scheduler, dtype, class_weight, label_smoothing, weighted
):
    X, y = multiclass_data()
    X = X.astype(dtype)
    sw = np.random.RandomState(1).uniform(0.2, 3.0, len(y)) if weighted else None
    alpha = 1e-3
    params = dict(
        class_weight=class_weight, alpha=alpha, label_smoothing=label_smoothing, tol=_TOL[dtype]
    )
    memory = SoftmaxCE(**params).fit(X, y, sample_weight=sw)
    Xd, yd, *swd = _as_dask(X, y, sw)
    chunked = SoftmaxCE(**params).fit(Xd, yd, sample_weight=swd[0] if swd else None)
    assert chunked.coef_.dtype == dtype and chunked.status_ == "converged"
    np.testing.assert_allclose(chunked.class_weight_, memory.class_weight_, rtol=1e-14)
    c = memory.class_weight_
    j_memory = _objective_at(memory, X, y, sw, c, alpha, label_smoothing)
    j_chunked = _objective_at(chunked, X, y, sw, c, alpha, label_smoothing)
    assert abs(j_chunked - j_memory) <= 1e-10 * j_memory
    if dtype == np.float64 and label_smoothing == 0:
        s_sum = len(y) if sw is None else sw.sum()
        weights = dict(enumerate(c.tolist()))
        ref = LogisticRegression(
            C=1 / (alpha * s_sum), class_weight=weights, solver="newton-cholesky", tol=1e-12
        ).fit(X, y, sample_weight=sw)
        j_ref = _objective_at(ref, X, y, sw, c, alpha)
        assert abs(j_chunked - j_ref) <= 1e-9 * j_ref


@pytest.mark.parametrize(
    ("solver", "preconditioner"),
    [("bb", "diagonal"), ("agd", "full"), ("lbfgs", "auto"), ("gd", "auto")],
)
def test_every_solver_reaches_the_optimum_on_chunks(scheduler, solver, preconditioner):
    X, y = multiclass_data()
    alpha = 1e-1  # well conditioned: gd's 1/L (an upper bound summed over chunks) is slow
    params = dict(alpha=alpha, solver=solver, preconditioner=preconditioner, tol=1e-8)
    params["max_iter"] = 20_000 if solver == "gd" else 1000
    Xd, yd = _as_dask(X, y)
    chunked = SoftmaxCE(**params).fit(Xd, yd)
    assert chunked.status_ == "converged"
    ref = LogisticRegression(C=1 / (alpha * len(y)), solver="newton-cholesky", tol=1e-12).fit(X, y)
    c = np.ones(3)
    j_ref = _objective_at(ref, X, y, None, c, alpha)
    assert abs(_objective_at(chunked, X, y, None, c, alpha) - j_ref) <= 1e-10 * j_ref


def test_numpy_labels_and_weights_are_split_to_match_and_not_modified(scheduler):
    X, y = binary_data()
    sw = np.random.RandomState(2).uniform(0.2, 3.0, len(y))
    y_labels = np.where(y == 1, "binder", "other")
    y_before, sw_before = y_labels.copy(), sw.copy()
    memory = WeightedLogisticCE(beta=5.0, tol=1e-9).fit(X, y_labels, sample_weight=sw)
    chunked = WeightedLogisticCE(beta=5.0, tol=1e-9).fit(
        da.from_array(X, chunks=(CHUNKS, -1)), y_labels, sample_weight=sw
    )
    np.testing.assert_array_equal(chunked.classes_, ["binder", "other"])
    np.testing.assert_array_equal(y_labels, y_before)
    np.testing.assert_array_equal(sw, sw_before)
    c = [1.0, 5.0]
    j_memory = _objective_at(memory, X, y_labels, sw, c, 1e-4)
    assert abs(_objective_at(chunked, X, y_labels, sw, c, 1e-4) - j_memory) <= 1e-10 * j_memory
    assert chunked.n_features_in_ == X.shape[1]


def test_empty_and_uneven_chunks_are_fitted(scheduler):
    X, y = multiclass_data()
    keep = np.ones(len(y), dtype=bool)
    keep[100:200] = False  # with chunks of 50 rows: two empty chunks after the filter
    Xd = da.from_array(X, chunks=(50, -1))[da.from_array(keep, chunks=50)]
    yd = da.from_array(y, chunks=50)[da.from_array(keep, chunks=50)]
    Xd.compute_chunk_sizes()
    yd.compute_chunk_sizes()
    assert 0 in Xd.chunks[0]
    chunked = SoftmaxCE(alpha=1e-2, tol=1e-9).fit(Xd, yd)
    memory = SoftmaxCE(alpha=1e-2, tol=1e-9).fit(X[keep], y[keep])
    j_memory = _objective_at(memory, X[keep], y[keep], None, np.ones(3), 1e-2)
    j_chunked = _objective_at(chunked, X[keep], y[keep], None, np.ones(3), 1e-2)
    assert abs(j_chunked - j_memory) <= 1e-10 * j_memory


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize(
    ("d", "density", "solver"),
    # Wide for its entries: truncated Newton (its curvature products one map over the
    # chunks each); narrow: bb in the full metric, summed from the chunks' pairs.
    [(30, 0.1, "newton"), (6, 0.5, "bb")],
)
def test_csr_chunks_reach_the_in_memory_optimum(scheduler, k, d, density, solver):
    rng = np.random.RandomState(3)
    X = sp.random(400, d, density=density, format="csr", random_state=rng)
    W = rng.normal(size=(d, k))
    y = np.argmax(X @ W + 0.3 * rng.normal(size=(400, k)), axis=1)
    params = dict(alpha=1e-3, tol=1e-9)
    if k == 2:
        make, weights = (lambda: WeightedLogisticCE(beta=3.0, **params)), [1, 3.0]
    else:
        make, weights = (lambda: SoftmaxCE(**params)), np.ones(k)
    memory = make().fit(X, y)
    Xd = da.from_array(X.toarray(), chunks=(90, -1)).map_blocks(sp.csr_matrix)
    chunked = make().fit(Xd, y)
    assert chunked.status_ == "converged"
    assert chunked.solver_ == memory.solver_ == solver  # solver="auto" resolved
    j_memory = _objective_at(memory, X.toarray(), y, None, weights, 1e-3)
    j_chunked = _objective_at(chunked, X.toarray(), y, None, weights, 1e-3)
    assert abs(j_chunked - j_memory) <= 1e-10 * j_memory


def test_chunked_moments_and_metric_equal_the_in_memory_ones(scheduler):
    """Column moments (parallel-variance merge) and the Gram matrix, summed over chunks."""
    from skce._dask import ChunkedData
    from skce._loss import MultinomialCrossEntropy
    from skce._objective import LinearObjective, weighted_targets

    X, y = multiclass_data()
    X = raw_scales(X)
    sw = np.random.RandomState(4).uniform(0.2, 3.0, len(y))
    cw = np.array([1.0, 2.0, 0.5])
    loss = MultinomialCrossEntropy
    chunked = ChunkedData(*_as_dask(X, y, sw)).objective(loss, cw, 0.0, 1e-3, True)
    A = weighted_targets(y, 3, sw, cw)
    w = A.sum(axis=0)
    mean = w @ X / w.sum()
    spread2 = w @ (X - mean) ** 2
    got_mean, got_spread2, got_wsum = chunked.column_moments()
    np.testing.assert_allclose(got_mean, mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_spread2, spread2, rtol=1e-12)
    assert got_wsum == pytest.approx(w.sum(), rel=1e-14)
    theta = np.random.RandomState(5).normal(size=chunked.n_params) * 0.1
    memory = LinearObjective(loss, X, A, alpha=1e-3)
    sigma = np.sqrt(spread2 + 1.0)
    G = chunked.standardized_gram(theta, mean, sigma, 2.0, 1e-6)
    np.testing.assert_allclose(G, memory.standardized_gram(theta, mean, sigma, 2.0, 1e-6))
    f, g = chunked.value_and_grad(theta)
    f_ref, g_ref = memory.value_and_grad(theta)
    assert f == pytest.approx(f_ref, rel=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-11, atol=1e-14)


def test_chunks_of_x_are_computed_and_used_on_the_workers_only(cluster, monkeypatch):
    """With a client, X's chunks are made on the workers and never come to the client."""
    from skce._dask import ChunkedData

    client_pid = os.getpid()
    # Everything the client gathers during the fit: small partials only, no array
    # with as many entries as a chunk of X (70 rows x 6 columns).
    gathered = []
    original_gather = type(cluster).gather

    def gather(self, futures, *args, **kwargs):
        result = original_gather(self, futures, *args, **kwargs)
        gathered.append(result)
        return result

    monkeypatch.setattr(type(cluster), "gather", gather)

    def leaves(obj):
        if isinstance(obj, (list, tuple)):
            for item in obj:
                yield from leaves(item)
        else:
            yield obj

    def worker_only(block):
        # Defined in the test, so cloudpickle sends it by value to the workers.
        if os.getpid() == client_pid:
            raise AssertionError("a chunk of X was computed in the client process")
        return block

    X, y = binary_data()
    Xd = da.from_array(X, chunks=(CHUNKS, -1)).map_blocks(worker_only, dtype=X.dtype)
    with dask.config.set(scheduler=cluster):
        data = ChunkedData(Xd, y)
        objective = data.objective(WeightedLogisticCE._loss, np.ones(2), 0.0, 1e-4, True)
        futures = objective.chunks.futures  # the chunk objectives stay on the workers
        with cluster.as_current():
            wait(futures)
        assert len(futures) == 5 and all(f.status == "finished" for f in futures)
        chunked = WeightedLogisticCE(tol=1e-9).fit(Xd, y)
        fit_gathered = list(gathered)  # (predictions, gathered next, are n x 2: fine)
        predicted = chunked.predict_proba(Xd).compute()
    memory = WeightedLogisticCE(tol=1e-9).fit(X, y)
    j_memory = _objective_at(memory, X, y, None, [1, 1], 1e-4)
    assert abs(_objective_at(chunked, X, y, None, [1, 1], 1e-4) - j_memory) <= 1e-10 * j_memory
    np.testing.assert_allclose(predicted, chunked.predict_proba(X), rtol=1e-14)
    assert fit_gathered  # the fit's partials came back through gather
    chunk_entries = CHUNKS * X.shape[1]
    for leaf in leaves(fit_gathered):
        assert not isinstance(leaf, LinearObjective)
        assert np.size(leaf) < chunk_entries or not isinstance(leaf, np.ndarray)
    # The same X cannot be computed here: the check above is live.
    with dask.config.set(scheduler="sync"), pytest.raises(AssertionError, match="client"):
        Xd.compute()


@pytest.mark.parametrize("policy", ["keep", "recompute"])
def test_chunks_read_from_files_are_kept_or_read_again_at_every_evaluation(
    scheduler, tmp_path, policy
):
    X, y = binary_data()
    log = tmp_path / "reads.log"

    def read(path):
        # Defined in the test, so cloudpickle sends it by value to the workers.
        with open(log, "a") as reads:
            reads.write(f"{path}\n")
        return np.load(path)

    parts = []
    for start in range(0, len(y), CHUNKS):
        path = tmp_path / f"X{start}.npy"
        np.save(path, X[start : start + CHUNKS])
        shape = X[start : start + CHUNKS].shape
        parts.append(da.from_delayed(dask.delayed(read)(str(path)), shape, dtype=X.dtype))
    Xd = da.concatenate(parts)
    with dask.config.set({"skce.chunks": policy}):
        chunked = WeightedLogisticCE(beta=4.0, tol=1e-9).fit(Xd, y)
    reads = log.read_text().splitlines()
    n_chunks = len(parts)
    if policy == "keep":
        assert len(reads) == n_chunks
    else:
        # Once for the summary pass, then at every evaluation (and metric refresh).
        assert len(reads) >= n_chunks * (chunked._n_evals + 1)
    memory = WeightedLogisticCE(beta=4.0, tol=1e-9).fit(X, y)
    j_memory = _objective_at(memory, X, y, None, [1, 4.0], 1e-4)
    assert abs(_objective_at(chunked, X, y, None, [1, 4.0], 1e-4) - j_memory) <= 1e-10 * j_memory


def test_unknown_chunk_policy_is_refused(scheduler):
    X, y = binary_data()
    with (
        dask.config.set({"skce.chunks": "spill"}),
        pytest.raises(ValueError, match=r"'skce\.chunks' must be one of"),
    ):
        WeightedLogisticCE().fit(*_as_dask(X, y))


# -- lazy predictions ----------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3])
def test_predictions_are_lazy_chunkwise_and_equal_in_memory(scheduler, n_classes):
    X, y = multiclass_data(n_classes=n_classes)
    y = np.asarray(["a", "b", "c"])[y]  # string labels come back as labels
    models = [SoftmaxCE(alpha=1e-2).fit(X, y)]
    if n_classes == 2:
        models.append(WeightedLogisticCE(beta=2.0, alpha=1e-2, prior_correction=True).fit(X, y))
    (Xd,) = _as_dask(X)
    for model in models:
        for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
            lazy = getattr(model, method)(Xd)
            expected = getattr(model, method)(X)
            assert isinstance(lazy, da.Array), method
            assert lazy.numblocks[0] == Xd.numblocks[0]
            assert lazy.shape == expected.shape and lazy.dtype == expected.dtype
            computed = lazy.compute()
            if method == "predict":
                np.testing.assert_array_equal(computed, expected)
            else:
                np.testing.assert_allclose(computed, expected, rtol=1e-14, atol=1e-14)


# -- bad input -------------------------------------------------------------------------
def test_column_chunks_are_refused_with_how_to_rechunk(scheduler):
    X, y = binary_data()
    Xd = da.from_array(X, chunks=(CHUNKS, 3))
    with pytest.raises(ValueError, match=r"chunked by columns.*rechunk\(\{1: -1\}\)"):
        WeightedLogisticCE().fit(Xd, y)
    model = WeightedLogisticCE().fit(X, y)
    with pytest.raises(ValueError, match="chunked by columns"):
        model.predict(Xd)


def test_misaligned_label_chunks_are_refused(scheduler):
    X, y = binary_data()
    Xd = da.from_array(X, chunks=(CHUNKS, -1))
    with pytest.raises(ValueError, match=r"y and X are chunked differently.*rechunk\(X.chunks"):
        WeightedLogisticCE().fit(Xd, da.from_array(y, chunks=(100,)))
    sw = da.from_array(np.ones(len(y)), chunks=(50,))
    with pytest.raises(ValueError, match="sample_weight and X are chunked differently"):
        WeightedLogisticCE().fit(Xd, y, sample_weight=sw)
    with pytest.raises(ValueError, match=r"y must have shape \(300,\)"):
        WeightedLogisticCE().fit(Xd, y[:-1])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_rows_are_named(scheduler, bad):
    X, y = binary_data()
    X = X.copy()
    X[[5, 151, 299], [0, 2, 5]] = bad
    with pytest.raises(ValueError, match=r"NaN or infinity in 3 row\(s\): rows \[5, 151, 299\]"):
        WeightedLogisticCE().fit(*_as_dask(X, y))
    Xs = da.from_array(X, chunks=(CHUNKS, -1)).map_blocks(sp.csr_matrix)
    with pytest.raises(ValueError, match=r"rows \[5, 151, 299\]"):
        WeightedLogisticCE().fit(Xs, y)


def test_bad_weights_and_labels_get_clear_errors(scheduler):
    X, y = binary_data()
    Xd = da.from_array(X, chunks=(CHUNKS, -1))
    sw = np.ones(len(y))
    sw[7] = -1
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        WeightedLogisticCE().fit(Xd, y, sample_weight=sw)
    with pytest.raises(ValueError, match="at least one non-zero"):
        WeightedLogisticCE().fit(Xd, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="only one class"):
        WeightedLogisticCE().fit(Xd, np.zeros(len(y)))
    with pytest.raises(ValueError, match="Unknown label type"):
        WeightedLogisticCE().fit(Xd, np.linspace(0, 1, len(y)))
    with pytest.raises(ValueError, match="Only binary classification"):
        WeightedLogisticCE().fit(Xd, np.arange(len(y)) % 3)


# -- dask stays optional -----------------------------------------------------------------
_PROBE = """
import sys
import numpy as np
import skce
from skce import SoftmaxCE, WeightedLogisticCE
from skce.linear_model import SingularHessianError
X = np.random.RandomState(0).normal(size=(60, 3))
y = (X[:, 0] > 0).astype(int)
model = WeightedLogisticCE().fit(X, y)
model.predict_proba(X)
SoftmaxCE().fit(X, y).predict(X)
print("DASK:" + ",".join(sorted({m.split(".")[0] for m in sys.modules} & {"dask", "distributed"})))
"""


def test_import_skce_and_numpy_fits_do_not_import_dask():
    env = {k: v for k, v in os.environ.items() if k != "SCIPY_ARRAY_API"}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "DASK:", result.stdout


def test_grid_search_under_the_dask_joblib_backend(cluster):
    # Issue 14 item 8: GridSearchCV(n_jobs=-1) inside joblib's "dask" backend sends
    # its (candidate, fold) fits to the cluster's workers; the results equal the
    # in-process search's.
    import joblib
    from distributed import get_task_stream
    from sklearn.model_selection import GridSearchCV

    from skce import cross_entropy_score

    X, y = binary_data()
    grid = {"beta": [1.0, 4.0], "alpha": [1e-3, 1e-1]}
    reference = GridSearchCV(WeightedLogisticCE(), grid, cv=3, scoring=cross_entropy_score)
    reference.fit(X, y)
    search = GridSearchCV(WeightedLogisticCE(), grid, cv=3, scoring=cross_entropy_score, n_jobs=-1)
    with get_task_stream(client=cluster) as stream, joblib.parallel_backend("dask", client=cluster):
        search.fit(X, y)
    # The fits ran as tasks on the workers (joblib may batch several in one task;
    # without the backend, n_jobs=-1 would use local processes and no task at all).
    assert len(stream.data) > 0
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=1e-12
    )
    assert search.best_params_ == reference.best_params_
    np.testing.assert_allclose(search.best_estimator_.coef_, reference.best_estimator_.coef_)


def test_cross_validated_estimator_under_the_dask_joblib_backend(cluster):
    # Issue 15 item 4: WeightedLogisticCECV's (beta, fold) paths run as tasks on the
    # cluster's workers under joblib's "dask" backend; the results equal the
    # in-process search's, and the workers' warnings reach this process.
    import joblib
    from distributed import get_task_stream
    from sklearn.exceptions import ConvergenceWarning

    from skce import WeightedLogisticCECV

    X, y = binary_data()
    settings = dict(betas=(1.0, 4.0), alphas=(1e-1, 1e-3), cv=3, max_iter=3)

    def fold_warnings(caught):
        return [
            w
            for w in caught
            if issubclass(w.category, ConvergenceWarning)
            and "cross-validation fits did not reach tol" in str(w.message)
        ]

    # max_iter=3 stops every fit early: the folds' warnings come back summed into
    # one, next to the refit's own and the grid-edge warning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reference = WeightedLogisticCECV(**settings).fit(X, y)
    assert len(fold_warnings(caught)) == 1
    search = WeightedLogisticCECV(**settings, n_jobs=-1)
    with (
        get_task_stream(client=cluster) as stream,
        joblib.parallel_backend("dask", client=cluster),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        search.fit(X, y)
    assert len(fold_warnings(caught)) == 1
    assert len(stream.data) > 0
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=1e-12
    )
    assert search.best_params_ == reference.best_params_


def test_a_worker_lost_during_a_fit_is_recomputed_and_the_optimum_is_the_same(monkeypatch):
    # Issue 14 item 5: a worker process dies after the third evaluation of a fit
    # whose chunk objectives live on the workers. Its chunks (and the objectives
    # built on them) are recomputed from their graph by the scheduler, on the
    # restarted or the other worker, and the fit ends at the in-memory optimum.
    from skce._dask_objective import ChunkedObjective

    X, y = binary_data()
    reference = WeightedLogisticCE(alpha=1e-3, tol=1e-9).fit(X, y)
    with (
        _local_cluster(2) as local_cluster,
        Client(local_cluster, set_as_default=False) as client,
    ):
        calls, killed = [0], []
        original = ChunkedObjective.value_and_grad

        def value_and_grad(self, theta):
            calls[0] += 1
            if calls[0] == 3:
                # SIGKILL one worker process (its nanny starts a new one).
                address, pid = sorted(client.run(os.getpid).items())[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(address)
            return original(self, theta)

        monkeypatch.setattr(ChunkedObjective, "value_and_grad", value_and_grad)
        Xd, yd = _as_dask(X, y)
        with dask.config.set(scheduler=client):
            model = WeightedLogisticCE(alpha=1e-3, tol=1e-9).fit(Xd, yd)
    assert killed and calls[0] > 3
    assert model.status_ == "converged"
    J = _objective_at(model, X, y, None, np.ones(2), 1e-3)
    J_ref = _objective_at(reference, X, y, None, np.ones(2), 1e-3)
    assert abs(J - J_ref) <= 1e-10 * abs(J_ref)


def test_a_client_that_is_gone_gets_one_clear_error(monkeypatch):
    # Issue 14 item 10: the client closed during a fit, or before it.
    from skce._dask_objective import ChunkedObjective

    X, y = binary_data()
    Xd, yd = _as_dask(X, y)
    with _local_cluster(1) as local_cluster:
        client = Client(local_cluster, set_as_default=False)
        original = ChunkedObjective.value_and_grad
        calls = [0]

        def value_and_grad(self, theta):
            calls[0] += 1
            if calls[0] == 3:
                client.close()
            return original(self, theta)

        monkeypatch.setattr(ChunkedObjective, "value_and_grad", value_and_grad)
        with dask.config.set(scheduler=client):
            with pytest.raises(RuntimeError, match="lost its dask cluster"):
                WeightedLogisticCE().fit(Xd, yd)
            with pytest.raises(RuntimeError, match="is closed"):
                WeightedLogisticCE().fit(Xd, yd)


def test_zero_weight_chunk_with_csr_chunks_and_gd(scheduler):
    # A chunk whose rows all weigh 0 (data sorted by label, class_weight 0 for a
    # class, say): its Lipschitz constant is 0, not an ARPACK error.
    X, y = binary_data()
    sw = np.ones(len(y))
    sw[60:120] = 0.0
    Xs = da.from_array(X, chunks=(60, -1)).map_blocks(sp.csr_matrix)
    chunked = WeightedLogisticCE(solver="gd", alpha=1e-2, max_iter=3000, tol=1e-7)
    chunked.fit(Xs, y, sample_weight=sw)
    memory = WeightedLogisticCE(solver="gd", alpha=1e-2, max_iter=3000, tol=1e-7)
    memory.fit(sp.csr_matrix(X), y, sample_weight=sw)
    assert chunked.status_ == memory.status_ == "converged"
    j_chunked = _objective_at(chunked, X, y, sw, np.ones(2), 1e-2)
    j_memory = _objective_at(memory, X, y, sw, np.ones(2), 1e-2)
    assert abs(j_chunked - j_memory) <= 1e-8 * j_memory


def test_non_finite_rows_are_named_after_empty_chunks(scheduler):
    X, y = binary_data()
    X = X.copy()
    X[170, 1] = np.nan  # row 120 once rows 50-99 are filtered out
    keep = np.ones(len(y), dtype=bool)
    keep[50:100] = False
    Xd = da.from_array(X, chunks=(50, -1))[da.from_array(keep, chunks=50)]
    yd = da.from_array(y, chunks=50)[da.from_array(keep, chunks=50)]
    Xd.compute_chunk_sizes()
    yd.compute_chunk_sizes()
    assert 0 in Xd.chunks[0]
    with pytest.raises(ValueError, match=r"rows \[120\]"):
        WeightedLogisticCE().fit(Xd, yd)


def test_lazy_predictions_keep_the_model_they_were_built_with(scheduler):
    X, y = binary_data()
    Xd = da.from_array(X, chunks=(CHUNKS, -1))
    model = WeightedLogisticCE(alpha=1e-2).fit(X, y)
    expected = model.predict_proba(X)
    lazy = model.predict_proba(Xd)
    model.fit(X, 1 - y)  # refit: the lazy array still computes the first model's output
    np.testing.assert_allclose(lazy.compute(), expected)


def test_labels_derived_from_x_on_a_cluster(cluster):
    # y computed from X's own graph: one compute of both, no duplicate keys.
    X, _ = binary_data()
    Xd = da.from_array(X, chunks=(CHUNKS, -1)) * 1.0
    yd = (Xd[:, 0] > 0).astype(int)
    with dask.config.set(scheduler=cluster):
        chunked = WeightedLogisticCE(alpha=1e-2, tol=1e-9).fit(Xd, yd)
    y = (X[:, 0] > 0).astype(int)
    memory = WeightedLogisticCE(alpha=1e-2, tol=1e-9).fit(X, y)
    j_chunked = _objective_at(chunked, X, y, None, np.ones(2), 1e-2)
    j_memory = _objective_at(memory, X, y, None, np.ones(2), 1e-2)
    assert abs(j_chunked - j_memory) <= 1e-10 * j_memory


def test_chunked_lipschitz_constant_is_the_in_memory_one(scheduler):
    # gd's 1/L on chunks: the top eigenvalue of the summed weighted Gram matrix
    # by Lanczos over per-chunk products, against a dense eigen-decomposition
    # written here (not the sum of the chunks' constants, which is larger).
    from skce._dask import ChunkedData
    from skce._loss import BinaryCrossEntropy

    X, y = binary_data()
    X = raw_scales(X)
    sw = np.random.RandomState(6).uniform(0.2, 3.0, len(y))
    chunked = ChunkedData(*_as_dask(X, y, sw)).objective(
        BinaryCrossEntropy, np.array([1.0, 4.0]), 0.0, 1e-3, True
    )
    w = sw * np.where(y == 1, 4.0, 1.0) / sw.sum()
    X1 = np.column_stack([X, np.ones(len(y))])
    expected = 0.25 * np.linalg.eigvalsh(X1.T @ (w[:, None] * X1))[-1] + 1e-3
    L = chunked.lipschitz()
    assert expected <= L <= expected * (1 + 1e-4)
    model = WeightedLogisticCE(solver="gd", alpha=1e-2, max_iter=5000, tol=1e-7)
    memory = WeightedLogisticCE(solver="gd", alpha=1e-2, max_iter=5000, tol=1e-7)
    Xs, ys = _as_dask(binary_data()[0], binary_data()[1])
    model.fit(Xs, ys)
    memory.fit(*binary_data())
    assert abs(model.n_iter_ - memory.n_iter_) <= 1


def test_score_and_the_cross_entropy_scorer_on_dask_arrays(scheduler):
    # They compute the (n-sized) predictions where the scorer runs; the result
    # equals the in-memory one.
    from skce import cross_entropy_score

    X, y = multiclass_data()
    model = SoftmaxCE(alpha=1e-2).fit(X, y)
    Xd, yd = _as_dask(X, y)
    assert model.score(Xd, yd) == pytest.approx(model.score(X, y), abs=1e-15)
    assert cross_entropy_score(model, Xd, yd) == pytest.approx(
        cross_entropy_score(model, X, y), rel=1e-12
    )


# -- dask DataFrames ------------------------------------------------------------------
def test_dask_dataframe_fit_is_the_pandas_fit_with_feature_names(scheduler):
    dd = pytest.importorskip("dask.dataframe")
    X, y = multiclass_data()
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    labels = pd.Series(y, name="label")
    weights = pd.Series(np.linspace(0.5, 2.0, len(y)), name="w")
    ddf, dy, dw = (dd.from_pandas(v, npartitions=3) for v in (frame, labels, weights))
    model = SoftmaxCE(alpha=1e-2, tol=1e-10).fit(ddf, dy, sample_weight=dw)
    reference = SoftmaxCE(alpha=1e-2, tol=1e-10).fit(frame, labels, sample_weight=weights)
    assert list(model.feature_names_in_) == list(frame.columns)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-7, atol=1e-9)
    proba = model.predict_proba(ddf)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), reference.predict_proba(frame), atol=1e-8)
    np.testing.assert_array_equal(model.predict(ddf).compute(), reference.predict(frame))


def test_dask_dataframe_column_problems_get_clear_errors(scheduler):
    dd = pytest.importorskip("dask.dataframe")
    X, y = binary_data()
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    ddf, dy = dd.from_pandas(frame, npartitions=2), dd.from_pandas(pd.Series(y), npartitions=2)
    model = WeightedLogisticCE().fit(ddf, dy)
    with pytest.raises(
        ValueError, match=r"not the feature names seen in fit \(\['a', 'b', 'c'\]\)"
    ):
        model.predict(ddf[["b", "a", "c"]])
    with pytest.warns(UserWarning, match="does not have valid feature names") as caught:
        model.predict(ddf.to_dask_array(lengths=True)).compute()
    assert len(caught) == 1 and caught[0].filename == __file__
    mixed = dd.from_pandas(pd.DataFrame(X[:, :2], columns=["a", 1]), npartitions=2)
    with pytest.raises(TypeError, match="only supported if every column name"):
        WeightedLogisticCE().fit(mixed, dy)
    with pytest.raises(ValueError, match="X is a dask Series"):
        WeightedLogisticCE().fit(ddf["a"], dy)


_PARTITIONS_READ = []


def _counted_partition(k, frame):
    _PARTITIONS_READ.append(k)
    return frame


def _counted_frame(dd, frame, n_partitions=3):
    """``frame`` as a dask DataFrame whose partition reads go to ``_PARTITIONS_READ``."""
    parts = np.array_split(np.arange(len(frame)), n_partitions)
    return dd.from_delayed(
        [dask.delayed(_counted_partition)(k, frame.iloc[p]) for k, p in enumerate(parts)],
        meta=frame.iloc[:0],
    )


def test_predictions_on_a_dask_dataframe_read_nothing_until_computed():
    # dask's local scheduler, so that this process sees the partitions read.
    dd = pytest.importorskip("dask.dataframe")
    X, y = binary_data()
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    model = WeightedLogisticCE().fit(frame, y)
    ddf = _counted_frame(dd, frame)
    _PARTITIONS_READ.clear()
    with dask.config.set(scheduler="threads"):
        proba, labels = model.predict_proba(ddf), model.predict(ddf)
        assert _PARTITIONS_READ == []  # lazy: building them read no partition
        np.testing.assert_allclose(proba.compute(), model.predict_proba(frame), rtol=1e-12)
        np.testing.assert_array_equal(labels.compute(), model.predict(frame))
    assert sorted(_PARTITIONS_READ) == [0, 0, 1, 1, 2, 2]


def test_a_fit_on_a_dask_dataframe_reads_each_partition_twice():
    # Once to count the rows of X, y and the weights together, once to bring the
    # chunks where they are kept: columns of one frame are read together each time.
    dd = pytest.importorskip("dask.dataframe")
    X, y = binary_data()
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"]).assign(label=y, w=1.0)
    ddf = _counted_frame(dd, frame)
    _PARTITIONS_READ.clear()
    with dask.config.set(scheduler="threads"):
        model = WeightedLogisticCE().fit(ddf[["a", "b", "c"]], ddf["label"], ddf["w"])
    assert sorted(_PARTITIONS_READ) == [0, 0, 1, 1, 2, 2]
    reference = WeightedLogisticCE().fit(frame[["a", "b", "c"]], y)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("estimator", [WeightedLogisticCE, SoftmaxCE])
def test_a_constant_column_is_found_across_chunks(scheduler, estimator):
    # A column constant on every weighted row of every chunk gets coefficient 0
    # (the intercept takes it over), as in memory; one that differs between
    # chunks, each constant within, is fitted. Reference: LogisticRegression
    # without the constant column.
    X, y = binary_data() if estimator is WeightedLogisticCE else multiclass_data()
    alpha = 1e-2
    constant = np.column_stack([X, np.full(len(y), 1.7e18)])
    fitted = estimator(alpha=alpha, tol=1e-9).fit(_as_dask(constant)[0], y)
    assert np.all(fitted.coef_[:, -1] == 0.0)
    ref = LogisticRegression(C=1 / (alpha * len(y)), solver="newton-cholesky", tol=1e-12)
    ref.fit(X, y)
    np.testing.assert_allclose(fitted.coef_[:, :-1], ref.coef_, atol=1e-6)
    np.testing.assert_allclose(fitted.intercept_, ref.intercept_, atol=1e-6)
    # Constant within each chunk, but not over the data (1e6 + the chunk's number:
    # its spread is small enough to be checked chunk by chunk): a feature like any
    # other. Reference: the exact invariance under shifting the column by 1e6.
    steps = (np.arange(len(y)) // CHUNKS).astype(float)
    shifted = estimator(alpha=alpha, tol=1e-9).fit(np.column_stack([X, steps]), y)
    with warnings.catch_warnings():
        # A raw column of 1e6: its gradient entry's rounding noise is near tol.
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = estimator(alpha=alpha).fit(_as_dask(np.column_stack([X, steps + 1e6]))[0], y)
    assert np.all(np.abs(shifted.coef_[:, -1]) > 1e-3)
    np.testing.assert_allclose(fitted.coef_, shifted.coef_, atol=1e-6)


# -- standard errors (issue 24): one map over the chunks, the in-memory answer ------------
@pytest.mark.parametrize("sparse_chunks", [False, True])
def test_covariance_on_dask_is_the_in_memory_one(scheduler, sparse_chunks):
    """Sandwich, cluster-robust and model-based covariances from chunks = in memory.

    Raw column scales (each chunk standardises its own rows; the merge moves every
    chunk's sums to one standardisation exactly), sample weights, β, and groups that
    span chunks; y, weights and groups as NumPy arrays split to X's chunks.
    """
    X, y = binary_data()
    X = raw_scales(X)
    sw = np.random.RandomState(1).uniform(0.2, 3.0, len(y))
    groups = np.array([f"g{i % 17}" for i in range(len(y))])  # every group in every chunk
    model = WeightedLogisticCE(beta=6.0, alpha=1e-3, tol=1e-10).fit(X, y, sample_weight=sw)
    Xd = da.from_array(X, chunks=(CHUNKS, -1))
    if sparse_chunks:
        Xd = Xd.map_blocks(sp.csr_matrix)
    for kind, g in (("sandwich", None), ("sandwich", groups), ("model", None)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # kind="model" on a β fit
            expected = model.covariance_matrix(X, y, sw, kind=kind, groups=g)
            chunked = model.covariance_matrix(Xd, y, sw, kind=kind, groups=g)
        scale = np.abs(expected).max()
        assert np.abs(chunked - expected).max() <= (1e-9 if sparse_chunks else 1e-12) * scale


def test_softmax_std_errors_on_dask_are_the_in_memory_ones(scheduler):
    X, y = multiclass_data()
    model = SoftmaxCE(class_weight={0: 1.0, 1: 3.0, 2: 0.5}, alpha=1e-3, tol=1e-10).fit(X, y)
    Xd, yd = _as_dask(X, y)
    np.testing.assert_allclose(model.std_errors(Xd, yd), model.std_errors(X, y), rtol=1e-12)
    table = model.coef_table(Xd, yd)
    np.testing.assert_allclose(table["std_err"], model.std_errors(X, y), rtol=1e-12)


def test_covariance_on_dask_refuses_what_in_memory_refuses():
    X, y = binary_data()
    model = WeightedLogisticCE(tol=1e-9).fit(X, y)
    Xd, yd = _as_dask(X, y)
    with pytest.raises(ValueError, match="features"):
        model.covariance_matrix(Xd[:, :3], yd)
    with pytest.raises(ValueError, match=r"labels the model was not fitted with: \[7\]"):
        model.covariance_matrix(Xd, da.from_array(np.where(y == 1, 7, 0), chunks=CHUNKS))
    with pytest.raises(ValueError, match="groups has 5 entries"):
        model.covariance_matrix(Xd, yd, groups=da.from_array(np.arange(5)))


def test_quasi_separation_is_found_on_dask_too(scheduler):
    """The separation check's extra pass is one more map over the chunks."""
    rng = np.random.default_rng(4)
    n = 700
    x = rng.normal(size=n)
    category = rng.integers(0, 4, n)
    y = (x + rng.normal(size=n) > 0).astype(int)
    y[category == 3] = 1  # every row of the category positive: no finite minimiser
    X = np.column_stack([x, category == 1, category == 2, category == 3]).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = WeightedLogisticCE(alpha=0.0, tol=1e-8, max_iter=100_000).fit(X, y)
    Xd, yd = _as_dask(X, y)
    with pytest.raises(SingularHessianError, match=r"separated along .*'x3'"):
        model.covariance_matrix(Xd, yd)
