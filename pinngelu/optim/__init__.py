"""Hand-written optimisers: strong-Wolfe line search, L-BFGS and Adam with explicit state.

Modules: :mod:`~pinngelu.optim.lbfgs_state` (settings, state, step diagnostics),
:mod:`~pinngelu.optim.lbfgs` (the iteration as pure functions),
:mod:`~pinngelu.optim.stopping` (the stopping tests, shared by every driver),
:mod:`~pinngelu.optim.minimize` (:func:`minimize_lbfgs`),
:mod:`~pinngelu.optim.linesearch` and :mod:`~pinngelu.optim.adam`.
"""

from .adam import AdamState, adam_init, adam_update, constant_schedule, exponential_decay
from .lbfgs import (
    lbfgs_direction,
    lbfgs_init,
    lbfgs_step,
    reset_memory,
    steepest_descent,
    step_info,
    two_loop,
    update_memory,
)
from .lbfgs_state import LBFGSConfig, LBFGSState, StepInfo
from .linesearch import LineSearchResult, strong_wolfe
from .minimize import OptimizeResult, minimize_lbfgs
from .stopping import STOP_REASONS, gradient_converged, lbfgs_stop_reason, lbfgs_stop_test

__all__ = [
    "strong_wolfe",
    "LineSearchResult",
    "LBFGSConfig",
    "LBFGSState",
    "StepInfo",
    "lbfgs_init",
    "lbfgs_direction",
    "steepest_descent",
    "update_memory",
    "reset_memory",
    "step_info",
    "lbfgs_step",
    "lbfgs_stop_test",
    "lbfgs_stop_reason",
    "gradient_converged",
    "STOP_REASONS",
    "minimize_lbfgs",
    "OptimizeResult",
    "two_loop",
    "AdamState",
    "adam_init",
    "adam_update",
    "constant_schedule",
    "exponential_decay",
]
