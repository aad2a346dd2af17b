"""Before the first iteration: the checks of :func:`pinngelu.train`'s arguments, the
hooks a configuration asks for, and the calibration of the displacement scale."""

from __future__ import annotations

import math

import numpy as np

from ..activations import activation_name
from ..loss import ResidualGroup, fit_output_layer, jets
from ..network import MLP
from ..parallel import as_comm
from . import hooks
from .checkpoint import check_checkpoint_path
from .config import TrainConfig
from .memory_plan import check_memory
from .run import Run
from .stages import LevenbergMarquardt

__all__ = [
    "check_setup",
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
