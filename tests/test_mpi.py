"""Data parallelism over MPI: bit-identity across rank counts, rank-0-only output,
resume under MPI, abort on error; and the reduction tree without MPI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pinngelu import parallel

SCRIPT = Path(__file__).parent / "mpi_scripts" / "train_tiny.py"
ROOT = Path(__file__).resolve().parents[1]


def _have_mpi() -> bool:
    if shutil.which("mpiexec") is None:
        return False
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


mpi = pytest.mark.skipif(not _have_mpi(), reason="mpi4py / mpiexec not installed")


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["NUMBA_NUM_THREADS"] = "1"
    for var in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        env.pop(var, None)
    return env


def _run(n: int, tmp: Path, name: str, *extra: str, check: bool = True, timeout: float = 120):
    cmd = [sys.executable, str(SCRIPT), str(tmp / name), *extra]
    if n > 1:
        cmd = ["mpiexec", "-n", str(n), *cmd]
    p = subprocess.run(cmd, cwd=tmp, env=_env(), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def _load(tmp: Path, name: str) -> np.ndarray:
    return np.load(tmp / f"{name}.npy")


# ------------------------------------------------------------------ the tree, no MPI
@pytest.mark.parametrize("n", [1, 2, 5, 13, 64])
def test_segments_complete_to_the_same_bits_for_any_split(n):
    rng = np.random.default_rng(n)
    leaves = rng.normal(size=(n, 7)) * 10.0 ** rng.integers(-8, 8, size=(n, 1))
    leaf = lambda i: leaves[i].copy()
    ref = parallel.tree_sum(leaf, 0, n)
    np.testing.assert_allclose(ref, leaves.sum(axis=0), rtol=1e-12, atol=1e-6)
    for size in (1, 2, 3, 4, 7, n + 2):
        nodes = {}
        for r in range(size):
            lo, hi = parallel.chunk_range(n, r, size)
            for a, b, v in parallel.segment_nodes(leaf, n, lo, hi):
                assert lo <= a < b <= hi
                nodes[(a, b)] = v
        assert np.array_equal(parallel.complete_tree(nodes, n), ref), size


@pytest.mark.parametrize("size", [1, 2, 3, 4, 9])
def test_balanced_ranges_cover_every_chunk_once_with_balanced_costs(size):
    rng = np.random.default_rng(size)
    costs = [list(rng.uniform(1.0, 10.0, n)) for n in (1, 7, 1, 1, 12, 0, 3)]
    costs[0] = [60.0]  # one heavy group of one chunk (a small interior group)
    owned = {}
    load = np.zeros(size)
    for r in range(size):
        ranges = parallel.balanced_ranges(costs, r, size)
        assert len(ranges) == len(costs)
        for g, (lo, hi) in enumerate(ranges):
            assert 0 <= lo <= hi <= len(costs[g])
            for k in range(lo, hi):
                assert (g, k) not in owned
                owned[(g, k)] = r
                load[r] += costs[g][k]
    assert set(owned) == {(g, k) for g, c in enumerate(costs) for k in range(len(c))}
    # contiguous and in rank order along the chunks of all groups
    order = [owned[(g, k)] for g, c in enumerate(costs) for k in range(len(c))]
    assert order == sorted(order)
    total, biggest = sum(map(sum, costs)), max(max(c) for c in costs if c)
    assert load.max() <= total / size + biggest
    if size >= 2:  # the groups of one chunk do not all land on the last rank
        assert owned[(0, 0)] != size - 1  # chunk_range per group gave it to the last


def test_missing_chunk_is_an_error():
    leaf = lambda i: np.ones(1)
    nodes = {(a, b): v for a, b, v in parallel.segment_nodes(leaf, 4, 0, 2)}
    with pytest.raises(RuntimeError, match="chunk 2"):
        parallel.complete_tree(nodes, 4)


def test_serial_world_and_bad_comm():
    assert parallel.as_comm(None).size == 1
    with pytest.raises(TypeError, match="communicator"):
        parallel.as_comm(3)


def test_chunk_size_depends_on_the_group_alone():
    """Groups of up to 8 x 4096 points are cut into about 8 chunks of whole tiles (at
    least 256 points), larger ones into chunks of 4096; a backend with costly calls
    keeps 4096."""
    from pinngelu.loss import chunk_size, n_chunks

    table = {1: 256, 114: 256, 256: 256, 2000: 256, 10_000: 1280, 32_768: 4096, 10**6: 4096}
    for n, c in table.items():
        assert chunk_size(n) == c and c % 32 == 0
    assert [n_chunks(n) for n in (114, 257, 2000, 10_000, 40_000)] == [1, 2, 8, 8, 10]
    assert chunk_size(2000, split=False) == 4096 and n_chunks(2000, split=False) == 1


def test_two_ranks_share_the_flagship_interior_evenly():
    """The flagship's groups (2000 interior points on 6 channels, seven boundary groups
    of 114 points on 3): with two ranks both evaluate part of the interior, and their
    modelled costs differ by less than 10% (with one chunk of 4096 points the interior
    went to one rank alone: 80% of the modelled work)."""
    from types import SimpleNamespace

    from pinngelu.loss import POINT_COST, _rank_chunks, chunk_size

    groups = [SimpleNamespace(n_points=2000)] + [SimpleNamespace(n_points=114)] * 7
    channels = [6] + [3] * 7
    costs = []
    for rank in (0, 1):
        comm = SimpleNamespace(size=2, rank=rank)
        ranges = _rank_chunks(groups, channels, comm, True)[rank]
        cost = 0.0
        for g, nk, (lo, hi) in zip(groups, channels, ranges, strict=True):
            ck = chunk_size(g.n_points)
            cost += (min(g.n_points, hi * ck) - min(g.n_points, lo * ck)) * (nk + POINT_COST)
        assert ranges[0][1] > ranges[0][0], f"rank {rank} has no interior chunk"
        costs.append(cost)
    assert abs(costs[0] - costs[1]) < 0.1 * max(costs), costs


def test_dense_kernels_on_row_blocks_give_the_rows_of_the_whole():
    """The quasi-Newton matrix split over ranks by rows: the product and the update of
    each block are the rows of those of the whole matrix, bit for bit."""
    from pinngelu.kernels.dense import sym_update, symv

    rng = np.random.default_rng(4)
    n = 37
    A = rng.normal(size=(n, n))
    H = A @ A.T
    x, s, u = rng.normal(size=(3, n))
    whole_v = np.empty(n)
    symv(H, x, whole_v)
    whole_H = H.copy()
    sym_update(whole_H, 0.7, s, u, 1.3, -0.4, 0.2)
    for cut in ((0, 10, 25, 37), (0, 1, 36, 37), (0, 37)):
        parts_v, parts_H = [], []
        for r0, r1 in zip(cut[:-1], cut[1:], strict=True):
            block = H[r0:r1].copy()
            v = np.empty(r1 - r0)
            symv(block, x, v)
            sym_update(block, 0.7, s, u, 1.3, -0.4, 0.2, r0)
            parts_v.append(v)
            parts_H.append(block)
        assert np.array_equal(np.concatenate(parts_v), whole_v)
        assert np.array_equal(np.concatenate(parts_H), whole_H)
    np.testing.assert_allclose(whole_v, H @ x, rtol=1e-12, atol=1e-12 * np.abs(H).max())
    ref = 0.7 * H + 1.3 * np.outer(s, s) - 0.4 * (np.outer(s, u) + np.outer(u, s))
    ref += 0.2 * np.outer(u, u)
    np.testing.assert_allclose(whole_H, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


def test_training_runs_blas_on_one_thread():
    """Inside train, numpy's BLAS runs on one thread (a threaded BLAS splits reductions
    by thread: the bits would depend on the thread count); outside it is left alone."""
    from threadpoolctl import threadpool_info

    import pinngelu as pg
    from pinngelu.cases.plate_manufactured import build_problem

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before = blas_threads()
    seen = []
    problem = build_problem(n_interior=100, n_boundary=40)
    cfg = pg.TrainConfig(stages=(pg.LBFGS(2),), print_every=0)
    pg.train(
        problem,
        pg.MLP(2, (4,), 2),
        rng=np.random.default_rng(0),
        config=cfg,
        callback=lambda run: seen.append(blas_threads()) and False,
        out=None,
    )
    assert seen and all(s == {1} for s in seen), seen
    assert blas_threads() == before


def test_chunked_loss_matches_one_call_and_finite_differences():
    """The chunked loss equals the unchunked kernel to rounding, and its gradient
    matches central differences."""
    import pinngelu as pg
    from pinngelu import loss
    from pinngelu.cases.plate_manufactured import build_problem

    problem = build_problem(n_interior=300, n_boundary=100)
    groups = problem.residual_groups(np.random.default_rng(1))
    mlp = pg.MLP(2, (6, 6), 2, "gelu")
    theta = mlp.init(np.random.default_rng(2))
    old = loss.CHUNK
    try:
        ref = loss.loss_and_grad(mlp, theta, groups)
        loss.CHUNK = 37
        res = loss.loss_and_grad(mlp, theta, groups)
    finally:
        loss.CHUNK = old
    assert res.loss == pytest.approx(ref.loss, rel=1e-13)
    np.testing.assert_allclose(res.grad, ref.grad, rtol=1e-10, atol=1e-12 * ref.loss)
    e = np.zeros_like(theta)
    for i in (0, 17, mlp.n_params - 1):
        e[:] = 0.0
        e[i] = 1e-6
        fd = (
            loss.loss_and_grad(mlp, theta + e, groups).loss
            - loss.loss_and_grad(mlp, theta - e, groups).loss
        ) / 2e-6
        assert res.grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-7)


# ------------------------------------------------------------------ under mpiexec
@mpi
def test_same_bits_on_1_2_3_4_ranks(tmp_path):
    _run(1, tmp_path, "s1")
    ref = _load(tmp_path, "s1")
    for n in (2, 3, 4):
        p = _run(n, tmp_path, f"m{n}")
        got = _load(tmp_path, f"m{n}")
        assert np.array_equal(got, ref), f"{n} ranks differ from one process"
        for r in range(n):  # lockstep: every rank holds the same result
            assert np.array_equal(np.load(tmp_path / f"m{n}.rank{r}.npy"), ref)
        # only rank 0 prints progress
        assert p.stdout.count("stopped after") == 1
        assert p.stdout.count("it      0") == 1


@mpi
def test_inverse_problem_with_resampling_same_bits(tmp_path):
    args = ("--identify", "--resample", "3", "--stage", "lbfgs")
    _run(1, tmp_path, "s1", *args)
    _run(3, tmp_path, "m3", *args)
    a, b = _load(tmp_path, "s1"), _load(tmp_path, "m3")
    assert np.array_equal(a, b)


@mpi
def test_a_family_trains_to_the_same_bits_on_1_and_3_ranks(tmp_path):
    """The members' merged groups are split like any group; resampling draws new
    members on every rank alike."""
    args = ("--family", "--resample", "3", "--iters", "7")
    _run(1, tmp_path, "f1", *args)
    _run(3, tmp_path, "f3", *args)
    a, b = _load(tmp_path, "f1"), _load(tmp_path, "f3")
    assert np.isfinite(a).all() and np.array_equal(a, b)


@mpi
def test_resume_under_mpi_with_another_rank_count(tmp_path):
    _run(1, tmp_path, "full", "--iters", "8")
    ck = tmp_path / "ck.npz"
    _run(2, tmp_path, "part", "--iters", "4", "--checkpoint", str(ck))
    assert ck.exists() and not list(tmp_path.glob("*.tmp"))
    _run(3, tmp_path, "rest", "--iters", "8", "--resume", str(ck))
    assert np.array_equal(_load(tmp_path, "rest"), _load(tmp_path, "full"))


@mpi
def test_error_on_one_rank_aborts_the_job(tmp_path):
    p = _run(3, tmp_path, "x", "--fail-rank", "1", check=False, timeout=60)
    assert p.returncode != 0
    assert "deliberate failure on rank 1" in p.stderr
    assert not (tmp_path / "x.npy").exists()


@mpi
def test_rank_killed_by_a_signal_ends_the_job(tmp_path):
    p = _run(2, tmp_path, "k", "--kill-rank", "1", check=False, timeout=60)
    assert p.returncode != 0
    assert not (tmp_path / "k.npy").exists()


@mpi
def test_case_script_under_mpi_writes_on_rank_0_only(tmp_path):
    out = tmp_path / "plate"
    cmd = [
        "mpiexec", "-n", "2", sys.executable, str(ROOT / "cases" / "plate_manufactured.py"),
        "--out", str(out), "--max-iter", "3", "--hidden", "6,6", "--print-every", "1",
    ]  # fmt: skip
    p = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("stopped after") == 1
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["ranks"] == 2
    assert (out / "solution.vtu").exists()


def test_cpu_chunk_kernel_equals_one_call_per_chunk():
    """The CPU kernel that evaluates a range of chunks in one parallel region gives the
    partials of separate calls on each chunk."""
    import pinngelu as pg
    from pinngelu.kernels import get_backend

    be = get_backend("cpu")
    rng = np.random.default_rng(4)
    mlp = pg.MLP(2, (7, 5), 2, "gelu")
    theta = mlp.init(rng)
    N, ch = 1000, 150
    X = rng.random((N, 2))
    C = rng.normal(size=(N, 3, 2, 6))
    g = rng.normal(size=(N, 3))
    w = rng.random(N)
    net = be.net_arrays(mlp, theta)
    out = []

    def one_call_per_chunk(net, X, C, g, w, ch, c0, c1, G, R, J):
        lv = np.empty(c1 - c0)
        for c in range(c0, c1):
            lv[c - c0] = be.loss_grad_chunks(net, X, C, g, w, ch, c, c + 1, G[c - c0 :], R, J)[0]
        return lv

    for impl in (be.loss_grad_chunks, one_call_per_chunk):
        G = np.empty((5, mlp.n_params))
        R = np.zeros((N, 3))
        J = np.zeros((N, 2, 6))
        lv = impl(net, X, C, g, w, ch, 2, 7, G, R, J)
        out.append((lv, G, R[300:], J[300:]))
    for a, b in zip(out[0], out[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert out[0][0][-1] != 0 and np.all(out[0][2][:0] == 0)


def test_ranks_of_a_node_share_its_cores(monkeypatch):
    """Two ranks on one node of 4 cores get 2 kernel threads each (the README's MPI
    line started a thread per core on every rank before); NUMBA_NUM_THREADS set by
    the user wins; one process keeps every thread."""
    from types import SimpleNamespace

    import numba

    from pinngelu.parallel import OversubscriptionWarning, SerialComm, select_threads

    before = numba.get_num_threads()
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(4)))
    try:
        assert select_threads(SerialComm()) == before
        two = SimpleNamespace(size=2, local_size=2)
        assert select_threads(two) == min(2, numba.config.NUMBA_NUM_THREADS)
        eight = SimpleNamespace(size=8, local_size=8, local_rank=0)
        with pytest.warns(OversubscriptionWarning, match="8 MPI ranks share 4 cores"):
            assert select_threads(eight) == 1
        numba.set_num_threads(before)
        monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
        assert select_threads(two) == before
    finally:
        numba.set_num_threads(before)


def test_a_launcher_without_mpi4py_names_the_extra(monkeypatch):
    """Started by mpiexec (its environment says 2 ranks) where mpi4py cannot be
    imported: the error names the extra to install."""
    monkeypatch.setattr(parallel, "_WORLD", None)
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import raises ImportError
    with pytest.raises(RuntimeError, match=r"2 ranks.*pip install 'pinngelu\[mpi\]'"):
        parallel.world()


def test_segment_keys_are_the_nodes_of_segment_nodes():
    """The nodes another rank holds, known without its values: the keys of
    ``segment_nodes`` for every range of every tree size up to 12."""
    from pinngelu.parallel import SerialComm, segment_keys, segment_nodes

    for n in range(1, 13):
        for a in range(n + 1):
            for b in range(a, n + 1):
                nodes = segment_nodes(lambda i: np.array([float(i)]), n, a, b)
                assert segment_keys(n, a, b) == [(lo, hi) for lo, hi, _ in nodes]
                # the nodes cover [a, b) exactly once, in order
                assert sum(hi - lo for lo, hi in segment_keys(n, a, b)) == b - a
    v = np.arange(5.0)
    np.testing.assert_array_equal(SerialComm().allgather_array(v, [5]), v)
