"""The checkpoint file of a training run: its path checks, its compact history, the
fingerprint of the problem and configuration it was written for, and reading it back.

A checkpoint is an uncompressed ``.npz`` file (written atomically by
:func:`pinngelu.io.write_npz`) holding

- ``meta``: a small JSON text (network, iteration, stage, rng states, best loss,
  displacement scale, format version, fingerprint, history group names);
- ``theta``, ``best_theta`` and the current stage's optimiser state (``state__*``; the stage is
  ``meta['stage_index']``);
- with adaptive collocation (``TrainConfig.adapt``), the current points: ``points__interior``
  and, per boundary condition ``k``, ``points__X{k}`` and ``points__N{k}`` (points and
  normals), from which the residual groups are rebuilt;
- the history as two float64 tables (see :class:`HistoryBuffer`): ``hist__rows``
  (iteration, stage code, loss, gradient norm, time, per-group losses, ``q``) and
  ``hist__errors`` (iteration, time, error), so that a write costs a binary copy of
  the history, never a JSON text of it;
- the scalars of the optimiser state (step counts, last loss...) inside ``meta``
  (JSON floats round-trip exactly), to keep the archive to a few entries.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .stages import STAGE_NAMES

__all__ = [
    "FORMAT",
    "HistoryBuffer",
    "check_checkpoint_path",
    "read_checkpoint",
    "checkpoint_history",
]

FORMAT = 3
"""Checkpoint format version (1: history as JSON text inside ``meta``; 2: one
optimiser state per kind, before training stages)."""

_STAGES = STAGE_NAMES

# configuration fields that shape the trajectory: a resumed run must use the same.
# Budgets (lbfgs_iters, time_limit, max_evals), output (print_every, error_every) and
# the checkpoint itself (checkpoint, checkpoint_every) may change on resume.
FINGERPRINT_CONFIG_FIELDS = ("adam_iters", "adam_lr", "resample_every", "calibrate_scale")
# fields of LBFGSConfig the training loop ignores (it has its own budgets)
_LBFGS_IGNORED = ("max_iter", "max_eval", "time_limit")


def check_checkpoint_path(path: str | os.PathLike) -> Path:
    """Check that a checkpoint can be written at ``path`` (before training starts).

    Raises
    ------
    ValueError
        If the suffix is not ``.npz``, the path is a folder, or its folder does not
        exist or is not writable.
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"checkpoint {p} is a folder, not a file")
    if p.suffix.lower() != ".npz":
        raise ValueError(f"checkpoint {p} must be a .npz file (got suffix {p.suffix!r})")
    if not p.parent.exists():
        raise ValueError(f"checkpoint folder {p.parent} does not exist")
    if not p.parent.is_dir():
        raise ValueError(f"checkpoint folder {p.parent} is not a folder")
    if not os.access(p.parent, os.W_OK):
        raise ValueError(f"checkpoint folder {p.parent} is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise ValueError(f"checkpoint {p} exists and is not writable")
    return p


# ------------------------------------------------------------------ history
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

    def arrays(self) -> dict[str, np.ndarray]:
        """``{"hist__rows": ..., "hist__errors": ...}``: views of the recorded rows."""
        return {f"hist__{k}": v[: self._n[k]] for k, v in self._bufs.items()}

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


# -------------------------------------------------------------- fingerprint
def groups_fingerprint(groups) -> list[dict]:
    """Name, point count and a SHA-256 digest of the points, coefficients, targets and
    weights of each residual group: any change of geometry, conditions, loads,
    material or point counts changes it."""
    out = []
    for g in groups:
        h = hashlib.sha256()
        for a in (g.X, g.C, g.g, g.point_weights, g.param_coefficients):
            if a is not None:
                a = np.ascontiguousarray(a)
                h.update(str(a.shape).encode())
                h.update(a.tobytes())
        h.update(repr(float(g.weight)).encode())
        out.append({"name": g.name, "n": int(g.X.shape[0]), "sha256": h.hexdigest()})
    return out


def config_fingerprint(cfg) -> dict:
    """The configuration fields a resumed run must keep (see
    ``FINGERPRINT_CONFIG_FIELDS``), JSON-ready."""
    out = {k: getattr(cfg, k) for k in FINGERPRINT_CONFIG_FIELDS}
    adapt = getattr(cfg, "adapt", None)
    if adapt is not None:  # absent without adaptation: older checkpoints still compare
        out["adapt"] = asdict(adapt)
    if getattr(cfg, "solve_output_layer", None) is not None:
        out["solve_output_layer"] = bool(cfg.solve_output_layer)
    lb = asdict(cfg.lbfgs)
    out["lbfgs"] = {k: v for k, v in lb.items() if k not in _LBFGS_IGNORED}
    stages = cfg.resolved_stages()
    for i, st in enumerate(stages):
        fp = st.fingerprint()
        if i < len(stages) - 1:  # where a stage hands over shapes the trajectory
            fp["iters"] = st.iters
        out[f"stage {i}"] = fp
    return json.loads(json.dumps(out))


def compare_groups(path, saved: list[dict], now: list[dict]) -> None:
    """Raise ValueError naming the first difference between two group fingerprints."""
    head = f"checkpoint {path} was written for a different problem"
    names_s, names_n = [g["name"] for g in saved], [g["name"] for g in now]
    if names_s != names_n:
        raise ValueError(f"{head} (residual groups {names_s}, now {names_n})")
    for s, n in zip(saved, now, strict=True):
        if s["n"] != n["n"]:
            raise ValueError(f"{head} (group {s['name']!r}: {s['n']} points, now {n['n']})")
        if s["sha256"] != n["sha256"]:
            raise ValueError(
                f"{head} (group {s['name']!r}: different points, coefficients or targets: "
                "the geometry, conditions, loads or material changed)"
            )


def compare_config(path, saved: dict, now: dict) -> None:
    """Raise ValueError naming the configuration fields that differ."""
    diffs = []
    for k in sorted(set(saved) | set(now)):
        a, b = saved.get(k), now.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += [
                f"{k}.{j}: {a.get(j)!r} in the checkpoint, now {b.get(j)!r}"
                for j in sorted(set(a) | set(b))
                if a.get(j) != b.get(j)
            ]
        elif a != b:
            diffs.append(f"{k}: {a!r} in the checkpoint, now {b!r}")
    if diffs:
        raise ValueError(
            f"checkpoint {path} was written with a different configuration ({'; '.join(diffs)})"
        )


# ------------------------------------------------------------------ reading
def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a checkpoint file.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a checkpoint of this version (truncated, another kind of
        file, an ``.npz`` without ``meta``...), naming the file.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no checkpoint at {p}")
    if p.is_dir():
        raise ValueError(f"checkpoint {p} is a folder, not a file")
    try:
        z = np.load(p, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not an .npz archive")
        with z:
            if "meta" not in z.files or "theta" not in z.files:
                raise ValueError(f"it has no 'meta' and 'theta' entries (entries: {z.files})")
            arrays = {k: np.array(z[k]) for k in z.files}
        meta = json.loads(str(arrays.pop("meta")))
        if not isinstance(meta, dict):
            raise ValueError("its 'meta' entry is not a JSON object")
    except (
        OSError,
        EOFError,
        KeyError,
        ValueError,
        zipfile.BadZipFile,
        json.JSONDecodeError,
    ) as exc:
        raise ValueError(f"checkpoint {p} cannot be read as a pinngelu checkpoint: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise ValueError(
            f"checkpoint {p} has format {meta.get('format', 1)}, this version reads format "
            f"{FORMAT}; start a new run"
        )
    return meta, arrays


def checkpoint_history(path: str | os.PathLike) -> dict:
    """The history stored in a checkpoint (the layout of ``TrainResult.history``)."""
    meta, arrays = read_checkpoint(path)
    return history_from_arrays(arrays, meta["history_groups"] or [], int(meta.get("n_q", 0)))
