"""Levenberg-Marquardt on the normal equations of a least-squares objective.

For ``f(x) = |r(x)|^2`` with Jacobian ``J`` the step solves

    (J^T J + mu D) delta = -J^T r

by Cholesky, with ``D`` the running maximum of ``diag(J^T J)`` (Marquardt's scaling,
as MINPACK keeps the largest column norms seen; floored relative to its largest
entry).  The step is accepted when the gain ratio

    varrho = (f(x) - f(x + delta)) / (m(0) - m(delta)),
    m(delta) = |r + J delta|^2 = f + 2 delta^T J^T r + delta^T J^T J delta,

is positive, and the damping follows Nielsen's schedule: on acceptance
``mu <- mu max(1/3, 1 - (2 varrho - 1)^3)``, ``nu <- 2``; on rejection
``mu <- mu nu``, ``nu <- 2 nu``.  A failed factorisation (the damped matrix not
numerically positive definite) counts as a rejection.  (A geodesic acceleration
term, Transtrum and Sethna, is not implemented: on the verification cases the cost
of a Levenberg-Marquardt iteration is the normal equations, and the plain method
is not the fastest there; see the benchmarks page.)

The method needs two callables: ``normal(x) -> (f, JtJ, Jtr)`` at the current point,
and ``value(x) -> f`` at trial points.  The state is explicit and serialisable like
L-BFGS's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike

from .lbfgs import FloatArray

__all__ = ["LMConfig", "LMState", "LMInfo", "lm_init", "lm_step", "lm_stop_reason", "minimize_lm"]

Normal = Callable[[FloatArray], tuple[float, FloatArray, FloatArray]]
Value = Callable[[FloatArray], float]


@dataclass(frozen=True)
class LMConfig:
    """Settings of Levenberg-Marquardt.

    Parameters
    ----------
    mu0 : float
        Initial damping relative to the scaling ``D``.
    d_floor : float
        ``D`` is floored at ``d_floor max(D)``.
    max_rejects : int
        Consecutive rejected trial steps before a step counts as failed.
    ftol : float
        Converged when the actual and predicted relative reductions are both below it.
    xtol : float
        Converged when ``|D^(1/2) delta| <= xtol (|D^(1/2) x| + xtol)``.
    gtol : float
        Converged when ``|J^T r|_inf <= gtol |J^T r at x0|_inf``.
    max_bytes : int
        Memory cap for ``J^T J`` and its factor (default 2 GB), checked by the
        training stage before it starts.
    """

    mu0: float = 1e-3
    d_floor: float = 1e-12
    max_rejects: int = 30
    ftol: float = 1e-15
    xtol: float = 1e-15
    gtol: float = 1e-14
    max_bytes: int = 2 * 10**9

    def __post_init__(self) -> None:
        for name in ("mu0", "d_floor"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0.0):
                raise ValueError(f"{name} must be positive and finite, got {v!r}")
        for name in ("ftol", "xtol", "gtol"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
        for name in ("max_rejects", "max_bytes"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")


@dataclass(frozen=True)
class LMState:
    """State of a Levenberg-Marquardt run.

    Attributes
    ----------
    x : ndarray, shape (n,)
        Current (best) point.
    f : float
        ``|r(x)|^2``.
    JtJ : ndarray, shape (n, n)
    Jtr : ndarray, shape (n,)
        Half the gradient at ``x``.
    D : ndarray, shape (n,)
        Scaling (running maximum of ``diag(J^T J)``).
    mu, nu : float
        Damping and its growth factor.
    n_iter, n_eval, n_normal : int
        Iterations, value evaluations, normal-equation evaluations.
    gnorm_init : float
        ``|J^T r|_inf`` at the start.
    converged : str
        Reason of the last step's convergence test ('' if none).
    """

    x: FloatArray
    f: float
    JtJ: FloatArray
    Jtr: FloatArray
    D: FloatArray
    mu: float
    nu: float = 2.0
    n_iter: int = 0
    n_eval: int = 0
    n_normal: int = 0
    gnorm_init: float = math.nan
    converged: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Any) -> LMState:
        kw: dict[str, Any] = {}
        for f in fields(cls):
            v = np.asarray(data[f.name])
            if f.name in ("x", "JtJ", "Jtr", "D"):
                kw[f.name] = np.array(v, dtype=np.float64)
            elif f.name in ("f", "mu", "nu", "gnorm_init"):
                kw[f.name] = float(v)
            elif f.name == "converged":
                kw[f.name] = str(v)
            else:
                kw[f.name] = int(v)
        return cls(**kw)


@dataclass(frozen=True)
class LMInfo:
    """Diagnostics of one :func:`lm_step`: new and old value, ``|J^T r|_inf`` at the
    new point, trial steps rejected, whether the iterate moved, and a message."""

    n_iter: int
    f: float
    f_prev: float
    gnorm: float
    rejects: int
    accepted: bool
    message: str


def _normal(normal: Normal, x: FloatArray) -> tuple[float, FloatArray, FloatArray]:
    f, A, b = normal(x)
    return float(f), np.asarray(A, dtype=np.float64), np.asarray(b, dtype=np.float64)


def lm_init(normal: Normal, x0: ArrayLike, config: LMConfig | None = None) -> LMState:
    """Evaluate the normal equations at ``x0`` and build the state."""
    config = LMConfig() if config is None else config
    x = np.array(x0, dtype=np.float64, copy=True)
    if x.ndim != 1:
        raise ValueError(f"x0 must be 1-D, got shape {x.shape}")
    f, A, b = _normal(normal, x)
    if not (math.isfinite(f) and np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        raise ValueError("residuals or Jacobian are not finite at the starting point")
    D = _scaling(np.zeros(x.shape[0]), A, config)
    return LMState(
        x=x,
        f=f,
        JtJ=A,
        Jtr=b,
        D=D,
        mu=config.mu0,
        n_normal=1,
        gnorm_init=float(np.max(np.abs(b))) if x.size else 0.0,
    )


def _scaling(D: FloatArray, A: FloatArray, config: LMConfig) -> FloatArray:
    D = np.maximum(D, np.diag(A))
    top = float(np.max(D)) if D.size else 0.0
    return np.maximum(D, config.d_floor * top if top > 0.0 else 1.0)


def _solve(A: FloatArray, D: FloatArray, mu: float, b: FloatArray) -> FloatArray | None:
    """``(A + mu diag(D))^-1 (-b)`` by Cholesky; None when the factorisation fails."""
    M = A.copy()
    M.flat[:: A.shape[0] + 1] += mu * D
    try:
        c = scipy.linalg.cho_factor(M, lower=False, overwrite_a=True, check_finite=False)
    except (np.linalg.LinAlgError, ValueError):
        return None
    delta = scipy.linalg.cho_solve(c, -b, check_finite=False)
    return delta if np.all(np.isfinite(delta)) else None


def lm_step(
    normal: Normal, value: Value, state: LMState, config: LMConfig | None = None
) -> tuple[LMState, LMInfo]:
    """One Levenberg-Marquardt iteration: damped steps are tried (the damping grows
    after each rejection) until one lowers ``f``; then the normal equations are
    evaluated at the new point.  After ``max_rejects`` rejections the point stays
    and ``info.accepted`` is False."""
    config = LMConfig() if config is None else config
    A, b, D = state.JtJ, state.Jtr, state.D
    mu, nu = state.mu, state.nu
    n_eval = 0
    rejects = 0
    gnorm = float(np.max(np.abs(b))) if b.size else 0.0
    if gnorm == 0.0:
        return state, LMInfo(state.n_iter, state.f, state.f, 0.0, 0, False, "gradient is zero")
    while rejects < config.max_rejects:
        delta = _solve(A, D, mu, b)
        if delta is None:
            mu, nu, rejects = mu * nu, 2.0 * nu, rejects + 1
            continue
        pred = -(2.0 * float(delta @ b) + float(delta @ (A @ delta)))
        x_new = state.x + delta
        f_new = float(value(x_new))
        n_eval += 1
        gain = (state.f - f_new) / pred if pred > 0.0 else -1.0
        if math.isfinite(f_new) and f_new < state.f and gain > 0.0:
            mu *= max(1.0 / 3.0, 1.0 - (2.0 * gain - 1.0) ** 3)
            nu = 2.0
            break
        # a step that increases f (or a non-finite one) is rejected
        mu, nu, rejects = mu * nu, 2.0 * nu, rejects + 1
        if not math.isfinite(mu) or mu > 1e300:
            break
    else:
        new = replace(state, mu=mu, nu=nu, n_iter=state.n_iter + 1, n_eval=state.n_eval + n_eval)
        msg = f"no lower value after {rejects} damped trial steps"
        return new, LMInfo(new.n_iter, state.f, state.f, gnorm, rejects, False, msg)
    if rejects >= config.max_rejects or not math.isfinite(mu) or mu > 1e300:
        new = replace(state, mu=state.mu, nu=2.0, n_iter=state.n_iter + 1)
        msg = "damping overflow: no lower value found"
        return new, LMInfo(new.n_iter, state.f, state.f, gnorm, rejects, False, msg)
    f_n, A_n, b_n = _normal(normal, x_new)
    conv = _converged(state, delta, x_new, f_new, pred, b_n, config)
    new = replace(
        state,
        x=x_new,
        f=f_n,
        JtJ=A_n,
        Jtr=b_n,
        D=_scaling(D, A_n, config),
        mu=mu,
        nu=nu,
        n_iter=state.n_iter + 1,
        n_eval=state.n_eval + n_eval,
        n_normal=state.n_normal + 1,
        converged=conv,
    )
    gn = float(np.max(np.abs(b_n))) if b_n.size else 0.0
    return new, LMInfo(new.n_iter, f_n, state.f, gn, rejects, True, conv or "step accepted")


def _converged(state, delta, x_new, f_new, pred, b_new, config: LMConfig) -> str:
    f = max(state.f, np.finfo(float).tiny)
    if (state.f - f_new) / f <= config.ftol and pred / f <= config.ftol:
        return "relative reduction below ftol"
    sD = np.sqrt(state.D)
    if np.linalg.norm(sD * delta) <= config.xtol * (np.linalg.norm(sD * x_new) + config.xtol):
        return "relative step below xtol"
    if b_new.size and float(np.max(np.abs(b_new))) <= config.gtol * state.gnorm_init:
        return "gradient norm below tolerance"
    return ""


def lm_stop_reason(state: LMState, info: LMInfo) -> str | None:
    """Why a run should stop after ``info`` (failure or convergence), or None."""
    if not info.accepted:
        return f"Levenberg-Marquardt step failed: {info.message}"
    return state.converged or None


def minimize_lm(
    normal: Normal,
    value: Value,
    x0: ArrayLike,
    config: LMConfig | None = None,
    max_iter: int = 1000,
) -> tuple[LMState, str]:
    """Minimise ``|r(x)|^2`` by Levenberg-Marquardt; the final state and stop reason."""
    config = LMConfig() if config is None else config
    state = lm_init(normal, x0, config)
    for _ in range(int(max_iter)):
        state, info = lm_step(normal, value, state, config)
        reason = lm_stop_reason(state, info)
        if reason is not None:
            return state, reason
    return state, "iteration budget reached"
