"""The solvers alone, on functions whose minimisers are known without them.

References: quadratics ``0.5 (x - x*)^T A (x - x*)`` with a chosen spectrum
(the minimiser is ``x*``, and ``||x - x*|| <= ||grad|| / lambda_min``), an
L2-penalised logistic regression solved by Newton's method written here, and
the closed form of gradient descent's iterates on a diagonal quadratic. No
estimator is involved.
"""

import inspect

import numpy as np
import pytest

from skce._base import BaseCrossEntropyClassifier
from skce._loop import PATIENCE
from skce._solvers import (
    SOLVER_NAMES,
    SOLVERS,
    LearningRateError,
    SolverResult,
    gd,
)
from skce._steps import conjugate_gradient

GUARDED = ["bb", "agd", "lbfgs", "newton"]
# The guarded first-order solvers: the tests of statuses that take many iterations
# to provoke (max_iter, stalls, noise, refreshes). ``newton`` solves these small
# quadratics in one or two iterations.
FIRST_ORDER = ["bb", "agd", "lbfgs"]
N = 6


class Quadratic:
    """``0.5 (x - x*)^T A (x - x*)`` with eigenvalues from 1 to ``cond``."""

    def __init__(self, cond, rotated, n=N, seed=0):
        eigenvalues = np.logspace(0, np.log10(cond), n)
        if rotated:
            Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
            self.A = (Q * eigenvalues) @ Q.T
        else:
            self.A = np.diag(eigenvalues)
        self.L = eigenvalues.max()
        self.x_star = np.linspace(-1.0, 2.0, n) / 3.0

    def __call__(self, x):
        d = x - self.x_star
        Ad = self.A @ d
        return 0.5 * float(d @ Ad), Ad

    def hessian(self, x):
        return self.A


class Logistic:
    """Mean logistic loss plus ``alpha/2 ||w||^2`` on a fixed small data set."""

    def __init__(self, alpha=1e-2, n=60, seed=1):
        rng = np.random.default_rng(seed)
        Z = rng.standard_normal((n, 3)) * [1.0, 3.0, 0.3]
        self.X = np.column_stack([Z, np.ones(n)])
        noise = rng.standard_normal(n)
        self.y = np.where(Z @ [1.0, -0.5, 2.0] + 0.5 + noise > 0, 1.0, -1.0)
        self.alpha = alpha
        # The logistic curvature is at most 1/4.
        self.L = np.linalg.eigvalsh(self.X.T @ self.X / n).max() / 4 + alpha

    def __call__(self, w):
        margin = self.y * (self.X @ w)
        f = np.mean(np.logaddexp(0.0, -margin)) + 0.5 * self.alpha * w @ w
        r = -self.y / (1.0 + np.exp(margin))
        return float(f), self.X.T @ r / self.y.size + self.alpha * w

    def hessian(self, w):
        p = 1.0 / (1.0 + np.exp(-self.X @ w))
        n = self.y.size
        return (self.X.T * (p * (1 - p))) @ self.X / n + self.alpha * np.eye(w.size)

    def newton_minimiser(self):
        """Newton's method to machine precision: the independent reference."""
        w = np.zeros(self.X.shape[1])
        for _ in range(50):
            _, g = self(w)
            step = np.linalg.solve(self.hessian(w), g)
            w = w - step
            if np.max(np.abs(step)) < 1e-15:
                break
        return w


class Counted:
    """A function that counts its calls and remembers the points it saw."""

    def __init__(self, fun):
        self.fun = fun
        self.points = []
        self.products = 0

    def __call__(self, x):
        self.points.append(np.array(x))
        return self.fun(x)

    def hessian(self, x):
        H = self.fun.hessian(x)

        class Counting:
            def __matmul__(_, v):
                self.products += 1
                return H @ v

        return Counting()


def biased(problem, bias=1e-3):
    """``problem`` with a constant error in its gradient.

    Near ``x*`` the reported direction ``-g`` points uphill, so the line search
    shrinks its step until it no longer moves ``x`` at float precision.
    """

    def fun(x):
        f, g = problem(x)
        return f, g + bias

    fun.hessian = problem.hessian
    return fun


def curvature_of(fun, diagonal=False):
    """``curvature(x) -> (v -> H v, diagonal)`` from ``fun.hessian``, for ``newton``."""

    def curvature(x):
        H = fun.hessian(x)
        return (lambda v: H @ v), (np.diag(np.asarray(H)).copy() if diagonal else None)

    return curvature


def run(name, fun, x0, **kwargs):
    """Run solver ``name``; gd gets ``learning_rate = 1/L`` unless given one."""
    if name == "gd":
        kwargs.setdefault("learning_rate", 1.0 / fun.L)
    if name == "newton":
        kwargs.setdefault("curvature", curvature_of(fun))
    return SOLVERS[name](fun, np.asarray(x0, dtype=float), **kwargs)


def max_abs(v):
    return float(np.max(np.abs(v)))


# ------------------------------------------------------------------ known minimisers

QUADRATIC_CASES = [
    (name, cond, rotated)
    for name in SOLVER_NAMES
    for cond in [1.0, 1e2, 1e4]
    for rotated in [False, True]
    # Constant-step gd needs about cond * log(1/tol) iterations: 1e4 is too slow here.
    if not (name == "gd" and cond == 1e4)
]


@pytest.mark.parametrize(("name", "cond", "rotated"), QUADRATIC_CASES)
def test_quadratic_minimiser_is_found(name, cond, rotated):
    problem = Quadratic(cond, rotated)
    tol = 1e-8
    result = run(name, problem, np.zeros(N), tol=tol, max_iter=20_000)
    assert result.status == "converged"
    gradient = problem.A @ (result.x - problem.x_star)
    assert max_abs(gradient) <= tol
    # The smallest eigenvalue is 1: ||x - x*||_2 <= ||g||_2 <= sqrt(n) max|g|.
    assert np.linalg.norm(result.x - problem.x_star) <= np.sqrt(N) * tol


@pytest.mark.parametrize("name", SOLVER_NAMES)
def test_logistic_regression_matches_newton(name):
    problem = Logistic()
    w_star = problem.newton_minimiser()
    tol = 1e-10
    result = run(name, problem, np.zeros(4), tol=tol, max_iter=10_000)
    assert result.status == "converged"
    # alpha-strong convexity: ||w - w*||_2 <= ||g||_2 / alpha <= sqrt(d) tol / alpha.
    bound = np.sqrt(4) * tol / problem.alpha
    assert np.linalg.norm(result.x - w_star) <= bound
    assert result.fun == pytest.approx(problem(w_star)[0], rel=1e-14)


# ------------------------------------------------------------------ statuses and returned point


@pytest.mark.parametrize("name", SOLVER_NAMES)
def test_max_iter_status_and_count(name):
    problem = Quadratic(1e4, rotated=True)
    result = run(name, problem, np.zeros(N), tol=1e-12, max_iter=7)
    assert result.status == "max_iter"
    assert not result.converged
    assert result.n_iter == 7
    assert len(result.history) == 8


BEST_POINT_CASES = {
    "max_iter": (Quadratic(1e3, rotated=True), 20),
    "stalled": (biased(Quadratic(1e3, rotated=True)), 5000),
}


@pytest.mark.parametrize("name", FIRST_ORDER)
@pytest.mark.parametrize("kind", list(BEST_POINT_CASES))
def test_guarded_solvers_return_the_best_point_seen(name, kind):
    """Not converged: the point of smallest stopping measure (to its 0.1% record margin)."""
    problem, max_iter = BEST_POINT_CASES[kind]
    reports = []
    fun = Counted(problem)
    result = run(
        name, fun, np.zeros(N), tol=1e-14, max_iter=max_iter, callback=lambda *a: reports.append(a)
    )
    assert result.status == kind
    measures = [gn for _, _, gn, _ in reports]
    assert min(measures) <= result.grad_norm <= min(measures) / 0.999
    assert result.grad_norm in measures
    # The returned x, fun and grad_norm belong together and to a point evaluated.
    f, g = problem(result.x)
    assert result.fun == f and result.grad_norm == max_abs(g)
    assert any(np.array_equal(result.x, p) for p in fun.points)


def test_best_point_is_not_the_last_iterate():
    """BB is not monotone in the gradient: after 20 steps the last point is not the best."""
    problem = Quadratic(1e3, rotated=True)
    reports = []
    result = SOLVERS["bb"](
        problem, np.zeros(N), tol=1e-14, max_iter=20, callback=lambda *a: reports.append(a)
    )
    last_measure = reports[-1][2]
    assert result.grad_norm < 0.5 * last_measure
    assert result.grad_norm == min(gn for _, _, gn, _ in reports)


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_stall_where_the_line_search_cannot_move(name):
    problem = Quadratic(1e3, rotated=True)
    result = run(name, biased(problem), np.zeros(N), tol=1e-8, max_iter=5000)
    assert result.status == "stalled"
    # Within the stall tracker's patience: the line search itself gave up.
    assert result.n_iter < PATIENCE
    # It stopped far from meeting tol: the biased gradient cannot vanish near x*.
    assert result.grad_norm > 1e-5


@pytest.mark.parametrize("name", GUARDED)
def test_stall_when_tol_is_below_float_precision(name):
    """tol=0 on a logistic regression: float64 cannot make its gradient exactly 0."""
    problem = Logistic()
    w_star = problem.newton_minimiser()
    result = run(name, problem, np.zeros(4), tol=0.0, max_iter=5000)
    assert result.status == "stalled"
    assert result.n_iter < 5000
    # The best point is as accurate as float64 allows.
    assert np.linalg.norm(result.x - w_star) <= 1e-12
    assert result.grad_norm <= 1e-14


def test_gd_never_stalls_and_returns_its_last_iterate():
    """gd has no stall detection: it runs to max_iter, ending at the x_k of the closed form."""
    problem = Quadratic(1e2, rotated=False)
    lr = 1.0 / problem.L
    k = 300
    result = gd(problem, np.zeros(N), learning_rate=lr, tol=0.0, max_iter=k)
    assert result.status == "max_iter"
    # x_k = x* + (I - lr A)^k (x0 - x*) for a diagonal A.
    contraction = (1.0 - lr * np.diag(problem.A)) ** k
    expected = problem.x_star + contraction * (0.0 - problem.x_star)
    np.testing.assert_allclose(result.x, expected, rtol=1e-12, atol=1e-15)
    f, g = problem(result.x)
    assert result.fun == f and result.grad_norm == max_abs(g)

    stuck = gd(biased(problem), np.zeros(N), learning_rate=lr, tol=1e-8, max_iter=k)
    assert stuck.status == "max_iter" and stuck.n_iter == k


# ------------------------------------------------------------------ callback, history, n_evals


@pytest.mark.parametrize("name", SOLVER_NAMES)
def test_callback_once_per_iteration_matching_history(name):
    problem = Quadratic(1e2, rotated=True)
    x0 = np.zeros(N)
    reports = []
    result = run(name, problem, x0, tol=1e-8, max_iter=5000, callback=lambda *a: reports.append(a))
    assert [k for k, *_ in reports] == list(range(result.n_iter + 1))
    assert result.history[0] == problem(x0)[0]
    assert len(result.history) == result.n_iter + 1
    values = [f for _, f, _, _ in reports]
    if name == "agd":
        # The callback sees f(y_k); the history keeps min(f(x_k), f(y_k)).
        assert all(h <= f for h, f in zip(result.history, values, strict=True))
        assert result.history[0] == values[0]
    else:
        assert result.history == values
    *_, (_, f_last, gn_last, _) = reports
    assert gn_last == result.grad_norm <= 1e-8
    assert f_last == result.fun
    assert all(step > 0 for *_, step in reports)


def test_gd_callback_reports_its_learning_rate():
    problem = Quadratic(10.0, rotated=False)
    steps = []
    gd(
        problem,
        np.zeros(N),
        learning_rate=0.05,
        tol=1e-6,
        max_iter=50,
        callback=lambda *a: steps.append(a[3]),
    )
    assert steps == [0.05] * len(steps) and len(steps) > 1


@pytest.mark.parametrize("name", SOLVER_NAMES)
@pytest.mark.parametrize("max_iter", [5, 5000])
def test_n_evals_counts_every_call(name, max_iter):
    fun = Counted(Quadratic(1e2, rotated=True))
    fun.L = fun.fun.L
    result = run(name, fun, np.zeros(N), tol=1e-8, max_iter=max_iter)
    # Each curvature product (newton) counts as an evaluation: it costs one.
    assert result.n_evals == len(fun.points) + fun.products
    assert result.n_evals >= result.n_iter + 1


def test_agd_counts_value_only_calls():
    problem = Quadratic(1e2, rotated=True)
    fun = Counted(problem)
    value = Counted(lambda x: problem(x)[0])
    result = SOLVERS["agd"](fun, np.zeros(N), value=value, tol=1e-8, max_iter=5000)
    assert result.status == "converged"
    # Its line search evaluates the value only; each iteration one gradient at y.
    assert len(fun.points) == result.n_iter + 1
    assert result.n_evals == len(fun.points) + len(value.points)
    assert len(value.points) >= result.n_iter


def _interleaved_log(problem):
    """A function and a callback that log, in call order, points evaluated and iterations."""
    log = []

    def fun(x):
        log.append(("eval", np.array(x)))
        return problem(x)

    def callback(k, f, grad_norm, step):
        log.append(("iteration", k, f, step))

    return fun, callback, log


def test_bb_alternates_the_two_barzilai_borwein_steps():
    """The step after iteration k is s.s/s.y (k even) or s.y/y.y (k odd), y = A s."""
    problem = Quadratic(1e2, rotated=True)
    fun, callback, log = _interleaved_log(problem)
    SOLVERS["bb"](fun, np.zeros(N), tol=1e-8, max_iter=30, callback=callback)
    iterates, steps, last_point = [], [], None
    for entry in log:
        if entry[0] == "eval":
            last_point = entry[1]
        else:
            # The current point at iteration k is the last one evaluated before it.
            iterates.append(last_point)
            steps.append(entry[3])
    assert len(iterates) > 10
    for k in range(len(iterates) - 1):
        s = iterates[k + 1] - iterates[k]
        y = problem.A @ s
        expected = (s @ s) / (s @ y) if k % 2 == 0 else (s @ y) / (y @ y)
        assert steps[k + 1] == pytest.approx(expected, rel=1e-10)


def test_agd_history_keeps_the_better_of_x_and_y():
    """Per iteration agd records min(f(x_{k+1}), f(y_{k+1})); the callback sees f(y_k)."""
    problem = Logistic()
    log = []

    def value(x):
        log.append(("x", problem(x)[0]))
        return log[-1][1]

    def fun(x):
        log.append(("y", problem(x)[0]))
        return problem(x)

    result = SOLVERS["agd"](fun, np.zeros(4), value=value, tol=1e-8, max_iter=5000)
    expected, accepted = [], None
    for kind, f in log:
        if kind == "x":
            # The line search's last trial is the accepted x_{k+1}.
            accepted = f
        else:
            expected.append(f if accepted is None else min(accepted, f))
    assert result.history == expected
    # The check has teeth: somewhere x_{k+1} was better than y_{k+1}.
    values_at_y = [f for kind, f in log if kind == "y"]
    assert any(h < f for h, f in zip(result.history, values_at_y, strict=True))


# ------------------------------------------------------------------ gd's learning rate


def test_gd_raises_on_a_learning_rate_above_2_over_L():
    problem = Quadratic(1e2, rotated=True)
    with pytest.raises(LearningRateError, match=r"learning_rate=0\.025 is too large"):
        gd(problem, np.zeros(N), learning_rate=2.5 / problem.L, tol=1e-8, max_iter=1000)


def test_gd_with_1_over_L_decreases_monotonically_without_error():
    problem = Quadratic(1e2, rotated=True)
    result = gd(problem, np.zeros(N), learning_rate=1.0 / problem.L, tol=1e-8, max_iter=5000)
    assert result.status == "converged"
    # The descent lemma: a step of 1/L never raises the objective.
    assert np.all(np.diff(result.history) <= 0)


# ------------------------------------------------------------------ the registry


def test_registry_order_and_names():
    assert list(SOLVERS) == ["bb", "agd", "lbfgs", "newton", "gd"]
    assert SOLVER_NAMES == tuple(SOLVERS)
    solver_option = BaseCrossEntropyClassifier._parameter_constraints["solver"][0]
    assert solver_option.options == {"auto", *SOLVER_NAMES}


@pytest.mark.parametrize("name", SOLVER_NAMES)
def test_registry_entry_matches_the_solver_signature(name):
    """Every option an entry declares is a parameter, and every required one is declared."""
    entry = SOLVERS[name]
    assert entry.coordinates in {"original", "standardized"}
    parameters = inspect.signature(entry.minimise).parameters
    shared = {"fun", "x0", "tol", "max_iter"}
    required = {p for p, v in parameters.items() if v.default is inspect.Parameter.empty}
    assert required - shared <= set(entry.options) <= set(parameters)
    assert isinstance(
        entry(
            Quadratic(1.0, False),
            np.zeros(N),
            tol=1e-8,
            max_iter=5,
            **({"learning_rate": 1.0} if name == "gd" else {}),
            **({"curvature": curvature_of(Quadratic(1.0, False))} if name == "newton" else {}),
        ),
        SolverResult,
    )


def noisy(problem, amplitude):
    """``problem`` with a deterministic rounding-like noise of ``amplitude`` on ``f`` only.

    The gradient stays exact, so the arithmetic can resolve it to far below the
    point where the objective stops telling steps apart.
    """

    def fun(x):
        f, g = problem(x)
        return f + amplitude * np.sin(1e9 * float(np.sum(x * np.arange(1, x.size + 1)))), g

    fun.hessian = problem.hessian
    return fun


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_objective_noise_alone_is_not_a_stall_given_a_resolution(name):
    # f carries noise 1e-11 (the default allowance f_rtol = 4 eps knows nothing of
    # it), the gradient is exact: a tol of 1e-12 is reachable.
    problem = Quadratic(1e2, rotated=True)
    fun = noisy(problem, 1e-11)
    blind = run(name, fun, np.ones(N), tol=1e-12, max_iter=2000)
    assert blind.status == "stalled" and blind.grad_norm > 1e-10
    calls = []

    def resolution(x, g):
        calls.append(max_abs(g))
        return 2e-11, max_abs(g) / 1e-16

    told = run(name, fun, np.ones(N), tol=1e-12, max_iter=2000, resolution=resolution)
    assert told.status == "converged" and told.grad_norm <= 1e-12
    # It was consulted where the blind run gave up, well above the floor.
    assert calls and min(calls) > 1e-10


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_stall_at_the_floor_given_a_resolution(name):
    # The same noise, but the resolution says the gradient is at its own noise:
    # the run stalls at the first suspicion, as without a resolution.
    problem = Quadratic(1e2, rotated=True)
    fun = noisy(problem, 1e-11)
    blind = run(name, fun, np.ones(N), tol=1e-12, max_iter=2000)
    told = run(
        name, fun, np.ones(N), tol=1e-12, max_iter=2000, resolution=lambda x, g: (2e-11, 5.0)
    )
    assert told.status == "stalled"
    assert told.n_iter == blind.n_iter
    assert told.n_evals == blind.n_evals + 1  # the resolution costs one evaluation


class Rescaled:
    """``problem`` in coordinates ``u = s * x`` whose scale ``s`` a refresh changes."""

    def __init__(self, problem, scales):
        self.problem = problem
        self.scales = list(scales)
        self.s = self.scales.pop(0)
        self.calls = []

    def __call__(self, u):
        f, g = self.problem(u / self.s)
        return f, g / self.s

    def grad_max(self, gu):
        return float(np.max(np.abs(gu * self.s)))  # the measure in x, whatever the scale

    def hessian(self, u):
        return self.problem.A / self.s**2

    def due(self, k):
        return k in (3, 7)

    def refresh(self, u, best):
        self.calls.append((u.copy(), best.copy()))
        old, self.s = self.s, self.scales.pop(0)
        return u / old * self.s, best / old * self.s


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_a_metric_refresh_inside_the_loop_keeps_the_point_and_the_best_point(name):
    problem = Quadratic(1e2, rotated=True)
    fun = Rescaled(problem, [1.0, 3.0, 0.5])
    refresh = _Hook(fun)
    reports = []
    result = run(
        name,
        fun,
        np.ones(N),
        tol=1e-10,
        max_iter=500,
        grad_norm=fun.grad_max,
        callback=lambda *a: reports.append(a),
        refresh=refresh,
    )
    assert result.status == "converged"
    # Two refreshes, each at the point the run stood at after iterations 3 and 7
    # (in the coordinates of then: scale 1, then 3).
    assert len(fun.calls) == 2
    (u3, _), (u7, _) = fun.calls
    assert problem(u3 / 1.0)[0] == pytest.approx(reports[3][1], rel=1e-14)
    assert problem(u7 / 3.0)[0] == pytest.approx(reports[7][1], rel=1e-14)
    # The result is the minimiser, in the last coordinates (scale 0.5).
    np.testing.assert_allclose(result.x / fun.s, problem.x_star, atol=1e-9)
    # The iterations are counted across the refreshes, one report per iteration.
    assert [k for k, *_ in reports] == list(range(result.n_iter + 1))


class _Hook:
    def __init__(self, fun):
        self.fun = fun

    def due(self, k):
        return self.fun.due(k)

    def __call__(self, u, best):
        return self.fun.refresh(u, best)


def test_the_best_point_is_mapped_into_the_new_coordinates():
    # A run that ends at max_iter returns its record point, in the final coordinates.
    problem = Quadratic(1e3, rotated=True)
    fun = Rescaled(problem, [1.0, 4.0, 4.0])
    result = SOLVERS["bb"](
        fun, np.ones(N), tol=1e-14, max_iter=9, grad_norm=fun.grad_max, refresh=_Hook(fun)
    )
    assert result.status == "max_iter"
    # The returned measure is the smallest seen, and it belongs to the returned point.
    assert result.grad_norm == pytest.approx(fun.grad_max(fun(result.x)[1]), rel=1e-12)


@pytest.mark.timeout(15)
@pytest.mark.parametrize("name", SOLVER_NAMES)
@pytest.mark.parametrize("where", ["start", "later"])
def test_a_non_finite_gradient_stops_the_run_with_floating_point_error(name, where):
    # A line search along a NaN gradient would shrink its step for ever.
    def fun(x):
        f = 0.5 * float(x @ x)
        g = x.copy()
        if where == "start" or abs(x[0] - 1.0) > 1e-12:
            g[0] = np.nan
        return f, g

    options = {"learning_rate": 0.5} if name == "gd" else {}
    if name == "newton":
        options["curvature"] = lambda x: ((lambda v: v), None)
    # gd's own check (a non-finite step means its learning rate diverged) comes first.
    expected = LearningRateError if (name == "gd" and where == "later") else FloatingPointError
    with pytest.raises(expected):
        SOLVERS[name](fun, np.ones(3), tol=1e-10, max_iter=50, **options)


# ------------------------------------------------------------------ truncated Newton


def test_conjugate_gradients_solve_a_positive_definite_system_in_n_products():
    A = Quadratic(1e2, rotated=True).A
    b = np.arange(1.0, N + 1)
    d, products = conjugate_gradient(lambda v: A @ v, b, atol=1e-10, max_steps=100)
    np.testing.assert_allclose(A @ d, b, atol=1e-9)
    assert products <= N + 1  # exact arithmetic: N; rounding may add one


def test_conjugate_gradients_stop_on_a_direction_without_curvature():
    # Singular A (alpha = 0 on collinear columns): the first direction with
    # p^T A p = 0 ends the run with a descent direction for the gradient -b.
    A = np.diag([1.0, 0.0, 2.0])
    b = np.array([0.0, 1.0, 0.0])
    d, products = conjugate_gradient(lambda v: A @ v, b, atol=1e-12, max_steps=10)
    assert products == 1 and b @ d > 0
    b = np.array([1.0, 1.0, 0.0])
    d, products = conjugate_gradient(lambda v: A @ v, b, atol=1e-12, max_steps=10)
    assert b @ d > 0 and np.all(np.isfinite(d))


def test_newton_converges_superlinearly_on_logistic_regression():
    # The forcing sequence min(0.5, sqrt(||g||)) makes the last iterations Newton's:
    # to 1e-12 in a handful of iterations, where bb needs many more.
    problem = Logistic(alpha=1e-4)
    reports = []
    result = run("newton", problem, np.zeros(4), tol=1e-12, max_iter=100,
                 callback=lambda k, f, gn, step: reports.append(gn))  # fmt: skip
    assert result.status == "converged" and result.n_iter <= 12
    assert run("bb", problem, np.zeros(4), tol=1e-12, max_iter=10_000).n_iter > 2 * result.n_iter
    # Superlinear: near the optimum one iteration divides the measure by more than
    # 1e4 (a linearly convergent method keeps about the same ratio throughout).
    ratios = np.array(reports[1:]) / np.array(reports[:-1])
    assert ratios[:3].min() > 0.1 and ratios.min() < 1e-4


def test_newton_keeps_at_most_max_products_per_iteration():
    fun = Counted(Quadratic(1e2, rotated=True))
    result = run("newton", fun, np.zeros(N), tol=1e-10, max_iter=2000, max_products=2)
    assert result.status == "converged"
    # Each iteration: at most 2 products and its line search's evaluations.
    assert fun.products <= 2 * result.n_iter


def test_preconditioned_conjugate_gradients_need_fewer_products_on_a_badly_scaled_system():
    # Jacobi preconditioning with the diagonal undoes a diagonal scaling exactly.
    rng = np.random.default_rng(3)
    scale = 10.0 ** rng.uniform(-3, 3, 40)
    B = Quadratic(10.0, rotated=True, n=40).A
    A = scale[:, None] * B * scale
    b = rng.standard_normal(40)
    plain = conjugate_gradient(lambda v: A @ v, b, 1e-8 * np.linalg.norm(b), 1000)
    jacobi = conjugate_gradient(
        lambda v: A @ v, b, 1e-8 * np.linalg.norm(b), 1000, diagonal=np.diag(A).copy()
    )
    for d, _ in (plain, jacobi):
        assert np.linalg.norm(A @ d - b) <= 1e-8 * np.linalg.norm(b) * 1.0001
    assert jacobi[1] < plain[1] / 3


def test_newton_with_the_diagonal_reaches_the_logistic_optimum():
    problem = Logistic(alpha=1e-4)
    w_star = problem.newton_minimiser()
    result = run("newton", problem, np.zeros(4), tol=1e-10, max_iter=100,
                 curvature=curvature_of(problem, diagonal=True))  # fmt: skip
    assert result.status == "converged"
    assert np.linalg.norm(result.x - w_star) <= np.sqrt(4) * 1e-10 / problem.alpha
