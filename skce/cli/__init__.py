"""The ``skce`` command line: ``skce demo``, ``skce fit`` and ``skce predict``.

Run ``skce --help`` (or ``python -m skce --help``) for the commands and
``docs/cli.md`` for the details. The entry point is :func:`main`, which
returns the exit status: 0 on success, 1 when something failed at run time
(a fit that failed, a model file that is not valid) and 2 for a usage error
(bad options, a missing file or column, a target the model cannot fit, a
missing optional dependency). Every error is one line on stderr that starts
with ``skce: error:``.

The package has one module per concern:

- ``_main``: the argument parser and :func:`main`;
- ``_commands``: the three commands (one ``skce fit`` flow for every data source);
- ``_data``: reading CSV files, numeric and categorical columns, targets;
- ``_sources``: the data-source interface of ``skce fit`` and the table in memory;
- ``_files``: the data source of files fitted on a dask cluster, with
  ``_parts`` (finding, reading and summarising the files) and ``_layout``
  (their merged columns and the fitted preprocessing);
- ``_crossval``: the one cross-validation loop, with progress;
- ``_reports``: the β report and the metrics table (pandas);
- ``_coefficients``: the coefficient table of ``skce fit`` (the final fit's
  status line and standard errors, printed and saved in the model file);
- ``_subsample``: ``skce fit --subsample N`` (the fits wrapped in
  ``SubsampledCE``, the kept count, the estimate saved as a plain model);
- ``_modelfile`` and ``_rebuild``: writing, loading and validating model files;
- ``_output``: errors, exit statuses, output streams and warnings.

Importing it (and so ``skce --help``) imports only the standard library: the
commands import numpy, pandas and scikit-learn when they run.
"""

from ._commands import DEMO_DIGIT
from ._data import read_csv
from ._main import build_parser, main
from ._modelfile import SavedModel, load_model
from ._output import CLIError, MissingDependencyError, ModelFileError, UsageError
from ._reports import BETA_GRID

__all__ = [
    "BETA_GRID",
    "DEMO_DIGIT",
    "CLIError",
    "MissingDependencyError",
    "ModelFileError",
    "SavedModel",
    "UsageError",
    "build_parser",
    "load_model",
    "main",
    "read_csv",
]
