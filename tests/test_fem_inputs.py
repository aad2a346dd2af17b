"""The inputs of the finite-element reference: meshes with coincident nodes, loads on
predicate parts, compared fields on other domains, flat cells of generated meshes, the
step lines, the memory estimate and the optional dependencies."""

from __future__ import annotations

import io
import sys
import time
import tracemalloc
import warnings

import numpy as np
import pytest

pytest.importorskip("skfem")

import skfem  # noqa: E402

import pinngelu as pg  # noqa: E402
from pinngelu import fem, memory  # noqa: E402
from pinngelu.cases import hollow_sphere, identify_lame, plate_manufactured  # noqa: E402
from pinngelu.fem import cost, steps  # noqa: E402
from pinngelu.fem.forms import load_form  # noqa: E402
from pinngelu.fem.mesh import predicate_load_facets  # noqa: E402
from pinngelu.geometry.meshdomain import DuplicateNodesWarning  # noqa: E402
from pinngelu.geometry.meshing import mesh_geometry  # noqa: E402

E, NU, S = 200e9, 0.3, 50e6
SOLVE = sys.modules["pinngelu.fem.solve"]  # the module (pinngelu.fem.solve is the function)


@pytest.fixture
def limit():
    """Put the memory limit back after a test that sets it."""
    yield memory.set_limit
    memory.reset_limit()


def _tension(geom) -> pg.ElasticityProblem:
    conds = [pg.Symmetry("left"), pg.Symmetry("bottom"), pg.Traction("right", [S, 0.0])]
    return pg.ElasticityProblem(geom, pg.Material.from_E_nu(E, NU), conds, plane_stress=True)


# ----------------------------------------------------------------------------- 1
def _two_squares(**kw) -> pg.MeshDomain:
    """Two unit squares meshed apart: the nodes of their interface x = 1 twice."""
    P = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [1, 0], [2, 0], [2, 1], [1, 1]], float)
    C = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    parts = {"left": [[0, 3]], "right": [[5, 6]], "bottom": [[0, 1], [4, 5]]}
    return pg.MeshDomain(P, C, parts, **kw)


def test_coincident_nodes_are_merged_into_one_body():
    """Before: the interface was a traction-free crack (the right square floated, the
    FEM displacement was 3.5e10 m).  Now the nodes are merged with a warning, and the
    bar under tension is the one-piece rectangle's."""
    with pytest.warns(DuplicateNodesWarning, match="merged 2 node"):
        dom = _two_squares()
    assert dom.part_measure("boundary") == pytest.approx(2.0)  # top only: no interface
    merged = fem.solve(_tension(dom), 0.25)
    whole = fem.solve(_tension(pg.Rectangle(0.0, 2.0, 0.0, 1.0)), 0.25)
    X = np.array([[2.0, 1.0], [1.0, 0.5], [0.3, 0.9]])
    np.testing.assert_allclose(merged.displacement(X), whole.displacement(X), rtol=1e-9)
    np.testing.assert_allclose(merged.displacement(X)[0], [S * 2 / E, -NU * S / E], rtol=1e-9)


def test_coincident_nodes_refused_or_kept_on_request():
    with pytest.raises(ValueError, match="coincide with other nodes.*duplicate_nodes='merge'"):
        _two_squares(duplicate_nodes="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dom = _two_squares(duplicate_nodes="keep")
    assert dom.part_measure("boundary") == pytest.approx(4.0)  # top and both crack faces
    with pytest.raises(ValueError, match="duplicate_nodes must be one of"):
        _two_squares(duplicate_nodes="join")


# ----------------------------------------------------------------------------- 2
def _applied_force(mesh, part, traction) -> np.ndarray:
    """The total force of a traction on a predicate part, as :func:`fem.solve` applies
    it (sum of the load vector per component)."""
    d = mesh.dim()
    elem = skfem.ElementVector(skfem.ElementTriP2() if d == 2 else skfem.ElementTetP2())
    whole, pieces = predicate_load_facets(mesh, part, 6)
    form = load_form(lambda X: np.tile(traction, (X.shape[0], 1)))
    f = np.zeros(skfem.Basis(mesh, elem).N)
    if whole.size:
        f += form.assemble(skfem.FacetBasis(mesh, elem, facets=whole, intorder=6))
    for facet, Y, W in pieces:
        f += form.assemble(skfem.FacetBasis(mesh, elem, facets=[facet], quadrature=(Y, W)))
    return f.reshape(-1, d).sum(axis=0)


@pytest.mark.parametrize("curved", [True, False])
def test_load_on_a_strip_is_exact_2d(curved):
    """A 0.2 x 0.05 strip of the top edge, facets 0.125 long: before, the facets of
    centroid in the strip carried 3.125e6 N/m instead of 2.5e6."""
    mesh = fem.fem_mesh(pg.Rectangle(0.0, 2.0, 0.0, 1.0), 0.125, curved=curved)
    strip = lambda X: (X[:, 1] > 1 - 0.05) & (np.abs(X[:, 0] - 1.0) < 0.1)  # noqa: E731
    F = _applied_force(mesh, strip, [0.0, -1.25e7])
    assert F[0] == 0.0
    assert F[1] == pytest.approx(-1.25e7 * 0.2, rel=1e-10)


def test_load_on_a_patch_is_exact_3d():
    """A 0.2 x 0.4 patch of a box's top face, cut through facets of size 0.2 (two of its
    edges along facet edges)."""
    mesh = fem.fem_mesh(pg.Box([0, 0, 0], [1, 1, 1]), 0.2)
    patch = lambda X: (  # noqa: E731
        (X[:, 2] > 0.95) & (np.abs(X[:, 0] - 0.5) < 0.1) & (np.abs(X[:, 1] - 0.45) < 0.2)
    )
    F = _applied_force(mesh, patch, [0.0, 0.0, -1e6])
    assert F[2] == pytest.approx(-1e6 * 0.08, rel=1e-10)


def test_tolerance_band_of_a_predicate_selects_the_edge():
    """``X[:, 0] > 2 - 1e-9``: the right edge, not slivers of the top and bottom."""
    mesh = fem.fem_mesh(pg.Rectangle(0.0, 2.0, 0.0, 1.0), 0.25)
    whole, pieces = predicate_load_facets(mesh, lambda X: X[:, 0] > 2.0 - 1e-9, 6)
    assert not pieces
    np.testing.assert_allclose(mesh.p[0, mesh.facets[:, whole]], 2.0)


# ----------------------------------------------------------------------------- 3
def test_compare_refuses_other_domains_and_dimensions():
    """Before: a 2D solution against a 3D reference gave a shape error, a solution on
    [0, 2] x [0, 1] against a reference on the unit square a number."""
    bar = fem.solve(_tension(pg.Rectangle(0.0, 2.0, 0.0, 1.0)), 0.25)
    square = fem.solve(_tension(pg.Rectangle(0.0, 1.0, 0.0, 1.0)), 0.25)
    with pytest.raises(ValueError, match="different domains: bounding boxes"):
        fem.compare(bar, square)
    with pytest.raises(ValueError, match="different domains"):
        fem.compare(square, bar)
    prob = _tension(pg.Rectangle(0.0, 1.0, 0.0, 1.0))
    mlp = pg.MLP(2, (4,), 2)
    net = prob.solution(mlp, mlp.init(np.random.default_rng(0)))
    box = pg.Box([0, 0, 0], [1, 1, 1])
    cube = fem.solve(
        pg.ElasticityProblem(
            box, pg.Material.from_E_nu(E, NU), [pg.Dirichlet("x_min", 0.0)], body_force=[0, 0, 1]
        ),
        0.5,
    )
    with pytest.raises(ValueError, match="the solution is 2D and the reference 3D"):
        fem.compare(net, cube)
    with pytest.raises(ValueError, match="different domains"):
        fem.compare(prob.solution(mlp, mlp.init(np.random.default_rng(0))), bar)
    assert fem.compare(net, square).displacement > 0  # the same domain: compared


def test_compare_refuses_a_domain_with_a_hole_missing():
    """The same bounding box, a different measure (a hole of 5% of the area)."""
    plate = _tension(pg.Rectangle(0.0, 1.0, 0.0, 1.0))
    holed = _tension(pg.Rectangle(0.0, 1.0, 0.0, 1.0) - pg.Disk((0.5, 0.5), 0.13))
    a, b = fem.solve(plate, 0.1), fem.solve(holed, 0.05)
    with pytest.raises(ValueError, match="measures"):
        fem.compare(a, b)


# ----------------------------------------------------------------------------- 4
def _check_conforming(P: np.ndarray, cells: np.ndarray, geom) -> float:
    """Every boundary facet of the mesh lies on a part (no gap inside); its volume."""
    fem.facet_parts(geom, skfem.MeshTet(P.T.copy(), cells.T.copy()))
    return float(np.abs(np.linalg.det(P[cells[:, 1:]] - P[cells[:, :1]])).sum() / 6)


@pytest.mark.parametrize("h", [0.08, 0.05])
def test_flat_cells_of_the_spherical_shell_are_repaired(h):
    """At h = 0.08 (the 2h mesh of the hollow sphere's reference) a flat cell of four
    coplanar nodes inside the shell was dropped, leaving 8 facets on no part (and
    ``pinngelu run hollow_sphere --fem`` failed after training)."""
    prob = hollow_sphere.build_problem()
    P, cells = mesh_geometry(prob.geometry, h, conforming=True)
    _check_conforming(P, cells, prob.geometry)
    sol = fem.solve(prob, h)
    X = hollow_sphere.grid(5)
    err = np.linalg.norm(sol.displacement(X) - hollow_sphere.exact(X))
    assert err / np.linalg.norm(hollow_sphere.exact(X)) < 3e-2


def test_flat_cells_of_a_box_are_repaired():
    """A box's boundary and lattice points make hundreds of flat cells (before: 600
    facets on no part at h = 0.2); the repaired mesh fills the box."""
    box = pg.Box([0, 0, 0], [1, 1, 1])
    P, cells = mesh_geometry(box, 0.2, conforming=True)
    vol = _check_conforming(P, cells, box)
    assert vol == pytest.approx(1.0, rel=1e-12)


def test_facet_on_no_part_names_parts_and_tolerance():
    box = pg.Box([0, 0, 0], [1, 1, 1])
    P, cells = mesh_geometry(box, 0.25, conforming=True)
    centre = np.argmin(np.linalg.norm(P[cells].mean(axis=1) - 0.5, axis=1))
    mesh = skfem.MeshTet(P.T.copy(), np.delete(cells, centre, axis=0).T.copy())
    with pytest.raises(ValueError, match=r"(?s)4 boundary facet.*tolerance.*'x_min'.*element size"):
        fem.facet_parts(box, mesh)


# ----------------------------------------------------------------------------- 5
def test_step_lines_of_a_long_step_and_none_of_a_short_one():
    buf = io.StringIO()
    times = steps.StepTimes()
    with times.recording():
        with steps.step("long", buf, key="setup", threshold=0.05):
            time.sleep(0.02)
            with steps.step("inner", buf, key="reference", threshold=0.05):
                time.sleep(0.15)
        with steps.step("short", buf, key="training", threshold=0.05):
            pass
        with steps.step("silent", None, threshold=0.0):
            pass
    lines = buf.getvalue().splitlines()
    assert lines[0] == "long ..." and lines[1] == "inner ..."
    assert lines[2].startswith("inner: ") and lines[3].startswith("long: ")
    assert len(lines) == 4
    t = times.as_dict()
    assert list(t) == ["setup", "reference", "training", "total"]
    assert t["reference"] >= 0.15 and t["setup"] < 0.1  # the inner step's time is its own
    assert t["total"] == pytest.approx(sum(v for k, v in t.items() if k != "total"), abs=0.05)


def test_solve_prints_its_long_steps_to_the_default_stream(monkeypatch):
    monkeypatch.setattr(SOLVE, "step", lambda what, out: steps.step(what, out, threshold=0.0))
    buf = io.StringIO()
    with steps.output_to(buf):
        fem.solve(_tension(pg.Rectangle(0.0, 2.0, 0.0, 1.0)), 0.5)
    out = buf.getvalue()
    for what in ("meshing", "assembling", "solving"):
        assert f"P2 FEM: {what}" in out
    buf = io.StringIO()
    with steps.output_to(None):
        fem.solve(_tension(pg.Rectangle(0.0, 2.0, 0.0, 1.0)), 0.5)
    assert buf.getvalue() == ""


# ----------------------------------------------------------------------------- 6
class _Identified:
    """A solution whose material was identified (a stand-in for a trained one)."""

    def __init__(self, ref: fem.FEMSolution, geometry) -> None:
        self.ref, self.geometry, self.material, self.dim = ref, geometry, ref.material, 2

    def fields(self, X, check_inside=True):
        return self.ref.fields(X)


def test_fem_report_of_an_inverse_problem_uses_the_identified_material():
    """Before: the reference of ``identify_lame --fem`` used the initial guess (lam = 2,
    mu = 1) and the comparison said 1.18."""
    truth = fem.solve(plate_manufactured.build_problem(), 0.1)
    problem = identify_lame.make_problem()
    assert problem.material.lam == 2.0  # the guess
    summary, _ = fem.fem_report(
        problem, _Identified(truth, problem.geometry), np.zeros((1, 2)), h=0.1
    )
    assert summary["material"]["source"] == "identified"
    assert summary["material"]["lam"] == pytest.approx(plate_manufactured.LAM)
    assert summary["rel_l2_displacement"] < 1e-10


# ----------------------------------------------------------------------------- 7
def test_unit_box_at_the_default_size_is_refused_before_meshing(monkeypatch, limit):
    """Before: 768k tetrahedra meshed in 23.7 s, then killed at 12.8 GB."""
    box = pg.Box([0, 0, 0], [1, 1, 1])
    prob = pg.ElasticityProblem(
        box, pg.Material.from_E_nu(E, NU), [pg.Dirichlet("x_min", 0.0)], body_force=[0, 0, 1]
    )
    limit(16 * 2**30)

    def no_meshing(*a, **k):
        raise AssertionError("meshed before the memory check")

    monkeypatch.setattr(SOLVE, "fem_mesh", no_meshing)
    with pytest.raises(memory.MemoryLimitError, match=r"768,000 cells.*element size h"):
        fem.solve(prob)


def test_a_given_mesh_is_checked_before_assembly(limit):
    prob = _tension(pg.Rectangle(0.0, 2.0, 0.0, 1.0))
    mesh = fem.fem_mesh(prob.geometry, 0.05)
    limit(2e6)
    with pytest.raises(memory.MemoryLimitError, match="finite-element solve"):
        fem.solve(prob, mesh=mesh)


@pytest.mark.parametrize("d, h", [(2, 0.025), (3, 0.2)])
def test_memory_estimate_within_a_quarter_of_the_measured_peak(d, h):
    """tracemalloc sees every array of the AMG-CG solve (the direct solver's factors
    are SuperLU's own: checked against their size below)."""
    if d == 2:
        prob = _tension(pg.Rectangle(0.0, 1.0, 0.0, 1.0))
    else:
        box = pg.Box([0, 0, 0], [1, 1, 1])
        prob = pg.ElasticityProblem(
            box, pg.Material.from_E_nu(E, NU), [pg.Dirichlet("x_min", 0.0)], body_force=[0, 0, 1]
        )
    mesh = fem.fem_mesh(prob.geometry, h)
    tracemalloc.start()
    try:
        fem.solve(prob, mesh=mesh, solver="amg", out=None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    est = cost.solve_bytes(mesh.t.shape[1], d, 2, direct=False)
    assert 0.75 * peak < est < 1.25 * peak


@pytest.mark.parametrize("d, h", [(2, 0.025), (3, 0.25)])
def test_factorisation_estimate_within_a_quarter_of_superlu(d, h):
    from scipy.sparse.linalg import splu

    captured = {}
    real = SOLVE._linear_solve

    def grab(A, b, B, method, problem):
        captured["A"] = A
        return real(A, b, B, method, problem)

    geom = pg.Rectangle(0.0, 1.0, 0.0, 1.0) if d == 2 else pg.Box([0, 0, 0], [1, 1, 1])
    left = "left" if d == 2 else "x_min"
    prob = pg.ElasticityProblem(
        geom, pg.Material.from_E_nu(E, NU), [pg.Dirichlet(left, 0.0)], body_force=[0.0] * d
    )
    mp = pytest.MonkeyPatch()
    mp.setattr(SOLVE, "_linear_solve", grab)
    try:
        fem.solve(prob, h, solver="direct", out=None)
    finally:
        mp.undo()
    A = captured["A"].tocsc()
    lu = splu(A)
    fill = lu.L.nnz + lu.U.nnz
    est = cost.factorisation_bytes(A.shape[0], A.nnz, d, "direct") / cost.LU_BYTES_PER_FILL
    assert 0.75 * fill < est < 1.25 * fill


# ----------------------------------------------------------------------------- 8
def test_missing_scikit_fem_and_pyamg_name_the_extra(monkeypatch):
    prob = _tension(pg.Rectangle(0.0, 2.0, 0.0, 1.0))
    monkeypatch.setitem(sys.modules, "pyamg", None)
    with pytest.raises(fem.FEMUnavailableError, match=r"pip install 'pinngelu\[fem\]'"):
        fem.solve(prob, 0.5, solver="amg")
    monkeypatch.setitem(sys.modules, "skfem", None)
    with pytest.raises(fem.FEMUnavailableError, match=r"pip install 'pinngelu\[fem\]'"):
        fem.solve(prob, 0.5)


def test_missing_h5py_names_the_package(tmp_path, monkeypatch):
    path = tmp_path / "mesh.xdmf"
    path.write_text(
        '<?xml version="1.0"?><Xdmf Version="3.0"><Domain><Grid Name="g">'
        '<Topology TopologyType="Triangle" NumberOfElements="1">'
        '<DataItem Dimensions="1 3" Format="HDF">mesh.h5:/cells</DataItem></Topology>'
        '<Geometry GeometryType="XYZ"><DataItem Dimensions="3 3" Format="HDF">'
        "mesh.h5:/points</DataItem></Geometry></Grid></Domain></Xdmf>"
    )
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ValueError, match="needs the package 'h5py'.*pip install h5py"):
        pg.MeshDomain.from_file(path)
