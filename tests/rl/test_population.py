"""solver/rl/population.py: learners on deter/LongTask-v0 and its one-step case, vectorised."""

from __future__ import annotations

import deter
import numpy as np
import pytest
from deter.solver.policy.document import build_policy, with_rates
from deter.solver.rl.population import (
    Task,
    build_learner,
    plan_values,
    rational_plan,
    train_population,
)
from deter.solver.rl.reference import CODING_AGENT_POLICY, CODING_AGENT_SPEC

LONG = Task(steps=5, audit_delay=3, retention=0.95, opportunity=0.5, discount=0.95)
HORIZON = "\n[horizon]\ndiscount = 0.95\naudit_delay = 3\nretention = 0.95\n"
TAMPER = 2  # index of test_tampering in the reference policy


def test_the_one_step_task_is_the_one_shot_game() -> None:
    doc = CODING_AGENT_POLICY
    detection = doc["designed"]["detection"]
    values = plan_values(doc, Task())
    for i, action in enumerate(doc["actions"]):
        name = action["name"]
        if name == doc["compliant"]:
            expected = -doc["designed"]["false_flag_rate"] * doc["false_positive_penalty"]
        else:
            expected = action["gain"] - detection[name] * doc["penalties"][name]
        assert values[i] == pytest.approx(expected, abs=1e-12)
    # at the exact optimum every binding shortcut ties: the rational agent complies
    assert rational_plan(doc, Task()) == 0


def test_the_rational_agent_follows_the_model_with_the_delay() -> None:
    problem = deter.loads(CODING_AGENT_SPEC + HORIZON)
    doc = build_policy(problem.spec, problem.solve(), label="horizon optimum")
    assert rational_plan(doc, LONG) == 0
    # the one-step optimum is undone by the delay: kappa = 0.735 shrinks every penalty
    assert rational_plan(CODING_AGENT_POLICY, LONG) == TAMPER
    run = train_population(
        CODING_AGENT_POLICY, "rational", task=LONG, agents=50, episodes=20, seed=0
    )
    assert run.final.tolist() == [TAMPER] * 50
    # it takes tampering whenever possible: about half the work steps
    assert 0.4 < run.violation_during < 0.6


@pytest.mark.parametrize("learner", ["epsilon-greedy", "hedge", "exp3"])
def test_learners_find_the_shortcut_nobody_watches(learner: str) -> None:
    none = with_rates(
        CODING_AGENT_POLICY, dict.fromkeys(CODING_AGENT_POLICY["rates"], 0.0), label="none"
    )
    episodes = 400 if learner == "hedge" else 1500  # Hedge plays every plan each episode
    run = train_population(none, learner, task=LONG, agents=100, episodes=episodes, seed=1)
    assert np.mean(run.final != 0) > 0.9
    # Exp3 sees returns rescaled over the 20 USD penalty range: tampering's 1 USD edge over
    # reward hacking is 2% of it, so after 1,500 episodes it leads without having won
    assert np.mean(run.final == TAMPER) > (0.9 if learner != "exp3" else 0.4)
    assert np.bincount(run.final, minlength=4).argmax() == TAMPER
    assert run.spend_per_step == 0.0


def test_learners_comply_under_a_strict_margin_in_the_long_task() -> None:
    text = CODING_AGENT_SPEC.replace("[agent]\n", "[agent]\nmargin = 0.15\n") + HORIZON
    problem = deter.loads(text)
    doc = build_policy(problem.spec, problem.solve(), label="horizon, margin 0.15")
    run = train_population(doc, "epsilon-greedy", task=LONG, agents=100, episodes=1500, seed=2)
    # 87 of 100 at this seed: each arm has ~40 noisy returns (a 20 USD penalty in them) for
    # a 0.32 USD gap; far above the one-step optimum's, where ties leave honest work ~60%
    assert np.mean(run.final == 0) > 0.8


def test_unknown_learners_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown learner 'sarsa'"):
        build_learner("sarsa", CODING_AGENT_POLICY, Task(), agents=1, episodes=1)
