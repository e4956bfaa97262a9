"""Where the chunks of a dask array live while a fit runs.

Three holders with one interface (``map(func, *args)`` composes a function onto
every chunk, where it is; ``gather()`` brings the small results to the client):
chunks kept in this process (dask's local schedulers), kept as futures on the
workers of a ``distributed`` client, or recomputed from ``X``'s graph at every
evaluation (the dask configuration ``skce.chunks = "recompute"``, for data
larger than memory). Imported only for dask input.
"""

import contextlib
import sys
from concurrent.futures import CancelledError

import dask
from dask.base import get_scheduler

__all__ = ["CHUNK_POLICIES", "chunk_holder", "current_client"]


def current_client(X):
    """The ``distributed`` client dask would compute ``X`` with, or None.

    None means one of dask's local schedulers (threads, processes,
    synchronous): the chunks are then held and evaluated in this process. The
    choice is dask's own (:func:`dask.base.get_scheduler`): a default client,
    ``dask.config.set(scheduler=client)``, or a local scheduler set in the
    configuration. If ``distributed`` has not been imported, no client exists.
    """
    if "distributed" not in sys.modules:
        return None
    from distributed import Client

    owner = getattr(get_scheduler(collections=[X]), "__self__", None)
    if not isinstance(owner, Client):
        return None
    if owner.status in ("closing", "closed"):
        raise RuntimeError(
            f"The dask client dask would use ({owner}) is closed, so the chunks of X "
            "cannot be computed. Create a new distributed.Client, or leave "
            "dask.config's 'scheduler' unset to fit with dask's local scheduler."
        )
    return owner


class _LocalChunks:
    """Chunks held in this process (no ``distributed`` client), evaluated in turn."""

    def __init__(self, items):
        self.items = list(items)

    @classmethod
    def from_arrays(cls, *arrays):
        return cls(zip(*dask.compute(*_delayed_chunks(arrays)), strict=True))

    def map(self, func, *args):
        """``func(item, *args)`` for every chunk; the results stay chunks."""
        return _LocalChunks(func(item, *args) for item in self.items)

    def gather(self):
        return self.items


class _RecomputedChunks:
    """Chunks recomputed from ``X``'s graph (e.g. read from files) at every evaluation.

    Nothing is kept: ``map`` only composes tasks onto each chunk's recipe, and
    ``gather`` computes them with dask's current scheduler (a ``distributed``
    client or a local one), so every evaluation loads each chunk, builds its
    objective, evaluates it and lets it go. For data larger than the memory
    that would hold it.
    """

    def __init__(self, items):
        self.items = list(items)

    @classmethod
    def from_arrays(cls, *arrays):
        delayed = _delayed_chunks(arrays)
        return cls(dask.delayed(_bundle, pure=True)(*parts) for parts in zip(*delayed, strict=True))

    def map(self, func, *args):
        return _RecomputedChunks(dask.delayed(func, pure=False)(item, *args) for item in self.items)

    def gather(self):
        return list(dask.compute(*self.items))


#: The values of the dask configuration key ``skce.chunks``: keep the chunks in
#: memory where they are (the default) or recompute them at every evaluation.
CHUNK_POLICIES = ("keep", "recompute")


def _chunk_policy():
    policy = dask.config.get("skce.chunks", "keep")
    if policy not in CHUNK_POLICIES:
        raise ValueError(
            f"dask.config 'skce.chunks' must be one of {list(CHUNK_POLICIES)}, got {policy!r}."
        )
    return policy


class _ClusterChunks:
    """Chunks held as futures on the workers of a ``distributed`` client.

    ``map`` sends the function and its small arguments to the chunks; only
    ``gather`` brings results (small partials) to the client.
    """

    def __init__(self, client, futures):
        self.client = client
        self.futures = futures

    @classmethod
    def from_arrays(cls, client, *arrays):
        parts = _delayed_chunks(arrays)
        flat = client.compute([d for part in parts for d in part])
        n = len(parts[0])
        futures = [flat[i * n : (i + 1) * n] for i in range(len(parts))]
        return cls(client, client.map(_bundle, *futures, pure=False))

    def map(self, func, *args):
        n = len(self.futures)
        repeated = [[arg] * n for arg in args]
        with _cluster_errors():
            futures = self.client.map(func, self.futures, *repeated, pure=False)
        return _ClusterChunks(self.client, futures)

    def gather(self):
        with _cluster_errors():
            return self.client.gather(self.futures)


@contextlib.contextmanager
def _cluster_errors():
    """One clear error when the client, its scheduler or every worker is gone.

    A single lost worker is not an error: the scheduler recomputes its chunks.
    """
    from distributed.client import ClosedClientError

    try:
        yield
    except (OSError, CancelledError, ClosedClientError) as error:
        raise RuntimeError(
            f"The fit lost its dask cluster ({type(error).__name__}: {error}). The chunks "
            "of X live on the cluster's workers; start the fit again with a working "
            "distributed.Client."
        ) from error


def _bundle(*parts):
    return parts


def _delayed_chunks(arrays):
    """The chunks of each array as a list of delayed objects, for one compute of all.

    Unoptimised graphs keep the keys of the tasks the arrays share (X and y read
    from one file, say), so that one compute runs those tasks once.
    """
    return [list(a.to_delayed(optimize_graph=False).ravel()) for a in arrays]


def chunk_holder(client, *arrays):
    """The chunks of ``arrays`` (row-aligned dask arrays) bundled and held as dask's
    configuration and ``client`` say (see the module docstring)."""
    if _chunk_policy() == "recompute":
        return _RecomputedChunks.from_arrays(*arrays)
    if client is None:
        return _LocalChunks.from_arrays(*arrays)
    return _ClusterChunks.from_arrays(client, *arrays)
