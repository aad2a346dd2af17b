"""The one atomic writer every file of the package goes through, and the files built
on it: ``.npz`` archives, JSON summaries, output folders.

Files are written completely or not at all (:func:`atomic_write`): each goes to a
temporary file ``<name>.tmp`` in the target folder, is flushed to disk and renamed
into place; the temporary file is removed on any failure, and one left behind by a
killed process is replaced by the next write.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["atomic_write", "temporary_path", "write_npz", "write_json", "prepare_output_dir"]


def temporary_path(path: str | os.PathLike) -> Path:
    """The temporary file :func:`atomic_write` uses for ``path``: ``<name>.tmp`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".tmp")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Write a file completely or not at all.

    ``write(tmp)`` writes the content to the temporary path ``tmp`` (``<name>.tmp`` in
    the target folder); the file is then flushed to disk (``fsync``) and renamed onto
    ``path`` (``os.replace``, atomic on POSIX and Windows).  A stale temporary file
    of a killed writer is removed first; on any failure the temporary file is
    removed and an existing ``path`` is left as it was.

    Parameters
    ----------
    path : path
        Target file.
    write : callable
        ``write(tmp: Path) -> None``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OSError
        If the folder does not exist or cannot be written (and whatever ``write``
        raises).
    """
    path = Path(path)
    tmp = temporary_path(path)
    try:
        if tmp.exists() or tmp.is_symlink():
            tmp.unlink()
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists() or tmp.is_symlink():
            tmp.unlink()
    return path


def write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Write an uncompressed ``.npz`` file atomically (see :func:`atomic_write`)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz"
            np.savez(fh, **arrays)

    return atomic_write(path, write)


def prepare_output_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and check it is writable (before long work starts).

    Raises
    ------
    ValueError
        If the folder cannot be created or written.
    """
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / ".pinngelu-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"output folder {p} cannot be written: {exc}") from exc
    return p


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write JSON atomically (numpy scalars and arrays converted)."""
    path = Path(path)

    def default(o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"cannot serialise {type(o).__name__}")

    text = json.dumps(obj, indent=2, default=default)
    return atomic_write(path, lambda tmp: tmp.write_text(text))
