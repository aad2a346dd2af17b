"""A tiny training for the MPI tests, run with or without ``mpiexec``.

    python train_tiny.py OUT.npy [--iters N] [--chunk C] [--checkpoint F] [--resume F]
                                 [--fail-rank R] [--kill-rank R] [--stage qn|lbfgs|adam]
                                 [--resample N] [--adapt N] [--identify] [--family]

Rank 0 writes the final parameters (and the loss) to ``OUT.npy``; every rank writes
``OUT.rank<r>.npy`` with its own result, so the test can check lockstep.
"""

import argparse
import os
import signal
import sys

import numpy as np

import pinngelu as pg
from pinngelu import loss, parallel
from pinngelu.cases.plate_manufactured import build_problem


def tension_family() -> pg.Family:
    """Plates pulled on the right (rollers left and bottom), E, nu and the load as
    parameters, 4 members a draw."""

    def build(E, nu, sigma):
        return pg.ElasticityProblem(
            pg.Rectangle(0.0, 1.0, 0.0, 0.5),
            pg.Material.from_E_nu(E, nu),
            [pg.Symmetry("left"), pg.Symmetry("bottom"), pg.Traction("right", [sigma, 0.0])],
            plane_stress=True,
        )

    params = (
        pg.Parameter("E", 100e9, 300e9),
        pg.Parameter("nu", 0.2, 0.4),
        pg.Parameter("sigma", 1e6, 3e6),
    )
    return pg.Family(build, params, members=4)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--iters", type=int, default=6)
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--resume", default=None)
    ap.add_argument("--fail-rank", type=int, default=None)
    ap.add_argument("--kill-rank", type=int, default=None)
    ap.add_argument("--stage", default="qn")
    ap.add_argument("--resample", type=int, default=0)
    ap.add_argument("--adapt", type=int, default=0)
    ap.add_argument("--identify", action="store_true")
    ap.add_argument("--family", action="store_true", help="a family of tension problems")
    args = ap.parse_args()
    loss.CHUNK = args.chunk
    comm = parallel.world()
    with parallel.abort_on_error(comm):
        if args.fail_rank is not None and comm.rank == args.fail_rank:
            raise RuntimeError(f"deliberate failure on rank {comm.rank}")
        if args.kill_rank is not None and comm.rank == args.kill_rank:
            os.kill(os.getpid(), signal.SIGKILL)
        kw = {}
        if args.identify:
            Xd = np.random.default_rng(5).random((150, 2))
            from pinngelu.cases.plate_manufactured import exact

            kw = dict(
                data=[pg.DisplacementData(Xd, exact(Xd))],
                identify=("lam", "mu"),
                material=pg.Material.from_lame(1.5, 0.7),
            )
        if args.family:
            problem = tension_family()
            mlp = problem.network((6, 6))
        else:
            problem = build_problem(n_interior=300, n_boundary=140, **kw)
            mlp = pg.MLP(2, (8, 8), 2, "gelu")
        stage = {
            "qn": pg.QuasiNewton(args.iters),
            "lbfgs": pg.LBFGS(args.iters),
            "adam": pg.Adam(args.iters, 1e-3),
        }[args.stage]
        cfg = pg.TrainConfig(
            stages=(stage,),
            print_every=2,
            error_every=2,
            checkpoint=args.checkpoint,
            checkpoint_every=2,
            resample_every=args.resample,
            adapt=pg.RAD(every=args.adapt) if args.adapt else None,
        )
        rng = np.random.default_rng(3)
        ep = np.random.default_rng(9).random((50, 2))
        ep = None if args.family else ep
        common = dict(rng=rng, config=cfg, error_points=ep, out=sys.stdout, comm=comm)
        if args.resume:
            res = pg.resume(args.resume, problem, mlp, **common)
        else:
            res = pg.train(problem, mlp, **common)
        errors = res.history["error"]  # evaluated on every rank's share of error_points
        assert errors or args.family, "no error recorded"
        vec = np.concatenate([res.theta, res.q, [res.loss], errors])
        np.save(f"{args.out}.rank{comm.rank}.npy", vec)
        if comm.is_root:
            np.save(args.out, vec)


if __name__ == "__main__":
    main()
