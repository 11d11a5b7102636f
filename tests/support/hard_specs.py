"""Numerically hard specs with closed-form optima, shared by tests and bench/reliability.py.

Each case is one deviation and one monitor (rate x, detection q, cost c, cap F, gain g over
a compliant gain g_0, CARA coefficient r), whose least-cost rate has the closed form

    x* = max(0, need) / q,   need = (g - g_0) / F                  (r = 0)
                             need = expm1(r (g - g_0)) / expm1(r F)  (r != 0)

(the incentive row (1 - P) u(g) + P u(g - F) <= u(g_0) solved for P at equality, in
wealth relative to g_0). For |r w| beyond float range the ratio is computed as
exp(r (g - F)) (1 - exp(-r g)) / (1 - exp(-r F)). A need below 1e-300 underflows in
float64, where any positive rate deters and none does not: deter then reports a positive
rate of at most 1e-300 instead of zero, and the test accepts exactly that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class HardCase:
    label: str
    gain: float
    cap: float
    detection: float = 1.0
    cost: float = 1.0
    risk_aversion: float = 0.0
    compliant_gain: float = 0.0

    def toml(self) -> str:
        return f"""
[problem]
name = "{self.label}"
[agent]
risk_aversion = {self.risk_aversion!r}
[[actions]]
name = "comply"
gain = {self.compliant_gain!r}
[[actions]]
name = "deviate"
gain = {self.gain!r}
penalty_cap = {self.cap!r}
[[monitors]]
name = "monitor"
cost = {self.cost!r}
detects = {{ deviate = {self.detection!r} }}
"""

    def rate(self) -> float:
        """The closed-form least-cost rate (see the module docstring)."""
        g, f, r = self.gain - self.compliant_gain, self.cap, self.risk_aversion
        if g <= 0:
            return 0.0
        if r == 0:
            need = g / f
        elif abs(r * f) > 30 or abs(r * g) > 30:
            need = math.exp(r * (g - f)) * (-math.expm1(-r * g)) / (-math.expm1(-r * f))
        else:
            need = math.expm1(r * g) / math.expm1(r * f)
        return need / self.detection


HARD_CASES: tuple[HardCase, ...] = (
    HardCase("tiny_money", 1e-6, 1e-5),
    HardCase("tinier_money", 1e-9, 1e-8),
    HardCase("huge_money", 1e9, 1e10, cost=1e9),
    HardCase("tiny_gain_rare_detection", 1e-10, 1.0, detection=1e-9),
    HardCase("huge_penalty_cap", 1.0, 1e12),
    HardCase("penalty_cap_1e15", 3.0, 1e15),
    HardCase("cheap_monitor_big_gain", 1e3, 1e4, cost=1e-6),
    HardCase("exactly_as_profitable_as_caught", 1.0, 1.0),
    HardCase("deviation_ties_compliance", 5.0, 10.0, compliant_gain=5.0),
    HardCase("detection_1e-9", 1e-10, 1e3, detection=1e-9),
    HardCase("gains_around_1e9", 1e9 + 2.0, 10.0, compliant_gain=1e9),
    HardCase("cost_1e-6_gain_1e9", 1e9, 2e9, cost=1e-6),
    HardCase("cara_tidy", 1.0, 2.0, risk_aversion=1.0),
    HardCase("cara_r_gain_1e3", 1e3, 1.5e3, risk_aversion=1.0),
    HardCase("cara_r_gain_1e3_underflow", 1e3, 2e3, risk_aversion=1.0),
    HardCase("cara_r_penalty_1e3", 10.0, 1e3, risk_aversion=1.0),
    HardCase("cara_r_1e3", 1.0, 2.0, risk_aversion=1e3),
    HardCase("cara_seeking", 1e3, 2e3, risk_aversion=-1e-3),
    HardCase("cara_seeking_large", 50.0, 100.0, risk_aversion=-0.5),
    HardCase("cara_tiny_r", 2.0, 10.0, risk_aversion=1e-12),
)

#: Relative accuracy every case must reach (that of a tidy spec).
RELATIVE_ACCURACY = 1e-6
#: Below float64's range a need is represented by a rate in (0, UNDERFLOW].
UNDERFLOW = 1e-300


def rate_is_right(case: HardCase, rate: float) -> bool:
    want = case.rate()
    if want < UNDERFLOW:
        # A positive rate at the smallest unit deter measures in (rounded outward by 1e-12,
        # engine/core.py:outward), or 0 where the action does not pay.
        ceiling = UNDERFLOW * (1 + 1e-9)
        return (0.0 < rate <= ceiling) if case.gain > case.compliant_gain else rate == 0.0
    return abs(rate - want) <= RELATIVE_ACCURACY * abs(want)
