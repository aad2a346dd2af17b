"""Memory budget: every allocation that grows with the problem is estimated before it
is made and refused above a limit.

The limit defaults to a fraction (:data:`DEFAULT_FRACTION`) of the memory the machine
has available at the moment of each check (``MemAvailable`` of ``/proc/meminfo``, read
again every time, or the physical memory where that file does not exist), so that what
the process already holds counts.  It is set with :func:`set_limit` or
the environment variable ``PINNGELU_MEMORY_LIMIT`` (bytes, or a number with a suffix
``K``, ``M``, ``G``, ``T``: ``"8G"``); ``"none"`` switches the check off.

The estimates themselves live beside the code that allocates (the optimisers, the
quadrature, the finite-element solver, the adaptive points); each is a formula measured
against the real peak (``tests/test_memory.py`` checks them within 25%).
"""

from __future__ import annotations

import os

__all__ = [
    "DEFAULT_FRACTION",
    "MemoryLimitError",
    "available",
    "check",
    "format_bytes",
    "limit",
    "reset_limit",
    "set_limit",
]

DEFAULT_FRACTION = 0.8
"""Share of the available memory that one allocation may take by default."""

ENV = "PINNGELU_MEMORY_LIMIT"

_limit: float | None = None
_set = False


class MemoryLimitError(MemoryError, ValueError):
    """An allocation estimated above the memory limit (raised before it is made)."""


def format_bytes(n: float) -> str:
    """``n`` bytes as a short human-readable string (``"1.5 GB"``)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def _parse(text: str) -> float | None:
    s = text.strip().upper().removesuffix("B")
    if s in ("NONE", "OFF", "INF", ""):
        return None
    scale = 1.0
    for suffix, factor in (("K", 2**10), ("M", 2**20), ("G", 2**30), ("T", 2**40)):
        if s.endswith(suffix):
            s, scale = s[:-1], float(factor)
            break
    try:
        value = float(s) * scale
    except ValueError:
        raise ValueError(
            f"{ENV}={text!r} is not a memory size: give bytes or a number with K, M, G "
            "or T (e.g. 8G), or 'none'"
        ) from None
    if not value > 0:
        raise ValueError(f"{ENV}={text!r} must be > 0 (or 'none')")
    return value


def available() -> float:
    """Memory the machine has available now (bytes)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return float("inf")


def limit() -> float | None:
    """The current limit in bytes (``None``: no check)."""
    if _set:
        return _limit
    env = os.environ.get(ENV)
    if env is not None:
        return _parse(env)
    return DEFAULT_FRACTION * available()


def set_limit(nbytes: float | str | None) -> None:
    """Set the memory limit.

    Parameters
    ----------
    nbytes
        Bytes (a number, or a string such as ``"8G"``); ``None`` switches the check
        off.  :func:`reset_limit` goes back to the default.
    """
    global _limit, _set
    if isinstance(nbytes, str):
        value = _parse(nbytes)
    elif nbytes is None:
        value = None
    else:
        value = float(nbytes)
        if not value > 0:
            raise ValueError(f"memory limit must be > 0 bytes (or None), got {nbytes!r}")
    _limit, _set = value, True


def reset_limit() -> None:
    """Back to the default limit (the environment variable, or a share of the available
    memory)."""
    global _limit, _set
    _limit, _set = None, False


def check(estimate: float, what: str, setting: str) -> None:
    """Refuse an allocation estimated above the limit.

    Parameters
    ----------
    estimate
        Estimated peak of the allocation (bytes).
    what
        What would be allocated (``"the dense quasi-Newton matrix of 120,000
        parameters"``).
    setting
        The setting that reduces it (``"a smaller network or the L-BFGS stage"``).

    Raises
    ------
    MemoryLimitError
        When ``estimate`` exceeds the limit; the message names both, the setting and how
        to raise the limit.
    """
    cap = limit()
    if cap is None or estimate <= cap:
        return
    raise MemoryLimitError(
        f"{what} needs about {format_bytes(estimate)}, above the memory limit of "
        f"{format_bytes(cap)}; change {setting}, or raise the limit with "
        f"pinngelu.memory.set_limit(...) or {ENV} (e.g. {ENV}=64G)"
    )
