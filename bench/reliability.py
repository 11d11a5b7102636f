#!/usr/bin/env python3
"""Reliability report (issue 7): fuzz inputs tried, hard specs checked, interruptions
survived, results lost.

    python bench/reliability.py                      # defaults: 1000 fuzz inputs, 6 kills
    python bench/reliability.py --fuzz 5000 --kills 20

* fuzz: mutated problems/ specs, random TOML documents and random bytes through
  ``deter solve -`` in process; an input fails when the exit code is not 0-3, or stderr has
  no reason, a traceback, a warning or an internal error (tests/fuzzing.py);
* hard specs: tests/hard_specs.py, each solved and compared with its closed form, with a
  passing feasibility check and duality certificate;
* interruptions: a batch of generated specs run as a real process with ``--resume``, killed
  (SIGINT and SIGKILL in turn) once a few files are in the ledger, resumed until done; the
  final output is compared with an uninterrupted run. "results lost" counts files whose
  result is missing or different (must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def fuzz(n: int, seed: int) -> tuple[int, int, float]:
    from deter.cli.app import app
    from typer.testing import CliRunner

    from tests.support.fuzzing import outcome_problems, random_input

    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "120"})
    rng = random.Random(seed)
    failed = 0
    started = time.perf_counter()
    for _ in range(n):
        data = random_input(rng)
        out = runner.invoke(app, ["solve", "-", "-f", "json"], input=data)
        stderr = out.stderr if hasattr(out, "stderr") else out.output
        if outcome_problems(out.exit_code, stderr, out.exception):
            failed += 1
    return n, failed, time.perf_counter() - started


def hard_specs() -> tuple[int, int]:
    import deter

    from tests.support.hard_specs import HARD_CASES, rate_is_right

    right = 0
    for case in HARD_CASES:
        result = deter.solve(deter.load_spec(case.toml()))
        v = result.verification
        right += bool(
            result.status == "optimal"
            and v is not None
            and v.passed
            and v.duality is not None
            and v.duality.passed
            and rate_is_right(case, result.monitor("monitor").rate)
        )
    return len(HARD_CASES), right


def interruptions(kills: int, n_files: int) -> tuple[int, int, int]:
    from batch_helpers import two_action_spec

    work = Path(tempfile.mkdtemp(prefix="deter-reliability-"))
    folder = work / "specs"
    folder.mkdir()
    actions = "".join(f'\n[[actions]]\nname = "x{k}"\ngain = {-0.01 * k}\n' for k in range(150))
    for k in range(n_files):
        (folder / f"s{k:03d}.toml").write_text(two_action_spec(1.0 + k / 100) + actions)
    env = {**os.environ, "NO_COLOR": "1"}

    def batch(output: Path, ledger: Path | None) -> subprocess.Popen[str]:
        args = [
            sys.executable,
            "-m",
            "deter",
            "batch",
            str(folder),
            "-f",
            "jsonl",
            "--no-timing",
            "--jobs",
            "2",
            "-o",
            str(output),
        ]
        args += ["--resume", str(ledger)] if ledger else []
        return subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )

    reference = work / "reference.jsonl"
    batch(reference, None).wait(timeout=600)
    expected = reference.read_text().splitlines()
    survived = lost = 0
    ledger, output = work / "ledger.jsonl", work / "out.jsonl"
    signals = [signal.SIGINT, signal.SIGKILL]
    for k in range(kills):
        if ledger.exists():
            ledger.unlink()
        process = batch(output, ledger)
        # Kill at a random point after the first finished chunk.
        target = random.Random(k).randrange(1, max(2, n_files // 2))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            done = ledger.read_text().count("\n") if ledger.exists() else 0
            if done >= target:
                break
            time.sleep(0.01)
        if process.poll() is None:
            os.killpg(process.pid, signals[k % 2])
        process.communicate(timeout=120)
        rounds = 0
        while rounds < 5:  # resume until done
            rounds += 1
            if batch(output, ledger).wait(timeout=600) == 0:
                break
        got = output.read_text().splitlines() if output.exists() else []
        survived += got == expected
        lost += sum(1 for a, b in zip(expected, got, strict=False) if a != b) + abs(
            len(expected) - len(got)
        )
    return kills, survived, lost


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fuzz", type=int, default=1000, help="fuzz inputs to try")
    parser.add_argument("--kills", type=int, default=6, help="batches to interrupt")
    parser.add_argument("--files", type=int, default=40, help="specs in the killed batch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tried, failed, seconds = fuzz(args.fuzz, args.seed)
    n_hard, right = hard_specs()
    kills, survived, lost = interruptions(args.kills, args.files)
    report = {
        "fuzz_inputs_tried": tried,
        "fuzz_failures": failed,
        "fuzz_seconds": round(seconds, 1),
        "hard_specs_checked": n_hard,
        "hard_specs_right": right,
        "interruptions": kills,
        "interruptions_survived": survived,
        "results_lost": lost,
    }
    for key, value in report.items():
        print(f"{key:24s} {value}")
    print(json.dumps(report))
    ok = failed == 0 and right == n_hard and survived == kills and lost == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
