"""Bad inputs through the public API and the command line, as a new user would make
them: each must fail fast with the right exception type and a message that names
the argument and the problem (or warn, where a warning is the documented answer).

Every row is one probe: ``(make, exception, message phrase)``, where ``make(tmp)``
performs the bad call (``tmp`` is a scratch folder).  Nothing here trains or runs a
kernel beyond a zero-point evaluation, except the few probes of resuming, which write a
checkpoint of two iterations on a tiny energy problem, and of a zero-iteration stage.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import pinngelu as pg
from pinngelu.app import cli
from pinngelu.training.adaptive import density

STEEL = pg.Material.from_E_nu(210e9, 0.3)


def square() -> pg.Rectangle:
    return pg.Rectangle(0.0, 1.0, 0.0, 1.0)


def problem(conditions=None, material=None, **kw) -> pg.ElasticityProblem:
    """A small clamped unit square (no training happens on it here)."""
    kw.setdefault("n_interior", 16)
    kw.setdefault("n_boundary", 32)
    return pg.ElasticityProblem(
        kw.pop("geometry", square()),
        STEEL if material is None else material,
        [pg.Dirichlet("left")] if conditions is None else conditions,
        **kw,
    )


def mlp() -> pg.MLP:
    return pg.MLP(2, (4,), 2)


def solution(**kw) -> pg.Solution:
    net = mlp()
    prob = problem(**kw)
    enr = prob.enrichment()  # untrained: the singular fields' coefficients are zero
    zeros = None if enr is None else np.zeros(enr.n)
    return prob.solution(net, net.init(np.random.default_rng(0), "glorot"), enrichment=zeros)


def write(path, data: bytes | str):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)
    return path


def box() -> pg.Box:
    return pg.Box([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])


RNG = np.random.default_rng(0)
NODES = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
TRIS = np.array([[0, 1, 2], [1, 3, 2]])


def train_small(**kw):
    return pg.train(problem(), mlp(), **{"rng": np.random.default_rng(0), **kw})


BEAM = pg.Rectangle(0.0, 1.0, 0.0, 0.2)


def beam(conditions=None, **kw) -> pg.ElasticityProblem:
    """A 1 x 0.2 cantilever: clamped left, loaded right."""
    if conditions is None:
        conditions = [pg.Dirichlet("left", 0.0), pg.Traction("right", [0.0, -1e6])]
    return pg.ElasticityProblem(BEAM, STEEL, conditions, **kw)


@dataclass(frozen=True)
class CoarseCheckFails(pg.EnergyForm):
    """The energy formulation whose check during training fails on cells of 0.05 m or
    more after every iteration: training refines its quadrature once (to 0.025 m)."""

    def check_every(self, solved_output_layer: bool) -> int:
        return 1

    def self_check(self, problem, mlp, theta, device, coefficients=None) -> dict:
        return {"relative_difference": 1.0 if self.h >= 0.05 else 0.0, "tolerance": 0.5}


_REFINED: list = []


def refined_checkpoint(tmp: Path) -> Path:
    """A checkpoint of an energy run whose quadrature was refined once (h 0.05 -> 0.025),
    written once (into the first caller's scratch folder) and read by the others."""
    if _REFINED:
        return _REFINED[0]
    path = tmp / "refined.npz"
    cfg = pg.TrainConfig(stages=(pg.LBFGS(2),), print_every=0, checkpoint=path)
    prob = beam(formulation=CoarseCheckFails(h=0.05), n_interior=16)
    res = pg.train(prob, mlp(), rng=np.random.default_rng(0), config=cfg, out=None)
    assert res.formulation.h == 0.025
    _REFINED.append(path)
    return path


def resume_refined(tmp: Path, formulation, out=None) -> pg.TrainResult:
    """Resume the run of :func:`refined_checkpoint` on a beam with ``formulation``."""
    path = refined_checkpoint(tmp)
    cfg = pg.TrainConfig(stages=(pg.LBFGS(3),), print_every=0, checkpoint=tmp / "more.npz")
    prob = beam(formulation=formulation, n_interior=16)
    return pg.resume(path, prob, mlp(), rng=np.random.default_rng(1), config=cfg, out=out)


def at_origin(X: np.ndarray) -> np.ndarray:
    """A point-like predicate: the boundary points within 1e-7 m of the origin."""
    return np.linalg.norm(X, axis=1) < 1e-7


def exclusion_mask(*args) -> np.ndarray:
    """:func:`pinngelu.fem.compare.exclusion_mask` (imported here: the ``fem`` extra)."""
    from pinngelu.fem.compare import exclusion_mask as mask

    return mask(*args)


P = pytest.param
ENERGY = {"formulation": pg.EnergyForm()}
CASES = [
    # ------------------------------------------------------------------ geometry
    P(
        lambda t: pg.Rectangle(1.0, 0.0, 0.0, 1.0),
        ValueError,
        "degenerate Rectangle: need lo < hi",
        id="rect-swapped",
    ),
    P(lambda t: pg.Rectangle(0.0, np.nan, 0.0, 1.0), ValueError, "finite", id="rect-nan"),
    P(lambda t: pg.Disk((0.0, 0.0), 0.0), ValueError, "radius must be positive", id="disk-r0"),
    P(
        lambda t: pg.Disk((0, 0, 0), 1.0),
        ValueError,
        r"center must have shape \(2,\)",
        id="disk-3d",
    ),
    P(lambda t: pg.Annulus((0, 0), 2.0, 1.0), ValueError, "r_inner < r_outer", id="annulus"),
    P(
        lambda t: pg.AnnularSector((0, 0), 1.0, 2.0, 0.0, 0.0),
        ValueError,
        "theta_end - theta_start",
        id="sector-angle",
    ),
    P(lambda t: pg.Polygon([[0, 0], [1, 0]]), ValueError, "k >= 3", id="polygon-2-vertices"),
    P(
        lambda t: pg.Polygon([[0, 0], [1, 1], [1, 0], [0, 1]]),
        ValueError,
        "self-intersecting",
        id="polygon-bowtie",
    ),
    P(lambda t: pg.Polygon([[0, 0], [1, 0], [2, 0]]), ValueError, "zero area", id="polygon-flat"),
    P(
        lambda t: pg.Box([0, 0, 0], [1, -1, 1]),
        ValueError,
        "degenerate Box: need lo < hi",
        id="box-swapped",
    ),
    P(lambda t: pg.Box([0, 0], [1, 1]), ValueError, r"lo must have shape \(3,\)", id="box-2d"),
    P(lambda t: pg.SphericalShellOctant(2.0, 1.0), ValueError, "r_inner < r_outer", id="shell"),
    P(lambda t: pg.Difference(square(), box()), ValueError, "dimension mismatch", id="csg-dims"),
    P(lambda t: square().sample_interior(-1, RNG), ValueError, "n must be >= 0", id="sample-n"),
    P(
        lambda t: square().sample_interior(4, RNG, method="grid"),
        ValueError,
        "unknown sampling method 'grid'",
        id="sample-method",
    ),
    P(lambda t: square().sample_interior(4, 0), ValueError, "numpy.random.Generator", id="rng"),
    P(
        lambda t: square().sample_boundary(4, RNG, parts="nope"),
        ValueError,
        "unknown boundary part 'nope'; valid parts: left",
        id="boundary-part",
    ),
    P(lambda t: square().contains(np.zeros((3, 3))), ValueError, r"\(N, 2\)", id="contains-shape"),
    P(lambda t: square().mesh(0.0), ValueError, "h must be positive", id="mesh-h"),
    # ------------------------------------------------------------------ material
    P(lambda t: pg.Material.from_E_nu(1.0, 0.5), ValueError, "Poisson ratio nu", id="nu-0.5"),
    P(lambda t: pg.Material.from_E_nu(-1.0, 0.3), ValueError, "Young's modulus", id="E-negative"),
    P(lambda t: pg.Material.from_lame(1.0, 0.0), ValueError, "shear modulus mu", id="mu-0"),
    P(lambda t: pg.Material(np.nan, 1.0), ValueError, "finite", id="lam-nan"),
    P(lambda t: pg.Material(1.0 + 1j, 1.0), TypeError, "lam: complex", id="lam-complex"),
    P(lambda t: pg.Material.from_E_nu(1.0, "0.3"), TypeError, "Poisson ratio nu", id="nu-str"),
    P(lambda t: pg.Material(1.0, True), TypeError, "mu must be a real", id="mu-bool"),
    # ------------------------------------------------------------ conditions
    P(lambda t: pg.Dirichlet("left", components=(0, 0)), ValueError, "repeat", id="comps-twice"),
    P(lambda t: pg.Dirichlet("left", components=0), TypeError, "sequence of ints", id="comps-int"),
    P(lambda t: pg.Traction("top", "1e6"), TypeError, "'top': value.*string", id="value-str"),
    P(lambda t: pg.Traction("top", [0, 1j]), TypeError, "'top': value: complex", id="complex"),
    P(
        lambda t: pg.Dirichlet("left", [[0.0, 1.0], [2.0]]),
        ValueError,
        "Dirichlet on 'left': value: values must form a regular array",
        id="value-ragged",
    ),
    P(lambda t: pg.Pressure("top", None), TypeError, "Pressure on 'top'", id="pressure-none"),
    P(lambda t: pg.Symmetry("left", weight=-1), ValueError, "weights must be >= 0", id="weight"),
    P(lambda t: pg.Dirichlet(3.0), ValueError, "name or a predicate", id="part-float"),
    # ------------------------------------------------------------- problem
    P(
        lambda t: problem([pg.Dirichlet("front")]),
        ValueError,
        "'front', which does not exist.*left, right, bottom, top",
        id="unknown-part",
    ),
    P(
        lambda t: problem([pg.Dirichlet("left", components=(2,))]),
        ValueError,
        r"components must be in 0\.\.1",
        id="component-range",
    ),
    P(
        lambda t: problem([pg.Dirichlet("left", [0.0, 0.0, 0.0])]),
        ValueError,
        "Dirichlet on 'left': expected a scalar or 2 values",
        id="value-shape",
    ),
    P(
        lambda t: problem([pg.Dirichlet("left", lambda X: X + 1j)]),
        TypeError,
        "Dirichlet on 'left': the function: complex",
        id="value-fn-complex",
    ),
    P(lambda t: problem(body_force=[1.0, 2.0, 3.0]), ValueError, "body force", id="bf-shape"),
    P(lambda t: problem(body_force=[0.0, 1j]), TypeError, "body force: complex", id="bf-complex"),
    P(lambda t: problem(body_force="gravity"), TypeError, "body force.*string", id="bf-str"),
    P(
        lambda t: problem(body_force=lambda X: np.full(X.shape, np.nan)),
        ValueError,
        "body force: values contain NaN",
        id="bf-nan",
    ),
    P(
        lambda t: problem([pg.Dirichlet("left"), pg.Traction("left", 1.0, components=(1,))]),
        ValueError,
        "Dirichlet and Traction on 'left' both prescribe component y",
        id="dirichlet-and-traction",
    ),
    P(
        lambda t: problem([pg.Dirichlet("left"), pg.Dirichlet("left")]),
        ValueError,
        "given twice",
        id="duplicated-condition",
    ),
    P(
        lambda t: problem([pg.Symmetry("left"), pg.Dirichlet("left", components=(1,))]),
        ValueError,
        "Symmetry and Dirichlet on 'left'",
        id="symmetry-and-dirichlet",
    ),
    P(
        lambda t: problem(material=pg.Material.from_E_nu(1.0, 0.49999)),
        ValueError,
        "nearly incompressible: lam/mu = 5e\\+04",
        id="nu-0.49999-plane-strain",
    ),
    P(
        lambda t: problem(data=[pg.DisplacementData([[2.0, 0.5]], [[0.0, 0.0]], name="dic")]),
        ValueError,
        "data 'dic' points: 1 point.*outside the domain",
        id="data-outside",
    ),
    P(
        lambda t: problem(data=[pg.DisplacementData([[0.5, 0.5]], [[1j, 0.0]], name="dic")]),
        TypeError,
        "data 'dic' displacements: complex",
        id="data-complex",
    ),
    P(
        lambda t: problem(geometry=box(), conditions=[pg.Dirichlet("x_min")], plane_stress=True),
        ValueError,
        "plane_stress applies to 2D",
        id="plane-stress-3d",
    ),
    P(lambda t: problem(identify=("E",)), ValueError, "can identify 'lam' and 'mu'", id="ident"),
    P(lambda t: problem(n_interior=0), ValueError, "n_interior must be a positive", id="n-int"),
    P(lambda t: problem(sampling="grid"), ValueError, "sampling must be", id="sampling"),
    P(lambda t: problem([]), ValueError, "no boundary conditions", id="no-conditions"),
    P(
        lambda t: pg.ElasticityProblem("square", STEEL, [pg.Dirichlet("left")]),
        ValueError,
        "geometry must be a pinngelu Geometry",
        id="geometry-type",
    ),
    P(
        lambda t: pg.ElasticityProblem(square(), (1.0, 0.3), [pg.Dirichlet("left")]),
        ValueError,
        "material must be a pinngelu Material",
        id="material-type",
    ),
    P(lambda t: problem(interior_weight=1j), TypeError, "interior_weight: complex", id="w-cplx"),
    P(lambda t: problem(displacement_scale=-1.0), ValueError, "displacement scale", id="U<0"),
    P(lambda t: problem(length_scale="1"), TypeError, "length_scale", id="L-str"),
    # ------------------------------------------------------------------ network
    P(
        lambda t: pg.MLP(4, (4,), 2),
        ValueError,
        r"in_dim \(input dimension\) must be 1, 2 or 3",
        id="mlp-in",
    ),
    P(lambda t: pg.MLP(2, (0,), 2), ValueError, "hidden layer 0 has width 0", id="mlp-width"),
    P(lambda t: pg.MLP(2, (), 2), ValueError, "at least one hidden layer", id="mlp-no-hidden"),
    P(
        lambda t: pg.MLP(2.5, (4,), 2),
        (TypeError, ValueError),
        r"in_dim \(input dimension\) must be an integer",
        id="in",
    ),
    P(
        lambda t: pg.MLP(2, (4,), 2, activation="swish"),
        ValueError,
        "unknown activation 'swish'",
        id="mlp-activation",
    ),
    P(lambda t: mlp().init(RNG, "he"), ValueError, "unknown init scheme 'he'", id="init"),
    P(lambda t: mlp().init(0, "glorot"), ValueError, "numpy.random.Generator", id="init-rng"),
    P(lambda t: mlp().check_theta(np.zeros(3)), ValueError, r"shape \(22,\)", id="theta-len"),
    P(
        lambda t: mlp().check_theta(np.zeros(22, np.float32)),
        ValueError,
        "must be float64, got float32",
        id="theta-f32",
    ),
    P(lambda t: mlp().check_theta(np.full(22, np.nan)), ValueError, "NaN", id="theta-nan"),
    P(lambda t: pg.MLP.load(t / "no.npz"), FileNotFoundError, "no model file", id="mlp-load"),
    # ------------------------------------------------------------- training
    P(lambda t: pg.LBFGS(-1), ValueError, "LBFGS: iters", id="lbfgs-iters"),
    P(
        lambda t: pg.TrainConfig(time_limit=-1.0),
        ValueError,
        "time_limit must be a finite number > 0",
        id="tl",
    ),
    P(
        lambda t: pg.Adam(5, lr=-1.0),
        ValueError,
        "Adam: lr must be a finite number > 0",
        id="lr",
    ),
    P(lambda t: pg.TrainConfig(print_every=-1), ValueError, "print_every", id="print-every"),
    P(lambda t: train_small(rng=0), ValueError, "numpy.random.Generator", id="train-rng"),
    P(
        lambda t: pg.train(problem(), pg.MLP(3, (4,), 3), rng=RNG),
        ValueError,
        "the network maps 3-D to 3-D, the problem is 2-D",
        id="train-dims",
    ),
    P(lambda t: train_small(theta0=np.zeros(3)), ValueError, r"shape \(22,\)", id="theta0"),
    P(lambda t: train_small(device="gpu"), ValueError, "unknown device 'gpu'", id="device"),
    P(
        lambda t: train_small(config=pg.TrainConfig(checkpoint=t / "no" / "c.npz")),
        ValueError,
        "checkpoint folder .* does not exist",
        id="checkpoint-folder",
    ),
    P(
        lambda t: pg.resume(t / "none.npz", problem(), mlp(), rng=RNG),
        FileNotFoundError,
        "no checkpoint at",
        id="resume-missing",
    ),
    # ------------------------------------------------------------- solution
    P(
        lambda t: solution().displacement(np.array([[2.0, 0.5]])),
        ValueError,
        "outside the domain.*check_inside=False",
        id="eval-outside",
    ),
    P(
        lambda t: solution().stress(np.array([[0.5, 0.5j]])),
        TypeError,
        "evaluation points: complex",
        id="eval-complex",
    ),
    P(
        lambda t: solution().strain([[0.5, 0.5], [0.5]]),
        ValueError,
        "evaluation points: values must form a regular array",
        id="eval-ragged",
    ),
    P(
        lambda t: solution().fields(np.array([[np.nan, 0.5]])),
        ValueError,
        "evaluation points contain NaN",
        id="eval-nan",
    ),
    P(
        lambda t: solution().displacement(np.zeros((4, 3))),
        ValueError,
        r"evaluation points must have shape \(N, 2\)",
        id="eval-shape",
    ),
    P(
        lambda t: solution(exact=lambda X: X).relative_l2_error(np.zeros((0, 2))),
        ValueError,
        "at least one point, got 0",
        id="error-no-points",
    ),
    P(
        lambda t: solution().relative_l2_error(np.array([[0.5, 0.5]])),
        ValueError,
        "no exact solution",
        id="error-no-exact",
    ),
    P(lambda t: pg.Solution.load(t / "no.npz"), FileNotFoundError, "no model file", id="load"),
    P(
        lambda t: pg.Solution.load(write(t / "cut.npz", b"PK\x03\x04abc")),
        ValueError,
        "cut.npz is not a pinngelu model file",
        id="load-truncated",
    ),
    P(
        lambda t: (np.savez(t / "x.npz", a=np.zeros(2)), pg.Solution.load(t / "x.npz")),
        ValueError,
        "x.npz is not a pinngelu model file",
        id="load-foreign",
    ),
    # ------------------------------------------------------------------ output
    P(
        lambda t: pg.io.write_fields(t / "x.foo", NODES, TRIS, {"u": np.zeros((4, 2))}),
        ValueError,
        "cannot write files with suffix '.foo'",
        id="write-suffix",
    ),
    P(
        lambda t: pg.io.write_fields(t / "x.vtu", NODES, np.zeros((2, 5), int), {}),
        ValueError,
        r"cells must be triangles \(M, 3\)",
        id="write-cells",
    ),
    P(lambda t: pg.io.write_json(t / "x.json", {"a": {1}}), TypeError, "serialise set", id="json"),
    P(
        lambda t: pg.io.prepare_output_dir(write(t / "f", "x") / "sub"),
        ValueError,
        "output folder .* cannot be written",
        id="out-under-file",
    ),
    P(
        lambda t: pg.io.write_solution(
            t / "s.vtu", pg.Solution(mlp(), np.zeros(22), problem().scales, STEEL)
        ),
        ValueError,
        "no geometry; pass mesh",
        id="write-solution-no-geometry",
    ),
    # -------------------------------------------------------------- meshes
    P(
        lambda t: pg.MeshDomain.from_file(t / "no.msh"),
        FileNotFoundError,
        "mesh file not found",
        id="mesh-missing",
    ),
    P(
        lambda t: pg.MeshDomain.from_file(write(t / "empty.msh", "")),
        ValueError,
        "empty.msh",
        id="mesh-empty",
    ),
    P(
        lambda t: pg.MeshDomain.from_file(write(t / "junk.msh", "hello")),
        ValueError,
        "cannot read mesh file .*junk.msh",
        id="mesh-garbage",
    ),
    P(lambda t: pg.MeshDomain.from_file(t), ValueError, "is not a file", id="mesh-folder"),
    P(
        lambda t: pg.MeshDomain(NODES, np.array([[0, 1, 7]])),
        ValueError,
        r"node indices must lie in 0\.\.3",
        id="mesh-index-range",
    ),
    P(
        lambda t: pg.MeshDomain(NODES, np.vstack([TRIS, TRIS[:1]])),
        ValueError,
        "duplicate or overlapping cells",
        id="mesh-duplicate-cell",
    ),
    P(
        lambda t: pg.MeshDomain(NODES, np.array([[0, 1, 1], [1, 3, 2]])),
        ValueError,
        "degenerate",
        id="mesh-degenerate",
    ),
    P(
        lambda t: pg.MeshDomain(NODES, TRIS + 0.5),
        ValueError,
        "node indices must be integers",
        id="mesh-float-cells",
    ),
    P(
        lambda t: pg.MeshDomain(np.where(NODES == 1.0, np.nan, NODES), TRIS),
        ValueError,
        "node coordinates contain NaN",
        id="mesh-nan",
    ),
    # after the geometry, network, training and io checks
    P(lambda t: pg.MLP(2, 20, 2), TypeError, "hidden", id="mlp-int-hidden"),
    P(lambda t: pg.MLP(2, "20", 2), TypeError, "hidden", id="mlp-str-hidden"),
    P(lambda t: pg.train(mlp(), problem(), rng=RNG), TypeError, "problem", id="train-swapped"),
    P(lambda t: train_small(config={"print_every": 1}), TypeError, "config", id="config-dict"),
    P(lambda t: pg.TrainConfig(lbfgs_iters=5), TypeError, "pg.LBFGS", id="removed-lbfgs-iters"),
    P(
        lambda t: pg.ElasticityProblem(
            pg.Rectangle(0.0, 1.0, 0.0, 0.2),
            pg.Material.from_E_nu(210e9, 0.3),
            [pg.Dirichlet("left", 0.0, weight=0.0), pg.Traction("right", [0.0, -1e6])],
            formulation=pg.EnergyForm(),
        ),
        ValueError,
        "weight=0 cannot apply, the condition is built into the network",
        id="hard-dirichlet-weight-energy",
    ),
    P(
        lambda t: pg.ElasticityProblem(
            pg.Rectangle(0.0, 1.0, 0.0, 0.2),
            pg.Material.from_E_nu(210e9, 0.3),
            [pg.Dirichlet("left", 0.0, weight=5.0), pg.Traction("right", [0.0, -1e6])],
            hard_dirichlet=True,
        ),
        ValueError,
        "weight=5 cannot apply",
        id="hard-dirichlet-weight-strong",
    ),
    P(
        lambda t: pg.ElasticityProblem(
            pg.Rectangle(0.0, 1.0, 0.0, 0.2),
            pg.Material.from_E_nu(210e9, 0.3),
            [pg.Dirichlet("left", 0.0), pg.Traction("right", [0.0, -1e6])],
            formulation=pg.EnergyForm(h=2.0),
        ),
        ValueError,
        "h=2 m is larger than a quarter of the part's smallest extent.*so few cells.*"
        "the quadrature check cannot tell",
        id="energy-h-too-coarse",
    ),
    P(
        lambda t: pg.ElasticityProblem(
            pg.Rectangle(0.0, 1.0, 0.0, 1.0),
            pg.Material(0.0, 1e-320),
            [pg.Dirichlet("left", 0.0), pg.Traction("right", [1.0, 0.0])],
        ),
        ValueError,
        "shear modulus mu = 9.99989e-321 Pa is below the smallest normal float64.*give "
        "the material in other units",
        id="material-tiny-mu",
    ),
    P(
        lambda t: problem(material=pg.Material(-6e199, 1e200), plane_stress=True),
        ValueError,
        r"plane stress: lam\* = 2 lam mu / \(lam \+ 2 mu\) of Material.*overflows",
        id="plane-stress-lam-overflow",
    ),
    P(
        lambda t: problem(
            [pg.Dirichlet("left"), pg.Traction("right", [1e6, 0.0])],
            material=pg.Material.from_E_nu(1e-300, 0.3),
        ),
        ValueError,
        r"displacement scale U = 1.3e\+306 m .*leaves the range.*check the material's",
        id="displacement-scale-overflow",
    ),
    P(
        lambda t: problem(material=pg.Material(0.0, 1e-300)),
        ValueError,
        r"stress scale mu U / L = 1e-303 Pa .*leaves the range.*check the material's",
        id="stress-scale-underflow",
    ),
    P(
        lambda t: pg.ElasticityProblem(
            pg.Rectangle(0.0, 1.0, 0.0, 1.0),
            pg.Material.from_E_nu(1.0, 0.3),
            [pg.Dirichlet("left", 0.0)],
            lambda X: np.where(X[:, :1] > 0.5, np.nan, 1.0) * np.ones((len(X), 2)),
        ),
        ValueError,
        "^body force: values contain NaN or inf",
        id="body-force-nan-in-part",
    ),
    P(lambda t: pg.TrainConfig(adam_iters=5), TypeError, "pg.Adam", id="removed-adam-iters"),
    P(lambda t: pg.Adam(5, lr=True), ValueError, "Adam: lr", id="adam-lr-bool"),
    P(lambda t: pg.LBFGS(5, time_limit=True), ValueError, "LBFGS: time_limit", id="stage-tl-bool"),
    P(
        lambda t: pg.LevenbergMarquardt(10, pg.QNConfig()),
        TypeError,
        "LevenbergMarquardt takes a LMConfig",
        id="lm-with-qn-config",
    ),
    P(
        lambda t: pg.QuasiNewton(10, pg.optim.LBFGSConfig()),
        TypeError,
        "QuasiNewton takes a QNConfig",
        id="qn-with-lbfgs-config",
    ),
    P(
        lambda t: pg.LBFGS(10, pg.QNConfig()),
        TypeError,
        "LBFGS takes a LBFGSConfig",
        id="lbfgs-with-qn-config",
    ),
    P(lambda t: pg.TrainConfig(max_evals=0), ValueError, "max_evals", id="max-evals-0"),
    P(lambda t: pg.TrainConfig(max_evals=2.5), ValueError, "max_evals", id="max-evals-float"),
    P(
        lambda t: pg.LBFGS(float("nan")),
        ValueError,
        "LBFGS: iters",
        id="lbfgs-nan",
    ),
    P(
        lambda t: pg.TrainConfig(time_limit="1"),
        (TypeError, ValueError),
        "time_limit",
        id="time-limit-str",
    ),
    P(
        lambda t: pg.train(
            problem(formulation=pg.StrongForm()), pg.MLP(2, (4,), 2, "relu"), rng=RNG
        ),
        ValueError,
        "relu",
        id="relu-second-order",
    ),
    P(
        lambda t: pg.Rectangle("0", 1, 0, 1),
        TypeError,
        "x_min must be a real number",
        id="rect-str",
    ),
    P(lambda t: pg.Rectangle(0, 1j, 0, 1), TypeError, "complex", id="rect-complex"),
    P(lambda t: pg.Rectangle(0, 1e-300, 0, 1), ValueError, "degenerate", id="rect-1e-300"),
    P(
        lambda t: pg.MLP.load(write(t / "cut.npz", b"PK\x03\x04abc")),
        ValueError,
        "cut.npz",
        id="mlp-load-truncated",
    ),
    P(
        lambda t: (np.savez(t / "x.npz", a=np.zeros(2)), pg.MLP.load(t / "x.npz")),
        ValueError,
        "x.npz",
        id="mlp-load-foreign",
    ),
    P(
        lambda t: pg.resume(write(t / "cut.npz", b"PK\x03\x04abc"), problem(), mlp(), rng=RNG),
        ValueError,
        "cut.npz",
        id="resume-truncated",
    ),
    P(
        lambda t: (
            np.savez(t / "x.npz", a=np.zeros(2)),
            pg.resume(t / "x.npz", problem(), mlp(), rng=RNG),
        ),
        ValueError,
        "x.npz",
        id="resume-foreign",
    ),
    P(
        lambda t: train_small(config=pg.TrainConfig(checkpoint=t / "nodir" / "c.npz")),
        ValueError,
        "does not exist",
        id="checkpoint-folder-missing",
    ),
    P(
        lambda t: pg.MeshDomain.from_file(write(t / "empty.msh", "")),
        ValueError,
        "empty.msh",
        id="mesh-empty-file",
    ),
    P(
        lambda t: pg.MeshDomain(NODES, np.array([[0, 1, 2], [0, 1, 2]])),
        ValueError,
        "duplicated",
        id="mesh-duplicated",
    ),
    P(
        lambda t: pg.MeshDomain(NODES, np.array([[0, 1, 7], [1, 3, 2]])),
        ValueError,
        "out of range|node indices",
        id="mesh-index-range",
    ),
    P(
        lambda t: pg.io.write_solution(
            t / "s.vtu", solution(), mesh=(NODES, np.array([[0, 1, 7]]))
        ),
        ValueError,
        "out of range|node indices",
        id="write-solution-mesh-range",
    ),
    P(
        lambda t: pg.io.write_solution(t / "s.vtu", solution(), mesh=(NODES, TRIS[[0, 0]])),
        ValueError,
        "duplicated",
        id="write-solution-mesh-duplicated",
    ),
    P(
        lambda t: beam([pg.Dirichlet("left"), pg.Symmetry("bottom", weight=3.0)], **ENERGY),
        ValueError,
        "Symmetry on 'bottom': weight=3 cannot apply, the energy formulation has no residual",
        id="symmetry-weight-energy",
    ),
    P(
        lambda t: beam(
            [pg.Dirichlet("left"), pg.Traction("right", [0, -1e6], weight=0.0)], **ENERGY
        ),
        ValueError,
        "Traction on 'right': weight=0 cannot apply.*the load enters the energy as its work",
        id="traction-weight-energy",
    ),
    P(
        lambda t: beam(
            [pg.Dirichlet("left"), pg.Symmetry("bottom", weight=0.0)], hard_dirichlet=True
        ),
        ValueError,
        "Symmetry on 'bottom': weight=0 cannot switch the condition off",
        id="symmetry-weight-0-hard",
    ),
    P(
        lambda t: beam([pg.Dirichlet("left"), pg.Traction("right", [0.0, -1e300])], **ENERGY),
        ValueError,
        r"displacement scale U = 6.19048e\+288 m .*leaves the range.*check the material's",
        id="traction-1e300-energy",
    ),
    P(
        lambda t: pg.ElasticityProblem(
            BEAM,
            pg.Material.from_E_nu(1e-3, 0.3),
            [pg.Dirichlet("left"), pg.Traction("right", [0.0, -1e145])],
            **ENERGY,
        ),
        ValueError,
        r"energy unit mu U\^2 L\^\(d-2\) of 1e293 J, beyond the range.*StrongForm",
        id="energy-unit-overflow",
    ),
    P(
        lambda t: beam([pg.Dirichlet(at_origin), pg.Traction("right", [0.0, -1e6])]),
        ValueError,
        "Dirichlet on 'at_origin': boundary predicate accepts .*selects too few points",
        id="point-like-predicate",
    ),
    P(
        lambda t: pg.io.write_solution(t / "s.inp", solution()),
        ValueError,
        r"abaqus format \(\.inp\) does not store the point fields.*\.vtu, \.vtk, \.xdmf or \.msh",
        id="write-solution-inp",
    ),
    P(
        lambda t: pg.io.write_solution(t / "s.su2", solution()),
        ValueError,
        r"meshio cannot write and read back 's\.su2'.*\.vtu",
        id="write-solution-su2",
    ),
    P(
        lambda t: exclusion_mask(np.zeros((3, 2)), None, 0.1),
        ValueError,
        "exclude_radius",
        id="exclude-radius-without-points",
    ),
    P(lambda t: pg.Adam(5, lr=True), ValueError, "Adam: lr must be .* got True", id="lr-true"),
    P(
        lambda t: pg.LBFGS(time_limit=True),
        ValueError,
        "LBFGS: time_limit must be .* got True",
        id="time-limit-true",
    ),
    P(
        lambda t: resume_refined(t, None),
        ValueError,
        "written for the energy formulation with settings.*resume with the formulation",
        id="resume-refined-default-formulation",
    ),
    P(
        lambda t: resume_refined(t, pg.StrongForm()),
        ValueError,
        "the problem has the strong form.*resume with the formulation of the run",
        id="resume-refined-strong-form",
    ),
]


@pytest.mark.parametrize("make, exc, match", CASES)
def test_bad_input_raises(make, exc, match, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pg.RigidBodyWarning)
        with pytest.raises(exc, match=match):
            make(tmp_path)


WARNS = [
    P(
        lambda: problem([pg.Traction("right", [1.0, 0.0]), pg.Traction("left", [-1.0, 0.0])]),
        pg.RigidBodyWarning,
        "translation along x, translation along y and rotation about z free",
        id="pure-traction",
    ),
    P(
        lambda: problem([pg.Symmetry("left")]),
        pg.RigidBodyWarning,
        "leave translation along y free",
        id="one-roller",
    ),
    P(
        lambda: problem(material=pg.Material.from_E_nu(1.0, 0.495)),
        pg.NearlyIncompressibleWarning,
        "lam/mu = 99",
        id="nu-0.495-plane-strain",
    ),
]


@pytest.mark.parametrize("make, category, match", WARNS)
def test_suspicious_input_warns(make, category, match):
    with pytest.warns(category, match=match):
        make()


def test_rad_density_stays_in_logarithms_instead_of_going_uniform():
    """k = 100 on residuals near 1e-5 (r^k underflows), k = 1e6, and residuals whose
    r^k is subnormal: the density is the formula's, never a silent uniform draw."""
    r = np.array([0.5e-5, 1e-5, 2e-5])
    p = density(r, 100.0, 0.0)
    assert p[2] > 0.999 and p[0] / p[1] == pytest.approx(0.5**100, rel=1e-10)
    assert density(r, 1e6, 0.0)[2] == 1.0
    tiny = np.array([1e-160, 3e-160])  # r^2 is subnormal: digits would be lost
    q = density(tiny, 2.0, 0.0)
    assert q[1] / q[0] == pytest.approx(9.0, rel=1e-13)


def test_rad_growth_is_capped():
    """RAD(every=1, add=10) adds 10 n0 points per adaptation at most up to
    max_growth n0 (10 n0 by default), then none."""
    rad = pg.RAD(every=1, add=10)
    assert rad.n_new(100, 100) == 900
    assert rad.n_new(100, 1000) == 0


def test_zero_iteration_stage_reports_the_loss_at_the_start():
    out = io.StringIO()
    cfg = pg.TrainConfig(stages=(pg.Adam(0),), print_every=0)
    res = pg.train(problem(), mlp(), rng=np.random.default_rng(0), config=cfg, out=out)
    assert np.isfinite(res.loss) and res.n_iter == 0
    [line] = [s for s in out.getvalue().splitlines() if s.startswith("stopped after")]
    assert line.endswith(f"best loss {res.loss:.4e}") and "nan" not in line


def test_resume_says_it_keeps_the_refined_quadrature(tmp_path):
    """Resuming with EnergyForm(h=0.05) from a checkpoint whose quadrature was refined
    continues on the refined one and says so in one line (not silently)."""
    out = io.StringIO()
    res = resume_refined(tmp_path, CoarseCheckFails(h=0.05), out=out)
    assert res.formulation.h == 0.025
    lines = [s for s in out.getvalue().splitlines() if s.startswith("resuming")]
    assert lines == [
        "resuming with the checkpoint's refined energy formulation (a quadrature of cell "
        "size 0.025 m) instead of the problem's (a quadrature of cell size 0.05 m): the run "
        "moved on to it after a failed check of its discretisation, and the resumed run "
        "continues where it stopped"
    ]


def test_default_formulation_is_the_strong_form_where_a_weight_applies():
    """A weight the energy formulation cannot apply makes the default the strong form,
    where it does apply (and the reason says why)."""
    prob = beam([pg.Dirichlet("left"), pg.Traction("right", [0.0, -1e6], weight=2.0)])
    assert isinstance(prob.formulation, pg.StrongForm)
    assert "weight=2 cannot apply" in prob.formulation_reason


def run_cli(argv: list[str]) -> tuple[int, str]:
    """Exit status and standard error of ``pinngelu ARGV``."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse errors of the top-level parser
            code = exc.code
    return code, err.getvalue()


CASE = ["run", "plate_manufactured"]
CLI_CASES = [
    P(["bogus"], 2, "invalid choice: 'bogus'", id="cli-command"),
    P(["list", "extra"], 2, "unrecognized arguments: extra", id="cli-list-extra"),
    P(["run", "no_such_case"], 2, "unknown case 'no_such_case'", id="cli-unknown-case"),
    P([*CASE, "--bogus"], 2, "unrecognized arguments: --bogus", id="cli-option"),
    P([*CASE, "--max-iter", "many"], 2, "--max-iter: invalid int value", id="cli-max-iter"),
    P([*CASE, "--seed", "1.5"], 2, "--seed: invalid int value", id="cli-seed-float"),
    P([*CASE, "--out", "{tmp}/o", "--seed", "-1"], 2, "--seed", id="cli-seed-negative"),
    P([*CASE, "--optimizer", "newton"], 2, "--optimizer: invalid choice", id="cli-optimizer"),
    P([*CASE, "--hidden", "30,x"], 2, "--hidden: invalid widths", id="cli-hidden"),
    P([*CASE, "--hidden", "30,0"], 2, "--hidden: invalid widths", id="cli-hidden-zero"),
    P(
        [*CASE, "--time-limit", "soon"],
        2,
        "--time-limit: invalid number of seconds",
        id="cli-time-limit",
    ),
    P([*CASE, "--device", "gpu"], 2, "--device: invalid choice: 'gpu'", id="cli-device"),
    P([*CASE, "--device"], 2, "--device: expected one argument", id="cli-device-missing"),
    P(
        [*CASE, "--out", "{tmp}/f"],
        (1, 2),
        "cannot be written|is a file|not a folder",
        id="cli-out-file",
    ),
    P(
        [*CASE, "--out", "{tmp}/o", "--max-iter", "-1"],
        (1, 2),
        "lbfgs_iters|--max-iter",
        id="cli-max-iter-neg",
    ),
    P(
        [*CASE, "--out", "{tmp}/o", "--print-every", "-1"],
        (1, 2),
        "print_every|--print-every",
        id="cli-print",
    ),
    P(
        [*CASE, "--out", "{tmp}/o", "--time-limit", "-1"],
        (1, 2),
        "time_limit|--time-limit",
        id="cli-tl-neg",
    ),
    P(
        [*CASE, "--out", "{tmp}/o", "--adam-iters", "-2"],
        (1, 2),
        "adam_iters|--adam-iters",
        id="cli-adam-neg",
    ),
]


@pytest.mark.parametrize("argv, code, phrase", CLI_CASES)
def test_bad_command_line(argv, code, phrase, tmp_path):
    write(tmp_path / "f", "a file, not a folder")
    got, err = run_cli([a.format(tmp=tmp_path) for a in argv])
    assert got in (code if isinstance(code, tuple) else (code,)), err  # failed, before training
    assert re.search(phrase, err), err


def test_enough_probes():
    assert len(CASES) + len(WARNS) + len(CLI_CASES) >= 60
