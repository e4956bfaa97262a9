"""What a fit that is not an optimum tells the user, and where warnings point.

One :class:`~sklearn.exceptions.ConvergenceWarning` per fit, saying which limit
ended it (``max_iter``, the working precision) or that the data are separable
at ``alpha = 0``, and what to change.
"""

import sys
import warnings

from sklearn.exceptions import ConvergenceWarning

from ._loop import RESOLVABLE

__all__ = ["caller_stacklevel", "warn_if_not_converged"]


def caller_stacklevel():
    """The ``stacklevel`` that points a warning at the caller's code.

    Counted from the function that calls ``warnings.warn`` (level 1) back to
    the first frame outside skce and scikit-learn (``fit`` and its wrappers:
    the BLAS thread policy, scikit-learn's ``_fit_context``, a ``Pipeline`` or
    a search calling ``fit``), so refactoring the frames in between does not
    move it.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in (
        "skce",
        "sklearn",
    ):
        frame = frame.f_back
        level += 1
    return level


#: What helps a fit that reached ``max_iter``, by the coordinates it ran in (the
#: fit plan's): scaling the features changes only what ``gd`` sees; the other
#: solvers run on implicitly standardised columns, where correlated columns are
#: what slows them and the full metric what helps (raw breast cancer, softmax,
#: alpha 1e-6, lbfgs: max_iter at 1,000 iterations in the diagonal scaling, 18
#: iterations in the full metric).
_MAX_ITER_ADVICE = {
    "original": "Increase max_iter, increase alpha, or scale the features (solver='gd' "
    "steps in the features' own units).",
    "diagonal": "The solver already runs on implicitly standardised columns, so scaling "
    "the features would not speed it up; correlated columns slow it, and "
    "preconditioner='full' (a Newton-like metric) usually converges in tens of "
    "iterations. Or increase max_iter or alpha.",
    "full": "Increase max_iter or alpha.",
    # Truncated Newton: its conjugate gradients already follow the curvature.
    "newton": "Increase max_iter or alpha.",
}


def _progress(history):
    """How much the objective fell over the last (at most 100) iterations, relative."""
    span = min(100, len(history) - 1)
    fell = (history[-1 - span] - history[-1]) / max(abs(history[-1]), 1e-300)
    return f"over its last {span} iterations the objective fell by {fell:.3g} of its value"


def warn_if_not_converged(estimator, result, separable, plan):
    """Emit one ConvergenceWarning when ``estimator``'s fit (``result``) is not an optimum.

    ``plan`` is the fit's :class:`skce._plan.FitPlan`: the solver that ran
    and the coordinates it ran in, which decide the advice when ``max_iter``
    ended it.
    """
    ran = f", ran {plan.solver!r}" if estimator.solver != plan.solver else ""
    model = f"{type(estimator).__name__} (solver={estimator.solver!r}{ran})"
    coordinates = plan.coordinates
    grad = f"max|gradient| = {result.grad_norm:.3g}"
    tol = f"tol = {estimator.tol:.3g}"
    if result.status == "max_iter":
        message = (
            f"{model} did not converge in max_iter={estimator.max_iter} iterations: "
            f"{grad} > {tol}; {_progress(result.history)}. "
        )
        advice = (
            f"{_MAX_ITER_ADVICE['newton' if plan.solver == 'newton' else coordinates]} "
            "If alpha=0 and the classes are linearly "
            "separable, the weights grow without bound and no finite optimum exists."
        )
    elif result.status == "stalled":
        ratio = result.noise_ratio
        if ratio is not None and ratio > RESOLVABLE:
            why = (
                "the objective's rounding error hides any further decrease (the "
                f"largest gradient entry is {ratio:.3g} times its own rounding error)"
            )
        else:
            why = "the gradient is within rounding error of zero"
        message = (
            f"{model} stopped after {result.n_iter} iterations at the limit of the "
            f"working precision: {why}, with {grad} > {tol}. "
        )
        advice = (
            "The result is as accurate as the data's precision allows; raise "
            "tol to silence this warning."
        )
    elif separable:
        message = (
            f"{model} stopped after {result.n_iter} iterations with {grad} <= {tol}, "
            "but this is not an optimum. "
        )
    else:
        return
    if not separable:
        message += advice
    else:
        message += (
            "The classes are linearly separable in the training data (the fitted "
            "logits classify every training sample of positive weight strictly "
            "correctly) and alpha=0, so the "
            "cross-entropy has no minimiser: it decreases towards 0 as the weights "
            "grow without bound, and its gradient fades with it. These "
            "coefficients are one point on that path; their size depends on tol "
            "and max_iter. Set alpha > 0 (or label_smoothing > 0) for a finite "
            "fit."
        )
    warnings.warn(message, ConvergenceWarning, stacklevel=caller_stacklevel())
