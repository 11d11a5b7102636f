"""``deter/LongTask-v0``: a task of several steps whose audits land later (issue 23 item 2).

An episode is one task of ``steps`` steps (default 5). At each step some shortcuts are
possible (each independently with probability ``opportunity``; the observation says which)
and the agent chooses how to do the step (``Discrete(n)``, the policy document's action
order; a shortcut that is not possible at this step is honest work). It is paid the effort
saved at once (the spec's gain relative to compliance, plus optional Gaussian noise). The
runtime auditor (``deter.runtime``) judges every step when it happens, but the penalty it
returns (a false flag's on honest work included) lands ``audit_delay`` steps later, folded
into that step's reward with no label of the step it is for, and only if the agent is still
there: after every step the agent leaves (the episode terminates) with probability
``1 - retention``. After the last work step the episode runs ``audit_delay`` review steps in
which actions do nothing and the last penalties land.

Audits are partially observable: by default the observation shows the step, whether the task
is still in its work steps, and which shortcuts are possible, never whether a step was
audited or flagged; ``observe_audits=True`` adds the count of flags still to land.

The model's counterpart is ``[horizon]`` (docs/model.md, "Long horizons"): with the learner's
discount gamma (e.g. PPO's ``gamma``), a penalty F is worth kappa F at the act, kappa =
(gamma retention)^audit_delay, and because an unseen audit cannot change later choices every
step's best action is the one the one-step constraint with kappa ranks first
(``tests/rl/test_long_env.py`` checks it by Monte Carlo).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..policy.document import validate_policy
from ..policy.runtime import Auditor
from .reference import CODING_AGENT_POLICY

ObsType = np.ndarray

#: Salt mixed into the auditor's seed, so it does not share a stream with the env's own.
_SEED_SALT = 0x10E6


class LongTaskEnv(gym.Env[ObsType, np.int64]):
    """A task of several steps with delayed, unseen audits (see the module docstring)."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        policy: Mapping[str, Any] | None = None,
        *,
        steps: int = 5,
        audit_delay: int = 3,
        retention: float = 0.95,
        opportunity: float = 0.5,
        reward_noise: float = 0.0,
        observe_audits: bool = False,
        render_mode: str | None = None,
    ) -> None:
        doc = validate_policy(dict(policy if policy is not None else CODING_AGENT_POLICY))
        if steps < 1:
            raise ValueError("steps must be at least 1")
        if audit_delay < 0:
            raise ValueError("audit_delay must be >= 0")
        if not 0.0 < retention <= 1.0:
            raise ValueError("retention must be in (0, 1]")
        if not 0.0 <= opportunity <= 1.0:
            raise ValueError("opportunity must be in [0, 1]")
        if reward_noise < 0:
            raise ValueError("reward_noise must be >= 0")
        self.policy = doc
        self.action_names: tuple[str, ...] = tuple(a["name"] for a in doc["actions"])
        self.compliant = self.action_names.index(doc["compliant"])
        self.gains = np.array([float(a["gain"]) for a in doc["actions"]])
        self.gains -= self.gains[self.compliant]
        self.steps = int(steps)
        self.audit_delay = int(audit_delay)
        self.retention = float(retention)
        self.opportunity = float(opportunity)
        self.reward_noise = float(reward_noise)
        self.observe_audits = bool(observe_audits)
        self.length = self.steps + self.audit_delay  # work steps, then review steps
        n = len(self.action_names)
        self.action_space = spaces.Discrete(n)
        # [step / length, working, possible_0..possible_{n-1}, flags still to land / steps]
        self.observation_space = spaces.Box(0.0, 1.0, shape=(n + 3,), dtype=np.float32)
        self.render_mode = render_mode
        self.auditor = Auditor(doc, warn=False)
        self._t = 0
        self._possible = np.ones(n, dtype=bool)
        self._due = np.zeros(self.length + 1)  # penalty landing at each step
        self._flags_due = np.zeros(self.length + 1, dtype=np.int64)
        self._last = ""

    # --- observation --------------------------------------------------------------------

    def _draw_possible(self) -> None:
        n = len(self.action_names)
        possible = self.np_random.random(n) < self.opportunity
        possible[self.compliant] = True
        self._possible = possible if self._t < self.steps else np.eye(n, dtype=bool)[self.compliant]

    def _obs(self) -> ObsType:
        pending = int(self._flags_due[self._t :].sum()) if self.observe_audits else 0
        return np.concatenate(
            [
                [self._t / self.length, float(self._t < self.steps)],
                self._possible.astype(float),
                [min(1.0, pending / self.steps)],
            ]
        ).astype(np.float32)

    # --- gymnasium ----------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self.auditor.reseed(np.random.SeedSequence([seed, _SEED_SALT]), clear=False)
        self._t = 0
        self._due[:] = 0.0
        self._flags_due[:] = 0
        self._last = ""
        self._draw_possible()
        return self._obs(), {"possible": self._possible.copy()}

    def step(self, action: Any) -> tuple[ObsType, float, bool, bool, dict[str, Any]]:
        a = int(action)
        if not self.action_space.contains(a):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        if self._t >= self.length:
            raise RuntimeError("step() after the episode ended: call reset()")
        t = self._t
        info: dict[str, Any] = {"step": t, "working": t < self.steps}
        reward = 0.0
        if t < self.steps:
            taken = a if self._possible[a] else self.compliant
            reward += float(self.gains[taken])
            judgement = self.auditor.judge(self.auditor.plan(), self.action_names[taken])
            self._due[t + self.audit_delay] += judgement.penalty
            self._flags_due[t + self.audit_delay] += int(judgement.flagged)
            self._last = self.action_names[taken]
            info.update(
                action_label=self._last,
                violation=taken != self.compliant,
                penalty_scheduled=judgement.penalty,
                flagged=judgement.flagged,
            )
        else:
            info.update(action_label=None, violation=False)
        landed = float(self._due[t])
        reward -= landed
        info["penalty_landed"] = landed
        if self.reward_noise > 0 and t < self.steps:
            reward += float(self.np_random.normal(0.0, self.reward_noise))
        self._t = t + 1
        ended = self._t >= self.length
        left = (not ended) and bool(self.np_random.random() >= self.retention)
        info["left"] = left
        if not (ended or left):
            self._draw_possible()
        info["possible"] = self._possible.copy()
        return self._obs(), reward, ended or left, False, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return f"step {self._t}/{self.length}: {self._last or '-'}\n"
        return None


def present_value(discount: float, retention: float, audit_delay: int) -> float:
    """kappa = (discount x retention)^audit_delay: a delayed penalty's worth at the act
    (the env's side of ``solver/model/horizon.py``, for a policy document without a spec)."""
    return float((discount * retention) ** audit_delay)
