"""Warnings of tasks run elsewhere: recorded where they are raised, replayed by the caller.

A task that joblib runs in a worker process shares neither the caller's
warning filters nor its ``warnings.showwarning``. The cross-validation tasks
(:mod:`skce._cv`, the folds of ``skce fit``) therefore record their warnings
as ``(category, message)`` pairs, which pickle, and the caller replays each
distinct one once, through its own filters: the same with one process as
with many.

Standard library only, so that the estimators and the command line can both
import it.
"""

import contextlib
import warnings
from collections import Counter

#: Python's default filters ignore these (outside ``__main__``); recorded and
#: replayed from the caller's code, they would surface there.
IGNORED_BY_DEFAULT = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


@contextlib.contextmanager
def recorded_warnings(ignore=(), ignore_messages=()):
    """Record the warnings raised in the block as ``(category, message)`` pairs.

    Every warning is recorded, whatever the filters in force, except those of
    :data:`IGNORED_BY_DEFAULT`, of the categories ``ignore`` and those whose
    message starts with one of ``ignore_messages`` (regular expressions, as
    :func:`warnings.filterwarnings` matches them).

    Yields
    ------
    list of (type, str)
        Filled when the block exits (also when it raises).

    Examples
    --------
    >>> import warnings
    >>> with recorded_warnings(ignore=(FutureWarning,)) as caught:
    ...     warnings.warn("kept", UserWarning)
    ...     warnings.warn("dropped", FutureWarning)
    >>> caught
    [(<class 'UserWarning'>, 'kept')]
    """
    caught = []
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        for category in (*IGNORED_BY_DEFAULT, *ignore):
            warnings.simplefilter("ignore", category)
        for message in ignore_messages:
            warnings.filterwarnings("ignore", message=message)
        try:
            yield caught
        finally:
            caught.extend((w.category, str(w.message)) for w in raised)


def tally(recorded):
    """The distinct warnings of several tasks, each with the number of tasks that raised it.

    ``recorded`` holds one list of ``(category, message)`` pairs per task; the
    result keeps the order in which the warnings first appear.

    Examples
    --------
    >>> tally([[(UserWarning, "a"), (UserWarning, "a")], [(UserWarning, "a")]])
    Counter({(<class 'UserWarning'>, 'a'): 2})
    """
    counts = Counter()
    for caught in recorded:
        counts.update(list(dict.fromkeys(caught)))
    return counts


def replay(counts, *, stacklevel=1, describe=None):
    """Warn once for each warning of ``counts`` (as :func:`tally` returns them).

    ``describe(message, count)`` gives the text to warn with (default: the
    message); ``stacklevel`` is counted from the function that calls
    :func:`replay`, as :func:`warnings.warn` counts it.
    """
    for (category, message), count in counts.items():
        text = message if describe is None else describe(message, count)
        warnings.warn(text, category, stacklevel=stacklevel + 1)
