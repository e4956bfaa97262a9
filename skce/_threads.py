"""How many BLAS threads skce's own linear algebra may use.

skce's fits and predictions are long series of small BLAS calls, which wait for
a core at every call when the machine is busy: a fit of 30 ms on one thread took
0.8 s on two. So they run with BLAS limited to one thread (every loaded BLAS
library: numpy and scipy each ship their own), unless

- the environment variable ``SKCE_BLAS_THREADS`` says otherwise: a positive
  integer is the limit to apply instead, ``off`` leaves the BLAS threads as
  they are (read at every call, and inherited by worker processes);
- BLAS already runs on that many threads or fewer (inside
  ``threadpoolctl.threadpool_limits(1)``, or in loky and dask workers): the
  limit only ever lowers the thread count.

The :class:`~threadpoolctl.ThreadpoolController` is created once, at the first
limited call: creating one costs as much as a small fit, limiting through it
about 10 us. It covers the BLAS libraries loaded by then (numpy's and scipy's,
the only ones skce calls). The limit is process-wide, so concurrent fits in
several Python threads share it: the first to enter applies it, the last to
leave restores the previous thread counts. Measurements and the caveat of
OpenBLAS builds that ignore limits set from other threads: docs/performance.md,
"BLAS threads".
"""

import functools
import os
import threading

__all__ = ["ENV_VARIABLE", "blas_threads", "limit_blas_threads"]

ENV_VARIABLE = "SKCE_BLAS_THREADS"

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
        return self

    def __exit__(self, *exc_info):
        global _depth, _limiter
        with _lock:
            _depth -= 1
            if _depth == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None
        return False


def limit_blas_threads(method):
    """Decorator: run ``method`` inside :class:`blas_threads` (same signature and docstring)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with blas_threads():
            return method(*args, **kwargs)

    return wrapper
