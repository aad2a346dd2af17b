"""Compare pinngelu's L-BFGS with scipy's L-BFGS-B on the More-Garbow-Hillstrom problems.

Run from the repository root::

    python benchmarks/optimizers.py [--memory 10] [--max-iter 5000]

Both optimisers keep the same number of correction pairs (``--memory``, default 10 = scipy's
default ``maxcor``). pinngelu runs with its default tolerances (relative gradient test
``gtol=1e-12``, relative decrease test ``ftol=1e-15``). scipy is run twice: with its default
tolerances (``ftol=2.2e-9``, ``gtol=1e-5``), and with ``ftol=gtol=0`` so that only its line
search stops it ("to its limits"). Evaluations count calls of the value-and-gradient function.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.optimize

ROOT = Path(__file__).resolve().parents[1]
# the test problems are test data (tests/mgh_problems.py), not part of the package
sys.path.insert(0, str(ROOT / "tests"))
from mgh_problems import PROBLEMS  # noqa: E402

try:
    from pinngelu.optim import minimize_lbfgs
except ImportError:  # not installed: use the checkout this script lives in
    sys.path.insert(0, str(ROOT))
    from pinngelu.optim import minimize_lbfgs


def run_scipy(problem, memory: int, max_iter: int, tight: bool) -> tuple[float, int, int]:
    """Final value, iterations and evaluations of scipy's L-BFGS-B."""
    options: dict[str, float | int] = {
        "maxcor": memory,
        "maxiter": max_iter,
        "maxfun": 4 * max_iter,
    }
    if tight:
        options.update(ftol=0.0, gtol=0.0)
    res = scipy.optimize.minimize(
        problem.fun_grad, np.array(problem.x0), jac=True, method="L-BFGS-B", options=options
    )
    return float(res.fun), int(res.nit), int(res.nfev)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", type=int, default=10, help="correction pairs for both")
    parser.add_argument("--max-iter", type=int, default=5000, help="iteration limit for both")
    args = parser.parse_args(argv)

    print(
        f"memory = {args.memory} pairs for both optimisers; max_iter = {args.max_iter}; "
        "'excess' columns are f - f_min"
    )
    print("pinngelu: default tolerances; scipy L-BFGS-B: default tolerances and ftol=gtol=0\n")
    header = (
        f"{'problem':24s} {'n':>4s} {'f_min':>11s} | {'pinngelu f':>11s} {'excess':>9s} "
        f"{'it':>5s} {'nfev':>5s} | {'scipy f':>11s} {'excess':>9s} {'it':>5s} {'nfev':>5s} "
        f"| {'scipy0 f':>11s} {'excess':>9s} {'it':>5s} {'nfev':>5s}"
    )
    print(header)
    print("-" * len(header))
    totals = np.zeros(6, dtype=np.int64)
    for p in PROBLEMS.values():
        res = minimize_lbfgs(p.fun_grad, p.x0, memory=args.memory, max_iter=args.max_iter)
        f_sd, it_sd, ev_sd = run_scipy(p, args.memory, args.max_iter, tight=False)
        f_st, it_st, ev_st = run_scipy(p, args.memory, args.max_iter, tight=True)
        totals += [res.n_iter, res.n_eval, it_sd, ev_sd, it_st, ev_st]
        print(
            f"{p.name:24s} {p.n:4d} {p.f_min:11.4e} | {res.fun:11.4e} {res.fun - p.f_min:9.1e} "
            f"{res.n_iter:5d} {res.n_eval:5d} | {f_sd:11.4e} {f_sd - p.f_min:9.1e} {it_sd:5d} "
            f"{ev_sd:5d} | {f_st:11.4e} {f_st - p.f_min:9.1e} {it_st:5d} {ev_st:5d}"
        )
    print("-" * len(header))
    print(
        f"{'total':24s} {'':4s} {'':11s} | {'':11s} {'':9s} {totals[0]:5d} {totals[1]:5d} | "
        f"{'':11s} {'':9s} {totals[2]:5d} {totals[3]:5d} | {'':11s} {'':9s} {totals[4]:5d} "
        f"{totals[5]:5d}"
    )


if __name__ == "__main__":
    main()
