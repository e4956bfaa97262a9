"""Model files: the fitted pipeline of ``skce fit`` as a JSON document, and back.

A model file holds the column names, the target's classes and the fitted
numbers of each step of the pipeline. :func:`load_model` reads it with
:func:`json.loads` (which builds only dicts, lists, strings, numbers, booleans
and ``None``) and :func:`~skce.cli._rebuild.rebuild` validates every field and
rebuilds the pipeline from a fixed set of known classes, so a model file
cannot make the loader import a module or call a function: a tampered file is
either refused or, at worst, predicts nonsense. docs/cli.md explains why this
is not a pickle.
"""

import json

from .. import __version__
from ._data import check_input_file, check_missing, features
from ._output import (
    CLIError,
    ModelFileError,
    UsageError,
    atomic_writer,
    first_line,
    one_line,
)
from ._rebuild import (
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    check_document,
    checksum,
    json_scalar,
    rebuild,
)

MODEL_SUFFIX = ".skce.json"
_MAX_MODEL_BYTES = 256 * 2**20


def model_document(
    pipeline,
    *,
    target,
    classes,
    numeric,
    categorical,
    order,
    impute,
    training,
    dropped=(),
    positive=None,
    std_errors=None,
):
    """The JSON-ready description of a fitted pipeline built by ``make_pipeline``.

    ``classes`` are in the order of ``predict_proba``'s columns; for a binary
    model the second is ``positive``, the class β weights. ``dropped`` names
    the columns of the training file left out with ``--drop`` (informative:
    ``skce predict`` ignores every column that is not a feature).
    ``model.params`` holds every plain-valued parameter of the estimator, so
    ``prior_correction``, which changes the predictions of the saved
    coefficients, is restored with them. ``std_errors`` (from
    :meth:`~skce.cli._coefficients.StandardErrors.document`) becomes
    ``model.std_errors``; without it the field is left out, as in files
    written before it existed. The document ends with ``check``
    (rows and their predictions, see :func:`~skce.cli._rebuild.check_frame`)
    and ``checksum`` (:func:`~skce.cli._rebuild.checksum`).
    """
    from importlib import metadata

    preprocess = pipeline.named_steps["preprocess"]
    estimator = pipeline.named_steps["model"]
    document = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "created_with": {
            "skce": __version__,
            "scikit-learn": metadata.version("scikit-learn"),
        },
        "target": {"name": target, "classes": list(classes), "positive": positive},
        "columns": {
            "order": list(order),
            "numeric": list(numeric),
            "categorical": list(categorical),
            "dropped": list(dropped),
        },
        "impute": bool(impute),
        "preprocess": {"sparse_output": bool(preprocess.sparse_output_)},
        "training": training,
    }
    if numeric:
        steps = preprocess.named_transformers_["num"].named_steps
        scaler = steps["scale"]
        document["preprocess"]["numeric"] = {
            "median": steps["impute"].statistics_.tolist() if impute else None,
            "mean": scaler.mean_.tolist(),
            "scale": scaler.scale_.tolist(),
            "var": scaler.var_.tolist(),
            "n_samples_seen": int(scaler.n_samples_seen_),
        }
    if categorical:
        steps = preprocess.named_transformers_["cat"].named_steps
        document["preprocess"]["categorical"] = {
            "most_frequent": [str(v) for v in steps["impute"].statistics_] if impute else None,
            "categories": [[str(v) for v in c] for c in steps["onehot"].categories_],
        }
    model = {
        "class": type(estimator).__name__,
        "params": {k: v for k, v in estimator.get_params().items() if json_scalar(v)},
        "coef": estimator.coef_.tolist(),
        "intercept": estimator.intercept_.tolist(),
        "n_iter": int(estimator.n_iter_),
    }
    if hasattr(estimator, "beta_"):
        model["beta_"] = float(estimator.beta_)
    if hasattr(estimator, "class_weight_"):
        model["class_weight_"] = estimator.class_weight_.tolist()
    if std_errors is not None:
        model["std_errors"] = std_errors
    document["model"] = model
    categories = document["preprocess"].get("categorical", {}).get("categories", [])
    document["check"] = check_document(pipeline, numeric, categorical, categories, impute)
    document["checksum"] = checksum(document)
    return document


def _dumps(value, indent=""):
    """JSON text with objects indented and lists of plain values on one line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [inner + _dumps(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def default_model_path(data_path):
    """``train.csv`` -> ``train.skce.json``, next to the data."""
    name = data_path.name
    stem = name[: -len(data_path.suffix)] if data_path.suffix else name
    return data_path.with_name(stem + MODEL_SUFFIX)


def write_model(document, path):
    """Write ``document`` to ``path`` through a temporary file (never half a model)."""
    with atomic_writer(path, "the model") as handle:
        handle.write(_dumps(document) + "\n")


class SavedModel:
    """A model loaded by :func:`load_model`.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The fitted pipeline (ColumnTransformer, then WeightedLogisticCE or
        SoftmaxCE); it takes a DataFrame with the columns ``numeric +
        categorical`` as made by :meth:`features`.
    target : str
        Name of the target column.
    classes : list
        The class labels, in the order of ``predict_proba``'s columns.
    numeric, categorical : list of str
        Feature columns by kind.
    impute : bool
        Whether missing values are imputed.
    std_errors : dict or None
        The model file's ``model.std_errors`` (validated): the kind, the
        reference class, the standard errors of ``coef`` and ``intercept`` of
        each output (relative to the reference class), or why they are
        ``unavailable``; None for a file written before skce saved them.
    document : dict
        The validated content of the model file.
    """

    def __init__(self, pipeline, document):
        self.pipeline = pipeline
        self.document = document
        self.target = document["target"]["name"]
        self.classes = list(document["target"]["classes"])
        self.numeric = list(document["columns"]["numeric"])
        self.categorical = list(document["columns"]["categorical"])
        self.impute = bool(document["impute"])
        self.std_errors = document["model"].get("std_errors")

    @property
    def columns(self):
        """The feature columns in the training file's order."""
        return list(self.document["columns"]["order"])

    def features(self, frame, path="the data"):
        """The feature frame for :attr:`pipeline` from a frame read by :func:`read_csv`.

        Raises :class:`UsageError` for missing columns, non-numbers in numeric
        columns and (for a model without imputation) missing values.
        """
        absent = [c for c in self.columns if c not in frame.columns]
        if absent:
            raise UsageError(
                f"{path} lacks {len(absent)} column{'s' if len(absent) > 1 else ''} that the "
                f"model needs: {', '.join(repr(c) for c in absent)}"
            )
        X = features(frame, self.numeric, self.categorical, path)
        if not self.impute:
            check_missing(
                X,
                path,
                "the model was fitted without --impute, so every value is needed: fill it "
                "in, or refit with --impute",
            )
        return X


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed")


def load_model(path):
    """Load a model file written by ``skce fit``, safely.

    The file is parsed as JSON text (never unpickled), every field is checked,
    and the pipeline is rebuilt from known scikit-learn and skce classes only.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    SavedModel

    Raises
    ------
    UsageError
        If the file does not exist.
    ModelFileError
        If the file is not a valid skce model file.
    """
    path = check_input_file(path, "model file")
    try:
        size = path.stat().st_size
        if size > _MAX_MODEL_BYTES:
            raise ModelFileError(f"{path} is too large for an skce model file ({size} bytes)")
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if raw[:1] == b"\x80" or raw[:2] == b"PK":
        kind = "a pickle" if raw[:1] == b"\x80" else "a zip archive (e.g. skops or joblib)"
        raise ModelFileError(
            f"{path} is {kind}, not an skce model file; skce loads only its own JSON model "
            "files, never pickles, because loading a pickle can run arbitrary code"
        )
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(
            f"{path} is not an skce model file (not valid JSON: {first_line(exc)})"
        ) from None
    try:
        return SavedModel(rebuild(document), document)
    except ModelFileError as exc:
        raise ModelFileError(f"{path} is not a valid skce model file: {exc}") from None
    except (CLIError, KeyboardInterrupt):
        raise
    except Exception as exc:  # e.g. scikit-learn refusing a value
        raise ModelFileError(
            f"{path} is not a valid skce model file: cannot rebuild the model "
            f"({type(exc).__name__}: {one_line(first_line(exc))})"
        ) from None
