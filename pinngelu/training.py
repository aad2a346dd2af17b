"""Training driver: a list of stages (Adam, L-BFGS, dense quasi-Newton,
Levenberg-Marquardt; :mod:`pinngelu.stages`), each with its own budget, with
progress lines, budgets, resampling or residual-based adaptive collocation
(:mod:`pinngelu.adaptive`), callbacks and atomic checkpoints that ``resume``
continues from.

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
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import numpy as np

from .activations import activation_name
from .adaptive import PointSets, adapt_points
from .checkpoint import (
    FORMAT as CHECKPOINT_FORMAT,
)
from .checkpoint import (
    HistoryBuffer,
    check_checkpoint_path,
    compare_config,
    compare_groups,
    config_fingerprint,
    groups_fingerprint,
    history_from_arrays,
    read_checkpoint,
)
from .energy import (
    QUADRATURE_CHECK_EVERY,
    QUADRATURE_CHECK_EVERY_SOLVED,
    QUADRATURE_REFINEMENTS,
    QUADRATURE_TOLERANCE,
    check_energy_quadrature,
    quadrature_check,
)
from .io import write_npz
from .jacobian import normal_equations
from .kernels import get_backend
from .loss import ResidualGroup, fit_output_layer, jets, loss_and_grad
from .network import MLP
from .optim.stopping import STOP_REASONS
from .parallel import as_comm, select_gpu
from .stages import LevenbergMarquardt, Stage
from .trainconfig import TrainConfig, TrainResult

__all__ = ["TrainConfig", "TrainResult", "train", "resume"]

ZERO_SECOND_DERIVATIVE = ("relu", "linear")
"""Activations whose second derivative is zero almost everywhere."""


GTOL_LOSS_FACTOR = 2.0
"""A stage's gradient test ends it only where the current loss is at most this
factor times the best loss recorded so far."""


class _Objective:
    """``x -> (loss, grad)`` over residual groups on a backend, remembering the
    per-group losses of the last evaluation.

    ``x = [theta, q]``: the network parameters, then the trainable physical
    parameters of an inverse problem (none for a forward problem).

    With ``solve_output`` (variable projection) the output layer of ``x`` is not
    used: :meth:`params` replaces it by the minimiser of the loss over that layer
    (:func:`~pinngelu.loss.fit_output_layer`, a linear least-squares or Ritz
    problem), and the value and gradient are those of the reduced loss
    ``min_W L(theta_hidden, W)``.  Its gradient in the hidden layers is the partial
    gradient at the minimiser (the minimiser is stationary in ``W``); its
    output-layer entries are zero.
    """

    def __init__(
        self,
        mlp: MLP,
        groups: list[ResidualGroup],
        device,
        n_q: int = 0,
        comm=None,
        solve_output: bool = False,
    ) -> None:
        self.mlp = mlp
        self.comm = as_comm(comm)
        self.groups = groups
        self.backend = get_backend(device)
        self.n_q = n_q
        self.n_eval = 0
        self.last_groups: dict[str, float] = {}
        self.solve_output = solve_output
        self._projected: tuple = (None, None, None)

    def params(self, x: np.ndarray) -> np.ndarray:
        """The parameters ``x`` stands for: ``x`` itself, or with ``solve_output`` its
        hidden layers and the output layer that minimises the loss over them."""
        if not self.solve_output or not np.all(np.isfinite(x)):
            return x
        groups, x0, full = self._projected
        if groups is self.groups and np.array_equal(x0, x):
            return full
        P = self.mlp.n_params
        q = x[P:] if self.n_q else None
        theta = fit_output_layer(self.mlp, x[:P], self.groups, self.backend, q)
        full = np.concatenate([theta, x[P:]])
        self._projected = (self.groups, x.copy(), full)
        return full

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.n_eval += 1
        if not np.all(np.isfinite(x)):
            return math.nan, np.full_like(x, math.nan)
        P = self.mlp.n_params
        x = self.params(x)
        q = x[P:] if self.n_q else None
        res = loss_and_grad(self.mlp, x[:P], self.groups, self.backend, q=q, comm=self.comm)
        self.last_groups = res.group_losses
        grad = res.grad
        if self.solve_output:
            grad = grad.copy()
            grad[self.mlp.offsets[self.mlp.n_layers - 1] :] = 0.0
        if self.n_q:
            return res.loss, np.concatenate([grad, res.grad_q])
        return res.loss, grad

    def value(self, x: np.ndarray) -> float:
        """The loss alone (one evaluation)."""
        return self(x)[0]

    def normal(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """``(loss, J^T J, J^T r)`` of the residual vector at ``x`` (one evaluation)."""
        self.n_eval += 1
        P = self.mlp.n_params
        q = x[P:] if self.n_q else None
        ne = normal_equations(self.mlp, x[:P], self.groups, self.backend, q=q)
        self.last_groups = ne.group_losses
        return ne.loss, ne.JtJ, ne.Jtr


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
        comm=None,
    ) -> None:
        self.comm = as_comm(comm)
        if not self.comm.is_root:
            out = None  # only rank 0 prints progress
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
        self.stages: tuple[Stage, ...] = config.resolved_stages()
        self.si = 0  # index of the current stage
        self.stage_it = 0  # iterations done in it
        self.stage_elapsed = 0.0  # seconds spent in it before this part of the run
        self.stage = self.stages[0].name
        self.state = None  # the current stage's optimiser state
        self.sample_state = _rng_state(rng)
        self.hbuf = HistoryBuffer()
        self.config_fingerprint = config_fingerprint(config)
        self.n_q = int(getattr(problem, "n_q", 0))
        if self.n_q:
            self.hist["q"] = []
        self.obj = _Objective(
            mlp, [], device, self.n_q, self.comm, config.solves_output_layer(problem)
        )
        self.points: PointSets | None = None  # the current points, with config.adapt
        if config.adapt is not None:
            self.points = problem.sample_points(rng)  # the draw of residual_groups(rng)
            self.set_groups(problem.groups_at(*self.points))
        else:
            self.set_groups(problem.residual_groups(rng))
        self.theta: np.ndarray | None = None
        self.best = (math.inf, None)
        # the energy formulation's watch over its quadrature: the last iterate whose
        # energy agreed with a finer quadrature, and whether it was refined already
        self.last_checked = (0, None)
        self.quad_refined = 0  # times the quadrature was refined in this run
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

    def calibrate_scale(self, theta: np.ndarray, q: np.ndarray | None) -> np.ndarray:
        """Set the problem's displacement scale to the root-mean-square of the
        least-squares fit of the output layer (see ``TrainConfig.calibrate_scale``).

        Returns the parameters to start from: ``theta`` for the strong form; for the
        energy formulation the fitted output layer in the new units (the Ritz
        solution in the span of the initial features, the minimiser of the loss over
        that layer)."""
        problem = self.problem
        fitted = fit_output_layer(self.mlp, theta, self.obj.groups, self.obj.backend, q)
        X = np.concatenate([g.X for g in self.obj.groups])
        u = jets(self.mlp, fitted, X, self.obj.backend)[0]
        s = float(np.sqrt(np.mean(np.sum(u * u, axis=1))))
        if not (math.isfinite(s) and s > 1e-12):
            return theta
        problem.scale_displacement(s)
        if getattr(problem, "formulation", None) is not None:
            W_out, b_out = self.mlp.layer(fitted, self.mlp.n_layers - 1)
            W_out /= s
            b_out /= s
            theta = fitted
        # the same points again, with targets in the new units
        if self.points is not None:
            self.set_groups(problem.groups_at(*self.points))
        else:
            _set_rng_state(self.rng, self.sample_state)
            self.set_groups(problem.residual_groups(self.rng))
        return theta

    def set_groups(self, groups: list[ResidualGroup]) -> None:
        """Train on these groups from now on (and remember their fingerprint)."""
        self.obj.groups = groups
        self.fingerprint = groups_fingerprint(groups)

    def resample(self) -> str | None:
        """Draw new collocation points; on a failure of the problem's callables (an
        exception, NaN or inf values) keep the current points and return the reason
        to stop."""
        state = _rng_state(self.rng)
        try:
            groups = self.problem.residual_groups(self.rng)
        except Exception as exc:  # user callables: body force, prescribed values
            return (
                f"resampling failed at iteration {self.it}: {type(exc).__name__}: {exc}; "
                "kept the best iterate"
            )
        self.sample_state = state
        self.set_groups(groups)
        return None

    def adapt(self) -> str | None:
        """Draw new collocation points from the residual at the current parameters
        (``TrainConfig.adapt``, :mod:`pinngelu.adaptive`) and restart the best-iterate
        tracking on them: losses on different points do not compare, and points drawn
        where the residual is large give a larger loss.  On a failure (the problem's
        callables, non-finite residuals) keep the current points and return the
        reason to stop."""
        theta, q = self.split(self.obj.params(self.theta))
        try:
            points = adapt_points(
                self.problem,
                self.mlp,
                theta,
                q,
                self.points,
                self.cfg.adapt,
                self.rng,
                self.obj.backend,
                self.comm,
            )
            groups = self.problem.groups_at(*points)
        except Exception as exc:  # user callables, non-finite residuals
            return (
                f"adaptive resampling failed at iteration {self.it}: {type(exc).__name__}: "
                f"{exc}; kept the best iterate"
            )
        self.points = points
        self.set_groups(groups)
        f = self.obj.value(self.theta)
        self.best = (f, self.theta.copy()) if math.isfinite(f) else self.best
        if self.out is not None and self.cfg.print_every:
            sizes = " ".join(f"{g.name}={g.n_points}" for g in groups)
            print(
                f"[{self.stage:5s}] it {self.it:6d}  points adapted to the residual: "
                f"loss {f:.4e} on them  ({sizes})",
                file=self.out,
                flush=True,
            )
        return None

    def record(self, loss: float, gnorm: float) -> None:
        h = self.hist
        h["iteration"].append(self.it)
        h["stage"].append(self.stage)
        h["loss"].append(loss)
        h["gnorm"].append(gnorm)
        h["time"].append(self.elapsed())
        h["groups"].append(dict(self.obj.last_groups))
        theta, q = self.split(self.obj.params(self.theta))
        if q is not None:
            h["q"].append([float(v) for v in q])
        self.hbuf.record(self.it, self.stage, loss, gnorm, h["time"][-1], self.obj.last_groups, q)
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
            self.hbuf.record_error(self.it, h["error_time"][-1], err)
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
        if not self.comm.is_root:  # one optimiser state on every rank: rank 0 writes it
            return
        meta = {
            "format": CHECKPOINT_FORMAT,
            "mlp": self.mlp.to_dict(),
            "n_q": self.n_q,
            "it": self.it,
            "stage": self.stage,
            "stage_index": self.si,
            "stage_it": self.stage_it,
            "stage_elapsed": self.stage_time(),
            "elapsed": self.elapsed(),
            "n_eval": self.n_eval(),
            "rng": _rng_state(self.rng),
            "sample_rng": self.sample_state,
            "solve_output": self.obj.solve_output,
            "quadrature_h": self.problem.formulation.h if self.quad_refined else None,
            "quadrature_refined": self.quad_refined,
            "last_checked_it": self.last_checked[0],
            "best_loss": self.best[0],
            "displacement_scale": self._displacement_scale(),
            "history_groups": self.hbuf.group_names,
            "fingerprint": {"groups": self.fingerprint, "config": self.config_fingerprint},
        }
        arrays = {"theta": self.theta}
        if self.best[1] is not None:
            arrays["best_theta"] = self.best[1]
        if self.last_checked[1] is not None:
            arrays["last_checked_theta"] = self.last_checked[1]
        if self.points is not None:
            arrays["points__interior"] = self.points[0]
            for k, (Xb, Nb) in enumerate(self.points[1]):
                arrays[f"points__X{k}"] = Xb
                arrays[f"points__N{k}"] = Nb
        scalars = meta["scalars"] = {}
        if self.state is not None:
            for k, v in self.stages[self.si].state_to_dict(self.state).items():
                if isinstance(v, np.ndarray):
                    arrays["state__" + k] = v
                else:
                    scalars["state__" + k] = v
        arrays["meta"] = np.array(json.dumps(meta))
        arrays.update(self.hbuf.arrays())
        write_npz(path, **arrays)

    def restore(self, path) -> None:
        """Continue from a checkpoint, after checking it was written for this network,
        problem and configuration (ValueError naming the difference)."""
        meta, z = read_checkpoint(path)
        try:
            saved_mlp = MLP.from_dict(meta["mlp"])
            fp = meta["fingerprint"]
            it, stage = int(meta["it"]), str(meta["stage"])
            sample_rng, rng_state = meta["sample_rng"], meta["rng"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"checkpoint {path} has an incomplete 'meta' entry: {exc}") from exc
        if saved_mlp != self.mlp:
            raise ValueError(
                f"checkpoint {path} was written for a different network ({saved_mlp}, now "
                f"{self.mlp})"
            )
        theta = np.asarray(z["theta"], dtype=np.float64)
        if theta.shape != (self.mlp.n_params + self.n_q,):
            raise ValueError(
                f"checkpoint {path} holds {theta.shape} parameters, the problem "
                f"and network need ({self.mlp.n_params + self.n_q},)"
            )
        compare_config(path, fp["config"], self.config_fingerprint)
        scales = getattr(self.problem, "scales", None)
        old_scale = None if scales is None else scales.displacement
        if meta.get("displacement_scale") is not None:
            self.problem.scales.displacement = float(meta["displacement_scale"])
        points = None
        if meta.get("quadrature_h") is not None:  # the quadrature was refined in training
            self.problem.formulation = replace(
                self.problem.formulation, h=float(meta["quadrature_h"])
            )
            self.quad_refined = int(meta.get("quadrature_refined", 1))
        if "last_checked_theta" in z:
            self.last_checked = (int(meta["last_checked_it"]), np.array(z["last_checked_theta"]))
        try:
            if self.points is not None:
                points = self._saved_points(path, z)
                groups = self.problem.groups_at(*points)
            else:
                _set_rng_state(self.rng, sample_rng)
                groups = self.problem.residual_groups(self.rng)
            compare_groups(path, fp["groups"], groups_fingerprint(groups))
        except ValueError:
            if old_scale is not None:
                scales.displacement = old_scale
            raise
        self.set_groups(groups)
        if points is not None:
            self.points = points
        self.sample_state = sample_rng
        _set_rng_state(self.rng, rng_state)
        self.theta = theta
        self.best = (
            meta["best_loss"],
            np.array(z["best_theta"]) if "best_theta" in z else self.theta.copy(),
        )
        state = {**z, **meta.get("scalars", {})}
        st = {k[7:]: v for k, v in state.items() if k.startswith("state__")}
        try:
            self.si = int(meta["stage_index"])
            self.stage_it = int(meta["stage_it"])
            self.stage_elapsed = float(meta["stage_elapsed"])
            self.obj.solve_output = bool(meta.get("solve_output", self.obj.solve_output))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"checkpoint {path} has an incomplete 'meta' entry: {exc}") from exc
        if self.si < len(self.stages):
            self.state = self.stages[self.si].state_from_dict(st) if st else None
        self.it = it
        self.stage = stage
        self.t_offset = float(meta["elapsed"])
        self.eval_offset = int(meta["n_eval"])
        self.hbuf = HistoryBuffer.from_arrays(z, meta["history_groups"])
        self.hist = history_from_arrays(z, meta["history_groups"] or [], self.n_q)

    def _saved_points(self, path, z: dict) -> PointSets:
        """The adapted points stored in a checkpoint (ValueError when absent)."""
        n_cond = len(self.points[1])
        names = ["points__interior"] + [f"points__{a}{k}" for k in range(n_cond) for a in "XN"]
        missing = [n for n in names if n not in z]
        if missing:
            raise ValueError(
                f"checkpoint {path} holds no adapted collocation points ({missing[0]} is "
                "missing): it was not written by a run with TrainConfig.adapt"
            )
        d = self.points[0].shape[1]
        arrs = {n: np.asarray(z[n], dtype=np.float64).reshape(-1, d) for n in names}
        boundary = [(arrs[f"points__X{k}"], arrs[f"points__N{k}"]) for k in range(n_cond)]
        return arrs["points__interior"], boundary

    # ------------------------------------------------------------ main loop
    def budget_reason(self) -> str | None:
        cfg = self.cfg
        if cfg.time_limit is not None and self.agree(self.elapsed() >= cfg.time_limit):
            return "time limit reached"
        if cfg.max_evals is not None and self.n_eval() >= cfg.max_evals:
            return "evaluation budget reached"
        return None

    def agree(self, flag: bool) -> bool:
        """Rank 0's decision on every rank (clocks differ between ranks; the ranks must
        stay in lockstep)."""
        return bool(flag) if self.comm.size == 1 else bool(self.comm.bcast(bool(flag)))

    def tick(self) -> str | None:
        """After an iteration: checkpoint, callback, budgets."""
        cfg = self.cfg
        if (
            cfg.checkpoint is not None
            and cfg.checkpoint_every
            and self.it % cfg.checkpoint_every == 0
        ):
            self.save(cfg.checkpoint)
        if self.callback is not None and self.agree(self.callback(self)):
            return "stopped by callback"
        return self.budget_reason()

    def stage_time(self) -> float:
        """Seconds spent in the current stage."""
        running = 0.0 if self.stage_t0 is None else self.elapsed() - self.stage_t0
        return self.stage_elapsed + running

    def stage_stop(self, stop: str | None, f: float) -> str | None:
        """A stage's own stop reason, except that a gradient test counts only where the
        loss is at most ``GTOL_LOSS_FACTOR`` times the best loss so far: after a
        resample the stage's reference gradient belongs to the new points, and a small
        gradient far above the best loss is no convergence of the run."""
        if stop == STOP_REASONS["gtol"] and not f <= GTOL_LOSS_FACTOR * self.best[0]:
            return None
        return stop

    def run_stage(self, stage: Stage) -> tuple[str | None, str | None, bool]:
        """Iterate the current stage; returns ``(run_reason, stage_reason, failed)``:
        why the whole run must stop (budget, callback, failed resample), or why this
        stage ended (its budget, convergence or a failed step, ``failed`` True)."""
        cfg = self.cfg
        if self.state is None:
            try:
                self.state = stage.init(self.obj, self.theta)
            except ValueError as exc:  # a non-finite objective where the stage starts
                return f"{stage.label} could not start: {exc}; kept the best iterate", None, True
            if stage.records_initial:
                self.theta = self.state.x.copy()
                rec = stage.initial(self.state)
                self.record(rec.f, rec.gnorm)
        while True:
            if self.stage_it >= stage.iters:
                return None, f"{stage.label} iteration budget reached", False
            if stage.time_limit is not None and self.agree(self.stage_time() >= stage.time_limit):
                return None, f"{stage.label} time limit reached", False
            self.state, rec = stage.step(self.obj, self.state)
            if stage.records_initial:  # the step reports the point it moved to
                self.theta = rec.x.copy()
                self.it += 1
                self.stage_it += 1
                self.record(rec.f, rec.gnorm)
            elif rec.stop is None:  # Adam reports the point it stepped from
                self.record(rec.f, rec.gnorm)
                self.theta = self.state.x
                self.it += 1
                self.stage_it += 1
            stop = self.stage_stop(rec.stop, rec.f)
            if stop is not None and rec.failed and not rec.abort and self.obj.solve_output:
                self.release_projection(stage, stop)
                continue
            if stop is not None:
                return (stop, None, True) if rec.abort else (None, stop, rec.failed)
            every = cfg.adapt.every if cfg.adapt is not None else cfg.resample_every
            if every and self.it % every == 0:  # new points
                reason = self.resample() if cfg.adapt is None else self.adapt()
                if reason is not None:
                    return reason, None, False
                if stage.restarts_on_resample:
                    self.state = stage.init(self.obj, self.theta)
            every_check = (
                QUADRATURE_CHECK_EVERY_SOLVED if self.obj.solve_output else QUADRATURE_CHECK_EVERY
            )
            if (
                getattr(self.problem, "formulation", None) is not None
                and self.it % every_check == 0
            ):
                reason = self.watch_quadrature(stage)
                if reason is not None:
                    return reason, None, False
            reason = self.tick()
            if reason is not None:
                return reason, None, False

    def watch_quadrature(self, stage: Stage) -> str | None:
        """The energy formulation's check during training: the energy of the current
        iterate on a quadrature of half the cell size.  Where they disagree (the network
        has begun to lower the energy by fields between the quadrature points) training
        goes back to the last checked iterate and continues on the finer quadrature
        (``QUADRATURE_REFINEMENTS`` times; one more disagreement stops the run at the
        last checked iterate)."""
        theta = self.split(self.obj.params(self.theta))[0]
        quad = quadrature_check(self.problem, self.mlp, theta, self.obj.backend)
        if quad["relative_difference"] <= QUADRATURE_TOLERANCE:
            self.last_checked = (self.it, self.theta.copy())
            return None
        it0, good = self.last_checked
        self.theta = self.obj.params(good).copy()
        lead = (
            f"iteration {self.it}: the energy differs by {quad['relative_difference']:.1e} on a "
            f"quadrature of half the cell size (the network is exploiting the quadrature)"
        )
        if self.quad_refined >= QUADRATURE_REFINEMENTS:
            self.best = (self.obj.value(self.theta), self.theta.copy())
            return f"{lead}; stopped at the last checked iterate (iteration {it0})"
        form = self.problem.formulation
        self.problem.formulation = replace(form, h=0.5 * form.cell_size(self.problem))
        self.quad_refined += 1
        _set_rng_state(self.rng, self.sample_state)
        self.set_groups(self.problem.residual_groups(self.rng))
        f = self.obj.value(self.theta)
        self.best = (f, self.theta.copy())
        if self.out is not None:
            print(
                f"[{stage.name}] {lead}; back to iteration {it0}, continuing on a quadrature "
                f"of cell size {self.problem.formulation.h:.3g} m",
                file=self.out,
                flush=True,
            )
        self.state = stage.init(self.obj, self.theta)
        return None

    def release_projection(self, stage: Stage, why: str) -> None:
        """Variable projection has stalled (a failed step: the reduced loss is only as
        smooth as the output-layer solve is accurate): continue the stage on every
        layer from the best point, its output layer solved once more."""
        best = self.best[1] if self.best[1] is not None else self.theta
        self.theta = self.obj.params(best).copy()
        if self.best[1] is not None:  # the best point as the parameters it stands for
            self.best = (self.best[0], self.theta.copy())
        self.obj.solve_output = False
        if self.out is not None:
            print(
                f"[{stage.name}] iteration {self.it}: the solved output layer stalled ({why}); "
                "continuing on all layers",
                file=self.out,
                flush=True,
            )
        self.state = stage.init(self.obj, self.theta)

    def run(self) -> TrainResult:
        cfg = self.cfg
        if self.last_checked[1] is None:  # the start counts as checked
            self.last_checked = (self.it, self.theta.copy())
        self.t0 = time.perf_counter()
        self.stage_t0: float | None = None
        reason = self.budget_reason()
        while reason is None and self.si < len(self.stages):
            stage = self.stages[self.si]
            self.stage = stage.name
            self.stage_t0 = self.elapsed()
            reason, ended, failed = self.run_stage(stage)
            if reason is not None:
                break
            if self.si == len(self.stages) - 1:
                reason = ended
                break
            if self.out is not None:
                print(f"[{stage.name}] stage ended: {ended}", file=self.out, flush=True)
            if failed and self.best[1] is not None:
                self.theta = self.best[1].copy()  # the next stage starts from the best point
            self.si += 1
            self.stage_it = 0
            self.stage_elapsed = 0.0
            self.stage_t0 = None
            self.state = None
        # the best recorded iterate: every recorded loss was evaluated at the theta
        # recorded with it (Adam records before it steps, the others after they move)
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
        theta, q = self.split(self.obj.params(best_theta))
        quad = None
        if getattr(self.problem, "formulation", None) is not None and math.isfinite(best_loss):
            quad = check_energy_quadrature(self.problem, self.mlp, theta, self.obj.backend)
            if self.out is not None:
                print(
                    f"energy on the training quadrature {quad['energy']:.6e}, on one of half "
                    f"the cell size {quad['energy_fine']:.6e} "
                    f"(relative difference {quad['relative_difference']:.1e})",
                    file=self.out,
                    flush=True,
                )
        return TrainResult(
            theta.copy(),
            float(best_loss),
            self.hist,
            str(reason),
            self.it,
            self.n_eval(),
            self.elapsed(),
            np.zeros(0) if q is None else q.copy(),
            quad,
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
    comm=None,
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
        the checkpoint path cannot be written, or ``theta0`` has the wrong length.
    """
    config = _check_setup(problem, mlp, rng, config, callback, comm)
    select_gpu(as_comm(comm), device)
    get_backend(device)
    theta = mlp.init(rng) if theta0 is None else mlp.check_theta(np.array(theta0, dtype=float))
    calibrate = (
        config.calibrate_scale
        and theta0 is None
        and getattr(problem, "displacement_scale_adjustable", False)
    )
    if calibrate:
        problem.reset_displacement_scale()  # a second run on the same problem starts alike
    run = _Run(problem, mlp, rng, device, config, callback, error_points, out, comm)
    _check_second_derivatives(mlp, run.obj.groups)
    q0 = problem.initial_q() if run.n_q else None
    if calibrate:
        theta = run.calibrate_scale(theta, q0)
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
    comm=None,
) -> TrainResult:
    """Continue a run from a checkpoint written by :func:`train`.

    Parameters are those of :func:`train` (under MPI every rank reads the file, whatever
    the number of ranks that wrote it); ``rng`` is overwritten with the saved
    state (any generator will do), and ``config`` must keep the settings that shape
    the trajectory (budgets, output and checkpoint settings may change; see
    :data:`pinngelu.checkpoint.FINGERPRINT_CONFIG_FIELDS`).  Without
    ``config.checkpoint`` the run keeps writing to ``checkpoint``.

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
        counts) or configuration; the message names the file and the difference.
    """
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a path, got {type(checkpoint).__name__}")
    path = Path(checkpoint)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    config = _check_setup(problem, mlp, rng, config, callback, comm)
    if config.checkpoint is None:
        config = replace(config, checkpoint=path)
        check_checkpoint_path(path)
    select_gpu(as_comm(comm), device)
    get_backend(device)
    run = _Run(problem, mlp, rng, device, config, callback, error_points, out, comm)
    _check_second_derivatives(mlp, run.obj.groups)
    run.restore(path)
    return run.run()


def _check_setup(problem, mlp: MLP, rng, config, callback, comm=None) -> TrainConfig:
    """Check the arguments of :func:`train` / :func:`resume` before any work; returns
    the configuration."""
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
    for stage in config.resolved_stages():
        stage.check(n)
    if as_comm(comm).size > 1 and any(
        isinstance(st, LevenbergMarquardt) for st in config.resolved_stages()
    ):
        raise ValueError(
            "Levenberg-Marquardt is not supported under MPI (its normal equations are "
            "not split over ranks); use QuasiNewton or LBFGS"
        )
    if getattr(problem, "formulation", None) is not None and any(
        isinstance(st, LevenbergMarquardt) for st in config.resolved_stages()
    ):
        raise ValueError(
            "Levenberg-Marquardt needs a least-squares loss; the energy formulation's loss "
            "(the total potential energy) is not one: use QuasiNewton or LBFGS"
        )
    if config.solve_output_layer and any(
        isinstance(st, LevenbergMarquardt) for st in config.resolved_stages()
    ):
        raise ValueError(
            "solve_output_layer=True does not combine with Levenberg-Marquardt, which "
            "solves for every layer at once"
        )
    if config.adapt is not None:
        if getattr(problem, "formulation", None) is not None:
            raise ValueError(
                "adaptive collocation (TrainConfig.adapt) is not supported with the energy "
                "formulation: its groups are a fixed quadrature, not collocation points "
                "drawn at random; use adapt with the strong form (formulation=None)"
            )
        needs = ("sample_points", "groups_at", "point_conditions", "boundary_counts")
        if not all(callable(getattr(problem, a, None)) for a in needs):
            raise TypeError(
                "adaptive collocation (TrainConfig.adapt) needs a problem with "
                f"{', '.join(needs)} (a pinngelu.ElasticityProblem), got "
                f"{type(problem).__name__}"
            )
    return config


def _check_second_derivatives(mlp: MLP, groups: list[ResidualGroup]) -> None:
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
