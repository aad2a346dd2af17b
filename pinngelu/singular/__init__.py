"""Singular points of an elasticity problem: where the stress of the solution is unbounded.

Near a corner of the boundary the displacement behaves like ``r^lam`` (Williams' modes,
:mod:`pinngelu.williams`), and the stress like ``r^(lam - 1)``: an exponent with
``0 < Re(lam) < 1`` makes the stress infinite at the corner.  This happens

- at a re-entrant corner (interior angle above 180 degrees) between two free or two
  clamped sides;
- where a displacement condition ends and a free (traction, pressure or no condition)
  part begins, at any angle: the ends of a clamp on a straight edge (180 degrees), the
  corner where a clamped edge meets a free one (90 degrees), ...

:func:`singular_points` finds these points from the problem's geometry and conditions
and lists those with at least one exponent ``0 < Re(lam) < 1``; in 3D the same wedges
along straight edges (re-entrant edges, the rims of a clamped face), with the exponents
of the plane-strain wedge of the same angle.

How each geometry is read
-------------------------
Polygon
    Its vertices and the part of each edge: exact positions and angles.  Two collinear
    edges of different parts meet at a 180-degree vertex (a clamp on half an edge).
Other 2D shapes (rectangles, disks, rings, sectors, differences ``a - b``)
    The boundary is walked along the parametrisations of the boundary parts: the kept
    pieces of each part (end points of differences found by bisection, then polished
    by a root search on the signed distance of the other operand, to rounding), cut at
    the parts' breaks; the pieces' ends are matched into junctions, whose interior
    angle comes from the one-sided tangents (curved sides included).
2D :class:`~pinngelu.geometry.MeshDomain`
    The boundary polyline of its facets.  A vertex is re-entrant when its interior
    angle exceeds 180 degrees by more than :data:`MESH_ANGLE_TOL` and it is not a
    facet corner of a curved boundary (below).
3D
    The boundary triangles of a mesh domain, or of ``geometry.mesh(h)`` for analytic
    shapes (each triangle given the part its vertices were sampled on; the angles and
    side directions then come from the parts' exact normals at the vertices).  Edges
    whose interior dihedral angle exceeds 180 degrees by :data:`MESH_ANGLE_TOL` (and
    that are not facet edges of a curved surface), or where a clamped facet meets a
    free one, are chained into straight segments (collinear, same sides and parts); for
    analytic shapes the segments' ends are then located on the shape by bisection on
    its signed distance.  A curved singular edge (the rim of a clamped curved face)
    comes out as one segment per mesh edge.

Facets of a curved boundary: a mesh vertex that turns by at most :data:`FACET_TURN_MAX`
beyond 180 degrees while the next vertex that turns (more than :data:`FLAT_TOL`) along
either side turns the same way by at least half as much is a facet corner of a curved
boundary, not a corner; in 3D the same with the edges around the edge's two facets
(around the flat regions they lie in) that run within 60 degrees of parallel to it.  So
a polygonal boundary whose consecutive corners all turn alike by less than 60 degrees
is taken for a curved one.  Angles read off a mesh are rounded to
:data:`MESH_ANGLE_STEP`.

Conditions: a side is ``"clamped"`` where Dirichlet conditions fix every displacement
component (whatever their values) and ``"free"`` where only tractions and pressures
act, or nothing; loads do not change the exponents.  A side with a Symmetry condition,
with some components displaced and others loaded, or whose condition a predicate
selects in part of a facet (3D), is not a side of these wedges: points with such a side
are not listed, whatever their angle.  Conditions on predicates are attributed point by
point: on each side of a corner at a point next to it (in 3D at the centroid of each
facet and next to its vertices); in 2D the points inside a side where a predicate
switches a displacement condition on or off are found too (by sampling and bisection).

Kinds: a point whose angle exceeds 180 degrees is a ``"re-entrant corner"`` (2D) or
``"re-entrant edge"`` (3D), whatever its sides; otherwise it is the ``"end of a
displacement condition"`` (a clamped side meets a free one).

Example
-------
>>> import pinngelu as pg
>>> from pinngelu.singular import singular_points
>>> geom = pg.Rectangle(0.0, 1.0, 0.0, 0.2)
>>> prob = pg.ElasticityProblem(geom, pg.Material.from_E_nu(210e9, 0.3),
...                             [pg.Dirichlet("left", 0.0)], plane_stress=True)
>>> [p.position.tolist() for p in singular_points(prob)]     # doctest: +SKIP
[[0.0, 0.0], [0.0, 0.2]]

Submodules
----------
==============  ======================================================================
``point``       :class:`SingularPoint`, the tolerances, the side codes and the shared
                helpers (the candidate wedge, the test for facets of a curved boundary)
``conditions``  the kind of the condition (free, clamped, other) at boundary points
``search``      :func:`singular_points`: the wedges of the geometry, their exponents
                (cached per wedge), the sorted list
``pieces``      2D: the boundary as pieces (polygon edges, mesh facets, the kept
                pieces of analytic shapes and their differences)
``planar``      2D: the pieces' ends matched into corners, facets of curved
                boundaries, the ends of displacement conditions inside a side
``surface``     3D: the boundary triangles (of a mesh domain or of ``geometry.mesh``
                for analytic shapes), their parts and codes
``edges``       3D: re-entrant edges and clamp rims among the triangles' edges
``chain``       3D: candidate edges chained into straight segments, the segments'
                ends located on analytic shapes
==============  ======================================================================
"""

from .point import (
    ANGLE_TOL,
    FACET_TURN_MAX,
    FLAT_TOL,
    MESH_ANGLE_STEP,
    MESH_ANGLE_TOL,
    SingularPoint,
)
from .point import EXPONENT_TOL as EXPONENT_TOL
from .search import ExponentFunction as ExponentFunction
from .search import singular_points

__all__ = [
    "ANGLE_TOL",
    "FACET_TURN_MAX",
    "FLAT_TOL",
    "MESH_ANGLE_STEP",
    "MESH_ANGLE_TOL",
    "SingularPoint",
    "singular_points",
]
