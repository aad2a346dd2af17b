"""The stage loop: run the stages in order and ask the hooks at fixed points.

::

    begin hooks (a budget may stop the run before it starts)
    for each stage from the current one:
        start it (the optimiser state at the current point; record that point)
        until the stage ends:
            one step; record the point it reports (history, best iterate)
            -> recorded hooks (errors, progress)
            the stage's own stop (convergence, a failed step):
                a failed step on the solved output layer hands over to all layers;
                otherwise the stage ends
            -> after_iteration hooks in order (points, the formulation's check,
               checkpoint, callback, budget): a reason stops the run
        -> stage_end hooks; the next stage starts from the point reached (from the
           best point after a failure)
    the best recorded iterate; the formulation's check of it
    -> end hooks (progress: the final lines and the check's; checkpoint: the last write)

The hooks are :mod:`pinngelu.training.hooks`; the state they share is
:class:`~pinngelu.training.run.Run`.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..optim import STOP_REASONS
from .config import TrainResult
from .run import Run
from .stages import Stage

__all__ = ["run_stages", "GTOL_LOSS_FACTOR"]

GTOL_LOSS_FACTOR = 2.0
"""A stage's gradient test ends it only where the current loss is at most this
factor times the best loss recorded so far: after a resample the stage's reference
gradient belongs to the new points, and a small gradient far above the best loss is
no convergence of the run."""


def record(run: Run, loss: float, gnorm: float) -> None:
    """Record the current iterate's loss in the history and the best iterate, then
    ask the ``recorded`` hooks."""
    q = run.current()[1]
    run.history.record(run.it, run.stage, loss, gnorm, run.elapsed(), run.obj.last_groups, q)
    if loss < run.best[0]:
        run.best = (loss, run.theta.copy())
    for hook in run.hooks:
        hook.recorded(run, loss, gnorm)


def stage_stop(stop: str | None, f: float, best: float) -> str | None:
    """A stage's own stop reason, except that a gradient test counts only where the
    loss is at most ``GTOL_LOSS_FACTOR`` times the best loss so far."""
    if stop == STOP_REASONS["gtol"] and not f <= GTOL_LOSS_FACTOR * best:
        return None
    return stop


def release_projection(run: Run, stage: Stage, why: str) -> None:
    """Variable projection has stalled (a failed step: the reduced loss is only as
    smooth as the output-layer solve is accurate): continue the stage on every layer
    from the best point, its output layer solved once more."""
    best = run.best[1] if run.best[1] is not None else run.theta
    run.theta = run.obj.params(best).copy()
    if run.best[1] is not None:  # the best point as the parameters it stands for
        run.best = (run.best[0], run.theta.copy())
    run.obj.solve_output = False
    run.say(
        f"[{stage.name}] iteration {run.it}: the solved output layer stalled ({why}); "
        "continuing on all layers"
    )
    run.restart_stage()


def run_stage(run: Run, stage: Stage) -> tuple[str | None, str | None, bool]:
    """Iterate the current stage; returns ``(run_reason, stage_reason, failed)``: why
    the whole run must stop (a hook's reason, a step that cannot go on), or why this
    stage ended (its budget, convergence or a failed step, ``failed`` True)."""
    if run.state is None:
        try:
            run.restart_stage()
        except ValueError as exc:  # a non-finite objective where the stage starts
            return f"{stage.label} could not start: {exc}; kept the best iterate", None, True
        if stage.records_initial:
            run.theta = run.state.x.copy()
            rec = stage.initial(run.state)
            record(run, rec.f, rec.gnorm)
    while True:
        if run.stage_it >= stage.iters:
            return None, f"{stage.label} iteration budget reached", False
        if stage.time_limit is not None and run.agree(run.stage_time() >= stage.time_limit):
            return None, f"{stage.label} time limit reached", False
        run.state, rec = stage.step(run.obj, run.state)
        if stage.records_initial:  # the step reports the point it moved to
            run.theta = rec.x.copy()
            run.it += 1
            run.stage_it += 1
            record(run, rec.f, rec.gnorm)
        elif rec.stop is None:  # Adam reports the point it stepped from
            record(run, rec.f, rec.gnorm)
            run.theta = run.state.x
            run.it += 1
            run.stage_it += 1
        stop = stage_stop(rec.stop, rec.f, run.best[0])
        if stop is not None and rec.failed and not rec.abort and run.obj.solve_output:
            release_projection(run, stage, stop)
            continue
        if stop is not None:
            return (stop, None, True) if rec.abort else (None, stop, rec.failed)
        for hook in run.hooks:
            reason = hook.after_iteration(run)
            if reason is not None:
                return reason, None, False


def run_stages(run: Run) -> TrainResult:
    """Run the stages of ``run`` from where it stands to the end; returns the result
    at the best recorded iterate."""
    run.t0 = time.perf_counter()
    run.stage_t0 = None
    reason = None
    for hook in run.hooks:
        reason = reason or hook.begin(run)
    while reason is None and run.si < len(run.stages):
        stage = run.stages[run.si]
        run.stage = stage.name
        run.stage_t0 = run.elapsed()
        reason, ended, failed = run_stage(run, stage)
        if reason is not None:
            break
        if run.si == len(run.stages) - 1:
            reason = ended
            break
        for hook in run.hooks:
            hook.stage_end(run, stage, ended)
        if failed and run.best[1] is not None:
            run.theta = run.best[1].copy()  # the next stage starts from the best point
        run.si += 1
        run.stage_it = 0
        run.stage_elapsed = 0.0
        run.stage_t0 = None
        run.state = None
    # the best recorded iterate: every recorded loss was evaluated at the theta
    # recorded with it (Adam records before it steps, the others after they move)
    best_loss, best_theta = run.best
    if best_theta is None:  # no iteration recorded (stages of 0 iterations): the start
        best_theta, best_loss = run.theta, run.obj.value(run.theta)
    theta, q = run.split(run.obj.params(best_theta))
    run.final_check = None
    if math.isfinite(best_loss):
        run.final_check = run.form.final_check(
            run.problem, run.mlp, theta, run.obj.backend, run.obj.coefficients
        )
    for hook in run.hooks:
        hook.end(run, str(reason))
    return TrainResult(
        theta.copy(),
        float(best_loss),
        run.history.lists,
        str(reason),
        run.it,
        run.n_eval(),
        run.elapsed(),
        np.zeros(0) if q is None else q.copy(),
        run.final_check,
        run.form,
        run.obj.coefficients.copy(),
    )
