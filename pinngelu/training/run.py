"""The state of a training run, shared by the stage loop, its hooks and the user's
callback: the problem and network, the current formulation and residual groups, the
parameters, the best iterate, the counters and clocks, the random generator and the
history.  Hooks change the run only through these attributes and methods."""

from __future__ import annotations

import math
import time
from typing import TextIO

import numpy as np

from ..network import MLP
from ..parallel import as_comm
from .checkpoint import groups_fingerprint, rng_state, set_rng_state
from .config import TrainConfig
from .history import History
from .objective import Objective
from .stages import Stage

__all__ = ["Run"]


class Run:
    """A training run in progress.

    Attributes
    ----------
    problem, mlp, rng, config
        As passed to :func:`pinngelu.train`.
    form : Formulation
        The formulation trained on now (the problem's, or a refined one).
    obj : Objective
        The loss and gradient over the current groups.
    theta : ndarray, shape (n_params + n_q,)
        The current iterate.
    best : (float, ndarray or None)
        The lowest recorded loss and its iterate.
    it : int
        Iterations done (over all stages and resumed parts).
    stages : tuple of Stage
    si, stage_it : int
        Index of the current stage and iterations done in it.
    stage : str
        Name of the current stage.
    state
        The current stage's optimiser state (None before it starts).
    points : PointSets or None
        The current collocation points with adaptive collocation.
    sample_state : str
        The random generator's state from which the current groups were drawn.
    history : History
    last_error : float or None
        The error of the last recorded iteration, where it was evaluated.
    hooks : list of Hook
        Asked by the loop in this order (:mod:`pinngelu.training.hooks`).
    final_check : dict or None
        The formulation's check of the result, once the run has stopped.
    """

    def __init__(
        self,
        problem,
        mlp: MLP,
        rng: np.random.Generator,
        device,
        config: TrainConfig,
        out: TextIO | None,
        comm=None,
    ) -> None:
        self.comm = as_comm(comm)
        self.out = out if self.comm.is_root else None  # only rank 0 prints
        self.problem = problem
        self.mlp = mlp
        self.rng = rng
        self.device = device
        self.config = config
        self.form = problem.formulation
        self.n_q = int(getattr(problem, "n_q", 0))
        self.history = History(self.n_q)
        #: trainable parameters: the network's, then the identified ones
        self.n_params = mlp.n_params + self.n_q
        self.stages: tuple[Stage, ...] = config.resolved_stages(self.n_params)
        self.si = 0
        self.stage_it = 0
        self.stage_elapsed = 0.0  # seconds in the current stage before this part of the run
        self.stage_t0: float | None = None
        self.stage = self.stages[0].name
        self.state = None
        self.it = 0
        self.t_offset = 0.0
        self.t0 = time.perf_counter()
        self.eval_offset = 0
        self.theta: np.ndarray | None = None
        self.best: tuple[float, np.ndarray | None] = (math.inf, None)
        self.last_error: float | None = None
        self.final_check: dict | None = None
        self.hooks: list = []
        self.sample_state = rng_state(rng)
        solve = config.solve_output_layer
        solve = self.form.solves_output_layer if solve is None else solve
        self.obj = Objective(mlp, [], device, self.n_q, self.comm, solve)
        self.points = None
        if config.adapt is not None:
            self.points = problem.sample_points(rng)  # the draw of residual_groups(rng)
            self.set_groups(problem.groups_at(*self.points))
        else:
            self.set_groups(self.form.residual_groups(problem, rng))
        # the singular fields' coefficients are zero until solved (without a solved
        # output layer they stay so, and the result still holds one per field)
        n_e = max((g.n_enrichment for g in self.obj.groups), default=0)
        if n_e and self.obj.coefficients.size != n_e:
            self.obj.apply_coefficients(np.zeros(n_e))

    # ------------------------------------------------------------ clocks
    def elapsed(self) -> float:
        """Seconds of training, earlier (resumed) parts included."""
        return self.t_offset + time.perf_counter() - self.t0

    def stage_time(self) -> float:
        """Seconds spent in the current stage."""
        running = 0.0 if self.stage_t0 is None else self.elapsed() - self.stage_t0
        return self.stage_elapsed + running

    def n_eval(self) -> int:
        """Objective evaluations, earlier (resumed) parts included."""
        return self.eval_offset + self.obj.n_eval

    # ------------------------------------------------------------ parameters
    def split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(theta, q)`` of an optimisation vector ``x``."""
        P = self.mlp.n_params
        return x[:P], (x[P:] if self.n_q else None)

    def current(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(theta, q)`` the current iterate stands for (with a solved output layer)."""
        return self.split(self.obj.params(self.theta))

    # ------------------------------------------------------------ groups
    def set_groups(self, groups: list) -> None:
        """Train on these groups from now on (and remember their fingerprint)."""
        self.obj.groups = groups
        self.fingerprint = groups_fingerprint(groups)

    def rebuild_groups(self) -> list:
        """The current groups built again: at the adapted points, or from the draw
        that made them (after a change of units or formulation)."""
        if self.points is not None:
            return self.problem.groups_at(*self.points)
        set_rng_state(self.rng, self.sample_state)
        return self.form.residual_groups(self.problem, self.rng)

    def restart_stage(self) -> None:
        """A fresh optimiser state of the current stage at the current iterate (after
        the objective changed: new points, a finer formulation)."""
        self.state = self.stages[self.si].init(self.obj, self.theta)

    # ------------------------------------------------------------ ranks, output
    def agree(self, flag: bool) -> bool:
        """Rank 0's decision on every rank (clocks differ between ranks; the ranks
        must stay in lockstep)."""
        return bool(flag) if self.comm.size == 1 else bool(self.comm.bcast(bool(flag)))

    def say(self, line: str) -> None:
        """Print a line of progress (rank 0, when output is on)."""
        if self.out is not None:
            print(line, file=self.out, flush=True)
