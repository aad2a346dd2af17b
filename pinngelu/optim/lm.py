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
and ``value(x) -> f`` at trial points.  :func:`lm_init` and :func:`lm_step` take them
as two arguments; :func:`~pinngelu.optim.minimize.minimize` (with an :class:`LMConfig`)
takes one objective that has both as methods, a :class:`LeastSquaresObjective` such as
:class:`LeastSquares` (built from the callables or from residuals and their
Jacobian).  The state is explicit and serialisable like L-BFGS's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike

from .. import memory
from .common import (
    DescentState,
    FloatArray,
    StepInfo,
    inf_norm,
    start_point,
    step_info,
    validate,
)
from .stopping import STOP_REASONS

__all__ = [
    "LMConfig",
    "LMState",
    "LeastSquares",
    "LeastSquaresObjective",
    "lm_init",
    "lm_memory_bytes",
    "lm_step",
    "lm_stop_reason",
    "lm_stop_test",
]

Normal = Callable[[FloatArray], tuple[float, FloatArray, FloatArray]]
"""``normal(x) -> (f, JtJ, Jtr)``: ``|r|^2``, ``J^T J`` of shape (n, n), ``J^T r`` of shape (n,)."""
Value = Callable[[FloatArray], float]
"""``value(x) -> f = |r(x)|^2``."""


@runtime_checkable
class LeastSquaresObjective(Protocol):
    """What Levenberg-Marquardt needs of an objective ``f(x) = |r(x)|^2``.

    The training objective of :mod:`pinngelu.training` and :class:`LeastSquares` have
    both methods.
    """

    def normal(self, x: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        """``(f, J^T J, J^T r)`` at ``x`` of shape (n,): shapes (), (n, n), (n,)."""
        ...

    def value(self, x: FloatArray) -> float:
        """``f = |r(x)|^2`` at ``x`` of shape (n,)."""
        ...


@dataclass(frozen=True)
class LeastSquares:
    """A least-squares objective ``f(x) = |r(x)|^2`` usable by every optimiser.

    Levenberg-Marquardt calls :meth:`normal` and :meth:`value`; the gradient methods
    call the object itself, ``obj(x) -> (f, g)`` with ``g = 2 J^T r`` (one normal-
    equation evaluation).

    Parameters
    ----------
    normal : callable
        ``normal(x) -> (f, JtJ, Jtr)`` with ``x`` of shape (n,), ``JtJ`` of shape
        (n, n) and ``Jtr`` of shape (n,).
    value : callable
        ``value(x) -> f``.

    Examples
    --------
    Residuals ``r(x) = x - 1`` with the identity Jacobian, minimised by
    Levenberg-Marquardt::

        obj = LeastSquares.from_residuals(lambda x: x - 1.0, lambda x: np.eye(2))
        res = minimize(obj, np.zeros(2), LMConfig())
    """

    normal: Normal
    value: Value

    @classmethod
    def from_residuals(
        cls,
        residuals: Callable[[FloatArray], ArrayLike],
        jacobian: Callable[[FloatArray], ArrayLike],
    ) -> LeastSquares:
        """The objective ``|r(x)|^2`` of residuals ``r(x)``, shape (m,), and their
        Jacobian ``J(x)``, shape (m, n)."""

        def normal(x: FloatArray) -> tuple[float, FloatArray, FloatArray]:
            r = np.asarray(residuals(x), dtype=np.float64)
            J = np.asarray(jacobian(x), dtype=np.float64)
            return float(r @ r), J.T @ J, J.T @ r

        def value(x: FloatArray) -> float:
            r = np.asarray(residuals(x), dtype=np.float64)
            return float(r @ r)

        return cls(normal, value)

    def __call__(self, x: FloatArray) -> tuple[float, FloatArray]:
        """``(f, g)`` at ``x`` of shape (n,), with ``g = 2 J^T r`` of shape (n,)."""
        f, _, b = self.normal(x)
        return float(f), 2.0 * np.asarray(b, dtype=np.float64)


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

    Raises
    ------
    ValueError
        If a number is out of range or not a number (booleans included); the message
        names the setting and the value.
    """

    mu0: float = 1e-3
    d_floor: float = 1e-12
    max_rejects: int = 30
    ftol: float = 1e-15
    xtol: float = 1e-15
    gtol: float = 1e-14
    max_bytes: int = 2 * 10**9

    def __post_init__(self) -> None:
        validate(
            self,
            counts=("max_rejects", "max_bytes"),
            positive=("mu0", "d_floor"),
            nonnegative=("ftol", "xtol", "gtol"),
        )


@dataclass(frozen=True)
class LMState(DescentState):
    """State of a Levenberg-Marquardt run.

    Attributes
    ----------
    x : ndarray, shape (n,)
        Current (best) point.
    f : float
        ``|r(x)|^2``.
    JtJ : ndarray, shape (n, n)
        ``J^T J`` at ``x``.
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

    @property
    def best_g(self) -> FloatArray:
        """Gradient of ``|r|^2`` at :attr:`best_x`, ``2 J^T r``, shape (n,)."""
        return 2.0 * self.Jtr


def lm_memory_bytes(n: int, block_rows: int = 0) -> int:
    """Peak memory (bytes) of a Levenberg-Marquardt run on ``n`` unknowns whose normal
    equations come from :func:`pinngelu.jacobian.normal_equations`:
    ``32 n^2 + 8 n block_rows``.

    The state keeps ``J^T J`` (``8 n^2``) while the normal equations at the next
    point are formed (``24 n^2``: their sum, accumulated in Fortran order, the indices
    of its strict lower triangle, two int64 arrays of ``n (n - 1) / 2``, and the
    C-ordered copy returned) beside the block of Jacobian rows (``8 n block_rows``,
    ``block_rows`` the rows actually filled: ``min(BLOCK_ROWS, residual rows)``).  The
    damped copy the Cholesky factorisation overwrites (``8 n^2``) is freed before.

    Measured: MLP(2, (70, 70), 2), ``n = 5322`` with 1400 residual rows, rose the peak
    resident memory by 979 MB over an initialisation and three steps, 966 MB here
    (ratio 1.01); MLP(2, (40, 40), 2), 103 MB for the initialisation alone, against
    ``24 n^2 + 8 n block_rows`` = 102 MB; MLP(2, (30, 30), 2), ``n = 1082``, 57.8 MB
    against 49.6 (ratio 0.86: a few MB of the kernels' work arrays show at this size).
    (The older estimate, two matrices or ``16 n^2``, was half the need.)

    Parameters
    ----------
    n : int
        Unknowns (parameters).
    block_rows : int
        Rows of the Jacobian block of the normal equations (0: leave it out).

    Returns
    -------
    int
    """
    n, rows = int(n), int(block_rows)
    return 32 * n * n + 8 * n * rows


def _normal(normal: Normal, x: FloatArray) -> tuple[float, FloatArray, FloatArray]:
    f, A, b = normal(x)
    return float(f), np.asarray(A, dtype=np.float64), np.asarray(b, dtype=np.float64)


def lm_init(normal: Normal, x0: ArrayLike, config: LMConfig | None = None) -> LMState:
    """Evaluate the normal equations at ``x0`` and build the state.

    Parameters
    ----------
    normal : callable
        ``normal(x) -> (f, JtJ, Jtr)`` with ``x`` of shape (n,), ``JtJ`` of shape
        (n, n) and ``Jtr`` of shape (n,).
    x0 : array_like, shape (n,)
        Starting point.
    config : LMConfig, optional
        Supplies ``mu0`` and ``d_floor``.

    Returns
    -------
    LMState

    Raises
    ------
    ValueError
        If ``x0`` is not 1-D or the normal equations are not finite at ``x0``.
    MemoryLimitError
        If the run's matrices (:func:`lm_memory_bytes` without the Jacobian block)
        would exceed the memory limit (:mod:`pinngelu.memory`); checked before the
        first evaluation.
    """
    config = LMConfig() if config is None else config
    x = start_point(x0)
    n = x.shape[0]
    memory.check(
        lm_memory_bytes(n),
        f"Levenberg-Marquardt's normal equations on {n} parameters (J^T J of {n} x {n} "
        "float64, the next one and its temporaries)",
        "the optimiser (an LBFGS or QuasiNewton stage instead of LevenbergMarquardt) or "
        "the network (fewer parameters)",
    )
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
        gnorm_init=inf_norm(b),
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
    normal: Normal,
    value: Value,
    state: LMState,
    config: LMConfig | None = None,
    *,
    max_evals: int | None = None,
) -> tuple[LMState, StepInfo]:
    """One Levenberg-Marquardt iteration.

    Damped steps are tried (the damping grows after each rejection) until one lowers
    ``f``; then the normal equations are evaluated at the new point.  After
    ``max_rejects`` rejections the point stays and ``info.accepted`` is False.

    Parameters
    ----------
    normal : callable
        ``normal(x) -> (f, JtJ, Jtr)``, shapes (), (n, n), (n,).
    value : callable
        ``value(x) -> f`` at trial points.
    state : LMState
        Current state; not modified.
    config : LMConfig, optional
    max_evals : int, optional
        Evaluations this step may spend, trial values and the normal equations at the
        new point together (``None``: no limit).  The trials stop one short of it, to
        leave the normal equations room; with ``max_evals < 2`` the state is returned
        unchanged with ``info.accepted`` False ("evaluation budget exhausted").

    Returns
    -------
    new_state : LMState
    info : StepInfo
        ``info.gnorm`` is ``||J^T r||_inf`` at the new point (half the gradient's),
        ``info.rejects`` the rejected trial steps and ``info.n_evals`` the trial
        values plus the normal equations.
    """
    config = LMConfig() if config is None else config
    A, b, D = state.JtJ, state.Jtr, state.D
    mu, nu = state.mu, state.nu
    n_eval = 0
    rejects = 0
    gnorm = inf_norm(b)
    budget = math.inf if max_evals is None else max_evals
    if gnorm == 0.0 or budget < 2:
        reason = "gradient is zero" if gnorm == 0.0 else "evaluation budget exhausted"
        return state, step_info(
            state, state, gnorm=gnorm, n_evals=0, accepted=False, message=reason
        )
    while rejects < config.max_rejects and n_eval < budget - 1:
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
        if rejects < config.max_rejects:
            msg = f"evaluation budget exhausted after {rejects} damped trial steps"
        else:
            msg = f"no lower value after {rejects} damped trial steps"
        info = step_info(
            state, new, gnorm=gnorm, n_evals=n_eval, accepted=False, message=msg, rejects=rejects
        )
        return new, info
    if rejects >= config.max_rejects or not math.isfinite(mu) or mu > 1e300:
        new = replace(
            state, mu=state.mu, nu=2.0, n_iter=state.n_iter + 1, n_eval=state.n_eval + n_eval
        )
        msg = "damping overflow: no lower value found"
        info = step_info(
            state, new, gnorm=gnorm, n_evals=n_eval, accepted=False, message=msg, rejects=rejects
        )
        return new, info
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
    info = step_info(
        state,
        new,
        gnorm=inf_norm(b_n),
        n_evals=n_eval + 1,
        accepted=True,
        message=conv or "step accepted",
        rejects=rejects,
    )
    return new, info


def _converged(
    state: LMState,
    delta: FloatArray,
    x_new: FloatArray,
    f_new: float,
    pred: float,
    b_new: FloatArray,
    config: LMConfig,
) -> str:
    f = max(state.f, np.finfo(float).tiny)
    if (state.f - f_new) / f <= config.ftol and pred / f <= config.ftol:
        return _REASONS["ftol"]
    sD = np.sqrt(state.D)
    if np.linalg.norm(sD * delta) <= config.xtol * (np.linalg.norm(sD * x_new) + config.xtol):
        return _REASONS["xtol"]
    if b_new.size and float(np.max(np.abs(b_new))) <= config.gtol * state.gnorm_init:
        return _REASONS["gtol"]
    return ""


# the convergence reasons of LMState.converged (kept as text in checkpoints)
_REASONS = {
    "ftol": "relative reduction below ftol",
    "xtol": "relative step below xtol",
    "gtol": STOP_REASONS["gtol"],
}
_TESTS = {text: test for test, text in _REASONS.items()}


def lm_stop_test(state: LMState, info: StepInfo, config: LMConfig | None = None) -> str | None:
    """Which stopping test the step just taken meets, if any.

    Parameters
    ----------
    state : LMState
        The state returned by the step (its ``converged`` holds the step's test).
    info : StepInfo
        The step's diagnostics.
    config : LMConfig, optional
        Not used (the tests ran inside :func:`lm_step`); accepted for the same
        signature as the other methods' tests.

    Returns
    -------
    str or None
        ``"failed"`` (the iterate did not move), ``"ftol"`` (actual and predicted
        relative reductions below ``ftol``), ``"xtol"`` (scaled step below ``xtol``),
        ``"gtol"`` (``||J^T r||_inf <= gtol ||J^T r at x0||_inf``), or ``None``.
    """
    if not info.accepted:
        return "failed"
    return _TESTS.get(state.converged) if state.converged else None


def lm_stop_reason(state: LMState, info: StepInfo) -> str | None:
    """Why a run should stop after ``info`` (failure or convergence), or ``None``.

    Returns
    -------
    str or None
        ``"Levenberg-Marquardt step failed: <info.message>"`` for a failed step,
        otherwise the convergence reason ``state.converged`` (``"relative reduction
        below ftol"``, ``"relative step below xtol"``, ``"gradient norm below
        tolerance"``).
    """
    if not info.accepted:
        return f"Levenberg-Marquardt step failed: {info.message}"
    return state.converged or None
