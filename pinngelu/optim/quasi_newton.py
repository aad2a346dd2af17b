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
shares it (the other fields are fresh).  Under MPI (``comm``) each rank holds a block
of rows of ``H`` (:func:`pinngelu.parallel.chunk_range`), multiplies and updates only
those and gathers the products (``n`` doubles, twice an iteration): the matrix's
memory and passes are split over the ranks, and every entry is computed as on one
rank, so the bits do not depend on the number of ranks.  Every other field is a scalar or a vector,
and :meth:`QNState.to_dict` / :meth:`QNState.from_dict` make the state, ``H``
included, serialisable, so a restored run continues bit-identically.

:func:`~pinngelu.optim.minimize.minimize` with a :class:`QNConfig` drives
:func:`qn_init`, :func:`qn_step` and :func:`qn_stop_test`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike

from .. import memory
from ..parallel import as_comm, chunk_range
from .common import (
    TINY,
    DescentState,
    FloatArray,
    Objective,
    StepInfo,
    all_finite,
    check_wolfe,
    evaluate,
    inf_norm,
    start_point,
    step_info,
    validate,
)
from .linesearch import TrialPoint, search_lower
from .stopping import STOP_REASONS, gradient_converged

__all__ = [
    "QNUpdate",
    "QNConfig",
    "QNState",
    "qn_init",
    "qn_step",
    "broyden_parameters",
    "dense_memory_bytes",
    "qn_stop_test",
    "qn_stop_reason",
]


class QNUpdate(StrEnum):
    """The inverse-Hessian update of a dense quasi-Newton method."""

    BFGS = "bfgs"
    SSBFGS_AB = "ssbfgs_ab"  # self-scaled BFGS, tau = min(1, 1/b) (Al-Baali)
    SSBFGS_OL = "ssbfgs_ol"  # self-scaled BFGS, tau = 1/b (Oren-Luenberger)
    SSBROYDEN1 = "ssbroyden1"
    SSBROYDEN2 = "ssbroyden2"


def dense_memory_bytes(n: int) -> int:
    """Bytes of the dense ``(n, n)`` float64 matrix a dense method keeps: ``8 n^2``.

    It is the only matrix of the method: the update and the product ``H g`` work in
    place, everything else is a vector of ``n``.  Measured: the peak resident memory
    of :func:`qn_init` and five :func:`qn_step` on 3000 unknowns rose by 72.2 MB, for
    72.0 MB here.
    """
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

    Raises
    ------
    ValueError
        If ``update`` is not a :class:`QNUpdate` value, or a number is out of range or
        not a number (booleans included); the message names the setting and the value.
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
        validate(
            self,
            counts=("max_linesearch", "ftol_iters", "max_bytes"),
            positive=("init_step", "step_max"),
            nonnegative=("curvature_eps", "ftol", "gtol", "gtol_abs"),
        )
        c1, c2 = check_wolfe("QNConfig", self.c1, self.c2)
        object.__setattr__(self, "c1", c1)
        object.__setattr__(self, "c2", c2)


@dataclass(frozen=True)
class QNState(DescentState):
    """State of a dense quasi-Newton run.

    Attributes
    ----------
    x, g : ndarray, shape (n,)
        Current (best) point and its gradient.
    f : float
    H : ndarray, shape (k, n)
        Rows ``row0 <= i < row0 + k`` of the inverse-Hessian approximation (owned by
        the state, updated in place): all ``n`` of them unless split over MPI ranks.
    row0 : int
        The first row of ``H``.
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
    row0: int = 0
    n_updates: int = 0
    n_iter: int = 0
    n_eval: int = 0
    n_fail: int = 0
    n_stall: int = 0
    f_init: float = math.nan
    gnorm_init: float = math.nan

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the dense matrix: ``8 n^2`` (``8 k n`` for a block of rows)."""
        return 8 * int(self.H.shape[0]) * self.n


def _identity_rows(H: FloatArray, row0: int) -> None:
    """Set the rows ``row0 ...`` of ``H`` to those of the identity, in place."""
    H[...] = 0.0
    k = H.shape[0]
    H[np.arange(k), row0 + np.arange(k)] = 1.0


def _matvec(state: QNState, v: FloatArray, comm) -> FloatArray:
    """``H v`` (n,): this rank's rows, gathered from every rank under MPI."""
    from ..kernels.dense import symv  # compiled code, loaded on first use

    out = np.empty(state.H.shape[0])
    symv(state.H, v, out)
    if comm.size == 1:
        return out
    n = v.shape[0]
    counts = [r1 - r0 for r0, r1 in (chunk_range(n, r, comm.size) for r in range(comm.size))]
    return comm.allgather_array(out, counts)


def qn_init(fun: Objective, x0: ArrayLike, config: QNConfig | None = None, *, comm=None) -> QNState:
    """Evaluate ``fun`` at ``x0`` and build the state with ``H = I``.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)`` with ``x`` and ``g`` of shape (n,).
    x0 : array_like, shape (n,)
        Starting point.
    config : QNConfig, optional
        Only ``max_bytes`` is used here.
    comm : mpi4py communicator or pinngelu.parallel communicator, optional
        Split the rows of ``H`` over the ranks (every rank calls with the same
        arguments; ``fun`` returns the same values on every rank).

    Returns
    -------
    QNState
        ``H`` holds this rank's rows of the identity (all of them without ``comm``).

    Raises
    ------
    ValueError
        If the dense matrix would exceed ``config.max_bytes`` (the message names
        L-BFGS), ``x0`` is not 1-D, or ``fun`` is not finite at ``x0``.
    MemoryLimitError
        If the dense matrix would exceed the memory limit (:mod:`pinngelu.memory`);
        checked before it is allocated (a ``ValueError`` too).
    """
    config = QNConfig() if config is None else config
    comm = as_comm(comm)
    x = start_point(x0)
    n = x.shape[0]
    need = dense_memory_bytes(n)
    if need > config.max_bytes:
        raise ValueError(
            f"a dense quasi-Newton method on {n} parameters keeps an {n} x {n} matrix of "
            f"{need / 1e9:.2f} GB, above the cap of {config.max_bytes / 1e9:.2f} GB "
            "(QNConfig.max_bytes): use L-BFGS (memory O(m n)) or a smaller network"
        )
    r0, r1 = chunk_range(n, comm.rank, comm.size)
    memory.check(
        8 * (r1 - r0) * n,
        f"the dense quasi-Newton matrix of {n} parameters ({r1 - r0} x {n} float64)",
        "the optimiser (an LBFGS stage, memory O(m n)) or the network (fewer parameters)",
    )
    f, g = evaluate(fun, x, n)
    if not all_finite(f, g):
        raise ValueError("objective or gradient is not finite at the starting point")
    H = np.empty((r1 - r0, n))
    _identity_rows(H, r0)
    return QNState(x=x, f=f, g=g, H=H, row0=r0, n_eval=1, f_init=f, gnorm_init=inf_norm(g))


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


def _update_H(
    state: QNState, s: FloatArray, y: FloatArray, alpha: float, config: QNConfig, comm=None
) -> bool:
    """Apply the configured update to ``state.H`` in place; False if the pair is skipped."""
    comm = as_comm(comm)
    from ..kernels.dense import sym_update  # compiled code, loaded on first use

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
    u = _matvec(state, y, comm)
    yu = float(y @ u)
    if not (math.isfinite(yu) and yu > 0.0):
        return False
    b = -alpha * rho * float(s @ state.g)
    h = rho * yu
    phi, tau = broyden_parameters(config.update, b, h, state.n, first)
    m_ss = rho + phi * rho * rho * yu / tau
    m_su = -phi * rho / tau
    m_uu = (phi - 1.0) / (tau * yu)
    sym_update(H, 1.0 / tau, s, u, m_ss, m_su, m_uu, state.row0)
    return True


def qn_step(
    fun: Objective,
    state: QNState,
    config: QNConfig | None = None,
    *,
    max_evals: int | None = None,
    comm=None,
) -> tuple[QNState, StepInfo]:
    """One dense quasi-Newton iteration.

    The direction is ``-H g``; if it is not a descent direction (or ``H`` was just
    reset), ``H`` is reset to the identity and the steepest-descent direction is
    searched with a first trial step of length ``config.init_step``.  The iterate
    moves to the lowest finite trial point if it is strictly lower than ``state.f``;
    if none is, ``H`` is reset and steepest descent tried once more; a second failure
    leaves the point unchanged (``info.accepted`` False, ``n_fail`` incremented).

    The line searches are truncated so that the step spends at most ``max_evals``
    evaluations; with ``max_evals < 1`` the state is returned unchanged with
    ``info.accepted`` False ("evaluation budget exhausted").

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)``, ``x`` and ``g`` of shape (n,).
    state : QNState
        Current state; its ``H`` is updated in place and shared with the result.
    config : QNConfig, optional
    max_evals : int, optional
        Objective evaluations this step may spend (``None``: no limit).
    comm : mpi4py communicator or pinngelu.parallel communicator, optional
        The communicator of :func:`qn_init` (``state.H`` holds this rank's rows).

    Returns
    -------
    new_state : QNState
    info : StepInfo
    """
    config = QNConfig() if config is None else config
    comm = as_comm(comm)
    gnorm = inf_norm(state.g)
    budget = math.inf if max_evals is None else max_evals
    if gnorm == 0.0 or budget < 1:
        reason = "gradient is zero" if gnorm == 0.0 else "evaluation budget exhausted"
        return state, step_info(
            state, state, gnorm=gnorm, n_evals=0, accepted=False, message=reason
        )
    H = state.H
    n_updates = state.n_updates
    reset = False

    def steepest() -> tuple[FloatArray, float]:
        return -state.g, config.init_step / float(np.linalg.norm(state.g))

    d, step0 = None, 1.0
    if n_updates > 0:
        d = -_matvec(state, state.g, comm)
        dg = float(state.g @ d)
        if not (math.isfinite(dg) and dg < 0.0 and np.all(np.isfinite(d))):
            d, reset = None, True
    if d is None:
        d, step0 = steepest()
    max_ls = int(min(config.max_linesearch, budget))
    best, ls_ok, message, n_evals = _search(fun, state, d, step0, max_ls, config)
    if best is None and n_updates > 0 and not reset and budget - n_evals >= 1:
        reset = True
        d, step0 = steepest()
        max_ls = int(min(config.max_linesearch, budget - n_evals))
        best, ls_ok, message, m = _search(fun, state, d, step0, max_ls, config)
        n_evals += m
    if reset:
        _identity_rows(H, state.row0)
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
        info = step_info(
            state, new, gnorm=gnorm, n_evals=n_evals, accepted=False, reset=reset, message=msg
        )
        return new, info
    f_new, x_new, alpha, g_new = best.f, best.x, best.step, best.g
    s = x_new - state.x
    y = g_new - state.g
    cur = replace(state, n_updates=n_updates)
    updated = _update_H(cur, s, y, alpha, config, comm)
    stalled = state.f - f_new <= config.ftol * max(abs(state.f), abs(f_new), TINY)
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
    info = step_info(
        state,
        new,
        n_evals=n_evals,
        accepted=True,
        step=alpha,
        ls_success=ls_ok,
        reset=reset,
        pair_skipped=not updated,
        message=message,
    )
    return new, info


def _search(
    fun: Objective, state: QNState, d: FloatArray, step0: float, max_evals: int, config: QNConfig
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


def qn_stop_test(state: QNState, info: StepInfo, config: QNConfig) -> str | None:
    """Which stopping test the step just taken meets, if any.

    Parameters
    ----------
    state : QNState
        The state returned by the step.
    info : StepInfo
        The step's diagnostics.
    config : QNConfig
        The tolerances.

    Returns
    -------
    str or None
        The first of ``"failed"`` (the iterate did not move), ``"gtol"``
        (:func:`~pinngelu.optim.stopping.gradient_converged` with ``gtol`` and
        ``gtol_abs``) and ``"ftol"`` (``ftol_iters`` consecutive stalled steps);
        ``None`` when none holds.
    """
    if not info.accepted:
        return "failed"
    if gradient_converged(info.gnorm, state.gnorm_init, config):
        return "gtol"
    if state.n_stall >= config.ftol_iters:
        return "ftol"
    return None


def qn_stop_reason(state: QNState, info: StepInfo, config: QNConfig) -> str | None:
    """:func:`qn_stop_test` as the reason a training run reports, or ``None``.

    Returns
    -------
    str or None
        ``"quasi-Newton step failed: <info.message>"`` for a failed step, otherwise
        the entry of :data:`~pinngelu.optim.stopping.STOP_REASONS` for the test met.
    """
    test = qn_stop_test(state, info, config)
    if test is None:
        return None
    if test == "failed":
        return f"quasi-Newton step failed: {info.message}"
    return STOP_REASONS[test]
