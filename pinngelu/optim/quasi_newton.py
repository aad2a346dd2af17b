"""Dense quasi-Newton methods: BFGS, self-scaled BFGS and self-scaled Broyden.

The iteration is the same for every member: the direction ``d = -H g`` from a dense
inverse-Hessian approximation ``H``, a strong-Wolfe line search (the one L-BFGS uses),
then a symmetric rank-two update of ``H`` from ``s = x_new - x`` and
``y = g_new - g``.  With ``rho = 1 / y^T s``, ``u = H y``, ``b = -alpha rho s^T g``
(``= s^T B s / y^T s`` for ``B = H^{-1}``, the step being ``s = alpha d``) and
``h = rho y^T u``, the self-scaled Broyden family reads

    H+ = [H - u u^T / y^T u + phi (y^T u) v v^T] / tau + rho s s^T,
    v  = rho s - u / y^T u,

which is ``H / tau + [s u] M [s u]^T`` with

    m_ss = rho + phi rho^2 (y^T u) / tau,   m_su = -phi rho / tau,
    m_uu = (phi - 1) / (tau y^T u).

``phi = 1, tau = 1`` is BFGS; ``phi = 1`` with ``tau = min(1, 1/b)`` (Al-Baali) or
``tau = 1/b`` (Oren-Luenberger) is self-scaled BFGS; self-scaled Broyden chooses
``phi`` and ``tau`` from ``a = b h - 1`` (Urban, Stefanou and Pons, J. Comput. Phys.
2025; formulas in :func:`broyden_parameters`).  :mod:`pinngelu.kernels.dense` applies
the update in place in one pass over ``H``; no ``(n, n)`` array is allocated after
:func:`qn_init`.

The state owns ``H``: :func:`qn_step` updates it in place and returns a state that
shares it (the other fields are fresh).  Every other field is a scalar or a vector,
and :meth:`QNState.to_dict` / :meth:`QNState.from_dict` make the state, ``H``
included, serialisable, so a restored run continues bit-identically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .lbfgs import FloatArray, Objective, _all_finite, _evaluate
from .lbfgs_state import StepInfo
from .linesearch import strong_wolfe

__all__ = [
    "QNUpdate",
    "QNConfig",
    "QNState",
    "qn_init",
    "qn_step",
    "broyden_parameters",
    "dense_memory_bytes",
    "qn_stop_reason",
    "minimize_qn",
]

_TINY = np.finfo(np.float64).tiny


class QNUpdate(StrEnum):
    """The inverse-Hessian update of a dense quasi-Newton method."""

    BFGS = "bfgs"
    SSBFGS_AB = "ssbfgs_ab"  # self-scaled BFGS, tau = min(1, 1/b) (Al-Baali)
    SSBFGS_OL = "ssbfgs_ol"  # self-scaled BFGS, tau = 1/b (Oren-Luenberger)
    SSBROYDEN1 = "ssbroyden1"
    SSBROYDEN2 = "ssbroyden2"


def dense_memory_bytes(n: int) -> int:
    """Bytes of the dense ``(n, n)`` float64 matrix a dense method keeps."""
    return 8 * int(n) * int(n)


@dataclass(frozen=True)
class QNConfig:
    """Settings of a dense quasi-Newton method.

    Parameters
    ----------
    update : QNUpdate
        The update formula (default self-scaled Broyden, variant 2).
    c1, c2 : float
        Strong-Wolfe constants.
    max_linesearch : int
        Evaluations per line search.
    init_step : float
        Length of the first (steepest-descent) trial step.
    step_max : float
        Largest line-search step.
    curvature_eps : float
        A pair is used only if ``y^T s > curvature_eps |s| |y|``.
    ftol : float
        A step "stalls" when ``f - f_new <= ftol max(|f|, |f_new|)``.
    ftol_iters : int
        Consecutive stalled steps that count as convergence.
    gtol, gtol_abs : float
        Converged when ``|g|_inf <= gtol |g0|_inf`` or ``<= gtol_abs``.
    max_bytes : int
        Memory cap for the dense matrix (default 2 GB); past it :func:`qn_init`
        raises and names L-BFGS as the alternative.
    """

    update: QNUpdate = QNUpdate.SSBROYDEN2
    c1: float = 1e-4
    c2: float = 0.9
    max_linesearch: int = 25
    init_step: float = 1e-2
    step_max: float = 1e10
    curvature_eps: float = 1e-12
    ftol: float = 1e-15
    ftol_iters: int = 20
    gtol: float = 1e-12
    gtol_abs: float = 0.0
    max_bytes: int = 2 * 10**9

    def __post_init__(self) -> None:
        object.__setattr__(self, "update", QNUpdate(self.update))
        if not 0.0 < self.c1 < self.c2 < 1.0:
            raise ValueError(f"need 0 < c1 < c2 < 1, got c1={self.c1}, c2={self.c2}")
        for name in ("max_linesearch", "ftol_iters", "max_bytes"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("init_step", "step_max"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0.0):
                raise ValueError(f"{name} must be positive and finite, got {v!r}")
        for name in ("curvature_eps", "ftol", "gtol", "gtol_abs"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"{name} must be finite and >= 0, got {v!r}")


@dataclass(frozen=True)
class QNState:
    """State of a dense quasi-Newton run.

    Attributes
    ----------
    x, g : ndarray, shape (n,)
        Current (best) point and its gradient.
    f : float
    H : ndarray, shape (n, n)
        Inverse-Hessian approximation (owned by the state, updated in place).
    n_updates : int
        Updates applied to ``H`` since it was last the identity.
    n_iter, n_eval, n_fail, n_stall : int
    f_init, gnorm_init : float
        Value and ``|g|_inf`` at the start (for relative tests).
    """

    x: FloatArray
    f: float
    g: FloatArray
    H: FloatArray
    n_updates: int = 0
    n_iter: int = 0
    n_eval: int = 0
    n_fail: int = 0
    n_stall: int = 0
    f_init: float = math.nan
    gnorm_init: float = math.nan

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the dense matrix: ``8 n^2``."""
        return dense_memory_bytes(self.n)

    def to_dict(self) -> dict[str, Any]:
        """Flat dict of arrays and scalars (for ``np.savez``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Any) -> QNState:
        """Inverse of :meth:`to_dict` (accepts an ``np.load`` mapping)."""
        kw: dict[str, Any] = {}
        for f in fields(cls):
            v = np.asarray(data[f.name])
            if f.name in ("x", "g", "H"):
                kw[f.name] = np.array(v, dtype=np.float64)
            elif f.name in ("f", "f_init", "gnorm_init"):
                kw[f.name] = float(v)
            else:
                kw[f.name] = int(v)
        return cls(**kw)


def qn_init(fun: Objective, x0: ArrayLike, config: QNConfig | None = None) -> QNState:
    """Evaluate ``fun`` at ``x0`` and build the state with ``H = I``.

    Raises
    ------
    ValueError
        If the dense matrix would exceed ``config.max_bytes`` (the message names
        L-BFGS), ``x0`` is not 1-D, or ``fun`` is not finite at ``x0``.
    """
    config = QNConfig() if config is None else config
    x = np.array(x0, dtype=np.float64, copy=True)
    if x.ndim != 1:
        raise ValueError(f"x0 must be 1-D, got shape {x.shape}")
    n = x.shape[0]
    need = dense_memory_bytes(n)
    if need > config.max_bytes:
        raise ValueError(
            f"a dense quasi-Newton method on {n} parameters keeps an {n} x {n} matrix of "
            f"{need / 1e9:.2f} GB, above the cap of {config.max_bytes / 1e9:.2f} GB "
            "(QNConfig.max_bytes): use L-BFGS (memory O(m n)) or a smaller network"
        )
    f, g = _evaluate(fun, x, n)
    if not _all_finite(f, g):
        raise ValueError("objective or gradient is not finite at the starting point")
    return QNState(
        x=x,
        f=f,
        g=g,
        H=np.eye(n),
        n_eval=1,
        f_init=f,
        gnorm_init=float(np.max(np.abs(g))) if n else 0.0,
    )


def broyden_parameters(
    update: QNUpdate, b: float, h: float, n: int, first: bool
) -> tuple[float, float]:
    """``(phi, tau)`` of the self-scaled update for ``b``, ``h`` (module docstring).

    BFGS: ``(1, 1)``.  Self-scaled BFGS: ``phi = 1``, ``tau = min(1, 1/b)`` (AB) or
    ``1/b`` (OL).  Self-scaled Broyden, with ``a = b h - 1`` (``>= 0`` by
    Cauchy-Schwarz when ``H`` is positive definite):

    * variant 2: ``rho_m = min(1, h (1 - sqrt(a / (1 + a))))``,
      ``theta_m = (rho_m - 1) / a``, ``theta_p = 1 / rho_m``,
      ``theta = max(theta_m, min(theta_p, (1 - b) / b))``;
    * variant 1: ``theta_p = max(1, b (1 + sqrt(a / (1 + a))))``,
      ``theta_SR1 = 1 / (1 - b)``; ``theta = theta_m`` if ``b = 1``,
      ``max(theta_m, theta_SR1)`` if ``b > 1``, ``min(theta_p, theta_SR1)`` if ``b < 1``;
    * ``phi = (1 - theta) / (1 + a theta)``;
    * ``tau = h / (1 + a theta)`` on the first update; later, with
      ``sigma = 1 + theta a``, ``sigma_t = |sigma|^(1 / (1 - n))``,
      ``rho_t = min(1, 1/b)``: ``tau = min(rho_t sigma_t, sigma)`` if ``theta <= 0``,
      else ``rho_t min(sigma_t, 1 / theta)``.

    Where ``a`` is within rounding of zero all members coincide and BFGS is used;
    a non-finite or non-positive ``tau`` falls back to 1.
    """
    if update is QNUpdate.BFGS:
        return 1.0, 1.0
    if update is QNUpdate.SSBFGS_AB:
        return 1.0, min(1.0, 1.0 / b)
    if update is QNUpdate.SSBFGS_OL:
        return 1.0, 1.0 / b
    a = b * h - 1.0
    if not (math.isfinite(a) and a > 1e-12):
        theta = 0.0
    else:
        root = math.sqrt(a / (1.0 + a))
        rho_m = min(1.0, h * (1.0 - root))
        theta_m = (rho_m - 1.0) / a
        if update is QNUpdate.SSBROYDEN2:
            theta_p = 1.0 / rho_m if rho_m > 0.0 else math.inf
            theta = max(theta_m, min(theta_p, (1.0 - b) / b))
        else:
            theta_p = max(1.0, b * (1.0 + root))
            if b == 1.0:
                theta = theta_m
            elif b > 1.0:
                theta = max(theta_m, 1.0 / (1.0 - b))
            else:
                theta = min(theta_p, 1.0 / (1.0 - b))
    sigma = 1.0 + a * theta
    phi = (1.0 - theta) / sigma
    if first:
        tau = h / sigma
    else:
        sigma_t = abs(sigma) ** (1.0 / (1.0 - n)) if n > 1 else 1.0
        rho_t = min(1.0, 1.0 / b)
        tau = min(rho_t * sigma_t, sigma) if theta <= 0.0 else rho_t * min(sigma_t, 1.0 / theta)
    if not (math.isfinite(tau) and tau > 0.0 and math.isfinite(phi)):
        return 1.0, 1.0
    return phi, tau


def _update_H(state: QNState, s, y, alpha: float, config: QNConfig) -> bool:
    """Apply the configured update to ``state.H`` in place; False if the pair is skipped."""
    from ..kernels.dense import sym_update, symv  # compiled code, loaded on first use

    sy = float(s @ y)
    if not (
        math.isfinite(sy) and sy > config.curvature_eps * np.linalg.norm(s) * np.linalg.norm(y)
    ):
        return False
    H = state.H
    rho = 1.0 / sy
    first = state.n_updates == 0
    if first and config.update in (QNUpdate.BFGS, QNUpdate.SSBFGS_AB, QNUpdate.SSBFGS_OL):
        # the usual initial scaling H0 = (y^T s / y^T y) I before the first update
        H *= sy / float(y @ y)
    u = np.empty_like(s)
    symv(H, y, u)
    yu = float(y @ u)
    if not (math.isfinite(yu) and yu > 0.0):
        return False
    b = -alpha * rho * float(s @ state.g)
    h = rho * yu
    phi, tau = broyden_parameters(config.update, b, h, state.n, first)
    m_ss = rho + phi * rho * rho * yu / tau
    m_su = -phi * rho / tau
    m_uu = (phi - 1.0) / (tau * yu)
    sym_update(H, 1.0 / tau, s, u, m_ss, m_su, m_uu)
    return True


def qn_step(
    fun: Objective, state: QNState, config: QNConfig | None = None
) -> tuple[QNState, StepInfo]:
    """One dense quasi-Newton iteration.

    The direction is ``-H g``; if it is not a descent direction (or ``H`` was just
    reset), ``H`` is reset to the identity and the steepest-descent direction is
    searched with a first trial step of length ``config.init_step``.  The iterate
    moves to the lowest finite trial point if it is strictly lower than ``state.f``;
    if none is, ``H`` is reset and steepest descent tried once more; a second failure
    leaves the point unchanged (``info.accepted`` False, ``n_fail`` incremented).

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)``.
    state : QNState
        Current state; its ``H`` is updated in place and shared with the result.
    config : QNConfig, optional

    Returns
    -------
    new_state : QNState
    info : StepInfo
    """
    config = QNConfig() if config is None else config
    n = state.n
    gnorm = float(np.max(np.abs(state.g))) if n else 0.0
    if gnorm == 0.0:
        return state, _info(state, state, gnorm, 0.0, 0, False, False, False, "gradient is zero")
    H = state.H
    n_updates = state.n_updates
    reset = False

    def steepest() -> tuple[FloatArray, float]:
        return -state.g, config.init_step / float(np.linalg.norm(state.g))

    d, step0 = None, 1.0
    if n_updates > 0:
        from ..kernels.dense import symv

        d = np.empty(n)
        symv(H, state.g, d)
        d = -d
        dg = float(state.g @ d)
        if not (math.isfinite(dg) and dg < 0.0 and np.all(np.isfinite(d))):
            d, reset = None, True
    if d is None:
        d, step0 = steepest()
    best, ls_ok, message, n_evals = _search(fun, state, d, step0, config)
    if best is None and n_updates > 0 and not reset:
        reset = True
        d, step0 = steepest()
        best, ls_ok, message, m = _search(fun, state, d, step0, config)
        n_evals += m
    if reset:
        H[...] = 0.0
        H.flat[:: n + 1] = 1.0
        n_updates = 0
    if best is None:
        new = replace(
            state,
            n_updates=n_updates,
            n_iter=state.n_iter + 1,
            n_eval=state.n_eval + n_evals,
            n_fail=state.n_fail + 1,
        )
        msg = f"no lower value found along the search direction ({message})"
        return new, _info(new, state, gnorm, 0.0, n_evals, False, False, reset, msg)
    f_new, x_new, alpha, g_new = best
    s = x_new - state.x
    y = g_new - state.g
    cur = replace(state, n_updates=n_updates)
    updated = _update_H(cur, s, y, alpha, config)
    stalled = state.f - f_new <= config.ftol * max(abs(state.f), abs(f_new), _TINY)
    new = replace(
        state,
        x=x_new,
        f=f_new,
        g=g_new,
        n_updates=n_updates + 1 if updated else n_updates,
        n_iter=state.n_iter + 1,
        n_eval=state.n_eval + n_evals,
        n_fail=0,
        n_stall=state.n_stall + 1 if stalled else 0,
    )
    info = _info(
        new, state, float(np.max(np.abs(g_new))), alpha, n_evals, True, ls_ok, reset, message
    )
    return new, replace(info, step_norm=float(np.max(np.abs(s))), pair_skipped=not updated)


def _search(fun, state: QNState, d, step0: float, config: QNConfig):
    """Strong-Wolfe search along ``d``; the lowest finite trial point below ``state.f``."""
    best: list = [None]
    count = [0]

    def phi(step: float):
        xt = state.x + step * d
        f, g = _evaluate(fun, xt, state.n)
        count[0] += 1
        if _all_finite(f, g) and f < state.f and (best[0] is None or f < best[0][0]):
            best[0] = (f, xt, step, g)
        return f, g

    res = strong_wolfe(
        phi,
        state.f,
        state.g,
        float(state.g @ d),
        step0,
        direction=d,
        c1=config.c1,
        c2=config.c2,
        max_evals=config.max_linesearch,
        step_max=config.step_max,
    )
    return best[0], res.success, res.message, count[0]


def _info(new: QNState, old: QNState, gnorm, step, n_evals, accepted, ls_ok, reset, message):
    return StepInfo(
        n_iter=new.n_iter,
        f=new.f,
        f_prev=old.f,
        gnorm=gnorm,
        step=float(step),
        step_norm=0.0,
        n_evals=n_evals,
        accepted=accepted,
        ls_success=ls_ok,
        reset=reset,
        pair_skipped=False,
        message=message,
    )


def qn_stop_reason(state: QNState, info: StepInfo, config: QNConfig) -> str | None:
    """The convergence test that ``state`` meets after a step, or None."""
    if not info.accepted:
        return f"quasi-Newton step failed: {info.message}"
    if info.gnorm <= config.gtol_abs or info.gnorm <= config.gtol * state.gnorm_init:
        return "gradient norm below tolerance"
    if state.n_stall >= config.ftol_iters:
        return "relative decrease below ftol"
    return None


def minimize_qn(
    fun: Objective,
    x0: ArrayLike,
    config: QNConfig | None = None,
    max_iter: int = 10_000,
    max_eval: int | None = None,
) -> tuple[QNState, str]:
    """Minimise ``fun`` with a dense quasi-Newton method.

    Returns the final state (``state.x`` is the best point) and the stop reason.
    """
    config = QNConfig() if config is None else config
    state = qn_init(fun, x0, config)
    for _ in range(int(max_iter)):
        state, info = qn_step(fun, state, config)
        reason = qn_stop_reason(state, info, config)
        if reason is not None:
            return state, reason
        if max_eval is not None and state.n_eval >= max_eval:
            return state, "evaluation budget reached"
    return state, "iteration budget reached"
