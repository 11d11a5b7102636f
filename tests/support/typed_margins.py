"""Typed ``min_loss`` specs with margins (issue 20 item 3): two or three agent types, one
or two monitors, a margin of 0.2 to 2.5, sometimes false flags, rate floors and a budget.
With a margin no action need be any type's best response by it, and the types share one
policy, so many of these have no feasible assignment: the DOBSS program's "infeasible" is
then what deter must prove (solver/engine/typed_infeasibility.py). Seeded: the same spec
for a seed on every machine."""

from __future__ import annotations

import random


def typed_margin_spec(seed: int) -> str:
    """The TOML text of spec ``seed``."""
    rng = random.Random(seed)
    deviations = [f"a{i}" for i in range(rng.randint(2, 3))]
    names = ["comply", *deviations]
    lines = ["version = 1", "[agent]", f"margin = {rng.uniform(0.2, 2.5):.4g}"]
    if rng.random() < 0.3:
        lines.append(f"false_positive_penalty = {rng.uniform(0.5, 3):.4g}")
    lines += ["[oversight]", 'objective = "min_loss"']
    if rng.random() < 0.3:
        lines.append(f"budget = {rng.uniform(0.2, 3):.4g}")
    lines += ["[[actions]]", 'name = "comply"', "gain = 0.0"]
    for a in deviations:
        lines += [
            "[[actions]]",
            f'name = "{a}"',
            f"gain = {rng.uniform(0.5, 5):.4g}",
            f"penalty_cap = {rng.uniform(2, 8):.4g}",
            f"harm = {rng.uniform(0, 4):.4g}",
        ]
    for j in range(rng.randint(1, 2)):
        detects = [f"{a} = {rng.uniform(0.2, 1):.4g}" for a in deviations if rng.random() < 0.7]
        lines += [
            "[[monitors]]",
            f'name = "m{j}"',
            f"cost = {rng.uniform(0.5, 3):.4g}",
            f"detects = {{ {', '.join(detects) or f'{deviations[0]} = 0.5'} }}",
        ]
        if rng.random() < 0.3:
            lines.append(f"false_positive = {rng.uniform(0.01, 0.3):.4g}")
        if rng.random() < 0.3:
            lines.append(f"min_rate = {rng.uniform(0.05, 0.5):.4g}")
    n_types = rng.randint(2, 3)
    raw = [rng.uniform(0.1, 1) for _ in range(n_types)]
    weights = [round(w / sum(raw), 4) for w in raw[:-1]]
    weights.append(1 - sum(weights))
    for k, weight in enumerate(weights):
        lines += ["[[types]]", f'name = "t{k}"', f"weight = {weight!r}"]
        gains = {a: round(rng.uniform(-1, 6), 3) for a in names if rng.random() < 0.6}
        if gains:
            lines.append("gains = { " + ", ".join(f"{a} = {v}" for a, v in gains.items()) + " }")
    return "\n".join(lines) + "\n"
