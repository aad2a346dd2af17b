"""The defaults choose the measured better path: the formulation of a problem without
``formulation=``, the optimiser and budget of ``TrainConfig()``, and the lines that say
which and why."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

import pinngelu as pg
from pinngelu.training.config import DEFAULT_ITERS, UNBOUNDED

STEEL = pg.Material.from_E_nu(210e9, 0.3)


def _left_edge(X):
    return X[:, 0] < 1e-9


def _bar(**kw) -> pg.ElasticityProblem:
    conds = kw.pop("conditions", [pg.Dirichlet("left", 0.0), pg.Traction("right", [0.0, -1e6])])
    kw.setdefault("n_interior", 64)
    kw.setdefault("n_boundary", 32)
    return pg.ElasticityProblem(
        pg.Rectangle(0.0, 1.0, 0.0, 0.1), STEEL, conds, plane_stress=True, **kw
    )


def test_clamped_and_loaded_part_gets_the_energy_formulation():
    prob = _bar()
    assert isinstance(prob.formulation, pg.EnergyForm)
    assert "every displacement condition is built into the network" in prob.formulation_reason
    text = repr(prob)
    assert "energy formulation" in text and "plane stress" in text and "chosen by default" in text


@pytest.mark.parametrize(
    "kw, why",
    [
        ({"identify": ("mu",)}, "it identifies mu"),
        (
            {"data": [pg.DisplacementData(np.array([[0.5, 0.05]]), np.zeros((1, 2)))]},
            "displacement data",
        ),
        ({"hard_dirichlet": True}, "hard_dirichlet=True"),
        (
            {
                "conditions": [
                    pg.Dirichlet(lambda X: X[:, 0] < 1e-9, 0.0),
                    pg.Traction("right", 1e6),
                ]
            },
            "the energy formulation does not apply: the energy formulation builds",
        ),
    ],
    ids=["identify", "data", "hard", "predicate-clamp"],
)
def test_strong_form_where_the_energy_formulation_does_not_apply(kw, why):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rigid-body and soft-condition warnings
        prob = _bar(**kw)
    assert isinstance(prob.formulation, pg.StrongForm)
    assert why in prob.formulation_reason
    assert "the strong form" in repr(prob)


def test_a_given_formulation_is_kept():
    prob = _bar(formulation=pg.StrongForm())
    assert isinstance(prob.formulation, pg.StrongForm) and prob.formulation_reason == "given"


def test_default_optimiser_and_budget():
    assert pg.TrainConfig().resolved_stages(500) == (pg.QuasiNewton(DEFAULT_ITERS),)
    # a time limit (or an evaluation budget) given alone is the budget
    assert pg.TrainConfig(time_limit=10.0).resolved_stages(500) == (pg.QuasiNewton(UNBOUNDED),)
    assert pg.TrainConfig(max_evals=7).resolved_stages(500) == (pg.QuasiNewton(UNBOUNDED),)
    # a matrix above QNConfig.max_bytes (2 GB: 15812 parameters): L-BFGS, and a line
    big = 16_000
    cfg = pg.TrainConfig(time_limit=10.0)
    assert cfg.resolved_stages(big) == (pg.LBFGS(UNBOUNDED),)
    assert "L-BFGS instead of the dense quasi-Newton" in cfg.default_fallback(big)
    assert cfg.default_fallback(500) is None
    given = pg.TrainConfig(stages=(pg.LBFGS(3),))
    assert given.resolved_stages(big) == (pg.LBFGS(3),) and given.default_fallback(big) is None


def test_first_progress_lines_say_formulation_and_fallback():
    prob = _bar()
    out = io.StringIO()
    pg.train(
        prob,
        pg.MLP(2, (4,), 2),
        rng=np.random.default_rng(0),
        config=pg.TrainConfig(max_evals=3, print_every=1),
        out=out,
    )
    first = out.getvalue().splitlines()[0]
    assert first.startswith("formulation: energy formulation (chosen by default")
    # a network too large for the dense matrix says that it trains with L-BFGS
    out = io.StringIO()
    big = pg.MLP(2, (128, 120), 2)  # 16,106 parameters: 2.08 GB
    assert big.n_params > 15_812
    pg.train(
        _bar(formulation=pg.StrongForm()),
        big,
        rng=np.random.default_rng(0),
        config=pg.TrainConfig(max_evals=2, print_every=1),
        out=out,
    )
    lines = out.getvalue().splitlines()
    assert lines[0] == "formulation: strong form (given)"
    assert lines[1].startswith("default optimiser: L-BFGS instead of the dense quasi-Newton")
    assert "[lbfgs" in out.getvalue()


def test_lm_with_the_default_formulation_names_the_strong_form():
    cfg = pg.TrainConfig(stages=(pg.LevenbergMarquardt(2),))
    with pytest.raises(ValueError, match=r"formulation=pinngelu.StrongForm\(\)"):
        pg.train(_bar(), pg.MLP(2, (4,), 2), rng=np.random.default_rng(0), config=cfg, out=None)
