"""Reading mesh files with meshio into the arrays a :class:`MeshDomain` is built from.

meshio is imported only here, and only when a file is read: it is slow to import.
:func:`read_mesh_file` reads a file (with clear errors for missing, empty or unreadable
files), :func:`mesh_arrays` turns a :class:`meshio.Mesh` into node coordinates, blocks of
volume cells (corner nodes only) and named facet groups.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._checks import FloatArray, IntArray
from .meshcheck import as_index

if TYPE_CHECKING:
    import meshio

GroupSpec = str | Sequence[str] | Mapping[str, str] | None
Blocks = list[tuple[str, IntArray]]
Groups = dict[str, list[IntArray]]

# corner-node counts of the supported cell types (higher-order cells use their corners)
_CELLS_2D = {"triangle": 3, "triangle6": 3, "triangle7": 3, "quad": 4, "quad8": 4, "quad9": 4}
_CELLS_3D = {"tetra": 4, "tetra10": 4, "hexahedron": 8, "hexahedron20": 8, "hexahedron27": 8}
_FACETS_2D = {"line": 2, "line3": 2}
_FACETS_3D = {"triangle": 3, "triangle6": 3, "triangle7": 3, "quad": 4, "quad8": 4, "quad9": 4}
_VOLUME_3D_OTHER = ("wedge", "pyramid", "polyhedron")


def _topo_dim(cell_type: str) -> int:
    if cell_type in _CELLS_3D or cell_type.startswith(_VOLUME_3D_OTHER):
        return 3
    if cell_type in _CELLS_2D or cell_type.startswith("polygon"):
        return 2
    if cell_type.startswith("line"):
        return 1
    return 0


def read_mesh_file(path: str | os.PathLike) -> meshio.Mesh:
    """Read a mesh file with meshio.

    Parameters
    ----------
    path : path-like
        The mesh file (any format meshio reads).

    Returns
    -------
    meshio.Mesh

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is not a file, is empty, or cannot be read (the message names the file).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"mesh file not found: {p}")
    if not p.is_file():
        raise ValueError(f"mesh path {p} is not a file")
    if p.stat().st_size == 0:
        raise ValueError(f"cannot read mesh file {p}: the file is empty")
    import meshio

    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            mesh = meshio.read(p)
    except SystemExit:  # meshio exits when no reader for the suffix accepts the file
        detail = " ".join(sink.getvalue().split())
        raise ValueError(
            f"cannot read mesh file {p}: not a valid mesh in a format meshio reads "
            f"for the suffix {p.suffix!r} ({detail})"
        ) from None
    except Exception as exc:
        hint = ""
        if "gmsh:physical" in str(exc):
            # meshio 5.3 cannot read MSH 4.1 files in which some elements are in no
            # physical group (e.g. written with Mesh.SaveAll = 1): nschloe/meshio#1388
            hint = (
                "; meshio cannot read Gmsh 4.1 files in which some elements belong to no "
                "physical group: put every entity in a physical group, or save the mesh "
                "in the Gmsh 2.2 format (Mesh.MshFileVersion = 2.2)"
            )
        raise ValueError(f"cannot read mesh file {p}: {exc}{hint}") from exc
    return mesh


def mesh_arrays(
    mesh: meshio.Mesh,
    boundary_groups: GroupSpec = None,
    dim: int | None = None,
    source: str = "<meshio.Mesh>",
) -> tuple[FloatArray, Blocks, Groups, list[str], int]:
    """Node coordinates, volume-cell blocks and named facet groups of a meshio mesh.

    Parameters
    ----------
    mesh : meshio.Mesh
        The mesh (points in length units).
    boundary_groups : None, str, sequence of str or dict of str to str
        Which facet groups become boundary parts (see
        :meth:`pinngelu.geometry.MeshDomain.from_file`).
    dim : {None, 2, 3}
        Spatial dimension; by default the highest dimension of the volume cells.
    source : str
        Name of the mesh in error messages.

    Returns
    -------
    points : ndarray, shape (P, 2) or (P, 3)
        Node coordinates as stored (length units).
    blocks : list of (str, ndarray of int (M, k))
        meshio cell type and corner nodes of each block of volume cells.
    groups : dict of str to list of ndarray of int
        Facets (corner nodes) of each boundary part.
    order : list of str
        Part names in order.
    dim : int
        The spatial dimension.
    """
    if dim is not None and dim not in (2, 3):
        raise ValueError(f"dim must be None, 2 or 3, got {dim!r}")
    types = [blk.type for blk in mesh.cells]
    dims = {t: _topo_dim(t) for t in types}
    if dim is None:
        top = max(dims.values(), default=0)
        if top < 2:
            found = ", ".join(sorted(set(types))) or "no cells at all"
            raise ValueError(
                f"{source}: the mesh has no 2D or 3D volume cells (found: {found}); "
                "note that Gmsh saves only the elements of physical groups when there are "
                "any: add a physical surface / volume, or set Mesh.SaveAll = 1"
            )
        dim = top
    vol_types = _CELLS_2D if dim == 2 else _CELLS_3D
    fac_types = _FACETS_2D if dim == 2 else _FACETS_3D
    bad = sorted({t for t in types if dims[t] == dim and t not in vol_types})
    if bad:
        raise ValueError(
            f"{source}: unsupported {dim}D cell types {bad}; supported: {', '.join(vol_types)}"
        )
    blocks = [
        (blk.type, as_index(blk.data[:, : vol_types[blk.type]], f"{source}: cells"))
        for blk in mesh.cells
        if blk.type in vol_types
    ]
    if not blocks:
        found = ", ".join(sorted(set(types))) or "no cells at all"
        raise ValueError(f"{source}: the mesh has no {dim}D volume cells (found: {found})")
    groups = _read_groups(mesh, dim, fac_types)
    order, groups = _select_groups(groups, boundary_groups, dim, source)
    points = np.asarray(mesh.points)
    if np.iscomplexobj(points):
        raise TypeError(f"{source}: node coordinates must be real, got complex values")
    return np.asarray(points, dtype=np.float64), blocks, groups, order, dim


def _read_groups(
    mesh: meshio.Mesh, dim: int, fac_types: dict[str, int]
) -> dict[str, list[IntArray]]:
    """Named facet groups of a meshio mesh: Gmsh physical groups, then cell sets."""
    groups: dict[str, list[IntArray]] = {}
    fdim = dim - 1
    tag_name: dict[int, str] = {}
    for name, val in (mesh.field_data or {}).items():
        v = np.asarray(val).reshape(-1)
        if v.size >= 2 and int(v[1]) == fdim:
            tag_name.setdefault(int(v[0]), str(name))
    phys = (mesh.cell_data or {}).get("gmsh:physical")
    if phys is not None:
        per_tag: dict[int, list[IntArray]] = {}
        for blk, tags in zip(mesh.cells, phys, strict=False):
            if blk.type not in fac_types:
                continue
            tags = np.asarray(tags).reshape(-1)
            corners = blk.data[:, : fac_types[blk.type]]
            for t in np.unique(tags):
                if int(t) <= 0:
                    continue
                per_tag.setdefault(int(t), []).append(np.asarray(corners[tags == t]))
        for t in sorted(per_tag):
            groups.setdefault(tag_name.get(t, str(t)), []).extend(per_tag[t])
    for name, sets in (mesh.cell_sets or {}).items():
        if str(name).startswith("gmsh:"):
            continue
        facets: list[IntArray] = []
        for blk, ids in zip(mesh.cells, sets, strict=False):
            if ids is None or blk.type not in fac_types:
                continue
            ids = np.asarray(ids, dtype=np.int64).reshape(-1)
            if ids.size:
                facets.append(np.asarray(blk.data[ids, : fac_types[blk.type]]))
        if facets:
            groups.setdefault(str(name), []).extend(facets)
    return {k: [as_index(F, f"group {k!r}") for F in v] for k, v in groups.items()}


def _select_groups(
    groups: dict[str, list[IntArray]], spec: GroupSpec, dim: int, source: str
) -> tuple[list[str], dict[str, list[IntArray]]]:
    """Apply ``boundary_groups``: part names in order and their facet arrays."""
    if spec is None:
        return list(groups), groups
    if isinstance(spec, str):
        spec = [spec]
    mapping = dict(spec) if isinstance(spec, Mapping) else {str(s): str(s) for s in spec}
    if not mapping:
        raise ValueError(f"{source}: boundary_groups is empty")
    unknown = [g for g in mapping if g not in groups]
    if unknown:
        have = ", ".join(repr(g) for g in groups) or "none"
        kind = "lines" if dim == 2 else "triangles / quadrilaterals"
        raise ValueError(
            f"{source}: boundary group(s) {', '.join(repr(g) for g in unknown)} not found; "
            f"the mesh has these named groups of facets ({kind}): {have}"
        )
    out: dict[str, list[IntArray]] = {}
    order: list[str] = []
    for g, part in mapping.items():
        part = str(part)
        if part not in out:
            out[part] = []
            order.append(part)
        out[part].extend(groups[g])
    return order, out
