"""Training stages: one optimiser, its settings and its own budget each.

A training run is a list of stages, for example
``[Adam(1000), LBFGS(5000), QuasiNewton(2000), LevenbergMarquardt(200)]``; each
stage starts from the best point of the one before.  A stage holds its optimiser's
settings (a config without budgets) and its own budget (``iters``, ``time_limit``),
both checked when the stage is built.  It offers the same few operations whatever its
optimiser, so the loop (:mod:`pinngelu.training.loop`) is one:

- ``init(obj, x)``: the optimiser state at ``x`` (evaluating the objective there);
- ``step(obj, state) -> (state, StageStep)``: one iteration; the step reports the
  point and loss to record, the gradient norm, whether the point moved, and the
  stage's own stop reason (convergence or a failed step);
- ``restarts_on_resample``: whether new collocation points need a fresh state
  (curvature information belongs to the old points); Adam's moments are kept;
- ``state_to_dict`` / ``state_from_dict``: the state as flat arrays, so that a
  checkpoint resumes bit-identically (dense matrices included).

The objective ``obj`` is called as ``obj(x) -> (f, g)``; Levenberg-Marquardt also
uses ``obj.normal(x) -> (f, JtJ, Jtr)`` and ``obj.value(x) -> f``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .. import checks, memory
from ..optim import (
    AdamState,
    LBFGSConfig,
    LBFGSState,
    LMConfig,
    LMState,
    QNConfig,
    QNState,
    QNUpdate,
    adam_init,
    adam_update,
    dense_memory_bytes,
    lbfgs_init,
    lbfgs_step,
    lbfgs_stop_reason,
    lm_init,
    lm_memory_bytes,
    lm_step,
    lm_stop_reason,
    qn_init,
    qn_step,
    qn_stop_reason,
)
from ..parallel import as_comm, chunk_range

_QN_LABELS = {
    QNUpdate.BFGS: "BFGS",
    QNUpdate.SSBFGS_AB: "SSBFGS-AB",
    QNUpdate.SSBFGS_OL: "SSBFGS-OL",
    QNUpdate.SSBROYDEN1: "SSBroyden1",
    QNUpdate.SSBROYDEN2: "SSBroyden2",
}

STAGE_NAMES = ("adam", "lbfgs", *(u.value for u in QNUpdate), "lm")
"""Every stage name a history can hold (their index is the stage code of a checkpoint)."""

__all__ = [
    "Stage",
    "StageStep",
    "Adam",
    "LBFGS",
    "QuasiNewton",
    "LevenbergMarquardt",
    "STAGE_NAMES",
    "OPTIMIZERS",
    "optimizer_stages",
]


@dataclass(frozen=True)
class StageStep:
    """What one stage iteration reports to the driver.

    Attributes
    ----------
    x : ndarray
        The point whose loss is ``f`` (recorded with it).
    f, gnorm : float
        Loss and ``|grad|_inf`` at ``x``.
    stop : str or None
        The stage's reason to end (converged, or the step failed), else None.
    failed : bool
        Whether ``stop`` is a failure (no lower point found): the next stage then
        starts from the best recorded point.
    abort : bool
        Whether the whole run must stop (a non-finite loss).
    """

    x: np.ndarray
    f: float
    gnorm: float
    stop: str | None = None
    failed: bool = False
    abort: bool = False


def _check(stage, config_type: type | None = None) -> None:
    """Check a stage's budget and settings when it is built (ValueError or TypeError
    naming the stage, the setting and the value)."""
    name = type(stage).__name__
    object.__setattr__(stage, "iters", checks.count(f"{name}: iters", stage.iters))
    if stage.time_limit is not None:
        t = checks.positive(f"{name}: time_limit", stage.time_limit, " seconds")
        object.__setattr__(stage, "time_limit", t)
    if config_type is not None and not isinstance(stage.config, config_type):
        raise TypeError(
            f"{name} takes a {config_type.__name__} as its config, got "
            f"{type(stage.config).__name__}; each stage has its own settings "
            "(LBFGS: LBFGSConfig, QuasiNewton: QNConfig, LevenbergMarquardt: LMConfig)"
        )


class Stage:
    """Interface of a training stage (see the module docstring)."""

    name: str = "stage"
    label: str = "stage"  # for messages
    iters: int = 0
    time_limit: float | None = None
    restarts_on_resample: bool = True
    records_initial: bool = True  # record the loss at the starting point

    def init(self, obj, x: np.ndarray) -> Any:
        raise NotImplementedError  # pragma: no cover

    def step(self, obj, state) -> tuple[Any, StageStep]:
        raise NotImplementedError  # pragma: no cover

    def check(self, n: int) -> None:
        """Raise ValueError before training if ``n`` parameters do not fit the stage."""

    def fingerprint(self) -> dict[str, Any]:
        """The settings that shape the trajectory (JSON-ready; budgets excluded)."""
        out: dict[str, Any] = {"name": self.name}
        for k, v in vars(self).items():
            if k in ("iters", "time_limit"):
                continue
            if hasattr(v, "__dataclass_fields__"):
                v = {j: (w.value if isinstance(w, QNUpdate) else w) for j, w in asdict(v).items()}
            out[k] = v
        return out

    def initial(self, state) -> StageStep:
        """The starting point's record."""
        return StageStep(state.x, float(state.f), float(np.max(np.abs(state.g))))

    def state_to_dict(self, state, comm=None) -> dict[str, Any]:
        """The state as flat arrays and scalars; a collective call under MPI (every
        rank calls it; the dict is complete on rank 0)."""
        return state.to_dict()

    def state_from_dict(self, data, comm=None) -> Any:
        """Inverse of :meth:`state_to_dict` (on every rank, with its communicator)."""
        raise NotImplementedError  # pragma: no cover


@dataclass
class _AdamRun:
    x: np.ndarray
    adam: AdamState
    f: float = math.nan  # the loss at ``x``, evaluated where a stage records its start
    g: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"x": self.x, **self.adam.to_dict()}


@dataclass(frozen=True)
class Adam(Stage):
    """Adam with a constant learning rate.

    Parameters
    ----------
    iters : int
        Iterations of this stage.
    lr : float
        Learning rate.
    time_limit : float, optional
        Seconds for this stage.
    """

    iters: int = 1000
    lr: float = 1e-3
    time_limit: float | None = None
    name = "adam"
    label = "Adam"
    restarts_on_resample = False

    def __post_init__(self) -> None:
        _check(self)
        object.__setattr__(self, "lr", checks.positive("Adam: lr", self.lr))

    @property
    def records_initial(self) -> bool:  # type: ignore[override]
        """Adam records the point each step starts from; a stage of no iterations
        records its start instead (its loss is then the run's, not NaN)."""
        return self.iters == 0

    def init(self, obj, x):
        state = _AdamRun(np.array(x, dtype=np.float64), adam_init(x))
        if self.records_initial:
            state.f, state.g = obj(state.x)
        return state

    def step(self, obj, state):
        f, g = obj(state.x)
        if not (math.isfinite(f) and np.all(np.isfinite(g))):
            stop = "non-finite loss in Adam; kept the best iterate"
            return state, StageStep(state.x, f, math.nan, stop, True, True)
        upd, adam = adam_update(state.adam, g, self.lr)
        rec = StageStep(state.x, f, float(np.max(np.abs(g))))
        return _AdamRun(state.x + upd, adam), rec

    def state_from_dict(self, data, comm=None):
        x = np.array(data["x"], dtype=np.float64)
        return _AdamRun(x, AdamState.from_dict({k: data[k] for k in ("m", "v", "t")}))


@dataclass(frozen=True)
class LBFGS(Stage):
    """Limited-memory BFGS with a strong-Wolfe line search.

    Parameters
    ----------
    iters : int
    config : LBFGSConfig
        Memory, tolerances and line search.
    time_limit : float, optional
    """

    iters: int = 5000
    config: LBFGSConfig = field(default_factory=lambda: LBFGSConfig(memory=50))
    time_limit: float | None = None
    name = "lbfgs"
    label = "L-BFGS"

    def __post_init__(self) -> None:
        _check(self, LBFGSConfig)

    def init(self, obj, x):
        return lbfgs_init(obj, x, self.config)

    def step(self, obj, state):
        state, info = lbfgs_step(obj, state, self.config)
        stop = lbfgs_stop_reason(state, info, self.config)
        return state, StageStep(state.x, state.f, info.gnorm, stop, not info.accepted)

    def state_from_dict(self, data, comm=None):
        return LBFGSState.from_dict(data)


@dataclass(frozen=True)
class QuasiNewton(Stage):
    """Dense quasi-Newton: BFGS, self-scaled BFGS or self-scaled Broyden
    (``config.update``); memory ``8 n^2`` bytes for ``n`` parameters.

    Parameters
    ----------
    iters : int
    config : QNConfig
    time_limit : float, optional
    """

    iters: int = 5000
    config: QNConfig = field(default_factory=QNConfig)
    time_limit: float | None = None

    def __post_init__(self) -> None:
        _check(self, QNConfig)

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.config.update.value

    @property
    def label(self) -> str:  # type: ignore[override]
        return _QN_LABELS[self.config.update]

    def check(self, n: int) -> None:
        need = dense_memory_bytes(n)
        if need > self.config.max_bytes:
            raise ValueError(
                f"QuasiNewton stage: {n} parameters need an {n} x {n} matrix of "
                f"{need / 1e9:.2f} GB, above the cap of {self.config.max_bytes / 1e9:.2f} GB "
                "(QNConfig.max_bytes): use an LBFGS stage (memory O(m n)) or a smaller network"
            )
        memory.check(  # a MemoryLimitError is a ValueError: the default falls back to L-BFGS
            need,
            f"QuasiNewton stage: the dense matrix of {n} parameters ({n} x {n} float64)",
            "the optimiser (an LBFGS stage, memory O(m n)) or the network (fewer parameters)",
        )

    def init(self, obj, x):
        return qn_init(obj, x, self.config, comm=getattr(obj, "comm", None))

    def step(self, obj, state):
        state, info = qn_step(obj, state, self.config, comm=getattr(obj, "comm", None))
        stop = qn_stop_reason(state, info, self.config)
        return state, StageStep(state.x, state.f, info.gnorm, stop, not info.accepted)

    def state_to_dict(self, state, comm=None):
        """The state with the whole matrix (its rows gathered from the ranks on rank 0)."""
        out = state.to_dict()
        comm = as_comm(comm)
        if comm.size > 1:
            blocks = comm.gather(state.H)
            out["H"] = np.concatenate(blocks) if comm.is_root else None
            out["row0"] = 0
        return out

    def state_from_dict(self, data, comm=None):
        """The state from a whole matrix, this rank's rows of it under MPI."""
        state = QNState.from_dict(data)
        comm = as_comm(comm)
        if comm.size == 1:
            return state
        r0, r1 = chunk_range(state.n, comm.rank, comm.size)
        return replace(state, H=np.ascontiguousarray(state.H[r0:r1]), row0=r0)


@dataclass(frozen=True)
class LevenbergMarquardt(Stage):
    """Levenberg-Marquardt on the residual Jacobian (``J^T J`` of ``n^2`` doubles).

    Parameters
    ----------
    iters : int
    config : LMConfig
    time_limit : float, optional
    """

    iters: int = 500
    config: LMConfig = field(default_factory=LMConfig)
    time_limit: float | None = None
    name = "lm"
    label = "Levenberg-Marquardt"

    def __post_init__(self) -> None:
        _check(self, LMConfig)

    def init(self, obj, x):
        return lm_init(obj.normal, x, self.config)

    def initial(self, state) -> StageStep:
        return StageStep(state.x, float(state.f), 2.0 * float(np.max(np.abs(state.Jtr))))

    def step(self, obj, state):
        state, info = lm_step(obj.normal, obj.value, state, self.config)
        stop = lm_stop_reason(state, info)
        return state, StageStep(state.x, state.f, 2.0 * info.gnorm, stop, not info.accepted)

    def check(self, n: int) -> None:
        need = lm_memory_bytes(n)  # J^T J, the next one and their temporaries
        if need > self.config.max_bytes:
            raise ValueError(
                f"LevenbergMarquardt stage: {n} parameters need {n} x {n} normal equations "
                f"of {need / 1e9:.2f} GB with their temporaries, above the cap of "
                f"{self.config.max_bytes / 1e9:.2f} GB (LMConfig.max_bytes): use an LBFGS "
                "stage or a smaller network"
            )
        memory.check(
            need,
            f"the LevenbergMarquardt stage on {n} parameters (its normal equations)",
            "the optimiser (an LBFGS or QuasiNewton stage) or the network (fewer parameters)",
        )

    def state_from_dict(self, data, comm=None):
        return LMState.from_dict(data)


OPTIMIZERS = {
    "lbfgs": lambda n: (LBFGS(n),),
    "bfgs": lambda n: (QuasiNewton(n, QNConfig(QNUpdate.BFGS)),),
    "ssbfgs": lambda n: (QuasiNewton(n, QNConfig(QNUpdate.SSBFGS_AB)),),
    "ssbroyden": lambda n: (QuasiNewton(n, QNConfig(QNUpdate.SSBROYDEN2)),),
    "lm": lambda n: (LevenbergMarquardt(n),),
    "lbfgs+lm": lambda n: (LBFGS(n), LevenbergMarquardt(n)),
    "ssbroyden+lm": lambda n: (
        QuasiNewton(n, QNConfig(QNUpdate.SSBROYDEN2)),
        LevenbergMarquardt(n),
    ),
}
"""The named stage lists of the command line's ``--optimizer`` (``n``: iterations
per stage).  In code, build the stage tuple directly."""


def optimizer_stages(name: str, iters: int, warmup: Adam | None = None) -> tuple[Stage, ...]:
    """The stages of a named optimiser (see :data:`OPTIMIZERS`), after the Adam stage
    ``warmup`` when one is given.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    first = () if warmup is None else (warmup,)
    return (*first, *OPTIMIZERS[name](iters))
