"""The two entry points of training: :func:`train` and :func:`resume`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import numpy as np

from ..kernels import get_backend
from ..network import MLP
from ..parallel import as_comm, one_blas_thread, select_gpu, select_threads
from .checkpoint import check_checkpoint_path, restore
from .config import TrainConfig, TrainResult
from .loop import run_stages
from .run import Run
from .start import calibrate_scale, check_second_derivatives, check_setup, make_hooks

__all__ = ["train", "resume"]


def train(
    problem,
    mlp: MLP,
    *,
    rng: np.random.Generator,
    device: str = "cpu",
    config: TrainConfig | None = None,
    theta0: np.ndarray | None = None,
    callback: Callable | None = None,
    error_points: np.ndarray | None = None,
    out: TextIO | None = sys.stdout,
    comm=None,
) -> TrainResult:
    """Train a network on an elasticity problem.

    Parameters
    ----------
    problem : ElasticityProblem
        Its formulation supplies the residual groups (``exact`` and ``solution``
        give errors).
    mlp : MLP
        Architecture; input and output dimensions must equal the problem's.
    rng : numpy.random.Generator
        Randomness for the initial parameters and the collocation points.
    device : {"cpu", "cuda"}
    config : TrainConfig
    theta0 : ndarray, shape (n_params,), optional
        Initial parameters (default: ``mlp.init(rng)``).
    callback : callable, optional
        ``callback(run) -> bool`` after every iteration (``run``: the
        :class:`~pinngelu.training.run.Run`, e.g. ``run.it``, ``run.theta``); True stops.
    error_points : ndarray (M, d), optional
        Points (m) where the relative L2 error is tracked.
    out : text stream or None
        Where progress lines go (rank 0 only).
    comm : mpi4py communicator, optional
        Data parallelism: every rank calls ``train`` with the same arguments; each
        evaluates its share of the collocation points, one optimiser runs in lockstep
        on all ranks, and only rank 0 prints and writes checkpoints.  The result has
        the same bits for any number of ranks (see ``docs/guide/cluster.md``).

    Returns
    -------
    TrainResult

    Raises
    ------
    TypeError
        If ``problem``, ``mlp``, ``config`` or ``callback`` has the wrong type (for
        example ``train(mlp, problem)`` or a dict as ``config``).
    ValueError
        If ``rng`` is not a Generator, the network's dimensions are not the
        problem's, its activation has no second derivative for a second-order loss,
        a stage does not suit the formulation, the checkpoint path cannot be written,
        or ``theta0`` has the wrong length.

    Notes
    -----
    The run's BLAS and LAPACK calls (numpy, scipy) use one thread
    (:func:`pinngelu.parallel.one_blas_thread`): the kernels have their own threads,
    and a threaded BLAS would make the bits depend on the number of threads.
    """
    config = check_setup(problem, mlp, rng, config, callback, comm)
    with one_blas_thread():
        return _train(problem, mlp, rng, device, config, theta0, callback, error_points, out, comm)


def _train(problem, mlp, rng, device, config, theta0, callback, error_points, out, comm):
    select_gpu(as_comm(comm), device)
    select_threads(as_comm(comm))
    get_backend(device)
    theta = mlp.init(rng) if theta0 is None else mlp.check_theta(np.array(theta0, dtype=float))
    calibrate = (
        config.calibrate_scale
        and theta0 is None
        and getattr(problem, "displacement_scale_adjustable", False)
    )
    if calibrate:
        problem.reset_displacement_scale()  # a second run on the same problem starts alike
    run = Run(problem, mlp, rng, device, config, out, comm)
    run.hooks = make_hooks(run, config, callback, error_points)
    check_second_derivatives(mlp, run.obj.groups)
    q0 = problem.initial_q() if run.n_q else None
    if calibrate:
        theta = calibrate_scale(run, theta, q0)
    if run.n_q:
        theta = np.concatenate([theta, q0])
    run.theta = theta
    return run_stages(run)


def resume(
    checkpoint: str | os.PathLike,
    problem,
    mlp: MLP,
    *,
    rng: np.random.Generator,
    device: str = "cpu",
    config: TrainConfig | None = None,
    callback: Callable | None = None,
    error_points: np.ndarray | None = None,
    out: TextIO | None = sys.stdout,
    comm=None,
) -> TrainResult:
    """Continue a run from a checkpoint written by :func:`train`.

    Parameters are those of :func:`train` (under MPI every rank reads the file, whatever
    the number of ranks that wrote it); ``rng`` is overwritten with the saved
    state (any generator will do), and ``config`` must keep the settings that shape
    the trajectory (budgets, output and checkpoint settings may change; see
    :data:`pinngelu.training.checkpoint.FINGERPRINT_CONFIG_FIELDS`), and the problem
    its formulation.  Without ``config.checkpoint`` the run keeps writing to
    ``checkpoint``.

    Returns
    -------
    TrainResult

    Raises
    ------
    FileNotFoundError
        If there is no file at ``checkpoint``.
    ValueError
        If the file is no readable checkpoint of this version, or was written for a
        different network, problem (geometry, conditions, loads, material, point
        counts, formulation) or configuration; the message names the file and the
        difference.
    """
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a path, got {type(checkpoint).__name__}")
    path = Path(checkpoint)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    config = check_setup(problem, mlp, rng, config, callback, comm)
    if config.checkpoint is None:
        config = replace(config, checkpoint=path)
        check_checkpoint_path(path)
    with one_blas_thread():
        return _resume(path, problem, mlp, rng, device, config, callback, error_points, out, comm)


def _resume(path, problem, mlp, rng, device, config, callback, error_points, out, comm):
    select_gpu(as_comm(comm), device)
    select_threads(as_comm(comm))
    get_backend(device)
    run = Run(problem, mlp, rng, device, config, out, comm)
    run.hooks = make_hooks(run, config, callback, error_points)
    check_second_derivatives(mlp, run.obj.groups)
    restore(run, path)
    _say_formulation_moved(run)
    return run_stages(run)


def _say_formulation_moved(run: Run) -> None:
    """One progress line when the checkpoint's run had moved on from the problem's
    formulation (the energy formulation on a refined quadrature): the resumed run
    continues on the checkpoint's, not on the settings the problem was given."""
    given = run.problem.formulation
    if run.form.settings() == given.settings():
        return
    run.say(
        f"resuming with the checkpoint's refined {run.form.name} "
        f"({run.form.discretisation(run.problem)}) instead of the problem's "
        f"({given.discretisation(run.problem)}): the run moved on to it after a failed "
        "check of its discretisation, and the resumed run continues where it stopped"
    )
