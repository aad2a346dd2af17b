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
    from pinngelu.optim import LBFGSConfig, minimize
except ImportError:  # not installed: use the checkout this script lives in
    sys.path.insert(0, str(ROOT))
    from pinngelu.optim import LBFGSConfig, minimize


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
        res = minimize(p.fun_grad, p.x0, LBFGSConfig(memory=args.memory), max_iter=args.max_iter)
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
    curvature_tables(args.max_iter)


def curvature_tables(max_iter: int) -> None:
    """The dense quasi-Newton updates against scipy's BFGS (``gtol=0``), and
    Levenberg-Marquardt against MINPACK (``least_squares(method="lm")`` with
    ``xtol=ftol=gtol=1e-15``): excess ``f - f_min`` and evaluations."""
    from pinngelu.optim import LeastSquares, LMConfig, QNConfig, QNUpdate

    updates = list(QNUpdate)
    print("\ndense quasi-Newton (excess f - f_min, evaluations) against scipy BFGS (gtol=0)\n")
    head = f"{'problem':24s} " + " ".join(f"{u.value:>17s}" for u in updates)
    head += f" {'scipy BFGS':>17s}"
    print(head)
    print("-" * len(head))
    for p in PROBLEMS.values():
        cells = []
        for u in updates:
            res = minimize(p.fun_grad, p.x0, QNConfig(update=u), max_iter=max_iter)
            cells.append(f"{res.fun - p.f_min:9.1e} {res.n_eval:7d}")
        with np.errstate(all="ignore"):
            ref = scipy.optimize.minimize(
                p.fun_grad,
                np.array(p.x0),
                jac=True,
                method="BFGS",
                options={"gtol": 0.0, "maxiter": max_iter},
            )
        cells.append(f"{ref.fun - p.f_min:9.1e} {ref.nfev:7d}")
        print(f"{p.name:24s} " + " ".join(cells))
    print("\nLevenberg-Marquardt against MINPACK (excess f - f_min, residual evaluations)\n")
    head = f"{'problem':24s} {'pinngelu LM':>17s} {'MINPACK lm':>17s}"
    print(head)
    print("-" * len(head))
    for p in PROBLEMS.values():

        def normal(x, p=p):
            r, J = p.residual_jacobian(x)
            return float(r @ r), J.T @ J, J.T @ r

        def value(x, p=p):
            r = p.residuals(x)
            return float(r @ r)

        # n_eval counts the trial values and the normal equations
        res = minimize(LeastSquares(normal, value), p.x0, LMConfig(), max_iter=max_iter)
        with np.errstate(all="ignore"):
            ref = scipy.optimize.least_squares(
                p.residuals,
                np.array(p.x0),
                jac=lambda x, p=p: p.residual_jacobian(x)[1],
                method="lm",
                xtol=1e-15,
                ftol=1e-15,
                gtol=1e-15,
                max_nfev=20 * max_iter,
            )
        f_ref = float(ref.fun @ ref.fun)
        print(
            f"{p.name:24s} {res.fun - p.f_min:9.1e} {res.n_eval:7d} "
            f"{f_ref - p.f_min:9.1e} {ref.nfev:7d}"
        )


if __name__ == "__main__":
    main()
