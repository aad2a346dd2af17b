"""One training for a family of cantilevers against one finite-element solve each.

The family of ``cases/cantilever_family.py``: a cantilever 2 m x 0.2 m, clamped on
the left, a traction of 1 MPa on the right end at an angle to the vertical, plane
stress; parameters Young's modulus E in [150, 250] GPa, Poisson's ratio nu in
[0.2, 0.4] and the load's angle in [-0.5, 0.5] rad.  The script trains one network
on the family (the defaults: energy formulation, 16 members a draw, dense
quasi-Newton, a 3 x 30 network), then at ``--points`` parameter points drawn at
random (not training points) compares the member with a P2 finite-element solution,
and prints

- the training time;
- per point the relative L2 displacement difference against P2 (and von Mises);
- their median and worst;
- the time of one member's evaluation on 10,000 points (displacement, strain and
  stress; and the displacement alone);
- the time of one P2 solve (``--fem-h``, the reference's cell size) and of a P2
  solve of about the family's accuracy (cell size ``--fem-h-match``), and the
  number of solves at which the family's training pays off.

Usage::

    python benchmarks/parametric.py                      # 900 s of training
    python benchmarks/parametric.py --time-limit 120 --points 5
    python benchmarks/parametric.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import pinngelu as pg
from pinngelu.app.family_runner import check_family, member_evaluation_seconds
from pinngelu.cases.cantilever_family import DEPTH, PARAMETERS, build


def main() -> None:
    from pinngelu import fem

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=900.0)
    ap.add_argument("--members", type=int, default=16)
    ap.add_argument("--hidden", default="30,30,30")
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--fem-h", type=float, default=DEPTH / 12)
    ap.add_argument("--fem-h-match", type=float, default=DEPTH / 2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    family = pg.Family(build, PARAMETERS, members=args.members)
    mlp = family.network(tuple(int(w) for w in args.hidden.split(",")))
    t0 = time.perf_counter()
    res = pg.train(
        family,
        mlp,
        rng=np.random.default_rng(args.seed),
        config=pg.TrainConfig(time_limit=args.time_limit, print_every=500),
    )
    t_train = time.perf_counter() - t0
    sol = family.solution(mlp, res)
    check = check_family(sol, args.points, args.seed, args.fem_h, sys.stdout)
    rows = check["rows"]
    err = np.array([r["displacement"] for r in rows])
    t_fem = [r["fem_s"] for r in rows]
    t_eval = member_evaluation_seconds(sol)  # displacement, strain, stress on 10,000 points
    t_disp = member_evaluation_seconds(sol, fields=False)  # the displacement alone
    v = {p.name: p.centre for p in PARAMETERS}
    X = family.member(**v).geometry.sample_interior(10_000, np.random.default_rng(2))
    # a P2 solve of about the family's accuracy
    ref_fine = fem.solve(family.member(**v), h=args.fem_h)
    t = time.perf_counter()
    coarse = fem.solve(family.member(**v), h=args.fem_h_match)
    t_match = time.perf_counter() - t
    X_in = X[(X[:, 0] > 1e-3) & (X[:, 1] > 1e-3) & (X[:, 1] < DEPTH - 1e-3)]  # off the edges
    ue = ref_fine.displacement(X_in)
    e_match = float(np.linalg.norm(coarse.displacement(X_in) - ue) / np.linalg.norm(ue))
    pays = t_train / max(t_match - t_eval, 1e-9)
    out = {
        "training_s": t_train,
        "iterations": res.n_iter,
        "median_displacement": float(np.median(err)),
        "worst_displacement": float(np.max(err)),
        "member_evaluation_10k_s": t_eval,
        "member_displacement_10k_s": t_disp,
        "fem_reference_solve_s": float(np.median(t_fem)),
        "fem_match_h": args.fem_h_match,
        "fem_match_error": e_match,
        "fem_match_solve_s": t_match,
        "pays_off_after_solves": pays,
        "points": rows,
    }
    print(f"\ntraining: {t_train:.1f} s ({res.n_iter} iterations, {args.members} members a draw)")
    print(
        f"relative L2 displacement against P2 (h = {args.fem_h:g} m) at {len(rows)} random "
        f"parameter points: median {np.median(err):.2e}, worst {np.max(err):.2e}"
    )
    print(f"one member on 10,000 points (displacement, strain, stress): {1e3 * t_eval:.1f} ms")
    print(f"one member's displacement on 10,000 points: {1e3 * t_disp:.1f} ms")
    print(f"one P2 solve at h = {args.fem_h:g} m: {np.median(t_fem):.2f} s")
    print(
        f"one P2 solve at h = {args.fem_h_match:g} m: {t_match:.2f} s, displacement "
        f"difference {e_match:.1e} from the fine one"
    )
    print(f"the family pays off after about {pays:.0f} such solves")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
