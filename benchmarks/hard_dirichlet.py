"""Soft against hard Dirichlet conditions on the clamped cantilever.

The beam of ``cases/cantilever.py`` (plane stress, parabolic end shear), clamped at
x = 0 (``u = 0``, which the Timoshenko solution does not satisfy exactly at the
wall), trained for the same wall time with ``hard_dirichlet`` False and True.
Printed: the relative L2 error against the Timoshenko solution on x >= 0.3 L
(Saint-Venant region), the tip deflection against the exact one, and the run's
iterations.

    python benchmarks/hard_dirichlet.py [seconds]
"""

import sys
import time
import warnings

import numpy as np

import pinngelu as pg
from pinngelu.cases import cantilever as cv


def run(hard: bool, seconds: float) -> None:
    geom = pg.Rectangle(0.0, cv.LENGTH, -cv.C, cv.C)
    conds = [pg.Dirichlet("left", 0.0), pg.Traction("right", cv.end_traction)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob = pg.ElasticityProblem(
            geom,
            cv.MATERIAL,
            conds,
            plane_stress=True,
            exact=cv.exact,
            displacement_scale=abs(cv.TIP_DEFLECTION),
            hard_dirichlet=hard,
            formulation=pg.StrongForm(),  # soft vs hard conditions of the strong form
        )
    mlp = pg.MLP(2, (30, 30, 30), 2, "gelu")
    cfg = pg.TrainConfig(stages=(pg.QuasiNewton(100000),), time_limit=seconds, print_every=10**9)
    t0 = time.perf_counter()
    res = pg.train(prob, mlp, rng=np.random.default_rng(0), device="cpu", config=cfg)
    wall = time.perf_counter() - t0
    sol = prob.solution(mlp, res)
    X = cv.grid()
    X = X[X[:, 0] >= 0.3 * cv.LENGTH]
    err = sol.relative_l2_error(X)
    tip = sol.displacement(np.array([[cv.LENGTH, 0.0]]))[0, 1] / cv.TIP_DEFLECTION
    print(
        f"hard_dirichlet={hard!s:5}  rel L2 (x>=0.3L) {err:.3e}  tip/exact {tip:.4f}  "
        f"iters {res.n_iter}  loss {res.loss:.3e}  wall {wall:.0f} s"
    )


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 90.0
    for hard in (False, True):
        run(hard, seconds)
