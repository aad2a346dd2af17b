"""The stopping tests and status codes, written once for every loop that drives an optimiser.

:func:`~pinngelu.optim.minimize.minimize` and the training loop both step with
:func:`~pinngelu.optim.lbfgs.lbfgs_step` (or another method's step) and ask the
method's stop test after each step whether to stop: :func:`lbfgs_stop_test` here,
:func:`~pinngelu.optim.quasi_newton.qn_stop_test`,
:func:`~pinngelu.optim.lm.lm_stop_test` and :func:`~pinngelu.optim.adam.adam_stop_test`.
The tests look at tolerances only; the budgets (iterations, evaluations, time) are
the callers' own, and :class:`Status` lists the ways a driver ends.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol

import numpy as np

from .common import TINY, StepInfo
from .lbfgs_state import LBFGSConfig, LBFGSState

__all__ = [
    "STATUS_MESSAGES",
    "STOP_REASONS",
    "Status",
    "gradient_converged",
    "lbfgs_stop_reason",
    "lbfgs_stop_test",
]


class Status(IntEnum):
    """Why :func:`~pinngelu.optim.minimize.minimize` stopped (``OptimizeResult.status``).

    The first three are convergence (``OptimizeResult.success``).
    """

    GTOL = 0
    """Gradient norm below tolerance."""
    FTOL = 1
    """Relative decrease below tolerance."""
    XTOL = 2
    """Step below tolerance."""
    MAX_ITER = 3
    """Iteration budget spent."""
    MAX_EVAL = 4
    """Evaluation budget spent."""
    TIME_LIMIT = 5
    """Time budget spent."""
    FAILED = 6
    """The step could not move the iterate (no lower value found, or Adam met a
    non-finite value)."""
    CALLBACK = 7
    """Stopped by the callback."""


# the codes as plain names
STATUS_GTOL = Status.GTOL
STATUS_FTOL = Status.FTOL
STATUS_XTOL = Status.XTOL
STATUS_MAX_ITER = Status.MAX_ITER
STATUS_MAX_EVAL = Status.MAX_EVAL
STATUS_TIME_LIMIT = Status.TIME_LIMIT
STATUS_FAILED = Status.FAILED
STATUS_LINESEARCH = Status.FAILED  # its name before Levenberg-Marquardt and Adam joined
STATUS_CALLBACK = Status.CALLBACK

#: Reasons reported by :func:`lbfgs_stop_reason` for the convergence tests.
STOP_REASONS = {
    "gtol": "gradient norm below tolerance",
    "ftol": "relative decrease below ftol",
    "xtol": "step below xtol",
}

#: Message of each :class:`Status` (a convergence or failure message of the method
#: replaces these where it says more).
STATUS_MESSAGES = {
    Status.GTOL: STOP_REASONS["gtol"],
    Status.FTOL: STOP_REASONS["ftol"],
    Status.XTOL: STOP_REASONS["xtol"],
    Status.MAX_ITER: "maximum number of iterations reached",
    Status.MAX_EVAL: "maximum number of function evaluations reached",
    Status.TIME_LIMIT: "time limit reached",
    Status.FAILED: "the step could not find a lower value",
    Status.CALLBACK: "stopped by callback",
}


class GradientTolerances(Protocol):
    """Settings with a relative and an absolute gradient tolerance."""

    @property
    def gtol(self) -> float: ...

    @property
    def gtol_abs(self) -> float: ...


def gradient_converged(gnorm: float, gnorm_init: float, config: GradientTolerances) -> bool:
    """Gradient test: ``gnorm <= gtol_abs`` or ``gnorm <= gtol * gnorm_init``.

    Parameters
    ----------
    gnorm : float
        ``||g||_inf`` at the current iterate.
    gnorm_init : float
        ``||g||_inf`` at the starting point (reference of the relative test).
    config : LBFGSConfig, QNConfig or AdamConfig
        Supplies ``gtol`` and ``gtol_abs``.
    """
    return gnorm <= config.gtol_abs or gnorm <= config.gtol * gnorm_init


def lbfgs_stop_test(state: LBFGSState, info: StepInfo, config: LBFGSConfig) -> str | None:
    """Which stopping test the step just taken meets, if any.

    Parameters
    ----------
    state : LBFGSState
        The state returned by the step.
    info : StepInfo
        The step's diagnostics.
    config : LBFGSConfig
        The tolerances.

    Returns
    -------
    str or None
        The first of, in this order:

        - ``"failed"``: the step did not move the iterate (``info.accepted`` is
          False: no lower value along the search direction nor along steepest
          descent, a zero gradient, or no evaluations left to the step);
        - ``"gtol"``: :func:`gradient_converged` at the new iterate;
        - ``"ftol"``: ``ftol_iters`` consecutive iterations with a relative
          decrease below ``ftol`` (``state.n_stall``);
        - ``"xtol"``: ``xtol > 0`` and ``info.step_norm <= xtol * ||x||_inf``;

        ``None`` when none holds.
    """
    if not info.accepted:
        return "failed"
    if gradient_converged(info.gnorm, state.gnorm_init, config):
        return "gtol"
    if state.n_stall >= config.ftol_iters:
        return "ftol"
    if config.xtol > 0.0 and info.step_norm <= config.xtol * max(
        float(np.max(np.abs(state.x))), TINY
    ):
        return "xtol"
    return None


def lbfgs_stop_reason(state: LBFGSState, info: StepInfo, config: LBFGSConfig) -> str | None:
    """:func:`lbfgs_stop_test` as the reason a training run reports, or ``None``.

    Returns
    -------
    str or None
        ``"L-BFGS stopped: <info.message>"`` for a failed step, otherwise the entry
        of :data:`STOP_REASONS` for the test met (``"gradient norm below
        tolerance"``, ``"relative decrease below ftol"``, ``"step below xtol"``).
    """
    test = lbfgs_stop_test(state, info, config)
    if test is None:
        return None
    if test == "failed":
        return f"L-BFGS stopped: {info.message}"
    return STOP_REASONS[test]
