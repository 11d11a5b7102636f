"""``deter experiment``: train learning agents under oversight policies (docs/experiments.md).

A short adapter: parse the options, run ``deter.solver.rl.experiment``, write the results.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ...solver.report.files import write_atomic
from ..common import err, fail, guarded, info, progress
from ..exit_codes import ExitCode
from ..options import DebugOption
from .batch import AddressOption, Executor, WorkersOption


class Env(StrEnum):
    """The experiment's environment (docs/experiments.md)."""

    coding = "coding"
    long = "long"


#: The 'optimal, margin' policy's margin per env: 0.5 admits no policy in the long env.
DEFAULT_MARGIN = {Env.coding: 0.5, Env.long: 0.15}


def experiment(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Folder for results.json, results.md and the learning curves (PNG).",
        ),
    ],
    seeds: Annotated[
        int,
        typer.Option(
            "--seeds", min=2, max=1000, help="Independent runs per policy (at most 1000)."
        ),
    ] = 20,
    agents: Annotated[
        int,
        typer.Option(
            "--agents", min=1, max=100_000, help="Tabular agents per run (at most 100,000)."
        ),
    ] = 200,
    episodes: Annotated[
        int,
        typer.Option(
            "--episodes",
            min=10,
            max=1_000_000,
            help="Training episodes per tabular agent (at most 1,000,000).",
        ),
    ] = 5000,
    epsilon: Annotated[
        float, typer.Option("--epsilon", min=0.0, max=1.0, help="Tabular exploration rate.")
    ] = 0.1,
    env: Annotated[
        Env,
        typer.Option(
            "--env",
            help="coding: deter/CodingTask-v0 (one step a task); long: deter/LongTask-v0 (5 "
            "steps, penalties 3 steps later, unseen audits; its policies designed with "
            "[horizon], plus the one-step optimum and, with --ppo-seeds, the PPO-aware design).",
        ),
    ] = Env.coding,
    margin: Annotated[
        float | None,
        typer.Option(
            "--margin",
            min=0.0,
            max=1e6,
            help="The margin of the 'optimal, margin' policy [default: 0.5; 0.15 with --env long].",
            show_default=False,
        ),
    ] = None,
    delta: Annotated[
        float,
        typer.Option(
            "--delta",
            min=1e-9,
            max=0.999,
            help="The learning-aware policy's target: P(a learner ends on any shortcut) at most "
            "this ([learner], docs/model.md).",
        ),
    ] = 0.05,
    learners: Annotated[
        str,
        typer.Option(
            "--learners",
            help="Comma-separated populations to train: epsilon-greedy, hedge (full "
            "information), exp3 (bandit feedback), rational (knows the policy).",
        ),
    ] = "epsilon-greedy",
    ppo_seeds: Annotated[
        int,
        typer.Option(
            "--ppo-seeds",
            min=0,
            max=100,
            help="PPO runs per policy (0: none; at most 100; needs deter[experiment]).",
        ),
    ] = 0,
    ppo_timesteps: Annotated[
        int,
        typer.Option(
            "--ppo-timesteps",
            min=256,
            max=10_000_000,
            help="PPO training steps per run (at most 10,000,000).",
        ),
    ] = 10_000,
    gae_lambda: Annotated[
        float,
        typer.Option(
            "--gae-lambda",
            min=0.0,
            max=1.0,
            help="--env long: PPO's GAE lambda, in (0, 1], and the PPO-aware design's ([learner] "
            'algorithm = "ppo"; docs/model.md).',
        ),
    ] = 0.95,
    seed: Annotated[int, typer.Option("--seed", min=0, help="First seed.")] = 0,
    executor: Annotated[
        Executor,
        typer.Option(
            "--executor",
            help="local: this process; dask: the seeds' populations on a Dask cluster "
            "(the same results bit for bit; PPO stays in this process).",
        ),
    ] = Executor.local,
    address: AddressOption = None,
    workers: WorkersOption = 2,
    plot: Annotated[
        bool, typer.Option("--plot/--no-plot", help="Draw learning curves (needs matplotlib).")
    ] = True,
    debug: DebugOption = False,
) -> None:
    """Train learning agents under no oversight, deter's policies and an always-on judge.

    Reports violation rates during and after training, oversight cost, the honest agent's
    loss to false flags and the training reward, each with a 95% interval over seeds.
    """

    if address and executor is not Executor.dask:
        fail(ExitCode.BAD_INPUT, "error: --address needs --executor dask")
    if gae_lambda == 0:
        fail(ExitCode.BAD_INPUT, "error: --gae-lambda must be in (0, 1], not 0")
    if env is Env.coding and gae_lambda != 0.95:
        fail(
            ExitCode.BAD_INPUT,
            "error: --gae-lambda is for --env long (in the coding env an episode is one step: "
            "lambda changes nothing)",
        )
    chosen_margin = DEFAULT_MARGIN[env] if margin is None else margin

    def body() -> int:
        if ppo_seeds:
            try:
                import stable_baselines3  # noqa: F401
            except ImportError:
                fail(
                    ExitCode.BAD_INPUT,
                    "error: --ppo-seeds needs stable-baselines3: pip install 'deter[experiment]'",
                )
        if output.exists() and not output.is_dir():
            fail(ExitCode.BAD_INPUT, f"error: {output}: exists and is not a folder")
        _check_creatable(output)
        from ...solver.batch.dask_executor import ClusterLost, DaskUnavailable, dask_mapper
        from ...solver.rl.experiment import (
            ConditionError,
            Experiment,
            markdown_table,
            run_experiment,
        )
        from ...solver.rl.learners import LEARNERS
        from ...solver.rl.study import run_long_experiment
        from ...solver.simulation.simulate import Mapper, serial_map

        kinds = [k.strip() for k in learners.split(",") if k.strip()]
        unknown = [k for k in kinds if k not in LEARNERS]
        if unknown or not kinds or len(set(kinds)) != len(kinds):
            fail(
                ExitCode.BAD_INPUT,
                f"error: --learners {learners!r}: give each of {', '.join(LEARNERS)} at most "
                "once, comma-separated",
            )

        with contextlib.ExitStack() as stack, progress(f"training {seeds} seeds x {agents} agents"):
            # one mapper for either env's tasks (coding: TabularTask, long: PopulationTask)
            mapper: Mapper[Any, Any] = serial_map
            if executor is Executor.dask:
                try:
                    mapper = stack.enter_context(dask_mapper(address, workers))
                except DaskUnavailable as exc:
                    fail(ExitCode.BAD_INPUT, f"error: {exc}")
            try:
                run = (
                    functools.partial(run_long_experiment, gae_lambda=gae_lambda, mapper=mapper)
                    if env is Env.long
                    else functools.partial(run_experiment, mapper=mapper)
                )
                result: Experiment = run(
                    seeds=seeds,
                    agents=agents,
                    episodes=episodes,
                    epsilon=epsilon,
                    margin=chosen_margin,
                    delta=delta,
                    learners=kinds,
                    ppo_seeds=ppo_seeds,
                    ppo_timesteps=ppo_timesteps,
                    seed=seed,
                    progress=info,
                )
            except ClusterLost as exc:  # the cluster went while seeds were out
                fail(ExitCode.SOLVER_FAILED, f"error: {exc}")
            except ConditionError as exc:  # e.g. a --margin no monitoring can give
                fail(ExitCode.BAD_INPUT, f"error: {exc}; change the option that sets it")
        table = "\n".join(
            f"### {rows[0].learner}\n\n" + markdown_table(rows)
            for kind in kinds
            if (rows := [r for r in result.tabular if r.learner_kind == kind])
        )
        if result.ppo:
            table += "\n### PPO (stable-baselines3)\n\n" + markdown_table(result.ppo)
        # made once there is something to put in it: an interrupted run leaves no empty folder
        output.mkdir(parents=True, exist_ok=True)
        write_atomic(output / "results.json", json.dumps(result.to_dict(), indent=2) + "\n")
        write_atomic(output / "results.md", table)
        if plot:
            from ...solver.rl.plots import learning_curves_png

            runs = f"{seeds} seeds x {agents} agents"
            try:
                figures = {
                    _figure_name(kind): learning_curves_png(rows, f"{rows[0].learner} ({runs})")
                    for kind in kinds
                    if (rows := [r for r in result.tabular if r.learner_kind == kind])
                }
                if result.ppo:
                    figures["ppo.png"] = learning_curves_png(result.ppo, f"PPO ({ppo_seeds} seeds)")
            except ImportError:  # matplotlib is an optional extra
                err("note: no plots without matplotlib (deter needs it: pip install matplotlib)")
                figures = {}
            for name, png in figures.items():
                write_atomic(output / name, png)
        typer.echo(table, nl=False)
        err(f"wrote {output}/ in {result.seconds:.1f} s")
        return int(ExitCode.OK)

    raise typer.Exit(guarded(debug, body))


def _check_creatable(output: Path) -> None:
    """Fail now, not after the experiment, when ``output`` could not be made: its nearest
    existing folder must be writable (the folder itself is made only when results exist)."""
    existing = output
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        fail(ExitCode.BAD_INPUT, f"error: {output}: cannot create a folder in {str(existing)!r}")


def _figure_name(kind: str) -> str:
    """epsilon-greedy keeps its historical ``tabular.png``; the others are named by kind."""
    return "tabular.png" if kind == "epsilon-greedy" else f"{kind}.png"
