"""Export of solutions to mesh files (any format meshio writes): fields on a mesh
(displacement, strain, stress, von Mises), written atomically through
:func:`pinngelu.io.files.atomic_write`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .files import atomic_write

__all__ = ["write_fields", "write_solution", "FIELD_FORMATS"]

FIELD_FORMATS = ("vtu", "vtk", "xdmf", "gmsh")
"""meshio formats known to store point fields; any other is read back after writing
and refused when it dropped them."""


def _tensor_to_voigt(t: np.ndarray) -> np.ndarray:
    """Symmetric tensors (N, d, d) -> (N, 3) in 2D ``[xx, yy, xy]`` or (N, 6) in 3D
    ``[xx, yy, zz, xy, yz, xz]``."""
    if t.shape[1] == 2:
        return np.stack([t[:, 0, 0], t[:, 1, 1], t[:, 0, 1]], axis=1)
    return np.stack(
        [t[:, 0, 0], t[:, 1, 1], t[:, 2, 2], t[:, 0, 1], t[:, 1, 2], t[:, 0, 2]], axis=1
    )


def _tensor_to_full(t: np.ndarray) -> np.ndarray:
    """Tensors (N, d, d) -> (N, 9), the full 3 x 3 tensor row by row (zeros padded in
    2D): the layout of Gmsh tensor data."""
    full = np.zeros((t.shape[0], 3, 3))
    d = t.shape[1]
    full[:, :d, :d] = t
    return full.reshape(t.shape[0], 9)


def _pad3(v: np.ndarray) -> np.ndarray:
    """Vectors (N, 2) -> (N, 3) so that ParaView shows them as 3D vectors."""
    if v.ndim == 2 and v.shape[1] == 2:
        return np.hstack([v, np.zeros((v.shape[0], 1))])
    return v


# suffixes meshio maps to several formats: the one a user means
_PREFERRED_FORMAT = {".msh": "gmsh"}


def _format_of(path: Path) -> str:
    import meshio  # slow to import: only when writing

    suffix = path.suffix.lower()
    fmts = meshio.extension_to_filetypes.get(suffix)
    if not fmts:
        raise ValueError(f"meshio cannot write files with suffix {path.suffix!r}")
    return _PREFERRED_FORMAT.get(suffix, fmts[0])


def write_fields(
    path: str | os.PathLike, points: np.ndarray, cells: np.ndarray, fields: dict[str, np.ndarray]
) -> Path:
    """Write point fields on a simplex mesh.

    Parameters
    ----------
    path : path
        Output file; the format follows the suffix (``.vtu``, ``.xdmf``, ``.msh``...).
    points : ndarray (P, d)
        Node coordinates (m).
    cells : ndarray (M, 3) or (M, 4)
        Triangles (2D) or tetrahedra (3D).
    fields : dict
        Point data: vectors ``(P, d)`` are padded to 3 components, symmetric tensors
        ``(P, d, d)`` stored in Voigt order (2D ``xx, yy, xy``; 3D ``xx, yy, zz, xy,
        yz, xz``) -- in Gmsh files (``.msh``), which take 1, 3 or 9 components per
        field, as the full 3 x 3 tensor row by row -- and scalars ``(P,)``.
    """
    path = Path(path)
    d = points.shape[1]
    if cells.ndim != 2 or cells.shape[1] != d + 1:
        raise ValueError(
            f"cells must be {'triangles (M, 3)' if d == 2 else 'tetrahedra (M, 4)'} for "
            f"{d}-D points, got shape {cells.shape}"
        )
    ctype = {3: "triangle", 4: "tetra"}[cells.shape[1]]
    fmt = _format_of(path)
    data = {}
    for name, v in fields.items():
        v = np.asarray(v)
        if v.ndim == 3 and fmt == "gmsh":
            v = _tensor_to_full(v)  # Gmsh takes 1, 3 or 9 components per field
        elif v.ndim == 3:
            v = _tensor_to_voigt(v)
        elif v.ndim == 2 and v.shape[1] == d:
            v = _pad3(v)
        if fmt == "gmsh" and v.ndim == 2 and v.shape[1] not in (1, 3, 9):
            raise ValueError(
                f"field {name!r} has {v.shape[1]} components; Gmsh (.msh) files take 1, 3 "
                "or 9 per field"
            )
        data[name] = v
    import meshio

    mesh = meshio.Mesh(_pad3(points) if d == 2 else points, [(ctype, cells)], point_data=data)

    keep = "write .vtu, .vtk, .xdmf or .msh instead, which keep the fields"

    def write(tmp: Path) -> None:
        try:
            mesh.write(tmp, file_format=fmt)
            # a format may drop point data silently: read it back
            kept = set(data) if fmt in FIELD_FORMATS else set()
            if data and fmt not in FIELD_FORMATS:
                kept = set(meshio.read(tmp, file_format=fmt).point_data)
        except ModuleNotFoundError as exc:
            raise ImportError(
                f"writing {path.suffix} files needs the package {exc.name!r} "
                f"(pip install {exc.name}); .vtu needs nothing more"
            ) from exc
        except Exception as exc:  # meshio's writers and readers raise what they like
            if fmt in FIELD_FORMATS:
                raise
            raise ValueError(
                f"meshio cannot write and read back {path.name!r} as {fmt} with the point "
                f"fields ({type(exc).__name__}: {exc}); {keep}"
            ) from exc
        lost = sorted(set(data) - kept)
        if lost:
            raise ValueError(
                f"the {fmt} format ({path.suffix}) does not store the point fields {lost}: {keep}"
            )

    return atomic_write(path, write)


def write_solution(
    path: str | os.PathLike,
    solution,
    h: float | None = None,
    mesh: tuple[np.ndarray, np.ndarray] | None = None,
) -> Path:
    """Evaluate a :class:`~pinngelu.problem.Solution` on a mesh of its domain and write
    displacement, strain, stress, von Mises (and the exact displacement and error
    where known) as point data.

    Parameters
    ----------
    path : path
        Output file (``.vtu`` recommended).
    solution : Solution
    h : float, optional
        Mesh size (m) for meshing the solution's geometry (default: 1/50 of its size).
    mesh : (points, cells), optional
        Use this mesh instead (e.g. the user's own): triangles in 2D, tetrahedra in
        3D; checked by :func:`pinngelu.geometry.check_mesh` (indices in range, no
        degenerate, duplicated or overlapping cells; inverted cells are reoriented).
    """
    if mesh is None:
        geom = solution.geometry
        if geom is None:
            raise ValueError("the solution has no geometry; pass mesh=(points, cells)")
        if h is None:
            lo, hi = (np.asarray(v) for v in geom.bbox)
            h = float(np.max(hi - lo)) / 50.0
        mesh = geom.mesh(h)
        points, cells = mesh
    else:
        from ..geometry import check_mesh

        try:
            points, cells = mesh
        except (TypeError, ValueError):
            raise TypeError("mesh must be a pair (points, cells)") from None
        points, cells = check_mesh(points, cells, name="mesh")
    fields = solution.fields(points, check_inside=False)
    return write_fields(path, points, cells, fields)
