"""The stopping tests of L-BFGS, written once for every loop that drives it.

:func:`minimize_lbfgs` and the training loop both step with
:func:`~pinngelu.optim.lbfgs.lbfgs_step` and ask :func:`lbfgs_stop_test` after
each step whether to stop; the budgets (iterations, evaluations, time) are the
callers' own.
"""

from __future__ import annotations

import numpy as np

from .lbfgs_state import LBFGSConfig, LBFGSState, StepInfo

__all__ = [
    "STOP_REASONS",
    "gradient_converged",
    "lbfgs_stop_reason",
    "lbfgs_stop_test",
]

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

#: Reasons reported by :func:`lbfgs_stop_reason` for the convergence tests.
STOP_REASONS = {
    "gtol": "gradient norm below tolerance",
    "ftol": "relative decrease below ftol",
    "xtol": "step below xtol",
}


def gradient_converged(gnorm: float, gnorm_init: float, config: LBFGSConfig) -> bool:
    """Gradient test: ``gnorm <= gtol_abs`` or ``gnorm <= gtol * gnorm_init``.

    Parameters
    ----------
    gnorm : float
        ``||g||_inf`` at the current iterate.
    gnorm_init : float
        ``||g||_inf`` at the starting point (reference of the relative test).
    config : LBFGSConfig
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
          descent, a zero gradient, or an exhausted evaluation budget);
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
        float(np.max(np.abs(state.x))), _TINY
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
