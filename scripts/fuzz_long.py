#!/usr/bin/env python3
"""Long fuzzing of deter's spec loader and ``deter solve`` path (not run in CI).

    python scripts/fuzz_long.py --minutes 10            # hypothesis, random seeds
    python scripts/fuzz_long.py --engine atheris -- -max_total_time=600   # coverage-guided

Inputs: random bytes, random TOML documents and mutations of problems/*.toml, through the
CLI (typer's CliRunner, in process). The property is the one of tests/test_fuzz.py: exit code
0-3, a reason on stderr, no traceback, no internal error. Every input that breaks it is saved
to tests/support/fuzz_corpus/found-<hash>.toml (replayed by the test suite from then on) and the
run exits 1. The CI slice is ``pytest tests/test_fuzz.py`` (fixed seeds, a few seconds).
atheris is optional: ``pip install atheris``.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.support.fuzzing import CORPUS, outcome_problems  # noqa: E402


def make_runner():  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    env = {"NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"}
    try:
        return CliRunner(env=env, mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner(env=env)


def check(data: bytes, runner, solve: bool = True) -> list[str]:  # type: ignore[no-untyped-def]
    from deter.cli.app import app

    command = ["solve", "-", "-f", "json"] if solve else ["validate", "-"]
    out = runner.invoke(app, command, input=data)
    return outcome_problems(out.exit_code, out.stderr, out.exception)


def save(data: bytes, problems: list[str]) -> Path:
    CORPUS.mkdir(exist_ok=True)
    path = CORPUS / f"found-{hashlib.sha256(data).hexdigest()[:12]}.toml"
    path.write_bytes(data)
    print(f"FOUND: {'; '.join(problems)} -> {path}", file=sys.stderr)
    return path


def run_random(minutes: float, seed: int | None) -> int:
    """Mutations, random TOML and bytes from a random (or given) seed, for ``minutes``."""
    from fuzzing import random_input

    rng = random.Random(seed)
    runner = make_runner()
    deadline = time.monotonic() + 60 * minutes
    tried = found = 0
    while time.monotonic() < deadline:
        data = random_input(rng)
        problems = check(data, runner, solve=rng.random() < 0.5)
        tried += 1
        if problems:
            found += 1
            save(data, problems)
        if tried % 200 == 0:
            print(f"{tried} inputs, {found} failures", file=sys.stderr)
    print(f"fuzz inputs tried: {tried}; failures: {found}")
    return 1 if found else 0


def run_atheris(argv: list[str]) -> int:
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        print("atheris is not installed: pip install atheris", file=sys.stderr)
        return 2
    import shutil
    import tempfile

    with atheris.instrument_imports(include=["deter"]):
        import deter.cli.app  # noqa: F401  (coverage feedback from deter's own code)
    runner = make_runner()

    def one_input(data: bytes) -> None:
        problems = check(data, runner)
        if problems:
            save(data, problems)
            raise AssertionError("; ".join(problems))

    # libFuzzer writes new inputs into its corpus folder: seed a scratch copy of problems/.
    work = Path(tempfile.mkdtemp(prefix="deter-fuzz-"))
    for seed_file in (HERE.parent / "problems").glob("*.toml"):
        shutil.copy(seed_file, work / seed_file.name)
    atheris.Setup([sys.argv[0], *argv, str(work)], one_input)
    atheris.Fuzz()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["random", "atheris"], default="random")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("rest", nargs="*", help="arguments for atheris (libFuzzer flags)")
    args = parser.parse_args()
    if args.engine == "atheris":
        return run_atheris(args.rest)
    return run_random(args.minutes, args.seed)


if __name__ == "__main__":
    sys.exit(main())
