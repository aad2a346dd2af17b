"""Hook: the run's state written to ``TrainConfig.checkpoint`` every ``every``
iterations and when the run stops (atomically; format: :mod:`pinngelu.training.checkpoint`)."""

from __future__ import annotations

import os

from ..checkpoint import save
from .base import Hook

__all__ = ["Checkpoint"]


class Checkpoint(Hook):
    """Write a checkpoint to ``path`` every ``every`` iterations (0: only at the end)."""

    def __init__(self, path: str | os.PathLike, every: int) -> None:
        self.path = path
        self.every = every

    def after_iteration(self, run) -> str | None:
        if self.every and run.it % self.every == 0:
            save(run, self.path)
        return None

    def end(self, run, reason: str) -> None:
        save(run, self.path)
