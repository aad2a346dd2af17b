"""Hook: the run's state written to ``TrainConfig.checkpoint`` every ``every``
iterations and when the run stops (format: :mod:`pinngelu.training.checkpoint`).

The first write is a full snapshot (atomic, flushed to disk); the later ones are
appended to its journal (:mod:`pinngelu.training.journal`: the state and the history
rows added since the last write), so that a write costs about the size of the
optimiser state, not of the whole history.  A new snapshot starts a new journal when
the journal has grown past :data:`JOURNAL_FACTOR` times the snapshot (and
:data:`JOURNAL_MIN_BYTES`); the last write, when the run stops, is a snapshot and
removes the journal.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ..checkpoint import run_state, save
from ..journal import Journal, journal_path
from .base import Hook

__all__ = ["Checkpoint", "JOURNAL_FACTOR", "JOURNAL_MIN_BYTES"]

JOURNAL_FACTOR = 4.0
"""A journal larger than this many snapshots is folded into a new snapshot."""

JOURNAL_MIN_BYTES = 8 << 20
"""...but never below this size (bytes): small snapshots are not rewritten often."""


class Checkpoint(Hook):
    """Write a checkpoint to ``path`` every ``every`` iterations (0: only at the end)."""

    def __init__(self, path: str | os.PathLike, every: int) -> None:
        self.path = Path(path)
        self.every = every
        self.journal: Journal | None = None
        self.snapshot_bytes = 0
        self.counts: dict[str, int] = {}

    def after_iteration(self, run) -> str | None:
        if self.every and run.it % self.every == 0:
            self.write(run)
        return None

    def write(self, run) -> None:
        """Append the state of ``run`` to the journal, or write a new snapshot (every
        rank calls it; rank 0 writes)."""
        state = run_state(run)
        if not run.comm.is_root:
            return
        counts = run.history.buffer.counts()
        j = self.journal
        if (
            j is None
            or j.size > max(JOURNAL_FACTOR * self.snapshot_bytes, JOURNAL_MIN_BYTES)
            or any(counts.get(k, 0) < n for k, n in self.counts.items())
        ):
            self.snapshot(run, state)
            return
        meta, arrays = state
        meta["history_counts"] = counts
        arrays.update(run.history.buffer.arrays(since=self.counts))
        j.append(meta, arrays)
        self.counts = counts

    def snapshot(self, run, state: tuple | None = None) -> None:
        """A full snapshot continued by a new journal (rank 0; ``state``: the
        :func:`~pinngelu.training.checkpoint.run_state` already taken)."""
        if self.journal is not None:
            self.journal.close()
        token = secrets.token_hex(8)
        save(run, self.path, journal=token, state=state)
        self.snapshot_bytes = self.path.stat().st_size
        self.journal = Journal(self.path, token)
        self.counts = run.history.buffer.counts()

    def end(self, run, reason: str) -> None:
        save(run, self.path)
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if run.comm.is_root:  # its states are in the snapshot (or it is a killed run's)
            journal_path(self.path).unlink(missing_ok=True)
