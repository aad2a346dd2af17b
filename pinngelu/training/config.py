"""Settings and outcome of a training run: :class:`TrainConfig` (checked when built)
and :class:`TrainResult`.

The optimisers and their budgets are the run's stages (:mod:`pinngelu.training.stages`);
the configuration holds the budgets of the whole run and what the loop does around
the stages (points, checkpoints, output).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

import numpy as np

from .. import checks
from .adaptive import RAD
from .stages import LBFGS, QuasiNewton, Stage

__all__ = ["TrainConfig", "TrainResult", "REMOVED_FIELDS", "DEFAULT_ITERS"]

DEFAULT_ITERS = 5000
"""Iterations of the default stage when the configuration gives no other budget
(neither ``time_limit`` nor ``max_evals``)."""

REMOVED_FIELDS = {
    "adam_iters": "stages=(pg.Adam(iters, lr), ...) as the first stage",
    "adam_lr": "stages=(pg.Adam(iters, lr), ...) as the first stage",
    "lbfgs_iters": "stages=(pg.LBFGS(iters),) (or another stage with its own iters)",
    "lbfgs": "stages=(pg.LBFGS(iters, LBFGSConfig(...)),)",
}
"""Settings of earlier versions that moved onto the stages, with what to write instead."""


@dataclass(kw_only=True)
class TrainConfig:
    """Settings of a training run (keyword arguments only).

    Parameters
    ----------
    stages : sequence of Stage, optional
        The optimisers in order, each with its settings and its own budget (see
        :mod:`pinngelu.training.stages`), e.g. ``(Adam(1000), LBFGS(5000),
        QuasiNewton(3000))``.  A stage ends at its budget, its convergence test or a
        failed step, and the next starts from its point (from the best point after a
        failure); the end of the last stage ends the run.  Default: one dense
        self-scaled quasi-Newton stage (:class:`~pinngelu.QuasiNewton`, the method
        with the best error per second on every measured case), or
        :class:`~pinngelu.LBFGS` when its ``8 n^2``-byte matrix would pass
        ``QNConfig.max_bytes`` (a progress line says so); its budget is
        ``time_limit`` / ``max_evals`` where one is given, else
        :data:`DEFAULT_ITERS` iterations.
    time_limit : float, optional
        Wall-time budget in seconds for the whole run (given alone, the budget).
    max_evals : int, optional
        Budget of loss-and-gradient evaluations for the whole run.
    print_every : int
        Iterations between progress lines (0: silent).
    resample_every : int
        Draw new collocation points every so many iterations (0: never).  The
        curvature memory of L-BFGS and the quasi-Newton methods is cleared.
    adapt : RAD, optional
        Residual-based adaptive collocation (:class:`~pinngelu.RAD`): every
        ``adapt.every`` iterations the points of each group are drawn again (or added)
        where the residual is large.  Excludes ``resample_every``; formulations on
        collocation points only (the strong form).  As with ``resample_every`` the
        curvature memory is cleared; the best iterate is then tracked on the new
        points only.
    checkpoint : path, optional
        File (``.npz``) the state is written to, atomically.
    checkpoint_every : int
        Iterations between checkpoints.
    error_every : int
        Iterations between error evaluations (when the problem has an exact
        solution and ``error_points`` are given).
    calibrate_scale : bool
        Before the first iteration, fit the output layer of the initial network by
        linear least squares (the loss is a linear least-squares problem in it) and
        set the problem's displacement scale to the root-mean-square of that
        fitted field, so that the trained network's outputs are O(1) in the scaled
        units.  Where the formulation starts from the fitted layer (the energy
        formulation: the Ritz solution in the span of the initial features) training
        starts there; otherwise the fitted layer is discarded.  Skipped when the
        problem's displacement scale was given, or ``theta0`` is.
    solve_output_layer : bool, optional
        Variable projection: at every evaluation the output layer is replaced by the
        minimiser of the loss over it (a linear least-squares problem, for the
        energy formulation a Ritz problem), and the optimiser moves the hidden
        layers on the reduced loss, whose gradient is the partial gradient at that
        minimiser.  An evaluation costs about twice as much and the error falls in
        far fewer iterations (figures: docs/benchmarks.md).  A failed step on the
        reduced loss hands over to all layers.  Default (None): the formulation's
        choice (on for the energy formulation, off for the strong form).  Not with
        Levenberg-Marquardt (which solves for all layers at once).

    Raises
    ------
    TypeError
        For a setting of earlier versions (``adam_iters``, ``adam_lr``,
        ``lbfgs_iters``, ``lbfgs``: the message names the stage to use), a stage that
        is not one, or a wrong type.
    ValueError
        For a negative count, a non-positive budget, ``resample_every`` with
        ``adapt``.
    """

    stages: tuple | None = None
    time_limit: float | None = None
    max_evals: int | None = None
    print_every: int = 100
    resample_every: int = 0
    adapt: RAD | None = None
    checkpoint: str | os.PathLike | None = None
    checkpoint_every: int = 200
    error_every: int = 50
    calibrate_scale: bool = True
    solve_output_layer: bool | None = None

    def __post_init__(self) -> None:
        for name in ("print_every", "resample_every", "checkpoint_every", "error_every"):
            setattr(self, name, checks.count(name, getattr(self, name)))
        if self.max_evals is not None:
            self.max_evals = checks.count("max_evals", self.max_evals, minimum=1)
        if self.time_limit is not None:
            self.time_limit = checks.positive("time_limit", self.time_limit, " seconds")
        if self.checkpoint is not None and not isinstance(self.checkpoint, (str, os.PathLike)):
            raise TypeError(
                f"checkpoint must be a path (str or os.PathLike) or None, got "
                f"{type(self.checkpoint).__name__}"
            )
        self.solve_output_layer = checks.flag(
            "solve_output_layer", self.solve_output_layer, allow_none=True
        )
        self.calibrate_scale = checks.flag("calibrate_scale", self.calibrate_scale)
        if self.adapt is not None:
            if not isinstance(self.adapt, RAD):
                raise TypeError(
                    f"adapt must be a pinngelu.RAD (e.g. RAD(every=500)) or None, got "
                    f"{type(self.adapt).__name__}"
                )
            if self.resample_every:
                raise ValueError(
                    f"resample_every ({self.resample_every}) and adapt cannot be combined: "
                    "adapt already redraws the collocation points (every "
                    f"{self.adapt.every} iterations); set resample_every=0"
                )
        if self.stages is not None:
            self.stages = _check_stages(self.stages)

    def resolved_stages(self, n_params: int | None = None) -> tuple[Stage, ...]:
        """The stages of the run: ``stages``, or the default for ``n_params``
        trainable parameters (see ``stages``; without ``n_params`` the quasi-Newton
        stage)."""
        if self.stages is not None:
            return self.stages
        iters = DEFAULT_ITERS if self.time_limit is None and self.max_evals is None else UNBOUNDED
        if self.default_fallback(n_params) is not None:
            return (LBFGS(iters),)
        return (QuasiNewton(iters),)

    def default_fallback(self, n_params: int | None) -> str | None:
        """Why the default stage is L-BFGS for ``n_params`` parameters (a line for
        the progress output), or None when it is the dense quasi-Newton method (or
        the stages are given)."""
        if self.stages is not None or n_params is None:
            return None
        try:
            QuasiNewton().check(int(n_params))
        except ValueError as exc:
            return f"default optimiser: L-BFGS instead of the dense quasi-Newton method ({exc})"
        return None


UNBOUNDED = 2**62
"""The iteration budget of a default stage whose run has a time or evaluation budget."""


def _check_stages(stages) -> tuple[Stage, ...]:
    kinds = "pinngelu.Adam, LBFGS, QuasiNewton, LevenbergMarquardt"
    if isinstance(stages, Stage):
        stages = (stages,)
    if isinstance(stages, (str, bytes)) or not hasattr(stages, "__iter__"):
        raise TypeError(
            f"stages must be a sequence of stages ({kinds}), got {type(stages).__name__}"
        )
    stages = tuple(stages)
    if not stages:
        raise ValueError("stages must hold at least one stage")
    for i, st in enumerate(stages):
        if not isinstance(st, Stage):
            raise TypeError(f"stages[{i}] must be a stage ({kinds}), got {type(st).__name__}")
    return stages


def _refuse_removed(init):
    """Wrap the generated ``__init__`` so that a setting of earlier versions raises a
    TypeError naming the stage that replaces it."""

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        old = [k for k in kwargs if k in REMOVED_FIELDS]
        if old:
            k = old[0]
            raise TypeError(
                f"TrainConfig({k}=...) was removed: budgets and optimiser settings live on "
                f"the stages; write {REMOVED_FIELDS[k]}"
            )
        init(self, *args, **kwargs)

    return __init__


TrainConfig.__init__ = _refuse_removed(TrainConfig.__init__)


@dataclass
class TrainResult:
    """Outcome of :func:`pinngelu.train`.

    Attributes
    ----------
    theta : ndarray, shape (n_params,)
        Best network parameters found.
    loss : float
        Loss at ``theta`` (and ``q``).
    history : dict of lists
        ``iteration, stage, loss, gnorm, time`` per recorded iteration, ``groups``
        (per-group losses), and ``error_iteration, error_time, error`` when errors
        are tracked.
    stop_reason : str
    n_iter, n_eval : int
    wall_time : float
        Seconds spent in this and earlier (resumed) parts of the run.
    q : ndarray, shape (n_q,)
        Identified physical parameters at the best iterate (inverse problems, in
        the problem's scaled units: ``problem.material_at(q)`` gives the material);
        empty for forward problems.
    energy_quadrature : dict, optional
        The formulation's check of the result, where it has one (the energy
        formulation: :func:`pinngelu.energy.quadrature_check`, the energy on the
        training quadrature and on a finer one; an
        :class:`~pinngelu.EnergyQuadratureWarning` was issued when they disagree).
        None for the strong form.
    formulation : Formulation, optional
        The formulation at the end of training: the problem's, or the one training
        moved on to (the energy formulation on a refined quadrature).
    enrichment : ndarray, shape (n_e,)
        The enrichment coefficients of the singular fields at the best iterate, in
        the problem's scaled units (:mod:`pinngelu.enrichment`; empty without
        enrichment).  :meth:`ElasticityProblem.solution` takes them from the result;
        :meth:`ElasticityProblem.stress_intensities` reports them in physical units.
    """

    theta: np.ndarray
    loss: float
    history: dict
    stop_reason: str
    n_iter: int
    n_eval: int
    wall_time: float
    q: np.ndarray = field(default_factory=lambda: np.zeros(0))
    energy_quadrature: dict | None = None
    formulation: object | None = None
    enrichment: np.ndarray = field(default_factory=lambda: np.zeros(0))
