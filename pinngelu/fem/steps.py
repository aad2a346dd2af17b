"""Step lines: one line when a long step starts, one with its time when it ends, and
the time of every step of a run.

A step (:func:`step`) that is still running after :data:`STEP_SECONDS` prints
``<what> ...`` (from a timer thread, so the line comes while the step runs), and when
it ends ``<what>: <seconds> s``; shorter steps print nothing.  The lines go to the
stream given, or to the current default (:func:`output`, standard output unless
:func:`output_to` set another or None, as ``pinngelu run --quiet`` does).

:class:`StepTimes` adds up the time of named steps while it records
(:meth:`StepTimes.recording`): each step counts its own time, less that of the named
steps inside it (a reference solved while the problem is set up counts as the
reference, not the setup).

Example
-------
>>> times = StepTimes()
>>> with times.recording(), step("meshing", key="setup"):
...     pass
>>> sorted(times.as_dict())
['setup', 'total']
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

__all__ = ["DEFAULT", "STEP_SECONDS", "StepTimes", "output", "output_to", "step"]

STEP_SECONDS = 2.0
"""Steps that run longer than this (s) print their start and their time."""


class _Default:
    """The default stream of :func:`step` (:func:`output` when the step starts)."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = _Default()
"""``out=DEFAULT``: the step lines go to :func:`output`."""

_SYS = object()  # standard output as it is when a line is printed (pytest swaps it)
_stream: ContextVar = ContextVar("pinngelu_step_stream", default=_SYS)
_recorder: ContextVar[StepTimes | None] = ContextVar("pinngelu_step_times", default=None)


def output() -> TextIO | None:
    """The current default stream of the step lines (None: silent)."""
    s = _stream.get()
    return sys.stdout if s is _SYS else s


@contextmanager
def output_to(stream: TextIO | None) -> Iterator[None]:
    """Send the step lines of the steps inside to ``stream`` (None: no lines)."""
    token = _stream.set(stream)
    try:
        yield
    finally:
        _stream.reset(token)


class StepTimes:
    """The time (s) spent in named steps, in the order they first ran.

    Attributes
    ----------
    times : dict
        Step name -> seconds (the step's own time: less the named steps inside it).
    """

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._stack: list[list[float]] = []
        self._done = 0.0
        self._start: float | None = None

    @contextmanager
    def recording(self) -> Iterator[StepTimes]:
        """Record the named steps run inside, and the wall time (:meth:`total`)."""
        token = _recorder.set(self)
        outer = self._start is None  # a recording inside another adds no time
        if outer:
            self._start = time.perf_counter()
        try:
            yield self
        finally:
            if outer:
                self._done += time.perf_counter() - self._start
                self._start = None
            _recorder.reset(token)

    def _enter(self, key: str) -> None:
        self.times.setdefault(key, 0.0)
        self._stack.append([0.0])

    def _exit(self, key: str, elapsed: float) -> None:
        inner = self._stack.pop()[0]
        self.times[key] = self.times.get(key, 0.0) + max(elapsed - inner, 0.0)
        if self._stack:
            self._stack[-1][0] += elapsed

    def total(self) -> float:
        """The wall time recorded so far (s): the named steps and what ran between."""
        running = 0.0 if self._start is None else time.perf_counter() - self._start
        return max(self._done + running, sum(self.times.values()))

    def as_dict(self) -> dict[str, float]:
        """The steps' times and their ``total`` (:meth:`total`)."""
        return {**self.times, "total": self.total()}

    def describe(self) -> str:
        """One line: each step's time and the total."""
        parts = [f"{k} {v:.1f} s" for k, v in self.times.items()]
        return f"times: {', '.join(parts)}; total {self.total():.1f} s"


@contextmanager
def step(
    what: str,
    out=DEFAULT,
    *,
    key: str | None = None,
    always: bool = False,
    threshold: float | None = None,
) -> Iterator[None]:
    """A step of the work: its lines when it runs longer than ``threshold``, its time.

    Parameters
    ----------
    what : str
        What the step does, as its lines say it (``"P2 FEM: meshing (h = 0.01 m)"``).
    out : text stream, None or DEFAULT
        Where the lines go (None: nowhere; ``DEFAULT``: :func:`output`).
    key : str, optional
        Add the step's own time to this name of the recording :class:`StepTimes`.
    always : bool
        Print the start line at once (a step known to be long).
    threshold : float, optional
        Seconds after which a running step prints its start line (default
        :data:`STEP_SECONDS`).
    """
    stream = output() if out is DEFAULT else out
    threshold = STEP_SECONDS if threshold is None else float(threshold)
    rec = _recorder.get() if key is not None else None
    if rec is not None:
        rec._enter(key)
    lock = threading.Lock()
    state = {"started": False, "done": False}

    def announce() -> None:
        with lock:
            if not state["done"] and stream is not None:
                print(f"{what} ...", file=stream, flush=True)
                state["started"] = True

    timer = None
    if stream is not None:
        if always:
            announce()
        else:
            timer = threading.Timer(threshold, announce)
            timer.daemon = True
            timer.start()
    t0 = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - t0
        if timer is not None:
            timer.cancel()
        with lock:
            state["done"] = True
            started = state["started"]
        if stream is not None and (started or elapsed > threshold):
            print(f"{what}: {elapsed:.1f} s", file=stream, flush=True)
        if rec is not None:
            rec._exit(key, elapsed)
