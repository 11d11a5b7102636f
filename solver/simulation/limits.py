"""The largest simulation deter runs (docs/security.md)."""

from __future__ import annotations

#: The largest simulation deter runs (docs/security.md): a count typed on the command line
#: must not ask for gigabytes or hours. Episodes bound the learning curve (8 bytes each);
#: the population, times the actions, bounds each learner's tables; agent-episodes (per
#: policy) bound the time, at several million a second.
MAX_EPISODES = 1_000_000
MAX_POPULATION = 1_000_000
MAX_AGENT_EPISODES = 1_000_000_000
MAX_AGENT_ACTIONS = 20_000_000


def check_size(episodes: int, population: int, n_actions: int = 1) -> None:
    """Refuse a simulation over the limits, with a ValueError that names the limit."""
    if episodes < 1 or population < 1:
        raise ValueError("episodes and population must be at least 1")
    if episodes > MAX_EPISODES:
        raise ValueError(f"{episodes:,} episodes is over the limit of {MAX_EPISODES:,}")
    if population > MAX_POPULATION:
        raise ValueError(f"a population of {population:,} is over the limit of {MAX_POPULATION:,}")
    if episodes * population > MAX_AGENT_EPISODES:
        raise ValueError(
            f"{episodes:,} episodes x {population:,} agents is over the limit of "
            f"{MAX_AGENT_EPISODES:,} agent-episodes per policy"
        )
    if population * n_actions > MAX_AGENT_ACTIONS:
        raise ValueError(
            f"{population:,} agents x {n_actions:,} actions is over the limit of "
            f"{MAX_AGENT_ACTIONS:,} (use a smaller --population)"
        )
