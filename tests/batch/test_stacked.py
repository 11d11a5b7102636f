"""Stacked solves (issue #13): many specs as the blocks of one program give the answers of
solving each alone: the same status, costs to 1e-9 relative, the same verification verdict
and a certificate of the block's own; infeasible and unverifiable members are isolated and
handed back to be solved alone."""

from __future__ import annotations

import random

import numpy as np
import pytest
from deter.solver.engine import core as engine_core
from deter.solver.engine import stacked as engine_stacked
from deter.solver.engine.solve import solve
from deter.solver.engine.stacked import StackStats, solve_stacked
from deter.solver.engine.verify_stack import Ragged
from deter.solver.formulation.stacked import build_stack
from deter.solver.model.arrays import ProblemArrays
from deter.solver.results.errors import SpecError
from deter.solver.spec.loading import parse_spec_text

from tests.support.batch_helpers import random_small_spec
from tests.support.magnitudes import cases


@pytest.fixture(autouse=True)
def plain_stack_first(monkeypatch) -> None:
    """Each test starts as a fresh worker does: with the plain stack (the solve counts
    below depend on it; the answers do not, ``test_answers_do_not_depend_on_the_first_solve``)."""
    monkeypatch.setattr(engine_stacked, "_expect_infeasible", [False])


def small_spec(rng: random.Random, *, infeasible: bool = False) -> str:
    """A random small spec (the batch benchmarks' generator, at most 6 actions, 4 monitors)."""
    return random_small_spec(rng, infeasible=infeasible, most_actions=6, most_monitors=4)


def parse(texts: list[str], prefix: str = "s"):
    """The specs that validate (generated families may reach beyond the spec's limits)."""
    specs = []
    for k, text in enumerate(texts):
        try:
            specs.append(parse_spec_text(text, file=f"{prefix}{k}.toml", name=f"{prefix}{k}"))
        except SpecError:
            continue
    return specs


def assert_same_answer(alone, stacked) -> None:
    assert stacked.status == alone.status
    if alone.status == "infeasible":
        # proven from the stack's phase one: the same diagnosis of every action
        assert stacked.diagnosis is not None and alone.diagnosis is not None
        assert [(a.name, a.deterrable) for a in stacked.diagnosis.actions] == [
            (a.name, a.deterrable) for a in alone.diagnosis.actions
        ]
        assert stacked.verification is None
        return
    assert stacked.total_cost == pytest.approx(alone.total_cost, rel=1e-9, abs=0)
    assert stacked.verification.passed == alone.verification.passed
    assert stacked.verification.duality.applies and stacked.verification.duality.passed
    assert stacked.verification.duality.kind == alone.verification.duality.kind
    assert [m.name for m in stacked.monitors] == [m.name for m in alone.monitors]
    if stacked.attempts[0].startswith("HIGHS (rescaled, tight)"):
        # its block failed its checks in the plain stack and passed in a rescaled one (the
        # attempt a spec solved alone passes at, after the plain ones; or refinement after it)
        assert stacked.attempts[0] in alone.attempts or alone.attempts[-1].startswith(
            "HIGHS (refined)"
        ), alone.attempts
    else:
        assert stacked.attempts == alone.attempts
    # the same document: the same keys everywhere (values may differ by round-off)
    ours, theirs = stacked.to_dict(timing=False), alone.to_dict(timing=False)
    ours.pop("attempts"), theirs.pop("attempts")  # compared above
    assert _keys(ours) == _keys(theirs)


def _keys(doc):
    if isinstance(doc, dict):
        return {k: _keys(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_keys(v) for v in doc]
    return None


def test_stacked_answers_equal_solving_alone_on_random_specs() -> None:
    rng = random.Random(7)
    specs = parse([small_spec(rng) for _ in range(80)])
    stats: list[StackStats] = []
    results = solve_stacked(specs, stats=stats)
    assert stats[0].solves == 1 and stats[0].stacked == 80
    for spec, result in zip(specs, results, strict=True):
        assert result is not None
        assert_same_answer(solve(spec), result)


@pytest.mark.parametrize("family", ["risk_neutral", "cara_averse", "tight_budget", "non_paying"])
def test_stacked_answers_equal_alone_on_hard_magnitudes(family: str) -> None:
    specs = parse([c.text for c in cases(family, 40)], family)
    stats: list[StackStats] = []
    results = solve_stacked(specs, stats=stats)
    answered = 0
    for spec, result in zip(specs, results, strict=True):
        alone = solve(spec)
        answered += alone.status != "solver_error"
        if result is None:
            continue  # isolated: the batch solves it alone, which is `alone` itself
        assert_same_answer(alone, result)
    # Isolating is allowed, not a way out: the stack answers most of the specs that have an
    # answer alone (measured: 31 to 40 of 40 per family), and counts those it hands back.
    stacked = sum(r is not None for r in results)
    assert stats[0].stacked == stacked and stats[0].alone == len(specs) - stacked
    assert stacked >= 0.6 * answered > 0


@pytest.mark.parametrize("share", [0.01, 0.1, 0.5])
def test_infeasible_members_are_certified_from_the_stack(share: float) -> None:
    """One solve with priced slacks finds the infeasible blocks (each takes slack); each
    block's duals, checked exactly as a spec solved alone is (``infeasibility.check``),
    prove it: no member leaves the stack. The feasible ones are answered from their plain
    stack."""
    rng = random.Random(11)
    n = 100
    bad = set(rng.sample(range(n), max(1, int(share * n))))
    specs = parse([small_spec(rng, infeasible=k in bad) for k in range(n)])
    stats: list[StackStats] = []
    results = solve_stacked(specs, stats=stats)
    for k, (spec, result) in enumerate(zip(specs, results, strict=True)):
        assert result is not None
        if k in bad:
            assert result.status == "infeasible"
            assert "proven by its block's duals" in result.attempts[0]
            assert_same_answer(solve(spec), result)
        else:
            assert result.status == "optimal"
    assert stats[0].solves == 3  # the plain stack, priced slacks, the feasible ones again
    assert stats[0].reasons == {"infeasible, certified from the stack": len(bad)}


def test_a_block_certificate_is_checked_not_trusted(monkeypatch) -> None:
    """Multipliers that prove nothing (zero) leave the member unanswered
    by the stack: it is solved alone, never called infeasible on the stack's word."""
    rng = random.Random(11)
    specs = parse([small_spec(rng, infeasible=k == 3) for k in range(8)])
    real = engine_stacked.check
    monkeypatch.setattr(engine_stacked, "check", lambda system, y: real(system, np.zeros_like(y)))
    stats: list[StackStats] = []
    results = solve_stacked(specs, stats=stats)
    assert results[3] is None
    assert stats[0].reasons == {"infeasible, not certified from the stack": 1}
    # the plain stack, the priced slacks' multipliers, phase one's, the feasible ones again
    assert stats[0].solves == 4


def test_unverifiable_member_is_isolated(monkeypatch) -> None:
    rng = random.Random(3)
    specs = parse([small_spec(rng) for _ in range(10)])
    real = engine_core.verify_evaluated
    victim = ProblemArrays.from_spec(specs[4])

    def verify(arrays, *args, **kwargs):
        verdict, evaluation = real(arrays, *args, **kwargs)
        if arrays.gain.tolist() == victim.gain.tolist():
            return type(verdict)(**{**verdict.__dict__, "passed": False}), evaluation
        return verdict, evaluation

    real_together = Ragged.verify

    def verify_together(ragged, rates, tolerance):
        found = real_together(ragged, rates, tolerance)
        return [
            (type(v)(**{**v.__dict__, "passed": False}), e, c)
            if arrays.gain.tolist() == victim.gain.tolist()
            else (v, e, c)
            for arrays, (v, e, c) in zip(ragged.members, found, strict=True)
        ]

    # the one accept-or-reject step (core.accept_policies) serves blocks too: its first
    # candidates verified together, the others one by one
    monkeypatch.setattr(engine_core, "verify_evaluated", verify)
    monkeypatch.setattr(Ragged, "verify", verify_together)
    results = solve_stacked(specs)
    assert results[4] is None
    assert all(r is not None and r.status == "optimal" for k, r in enumerate(results) if k != 4)


def test_members_that_are_not_plain_lps_are_left_alone() -> None:
    rng = random.Random(5)
    texts = [small_spec(rng) for _ in range(4)]
    texts[1] = texts[1].replace("[oversight]\n", "").replace("budget =", "# budget =")
    texts[1] = texts[1].replace("[agent]", '[oversight]\ndetection = "exponential"\n\n[agent]', 1)
    specs = parse(texts)
    results = solve_stacked(specs)
    assert results[1] is None and all(results[k] is not None for k in (0, 2, 3))


def test_block_certificate_matches_the_specs_own_duals() -> None:
    """Each block's certificate is computed from its own slices and passes; the stacked
    duals restricted to a block satisfy that block's stationarity."""
    rng = random.Random(9)
    specs = parse([small_spec(rng) for _ in range(12)])
    program = build_stack([ProblemArrays.from_spec(s) for s in specs])
    assert program.solve("HIGHS").status == "optimal"
    lam, nu = program.duals()
    residual = program.c + program.g.T @ lam + program.e_matrix.T @ nu
    assert np.max(np.abs(residual)) < 1e-9
    bounds = engine_stacked.block_bounds(program, [ProblemArrays.from_spec(s) for s in specs])
    assert not isinstance(bounds, str)
    certificates = [bounds.verdict(k) for k in range(len(specs))]
    assert all(c.passed and c.relative_gap < 1e-9 for c in certificates)
    # Each block's bound is the spec's own least cost (program units: cost / largest cost).
    for k, spec in enumerate(specs):
        alone = solve(spec)
        arrays = ProblemArrays.from_spec(spec)
        own = alone.total_cost / float(np.max(arrays.cost))
        assert float(bounds.bound[k]) == pytest.approx(own, rel=1e-9, abs=1e-15)


def _odd_members_infeasible_as_alone(specs, results):  # type: ignore[no-untyped-def]
    """Even members optimal; each odd one infeasible as solved alone, with alone's least
    cost and message: yields the stacked results of the odd ones."""
    for k, (spec, result) in enumerate(zip(specs, results, strict=True)):
        assert result is not None
        if k % 2 == 0:
            assert result.status == "optimal"
            continue
        alone = solve(spec)
        assert result.status == alone.status == "infeasible"
        assert result.diagnosis.least_cost == pytest.approx(alone.diagnosis.least_cost, rel=1e-9)
        assert result.message == alone.message
        yield result


def test_over_budget_members_are_diagnosed_from_the_stack() -> None:
    """A budget below the least cost: proven from phase one (the budget row's multiplier),
    and the least cost without the budget that the diagnosis names comes from one more
    stacked solve, equal to the one a spec solved alone names."""
    texts = []
    for k in range(6):
        budget = 0.05 if k % 2 else 50.0  # odd: far below the least cost
        texts.append(
            f"version = 1\n[agent]\npenalty_cap = 10.0\n[oversight]\nbudget = {budget}\n"
            f'[[actions]]\nname = "ok"\ngain = 0.0\n[[actions]]\nname = "cheat"\n'
            f'gain = {1.0 + k / 10}\n[[monitors]]\nname = "m"\ncost = 2.0\n'
            f"detects = {{ cheat = 0.8 }}\n"
        )
    specs = parse(texts)
    stats: list[StackStats] = []
    results = solve_stacked(specs, stats=stats)
    for result in _odd_members_infeasible_as_alone(specs, results):
        assert result.diagnosis.least_cost > result.diagnosis.budget
    # the plain stack, priced slacks, the feasible ones, the least costs without budgets
    assert stats[0].solves == 4
    assert stats[0].reasons == {"infeasible, certified from the stack": 3}


def test_a_price_below_a_blocks_duals_costs_solves_not_answers(monkeypatch) -> None:
    """A feasible block whose duals exceed the slacks' price takes slack in the first
    solve: phase one finds it feasible and it is stacked again, without slacks, and
    answered as alone; the infeasible members are still proven."""
    rng = random.Random(11)
    bad = {2, 5}
    specs = parse([small_spec(rng, infeasible=k in bad) for k in range(12)])
    monkeypatch.setattr(engine_stacked, "PENALTY", 1e-6)  # below every block's duals
    stats: list[StackStats] = []
    results = solve_stacked(specs, stats=stats)
    for k, (spec, result) in enumerate(zip(specs, results, strict=True)):
        assert result is not None
        assert_same_answer(solve(spec), result)
        assert result.status == ("infeasible" if k in bad else "optimal")
    # plain, priced slacks, the least costs without budgets (the Lagrangian proofs: none at
    # this price), phase one, the feasible ones again
    assert stats[0].solves == 5
    assert stats[0].reasons == {"infeasible, certified from the stack": 2}


def test_answers_do_not_depend_on_the_first_solve() -> None:
    """After a stack with an infeasible member a worker starts the next with priced slacks
    (one solve fewer); the answers, rates to the last bit, are those of the plain stack
    first: feasible members are always judged from their plain stack."""
    rng = random.Random(7)
    bad = {1, 6, 9}
    specs = parse([small_spec(rng, infeasible=k in bad) for k in range(16)])
    first: list[StackStats] = []
    plain = solve_stacked(specs, stats=first)
    assert engine_stacked._expect_infeasible == [True]
    then: list[StackStats] = []
    priced = solve_stacked(specs, stats=then)
    assert (first[0].solves, then[0].solves) == (3, 2)
    for a, b in zip(plain, priced, strict=True):
        assert a is not None and b is not None and a.status == b.status
        assert [m.rate for m in a.monitors] == [m.rate for m in b.monitors]
        assert a.total_cost == b.total_cost


def knife_edge_budget_specs(shortfall: float) -> list:
    """Specs whose budget is ``shortfall`` (relative) below the least cost (odd ones) and
    ordinary feasible ones (even): one monitor of cost 2 detecting cheat with 0.8 under a
    cap of 10, so the least cost is gain / 4."""
    texts = []
    for k in range(6):
        gain = 1.0 + k / 10
        budget = gain / 4 * (1 - shortfall) if k % 2 else 50.0
        texts.append(
            f"version = 1\n[agent]\npenalty_cap = 10.0\n[oversight]\nbudget = {budget!r}\n"
            f'[[actions]]\nname = "ok"\ngain = 0.0\n[[actions]]\nname = "cheat"\n'
            f'gain = {gain!r}\n[[monitors]]\nname = "m"\ncost = 2.0\n'
            f"detects = {{ cheat = 0.8 }}\n"
        )
    return parse(texts)


def test_knife_edge_budgets_are_proven_by_their_least_costs() -> None:
    """A budget 1e-5 below the least cost takes too little priced slack for its multipliers
    to prove anything; the stack of least costs without budgets (which the diagnosis needs
    anyway) proves it: its block's multipliers with weight one on the budget (the
    Lagrangian bound), checked exactly. No phase one; the answers are alone's."""
    specs = knife_edge_budget_specs(1e-5)
    stats: list[StackStats] = []
    results = solve_stacked(specs, stats=stats)
    for result in _odd_members_infeasible_as_alone(specs, results):
        assert result.attempts == (
            "HIGHS: its least cost without the budget, over it: infeasible, proven by its "
            "block's duals (a Lagrangian bound)",
        )
    # plain, priced slacks, the least costs without budgets, the feasible ones again
    assert stats[0].solves == 4
    assert stats[0].reasons == {"infeasible, certified from the stack": 3}


def test_a_lagrangian_proof_is_checked_not_trusted(monkeypatch) -> None:
    """Where the least cost's multipliers prove nothing (here: weight zero on the budget,
    which leaves no certificate), phase one still runs and proves the members."""
    specs = knife_edge_budget_specs(1e-5)
    real = engine_stacked.block_certificate

    def no_budget_weight(arrays, block, lam, *, budget_weight=None, **kwargs):
        if budget_weight is not None:
            budget_weight = 0.0
        return real(arrays, block, lam, budget_weight=budget_weight, **kwargs)

    monkeypatch.setattr(engine_stacked, "block_certificate", no_budget_weight)
    stats: list[StackStats] = []
    results = solve_stacked(specs, stats=stats)
    for k, result in enumerate(results):
        assert result is not None
        assert result.status == ("infeasible" if k % 2 else "optimal")
        if k % 2:
            assert "phase one of a stack" in result.attempts[0]
    # plain, priced slacks, the least costs, phase one, the feasible ones again
    assert stats[0].solves == 5


def test_a_lifted_block_no_policy_can_verify_is_not_solved_alone(monkeypatch) -> None:
    """cara_averse-4000056: over its budget (the floors alone cost more), and without the
    budget one action is undeterrable by a margin of 5e-11, which the least-cost stack's
    tolerances took for feasible: its lifted block fails its checks. A single row of its
    system without the budget proves that no policy deters that action, checked exactly;
    verification holds incentive rows exactly, so solved alone its least cost has no
    verified answer either (alone tries HiGHS, Clarabel and the rescaled attempt, about
    60 ms). The stack answers as alone does, without that solve."""
    twin = "cost = 4.35608\ndetects = { a0 = 0.412972, a1 = 0.500631 }\nfalse_positive = 0.278503\n"
    text = (
        'version = 1\n[agent]\nrisk_aversion = 0.797671\ncompliant = "comply"\n'
        "[oversight]\nbudget = 0.6531\n"
        '[[actions]]\nname = "a0"\ngain = 4.67436\npenalty_cap = 16.141\n'
        '[[actions]]\nname = "comply"\ngain = -0.667435\n'
        '[[actions]]\nname = "a1"\ngain = 3.32027\npenalty_cap = 37.6246\n'
        '[[actions]]\nname = "a2"\ngain = 1.17691\npenalty_cap = 31.2832\n'
        f'[[monitors]]\nname = "m0"\n{twin}min_rate = 0.242713\n'
        f'[[monitors]]\nname = "m0_twin"\n{twin}'
    )
    spec = parse_spec_text(text, file="c.toml", name="c")
    alone = solve(spec)

    def not_alone(arrays):
        raise AssertionError("a least cost solved alone")

    monkeypatch.setattr(engine_stacked, "least_cost_without_budget", not_alone)
    (result,) = solve_stacked([spec])
    assert result is not None and result.status == alone.status == "infeasible"
    assert result.diagnosis.least_cost == alone.diagnosis.least_cost  # the proof's bound
    assert result.message == alone.message
