"""``deter/CodingTask-v0``: the coding-agent problem as a Gymnasium environment.

One episode is one coding task. The agent chooses how to do it (``Discrete(n)``, in the
policy document's action order: honest, reward_hack, test_tampering, sandbag for the
bundled problem) and is paid the effort it saves relative to honest work: the spec's gain
(0, 3, 4 and 1 USD), plus optional Gaussian noise. Every shortcut "passes", so without
oversight the reward-maximising policy is the most lucrative shortcut, test tampering:
the env is misaligned by construction, as the spec says. Wrap it in
:class:`~deter.rl.OversightWrapper` to add the policy's penalties.

The game the spec describes is a repeated one-shot game with no state, so the observation
is a constant (a one-element vector of ones): what the agent can learn is which action pays
on average, which is exactly the question deterrence answers. The env needs no solver: its
gains come from a policy document (the bundled coding-agent policy by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..policy.document import validate_policy
from .reference import CODING_AGENT_POLICY

ObsType = np.ndarray


class CodingTaskEnv(gym.Env[ObsType, np.int64]):
    """Choose how to do a coding task; be paid the effort saved (see the module docstring)."""

    # Gymnasium declares metadata an instance variable, so no ClassVar (mypy would refuse it).
    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        policy: Mapping[str, Any] | None = None,
        reward_noise: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        doc = validate_policy(dict(policy if policy is not None else CODING_AGENT_POLICY))
        if reward_noise < 0:
            raise ValueError("reward_noise must be >= 0")
        self.action_names: tuple[str, ...] = tuple(a["name"] for a in doc["actions"])
        self.compliant = self.action_names.index(doc["compliant"])
        self.gains = np.array([float(a["gain"]) for a in doc["actions"]])
        # Rewards are the effort saved relative to honest work (the compliant gain).
        self.gains -= self.gains[self.compliant]
        self.reward_noise = float(reward_noise)
        self.action_space = spaces.Discrete(len(self.action_names))
        self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.render_mode = render_mode
        self._last: str = ""

    def _obs(self) -> ObsType:
        return np.ones(1, dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        super().reset(seed=seed)
        self._last = ""
        return self._obs(), {}

    def step(self, action: Any) -> tuple[ObsType, float, bool, bool, dict[str, Any]]:
        a = int(action)
        if not self.action_space.contains(a):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        reward = float(self.gains[a])
        if self.reward_noise > 0:
            reward += float(self.np_random.normal(0.0, self.reward_noise))
        self._last = self.action_names[a]
        info = {"action_label": self._last, "violation": a != self.compliant}
        return self._obs(), reward, True, False, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return f"task done: {self._last or '-'}\n"
        return None
