"""Hard Dirichlet conditions: distance functions, the product-rule operator, and the
conditions holding exactly on the boundary."""

import math
import warnings

import numpy as np
import pytest
from stagecfg import stage_config

import pinngelu as pg
from pinngelu.geometry.distance import (
    Ball,
    HalfSpace,
    Jet,
    NoDistanceFunction,
    REquivalence,
    segment_distance,
)
from pinngelu.hard_bc import HardDirichlet, product_operator
from pinngelu.kernels.layout import second_pairs
from pinngelu.loss import loss_and_grad

STEEL = pg.Material.from_E_nu(210e9, 0.3)
L_SHAPE = [[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]]


def _square_hole():
    names = {s: f"hole_{s}" for s in ("left", "right", "bottom", "top")}
    return pg.Difference(pg.Rectangle(0.0, 2.0, 0.0, 1.0), pg.Rectangle(0.8, 1.2, 0.3, 0.6), names)


def shapes():
    """(geometry, part) pairs covering every kind of distance function."""
    return [
        (pg.Rectangle(0.0, 1.0, 0.0, 0.2), "left"),
        (pg.Polygon(L_SHAPE), "edge3"),  # re-entrant edge: trimmed segment
        (pg.Polygon(L_SHAPE, ["a", "a", "b", "a", "b", "b"]), "a"),  # R-equivalence
        (pg.Disk([0.3, 0.1], 0.7), "boundary"),
        (pg.Annulus([0.0, 0.0], 0.5, 1.0), "inner"),
        (pg.AnnularSector([0.0, 0.0], 0.5, 1.0, 0.0, 1.5 * math.pi), "start"),
        (pg.Rectangle(0.0, 2.0, 0.0, 1.0) - pg.Disk([0.0, 0.0], 0.4), "boundary"),
        (_square_hole(), "hole_left"),
        (pg.Box([0, 0, 0], [1.0, 0.5, 0.3]), "x_min"),
        (pg.SphericalShellOctant(0.5, 1.0), "inner"),
        (pg.SphericalShellOctant(0.5, 1.0), "y0"),
    ]


def _ids(case):
    return f"{type(case[0]).__name__}-{case[1]}"


@pytest.mark.parametrize("case", shapes(), ids=_ids)
def test_distance_zero_on_part_positive_inside(case):
    geom, part = case
    rng = np.random.default_rng(0)
    df = geom.part_distance(part)
    on = geom.sample_boundary(200, rng, parts=part).points
    lo, hi = geom.bbox
    size = float(np.max(hi - lo))
    assert np.max(np.abs(df(on))) <= 1e-13 * size
    X = geom.sample_interior(500, rng)
    phi = df(X)
    assert np.all(phi > 0)
    # first-order normalised: |grad phi| = 1 on the part, away from its ends
    J = df.jets(on)
    nrm = np.linalg.norm(J.g, axis=1)
    assert np.median(np.abs(nrm - 1.0)) < 1e-9


def _fd_check(df, X, h=1e-5):
    J = df.jets(X)
    d = X.shape[1]
    for i in range(d):
        e = np.zeros(d)
        e[i] = h
        gp, gm = df.jets(X + e), df.jets(X - e)
        np.testing.assert_allclose(J.g[:, i], (gp.v - gm.v) / (2 * h), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(J.h[:, :, i], (gp.g - gm.g) / (2 * h), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", shapes(), ids=_ids)
def test_distance_derivatives_match_finite_differences(case):
    geom, part = case
    rng = np.random.default_rng(1)
    df = geom.part_distance(part)
    X = geom.sample_interior(300, rng)
    X = X[df(X) > 1e-2]  # away from the part's ends, where the ADF is not smooth
    _fd_check(df, X)


def test_trimmed_segment_one_sided_jets_on_the_segment():
    """On the segment, the jets are the limits from the domain's side."""
    df = segment_distance([0.0, 0.0], [1.0, 0.0], [0.0, 1.0])
    X = np.array([[0.3, 0.0], [0.7, 0.0]])
    J = df.jets(X)
    Jn = df.jets(X + [0.0, 1e-7])
    np.testing.assert_allclose(J.g, [[0.0, 1.0], [0.0, 1.0]], atol=1e-12)
    np.testing.assert_allclose(J.g, Jn.g, atol=1e-5)
    np.testing.assert_allclose(J.h, Jn.h, atol=1e-5)
    # the end points are singular: value and derivatives zero, finite
    E = df.jets(np.array([[0.0, 0.0], [1.0, 0.0]]))
    assert np.all(E.v == 0) and np.all(E.g == 0) and np.all(E.h == 0)


def test_r_equivalence_zero_on_each_part_and_fd():
    df = REquivalence([HalfSpace([0, 0], [1, 0]), Ball([0.5, 0.5], 1.0, True)])
    X = np.random.default_rng(2).uniform(0.1, 0.6, (50, 2))
    _fd_check(df, X)
    assert np.all(df(np.column_stack([np.zeros(5), np.linspace(0.1, 0.9, 5)])) == 0)


def _test_field(X, a=(1.3, -0.7, 0.4)):
    """A smooth scalar field with analytic jets (value, gradient, Hessian)."""
    a = np.array(a[: X.shape[1]])
    s = X @ a + 0.2
    v = np.sin(s) + 0.5 * s * s
    g = (np.cos(s) + s)[:, None] * a
    h = (-np.sin(s) + 1.0)[:, None, None] * a[:, None] * a[None, :]
    return Jet(v, g, h)


def test_product_operator_and_fold_match_finite_differences_of_the_field():
    """Jets of u = G + phi N from M and J_G against finite differences of u."""
    geom = pg.Polygon(L_SHAPE, ["a", "b", "c", "d", "e", "f"])
    parts = [[(geom.part_distance("a"), 1.0), (geom.part_distance("f"), -2.0)], []]
    hard = HardDirichlet(2, parts)
    sc = pg.Scales(np.array([1.0, 1.0]), 1.0, 1.0, 1.0)
    X = geom.sample_interior(40, np.random.default_rng(3))
    X = X[np.min(X, axis=1) > 0.05]

    def channels(J):
        return np.column_stack([J.v, J.g] + [J.h[:, i, j] for i, j in second_pairs(2)])

    def JN(X):
        return np.stack(
            [channels(_test_field(X)), channels(_test_field(X, (0.4, 2.1, 0.0)))], axis=1
        )

    def u(X):
        return hard.displacement_jets(X, JN(X), sc)[:, :, 0]

    Ju = hard.displacement_jets(X, JN(X), sc)
    h = 1e-4
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        np.testing.assert_allclose(Ju[:, :, 1 + i], (u(X + e) - u(X - e)) / (2 * h), atol=1e-6)
    for s, (i, j) in enumerate(second_pairs(2)):
        ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
        fd = (u(X + ei + ej) - u(X + ei - ej) - u(X - ei + ej) + u(X - ei - ej)) / (4 * h * h)
        np.testing.assert_allclose(Ju[:, :, 3 + s], fd, atol=1e-4)
    # component 1 has no condition: its jets are the network's
    np.testing.assert_array_equal(Ju[:, 1], JN(X)[:, 1])
    # to first order (value and gradient channels only) the same numbers
    np.testing.assert_allclose(
        hard.displacement_jets(X, JN(X)[:, :, :3], sc), Ju[:, :, :3], rtol=1e-14, atol=1e-15
    )
    # the prescribed values hold on both parts
    for name, v in (("a", 1.0), ("f", -2.0)):
        Xb = geom.sample_boundary(30, np.random.default_rng(4), parts=name).points
        np.testing.assert_allclose(u(Xb)[:, 0], v, atol=1e-12)
    # fold: (C M) : J_N - (g - C : J_G) equals C : J_u - g
    rng = np.random.default_rng(5)
    C = rng.normal(size=(X.shape[0], 3, 2, 6))
    g = rng.normal(size=(X.shape[0], 3))
    Ce, ge, _ = hard.fold(X, C, g, None, sc)
    lhs = np.einsum("prkc,pkc->pr", Ce, JN(X)) - ge
    np.testing.assert_allclose(lhs, np.einsum("prkc,pkc->pr", C, Ju) - g, atol=1e-10)


def test_product_operator_second_derivative_rule():
    phi = Jet(np.array([2.0]), np.array([[3.0, 5.0]]), np.array([[[7.0, 11.0], [11.0, 13.0]]]))
    M = product_operator(phi)
    JN = np.array([1.0, 0.5, -0.25, 0.125, 0.0625, -1.0])
    out = M[0] @ JN
    # (phi N)_xy = phi_xy N + phi_x N_y + phi_y N_x + phi N_xy
    assert out[4] == pytest.approx(11.0 * 1.0 + 3.0 * -0.25 + 5.0 * 0.5 + 2.0 * 0.0625)
    assert out[3] == pytest.approx(7.0 + 2 * 3.0 * 0.5 + 2.0 * 0.125)


# ---------------------------------------------------------- problems and networks
def _problems():
    t = pg.Traction
    return [
        (pg.Rectangle(0.0, 1.0, 0.0, 0.1), [pg.Dirichlet("left", 0.0), t("right", [0, -1e6])]),
        (
            pg.Polygon(L_SHAPE, ["a", "b", "c", "d", "e", "f"]),
            [pg.Dirichlet("a", [1e-4, 0.0]), pg.Dirichlet("d", 0.0), t("c", [1e6, 0])],
        ),
        (
            pg.AnnularSector([0, 0], 0.5, 1.0, 0.0, 0.5 * math.pi),
            [pg.Symmetry("start"), pg.Symmetry("end"), pg.Pressure("inner", 1e6)],
        ),
        (
            pg.Annulus([0, 0], 0.5, 1.0),
            [pg.Dirichlet("inner", [2e-5, -1e-5]), pg.Pressure("outer", 1e6)],
        ),
        (
            pg.Box([0, 0, 0], [1.0, 0.3, 0.3]),
            [
                pg.Dirichlet("x_min", 0.0),
                pg.Dirichlet("x_max", 1e-4, components=(0,)),  # roller: u_x only
                pg.Symmetry("y_min"),
            ],
        ),
    ]


@pytest.mark.parametrize("k", range(5))
def test_condition_holds_to_rounding_with_random_network(k):
    geom, conds = _problems()[k]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pg.RigidBodyWarning)
        prob = pg.ElasticityProblem(geom, STEEL, conds, hard_dirichlet=True)
    assert prob.hard is not None
    groups = prob.residual_groups(np.random.default_rng(0))
    names = [g.name for g in groups]
    assert not any(n.startswith("dirichlet:") for n in names)
    d = geom.dim
    mlp = pg.MLP(d, (12, 12), d, "gelu")
    theta = mlp.init(np.random.default_rng(1))
    sol = prob.solution(mlp, theta)
    U = prob.scales.displacement
    rng = np.random.default_rng(2)
    for bc in conds:
        smp = geom.sample_boundary(100, rng, parts=bc.part)
        u = sol.displacement(smp.points)
        if isinstance(bc, pg.Dirichlet):
            comps = list(range(d)) if bc.components is None else list(bc.components)
            want = np.broadcast_to(np.asarray(bc.value, float), (len(comps),))
            assert np.max(np.abs(u[:, comps] - want)) <= 1e-13 * U
            free = [c for c in range(d) if c not in comps]
            if free:  # the roller leaves the other components free
                assert np.max(np.abs(u[:, free])) > 1e-6 * U
        elif isinstance(bc, pg.Symmetry):
            un = np.einsum("nj,nj->n", u, smp.normals)
            assert np.max(np.abs(un)) <= 1e-13 * U


def test_folded_loss_and_gradient_equal_direct_evaluation():
    """The loss of the folded groups against C : J_u - g from the network's jets, and
    its gradient against finite differences in theta."""
    geom, conds = _problems()[1]
    hard = pg.ElasticityProblem(geom, STEEL, conds, hard_dirichlet=True)
    soft = pg.ElasticityProblem(geom, STEEL, conds, formulation=pg.StrongForm())
    rng = np.random.default_rng(0)
    Xi = geom.sample_interior(200, rng)
    bnd = []
    for bc in soft.conditions:
        s = geom.sample_boundary(40, rng, parts=bc.part)
        bnd.append((s.points, s.normals))
    hg, sg = hard.groups_at(Xi, bnd), soft.groups_at(Xi, bnd)
    sg = [g for g in sg if not g.name.startswith("dirichlet:")]
    assert [g.name for g in hg] == [g.name for g in sg]
    mlp = pg.MLP(2, (10, 10), 2, "gelu")
    theta = mlp.init(np.random.default_rng(1))
    direct = 0.0
    sc = hard.scales
    for gs in sg:
        X = gs.X * sc.length + sc.origin
        u, du, ddu = pg.jets(mlp, theta, gs.X)
        JN = np.concatenate([u[:, :, None], du, ddu], axis=2)
        Ju = hard.hard.displacement_jets(X, JN, sc)
        C = np.broadcast_to(gs.C, (gs.n_points, *gs.C.shape[1:]))
        r = np.einsum("prkc,pkc->pr", C, Ju) - gs.g
        direct += gs.weight / gs.n_points * np.sum(r * r)
    res = loss_and_grad(mlp, theta, hg)
    assert res.loss == pytest.approx(direct, rel=1e-10)
    v = np.random.default_rng(2).normal(size=theta.size)
    h = 1e-6
    fp = loss_and_grad(mlp, theta + h * v, hg).loss
    fm = loss_and_grad(mlp, theta - h * v, hg).loss
    assert res.grad @ v == pytest.approx((fp - fm) / (2 * h), rel=1e-5)


def test_conditions_without_distance_function_stay_soft_with_warning():
    geom = pg.Rectangle(0.0, 1.0, 0.0, 1.0)
    conds = [
        pg.Dirichlet("left", lambda X: 1e-4 * X[:, 1:2] * np.ones((1, 2))),
        pg.Dirichlet("right", 0.0),
    ]
    with pytest.warns(UserWarning, match="callable value"):
        prob = pg.ElasticityProblem(geom, STEEL, conds, hard_dirichlet=True)
    names = [g.name for g in prob.residual_groups(np.random.default_rng(0))]
    assert "dirichlet:left" in names and "dirichlet:right" not in names
    with pytest.raises(TypeError, match="hard_dirichlet"):
        pg.ElasticityProblem(geom, STEEL, conds[1:], hard_dirichlet="yes")
    with pytest.raises(NoDistanceFunction, match="subtracted"):
        (geom - pg.Annulus([0.5, 0.5], 0.1, 0.2)).part_distance("inner")


def test_hard_model_save_load_roundtrip(tmp_path):
    geom, conds = _problems()[0]
    prob = pg.ElasticityProblem(geom, STEEL, conds, plane_stress=True, hard_dirichlet=True)
    mlp = pg.MLP(2, (6,), 2, "gelu")
    sol = prob.solution(mlp, mlp.init(np.random.default_rng(0)))
    sol.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="hard"):
        pg.Solution.load(tmp_path / "m.npz")
    back = pg.Solution.load(tmp_path / "m.npz", hard=prob.hard)
    X = geom.sample_interior(10, np.random.default_rng(1))
    np.testing.assert_array_equal(back.displacement(X), sol.displacement(X))


def test_checkpoint_resume_bit_identical_with_hard_conditions(tmp_path):
    geom, conds = _problems()[0]
    prob = pg.ElasticityProblem(
        geom,
        STEEL,
        conds,
        plane_stress=True,
        n_interior=200,
        n_boundary=80,
        hard_dirichlet=True,
    )
    mlp = pg.MLP(2, (8, 8), 2, "gelu")
    theta0 = mlp.init(np.random.default_rng(0))
    cfg = stage_config(
        lbfgs_iters=12, print_every=0, checkpoint_every=3, checkpoint=tmp_path / "ck.npz"
    )
    A = pg.train(prob, mlp, rng=np.random.default_rng(1), theta0=theta0, config=cfg, out=None)
    B = pg.train(
        prob,
        mlp,
        rng=np.random.default_rng(1),
        theta0=theta0,
        config=cfg,
        callback=lambda r: r.it >= 6,
        out=None,
    )
    assert B.n_iter == 6
    C = pg.resume(
        tmp_path / "ck.npz", prob, mlp, rng=np.random.default_rng(7), config=cfg, out=None
    )
    assert C.n_iter == A.n_iter
    assert np.array_equal(C.theta, A.theta)
    assert set(A.history["groups"][-1]) == {
        "pde",
        "traction:right",
        "traction:bottom",
        "traction:top",
    }


def test_inverse_problem_folds_parameter_coefficients():
    geom = pg.Rectangle(0.0, 1.0, 0.0, 0.2)
    conds = [pg.Dirichlet("left", 0.0), pg.Traction("right", [1e6, 0.0])]
    kw = dict(plane_stress=True, identify=("lam",))
    prob = pg.ElasticityProblem(geom, STEEL, conds, hard_dirichlet=True, **kw)
    pde = prob.residual_groups(np.random.default_rng(0))[0]
    q = np.array([0.7])
    # C(q) of the folded group equals the fold of C(q)
    soft = pg.ElasticityProblem(geom, STEEL, conds, **kw)
    X = pde.X * prob.scales.length + prob.scales.origin
    s = soft.groups_at(X, [(np.zeros((0, 2)),) * 2] * len(soft.conditions))[0]
    Cq, _, _ = prob.hard.fold(X, s.coefficients(q), s.g, None, prob.scales)
    np.testing.assert_allclose(pde.coefficients(q), Cq, atol=1e-12)
    # different values on one component: the targets would depend on q
    two = [pg.Dirichlet("left", 0.0), pg.Dirichlet("right", [1e-4, 0.0])]
    bad = pg.ElasticityProblem(geom, STEEL, two, hard_dirichlet=True, **kw)
    with pytest.raises(ValueError, match="identified material"):
        bad.residual_groups(np.random.default_rng(0))


def test_mesh_domain_conditions_hard_on_planar_parts_soft_with_a_warning_otherwise():
    n = 3
    xs = np.linspace(0.0, 1.0, n + 1)
    P = np.array([[x, y] for x in xs for y in xs])
    T = []
    for i in range(n):
        for j in range(n):
            a, b = i * (n + 1) + j, (i + 1) * (n + 1) + j
            c, d = b + 1, a + 1
            T += [[a, b, c], [a, c, d]]
    left = np.array([[j + 1, j] for j in range(n)])
    bottom = np.array([[i * (n + 1), (i + 1) * (n + 1)] for i in range(n)])
    # a planar part: the exact distance to its line, the clamp holds to rounding
    dom = pg.MeshDomain(P, np.array(T), {"left": left})
    prob = pg.ElasticityProblem(dom, STEEL, [pg.Dirichlet("left", 0.0)], hard_dirichlet=True)
    assert prob.hard is not None
    mlp = pg.MLP(2, (6,), 2)
    sol = prob.solution(mlp, mlp.init(np.random.default_rng(1)))
    Y = np.column_stack([np.zeros(7), np.linspace(0.0, 1.0, 7)])
    assert np.max(np.abs(sol.displacement(Y))) < 1e-15
    # a bent part (two edges): no distance function, a warning, soft conditions
    bent = pg.MeshDomain(P, np.array(T), {"clamp": np.concatenate([left, bottom])})
    with pytest.warns(UserWarning, match="not planar"):
        prob = pg.ElasticityProblem(bent, STEEL, [pg.Dirichlet("clamp", 0.0)], hard_dirichlet=True)
    assert prob.hard is None
    names = [g.name for g in prob.residual_groups(np.random.default_rng(0))]
    assert "dirichlet:clamp" in names
