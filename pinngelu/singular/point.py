"""The result, :class:`SingularPoint`, the tolerances of the search and what its 2D
and 3D parts share: the side codes, the candidate wedge, the test for facets of a
curved boundary."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Angle (rad) by which a corner of an exact geometry (polygons, analytic shapes) must
#: exceed 180 degrees to count as re-entrant (rounding of the tangents).
ANGLE_TOL = 1e-9
#: Angle (rad) by which a vertex or edge of a mesh must exceed 180 degrees to count as
#: re-entrant (10 degrees): smaller turns are the facets of a curved boundary.
MESH_ANGLE_TOL = math.radians(10.0)
#: Largest turn (rad) beyond 180 degrees of a mesh vertex or edge that may be a facet
#: of a curved boundary (60 degrees): larger turns are always corners.
FACET_TURN_MAX = math.radians(60.0)
#: Turn (rad) below which a mesh vertex or edge is flat: where the facets of a curved
#: boundary are themselves split into several, the search for the neighbouring facet
#: corner goes on across such flat vertices and edges.
FLAT_TOL = math.radians(0.5)
#: Resolution (rad) of the angles of wedges read off a mesh (one degree): they are
#: rounded to it, and wedges of one rounded angle share their exponents.
MESH_ANGLE_STEP = math.radians(1.0)
#: Exponents with ``Re(lam) >= 1 - EXPONENT_TOL`` do not make a point singular.
EXPONENT_TOL = 1e-8

_FREE, _CLAMPED, _OTHER = 0, 1, 2
_SIDE_NAMES = ("free", "clamped")
_KIND_ORDER = ("re-entrant corner", "re-entrant edge", "end of a displacement condition")


@dataclass(frozen=True, eq=False)
class SingularPoint:
    """A point (2D) or a straight edge (3D) where the stress is unbounded.

    Attributes
    ----------
    position : ndarray, shape (d,)
        The corner (m); in 3D the midpoint of :attr:`edge`.
    angle : float
        Interior angle of the wedge (rad), measured inside the material; in 3D the
        dihedral angle.
    sides : (str, str)
        The condition on side ``a`` and on side ``b``: ``"free"`` or ``"clamped"``.
    parts : (str or None, str or None)
        The boundary part names of side ``a`` and side ``b`` (None where a side could
        not be attributed to a part).
    direction_a : ndarray, shape (d,)
        Unit vector along side ``a``, from the corner into the side (the tangent at the
        corner for a curved side).
    direction_b : ndarray, shape (d,)
        Unit vector along side ``b``, likewise.
    exponents : ndarray, complex
        The Williams exponents ``lam`` (``u ~ r^lam``) with ``0 < Re(lam) < 1``
        (:func:`pinngelu.williams.exponents`); a complex-conjugate pair once.
    kind : str
        ``"re-entrant corner"`` (2D) or ``"re-entrant edge"`` (3D) where the angle
        exceeds 180 degrees, otherwise ``"end of a displacement condition"`` (a clamped
        side meets a free one).
    edge : ndarray, shape (2, 3), or None
        3D only: the end points (m) of the straight singular edge.

    Notes
    -----
    Orientation: in 2D, turning ``direction_a`` counter-clockwise by ``angle`` gives
    ``direction_b`` and sweeps through the material; this is the local frame of
    :func:`pinngelu.williams.exponents` (side ``a`` along ``theta = 0``).  In 3D the
    same holds in the plane normal to the edge, for a right-handed turn about the edge
    direction ``edge[1] - edge[0]``: looking down that direction from its tip, the turn
    is counter-clockwise.
    """

    position: np.ndarray
    angle: float
    sides: tuple[str, str]
    parts: tuple[str | None, str | None]
    direction_a: np.ndarray
    direction_b: np.ndarray
    exponents: np.ndarray
    kind: str
    edge: np.ndarray | None = None

    @property
    def dim(self) -> int:
        """Spatial dimension (2 or 3)."""
        return int(np.asarray(self.position).shape[0])

    def __repr__(self) -> str:
        if self.edge is None:
            where = _fmt_point(self.position)
        else:
            where = f"{_fmt_point(self.edge[0])}-{_fmt_point(self.edge[1])}"
        lam = ", ".join(_fmt_complex(z) for z in np.asarray(self.exponents))
        return (
            f"SingularPoint({self.kind} at {where}, {math.degrees(self.angle):.6g} deg, "
            f"{self.sides[0]}-{self.sides[1]} (parts {self.parts[0]!r}, {self.parts[1]!r}), "
            f"exponents [{lam}])"
        )

    __str__ = __repr__


def _fmt_point(x: np.ndarray) -> str:
    return "(" + ", ".join(f"{float(v):.6g}" for v in np.asarray(x)) + ")"


def _fmt_complex(z: complex) -> str:
    z = complex(z)
    if z.imag == 0.0:
        return f"{z.real:.4f}"
    return f"{z.real:.4f}{z.imag:+.4f}j"


@dataclass
class _Wedge:
    """A candidate singular point before its exponents are known."""

    position: np.ndarray
    angle: float
    codes: tuple[int, int]
    parts: tuple[int, int]
    da: np.ndarray
    db: np.ndarray
    kind: str
    edge: np.ndarray | None = None
    approx: bool = False


def _curve_facets(turn: np.ndarray, neighbour_turn: np.ndarray) -> np.ndarray:
    """Re-entrant mesh vertices / edges taken for facets of a curved boundary."""
    return (turn <= FACET_TURN_MAX) & (neighbour_turn >= 0.5 * turn)
