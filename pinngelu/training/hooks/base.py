"""The hook interface: what the stage loop asks at its fixed points.

A hook is called, in the order of the run's hook list,

- ``begin(run)`` before the first iteration (a returned text stops the run before
  it starts: an exhausted budget);
- ``recorded(run, loss, gnorm)`` after an iteration's loss was recorded in the
  history (errors, progress lines);
- ``after_iteration(run)`` after an iteration that did not end its stage (a returned
  text stops the run with that reason);
- ``stage_end(run, stage, reason)`` when a stage that is not the last ends;
- ``end(run, reason)`` when the run stops, with the best iterate chosen.

A hook with state of its own that a resumed run needs implements ``state()`` (a
JSON-ready dict and a dict of arrays) and ``load(meta, arrays)``; the checkpoint
(:mod:`pinngelu.training.checkpoint`) stores them under the hook's ``key``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Hook"]


class Hook:
    """A hook that does nothing at every point (subclasses override what they use)."""

    key: str = ""
    """Name of the hook's state in a checkpoint (empty: no state)."""

    def begin(self, run) -> str | None:
        return None

    def recorded(self, run, loss: float, gnorm: float) -> None:
        return None

    def after_iteration(self, run) -> str | None:
        return None

    def stage_end(self, run, stage, reason: str) -> None:
        return None

    def end(self, run, reason: str) -> None:
        return None

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {}

    def load(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        return None
