"""The plain result of a solve: what the principal should do, why, and the proof it checks.

These are frozen dataclasses with a ``to_dict`` that gives the JSON document (schema
version 1); rendering them as tables is the CLI's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InfeasibleError, SolverError
from .serialise import SCHEMA_VERSION, dumps, envelope, jsonable, restore
from .status import Status
from .strategy import STRATEGY_KEYS, StrategyReport, strategy_from_keys, strategy_keys

#: The ``kind`` of a result's JSON document (``deter solve --format json``).
KIND = "result"


@dataclass(frozen=True)
class MonitorResult:
    name: str
    rate: float
    unit_cost: float
    cost: float  # unit_cost * rate
    share: float  # of the total oversight cost
    min_rate: float
    max_rate: float
    at_bound: str | None  # "min_rate", "max_rate" or None
    # Whether the monitor runs at all (pays its fixed_cost); from the rate when not given.
    deployed: bool | None = None
    fixed_cost: float = 0.0

    def __post_init__(self) -> None:
        if self.deployed is None:
            object.__setattr__(self, "deployed", bool(self.rate > 1e-9))


def rate_bound(rate: float, low: float, high: float) -> str | None:
    """Which bound a monitor's rate sits at ("min_rate", "max_rate"), if any."""
    if high > low and rate >= high - 1e-9:
        return "max_rate"
    if rate <= low + 1e-9 and low > 0:
        return "min_rate"
    return None


@dataclass(frozen=True)
class ActionResult:
    name: str
    compliant: bool
    gain: float
    penalty: float
    detection: float  # P(caught) under the policy
    expected_penalty: float  # detection * penalty
    net_incentive: float  # EU(action) - EU(compliant), utility units; <= -margin when deterred
    deterred: bool
    binding: bool
    shadow_price: float | None  # d(oversight cost) / d(gain); None when not solved


@dataclass(frozen=True)
class Check:
    """One family of constraints re-checked at the returned policy."""

    name: str
    max_violation: float  # absolute, in the constraint's own units; <= 0 means satisfied
    max_relative_violation: float  # finite: each term over its row's own (nonzero) scale
    # Held exactly (a budget, a cap, an incentive row): any violation above 0 fails it,
    # however small relative to its terms; other checks fail above the tolerance.
    exact: bool = False

    def passes(self, tolerance: float) -> bool:
        limit = 0.0 if self.exact else tolerance
        return bool(self.max_relative_violation <= limit)


@dataclass(frozen=True)
class DualityCertificate:
    """The optimality certificate an answer carries (``solver/engine/certificate.py``).

    ``kind`` says which: ``lp_duality`` (weak duality from the LP's duals, computed by deter),
    ``fixed_integer_lp`` (a mixed-integer program's answer: the LP with its integer choices
    fixed, certified by duality, has the same optimum), ``conic_residuals`` (a cone
    program: Clarabel's primal and dual residuals and gap), ``branch_and_bound`` (exponential
    detection with false flags: the least bound of the search's relaxations, engine/
    flag_search.py), or ``none`` (``reason`` says why
    no certificate applies; feasibility is then the check).
    """

    applies: bool  # False when no certificate applies: feasibility is then the check
    passed: bool
    tolerance: float
    primal_objective: float | None = None  # money units
    dual_objective: float | None = None  # a lower bound on the least cost, money units
    gap: float | None = None  # primal - dual, money units
    relative_gap: float | None = None
    dual_residual: float | None = None  # max |stationarity residual|, program units
    relative_dual_residual: float | None = None
    dual_sign_violation: float | None = None
    reason: str = ""
    kind: str = "lp_duality"
    primal_residual: float | None = None  # conic_residuals: the solver's primal residual


@dataclass(frozen=True)
class Verification:
    passed: bool  # primal feasibility and, when present, the duality certificate
    tolerance: float
    max_violation: float
    max_relative_violation: float
    checks: tuple[Check, ...]
    duality: DualityCertificate | None = None

    def failure(self) -> str:
        """Why the checks refuse the policy, in one phrase ("" when they pass)."""
        failed = [c for c in self.checks if not c.passes(self.tolerance)]
        if not failed:
            return ""
        worst = max(failed, key=lambda c: c.max_relative_violation)
        if worst.exact:
            return (
                f"{worst.name} does not hold exactly (relative violation "
                f"{worst.max_relative_violation:.3g})"
            )
        return f"max relative violation {worst.max_relative_violation:.3g} > {self.tolerance:g}"


@dataclass(frozen=True)
class ActionDiagnosis:
    """Why an action cannot be deterred under the allowed monitoring."""

    name: str
    deterrable: bool
    max_detection: float  # the highest P(caught) any allowed policy reaches
    max_expected_penalty: float  # max_detection * penalty cap
    penalty_cap: float
    cap_needed: float | None  # a cap that would make it deterrable (None: no cap would)
    reason: str


@dataclass(frozen=True)
class Diagnosis:
    reason: str
    actions: tuple[ActionDiagnosis, ...] = ()
    least_cost: float | None = None  # least cost of full deterrence, ignoring the budget
    budget: float | None = None


@dataclass(frozen=True)
class Duals:
    """The LP multipliers of a verified, certified core answer, in model units (cost per unit
    of each constraint), read by the engine from the program it solved
    (``solver/engine/duals.py``); ``deter explain`` prices every constraint from them.

    Per deviation (the spec's non-compliant actions, in order): ``incentive`` lambda_i on
    d_i P_i - d_0 P_0 >= k_i and ``reach`` eta_i on P_i <= Q_i x (exponential detection
    without false flags: d(cost)/d(P_i), its threshold row's multiplier); per monitor: ``ceiling``
    mu_j on x_j <= max_rate_j and ``floor`` on x_j >= min_rate_j; ``false_flag`` zeta, the
    cost of the false flags of one unit of rate; ``budget`` on the budget row.
    """

    incentive: tuple[float, ...]
    reach: tuple[float, ...]
    false_flag: float
    ceiling: tuple[float, ...]
    floor: tuple[float, ...]
    budget: float


@dataclass(frozen=True)
class Result:
    name: str
    file: str
    status: Status
    total_cost: float | None
    monitors: tuple[MonitorResult, ...]
    actions: tuple[ActionResult, ...]
    verification: Verification | None
    solver: str | None
    currency: str = ""
    message: str = ""
    diagnosis: Diagnosis | None = None
    attempts: tuple[str, ...] = ()
    timing: dict[str, float] = field(default_factory=dict, compare=False)
    strategy: StrategyReport | None = None  # harms, types, deployment, auditor (issue 5)
    # Penalty design (issue 4): total_cost = oversight_cost + penalty_cost.
    oversight_cost: float | None = None
    penalty_cost: float | None = None
    penalty_design: str = "fixed"
    shared_penalty: float | None = None  # the one penalty level, design "shared" only
    notes: tuple[str, ...] = ()  # caveats about the model at this answer (never errors)
    # The core program's multipliers at a verified answer (None for other programs, and in
    # the JSON document, which does not carry them).
    duals: Duals | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # One vocabulary downstream: a plain status string becomes its Status member (a
        # StrEnum, so it still compares, hashes and serialises as that string).
        object.__setattr__(self, "status", Status(self.status))

    @property
    def ok(self) -> bool:
        return self.status == Status.optimal

    def raise_for_status(self) -> Result:
        """Return self when optimal; raise the typed error for any other status."""
        if self.status == Status.infeasible:
            raise InfeasibleError(self.message or "the spec cannot be met")
        if self.status == Status.solver_error:
            raise SolverError(self.message or "no verified answer")
        return self

    def monitor(self, name: str) -> MonitorResult:
        return next(m for m in self.monitors if m.name == name)

    def action(self, name: str) -> ActionResult:
        """The action called ``name`` (StopIteration if there is none), from an index built
        at the first call: a scan per call made explaining 10,000 actions quadratic (issue
        25). Built into ``__dict__`` directly: the dataclass is frozen, its fields are not
        touched, and the index is only ever of this instance's own ``actions``."""
        index: dict[str, ActionResult] | None = self.__dict__.get("_action_index")
        if index is None:
            index = {a.name: a for a in self.actions}
            self.__dict__["_action_index"] = index
        if name not in index:
            raise StopIteration(name)
        return index[name]

    def to_dict(self, timing: bool = True) -> dict[str, Any]:
        """The JSON document of ``deter solve --format json``, in the one envelope
        (``schema_version``, ``kind: "result"``). Timing lives under one key, ``timing``,
        dropped on request."""
        doc: dict[str, Any] = {
            "name": self.name,
            "file": self.file,
            "status": self.status,
            "total_cost": self.total_cost,
            "oversight_cost": self.oversight_cost,
            "penalty_cost": self.penalty_cost,
            "penalty_design": self.penalty_design,
            "shared_penalty": self.shared_penalty,
            "currency": self.currency,
            "solver": self.solver,
            "message": self.message,
            "monitors": self.monitors,
            "actions": self.actions,
            "verification": self.verification,
            "diagnosis": self.diagnosis,
            "attempts": list(self.attempts),
            "notes": list(self.notes),
            **strategy_keys(self.strategy),
        }
        if timing:
            doc["timing"] = dict(self.timing)
        return jsonable(envelope(KIND, doc))

    def to_json(self, timing: bool = True) -> str:
        """:meth:`to_dict` as the JSON text ``deter solve --format json`` prints (byte for
        byte; ``timing=False``: with ``--no-timing``)."""
        return dumps(self.to_dict(timing=timing), indent=2) + "\n"

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Result:
        """The result a :meth:`to_dict` document describes: its exact inverse.

        ``Result.from_dict(r.to_dict()) == r`` for every result whose numbers are finite
        (a non-finite float is written as null; a non-optional one reads back as NaN).
        Timing is read when present. Raises ``ValueError`` or ``TypeError`` on a document
        that is not one (another schema version, an unknown key, a wrong type).
        """
        if doc.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"not a result document of schema version {SCHEMA_VERSION}")
        if doc.get("kind", KIND) != KIND:  # (documents written before the kind was added)
            raise ValueError(f"not a result document: kind {doc.get('kind')!r}")
        envelope_keys = ("schema_version", "kind")
        fields = {k: v for k, v in doc.items() if k not in envelope_keys + STRATEGY_KEYS}
        return restore(cls, {**fields, "strategy": strategy_from_keys(doc)})
