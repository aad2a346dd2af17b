"""Tests of residual-based adaptive collocation (``TrainConfig(adapt=RAD(...))``): the
sampling density and the draw without replacement against their expected counts,
interior and boundary groups concentrating where an artificial residual is large,
determinism, checkpoint / resume bit-identity, MPI bit-identity, refusals, and a short
training."""

from __future__ import annotations

import copy
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pinngelu as pg
from pinngelu.loss import loss_and_grad, pointwise_residuals
from pinngelu.training.adaptive import adapt_points, density, draw

A_CORNER, B_REST = 20.0, 1.0  # body force in the corner x, y < 0.2 and elsewhere
T_HIGH, T_LOW = 8.0, 1.0  # traction on the right edge above y = 0.8 and below


def wallenius_mean(m1: int, w1: float, m2: int, w2: float, n: int) -> float:
    """Expected number of class-1 items among ``n`` drawn one by one without
    replacement, each with probability proportional to its weight, from ``m1`` items
    of weight ``w1`` and ``m2`` of weight ``w2`` (Wallenius' distribution; the mean
    solves ``(1 - mu1/m1)^(1/w1) = (1 - mu2/m2)^(1/w2)``)."""

    def h(mu1: float) -> float:
        return math.log1p(-mu1 / m1) / w1 - math.log1p(-(n - mu1) / m2) / w2

    lo, hi = max(0.0, n - m2) + 1e-12, min(float(n), float(m1)) - 1e-12
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if h(mid) > 0 else (lo, mid)
    return 0.5 * (lo + hi)


def in_corner(X: np.ndarray) -> np.ndarray:
    return (X[:, 0] < 0.2) & (X[:, 1] < 0.2)


def corner_force(X: np.ndarray) -> np.ndarray:
    f = np.zeros_like(X)
    f[:, 0] = np.where(in_corner(X), A_CORNER, B_REST)
    return f


def jump_traction(X: np.ndarray) -> np.ndarray:
    t = np.zeros_like(X)
    t[:, 0] = np.where(X[:, 1] > 0.8, T_HIGH, T_LOW)
    return t


@pytest.fixture(scope="module")
def corner_problem():
    """Unit square, clamped left and bottom, a body force 20 times larger in the corner
    x, y < 0.2 than elsewhere, a traction 8 times larger on the right edge above
    y = 0.8: with a zero network the residual is the load itself."""
    geom = pg.Rectangle(0.0, 1.0, 0.0, 1.0)
    conds = [
        pg.Dirichlet("left", 0.0),
        pg.Dirichlet("bottom", 0.0),
        pg.Traction("right", jump_traction),
    ]
    return pg.ElasticityProblem(
        geom,
        pg.Material.from_lame(1.0, 0.5),
        conds,
        corner_force,
        n_interior=600,
        n_boundary=400,
        formulation=pg.StrongForm(),
    )


@pytest.fixture(scope="module")
def small(plate):
    return plate.build_problem(n_interior=64, n_boundary=64)


@pytest.fixture(scope="module")
def mlp():
    return pg.MLP(2, (8, 8), 2)


@pytest.fixture(scope="module")
def theta0(mlp):
    return mlp.init(np.random.default_rng(0), "glorot")


def run(problem, mlp, theta0, seed=1, **cfg):
    cfg.setdefault("print_every", 0)
    return pg.train(
        problem,
        mlp,
        rng=np.random.default_rng(seed),
        theta0=theta0,
        config=pg.TrainConfig(**cfg),
        out=None,
    )


# ------------------------------------------------------------- the density and the draw
def test_density_formula():
    r = np.array([0.0, 1.0, 3.0])
    # r / mean(r) + c with mean 4/3 and c = 1: (1, 1.75, 3.25) / 6
    np.testing.assert_allclose(density(r, 1.0, 1.0), [1 / 6, 1.75 / 6, 3.25 / 6], rtol=1e-15)
    # k = 2: r^2 / mean(r^2) + c, mean 10/3, c = 0.5: (0.5, 0.8, 3.2) / 4.5
    np.testing.assert_allclose(density(r, 2.0, 0.5), [0.5 / 4.5, 0.8 / 4.5, 3.2 / 4.5])
    np.testing.assert_allclose(density(r, 0.0, 1.0), [1 / 3] * 3)  # k = 0: uniform
    np.testing.assert_allclose(density(np.zeros(4), 1.0, 0.0), [0.25] * 4)  # nothing to see
    with pytest.raises(ValueError, match="NaN or inf"):
        density(np.array([1.0, np.nan]), 1.0, 1.0)


def test_draw_is_successive_sampling_with_the_density():
    """Two classes of candidates, weights 6 and 1: the mean count of class 1 over 40
    draws matches Wallenius' mean (the exact expectation of drawing one by one
    without replacement) within 4 standard errors; no index twice."""
    m1, m2, n = 500, 4500, 1000
    p = np.concatenate([np.full(m1, 6.0), np.full(m2, 1.0)])
    p /= p.sum()
    rng = np.random.default_rng(7)
    counts = []
    for _ in range(40):
        idx = draw(p, n, rng)
        assert idx.shape == (n,) and np.all(np.diff(idx) > 0)
        counts.append(int(np.sum(idx < m1)))
    mu = wallenius_mean(m1, 6.0, m2, 1.0, n)
    P = mu / n
    se = math.sqrt(n * P * (1 - P)) / math.sqrt(len(counts))
    assert abs(np.mean(counts) - mu) < 4 * se, (np.mean(counts), mu, se)
    # with replacement the share would be 3000/7500 = 0.4; depletion lowers it
    assert 0.3 < P < 0.4
    # zero-probability candidates come last
    q = np.array([0.0, 0.5, 0.0, 0.5])
    assert draw(q, 2, rng).tolist() == [1, 3]
    assert len(set(draw(q, 3, rng).tolist()) & {1, 3}) == 2


# ------------------------------------------------------------- concentration where r is large
def _adapt_with_pool(problem, mlp, rad, seed=3):
    """Points adapted at a zero network, and the candidate pool they were drawn from
    (drawn again from a copy of the generator)."""
    rng = np.random.default_rng(seed)
    points = problem.sample_points(rng)
    state = copy.deepcopy(rng.bit_generator.state)
    new = adapt_points(problem, mlp, np.zeros(mlp.n_params), None, points, rad, rng)
    twin = np.random.default_rng()
    twin.bit_generator.state = state
    n0 = [problem.n_interior, *problem.boundary_counts()]
    pool = problem.sample_points(
        twin, rad.pool_factor * n0[0], [rad.pool_factor * n for n in n0[1:]]
    )
    return points, new, pool


def _sigma(n: int, P: float) -> float:
    return math.sqrt(n * P * (1 - P))


def test_interior_points_concentrate_near_the_corner(corner_problem, mlp):
    rad = pg.RAD(every=1)
    points, (Xi, boundary), (Pi, Pb) = _adapt_with_pool(corner_problem, mlp, rad)
    n = corner_problem.n_interior
    assert Xi.shape == (n, 2) and points[0].shape == (n, 2)
    # every new point is a candidate of the pool, none twice
    pool_rows = {tuple(x) for x in Pi}
    assert all(tuple(x) in pool_rows for x in Xi)
    assert len({tuple(x) for x in Xi}) == n
    # the density: r proportional to the body force, r / mean(r) + 1
    m1 = int(in_corner(Pi).sum())
    M = Pi.shape[0]
    mean_r = (m1 * A_CORNER + (M - m1) * B_REST) / M
    w1, w2 = A_CORNER / mean_r + 1, B_REST / mean_r + 1
    ideal = m1 * w1 / (m1 * w1 + (M - m1) * w2)  # probability of one draw
    mu = wallenius_mean(m1, w1, M - m1, w2, n)  # expected count without replacement
    got = int(in_corner(Xi).sum())
    assert abs(got - mu) < 4 * _sigma(n, mu / n), (got, mu)
    assert m1 / M == pytest.approx(0.04, abs=0.005)  # the corner's share of the area
    assert got / n > 4 * 0.04  # more than 4 times the uniform share
    assert mu / n < ideal  # drawing without replacement depletes the corner a little
    # the uniform points before adaptation had the area share
    assert in_corner(points[0]).sum() / n == pytest.approx(0.04, abs=0.02)


def test_boundary_groups_are_adapted_each_on_its_own(corner_problem, mlp):
    rad = pg.RAD(every=1, k=1.0, c=0.5)
    points, (Xi, boundary), (Pi, Pb) = _adapt_with_pool(corner_problem, mlp, rad)
    names = [type(bc).__name__ + ":" + str(bc.part) for bc in corner_problem.conditions]
    k_right = names.index("Traction:right")
    X, N = boundary[k_right]
    PX, PN = Pb[k_right]
    n = points[1][k_right][0].shape[0]
    assert X.shape == (n, 2) and N.shape == (n, 2)
    np.testing.assert_array_equal(X[:, 0], 1.0)
    np.testing.assert_array_equal(N, np.tile([1.0, 0.0], (n, 1)))  # normals follow
    high = PX[:, 1] > 0.8
    m1, M = int(high.sum()), PX.shape[0]
    mean_r = (m1 * T_HIGH + (M - m1) * T_LOW) / M
    w1, w2 = T_HIGH / mean_r + 0.5, T_LOW / mean_r + 0.5
    mu = wallenius_mean(m1, w1, M - m1, w2, n)
    got = int(np.sum(X[:, 1] > 0.8))
    assert abs(got - mu) < 4 * _sigma(n, mu / n), (got, mu)
    assert got / n > 0.4  # 0.2 of the edge
    # a zero residual (the clamped edges, the traction-free top) leaves the draw uniform
    for name, part in (("Dirichlet:left", "left"), ("Traction:top", "top")):
        k = names.index(name)
        Xb = boundary[k][0]
        t = Xb[:, 1] if part == "left" else Xb[:, 0]
        assert Xb.shape == points[1][k][0].shape
        assert np.mean(t < 0.5) == pytest.approx(0.5, abs=4 * 0.5 / math.sqrt(len(t)))
        assert not np.array_equal(Xb, points[1][k][0])  # redrawn all the same


def test_rar_d_adds_points_and_keeps_the_old(corner_problem, mlp):
    rad = pg.RAD(every=1, add=0.25)
    points, (Xi, boundary), _ = _adapt_with_pool(corner_problem, mlp, rad)
    n = corner_problem.n_interior
    assert Xi.shape == (n + 150, 2)
    np.testing.assert_array_equal(Xi[:n], points[0])
    assert in_corner(Xi[n:]).mean() > 4 * 0.04
    for (Xb, Nb), (X0, _) in zip(boundary, points[1], strict=True):
        assert Xb.shape[0] == X0.shape[0] + max(1, round(0.25 * X0.shape[0]))
        assert Nb.shape == Xb.shape
        np.testing.assert_array_equal(Xb[: X0.shape[0]], X0)


def test_pointwise_residuals_are_the_loss_kernels(corner_problem, mlp, theta0):
    groups = corner_problem.residual_groups(np.random.default_rng(0))
    R = pointwise_residuals(mlp, theta0, groups)
    ref = loss_and_grad(mlp, theta0, groups, want_residuals=True).residuals
    for grp, r in zip(groups, R, strict=True):
        np.testing.assert_array_equal(r, ref[grp.name])
    # at a zero network the residual is minus the target (the load)
    R0 = pointwise_residuals(mlp, np.zeros(mlp.n_params), groups)
    np.testing.assert_array_equal(R0[0], -groups[0].g)


def test_hard_conditions_have_no_points_to_adapt(plate, mlp):
    prob = plate.build_problem(n_interior=64, n_boundary=64, hard_dirichlet=True)
    hard = [k for k in range(len(prob.conditions)) if k not in prob.point_conditions()]
    assert hard  # the zero displacements are built in
    rng = np.random.default_rng(0)
    pts = prob.sample_points(rng)
    new = adapt_points(prob, mlp, mlp.init(rng), None, pts, pg.RAD(every=1), rng)
    for k in hard:
        assert new[1][k][0].shape == (0, 2)
    assert len(prob.groups_at(*new)) == 1 + len(prob.point_conditions())


# ------------------------------------------------------------- training
def test_same_seed_same_bits_and_adaptation_changes_the_run(small, mlp):
    def go(seed, adapt=True):
        rng = np.random.default_rng(seed)
        th = mlp.init(rng, "glorot")
        cfg = pg.TrainConfig(
            stages=(pg.Adam(6, 1e-2), pg.LBFGS(10)),
            adapt=pg.RAD(every=4) if adapt else None,
            print_every=0,
        )
        return pg.train(small, mlp, rng=rng, theta0=th, out=None, config=cfg).theta

    a, b = go(5), go(5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, go(6))
    assert not np.array_equal(a, go(5, adapt=False))


CK_CFG = dict(
    stages=(pg.Adam(10, 1e-2), pg.LBFGS(30)),
    adapt=pg.RAD(every=15, k=2.0, c=0.5, add=0.1),
    print_every=0,
    checkpoint_every=5,
)


@pytest.fixture(scope="module")
def uninterrupted(small, mlp, theta0):
    return run(small, mlp, theta0, **CK_CFG)


@pytest.mark.parametrize("stop_at", [7, 15, 23])
def test_resume_is_bit_identical(small, mlp, theta0, uninterrupted, tmp_path, stop_at):
    """Stop in Adam (7), at an adaptation (15) and after one, inside L-BFGS (23);
    resuming with a differently seeded rng ends at the same bits (the adapted, grown
    points come back from the checkpoint)."""
    A = uninterrupted
    assert A.n_iter == 40 and A.stop_reason == "L-BFGS iteration budget reached"
    ck = tmp_path / "ck.npz"
    cfg = pg.TrainConfig(**CK_CFG, checkpoint=ck)
    seen = {}

    def stop(r):
        seen["n"] = r.obj.groups[0].n_points
        return r.it >= stop_at

    B = pg.train(
        small, mlp, rng=np.random.default_rng(1), theta0=theta0, config=cfg, callback=stop, out=None
    )
    assert B.stop_reason == "stopped by callback" and B.n_iter == stop_at
    with np.load(ck) as z:
        assert z["points__interior"].shape == (seen["n"], 2)
    assert seen["n"] == (64 if stop_at < 15 else 64 + 6)  # RAR-D grew the interior
    C = pg.resume(ck, small, mlp, rng=np.random.default_rng(999), config=cfg, out=None)
    assert C.stop_reason == A.stop_reason
    assert (C.n_iter, C.n_eval) == (A.n_iter, A.n_eval)
    assert np.array_equal(C.theta, A.theta)
    assert C.loss == A.loss
    assert C.history["loss"] == A.history["loss"]


def test_resume_needs_the_same_adaptation(small, mlp, theta0, tmp_path):
    ck = tmp_path / "ck.npz"
    cfg = dict(stages=(pg.LBFGS(4),), adapt=pg.RAD(every=2), print_every=0)
    run(small, mlp, theta0, **cfg, checkpoint=ck)
    for other, match in (
        (None, "adapt"),
        (pg.RAD(every=2, k=2.0), "adapt.k"),
    ):
        with pytest.raises(ValueError, match=match):
            pg.resume(
                ck,
                small,
                mlp,
                rng=np.random.default_rng(0),
                config=pg.TrainConfig(**{**cfg, "adapt": other}),
                out=None,
            )


def test_short_training_with_rad_lowers_loss_and_error(plate, mlp):
    prob = plate.build_problem(n_interior=200, n_boundary=120)
    cfg = pg.TrainConfig(
        stages=(pg.Adam(20, 1e-2), pg.LBFGS(100)),
        adapt=pg.RAD(every=25),
        error_every=1000,
        print_every=0,
    )
    grid = plate.grid(41)
    res = pg.train(prob, mlp, rng=np.random.default_rng(0), config=cfg, error_points=grid, out=None)
    first = res.history["loss"][0]
    assert math.isfinite(res.loss) and res.loss < 0.05 * first
    assert res.stop_reason == "L-BFGS iteration budget reached"
    err = prob.solution(mlp, res.theta).relative_l2_error(grid)
    assert err < 0.5 * res.history["error"][0]  # the error at iteration 0


def test_failing_adaptation_stops_with_the_best_iterate(plate, mlp, theta0):
    """A body force that fails on the candidate pool (more points than it allows)
    ends the run cleanly at the first adaptation."""

    def force(X):
        if X.shape[0] > 500:
            raise RuntimeError("too many points")
        return plate.body_force(X)

    prob = plate.build_problem(n_interior=64, n_boundary=64)
    prob.body_force = force
    res = run(prob, mlp, theta0, stages=(pg.LBFGS(20),), adapt=pg.RAD(every=5))
    assert res.stop_reason.startswith("adaptive resampling failed at iteration 5")
    assert "too many points" in res.stop_reason
    assert res.n_iter == 5 and math.isfinite(res.loss)


# ------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "kw, match",
    [
        ({"every": 0}, "every must be an integer >= 1"),
        ({"every": 2.5}, "every must be an integer >= 1"),
        ({"every": True}, "every must be an integer >= 1"),
        ({"k": -1.0}, "k must be a finite number >= 0"),
        ({"k": math.nan}, "k must be a finite number >= 0"),
        ({"k": "1"}, "k must be a finite number >= 0"),
        ({"c": -0.1}, "c must be a finite number >= 0"),
        ({"c": math.inf}, "c must be a finite number >= 0"),
        ({"pool_factor": 0}, "pool_factor must be an integer >= 1"),
        ({"add": -0.5}, "add must be a finite number >= 0"),
        ({"add": 20.0}, "add .* cannot exceed pool_factor"),
    ],
)
def test_bad_numbers(kw, match):
    with pytest.raises(ValueError, match=match):
        pg.RAD(**kw)


def test_numbers_are_normalised():
    r = pg.RAD(every=100.0, k=2, pool_factor=np.int64(5))
    assert (r.every, r.k, r.pool_factor) == (100, 2.0, 5)
    assert isinstance(r.every, int) and isinstance(r.k, float)


def test_conflicts_and_types():
    with pytest.raises(ValueError, match=r"resample_every \(10\) and adapt cannot be combined"):
        pg.TrainConfig(resample_every=10, adapt=pg.RAD())
    with pytest.raises(TypeError, match="adapt must be a pinngelu.RAD"):
        pg.TrainConfig(adapt="rad")
    with pytest.raises(TypeError, match="adapt must be a pinngelu.RAD"):
        pg.TrainConfig(adapt={"every": 10})


def test_energy_formulation_refuses_adapt(mlp):
    geom = pg.Rectangle(0.0, 1.0, 0.0, 0.5)
    conds = [pg.Symmetry("left"), pg.Symmetry("bottom"), pg.Traction("right", [5e7, 0.0])]
    prob = pg.ElasticityProblem(
        geom,
        pg.Material.from_E_nu(210e9, 0.3),
        conds,
        plane_stress=True,
        formulation=pg.EnergyForm(),
    )
    cfg = pg.TrainConfig(stages=(pg.LBFGS(3),), adapt=pg.RAD(every=2), print_every=0)
    with pytest.raises(
        ValueError,
        match="needs collocation points; the energy formulation trains on a fixed quadrature",
    ):
        pg.train(prob, mlp, rng=np.random.default_rng(0), config=cfg, out=None)


# ------------------------------------------------------------- MPI
SCRIPT = Path(__file__).parent / "mpi_scripts" / "train_tiny.py"


def _have_mpi() -> bool:
    if shutil.which("mpiexec") is None:
        return False
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _have_mpi(), reason="mpi4py / mpiexec not installed")
def test_same_bits_on_1_and_3_ranks(tmp_path):
    """The pool's residuals are split over the ranks (chunks of 64 points) and every
    rank draws the same points: the result has the same bits as one process, on an
    inverse problem (residuals with trainable coefficients)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = (
        str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    )
    env["NUMBA_NUM_THREADS"] = "1"
    for var in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        env.pop(var, None)
    args = ("--identify", "--adapt", "3", "--stage", "lbfgs", "--iters", "8")
    out = {}
    for n in (1, 3):
        cmd = [sys.executable, str(SCRIPT), str(tmp_path / f"r{n}"), *args]
        if n > 1:
            cmd = ["mpiexec", "-n", str(n), *cmd]
        p = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stderr
        assert p.stdout.count("points adapted to the residual") == 2
        out[n] = np.load(tmp_path / f"r{n}.npy")
    assert np.array_equal(out[1], out[3])


@pytest.mark.parametrize("k", [100.0, 1e6])
def test_density_with_a_large_exponent_concentrates_instead_of_going_uniform(k):
    """r^k under- or overflows for k = 100 on residuals near 1e-5, or k = 1e6: the
    density is formed in logarithms and puts (nearly) all mass on the largest residual,
    as the formula says; it is not the uniform fallback."""
    r = np.array([1e-5, 2e-5, 0.5e-5, 0.0])
    p = density(r, k, 0.0)
    assert p[1] == pytest.approx(1.0, abs=1e-12)
    assert p[3] == 0.0 and np.sum(p) == pytest.approx(1.0, rel=1e-14)
    # against mpmath-free exact ratios at a moderate exponent in logs and directly
    q = density(np.array([1.0, 2.0, 3.0]), 50.0, 0.1)
    w = np.array([1.0, 2.0, 3.0]) ** 50
    ref = w / w.mean() + 0.1
    np.testing.assert_allclose(q, ref / ref.sum(), rtol=1e-13)


def test_rar_d_growth_stops_at_the_cap():
    rad = pg.RAD(every=1, add=2.0, pool_factor=4, max_growth=3.0)
    assert rad.n_new(100, 100) == 200
    assert rad.n_new(100, 200) == 100  # up to the cap of 300
    assert rad.n_new(100, 300) == 0
    with pytest.raises(ValueError, match="max_growth"):
        pg.RAD(max_growth=0.5)
