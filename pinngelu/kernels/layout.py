"""The jet-channel layout, shared by the kernels and the operators built on them.

A *jet* of a scalar field at a point is its value, its first derivatives and its
distinct second derivatives.  For input dimension ``d`` the channels are

- ``0``: the value;
- ``1 .. d``: the first derivatives ``d/dx_i``;
- ``1 + d ..``: the second derivatives ``(i, j), i <= j`` in row-major order

(2D: ``[u, u_x, u_y, u_xx, u_xy, u_yy]``).  This module imports nothing but the
standard library; :func:`n_channels` is plain Python on integers, so the backends
compile this very function for their targets (see
:func:`pinngelu.kernels.compile.retarget`).
"""

from __future__ import annotations

__all__ = ["n_channels", "second_index", "second_pairs"]


def n_channels(d):
    """Number of jet channels ``1 + d + d (d + 1) / 2`` for input dimension ``d``.

    Parameters
    ----------
    d : int
        Input dimension.

    Returns
    -------
    int
        3, 6 and 10 for ``d`` = 1, 2 and 3.
    """
    return 1 + d + (d * (d + 1)) // 2


def second_pairs(d: int) -> list[tuple[int, int]]:
    """The distinct second-derivative index pairs ``(i, j), i <= j`` in channel order.

    Parameters
    ----------
    d : int
        Input dimension.

    Returns
    -------
    list of tuple of int
        ``d (d + 1) / 2`` pairs; pair ``s`` is stored in channel ``1 + d + s``.
    """
    return [(i, j) for i in range(d) for j in range(i, d)]


def second_index(d: int) -> dict[tuple[int, int], int]:
    """Channel of each second derivative: ``{(i, j): channel}`` for ``i <= j``.

    Parameters
    ----------
    d : int
        Input dimension.

    Returns
    -------
    dict
        Maps the pair ``(i, j), i <= j`` to its channel ``1 + d + s``.
    """
    return {p: 1 + d + s for s, p in enumerate(second_pairs(d))}
