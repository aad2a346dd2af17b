"""Training: a list of stages (optimisers with their budgets) run by one loop that asks
hooks at fixed points.

=====================  ================================================================
:mod:`.config`         ``TrainConfig`` (one configuration) and ``TrainResult``
:mod:`.stages`         the stages: ``Adam``, ``LBFGS``, ``QuasiNewton``,
                       ``LevenbergMarquardt`` (settings and budget each)
:mod:`.objective`      ``Objective``: loss and gradient over the current groups, with
                       the output layer solved where asked
:mod:`.run`            ``Run``: the state the loop, the hooks and callbacks share
:mod:`.loop`           the stage loop
:mod:`.hooks`          resampling, adaptive points, the formulation's check,
                       checkpoints, progress, errors, callbacks, budgets
:mod:`.start`          argument checks, the hooks of a configuration, the scale
                       calibration
:mod:`.checkpoint`     the checkpoint format: written and read here only
:mod:`.history`        the run's history (lists and binary tables)
:mod:`.adaptive`       residual-based adaptive collocation (RAD / RAR-D)
:mod:`.api`            ``train`` and ``resume``
=====================  ================================================================
"""

from .adaptive import RAD as RAD
from .api import resume as resume
from .api import train as train
from .checkpoint import checkpoint_history as checkpoint_history
from .config import TrainConfig as TrainConfig
from .config import TrainResult as TrainResult
from .stages import LBFGS as LBFGS
from .stages import Adam as Adam
from .stages import LevenbergMarquardt as LevenbergMarquardt
from .stages import QuasiNewton as QuasiNewton
from .stages import Stage as Stage

__all__ = [
    "RAD",
    "Adam",
    "LBFGS",
    "LevenbergMarquardt",
    "QuasiNewton",
    "Stage",
    "TrainConfig",
    "TrainResult",
    "checkpoint_history",
    "resume",
    "train",
]
