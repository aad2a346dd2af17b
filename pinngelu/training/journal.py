"""The append-only journal beside a checkpoint: the states written between two full
checkpoints, so that checkpointing every iteration costs an append, not a rewrite.

A checkpoint ``ck.npz`` (a full snapshot, written atomically and flushed to disk) names
a journal token in its ``meta``; the journal ``ck.npz.journal`` starts with a record
holding that token, and each later record holds one state of the run: its ``meta`` and
its arrays, the history excepted, of which it holds only the rows added since the
previous record.  A reader (:func:`pinngelu.training.checkpoint.read_checkpoint`) takes
the snapshot, the last complete record of a journal with the snapshot's token, and the
snapshot's history followed by the rows of every record up to that one.

Records are framed and checksummed: ``b"PGJ1"``, the body's length (uint64) and
CRC-32 (uint32), then the body: the length of a JSON header (uint32), the header
(``meta`` and the name, dtype and shape of each array) and the arrays' bytes.  A record
cut short by a crash, or bytes the file system never wrote, fail the check and end the
journal there.

Durability: an append is one ``write`` to the operating system, so a killed process
(``kill -9``) loses nothing that was appended; the journal is flushed to disk
(``fdatasync``) at most :data:`SYNC_SECONDS` apart, so a power loss loses at most the
states of that window (the run resumes from an earlier one; the snapshot itself is
always on disk before its journal starts).
"""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np

__all__ = ["SYNC_SECONDS", "Journal", "journal_path", "read_journal"]

SYNC_SECONDS = 5.0
"""Longest time between two flushes of the journal to disk (s): the window of states
a power loss can take."""

MAGIC = b"PGJ1"
_FRAME = struct.Struct("<4sQI")
_HEAD = struct.Struct("<I")


def journal_path(path: str | os.PathLike) -> Path:
    """The journal of the checkpoint ``path``: ``<name>.journal`` beside it."""
    p = Path(path)
    return p.with_name(p.name + ".journal")


def _encode(meta: dict, arrays: dict[str, np.ndarray]) -> bytes:
    arrs = {k: np.asarray(v) for k, v in arrays.items()}
    arrs = {k: a if a.flags.c_contiguous else a.copy(order="C") for k, a in arrs.items()}
    head = {"meta": meta, "arrays": [[k, a.dtype.str, list(a.shape)] for k, a in arrs.items()]}
    h = json.dumps(head).encode()
    body = b"".join([_HEAD.pack(len(h)), h, *(a.tobytes() for a in arrs.values())])
    return _FRAME.pack(MAGIC, len(body), zlib.crc32(body)) + body


def _decode(body: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    (n,) = _HEAD.unpack_from(body, 0)
    head = json.loads(body[_HEAD.size : _HEAD.size + n])
    pos, arrays = _HEAD.size + n, {}
    for name, dtype, shape in head["arrays"]:
        dt = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        arrays[name] = np.frombuffer(body, dt, count, pos).reshape(shape).copy()
        pos += count * dt.itemsize
    return head["meta"], arrays


class Journal:
    """An open journal, appended to by one writer.

    Parameters
    ----------
    path : path
        The checkpoint the journal belongs to (the journal is ``<path>.journal``).
    token : str
        The token of the snapshot it continues (written as its first record).

    The file is created under a temporary name and renamed into place, so a journal
    always starts with its token.
    """

    def __init__(self, path: str | os.PathLike, token: str) -> None:
        self.path = journal_path(path)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(_encode({"token": token}, {}))
        os.replace(tmp, self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self.size = os.fstat(self._fd).st_size
        self._synced = time.monotonic()

    def append(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Append one record; flush to disk when the last flush is older than
        :data:`SYNC_SECONDS`."""
        data = _encode(meta, arrays)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self.size += len(data)
        now = time.monotonic()
        if now - self._synced > SYNC_SECONDS:
            os.fdatasync(self._fd) if hasattr(os, "fdatasync") else os.fsync(self._fd)
            self._synced = now

    def close(self, remove: bool = False) -> None:
        """Close the file (and remove it: its states are in a newer snapshot)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if remove:
            self.path.unlink(missing_ok=True)


def read_journal(path: str | os.PathLike, token: str) -> list[tuple[dict, dict]]:
    """The complete records ``(meta, arrays)`` of the journal of the checkpoint
    ``path``, oldest first: none when there is no journal or it continues another
    snapshot (its token differs from ``token``); reading stops at the first record
    that is cut short or fails its checksum."""
    p = journal_path(path)
    try:
        data = p.read_bytes()
    except OSError:
        return []
    out, pos = [], 0
    while pos + _FRAME.size <= len(data):
        magic, n, crc = _FRAME.unpack_from(data, pos)
        body = data[pos + _FRAME.size : pos + _FRAME.size + n]
        if magic != MAGIC or len(body) != n or zlib.crc32(body) != crc:
            break
        try:
            out.append(_decode(body))
        except (ValueError, KeyError, TypeError):
            break
        pos += _FRAME.size + n
    if not out or out[0][0].get("token") != token:
        return []
    return out[1:]
