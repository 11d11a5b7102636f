"""Which policies a simulation plays: explicit rates, the solver's optimum, scaled copies.

Moved out of the ``simulate`` command so that the library (``Problem.simulate``) and the
command line build policies, and refuse bad ones, in exactly the same way. Errors name the
command-line option they come from (``--rates``, ``--rates-scale``), as the CLI always has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..model.arrays import ProblemArrays
from ..results.errors import DeterError, SpecError, SpecIssue, UnsupportedError
from ..spec.document import Spec
from ..spec.suggest import did_you_mean
from .simulate import Policy

if TYPE_CHECKING:
    from ..results.result import Result

#: What a policy can be given as: ``"a=0.2,b=0.1"`` or ``{"a": 0.2, "b": 0.1}``.
Rates = str | Mapping[str, float]


class NoPolicyError(DeterError):
    """No rates were given and the spec has no optimal policy to simulate.

    ``result`` is the solve that was not optimal (status ``infeasible`` or ``solver_error``).
    """

    def __init__(self, result: Result) -> None:
        self.result = result
        super().__init__(
            f"{result.file}: {result.status}: {result.message}; "
            "no optimal policy to simulate: give one with rates"
        )


def check_simulable(spec: Spec, arrays: ProblemArrays) -> None:
    """Refuse what the simulator cannot play (before anything is solved: an ROC solve is slow)."""
    if arrays.roc:
        names = sorted({arrays.monitor_names[curve.monitor] for curve in arrays.roc})
        raise UnsupportedError(
            [
                SpecIssue(
                    file=spec.source_file,
                    key=f"monitors.roc ({', '.join(names)})",
                    message="simulating monitors described by ROC curves is not supported "
                    "yet; replace the roc curve by the detects and false_positive of one "
                    "operating point to simulate it",
                )
            ]
        )


def _known(name: str, arrays: ProblemArrays) -> None:
    if name not in arrays.monitor_names:
        raise SpecError.single(
            "--rates", f"unknown monitor {name!r}" + did_you_mean(name, arrays.monitor_names)
        )


def _checked_rate(name: str, rate: float, arrays: ProblemArrays) -> float:
    _known(name, arrays)
    if not 0.0 <= rate <= 1.0:  # NaN fails too
        raise SpecError.single("--rates", f"{name}: the rate {rate:g} is outside [0, 1]")
    return rate


def parse_rates(text: str, arrays: ProblemArrays) -> dict[str, float]:
    """'a=0.2,b=0.1' -> {monitor: rate}; every name known, every rate a number in [0, 1]."""
    found: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise SpecError.single("--rates", f"{item!r} is not of the form monitor=rate")
        _known(name, arrays)  # before the value: an unknown name is the likelier mistake
        try:
            rate = float(value)
        except ValueError:
            raise SpecError.single(
                "--rates", f"{name}: {value.strip()!r} is not a number"
            ) from None
        _checked_rate(name, rate, arrays)
        if name in found:
            raise SpecError.single("--rates", f"monitor {name!r} is given twice")
        found[name] = rate
    if not found:
        raise SpecError.single("--rates", "no monitor=rate pairs given")
    return found


def rates_of(given: Rates, arrays: ProblemArrays) -> dict[str, float]:
    """One policy's rates from text or a mapping, checked the same way."""
    if isinstance(given, str):
        return parse_rates(given, arrays)
    if not given:
        raise SpecError.single("--rates", "no monitor=rate pairs given")
    return {name: _checked_rate(name, float(rate), arrays) for name, rate in given.items()}


def given_policies(given: Sequence[Rates], arrays: ProblemArrays) -> list[Policy]:
    """The explicit policies; monitors a policy does not name run at their min_rate."""
    policies = []
    for k, item in enumerate(given):
        chosen = rates_of(item, arrays)
        rates = arrays.min_rate.copy()
        for j, name in enumerate(arrays.monitor_names):
            rates[j] = chosen.get(name, rates[j])
        label = "rates" if len(given) == 1 else f"rates{k + 1}"
        policies.append(Policy(label, rates))
    return policies


def optimal_policy(result: Result) -> Policy:
    """The solver's verified optimum (rates and chosen penalties) as a policy."""
    if result.status != "optimal":
        raise NoPolicyError(result)
    rates = np.array([m.rate for m in result.monitors], dtype=float)
    penalties = np.array([a.penalty for a in result.actions], dtype=float)
    return Policy("optimal", rates, penalties=penalties)


def scaled(bases: Sequence[Policy], scales: Sequence[float]) -> list[Policy]:
    """Each policy with its rates times each scale ('optimal x0.9'); scale 1 keeps its label."""
    for scale in scales:
        if not (math.isfinite(scale) and scale >= 0):
            raise SpecError.single("--rates-scale", f"{scale:g} must be a finite number >= 0")
    out = []
    for base in bases:
        for scale in scales:
            label = base.label if scale == 1.0 else f"{base.label} x{scale:g}"
            out.append(Policy(label, base.rates * scale, scale, base.penalties))
    return out
