"""Hook: progress lines (rank 0): the formulation and why (first line of a new run),
iteration, loss, gradient norm, elapsed time, the
error where it is tracked, the identified material, the per-group losses; a line at
each stage's end, one when the run stops and one with the formulation's check of the
result."""

from __future__ import annotations

import math

from .base import Hook

__all__ = ["Progress"]


class Progress(Hook):
    """Print a line every ``every`` iterations (0: only the stage and run ends)."""

    def __init__(self, every: int) -> None:
        self.every = every

    def begin(self, run) -> None:
        if run.it == 0:  # a new run: what it solves, how and why
            why = getattr(run.problem, "formulation_reason", None)
            run.say(f"formulation: {run.form.name}" + (f" ({why})" if why else ""))
            fallback = run.config.default_fallback(run.n_params)
            if fallback is not None:
                run.say(fallback)
        return None

    def recorded(self, run, loss: float, gnorm: float) -> None:
        if run.out is None or not self.every or run.it % self.every:
            return
        groups = " ".join(f"{k}={v:.2e}" for k, v in run.obj.last_groups.items())
        e = "" if run.last_error is None else f" rel_l2={run.last_error:.3e}"
        q = run.current()[1]
        if q is not None:
            mat = run.problem.material_at(q)
            e += f" lam={mat.lam:.5g} mu={mat.mu:.5g}"
        run.say(
            f"[{run.stage:5s}] it {run.it:6d}  loss {loss:.4e}  |g| {gnorm:.2e}  "
            f"t {run.elapsed():7.1f}s{e}  ({groups})"
        )

    def stage_end(self, run, stage, reason: str) -> None:
        run.say(f"[{stage.name}] stage ended: {reason}")

    def end(self, run, reason: str) -> None:
        best_loss = run.best[0] if run.best[1] is not None else math.nan
        run.say(
            f"stopped after {run.it} iterations, {run.n_eval()} evaluations, "
            f"{run.elapsed():.1f} s: {reason}; best loss {best_loss:.4e}"
        )
        if run.final_check is not None:
            run.say(run.form.describe_check(run.final_check))
