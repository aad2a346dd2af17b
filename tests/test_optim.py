"""Tests of the hand-written optimisers in ``pinngelu.optim``."""

from __future__ import annotations

import dataclasses
import io
import math
import time
from dataclasses import replace

import numpy as np
import pytest
import scipy.optimize
from mgh_problems import PROBLEMS, get_problem  # tests/mgh_problems.py

from pinngelu.optim import (
    STOP_REASONS,
    AdamConfig,
    AdamRun,
    AdamState,
    LBFGSConfig,
    LBFGSState,
    LeastSquares,
    LMConfig,
    LMState,
    OptimizeResult,
    QNConfig,
    QNState,
    Status,
    StepInfo,
    adam_init,
    adam_run_init,
    adam_step,
    adam_update,
    lbfgs_direction,
    lbfgs_init,
    lbfgs_step,
    lbfgs_stop_reason,
    lbfgs_stop_test,
    lm_init,
    lm_step,
    minimize,
    minimize_lbfgs,
    qn_init,
    qn_step,
    reset_memory,
    step_info,
    strong_wolfe,
    update_memory,
)
from pinngelu.optim.adam import constant_schedule, exponential_decay
from pinngelu.optim.lbfgs import two_loop
from pinngelu.optim.linesearch import cubic_minimizer

MEMORY = 10  # scipy's default maxcor, used by both optimisers in the comparison


# --------------------------------------------------------------------------- MGH problems


def _central_difference(fun, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of ``fun`` (scalar or vector valued) and the steps used."""
    cols, steps = [], []
    for i in range(x.shape[0]):
        h = 1e-6 * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = h
        cols.append((np.asarray(fun(x + e)) - np.asarray(fun(x - e))) / (2.0 * h))
        steps.append(h)
    return np.stack(cols, axis=-1), np.array(steps)


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_mgh_gradient_matches_central_differences(name: str) -> None:
    p = PROBLEMS[name]
    rng = np.random.default_rng(1)
    eps = np.finfo(np.float64).eps
    for x in (np.array(p.x0), np.array(p.x0) + 0.1 * rng.standard_normal(p.n)):
        f, g = p.fun_grad(x)
        assert f == p.fun(x)
        fd, h = _central_difference(p.fun, x)
        # truncation error O(h^2) plus cancellation error O(eps |f| / h)
        tol = 1e-6 * max(1.0, np.max(np.abs(g))) + 10.0 * eps * abs(f) / h
        assert np.all(np.abs(g - fd) <= tol), (g, fd)
        # the Jacobian itself, whose differences do not suffer from the size of f
        r, jac = p.residual_jacobian(x)
        fd_jac, _ = _central_difference(p.residuals, x)
        tol_jac = 1e-6 * max(1.0, np.abs(jac).max()) + 10.0 * eps * np.abs(r)[:, None] / h
        assert np.all(np.abs(jac - fd_jac) <= tol_jac), (jac, fd_jac)
        np.testing.assert_allclose(g, 2.0 * jac.T @ r)


def test_mgh_problem_metadata() -> None:
    assert len(PROBLEMS) >= 13
    assert get_problem("extended_rosenbrock100").n == 100
    assert get_problem("trigonometric10").n == 10
    p = get_problem("rosenbrock")
    with pytest.raises(ValueError):
        p.x0[0] = 0.0  # read-only
    assert p.fun(np.ones(2)) == 0.0
    assert math.isclose(get_problem("freudenstein_roth").f_min, 48.98425367924, rel_tol=1e-12)
    with pytest.raises(KeyError):
        get_problem("nope")


def _scipy_lbfgsb(p):
    """scipy L-BFGS-B run to its own limits (no tolerance stops it early)."""
    return scipy.optimize.minimize(
        p.fun_grad,
        np.array(p.x0),
        jac=True,
        method="L-BFGS-B",
        options={"maxcor": MEMORY, "ftol": 0.0, "gtol": 0.0, "maxiter": 20000, "maxfun": 40000},
    )


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_lbfgs_at_least_as_accurate_as_scipy(name: str) -> None:
    p = PROBLEMS[name]
    res = minimize_lbfgs(p.fun_grad, p.x0, memory=MEMORY, max_iter=5000)
    ref = _scipy_lbfgsb(p)
    err_pinn = res.fun - p.f_min
    err_scipy = ref.fun - p.f_min if np.isfinite(ref.fun) else np.inf
    tol = 1e-12 * max(1.0, abs(p.f_min))
    assert np.all(np.isfinite(res.x))
    assert res.fun <= p.fun(p.x0)
    assert err_pinn <= max(err_scipy, tol), (res.fun, ref.fun, res.message)


# --------------------------------------------------------------------------- two-loop recursion


def _dense_bfgs_inverse(pairs, gamma, n):
    H = gamma * np.eye(n)
    eye = np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (s @ y)
        V = eye - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    return H


@pytest.mark.parametrize(("memory", "n_pairs"), [(8, 5), (8, 8), (4, 11)])
def test_two_loop_matches_dense_bfgs(memory: int, n_pairs: int) -> None:
    rng = np.random.default_rng(2)
    n = 12
    M = rng.standard_normal((n, n))
    A = M @ M.T + n * np.eye(n)  # SPD, so every pair has s.y > 0
    S = np.zeros((memory, n))
    Y = np.zeros((memory, n))
    rho = np.zeros(memory)
    head = count = 0
    pairs = []
    for _ in range(n_pairs):
        s = rng.standard_normal(n)
        y = A @ s
        S[head], Y[head], rho[head] = s, y, 1.0 / (s @ y)
        head = (head + 1) % memory
        count = min(count + 1, memory)
        pairs.append((s, y))
    kept = pairs[-memory:]  # the ring buffer keeps only the newest pairs
    s_new, y_new = kept[-1]
    gamma = (s_new @ y_new) / (y_new @ y_new)
    H = _dense_bfgs_inverse(kept, gamma, n)
    indices = (head - count + np.arange(count)) % memory
    for _ in range(5):
        v = rng.standard_normal(n)
        hv = two_loop(v, S, Y, rho, indices, gamma)
        np.testing.assert_allclose(hv, H @ v, rtol=0, atol=1e-10 * np.linalg.norm(H @ v))


def test_two_loop_on_lbfgs_state_matches_dense_bfgs() -> None:
    """The pairs collected by lbfgs_step give the dense BFGS inverse Hessian product."""
    rng = np.random.default_rng(3)
    n = 6
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * np.logspace(0, 2, n)) @ Q.T

    def fun(x):
        return 0.5 * x @ A @ x, A @ x

    config = LBFGSConfig(memory=10)
    state = lbfgs_init(fun, rng.standard_normal(n), config)
    for _ in range(4):
        state, info = lbfgs_step(fun, state, config)
        assert info.accepted and not info.pair_skipped
    idx = state.pair_indices()
    pairs = [(state.S[i], state.Y[i]) for i in idx]
    H = _dense_bfgs_inverse(pairs, state.gamma, n)
    g = state.g
    np.testing.assert_allclose(
        two_loop(g, state.S, state.Y, state.rho, idx, state.gamma),
        H @ g,
        rtol=0,
        atol=1e-10 * np.linalg.norm(H @ g),
    )


# --------------------------------------------------------------------------- convergence


def test_lbfgs_ill_conditioned_quadratic() -> None:
    rng = np.random.default_rng(0)
    n, kappa = 50, 1e4
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * np.logspace(0, np.log10(kappa), n)) @ Q.T
    x_star = rng.standard_normal(n)

    def fun(x):
        e = x - x_star
        Ae = A @ e
        return 0.5 * e @ Ae, Ae

    res = minimize_lbfgs(fun, np.zeros(n), memory=20, gtol=1e-10, max_iter=5000)
    assert np.linalg.norm(res.x - x_star) <= 1e-7 * np.linalg.norm(x_star)
    # Steepest descent with exact line searches contracts f by ((kappa-1)/(kappa+1))^2 per
    # iteration in the worst case, i.e. needs about kappa/4 * ln(1e20) ~ 1.2e5 iterations for the
    # same reduction; L-BFGS (like scipy's, which needs about 1300 here) needs a few hundred.
    assert res.n_iter <= 1200, res.n_iter
    assert res.n_eval <= 1.2 * res.n_iter + 10


@pytest.mark.parametrize("scale", [1.0, 1e-12])
def test_lbfgs_scale_invariance_tiny_loss(scale: float) -> None:
    p = get_problem("rosenbrock")

    def fun(x):
        f, g = p.fun_grad(x)
        return scale * f, scale * g

    res = minimize_lbfgs(fun, p.x0)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-8)
    assert res.fun <= 1e-20 * scale
    ref = minimize_lbfgs(p.fun_grad, p.x0)
    assert res.n_iter == ref.n_iter  # relative tests: same path whatever the loss scale


@pytest.mark.parametrize("name", ["bard", "freudenstein_roth", "watson6"])
def test_lbfgs_tiny_loss_with_nonzero_minimum(name: str) -> None:
    """Losses around 1e-12 with f_min > 0: no absolute floor stops the run early."""
    p = get_problem(name)
    scale = 1e-12 / p.f_min

    def fun(x):
        f, g = p.fun_grad(x)
        return scale * f, scale * g

    res = minimize_lbfgs(fun, p.x0, memory=MEMORY)
    assert res.status in (Status.GTOL, Status.FTOL, Status.FAILED), res.message
    assert res.fun / scale - p.f_min <= 1e-12 * p.f_min


def test_stopping_tests() -> None:
    p = get_problem("extended_rosenbrock100")
    res = minimize_lbfgs(p.fun_grad, p.x0, gtol_abs=1e-3)
    assert res.status == Status.GTOL and res.success
    assert np.max(np.abs(res.grad)) <= 1e-3
    assert np.max(np.abs(res.state.g)) > 0.0

    res = minimize_lbfgs(p.fun_grad, p.x0, gtol=1e-4)
    assert res.status == Status.GTOL
    assert np.max(np.abs(res.grad)) <= 1e-4 * np.max(np.abs(p.fun_grad(p.x0)[1]))

    res = minimize_lbfgs(p.fun_grad, p.x0, ftol=1e-2, ftol_iters=2)
    assert res.status == Status.FTOL and res.success
    rel = -np.diff(res.history) / np.maximum(np.abs(res.history[:-1]), np.abs(res.history[1:]))
    assert np.all(rel[-2:] <= 1e-2)
    assert not np.all(rel[-3:] <= 1e-2)  # the first such pair of iterations stops

    res = minimize_lbfgs(p.fun_grad, p.x0, xtol=1e-3)
    assert res.status == Status.XTOL and res.success
    assert res.n_iter < minimize_lbfgs(p.fun_grad, p.x0).n_iter


def _state_and_info(accepted=True, gnorm=1.0, gnorm_init=1.0, n_stall=0, step_norm=1.0, x=1.0):
    state = LBFGSState(
        x=np.full(2, x),
        f=1.0,
        g=np.zeros(2),
        S=np.zeros((1, 2)),
        Y=np.zeros((1, 2)),
        rho=np.zeros(1),
        n_stall=n_stall,
        gnorm_init=gnorm_init,
    )
    info = StepInfo(
        n_iter=1,
        f=1.0,
        f_prev=2.0,
        gnorm=gnorm,
        step=1.0,
        step_norm=step_norm,
        n_evals=1,
        accepted=accepted,
        ls_success=True,
        reset=False,
        pair_skipped=False,
        message="msg",
    )
    return state, info


def test_stop_test_branches_in_order() -> None:
    cfg = LBFGSConfig(gtol=1e-3, gtol_abs=1e-8, ftol_iters=2, xtol=1e-6)
    cases = [
        ({"accepted": False, "gnorm": 0.0}, "failed"),
        ({"gnorm": 1e-3, "gnorm_init": 1.0, "n_stall": 5}, "gtol"),  # relative, before ftol
        ({"gnorm": 1e-9, "gnorm_init": 0.0}, "gtol"),  # absolute
        ({"gnorm": 2e-3, "n_stall": 2}, "ftol"),
        ({"gnorm": 2e-3, "n_stall": 1}, None),
        ({"gnorm": 2e-3, "step_norm": 1e-6, "x": 1.0}, "xtol"),
        ({"gnorm": 2e-3, "step_norm": 2e-6, "x": 1.0}, None),
    ]
    for kw, expected in cases:
        state, info = _state_and_info(**kw)
        assert lbfgs_stop_test(state, info, cfg) == expected, kw
    # xtol = 0 (the default) disables the step test
    state, info = _state_and_info(gnorm=2e-3, step_norm=0.0)
    assert lbfgs_stop_test(state, info, replace(cfg, xtol=0.0)) is None


def test_stop_reason_texts() -> None:
    cfg = LBFGSConfig(gtol=1e-3, ftol_iters=2, xtol=1e-6)
    assert lbfgs_stop_reason(*_state_and_info(accepted=False), cfg) == "L-BFGS stopped: msg"
    assert lbfgs_stop_reason(*_state_and_info(gnorm=1e-4), cfg) == "gradient norm below tolerance"
    assert lbfgs_stop_reason(*_state_and_info(n_stall=2), cfg) == "relative decrease below ftol"
    assert lbfgs_stop_reason(*_state_and_info(step_norm=0.0), cfg) == "step below xtol"
    assert lbfgs_stop_reason(*_state_and_info(), cfg) is None
    assert set(STOP_REASONS) == {"gtol", "ftol", "xtol"}


def test_direction_memory_update_and_step_info_are_pure() -> None:
    p = get_problem("rosenbrock")
    cfg = LBFGSConfig(memory=3, init_step=0.5)
    state = lbfgs_init(p.fun_grad, p.x0, cfg)
    d, step0, reset = lbfgs_direction(state, cfg)  # no pairs: steepest descent
    np.testing.assert_array_equal(d, -state.g)
    assert not reset and step0 == pytest.approx(0.5 / np.linalg.norm(state.g))
    s, y = np.array([1e-3, 0.0]), np.array([2e-3, 1e-3])
    new, skipped = update_memory(state, s, y, cfg)
    assert not skipped and new.count == 1 and new.head == 1 and state.count == 0
    assert new.gamma == pytest.approx((s @ y) / (y @ y)) and not np.any(state.S)
    same, skipped = update_memory(state, s, -y, cfg)  # negative curvature: skipped
    assert skipped and same is state
    d, step0, reset = lbfgs_direction(new, cfg)
    assert step0 == 1.0 and not reset and float(new.g @ d) < 0.0
    # an unusable quasi-Newton direction (here not finite) resets to steepest descent
    d, step0, reset = lbfgs_direction(replace(new, rho=np.full(3, np.nan)), cfg)
    assert reset and step0 != 1.0
    np.testing.assert_array_equal(d, -new.g)
    cleared = reset_memory(new)
    assert cleared.count == 0 and cleared.gamma == 1.0 and new.count == 1
    info = step_info(state, new, n_evals=2, accepted=False, message="m")
    assert info.step_norm == 0.0 and info.gnorm == float(np.max(np.abs(new.g)))
    moved = replace(state, x=state.x + np.array([0.25, -0.5]))
    info = step_info(state, moved, n_evals=1, accepted=True, step=0.5, message="ok")
    assert info.step_norm == 0.5 and info.f_prev == state.f and info.n_iter == moved.n_iter


def test_mgh_problems_are_not_part_of_the_package() -> None:
    import importlib

    import pinngelu.optim

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("pinngelu.optim.mgh")
    assert not any("mgh" in name.lower() for name in pinngelu.optim.__all__)


def test_powell_damping_option() -> None:
    p = get_problem("rosenbrock")
    res = minimize_lbfgs(p.fun_grad, p.x0, damping=True)
    assert res.success
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-6)


def test_lbfgs_history_and_never_worse_than_x0() -> None:
    p = get_problem("wood")
    res = minimize_lbfgs(p.fun_grad, p.x0, memory=MEMORY)
    h = res.history
    assert h.shape == (res.n_iter + 1,)
    assert h[0] == p.fun(p.x0)
    assert np.all(np.diff(h) <= 0.0)
    assert h[-1] == res.fun
    assert res.state.f == res.fun and res.state.best_f == res.fun
    np.testing.assert_array_equal(res.state.best_x, res.x)


# --------------------------------------------------------------------------- line search


def _mt3(a: float) -> tuple[float, float]:
    """More & Thuente (1994) function 3 (beta = 0.01, l = 39): wiggly, many local minima."""
    beta, ell = 0.01, 39.0
    if a <= 1.0 - beta:
        base, dbase = 1.0 - a, -1.0
    elif a >= 1.0 + beta:
        base, dbase = a - 1.0, 1.0
    else:
        base, dbase = (a - 1.0) ** 2 / (2.0 * beta) + beta / 2.0, (a - 1.0) / beta
    w = ell * math.pi / 2.0
    return (
        base + 2.0 * (1.0 - beta) / (ell * math.pi) * math.sin(w * a),
        dbase + (1.0 - beta) * math.cos(w * a),
    )


LINE_FUNCTIONS = {
    # More & Thuente (1994) functions 1-3, a quadratic and a convex exponential
    "mt1": lambda a: (-a / (a * a + 2.0), (a * a - 2.0) / (a * a + 2.0) ** 2),
    "mt2": lambda a: (
        (a + 0.004) ** 5 - 2.0 * (a + 0.004) ** 4,
        5.0 * (a + 0.004) ** 4 - 8.0 * (a + 0.004) ** 3,
    ),
    "mt3": _mt3,
    "quadratic": lambda a: ((a - 3.0) ** 2, 2.0 * (a - 3.0)),
    "exp": lambda a: (math.exp(a) - 5.0 * a, math.exp(a) - 5.0) if a < 700 else (math.inf,) * 2,
}


@pytest.mark.parametrize("name", list(LINE_FUNCTIONS))
@pytest.mark.parametrize("step0", [1e-3, 1.0, 10.0, 1e3])
@pytest.mark.parametrize(("c1", "c2"), [(1e-4, 0.9), (1e-4, 0.1)])
def test_strong_wolfe_conditions(name: str, step0: float, c1: float, c2: float) -> None:
    phi = LINE_FUNCTIONS[name]
    f0, dg0 = phi(0.0)
    assert dg0 < 0
    res = strong_wolfe(phi, f0, dg0, dg0, step0, c1=c1, c2=c2, max_evals=40)
    assert res.success, res.message
    assert res.step > 0
    assert res.f == phi(res.step)[0]
    assert res.f <= f0 + c1 * res.step * dg0
    assert abs(res.dg) <= c2 * abs(dg0)
    assert res.n_evals <= 40


def test_strong_wolfe_vector_direction() -> None:
    rng = np.random.default_rng(4)
    n = 5
    A = np.diag(np.arange(1.0, n + 1))
    x = rng.standard_normal(n)
    d = -A @ x

    def phi(a):
        z = x + a * d
        return 0.5 * z @ A @ z, A @ z

    f0, g0 = phi(0.0)
    res = strong_wolfe(phi, f0, g0, g0 @ d, direction=d)
    assert res.success
    np.testing.assert_allclose(res.g, A @ (x + res.step * d))
    assert res.dg == pytest.approx(res.g @ d)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_strong_wolfe_backs_off_from_nan_region(bad: float) -> None:
    calls = []

    def phi(a):
        calls.append(a)
        if a > 2.0:
            return bad, bad
        return (a - 1.5) ** 2, 2.0 * (a - 1.5)

    res = strong_wolfe(phi, 2.25, -3.0, -3.0, step0=100.0)
    assert res.success, res.message
    assert 0.0 < res.step <= 2.0 and math.isfinite(res.f)
    assert res.f <= 2.25 + 1e-4 * res.step * -3.0
    assert abs(res.dg) <= 0.9 * 3.0
    assert max(calls) == 100.0  # tried the long step, then shrank


def test_strong_wolfe_nan_from_extrapolation() -> None:
    # decreasing slowly up to the NaN wall at 5, so the bracketing phase extrapolates into it
    def phi(a):
        if a > 5.0:
            return math.nan, math.nan
        return -a + 0.05 * a * a, -1.0 + 0.1 * a

    res = strong_wolfe(phi, 0.0, -1.0, -1.0, step0=1.0, c2=0.1)
    assert math.isfinite(res.f) and 0.0 < res.step <= 5.0
    assert res.f <= 1e-4 * res.step * -1.0


def test_strong_wolfe_failure_returns_best_point() -> None:
    # always NaN except tiny steps: the budget runs out before a Wolfe point is found
    def phi(a):
        if a > 1e-12:
            return math.nan, math.nan
        return -a, -1.0

    res = strong_wolfe(phi, 0.0, -1.0, -1.0, step0=1.0, max_evals=5)
    assert not res.success
    assert res.step == 0.0 and res.f == 0.0 and res.n_evals == 5

    # a function with sufficient decrease but never the curvature condition within budget
    res = strong_wolfe(lambda a: (-a, -1.0), 0.0, -1.0, -1.0, step0=1.0, max_evals=3)
    assert not res.success
    assert res.step > 1.0 and res.f == -res.step  # the best (lowest) point tried


def test_strong_wolfe_rejects_ascent_direction() -> None:
    res = strong_wolfe(lambda a: (a, 1.0), 0.0, 1.0, 1.0)
    assert not res.success and res.step == 0.0 and res.n_evals == 0


def test_cubic_minimizer() -> None:
    # exact for a cubic with a local minimum: p(a) = a^3 - 3a, minimum at a = 1
    def p(a):
        return a**3 - 3 * a

    def dp(a):
        return 3 * a * a - 3

    assert cubic_minimizer(0.0, p(0.0), dp(0.0), 2.0, p(2.0), dp(2.0)) == pytest.approx(1.0)
    assert cubic_minimizer(2.0, p(2.0), dp(2.0), -0.5, p(-0.5), dp(-0.5)) == pytest.approx(1.0)
    assert cubic_minimizer(1.0, 0.0, 1.0, 1.0, 0.0, 1.0) is None


# --------------------------------------------------------------------------- robustness & budgets


def test_lbfgs_nan_guard() -> None:
    p = get_problem("rosenbrock")
    seen_nan = []

    def fun(x):
        if x[0] > 0.5:
            seen_nan.append(True)
            return math.nan, np.full(2, math.nan)
        return p.fun_grad(x)

    res = minimize_lbfgs(fun, p.x0, max_iter=500)
    assert seen_nan  # the optimiser did wander into the NaN region
    assert np.all(np.isfinite(res.x)) and math.isfinite(res.fun)
    assert res.x[0] <= 0.5
    assert res.fun <= p.fun(p.x0)
    assert res.fun == pytest.approx(p.fun(res.x))
    assert res.fun < 0.26  # constrained minimum is 0.25 at (0.5, 0.25)
    assert res.status in (Status.FAILED, Status.MAX_ITER) or res.success


def test_lbfgs_objective_nan_everywhere_else() -> None:
    def fun(x):
        if np.any(x != 0.0):
            return math.nan, np.full(x.shape, math.nan)
        return 1.0, np.ones_like(x)

    res = minimize_lbfgs(fun, np.zeros(3))
    assert res.status == Status.FAILED and not res.success
    np.testing.assert_array_equal(res.x, 0.0)
    assert res.fun == 1.0


def test_lbfgs_rejects_non_finite_start() -> None:
    with pytest.raises(ValueError):
        minimize_lbfgs(lambda x: (math.nan, x), np.ones(2))


def test_budget_max_iter() -> None:
    p = get_problem("extended_rosenbrock100")
    res = minimize_lbfgs(p.fun_grad, p.x0, max_iter=7)
    assert res.n_iter == 7 and res.status == Status.MAX_ITER and not res.success
    assert res.history.shape == (8,)


@pytest.mark.parametrize("max_eval", [1, 2, 9, 30])
def test_budget_max_eval(max_eval: int) -> None:
    p = get_problem("powell_badly_scaled")
    calls = [0]

    def fun(x):
        calls[0] += 1
        return p.fun_grad(x)

    res = minimize_lbfgs(fun, p.x0, max_eval=max_eval)
    assert calls[0] == res.n_eval <= max_eval
    assert res.status == Status.MAX_EVAL
    assert res.fun <= p.fun(p.x0)


def test_budget_time_limit() -> None:
    p = get_problem("extended_rosenbrock100")

    def slow(x):
        time.sleep(0.01)  # 0.1 s is 10 evaluations, far from convergence
        return p.fun_grad(x)

    t0 = time.perf_counter()
    res = minimize_lbfgs(slow, p.x0, time_limit=0.1, max_iter=None)
    elapsed = time.perf_counter() - t0
    assert res.status == Status.TIME_LIMIT
    assert 0.1 <= res.elapsed <= elapsed < 2.0


def test_callback_stops() -> None:
    p = get_problem("wood")
    seen = []

    def cb(state, info):
        seen.append(info.n_iter)
        return info.n_iter >= 3

    res = minimize_lbfgs(p.fun_grad, p.x0, callback=cb)
    assert seen == [1, 2, 3] and res.n_iter == 3 and not res.success


def test_overrides_and_config_validation() -> None:
    with pytest.raises(TypeError):
        minimize_lbfgs(lambda x: (x @ x, 2 * x), np.ones(2), not_an_option=1)
    with pytest.raises(ValueError):
        LBFGSConfig(c1=0.5, c2=0.1)
    res = minimize_lbfgs(lambda x: (x @ x, 2 * x), np.ones(2), LBFGSConfig(memory=3))
    assert res.success and res.state.memory == 3
    np.testing.assert_allclose(res.x, 0.0, atol=1e-12)


def test_gradient_zero_at_start() -> None:
    res = minimize_lbfgs(lambda x: (float(x @ x), 2 * x), np.zeros(4))
    assert res.success and res.n_iter == 0 and res.n_eval == 1


# --------------------------------------------------------------------------- one interface


def _quadratic() -> tuple[LeastSquares, np.ndarray]:
    """``|L (x - x*)|^2`` with ``L^T L = diag(1, 3, 10)``, as residuals."""
    L = np.linalg.cholesky(np.diag([1.0, 3.0, 10.0])).T
    x_star = np.array([1.0, -2.0, 0.5])
    return LeastSquares.from_residuals(lambda x: L @ (x - x_star), lambda x: L), x_star


def _rosenbrock() -> tuple[LeastSquares, np.ndarray]:
    p = get_problem("rosenbrock")
    obj = LeastSquares.from_residuals(p.residuals, lambda x: p.residual_jacobian(x)[1])
    return obj, np.ones(2)


# the four methods by the same call; Adam has no convergence test of its own, so it
# gets a gradient tolerance, a decaying learning rate and an iteration budget
METHODS = {
    "lbfgs": LBFGSConfig(),
    "qn": QNConfig(),
    "lm": LMConfig(),
    "adam": AdamConfig(lr=exponential_decay(2e-2, 0.5, 2000), gtol_abs=1e-6),
}
STATE_TYPES = {"lbfgs": LBFGSState, "qn": QNState, "lm": LMState, "adam": AdamRun}


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize(
    ("problem", "tol_x"),
    [
        (_quadratic, {"lbfgs": 1e-10, "qn": 1e-10, "lm": 1e-12, "adam": 1e-6}),
        (_rosenbrock, {"lbfgs": 1e-9, "qn": 1e-9, "lm": 1e-9, "adam": 1e-5}),
    ],
    ids=["quadratic", "rosenbrock"],
)
def test_every_method_minimises_through_the_same_call(problem, tol_x, method: str) -> None:
    obj, x_star = problem()
    config = METHODS[method]
    x0 = np.zeros(3) if x_star.shape == (3,) else np.array([-1.2, 1.0])
    res = minimize(obj, x0, config, max_iter=20_000)
    assert res.success and res.status == Status.GTOL, res.message
    assert np.max(np.abs(res.x - x_star)) <= tol_x[method], (res.x, res.message)
    assert res.fun == obj.value(res.x)
    assert res.fun <= obj.value(x0)
    assert isinstance(res.state, STATE_TYPES[method])


def test_result_has_the_same_fields_for_every_method() -> None:
    obj, _ = _rosenbrock()
    names = [f.name for f in dataclasses.fields(OptimizeResult)]
    assert {"x", "fun", "grad", "n_iter", "n_eval", "success", "status", "message"} <= set(names)
    assert {"history", "elapsed", "state"} <= set(names)
    for method, config in METHODS.items():
        res = minimize(obj, [-1.2, 1.0], config, max_iter=4)
        assert isinstance(res, OptimizeResult)
        assert [f.name for f in dataclasses.fields(res)] == names
        assert res.x.shape == res.grad.shape == (2,) and res.x.dtype == np.float64
        assert res.history.shape == (res.n_iter + 1,) == (5,)
        assert isinstance(res.status, Status) and res.status == Status.MAX_ITER
        assert res.message == "maximum number of iterations reached" and not res.success
        assert isinstance(res.fun, float) and isinstance(res.n_eval, int)
        assert res.elapsed >= 0.0 and isinstance(res.state, STATE_TYPES[method])
        np.testing.assert_allclose(res.grad, obj(res.x)[1], rtol=1e-12, atol=1e-300)


class _Counted:
    """A least-squares objective that counts (and may slow down) every evaluation."""

    def __init__(self, obj: LeastSquares, delay: float = 0.0) -> None:
        self.obj, self.delay, self.calls = obj, delay, 0

    def _tick(self) -> None:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)

    def __call__(self, x):
        self._tick()
        return self.obj(x)

    def normal(self, x):
        self._tick()
        return self.obj.normal(x)

    def value(self, x):
        self._tick()
        return self.obj.value(x)


@pytest.mark.parametrize("method", list(METHODS))
def test_budgets_end_every_method_with_their_status(method: str) -> None:
    config = METHODS[method]
    obj, _ = _rosenbrock()
    x0 = [-1.2, 1.0]

    res = minimize(obj, x0, config, max_iter=3)
    assert res.status == Status.MAX_ITER and res.n_iter == 3 and not res.success

    for max_eval in (1, 2, 5, 8):
        counted = _Counted(obj)
        res = minimize(counted, x0, config, max_eval=max_eval)
        assert res.status == Status.MAX_EVAL, (max_eval, res.message)
        assert counted.calls == res.n_eval <= max_eval  # never exceeded
        assert res.fun <= obj.value(np.array(x0))

    slow = _Counted(obj, delay=0.002)
    t0 = time.perf_counter()
    res = minimize(slow, x0, config, time_limit=0.05)
    assert res.status == Status.TIME_LIMIT
    assert 0.05 <= res.elapsed <= time.perf_counter() - t0 < 2.0

    res = minimize(obj, x0, config, max_iter=0)
    assert res.status == Status.MAX_ITER and res.n_iter == 0 and res.n_eval == 1


@pytest.mark.parametrize("method", list(METHODS))
def test_callback_stops_every_method(method: str) -> None:
    config = METHODS[method]
    obj, _ = _rosenbrock()
    seen = []

    def cb(state, info):
        assert type(info) is StepInfo and state.n_iter == info.n_iter
        seen.append(info.n_iter)
        return info.n_iter >= 2

    res = minimize(obj, [-1.2, 1.0], config, callback=cb, max_iter=100)
    assert seen == [1, 2] and res.status == Status.CALLBACK and not res.success


def test_minimize_rejects_what_it_cannot_run() -> None:
    def fun(x):
        return float(x @ x), 2 * x

    with pytest.raises(TypeError, match="normal"):
        minimize(fun, np.ones(2), LMConfig())  # LM needs normal() and value()
    with pytest.raises(TypeError, match="method must be"):
        minimize(fun, np.ones(2), {"memory": 5})
    with pytest.raises(ValueError, match="Adam"):
        minimize(fun, np.ones(2), AdamConfig())  # no budget, no tolerance: would not stop
    with pytest.raises(ValueError, match="max_iter"):
        minimize(fun, np.ones(2), max_iter=-1)
    with pytest.raises(ValueError, match="max_eval"):
        minimize(fun, np.ones(2), max_eval=0)
    with pytest.raises(ValueError, match="time_limit"):
        minimize(fun, np.ones(2), time_limit=True)


def test_minimize_is_minimize_lbfgs_and_the_steps_loop() -> None:
    """The driver adds nothing to the steps: same bits as a hand-written loop."""
    p = get_problem("wood")
    cfg = LBFGSConfig(memory=5)
    res = minimize(p.fun_grad, p.x0, cfg, max_iter=30)
    ref = minimize_lbfgs(p.fun_grad, p.x0, memory=5, max_iter=30)
    state = lbfgs_init(p.fun_grad, p.x0, cfg)
    for _ in range(30):
        state, _ = lbfgs_step(p.fun_grad, state, cfg)
    for other in (ref.x, state.x):
        np.testing.assert_array_equal(res.x, other)
    assert res.fun == ref.fun == state.f and res.n_eval == state.n_eval


def test_adam_through_minimize_is_adam_update() -> None:
    p = get_problem("rosenbrock")
    lr = exponential_decay(1e-2, 0.5, 50)
    res = minimize(p.fun_grad, p.x0, AdamConfig(lr=lr, b1=0.8), max_iter=100)
    x = np.array(p.x0)
    state = adam_init(x)
    best = (p.fun(x), x)
    for _ in range(100):
        step, state = adam_update(state, p.fun_grad(x)[1], lr, b1=0.8)
        x = x + step
        best = min(best, (p.fun(x), x), key=lambda b: b[0])
    np.testing.assert_array_equal(res.state.x, x)
    np.testing.assert_array_equal(res.x, best[1])
    assert res.fun == best[0] and res.n_eval == 101 and res.state.moments.t == 100
    restored = AdamRun.from_dict(res.state.to_dict())
    a, _ = adam_step(p.fun_grad, res.state, AdamConfig(lr=lr, b1=0.8))
    b, _ = adam_step(p.fun_grad, restored, AdamConfig(lr=lr, b1=0.8))
    np.testing.assert_array_equal(a.x, b.x)


def test_adam_keeps_the_best_point_on_a_non_finite_value() -> None:
    def fun(x):
        if x[0] > 0.5:
            return math.nan, np.full(1, math.nan)
        return float((x[0] - 1.0) ** 2), 2.0 * (x - 1.0)

    res = minimize(fun, np.zeros(1), AdamConfig(lr=0.2), max_iter=100)
    assert res.status == Status.FAILED and res.message.startswith("Adam stopped")
    assert res.x[0] <= 0.5 and res.fun == fun(res.x)[0]


@pytest.mark.parametrize("max_evals", [0, 1, 3])
def test_steps_spend_at_most_max_evals(max_evals: int) -> None:
    p = get_problem("powell_badly_scaled")
    obj = LeastSquares.from_residuals(p.residuals, lambda x: p.residual_jacobian(x)[1])
    for init, step in (
        (lbfgs_init, lbfgs_step),
        (qn_init, qn_step),
        (adam_run_init, lambda f, s, c, **kw: adam_step(f, s, AdamConfig(), **kw)),
    ):
        state = init(obj, p.x0)
        new, info = step(obj, state, None, max_evals=max_evals)
        assert new.n_eval - state.n_eval == info.n_evals <= max_evals
        if max_evals == 0:
            assert new is state and not info.accepted
            assert info.message == "evaluation budget exhausted"
    state = lm_init(obj.normal, p.x0, LMConfig(mu0=1e10))  # heavy damping: slow trials
    new, info = lm_step(obj.normal, obj.value, state, max_evals=max_evals)
    spent = (new.n_eval + new.n_normal) - (state.n_eval + state.n_normal)
    assert spent == info.n_evals <= max_evals
    if max_evals < 2:
        assert new is state and not info.accepted


def test_one_step_record_for_every_method() -> None:
    obj, _ = _rosenbrock()
    x0 = np.array([-1.2, 1.0])
    infos = [
        lbfgs_step(obj, lbfgs_init(obj, x0))[1],
        qn_step(obj, qn_init(obj, x0))[1],
        lm_step(obj.normal, obj.value, lm_init(obj.normal, x0))[1],
        adam_step(obj, adam_run_init(obj, x0))[1],
    ]
    for info in infos:
        assert type(info) is StepInfo and info.accepted and info.n_iter == 1
        assert info.step_norm > 0.0 and info.f_prev == obj.value(x0)


def test_no_optimiser_module_imports_private_helpers_of_another() -> None:
    import ast
    from pathlib import Path

    import pinngelu.optim

    folder = Path(pinngelu.optim.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"


def test_settings_carry_no_budget_and_are_checked() -> None:
    for budget in ("max_iter", "max_eval", "time_limit"):
        with pytest.raises(TypeError):
            LBFGSConfig(**{budget: 5})
    with pytest.raises(ValueError, match=r"LBFGSConfig\.memory .* got 0"):
        LBFGSConfig(memory=0)
    with pytest.raises(ValueError, match=r"LBFGSConfig\.gtol .* got True"):
        LBFGSConfig(gtol=True)
    with pytest.raises(ValueError, match=r"LBFGSConfig\.memory .* got True"):
        LBFGSConfig(memory=True)
    with pytest.raises(ValueError, match=r"LBFGSConfig\.step_max .* got inf"):
        LBFGSConfig(step_max=math.inf)
    with pytest.raises(ValueError, match=r"LBFGSConfig\.ftol .* got -1"):
        LBFGSConfig(ftol=-1.0)
    with pytest.raises(ValueError, match="init_step"):
        LBFGSConfig(init_step=0.0)
    with pytest.raises(ValueError, match=r"c1=0\.5, c2=0\.1"):
        LBFGSConfig(c1=0.5, c2=0.1)
    with pytest.raises(ValueError, match=r"LBFGSConfig\.c2"):
        LBFGSConfig(c2=1.0)
    with pytest.raises(TypeError, match=r"LBFGSConfig\.damping .* got 1"):
        LBFGSConfig(damping=1)
    with pytest.raises(ValueError, match="gtol_abs"):
        QNConfig(gtol_abs=True)
    with pytest.raises(ValueError, match="max_linesearch"):
        QNConfig(max_linesearch=2.5)
    with pytest.raises(ValueError, match="d_floor"):
        LMConfig(d_floor=0.0)
    with pytest.raises(ValueError, match=r"AdamConfig\.lr"):
        AdamConfig(lr=0.0)
    with pytest.raises(ValueError, match=r"AdamConfig\.b2"):
        AdamConfig(b2=1.0)
    with pytest.raises(ValueError, match=r"AdamConfig\.eps"):
        AdamConfig(eps=-1e-8)
    # integers and NumPy numbers are accepted and stored as Python numbers
    cfg = LBFGSConfig(memory=np.int64(7), gtol=0, damping=np.bool_(True))
    assert (cfg.memory, cfg.gtol, cfg.damping) == (7, 0.0, True)
    assert type(cfg.memory) is int and type(cfg.gtol) is float and type(cfg.damping) is bool
    assert QNConfig(max_bytes=100.0).max_bytes == 100


# --------------------------------------------------------------------------- checkpointing


def test_lbfgs_state_round_trip_is_bit_identical() -> None:
    p = get_problem("extended_rosenbrock100")
    config = LBFGSConfig(memory=5)

    state = lbfgs_init(p.fun_grad, p.x0, config)
    for _ in range(20):
        state, _ = lbfgs_step(p.fun_grad, state, config)
    straight = state

    state = lbfgs_init(p.fun_grad, p.x0, config)
    for _ in range(10):
        state, _ = lbfgs_step(p.fun_grad, state, config)
    buf = io.BytesIO()
    np.savez(buf, **state.to_dict())
    buf.seek(0)
    with np.load(buf) as data:
        restored = LBFGSState.from_dict(data)
    del state
    for _ in range(10):
        restored, _ = lbfgs_step(p.fun_grad, restored, config)

    np.testing.assert_array_equal(restored.x, straight.x)
    np.testing.assert_array_equal(restored.S, straight.S)
    assert restored.f == straight.f
    assert restored.n_iter == straight.n_iter == 20
    assert restored.n_eval == straight.n_eval
    d = restored.to_dict()
    assert all(isinstance(v, (np.ndarray, int, float)) for v in d.values())


def test_lbfgs_step_does_not_modify_its_input() -> None:
    p = get_problem("wood")
    config = LBFGSConfig(memory=4)
    state = lbfgs_init(p.fun_grad, p.x0, config)
    for _ in range(6):
        state, _ = lbfgs_step(p.fun_grad, state, config)
    before = state.to_dict()
    new_state, _ = lbfgs_step(p.fun_grad, state, config)
    after = state.to_dict()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value)
    assert new_state.n_iter == state.n_iter + 1


def test_memory_mismatch_is_rejected() -> None:
    p = get_problem("wood")
    state = lbfgs_init(p.fun_grad, p.x0, LBFGSConfig(memory=4))
    with pytest.raises(ValueError):
        lbfgs_step(p.fun_grad, state, LBFGSConfig(memory=5))


# --------------------------------------------------------------------------- Adam


def test_adam_first_steps_by_hand() -> None:
    g1 = np.array([0.5, -2.0, 0.0])
    g2 = np.array([1.0, 1.0, 3.0])
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    state = adam_init(np.zeros(3))
    step1, state = adam_update(state, g1, lr, b1, b2, eps)
    # first step: m_hat = g, v_hat = g^2, so step = -lr * g / (|g| + eps)
    np.testing.assert_allclose(step1, -lr * g1 / (np.abs(g1) + eps), rtol=1e-15)
    step2, state = adam_update(state, g2, lr, b1, b2, eps)
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.999 * 0.001 * g1**2 + 0.001 * g2**2
    m_hat = m / (1 - 0.9**2)
    v_hat = v / (1 - 0.999**2)
    np.testing.assert_allclose(step2, -lr * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-14)
    assert state.t == 2


def test_adam_decreases_quadratic_and_round_trips() -> None:
    A = np.diag([1.0, 10.0, 100.0])
    x = np.array([1.0, -1.0, 0.5])

    def f(z):
        return 0.5 * z @ A @ z

    f0 = f(x)
    state = adam_init(x)
    schedule = exponential_decay(0.05, 0.5, 100)
    for i in range(300):
        step, state = adam_update(state, A @ x, schedule)
        x = x + step
        if i == 149:
            saved = AdamState.from_dict(state.to_dict())
            x_saved = x.copy()
    assert f(x) < 1e-3 * f0
    # resuming from the saved state reproduces the run exactly
    for _ in range(150):
        step, saved = adam_update(saved, A @ x_saved, schedule)
        x_saved = x_saved + step
    np.testing.assert_array_equal(x_saved, x)


def test_schedules() -> None:
    assert constant_schedule(0.3)(1000) == 0.3
    s = exponential_decay(1.0, 0.5, 10)
    assert s(0) == 1.0 and s(10) == pytest.approx(0.5) and s(5) == pytest.approx(0.5**0.5)
    st = exponential_decay(1.0, 0.5, 10, staircase=True)
    assert st(9) == 1.0 and st(10) == 0.5
