"""Simulation of agents under a policy (``deter simulate``): statistics, agents, CLI.

Statistical tests use fixed seeds, and every tolerance follows from the sample size: a
frequency is compared with its probability within Z standard errors (binomial, or the
standard deviation across independent agents over sqrt(K)). With Z = 4 a correct simulator
fails one such comparison with probability about 6e-5; a wrong one (a detection rule off by
a few percent, a learner that maximises the wrong thing) fails by many standard errors.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import deter
import numpy as np
import pytest
from deter.cli.app import app
from deter.solver.model.arrays import ProblemArrays
from deter.solver.simulation.simulate import (
    AgentConfig,
    AgentTypes,
    Game,
    Policy,
    PolicyRun,
    exp3_regret_bound,
    simulate,
    simulate_policy,
)

from tests.support.paths import ROOT
from tests.support.reference import spec_text

Z = 4.0
ROOT = ROOT
CODING_AGENT = ROOT / "problems" / "coding_agent.toml"


def optimal(spec: deter.Spec) -> tuple[ProblemArrays, np.ndarray]:
    result = deter.solve(spec)
    assert result.status == "optimal" and result.verification and result.verification.passed
    return ProblemArrays.from_spec(spec), np.array([m.rate for m in result.monitors])


def with_margin(path: Path, margin: float) -> deter.Spec:
    text = path.read_text(encoding="utf-8").replace("[agent]\n", f"[agent]\nmargin = {margin}\n", 1)
    return deter.solver.parse_spec_text(text, file=str(path))


def assert_frequencies_match(run: PolicyRun, expected: np.ndarray) -> None:
    """Every action's pooled catch frequency is within Z binomial SEs of its probability."""
    for a, p in zip(run.actions, expected, strict=True):
        assert a.taken > 1000, a
        se = math.sqrt(max(p * (1 - p), 1e-12) / a.taken)
        assert abs(a.caught / a.taken - p) <= Z * se, (a.name, a.caught / a.taken, p, se)


# --- the episode game --------------------------------------------------------------------


def test_detection_frequencies_match_the_model() -> None:
    """Uniformly exploring agents (epsilon = 1) take every action often; under the
    coordinated schedule each action is caught with the model's P_i(x) (the compliant
    action falsely flagged with P_0), each monitor inspects a fraction x_j of episodes and
    the realised cost per episode is sum_j c_j x_j."""
    spec = deter.load_spec(CODING_AGENT)
    arrays, rates = optimal(spec)
    assert rates.sum() <= 1  # so disjoint inspections are possible and the model is exact
    episodes, population = 100, 4000
    run = simulate_policy(
        arrays,
        rates,
        agent=AgentConfig("epsilon-greedy", epsilon=1.0),
        episodes=episodes,
        population=population,
        seed=11,
    )
    result = deter.solve(spec)
    model = np.array([a.detection for a in result.actions])
    assert_frequencies_match(run, model)
    total = episodes * population
    for monitor, x in zip(run.monitors, rates, strict=True):
        assert abs(monitor.inspection_rate - x) <= Z * math.sqrt(x * (1 - x) / total)
    cost = run.oversight_cost_per_episode
    half = (cost.high - cost.low) / 2
    assert abs(cost.mean - float(arrays.cost @ rates)) <= Z / 1.96 * half


def test_coordinated_schedule_is_the_linear_model_below_total_rate_one() -> None:
    spec = deter.load_spec(CODING_AGENT)
    arrays, rates = optimal(spec)
    game = Game.from_arrays(arrays, rates)
    linear = np.minimum(1.0, arrays.detection @ rates)
    linear[arrays.compliant] = arrays.false_positive @ rates
    np.testing.assert_allclose(game.schedule_detection("coordinated"), linear, atol=1e-12)
    independent = game.schedule_detection("independent")
    # Independent coins overlap, so they catch less than the sum (strictly, with 2+ monitors).
    deviations = arrays.deviations[linear[arrays.deviations] > 0]
    assert np.all(independent[deviations] <= linear[deviations] + 1e-15)
    assert np.any(independent[deviations] < linear[deviations] - 1e-4)


@pytest.mark.parametrize("schedule", ["independent", "coordinated"])
def test_frequencies_match_the_exact_schedule_with_overlapping_monitors(schedule: str) -> None:
    """Total rate 1.5 > 1: coordinated inspections must overlap; the exact segment formula
    of ``Game.schedule_detection`` (and 1 - prod(1 - q x) for independent coins) is what the
    simulation must reproduce."""
    text = spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "a", "gain": 1.0}, {"name": "b", "gain": 2.0}],
        [
            {"name": "m1", "cost": 1.0, "detects": {"a": 0.5, "b": 0.9}, "false_positive": 0.1},
            {"name": "m2", "cost": 1.0, "detects": {"a": 0.7}},
            {"name": "m3", "cost": 1.0, "detects": {"a": 0.4, "b": 0.3}},
        ],
        agent={"penalty_cap": 10.0},
    )
    arrays = ProblemArrays.from_spec(deter.solver.parse_spec_text(text))
    rates = np.array([0.6, 0.5, 0.4])
    run = simulate_policy(
        arrays,
        rates,
        agent=AgentConfig("epsilon-greedy", epsilon=1.0),
        episodes=60,
        population=3000,
        seed=5,
        schedule=schedule,
    )  # type: ignore[arg-type]
    exact = Game.from_arrays(arrays, rates).schedule_detection(schedule)
    assert_frequencies_match(run, exact)
    assert exact[2] < 0.9 * 0.6 + 0.3 * 0.4  # overlap: below the linear model's sum
    assert run.warnings  # the gap from the linear model is reported


@pytest.mark.parametrize("schedule", ["independent", "coordinated"])
def test_exponential_detection_is_played_as_the_model_says(schedule: str) -> None:
    """Rates are intensities: each monitor works on every episode, catches action i with
    1 - (1 - q_ij)^{x_j} and costs c_j x_j an episode, so the simulation's catches are the
    model's P_i = 1 - prod_j (1 - q_ij)^{x_j} (P_0 with false flags) under either schedule
    (on the old code they were the linear schedule's)."""
    text = spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "a", "gain": 1.0}, {"name": "b", "gain": 2.0}],
        [
            {"name": "m1", "cost": 1.0, "detects": {"a": 0.5, "b": 0.9}, "false_positive": 0.2},
            {"name": "m2", "cost": 2.0, "detects": {"a": 0.7}},
        ],
        agent={"penalty_cap": 10.0},
        oversight={"detection": "exponential"},
    )
    arrays = ProblemArrays.from_spec(deter.solver.parse_spec_text(text))
    rates = np.array([0.6, 0.3])
    run = simulate_policy(
        arrays,
        rates,
        agent=AgentConfig("epsilon-greedy", epsilon=1.0),
        episodes=60,
        population=3000,
        seed=5,
        schedule=schedule,
    )  # type: ignore[arg-type]
    model = 1 - np.array([(0.8**0.6), (0.5**0.6) * (0.3**0.3), 0.1**0.6])
    exact = Game.from_arrays(arrays, rates).schedule_detection(schedule)
    np.testing.assert_allclose(exact, model, rtol=1e-12)
    assert_frequencies_match(run, model)
    assert not run.warnings
    assert run.oversight_cost_per_episode.mean == pytest.approx(0.6 * 1.0 + 0.3 * 2.0)


# --- the rational agent ------------------------------------------------------------------


@pytest.mark.parametrize("margin", [0.0, 0.25])
def test_rational_agent_complies_under_the_verified_optimum(margin: float) -> None:
    """Ties go to the principal: with margin 0 the binding actions are exactly indifferent
    and the rational agent still complies; with a margin it complies strictly."""
    spec = with_margin(CODING_AGENT, margin)
    arrays, rates = optimal(spec)
    run = simulate_policy(
        arrays, rates, agent=AgentConfig("rational"), episodes=200, population=50, seed=1
    )
    assert run.prediction.deterred
    assert run.violation_rate.mean == 0.0 and run.final_violation_rate.mean == 0.0
    assert run.curve.max() == 0.0


def test_rational_agent_deviates_below_the_deterrence_threshold() -> None:
    """At the optimum at least one incentive constraint binds, so scaling every rate below
    it (x 0.9) makes that deviation strictly profitable: every agent takes it, always."""
    spec = with_margin(CODING_AGENT, 0.25)
    arrays, rates = optimal(spec)
    run = simulate_policy(
        arrays, rates * 0.9, agent=AgentConfig("rational"), episodes=200, population=50, seed=1
    )
    assert not run.prediction.deterred
    assert run.violation_rate.mean == 1.0 and run.curve.min() == 1.0
    taken = next(a for a in run.actions if a.name == run.prediction.induced_action)
    assert taken.rate.mean == 1.0


# --- learners ----------------------------------------------------------------------------

# One deviation worth g = 1, cap F = 10, a monitor with q = 1 and a margin m = 5: the optimum
# is x = (g + m) / (q F) = 0.6, where complying beats deviating by exactly m. Rewards are
# rescaled by the known range [g - F, g] = [-9, 1], so the gap is Delta = m / F = 0.5.
LEARNING = spec_text(
    [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 1.0}],
    [{"name": "inspector", "cost": 1.0, "detects": {"cheat": 1.0}}],
    agent={"penalty_cap": 10.0, "margin": 5.0},
)


def learning_gap() -> tuple[ProblemArrays, np.ndarray, float]:
    arrays, rates = optimal(deter.solver.parse_spec_text(LEARNING))
    game = Game.from_arrays(arrays, rates)
    p = game.schedule_detection("coordinated")[1]
    cheat = 1.0 - p * 10.0  # expected payoff of cheating; complying pays 0
    delta = (0.0 - cheat) / 10.0  # in rescaled units
    assert delta > 0.4  # a margin worth learning from within the test's horizon
    return arrays, rates, delta


def test_ucb_final_violation_rate_is_below_its_regret_bound() -> None:
    """UCB1 (Auer, Cesa-Bianchi & Fischer 2002, Theorem 1): after T episodes the expected
    number of plays of an action Delta worse than the best is at most
    8 ln T / Delta^2 + 1 + pi^2 / 3. The final window (the last T/10 episodes) holds at most
    all of those plays, so E[final violation rate] <= (8 ln T / Delta^2 + 1 + pi^2/3) / (T/10)
    and E[violation rate] <= the same / T. The population mean is compared with these
    within Z standard errors across agents."""
    arrays, rates, delta = learning_gap()
    episodes, population = 10_000, 40
    run = simulate_policy(
        arrays, rates, agent=AgentConfig("ucb"), episodes=episodes, population=population, seed=3
    )
    plays = 8 * math.log(episodes) / delta**2 + 1 + math.pi**2 / 3
    for estimate, window in (
        (run.final_violation_rate, episodes / 10),
        (run.violation_rate, episodes),
    ):
        se = (estimate.high - estimate.low) / (2 * 1.96)
        assert estimate.mean <= plays / window + Z * se, (estimate, plays / window)
    assert run.final_violation_rate.mean < 0.5  # the bound is informative here: 0.3


def test_exp3_violation_rate_is_below_its_regret_bound() -> None:
    """Exp3 with the horizon-tuned gamma (Auer et al. 2002b, Corollary 3.2): expected regret
    <= 2 sqrt(e - 1) sqrt(T n ln n). Each violation costs Delta in expectation, so
    E[violation rate] <= regret / (Delta T)."""
    arrays, rates, delta = learning_gap()
    episodes, population = 5_000, 40
    run = simulate_policy(
        arrays, rates, agent=AgentConfig("exp3"), episodes=episodes, population=population, seed=4
    )
    bound = exp3_regret_bound(arrays.n_actions, episodes) / (delta * episodes)
    se = (run.violation_rate.high - run.violation_rate.low) / (2 * 1.96)
    assert run.violation_rate.mean <= bound + Z * se, (run.violation_rate, bound)
    assert bound < 0.2


def test_epsilon_greedy_keeps_exploring() -> None:
    """With a clear gap the greedy choice is compliance, so the long-run violation rate is
    the exploration share epsilon (n - 1) / n (each violation is an exploring draw)."""
    arrays, rates, _ = learning_gap()
    epsilon, episodes, population = 0.2, 2_000, 200
    run = simulate_policy(
        arrays,
        rates,
        agent=AgentConfig("epsilon-greedy", epsilon=epsilon),
        episodes=episodes,
        population=population,
        seed=9,
    )
    window = episodes // 10
    expected = epsilon / 2
    se = math.sqrt(expected * (1 - expected) / (window * population))
    assert abs(run.final_violation_rate.mean - expected) <= Z * se + 0.005


# --- reproducibility ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def coding_policy() -> tuple[ProblemArrays, np.ndarray]:
    """Solved once: a cached re-solve may differ from a first solve in the last bits, and
    these tests are about the simulation's draws, not the solver's."""
    return optimal(deter.load_spec(CODING_AGENT))


def _run(
    policy: tuple[ProblemArrays, np.ndarray], seed: int, agent: str = "exp3"
) -> dict[str, object]:
    arrays, rates = policy
    sim = simulate(
        arrays,
        [Policy("optimal", rates), Policy("x0.8", rates * 0.8, 0.8)],
        agent=AgentConfig(agent),
        episodes=150,
        population=60,
        seed=seed,
    )  # type: ignore[arg-type]
    doc = sim.to_dict(curve_points=150)
    doc.pop("timing")
    return doc


def test_same_seed_same_output_bit_for_bit(coding_policy) -> None:
    assert json.dumps(_run(coding_policy, 7)) == json.dumps(_run(coding_policy, 7))


def test_different_seeds_draw_differently(coding_policy) -> None:
    first, second = _run(coding_policy, 7), _run(coding_policy, 8)
    curves = [
        [p["curve"]["violation_rate"] for p in doc["policies"]]  # type: ignore[index]
        for doc in (first, second)
    ]
    assert curves[0] != curves[1]


def test_policies_share_the_seed(coding_policy) -> None:
    """Common random numbers: a policy's run does not depend on the others simulated."""
    doc = _run(coding_policy, 7, "ucb")
    arrays, rates = coding_policy
    alone = simulate(
        arrays,
        [Policy("x0.8", rates * 0.8, 0.8)],
        agent=AgentConfig("ucb"),
        episodes=150,
        population=60,
        seed=7,
    ).to_dict(curve_points=150)
    assert alone["policies"][0] == doc["policies"][1]  # type: ignore[index]


# --- agent types ([[types]]) -----------------------------------------------------------

TYPES_SPEC = ROOT / "problems" / "agent_types_bayesian.toml"


def types_of(path: Path) -> tuple[ProblemArrays, AgentTypes]:
    spec = deter.load_spec(path)
    types = AgentTypes.from_spec(spec)
    assert types is not None
    return ProblemArrays.from_spec(spec), types


def test_agents_are_drawn_to_types_by_weight_and_each_type_best_responds() -> None:
    """Rate 0.1 (detection 0.08, expected penalty 4) deters the typical type (gain 2) but
    not the capable one (gain up to 12): each rational agent acts as its type does, so the
    violation rate is the share of capable agents, a Binomial(K, 0.1) / K frequency."""
    arrays, types = types_of(TYPES_SPEC)
    population = 4000
    run = simulate_policy(
        arrays,
        np.array([0.1]),
        agent=AgentConfig("rational"),
        episodes=20,
        population=population,
        seed=3,
        types=types,
    )
    typical, capable = run.types
    assert (typical.induced_action, capable.induced_action) == ("comply", "exfiltrate")
    assert typical.agents + capable.agents == population
    se = math.sqrt(0.1 * 0.9 / population)
    assert abs(capable.agents / population - 0.1) <= Z * se
    assert typical.violation_rate.mean == 0.0 and capable.violation_rate.mean == 1.0
    assert run.violation_rate.mean == pytest.approx(capable.agents / population)
    assert run.prediction.violation_rate == pytest.approx(0.1) and not run.prediction.deterred
    # the capable type's payoff is its own (upper-end) gain 12, not the spec's base gain 2
    expected_payoff = (12.0 - 0.08 * 50.0) * capable.agents / population
    assert run.mean_payoff.mean == pytest.approx(
        expected_payoff,
        abs=Z * 50 * math.sqrt(0.08 * 0.92 / (capable.agents * 20)) * capable.agents / population,
    )
    # a policy that deters both types: nobody deviates
    both = simulate_policy(
        arrays,
        np.array([0.31]),
        agent=AgentConfig("rational"),
        episodes=20,
        population=500,
        seed=3,
        types=types,
    )
    assert both.prediction.deterred and both.violation_rate.mean == 0.0


def test_learners_of_each_type_learn_their_own_payoffs() -> None:
    """UCB1 agents, penalty 10, detection 0.5 (expected penalty 5): the typical type (gain 1)
    loses 4 by cheating, the capable one (gain 9) wins 4. Rescaled by each type's own
    range (10), both gaps are Delta = 0.4, so by UCB1's bound (Auer et al. 2002, Thm 1) each
    agent plays its wrong arm at most 8 ln T / Delta^2 + 1 + pi^2 / 3 times in expectation:
    the typical type's violation rate and the capable type's compliance rate stay below it."""
    text = (
        spec_text(
            [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 1.0}],
            [{"name": "audit", "cost": 1.0, "detects": {"cheat": 1.0}}],
            agent={"penalty_cap": 10.0},
        )
        + """
[[types]]
name = "typical"
weight = 0.7

[[types]]
name = "capable"
weight = 0.3
gains = { cheat = 9.0 }
"""
    )
    spec = deter.solver.parse_spec_text(text)
    types = AgentTypes.from_spec(spec)
    episodes, delta = 4000, 0.4
    run = simulate_policy(
        ProblemArrays.from_spec(spec),
        np.array([0.5]),
        agent=AgentConfig("ucb"),
        episodes=episodes,
        population=100,
        seed=1,
        types=types,
    )
    typical, capable = run.types
    assert (typical.induced_action, capable.induced_action) == ("comply", "cheat")
    bound = (8 * math.log(episodes) / delta**2 + 1 + math.pi**2 / 3) / episodes
    assert typical.agents > 0 and capable.agents > 0
    assert typical.violation_rate.low <= bound
    assert 1 - capable.violation_rate.high <= bound
    # the population's violation rate is the two types' mix, not the base agent's alone
    assert run.violation_rate.mean > 0.5 * capable.agents / 100


def test_types_are_drawn_from_the_seed() -> None:
    arrays, types = types_of(TYPES_SPEC)
    runs = [
        simulate_policy(
            arrays,
            np.array([0.1]),
            agent=AgentConfig("rational"),
            episodes=5,
            population=200,
            seed=seed,
            types=types,
        )
        for seed in (4, 4, 5)
    ]
    agents = [tuple(t.agents for t in run.types) for run in runs]
    assert agents[0] == agents[1]
    assert runs[0].to_dict() == runs[1].to_dict()


def test_cli_simulates_types(runner) -> None:
    reply = runner.invoke(app, ["simulate", str(TYPES_SPEC), "-n", "20", "-k", "400"])
    assert reply.exit_code == 0, reply.stderr
    assert "Agent types under optimal" in reply.stdout
    assert "capable: exfiltrate" in reply.stdout
    csv_reply = runner.invoke(
        app, ["simulate", str(TYPES_SPEC), "-n", "20", "-k", "400", "-f", "csv"]
    )
    assert any(
        line.startswith("type,optimal,capable,1.0,") for line in csv_reply.stdout.splitlines()
    )


# --- the problems/ library ---------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((ROOT / "problems").glob("*.toml")), ids=lambda p: p.stem)
def test_rational_agents_do_what_the_solver_predicts_on_library_problems(
    path: Path, runner
) -> None:
    spec = deter.load_spec(path)
    result = deter.solve(spec)
    if result.status != "optimal":
        pytest.fail(f"{path.name} does not solve: {result.message}")
    reply = runner.invoke(app, ["simulate", str(path), "-n", "50", "-k", "20", "-f", "json"])
    if reply.exit_code == 4 and "not supported" in reply.stderr:  # valid, unsupported here
        assert "ROC" in reply.stderr  # the one documented limitation
        assert f"{path}: monitors.roc (" in reply.stderr and reply.stdout == ""
        return
    assert reply.exit_code == 0, reply.stderr
    doc = json.loads(reply.stdout)
    if doc["kind"] == "auditor_simulation":  # an [auditor]: both sides learn (own tests)
        assert doc["equilibrium"] is not None and 0 <= doc["offence_rate"] <= 1
        return
    policy = doc["policies"][0]
    prediction = policy["prediction"]
    strategy = result.strategy
    if spec.types:  # each type as the solver's strategy report says (agents drawn by weight)
        assert strategy is not None
        assert [(t["name"], t["induced_action"]) for t in policy["types"]] == [
            (t.name, t.induced_action) for t in strategy.types
        ]
        assert prediction["violation_rate"] == pytest.approx(
            sum(t.weight for t in strategy.types if t.induced_action != spec.compliant_action)
        )
        for t in policy["types"]:
            if t["agents"]:
                deviates = t["schedule_induced_action"] != spec.compliant_action
                assert t["violation_rate"] == float(deviates)
        return
    induced = strategy.induced_action if strategy and strategy.induced_action else None
    assert prediction["induced_action"] == (induced or spec.compliant_action)
    if prediction["schedule_induced_action"] == spec.compliant_action:
        assert policy["violation_rate"] == 0.0
    else:
        assert policy["violation_rate"] == 1.0
    # Linear problems' monitors that detect one action never inspect more than every episode
    # between them (issue 21), so the coordinated schedule is the solver's detection; under
    # exponential detection every monitor works at its intensity, the model's detection too.
    assert prediction["schedule_induced_action"] == prediction["induced_action"], path.name
    assert not policy["warnings"], policy["warnings"]


# --- the command line --------------------------------------------------------------------


def test_cli_json_has_the_documented_keys(runner) -> None:
    reply = runner.invoke(
        app,
        [
            "simulate",
            str(CODING_AGENT),
            "--agent",
            "epsilon-greedy",
            "-n",
            "100",
            "-k",
            "50",
            "--seed",
            "2",
            "--rates-scale",
            "0.8",
            "--rates-scale",
            "1.2",
            "--format",
            "json",
        ],
    )
    assert reply.exit_code == 0, reply.stderr
    doc = json.loads(reply.stdout)
    assert doc["agent"] == "epsilon-greedy" and doc["seed"] == 2
    assert [p["scale"] for p in doc["policies"]] == [0.8, 1.2]
    for policy in doc["policies"]:
        for key in (
            "violation_rate",
            "final_violation_rate",
            "oversight_cost_per_episode",
            "mean_payoff",
            "detections_per_episode",
            "false_flags_per_episode",
        ):
            low, high = policy[f"{key}_ci"]
            assert low <= policy[key] <= high
        assert {"induced_action", "deterred"} <= set(policy["prediction"])
        assert {a["name"] for a in policy["actions"]} == {
            "honest",
            "reward_hack",
            "test_tampering",
            "sandbag",
        }
    assert doc["policies"][0]["prediction"]["deterred"] is False  # 0.8 x optimal


def test_cli_table_and_csv(runner) -> None:
    table = runner.invoke(app, ["simulate", str(CODING_AGENT), "-n", "50", "-k", "10"])
    assert table.exit_code == 0, table.stderr
    assert "Violation rate" in table.stdout and "Predicted action" in table.stdout
    csv_reply = runner.invoke(
        app,
        [
            "simulate",
            str(CODING_AGENT),
            "-n",
            "50",
            "-k",
            "10",
            "--rates",
            "llm_judge=0.5",
            "-f",
            "csv",
        ],
    )
    assert csv_reply.exit_code == 0, csv_reply.stderr
    lines = csv_reply.stdout.splitlines()
    assert lines[0].startswith("kind,policy,name,value")
    assert any(line.startswith("rate,rates,llm_judge,0.5,") for line in lines)
    # unnamed monitors run at their min_rate
    assert any(line.startswith("rate,rates,human_review,0.0,") for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rates", "llm_judg=0.2"], "did you mean 'llm_judge'"),
        (["--rates", "llm_judge=1.5"], "outside [0, 1]"),
        (["--rates", "llm_judge"], "monitor=rate"),
        (["--rates", "llm_judge=abc"], "not a number"),
        (["--plot", "out.txt"], ".png, .svg or .pdf"),
        (["--agent", "greedy"], "greedy"),
        (["--episodes", "0"], "--episodes"),
    ],
)
def test_cli_bad_options_exit_2(runner, args: list[str], message: str) -> None:
    reply = runner.invoke(app, ["simulate", str(CODING_AGENT), "-n", "10", "-k", "2", *args])
    assert reply.exit_code == 2
    assert message in reply.stderr
    assert reply.stdout == ""
    assert "Traceback" not in reply.stderr


def test_cli_infeasible_spec_needs_rates(runner) -> None:
    path = ROOT / "problems" / "infeasible" / "undetectable_profitable.toml"
    reply = runner.invoke(app, ["simulate", str(path), "-n", "10", "-k", "2"])
    assert reply.exit_code == 1
    assert "--rates" in reply.stderr


def test_cli_plot_writes_a_png(runner, tmp_path: Path) -> None:
    plot = tmp_path / "curve.png"
    out = tmp_path / "sim.json"
    reply = runner.invoke(
        app,
        [
            "simulate",
            str(CODING_AGENT),
            "--agent",
            "ucb",
            "-n",
            "60",
            "-k",
            "10",
            "--rates-scale",
            "0.8",
            "--rates-scale",
            "1.2",
            "--plot",
            str(plot),
            "-f",
            "json",
            "-o",
            str(out),
        ],
    )
    assert reply.exit_code == 0, reply.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(out.read_text())["agent"] == "ucb"
    assert reply.stdout == ""
