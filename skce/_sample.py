"""The row sample: one stratified index set, and the objective over those rows.

Which rows a fit samples, and whether it samples at all, is the fit plan's
decision (:mod:`skce._plan`); here is how a sample is drawn and held.
"""

import numpy as np

__all__ = ["rows_of", "stratified_rows"]

#: Seed of the place of each sampled row within its stratum: fits are repeatable.
SAMPLE_SEED = 20261129

#: Rows per block of a sample's own objective: its temporaries stay small.
SAMPLE_BLOCK_ROWS = 1024


def stratified_rows(n, m):
    """About ``m`` of ``n`` rows, one drawn from each of ``m`` strata of consecutive rows.

    Sorted indices. Any stretch of more than two strata is represented in
    proportion to its length: consecutive blocks of rows could miss a stretch of
    rows in other units (measured: a tenth of a 200k-row data set between two
    blocks made the default fit hit ``max_iter``), and every ``n / m``-th row
    lined up with a periodic row order (one row in 12 in other units: no sample
    saw them). The place within each stratum is random, with a fixed seed.
    """
    m = min(m, n)
    edges = np.arange(m + 1, dtype=np.intp) * n // m  # strictly increasing: m <= n
    offsets = np.random.default_rng(SAMPLE_SEED).random(m) * np.diff(edges)
    return edges[:-1] + offsets.astype(np.intp)


def rows_of(objective, rows):
    """``objective`` over the rows ``rows`` (None: itself), made once per objective."""
    if rows is None:
        return objective
    key = ("rows", rows.size, rows.tobytes())
    return objective.cached(key, lambda: objective.subset(rows, block_rows=SAMPLE_BLOCK_ROWS))
