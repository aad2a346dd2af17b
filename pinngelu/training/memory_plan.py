"""The memory of a training run, estimated before anything is allocated: the residual
groups, one evaluation's work arrays, the solve of the output layer, the optimiser
stages and the energy's check on half the cell size, each from a measured formula, and
the check of their sum against :mod:`pinngelu.memory`'s limit
(:func:`check_memory`, called by :func:`~pinngelu.train` and :func:`~pinngelu.resume`)."""

from __future__ import annotations

import math

from .. import memory
from ..jacobian import BLOCK_ROWS
from ..kernels.layout import n_channels
from ..loss import chunk_size, n_chunks
from ..network import MLP
from ..optim.lm import lm_memory_bytes
from ..optim.quasi_newton import dense_memory_bytes
from .config import TrainConfig
from .stages import LBFGS, Adam, LevenbergMarquardt, QuasiNewton

__all__ = ["check_memory", "evaluation_bytes", "memory_estimates", "output_layer_bytes"]


def evaluation_bytes(n_params: int, n_points: float) -> float:
    """Work memory (bytes) of one evaluation of the loss and gradient
    (:func:`pinngelu.loss.loss_and_grad`) on a group of ``n_points`` points with
    ``n_params`` network parameters.

    ``8 n_params (b + 2)`` per chunk (:func:`~pinngelu.loss.chunk_size`): the gradient
    row of each of the kernel's ``b`` work items (one per tile, at most
    ``MAX_BLOCKS`` of :mod:`pinngelu.kernels.cpu`) and the chunk's two rows of partial sums, about
    ``n_params / 8`` bytes a point in chunks of 4096.  The groups
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
    from ..kernels.cpu import MAX_BLOCKS, TILE  # compiled code, loaded on first use

    n = int(math.ceil(n_points))
    blocks = min(MAX_BLOCKS, -(-chunk_size(n) // TILE))
    return 8.0 * n_params * (blocks + 2) * n_chunks(n)


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
