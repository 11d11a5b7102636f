"""A short training run (seconds): tabular learners comply under deter's optimum, not at 0.5x.

The spec as written is solved with zero margin, so at its optimum every shortcut ties with
honest work and a learner has nothing to learn (docs/experiments.md). The run therefore uses
deter's optimum for a margin of 0.5 (``agent.margin``: compliance beats every shortcut by 0.5 in
expectation) and the same policy's rates halved.

Tolerance. An agent's greedy choice after training is wrong when some action's sample mean
overtakes the right one's. With n_i samples of action i, reward standard deviation sigma_i
(a penalty F caught with probability p: sigma = F sqrt(p (1 - p))) and expected gap Delta,
the normal approximation puts that at Phi(-Delta / sqrt(sigma_i^2 / n_i + sigma_0^2 / n_0)).
Summed over the competing actions and averaged over agents (each with its own counts) this
bounds the expected share of wrong agents, b; the test allows b + Z sqrt(b (1 - b) / K) + 1/K
for K agents, Z = 4.5.
"""

from __future__ import annotations

import math

import deter
import numpy as np
import pytest
from deter.runtime import Auditor, scaled
from deter.solver.policy.document import build_policy
from deter.solver.rl.reference import CODING_AGENT_SPEC
from deter.solver.rl.tabular import TabularRun, train_tabular
from deter.solver.spec.loading import parse_spec_text

AGENTS, EPISODES, Z = 200, 20_000, 4.5


@pytest.fixture(scope="module")
def margin_policy() -> dict:
    text = CODING_AGENT_SPEC.replace(
        "false_positive_penalty = 1.0", "false_positive_penalty = 1.0\nmargin = 0.5"
    )
    spec = parse_spec_text(text)
    assert spec.agent.margin == 0.5
    return build_policy(spec, deter.solve(spec))


def wrong_share_bound(policy: dict, run: TabularRun, right: int) -> float:
    """The normal-approximation bound b on the share of agents whose greedy choice is wrong."""
    arrays = Auditor(policy, warn=False).arrays
    p = arrays.exact_detection()
    gain = arrays.gain - arrays.gain[arrays.compliant]
    mean = gain - p * arrays.penalty
    sd = arrays.penalty * np.sqrt(p * (1 - p))
    n = np.maximum(run.samples, 1)
    bound = np.zeros(n.shape[0])
    for i in range(len(mean)):
        if i == right:
            continue
        spread = np.sqrt(sd[i] ** 2 / n[:, i] + sd[right] ** 2 / n[:, right])
        gap = mean[right] - mean[i]
        bound += 0.5 * np.array(
            [math.erfc(g / math.sqrt(2)) for g in gap / np.maximum(spread, 1e-12)]
        )
    return float(np.mean(np.minimum(bound, 1.0)))


def allowed(bound: float) -> float:
    return bound + Z * math.sqrt(bound * (1 - bound) / AGENTS) + 1 / AGENTS


def test_learners_comply_under_the_optimum_and_deviate_at_half(margin_policy: dict) -> None:
    compliant = [a["name"] for a in margin_policy["actions"]].index(margin_policy["compliant"])
    run = train_tabular(margin_policy, agents=AGENTS, episodes=EPISODES, seed=0)
    b = wrong_share_bound(margin_policy, run, compliant)
    assert b < 0.2, "the run is too short for the test to mean anything"
    assert run.violation_after <= allowed(b)

    half = scaled(margin_policy, 0.5)
    assert half["designed"]["induced_action"] == "test_tampering"
    run_half = train_tabular(half, agents=AGENTS, episodes=EPISODES, seed=0)
    best = [a["name"] for a in half["actions"]].index("test_tampering")
    b_half = wrong_share_bound(half, run_half, best)
    # Compliance is one of the wrong choices here: agents still honest are at most that many.
    assert 1 - run_half.violation_after <= allowed(b_half)
    assert run_half.violation_after > 0.5
    # During training epsilon-greedy explores: violation at least epsilon (n - 1) / n... and
    # the learners spent most of the run deviating at 0.5x, little under the optimum.
    assert run_half.violation_during > run.violation_during + 0.3
