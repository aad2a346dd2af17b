"""Tests of the output layer: VTU export (layout, atomicity), output folders, JSON
summaries, and an end-to-end short run of the flagship plate case."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import meshio
import numpy as np
import pytest

import pinngelu as pg
from pinngelu.io import (
    atomic_write,
    prepare_output_dir,
    temporary_path,
    write_fields,
    write_json,
    write_npz,
    write_solution,
)
from pinngelu.training.config import UNBOUNDED


@pytest.fixture(scope="module")
def mesh2d():
    return pg.Rectangle(0.0, 2.0, 0.0, 1.0).mesh(0.25)


@pytest.fixture(scope="module")
def mesh3d():
    return pg.Box([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]).mesh(0.5)


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# --------------------------------------------------------- atomic writer
def test_atomic_write_replaces_a_stale_temporary_file(tmp_path):
    """A ``.tmp`` left by a killed writer is replaced by the next write, which leaves
    only the target."""
    path = tmp_path / "a.txt"
    temporary_path(path).write_text("half-written by a killed process")
    assert atomic_write(path, lambda tmp: tmp.write_text("new")) == path
    assert path.read_text() == "new"
    assert leftovers(tmp_path, {"a.txt"}) == []


def test_atomic_write_failure_keeps_target_and_removes_temporary(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def broken(tmp):
        tmp.write_text("partial")
        raise RuntimeError("writer broke")

    with pytest.raises(RuntimeError, match="writer broke"):
        atomic_write(path, broken)
    assert path.read_text() == "old"
    assert leftovers(tmp_path, {"a.txt"}) == []


def test_atomic_write_missing_folder(tmp_path):
    with pytest.raises(OSError):
        atomic_write(tmp_path / "missing" / "a.txt", lambda tmp: tmp.write_text("x"))
    assert leftovers(tmp_path, set()) == []


def test_write_npz_round_trip_and_keeps_the_name(tmp_path):
    path = write_npz(tmp_path / "m.npz", a=np.arange(3.0), s=np.array("text"))
    with np.load(path) as z:
        np.testing.assert_array_equal(z["a"], [0.0, 1.0, 2.0])
        assert str(z["s"]) == "text"
    assert leftovers(tmp_path, {"m.npz"}) == []


def test_model_save_goes_through_the_atomic_writer(tmp_path):
    mlp = pg.MLP(2, (3,), 2)
    path = tmp_path / "model.npz"
    temporary_path(path).write_bytes(b"stale")
    mlp.save(path, np.zeros(mlp.n_params))
    assert leftovers(tmp_path, {"model.npz"}) == []
    assert pg.MLP.load(path)[0] == mlp


def test_figures_go_through_the_atomic_writer(tmp_path):
    from pinngelu.plotting import plot_history

    path = tmp_path / "h.png"
    temporary_path(path).write_bytes(b"stale")
    hist = {"iteration": [0, 1], "loss": [1.0, 0.5], "time": [0.0, 0.1], "groups": []}
    plot_history(hist, path)
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert leftovers(tmp_path, {"h.png"}) == []


# ------------------------------------------------------------------- VTU
def test_write_fields_2d(tmp_path, mesh2d):
    pts, cells = mesh2d
    P = pts.shape[0]
    rng = np.random.default_rng(0)
    vec = rng.normal(size=(P, 2))
    ten = rng.normal(size=(P, 2, 2))
    ten = ten + np.swapaxes(ten, 1, 2)
    sca = rng.normal(size=P)
    out = write_fields(tmp_path / "f.vtu", pts, cells, {"u": vec, "sigma": ten, "vm": sca})
    assert out == tmp_path / "f.vtu"
    assert leftovers(tmp_path, {"f.vtu"}) == []
    m = meshio.read(out)
    assert m.points.shape == (P, 3)
    np.testing.assert_array_equal(m.points[:, :2], pts)
    np.testing.assert_array_equal(m.points[:, 2], 0.0)
    assert m.cells[0].type == "triangle"
    np.testing.assert_array_equal(m.cells[0].data, cells)
    assert set(m.point_data) == {"u", "sigma", "vm"}
    assert m.point_data["u"].shape == (P, 3)
    np.testing.assert_array_equal(m.point_data["u"][:, :2], vec)
    np.testing.assert_array_equal(m.point_data["u"][:, 2], 0.0)
    assert m.point_data["sigma"].shape == (P, 3)
    np.testing.assert_array_equal(
        m.point_data["sigma"], np.stack([ten[:, 0, 0], ten[:, 1, 1], ten[:, 0, 1]], 1)
    )
    assert m.point_data["vm"].shape == (P,)
    np.testing.assert_array_equal(m.point_data["vm"], sca)


def test_write_fields_3d(tmp_path, mesh3d):
    pts, cells = mesh3d
    P = pts.shape[0]
    rng = np.random.default_rng(1)
    vec = rng.normal(size=(P, 3))
    ten = rng.normal(size=(P, 3, 3))
    ten = ten + np.swapaxes(ten, 1, 2)
    out = write_fields(tmp_path / "g.vtu", pts, cells, {"u": vec, "eps": ten})
    m = meshio.read(out)
    assert m.cells[0].type == "tetra"
    np.testing.assert_array_equal(m.points, pts)
    np.testing.assert_array_equal(m.point_data["u"], vec)
    assert m.point_data["eps"].shape == (P, 6)
    expect = np.stack(
        [ten[:, 0, 0], ten[:, 1, 1], ten[:, 2, 2], ten[:, 0, 1], ten[:, 1, 2], ten[:, 0, 2]], 1
    )
    np.testing.assert_array_equal(m.point_data["eps"], expect)


def test_write_fields_overwrites(tmp_path, mesh2d):
    pts, cells = mesh2d
    P = pts.shape[0]
    path = tmp_path / "f.vtu"
    write_fields(path, pts, cells, {"a": np.zeros(P)})
    write_fields(path, pts, cells, {"a": np.ones(P)})
    np.testing.assert_array_equal(meshio.read(path).point_data["a"], 1.0)
    assert leftovers(tmp_path, {"f.vtu"}) == []


def test_write_fields_missing_folder(tmp_path, mesh2d):
    pts, cells = mesh2d
    target = tmp_path / "missing" / "f.vtu"
    with pytest.raises(OSError):
        write_fields(target, pts, cells, {"a": np.zeros(pts.shape[0])})
    assert not target.parent.exists()
    assert leftovers(tmp_path, set()) == []


def test_write_fields_failure_leaves_nothing(tmp_path, mesh2d, monkeypatch):
    """A writer failing halfway (disk full, read-only file system...) leaves neither a
    temporary file nor a truncated target, and keeps an existing target intact."""
    pts, cells = mesh2d
    P = pts.shape[0]
    path = tmp_path / "f.vtu"
    write_fields(path, pts, cells, {"a": np.zeros(P)})
    before = path.read_bytes()

    def broken_write(self, filename, file_format=None, **kw):
        Path(filename).write_bytes(b"<VTKFile partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(meshio.Mesh, "write", broken_write)
    with pytest.raises(OSError, match="No space"):
        write_fields(path, pts, cells, {"a": np.ones(P)})
    with pytest.raises(OSError):
        write_fields(tmp_path / "new.vtu", pts, cells, {"a": np.ones(P)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert leftovers(tmp_path, {"f.vtu"}) == []


def test_write_fields_unknown_suffix(tmp_path, mesh2d):
    pts, cells = mesh2d
    with pytest.raises(ValueError, match="suffix"):
        write_fields(tmp_path / "f.unknownext", pts, cells, {})
    assert leftovers(tmp_path, set()) == []


def test_write_fields_msh_is_gmsh(tmp_path, mesh2d):
    """``.msh`` means Gmsh (meshio lists ANSYS first for that suffix)."""
    pts, cells = mesh2d
    u = np.column_stack([pts[:, 0], -pts[:, 1]])
    path = write_fields(tmp_path / "f.msh", pts, cells, {"displacement": u})
    assert path.read_text(errors="replace").startswith("$MeshFormat")
    m = meshio.read(path)
    np.testing.assert_allclose(m.point_data["displacement"][:, :2], u)


def test_write_fields_msh_3d_with_tensors(tmp_path, mesh3d):
    """3D Gmsh files work: tetrahedra, and tensors as 9 components (Gmsh takes 1, 3 or
    9 per field)."""
    pts, cells = mesh3d
    P = pts.shape[0]
    ten = np.zeros((P, 3, 3))
    ten[:, 0, 1] = ten[:, 1, 0] = pts[:, 2]
    ten[:, 2, 2] = 1.0
    path = write_fields(tmp_path / "g.msh", pts, cells, {"u": pts, "eps": ten, "vm": pts[:, 0]})
    m = meshio.read(path)
    assert m.cells[0].type == "tetra" and m.cells[0].data.shape == cells.shape
    np.testing.assert_allclose(m.point_data["eps"], ten.reshape(P, 9))
    np.testing.assert_allclose(m.point_data["u"], pts)
    assert leftovers(tmp_path, {"g.msh"}) == []


def test_write_fields_msh_2d_tensor_is_full(tmp_path, mesh2d):
    pts, cells = mesh2d
    P = pts.shape[0]
    ten = np.tile(np.array([[1.0, 2.0], [2.0, 3.0]]), (P, 1, 1))
    path = write_fields(tmp_path / "t.msh", pts, cells, {"sigma": ten})
    np.testing.assert_allclose(
        meshio.read(path).point_data["sigma"][0], [1, 2, 0, 2, 3, 0, 0, 0, 0]
    )


def test_write_fields_msh_refuses_other_component_counts(tmp_path, mesh2d):
    pts, cells = mesh2d
    with pytest.raises(ValueError, match="field 'w' has 4 components; Gmsh"):
        write_fields(tmp_path / "t.msh", pts, cells, {"w": np.zeros((pts.shape[0], 4))})
    assert leftovers(tmp_path, set()) == []


def test_write_fields_wrong_cells(tmp_path, mesh2d):
    pts, cells = mesh2d
    with pytest.raises(ValueError, match="triangles"):
        write_fields(tmp_path / "f.vtu", pts, cells[:, :2], {})
    assert leftovers(tmp_path, set()) == []


def test_write_solution(tmp_path, plate):
    prob = plate.build_problem(n_interior=16, n_boundary=64)
    mlp = pg.MLP(2, (6,), 2)
    sol = prob.solution(mlp, mlp.init(np.random.default_rng(0), "glorot"))
    path = write_solution(tmp_path / "s.vtu", sol, h=0.2)
    m = meshio.read(path)
    P = m.points.shape[0]
    assert set(m.point_data) == {
        "displacement",
        "strain",
        "stress",
        "von_mises",
        "displacement_exact",
        "displacement_error",
    }
    np.testing.assert_allclose(
        m.point_data["displacement"][:, :2], sol.displacement(m.points[:, :2], check_inside=False)
    )
    assert m.point_data["stress"].shape == (P, 3)
    # without geometry a mesh must be given
    bare = pg.Solution(mlp, sol.theta, sol.scales, sol.material)
    with pytest.raises(ValueError, match="mesh"):
        write_solution(tmp_path / "t.vtu", bare)
    pts, cells = prob.geometry.mesh(0.5)
    write_solution(tmp_path / "t.vtu", bare, mesh=(pts, cells))
    assert meshio.read(tmp_path / "t.vtu").points.shape[0] == pts.shape[0]


# ---------------------------------------------------------- folders, JSON
def test_prepare_output_dir(tmp_path):
    p = prepare_output_dir(tmp_path / "a" / "b")
    assert p.is_dir() and list(p.iterdir()) == []
    assert prepare_output_dir(p) == p  # existing folder is fine


def test_prepare_output_dir_unwritable(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="cannot be written"):
        prepare_output_dir(blocker / "sub")
    with pytest.raises(ValueError, match="cannot be written"):
        prepare_output_dir(blocker)


def test_write_json_round_trip(tmp_path):
    obj = {
        "f": np.float64(1.5),
        "f32": np.float32(0.25),
        "i": np.int64(7),
        "b": np.bool_(True),
        "a": np.arange(4).reshape(2, 2),
        "nested": {"x": [np.float64(2.0), 3], "p": tmp_path / "x.vtu"},
        "plain": "text",
    }
    path = write_json(tmp_path / "s.json", obj)
    back = json.loads(path.read_text())
    assert back == {
        "f": 1.5,
        "f32": 0.25,
        "i": 7,
        "b": True,
        "a": [[0, 1], [2, 3]],
        "nested": {"x": [2.0, 3], "p": str(tmp_path / "x.vtu")},
        "plain": "text",
    }
    assert leftovers(tmp_path, {"s.json"}) == []


def test_write_json_unserialisable(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"old": 1}')
    with pytest.raises(TypeError, match="serialise"):
        write_json(path, {"x": object()})
    assert json.loads(path.read_text()) == {"old": 1}
    assert leftovers(tmp_path, {"s.json"}) == []


# ------------------------------------------------------------- the case
@pytest.fixture(scope="module")
def case_run(plate, tmp_path_factory):
    out = tmp_path_factory.mktemp("plate")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        summary = plate.main(["--out", str(out), "--max-iter", "100", "--quiet"])
    return out, summary, buf.getvalue()


def test_case_outputs(case_run):
    out, summary, printed = case_run
    assert printed == ""  # --quiet
    s = json.loads((out / "summary.json").read_text())
    for key in (
        "rel_l2_displacement",
        "wall_time_s",
        "iterations",
        "settings",
        "stop_reason",
        "final_loss",
        "files",
    ):
        assert key in s, key
    assert s["iterations"] == 100
    assert s["stop_reason"] == "SSBroyden2 iteration budget reached"
    assert s["settings"]["stages"] == [{"name": "ssbroyden2", "iters": 100, "time_limit": None}]
    assert s["settings"]["seed"] == 0
    assert s["settings"]["hidden"] == [30, 30, 30]
    assert s["wall_time_s"] > 0
    assert s["rel_l2_displacement"] == pytest.approx(summary["rel_l2_displacement"])
    names = {p.name for p in out.iterdir()}
    for f in (
        "summary.json",
        "solution.vtu",
        "model.npz",
        "loss_history.png",
        "displacement.png",
        "von_mises.png",
        "error.png",
    ):
        assert f in names, f
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]
    for f in ("loss_history.png", "displacement.png", "von_mises.png", "error.png"):
        assert (out / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = meshio.read(out / "solution.vtu")
    P = m.points.shape[0]
    shapes = {
        "displacement": (P, 3),
        "strain": (P, 3),
        "stress": (P, 3),
        "von_mises": (P,),
        "displacement_exact": (P, 3),
        "displacement_error": (P, 3),
    }
    assert set(m.point_data) == set(shapes)
    for k, shp in shapes.items():
        assert m.point_data[k].shape == shp, k
        assert np.all(np.isfinite(m.point_data[k])), k


def test_case_error_is_meaningful(case_run, plate):
    """A 100-iteration run cannot be accurate; but its error must beat both the zero field
    (relative error exactly 1) and the untrained network (about 11 for the case's seed-0
    initialisation, whose output is O(U) with U ~ 42 m for this load)."""
    out, summary, _ = case_run
    err = summary["rel_l2_displacement"]
    assert err < 1.0
    prob = plate.build_problem()
    mlp = pg.MLP(2, plate.SETTINGS.hidden, 2)
    untrained = prob.solution(mlp, mlp.init(np.random.default_rng(0)))
    err0 = untrained.relative_l2_error(plate.grid())
    assert err0 > 1.0
    assert err < err0 / 5
    # the saved model reproduces the summary's error
    sol = pg.Solution.load(out / "model.npz", geometry=prob.geometry, exact=plate.exact)
    assert sol.relative_l2_error(plate.grid()) == pytest.approx(err, rel=1e-12)


@pytest.mark.parametrize(
    "argv, stages",
    [
        (["--optimizer", "lm", "--max-iter", "3"], [("lm", 3)]),
        (
            ["--optimizer", "lbfgs+lm", "--max-iter", "2", "--time-limit", "3"],
            [("lbfgs", UNBOUNDED), ("lm", 2)],
        ),
        (
            ["--optimizer", "lbfgs", "--adam-iters", "2", "--max-iter", "3"],
            [("adam", 2), ("lbfgs", 3)],
        ),
    ],
    ids=["lm", "lbfgs+lm", "adam+lbfgs"],
)
def test_case_optimizer_and_hidden_options(plate, tmp_path, argv, stages):
    summary = plate.main(["--out", str(tmp_path), "--hidden", "5,4", "--quiet", *argv])
    s = summary["settings"]
    got = [(st["name"], st["iters"]) for st in s["stages"]]
    assert got == stages
    assert s["hidden"] == [5, 4]
    assert summary["iterations"] <= sum(n for _, n in got)
    if "--time-limit" in argv:
        # the open L-BFGS stage gets its share of the time budget, not all of it: the
        # Levenberg-Marquardt stage after it runs to its iteration budget
        assert s["stages"][0]["time_limit"] == pytest.approx(1.5)
        assert summary["stop_reason"] == "Levenberg-Marquardt iteration budget reached"


def test_a_format_that_drops_the_fields_is_refused(tmp_path):
    """Abaqus .inp keeps the mesh but not the point fields: the writer reads the file
    back, refuses it naming the formats that work, and leaves no file behind."""
    from pinngelu.io import write_fields

    P = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    C = np.array([[0, 1, 2]])
    with pytest.raises(ValueError, match=r"does not store the point fields \['u'\].*\.vtu"):
        write_fields(tmp_path / "s.inp", P, C, {"u": np.ones((3, 2))})
    assert list(tmp_path.iterdir()) == []
    write_fields(tmp_path / "s.inp", P, C, {})  # a bare mesh is what .inp can hold
    assert (tmp_path / "s.inp").exists()
