"""Domains for collocation sampling and simple meshing in 2D and 3D.

One concept per module, in layers: each module imports only modules listed before it.

========================  ===================================================================
``_checks``               array types and argument checks shared by the package
``simplex``               simplex volumes and point-segment distances
``sampling``              random / Sobol' points in the unit cube, bounded rejection sampling
``boundary_sample``       :class:`BoundarySample`: boundary points, normals, part labels
``distance``              approximate distance functions of boundary parts, with analytic
                          jets (hard Dirichlet conditions)
``partint``               integration over (filtered) boundary parts
``meshing``               conforming simplex meshes of analytic domains (:meth:`Geometry.mesh`)
``project``               points moved onto the boundary of an analytic shape (curved cells)
``graded``                quadrature cells graded geometrically toward singular points
``quadrature``            volume and boundary-part quadrature (the energy formulation)
``meshtopo``              boundary facets, normals and named parts of a volume mesh
``meshcheck``             :func:`check_mesh`: validation of user meshes
``meshio_read``           reading mesh files with meshio into arrays
``meshlocate``            point location and boundary distances in a simplex mesh
``base``                  :class:`Geometry`: membership, interior and boundary sampling
``_axisbox``              the axis-aligned box common to :class:`Rectangle` and :class:`Box`
``shapes2d``              :class:`Rectangle`, :class:`Disk`, :class:`Annulus`,
                          :class:`AnnularSector`
``polygon``               :class:`Polygon`
``shapes3d``              :class:`Box`, :class:`SphericalShellOctant`
``csg``                   :class:`Difference` (``a - b``)
``meshdomain``            :class:`MeshDomain`: a domain given by a volume mesh (arrays)
========================  ===================================================================

The modules below ``base`` that work on a domain (``partint``, ``meshing``, ``project``,
``quadrature``) take any object with the :class:`Geometry` interface and import
``base`` for type checking only; ``a - b`` reaches :class:`Difference` through the class
it registers with :class:`Geometry` (``csg`` builds on ``base``, not the other way).

Randomness is always passed explicitly as a :class:`numpy.random.Generator`. Coordinates and
lengths are in the units of the problem (for example metres); all arrays are ``float64``.
"""

from .base import Geometry
from .boundary_sample import BoundarySample
from .csg import Difference
from .meshcheck import MeshOrientationWarning, check_mesh
from .meshdomain import DuplicateNodesWarning, MeshDomain
from .polygon import Polygon
from .shapes2d import AnnularSector, Annulus, Disk, Rectangle
from .shapes3d import Box, SphericalShellOctant

__all__ = [
    "AnnularSector",
    "Annulus",
    "BoundarySample",
    "Box",
    "Difference",
    "Disk",
    "Geometry",
    "DuplicateNodesWarning",
    "MeshDomain",
    "MeshOrientationWarning",
    "Polygon",
    "Rectangle",
    "SphericalShellOctant",
    "check_mesh",
]
