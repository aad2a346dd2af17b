"""The energy formulation: quadrature rules, the strain-energy operator, the loss
against the total potential energy computed from the Solution's fields, the signed
output-layer fit, a trained field against an exact solution, and refusals."""

import io
import itertools
import json
import math

import numpy as np
import pytest

import pinngelu as pg
from pinngelu.energy import energy_groups, strain_energy_operator
from pinngelu.geometry.quadrature import closed_rule, part_quadrature, volume_quadrature
from pinngelu.kernels.layout import n_channels
from pinngelu.loss import fit_output_layer, loss_and_grad

STEEL = pg.Material.from_E_nu(210e9, 0.3)
L_SHAPE = [[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]]


# ------------------------------------------------------------------ quadrature
def _monomials(d, degree):
    return [e for e in itertools.product(range(degree + 1), repeat=d) if sum(e) <= degree]


def _box_integral(lo, hi, e):
    pieces = zip(lo, hi, e, strict=True)
    return math.prod((b ** (k + 1) - a ** (k + 1)) / (k + 1) for a, b, k in pieces)


@pytest.mark.parametrize("d", [2, 3])
def test_closed_rule_is_exact_for_cubics_on_the_unit_simplex(d):
    V = np.vstack([np.zeros(d), np.eye(d)])
    X, w = [], []
    for k, wk in closed_rule(d):
        for face in itertools.combinations(range(d + 1), k):
            X.append(V[list(face)].mean(axis=0))
            w.append(wk / math.factorial(d))
    X, w = np.array(X), np.array(w)
    assert np.all(w > 0)
    for e in _monomials(d, 3):
        exact = math.prod(math.factorial(k) for k in e) / math.factorial(sum(e) + d)
        assert np.sum(w * np.prod(X**e, axis=1)) == pytest.approx(exact, rel=1e-13, abs=1e-16)


@pytest.mark.parametrize(
    "geom,lo,hi",
    [
        (pg.Rectangle(-1.0, 2.0, 0.5, 0.7), (-1.0, 0.5), (2.0, 0.7)),
        (pg.Box([0, 0, 0], [1.0, 0.5, 0.3]), (0, 0, 0), (1.0, 0.5, 0.3)),
    ],
)
def test_volume_quadrature_integrates_cubics_on_boxes(geom, lo, hi):
    X, w = volume_quadrature(geom, 0.1)
    assert np.all(w > 0)
    assert len(np.unique(X, axis=0)) == len(X)  # shared points merged
    assert geom.contains(X).all() or np.all(geom.contains(X) | _on_box(X, lo, hi))
    for e in _monomials(geom.dim, 3):
        exact = _box_integral(lo, hi, e)
        assert np.sum(w * np.prod(X**e, axis=1)) == pytest.approx(exact, rel=1e-12, abs=1e-14)


def _on_box(X, lo, hi):
    return np.any(np.isclose(X, lo) | np.isclose(X, hi), axis=1)


def test_volume_quadrature_includes_boundary_points_and_l_shape_area():
    geom = pg.Polygon(L_SHAPE)
    X, w = volume_quadrature(geom, 0.1)
    assert w.sum() == pytest.approx(3.0, rel=1e-13)
    # x^2 y over the L-shape: square [0,2]^2 minus [1,2]^2
    exact = _box_integral((0, 0), (2, 2), (2, 1)) - _box_integral((1, 1), (2, 2), (2, 1))
    assert np.sum(w * X[:, 0] ** 2 * X[:, 1]) == pytest.approx(exact, rel=1e-12)
    on_right = np.isclose(X[:, 0], 2.0) & (X[:, 1] < 1.0)
    assert on_right.sum() >= 2 * 10  # vertices and edge midpoints on the part


def test_volume_quadrature_follows_curved_boundaries_at_fourth_order():
    """Quadratic cells: the area and the second moment of a disk converge at h^4
    (chords would give h^2: 1e-2 at h = 0.1); a plate with holes of different sizes
    and a spherical shell octant converge too."""
    errs, mom = [], []
    for h in (0.2, 0.1):
        X, w = volume_quadrature(pg.Disk([0.0, 0.0], 1.0), h)
        errs.append(abs(w.sum() - math.pi) / math.pi)
        mom.append(abs(np.sum(w * X[:, 0] ** 2) - math.pi / 4) / (math.pi / 4))
    assert errs[1] < errs[0] / 10 and errs[1] < 5e-7
    assert mom[1] < mom[0] / 10 and mom[1] < 1e-6
    plate = pg.Difference(
        pg.Difference(pg.Rectangle(0, 0.4, 0, 0.2), pg.Disk((0.1, 0.1), 0.04), {"boundary": "a"}),
        pg.Disk((0.3, 0.12), 0.02),
        {"boundary": "b"},
    )
    area = 0.08 - math.pi * (0.04**2 + 0.02**2)
    X, w = volume_quadrature(plate, 0.01)
    assert w.sum() == pytest.approx(area, rel=1e-5)  # chords: 7e-4
    assert np.all(w > 0) and np.all(plate.contains(X, tol=1e-12))
    shell = pg.SphericalShellOctant(0.5, 1.0)
    vol = math.pi / 6 * (1.0 - 0.5**3)
    e = [abs(volume_quadrature(shell, h)[1].sum() - vol) / vol for h in (0.2, 0.1)]
    assert e[1] < e[0] / 5 and e[1] < 5e-4


def test_volume_quadrature_keeps_straight_cells_of_a_mesh_domain():
    P = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5]])
    T = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    X, w = volume_quadrature(pg.MeshDomain(P, T), 1.0)
    assert w.sum() == pytest.approx(1.0, rel=1e-14)
    assert np.sum(w * X[:, 0] ** 3) == pytest.approx(0.25, rel=1e-13)


def test_part_quadrature_exact_on_a_segment_and_a_face():
    rect = pg.Rectangle(0.0, 2.0, 0.0, 1.0)
    X, N, w = part_quadrature(rect, "top", 0.3)
    np.testing.assert_allclose(X[:, 1], 1.0)
    np.testing.assert_allclose(N, np.broadcast_to([0.0, 1.0], N.shape), atol=1e-15)
    assert np.sum(w * X[:, 0] ** 5) == pytest.approx(2.0**6 / 6, rel=1e-13)
    box = pg.Box([0, 0, 0], [1.0, 0.5, 0.3])
    X, N, w = part_quadrature(box, "x_max", 0.1)
    np.testing.assert_allclose(X[:, 0], 1.0)
    assert np.sum(w * X[:, 1] ** 3 * X[:, 2] ** 2) == pytest.approx(
        0.5**4 / 4 * 0.3**3 / 3, rel=1e-12
    )
    with pytest.raises(ValueError, match="positive"):
        part_quadrature(rect, "top", -1.0)


# ------------------------------------------------------- strain energy operator
@pytest.mark.parametrize("d,nu", [(2, 0.3), (3, 0.3), (2, -0.5), (3, 0.45)])
def test_strain_energy_operator_equals_half_stress_strain(d, nu):
    mat = pg.Material.from_E_nu(2.5, nu)
    S = strain_energy_operator(d, mat.lam, mat.mu)[0]
    rng = np.random.default_rng(0)
    for _ in range(5):
        G = rng.normal(size=(d, d))  # G[i, j] = du_i / dx_j
        J = np.zeros((d, n_channels(d)))
        J[:, 1 : 1 + d] = G
        eps = 0.5 * (G + G.T)
        sig = mat.lam * np.trace(eps) * np.eye(d) + 2 * mat.mu * eps
        W = 0.5 * np.sum(np.einsum("kjc,jc->k", S, J) ** 2)
        assert W == pytest.approx(0.5 * np.sum(sig * eps), rel=1e-13)


def test_strain_energy_operator_refuses_unstable_materials():
    with pytest.raises(ValueError, match="lam"):
        strain_energy_operator(2, -1.5, 1.0)
    with pytest.raises(ValueError, match="d = 2 and 3"):
        strain_energy_operator(1, 1.0, 1.0)


# ------------------------------------------------------------ the loss is Pi
def _bracket(strong_weight=1.0, traction_weight=0.0, **kw):
    geom = pg.Polygon(L_SHAPE, ["clamp", "free", "free", "free", "load", "free"])
    conds = [pg.Dirichlet("clamp", 0.0), pg.Traction("load", [2e6, -5e6])]
    form = pg.EnergyForm(h=0.15, strong_weight=strong_weight, traction_weight=traction_weight)
    return pg.ElasticityProblem(geom, STEEL, conds, plane_stress=True, formulation=form, **kw)


def _total_potential_energy(prob, sol, h):
    """Pi from the Solution's fields in user units (J per unit thickness in 2D)."""
    Xv, wv = volume_quadrature(prob.geometry, h, prob.formulation.grading(prob))
    strain, stress = sol.strain(Xv, check_inside=False), sol.stress(Xv, check_inside=False)
    Pi = 0.5 * np.sum(wv * np.einsum("pij,pij->p", stress, strain))
    if prob.body_force is not None:
        Pi -= np.sum(wv * np.einsum("pi,pi->p", prob.body_force(Xv), sol.displacement(Xv, False)))
    for bc in prob.conditions:
        if isinstance(bc, pg.Traction):
            Xb, _, wb = part_quadrature(prob.geometry, bc.part, h)
            t = np.broadcast_to(np.asarray(bc.value, float), Xb.shape)
            Pi -= np.sum(wb * np.einsum("pi,pi->p", t, sol.displacement(Xb, False)))
    return Pi


def _check_directional_derivative(mlp, theta, groups, grad):
    """The gradient along a random direction against central differences (1e-6)."""
    v = np.random.default_rng(1).normal(size=theta.size)
    e = 1e-6
    fd = (
        loss_and_grad(mlp, theta + e * v, groups).loss
        - loss_and_grad(mlp, theta - e * v, groups).loss
    ) / (2 * e)
    assert grad @ v == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("body", [False, True])
def test_energy_loss_equals_total_potential_energy_of_the_solution(body):
    kw = {}
    if body:
        kw["body_force"] = lambda X: np.column_stack([1e7 * X[:, 1], -3e7 + 0 * X[:, 0]])
    prob = _bracket(strong_weight=0.0, **kw)
    mlp = pg.MLP(2, (12, 12), 2)
    theta = 0.5 * mlp.init(np.random.default_rng(3))
    groups = prob.residual_groups(np.random.default_rng(0))
    names = {g.name for g in groups}
    assert names == ({"energy", "work:load", "work:body"} if body else {"energy", "work:load"})
    # the singular fields of the re-entrant corner and the clamp's ends, with arbitrary
    # coefficients: the groups' shifted targets against the Solution's fields
    n_e = prob.enrichment().n
    assert n_e == 4 and all(g.n_enrichment == n_e for g in groups)
    c = np.random.default_rng(5).normal(size=n_e)
    for g in groups:
        g.set_enrichment_coefficients(c)
    res = loss_and_grad(mlp, theta, groups)
    sol = prob.solution(mlp, theta, enrichment=c)
    Pi = _total_potential_energy(prob, sol, 0.15)
    sc = prob.scales
    assert res.loss * prob.material.mu * sc.displacement**2 == pytest.approx(Pi, rel=1e-10)
    _check_directional_derivative(mlp, theta, groups, res.grad)


def test_strong_groups_are_added_with_their_weight():
    """The loss is Pi plus strong_weight times the strong-form loss of the same
    problem with its displacement conditions built into the network."""
    beta = 0.37
    prob = _bracket(strong_weight=beta)
    hard = pg.ElasticityProblem(
        prob.geometry, STEEL, prob.conditions, plane_stress=True, hard_dirichlet=True
    )
    mlp = pg.MLP(2, (12, 12), 2)
    theta = 0.5 * mlp.init(np.random.default_rng(3))
    groups = prob.residual_groups(np.random.default_rng(0))
    n_energy = len(energy_groups(prob, prob.formulation))
    strong = hard.residual_groups(np.random.default_rng(0))
    assert [g.name for g in groups[n_energy:]] == [g.name for g in strong]
    pi = loss_and_grad(mlp, theta, groups[:n_energy]).loss
    ls = loss_and_grad(mlp, theta, strong).loss
    assert loss_and_grad(mlp, theta, groups).loss == pytest.approx(pi + beta * ls, rel=1e-12)


def test_traction_residuals_are_added_with_their_weight():
    """With a traction weight the loss is Pi plus the weight times the integral of
    |sigma n - t|^2 over the loaded and free parts (stress from the Solution, the
    singular fields included, in the problem's scaled units), and its gradient
    matches central differences."""
    tw = 0.7
    prob = _bracket(strong_weight=0.0, traction_weight=tw)
    plain = _bracket(strong_weight=0.0, traction_weight=0.0)
    mlp = pg.MLP(2, (12, 12), 2)
    theta = 0.5 * mlp.init(np.random.default_rng(3))
    groups = prob.residual_groups(np.random.default_rng(0))
    # one group per traction condition: the load and the four free edges (one part)
    assert [g.name for g in groups] == ["energy", "work:load", "traction:load", "traction:free"]
    c = np.random.default_rng(5).normal(size=prob.enrichment().n)
    for g in groups:
        g.set_enrichment_coefficients(c)
    pi_groups = plain.residual_groups(np.random.default_rng(0))
    for g in pi_groups:
        g.set_enrichment_coefficients(c)
    sol = prob.solution(mlp, theta, enrichment=c)
    sc = prob.scales
    extra = 0.0
    for bc in prob.conditions:
        if isinstance(bc, pg.Traction) and bc.part in ("load", "free"):
            Xb, Nb, wb = part_quadrature(prob.geometry, bc.part, 0.15)
            t = np.broadcast_to(np.asarray(bc.value, float), Xb.shape)
            r = np.einsum("pij,pj->pi", sol.stress(Xb, False), Nb) - t
            extra += np.sum(wb * np.sum(r**2, axis=1)) / (sc.stress**2 * sc.length)
    loss = loss_and_grad(mlp, theta, groups)
    pi = loss_and_grad(mlp, theta, pi_groups).loss
    assert extra > 1e-3 * abs(pi)  # a random network is far from traction-free
    assert loss.loss == pytest.approx(pi + tw * extra, rel=1e-10)
    _check_directional_derivative(mlp, theta, groups, loss.grad)


def test_energy_groups_are_the_same_for_every_rng_and_clamp_holds():
    prob = _bracket()
    a = energy_groups(prob, prob.formulation)
    b = prob.residual_groups(np.random.default_rng(5))
    for ga, gb in zip(a, b[: len(a)], strict=True):
        np.testing.assert_array_equal(ga.X, gb.X)
        np.testing.assert_array_equal(ga.C, gb.C)
    mlp = pg.MLP(2, (8,), 2)
    sol = prob.solution(mlp, mlp.init(np.random.default_rng(0)))
    Xc = prob.geometry.sample_boundary(50, np.random.default_rng(2), parts="clamp").points
    assert np.max(np.abs(sol.displacement(Xc))) <= 1e-12 * np.max(
        np.abs(sol.displacement(prob.geometry.sample_interior(50, np.random.default_rng(3))))
    )


def test_signed_output_fit_minimises_the_energy_over_the_output_layer():
    prob = _bracket()
    mlp = pg.MLP(2, (10, 10), 2)
    theta = mlp.init(np.random.default_rng(0))
    groups = prob.residual_groups(np.random.default_rng(0))
    assert any(g.signed for g in groups)
    fitted = fit_output_layer(mlp, theta, groups)
    res = loss_and_grad(mlp, fitted, groups)
    o = mlp.offsets[-2]
    assert res.loss < 0  # below the energy of u = 0
    assert np.max(np.abs(res.grad[o:])) <= 1e-8 * np.max(np.abs(res.grad[:o]))
    rng = np.random.default_rng(1)
    for _ in range(4):
        pert = fitted.copy()
        pert[o:] += 1e-3 * rng.normal(size=pert.size - o)
        assert loss_and_grad(mlp, pert, groups).loss > res.loss


# ------------------------------------------------------------ training
def test_energy_training_reproduces_uniform_tension():
    """Bar with symmetry conditions on two sides and a tension on the right: the exact
    field is linear, u_x = p x / E, u_y = -nu p y / E (plane stress)."""
    p = 5e7
    geom = pg.Rectangle(0.0, 1.0, 0.0, 0.5)
    conds = [pg.Symmetry("left"), pg.Symmetry("bottom"), pg.Traction("right", [p, 0.0])]
    E, nu = STEEL.E, STEEL.nu
    prob = pg.ElasticityProblem(
        geom,
        STEEL,
        conds,
        plane_stress=True,
        n_interior=400,
        formulation=pg.EnergyForm(strong_weight=0.1),
    )
    mlp = pg.MLP(2, (10, 10), 2)
    cfg = pg.TrainConfig(stages=(pg.QuasiNewton(300),), print_every=0, solve_output_layer=False)
    res = pg.train(prob, mlp, rng=np.random.default_rng(0), config=cfg, out=None)
    sol = prob.solution(mlp, res.theta)
    X = geom.sample_interior(500, np.random.default_rng(1))
    exact = np.column_stack([p * X[:, 0] / E, -nu * p * X[:, 1] / E])
    err = np.linalg.norm(sol.displacement(X) - exact) / np.linalg.norm(exact)
    assert err < 1e-5
    # the minimum of the energy: -W / 2 with W the work of the load
    Pi = res.loss * prob.material.mu * prob.scales.displacement**2
    W = p * 0.5 * (p / E)  # traction times the area of the end (0.5) times u_x(1)
    assert Pi == pytest.approx(-0.5 * W, rel=1e-8)
    assert res.energy_quadrature["energy"] == pytest.approx(-0.5 * W, rel=1e-8)
    assert res.energy_quadrature["relative_difference"] < 1e-8


def _tension_bar(p=5e7):
    geom = pg.Rectangle(0.0, 1.0, 0.0, 0.5)
    conds = [pg.Symmetry("left"), pg.Symmetry("bottom"), pg.Traction("right", [p, 0.0])]
    return pg.ElasticityProblem(
        geom, STEEL, conds, plane_stress=True, n_interior=400, formulation=pg.EnergyForm()
    )


def test_an_exploited_quadrature_is_caught_during_training(tmp_path):
    """Without the strong-form groups a 10 x 10 network on a coarse quadrature of a bar
    in tension lowers the discrete energy by fields between the quadrature points (at
    iteration 250 the energy on a quadrature of half the cell size differs by a factor
    of 5).  The check during training sees it, goes back to the last checked iterate
    and continues on the finer quadrature, which ends at the true minimum; a run
    resumed from a checkpoint written after the refinement ends on the same bits."""
    p = 5e7
    prob = _tension_bar(p)
    h0 = prob.formulation.cell_size(prob)
    mlp = pg.MLP(2, (10, 10), 2)
    cfg = pg.TrainConfig(
        stages=(pg.QuasiNewton(300),),
        print_every=0,
        checkpoint=tmp_path / "ck.npz",
        checkpoint_every=10,
        solve_output_layer=False,  # all layers: the check every 250 iterations
    )
    out = io.StringIO()
    res = pg.train(prob, mlp, rng=np.random.default_rng(0), config=cfg, out=out)
    assert "iteration 250: the energy differs by" in out.getvalue()
    assert "back to iteration 0, continuing on a quadrature" in out.getvalue()
    assert prob.formulation.h is None  # the problem keeps its settings
    assert res.formulation.h == pytest.approx(0.5 * h0, rel=1e-14)
    Pi_min = -0.25 * p * p / STEEL.E
    assert res.energy_quadrature["energy"] == pytest.approx(Pi_min, rel=1e-8)
    assert res.energy_quadrature["relative_difference"] < 1e-8
    stopped = pg.train(
        _tension_bar(p),
        mlp,
        rng=np.random.default_rng(0),
        config=cfg,
        callback=lambda r: r.it >= 280,
        out=None,
    )
    assert stopped.n_iter == 280
    again = _tension_bar(p)
    C = pg.resume(tmp_path / "ck.npz", again, mlp, rng=np.random.default_rng(5), config=cfg)
    assert C.formulation.h == res.formulation.h
    assert C.n_iter == res.n_iter and np.array_equal(C.theta, res.theta)


def test_energy_checkpoint_resume_is_bit_identical(tmp_path):
    prob = _bracket()
    mlp = pg.MLP(2, (8, 8), 2)
    cfg = pg.TrainConfig(
        stages=(pg.QuasiNewton(10),),
        print_every=0,
        checkpoint_every=2,
        checkpoint=tmp_path / "ck.npz",
    )
    A = pg.train(prob, mlp, rng=np.random.default_rng(1), config=cfg, out=None)
    B = pg.train(
        prob, mlp, rng=np.random.default_rng(1), config=cfg, callback=lambda r: r.it >= 4, out=None
    )
    assert B.n_iter == 4
    rng = np.random.default_rng(9)
    C = pg.resume(tmp_path / "ck.npz", prob, mlp, rng=rng, config=cfg, out=None)
    assert C.n_iter == A.n_iter
    assert np.array_equal(C.theta, A.theta)
    # a checkpoint written before traction_weight existed resumes with its default (0),
    # and is refused for a problem with another weight
    pg.train(
        prob, mlp, rng=np.random.default_rng(1), config=cfg, callback=lambda r: r.it >= 4, out=None
    )
    with np.load(tmp_path / "ck.npz") as z:
        arrays = dict(z)
    meta = json.loads(str(arrays["meta"]))
    for key in ("start", "now"):
        del meta["formulation"][key]["traction_weight"]
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "old.npz", **arrays)
    D = pg.resume(tmp_path / "old.npz", prob, mlp, rng=rng, config=cfg, out=None)
    assert D.n_iter == A.n_iter and np.array_equal(D.theta, A.theta)
    other = _bracket(traction_weight=0.5)
    with pytest.raises(ValueError, match="traction_weight"):
        pg.resume(tmp_path / "old.npz", other, mlp, rng=rng, config=cfg, out=None)


# ------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    "kw,exc,phrase",
    [
        ({"h": -1.0}, ValueError, "positive"),
        ({"h": "a"}, TypeError, "number"),
        ({"h": 0}, ValueError, "positive"),
        ({"strong_weight": -1.0}, ValueError, "strong_weight"),
        ({"strong_weight": math.nan}, ValueError, "strong_weight"),
        ({"strong_weight": True}, TypeError, "strong_weight"),
        ({"traction_weight": -0.5}, ValueError, "traction_weight must be finite and >= 0"),
        ({"traction_weight": math.inf}, ValueError, "traction_weight"),
        ({"traction_weight": "1"}, TypeError, "traction_weight"),
    ],
)
def test_energy_form_settings_checked(kw, exc, phrase):
    with pytest.raises(exc, match=phrase):
        pg.EnergyForm(**kw)


def test_energy_refusals_name_the_problem():
    geom = pg.Rectangle(0.0, 1.0, 0.0, 0.2)
    form = pg.EnergyForm()
    with pytest.raises(ValueError, match="predicate"):
        pg.ElasticityProblem(
            geom,
            STEEL,
            [pg.Dirichlet("left", 0.0), pg.Traction(lambda X: X[:, 0] > 0.99, [0.0, 1e6])],
            formulation=form,
        )
    with pytest.raises(ValueError, match="identified"):
        pg.ElasticityProblem(
            geom,
            STEEL,
            [pg.Dirichlet("left", 0.0), pg.Traction("right", [0.0, 1e6])],
            identify=("lam",),
            formulation=form,
        )
    with pytest.raises(TypeError, match="EnergyForm"):
        pg.ElasticityProblem(geom, STEEL, [pg.Dirichlet("left", 0.0)], formulation="energy")
    prob = pg.ElasticityProblem(
        geom, STEEL, [pg.Dirichlet("left", 0.0), pg.Traction("right", [0.0, 1e6])], formulation=form
    )
    cfg = pg.TrainConfig(stages=(pg.LevenbergMarquardt(5),), print_every=0)
    with pytest.raises(ValueError, match="least-squares"):
        pg.train(prob, pg.MLP(2, (6,), 2), rng=np.random.default_rng(0), config=cfg, out=None)


def test_residual_jacobian_refuses_signed_groups():
    from pinngelu.jacobian import residuals_and_jacobian

    prob = _bracket()
    mlp = pg.MLP(2, (6,), 2)
    groups = prob.residual_groups(np.random.default_rng(0))
    with pytest.raises(ValueError, match="negative point weights"):
        residuals_and_jacobian(mlp, mlp.init(np.random.default_rng(0)), groups)


# ------------------------------------------------------ solved output layer
def test_solved_output_layer_gives_the_gradient_of_the_reduced_loss():
    """With ``solve_output_layer`` the objective is min over the output layer of the
    energy; its gradient in the hidden layers (the partial gradient at the minimiser)
    matches central differences of that reduced loss, its output-layer entries are
    zero, and its value is at most the loss at the given output layer."""
    from pinngelu.training.objective import Objective as _Objective

    prob = _bracket(strong_weight=0.0)
    mlp = pg.MLP(2, (6, 6), 2)
    theta = mlp.init(np.random.default_rng(3))
    groups = prob.residual_groups(np.random.default_rng(0))
    obj = _Objective(mlp, groups, "cpu", solve_output=True)
    plain = _Objective(mlp, groups, "cpu")
    f, g = obj(theta)
    assert f <= plain(theta)[0]
    out = mlp.offsets[mlp.n_layers - 1]
    assert np.all(g[out:] == 0.0)
    rng = np.random.default_rng(4)
    for i in rng.choice(out, 6, replace=False):
        e = np.zeros_like(theta)
        e[i] = 1e-5
        fd = (obj(theta + e)[0] - obj(theta - e)[0]) / 2e-5
        assert fd == pytest.approx(g[i], rel=2e-4, abs=1e-9 * np.max(np.abs(g)))


def test_solved_output_layer_trains_and_resumes_bit_identically(tmp_path):
    prob = _bracket(strong_weight=0.0)
    mlp = pg.MLP(2, (8, 8), 2)
    cfg = pg.TrainConfig(
        stages=(pg.QuasiNewton(12),),
        print_every=0,
        checkpoint_every=2,
        checkpoint=tmp_path / "ck.npz",
        solve_output_layer=True,
    )
    A = pg.train(prob, mlp, rng=np.random.default_rng(1), config=cfg, out=None)
    plain = pg.train(
        prob,
        mlp,
        rng=np.random.default_rng(1),
        config=pg.TrainConfig(
            stages=(pg.QuasiNewton(12),), print_every=0, solve_output_layer=False
        ),
        out=None,
    )
    assert A.loss < plain.loss  # 12 iterations on the reduced loss go further
    # the result carries the solved output layer and the singular fields' coefficients:
    # its loss is the recorded one
    groups = prob.residual_groups(np.random.default_rng(0))
    for g in groups:
        g.set_enrichment_coefficients(A.enrichment)
    assert loss_and_grad(mlp, A.theta, groups).loss == pytest.approx(A.loss, rel=1e-12)
    B = pg.train(
        prob, mlp, rng=np.random.default_rng(1), config=cfg, callback=lambda r: r.it >= 6, out=None
    )
    assert B.n_iter == 6
    C = pg.resume(
        tmp_path / "ck.npz", prob, mlp, rng=np.random.default_rng(9), config=cfg, out=None
    )
    assert C.n_iter == A.n_iter and np.array_equal(C.theta, A.theta)


def test_solved_output_layer_settings_checked():
    with pytest.raises(TypeError, match="solve_output_layer"):
        pg.TrainConfig(solve_output_layer="yes")
    prob = pg.ElasticityProblem(
        pg.Rectangle(0, 1, 0, 1),
        STEEL,
        [pg.Dirichlet("left", 0.0)],
        n_interior=16,
        formulation=pg.StrongForm(),
    )
    cfg = pg.TrainConfig(stages=(pg.LevenbergMarquardt(2),), solve_output_layer=True)
    with pytest.raises(ValueError, match="solve_output_layer=True does not combine"):
        pg.train(prob, pg.MLP(2, (4,), 2), rng=np.random.default_rng(0), config=cfg, out=None)
