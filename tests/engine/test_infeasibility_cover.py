"""Certificates of infeasibility where they used to be missing (issue 20, item 3).

Each case was ``solver_error`` although clearly infeasible: false flags beyond a rate of 1
(the term was dropped), fixed costs with a budget (dropped from the budget row), an
induced action whose detection can saturate under ``min_loss`` (held by a secant). Each has
a small regression spec and a property test over generated specs, decided by an
independent argument (a Lipschitz-bounded grid; the closed-form least rate).
"""

from __future__ import annotations

import itertools
import random

import deter
import numpy as np
import pytest
from deter.solver.engine.infeasibility import certify_commitment_infeasible, certify_infeasible
from deter.solver.model.arrays import ProblemArrays
from deter.solver.model.types import StrategicArrays

from tests.support.vocabulary import generate


def solve(text: str) -> str:
    return str(deter.solve(deter.loads(text)).status)


def flagged(gain: float, fp: tuple[float, ...], q: tuple[float, ...], caps: float = 10.0) -> str:
    monitors = "".join(
        f'[[monitors]]\nname = "m{j}"\ncost = 1.0\ndetects = {{ cheat = {qj!r} }}\n'
        f"false_positive = {fj!r}\n"
        for j, (qj, fj) in enumerate(zip(q, fp, strict=True))
    )
    return (
        f"version = 1\n[agent]\npenalty_cap = {caps!r}\nfalse_positive_penalty = 20.0\n"
        f'[[actions]]\nname = "ok"\ngain = 0.0\n[[actions]]\nname = "cheat"\ngain = {gain!r}\n'
        + monitors
    )


def test_false_flags_beyond_a_rate_of_one_are_proven() -> None:
    # a duplicated monitor: f x reaches 1.2 > 1, P_0 = min(1, f x) >= f x / 1.2 keeps the term
    # (it was dropped: solver_error with the twin, infeasible without it);
    # each unit of rate costs the honest agent 20 x 0.6 and deters by 10 x 0.5 only
    text = flagged(9.0, (0.6, 0.6), (0.5, 0.5))
    assert certify_infeasible(ProblemArrays.from_spec(deter.loads(text).spec)) is not None
    assert solve(text) == "infeasible"


def _row_max_on_grid(q: np.ndarray, f: np.ndarray, gain: float, points: int) -> float:
    """max over a grid of [0, 1]^m of 10 min(1, q x) - 20 min(1, f x) - gain, and a bound on
    how far the true maximum can be above it (the row's Lipschitz constant x half a step)."""
    axes = [np.linspace(0.0, 1.0, points)] * len(q)
    best = -np.inf
    for x in itertools.product(*axes):
        xv = np.array(x)
        best = max(best, 10 * min(1.0, q @ xv) - 20 * min(1.0, f @ xv) - gain)
    lipschitz = float(np.sum(10 * q + 20 * f))
    return best, lipschitz * 0.5 / (points - 1)


@pytest.mark.parametrize("seed", range(2))
def test_false_flags_beyond_one_property(seed: int) -> None:
    """Generated specs with f x_max > 1: infeasible whenever the grid proves it (by more than
    the Lipschitz room), never infeasible where the grid meets the row."""
    rng = random.Random(seed)
    decided = 0
    for _ in range(12):
        m = 2  # one monitor cannot flag beyond a rate of 1 (f <= 1)
        q = np.array([round(rng.uniform(0.05, 0.9), 3) for _ in range(m)])
        f = np.array([round(rng.uniform(1.05 / m, 0.95), 3) for _ in range(m)])
        gain = round(rng.uniform(0.5, 9.5), 3)
        best, room = _row_max_on_grid(q, f, gain, 81)
        status = solve(flagged(gain, tuple(map(float, f)), tuple(map(float, q))))
        if best >= 0:
            assert status == "optimal", (q, f, gain)
        elif best + room < 0:
            decided += 1
            assert status == "infeasible", (q, f, gain)
    assert decided > 0


FIXED = """
version = 1
[agent]
penalty_cap = {cap!r}
[oversight]
budget = {budget!r}
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = {gain!r}
[[monitors]]
name = "m"
cost = {cost!r}
fixed_cost = {fixed!r}
detects = {{ cheat = {q!r} }}
"""


def test_fixed_costs_over_the_budget_are_proven() -> None:
    # rate 1.0 (gain 10 = cap 10 x q 1 x rate) costs 1.0, plus the fixed 0.5: 1.5 > 1.1
    text = FIXED.format(cap=10.0, budget=1.1, gain=10.0, cost=1.0, fixed=0.5, q=1.0)
    data = StrategicArrays.from_spec(deter.loads(text).spec)
    assert certify_commitment_infeasible(data, [data.base.compliant]) is not None
    assert solve(text) == "infeasible"


@pytest.mark.parametrize("seed", range(1))
def test_fixed_costs_property(seed: int) -> None:
    """One action, one monitor with a fixed cost: the least cost is c g / (F q) + fixed
    (closed form); a budget 1% below it is infeasible, 1% above it optimal."""
    rng = random.Random(100 + seed)
    for _ in range(5):
        cap, q = round(rng.uniform(2, 20), 3), round(rng.uniform(0.1, 1.0), 3)
        gain = round(rng.uniform(0.05, 0.95) * cap * q, 3)
        cost, fixed = round(rng.uniform(0.1, 3), 3), round(rng.uniform(0.01, 2), 3)
        least = cost * gain / (cap * q) + fixed
        for factor, expected in ((0.99, "infeasible"), (1.01, "optimal")):
            text = FIXED.format(
                cap=cap, budget=least * factor, gain=gain, cost=cost, fixed=fixed, q=q
            )
            assert solve(text) == expected, text


#: vocabulary min_loss-33 (bench/reliability.py --numeric): inducing a0 is impossible, but
#: only with P_a0 = min(1, Q x) held exactly (m0 and m2 at their ceilings reach 1.10); the
#: secant p >= Q x / R let a0 look inducible, HiGHS said infeasible, no certificate held,
#: and the spec ended solver_error (the reference's least expected loss: 1.56152003578138).
SATURATING = """[agent]
penalty_cap = 28.2673
compliant = "comply"

[oversight]
objective = "min_loss"

[[actions]]
name = "a0"
gain = 0.179846
penalty_cap = 39.9183
audit_cost = 5.198
audit_detection = 0.757767
harm = 4.50457

[[actions]]
name = "a1"
gain = 4.5212
penalty_cap = 10.1192
harm = 5.46255

[[actions]]
name = "a2"
gain = 4.41353
penalty_cap = 7.63086

[[actions]]
name = "comply"
gain = 1.20209

[[monitors]]
name = "m0"
cost = 3.67697
detects = { a0 = 0.650185, a1 = 0.664372, a2 = 0.867943 }
min_rate = 0.0169151
false_positive = 0.0214463

[[monitors]]
name = "m1"
cost = 1.65583
detects = { a0 = 0.26016, a2 = 0.946258 }

[[monitors]]
name = "m2"
cost = 0.0607548
detects = { a0 = 0.453075, a1 = 0.056836, a2 = 0.681376 }
"""


def test_an_induced_action_whose_detection_saturates_is_proven_impossible() -> None:
    result = deter.solve(deter.loads(SATURATING))
    assert result.status == "optimal", result.message
    assert result.total_cost == pytest.approx(1.56152003578138, rel=1e-6)


@pytest.mark.parametrize("seed", [3, 8, 13, 18, 23, 33, 38])
def test_min_loss_specs_are_decided(seed: int) -> None:
    """Generated min_loss specs (a fifth made infeasible, the others feasible by a witness)
    end as their construction says, never solver_error."""
    case = generate("min_loss", seed, {4: True, 3: False}.get(seed % 5))
    status = str(deter.solve(deter.loads(case.text)).status)
    assert status != "solver_error", case.text
    if case.expected is not None:
        assert status == case.expected, case.text
