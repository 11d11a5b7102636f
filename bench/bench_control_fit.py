"""`deter fit` on 100,000 scored samples: seconds to read, fit and write the spec.

    python bench/bench_control_fit.py [--samples 100000] [--roc empirical|binormal]

Draws the bundled example's (synthetic) distributions at the given size (2/3 honest, 1/6 per
attack kind; one integer and one continuous monitor), writes them as CSV and as Parquet, and
times (best of 3) the library's read + fit (with the band, the default) and the whole command
`deter fit FILE -o spec.toml` in a fresh process (interpreter start and imports included).
Fails if the fitted spec does not parse or the sample count is wrong. The goal: a few seconds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deter.solver.control.fit import FitOptions, fit_samples
from deter.solver.control.samples import read_samples
from deter.solver.control.synthetic import draw


def best(fn, repeats: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--roc", choices=("empirical", "binormal"), default="empirical")
    args = parser.parse_args()
    n, roc = args.samples, args.roc
    table = draw(seed=5, honest=2 * n // 3, per_attack=(n - 2 * n // 3) // 2)
    with tempfile.TemporaryDirectory() as folder:
        for suffix in ("csv", "parquet"):
            path = Path(folder) / f"samples.{suffix}"
            if suffix == "csv":
                table.to_csv(path, index=False)
            else:
                table.to_parquet(path, index=False)

            def library(path: Path = path) -> None:
                fitted = fit_samples(read_samples([path]), FitOptions(roc=roc))
                if sum(fitted.counts.values()) != len(table):
                    sys.exit("FAIL: wrong sample count")

            spec = Path(folder) / "spec.toml"

            def command(path: Path = path, spec: Path = spec) -> None:
                argv = [sys.executable, "-m", "deter", "fit", str(path), "-o", str(spec)]
                subprocess.run([*argv, "-q", "--roc", roc], check=True)

            lib = best(library)
            cli = best(command)
            fitted = fit_samples(read_samples([path]), FitOptions(roc=roc))
            vertices = {c.monitor: len(c.thresholds) for c in fitted.curves}
            print(
                f"{roc}, {len(table):,} samples, {suffix:<7}: read + fit {lib:.2f} s; "
                f"deter fit (fresh process) {cli:.2f} s; envelope points {vertices}"
            )


if __name__ == "__main__":
    main()
