"""min_loss: harms and optimal partial deterrence (Becker 1968; Conitzer & Sandholm 2006)."""

from __future__ import annotations

import json

import pytest
from deter.cli.app import app
from deter.solver.engine.solve import solve
from deter.solver.engine.strategic import best_commitment, solve_dobss
from deter.solver.model.types import StrategicArrays
from deter.solver.spec.loading import load_spec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.numbers import in_range
from tests.support.paths import ROOT
from tests.support.strategy_specs import one_action, strategic_spec


@pytest.mark.parametrize("q, cap, gain, cost", [(0.5, 10.0, 2.0, 1.0), (0.8, 20.0, 3.0, 2.5)])
def test_harm_below_the_cost_of_deterring_is_left_and_above_it_is_deterred(
    q: float, cap: float, gain: float, cost: float
) -> None:
    deterring = cost * gain / (q * cap)  # closed form: rate g / (q F) at cost c per unit rate
    low = solve(
        one_action(gain=gain, harm=0.8 * deterring, cap=cap, q=q, cost=cost, objective="min_loss")
    )
    assert low.status == "optimal" and low.strategy is not None
    assert low.strategy.induced_action == "cheat"
    assert low.total_cost == pytest.approx(0.0, abs=1e-9)
    assert low.strategy.harm_left == pytest.approx(0.8 * deterring)
    assert low.strategy.full_deterrence_cost == pytest.approx(deterring, rel=1e-6)
    assert not low.action("cheat").deterred

    high = solve(
        one_action(gain=gain, harm=1.2 * deterring, cap=cap, q=q, cost=cost, objective="min_loss")
    )
    assert high.strategy is not None and high.strategy.induced_action == "comply"
    assert high.total_cost == pytest.approx(deterring, rel=1e-6)
    assert high.strategy.harm_left == 0.0
    assert high.strategy.expected_loss == pytest.approx(deterring, rel=1e-6)
    assert high.action("cheat").deterred


def _two_monitors(budget: float | None):
    """a (gain 1, harm 5) seen only by m_a, b (gain 3, harm 1) only by m_b; F = 10, q = 1.

    Deterring a needs x_a >= 0.1, b needs x_b >= 0.3 (cost 0.4 for both). Inducing a needs
    3 - 10 x_b <= 1 - 10 x_a, i.e. x_b >= 0.2 + x_a, so with budget 0.2 the options are: b
    taken for free (loss 1), a taken at cost 0.2 (loss 5.2), full deterrence over budget.
    """
    oversight: dict[str, object] = {"objective": "min_loss"}
    if budget is not None:
        oversight["budget"] = budget
    return strategic_spec(
        [
            {"name": "comply", "gain": 0.0},
            {"name": "a", "gain": 1.0, "harm": 5.0},
            {"name": "b", "gain": 3.0, "harm": 1.0},
        ],
        [
            {"name": "m_a", "cost": 1.0, "detects": {"a": 1.0}},
            {"name": "m_b", "cost": 1.0, "detects": {"b": 1.0}},
        ],
        agent={"penalty_cap": 10.0},
        oversight=oversight,
    )


def test_a_budget_buys_the_least_harm_it_can() -> None:
    free = solve(_two_monitors(None))
    assert free.strategy is not None and free.strategy.induced_action == "comply"
    assert free.total_cost == pytest.approx(0.4, rel=1e-6)
    tight = solve(_two_monitors(0.2))
    assert tight.status == "optimal" and tight.strategy is not None
    assert tight.strategy.induced_action == "b"
    assert tight.strategy.expected_loss == pytest.approx(1.0, abs=1e-7)
    assert tight.strategy.full_deterrence_cost == pytest.approx(0.4, rel=1e-6)


def test_marginal_deterrence_compares_the_induced_action_with_every_other() -> None:
    """With b's harm 6 > a's 5, the budget of 0.2 makes the agent take a, not b."""
    spec = _two_monitors(0.2)
    actions = tuple(
        a.model_copy(update={"harm": 6.0}) if a.name == "b" else a for a in spec.actions
    )
    result = solve(spec.model_copy(update={"actions": actions}))
    assert result.strategy is not None and result.strategy.induced_action == "a"
    # x_b - x_a >= 0.2 at least cost: x_a = 0, x_b = 0.2.
    assert result.monitor("m_b").rate == pytest.approx(0.2, abs=1e-7)
    assert result.strategy.expected_loss == pytest.approx(5.2, abs=1e-7)


def test_without_the_new_keys_a_spec_solves_as_before() -> None:
    result = solve(one_action())
    assert result.strategy is None
    assert result.total_cost == pytest.approx(0.4, rel=1e-6)
    doc = result.to_dict()
    assert doc["induced_action"] is None and doc["monitors"][0]["deployed"] is True


def test_deter_all_with_harms_reports_no_harm_left_and_keeps_shadow_prices() -> None:
    # Harms alone keep the core solver (duals, shadow prices) but fill the loss keys.
    result = solve(one_action(harm=0.7))
    assert result.status == "optimal" and result.strategy is not None
    assert result.total_cost == pytest.approx(0.4, rel=1e-6)  # c g / (q F) = 2 / 5
    doc = result.to_dict()
    assert doc["objective"] == "deter_all" and doc["induced_action"] == "comply"
    assert doc["harm_left"] == 0.0
    assert doc["expected_loss"] == pytest.approx(result.total_cost)
    assert doc["full_deterrence_cost"] == pytest.approx(result.total_cost)
    # Shadow price of the one binding row: d(c g / (q F)) / dg = c / (q F) = 0.2.
    assert result.action("cheat").shadow_price == pytest.approx(0.2, rel=1e-6)
    # The same numbers as the strategic solver's deter_all (which a fixed cost of 0 can't reach).
    strategic = best_commitment(StrategicArrays.from_spec(one_action(harm=0.7)), "deter_all")
    assert strategic.loss == pytest.approx(doc["expected_loss"], rel=1e-6)


actions_strategy = st.lists(
    st.tuples(in_range(-1.0, 5.0), in_range(0.0, 3.0), in_range(0.0, 1.0)),
    min_size=1,
    max_size=3,
)


@settings(max_examples=15, deadline=None)
@given(
    actions=actions_strategy,
    costs=st.lists(st.floats(0.05, 2.0), min_size=2, max_size=2),
    cap=st.floats(1.0, 20.0),
)
def test_min_loss_never_loses_more_than_deter_all_and_agrees_with_dobss(
    actions: list[tuple[float, float, float]], costs: list[float], cap: float
) -> None:
    spec = strategic_spec(
        [{"name": "comply", "gain": 0.0}]
        + [{"name": f"a{k}", "gain": g, "harm": h} for k, (g, h, _) in enumerate(actions)],
        [
            {
                "name": "m0",
                "cost": costs[0],
                "detects": {f"a{k}": q for k, (*_, q) in enumerate(actions)},
            },
            {
                "name": "m1",
                "cost": costs[1],
                "detects": {f"a{k}": 0.5 for k in range(len(actions))},
            },
        ],
        agent={"penalty_cap": cap},
        oversight={"objective": "min_loss"},
    )
    data = StrategicArrays.from_spec(spec)
    best = best_commitment(data, "min_loss")
    if best.status == "solver_error" and beyond_resolution(actions, cap):
        assert any("failed verification" in line for line in best.attempts)
        return
    assert best.status == "optimal" and best.verification is not None
    assert best.verification.passed
    full = best_commitment(data, "deter_all")
    if full.status == "optimal":
        assert best.loss <= full.loss + 1e-7 * max(1.0, full.loss)
    # The multiple-LPs answer equals the single mixed-integer program's (an independent route).
    dobss = solve_dobss(data)
    if dobss.status == "solver_error" and beyond_resolution(actions, cap):
        # compliance there asks a detection below 1e-8: the commitment program (rows divided
        # by their largest coefficient, formulation/commitment.py) meets it at rate 0
        # within HiGHS's tightest tolerance (1e-10), which leaves the gain undeterred;
        # exact verification refuses that answer
        # (test_a_gain_below_the_programs_resolution_is_never_called_deterred)
        assert any("failed verification" in line for line in dobss.attempts)
        return
    assert dobss.status == "optimal"
    assert dobss.loss == pytest.approx(best.loss, rel=1e-6, abs=1e-7)


def beyond_resolution(actions: list[tuple[float, float, float]], cap: float) -> bool:
    """Some action pays so little that deterring it asks a detection below 1e-8."""
    return any(0 < gain < 1e-8 * cap for gain, _, _ in actions)


def test_a_gain_below_the_programs_resolution_is_never_called_deterred() -> None:
    """Gain 1.4e-45, cap 1: compliance needs a detection of 1.4e-45 (rate 2.8e-45 on m1).
    The commitment program returns rate 0, where deviating pays 1.4e-45 more: an answer
    that says every type complies then is wrong (verification once passed it, judging the
    row at 1 money unit). Now it is refused: never optimal with compliance undeterred."""
    spec = strategic_spec(
        [{"name": "comply", "gain": 0.0}, {"name": "a0", "gain": 1.401298464324817e-45}],
        [
            {"name": "m0", "cost": 1.0, "detects": {"a0": 0.0}},
            {"name": "m1", "cost": 1.0, "detects": {"a0": 0.5}},
        ],
        agent={"penalty_cap": 1.0},
        oversight={"objective": "min_loss"},
    )
    data = StrategicArrays.from_spec(spec)
    for outcome in (best_commitment(data, "deter_all"), solve_dobss(data)):
        if outcome.status == "optimal":
            assert outcome.rates is not None
            if outcome.induced == (0,):  # compliance claimed: it must be bought
                assert 0.5 * outcome.rates[1] >= 1.401298464324817e-45
        else:
            assert outcome.status == "solver_error"
    # min_loss: inducing a0 (harm 0, rate 0) loses 0, and compliance cannot lose less (its
    # harm plus the rate floors' cost, 0, is not below 0), so the unsolved candidate does not
    # block the optimum
    best = best_commitment(data, "min_loss")
    assert best.status == "optimal" and best.loss == 0.0


def test_cli_reports_induced_action_harm_and_loss(runner, write_spec) -> None:
    path = write_spec(
        '[agent]\npenalty_cap = 10.0\n[oversight]\nobjective = "min_loss"\n'
        '[[actions]]\nname = "comply"\ngain = 0.0\n'
        '[[actions]]\nname = "cheat"\ngain = 2.0\nharm = 0.3\n'
        '[[monitors]]\nname = "inspector"\ncost = 1.0\ndetects = { cheat = 0.5 }\n'
    )
    out = runner.invoke(app, ["solve", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["induced_action"] == "cheat"
    assert doc["harm_left"] == pytest.approx(0.3)
    assert doc["expected_loss"] == pytest.approx(0.3)
    assert doc["total_cost"] == pytest.approx(0.0, abs=1e-9)
    assert doc["full_deterrence_cost"] == pytest.approx(0.4)
    assert doc["types"] == [
        {"name": "agent", "weight": 1.0, "induced_action": "cheat", "harm": 0.3}
    ]
    table = runner.invoke(app, ["solve", str(path)])
    assert table.exit_code == 0
    assert "induced action: cheat" in table.stdout
    assert "full deterrence would cost: 0.4" in table.stdout


@pytest.mark.parametrize("r", [0.0, 0.3])
def test_strategic_shadow_prices_match_the_core_solver_when_compliance_is_induced(
    r: float,
) -> None:
    # Harms far above any oversight cost: min_loss induces compliance, so its LP is the core
    # deter_all LP and d(cost)/d(gain) must agree (core: its own duals; here: the candidate's).
    actions = [
        {"name": "comply", "gain": 0.0},
        {"name": "a", "gain": 1.0, "harm": 50.0},
        {"name": "b", "gain": 2.5, "harm": 50.0},
        {"name": "c", "gain": 0.5, "harm": 50.0},
    ]
    monitors = [
        {"name": "m0", "cost": 1.0, "detects": {"a": 0.6, "b": 0.3}},
        {"name": "m1", "cost": 0.4, "detects": {"b": 0.5, "c": 0.2}},
    ]
    core = solve(strategic_spec(actions, monitors, agent={"penalty_cap": 10.0, "risk_aversion": r}))
    strategic = solve(
        strategic_spec(
            actions,
            monitors,
            agent={"penalty_cap": 10.0, "risk_aversion": r},
            oversight={"objective": "min_loss"},
        )
    )
    assert strategic.strategy is not None and strategic.strategy.induced_action == "comply"
    assert strategic.total_cost == pytest.approx(core.total_cost, rel=1e-6)
    for name in ("comply", "a", "b", "c"):
        expected = core.action(name).shadow_price
        assert expected is not None
        assert strategic.action(name).shadow_price == pytest.approx(expected, rel=1e-5, abs=1e-8)
    assert any((core.action(n).shadow_price or 0.0) > 1e-6 for n in ("a", "b", "c"))


def test_shadow_prices_under_partial_deterrence_hold_the_induced_action() -> None:
    # problems/becker_optimal_offences.toml: padding is taken and false claims need only be no
    # better, 4 - 9 x <= g_pad, so x = (4 - g_pad) / 9 at unit cost 1: +1/9 per unit of the
    # false-claims gain, -1/9 per unit of padding's.
    result = solve(load_spec(ROOT / "problems/becker_optimal_offences.toml"))
    assert result.strategy is not None
    assert result.strategy.induced_action == "keyword_padding"
    assert result.action("false_claims").shadow_price == pytest.approx(1 / 9, rel=1e-6)
    assert result.action("keyword_padding").shadow_price == pytest.approx(-1 / 9, rel=1e-6)
    # Mixed-integer programs (fixed costs) have no duals: no shadow price is claimed.
    fixed = solve(
        strategic_spec(
            [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 2.0}],
            [{"name": "m", "cost": 1.0, "fixed_cost": 0.1, "detects": {"cheat": 0.5}}],
            agent={"penalty_cap": 10.0},
        )
    )
    assert fixed.status == "optimal" and fixed.action("cheat").shadow_price is None


def test_a_saturable_action_that_cannot_be_induced_is_proven() -> None:
    """a0 (gain 0) caught by m0 with q = 1 and by m1 with 0.5, so P = min(1, x0 + x1 / 2)
    can saturate (a binary in the program). Inducing a0 needs P_a0 = 0 (else complying pays
    more), hence no rate at all, and then a1 (gain 1) pays: impossible. The proof needs
    P >= (Q x) / R, R = 1.5, where P may saturate (min(1, s) >= s / R): with only P <= Q x
    the relaxation takes P_a0 = 0 at x1 = 1. min_loss then has an optimum (loss 1)."""
    from deter.solver.engine.infeasibility import certify_commitment_infeasible

    spec = strategic_spec(
        [
            {"name": "comply", "gain": 0.0},
            {"name": "a0", "gain": 0.0, "harm": 0.0},
            {"name": "a1", "gain": 1.0, "harm": 1.0},
        ],
        [
            {"name": "m0", "cost": 1.0, "detects": {"a0": 1.0, "a1": 0.0}},
            {"name": "m1", "cost": 1.0, "detects": {"a0": 0.5, "a1": 0.5}},
        ],
        agent={"penalty_cap": 2.0},
        oversight={"objective": "min_loss"},
    )
    data = StrategicArrays.from_spec(spec)
    assert certify_commitment_infeasible(data, (1,)) is not None
    assert certify_commitment_infeasible(data, (0,)) is None  # compliance: x1 = 1 deters a1
    best = best_commitment(data, "min_loss")
    assert best.status == "optimal" and best.loss == pytest.approx(1.0, rel=1e-9)
