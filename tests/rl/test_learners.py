"""The experiment's learners (solver/rl/learners.py; issue 23 item 3): Hedge's regret bound
on an arbitrary reward sequence, Exp3 and Hedge ending on compliance where it leads by a
margin, the rational agent as the design's check, and ``deter experiment --learners``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from deter.cli.app import app
from deter.solver.rl.experiment import build_conditions, run_tabular
from deter.solver.rl.learners import (
    LEARNERS,
    Hedge,
    hedge_rate,
    hedge_regret_bound,
    make_learner,
)
from deter.solver.rl.tabular import train_tabular
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV


def invoke(*args: str) -> Any:
    return CliRunner(env=CLI_ENV).invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def conditions() -> dict[str, dict]:
    return {d["label"]: d for d in build_conditions()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hedge_regret_is_within_its_bound_on_any_reward_sequence(seed: int) -> None:
    """Cesa-Bianchi & Lugosi 2006, Theorem 2.2: for rewards in [0, 1] chosen by anyone,
    max_i sum_t r_ti - sum_t p_t . r_t <= sqrt(T ln n / 2) at eta = sqrt(8 ln n / T).
    The sequence here drifts so that the best action changes (an adversary's kind)."""
    rng = np.random.default_rng(seed)
    agents, n, episodes = 50, 4, 2000
    hedge = Hedge(agents, n, hedge_rate(n, episodes), low=0.0, high=1.0)
    drift = np.linspace(0.0, 1.0, episodes)
    earned = np.zeros(agents)
    totals = np.zeros((agents, n))
    for t in range(episodes):
        rewards = np.clip(rng.random((agents, n)) * 0.5 + drift[t] * np.arange(n) / n, 0, 1)
        rewards[:, 0] += 0.25 * (t < episodes // 2)  # the first half favours action 0
        rewards = np.clip(rewards, 0.0, 1.0)
        earned += (hedge.probabilities() * rewards).sum(axis=1)
        totals += rewards
        actions = hedge.choose(rng, t)
        hedge.update(actions, rewards[np.arange(agents), actions], rewards)
    regret = totals.max(axis=1) - earned
    bound = hedge_regret_bound(n, episodes)
    assert regret.max() <= bound
    # the bound is not vacuous here: a uniform player's regret is far above it
    assert (totals.max(axis=1) - totals.mean(axis=1)).min() > 3 * bound


def test_hedge_refuses_bandit_feedback() -> None:
    hedge = Hedge(2, 3, 0.1, 0.0, 1.0)
    with pytest.raises(ValueError, match="full information"):
        hedge.update(np.zeros(2, dtype=np.int64), np.zeros(2), None)


def test_hedge_complies_where_compliance_leads_and_not_where_a_shortcut_does(
    conditions: dict[str, dict],
) -> None:
    """Under 'optimal, margin 0.5' honest work leads every shortcut by at least 0.5 USD in
    expectation; under 'optimal x0.8' test tampering pays most. Hedge's final choice is the
    best realised total over every episode (full information): with 3,000 draws of each
    action it errs far below 5%."""
    margin, under = conditions["optimal, margin 0.5"], conditions["optimal x0.8"]
    hedge = train_tabular(margin, agents=200, episodes=3000, seed=5, learner="hedge")
    assert hedge.violation_after <= 0.05
    assert train_tabular(under, agents=200, episodes=3000, seed=5, learner="hedge").greedy.min() > 0


def test_exp3_violates_at_most_its_regret_over_the_lead(conditions: dict[str, dict]) -> None:
    """Exp3's expected regret against honest work, sum_i E[N_i] Delta_i, is at most
    R = 2 sqrt(e - 1) sqrt(T n ln n) (rewards rescaled into [0, 1]), so its expected share
    of violating episodes is at most R / (Delta T), Delta the smallest lead of honest work
    rescaled. At 'optimal, margin 0.5' with rates x3 that is 0.29 for T = 20,000; the
    population's share (200 independent agents) must be within 4.5 standard errors of it."""
    from deter.runtime import Auditor
    from deter.solver.policy.document import scaled
    from deter.solver.simulation.agents import exp3_regret_bound, reward_range

    doc = scaled(conditions["optimal, margin 0.5"], 3.0, label="x3")
    a = Auditor(doc, warn=False).arrays
    gain = a.gain - a.gain[a.compliant]
    eu = gain - a.exact_detection() * a.penalty
    low, high = reward_range(a.with_agent(gain, 0.0))
    lead = (eu[a.compliant] - np.delete(eu, a.compliant).max()) / (high - low)
    episodes, agents = 20_000, 200
    bound = exp3_regret_bound(len(eu), episodes) / (lead * episodes)
    assert bound < 0.5  # not vacuous
    run = train_tabular(doc, agents=agents, episodes=episodes, seed=5, learner="exp3")
    assert run.violation_during <= bound + 4.5 * 0.5 / math.sqrt(agents)
    # ... and it learns: its violation falls from the uniform 3/4 over training
    assert run.violation_curve[-2000:].mean() < run.violation_curve[:2000].mean() - 0.2


def test_the_rational_agent_plays_the_designs_prediction(conditions: dict[str, dict]) -> None:
    for label, doc in conditions.items():
        names = [a["name"] for a in doc["actions"]]
        run = train_tabular(doc, agents=7, episodes=50, seed=1, learner="rational")
        predicted = doc["designed"]["induced_action"]
        assert {names[i] for i in run.greedy} == {predicted}, label
        assert run.violation_during == float(predicted != doc["compliant"]), label


def test_epsilon_greedy_draws_are_unchanged_by_the_learner_refactor(
    conditions: dict[str, dict],
) -> None:
    """The epsilon-greedy population draws from the same streams as before the other
    learners (SeedSequence(seed).spawn(3)'s first two children are spawn(2)'s): one
    seed's figures, recorded on the code before the change."""
    run = train_tabular(conditions["optimal"], agents=50, episodes=400, seed=7, epsilon=0.2)
    assert (int(run.samples.sum()), int(np.count_nonzero(run.greedy))) == (20_000, 30)
    assert run.violation_during == pytest.approx(0.6191, abs=1e-12)


def test_make_learner_names_the_choices() -> None:
    with pytest.raises(ValueError, match="hedge"):
        make_learner("ppo", None, np.zeros(1), agents=1, episodes=1)  # type: ignore[arg-type]
    assert set(LEARNERS) == {"epsilon-greedy", "hedge", "exp3", "rational"}


def test_run_tabular_labels_each_population(conditions: dict[str, dict]) -> None:
    docs = [conditions["optimal"], conditions["optimal x1.2"]]
    for kind in LEARNERS:
        results = run_tabular(docs, seeds=2, agents=5, episodes=20, learner=kind)
        assert [r.learner_kind for r in results] == [kind, kind]
        after = results[0].metrics["violation_after"]
        assert 0 <= after[1] <= after[0] <= after[2] <= 1 or math.isnan(after[0])


def test_deter_experiment_trains_each_learner_it_is_given(tmp_path: Path) -> None:
    out = tmp_path / "e"
    args = ["-o", str(out), "--seeds", "2", "--agents", "3", "--episodes", "20", "--no-plot"]
    result = invoke("experiment", *args, "--learners", "hedge,rational", "--delta", "0.2")
    assert result.exit_code == 0, result.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["parameters"]["learners"] == ["hedge", "rational"]
    assert doc["parameters"]["delta"] == 0.2  # --delta reaches the run
    assert {r["learner_kind"] for r in doc["tabular"]} == {"hedge", "rational"}
    table = (out / "results.md").read_text()
    assert "### Hedge (full information)" in table and "### rational" in table
    bad = invoke("experiment", *args[:2], "--seeds", "2", "--learners", "hedge,sarsa")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --learners")


def test_exp3_takes_the_exploration_it_is_designed_for(conditions: dict[str, dict]) -> None:
    """``exploration`` is Exp3's gamma in both runners (``[learner] exploration``); without
    it the tuned gamma, bit for bit as before."""
    from deter.solver.rl.learners import BanditExp3
    from deter.solver.rl.population import Task, build_learner
    from deter.solver.simulation.agents import exp3_gamma

    doc = conditions["optimal x1.2"]
    game_run = train_tabular(doc, agents=20, episodes=300, seed=3, learner="exp3")
    tuned = train_tabular(
        doc, agents=20, episodes=300, seed=3, learner="exp3", exploration=exp3_gamma(4, 300)
    )
    assert (game_run.violation_curve == tuned.violation_curve).all()
    wide = train_tabular(doc, agents=20, episodes=300, seed=3, learner="exp3", exploration=1.0)
    assert not (wide.violation_curve == tuned.violation_curve).all()
    # gamma = 1 is uniform play: three of four actions are shortcuts
    assert wide.violation_during == pytest.approx(0.75, abs=0.05)
    plan = build_learner("exp3", doc, Task(), agents=2, episodes=300, exploration=0.3)
    assert isinstance(plan, BanditExp3) and plan.exp3.gamma == 0.3
