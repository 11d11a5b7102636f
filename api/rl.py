"""``deter.rl``: a designed policy's penalties inside a Gymnasium training loop.

Needs the optional extra ``deter[rl]`` (gymnasium). Importing this module registers the
reference environments ``deter/CodingTask-v0`` and ``deter/LongTask-v0`` (a task of several
steps whose audits land later)::

    import gymnasium as gym
    import deter.rl
    env = deter.rl.OversightWrapper(gym.make("deter/CodingTask-v0"), "policy.json")

See docs/runtime.md and docs/experiments.md.
"""

from __future__ import annotations

try:
    import gymnasium as gym
except ModuleNotFoundError as missing:  # an optional extra: say what to install
    raise ModuleNotFoundError(
        "deter.rl needs gymnasium, which is not installed: pip install 'deter[rl]'",
        name=missing.name,
    ) from missing

from .solver.rl.env import CodingTaskEnv
from .solver.rl.long_env import LongTaskEnv
from .solver.rl.reference import CODING_AGENT_POLICY, CODING_AGENT_SPEC
from .solver.rl.wrapper import Label, OversightWrapper, Trajectory, info_label

ENV_ID = "deter/CodingTask-v0"
#: The long-horizon env: a task of several steps, audits that land later (issue 23).
LONG_ENV_ID = "deter/LongTask-v0"

if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="deter.solver.rl.env:CodingTaskEnv")
if LONG_ENV_ID not in gym.registry:
    gym.register(id=LONG_ENV_ID, entry_point="deter.solver.rl.long_env:LongTaskEnv")

__all__ = [
    "CODING_AGENT_POLICY",
    "CODING_AGENT_SPEC",
    "ENV_ID",
    "LONG_ENV_ID",
    "CodingTaskEnv",
    "Label",
    "LongTaskEnv",
    "OversightWrapper",
    "Trajectory",
    "info_label",
]
