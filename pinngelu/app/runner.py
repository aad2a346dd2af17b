"""What every case script shares: its command-line options, and running a problem to
the standard outputs (progress, final errors, ``summary.json``, ``solution.vtu``,
figures, the trained model).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..fem.steps import StepTimes, output_to, step
from ..io import prepare_output_dir, write_fields, write_json
from ..kernels import get_backend
from ..network import MLP
from ..parallel import abort_on_error, as_comm, select_gpu, world
from ..plotting import plot_case_figures
from ..problem import ElasticityProblem, Solution
from ..training import TrainConfig, TrainResult, train
from ..training.config import UNBOUNDED
from ..training.stages import OPTIMIZERS, Adam, optimizer_stages

__all__ = [
    "CASE_HIDDEN",
    "CaseSettings",
    "STEEL_E",
    "STEEL_NU",
    "case_config",
    "case_parser",
    "case_main",
    "run_case",
    "write_outputs",
    "OutputError",
    "output_folder",
]

STEEL_E = 210e9
"""Young's modulus of the steel of the cases (Pa)."""
STEEL_NU = 0.3
"""Poisson ratio of the steel of the cases."""


CASE_HIDDEN = (30, 30, 30)
"""The network of the cases: three hidden layers of 30 (about 2000 parameters in 2D,
a 32 MB dense quasi-Newton matrix)."""


def case_config(**overrides) -> TrainConfig:
    """The training settings the cases share: the default optimiser (self-scaled
    Broyden, the method with the best error per second on every case, see the
    benchmarks page) with 280 s as its budget, a progress line every 250 iterations,
    the error every 50; ``overrides`` replace any of them."""
    base = dict(
        time_limit=280.0,
        print_every=250,
        error_every=50,
    )
    return TrainConfig(**{**base, **overrides})


@dataclass
class CaseSettings:
    """Defaults of a case (overridable from the command line).

    Attributes
    ----------
    hidden : tuple of int
        Hidden-layer widths.
    activation : str
    seed : int
    config : TrainConfig
    mesh_h : float, optional
        Mesh size (m) of the exported ``solution.vtu`` (default: 1/60 of the domain).
    target_error : float, optional
        Relative L2 displacement error whose first crossing during training is
        reported as ``time_to_target_s`` (from the tracked error history).
    """

    hidden: tuple[int, ...] = (50, 50, 50, 50)
    activation: str = "gelu"
    seed: int = 0
    config: TrainConfig = field(default_factory=TrainConfig)
    mesh_h: float | None = None
    target_error: float | None = None


def _count(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {v}")
    return v


def _seconds(text: str) -> float:
    """argparse type: a finite number of seconds > 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds: {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {text}")
    return v


def _out_dir(text: str) -> Path:
    """argparse type: a folder path (existing or not), not an existing file."""
    p = Path(text)
    if p.exists() and not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is an existing file, not a folder")
    return p


def _widths(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated positive hidden-layer widths."""
    try:
        w = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid widths: {text!r} (e.g. 30,30,30)") from None
    if not w or min(w) < 1:
        raise argparse.ArgumentTypeError(f"invalid widths: {text!r} (each >= 1)")
    return w


def case_parser(description: str, settings: CaseSettings) -> argparse.ArgumentParser:
    """The options every case script accepts (bad values are usage errors: exit 2)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument(
        "--out",
        type=_out_dir,
        default=None,
        help="output folder (default: out/<case>, or out/<case>-2, -3, ... when an earlier "
        "run's results are there)",
    )
    ap.add_argument(
        "--overwrite",
        action="store_true",
        help="write into --out even when it holds an earlier run's results",
    )
    ap.add_argument("--seed", type=_count, default=settings.seed, help="random seed (>= 0)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="compute backend")
    default_stages = settings.config.resolved_stages()
    ap.add_argument(
        "--optimizer",
        choices=list(OPTIMIZERS),
        default=None,
        help="optimiser stages (default: "
        + " -> ".join(st.name for st in default_stages)
        + "); see pinngelu.training.stages.OPTIMIZERS",
    )
    ap.add_argument(
        "--hidden",
        type=_widths,
        default=None,
        help=f"hidden-layer widths, e.g. 30,30,30 (default {','.join(map(str, settings.hidden))})",
    )
    ap.add_argument(
        "--max-iter",
        type=_count,
        default=None,
        help="iteration budget of the last stage (default "
        + (
            "none: the time limit"
            if default_stages[-1].iters >= UNBOUNDED
            else str(default_stages[-1].iters)
        )
        + ")",
    )
    ap.add_argument(
        "--adam-iters",
        type=_count,
        default=None,
        help="Adam warm-up iterations (default "
        f"{sum(st.iters for st in default_stages if isinstance(st, Adam))})",
    )
    ap.add_argument(
        "--time-limit",
        type=_seconds,
        default=None,
        help=f"wall-time budget in seconds for training (default {settings.config.time_limit})",
    )
    ap.add_argument("--print-every", type=_count, default=None, help="iterations between lines")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    ap.add_argument(
        "--fem",
        action="store_true",
        help="after training, compare with a P2 finite-element solution (needs scikit-fem)",
    )
    return ap


def case_main(
    name: str,
    doc: str,
    settings: CaseSettings,
    build: Callable[[argparse.Namespace], ElasticityProblem],
    argv: Sequence[str] | None = None,
    error_points: Callable[[], np.ndarray] | None = None,
    extra_metrics: Callable[[Solution], dict] | None = None,
) -> dict:
    """The ``main`` of a case script: parse ``argv`` (the first line of ``doc`` is the
    description), build the problem (``build(args)``) and the evaluation points
    (``error_points()``), and :func:`run_case` it.

    Under an MPI launcher with several ranks (``mpiexec -n 4 python case.py``) the
    ranks train one network together (:func:`pinngelu.parallel.world`); an exception
    on any rank aborts the job with its traceback.

    Returns
    -------
    dict
        The summary.
    """
    comm = world()
    with abort_on_error(comm):
        args = case_parser(doc.strip().splitlines()[0], settings).parse_args(argv)
        stream = None if (args.quiet or not comm.is_root) else sys.stdout
        times = StepTimes()
        with times.recording(), output_to(stream):
            with step(f"[{name}] setting up the problem", stream, key="setup"):
                problem = build(args)
                points = None if error_points is None else error_points()
            return run_case(
                name,
                problem,
                settings,
                args,
                error_points=points,
                extra_metrics=extra_metrics,
                comm=comm,
                times=times,
            )


def _config_from_args(args, settings: CaseSettings) -> TrainConfig:
    """The case's configuration with the command line's changes: ``--optimizer``
    replaces the stages (keeping the case's Adam warm-up), ``--adam-iters`` the Adam
    warm-up, ``--max-iter`` the budget of the last stage. Under a time budget an
    unbounded stage before the last gets an equal share of it (not all of it)."""
    cfg = settings.config
    upd = {}
    stages = list(cfg.resolved_stages())
    adam = [st for st in stages if isinstance(st, Adam)]
    if args.optimizer is not None:
        rest = optimizer_stages(args.optimizer, stages[-1].iters)
        stages = [*adam, *rest]
    if args.adam_iters is not None:
        lr = adam[0].lr if adam else Adam().lr
        stages = [st for st in stages if not isinstance(st, Adam)]
        if args.adam_iters > 0:
            stages.insert(0, Adam(args.adam_iters, lr))
    if args.max_iter is not None:
        stages[-1] = replace(stages[-1], iters=args.max_iter)
    total = cfg.time_limit if args.time_limit is None else args.time_limit
    if total is not None and len(stages) > 1:
        # an unbounded stage before the last would use the whole time budget: the
        # stages after the Adam warm-up share it equally (each may end sooner)
        open_ = [i for i, st in enumerate(stages[:-1]) if _unbounded(st)]
        n = sum(1 for st in stages if not isinstance(st, Adam))
        for i in open_:
            stages[i] = replace(stages[i], time_limit=total / n)
    if tuple(stages) != cfg.resolved_stages():
        upd["stages"] = tuple(stages)
    if args.time_limit is not None:
        upd["time_limit"] = args.time_limit
    if args.print_every is not None:
        upd["print_every"] = args.print_every
    return replace(cfg, **upd) if upd else cfg


def _unbounded(stage) -> bool:
    return stage.iters >= UNBOUNDED and stage.time_limit is None


def output_folder(name: str, out: str | Path | None, overwrite: bool = False) -> Path:
    """The folder a run writes to, never an earlier run's results unless asked:
    ``out``, refused when it holds a ``summary.json`` and ``overwrite`` is False; without
    ``out``, ``out/<name>``, or the first of ``out/<name>-2``, ``-3``, ... without one.

    Raises
    ------
    ValueError
        When ``out`` holds an earlier run's results and ``overwrite`` is False.
    """
    if out is not None:
        p = Path(out)
        if (p / "summary.json").exists() and not overwrite:
            raise ValueError(
                f"output folder {p} holds the results of an earlier run (summary.json); "
                "pass --overwrite to replace them, or another --out"
            )
        return p
    base = Path("out") / name
    p, k = base, 1
    while (p / "summary.json").exists():
        k += 1
        p = base.with_name(f"{name}-{k}")
    return p


def run_case(
    name: str,
    problem: ElasticityProblem,
    settings: CaseSettings,
    args: argparse.Namespace,
    error_points: np.ndarray | None = None,
    extra_metrics: Callable[[Solution], dict] | None = None,
    comm=None,
    times: StepTimes | None = None,
) -> dict:
    """Train ``problem`` and write the standard outputs.

    With ``comm`` (several MPI ranks) every rank trains its share of the points and
    returns the summary; only rank 0 prints and writes files.

    The time of each step goes to ``times`` (a new
    :class:`~pinngelu.fem.steps.StepTimes` when not given; :func:`case_main` passes the
    one that timed the setup of the problem): ``setup``, ``reference`` (a
    finite-element reference solved for the case), ``training``, ``fem`` (the ``--fem``
    comparison) and ``output`` (the metrics, files and figures), in the summary's
    ``times_s`` with their ``total``.
    A step longer than :data:`~pinngelu.fem.steps.STEP_SECONDS` prints a line when it
    starts and its time when it ends (not with ``--quiet``).

    Returns
    -------
    dict
        The summary (also written to ``<out>/summary.json``).
    """
    times = StepTimes() if times is None else times
    stream = None if (args.quiet or not as_comm(comm).is_root) else sys.stdout
    with times.recording(), output_to(stream):
        return _run_case(
            name, problem, settings, args, error_points, extra_metrics, comm, times, stream
        )


def _run_case(
    name, problem, settings, args, error_points, extra_metrics, comm, times, stream
) -> dict:
    """The body of :func:`run_case`, its steps timed into ``times``."""
    comm = as_comm(comm)
    root = comm.is_root
    with step(f"[{name}] setting up the run", stream, key="setup"):
        out = _setup(name, args, comm)
        config = _config_from_args(args, settings)
        hidden = settings.hidden if args.hidden is None else args.hidden
        mlp = MLP(problem.dim, hidden, problem.dim, settings.activation)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    with step(f"[{name}] training", None, key="training"):
        res: TrainResult = train(
            problem,
            mlp,
            rng=rng,
            device=args.device,
            config=config,
            error_points=error_points,
            out=stream,
            comm=comm,
        )
    wall = time.perf_counter() - t0
    with step(f"[{name}] metrics", stream, key="output"):
        sol = problem.solution(mlp, res)
        summary = _summary(
            name, problem, settings, args, comm, hidden, config, res, sol, wall, error_points
        )
        if extra_metrics is not None:
            summary.update(extra_metrics(sol))
    if not root:
        return summary
    failed = write_outputs(
        out, problem, sol, res.history, settings, args, summary, stream, times=times
    )
    if stream is not None:
        for k, v in summary.items():
            if k.startswith("rel_") or k.endswith("_error") or k in extra_keys(summary):
                print(f"{k}: {v:.4e}" if isinstance(v, float) else f"{k}: {v}")
        steps_ = ", ".join(f"{k} {v:.1f} s" for k, v in times.times.items())
        print(
            f"wall time {times.total():.1f} s ({steps_}), {res.n_iter} iterations; files in {out}/"
        )
    if failed:
        raise OutputError(
            f"training finished and the model and summary are in {out}/, but "
            + "; ".join(f"{k} failed ({v})" for k, v in failed.items())
        )
    return summary


def _setup(name: str, args, comm) -> Path:
    """Bind the GPU and get the backend (a missing GPU fails here, before any folder
    is made; so does a missing scikit-fem with ``--fem``); the output folder (made on
    rank 0)."""
    select_gpu(comm, args.device)
    get_backend(args.device)  # a missing GPU fails here, before any folder is made
    if getattr(args, "fem", False):
        from ..fem import check_available

        check_available()  # so does a missing scikit-fem with --fem
    out = output_folder(name, args.out, getattr(args, "overwrite", False))
    if comm.is_root:
        out = prepare_output_dir(out)
    return out


def _summary(
    name, problem, settings, args, comm, hidden, config, res, sol, wall, error_points
) -> dict:
    """The summary of a run (before the case's metrics and the files)."""
    summary: dict = {
        "case": name,
        "wall_time_s": wall,
        "iterations": res.n_iter,
        "evaluations": res.n_eval,
        "final_loss": res.loss,
        "stop_reason": res.stop_reason,
        "settings": {
            "seed": args.seed,
            "device": args.device,
            "ranks": comm.size,
            "hidden": list(hidden),
            "activation": settings.activation,
            "n_interior": problem.n_interior,
            "n_boundary": problem.n_boundary,
            "stages": [
                {"name": st.name, "iters": st.iters, "time_limit": st.time_limit}
                for st in config.resolved_stages()
            ],
            "time_limit": config.time_limit,
            "material": {
                "lam": problem.material.lam,
                "mu": problem.material.mu,
                "E": problem.material.E,
                "nu": problem.material.nu,
            },
            "plane_stress": problem.plane_stress,
            "scales": problem.scales.to_dict(),
        },
        "error_history": {
            "time_s": res.history["error_time"],
            "iteration": res.history["error_iteration"],
            "rel_l2": res.history["error"],
        },
    }
    if settings.target_error is not None:
        hit = [
            (t, it)
            for t, it, e in zip(
                res.history["error_time"],
                res.history["error_iteration"],
                res.history["error"],
                strict=True,
            )
            if e <= settings.target_error
        ]
        summary["target_error"] = settings.target_error
        summary["time_to_target_s"] = hit[0][0] if hit else None
        summary["iterations_to_target"] = hit[0][1] if hit else None
    if res.q.size:
        mat = sol.material
        summary["identified"] = {"lam": mat.lam, "mu": mat.mu, "E": mat.E, "nu": mat.nu}
    if res.enrichment.size:
        summary["singular_fields"] = problem.stress_intensities(res)
    if error_points is not None and problem.exact is not None:
        summary["rel_l2_displacement"] = sol.relative_l2_error(error_points)
    return summary


class OutputError(RuntimeError):
    """A step after training failed (FEM comparison, export, figures); the trained
    model and the summary were written before it, and the summary names the step."""


def write_outputs(
    out: Path,
    problem,
    sol: Solution,
    history: dict,
    settings,
    args,
    summary: dict,
    stream,
    times: StepTimes | None = None,
) -> dict[str, str]:
    """The files of a run: the trained model and ``summary.json`` first, then each
    step that may fail (mesh, FEM comparison, ``solution.vtu``, figures), each
    reported on stderr and in the summary's ``failed_steps`` when it fails; the
    summary is written again at the end, with the steps' times (``times_s``, from
    ``times``: the FEM comparison as ``fem``, the rest as ``output``).  Returns the
    failed steps and why."""
    failed: dict[str, str] = {}

    case = summary.get("case", "case")

    def attempt(name: str, fn, key: str = "output"):
        try:
            with step(f"[{case}] {name}", stream, key=key):
                return fn()
        except Exception as exc:  # reported, the others go on: nothing is lost
            failed[name] = f"{type(exc).__name__}: {exc}"
            print(f"pinngelu: {name} failed after training: {failed[name]}", file=sys.stderr)
            return None

    with step(f"[{case}] writing the model and summary", stream, key="output"):
        sol.save(out / "model.npz")
        summary["files"] = [str(out / "model.npz")]
        if times is not None:
            summary["times_s"] = times.as_dict()
        write_json(out / "summary.json", summary)

    h = settings.mesh_h
    if h is None:
        lo, hi = (np.asarray(v) for v in problem.geometry.bbox)
        h = float(np.max(hi - lo)) / 60.0
    mesh = attempt("meshing for export", lambda: problem.geometry.mesh(h))
    fields = (
        None if mesh is None else attempt("fields", lambda: sol.fields(mesh[0], check_inside=False))
    )
    if fields is not None and getattr(args, "fem", False):
        from ..fem import fem_report

        report = attempt(
            "FEM comparison", lambda: fem_report(problem, sol, mesh[0], stream), key="fem"
        )
        if report is not None:
            summary["fem"] = report[0]
            fields.update(report[1])
    if fields is not None:
        vtu = attempt("solution.vtu", lambda: write_fields(out / "solution.vtu", *mesh, fields))
        if vtu is not None:
            summary["files"].append(str(vtu))
    if mesh is not None:
        figs = attempt("figures", lambda: plot_case_figures(sol, out, history, mesh))
        summary["files"] += [str(f) for f in figs or []]
    if failed:
        summary["failed_steps"] = failed
    if times is not None:
        summary["times_s"] = times.as_dict()
    write_json(out / "summary.json", summary)
    return failed


def extra_keys(summary: dict) -> set[str]:
    """Scalar metrics of a summary worth printing."""
    skip = {"case", "wall_time_s", "iterations", "evaluations", "stop_reason", "final_loss"}
    skip |= {"times_s"}
    return {k for k, v in summary.items() if isinstance(v, float) and k not in skip}
