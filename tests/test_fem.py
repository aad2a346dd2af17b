"""The P2 finite-element reference (pinngelu.fem) against analytic solutions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("skfem")

import pinngelu as pg  # noqa: E402
from pinngelu import fem  # noqa: E402
from pinngelu.cases import (  # noqa: E402
    cantilever,
    hollow_sphere,
    lame_cylinder,
    plate_manufactured,
    plate_with_hole,
)

E, NU, S = 200e9, 0.3, 50e6


def rel_errors(sol: fem.FEMSolution, exact, exact_stress=None) -> tuple[float, float]:
    """Relative L2 errors of displacement and stress on the FEM quadrature."""
    X, w, U, G = sol.quadrature()
    ue = exact(X)
    eu = np.sqrt(np.sum(w[:, None] * (U - ue) ** 2) / np.sum(w[:, None] * ue**2))
    if exact_stress is None:
        return float(eu), float("nan")
    s, se = sol.fields_from(U, G)["stress"], exact_stress(X)
    es = np.sqrt(np.sum(w[:, None, None] * (s - se) ** 2) / np.sum(w[:, None, None] * se**2))
    return float(eu), float(es)


def test_lame_cylinder_and_third_order_convergence():
    prob = lame_cylinder.build_problem()
    e = [
        rel_errors(fem.solve(prob, h), lame_cylinder.exact, lame_cylinder.exact_stress)
        for h in (0.02, 0.01)
    ]
    assert e[1][0] < 5e-5 and e[1][1] < 5e-3
    # curved P2: displacement O(h^3), stress O(h^2)
    assert 5.0 < e[0][0] / e[1][0] < 12.0
    assert 3.0 < e[0][1] / e[1][1] < 5.0


def test_straight_sided_mesh_is_second_order_on_curves():
    prob = lame_cylinder.build_problem()
    mesh = fem.fem_mesh(prob.geometry, 0.01, curved=False)
    eu, _ = rel_errors(fem.solve(prob, mesh=mesh), lame_cylinder.exact)
    assert 1e-3 < eu < 3e-3  # the chords of the arcs limit it to O(h^2)


def test_manufactured_plate_body_force():
    prob = plate_manufactured.build_problem()
    e1 = rel_errors(fem.solve(prob, 0.1), plate_manufactured.exact)[0]
    e2 = rel_errors(fem.solve(prob, 0.05), plate_manufactured.exact)[0]
    assert e2 < 3e-4
    assert 5.0 < e1 / e2 < 12.0


def test_cantilever_plane_stress_callable_dirichlet():
    prob = cantilever.build_problem()
    eu, es = rel_errors(fem.solve(prob, 0.05), cantilever.exact, cantilever.exact_stress)
    assert eu < 1e-4 and es < 1e-2


def test_hollow_sphere_3d_coarse():
    prob = hollow_sphere.build_problem()
    sol = fem.solve(prob, 0.04)
    eu, es = rel_errors(sol, hollow_sphere.exact, hollow_sphere.exact_stress)
    assert eu < 5e-3 and es < 6e-2


def _bar(conditions, plane_stress):
    geom = pg.Rectangle(0.0, 2.0, 0.0, 1.0)
    mat = pg.Material.from_E_nu(E, NU)
    return pg.ElasticityProblem(geom, mat, conditions, plane_stress=plane_stress)


def _bar_exact(plane_stress):
    Ep, nup = (E, NU) if plane_stress else (E / (1 - NU**2), NU / (1 - NU))
    return lambda X: np.column_stack([S * X[:, 0] / Ep, -nup * S * X[:, 1] / Ep])


@pytest.mark.parametrize("plane_stress", [True, False])
@pytest.mark.parametrize("kind", ["symmetry", "components", "pressure"])
def test_uniaxial_bar(kind, plane_stress):
    """Uniform tension: exact in P2 (to round-off) for each way of writing the rollers
    and the load, in plane stress and plane strain (different transverse strains)."""
    if kind == "components":
        rollers = [
            pg.Dirichlet("left", 0.0, components=(0,)),
            pg.Dirichlet("bottom", 0.0, components=(1,)),
        ]
    else:
        rollers = [pg.Symmetry("left"), pg.Symmetry("bottom")]
    load = pg.Pressure("right", -S) if kind == "pressure" else pg.Traction("right", [S, 0.0])
    sol = fem.solve(_bar([*rollers, load], plane_stress), 0.25)
    X = np.array([[2.0, 1.0], [1.3, 0.4]])
    np.testing.assert_allclose(
        sol.displacement(X), _bar_exact(plane_stress)(X), rtol=1e-9, atol=1e-12 * S / E
    )
    np.testing.assert_allclose(sol.stress(X)[:, 0, 0], S, rtol=1e-9)
    szz = 0.0 if plane_stress else NU * S
    vm = np.sqrt(S**2 + szz**2 - S * szz)
    np.testing.assert_allclose(sol.von_mises(X), vm, rtol=1e-9)


def test_prescribed_displacement_values():
    """A nonzero, callable Dirichlet value: a uniform stretch imposed on the right edge."""
    d = 1e-4
    conds = [
        pg.Symmetry("left"),
        pg.Symmetry("bottom"),
        pg.Dirichlet("right", lambda X: np.full(X.shape[0], d), components=(0,)),
    ]
    sol = fem.solve(_bar(conds, True), 0.25)
    X = np.array([[1.0, 0.5], [2.0, 1.0]])
    np.testing.assert_allclose(sol.displacement(X)[:, 0], X[:, 0] * d / 2.0, rtol=1e-9)
    np.testing.assert_allclose(sol.displacement(X)[:, 1], -NU * d / 2.0 * X[:, 1], rtol=1e-9)


def test_pure_traction_problem_is_refused():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob = _bar([pg.Traction("right", [S, 0.0]), pg.Traction("left", [-S, 0.0])], True)
    with pytest.raises(ValueError, match="rigid-body motion free"):
        fem.solve(prob, 0.5)


def test_symmetry_on_slanted_edge_is_refused():
    geom = pg.Polygon([[0, 0], [2, 0], [1.5, 1], [0, 1]], part_names=["b", "slant", "t", "l"])
    prob = pg.ElasticityProblem(
        geom,
        pg.Material.from_E_nu(E, NU),
        [pg.Dirichlet("l", 0.0), pg.Symmetry("slant"), pg.Traction("t", [0.0, -S])],
    )
    with pytest.raises(ValueError, match="perpendicular to a coordinate axis"):
        fem.solve(prob, 0.25)


def test_compare_exclusion_and_vtu(tmp_path):
    """compare on FEM quadrature: zero against itself, the coarse-vs-fine difference of
    the Lame ring matches the coarse error against the exact solution, exclusions
    shrink the region; the VTU holds both fields and their difference."""
    prob = lame_cylinder.build_problem()
    coarse, fine = fem.solve(prob, 0.02), fem.solve(prob, 0.01)
    same = fem.compare(fine, fine)
    assert same.displacement < 1e-12 and same.stress < 1e-12 and same.kept_fraction == 1.0
    c = fem.compare(coarse, fine)
    e_coarse = rel_errors(coarse, lame_cylinder.exact, lame_cylinder.exact_stress)
    assert c.displacement == pytest.approx(e_coarse[0], rel=0.3)
    assert c.stress == pytest.approx(e_coarse[1], rel=0.3)
    corner = np.array([[0.1, 0.0]])
    cx = fem.compare(coarse, fine, exclude_points=corner, exclude_radius=0.05)
    assert 0.5 < cx.kept_fraction < 1.0
    cm = fem.compare(coarse, fine, exclude=lambda X: X[:, 0] > X[:, 1])
    assert cm.kept_fraction == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ValueError, match="exclude_radius"):
        fem.compare(coarse, fine, exclude_points=corner)
    import meshio

    path = fem.write_comparison(tmp_path / "cmp.vtu", coarse, fine)
    m = meshio.read(path)
    for name in ("displacement", "displacement_fem", "displacement_fem_diff", "von_mises_fem"):
        assert name in m.point_data
    np.testing.assert_allclose(
        m.point_data["displacement_fem_diff"],
        m.point_data["displacement"] - m.point_data["displacement_fem"],
        atol=1e-15,
    )


def test_facet_parts_cover_the_boundary():
    prob = lame_cylinder.build_problem()
    mesh = fem.fem_mesh(prob.geometry, 0.02)
    parts = fem.facet_parts(prob.geometry, mesh)
    allf = np.sort(np.concatenate(list(parts.values())))
    np.testing.assert_array_equal(allf, np.sort(mesh.boundary_facets()))
    r = np.hypot(*mesh.p[:, mesh.facets[:, parts["inner"]]].mean(axis=1))
    assert np.all(np.abs(r - lame_cylinder.A_IN) < 1e-3)


@pytest.mark.parametrize(
    "case, h", [(lame_cylinder, 0.01), (plate_manufactured, 0.05), (cantilever, 0.025)]
)
def test_reference_error_estimate(case, h):
    """The h-vs-2h estimate of the reference's own error is within a factor 2 of its
    true displacement error (and of its stress error where the stress is known)."""
    ref, est = fem.reference(case.build_problem(), h)
    eu, es = rel_errors(ref, case.exact, getattr(case, "exact_stress", None))
    assert est["h"] == h and est["n_dofs"] == ref.n_dofs
    assert 0.5 < est["displacement"] / eu < 2.0
    if not np.isnan(es):
        assert 0.5 < est["stress"] / es < 2.0


def test_case_run_with_fem(tmp_path):
    """``--fem`` of a case script: the comparison lands in the summary and the VTU; with
    a reference 1e5 times more accurate than the barely trained network, PINN-vs-FEM
    matches PINN-vs-exact."""
    import json

    import meshio

    argv = ["--max-iter", "3", "--adam-iters", "0", "--fem", "--quiet", "--out", str(tmp_path)]
    summary = lame_cylinder.main(argv)
    f = json.loads((tmp_path / "summary.json").read_text())["fem"]
    assert f["rel_l2_stress"] == summary["fem"]["rel_l2_stress"]
    assert f["reference_error"]["displacement"] < 1e-4
    assert f["rel_l2_displacement"] == pytest.approx(summary["rel_l2_displacement"], rel=0.2)
    m = meshio.read(tmp_path / "solution.vtu")
    for name in ("displacement", "displacement_fem", "stress_fem_diff", "von_mises_fem_diff"):
        assert name in m.point_data


def test_mesh_domain_uniaxial_bar():
    """A MeshDomain (the user's mesh and named facet groups) solves like the analytic
    rectangle."""
    import skfem

    P, C = pg.Rectangle(0.0, 2.0, 0.0, 1.0).mesh(0.25)
    m = skfem.MeshTri(P.T.copy(), C.T.copy())
    bf = m.boundary_facets()
    F = m.facets[:, bf].T
    mid = P[F].mean(axis=1)
    sides = {
        "left": mid[:, 0] < 1e-9,
        "right": mid[:, 0] > 2 - 1e-9,
        "bottom": mid[:, 1] < 1e-9,
        "top": mid[:, 1] > 1 - 1e-9,
    }
    dom = pg.MeshDomain(P, C, {k: F[v] for k, v in sides.items()})
    conds = [pg.Symmetry("left"), pg.Symmetry("bottom"), pg.Traction("right", [S, 0.0])]
    prob = pg.ElasticityProblem(dom, pg.Material.from_E_nu(E, NU), conds, plane_stress=True)
    sol = fem.solve(prob)
    X = np.array([[2.0, 1.0], [0.7, 0.3]])
    np.testing.assert_allclose(sol.displacement(X), _bar_exact(True)(X), rtol=1e-9)


def test_plate_with_hole_kirsch():
    """A Difference (rectangle minus disk): symmetry edges, the Kirsch tractions on the
    outer edges, the traction-free hole."""
    prob = plate_with_hole.build_problem()
    eu, es = rel_errors(fem.solve(prob, 0.005), plate_with_hole.exact, plate_with_hole.exact_stress)
    assert eu < 3e-4 and es < 1e-2


def test_traction_on_a_predicate():
    """A load on a part given by a predicate (facet centroids) acts like the named part."""
    on_right = lambda X: X[:, 0] > 2.0 - 1e-9  # noqa: E731
    conds = [pg.Symmetry("left"), pg.Symmetry("bottom"), pg.Traction(on_right, [S, 0.0])]
    sol = fem.solve(_bar(conds, True), 0.25)
    X = np.array([[2.0, 1.0]])
    np.testing.assert_allclose(sol.displacement(X), _bar_exact(True)(X), rtol=1e-9)


def test_missing_scikit_fem_is_named(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "skfem", None)  # makes `import skfem` fail
    with pytest.raises(fem.FEMUnavailableError, match=r"pinngelu\[fem\]"):
        fem.check_available()
    with pytest.raises(RuntimeError, match="scikit-fem"):
        fem.solve(lame_cylinder.build_problem(), 0.02)
