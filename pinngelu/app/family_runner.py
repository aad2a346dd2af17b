"""The ``main`` of a family case: train one network on a :class:`~pinngelu.Family`,
save it, and check members at random parameter points against P2 finite elements.

Outputs in the case's folder: ``family.npz`` (the trained family,
:meth:`~pinngelu.FamilySolution.load`), ``summary.json`` (written first, then again
with the check), ``check.csv`` (one row per checked member), ``errors.png`` (the
differences against each parameter), ``history.png`` and ``centre.vtu`` (the member at
the centre of the box, for ParaView).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..family import Family, FamilySolution
from ..fem.steps import StepTimes, output_to, step
from ..io import atomic_write, write_fields, write_json
from ..parallel import abort_on_error, world
from ..training import train
from .runner import (
    CASE_HIDDEN,
    CaseSettings,
    OutputError,
    _config_from_args,
    _count,
    _setup,
    case_config,
    case_parser,
)

__all__ = [
    "FamilySettings",
    "family_case_main",
    "check_family",
    "identification_check",
    "member_evaluation_seconds",
]

CHECK_SEED = 1000
"""Offset of the seed of the check's random parameter points (not training points)."""


@dataclass
class FamilySettings(CaseSettings):
    """Defaults of a family case (overridable from the command line).

    Attributes
    ----------
    members : int
        Parameter points a draw of the training loss.
    points : int
        Random parameter points checked against P2 after training (0: none).
    fem_h : float, optional
        Cell size (m) of the P2 references (default: that of :func:`pinngelu.fem.solve`).
    identify : tuple of str
        Parameters identified after training from noisy displacements of a P2
        solution at a random parameter point (:func:`identification_check`).
    """

    hidden: tuple[int, ...] = CASE_HIDDEN
    config: object = field(default_factory=lambda: case_config(time_limit=900.0))
    members: int = 16
    points: int = 20
    fem_h: float | None = None
    identify: tuple[str, ...] = ()


def check_family(
    sol: FamilySolution, points: int, seed: int, fem_h: float | None = None, stream=None
) -> dict:
    """The members at ``points`` random parameter points (drawn uniformly with seed
    ``CHECK_SEED + seed``) against P2 references of each member.

    Returns
    -------
    dict
        ``rows`` (per point: the values, ``displacement`` and ``von_mises``: relative
        L2 differences from P2, ``exact`` where the member has an exact solution,
        ``fem_s``: the P2 solve's time), ``median`` and ``worst`` of the
        displacement differences, ``fem_h``.
    """
    from .. import fem

    fam = sol.family
    rows = []
    for v in fam.random_values(points, np.random.default_rng(CHECK_SEED + seed)):
        member = fam.member(**v)
        t = time.perf_counter()
        ref = fem.solve(member, h=fem_h) if fem_h is not None else fem.solve(member)
        t_fem = time.perf_counter() - t
        m = sol.at(**v)
        c = fem.compare(m, ref)
        row = {**v, "displacement": c.displacement, "von_mises": c.von_mises, "fem_s": t_fem}
        if member.exact is not None:
            X = member.geometry.sample_interior(4000, np.random.default_rng(3))
            row["exact"] = m.relative_l2_error(X)
        rows.append(row)
        if stream is not None:
            vals = "  ".join(f"{k} = {v[k]:.4g}" for k in fam.names)
            extra = f"  exact {row['exact']:.2e}" if "exact" in row else ""
            print(
                f"  {vals}: displacement {c.displacement:.2e}  von Mises {c.von_mises:.2e}"
                f"{extra}  (P2 solve {t_fem:.2f} s)",
                file=stream,
                flush=True,
            )
    err = np.array([r["displacement"] for r in rows]) if rows else np.zeros(0)
    return {
        "rows": rows,
        "median": float(np.median(err)) if rows else None,
        "worst": float(np.max(err)) if rows else None,
        "fem_h": fem_h,
    }


def identification_check(
    sol: FamilySolution,
    unknown: Sequence[str],
    seed: int,
    fem_h: float | None = None,
    n: int = 100,
    noise: float = 0.01,
) -> dict:
    """Identify ``unknown`` parameters through the family from ``n`` displacements of a
    P2 solution (an independent reference) at a random parameter point (seed
    ``CHECK_SEED + 1 + seed``), with Gaussian noise of ``noise`` times the
    displacement's root-mean-square per component; the other parameters are given
    their true values and the search starts from the centre of the box.

    Returns
    -------
    dict
        ``truth``, ``identified``, ``errors`` (relative, per unknown), ``seconds``,
        ``evaluations``, ``noise``, ``points``.
    """
    from .. import fem

    fam = sol.family
    rng = np.random.default_rng(CHECK_SEED + 1 + seed)
    truth = fam.random_values(1, rng)[0]
    member = fam.member(**truth)
    ref = fem.solve(member, h=fem_h) if fem_h is not None else fem.solve(member)
    X = member.geometry.sample_interior(n, rng)
    u = ref.displacement(X)
    u = u + noise * np.sqrt(np.mean(u**2, axis=0)) * rng.normal(size=u.shape)
    known = {k: v for k, v in truth.items() if k not in unknown}
    fit = sol.identify(X, u, unknown=tuple(unknown), known=known)
    return {
        "truth": truth,
        "identified": {k: fit.values[k] for k in unknown},
        "errors": {k: abs(fit.values[k] - truth[k]) / abs(truth[k]) for k in unknown},
        "seconds": fit.seconds,
        "evaluations": fit.evaluations,
        "noise": noise,
        "points": n,
    }


def member_evaluation_seconds(
    sol: FamilySolution, n: int = 10_000, repeat: int = 5, fields: bool = True
) -> float:
    """Median time (s) of one member's evaluation on ``n`` points of its domain, the
    member built (``sol.at``) within each call and the network compiled first.

    ``fields``: displacement, strain, stress and von Mises stress
    (:meth:`~pinngelu.solution.Solution.fields`, without the exact solution a member
    may carry for checks); otherwise the displacement alone (the network's value, one
    jet channel)."""
    fam = sol.family
    v = {p.name: p.centre for p in fam.parameters}
    X = fam.member(**v).geometry.sample_interior(n, np.random.default_rng(2))

    def evaluate():
        member = sol.at(**v)
        if not fields:
            return member.displacement(X, check_inside=False)
        member.exact = None
        return member.fields(X, check_inside=False)

    evaluate()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        evaluate()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def _write_csv(path, rows: list[dict]) -> None:
    keys = list(rows[0]) if rows else []

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(",".join(keys) + "\n")
            for r in rows:
                fh.write(",".join(f"{r[k]:.10g}" for k in keys) + "\n")

    atomic_write(path, write)


def family_case_main(
    name: str,
    doc: str,
    settings: FamilySettings,
    make_family: Callable[[int], Family],
    argv: Sequence[str] | None = None,
) -> dict:
    """Parse ``argv``, train the family ``make_family(members)``, write the trained
    family and the summary, then check ``--points`` members against P2 (a failure
    there is reported, never loses the trained family).  Under an MPI launcher the
    ranks train together; rank 0 checks and writes.

    Returns
    -------
    dict
        The summary (also ``<out>/summary.json``).
    """
    comm = world()
    with abort_on_error(comm):
        ap = case_parser(doc.strip().splitlines()[0], settings)
        ap.add_argument(
            "--members", type=_count, default=settings.members, help="parameter points a draw"
        )
        ap.add_argument(
            "--points",
            type=_count,
            default=settings.points,
            help=f"random parameter points checked against P2 (default {settings.points})",
        )
        ap.add_argument(
            "--fem-h", type=float, default=settings.fem_h, help="cell size of the P2 references"
        )
        args = ap.parse_args(argv)
        if args.members < 1:
            ap.error("--members must be >= 1")
        args.fem = args.fem or args.points > 0  # scikit-fem checked before training
        stream = None if (args.quiet or not comm.is_root) else sys.stdout
        times = StepTimes()
        with times.recording(), output_to(stream):
            return _run(name, settings, make_family, args, comm, times, stream)


def _run(name, settings, make_family, args, comm, times, stream) -> dict:
    from ..plotting import plot_family_errors, plot_history

    with step(f"[{name}] setting up the family", stream, key="setup"):
        fam = make_family(args.members)
        out = _setup(name, args, comm)
        config = _config_from_args(args, settings)
        hidden = settings.hidden if args.hidden is None else args.hidden
        mlp = fam.network(hidden, settings.activation)
    t0 = time.perf_counter()
    with step(f"[{name}] training", None, key="training"):
        res = train(
            fam,
            mlp,
            rng=np.random.default_rng(args.seed),
            device=args.device,
            config=config,
            out=stream,
            comm=comm,
        )
    wall = time.perf_counter() - t0
    sol = fam.solution(mlp, res, device=args.device)
    summary: dict = {
        "case": name,
        "wall_time_s": wall,
        "iterations": res.n_iter,
        "evaluations": res.n_eval,
        "final_loss": res.loss,
        "stop_reason": res.stop_reason,
        "parameters": {p.name: [p.low, p.high] for p in fam.parameters},
        "settings": {
            "seed": args.seed,
            "device": args.device,
            "ranks": comm.size,
            "hidden": list(hidden),
            "members": args.members,
            "time_limit": config.time_limit,
        },
        "energy_quadrature": res.energy_quadrature,
    }
    if not comm.is_root:
        return summary
    failed: dict[str, str] = {}
    with step(f"[{name}] writing the family and summary", stream, key="output"):
        sol.save(out / "family.npz")
        summary["files"] = [str(out / "family.npz")]
        write_json(out / "summary.json", summary)

    def attempt(what, fn, key="output"):
        try:
            with step(f"[{name}] {what}", stream, key=key):
                return fn()
        except Exception as exc:  # reported, the others go on: nothing is lost
            failed[what] = f"{type(exc).__name__}: {exc}"
            print(f"pinngelu: {what} failed after training: {failed[what]}", file=sys.stderr)
            return None

    t_eval = attempt("timing a member", lambda: member_evaluation_seconds(sol))
    t_disp = attempt(
        "timing a member's displacement", lambda: member_evaluation_seconds(sol, fields=False)
    )
    if t_eval is not None:
        summary["member_evaluation_10k_s"] = t_eval
    if t_disp is not None:
        summary["member_displacement_10k_s"] = t_disp
    if args.points > 0:
        check = attempt(
            f"checking {args.points} members against P2",
            lambda: check_family(sol, args.points, args.seed, args.fem_h, stream),
            key="fem",
        )
        if check is not None:
            summary["check"] = check
            summary["median_displacement"] = check["median"]
            summary["worst_displacement"] = check["worst"]
            rows = check["rows"]
            if attempt("check.csv", lambda: _write_csv(out / "check.csv", rows)) is not None:
                pass
            summary["files"].append(str(out / "check.csv"))
            f = attempt(
                "errors.png", lambda: plot_family_errors(rows, fam.names, out / "errors.png")
            )
            if f is not None:
                summary["files"].append(str(f))
    if args.points > 0 and settings.identify:
        ident = attempt(
            f"identifying {', '.join(settings.identify)} from noisy P2 displacements",
            lambda: identification_check(sol, settings.identify, args.seed, args.fem_h),
            key="fem",
        )
        if ident is not None:
            summary["identification"] = ident
    f = attempt("history.png", lambda: plot_history(res.history, out / "history.png"))
    if f is not None:
        summary["files"].append(str(f))

    def centre_vtu():
        v = {p.name: p.centre for p in fam.parameters}
        geom = fam.member(**v).geometry
        lo, hi = (np.asarray(b) for b in geom.bbox)
        mesh = geom.mesh(float(np.max(hi - lo)) / 60.0)
        fields = sol.at(**v).fields(mesh[0], check_inside=False)
        return write_fields(out / "centre.vtu", *mesh, fields)

    f = attempt("centre.vtu", centre_vtu)
    if f is not None:
        summary["files"].append(str(f))
    if failed:
        summary["failed_steps"] = failed
    summary["times_s"] = times.as_dict()
    write_json(out / "summary.json", summary)
    if stream is not None:
        if summary.get("median_displacement") is not None:
            print(
                f"relative L2 displacement against P2 at {args.points} random parameter points: "
                f"median {summary['median_displacement']:.2e}, worst "
                f"{summary['worst_displacement']:.2e}"
            )
        ident = summary.get("identification")
        if ident is not None:
            print(
                "identified from 1% noisy displacements: "
                + ", ".join(
                    f"{k} = {v:.4g} (true {ident['truth'][k]:.4g}, "
                    f"{100 * ident['errors'][k]:.2f}% off)"
                    for k, v in ident["identified"].items()
                )
                + f" in {ident['seconds']:.2f} s"
            )
        if t_eval is not None:
            print(
                f"one member on 10,000 points (displacement, strain, stress): {1e3 * t_eval:.1f} ms"
            )
        if t_disp is not None:
            print(f"one member's displacement on 10,000 points: {1e3 * t_disp:.1f} ms")
        steps_ = ", ".join(f"{k} {v:.1f} s" for k, v in times.times.items())
        print(
            f"wall time {times.total():.1f} s ({steps_}), {res.n_iter} iterations; files in {out}/"
        )
    if failed:
        raise OutputError(
            f"training finished and the family and summary are in {out}/, but "
            + "; ".join(f"{k} failed ({v})" for k, v in failed.items())
        )
    return summary
