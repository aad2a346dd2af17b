"""Before the first iteration: the checks of :func:`pinngelu.train`'s arguments, the
hooks a configuration asks for, and the calibration of the displacement scale."""

from __future__ import annotations

import math

import numpy as np

from .. import memory
from ..activations import activation_name
from ..jacobian import BLOCK_ROWS
from ..kernels.layout import n_channels
from ..loss import ResidualGroup, fit_output_layer, jets, n_chunks
from ..network import MLP
from ..optim.lm import lm_memory_bytes
from ..optim.quasi_newton import dense_memory_bytes
from ..parallel import as_comm
from . import hooks
from .checkpoint import check_checkpoint_path
from .config import TrainConfig
from .run import Run
from .stages import LBFGS, Adam, LevenbergMarquardt, QuasiNewton

__all__ = [
    "check_setup",
    "check_memory",
    "memory_estimates",
    "evaluation_bytes",
    "output_layer_bytes",
    "make_hooks",
    "calibrate_scale",
    "check_second_derivatives",
]

ZERO_SECOND_DERIVATIVE = ("relu", "linear")
"""Activations whose second derivative is zero almost everywhere."""


def check_setup(problem, mlp: MLP, rng, config, callback, comm=None) -> TrainConfig:
    """Check the arguments of :func:`~pinngelu.train` / :func:`~pinngelu.resume`
    before any work; returns the configuration."""
    if isinstance(problem, MLP) and not isinstance(mlp, MLP):
        raise TypeError(
            "train(problem, mlp, ...): the first argument is the network; pass the problem first"
        )
    if not callable(getattr(problem, "residual_groups", None)):
        raise TypeError(
            f"problem must be an ElasticityProblem (with residual_groups), got "
            f"{type(problem).__name__}"
        )
    if not isinstance(mlp, MLP):
        raise TypeError(f"mlp must be a pinngelu.MLP, got {type(mlp).__name__}")
    if config is None:
        config = TrainConfig()
    elif isinstance(config, dict):
        raise TypeError("config must be a TrainConfig, got a dict; use TrainConfig(**settings)")
    elif not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)), got "
            f"{type(rng).__name__}"
        )
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    if mlp.in_dim != problem.dim or mlp.out_dim != problem.dim:
        raise ValueError(
            f"the network maps {mlp.in_dim}-D to {mlp.out_dim}-D, the problem is {problem.dim}-D"
        )
    if config.checkpoint is not None:
        check_checkpoint_path(config.checkpoint)
    n = mlp.n_params + int(getattr(problem, "n_q", 0))
    stages = config.resolved_stages(n)
    for stage in stages:
        stage.check(n)
    form = problem.formulation
    if any(isinstance(st, LevenbergMarquardt) for st in stages):
        if as_comm(comm).size > 1:
            raise ValueError(
                "Levenberg-Marquardt is not supported under MPI (its normal equations are "
                "not split over ranks); use QuasiNewton or LBFGS"
            )
        if not form.least_squares:
            raise ValueError(
                f"Levenberg-Marquardt needs a least-squares loss; the {form.name}'s loss is "
                "not one: use QuasiNewton or LBFGS, or the strong form "
                "(ElasticityProblem(..., formulation=pinngelu.StrongForm()))"
            )
        if config.solve_output_layer:
            raise ValueError(
                "solve_output_layer=True does not combine with Levenberg-Marquardt, which "
                "solves for every layer at once"
            )
    if config.adapt is not None:
        if not form.collocation:
            raise ValueError(
                f"adaptive collocation (TrainConfig.adapt) needs collocation points; the "
                f"{form.name} trains on a fixed quadrature: use adapt with the strong form "
                "(formulation=pinngelu.StrongForm())"
            )
        needs = ("sample_points", "groups_at", "point_conditions", "boundary_counts")
        if not all(callable(getattr(problem, a, None)) for a in needs):
            raise TypeError(
                "adaptive collocation (TrainConfig.adapt) needs a problem with "
                f"{', '.join(needs)} (a pinngelu.ElasticityProblem), got "
                f"{type(problem).__name__}"
            )
    check_memory(problem, mlp, config, stages)
    return config


BLOCKS_PER_CHUNK = 64
"""Work items of a full chunk in the CPU kernel (``CHUNK / TILE = 128`` tiles in at
most ``MAX_BLOCKS = 64`` blocks of :mod:`pinngelu.kernels.cpu`), each with a gradient
row of its own."""


def evaluation_bytes(n_params: int, n_points: float) -> float:
    """Work memory (bytes) of one evaluation of the loss and gradient
    (:func:`pinngelu.loss.loss_and_grad`) on a group of ``n_points`` points with
    ``n_params`` network parameters.

    ``8 n_params (64 + 2)`` per chunk of :data:`~pinngelu.loss.CHUNK` points: the
    gradient row of each of the kernel's work items (:data:`BLOCKS_PER_CHUNK`) and the
    chunk's two rows of partial sums, about ``n_params / 8`` bytes a point.  The groups
    are evaluated one after another, so the largest counts.  Measured: 202 MB for
    557000 points and 2802 parameters (362 bytes a point), 303 MB for 833000 and 2903
    (364), against 358 and 371 bytes a point here.

    Parameters
    ----------
    n_params : int
        Network parameters.
    n_points : float
        Points of the largest group.

    Returns
    -------
    float
    """
    return 8.0 * n_params * (BLOCKS_PER_CHUNK + 2) * n_chunks(int(math.ceil(n_points)))


def output_layer_bytes(
    mlp: MLP,
    rows: float,
    n_group: float,
    n_e: float = 0.0,
    signed: bool = False,
    k_group: int | None = None,
) -> float:
    """Memory (bytes) of the least-squares solve of the output layer
    (:func:`pinngelu.loss.fit_linear_layer`: ``solve_output_layer``, and the
    calibration of the displacement scale) over ``rows`` residual rows.

    Its matrix has ``c = m (W + 1) + n_e`` columns (``W`` the last hidden width, ``m``
    the outputs, ``n_e`` the singular fields).  The largest group, of ``n_group``
    points and ``K`` rows a point, first makes its features (``W nc`` a point), their
    products with the operator (``K m W``) and its rows (``K c``; again for their
    weighted copy without negative weights, and for the copy the singular fields' columns
    are joined to); then the rows of every group are joined and
    weighted: ``8 rows c`` three times with weights of either sign (the energy's
    work), four times without (the solver's copy).  Measured: 3.04 and 3.06 times
    ``8 rows c`` (energy, 2D and 3D), 4.11 and 4.06 (strong form); with two singular
    fields (2D energy) the first part sets the peak: 640 MB measured, 642 MB here.

    Parameters
    ----------
    mlp : MLP
    rows : float
        Residual rows of all the groups.
    n_group : float
        Points of the largest group.
    n_e : float
        Singular fields.
    signed : bool
        Some weights are negative (the energy formulation's work).
    k_group : int, optional
        Rows a point of the largest group (default ``d``).

    Returns
    -------
    float
    """
    d, m = mlp.in_dim, mlp.out_dim
    W = int(mlp.sizes[-2])
    K = d if k_group is None else int(k_group)
    cols = m * (W + 1) + n_e
    copies = 1 + (0 if signed else 1) + (1 if n_e else 0)
    first = 8.0 * n_group * (W * n_channels(d) + K * m * W + copies * K * cols)
    return max((3.0 if signed else 4.0) * 8.0 * rows * cols, first)


def _stage_bytes(stage, n: int, rows: float) -> float:
    """Memory (bytes) an optimiser stage holds on ``n`` unknowns, at its peak."""
    if isinstance(stage, QuasiNewton):
        return float(dense_memory_bytes(n))
    if isinstance(stage, LevenbergMarquardt):
        return float(lm_memory_bytes(n, int(min(BLOCK_ROWS, rows))))
    if isinstance(stage, LBFGS):
        return 16.0 * stage.config.memory * n
    if isinstance(stage, Adam):
        return 32.0 * n
    return 0.0


def memory_estimates(problem, mlp: MLP, config: TrainConfig, stages=None) -> dict[str, float]:
    """Estimated memory (bytes) of training ``mlp`` on ``problem``, by part, before
    anything is allocated.

    Parameters
    ----------
    problem : ElasticityProblem
    mlp : MLP
    config : TrainConfig
    stages : sequence of Stage, optional
        Default ``config.resolved_stages(n)``.

    Returns
    -------
    dict
        ``points`` (the residual groups and their points, held: the formulation's
        ``memory_bytes``, :func:`pinngelu.strong.collocation_bytes` or
        :func:`pinngelu.energy.energy_bytes`), ``points peak`` (while they are made),
        ``evaluation`` (:func:`evaluation_bytes`), ``output layer``
        (:func:`output_layer_bytes`, where it is solved or the scale calibrated),
        ``optimiser`` (the largest stage: the dense matrix of
        :func:`~pinngelu.optim.quasi_newton.dense_memory_bytes`, Levenberg-Marquardt's
        :func:`~pinngelu.optim.lm.lm_memory_bytes`, L-BFGS's pairs), ``quadrature
        check`` (the energy formulation's check on half the cell size) and ``total``:
        the largest of ``points peak`` and ``points + optimiser +`` the largest of the
        others (the evaluation, the solve and the check come one at a time).
    """
    n = mlp.n_params + int(getattr(problem, "n_q", 0))
    stages = config.resolved_stages(n) if stages is None else stages
    form = problem.formulation
    size = getattr(form, "memory_bytes", None)
    pts = size(problem) if callable(size) else {}
    rows = float(pts.get("rows", 0.0))
    n_group = float(pts.get("n_group", 0.0))
    out = {
        "points": float(pts.get("points", 0.0)),
        "points peak": float(pts.get("points peak", 0.0)),
        "evaluation": evaluation_bytes(mlp.n_params, n_group),
        "output layer": 0.0,
        "optimiser": max((_stage_bytes(st, n, rows) for st in stages), default=0.0),
        "quadrature check": float(pts.get("quadrature check", 0.0)),
    }
    if getattr(problem, "n_q", 0):  # the residuals and jets of every point, kept
        out["evaluation"] += 8.0 * (rows + n_group * mlp.out_dim * n_channels(mlp.in_dim))
    solve = config.solve_output_layer
    solve = getattr(form, "solves_output_layer", False) if solve is None else solve
    calibrate = config.calibrate_scale and getattr(problem, "displacement_scale_adjustable", False)
    if solve or calibrate:
        signed = not getattr(form, "least_squares", True)
        n_e = float(pts.get("n_e", 0.0))
        k = int(pts.get("k_group", mlp.in_dim))
        out["output layer"] = output_layer_bytes(mlp, rows, n_group, n_e, signed, k)
    if out["quadrature check"]:
        out["quadrature check"] += evaluation_bytes(mlp.n_params, float(pts.get("n_check", 0)))
    work = max(out["evaluation"], out["output layer"], out["quadrature check"])
    out["total"] = max(out["points peak"], out["points"] + out["optimiser"] + work)
    return out


def _setting(part: str, form, stages) -> str:
    """The setting that reduces the part ``part`` of :func:`memory_estimates`."""
    energy = not getattr(form, "least_squares", True)
    points = (
        "the quadrature's cell size EnergyForm(h=...) (larger) or n_interior (fewer), or "
        "the formulation (formulation=pinngelu.StrongForm())"
        if energy
        else "n_interior and n_boundary of the ElasticityProblem (fewer points)"
    )
    if part in ("points", "points peak", "quadrature check"):
        return points
    if part == "optimiser":
        names = ", ".join(sorted({type(st).__name__ for st in stages}))
        return (
            f"the stages ({names}; an LBFGS stage keeps O(m n), QuasiNewton n^2, "
            "LevenbergMarquardt 32 n^2 bytes) or the network (fewer parameters)"
        )
    if part == "output layer":
        return (
            "TrainConfig(solve_output_layer=False), the network's last hidden width, or " + points
        )
    return "the network (fewer parameters) or " + points


def check_memory(problem, mlp: MLP, config: TrainConfig, stages=None) -> dict[str, float]:
    """Refuse a training run whose estimated memory exceeds the memory limit.

    Parameters
    ----------
    problem : ElasticityProblem
    mlp : MLP
    config : TrainConfig
    stages : sequence of Stage, optional
        Default ``config.resolved_stages(n)``.

    Returns
    -------
    dict
        The estimates (:func:`memory_estimates`).

    Raises
    ------
    MemoryLimitError
        When ``total`` exceeds :func:`pinngelu.memory.limit`; the message lists the
        parts and names the setting that reduces the largest.  Nothing is allocated
        before.
    """
    n = mlp.n_params + int(getattr(problem, "n_q", 0))
    stages = config.resolved_stages(n) if stages is None else stages
    est = memory_estimates(problem, mlp, config, stages)
    parts = {k: v for k, v in est.items() if k != "total" and v > 0}
    if not parts:
        return est
    largest = max(parts, key=parts.get)
    listed = ", ".join(f"{k} {memory.format_bytes(v)}" for k, v in parts.items())
    name = getattr(problem.formulation, "name", "formulation")
    memory.check(
        est["total"],
        f"training {n} parameters on the {name} ({listed}; the largest: {largest})",
        _setting(largest, problem.formulation, stages),
    )
    return est


def make_hooks(run: Run, config: TrainConfig, callback, error_points) -> list[hooks.Hook]:
    """The hooks of a run, in the order the loop asks them: points (resampling or
    adaptive), the formulation's check, errors, progress, checkpoint, callback,
    budget."""
    out: list[hooks.Hook] = []
    if config.adapt is not None:
        out.append(hooks.Adapt(config.adapt))
    elif config.resample_every:
        out.append(hooks.Resample(config.resample_every))
    if run.form.check_every(True) or run.form.check_every(False):
        out.append(hooks.QuadratureCheck())
    if error_points is not None:
        out.append(hooks.ErrorTracker(error_points, config.error_every))
    out.append(hooks.Progress(config.print_every))
    if config.checkpoint is not None:
        out.append(hooks.Checkpoint(config.checkpoint, config.checkpoint_every))
    if callback is not None:
        out.append(hooks.UserCallback(callback))
    out.append(hooks.Budget(config.time_limit, config.max_evals))
    return out


def calibrate_scale(run: Run, theta: np.ndarray, q: np.ndarray | None) -> np.ndarray:
    """Set the problem's displacement scale to the root-mean-square of the
    least-squares fit of the output layer (see ``TrainConfig.calibrate_scale``).

    Returns the parameters to start from: ``theta``, or, where the formulation starts
    from the fit (the energy formulation), the fitted output layer in the new units
    (the Ritz solution in the span of the initial features, the minimiser of the loss
    over that layer)."""
    problem, mlp, obj = run.problem, run.mlp, run.obj
    fitted = fit_output_layer(mlp, theta, obj.groups, obj.backend, q)
    X = np.concatenate([g.X for g in obj.groups])
    u = jets(mlp, fitted, X, obj.backend)[0]
    s = float(np.sqrt(np.mean(np.sum(u * u, axis=1))))
    if not (math.isfinite(s) and s > 1e-12):
        return theta
    problem.scale_displacement(s)
    if run.form.starts_from_fit:
        W_out, b_out = mlp.layer(fitted, mlp.n_layers - 1)
        W_out /= s
        b_out /= s
        theta = fitted
    run.set_groups(run.rebuild_groups())  # the same points, targets in the new units
    return theta


def check_second_derivatives(mlp: MLP, groups: list[ResidualGroup]) -> None:
    """A network whose activation has a zero second derivative (almost everywhere)
    cannot represent a loss on second derivatives (the Navier operator)."""
    name = activation_name(mlp.act_code)
    if name not in ZERO_SECOND_DERIVATIVE:
        return
    d = mlp.in_dim
    for g in groups:
        uses = np.any(g.C[..., 1 + d :] != 0)
        if g.param_coefficients is not None:
            uses = uses or np.any(g.param_coefficients[..., 1 + d :] != 0)
        if uses:
            raise ValueError(
                f"the network's activation {name!r} has a zero second derivative "
                f"almost everywhere, but residual group {g.name!r} needs second derivatives "
                "(the Navier operator of the interior); use a smooth activation such as "
                "'gelu' or 'tanh'"
            )
