"""Penalties inside the training loop: a Gymnasium wrapper, a reference env, the experiment.

Needs the optional extra ``deter[rl]`` (gymnasium); the experiment's PPO runs need
``deter[experiment]`` (stable-baselines3, torch).
"""
