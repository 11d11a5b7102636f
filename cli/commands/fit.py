"""``deter fit``: scored trajectories (tables, ControlArena samples, Inspect logs) to a spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ...solver.spec.limits import MAX_MAGNITUDE
from ..common import can_write, emit, err, guarded, info
from ..exit_codes import ExitCode
from ..options import DebugOption


def _pairs(values: list[str] | None, option: str, number: bool) -> dict[str, object]:
    out: dict[str, object] = {}
    for value in values or []:
        key, sep, raw = value.partition("=")
        if not sep or not key.strip() or not raw.strip():
            raise typer.BadParameter(f"expected NAME=VALUE, not {value!r}", param_hint=option)
        if number:
            try:
                out[key.strip()] = float(raw)
            except ValueError:
                raise typer.BadParameter(f"{raw!r} is not a number", param_hint=option) from None
        else:
            out[key.strip()] = raw.strip()
    return out


def fit(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Scored samples: .csv, .jsonl, .parquet, .json (records or an Inspect log) "
            "or .eval (Inspect; needs deter[inspect]).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the spec here (atomically); default stdout."),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            "--calibration",
            help="Also write each monitor's thresholds and curves as JSON (for the runtime).",
        ),
    ] = None,
    delta: Annotated[
        float,
        typer.Option(
            "--delta",
            min=1e-12,
            max=0.5,
            help="Fit the pessimistic edge of confidence bands that all hold with probability "
            ">= 1 - delta.",
        ),
    ] = 0.05,
    band: Annotated[
        str | None,
        typer.Option(
            "--band",
            help="dkw (the same width at every rate; the default) or binomial (narrow at small "
            "flag rates, where deterrence is cheap); for --roc empirical.",
        ),
    ] = None,
    roc: Annotated[
        str,
        typer.Option(
            "--roc",
            help="empirical (the data's operating points, made concave) or binormal (a normal "
            "per class by maximum likelihood, made concave; its band is parametric: valid "
            "only if the scores are normal).",
        ),
    ] = "empirical",
    no_band: Annotated[
        bool, typer.Option("--no-band", help="Fit the point curves (no confidence band).")
    ] = False,
    action: Annotated[
        list[str] | None,
        typer.Option("--action", help="Map an attack kind to an action: KIND=ACTION."),
    ] = None,
    drop_unknown: Annotated[
        bool,
        typer.Option("--drop-unknown", help="Drop (and count) attack kinds --action omits."),
    ] = False,
    gain: Annotated[
        list[str] | None, typer.Option("--gain", help="An action's gain: ACTION=NUMBER.")
    ] = None,
    default_gain: Annotated[
        float | None, typer.Option("--default-gain", help="Gain of actions without --gain.")
    ] = None,
    penalty_cap: Annotated[
        float | None,
        typer.Option("--penalty-cap", min=0.0, max=MAX_MAGNITUDE, help="The agent's penalty cap."),
    ] = None,
    audit_cost: Annotated[
        list[str] | None,
        typer.Option(
            "--audit-cost",
            help="A monitor's cost at rate 1 (auditing every episode): MONITOR=NUMBER.",
        ),
    ] = None,
    default_audit_cost: Annotated[
        float,
        typer.Option(
            "--default-audit-cost", min=0.0, max=MAX_MAGNITUDE, help="Audit cost of the others."
        ),
    ] = 1.0,
    max_rate: Annotated[
        float | None,
        typer.Option("--max-rate", min=0.0, max=1.0, help="Every monitor's max_rate."),
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option("--budget", min=0.0, max=MAX_MAGNITUDE, help="[oversight] budget."),
    ] = None,
    monitor: Annotated[
        list[str] | None,
        typer.Option("--monitor", help="Fit only this monitor (score column without score_)."),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="[problem] name.")] = "fitted-control",
    debug: DebugOption = False,
) -> None:
    """Fit each monitor's ROC per attack kind from scored samples and write a spec of ROC
    monitors, ready for deter solve.

    Honest samples are the compliant action; each attack kind is an action. With a band (the
    default) the curves are the pessimistic edge of one-sided DKW bands, so a policy solved
    from the spec deters every action with probability >= 1 - delta. What was dropped
    (unlabelled samples, missing scores, unknown kinds) is listed by file, row and column, and
    counted (docs/ai-control.md).
    """
    if roc == "binormal" and band is not None:
        raise typer.BadParameter(
            "--band is for --roc empirical; the binormal fit has its own parametric band",
            param_hint="'--band'",
        )
    action_map = _pairs(action, "--action", number=False)
    gains = _pairs(gain, "--gain", number=True)
    costs = _pairs(audit_cost, "--audit-cost", number=True)

    def body() -> int:
        from ...solver.control.fit import FitOptions, fit_samples
        from ...solver.control.samples import read_samples

        can_write(output, calibration)  # neither file is written when one cannot be
        samples = read_samples([str(f) for f in files], monitors=monitor or None)
        options = FitOptions(
            delta=None if no_band else delta,
            band=band or "dkw",
            roc=roc,
            actions={k: str(v) for k, v in action_map.items()} if action_map else None,
            drop_unknown=drop_unknown,
            gains={k: float(v) for k, v in gains.items()},  # type: ignore[arg-type]
            default_gain=default_gain,
            penalty_cap=penalty_cap,
            audit_cost={k: float(v) for k, v in costs.items()},  # type: ignore[arg-type]
            default_audit_cost=default_audit_cost,
            max_rate=max_rate,
            budget=budget,
            name=name,
        )
        result = fit_samples(samples, options)
        for note in result.notes:
            err(f"warning: {note}")
        for reason, count in sorted(result.dropped.items()):
            err(f"note: {count} x {reason}")
        emit(result.text, output)
        if calibration is not None:
            emit(json.dumps(result.to_dict(), indent=2) + "\n", calibration)
        used = sum(result.counts.values())
        info(f"fitted {len(result.curves)} monitors on {used} of {len(samples)} samples")
        if output is not None and str(output) != "-":
            info(f"next: deter solve {output}")
        return int(ExitCode.OK)

    raise typer.Exit(guarded(debug, body))
