"""``deter.runtime``: run a designed policy in a serving process or a training loop.

    from deter.runtime import Auditor
    auditor = Auditor.from_file("policy.json", seed=0)   # deter export spec.toml -o policy.json
    plan = auditor.plan()                   # which monitors run this episode
    verdict = auditor.judge(plan, "honest") # the penalty to apply, what was caught
    reward -= verdict.penalty

Pure Python and numpy: importing this module never imports cvxpy or scipy.
See docs/runtime.md.
"""

from __future__ import annotations

from .solver.policy.document import (
    POLICY_VERSION,
    PolicyError,
    load_policy_file,
    load_policy_text,
    scaled,
    validate_policy,
    with_rates,
)
from .solver.policy.runtime import (
    Auditor,
    BatchJudgement,
    Drift,
    DriftWarning,
    Judgement,
    Plan,
    Tallies,
)

__all__ = [
    "POLICY_VERSION",
    "Auditor",
    "BatchJudgement",
    "Drift",
    "DriftWarning",
    "Judgement",
    "Plan",
    "PolicyError",
    "Tallies",
    "load_policy_file",
    "load_policy_text",
    "scaled",
    "validate_policy",
    "with_rates",
]
