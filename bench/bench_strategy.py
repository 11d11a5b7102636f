"""Solve times of the strategic features (issue 5): prints figures, asserts nothing.

    python bench/bench_strategy.py

- min_loss by multiple LPs, n actions (one LP per candidate induced action);
- min_loss with K types (the DOBSS MILP, then the polish LP);
- deter_all with fixed deployment costs on m monitors (a MILP);
- every extreme equilibrium of the n x 2 inspection game.
"""

from __future__ import annotations

import time

import numpy as np
from deter.solver.engine.auditor import equilibria, inspection_game
from deter.solver.engine.solve import solve
from deter.solver.spec.loading import parse_spec_text


def spec(
    n: int,
    m: int,
    *,
    types: int = 0,
    fixed: bool = False,
    auditor: bool = False,
    objective: str = "min_loss",
    seed: int = 0,
) -> str:
    rng = np.random.default_rng(seed)
    lines = [
        "[agent]",
        "penalty_cap = 10.0",
        "[oversight]",
        f'objective = "{objective}"',
        "[[actions]]",
        'name = "comply"',
        "gain = 0.0",
    ]
    for i in range(n):
        lines += [
            "[[actions]]",
            f'name = "a{i}"',
            f"gain = {rng.uniform(0.5, 5):.4f}",
            f"harm = {rng.uniform(0, 2):.4f}",
        ]
    for j in range(m):
        detects = ", ".join(f"a{i} = {rng.uniform(0, 1):.3f}" for i in range(n))
        lines += [
            "[[monitors]]",
            f'name = "m{j}"',
            f"cost = {rng.uniform(0.1, 2):.3f}",
            f"detects = {{ {detects} }}",
        ]
        if fixed:
            lines.append(f"fixed_cost = {rng.uniform(0, 1):.3f}")
    for k in range(types):
        gains = ", ".join(f"a{i} = {rng.uniform(0.5, 8):.3f}" for i in range(n))
        lines += [
            "[[types]]",
            f'name = "t{k}"',
            f"weight = {1 / types!r}",
            f"gains = {{ {gains} }}",
        ]
    if auditor:
        lines += [
            "[auditor]",
            'monitor = "m0"',
            "inspection_cost = 1.0",
            "catch_reward = 2.0",
            "miss_loss = 3.0",
        ]
    return "\n".join(lines) + "\n"


def timed(text: str, repeat: int = 3) -> tuple[float, str]:
    parsed = parse_spec_text(text)
    best, status = float("inf"), ""
    for _ in range(repeat):
        started = time.perf_counter()
        result = solve(parsed)
        best = min(best, time.perf_counter() - started)
        status = result.status
    return best, status


def main() -> None:
    print("case                                   seconds  status")
    for n in (3, 10, 30):
        seconds, status = timed(spec(n, 5))
        print(f"min_loss, {n:>2} actions, 5 monitors        {seconds:7.3f}  {status}")
    for k in (2, 5, 10):
        seconds, status = timed(spec(5, 3, types=k))
        print(f"min_loss DOBSS, 5 actions, {k:>2} types    {seconds:7.3f}  {status}")
    for m in (5, 20, 50):
        seconds, status = timed(spec(5, m, fixed=True, objective="deter_all"))
        print(f"deter_all, fixed costs, {m:>2} monitors     {seconds:7.3f}  {status}")
    for n in (2, 10, 50):
        game = inspection_game(parse_spec_text(spec(n, 1, auditor=True, objective="deter_all")))
        started = time.perf_counter()
        found = equilibria(game)
        print(
            f"inspection game, {n:>2} actions           "
            f"{time.perf_counter() - started:7.3f}  {len(found)} equilibria"
        )


if __name__ == "__main__":
    main()
