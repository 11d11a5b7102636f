"""The experiment's statistics and its learning-aware condition (issue 23 items 1 and 3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from deter.solver.rl.experiment import (
    build_conditions,
    learner_samples,
    run_tabular,
    wilson_interval,
)
from deter.solver.rl.tabular import train_tabular


def test_wilson_interval_matches_its_closed_form() -> None:
    for k, n in [(0, 10), (3, 10), (10, 10), (17, 2000)]:
        share, low, high = wilson_interval(k, n)
        z = 1.959963984540054
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        assert share == p
        assert low == pytest.approx(max(0.0, centre - half), abs=1e-12)
        assert high == pytest.approx(min(1.0, centre + half), abs=1e-12)
    # 0 of 10 is not "0 exactly": the interval says up to about 28%
    assert wilson_interval(0, 10)[2] > 0.25
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_learner_samples_is_exploration_per_action() -> None:
    assert learner_samples(40_000, 0.3, 4) == 3000
    assert learner_samples(10, 0.01, 4) == 1


def test_the_learning_aware_condition_is_built_when_feasible_and_dropped_when_not() -> None:
    few = build_conditions(learner={"samples": 100, "confidence": 0.95})
    assert not any(d["label"].startswith("learning-aware") for d in few)
    docs = build_conditions(learner={"samples": 3000, "confidence": 1 - 0.05 / 3})
    aware, bernstein = docs[-2], docs[-1]
    assert aware["label"].startswith("learning-aware (n 3000")
    assert bernstein["label"].startswith("learning-aware, bernstein (n 3000")
    assert len(docs) == len(few) + 2
    # the variance-aware margins are smaller: the policy is cheaper
    assert bernstein["designed"]["cost_per_episode"] < aware["designed"]["cost_per_episode"]
    # with 1,000 samples only the Bernstein margins leave a policy
    middle = build_conditions(learner={"samples": 1000, "confidence": 0.95})
    assert [d["label"] for d in middle[len(few) :]] == [
        "learning-aware, bernstein (n 1000, 1-delta 0.95)"
    ]
    optimal = next(d for d in docs if d["label"] == "optimal")
    assert aware["designed"]["cost_per_episode"] > optimal["designed"]["cost_per_episode"]
    # the document pays the spec's gains (not the design's raised ones)
    assert [a["gain"] for a in aware["actions"]] == [a["gain"] for a in optimal["actions"]]


SMALL = """
[agent]
penalty_cap = 10.0

[[actions]]
name = "honest"
gain = 0.0

[[actions]]
name = "hack"
gain = 1.0

[[actions]]
name = "tamper"
gain = 2.0

[[monitors]]
name = "llm_judge"
cost = 0.1
detects = { hack = 0.8, tamper = 0.3 }

[[monitors]]
name = "review"
cost = 1.0
detects = { hack = 1.0, tamper = 1.0 }
"""


def test_learners_with_the_designed_samples_end_on_a_shortcut_at_most_delta() -> None:
    # epsilon-greedy learners: epsilon x episodes / actions = 0.3 x 3000 / 3 = 300 samples
    n = learner_samples(3000, 0.3, 3)
    docs = build_conditions(SMALL, learner={"samples": n, "confidence": 1 - 0.05 / 2})
    aware, optimal = docs[-2], docs[1]
    assert aware["label"].startswith("learning-aware (n 300")
    run = train_tabular(aware, agents=1000, episodes=3000, seed=3, epsilon=0.3)
    # the design assumed n samples of each shortcut: that is their expected number (about
    # half the learners have fewer; the margin's slack covers them, docs/experiments.md)
    assert run.samples[:, 1:].mean() >= n
    share, _, _ = wilson_interval(int(np.count_nonzero(run.greedy != 0)), 1000)
    assert share <= 0.05
    # at deter's exact optimum the shortcuts tie with compliance: far more end on one
    tied = train_tabular(optimal, agents=1000, episodes=3000, seed=3, epsilon=0.3)
    assert tied.violation_after > 0.2
    results = run_tabular([aware], seeds=2, agents=50, episodes=200, epsilon=0.3)
    after = results[0].metrics["violation_after"]
    assert 0 <= after[1] <= after[0] <= after[2] <= 1
