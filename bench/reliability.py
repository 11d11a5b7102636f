#!/usr/bin/env python3
"""Reliability report (issue 7): fuzz inputs tried, hard specs checked, interruptions
survived, results lost.

    python bench/reliability.py                      # defaults: 1000 fuzz inputs, 6 kills
    python bench/reliability.py --fuzz 5000 --kills 20
    python bench/reliability.py --numeric 2000       # numeric trust only (issues 12, 20)
    python bench/reliability.py --numeric 2000 --start 100000 --families strategic,exponential

* numeric (``--numeric N``, off by default; the other modes are then skipped): N specs from
  tests/support/vocabulary.py (the whole spec vocabulary; ``--generator magnitudes`` for
  issue 12's families), spread evenly over the families (``--families``: names or groups),
  seeds from ``--start`` (a large start for held-out seeds). Seeds 4 mod 5 are made
  infeasible and 3 mod 5 feasible by construction, the others are natural draws. Each spec is
  solved by ``deter.solve`` and judged twice: by tests/support/exact_reference.py (an
  independent LP, enumeration of strategic responses, the exact method for exponential false
  flags, and an exact re-check of the policy; "undecided" where it has no method) and, where
  the generator built the outcome, by that construction. Per family it prints the statuses
  (optimal, infeasible, solver_error, refused at load, internal errors), the failure
  classes (wrong optimal, round-off violations, over cost, wrong infeasible, solver_error where
  the reference or the construction decides, misreported costs, ...), the reference's notes
  (undecided, unsure, costlier) and the share of answers accepted at the first attempt
  (no attempt failed verification, was retried, rescaled or refined). Every failing spec is
  written to bench/out/numeric/<family>-<seed>.toml with its reasons as comments at the
  top, one line per failure to failures.txt and the rows to failures.jsonl;

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
import math
import os
import random
import re
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


# An attempt line naming one of these means the first answer was not accepted as it came.
RETRY_WORDS = re.compile(r"fail|no cert|error|reject|refined|rescal|tightened|skipped")


def _case(generator: str, family: str, seed: int) -> tuple[str, str | None, str]:
    """(text, the outcome the construction intends or None, how) of one generated spec."""
    if generator == "magnitudes":
        from tests.support.magnitudes import generate as magnitude

        return magnitude(family, seed).text, None, ""
    from tests.support.vocabulary import generate

    case = generate(family, seed, vocabulary_flag(seed))
    return case.text, case.expected, case.how


def vocabulary_flag(seed: int) -> bool | None:
    """Seeds 4 mod 5 are made infeasible, 3 mod 5 feasible, the rest are natural draws:
    about a fifth infeasible by construction, plus those that happen to be."""
    return {4: True, 3: False}.get(seed % 5)


def _numeric_chunk(tasks: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
    """Generate, solve and judge each (generator, family, seed); one plain dict per case."""
    import warnings

    import deter
    from deter.solver.results.errors import SpecError

    from tests.support.exact_reference import judge, reference

    out: list[dict[str, Any]] = []
    for generator, family, seed in tasks:
        text, expected, how = _case(generator, family, seed)
        row: dict[str, Any] = {"family": family, "seed": seed, "failures": [], "notes": []}
        row["expected"], row["how"] = expected, how
        started = time.perf_counter()
        ref = reference(text)
        row["reference"] = ref.status
        row["first_attempt"] = False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = deter.solve(deter.loads(text)).to_dict(timing=False)
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
            verdict = judge(text, result, ref)
            row["status"] = verdict.deter_status
            row["failures"] += verdict.failures
            row["notes"] += verdict.notes
            row["total_cost"] = result.get("total_cost")
            attempts = [str(a) for a in result.get("attempts") or []]
            row["attempts"] = attempts
            row["message"] = str(result.get("message", ""))[:300]
            row["first_attempt"] = row["status"] in ("optimal", "infeasible") and not any(
                RETRY_WORDS.search(a) for a in attempts
            )
            # The construction's outcome is a second, independent judge.
            if expected is not None and row["status"] in ("optimal", "infeasible", "solver_error"):
                if row["status"] != expected:
                    known = {c for c, _ in row["failures"]}
                    cls = {
                        ("optimal", "infeasible"): "wrong_optimal",
                        ("infeasible", "optimal"): "wrong_infeasible",
                    }.get((row["status"], expected), "solver_error_decided")
                    if cls not in known and not (
                        cls == "solver_error_decided" and "solver_error_ref_solves" in known
                    ):
                        row["failures"].append((cls, f"the construction says {expected} ({how})"))
            elif row["status"] == "solver_error" and ref.status == "infeasible":
                row["failures"].append(("solver_error_decided", "the reference says infeasible"))
        row["seconds"] = time.perf_counter() - started
        row["text"] = text if row["failures"] else ""
        out.append(row)
    return out


STATUSES = ("optimal", "infeasible", "solver_error", "refused", "internal_error")
# The columns of the per-family table: statuses, then failure classes, then notes.
FAILURE_COLUMNS = (
    "wrong_optimal",
    "roundoff_violation",
    "over_cost",
    "wrong_infeasible",
    "solver_error_ref_solves",
    "solver_error_decided",
    "cost_misreported",
    "inconsistent",
    "nonfinite",
    "runtime_warning",
    "diagnosis_contradiction",
    "batch_disagrees",
    "batch_wrong_optimal",
)
NOTE_COLUMNS = ("ref_undecided", "ref_unsure", "ref_costlier", "other_warning")
SHORT = {
    "internal_error": "internal",
    "solver_error": "solv_err",
    "wrong_optimal": "wrong_opt",
    "roundoff_violation": "roundoff",
    "over_cost": "over_cost",
    "wrong_infeasible": "wrong_inf",
    "solver_error_ref_solves": "se_ref_opt",
    "solver_error_decided": "se_decided",
    "cost_misreported": "cost_mis",
    "inconsistent": "incons",
    "nonfinite": "nonfin",
    "runtime_warning": "rt_warn",
    "diagnosis_contradiction": "diag",
    "batch_disagrees": "batch_diff",
    "batch_wrong_optimal": "batch_wrong",
    "ref_undecided": "undecided",
    "ref_unsure": "ref_unsure",
    "ref_costlier": "ref_dearer",
    "other_warning": "oth_warn",
}


def numeric(
    n: int,
    families: list[str],
    start: int,
    jobs: int,
    out_dir: Path,
    generator: str,
    batch: bool = False,
    seconds: float = 0.0,
) -> int:
    """Judge n generated specs; print a table per family (see the module docstring)."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    if generator == "magnitudes":
        from tests.support.magnitudes import FAMILIES
    else:
        from tests.support.vocabulary import FAMILIES, expand

        families = expand(families) if families else list(FAMILIES)
    families = families or list(FAMILIES)
    per = max(1, n // len(families))
    tasks = [(generator, f, seed) for seed in range(start, start + per) for f in families]
    chunks = [tasks[i : i + 5] for i in range(0, len(tasks), 5)]
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    # Rows are streamed to rows.jsonl as they come, and SIGTERM (a timeout) or Ctrl-C ends
    # the run early with the table of the specs judged so far.
    # Rows are streamed to rows.jsonl as they come; no chunk starts after --seconds (the run
    # then reports the specs judged so far), so a bounded run always ends with its table.
    deadline = started + seconds if seconds else math.inf
    pending_chunks = iter(chunks)
    with (out_dir / "rows.jsonl").open("w") as stream, ProcessPoolExecutor(jobs) as pool:
        running: set[Any] = set()

        def fill() -> None:
            while len(running) < 2 * jobs and time.perf_counter() < deadline:
                chunk = next(pending_chunks, None)
                if chunk is None:
                    return
                running.add(pool.submit(_numeric_chunk, chunk))

        fill()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                running.discard(future)
                part = future.result()
                rows += part
                stream.writelines(json.dumps(r, default=str) + "\n" for r in part)
                stream.flush()
            fill()
    rows.sort(key=lambda r: (r["family"], r["seed"]))
    if len(rows) < len(tasks):
        print(f"time is up: {len(rows)} of {len(tasks)} specs judged", file=sys.stderr)
    seconds = time.perf_counter() - started
    if batch:
        compare_batch(rows, generator, jobs)
    write_failures(rows, out_dir)
    table = family_table(rows)
    print_table(table)
    failing = sum(1 for row in rows if row["failures"])
    print(f"\n{len(rows)} specs in {seconds:.1f} s; {failing} failing, written to {out_dir}")
    print(json.dumps({"specs": len(rows), "failing": failing, "families": table}))
    return 0 if failing == 0 else 1


def compare_batch(rows: list[dict[str, Any]], generator: str, jobs: int) -> None:
    """Run the same specs through ``deter batch`` (one process, as a user would) and record,
    per spec, a status or cost that differs from ``deter.solve``'s (batch_disagrees), and a
    batch "optimal" whose policy fails the exact re-check (batch_wrong_optimal; linear
    programs with penalties at their caps, where the batch line carries the whole policy)."""
    from tests.support.exact_reference import check_policy, parse

    with tempfile.TemporaryDirectory(prefix="deter-reliability-batch-") as tmp:
        folder = Path(tmp)
        for row in rows:
            text, _, _ = _case(generator, row["family"], row["seed"])
            (folder / f"{row['family']}-{row['seed']}.toml").write_text(text)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "deter",
                "batch",
                str(folder),
                "-f",
                "jsonl",
                "--no-timing",
                "--jobs",
                str(jobs),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
            cwd=tmp,  # an interrupted batch leaves its ledger in the working folder
        )
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        by_label = {Path(line["file"]).stem: line for line in lines}
        for row in rows:
            label = f"{row['family']}-{row['seed']}"
            line = by_label.get(label)
            if line is None:
                row["failures"].append(("batch_disagrees", "no batch line for this spec"))
                continue
            status = line.get("status")
            if status == "bad_input":
                status = "refused"
            elif "internal error" in str(line.get("error") or ""):
                status = "internal_error"  # batch reports exit 5 in its error field
            row["batch_status"] = status
            if status != row["status"]:
                why = f"batch {status} ({line.get('error')}), solve {row['status']}"
                row["failures"].append(("batch_disagrees", why))
                continue
            cost, ours = line.get("total_cost"), row.get("total_cost")
            if status == "optimal" and not (
                isinstance(cost, float | int)
                and isinstance(ours, float | int)
                and math.isclose(cost, ours, rel_tol=1e-6, abs_tol=1e-300)
            ):
                row["failures"].append(("batch_disagrees", f"batch cost {cost!r}, solve {ours!r}"))
                continue
            text, _, _ = _case(generator, row["family"], row["seed"])
            model = parse(text)
            if status == "optimal" and not model.strategic and model.design == "fixed":
                check = check_policy(model, line.get("rates") or {})
                if not check.passed:
                    why = "; ".join(check.problems)[:300]
                    row["failures"].append(("batch_wrong_optimal", why))


def write_failures(rows: list[dict[str, Any]], out_dir: Path) -> None:
    """Each failing spec as <family>-<seed>.toml with its reasons as comments; one line
    per failure in failures.txt and the rows as JSON lines in failures.jsonl."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.toml"):
        old.unlink()
    lines, records = [], []
    for row in rows:
        if not row["failures"]:
            continue
        label = f"{row['family']}-{row['seed']}"
        reasons = [f"# {cls}: {why}" for cls, why in row["failures"]]
        header = (
            f"# deter status {row['status']}, reference {row['reference']}, "
            f"construction {row['expected']} ({row['how']})\n"
        )
        (out_dir / f"{label}.toml").write_text(
            "\n".join(r.replace("\n", " ") for r in reasons) + "\n" + header + row["text"]
        )
        cls, why = row["failures"][0]
        lines.append(f"{label}\t{cls}\t{why}".replace("\n", " "))
        records.append(row)
    (out_dir / "failures.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    with (out_dir / "failures.jsonl").open("w") as handle:
        for row in records:
            handle.write(json.dumps(row, default=str) + "\n")


def family_table(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Counts per family (and 'all'): statuses, failure classes, notes, the share of
    answers (optimal or infeasible) accepted at the first attempt, the reference's verdicts."""
    columns = ["count", *STATUSES, *FAILURE_COLUMNS, *NOTE_COLUMNS, "failing", "first_ok"]
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        counts = table.setdefault(row["family"], dict.fromkeys(columns, 0))
        counts["count"] += 1
        counts[row["status"]] += 1
        for cls in {c for c, _ in row["failures"] + row["notes"]} - {"internal_error"}:
            counts[cls] = counts.get(cls, 0) + 1
        counts["failing"] += bool(row["failures"])
        counts["first_ok"] += bool(row["first_attempt"])
    table["all"] = {c: sum(t.get(c, 0) for t in table.values()) for c in columns}
    for counts in table.values():
        answered = counts["optimal"] + counts["infeasible"]
        counts["first_share"] = round(counts["first_ok"] / answered, 4) if answered else None
    return table


def print_table(table: dict[str, dict[str, Any]]) -> None:
    columns = ["count", *STATUSES, *FAILURE_COLUMNS, "failing", *NOTE_COLUMNS, "first_share"]
    names = [SHORT.get(c, c) for c in columns]
    widths = [max(5, len(name)) for name in names]
    print(f"{'family':19s} " + " ".join(f"{nm:>{w}s}" for nm, w in zip(names, widths, strict=True)))
    for family, counts in table.items():
        cells = []
        for c, w in zip(columns, widths, strict=True):
            value = counts.get(c, 0)
            cells.append(f"{'-' if value is None else value:>{w}}")
        print(f"{family:19s} " + " ".join(cells))


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
    parser.add_argument(
        "--families",
        default="",
        help="numeric: comma-separated families or groups (tests/support/vocabulary.py)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=0.0,
        help="numeric: start no spec after this many seconds and report those judged (0: none)",
    )
    parser.add_argument(
        "--batch",
        action="store_true",
        help="numeric: also run the specs through `deter batch` and compare with solve",
    )
    parser.add_argument(
        "--generator",
        choices=("vocabulary", "magnitudes"),
        default="vocabulary",
        help="numeric: the full-vocabulary generator (default) or issue 12's magnitudes",
    )
    parser.add_argument("--start", type=int, default=0, help="numeric: first seed")
    parser.add_argument("--jobs", type=int, default=2, help="numeric: worker processes")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "out" / "numeric", help="numeric: folder"
    )
    args = parser.parse_args()
    if args.numeric is not None:
        families = [f for f in args.families.split(",") if f]
        return numeric(
            args.numeric,
            families,
            args.start,
            args.jobs,
            args.out,
            args.generator,
            args.batch,
            args.seconds,
        )
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
