"""Results pinned by their bits: each fixed-budget run of ``tests/trajectories.py``
ends on the parameters whose SHA-256 digest was recorded in
``tests/data/trajectories.json`` (a change of code structure must move none)."""

from __future__ import annotations

import json

import pytest
import trajectories

TABLE = json.loads(trajectories.FILE.read_text())
SLOW = {"case block_with_bore"}  # a 3D quadrature and 6 iterations of about 10 s each
NOT_BITWISE = {"flagship lm": 1e-13}
"""Runs whose last bits depend on more than the code: Levenberg-Marquardt's normal
equations (a multithreaded BLAS product, and kernels freshly compiled or loaded from
the cache give different last bits); their loss is compared to a relative tolerance."""


def _params():
    for name, thunk in trajectories.all_runs():
        marks = [pytest.mark.slow] if name in SLOW else []
        yield pytest.param(name, thunk, id=name, marks=marks)


@pytest.mark.parametrize("name,thunk", _params())
def test_trajectory_keeps_its_bits(name, thunk):
    got = trajectories.record(thunk())
    want = TABLE[name]
    assert got["n_iter"] == want["n_iter"]
    if name in NOT_BITWISE:
        assert got["loss"] == pytest.approx(want["loss"], rel=NOT_BITWISE[name], abs=0)
        return
    assert got["loss"] == want["loss"], f"{name}: loss {got['loss']!r}, recorded {want['loss']!r}"
    assert got["sha256"] == want["sha256"]


def test_every_run_has_a_record():
    assert {name for name, _ in trajectories.all_runs()} == set(TABLE)
