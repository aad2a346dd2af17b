"""check_mesh and the cell checks of MeshDomain: bad indices and coordinates, duplicated,
overlapping, folded and inverted cells, empty mesh files."""

from __future__ import annotations

import warnings

import meshio
import numpy as np
import pytest

import pinngelu as pg
from pinngelu.geometry import MeshOrientationWarning, check_mesh

SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
TRIS = np.array([[0, 1, 2], [0, 2, 3]])
CUBE = np.array(
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=float
)  # two tetrahedra sharing the face 1-2-3
TETS = np.array([[0, 1, 2, 3], [1, 2, 3, 4]])


def test_valid_mesh_is_returned_positively_oriented():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P, C = check_mesh(SQUARE, TRIS[:, ::-1])  # all clockwise: no warning
        P3, C3 = check_mesh(CUBE, TETS)
    assert P.dtype == np.float64 and C.dtype == np.int64
    assert np.all(np.linalg.det(P[C[:, 1:]] - P[C[:, :1]]) > 0)
    e = P3[C3[:, 1:]] - P3[C3[:, :1]]
    assert np.all(np.linalg.det(e) > 0)


def test_mixed_orientation_warns_and_reorients():
    cells = np.array([[0, 1, 2], [0, 3, 2]])  # the second is clockwise
    with pytest.warns(MeshOrientationWarning, match=r"mesh: 1 of 2 cells are inverted"):
        _, C = check_mesh(SQUARE, cells)
    assert np.all(np.linalg.det(SQUARE[C[:, 1:]] - SQUARE[C[:, :1]]) > 0)
    with pytest.warns(MeshOrientationWarning, match="<arrays>: 1 of 2 cells are inverted"):
        dom = pg.MeshDomain(SQUARE, cells)
    assert dom.measure == pytest.approx(1.0)


BAD_MESHES = [
    # (points, cells, exception, phrase)
    (SQUARE, TRIS - 1, ValueError, r"plate: cells: node indices must be >= 0, got -1 \(cell 0"),
    (SQUARE, TRIS + 2, ValueError, r"plate: cells: node indices must lie in 0..3, got 5"),
    (SQUARE, TRIS + 0.5, ValueError, "plate: cells: node indices must be integers"),
    (SQUARE, TRIS + 0j, TypeError, "plate: cells: node indices must be integers, got complex"),
    (SQUARE, TRIS[:, :2], ValueError, r"plate: cells must be triangles \(M, 3\)"),
    (SQUARE, np.empty((0, 3), int), ValueError, "with M >= 1"),
    (
        np.where(SQUARE == 1.0, np.nan, SQUARE),
        TRIS,
        ValueError,
        "plate: node coordinates contain NaN",
    ),
    (SQUARE + 1j, TRIS, TypeError, "plate: node coordinates .* must be real"),
    (SQUARE[:, :1], TRIS, ValueError, r"plate: points must have shape \(P, 2\) or \(P, 3\)"),
    (SQUARE, np.array([[0, 1, 2], [0, 2, 3], [0, 1, 2]]), ValueError, "shared by 3 cells"),
    (SQUARE, np.array([[0, 1, 2], [1, 2, 0]]), ValueError, r"plate: 1 duplicated cell\(s\)"),
    (
        SQUARE,
        np.array([[0, 1, 2], [0, 2, 3], [0, 1, 3], [1, 2, 3]]),  # both diagonals: area twice
        ValueError,
        "plate: .* both of their cells on the same side",
    ),
    (
        np.array([[0, 0], [1, 0], [0, 1], [0.1, 0.1], [0.9, 0.1], [0.1, 0.9]]),
        np.array([[0, 1, 2], [3, 4, 5]]),  # a triangle inside another, sharing no node
        ValueError,
        "plate: overlapping cells: the centroid of cell",
    ),
    (SQUARE, np.array([[0, 1, 2], [0, 2, 2]]), ValueError, r"plate: 1 degenerate \(zero-area\)"),
]


@pytest.mark.parametrize(("points", "cells", "exc", "phrase"), BAD_MESHES)
def test_check_mesh_rejects(points, cells, exc, phrase):
    with pytest.raises(exc, match=phrase):
        check_mesh(points, cells, name="plate")


@pytest.mark.parametrize(("points", "cells", "exc", "phrase"), BAD_MESHES)
def test_mesh_domain_rejects(points, cells, exc, phrase):
    phrase = phrase.replace("plate", "<arrays>")
    if cells.shape[1] != 3 or cells.shape[0] == 0:
        phrase = "<arrays>: (2D )?cells must"
    with pytest.raises(exc, match=phrase):
        pg.MeshDomain(points, cells)


def test_check_mesh_3d():
    with pytest.raises(ValueError, match=r"mesh: cells must be tetrahedra \(M, 4\)"):
        check_mesh(CUBE, TETS[:, :3])
    folded = np.vstack([CUBE, [[0.2, 0.2, 0.2]]])  # vertex 5 on the same side as vertex 0
    with (
        pytest.warns(MeshOrientationWarning),
        pytest.raises(ValueError, match="same side"),
    ):
        check_mesh(folded, np.array([[0, 1, 2, 3], [1, 2, 3, 5]]))


def test_empty_and_cell_less_mesh_files(tmp_path):
    empty = tmp_path / "empty.msh"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"cannot read mesh file .*empty.msh: the file is empty"):
        pg.MeshDomain.from_file(empty)
    flat = tmp_path / "flat.msh"
    meshio.write_points_cells(
        flat, np.column_stack([SQUARE, np.zeros(4)]), [("triangle", TRIS)], file_format="gmsh22"
    )
    with pytest.raises(ValueError, match=r"flat.msh: the mesh has no 3D volume cells"):
        pg.MeshDomain.from_file(flat, dim=3)
    assert pg.MeshDomain.from_file(flat).measure == pytest.approx(1.0)
