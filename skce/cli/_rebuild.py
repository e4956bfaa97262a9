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
from ._data import make_pipeline
from ._output import ModelFileError, import_pandas

MODEL_FORMAT = "skce-model"
MODEL_FORMAT_VERSION = 1
_N_PROBE_ROWS = 12
_PROBE_RTOL = 1e-6


def layout_frame(numeric, categorical, categories):
    """A small frame with every category: fitting the preprocessing on it fixes its layout."""
    import numpy as np

    pd = import_pandas()
    n_rows = max([2] + [len(c) for c in categories])
    data = {c: np.arange(n_rows, dtype=np.float64) for c in numeric}
    for column, values in zip(categorical, categories, strict=True):
        data[column] = np.array([values[i % len(values)] for i in range(n_rows)], dtype=object)
    return pd.DataFrame(data, columns=list(numeric) + list(categorical))


def probe_frame(numeric, categorical, categories, impute):
    """Rows whose probabilities the model file records, to check the rebuilt model."""
    import numpy as np

    frame = layout_frame(numeric, categorical, categories).head(_N_PROBE_ROWS).copy()
    if impute:  # one row of missing values checks the imputation too
        frame.loc[len(frame)] = [np.nan] * (len(numeric) + len(categorical))
        if numeric:
            frame[list(numeric)] = frame[list(numeric)].astype(np.float64)
    return frame


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
    if version != MODEL_FORMAT_VERSION:
        _bad(
            f"format_version {version!r} is not supported (this skce {__version__} reads "
            f"version {MODEL_FORMAT_VERSION})"
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
    # Files written before --positive have sorted classes and no target.positive.
    positive = target.get("positive", classes[1] if classes == sorted(classes) else None)

    columns = _get(document, "columns", "model")
    order = _strings(_get(columns, "order", "columns"), "columns.order", allow_empty=False)
    numeric = _strings(_get(columns, "numeric", "columns"), "columns.numeric")
    categorical = _strings(_get(columns, "categorical", "columns"), "columns.categorical")
    if sorted(numeric + categorical) != sorted(order):
        _bad("columns.numeric and columns.categorical must split columns.order")
    dropped = _strings(columns.get("dropped", []), "columns.dropped")  # since --drop
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
    known = set(kinds[kind]().get_params())
    unknown = sorted(set(params) - known)
    if unknown:
        _bad(f"model.params has unknown parameters {unknown}")
    _check_params(params)
    estimator = kinds[kind](**params)
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

    # The file records the probabilities of a few synthetic rows: the rebuilt
    # pipeline must reproduce them, or it is not the model that was saved (say,
    # written by a version of skce whose estimators keep more fitted state).
    expected = _array(_get(_get(document, "check", "model"), "predict_proba", "check"), 2, "check")
    probe = probe_frame(numeric, categorical, categories, impute)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = pipeline.predict_proba(probe)
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=_PROBE_RTOL, atol=1e-12):
        _bad(
            "the rebuilt model does not reproduce the probabilities recorded in the file "
            "(was it written by a different version of skce, or edited?)"
        )
    return pipeline


def _check_params(params):
    """Check the estimator's hyper-parameters.

    ``prior_correction`` changes the predictions of the fitted coefficients (it
    subtracts ``ln beta_`` or ``ln class_weight_`` from the logits), so the
    file must state it; the others matter only if the model is refitted.
    """
    from .._base import PRECONDITIONERS
    from .._solvers import SOLVERS

    def number(name, low, closed):
        if name not in params:
            return
        value = params[name]
        ok = _is_number(value) and math.isfinite(value)
        ok = ok and (value >= low if closed else value > low)
        if not ok:
            _bad(f"model.params.{name} must be a finite number {'>=' if closed else '>'} {low}")

    if "beta" in params and params["beta"] != "balanced":
        number("beta", 0, False)
    number("alpha", 0, True)
    number("tol", 0, True)
    if "learning_rate" in params and params["learning_rate"] != "auto":
        number("learning_rate", 0, False)
    if "max_iter" in params:
        value = params["max_iter"]
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            _bad("model.params.max_iter must be an integer >= 1")
    if "solver" in params and params["solver"] not in SOLVERS:
        _bad(f"model.params.solver must be one of {', '.join(SOLVERS)}")
    if "preconditioner" in params and params["preconditioner"] not in PRECONDITIONERS:
        _bad(f"model.params.preconditioner must be one of {', '.join(PRECONDITIONERS)}")
    if "label_smoothing" in params:
        value = params["label_smoothing"]
        if not (_is_number(value) and 0 <= value < 1):
            _bad("model.params.label_smoothing must be a number in [0, 1)")
    if "verbose" in params:
        value = params["verbose"]
        if not (isinstance(value, int) and value >= 0):
            _bad("model.params.verbose must be an integer >= 0")
    _get(params, "prior_correction", "model.params")
    for name in ("fit_intercept", "warm_start", "prior_correction"):
        if name in params and not isinstance(params[name], bool):
            _bad(f"model.params.{name} must be true or false")
    if "class_weight" in params and params["class_weight"] not in (None, "balanced"):
        _bad("model.params.class_weight must be null or 'balanced'")
