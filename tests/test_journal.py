"""The checkpoint's append-only journal: records round-trip; a run killed (really,
with SIGKILL) or copied at any iteration resumes from its journal to the bits of the
uninterrupted run; a record cut short or a journal of another snapshot is ignored;
folding the journal into new snapshots keeps the states."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pinngelu as pg
from pinngelu.training import journal as jn
from pinngelu.training.checkpoint import read_checkpoint
from pinngelu.training.hooks import checkpointing

ITERS = 60


def tiny_problem() -> pg.ElasticityProblem:
    conds = [
        pg.Dirichlet("bottom", 0.0),
        pg.Traction("top", [0.0, 1.0]),
        pg.Traction("left", 0.0),
        pg.Traction("right", 0.0),
    ]
    return pg.ElasticityProblem(
        pg.Rectangle(0.0, 1.0, 0.0, 1.0),
        pg.Material.from_lame(1.0, 0.5),
        conds,
        n_interior=16,
        n_boundary=16,
        formulation=pg.StrongForm(),
    )


def config(ck=None) -> pg.TrainConfig:
    return pg.TrainConfig(
        stages=(
            pg.Adam(20, lr=1e-2),
            pg.LBFGS(ITERS - 20, pg.optim.LBFGSConfig(memory=5, gtol=0.0, ftol=0.0)),
        ),
        resample_every=25,
        print_every=0,
        error_every=0,
        checkpoint=ck,
        checkpoint_every=1,
    )


def train(ck=None, callback=None) -> pg.TrainResult:
    return pg.train(
        tiny_problem(),
        pg.MLP(2, (6,), 2),
        rng=np.random.default_rng(3),
        config=config(ck),
        callback=callback,
        out=None,
    )


@pytest.fixture(scope="module")
def uninterrupted():
    return train()


def resume(ck) -> pg.TrainResult:
    return pg.resume(
        ck,
        tiny_problem(),
        pg.MLP(2, (6,), 2),
        rng=np.random.default_rng(99),
        config=config(ck),
        out=None,
    )


def same_run(a: pg.TrainResult, b: pg.TrainResult) -> None:
    assert b.n_iter == a.n_iter and b.n_eval == a.n_eval
    assert np.array_equal(b.theta, a.theta)
    assert b.history["loss"] == a.history["loss"]
    assert b.history["iteration"] == a.history["iteration"]


def killed_copy(tmp_path, at: int):
    """Train with a checkpoint every iteration and copy the checkpoint and its journal
    as they are after iteration ``at`` (what a kill at that moment leaves)."""
    ck, saved = tmp_path / "ck.npz", tmp_path / "killed"
    saved.mkdir()

    def grab(run):
        if run.it == at:
            for p in (ck, jn.journal_path(ck)):
                shutil.copy(p, saved / p.name)
        return False

    train(ck, grab)
    assert not jn.journal_path(ck).exists()  # the end snapshot folds it in
    return saved / "ck.npz"


def test_record_round_trip(tmp_path):
    arrays = {
        "a": np.arange(6.0).reshape(2, 3),
        "i": np.array([1, -2], dtype=np.int64),
        "b": np.array([True, False]),
        "s": np.array(2.5),
        "e": np.zeros((0, 4)),
        "t": np.arange(12.0).reshape(3, 4).T,  # not contiguous
    }
    j = jn.Journal(tmp_path / "x.npz", "tok")
    j.append({"it": 1, "x": [0.1, None]}, arrays)
    j.append({"it": 2}, {})
    j.close()
    recs = jn.read_journal(tmp_path / "x.npz", "tok")
    assert [m["it"] for m, _ in recs] == [1, 2]
    meta, got = recs[0]
    assert meta["x"] == [0.1, None]
    for k, v in arrays.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        assert np.array_equal(got[k], v)
    assert jn.read_journal(tmp_path / "x.npz", "other") == []  # another snapshot's
    assert jn.read_journal(tmp_path / "none.npz", "tok") == []


@pytest.mark.parametrize("at", [7, 20, 33])
def test_copy_at_any_iteration_resumes_to_the_same_bits(uninterrupted, tmp_path, at):
    """Inside Adam (7), at the switch to L-BFGS (20), inside L-BFGS after a resampling
    (33): the checkpoint is the first snapshot plus a journal of ``at - 1`` records."""
    ck = killed_copy(tmp_path, at)
    assert len(jn.read_journal(ck, read_checkpoint_token(ck))) == at - 1
    meta, arrays = read_checkpoint(ck)
    assert meta["it"] == at
    rows = arrays["hist__rows"]  # the snapshot's rows and those of every record
    assert rows.shape[0] in (at, at + 1)  # Adam records the point it stepped from
    assert rows[:, 2].tolist() == uninterrupted.history["loss"][: rows.shape[0]]
    same_run(uninterrupted, resume(ck))


def read_checkpoint_token(ck) -> str:
    """The journal token the snapshot ``ck`` names."""
    with np.load(ck) as z:
        return json.loads(str(z["meta"]))["journal"]


def test_a_record_cut_short_is_ignored(uninterrupted, tmp_path):
    ck = killed_copy(tmp_path, 12)
    jp = jn.journal_path(ck)
    data = jp.read_bytes()
    jp.write_bytes(data[:-5])  # the last record torn
    assert read_checkpoint(ck)[0]["it"] == 11
    with open(jp, "ab") as fh:  # and bytes the file system never wrote
        fh.write(b"\0" * 300)
    assert read_checkpoint(ck)[0]["it"] == 11
    same_run(uninterrupted, resume(ck))


def test_a_journal_of_another_snapshot_is_ignored(uninterrupted, tmp_path):
    ck = killed_copy(tmp_path, 12)
    jp = jn.journal_path(ck)
    other = jn.Journal(tmp_path / "other.npz", "not-this-one")
    other.close()
    shutil.copy(jn.journal_path(tmp_path / "other.npz"), jp)
    assert read_checkpoint(ck)[0]["it"] == 1  # the snapshot alone
    same_run(uninterrupted, resume(ck))


def test_folding_into_new_snapshots_keeps_the_states(uninterrupted, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpointing, "JOURNAL_MIN_BYTES", 0)
    monkeypatch.setattr(checkpointing, "JOURNAL_FACTOR", 2.0)
    ck = killed_copy(tmp_path, 41)
    n_records = len(jn.read_journal(ck, read_checkpoint_token(ck)))
    assert 0 < n_records < 40  # snapshots were taken on the way
    assert read_checkpoint(ck)[0]["it"] == 41
    same_run(uninterrupted, resume(ck))


KILLED = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from test_journal import train

    def die(run):
        if run.it == {at}:
            os.kill(os.getpid(), signal.SIGKILL)
        return False

    train({ck!r}, die)
    """
)


@pytest.mark.skipif(not hasattr(os, "kill") or sys.platform == "win32", reason="POSIX signals")
def test_kill_9_resumes_to_the_same_bits(uninterrupted, tmp_path):
    """A process killed with SIGKILL right after its checkpoint of iteration 37."""
    ck = tmp_path / "ck.npz"
    script = KILLED.format(tests=os.path.dirname(__file__), at=37, ck=str(ck))
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert p.returncode == -9, p.stderr.decode()[-2000:]
    assert jn.journal_path(ck).exists()
    assert read_checkpoint(ck)[0]["it"] == 37
    same_run(uninterrupted, resume(ck))
    assert not jn.journal_path(ck).exists()
