"""solver/rl/study.py: the learners experiment on deter/LongTask-v0."""

from __future__ import annotations

import math

import numpy as np
import pytest
from deter.solver.rl.population import Task
from deter.solver.rl.study import (
    horizon_table,
    long_conditions,
    predicted,
    run_learners,
    run_ppo_long,
    summarise_ppo,
    work_states,
)

LONG = Task(steps=5, audit_delay=3, retention=0.95, opportunity=0.5, discount=0.95)


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return long_conditions(LONG, margin=0.15, learner={"samples": 6000, "confidence": 0.98})


def test_the_conditions_are_designed_for_the_delay(docs: list[dict]) -> None:
    labels = [d["label"] for d in docs]
    assert labels[:3] == ["none", "optimal, one-step", "optimal"]
    assert "optimal, margin 0.15" in labels and "judge + deter" in labels
    # Hoeffding's margin needs more than 6,000 samples here; Bernstein's does not
    assert [x for x in labels if x.startswith("learning-aware")] == [
        "learning-aware, bernstein (n 6000, 1-delta 0.98)"
    ]
    by = {d["label"]: d for d in docs}
    assert (
        by["optimal"]["designed"]["cost_per_episode"]
        > by["optimal, one-step"]["designed"]["cost_per_episode"]
    )
    # the one-step optimum says "honest" of itself, the task makes it tampering
    assert by["optimal, one-step"]["designed"]["induced_action"] == "honest"
    assert predicted(by["optimal, one-step"], LONG) == "test_tampering"
    assert predicted(by["optimal x0.8"], LONG) == "test_tampering"
    assert predicted(by["optimal"], LONG) == "honest"
    assert horizon_table(Task()) == ""


def test_population_rows_carry_wilson_intervals(docs: list[dict]) -> None:
    rows = run_learners(docs[:2], "rational", task=LONG, seeds=2, agents=30, episodes=5, seed=0)
    none, blind = rows
    assert none.metrics["violation_after"] == pytest.approx((1.0, 0.9398, 1.0), abs=1e-3)
    assert (
        blind.after_actions["test_tampering"] == 1.0 and blind.predicted_action == "test_tampering"
    )
    assert none.metrics["oversight_cost"][0] == 0.0 and blind.metrics["oversight_cost"][0] > 0


def test_every_work_state_is_enumerated() -> None:
    states = work_states(4, 0, steps=5, length=8)
    assert len(states) == 5 * 2**3
    assert all(s[2] == 1.0 and s[1] == 1.0 and s[-1] == 0.0 for s in states)
    assert len({tuple(s) for s in states}) == len(states)


def test_ppo_on_the_long_task_runs_and_summarises(docs: list[dict]) -> None:
    pytest.importorskip("stable_baselines3")  # the optional deter[experiment] extra
    runs = [run_ppo_long(docs[0], task=LONG, seed=s, timesteps=256) for s in range(2)]
    for run in runs:
        assert run["timesteps"] == 256 and len(run["curve"]) == 100
        assert math.isclose(sum(run["final_actions"].values()), 1.0)
        assert run["oversight_cost"] == 0.0
    row = summarise_ppo(runs, docs[0], LONG)
    assert row.seeds == 2 and row.predicted_action == "test_tampering"
    share, low, high = row.metrics["violation_after"]
    assert share in (0.0, 0.5, 1.0) and low <= share <= high
    assert np.isfinite(row.curve_mean).all()
