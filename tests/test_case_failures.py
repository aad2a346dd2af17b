"""The case runner around training: its step lines and times, ``--quiet``, and the
failures it reports before training starts."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

pytest.importorskip("skfem")

import pinngelu as pg  # noqa: E402
from pinngelu.app import cli  # noqa: E402
from pinngelu.app.runner import CaseSettings, case_config, case_main  # noqa: E402
from pinngelu.cases import plate_manufactured  # noqa: E402
from pinngelu.fem import CaseReference, steps  # noqa: E402

ARGS = ["--max-iter", "1", "--adam-iters", "0", "--seed", "0"]


def _build(args) -> pg.ElasticityProblem:
    """The manufactured plate whose ``exact`` is a finite-element reference, solved when
    the problem checks it (as the cases with a ``CaseReference`` do)."""
    ref = CaseReference(lambda: plate_manufactured.build_problem(64, 64), h=0.1)
    p = plate_manufactured.build_problem(200, 100)
    return pg.ElasticityProblem(
        p.geometry,
        p.material,
        p.conditions,
        p.body_force,
        n_interior=200,
        n_boundary=100,
        exact=ref.displacement,
        formulation=pg.StrongForm(),
    )


def _run(tmp_path, *extra) -> dict:
    settings = CaseSettings(hidden=(8,), config=case_config(print_every=1))
    argv = [*ARGS, "--out", str(tmp_path), *extra]
    return case_main("with_reference", "A case.", settings, _build, argv, plate_manufactured.grid)


def test_times_cover_setup_reference_training_and_output(tmp_path, capsys, monkeypatch):
    """Before: the reference was solved silently while the problem was built, and the
    run reported the training's time alone as its wall time."""
    monkeypatch.setattr(steps, "STEP_SECONDS", 0.0)  # every step prints its lines
    summary = _run(tmp_path)
    out = capsys.readouterr().out
    assert "P2 reference of Rectangle" in out
    assert "[with_reference] setting up the problem: " in out
    t = json.loads((tmp_path / "summary.json").read_text())["times_s"]
    assert list(t) == ["setup", "reference", "training", "output", "total"]
    assert t["reference"] > 0 and t["training"] > 0
    assert t["total"] >= sum(v for k, v in t.items() if k != "total") - 1e-9
    assert summary["wall_time_s"] < t["total"]
    last = [line for line in out.splitlines() if line.startswith("wall time")][-1]
    assert "reference" in last and "training" in last


def test_quiet_prints_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(steps, "STEP_SECONDS", 0.0)
    _run(tmp_path, "--quiet")
    assert capsys.readouterr().out == ""
    assert "reference" in json.loads((tmp_path / "summary.json").read_text())["times_s"]


def test_fem_without_scikit_fem_fails_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "skfem", None)
    out = tmp_path / "run"
    assert cli.main(["run", "plate_manufactured", "--fem", "--out", str(out), *ARGS]) == 1
    assert "pip install 'pinngelu[fem]'" in capsys.readouterr().err
    assert not out.exists()


def test_fem_of_a_case_records_its_step(tmp_path, capsys):
    summary = plate_manufactured.main([*ARGS, "--fem", "--quiet", "--out", str(tmp_path)])
    t = json.loads((tmp_path / "summary.json").read_text())["times_s"]
    assert t["fem"] > 0 and summary["fem"]["material"]["source"] == "problem"
    assert np.isfinite(summary["fem"]["rel_l2_displacement"])
