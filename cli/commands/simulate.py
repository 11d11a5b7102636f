"""``deter simulate``: play the designed policy against simulated agents.

The solver (cvxpy) and numpy-heavy simulation are imported inside the command, so
``deter --help`` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ...solver.results.errors import SpecError
from ...solver.spec.document import did_you_mean
from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..exit_codes import ExitCode, for_status
from ..options import DebugOption, MaxSizeOption, OutputOption, SpecArgument

if TYPE_CHECKING:
    from ...solver.model.arrays import ProblemArrays
    from ...solver.simulation.simulate import Policy
    from ...solver.spec.document import Spec


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
    episodes: Annotated[int, typer.Option("--episodes", "-n", min=1, help="Episodes.")] = 2000,
    population: Annotated[
        int, typer.Option("--population", "-k", min=1, help="Independent agents, at once.")
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
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Draw the violation rate over episodes (.png, .svg, .pdf)."),
    ] = None,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    debug: DebugOption = False,
) -> None:
    """Simulate agents under the designed oversight: does deterrence hold in data?

    Each episode every agent acts, each monitor inspects with probability equal to its rate,
    inspections catch with the monitor's detection probability and caught agents pay the
    penalty. Reports violation rates (overall and over the last 10% of episodes), detections,
    realised oversight cost and payoffs with 95% confidence intervals across the population,
    beside the solver's prediction. Exit codes: 0 simulated; 1 no policy (infeasible spec
    and no --rates); 2 bad input; 3 no verified answer.
    """
    from ..common import (
        emit,
        err,
        fail,
        guarded,
        read_spec,
        stdout_is_colour_terminal,
        terminal_width,
    )

    if plot is not None and plot.suffix.lower() not in (".png", ".svg", ".pdf"):
        fail(ExitCode.BAD_INPUT, f"error: --plot {plot}: use a .png, .svg or .pdf file name")

    def body() -> int:
        if plot is not None:
            from ..plots.simulate import PlotUnavailable, require_matplotlib

            try:
                require_matplotlib()
            except PlotUnavailable as exc:
                fail(ExitCode.BAD_INPUT, f"error: {exc}")
        parsed = read_spec(spec, max_size)
        from ...solver.model.arrays import ProblemArrays
        from ...solver.simulation.simulate import AgentConfig, AgentTypes
        from ...solver.simulation.simulate import simulate as run

        arrays = ProblemArrays.from_spec(parsed)
        if arrays.roc:  # refused before solving: the solve of an ROC spec takes a while
            names = sorted({arrays.monitor_names[curve.monitor] for curve in arrays.roc})
            fail(
                ExitCode.BAD_INPUT,
                f"error: {parsed.source_file}: monitors.roc ({', '.join(names)}): "
                "simulating monitors described by ROC curves is not supported yet; "
                "replace the roc curve by the detects and false_positive of one "
                "operating point to simulate it",
            )
        if getattr(parsed, "auditor", None) is not None and not rates:
            return _simulate_auditor(parsed, arrays)
        bases = _base_policies(parsed, arrays, rates or [])
        policies = _scaled(bases, rates_scale or [1.0])
        kind = (agent or AgentChoice.rational).value
        config = AgentConfig(kind=kind, epsilon=epsilon, gamma=gamma)  # type: ignore[arg-type]
        try:
            result = run(
                arrays,
                policies,
                agent=config,
                episodes=episodes,
                population=population,
                seed=seed,
                schedule=schedule.value,
                name=parsed.name,
                file=parsed.source_file,
                types=AgentTypes.from_spec(parsed),
            )
        except ValueError as exc:
            fail(ExitCode.BAD_INPUT, f"error: {exc}")
        for policy in result.runs:
            for note in policy.warnings:
                err(f"note: {policy.label}: {note}")
        from ..render.simulate import render_simulation

        text = render_simulation(
            result,
            format.value,
            color=output is None and stdout_is_colour_terminal(),
            width=terminal_width(),
        )
        emit(text, output)
        if plot is not None:
            from ..plots.simulate import plot_simulation

            plot_simulation(result, plot)
            err(f"wrote {plot}")
        return int(ExitCode.OK)

    def _simulate_auditor(parsed: Spec, arrays: ProblemArrays) -> int:
        """Both sides learn: the agent and an auditor who picks its own inspection rate."""
        from ...solver.simulation.auditor import AuditorParams, simulate_auditor, spec_equilibrium
        from ...solver.simulation.simulate import AgentConfig

        if rates_scale:
            err(
                "note: --rates-scale is ignored: with an [auditor] nobody commits to rates "
                "(give --rates to simulate a committed policy instead)"
            )
        kind = (agent or AgentChoice.exp3).value
        params = AuditorParams.from_spec(parsed)
        assert params is not None
        try:
            result = simulate_auditor(
                arrays,
                params,
                agent=AgentConfig(kind=kind, epsilon=epsilon, gamma=gamma),  # type: ignore[arg-type]
                episodes=episodes,
                population=population,
                seed=seed,
                equilibrium=spec_equilibrium(parsed),
                name=parsed.name,
                file=parsed.source_file,
            )
        except ValueError as exc:
            fail(ExitCode.BAD_INPUT, f"error: {exc}")
        from ..render.simulate import render_auditor_simulation

        text = render_auditor_simulation(
            result,
            format.value,
            color=output is None and stdout_is_colour_terminal(),
            width=terminal_width(),
        )
        emit(text, output)
        if plot is not None:
            from ..plots.simulate import plot_auditor_simulation

            plot_auditor_simulation(result, plot)
            err(f"wrote {plot}")
        return int(ExitCode.OK)

    raise typer.Exit(guarded(debug, body))


def parse_rates(text: str, arrays: ProblemArrays) -> dict[str, float]:
    """'a=0.2,b=0.1' -> {monitor: rate}; every name known, every rate a number in [0, 1]."""
    found: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise SpecError.single("--rates", f"{item!r} is not of the form monitor=rate")
        if name not in arrays.monitor_names:
            raise SpecError.single(
                "--rates", f"unknown monitor {name!r}" + did_you_mean(name, arrays.monitor_names)
            )
        try:
            rate = float(value)
        except ValueError:
            raise SpecError.single(
                "--rates", f"{name}: {value.strip()!r} is not a number"
            ) from None
        if not 0.0 <= rate <= 1.0:
            raise SpecError.single("--rates", f"{name}: the rate {rate:g} is outside [0, 1]")
        if name in found:
            raise SpecError.single("--rates", f"monitor {name!r} is given twice")
        found[name] = rate
    if not found:
        raise SpecError.single("--rates", "no monitor=rate pairs given")
    return found


def _base_policies(spec: Spec, arrays: ProblemArrays, given: list[str]) -> list[Policy]:
    """The explicit --rates policies, or else the solver's verified optimum."""
    import numpy as np

    from ...solver.simulation.simulate import Policy

    if given:
        policies = []
        for k, text in enumerate(given):
            chosen = parse_rates(text, arrays)
            rates = arrays.min_rate.copy()
            for j, name in enumerate(arrays.monitor_names):
                rates[j] = chosen.get(name, rates[j])
            label = "rates" if len(given) == 1 else f"rates{k + 1}"
            policies.append(Policy(label, rates))
        return policies
    from ...solver.engine.solve import solve

    result = solve(spec)
    if result.status != "optimal":
        code = for_status(result.status)
        typer.echo(f"{result.file}: {result.status}: {result.message}", err=True)
        typer.echo("no optimal policy to simulate; give one with --rates", err=True)
        raise typer.Exit(int(code))
    rates = np.array([m.rate for m in result.monitors], dtype=float)
    penalties = np.array([a.penalty for a in result.actions], dtype=float)
    return [Policy("optimal", rates, penalties=penalties)]


def _scaled(bases: list[Policy], scales: list[float]) -> list[Policy]:
    from ...solver.simulation.simulate import Policy

    for scale in scales:
        if not scale >= 0 or scale != scale or scale == float("inf"):
            raise SpecError.single("--rates-scale", f"{scale:g} must be a finite number >= 0")
    out = []
    for base in bases:
        for scale in scales:
            label = base.label if scale == 1.0 else f"{base.label} x{scale:g}"
            out.append(Policy(label, base.rates * scale, scale, base.penalties))
    return out
