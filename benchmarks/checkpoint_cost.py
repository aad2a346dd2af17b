"""Cost of checkpointing every iteration: a tiny problem (an iteration takes about a
millisecond) trained for N iterations with and without ``checkpoint_every=1``.

Run from the repository root::

    python benchmarks/checkpoint_cost.py [--iters 20000] [--folder DIR] [--repeat 2]

The run is half Adam, half L-BFGS (with a resample every 200 iterations, so that the
L-BFGS stage does not converge before its budget); both runs stop at the same
iteration count.  Printed: wall time of each run, time per iteration and the ratio
(checkpointed / plain).  The checkpoint goes to ``--folder`` (default: a temporary
folder).  The two kinds of run alternate ``--repeat`` times and the best time of each
is compared (the machine's load changes between runs).

Checkpoints every iteration append the state to the checkpoint's journal (see
:mod:`pinngelu.training.journal`) instead of rewriting the file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# measure the checkout this script lives in, not an installed copy
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pinngelu as pg  # noqa: E402


def tiny_problem() -> pg.ElasticityProblem:
    """A unit square, clamped at the bottom, pulled at the top, few points."""
    conds = [
        pg.Dirichlet("bottom", 0.0),
        pg.Traction("top", [0.0, 1.0]),
        pg.Traction("left", 0.0),
        pg.Traction("right", 0.0),
    ]
    return pg.ElasticityProblem(
        pg.Rectangle(0.0, 1.0, 0.0, 1.0),
        pg.Material.from_lame(1.0, 0.5),
        conds,
        n_interior=16,
        n_boundary=16,
        formulation=pg.StrongForm(),  # as measured before the default changed
    )


def train_once(iters: int, checkpoint: Path | None) -> tuple[float, int]:
    """Wall time (s) and iterations of one run."""
    problem = tiny_problem()
    mlp = pg.MLP(2, (8,), 2)
    cfg = pg.TrainConfig(
        stages=(
            pg.Adam(iters // 2, lr=1e-3),
            pg.LBFGS(iters - iters // 2, pg.optim.LBFGSConfig(memory=10, gtol=0.0, ftol=0.0)),
        ),
        resample_every=200,
        print_every=0,
        error_every=0,
        checkpoint=checkpoint,
        checkpoint_every=1,
    )
    t0 = time.perf_counter()
    res = pg.train(problem, mlp, rng=np.random.default_rng(0), config=cfg, out=None)
    return time.perf_counter() - t0, res.n_iter


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=20000, help="iterations per run")
    ap.add_argument("--folder", default=None, help="folder of the checkpoint file")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each kind (best taken)")
    args = ap.parse_args(argv)
    train_once(20, None)  # compile the kernels outside the timings
    plain, ck_runs = [], []
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        ck = Path(tmp) / "ck.npz"
        for _ in range(args.repeat):  # interleaved: both kinds see the same machine load
            plain.append(train_once(args.iters, None))
            ck_runs.append(train_once(args.iters, ck))
        size = ck.stat().st_size
    (t_plain, n_plain), (t_ck, n_ck) = min(plain), min(ck_runs)
    per_plain, per_ck = t_plain / n_plain, t_ck / n_ck
    print(f"plain:        {n_plain} iterations in {t_plain:.2f} s ({1e3 * per_plain:.3f} ms/it)")
    print(f"checkpointed: {n_ck} iterations in {t_ck:.2f} s ({1e3 * per_ck:.3f} ms/it)")
    print(f"ratio (per iteration): {per_ck / per_plain:.2f}; final checkpoint {size / 1e6:.2f} MB")
    print(f"pinngelu from {Path(pg.__file__).parent}")
    return {"plain_s": t_plain, "checkpointed_s": t_ck, "ratio": per_ck / per_plain}


if __name__ == "__main__":
    main(sys.argv[1:])
