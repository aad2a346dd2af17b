"""Hand-written optimisers with explicit state, and one driver for all of them.

L-BFGS, dense quasi-Newton (BFGS, self-scaled BFGS and Broyden), Levenberg-Marquardt
and Adam each come as pure functions on an explicit, serialisable state (``*_init``,
``*_step``, ``*_stop_test`` / ``*_stop_reason``) and a frozen settings object that
carries no budget.  :func:`minimize` runs any of them by the same call and returns the
same :class:`OptimizeResult`::

    res = minimize(fun, x0, LBFGSConfig(memory=10), max_iter=500, max_eval=2000)

Modules:

- :mod:`~pinngelu.optim.minimize`: :func:`minimize`, :class:`OptimizeResult` and
  :func:`minimize_lbfgs` (L-BFGS with its settings as keywords);
- :mod:`~pinngelu.optim.common`: what every method shares (objective evaluation,
  :class:`StepInfo` and :func:`step_info`, the checks of the settings);
- :mod:`~pinngelu.optim.stopping`: the stopping tests of L-BFGS, the gradient test and
  the :class:`Status` codes;
- :mod:`~pinngelu.optim.lbfgs_state` and :mod:`~pinngelu.optim.lbfgs`: L-BFGS settings
  and state, and its iteration;
- :mod:`~pinngelu.optim.quasi_newton`: dense quasi-Newton methods;
- :mod:`~pinngelu.optim.lm`: Levenberg-Marquardt and its least-squares objective;
- :mod:`~pinngelu.optim.adam`: Adam, its schedules and its driven run;
- :mod:`~pinngelu.optim.linesearch`: the strong-Wolfe line search.
"""

from .adam import (
    AdamConfig,
    AdamRun,
    AdamState,
    adam_init,
    adam_run_init,
    adam_step,
    adam_stop_reason,
    adam_stop_test,
    adam_update,
    constant_schedule,
    exponential_decay,
)
from .common import StepInfo, step_info
from .lbfgs import (
    lbfgs_direction,
    lbfgs_init,
    lbfgs_step,
    reset_memory,
    steepest_descent,
    two_loop,
    update_memory,
)
from .lbfgs_state import LBFGSConfig, LBFGSState
from .linesearch import LineSearchResult, strong_wolfe
from .lm import (
    LeastSquares,
    LeastSquaresObjective,
    LMConfig,
    LMState,
    lm_init,
    lm_memory_bytes,
    lm_step,
    lm_stop_reason,
    lm_stop_test,
)
from .minimize import OptimizeResult, minimize, minimize_lbfgs
from .quasi_newton import (
    QNConfig,
    QNState,
    QNUpdate,
    broyden_parameters,
    dense_memory_bytes,
    qn_init,
    qn_step,
    qn_stop_reason,
    qn_stop_test,
)
from .stopping import (
    STATUS_MESSAGES,
    STOP_REASONS,
    Status,
    gradient_converged,
    lbfgs_stop_reason,
    lbfgs_stop_test,
)

__all__ = [
    # the driver
    "minimize",
    "minimize_lbfgs",
    "OptimizeResult",
    "Status",
    "STATUS_MESSAGES",
    "StepInfo",
    "step_info",
    # L-BFGS
    "LBFGSConfig",
    "LBFGSState",
    "lbfgs_init",
    "lbfgs_direction",
    "steepest_descent",
    "two_loop",
    "update_memory",
    "reset_memory",
    "lbfgs_step",
    "lbfgs_stop_test",
    "lbfgs_stop_reason",
    "gradient_converged",
    "STOP_REASONS",
    # dense quasi-Newton
    "QNConfig",
    "QNUpdate",
    "QNState",
    "qn_init",
    "qn_step",
    "qn_stop_test",
    "qn_stop_reason",
    "broyden_parameters",
    "dense_memory_bytes",
    "lm_memory_bytes",
    # Levenberg-Marquardt
    "LMConfig",
    "LMState",
    "LeastSquares",
    "LeastSquaresObjective",
    "lm_init",
    "lm_step",
    "lm_stop_test",
    "lm_stop_reason",
    # Adam
    "AdamConfig",
    "AdamState",
    "AdamRun",
    "adam_init",
    "adam_update",
    "adam_run_init",
    "adam_step",
    "adam_stop_test",
    "adam_stop_reason",
    "constant_schedule",
    "exponential_decay",
    # line search
    "strong_wolfe",
    "LineSearchResult",
]
