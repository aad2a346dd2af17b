"""Hook: residual-based adaptive collocation (``TrainConfig.adapt``, RAD / RAR-D of
:mod:`pinngelu.training.adaptive`): every ``adapt.every`` iterations the points of
each group are drawn again where the residual is large, and the best-iterate
tracking restarts on them (losses on different points do not compare)."""

from __future__ import annotations

import math

from ..adaptive import RAD, adapt_points
from .base import Hook

__all__ = ["Adapt"]


class Adapt(Hook):
    """Adapt the collocation points to the residual every ``rad.every`` iterations.

    On a failure (the problem's callables, non-finite residuals) the current points
    are kept and the run stops with the reason.
    """

    def __init__(self, rad: RAD) -> None:
        self.rad = rad

    def after_iteration(self, run) -> str | None:
        if run.it % self.rad.every != 0:
            return None
        theta, q = run.current()
        try:
            points = adapt_points(
                run.problem,
                run.mlp,
                theta,
                q,
                run.points,
                self.rad,
                run.rng,
                run.obj.backend,
                run.comm,
            )
            groups = run.problem.groups_at(*points)
        except Exception as exc:  # user callables, non-finite residuals
            return (
                f"adaptive resampling failed at iteration {run.it}: {type(exc).__name__}: "
                f"{exc}; kept the best iterate"
            )
        run.points = points
        run.set_groups(groups)
        f = run.obj.value(run.theta)
        run.best = (f, run.theta.copy()) if math.isfinite(f) else run.best
        if run.config.print_every:
            sizes = " ".join(f"{g.name}={g.n_points}" for g in groups)
            run.say(
                f"[{run.stage:5s}] it {run.it:6d}  points adapted to the residual: "
                f"loss {f:.4e} on them  ({sizes})"
            )
        if run.stages[run.si].restarts_on_resample:
            run.restart_stage()
        return None
