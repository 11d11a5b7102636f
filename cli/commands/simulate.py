"""``deter simulate``: play the designed policy against simulated agents.

The solver (cvxpy) and numpy-heavy simulation are imported inside the command, so
``deter --help`` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..common import solver_choice
from ..exit_codes import ExitCode, for_status
from ..options import (
    DebugOption,
    MaxSizeOption,
    NoTimingOption,
    OutputOption,
    SolverOption,
    SpecArgument,
)
from .batch import AddressOption, Executor, WorkersOption


class AgentChoice(StrEnum):
    rational = "rational"
    epsilon_greedy = "epsilon-greedy"
    ucb = "ucb"
    exp3 = "exp3"


class ScheduleChoice(StrEnum):
    coordinated = "coordinated"
    independent = "independent"


class SimFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


def simulate(
    spec: SpecArgument,
    agent: Annotated[
        AgentChoice | None,
        typer.Option(
            "--agent",
            "-a",
            help="rational (knows the policy; the default) or a "
            "learner that sees only its own payoffs: epsilon-greedy, ucb (UCB1), exp3 "
            "(the default against an [auditor], who learns too).",
        ),
    ] = None,
    # The limits are the library's (solver/simulation/limits.py: MAX_EPISODES,
    # MAX_POPULATION), written out so that --help does not load numpy; a test holds them equal.
    episodes: Annotated[
        int,
        typer.Option(
            "--episodes", "-n", min=1, max=1_000_000, help="Episodes (at most 1,000,000)."
        ),
    ] = 2000,
    population: Annotated[
        int,
        typer.Option(
            "--population",
            "-k",
            min=1,
            max=1_000_000,
            help="Independent agents, at once (at most 1,000,000; episodes x agents at most 1e9).",
        ),
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of every random draw.")] = 0,
    rates: Annotated[
        list[str] | None,
        typer.Option(
            "--rates",
            help="A policy to simulate instead of the solver's optimum, "
            "e.g. 'llm_judge=0.2,human_review=0.1' (unnamed monitors at min_rate); "
            "repeatable.",
        ),
    ] = None,
    rates_scale: Annotated[
        list[float] | None,
        typer.Option(
            "--rates-scale",
            help="Multiply the policy's rates by this (e.g. 0.9, "
            "just below deterrence); repeatable: one simulated policy per value.",
        ),
    ] = None,
    schedule: Annotated[
        ScheduleChoice,
        typer.Option(
            "--schedule",
            help="coordinated: monitors inspect disjoint episodes "
            "(the model's linear detection); independent: each tosses its own coin.",
        ),
    ] = ScheduleChoice.coordinated,
    epsilon: Annotated[
        float, typer.Option("--epsilon", min=0.0, max=1.0, help="epsilon-greedy exploration.")
    ] = 0.05,
    gamma: Annotated[
        float | None,
        typer.Option(
            "--gamma",
            min=0.0,
            max=1.0,
            help="exp3 exploration (default: Auer et al.'s horizon-tuned value).",
        ),
    ] = None,
    format: Annotated[SimFormat, typer.Option("--format", "-f", help="Output format.")] = (
        SimFormat.table
    ),
    output: OutputOption = None,
    no_timing: NoTimingOption = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Draw the violation rate over episodes (.png, .svg, .pdf)."),
    ] = None,
    executor: Annotated[
        Executor,
        typer.Option(
            "--executor",
            help="local: this process; dask: the agents' blocks on a Dask cluster "
            "(the same results bit for bit).",
        ),
    ] = Executor.local,
    address: AddressOption = None,
    workers: WorkersOption = 2,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    solver: SolverOption = None,
    debug: DebugOption = False,
) -> None:
    """Simulate agents under the designed oversight: does deterrence hold in data?

    Each episode every agent acts, each monitor inspects with probability equal to its rate,
    inspections catch with the monitor's detection probability and caught agents pay the
    penalty. Reports violation rates (overall and over the last 10% of episodes), detections,
    realised oversight cost and payoffs with 95% confidence intervals across the population,
    beside the solver's prediction. Exit 1 when there is no policy to simulate (the spec
    cannot be met and no --rates is given); 4 for a valid spec the simulator cannot play
    (monitors described by ROC curves).
    """
    from ..common import (
        can_write,
        emit,
        err,
        fail,
        guarded,
        info,
        read_spec,
        stdout_is_colour_terminal,
        terminal_width,
    )

    if address and executor is not Executor.dask:
        fail(ExitCode.BAD_INPUT, "error: --address needs --executor dask")
    if plot is not None and plot.suffix.lower() not in (".png", ".svg", ".pdf"):
        fail(ExitCode.BAD_INPUT, f"error: --plot {plot}: use a .png, .svg or .pdf file name")

    def body() -> int:
        from ...solver.report.figures import PlotUnavailable, require_matplotlib

        if plot is not None:
            try:
                require_matplotlib()
            except PlotUnavailable as exc:
                fail(ExitCode.BAD_INPUT, f"error: {exc}")
        can_write(output, plot)  # before simulating: neither is written when one cannot be
        parsed = read_spec(spec, max_size)
        from ...solver.batch.dask_executor import ClusterLost, DaskUnavailable
        from ...solver.model.arrays import ProblemArrays
        from ...solver.problem import Problem
        from ...solver.simulation.auditor import AuditorSimulation
        from ...solver.simulation.policies import NoPolicyError, check_simulable

        scales = rates_scale
        if parsed.auditor is not None and not rates and rates_scale:
            # The library refuses a scale nobody commits to; the command says so and goes on.
            check_simulable(parsed, ProblemArrays.from_spec(parsed))  # its error comes first
            info(
                "note: --rates-scale is ignored: with an [auditor] nobody commits to rates "
                "(give --rates to simulate a committed policy instead)"
            )
            scales = None
        try:
            result = Problem(parsed, solvers=solver_choice(solver)).simulate(
                agent=None if agent is None else agent.value,
                episodes=episodes,
                population=population,
                seed=seed,
                rates=rates or None,
                rates_scale=scales or None,
                schedule=schedule.value,
                epsilon=epsilon,
                gamma=gamma,
                executor=executor.value,
                address=address,
                workers=workers,
            )
        except NoPolicyError as exc:
            err(f"{exc.result.file}: {exc.result.status}: {exc.result.message}")
            err("no optimal policy to simulate; give one with --rates")
            return int(for_status(exc.result.status))
        except ValueError as exc:
            fail(ExitCode.BAD_INPUT, f"error: {exc}")
        except DaskUnavailable as exc:
            fail(ExitCode.BAD_INPUT, f"error: {exc}")
        except ClusterLost as exc:
            fail(ExitCode.SOLVER_FAILED, f"error: {exc}")
        color = output is None and stdout_is_colour_terminal()
        if isinstance(result, AuditorSimulation):
            from ...solver.report.simulate_figures import plot_auditor_simulation
            from ..render.simulate import render_auditor_simulation

            text = render_auditor_simulation(
                result, format.value, color=color, width=terminal_width(), timing=not no_timing
            )
            emit(text, output)
            if plot is not None:
                plot_auditor_simulation(result, plot)
                info(f"wrote {plot}")
            return int(ExitCode.OK)
        from ...solver.report.simulate_figures import plot_simulation
        from ..render.simulate import render_simulation

        for policy in result.runs:
            for note in policy.warnings:
                info(f"note: {policy.label}: {note}")
        text = render_simulation(
            result, format.value, color=color, width=terminal_width(), timing=not no_timing
        )
        emit(text, output)
        if plot is not None:
            plot_simulation(result, plot)
            info(f"wrote {plot}")
        return int(ExitCode.OK)

    raise typer.Exit(guarded(debug, body))
