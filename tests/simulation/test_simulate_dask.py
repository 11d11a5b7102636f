"""Simulation on Dask: the same results bit for bit as in one process, for the same seed.

The population is cut into blocks, each on its own seed stream (SeedSequence spawn, per
block, not per worker); the blocks are made small here so that a few hundred agents make
several tasks and two workers share them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import deter
import numpy as np
import pytest
from deter.cli.app import app
from deter.solver.batch.dask_executor import dask_mapper
from deter.solver.model.arrays import ProblemArrays
from deter.solver.problem import Problem
from deter.solver.simulation import simulate as sim
from deter.solver.simulation.simulate import AgentConfig, AgentTypes, Policy, simulate
from typer.testing import CliRunner

from tests.support.dask_cluster import local_scheduler, reversed_map
from tests.support.paths import PROBLEMS


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A local cluster started by the test: two worker processes, one thread each."""
    with local_scheduler(workers=2) as address:
        yield address


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim, "BLOCK_AGENTS", 64)


def _types_problem() -> Problem:
    """Two agent types (drawn per agent by weight, the block generator's first draw)."""
    return deter.load(PROBLEMS / "agent_types_bayesian.toml")


def _run(problem: Problem, mapper: Callable[..., Any], agent: str = "epsilon-greedy") -> Any:
    spec = problem.spec
    arrays = ProblemArrays.from_spec(spec)
    rates = np.array([0.1])
    return simulate(
        arrays,
        [Policy("x1", rates), Policy("x0.9", rates * 0.9, scale=0.9)],
        agent=AgentConfig(agent, epsilon=0.1),
        episodes=150,
        population=300,  # 5 blocks of 64 agents, the last of 44
        seed=12,
        types=AgentTypes.from_spec(spec),
        mapper=mapper,
    )


def _same(a: Any, b: Any) -> None:
    """Every figure equal, bit for bit (JSON of every estimate, and the raw curves)."""
    left, right = a.to_dict(), b.to_dict()
    left.pop("timing", None), right.pop("timing", None)
    assert json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)
    for x, y in zip(a.runs, b.runs, strict=True):
        assert np.array_equal(x.curve, y.curve)


def test_blocks_are_a_fixed_cut_of_the_population(small_blocks: None) -> None:
    assert sim.block_sizes(300) == [64, 64, 64, 64, 44]
    assert sim.block_sizes(128) == [64, 64]
    assert sim.block_sizes(1) == [1]


def test_result_does_not_depend_on_the_order_blocks_run(small_blocks: None) -> None:
    problem = _types_problem()
    _same(_run(problem, sim.serial_map), _run(problem, reversed_map))


def test_blocks_draw_independent_streams(small_blocks: None) -> None:
    """Two blocks of the same size under the same policy do not repeat each other."""
    problem = _types_problem()
    arrays = ProblemArrays.from_spec(problem.spec)
    tasks = sim.policy_tasks(
        arrays,
        np.array([0.1]),
        agent=AgentConfig("epsilon-greedy", epsilon=0.5),
        episodes=50,
        population=128,
        seed=3,
    )
    first, second = (sim.run_block(t) for t in tasks)
    assert not np.array_equal(first.counts, second.counts)
    # and each block is its own stream: run again alone, it gives the same bits
    assert np.array_equal(sim.run_block(tasks[1]).counts, second.counts)


@pytest.mark.parametrize("agent", ["epsilon-greedy", "exp3", "rational"])
def test_dask_gives_the_same_bits_as_one_process(
    small_blocks: None, scheduler: str, agent: str
) -> None:
    problem = _types_problem()
    local = _run(problem, sim.serial_map, agent)
    with dask_mapper(scheduler, workers=2) as mapper:
        remote = _run(problem, mapper, agent)
    _same(local, remote)


def test_cli_dask_output_equals_local(runner: CliRunner, scheduler: str) -> None:
    # 20,000 agents: two blocks of the shipped size (16,384), one per worker
    args = ["simulate", "coding_agent", "-a", "ucb", "-n", "20", "-k", "20000", "-f", "json"]
    local = runner.invoke(app, [*args, "--no-timing"])
    remote = runner.invoke(
        app, [*args, "--no-timing", "--executor", "dask", "--address", scheduler]
    )
    assert local.exit_code == remote.exit_code == 0, remote.stderr
    assert json.loads(local.stdout) == json.loads(remote.stdout)


def test_cli_address_needs_dask(runner: CliRunner) -> None:
    result = runner.invoke(app, ["simulate", "coding_agent", "--address", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "--address needs --executor dask" in result.stderr


def test_auditor_specs_run_in_one_process() -> None:
    problem = deter.load(PROBLEMS / "strategic_auditor.toml")
    with pytest.raises(ValueError, match="executor='dask' runs committed policies only"):
        problem.simulate(episodes=5, population=5, executor="dask")
