"""What every figure module shares: matplotlib on the ``Agg`` backend (no display
needed) and :func:`save_figure`, which writes a figure atomically and closes it."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..io import atomic_write  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig, path: str | os.PathLike, dpi: int = 120, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` atomically (:func:`pinngelu.io.atomic_write`) and close it.

    The format follows the suffix (PNG without one).  ``tight`` crops the figure to
    its content; without it the image is exactly the figure size times ``dpi``.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    bbox = "tight" if tight else None
    try:
        return atomic_write(
            path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches=bbox)
        )
    finally:
        plt.close(fig)
