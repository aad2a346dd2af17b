"""Hook: the run's budgets (``TrainConfig.time_limit``, ``max_evals``), checked before
the first iteration and after every one; the time test is rank 0's clock, agreed on
every rank so that the ranks stop in lockstep."""

from __future__ import annotations

from .base import Hook

__all__ = ["Budget"]


class Budget(Hook):
    """Stop at a wall-time limit (seconds) or an evaluation budget."""

    def __init__(self, time_limit: float | None, max_evals: int | None) -> None:
        self.time_limit = time_limit
        self.max_evals = max_evals

    def reason(self, run) -> str | None:
        if self.time_limit is not None and run.agree(run.elapsed() >= self.time_limit):
            return "time limit reached"
        if self.max_evals is not None and run.n_eval() >= self.max_evals:
            return "evaluation budget reached"
        return None

    def begin(self, run) -> str | None:
        return self.reason(run)

    def after_iteration(self, run) -> str | None:
        return self.reason(run)
