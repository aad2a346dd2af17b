"""Tests of :class:`ElasticityProblem` (residual groups, scaling, validation) and of
:class:`Solution` (evaluation, derived fields, save / load).

The residual groups act on network jets; to check them without a network, the
exact jets of the manufactured plate solution are computed by hand in the scaled
variables ``x_hat = (x - x0) / L``, ``u_hat = u / U`` and pushed through each
group's ``C : J - g``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from stagecfg import stage_config
from test_elasticity import plate_field

import pinngelu as pg
from pinngelu.elasticity import navier_operator, strain_from_gradient, stress_from_strain
from pinngelu.kernels import n_channels, second_pairs


def scaled_jets(X_hat, scales, Q):
    """Jets of ``u_hat(x_hat) = u(x0 + L x_hat) / U`` in the channel layout."""
    L, U = scales.length, scales.displacement
    X = scales.origin + L * X_hat
    u, G, H = plate_field(X, Q)  # exact plate jets, by hand
    d = X.shape[1]
    J = np.empty((X.shape[0], 2, n_channels(d)))
    J[:, :, 0] = u / U
    J[:, :, 1 : 1 + d] = G * L / U
    for s, (i, j) in enumerate(second_pairs(d)):
        J[:, :, 1 + d + s] = H[:, :, i, j] * L**2 / U
    return J


def group_residual(grp, J):
    C = np.broadcast_to(grp.C, (grp.n_points,) + grp.C.shape[1:])
    return np.einsum("pkjc,pjc->pk", C, J) - grp.g


def cantilever(**kw):
    """A steel cantilever in real units: 100 mm x 10 mm, clamped left, shear load right."""
    geom = pg.Rectangle(0.0, 0.1, 0.0, 0.01)
    steel = pg.Material.from_E_nu(210e9, 0.3)
    conds = kw.pop(
        "conditions",
        [
            pg.Dirichlet("left", 0.0),
            pg.Traction("right", [0.0, -1e6]),
            pg.Pressure("top", 2e5),
            pg.Symmetry("bottom"),
        ],
    )
    return pg.ElasticityProblem(
        geom,
        steel,
        conds,
        kw.pop("body_force", [0.0, -7850 * 9.81]),
        **kw,
        formulation=pg.StrongForm(),
    )


# ------------------------------------------------------------- residual groups
def test_groups_vanish_at_exact_solution(plate):
    prob = plate.build_problem(n_interior=300, n_boundary=300)
    groups = prob.residual_groups(np.random.default_rng(0))
    names = [g.name for g in groups]
    assert names[0] == "pde"
    assert len(groups) == 1 + len(prob.conditions)
    assert len(set(names)) == len(names)
    for grp in groups:
        J = scaled_jets(grp.X, prob.scales, plate.Q)
        r = group_residual(grp, J)
        assert r.shape == grp.g.shape
        assert np.max(np.abs(r)) < 1e-10, grp.name
    # and they are not trivially zero: a perturbed field leaves residuals
    pde = groups[0]
    J = scaled_jets(pde.X, prob.scales, plate.Q)
    J[:, 0, 1 + 2] *= 1.01  # perturb u_x,xx
    assert np.max(np.abs(group_residual(pde, J))) > 1e-4


def to_scaled_jets(u, G, H, scales):
    L, U = scales.length, scales.displacement
    N, m, d = G.shape
    J = np.empty((N, m, n_channels(d)))
    J[:, :, 0] = u / U
    J[:, :, 1 : 1 + d] = G * L / U
    for s, (i, j) in enumerate(second_pairs(d)):
        J[:, :, 1 + d + s] = H[:, :, i, j] * L**2 / U
    return J


def cubic3d(X):
    """A 3D cubic displacement field (m) with gradient and Hessian, by hand:
    ``u = 1e-4 (x y z, x^2 - y z, z^3 + x y)`` (X in m)."""
    x, y, z = X.T
    N = X.shape[0]
    s = 1e-4
    u = s * np.stack([x * y * z, x**2 - y * z, z**3 + x * y], axis=1)
    G = np.zeros((N, 3, 3))
    G[:, 0] = np.stack([y * z, x * z, x * y], axis=1)
    G[:, 1] = np.stack([2 * x, -z, -y], axis=1)
    G[:, 2] = np.stack([y, x, 3 * z**2], axis=1)
    H = np.zeros((N, 3, 3, 3))
    H[:, 0, 0, 1] = H[:, 0, 1, 0] = z
    H[:, 0, 0, 2] = H[:, 0, 2, 0] = y
    H[:, 0, 1, 2] = H[:, 0, 2, 1] = x
    H[:, 1, 0, 0] = 2.0
    H[:, 1, 1, 2] = H[:, 1, 2, 1] = -1.0
    H[:, 2, 0, 1] = H[:, 2, 1, 0] = 1.0
    H[:, 2, 2, 2] = 6 * z
    return u, s * G, s * H


def test_3d_groups_vanish_at_exact_solution():
    """3D box (in m, steel) with a cubic field: body force from Navier, Dirichlet and
    (full and partial) traction conditions built from the field itself."""
    mat = pg.Material.from_E_nu(210e9, 0.3)
    lam, mu = mat.lam, mat.mu
    geom = pg.Box([0.0, 0.0, 0.0], [0.2, 0.1, 0.3])

    def body_force(X):
        _, _, H = cubic3d(X)
        return -(mu * np.einsum("pkii->pk", H) + (lam + mu) * np.einsum("pjjk->pk", H))

    def traction(normal):
        def t(X):
            _, G, _ = cubic3d(X)
            sig = stress_from_strain(strain_from_gradient(G), lam, mu)
            return sig @ np.asarray(normal, float)

        return t

    conds = [
        pg.Dirichlet("x_min", lambda X: cubic3d(X)[0]),
        pg.Dirichlet("y_min", lambda X: cubic3d(X)[0][:, [0, 2]], components=(0, 2)),
        pg.Traction("y_min", lambda X: traction([0, -1, 0])(X)[:, [1]], components=(1,)),
        pg.Traction("x_max", traction([1, 0, 0])),
        pg.Traction("z_max", traction([0, 0, 1])),
        pg.Traction("z_min", traction([0, 0, -1])),
    ]
    prob = pg.ElasticityProblem(
        geom,
        mat,
        conds,
        body_force,
        n_interior=200,
        n_boundary=300,
        exact=lambda X: cubic3d(X)[0],
        traction_free_default=False,  # y_max stays unconstrained: the field is not free there,
        formulation=pg.StrongForm(),
    )
    assert [bc.part for bc in prob.conditions] == [bc.part for bc in conds]
    sc = prob.scales
    for grp in prob.residual_groups(np.random.default_rng(0)):
        X = sc.origin + sc.length * grp.X
        J = to_scaled_jets(*cubic3d(X), sc)
        r = group_residual(grp, J)
        assert np.max(np.abs(grp.g)) <= 1e3
        assert np.max(np.abs(r)) < 1e-9 * max(1.0, np.max(np.abs(grp.g))), grp.name


def test_3d_symmetry_and_pressure_vanish_at_dilatation():
    """Uniform dilatation ``u = a x`` of the unit cube: symmetry planes on the min faces,
    pressure ``p = -(3 lam + 2 mu) a`` on the max faces, no body force."""
    mat = pg.Material.from_lame(2.0, 1.5)
    a = 1e-3
    p = -(3 * mat.lam + 2 * mat.mu) * a
    conds = [pg.Symmetry(f) for f in ("x_min", "y_min", "z_min")]
    conds += [pg.Pressure(f, p) for f in ("x_max", "y_max", "z_max")]
    prob = pg.ElasticityProblem(
        pg.Box([0, 0, 0], [1, 1, 1]),
        mat,
        conds,
        n_interior=50,
        n_boundary=200,
        formulation=pg.StrongForm(),
    )
    sc = prob.scales
    groups = prob.residual_groups(np.random.default_rng(0))
    assert [g.name for g in groups][1:] == [
        "symmetry:x_min",
        "symmetry:y_min",
        "symmetry:z_min",
        "pressure:x_max",
        "pressure:y_max",
        "pressure:z_max",
    ]
    for grp in groups:
        X = sc.origin + sc.length * grp.X
        N = X.shape[0]
        u = a * X
        G = np.broadcast_to(a * np.eye(3), (N, 3, 3)).copy()
        J = to_scaled_jets(u, G, np.zeros((N, 3, 3, 3)), sc)
        assert np.max(np.abs(group_residual(grp, J))) < 1e-12, grp.name
    # a wrong pressure is detected
    J = to_scaled_jets(2 * a * X, 2 * G, np.zeros((N, 3, 3, 3)), sc)
    assert np.max(np.abs(group_residual(groups[-1], J))) > 1e-3


def test_group_points_in_scaled_units(plate):
    prob = plate.build_problem(n_interior=100, n_boundary=100)
    sc = prob.scales
    np.testing.assert_allclose(sc.origin, [0.5, 0.5])
    assert sc.length == pytest.approx(0.5)
    for grp in prob.residual_groups(np.random.default_rng(1)):
        X = sc.origin + sc.length * grp.X
        assert np.all(prob.geometry.contains(X, tol=1e-9))
        assert np.all(np.abs(grp.X) <= 1 + 1e-12)
    # boundary groups lie on their parts
    g = {grp.name: grp for grp in prob.residual_groups(np.random.default_rng(1))}
    Xtop = sc.origin + sc.length * g["traction:top"].X
    np.testing.assert_allclose(Xtop[:, 1], 1.0, atol=1e-12)


def test_groups_sizes_follow_settings(plate):
    prob = plate.build_problem(n_interior=123, n_boundary=200)
    groups = prob.residual_groups(np.random.default_rng(2))
    assert groups[0].n_points == 123
    nb = sum(g.n_points for g in groups[1:])
    assert nb >= 200 - len(groups)  # rounding, with a minimum per condition
    for g in groups[1:]:
        assert g.n_points >= 16


def test_plane_stress_uses_lambda_star():
    geom = pg.Rectangle(0.0, 1.0, 0.0, 1.0)
    mat = pg.Material.from_lame(1.0, 0.5)
    conds = [pg.Dirichlet("left", 0.0)]
    ps = pg.ElasticityProblem(
        geom,
        mat,
        conds,
        plane_stress=True,
        n_interior=32,
        n_boundary=32,
        formulation=pg.StrongForm(),
    )
    pe = pg.ElasticityProblem(
        geom, mat, conds, n_interior=32, n_boundary=32, formulation=pg.StrongForm()
    )
    lam_s = 2 * 1.0 * 0.5 / (1.0 + 1.0)
    assert ps.lam_eff == pytest.approx(lam_s)
    assert pe.lam_eff == 1.0
    C = ps.residual_groups(np.random.default_rng(0))[0].C
    np.testing.assert_allclose(C, navier_operator(2, lam_s / 0.5, 1.0))


# ---------------------------------------------------------------- real units
def test_real_units_give_order_one_groups():
    prob = cantilever(n_interior=200, n_boundary=200)
    sc = prob.scales
    assert sc.length == pytest.approx(0.05)
    assert 1e-9 < sc.displacement < 1e-4  # micrometres
    assert sc.stress == pytest.approx(prob.material.mu * sc.displacement / sc.length)
    for grp in prob.residual_groups(np.random.default_rng(0)):
        cmax = np.max(np.abs(grp.C))
        gmax = np.max(np.abs(grp.g))
        assert 1e-3 <= cmax <= 1e3, (grp.name, cmax)
        assert gmax <= 1e3, (grp.name, gmax)
        assert np.all(np.abs(grp.X) <= 1 + 1e-12)
        if grp.name in ("traction:right", "pressure:top"):
            assert 1e-3 <= gmax, (grp.name, gmax)
    g = {grp.name: grp for grp in prob.residual_groups(np.random.default_rng(0))}
    # the traction target is t / (mu U / L) and the pressure target -p n / (mu U / L)
    np.testing.assert_allclose(
        g["traction:right"].g,
        np.array([[0.0, -1e6]]) / sc.stress * np.ones((g["traction:right"].n_points, 1)),
        rtol=1e-14,
    )
    np.testing.assert_allclose(g["pressure:top"].g[:, 1], -2e5 / sc.stress, rtol=1e-14)
    np.testing.assert_allclose(g["pressure:top"].g[:, 0], 0.0, atol=1e-14)
    assert g["symmetry:bottom"].g.shape == (g["symmetry:bottom"].n_points, 3)


def test_scales_round_trip_and_overrides():
    prob = cantilever(n_interior=16, n_boundary=64)
    sc = prob.scales
    back = pg.problem.Scales.from_dict(sc.to_dict())
    np.testing.assert_array_equal(back.origin, sc.origin)
    assert (back.length, back.displacement, back.mu, back.stress) == (
        sc.length,
        sc.displacement,
        sc.mu,
        sc.stress,
    )
    p2 = cantilever(n_interior=16, n_boundary=64, displacement_scale=1e-5, length_scale=0.1)
    assert (p2.scales.displacement, p2.scales.length) == (1e-5, 0.1)
    with pytest.raises(ValueError, match="displacement scale"):
        cantilever(n_interior=16, n_boundary=64, displacement_scale=-1.0)
    with pytest.raises(ValueError, match="length scale"):
        cantilever(n_interior=16, n_boundary=64, length_scale=0.0)


# --------------------------------------------------------------- bad input
def test_unknown_boundary_part_lists_valid_parts():
    with pytest.raises(ValueError, match="'front'") as exc:
        cantilever(conditions=[pg.Dirichlet("front", 0.0)])
    msg = str(exc.value)
    for part in ("left", "right", "bottom", "top"):
        assert part in msg


@pytest.mark.parametrize(
    "bf", [lambda X: np.zeros((X.shape[0], 3)), lambda X: np.zeros(X.shape[0]), [1.0, 2.0, 3.0]]
)
def test_body_force_wrong_shape(bf):
    with pytest.raises(ValueError, match="body force"):
        cantilever(body_force=bf)


def test_body_force_nan():
    with pytest.raises(ValueError, match="body force.*NaN"):
        cantilever(body_force=lambda X: np.full(X.shape, np.nan))


@pytest.mark.parametrize("comps", [(2,), (-1,), (0, 5), ()])
def test_component_out_of_range(comps):
    with pytest.raises(ValueError, match="components"):
        cantilever(conditions=[pg.Dirichlet("left", 0.0, components=comps)])


def test_condition_value_wrong_shape():
    with pytest.raises(ValueError, match="Traction on 'right'"):
        cantilever(conditions=[pg.Traction("right", [1.0, 2.0, 3.0])])
    with pytest.raises(ValueError, match="Dirichlet on 'left'.*shape"):
        cantilever(conditions=[pg.Dirichlet("left", lambda X: np.zeros((len(X), 3)))])


def test_plane_stress_3d_rejected():
    geom = pg.Box([0, 0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match="plane_stress"):
        pg.ElasticityProblem(
            geom,
            pg.Material.from_E_nu(1.0, 0.3),
            [pg.Dirichlet("x_min")],
            plane_stress=True,
            formulation=pg.StrongForm(),
        )


def test_data_outside_domain():
    dat = pg.DisplacementData(
        np.array([[0.05, 0.005], [0.2, 0.005]]), np.zeros((2, 2)), name="gauges"
    )
    with pytest.raises(ValueError, match="gauges.*outside the domain"):
        cantilever(data=[dat])


@pytest.mark.parametrize(
    "X, u, match",
    [
        ([[0.05, 0.005]], [[np.nan, 0.0]], "NaN"),
        ([[np.nan, 0.005]], [[0.0, 0.0]], "NaN"),
        ([[0.05, 0.005]], [[0.0, 0.0, 0.0]], "shape"),
    ],
)
def test_bad_data(X, u, match):
    with pytest.raises(ValueError, match=match):
        cantilever(data=[pg.DisplacementData(np.array(X), np.array(u))])


def test_data_group():
    X = np.array([[0.05, 0.005], [0.09, 0.002]])
    u = np.array([[1e-6, -2e-6], [0.0, 3e-6]])
    prob = cantilever(
        data=[pg.DisplacementData(X, u, weight=2.0, name="dic")], n_interior=16, n_boundary=64
    )
    grp = prob.residual_groups(np.random.default_rng(0))[-1]
    assert grp.name == "dic" and grp.weight == 2.0
    np.testing.assert_allclose(grp.g, u / prob.scales.displacement)
    np.testing.assert_allclose(grp.X, prob.scales.to_hat(X))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"n_interior": 0}, "n_interior"),
        ({"n_boundary": 0}, "n_boundary"),
        ({"n_interior": 2.5}, "n_interior"),
        ({"sampling": "grid"}, "sampling"),
        ({"conditions": []}, "no boundary conditions"),
    ],
)
def test_bad_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        cantilever(**kw)


def test_bad_geometry_material():
    with pytest.raises(ValueError, match="geometry"):
        pg.ElasticityProblem(
            "square",
            pg.Material.from_E_nu(1, 0.3),
            [pg.Dirichlet("left")],
            formulation=pg.StrongForm(),
        )
    with pytest.raises(ValueError, match="material"):
        pg.ElasticityProblem(
            pg.Rectangle(0, 1, 0, 1),
            (1.0, 0.3),
            [pg.Dirichlet("left")],
            formulation=pg.StrongForm(),
        )


# ---------------------------------------------------------------- Solution
@pytest.fixture(scope="module")
def plate_solution(plate):
    prob = plate.build_problem(n_interior=64, n_boundary=64)
    mlp = pg.MLP(2, (8, 8), 2)
    theta = mlp.init(np.random.default_rng(0), "glorot")
    return prob, prob.solution(mlp, theta)


def test_solution_outside_domain(plate_solution):
    prob, sol = plate_solution
    Xout = np.array([[0.5, 0.5], [1.5, 0.5]])
    with pytest.raises(ValueError, match="outside the domain.*check_inside=False"):
        sol.displacement(Xout)
    with pytest.raises(ValueError, match="outside"):
        sol.fields(Xout)
    u = sol.displacement(Xout, check_inside=False)
    assert u.shape == (2, 2) and np.all(np.isfinite(u))
    # boundary points are inside
    sol.displacement(np.array([[0.0, 0.0], [1.0, 1.0]]))


def test_solution_fields(plate_solution, plate):
    prob, sol = plate_solution
    X = plate.grid(7)
    N = X.shape[0]
    f = sol.fields(X)
    shapes = {
        "displacement": (N, 2),
        "strain": (N, 2, 2),
        "stress": (N, 2, 2),
        "von_mises": (N,),
        "displacement_exact": (N, 2),
        "displacement_error": (N, 2),
    }
    assert set(f) == set(shapes)
    for k, s in shapes.items():
        assert f[k].shape == s, k
        assert np.all(np.isfinite(f[k])), k
    np.testing.assert_array_equal(f["displacement"], sol.displacement(X))
    np.testing.assert_allclose(f["displacement_exact"], plate.exact(X))
    np.testing.assert_allclose(f["displacement_error"], f["displacement"] - plate.exact(X))
    np.testing.assert_allclose(f["strain"], sol.strain(X))
    np.testing.assert_allclose(f["stress"], stress_from_strain(f["strain"], 1.0, 0.5))
    np.testing.assert_allclose(f["strain"], np.swapaxes(f["strain"], 1, 2))
    assert np.all(f["von_mises"] >= 0)
    err = sol.relative_l2_error(X)
    assert err == pytest.approx(
        np.linalg.norm(f["displacement_error"]) / np.linalg.norm(f["displacement_exact"])
    )


def test_solution_without_exact_has_no_error_fields():
    prob = cantilever(n_interior=16, n_boundary=64)
    mlp = pg.MLP(2, (6,), 2)
    sol = prob.solution(mlp, mlp.init(np.random.default_rng(1), "glorot"))
    f = sol.fields(np.array([[0.05, 0.005]]))
    assert set(f) == {"displacement", "strain", "stress", "von_mises"}
    with pytest.raises(ValueError, match="exact"):
        sol.relative_l2_error(np.array([[0.05, 0.005]]))


def test_solution_gradient_in_user_units():
    """``displacement_gradient`` is the derivative of ``displacement`` in metres (checks
    the U / L factors of the unit conversion)."""
    prob = cantilever(n_interior=16, n_boundary=64)
    mlp = pg.MLP(2, (6, 6), 2)
    sol = prob.solution(mlp, mlp.init(np.random.default_rng(2), "glorot"))
    X = np.array([[0.03, 0.004], [0.07, 0.006]])
    G = sol.displacement_gradient(X)
    h = 1e-6
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        fd = (sol.displacement(X + e) - sol.displacement(X - e)) / (2 * h)
        np.testing.assert_allclose(G[:, :, i], fd, rtol=1e-5, atol=1e-7 * np.abs(G).max())
    # stress in Pa from the gradient, plane strain von Mises with sigma_zz
    eps = strain_from_gradient(G)
    m = prob.material
    np.testing.assert_allclose(sol.stress(X), stress_from_strain(eps, m.lam, m.mu), rtol=1e-12)
    s = sol.fields(X)
    szz = m.lam * (eps[:, 0, 0] + eps[:, 1, 1])
    np.testing.assert_allclose(
        s["von_mises"], pg.elasticity.von_mises(s["stress"], szz), rtol=1e-12
    )


def test_solution_save_load_round_trip(tmp_path, plate):
    prob = cantilever(n_interior=16, n_boundary=64, plane_stress=True)
    mlp = pg.MLP(2, (7, 5), 2, "tanh")
    sol = prob.solution(mlp, mlp.init(np.random.default_rng(3), "glorot"))
    path = tmp_path / "model.npz"
    sol.save(path)
    assert path.exists()
    assert not list(tmp_path.glob("*.tmp"))
    back = pg.Solution.load(path, geometry=prob.geometry)
    X = np.array([[0.01, 0.001], [0.05, 0.005], [0.1, 0.01]])
    np.testing.assert_array_equal(back.displacement(X), sol.displacement(X))
    np.testing.assert_array_equal(back.stress(X), sol.stress(X))
    assert back.mlp == mlp and back.plane_stress is True
    assert (back.material.lam, back.material.mu) == (prob.material.lam, prob.material.mu)
    assert back.scales.to_dict() == prob.scales.to_dict()
    with pytest.raises(ValueError, match="outside"):
        back.displacement(np.array([[0.2, 0.0]]))
    # with an exact solution passed at load time
    b2 = pg.Solution.load(path, exact=lambda X: np.zeros_like(X))
    assert "displacement_error" in b2.fields(X)


def test_solution_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        pg.Solution.load(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a model file\x00\x01\x02" * 10)
    with pytest.raises(ValueError, match="not a pinngelu model"):
        pg.Solution.load(garbage)
    other = tmp_path / "other.npz"
    np.savez(other, something=np.arange(3))
    with pytest.raises(ValueError, match="not a pinngelu model"):
        pg.Solution.load(other)


# ------------------------------------------------------- traction-free default
def test_unmentioned_parts_and_components_are_traction_free():
    """As in a finite-element model: a part no condition mentions gets zero traction
    in every component; a part with some components constrained gets zero traction
    in the others; parts fully constrained get nothing more."""
    geom = pg.Rectangle(0.0, 2.0, 0.0, 1.0)
    mat = pg.Material.from_E_nu(1.0, 0.25)
    conds = [
        pg.Dirichlet("left", 0.0),
        pg.Dirichlet("bottom", 0.0, components=(1,)),
        pg.Traction("right", [1.0, 0.0]),
    ]
    prob = pg.ElasticityProblem(
        geom, mat, conds, n_interior=32, n_boundary=64, formulation=pg.StrongForm()
    )
    extra = prob.conditions[len(conds) :]
    assert prob.conditions[: len(conds)] == conds
    got = {(bc.part, bc.components) for bc in extra}
    assert got == {("bottom", (0,)), ("top", None)}
    assert all(isinstance(bc, pg.Traction) and bc.value == 0.0 for bc in extra)
    names = [g.name for g in prob.residual_groups(np.random.default_rng(0))]
    assert "traction:top" in names and "traction:bottom" in names
    off = pg.ElasticityProblem(
        geom,
        mat,
        conds,
        n_interior=32,
        n_boundary=64,
        traction_free_default=False,
        formulation=pg.StrongForm(),
    )
    assert off.conditions == conds
    # symmetry and pressure constrain every component
    full = pg.ElasticityProblem(
        geom,
        mat,
        [pg.Symmetry("left"), pg.Pressure("right", 1.0), pg.Symmetry("bottom")],
        n_interior=32,
        n_boundary=64,
        formulation=pg.StrongForm(),
    )
    assert [(bc.part, bc.components) for bc in full.conditions[3:]] == [("top", None)]


# ------------------------------------------------- silent wrong answers refused
def unit_square(conds, material=None, **kw):
    return pg.ElasticityProblem(
        pg.Rectangle(0.0, 2.0, 0.0, 1.0),
        pg.Material.from_E_nu(1.0, 0.3) if material is None else material,
        conds,
        n_interior=16,
        n_boundary=64,
        **kw,
        formulation=pg.StrongForm(),
    )


@pytest.mark.parametrize(
    "conds, match",
    [
        ([pg.Dirichlet("left"), pg.Dirichlet("left", 1.0)], "both prescribe component x"),
        ([pg.Dirichlet("left"), pg.Dirichlet("left")], "given twice"),
        (
            [pg.Dirichlet("left"), pg.Traction("left", 1.0, components=(1,))],
            "Dirichlet and Traction on 'left' both prescribe component y",
        ),
        ([pg.Dirichlet("left"), pg.Symmetry("left")], "Symmetry and Pressure prescribe"),
        ([pg.Dirichlet("left"), pg.Pressure("left", 1.0)], "Dirichlet and Pressure"),
    ],
)
def test_conflicting_conditions_rejected_at_construction(conds, match):
    with pytest.raises(ValueError, match=match):
        unit_square(conds)


def test_mixed_components_on_one_part_pass(plate):
    # the manufactured plate has u_x and t_y on the top, u_y and t_x on the sides
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plate.build_problem(n_interior=16, n_boundary=64)


@pytest.mark.parametrize(
    "conds, free",
    [
        ([pg.Traction("right", 1.0), pg.Traction("left", -1.0)], "translation along x, "),
        ([pg.Dirichlet("left", 0.0, components=(0,))], "leave translation along y free"),
        ([pg.Symmetry("left"), pg.Symmetry("right")], "leave translation along y free"),
        (
            [pg.Dirichlet("top", 0.0, components=(0,))],
            r"translation along y and rotation about z around the point \(1, 1\)",
        ),
        ([pg.Dirichlet("bottom", 0.0, components=(1,))], "leave translation along x free"),
    ],
)
def test_free_rigid_body_motion_warns(conds, free):
    with pytest.warns(pg.RigidBodyWarning, match=free):
        unit_square(conds)


def test_pure_traction_names_all_modes():
    with pytest.warns(pg.RigidBodyWarning) as rec:
        unit_square([pg.Traction("right", [1.0, 0.0]), pg.Traction("left", [-1.0, 0.0])])
    msg = str(rec[0].message)
    for mode in ("translation along x", "translation along y", "rotation about z"):
        assert mode in msg


@pytest.mark.parametrize(
    "conds, data",
    [
        ([pg.Dirichlet("left")], ()),
        ([pg.Symmetry("left"), pg.Symmetry("bottom")], ()),
        ([pg.Dirichlet("left", components=(0,)), pg.Dirichlet("bottom", components=(1,))], ()),
        # measured displacements fix the motion too
        (
            [pg.Traction("right", 1.0)],
            (pg.DisplacementData(np.array([[0.5, 0.5], [1.5, 0.2]]), np.zeros((2, 2))),),
        ),
    ],
)
def test_constrained_problems_do_not_warn(conds, data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unit_square(conds, data=data)


def test_zero_weight_dirichlet_does_not_constrain():
    with pytest.warns(pg.RigidBodyWarning, match="rotation about z"):
        unit_square([pg.Dirichlet("left", weight=0.0)])


def test_rigid_body_3d():
    geom = pg.Box([0, 0, 0], [1, 2, 3])
    mat = pg.Material.from_E_nu(1.0, 0.3)
    kw = {"n_interior": 16, "n_boundary": 64}
    with pytest.warns(pg.RigidBodyWarning, match="translation along y, translation along z"):
        pg.ElasticityProblem(
            geom, mat, [pg.Dirichlet("x_min", components=(0,))], **kw, formulation=pg.StrongForm()
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sym = [pg.Symmetry(p) for p in ("x_min", "y_min", "z_min")]
        pg.ElasticityProblem(geom, mat, sym, **kw, formulation=pg.StrongForm())
        pg.ElasticityProblem(geom, mat, [pg.Dirichlet("z_max")], **kw, formulation=pg.StrongForm())


def test_cases_raise_no_warning(monkeypatch):
    import importlib

    from test_cases import SHORT_REFERENCES, short_reference

    from pinngelu.app.cli import available_cases

    for name in available_cases():
        mod = importlib.import_module(f"pinngelu.cases.{name}")
        if name in SHORT_REFERENCES:  # the problem checks its exact solution at a few points
            monkeypatch.setattr(mod, "REFERENCE", short_reference(name))
        # a family case builds its family (its centre member is built with it)
        build = next(
            getattr(mod, f) for f in ("make_problem", "build_problem", "family") if hasattr(mod, f)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            build()


@pytest.mark.parametrize("plane_stress", [False, True])
def test_nearly_incompressible(plane_stress):
    ok = pg.Material.from_E_nu(1.0, 0.45)
    near = pg.Material.from_E_nu(1.0, 0.495)  # lam/mu = 99
    locked = pg.Material.from_E_nu(1.0, 0.49999)  # lam/mu ~ 5e4
    conds = [pg.Dirichlet("left")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unit_square(conds, ok, plane_stress=plane_stress)
        if plane_stress:  # lam* < 2 mu: always fine
            unit_square(conds, near, plane_stress=True)
            unit_square(conds, locked, plane_stress=True)
    if not plane_stress:
        with pytest.warns(pg.NearlyIncompressibleWarning, match="lam/mu = 99"):
            unit_square(conds, near)
        with pytest.raises(ValueError, match="nearly incompressible.*plane stress"):
            unit_square(conds, locked)


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        ({"interior_weight": 1j}, TypeError, "interior_weight: complex"),
        ({"interior_weight": -1.0}, ValueError, "interior_weight must be >= 0"),
        ({"displacement_scale": 1e-3 + 0j}, TypeError, "displacement_scale: complex"),
        ({"length_scale": "1"}, TypeError, "length_scale: expected real numbers"),
        ({"body_force": [0.0, 1j]}, TypeError, "body force: complex"),
        ({"body_force": lambda X: X * 1j}, TypeError, "body force: the function: complex"),
        ({"body_force": [[0.0], [1.0, 2.0]]}, ValueError, "body force: values must form"),
        ({"body_force": "gravity"}, TypeError, "body force.*string"),
        (
            {"conditions": [pg.Dirichlet("left", lambda X: X + 1j)]},
            TypeError,
            "Dirichlet on 'left': the function: complex",
        ),
        (
            {"conditions": [pg.Dirichlet("left"), pg.Pressure("right", lambda X: X)]},
            ValueError,
            "Pressure on 'right': the function returned shape",
        ),
    ],
)
def test_non_real_problem_inputs(kw, exc, match):
    with pytest.raises(exc, match=match):
        cantilever(**kw)


@pytest.mark.parametrize(
    "X, u, exc, match",
    [
        ([[0.05, 0.005]], [[1j, 0.0]], TypeError, "'gauges' displacements: complex"),
        ([[0.05, 0.005j]], [[0.0, 0.0]], TypeError, "'gauges' points: complex"),
        ([[0.05, 0.005], [0.01]], [[0.0, 0.0]] * 2, ValueError, "'gauges' points: values must"),
        ([[0.05, 0.005]], "zero", TypeError, "'gauges' displacements.*string"),
    ],
)
def test_non_real_data(X, u, exc, match):
    with pytest.raises(exc, match=match):
        cantilever(data=[pg.DisplacementData(X, u, name="gauges")])


def test_data_weight_checked():
    dat = pg.DisplacementData(np.array([[0.05, 0.005]]), np.zeros((1, 2)), weight=-2.0)
    with pytest.raises(ValueError, match="data 'data': weight must be >= 0"):
        cantilever(data=[dat])


def test_callables_evaluated_once_per_point_set():
    calls = {"f": 0, "g": 0}

    def f(X):
        calls["f"] += 1
        return np.ones_like(X)

    def g(X):
        calls["g"] += 1
        return np.zeros_like(X)

    prob = cantilever(body_force=f, conditions=[pg.Dirichlet("left", g)])
    calls.update(f=0, g=0)
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    a = prob.residual_groups(rng)
    rng.bit_generator.state = state  # the same resample again (as after calibration)
    prob.scale_displacement(2.0)
    b = prob.residual_groups(rng)
    assert calls == {"f": 1, "g": 1}
    for ga, gb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ga.g, 2.0 * gb.g)  # same values, new units
    prob.residual_groups(rng)  # new points: evaluated again
    assert calls == {"f": 2, "g": 2}


# --------------------------------------------------- empty and odd point sets
def test_empty_point_sets(plate_solution):
    prob, sol = plate_solution
    X0 = np.zeros((0, 2))
    assert sol.displacement(X0).shape == (0, 2)
    assert sol.displacement_gradient(X0).shape == (0, 2, 2)
    assert sol.strain(X0).shape == (0, 2, 2)
    assert sol.stress(X0).shape == (0, 2, 2)
    f = sol.fields(X0)
    assert f["von_mises"].shape == (0,) and f["displacement_error"].shape == (0, 2)
    with pytest.raises(ValueError, match="at least one point, got 0"):
        sol.relative_l2_error(X0)


def test_relative_error_of_zero_exact_field_refused():
    prob = cantilever(n_interior=16, n_boundary=64, exact=lambda X: np.zeros_like(X))
    mlp = pg.MLP(2, (6,), 2)
    sol = prob.solution(mlp, mlp.init(np.random.default_rng(1), "glorot"))
    with pytest.raises(ValueError, match="exact displacement is zero at every point"):
        sol.relative_l2_error(np.array([[0.05, 0.005]]))


@pytest.mark.parametrize(
    "X, exc, match",
    [
        (np.array([[0.5 + 0j, 0.5]]), TypeError, "evaluation points: complex"),
        ([[0.5, 0.5], [0.5]], ValueError, "evaluation points: values must form"),
        (np.array([["a", "b"]]), TypeError, "evaluation points: expected real numbers"),
        (np.zeros((3, 3)), ValueError, r"evaluation points must have shape \(N, 2\)"),
        (np.array([[np.nan, 0.5]]), ValueError, "evaluation points contain NaN"),
    ],
)
def test_bad_evaluation_points(plate_solution, X, exc, match):
    _, sol = plate_solution
    with pytest.raises(exc, match=match):
        sol.displacement(X)


def test_training_evaluates_body_force_once_per_resample():
    """Calibrating the displacement scale rebuilds the groups on the same points
    without calling the body force again; the run ends at the same bits as one with
    the same force given as a constant."""
    calls = []

    def f(X):
        calls.append(len(X))
        return np.tile([0.3, -0.2], (len(X), 1))

    def run(bf):
        prob = unit_square([pg.Dirichlet("left")], body_force=bf)
        cfg = stage_config(lbfgs_iters=4, resample_every=2, print_every=0)
        return pg.train(prob, pg.MLP(2, (6,), 2), rng=np.random.default_rng(0), config=cfg)

    calls.clear()
    res = run(f)
    calls = calls[2:]  # construction: the checks and the scale estimate
    ref = run([0.3, -0.2])
    assert calls == [16, 16, 16]  # the first sample and two resamples
    np.testing.assert_array_equal(res.theta, ref.theta)
