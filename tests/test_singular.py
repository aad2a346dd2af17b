"""Singular points of elasticity problems (pinngelu.singular): re-entrant corners and
edges, ends of displacement conditions, on polygons, differences of analytic shapes,
2D and 3D mesh domains and the cases' problems, against hand-computed positions,
angles and sides, and the Williams exponents of their wedges."""

from __future__ import annotations

import importlib
import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import pinngelu as pg
from pinngelu.geometry.quadrature import refine_simplices
from pinngelu.singular import SingularPoint, singular_points

MAT = pg.Material.from_E_nu(210e9, 0.3)


def _rule_of_thumb(angle, sides, nu, plane_stress):
    """Stand-in for the Williams exponents where the module is missing: equal sides
    are singular beyond 180 degrees, mixed sides beyond 45 degrees."""
    limit = math.pi if sides[0] == sides[1] else 0.25 * math.pi
    return np.array([0.5 + 0j]) if angle > limit + 1e-9 else np.zeros(0, dtype=complex)


# the detection tests need some exponents; the tests of their values skip without them
EXPONENTS = None if importlib.util.find_spec("pinngelu.williams") else _rule_of_thumb


def find(problem) -> list[SingularPoint]:
    return singular_points(problem, exponents=EXPONENTS)


def problem(geom, conditions, **kw) -> pg.ElasticityProblem:
    """The problem, its rigid-body warning silenced (the unconstrained test bodies)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pg.RigidBodyWarning)
        return pg.ElasticityProblem(geom, MAT, conditions, **kw)


def case(name: str):
    return importlib.import_module(f"pinngelu.cases.{name}")


def by_position(points, x) -> SingularPoint:
    d = [np.linalg.norm(p.position - np.asarray(x, dtype=float)) for p in points]
    return points[int(np.argmin(d))]


def turn(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def check_orientation(geom, points) -> None:
    """direction_a turned counter-clockwise by the angle is direction_b, and the
    material lies inside the wedge, outside it beyond."""
    lo, hi = geom.bbox
    eps = 1e-4 * float(np.linalg.norm(np.asarray(hi) - np.asarray(lo)))
    for p in points:
        np.testing.assert_allclose(turn(p.direction_a, p.angle), p.direction_b, atol=1e-9)
        inside = [turn(p.direction_a, f * p.angle) for f in (0.25, 0.5, 0.75)]
        rest = 2 * math.pi - p.angle
        outside = [turn(p.direction_a, p.angle + f * rest) for f in (0.25, 0.5, 0.75)]
        assert np.all(geom.contains(p.position + eps * np.array(inside), tol=0.0))
        assert not np.any(geom.contains(p.position + eps * np.array(outside), tol=0.0))


# ------------------------------------------------------------------ polygons
def test_tee_bracket_corners_and_clamp_ends():
    tee = case("tee_bracket")
    pts = find(tee._problem(64, 64))
    assert len(pts) == 4
    got = np.array([p.position for p in pts])
    np.testing.assert_allclose(got, tee.SINGULAR_POINTS, rtol=0, atol=1e-12)
    for p in pts[:2]:  # the re-entrant corners first
        assert p.kind == "re-entrant corner"
        assert p.angle == pytest.approx(1.5 * math.pi, abs=1e-12)
        assert p.sides == ("free", "free") and p.parts == ("free", "free")
        assert p.edge is None
    for p, sides in zip(pts[2:], [("free", "clamped"), ("clamped", "free")], strict=True):
        assert p.kind == "end of a displacement condition"
        assert p.angle == pytest.approx(0.5 * math.pi, abs=1e-12)
        assert p.sides == sides
    # at (0, 0.2) the free left edge leaves downwards, the clamp comes in from the right
    left = by_position(pts, (0.0, 0.2))
    np.testing.assert_allclose(left.direction_a, [0.0, -1.0], atol=1e-15)
    np.testing.assert_allclose(left.direction_b, [1.0, 0.0], atol=1e-15)
    assert left.parts == ("free", "clamp")
    check_orientation(tee._problem(64, 64).geometry, pts)


def test_tee_bracket_exponents():
    pytest.importorskip("pinngelu.williams")
    from pinngelu.williams import kolosov

    pts = singular_points(case("tee_bracket")._problem(64, 64))
    for p in pts[:2]:
        np.testing.assert_allclose(p.exponents, [0.5444837, 0.9085292], atol=1e-7)
    # a clamped-free right angle, plane stress nu = 0.3: the root of
    # kappa^2 + 1 + 2 kappa cos(2 lam angle) = 4 lam^2 sin^2(angle)
    kappa = kolosov(0.3, True)
    for p in pts[2:]:
        (lam,) = p.exponents
        assert lam.imag == 0 and 0.7 < lam.real < 0.8
        assert kappa**2 + 1 + 2 * kappa * math.cos(math.pi * lam.real) == pytest.approx(
            4 * lam.real**2, abs=1e-8
        )


L_VERTICES = [(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)]


def test_l_polygon_free_but_for_a_traction_has_one_corner():
    geom = pg.Polygon(L_VERTICES, ["a", "b", "c", "d", "e", "f"])
    pts = find(problem(geom, [pg.Traction("b", [1e6, 0.0])]))
    assert len(pts) == 1
    (p,) = pts
    np.testing.assert_array_equal(p.position, [1.0, 1.0])
    assert p.angle == pytest.approx(1.5 * math.pi, abs=1e-12)
    assert p.sides == ("free", "free") and p.parts == ("d", "c")
    np.testing.assert_allclose(p.direction_a, [0.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(p.direction_b, [1.0, 0.0], atol=1e-15)
    check_orientation(geom, pts)
    # clockwise vertices: the same corner, the same orientation
    cw = pg.Polygon(L_VERTICES[::-1], ["e", "d", "c", "b", "a", "f"])
    (q,) = find(problem(cw, [pg.Traction("b", [1e6, 0.0])]))
    np.testing.assert_allclose(q.direction_a, p.direction_a, atol=1e-15)
    assert q.parts == p.parts


def test_square_free_has_none_clamped_side_has_two():
    sq = pg.Rectangle(0.0, 1.0, 0.0, 1.0)
    assert find(problem(sq, [pg.Traction("right", [1e6, 0.0])])) == []
    pts = find(problem(sq, [pg.Dirichlet("left", 0.0)]))
    assert [p.position.tolist() for p in pts] == [[0.0, 0.0], [0.0, 1.0]]
    for p in pts:
        assert p.angle == pytest.approx(0.5 * math.pi, abs=1e-12)
        assert sorted(p.sides) == ["clamped", "free"]
    assert pts[0].sides == ("free", "clamped") and pts[0].parts == ("bottom", "left")
    assert pts[1].sides == ("clamped", "free") and pts[1].parts == ("left", "top")
    check_orientation(sq, pts)
    # clamped on two adjacent sides: their common corner is clamped-clamped, convex
    pts = find(problem(sq, [pg.Dirichlet("left", 0.0), pg.Dirichlet("bottom", 0.0)]))
    assert sorted(p.position.tolist() for p in pts) == [[0.0, 1.0], [1.0, 0.0]]


HALF = pg.Polygon(
    [(0, 0), (0.5, 0), (1, 0), (1, 0.5), (0, 0.5)], ["clamp", "bottom", "right", "top", "left"]
)


def test_clamp_on_half_an_edge_ends_inside_the_edge():
    pts = find(problem(HALF, [pg.Dirichlet("clamp", 0.0)]))
    inner = by_position(pts, (0.5, 0.0))
    np.testing.assert_array_equal(inner.position, [0.5, 0.0])
    assert inner.angle == pytest.approx(math.pi, abs=1e-12)
    assert inner.sides == ("free", "clamped") and inner.parts == ("bottom", "clamp")
    assert inner.kind == "end of a displacement condition"
    corner = by_position(pts, (0.0, 0.0))
    np.testing.assert_array_equal(corner.position, [0.0, 0.0])
    assert corner.angle == pytest.approx(0.5 * math.pi, abs=1e-12)
    assert len(pts) == 2
    check_orientation(HALF, pts)


def test_clamp_end_on_a_straight_edge_has_the_oscillating_exponent():
    pytest.importorskip("pinngelu.williams")
    pts = singular_points(problem(HALF, [pg.Dirichlet("clamp", 0.0)]))  # plane strain
    kappa = 3.0 - 4.0 * 0.3
    (lam,) = by_position(pts, (0.5, 0.0)).exponents
    assert lam.real == pytest.approx(0.5, abs=1e-9)
    assert abs(lam.imag) == pytest.approx(math.log(kappa) / (2 * math.pi), abs=1e-9)


def test_predicate_clamp_ends_are_found_inside_the_edges():
    geom = pg.Rectangle(0.0, 2.0, 0.0, 1.0)
    pts = find(problem(geom, [pg.Dirichlet(lambda X: X[:, 0] < 0.7, 0.0)]))
    assert len(pts) == 2  # the clamped corners (0, 0), (0, 1) are clamped-clamped
    np.testing.assert_allclose([p.position for p in pts], [[0.7, 0.0], [0.7, 1.0]], atol=1e-12)
    for p in pts:
        assert p.angle == pytest.approx(math.pi, abs=1e-12)
    assert pts[0].sides == ("free", "clamped") and pts[1].sides == ("clamped", "free")
    check_orientation(geom, pts)


def test_symmetry_and_partial_displacements_are_not_attributed():
    geom = pg.Polygon(L_VERTICES, ["a", "b", "c", "d", "e", "f"])
    # symmetry on the left, a roller (u_y = 0) on the bottom: only the free corner
    conds = [pg.Symmetry("f"), pg.Dirichlet("a", 0.0, components=(1,)), pg.Traction("b", 1e6)]
    pts = find(problem(geom, conds))
    assert [p.position.tolist() for p in pts] == [[1.0, 1.0]]
    # the same sides clamped: their ends are singular
    conds = [pg.Dirichlet("f", 0.0), pg.Dirichlet("a", 0.0), pg.Traction("b", 1e6)]
    pts = find(problem(geom, conds))
    assert sorted(p.position.tolist() for p in pts) == [[0.0, 2.0], [1.0, 1.0], [2.0, 0.0]]
    # two Dirichlet conditions fixing both components between them clamp the side
    conds = [pg.Dirichlet("f", 0.0, components=(0,)), pg.Dirichlet("f", 0.0, components=(1,))]
    pts = find(problem(geom, conds + [pg.Traction("b", 1e6)]))
    assert {p.sides for p in pts if p.kind != "re-entrant corner"} == {
        ("clamped", "free"),
        ("free", "clamped"),
    }


# ------------------------------------------------------------------ CSG
def test_rectangle_minus_rectangle_notch():
    rename = {s: "notch_" + s for s in ("left", "right", "bottom", "top")}
    geom = pg.Difference(pg.Rectangle(0, 2, 0, 1), pg.Rectangle(0.8, 1.2, 0.5, 1.5), rename)
    pts = find(problem(geom, [pg.Traction("right", [1e6, 0.0])]))
    assert len(pts) == 2
    np.testing.assert_allclose([p.position for p in pts], [[0.8, 0.5], [1.2, 0.5]], atol=1e-12)
    for p in pts:
        assert p.kind == "re-entrant corner"
        assert p.angle == pytest.approx(1.5 * math.pi, abs=1e-9)
        assert p.sides == ("free", "free")
    assert pts[0].parts == ("notch_left", "notch_bottom")
    assert pts[1].parts == ("notch_bottom", "notch_right")
    check_orientation(geom, pts)


def test_circular_cut_meeting_an_edge_uses_the_arc_tangent():
    c, r = 0.2, 0.3  # the disk's centre lies c above the top edge
    cut = pg.Difference(pg.Rectangle(0, 2, 0, 1), pg.Disk((1.0, 1.0 + c), r), {"boundary": "cut"})
    x = math.sqrt(r * r - c * c)
    # free everywhere: the arc meets the edge at a convex angle, nothing is singular
    assert find(problem(cut, [pg.Traction("right", [1e6, 0.0])])) == []
    # the cut clamped: its ends, at 90 + asin(c / r) degrees
    pts = find(problem(cut, [pg.Dirichlet("cut", 0.0), pg.Traction("right", [1e6, 0.0])]))
    assert len(pts) == 2
    np.testing.assert_allclose(
        [p.position for p in pts], [[1 - x, 1.0], [1 + x, 1.0]], rtol=0, atol=1e-12
    )
    for p in pts:
        assert p.angle == pytest.approx(0.5 * math.pi + math.asin(c / r), abs=1e-9)
    left, right = pts
    assert left.sides == ("free", "clamped") and left.parts == ("top", "cut")
    np.testing.assert_allclose(left.direction_a, [-1.0, 0.0], atol=1e-12)
    radius = left.position - np.array([1.0, 1.0 + c])
    assert abs(left.direction_b @ radius) < 1e-9  # tangent to the circle
    assert left.direction_b[1] < 0
    assert right.sides == ("clamped", "free") and right.parts == ("cut", "top")
    check_orientation(cut, pts)


def test_disk_centred_on_an_edge_meets_it_at_right_angles():
    cut = pg.Difference(pg.Rectangle(0, 2, 0, 1), pg.Disk((1.0, 1.0), 0.3), {"boundary": "cut"})
    pts = find(problem(cut, [pg.Dirichlet("cut", 0.0), pg.Traction("right", [1e6, 0.0])]))
    np.testing.assert_allclose([p.position for p in pts], [[0.7, 1.0], [1.3, 1.0]], atol=1e-12)
    for p in pts:
        assert p.angle == pytest.approx(0.5 * math.pi, abs=1e-9)
        arc = p.direction_a if p.parts[0] == "cut" else p.direction_b
        np.testing.assert_allclose(arc, [0.0, -1.0], atol=1e-9)  # straight down


@pytest.mark.parametrize(
    ("name", "constant"), [("plate_with_holes", "CLAMP_CORNERS"), ("clamped_beam", "CLAMP_CORNERS")]
)
def test_cases_with_a_clamped_end(name, constant):
    """The cases list their singular points as CLAMP_CORNERS (no SINGULAR_POINTS):
    the clamp's two corners; the holes of plate_with_holes are smooth and free."""
    mod = case(name)
    pts = find(mod._problem(64, 64))
    np.testing.assert_allclose(
        [p.position for p in pts], getattr(mod, constant), rtol=0, atol=1e-12
    )
    for p in pts:
        assert p.angle == pytest.approx(0.5 * math.pi, abs=1e-12)
        assert sorted(p.sides) == ["clamped", "free"] and "left" in p.parts


# ------------------------------------------------------------------ 2D meshes
def boundary_edges(cells: np.ndarray) -> np.ndarray:
    E = np.sort(np.concatenate([cells[:, [0, 1]], cells[:, [1, 2]], cells[:, [2, 0]]]), axis=1)
    u, c = np.unique(E, axis=0, return_counts=True)
    return u[c == 1]


def mesh_l_with_hole(refine: int = 0) -> pg.MeshDomain:
    """The L-shape minus a disk of radius 0.25 about (0.5, 0.5), meshed at h = 0.1:
    the hole is a 16-gon (22.5 degrees per vertex); ``refine`` uniform refinements
    split its sides (straight) into more facets."""
    geom = pg.Difference(pg.Polygon(L_VERTICES), pg.Disk((0.5, 0.5), 0.25))
    P, C = geom.mesh(0.1)
    for _ in range(refine):
        P, C = refine_simplices(P, C)
    E = boundary_edges(C)
    mid = P[E].mean(axis=1)
    hole = np.hypot(mid[:, 0] - 0.5, mid[:, 1] - 0.5) < 0.3
    return pg.MeshDomain(P, C, {"hole": E[hole], "clamp": E[np.isclose(mid[:, 0], 0.0)]})


@pytest.mark.parametrize("refine", [0, 1])
def test_mesh_domain_l_shape(refine):
    dom = mesh_l_with_hole(refine)
    pts = find(problem(dom, [pg.Dirichlet("clamp", 0.0)]))
    assert [p.position.tolist() for p in pts] == [[1.0, 1.0], [0.0, 0.0], [0.0, 2.0]]
    corner = pts[0]
    assert corner.kind == "re-entrant corner"
    assert corner.angle == pytest.approx(1.5 * math.pi, abs=1e-12)
    assert corner.sides == ("free", "free") and corner.parts == ("boundary", "boundary")
    assert pts[1].sides == ("free", "clamped") and pts[2].sides == ("clamped", "free")
    check_orientation(dom, pts)
    # the hole's vertices turn by 22.5 degrees: facets of a curved boundary
    E = boundary_edges(dom.cells)
    hole = E[np.hypot(*(dom.points[E].mean(axis=1) - 0.5).T) < 0.3]
    assert len(np.unique(hole)) >= 16
    pts = find(problem(dom, [pg.Dirichlet("hole", 0.0)]))
    assert [p.position.tolist() for p in pts] == [[1.0, 1.0]]


def test_mesh_domain_polygonal_notch_is_a_corner():
    """A 45-degree re-entrant vertex between straight runs of facets is a corner."""
    geom = pg.Polygon([(0, 0), (2, 0), (2, 1), (1, 0.6), (0, 1)])
    P, C = geom.mesh(0.1)
    dom = pg.MeshDomain(P, C)
    pts = find(problem(dom, [pg.Traction("boundary", 0.0)]))
    (p,) = pts
    np.testing.assert_allclose(p.position, [1.0, 0.6], atol=1e-12)
    expected = math.pi + 2 * math.atan(0.4)
    # angles read off a mesh are rounded to whole degrees
    assert abs(p.angle - expected) <= 0.5 * math.radians(1.0) + 1e-12
    assert math.degrees(p.angle) == pytest.approx(round(math.degrees(p.angle)), abs=1e-9)


# ------------------------------------------------------------------ 3D
BOX_PARTS = ("x_min", "x_max", "y_min", "y_max", "z_min", "z_max")


@pytest.mark.parametrize("corner", [(1.0, 1.0), (1.05, 0.93)])
def test_box_minus_box_has_its_re_entrant_edge(corner):
    cx, cy = corner
    cut = pg.Box([cx, cy, -0.37], [3.0, 3.0, 1.5])
    geom = pg.Difference(pg.Box([0, 0, 0], [2, 2, 1]), cut, {s: "cut_" + s for s in BOX_PARTS})
    pts = find(problem(geom, [pg.Traction("x_max", [0.0, 1e6, 0.0])]))
    assert len(pts) == 1
    (p,) = pts
    assert p.kind == "re-entrant edge" and p.dim == 3
    np.testing.assert_allclose(p.edge, [[cx, cy, 0.0], [cx, cy, 1.0]], rtol=0, atol=1e-9)
    np.testing.assert_allclose(p.position, [cx, cy, 0.5], atol=1e-9)
    assert p.angle == pytest.approx(1.5 * math.pi, abs=1e-9)
    assert p.sides == ("free", "free") and p.parts == ("cut_x_min", "cut_y_min")
    # about +z, from the face x = cx (into +y) counter-clockwise through the material
    np.testing.assert_allclose(p.direction_a, [0.0, 1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(p.direction_b, [1.0, 0.0, 0.0], atol=1e-9)


def kuhn_grid(n, lo, hi):
    """Tetrahedra (six per cube, conforming) of a structured grid of a box."""
    ax = [np.linspace(lo[i], hi[i], n[i] + 1) for i in range(3)]
    P = np.stack(np.meshgrid(*ax, indexing="ij"), axis=-1).reshape(-1, 3)
    i, j, k = (a.ravel() for a in np.meshgrid(*[np.arange(m) for m in n], indexing="ij"))

    def idx(a, b, c):
        return (a * (n[1] + 1) + b) * (n[2] + 1) + c

    H = np.stack(
        [
            idx(i, j, k),
            idx(i + 1, j, k),
            idx(i + 1, j + 1, k),
            idx(i, j + 1, k),
            idx(i, j, k + 1),
            idx(i + 1, j, k + 1),
            idx(i + 1, j + 1, k + 1),
            idx(i, j + 1, k + 1),
        ],
        axis=1,
    )
    kuhn = [[0, 1, 2, 6], [0, 2, 3, 6], [0, 3, 7, 6], [0, 7, 4, 6], [0, 4, 5, 6], [0, 5, 1, 6]]
    return P, H[:, kuhn].reshape(-1, 4)


def test_mesh_domain_l_prism_and_a_predicate_clamp():
    P, T = kuhn_grid((8, 8, 3), (0, 0, 0), (2, 2, 1))
    c = P[T].mean(axis=1)
    dom = pg.MeshDomain(P, T[~((c[:, 0] > 1) & (c[:, 1] > 1))])
    pts = find(problem(dom, [pg.Traction("boundary", 0.0)]))
    (p,) = pts
    np.testing.assert_array_equal(p.edge, [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    assert p.angle == pytest.approx(1.5 * math.pi, abs=1e-12)
    np.testing.assert_allclose(p.direction_a, [0.0, 1.0, 0.0], atol=1e-12)
    # clamping the face x = 0 through a predicate adds the four edges of its rim
    pts = find(problem(dom, [pg.Dirichlet(lambda X: X[:, 0] < 1e-9, 0.0)]))
    assert len(pts) == 5
    rims = sorted(p.edge.tolist() for p in pts if p.kind == "end of a displacement condition")
    assert rims == [
        [[0, 0, 0], [0, 0, 1]],
        [[0, 0, 0], [0, 2, 0]],
        [[0, 0, 1], [0, 2, 1]],
        [[0, 2, 0], [0, 2, 1]],
    ]
    for p in pts[1:]:
        assert p.angle == pytest.approx(0.5 * math.pi, abs=1e-12)
        assert sorted(p.sides) == ["clamped", "free"]


def test_block_with_bore_clamp_rim_only():
    """block_with_bore.geo: a box with a bore along z, clamped on x = 0, loaded on
    x = 0.3.  Singular: the four edges of the clamped face (clamped meets free at 90
    degrees).  Not singular: the bore (its facets turn by up to 45 degrees: a faceted
    cylinder), its rims and the edges of the loaded face (convex, free-free)."""
    mod = case("block_with_bore")
    assert Path(mod.MESH_FILE).with_suffix(".geo").exists()
    pts = find(mod._problem(64, 64))
    assert len(pts) == 4
    edges = sorted(np.round(p.edge, 12).tolist() for p in pts)
    assert edges == [
        [[0, 0, 0], [0, 0, 0.1]],
        [[0, 0, 0], [0, 0.1, 0]],
        [[0, 0, 0.1], [0, 0.1, 0.1]],
        [[0, 0.1, 0], [0, 0.1, 0.1]],
    ]
    for p in pts:
        assert p.kind == "end of a displacement condition"
        assert p.angle == pytest.approx(0.5 * math.pi, abs=1e-9)
        assert set(p.parts) == {"clamp", "free"}
        t = p.edge[1] - p.edge[0]
        t /= np.linalg.norm(t)
        for d in (p.direction_a, p.direction_b):
            assert abs(d @ t) < 1e-12 and np.linalg.norm(d) == pytest.approx(1.0)
        # turning direction_a about the edge by the angle gives direction_b
        rot = math.cos(p.angle) * p.direction_a + math.sin(p.angle) * np.cross(t, p.direction_a)
        np.testing.assert_allclose(rot, p.direction_b, atol=1e-9)


def test_exponents_of_3d_edges_are_the_plane_strain_ones():
    pytest.importorskip("pinngelu.williams")
    from pinngelu.williams import exponents

    pts = singular_points(case("block_with_bore")._problem(64, 64))
    for p in pts:
        np.testing.assert_allclose(
            p.exponents, exponents(0.5 * math.pi, p.sides, 0.3, False), atol=1e-12
        )


def test_repr_is_one_readable_line():
    (p,) = find(problem(pg.Polygon(L_VERTICES), [pg.Traction("edge1", 1e6)]))
    text = repr(p)
    assert "\n" not in text and str(p) == text
    assert "re-entrant corner at (1, 1)" in text and "270 deg" in text
    assert "free-free" in text and "exponents [" in text
    if EXPONENTS is None:
        assert "0.5445, 0.9085" in text
    mod = case("block_with_bore")
    q = find(mod._problem(64, 64))[0]
    assert "(0, 0, 0)-(0, 0, 0.1)" in repr(q) and "90 deg" in repr(q)
