"""``deter experiment --env long``: the long-horizon env through the CLI (issue 23).

The same outputs as the coding env (results.json in the one envelope, results.md, the
policy documents with their designed figures), the long env's own conditions (designed with
``[horizon]``, plus the one-step optimum blind to the delay and, with PPO, the PPO-aware
design), and its error paths: each a located one-line message with exit 2, no traceback and
no folder left behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from deter.cli.app import app
from deter.solver.rl.experiment import ConditionError, build_conditions
from deter.solver.rl.study import LONG_TASK, long_conditions, predicted, run_long_experiment
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV
from tests.support.policy_gradient import double

SMALL = ["--seeds", "2", "--agents", "2", "--episodes", "10", "--no-plot"]


def invoke(*args: str) -> Any:
    return CliRunner(env=CLI_ENV).invoke(app, list(args), catch_exceptions=False)


def test_the_long_env_writes_the_coding_envs_outputs(tmp_path: Path) -> None:
    out = tmp_path / "long"
    result = invoke("experiment", "-o", str(out), "--env", "long", *SMALL, "--learners", "rational")
    assert result.exit_code == 0, result.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["kind"] == "experiment" and "schema_version" in doc
    params = doc["parameters"]
    assert params["env"] == "long" and params["margin"] == 0.15  # 0.5 has no policy there
    assert params["task"] == {
        "steps": 5, "audit_delay": 3, "retention": 0.95, "opportunity": 0.5, "discount": 0.95,
        "reward_noise": 0.0,
    }  # fmt: skip
    labels = [p["label"] for p in doc["policies"]]
    assert labels[:2] == ["none", "optimal, one-step"] and "optimal, margin 0.15" in labels
    # the rational agent is the check: honest exactly where the design for the task says so
    rows = {r["label"]: r for r in doc["tabular"]}
    assert rows["optimal, one-step"]["predicted_action"] == "test_tampering"
    assert rows["optimal, one-step"]["violation_after"] == 1.0
    assert rows["optimal"]["predicted_action"] == "honest"
    assert rows["optimal"]["violation_after"] == 0.0
    assert all(r["learner_kind"] == "rational" for r in doc["tabular"])
    assert "### rational" in (out / "results.md").read_text()
    coding = invoke("experiment", "-o", str(tmp_path / "c"), *SMALL, "--learners", "rational")
    assert coding.exit_code == 0, coding.stderr
    assert json.loads((tmp_path / "c" / "results.json").read_text())["parameters"]["env"] == (
        "coding"
    )


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--gae-lambda", "0.9"], "--gae-lambda is for --env long"),
        (["--env", "long", "--gae-lambda", "0"], "--gae-lambda must be in (0, 1]"),
        (["--env", "long", "--gae-lambda", "1.5"], "--gae-lambda"),
        (["--env", "longer"], "--env"),
        (["--env", "long", "--margin", "5"], "no policy"),
        (["--margin", "50"], "no policy"),  # the coding env: was an internal error (exit 5)
    ],
)
def test_bad_options_exit_2_with_one_line_and_no_folder(
    tmp_path: Path, extra: list[str], words: str
) -> None:
    out = tmp_path / "e"
    result = invoke("experiment", "-o", str(out), *SMALL, "--learners", "rational", *extra)
    assert result.exit_code == 2, result.output
    assert words in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_a_margin_without_a_policy_is_a_condition_error() -> None:
    with pytest.raises(ConditionError, match="optimal, margin 5"):
        build_conditions(margin=5.0)


def test_the_ppo_aware_design_joins_the_long_conditions_when_feasible() -> None:
    # PPO with lambda 0.95 credits 0.630 of a penalty 3 steps later (0.735 for gamma alone):
    # with 6,000 samples no policy gives it its Bernstein margins; with 3,000,000 one does
    learner = {"samples": 3_000_000, "confidence": 1 - 0.05 / 3}
    docs = long_conditions(LONG_TASK, learner=learner, ppo_lambda=0.95)
    aware = [d for d in docs if d["label"].startswith("ppo-aware")]
    assert len(aware) == 1 and "lambda 0.95" in aware[0]["label"]
    plain = next(d for d in docs if d["label"].startswith("learning-aware, bernstein"))
    assert aware[0]["designed"]["cost_per_episode"] > plain["designed"]["cost_per_episode"]
    assert predicted(aware[0], LONG_TASK) == "honest"
    few = long_conditions(LONG_TASK, learner={**learner, "samples": 6000}, ppo_lambda=0.95)
    assert not any(d["label"].startswith("ppo-aware") for d in few)


def test_the_long_experiment_trains_ppo_through_any_model() -> None:
    result = run_long_experiment(
        seeds=2, agents=2, episodes=10, learners=(), ppo_seeds=2, ppo_timesteps=512,
        make_model=double, margin=0.15,
    )  # fmt: skip
    assert result.parameters["ppo_aware_feasible"] is False  # 1 sample: no margins to give
    assert [r.label for r in result.ppo] == [p["label"] for p in result.policies]
    none = next(r for r in result.ppo if r.label == "none")
    assert none.seeds == 2 and none.learner_kind == "ppo"
    assert result.to_dict()["ppo"][0]["violation_after_ci"][1] <= 1.0
