"""Data parallelism over MPI ranks: the communicator wrapper and the reproducible
reduction of chunk partials.

The package runs without mpi4py: :class:`SerialComm` is the no-op communicator of a
single process, and :func:`world` returns it unless the process was started by an MPI
launcher with more than one rank (detected from the launcher's environment before
mpi4py is imported; this module is the only one that imports mpi4py).

Reproducibility: a residual group's points are cut into fixed chunks of
:data:`pinngelu.loss.CHUNK` points; chunk partials are combined along a fixed binary
tree over chunk indices (:func:`tree_sum`).  Each rank owns a contiguous range of
chunks, reduces the largest tree nodes inside its range (:func:`segment_nodes`) and
exchanges them; every rank then completes the same tree from the same nodes
(:func:`complete_tree`).  The additions are therefore the same whatever the number
of ranks, including the single process.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

__all__ = [
    "SerialComm",
    "MPIComm",
    "world",
    "launched_size",
    "as_comm",
    "balanced_ranges",
    "balanced_assignment",
    "chunk_range",
    "tree_sum",
    "segment_keys",
    "segment_nodes",
    "complete_tree",
    "abort_on_error",
    "select_gpu",
    "select_threads",
    "OversubscriptionWarning",
    "one_blas_thread",
    "run_main",
]

_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")


def launched_size() -> int:
    """Number of ranks announced by the MPI launcher's environment (1 when none)."""
    for var in _SIZE_VARIABLES:
        v = os.environ.get(var)
        if v is not None:
            try:
                return max(1, int(v))
            except ValueError:
                continue
    return 1


class SerialComm:
    """The communicator of one process: rank 0 of 1; every collective is the identity."""

    rank = 0
    size = 1
    local_rank = 0
    is_root = True
    seconds = 0.0
    bytes_sent = 0

    def allgather(self, obj):
        return [obj]

    def allgather_array(self, a: np.ndarray, counts: list[int]) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float64)

    def gather(self, obj):
        return [obj]

    def bcast(self, obj):
        return obj

    def barrier(self) -> None:
        return None

    def abort(self, code: int = 1) -> None:
        raise SystemExit(code)

    def __repr__(self) -> str:
        return "SerialComm()"


class MPIComm:
    """An mpi4py communicator with the few operations the package needs.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        For example ``MPI.COMM_WORLD``.
    """

    def __init__(self, comm) -> None:
        from mpi4py import MPI

        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.is_root = self.rank == 0
        local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank = local.Get_rank()
        self.local_size = local.Get_size()
        local.Free()
        self.seconds = 0.0  # time spent in allgather (benchmarks read it)
        self.count_bytes = False  # benchmarks: count the pickled bytes (a second pickling)
        self.bytes_sent = 0  # pickled bytes this rank contributed, with count_bytes

    def allgather(self, obj):
        """Every rank's ``obj``, in rank order."""
        t = time.perf_counter()
        if self.count_bytes:
            self.bytes_sent += len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        out = self.comm.allgather(obj)
        self.seconds += time.perf_counter() - t
        return out

    def allgather_array(self, a: np.ndarray, counts: list[int]) -> np.ndarray:
        """Every rank's float64 vector ``a``, concatenated in rank order: one buffer
        collective (``Allgatherv``), no pickling.  ``counts[r]`` is the length of rank
        ``r``'s vector, known to every rank."""
        t = time.perf_counter()
        a = np.ascontiguousarray(a, dtype=np.float64)
        if a.size != counts[self.rank]:
            raise ValueError(
                f"rank {self.rank} sends {a.size} values, {counts[self.rank]} expected"
            )
        out = np.empty(int(sum(counts)))
        self.comm.Allgatherv(a, [out, list(map(int, counts))])
        self.seconds += time.perf_counter() - t
        if self.count_bytes:
            self.bytes_sent += 8 * a.size
        return out

    def gather(self, obj):
        """Every rank's ``obj`` in rank order on rank 0; ``None`` on the others."""
        return self.comm.gather(obj, root=0)

    def bcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        return self.comm.bcast(obj, root=0)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        """End every rank of the job."""
        self.comm.Abort(code)

    def __repr__(self) -> str:
        return f"MPIComm(rank={self.rank}, size={self.size})"


_WORLD: SerialComm | MPIComm | None = None


def world() -> SerialComm | MPIComm:
    """The communicator of the job: :class:`MPIComm` over ``COMM_WORLD`` when the
    launcher started more than one rank, :class:`SerialComm` otherwise.

    Raises
    ------
    RuntimeError
        When the launcher announces several ranks but mpi4py is not installed
        (``pip install 'pinngelu[mpi]'``).
    """
    global _WORLD
    if _WORLD is None:
        if launched_size() > 1:
            try:
                from mpi4py import MPI
            except ImportError as exc:
                raise RuntimeError(
                    f"started by an MPI launcher with {launched_size()} ranks but mpi4py "
                    "is not installed: install the extra, pip install 'pinngelu[mpi]' (in a "
                    "clone: pip install -e '.[mpi]')"
                ) from exc
            _WORLD = MPIComm(MPI.COMM_WORLD)
        else:
            _WORLD = SerialComm()
    return _WORLD


def as_comm(comm) -> SerialComm | MPIComm:
    """Wrap ``comm``: None gives :class:`SerialComm`, an mpi4py communicator an
    :class:`MPIComm`, a wrapper is returned as is."""
    if comm is None:
        return SerialComm()
    if isinstance(comm, (SerialComm, MPIComm)):
        return comm
    if callable(getattr(comm, "Get_rank", None)) and callable(getattr(comm, "allgather", None)):
        return MPIComm(comm)
    raise TypeError(f"comm must be an mpi4py communicator or None, got {type(comm).__name__}")


def chunk_range(n_chunks: int, rank: int, size: int) -> tuple[int, int]:
    """The contiguous chunks ``[lo, hi)`` of ``rank`` among ``size`` ranks."""
    return (rank * n_chunks) // size, ((rank + 1) * n_chunks) // size


def balanced_ranges(costs: list[list[float]], rank: int, size: int) -> list[tuple[int, int]]:
    """The chunks ``[lo, hi)`` of each group that ``rank`` evaluates, balanced by cost.

    ``costs[g][k]`` is the cost of chunk ``k`` of group ``g``.  The chunks of all groups,
    in group order, are cut into ``size`` contiguous pieces of about equal cost: chunk
    ``k`` goes to the rank whose share of the total holds the middle of its cost.  Every
    rank computes the same cut, so a group split over ranks is reduced by the same
    tree (:func:`complete_tree`) whatever the cut.  Groups too small to split (one
    chunk) then go to different ranks, not all to the last one.

    Parameters
    ----------
    costs : list of list of float
        Per group, the cost of each of its chunks (e.g. points times jet channels).
    rank, size : int
        This rank and the number of ranks.

    Returns
    -------
    list of (int, int)
        Per group, the range of its chunks this rank owns (``lo == hi``: none).
    """
    return balanced_assignment(costs, size)[rank]


def balanced_assignment(costs: list[list[float]], size: int) -> list[list[tuple[int, int]]]:
    """:func:`balanced_ranges` of every rank, ``[rank][group] -> (lo, hi)``, in one pass
    over the chunks (each rank needs the others' ranges to know what they send)."""
    out = [[(0, 0)] * len(costs) for _ in range(size)]
    total = float(sum(sum(c) for c in costs))
    if not total > 0:
        return out
    before = 0.0
    for g, group in enumerate(costs):
        for k, c in enumerate(group):
            mid = before + 0.5 * c
            before += c
            owner = min(size - 1, int(mid * size / total))
            lo, hi = out[owner][g]
            out[owner][g] = (k, k + 1) if lo == hi else (lo, k + 1)
    return out


def tree_sum(leaf: Callable[[int], np.ndarray], lo: int, hi: int) -> np.ndarray:
    """``sum(lo, hi) = sum(lo, mid) + sum(mid, hi)``, ``mid = (lo + hi) // 2``, with the
    leaves ``leaf(i)``; ``hi > lo``."""
    if hi - lo == 1:
        return leaf(lo)
    mid = (lo + hi) // 2
    return tree_sum(leaf, lo, mid) + tree_sum(leaf, mid, hi)


def segment_keys(n: int, a: int, b: int) -> list[tuple[int, int]]:
    """The largest nodes ``(lo, hi)`` of the tree over ``[0, n)`` that lie inside
    ``[a, b)`` (at most ``2 log2 n`` of them), in index order."""
    out: list[tuple[int, int]] = []

    def visit(lo: int, hi: int) -> None:
        if hi <= a or lo >= b:
            return
        if a <= lo and hi <= b:
            out.append((lo, hi))
            return
        mid = (lo + hi) // 2
        visit(lo, mid)
        visit(mid, hi)

    if n > 0 and b > a:
        visit(0, n)
    return out


def segment_nodes(
    leaf: Callable[[int], np.ndarray], n: int, a: int, b: int
) -> list[tuple[int, int, np.ndarray]]:
    """The nodes :func:`segment_keys` with their sums ``(lo, hi, sum)``."""
    return [(lo, hi, tree_sum(leaf, lo, hi)) for lo, hi in segment_keys(n, a, b)]


def complete_tree(nodes: dict[tuple[int, int], np.ndarray], n: int) -> np.ndarray:
    """The root of the tree over ``[0, n)`` from the nodes of all ranks' ranges."""

    def value(lo: int, hi: int) -> np.ndarray:
        v = nodes.get((lo, hi))
        if v is not None:
            return v
        if hi - lo == 1:
            raise RuntimeError(f"no rank reduced chunk {lo}")
        mid = (lo + hi) // 2
        return value(lo, mid) + value(mid, hi)

    return value(0, n)


THREADS_VARIABLE = "NUMBA_NUM_THREADS"
"""Set in the environment, it overrides the share of the cores chosen by
:func:`select_threads`."""


def select_threads(comm) -> int:
    """Under several ranks, let this rank's kernels use its share of the node's cores
    (``cores // ranks on the node``, at least 1) so that the ranks of a node do not
    each start a thread per core and fight over them; a ``NUMBA_NUM_THREADS`` set in
    the environment is left alone.  Returns the number of kernel threads."""
    import numba

    if comm.size > 1:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        local = max(1, getattr(comm, "local_size", comm.size))
        if local > cores and getattr(comm, "local_rank", 0) == 0:
            warnings.warn(
                f"{local} MPI ranks share {cores} cores on this node, so they compete for "
                f"them and the run is slower than with at most {cores} ranks per node "
                "(one process with threads is as fast on one machine)",
                OversubscriptionWarning,
                stacklevel=3,
            )
        if THREADS_VARIABLE not in os.environ:
            numba.set_num_threads(min(max(1, cores // local), numba.config.NUMBA_NUM_THREADS))
    return numba.get_num_threads()


class OversubscriptionWarning(RuntimeWarning):
    """More MPI ranks on a node than cores it lets the process use."""


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Inside the block, BLAS and LAPACK (numpy's and scipy's) run on one thread.

    A threaded BLAS splits reductions (dot products, the factorisations of ``lstsq``)
    by thread, so its results change with the number of threads, and its threads
    spin beside the kernels' threads and the other ranks.  :func:`~pinngelu.train`
    and :func:`~pinngelu.resume` run inside this block: the same seed then gives the
    same bits for any thread count, and (measured on the flagship, 2 cores) one
    process runs 15% faster and two ranks 28% faster than with OpenBLAS's default.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def select_gpu(comm, device) -> None:
    """With ``device="cuda"`` under several ranks, bind this rank to GPU
    ``local_rank % n_gpus`` (before the backend creates its context)."""
    if comm.size <= 1 or not isinstance(device, str) or device.lower() != "cuda":
        return
    try:
        from numba import cuda
    except ImportError:
        return
    if cuda.is_available():
        n = len(cuda.gpus)
        if n > 0:
            cuda.select_device(comm.local_rank % n)


@contextmanager
def abort_on_error(comm=None) -> Iterator[None]:
    """Around a rank's work: an exception prints its traceback (naming the rank) and
    aborts every rank of the job, so that no rank waits forever in a collective.
    A single process re-raises."""
    comm = world() if comm is None else as_comm(comm)
    try:
        yield
    except SystemExit as exc:
        if comm.size > 1 and exc.code not in (0, None):
            sys.stderr.flush()
            comm.abort(exc.code if isinstance(exc.code, int) else 1)
        raise
    except BaseException:
        if comm.size <= 1:
            raise
        print(f"pinngelu: rank {comm.rank} of {comm.size} failed:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        comm.abort(1)
        raise


def run_main(fn: Callable[[], object], comm=None):
    """``fn()`` inside :func:`abort_on_error`."""
    with abort_on_error(comm):
        return fn()
