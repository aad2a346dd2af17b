"""Hook: new collocation points every ``every`` iterations (``TrainConfig.resample_every``),
drawn by the formulation from the run's generator; the stage's curvature memory
belongs to the old points and is cleared where the stage asks for it."""

from __future__ import annotations

from ..checkpoint import rng_state
from .base import Hook

__all__ = ["Resample"]


class Resample(Hook):
    """Draw new collocation points every ``every`` iterations.

    On a failure of the problem's callables (an exception, NaN or inf values) the
    current points are kept and the run stops with the reason.
    """

    def __init__(self, every: int) -> None:
        self.every = every

    def after_iteration(self, run) -> str | None:
        if not (self.every and run.it % self.every == 0):
            return None
        state = rng_state(run.rng)
        try:
            groups = run.form.residual_groups(run.problem, run.rng)
        except Exception as exc:  # user callables: body force, prescribed values
            return (
                f"resampling failed at iteration {run.it}: {type(exc).__name__}: {exc}; "
                "kept the best iterate"
            )
        run.sample_state = state
        run.set_groups(groups)
        if run.stages[run.si].restarts_on_resample:
            run.restart_stage()
        return None
