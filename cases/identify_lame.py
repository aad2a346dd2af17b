"""Identify lam and mu of the manufactured plate from noisy displacement measurements.

The inverse version of ``plate_manufactured`` (Haghighat et al., CMAME 379, 113741,
2021): the same unit square, loads (body force and top traction of the exact solution
with lam = 1, mu = 0.5) and boundary conditions, but the Lame constants are unknown.
The displacement is measured at 100 random points with Gaussian noise of 1% of the
displacement's root-mean-square per component.  lam and mu start from a guess
(lam = 2, mu = 1: both off by a factor 2) and are trained together with the network
by the same optimiser (``identify=("lam", "mu")``).

Reference: the true values lam = 1, mu = 0.5; the displacement is checked against
the exact solution on a 101 x 101 grid.  Target: both constants within 2%.  With
``--fem`` the finite-element reference is solved with the identified constants (the
summary's ``fem.material``), not with the initial guess.

Run ``python cases/identify_lame.py --help`` for the options.
"""

from __future__ import annotations

import sys

import numpy as np

import pinngelu as pg
from pinngelu.app.runner import CASE_HIDDEN, CaseSettings, case_config, case_main
from pinngelu.cases.plate_manufactured import LAM, MU, build_problem, exact, grid

N_DATA = 100
"""Number of measurement points."""
NOISE = 0.01
"""Noise standard deviation relative to the displacement's RMS (per component)."""
GUESS = pg.Material.from_lame(2.0, 1.0)
"""Initial guess of the material (Pa, like the loads: non-dimensional here)."""


def measurements(seed: int, n: int = N_DATA, noise: float = NOISE) -> pg.DisplacementData:
    """Noisy displacements at ``n`` random points of the unit square.

    The noise is drawn from its own stream (``seed``, 1), independent of the
    training's randomness.
    """
    rng = np.random.default_rng([seed, 1])
    X = rng.random((n, 2))
    u = exact(X)
    rms = np.sqrt(np.mean(exact(grid(51)) ** 2, axis=0))
    return pg.DisplacementData(X, u + noise * rms * rng.normal(size=u.shape))


def make_problem(seed: int = 0) -> pg.ElasticityProblem:
    """The inverse problem: known loads, measured displacements, unknown lam and mu."""
    return build_problem(material=GUESS, data=[measurements(seed)], identify=("lam", "mu"))


def extra_metrics(sol: pg.Solution) -> dict:
    """Identified constants and their relative errors."""
    lam, mu = sol.material.lam, sol.material.mu
    return {
        "lam_identified": lam,
        "mu_identified": mu,
        "lam_error": abs(lam - LAM) / LAM,
        "mu_error": abs(mu - MU) / MU,
    }


SETTINGS = CaseSettings(
    hidden=CASE_HIDDEN,
    config=case_config(),
)


def main(argv: list[str] | None = None) -> dict:
    """Run the case; returns the summary."""
    return case_main(
        "identify_lame",
        __doc__,
        SETTINGS,
        lambda args: make_problem(args.seed),
        argv,
        error_points=grid,
        extra_metrics=extra_metrics,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
