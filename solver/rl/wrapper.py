"""``OversightWrapper``: a designed policy's penalties inside any Gymnasium training loop.

At the end of each episode (or at every step, ``per="step"``) the wrapper asks the user's
``label`` function what the agent did, runs the runtime auditor (``deter.runtime``) on it,
subtracts the penalty the auditor returns from the reward (false flags on compliant work
included: that is the honest agent's loss the policy was designed with), and reports the
audit in ``info["oversight"]``.

Seeding: ``reset(seed=s)`` reseeds the auditor's generator from s too (its tallies are kept),
so a seeded episode is reproducible, as Gymnasium's env checker demands, and sub-environments
of a vector env seeded s, s+1, ... draw different audits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, SupportsFloat, TypeAlias

import gymnasium as gym
import numpy as np

from ..policy.runtime import Auditor, Judgement

#: What ``label`` returns: an action label, the monitors' verdicts (monitor -> False, True
#: or the action caught), or None to judge nothing this time.
Label: TypeAlias = str | Mapping[str, bool | str] | None

#: Salt mixed into the auditor's seed, so it does not share a stream with the env's own.
_SEED_SALT = 0x0DE7E7


@dataclass
class Trajectory:
    """The current episode so far, handed to ``label``."""

    observations: list[Any] = field(default_factory=list)  # the reset observation first
    actions: list[Any] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)  # the env's own, before penalties
    infos: list[dict[str, Any]] = field(default_factory=list)  # the reset info first

    @property
    def last_info(self) -> dict[str, Any]:
        return self.infos[-1] if self.infos else {}


def info_label(trajectory: Trajectory) -> Label:
    """The default ``label``: the last step's ``info["action_label"]`` (the reference env's)."""
    value = trajectory.last_info.get("action_label")
    return None if value is None else str(value)


def as_auditor(policy: Auditor | Mapping[str, Any] | str | Path, **options: Any) -> Auditor:
    """An auditor from an auditor, a policy document or a policy file's path."""
    if isinstance(policy, Auditor):
        return policy
    if isinstance(policy, str | Path):
        return Auditor.from_file(policy, **options)
    return Auditor.from_dict(policy, **options)


class OversightWrapper(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Penalise the wrapped env's agent as a deter policy document prescribes.

    ``policy``: a policy document (dict), its path, or an :class:`~deter.runtime.Auditor`.
    ``label(trajectory)`` says what the agent did (see :data:`Label`); the default reads
    ``info["action_label"]``. ``per``: judge each ``"episode"`` at its end, or each
    ``"step"``. ``false_flag_penalties=False`` spares compliant work its false-flag penalty
    (the flags are still counted). ``seed`` seeds the auditor when ``reset`` is not seeded.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        policy: Auditor | Mapping[str, Any] | str | Path,
        label: Callable[[Trajectory], Label] = info_label,
        *,
        per: Literal["episode", "step"] = "episode",
        false_flag_penalties: bool = True,
        seed: int | None = None,
        schedule: str | None = None,
    ) -> None:
        # Recorded so that gymnasium can re-create the wrapped env from its spec.
        gym.utils.RecordConstructorArgs.__init__(
            self,
            policy=policy,
            label=label,
            per=per,
            false_flag_penalties=false_flag_penalties,
            seed=seed,
            schedule=schedule,
        )
        gym.Wrapper.__init__(self, env)
        if per not in ("episode", "step"):
            raise ValueError(f"per must be 'episode' or 'step', not {per!r}")
        options: dict[str, Any] = {"seed": seed}
        if schedule is not None:
            options["schedule"] = schedule
        self.auditor = as_auditor(policy, **options)
        self.label = label
        self.per = per
        self.false_flag_penalties = false_flag_penalties
        self.trajectory = Trajectory()
        self.last_judgement: Judgement | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if seed is not None:
            self.auditor.reseed(np.random.SeedSequence([seed, _SEED_SALT]), clear=False)
        obs, info = self.env.reset(seed=seed, options=options)
        self.trajectory = Trajectory(observations=[obs], infos=[info])
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        t = self.trajectory
        t.observations.append(obs)
        t.actions.append(action)
        t.rewards.append(float(reward))
        t.infos.append(info)
        if self.per == "step" or terminated or truncated:
            judgement = self._judge()
            if judgement is not None:
                penalty = judgement.penalty
                if judgement.false_flag and not self.false_flag_penalties:
                    penalty = 0.0
                reward = float(reward) - penalty
                info = {**info, "oversight": _info(judgement, penalty)}
        return obs, reward, terminated, truncated, info

    def _judge(self) -> Judgement | None:
        label = self.label(self.trajectory)
        if label is None:
            return None
        plan = self.auditor.plan()
        if isinstance(label, str):
            judgement = self.auditor.judge(plan, label)
        else:
            judgement = self.auditor.judge(plan, verdicts=label)
        self.last_judgement = judgement
        return judgement


def _info(judgement: Judgement, penalty: float) -> dict[str, Any]:
    """``info["oversight"]``: flat, numeric where possible (vector envs stack it)."""
    return {
        "penalty": penalty,
        "audits": len(judgement.audits),
        "audited_by": ",".join(judgement.audits),
        "flagged": judgement.flagged,
        "detected": judgement.detected,
        "false_flag": judgement.false_flag,
        "flagged_by": ",".join(judgement.flagged_by),
        "cost": judgement.cost,
        "label": judgement.action or "",
    }
