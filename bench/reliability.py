#!/usr/bin/env python3
"""Reliability report (issue 7): fuzz inputs tried, hard specs checked, interruptions
survived, results lost.

    python bench/reliability.py                      # defaults: 1000 fuzz inputs, 6 kills
    python bench/reliability.py --fuzz 5000 --kills 20
    python bench/reliability.py --numeric 2000       # numeric trust (issue #12) only

* numeric (``--numeric N``, off by default; the other modes are then skipped): N specs from
  tests/support/magnitudes.py, spread evenly over its families, each solved by ``deter.solve``
  and judged by tests/support/exact_reference.py (an independent LP and an exact re-check of
  the policy). Per family it prints the statuses and the failure classes; every failing spec
  is written to bench/out/numeric/<family>-<seed>.toml with its reasons as comments at the
  top, and one line per failure to bench/out/numeric/failures.txt;

* fuzz: mutated problems/ specs, random TOML documents and random bytes through
  ``deter solve -`` in process; an input fails when the exit code is not 0-3, or stderr has
  no reason, a traceback, a warning or an internal error (tests/support/fuzzing.py);
* hard specs: tests/support/hard_specs.py, each solved and compared with its closed form, with a
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
from typing import Any

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
    from tests.support.batch_helpers import two_action_spec

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


def _numeric_chunk(tasks: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Generate, solve and judge each (family, seed); one plain dict per case."""
    import warnings

    import deter
    from deter.solver.results.errors import SpecError

    from tests.support.exact_reference import judge, reference
    from tests.support.magnitudes import generate

    out: list[dict[str, Any]] = []
    for family, seed in tasks:
        case = generate(family, seed)
        row: dict[str, Any] = {"family": family, "seed": seed, "failures": [], "notes": []}
        started = time.perf_counter()
        ref = reference(case.text)
        row["reference"] = ref.status
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = deter.solve(deter.loads(case.text)).to_dict(timing=False)
            except SpecError as error:
                # A number beyond the range deter computes in is refused at load time, with
                # a located message (issue 12): a refusal, not an internal error.
                refused = "range deter computes in" in str(error)
                row["status"] = "refused" if refused else "internal_error"
                if not refused:
                    row["failures"].append(("internal_error", f"SpecError: {error}"))
                result = None
            except Exception as error:  # an internal error is what we are counting
                row["status"] = "internal_error"
                row["failures"].append(("internal_error", f"{type(error).__name__}: {error}"))
                result = None
        for kind, target in (("runtime_warning", "failures"), ("other_warning", "notes")):
            mine = [w for w in caught if (w.category is RuntimeWarning) == (target == "failures")]
            if mine:
                first = mine[0]
                why = f"{first.category.__name__}: {first.message} ({len(mine)} in all)"
                row[target].append((kind, why))
        if result is not None:
            verdict = judge(case.text, result, ref)
            row["status"] = verdict.deter_status
            row["failures"] += verdict.failures
            row["notes"] += verdict.notes
        row["seconds"] = time.perf_counter() - started
        row["text"] = case.text if row["failures"] else ""
        out.append(row)
    return out


def numeric(n: int, families: list[str], start: int, jobs: int, out_dir: Path) -> int:
    """Numeric trust (issue #12): judge n generated specs; print a table per family."""
    from concurrent.futures import ProcessPoolExecutor

    from tests.support.exact_reference import FAILURE_CLASSES, NOTE_CLASSES
    from tests.support.magnitudes import FAMILIES

    families = families or list(FAMILIES)
    per = max(1, n // len(families))
    tasks = [(f, seed) for seed in range(start, start + per) for f in families]
    chunks = [tasks[i : i + 25] for i in range(0, len(tasks), 25)]
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            for part in pool.map(_numeric_chunk, chunks):
                rows += part
    else:
        for chunk in chunks:
            rows += _numeric_chunk(chunk)
    seconds = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.toml"):
        old.unlink()
    lines = []
    for row in rows:
        if not row["failures"]:
            continue
        label = f"{row['family']}-{row['seed']}"
        reasons = [f"# {cls}: {why}" for cls, why in row["failures"]]
        header = f"# deter status {row['status']}, reference {row['reference']}\n"
        (out_dir / f"{label}.toml").write_text(
            "\n".join(r.replace("\n", " ") for r in reasons) + "\n" + header + row["text"]
        )
        cls, why = row["failures"][0]
        lines.append(f"{label}\t{cls}\t{why}".replace("\n", " "))
    (out_dir / "failures.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    statuses = ("optimal", "infeasible", "solver_error", "refused", "internal_error")
    columns = ["count", *statuses, *FAILURE_CLASSES[1:], *NOTE_CLASSES]
    short = {
        "internal_error": "internal",
        "solver_error": "solver_err",
        "wrong_optimal": "wrong_opt",
        "roundoff_violation": "roundoff",
        "cost_misreported": "cost_misrep",
        "wrong_infeasible": "wrong_infeas",
        "solver_error_ref_solves": "solv_err_ref_ok",
        "ref_infeasible_deter_checked": "ref_infeas_ok",
        "solver_error_ref_infeasible": "solv_err_ref_inf",
        "runtime_warning": "runtime_warn",
        "other_warning": "other_warn",
    }
    table: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = table.setdefault(row["family"], dict.fromkeys(columns, 0))
        counts["count"] += 1
        counts[row["status"]] = counts.get(row["status"], 0) + 1
        for cls in {c for c, _ in row["failures"] + row["notes"]} - {"internal_error"}:
            counts[cls] += 1
    table["all"] = {c: sum(t[c] for t in table.values()) for c in columns}
    names = [short.get(c, c) for c in columns]
    print(f"{'family':15s} " + " ".join(f"{name:>{max(5, len(name))}s}" for name in names))
    for family, counts in table.items():
        cells = [f"{counts[c]:>{max(5, len(nm))}d}" for c, nm in zip(columns, names, strict=True)]
        print(f"{family:15s} " + " ".join(cells))
    failing = sum(1 for row in rows if row["failures"])
    print(f"\n{len(rows)} specs in {seconds:.1f} s; {failing} failing, written to {out_dir}")
    print(json.dumps({"specs": len(rows), "failing": failing, "families": table}))
    return 0 if failing == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fuzz", type=int, default=1000, help="fuzz inputs to try")
    parser.add_argument("--kills", type=int, default=6, help="batches to interrupt")
    parser.add_argument("--files", type=int, default=40, help="specs in the killed batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--numeric",
        type=int,
        nargs="?",
        const=10_000,
        default=None,
        metavar="N",
        help="numeric trust: judge N generated specs (10,000 without a value) and nothing else",
    )
    parser.add_argument("--families", default="", help="numeric: comma-separated families")
    parser.add_argument("--start", type=int, default=0, help="numeric: first seed")
    parser.add_argument("--jobs", type=int, default=2, help="numeric: worker processes")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "out" / "numeric", help="numeric: folder"
    )
    args = parser.parse_args()
    if args.numeric is not None:
        families = [f for f in args.families.split(",") if f]
        return numeric(args.numeric, families, args.start, args.jobs, args.out)
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
