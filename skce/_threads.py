"""How many BLAS threads skce's own linear algebra may use.

skce's products are a long series of small BLAS calls: one dense row block of
about 4 MiB per call, a handful of length-``n_features`` vector operations
between single-threaded sparse products, and one ``X @ coef_.T`` per
prediction. On a machine where the cores are busy with something else (other
jobs, the other folds of a grid search, a notebook kernel next to a build),
OpenBLAS's worker threads wait for a core at every call, and a fit that takes
30 ms on one thread took 0.8 s on two (docs/performance.md, "BLAS threads").
On a free machine two threads made the same fits at most 1.2-1.4x faster. So
skce runs its fits and predictions with BLAS limited to one thread, unless

- the environment variable ``SKCE_BLAS_THREADS`` says otherwise: a positive
  integer is the limit to apply instead, ``off`` leaves the BLAS threads as
  they are (read at every call, so it can be changed in a running session, and
  inherited by worker processes);
- BLAS already runs on that many threads or fewer (for instance inside
  ``threadpoolctl.threadpool_limits(1)``, or in loky and dask workers, which
  cap BLAS at one thread): the limit only ever lowers the thread count, and
  then nothing is changed.

threadpoolctl (a dependency of scikit-learn) is imported on the first limited
call, not when skce is imported. Its :class:`~threadpoolctl.ThreadpoolController`
is created once and reused: creating one enumerates the loaded libraries
(about 2.4 ms here, as much as a small fit), while limiting through an existing
one costs about 10 us. The controller covers the BLAS libraries loaded when it
is created, which include numpy's and scipy's own OpenBLAS builds, the only ones
skce calls (importing :mod:`skce._objective` loads both: seen with numpy 2.4 and
scipy 1.17, and with numpy 1.24 and scipy 1.15). A BLAS library loaded after the
first fit would not be limited.

The limit is process-wide (BLAS thread pools are), so concurrent fits in
several Python threads share it: the first to enter applies it and the last to
leave restores the previous thread counts. Some OpenBLAS builds (0.3.21, with
numpy 1.24) ignore a thread count set from a thread other than the main one:
there, fits run in Python threads (joblib's threading backend) are not limited,
and their results can differ from a main-thread fit in the last bits. Fits in
processes (loky, dask) are unaffected.
"""

import functools
import os
import threading

__all__ = ["ENV_VARIABLE", "blas_threads", "limit_blas_threads"]

ENV_VARIABLE = "SKCE_BLAS_THREADS"

# The BLAS thread count skce's fits and predictions run with by default. One:
# on the 2-core benchmark machine two threads made fits at most 1.2-1.4x faster
# when it was otherwise free, and 1.3-26x slower with one or two competing
# processes (docs/performance.md, "BLAS threads").
_DEFAULT_THREADS = 1

_lock = threading.Lock()
_controller = None
# How many limited calls are running (all Python threads together), and the
# limiter to restore when the last one leaves (None: nothing was changed).
_depth = 0
_limiter = None


def _configured_threads():
    """The limit asked for: an int >= 1, or None for "leave BLAS alone"."""
    raw = os.environ.get(ENV_VARIABLE, "").strip()
    if not raw:
        return _DEFAULT_THREADS
    if raw.lower() == "off":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            f"{ENV_VARIABLE}={raw!r} is not a valid BLAS thread limit: set it to a "
            "positive integer (the number of BLAS threads skce may use, default 1) or "
            "to 'off' (leave the BLAS thread counts as they are), or unset it."
        )
    return value


def _blas_controller():
    """The process's ``ThreadpoolController`` restricted to BLAS, created once."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def _enter():
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            _limiter = None
            limit = _configured_threads()
            if limit is not None:
                controller = _blas_controller()
                current = [lib.num_threads for lib in controller.lib_controllers]
                # Only ever lower the thread count: a tighter limit already in
                # place (the user's, or a worker pool's) is kept as it is.
                if current and max(current) > limit:
                    _limiter = controller.limit(limits=limit)
        _depth += 1


def _exit():
    global _depth, _limiter
    with _lock:
        _depth -= 1
        if _depth == 0 and _limiter is not None:
            _limiter.restore_original_limits()
            _limiter = None


class blas_threads:
    """Context manager: run the enclosed code under skce's BLAS thread policy.

    On entry, BLAS (every loaded BLAS library: numpy and scipy each ship their
    own) is limited to ``SKCE_BLAS_THREADS`` threads (default 1) if it
    currently uses more; on exit the previous thread counts are restored, also
    when the enclosed code raises. ``SKCE_BLAS_THREADS=off`` disables it.

    Examples
    --------
    >>> import numpy as np
    >>> from skce._threads import blas_threads
    >>> with blas_threads():
    ...     float(np.ones(3) @ np.ones(3))
    3.0
    """

    def __enter__(self):
        _enter()
        return self

    def __exit__(self, *exc_info):
        _exit()
        return False


def limit_blas_threads(method):
    """Decorator: run ``method`` inside :class:`blas_threads`.

    Parameters
    ----------
    method : callable

    Returns
    -------
    callable
        ``method`` with the same signature and docstring.
    """

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with blas_threads():
            return method(*args, **kwargs)

    return wrapper
