"""SubsampledCE on dask arrays: the in-memory draws chunk by chunk, X read at most 3 times.

References are independent of the chunked code: the in-memory SubsampledCE fit
(one chunk draws exactly its rows), the in-memory ``poisson_scale``, the fit of
all rows, and refits of the wrapped estimator on the rows the fit reports.
Every test runs with dask's local (threaded) scheduler and on an in-process
``LocalCluster`` (2 workers, 1 thread each), started once for the module.
"""

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from distributed import Client, LocalCluster
from sklearn.base import clone

from skce import SoftmaxCE, SubsampledCE, WeightedLogisticCE, _sampling

N, D, CHUNK = 6000, 4, 1700  # 4 chunks, the last one short


def _rare(n=N, d=D, seed=0, classes=2):
    """Rows with a rare class (about 4% positives; 3 classes: two rare ones)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:, 1] = 3.0 * X[:, 1] + 2.0  # a column off the unit scale
    z = X[:, 0] - 0.2 * X[:, 1] - 2.8
    if classes == 2:
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(int)
    else:
        u = rng.random(n)
        p1, p2 = 1.0 / (1.0 + np.exp(-z)), 1.0 / (1.0 + np.exp(-(-X[:, 2] - 3.5)))
        y = np.where(u < p1, 1, np.where(u < p1 + p2, 2, 0))
    return X, y


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address=":0",
        worker_dashboard_address=None,
    ) as local_cluster:
        with Client(local_cluster, set_as_default=False) as client:
            yield client


@pytest.fixture(params=["local", "distributed"])
def scheduler(request):
    if request.param == "local":
        with dask.config.set(scheduler="threads"):
            yield None
    else:
        client = request.getfixturevalue("cluster")
        with dask.config.set(scheduler=client):
            yield client


def _model(method, estimator=None, **kwargs):
    kwargs = {"sample_size": 1200, "pilot_size": 400, **kwargs}
    estimator = WeightedLogisticCE(alpha=1e-6, tol=1e-10) if estimator is None else estimator
    return SubsampledCE(estimator, method=method, random_state=3, **kwargs)


def _assert_same_fit(chunked, memory):
    np.testing.assert_array_equal(chunked.subsample_indices_, memory.subsample_indices_)
    np.testing.assert_array_equal(chunked.subsample_weight_, memory.subsample_weight_)
    np.testing.assert_array_equal(chunked.coef_, memory.coef_)
    np.testing.assert_array_equal(chunked.intercept_, memory.intercept_)
    assert chunked.sampling_probabilities_ == memory.sampling_probabilities_
    if memory.pilot_ is not None:
        np.testing.assert_array_equal(chunked.pilot_.coef_, memory.pilot_.coef_)


# -- one chunk: the in-memory fit, exactly ---------------------------------------------------
@pytest.mark.parametrize("method", ["uniform", "optimal", "local"])
def test_one_chunk_is_the_in_memory_fit_exactly(scheduler, method):
    X, y = _rare()
    sw = None
    estimator = WeightedLogisticCE(alpha=1e-6, tol=1e-10)
    if method != "local":  # local's target is unweighted
        sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
        estimator.set_params(beta=2.0)
    memory = _model(method, estimator).fit(X, y, sample_weight=sw)
    Xd = da.from_array(X, chunks=(-1, -1))
    swd = None if sw is None else da.from_array(sw, chunks=-1)
    chunked = _model(method, estimator).fit(Xd, da.from_array(y, chunks=-1), sample_weight=swd)
    _assert_same_fit(chunked, memory)
    assert 0 < chunked.n_subsample_ < N / 2


def test_one_chunk_softmax_and_csr_are_the_in_memory_fits_exactly(scheduler):
    X, y = _rare(classes=3)
    estimator = SoftmaxCE(alpha=1e-4, tol=1e-10)
    memory = _model("optimal", estimator).fit(X, y)
    chunked = _model("optimal", estimator).fit(da.from_array(X, chunks=(-1, -1)), y)
    _assert_same_fit(chunked, memory)
    Xs = X * (np.random.default_rng(2).random(X.shape) < 0.5)  # half the entries zero
    memory = _model("optimal").fit(sp.csr_matrix(Xs), y > 0)
    Xsd = da.from_array(Xs, chunks=(-1, -1)).map_blocks(sp.csr_matrix)
    chunked = _model("optimal").fit(Xsd, y > 0)
    _assert_same_fit(chunked, memory)


# -- several chunks: the exact scale, global positions, a fit close to the full one --------
def test_chunked_scale_is_the_in_memory_poisson_scale():
    """``c`` solved from gathered candidates = ``poisson_scale`` over all rows' scores.

    Scheduler-free maths (the fits above and below run it on both schedulers).
    """
    from skce._dask_subsample import ChunkedRows

    rng = np.random.default_rng(4)
    X, y = _rare()
    with dask.config.set(scheduler="sync"):
        rows = ChunkedRows(da.from_array(X, chunks=(CHUNK, -1)), y, None, seed=0)
        _check_scales(rows, rng)


def _check_scales(rows, rng):
    heavy = rng.pareto(0.7, N)  # a heavy tail: tau is lowered before the answer
    heavy[rng.random(N) < 0.2] = 0.0
    for scores in (rng.exponential(size=N), np.round(rng.random(N), 1), heavy):
        parts = dask.persist(*[dask.delayed(np.array)(p) for p in np.split(scores, [1700, 3400])])
        for size in (50.0, 700.0, 2100.5):
            c = rows._scale(parts, size)
            assert c == pytest.approx(_sampling.poisson_scale(scores, size), rel=1e-12)
            assert np.minimum(1.0, c * scores).sum() == pytest.approx(size, rel=1e-12)
        assert rows._scale(parts, float(np.count_nonzero(scores))) == np.inf


@pytest.mark.parametrize("method", ["uniform", "optimal", "local"])
def test_several_chunks_fit_close_to_the_full_fit_at_global_positions(scheduler, method):
    X, y = _rare(n=20000, seed=5)
    Xd = da.from_array(X, chunks=(5500, -1))
    size = 3000
    model = _model(method, sample_size=size).fit(Xd, y)
    idx = model.subsample_indices_
    assert np.all(np.diff(idx) > 0) and idx[-1] >= 15000  # global, from every chunk
    # The fit used rows X[idx] with weights subsample_weight_: refit them.
    refit = clone(model.estimator_).fit(X[idx], y[idx], model.subsample_weight_)
    np.testing.assert_array_equal(refit.coef_, model.estimator_.coef_)
    if method == "local":
        # Local's summary is of the draw's own pi: its sum is the size, exactly.
        assert model.sampling_probabilities_["expected_size"] == pytest.approx(size, rel=1e-9)
        expected = size
    elif method == "uniform":
        expected = size
        assert model.sampling_probabilities_["expected_size"] == pytest.approx(size, rel=1e-9)
    else:  # pooled with the pilot: more than the size, less than size + pilot
        expected = model.sampling_probabilities_["expected_size"]
        assert size < expected < size + 400
        # The pilot's rows are among the kept ones: chunk c's pilot draw, with both
        # classes over 200 rows, keeps row i if its uniform of (seed, pilot stream, c)
        # is below 200 / n_{y_i}.
        seed = np.random.RandomState(3).randint(np.iinfo(np.int32).max)
        rates = 200.0 / np.bincount(y)
        pilot = [
            start + np.flatnonzero(_sampling.uniforms(seed, 0, c, 5500)[: len(r)] < rates[r])
            for c, (start, r) in enumerate((s, y[s : s + 5500]) for s in range(0, 20000, 5500))
        ]
        assert np.isin(np.concatenate(pilot), idx).all()
    assert abs(model.n_subsample_ - expected) < 5 * np.sqrt(expected)
    full = WeightedLogisticCE(alpha=1e-6, tol=1e-10).fit(X, y)
    se = model.std_errors(Xd, y)
    estimate = np.r_[model.coef_.ravel(), model.intercept_]
    target = np.r_[full.coef_.ravel(), full.intercept_]
    assert np.all(np.abs(estimate - target) < 4 * se)
    # Weights 1 (not 1 / pi) for "uniform"/"optimal" would be far off: the test can fail.
    if method != "local":
        biased = clone(model.estimator_).fit(X[idx], y[idx])
        assert abs(biased.intercept_[0] - full.intercept_[0]) > 4 * se[-1]


def test_csr_chunks_draw_the_rows_of_dense_chunks(scheduler):
    X, y = _rare(seed=6)
    X[np.random.default_rng(6).random(X.shape) < 0.4] = 0.0
    Xd = da.from_array(X, chunks=(CHUNK, -1))
    dense = _model("uniform").fit(Xd, y)
    csr = _model("uniform").fit(Xd.map_blocks(sp.csr_matrix), y)
    np.testing.assert_array_equal(csr.subsample_indices_, dense.subsample_indices_)
    # Both are the documented draw: chunk c keeps row i if its uniform of (seed, stream, c)
    # is below the rate of its class (rare class whole; the other at (size - n_1) / n_0).
    seed = np.random.RandomState(3).randint(np.iinfo(np.int32).max)
    rates = np.array([(1200 - np.sum(y == 1)) / np.sum(y == 0), 1.0])
    expected = [
        start
        + np.flatnonzero(
            _sampling.uniforms(seed, _sampling.SAMPLE_STREAM, c, len(rows)) < rates[rows]
        )
        for c, (start, rows) in enumerate((s, y[s : s + CHUNK]) for s in range(0, N, CHUNK))
    ]
    np.testing.assert_array_equal(dense.subsample_indices_, np.concatenate(expected))
    np.testing.assert_allclose(csr.coef_, dense.coef_, rtol=1e-8, atol=1e-10)
    optimal = _model("optimal").fit(Xd.map_blocks(sp.csr_matrix), y)
    refit = clone(optimal.estimator_).fit(
        X[optimal.subsample_indices_], y[optimal.subsample_indices_], optimal.subsample_weight_
    )
    np.testing.assert_allclose(refit.coef_, optimal.estimator_.coef_, rtol=1e-8, atol=1e-10)


def test_dask_dataframe_gives_feature_names_and_the_array_fit(scheduler):
    dd = pytest.importorskip("dask.dataframe")
    X, y = _rare(seed=7)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(D)])
    ddf = dd.from_pandas(frame, npartitions=3)
    dy = dd.from_pandas(pd.Series(y, name="label"), npartitions=3)
    model = _model("optimal").fit(ddf, dy)
    assert list(model.feature_names_in_) == list(frame.columns)
    lengths = tuple(int(n) for n in ddf.map_partitions(len).compute())
    as_array = _model("optimal").fit(da.from_array(X, chunks=(lengths, -1)), y)
    # The same draws; a frame's chunks are column-major, so its scores may differ
    # from the array's in the last bit (BLAS), and the weights with them.
    np.testing.assert_array_equal(model.subsample_indices_, as_array.subsample_indices_)
    np.testing.assert_allclose(model.subsample_weight_, as_array.subsample_weight_, rtol=1e-13)
    np.testing.assert_allclose(model.coef_, as_array.coef_, rtol=1e-9)
    assert not hasattr(as_array, "feature_names_in_")
    np.testing.assert_allclose(model.std_errors(ddf, dy), model.std_errors(frame, y), rtol=1e-12)


# -- reads of X -------------------------------------------------------------------------------
@pytest.mark.parametrize("method, reads", [("uniform", 1), ("optimal", 3), ("local", 3)])
def test_x_is_read_once_per_pass(scheduler, tmp_path, method, reads):
    X, y = _rare(seed=8)
    log = tmp_path / "reads.log"

    def read(start):
        # Defined here: sent by value to the workers, which log every chunk made.
        with open(log, "a") as file:
            file.write(f"{start}\n")
        return X[start : start + CHUNK]

    starts = range(0, N, CHUNK)
    parts = [
        da.from_delayed(dask.delayed(read)(s), X[s : s + CHUNK].shape, dtype=X.dtype)
        for s in starts
    ]
    Xd = da.concatenate(parts)
    model = _model(method).fit(Xd, da.from_array(y, chunks=(Xd.chunks[0],)))
    logged = log.read_text().split()
    assert sorted(logged) == sorted([str(s) for s in starts] * reads)
    log.write_text("")
    chunked = model.covariance_matrix(Xd, y)  # one more read: the chunks with kept rows
    assert sorted(log.read_text().split()) == [str(s) for s in starts]
    np.testing.assert_array_equal(chunked, model.covariance_matrix(X, y))


# -- errors and the covariance ---------------------------------------------------------------
def test_non_finite_rows_and_bad_weights_get_the_dask_fits_errors(scheduler):
    X, y = _rare(seed=9)
    X[[5, 1751, 5999], [0, 2, 3]] = [np.nan, np.inf, np.nan]
    named = r"NaN or infinity in 3 row\(s\): rows \[5, 1751, 5999\]"
    Xd = da.from_array(X, chunks=(CHUNK, -1))
    for method, chunks in (("uniform", Xd.map_blocks(sp.csr_matrix)), ("optimal", Xd)):
        with pytest.raises(ValueError, match=named):
            _model(method).fit(chunks, y)
    Xd = da.from_array(np.nan_to_num(X), chunks=(CHUNK, -1))
    sw = np.ones(N)
    sw[7] = -1.0
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        _model("uniform").fit(Xd, y, sample_weight=sw)
    with pytest.raises(ValueError, match="Unknown label type"):
        _model("uniform").fit(Xd, np.linspace(0, 1, N))
    with pytest.raises(ValueError, match="y and X are chunked differently"):
        _model("uniform").fit(Xd, da.from_array(y, chunks=1000))


def test_covariance_on_dask_is_the_in_memory_one(scheduler):
    X, y = _rare(seed=10)
    sw = np.random.default_rng(10).uniform(0.5, 2.0, N)
    Xd = da.from_array(X, chunks=(CHUNK, -1))
    yd, swd = (da.from_array(v, chunks=(Xd.chunks[0],)) for v in (y, sw))
    model = _model("optimal").fit(Xd, yd, sample_weight=swd)
    expected = model.covariance_matrix(X, y, sw)
    np.testing.assert_array_equal(model.covariance_matrix(Xd, yd, swd), expected)
    np.testing.assert_array_equal(model.covariance_matrix(Xd, y, sw), expected)
    sparse = model.covariance_matrix(Xd.map_blocks(sp.csr_matrix), y, sw)
    np.testing.assert_allclose(sparse, expected, rtol=1e-10, atol=1e-14 * np.abs(expected).max())
    with pytest.raises(ValueError, match="X has 5999 rows, but the fit had 6000"):
        model.covariance_matrix(Xd[:-1], y[:-1])
