"""Seeded random specs for cross-checks against an independent LP (scipy linprog)."""

from __future__ import annotations

from typing import Any

import numpy as np


def random_spec(rng: np.random.Generator, family: str) -> dict[str, Any]:
    n_dev = int(rng.integers(1, 4))
    n_mon = int(rng.integers(1, 4))
    g0 = float(rng.uniform(-1.0, 2.0))
    actions: list[dict[str, Any]] = [{"name": "comply", "gain": round(g0, 6)}]
    for i in range(n_dev):
        action: dict[str, Any] = {
            "name": f"a{i}",
            "gain": round(g0 + float(rng.uniform(-1.0, 5.0)), 6),
            "penalty_cap": round(float(rng.uniform(1.0, 25.0)), 6),
        }
        if rng.random() < 0.2:
            action["audit_cost"] = round(float(rng.uniform(0.5, 6.0)), 6)
            action["audit_detection"] = round(float(rng.uniform(0.3, 1.0)), 6)
        actions.append(action)
    monitors = []
    for j in range(n_mon):
        detects = {
            f"a{i}": round(float(rng.uniform(0.05, 1.0)), 6)
            for i in range(n_dev)
            if rng.random() < 0.7
        }
        monitor: dict[str, Any] = {
            "name": f"m{j}",
            "cost": round(float(rng.uniform(0.1, 5.0)), 6),
            "detects": detects,
        }
        if rng.random() < 0.3:
            monitor["max_rate"] = round(float(rng.uniform(0.4, 1.0)), 6)
        if family == "budget_and_min_rates" and rng.random() < 0.4:
            monitor["min_rate"] = round(float(rng.uniform(0.0, 0.3)), 6)
        if family == "false_positives" and rng.random() < 0.7:
            monitor["false_positive"] = round(float(rng.uniform(0.0, 0.25)), 6)
        monitors.append(monitor)
    agent: dict[str, Any] = {}
    if family in ("cara", "false_positives") and rng.random() < 0.8:
        agent["risk_aversion"] = round(float(rng.uniform(-0.4, 0.4)), 6)
    if family == "false_positives":
        agent["false_positive_penalty"] = round(float(rng.uniform(0.0, 6.0)), 6)
    if rng.random() < 0.3:
        agent["margin"] = round(float(rng.uniform(0.0, 0.5)), 6)
    data: dict[str, Any] = {"actions": actions, "monitors": monitors, "agent": agent}
    if family == "budget_and_min_rates" and rng.random() < 0.6:
        data["oversight"] = {"budget": round(float(rng.uniform(0.2, 4.0)), 6)}
    return data
