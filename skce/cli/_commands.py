"""The three commands: ``skce demo``, ``skce fit`` and ``skce predict``.

Each takes the parsed arguments and an :class:`~skce.cli._output.Output` and
returns the exit status. numpy, pandas, scikit-learn and the estimators are
imported inside them, so that parsing the command line stays light.
"""

import shlex
import time
import warnings
from pathlib import Path

from ._coefficients import print_coef_table, report_fit_status
from ._crossval import cross_validate, fit_scorers, refit, search_beta_alpha
from ._data import check_input_file, counts_text, read_csv
from ._files import FilesOnCluster
from ._modelfile import load_model, model_document, write_model
from ._output import (
    EXIT_OK,
    CLIError,
    UsageError,
    atomic_writer,
    check_output_path,
    first_line,
    import_pandas,
    one_line,
    warnings_as_lines,
    wrap,
)
from ._parts import is_several_files
from ._reports import BETA_GRID, format_beta, print_beta_report, print_metrics_table
from ._sources import InMemoryTable
from ._subsample import check_options, final_fit, subsampled

#: The positive class of ``skce demo``: this digit against the nine others.
DEMO_DIGIT = 8

#: ``--alpha`` when it is not given (and β is not tuned on one file).
DEFAULT_ALPHA = 1e-4


# -- skce demo ------------------------------------------------------------------------
def cmd_demo(args, out):
    """``skce demo``: the β report on the digits, "is it an 8?"."""
    import_pandas("'skce demo'")
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    start = time.perf_counter()
    X, digit = load_digits(return_X_y=True)
    y = (digit == DEMO_DIGIT).astype(np.int64)
    n_pos = int(y.sum())
    n = y.shape[0]
    if args.cv > n_pos:
        raise UsageError(f"--cv {args.cv} is more than the {n_pos} positives; use --cv <= {n_pos}")
    balanced_value = (n - n_pos) / n_pos

    out.result("skce demo: β-weighted logistic regression on an imbalanced problem")
    out.info(
        f"data:   scikit-learn's handwritten digits (load_digits): {n} images of 8x8 "
        f"pixels, {X.shape[1]} features"
    )
    out.result(
        f"target: positive class = digit {DEMO_DIGIT} ({n_pos} images, {n_pos / n:.1%}); "
        "negative = the nine other digits"
    )
    search = _beta_alpha_search(args, _demo_scoring())
    betas = ", ".join(format_beta(b) for b in BETA_GRID)
    alphas = ", ".join(f"{a:g}" for a in search.alphas)
    out.info(
        wrap(
            f"model:  Pipeline(StandardScaler, WeightedLogisticCECV), β in {{{betas}}} × "
            f"alpha in {{{alphas}}}"
        )
    )
    out.info(
        wrap(
            f"search: stratified {args.cv}-fold CV (shuffled, seed {args.seed}), refit by "
            "balanced accuracy; per (β, fold) one path over the alphas, warm-started"
        )
    )
    out.info()

    pipeline = Pipeline([("scale", StandardScaler()), ("model", search)])
    with warnings_as_lines(out):
        results, final = search_beta_alpha(pipeline, X, y, out=out)
        best = results.best("balanced_accuracy")
        final = final[-1]
        report_fit_status(final, out)

    print_beta_report(out, results, balanced_value=balanced_value, final=final, n_rows=n)
    out.result(_wrap_interpretation(results, best, final))
    out.info(f"finished in {time.perf_counter() - start:.1f} s")
    return EXIT_OK


def _demo_scoring():
    """The demo's metrics: name -> scorer (the search refits by balanced accuracy)."""
    from sklearn.metrics import make_scorer, precision_score

    from ..metrics import cross_entropy_score

    return {
        "cross_entropy": cross_entropy_score,
        "recall": "recall",
        "precision": make_scorer(precision_score, zero_division=0),
        "balanced_accuracy": "balanced_accuracy",
    }


def _beta_alpha_search(args, scoring):
    """The ``WeightedLogisticCECV`` of ``skce demo`` and ``skce fit --tune-beta``.

    β in ``BETA_GRID``; alpha over the estimator's default grid, or only
    ``--alpha`` when it is given; stratified, shuffled ``--cv`` folds
    (``--seed``) on ``--jobs`` processes; refit by balanced accuracy.
    """
    from sklearn.model_selection import StratifiedKFold

    from ..linear_model import WeightedLogisticCECV

    search = WeightedLogisticCECV(
        betas=BETA_GRID,
        cv=StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=args.seed),
        scoring=scoring,
        refit="balanced_accuracy",
        n_jobs=args.jobs,
    )
    if getattr(args, "alpha", None) is not None:
        search.set_params(alphas=(args.alpha,))
    return search


def _wrap_interpretation(results, best, final):
    """What the chosen β buys against the β that cross-entropy prefers."""
    by_ce = results.best("cross_entropy")
    chosen_text = format_beta(final.beta)
    if final.beta == "balanced":
        chosen_text = f"balanced (= {final.beta_:.3g})"

    def metric(name, k):
        return results.mean(name)[k]

    if by_ce != best:
        ce = results.candidates[by_ce]
        ce_beta = format_beta(ce["model__beta"])
        if "model__alpha" in ce:
            ce_beta += f" (alpha = {ce['model__alpha']:g})"
        text = (
            f"interpretation: β = {chosen_text} finds {metric('recall', best):.0%} of the "
            f"{DEMO_DIGIT}s, against {metric('recall', by_ce):.0%} at β = {ce_beta}, the β that "
            f"unweighted cross-entropy prefers ({-metric('cross_entropy', by_ce):.3f} vs "
            f"{-metric('cross_entropy', best):.3f} nats); it pays with precision "
            f"{metric('precision', best):.2f} instead of {metric('precision', by_ce):.2f}, i.e. "
            "more false alarms: a positive error costs β times a negative one."
        )
    else:
        text = (
            f"interpretation: β = {chosen_text} is best by both balanced accuracy and "
            f"cross-entropy here (recall {metric('recall', best):.2f}, precision "
            f"{metric('precision', best):.2f})."
        )
    return wrap(text)


# -- skce fit ---------------------------------------------------------------------------
def report_metrics(args, out, results, metrics, best, which, rows):
    """Print the cross-validated metrics of candidate ``best``; return their means.

    The means are in the model file's ``training.cv_mean``: losses as losses
    (positive), scores as scores. ``which`` names the chosen candidate (e.g.
    ``" at β = 4"``), ``rows`` what was cross-validated.
    """
    out.result(
        f"{args.cv}-fold stratified cross-validation{which} (shuffled, seed {args.seed}), {rows}:"
    )
    print_metrics_table(out, results, metrics, best)
    return {
        name: float(results.mean(name)[best]) * (-1 if lower else 1)
        for name, (_, _, lower) in metrics.items()
    }


def _check_fit_request(args, classes, counts):
    """Usage errors that the target's classes reveal."""
    if len(classes) < 2:
        raise UsageError(
            f"target column {args.target!r} has only one class ({classes[0]!r}); a "
            "classifier needs at least two"
        )
    if len(classes) > 2 and not args.softmax:
        raise UsageError(
            f"target column {args.target!r} has {len(classes)} classes; WeightedLogisticCE "
            "is binary: pass --softmax to fit the multinomial SoftmaxCE"
        )
    if args.softmax and (args.beta is not None or args.tune_beta or args.positive is not None):
        option = (
            "--tune-beta" if args.tune_beta else "--beta" if args.beta is not None else "--positive"
        )
        raise UsageError(f"{option} applies to the binary WeightedLogisticCE, not to --softmax")
    smallest = min(counts)
    if smallest < args.cv:
        rare = classes[counts.index(smallest)]
        raise UsageError(
            f"--cv {args.cv} needs at least {args.cv} rows of every class, but class {rare!r} "
            f"has {smallest}; use a smaller --cv"
        )


def positive_class(classes, text, target_name):
    """The label of ``classes`` written as ``text`` (``--positive``), or the larger label.

    Labels are compared as the text in the file: ``"1"`` names the integer
    label 1 (also written ``"01"`` or ``"1.0"``).
    """
    if text is None:
        return classes[1]
    for label in classes:
        if str(label) == text:
            return label
    if all(isinstance(c, int) for c in classes):
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None and number in classes:
            return classes[classes.index(number)]
    raise UsageError(
        f"--positive {text!r} is not a class of the target column {target_name!r}; its "
        f"classes are {', '.join(repr(c) for c in classes)}"
    )


def name_classes(estimator, classes):
    """Set a binary model fitted by :func:`encode_positive` to predict ``classes``
    (``[negative, positive]``): its ``classes_`` become the labels, in that order."""
    import numpy as np

    dtype = object if isinstance(classes[0], str) else np.int64
    estimator.classes_ = np.array(classes, dtype=dtype)


def model_line(described, numeric, categorical):
    """``model:  WeightedLogisticCE(...); numeric columns standardised, ...``, wrapped."""
    steps = [
        f"{name} columns {how}"
        for name, how, cols in (
            ("numeric", "standardised", numeric),
            ("other", "one-hot encoded", categorical),
        )
        if cols
    ]
    return wrap(f"model:  {described}; {', '.join(steps)}")


def report_target(args, out, classes, counts, positive):
    """The lines on the dropped columns and the target; the majority warning if binary.

    ``positive`` is the positive class of a binary fit, None otherwise.
    """
    if args.drop:
        out.info(
            f"        dropped {len(args.drop)} column{'s' if len(args.drop) > 1 else ''}: "
            + ", ".join(repr(c) for c in args.drop)
        )
    shown = f"; positive class {positive!r}" if positive is not None else ""
    out.info(
        f"target: {args.target!r}, {len(classes)} classes: {counts_text(classes, counts)}{shown}"
    )
    if positive is not None:
        warn_majority_positive(positive, classes, counts, out)


def warn_majority_positive(positive, classes, counts, out):
    """A warning when the positive class (the one β weights) has more rows than the other."""
    k = classes.index(positive)
    share = counts[k] / sum(counts)
    if counts[k] > counts[1 - k]:
        negative = classes[1 - k]
        out.warning(
            f"the positive class {positive!r} is the majority ({share:.1%} of the rows): β "
            "weights the positive class, so β > 1 (and --tune-beta) would weight the common "
            f"class up; if the rarer class {negative!r} is the one to find, pass --positive "
            f"{shlex.quote(str(negative))}"
        )


def _estimator(args):
    """(estimator, grid, description) for the options.

    ``--alpha`` not given is 1e-4 here; a one-file ``--tune-beta`` searches
    alpha too (:func:`_beta_alpha_search`), the several-files fit tunes β at
    this alpha.
    """
    from ..linear_model import SoftmaxCE, WeightedLogisticCE

    alpha = DEFAULT_ALPHA if args.alpha is None else args.alpha
    if args.softmax:
        return SoftmaxCE(alpha=alpha), [{}], f"SoftmaxCE(alpha={alpha:g})"
    beta = 1.0 if args.beta is None else args.beta
    estimator = WeightedLogisticCE(beta=beta, alpha=alpha)
    if args.tune_beta:
        grid = {"model__beta": list(BETA_GRID)}
        return estimator, grid, f"WeightedLogisticCE(alpha={alpha:g}), β tuned"
    return estimator, [{}], f"WeightedLogisticCE(beta={format_beta(beta)}, alpha={alpha:g})"


def _data_line(args, source):
    """``data:   train.csv: 120 rows, 3 feature columns (2 numeric, 1 categorical)``."""
    n = len(source.columns)
    return (
        f"data:   {source.described()}, {n} feature column{'s' if n > 1 else ''} "
        f"({len(source.numeric)} numeric, {len(source.categorical)} categorical)"
        + (", missing values imputed" if args.impute else "")
    )


def cmd_fit(args, out):
    """``skce fit``: cross-validate, fit on all rows, save the model file.

    One flow for both data sources (:mod:`skce.cli._sources`): a CSV file read
    into memory, or files (a directory, a glob, or ``--scheduler``) fitted on a
    dask cluster.
    """
    import_pandas("'skce fit'")
    if args.target in args.drop:
        raise UsageError(f"--drop {args.target!r} names the target column; it cannot be dropped")
    several = args.scheduler or is_several_files(args.data)
    check_options(args, several)
    source = FilesOnCluster(args) if several else InMemoryTable(args)
    model_path = check_output_path(
        args.model or source.default_model_path(),
        option="--model",
        inputs=source.inputs(),
        force=args.force,
    )
    start = time.perf_counter()
    with source.session(out), warnings_as_lines(out):
        source.read(out)
        classes, counts = source.classes, source.counts
        _check_fit_request(args, classes, counts)
        positive = None
        if len(classes) == 2 and not args.softmax:
            # Fitted on 1 for the positive label, 0 for the other (name_classes).
            positive = positive_class(classes, args.positive, args.target)
            k = classes.index(positive)
            classes, counts = [classes[1 - k], positive], [counts[1 - k], counts[k]]
        metrics = fit_scorers(classes, pos_label=None if positive is None else 1)
        estimator, grid, described = subsampled(args, classes, counts, *_estimator(args))
        search = args.tune_beta and source.searches_alpha
        if search:
            estimator = _beta_alpha_search(args, {n: m[0] for n, m in metrics.items()})
            described = "WeightedLogisticCECV, β tuned" + (
                f" at alpha={args.alpha:g}" if args.alpha is not None else " with alpha"
            )
        out.info(_data_line(args, source))
        report_target(args, out, classes, counts, positive)
        out.info(model_line(described, source.numeric, source.categorical))
        out.info()
        pipeline = source.prepare(estimator, positive)
        if search:
            # One search of β and alpha (preprocessing fitted once, on all rows).
            results, final = source.search(pipeline, out)
            best = results.best("balanced_accuracy")
        else:
            results = cross_validate(source, pipeline, grid, metrics, folds=args.cv, out=out)
            best = results.best("balanced_accuracy") if args.tune_beta else 0
            final = refit(source, pipeline, results.candidates[best])
        final, errors, fitted_on = final_fit(final, source, classes, out, args)  # before names
    if positive is not None:
        name_classes(final[-1], classes)

    which = ""
    if args.tune_beta:
        # β = "balanced" on all rows: negatives over positives.
        print_beta_report(
            out,
            results,
            balanced_value=counts[0] / counts[1],
            final=final[-1],
            n_rows=source.n_rows,
        )
        out.result()
        which = f" at β = {format_beta(final[-1].beta)}, alpha = {final[-1].alpha:g}"
    summary = report_metrics(args, out, results, metrics, best, which, source.rows())
    fitted_on.print(out)
    if errors.unavailable is None and not args.no_coef_table:
        out.result()
        print_coef_table(
            out,
            errors,
            classes=classes,
            binary=positive is not None,
            alpha=final[-1].alpha,
            beta=getattr(final[-1], "beta_", None),
        )
    document = model_document(
        final,
        target=args.target,
        classes=classes,
        numeric=source.numeric,
        categorical=source.categorical,
        order=source.columns,
        impute=args.impute,
        dropped=args.drop,
        positive=positive,
        std_errors=errors.document(),
        training={
            **source.training(),
            "cv_folds": args.cv,
            "cv_seed": args.seed,
            "cv_mean": summary,
            **fitted_on.training(),
        },
    )
    write_model(document, model_path)
    out.result()
    out.result(f"model fitted on {fitted_on.described()}, saved to {model_path}")
    # On stderr: the output of a run is the same every time.
    out.progress(f"finished in {time.perf_counter() - start:.1f} s")
    return EXIT_OK


# -- skce predict -----------------------------------------------------------------------
def _warn_unseen_categories(saved, X, out):
    categories = saved.document["preprocess"].get("categorical", {}).get("categories", [])
    for column, known in zip(saved.categorical, categories, strict=True):
        known = set(known)
        unseen = sorted({v for v in X[column] if isinstance(v, str) and v not in known})
        if unseen:
            shown = ", ".join(repr(v) for v in unseen[:3]) + (", ..." if len(unseen) > 3 else "")
            out.warning(
                f"column {column!r} has {len(unseen)} value{'s' if len(unseen) > 1 else ''} "
                f"not seen in training ({shown}), encoded as all zeros"
            )


def cmd_predict(args, out):
    """``skce predict``: a CSV of predicted classes (and probabilities)."""
    import sys

    pd = import_pandas("'skce predict'")
    model_path = check_input_file(args.model, "model file")
    path = check_input_file(args.data, "data file")
    if args.out:
        check_output_path(
            args.out,
            option="--out",
            inputs={"the input data": path, "the model": model_path},
            force=args.force,
        )
    saved = load_model(model_path)
    frame = read_csv(path, sep=args.sep, encoding=args.encoding, decimal=args.decimal)
    X = saved.features(frame, path)
    _warn_unseen_categories(saved, X, out)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found unknown categories")
        try:
            proba = saved.pipeline.predict_proba(X)
            labels = saved.pipeline.predict(X)
        except (CLIError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise CLIError(f"prediction failed: {one_line(first_line(exc))}") from None
    result = pd.DataFrame({saved.target: labels})
    if args.proba:
        for k, label in enumerate(saved.pipeline.classes_.tolist()):
            result[f"proba_{label}"] = proba[:, k]
    if args.out:
        destination = Path(args.out)
        with atomic_writer(destination, "the predictions") as handle:
            result.to_csv(handle, index=False)
        out.progress(f"wrote {len(result)} predictions to {destination}")
    else:
        result.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
    return EXIT_OK
