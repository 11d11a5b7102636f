"""Diagnoses consistent with their proof, in every field (issue 20 item 5): over generated
infeasible specs, an action the certificate proves undeterrable on its own is listed as
not deterrable, an action no allowed monitoring detects that pays is never "deterrable",
and each action's reason says what its flag says."""

from __future__ import annotations

import re
import warnings

import deter
import numpy as np
import pytest
from deter.solver.formulation.components.deterrence import incentive_rows
from deter.solver.model.arrays import ProblemArrays

from tests.support.vocabulary import generate

FAMILIES = ("linear", "cara_averse", "cara_seeking", "no_monitors", "budget", "exponential", "roc")
SEEDS = range(300, 306)


def diagnosed(family: str, seed: int) -> tuple[deter.Problem, deter.Result] | None:
    problem = deter.loads(generate(family, seed, infeasible=True).text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = problem.solve()
    if result.status.value != "infeasible" or result.diagnosis is None:
        return None
    return problem, result


@pytest.mark.parametrize("family", FAMILIES)
def test_diagnosis_fields_agree_with_the_proof(family: str) -> None:
    seen = 0
    for seed in SEEDS:
        found = diagnosed(family, seed)
        if found is None:
            continue
        seen += 1
        problem, result = found
        assert result.diagnosis is not None
        arrays = ProblemArrays.from_spec(problem.spec)
        pays = dict(
            zip(
                (arrays.action_names[i] for i in arrays.deviations),
                np.asarray(incentive_rows(arrays).need) > 0,
                strict=True,
            )
        )
        by_name = {a.name: a for a in result.diagnosis.actions}
        proof = re.search(r"proof: no allowed policy deters (\w[\w-]*)\)", result.message)
        if proof:
            assert not by_name[proof.group(1)].deterrable, (family, seed, result.message)
        listed = re.search(r"cannot be deterred by any allowed monitoring: (.*)$", result.message)
        blocked = {a.name for a in result.diagnosis.actions if not a.deterrable}
        if listed:
            assert set(listed.group(1).split(", ")) == blocked
        for action in result.diagnosis.actions:
            label = (family, seed, action)
            if action.max_detection == 0.0 and pays[action.name]:
                assert not action.deterrable, label
            assert (action.reason == "deterrable") == action.deterrable, label
            if not action.deterrable and action.max_detection == 0.0:
                assert "no monitor" in action.reason, label
    assert seen, f"no infeasible {family} spec with a diagnosis among seeds {list(SEEDS)}"


def test_an_undetected_action_of_a_cara_agent_is_not_deterrable() -> None:
    """The issue's case: a risk-averse agent's need for an undetected action is 1e-17 in
    the program's units; it was called deterrable beside the proof that it is not."""
    text = """\
version = 1
[agent]
risk_aversion = 0.8722
[[actions]]
name = "comply"
gain = 0.5125
[[actions]]
name = "a0"
gain = 2.4537
penalty_cap = 45.5803
[[actions]]
name = "a5"
gain = 1.2321
penalty_cap = 44.1459
[[monitors]]
name = "m0"
cost = 0.9284
detects = { a0 = 0.089 }
"""
    result = deter.loads(text).solve()
    assert result.status.value == "infeasible" and result.diagnosis is not None
    a5 = next(a for a in result.diagnosis.actions if a.name == "a5")
    assert not a5.deterrable and a5.max_detection == 0.0 and "no monitor" in a5.reason
    assert "a5" in result.message


@pytest.mark.parametrize("seed", [100019, 100024, 100079])
def test_a_risk_seeking_agent_whose_cap_is_below_its_gain_is_not_deterrable(seed: int) -> None:
    """A risk-seeking agent (r about -47) whose cap is below its gain over complying needs
    a detection above 1 by about 1e-14 (relative): decided exactly at the best policy, as
    verification decides, not within a round-off allowance of 1e-9 (vocab's runs)."""
    found = diagnosed("risk_seeking_limit", seed)
    assert found is not None
    problem, result = found
    assert result.diagnosis is not None
    arrays = ProblemArrays.from_spec(problem.spec)
    for action in result.diagnosis.actions:
        i = arrays.action_names.index(action.name)
        below = arrays.gain[i] - arrays.penalty_cap[i] > arrays.gain[arrays.compliant]
        if below:  # caught for sure, it still gains over complying
            assert not action.deterrable, (seed, action)
            assert action.name in result.message
