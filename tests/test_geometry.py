"""Tests for the collocation geometries in :mod:`pinngelu.geometry`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pinngelu.geometry import (
    AnnularSector,
    Annulus,
    BoundarySample,
    Box,
    Difference,
    Disk,
    Geometry,
    Polygon,
    Rectangle,
    SphericalShellOctant,
)

L_SHAPE = [[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [1.0, 1.0], [1.0, 2.0], [0.0, 2.0]]
R_HOLE = 0.3


def quarter_plate() -> Difference:
    return Difference(Rectangle(0.0, 1.0, 0.0, 1.0), Disk((0.0, 0.0), R_HOLE), {"boundary": "hole"})


def box_minus_corner() -> Difference:
    inner = Box([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    return Difference(
        Box([0.0, 0.0, 0.0], [2.0, 2.0, 2.0]), inner, {s: "c_" + s for s in inner.boundary_parts}
    )


SHAPES = {
    "rectangle": lambda: Rectangle(-1.0, 2.0, 0.5, 1.5),
    "box": lambda: Box([0.0, -1.0, 0.0], [1.0, 1.0, 0.5]),
    "disk": lambda: Disk((1.0, -2.0), 0.7),
    "annulus": lambda: Annulus((0.5, 0.5), 0.4, 1.2),
    "quarter_ring": lambda: AnnularSector((0.0, 0.0), 1.0, 2.0, 0.0, math.pi / 2),
    "wide_sector": lambda: AnnularSector((1.0, 0.0), 0.5, 1.0, -0.5, 4.0),
    "l_polygon": lambda: Polygon(L_SHAPE),
    "cw_polygon": lambda: Polygon(L_SHAPE[::-1]),
    "shell_octant": lambda: SphericalShellOctant(1.0, 2.0),
    "quarter_plate": quarter_plate,
    "box_minus_corner": box_minus_corner,
}


@pytest.fixture(params=sorted(SHAPES))
def shape(request: pytest.FixtureRequest) -> Geometry:
    return SHAPES[request.param]()


@pytest.fixture(params=["uniform", "sobol"])
def method(request: pytest.FixtureRequest) -> str:
    return request.param


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------------
# generic properties, every shape and method
# --------------------------------------------------------------------------------------------


def test_interior_samples_inside_exact_count(shape: Geometry, method: str) -> None:
    for n in (0, 1, 7, 1000):
        X = shape.sample_interior(n, rng(n), method=method)
        assert X.shape == (n, shape.dim)
        assert X.dtype == np.float64
        assert shape.contains(X).all()
    lo, hi = shape.bbox
    assert np.all(X >= lo - 1e-12) and np.all(X <= hi + 1e-12)


def test_boundary_samples_inside_with_outward_unit_normals(shape: Geometry, method: str) -> None:
    bs = shape.sample_boundary(2000, rng(1), method=method)
    assert isinstance(bs, BoundarySample)
    assert bs.points.shape == bs.normals.shape == (2000, shape.dim)
    assert bs.part.shape == (2000,)
    assert bs.names == shape.boundary_parts
    assert shape.contains(bs.points).all()
    np.testing.assert_allclose(np.linalg.norm(bs.normals, axis=1), 1.0, atol=1e-12)
    eps = 1e-7
    assert not shape.contains(bs.points + eps * bs.normals, tol=0.0).any()
    assert shape.contains(bs.points - eps * bs.normals, tol=0.0).all()


def test_part_counts_proportional_to_measure(shape: Geometry, method: str) -> None:
    n = 3001
    bs = shape.sample_boundary(n, rng(2), method=method)
    meas = np.array([shape.part_measure(p) for p in shape.boundary_parts])
    expected = n * meas / meas.sum()
    counts = np.array([bs.counts()[p] for p in shape.boundary_parts])
    assert counts.sum() == n
    assert np.all(np.abs(counts - expected) <= 1.0)


def test_same_seed_same_samples(shape: Geometry, method: str) -> None:
    a = shape.sample_interior(300, rng(5), method=method)
    b = shape.sample_interior(300, rng(5), method=method)
    c = shape.sample_interior(300, rng(6), method=method)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    ba = shape.sample_boundary(300, rng(5), method=method)
    bb = shape.sample_boundary(300, rng(5), method=method)
    np.testing.assert_array_equal(ba.points, bb.points)
    np.testing.assert_array_equal(ba.normals, bb.normals)
    np.testing.assert_array_equal(ba.part, bb.part)


def test_mesh_measure_and_cells_inside(shape: Geometry) -> None:
    h = 0.1 if shape.dim == 2 else 0.2
    points, cells = shape.mesh(h)
    d = shape.dim
    assert points.shape[1] == d and cells.shape[1] == d + 1
    assert cells.min() == 0 and cells.max() == points.shape[0] - 1
    assert np.unique(cells).size == points.shape[0]
    edges = np.stack([points[cells[:, i]] - points[cells[:, 0]] for i in range(1, d + 1)], 1)
    vol = np.linalg.det(edges) / math.factorial(d)
    assert np.all(vol > 0.0)
    assert shape.contains(points[cells].mean(axis=1)).all()
    assert shape.contains(points, tol=1e-9).all()
    assert vol.sum() == pytest.approx(shape.measure, rel=0.02)


def test_unknown_part_name_lists_valid_names(shape: Geometry) -> None:
    valid = shape.boundary_parts
    with pytest.raises(ValueError, match="unknown boundary part 'nope'") as info:
        shape.sample_boundary(10, rng(), parts="nope")
    for name in valid:
        assert name in str(info.value)
    with pytest.raises(ValueError, match=valid[0]):
        shape.part_measure("nope")
    with pytest.raises(ValueError, match="valid parts"):
        shape.sample_boundary(10, rng(), parts=[valid[0], "nope"])


# --------------------------------------------------------------------------------------------
# measures, centroids and part geometry
# --------------------------------------------------------------------------------------------


def test_measures_closed_form() -> None:
    assert Rectangle(0, 2, 0, 3).measure == pytest.approx(6.0)
    assert Box([0, 0, 0], [1, 2, 3]).measure == pytest.approx(6.0)
    assert Disk((0, 0), 2.0).measure == pytest.approx(4 * math.pi)
    assert Annulus((0, 0), 1.0, 2.0).measure == pytest.approx(3 * math.pi)
    qr = AnnularSector((0, 0), 1.0, 2.0, 0.0, math.pi / 2)
    assert qr.measure == pytest.approx(0.75 * math.pi)
    assert qr.part_measure("inner") == pytest.approx(math.pi / 2)
    assert qr.part_measure("outer") == pytest.approx(math.pi)
    assert qr.part_measure("start") == pytest.approx(1.0)
    assert Polygon(L_SHAPE).measure == pytest.approx(3.0)
    assert Polygon(L_SHAPE[::-1]).measure == pytest.approx(3.0)
    sh = SphericalShellOctant(1.0, 2.0)
    assert sh.measure == pytest.approx(7 * math.pi / 6)
    assert sh.part_measure("outer") == pytest.approx(2 * math.pi)
    assert sh.part_measure("x0") == pytest.approx(0.75 * math.pi)


def test_quarter_plate_with_hole_measures_and_normals() -> None:
    plate = quarter_plate()
    assert plate.boundary_parts == ("left", "right", "bottom", "top", "hole")
    assert plate.measure == pytest.approx(1.0 - math.pi * R_HOLE**2 / 4, rel=1e-8)
    assert plate.part_measure("hole") == pytest.approx(math.pi * R_HOLE / 2, rel=1e-8)
    assert plate.part_measure("left") == pytest.approx(1.0 - R_HOLE, rel=1e-8)
    assert plate.part_measure("top") == pytest.approx(1.0, rel=1e-8)
    for method in ("uniform", "sobol"):
        hole = plate.sample_boundary(500, rng(3), parts="hole", method=method)
        assert len(hole) == 500 and set(hole.counts().values()) == {0, 500}
        r = np.linalg.norm(hole.points, axis=1)
        np.testing.assert_allclose(r, R_HOLE, atol=1e-12)
        assert np.all(hole.points >= -1e-12)
        np.testing.assert_allclose(hole.normals, -hole.points / r[:, None], atol=1e-12)
        left = plate.sample_boundary(500, rng(4), parts="left", method=method)
        np.testing.assert_allclose(left.points[:, 0], 0.0, atol=0)
        assert left.points[:, 1].min() >= R_HOLE - 1e-12
        np.testing.assert_allclose(left.normals, np.tile([-1.0, 0.0], (500, 1)))


def test_sub_operator_builds_difference() -> None:
    plate = Rectangle(0, 1, 0, 1) - Disk((0.0, 0.0), R_HOLE)
    assert isinstance(plate, Difference)
    assert plate.boundary_parts[-1] == "boundary"
    X = np.array([[0.1, 0.1], [0.5, 0.5], [R_HOLE, 0.0], [1.2, 0.5]])
    np.testing.assert_array_equal(plate.contains(X), [False, True, True, False])


def test_difference_3d_exact_box_parts() -> None:
    d = box_minus_corner()
    assert d.measure == pytest.approx(7.0, rel=1e-3)
    assert d.part_measure("x_min") == pytest.approx(3.0, rel=1e-3)
    assert d.part_measure("x_max") == pytest.approx(4.0, rel=1e-3)
    assert d.part_measure("c_x_max") == pytest.approx(1.0, rel=1e-3)
    assert "c_x_min" not in d.boundary_parts
    bs = d.sample_boundary(300, rng(), parts="c_y_max")
    np.testing.assert_allclose(bs.points[:, 1], 1.0)
    np.testing.assert_allclose(bs.normals, np.tile([0.0, -1.0, 0.0], (300, 1)))


def test_boundary_points_lie_on_named_parts() -> None:
    qr = AnnularSector((0.0, 0.0), 1.0, 2.0, 0.0, math.pi / 2)
    bs = qr.sample_boundary(2000, rng(7))
    r = np.linalg.norm(bs.points, axis=1)
    th = np.arctan2(bs.points[:, 1], bs.points[:, 0])
    inner, outer = bs.select("inner"), bs.select("outer")
    np.testing.assert_allclose(np.linalg.norm(inner.points, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(outer.points, axis=1), 2.0, atol=1e-12)
    np.testing.assert_allclose(inner.normals, -inner.points, atol=1e-12)
    np.testing.assert_allclose(outer.normals, outer.points / 2.0, atol=1e-12)
    start, end = bs.select("start"), bs.select("end")
    np.testing.assert_allclose(start.points[:, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose(start.normals, np.tile([0.0, -1.0], (len(start), 1)), atol=1e-12)
    np.testing.assert_allclose(end.points[:, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(end.normals, np.tile([-1.0, 0.0], (len(end), 1)), atol=1e-12)
    assert np.all((r >= 1 - 1e-12) & (r <= 2 + 1e-12))
    assert np.all((th >= -1e-12) & (th <= math.pi / 2 + 1e-12))
    # uniform along the outer arc: mean angle pi/4
    th_out = np.arctan2(outer.points[:, 1], outer.points[:, 0])
    assert th_out.mean() == pytest.approx(math.pi / 4, abs=0.05)

    ann = Annulus((1.0, 2.0), 0.5, 1.5)
    bs = ann.sample_boundary(400, rng(8), parts=["inner"])
    rel = bs.points - ann.center
    np.testing.assert_allclose(np.linalg.norm(rel, axis=1), 0.5, atol=1e-12)
    np.testing.assert_allclose(bs.normals, -rel / 0.5, atol=1e-12)

    rect = Rectangle(-1.0, 2.0, 0.5, 1.5)
    bs = rect.sample_boundary(400, rng(9))
    coord = {"left": (0, -1.0), "right": (0, 2.0), "bottom": (1, 0.5), "top": (1, 1.5)}
    for name, (axis, value) in coord.items():
        sel = bs.select(name)
        assert len(sel) > 0
        np.testing.assert_allclose(sel.points[:, axis], value)
        assert np.all(sel.normals[:, axis] * (1 if name in ("right", "top") else -1) == 1.0)

    box = Box([0.0, 0.0, 0.0], [1.0, 2.0, 3.0])
    bs = box.sample_boundary(600, rng(10))
    for k, name in enumerate(box.boundary_parts):
        sel = bs.select(name)
        axis, side = divmod(k, 2)
        np.testing.assert_allclose(sel.points[:, axis], (box.hi if side else box.lo)[axis])
        assert np.all(sel.normals[:, axis] == (1.0 if side else -1.0))


def test_shell_octant_parts() -> None:
    sh = SphericalShellOctant(1.0, 2.0)
    for method in ("uniform", "sobol"):
        bs = sh.sample_boundary(6000, rng(11), method=method)
        inner, outer = bs.select("inner"), bs.select("outer")
        np.testing.assert_allclose(np.linalg.norm(inner.points, axis=1), 1.0, atol=1e-12)
        np.testing.assert_allclose(inner.normals, -inner.points, atol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(outer.points, axis=1), 2.0, atol=1e-12)
        # area-uniform on the sphere octant: centroid at (r/2, r/2, r/2)
        np.testing.assert_allclose(outer.points.mean(axis=0), 1.0, atol=0.05)
        for axis, name in enumerate(("x0", "y0", "z0")):
            face = bs.select(name)
            np.testing.assert_allclose(face.points[:, axis], 0.0, atol=0)
            expected = np.zeros(3)
            expected[axis] = -1.0
            np.testing.assert_allclose(face.normals, np.tile(expected, (len(face), 1)))
            rho = np.linalg.norm(face.points, axis=1)
            assert np.all((rho >= 1 - 1e-12) & (rho <= 2 + 1e-12))
            # area-uniform on the quarter annulus: E[rho] = 2/3 (ro^3 - ri^3) / (ro^2 - ri^2)
            assert rho.mean() == pytest.approx(14 / 9, abs=0.03)
            assert np.all(face.points >= 0.0)


def l_centroid() -> np.ndarray:
    # L-shape = [0,2]x[0,1] (area 2, centroid (1, 0.5)) + [0,1]x[1,2] (area 1, (0.5, 1.5))
    return (2 * np.array([1.0, 0.5]) + np.array([0.5, 1.5])) / 3


CENTROIDS = {
    "rectangle": np.array([0.5, 1.0]),
    "box": np.array([0.5, 0.0, 0.25]),
    "disk": np.array([1.0, -2.0]),
    "annulus": np.array([0.5, 0.5]),
    "quarter_ring": np.full(2, 4 / (3 * math.pi) * (8 - 1) / (4 - 1)),
    "l_polygon": l_centroid(),
    "shell_octant": np.full(3, 3 / 8 * (16 - 1) / (8 - 1)),
    "quarter_plate": np.full(2, (0.5 - R_HOLE**3 / 3) / (1 - math.pi * R_HOLE**2 / 4)),
    "box_minus_corner": np.full(3, (8 * 1.0 - 1 * 0.5) / 7),
}


@pytest.mark.parametrize("name", sorted(CENTROIDS))
def test_interior_mean_matches_centroid(name: str, method: str) -> None:
    geo = SHAPES[name]()
    n = 8192
    X = geo.sample_interior(n, rng(12), method=method)
    # uniform: 5 standard errors of the mean; Sobol': much tighter
    tol = 5.0 * X.std(axis=0) / math.sqrt(n) if method == "uniform" else 0.003
    assert np.all(np.abs(X.mean(axis=0) - CENTROIDS[name]) < tol)


def test_polygon_orientation_and_shared_names() -> None:
    sq = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    for verts in (sq, sq[::-1]):
        poly = Polygon(verts)
        assert poly.boundary_parts == ("edge0", "edge1", "edge2", "edge3")
        bs = poly.sample_boundary(400, rng(13))
        centre_dir = bs.points - 0.5
        assert np.all(np.sum(bs.normals * centre_dir, axis=1) > 0)
    poly = Polygon(sq, part_names=["bottom", "side", "top", "side"])
    assert poly.boundary_parts == ("bottom", "side", "top")
    assert poly.part_measure("side") == pytest.approx(2.0)
    side = poly.sample_boundary(1000, rng(14), parts="side")
    assert np.all(np.isclose(side.points[:, 0], 0.0) | np.isclose(side.points[:, 0], 1.0))
    assert abs(np.mean(side.points[:, 0] > 0.5) - 0.5) < 0.06
    bs = poly.sample_boundary(1000, rng(15))
    assert bs.counts() == {"bottom": 250, "side": 500, "top": 250}


# --------------------------------------------------------------------------------------------
# predicates and selections
# --------------------------------------------------------------------------------------------


def test_predicate_selection(method: str) -> None:
    plate = quarter_plate()

    def pred(X: np.ndarray) -> np.ndarray:
        return X[:, 0] < 0.5

    bs = plate.sample_boundary(777, rng(16), parts=pred, method=method)
    assert len(bs) == 777
    assert np.all(bs.points[:, 0] < 0.5)
    assert plate.contains(bs.points).all()
    counts = bs.counts()
    assert counts["right"] == 0
    # selected measures: left 0.7, bottom 0.2, top 0.5, hole: the whole quarter arc
    meas = {"left": 0.7, "bottom": 0.2, "top": 0.5, "hole": math.pi * R_HOLE / 2}
    total = sum(meas.values())
    for name, m in meas.items():
        assert counts[name] / 777 == pytest.approx(m / total, abs=0.06)
    sub = bs.select(lambda X: X[:, 1] > 0.99)
    assert np.all(sub.points[:, 1] > 0.99)
    assert len(sub) == int(np.sum(bs.points[:, 1] > 0.99)) >= counts["top"] > 0
    assert len(bs.select(["left", "hole"])) == counts["left"] + counts["hole"]
    with pytest.raises(ValueError, match="valid parts"):
        bs.select("nope")


def test_predicate_rejecting_everything_raises() -> None:
    with pytest.raises(ValueError, match="predicate"):
        Disk((0, 0), 1.0).sample_boundary(5, rng(), parts=lambda X: X[:, 0] > 2.0)
    with pytest.raises(ValueError, match="shape"):
        Disk((0, 0), 1.0).sample_boundary(5, rng(), parts=lambda X: True)


def test_sobol_is_more_uniform_than_random() -> None:
    qr = AnnularSector((0.0, 0.0), 1.0, 2.0, 0.0, math.pi / 2)
    target = CENTROIDS["quarter_ring"]
    errs = [
        np.abs(qr.sample_interior(1024, rng(s), method="sobol").mean(0) - target).max()
        for s in range(5)
    ]
    assert max(errs) < 2e-3


# --------------------------------------------------------------------------------------------
# meshes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "geo",
    [Rectangle(0, 2, 0, 1), Polygon(L_SHAPE), Polygon(L_SHAPE[::-1]), Box([0, 0, 0], [1, 2, 1])],
    ids=["rectangle", "l_polygon", "cw_polygon", "box"],
)
def test_mesh_exact_for_polygonal_domains(geo: Geometry) -> None:
    points, cells = geo.mesh(0.15)
    d = geo.dim
    edges = np.stack([points[cells[:, i]] - points[cells[:, 0]] for i in range(1, d + 1)], 1)
    vol = np.linalg.det(edges) / math.factorial(d)
    assert vol.sum() == pytest.approx(geo.measure, rel=1e-12)


def test_mesh_respects_hole() -> None:
    plate = quarter_plate()
    points, cells = plate.mesh(0.05)
    centroids = points[cells].mean(axis=1)
    assert np.all(np.linalg.norm(centroids, axis=1) > R_HOLE)
    assert np.all(np.linalg.norm(points, axis=1) > R_HOLE - 1e-9)
    edges = np.stack([points[cells[:, i]] - points[cells[:, 0]] for i in (1, 2)], 1)
    area = np.linalg.det(edges).sum() / 2
    assert area == pytest.approx(plate.measure, rel=5e-3)
    # the hole arc end points are mesh vertices (the mesh is sharp at the corners)
    for corner in ([R_HOLE, 0.0], [0.0, R_HOLE], [1.0, 1.0]):
        assert np.min(np.linalg.norm(points - corner, axis=1)) < 1e-9

    ann = Annulus((0.0, 0.0), 1.0, 2.0)
    points, cells = ann.mesh(0.1)
    assert np.all(np.linalg.norm(points[cells].mean(axis=1), axis=1) > 1.0)


# --------------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------------


def test_invalid_construction() -> None:
    with pytest.raises(ValueError, match="radius"):
        Disk((0, 0), 0.0)
    with pytest.raises(ValueError, match="radius"):
        Disk((0, 0), -1.0)
    with pytest.raises(ValueError, match="r_inner < r_outer"):
        Annulus((0, 0), 2.0, 1.0)
    with pytest.raises(ValueError, match="r_inner < r_outer"):
        AnnularSector((0, 0), 1.0, 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="r_inner"):
        SphericalShellOctant(-1.0, 1.0)
    with pytest.raises(ValueError, match="theta"):
        AnnularSector((0, 0), 1.0, 2.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="self-intersecting"):
        Polygon([[0, 0], [1, 1], [1, 0], [0, 1]])
    with pytest.raises(ValueError, match="zero area"):
        Polygon([[0, 0], [1, 0], [2, 0]])
    with pytest.raises(ValueError, match="zero length"):
        Polygon([[0, 0], [1, 0], [1, 0], [0, 1]])
    with pytest.raises(ValueError, match="shape"):
        Polygon([[0, 0, 0], [1, 0, 0], [0, 1, 0]])
    with pytest.raises(ValueError, match="part_names"):
        Polygon([[0, 0], [1, 0], [0, 1]], part_names=["a", "b"])
    with pytest.raises(ValueError, match="lo < hi"):
        Rectangle(1.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="shape"):
        Box([0, 0], [1, 1])
    with pytest.raises(ValueError, match="dimension"):
        Difference(Box([0, 0, 0], [1, 1, 1]), Disk((0, 0), 0.5))
    with pytest.raises(ValueError, match="duplicate boundary part name 'boundary'"):
        Disk((0, 0), 2.0) - Disk((0, 0), 1.0)
    with pytest.raises(ValueError, match="valid parts: boundary"):
        Difference(Rectangle(0, 1, 0, 1), Disk((0, 0), 0.5), names={"circle": "hole"})


def test_invalid_sampling_arguments() -> None:
    geo = Disk((0, 0), 1.0)
    with pytest.raises(ValueError, match="n must be >= 0"):
        geo.sample_interior(-1, rng())
    with pytest.raises(ValueError, match="n must be >= 0"):
        geo.sample_boundary(-5, rng())
    with pytest.raises(ValueError, match="method"):
        geo.sample_interior(5, rng(), method="halton")
    with pytest.raises(ValueError, match="Generator"):
        geo.sample_interior(5, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        geo.contains(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        geo.contains(np.zeros(2))
    with pytest.raises(ValueError, match="h must be positive"):
        geo.mesh(0.0)


def test_contains_tolerance() -> None:
    geo = Rectangle(0, 1, 0, 1)
    X = np.array([[1.0 + 1e-12, 0.5], [1.0 + 1e-6, 0.5], [0.5, 0.5], [1.0, 1.0]])
    np.testing.assert_array_equal(geo.contains(X), [True, False, True, True])
    np.testing.assert_array_equal(geo.contains(X, tol=1e-5), [True, True, True, True])


def test_mesh_exports_to_vtu(tmp_path: Path) -> None:
    meshio = pytest.importorskip("meshio")
    for geo, kind in ((quarter_plate(), "triangle"), (SphericalShellOctant(1.0, 2.0), "tetra")):
        points, cells = geo.mesh(0.25)
        field = np.linalg.norm(points, axis=1)
        path = tmp_path / f"{kind}.vtu"
        meshio.write(str(path), meshio.Mesh(points, [(kind, cells)], point_data={"r": field}))
        back = meshio.read(str(path))
        np.testing.assert_allclose(back.points[:, : geo.dim], points)
        np.testing.assert_array_equal(back.cells_dict[kind], cells)


def test_modules_import_only_the_layers_listed_before_them() -> None:
    """The module table of ``pinngelu.geometry`` lists every module of the package, in
    layers: each imports (at run time, also inside functions) only modules listed
    before it, so no two modules import each other."""
    import ast
    import re

    import pinngelu.geometry as geometry

    folder = Path(geometry.__file__).parent
    order = re.findall(r"^``(\w+)`` {2,}", geometry.__doc__, flags=re.MULTILINE)
    assert sorted(order) == sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    for k, name in enumerate(order):
        tree = ast.parse((folder / f"{name}.py").read_text())
        typing_only = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING"
            for stmt in block.body
            for node in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and id(node) not in typing_only:
                assert node.module in order[:k], f"{name} imports {node.module}"
