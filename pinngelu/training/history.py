"""The history of a training run: per recorded iteration the iteration, stage, loss,
gradient norm, time, per-group losses and identified parameters, and the error
evaluations; kept as the lists of ``TrainResult.history`` and as two growable float64
tables (:class:`HistoryBuffer`) that a checkpoint copies in binary."""

from __future__ import annotations

import numpy as np

from .stages import STAGE_NAMES

__all__ = ["History", "HistoryBuffer", "history_from_arrays"]

_STAGES = STAGE_NAMES


class HistoryBuffer:
    """A numeric copy of the run history in two growable float64 tables (amortised
    O(1) appends), from which a checkpoint write takes views.

    ``rows`` (n, 5 + n_groups + n_q): ``iteration, stage code, loss, gnorm, time``,
    the per-group losses (in the order of ``group_names``), then ``q``; ``errors``
    (n_err, 3): ``iteration, time, relative L2 error``.  Iteration counts and stage
    codes are exact in float64.
    """

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}
        self._n: dict[str, int] = {}
        self.group_names: list[str] | None = None

    def _append(self, key: str, row: list[float]) -> None:
        buf = self._bufs.get(key)
        n = self._n.get(key, 0)
        if buf is None or n == buf.shape[0]:
            new = np.empty((max(64, 2 * n), len(row)))
            if buf is not None:
                new[:n] = buf[:n]
            self._bufs[key] = buf = new
        buf[n] = row
        self._n[key] = n + 1

    def record(self, iteration: int, stage: str, loss: float, gnorm: float, t: float, groups, q):
        """Append one iteration (``groups``: dict of per-group losses, ``q``: the
        identified parameters or None)."""
        if self.group_names is None:
            self.group_names = list(groups)
        row = [iteration, _STAGES.index(stage), loss, gnorm, t]
        row += [groups.get(k, np.nan) for k in self.group_names]
        if q is not None:
            row += list(q)
        self._append("rows", row)

    def record_error(self, iteration: int, t: float, err: float) -> None:
        self._append("errors", [iteration, t, err])

    def arrays(self, since: dict[str, int] | None = None) -> dict[str, np.ndarray]:
        """``{"hist__rows": ..., "hist__errors": ...}``: views of the recorded rows
        (those after the counts ``since``, a :meth:`counts` of earlier, where given)."""
        since = since or {}
        return {f"hist__{k}": v[since.get(k, 0) : self._n[k]] for k, v in self._bufs.items()}

    def counts(self) -> dict[str, int]:
        """Rows recorded per table (``{"rows": n, "errors": n_err}``)."""
        return dict(self._n)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], group_names: list[str] | None):
        """The buffer of the ``hist__*`` arrays of a checkpoint."""
        buf = cls()
        buf.group_names = group_names
        for k in ("rows", "errors"):
            a = arrays.get(f"hist__{k}")
            if a is not None:
                buf._bufs[k] = np.array(a, dtype=np.float64).reshape(a.shape[0], -1)
                buf._n[k] = a.shape[0]
        return buf


def history_from_arrays(arrays: dict[str, np.ndarray], group_names: list[str], n_q: int) -> dict:
    """The history dict (lists, the layout of ``TrainResult.history``) of the
    ``hist__*`` arrays of a checkpoint."""
    rows = arrays.get("hist__rows")
    rows = np.zeros((0, 5 + len(group_names) + n_q)) if rows is None else rows
    errs = arrays.get("hist__errors")
    errs = np.zeros((0, 3)) if errs is None else errs
    G = len(group_names)
    hist: dict = {
        "iteration": [int(v) for v in rows[:, 0].tolist()],
        "stage": [_STAGES[int(c)] for c in rows[:, 1].tolist()],
        "loss": rows[:, 2].tolist(),
        "gnorm": rows[:, 3].tolist(),
        "time": rows[:, 4].tolist(),
        "groups": [dict(zip(group_names, r, strict=True)) for r in rows[:, 5 : 5 + G].tolist()],
        "error_iteration": [int(v) for v in errs[:, 0].tolist()],
        "error_time": errs[:, 1].tolist(),
        "error": errs[:, 2].tolist(),
    }
    if n_q:
        hist["q"] = rows[:, 5 + G : 5 + G + n_q].tolist()
    return hist


class History:
    """The history of a run as ``TrainResult.history`` lists and as a
    :class:`HistoryBuffer` for checkpoints.

    Parameters
    ----------
    n_q : int
        Number of identified parameters (a ``q`` list is kept when positive).
    """

    def __init__(self, n_q: int = 0) -> None:
        self.n_q = n_q
        self.lists: dict = {
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
        if n_q:
            self.lists["q"] = []
        self.buffer = HistoryBuffer()

    def record(self, it: int, stage: str, loss: float, gnorm: float, t: float, groups, q) -> None:
        """Append one iteration (``groups``: per-group losses, ``q``: identified
        parameters or None)."""
        h = self.lists
        h["iteration"].append(it)
        h["stage"].append(stage)
        h["loss"].append(loss)
        h["gnorm"].append(gnorm)
        h["time"].append(t)
        h["groups"].append(dict(groups))
        if q is not None:
            h["q"].append([float(v) for v in q])
        self.buffer.record(it, stage, loss, gnorm, t, groups, q)

    def record_error(self, it: int, t: float, err: float) -> None:
        """Append one error evaluation."""
        h = self.lists
        h["error_iteration"].append(it)
        h["error_time"].append(t)
        h["error"].append(err)
        self.buffer.record_error(it, t, err)

    @classmethod
    def from_arrays(cls, arrays: dict, group_names: list[str] | None, n_q: int) -> History:
        """The history stored in a checkpoint's ``hist__*`` arrays."""
        out = cls(n_q)
        out.buffer = HistoryBuffer.from_arrays(arrays, group_names)
        out.lists = history_from_arrays(arrays, group_names or [], n_q)
        return out
