"""The deter control approver's overhead per agent step, in microseconds (goal: < 1 ms).

    python bench/bench_control_approver.py [--steps 20000]

Times, per tool call: ControlRuntime.decide (flag by the randomised thresholds, decide, pace,
alarm) and the whole approver coroutine as Inspect calls it (two monitors whose scores are
precomputed, so only deter's work is timed; Inspect's own store is stood in for by a dict,
since outside a running sample it has none). Also the same coroutine with no-op decisions, to
show what the event loop itself costs.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from unittest import mock

from deter.solver.control import approver as approver_module
from deter.solver.control.loop import ControlPolicy, ControlRuntime, MonitorRule
from inspect_ai.tool import ToolCall, ToolCallView

POLICY = ControlPolicy(
    {
        "basic_monitor": MonitorRule(0.0128, 5.0, 4.0, 0.83, 50.0),
        "trajectory_monitor": MonitorRule(0.0046, 1.77, 1.46, 0.4, 50.0),
    },
    penalty=20.0,
)


class Store(dict):  # type: ignore[type-arg]
    def set(self, key, value):  # type: ignore[no-untyped-def]
        self[key] = value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20_000)
    n = parser.parse_args().steps
    runtime = ControlRuntime(POLICY, seed=0)
    scores = {"basic_monitor": 3.0, "trajectory_monitor": 0.5}
    start = time.perf_counter()
    for _ in range(n):
        runtime.decide(scores)
    decide = (time.perf_counter() - start) / n * 1e6

    call = ToolCall(id="1", function="run", arguments={"command": "ls"})
    view = ToolCallView()
    monitors = {"basic_monitor": lambda c, h: 3.0, "trajectory_monitor": lambda c, h: 0.5}

    async def loop(approve) -> float:  # type: ignore[no-untyped-def]
        store = Store()
        with mock.patch.object(approver_module, "store", lambda: store):
            start = time.perf_counter()
            for _ in range(n):
                store.clear()  # one record per sample, as in a run
                await approve("", call, view, [])
            return (time.perf_counter() - start) / n * 1e6

    async def noop(message, call, view, history):  # type: ignore[no-untyped-def]
        return None

    approve = approver_module.deter_control(POLICY, monitors, seed=0)
    full = asyncio.run(loop(approve))
    empty = asyncio.run(loop(noop))
    print(f"ControlRuntime.decide: {decide:.1f} us a step")
    print(
        f"approver coroutine (scores, decide, store, Approval): {full:.1f} us a step "
        f"(an empty coroutine: {empty:.2f} us); goal < 1000 us: "
        f"{'met' if full < 1000 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
