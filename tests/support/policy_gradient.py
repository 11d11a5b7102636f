"""A tiny policy-gradient learner standing in for stable-baselines3's PPO in the tests.

It has PPO's interface (``learn(total_timesteps)``, ``predict(obs, deterministic)``) and its
credit assignment: rollouts of ``settings.n_steps``, advantages from
``deter.solver.rl.ppo.gae_advantages`` (GAE with the settings' gamma and lambda, normalised
per rollout as stable-baselines3 does), a softmax policy pushed by them. The policy and the
value are tables keyed by observation (the envs' observations are few and exact), so it
needs no torch and trains in a second: the runners (``run_ppo``, ``run_ppo_long``) and
``deter experiment`` are tested end to end through it in CI, where the ``experiment`` extra
(torch) is not installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from deter.solver.rl.ppo import PPOSettings, gae_advantages


class PolicyGradientDouble:
    """Tabular softmax policy gradient with GAE advantages (see the module docstring)."""

    def __init__(self, env: Any, settings: PPOSettings, seed: int, step_size: float = 0.5):
        self.env = env
        self.settings = settings
        self.seed = seed
        self.step_size = step_size
        self.rng = np.random.default_rng(seed)
        self.actions = int(env.action_space.n)
        self.shape = tuple(env.observation_space.shape)
        self.logits: dict[bytes, np.ndarray] = {}
        self.values: dict[bytes, float] = {}

    def _key(self, obs: Any) -> bytes:
        return np.asarray(obs, dtype=np.float32).tobytes()

    def _probs(self, key: bytes) -> np.ndarray:
        z = self.logits.setdefault(key, np.zeros(self.actions))
        e = np.exp(z - z.max())
        return np.asarray(e / e.sum())

    def learn(self, total_timesteps: int) -> PolicyGradientDouble:
        s = self.settings
        obs, _ = self.env.reset(seed=self.seed)
        start, done = True, 0
        while done < total_timesteps:
            keys, actions, rewards, starts, values = [], [], [], [], []
            for _ in range(s.n_steps):
                key = self._key(obs)
                a = int(self.rng.choice(self.actions, p=self._probs(key)))
                keys.append(key)
                actions.append(a)
                starts.append(start)
                values.append(self.values.get(key, 0.0))
                obs, reward, terminated, truncated, _ = self.env.step(a)
                rewards.append(float(reward))
                start = bool(terminated or truncated)
                if start:
                    obs, _ = self.env.reset()
            v = np.array(values)
            last = 0.0 if start else self.values.get(self._key(obs), 0.0)
            adv = gae_advantages(
                np.array(rewards), v, np.array(starts), last, start, s.gamma, s.gae_lambda
            )
            targets = adv + v
            norm = (adv - adv.mean()) / (adv.std() + 1e-8)
            for key, a, advantage, target in zip(keys, actions, norm, targets, strict=True):
                grad = -self._probs(key)
                grad[a] += 1.0
                self.logits[key] += self.step_size * s.learning_rate * 100 * advantage * grad
                self.values[key] = self.values.get(key, 0.0) + 0.1 * (
                    target - self.values.get(key, 0.0)
                )
            done += s.n_steps
        return self

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[Any, None]:
        obs = np.asarray(observation, dtype=np.float32)
        batch = obs.reshape(-1, *self.shape)
        chosen = []
        for row in batch:
            p = self._probs(self._key(row))
            chosen.append(
                int(np.argmax(p)) if deterministic else int(self.rng.choice(self.actions, p=p))
            )
        out = np.array(chosen)
        return (out if obs.ndim > len(self.shape) else out[0]), None


def double(env: Any, settings: PPOSettings, seed: int) -> PolicyGradientDouble:
    """A :data:`deter.solver.rl.ppo.ModelFactory` of the double."""
    return PolicyGradientDouble(env, settings, seed)
