"""Model files: validate a parsed (untrusted) document and rebuild its pipeline.

Every field is checked (types, shapes, finite numbers, sorted unique labels and
categories, the model class from a fixed list of two); the pipeline is built
from the same classes as ``skce fit`` builds, its preprocessing fitted on a
small synthetic frame that holds every category (which lays out the columns
through the public API), and the saved numbers are put in place as public
fitted attributes. Nothing in the file is ever used as a module, class or
function name.
"""

import math
import warnings

from .. import __version__
from ._data import _missing, make_pipeline
from ._output import ModelFileError, first_line, import_pandas, one_line

MODEL_FORMAT = "skce-model"
MODEL_FORMAT_VERSION = 2
_MIN_CHECK_ROWS = 8
_MAX_CHECK_ROWS = 24
_MAX_CHECK_Z = 10.0
_CHECK_LOGITS = (-3.0, 2.0, -1.0, 0.5, -2.0, 3.0, -0.5, 1.0)
# The rebuilt model computes the same numbers as the saved one; the tolerance
# only allows for another BLAS summing in another order.
_CHECK_RTOL = 1e-9


def layout_frame(numeric, categorical, categories):
    """A small frame with every category: fitting the preprocessing on it fixes its layout."""
    import numpy as np

    pd = import_pandas()
    n_rows = max([2] + [len(c) for c in categories])
    data = {c: np.arange(n_rows, dtype=np.float64) for c in numeric}
    for column, values in zip(categorical, categories, strict=True):
        data[column] = np.array([values[i % len(values)] for i in range(n_rows)], dtype=object)
    return pd.DataFrame(data, columns=list(numeric) + list(categorical))


def check_frame(pipeline, numeric, categorical, categories, impute):
    """Rows whose predictions a model file records, chosen so that they are not saturated.

    Every category appears (up to ``_MAX_CHECK_ROWS`` rows); the numeric values
    are set, through the fitted scaler, so that each row's logits hit a moderate
    target (between -3 and 3): there, a probability moves with any change of
    the model, where at a logit of 50 it is 1 to the last digit whatever the
    coefficients. The logits are affine in the standardised numeric values
    ``z`` (the ColumnTransformer puts them first), so the targets are reached
    by the least-squares ``z``, limited to ±``_MAX_CHECK_Z``. With imputation,
    one more row of missing values checks the imputed values.
    """
    import numpy as np

    n_rows = min(_MAX_CHECK_ROWS, max([_MIN_CHECK_ROWS] + [len(c) for c in categories]))
    data = {}
    for column, values in zip(categorical, categories, strict=True):
        data[column] = np.array([values[i % len(values)] for i in range(n_rows)], dtype=object)
    frame = _frame(numeric, categorical, data, n_rows, np.zeros((n_rows, len(numeric))), pipeline)
    estimator = pipeline.named_steps["model"]
    if numeric:
        base = np.asarray(pipeline.decision_function(frame), dtype=np.float64).reshape(n_rows, -1)
        rng = np.random.default_rng(0)
        if base.shape[1] == 1:
            targets = np.resize(_CHECK_LOGITS, n_rows)[:, None]
        else:
            targets = rng.uniform(-2.0, 2.0, size=base.shape)
        W = np.asarray(estimator.coef_, dtype=np.float64)[:, : len(numeric)]
        if W.shape[0] == 2 and base.shape[1] == 1:  # two-class SoftmaxCE: the margin z_1 - z_0
            W = W[1:] - W[:1]
        z, *_ = np.linalg.lstsq(W, (targets - base).T, rcond=None)
        z = np.clip(z.T, -_MAX_CHECK_Z, _MAX_CHECK_Z)
        frame = _frame(numeric, categorical, data, n_rows, z, pipeline)
    if impute:
        frame.loc[len(frame)] = [np.nan] * (len(numeric) + len(categorical))
        if numeric:
            frame[list(numeric)] = frame[list(numeric)].astype(np.float64)
    return frame


def _frame(numeric, categorical, data, n_rows, z, pipeline):
    """The check rows for standardised numeric values ``z`` (raw = mean + scale * z)."""
    pd = import_pandas()
    data = dict(data)
    if numeric:
        steps = pipeline.named_steps["preprocess"].named_transformers_["num"].named_steps
        scaler = steps["scale"]
        raw = scaler.mean_ + scaler.scale_ * z
        for k, column in enumerate(numeric):
            data[column] = raw[:, k]
    return pd.DataFrame(data, columns=list(numeric) + list(categorical), index=range(n_rows))


def check_document(pipeline, numeric, categorical, categories, impute):
    """The ``check`` field of a model file: rows, their labels and probabilities."""
    import numpy as np

    frame = check_frame(pipeline, numeric, categorical, categories, impute)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proba = pipeline.predict_proba(frame)
        labels = pipeline.predict(frame)
    data = {}
    for column in frame.columns:
        values = frame[column].tolist()
        data[column] = [None if _missing(v) else v for v in values]
    return {
        "data": data,
        "predict": np.asarray(labels).tolist(),
        "predict_proba": proba.tolist(),
    }


def checksum(document):
    """``sha256:<hex>`` of the document's content without its ``checksum`` field.

    The content is serialised canonically (keys sorted, no spaces, UTF-8), so
    the checksum does not depend on the file's layout: reindenting the file
    keeps it valid, changing any value does not.
    """
    import hashlib
    import json

    content = {k: v for k, v in document.items() if k != "checksum"}
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def json_scalar(value):
    return value is None or isinstance(value, (str, bool, int, float))


def _bad(message):
    raise ModelFileError(message)


def _get(mapping, key, where):
    if not isinstance(mapping, dict):
        _bad(f"{where} must be an object")
    if key not in mapping:
        _bad(f"missing field {where}.{key}")
    return mapping[key]


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _array(value, ndim, where):
    import numpy as np

    def check(item, depth):
        if depth == 0:
            if not _is_number(item):
                _bad(f"{where} must hold numbers, found {type(item).__name__}")
            return
        if not isinstance(item, list):
            _bad(f"{where} must be a {ndim}-dimensional list of numbers")
        for element in item:
            check(element, depth - 1)

    check(value, ndim)
    try:
        array = np.array(value, dtype=np.float64)
    except (ValueError, OverflowError):
        _bad(f"{where} must be a rectangular list of numbers")
    if array.ndim != ndim or not np.all(np.isfinite(array)):
        _bad(f"{where} must be a {ndim}-dimensional list of finite numbers")
    return array


def _strings(value, where, *, unique=True, allow_empty=True):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _bad(f"{where} must be a list of strings")
    if unique and len(set(value)) != len(value):
        _bad(f"{where} has duplicates")
    if not allow_empty and not value:
        _bad(f"{where} is empty")
    return value


def rebuild(document):
    """The fitted pipeline described by a (parsed, untrusted) model document."""
    import numpy as np

    from ..linear_model import SoftmaxCE, WeightedLogisticCE

    if _get(document, "format", "model") != MODEL_FORMAT:
        _bad(f"format is not {MODEL_FORMAT!r}")
    version = _get(document, "format_version", "model")
    if version == 1:
        _bad(
            "it has format_version 1, written by an earlier skce without a checksum, which "
            f"this skce {__version__} no longer reads (it could not tell an edited file); refit "
            "the model with 'skce fit'"
        )
    if version != MODEL_FORMAT_VERSION:
        _bad(
            f"format_version {version!r} is not supported (this skce {__version__} reads "
            f"version {MODEL_FORMAT_VERSION})"
        )
    stored = _get(document, "checksum", "model")
    if stored != checksum(document):
        _bad(
            "the file was changed after skce wrote it: its content does not match its "
            "checksum (restore the file or refit the model with 'skce fit')"
        )

    target = _get(document, "target", "model")
    if not isinstance(_get(target, "name", "target"), str):
        _bad("target.name must be a string")
    classes = _get(target, "classes", "target")
    if not isinstance(classes, list) or len(classes) < 2:
        _bad("target.classes must be a list of at least two labels")
    if not (
        all(isinstance(c, str) for c in classes)
        or all(isinstance(c, int) and not isinstance(c, bool) for c in classes)
    ):
        _bad("target.classes must be all strings or all integers")
    if len(set(classes)) != len(classes):
        _bad("target.classes must be unique")
    positive = _get(target, "positive", "target")

    columns = _get(document, "columns", "model")
    order = _strings(_get(columns, "order", "columns"), "columns.order", allow_empty=False)
    numeric = _strings(_get(columns, "numeric", "columns"), "columns.numeric")
    categorical = _strings(_get(columns, "categorical", "columns"), "columns.categorical")
    if sorted(numeric + categorical) != sorted(order):
        _bad("columns.numeric and columns.categorical must split columns.order")
    dropped = _strings(_get(columns, "dropped", "columns"), "columns.dropped")
    if set(dropped) & set(order):
        _bad("columns.dropped must not hold feature columns")
    impute = _get(document, "impute", "model")
    if not isinstance(impute, bool):
        _bad("impute must be true or false")

    prep = _get(document, "preprocess", "model")
    sparse_output = _get(prep, "sparse_output", "preprocess")
    if not isinstance(sparse_output, bool):
        _bad("preprocess.sparse_output must be true or false")
    n_features = 0
    if numeric:
        num = _get(prep, "numeric", "preprocess")
        mean = _array(_get(num, "mean", "preprocess.numeric"), 1, "preprocess.numeric.mean")
        scale = _array(_get(num, "scale", "preprocess.numeric"), 1, "preprocess.numeric.scale")
        var = _array(_get(num, "var", "preprocess.numeric"), 1, "preprocess.numeric.var")
        seen = _get(num, "n_samples_seen", "preprocess.numeric")
        if not (isinstance(seen, int) and not isinstance(seen, bool) and seen > 0):
            _bad("preprocess.numeric.n_samples_seen must be a positive integer")
        if not (mean.shape == scale.shape == var.shape == (len(numeric),)):
            _bad("preprocess.numeric arrays must have one entry per numeric column")
        if np.any(scale <= 0) or np.any(var < 0):
            _bad("preprocess.numeric.scale must be > 0 and var >= 0")
        median = _get(num, "median", "preprocess.numeric")
        if impute:
            median = _array(median, 1, "preprocess.numeric.median")
            if median.shape != (len(numeric),):
                _bad("preprocess.numeric.median must have one entry per numeric column")
        elif median is not None:
            _bad("preprocess.numeric.median must be null without imputation")
        n_features += len(numeric)
    categories = []
    if categorical:
        cat = _get(prep, "categorical", "preprocess")
        categories = _get(cat, "categories", "preprocess.categorical")
        if not isinstance(categories, list) or len(categories) != len(categorical):
            _bad("preprocess.categorical.categories must have one list per categorical column")
        for k, values in enumerate(categories):
            where = f"preprocess.categorical.categories[{k}]"
            _strings(values, where, allow_empty=False)
            if values != sorted(values):
                _bad(f"{where} must be sorted")
        frequent = _get(cat, "most_frequent", "preprocess.categorical")
        if impute:
            _strings(frequent, "preprocess.categorical.most_frequent", unique=False)
            if len(frequent) != len(categorical) or any(
                v not in c for v, c in zip(frequent, categories, strict=True)
            ):
                _bad("preprocess.categorical.most_frequent must be one category per column")
        elif frequent is not None:
            _bad("preprocess.categorical.most_frequent must be null without imputation")
        n_features += sum(len(c) for c in categories)

    model = _get(document, "model", "model")
    kinds = {"WeightedLogisticCE": WeightedLogisticCE, "SoftmaxCE": SoftmaxCE}
    kind = _get(model, "class", "model")
    if kind not in kinds:
        _bad(f"model.class must be one of {', '.join(kinds)}, got {kind!r}")
    params = _get(model, "params", "model")
    if not isinstance(params, dict) or not all(json_scalar(v) for v in params.values()):
        _bad("model.params must map names to plain values")
    # prior_correction changes the predictions of the saved coefficients (it
    # subtracts ln beta_ or ln class_weight_ from the logits): the file must say.
    _get(params, "prior_correction", "model.params")
    estimator = _estimator(kinds[kind], params)
    n_outputs = 1 if kind == "WeightedLogisticCE" else len(classes)
    if kind == "WeightedLogisticCE":
        # The positive class is the second (fits see it as 1), whatever its sort order.
        if len(classes) != 2 or positive != classes[1]:
            _bad("a WeightedLogisticCE model needs two classes, the second one target.positive")
    elif positive is not None or classes != sorted(classes):
        _bad("a SoftmaxCE model needs sorted classes and no target.positive")
    coef = _array(_get(model, "coef", "model"), 2, "model.coef")
    intercept = _array(_get(model, "intercept", "model"), 1, "model.intercept")
    if coef.shape != (n_outputs, n_features) or intercept.shape != (n_outputs,):
        _bad(
            f"model.coef must have shape ({n_outputs}, {n_features}) and model.intercept "
            f"({n_outputs},) for these columns and classes"
        )
    n_iter = _get(model, "n_iter", "model")
    if not (isinstance(n_iter, int) and not isinstance(n_iter, bool) and n_iter >= 0):
        _bad("model.n_iter must be an integer >= 0")

    # Build the pipeline from the known classes, fit its preprocessing on a
    # small synthetic frame (that fixes the column layout through the public
    # API) and put the saved numbers in place.
    pipeline = make_pipeline(numeric, categorical, estimator, impute=impute)
    synthetic = layout_frame(numeric, categorical, categories)
    preprocess = pipeline.named_steps["preprocess"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preprocess.fit(synthetic)
    if numeric:
        steps = preprocess.named_transformers_["num"].named_steps
        steps["scale"].mean_ = mean
        steps["scale"].scale_ = scale
        steps["scale"].var_ = var
        steps["scale"].n_samples_seen_ = seen
        if impute:
            steps["impute"].statistics_ = median
    if categorical:
        steps = preprocess.named_transformers_["cat"].named_steps
        fitted = [c.tolist() for c in steps["onehot"].categories_]
        if fitted != categories:
            _bad("preprocess.categorical.categories do not round-trip")
        if impute:
            steps["impute"].statistics_ = np.array(frequent, dtype=object)
    preprocess.sparse_output_ = sparse_output
    if preprocess.transform(synthetic).shape[1] != n_features:
        _bad("the preprocessing does not produce model.coef's number of features")

    if all(isinstance(c, str) for c in classes):
        estimator.classes_ = np.array(classes, dtype=object)
    else:
        estimator.classes_ = np.array(classes, dtype=np.int64)
    estimator.coef_ = coef
    estimator.intercept_ = intercept
    estimator.n_features_in_ = n_features
    estimator.n_iter_ = n_iter
    if kind == "WeightedLogisticCE":
        beta_ = _get(model, "beta_", "model")
        if not (_is_number(beta_) and math.isfinite(beta_) and beta_ > 0):
            _bad("model.beta_ must be a finite number > 0")
        estimator.beta_ = float(beta_)
    else:
        weights = _array(_get(model, "class_weight_", "model"), 1, "model.class_weight_")
        if weights.shape != (len(classes),) or np.any(weights < 0):
            _bad("model.class_weight_ must hold one weight >= 0 per class")
        if params["prior_correction"] and np.any(weights == 0):
            _bad("model.class_weight_ must be > 0 with prior_correction (it takes their log)")
        estimator.class_weight_ = weights

    _check_predictions(pipeline, _get(document, "check", "model"), numeric, categorical, impute)
    # Last: the standard errors do not change the predictions, which are checked first.
    if "std_errors" in model:  # absent from files written before skce saved them
        _check_std_errors(model["std_errors"], classes, n_features, estimator.fit_intercept)
    return pipeline


def _check_predictions(pipeline, check, numeric, categorical, impute):
    """The rebuilt pipeline must reproduce the predictions the file records.

    The checksum catches edits of the file; this catches a file whose numbers
    mean something else to this version of skce (say, one whose estimators
    keep more fitted state), and edits made with the checksum recomputed. The
    rows are stored in the file, not derived from its (perhaps edited)
    scaler, and their logits are moderate, so any change of a coefficient, an
    intercept, a scaler or a column name moves their probabilities.
    """
    import numpy as np

    pd = import_pandas()
    data = _get(check, "data", "check")
    if not isinstance(data, dict) or sorted(data) != sorted(numeric + categorical):
        _bad("check.data must have one list per feature column")
    lengths = {len(v) if isinstance(v, list) else -1 for v in data.values()}
    if len(lengths) != 1 or min(lengths) < 1:
        _bad("check.data must hold lists of one common length")
    frame = {}
    for column in numeric:
        values = data[column]
        if not all(_is_number(v) or (impute and v is None) for v in values):
            _bad(f"check.data[{column!r}] must hold numbers")
        frame[column] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    for column in categorical:
        values = data[column]
        if not all(isinstance(v, str) or (impute and v is None) for v in values):
            _bad(f"check.data[{column!r}] must hold strings")
        frame[column] = np.array([np.nan if v is None else v for v in values], dtype=object)
    frame = pd.DataFrame(frame, columns=list(numeric) + list(categorical))
    expected = _array(_get(check, "predict_proba", "check"), 2, "check.predict_proba")
    labels = _get(check, "predict", "check")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = pipeline.predict_proba(frame)
        got_labels = np.asarray(pipeline.predict(frame)).tolist()
    if (
        got.shape != expected.shape
        or not np.allclose(got, expected, rtol=_CHECK_RTOL, atol=1e-12)
        or got_labels != labels
    ):
        _bad(
            "the rebuilt model does not reproduce the predictions recorded in the file: "
            "the file was changed, or written by a version of skce whose models differ"
        )


_STD_ERROR_KINDS = ("sandwich", "model")


def _check_std_errors(errors, classes, n_features, fit_intercept):
    """Validate ``model.std_errors``: finite standard errors >= 0 in the coefficients' layout.

    One row per output relative to the reference class ``classes[0]``: the
    positive class of a binary model, or each other class of a softmax model
    (``len(classes) - 1`` rows either way). When ``unavailable`` gives a
    reason, ``coef`` and ``intercept`` are null.
    """
    where = "model.std_errors"
    kind = _get(errors, "kind", where)
    if kind not in _STD_ERROR_KINDS:
        _bad(f"{where}.kind must be one of {', '.join(_STD_ERROR_KINDS)}, got {kind!r}")
    if _get(errors, "reference_class", where) != classes[0]:
        _bad(f"{where}.reference_class must be the first class, {classes[0]!r}")
    unavailable = _get(errors, "unavailable", where)
    coef = _get(errors, "coef", where)
    intercept = _get(errors, "intercept", where)
    if unavailable is not None:
        if not (isinstance(unavailable, str) and unavailable):
            _bad(f"{where}.unavailable must be null or a reason")
        if coef is not None or intercept is not None:
            _bad(f"{where}.coef and .intercept must be null when they are unavailable")
        return
    import numpy as np

    n_outputs = len(classes) - 1
    coef = _array(coef, 2, f"{where}.coef")
    if coef.shape != (n_outputs, n_features) or np.any(coef < 0):
        _bad(f"{where}.coef must hold {n_outputs} x {n_features} numbers >= 0")
    if not fit_intercept:
        if intercept is not None:
            _bad(f"{where}.intercept must be null for a model without intercept")
        return
    intercept = _array(intercept, 1, f"{where}.intercept")
    if intercept.shape != (n_outputs,) or np.any(intercept < 0):
        _bad(f"{where}.intercept must hold {n_outputs} numbers >= 0")


def _estimator(kind, params):
    """``kind(**params)``, its parameters judged by the estimator's own validation.

    ``set_params`` refuses an unknown name; ``_validate_params`` (what ``fit``
    runs first) checks every value against the estimator's
    ``_parameter_constraints``.
    """
    estimator = kind()
    try:
        estimator.set_params(**params)
        estimator._validate_params()
    except ValueError as exc:  # scikit-learn's InvalidParameterError is a ValueError
        _bad(f"model.params: {one_line(first_line(exc))}")
    return estimator
