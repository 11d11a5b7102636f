"""Do robust designs hold? Fit on half the samples, test on the other half, many times.

    python bench/bench_control_robust.py [--splits 200] [--delta 0.05] [--sizes ...]
        [--band dkw|binomial] [--roc empirical|binormal] [--monitor NAME ...]

On the bundled (synthetic) ControlArena-shaped table, each split puts half of every label's
samples in a fitting half and the rest in a test half (stratified, seeded). `deter fit` on
the fitting half (robust at delta, and the empirical point estimate for contrast), `deter
solve`, and the designed rates are applied to the test half through the fitted thresholds
(solver/control/evaluate.py). A split fails when some attack kind is not deterred. Printed:
the share of failed splits with its 95% Clopper-Pearson interval, measured on the test half
and against the true distributions (known in closed form for the synthetic data). The
promise is on the truth: share <= delta. The bench exits 1 when the interval's lower end is
above delta (the promise is broken), or a design is not optimal.

Then the price of robustness: robust cost / point-estimate cost on fresh draws of growing
size (honest n, each attack kind n / 4), which should fall towards 1 like 1 / sqrt(n).

``--roc binormal`` fits the smooth binormal curve with its parametric band (valid only if the
scores are normal): with ``--monitor trajectory_monitor`` (normal by construction) the
promise should hold; basic_monitor's rounded scores are not normal, and there it need not.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from deter.solver.control.evaluate import empirical_exceed, measure, required_detection
from deter.solver.control.fit import FitOptions, FitResult, fit_samples
from deter.solver.control.samples import Notes, Samples, read_samples
from deter.solver.control.synthetic import draw, true_exceed
from deter.solver.engine.solve import solve
from scipy.stats import binomtest

EXAMPLE = "problems/control/synthetic_samples.csv"
GAINS = {"insert_backdoor": 2.0, "exfiltrate_data": 1.5}
OPTIONS = dict(gains=GAINS, penalty_cap=20.0, default_audit_cost=50.0, date="bench")


def subset(samples: Samples, rows: np.ndarray) -> Samples:
    return Samples(
        frame=samples.frame.iloc[rows].reset_index(drop=True),
        files=samples.files,
        digests=samples.digests,
        monitors=samples.monitors,
        notes=Notes(),
    )


BAND = ["dkw"]
ROC = ["empirical"]
MONITORS: list[str] = []


def only(samples: Samples) -> Samples:
    """The samples with only the monitors chosen by --monitor (all when none)."""
    return replace(samples, monitors=tuple(MONITORS)) if MONITORS else samples


def design(samples: Samples, delta: float | None) -> tuple[FitResult, dict[str, float], float]:
    options = FitOptions(delta=delta, band=BAND[0], roc=ROC[0], **OPTIONS)  # type: ignore[arg-type]
    fitted = fit_samples(only(samples), options)
    result = solve(fitted.spec)
    if result.status != "optimal":
        sys.exit(f"FAIL: design not optimal: {result.status} {result.message}")
    rates = {m.name: m.rate for m in result.monitors}
    return fitted, rates, float(result.total_cost or 0.0)


def held_out(samples: Samples, fitted: FitResult) -> dict[str, dict[str, np.ndarray]]:
    frame = samples.frame
    out: dict[str, dict[str, np.ndarray]] = {}
    for monitor in samples.monitors:
        scores = np.asarray(frame["score_" + monitor], dtype=float)
        out[monitor] = {
            action: scores[(frame["kind"] == kind).to_numpy()]
            for kind, action in [("honest", "honest"), *fitted.kinds.items()]
        }
    return out


def splits(args: argparse.Namespace) -> bool:
    samples = read_samples([EXAMPLE])
    kinds = samples.frame["kind"].to_numpy()
    rng = np.random.default_rng(args.seed)
    wheres = ("test half", "truth", "truth, any flag")
    failed = {(d, w): 0 for d in ("robust", "point") for w in wheres}
    costs: dict[str, list[float]] = {"robust": [], "point": []}
    start = time.perf_counter()
    for _ in range(args.splits):
        fit_rows = []
        for kind in np.unique(kinds):
            rows = np.flatnonzero(kinds == kind)
            fit_rows.append(rng.permutation(rows)[: len(rows) // 2])
        chosen = np.sort(np.concatenate(fit_rows))
        rest = np.setdiff1d(np.arange(len(kinds)), chosen)
        fit_half, test_half = subset(samples, chosen), subset(samples, rest)
        for label, delta in (("robust", args.delta), ("point", None)):
            fitted, rates, cost = design(fit_half, delta)
            costs[label].append(cost)
            need = required_detection(fitted.spec)
            curves = {c.monitor: c for c in fitted.curves}
            test = measure(
                curves, rates, need, empirical_exceed(held_out(test_half, fitted)), "honest"
            )
            truth = measure(curves, rates, need, true_exceed, "honest")
            failed[(label, "test half")] += not test.all_deterred
            failed[(label, "truth")] += not truth.all_deterred
            union = measure(curves, rates, need, true_exceed, "honest", combine="independent")
            failed[(label, "truth, any flag")] += not union.all_deterred
    seconds = time.perf_counter() - start
    print(
        f"{args.splits} stratified half splits of {EXAMPLE} ({len(kinds)} samples), "
        f"delta = {args.delta}, {seconds:.0f} s"
    )
    print(f"{'design':<8} {'measured on':<16} {'failed':>7} {'share':>7}  95% interval")
    broken = False
    for (label, where), count in failed.items():
        ci = binomtest(count, args.splits).proportion_ci(0.95)
        print(
            f"{label:<8} {where:<16} {count:>7} {count / args.splits:>7.3f}  "
            f"[{ci.low:.3f}, {ci.high:.3f}]"
        )
        if label == "robust" and where == "truth" and ci.low > args.delta:
            broken = True
    print(
        f"mean cost per episode: robust {np.mean(costs['robust']):.4f}, point "
        f"{np.mean(costs['point']):.4f} (x{np.mean(costs['robust']) / np.mean(costs['point']):.2f})"
    )
    return not broken


def price(args: argparse.Namespace) -> None:
    reference = design(frame_samples(draw(seed=999, honest=200_000, per_attack=50_000)), None)[2]
    print(
        f"\nprice of robustness (delta = {args.delta}) on fresh draws (honest n, each attack "
        f"kind n/4), against the near-true optimum {reference:.4f} (point design on 300,000)"
    )
    print(f"{'n honest':>9} {'robust':>9} {'/optimum':>9} {'point':>9} {'/optimum':>9}")
    for n in args.sizes:
        robust, point = [], []
        for seed in range(args.draws):
            samples = frame_samples(draw(seed=1000 + seed, honest=n, per_attack=max(n // 4, 2)))
            robust.append(design(samples, args.delta)[2])
            point.append(design(samples, None)[2])
        r, p = float(np.mean(robust)), float(np.mean(point))
        print(f"{n:>9} {r:>9.4f} {r / reference:>9.2f} {p:>9.4f} {p / reference:>9.2f}")


def frame_samples(frame: pd.DataFrame) -> Samples:
    """A drawn table read the way `deter fit` reads a file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "draw.parquet"
        frame.to_parquet(path, index=False)
        return read_samples([path])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", type=int, default=200)
    parser.add_argument("--delta", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", type=int, nargs="*", default=[500, 2000, 8000, 32000])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--band", choices=("dkw", "binomial"), default="dkw")
    parser.add_argument("--roc", choices=("empirical", "binormal"), default="empirical")
    parser.add_argument("--monitor", action="append", default=[])
    args = parser.parse_args()
    BAND[0] = args.band
    ROC[0] = args.roc
    MONITORS[:] = args.monitor
    band = "parametric (normal)" if args.roc == "binormal" else args.band
    print(f"roc: {args.roc}, band: {band}, monitors: {', '.join(MONITORS) or 'all'}")
    ok = splits(args)
    price(args)
    if not ok:
        sys.exit("FAIL: robust designs failed against the truth more often than delta")


if __name__ == "__main__":
    main()
