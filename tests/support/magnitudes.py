"""Seeded random specs whose magnitudes spread widely (issue #12, "Numeric trust").

``generate(family, seed)`` returns a :class:`Case`: the spec's TOML text, its family and its
seed; the same (family, seed) gives the same text on every machine (numpy's PCG64 seeded with
the family's CRC-32 and the seed). Families (:data:`FAMILIES`):

* ``risk_neutral``: r = 0, 1-4 deviations, 1-4 monitors, audits, false positives with a
  penalty, margins, rate bounds and budgets, ordinary magnitudes;
* ``cara_averse`` / ``cara_seeking``: r > 0 (0.01..3) / r < 0 (-2..-0.01) with gains and caps
  such that |r| times them reaches tens to hundreds (needs like e^-200), false-flag penalties;
* ``extreme``: gains 1e-9..1e9 (either sign around g_0), caps 1e-3..1e8, audit costs
  1e-8..1e3, monitor costs 1e-8..1e3, detection 1e-6..1, false positives 1e-6..0.3; mostly
  risk neutral, sometimes a CARA agent with |r| up to 3 / (largest gain);
* ``tight_budget``: a spec of the families above with a budget just above the reference
  optimum (1e-8..1e-2 relative) or just below it (then no policy fits);
* ``non_paying``: paying actions co-detected by cheap monitors with actions that do not pay
  (gain below g_0, some strongly so), the shape of issue #12's case (1), sometimes CARA and
  a false-flag penalty (case (3));
* ``penalty_design``: ``[penalty] design`` per_action or shared with a penalty cost, risk
  neutral, no false-positive penalty, each monitor detecting one action only (so the reference
  has a closed form, tests/support/exact_reference.py);
* ``exponential``: ``[oversight] detection = "exponential"``, probabilities below 1, no
  false-positive penalty, sometimes CARA.

Every spec respects docs/spec-format.md's validation rules. For linear detection the
generator keeps sum_j f_j max_rate_j <= 1, so P_0 = sum_j f_j x_j is a probability at every
allowed policy (the model does not cap it; this keeps the reference free of that question).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.support.exact_reference import reference
from tests.support.reference import spec_text
from tests.support.vocabulary import cap_false_flags as _cap_false_positives
from tests.support.vocabulary import sig as _sig

FAMILIES = (
    "risk_neutral",
    "cara_averse",
    "cara_seeking",
    "extreme",
    "tight_budget",
    "non_paying",
    "penalty_design",
    "exponential",
)


@dataclass(frozen=True)
class Case:
    family: str
    seed: int
    text: str

    @property
    def label(self) -> str:
        return f"{self.family}-{self.seed}"


def _rng(family: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(family.encode()), seed])


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _prob(rng: np.random.Generator, low: float = 0.05, high: float = 1.0) -> float:
    return _sig(float(rng.uniform(low, high)))


def _ordinary(rng: np.random.Generator, *, scale: float = 1.0) -> dict[str, Any]:
    """A spec with ordinary magnitudes (gains, caps scaled by ``scale``)."""
    n_dev = int(rng.integers(1, 5))
    n_mon = int(rng.integers(1, 5))
    g0 = _sig(float(rng.uniform(-1.0, 2.0)) * scale)
    actions: list[dict[str, Any]] = [{"name": "comply", "gain": g0}]
    for i in range(n_dev):
        action: dict[str, Any] = {
            "name": f"a{i}",
            "gain": _sig(g0 + float(rng.uniform(-1.0, 5.0)) * scale),
            "penalty_cap": _sig(float(rng.uniform(1.0, 40.0)) * scale),
        }
        if rng.random() < 0.25:
            action["audit_cost"] = _sig(float(rng.uniform(0.2, 8.0)))
            action["audit_detection"] = _prob(rng, 0.3, 1.0)
        actions.append(action)
    monitors: list[dict[str, Any]] = []
    for j in range(n_mon):
        detects = {f"a{i}": _prob(rng) for i in range(n_dev) if rng.random() < 0.7}
        monitor: dict[str, Any] = {
            "name": f"m{j}",
            "cost": _sig(float(rng.uniform(0.05, 6.0))),
            "detects": detects,
        }
        if rng.random() < 0.25:
            monitor["max_rate"] = _prob(rng, 0.3, 1.0)
        if rng.random() < 0.2:
            monitor["min_rate"] = _sig(float(rng.uniform(0.0, 0.2)) * monitor.get("max_rate", 1))
        if rng.random() < 0.35:
            monitor["false_positive"] = _prob(rng, 0.001, 0.3)
        monitors.append(monitor)
    _cap_false_positives(monitors)
    agent: dict[str, Any] = {}
    if rng.random() < 0.4:
        agent["false_positive_penalty"] = _sig(float(rng.uniform(0.0, 8.0)) * scale)
    if rng.random() < 0.3:
        agent["margin"] = _sig(float(rng.uniform(0.0, 0.5)) * scale)
    data: dict[str, Any] = {"actions": actions, "monitors": monitors, "agent": agent}
    if rng.random() < 0.3:
        data["oversight"] = {"budget": _sig(float(rng.uniform(0.1, 5.0)))}
    return data


def _risk_neutral(rng: np.random.Generator) -> dict[str, Any]:
    return _ordinary(rng)


def _cara(rng: np.random.Generator, sign: int) -> dict[str, Any]:
    high = 3.0 if sign > 0 else 2.0
    r = _log_uniform(rng, 0.01, high)
    # Money scaled so that r times gaps and caps reach up to about 10..200.
    scale = _log_uniform(rng, 0.1, 40.0) / max(r, 1e-9) / 20.0
    data = _ordinary(rng, scale=scale)
    data["agent"]["risk_aversion"] = _sig(sign * r)
    if "margin" in data["agent"]:
        # margin is in utility units: at most about 1 / |r| (CARA utility is bounded by it)
        data["agent"]["margin"] = _sig(float(rng.uniform(0.0, 0.3)) / r)
    return data


def _extreme(rng: np.random.Generator) -> dict[str, Any]:
    n_dev = int(rng.integers(1, 5))
    n_mon = int(rng.integers(1, 4))
    g0 = _sig(float(rng.choice([0.0, 1.0, -1.0])) * _log_uniform(rng, 1e-9, 1e9))
    actions: list[dict[str, Any]] = [{"name": "comply", "gain": g0}]
    biggest = abs(g0)
    for i in range(n_dev):
        gap = _log_uniform(rng, 1e-9, 1e9) * (1.0 if rng.random() < 0.8 else -1.0)
        gain = _sig(g0 + gap, 9)
        if gain == g0:
            gain = math.nextafter(g0, math.inf)
        action: dict[str, Any] = {
            "name": f"a{i}",
            "gain": gain,
            "penalty_cap": _sig(_log_uniform(rng, 1e-3, 1e8)),
        }
        biggest = max(biggest, abs(gain), action["penalty_cap"])
        if rng.random() < 0.35:
            action["audit_cost"] = _sig(_log_uniform(rng, 1e-8, 1e3))
            action["audit_detection"] = _sig(_log_uniform(rng, 1e-6, 1.0))
        actions.append(action)
    monitors: list[dict[str, Any]] = []
    for j in range(n_mon):
        detects = {
            f"a{i}": _sig(_log_uniform(rng, 1e-6, 1.0)) for i in range(n_dev) if rng.random() < 0.7
        }
        monitor: dict[str, Any] = {
            "name": f"m{j}",
            "cost": _sig(_log_uniform(rng, 1e-8, 1e3)),
            "detects": detects,
        }
        if rng.random() < 0.2:
            monitor["max_rate"] = _sig(_log_uniform(rng, 1e-3, 1.0))
        if rng.random() < 0.3:
            monitor["false_positive"] = _sig(_log_uniform(rng, 1e-6, 0.3))
        monitors.append(monitor)
    _cap_false_positives(monitors)
    agent: dict[str, Any] = {}
    if rng.random() < 0.3:
        agent["false_positive_penalty"] = _sig(_log_uniform(rng, 1e-6, 1e6))
    if rng.random() < 0.25:
        r = _log_uniform(rng, 1e-3, 3.0) / max(biggest, 1.0)
        agent["risk_aversion"] = _sig(r if rng.random() < 0.6 else -r)
    if rng.random() < 0.2:
        agent["margin"] = _sig(_log_uniform(rng, 1e-9, 1.0))
    data: dict[str, Any] = {"actions": actions, "monitors": monitors, "agent": agent}
    if rng.random() < 0.2:
        data["oversight"] = {"budget": _sig(_log_uniform(rng, 1e-8, 1e3))}
    return data


def _non_paying(rng: np.random.Generator) -> dict[str, Any]:
    n_pay = int(rng.integers(1, 3))
    n_not = int(rng.integers(1, 3))
    g0 = _sig(float(rng.uniform(-1.0, 1.0)))
    actions: list[dict[str, Any]] = [{"name": "comply", "gain": g0}]
    for i in range(n_pay):
        action: dict[str, Any] = {
            "name": f"pay{i}",
            "gain": _sig(g0 + _log_uniform(rng, 1e-3, 10.0)),
            "penalty_cap": _sig(_log_uniform(rng, 1.0, 1e7)),
        }
        if rng.random() < 0.6:
            action["audit_cost"] = _sig(_log_uniform(rng, 1.0, 1e3))
            action["audit_detection"] = _prob(rng, 0.3, 1.0)
        actions.append(action)
    for i in range(n_not):
        loss = _log_uniform(rng, 1e-3, 1e3) if rng.random() < 0.7 else _log_uniform(rng, 1e3, 1e6)
        actions.append(
            {
                "name": f"nopay{i}",
                "gain": _sig(g0 - loss),
                "penalty_cap": _sig(_log_uniform(rng, 1e-2, 1e3)),
            }
        )
    names = [a["name"] for a in actions[1:]]
    monitors: list[dict[str, Any]] = []
    for j in range(int(rng.integers(1, 4))):
        detects = {name: _prob(rng) for name in names if rng.random() < 0.75}
        monitor: dict[str, Any] = {
            "name": f"m{j}",
            "cost": _sig(_log_uniform(rng, 1e-2, 1e2)),
            "detects": detects,
        }
        if rng.random() < 0.3:
            monitor["false_positive"] = _prob(rng, 0.001, 0.2)
        monitors.append(monitor)
    _cap_false_positives(monitors)
    agent: dict[str, Any] = {}
    if rng.random() < 0.3:
        agent["false_positive_penalty"] = _sig(_log_uniform(rng, 0.01, 10.0))
    if rng.random() < 0.35:
        agent["risk_aversion"] = _sig(
            _log_uniform(rng, 0.05, 3.0) * (1 if rng.random() < 0.7 else -1)
        )
    if rng.random() < 0.2:
        agent["margin"] = _sig(_log_uniform(rng, 1e-6, 0.1))
    return {"actions": actions, "monitors": monitors, "agent": agent}


def _penalty_design(rng: np.random.Generator) -> dict[str, Any]:
    n_dev = int(rng.integers(1, 5))
    g0 = _sig(float(rng.uniform(-1.0, 1.0)))
    scale = _log_uniform(rng, 1e-3, 1e3)
    actions: list[dict[str, Any]] = [{"name": "comply", "gain": g0}]
    monitors: list[dict[str, Any]] = []
    for i in range(n_dev):
        gap = _log_uniform(rng, 1e-3, 10.0) * scale * (1 if rng.random() < 0.85 else -1)
        action: dict[str, Any] = {
            "name": f"a{i}",
            "gain": _sig(g0 + gap),
            "penalty_cap": _sig(_log_uniform(rng, 1.0, 1e4) * scale),
        }
        if rng.random() < 0.5:
            action["audit_cost"] = _sig(_log_uniform(rng, 1e-2, 1e2))
            action["audit_detection"] = _prob(rng, 0.1, 1.0)
        else:
            monitor: dict[str, Any] = {
                "name": f"m{i}",
                "cost": _sig(_log_uniform(rng, 1e-2, 1e2)),
                "detects": {f"a{i}": _prob(rng, 0.05, 1.0)},
            }
            if rng.random() < 0.25:
                monitor["max_rate"] = _prob(rng, 0.3, 1.0)
            if rng.random() < 0.15:
                monitor["min_rate"] = _sig(float(rng.uniform(0.0, 0.05)))
            monitors.append(monitor)
        actions.append(action)
    agent: dict[str, Any] = {}
    if rng.random() < 0.25:
        agent["margin"] = _sig(_log_uniform(rng, 1e-4, 0.5) * scale)
    penalty: dict[str, Any] = {"design": "per_action" if rng.random() < 0.5 else "shared"}
    if rng.random() < 0.85:
        penalty["cost"] = _sig(_log_uniform(rng, 1e-5, 10.0) / scale)
    data: dict[str, Any] = {
        "actions": actions,
        "monitors": monitors,
        "agent": agent,
        "penalty": penalty,
    }
    if rng.random() < 0.25:
        data["oversight"] = {"budget": _sig(_log_uniform(rng, 1e-3, 10.0))}
    return data


def _exponential(rng: np.random.Generator) -> dict[str, Any]:
    data = _ordinary(rng)
    for action in data["actions"][1:]:
        if "audit_cost" in action:
            action["audit_detection"] = min(action["audit_detection"], 0.999)
    for monitor in data["monitors"]:
        monitor["detects"] = {k: min(v, 0.999) for k, v in monitor["detects"].items()}
        if "false_positive" in monitor:
            monitor["false_positive"] = min(monitor["false_positive"], 0.999)
    data["agent"].pop("false_positive_penalty", None)
    if rng.random() < 0.3:
        data["agent"]["risk_aversion"] = _sig(float(rng.uniform(-0.5, 1.0)))
        data["agent"].pop("margin", None)
    data.setdefault("oversight", {})["detection"] = "exponential"
    return data


def _tight_budget(rng: np.random.Generator, seed: int) -> dict[str, Any]:
    base = str(rng.choice(["risk_neutral", "cara_averse", "cara_seeking", "extreme", "non_paying"]))
    for attempt in range(20):
        data = _family_data(base, np.random.default_rng([seed, attempt, 7]), seed)
        data.pop("oversight", None)
        ref = reference(_text(data))
        # (a least cost in the subnormal range cannot be approached to 1e-8 in binary64)
        if ref.status != "optimal" or ref.cost is None or ref.cost <= 1e-250:
            continue
        cost = float(ref.cost)
        eps = _log_uniform(rng, 1e-8, 1e-2)
        if rng.random() < 0.7:
            budget = cost * (1 + eps)
            budget = math.nextafter(budget, math.inf)
        else:
            budget = math.nextafter(cost * (1 - eps), 0.0)
        data["oversight"] = {"budget": budget}
        return data
    return data


def _family_data(family: str, rng: np.random.Generator, seed: int) -> dict[str, Any]:
    if family == "risk_neutral":
        return _risk_neutral(rng)
    if family == "cara_averse":
        return _cara(rng, +1)
    if family == "cara_seeking":
        return _cara(rng, -1)
    if family == "extreme":
        return _extreme(rng)
    if family == "tight_budget":
        return _tight_budget(rng, seed)
    if family == "non_paying":
        return _non_paying(rng)
    if family == "penalty_design":
        return _penalty_design(rng)
    if family == "exponential":
        return _exponential(rng)
    raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")


def _text(data: dict[str, Any]) -> str:
    return spec_text(
        data["actions"],
        data.get("monitors", ()),
        agent=data.get("agent") or None,
        oversight=data.get("oversight") or None,
        penalty=data.get("penalty"),
    )


def generate(family: str, seed: int) -> Case:
    """The spec of one (family, seed): deterministic, valid, ready for ``deter.loads``."""
    data = _family_data(family, _rng(family, seed), seed)
    return Case(family=family, seed=seed, text=_text(data))


def cases(family: str, count: int, start: int = 0) -> list[Case]:
    return [generate(family, seed) for seed in range(start, start + count)]
