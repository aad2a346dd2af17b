"""Figures of 3D solutions (pinngelu.plotting.surface3d) and the 2D/3D dispatch of
plot_case_figures."""

from __future__ import annotations

import importlib
import struct
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

import pinngelu as pg
from pinngelu import plotting
from pinngelu.io import temporary_path
from pinngelu.plotting import boundary_triangles, magnification, plot_surface, surface3d
from pinngelu.plotting import case as plotting_case

# the six tetrahedra of a unit cube (corner k at bits x = k & 1, y = k & 2, z = k & 4)
# around its diagonal 0-7
_KUHN = [[0, 1, 3, 7], [0, 1, 5, 7], [0, 2, 3, 7], [0, 2, 6, 7], [0, 4, 5, 7], [0, 4, 6, 7]]


def cube_mesh(n: int, side: float) -> tuple[np.ndarray, np.ndarray]:
    """A conforming tetrahedral mesh of the cube [0, side]^3: n^3 cubes of 6 tetrahedra,
    every other one with its node order reversed (either orientation is accepted)."""
    g = np.linspace(0.0, side, n + 1)
    P = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    node = np.arange((n + 1) ** 3).reshape(n + 1, n + 1, n + 1)
    cells = []
    for i in range(n):
        for j in range(n):
            for k in range(n):
                corner = [node[i + (c & 1), j + (c >> 1 & 1), k + (c >> 2 & 1)] for c in range(8)]
                cells += [[corner[v] for v in t] for t in _KUHN]
    C = np.array(cells, dtype=np.int64)
    C[::2] = C[::2, ::-1]
    return P, C


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (after checking the signature)."""
    head = Path(path).read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


# ------------------------------------------------------------ boundary faces
def test_boundary_of_a_meshed_cube():
    n, side = 3, 2.0
    P, C = cube_mesh(n, side)
    T, N, A = boundary_triangles(P, C)
    assert C.shape == (6 * n**3, 4)
    # two triangles per square of each face, and nothing from inside
    assert T.shape == (6 * n**2 * 2, 3)
    np.testing.assert_allclose(A.sum(), 6 * side**2, rtol=1e-12)
    np.testing.assert_allclose(A, 0.5 * (side / n) ** 2, rtol=1e-12)
    # every triangle lies on a face of the cube; its normal is that face's outer normal
    V = P[T]
    centre = np.full(3, side / 2)
    expected = np.zeros_like(N)
    for f in range(T.shape[0]):
        axis = [a for a in range(3) if np.ptp(V[f, :, a]) == 0.0]
        assert len(axis) == 1
        a = axis[0]
        assert V[f, 0, a] in (0.0, side)
        expected[f, a] = np.sign(V[f, 0, a] - centre[a])
    np.testing.assert_allclose(N, expected, atol=1e-12)
    # the node order gives the same outward normal
    c = np.cross(V[:, 1] - V[:, 0], V[:, 2] - V[:, 0])
    np.testing.assert_allclose(c / np.linalg.norm(c, axis=1)[:, None], N, atol=1e-12)
    # the outward normals of a closed surface sum (area-weighted) to zero
    np.testing.assert_allclose((A[:, None] * N).sum(axis=0), 0.0, atol=1e-12)


def test_boundary_of_a_box_meshed_by_the_geometry():
    P, C = pg.Box([0, 0, 0], [1.0, 0.5, 0.25]).mesh(0.125)
    T, N, A = boundary_triangles(P, C)
    np.testing.assert_allclose(A.sum(), 2 * (0.5 + 0.25 + 0.125), rtol=1e-9)
    # outward: from the centre towards the face
    mid = P[T].mean(axis=1) - np.array([0.5, 0.25, 0.125])
    assert np.all(np.sum(mid * N, axis=1) > 0)


def test_boundary_refuses_bad_meshes():
    P, C = cube_mesh(1, 1.0)
    with pytest.raises(ValueError, match=r"tetrahedra of shape \(M, 4\)"):
        boundary_triangles(P, C[:, :3])
    with pytest.raises(ValueError, match="outside 0..7"):
        boundary_triangles(P, C + 1)
    with pytest.raises(ValueError, match=r"shape \(P, 3\)"):
        boundary_triangles(P[:, :2], C)
    with pytest.raises(ValueError, match="not conforming"):
        boundary_triangles(P, np.concatenate([C, C[:1], C[:1]]))


# ------------------------------------------------------------- magnification
def test_magnification_rule():
    P = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 12.0], [1.0, 1.0, 1.0]])  # diagonal 13 m
    u = np.array([[0.0, 0.0, 0.0], [0.3, 0.4, 0.0], [0.0, 0.0, -0.1]])  # max |u| 0.5 m
    assert magnification(P, u) == pytest.approx(0.1 * 13 / 0.5)
    assert magnification(P, u, fraction=0.05) == pytest.approx(1.3)
    # the largest displacement is drawn as a tenth of the diagonal
    s = magnification(P, u)
    assert np.max(np.linalg.norm(s * u, axis=1)) == pytest.approx(1.3)
    assert magnification(P, np.zeros_like(P)) == 1.0
    with pytest.raises(ValueError, match="NaN"):
        magnification(P, np.full_like(P, np.nan))
    with pytest.raises(ValueError, match="fraction"):
        magnification(P, u, fraction=0.0)


# ------------------------------------------------------------------ figures
def test_plot_surface_writes_a_png_of_the_documented_size(tmp_path):
    P, C = cube_mesh(3, 1.0)
    u = 1e-3 * np.column_stack([P[:, 0], -0.3 * P[:, 1], -0.3 * P[:, 2]])
    path = tmp_path / "cube.png"
    temporary_path(path).write_bytes(b"stale")
    out = plot_surface(P, C, u, P[:, 0], path, "cube in tension", "x (m)")
    assert out == path
    assert png_size(path) == (1344, 600)  # (5 * 2 views + 1.2) x 5 inches at 120 dpi
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cube.png"]
    img = mpimg.imread(path)[:, :, :3]
    # the part covers a real share of the picture, in many shades
    drawn = np.any(img < 0.9, axis=2).mean()
    assert 0.1 < drawn < 0.9
    assert np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0).shape[0] > 100
    # one view, undeformed, no outline
    one = plot_surface(P, C, None, P[:, 2], tmp_path / "one.png", views=[(20, -60)], outline=False)
    assert png_size(one) == (744, 600)


def test_plot_surface_refuses_bad_input_and_writes_nothing(tmp_path):
    P, C = cube_mesh(1, 1.0)
    path = tmp_path / "bad.png"
    with pytest.raises(ValueError, match=r"scalar must have shape \(8,\)"):
        plot_surface(P, C, None, np.zeros(7), path)
    with pytest.raises(ValueError, match=r"u must have shape \(8, 3\)"):
        plot_surface(P, C, np.zeros((8, 2)), np.zeros(8), path)
    with pytest.raises(ValueError, match="scalar contains NaN"):
        plot_surface(P, C, None, np.full(8, np.nan), path)
    with pytest.raises(ValueError, match="scale"):
        plot_surface(P, C, np.ones((8, 3)), np.zeros(8), path, scale=-1.0)
    with pytest.raises(ValueError, match="views"):
        plot_surface(P, C, None, np.zeros(8), path, views=[])
    with pytest.raises(OSError):
        plot_surface(P, C, None, np.zeros(8), tmp_path / "missing" / "f.png")
    assert list(tmp_path.iterdir()) == []


def test_title_names_the_magnification(tmp_path, monkeypatch):
    P, C = cube_mesh(1, 1.0)
    u = np.zeros((8, 3))
    u[7] = [0.0, 0.0, np.sqrt(3) * 0.01]  # diagonal sqrt(3): factor 10
    titles = []
    real = surface3d.plt.Figure.suptitle

    def spy(fig, text, **kw):
        titles.append(text)
        return real(fig, text, **kw)

    monkeypatch.setattr(surface3d.plt.Figure, "suptitle", spy)
    plot_surface(P, C, u, np.zeros(8), tmp_path / "a.png", "tip", "v (1)")
    plot_surface(P, C, u, np.zeros(8), tmp_path / "b.png", "tip", "v (1)", scale=2.5)
    assert titles == ["tip (deformation x10)", "tip (deformation x2.5)"]


# ----------------------------------------------------------------- dispatch
def test_case_figures_of_a_2d_solution_go_the_old_way(tmp_path, plate, monkeypatch):
    def no_3d(*args, **kw):
        raise AssertionError("a 2D solution must not be drawn by surface3d")

    monkeypatch.setattr(plotting_case, "case_surface_figures", no_3d)
    prob = plate.build_problem(n_interior=16, n_boundary=64)
    mlp = pg.MLP(2, (6,), 2)
    sol = prob.solution(mlp, mlp.init(np.random.default_rng(0), "glorot"))
    hist = {"iteration": [0, 1], "loss": [1.0, 0.5], "time": [0.0, 0.1], "groups": []}
    paths = plotting.plot_case_figures(sol, tmp_path, hist, prob.geometry.mesh(0.2))
    names = ["loss_history.png", "displacement.png", "von_mises.png", "error.png"]
    assert [p.name for p in paths] == names
    for p in paths:
        assert p.read_bytes()[:4] == b"\x89PNG"
    # the tight-cropped 2D field figure, not the fixed-size 3D layout
    assert png_size(paths[1]) != (1344, 600)


def test_case_figures_of_a_3d_solution_are_surfaces(tmp_path):
    hs = importlib.import_module("pinngelu.cases.hollow_sphere")
    prob = hs.build_problem(n_interior=16, n_boundary=32)
    mlp = pg.MLP(3, (6,), 3)
    sol = prob.solution(mlp, mlp.init(np.random.default_rng(0), "glorot"))
    hist = {"iteration": [0, 1], "loss": [1.0, 0.5], "time": [0.0, 0.1], "groups": []}
    paths = plotting.plot_case_figures(sol, tmp_path, hist, prob.geometry.mesh(0.04))
    assert [p.name for p in paths] == [
        "loss_history.png",
        "displacement.png",
        "von_mises.png",
        "error.png",
    ]
    for p in paths[1:]:
        assert png_size(p) == (1344, 600)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
