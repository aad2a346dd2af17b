"""The command line: listing cases, running one, help and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pinngelu.app import cli


def test_list_shows_every_case_with_a_description(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    cases = cli.available_cases()
    assert "plate_manufactured" in cases
    assert len(lines) == len(cases)
    for line, (name, desc) in zip(lines, cases.items(), strict=True):
        assert line.split()[0] == name
        assert desc and desc in line


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "list" in capsys.readouterr().out


def test_unknown_case(capsys):
    assert cli.main(["run", "no_such_case"]) == 2
    err = capsys.readouterr().err
    assert "unknown case 'no_such_case'" in err and "plate_manufactured" in err


def test_run_help_lists_case_options(capsys):
    assert cli.main(["run", "plate_manufactured", "--help"]) == 0
    out = capsys.readouterr().out
    for opt in ("--device", "--out", "--seed", "--max-iter", "--time-limit"):
        assert opt in out
    assert "pinngelu run plate_manufactured" in out


def test_bad_option_is_a_usage_error(capsys):
    assert cli.main(["run", "plate_manufactured", "--max-iter", "many"]) == 2
    assert "invalid int value" in capsys.readouterr().err


def test_unwritable_output_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert cli.main(["run", "plate_manufactured", "--out", str(blocker / "sub")]) == 1
    err = capsys.readouterr().err
    assert "cannot be written" in err


def test_python_m_pinngelu_runs_a_case(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    cmd = [
        sys.executable,
        "-m",
        "pinngelu",
        "run",
        "plate_manufactured",
        "--out",
        str(out),
        "--max-iter",
        "3",
        "--seed",
        "7",
        "--quiet",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["iterations"] == 3
    assert summary["settings"]["seed"] == 7
    assert (out / "solution.vtu").stat().st_size > 0
    listing = subprocess.run(
        [sys.executable, "-m", "pinngelu", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert listing.returncode == 0 and "plate_manufactured" in listing.stdout


@pytest.mark.parametrize("device", ["gpu", "CPU0"])
def test_bad_device_is_a_usage_error(device, capsys):
    assert cli.main(["run", "plate_manufactured", "--device", device]) == 2


@pytest.mark.parametrize(
    "opts, match",
    [
        (["--seed", "-1"], "--seed: must be an integer >= 0, got -1"),
        (["--seed", "1.5"], "--seed: invalid int value"),
        (["--max-iter", "-3"], "--max-iter: must be an integer >= 0"),
        (["--adam-iters", "-1"], "--adam-iters: must be an integer >= 0"),
        (["--print-every", "-1"], "--print-every: must be an integer >= 0"),
        (["--time-limit", "0"], "--time-limit: must be a finite number of seconds > 0"),
        (["--time-limit", "nan"], "--time-limit: must be a finite number of seconds > 0"),
        (["--time-limit", "-5"], "--time-limit: must be a finite number of seconds > 0"),
        (["--time-limit", "soon"], "--time-limit: invalid number of seconds"),
        (["--unknown-option"], "unrecognized arguments"),
    ],
)
def test_bad_values_are_usage_errors(opts, match, capsys):
    assert cli.main(["run", "plate_manufactured", *opts]) == 2
    assert match in capsys.readouterr().err


def test_out_pointing_at_a_file_is_a_usage_error(tmp_path, capsys):
    target = tmp_path / "summary.json"
    target.write_text("{}")
    assert cli.main(["run", "plate_manufactured", "--out", str(target)]) == 2
    assert "is an existing file, not a folder" in capsys.readouterr().err
    assert target.read_text() == "{}"


def test_case_script_usage_error_exit_code():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    script = os.path.join(root, "cases", "plate_manufactured.py")
    env = dict(os.environ, PYTHONPATH=root)  # this checkout's package, not an installed one
    proc = subprocess.run(
        [sys.executable, script, "--seed", "-1"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert "--seed: must be an integer >= 0" in proc.stderr


def test_a_run_never_replaces_an_earlier_runs_results(tmp_path, monkeypatch):
    """Without --out a second run goes to out/<case>-2 (then -3); an --out holding a
    summary.json is refused naming --overwrite, and accepted with it."""
    from pinngelu.app.runner import output_folder

    monkeypatch.chdir(tmp_path)
    assert output_folder("plate", None) == Path("out/plate")
    Path("out/plate").mkdir(parents=True)
    assert output_folder("plate", None) == Path("out/plate")  # empty: nothing to lose
    Path("out/plate/summary.json").write_text("{}")
    assert output_folder("plate", None) == Path("out/plate-2")
    Path("out/plate-2").mkdir()
    Path("out/plate-2/summary.json").write_text("{}")
    assert output_folder("plate", None) == Path("out/plate-3")
    with pytest.raises(ValueError, match="earlier run.*--overwrite"):
        output_folder("plate", "out/plate")
    assert output_folder("plate", "out/plate", overwrite=True) == Path("out/plate")


def test_a_failure_after_training_keeps_the_model_and_says_so(tmp_path, monkeypatch, capsys):
    """The figures fail after training: the model and summary.json are written, the
    summary names the failed step, stderr says it, and the run ends with an error
    (the command's exit status 1)."""
    from pinngelu.app import runner

    def broken(*a, **k):
        raise RuntimeError("no display for the figures")

    monkeypatch.setattr(runner, "plot_case_figures", broken)
    out = tmp_path / "run"
    status = cli.main(
        ["run", "plate_manufactured", "--max-iter", "2", "--out", str(out), "--quiet"]
    )
    assert status == 1
    summary = json.loads((out / "summary.json").read_text())
    assert "no display for the figures" in summary["failed_steps"]["figures"]
    assert (out / "model.npz").exists() and (out / "solution.vtu").exists()
    err = capsys.readouterr().err
    assert "figures failed after training" in err and "model and summary are in" in err
