"""Hook: the relative L2 error of the displacement against the problem's exact
solution at given points, every ``every`` recorded iterations, into the history."""

from __future__ import annotations

import numpy as np

from .base import Hook

__all__ = ["ErrorTracker"]


class ErrorTracker(Hook):
    """Evaluate the error at ``points (M, d)`` (m) every ``every`` iterations."""

    def __init__(self, points: np.ndarray, every: int) -> None:
        self.points = points
        self.every = every

    def recorded(self, run, loss: float, gnorm: float) -> None:
        run.last_error = None
        if run.problem.exact is None or not self.every or run.it % self.every:
            return
        theta, q = run.current()
        sol = run.problem.solution(run.mlp, theta, q, enrichment=run.obj.coefficients)
        err = sol.relative_l2_error(self.points, comm=run.comm)
        run.history.record_error(run.it, run.elapsed(), err)
        run.last_error = err
