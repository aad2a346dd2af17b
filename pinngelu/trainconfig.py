"""Settings and outcome of a training run: :class:`TrainConfig` (checked when built)
and :class:`TrainResult`."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from .adaptive import RAD
from .optim import LBFGSConfig

__all__ = ["TrainConfig", "TrainResult"]


@dataclass
class TrainConfig:
    """Settings of a training run.

    Parameters
    ----------
    adam_iters : int
        Adam warm-up iterations (0 to skip).
    adam_lr : float
        Adam learning rate.
    lbfgs_iters : int
        Maximum L-BFGS iterations.
    lbfgs : LBFGSConfig
        L-BFGS settings (memory, tolerances, line search); its ``max_iter`` and
        ``time_limit`` are ignored in favour of the fields here.
    time_limit : float, optional
        Wall-time budget in seconds for the whole run.
    max_evals : int, optional
        Budget of loss-and-gradient evaluations for the whole run.
    print_every : int
        Iterations between progress lines (0: silent).
    resample_every : int
        Draw new collocation points every so many iterations (0: never).  In the
        L-BFGS stage this also clears the curvature memory.
    adapt : RAD, optional
        Residual-based adaptive collocation (:class:`~pinngelu.RAD`): every
        ``adapt.every`` iterations the points of each group are drawn again (or added)
        where the residual is large.  Excludes ``resample_every``; strong form only.
        As with ``resample_every`` the curvature memory is cleared; the best iterate
        is then tracked on the new points only.
    checkpoint : path, optional
        File (``.npz``) the state is written to, atomically.
    checkpoint_every : int
        Iterations between checkpoints.
    error_every : int
        Iterations between error evaluations (when the problem has an exact
        solution and ``error_points`` are given).
    stages : sequence of Stage, optional
        The optimisers in order, each with its own budget (see
        :mod:`pinngelu.stages`), e.g. ``(Adam(1000), LBFGS(5000),
        QuasiNewton(3000))``.  Without it the stages are ``Adam(adam_iters,
        adam_lr)`` (when ``adam_iters > 0``) and ``LBFGS(lbfgs_iters, lbfgs)``; with
        it, ``adam_iters``, ``adam_lr``, ``lbfgs_iters`` and ``lbfgs`` are not used.
        A stage ends at its budget, its convergence test or a failed step, and the
        next starts from its point (from the best point after a failure); the end of
        the last stage ends the run.  ``time_limit`` and ``max_evals`` bound the whole
        run.
    calibrate_scale : bool
        Before the first iteration, fit the output layer of the initial network by
        linear least squares (the loss is a linear least-squares problem in it) and
        set the problem's displacement scale to the root-mean-square of that
        fitted field, so that the trained network's outputs are O(1) in the scaled
        units.  For the strong form the fitted layer itself is discarded (training
        starts from the random initialisation); for the energy formulation
        (:class:`~pinngelu.EnergyForm`) training starts from it, the Ritz solution
        in the span of the initial features.  Skipped when the problem's
        displacement scale was given, or ``theta0`` is.
    solve_output_layer : bool, optional
        Variable projection: at every evaluation the output layer is replaced by the
        minimiser of the loss over it (the loss is a linear least-squares problem in
        that layer, for the energy formulation a Ritz problem), and the optimiser
        moves the hidden layers on the reduced loss, whose gradient is the partial
        gradient at that minimiser.  An evaluation costs about twice as much and the
        error falls in far fewer iterations (measured after 280 s, energy formulation:
        a plate with three holes 1.6e-3 against 6.0e-2 without, a T-bracket 9.4e-3
        against 8.1e-2).  A failed step on the reduced loss hands over to all layers.
        Default (None): on for the energy formulation, off for the strong form.  Not
        with Levenberg-Marquardt (which solves for all layers at once).
    """

    adam_iters: int = 0
    adam_lr: float = 1e-3
    lbfgs_iters: int = 5000
    lbfgs: LBFGSConfig = field(default_factory=lambda: LBFGSConfig(memory=50))
    time_limit: float | None = None
    max_evals: int | None = None
    print_every: int = 100
    resample_every: int = 0
    checkpoint: str | os.PathLike | None = None
    checkpoint_every: int = 200
    error_every: int = 50
    calibrate_scale: bool = True
    stages: tuple | None = None
    adapt: RAD | None = None
    solve_output_layer: bool | None = None

    def __post_init__(self) -> None:
        for name in (
            "adam_iters",
            "lbfgs_iters",
            "print_every",
            "resample_every",
            "checkpoint_every",
            "error_every",
        ):
            setattr(self, name, _check_count(name, getattr(self, name), minimum=0))
        if self.max_evals is not None:
            self.max_evals = _check_count("max_evals", self.max_evals, minimum=1)
        _check_positive("adam_lr", self.adam_lr, "")
        if self.time_limit is not None:
            _check_positive("time_limit", self.time_limit, " seconds")
        if not isinstance(self.lbfgs, LBFGSConfig):
            raise TypeError(f"lbfgs must be an LBFGSConfig, got {type(self.lbfgs).__name__}")
        if self.checkpoint is not None and not isinstance(self.checkpoint, (str, os.PathLike)):
            raise TypeError(
                f"checkpoint must be a path (str or os.PathLike) or None, got "
                f"{type(self.checkpoint).__name__}"
            )
        if self.solve_output_layer is not None and not isinstance(
            self.solve_output_layer, (bool, np.bool_)
        ):
            raise TypeError(
                f"solve_output_layer must be True, False or None, got {self.solve_output_layer!r}"
            )
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
        if not isinstance(self.calibrate_scale, (bool, np.bool_)):
            raise TypeError(f"calibrate_scale must be True or False, got {self.calibrate_scale!r}")
        if self.stages is not None:
            from .stages import Stage

            if isinstance(self.stages, Stage):
                self.stages = (self.stages,)
            if isinstance(self.stages, (str, bytes)) or not hasattr(self.stages, "__iter__"):
                raise TypeError(
                    f"stages must be a sequence of stages (pinngelu.Adam, LBFGS, QuasiNewton, "
                    f"LevenbergMarquardt), got {type(self.stages).__name__}"
                )
            self.stages = tuple(self.stages)
            if not self.stages:
                raise ValueError("stages must hold at least one stage")
            for i, st in enumerate(self.stages):
                if not isinstance(st, Stage):
                    raise TypeError(
                        f"stages[{i}] must be a stage (pinngelu.Adam, LBFGS, QuasiNewton, "
                        f"LevenbergMarquardt), got {type(st).__name__}"
                    )

    def solves_output_layer(self, problem) -> bool:
        """Whether training ``problem`` solves for the output layer
        (``solve_output_layer``, its default resolved: on for the energy formulation)."""
        if self.solve_output_layer is not None:
            return bool(self.solve_output_layer)
        return getattr(problem, "formulation", None) is not None

    def resolved_stages(self) -> tuple:
        """The stages of the run: ``stages``, or those the Adam/L-BFGS fields describe."""
        if self.stages is not None:
            return self.stages
        from .stages import LBFGS, Adam

        first = (Adam(self.adam_iters, self.adam_lr),) if self.adam_iters > 0 else ()
        return (*first, LBFGS(self.lbfgs_iters, self.lbfgs))


def _check_count(name: str, v, minimum: int) -> int:
    """``v`` as an int: an integer (not a bool) >= ``minimum``."""
    ok = isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
    if not ok and isinstance(v, (float, np.floating)) and math.isfinite(v) and v == int(v):
        ok = True  # 100.0 is accepted as 100
    if not ok or v < minimum:
        what = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {v!r}")
    return int(v)


def _check_positive(name: str, v, unit: str) -> None:
    """``v`` is a finite real number > 0."""
    if (
        isinstance(v, (bool, np.bool_))
        or not isinstance(v, (int, float, np.integer, np.floating))
        or not math.isfinite(v)
        or not v > 0
    ):
        raise ValueError(f"{name} must be a finite number > 0{unit}, got {v!r}")


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes
    ----------
    theta : ndarray
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
        With the energy formulation, :func:`pinngelu.energy.quadrature_check` of the
        result (the energy on the training quadrature and on a finer one); an
        :class:`~pinngelu.energy.EnergyQuadratureWarning` was issued when they
        disagree.  None for the strong form.
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
