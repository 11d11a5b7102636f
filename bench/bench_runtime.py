"""The runtime auditor's overhead per episode (plan + judge), in microseconds.

    python bench/bench_runtime.py [--episodes N]

Times, on the bundled coding-agent policy: Auditor.plan() + Auditor.judge(plan, label) per
episode for both schedules, judge with the monitors' verdicts, the Gymnasium wrapper's step
(wrapper + env, against the bare env), and the batch path per agent-episode. Also the time
to import deter.runtime and load a policy in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from deter.runtime import Auditor
from deter.solver.rl.reference import CODING_AGENT_POLICY as POLICY


def per_call(fn, n: int, repeats: int = 5) -> float:
    """Best-of-``repeats`` median-free timing: microseconds per call of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - start) / n * 1e6)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=20_000)
    n = parser.parse_args().episodes
    rows = []
    for schedule in ("coordinated", "independent"):
        auditor = Auditor(POLICY, seed=0, schedule=schedule)
        rows.append(
            (
                f"plan + judge(label), {schedule}",
                per_call(lambda a=auditor: a.judge(a.plan(), "reward_hack"), n),
            )
        )
    # warn=False: verdicts that never flag are, rightly, a drifting false-flag rate.
    auditor = Auditor(POLICY, seed=0, warn=False)

    def with_verdicts() -> None:
        plan = auditor.plan()
        auditor.judge(plan, "honest", verdicts=dict.fromkeys(plan.running, False))

    rows.append(("plan + judge(verdicts)", per_call(with_verdicts, n)))
    rows.append(("plan only", per_call(auditor.plan, n)))
    try:
        import numpy as np
        from deter.rl import CodingTaskEnv, OversightWrapper

        bare = CodingTaskEnv()
        bare.reset(seed=0)
        wrapped = OversightWrapper(CodingTaskEnv(), POLICY, seed=0)
        wrapped.reset(seed=0)
        step_bare = per_call(lambda: bare.step(2), n)
        step_wrapped = per_call(lambda: wrapped.step(2), n)
        rows.append(("env.step, bare CodingTask-v0", step_bare))
        rows.append(("env.step, OversightWrapper", step_wrapped))
        rows.append(("  wrapper overhead", step_wrapped - step_bare))
        batch = Auditor(POLICY, seed=0, warn=False)
        actions = np.random.default_rng(0).integers(4, size=1000)
        rows.append(
            (
                "run_batch, per agent-episode (K=1000)",
                per_call(lambda: batch.run_batch(actions), max(1, n // 100)) / 1000,
            )
        )
    except ImportError:
        print("(gymnasium not installed: wrapper rows skipped)")
    code = (
        "import time; t = time.perf_counter(); import deter.runtime as r; "
        "from deter.solver.rl.reference import CODING_AGENT_POLICY as P; r.Auditor(P, seed=0); "
        "print((time.perf_counter() - t) * 1e3)"
    )
    starts = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(5)
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  microseconds")
    for name, us in rows:
        print(f"{name:<{width}}  {us:10.2f}")
    median = statistics.median(starts)
    print(f"import deter.runtime + load a policy (fresh process): {median:.0f} ms (median of 5)")


if __name__ == "__main__":
    main()
