"""The L-BFGS driver: :func:`minimize_lbfgs` and its :class:`OptimizeResult`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .lbfgs import Objective, lbfgs_init, lbfgs_step
from .lbfgs_state import LBFGSConfig, LBFGSState, StepInfo
from .stopping import (
    STATUS_CALLBACK,
    STATUS_FTOL,
    STATUS_GTOL,
    STATUS_LINESEARCH,
    STATUS_MAX_EVAL,
    STATUS_MAX_ITER,
    STATUS_TIME_LIMIT,
    STATUS_XTOL,
    gradient_converged,
    lbfgs_stop_test,
)

__all__ = ["OptimizeResult", "minimize_lbfgs"]

FloatArray = NDArray[np.float64]

_STATUS = {"gtol": STATUS_GTOL, "ftol": STATUS_FTOL, "xtol": STATUS_XTOL}


@dataclass
class OptimizeResult:
    """Result of :func:`minimize_lbfgs`.

    Attributes
    ----------
    x : ndarray, shape (n,)
        Best point found (never worse than ``x0``).
    fun : float
        Objective value at ``x``.
    grad : ndarray, shape (n,)
        Gradient at ``x``.
    n_iter : int
        Iterations performed.
    n_eval : int
        Objective evaluations performed.
    success : bool
        Whether a convergence test (``gtol``, ``ftol``, ``xtol``) was met.
    status : int
        0 gtol, 1 ftol, 2 xtol, 3 max_iter, 4 max_eval, 5 time_limit, 6 line search could not
        find a lower value, 7 stopped by the callback.
    message : str
        Description of ``status``.
    history : ndarray, shape (n_iter + 1,)
        Objective value at the start and after every iteration.
    elapsed : float
        Wall-clock time in seconds.
    state : LBFGSState
        Final state, e.g. to resume with :func:`lbfgs_step`.
    """

    x: FloatArray
    fun: float
    grad: FloatArray
    n_iter: int
    n_eval: int
    success: bool
    status: int
    message: str
    history: FloatArray
    elapsed: float
    state: LBFGSState = field(repr=False)


def minimize_lbfgs(
    fun: Objective,
    x0: ArrayLike,
    config: LBFGSConfig | None = None,
    callback: Callable[[LBFGSState, StepInfo], bool | None] | None = None,
    **overrides: Any,
) -> OptimizeResult:
    """Minimise ``fun`` with L-BFGS.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)``, ``x`` and ``g`` of shape (n,).
    x0 : array_like, shape (n,)
        Starting point; the objective must be finite there.
    config : LBFGSConfig, optional
        Settings; defaults to ``LBFGSConfig()``.
    callback : callable, optional
        ``callback(state, info)`` called after every iteration; returning ``True`` stops.
    **overrides
        Fields of :class:`LBFGSConfig` replacing those of ``config``.

    Returns
    -------
    OptimizeResult
        The best point found, which is never worse than ``x0``.
    """
    t_start = time.perf_counter()
    config = LBFGSConfig() if config is None else config
    if overrides:
        unknown = set(overrides) - {f.name for f in fields(LBFGSConfig)}
        if unknown:
            raise TypeError(f"unknown LBFGSConfig fields: {sorted(unknown)}")
        config = replace(config, **overrides)
    state = lbfgs_init(fun, x0, config)
    history = [state.f]

    status: int | None = None
    if gradient_converged(
        float(np.max(np.abs(state.g))) if state.n else 0.0, state.gnorm_init, config
    ):
        status = STATUS_GTOL
    while status is None:
        if config.max_iter is not None and state.n_iter >= config.max_iter:
            status = STATUS_MAX_ITER
            break
        if config.max_eval is not None and state.n_eval >= config.max_eval:
            status = STATUS_MAX_EVAL
            break
        if config.time_limit is not None and time.perf_counter() - t_start >= config.time_limit:
            status = STATUS_TIME_LIMIT
            break
        state, info = lbfgs_step(fun, state, config)
        history.append(state.f)
        stop = callback(state, info) if callback is not None else None
        test = lbfgs_stop_test(state, info, config)
        if test == "failed":
            if config.max_eval is not None and state.n_eval >= config.max_eval:
                status = STATUS_MAX_EVAL
            else:
                status = STATUS_LINESEARCH
        elif test is not None:
            status = _STATUS[test]
        elif stop:
            status = STATUS_CALLBACK

    messages = {
        STATUS_GTOL: "gradient norm below tolerance",
        STATUS_FTOL: f"relative decrease below ftol for {config.ftol_iters} iterations",
        STATUS_XTOL: "step below xtol",
        STATUS_MAX_ITER: "maximum number of iterations reached",
        STATUS_MAX_EVAL: "maximum number of function evaluations reached",
        STATUS_TIME_LIMIT: "time limit reached",
        STATUS_LINESEARCH: "line search could not find a lower value",
        STATUS_CALLBACK: "stopped by callback",
    }
    return OptimizeResult(
        x=state.x.copy(),
        fun=state.f,
        grad=state.g.copy(),
        n_iter=state.n_iter,
        n_eval=state.n_eval,
        success=status in (STATUS_GTOL, STATUS_FTOL, STATUS_XTOL),
        status=status,
        message=messages[status],
        history=np.asarray(history, dtype=np.float64),
        elapsed=time.perf_counter() - t_start,
        state=state,
    )
