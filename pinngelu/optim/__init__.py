"""Hand-written optimisers: strong-Wolfe line search, L-BFGS and Adam with explicit state."""

from .adam import AdamState, adam_init, adam_update, constant_schedule, exponential_decay
from .lbfgs import (
    LBFGSConfig,
    LBFGSState,
    OptimizeResult,
    StepInfo,
    lbfgs_init,
    lbfgs_step,
    minimize_lbfgs,
    two_loop,
)
from .linesearch import LineSearchResult, strong_wolfe

__all__ = [
    "strong_wolfe",
    "LineSearchResult",
    "LBFGSConfig",
    "LBFGSState",
    "StepInfo",
    "lbfgs_init",
    "lbfgs_step",
    "minimize_lbfgs",
    "OptimizeResult",
    "two_loop",
    "AdamState",
    "adam_init",
    "adam_update",
    "constant_schedule",
    "exponential_decay",
]
