"""The runtime auditor: realised rates and detections match the policy; no solver imported.

Every tolerance follows from the sample size: a frequency is compared with its probability
within Z = 4.5 binomial standard errors (a correct auditor fails one comparison with
probability about 7e-6; the tests make a few dozen); a mean spend within Z standard errors
of the schedule's exact per-episode variance.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from deter.runtime import Auditor, DriftWarning, scaled, with_rates
from deter.solver.rl.reference import CODING_AGENT_POLICY as POLICY

Z = 4.5
N = 40_000


def within(successes: float, n: int, p: float) -> bool:
    se = math.sqrt(max(p * (1 - p), 1e-12) / n)
    return abs(successes / n - p) <= Z * se + 1e-12


@pytest.mark.parametrize("schedule", ["coordinated", "independent"])
def test_realised_audit_rates_and_spend_match_the_design(schedule: str) -> None:
    auditor = Auditor(POLICY, seed=1, schedule=schedule)
    for _ in range(N):
        auditor.judge(auditor.plan(), "honest")
    t = auditor.tallies
    for j, name in enumerate(auditor.monitor_names):
        assert within(t.audits[j], N, POLICY["rates"][name]), name
    mean, variance = auditor.arrays.spend_moments()
    assert mean == pytest.approx(POLICY["designed"]["cost_per_episode"], rel=1e-12)
    assert abs(t.spend / N - mean) <= Z * math.sqrt(variance / N)
    # Coordinated monitors never overlap (total rate < 1): at most one runs per episode.
    if schedule == "coordinated":
        assert t.audits.sum() <= N


@pytest.mark.parametrize("action", ["honest", "reward_hack", "test_tampering", "sandbag"])
def test_detection_matches_the_designed_probability(action: str) -> None:
    auditor = Auditor(POLICY, seed=2)
    caught = sum(auditor.audit(action).flagged for _ in range(N))
    designed = (
        POLICY["designed"]["false_flag_rate"]
        if action == "honest"
        else POLICY["designed"]["detection"][action]
    )
    assert auditor.designed_detection(action) == pytest.approx(designed, abs=1e-12)
    assert within(caught, N, designed)
    assert not auditor.drifts


def test_penalties_are_the_policys() -> None:
    auditor = Auditor(POLICY, seed=3)
    for _ in range(5000):
        j = auditor.audit("test_tampering")
        assert j.penalty == (20.0 if j.flagged else 0.0)
        assert j.detected == j.flagged and not j.false_flag
        h = auditor.audit("honest")
        assert h.penalty == (1.0 if h.flagged else 0.0)
        assert h.false_flag == h.flagged and not h.detected
        assert set(h.flagged_by) <= set(h.audits) <= set(auditor.monitor_names)


def test_verdicts_from_real_monitors() -> None:
    auditor = Auditor(POLICY, seed=4)
    plan = auditor.plan()
    while "human_review" not in plan.running:
        plan = auditor.plan()
    j = auditor.judge(plan, verdicts={"human_review": "sandbag"})
    assert j.penalty == 20.0 and j.detected and j.flagged_by == ("human_review",)
    j = auditor.judge(plan, "honest", verdicts={"human_review": True})
    assert j.false_flag and j.penalty == 1.0
    assert auditor.judge(plan, verdicts={"human_review": False}).penalty == 0.0
    idle = next(m for m in auditor.monitor_names if m not in plan.running)
    with pytest.raises(ValueError, match="did not run"):
        auditor.judge(plan, verdicts={idle: True})
    with pytest.raises(ValueError, match="unknown action"):
        auditor.judge(plan, "hnest")


def test_runs_are_reproducible_from_the_seed() -> None:
    def trace(seed: int) -> list[float]:
        a = Auditor(POLICY, seed=seed)
        return [a.audit("reward_hack").penalty for _ in range(2000)]

    assert trace(7) == trace(7) != trace(8)


def test_batch_path_matches_the_design() -> None:
    auditor = Auditor(POLICY, seed=5)
    actions = np.full(N, 2, dtype=np.int64)  # test_tampering
    _, flagged, _ = auditor.run_batch(actions)
    assert within(flagged.sum(), N, POLICY["designed"]["detection"]["test_tampering"])


def test_drift_warns_when_a_monitor_underperforms() -> None:
    # The judge really catches reward hacks 30% of the time, not the designed 60%.
    weaker = json.loads(json.dumps(POLICY))
    weaker["detection"]["llm_judge"]["reward_hack"] = 0.3
    designed = Auditor(POLICY, seed=6, check_every=500)
    real = Auditor(weaker, seed=6, warn=False)
    with pytest.warns(DriftWarning, match="detection of reward_hack"):
        for _ in range(40_000):
            plan = designed.plan()
            real_flag = real.judge(plan, "reward_hack").flagged
            monitor = next(iter(plan.running), None)
            verdicts = {monitor: real_flag} if monitor else {}
            designed.judge(plan, "reward_hack", verdicts=verdicts)
    assert designed.drifts[0].quantity == "detection of reward_hack"


def test_no_drift_warning_when_all_is_as_designed() -> None:
    auditor = Auditor(POLICY, seed=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DriftWarning)
        for i in range(20_000):
            auditor.audit(("honest", "sandbag")[i % 2])
    assert auditor.report()["drift"] == []


def test_derived_documents() -> None:
    half = scaled(POLICY, 0.5)
    assert half["rates"]["human_review"] == pytest.approx(POLICY["rates"]["human_review"] / 2)
    assert half["designed"]["cost_per_episode"] == pytest.approx(
        POLICY["designed"]["cost_per_episode"] / 2
    )
    assert half["designed"]["induced_action"] == "test_tampering"
    assert not half["designed"]["deterred"]
    up = scaled(POLICY, 1.2)
    assert up["designed"]["deterred"]
    none = with_rates(POLICY, dict.fromkeys(POLICY["rates"], 0.0), label="none")
    assert none["designed"]["cost_per_episode"] == 0.0


def test_the_runtime_imports_no_solver() -> None:
    code = (
        "import sys, deter.runtime\n"
        "from deter.solver.rl.reference import CODING_AGENT_POLICY as P\n"
        "a = deter.runtime.Auditor(P, seed=0); a.judge(a.plan(), 'honest')\n"
        "deter.runtime.scaled(P, 0.5)\n"
        "print(sorted(m for m in ('cvxpy', 'scipy', 'highspy', 'clarabel') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
