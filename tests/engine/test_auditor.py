"""The inspection game between the agent and a strategic auditor (Tsebelis 1989)."""

from __future__ import annotations

import json
import warnings

import nashpy
import numpy as np
import pytest
from deter.cli.app import app
from deter.solver.engine.auditor import (
    catch_reward_for_target,
    committed_inspection,
    equilibria,
    inspection_equilibrium,
    inspection_game,
)
from deter.solver.engine.solve import solve
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.support.numbers import in_range
from tests.support.strategy_specs import one_action, strategic_spec, strategic_text

AUDITOR = {"monitor": "inspector", "inspection_cost": 1.0, "catch_reward": 2.0, "miss_loss": 3.0}


def test_the_2x2_mixed_equilibrium_and_tsebelis_paradox() -> None:
    """x* = g / (q F) = 2 / (0.5 * 10) = 0.4; offence c / (q (R + L)) = 1 / (0.5 * 5) = 0.4."""
    base = inspection_equilibrium(one_action(gain=2.0, cap=10.0, q=0.5, auditor=AUDITOR))
    assert base.outcome.inspection_rate == pytest.approx(0.4)
    assert base.outcome.offence_rate == pytest.approx(0.4)
    doubled = inspection_equilibrium(one_action(gain=2.0, cap=20.0, q=0.5, auditor=AUDITOR))
    assert doubled.outcome.inspection_rate == pytest.approx(0.2)  # halved
    assert doubled.outcome.offence_rate == pytest.approx(0.4)  # unchanged


def test_pure_cases() -> None:
    # Inspecting never pays (c > q (R + L)): no inspection, and the agent offends.
    lazy = inspection_equilibrium(one_action(auditor={**AUDITOR, "inspection_cost": 5.0}))
    assert lazy.outcome.inspection_rate == 0.0 and lazy.outcome.offence_rate == 1.0
    # Offending never pays (gain below compliance): compliance, and no inspection.
    honest = inspection_equilibrium(one_action(gain=-1.0, auditor=AUDITOR))
    assert honest.outcome.offence_rate == 0.0 and honest.outcome.inspection_rate == 0.0
    # Even full inspection does not deter (g > q F): the auditor inspects always.
    bold = inspection_equilibrium(one_action(gain=8.0, auditor=AUDITOR))
    assert bold.outcome.inspection_rate == 1.0 and bold.outcome.offence_rate == 1.0


def test_target_offence_rate_closed_form() -> None:
    """Interior offence rate c / (q (R + L)) <= t  iff  R >= c / (q t) - L = 37."""
    spec = one_action(auditor={**AUDITOR, "target_offence_rate": 0.05})
    assert catch_reward_for_target(spec, 0.05) == pytest.approx(37.0, rel=1e-8)
    report = solve(spec).strategy
    assert report is not None and report.auditor is not None
    assert report.auditor.catch_reward_needed == pytest.approx(37.0, rel=1e-8)


def test_commitment_next_to_equilibrium_in_json(runner, write_spec) -> None:
    path = write_spec(
        strategic_text(
            [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 2.0, "harm": 1.0}],
            [{"name": "inspector", "cost": 1.0, "detects": {"cheat": 0.5}}],
            agent={"penalty_cap": 10.0},
            auditor=AUDITOR,
        )
    )
    out = runner.invoke(app, ["solve", str(path), "-f", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    # Equilibrium: inspection 0.4 (cost 0.4), offence 0.4 (harm 0.4): loss 0.8.
    assert doc["equilibrium"]["offence_rate"] == pytest.approx(0.4)
    assert doc["equilibrium"]["inspection_rate"] == pytest.approx(0.4)
    assert doc["equilibrium"]["principal_loss"] == pytest.approx(0.8)
    # Commitment: rate 0.4 deters (ties to the principal): loss 0.4.
    assert doc["commitment"]["offence_rate"] == 0.0
    assert doc["commitment"]["principal_loss"] == pytest.approx(0.4)
    assert doc["auditor"]["price_of_no_commitment"] == pytest.approx(0.4)
    table = runner.invoke(app, ["solve", str(path)])
    assert "price of lacking commitment: 0.4" in table.stdout


def _random_game_spec(
    gains: list[float],
    qs: list[float],
    harms: list[float],
    cost: float,
    reward: float,
    miss: float,
    r: float,
):
    names = [f"a{k}" for k in range(len(gains))]
    return strategic_spec(
        [{"name": "comply", "gain": 0.0}]
        + [{"name": n, "gain": g, "harm": h} for n, g, h in zip(names, gains, harms, strict=True)],
        [
            {
                "name": "inspector",
                "cost": 1.0,
                "detects": dict(zip(names, qs, strict=True)),
                "false_positive": 0.1,
            }
        ],
        agent={"penalty_cap": 10.0, "risk_aversion": r, "false_positive_penalty": 1.0},
        auditor={
            "monitor": "inspector",
            "inspection_cost": cost,
            "catch_reward": reward,
            "miss_loss": miss,
        },
    )


game_inputs = st.integers(1, 3).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(0.1, 9.0), min_size=n, max_size=n),
        st.lists(st.floats(0.1, 1.0), min_size=n, max_size=n),
        st.lists(in_range(0.0, 3.0), min_size=n, max_size=n),
    )
)


def _is_equilibrium(game, sigma: np.ndarray, tau: np.ndarray, tie: float = 1e-9) -> bool:
    """Nash's definition: every action played is a best response (within ``tie`` of the
    largest payoff, relative to the payoffs' size), for the agent and for the auditor."""
    agent = game.agent @ tau
    auditor = sigma @ game.auditor
    for payoff, played in ((agent, sigma), (auditor, tau)):
        slack = tie * max(1.0, float(np.max(np.abs(payoff))))
        if np.any((played > 1e-12) & (payoff < payoff.max() - slack)):
            return False
    return True


@settings(max_examples=40, deadline=None)
@given(
    inputs=game_inputs,
    cost=st.floats(0.1, 3.0),
    reward=in_range(0.0, 4.0),
    miss=in_range(0.0, 4.0),
    r=st.sampled_from([0.0, 0.3]),
)
def test_equilibria_match_nashpy_vertex_enumeration(inputs, cost, reward, miss, r) -> None:
    gains, qs, harms = inputs
    game = inspection_game(_random_game_spec(gains, qs, harms, cost, reward, miss, r))
    found = equilibria(game)
    assert all(_is_equilibrium(game, e.sigma, np.array([1 - e.t, e.t])) for e in found)
    ours = {(tuple(np.round(e.sigma, 6)), round(e.t, 6)) for e in found}
    theirs = set()
    with warnings.catch_warnings():  # nashpy warns on degenerate games; the sets still match
        warnings.simplefilter("ignore")
        for sigma, tau in nashpy.Game(game.agent, game.auditor).vertex_enumeration():
            # On a nearly degenerate game nashpy's enumeration can return a pair that is not
            # an equilibrium (three payoff lines crossing 3e-5 apart: it mixed in an action
            # worse by 3e-5); only pairs that meet the definition are compared.
            if _is_equilibrium(game, sigma, tau):
                theirs.add((tuple(np.round(sigma, 6)), round(float(tau[1]), 6)))
    # Every finite game has an equilibrium: an empty enumeration is nashpy's vertex
    # enumeration failing on a degenerate game, which leaves nothing to compare against
    # (degenerate games are checked against hand-derived equilibria in test_numeric_trust).
    assume(theirs)
    assert ours == theirs


@settings(max_examples=30, deadline=None)
@given(
    inputs=game_inputs,
    cost=st.floats(0.1, 3.0),
    reward=in_range(0.0, 4.0),
    miss=in_range(0.0, 4.0),
)
def test_commitment_is_never_worse_than_the_equilibrium(inputs, cost, reward, miss) -> None:
    """Committing to a rate is at least as good for the principal as any Nash equilibrium
    (the agent's equilibrium play is a best response to the equilibrium rate)."""
    gains, qs, harms = inputs
    game = inspection_game(_random_game_spec(gains, qs, harms, cost, reward, miss, 0.0))
    commitment = committed_inspection(game, "min_loss")
    assert commitment is not None
    for e in equilibria(game):
        assert commitment.principal_loss <= e.outcome.principal_loss + 1e-9
