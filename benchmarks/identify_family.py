"""Identification through a trained family against the inverse solver, on the
``identify_lame`` data.

The family: the manufactured plate of ``plate_manufactured`` (its loads those of the
exact solution with lam = 1, mu = 0.5) for every lam in [0.5, 2] and mu in
[0.25, 1] (the inverse case's starting guess, lam = 2 and mu = 1, is a corner of the
box).  The script trains one network on the family (the library's defaults: energy
formulation, 16 members a draw, dense quasi-Newton), then for each seed's noisy
measurements (``identify_lame.measurements(seed)``: 100 points, 1% noise) finds the
member that best explains them (:meth:`pinngelu.FamilySolution.identify`, started
from the inverse case's guess), and runs the inverse solver of ``identify_lame``
(the network and the constants trained together) on the first seed's data.  It
prints, side by side, the identified constants, their errors against the truth and
the time each took.

Usage::

    python benchmarks/identify_family.py                     # 300 s + 5 seeds + 120 s
    python benchmarks/identify_family.py --time-limit 60 --inverse-time 30 --seeds 2
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import pinngelu as pg
from pinngelu.cases import identify_lame, plate_manufactured

PARAMETERS = (pg.Parameter("lam", 0.5, 2.0), pg.Parameter("mu", 0.25, 1.0))


def member(lam: float, mu: float) -> pg.ElasticityProblem:
    """The manufactured plate with the material ``(lam, mu)`` and the true loads."""
    return plate_manufactured.build_problem(
        material=pg.Material.from_lame(lam, mu), formulation=None
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=300.0, help="family training (s)")
    ap.add_argument("--inverse-time", type=float, default=120.0, help="inverse solver (s)")
    ap.add_argument("--seeds", type=int, default=5, help="measurement sets identified")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    truth = {"lam": plate_manufactured.LAM, "mu": plate_manufactured.MU}
    guess = {"lam": identify_lame.GUESS.lam, "mu": identify_lame.GUESS.mu}

    fam = pg.Family(member, PARAMETERS)
    mlp = fam.network()
    t0 = time.perf_counter()
    res = pg.train(
        fam, mlp, rng=np.random.default_rng(0),
        config=pg.TrainConfig(time_limit=args.time_limit, print_every=500),
    )  # fmt: skip
    t_train = time.perf_counter() - t0
    sol = fam.solution(mlp, res)
    rows = []
    for seed in range(args.seeds):
        data = identify_lame.measurements(seed)
        fit = sol.identify(data.X, data.u, unknown=("lam", "mu"), start=guess)
        err = {k: abs(fit.values[k] - truth[k]) / truth[k] for k in truth}
        rows.append({"seed": seed, **fit.values, "errors": err, "seconds": fit.seconds})
        print(
            f"seed {seed}: lam {fit.values['lam']:.5f} ({100 * err['lam']:.2f}%)  "
            f"mu {fit.values['mu']:.5f} ({100 * err['mu']:.2f}%)  "
            f"{fit.evaluations} member evaluations, {fit.seconds:.3f} s",
            flush=True,
        )

    # the inverse solver on the first seed's data
    inv = identify_lame.make_problem(0)
    mlp_inv = pg.MLP(2, identify_lame.SETTINGS.hidden, 2)
    t0 = time.perf_counter()
    res_inv = pg.train(
        inv, mlp_inv, rng=np.random.default_rng(0),
        config=pg.TrainConfig(time_limit=args.inverse_time, print_every=0),
    )  # fmt: skip
    t_inv = time.perf_counter() - t0
    mat = inv.solution(mlp_inv, res_inv).material
    first = rows[0]
    agree = {
        "lam": abs(first["lam"] - mat.lam) / mat.lam,
        "mu": abs(first["mu"] - mat.mu) / mat.mu,
    }
    print(f"\nfamily training: {t_train:.1f} s ({res.n_iter} iterations)")
    print(
        f"inverse solver (seed 0, {t_inv:.0f} s, {res_inv.n_iter} iterations): "
        f"lam {mat.lam:.5f}  mu {mat.mu:.5f}"
    )
    print(
        f"family on the same data: lam {first['lam']:.5f}  mu {first['mu']:.5f}  "
        f"({first['seconds']:.3f} s); they differ by {100 * agree['lam']:.2f}% (lam) "
        f"and {100 * agree['mu']:.2f}% (mu)"
    )
    worst = {k: max(r["errors"][k] for r in rows) for k in truth}
    print(
        f"worst error over {len(rows)} seeds: lam {100 * worst['lam']:.2f}%, "
        f"mu {100 * worst['mu']:.2f}%; slowest identification "
        f"{max(r['seconds'] for r in rows):.3f} s"
    )
    if args.json:
        out = {
            "training_s": t_train,
            "rows": rows,
            "inverse": {"lam": mat.lam, "mu": mat.mu, "seconds": t_inv},
            "agreement": agree,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
