"""Uniform against residual-based adaptive collocation (RAD) on the plate with a hole.

The quarter plate of ``cases/plate_with_hole.py`` (Kirsch, plane stress, stress
concentration 3 at the hole), with the case's network and optimiser (three hidden
layers of 30, self-scaled Broyden), 2500 interior and 1000 boundary points, the
same seed and the same wall time for each run:

- ``uniform``: the points drawn once;
- ``RAD``: ``TrainConfig(adapt=RAD(every=EVERY))`` (k = 1, c = 1, a pool of 10 times
  the points), interior and boundary points redrawn where the residual is large.

The two runs go side by side, at the same time, one process each with one Numba
thread: on a shared machine any other load then slows both alike (one run after the
other, a competing process can slow whichever run it meets by several times).

Printed per run: the relative L2 errors of the displacement and of the stress on the
case's grid, the stress concentration factor (exact 3), the iterations, the
adaptations and the final loss (on each run's own points, so not comparable
between the runs).

    python benchmarks/adaptive.py [seconds] [every]
"""

import json
import os
import subprocess
import sys
import time

import numpy as np

import pinngelu as pg
from pinngelu.app.runner import CASE_HIDDEN, case_config
from pinngelu.cases import plate_with_hole as pwh


def run(adapt: pg.RAD | None, seconds: float) -> dict:
    prob = pwh.build_problem()
    mlp = pg.MLP(2, CASE_HIDDEN, 2, "gelu")
    cfg = case_config(time_limit=seconds, print_every=0, adapt=adapt)
    X = pwh.grid()
    t0 = time.perf_counter()
    res = pg.train(prob, mlp, rng=np.random.default_rng(0), config=cfg, out=None)
    wall = time.perf_counter() - t0
    sol = prob.solution(mlp, res)
    extra = pwh.extra_metrics(sol)
    return {
        "err_u": sol.relative_l2_error(X),
        "err_s": extra["rel_l2_stress"],
        "scf": extra["scf"],
        "iters": res.n_iter,
        "adaptations": 0 if adapt is None else res.n_iter // adapt.every,
        "loss": res.loss,
        "wall": wall,
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    every = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    labels = ("uniform", f"RAD(every={every})")
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", str(seconds), str(every), str(i)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    print(
        f"plate with a hole, {seconds:.0f} s per run, both at once (one thread each), seed 0, "
        "SSBroyden2, (30, 30, 30), 2500 + 1000 points"
    )
    print(
        f"{'sampling':<18} {'rel L2 u':>9} {'rel L2 sigma':>12} {'scf':>7} {'iters':>6} "
        f"{'adapt.':>6} {'loss':>10} {'wall':>6}"
    )
    for label, r in zip(labels, results, strict=True):
        print(
            f"{label:<18} {r['err_u']:9.3e} {r['err_s']:12.3e} {r['scf']:7.4f} {r['iters']:6d} "
            f"{r['adaptations']:6d} {r['loss']:10.3e} {r['wall']:5.0f}s"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        seconds, every, which = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(run(pg.RAD(every=every) if which else None, seconds)))
    else:
        main()
