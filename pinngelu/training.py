"""Training driver: an Adam warm-up, then L-BFGS, with progress lines, budgets,
resampling, callbacks and atomic checkpoints that ``resume`` continues from.

The objective is the sum of the problem's residual groups (scaled units).  The
random generator is passed in; a checkpoint stores its state, so that a run
killed partway and resumed ends at the same bits as an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

import numpy as np

from .io import write_npz
from .kernels import get_backend
from .loss import ResidualGroup, fit_output_layer, jets, loss_and_grad
from .network import MLP
from .optim import LBFGSConfig, LBFGSState, adam_init, adam_update, lbfgs_init, lbfgs_step
from .optim.adam import AdamState

__all__ = ["TrainConfig", "TrainResult", "train", "resume"]


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
        units.  The fitted layer itself is discarded (training starts from the
        random initialisation).  Skipped when the problem's displacement scale was
        given, or ``theta0`` is.
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

    def __post_init__(self) -> None:
        for name in (
            "adam_iters",
            "lbfgs_iters",
            "print_every",
            "resample_every",
            "checkpoint_every",
            "error_every",
        ):
            v = getattr(self, name)
            if int(v) != v or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v}")
        if not self.adam_lr > 0:
            raise ValueError(f"adam_lr must be > 0, got {self.adam_lr}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be > 0 seconds, got {self.time_limit}")


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
    """

    theta: np.ndarray
    loss: float
    history: dict
    stop_reason: str
    n_iter: int
    n_eval: int
    wall_time: float
    q: np.ndarray = field(default_factory=lambda: np.zeros(0))


class _Objective:
    """``x -> (loss, grad)`` over residual groups on a backend, remembering the
    per-group losses of the last evaluation.

    ``x = [theta, q]``: the network parameters, then the trainable physical
    parameters of an inverse problem (none for a forward problem).
    """

    def __init__(self, mlp: MLP, groups: list[ResidualGroup], device, n_q: int = 0) -> None:
        self.mlp = mlp
        self.groups = groups
        self.backend = get_backend(device)
        self.n_q = n_q
        self.n_eval = 0
        self.last_groups: dict[str, float] = {}

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.n_eval += 1
        if not np.all(np.isfinite(x)):
            return math.nan, np.full_like(x, math.nan)
        P = self.mlp.n_params
        q = x[P:] if self.n_q else None
        res = loss_and_grad(self.mlp, x[:P], self.groups, self.backend, q=q)
        self.last_groups = res.group_losses
        if self.n_q:
            return res.loss, np.concatenate([res.grad, res.grad_q])
        return res.loss, res.grad


def _rng_state(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def _set_rng_state(rng: np.random.Generator, s: str) -> None:
    rng.bit_generator.state = json.loads(s)


class _Run:
    def __init__(
        self,
        problem,
        mlp: MLP,
        rng,
        device,
        config: TrainConfig,
        callback,
        error_points,
        out: TextIO | None,
    ) -> None:
        self.problem = problem
        self.mlp = mlp
        self.rng = rng
        self.device = device
        self.cfg = config
        self.callback = callback
        self.error_points = error_points
        self.out = out
        self.hist: dict = {
            "iteration": [],
            "stage": [],
            "loss": [],
            "gnorm": [],
            "time": [],
            "groups": [],
            "error_iteration": [],
            "error_time": [],
            "error": [],
        }
        self.t_offset = 0.0
        self.it = 0
        self.stage = "adam" if config.adam_iters > 0 else "lbfgs"
        self.sample_state = _rng_state(rng)
        self.n_q = int(getattr(problem, "n_q", 0))
        if self.n_q:
            self.hist["q"] = []
        self.obj = _Objective(mlp, problem.residual_groups(rng), device, self.n_q)
        self.adam: AdamState | None = None
        self.lbfgs: LBFGSState | None = None
        self.theta: np.ndarray | None = None
        self.best = (math.inf, None)
        self.eval_offset = 0

    # ------------------------------------------------------------ helpers
    def elapsed(self) -> float:
        return self.t_offset + time.perf_counter() - self.t0

    def n_eval(self) -> int:
        return self.eval_offset + self.obj.n_eval

    def split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(theta, q)`` of an optimisation vector ``x``."""
        P = self.mlp.n_params
        return x[:P], (x[P:] if self.n_q else None)

    def calibrate_scale(self, theta: np.ndarray, q: np.ndarray | None) -> None:
        """Set the problem's displacement scale to the root-mean-square of the
        least-squares fit of the output layer (see ``TrainConfig.calibrate_scale``)."""
        problem = self.problem
        fitted = fit_output_layer(self.mlp, theta, self.obj.groups, self.obj.backend, q)
        X = np.concatenate([g.X for g in self.obj.groups])
        u = jets(self.mlp, fitted, X, self.obj.backend)[0]
        s = float(np.sqrt(np.mean(np.sum(u * u, axis=1))))
        if not (math.isfinite(s) and s > 1e-12):
            return
        problem.scale_displacement(s)
        # the same points again, with targets in the new units
        _set_rng_state(self.rng, self.sample_state)
        self.obj.groups = problem.residual_groups(self.rng)

    def resample(self) -> None:
        self.sample_state = _rng_state(self.rng)
        self.obj.groups = self.problem.residual_groups(self.rng)

    def record(self, loss: float, gnorm: float) -> None:
        h = self.hist
        h["iteration"].append(self.it)
        h["stage"].append(self.stage)
        h["loss"].append(loss)
        h["gnorm"].append(gnorm)
        h["time"].append(self.elapsed())
        h["groups"].append(dict(self.obj.last_groups))
        theta, q = self.split(self.theta)
        if q is not None:
            h["q"].append([float(v) for v in q])
        if loss < self.best[0]:
            self.best = (loss, self.theta.copy())
        cfg = self.cfg
        err = None
        if (
            self.error_points is not None
            and self.problem.exact is not None
            and cfg.error_every
            and self.it % cfg.error_every == 0
        ):
            err = self.problem.solution(self.mlp, theta, q).relative_l2_error(self.error_points)
            h["error_iteration"].append(self.it)
            h["error_time"].append(self.elapsed())
            h["error"].append(err)
        if self.out is not None and cfg.print_every and self.it % cfg.print_every == 0:
            groups = " ".join(f"{k}={v:.2e}" for k, v in self.obj.last_groups.items())
            e = "" if err is None else f" rel_l2={err:.3e}"
            if q is not None:
                mat = self.problem.material_at(q)
                e += f" lam={mat.lam:.5g} mu={mat.mu:.5g}"
            print(
                f"[{self.stage:5s}] it {self.it:6d}  loss {loss:.4e}  |g| {gnorm:.2e}  "
                f"t {self.elapsed():7.1f}s{e}  ({groups})",
                file=self.out,
                flush=True,
            )

    def _displacement_scale(self) -> float | None:
        scales = getattr(self.problem, "scales", None)
        return None if scales is None else float(scales.displacement)

    def save(self, path) -> None:
        arrays = {
            "theta": self.theta,
            "meta": np.array(
                json.dumps(
                    {
                        "mlp": self.mlp.to_dict(),
                        "it": self.it,
                        "stage": self.stage,
                        "elapsed": self.elapsed(),
                        "n_eval": self.n_eval(),
                        "rng": _rng_state(self.rng),
                        "sample_rng": self.sample_state,
                        "history": self.hist,
                        "best_loss": self.best[0],
                        "displacement_scale": self._displacement_scale(),
                    }
                )
            ),
        }
        if self.best[1] is not None:
            arrays["best_theta"] = self.best[1]
        if self.adam is not None:
            for k, v in self.adam.to_dict().items():
                arrays[f"adam__{k}"] = np.asarray(v)
        if self.lbfgs is not None:
            for k, v in self.lbfgs.to_dict().items():
                arrays[f"lbfgs__{k}"] = np.asarray(v)
        write_npz(path, **arrays)

    def restore(self, path) -> None:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if MLP.from_dict(meta["mlp"]) != self.mlp:
                raise ValueError(f"checkpoint {path} was written for a different network")
            self.theta = np.array(z["theta"])
            if self.theta.shape != (self.mlp.n_params + self.n_q,):
                raise ValueError(
                    f"checkpoint {path} holds {self.theta.shape[0]} parameters, the problem "
                    f"and network need {self.mlp.n_params + self.n_q}"
                )
            self.best = (
                meta["best_loss"],
                np.array(z["best_theta"]) if "best_theta" in z else self.theta.copy(),
            )
            ad = {k[6:]: z[k] for k in z.files if k.startswith("adam__")}
            lb = {k[7:]: z[k] for k in z.files if k.startswith("lbfgs__")}
        self.it = meta["it"]
        self.stage = meta["stage"]
        self.t_offset = meta["elapsed"]
        self.eval_offset = meta["n_eval"]
        self.hist = meta["history"]
        if meta.get("displacement_scale") is not None:
            self.problem.scales.displacement = float(meta["displacement_scale"])
        _set_rng_state(self.rng, meta["sample_rng"])
        self.obj.groups = self.problem.residual_groups(self.rng)
        self.sample_state = meta["sample_rng"]
        _set_rng_state(self.rng, meta["rng"])
        self.adam = AdamState.from_dict(ad) if ad else None
        self.lbfgs = LBFGSState.from_dict(lb) if lb else None

    # ------------------------------------------------------------ main loop
    def budget_reason(self) -> str | None:
        cfg = self.cfg
        if cfg.time_limit is not None and self.elapsed() >= cfg.time_limit:
            return "time limit reached"
        if cfg.max_evals is not None and self.n_eval() >= cfg.max_evals:
            return "evaluation budget reached"
        return None

    def tick(self) -> str | None:
        """After an iteration: checkpoint, callback, budgets."""
        cfg = self.cfg
        if (
            cfg.checkpoint is not None
            and cfg.checkpoint_every
            and self.it % cfg.checkpoint_every == 0
        ):
            self.save(cfg.checkpoint)
        if self.callback is not None and self.callback(self):
            return "stopped by callback"
        return self.budget_reason()

    def run(self) -> TrainResult:
        cfg = self.cfg
        self.t0 = time.perf_counter()
        reason = self.budget_reason()
        if self.stage == "adam" and reason is None:
            if self.adam is None:
                self.adam = adam_init(self.theta)
            while self.it < cfg.adam_iters and reason is None:
                f, g = self.obj(self.theta)
                if not (math.isfinite(f) and np.all(np.isfinite(g))):
                    reason = "non-finite loss in Adam; kept the best iterate"
                    break
                self.record(f, float(np.max(np.abs(g))))
                step, self.adam = adam_update(self.adam, g, cfg.adam_lr)
                self.theta = self.theta + step
                self.it += 1
                if cfg.resample_every and self.it % cfg.resample_every == 0:
                    self.resample()
                reason = self.tick()
            if reason is None:
                self.stage = "lbfgs"
                self.adam = None
        lcfg = replace(cfg.lbfgs, max_iter=None, time_limit=None, max_eval=None)
        if self.stage == "lbfgs" and reason is None:
            start_it = self.it - (0 if cfg.adam_iters == 0 else cfg.adam_iters)
            if self.lbfgs is None:
                self.lbfgs = lbfgs_init(self.obj, self.theta, lcfg)
                self.theta = self.lbfgs.x.copy()
                self.record(self.lbfgs.f, float(np.max(np.abs(self.lbfgs.g))))
            n_done = start_it
            while reason is None:
                if n_done >= cfg.lbfgs_iters:
                    reason = "L-BFGS iteration budget reached"
                    break
                self.lbfgs, info = lbfgs_step(self.obj, self.lbfgs, lcfg)
                self.theta = self.lbfgs.x.copy()
                self.it += 1
                n_done += 1
                self.record(self.lbfgs.f, info.gnorm)
                if not info.accepted:
                    reason = f"L-BFGS stopped: {info.message}"
                    break
                if info.gnorm <= lcfg.gtol * self.lbfgs.gnorm_init or info.gnorm <= lcfg.gtol_abs:
                    reason = "gradient norm below tolerance"
                    break
                if self.lbfgs.n_stall >= lcfg.ftol_iters:
                    reason = "relative decrease below ftol"
                    break
                if cfg.resample_every and self.it % cfg.resample_every == 0:
                    self.resample()
                    self.lbfgs = lbfgs_init(self.obj, self.theta, lcfg)
                reason = self.tick()
        # the best recorded iterate: every recorded loss was evaluated at the theta
        # recorded with it (Adam records before it steps, L-BFGS after it accepts)
        best_loss, best_theta = self.best
        if best_theta is None:
            best_theta, best_loss = self.theta, math.nan
        if cfg.checkpoint is not None:
            self.save(cfg.checkpoint)
        if self.out is not None:
            print(
                f"stopped after {self.it} iterations, {self.n_eval()} evaluations, "
                f"{self.elapsed():.1f} s: {reason}; best loss {best_loss:.4e}",
                file=self.out,
                flush=True,
            )
        theta, q = self.split(best_theta)
        return TrainResult(
            theta.copy(),
            float(best_loss),
            self.hist,
            str(reason),
            self.it,
            self.n_eval(),
            self.elapsed(),
            np.zeros(0) if q is None else q.copy(),
        )


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
) -> TrainResult:
    """Train a network on an elasticity problem.

    Parameters
    ----------
    problem : ElasticityProblem
        Supplies ``residual_groups(rng)`` (and ``exact`` / ``solution`` for errors).
    mlp : MLP
        Architecture; input and output dimensions must equal the problem's.
    rng : numpy.random.Generator
        Randomness for the initial parameters and the collocation points.
    device : {"cpu", "cuda"}
    config : TrainConfig
    theta0 : ndarray, optional
        Initial parameters (default: ``mlp.init(rng)``).
    callback : callable, optional
        ``callback(run) -> bool`` after every iteration; True stops.
    error_points : ndarray (M, d), optional
        Points (m) where the relative L2 error is tracked.
    out : text stream or None
        Where progress lines go.

    Returns
    -------
    TrainResult
    """
    config = TrainConfig() if config is None else config
    _check_setup(problem, mlp, rng, config)
    get_backend(device)
    theta = mlp.init(rng) if theta0 is None else mlp.check_theta(np.array(theta0, dtype=float))
    calibrate = (
        config.calibrate_scale
        and theta0 is None
        and getattr(problem, "displacement_scale_adjustable", False)
    )
    if calibrate:
        problem.reset_displacement_scale()  # a second run on the same problem starts alike
    run = _Run(problem, mlp, rng, device, config, callback, error_points, out)
    q0 = problem.initial_q() if run.n_q else None
    if calibrate:
        run.calibrate_scale(theta, q0)
    if run.n_q:
        theta = np.concatenate([theta, q0])
    run.theta = theta
    return run.run()


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
) -> TrainResult:
    """Continue a run from a checkpoint written by :func:`train` (same problem,
    network and configuration).  ``rng`` is overwritten with the saved state."""
    path = Path(checkpoint)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    config = TrainConfig() if config is None else config
    if config.checkpoint is None:
        config = replace(config, checkpoint=path)
    _check_setup(problem, mlp, rng, config)
    run = _Run(problem, mlp, rng, device, config, callback, error_points, out)
    run.restore(path)
    return run.run()


def _check_setup(problem, mlp: MLP, rng, config: TrainConfig) -> None:
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    if mlp.in_dim != problem.dim or mlp.out_dim != problem.dim:
        raise ValueError(
            f"the network maps {mlp.in_dim}-D to {mlp.out_dim}-D, the problem is {problem.dim}-D"
        )
    if config.checkpoint is not None:
        p = Path(config.checkpoint)
        if not p.parent.exists():
            raise ValueError(f"checkpoint folder {p.parent} does not exist")
        if not os.access(p.parent, os.W_OK):
            raise ValueError(f"checkpoint folder {p.parent} is not writable")
