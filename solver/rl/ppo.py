"""PPO in the experiments: its settings, the model it trains, and its credit for a delayed reward.

- :class:`PPOSettings`: the experiment's PPO (stable-baselines3's ``PPO("MlpPolicy")`` with
  ``n_steps`` 256, batch 64, learning rate 1e-3, entropy 0.01; ``gamma`` and ``gae_lambda``
  per env);
- :func:`sb3_ppo`: builds that model (``deter[experiment]``: torch, stable-baselines3). The
  runners take any :data:`ModelFactory`, so the tests train a small policy-gradient double
  through the same runner without torch (``tests/support/policy_gradient.py``);
- :func:`gae_advantages`: the generalised advantage estimate (Schulman et al. 2016), the
  recursion stable-baselines3's ``RolloutBuffer.compute_returns_and_advantage`` runs. It is
  what makes PPO credit a penalty landing d steps after the act by (gamma lambda)^d: the
  ``[learner] algorithm = "ppo"`` design (docs/model.md, "Long horizons").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PPOSettings:
    """The PPO the experiments train (stable-baselines3's names)."""

    n_steps: int = 256
    batch_size: int = 64
    learning_rate: float = 1e-3
    ent_coef: float = 0.01
    gamma: float = 0.99  # stable-baselines3's default; the long env sets the task's discount
    gae_lambda: float = 0.95  # stable-baselines3's default


class PolicyModel(Protocol):
    """What the runners need of a trained model (stable-baselines3's ``PPO`` is one)."""

    def learn(self, total_timesteps: int) -> Any: ...

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]: ...


#: Builds a model for ``env`` with ``settings`` and ``seed``.
ModelFactory = Callable[[Any, PPOSettings, int], PolicyModel]


def sb3_ppo(env: Any, settings: PPOSettings, seed: int) -> PolicyModel:
    """stable-baselines3's PPO with ``settings`` on ``env`` (CPU, one thread: the networks
    are tiny and threads cost more than they save)."""
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    model: PolicyModel = PPO(
        "MlpPolicy",
        env,
        n_steps=settings.n_steps,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        ent_coef=settings.ent_coef,
        gamma=settings.gamma,
        gae_lambda=settings.gae_lambda,
        seed=seed,
        device="cpu",
        verbose=0,
    )
    return model


def gae_advantages(
    rewards: FloatArray,
    values: FloatArray,
    episode_starts: NDArray[np.bool_],
    last_value: float,
    last_done: bool,
    gamma: float,
    gae_lambda: float,
) -> FloatArray:
    """The generalised advantage estimate of each step of a rollout (Schulman et al. 2016):
    A_t = delta_t + gamma lambda (1 - done_{t+1}) A_{t+1}, delta_t = r_t + gamma (1 -
    done_{t+1}) V_{t+1} - V_t, where ``episode_starts[t]`` marks a step that begins an
    episode (so the step before it ended one) and the rollout's last step bootstraps from
    ``last_value`` unless ``last_done``; stable-baselines3's recursion, in its names."""
    n = len(rewards)
    advantages = np.zeros(n)
    running = 0.0
    for t in reversed(range(n)):
        if t == n - 1:
            alive, next_value = 1.0 - float(last_done), last_value
        else:
            alive, next_value = 1.0 - float(episode_starts[t + 1]), float(values[t + 1])
        delta = rewards[t] + gamma * next_value * alive - values[t]
        running = delta + gamma * gae_lambda * alive * running
        advantages[t] = running
    return advantages
