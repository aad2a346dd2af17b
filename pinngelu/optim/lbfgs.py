"""Limited-memory BFGS as pure functions on an explicit, serialisable state.

The optimiser is split into pure functions on an :class:`LBFGSState`, in the style of optax:

* :func:`lbfgs_init` evaluates the objective at the starting point and builds the state;
* :func:`lbfgs_direction` gives the search direction (the two-loop recursion
  :func:`two_loop`, or steepest descent) and the first trial step;
* :func:`update_memory` stores a new correction pair (curvature test, Powell damping);
* :func:`lbfgs_step` performs one iteration (direction, strong-Wolfe line search, memory
  update) and returns a new state (the input state is left untouched) together with a
  :class:`StepInfo` built by :func:`step_info`;
* :func:`~pinngelu.optim.minimize.minimize` (with an :class:`LBFGSConfig`) loops over
  :func:`lbfgs_step` and applies the stopping tests of :mod:`pinngelu.optim.stopping`.

The settings and state are defined in :mod:`pinngelu.optim.lbfgs_state`, the step
record :class:`~pinngelu.optim.common.StepInfo` and its builder :func:`step_info` in
:mod:`pinngelu.optim.common`.

The objective is ``fun(x) -> (f, g)`` with ``x`` and ``g`` of shape (n,). The iterate only ever
moves to a point with a strictly lower finite value, and among all points evaluated it is the one
with the lowest value, so ``state.x`` is always the best point seen.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .common import (
    TINY,
    FloatArray,
    Objective,
    StepInfo,
    all_finite,
    evaluate,
    inf_norm,
    start_point,
    step_info,
)
from .lbfgs_state import LBFGSConfig, LBFGSState
from .linesearch import TrialPoint, search_lower

__all__ = [
    "LBFGSConfig",
    "LBFGSState",
    "StepInfo",
    "lbfgs_direction",
    "lbfgs_init",
    "lbfgs_step",
    "reset_memory",
    "steepest_descent",
    "step_info",
    "two_loop",
    "update_memory",
]


def lbfgs_init(fun: Objective, x0: ArrayLike, config: LBFGSConfig | None = None) -> LBFGSState:
    """Evaluate the objective at ``x0`` and build the initial state.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)`` with ``x`` of shape (n,), ``f`` a float and ``g`` of shape (n,).
    x0 : array_like, shape (n,)
        Starting point.
    config : LBFGSConfig, optional
        Only ``memory`` is used here.

    Returns
    -------
    LBFGSState

    Raises
    ------
    ValueError
        If ``x0`` is not 1-D or the objective or gradient is not finite at ``x0``.
    """
    config = LBFGSConfig() if config is None else config
    x = start_point(x0)
    n = x.shape[0]
    f, g = evaluate(fun, x, n)
    if not all_finite(f, g):
        raise ValueError("objective or gradient is not finite at the starting point")
    m = config.memory
    return LBFGSState(
        x=x,
        f=f,
        g=g,
        S=np.zeros((m, n)),
        Y=np.zeros((m, n)),
        rho=np.zeros(m),
        n_eval=1,
        f_init=f,
        gnorm_init=inf_norm(g),
    )


def two_loop(
    g: FloatArray,
    S: FloatArray,
    Y: FloatArray,
    rho: FloatArray,
    indices: NDArray[np.intp],
    gamma: float,
) -> FloatArray:
    """L-BFGS two-loop recursion: the product ``H g`` of the inverse-Hessian approximation.

    ``H`` is the result of applying the BFGS inverse update for the pairs ``indices`` (oldest
    first) to ``H0 = gamma I``.

    Parameters
    ----------
    g : ndarray, shape (n,)
        Vector to multiply.
    S, Y : ndarray, shape (memory, n)
        Pair buffers.
    rho : ndarray, shape (memory,)
        ``1 / (s . y)`` per pair.
    indices : ndarray of int, shape (k,)
        Buffer slots of the pairs to use, oldest first.
    gamma : float
        Scaling of the initial matrix.

    Returns
    -------
    ndarray, shape (n,)
        ``H g``.
    """
    q = np.array(g, dtype=np.float64, copy=True)
    alpha = np.empty(len(indices))
    for k in range(len(indices) - 1, -1, -1):
        i = indices[k]
        alpha[k] = rho[i] * (S[i] @ q)
        q -= alpha[k] * Y[i]
    r = gamma * q
    for k in range(len(indices)):
        i = indices[k]
        beta = rho[i] * (Y[i] @ r)
        r += (alpha[k] - beta) * S[i]
    return r


def steepest_descent(state: LBFGSState, config: LBFGSConfig) -> tuple[FloatArray, float]:
    """Steepest-descent direction ``-g`` and its first trial step.

    The first trial displacement has length ``config.init_step``, capped by the length of
    the newest stored step when there is one.

    Returns
    -------
    d : ndarray, shape (n,)
        ``-state.g``.
    step0 : float
        First trial step length (in units of ``d``).
    """
    last = (
        float(np.linalg.norm(state.S[(state.head - 1) % state.memory]))
        if state.count > 0
        else config.init_step
    )
    length = min(config.init_step, last) if last > 0 else config.init_step
    return -state.g, length / float(np.linalg.norm(state.g))


def lbfgs_direction(state: LBFGSState, config: LBFGSConfig) -> tuple[FloatArray, float, bool]:
    """Search direction of the next iteration and its first trial step.

    The quasi-Newton direction ``-H g`` of :func:`two_loop` with ``H0 = gamma I`` and a unit
    first step; on the first iteration (no pairs), or if the quasi-Newton direction is not a
    finite descent direction, :func:`steepest_descent`.

    Parameters
    ----------
    state : LBFGSState
        Current state (not modified); its gradient must be nonzero.
    config : LBFGSConfig

    Returns
    -------
    d : ndarray, shape (n,)
        Search direction.
    step0 : float
        First trial step length (in units of ``d``).
    reset : bool
        Whether the memory must be cleared (the quasi-Newton direction was unusable).
    """
    if state.count > 0:
        d = -two_loop(state.g, state.S, state.Y, state.rho, state.pair_indices(), state.gamma)
        dg = float(state.g @ d)
        if math.isfinite(dg) and dg < 0.0 and np.all(np.isfinite(d)):
            return d, 1.0, False
        return (*steepest_descent(state, config), True)
    return (*steepest_descent(state, config), False)


def reset_memory(state: LBFGSState) -> LBFGSState:
    """A copy of ``state`` with no correction pairs and ``gamma = 1``."""
    return replace(
        state,
        S=np.zeros_like(state.S),
        Y=np.zeros_like(state.Y),
        rho=np.zeros_like(state.rho),
        head=0,
        count=0,
        gamma=1.0,
    )


def update_memory(
    state: LBFGSState, s: FloatArray, y: FloatArray, config: LBFGSConfig
) -> tuple[LBFGSState, bool]:
    """Store the correction pair ``(s, y)`` if it passes the curvature test.

    With ``config.damping``, ``y`` is first Powell-damped (with ``B0 = I / gamma`` standing
    in for the Hessian approximation). The pair is kept when
    ``s.y > curvature_eps ||s|| ||y||``; it then becomes the newest pair and sets
    ``gamma = s.y / y.y``.

    Parameters
    ----------
    state : LBFGSState
        State whose memory receives the pair (not modified).
    s, y : ndarray, shape (n,)
        Step and gradient change.
    config : LBFGSConfig

    Returns
    -------
    new_state : LBFGSState
        ``state`` with the updated memory (``state`` itself if the pair was skipped).
    skipped : bool
        Whether the pair failed the curvature test.
    """
    gamma = state.gamma
    sy = float(s @ y)
    s_norm = float(np.linalg.norm(s))
    if config.damping and s_norm > 0.0:
        sBs = s_norm**2 / gamma
        if sy < 0.2 * sBs:
            theta = 0.8 * sBs / (sBs - sy)
            y = theta * y + (1.0 - theta) * (s / gamma)
            sy = float(s @ y)
    y_norm = float(np.linalg.norm(y))
    if not (sy > config.curvature_eps * s_norm * y_norm and math.isfinite(sy) and sy > 0.0):
        return state, True
    S, Y, rho = state.S.copy(), state.Y.copy(), state.rho.copy()
    head = state.head
    S[head] = s
    Y[head] = y
    rho[head] = 1.0 / sy
    new_state = replace(
        state,
        S=S,
        Y=Y,
        rho=rho,
        head=(head + 1) % state.memory,
        count=min(state.count + 1, state.memory),
        gamma=sy / (y_norm * y_norm),
    )
    return new_state, False


def _search(
    fun: Objective,
    state: LBFGSState,
    d: FloatArray,
    step0: float,
    max_evals: int,
    config: LBFGSConfig,
) -> tuple[TrialPoint | None, bool, str, int]:
    return search_lower(
        fun,
        state.x,
        state.f,
        state.g,
        d,
        step0,
        c1=config.c1,
        c2=config.c2,
        max_evals=max_evals,
        step_max=config.step_max,
    )


def lbfgs_step(
    fun: Objective,
    state: LBFGSState,
    config: LBFGSConfig | None = None,
    *,
    max_evals: int | None = None,
) -> tuple[LBFGSState, StepInfo]:
    """Perform one L-BFGS iteration.

    The search direction and first trial step come from :func:`lbfgs_direction`. A
    strong-Wolfe line search follows, and the iterate moves to the lowest-valued finite trial
    point if it is strictly lower than ``state.f``. If no lower point is found along a
    quasi-Newton direction, the memory is cleared and the search is retried once along
    steepest descent; if that fails too, the state keeps its point, ``n_fail`` is incremented
    and ``info.accepted`` is False. The new pair is stored by :func:`update_memory`.

    The line searches are truncated so that the step spends at most ``max_evals``
    evaluations; with ``max_evals < 1`` the state is returned unchanged with
    ``info.accepted`` False ("evaluation budget exhausted").

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)``, ``x`` and ``g`` of shape (n,).
    state : LBFGSState
        Current state; not modified.
    config : LBFGSConfig, optional
    max_evals : int, optional
        Objective evaluations this step may spend (``None``: no limit); a driver with a
        total budget passes what is left of it.

    Returns
    -------
    new_state : LBFGSState
    info : StepInfo
    """
    config = LBFGSConfig() if config is None else config
    if state.memory != config.memory:
        raise ValueError(f"state has memory {state.memory}, config has {config.memory}")
    budget = math.inf if max_evals is None else max_evals
    if budget < 1 or inf_norm(state.g) == 0.0:
        reason = "evaluation budget exhausted" if budget < 1 else "gradient is zero"
        return state, step_info(state, state, n_evals=0, accepted=False, message=reason)

    d, step0, reset = lbfgs_direction(state, config)
    max_ls = int(min(config.max_linesearch, budget))
    best, ls_ok, message, n_evals = _search(fun, state, d, step0, max_ls, config)

    if best is None and (state.count > 0 and not reset) and budget - n_evals >= 1:
        reset = True
        d, step0 = steepest_descent(state, config)
        max_ls = int(min(config.max_linesearch, budget - n_evals))
        best, ls_ok, message, m = _search(fun, state, d, step0, max_ls, config)
        n_evals += m

    memory = reset_memory(state) if reset else state
    counts = {"n_iter": state.n_iter + 1, "n_eval": state.n_eval + n_evals}
    if best is None:
        new_state = replace(memory, **counts, n_fail=state.n_fail + 1)
        message = f"no lower value found along the search direction ({message})"
        info = step_info(
            state, new_state, n_evals=n_evals, accepted=False, reset=reset, message=message
        )
        return new_state, info

    f_new, x_new, step, g_new = best.f, best.x, best.step, best.g
    memory, pair_skipped = update_memory(memory, x_new - state.x, g_new - state.g, config)
    stalled = state.f - f_new <= config.ftol * max(abs(state.f), abs(f_new), TINY)
    new_state = replace(
        memory,
        x=x_new,
        f=f_new,
        g=g_new,
        **counts,
        n_fail=0,
        n_stall=state.n_stall + 1 if stalled else 0,
    )
    info = step_info(
        state,
        new_state,
        n_evals=n_evals,
        accepted=True,
        step=step,
        ls_success=ls_ok,
        reset=reset,
        pair_skipped=pair_skipped,
        message=message,
    )
    return new_state, info
