""":func:`singular_points`: the wedges of a 2D or 3D geometry, their Williams exponents
(computed once per distinct wedge), the singular ones sorted."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from .conditions import _Conditions
from .edges import _wedges_3d
from .planar import _wedges_2d
from .point import _KIND_ORDER, _SIDE_NAMES, EXPONENT_TOL, MESH_ANGLE_STEP, SingularPoint

if TYPE_CHECKING:
    from ..problem import ElasticityProblem

ExponentFunction = Callable[..., np.ndarray]


def singular_points(
    problem: ElasticityProblem, exponents: ExponentFunction | None = None
) -> list[SingularPoint]:
    """The singular points of a problem: re-entrant corners and edges, and the ends of
    displacement conditions, whose Williams exponents make the stress unbounded.

    Parameters
    ----------
    problem : ElasticityProblem
        Geometry (2D or 3D), conditions, material (its Poisson ratio) and, in 2D,
        plane stress or plane strain.
    exponents : callable, optional
        ``exponents(angle, sides, nu, plane_stress) -> ndarray (complex)``, the
        exponents of a wedge; default :func:`pinngelu.williams.exponents`.

    Returns
    -------
    list of SingularPoint
        The points with at least one exponent ``0 < Re(lam) < 1``: re-entrant corners
        first, then ends of displacement conditions, each sorted by position; empty
        when there is none.  3D edges use the plane-strain exponents of their wedge.

    Notes
    -----
    See the module docstring for how each geometry is read and which sides are
    attributed.  The cost is that of a walk of the boundary (2D), or of the boundary
    facets of a mesh (3D), plus one exponent computation per distinct wedge.
    """
    fn = _default_exponents if exponents is None else exponents
    geom = problem.geometry
    cond = _Conditions(problem)
    nu = float(problem.material.nu)
    if geom.dim == 2:
        wedges = _wedges_2d(geom, cond)
        plane_stress = bool(problem.plane_stress)
    else:
        wedges = _wedges_3d(geom, cond)
        plane_stress = False
    names = geom.boundary_parts
    cache: dict[tuple, np.ndarray] = {}
    out: list[SingularPoint] = []
    for w in wedges:
        angle = w.angle
        if w.approx:
            angle = max(round(angle / MESH_ANGLE_STEP), 1) * MESH_ANGLE_STEP
        sides = (_SIDE_NAMES[w.codes[0]], _SIDE_NAMES[w.codes[1]])
        key = (round(angle, 12), sides)
        if key not in cache:
            lam = np.asarray(fn(angle, sides, nu, plane_stress), dtype=complex).reshape(-1)
            cache[key] = lam[(lam.real > 0.0) & (lam.real < 1.0 - EXPONENT_TOL)]
        lam = cache[key]
        if lam.size == 0:
            continue
        pa, pb = (names[k] if k >= 0 else None for k in w.parts)
        out.append(
            SingularPoint(
                position=np.asarray(w.position, dtype=np.float64),
                angle=float(angle),
                sides=sides,
                parts=(pa, pb),
                direction_a=np.asarray(w.da, dtype=np.float64) + 0.0,
                direction_b=np.asarray(w.db, dtype=np.float64) + 0.0,
                exponents=lam.copy(),
                kind=w.kind,
                edge=None if w.edge is None else np.asarray(w.edge, dtype=np.float64),
            )
        )
    out.sort(key=lambda p: (_KIND_ORDER.index(p.kind), *np.round(p.position, 12).tolist()))
    return out


@lru_cache(maxsize=256)
def _cached_williams(angle: float, sides: tuple[str, str], nu: float, ps: bool) -> np.ndarray:
    from ..williams import exponents

    return np.asarray(exponents(angle, sides, nu, ps), dtype=complex)


def _default_exponents(angle: float, sides, nu: float, plane_stress: bool) -> np.ndarray:
    return _cached_williams(float(angle), tuple(sides), float(nu), bool(plane_stress)).copy()
