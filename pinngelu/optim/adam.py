"""Adam with explicit, serialisable state, and simple learning-rate schedules.

Kingma & Ba, "Adam: A method for stochastic optimization", ICLR 2015 (Algorithm 1).
:func:`adam_update` returns the update to *add* to the parameters, as in optax::

    step, state = adam_update(state, g, lr=1e-3)
    x = x + step

For :func:`~pinngelu.optim.minimize.minimize`, Adam also comes as the same three
pieces as the other methods: settings :class:`AdamConfig`, a run state
:class:`AdamRun` (iterate, value, gradient, moments, best point, counters) built by
:func:`adam_run_init`, and one iteration :func:`adam_step` with its stop test
:func:`adam_stop_test`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .common import (
    FloatArray,
    Objective,
    StepInfo,
    all_finite,
    check_real,
    evaluate,
    inf_norm,
    start_point,
    step_info,
    validate,
)
from .stopping import STOP_REASONS, gradient_converged

__all__ = [
    "AdamConfig",
    "AdamRun",
    "AdamState",
    "Schedule",
    "adam_init",
    "adam_run_init",
    "adam_step",
    "adam_stop_reason",
    "adam_stop_test",
    "adam_update",
    "constant_schedule",
    "exponential_decay",
]

Schedule = Callable[[int], float]
"""A learning-rate schedule ``lr(t) -> float`` of the number ``t`` of updates done."""


@dataclass
class AdamState:
    """State of Adam.

    Attributes
    ----------
    m : ndarray, shape (n,)
        Exponential moving average of the gradient (first moment).
    v : ndarray, shape (n,)
        Exponential moving average of the squared gradient (second moment).
    t : int
        Number of updates performed.
    """

    m: FloatArray
    v: FloatArray
    t: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain-data copy (numpy arrays and an ``int``), suitable for ``np.savez``."""
        return {"m": self.m.copy(), "v": self.v.copy(), "t": int(self.t)}

    @classmethod
    def from_dict(cls, data: Any) -> AdamState:
        """Rebuild a state from :meth:`to_dict` output (or an ``np.load`` result of it)."""
        m = np.array(data["m"], dtype=np.float64, copy=True)
        v = np.array(data["v"], dtype=np.float64, copy=True)
        if m.shape != v.shape:
            raise ValueError("m and v must have the same shape")
        return cls(m=m, v=v, t=int(np.asarray(data["t"]).item()))


def adam_init(x: ArrayLike) -> AdamState:
    """Zero moments for parameters shaped like ``x``.

    Parameters
    ----------
    x : array_like, shape (n,)
        Parameters (only the shape is used).

    Returns
    -------
    AdamState
    """
    shape = np.shape(x)
    return AdamState(m=np.zeros(shape), v=np.zeros(shape), t=0)


def adam_update(
    state: AdamState,
    g: ArrayLike,
    lr: float | Schedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[FloatArray, AdamState]:
    """One Adam update.

    Parameters
    ----------
    state : AdamState
        Current state; not modified.
    g : array_like, shape (n,)
        Gradient at the current parameters.
    lr : float or callable
        Learning rate, or a schedule ``lr(t) -> float`` evaluated at the number of updates
        already performed (``t = 0`` for the first update).
    b1, b2 : float
        Decay rates of the first and second moment averages.
    eps : float
        Added to the square root of the bias-corrected second moment.

    Returns
    -------
    step : ndarray, shape (n,)
        ``-lr * m_hat / (sqrt(v_hat) + eps)``, to be added to the parameters.
    new_state : AdamState
    """
    g = np.asarray(g, dtype=np.float64)
    if g.shape != state.m.shape:
        raise ValueError(f"gradient shape {g.shape} does not match state shape {state.m.shape}")
    rate = float(lr(state.t)) if callable(lr) else float(lr)
    t = state.t + 1
    m = b1 * state.m + (1.0 - b1) * g
    v = b2 * state.v + (1.0 - b2) * (g * g)
    m_hat = m / (1.0 - b1**t)
    v_hat = v / (1.0 - b2**t)
    step = -rate * m_hat / (np.sqrt(v_hat) + eps)
    return step, AdamState(m=m, v=v, t=t)


def constant_schedule(lr: float) -> Schedule:
    """Schedule returning ``lr`` at every step.

    Parameters
    ----------
    lr : float

    Returns
    -------
    callable
        ``schedule(t) -> lr``.
    """
    value = float(lr)
    return lambda t: value


def exponential_decay(
    lr0: float, decay_rate: float, decay_steps: int, staircase: bool = False
) -> Schedule:
    """Exponentially decaying schedule ``lr0 * decay_rate ** (t / decay_steps)``.

    Parameters
    ----------
    lr0 : float
        Learning rate at ``t = 0``.
    decay_rate : float
        Factor applied every ``decay_steps`` steps.
    decay_steps : int
        Number of steps over which the rate is multiplied by ``decay_rate``.
    staircase : bool, optional
        Use ``t // decay_steps`` (piecewise constant) instead of ``t / decay_steps``.

    Returns
    -------
    callable
        ``schedule(t) -> float``.
    """
    if decay_steps <= 0:
        raise ValueError("decay_steps must be positive")
    lr0, decay_rate = float(lr0), float(decay_rate)

    def schedule(t: int) -> float:
        p = (t // decay_steps) if staircase else (t / decay_steps)
        return lr0 * decay_rate**p

    return schedule


# --------------------------------------------------------------------------- driven runs


@dataclass(frozen=True)
class AdamConfig:
    """Settings of Adam as a method of :func:`~pinngelu.optim.minimize.minimize`.

    Adam has no convergence test by default (``gtol = gtol_abs = 0`` stop only on an
    exactly zero gradient), so the driver needs a budget.

    Attributes
    ----------
    lr : float or callable
        Learning rate ``> 0``, or a schedule ``lr(t) -> float``
        (:func:`constant_schedule`, :func:`exponential_decay`).
    b1, b2 : float
        Decay rates of the moment averages, in ``[0, 1)``.
    eps : float
        Added to the square root of the second moment (``>= 0``).
    gtol, gtol_abs : float
        Gradient tests: stop when ``||g||_inf <= gtol ||g0||_inf`` or
        ``||g||_inf <= gtol_abs`` at the new iterate.

    Raises
    ------
    ValueError
        If a number is out of range or not a number (booleans included); the message
        names the setting and the value.
    """

    lr: float | Schedule = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    gtol: float = 0.0
    gtol_abs: float = 0.0

    def __post_init__(self) -> None:
        if not callable(self.lr):
            object.__setattr__(self, "lr", check_real("AdamConfig.lr", self.lr, strict=True))
        for name in ("b1", "b2"):
            object.__setattr__(
                self, name, check_real(f"AdamConfig.{name}", getattr(self, name), below=1.0)
            )
        validate(self, nonnegative=("eps", "gtol", "gtol_abs"))

    @property
    def has_tolerance(self) -> bool:
        """Whether a gradient test can stop a run before the gradient is exactly zero."""
        return self.gtol > 0.0 or self.gtol_abs > 0.0


@dataclass
class AdamRun:
    """State of an Adam run driven by :func:`adam_step`.

    Attributes
    ----------
    x : ndarray, shape (n,)
        Current iterate (Adam does not require a decrease: it may be worse than the
        best point).
    f : float
        Objective value at ``x``.
    g : ndarray, shape (n,)
        Gradient at ``x``.
    moments : AdamState
        The moment estimates and the update count.
    best_x : ndarray, shape (n,)
        Lowest-valued iterate seen.
    best_f : float
        Objective value at ``best_x``.
    best_g : ndarray, shape (n,)
        Gradient at ``best_x``.
    n_iter, n_eval : int
        Iterations performed and objective evaluations (the initial one included).
    gnorm_init : float
        ``||g||_inf`` at the starting point (reference of the relative gradient test).
    """

    x: FloatArray
    f: float
    g: FloatArray
    moments: AdamState
    best_x: FloatArray
    best_f: float
    best_g: FloatArray
    n_iter: int = 0
    n_eval: int = 0
    gnorm_init: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """Plain-data copy (arrays and Python scalars; the moments as ``m``, ``v``,
        ``t``), suitable for ``np.savez``."""
        out: dict[str, Any] = {
            "x": self.x.copy(),
            "f": float(self.f),
            "g": self.g.copy(),
            "best_x": self.best_x.copy(),
            "best_f": float(self.best_f),
            "best_g": self.best_g.copy(),
            "n_iter": int(self.n_iter),
            "n_eval": int(self.n_eval),
            "gnorm_init": float(self.gnorm_init),
        }
        out.update(self.moments.to_dict())
        return out

    @classmethod
    def from_dict(cls, data: Any) -> AdamRun:
        """Rebuild a run state from :meth:`to_dict` output (or an ``np.load`` result)."""

        def arr(k: str) -> FloatArray:
            return np.array(data[k], dtype=np.float64, copy=True)

        def num(k: str) -> Any:
            return np.asarray(data[k]).item()

        return cls(
            x=arr("x"),
            f=float(num("f")),
            g=arr("g"),
            moments=AdamState.from_dict(data),
            best_x=arr("best_x"),
            best_f=float(num("best_f")),
            best_g=arr("best_g"),
            n_iter=int(num("n_iter")),
            n_eval=int(num("n_eval")),
            gnorm_init=float(num("gnorm_init")),
        )


def adam_run_init(fun: Objective, x0: ArrayLike, config: AdamConfig | None = None) -> AdamRun:
    """Evaluate the objective at ``x0`` and build the run state (zero moments).

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)`` with ``x`` and ``g`` of shape (n,).
    x0 : array_like, shape (n,)
        Starting point.
    config : AdamConfig, optional
        Not used; accepted for the same signature as the other methods.

    Returns
    -------
    AdamRun

    Raises
    ------
    ValueError
        If ``x0`` is not 1-D or the objective or gradient is not finite at ``x0``.
    """
    x = start_point(x0)
    f, g = evaluate(fun, x, x.shape[0])
    if not all_finite(f, g):
        raise ValueError("objective or gradient is not finite at the starting point")
    return AdamRun(
        x=x,
        f=f,
        g=g,
        moments=adam_init(x),
        best_x=x,
        best_f=f,
        best_g=g,
        n_eval=1,
        gnorm_init=inf_norm(g),
    )


def adam_step(
    fun: Objective,
    state: AdamRun,
    config: AdamConfig | None = None,
    *,
    max_evals: int | None = None,
) -> tuple[AdamRun, StepInfo]:
    """One Adam iteration: :func:`adam_update` with the gradient at ``state.x``, then
    one evaluation at the new iterate.

    The iterate moves whatever the new value (Adam needs no decrease); the best point
    is kept apart.  A non-finite value or gradient at the new iterate leaves the state
    at its point (``info.accepted`` False).

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)``, ``x`` and ``g`` of shape (n,).
    state : AdamRun
        Current state; not modified.
    config : AdamConfig, optional
    max_evals : int, optional
        Evaluations this step may spend (``None``: no limit); with ``max_evals < 1``
        the state is returned unchanged with ``info.accepted`` False.

    Returns
    -------
    new_state : AdamRun
    info : StepInfo
        ``info.step`` is the learning rate used.
    """
    config = AdamConfig() if config is None else config
    if max_evals is not None and max_evals < 1:
        info = step_info(
            state, state, n_evals=0, accepted=False, message="evaluation budget exhausted"
        )
        return state, info
    lr = config.lr
    rate = float(lr(state.moments.t)) if callable(lr) else float(lr)
    upd, moments = adam_update(state.moments, state.g, rate, config.b1, config.b2, config.eps)
    x_new = state.x + upd
    f_new, g_new = evaluate(fun, x_new, x_new.shape[0])
    counts = {"n_iter": state.n_iter + 1, "n_eval": state.n_eval + 1}
    if not all_finite(f_new, g_new):
        new = replace(state, **counts)
        msg = "non-finite objective at the new iterate; kept the best point"
        return new, step_info(state, new, n_evals=1, accepted=False, step=rate, message=msg)
    better = f_new < state.best_f
    new = AdamRun(
        x=x_new,
        f=f_new,
        g=g_new,
        moments=moments,
        best_x=x_new if better else state.best_x,
        best_f=f_new if better else state.best_f,
        best_g=g_new if better else state.best_g,
        gnorm_init=state.gnorm_init,
        **counts,
    )
    return new, step_info(state, new, n_evals=1, accepted=True, step=rate, message="step taken")


def adam_stop_test(state: AdamRun, info: StepInfo, config: AdamConfig) -> str | None:
    """Which stopping test the step just taken meets: ``"failed"`` (a non-finite value
    at the new iterate), ``"gtol"`` (the gradient tests of ``config`` at the new
    iterate) or ``None``."""
    if not info.accepted:
        return "failed"
    if gradient_converged(info.gnorm, state.gnorm_init, config):
        return "gtol"
    return None


def adam_stop_reason(state: AdamRun, info: StepInfo, config: AdamConfig) -> str | None:
    """:func:`adam_stop_test` as a reason: ``"Adam stopped: <info.message>"``, the
    entry of :data:`~pinngelu.optim.stopping.STOP_REASONS`, or ``None``."""
    test = adam_stop_test(state, info, config)
    if test is None:
        return None
    if test == "failed":
        return f"Adam stopped: {info.message}"
    return STOP_REASONS[test]
