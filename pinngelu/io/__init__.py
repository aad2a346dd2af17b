"""Input and output: the atomic writer and the files built on it (:mod:`.files`),
and the export of solutions to mesh files (:mod:`.export`; meshio is imported when a
file is written).  Mesh files are read into a domain by
:meth:`pinngelu.MeshDomain.from_file` (:mod:`pinngelu.geometry.meshio_read`)."""

from .export import write_fields as write_fields
from .export import write_solution as write_solution
from .files import atomic_write as atomic_write
from .files import prepare_output_dir as prepare_output_dir
from .files import temporary_path as temporary_path
from .files import write_json as write_json
from .files import write_npz as write_npz

__all__ = [
    "atomic_write",
    "prepare_output_dir",
    "temporary_path",
    "write_fields",
    "write_json",
    "write_npz",
    "write_solution",
]
