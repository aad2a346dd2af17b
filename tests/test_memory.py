"""The memory budget (:mod:`pinngelu.memory`): the limit and its parsing, each estimate
against the measured peak of the allocation it stands for (within 25%), and the
refusals, raised before anything is allocated.

The peaks are measured in a fresh interpreter as the rise of its peak resident memory
(``VmHWM``, reset through ``/proc/self/clear_refs``) over what it held before the
allocation, with glibc returning every block of 64 kB or more to the system when it is
freed (``MALLOC_MMAP_THRESHOLD_``), so that a freed block does not hide a later one.
The dense quasi-Newton matrix, a NumPy array alone, is measured with ``tracemalloc``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest

import pinngelu as pg
from pinngelu import memory
from pinngelu.energy import SLENDER_LIMIT, check_energy_problem, energy_bytes
from pinngelu.geometry.quadrature import (
    part_quadrature,
    volume_cells,
    volume_quadrature,
    volume_quadrature_bytes,
)
from pinngelu.optim.lm import lm_init
from pinngelu.optim.quasi_newton import dense_memory_bytes, qn_init, qn_step
from pinngelu.strong import collocation_bytes, sample_points

TOLERANCE = 0.25
"""Largest relative difference of an estimate from the measured peak."""

MAT = pg.Material.from_E_nu(1.0, 0.3)


@pytest.fixture(autouse=True)
def default_limit(monkeypatch):
    """Every test starts from the default limit and leaves it so."""
    monkeypatch.delenv(memory.ENV, raising=False)
    memory.reset_limit()
    yield
    memory.reset_limit()


def _rect(formulation=None, **kw) -> pg.ElasticityProblem:
    geom = pg.Rectangle(0.0, 2.0, 0.0, 1.0)
    bcs = [pg.Dirichlet("left", (0.0, 0.0)), pg.Traction("right", (0.0, -1e-3))]
    return pg.ElasticityProblem(geom, MAT, bcs, formulation=formulation, **kw)


def _box(formulation=None, lo=(0.0, 0.0, 0.0), hi=(1.0, 1.0, 1.0), **kw):
    bcs = [pg.Dirichlet("x_min", (0.0, 0.0, 0.0)), pg.Traction("x_max", (0.0, 0.0, -1e-3))]
    return pg.ElasticityProblem(pg.Box(lo, hi), MAT, bcs, formulation=formulation, **kw)


# ------------------------------------------------------------------ the limit


def test_set_limit_numbers_strings_and_none():
    memory.set_limit(1234)
    assert memory.limit() == 1234.0
    memory.set_limit("8G")
    assert memory.limit() == 8 * 2**30
    memory.set_limit("512 MB")
    assert memory.limit() == 512 * 2**20
    memory.set_limit("1.5k")
    assert memory.limit() == 1.5 * 2**10
    memory.set_limit(None)
    assert memory.limit() is None
    memory.set_limit("none")
    assert memory.limit() is None
    memory.check(1e30, "anything", "nothing")  # no limit: no refusal
    memory.reset_limit()
    assert memory.limit() == pytest.approx(memory.DEFAULT_FRACTION * memory.available(), rel=0.2)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "0", "-3G", "lots", "8X"])
def test_set_limit_refuses_bad_values(bad):
    with pytest.raises(ValueError):
        memory.set_limit(bad)


def test_environment_variable(monkeypatch):
    monkeypatch.setenv(memory.ENV, "3M")
    assert memory.limit() == 3 * 2**20
    monkeypatch.setenv(memory.ENV, "off")
    assert memory.limit() is None
    monkeypatch.setenv(memory.ENV, "12")
    assert memory.limit() == 12.0
    memory.set_limit("1G")  # an explicit limit wins over the variable
    assert memory.limit() == 2**30
    memory.reset_limit()
    monkeypatch.setenv(memory.ENV, "seven")
    with pytest.raises(ValueError, match=memory.ENV):
        memory.limit()


def test_check_message_names_estimate_setting_and_limit():
    memory.set_limit(1000)
    memory.check(1000, "a thing", "its size")  # at the limit: accepted
    with pytest.raises(memory.MemoryLimitError) as info:
        memory.check(2.5e6, "a thing", "its size")
    msg = str(info.value)
    assert "a thing needs about 2.5 MB" in msg and "1 kB" in msg and "its size" in msg
    assert memory.ENV in msg and "set_limit" in msg
    assert isinstance(info.value, MemoryError) and isinstance(info.value, ValueError)
    assert memory.format_bytes(512) == "512 B" and memory.format_bytes(3e9) == "3 GB"


# ------------------------------------------------------------ measuring peaks

_MEASURE = textwrap.dedent(
    """
    import sys

    def rss(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024

    ns = {}
    exec(sys.argv[1], ns)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = rss("VmRSS")
    exec(sys.argv[2], ns)
    print(rss("VmHWM") - base, float(ns["estimate"]))
    """
)


def _can_measure() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        with open("/proc/self/status") as f:
            return "VmHWM" in f.read()
    except OSError:
        return False


needs_rss = pytest.mark.skipif(
    not _can_measure(), reason="needs Linux's /proc/self/clear_refs to reset the peak"
)


def _peak(setup: str, stmt: str) -> tuple[float, float]:
    """``(measured rise of the peak resident memory, estimate)`` of ``stmt`` after
    ``setup`` in a fresh interpreter (``estimate`` a name either defines)."""
    env = {
        **os.environ,
        "MALLOC_MMAP_THRESHOLD_": "65536",
        memory.ENV: "none",
        "NUMBA_NUM_THREADS": "2",
    }
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, textwrap.dedent(setup), textwrap.dedent(stmt)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    measured, estimate = (float(v) for v in out.stdout.split()[-2:])
    return measured, estimate


def _close(measured: float, estimate: float) -> None:
    assert abs(estimate - measured) <= TOLERANCE * measured, (
        f"estimate {memory.format_bytes(estimate)}, measured {memory.format_bytes(measured)} "
        f"(ratio {estimate / measured:.3f})"
    )


_PROBLEMS = """
import numpy as np, pinngelu as pg
MAT = pg.Material.from_E_nu(1.0, 0.3)
RECT = pg.Rectangle(0.0, 2.0, 0.0, 1.0)
RECT_BCS = [pg.Dirichlet("left", (0.0, 0.0)), pg.Traction("right", (0.0, -1e-3))]
BOX = pg.Box((0.0, 0.0, 0.0), (2.0, 1.0, 1.0))
BOX_BCS = [pg.Dirichlet("x_min", (0.0, 0.0, 0.0)), pg.Traction("x_max", (0.0, 0.0, -1e-3))]
"""


# ------------------------------------------------------------ the estimates


def test_dense_quasi_newton_matrix_estimate():
    n = 1500
    scale = np.linspace(1.0, 10.0, n)

    def fun(x):
        return 0.5 * float(x @ (scale * x)), scale * x

    def square(x):
        return 0.5 * float(x @ x), x.copy()

    qn_step(square, qn_init(square, np.ones(10)))  # the dense kernels, loaded
    tracemalloc.start()
    try:
        state = qn_init(fun, np.ones(n))
        for _ in range(3):
            state, _ = qn_step(fun, state)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _close(peak, dense_memory_bytes(n))
    assert dense_memory_bytes(n) == state.H.nbytes


@needs_rss
def test_levenberg_marquardt_estimate():
    setup = (
        _PROBLEMS
        + """
from pinngelu.jacobian import BLOCK_ROWS
from pinngelu.optim.lm import lm_init, lm_memory_bytes, lm_step
from pinngelu.training.objective import Objective
p = pg.ElasticityProblem(RECT, MAT, RECT_BCS, formulation=pg.StrongForm(),
                         n_interior=500, n_boundary=200)
groups = p.residual_groups(np.random.default_rng(0))
small = pg.MLP(2, (4,), 2)
lm_init(Objective(small, groups, "cpu").normal, small.init(np.random.default_rng(0)))
mlp = pg.MLP(2, (30, 30), 2)
obj = Objective(mlp, groups, "cpu")
x0 = mlp.init(np.random.default_rng(0))
rows = sum(g.n_points * g.n_rows for g in groups)
estimate = lm_memory_bytes(x0.size, min(BLOCK_ROWS, rows))
"""
    )
    stmt = """
state = lm_init(obj.normal, x0)
state, _ = lm_step(obj.normal, obj.value, state)  # the next normal equations beside it
"""
    _close(*_peak(setup, stmt))


@needs_rss
@pytest.mark.parametrize(
    "geometry,h,grading",
    [
        ("pg.Box((0, 0, 0), (1, 1, 1))", 0.06, "None"),
        ("pg.Rectangle(0, 2, 0, 1)", 0.01, "None"),
        ("pg.Disk((0, 0), 1.0)", 0.01, "None"),
        ("pg.MeshDomain(*pg.Box((0, 0, 0), (1, 1, 1)).mesh(0.25))", 0.05, "None"),
        (
            "pg.Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)])",
            0.01,
            "Grading(np.array([[1.0, 1.0]]), levels=8, radius_factor=2.0, reach=0.0)",
        ),
    ],
    ids=["box", "rectangle", "disk", "mesh-domain", "graded-L"],
)
def test_volume_quadrature_estimate(geometry, h, grading):
    setup = f"""
import numpy as np, pinngelu as pg
from pinngelu.geometry.graded import Grading
from pinngelu.geometry.quadrature import volume_quadrature, volume_quadrature_bytes
geom = {geometry}
grading = {grading}
volume_quadrature(geom, {4 * h})
estimate = volume_quadrature_bytes(geom, {h}, grading)
"""
    _close(*_peak(setup, f"X, w = volume_quadrature(geom, {h}, grading)"))


@needs_rss
@pytest.mark.parametrize(
    "geometry,part,h",
    [
        ("pg.Box((0, 0, 0), (1, 1, 1))", "x_max", 0.004),
        ("pg.SphericalShellOctant(1.0, 2.0)", "outer", 0.006),
        ("pg.Rectangle(0, 1, 0, 1)", "right", 2e-6),
    ],
    ids=["box-face", "sphere", "segment"],
)
def test_part_quadrature_estimate(geometry, part, h):
    setup = f"""
import pinngelu as pg
from pinngelu.geometry.quadrature import PART_BYTES_PER_POINT, part_points, part_quadrature
geom = {geometry}
part_quadrature(geom, {part!r}, 0.1)
estimate = PART_BYTES_PER_POINT[geom.dim] * part_points(geom, {part!r}, {h})
"""
    _close(*_peak(setup, f"X, N, w = part_quadrature(geom, {part!r}, {h})"))


@needs_rss
@pytest.mark.parametrize(
    "where,settings",
    [
        ("RECT, MAT, RECT_BCS", "n_interior=200000, n_boundary=50000"),
        ("RECT, MAT, RECT_BCS", "n_interior=20000, n_boundary=200000"),
        ("BOX, MAT, BOX_BCS", "n_interior=100000, n_boundary=25000"),
        ("RECT, MAT, RECT_BCS", "n_interior=100000, n_boundary=25000, hard_dirichlet=True"),
        ("BOX, MAT, BOX_BCS", "n_interior=30000, n_boundary=10000, hard_dirichlet=True"),
    ],
    ids=["2d", "2d-boundary", "3d", "2d-hard", "3d-hard"],
)
def test_collocation_estimate(where, settings):
    setup = (
        _PROBLEMS
        + f"""
from pinngelu.strong import collocation_bytes
p = pg.ElasticityProblem({where}, formulation=pg.StrongForm(), {settings})
p0 = pg.ElasticityProblem({where}, formulation=pg.StrongForm(), n_interior=100,
                          n_boundary=50, hard_dirichlet=p.hard_dirichlet)
p0.residual_groups(np.random.default_rng(0))
estimate = collocation_bytes(p)[1]
"""
    )
    _close(*_peak(setup, "groups = p.residual_groups(np.random.default_rng(1))"))


@needs_rss
@pytest.mark.parametrize(
    "where,form",
    [
        ("BOX, MAT, BOX_BCS", "h=0.1"),
        ("BOX, MAT, BOX_BCS[:1], body_force=(0, 0, -1.0)", "h=0.1"),
        ("RECT, MAT, RECT_BCS", "h=0.015"),
        (
            "pg.Annulus((0, 0), 1.0, 2.0), MAT, "
            "[pg.Traction('inner', (0.0, 0.0)), pg.Dirichlet('outer', (0.0, 0.0))]",
            "h=0.03",
        ),
        ("RECT, MAT, RECT_BCS", "h=0.015, strong_weight=0.1"),
    ],
    ids=["3d", "3d-body-force", "2d-graded-enriched", "2d-curved", "2d-strong-weight"],
)
def test_energy_groups_estimate(where, form):
    setup = (
        _PROBLEMS
        + f"""
from pinngelu.energy import energy_bytes
p = pg.ElasticityProblem({where}, formulation=pg.EnergyForm({form}))
small = pg.ElasticityProblem({where}, formulation=pg.EnergyForm(h=0.25))
small.residual_groups(np.random.default_rng(0))
p.singular_points
estimate = energy_bytes(p, p.formulation)["points peak"]
"""
    )
    _close(*_peak(setup, "groups = p.residual_groups(np.random.default_rng(1))"))


@needs_rss
def test_evaluation_estimate():
    setup = (
        _PROBLEMS
        + """
from pinngelu.loss import loss_and_grad
from pinngelu.training.memory_plan import evaluation_bytes
p = pg.ElasticityProblem(RECT, MAT, RECT_BCS, formulation=pg.StrongForm(),
                         n_interior=100000, n_boundary=1000)
groups = p.residual_groups(np.random.default_rng(0))
mlp = pg.MLP(2, (50, 50), 2)
theta = mlp.init(np.random.default_rng(0))
loss_and_grad(mlp, theta, [g.rows(0, 100) for g in groups])
estimate = evaluation_bytes(mlp.n_params, max(g.n_points for g in groups))
"""
    )
    _close(*_peak(setup, "res = loss_and_grad(mlp, theta, groups)"))


@needs_rss
@pytest.mark.parametrize(
    "case",
    [
        "RECT, MAT, RECT_BCS, formulation=pg.StrongForm(), n_interior=20000, n_boundary=4000",
        "BOX, MAT, BOX_BCS, formulation=pg.StrongForm(), n_interior=10000, n_boundary=2000",
        "RECT, MAT, RECT_BCS, formulation=pg.EnergyForm(h=0.03)",
        "RECT, MAT, RECT_BCS, formulation=pg.EnergyForm(h=0.03, enrich=False)",
        "BOX, MAT, BOX_BCS, formulation=pg.EnergyForm(h=0.2)",
    ],
    ids=["strong-2d", "strong-3d", "energy-2d-enriched", "energy-2d", "energy-3d"],
)
def test_output_layer_estimate(case):
    setup = (
        _PROBLEMS
        + f"""
from pinngelu.loss import fit_linear_layer
from pinngelu.training.memory_plan import output_layer_bytes
p = pg.ElasticityProblem({case})
groups = p.residual_groups(np.random.default_rng(0))
d = p.dim
mlp = pg.MLP(d, (30, 30), d)
theta = mlp.init(np.random.default_rng(0))
small = pg.MLP(d, (4,), d)
fit_linear_layer(small, small.init(np.random.default_rng(0)), [g.rows(0, 10) for g in groups])
est = p.formulation.memory_bytes(p)
estimate = output_layer_bytes(
    mlp, est["rows"], est["n_group"], est["n_e"], not p.formulation.least_squares,
    int(est["k_group"]),
)
"""
    )
    _close(*_peak(setup, "theta, c = fit_linear_layer(mlp, theta, groups)"))


@needs_rss
@pytest.mark.parametrize(
    "case,stage,width",
    [
        (
            "RECT, MAT, RECT_BCS, formulation=pg.StrongForm(), n_interior=500, n_boundary=200",
            "pg.LevenbergMarquardt(1)",
            30,
        ),
        ("RECT, MAT, RECT_BCS, n_interior=5000", "pg.QuasiNewton(1)", 20),
        ("BOX, MAT, BOX_BCS, n_interior=1000", "pg.LBFGS(1)", 20),
        (
            "RECT, MAT, RECT_BCS, formulation=pg.StrongForm(), n_interior=30000, n_boundary=6000",
            "pg.LBFGS(1)",
            30,
        ),
    ],
    ids=["lm", "energy-2d", "energy-3d", "strong"],
)
def test_training_estimate(case, stage, width):
    """The whole run (points, calibration, stages, the energy's quadrature checks)."""
    setup = (
        _PROBLEMS
        + f"""
from pinngelu.training.memory_plan import memory_estimates
config = pg.TrainConfig(stages=({stage},), print_every=0)
p0 = pg.ElasticityProblem({case.split(", n_interior")[0]}, n_interior=100)
d = p0.dim
pg.train(p0, pg.MLP(d, (4,), d), rng=np.random.default_rng(0), config=config, out=None)
p = pg.ElasticityProblem({case})
mlp = pg.MLP(d, ({width}, {width}), d)
estimate = memory_estimates(p, mlp, config)["total"]
"""
    )
    stmt = "res = pg.train(p, mlp, rng=np.random.default_rng(0), config=config, out=None)"
    _close(*_peak(setup, stmt))


# ------------------------------------------------------------ the refusals


def _refused(make, *words: str) -> memory.MemoryLimitError:
    t0 = time.perf_counter()
    with pytest.raises(memory.MemoryLimitError) as info:
        make()
    assert time.perf_counter() - t0 < 2.0
    msg = str(info.value)
    assert "needs about" in msg and "memory limit" in msg
    for w in words:
        assert w in msg, msg
    return info.value


def test_fine_energy_quadrature_refused_from_the_cell_count():
    """EnergyForm(h=0.01) on a unit box: 12 million cells, about 100 GB; refused while
    the problem is built, from the cell count, before any mesh is made."""
    memory.set_limit("4G")
    err = _refused(lambda: _box(pg.EnergyForm(h=0.01)), "EnergyForm(h=...)", "StrongForm()")
    assert "GB" in str(err)
    assert volume_cells(pg.Box((0, 0, 0), (1, 1, 1)), 0.01) == pytest.approx(1.2e7)
    # the quadrature itself refuses too, before meshing
    _refused(lambda: volume_quadrature(pg.Box((0, 0, 0), (1, 1, 1)), 0.01), "cell size h")


def test_default_energy_quadrature_with_many_points_refused():
    """n_interior=200000 on a box: the default quadrature (about 800000 points) and
    its groups are refused while the problem is built under a 1 GB limit, and its
    training (the solve of the output layer, the check on half the cell size) under
    8 GB; the default formulation does not fall back to the strong form."""
    memory.set_limit("1G")
    _refused(lambda: _box(n_interior=200000), "n_interior", "EnergyForm(h=...)")
    _refused(lambda: _box(pg.EnergyForm(), n_interior=200000), "n_interior")
    memory.set_limit("8G")
    p = _box(n_interior=200000)
    assert isinstance(p.formulation, pg.EnergyForm)
    mlp = pg.MLP(3, (50, 50), 3)
    _refused(
        lambda: pg.train(p, mlp, rng=np.random.default_rng(0), out=None),
        "training",
        "EnergyForm(h=...)",
        "quadrature check",
    )
    assert not [k for k in p._cache if k[0] == "energy-quadrature"]  # nothing built


def test_levenberg_marquardt_refused_below_its_need():
    """MLP(2, (70, 70), 2): 5322 parameters, about 1 GB of normal equations."""
    p = _rect(pg.StrongForm())
    mlp = pg.MLP(2, (70, 70), 2)
    config = pg.TrainConfig(stages=(pg.LevenbergMarquardt(3),))
    memory.set_limit("500M")
    _refused(
        lambda: pg.train(p, mlp, rng=np.random.default_rng(0), config=config, out=None),
        "optimiser",
        "LevenbergMarquardt",
        "LBFGS",
    )

    def normal(x):
        raise AssertionError("the normal equations are not evaluated")

    _refused(lambda: lm_init(normal, np.zeros(mlp.n_params)), "LevenbergMarquardt")


def test_dense_quasi_newton_refused_before_allocating():
    memory.set_limit("10M")

    def fun(x):
        raise AssertionError("the objective is not evaluated")

    _refused(lambda: qn_init(fun, np.zeros(2000)), "2000 x 2000", "LBFGS")


def test_default_optimiser_falls_back_to_lbfgs_where_the_matrix_does_not_fit():
    """5000 parameters: a 200 MB dense matrix, above a 100 MB limit: the default stage
    is L-BFGS (and says why); given explicitly, the quasi-Newton stage is refused."""
    memory.set_limit("100M")
    cfg = pg.TrainConfig(time_limit=10.0)
    assert [type(s) for s in cfg.resolved_stages(5000)] == [pg.LBFGS]
    assert "200 MB" in cfg.default_fallback(5000)
    assert [type(s) for s in cfg.resolved_stages(3000)] == [pg.QuasiNewton]  # 72 MB
    _refused(lambda: pg.QuasiNewton(10).check(5000), "5000 x 5000", "LBFGS")
    _refused(lambda: pg.LevenbergMarquardt(10).check(5000), "LevenbergMarquardt", "800 MB")


def test_collocation_points_refused_before_drawing():
    p = _rect(pg.StrongForm(), n_interior=10**7)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    memory.set_limit(collocation_bytes(p)[1] / 2)
    _refused(lambda: sample_points(p, rng), "n_interior")
    assert rng.bit_generator.state == state
    _refused(lambda: p.residual_groups(rng), "n_interior")


def test_part_quadrature_refused():
    memory.set_limit("10M")
    box = pg.Box((0, 0, 0), (1, 1, 1))
    _refused(lambda: part_quadrature(box, "x_max", 1e-3), "x_max", "cell size h")


def test_energy_check_of_a_huge_part_is_relative_to_its_size():
    """The check that a loaded part has a parametrisation integrates it at the part's
    own size, not at 1 m: a face of 1e4 x 1e4 m takes nine points, not 9e8."""
    geom = pg.Box((0, 0, 0), (1e4, 1e4, 1e4))
    bcs = [pg.Dirichlet("x_min", (0, 0, 0)), pg.Traction("z_max", (0, 0, -1.0))]
    p = pg.ElasticityProblem(geom, MAT, bcs, formulation=pg.StrongForm())
    kinds = {0: "dirichlet"}
    memory.set_limit("1M")
    t0 = time.perf_counter()
    check_energy_problem(p, kinds)
    assert time.perf_counter() - t0 < 1.0
    rect = pg.Rectangle(0, 1e4, 0, 1)
    p2 = pg.ElasticityProblem(
        rect,
        MAT,
        [pg.Dirichlet("left", (0, 0)), pg.Traction("bottom", (0, -1.0))],
        formulation=pg.StrongForm(),
    )
    check_energy_problem(p2, {0: "dirichlet"})


@pytest.mark.parametrize("aspect", [1000.0, 1e6])
def test_slender_part_default_cell_size_refused(aspect):
    geom = pg.Rectangle(0.0, aspect, 0.0, 1.0)
    bcs = [pg.Dirichlet("left", (0.0, 0.0)), pg.Traction("right", (0.0, -1e-3))]
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="too slender") as info:
        pg.ElasticityProblem(geom, MAT, bcs, formulation=pg.EnergyForm())
    msg = str(info.value)
    assert "EnergyForm(h=...)" in msg and "StrongForm()" in msg
    p = pg.ElasticityProblem(geom, MAT, bcs)  # the default falls back, saying why
    assert time.perf_counter() - t0 < 2.0
    assert isinstance(p.formulation, pg.StrongForm)
    assert "too slender" in p.formulation_reason


def test_moderately_slender_part_keeps_the_energy_formulation():
    geom = pg.Rectangle(0.0, 100.0, 0.0, 1.0)  # 7 times the points asked for
    bcs = [pg.Dirichlet("left", (0.0, 0.0)), pg.Traction("right", (0.0, -1e-3))]
    p = pg.ElasticityProblem(geom, MAT, bcs)
    assert isinstance(p.formulation, pg.EnergyForm)
    n = energy_bytes(p, p.formulation, exact=False)["n_points"]
    assert 2 * p.n_interior < n < SLENDER_LIMIT * 2 * p.n_interior


def test_estimates_need_no_allocation():
    """The estimates of a quadrature that could not be built are found at once."""
    box = pg.Box((0, 0, 0), (1, 1, 1))
    t0 = time.perf_counter()
    assert volume_quadrature_bytes(box, 1e-3) > 1e12
    assert time.perf_counter() - t0 < 0.5
