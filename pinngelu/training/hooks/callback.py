"""Hook: the user's ``callback(run) -> bool`` after every iteration; True (rank 0's
answer, on every rank) stops the run."""

from __future__ import annotations

from collections.abc import Callable

from .base import Hook

__all__ = ["UserCallback"]


class UserCallback(Hook):
    """Call ``fn(run)`` after every iteration; a true answer stops the run."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def after_iteration(self, run) -> str | None:
        if run.agree(self.fn(run)):
            return "stopped by callback"
        return None
