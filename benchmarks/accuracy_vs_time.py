"""Accuracy per second on the flagship plate: L-BFGS against the curvature methods.

Run from the repository root::

    python benchmarks/accuracy_vs_time.py [--time 280] [--methods lbfgs,ssbroyden2,lm]
                                          [--out out/accuracy_vs_time]

Each method trains the manufactured plate (``cases/plate_manufactured.py``) from the
same seed, one after the other in this process, with its own network size and point
count (chosen for the best error per second and printed with the results), under the
same wall-time budget.  The relative L2 displacement error on the 101 x 101 grid is
tracked during training.  Printed: a table of the error after 30, 60, 120 and 280 s,
the time to reach 1e-3, 1e-4 and 1e-5, and the final error; written:
``accuracy_vs_time.png`` (error against wall time, one curve per method) and
``accuracy_vs_time.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

# this checkout's library and case, whatever is installed
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "cases")]
import plate_manufactured as plate  # noqa: E402

import pinngelu as pg  # noqa: E402

# name -> (hidden layers, interior points, boundary points, stages, error_every)
METHODS = {
    "lbfgs": ((50, 50, 50), 2000, 800, lambda: (pg.LBFGS(10**6),), 50),
    "bfgs": ((30, 30, 30), 2000, 800, lambda: (pg.QuasiNewton(10**6, pg.QNConfig("bfgs")),), 50),
    "ssbfgs_ab": (
        (30, 30, 30),
        2000,
        800,
        lambda: (pg.QuasiNewton(10**6, pg.QNConfig("ssbfgs_ab")),),
        50,
    ),
    "ssbroyden2": (
        (30, 30, 30),
        2000,
        800,
        lambda: (pg.QuasiNewton(10**6, pg.QNConfig("ssbroyden2")),),
        50,
    ),
    "lm": ((20, 20, 20), 2000, 800, lambda: (pg.LevenbergMarquardt(10**6),), 5),
}

CHECK_TIMES = (30.0, 60.0, 120.0, 280.0)
TARGETS = (1e-3, 1e-4, 1e-5)


def run(name: str, time_limit: float, seed: int) -> dict:
    hidden, n_int, n_bnd, stages, error_every = METHODS[name]
    problem = plate.build_problem(n_interior=n_int, n_boundary=n_bnd)
    mlp = pg.MLP(2, hidden, 2, "gelu")
    cfg = pg.TrainConfig(
        stages=stages(), time_limit=time_limit, print_every=0, error_every=error_every
    )
    t0 = time.perf_counter()
    res = pg.train(
        problem,
        mlp,
        rng=np.random.default_rng(seed),
        config=cfg,
        error_points=plate.grid(),
        out=None,
    )
    wall = time.perf_counter() - t0
    h = res.history
    t = np.asarray(h["error_time"], dtype=float)
    e = np.asarray(h["error"], dtype=float)
    final = pg_error(problem, mlp, res)
    return {
        "method": name,
        "hidden": list(hidden),
        "n_params": mlp.n_params,
        "n_interior": n_int,
        "n_boundary": n_bnd,
        "iterations": res.n_iter,
        "evaluations": res.n_eval,
        "wall_s": wall,
        "stop_reason": res.stop_reason,
        "final_error": final,
        "time": t.tolist(),
        "error": e.tolist(),
    }


def pg_error(problem, mlp, res) -> float:
    return float(problem.solution(mlp, res).relative_l2_error(plate.grid()))


def best_by(t: np.ndarray, e: np.ndarray, when: float) -> float:
    m = t <= when
    return float(np.min(e[m])) if np.any(m) else float("nan")


def time_to(t: np.ndarray, e: np.ndarray, target: float) -> float:
    hit = np.flatnonzero(e <= target)
    return float(t[hit[0]]) if hit.size else float("nan")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time", type=float, default=280.0, help="seconds per method")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="out/accuracy_vs_time")
    args = ap.parse_args(argv)
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"plate_manufactured, {args.time:.0f} s per method, seed {args.seed}, one after the other"
    )
    results = []
    for name in names:
        r = run(name, args.time, args.seed)
        results.append(r)
        print(
            f"  {name:11s} {'x'.join(map(str, r['hidden'])):9s} P={r['n_params']:5d} "
            f"N={r['n_interior']}+{r['n_boundary']}: final error {r['final_error']:.3e} after "
            f"{r['iterations']} iterations, {r['wall_s']:.0f} s ({r['stop_reason']})",
            flush=True,
        )
    head = " ".join(f"{'err@' + str(int(c)) + 's':>10s}" for c in CHECK_TIMES)
    head += " " + " ".join(f"{'t(' + format(tg, '.0e') + ')':>9s}" for tg in TARGETS)
    print(f"\n{'method':11s} {'net':9s} {'P':>5s} {head} {'final':>10s}")
    for r in results:
        t, e = np.asarray(r["time"]), np.asarray(r["error"])
        cells = " ".join(f"{best_by(t, e, c):10.3e}" for c in CHECK_TIMES)
        cells += " " + " ".join(f"{time_to(t, e, tg):9.1f}" for tg in TARGETS)
        net = "x".join(map(str, r["hidden"]))
        print(f"{r['method']:11s} {net:9s} {r['n_params']:5d} {cells} {r['final_error']:10.3e}")
    (out / "accuracy_vs_time.json").write_text(json.dumps(results, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        net = "x".join(map(str, r["hidden"]))
        ax.semilogy(r["time"], np.minimum.accumulate(r["error"]), label=f"{r['method']} ({net})")
    for tg in TARGETS:
        ax.axhline(tg, color="0.8", lw=0.8, zorder=0)
    ax.set_xlabel("wall time (s), 2 cores")
    ax.set_ylabel("relative L2 displacement error")
    ax.set_title("Manufactured plate: error against time")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_time.png", dpi=120)
    print(f"\nwrote {out / 'accuracy_vs_time.png'} and {out / 'accuracy_vs_time.json'}")


if __name__ == "__main__":
    main()
