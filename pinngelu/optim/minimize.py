"""One driver for every optimiser: :func:`minimize` and its :class:`OptimizeResult`.

The method is chosen by the type of its settings, in the spirit of scipy's single
``minimize`` and optax's explicit state::

    minimize(fun, x0, LBFGSConfig(memory=10), max_iter=500)
    minimize(fun, x0, QNConfig(QNUpdate.BFGS), max_eval=2000)
    minimize(LeastSquares.from_residuals(r, jac), x0, LMConfig())
    minimize(fun, x0, AdamConfig(lr=1e-2), max_iter=10_000)

Each method is three pure functions on an explicit state (``*_init``, ``*_step``,
``*_stop_test``); the driver loops over the step, keeps the budgets (iterations,
evaluations, time), which no settings object carries, and returns the same
:class:`OptimizeResult` whatever the method.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .adam import AdamConfig, AdamRun, adam_run_init, adam_step, adam_stop_reason, adam_stop_test
from .common import FloatArray, Objective, StepInfo, check_count, check_real, inf_norm
from .lbfgs import lbfgs_init, lbfgs_step
from .lbfgs_state import LBFGSConfig, LBFGSState
from .lm import (
    LeastSquaresObjective,
    LMConfig,
    LMState,
    lm_init,
    lm_step,
    lm_stop_reason,
    lm_stop_test,
)
from .quasi_newton import QNConfig, QNState, qn_init, qn_step, qn_stop_reason, qn_stop_test
from .stopping import (
    STATUS_MESSAGES,
    Status,
    gradient_converged,
    lbfgs_stop_reason,
    lbfgs_stop_test,
)

__all__ = ["Method", "OptimizeResult", "minimize", "minimize_lbfgs"]

Method = LBFGSConfig | QNConfig | LMConfig | AdamConfig
"""The settings that choose the method of :func:`minimize`."""

State = LBFGSState | QNState | LMState | AdamRun
Callback = Callable[[Any, StepInfo], bool | None]

_CONVERGED = {"gtol": Status.GTOL, "ftol": Status.FTOL, "xtol": Status.XTOL}


@dataclass
class OptimizeResult:
    """Result of :func:`minimize`, the same for every method.

    Attributes
    ----------
    x : ndarray, shape (n,)
        Best point found (never worse than ``x0``).
    fun : float
        Objective value at ``x``.
    grad : ndarray, shape (n,)
        Gradient at ``x`` (Levenberg-Marquardt: ``2 J^T r``).
    n_iter : int
        Iterations performed.
    n_eval : int
        Objective evaluations performed, the initial one included
        (Levenberg-Marquardt: trial values plus normal-equation evaluations).
    success : bool
        Whether a convergence test (``gtol``, ``ftol``, ``xtol``) was met.
    status : Status
        Why the run stopped: 0 gtol, 1 ftol, 2 xtol, 3 max_iter, 4 max_eval,
        5 time_limit, 6 the step failed (no lower value found, or a non-finite value
        for Adam), 7 stopped by the callback.
    message : str
        Description of ``status`` (the method's own reason for a convergence or a
        failure).
    history : ndarray, shape (n_iter + 1,)
        Objective value at the start and at the iterate after every iteration (the
        current iterate: for Adam it may be above ``fun``).
    elapsed : float
        Wall-clock time in seconds.
    state : LBFGSState, QNState, LMState or AdamRun
        Final state, e.g. to resume with the method's step function.
    """

    x: FloatArray
    fun: float
    grad: FloatArray
    n_iter: int
    n_eval: int
    success: bool
    status: Status
    message: str
    history: FloatArray
    elapsed: float
    state: Any = field(repr=False)


@dataclass(frozen=True)
class _Driver:
    """How :func:`minimize` runs one method (each function takes its settings)."""

    init: Callable[[Any, FloatArray, Any], Any]
    step: Callable[[Any, Any, Any, int | None], tuple[Any, StepInfo]]
    stop_test: Callable[[Any, StepInfo, Any], str | None]
    stop_reason: Callable[[Any, StepInfo, Any], str | None]
    converged_at_start: Callable[[Any, Any], bool]
    n_eval: Callable[[Any], int]
    min_evals: int = 1  # evaluations a step needs to move the iterate


def _least_squares(fun: Any) -> LeastSquaresObjective:
    if not isinstance(fun, LeastSquaresObjective):
        raise TypeError(
            "Levenberg-Marquardt needs an objective with normal(x) -> (f, JtJ, Jtr) and "
            "value(x) -> f methods, e.g. LeastSquares(normal, value) or "
            f"LeastSquares.from_residuals(residuals, jacobian); got {type(fun).__name__}"
        )
    return fun


_DRIVERS: dict[type, _Driver] = {
    LBFGSConfig: _Driver(
        init=lbfgs_init,
        step=lambda fun, s, c, m: lbfgs_step(fun, s, c, max_evals=m),
        stop_test=lbfgs_stop_test,
        stop_reason=lbfgs_stop_reason,
        converged_at_start=lambda s, c: gradient_converged(inf_norm(s.g), s.gnorm_init, c),
        n_eval=lambda s: s.n_eval,
    ),
    QNConfig: _Driver(
        init=qn_init,
        step=lambda fun, s, c, m: qn_step(fun, s, c, max_evals=m),
        stop_test=qn_stop_test,
        stop_reason=qn_stop_reason,
        converged_at_start=lambda s, c: gradient_converged(inf_norm(s.g), s.gnorm_init, c),
        n_eval=lambda s: s.n_eval,
    ),
    LMConfig: _Driver(
        init=lambda fun, x0, c: lm_init(_least_squares(fun).normal, x0, c),
        step=lambda fun, s, c, m: lm_step(fun.normal, fun.value, s, c, max_evals=m),
        stop_test=lm_stop_test,
        stop_reason=lambda s, info, c: lm_stop_reason(s, info),
        converged_at_start=lambda s, c: inf_norm(s.Jtr) <= c.gtol * s.gnorm_init,
        n_eval=lambda s: s.n_eval + s.n_normal,
        min_evals=2,  # a trial value and the normal equations at the new point
    ),
    AdamConfig: _Driver(
        init=adam_run_init,
        step=lambda fun, s, c, m: adam_step(fun, s, c, max_evals=m),
        stop_test=adam_stop_test,
        stop_reason=adam_stop_reason,
        converged_at_start=lambda s, c: gradient_converged(inf_norm(s.g), s.gnorm_init, c),
        n_eval=lambda s: s.n_eval,
    ),
}


def minimize(
    fun: Objective | LeastSquaresObjective,
    x0: ArrayLike,
    method: Method | None = None,
    *,
    max_iter: int | None = None,
    max_eval: int | None = None,
    time_limit: float | None = None,
    callback: Callback | None = None,
) -> OptimizeResult:
    """Minimise ``fun`` from ``x0`` with the method its settings name.

    Parameters
    ----------
    fun : callable or least-squares objective
        For L-BFGS, dense quasi-Newton and Adam: ``fun(x) -> (f, g)`` with ``x`` and
        ``g`` of shape (n,).  For Levenberg-Marquardt: an object with the methods
        ``normal(x) -> (f, JtJ, Jtr)`` (shapes (), (n, n), (n,)) and ``value(x) -> f``
        for ``f = |r(x)|^2`` (a :class:`~pinngelu.optim.lm.LeastSquaresObjective`, e.g.
        :class:`~pinngelu.optim.lm.LeastSquares`, which also serves the other methods).
    x0 : array_like, shape (n,)
        Starting point; the objective must be finite there.
    method : LBFGSConfig, QNConfig, LMConfig or AdamConfig, optional
        The method and its settings; defaults to ``LBFGSConfig()``.
    max_iter : int, optional
        Iteration budget (``None``: no limit).
    max_eval : int, optional
        Evaluation budget, the initial evaluation included (``None``: no limit).  The
        steps are given what is left of it, so it is never exceeded; the run ends when
        too few are left for a step (one; two for Levenberg-Marquardt, a trial value
        and the normal equations).
    time_limit : float, optional
        Wall-clock budget in seconds, checked between iterations (``None``: no limit).
    callback : callable, optional
        ``callback(state, info)`` after every iteration, with the new state and its
        :class:`~pinngelu.optim.common.StepInfo`; returning ``True`` stops the run.

    Returns
    -------
    OptimizeResult
        The best point found, which is never worse than ``x0``, and the final state.

    Raises
    ------
    TypeError
        If ``method`` is not one of the settings types, or Levenberg-Marquardt is given
        an objective without ``normal`` and ``value``.
    ValueError
        If a budget is invalid, Adam is given no budget and no gradient tolerance (it
        would not stop), or the objective is not finite at ``x0``.
    """
    t_start = time.perf_counter()
    config = LBFGSConfig() if method is None else method
    driver = _DRIVERS.get(type(config))
    if driver is None:
        raise TypeError(
            "method must be an LBFGSConfig, QNConfig, LMConfig or AdamConfig, "
            f"got {type(config).__name__}"
        )
    max_iter = None if max_iter is None else check_count("max_iter", max_iter, 0)
    max_eval = None if max_eval is None else check_count("max_eval", max_eval, 1)
    if time_limit is not None:
        time_limit = check_real("time_limit", time_limit)
    no_budget = max_iter is None and max_eval is None and time_limit is None
    if isinstance(config, AdamConfig) and no_budget and not config.has_tolerance:
        raise ValueError(
            "Adam has no convergence test with gtol = gtol_abs = 0: give max_iter, "
            "max_eval or time_limit"
        )

    state = driver.init(fun, x0, config)
    history = [state.f]
    status: Status | None = None
    message = ""
    if driver.converged_at_start(state, config):
        status = Status.GTOL

    def spent() -> bool:  # too few evaluations left for a step
        return max_eval is not None and max_eval - driver.n_eval(state) < driver.min_evals

    while status is None:
        if max_iter is not None and state.n_iter >= max_iter:
            status = Status.MAX_ITER
            break
        if spent():
            status = Status.MAX_EVAL
            break
        if time_limit is not None and time.perf_counter() - t_start >= time_limit:
            status = Status.TIME_LIMIT
            break
        left = None if max_eval is None else max_eval - driver.n_eval(state)
        state, info = driver.step(fun, state, config, left)
        history.append(state.f)
        stop = callback(state, info) if callback is not None else None
        test = driver.stop_test(state, info, config)
        if test == "failed" and spent():
            status = Status.MAX_EVAL
        elif test is not None:
            status = Status.FAILED if test == "failed" else _CONVERGED[test]
            message = driver.stop_reason(state, info, config) or ""
        elif stop:
            status = Status.CALLBACK

    return OptimizeResult(
        x=np.array(state.best_x, dtype=np.float64, copy=True),
        fun=float(state.best_f),
        grad=np.array(state.best_g, dtype=np.float64, copy=True),
        n_iter=state.n_iter,
        n_eval=driver.n_eval(state),
        success=status in (Status.GTOL, Status.FTOL, Status.XTOL),
        status=status,
        message=message or STATUS_MESSAGES[status],
        history=np.asarray(history, dtype=np.float64),
        elapsed=time.perf_counter() - t_start,
        state=state,
    )


def minimize_lbfgs(
    fun: Objective,
    x0: ArrayLike,
    config: LBFGSConfig | None = None,
    *,
    max_iter: int | None = None,
    max_eval: int | None = None,
    time_limit: float | None = None,
    callback: Callback | None = None,
    **overrides: Any,
) -> OptimizeResult:
    """:func:`minimize` with L-BFGS, whose settings may be given as keywords.

    ``minimize_lbfgs(fun, x0, config, memory=10, max_iter=500)`` is
    ``minimize(fun, x0, replace(config, memory=10), max_iter=500)``.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)``, ``x`` and ``g`` of shape (n,).
    x0 : array_like, shape (n,)
        Starting point.
    config : LBFGSConfig, optional
        Settings; defaults to ``LBFGSConfig()``.
    max_iter, max_eval, time_limit, callback
        The budgets and callback of :func:`minimize`.
    **overrides
        Fields of :class:`LBFGSConfig` replacing those of ``config``.

    Returns
    -------
    OptimizeResult

    Raises
    ------
    TypeError
        If an override is not a field of :class:`LBFGSConfig`.
    """
    config = LBFGSConfig() if config is None else config
    if overrides:
        unknown = set(overrides) - {f.name for f in fields(LBFGSConfig)}
        if unknown:
            raise TypeError(f"unknown LBFGSConfig fields: {sorted(unknown)}")
        config = replace(config, **overrides)
    return minimize(
        fun,
        x0,
        config,
        max_iter=max_iter,
        max_eval=max_eval,
        time_limit=time_limit,
        callback=callback,
    )
