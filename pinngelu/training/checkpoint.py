"""The checkpoint of a training run, written and read here only: its path checks,
the fingerprint of the problem and configuration it was written for, saving a run's
state and restoring a run from it.

A checkpoint is an uncompressed ``.npz`` file (written atomically by
:func:`pinngelu.io.write_npz`) holding

- ``meta``: a small JSON text (format version, network, iteration, stage, counters,
  clocks, rng states, best loss, displacement scale, the formulation's settings at the
  start and now, the fingerprint, history group names, the hooks' scalars under
  ``meta["hooks"][key]`` and the optimiser state's scalars under ``meta["scalars"]``;
  JSON floats round-trip exactly);
- ``theta``, ``best_theta`` and the current stage's optimiser state (``state__*``; the
  stage is ``meta['stage_index']``);
- with adaptive collocation, the current points: ``points__interior`` and, per
  boundary condition ``k``, ``points__X{k}`` and ``points__N{k}`` (points and normals),
  from which the residual groups are rebuilt;
- the hooks' arrays as ``hook__{key}__{name}`` (the quadrature check's last checked
  iterate);
- the history as two float64 tables (see :class:`~pinngelu.training.history.HistoryBuffer`):
  ``hist__rows`` and ``hist__errors``, so that a write costs a binary copy of the
  history, never a JSON text of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import MISSING, asdict, fields
from pathlib import Path

import numpy as np

from ..io.files import write_npz
from ..network import MLP
from .history import History, history_from_arrays
from .journal import read_journal

__all__ = [
    "FORMAT",
    "check_checkpoint_path",
    "read_checkpoint",
    "checkpoint_history",
    "constant_meta",
    "run_state",
    "save",
    "restore",
    "rng_state",
    "set_rng_state",
]

FORMAT = 4
"""Checkpoint format version (1: history as JSON text inside ``meta``; 2: one
optimiser state per kind, before training stages; 3: budgets and Adam/L-BFGS settings
on ``TrainConfig``; 4: settings on the stages, hook states, the formulation's
settings)."""

FINGERPRINT_CONFIG_FIELDS = ("resample_every", "calibrate_scale")
"""Configuration fields that shape the trajectory besides the stages, adaptive
collocation and the solved output layer: a resumed run must use the same.  Budgets
(``time_limit``, ``max_evals``, the last stage's ``iters`` and ``time_limit``),
output (``print_every``, ``error_every``) and the checkpoint itself may change."""


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


def config_fingerprint(cfg, n_params: int | None = None) -> dict:
    """The configuration a resumed run must keep (see ``FINGERPRINT_CONFIG_FIELDS``),
    JSON-ready: those fields, ``adapt`` and ``solve_output_layer`` where set, and each
    stage's settings (with the ``iters`` of every stage but the last, where a stage
    hands over)."""
    out = {k: getattr(cfg, k) for k in FINGERPRINT_CONFIG_FIELDS}
    if cfg.adapt is not None:
        out["adapt"] = asdict(cfg.adapt)
    if cfg.solve_output_layer is not None:
        out["solve_output_layer"] = bool(cfg.solve_output_layer)
    stages = cfg.resolved_stages(n_params)
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
        if meta.get("journal"):
            meta, arrays = _with_journal(p, meta, arrays)
    except (
        OSError,
        EOFError,
        KeyError,
        ValueError,
        zipfile.BadZipFile,
        json.JSONDecodeError,
    ) as exc:
        raise ValueError(f"checkpoint {p} cannot be read as a pinngelu checkpoint: {exc}") from exc
    fmt = meta.get("format", 1)
    if fmt != FORMAT:
        why = (
            " (it was written before the training settings moved onto the stages: its "
            "optimiser state and settings cannot be mapped)"
            if isinstance(fmt, int) and fmt < FORMAT
            else ""
        )
        raise ValueError(
            f"checkpoint {p} has format {fmt}, this version reads format {FORMAT}{why}; "
            "start a new run"
        )
    return meta, arrays


def _with_journal(path: Path, meta: dict, arrays: dict) -> tuple[dict, dict]:
    """The snapshot ``(meta, arrays)`` brought to the last complete state of its
    journal: that state's meta over the snapshot's constant part, its arrays, and the
    snapshot's history followed by the rows of every record up to it."""
    hist = {k: [v] for k, v in arrays.items() if k.startswith("hist__")}
    counts = {k: v.shape[0] for k, v in arrays.items() if k.startswith("hist__")}
    last = None
    for rmeta, rarrays in read_journal(path, meta["journal"]):
        added = {k: v for k, v in rarrays.items() if k.startswith("hist__")}
        expect = {k: counts.get(k, 0) + v.shape[0] for k, v in added.items()}
        said = rmeta.get("history_counts", {})
        if any(said.get(k.removeprefix("hist__")) != n for k, n in expect.items()):
            break  # not a continuation of the states read so far
        for k, v in added.items():
            hist.setdefault(k, []).append(v)
        counts.update(expect)
        last = (rmeta, {k: v for k, v in rarrays.items() if not k.startswith("hist__")})
    if last is None:
        return meta, arrays
    rmeta, state = last
    rmeta.pop("history_counts", None)
    keep = {k: meta[k] for k in ("format", "mlp") if k in meta}
    keep["fingerprint"] = {**meta.get("fingerprint", {}), **rmeta.get("fingerprint", {})}
    state.update({k: np.concatenate(v) for k, v in hist.items()})
    return {**rmeta, **keep}, state


def checkpoint_history(path: str | os.PathLike) -> dict:
    """The history stored in a checkpoint (the layout of ``TrainResult.history``)."""
    meta, arrays = read_checkpoint(path)
    return history_from_arrays(arrays, meta["history_groups"] or [], int(meta.get("n_q", 0)))


# ------------------------------------------------------------ run state
def rng_state(rng: np.random.Generator) -> str:
    """The state of ``rng`` as a JSON text."""
    return json.dumps(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, s: str) -> None:
    """Set ``rng`` to a state from :func:`rng_state`."""
    rng.bit_generator.state = json.loads(s)


def constant_meta(run) -> dict:
    """The part of a checkpoint's ``meta`` that stays the same through a run: the
    format, the network and the configuration's fingerprint (a journal record leaves
    it out)."""
    return {
        "format": FORMAT,
        "mlp": run.mlp.to_dict(),
        "fingerprint": {"config": config_fingerprint(run.config, run.n_params)},
    }


def run_state(run) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of the state of ``run``, without the history and without
    :func:`constant_meta` (what a journal record holds).  Every rank calls it (the
    optimiser's state may be split over the ranks); it is complete on rank 0."""
    scales = getattr(run.problem, "scales", None)
    meta = {
        "n_q": run.n_q,
        "it": run.it,
        "stage": run.stage,
        "stage_index": run.si,
        "stage_it": run.stage_it,
        "stage_elapsed": run.stage_time(),
        "elapsed": run.elapsed(),
        "n_eval": run.n_eval(),
        "rng": rng_state(run.rng),
        "sample_rng": run.sample_state,
        "solve_output": run.obj.solve_output,
        "formulation": {
            "name": run.problem.formulation.name,
            "start": run.problem.formulation.settings(),
            "now": run.form.settings(),
        },
        "best_loss": run.best[0],
        "displacement_scale": None if scales is None else float(scales.displacement),
        "history_groups": run.history.buffer.group_names,
        "fingerprint": {"groups": run.fingerprint},  # changes where points are drawn anew
        "hooks": {},
    }
    arrays = {"theta": run.theta}
    if run.best[1] is not None:
        arrays["best_theta"] = run.best[1]
    if run.points is not None:
        arrays["points__interior"] = run.points[0]
        for k, (Xb, Nb) in enumerate(run.points[1]):
            arrays[f"points__X{k}"] = Xb
            arrays[f"points__N{k}"] = Nb
    for hook in run.hooks:
        if hook.key:
            hmeta, harrays = hook.state()
            meta["hooks"][hook.key] = hmeta
            arrays.update({f"hook__{hook.key}__{k}": v for k, v in harrays.items()})
    scalars = meta["scalars"] = {}
    if run.state is not None:
        for k, v in run.stages[run.si].state_to_dict(run.state, run.comm).items():
            if isinstance(v, np.ndarray):
                arrays["state__" + k] = v
            else:
                scalars["state__" + k] = v
    return meta, arrays


def save(
    run, path: str | os.PathLike, journal: str | None = None, state: tuple | None = None
) -> None:
    """Write the state of ``run`` (a :class:`~pinngelu.training.run.Run`) to ``path``
    as a full snapshot, atomically; ``journal``: the token of the journal that will
    continue it (see :mod:`pinngelu.training.journal`); ``state``: the
    :func:`run_state` already taken.  Every rank calls it (a dense matrix split over
    the ranks is gathered); rank 0 writes."""
    meta, arrays = run_state(run) if state is None else state
    if not run.comm.is_root:
        return
    const = constant_meta(run)
    const["fingerprint"].update(meta["fingerprint"])
    meta.update(const)
    if journal is not None:
        meta["journal"] = journal
    arrays["meta"] = np.array(json.dumps(meta))
    arrays.update(run.history.buffer.arrays())
    write_npz(path, **arrays)


def _incomplete(path, exc) -> ValueError:
    return ValueError(f"checkpoint {path} has an incomplete 'meta' entry: {exc}")


def restore(run, path: str | os.PathLike) -> None:
    """Set ``run`` to the state saved in ``path``, after checking it was written for
    this network, problem, formulation and configuration (ValueError naming the
    difference)."""
    meta, z = read_checkpoint(path)
    try:
        saved_mlp = MLP.from_dict(meta["mlp"])
        fp = meta["fingerprint"]
        it, stage = int(meta["it"]), str(meta["stage"])
        sample_rng, rng_now = meta["sample_rng"], meta["rng"]
        form = meta["formulation"]
        form_name, form_start, form_now = form["name"], form["start"], form["now"]
    except (KeyError, TypeError, ValueError) as exc:
        raise _incomplete(path, exc) from exc
    if saved_mlp != run.mlp:
        raise ValueError(
            f"checkpoint {path} was written for a different network ({saved_mlp}, now {run.mlp})"
        )
    theta = np.asarray(z["theta"], dtype=np.float64)
    if theta.shape != (run.mlp.n_params + run.n_q,):
        raise ValueError(
            f"checkpoint {path} holds {theta.shape} parameters, the problem "
            f"and network need ({run.mlp.n_params + run.n_q},)"
        )
    compare_config(path, fp["config"], config_fingerprint(run.config, run.n_params))
    # a setting added after the checkpoint was written had its default then
    form_start, form_now = (_with_defaults(run.form, s) for s in (form_start, form_now))
    if (form_name, form_start) != (run.form.name, run.form.settings()):
        raise ValueError(
            f"checkpoint {path} was written for the {form_name} with settings {form_start}, "
            f"the problem has the {run.form.name} with {run.form.settings()}: resume with "
            "the formulation of the run"
        )
    scales = getattr(run.problem, "scales", None)
    old_scale = None if scales is None else scales.displacement
    if meta.get("displacement_scale") is not None:
        scales.displacement = float(meta["displacement_scale"])
    run.form = run.form.with_settings(form_now)
    hooks_meta = meta.get("hooks", {})
    for hook in run.hooks:
        if hook.key:
            prefix = f"hook__{hook.key}__"
            hook.load(
                hooks_meta.get(hook.key, {}),
                {k[len(prefix) :]: v for k, v in z.items() if k.startswith(prefix)},
            )
    try:
        if run.points is not None:
            run.points = _saved_points(path, z, run.points)
        run.sample_state = sample_rng
        groups = run.rebuild_groups()
        compare_groups(path, fp["groups"], groups_fingerprint(groups))
    except ValueError:
        if old_scale is not None:
            scales.displacement = old_scale
        raise
    run.set_groups(groups)
    set_rng_state(run.rng, rng_now)
    run.theta = theta
    best = np.array(z["best_theta"]) if "best_theta" in z else run.theta.copy()
    run.best = (meta["best_loss"], best)
    state = {**z, **meta.get("scalars", {})}
    st = {k[7:]: v for k, v in state.items() if k.startswith("state__")}
    try:
        run.si = int(meta["stage_index"])
        run.stage_it = int(meta["stage_it"])
        run.stage_elapsed = float(meta["stage_elapsed"])
        run.obj.solve_output = bool(meta.get("solve_output", run.obj.solve_output))
        run.t_offset = float(meta["elapsed"])
        run.eval_offset = int(meta["n_eval"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _incomplete(path, exc) from exc
    if run.si < len(run.stages):
        run.state = run.stages[run.si].state_from_dict(st, run.comm) if st else None
    run.it = it
    run.stage = stage
    run.history = History.from_arrays(z, meta["history_groups"], run.n_q)


def _saved_points(path, z: dict, now):
    """The adapted points stored in a checkpoint (ValueError when absent)."""
    n_cond = len(now[1])
    names = ["points__interior"] + [f"points__{a}{k}" for k in range(n_cond) for a in "XN"]
    missing = [n for n in names if n not in z]
    if missing:
        raise ValueError(
            f"checkpoint {path} holds no adapted collocation points ({missing[0]} is "
            "missing): it was not written by a run with TrainConfig.adapt"
        )
    d = now[0].shape[1]
    arrs = {n: np.asarray(z[n], dtype=np.float64).reshape(-1, d) for n in names}
    boundary = [(arrs[f"points__X{k}"], arrs[f"points__N{k}"]) for k in range(n_cond)]
    return arrs["points__interior"], boundary


def _with_defaults(form, settings: dict) -> dict:
    """``settings`` of a formulation like ``form``'s, with the defaults of the
    settings it lacks."""
    defaults = {f.name: f.default for f in fields(form) if f.default is not MISSING}
    return {**defaults, **settings}
