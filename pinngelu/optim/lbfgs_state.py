"""Settings and state of L-BFGS (plain data).

:class:`LBFGSState` holds only numpy arrays and Python scalars;
:meth:`LBFGSState.to_dict` and :meth:`LBFGSState.from_dict` convert it to and from
a flat dict suitable for ``np.savez``, and a restored state continues
bit-identically. The per-step diagnostics, :class:`~pinngelu.optim.common.StepInfo`,
are shared by every optimiser (re-exported here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .common import DescentState, FloatArray, StepInfo, check_wolfe, validate

__all__ = ["LBFGSConfig", "LBFGSState", "StepInfo"]


@dataclass(frozen=True)
class LBFGSConfig:
    """Settings of L-BFGS.

    The budgets (iterations, evaluations, time) are not settings: they are arguments of
    the driver, :func:`~pinngelu.optim.minimize.minimize`, or of the caller's own loop;
    :func:`~pinngelu.optim.lbfgs.lbfgs_step` takes the evaluations it may spend as its
    ``max_evals`` argument.

    Attributes
    ----------
    memory : int
        Number of correction pairs ``(s, y)`` kept (``>= 1``).
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
        Step test: stop when ``||x_new - x||_inf <= xtol * max(||x_new||_inf, tiny)``
        (0: off).
    c1, c2 : float
        Strong-Wolfe constants of the line search, ``0 < c1 < c2 < 1``.
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

    Raises
    ------
    ValueError
        If a number is out of range or not a number (booleans included); the message
        names the setting and the value.
    TypeError
        If ``damping`` is not a bool, or an unknown field (e.g. a budget) is given.
    """

    memory: int = 20
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
        validate(
            self,
            counts=("memory", "ftol_iters", "max_linesearch"),
            positive=("step_max", "init_step"),
            nonnegative=("gtol", "gtol_abs", "ftol", "xtol", "curvature_eps"),
            flags=("damping",),
        )
        c1, c2 = check_wolfe("LBFGSConfig", self.c1, self.c2)
        object.__setattr__(self, "c1", c1)
        object.__setattr__(self, "c2", c2)


_INT_FIELDS = ("head", "count", "n_iter", "n_eval", "n_fail", "n_stall")
_FLOAT_FIELDS = ("f", "gamma", "f_init", "gnorm_init")
_ARRAY_FIELDS = ("x", "g", "S", "Y", "rho")


@dataclass
class LBFGSState(DescentState):
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
