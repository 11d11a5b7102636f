"""Both sides learning: agents against auditors who adapt their inspection rate (issue 8).

The oracle is the 2 x 2 inspection game in closed form (Tsebelis 1989): one offence with
gain g, caught by an inspection with probability q, penalty F; the auditor pays c per
inspection, earns R for a catch and loses L for a miss. The mixed equilibrium inspects at
x* = g / (q F) and offends at o* = c / (q (R + L)).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import deter
import pytest
from deter.cli.app import app
from deter.solver.model.arrays import ProblemArrays
from deter.solver.simulation.auditor import (
    AuditorParams,
    AuditorSimulation,
    simulate_auditor,
    spec_equilibrium,
)
from deter.solver.simulation.simulate import AgentConfig, exp3_regret_bound

from tests.support.reference import spec_text

Z = 4.0
G, Q, F = 1.0, 1.0, 4.0
C, R, L = 1.0, 1.0, 3.0


def game_text() -> str:
    return spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "offend", "gain": G}],
        [{"name": "inspector", "cost": 1.0, "detects": {"offend": Q}}],
        agent={"penalty_cap": F},
    ) + (
        f'\n[auditor]\nmonitor = "inspector"\ninspection_cost = {C}\ncatch_reward = {R}\n'
        f"miss_loss = {L}\n"
    )


def spec() -> deter.Spec:
    try:
        return deter.solver.parse_spec_text(game_text())
    except deter.SpecError as exc:  # pragma: no cover - the [auditor] key is issue 5's
        pytest.fail(f"the spec model does not read [auditor]: {exc}")


def run(episodes: int, population: int, seed: int) -> AuditorSimulation:
    parsed = spec()
    params = AuditorParams.from_spec(parsed)
    assert params == AuditorParams("inspector", C, R, L)
    return simulate_auditor(
        ProblemArrays.from_spec(parsed),
        params,
        agent=AgentConfig("exp3"),
        episodes=episodes,
        population=population,
        seed=seed,
    )


def test_the_computed_equilibrium_is_the_closed_form() -> None:
    point = spec_equilibrium(spec())
    assert point is not None
    assert point.inspection_rate == pytest.approx(G / (Q * F), abs=1e-9)
    assert point.offence_rate == pytest.approx(C / (Q * (R + L)), abs=1e-9)


def test_learners_time_averages_are_pinned_near_the_equilibrium() -> None:
    """Exp3 against Exp3. With o_t, s_t the offence and inspection indicators and eps_A,
    eps_U the sides' average regrets in payoff units (Exp3's bound 2 sqrt(e-1) sqrt(T n ln n)
    / T times each side's payoff range), no regret against each fixed action gives, for the
    time averages o, x and the average of o_t s_t written os:

    agent vs always comply:  F q os - g o <= eps_A
    agent vs always offend:  g (1 - o) - F q (x - os) <= eps_A
    auditor vs never:        c x - q (R + L) os <= eps_U
    auditor vs always:       q (R + L) (o - os) - c (1 - x) <= eps_U

    Eliminating os (0 <= os <= min(o, x)):
    (a) x >= (g (1 - o) - eps_A) / (q F)
    (b) x <= (eps_U + (R + L) (eps_A + g o) / F) / c
    (c) o >= (c x - eps_U) / (q (R + L))          (offending does not vanish)
    (d) o <= ((eps_U + c (1 - x)) / (q (R + L)) + eps_A / (q F)) / (1 - g / (q F))
    These hold in expectation; the population means get Z standard errors of slack."""
    episodes, population = 10_000, 30
    sim = run(episodes, population, seed=2)
    eps = exp3_regret_bound(2, episodes) / episodes
    eps_agent = eps * F  # the agent's payoffs span [g - F, g]
    eps_auditor = eps * (C + L)  # the auditor's span [-c - L, max(0, R - c)]
    assert max(0.0, R - C) - min(-C - L, -L) == C + L

    def ends(estimate):  # (low, high) of the mean within Z standard errors
        se = (estimate.high - estimate.low) / (2 * 1.96)
        return estimate.mean - Z * se, estimate.mean + Z * se

    o_low, o_high = ends(sim.offence_rate)
    x_low, x_high = ends(sim.inspection_rate)
    assert x_high >= (G * (1 - o_high) - eps_agent) / (Q * F)
    assert x_low <= (eps_auditor + (R + L) * (eps_agent + G * o_high) / F) / C
    assert o_high >= (C * x_low - eps_auditor) / (Q * (R + L))
    assert o_low <= ((eps_auditor + C * (1 - x_low)) / (Q * (R + L)) + eps_agent / (Q * F)) / (
        1 - G / (Q * F)
    )
    assert o_low > 0.02  # (c) above is informative: the agents keep offending


def test_same_seed_same_draws() -> None:
    first, second = run(300, 10, seed=5), run(300, 10, seed=5)
    assert json.dumps({**first.to_dict(), "timing": 0}) == json.dumps(
        {**second.to_dict(), "timing": 0}
    )
    third = run(300, 10, seed=6)
    assert third.to_dict()["curve"] != first.to_dict()["curve"]


def test_rational_agent_needs_a_committed_policy() -> None:
    parsed = spec()
    with pytest.raises(ValueError, match="both sides learn"):
        simulate_auditor(
            ProblemArrays.from_spec(parsed),
            AuditorParams.from_spec(parsed),  # type: ignore[arg-type]
            agent=AgentConfig("rational"),
            episodes=10,
            population=2,
            seed=0,
        )


def test_cli_auditor_json_and_plot(runner, write_spec, tmp_path: Path) -> None:
    path = write_spec(game_text(), "inspection_game")
    plot = tmp_path / "auditor.svg"
    reply = runner.invoke(
        app, ["simulate", str(path), "-n", "300", "-k", "20", "-f", "json", "--plot", str(plot)]
    )
    assert reply.exit_code == 0, reply.stderr
    doc = json.loads(reply.stdout)
    assert doc["kind"] == "auditor_simulation" and doc["agent"] == "exp3"
    assert doc["equilibrium"]["offence_rate"] == pytest.approx(C / (Q * (R + L)))
    for key in ("offence_rate", "inspection_rate", "final_offence_rate"):
        low, high = doc[f"{key}_ci"]
        assert low <= doc[key] <= high
    assert plot.read_text().lstrip().startswith("<?xml")
    table = runner.invoke(app, ["simulate", str(path), "-n", "50", "-k", "5"])
    assert table.exit_code == 0 and "Equilibrium" in table.stdout
    rational = runner.invoke(app, ["simulate", str(path), "-n", "50", "-k", "5", "-a", "rational"])
    assert rational.exit_code == 2 and "both sides learn" in rational.stderr
    committed = runner.invoke(
        app,
        [
            "simulate",
            str(path),
            "-n",
            "50",
            "-k",
            "5",
            "-a",
            "rational",
            "--rates",
            "inspector=0.3",
            "-f",
            "json",
        ],
    )
    assert committed.exit_code == 0, committed.stderr
    # A committed rate 0.3 > x* = g / (q F) deters: --rates simulates commitment instead.
    assert json.loads(committed.stdout)["policies"][0]["violation_rate"] == 0.0


SATURATED = """
version = 1
[agent]
penalty_cap = 4.0
false_positive_penalty = 1.0
[[actions]]
name = "comply"
gain = 0.0
[[actions]]
name = "skim"
gain = 1.2
[[actions]]
name = "steal"
gain = 3.5
penalty_cap = 6.0
[[monitors]]
name = "inspector"
cost = 1.0
max_rate = 0.5
detects = { skim = 0.3, steal = 0.7 }
false_positive = 0.1
[[monitors]]
name = "floor"
cost = 1.0
min_rate = 0.8
detects = { skim = 0.2, steal = 0.8 }
false_positive = 0.05
[auditor]
monitor = "inspector"
inspection_cost = 0.2
catch_reward = 1.0
miss_loss = 2.0
"""


@pytest.mark.parametrize("text", [game_text(), SATURATED], ids=["one offence", "saturated"])
def test_the_simulated_catches_are_the_games_and_the_best_responses_agree(text: str) -> None:
    """Each action against each of the auditor's columns, 200,000 episodes through the
    simulation's own draw (``draw_catches``): the catch frequency is the equilibrium game's
    detection (1 - x) p0 + x p1 within 5 standard errors (steal saturates: 0.64 + 0.7 > 1),
    the inspection's own catches x q, and the best response to the simulated utilities is the
    game's. Both read the model's detections (``model/detection.inspection_detection``)."""
    import numpy as np
    from deter.solver.engine.auditor import inspection_game
    from deter.solver.model.detection import inspection_detection
    from deter.solver.simulation.auditor import draw_catches

    parsed = deter.loads(text).spec
    game = inspection_game(parsed)
    arrays = ProblemArrays.for_design(parsed)
    inspection = inspection_detection(arrays, arrays.monitor_names.index("inspector"))
    relative = arrays.gain - arrays.gain[arrays.compliant]
    penalty = arrays.penalty_cap.copy()
    penalty[arrays.compliant] = arrays.false_positive_penalty
    n = 200_000
    rng = np.random.default_rng(11)
    for column, rate in enumerate(game.rates):
        utilities = []
        for i in range(arrays.n_actions):
            inspected, caught, own = draw_catches(rng, inspection, rate, np.full(n, i))
            expected = (1 - rate) * inspection.not_inspected[i] + rate * inspection.inspected[i]
            # the game's own figure: u(g) - P d, risk neutral (d = F)
            assert game.agent[i, column] == pytest.approx(relative[i] - expected * penalty[i])
            se = math.sqrt(max(expected * (1 - expected), 1e-12) / n)
            assert abs(caught.mean() - expected) <= 5 * se + 1e-12
            assert inspected.mean() == pytest.approx(rate, abs=5 * math.sqrt(0.25 / n))
            own_rate = rate * inspection.own[i]
            own_se = math.sqrt(own_rate * (1 - own_rate) / n)
            assert abs(own.mean() - own_rate) <= 5 * own_se + 1e-12
            utilities.append(relative[i] - caught.mean() * penalty[i])
        assert int(np.argmax(utilities)) == int(np.argmax(game.agent[:, column]))
