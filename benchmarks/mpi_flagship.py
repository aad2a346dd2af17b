"""The README's MPI line against one process: the flagship case on one machine.

Runs ``pinngelu run plate_manufactured --max-iter ITERS`` as one process (its kernels
on every core) and under ``mpiexec -n R`` (each rank on its share of the cores, the
default), alternately, ``--repeat`` times each, and prints the training time of each
run (``times_s.training`` of ``summary.json``), the medians, their ratio, and whether
every run ended at the same loss and error bits.

Usage::

    python benchmarks/mpi_flagship.py                 # 1 process against 2 ranks
    python benchmarks/mpi_flagship.py --ranks 2 4 --repeat 3 --iters 600
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def run_once(ranks: int, iters: int, out: Path) -> dict:
    cmd = [sys.executable, "-m", "pinngelu", "run", "plate_manufactured"]
    cmd += ["--max-iter", str(iters), "--quiet", "--overwrite", "--out", str(out)]
    if ranks > 1:
        cmd = ["mpiexec", "-n", str(ranks), *cmd]
    subprocess.run(cmd, check=True, env=dict(os.environ))
    s = json.loads((out / "summary.json").read_text())
    return {
        "training_s": s["times_s"]["training"],
        "final_loss": s["final_loss"],
        "rel_l2": s["rel_l2_displacement"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", type=int, nargs="+", default=[2])
    ap.add_argument("--iters", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    counts = [1, *args.ranks]
    runs: dict[int, list[dict]] = {r: [] for r in counts}
    with tempfile.TemporaryDirectory() as tmp:
        run_once(1, 5, Path(tmp) / "warm")  # compile the kernels once, outside the timing
        for rep in range(args.repeat):
            for r in counts:  # alternate, so that every count sees the same machine load
                res = run_once(r, args.iters, Path(tmp) / f"r{r}")
                runs[r].append(res)
                print(f"repeat {rep + 1}, {r} process(es): {res['training_s']:.2f} s", flush=True)
    med = {r: float(np.median([x["training_s"] for x in runs[r]])) for r in counts}
    bits = {(x["final_loss"], x["rel_l2"]) for r in counts for x in runs[r]}
    print(f"\n{args.iters} iterations of plate_manufactured, {os.cpu_count()} cores")
    print("processes  median training [s]  one process / this")
    for r in counts:
        print(f"{r:9d}  {med[r]:18.2f}  {med[1] / med[r]:18.2f}")
    print("same loss and error bits in every run:", len(bits) == 1)
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "median_s": med}, indent=1))


if __name__ == "__main__":
    main()
