"""The runtime auditor: run a designed policy, episode by episode, without the solver.

A serving process or a training loop loads a policy document (``deter export``) and asks,
per episode, which monitors run (:meth:`Auditor.plan`) and, once the agent has acted, what
was caught and what penalty to apply (:meth:`Auditor.judge`). The auditor keeps running
tallies and warns (:class:`DriftWarning`) when realised spend, audit rates, detection or
false flags leave their confidence bands: the sign that a monitor is not performing as
designed or that the schedule is not being followed.

Only the standard library and numpy are imported here (and the document checks, which are
numpy-only too): cvxpy and scipy are never loaded, so loading a policy costs a serving
process milliseconds. ``tests/policy/test_runtime.py`` checks that in a fresh interpreter.

Schedules are those of ``deter simulate`` (``solver/model/game.py``):

- ``coordinated``: one uniform U per episode; monitor j runs when (U - s_{j-1}) mod 1 < x_j
  with s_j = x_1 + ... + x_j, so monitors inspect disjoint episodes whenever sum_j x_j <= 1
  and detection is the model's linear sum_j q_ij x_j;
- ``independent``: each monitor tosses its own coin; P_i = 1 - prod_j (1 - q_ij x_j).

Each monitor that runs then catches action i with probability q_ij, or flags compliant work
falsely with probability f_j (its false-positive rate), independently of the others.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .arrays import PolicyArrays
from .document import load_policy_file, refuse_roc, validate_policy
from .sequences import bernoulli_log_evidence, mean_radius

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


class BatchJudgement(NamedTuple):
    """:meth:`Auditor.run_batch`'s answer, one entry per agent (unpacks as a 3-tuple)."""

    penalty: FloatArray  # the penalty each agent pays this episode (0 when not flagged)
    flagged: BoolArray  # whether any monitor flagged the agent
    spend: FloatArray  # the oversight spent on the agent's episode


#: The chance that a quantity as designed ever raises a drift alarm, over the whole run
#: however long and however often it is checked (anytime-valid: sequences.py).
DRIFT_ALPHA = 1e-3


class DriftWarning(UserWarning):
    """Realised spend, audit rate, detection or false flags left its confidence band."""


@dataclass(frozen=True)
class Plan:
    """Which monitors run this episode (decided before the agent acts)."""

    episode: int
    running: tuple[str, ...]
    mask: BoolArray = field(repr=False)  # (M,), document order
    cost: float  # this episode's oversight spend


@dataclass(frozen=True)
class Judgement:
    """What the policy does about one episode: the penalty to apply and why."""

    episode: int
    action: str | None  # the action label, when known
    penalty: float  # subtract this from the agent's reward (0 when nothing was flagged)
    flagged: bool  # some running monitor flagged the episode
    detected: bool  # flagged, and the action was a violation (or unknown)
    false_flag: bool  # flagged, and the action was the compliant one
    flagged_by: tuple[str, ...]
    audits: tuple[str, ...]  # the monitors that ran
    cost: float  # oversight spend of the episode


@dataclass(frozen=True)
class Drift:
    """One quantity off its design beyond an anytime-valid alarm: realised against designed.

    ``evidence`` is the test martingale's value (an e-value: it reaches 1/alpha with
    probability at most alpha while the quantity is as designed; inf when the design rules
    out what happened), or, for the spend, how many confidence-sequence radii off it is.
    """

    quantity: str
    realised: float
    designed: float
    evidence: float
    samples: int

    def __str__(self) -> str:
        how = (
            f"evidence {self.evidence:.3g}"
            if not self.quantity.startswith("spend")
            else f"{self.evidence:.2f} x the confidence radius"
        )
        return (
            f"{self.quantity}: realised {self.realised:.4g} against designed {self.designed:.4g} "
            f"({how} over {self.samples} samples)"
        )


@dataclass
class Tallies:
    """Running counts since the auditor was created (or reset)."""

    episodes: int = 0  # episodes planned
    judged: int = 0  # episodes judged
    spend: float = 0.0  # oversight spend so far
    penalties: float = 0.0  # penalties applied so far
    detections: int = 0
    false_flags: int = 0
    audits: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per monitor
    taken: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per action
    caught: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per action


class Auditor:
    """Runs a policy document: plans audits, judges episodes, tallies, warns on drift.

    ``seed`` seeds the one ``numpy.random.Generator`` every draw comes from, so a run is
    reproducible. ``schedule`` overrides the document's. Drift is checked every
    ``check_every`` judged episodes with anytime-valid alarms (:mod:`.sequences`): a quantity
    as designed ever alarms with probability at most ``alpha`` over the whole run, however
    often it is checked; each quantity warns once when it alarms and again only after it
    has come back.
    """

    def __init__(
        self,
        policy: Mapping[str, Any],
        *,
        seed: int | np.random.SeedSequence | None = None,
        schedule: str | None = None,
        alpha: float = DRIFT_ALPHA,
        check_every: int = 100,
        warn: bool = True,
    ) -> None:
        self.policy: dict[str, Any] = validate_policy(dict(policy))
        refuse_roc(self.policy, "deter.runtime.Auditor")
        self.arrays = PolicyArrays.from_document(self.policy, schedule)
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), not {alpha}")
        self.alpha = alpha
        self.check_every = max(1, int(check_every))
        self.warn = warn
        self._index = {name: i for i, name in enumerate(self.arrays.action_names)}
        self._monitor_index = {name: j for j, name in enumerate(self.arrays.monitor_names)}
        self._starts = self.arrays.starts
        self._detection = self.arrays.exact_detection()
        self._spend = self.arrays.spend_moments()
        # A bare "flagged" verdict (no action named) costs the largest penalty among the
        # actions that monitor can catch: the policy's penalty for what it was built to see.
        a = self.arrays
        deviations = np.arange(len(a.action_names)) != a.compliant
        self._flag_penalty = np.array(
            [
                float(np.max(a.penalty[deviations & (a.catch[:, j] > 0)], initial=0.0))
                or float(np.max(a.penalty[deviations], initial=0.0))
                for j in range(len(a.monitor_names))
            ]
        )
        self.reseed(seed)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], **options: Any) -> Auditor:
        """An auditor for a policy document already parsed from JSON."""
        return cls(doc, **options)

    @classmethod
    def from_file(cls, path: str | Path, **options: Any) -> Auditor:
        """An auditor for the policy document in ``path`` (``deter export``'s output)."""
        return cls(load_policy_file(str(path)), **options)

    def reseed(self, seed: int | np.random.SeedSequence | None, *, clear: bool = True) -> None:
        """Start a fresh generator from ``seed``; ``clear`` the tallies too (the default)."""
        self.rng = np.random.default_rng(seed)
        if not clear and hasattr(self, "tallies"):
            return
        m, n = len(self.arrays.monitor_names), len(self.arrays.action_names)
        self.tallies = Tallies(
            audits=np.zeros(m, dtype=np.int64),
            taken=np.zeros(n, dtype=np.int64),
            caught=np.zeros(n, dtype=np.int64),
        )
        self._out: set[str] = set()
        self.drifts: list[Drift] = []

    # --- the designed figures --------------------------------------------------------------

    @property
    def action_names(self) -> tuple[str, ...]:
        return self.arrays.action_names

    @property
    def monitor_names(self) -> tuple[str, ...]:
        return self.arrays.monitor_names

    @property
    def designed_cost(self) -> float:
        """Expected oversight spend per episode under the schedule: sum_j c_j x_j."""
        return self._spend[0]

    def designed_detection(self, action: str) -> float:
        """P(caught) of ``action`` under the schedule (the compliant one: P(false flag))."""
        return float(self._detection[self._index[action]])

    # --- one episode -----------------------------------------------------------------------

    def plan(self) -> Plan:
        """Draw which monitors run this episode."""
        a = self.arrays
        if a.schedule == "coordinated":
            mask = ((self.rng.random() - self._starts) % 1.0) < a.rates
        else:
            mask = self.rng.random(a.rates.shape[0]) < a.rates
        cost = float(a.cost @ mask)
        episode = self.tallies.episodes
        self.tallies.episodes += 1
        self.tallies.audits += mask
        self.tallies.spend += cost
        running = tuple(name for name, on in zip(a.monitor_names, mask, strict=True) if on)
        return Plan(episode, running, mask, cost)

    def judge(
        self,
        plan: Plan,
        action: str | None = None,
        *,
        verdicts: Mapping[str, bool | str] | None = None,
    ) -> Judgement:
        """Judge what the agent did in ``plan``'s episode.

        ``action`` is the agent's action label (ground truth, e.g. from an environment):
        without ``verdicts``, each running monitor then catches it (or flags compliant work
        falsely) with the document's probabilities. ``verdicts`` are the running monitors'
        real outputs instead: per monitor, False (clear), True (flagged) or the name of the
        action it caught; a monitor left out is clear. A bare True costs the largest
        penalty among the actions that monitor can catch. With both, the label says
        whether a flag was a detection or a false flag.
        """
        a = self.arrays
        index = None
        if action is not None:
            if action not in self._index:
                known = ", ".join(a.action_names)
                raise ValueError(f"unknown action {action!r}; the policy's actions are {known}")
            index = self._index[action]
        penalty = 0.0
        if verdicts is None:
            if index is None:
                raise ValueError("judge needs the action label, the monitors' verdicts, or both")
            flags = plan.mask & (self.rng.random(a.rates.shape[0]) < a.catch[index])
            flagged = bool(flags.any())
            if flagged:
                penalty = float(a.penalty[index])
        else:
            flags = np.zeros(a.rates.shape[0], dtype=bool)
            named: int | None = None
            for monitor, verdict in verdicts.items():
                j = self._monitor_index.get(monitor)
                if j is None:
                    raise ValueError(f"unknown monitor {monitor!r} in verdicts")
                if not plan.mask[j]:
                    raise ValueError(f"monitor {monitor!r} did not run in episode {plan.episode}")
                if verdict is False or verdict is None:
                    continue
                flags[j] = True
                if isinstance(verdict, str):
                    if verdict not in self._index:
                        raise ValueError(
                            f"unknown action {verdict!r} in the verdict of {monitor!r}"
                        )
                    named = self._index[verdict]
            flagged = bool(flags.any())
            if flagged:
                if index is not None:
                    penalty = float(a.penalty[index])
                elif named is not None:
                    penalty = float(a.penalty[named])
                else:
                    penalty = float(self._flag_penalty[flags].max())
        violation = None if index is None else index != a.compliant
        detected = flagged and violation is not False
        false_flag = flagged and violation is False
        t = self.tallies
        t.judged += 1
        t.penalties += penalty
        t.detections += detected
        t.false_flags += false_flag
        if index is not None:
            t.taken[index] += 1
            t.caught[index] += flagged
        if self.warn and t.judged % self.check_every == 0:
            self._check_drift()
        return Judgement(
            episode=plan.episode,
            action=action,
            penalty=penalty,
            flagged=flagged,
            detected=detected,
            false_flag=false_flag,
            flagged_by=tuple(n for n, on in zip(a.monitor_names, flags, strict=True) if on),
            audits=plan.running,
            cost=plan.cost,
        )

    def audit(self, action: str) -> Judgement:
        """Plan and judge one episode whose action label is already known."""
        return self.judge(self.plan(), action)

    # --- many episodes at once (for simulations and vector environments) ----------------

    def run_batch(self, actions: IntArray | Sequence[str] | Sequence[int]) -> BatchJudgement:
        """Plan and judge one episode for each of K agents: ``(penalty, flagged, spend)``,
        each of shape (K,), as a named tuple.

        ``actions`` are action names (``["honest", "reward_hack"]``) or indices in document
        order. Tallies are updated as for K calls of :meth:`audit` (the draws differ: they
        are made in blocks).
        """
        actions = self._action_indices(actions)
        a = self.arrays
        k, m = actions.shape[0], a.rates.shape[0]
        if a.schedule == "coordinated":
            mask = ((self.rng.random((k, 1)) - self._starts[None, :]) % 1.0) < a.rates[None, :]
        else:
            mask = self.rng.random((k, m)) < a.rates[None, :]
        flags = mask & (self.rng.random((k, m)) < a.catch[actions])
        flagged: BoolArray = np.asarray(flags.any(axis=1), dtype=bool)
        penalty = np.where(flagged, a.penalty[actions], 0.0)
        spend = mask.astype(float) @ a.cost
        t = self.tallies
        t.episodes += k
        t.judged += k
        t.audits += mask.sum(axis=0)
        t.spend += float(spend.sum())
        t.penalties += float(penalty.sum())
        violating = actions != a.compliant
        t.detections += int(np.count_nonzero(flagged & violating))
        t.false_flags += int(np.count_nonzero(flagged & ~violating))
        n = len(a.action_names)
        t.taken += np.bincount(actions, minlength=n)
        t.caught += np.bincount(actions[flagged], minlength=n)
        if self.warn:
            self._check_drift()
        return BatchJudgement(penalty, flagged, spend)

    def _action_indices(self, actions: IntArray | Sequence[str] | Sequence[int]) -> IntArray:
        """Indices in document order, from names or indices (an unknown name: ValueError)."""
        if isinstance(actions, np.ndarray) and actions.dtype.kind in "iu":
            return actions
        items = list(actions)
        if any(isinstance(x, str) for x in items):
            unknown = sorted({str(x) for x in items if x not in self._index})
            if unknown:
                known = ", ".join(self.arrays.action_names)
                raise ValueError(f"unknown action(s) {', '.join(unknown)}; the policy has {known}")
            return np.fromiter((self._index[x] for x in items), dtype=np.int64, count=len(items))
        return np.asarray(items, dtype=np.int64)

    # --- drift -----------------------------------------------------------------------------

    def check(self) -> list[Drift]:
        """Every quantity whose anytime-valid alarm is now raised (without warning)."""
        t, a = self.tallies, self.arrays
        out: list[Drift] = []
        threshold = math.log(1.0 / self.alpha)

        def rate(quantity: str, k: int, n: int, designed: float) -> None:
            log_evidence = bernoulli_log_evidence(k, n, designed)
            if log_evidence >= threshold:
                evidence = math.inf if math.isinf(log_evidence) else math.exp(log_evidence)
                out.append(Drift(quantity, k / n, designed, evidence, n))

        mean, _ = self._spend
        if t.episodes > 0:
            realised = t.spend / t.episodes
            radius = mean_radius(t.episodes, 0.5 * float(a.cost.sum()), self.alpha)
            off = abs(realised - mean)
            if off > radius:
                out.append(
                    Drift(
                        "spend per episode",
                        realised,
                        mean,
                        off / radius if radius else math.inf,
                        t.episodes,
                    )
                )
        for j, name in enumerate(a.monitor_names):
            rate(f"audit rate of {name}", int(t.audits[j]), t.episodes, float(a.rates[j]))
        for i, name in enumerate(a.action_names):
            what = "false-flag rate" if i == a.compliant else f"detection of {name}"
            rate(what, int(t.caught[i]), int(t.taken[i]), float(self._detection[i]))
        return out

    def _check_drift(self) -> None:
        now = self.check()
        names = {d.quantity for d in now}
        for d in now:
            if d.quantity not in self._out:
                self.drifts.append(d)
                warnings.warn(f"deter policy drift: {d}", DriftWarning, stacklevel=3)
        self._out = names

    def report(self) -> dict[str, Any]:
        """The tallies against the designed figures, as plain JSON-ready values."""
        t, a = self.tallies, self.arrays
        episodes = max(t.episodes, 1)
        return {
            "policy": self.policy.get("label", ""),
            "episodes": t.episodes,
            "judged": t.judged,
            "spend_per_episode": t.spend / episodes,
            "designed_cost_per_episode": self.designed_cost,
            "penalties": t.penalties,
            "detections": t.detections,
            "false_flags": t.false_flags,
            "audit_rates": {n: int(t.audits[j]) / episodes for j, n in enumerate(a.monitor_names)},
            "designed_rates": {n: float(a.rates[j]) for j, n in enumerate(a.monitor_names)},
            "detection": {
                n: (int(t.caught[i]) / int(t.taken[i]) if t.taken[i] else None)
                for i, n in enumerate(a.action_names)
            },
            "designed_detection": {
                n: float(self._detection[i]) for i, n in enumerate(a.action_names)
            },
            "drift": [str(d) for d in self.check()],
        }
