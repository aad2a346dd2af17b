"""Tests of the training driver: convergence on a tiny problem, progress output,
reproducibility, checkpoint / resume bit-identity, atomic checkpoints, budgets,
non-finite losses and input validation."""

from __future__ import annotations

import functools
import io
import json
import math
import re
import time

import numpy as np
import pytest
from stagecfg import stage_config

import pinngelu as pg
import pinngelu.training.objective as objective
from pinngelu.loss import LossResult, loss_and_grad
from pinngelu.training import loop
from pinngelu.training.checkpoint import checkpoint_history


@pytest.fixture(scope="module")
def problem(plate):
    return plate.build_problem(n_interior=64, n_boundary=64)


@pytest.fixture(scope="module")
def mlp():
    return pg.MLP(2, (8, 8), 2)


@pytest.fixture(scope="module")
def theta0(mlp):
    return mlp.init(np.random.default_rng(0), "glorot")


def run(problem, mlp, theta0, seed=1, out=None, **cfg):
    cfg.setdefault("print_every", 0)
    return pg.train(
        problem,
        mlp,
        rng=np.random.default_rng(seed),
        theta0=theta0,
        config=stage_config(**cfg),
        out=out,
    )


def checkpoint_meta(path):
    with np.load(path, allow_pickle=False) as z:
        return json.loads(str(z["meta"]))


def full_loss(problem, mlp, theta, seed=1):
    return loss_and_grad(mlp, theta, problem.residual_groups(np.random.default_rng(seed))).loss


# ------------------------------------------------------------- convergence
def test_lbfgs_decreases_loss(problem, mlp, theta0):
    buf = io.StringIO()
    res = run(problem, mlp, theta0, out=buf, lbfgs_iters=30, print_every=10)
    h = res.history
    assert isinstance(res, pg.TrainResult)
    assert res.stop_reason == "L-BFGS iteration budget reached"
    assert res.n_iter == 30
    assert res.n_eval >= 31  # the initial evaluation plus at least one per iteration
    assert res.wall_time > 0
    assert res.theta.shape == (mlp.n_params,) and np.all(np.isfinite(res.theta))
    # history: the initial point and one entry per iteration
    n = len(h["iteration"])
    assert n == 31
    for key in ("stage", "loss", "gnorm", "time", "groups"):
        assert len(h[key]) == n, key
    assert h["iteration"] == list(range(31))
    assert set(h["stage"]) == {"lbfgs"}
    assert all(t1 >= t0 for t0, t1 in zip(h["time"], h["time"][1:], strict=False))
    # L-BFGS only accepts decreasing values
    assert all(b <= a for a, b in zip(h["loss"], h["loss"][1:], strict=False))
    assert h["loss"][-1] < h["loss"][0] / 10
    assert res.loss == min(h["loss"])
    # the reported loss is the loss at the returned theta (same collocation points)
    assert full_loss(problem, mlp, res.theta) == pytest.approx(res.loss, rel=1e-12)
    assert set(h["groups"][-1]) == {
        g.name for g in problem.residual_groups(np.random.default_rng(0))
    }
    assert sum(h["groups"][-1].values()) == pytest.approx(h["loss"][-1], rel=1e-12)
    # progress lines
    lines = buf.getvalue().splitlines()
    prog = [ln for ln in lines if ln.startswith("[lbfgs]")]
    assert len(prog) == 4  # iterations 0, 10, 20, 30
    pat = re.compile(r"it\s+(\d+)\s+loss\s+(\S+)\s+\|g\|\s+(\S+)\s+t\s+([\d.]+)s")
    its = []
    for ln in prog:
        m = pat.search(ln)
        assert m, ln
        its.append(int(m.group(1)))
        float(m.group(2)), float(m.group(3)), float(m.group(4))
        assert "pde=" in ln
    assert its == [0, 10, 20, 30]
    assert float(pat.search(prog[-1]).group(2)) == pytest.approx(h["loss"][30], rel=1e-4)
    assert "stopped after 30 iterations" in lines[-1]
    assert "L-BFGS iteration budget reached" in lines[-1]


def test_adam_then_lbfgs_history(problem, mlp, theta0):
    res = run(problem, mlp, theta0, adam_iters=5, adam_lr=1e-2, lbfgs_iters=5)
    h = res.history
    assert res.n_iter == 10
    # Adam records iterations 0..4, L-BFGS its initial point (it 5) and 5 steps
    assert h["stage"] == ["adam"] * 5 + ["lbfgs"] * 6
    assert h["iteration"] == list(range(11))
    assert res.loss < h["loss"][0]


def test_silent_when_out_none(problem, mlp, theta0, capsys):
    run(problem, mlp, theta0, lbfgs_iters=2, print_every=1, out=None)
    assert capsys.readouterr().out == ""


def test_error_tracking(problem, mlp, theta0, plate):
    Xe = plate.grid(11)
    res = pg.train(
        problem,
        mlp,
        rng=np.random.default_rng(1),
        theta0=theta0,
        config=stage_config(lbfgs_iters=10, error_every=5, print_every=0),
        error_points=Xe,
        out=None,
    )
    h = res.history
    assert h["error_iteration"] == [0, 5, 10]
    assert len(h["error"]) == len(h["error_time"]) == 3
    final = problem.solution(mlp, res.theta).relative_l2_error(Xe)
    assert h["error"][-1] == pytest.approx(final, rel=1e-12)


# --------------------------------------------------------- reproducibility
def test_same_seed_bit_identical(problem, mlp):
    def go(seed):
        rng = np.random.default_rng(seed)
        th = mlp.init(rng, "glorot")
        return pg.train(
            problem,
            mlp,
            rng=rng,
            theta0=th,
            out=None,
            config=stage_config(adam_iters=3, lbfgs_iters=10, resample_every=4, print_every=0),
        ).theta

    a, b, c = go(5), go(5), go(6)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_different_sampling_seed_differs(problem, mlp, theta0):
    a = run(problem, mlp, theta0, seed=1, lbfgs_iters=5).theta
    b = run(problem, mlp, theta0, seed=2, lbfgs_iters=5).theta
    assert not np.array_equal(a, b)


# ------------------------------------------------------- checkpoint/resume
CK_CFG = dict(
    adam_iters=10,
    adam_lr=1e-2,
    lbfgs_iters=30,
    resample_every=15,
    print_every=0,
    checkpoint_every=5,
)


@pytest.fixture(scope="module")
def uninterrupted(problem, mlp, theta0):
    return run(problem, mlp, theta0, **CK_CFG)


@pytest.mark.parametrize("stop_at", [7, 10, 15, 23])
def test_resume_is_bit_identical(problem, mlp, theta0, uninterrupted, tmp_path, stop_at):
    """Stop in Adam (7), at the Adam/L-BFGS switch (10), at a resampling (15) and inside
    L-BFGS (23); resuming with a fresh, differently seeded rng ends at the same bits."""
    A = uninterrupted
    assert A.n_iter == 40 and A.stop_reason == "L-BFGS iteration budget reached"
    ck = tmp_path / "ck.npz"
    cfg = stage_config(**CK_CFG, checkpoint=ck)
    B = pg.train(
        problem,
        mlp,
        rng=np.random.default_rng(1),
        theta0=theta0,
        config=cfg,
        callback=lambda r: r.it >= stop_at,
        out=None,
    )
    assert B.stop_reason == "stopped by callback"
    assert B.n_iter == stop_at
    assert ck.exists()
    C = pg.resume(ck, problem, mlp, rng=np.random.default_rng(999), config=cfg, out=None)
    assert C.stop_reason == A.stop_reason
    assert C.n_iter == A.n_iter
    assert C.n_eval == A.n_eval
    assert np.array_equal(C.theta, A.theta)
    assert C.loss == A.loss
    assert C.history["loss"] == A.history["loss"]
    assert C.history["iteration"] == A.history["iteration"]
    assert C.history["stage"] == A.history["stage"]
    assert C.wall_time >= B.wall_time


def test_resume_uses_checkpoint_path_by_default(problem, mlp, theta0, tmp_path):
    ck = tmp_path / "run.npz"
    cfg = stage_config(lbfgs_iters=10, print_every=0, checkpoint=ck, checkpoint_every=3)
    pg.train(
        problem,
        mlp,
        rng=np.random.default_rng(1),
        theta0=theta0,
        config=cfg,
        callback=lambda r: r.it >= 4,
        out=None,
    )
    assert checkpoint_meta(ck)["it"] == 4
    res = pg.resume(
        ck,
        problem,
        mlp,
        rng=np.random.default_rng(0),
        config=stage_config(lbfgs_iters=10, print_every=0),
        out=None,
    )
    assert res.n_iter == 10
    # the resumed run kept writing the checkpoint it started from
    meta = checkpoint_meta(ck)
    assert meta["it"] == 10
    assert checkpoint_history(ck)["loss"] == res.history["loss"]


def test_resume_errors(problem, mlp, theta0, tmp_path):
    with pytest.raises(FileNotFoundError):
        pg.resume(tmp_path / "nope.npz", problem, mlp, rng=np.random.default_rng(0), out=None)
    ck = tmp_path / "ck.npz"
    run(problem, mlp, theta0, lbfgs_iters=2, checkpoint=ck)
    other = pg.MLP(2, (8, 4), 2)
    with pytest.raises(ValueError, match="different network"):
        pg.resume(
            ck,
            problem,
            other,
            rng=np.random.default_rng(0),
            out=None,
            config=stage_config(lbfgs_iters=2, print_every=0),
        )


def test_checkpoint_atomic_and_valid(problem, mlp, theta0, tmp_path):
    ck = tmp_path / "ck.npz"
    res = run(problem, mlp, theta0, adam_iters=3, lbfgs_iters=7, checkpoint=ck, checkpoint_every=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]
    with np.load(ck, allow_pickle=False) as z:
        assert {"theta", "meta"} <= set(z.files)
        theta = np.array(z["theta"])
        assert {"state__S", "state__Y", "state__x"} <= set(z.files)  # the L-BFGS state
        meta = json.loads(str(z["meta"]))
    assert (meta["stage"], meta["stage_index"], meta["stage_it"]) == ("lbfgs", 1, 7)
    assert theta.shape == (mlp.n_params,)
    # the final checkpoint holds the final state
    assert np.array_equal(theta, res.theta)


# ----------------------------------------------------------------- budgets
def test_time_limit(problem, mlp, theta0):
    def slow(r):
        time.sleep(0.03)
        return False

    t0 = time.perf_counter()
    res = pg.train(
        problem,
        mlp,
        rng=np.random.default_rng(1),
        theta0=theta0,
        callback=slow,
        config=stage_config(lbfgs_iters=10_000, time_limit=0.3, print_every=0),
        out=None,
    )
    assert res.stop_reason == "time limit reached"
    assert time.perf_counter() - t0 < 5.0
    assert 1 <= res.n_iter < 100
    assert res.wall_time >= 0.3
    assert np.all(np.isfinite(res.theta)) and math.isfinite(res.loss)


@pytest.mark.parametrize("adam", [0, 20])
def test_max_evals(problem, mlp, theta0, adam):
    res = run(problem, mlp, theta0, adam_iters=adam, adam_lr=1e-2, lbfgs_iters=10_000, max_evals=12)
    assert res.stop_reason == "evaluation budget reached"
    assert res.n_eval >= 12
    # checked between iterations: at most one iteration's line search beyond the budget
    assert res.n_eval <= 12 + 25
    assert math.isfinite(res.loss)


def test_gradient_tolerance_stop(problem, mlp, theta0):
    lb = pg.optim.LBFGSConfig(memory=10, gtol=0.5)
    res = run(problem, mlp, theta0, lbfgs_iters=1000, lbfgs=lb)
    assert res.stop_reason == "gradient norm below tolerance"
    assert res.n_iter < 1000


# -------------------------------------------------------------- non-finite
def _nan_after(monkeypatch, k):
    """Make the objective return NaN from evaluation k + 1 on; returns the list of theta
    vectors for which NaN was returned."""
    calls = {"n": 0}
    nan_thetas = []

    def fake(mlp, theta, groups, *a, **kw):
        calls["n"] += 1
        res = loss_and_grad(mlp, theta, groups, *a, **kw)
        if calls["n"] > k:
            nan_thetas.append(np.array(theta))
            return LossResult(math.nan, np.full_like(res.grad, math.nan), res.group_losses)
        return res

    monkeypatch.setattr(objective, "loss_and_grad", fake)
    return nan_thetas


def test_nan_in_lbfgs_stops_with_best_finite(problem, mlp, theta0, monkeypatch):
    nan_thetas = _nan_after(monkeypatch, 8)
    res = run(problem, mlp, theta0, lbfgs_iters=30)
    monkeypatch.undo()
    assert res.stop_reason.startswith("L-BFGS stopped")
    assert res.n_iter < 30
    assert nan_thetas
    assert math.isfinite(res.loss) and np.all(np.isfinite(res.theta))
    assert res.loss == min(h for h in res.history["loss"] if math.isfinite(h))
    assert full_loss(problem, mlp, res.theta) == pytest.approx(res.loss, rel=1e-12)
    assert not any(np.array_equal(res.theta, t) for t in nan_thetas)


def test_nan_in_adam_stops_cleanly(problem, mlp, theta0, monkeypatch):
    _nan_after(monkeypatch, 8)
    res = run(problem, mlp, theta0, adam_iters=20, adam_lr=1e-2, lbfgs_iters=5)
    monkeypatch.undo()
    assert res.stop_reason == "non-finite loss in Adam; kept the best iterate"
    assert res.n_iter == 8
    assert math.isfinite(res.loss) and np.all(np.isfinite(res.theta))
    assert res.loss == min(res.history["loss"])


def test_nan_in_adam_returns_best_finite_theta(problem, mlp, theta0, monkeypatch):
    nan_thetas = _nan_after(monkeypatch, 8)
    res = run(problem, mlp, theta0, adam_iters=20, adam_lr=1e-2, lbfgs_iters=5)
    monkeypatch.undo()
    assert nan_thetas
    assert not any(np.array_equal(res.theta, t) for t in nan_thetas)
    assert full_loss(problem, mlp, res.theta) == pytest.approx(res.loss, rel=1e-12)


def test_stop_in_adam_returns_consistent_theta_and_loss(problem, mlp, theta0):
    res = pg.train(
        problem,
        mlp,
        rng=np.random.default_rng(1),
        theta0=theta0,
        out=None,
        config=stage_config(adam_iters=20, adam_lr=1e-2, lbfgs_iters=5, print_every=0),
        callback=lambda r: r.it >= 8,
    )
    assert res.stop_reason == "stopped by callback"
    assert full_loss(problem, mlp, res.theta) == pytest.approx(res.loss, rel=1e-12)


# -------------------------------------------------------------- bad input
def test_missing_checkpoint_folder(problem, mlp, theta0, tmp_path):
    called = []
    cfg = stage_config(lbfgs_iters=5, print_every=0, checkpoint=tmp_path / "nope" / "ck.npz")
    with pytest.raises(ValueError, match="does not exist"):
        pg.train(
            problem,
            mlp,
            rng=np.random.default_rng(0),
            theta0=theta0,
            config=cfg,
            callback=lambda r: called.append(r.it),
            out=None,
        )
    assert called == []  # rejected before training
    assert not (tmp_path / "nope").exists()


def test_network_dims_mismatch(problem, theta0):
    for net in (pg.MLP(3, (4,), 3), pg.MLP(2, (4,), 3), pg.MLP(2, (4,), 1)):
        with pytest.raises(ValueError, match="network maps"):
            pg.train(
                problem,
                net,
                rng=np.random.default_rng(0),
                out=None,
                config=stage_config(lbfgs_iters=1),
            )


@pytest.mark.parametrize("rng", [0, np.random.RandomState(0), None])
def test_rng_must_be_generator(problem, mlp, theta0, rng):
    with pytest.raises(ValueError, match="Generator"):
        pg.train(problem, mlp, rng=rng, theta0=theta0, out=None, config=stage_config(lbfgs_iters=1))


def test_bad_theta0(problem, mlp):
    with pytest.raises(ValueError, match="parameter vector"):
        pg.train(
            problem,
            mlp,
            rng=np.random.default_rng(0),
            theta0=np.zeros(3),
            out=None,
            config=stage_config(lbfgs_iters=1),
        )


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"time_limit": 0.0}, "time_limit"),
        ({"checkpoint_every": -5}, "checkpoint_every"),
    ],
)
def test_bad_config(kw, match):
    with pytest.raises(ValueError, match=match):
        pg.TrainConfig(**kw)


# ------------------------------------------------------------------ real units
def _lame_ring(length: float, stress: float):
    """Lame's thick cylinder (a = 0.1, b = 0.2, p = 100e6, steel) with lengths in units
    of ``length`` m and stresses in units of ``stress`` Pa; returns the problem and its
    exact radial displacement in those units."""
    a, b = 0.1 / length, 0.2 / length
    E, nu, p = 210e9 / stress, 0.3, 100e6 / stress
    c = p * a**2 / (b**2 - a**2)

    def exact(X):
        r = np.hypot(X[:, 0], X[:, 1])
        ur = c * (1 + nu) / E * ((1 - 2 * nu) * r + b**2 / r)
        return X * (ur / r)[:, None]

    geom = pg.AnnularSector((0.0, 0.0), a, b, 0.0, np.pi / 2)
    conds = [pg.Pressure("inner", p), pg.Traction("outer", 0.0)]
    conds += [pg.Symmetry("start"), pg.Symmetry("end")]
    prob = pg.ElasticityProblem(
        geom,
        pg.Material.from_E_nu(E, nu),
        conds,
        n_interior=300,
        n_boundary=200,
        exact=exact,
        formulation=pg.StrongForm(),
    )
    return prob, a, b


@functools.lru_cache(maxsize=8)
def _ring_errors(length: float, stress: float) -> tuple[float, float]:
    """Relative L2 errors after 150 and 800 L-BFGS iterations (seed 0)."""
    out = []
    for iters in (150, 800):
        prob, _, _ = _lame_ring(length, stress)
        mlp = pg.MLP(2, (16, 16), 2)
        cfg = stage_config(lbfgs_iters=iters, print_every=0)
        res = pg.train(prob, mlp, rng=np.random.default_rng(0), config=cfg, out=None)
        X = prob.geometry.sample_interior(400, np.random.default_rng(1))
        out.append(prob.solution(mlp, res.theta).relative_l2_error(X))
    return out[0], out[1]


@pytest.mark.parametrize("length, stress", [(1e-3, 1e6), (1.0, 210e9)], ids=["mm-MPa", "E=1"])
def test_real_units_train_like_the_metre_pascal_problem(length, stress):
    """Steel in metres and pascals (E = 2.1e11, u ~ 1e-4 m) trains like the same ring
    in millimetres and megapascals or scaled to E = 1: the solver's non-dimensional
    problem is the same up to rounding, so the early iterates agree closely (rounding
    differences grow later, as in any long optimisation) and every version trains."""
    ref150, ref800 = _ring_errors(1.0, 1.0)
    err150, err800 = _ring_errors(length, stress)
    assert err150 == pytest.approx(ref150, rel=1e-3)
    assert ref800 < 2e-2 and err800 < 2e-2


# ------------------------------------------------------- more bad input
@pytest.mark.parametrize(
    "kw, match",
    [
        ({"max_evals": 0}, "max_evals"),
        ({"max_evals": -3}, "max_evals"),
        ({"max_evals": 2.5}, "max_evals"),
        ({"max_evals": "100"}, "max_evals"),
        ({"max_evals": float("nan")}, "max_evals"),
        ({"time_limit": float("nan")}, "time_limit"),
        ({"time_limit": float("inf")}, "time_limit"),
        ({"time_limit": "10"}, "time_limit"),
        ({"time_limit": True}, "time_limit"),
        ({"time_limit": -1.0}, "time_limit"),
        ({"resample_every": -1}, "resample_every"),
        ({"print_every": 1.5}, "print_every"),
    ],
)
def test_bad_budgets(kw, match):
    with pytest.raises(ValueError, match=match):
        pg.TrainConfig(**kw)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: pg.Adam(-1), "Adam: iters"),
        (lambda: pg.LBFGS(2.5), "LBFGS: iters"),
        (lambda: pg.LBFGS(True), "LBFGS: iters"),
        (lambda: pg.LBFGS("5"), "LBFGS: iters"),
        (lambda: pg.LBFGS(float("inf")), "LBFGS: iters"),
        (lambda: pg.Adam(None), "Adam: iters"),
        (lambda: pg.Adam(5, lr=0.0), "Adam: lr"),
        (lambda: pg.Adam(5, lr=float("nan")), "Adam: lr"),
        (lambda: pg.Adam(5, lr="0.1"), "Adam: lr"),
        (lambda: pg.Adam(5, lr=True), "Adam: lr"),
        (lambda: pg.LBFGS(5, time_limit=True), "LBFGS: time_limit"),
        (lambda: pg.QuasiNewton(5, time_limit=-1.0), "QuasiNewton: time_limit"),
    ],
)
def test_bad_stage_budgets(make, match):
    """Each stage checks its budget when it is built, naming the stage and setting."""
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "old, stage",
    [
        ({"adam_iters": 10}, "pg.Adam"),
        ({"adam_lr": 1e-2}, "pg.Adam"),
        ({"lbfgs_iters": 100}, "pg.LBFGS"),
        ({"lbfgs": pg.optim.LBFGSConfig(memory=5)}, "pg.LBFGS"),
    ],
)
def test_removed_settings_name_the_stage(old, stage):
    """The Adam and L-BFGS settings of earlier versions moved onto the stages: passing
    them raises a TypeError that names the stage to write instead."""
    with pytest.raises(TypeError, match=f"{next(iter(old))}=.*removed.*{stage}"):
        pg.TrainConfig(**old)


@pytest.mark.parametrize(
    "make",
    [
        lambda: pg.LevenbergMarquardt(10, pg.QNConfig()),
        lambda: pg.QuasiNewton(10, pg.optim.LBFGSConfig()),
        lambda: pg.LBFGS(10, pg.QNConfig()),
        lambda: pg.QuasiNewton(10, pg.LMConfig()),
    ],
)
def test_a_stage_refuses_another_stages_settings(make):
    with pytest.raises(TypeError, match="takes a .*Config as its config"):
        make()


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"stages": "lbfgs"}, "stages must be a sequence"),
        ({"stages": (pg.LBFGS(5), "adam")}, r"stages\[1\] must be a stage"),
        ({"checkpoint": 5}, "checkpoint must be a path"),
        ({"calibrate_scale": "yes"}, "calibrate_scale"),
    ],
)
def test_bad_config_types(kw, match):
    with pytest.raises(TypeError, match=match):
        pg.TrainConfig(**kw)


def test_integral_float_budgets_become_ints():
    cfg = pg.TrainConfig(stages=(pg.LBFGS(10.0),), max_evals=50.0)
    assert cfg.stages[0].iters == 10 and isinstance(cfg.stages[0].iters, int)
    assert cfg.max_evals == 50 and isinstance(cfg.max_evals, int)


def test_swapped_arguments(problem, mlp):
    with pytest.raises(TypeError, match="first argument is the network"):
        pg.train(mlp, problem, rng=np.random.default_rng(0), out=None)
    with pytest.raises(TypeError, match="problem must be an ElasticityProblem"):
        pg.train("plate", mlp, rng=np.random.default_rng(0), out=None)
    with pytest.raises(TypeError, match="mlp must be a pinngelu.MLP"):
        pg.train(problem, (2, 8, 2), rng=np.random.default_rng(0), out=None)


def test_config_as_dict(problem, mlp):
    with pytest.raises(TypeError, match="got a dict"):
        pg.train(problem, mlp, rng=np.random.default_rng(0), config={"lbfgs_iters": 3}, out=None)
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        pg.train(problem, mlp, rng=np.random.default_rng(0), config=3, out=None)


def test_callback_not_callable(problem, mlp):
    with pytest.raises(TypeError, match="callback"):
        pg.train(problem, mlp, rng=np.random.default_rng(0), callback=True, out=None)


def test_int_seed_names_rng(problem, mlp):
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator.*got int"):
        pg.train(problem, mlp, rng=0, out=None)


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_activation_without_second_derivative(problem, activation):
    net = pg.MLP(2, (8,), 2, activation)
    called = []
    with pytest.raises(ValueError, match="zero second derivative.*'gelu' or 'tanh'"):
        pg.train(
            problem,
            net,
            rng=np.random.default_rng(0),
            callback=lambda r: called.append(1),
            config=stage_config(lbfgs_iters=2),
            out=None,
        )
    assert called == []


@pytest.mark.parametrize(
    "name, match",
    [("ck.txt", "must be a .npz file"), ("ck", "must be a .npz file"), ("sub.npz", "is a folder")],
)
def test_bad_checkpoint_path(problem, mlp, theta0, tmp_path, name, match):
    (tmp_path / "sub.npz").mkdir()
    cfg = stage_config(lbfgs_iters=2, print_every=0, checkpoint=tmp_path / name)
    with pytest.raises(ValueError, match=match):
        pg.train(problem, mlp, rng=np.random.default_rng(0), theta0=theta0, config=cfg, out=None)


def test_checkpoint_folder_is_a_file(problem, mlp, theta0, tmp_path):
    (tmp_path / "f").write_text("x")
    cfg = stage_config(lbfgs_iters=2, print_every=0, checkpoint=tmp_path / "f" / "ck.npz")
    with pytest.raises(ValueError, match="checkpoint folder"):
        pg.train(problem, mlp, rng=np.random.default_rng(0), theta0=theta0, config=cfg, out=None)


def test_stale_checkpoint_temporary_is_cleaned_up(problem, mlp, theta0, tmp_path):
    ck = tmp_path / "ck.npz"
    (tmp_path / "ck.npz.tmp").write_bytes(b"left by a killed writer")
    run(problem, mlp, theta0, lbfgs_iters=3, checkpoint=ck, checkpoint_every=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]


# -------------------------------------------------- unreadable checkpoints
def _resume(ck, problem, mlp, **cfg):
    cfg.setdefault("lbfgs_iters", 2)
    cfg.setdefault("print_every", 0)
    return pg.resume(
        ck, problem, mlp, rng=np.random.default_rng(0), config=stage_config(**cfg), out=None
    )


def test_resume_rejects_unreadable_files(problem, mlp, theta0, tmp_path):
    good = tmp_path / "good.npz"
    run(problem, mlp, theta0, lbfgs_iters=2, checkpoint=good)
    data = good.read_bytes()
    cases = {
        "garbage.npz": (b"not a zip file at all", "cannot be read"),
        "truncated.npz": (data[: len(data) // 2], "cannot be read"),
        "empty.npz": (b"", "cannot be read"),
    }
    for name, (content, match) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=f"{name}.*{match}"):
            _resume(tmp_path / name, problem, mlp)
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="foreign.npz.*no 'meta'"):
        _resume(tmp_path / "foreign.npz", problem, mlp)
    with open(tmp_path / "array.npz", "wb") as fh:
        np.save(fh, np.zeros(3))
    with pytest.raises(ValueError, match="array.npz.*single array"):
        _resume(tmp_path / "array.npz", problem, mlp)
    np.savez(tmp_path / "old.npz", theta=np.zeros(3), meta=np.array(json.dumps({"it": 1})))
    with pytest.raises(ValueError, match="old.npz has format 1"):
        _resume(tmp_path / "old.npz", problem, mlp)
    with pytest.raises(ValueError, match="is a folder"):
        _resume(tmp_path, problem, mlp)
    with pytest.raises(TypeError, match="checkpoint must be a path"):
        pg.resume(None, problem, mlp, rng=np.random.default_rng(0), out=None)


# ------------------------------------------------------------ fingerprint
@pytest.fixture(scope="module")
def small_checkpoint(problem, mlp, theta0, tmp_path_factory):
    ck = tmp_path_factory.mktemp("fp") / "ck.npz"
    run(problem, mlp, theta0, adam_iters=2, adam_lr=1e-2, lbfgs_iters=2, checkpoint=ck)
    return ck


def test_resume_rejects_other_point_counts(small_checkpoint, plate, mlp):
    other = plate.build_problem(n_interior=80, n_boundary=64)
    with pytest.raises(ValueError, match="different problem .group 'pde': 64 points, now 80"):
        _resume(small_checkpoint, other, mlp, adam_iters=2, adam_lr=1e-2)


def test_resume_rejects_other_material(small_checkpoint, plate, mlp, problem):
    other = plate.build_problem(
        n_interior=64, n_boundary=64, material=pg.Material.from_lame(2.0, 0.5)
    )
    with pytest.raises(ValueError, match="different problem.*material changed"):
        _resume(small_checkpoint, other, mlp, adam_iters=2, adam_lr=1e-2)
    # the displacement scale of the rejected problem is left as it was
    assert (
        other.scales.displacement
        == plate.build_problem(
            n_interior=64, n_boundary=64, material=pg.Material.from_lame(2.0, 0.5)
        ).scales.displacement
    )


def test_resume_rejects_other_conditions(small_checkpoint, plate, mlp, problem):
    other = pg.ElasticityProblem(
        problem.geometry,
        problem.material,
        [pg.Dirichlet("bottom", 0.0), pg.Traction("top", 0.0, components=(0,))]
        + problem.conditions[2:],
        plate.body_force,
        n_interior=64,
        n_boundary=64,
        formulation=pg.StrongForm(),
    )
    with pytest.raises(ValueError, match="different problem"):
        _resume(small_checkpoint, other, mlp, adam_iters=2, adam_lr=1e-2)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"adam_lr": 1e-3}, "stage 0.lr: 0.01 in the checkpoint, now 0.001"),
        ({"adam_iters": 5}, "stage 0.iters: 2 in the checkpoint, now 5"),
        ({"resample_every": 3}, "resample_every"),
        ({"lbfgs": pg.optim.LBFGSConfig(memory=7)}, "stage 1.config: .*'memory': 50"),
    ],
)
def test_resume_rejects_other_configuration(small_checkpoint, problem, mlp, kw, match):
    kw = {"adam_iters": 2, "adam_lr": 1e-2, **kw}
    with pytest.raises(ValueError, match=f"different configuration.*{match}"):
        _resume(small_checkpoint, problem, mlp, **kw)


def test_resume_accepts_new_budgets(small_checkpoint, problem, mlp, tmp_path):
    res = _resume(
        small_checkpoint,
        problem,
        mlp,
        adam_iters=2,
        adam_lr=1e-2,
        lbfgs_iters=4,
        time_limit=100.0,
        max_evals=10_000,
        print_every=7,
        error_every=3,
        checkpoint=tmp_path / "next.npz",
        checkpoint_every=1,
    )
    assert res.n_iter == 6


# ---------------------------------------------------- resampling failures
def _failing_problem(problem, plate, flag, kind):
    def body_force(X):
        if flag[0]:
            if kind == "raise":
                raise RuntimeError("body force table missing")
            f = plate.body_force(X)
            f[:3] = np.nan
            return f
        return plate.body_force(X)

    return pg.ElasticityProblem(
        problem.geometry,
        problem.material,
        problem.conditions,
        body_force,
        n_interior=64,
        n_boundary=64,
        formulation=pg.StrongForm(),
    )


@pytest.mark.parametrize("stage", ["adam", "lbfgs"])
@pytest.mark.parametrize("kind", ["nan", "raise"])
def test_failing_resample_keeps_the_best_iterate(
    problem, plate, mlp, theta0, tmp_path, kind, stage
):
    flag = [False]
    prob = _failing_problem(problem, plate, flag, kind)
    ck = tmp_path / "ck.npz"
    adam = 10 if stage == "adam" else 0
    cfg = stage_config(
        adam_iters=adam,
        adam_lr=1e-2,
        lbfgs_iters=20,
        resample_every=5,
        print_every=0,
        checkpoint=ck,
        checkpoint_every=100,
    )

    def arm(r):
        flag[0] = r.it >= 3
        return False

    res = pg.train(
        prob, mlp, rng=np.random.default_rng(1), theta0=theta0, config=cfg, callback=arm, out=None
    )
    assert res.stop_reason.startswith("resampling failed at iteration 5")
    assert res.stop_reason.endswith("kept the best iterate")
    assert ("NaN" in res.stop_reason) if kind == "nan" else ("body force table" in res.stop_reason)
    assert res.n_iter == 5
    assert res.loss == min(res.history["loss"])
    assert np.all(np.isfinite(res.theta))
    assert checkpoint_meta(ck)["it"] == 5  # the final checkpoint was written


def test_gradient_test_needs_a_loss_near_the_best():
    """``gradient norm below tolerance`` ends a stage only where the loss is at most
    GTOL_LOSS_FACTOR times the best one; other stop reasons pass unchanged."""
    gtol = "gradient norm below tolerance"
    factor = loop.GTOL_LOSS_FACTOR
    for f, best, expected in [
        (1.0, 1.0, gtol),
        (factor * 0.999, 1.0, gtol),
        (factor * 1.001, 1.0, None),
        (100.0, 1.0, None),
    ]:
        assert loop.stage_stop(gtol, f, best) == expected
    for other in ("relative decrease below ftol", "L-BFGS stopped: line search failed", None):
        assert loop.stage_stop(other, 100.0, 1.0) == other


# ------------------------------------------------------ checkpoint format
def test_a_checkpoint_of_the_earlier_format_is_refused_with_the_reason(plate, tmp_path):
    """``tests/data/checkpoint_format3.npz`` was written by the version whose
    TrainConfig held the Adam and L-BFGS settings (format 3): its optimiser state
    cannot be mapped onto the stages, so resuming from it is refused, naming both
    formats and what to do."""
    from pathlib import Path

    old = Path(__file__).parent / "data" / "checkpoint_format3.npz"
    prob = plate.build_problem(n_interior=64, n_boundary=32)
    cfg = pg.TrainConfig(stages=(pg.LBFGS(3),), print_every=0, checkpoint=tmp_path / "new.npz")
    with pytest.raises(
        ValueError,
        match=r"has format 3, this version reads format 4 .*"
        r"moved onto the stages.*start a new run",
    ):
        pg.resume(old, prob, pg.MLP(2, (4,), 2), rng=np.random.default_rng(0), config=cfg)
    with pytest.raises(ValueError, match="format 3"):
        checkpoint_history(old)


def test_resume_refuses_another_formulation(tmp_path):
    """A checkpoint of an energy run resumed on the same part in the strong form, or
    with another cell size, is refused naming the settings (not a TypeError)."""
    geom = pg.Rectangle(0.0, 1.0, 0.0, 0.5)
    steel = pg.Material.from_E_nu(210e9, 0.3)
    conds = [pg.Symmetry("left"), pg.Symmetry("bottom"), pg.Traction("right", [5e7, 0.0])]

    def bar(form):
        return pg.ElasticityProblem(
            geom, steel, conds, plane_stress=True, n_interior=200, formulation=form
        )

    mlp = pg.MLP(2, (6,), 2)
    cfg = pg.TrainConfig(stages=(pg.QuasiNewton(3),), print_every=0, checkpoint=tmp_path / "c.npz")
    pg.train(bar(pg.EnergyForm()), mlp, rng=np.random.default_rng(0), config=cfg, out=None)
    for form, shown in (
        (pg.StrongForm(), r"the strong form with \{\}"),
        (pg.EnergyForm(h=0.05), "the energy formulation with .'h': 0.05"),
    ):
        with pytest.raises(ValueError, match=f"for the energy formulation .*problem has {shown}"):
            pg.resume(tmp_path / "c.npz", bar(form), mlp, rng=np.random.default_rng(0), config=cfg)
