"""Strong and weak scaling of one loss-and-gradient evaluation over MPI ranks.

The work is that of ``benchmarks/loss_grad.py`` with the cases' network (3 hidden
layers of 30 GELU units, 2D Navier-Cauchy interior operator, float64).  The script
launches itself with ``mpiexec -n 1`` and ``mpiexec -n 2`` (``NUMBA_NUM_THREADS=1``
in every rank) and prints, per total point count N:

- the time per evaluation (median, seconds) on 1 and 2 ranks;
- the communication time per evaluation (the allgather of the chunk-tree nodes,
  measured inside :class:`pinngelu.parallel.MPIComm`) and the bytes a rank sends;
- strong efficiency ``t1(N) / (2 t2(N))`` and weak efficiency ``t1(N) / t2(2N)``.

It also prints the compute time per point and the message size, the inputs of the
efficiency model in ``docs/guide/cluster.md``.

Usage::

    python benchmarks/scaling.py                        # N = 1e4, 1e5, 1e6
    python benchmarks/scaling.py --sizes 10000 100000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def worker(sizes: list[int], reps: int) -> None:
    from pinngelu import loss, parallel
    from pinngelu.elasticity import navier_operator
    from pinngelu.kernels import get_backend
    from pinngelu.network import MLP

    comm = parallel.world()
    comm.count_bytes = True
    mlp = MLP(2, (30, 30, 30), 2, "gelu")
    theta = mlp.init(np.random.default_rng(0))
    C = navier_operator(2, 1.0, 0.5)
    be = get_backend("cpu")
    rows = []
    for N in sizes:
        X = np.random.default_rng(1).random((N, 2))
        grp = loss.ResidualGroup("pde", X, C, np.zeros((N, 2)))
        loss.loss_and_grad(mlp, theta, [grp], be, comm=comm)  # warm-up (and compile)
        ts, cs = [], []
        n_bytes = 0
        t_end = time.perf_counter() + 1.0
        while len(ts) < reps or time.perf_counter() < t_end:
            c0, b0 = comm.seconds, comm.bytes_sent
            comm.barrier()
            t = time.perf_counter()
            loss.loss_and_grad(mlp, theta, [grp], be, comm=comm)
            ts.append(time.perf_counter() - t)
            cs.append(comm.seconds - c0)
            n_bytes = comm.bytes_sent - b0
            if len(ts) >= 5 * reps:
                break
        t = float(np.median(comm.allgather(float(np.median(ts)))))
        c = float(np.max(comm.allgather(float(np.median(cs)))))
        if comm.is_root:
            rows.append({"N": N, "ranks": comm.size, "t": t, "comm": c, "bytes": n_bytes})
    if comm.is_root:
        print("RESULT " + json.dumps(rows), flush=True)


def launch(n: int, sizes: list[int], reps: int) -> list[dict]:
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--worker", "--reps", str(reps), "--sizes"]
    cmd += [str(s) for s in sizes]
    if n > 1:
        cmd = ["mpiexec", "-n", str(n), *cmd]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.worker:
        worker(args.sizes, args.reps)
        return
    weak = sorted(set(args.sizes) | {2 * s for s in args.sizes})
    one = {r["N"]: r for r in launch(1, args.sizes, args.reps)}
    two = {r["N"]: r for r in launch(2, weak, args.reps)}
    print("strong scaling (N total)  t1 [s]    t2 [s]    comm2 [s]  bytes/rank  efficiency")
    for N in args.sizes:
        a, b = one[N], two[N]
        eff = a["t"] / (2 * b["t"])
        print(
            f"  N = {N:9d}          {a['t']:.4e}  {b['t']:.4e}  {b['comm']:.2e}   "
            f"{b['bytes']:9d}   {100 * eff:5.1f}%"
        )
    print("weak scaling (N per rank)  t1(N) [s]  t2(2N) [s]  efficiency")
    for N in args.sizes:
        a, b = one[N], two[2 * N]
        print(f"  N = {N:9d}          {a['t']:.4e}  {b['t']:.4e}   {100 * a['t'] / b['t']:5.1f}%")
    big = max(args.sizes)
    print(f"compute per point (1 rank, N = {big}): {one[big]['t'] / big * 1e6:.3f} us")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"one_rank": list(one.values()), "two_ranks": list(two.values())}, f)


if __name__ == "__main__":
    main()
