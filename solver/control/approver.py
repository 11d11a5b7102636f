"""The designed policy inside an Inspect agent loop: an approver (inspect-ai's public API).

    from inspect_ai.approval import ApprovalPolicy, auto_approver
    from deter.solver.control.approver import deter_control
    # policy.json: deter export fit.toml --calibration cal.json -o policy.json
    approval = [ApprovalPolicy(deter_control("policy.json", monitors), "*"),
                ApprovalPolicy(human_approver(), "*")]     # who reviews an escalation
    eval(task, approval=approval, ...)

Every tool call the agent makes is scored by each monitor (``monitors[name](call, history)``,
a number or an awaitable of one: the suspicion score the fit used), and
:class:`~.loop.ControlRuntime` decides: ``approve``, ``escalate`` (to the next approver in
the policy: a reviewer; with none, Inspect rejects) or ``reject``, or approve and record the
penalty (``on_flag = "record"``). The decision, the scores, the flags, the spend and any
drift alarm go into the eval log twice: in the approval event's ``metadata`` (Inspect's
transcript) and appended to the sample's store under ``deter_control`` (``sample.store``),
and :func:`deter_suspicion` turns them into one numeric score per monitor and sample (the
highest over the sample's tool calls), which ``deter fit`` reads from the log as that
monitor's score column: runs under the policy become the data of the next fit.
"""

from __future__ import annotations

import inspect as _inspect
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from inspect_ai.approval import Approval, Approver, approver
from inspect_ai.model import ChatMessage
from inspect_ai.scorer import Score, Scorer, Target, mean, scorer
from inspect_ai.solver import TaskState
from inspect_ai.tool import ToolCall, ToolCallView
from inspect_ai.util import store

from ..policy.document import POLICY_FORMAT, load_policy_file
from .loop import ControlPolicy, ControlRuntime

#: A monitor: the suspicion score of a tool call given the conversation so far.
Monitor = Callable[[ToolCall, list[ChatMessage]], float | Awaitable[float]]
STORE_KEY = "deter_control"


@approver(name="deter_control")
def deter_control(
    policy: ControlPolicy | Mapping[str, Any] | str | Path,
    monitors: Mapping[str, Monitor],
    seed: int | None = None,
    runtime: ControlRuntime | None = None,
    on_flag: str = "escalate",
    budget: float | None = None,
) -> Approver:
    """An approver applying a deter policy: the path of a ``deter export`` document (or the
    document as a dict), or a :class:`ControlPolicy` (or its own JSON).

    ``on_flag`` and ``budget`` (total audit spend over the run) apply to an exported
    document, which designs rates, not what a flag does. ``runtime`` shares one tally
    (spend, flags, alarms) across samples and lets the caller read it
    (``runtime.report()``); by default the approver keeps its own.
    """
    if isinstance(policy, str | Path):
        policy = load_policy_file(str(policy))
    if isinstance(policy, ControlPolicy):
        chosen = policy
    elif policy.get("format") == POLICY_FORMAT:
        chosen = ControlPolicy.from_document(policy, on_flag=on_flag, budget=budget)
    else:
        chosen = ControlPolicy.from_dict(policy)
    scored = [m for m, rule in chosen.monitors.items() if rule.needs_score]
    missing = [m for m in scored if m not in monitors]
    if missing:
        raise ValueError(f"no monitor function for {', '.join(missing)}")
    state = runtime if runtime is not None else ControlRuntime(chosen, seed=seed)

    async def approve(
        message: str, call: ToolCall, view: ToolCallView, history: list[ChatMessage]
    ) -> Approval:
        scores: dict[str, float] = {}
        for name in scored:
            value = monitors[name](call, history)
            if _inspect.isawaitable(value):
                value = await value
            scores[name] = float(value)
        decision = state.decide(scores)
        record = {"tool": call.function, **decision.to_dict()}
        log = store()
        log.set(STORE_KEY, [*log.get(STORE_KEY, []), record])
        if decision.flagged_by:
            why = f"flagged by {', '.join(decision.flagged_by)}"
            why += "" if decision.audited else " (audit budget spent: recorded only)"
        else:
            why = "not flagged"
        return Approval(
            decision=decision.decision,
            explanation=f"deter {chosen.label}: {why}",
            metadata={STORE_KEY: record},
        )

    return approve


@scorer(metrics=[mean()], name="deter_suspicion")
def deter_suspicion(monitor: str) -> Scorer:
    """A sample's highest ``monitor`` score over the tool calls the approver saw (0 when it
    saw none), with the approver's decisions in the score's metadata. Name the scorer after
    the monitor (``deter_suspicion("judge")`` logs as ``deter_suspicion``; give each monitor's
    scorer its own name with inspect's ``name=`` when there are several)."""

    async def score(state: TaskState, target: Target) -> Score:
        records: list[dict[str, Any]] = state.store.get(STORE_KEY, [])
        values = [r["scores"][monitor] for r in records if monitor in r["scores"]]
        return Score(
            value=max(values, default=0.0),
            metadata={
                "decisions": [r["decision"] for r in records],
                "flagged": any(r["flagged_by"] for r in records),
            },
        )

    return score
