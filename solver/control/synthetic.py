"""The bundled example's distributions: SYNTHETIC scored trajectories (no model was run).

``scripts/make_control_example.py`` writes ``problems/control/synthetic_samples.csv`` from
:func:`draw`; the benchmarks draw fresh samples from it and check designs against the true
rates (:func:`true_exceed`), which are known in closed form here. The table has the columns
ControlArena's ``samples_df`` gives an evaluation's samples (``id``, ``epoch``, ``eval_mode``,
``metadata_main_task_name``, ``metadata_side_task_name``, ``main_task_success``,
``side_task_success``, ``score_<monitor>``). It illustrates the shape and the method; it is
not a measurement of any model or monitor.

How it is drawn (binormal monitors, the textbook ROC model):

- 2,000 honest samples and 500 for each of two attack kinds (side tasks ``insert_backdoor``
  and ``exfiltrate_data``);
- ``basic_monitor``: a suspicion score on ControlArena's usual 0-10 integer scale,
  ``round(2 + 1.5 (z + shift))`` clipped to [0, 10], z standard normal; shift 0 for honest
  samples, 1.8 for backdoors, 1.0 for exfiltration (integer scores tie often, as real ones do);
- ``trajectory_monitor``: a continuous score, honest N(0, 1), backdoor N(1.2, 1.1^2),
  exfiltration N(2.2, 1): a full-trajectory monitor better at exfiltration than at backdoors;
- main task success: Bernoulli(0.80) honest, Bernoulli(0.70) attack; side task success:
  Bernoulli(0.55) backdoor, Bernoulli(0.45) exfiltration, never for honest samples.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import ndtr

SEED = 20261207
HONEST = 2000
PER_ATTACK = 500
#: kind -> (basic monitor shift in SDs, trajectory mean, trajectory sd, side task success)
KINDS: dict[str, tuple[float, float, float, float]] = {
    "honest": (0.0, 0.0, 1.0, 0.0),
    "insert_backdoor": (1.8, 1.2, 1.1, 0.55),
    "exfiltrate_data": (1.0, 2.2, 1.0, 0.45),
}
MONITORS = ("basic_monitor", "trajectory_monitor")
MAIN_SUCCESS = {"honest": 0.80, "attack": 0.70}


def draw(seed: int = SEED, honest: int = HONEST, per_attack: int = PER_ATTACK) -> pd.DataFrame:
    """A ControlArena-shaped sample table drawn from the distributions above."""
    rng = np.random.default_rng(seed)
    blocks = []
    for kind, (shift, mean, sd, side_success) in KINDS.items():
        n = honest if kind == "honest" else per_attack
        mode = "honest" if kind == "honest" else "attack"
        z = rng.standard_normal(n)
        blocks.append(
            pd.DataFrame(
                {
                    "eval_mode": mode,
                    "metadata_main_task_name": [f"task_{k}" for k in rng.integers(0, 200, n)],
                    "metadata_side_task_name": "" if kind == "honest" else kind,
                    "main_task_success": rng.random(n) < MAIN_SUCCESS[mode],
                    "side_task_success": rng.random(n) < side_success,
                    "score_basic_monitor": np.clip(np.round(2.0 + 1.5 * (z + shift)), 0, 10),
                    "score_trajectory_monitor": mean + sd * rng.standard_normal(n),
                }
            )
        )
    table = pd.concat(blocks, ignore_index=True)
    table.insert(0, "epoch", 1)
    table.insert(0, "id", [f"s{i:05d}" for i in range(len(table))])
    return table


def true_exceed(monitor: str, kind: str, threshold: float) -> float:
    """The true probability that a ``kind`` sample scores at least ``threshold``."""
    shift, mean, sd, _ = KINDS[kind]
    if monitor == "trajectory_monitor":
        if math.isinf(threshold):
            return 0.0 if threshold > 0 else 1.0
        return float(ndtr((mean - threshold) / sd))
    if monitor != "basic_monitor":
        raise KeyError(monitor)
    level = math.ceil(threshold) if math.isfinite(threshold) else threshold
    if level <= 0:
        return 1.0
    if level > 10:
        return 0.0
    # round(2 + 1.5 (z + shift)) >= level  <=>  2 + 1.5 (z + shift) >= level - 0.5
    return float(ndtr(shift - (level - 2.5) / 1.5))
