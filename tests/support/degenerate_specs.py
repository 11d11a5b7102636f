"""Degenerate specs (issue 20): no monitors, no deviations, nothing that pays, a compliant
action not listed first, ties. Every command and the library answer them with a status and
its diagnosis, never an internal error; ``EXPECTED`` is each one's answer by hand (status,
least total cost, None where the cost is not the point).
"""

from __future__ import annotations

SPECS: dict[str, str] = {
    "no_monitors_paying": """\
version = 1
[agent]
penalty_cap = 10.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = 7.5
""",
    "no_monitors_nothing_pays": """\
version = 1
[agent]
penalty_cap = 10.0
[[actions]]
name = "ok"
gain = 1.0
[[actions]]
name = "cheat"
gain = 0.5
""",
    "no_monitors_cara": """\
version = 1
[agent]
penalty_cap = 10.0
risk_aversion = 0.8
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = 2.0
[[actions]]
name = "other"
gain = -1.0
""",
    "no_monitors_budget_exp": """\
version = 1
[agent]
penalty_cap = 10.0
[oversight]
detection = "exponential"
budget = 1.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = 2.0
""",
    "no_monitors_audit": """\
version = 1
[agent]
penalty_cap = 10.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = 2.0
audit_cost = 1.0
""",
    "no_monitors_penalty": """\
version = 1
[agent]
penalty_cap = 10.0
[penalty]
design = "per_action"
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = -2.0
""",
    "no_monitors_minloss": """\
version = 1
[oversight]
objective = "min_loss"
[agent]
penalty_cap = 10.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = 2.0
harm = 3.0
""",
    "no_monitors_types": """\
version = 1
[agent]
penalty_cap = 10.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = 2.0
[[types]]
name = "t1"
weight = 0.5
[[types]]
name = "t2"
weight = 0.5
gains = { cheat = -1.0 }
""",
    "no_monitors_types_nopay": """\
version = 1
[agent]
penalty_cap = 10.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = -2.0
[[types]]
name = "t1"
weight = 0.5
[[types]]
name = "t2"
weight = 0.5
gains = { cheat = -1.0 }
""",
    "nothing_pays": """\
version = 1
[agent]
penalty_cap = 10.0
[[actions]]
name = "ok"
gain = 3.0
[[actions]]
name = "a"
gain = 1.0
[[actions]]
name = "b"
gain = 3.0
[[monitors]]
name = "m"
cost = 1.0
detects = { a = 0.5 }
""",
    "compliant_not_first": """\
version = 1
[agent]
penalty_cap = 10.0
compliant = "ok"
[[actions]]
name = "cheat"
gain = 2.0
[[actions]]
name = "ok"
gain = 0.0
[[monitors]]
name = "m"
cost = 1.0
detects = { cheat = 0.5 }
""",
    "ties": """\
version = 1
[agent]
penalty_cap = 4.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "a"
gain = 2.0
[[actions]]
name = "b"
gain = 2.0
[[monitors]]
name = "m1"
cost = 1.0
detects = { a = 0.5, b = 0.5 }
[[monitors]]
name = "m2"
cost = 1.0
detects = { a = 0.5, b = 0.5 }
""",
    "monitor_detects_nothing": """\
version = 1
[agent]
penalty_cap = 10.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = 2.0
[[monitors]]
name = "m"
cost = 1.0
""",
    "only_compliant_types": """\
version = 1
[[actions]]
name = "ok"
gain = 1.0
[[types]]
name = "t1"
weight = 0.5
[[types]]
name = "t2"
weight = 0.5
risk_aversion = 0.3
""",
    "only_compliant_minloss": """\
version = 1
[oversight]
objective = "min_loss"
[[actions]]
name = "ok"
gain = 1.0
[[monitors]]
name = "m"
cost = 1.0
fixed_cost = 0.5
""",
    "only_compliant_auditor": """\
version = 1
[[actions]]
name = "ok"
gain = 1.0
[[monitors]]
name = "m"
cost = 1.0
[auditor]
monitor = "m"
inspection_cost = 0.2
""",
    "only_compliant_fixed": """\
version = 1
[[actions]]
name = "ok"
gain = 1.0
[[monitors]]
name = "m"
cost = 1.0
fixed_cost = 0.5
min_rate = 0.1
""",
    "only_compliant": """\
version = 1
[[actions]]
name = "ok"
gain = 1.0
""",
    "only_compliant_floor": """\
version = 1
[oversight]
detection = "exponential"
[agent]
risk_aversion = -0.5
[[actions]]
name = "ok"
gain = 1.0
[[monitors]]
name = "m"
cost = 2.0
min_rate = 0.25
false_positive = 0.1
""",
}

#: (status, least total cost) by hand: e.g. compliant_not_first needs P = 2 / 10 = 0.2 of a
#: monitor detecting half the time, a rate of 0.4 at cost 1; ties need x1 + x2 = 1.
EXPECTED: dict[str, tuple[str, float | None]] = {
    "no_monitors_paying": ("infeasible", None),
    "no_monitors_nothing_pays": ("optimal", 0.0),
    "no_monitors_cara": ("infeasible", None),
    "no_monitors_budget_exp": ("infeasible", None),
    "no_monitors_audit": ("optimal", 0.2),
    "no_monitors_penalty": ("optimal", 0.0),
    "no_monitors_minloss": ("optimal", None),
    "no_monitors_types": ("infeasible", None),
    "no_monitors_types_nopay": ("optimal", 0.0),
    "nothing_pays": ("optimal", 0.0),
    "compliant_not_first": ("optimal", 0.4),
    "ties": ("optimal", 1.0),
    "monitor_detects_nothing": ("infeasible", None),
    "only_compliant_types": ("optimal", 0.0),
    "only_compliant_minloss": ("optimal", 0.0),
    "only_compliant_auditor": ("optimal", None),
    "only_compliant_fixed": ("optimal", 0.6),
    "only_compliant": ("optimal", 0.0),
    "only_compliant_floor": ("optimal", 0.5),
}
