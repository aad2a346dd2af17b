"""Steel plate with three holes of different sizes, clamped on one end and pulled on the other.

A steel plate (E = 210 GPa, nu = 0.3, plane stress), 400 mm x 200 mm, occupies
``[0, 0.4] x [0, 0.2]`` minus three circular holes:

=======  ===============  ===========
hole     centre (m)       radius (m)
=======  ===============  ===========
hole1    (0.10, 0.10)     0.040
hole2    (0.22, 0.06)     0.025
hole3    (0.30, 0.14)     0.030
=======  ===============  ===========

It is clamped with u = 0 on its left edge x = 0, pulled by a uniform traction of
10 MPa along x on its right edge x = 0.4, and free on its top and bottom edges and
on the holes.

Trained untuned: the library's defaults (the energy formulation; the clamp built into
the network), the cases' network and time budget, no setting taken from the answer.

Reference: a P2 finite-element solution on a mesh of size 2.5 mm with curved edges
on the holes (:class:`pinngelu.fem.CaseReference`, its own error estimated from the
solution at 2h, in the summary).  The clamp corners (0, 0) and (0, 0.2), where the
u = 0 clamp meets a free edge, are singular points of the stress; stress errors are
measured outside 10 mm of them.

Metrics: relative L2 error of the displacement against the reference over a grid of
spacing 2 mm (points in the holes dropped); relative L2 errors of the stress and of
the von Mises stress on the reference's quadrature outside the clamp corners; the
largest von Mises stress on the holes' edges of both.  Targets: displacement <= 1e-3,
von Mises <= 1e-2.

Run ``python cases/plate_with_holes.py --help`` for the options.
"""

from __future__ import annotations

import sys

import numpy as np

import pinngelu as pg
from pinngelu.app.runner import CASE_HIDDEN, STEEL_E, STEEL_NU, CaseSettings, case_config, case_main
from pinngelu.fem import CaseReference

E = STEEL_E
"""Young's modulus (Pa)."""
NU = STEEL_NU
"""Poisson ratio."""
WIDTH, HEIGHT = 0.4, 0.2
"""Plate size (m)."""
HOLES = {
    "hole1": ((0.10, 0.10), 0.040),
    "hole2": ((0.22, 0.06), 0.025),
    "hole3": ((0.30, 0.14), 0.030),
}
"""Centre (m) and radius (m) of each hole, by boundary part name."""
LOAD = 10e6
"""Tension on the right edge (Pa)."""
MATERIAL = pg.Material.from_E_nu(E, NU)
CLAMP_CORNERS = np.array([[0.0, 0.0], [0.0, HEIGHT]])
"""Singular points of the stress (m)."""
EXCLUDE_RADIUS = 0.01
"""Radius (m) around the clamp corners left out of the stress errors."""


def geometry() -> pg.Geometry:
    """The plate minus its holes (parts left, right, bottom, top, hole1, hole2, hole3)."""
    geom: pg.Geometry = pg.Rectangle(0.0, WIDTH, 0.0, HEIGHT)
    for name, (c, r) in HOLES.items():
        geom = pg.Difference(geom, pg.Disk(c, r), {"boundary": name})
    return geom


def _problem(n_interior: int, n_boundary: int, exact=None) -> pg.ElasticityProblem:
    conditions = [pg.Dirichlet("left", 0.0), pg.Traction("right", [LOAD, 0.0])]
    return pg.ElasticityProblem(
        geometry(),
        MATERIAL,
        conditions,
        plane_stress=True,
        n_interior=n_interior,
        n_boundary=n_boundary,
        exact=exact,
    )


REFERENCE = CaseReference(lambda: _problem(64, 64), 0.0025, CLAMP_CORNERS, EXCLUDE_RADIUS)
"""The P2 reference (solved on first use)."""


def exact(X: np.ndarray) -> np.ndarray:
    """Reference displacement (N, 2) (m) at points ``X`` (N, 2) (m)."""
    return REFERENCE.displacement(X)


def grid(spacing: float = 0.002) -> np.ndarray:
    """Grid points of the plate outside the holes (n, 2) (m)."""
    gx, gy = np.meshgrid(
        np.linspace(0.0, WIDTH, round(WIDTH / spacing) + 1),
        np.linspace(0.0, HEIGHT, round(HEIGHT / spacing) + 1),
        indexing="ij",
    )
    X = np.stack([gx.ravel(), gy.ravel()], axis=1)
    keep = np.ones(X.shape[0], dtype=bool)
    for c, r in HOLES.values():
        keep &= np.hypot(X[:, 0] - c[0], X[:, 1] - c[1]) >= r
    return X[keep]


def hole_edges(n: int = 360) -> np.ndarray:
    """Points on the edges of the holes (3 n, 2) (m)."""
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.concatenate(
        [np.column_stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t)]) for c, r in HOLES.values()]
    )


def build_problem(n_interior: int = 2000, n_boundary: int = 800) -> pg.ElasticityProblem:
    """The problem definition (plane stress, energy formulation).

    Parameters
    ----------
    n_interior, n_boundary : int
        Sizes of the point sets: the energy quadrature has about ``2 n_interior``
        points.
    """
    return _problem(n_interior, n_boundary, exact=exact)


def extra_metrics(sol: pg.Solution) -> dict:
    """Stress errors against the reference and the peak von Mises stress on the holes."""
    X = hole_edges()
    ref = REFERENCE.solve()[0]
    return {
        **REFERENCE.metrics(sol),
        "max_von_mises_holes": float(np.max(sol.fields(X, check_inside=False)["von_mises"])),
        "max_von_mises_holes_reference": float(np.max(ref.von_mises(X))),
    }


SETTINGS = CaseSettings(hidden=CASE_HIDDEN, mesh_h=0.004, config=case_config())


def main(argv: list[str] | None = None) -> dict:
    """Run the case; returns the summary."""
    return case_main(
        "plate_with_holes",
        __doc__,
        SETTINGS,
        lambda args: build_problem(),
        argv,
        error_points=grid,
        extra_metrics=extra_metrics,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
