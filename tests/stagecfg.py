"""A test shorthand: the training configuration of an optional Adam warm-up followed by
an L-BFGS stage, the shape most training tests use (importable from the tests folder,
which pytest puts on ``sys.path``)."""

from __future__ import annotations

import pinngelu as pg
from pinngelu.optim import LBFGSConfig


def stage_config(
    *,
    adam_iters: int = 0,
    adam_lr: float = 1e-3,
    lbfgs_iters: int = 5000,
    lbfgs: LBFGSConfig | None = None,
    **settings,
) -> pg.TrainConfig:
    """``TrainConfig(stages=(Adam(adam_iters, adam_lr), LBFGS(lbfgs_iters, lbfgs)),
    **settings)``, without the Adam stage when ``adam_iters`` is 0."""
    lbfgs = LBFGSConfig(memory=50) if lbfgs is None else lbfgs
    first = (pg.Adam(adam_iters, adam_lr),) if adam_iters else ()
    return pg.TrainConfig(stages=(*first, pg.LBFGS(lbfgs_iters, lbfgs)), **settings)
