"""Cantilevers of any stiffness, Poisson's ratio and load angle: one training for the family.

A cantilever 2 m x 0.2 m (plane stress), clamped on the left, loaded on its right end
by a uniform traction of 1 MPa at an angle to the vertical, with three parameters:
Young's modulus E in [150, 250] GPa, Poisson's ratio nu in [0.2, 0.4] and the load's
angle in [-0.5, 0.5] rad.  One network takes ``(x, y, E, nu, angle)`` and is trained
on the whole family (the energy formulation over scrambled-Sobol draws of the
parameters, the clamp built into the network).

Check: at ``--points`` parameter points drawn at random (not training points) the
member is compared with a P2 finite-element solution (``pinngelu.fem``, cell size
``--fem-h``, default H/12); the summary holds each point's relative L2 displacement
and von Mises differences, their median and worst, and ``errors.png`` plots them
against each parameter.  Targets: median <= 1e-3, worst <= 3e-3 against P2.

Identification: E and nu of a member at a random parameter point (the angle known)
from 100 displacements of its P2 solution with 1% noise, through the trained family
(:meth:`pinngelu.FamilySolution.identify`); target: within 2%, in under a second.

Run ``python cases/cantilever_family.py --help`` for the options.
"""

from __future__ import annotations

import sys

import numpy as np

import pinngelu as pg
from pinngelu.app.family_runner import FamilySettings, family_case_main

LENGTH = 2.0
"""Length (m)."""
DEPTH = 0.2
"""Depth (m)."""
LOAD = 1e6
"""Magnitude of the end traction (Pa)."""

PARAMETERS = (
    pg.Parameter("E", 150e9, 250e9),
    pg.Parameter("nu", 0.2, 0.4),
    pg.Parameter("angle", -0.5, 0.5),
)
"""Young's modulus (Pa), Poisson's ratio, the load's angle from the downward vertical
(rad, positive towards +x)."""


def build(E: float, nu: float, angle: float) -> pg.ElasticityProblem:
    """The member at ``E`` (Pa), ``nu`` and the load's ``angle`` (rad)."""
    t = [LOAD * np.sin(angle), -LOAD * np.cos(angle)]
    return pg.ElasticityProblem(
        pg.Rectangle(0.0, LENGTH, 0.0, DEPTH),
        pg.Material.from_E_nu(E, nu),
        [pg.Dirichlet("left", 0.0), pg.Traction("right", t)],
        plane_stress=True,
    )


def family(members: int = 16) -> pg.Family:
    """The family over :data:`PARAMETERS`."""
    return pg.Family(build, PARAMETERS, members=members)


SETTINGS = FamilySettings(identify=("E", "nu"), fem_h=DEPTH / 12)


def main(argv: list[str] | None = None) -> dict:
    """Run the case; returns the summary."""
    return family_case_main("cantilever_family", __doc__, SETTINGS, family, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
