"""Compile the plain-Python pointwise math for one target."""

from __future__ import annotations

import hashlib
import sys
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from .. import activations
from . import layout, pointwise

ACTIVATION_FUNCS = ("act_derivs", "_logistic_pair", "_gelu", "_exp_nonpositive")
INLINE = frozenset({"_gelu", "_exp_nonpositive"})
"""Functions inlined into their callers before compilation (``inline``: the loops over
points that call them then vectorise; a call would keep them scalar)."""


def retarget(jit: Callable) -> types.SimpleNamespace:
    """Compile every pointwise function with ``jit(f, inline)`` (``inline`` true for
    those of :data:`INLINE`) and return them in a namespace.

    The functions are rebuilt over one shared globals dictionary in which each name
    is bound to its compiled version, so calls between them resolve to the target's
    code (host functions for ``numba.njit``, device functions for CUDA).
    """
    ns: dict = {}
    ns.update(vars(activations))
    ns.update(vars(layout))
    ns.update(vars(pointwise))
    compiled = {}
    for name in ACTIVATION_FUNCS + pointwise.POINTWISE:
        f = ns[name]
        g = types.FunctionType(f.__code__, ns, name, f.__defaults__, f.__closure__)
        g.__qualname__ = f.__qualname__
        g.__module__ = f.__module__
        g.__doc__ = f.__doc__
        compiled[name] = jit(g, name in INLINE)
    ns.update(compiled)
    return types.SimpleNamespace(**compiled)


# the modules whose functions the kernels compile (their cache depends on all of them)
_SOURCES = (activations, pointwise, layout)

COMPILE_NOTICE = "pinngelu: compiling the CPU kernels (first run, ~20 s; cached afterwards)"


def cached_versions(dispatcher: Any) -> int | None:
    """Number of compiled versions of ``dispatcher`` in Numba's on-disk cache.

    Reads the cache index the way Numba does when the function is first called:
    0 when the index is missing, written by another Numba version, or stale (the
    source changed).  ``None`` when it cannot be told (no cache, or Numba's cache
    internals differ from those of the supported versions).
    """
    try:
        return len(dispatcher._cache._cache_file._load_index())
    except Exception:
        return None


def announce_compile(dispatchers: Iterable[Any], stream: TextIO | None = None) -> bool:
    """Print :data:`COMPILE_NOTICE` once if any of ``dispatchers`` is not cached.

    Called when the kernels' module is imported, before the first (slow) call
    compiles them, so that the silence of the first run is explained.

    Parameters
    ----------
    dispatchers : iterable of numba dispatchers
        The kernels (``cache=True``) whose first call compiles.
    stream : text file, optional
        Where to print; standard error by default.

    Returns
    -------
    bool
        Whether the notice was printed.
    """
    if not any(cached_versions(d) == 0 for d in dispatchers):
        return False
    print(COMPILE_NOTICE, file=sys.stderr if stream is None else stream, flush=True)
    return True


def invalidate_stale_cache(module_file: str) -> None:
    """Drop Numba's on-disk cache of ``module_file`` when the pointwise source changed.

    Numba checks only the time stamp of the file that defines a cached function,
    not of the functions it calls; the top-level kernels call into
    :mod:`pointwise`, :mod:`layout` and :mod:`activations`, so their cache is keyed
    here on a hash of those sources as well, and of the files that set the compile
    options (``module_file`` and this module).
    """
    mod = Path(module_file).resolve()
    # the kernels' module and this one hold the compile options of the pointwise code
    files = [Path(m.__file__) for m in _SOURCES] + [mod, Path(__file__)]
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    others = [Path(m.__file__).resolve() for m in _SOURCES]
    # one pass per cache root (beside the sources, and under NUMBA_CACHE_DIR if set)
    for k, cache_dir in enumerate(_cache_dirs(mod)):
        stamp = cache_dir / f"{mod.stem}.pointwise-sha256"
        try:
            if stamp.exists() and stamp.read_text() == digest:
                continue
            # the kernels' own cache, and that of the pointwise functions compiled
            # for this target (cached under their modules' names), in this root only
            targets = [(cache_dir, mod.stem)] + [(_cache_dirs(o)[k], o.stem) for o in others]
            for d, stem in targets:
                if d.exists():
                    for f in d.glob(f"{stem}.*.nb[ic]"):
                        f.unlink(missing_ok=True)
            cache_dir.mkdir(parents=True, exist_ok=True)
            stamp.write_text(digest)
        except OSError:
            pass


def _cache_dirs(mod: Path) -> list[Path]:
    """Where Numba may keep the cache of ``mod``: beside it, and under
    ``NUMBA_CACHE_DIR`` (mirroring the module's absolute folder) when that is set."""
    dirs = [mod.parent / "__pycache__"]
    from numba.core import config

    if config.CACHE_DIR:
        rel = mod.parent.relative_to(mod.parent.anchor)
        dirs.append(Path(config.CACHE_DIR) / rel)
    return dirs
