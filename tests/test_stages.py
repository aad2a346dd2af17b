"""Training with a list of stages (Adam, L-BFGS, dense quasi-Newton,
Levenberg-Marquardt): order and budgets, hand-over between stages, bit-identical
resume inside every kind of stage, failures, memory caps and configuration checks."""

from __future__ import annotations

import numpy as np
import pytest
from stagecfg import stage_config

import pinngelu as pg
from pinngelu.loss import loss_and_grad

STAGES = (
    pg.Adam(4, 1e-2),
    pg.LBFGS(5),
    pg.QuasiNewton(5, pg.QNConfig(pg.QNUpdate.SSBROYDEN2)),
    pg.QuasiNewton(3, pg.QNConfig(pg.QNUpdate.BFGS)),
    pg.LevenbergMarquardt(4),
)
KINDS = ["adam", "lbfgs", "ssbroyden2", "bfgs", "lm"]


@pytest.fixture(scope="module")
def problem(plate):
    return plate.build_problem(n_interior=48, n_boundary=48)


@pytest.fixture(scope="module")
def mlp():
    return pg.MLP(2, (6, 5), 2)


@pytest.fixture(scope="module")
def theta0(mlp):
    return mlp.init(np.random.default_rng(0), "glorot")


def _train(problem, mlp, theta0, stages=STAGES, **kw):
    cfg = pg.TrainConfig(stages=stages, print_every=0, **kw.pop("cfg", {}))
    return pg.train(
        problem, mlp, rng=np.random.default_rng(1), theta0=theta0, config=cfg, out=None, **kw
    )


@pytest.fixture(scope="module")
def uninterrupted(problem, mlp, theta0):
    return _train(problem, mlp, theta0, cfg={"resample_every": 9})


def test_stages_run_in_order_with_their_budgets(uninterrupted):
    h = uninterrupted.history
    # Adam records before each of its steps; the others record their start and each step
    want = ["adam"] * 4 + ["lbfgs"] * 6 + ["ssbroyden2"] * 6 + ["bfgs"] * 4 + ["lm"] * 5
    assert h["stage"] == want
    assert uninterrupted.n_iter == 4 + 5 + 5 + 3 + 4
    assert uninterrupted.stop_reason == "Levenberg-Marquardt iteration budget reached"
    assert uninterrupted.loss == min(h["loss"])
    # each curvature stage lowers the loss over its own iterations
    loss = np.asarray(h["loss"])
    stage = np.asarray(h["stage"])
    for kind in ("lbfgs", "ssbroyden2", "bfgs", "lm"):
        seg = loss[stage == kind]
        assert seg[-1] < seg[0], kind


def test_recorded_losses_are_the_losses_of_the_recorded_points(problem, mlp, theta0):
    res = _train(problem, mlp, theta0)
    groups = problem.residual_groups(np.random.default_rng(1))
    assert loss_and_grad(mlp, res.theta, groups).loss == pytest.approx(res.loss, rel=1e-13)


@pytest.mark.parametrize("stop_at", [2, 4, 7, 10, 12, 16, 18, 19])
def test_resume_is_bit_identical_in_every_stage(
    problem, mlp, theta0, uninterrupted, tmp_path, stop_at
):
    """Stop inside and at the ends of each stage (resampling at iteration 9 and 18);
    resuming with a differently seeded rng ends at the same bits (the dense
    quasi-Newton matrix and the Levenberg-Marquardt state are in the checkpoint)."""
    A = uninterrupted
    ck = tmp_path / "ck.npz"
    cfg = {"resample_every": 9, "checkpoint": ck, "checkpoint_every": 1}
    B = _train(problem, mlp, theta0, cfg=cfg, callback=lambda r: r.it >= stop_at)
    assert B.stop_reason == "stopped by callback" and B.n_iter == stop_at
    C = pg.resume(
        ck,
        problem,
        mlp,
        rng=np.random.default_rng(5),
        config=pg.TrainConfig(stages=STAGES, print_every=0, **cfg),
        out=None,
    )
    assert C.stop_reason == A.stop_reason
    assert (C.n_iter, C.n_eval) == (A.n_iter, A.n_eval)
    assert np.array_equal(C.theta, A.theta)
    assert C.history["loss"] == A.history["loss"]
    assert C.history["stage"] == A.history["stage"]


def test_resume_rejects_other_stages(problem, mlp, theta0, tmp_path):
    ck = tmp_path / "ck.npz"
    _train(problem, mlp, theta0, cfg={"checkpoint": ck}, callback=lambda r: r.it >= 6)
    other = (pg.Adam(4, 1e-2), pg.LBFGS(5), pg.QuasiNewton(5, pg.QNConfig("ssbfgs_ab")))
    with pytest.raises(ValueError, match="different configuration.*stage 2"):
        pg.resume(
            ck,
            problem,
            mlp,
            rng=np.random.default_rng(0),
            config=pg.TrainConfig(stages=other, checkpoint=ck),
            out=None,
        )


def test_a_stage_that_cannot_descend_hands_over(problem, mlp, theta0):
    """A quasi-Newton stage whose line search may not evaluate enough to descend ends
    as failed; the next stage starts from the best point and the run goes on."""
    stages = (
        pg.LBFGS(3),
        pg.QuasiNewton(5, pg.QNConfig(max_linesearch=1, init_step=1e6, step_max=1e6)),
        pg.LBFGS(3),
    )
    res = _train(problem, mlp, theta0, stages=stages)
    assert res.stop_reason == "L-BFGS iteration budget reached"
    assert res.history["stage"][-1] == "lbfgs"
    assert res.loss == min(res.history["loss"])


def _nan_after(monkeypatch, k):
    """The objective returns NaN from its evaluation k + 1 on."""
    from pinngelu.loss import LossResult
    from pinngelu.training import objective as training

    calls = {"n": 0}

    def fake(mlp, theta, groups, *a, **kw):
        calls["n"] += 1
        res = loss_and_grad(mlp, theta, groups, *a, **kw)
        if calls["n"] > k:
            return LossResult(np.nan, np.full_like(res.grad, np.nan), res.group_losses)
        return res

    monkeypatch.setattr(training, "loss_and_grad", fake)


def test_non_finite_loss_in_adam_stops_the_run(problem, mlp, theta0, monkeypatch):
    _nan_after(monkeypatch, 3)
    res = _train(problem, mlp, theta0, stages=(pg.Adam(50, 1e-2), pg.LBFGS(5)))
    assert res.stop_reason == "non-finite loss in Adam; kept the best iterate"
    assert np.all(np.isfinite(res.theta))
    assert res.history["stage"] == ["adam"] * 3


def test_non_finite_loss_at_a_stage_start_stops_the_run(problem, mlp, theta0, monkeypatch):
    """L-BFGS fails on NaN; the quasi-Newton stage cannot start from a NaN objective:
    the run stops with the best iterate instead of raising."""
    _nan_after(monkeypatch, 6)
    res = _train(problem, mlp, theta0, stages=(pg.LBFGS(20), pg.QuasiNewton(5)))
    assert res.stop_reason.startswith("SSBroyden2 could not start")
    assert res.stop_reason.endswith("kept the best iterate")
    assert np.all(np.isfinite(res.theta)) and np.isfinite(res.loss)


def test_stage_time_limit(problem, mlp, theta0):
    import time

    res = _train(
        problem,
        mlp,
        theta0,
        stages=(pg.LBFGS(10**6, time_limit=0.3), pg.LBFGS(2)),
        callback=lambda r: time.sleep(0.05) and False,
    )
    assert res.stop_reason == "L-BFGS iteration budget reached"
    first = res.history["stage"].count("lbfgs") - 3
    assert 2 <= first <= 12  # about 0.3 s / 0.05 s iterations


def test_inverse_problem_with_levenberg_marquardt(plate):
    """The material parameters are part of the Levenberg-Marquardt unknowns."""
    exact = plate.exact
    geom = pg.Rectangle(0.0, 1.0, 0.0, 1.0)
    Xd = geom.sample_interior(40, np.random.default_rng(3))
    prob = plate.build_problem(
        n_interior=48,
        n_boundary=48,
        material=pg.Material.from_lame(1.5, 0.8),
        data=[pg.DisplacementData(Xd, exact(Xd))],
        identify=("lam", "mu"),
    )
    mlp = pg.MLP(2, (6,), 2)
    res = pg.train(
        prob,
        mlp,
        rng=np.random.default_rng(0),
        config=pg.TrainConfig(stages=(pg.LBFGS(5), pg.LevenbergMarquardt(5)), print_every=0),
        out=None,
    )
    q = np.asarray(res.history["q"])
    assert q.shape[1] == 2
    assert not np.array_equal(q[5], q[-1])  # LM moved the parameters too


def test_memory_caps_are_checked_before_training(problem, mlp):
    with pytest.raises(ValueError, match="QNConfig.max_bytes.*LBFGS"):
        pg.train(
            problem,
            mlp,
            rng=np.random.default_rng(0),
            config=pg.TrainConfig(stages=(pg.QuasiNewton(5, pg.QNConfig(max_bytes=1000)),)),
            out=None,
        )
    with pytest.raises(ValueError, match="LMConfig.max_bytes"):
        pg.train(
            problem,
            mlp,
            rng=np.random.default_rng(0),
            config=pg.TrainConfig(stages=(pg.LevenbergMarquardt(5, pg.LMConfig(max_bytes=10)),)),
            out=None,
        )


@pytest.mark.parametrize(
    "stages, exc, match",
    [
        ((), ValueError, "at least one stage"),
        ("lbfgs", TypeError, "stages must be a sequence"),
        ((pg.LBFGS(3), "adam"), TypeError, r"stages\[1\] must be a stage"),
    ],
)
def test_bad_stage_lists(stages, exc, match):
    with pytest.raises(exc, match=match):
        pg.TrainConfig(stages=stages)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: pg.Adam(-1), "Adam: iters"),
        (lambda: pg.Adam(3, lr=0.0), "Adam: lr"),
        (lambda: pg.LBFGS(2.5), "LBFGS: iters"),
        (lambda: pg.QuasiNewton(3, time_limit=-1.0), "QuasiNewton: time_limit"),
        (lambda: pg.LevenbergMarquardt(True), "LevenbergMarquardt: iters"),
    ],
)
def test_bad_stage_settings(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_single_stage_is_accepted():
    assert pg.TrainConfig(stages=pg.LBFGS(3)).stages == (pg.LBFGS(3),)
    assert [s.name for s in stage_config(adam_iters=2).resolved_stages()] == ["adam", "lbfgs"]


def test_stages_of_zero_iterations_give_the_loss_at_the_start(problem, mlp):
    """``stages=(Adam(0),)`` records no iteration: the result is the start, with its
    finite loss (was NaN)."""
    cfg = pg.TrainConfig(stages=(pg.Adam(0),), print_every=0)
    theta0 = mlp.init(np.random.default_rng(1))
    res = pg.train(problem, mlp, rng=np.random.default_rng(0), config=cfg, theta0=theta0, out=None)
    assert np.array_equal(res.theta, theta0)
    groups = problem.residual_groups(np.random.default_rng(0))
    assert res.n_iter == 0 and np.isfinite(res.loss)
    assert res.loss == pytest.approx(loss_and_grad(mlp, res.theta, groups).loss, rel=1e-12)
