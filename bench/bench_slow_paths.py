"""Benchmark (issue 25, item 10): `deter report` against `deter solve` on one large spec, and
`deter validate` against `deter batch` per file on a folder of specs.

Goals: a report costs a bounded multiple of one solve (its frontier and sweep thin out as the
spec grows); validate is at least as fast per file as batch. Each command runs as a user
would run it (a subprocess, the console script's start-up included); the script fails when
a command fails or validate does not count every file valid.

Usage: python bench/bench_slow_paths.py [--actions 10000] [--files 20000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_large import large_spec  # noqa: E402

SMALL = """[agent]
penalty_cap = 10.0

[[actions]]
name = "comply"
gain = 0.0

[[actions]]
name = "cheat"
gain = {gain}

[[monitors]]
name = "inspector"
cost = 1.0
detects = {{ cheat = 0.5 }}
"""


def timed(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "deter", *args], cwd=cwd, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"deter {' '.join(args)} exited {done.returncode}: {done.stderr[-400:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=20_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deter-slow-paths-"))
    try:
        spec = work / "large.toml"
        spec.write_text(large_spec(args.actions, 100, 0))
        size = ["--max-size", str(max(5_000_000, 2 * spec.stat().st_size))]
        solve = timed(["solve", str(spec), "-f", "json", *size], work)
        report = timed(["report", str(spec), "-o", str(work / "r.html"), *size], work)
        html = (work / "r.html").read_text()
        # a fast report that left out its analyses would be no figure at all
        missing = [i for i in ("frontier-plot", "sweep-plot") if f'id="{i}"' not in html]
        if missing or html.count("<tr>") < args.actions:
            raise SystemExit(f"the report lacks {missing or 'rows of its actions'}")
        print(
            f"{args.actions} actions: solve {solve:.1f} s, report {report:.1f} s "
            f"({report / solve:.1f}x solve)"
        )

        folder = work / "specs"
        folder.mkdir()
        for k in range(args.files):
            (folder / f"s{k:06d}.toml").write_text(SMALL.format(gain=1.0 + k % 97 / 100))
        validate = timed(["validate", str(folder)], work)
        batch = timed(["batch", str(folder), "-f", "jsonl", "-o", str(work / "b.jsonl")], work)
        lines = (work / "b.jsonl").read_text().count("\n")
        if lines != args.files:
            raise SystemExit(f"batch wrote {lines} lines for {args.files} files")
        per = 1000 / args.files
        print(
            f"{args.files} files: validate {validate:.1f} s ({validate * per:.2f} ms a file), "
            f"batch {batch:.1f} s ({batch * per:.2f} ms a file); validate / batch "
            f"{validate / batch:.2f} (goal: at most 1)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
