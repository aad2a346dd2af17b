"""Fixed-budget training runs whose final parameters are pinned by their digests
(``tests/data/trajectories.json``, checked by ``tests/test_trajectories.py``).

Every case script with its own settings, and on the flagship every optimiser stage,
a stage hand-over, resampling, adaptive collocation, the solved output layer and the
energy formulation's quadrature refinement: a change of structure that moves no
formula keeps every digest.  ``python tests/trajectories.py --record`` writes the
file anew (only after a change that is meant to move results, said in its commit).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import pinngelu as pg

FILE = Path(__file__).parent / "data" / "trajectories.json"

CASES = (
    "plate_manufactured",
    "identify_lame",
    "cantilever",
    "lame_cylinder",
    "plate_with_hole",
    "hollow_sphere",
    "clamped_beam",
    "plate_with_holes",
    "tee_bracket",
    "block_with_bore",
)
CASE_ITERS = 6
"""Iterations of the last stage of each case's configuration."""


def _digest(theta: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(theta, dtype=np.float64).tobytes()).hexdigest()


def _case_problem(mod):
    if hasattr(mod, "make_problem"):
        return mod.make_problem(0)
    return mod.build_problem()


def _case_run(name: str):
    mod = importlib.import_module(f"pinngelu.cases.{name}")
    problem = _case_problem(mod)
    settings = mod.SETTINGS
    stages = list(settings.config.resolved_stages())
    stages[-1] = replace(stages[-1], iters=CASE_ITERS)
    config = replace(
        settings.config, stages=tuple(stages), time_limit=None, print_every=0, error_every=0
    )
    mlp = pg.MLP(problem.dim, settings.hidden, problem.dim, settings.activation)
    res = pg.train(problem, mlp, rng=np.random.default_rng(settings.seed), config=config, out=None)
    return res


def _flagship(n_interior=400, n_boundary=200, **kw):
    mod = importlib.import_module("pinngelu.cases.plate_manufactured")
    return mod.build_problem(n_interior=n_interior, n_boundary=n_boundary, **kw)


def _flagship_run(config: pg.TrainConfig, hidden=(12, 12)):
    problem = _flagship()
    mlp = pg.MLP(2, hidden, 2)
    return pg.train(problem, mlp, rng=np.random.default_rng(3), config=config, out=None)


def _tension_bar_run():
    """The energy formulation's quadrature refinement (tests/test_energy.py)."""
    steel = pg.Material.from_E_nu(210e9, 0.3)
    geom = pg.Rectangle(0.0, 1.0, 0.0, 0.5)
    conds = [pg.Symmetry("left"), pg.Symmetry("bottom"), pg.Traction("right", [5e7, 0.0])]
    prob = pg.ElasticityProblem(
        geom, steel, conds, plane_stress=True, n_interior=400, formulation=pg.EnergyForm()
    )
    cfg = pg.TrainConfig(stages=(pg.QuasiNewton(260),), print_every=0, solve_output_layer=False)
    return pg.train(
        prob, pg.MLP(2, (10, 10), 2), rng=np.random.default_rng(0), config=cfg, out=None
    )


def _energy_solved_run():
    """The energy formulation with the solved output layer past its first check."""
    mod = importlib.import_module("pinngelu.cases.clamped_beam")
    prob = mod.build_problem(n_interior=300, n_boundary=100)
    cfg = pg.TrainConfig(stages=(pg.QuasiNewton(55),), print_every=0)
    return pg.train(prob, pg.MLP(2, (8, 8), 2), rng=np.random.default_rng(0), config=cfg, out=None)


def _qn(update):
    return pg.QuasiNewton(6, pg.QNConfig(update))


def flagship_runs() -> dict:
    """Name -> configuration of the flagship runs."""
    T = pg.TrainConfig
    runs = {
        "adam": T(stages=(pg.Adam(12, 1e-3),), print_every=0),
        "lbfgs": T(stages=(pg.LBFGS(10),), print_every=0),
        "lm": T(stages=(pg.LevenbergMarquardt(5),), print_every=0),
        "adam+lbfgs+ssbroyden": T(
            stages=(pg.Adam(5), pg.LBFGS(5), _qn(pg.QNUpdate.SSBROYDEN2)), print_every=0
        ),
        "lbfgs resample": T(stages=(pg.LBFGS(12),), resample_every=4, print_every=0),
        "lbfgs rad": T(stages=(pg.LBFGS(12),), adapt=pg.RAD(every=5), print_every=0),
        "ssbroyden solved layer": T(
            stages=(_qn(pg.QNUpdate.SSBROYDEN2),), solve_output_layer=True, print_every=0
        ),
        "max_evals": T(max_evals=15, print_every=0),
    }
    for u in pg.QNUpdate:
        runs[f"qn {u.value}"] = T(stages=(_qn(u),), print_every=0)
    return runs


def all_runs():
    """``(name, thunk)`` pairs; each thunk returns a TrainResult."""
    out = [(f"case {c}", lambda c=c: _case_run(c)) for c in CASES]
    out += [(f"flagship {k}", lambda v=v: _flagship_run(v)) for k, v in flagship_runs().items()]
    out.append(("energy quadrature refinement", _tension_bar_run))
    out.append(("energy solved layer", _energy_solved_run))
    return out


def record(result) -> dict:
    theta = np.concatenate([result.theta, result.q])
    return {"sha256": _digest(theta), "loss": float(result.loss), "n_iter": int(result.n_iter)}


if __name__ == "__main__":
    if "--record" not in sys.argv:
        raise SystemExit("usage: python tests/trajectories.py --record")
    table = {}
    for name, thunk in all_runs():
        t0 = time.perf_counter()
        table[name] = record(thunk())
        print(f"{name}: {table[name]} ({time.perf_counter() - t0:.1f} s)", flush=True)
    FILE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
