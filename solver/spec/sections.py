"""The sections of a spec (format v1): its value types and one frozen model per table.

:mod:`document` assembles them into :class:`~deter.solver.spec.document.Spec`. The cross-field
checks (``design.py``, ``strategy.py``) read a spec through :class:`SpecView`, which lists only
what they need, so they never import ``document.py`` and ``document.py`` can import them.
"""

from __future__ import annotations

from typing import Annotated, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, Strict

from .gains import Gain
from .limits import representable

# Every number is a finite float; TOML integers are accepted, booleans and strings are not.
# Each must also lie in the range deter computes in (limits.py: 0, or a magnitude in
# [MIN_MAGNITUDE, MAX_MAGNITUDE]); beyond it the model's numbers leave binary64 or the
# solvers' tolerances, and the spec is refused here rather than answered wrongly.
Number = Annotated[float, Strict(), Field(allow_inf_nan=False), AfterValidator(representable)]
NonNegative = Annotated[
    float, Strict(), Field(allow_inf_nan=False, ge=0), AfterValidator(representable)
]
Probability = Annotated[
    float, Strict(), Field(allow_inf_nan=False, ge=0, le=1), AfterValidator(representable)
]
Name = Annotated[
    str,
    Strict(),
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$",
        description="An identifier: letters, digits, '_' and '-', not starting with a digit.",
    ),
]
Text = Annotated[str, Strict()]

AUDIT_PREFIX = "audit:"


class FrozenModel(BaseModel):
    """A spec table: unknown keys are errors and the validated value never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Problem(FrozenModel):
    """Descriptive metadata, shown in tables."""

    name: Text | None = Field(None, description="Defaults to the spec file's stem.")
    description: Text = ""
    currency: Text = Field("", description="A label for money units, shown in tables.")


class Agent(FrozenModel):
    """The agent's preferences and the penalty defaults."""

    compliant: Name | None = Field(
        None, description="The reference (aligned) action; defaults to the first action listed."
    )
    penalty_cap: NonNegative | None = Field(
        None, description="Default penalty cap for every action that sets none."
    )
    risk_aversion: Number = Field(
        0.0, description="CARA coefficient r: 0 neutral, > 0 averse, < 0 seeking."
    )
    margin: NonNegative = Field(
        0.0, description="Compliance must beat every deviation by at least this (utility units)."
    )
    false_positive_penalty: NonNegative = Field(
        0.0, description="Penalty a compliant agent suffers when a monitor falsely flags it."
    )


class Learner(FrozenModel):
    """The agent is a learner estimating payoffs from episodes (solver/model/learning.py)."""

    algorithm: Literal["sample-mean", "exp3", "hedge", "ppo"] = Field(
        "sample-mean",
        description="How the learner learns: sample-mean (ranks actions by sample means of "
        "samples episodes each), exp3 (the bandit of Auer et al. 2002) or hedge (exponential "
        "weights with full information), each over rounds episodes (solver/model/no_regret.py); "
        "ppo (a policy-gradient learner with generalised advantage estimation: a sample-mean "
        "design whose delayed penalties are credited by discount x gae_lambda per step).",
    )
    samples: Annotated[int, Strict(), Field(ge=1, le=10**12)] | None = Field(
        None,
        description="Episodes of each action the learner's estimates rest on (at least); "
        "required with algorithm = sample-mean or ppo.",
    )
    rounds: Annotated[int, Strict(), Field(ge=1, le=10**12)] | None = Field(
        None, description="T: the episodes an exp3 or hedge learner trains for (required there)."
    )
    exploration: (
        Annotated[
            float, Strict(), Field(allow_inf_nan=False, gt=0, le=1), AfterValidator(representable)
        ]
        | None
    ) = Field(
        None,
        description="exp3's gamma, the share of uniform exploration; default "
        "min(1, sqrt(n ln n / ((e - 1) T))) (Auer et al. 2002, Corollary 3.2).",
    )
    violation: Literal["final", "average"] | None = Field(
        None,
        description="exp3/hedge: what confidence bounds: final (default), the action deployed "
        "after T rounds (largest weight) is each deviation with probability at most delta; "
        "average, the expected share of the T rounds spent on deviations is at most delta.",
    )
    confidence: Annotated[
        float, Strict(), Field(allow_inf_nan=False, gt=0, lt=1), AfterValidator(representable)
    ] = Field(
        0.95,
        description="1 - delta: each deviation's estimate must trail compliance's with at "
        "least this probability.",
    )
    reward_noise: NonNegative = Field(
        0.0, description="Standard deviation of the Gaussian noise on each observed reward."
    )
    gae_lambda: (
        Annotated[
            float, Strict(), Field(allow_inf_nan=False, gt=0, le=1), AfterValidator(representable)
        ]
        | None
    ) = Field(
        None,
        description='PPO\'s GAE lambda, in (0, 1] (only with algorithm = "ppo"; default '
        "0.95, stable-baselines3's).",
    )
    bound: Literal["hoeffding", "bernstein"] = Field(
        "hoeffding",
        description="hoeffding: margins from the penalty ranges (rate-free); bernstein: from "
        "the penalised reward's variance at the policy's rates (smaller; solved by an outer "
        "iteration with a certificate).",
    )
    # The false-flag rate P_0 at which Bernstein margins are taken: set only by the engine's
    # outer iteration (engine/learner.py) on its own copy, never by a spec's text.
    _flag_detection: float = PrivateAttr(0.0)
    # Set only by the engine (engine/learner.py) on its own copy: take each margin at its
    # smallest over every rate, for a relaxation whose infeasibility proves the learner's.
    _lower_bound: bool = PrivateAttr(False)
    # Set only by the engine (engine/learner.py) on its own copy under a [penalty] design:
    # the least margin of each (type, action), raised where an iterate fell short.
    _floor: tuple[tuple[float, ...], ...] | None = PrivateAttr(None)

    @property
    def sample_count(self) -> int:
        """n, the samples of each action the learner's estimates rest on: ``samples`` for a
        sample-mean learner, ``rounds`` for Hedge (it sees every action's reward each
        round); 0 when the guarantee is not a sample-mean one."""
        if self.algorithm in ("sample-mean", "ppo"):
            return self.samples or 0
        if self.algorithm == "hedge" and self.violation != "average":
            return self.rounds or 0
        return 0

    @property
    def flag_detection(self) -> float:
        return self._flag_detection

    @property
    def credit_lambda(self) -> float:
        """The share of a reward one step later that the learner credits beyond its discount:
        PPO's GAE lambda (Schulman et al. 2016), 1 for a learner of discounted returns."""
        if self.algorithm != "ppo":
            return 1.0
        return DEFAULT_GAE_LAMBDA if self.gae_lambda is None else self.gae_lambda

    @property
    def lower_bound(self) -> bool:
        return self._lower_bound

    def as_lower_bound(self) -> Learner:
        """This learner with each Bernstein margin at its smallest over all rates."""
        copy = self.model_copy()
        copy._lower_bound = True
        return copy

    @property
    def floor(self) -> tuple[tuple[float, ...], ...] | None:
        return self._floor

    def with_floor(self, floor: tuple[tuple[float, ...], ...]) -> Learner:
        """This learner with each (type, action) margin at least ``floor``'s."""
        copy = self.model_copy()
        copy._floor = floor
        return copy

    def at_flag_detection(self, flag_detection: float) -> Learner:
        """This learner with its Bernstein margins taken at false-flag rate ``flag_detection``."""
        copy = self.model_copy()
        copy._flag_detection = float(flag_detection)
        return copy


#: stable-baselines3's PPO default (``gae_lambda=0.95``), taken when a spec gives none.
DEFAULT_GAE_LAMBDA = 0.95


def penalty_credit(horizon: Horizon | None, learner: Learner | None) -> tuple[float, float]:
    """(gamma_eff^d, (gamma_eff rho)^d): what a penalty paid ``audit_delay`` steps later is
    credited at the act when it is paid, and in expectation (kappa), for ``learner``.
    gamma_eff is the horizon's discount, times PPO's GAE lambda for ``algorithm = "ppo"``:
    GAE weighs a reward k steps after the act by (gamma lambda)^k (docs/model.md, "Long
    horizons"). (1, 1) without a horizon."""
    if horizon is None:
        return 1.0, 1.0
    per_step = horizon.discount * (1.0 if learner is None else learner.credit_lambda)
    d = horizon.audit_delay
    return float(per_step**d), float((per_step * horizon.retention) ** d)


class Horizon(FrozenModel):
    """Penalties that land later: an audit's penalty is paid ``audit_delay`` steps after the
    act, discounted, and only if the agent is still there (solver/model/horizon.py)."""

    discount: Annotated[
        float, Strict(), Field(allow_inf_nan=False, gt=0, le=1), AfterValidator(representable)
    ] = Field(1.0, description="gamma: the agent's discount factor per step, in (0, 1].")
    audit_delay: Annotated[int, Strict(), Field(ge=0, le=10**6)] = Field(
        0, description="d: steps between an act and the penalty (or false flag) for it."
    )
    retention: Annotated[
        float, Strict(), Field(allow_inf_nan=False, gt=0, le=1), AfterValidator(representable)
    ] = Field(
        1.0,
        description="rho: the probability per step that the agent is still there (a penalty "
        "landing after it left is never paid), in (0, 1].",
    )


class Oversight(FrozenModel):
    """Constraints on the principal's policy as a whole."""

    budget: NonNegative | None = Field(
        None, description="Total oversight cost may not exceed this."
    )
    detection: Literal["linear", "exponential"] = Field(
        "linear",
        description="How monitor rates combine into detection: 'linear' min(1, sum q x) or "
        "'exponential' 1 - prod (1 - q)^x (diminishing returns; docs/model.md).",
    )
    objective: Literal["deter_all", "min_loss"] = Field(
        "deter_all",
        description="deter_all: deter every action at least cost; min_loss: minimise oversight "
        "cost plus the harm of the action the agent ends up taking "
        "(solver/formulation/commitment.py).",
    )


class Requirements(FrozenModel):
    """What ``deter check`` demands of the optimal policy (CI gating; see requirements.py)."""

    max_cost: NonNegative | None = Field(
        None, description="The optimal oversight cost may not exceed this."
    )
    deter_all: Annotated[bool, Strict()] = Field(
        True,
        description="Every action must be deterred (default true; false under "
        'objective = "min_loss" unless set).',
    )
    min_margin: NonNegative | None = Field(
        None, description="Every deviation must trail compliance by at least this (net incentive)."
    )
    max_rate: dict[Annotated[str, Strict()], Probability] = Field(
        default_factory=dict, description="Per-monitor ceilings on the optimal rates, by name."
    )


class Action(FrozenModel):
    """One action the agent can take."""

    name: Name
    gain: Gain = Field(
        description="The agent's private gain from this action: a number, or an interval "
        "[low, high] meaning deterrence must hold for every value in it."
    )
    harm: NonNegative = Field(
        0.0, description="The principal's loss each time the agent takes this action."
    )
    penalty_cap: NonNegative | None = Field(
        None, description="Largest penalty the principal can impose when this action is caught."
    )
    audit_cost: NonNegative | None = Field(
        None, description="Shorthand for a dedicated audit monitor 'audit:<name>' with this cost."
    )
    audit_detection: Probability = Field(
        1.0, description="Probability that the dedicated audit catches this action."
    )


class Monitor(FrozenModel):
    """A costly monitor that inspects a fraction of episodes (its rate)."""

    name: Name
    cost: NonNegative = Field(description="Cost per episode when applied to every episode.")
    min_rate: Probability = 0.0
    max_rate: Probability = 1.0
    detects: dict[Name, Probability] = Field(
        default_factory=dict, description="P(caught | action, monitor applied), by action name."
    )
    false_positive: Probability = Field(
        0.0, description="P(compliant episode flagged | monitor applied)."
    )
    fixed_cost: NonNegative = Field(
        0.0, description="Cost of deploying the monitor at all, paid when its rate is above 0."
    )
    roc: dict[Name, tuple[tuple[Probability, Probability], ...]] | None = Field(
        None,
        description="ROC curve per action: [[false-positive rate, true-positive rate], ...]; "
        "the monitor's rate is then the fraction of honest episodes flagged and audited.",
    )


class Penalty(FrozenModel):
    """Penalties fixed at their caps, or chosen at a cost
    (solver/formulation/components/penalty.py)."""

    design: Literal["fixed", "per_action", "shared"] = Field(
        "fixed",
        description="'fixed': penalties at their caps; 'per_action': each action's penalty is a "
        "decision in [0, cap]; 'shared': one penalty level for every action.",
    )
    cost: NonNegative = Field(
        0.0, description="The principal's cost per unit of penalty level (Blocki et al. 2013)."
    )


class AgentType(FrozenModel):
    """One type of agent (a Bayesian game): its probability and how its gains differ."""

    name: Name
    weight: Probability = Field(description="Probability of this type; weights sum to 1.")
    gains: dict[Name, Gain] = Field(
        default_factory=dict, description="Overrides of action gains for this type, by action."
    )
    risk_aversion: Number | None = Field(
        None, description="Overrides agent.risk_aversion for this type."
    )


class Auditor(FrozenModel):
    """A strategic auditor who chooses one monitor's rate itself (no commitment)."""

    monitor: Name = Field(description="The declared monitor the auditor runs.")
    inspection_cost: NonNegative = Field(description="The auditor's cost per inspection.")
    catch_reward: NonNegative = Field(
        0.0, description="The auditor's reward when an inspection catches an offence."
    )
    miss_loss: NonNegative = Field(
        0.0, description="The auditor's loss when an offence goes uncaught."
    )
    target_offence_rate: Probability | None = Field(
        None, description="Find the least catch_reward bringing the offence rate to this."
    )


class SpecView(Protocol):
    """A spec as the cross-field checks read it (``document.Spec`` is one)."""

    @property
    def agent(self) -> Agent: ...
    @property
    def oversight(self) -> Oversight: ...
    @property
    def actions(self) -> tuple[Action, ...]: ...
    @property
    def monitors(self) -> tuple[Monitor, ...]: ...
    @property
    def penalty(self) -> Penalty: ...
    @property
    def types(self) -> tuple[AgentType, ...]: ...
    @property
    def auditor(self) -> Auditor | None: ...
    @property
    def learner(self) -> Learner | None: ...
    @property
    def horizon(self) -> Horizon | None: ...
    @property
    def compliant_action(self) -> str: ...
