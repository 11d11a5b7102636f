"""``deter experiment`` on Dask (issue 23 item 4): each (policy, seed) population is a task
carrying its own seed, so a cluster gives the same results bit for bit as one process."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from deter.cli.app import app
from deter.solver.batch.dask_executor import dask_mapper
from deter.solver.rl.experiment import build_conditions, run_tabular, train_task
from deter.solver.simulation.simulate import serial_map
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV
from tests.support.dask_cluster import local_scheduler, reversed_map


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A local cluster started by the test: two worker processes, one thread each."""
    with local_scheduler(workers=2) as address:
        yield address


@pytest.fixture(scope="module")
def policies() -> list[dict[str, Any]]:
    docs = {d["label"]: d for d in build_conditions()}
    return [docs["optimal"], docs["optimal x1.2"]]


def _recording(mapper: Callable[..., Any], captured: list[Any]) -> Callable[..., list[Any]]:
    """``mapper``, keeping every task's raw run in ``captured``."""

    def recording(function: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
        out = mapper(function, tasks)
        captured.extend(out)
        return out

    return recording


def _runs(policies: list[dict[str, Any]], mapper: Callable[..., Any], learner: str) -> list[Any]:
    """Every task's raw run, through ``mapper`` (the curves, counts and final actions)."""
    captured: list[Any] = []
    recording = _recording(mapper, captured)
    results = run_tabular(
        policies, seeds=3, agents=20, episodes=60, learner=learner, mapper=recording
    )
    return [results, captured]


def _same(left: list[Any], right: list[Any]) -> None:
    (a, runs_a), (b, runs_b) = left, right
    assert json.dumps([r.to_dict() for r in a]) == json.dumps([r.to_dict() for r in b])
    assert len(runs_a) == len(runs_b) == 6
    for x, y in zip(runs_a, runs_b, strict=True):
        assert np.array_equal(x.violation_curve, y.violation_curve)
        assert np.array_equal(x.samples, y.samples)
        assert np.array_equal(x.greedy, y.greedy)


def test_the_result_does_not_depend_on_the_order_seeds_run(policies: list) -> None:
    _same(_runs(policies, serial_map, "hedge"), _runs(policies, reversed_map, "hedge"))


def test_each_task_is_its_own_stream(policies: list) -> None:
    _, runs = _runs(policies, serial_map, "epsilon-greedy")
    assert not np.array_equal(runs[0].samples, runs[1].samples)  # seeds differ
    # ... and a task run alone gives the same bits
    from deter.solver.rl.experiment import TabularTask

    again = train_task(TabularTask(policies[0], 20, 60, 1, 0.1, "epsilon-greedy"))
    assert np.array_equal(again.samples, runs[1].samples)


@pytest.mark.parametrize("learner", ["epsilon-greedy", "hedge", "exp3"])
def test_dask_gives_the_same_bits_as_one_process(
    policies: list, scheduler: str, learner: str
) -> None:
    local = _runs(policies, serial_map, learner)
    with dask_mapper(scheduler, workers=2) as mapper:
        remote = _runs(policies, mapper, learner)
    _same(local, remote)


def test_cli_dask_results_equal_local(tmp_path: Path, scheduler: str) -> None:
    runner = CliRunner(env=CLI_ENV)
    args = ["experiment", "--seeds", "2", "--agents", "5", "--episodes", "30", "--no-plot"]
    args += ["--learners", "epsilon-greedy,rational"]
    local = runner.invoke(app, [*args, "-o", str(tmp_path / "l")])
    remote = runner.invoke(
        app, [*args, "-o", str(tmp_path / "r"), "--executor", "dask", "--address", scheduler]
    )
    assert local.exit_code == remote.exit_code == 0, remote.stderr
    left = json.loads((tmp_path / "l" / "results.json").read_text())
    right = json.loads((tmp_path / "r" / "results.json").read_text())
    left.pop("timing"), right.pop("timing")
    assert left == right
    assert (tmp_path / "l" / "results.md").read_text() == (
        tmp_path / "r" / "results.md"
    ).read_text()


def test_cli_address_needs_dask(tmp_path: Path) -> None:
    result = CliRunner(env=CLI_ENV).invoke(
        app, ["experiment", "-o", str(tmp_path / "x"), "--address", "tcp://127.0.0.1:1"]
    )
    assert result.exit_code == 2
    assert "--address needs --executor dask" in result.stderr


def _long_runs(mapper: Callable[..., Any], learner: str) -> list[Any]:
    """The long env's populations (issue 23 item 4: both envs on Dask), with every raw run."""
    from deter.solver.rl.study import LONG_TASK, long_conditions

    docs = {d["label"]: d for d in long_conditions(LONG_TASK, margin=0.15)}
    chosen = [docs[label] for label in list(docs)[:2]]
    captured: list[Any] = []
    recording = _recording(mapper, captured)
    from deter.solver.rl.study import run_learners

    results = run_learners(
        chosen, learner, task=LONG_TASK, seeds=3, agents=10, episodes=40, mapper=recording
    )
    return [results, captured]


def _same_long(left: list[Any], right: list[Any]) -> None:
    (a, runs_a), (b, runs_b) = left, right
    assert json.dumps([r.to_dict() for r in a]) == json.dumps([r.to_dict() for r in b])
    assert len(runs_a) == len(runs_b) == 6
    for x, y in zip(runs_a, runs_b, strict=True):
        assert np.array_equal(x.violation_curve, y.violation_curve)
        assert np.array_equal(x.final, y.final)


def test_the_long_envs_result_does_not_depend_on_the_order_seeds_run() -> None:
    _same_long(_long_runs(serial_map, "hedge"), _long_runs(reversed_map, "hedge"))


@pytest.mark.parametrize("learner", ["epsilon-greedy", "exp3"])
def test_the_long_env_on_dask_gives_the_same_bits(scheduler: str, learner: str) -> None:
    local = _long_runs(serial_map, learner)
    assert not np.array_equal(local[1][0].final, local[1][1].final)  # seeds differ
    with dask_mapper(scheduler, workers=2) as mapper:
        remote = _long_runs(mapper, learner)
    _same_long(local, remote)


def test_cli_long_env_dask_results_equal_local(tmp_path: Path, scheduler: str) -> None:
    runner = CliRunner(env=CLI_ENV)
    args = ["experiment", "--env", "long", "--seeds", "2", "--agents", "5", "--episodes", "30"]
    args += ["--no-plot", "--learners", "epsilon-greedy,rational"]
    local = runner.invoke(app, [*args, "-o", str(tmp_path / "l")])
    remote = runner.invoke(
        app, [*args, "-o", str(tmp_path / "r"), "--executor", "dask", "--address", scheduler]
    )
    assert local.exit_code == remote.exit_code == 0, remote.stderr
    left = json.loads((tmp_path / "l" / "results.json").read_text())
    right = json.loads((tmp_path / "r" / "results.json").read_text())
    left.pop("timing"), right.pop("timing")
    assert left == right
    assert left["parameters"]["env"] == "long"
