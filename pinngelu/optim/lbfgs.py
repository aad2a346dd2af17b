"""Limited-memory BFGS with explicit, serialisable state.

The optimiser is split into pure functions on an :class:`LBFGSState`, in the style of optax:

* :func:`lbfgs_init` evaluates the objective at the starting point and builds the state;
* :func:`lbfgs_step` performs one iteration and returns a new state (the input state is left
  untouched) together with a :class:`StepInfo`;
* :func:`minimize_lbfgs` loops over :func:`lbfgs_step` and applies the stopping tests.

The state holds only numpy arrays and Python scalars; :meth:`LBFGSState.to_dict` and
:meth:`LBFGSState.from_dict` convert it to and from a flat dict suitable for ``np.savez``, and a
restored state continues bit-identically.

The objective is ``fun(x) -> (f, g)`` with ``x`` and ``g`` of shape (n,). The iterate only ever
moves to a point with a strictly lower finite value, and among all points evaluated it is the one
with the lowest value, so ``state.x`` is always the best point seen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .linesearch import strong_wolfe

__all__ = [
    "LBFGSConfig",
    "LBFGSState",
    "StepInfo",
    "OptimizeResult",
    "lbfgs_init",
    "lbfgs_step",
    "minimize_lbfgs",
    "two_loop",
]

FloatArray = NDArray[np.float64]
Objective = Callable[[FloatArray], tuple[float, ArrayLike]]

_TINY = np.finfo(np.float64).tiny

# status codes of OptimizeResult
STATUS_GTOL = 0
STATUS_FTOL = 1
STATUS_XTOL = 2
STATUS_MAX_ITER = 3
STATUS_MAX_EVAL = 4
STATUS_TIME_LIMIT = 5
STATUS_LINESEARCH = 6
STATUS_CALLBACK = 7


@dataclass(frozen=True)
class LBFGSConfig:
    """Settings of L-BFGS.

    Attributes
    ----------
    memory : int
        Number of correction pairs ``(s, y)`` kept.
    max_iter : int or None
        Maximum number of iterations of :func:`minimize_lbfgs` (``None``: no limit).
    max_eval : int or None
        Maximum number of objective evaluations, the initial one included (``None``: no
        limit). The line search is truncated so that the budget is never exceeded.
    time_limit : float or None
        Wall-clock budget of :func:`minimize_lbfgs` in seconds, checked between iterations.
    gtol : float
        Relative gradient test: stop when ``||g||_inf <= gtol * ||g0||_inf`` with ``g0`` the
        gradient at the starting point. Invariant to scaling of the objective.
    gtol_abs : float
        Absolute gradient test: stop when ``||g||_inf <= gtol_abs``.
    ftol : float
        Relative decrease test: an iteration is "stalled" when
        ``f_prev - f <= ftol * max(|f_prev|, |f|, tiny)``; stop after ``ftol_iters``
        consecutive stalled iterations. Relative, so it works for losses of any magnitude.
    ftol_iters : int
        Number of consecutive stalled iterations that triggers the ``ftol`` test.
    xtol : float
        Step test: stop when ``||x_new - x||_inf <= xtol * max(||x_new||_inf, tiny)``.
    c1, c2 : float
        Strong-Wolfe constants of the line search.
    max_linesearch : int
        Maximum number of evaluations per line search.
    step_max : float
        Largest step length tried by the line search (in units of the search direction).
    init_step : float
        Length (2-norm) of the first trial displacement along steepest descent, used on the
        first iteration and after a memory reset; later iterations try the unit quasi-Newton
        step first.
    curvature_eps : float
        Pairs with ``s.y <= curvature_eps * ||s|| ||y||`` are skipped.
    damping : bool
        Powell damping of ``y`` (with ``B0 = I / gamma`` standing in for the Hessian
        approximation) instead of skipping pairs with too little curvature.
    """

    memory: int = 20
    max_iter: int | None = 1000
    max_eval: int | None = None
    time_limit: float | None = None
    gtol: float = 1e-12
    gtol_abs: float = 0.0
    ftol: float = 1e-15
    ftol_iters: int = 3
    xtol: float = 0.0
    c1: float = 1e-4
    c2: float = 0.9
    max_linesearch: int = 25
    step_max: float = 1e10
    init_step: float = 1.0
    curvature_eps: float = 1e-10
    damping: bool = False

    def __post_init__(self) -> None:
        if self.memory < 1:
            raise ValueError("memory must be at least 1")
        if not 0.0 < self.c1 < self.c2 < 1.0:
            raise ValueError("need 0 < c1 < c2 < 1")
        if self.max_linesearch < 1:
            raise ValueError("max_linesearch must be at least 1")
        if self.init_step <= 0.0:
            raise ValueError("init_step must be positive")
        if self.ftol_iters < 1:
            raise ValueError("ftol_iters must be at least 1")


_INT_FIELDS = ("head", "count", "n_iter", "n_eval", "n_fail", "n_stall")
_FLOAT_FIELDS = ("f", "gamma", "f_init", "gnorm_init")
_ARRAY_FIELDS = ("x", "g", "S", "Y", "rho")


@dataclass
class LBFGSState:
    """State of L-BFGS.

    Attributes
    ----------
    x : ndarray, shape (n,)
        Current iterate; the lowest-valued point evaluated so far.
    f : float
        Objective value at ``x``.
    g : ndarray, shape (n,)
        Gradient at ``x``.
    S, Y : ndarray, shape (memory, n)
        Ring buffers of the steps ``s_k = x_{k+1} - x_k`` and gradient changes
        ``y_k = g_{k+1} - g_k``.
    rho : ndarray, shape (memory,)
        ``1 / (s_k . y_k)`` for each stored pair.
    head : int
        Slot of the ring buffers that receives the next pair.
    count : int
        Number of valid pairs (``<= memory``); the newest pair is at ``head - 1``.
    gamma : float
        Initial inverse-Hessian scaling ``H0 = gamma I`` (``s.y / y.y`` of the newest pair).
    n_iter : int
        Iterations performed (failed ones included).
    n_eval : int
        Objective evaluations performed, the initial one included.
    n_fail : int
        Consecutive iterations in which no decrease could be found.
    n_stall : int
        Consecutive iterations that met the relative ``ftol`` decrease test.
    f_init : float
        Objective value at the starting point.
    gnorm_init : float
        ``||g||_inf`` at the starting point (reference of the relative gradient test).
    """

    x: FloatArray
    f: float
    g: FloatArray
    S: FloatArray
    Y: FloatArray
    rho: FloatArray
    head: int = 0
    count: int = 0
    gamma: float = 1.0
    n_iter: int = 0
    n_eval: int = 0
    n_fail: int = 0
    n_stall: int = 0
    f_init: float = math.nan
    gnorm_init: float = math.nan

    @property
    def best_x(self) -> FloatArray:
        """Best point seen, shape (n,) (identical to ``x``)."""
        return self.x

    @property
    def best_f(self) -> float:
        """Objective value at :attr:`best_x`."""
        return self.f

    @property
    def best_g(self) -> FloatArray:
        """Gradient at :attr:`best_x`, shape (n,)."""
        return self.g

    @property
    def n(self) -> int:
        """Number of variables."""
        return int(self.x.shape[0])

    @property
    def memory(self) -> int:
        """Capacity of the ring buffers."""
        return int(self.S.shape[0])

    def pair_indices(self) -> NDArray[np.intp]:
        """Buffer slots of the valid pairs, oldest first, shape (count,)."""
        m = self.memory
        return (self.head - self.count + np.arange(self.count)) % m

    def to_dict(self) -> dict[str, Any]:
        """Plain-data copy: numpy arrays and Python ``int``/``float`` values.

        Returns
        -------
        dict
            Suitable for ``np.savez(path, **state.to_dict())``.
        """
        out: dict[str, Any] = {}
        for name in _ARRAY_FIELDS:
            out[name] = np.array(getattr(self, name), dtype=np.float64, copy=True)
        for name in _INT_FIELDS:
            out[name] = int(getattr(self, name))
        for name in _FLOAT_FIELDS:
            out[name] = float(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls, data: Any) -> LBFGSState:
        """Rebuild a state from :meth:`to_dict` output (or an ``np.load`` result of it).

        Parameters
        ----------
        data : mapping
            Must contain every key written by :meth:`to_dict`; 0-d arrays are accepted for
            the scalar entries.

        Returns
        -------
        LBFGSState
        """
        kwargs: dict[str, Any] = {}
        for name in _ARRAY_FIELDS:
            kwargs[name] = np.array(data[name], dtype=np.float64, copy=True)
        for name in _INT_FIELDS:
            kwargs[name] = int(np.asarray(data[name]).item())
        for name in _FLOAT_FIELDS:
            kwargs[name] = float(np.asarray(data[name]).item())
        state = cls(**kwargs)
        n = state.x.shape[0]
        if state.g.shape != (n,) or state.S.shape != state.Y.shape or state.S.shape[1:] != (n,):
            raise ValueError("inconsistent array shapes in L-BFGS state")
        if state.rho.shape != (state.S.shape[0],):
            raise ValueError("rho does not match the memory size")
        return state


@dataclass
class StepInfo:
    """Diagnostics of one :func:`lbfgs_step`.

    Attributes
    ----------
    n_iter : int
        Iteration number after the step.
    f, f_prev : float
        Objective value after and before the step.
    gnorm : float
        ``||g||_inf`` after the step.
    step : float
        Accepted line-search step length (0 if the step failed).
    step_norm : float
        ``||x_new - x||_inf``.
    n_evals : int
        Objective evaluations spent in this step.
    accepted : bool
        Whether the iterate moved.
    ls_success : bool
        Whether the (last) line search met the strong Wolfe conditions.
    reset : bool
        Whether the memory was cleared during this step.
    pair_skipped : bool
        Whether the new pair failed the curvature test.
    message : str
        Line-search message or reason for failure.
    """

    n_iter: int
    f: float
    f_prev: float
    gnorm: float
    step: float
    step_norm: float
    n_evals: int
    accepted: bool
    ls_success: bool
    reset: bool
    pair_skipped: bool
    message: str


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


def _evaluate(fun: Objective, x: FloatArray, n: int) -> tuple[float, FloatArray]:
    f, g = fun(x)
    g = np.array(g, dtype=np.float64, copy=True).reshape(-1)
    if g.shape != (n,):
        raise ValueError(f"gradient has {g.shape[0]} entries, expected {n}")
    return float(f), g


def _all_finite(f: float, g: FloatArray) -> bool:
    return math.isfinite(f) and bool(np.all(np.isfinite(g)))


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
    x = np.array(x0, dtype=np.float64, copy=True)
    if x.ndim != 1:
        raise ValueError(f"x0 must be 1-D, got shape {x.shape}")
    n = x.shape[0]
    f, g = _evaluate(fun, x, n)
    if not _all_finite(f, g):
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
        gnorm_init=float(np.max(np.abs(g))) if n else 0.0,
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


class _Tracker:
    """Objective wrapper that counts calls and remembers the lowest finite trial point."""

    def __init__(self, fun: Objective, x: FloatArray, d: FloatArray) -> None:
        self.fun = fun
        self.x = x
        self.d = d
        self.n_evals = 0
        self.best: tuple[float, FloatArray, float, FloatArray] | None = None

    def __call__(self, step: float) -> tuple[float, FloatArray]:
        x_trial = self.x + step * self.d
        f, g = _evaluate(self.fun, x_trial, self.x.shape[0])
        self.n_evals += 1
        if _all_finite(f, g) and (self.best is None or f < self.best[0]):
            self.best = (f, x_trial, step, g)
        return f, g


def _line_search(
    fun: Objective,
    state: LBFGSState,
    d: FloatArray,
    step0: float,
    max_evals: int,
    config: LBFGSConfig,
) -> tuple[_Tracker, bool, str]:
    dg0 = float(state.g @ d)
    tracker = _Tracker(fun, state.x, d)
    res = strong_wolfe(
        tracker,
        state.f,
        state.g,
        dg0,
        step0,
        direction=d,
        c1=config.c1,
        c2=config.c2,
        max_evals=max_evals,
        step_max=config.step_max,
    )
    return tracker, res.success, res.message


def lbfgs_step(
    fun: Objective, state: LBFGSState, config: LBFGSConfig | None = None
) -> tuple[LBFGSState, StepInfo]:
    """Perform one L-BFGS iteration.

    The search direction comes from the two-loop recursion with ``H0 = gamma I``; on the first
    iteration, after a reset, or if the quasi-Newton direction is not a descent direction, the
    steepest-descent direction is used with a first trial displacement of length
    ``config.init_step`` (capped by the length of the newest stored step). A strong-Wolfe line
    search follows, and the iterate moves to the lowest-valued finite trial point if it is
    strictly lower than ``state.f``. If no lower point is found, the memory is cleared and the
    search is retried once along steepest descent; if that fails too, the state keeps its
    point, ``n_fail`` is incremented and ``info.accepted`` is False. The new pair is stored
    only if it passes the curvature test (or after Powell damping).

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)``, ``x`` and ``g`` of shape (n,).
    state : LBFGSState
        Current state; not modified.
    config : LBFGSConfig, optional

    Returns
    -------
    new_state : LBFGSState
    info : StepInfo
    """
    config = LBFGSConfig() if config is None else config
    if state.memory != config.memory:
        raise ValueError(f"state has memory {state.memory}, config has {config.memory}")
    budget = math.inf if config.max_eval is None else config.max_eval - state.n_eval
    gnorm = float(np.max(np.abs(state.g))) if state.n else 0.0
    if budget < 1 or gnorm == 0.0:
        reason = "evaluation budget exhausted" if budget < 1 else "gradient is zero"
        info = StepInfo(
            n_iter=state.n_iter,
            f=state.f,
            f_prev=state.f,
            gnorm=gnorm,
            step=0.0,
            step_norm=0.0,
            n_evals=0,
            accepted=False,
            ls_success=False,
            reset=False,
            pair_skipped=False,
            message=reason,
        )
        return state, info

    S, Y, rho = state.S, state.Y, state.rho
    head, count, gamma = state.head, state.count, state.gamma
    reset = False
    n_evals = 0
    last_step_len = (
        float(np.linalg.norm(S[(head - 1) % state.memory])) if count > 0 else config.init_step
    )

    d = None
    if count > 0:
        d = -two_loop(state.g, S, Y, rho, state.pair_indices(), gamma)
        dg = float(state.g @ d)
        if not (math.isfinite(dg) and dg < 0.0 and np.all(np.isfinite(d))):
            d = None
            reset = True

    def steepest() -> tuple[FloatArray, float]:
        gnorm2 = float(np.linalg.norm(state.g))
        length = min(config.init_step, last_step_len) if last_step_len > 0 else config.init_step
        return -state.g, length / gnorm2

    step0 = 1.0
    if d is None:
        d, step0 = steepest()
    max_ls = int(min(config.max_linesearch, budget))
    tracker, ls_ok, message = _line_search(fun, state, d, step0, max_ls, config)
    n_evals += tracker.n_evals
    found = tracker.best is not None and tracker.best[0] < state.f

    if not found and (count > 0 and not reset) and budget - n_evals >= 1:
        reset = True
        d, step0 = steepest()
        max_ls = int(min(config.max_linesearch, budget - n_evals))
        tracker, ls_ok, message = _line_search(fun, state, d, step0, max_ls, config)
        n_evals += tracker.n_evals
        found = tracker.best is not None and tracker.best[0] < state.f

    if reset:
        S, Y, rho = np.zeros_like(S), np.zeros_like(Y), np.zeros_like(rho)
        head, count, gamma = 0, 0, 1.0

    if not found or tracker.best is None:
        new_state = replace(
            state,
            S=S,
            Y=Y,
            rho=rho,
            head=head,
            count=count,
            gamma=gamma,
            n_iter=state.n_iter + 1,
            n_eval=state.n_eval + n_evals,
            n_fail=state.n_fail + 1,
        )
        info = StepInfo(
            n_iter=new_state.n_iter,
            f=state.f,
            f_prev=state.f,
            gnorm=gnorm,
            step=0.0,
            step_norm=0.0,
            n_evals=n_evals,
            accepted=False,
            ls_success=False,
            reset=reset,
            pair_skipped=False,
            message=f"no lower value found along the search direction ({message})",
        )
        return new_state, info

    f_new, x_new, step, g_new = tracker.best
    s = x_new - state.x
    y = g_new - state.g
    sy = float(s @ y)
    s_norm = float(np.linalg.norm(s))
    pair_skipped = True
    if config.damping and s_norm > 0.0:
        sBs = s_norm**2 / gamma
        if sy < 0.2 * sBs:
            theta = 0.8 * sBs / (sBs - sy)
            y = theta * y + (1.0 - theta) * (s / gamma)
            sy = float(s @ y)
    y_norm = float(np.linalg.norm(y))
    if sy > config.curvature_eps * s_norm * y_norm and math.isfinite(sy) and sy > 0.0:
        S, Y, rho = S.copy(), Y.copy(), rho.copy()
        S[head] = s
        Y[head] = y
        rho[head] = 1.0 / sy
        head = (head + 1) % state.memory
        count = min(count + 1, state.memory)
        gamma = sy / (y_norm * y_norm)
        pair_skipped = False

    stalled = state.f - f_new <= config.ftol * max(abs(state.f), abs(f_new), _TINY)
    new_state = replace(
        state,
        x=x_new,
        f=f_new,
        g=g_new,
        S=S,
        Y=Y,
        rho=rho,
        head=head,
        count=count,
        gamma=gamma,
        n_iter=state.n_iter + 1,
        n_eval=state.n_eval + n_evals,
        n_fail=0,
        n_stall=state.n_stall + 1 if stalled else 0,
    )
    info = StepInfo(
        n_iter=new_state.n_iter,
        f=f_new,
        f_prev=state.f,
        gnorm=float(np.max(np.abs(g_new))),
        step=float(step),
        step_norm=float(np.max(np.abs(s))),
        n_evals=n_evals,
        accepted=True,
        ls_success=ls_ok,
        reset=reset,
        pair_skipped=pair_skipped,
        message=message,
    )
    return new_state, info


def _gradient_converged(state: LBFGSState, gnorm: float, config: LBFGSConfig) -> bool:
    return gnorm <= config.gtol_abs or gnorm <= config.gtol * state.gnorm_init


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
    if _gradient_converged(state, float(np.max(np.abs(state.g))) if state.n else 0.0, config):
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
        if not info.accepted:
            if config.max_eval is not None and state.n_eval >= config.max_eval:
                status = STATUS_MAX_EVAL
            else:
                status = STATUS_LINESEARCH
        elif _gradient_converged(state, info.gnorm, config):
            status = STATUS_GTOL
        elif state.n_stall >= config.ftol_iters:
            status = STATUS_FTOL
        elif config.xtol > 0.0 and info.step_norm <= config.xtol * max(
            float(np.max(np.abs(state.x))), _TINY
        ):
            status = STATUS_XTOL
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
