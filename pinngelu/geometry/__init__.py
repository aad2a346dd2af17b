"""Domains for collocation sampling and simple meshing in 2D and 3D.

One concept per module:

========================  ===================================================================
``base``                  :class:`Geometry`: membership, interior and boundary sampling
``boundary_sample``       :class:`BoundarySample`: boundary points, normals, part labels
``sampling``              random / Sobol' points in the unit cube, bounded rejection sampling
``shapes2d``              :class:`Rectangle`, :class:`Disk`, :class:`Annulus`,
                          :class:`AnnularSector`
``polygon``               :class:`Polygon`
``shapes3d``              :class:`Box`, :class:`SphericalShellOctant`
``csg``                   :class:`Difference` (``a - b``)
``partint``               integration over (filtered) boundary parts
``meshing``               conforming simplex meshes of analytic domains (:meth:`Geometry.mesh`)
``meshdomain``            :class:`MeshDomain`: a domain given by a volume mesh (arrays)
``meshio_read``           reading mesh files with meshio into arrays
``meshtopo``              boundary facets, normals and named parts of a volume mesh
``meshcheck``             :func:`check_mesh`: validation of user meshes
========================  ===================================================================

Randomness is always passed explicitly as a :class:`numpy.random.Generator`. Coordinates and
lengths are in the units of the problem (for example metres); all arrays are ``float64``.
"""

from .base import Geometry
from .boundary_sample import BoundarySample
from .csg import Difference
from .meshcheck import MeshOrientationWarning, check_mesh
from .meshdomain import MeshDomain
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
    "MeshDomain",
    "MeshOrientationWarning",
    "Polygon",
    "Rectangle",
    "SphericalShellOctant",
    "check_mesh",
]
