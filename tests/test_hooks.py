"""Each hook of the training loop on its own: a real run state of a tiny problem, the
hook called at its point, its effect checked (the loop's use of them is covered by
test_training, test_stages, test_adaptive, test_energy and the trajectory digests)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import pinngelu as pg
from pinngelu.strong import StrongForm
from pinngelu.training import hooks
from pinngelu.training.checkpoint import read_checkpoint
from pinngelu.training.run import Run


@pytest.fixture
def problem(plate):
    return plate.build_problem(n_interior=64, n_boundary=48)


def make_run(problem, out=None, **settings) -> Run:
    settings.setdefault("stages", (pg.LBFGS(5),))
    cfg = pg.TrainConfig(**settings)
    mlp = pg.MLP(2, (6,), 2)
    rng = np.random.default_rng(0)
    run = Run(problem, mlp, rng, "cpu", cfg, out)
    run.theta = mlp.init(rng)
    return run


def test_budget_stops_at_the_evaluation_budget_and_the_time_limit(problem):
    run = make_run(problem)
    budget = hooks.Budget(time_limit=None, max_evals=3)
    assert budget.begin(run) is None
    for _ in range(3):
        run.obj(run.theta)
    assert budget.after_iteration(run) == "evaluation budget reached"
    timed = hooks.Budget(time_limit=10.0, max_evals=None)
    assert timed.after_iteration(run) is None
    run.t_offset = 10.0  # ten seconds spent in an earlier part of the run
    assert timed.begin(run) == "time limit reached"


def test_user_callback_sees_the_run_and_stops_on_true(problem):
    run = make_run(problem)
    seen = []
    hook = hooks.UserCallback(lambda r: seen.append(r.it) or r.it >= 2)
    run.it = 1
    assert hook.after_iteration(run) is None
    run.it = 2
    assert hook.after_iteration(run) == "stopped by callback"
    assert seen == [1, 2]


def test_resample_draws_new_points_every_n_iterations(problem):
    run = make_run(problem)
    first = run.fingerprint
    hook = hooks.Resample(every=3)
    run.it = 2
    assert hook.after_iteration(run) is None and run.fingerprint == first
    run.it = 3
    run.restart_stage()
    assert hook.after_iteration(run) is None
    assert run.fingerprint != first  # new points
    # the groups are those the formulation draws from the recorded generator state
    again = make_run(problem)
    from pinngelu.training.checkpoint import set_rng_state

    set_rng_state(again.rng, run.sample_state)
    expect = StrongForm().residual_groups(problem, again.rng)
    assert all(np.array_equal(a.X, b.X) for a, b in zip(run.obj.groups, expect, strict=True))


def test_resample_failure_keeps_the_points_and_names_the_iteration(plate):
    calls = {"n": 0}

    def force(X):
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("sensor offline")
        return plate.body_force(X)

    geom = pg.Rectangle(0.0, 1.0, 0.0, 1.0)
    prob = pg.ElasticityProblem(
        geom,
        pg.Material.from_lame(1.0, 0.5),
        [pg.Dirichlet("bottom", 0.0)],
        force,
        n_interior=32,
        n_boundary=16,
        formulation=pg.StrongForm(),  # collocation points to redraw
    )
    run = make_run(prob)
    before = run.fingerprint
    run.it = 4
    reason = hooks.Resample(every=2).after_iteration(run)
    assert reason is not None and "resampling failed at iteration 4" in reason
    assert "sensor offline" in reason and run.fingerprint == before


def test_adapt_moves_points_and_restarts_the_best_iterate(problem):
    run = make_run(problem, adapt=pg.RAD(every=2, k=1.0, c=0.0), print_every=1, out=None)
    out = io.StringIO()
    run.out = out
    run.best = (1e-30, run.theta.copy())  # a loss on the old points
    X0 = run.points[0].copy()
    run.it = 2
    run.restart_stage()
    assert hooks.Adapt(run.config.adapt).after_iteration(run) is None
    assert not np.array_equal(run.points[0], X0)
    f = pg.loss_and_grad(run.mlp, run.theta, run.obj.groups).loss
    assert run.best[0] == pytest.approx(f, rel=1e-14)  # tracked on the new points
    assert "points adapted to the residual" in out.getvalue()


def test_error_tracker_records_the_error_every_n_iterations(problem, plate):
    run = make_run(problem)
    X = plate.grid(11)
    hook = hooks.ErrorTracker(X, every=5)
    run.it = 4
    hook.recorded(run, 1.0, 1.0)
    assert run.last_error is None and run.history.lists["error"] == []
    run.it = 5
    hook.recorded(run, 1.0, 1.0)
    u = run.problem.solution(run.mlp, run.theta).displacement(X)
    ref = np.linalg.norm(u - plate.exact(X)) / np.linalg.norm(plate.exact(X))
    assert run.last_error == pytest.approx(ref, rel=1e-12)
    assert run.history.lists["error_iteration"] == [5]


def test_progress_prints_lines_at_its_interval(problem):
    out = io.StringIO()
    run = make_run(problem, out=out)
    run.obj(run.theta)
    hook = hooks.Progress(every=10)
    run.it = 9
    hook.recorded(run, 1.5, 0.25)
    assert out.getvalue() == ""
    run.it = 10
    run.last_error = 3.0e-2
    hook.recorded(run, 1.5, 0.25)
    line = out.getvalue()
    assert "it     10  loss 1.5000e+00  |g| 2.50e-01" in line and "rel_l2=3.000e-02" in line
    hook.stage_end(run, pg.LBFGS(5), "L-BFGS iteration budget reached")
    hook.end(run, "time limit reached")
    text = out.getvalue()
    assert "[lbfgs] stage ended: L-BFGS iteration budget reached" in text
    assert "stopped after 10 iterations" in text and "time limit reached" in text
    silent = make_run(problem, out=None)
    hooks.Progress(every=1).recorded(silent, 1.0, 1.0)  # no stream: nothing to do


def test_checkpoint_hook_writes_at_its_interval_and_at_the_end(problem, tmp_path):
    path = tmp_path / "ck.npz"
    run = make_run(problem, checkpoint=path)
    run.hooks = []
    hook = hooks.Checkpoint(path, every=4)
    run.it = 3
    hook.after_iteration(run)
    assert not path.exists()
    run.it = 4
    hook.after_iteration(run)
    meta, arrays = read_checkpoint(path)
    assert meta["it"] == 4 and np.array_equal(arrays["theta"], run.theta)
    run.it = 6
    hook.end(run, "done")
    assert read_checkpoint(path)[0]["it"] == 6


@dataclass(frozen=True)
class _Checked(StrongForm):
    """The strong form with a made-up discretisation check: it fails whenever the
    level is below ``good``, and each refinement raises the level by one."""

    level: int = 0
    good: int = 99
    refinements: ClassVar[int] = 2

    def check_every(self, solved_output_layer: bool) -> int:
        return 5

    def self_check(self, problem, mlp, theta, device, coefficients=None) -> dict:
        return {"relative_difference": 0.0 if self.level >= self.good else 1.0, "tolerance": 0.5}

    def refined(self, problem):
        return _Checked(level=self.level + 1, good=self.good)

    def discretisation(self, problem) -> str:
        return f"level {self.level}"


def test_quadrature_check_refines_then_stops_at_the_last_checked_iterate(plate):
    prob = plate.build_problem(n_interior=64, n_boundary=48, formulation=_Checked(good=99))
    out = io.StringIO()
    run = make_run(prob, out=out)
    hook = hooks.QuadratureCheck()
    hook.begin(run)
    start = run.theta.copy()
    run.theta = start + 0.1  # moved since the last check
    run.restart_stage()
    run.it = 4
    assert hook.after_iteration(run) is None and run.form.level == 0  # not a check iteration
    run.it = 5
    assert hook.after_iteration(run) is None
    assert run.form.level == 1 and hook.refined == 1
    assert np.array_equal(run.theta, start)  # back to the last checked iterate
    assert "back to iteration 0, continuing on level 1" in out.getvalue()
    run.it = 10
    assert hook.after_iteration(run) is None and run.form.level == 2
    run.it = 15
    reason = hook.after_iteration(run)
    assert reason is not None and "stopped at the last checked iterate (iteration 0)" in reason
    assert prob.formulation.level == 0  # the problem keeps its own formulation
    meta, arrays = hook.state()
    fresh = hooks.QuadratureCheck()
    fresh.load(meta, arrays)
    assert fresh.refined == 2 and np.array_equal(fresh.last_checked[1], start)


def test_quadrature_check_that_passes_moves_the_last_checked_iterate(plate):
    prob = plate.build_problem(n_interior=64, n_boundary=48, formulation=_Checked(good=0))
    run = make_run(prob)
    hook = hooks.QuadratureCheck()
    hook.begin(run)
    run.theta = run.theta + 1.0
    run.it = 5
    assert hook.after_iteration(run) is None
    assert hook.last_checked[0] == 5 and np.array_equal(hook.last_checked[1], run.theta)
    assert math.isinf(run.best[0])  # untouched
