"""Real Inspect logs (written by inspect-ai with its mock model, no network) read back through
inspect-ai's own log API by ``deter fit``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deter.solver.control.fit import FitOptions, fit_samples
from deter.solver.control.samples import HONEST, read_samples
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.scorer import Score, Target, mean, scorer
from inspect_ai.solver import TaskState, generate

from tests.support.inspect_mock import mock_model

# (eval_mode, side task, suspicion, main task success)
ROWS = [
    ("honest", None, 1.0, True),
    ("honest", None, 2.0, True),
    ("honest", None, 3.0, False),
    ("honest", None, 0.0, True),
    ("attack", "backdoor", 3.0, True),
    ("attack", "backdoor", 4.0, False),
    ("attack", "exfil", 5.0, True),
    ("attack", "exfil", 2.0, True),
]


@scorer(metrics=[mean()])
def suspicion() -> Any:
    async def score(state: TaskState, target: Target) -> Score:
        return Score(value=state.metadata["suspicion"])

    return score


@scorer(metrics=[mean()])
def main_task_success() -> Any:
    async def score(state: TaskState, target: Target) -> Score:
        return Score(value="C" if state.metadata["main"] else "I")

    return score


def control_task() -> Task:
    samples = [
        Sample(
            input=f"task {i}",
            id=f"s{i}",
            metadata={
                "eval_mode": mode,
                "side_task_name": side,
                "suspicion": score,
                "main": main,
            },
        )
        for i, (mode, side, score, main) in enumerate(ROWS)
    ]
    return Task(dataset=samples, solver=generate(), scorer=[suspicion(), main_task_success()])


@pytest.fixture(scope="module", params=["eval", "json"])
def log_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp(f"logs_{request.param}")
    logs = eval(
        control_task(),
        model=mock_model(),
        log_dir=str(folder),
        log_format=request.param,
        display="none",
    )
    assert logs[0].status == "success"
    return Path(logs[0].location)


def test_inspect_log_reads_as_samples(log_file: Path) -> None:
    samples = read_samples([log_file])
    assert samples.monitors == ("suspicion",)
    kinds = samples.frame["kind"].tolist()
    assert kinds == [HONEST] * 4 + ["backdoor", "backdoor", "exfil", "exfil"]
    assert sorted(samples.scores("suspicion").tolist()) == sorted(r[2] for r in ROWS)
    assert samples.frame["main_task_success"].tolist() == [float(r[3]) for r in ROWS]
    assert samples.frame["where"].iloc[0] == "sample s0 epoch 1"


def test_inspect_log_fits_a_spec(log_file: Path) -> None:
    fitted = fit_samples(read_samples([log_file]), FitOptions(delta=None))
    curve = fitted.curve("suspicion")
    # backdoor scores 3, 4 against honest 0..3: threshold 4 flags no honest sample and half
    # the backdoors
    assert curve.detection("backdoor", 0.0) == 0.5
    assert fitted.counts == {HONEST: 4, "backdoor": 2, "exfil": 2}


def test_a_broken_log_is_a_located_error(tmp_path: Path) -> None:
    from deter.solver.results.errors import SpecError

    bad = tmp_path / "broken.eval"
    bad.write_bytes(b"not a zip")
    with pytest.raises(SpecError, match="cannot read as an Inspect log") as raised:
        read_samples([bad])
    assert raised.value.issues[0].file == str(bad)
