"""The reference problem, embedded so the reference env works from an installed wheel.

``CODING_AGENT_SPEC`` is the TOML body of ``problems/coding_agent.toml`` (its explanatory
comments stay there); ``tests/policy/test_document.py`` checks the two agree, and that
``CODING_AGENT_POLICY`` is exactly what ``deter export problems/coding_agent.toml`` writes
(without its ``file``), so neither can drift from the bundled problem.
"""

from __future__ import annotations

from typing import Any

CODING_AGENT_SPEC = """\
version = 1

[problem]
name = "coding-agent"
description = "Deter reward hacking, test tampering and sandbagging by an AI coding agent"
currency = "USD"

[agent]
compliant = "honest"
penalty_cap = 20.0               # payment clawback / bond, for every deviation
false_positive_penalty = 1.0     # what an honest agent loses when llm_judge falsely flags it

[[actions]]
name = "honest"
gain = 0.0

[[actions]]
name = "reward_hack"
gain = 3.0

[[actions]]
name = "test_tampering"
gain = 4.0

[[actions]]
name = "sandbag"
gain = 1.0

[[monitors]]
name = "unit_test_audit"
cost = 0.10
detects = { reward_hack = 0.3, test_tampering = 0.9 }

[[monitors]]
name = "llm_judge"
cost = 0.10
detects = { reward_hack = 0.6, test_tampering = 0.3 }
false_positive = 0.03

[[monitors]]
name = "human_review"
cost = 25.0
max_rate = 0.1
detects = { reward_hack = 0.9, test_tampering = 0.9, sandbag = 0.8 }

# expected optimal oversight cost: ~1.589 USD per episode
# (optimal rates, rounded: unit_test_audit 0.129, llm_judge 0.092, human_review 0.063)
"""

#: ``deter export problems/coding_agent.toml``, generated once (see the module docstring).
CODING_AGENT_POLICY: dict[str, Any] = {
    "format": "deter-policy",
    "version": 1,
    "label": "optimal",
    "spec": {
        "name": "coding-agent",
        "file": "problems/coding_agent.toml",
        "sha256": "f51521798345a7483c98dee3213e9541bf625ff38a8fd2936828a0f6b5e60160",
        "currency": "USD",
    },
    "compliant": "honest",
    "schedule": "coordinated",
    "risk_aversion": 0.0,
    "actions": [
        {"name": "honest", "gain": 0.0},
        {"name": "reward_hack", "gain": 3.0},
        {"name": "test_tampering", "gain": 4.0},
        {"name": "sandbag", "gain": 1.0},
    ],
    "monitors": [
        {
            "name": "unit_test_audit",
            "cost": 0.1,
            "min_rate": 0.0,
            "max_rate": 1.0,
            "false_positive": 0.0,
        },
        {
            "name": "llm_judge",
            "cost": 0.1,
            "min_rate": 0.0,
            "max_rate": 1.0,
            "false_positive": 0.03,
        },
        {
            "name": "human_review",
            "cost": 25.0,
            "min_rate": 0.0,
            "max_rate": 0.1,
            "false_positive": 0.0,
        },
    ],
    "rates": {
        "unit_test_audit": 0.12915521119849235,
        "llm_judge": 0.09164375572865123,
        "human_review": 0.06267183204261625,
    },
    "detection": {
        "unit_test_audit": {"reward_hack": 0.3, "test_tampering": 0.9},
        "llm_judge": {"reward_hack": 0.6, "test_tampering": 0.3},
        "human_review": {"reward_hack": 0.9, "test_tampering": 0.9, "sandbag": 0.8},
    },
    "penalties": {"reward_hack": 20.0, "test_tampering": 20.0, "sandbag": 20.0},
    "false_positive_penalty": 1.0,
    "penalty_design": "fixed",
    "designed": {
        "source": "solver",
        "status": "optimal",
        "cost_per_episode": 1.5888756977581207,
        "total_cost": 1.5888756977581207,
        "detection": {
            "reward_hack": 0.15013746563509306,
            "test_tampering": 0.20013746563559312,
            "sandbag": 0.050137465634093006,
        },
        "false_flag_rate": 0.0027493126718595366,
        "induced_action": "honest",
        "deterred": True,
    },
    "notes": [],
}
